/* Joining and splitting along an axis: CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V.
 * All are "outer x (piece along axis x inner)" block copies, so they work for every dtype. */
#include <string.h>

#include "kernels/quant_math.h"

typedef struct axis_blocks {
    size_t outer;     /* product of dims before the axis */
    size_t inner;     /* bytes of one step along the axis */
} axis_blocks;

/* Gathers pieces (each `lengths[i]` steps along the axis) into one tensor, or scatters one tensor
 * into pieces. The pieces are the node's inputs (join) or outputs (split). */
static void join(const axis_blocks *b, p2l_tensor *const *pieces, int count, const size_t *lengths, uint8_t *whole) {
    for (size_t o = 0; o < b->outer; o++)
        for (int i = 0; i < count; i++) {
            size_t bytes = lengths[i] * b->inner;
            if (bytes) memcpy(whole, (const uint8_t *)pieces[i]->data + o * bytes, bytes);
            whole += bytes;
        }
}

static void split(const axis_blocks *b, p2l_tensor *const *pieces, int count, const size_t *lengths,
                  const uint8_t *whole) {
    for (size_t o = 0; o < b->outer; o++)
        for (int i = 0; i < count; i++) {
            size_t bytes = lengths[i] * b->inner;
            if (bytes) memcpy((uint8_t *)pieces[i]->data + o * bytes, whole, bytes);
            whole += bytes;
        }
}

/* Per-piece lengths along the axis, kept after the blocks state. */
typedef struct pieces_state {
    axis_blocks blocks;
    int count;
    size_t lengths[];
} pieces_state;

static p2l_status new_pieces(p2l_node *node, const p2l_tensor *whole, int axis, int count) {
    pieces_state *st = p2l_arena_alloc(node->arena, sizeof *st + (size_t)count * sizeof(size_t));
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->blocks.outer = p2l_dims_count(axis, whole->dims);
    st->blocks.inner = p2l_dims_count(whole->rank - axis - 1, whole->dims + axis + 1) * p2l_dtype_size(whole->dtype);
    st->count = count;
    node->state = st;
    return P2L_OK;
}

static p2l_status concatenation_prepare(p2l_node *node) {
    const p2l_tensor *first = node->inputs[0];
    const p2l_concatenation_options *o = &node->opts.concatenation;
    P2L_TRY(p2l_check_activation(o->fused_activation_function));
    if (o->fused_activation_function != P2L_ACT_NONE) P2L_TRY(p2l_expect_dtype(first, P2L_FLOAT32));
    int axis;
    P2L_TRY(p2l_normalize_axis(o->axis, first->rank, &axis));
    int32_t dims[P2L_MAX_DIMS];
    memcpy(dims, first->dims, sizeof dims);
    int64_t total = 0;
    for (int i = 0; i < node->input_count; i++) {
        const p2l_tensor *t = node->inputs[i];
        P2L_TRY(p2l_expect_same_dtype(t, first));
        /* TFLite's int8 CONCATENATION copies: every input has the output's scale and zero point */
        if (p2l_is_quantized_dtype(t->dtype)) P2L_TRY(p2l_quant_expect_same(node->outputs[0], t));
        if (t->rank != first->rank) return p2l_fail(P2L_ERROR_MALFORMED, "%s has rank %d, expected %d", P2L_LABEL(t), t->rank, first->rank);
        for (int d = 0; d < t->rank; d++)
            if (d != axis && t->dims[d] != first->dims[d])
                return p2l_fail(P2L_ERROR_MALFORMED, "%s dim %d is %d, expected %d", P2L_LABEL(t), d, t->dims[d],
                                first->dims[d]);
        total += t->dims[axis];
    }
    if (total > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "concatenated dim is too large");
    dims[axis] = (int32_t)total;
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], first));
    P2L_TRY(p2l_set_output_dims(node, 0, first->rank, dims));
    P2L_TRY(new_pieces(node, node->outputs[0], axis, node->input_count));
    pieces_state *st = node->state;
    for (int i = 0; i < node->input_count; i++) st->lengths[i] = (size_t)node->inputs[i]->dims[axis];
    return P2L_OK;
}

static p2l_status concatenation_invoke(p2l_node *node) {
    const pieces_state *st = node->state;
    join(&st->blocks, node->inputs, st->count, st->lengths, node->outputs[0]->data);
    p2l_apply_fused_activation(node);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_concatenation = {
    .prepare = concatenation_prepare, .invoke = concatenation_invoke,
    .min_inputs = 1, .max_inputs = 255, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status pack_prepare(p2l_node *node) {
    const p2l_tensor *first = node->inputs[0];
    if (first->rank >= P2L_MAX_DIMS) return p2l_fail(P2L_ERROR_UNSUPPORTED, "rank %d is too high to pack", first->rank);
    int axis;
    P2L_TRY(p2l_normalize_axis(node->opts.pack.axis, first->rank + 1, &axis));
    P2L_TRY(p2l_expect_inputs_alike(node));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], first));
    int32_t dims[P2L_MAX_DIMS];
    for (int d = 0, s = 0; d <= first->rank; d++) dims[d] = d == axis ? node->input_count : first->dims[s++];
    P2L_TRY(p2l_set_output_dims(node, 0, first->rank + 1, dims));
    P2L_TRY(new_pieces(node, node->outputs[0], axis, node->input_count));
    pieces_state *st = node->state;
    for (int i = 0; i < node->input_count; i++) st->lengths[i] = 1;
    return P2L_OK;
}

