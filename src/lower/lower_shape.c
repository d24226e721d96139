/* Shapes, copies and data movement: view/reshape, permute, squeeze/unsqueeze, cat, slice, select,
 * no-op copies, dtype casts, expand, constant padding, flip, repeat and split_with_sizes.
 *
 * These ops work in whatever physical layout their input already has whenever that is exact:
 * permute only relabels axes (no op at all), slices and pads map their axis through the layout,
 * and a reshape runs on the physical tensor when the axes it merges or splits sit next to each
 * other, in order, in that layout (so a view after a permute or a conv needs no TRANSPOSE). */
#include <string.h>

#include "lower/lower.h"

/* ------------------------------------------------------------ shared helpers */

/* pos[logical axis] = its physical position in layout l (the permutation back to logical order). */
static void physical_positions(const p2l_layout *l, int rank, int8_t *pos) {
    for (int i = 0; i < rank; i++) pos[l->perm[i]] = (int8_t)i;
}

/* The value id of tensor argument `name`, or -1. */
static int tensor_arg_id(p2l_lower_ctx *ctx, const char *name) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    return a->kind == P2L_ARG_TENSOR ? (int)a->i : -1;
}

/* RESHAPE of x into the existing tensor `out`, whose dims give the shape: a constant shape (-1 for
 * one dynamic size), or with several dynamic sizes the shape of output 0 computed at run time (out
 * is then that output in the logical layout: plan_physical_reshape takes one dynamic size). */
static int emit_reshape_into(p2l_lower_ctx *ctx, int x, int out) {
    if (x < 0 || out < 0) return -1;
    const p2l_ir_tensor *t = &ctx->g->tensors.items[out];
    int rank = t->rank, dynamic = 0;
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        shape[i] = t->dims[i] < 0 ? -1 : (int32_t)t->dims[i];
        dynamic += t->dims[i] < 0;
    }
    const p2l_value *out_v = dynamic > 1 ? p2l_output_value(ctx, 0) : NULL;
    int ins[2] = {x, out_v ? p2l_dynamic_shape(ctx, out_v, NULL) : p2l_const_i32(ctx, rank, shape)};
    return p2l_emit(ctx, P2L_OP_RESHAPE, 2, ins, 1, &out);
}

/* Plans a reshape from logical dims a[ra] held in layout `in` to logical dims b[rb] as a RESHAPE
 * of the physical tensor. Every reshape factors into groups of axes with equal products (a merge,
 * a split, or a 1:1 axis); it runs physically when each group's input axes lie next to each other,
 * in order, in the physical layout. The result layout lists the groups' output axes in the groups'
 * physical order; size-1 output axes go right after their logical predecessor. A dynamic size
 * (at most one per side) must map 1:1 onto the other side's dynamic size. False when the reshape
 * needs the data reordered. */
static bool plan_physical_reshape(const int64_t *a, int ra, const p2l_layout *in, const int64_t *b, int rb,
                                  p2l_layout *out) {
    int an[P2L_MAX_DIMS], bn[P2L_MAX_DIMS], na = 0, nb = 0; /* axes of size != 1 */
    int group_of[P2L_MAX_DIMS], rank_in_an[P2L_MAX_DIMS], group_b_start[P2L_MAX_DIMS + 1], ng = 0;
    int dynamic_a = 0, dynamic_b = 0;
    for (int i = 0; i < ra; i++) {
        if (a[i] == 0) return false;
        dynamic_a += a[i] < 0;
        if (a[i] != 1) rank_in_an[i] = na, an[na++] = i;
    }
    for (int i = 0; i < rb; i++) {
        if (b[i] == 0) return false;
        dynamic_b += b[i] < 0;
        if (b[i] != 1) bn[nb++] = i;
    }
    if (dynamic_a > 1 || dynamic_b > 1) return false;
    int i = 0, j = 0;
    while (i < na && j < nb) {
        group_b_start[ng] = j;
        int64_t pa = a[an[i]], pb = b[bn[j++]];
        group_of[an[i++]] = ng;
        if (pa < 0 || pb < 0) { /* the dynamic sizes pair up alone */
            if (pa >= 0 || pb >= 0) return false;
            ng++;
            continue;
        }
        while (pa != pb) {
            if (pa < pb) {
                if (i >= na || a[an[i]] < 0) return false;
                pa *= a[an[i]];
                group_of[an[i++]] = ng;
            } else {
                if (j >= nb || b[bn[j]] < 0) return false;
                pb *= b[bn[j++]];
            }
        }
        ng++;
    }
    if (i != na || j != nb) return false;
    group_b_start[ng] = nb;
    int order[P2L_MAX_DIMS], n = 0, prev = -1;
    for (int p = 0; p < ra; p++) {
        int ax = in->perm[p];
        if (a[ax] == 1) continue;
        int g = group_of[ax], k = rank_in_an[ax];
        bool group_start = k == 0 || group_of[an[k - 1]] != g;
        if (!group_start && prev != an[k - 1]) return false; /* the group is split or reordered physically */
        if (group_start)
            for (int q = group_b_start[g]; q < group_b_start[g + 1]; q++) order[n++] = bn[q];
        prev = ax;
    }
    for (int x = 0; x < rb; x++) {
        if (b[x] != 1) continue;
        int at = 0;
        for (int q = 0; x > 0 && q < n; q++)
            if (order[q] == x - 1) at = q + 1;
        memmove(&order[at + 1], &order[at], sizeof(int) * (size_t)(n - at));
        order[at] = x;
        n++;
    }
    *out = p2l_identity_layout();
    for (int q = 0; q < rb; q++) out->perm[q] = (int8_t)order[q];
    return true;
}

