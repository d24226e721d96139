/* The GEMM micro-kernel for CPUs with AVX-512F (compiled with -mavx512f; registry.c picks it only
 * when the CPU has it). Same packed layout as the AVX2 kernel: two adjacent 16-column panels (or a full
 * one and the 8-column tail panel) are taken together as a 6 x 32 block of C in 12 zmm accumulators,
 * so each step of k costs 2 B loads and 6 broadcasts for 12 FMAs of 16 lanes. A panel left alone
 * uses 12 x 16, the 8-column tail panel a masked load. A single row of A (m == 1) has its own
 * matrix-vector loop. Tails of columns and the clamp are handled with AVX-512 masks. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx512.h"
#include "kernels/fast/vec_rows.h"

#define ALWAYS_INLINE P2L_VEC_INLINE
enum { MR = 6, MR_LONE = 12 };

/* PANELS: 1 or 2 panels; W0, W1: their widths (16, or 8 for the tail panel, which is always the
 * last one). A pair keeps 6 x 32 (or 6 x 24) of C in 12 accumulators, a lone panel up to 12 x 16:
 * either way 12 independent FMA chains per step of k, enough to hide the FMA latency. nc: columns
 * to store, counted from the first panel's first column. */
ALWAYS_INLINE void tile(const int ROWS, const int PANELS, const int W0, const int W1, size_t k, const float *a,
                        size_t lda, const float *b0, const float *b1, const float *bias, float *c, size_t ldc, int nc,
                        const p2l_clamp *clamp) {
    const __mmask16 wmask0 = W0 == 16 ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
    const __mmask16 wmask1 = W1 == 16 ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
    __m512 acc0[MR_LONE], acc1[MR_LONE];
    const float *ap[MR_LONE];
    const __m512 bias0 = _mm512_maskz_loadu_ps(wmask0, bias);
    const __m512 bias1 = PANELS == 2 ? _mm512_maskz_loadu_ps(wmask1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) {
        acc0[i] = bias0;
        acc1[i] = bias1;
        ap[i] = a + (size_t)i * lda;
    }
    for (size_t p = 0; p < k; p++) {
        const __m512 v0 = W0 == 16 ? _mm512_loadu_ps(b0) : _mm512_maskz_loadu_ps(wmask0, b0);
        const __m512 v1 = PANELS == 2 ? (W1 == 16 ? _mm512_loadu_ps(b1) : _mm512_maskz_loadu_ps(wmask1, b1))
                                      : _mm512_setzero_ps();
        b0 += W0;
        if (PANELS == 2) b1 += W1;
#pragma GCC unroll 12
        for (int i = 0; i < ROWS; i++) {
            const __m512 av = _mm512_set1_ps(ap[i][p]);
            acc0[i] = _mm512_fmadd_ps(av, v0, acc0[i]);
            if (PANELS == 2) acc1[i] = _mm512_fmadd_ps(av, v1, acc1[i]);
        }
    }
    p2l_vec_finish_tile(ROWS, PANELS == 2, acc0, acc1, clamp);
    const int n0 = nc < 16 ? nc : 16, n1 = nc - 16;
    const __mmask16 m0 = (__mmask16)((1u << n0) - 1u);
    const __mmask16 m1 = PANELS == 2 ? (__mmask16)(n1 >= 16 ? 0xFFFFu : (1u << (n1 > 0 ? n1 : 0)) - 1u) : 0;
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) {
        _mm512_mask_storeu_ps(c + (size_t)i * ldc, m0, acc0[i]);
        if (PANELS == 2) _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16, m1, acc1[i]);
    }
}

typedef void (*tile_fn)(size_t k, const float *a, size_t lda, const float *b0, const float *b1, const float *bias,
                        float *c, size_t ldc, int nc, const p2l_clamp *clamp);

