/* Rows of float ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, AVX2, with the fused activation applied
 * before the store (the driver, with the broadcasting, is fast/binary.c). Each row runs one of three
 * loops: both operands advance (same shape, or a per-channel vector against each pixel's channels),
 * or one of them is a repeated scalar. */
#include "kernels/x86/x86.h"

static inline __m256 op8(p2l_op op, __m256 x, __m256 y) {
    switch (op) {
    case P2L_OP_ADD: return _mm256_add_ps(x, y);
    case P2L_OP_SUB: return _mm256_sub_ps(x, y);
    case P2L_OP_MUL: return _mm256_mul_ps(x, y);
    case P2L_OP_DIV: return _mm256_div_ps(x, y);
    /* The reference's x < y || y != y ? y : x and y < x || y != y ? y : x: max_ps(y, x) gives x on
     * ties (signed zeros) and when x is NaN; a NaN y is OR-ed in (all ones is a NaN). */
    case P2L_OP_MAXIMUM: return _mm256_or_ps(_mm256_max_ps(y, x), _mm256_cmp_ps(y, y, _CMP_UNORD_Q));
    case P2L_OP_MINIMUM: return _mm256_or_ps(_mm256_min_ps(y, x), _mm256_cmp_ps(y, y, _CMP_UNORD_Q));
    default: return x;
    }
}

/* sa, sb: 1 (advance) or 0 (repeat); the compiler specializes each of the three loops. */
#define DEFINE_ROW(name, OP)                                                                            \
    static void name(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n,        \
                     const p2l_clamp *cl) {                                                             \
        const __m256 lo = _mm256_set1_ps(cl->lo), hi = _mm256_set1_ps(cl->hi);                          \
        const bool clamp = cl->on;                                                                      \
        const __m256 va = _mm256_set1_ps(a[0]), vb = _mm256_set1_ps(b[0]);                              \
        size_t i = 0;                                                                                   \
        if (sa && sb) {                                                                                 \
            for (; i + 8 <= n; i += 8) {                                                                \
                __m256 r = op8(OP, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));                     \
                _mm256_storeu_ps(out + i, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, r)) : r);         \
            }                                                                                           \
        } else if (sa) {                                                                                \
            for (; i + 8 <= n; i += 8) {                                                                \
                __m256 r = op8(OP, _mm256_loadu_ps(a + i), vb);                                         \
                _mm256_storeu_ps(out + i, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, r)) : r);         \
            }                                                                                           \
        } else if (sb) {                                                                                \
            for (; i + 8 <= n; i += 8) {                                                                \
                __m256 r = op8(OP, va, _mm256_loadu_ps(b + i));                                         \
                _mm256_storeu_ps(out + i, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, r)) : r);         \
            }                                                                                           \
        }                                                                                               \
        if (i < n) { /* the rest (and rows where both repeat) element by element, as vectors of one */ \
            for (; i < n; i++) {                                                                        \
                __m256 r = op8(OP, _mm256_set1_ps(a[i * sa]), _mm256_set1_ps(b[i * sb]));              \
                if (clamp) r = _mm256_min_ps(hi, _mm256_max_ps(lo, r));                                 \
                out[i] = _mm256_cvtss_f32(r);                                                           \
            }                                                                                           \
        }                                                                                               \
    }
DEFINE_ROW(add_row, P2L_OP_ADD)
DEFINE_ROW(sub_row, P2L_OP_SUB)
DEFINE_ROW(mul_row, P2L_OP_MUL)
DEFINE_ROW(div_row, P2L_OP_DIV)
DEFINE_ROW(max_row, P2L_OP_MAXIMUM)
DEFINE_ROW(min_row, P2L_OP_MINIMUM)

const p2l_binary_row_fn p2l_binary_rows_avx2[P2L_BINARY_KINDS] = {
    [P2L_BINARY_ADD] = add_row, [P2L_BINARY_SUB] = sub_row, [P2L_BINARY_MUL] = mul_row,
    [P2L_BINARY_DIV] = div_row, [P2L_BINARY_MAX] = max_row, [P2L_BINARY_MIN] = min_row,
};
