/* Reductions over a list of axes: mean, sum, amax, amin, prod, any, var; arg reductions (argmax,
 * argmin, max.dim, min.dim) and cumsum.
 *
 * They run in the input's current layout (no TRANSPOSE): the logical axes are mapped to physical
 * ones for the axes constant. With keepdim the output keeps the input's layout; without it the
 * reduced axes disappear and the layout of the remaining ones is renumbered. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

/* Marks the axes a reduction's `dim` argument names (an int, a list, or None / [] for all). */
static bool reduced_axes(p2l_lower_ctx *ctx, int rank, bool *removed) {
    const p2l_arg *dim = p2l_arg_of(ctx, "dim");
    memset(removed, 0, sizeof(bool) * P2L_MAX_DIMS);
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
    bool removed[P2L_MAX_DIMS];
    if (!reduced_axes(ctx, rank, removed)) return P2L_ERROR_UNSUPPORTED;
    bool keepdim = p2l_arg_of(ctx, "keepdim")->i != 0;
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype want = p2l_ir_dtype(out_v->dtype);
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    if (xt.dtype != want) {
        int cast = p2l_temp(ctx, "cast", want, xt.rank, xt.dims);
        if (p2l_emit1(ctx, P2L_OP_CAST, x, cast) < 0) return P2L_ERROR_UNSUPPORTED;
        x = cast;
    }
    if (rank == 0) return p2l_alias_output(ctx, 0, x, &l);
    int32_t axes[P2L_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < rank; i++)
        if (removed[l.perm[i]]) axes[n++] = i;
    p2l_layout out_l = keepdim ? l : p2l_layout_without_axes(&l, rank, removed);
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

/* ------------------------------------------------------------ more reductions */

/* prod(self, dtype) / prod.dim_int(self, dim, keepdim, dtype) -> REDUCE_PROD */
p2l_status p2l_lower_prod(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_reduction(ctx, P2L_OP_REDUCE_PROD);
}

/* any / any.dim / any.dims -> REDUCE_ANY on bool (other dtypes are cast: CAST to bool is "!= 0"). */
p2l_status p2l_lower_any(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return lower_reduction(ctx, P2L_OP_REDUCE_ANY); }

/* var.correction(self, dim, correction, keepdim) / var.dim(self, dim, unbiased, keepdim) (and
 * var_mean.correction, whose second output is the mean):
 * MEAN((x - MEAN(x, keep))^2) * n / (n - correction), n the number of reduced elements. */
p2l_status p2l_lower_var(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    if (in_v->dtype != P2L_FLOAT32 && in_v->dtype != P2L_FLOAT64)
        return p2l_unsupported(ctx, "var of a %s tensor", p2l_dtype_name(in_v->dtype));
    int rank = in_v->rank;
    bool removed[P2L_MAX_DIMS];
    if (!reduced_axes(ctx, rank, removed)) return P2L_ERROR_UNSUPPORTED;
    const p2l_arg *dim = p2l_arg_of(ctx, "dim");
    if (dim->kind == P2L_ARG_INTS && dim->count == 0)
        for (int i = 0; i < rank; i++) removed[i] = true;
    double correction = 1;
    const p2l_arg *unbiased = p2l_node_arg(node, "unbiased");
    if (unbiased) correction = unbiased->i ? 1 : 0;
    else correction = p2l_arg_number(ctx, "correction", 1);
    bool keepdim = p2l_arg_of(ctx, "keepdim")->i != 0;
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (rank == 0) { /* one element: (x - x)^2 * 1 / (1 - correction) */
        removed[0] = false;
    }
    unsigned axes = 0;
    double n = 1;
    for (int i = 0; i < rank; i++)
        if (removed[l.perm[i]]) {
            axes |= 1u << i;
            if (in_v->dims[l.perm[i]] < 0) return p2l_unsupported(ctx, "var over a dynamic axis");
            n *= (double)in_v->dims[l.perm[i]];
        }
    int d = rank ? p2l_binary(ctx, P2L_OP_SUB, x, p2l_reduce(ctx, P2L_OP_MEAN, x, axes, true), P2L_FLOAT32)
                 : p2l_binary(ctx, P2L_OP_SUB, x, x, P2L_FLOAT32);
    int sq = p2l_binary(ctx, P2L_OP_MUL, d, d, P2L_FLOAT32);
    int m = rank ? p2l_reduce(ctx, P2L_OP_MEAN, sq, axes, keepdim) : sq;
    double denom = n - correction;
    float factor = denom > 0 ? (float)(n / denom) : denom == 0 ? (float)INFINITY : 0.0f / 0.0f;
    int y = factor == 1.0f ? m : p2l_binary(ctx, P2L_OP_MUL, m, p2l_const_scalar(ctx, P2L_FLOAT32, factor), P2L_FLOAT32);
    if (y < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_layout out_l = keepdim || rank == 0 ? l : p2l_layout_without_axes(&l, rank, removed);
    P2L_TRY(p2l_alias_output(ctx, 0, y, &out_l));
    if (!p2l_output_value(ctx, 1)) return P2L_OK; /* var_mean: the mean too */
    int mean = rank ? p2l_reduce(ctx, P2L_OP_MEAN, x, axes, keepdim) : x;
    return mean < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 1, mean, &out_l);
}

/* linalg_vector_norm(self, ord, dim, keepdim, dtype): ord 2 SQRT(SUM(x*x)), 1 SUM(ABS(x)), inf
 * REDUCE_MAX(ABS(x)), -inf REDUCE_MIN(ABS(x)), other p POW(SUM(POW(ABS(x), p)), 1/p). Weight norm
 * computes its conv weights with it. */
p2l_status p2l_lower_vector_norm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    if (!in_v || p2l_ir_dtype(in_v->dtype) != P2L_FLOAT32)
        return p2l_unsupported(ctx, "vector norm of a %s tensor", in_v ? p2l_dtype_name(in_v->dtype) : "non");
    const double ord = p2l_arg_number(ctx, "ord", 2);
    if (ord == 0) return p2l_unsupported(ctx, "vector norm of order 0 (a count of non-zeros)");
    const int rank = in_v->rank;
    bool removed[P2L_MAX_DIMS];
    if (!reduced_axes(ctx, rank, removed)) return P2L_ERROR_UNSUPPORTED;
    const bool keepdim = p2l_arg_of(ctx, "keepdim")->i != 0;
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    unsigned axes = 0;
    for (int i = 0; i < rank; i++)
        if (removed[l.perm[i]]) axes |= 1u << i;
    int y;
    if (ord == 2) {
        y = p2l_unary(ctx, P2L_OP_SQRT, p2l_reduce(ctx, P2L_OP_SUM, p2l_binary(ctx, P2L_OP_MUL, x, x, P2L_FLOAT32),
                                                    axes, keepdim));
    } else if (isinf(ord)) {
        y = p2l_reduce(ctx, ord > 0 ? P2L_OP_REDUCE_MAX : P2L_OP_REDUCE_MIN, p2l_unary(ctx, P2L_OP_ABS, x), axes, keepdim);
    } else if (ord == 1) {
        y = p2l_reduce(ctx, P2L_OP_SUM, p2l_unary(ctx, P2L_OP_ABS, x), axes, keepdim);
    } else {
        int powered = p2l_binary(ctx, P2L_OP_POW, p2l_unary(ctx, P2L_OP_ABS, x),
                                 p2l_const_scalar(ctx, P2L_FLOAT32, ord), P2L_FLOAT32);
        y = p2l_binary(ctx, P2L_OP_POW, p2l_reduce(ctx, P2L_OP_SUM, powered, axes, keepdim),
                       p2l_const_scalar(ctx, P2L_FLOAT32, 1.0 / ord), P2L_FLOAT32);
    }
    p2l_layout out_l = keepdim ? l : p2l_layout_without_axes(&l, rank, removed);
    return p2l_set_output(ctx, 0, y, &out_l);
}

