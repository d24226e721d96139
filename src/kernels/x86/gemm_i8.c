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
