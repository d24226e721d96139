/* AVX2 int8 micro-kernels (fast.h, "int8"): the GEMM of int8 rows against int16-packed weights, and
 * one tap of a depthwise convolution. AVX2 has no int8 dot product that takes signed operands on
 * both sides (VPMADDUBSW wants one unsigned, and saturates), so both take int16: A's bytes are
 * sign-extended as they are loaded and VPMADDWD multiplies 16 pairs and adds neighbours, exactly, into
 * 8 int32 lanes. */
#include <immintrin.h>
#include <string.h>

#include "kernels/x86/x86.h"

/* The 4 sums of 4 vectors' 8 lanes each. */
static inline __m128i sum_lanes_4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/* 16 int8 of row `a` from kk (fewer than 16 left: the rest read as zeros), as int16. */
static inline __m256i load_a(const int8_t *a, size_t kk, size_t k) {
    if (kk + 16 <= k) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + kk)));
    int8_t tail[16] = {0};
    memcpy(tail, a + kk, k - kk);
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)tail));
}

/* Rows r0 (and r0 + 1 when two) against one group of 4 channels. */
static inline void tile(const int16_t *group, int kp, size_t k, const int8_t *a0, const int8_t *a1, bool two,
                        int32_t *c0, int32_t *c1) {
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s03 = s00;
    __m256i s10 = s00, s11 = s00, s12 = s00, s13 = s00;
    for (size_t kk = 0; kk < (size_t)kp; kk += P2L_I8_GEMM_KB, group += P2L_I8_GEMM_NR * P2L_I8_GEMM_KB) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)group);
        const __m256i b1 = _mm256_load_si256((const __m256i *)(group + 16));
        const __m256i b2 = _mm256_load_si256((const __m256i *)(group + 32));
        const __m256i b3 = _mm256_load_si256((const __m256i *)(group + 48));
        const __m256i x0 = load_a(a0, kk, k);
        s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(x0, b0));
        s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(x0, b1));
        s02 = _mm256_add_epi32(s02, _mm256_madd_epi16(x0, b2));
        s03 = _mm256_add_epi32(s03, _mm256_madd_epi16(x0, b3));
        if (two) {
            const __m256i x1 = load_a(a1, kk, k);
            s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(x1, b0));
            s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(x1, b1));
            s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(x1, b2));
            s13 = _mm256_add_epi32(s13, _mm256_madd_epi16(x1, b3));
        }
    }
    _mm_storeu_si128((__m128i *)c0, sum_lanes_4(s00, s01, s02, s03));
    if (two) _mm_storeu_si128((__m128i *)c1, sum_lanes_4(s10, s11, s12, s13));
}

void p2l_i8_gemm__avx2(const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda, int32_t *acc, size_t ldacc) {
    const size_t k = (size_t)b->k;
    for (int g = 0; g < b->groups; g++) {
        const int16_t *group = b->data + (size_t)g * (size_t)b->kp * P2L_I8_GEMM_NR;
        int32_t *c = acc + (size_t)g * P2L_I8_GEMM_NR;
        size_t r = 0;
        for (; r + 2 <= m; r += 2)
            tile(group, b->kp, k, a + r * lda, a + (r + 1) * lda, true, c + r * ldacc, c + (r + 1) * ldacc);
        if (r < m) tile(group, b->kp, k, a + r * lda, NULL, false, c + r * ldacc, NULL);
    }
}

void p2l_i8_depthwise_tap__avx2(int32_t *acc, const int8_t *x, const int16_t *w, int32_t input_offset,
                                size_t channels) {
    const __m256i offset = _mm256_set1_epi32(input_offset);
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) {
        const __m256i xv = _mm256_add_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + c))), offset);
        const __m256i wv = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(w + c)));
        const __m256i sum = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + c)), _mm256_mullo_epi32(xv, wv));
        _mm256_storeu_si256((__m256i *)(acc + c), sum);
    }
    for (; c < channels; c++) acc[c] += (int32_t)w[c] * ((int32_t)x[c] + input_offset);
}

/* ------------------------------------------------------------ the k-pair GEMM (fast.h, p2l_i8_gemm_pairs_fn)
 * Rows x (8 * BLOCKS) channels of C in registers: per pair of k, each row's two int16 broadcast to
 * all lanes, each block of B (8 channels x 2, int8 sign-extended as loaded), one VPMADDWD per row and
 * block. Up to 6 rows x 16 channels: 12 accumulators, 2 blocks of B and the broadcast (15 of 16 ymm). */
enum { PAIRS_MR = 6 };

static inline __attribute__((always_inline)) void pairs_tile(int rows, int blocks, size_t pairs, const int16_t *a,
                                                             size_t lda, const int8_t *b, int32_t *c, size_t ldc) {
    __m256i acc[PAIRS_MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t t = 0; t < pairs; t++, b += 8 * 2 * blocks) {
        const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b));
        const __m256i b1 = blocks == 2 ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 16))) : b0;
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++) {
            int32_t pair;
            memcpy(&pair, a + (size_t)r * lda + 2 * t, sizeof pair);
            const __m256i x = _mm256_set1_epi32(pair);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
            if (blocks == 2) acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_si256((__m256i *)(c + (size_t)r * ldc), acc[r][0]);
        if (blocks == 2) _mm256_storeu_si256((__m256i *)(c + (size_t)r * ldc + 8), acc[r][1]);
    }
}