/* Output 0 = tensor x (held in layout `l`, logical dims a[ra]) reshaped to the output's logical
 * shape: physically when plan_physical_reshape allows, else from the logical layout (`value_id`,
 * when x is that value's tensor, lets the logical copy be shared with other consumers). */
static p2l_status reshape_to_output(p2l_lower_ctx *ctx, int x, const p2l_layout *l, const int64_t *a, int ra,
                                    int value_id) {
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (x < 0 || !out_v) return P2L_ERROR_UNSUPPORTED;
    bool same_shape = out_v->rank == ra && p2l_dims_static(a, ra) &&
                      memcmp(out_v->dims, a, sizeof(int64_t) * (size_t)ra) == 0;
    if (same_shape) return p2l_alias_output(ctx, 0, x, l);
    p2l_layout out_l;
    if (!plan_physical_reshape(a, ra, l, out_v->dims, out_v->rank, &out_l)) {
        out_l = p2l_identity_layout();
        if (value_id >= 0) {
            x = p2l_value_input(ctx, value_id, NULL);
        } else {
            int8_t to_logical[P2L_MAX_DIMS];
            physical_positions(l, ra, to_logical);
            x = p2l_transpose(ctx, x, to_logical);
        }
    }
    return p2l_emitted(emit_reshape_into(ctx, x, p2l_output(ctx, 0, &out_l)));
}

/* Output 0 = the tensor argument `name` reshaped to the output's shape. */
static p2l_status reshape_arg_to_output(p2l_lower_ctx *ctx, const char *name) {
    int id = tensor_arg_id(ctx, name);
    if (id < 0) return p2l_unsupported(ctx, "argument '%s' is not a tensor", name);
    const p2l_value *v = &ctx->ep->values.items[id];
    p2l_layout l;
    int x = p2l_value_input_any(ctx, id, &l);
    return reshape_to_output(ctx, x, &l, v->dims, v->rank, id);
}

/* STRIDED_SLICE of physical tensor x into `out`. Axes in end_mask run to their end (for dynamic
 * sizes only: LiteRT's XNNPACK path takes no other masks). */
static int emit_strided_slice(p2l_lower_ctx *ctx, int x, const int32_t *begin, const int32_t *end,
                              const int32_t *strides, int end_mask, int out) {
    if (x < 0 || out < 0) return -1;
    int rank = ctx->g->tensors.items[x].rank;
    int ins[4] = {x, p2l_const_i32(ctx, rank, begin), p2l_const_i32(ctx, rank, end), p2l_const_i32(ctx, rank, strides)};
    int n = p2l_emit(ctx, P2L_OP_STRIDED_SLICE, 4, ins, 1, &out);
    if (n >= 0 && end_mask) p2l_set_option(ctx->g, n, "end_mask", end_mask);
    return n;
}

/* A full-tensor slice spec over physical dims: begin 0, end = size (or masked when dynamic), stride 1. */
static int full_slice(const p2l_ir_tensor *t, int32_t *begin, int32_t *end, int32_t *strides) {
    int end_mask = 0;
    for (int i = 0; i < t->rank; i++) {
        begin[i] = 0;
        strides[i] = 1;
        end[i] = t->dims[i] < 0 ? 0 : (int32_t)t->dims[i];
        if (t->dims[i] < 0) end_mask |= 1 << i;
    }
    return end_mask;
}

static int32_t clamp_i32(int64_t v) { return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v; }

