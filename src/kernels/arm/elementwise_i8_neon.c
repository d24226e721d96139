/* NEON int8 element-wise rows (fast.h, "int8 element-wise rows"), 8 elements at a time, equal bit for
 * bit to the reference kernels, as x86/elementwise_i8.c's:
 *  - ADD / SUB / MUL: quant_math.h's p2l_quant_binary_row with quant_neon.h's rescaling (the operands
 *    offset and shifted left by 20 fit int32 exactly, |x| <= 255 * 2^20; products of offset operands
 *    too, |x * y| <= 255^2);
 *  - QUANTIZE: the division is IEEE's in both (FDIV rounds as the scalar division); FCVTAS is
 *    p2l_round_to_i32 in one instruction (round half away from zero, NaN to 0, saturated to int32);
 *    the saturating add of the zero point then keeps every out-of-range value out of range on its side,
 *    so the clamp to the int8 range gives the reference's;
 *  - DEQUANTIZE: the integer difference is exact in float, one rounded product. */
#include "kernels/arm/quant_neon.h"
#include "kernels/quant_math.h"

typedef struct i32x8 {
    int32x4_t lo, hi;
} i32x8;

/* 8 operand values from element i plus offset: step 1 loads them, step 0 repeats element 0. */
static inline i32x8 load_operand(const int8_t *p, size_t step, size_t i, int32x4_t offset) {
    const int16x8_t v = step ? vmovl_s8(vld1_s8(p + i)) : vdupq_n_s16(p[0]);
    return (i32x8){vaddw_s16(offset, vget_low_s16(v)), vaddw_high_s16(offset, v)};
}

typedef struct vector_multiplier {
    int32x4_t multiplier, left, neg_right;
} vector_multiplier;

static inline vector_multiplier vector_multiplier_of(p2l_multiplier m) {
    return (vector_multiplier){vdupq_n_s32(m.multiplier), vdupq_n_s32(m.shift > 0 ? m.shift : 0),
                               vdupq_n_s32(m.shift > 0 ? 0 : m.shift)};
}

static inline int32x4_t rescale(int32x4_t x, vector_multiplier m) {
    return p2l_multiply_by_quantized_multiplier4(x, m.multiplier, m.left, m.neg_right);
}

/* ADD / SUB / MUL of 4 offset lanes, before the output offset */
static inline int32x4_t binary4(p2l_op op, int32x4_t x, int32x4_t y, const vector_multiplier m[3]) {
    if (op == P2L_OP_MUL) return rescale(vmulq_s32(x, y), m[2]);
    const int32x4_t sx = rescale(vshlq_n_s32(x, P2L_QUANT_ADD_LEFT_SHIFT), m[0]);
    const int32x4_t sy = rescale(vshlq_n_s32(y, P2L_QUANT_ADD_LEFT_SHIFT), m[1]);
    return rescale(op == P2L_OP_ADD ? vaddq_s32(sx, sy) : vsubq_s32(sx, sy), m[2]);
}

void p2l_i8_binary_row__neon(p2l_op op, const p2l_quant_binary *q, const int8_t *a, size_t sa, const int8_t *b,
                             size_t sb, int8_t *out, size_t n) {
    size_t i = 0;
    if (sa <= 1 && sb <= 1) {
        const int32x4_t offset_a = vdupq_n_s32(q->offset_a), offset_b = vdupq_n_s32(q->offset_b);
        const int32x4_t output_offset = vdupq_n_s32(q->output_offset);
        const int32x4_t lo = vdupq_n_s32(q->act_min), hi = vdupq_n_s32(q->act_max);
        const vector_multiplier m[3] = {vector_multiplier_of(q->a), vector_multiplier_of(q->b),
                                        vector_multiplier_of(q->output)};
        for (; i + 8 <= n; i += 8) {
            const i32x8 x = load_operand(a, sa, i, offset_a), y = load_operand(b, sb, i, offset_b);
            p2l_store_i8x8(out + i, binary4(op, x.lo, y.lo, m), binary4(op, x.hi, y.hi, m), output_offset, lo, hi);
        }
    }
    if (i < n) p2l_quant_binary_row(op, q, a + i * sa, sa, b + i * sb, sb, out + i, n - i);
}

void p2l_i8_quantize_row__neon(const float *in, float scale, int32_t zero_point, int8_t *out, size_t n) {
    const float32x4_t vscale = vdupq_n_f32(scale);
    const int32x4_t zp = vdupq_n_s32(zero_point), none = vdupq_n_s32(0);
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int32x4_t r0 = vqaddq_s32(vcvtaq_s32_f32(vdivq_f32(vld1q_f32(in + i), vscale)), zp);
        const int32x4_t r1 = vqaddq_s32(vcvtaq_s32_f32(vdivq_f32(vld1q_f32(in + i + 4), vscale)), zp);
        p2l_store_i8x8(out + i, r0, r1, none, lo, hi);
    }
    for (; i < n; i++) out[i] = (int8_t)p2l_affine_quantize(in[i], scale, zero_point, -128, 127);
}

void p2l_i8_dequantize_row__neon(const int8_t *in, float scale, int32_t zero_point, float *out, size_t n) {
    const float32x4_t vscale = vdupq_n_f32(scale);
    const int32x4_t zp = vdupq_n_s32(zero_point), zero = vdupq_n_s32(0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const i32x8 q = load_operand(in, 1, i, zero);
        vst1q_f32(out + i, vmulq_f32(vscale, vcvtq_f32_s32(vsubq_s32(q.lo, zp))));
        vst1q_f32(out + i + 4, vmulq_f32(vscale, vcvtq_f32_s32(vsubq_s32(q.hi, zp))));
    }
    for (; i < n; i++) out[i] = scale * (float)((int32_t)in[i] - zero_point);
}
