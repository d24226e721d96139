/* SELECT_V2 (three-way broadcast; any value dtype) and ADD_N. */
#include <string.h>

#include "kernels/kernels.h"

static p2l_status select_prepare(p2l_node *node) {
    const p2l_tensor *cond = node->inputs[0], *a = node->inputs[1], *b = node->inputs[2];
    P2L_TRY(p2l_expect_dtype(cond, P2L_BOOL));
    P2L_TRY(p2l_expect_same_dtype(b, a));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], a));
    if (!p2l_dtype_size(a->dtype)) return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s values", p2l_dtype_name(a->dtype));
    p2l_bcast *bc = p2l_arena_alloc(node->arena, sizeof *bc);
    if (!bc) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    P2L_TRY(p2l_broadcast_output(node, 3, (const p2l_tensor *const *)node->inputs, bc));
    node->state = bc;
    return P2L_OK;
}

/* One row of the broadcast, by element size. Both values are read before the choice, so the
 * compiler makes blends (vector ones where every stride is 1) instead of a branch per element, which
 * random conditions mispredict half the time. */
#define SELECT_ROW(T)                                                                              \
    do {                                                                                           \
        const T *ta = (const T *)a + it.offset[1], *tb = (const T *)b + it.offset[2];              \
        T *to = (T *)out;                                                                          \
        if (sc == 0 && sa == 1 && sb == 1) /* one condition for the row (a KV cache's positions) */ \
            memcpy(to, c[0] ? ta : tb, n * sizeof(T));                                             \
        else if (sc == 1 && sa == 1 && sb == 1)                                                    \
            for (size_t i = 0; i < n; i++) {                                                       \
                const T va = ta[i], vb = tb[i]; /* both read: a blend, not a branch per element */ \
                to[i] = c[i] ? va : vb;                                                            \
            }                                                                                      \
        else                                                                                       \
            for (size_t i = 0; i < n; i++) {                                                       \
                const T va = ta[i * sa], vb = tb[i * sb];                                          \
                to[i] = c[i * sc] ? va : vb;                                                       \
            }                                                                                      \
    } while (0)

static p2l_status select_invoke(p2l_node *node) {
    const p2l_bcast *bc = node->state;
    const uint8_t *cond = node->inputs[0]->data, *a = node->inputs[1]->data, *b = node->inputs[2]->data;
    uint8_t *out = node->outputs[0]->data;
    const size_t size = p2l_dtype_size(node->outputs[0]->dtype), n = bc->inner;
    const size_t sc = bc->strides[0][bc->rank - 1], sa = bc->strides[1][bc->rank - 1], sb = bc->strides[2][bc->rank - 1];
    p2l_bcast_iter it = {0};
    for (size_t r = 0; r < bc->rows; r++, out += n * size) {
        const uint8_t *c = cond + it.offset[0];
        switch (size) {
        case 1: SELECT_ROW(uint8_t); break;
        case 2: SELECT_ROW(uint16_t); break;
        case 4: SELECT_ROW(uint32_t); break;
        case 8: SELECT_ROW(uint64_t); break;
        default: break; /* prepare accepts no other size */
        }
        if (r + 1 < bc->rows) p2l_bcast_next_row(bc, &it);
    }
    return P2L_OK;
}
#undef SELECT_ROW

const p2l_kernel p2l_kernel_select_v2 = {
    .prepare = select_prepare, .invoke = select_invoke,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status add_n_prepare(p2l_node *node) {
    const p2l_tensor *first = node->inputs[0];
    if (first->dtype != P2L_FLOAT32 && first->dtype != P2L_INT32)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s inputs are not supported", p2l_dtype_name(first->dtype));
    P2L_TRY(p2l_expect_inputs_alike(node));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], first));
    return p2l_set_output_like(node, 0, first);
}

static p2l_status add_n_invoke(p2l_node *node) {
    p2l_tensor *y = node->outputs[0];
    if (y->dtype == P2L_FLOAT32) {
        float *out = y->data;
        memcpy(out, node->inputs[0]->data, y->bytes);
        for (int k = 1; k < node->input_count; k++) {
            const float *in = node->inputs[k]->data;
            for (size_t i = 0; i < y->count; i++) out[i] += in[i];
        }
    } else {
        int32_t *out = y->data;
        memcpy(out, node->inputs[0]->data, y->bytes);
        for (int k = 1; k < node->input_count; k++) {
            const int32_t *in = node->inputs[k]->data;
            for (size_t i = 0; i < y->count; i++) out[i] = (int32_t)((uint32_t)out[i] + (uint32_t)in[i]);
        }
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_add_n = {
    .prepare = add_n_prepare, .invoke = add_n_invoke,
    .min_inputs = 1, .max_inputs = 255, .min_outputs = 1, .max_outputs = 1,
};