/* Reads an optional SymInt argument; false (with a message) when it is symbolic. */
static bool optional_int_arg(p2l_lower_ctx *ctx, const char *name, int64_t fallback, int64_t *out) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind == P2L_ARG_INT && a->symbolic) {
        p2l_unsupported(ctx, "a symbolic '%s' (only constant slice bounds are supported)", name);
        return false;
    }
    *out = a->kind == P2L_ARG_INT ? a->i : fallback;
    return true;
}

/* ------------------------------------------------------------ reshapes */

/* view / _unsafe_view / reshape: the output shape (with -1 resolved by torch.export) is the
 * value's own shape, so the size argument is not needed. */
p2l_status p2l_lower_view(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return reshape_arg_to_output(ctx, "self"); }

/* squeeze.dims / .dim / .default drop size-1 axes: a reshape that never reorders data. */
p2l_status p2l_lower_squeeze(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return reshape_arg_to_output(ctx, "self"); }

p2l_status p2l_lower_unsqueeze(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return reshape_arg_to_output(ctx, "self");
}

/* permute relabels axes: the output is the input's IR tensor with the permutation folded into its
 * layout. Physical axis i holds input axis L[i], which is output axis j with dims[j] == L[i]. */
p2l_status p2l_lower_permute(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    const p2l_arg *dims = p2l_arg_of(ctx, "dims");
    if (!in_v || dims->kind != P2L_ARG_INTS || dims->count != in_v->rank)
        return p2l_unsupported(ctx, "permute needs a tensor and one dim per axis");
    int rank = in_v->rank;
    int8_t inverse[P2L_MAX_DIMS];
    bool seen[P2L_MAX_DIMS] = {0};
    for (int j = 0; j < rank; j++) {
        int d = p2l_norm_dim(dims->ints[j], rank);
        if (d < 0 || seen[d]) return p2l_unsupported(ctx, "permute dims entry %lld is invalid", (long long)dims->ints[j]);
        seen[d] = true;
        inverse[d] = (int8_t)j;
    }
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_layout out_l = p2l_identity_layout();
    for (int i = 0; i < rank; i++) out_l.perm[i] = inverse[l.perm[i]];
    return p2l_alias_output(ctx, 0, x, &out_l);
}

/* ------------------------------------------------------------ no-op copies and casts */

/* clone, alias, lift_fresh_copy, dropout (eval): the output is the input. */
p2l_status p2l_lower_identity(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *train = p2l_node_arg(node, "train");
    if (train && train->kind == P2L_ARG_BOOL && train->i)
        return p2l_unsupported(ctx, "dropout with train=True is random; export the model in eval() mode");
    for (int a = 0; a < node->nargs; a++) {
        if (node->args[a].kind != P2L_ARG_TENSOR) continue;
        p2l_layout l;
        int x = p2l_value_input_any(ctx, (int)node->args[a].i, &l);
        return x < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, x, &l);
    }
    return p2l_unsupported(ctx, "no tensor argument to pass through");
}

/* _assert_tensor_metadata checks at trace time what the archive already records. */
p2l_status p2l_lower_nothing(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return P2L_OK; }

/* _to_copy: only the dtype matters here (device, layout and memory format describe storage, not
 * values). A CAST when the IR dtype changes; int64 -> int32 style copies vanish (both are int32
 * inside). CAST is element-wise, so it runs in the input's layout. */
p2l_status p2l_lower_to_copy(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!out_v) return P2L_ERROR_UNSUPPORTED;
    if (out_v->dtype == (p2l_dtype)-1) {
        const p2l_arg *d = p2l_arg_of(ctx, "dtype");
        return p2l_unsupported(ctx, "_to_copy to ScalarType %lld, which has no TFLite equivalent",
                               (long long)(d->kind == P2L_ARG_SCALAR_TYPE ? d->i : out_v->torch_dtype));
    }
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype have = ctx->g->tensors.items[x].dtype, want = p2l_ir_dtype(out_v->dtype);
    if (have == want) return p2l_alias_output(ctx, 0, x, &l);
    int y = p2l_output(ctx, 0, &l);
    int n = p2l_emit1(ctx, P2L_OP_CAST, x, y);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "in_data_type", have);
    p2l_set_option(ctx->g, n, "out_data_type", want);
    return P2L_OK;
}

/* ------------------------------------------------------------ data movement */

enum { EXPAND_BY_CONCAT = 4 }; /* most copies along one axis written as CONCATENATION */

/* expand: BROADCAST_TO the output's shape (torch.export resolved the -1 entries to the input's
 * sizes). At equal rank it broadcasts in the input's layout; a rank increase aligns trailing axes,
 * which only the logical layout keeps. A run-time tensor repeated a few times along its size-1
 * axes (grouped-query attention repeats each key/value head) becomes CONCATENATION of copies
 * instead: exact, and LiteRT's XNNPACK path takes it (not BROADCAST_TO). */