/* The index of the max / min along one axis: ARG_MAX / ARG_MIN (int32 inside; torch's int64 comes
 * back at the model outputs) in the input's layout. With keepdim, a RESHAPE puts the size-1 axis
 * back. dim None (argmax only) flattens the input in logical order first. Output `index`. */
static p2l_status arg_reduction(p2l_lower_ctx *ctx, p2l_op op, int index, bool dim_optional) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, index);
    if (!in_v) return P2L_ERROR_UNSUPPORTED;
    if (!out_v) return P2L_OK;
    int rank = in_v->rank;
    const p2l_arg *dim = p2l_arg_of(ctx, "dim");
    bool keepdim = p2l_arg_of(ctx, "keepdim")->i != 0;
    p2l_layout l;
    int x;
    int axis;
    if (dim->kind != P2L_ARG_INT || rank == 0) {
        if (dim->kind != P2L_ARG_INT && !dim_optional) return p2l_unsupported(ctx, "an arg reduction without a dim");
        int64_t numel = 1;
        for (int i = 0; i < rank; i++) numel = in_v->dims[i] < 0 || numel < 0 ? -1 : numel * in_v->dims[i];
        x = p2l_reshape(ctx, p2l_input(ctx, "self", NULL), 1, &numel);
        l = p2l_identity_layout();
        axis = 0;
    } else {
        int d = p2l_norm_dim(dim->i, rank);
        if (d < 0) return p2l_unsupported(ctx, "dim %lld is out of range for rank %d", (long long)dim->i, rank);
        x = p2l_input_any(ctx, "self", &l);
        axis = p2l_physical_axis(&l, rank, d);
    }
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype dt = ctx->g->tensors.items[x].dtype;
    if (dt == P2L_BOOL) x = p2l_cast(ctx, x, P2L_INT32);
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int64_t dims[P2L_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < xt.rank; i++)
        if (i != axis) dims[r++] = xt.dims[i];
    int32_t axis32 = axis;
    int ins[2] = {x, p2l_const_i32(ctx, 1, &axis32)};
    int y = p2l_temp(ctx, op == P2L_OP_ARG_MAX ? "argmax" : "argmin", P2L_INT32, r, dims);
    int n = p2l_emit(ctx, op, 2, ins, 1, &y);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "output_type", P2L_INT32);
    if (dim->kind != P2L_ARG_INT || rank == 0) { /* 0-d result, or all-ones with keepdim */
        if (out_v->rank == 0) return p2l_alias_output(ctx, index, y, NULL);
        return p2l_alias_output(ctx, index, p2l_reshape(ctx, y, out_v->rank, out_v->dims), NULL);
    }
    bool removed[P2L_MAX_DIMS] = {0};
    removed[l.perm[axis]] = true;
    if (!keepdim) {
        p2l_layout out_l = p2l_layout_without_axes(&l, rank, removed);
        return p2l_alias_output(ctx, index, y, &out_l);
    }
    int64_t kept[P2L_MAX_DIMS];
    memcpy(kept, xt.dims, sizeof kept);
    kept[axis] = 1;
    return p2l_alias_output(ctx, index, p2l_reshape(ctx, y, rank, kept), &l);
}