#define DEFINE_TILE(ROWS, PANELS, W0, W1)                                                                       \
    static void tile_##ROWS##_##PANELS##_##W0##_##W1(size_t k, const float *a, size_t lda, const float *b0,   \
                                                     const float *b1, const float *bias, float *c, size_t ldc, \
                                                     int nc, const p2l_clamp *clamp) {                         \
        tile(ROWS, PANELS, W0, W1, k, a, lda, b0, b1, bias, c, ldc, nc, clamp);                                \
    }
#define DEFINE_6(PANELS, W0, W1)                                                                                 \
    DEFINE_TILE(1, PANELS, W0, W1) DEFINE_TILE(2, PANELS, W0, W1) DEFINE_TILE(3, PANELS, W0, W1)               \
    DEFINE_TILE(4, PANELS, W0, W1) DEFINE_TILE(5, PANELS, W0, W1) DEFINE_TILE(6, PANELS, W0, W1)
#define DEFINE_12(PANELS, W0, W1)                                                                                \
    DEFINE_6(PANELS, W0, W1) DEFINE_TILE(7, PANELS, W0, W1) DEFINE_TILE(8, PANELS, W0, W1)                     \
    DEFINE_TILE(9, PANELS, W0, W1) DEFINE_TILE(10, PANELS, W0, W1) DEFINE_TILE(11, PANELS, W0, W1)             \
    DEFINE_TILE(12, PANELS, W0, W1)
DEFINE_6(2, 16, 16)
DEFINE_6(2, 16, 8)
DEFINE_12(1, 16, 16)
DEFINE_12(1, 8, 8)
#define ROWS_6(P, W0, W1) \
    NULL, tile_1_##P##_##W0##_##W1, tile_2_##P##_##W0##_##W1, tile_3_##P##_##W0##_##W1, tile_4_##P##_##W0##_##W1, \
        tile_5_##P##_##W0##_##W1, tile_6_##P##_##W0##_##W1
#define ROWS_12(P, W0, W1) \
    ROWS_6(P, W0, W1), tile_7_##P##_##W0##_##W1, tile_8_##P##_##W0##_##W1, tile_9_##P##_##W0##_##W1, \
        tile_10_##P##_##W0##_##W1, tile_11_##P##_##W0##_##W1, tile_12_##P##_##W0##_##W1

/* The tiles of one group of panels, by row count (index 0 unused). */
typedef struct tile_set {
    int rows; /* rows per full tile */
    tile_fn by_rows[MR_LONE + 1];
} tile_set;
static const tile_set pair_16 = {MR, {ROWS_6(2, 16, 16)}};
static const tile_set pair_16_8 = {MR, {ROWS_6(2, 16, 8)}};
static const tile_set lone_16 = {MR_LONE, {ROWS_12(1, 16, 16)}};
static const tile_set lone_8 = {MR_LONE, {ROWS_12(1, 8, 8)}};

/* One row of C (a classifier head, a squeeze-excitation convolution): there is no row reuse, so the
 * 6-row tiles would leave one FMA chain per 16 columns, bound by the FMA latency. Here each pair of
 * panels gets 4 partial sums (steps of k modulo 4) per panel, 8 independent chains, added up at
 * the end; B streams through once. */
ALWAYS_INLINE void gemv_panels(const int PANELS, const int W, size_t k, const float *a, const float *b0,
                               const float *b1, const float *bias, float *c, int nc, const p2l_clamp *clamp) {
    const __mmask16 wmask = W == 16 ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
    __m512 s0[4], s1[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) s0[u] = s1[u] = _mm512_setzero_ps();
    size_t p = 0;
    for (; p + 4 <= k; p += 4) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const __m512 av = _mm512_set1_ps(a[p + u]);
            s0[u] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(wmask, b0 + (p + u) * W), s0[u]);
            if (PANELS == 2) s1[u] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b1 + (p + u) * 16), s1[u]);
        }
    }
    for (; p < k; p++) {
        const __m512 av = _mm512_set1_ps(a[p]);
        s0[0] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(wmask, b0 + p * W), s0[0]);
        if (PANELS == 2) s1[0] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b1 + p * 16), s1[0]);
    }
    __m512 acc0 = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), _mm512_add_ps(s0[2], s0[3]));
    __m512 acc1 = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), _mm512_add_ps(s1[2], s1[3]));
    acc0 = _mm512_add_ps(_mm512_maskz_loadu_ps(wmask, bias), acc0);
    if (PANELS == 2) acc1 = _mm512_add_ps(_mm512_loadu_ps(bias + 16), acc1);
    p2l_vec_finish_tile(1, PANELS == 2, &acc0, &acc1, clamp);
    const int n0 = nc < 16 ? nc : 16, n1 = nc - 16;
    _mm512_mask_storeu_ps(c, (__mmask16)((1u << n0) - 1u), acc0);
    if (PANELS == 2) _mm512_mask_storeu_ps(c + 16, (__mmask16)(n1 >= 16 ? 0xFFFFu : (1u << (n1 > 0 ? n1 : 0)) - 1u), acc1);
}