p2l_status p2l_lower_expand(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    p2l_layout l = p2l_identity_layout();
    int x = in_v->rank == out_v->rank ? p2l_input_any(ctx, "self", &l) : p2l_input(ctx, "self", NULL);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (p2l_same_sizes(in_v, out_v)) return p2l_alias_output(ctx, 0, x, &l);
    if (!p2l_dims_static(out_v->dims, out_v->rank)) {
        int ins[2] = {x, p2l_dynamic_shape(ctx, out_v, &l)};
        return p2l_emitted(p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, (int[]){p2l_output(ctx, 0, &l)}));
    }
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < out_v->rank; i++) shape[i] = (int32_t)out_v->dims[l.perm[i]];
    const p2l_ir_tensor *xt = &ctx->g->tensors.items[x];
    bool by_concat = in_v->rank == out_v->rank && !p2l_is_const(ctx->g, x);
    for (int i = 0; i < out_v->rank && by_concat; i++)
        by_concat = xt->dims[i] == shape[i] || (xt->dims[i] == 1 && shape[i] <= EXPAND_BY_CONCAT);
    if (by_concat) {
        for (int i = 0; i < out_v->rank && x >= 0; i++) {
            if (ctx->g->tensors.items[x].dims[i] == shape[i]) continue;
            int copies[EXPAND_BY_CONCAT];
            bool last = true; /* the last axis to repeat writes the output */
            for (int k = 0; k < shape[i]; k++) copies[k] = x;
            for (int j = i + 1; j < out_v->rank; j++) last = last && ctx->g->tensors.items[x].dims[j] == shape[j];
            int64_t dims[P2L_MAX_DIMS];
            memcpy(dims, ctx->g->tensors.items[x].dims, sizeof(int64_t) * (size_t)out_v->rank);
            dims[i] = shape[i];
            int y = last ? p2l_output(ctx, 0, &l) : p2l_temp(ctx, "repeat", ctx->g->tensors.items[x].dtype, out_v->rank, dims);
            int op = p2l_emit(ctx, P2L_OP_CONCATENATION, shape[i], copies, 1, &y);
            if (op < 0) return P2L_ERROR_UNSUPPORTED;
            p2l_set_option(ctx->g, op, "axis", i);
            x = y;
        }
        return x < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK;
    }
    int ins[2] = {x, p2l_const_i32(ctx, out_v->rank, shape)};
    int y = p2l_output(ctx, 0, &l);
    return p2l_emitted(p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &y));
}

enum { CONCAT_GROUP = 64 }; /* inputs per CONCATENATION: longer lists become a tree of them */

/* Concatenates tensors ins[0..n) along physical axis `axis` into y, in groups of CONCAT_GROUP
 * (an unrolled RNN concatenates one tensor per time step: hundreds). */
static int concat_tree(p2l_lower_ctx *ctx, int *ins, int n, int axis, int y) {
    while (n > CONCAT_GROUP) {
        int groups = 0;
        for (int k = 0; k < n; k += CONCAT_GROUP, groups++) {
            const int count = n - k < CONCAT_GROUP ? n - k : CONCAT_GROUP;
            const p2l_ir_tensor *first = &ctx->g->tensors.items[ins[k]];
            int64_t dims[P2L_MAX_DIMS];
            memcpy(dims, first->dims, sizeof(int64_t) * (size_t)first->rank);
            dims[axis] = 0;
            for (int j = 0; j < count; j++) {
                const int64_t size = ctx->g->tensors.items[ins[k + j]].dims[axis];
                dims[axis] = size < 0 || dims[axis] < 0 ? -1 : dims[axis] + size;
            }
            int part = count == 1 ? ins[k] : p2l_temp(ctx, "concat", first->dtype, first->rank, dims);
            int op = count == 1 ? 0 : p2l_emit(ctx, P2L_OP_CONCATENATION, count, ins + k, 1, &part);
            if (part < 0 || op < 0) return -1;
            if (count > 1) p2l_set_option(ctx->g, op, "axis", axis);
            ins[groups] = part;
        }
        n = groups;
    }
    int op = p2l_emit(ctx, P2L_OP_CONCATENATION, n, ins, 1, &y);
    if (op >= 0) p2l_set_option(ctx->g, op, "axis", axis);
    return op;
}

/* cat: CONCATENATION along the physical position of `dim` in the layout of the first non-constant
 * input (constants are laid out to match at conversion time). torch accepts legacy empty 1-D
 * inputs among N-D ones: those contribute nothing and are skipped. */
