/* AVX2 requantization of int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED sums (fast.h,
 * p2l_i8_requantize_fn), 8 channels at a time, equal bit for bit to quant_math.h's scalar arithmetic:
 *  - the wrapping left shift is VPSLLVD;
 *  - the saturating rounding doubling high multiply, (a * b + nudge) / 2^31 truncated, is
 *    floor((a * b + 2^30) / 2^31) for both signs of a * b (for a * b < 0 the nudge 1 - 2^30 and the
 *    truncation toward zero add up to the same), taken from the 64-bit products of VPMULDQ; its only
 *    saturating case needs a multiplier of INT32_MIN, which p2l_quantize_multiplier never makes;
 *  - the rounding right shift (ties away from zero) with per-lane shifts, VPSRAVD. */
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

void p2l_i8_requantize__avx2(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                             size_t count, int8_t *out) {
    const __m256i offset = _mm256_set1_epi32(rq->output_offset);
    const __m256i lo = _mm256_set1_epi32(rq->act_min), hi = _mm256_set1_epi32(rq->act_max);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const size_t c = c0 + i;
        __m256i v = _mm256_loadu_si256((const __m256i *)(acc + i));
        if (bias) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(bias + i)));
        v = _mm256_sllv_epi32(v, _mm256_loadu_si256((const __m256i *)(rq->left_shift + c)));
        v = rounding_doubling_high_mul(v, _mm256_loadu_si256((const __m256i *)(rq->multiplier + c)));
        v = rounding_divide_by_pot(v, _mm256_loadu_si256((const __m256i *)(rq->right_shift + c)));
        v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, offset), lo), hi);
        /* in [-128, 127] now: the saturating packs keep the values */
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packs_epi16(words, words));
    }
    if (i < count) p2l_i8_requantize_scalar(acc + i, bias ? bias + i : NULL, rq, c0 + i, count - i, out + i);
}
