/* The GEMM micro-kernel for CPUs with AVX-512F (compiled with -mavx512f; gemm.c calls it only when
 * the CPU has it). Same packed layout as the AVX2 kernel: two adjacent 16-column panels are taken
 * together as a 6 x 32 block of C in 12 zmm accumulators, so each step of k costs 2 B loads and 6
 * broadcasts for 12 FMAs of 16 lanes. A lone 16-column panel uses 6 x 16, the 8-column tail panel a
 * masked load. Tails of columns and the clamp are handled with AVX-512 masks. */
#include <immintrin.h>

#include "kernels/x86/x86.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))
enum { MR = 6 };

/* The operations of p2l_exp8 / p2l_sigmoid8 (unary.c) in 16 lanes, in the same order, so fused and
 * unfused paths round alike. */
__m512 p2l_exp16(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

__m512 p2l_sigmoid16(__m512 x) {
    const __m512 e = p2l_exp16(_mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)))); /* exp(-|x|) */
    const __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(negative, s, _mm512_mul_ps(e, s));
}

/* PANELS: 1 or 2 panels of width W (16, or 8 for the tail panel; then PANELS is 1). nc: columns
 * to store, counted from the first panel's first column. */
ALWAYS_INLINE void tile(const int ROWS, const int PANELS, const int W, size_t k, const float *a, size_t lda,
                        const float *b0, const float *b1, const float *bias, float *c, size_t ldc, int nc,
                        const p2l_clamp *clamp) {
    const __mmask16 wmask = W == 16 ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
    __m512 acc0[MR], acc1[MR];
    const float *ap[MR];
    const __m512 bias0 = _mm512_maskz_loadu_ps(wmask, bias);
    const __m512 bias1 = PANELS == 2 ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; i++) {
        acc0[i] = bias0;
        acc1[i] = bias1;
        ap[i] = a + (size_t)i * lda;
    }
    for (size_t p = 0; p < k; p++) {
        const __m512 v0 = W == 16 ? _mm512_loadu_ps(b0) : _mm512_maskz_loadu_ps(wmask, b0);
        const __m512 v1 = PANELS == 2 ? _mm512_loadu_ps(b1) : _mm512_setzero_ps();
        b0 += W;
        if (PANELS == 2) b1 += 16;
#pragma GCC unroll 6
        for (int i = 0; i < ROWS; i++) {
            const __m512 av = _mm512_set1_ps(ap[i][p]);
            acc0[i] = _mm512_fmadd_ps(av, v0, acc0[i]);
            if (PANELS == 2) acc1[i] = _mm512_fmadd_ps(av, v1, acc1[i]);
        }
    }
    if (clamp->on) {
        const __m512 lo = _mm512_set1_ps(clamp->lo), hi = _mm512_set1_ps(clamp->hi);
#pragma GCC unroll 6
        for (int i = 0; i < ROWS; i++) {
            acc0[i] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc0[i]));
            if (PANELS == 2) acc1[i] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc1[i]));
        }
    }
    if (clamp->epilogue) {
        const int epilogue = clamp->epilogue;
        for (int i = 0; i < ROWS; i++) {
            acc0[i] = p2l_epilogue16(epilogue, acc0[i]);
            if (PANELS == 2) acc1[i] = p2l_epilogue16(epilogue, acc1[i]);
        }
    }
    const int n0 = nc < 16 ? nc : 16, n1 = nc - 16;
    const __mmask16 m0 = (__mmask16)((1u << n0) - 1u);
    const __mmask16 m1 = PANELS == 2 ? (__mmask16)(n1 >= 16 ? 0xFFFFu : (1u << (n1 > 0 ? n1 : 0)) - 1u) : 0;
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; i++) {
        _mm512_mask_storeu_ps(c + (size_t)i * ldc, m0, acc0[i]);
        if (PANELS == 2) _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16, m1, acc1[i]);
    }
}

typedef void (*tile_fn)(size_t k, const float *a, size_t lda, const float *b0, const float *b1, const float *bias,
                        float *c, size_t ldc, int nc, const p2l_clamp *clamp);

#define DEFINE_TILE(ROWS, PANELS, W)                                                                         \
    static void tile_##ROWS##_##PANELS##_##W(size_t k, const float *a, size_t lda, const float *b0, const float *b1, \
                                             const float *bias, float *c, size_t ldc, int nc, const p2l_clamp *clamp) { \
        tile(ROWS, PANELS, W, k, a, lda, b0, b1, bias, c, ldc, nc, clamp);                                   \
    }
#define DEFINE_ROWS(PANELS, W) \
    DEFINE_TILE(1, PANELS, W) DEFINE_TILE(2, PANELS, W) DEFINE_TILE(3, PANELS, W) \
    DEFINE_TILE(4, PANELS, W) DEFINE_TILE(5, PANELS, W) DEFINE_TILE(6, PANELS, W)
DEFINE_ROWS(2, 16)
DEFINE_ROWS(1, 16)
DEFINE_ROWS(1, 8)
#define TILE_ROW(PANELS, W) \
    {NULL, tile_1_##PANELS##_##W, tile_2_##PANELS##_##W, tile_3_##PANELS##_##W, tile_4_##PANELS##_##W, \
     tile_5_##PANELS##_##W, tile_6_##PANELS##_##W}
static const tile_fn tiles_pair[MR + 1] = TILE_ROW(2, 16);
static const tile_fn tiles_16[MR + 1] = TILE_ROW(1, 16);
static const tile_fn tiles_8[MR + 1] = TILE_ROW(1, 8);

void p2l_gemm_run_avx512(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                         int panel_begin, int panel_end, const p2l_clamp *clamp) {
    const size_t k = (size_t)b->k;
    for (int panel = panel_begin; panel < panel_end;) {
        const int col = panel * P2L_GEMM_NR;
        const bool wide = b->padded_n - col >= P2L_GEMM_NR;
        const bool pair = wide && panel + 1 < panel_end && b->padded_n - col >= 2 * P2L_GEMM_NR;
        const tile_fn *row = pair ? tiles_pair : wide ? tiles_16 : tiles_8;
        const int span = pair ? 2 * P2L_GEMM_NR : P2L_GEMM_NR;
        const int nc = b->n - col < span ? b->n - col : span;
        const float *b0 = b->data + (size_t)col * k, *b1 = pair ? b0 + (size_t)P2L_GEMM_NR * k : NULL;
        const float *bias = b->bias + col;
        size_t i = 0;
        for (; i + MR <= m; i += MR) row[MR](k, a + i * lda, lda, b0, b1, bias, c + i * ldc + col, ldc, nc, clamp);
        if (i < m) row[m - i](k, a + i * lda, lda, b0, b1, bias, c + i * ldc + col, ldc, nc, clamp);
        panel += pair ? 2 : 1;
    }
}
