/* Rows of float ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, NEON, with the fused activation applied before
 * the store (the driver, with the broadcasting, is fast/binary.c). As on x86, each row runs one of
 * three loops: both operands advance, or one of them is a repeated scalar; the rest of a row goes
 * element by element through the same vector operation. */
#include "kernels/arm/arm.h"

static inline float32x4_t op4(int kind, float32x4_t x, float32x4_t y) {
    switch (kind) {
    case P2L_BINARY_ADD: return vaddq_f32(x, y);
    case P2L_BINARY_SUB: return vsubq_f32(x, y);
    case P2L_BINARY_MUL: return vmulq_f32(x, y);
    case P2L_BINARY_DIV: return vdivq_f32(x, y);
    /* As x86/binary.c: x on ties and when x is NaN, a NaN y OR-ed in. */
    case P2L_BINARY_MAX: return p2l_or4(p2l_max4(y, x), p2l_nan_mask4(y));
    case P2L_BINARY_MIN: return p2l_or4(p2l_min4(y, x), p2l_nan_mask4(y));
    default: return x;
    }
}

/* sa, sb: 1 (advance) or 0 (repeat); the compiler specializes each of the three loops. */
#define DEFINE_ROW(name, KIND)                                                                          \
    static void name(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n,        \
                     const p2l_clamp *cl) {                                                             \
        const float32x4_t lo = vdupq_n_f32(cl->lo), hi = vdupq_n_f32(cl->hi);                           \
        const bool clamp = cl->on;                                                                      \
        const float32x4_t va = vdupq_n_f32(a[0]), vb = vdupq_n_f32(b[0]);                               \
        size_t i = 0;                                                                                   \
        if (sa && sb) {                                                                                 \
            for (; i + 4 <= n; i += 4) {                                                                \
                float32x4_t r = op4(KIND, vld1q_f32(a + i), vld1q_f32(b + i));                          \
                vst1q_f32(out + i, clamp ? p2l_min4(hi, p2l_max4(lo, r)) : r);                          \
            }                                                                                           \
        } else if (sa) {                                                                                \
            for (; i + 4 <= n; i += 4) {                                                                \
                float32x4_t r = op4(KIND, vld1q_f32(a + i), vb);                                        \
                vst1q_f32(out + i, clamp ? p2l_min4(hi, p2l_max4(lo, r)) : r);                          \
            }                                                                                           \
        } else if (sb) {                                                                                \
            for (; i + 4 <= n; i += 4) {                                                                \
                float32x4_t r = op4(KIND, va, vld1q_f32(b + i));                                        \
                vst1q_f32(out + i, clamp ? p2l_min4(hi, p2l_max4(lo, r)) : r);                          \
            }                                                                                           \
        }                                                                                               \
        for (; i < n; i++) { /* the rest (and rows where both repeat), as vectors of one */            \
            float32x4_t r = op4(KIND, vdupq_n_f32(a[i * sa]), vdupq_n_f32(b[i * sb]));                  \
            if (clamp) r = p2l_min4(hi, p2l_max4(lo, r));                                               \
            out[i] = vgetq_lane_f32(r, 0);                                                              \
        }                                                                                               \
    }
DEFINE_ROW(add_row, P2L_BINARY_ADD)
DEFINE_ROW(sub_row, P2L_BINARY_SUB)
DEFINE_ROW(mul_row, P2L_BINARY_MUL)
DEFINE_ROW(div_row, P2L_BINARY_DIV)
DEFINE_ROW(max_row, P2L_BINARY_MAX)
DEFINE_ROW(min_row, P2L_BINARY_MIN)

const p2l_binary_row_fn p2l_binary_rows_neon[P2L_BINARY_KINDS] = {
    [P2L_BINARY_ADD] = add_row, [P2L_BINARY_SUB] = sub_row, [P2L_BINARY_MUL] = mul_row,
    [P2L_BINARY_DIV] = div_row, [P2L_BINARY_MAX] = max_row, [P2L_BINARY_MIN] = min_row,
};
