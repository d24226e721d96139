/* ATAN2 (float32) and BITWISE_XOR (integers): binary elementwise ops with numpy broadcasting, kept
 * apart from binary.c's arithmetic table because their dtype rules differ (ATAN2 is float only,
 * BITWISE_XOR integer only). */
#include <math.h>

#include "kernels/kernels.h"

typedef void (*row_fn)(const void *a, size_t a_step, const void *b, size_t b_step, void *out, size_t n);

#define ROW(name, T, EXPR)                                                                        \
    static void name(const void *pa, size_t sa, const void *pb, size_t sb, void *po, size_t n) { \
        const T *A = pa, *B = pb;                                                                 \
        T *O = po;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                          \
            T x = A[i * sa], y = B[i * sb];                                                       \
            O[i] = (T)(EXPR);                                                                     \
        }                                                                                         \
    }

ROW(atan2_f32, float, atan2f(x, y))
ROW(xor_u8, uint8_t, x ^ y)
ROW(xor_i8, int8_t, x ^ y)
ROW(xor_i16, int16_t, x ^ y)
ROW(xor_i32, int32_t, x ^ y)
ROW(xor_i64, int64_t, x ^ y)

static row_fn row_of(p2l_op op, p2l_dtype dtype) {
    if (op == P2L_OP_ATAN2) return dtype == P2L_FLOAT32 ? atan2_f32 : NULL;
    switch (dtype) {
    case P2L_UINT8: return xor_u8;
    case P2L_INT8: return xor_i8;
    case P2L_INT16: return xor_i16;
    case P2L_INT32: return xor_i32;
    case P2L_INT64: return xor_i64;
    default: return NULL;
    }
}

typedef struct binary_math_state {
    row_fn row;
    p2l_bcast bcast;
} binary_math_state;

static p2l_status binary_math_prepare(p2l_node *node) {
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(b, a));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], a));
    row_fn row = row_of(node->op, a->dtype);
    if (!row) return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s inputs are not supported", p2l_dtype_name(a->dtype));
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    const p2l_tensor *operands[2] = {a, b};
    P2L_TRY(p2l_broadcast_dims(2, operands, &rank, dims));
    P2L_TRY(p2l_set_output_dims(node, 0, rank, dims));
    binary_math_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->row = row;
    p2l_bcast_init(&st->bcast, 2, operands, rank, dims);
    node->state = st;
    return P2L_OK;
}

static p2l_status binary_math_invoke(p2l_node *node) {
    const binary_math_state *st = node->state;
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    size_t size = p2l_dtype_size(a->dtype);
    const p2l_bcast *bc = &st->bcast;
    p2l_bcast_iter it = {0};
    uint8_t *o = node->outputs[0]->data;
    for (size_t r = 0; r < bc->rows; r++) {
        st->row((const uint8_t *)a->data + it.offset[0] * size, bc->strides[0][bc->rank - 1],
                (const uint8_t *)b->data + it.offset[1] * size, bc->strides[1][bc->rank - 1], o, bc->inner);
        o += bc->inner * size;
        if (r + 1 < bc->rows) p2l_bcast_next_row(bc, &it);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_binary_math = {
    .prepare = binary_math_prepare, .invoke = binary_math_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