p2l_status p2l_lower_cat(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *list = p2l_arg_of(ctx, "tensors");
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (list->kind != P2L_ARG_TENSORS || !out_v) return p2l_unsupported(ctx, "cat without a tensor list");
    int rank = out_v->rank;
    int dim = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (dim < 0) return p2l_unsupported(ctx, "cat dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
    int *ids = p2l_arena_alloc(ctx->g->arena, sizeof(int) * (size_t)(list->count + 1));
    int *ins = p2l_arena_alloc(ctx->g->arena, sizeof(int) * (size_t)(list->count + 1));
    if (!ids || !ins) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int n = 0;
    for (int k = 0; k < list->count; k++) {
        int id = (int)list->ints[k];
        if (id < 0) return p2l_unsupported(ctx, "cat with a None entry");
        const p2l_value *v = &ctx->ep->values.items[id];
        if (v->rank == 1 && v->dims[0] == 0 && rank != 1) continue;
        if (v->rank != rank) return p2l_unsupported(ctx, "cat of tensors of rank %d and %d", v->rank, rank);
        ids[n++] = id;
    }
    if (n == 0) return p2l_unsupported(ctx, "cat of empty tensors only");
    p2l_layout l = p2l_identity_layout();
    for (int k = 0; k < n; k++) {
        if (p2l_value_is_constant(&ctx->ep->values.items[ids[k]])) continue;
        if (p2l_value_input_any(ctx, ids[k], &l) < 0) return P2L_ERROR_UNSUPPORTED;
        break;
    }
    for (int k = 0; k < n; k++)
        if ((ins[k] = p2l_value_input(ctx, ids[k], &l)) < 0) return P2L_ERROR_UNSUPPORTED;
    if (n == 1) return p2l_alias_output(ctx, 0, ins[0], &l);
    int y = p2l_output(ctx, 0, &l);
    if (y < 0) return P2L_ERROR_UNSUPPORTED;
    return p2l_emitted(concat_tree(ctx, ins, n, p2l_physical_axis(&l, rank, dim), y));
}

/* Slices x (held in layout l) along logical axis `axis` from `start` to `end` (torch conventions:
 * negative counts from the end, out-of-range clamps, INT64_MAX = to the end) with `step` into
 * `out` (a tensor in the same layout). With a dynamic size, TFLite resolves negative and
 * overlarge bounds itself and an open end becomes an end_mask bit. */
static int slice_axis(p2l_lower_ctx *ctx, int x, const p2l_layout *l, int axis, int64_t start, int64_t end,
                      int64_t step, int out) {
    if (x < 0) return -1;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int p = p2l_physical_axis(l, xt.rank, axis);
    int32_t begin[P2L_MAX_DIMS], stop[P2L_MAX_DIMS], strides[P2L_MAX_DIMS];
    /* full_slice masks every dynamic axis; this one ends where the slice says */
    int end_mask = full_slice(&xt, begin, stop, strides) & ~(1 << p);
    int64_t size = xt.dims[p];
    if (size >= 0) {
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = start < 0 ? 0 : start > size ? size : start;
        end = end < start ? start : end > size ? size : end;
    } else if (end == INT64_MAX) {
        end_mask |= 1 << p;
        end = 0;
    }
    begin[p] = clamp_i32(start);
    stop[p] = clamp_i32(end);
    if (!p2l_narrow_i32(ctx, step, "the slice step", &strides[p])) return -1;
    return emit_strided_slice(ctx, x, begin, stop, strides, end_mask, out);
}

/* A 1-D int32 tensor of `rank` values: constants, except entry p, which is tensor `at_p` (1 element). */
static int with_entry(p2l_lower_ctx *ctx, int rank, const int32_t *values, int p, int at_p) {
    int pieces[3], n = 0;
    if (p > 0) pieces[n++] = p2l_const_i32(ctx, p, values);
    pieces[n++] = at_p;
    if (p + 1 < rank) pieces[n++] = p2l_const_i32(ctx, rank - p - 1, values + p + 1);
    return p2l_concat_sizes(ctx, n, pieces, rank);
}

/* A slice whose start or end is a symbolic size (x[:, :n], x[:, s - 1:]): STRIDED_SLICE with that
 * bound computed at run time. TFLite resolves a negative or overlarge bound as torch does (from the
 * end, clamped), so the run-time value needs no adjusting. */
static p2l_status symbolic_slice(p2l_lower_ctx *ctx, int dim, int64_t step) {
    const p2l_arg *start_a = p2l_arg_of(ctx, "start"), *end_a = p2l_arg_of(ctx, "end");
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int p = p2l_physical_axis(&l, xt.rank, dim);
    int32_t begin[P2L_MAX_DIMS], stop[P2L_MAX_DIMS], strides[P2L_MAX_DIMS];
    int end_mask = full_slice(&xt, begin, stop, strides) & ~(1 << p);
    if (!p2l_narrow_i32(ctx, step, "the slice step", &strides[p])) return P2L_ERROR_UNSUPPORTED;
    int begin_t, end_t;
    if (start_a->symbolic) {
        begin_t = with_entry(ctx, xt.rank, begin, p, p2l_sym_tensor(ctx, start_a->sym));
    } else {
        begin[p] = clamp_i32(start_a->kind == P2L_ARG_INT ? start_a->i : 0);
        begin_t = p2l_const_i32(ctx, xt.rank, begin);
    }
    if (end_a->symbolic) {
        end_t = with_entry(ctx, xt.rank, stop, p, p2l_sym_tensor(ctx, end_a->sym));
    } else {
        int64_t end = end_a->kind == P2L_ARG_INT ? end_a->i : INT64_MAX;
        if (end == INT64_MAX) end_mask |= 1 << p;
        stop[p] = end == INT64_MAX ? 0 : clamp_i32(end);
        end_t = p2l_const_i32(ctx, xt.rank, stop);
    }
    int ins[4] = {x, begin_t, end_t, p2l_const_i32(ctx, xt.rank, strides)};
    if (begin_t < 0 || end_t < 0) return P2L_ERROR_UNSUPPORTED;
    int out = p2l_output(ctx, 0, &l);
    int n = p2l_emit(ctx, P2L_OP_STRIDED_SLICE, 4, ins, 1, &out);
    if (n >= 0 && end_mask) p2l_set_option(ctx->g, n, "end_mask", end_mask);
    return p2l_emitted(n);
}

/* slice.Tensor: STRIDED_SLICE on the axis's physical position; a slice covering the whole axis
 * is the input itself. */
p2l_status p2l_lower_slice(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    int dim = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, in_v->rank);
    if (dim < 0 || in_v->rank == 0) return p2l_unsupported(ctx, "slice dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
    if (p2l_arg_of(ctx, "start")->symbolic || p2l_arg_of(ctx, "end")->symbolic) {
        int64_t step;
        if (!optional_int_arg(ctx, "step", 1, &step)) return P2L_ERROR_UNSUPPORTED;
        if (step < 1) return p2l_unsupported(ctx, "slice step %lld (torch requires a positive step)", (long long)step);
        return symbolic_slice(ctx, dim, step);
    }
    int64_t start, end, step;
    if (!optional_int_arg(ctx, "start", 0, &start) || !optional_int_arg(ctx, "end", INT64_MAX, &end) ||
        !optional_int_arg(ctx, "step", 1, &step))
        return P2L_ERROR_UNSUPPORTED;
    if (step < 1) return p2l_unsupported(ctx, "slice step %lld (torch requires a positive step)", (long long)step);
    if (out_v->dims[dim] == 0) return p2l_unsupported(ctx, "a slice with no elements (TFLite has no empty tensors)");
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (in_v->dims[dim] >= 0 && out_v->dims[dim] == in_v->dims[dim] && step == 1)
        return p2l_alias_output(ctx, 0, x, &l);
    return p2l_emitted(slice_axis(ctx, x, &l, dim, start, end, step, p2l_output(ctx, 0, &l)));
}

/* select.int: a size-1 slice at `index` (negative counts from the end) in the input's layout,
 * then a reshape dropping the axis (physical, so no TRANSPOSE). */
p2l_status p2l_lower_select(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    if (!in_v || in_v->rank == 0) return p2l_unsupported(ctx, "select on a 0-d tensor");
    int rank = in_v->rank;
    int dim = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (dim < 0) return p2l_unsupported(ctx, "select dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
    int64_t index;
    if (!optional_int_arg(ctx, "index", 0, &index)) return P2L_ERROR_UNSUPPORTED;
    int64_t size = in_v->dims[dim];
    if (size >= 0 && (index < -size || index >= size))
        return p2l_unsupported(ctx, "select index %lld is out of range for size %lld", (long long)index, (long long)size);
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int64_t logical[P2L_MAX_DIMS], physical[P2L_MAX_DIMS];
    memcpy(logical, in_v->dims, sizeof logical);
    logical[dim] = 1;
    for (int i = 0; i < rank; i++) physical[i] = logical[l.perm[i]];
    int one = p2l_temp(ctx, "select", ctx->g->tensors.items[x].dtype, rank, physical);
    int64_t end = index == -1 ? INT64_MAX : index + 1;
    if (slice_axis(ctx, x, &l, dim, index, end, 1, one) < 0) return P2L_ERROR_UNSUPPORTED;
    return reshape_to_output(ctx, one, &l, logical, rank, -1);
}

/* constant_pad_nd: `pad` lists (before, after) pairs from the last axis backwards. Positive
 * amounts become PAD (value 0) or PADV2 (any other value) on the physical axes; negative amounts
 * crop, as a STRIDED_SLICE after the padding. */
p2l_status p2l_lower_constant_pad_nd(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    const p2l_arg *pad = p2l_arg_of(ctx, "pad");
    if (!in_v || pad->kind != P2L_ARG_INTS) return p2l_unsupported(ctx, "constant_pad_nd without a pad list");
    int rank = in_v->rank;
    if (pad->count % 2 || pad->count > 2 * rank)
        return p2l_unsupported(ctx, "pad list of length %d for a rank-%d tensor", pad->count, rank);
    if (pad->symbolic) return p2l_unsupported(ctx, "symbolic pad amounts");
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int32_t grow[P2L_MAX_DIMS][2] = {{0}};
    int64_t crop[P2L_MAX_DIMS][2] = {{0}}, padded[P2L_MAX_DIMS];
    bool any_grow = false, any_crop = false;
    for (int k = 0; k < pad->count; k++) {
        int axis = rank - 1 - k / 2, side = k % 2;
        int p = p2l_physical_axis(&l, rank, axis);
        int64_t amount = pad->ints[k];
        if (amount > 0 && !p2l_narrow_i32(ctx, amount, "the pad amount", &grow[p][side])) return P2L_ERROR_UNSUPPORTED;
        if (amount > 0) any_grow = true;
        if (amount < 0) crop[p][side] = -amount, any_crop = true;
    }
    for (int i = 0; i < rank; i++) {
        padded[i] = xt.dims[i] < 0 ? -1 : xt.dims[i] + grow[i][0] + grow[i][1];
        if (any_crop && (crop[i][0] || crop[i][1]) && xt.dims[i] < 0)
            return p2l_unsupported(ctx, "negative padding (cropping) of a dynamic axis");
    }
    if (!any_grow && !any_crop) return p2l_alias_output(ctx, 0, x, &l);
    int y = x;
    if (any_grow) {
        double value = p2l_arg_number(ctx, "value", 0);
        int64_t pad_dims[2] = {rank, 2};
        int paddings = p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "paddings"), 2,
                                         pad_dims, &grow[0][0]);
        y = any_crop ? p2l_temp(ctx, "pad", xt.dtype, rank, padded) : p2l_output(ctx, 0, &l);
        int ins[3] = {x, paddings, value == 0 ? -1 : p2l_const_scalar(ctx, xt.dtype, value)};
        if (value != 0 && ins[2] < 0) return P2L_ERROR_UNSUPPORTED;
        if (p2l_emit(ctx, value == 0 ? P2L_OP_PAD : P2L_OP_PADV2, value == 0 ? 2 : 3, ins, 1, &y) < 0)
            return P2L_ERROR_UNSUPPORTED;
    }
    if (!any_crop) return P2L_OK;
    int32_t begin[P2L_MAX_DIMS], end[P2L_MAX_DIMS], strides[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        begin[i] = (int32_t)crop[i][0];
        end[i] = (int32_t)(padded[i] - crop[i][1]);
        strides[i] = 1;
        if (end[i] <= begin[i]) return p2l_unsupported(ctx, "negative padding removes every element of an axis");
    }
    return p2l_emitted(emit_strided_slice(ctx, y, begin, end, strides, 0, p2l_output(ctx, 0, &l)));
}