static void gemv(const p2l_gemm_b *b, const float *a, float *c, int panel_begin, int panel_end,
                 const p2l_clamp *clamp) {
    const size_t k = (size_t)b->k;
    for (int panel = panel_begin; panel < panel_end;) {
        const int col = panel * P2L_GEMM_NR;
        const int width = b->padded_n - col < P2L_GEMM_NR ? b->padded_n - col : P2L_GEMM_NR;
        const bool pair = width == P2L_GEMM_NR && panel + 1 < panel_end && b->padded_n - col >= 2 * P2L_GEMM_NR;
        const float *b0 = b->data + (size_t)col * k;
        const int span = pair ? 2 * P2L_GEMM_NR : width, nc = b->n - col < span ? b->n - col : span;
        if (pair) gemv_panels(2, 16, k, a, b0, b0 + (size_t)P2L_GEMM_NR * k, b->bias + col, c + col, nc, clamp);
        else if (width == P2L_GEMM_NR) gemv_panels(1, 16, k, a, b0, NULL, b->bias + col, c + col, nc, clamp);
        else gemv_panels(1, 8, k, a, b0, NULL, b->bias + col, c + col, nc, clamp);
        panel += pair ? 2 : 1;
    }
}

void p2l_f32_gemm__avx512(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                          int panel_begin, int panel_end, const p2l_clamp *clamp) {
    if (m == 1) {
        gemv(b, a, c, panel_begin, panel_end, clamp);
        return;
    }
    const size_t k = (size_t)b->k;
    for (int panel = panel_begin; panel < panel_end;) {
        /* Group this panel with the next one when both are in range: two full panels, or a full one
         * and the 8-column tail; a panel left alone gets the 12-row tiles. */
        const int col = panel * P2L_GEMM_NR;
        const int width = b->padded_n - col < P2L_GEMM_NR ? b->padded_n - col : P2L_GEMM_NR;
        const int next_width = b->padded_n - col - width < P2L_GEMM_NR ? b->padded_n - col - width : P2L_GEMM_NR;
        const bool pair = width == P2L_GEMM_NR && panel + 1 < panel_end && next_width > 0;
        const tile_set *set = pair ? (next_width == P2L_GEMM_NR ? &pair_16 : &pair_16_8)
                                   : width == P2L_GEMM_NR ? &lone_16 : &lone_8;
        const int span = pair ? width + next_width : width;
        const int nc = b->n - col < span ? b->n - col : span;
        const float *b0 = b->data + (size_t)col * k, *b1 = pair ? b0 + (size_t)P2L_GEMM_NR * k : NULL;
        const float *bias = b->bias + col;
        const size_t rows = (size_t)set->rows;
        size_t i = 0;
        for (; i + rows <= m; i += rows)
            set->by_rows[rows](k, a + i * lda, lda, b0, b1, bias, c + i * ldc + col, ldc, nc, clamp);
        if (i < m) set->by_rows[m - i](k, a + i * lda, lda, b0, b1, bias, c + i * ldc + col, ldc, nc, clamp);
        panel += pair ? 2 : 1;
    }
}