typedef void (*pairs_tile_fn)(size_t pairs, const int16_t *a, size_t lda, const int8_t *b, int32_t *c, size_t ldc);
#define PAIRS_TILE(rows, blocks)                                                                                  \
    static void pairs_tile_##rows##x##blocks(size_t pairs, const int16_t *a, size_t lda, const int8_t *b,        \
                                             int32_t *c, size_t ldc) {                                           \
        pairs_tile(rows, blocks, pairs, a, lda, b, c, ldc);                                                      \
    }
PAIRS_TILE(1, 1) PAIRS_TILE(2, 1) PAIRS_TILE(3, 1) PAIRS_TILE(4, 1) PAIRS_TILE(5, 1) PAIRS_TILE(6, 1)
PAIRS_TILE(1, 2) PAIRS_TILE(2, 2) PAIRS_TILE(3, 2) PAIRS_TILE(4, 2) PAIRS_TILE(5, 2) PAIRS_TILE(6, 2)
#undef PAIRS_TILE

void p2l_i8_gemm_pairs__avx2(const p2l_i8_pairs_b *b, size_t m, const int16_t *a, size_t lda, int32_t *acc,
                             size_t ldacc, int panel_begin, int panel_end) {
    static const pairs_tile_fn tiles[2][PAIRS_MR + 1] = {
        {NULL, pairs_tile_1x1, pairs_tile_2x1, pairs_tile_3x1, pairs_tile_4x1, pairs_tile_5x1, pairs_tile_6x1},
        {NULL, pairs_tile_1x2, pairs_tile_2x2, pairs_tile_3x2, pairs_tile_4x2, pairs_tile_5x2, pairs_tile_6x2},
    };
    const size_t pairs = (size_t)b->kp / 2;
    for (int p = panel_begin; p < panel_end; p++) {
        const pairs_tile_fn *row_tiles = tiles[p2l_i8_panel_width(b, p) == P2L_I8_PANEL];
        const int8_t *panel = b->data + (size_t)p * P2L_I8_PANEL * (size_t)b->kp;
        int32_t *c = acc + (size_t)p * P2L_I8_PANEL;
        size_t r = 0;
        for (; r + PAIRS_MR <= m; r += PAIRS_MR) row_tiles[PAIRS_MR](pairs, a + r * lda, lda, panel, c + r * ldacc, ldacc);
        if (r < m) row_tiles[m - r](pairs, a + r * lda, lda, panel, c + r * ldacc, ldacc);
    }
}

/* ------------------------------------------------------------ depthwise over tap pairs (fast.h)
 * 8 channels of two taps interleaved (VPUNPCKLBW), widened, offset, and one VPMADDWD against the
 * packed weight pairs: 8 int32 sums of w0 * x0 + w1 * x1, exact. */
static inline __m256i tap_pair_8(__m128i xa, __m128i xb, bool high, __m256i offset, const int16_t *w) {
    const __m128i mixed = high ? _mm_unpackhi_epi8(xa, xb) : _mm_unpacklo_epi8(xa, xb);
    const __m256i x = _mm256_add_epi16(_mm256_cvtepi8_epi16(mixed), offset);
    return _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)w));
}

void p2l_i8_depthwise_pairs__avx2(const int8_t *const *taps, int pairs, const int16_t *weights, const int32_t *bias,
                                  int32_t input_offset, size_t C, int32_t *acc) {
    const __m256i offset = _mm256_set1_epi16((int16_t)input_offset);
    size_t c = 0;
    for (; c + 16 <= C; c += 16) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)(bias + c));
        __m256i hi = _mm256_loadu_si256((const __m256i *)(bias + c + 8));
        for (int p = 0; p < pairs; p++) {
            const __m128i xa = _mm_loadu_si128((const __m128i *)(taps[2 * p] + c));
            const __m128i xb = _mm_loadu_si128((const __m128i *)(taps[2 * p + 1] + c));
            const int16_t *w = weights + ((size_t)p * C + c) * 2;
            lo = _mm256_add_epi32(lo, tap_pair_8(xa, xb, false, offset, w));
            hi = _mm256_add_epi32(hi, tap_pair_8(xa, xb, true, offset, w + 16));
        }
        _mm256_storeu_si256((__m256i *)(acc + c), lo);
        _mm256_storeu_si256((__m256i *)(acc + c + 8), hi);
    }
    for (; c + 8 <= C; c += 8) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)(bias + c));
        for (int p = 0; p < pairs; p++) {
            const __m128i xa = _mm_loadl_epi64((const __m128i *)(taps[2 * p] + c));
            const __m128i xb = _mm_loadl_epi64((const __m128i *)(taps[2 * p + 1] + c));
            lo = _mm256_add_epi32(lo, tap_pair_8(xa, xb, false, offset, weights + ((size_t)p * C + c) * 2));
        }
        _mm256_storeu_si256((__m256i *)(acc + c), lo);
    }
    for (; c < C; c++) {
        int32_t sum = bias[c];
        for (int p = 0; p < pairs; p++) {
            const int16_t *w = weights + ((size_t)p * C + c) * 2;
            sum += w[0] * ((int32_t)taps[2 * p][c] + input_offset) + w[1] * ((int32_t)taps[2 * p + 1][c] + input_offset);
        }
        acc[c] = sum;
    }
}
