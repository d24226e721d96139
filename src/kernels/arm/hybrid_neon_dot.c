/* Hybrid FULLY_CONNECTED micro-kernels with the Armv8.2 dot product (SDOT: 4 int8 x int8 products
 * added into each int32 lane, exact), for CPUs that report it (isa.c: p2l_isa_neon_dot); the loops
 * are hybrid_neon.h's. Only this file and gemm_i8_dot.c are compiled for the instructions.
 *  - int8: the input rows are int8 values widened to int16 (fast.h), so narrowing them back is
 *    exact: one SDOT per 16 values and channel.
 *  - int4: the input values are int8 values minus the row's zero point, so within [-255, 255], not
 *    int8. Each is split as x = 16 * (x >> 4) + (x & 15): both parts are int8 (the high one within
 *    [-16, 15] for any |x| <= 2048), and 16 * w of an int4 weight w is int8 too (the nibble shifted to
 *    the top of the byte), so x * w = (x >> 4) * (16 w) + (x & 15) * w: 4 SDOTs per 32 values and
 *    channel, the int32 sums exact. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("arch=armv8.2-a+dotprod")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#endif
#include "kernels/arm/hybrid_neon.h"

static inline int8x16_t narrow16(const int16_t *x) { return vmovn_high_s16(vmovn_s16(vld1q_s16(x)), vld1q_s16(x + 8)); }
static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t w) { return vdotq_s32(acc, x, w); }

P2L_DEFINE_HYBRID_I8_DOT(p2l_hybrid_i8_dot__neon_dot, int8x16_t, narrow16, dot16)

typedef struct split16 {
    int8x16_t high, low; /* x >> 4, x & 15 */
} split16;
static inline split16 split_x16(const int16_t *x) {
    const int16x8_t a = vld1q_s16(x), b = vld1q_s16(x + 8);
    return (split16){vshrn_high_n_s16(vshrn_n_s16(a, 4), b, 4),
                     vandq_s8(vmovn_high_s16(vmovn_s16(a), b), vdupq_n_s8(15))};
}
typedef struct x32 {
    split16 even, odd;
} x32;
static inline x32 split_x32(const int16_t *x) { return (x32){split_x16(x), split_x16(x + 16)}; }
/* w: sign-extended nibbles in [-8, 7]; 16 w as int8 is exact ([-128, 112]) */
static inline int32x4_t split_dot16(int32x4_t acc, split16 x, int8x16_t w) {
    return vdotq_s32(vdotq_s32(acc, x.high, vshlq_n_s8(w, 4)), x.low, w);
}
static inline int32x4_t chunk32(int32x4_t acc, x32 x, int8x16_t lo, int8x16_t hi) {
    return split_dot16(split_dot16(acc, x.even, lo), x.odd, hi);
}

P2L_DEFINE_HYBRID_I4_DOT(p2l_hybrid_i4_dot__neon_dot, x32, split_x32, chunk32)

#if defined(__clang__)
#pragma clang attribute pop
#endif