static p2l_status pack_invoke(p2l_node *node) {
    const pieces_state *st = node->state;
    join(&st->blocks, node->inputs, st->count, st->lengths, node->outputs[0]->data);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_pack = {
    .prepare = pack_prepare, .invoke = pack_invoke,
    .min_inputs = 1, .max_inputs = 255, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status split_invoke(p2l_node *node) {
    const pieces_state *st = node->state;
    const p2l_tensor *whole = node->op == P2L_OP_SPLIT ? node->inputs[1] : node->inputs[0];
    split(&st->blocks, node->outputs, st->count, st->lengths, whole->data);
    return P2L_OK;
}

/* Sets each output to `whole` with the axis dim replaced by its length. */
static p2l_status set_piece_outputs(p2l_node *node, const p2l_tensor *whole, int axis, bool drop_axis) {
    pieces_state *st = node->state;
    for (int i = 0; i < node->output_count; i++) {
        P2L_TRY(p2l_expect_same_dtype(node->outputs[i], whole));
        int32_t dims[P2L_MAX_DIMS];
        int rank = 0;
        for (int d = 0; d < whole->rank; d++) {
            if (d == axis && drop_axis) continue;
            dims[rank++] = d == axis ? (int32_t)st->lengths[i] : whole->dims[d];
        }
        P2L_TRY(p2l_set_output_dims(node, i, rank, dims));
    }
    return P2L_OK;
}

static p2l_status unpack_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    int axis;
    P2L_TRY(p2l_normalize_axis(node->opts.unpack.axis, x->rank, &axis));
    if (x->dims[axis] != node->output_count)
        return p2l_fail(P2L_ERROR_MALFORMED, "dim %d has size %d but the op has %d outputs", axis, x->dims[axis],
                        node->output_count);
    P2L_TRY(new_pieces(node, x, axis, node->output_count));
    pieces_state *st = node->state;
    for (int i = 0; i < node->output_count; i++) st->lengths[i] = 1;
    return set_piece_outputs(node, x, axis, true);
}

const p2l_kernel p2l_kernel_unpack = {
    .prepare = unpack_prepare, .invoke = split_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 255,
};

static p2l_status split_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[1];
    int axis, n = node->output_count;
    P2L_TRY(p2l_read_axis(node->inputs[0], x->rank, &axis));
    if (x->dims[axis] % n != 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "dim %d of size %d does not split into %d equal parts", axis, x->dims[axis], n);
    P2L_TRY(new_pieces(node, x, axis, n));
    pieces_state *st = node->state;
    for (int i = 0; i < n; i++) st->lengths[i] = (size_t)(x->dims[axis] / n);
    return set_piece_outputs(node, x, axis, false);
}

const p2l_kernel p2l_kernel_split = {
    .prepare = split_prepare, .invoke = split_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 255,
};

static p2l_status split_v_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *sizes_t = node->inputs[1];
    int axis, n = node->output_count;
    P2L_TRY(p2l_read_axis(node->inputs[2], x->rank, &axis));
    P2L_TRY(p2l_expect_known(sizes_t, "split sizes"));
    int64_t sizes[255];
    size_t count;
    P2L_TRY(p2l_read_ints(sizes_t, sizes, 255, &count));
    if ((int)count != n) return p2l_fail(P2L_ERROR_MALFORMED, "%zu split sizes for %d outputs", count, n);
    int infer = -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] == -1 && infer < 0) { infer = i; continue; }
        if (sizes[i] < 0 || sizes[i] > x->dims[axis])
            return p2l_fail(P2L_ERROR_MALFORMED, "split size %d is %lld", i, (long long)sizes[i]);
        total += sizes[i];
    }
    if (infer >= 0) sizes[infer] = x->dims[axis] - total, total = x->dims[axis];
    if (total != x->dims[axis] || (infer >= 0 && sizes[infer] < 0))
        return p2l_fail(P2L_ERROR_MALFORMED, "split sizes add up to %lld, not %d", (long long)total, x->dims[axis]);
    P2L_TRY(new_pieces(node, x, axis, n));
    pieces_state *st = node->state;
    for (int i = 0; i < n; i++) st->lengths[i] = (size_t)sizes[i];
    return set_piece_outputs(node, x, axis, false);
}

const p2l_kernel p2l_kernel_split_v = {
    .prepare = split_v_prepare, .invoke = split_invoke,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 255,
};
