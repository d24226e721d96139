/* Binary elementwise ops with numpy broadcasting: arithmetic, comparisons, logical, PRELU, ATAN2
 * (float32 only) and BITWISE_XOR (integers only); ADD, SUB and MUL also on quantized int8 (each
 * operand with its own scale and zero point), as TFLite's reference integer kernels.
 *
 * One table maps (op, element type) to a row function; broadcasting (common.c) turns the op into
 * rows of the output where each operand either advances (step 1) or repeats (step 0). */
#include <math.h>

#include "kernels/quant_math.h"

typedef void (*row_fn)(const void *a, size_t a_step, const void *b, size_t b_step, void *out, size_t n);

#define ROW(name, T, R, EXPR)                                                                         \
    static void name(const void *pa, size_t sa, const void *pb, size_t sb, void *po, size_t n) {     \
        const T *A = pa, *B = pb;                                                                     \
        R *O = po;                                                                                    \
        for (size_t i = 0; i < n; i++) {                                                              \
            T x = A[i * sa], y = B[i * sb];                                                           \
            O[i] = (R)(EXPR);                                                                         \
        }                                                                                             \
    }

/* Integer helpers in 64 bits: no undefined behaviour on overflow, INT_MIN / -1 or x % -1.
 * Division by zero is rejected before the rows run. */
static inline int64_t wrap_add(int64_t x, int64_t y) { return (int64_t)((uint64_t)x + (uint64_t)y); }
static inline int64_t wrap_sub(int64_t x, int64_t y) { return (int64_t)((uint64_t)x - (uint64_t)y); }
static inline int64_t wrap_mul(int64_t x, int64_t y) { return (int64_t)((uint64_t)x * (uint64_t)y); }
static inline int64_t div_trunc(int64_t x, int64_t y) { return y == -1 ? (int64_t)(0 - (uint64_t)x) : x / y; }
static inline int64_t mod_floor(int64_t x, int64_t y) {
    if (y == -1) return 0;
    int64_t r = x % y;
    return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
}
static inline int64_t div_floor(int64_t x, int64_t y) {
    if (y == -1) return div_trunc(x, y);
    int64_t q = x / y;
    return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}
static inline int64_t pow_int(int64_t x, int64_t y) {
    uint64_t r = 1, base = (uint64_t)x;
    for (; y > 0; y >>= 1, base *= base)
        if (y & 1) r *= base;
    return (int64_t)r;
}
static inline float fmod_floor(float x, float y) {
    float r = fmodf(x, y);
    return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
}

/* Float rows. MAXIMUM/MINIMUM: x on ties (signed zeros), as torch.maximum/minimum and LiteRT's
 * std::max/std::min; a NaN in either operand gives NaN, as in PyTorch. */
ROW(add_f32, float, float, x + y)
ROW(sub_f32, float, float, x - y)
ROW(mul_f32, float, float, x * y)
ROW(div_f32, float, float, x / y)
ROW(max_f32, float, float, x < y || y != y ? y : x)
ROW(min_f32, float, float, y < x || y != y ? y : x)
ROW(pow_f32, float, float, powf(x, y))
ROW(sqdiff_f32, float, float, (x - y) * (x - y))
ROW(floordiv_f32, float, float, floorf(x / y))
ROW(floormod_f32, float, float, fmod_floor(x, y))
ROW(prelu_f32, float, float, x >= 0 ? x : x * y)
ROW(atan2_f32, float, float, atan2f(x, y))
ROW(less_f32, float, uint8_t, x < y)
ROW(less_equal_f32, float, uint8_t, x <= y)
ROW(greater_f32, float, uint8_t, x > y)
ROW(greater_equal_f32, float, uint8_t, x >= y)
ROW(equal_f32, float, uint8_t, x == y)
ROW(not_equal_f32, float, uint8_t, x != y)

