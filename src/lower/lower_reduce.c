/* Reductions over a list of axes: mean, sum, amax, amin.
 *
 * They run in the input's current layout (no TRANSPOSE): the logical axes are mapped to physical
 * ones for the axes constant. With keepdim the output keeps the input's layout; without it the
 * reduced axes disappear and the layout of the remaining ones is renumbered. */
#include <string.h>

#include "lower/lower.h"

/* The layout left when the logical axes marked in `removed` are dropped from a rank-`rank` value
 * in layout l: the remaining physical axes keep their order, and each logical index shifts down
 * by the number of removed axes before it. */
static p2l_layout layout_without_axes(const p2l_layout *l, int rank, const bool *removed) {
    int shift[P2L_MAX_RANK], dropped = 0;
    for (int i = 0; i < rank; i++) {
        shift[i] = dropped;
        dropped += removed[i];
    }
    p2l_layout out = p2l_identity_layout();
    int n = 0;
    for (int i = 0; i < rank; i++)
        if (!removed[l->perm[i]]) out.perm[n++] = (int8_t)(l->perm[i] - shift[l->perm[i]]);
    return out;
}

/* Marks the axes a reduction's `dim` argument names (an int, a list, or None / [] for all). */
static bool reduced_axes(p2l_lower_ctx *ctx, int rank, bool *removed) {
    const p2l_arg *dim = p2l_arg_of(ctx, "dim");
    memset(removed, 0, sizeof(bool) * P2L_MAX_RANK);
    int count = dim->kind == P2L_ARG_INTS ? dim->count : dim->kind == P2L_ARG_INT ? 1 : 0;
    for (int i = 0; i < rank && count == 0; i++) removed[i] = true;
    for (int k = 0; k < count; k++) {
        int64_t d = dim->kind == P2L_ARG_INTS ? dim->ints[k] : dim->i;
        int axis = p2l_norm_dim(d, rank);
        if (axis < 0 || rank == 0) {
            p2l_unsupported(ctx, "reduction dim %lld is out of range for rank %d", (long long)d, rank);
            return false;
        }
        removed[axis] = true;
    }
    return true;
}

/* op over the axes named by `dim` (keepdim as given). The input is first cast to the output's IR
 * dtype when they differ: mean(dtype=...), sum of bools (int64 in torch). */
static p2l_status lower_reduction(p2l_lower_ctx *ctx, p2l_op op) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    if (out_v->dtype == (p2l_dtype)-1) return p2l_unsupported(ctx, "a reduction to a dtype TFLite does not have");
    int rank = in_v->rank;
    bool removed[P2L_MAX_RANK];
    if (!reduced_axes(ctx, rank, removed)) return P2L_ERROR_UNSUPPORTED;
    bool keepdim = p2l_arg_of(ctx, "keepdim")->i != 0;
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype want = p2l_ir_dtype(out_v->dtype);
    const p2l_tensor xt = ctx->g->tensors.items[x];
    if (xt.dtype != want) {
        int cast = p2l_temp(ctx, "cast", want, xt.rank, xt.dims);
        if (p2l_emit1(ctx, P2L_OP_CAST, x, cast) < 0) return P2L_ERROR_UNSUPPORTED;
        x = cast;
    }
    if (rank == 0) return p2l_alias_output(ctx, 0, x, &l);
    int32_t axes[P2L_MAX_RANK];
    int n = 0;
    for (int i = 0; i < rank; i++)
        if (removed[l.perm[i]]) axes[n++] = i;
    p2l_layout out_l = keepdim ? l : layout_without_axes(&l, rank, removed);
    int ins[2] = {x, p2l_const_i32(ctx, n, axes)};
    int y = p2l_output(ctx, 0, &out_l);
    int node = p2l_emit(ctx, op, 2, ins, 1, &y);
    if (node < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, node, "keep_dims", keepdim);
    return P2L_OK;
}

/* mean.dim(self, dim, keepdim, dtype) -> MEAN */
p2l_status p2l_lower_mean(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    if (in_v && in_v->dtype != P2L_FLOAT32 && in_v->dtype != P2L_FLOAT64 && p2l_arg_of(ctx, "dtype")->kind == P2L_ARG_NONE)
        return p2l_unsupported(ctx, "mean of a %s tensor", p2l_dtype_name(in_v->dtype));
    return lower_reduction(ctx, P2L_OP_MEAN);
}

/* sum.dim_IntList(self, dim, keepdim, dtype) -> SUM */
p2l_status p2l_lower_sum(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return lower_reduction(ctx, P2L_OP_SUM); }

/* amax(self, dim, keepdim) -> REDUCE_MAX; amin -> REDUCE_MIN */
p2l_status p2l_lower_amax(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return lower_reduction(ctx, P2L_OP_REDUCE_MAX); }
p2l_status p2l_lower_amin(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return lower_reduction(ctx, P2L_OP_REDUCE_MIN); }
