/* Sorting: sort and topk, both one TOPK_V2 along the dim (the k smallest as the k largest of
 * the negated input). */
#include <string.h>

#include "lower/lower.h"

/* TOPK_V2 along logical dim `d` of "self" (moved last physically when it is not), k largest or,
 * via NEG, k smallest. Outputs 0 (values) and 1 (indices, int32 inside). */
static p2l_status top_k(p2l_lower_ctx *ctx, int d, int64_t k, bool largest) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    int rank = self_v->rank;
    p2l_layout l;
    if (p2l_input_any(ctx, "self", &l) < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_layout want = p2l_identity_layout();
    int n = 0;
    for (int i = 0; i < rank; i++)
        if (l.perm[i] != d) want.perm[n++] = l.perm[i];
    want.perm[n] = (int8_t)d;
    int x = p2l_input(ctx, "self", &want);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype dtype = ctx->g->tensors.items[x].dtype;
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32)
        return p2l_unsupported(ctx, "sort/topk of a %s tensor (float32 and integers are supported)", p2l_dtype_name(dtype));
    if (!largest) x = p2l_unary(ctx, P2L_OP_NEG, x);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int64_t dims[P2L_MAX_DIMS];
    memcpy(dims, xt.dims, sizeof dims);
    dims[rank - 1] = k;
    int outs[2] = {p2l_temp(ctx, "values", dtype, rank, dims), p2l_temp(ctx, "indices", P2L_INT32, rank, dims)};
    int ins[2] = {x, p2l_const_scalar(ctx, P2L_INT32, (double)k)};
    if (p2l_emit(ctx, P2L_OP_TOPK_V2, 2, ins, 2, outs) < 0) return P2L_ERROR_UNSUPPORTED;
    int values = largest ? outs[0] : p2l_unary(ctx, P2L_OP_NEG, outs[0]);
    if (values < 0) return P2L_ERROR_UNSUPPORTED;
    P2L_TRY(p2l_alias_output(ctx, 0, values, &want));
    return p2l_alias_output(ctx, 1, outs[1], &want);
}

/* sort(self, dim, descending) = topk with k = the dim's size. Ties: TFLite's TOPK_V2 puts the
 * lower index first, as torch's stable sort does. */
p2l_status p2l_lower_sort(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    if (!self_v || self_v->rank == 0) return p2l_unsupported(ctx, "sort of a 0-d tensor");
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->kind == P2L_ARG_INT ? p2l_arg_of(ctx, "dim")->i : -1, self_v->rank);
    if (d < 0 || self_v->dims[d] < 0) return p2l_unsupported(ctx, "sort along a dynamic or invalid dim");
    return top_k(ctx, d, self_v->dims[d], p2l_arg_of(ctx, "descending")->i != 0);
}

/* topk(self, k, dim, largest, sorted): TOPK_V2 (always sorted, which torch allows for sorted=False). */
p2l_status p2l_lower_topk(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    if (!self_v || self_v->rank == 0) return p2l_unsupported(ctx, "topk of a 0-d tensor");
    const p2l_arg *k = p2l_arg_of(ctx, "k");
    if (k->symbolic || k->kind != P2L_ARG_INT) return p2l_unsupported(ctx, "a symbolic k");
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->kind == P2L_ARG_INT ? p2l_arg_of(ctx, "dim")->i : -1, self_v->rank);
    if (d < 0) return p2l_unsupported(ctx, "topk dim out of range");
    if (k->i < 1) return p2l_unsupported(ctx, "topk with k=%lld (TFLite has no empty tensors)", (long long)k->i);
    const p2l_arg *largest = p2l_arg_of(ctx, "largest");
    return top_k(ctx, d, k->i, largest->kind == P2L_ARG_NONE || largest->i != 0);
}