#define INT_ROWS(S, T)                                         \
    ROW(add_##S, T, T, wrap_add(x, y))                         \
    ROW(sub_##S, T, T, wrap_sub(x, y))                         \
    ROW(mul_##S, T, T, wrap_mul(x, y))                         \
    ROW(div_##S, T, T, div_trunc(x, y))                        \
    ROW(max_##S, T, T, x < y ? y : x)                          \
    ROW(min_##S, T, T, y < x ? y : x)                          \
    ROW(pow_##S, T, T, pow_int(x, y))                          \
    ROW(sqdiff_##S, T, T, wrap_mul(wrap_sub(x, y), wrap_sub(x, y))) \
    ROW(floordiv_##S, T, T, div_floor(x, y))                   \
    ROW(floormod_##S, T, T, mod_floor(x, y))                   \
    ROW(less_##S, T, uint8_t, x < y)                           \
    ROW(less_equal_##S, T, uint8_t, x <= y)                    \
    ROW(greater_##S, T, uint8_t, x > y)                        \
    ROW(greater_equal_##S, T, uint8_t, x >= y)                 \
    ROW(equal_##S, T, uint8_t, x == y)                         \
    ROW(not_equal_##S, T, uint8_t, x != y)
INT_ROWS(i32, int32_t)
INT_ROWS(i64, int64_t)

ROW(xor_u8, uint8_t, uint8_t, x ^ y)
ROW(xor_i8, int8_t, int8_t, x ^ y)
ROW(xor_i16, int16_t, int16_t, x ^ y)
ROW(xor_i32, int32_t, int32_t, x ^ y)
ROW(xor_i64, int64_t, int64_t, x ^ y)

ROW(and_b, uint8_t, uint8_t, x && y)
ROW(or_b, uint8_t, uint8_t, x || y)
ROW(equal_b, uint8_t, uint8_t, (x != 0) == (y != 0))
ROW(not_equal_b, uint8_t, uint8_t, (x != 0) != (y != 0))

enum { F32, I32, I64, BOOL, U8, I8, I16, TYPE_SLOTS };

static int type_slot(p2l_dtype t) {
    switch (t) {
    case P2L_FLOAT32: return F32;
    case P2L_INT32: return I32;
    case P2L_INT64: return I64;
    case P2L_BOOL: return BOOL;
    case P2L_UINT8: return U8;
    case P2L_INT8: return I8;
    case P2L_INT16: return I16;
    default: return -1;
    }
}

#define ARITH(f) {f##_f32, f##_i32, f##_i64, NULL}
#define COMPARE(f) {f##_f32, f##_i32, f##_i64, NULL}
static const row_fn rows[P2L_OP_COUNT][TYPE_SLOTS] = {
    [P2L_OP_ADD] = ARITH(add),
    [P2L_OP_SUB] = ARITH(sub),
    [P2L_OP_MUL] = ARITH(mul),
    [P2L_OP_DIV] = ARITH(div),
    [P2L_OP_MAXIMUM] = ARITH(max),
    [P2L_OP_MINIMUM] = ARITH(min),
    [P2L_OP_POW] = ARITH(pow),
    [P2L_OP_SQUARED_DIFFERENCE] = ARITH(sqdiff),
    [P2L_OP_FLOOR_DIV] = ARITH(floordiv),
    [P2L_OP_FLOOR_MOD] = ARITH(floormod),
    [P2L_OP_PRELU] = {prelu_f32, NULL, NULL, NULL},
    [P2L_OP_LESS] = COMPARE(less),
    [P2L_OP_LESS_EQUAL] = COMPARE(less_equal),
    [P2L_OP_GREATER] = COMPARE(greater),
    [P2L_OP_GREATER_EQUAL] = COMPARE(greater_equal),
    [P2L_OP_EQUAL] = {equal_f32, equal_i32, equal_i64, equal_b},
    [P2L_OP_NOT_EQUAL] = {not_equal_f32, not_equal_i32, not_equal_i64, not_equal_b},
    [P2L_OP_LOGICAL_AND] = {NULL, NULL, NULL, and_b},
    [P2L_OP_LOGICAL_OR] = {NULL, NULL, NULL, or_b},
    [P2L_OP_ATAN2] = {atan2_f32, NULL, NULL, NULL},
    [P2L_OP_BITWISE_XOR] = {NULL, xor_i32, xor_i64, NULL, xor_u8, xor_i8, xor_i16},
};

static bool is_comparison(p2l_op op) {
    return op == P2L_OP_LESS || op == P2L_OP_LESS_EQUAL || op == P2L_OP_GREATER || op == P2L_OP_GREATER_EQUAL ||
           op == P2L_OP_EQUAL || op == P2L_OP_NOT_EQUAL;
}

/* Integer ops whose second operand must not be zero (or, for POW, negative). */
static bool checks_divisor(p2l_op op) {
    return op == P2L_OP_DIV || op == P2L_OP_FLOOR_DIV || op == P2L_OP_FLOOR_MOD;
}

typedef struct binary_state {
    row_fn row;
    int activation;
    p2l_bcast bcast;
    const p2l_quant_binary *quant; /* quantized int8 ADD / SUB / MUL; NULL otherwise */
} binary_state;

static p2l_status binary_prepare(p2l_node *node) {
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    p2l_tensor *out = node->outputs[0];
    P2L_TRY(p2l_expect_same_dtype(b, a));
    if (a->dtype == P2L_INT8 && a->quant_count) {
        binary_state *st = p2l_arena_alloc(node->arena, sizeof *st);
        p2l_quant_binary *q = NULL;
        if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        P2L_TRY(p2l_quant_binary_prepare(node, &q));
        st->quant = q;
        node->state = st;
        const p2l_tensor *operands[2] = {a, b};
        return p2l_broadcast_output(node, 2, operands, &st->bcast);
    }
    int slot = type_slot(a->dtype);
    row_fn row = slot < 0 ? NULL : rows[node->op][slot];
    if (!row)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s inputs are not supported", p2l_dtype_name(a->dtype));
    P2L_TRY(p2l_expect_dtype(out, is_comparison(node->op) ? P2L_BOOL : a->dtype));
    int activation = p2l_fused_activation(node);
    P2L_TRY(p2l_check_activation(activation));
    if (activation != P2L_ACT_NONE && a->dtype != P2L_FLOAT32)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "a fused activation on %s is not supported", p2l_dtype_name(a->dtype));
    binary_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const p2l_tensor *operands[2] = {a, b};
    P2L_TRY(p2l_broadcast_output(node, 2, operands, &st->bcast));
    st->row = row;
    st->activation = activation;
    node->state = st;
    return P2L_OK;
}

static p2l_status check_second_operand(const p2l_node *node) {
    const p2l_tensor *b = node->inputs[1];
    bool is_pow = node->op == P2L_OP_POW;
    if (b->dtype != P2L_INT32 && b->dtype != P2L_INT64) return P2L_OK;
    if (!is_pow && !checks_divisor(node->op)) return P2L_OK;
    for (size_t i = 0; i < b->count; i++) {
        int64_t v = b->dtype == P2L_INT32 ? ((const int32_t *)b->data)[i] : ((const int64_t *)b->data)[i];
        if (!is_pow && v == 0) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "integer division by zero");
        if (is_pow && v < 0)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "integer power with a negative exponent (%lld)", (long long)v);
    }
    return P2L_OK;
}

static p2l_status binary_invoke(p2l_node *node) {
    const binary_state *st = node->state;
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    p2l_tensor *out = node->outputs[0];
    P2L_TRY(check_second_operand(node));
    size_t in_size = p2l_dtype_size(a->dtype), out_size = p2l_dtype_size(out->dtype);
    const p2l_bcast *bc = &st->bcast;
    p2l_bcast_iter it = {0};
    uint8_t *o = out->data;
    for (size_t r = 0; r < bc->rows; r++) {
        if (st->quant)
            p2l_quant_binary_row(node->op, st->quant, (const int8_t *)a->data + it.offset[0], bc->strides[0][bc->rank - 1],
                             (const int8_t *)b->data + it.offset[1], bc->strides[1][bc->rank - 1], (int8_t *)o, bc->inner);
        else
            st->row((const uint8_t *)a->data + it.offset[0] * in_size, bc->strides[0][bc->rank - 1],
                (const uint8_t *)b->data + it.offset[1] * in_size, bc->strides[1][bc->rank - 1], o, bc->inner);
        o += bc->inner * out_size;
        if (r + 1 < bc->rows) p2l_bcast_next_row(bc, &it);
    }
    if (st->activation != P2L_ACT_NONE) p2l_apply_activation(st->activation, out->data, out->count);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_binary = {
    .prepare = binary_prepare, .invoke = binary_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
