/* One SOFTMAX row, float32, NEON (the driver is fast/softmax.c): row max, then
 * exp((x - max) * beta) stored and summed, then one scaling pass. The max and the sum run in two
 * vectors standing for x86's 8 lanes and are reduced in its order, so the results match the AVX2
 * row's. */
#include "kernels/arm/arm.h"
#include "kernels/arm/vec_neon.h"
#include "kernels/fast/vec_rows.h"

/* exp((x - m) * beta) of the first n (0..4) floats of in, stored to out; lanes past n are zero. */
static inline float32x4_t exp_partial(const float *in, float *out, size_t n, float32x4_t m, float32x4_t beta) {
    float e[4];
    vst1q_f32(e, p2l_vec_exp(vmulq_f32(vsubq_f32(p2l_load_partial4(in, n), m), beta)));
    for (size_t j = n; j < 4; j++) e[j] = 0.0f;
    memcpy(out, e, n * sizeof(float));
    return vld1q_f32(e);
}

void p2l_f32_softmax_row__neon(const float *in, float *out, size_t n, float beta) {
    float32x4_t max0 = vdupq_n_f32(in[0]), max1 = max0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        max0 = p2l_max4(max0, vld1q_f32(in + i));
        max1 = p2l_max4(max1, vld1q_f32(in + i + 4));
    }
    const float32x4_t m4 = p2l_max4(max0, max1); /* x86's horizontal max: (0, 2), (1, 3), then both */
    float max = p2l_maxf(p2l_maxf(vgetq_lane_f32(m4, 0), vgetq_lane_f32(m4, 2)),
                         p2l_maxf(vgetq_lane_f32(m4, 1), vgetq_lane_f32(m4, 3)));
    for (; i < n; i++) max = in[i] > max ? in[i] : max;
    const float32x4_t m = vdupq_n_f32(max), vbeta = vdupq_n_f32(beta);
    float32x4_t sum0 = vdupq_n_f32(0.0f), sum1 = sum0;
    for (i = 0; i + 8 <= n; i += 8) {
        const float32x4_t e0 = p2l_vec_exp(vmulq_f32(vsubq_f32(vld1q_f32(in + i), m), vbeta));
        const float32x4_t e1 = p2l_vec_exp(vmulq_f32(vsubq_f32(vld1q_f32(in + i + 4), m), vbeta));
        vst1q_f32(out + i, e0);
        vst1q_f32(out + i + 4, e1);
        sum0 = vaddq_f32(sum0, e0);
        sum1 = vaddq_f32(sum1, e1);
    }
    if (i < n) {
        const size_t rest = n - i, first = rest < 4 ? rest : 4;
        sum0 = vaddq_f32(sum0, exp_partial(in + i, out + i, first, m, vbeta));
        sum1 = vaddq_f32(sum1, exp_partial(in + i + first, out + i + first, rest - first, m, vbeta));
    }
    const float scale = 1.0f / p2l_hsum8(sum0, sum1);
    const float32x4_t vscale = vdupq_n_f32(scale);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(out + i, vmulq_f32(vld1q_f32(out + i), vscale));
    for (; i < n; i++) out[i] *= scale;
}
