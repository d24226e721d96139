/* GATHER (axis, batch_dims) and GATHER_ND. Indices are int32 or int64 and are checked at invoke:
 * an index out of range is an error, never an out-of-bounds read. Any params dtype. */
#include <string.h>

#include "kernels/kernels.h"

static int64_t index_at(const p2l_tensor *t, size_t i) {
    return t->dtype == P2L_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

static p2l_status expect_indices(const p2l_tensor *t) {
    if (t->dtype == P2L_INT32 || t->dtype == P2L_INT64) return P2L_OK;
    return p2l_fail(P2L_ERROR_UNSUPPORTED, "indices %s must be int32 or int64, got %s", P2L_LABEL(t),
                    p2l_dtype_name(t->dtype));
}

typedef struct gather_state {
    size_t batches, outer, axis_size, count, inner; /* inner in bytes */
} gather_state;

static p2l_status gather_prepare(p2l_node *node) {
    const p2l_tensor *params = node->inputs[0], *indices = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], params));
    P2L_TRY(expect_indices(indices));
    int batch_dims = node->opts.gather.batch_dims, axis;
    if (batch_dims < 0) batch_dims += indices->rank;
    P2L_TRY(p2l_normalize_axis(node->opts.gather.axis, params->rank, &axis));
    if (batch_dims < 0 || batch_dims > indices->rank || batch_dims > axis)
        return p2l_fail(P2L_ERROR_MALFORMED, "batch_dims %d is invalid for axis %d and rank-%d indices", batch_dims,
                        axis, indices->rank);
    for (int d = 0; d < batch_dims; d++)
        if (params->dims[d] != indices->dims[d])
            return p2l_fail(P2L_ERROR_MALFORMED, "batch dim %d differs: %d vs %d", d, params->dims[d], indices->dims[d]);
    int32_t dims[P2L_MAX_DIMS];
    int rank = 0;
    if (params->rank - 1 + indices->rank - batch_dims > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "output rank is above %d", P2L_MAX_DIMS);
    for (int d = 0; d < axis; d++) dims[rank++] = params->dims[d];
    for (int d = batch_dims; d < indices->rank; d++) dims[rank++] = indices->dims[d];
    for (int d = axis + 1; d < params->rank; d++) dims[rank++] = params->dims[d];
    gather_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    st->batches = p2l_dims_count(batch_dims, params->dims);
    st->outer = p2l_dims_count(axis - batch_dims, params->dims + batch_dims);
    st->axis_size = (size_t)params->dims[axis];
    st->count = p2l_dims_count(indices->rank - batch_dims, indices->dims + batch_dims);
    st->inner = p2l_dims_count(params->rank - axis - 1, params->dims + axis + 1) * p2l_dtype_size(params->dtype);
    return p2l_set_output_dims(node, 0, rank, dims);
}

static p2l_status gather_invoke(p2l_node *node) {
    const gather_state *st = node->state;
    const p2l_tensor *params = node->inputs[0], *indices = node->inputs[1];
    const uint8_t *in = params->data;
    uint8_t *out = node->outputs[0]->data;
    for (size_t b = 0; b < st->batches; b++)
        for (size_t o = 0; o < st->outer; o++)
            for (size_t i = 0; i < st->count; i++) {
                int64_t k = index_at(indices, b * st->count + i);
                if (k < 0 || (uint64_t)k >= st->axis_size)
                    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "index %lld is out of range [0, %zu)", (long long)k,
                                    st->axis_size);
                const uint8_t *src = in + ((b * st->outer + o) * st->axis_size + (size_t)k) * st->inner;
                if (st->inner) memcpy(out, src, st->inner);
                out += st->inner;
            }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_gather = {
    .prepare = gather_prepare, .invoke = gather_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status gather_nd_prepare(p2l_node *node) {
    const p2l_tensor *params = node->inputs[0], *indices = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], params));
    P2L_TRY(expect_indices(indices));
    if (indices->rank < 1) return p2l_fail(P2L_ERROR_MALFORMED, "indices %s must have rank 1 or more", P2L_LABEL(indices));
    int k = indices->dims[indices->rank - 1];
    if (k > params->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "index depth %d is above the params rank %d", k, params->rank);
    if (indices->rank - 1 + params->rank - k > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "output rank is above %d", P2L_MAX_DIMS);
    int32_t dims[P2L_MAX_DIMS];
    int rank = 0;
    for (int d = 0; d < indices->rank - 1; d++) dims[rank++] = indices->dims[d];
    for (int d = k; d < params->rank; d++) dims[rank++] = params->dims[d];
    return p2l_set_output_dims(node, 0, rank, dims);
}

static p2l_status gather_nd_invoke(p2l_node *node) {
    const p2l_tensor *params = node->inputs[0], *indices = node->inputs[1];
    const int k = indices->dims[indices->rank - 1];
    const size_t slices = k ? indices->count / (size_t)k : p2l_dims_count(indices->rank - 1, indices->dims);
    const size_t inner = p2l_dims_count(params->rank - k, params->dims + k) * p2l_dtype_size(params->dtype);
    int64_t strides[P2L_MAX_DIMS];
    p2l_dims_strides(params->rank, params->dims, strides);
    const uint8_t *in = params->data;
    uint8_t *out = node->outputs[0]->data;
    const size_t elem = p2l_dtype_size(params->dtype);
    for (size_t s = 0; s < slices; s++) {
        int64_t offset = 0;
        for (int j = 0; j < k; j++) {
            int64_t i = index_at(indices, s * (size_t)k + (size_t)j);
            if (i < 0 || i >= params->dims[j])
                return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "index %lld is out of range [0, %d) in dim %d", (long long)i,
                                params->dims[j], j);
            offset += i * strides[j];
        }
        if (inner) memcpy(out, in + (size_t)offset * elem, inner);
        out += inner;
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_gather_nd = {
    .prepare = gather_nd_prepare, .invoke = gather_nd_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
