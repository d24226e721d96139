/* SCATTER_ND(indices, updates, shape): a zero tensor of `shape` with the update slices added at
 * the indexed positions (duplicates add up, as in LiteRT). Indices are checked at invoke: one out of
 * range is an error, never an out-of-bounds write. */
#include <string.h>

#include "kernels/kernels.h"

typedef struct scatter_state {
    size_t slices, slice; /* number of updates, elements per update */
    int depth;            /* index depth K */
    int64_t strides[P2L_MAX_DIMS];
} scatter_state;

static p2l_status scatter_nd_prepare(p2l_node *node) {
    const p2l_tensor *indices = node->inputs[0], *updates = node->inputs[1], *shape = node->inputs[2];
    if (indices->dtype != P2L_INT32 && indices->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "indices %s must be int32 or int64", P2L_LABEL(indices));
    if (updates->dtype != P2L_FLOAT32 && updates->dtype != P2L_INT32 && updates->dtype != P2L_INT64 &&
        updates->dtype != P2L_INT8 && updates->dtype != P2L_UINT8 && updates->dtype != P2L_BOOL)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "SCATTER_ND of %s is not supported", p2l_dtype_name(updates->dtype));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], updates));
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    P2L_TRY(p2l_read_dims(shape, "output shape", 1, &rank, dims));
    if (indices->rank < 1) return p2l_fail(P2L_ERROR_MALFORMED, "indices %s must have rank 1 or more", P2L_LABEL(indices));
    int k = indices->dims[indices->rank - 1];
    if (k < 1 || k > rank) return p2l_fail(P2L_ERROR_MALFORMED, "index depth %d for a rank-%d shape", k, rank);
    /* updates = indices.shape[:-1] + shape[k:] */
    int expect = indices->rank - 1 + rank - k;
    bool ok = updates->rank == expect;
    for (int d = 0; ok && d < indices->rank - 1; d++) ok = updates->dims[d] == indices->dims[d];
    for (int d = k; ok && d < rank; d++) ok = updates->dims[indices->rank - 1 + d - k] == dims[d];
    if (!ok) return p2l_fail(P2L_ERROR_MALFORMED, "updates %s do not match the indices and the shape", P2L_LABEL(updates));
    scatter_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->depth = k;
    st->slices = p2l_dims_count(indices->rank - 1, indices->dims);
    st->slice = p2l_dims_count(rank - k, dims + k);
    p2l_dims_strides(rank, dims, st->strides);
    node->state = st;
    return p2l_set_output_dims(node, 0, rank, dims);
}

#define ADD_SLICE(type)                                                                                      \
    for (size_t e = 0; e < st->slice; e++) ((type *)out)[offset + e] += ((const type *)upd)[s * st->slice + e];

static p2l_status scatter_nd_invoke(p2l_node *node) {
    const scatter_state *st = node->state;
    const p2l_tensor *indices = node->inputs[0], *updates = node->inputs[1];
    p2l_tensor *y = node->outputs[0];
    void *out = y->data;
    const void *upd = updates->data;
    if (y->bytes) memset(out, 0, y->bytes);
    for (size_t s = 0; s < st->slices; s++) {
        size_t offset = 0;
        for (int j = 0; j < st->depth; j++) {
            size_t at = s * (size_t)st->depth + (size_t)j;
            int64_t i = indices->dtype == P2L_INT32 ? ((const int32_t *)indices->data)[at]
                                                    : ((const int64_t *)indices->data)[at];
            if (i < 0 || i >= y->dims[j])
                return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "index %lld is out of range [0, %d) in dim %d", (long long)i,
                                y->dims[j], j);
            offset += (size_t)i * (size_t)st->strides[j];
        }
        switch (y->dtype) {
        case P2L_FLOAT32: ADD_SLICE(float) break;
        case P2L_INT32: ADD_SLICE(int32_t) break;
        case P2L_INT64: ADD_SLICE(int64_t) break;
        case P2L_INT8: ADD_SLICE(int8_t) break;
        case P2L_UINT8: ADD_SLICE(uint8_t) break;
        default: /* bool: logical or */
            for (size_t e = 0; e < st->slice; e++)
                ((uint8_t *)out)[offset + e] |= ((const uint8_t *)upd)[s * st->slice + e] != 0;
        }
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_scatter_nd = {
    .prepare = scatter_nd_prepare, .invoke = scatter_nd_invoke,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
};
