/* AVX2 requantization of int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED sums (fast.h,
 * p2l_i8_requantize_fn), 8 channels at a time, equal bit for bit to quant_math.h's scalar arithmetic:
 *  - the wrapping left shift is VPSLLVD;
 *  - the saturating rounding doubling high multiply, (a * b + nudge) / 2^31 truncated, is
 *    floor((a * b + 2^30) / 2^31) for both signs of a * b (for a * b < 0 the nudge 1 - 2^30 and the
 *    truncation toward zero add up to the same), taken from the 64-bit products of VPMULDQ; its only
 *    saturating case needs a multiplier of INT32_MIN, which p2l_quantize_multiplier never makes;
 *  - the rounding right shift (ties away from zero) with per-lane shifts, VPSRAVD. */
#include <immintrin.h>

#include "kernels/x86/quant_avx2.h"

void p2l_i8_requantize__avx2(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                             size_t count, int8_t *out) {
    const __m256i offset = _mm256_set1_epi32(rq->output_offset);
    const __m256i lo = _mm256_set1_epi32(rq->act_min), hi = _mm256_set1_epi32(rq->act_max);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const size_t c = c0 + i;
        __m256i v = _mm256_loadu_si256((const __m256i *)(acc + i));
        if (bias) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(bias + i)));
        v = multiply_by_quantized_multiplier(v, _mm256_loadu_si256((const __m256i *)(rq->multiplier + c)),
                                             _mm256_loadu_si256((const __m256i *)(rq->left_shift + c)),
                                             _mm256_loadu_si256((const __m256i *)(rq->right_shift + c)));
        store_i8x8(out + i, _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, offset), lo), hi));
    }
    if (i < count) p2l_i8_requantize_scalar(acc + i, bias ? bias + i : NULL, rq, c0 + i, count - i, out + i);
}
