/* MEAN rows, float32, NEON (the driver is fast/reduce.c), summed as the AVX2 rows do:
 * - over the last axis (layer norm's statistics): each row in 4 x 8 lanes, 8 lanes being two
 *   vectors, reduced in x86's order (p2l_hsum8);
 * - over the pixels of an NHWC tensor (global average pooling): 16 channels at a time in 4
 *   accumulators in one pass over the pixels, each channel summed in pixel order; the last 1 to 3
 *   channels one by one. */
#include "kernels/arm/arm.h"
#include "kernels/arm/vec_neon.h"

#define ALWAYS_INLINE P2L_VEC_INLINE

/* Sum of n floats in 4 x 8 lanes: lane j of accumulator u holds x[32 q + 8 u + j] summed over q. */
static float row_sum(const float *x, size_t n) {
    float32x4_t acc[8]; /* accumulator u: acc[2u] (lanes 0-3), acc[2u + 1] (lanes 4-7) */
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) acc[v] = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) acc[v] = vaddq_f32(acc[v], vld1q_f32(x + i + 4 * v));
    for (; i + 8 <= n; i += 8) {
        acc[0] = vaddq_f32(acc[0], vld1q_f32(x + i));
        acc[1] = vaddq_f32(acc[1], vld1q_f32(x + i + 4));
    }
    if (i < n) { /* the rest into accumulator 1, as x86's masked load */
        const size_t rest = n - i, first = rest < 4 ? rest : 4;
        acc[2] = vaddq_f32(acc[2], p2l_load_partial4(x + i, first));
        acc[3] = vaddq_f32(acc[3], p2l_load_partial4(x + i + first, rest - first));
    }
    const float32x4_t lo = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[4], acc[6]));
    const float32x4_t hi = vaddq_f32(vaddq_f32(acc[1], acc[3]), vaddq_f32(acc[5], acc[7]));
    return p2l_hsum8(lo, hi);
}

void p2l_f32_mean_rows__neon(const float *in, float *out, size_t rows, size_t length) {
    for (size_t r = 0; r < rows; r++) out[r] = row_sum(in + r * length, length) / (float)length;
}

/* Channel means of VECTORS vectors of 4 channels: every pixel's vectors in one pass. VECTORS is a
 * constant in every call, so the accumulators stay in registers. */
ALWAYS_INLINE void mean_vectors(const int VECTORS, const float *in, size_t pixels, size_t C, float *out,
                                float32x4_t count) {
    float32x4_t acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < VECTORS; v++) acc[v] = vdupq_n_f32(0.0f);
    for (size_t p = 0; p < pixels; p++, in += C)
#pragma GCC unroll 4
        for (int v = 0; v < VECTORS; v++) acc[v] = vaddq_f32(acc[v], vld1q_f32(in + 4 * v));
#pragma GCC unroll 4
    for (int v = 0; v < VECTORS; v++) vst1q_f32(out + 4 * v, vdivq_f32(acc[v], count));
}

void p2l_f32_channel_means__neon(const float *in, size_t pixels, size_t C, size_t width, float *out) {
    const float32x4_t count = vdupq_n_f32((float)pixels);
    size_t c = 0;
    for (; c + 16 <= width; c += 16) mean_vectors(4, in + c, pixels, C, out + c, count);
    switch ((width - c) / 4) {
    case 3: mean_vectors(3, in + c, pixels, C, out + c, count); break;
    case 2: mean_vectors(2, in + c, pixels, C, out + c, count); break;
    case 1: mean_vectors(1, in + c, pixels, C, out + c, count); break;
    default: break;
    }
    for (c += (width - c) / 4 * 4; c < width; c++) {
        float sum = 0.0f;
        for (size_t p = 0; p < pixels; p++) sum += in[p * C + c];
        out[c] = sum / (float)pixels;
    }
}
