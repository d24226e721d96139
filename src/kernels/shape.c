/* Ops that only change a shape: RESHAPE, SQUEEZE, EXPAND_DIMS, and SHAPE. The first three are views:
 * the memory plan usually gives output and input one buffer (then there is nothing to copy); where it
 * cannot (a constant input of a node that runs, say), they copy the bytes. */
#include <string.h>

#include "kernels/kernels.h"

static p2l_status copy_invoke(p2l_node *node) {
    if (node->outputs[0]->bytes && node->outputs[0]->data != node->inputs[0]->data) memcpy(node->outputs[0]->data, node->inputs[0]->data, node->outputs[0]->bytes);
    return P2L_OK;
}

static p2l_status reshape_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    const p2l_tensor *shape = node->input_count > 1 ? node->inputs[1] : NULL;
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    const p2l_option_ints *new_shape = &node->opts.reshape.new_shape;
    int64_t values[P2L_MAX_DIMS];
    size_t n = 0;
    if (shape && (shape->known || !new_shape->present)) {
        P2L_TRY(p2l_expect_known(shape, "new shape"));
        if (shape->count > P2L_MAX_DIMS)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "new shape of rank %zu (at most %d supported)", shape->count,
                            P2L_MAX_DIMS);
        P2L_TRY(p2l_read_ints(shape, values, P2L_MAX_DIMS, &n));
    } else if (new_shape->present) {
        if (new_shape->count > P2L_MAX_DIMS)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "new shape of rank %d (at most %d supported)", new_shape->count,
                            P2L_MAX_DIMS);
        n = (size_t)new_shape->count;
        for (size_t i = 0; i < n; i++) values[i] = new_shape->values[i];
    } else {
        return p2l_fail(P2L_ERROR_MALFORMED, "no new shape: neither a shape input nor new_shape options");
    }
    int32_t dims[P2L_MAX_DIMS];
    int infer = -1;
    size_t known = 1;
    for (size_t i = 0; i < n; i++) {
        if (values[i] == -1 && infer < 0) {
            infer = (int)i;
            dims[i] = 1;
            continue;
        }
        if (values[i] < 0 || values[i] > INT32_MAX)
            return p2l_fail(P2L_ERROR_MALFORMED, "new shape dim %zu is %lld", i, (long long)values[i]);
        dims[i] = (int32_t)values[i];
        if (!p2l_mul_size(known, (size_t)dims[i], &known)) return p2l_fail(P2L_ERROR_MALFORMED, "new shape overflows");
    }
    if (infer >= 0) {
        if (known == 0 || x->count % known != 0 || x->count / known > INT32_MAX)
            return p2l_fail(P2L_ERROR_MALFORMED, "cannot infer the -1 dim: %zu elements into pieces of %zu", x->count,
                            known);
        dims[infer] = (int32_t)(x->count / known);
        known *= (size_t)dims[infer];
    }
    if (known != x->count)
        return p2l_fail(P2L_ERROR_MALFORMED, "cannot reshape %zu elements into a shape of %zu", x->count, known);
    return p2l_set_output_dims(node, 0, (int)n, dims);
}

const p2l_kernel p2l_kernel_reshape = {
    .prepare = reshape_prepare, .invoke = copy_invoke,
    .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 1,
    .flags = P2L_KERNEL_VIEW,
};

static p2l_status squeeze_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    bool drop[P2L_MAX_DIMS] = {0};
    const p2l_option_ints *squeeze_dims = &node->opts.squeeze.squeeze_dims;
    if (squeeze_dims->count > 0) {
        for (int i = 0; i < squeeze_dims->count; i++) {
            int axis;
            P2L_TRY(p2l_normalize_axis(squeeze_dims->values[i], x->rank, &axis));
            if (x->dims[axis] != 1)
                return p2l_fail(P2L_ERROR_MALFORMED, "cannot squeeze dim %d of size %d", axis, x->dims[axis]);
            drop[axis] = true;
        }
    } else {
        for (int d = 0; d < x->rank; d++) drop[d] = x->dims[d] == 1;
    }
    int32_t dims[P2L_MAX_DIMS];
    int rank = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d]) dims[rank++] = x->dims[d];
    return p2l_set_output_dims(node, 0, rank, dims);
}

const p2l_kernel p2l_kernel_squeeze = {
    .prepare = squeeze_prepare, .invoke = copy_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_VIEW,
};

static p2l_status expand_dims_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *axis_t = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    if (x->rank >= P2L_MAX_DIMS) return p2l_fail(P2L_ERROR_UNSUPPORTED, "rank %d is too high to expand", x->rank);
    int axis;
    P2L_TRY(p2l_read_axis(axis_t, x->rank + 1, &axis));
    int32_t dims[P2L_MAX_DIMS];
    for (int d = 0, s = 0; d <= x->rank; d++) dims[d] = d == axis ? 1 : x->dims[s++];
    return p2l_set_output_dims(node, 0, x->rank + 1, dims);
}

const p2l_kernel p2l_kernel_expand_dims = {
    .prepare = expand_dims_prepare, .invoke = copy_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_VIEW,
};

static p2l_status shape_prepare(p2l_node *node) {
    p2l_tensor *y = node->outputs[0];
    if (y->dtype != P2L_INT32 && y->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_MALFORMED, "output %s must be int32 or int64", P2L_LABEL(y));
    int32_t rank = node->inputs[0]->rank;
    return p2l_set_output_dims(node, 0, 1, &rank);
}

static p2l_status shape_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    for (int d = 0; d < x->rank; d++) {
        if (y->dtype == P2L_INT32) ((int32_t *)y->data)[d] = x->dims[d];
        else ((int64_t *)y->data)[d] = x->dims[d];
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_shape = {
    .prepare = shape_prepare, .invoke = shape_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_SHAPE_ONLY,
};
