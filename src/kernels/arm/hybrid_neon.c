/* Hybrid FULLY_CONNECTED micro-kernels for every aarch64 CPU (the loops: hybrid_neon.h): int16 by
 * int16 into int32 lanes (SMLAL / SMLAL2), exact for every int8 weight with every input value, as in
 * gemm_i8_neon.c. The input rows arrive as int16 (fast.h), so they are multiplied as they are; the
 * int8 weights and the sign-extended int4 nibbles are widened to int16 (SXTL). */
#include "kernels/arm/hybrid_neon.h"

typedef struct x16 {
    int16x8_t lo, hi;
} x16;
static inline x16 load_x16(const int16_t *x) { return (x16){vld1q_s16(x), vld1q_s16(x + 8)}; }

/* acc + x . w over 16 lanes: w widened to int16, 4 multiply-adds into the 4 int32 lanes. */
static inline int32x4_t dot16(int32x4_t acc, x16 x, int8x16_t w) {
    const int16x8_t w_lo = vmovl_s8(vget_low_s8(w)), w_hi = vmovl_high_s8(w);
    acc = vmlal_s16(acc, vget_low_s16(x.lo), vget_low_s16(w_lo));
    acc = vmlal_high_s16(acc, x.lo, w_lo);
    acc = vmlal_s16(acc, vget_low_s16(x.hi), vget_low_s16(w_hi));
    return vmlal_high_s16(acc, x.hi, w_hi);
}

P2L_DEFINE_HYBRID_I8_DOT(p2l_hybrid_i8_dot__neon, x16, load_x16, dot16)

typedef struct x32 {
    x16 even, odd;
} x32;
static inline x32 load_x32(const int16_t *x) { return (x32){load_x16(x), load_x16(x + 16)}; }
static inline int32x4_t chunk32(int32x4_t acc, x32 x, int8x16_t lo, int8x16_t hi) {
    return dot16(dot16(acc, x.even, lo), x.odd, hi);
}

P2L_DEFINE_HYBRID_I4_DOT(p2l_hybrid_i4_dot__neon, x32, load_x32, chunk32)
