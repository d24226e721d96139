/* quant_math.h's rescaling, 8 int32 lanes at a time with AVX2, equal bit for bit to the scalar
 * arithmetic (requant_i8.c says why each step is exact). Shared by the int8 rows of x86/. */
#ifndef P2L_KERNELS_X86_QUANT_AVX2_H
#define P2L_KERNELS_X86_QUANT_AVX2_H

#include <immintrin.h>

#include "kernels/x86/x86.h"

/* floor((a * b + 2^30) / 2^31) per lane: even lanes from VPMULDQ of a, b; odd lanes from their high
 * halves moved down. */
static inline __m256i rounding_doubling_high_mul(__m256i a, __m256i b) {
    const __m256i round = _mm256_set1_epi64x((int64_t)1 << 30);
    const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, b), round), 31);
    const __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
    /* bits 31..62 of the odd products land in the lanes' high halves */
    const __m256i odd_high = _mm256_slli_epi64(_mm256_add_epi64(odd, round), 1);
    return _mm256_blend_epi32(even, odd_high, 0xAA);
}

/* x / 2^exponent rounded to nearest, ties away from zero, per lane (exponents in [0, 31]). */
static inline __m256i rounding_divide_by_pot(__m256i x, __m256i exponent) {
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, exponent), one);
    const __m256i remainder = _mm256_and_si256(x, mask);
    const __m256i negative = _mm256_srli_epi32(x, 31); /* 1 where x < 0 */
    const __m256i threshold = _mm256_add_epi32(_mm256_srai_epi32(mask, 1), negative);
    /* cmpgt is -1 where the remainder rounds up */
    return _mm256_sub_epi32(_mm256_srav_epi32(x, exponent), _mm256_cmpgt_epi32(remainder, threshold));
}

/* p2l_multiply_by_quantized_multiplier per lane: the wrapping left shift, the high multiply, the
 * rounding right shift (shifts per lane, one of them 0). */
static inline __m256i multiply_by_quantized_multiplier(__m256i x, __m256i multiplier, __m256i left, __m256i right) {
    return rounding_divide_by_pot(rounding_doubling_high_mul(_mm256_sllv_epi32(x, left), multiplier), right);
}

/* 8 int32 lanes already in [-128, 127] as 8 int8 (the saturating packs keep the values). */
static inline void store_i8x8(int8_t *out, __m256i v) {
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(words, words));
}

#endif
