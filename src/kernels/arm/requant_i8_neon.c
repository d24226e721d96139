/* NEON requantization of int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED sums (fast.h,
 * p2l_i8_requantize_fn), 8 channels at a time, equal bit for bit to quant_math.h's scalar arithmetic.
 * Every aarch64 CPU runs it (both tables use it). Each step of gemmlowp's rescaling is one NEON
 * instruction, or two:
 *  - the wrapping left shift is SSHL (a non-saturating shift by a per-lane amount);
 *  - the saturating rounding doubling high multiply is SQRDMULH itself: (2ab + 2^31) >> 32, which is
 *    floor((ab + 2^30) / 2^31), equals gemmlowp's nudge-then-truncate for both signs of ab (for ab < 0
 *    the nudge 1 - 2^30 and the truncation toward zero add up to the same), and saturates on the same
 *    one case (INT32_MIN x INT32_MIN);
 *  - the rounding right shift: SRSHL by -exponent rounds ties up (toward +inf), gemmlowp rounds them
 *    away from zero; subtracting 1 from negative x first (saturating, and only when the exponent is
 *    not 0) moves exactly the negative ties down. The shift's rounding addition is done wider than
 *    32 bits by the instruction, so it does not overflow. */
#include "kernels/arm/arm.h"

/* p2l_multiply_by_quantized_multiplier of 4 lanes; neg_right = -right_shift (<= 0). */
static inline int32x4_t multiply_by_quantized_multiplier(int32x4_t x, int32x4_t multiplier, int32x4_t left,
                                                         int32x4_t neg_right) {
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, left), multiplier);
    /* -1 where high < 0 and the shift is not 0 (neg_right's sign bit), else 0 */
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(high, neg_right), 31);
    return vrshlq_s32(vqaddq_s32(high, fixup), neg_right);
}

void p2l_i8_requantize__neon(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                             size_t count, int8_t *out) {
    const int32x4_t offset = vdupq_n_s32(rq->output_offset);
    const int32x4_t lo = vdupq_n_s32(rq->act_min), hi = vdupq_n_s32(rq->act_max);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const size_t c = c0 + i;
        int32x4_t v[2];
        for (int h = 0; h < 2; h++) {
            int32x4_t sum = vld1q_s32(acc + i + 4 * h);
            if (bias) sum = vaddq_s32(sum, vld1q_s32(bias + i + 4 * h));
            sum = multiply_by_quantized_multiplier(sum, vld1q_s32(rq->multiplier + c + 4 * h),
                                                   vld1q_s32(rq->left_shift + c + 4 * h),
                                                   vnegq_s32(vld1q_s32(rq->right_shift + c + 4 * h)));
            v[h] = vminq_s32(vmaxq_s32(vaddq_s32(sum, offset), lo), hi);
        }
        /* the lanes are in [-128, 127] already: the saturating narrowings keep the values */
        vst1_s8(out + i, vqmovn_s16(vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]))));
    }
    if (i < count) p2l_i8_requantize_scalar(acc + i, bias ? bias + i : NULL, rq, c0 + i, count - i, out + i);
}
