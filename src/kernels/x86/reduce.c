/* MEAN rows, float32, AVX2 (the driver is fast/reduce.c):
 * - over the last axis (layer norm's statistics): each row summed in 4 x 8 lanes;
 * - over the pixels of an NHWC tensor (global average pooling): up to 64 channels at a time in up
 *   to 8 accumulators in one pass over the pixels, each channel summed in pixel order. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx2.h"

/* Sum of n floats in 4 x 8 lanes (then across them). */
static float row_sum(const float *x, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    if (i < n) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, p2l_tail_mask(n - i)));
    const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

void p2l_f32_mean_rows__avx2(const float *in, float *out, size_t rows, size_t length) {
    for (size_t r = 0; r < rows; r++) out[r] = row_sum(in + r * length, length) / (float)length;
}

/* Channel means of VECTORS vectors of 8 channels (the last one masked by `tail`): every pixel's
 * vectors in one pass, each channel summed in pixel order. VECTORS is a constant in every call, so
 * the accumulators stay in registers. */
static inline __attribute__((always_inline)) void mean_vectors(const int VECTORS, const float *in, size_t pixels,
                                                               size_t C, float *out, float count, __m256i tail) {
    __m256 acc[8];
#pragma GCC unroll 8
    for (int v = 0; v < VECTORS; v++) acc[v] = _mm256_setzero_ps();
    for (size_t p = 0; p < pixels; p++, in += C) {
#pragma GCC unroll 8
        for (int v = 0; v < VECTORS - 1; v++) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(in + 8 * v));
        acc[VECTORS - 1] = _mm256_add_ps(acc[VECTORS - 1], _mm256_maskload_ps(in + 8 * (VECTORS - 1), tail));
    }
#pragma GCC unroll 8
    for (int v = 0; v < VECTORS - 1; v++) _mm256_storeu_ps(out + 8 * v, _mm256_div_ps(acc[v], _mm256_set1_ps(count)));
    _mm256_maskstore_ps(out + 8 * (VECTORS - 1), tail, _mm256_div_ps(acc[VECTORS - 1], _mm256_set1_ps(count)));
}

void p2l_f32_channel_means__avx2(const float *in, size_t pixels, size_t C, size_t width, float *out) {
    const float count = (float)pixels;
    const __m256i tail = p2l_tail_mask(width % 8 ? width % 8 : 8);
    switch ((width + 7) / 8) {
    case 1: mean_vectors(1, in, pixels, C, out, count, tail); break;
    case 2: mean_vectors(2, in, pixels, C, out, count, tail); break;
    case 3: mean_vectors(3, in, pixels, C, out, count, tail); break;
    case 4: mean_vectors(4, in, pixels, C, out, count, tail); break;
    case 5: mean_vectors(5, in, pixels, C, out, count, tail); break;
    case 6: mean_vectors(6, in, pixels, C, out, count, tail); break;
    case 7: mean_vectors(7, in, pixels, C, out, count, tail); break;
    default: mean_vectors(8, in, pixels, C, out, count, tail); break;
    }
}