/* ------------------------------------------------------------ reversing, tiling, splitting */

/* flip(self, dims) -> REVERSE_V2 over the dims' physical axes, in the input's layout. */
p2l_status p2l_lower_flip(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    const p2l_arg *dims = p2l_arg_of(ctx, "dims");
    if (!self_v || dims->kind != P2L_ARG_INTS) return p2l_unsupported(ctx, "flip needs dims");
    int rank = self_v->rank;
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    bool flipped[P2L_MAX_DIMS] = {0};
    for (int k = 0; k < dims->count; k++) {
        int d = p2l_norm_dim(dims->ints[k], rank);
        if (d < 0) return p2l_unsupported(ctx, "flip dim %lld is out of range", (long long)dims->ints[k]);
        if (rank > 0 && self_v->dims[d] != 1) flipped[p2l_physical_axis(&l, rank, d)] = true;
    }
    /* one REVERSE_V2 per axis: LiteRT's kernel reverses a single axis */
    int y = x;
    for (int p = 0; p < rank; p++) {
        if (!flipped[p]) continue;
        int32_t axis = p;
        int ins[2] = {y, p2l_const_i32(ctx, 1, &axis)};
        int out = p2l_temp_like(ctx, "reverse", y);
        if (p2l_emit(ctx, P2L_OP_REVERSE_V2, 2, ins, 1, &out) < 0) return P2L_ERROR_UNSUPPORTED;
        y = out;
    }
    return p2l_alias_output(ctx, 0, y, &l);
}

