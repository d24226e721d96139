/* quant_math.h's rescaling, 4 int32 lanes at a time with NEON, equal bit for bit to the scalar
 * arithmetic; shared by the int8 rows of arm/ (requant_i8_neon.c, elementwise_i8_neon.c). Each step
 * of gemmlowp's rescaling is one NEON instruction, or two:
 *  - the wrapping left shift is SSHL (a non-saturating shift by a per-lane amount);
 *  - the saturating rounding doubling high multiply is SQRDMULH itself: (2ab + 2^31) >> 32, which is
 *    floor((ab + 2^30) / 2^31), equals gemmlowp's nudge-then-truncate for both signs of ab (for ab < 0
 *    the nudge 1 - 2^30 and the truncation toward zero add up to the same), and saturates on the same
 *    one case (INT32_MIN x INT32_MIN);
 *  - the rounding right shift: SRSHL by -exponent rounds ties up (toward +inf), gemmlowp rounds them
 *    away from zero; subtracting 1 from negative x first (saturating, and only when the exponent is
 *    not 0) moves exactly the negative ties down. The shift's rounding addition is done wider than
 *    32 bits by the instruction, so it does not overflow. */
#ifndef P2L_KERNELS_ARM_QUANT_NEON_H
#define P2L_KERNELS_ARM_QUANT_NEON_H

#include "kernels/arm/arm.h"

/* p2l_multiply_by_quantized_multiplier of 4 lanes; neg_right = -right_shift (<= 0). */
static inline int32x4_t p2l_multiply_by_quantized_multiplier4(int32x4_t x, int32x4_t multiplier, int32x4_t left,
                                                              int32x4_t neg_right) {
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, left), multiplier);
    /* -1 where high < 0 and the shift is not 0 (neg_right's sign bit), else 0 */
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(high, neg_right), 31);
    return vrshlq_s32(vqaddq_s32(high, fixup), neg_right);
}

/* 8 int32 lanes plus offset, clamped to [lo, hi] (within the int8 range), stored as 8 int8. */
static inline void p2l_store_i8x8(int8_t *out, int32x4_t a, int32x4_t b, int32x4_t offset, int32x4_t lo,
                                  int32x4_t hi) {
    a = vminq_s32(vmaxq_s32(vaddq_s32(a, offset), lo), hi);
    b = vminq_s32(vmaxq_s32(vaddq_s32(b, offset), lo), hi);
    /* the lanes are in [-128, 127] already: the saturating narrowings keep the values */
    vst1_s8(out, vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))));
}

#endif
