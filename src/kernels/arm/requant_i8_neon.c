/* NEON requantization of int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED sums (fast.h,
 * p2l_i8_requantize_fn), 8 channels at a time, equal bit for bit to quant_math.h's scalar arithmetic
 * (quant_neon.h says why each step is exact). Every aarch64 CPU runs it (both tables use it). */
#include "kernels/arm/quant_neon.h"

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
            v[h] = p2l_multiply_by_quantized_multiplier4(sum, vld1q_s32(rq->multiplier + c + 4 * h),
                                                         vld1q_s32(rq->left_shift + c + 4 * h),
                                                         vnegq_s32(vld1q_s32(rq->right_shift + c + 4 * h)));
        }
        p2l_store_i8x8(out + i, v[0], v[1], offset, lo, hi);
    }
    if (i < count) p2l_i8_requantize_scalar(acc + i, bias ? bias + i : NULL, rq, c0 + i, count - i, out + i);
}