/* repeat(self, repeats) -> TILE; extra leading repeats add leading axes first (logical layout). */
p2l_status p2l_lower_repeat(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    const p2l_arg *reps = p2l_arg_of(ctx, "repeats");
    if (!self_v || reps->kind != P2L_ARG_INTS || reps->count < self_v->rank)
        return p2l_unsupported(ctx, "repeat needs at least one repeat count per dim");
    if (reps->symbolic) return p2l_unsupported(ctx, "symbolic repeat counts");
    int rank = reps->count;
    bool ones = true;
    for (int i = 0; i < rank; i++) {
        if (reps->ints[i] < 1) return p2l_unsupported(ctx, "repeat count %lld (TFLite has no empty tensors)", (long long)reps->ints[i]);
        ones = ones && reps->ints[i] == 1;
    }
    p2l_layout l = p2l_identity_layout();
    int x = rank == self_v->rank ? p2l_input_any(ctx, "self", &l) : p2l_align_rank(ctx, p2l_input(ctx, "self", NULL), rank);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (ones) return p2l_alias_output(ctx, 0, x, &l); /* a rank change at most */
    int32_t mult[P2L_MAX_DIMS];
    int64_t dims[P2L_MAX_DIMS];
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    for (int i = 0; i < rank; i++) {
        if (!p2l_narrow_i32(ctx, reps->ints[l.perm[i]], "the repeat count", &mult[i])) return P2L_ERROR_UNSUPPORTED;
        dims[i] = xt.dims[i] < 0 ? -1 : xt.dims[i] * mult[i]; /* |dim * int32| < 2^62; p2l_temp bounds it */
    }
    int ins[2] = {x, p2l_const_i32(ctx, rank, mult)};
    int y = p2l_temp(ctx, "tile", xt.dtype, rank, dims);
    if (p2l_emit(ctx, P2L_OP_TILE, 2, ins, 1, &y) < 0) return P2L_ERROR_UNSUPPORTED;
    return p2l_alias_output(ctx, 0, y, &l);
}

