/* Ops that make values from shapes and scalars: FILL, ZEROS_LIKE, RANGE. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

static p2l_status fill_prepare(p2l_node *node) {
    const p2l_tensor *shape = node->inputs[0], *value = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], value));
    if (value->count != 1) return p2l_fail(P2L_ERROR_MALFORMED, "value %s must be a scalar", P2L_LABEL(value));
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    P2L_TRY(p2l_read_dims(shape, "output shape", 0, &rank, dims));
    return p2l_set_output_dims(node, 0, rank, dims);
}

static p2l_status fill_invoke(p2l_node *node) {
    const p2l_tensor *value = node->inputs[1];
    p2l_tensor *y = node->outputs[0];
    size_t size = p2l_dtype_size(y->dtype);
    for (size_t i = 0; i < y->count; i++) memcpy((uint8_t *)y->data + i * size, value->data, size);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_fill = {
    .prepare = fill_prepare, .invoke = fill_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status zeros_like_prepare(p2l_node *node) {
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], node->inputs[0]));
    return p2l_set_output_like(node, 0, node->inputs[0]);
}

static p2l_status zeros_like_invoke(p2l_node *node) {
    if (node->outputs[0]->bytes) memset(node->outputs[0]->data, 0, node->outputs[0]->bytes);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_zeros_like = {
    .prepare = zeros_like_prepare, .invoke = zeros_like_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_SHAPE_ONLY,
};

static double scalar_value(const p2l_tensor *t) {
    switch (t->dtype) {
    case P2L_FLOAT32: return ((const float *)t->data)[0];
    case P2L_INT32: return ((const int32_t *)t->data)[0];
    default: return (double)((const int64_t *)t->data)[0];
    }
}

static p2l_status range_prepare(p2l_node *node) {
    const p2l_tensor *start = node->inputs[0], *limit = node->inputs[1], *delta = node->inputs[2];
    p2l_dtype t = start->dtype;
    if (t != P2L_FLOAT32 && t != P2L_INT32 && t != P2L_INT64)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s range is not supported", p2l_dtype_name(t));
    P2L_TRY(p2l_expect_same_dtype(limit, start));
    P2L_TRY(p2l_expect_same_dtype(delta, start));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], start));
    for (int i = 0; i < 3; i++) {
        P2L_TRY(p2l_expect_known(node->inputs[i], "range bound"));
        if (node->inputs[i]->count != 1)
            return p2l_fail(P2L_ERROR_MALFORMED, "%s must be a scalar", P2L_LABEL(node->inputs[i]));
    }
    double s = scalar_value(start), l = scalar_value(limit), d = scalar_value(delta);
    if (d == 0 || (l > s && d < 0) || (l < s && d > 0))
        return p2l_fail(P2L_ERROR_MALFORMED, "range(%g, %g, %g) does not make progress", s, l, d);
    double count = t == P2L_FLOAT32 ? ceil(fabs((l - s) / d)) : ceil(fabs(l - s) / fabs(d));
    if (!(count <= INT32_MAX)) return p2l_fail(P2L_ERROR_LIMIT, "range of %g elements is too large", count);
    int32_t dim = (int32_t)count;
    return p2l_set_output_dims(node, 0, 1, &dim);
}

static p2l_status range_invoke(p2l_node *node) {
    p2l_tensor *y = node->outputs[0];
    const p2l_tensor *start = node->inputs[0], *delta = node->inputs[2];
    for (size_t i = 0; i < y->count; i++) {
        if (y->dtype == P2L_FLOAT32)
            ((float *)y->data)[i] = ((const float *)start->data)[0] + (float)i * ((const float *)delta->data)[0];
        else if (y->dtype == P2L_INT32)
            ((int32_t *)y->data)[i] = (int32_t)(((const int32_t *)start->data)[0] + (int64_t)i * ((const int32_t *)delta->data)[0]);
        else
            ((int64_t *)y->data)[i] = (int64_t)((uint64_t)((const int64_t *)start->data)[0] +
                                                (uint64_t)i * (uint64_t)((const int64_t *)delta->data)[0]);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_range = {
    .prepare = range_prepare, .invoke = range_invoke,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
};
