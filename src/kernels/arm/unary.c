/* Rows of unary activations, float32, NEON: RELU, RELU6, RELU_N1_TO_1, HARD_SWISH, LOGISTIC, TANH,
 * GELU (the driver is fast/unary.c), with the formulas of the AVX2 rows (x86/unary.c), operation
 * for operation. */
#include "kernels/arm/arm.h"

/* tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1, sign restored after; below |x| = 0.0625
 * the odd Taylor polynomial to x^9, where 1 - e would cancel. */
static inline float32x4_t tanh4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f), ax = vabsq_f32(x);
    const float32x4_t e = p2l_exp4(vmulq_f32(ax, vdupq_n_f32(-2.0f)));
    const float32x4_t big = vdivq_f32(vsubq_f32(one, e), vaddq_f32(one, e));
    const float32x4_t x2 = vmulq_f32(ax, ax);
    float32x4_t p = vdupq_n_f32(62.0f / 2835.0f);
    p = vfmaq_f32(vdupq_n_f32(-17.0f / 315.0f), p, x2);
    p = vfmaq_f32(vdupq_n_f32(2.0f / 15.0f), p, x2);
    p = vfmaq_f32(vdupq_n_f32(-1.0f / 3.0f), p, x2);
    const float32x4_t small = vfmaq_f32(ax, vmulq_f32(p, x2), ax);
    const float32x4_t magnitude = vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.0625f)), small, big);
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    return vreinterpretq_f32_u32(
        vorrq_u32(vreinterpretq_u32_f32(magnitude), vandq_u32(vreinterpretq_u32_f32(x), sign)));
}

/* GELU, exact form: x/2 (1 + erf(x / sqrt 2)), erf by Abramowitz and Stegun 7.1.26 on |x|, sign
 * restored. */
static inline float32x4_t gelu4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t z = vmulq_f32(x, vdupq_n_f32(0.70710678118654752f));
    const float32x4_t az = vabsq_f32(z);
    const float32x4_t t = vdivq_f32(one, vfmaq_f32(one, vdupq_n_f32(0.3275911f), az));
    float32x4_t p = vdupq_n_f32(1.061405429f);
    p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
    p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
    p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
    const float32x4_t e = p2l_exp4(vmulq_f32(vnegq_f32(az), az)); /* exp(-z^2) */
    const float32x4_t erf_abs = vfmsq_f32(one, vmulq_f32(p, t), e);
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    const float32x4_t erf = vreinterpretq_f32_u32(
        vorrq_u32(vreinterpretq_u32_f32(erf_abs), vandq_u32(vreinterpretq_u32_f32(z), sign)));
    return vmulq_f32(vmulq_f32(vdupq_n_f32(0.5f), x), vaddq_f32(one, erf));
}

/* GELU, tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static inline float32x4_t gelu_tanh4(float32x4_t x) {
    const float32x4_t x3 = vmulq_f32(vmulq_f32(x, x), x);
    const float32x4_t inner =
        vmulq_f32(vdupq_n_f32(0.79788456080286536f), vfmaq_f32(x, vdupq_n_f32(0.044715f), x3));
    return vmulq_f32(vmulq_f32(vdupq_n_f32(0.5f), x), vaddq_f32(vdupq_n_f32(1.0f), tanh4(inner)));
}

static inline float32x4_t apply(int kind, float32x4_t x) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    switch (kind) {
    /* max(0, x) then min(6, x): NaN (the second operand) passes through, as in the reference and
     * PyTorch. */
    case P2L_UNARY_RELU: return p2l_max4(zero, x);
    case P2L_UNARY_RELU6: return p2l_min4(vdupq_n_f32(6.0f), p2l_max4(zero, x));
    case P2L_UNARY_RELU_N1_TO_1: return p2l_min4(vdupq_n_f32(1.0f), p2l_max4(vdupq_n_f32(-1.0f), x));
    case P2L_UNARY_HARD_SWISH: return p2l_epilogue4(P2L_EPILOGUE_HARD_SWISH, x);
    case P2L_UNARY_LOGISTIC: return p2l_sigmoid4(x);
    case P2L_UNARY_TANH: return tanh4(x);
    case P2L_UNARY_GELU: return gelu4(x);
    case P2L_UNARY_GELU_TANH: return gelu_tanh4(x);
    default: return x;
    }
}

/* One instance per op so the switch leaves the loop; the last 1 to 3 elements go through a vector
 * in memory, so they get the same formula. */
#define DEFINE_ROW(name, KIND)                                                                    \
    static void name(const float *in, float *out, size_t n) {                                    \
        size_t i = 0;                                                                            \
        for (; i + 8 <= n; i += 8) {                                                             \
            const float32x4_t a = apply(KIND, vld1q_f32(in + i));                                \
            const float32x4_t b = apply(KIND, vld1q_f32(in + i + 4));                            \
            vst1q_f32(out + i, a);                                                               \
            vst1q_f32(out + i + 4, b);                                                           \
        }                                                                                        \
        for (; i + 4 <= n; i += 4) vst1q_f32(out + i, apply(KIND, vld1q_f32(in + i)));          \
        if (i < n) p2l_store_partial4(out + i, apply(KIND, p2l_load_partial4(in + i, n - i)), n - i); \
    }
DEFINE_ROW(relu_row, P2L_UNARY_RELU)
DEFINE_ROW(relu6_row, P2L_UNARY_RELU6)
DEFINE_ROW(relu_n1_to_1_row, P2L_UNARY_RELU_N1_TO_1)
DEFINE_ROW(hard_swish_row, P2L_UNARY_HARD_SWISH)
DEFINE_ROW(logistic_row, P2L_UNARY_LOGISTIC)
DEFINE_ROW(tanh_row, P2L_UNARY_TANH)
DEFINE_ROW(gelu_row, P2L_UNARY_GELU)
DEFINE_ROW(gelu_tanh_row, P2L_UNARY_GELU_TANH)

const p2l_unary_row_fn p2l_unary_rows_neon[P2L_UNARY_KINDS] = {
    [P2L_UNARY_RELU] = relu_row, [P2L_UNARY_RELU6] = relu6_row, [P2L_UNARY_RELU_N1_TO_1] = relu_n1_to_1_row,
    [P2L_UNARY_HARD_SWISH] = hard_swish_row, [P2L_UNARY_LOGISTIC] = logistic_row, [P2L_UNARY_TANH] = tanh_row,
    [P2L_UNARY_GELU] = gelu_row, [P2L_UNARY_GELU_TANH] = gelu_tanh_row,
};