/* split_with_sizes(self, split_sizes, dim) -> SPLIT_V along the dim's physical axis. */
p2l_status p2l_lower_split_with_sizes(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    const p2l_arg *sizes = p2l_arg_of(ctx, "split_sizes");
    if (!self_v || sizes->kind != P2L_ARG_INTS || self_v->rank == 0) return p2l_unsupported(ctx, "split needs sizes");
    if (sizes->symbolic) return p2l_unsupported(ctx, "symbolic split sizes");
    int rank = self_v->rank;
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (d < 0) return p2l_unsupported(ctx, "split dim out of range");
    int count = sizes->count;
    if (count > 64 || count != node->noutputs) return p2l_unsupported(ctx, "a split into %d pieces", count);
    for (int i = 0; i < count; i++)
        if (sizes->ints[i] < 1) return p2l_unsupported(ctx, "a split piece of size %lld (TFLite has no empty tensors)", (long long)sizes->ints[i]);
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (count == 1) return p2l_alias_output(ctx, 0, x, &l);
    int p = p2l_physical_axis(&l, rank, d);
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int32_t split[64];
    int outs[64];
    for (int i = 0; i < count; i++) {
        split[i] = (int32_t)sizes->ints[i];
        if (node->outputs[i] >= 0) {
            outs[i] = p2l_output(ctx, i, &l);
        } else {
            int64_t dims[P2L_MAX_DIMS];
            memcpy(dims, xt.dims, sizeof dims);
            dims[p] = sizes->ints[i];
            outs[i] = p2l_temp(ctx, "piece", xt.dtype, rank, dims);
        }
    }
    /* equal pieces: SPLIT (axis first), which LiteRT's XNNPACK path takes; SPLIT_V otherwise */
    bool equal = true;
    for (int i = 1; i < count; i++) equal = equal && split[i] == split[0];
    int n;
    if (equal) {
        int ins[2] = {p2l_const_scalar(ctx, P2L_INT32, p), x};
        n = p2l_emit(ctx, P2L_OP_SPLIT, 2, ins, count, outs);
    } else {
        int ins[3] = {x, p2l_const_i32(ctx, count, split), p2l_const_scalar(ctx, P2L_INT32, p)};
        n = p2l_emit(ctx, P2L_OP_SPLIT_V, 3, ins, count, outs);
    }
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "num_splits", count);
    return P2L_OK;
}
