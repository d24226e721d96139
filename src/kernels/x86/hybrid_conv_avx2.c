/* Hybrid DEPTHWISE_CONV_2D micro-kernel (fast.h: p2l_hybrid_depthwise_pixel_fn), AVX2. One output
 * pixel, 16 channels at a time, the sums kept in registers over all taps: each tap's 16 input bytes
 * are widened to int16 less the image's zero point (so in [-255, 255]) and multiplied with the
 * int16 weights by VPMULLW, exact (|product| <= 255 x 128 < 2^15), then widened to int32 and added.
 * Taps outside the image point at a row of zero points (they add 0, as the reference skips them).
 * The scaling is the reference kernel's: (float)sum x scale (weight scale x input scale) + bias, then
 * the clamp. This file is compiled without -mfma (CMakeLists.txt): the multiply and the add round
 * separately, as the reference's do. */
#include <immintrin.h>

#include "kernels/x86/x86.h"

static inline void store_8(__m256i sum, const float *scale, const float *bias, const p2l_clamp *clamp, float *out) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(sum), _mm256_loadu_ps(scale));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
    /* max(lo, v), min(hi, v) as the reference's comparisons: a NaN or -0 passes unchanged */
    if (clamp->on) v = _mm256_min_ps(_mm256_set1_ps(clamp->hi), _mm256_max_ps(_mm256_set1_ps(clamp->lo), v));
    _mm256_storeu_ps(out, v);
}

void p2l_hybrid_depthwise_pixel__avx2(const int8_t *const *taps, int tap_count, const int16_t *weights, size_t ldw,
                                      size_t C, int32_t zero_point, const float *scale, const float *bias,
                                      const p2l_clamp *clamp, float *out) {
    const __m256i zp16 = _mm256_set1_epi16((int16_t)zero_point);
    size_t c = 0;
    for (; c + 16 <= C; c += 16) {
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (int t = 0; t < tap_count; t++) {
            const __m256i x = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(taps[t] + c))), zp16);
            const __m256i p = _mm256_mullo_epi16(x, _mm256_loadu_si256((const __m256i *)(weights + (size_t)t * ldw + c)));
            lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
            hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
        }
        store_8(lo, scale + c, bias ? bias + c : NULL, clamp, out + c);
        store_8(hi, scale + c + 8, bias ? bias + c + 8 : NULL, clamp, out + c + 8);
    }
    if (c + 8 <= C) {
        __m256i sum = _mm256_setzero_si256();
        for (int t = 0; t < tap_count; t++) {
            const __m128i x = _mm_sub_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(taps[t] + c))),
                                            _mm256_castsi256_si128(zp16));
            const __m128i p = _mm_mullo_epi16(x, _mm_loadu_si128((const __m128i *)(weights + (size_t)t * ldw + c)));
            sum = _mm256_add_epi32(sum, _mm256_cvtepi16_epi32(p));
        }
        store_8(sum, scale + c, bias ? bias + c : NULL, clamp, out + c);
        c += 8;
    }
    for (; c < C; c++) {
        int32_t sum = 0;
        for (int t = 0; t < tap_count; t++) sum += ((int32_t)taps[t][c] - zero_point) * weights[(size_t)t * ldw + c];
        float v = (float)sum * scale[c];
        if (bias) v += bias[c];
        if (clamp->on) v = v < clamp->lo ? clamp->lo : v > clamp->hi ? clamp->hi : v;
        out[c] = v;
    }
}
