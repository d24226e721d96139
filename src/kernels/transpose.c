/* Data movement expressed as strided views of the input: TRANSPOSE, REVERSE_V2, DEPTH_TO_SPACE,
 * SPACE_TO_DEPTH, BROADCAST_TO; and TILE. */
#include <string.h>

#include "kernels/kernels.h"

static p2l_status transpose_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *perm_t = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    P2L_TRY(p2l_expect_known(perm_t, "permutation"));
    int64_t perm[P2L_MAX_DIMS];
    size_t n;
    P2L_TRY(p2l_read_ints(perm_t, perm, P2L_MAX_DIMS, &n));
    if ((int)n != x->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "permutation has %zu entries for a rank-%d input", n, x->rank);
    bool seen[P2L_MAX_DIMS] = {0};
    p2l_view *v = p2l_new_view(node);
    if (!v) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int64_t in_strides[P2L_MAX_DIMS];
    p2l_dims_strides(x->rank, x->dims, in_strides);
    v->rank = x->rank;
    for (int d = 0; d < x->rank; d++) {
        int p;
        P2L_TRY(p2l_normalize_axis(perm[d], x->rank, &p));
        if (seen[p]) return p2l_fail(P2L_ERROR_MALFORMED, "permutation repeats dim %d", p);
        seen[p] = true;
        v->dims[d] = x->dims[p];
        v->strides[d] = in_strides[p];
    }
    return p2l_set_output_dims(node, 0, v->rank, v->dims);
}

const p2l_kernel p2l_kernel_transpose = {
    .prepare = transpose_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status reverse_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *axes_t = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    P2L_TRY(p2l_expect_known(axes_t, "axis"));
    int64_t axes[P2L_MAX_DIMS];
    size_t n;
    P2L_TRY(p2l_read_ints(axes_t, axes, P2L_MAX_DIMS, &n));
    p2l_view *v = p2l_new_view(node);
    if (!v) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    v->rank = x->rank;
    memcpy(v->dims, x->dims, sizeof v->dims);
    p2l_dims_strides(x->rank, x->dims, v->strides);
    bool flipped[P2L_MAX_DIMS] = {0};
    for (size_t i = 0; i < n; i++) {
        int axis;
        P2L_TRY(p2l_normalize_axis(axes[i], x->rank, &axis));
        if (flipped[axis] || x->dims[axis] == 0) continue;
        flipped[axis] = true;
        v->offset += (int64_t)(x->dims[axis] - 1) * v->strides[axis];
        v->strides[axis] = -v->strides[axis];
    }
    return p2l_set_output_like(node, 0, x);
}

const p2l_kernel p2l_kernel_reverse = {
    .prepare = reverse_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

/* DEPTH_TO_SPACE and SPACE_TO_DEPTH as 6-D views (NHWC, depth-column-row order as TFLite). */
static p2l_status depth_space_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    P2L_TRY(p2l_expect_rank(x, 4));
    int b = node->op == P2L_OP_DEPTH_TO_SPACE ? node->opts.depth_to_space.block_size
                                              : node->opts.space_to_depth.block_size;
    if (b < 1) return p2l_fail(P2L_ERROR_MALFORMED, "block size %d must be at least 1", b);
    const int32_t N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3];
    p2l_view *v = p2l_new_view(node);
    if (!v) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    v->rank = 6;
    int32_t out[4];
    if (node->op == P2L_OP_DEPTH_TO_SPACE) {
        if (C % (b * b) != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "depth %d is not a multiple of block size %d squared", C, b);
        const int32_t oc = C / (b * b);
        const int32_t dims[6] = {N, H, b, W, b, oc};
        const int64_t strides[6] = {(int64_t)H * W * C, (int64_t)W * C, (int64_t)b * oc, C, oc, 1};
        memcpy(v->dims, dims, sizeof dims);
        memcpy(v->strides, strides, sizeof strides);
        out[0] = N, out[1] = H * b, out[2] = W * b, out[3] = oc;
    } else {
        if (H % b != 0 || W % b != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "height %d and width %d must be multiples of block size %d", H, W, b);
        const int32_t dims[6] = {N, H / b, W / b, b, b, C};
        const int64_t strides[6] = {(int64_t)H * W * C, (int64_t)b * W * C, (int64_t)b * C, (int64_t)W * C, C, 1};
        memcpy(v->dims, dims, sizeof dims);
        memcpy(v->strides, strides, sizeof strides);
        out[0] = N, out[1] = H / b, out[2] = W / b, out[3] = C * b * b;
    }
    return p2l_set_output_dims(node, 0, 4, out);
}

const p2l_kernel p2l_kernel_depth_to_space = {
    .prepare = depth_space_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
const p2l_kernel p2l_kernel_space_to_depth = {
    .prepare = depth_space_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status broadcast_to_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    p2l_tensor target = {.rank = 0, .name = node->inputs[1]->name, .index = node->inputs[1]->index};
    P2L_TRY(p2l_read_dims(node->inputs[1], "target shape", 0, &target.rank, target.dims));
    if (target.rank < x->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "cannot broadcast rank %d to rank %d", x->rank, target.rank);
    for (int d = 0; d < x->rank; d++) {
        int32_t want = target.dims[target.rank - x->rank + d];
        if (x->dims[d] != 1 && x->dims[d] != want)
            return p2l_fail(P2L_ERROR_MALFORMED, "dim %d of size %d cannot broadcast to %d", d, x->dims[d], want);
    }
    p2l_view *v = p2l_new_view(node);
    if (!v) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int64_t in_strides[P2L_MAX_DIMS];
    p2l_dims_strides(x->rank, x->dims, in_strides);
    v->rank = target.rank;
    for (int d = 0; d < target.rank; d++) {
        int xd = d - (target.rank - x->rank);
        v->dims[d] = target.dims[d];
        v->strides[d] = xd < 0 || x->dims[xd] == 1 ? 0 : in_strides[xd];
    }
    return p2l_set_output_dims(node, 0, target.rank, target.dims);
}

const p2l_kernel p2l_kernel_broadcast_to = {
    .prepare = broadcast_to_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status tile_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    int rank = 0;
    int32_t multiples[P2L_MAX_DIMS], dims[P2L_MAX_DIMS];
    P2L_TRY(p2l_read_dims(node->inputs[1], "multiples", 0, &rank, multiples));
    if (rank != x->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "multiples has %d entries for a rank-%d input", rank, x->rank);
    for (int d = 0; d < rank; d++) {
        int64_t v = (int64_t)x->dims[d] * multiples[d];
        if (v > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "tiled dim %d is too large", d);
        dims[d] = (int32_t)v;
    }
    return p2l_set_output_dims(node, 0, rank, dims);
}

/* Output element (i0..) reads input element (i0 % d0, ...). */
static p2l_status tile_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    size_t size = p2l_dtype_size(x->dtype);
    int64_t strides[P2L_MAX_DIMS];
    p2l_dims_strides(x->rank, x->dims, strides);
    int32_t index[P2L_MAX_DIMS] = {0};
    const uint8_t *in = x->data;
    uint8_t *out = y->data;
    for (size_t i = 0; i < y->count; i++) {
        int64_t src = 0;
        for (int d = 0; d < x->rank; d++) src += (int64_t)(index[d] % x->dims[d]) * strides[d];
        memcpy(out + i * size, in + (size_t)src * size, size);
        p2l_index_next(y->rank, y->dims, index);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_tile = {
    .prepare = tile_prepare, .invoke = tile_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