/* argmax(self, dim?, keepdim) / argmin */
p2l_status p2l_lower_argmax(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return arg_reduction(ctx, P2L_OP_ARG_MAX, 0, true);
}
p2l_status p2l_lower_argmin(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return arg_reduction(ctx, P2L_OP_ARG_MIN, 0, true);
}

/* max.dim / min.dim -> (values: REDUCE_MAX / REDUCE_MIN, indices: ARG_MAX / ARG_MIN) */
static p2l_status values_and_indices(p2l_lower_ctx *ctx, p2l_op reduce, p2l_op arg) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    if (!in_v) return P2L_ERROR_UNSUPPORTED;
    if (p2l_output_value(ctx, 0)) {
        if (in_v->rank == 0) {
            p2l_layout l;
            P2L_TRY(p2l_alias_output(ctx, 0, p2l_input_any(ctx, "self", &l), &l));
        } else {
            P2L_TRY(lower_reduction(ctx, reduce));
        }
    }
    return arg_reduction(ctx, arg, 1, false);
}

p2l_status p2l_lower_max_dim(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return values_and_indices(ctx, P2L_OP_REDUCE_MAX, P2L_OP_ARG_MAX);
}
p2l_status p2l_lower_min_dim(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return values_and_indices(ctx, P2L_OP_REDUCE_MIN, P2L_OP_ARG_MIN);
}

/* cumsum(self, dim, dtype) -> CUMSUM along the dim's physical axis (after a CAST to the output's
 * dtype: torch sums bools and small ints as int64, int32 inside). */
p2l_status p2l_lower_cumsum(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype want = p2l_ir_dtype(out_v->dtype);
    if (want != P2L_FLOAT32 && want != P2L_INT32) return p2l_unsupported(ctx, "cumsum to %s", p2l_dtype_name(want));
    int rank = in_v->rank;
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (d < 0) return p2l_unsupported(ctx, "cumsum dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
    p2l_layout l;
    int x = p2l_cast(ctx, p2l_input_any(ctx, "self", &l), want);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (rank == 0) return p2l_alias_output(ctx, 0, x, &l);
    int ins[2] = {x, p2l_const_scalar(ctx, P2L_INT32, p2l_physical_axis(&l, rank, d))};
    int y = p2l_output(ctx, 0, &l);
    int n = p2l_emit(ctx, P2L_OP_CUMSUM, 2, ins, 1, &y);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "exclusive", 0);
    p2l_set_option(ctx->g, n, "reverse", 0);
    return P2L_OK;
}
