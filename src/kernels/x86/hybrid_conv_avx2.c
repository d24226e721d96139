/* Hybrid convolutions' micro-kernels (fast.h), AVX2: the run-time quantization of an image, and the
 * DEPTHWISE_CONV_2D pixel (p2l_hybrid_depthwise_pixel_fn). Depthwise: one output
 * pixel, 16 channels at a time, the sums kept in registers over all taps: each tap's 16 input bytes
 * are widened to int16 less the image's zero point (so in [-255, 255]) and multiplied with the
 * int16 weights by VPMULLW, exact (|product| <= 255 x 128 < 2^15), then widened to int32 and added.
 * Taps outside the image point at a row of zero points (they add 0, as the reference skips them).
 * The scaling is the reference kernel's: (float)sum x scale (weight scale x input scale) + bias, then
 * the clamp. This file is compiled without -mfma (CMakeLists.txt): the multiply and the add round
 * separately, as the reference's do. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

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

/* The range of x[0, n), from lo = hi = 0 as the reference's loop (a NaN is skipped: it compares false). */
void p2l_hybrid_range__avx2(const float *x, size_t n, float *lo, float *hi) {
    __m256 vlo = _mm256_setzero_ps(), vhi = vlo;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        vlo = _mm256_min_ps(v, vlo); /* v < lo ? v : lo */
        vhi = _mm256_max_ps(v, vhi); /* v > hi ? v : hi */
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, vlo);
    _mm256_storeu_ps(h, vhi);
    float a = 0, b = 0;
    for (int j = 0; j < 8; j++) a = l[j] < a ? l[j] : a, b = h[j] > b ? h[j] : b;
    for (; i < n; i++) a = x[i] < a ? x[i] : a, b = x[i] > b ? x[i] : b;
    *lo = a, *hi = b;
}

/* q[i] = clamp(round half away from zero((float)zero_point + x[i] * inv), -128, 127), a NaN as 0: the
 * reference's p2l_round_to_i32 then clamp. The rounding: t = trunc(v) and v - t are exact, so
 * |v - t| >= 0.5 decides as roundf does. */
void p2l_hybrid_quantize__avx2(const float *x, size_t n, float inv, int32_t zero_point, int8_t *q) {
    const __m256 vinv = _mm256_set1_ps(inv), vzp = _mm256_set1_ps((float)zero_point), half = _mm256_set1_ps(0.5f);
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    const __m256 qmin = _mm256_set1_ps(-128.0f), qmax = _mm256_set1_ps(127.0f);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i r[4];
        for (int j = 0; j < 4; j++) {
            const __m256 v = _mm256_add_ps(vzp, _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), vinv));
            const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 away = _mm256_and_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(v, t)), half, _CMP_GE_OQ),
                                              _mm256_or_ps(one, _mm256_and_ps(sign, v)));
            __m256 rounded = _mm256_and_ps(_mm256_add_ps(t, away), _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN: 0 */
            rounded = _mm256_min_ps(_mm256_max_ps(rounded, qmin), qmax);
            r[j] = _mm256_cvtps_epi32(rounded);
        }
        /* pack 4 x 8 int32 into 32 int8; packs work per 128-bit lane, so the order is fixed after */
        const __m256i ab = _mm256_packs_epi32(r[0], r[1]), cd = _mm256_packs_epi32(r[2], r[3]);
        const __m256i bytes = _mm256_packs_epi16(ab, cd);
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_permutevar8x32_epi32(bytes, order));
    }
    for (; i < n; i++) {
        const float v = (float)zero_point + x[i] * inv;
        const float r = v != v ? 0.0f : roundf(v);
        q[i] = (int8_t)(r < -128.0f ? -128 : r > 127.0f ? 127 : (int)r);
    }
}

/* One tile of the hybrid GEMM (fast.h: p2l_hybrid_gemm_fn): MR rows x 16 channels in 8 registers of
 * 8 int32 sums; each step broadcasts a row's pair of int16 values and VPMADDWDs it with the pair's
 * 16 channels (exact), so no horizontal sums are needed. */
enum { GEMM_MR = 4, GEMM_NR = P2L_HYBRID_GEMM_NR };

static inline void gemm_tile(const int16_t *a, size_t lda, size_t rows, const int16_t *panel, size_t pairs,
                             int32_t *c, size_t ldc) {
    __m256i acc[GEMM_MR][2];
    for (int r = 0; r < GEMM_MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t p = 0; p < pairs; p++, panel += 2 * GEMM_NR) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)panel);
        const __m256i b1 = _mm256_load_si256((const __m256i *)(panel + GEMM_NR));
        for (int r = 0; r < GEMM_MR; r++) {
            if ((size_t)r >= rows) break;
            int32_t pair;
            memcpy(&pair, a + (size_t)r * lda + 2 * p, sizeof pair);
            const __m256i av = _mm256_set1_epi32(pair);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
        }
    }
    for (int r = 0; r < GEMM_MR; r++) {
        if ((size_t)r >= rows) break;
        _mm256_storeu_si256((__m256i *)(c + (size_t)r * ldc), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(c + (size_t)r * ldc + 8), acc[r][1]);
    }
}

void p2l_hybrid_gemm__avx2(const int16_t *a, size_t lda, size_t m, const int16_t *b, size_t pairs, int panel_begin,
                           int panel_end, int32_t *c, size_t ldc) {
    for (int q = panel_begin; q < panel_end; q++) {
        const int16_t *panel = b + (size_t)q * pairs * 2 * GEMM_NR;
        for (size_t r = 0; r < m; r += GEMM_MR)
            gemm_tile(a + r * lda, lda, m - r < GEMM_MR ? m - r : GEMM_MR, panel, pairs, c + r * ldc + (size_t)q * GEMM_NR,
                      ldc);
    }
}
