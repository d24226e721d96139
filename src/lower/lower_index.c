/* Indexing: gather/index_select/embedding, advanced indexing (index.Tensor), the scatter family
 * (index_put, scatter, scatter_add, scatter_reduce), select/slice scatter and masked_scatter.
 *
 * Index tensors are int32 inside (int64 from torch is converted; constants are checked to fit).
 * Where torch allows negative indices (advanced indexing), constant indices are wrapped at
 * conversion time and computed ones by a FLOOR_MOD. Several index tensors (or a gather/scatter
 * along one dim) become one linear index into a flattened axis, so everything is one GATHER or
 * SCATTER_ND. SCATTER_ND adds duplicate updates: index_put with accumulate=True, scatter_add and
 * scatter_reduce sum/mean are exact; for plain assignment the written value at a position indexed
 * more than once is the mean of the values written there (torch leaves that case undefined; with
 * distinct indices, which the converter proves for constant indices, the result is exact). */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

/* ------------------------------------------------------------ helpers */

static const p2l_ir_tensor *tensor_of(p2l_lower_ctx *ctx, int t) { return &ctx->g->tensors.items[t]; }

/* An index value as a logical int32 tensor. With `wrap_size` > 0, negative indices count from the
 * end (constants are fixed now, computed ones get a FLOOR_MOD); constants out of range are refused. */
static int index_tensor(p2l_lower_ctx *ctx, int value_id, int64_t wrap_size) {
    const p2l_value *v = &ctx->ep->values.items[value_id];
    if (v->dtype != P2L_INT64 && v->dtype != P2L_INT32 && v->dtype != P2L_INT16 && v->dtype != P2L_INT8 &&
        v->dtype != P2L_UINT8) {
        p2l_unsupported(ctx, "index tensor '%s' of dtype %s (integer indices are supported; a boolean mask selects a "
                             "data-dependent number of elements)",
                        v->name, v->dtype == (p2l_dtype)-1 ? "unknown" : p2l_dtype_name(v->dtype));
        return -1;
    }
    if (v->dtype == P2L_UINT8) {
        p2l_unsupported(ctx, "a uint8 index tensor (torch reads it as a boolean mask: a data-dependent size)");
        return -1;
    }
    int t = p2l_cast(ctx, p2l_value_input(ctx, value_id, NULL), P2L_INT32);
    if (t < 0) return -1;
    const p2l_ir_tensor *tt = tensor_of(ctx, t);
    if (p2l_is_const(ctx->g, t)) {
        int64_t n = p2l_ir_tensor_numel(tt);
        int32_t *vals = p2l_alloc(sizeof(int32_t) * (size_t)(n + 1));
        if (!vals) {
            p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
            return -1;
        }
        memcpy(vals, tt->data, sizeof(int32_t) * (size_t)n);
        bool changed = false;
        for (int64_t i = 0; i < n; i++) {
            int64_t k = vals[i];
            if (wrap_size > 0 && k < 0) k += wrap_size, changed = true;
            if (wrap_size > 0 && (k < 0 || k >= wrap_size)) {
                p2l_release(vals);
                p2l_unsupported(ctx, "index %d is out of range for a dim of size %lld", vals[i], (long long)wrap_size);
                return -1;
            }
            vals[i] = (int32_t)k;
        }
        int64_t dims[P2L_MAX_DIMS];
        memcpy(dims, tt->dims, sizeof dims);
        int r = changed ? p2l_const_indices(ctx, tt->rank, dims, vals) : t;
        p2l_release(vals);
        return r;
    }
    if (wrap_size <= 0) return t;
    return p2l_binary(ctx, P2L_OP_FLOOR_MOD, t, p2l_const_scalar(ctx, P2L_INT32, (double)wrap_size), P2L_INT32);
}

/* index_tensor for a dim whose size may be dynamic (`size` < 0, `size_expr` its expression): a
 * computed index, or a constant one with a negative entry, is wrapped by a FLOOR_MOD with the size
 * computed at run time. */
static int dim_index_tensor(p2l_lower_ctx *ctx, int value_id, int64_t size, const char *size_expr) {
    if (size >= 0) return index_tensor(ctx, value_id, size);
    int t = index_tensor(ctx, value_id, 0);
    if (t < 0) return -1;
    if (p2l_is_const(ctx->g, t)) {
        const p2l_ir_tensor *tt = tensor_of(ctx, t);
        bool negative = false;
        for (int64_t i = 0, n = p2l_ir_tensor_numel(tt); i < n; i++) negative = negative || ((const int32_t *)tt->data)[i] < 0;
        if (!negative) return t;
    }
    return p2l_binary(ctx, P2L_OP_FLOOR_MOD, t, p2l_sym_tensor(ctx, size_expr), P2L_INT32);
}

/* The layout of GATHER's output along physical axis p of a tensor in layout l (logical axis d),
 * with `nb` index axes (taken in logical order) replacing it. */
static p2l_layout gathered_layout(const p2l_layout *l, int rank, int d, int nb) {
    p2l_layout out = p2l_identity_layout();
    int n = 0;
    for (int i = 0; i < rank; i++) {
        int ax = l->perm[i];
        if (ax == d)
            for (int k = 0; k < nb; k++) out.perm[n++] = (int8_t)(d + k);
        else
            out.perm[n++] = (int8_t)(ax < d ? ax : ax + nb - 1);
    }
    return out;
}

/* x (physical) with axis p sliced to [begin, end) into a fresh tensor. */
static int slice_axis(p2l_lower_ctx *ctx, int x, int p, int64_t begin, int64_t end) {
    if (x < 0) return -1;
    const p2l_ir_tensor xt = *tensor_of(ctx, x);
    int32_t b[P2L_MAX_DIMS], e[P2L_MAX_DIMS], s[P2L_MAX_DIMS];
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < xt.rank; i++) {
        b[i] = 0, e[i] = (int32_t)xt.dims[i], s[i] = 1, dims[i] = xt.dims[i];
    }
    b[p] = (int32_t)begin, e[p] = (int32_t)end, dims[p] = end - begin;
    if (begin == 0 && end == xt.dims[p]) return x;
    int out = p2l_temp(ctx, "slice", xt.dtype, xt.rank, dims);
    int ins[4] = {x, p2l_const_i32(ctx, xt.rank, b), p2l_const_i32(ctx, xt.rank, e), p2l_const_i32(ctx, xt.rank, s)};
    return p2l_emit(ctx, P2L_OP_STRIDED_SLICE, 4, ins, 1, &out) < 0 ? -1 : out;
}

/* CONCATENATION of n tensors along physical axis p into a fresh tensor (n == 1: the tensor). */
static int concat(p2l_lower_ctx *ctx, int n, const int *parts, int p) {
    for (int i = 0; i < n; i++)
        if (parts[i] < 0) return -1;
    if (n == 1) return parts[0];
    const p2l_ir_tensor first = *tensor_of(ctx, parts[0]);
    int64_t dims[P2L_MAX_DIMS];
    memcpy(dims, first.dims, sizeof dims);
    dims[p] = 0;
    for (int i = 0; i < n; i++) dims[p] += tensor_of(ctx, parts[i])->dims[p];
    int out = p2l_temp(ctx, "concat", first.dtype, first.rank, dims);
    int node = p2l_emit(ctx, P2L_OP_CONCATENATION, n, parts, 1, &out);
    if (node < 0) return -1;
    p2l_set_option(ctx->g, node, "axis", p);
    return out;
}

/* ------------------------------------------------------------ gathers */

/* The "self", "dim" and "index" arguments of index_select or gather (`op`): self's value, the dim
 * normalized, the index tensor's value id. False with the reason recorded when they are unusable. */
static bool self_dim_index(p2l_lower_ctx *ctx, const char *op, const p2l_value **self_v, int *d, int *index_id) {
    const p2l_arg *idx = p2l_arg_of(ctx, "index");
    *self_v = p2l_value_of(ctx, "self");
    if (!*self_v || idx->kind != P2L_ARG_TENSOR) {
        p2l_unsupported(ctx, "%s needs tensors", op);
        return false;
    }
    *d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, (*self_v)->rank);
    if (*d < 0) {
        p2l_unsupported(ctx, "dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
        return false;
    }
    *index_id = (int)idx->i;
    return true;
}

/* embedding(weight, indices, ...) -> GATHER(weight, indices, axis 0) */
p2l_status p2l_lower_embedding(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *idx = p2l_arg_of(ctx, "indices");
    if (idx->kind != P2L_ARG_TENSOR) return p2l_unsupported(ctx, "embedding without an index tensor");
    int w = p2l_input(ctx, "weight", NULL);
    return p2l_logical_output(ctx, 0, p2l_gather(ctx, w, index_tensor(ctx, (int)idx->i, 0), 0));
}

/* index_select(self, dim, index) -> GATHER along the dim's physical axis (a 0-d index keeps the
 * axis with size 1, as torch does). */
p2l_status p2l_lower_index_select(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v;
    int d, index_id;
    if (!self_dim_index(ctx, "index_select", &in_v, &d, &index_id)) return P2L_ERROR_UNSUPPORTED;
    int rank = in_v->rank;
    int i = index_tensor(ctx, index_id, 0);
    if (i >= 0 && tensor_of(ctx, i)->rank == 0) {
        int64_t one = 1;
        i = p2l_reshape(ctx, i, 1, &one);
    }
    if (rank == 0) {
        int x = p2l_input(ctx, "self", NULL);
        int64_t one = 1;
        return p2l_logical_output(ctx, 0, p2l_gather(ctx, p2l_reshape(ctx, x, 1, &one), i, 0));
    }
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    int y = p2l_gather(ctx, x, i, p2l_physical_axis(&l, rank, d));
    return y < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, y, &l);
}

/* Linear positions into the flattened (logical, row-major) `dims` for a gather/scatter along
 * `dim` with index tensor `idx` (logical int32, dims idx_dims): sum over d != dim of
 * iota_d * stride_d (a constant) + idx * stride_dim. */
static int dim_linear_index(p2l_lower_ctx *ctx, int idx, const int64_t *dims, int rank, int dim) {
    if (idx < 0) return -1;
    const p2l_ir_tensor it = *tensor_of(ctx, idx);
    if (!p2l_dims_static(it.dims, it.rank) || !p2l_dims_static(dims, rank)) {
        p2l_unsupported(ctx, "gather/scatter with dynamic shapes");
        return -1;
    }
    int64_t strides[P2L_MAX_DIMS], s = 1;
    for (int d = rank - 1; d >= 0; d--) strides[d] = s, s *= dims[d];
    if (s > INT32_MAX) {
        p2l_unsupported(ctx, "a tensor of %lld elements indexed linearly (above int32)", (long long)s);
        return -1;
    }
    int64_t n = p2l_dims_numel(it.dims, it.rank);
    int32_t *base = p2l_alloc(sizeof(int32_t) * (size_t)(n + 1));
    if (!base) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    bool constant = p2l_is_const(ctx->g, idx);
    const int32_t *ivals = constant ? it.data : NULL;
    for (int64_t e = 0; e < n; e++) {
        int64_t rem = e, off = 0;
        for (int d = rank - 1; d >= 0; d--) {
            int64_t c = rem % it.dims[d];
            rem /= it.dims[d];
            if (d != dim) off += c * strides[d];
        }
        if (constant) {
            int64_t k = ivals[e];
            if (k < 0 || k >= dims[dim]) {
                p2l_release(base);
                p2l_unsupported(ctx, "index %lld is out of range for a dim of size %lld", (long long)k, (long long)dims[dim]);
                return -1;
            }
            off += k * strides[dim];
        }
        base[e] = (int32_t)off;
    }
    int64_t idims[P2L_MAX_DIMS];
    memcpy(idims, it.dims, sizeof idims);
    int b = p2l_const_indices(ctx, it.rank, idims, base);
    p2l_release(base);
    if (constant) return b;
    int scaled = strides[dim] == 1 ? idx
                                   : p2l_binary(ctx, P2L_OP_MUL, idx, p2l_const_scalar(ctx, P2L_INT32, (double)strides[dim]),
                                                P2L_INT32);
    return p2l_binary(ctx, P2L_OP_ADD, b, scaled, P2L_INT32);
}

/* gather(self, dim, index): GATHER of the flattened input at linear positions (index shape). */
p2l_status p2l_lower_gather(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v;
    int d, index_id;
    if (!self_dim_index(ctx, "gather", &in_v, &d, &index_id)) return P2L_ERROR_UNSUPPORTED;
    int rank = in_v->rank;
    if (rank == 0) return p2l_logical_output(ctx, 0, p2l_input(ctx, "self", NULL));
    int i = index_tensor(ctx, index_id, 0);
    int lin = dim_linear_index(ctx, i, in_v->dims, rank, d);
    return p2l_logical_output(ctx, 0, p2l_gather(ctx, p2l_flatten(ctx, p2l_input(ctx, "self", NULL)), lin, 0));
}

/* ------------------------------------------------------------ advanced indexing */

typedef struct index_plan {
    int rank;                 /* of self */
    int count;                /* index tensors */
    int dims[P2L_MAX_DIMS];   /* the indexed dims, in order */
    int ids[P2L_MAX_DIMS];    /* their value ids */
    bool adjacent;
    int brank;                /* rank of the broadcast index shape */
    int64_t bdims[P2L_MAX_DIMS];
} index_plan;

static bool plan_indices(p2l_lower_ctx *ctx, const p2l_value *self_v, index_plan *plan) {
    const p2l_arg *list = p2l_arg_of(ctx, "indices");
    memset(plan, 0, sizeof *plan);
    plan->rank = self_v->rank;
    if (list->kind != P2L_ARG_TENSORS || list->count > self_v->rank) {
        p2l_unsupported(ctx, "an index list of %d entries for a rank-%d tensor", list->count, self_v->rank);
        return false;
    }
    for (int k = 0; k < list->count; k++) {
        if (list->ints[k] < 0) continue;
        const p2l_value *v = &ctx->ep->values.items[list->ints[k]];
        if (v->dtype == P2L_BOOL || v->dtype == P2L_UINT8) {
            p2l_unsupported(ctx, "indexing with a boolean mask: the result's size depends on the mask's values "
                                 "(TFLite needs output sizes before the op runs); use torch.where instead");
            return false;
        }
        plan->dims[plan->count] = k;
        plan->ids[plan->count++] = (int)list->ints[k];
        if (v->rank > plan->brank) {
            for (int i = v->rank - 1, j = plan->brank - 1; i >= 0; i--, j--) plan->bdims[i] = j >= 0 ? plan->bdims[j] : 1;
            plan->brank = v->rank;
        }
        for (int i = 0; i < v->rank; i++) {
            int64_t *b = &plan->bdims[plan->brank - v->rank + i];
            int64_t d = v->dims[i];
            *b = *b == 1 ? d : d == 1 ? *b : *b < 0 ? d : *b;
        }
    }
    plan->adjacent = plan->count == 0 || plan->dims[plan->count - 1] - plan->dims[0] == plan->count - 1;
    return true;
}

/* The linear index into the indexed dims flattened (row-major) into one: sum idx_k * stride_k,
 * each index wrapped (negatives count from the end) and broadcast to the plan's shape. Behind a
 * dynamic indexed dim the stride is computed at run time (stride_t). */
static int plan_linear_index(p2l_lower_ctx *ctx, const p2l_value *self_v, const index_plan *plan) {
    int64_t stride = 1;
    int lin = -1, stride_t = -1;
    for (int k = plan->count - 1; k >= 0; k--) {
        int64_t size = self_v->dims[plan->dims[k]];
        const char *expr = self_v->sym[plan->dims[k]];
        int t = p2l_align_rank(ctx, dim_index_tensor(ctx, plan->ids[k], size, expr), plan->brank);
        if (t >= 0 && stride_t >= 0) t = p2l_binary(ctx, P2L_OP_MUL, t, stride_t, P2L_INT32);
        else if (t >= 0 && stride != 1)
            t = p2l_binary(ctx, P2L_OP_MUL, t, p2l_const_scalar(ctx, P2L_INT32, (double)stride), P2L_INT32);
        lin = lin == -1 ? t : p2l_binary(ctx, P2L_OP_ADD, lin, t, P2L_INT32);
        if (lin < 0) return -1;
        if (k > 0 && (size < 0 || stride_t >= 0)) {
            int dim_size = size < 0 ? p2l_sym_tensor(ctx, expr) : p2l_const_scalar(ctx, P2L_INT32, (double)size);
            int base = stride_t >= 0 ? stride_t : p2l_const_scalar(ctx, P2L_INT32, (double)stride);
            stride_t = p2l_binary(ctx, P2L_OP_MUL, base, dim_size, P2L_INT32);
            if (stride_t < 0) return -1;
        }
        stride *= size < 0 ? 1 : size;
    }
    if (stride > INT32_MAX) {
        p2l_unsupported(ctx, "indexed dims of %lld elements (above int32)", (long long)stride);
        return -1;
    }
    /* every index may be smaller than the broadcast shape: make the result exactly that shape */
    const p2l_ir_tensor lt = *tensor_of(ctx, lin);
    bool broadcast = memcmp(lt.dims, plan->bdims, sizeof(int64_t) * (size_t)plan->brank) != 0;
    if (broadcast && !p2l_dims_static(plan->bdims, plan->brank)) {
        p2l_unsupported(ctx, "index tensors that broadcast to a dynamic shape none of them has");
        return -1;
    }
    if (broadcast) {
        int32_t shape[P2L_MAX_DIMS];
        for (int i = 0; i < plan->brank; i++) shape[i] = (int32_t)plan->bdims[i];
        int ins[2] = {lin, p2l_const_i32(ctx, plan->brank, shape)};
        int out = p2l_temp(ctx, "broadcast", P2L_INT32, plan->brank, plan->bdims);
        if (p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &out) < 0) return -1;
        lin = out;
    }
    return lin;
}

/* self (logical) with the indexed dims moved first (when not adjacent) or kept (adjacent), and
 * merged into one axis. *axis = where the merged axis sits. perm (if not NULL) gets the transpose. */
static int merged_self(p2l_lower_ctx *ctx, const p2l_value *self_v, const index_plan *plan, bool front, int *axis,
                       int8_t *perm_out) {
    int rank = self_v->rank;
    int8_t perm[P2L_MAX_DIMS];
    int n = 0;
    if (front) {
        for (int k = 0; k < plan->count && n < P2L_MAX_DIMS; k++) perm[n++] = (int8_t)plan->dims[k];
        for (int d = 0; d < rank; d++) {
            bool indexed = false;
            for (int k = 0; k < plan->count; k++) indexed = indexed || plan->dims[k] == d;
            if (!indexed && n < P2L_MAX_DIMS) perm[n++] = (int8_t)d;
        }
    } else {
        for (int d = 0; d < rank; d++) perm[d] = (int8_t)d;
    }
    if (perm_out) memcpy(perm_out, perm, sizeof perm);
    int x = p2l_transpose(ctx, p2l_input(ctx, "self", NULL), perm);
    if (x < 0) return -1;
    int first = front ? 0 : plan->dims[0];
    const p2l_ir_tensor xt = *tensor_of(ctx, x);
    int64_t dims[P2L_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < xt.rank; d++) {
        if (d > first && d < first + plan->count) {
            dims[r - 1] = dims[r - 1] < 0 || xt.dims[d] < 0 ? -1 : dims[r - 1] * xt.dims[d];
            continue;
        }
        dims[r++] = xt.dims[d];
    }
    *axis = first;
    if (plan->count == 1) return x;
    int unknown = 0;
    for (int d = 0; d < r; d++) unknown += dims[d] < 0;
    if (unknown > 1) { /* RESHAPE takes one -1 */
        p2l_unsupported(ctx, "advanced indexing of a dynamic dim in a tensor with another dynamic dim");
        return -1;
    }
    return p2l_reshape(ctx, x, r, dims);
}

/* index.Tensor(self, indices): one index tensor -> GATHER on the dim's physical axis; several ->
 * GATHER of the indexed dims merged into one, at their linear index. Non-adjacent indexed dims
 * go first in the result (torch's rule), so they are moved first in the input. */
p2l_status p2l_lower_index_tensor(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    if (!self_v) return P2L_ERROR_UNSUPPORTED;
    index_plan plan;
    if (!plan_indices(ctx, self_v, &plan)) return P2L_ERROR_UNSUPPORTED;
    if (plan.count == 0) {
        p2l_layout l;
        int x = p2l_input_any(ctx, "self", &l);
        return x < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, x, &l);
    }
    if (plan.count == 1) {
        int d = plan.dims[0];
        p2l_layout l;
        int x = p2l_input_any(ctx, "self", &l);
        int i = dim_index_tensor(ctx, plan.ids[0], self_v->dims[d], self_v->sym[d]);
        int y = p2l_gather(ctx, x, i, p2l_physical_axis(&l, self_v->rank, d));
        if (y < 0) return P2L_ERROR_UNSUPPORTED;
        p2l_layout out_l = gathered_layout(&l, self_v->rank, d, tensor_of(ctx, i)->rank);
        return p2l_alias_output(ctx, 0, y, &out_l);
    }
    int axis = 0;
    int x = merged_self(ctx, self_v, &plan, !plan.adjacent, &axis, NULL);
    int lin = plan_linear_index(ctx, self_v, &plan);
    return p2l_logical_output(ctx, 0, p2l_gather(ctx, x, lin, axis));
}

/* ------------------------------------------------------------ scatters */

typedef enum scatter_mode { SCATTER_SET, SCATTER_ADD, SCATTER_SUM_NO_SELF, SCATTER_MEAN, SCATTER_MEAN_NO_SELF } scatter_mode;

/* Whether a constant linear index tensor holds each value at most once. */
static bool const_unique(p2l_lower_ctx *ctx, int lin, int64_t range) {
    if (!p2l_is_const(ctx->g, lin)) return false;
    const p2l_ir_tensor lt = *tensor_of(ctx, lin);
    int64_t n = p2l_ir_tensor_numel(&lt);
    uint8_t *seen = p2l_alloc_zero((size_t)range + 1);
    if (!seen) return false;
    bool unique = true;
    for (int64_t i = 0; i < n && unique; i++) {
        int32_t k = ((const int32_t *)lt.data)[i];
        if (k < 0 || k >= range || seen[k]) unique = false;
        else seen[k] = 1;
    }
    p2l_release(seen);
    return unique;
}

/* x: [P, rest...] (logical); lin: linear indices [B...] into axis 0; updates: [B..., rest...].
 * Returns x with the updates applied as `mode` says, by SCATTER_ND. */
static int scatter_into(p2l_lower_ctx *ctx, int x, int lin, int updates, scatter_mode mode) {
    if (x < 0 || lin < 0 || updates < 0) return -1;
    const p2l_ir_tensor xt = *tensor_of(ctx, x), lt = *tensor_of(ctx, lin);
    if (!p2l_dims_static(xt.dims, xt.rank) || !p2l_dims_static(lt.dims, lt.rank)) {
        p2l_unsupported(ctx, "a scatter with dynamic shapes");
        return -1;
    }
    p2l_dtype dtype = xt.dtype;
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32 && dtype != P2L_BOOL) {
        p2l_unsupported(ctx, "a scatter into a %s tensor", p2l_dtype_name(dtype));
        return -1;
    }
    if (dtype != P2L_FLOAT32 && (mode == SCATTER_MEAN || mode == SCATTER_MEAN_NO_SELF)) {
        p2l_unsupported(ctx, "scatter_reduce 'mean' of a %s tensor", p2l_dtype_name(dtype));
        return -1;
    }
    p2l_dtype sdtype = dtype == P2L_BOOL ? P2L_INT32 : dtype;
    int64_t cdims[P2L_MAX_DIMS];
    memcpy(cdims, lt.dims, sizeof cdims);
    cdims[lt.rank] = 1;
    int coords = p2l_reshape(ctx, lin, lt.rank + 1, cdims);
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < xt.rank; i++) shape[i] = (int32_t)xt.dims[i];
    int ins[3] = {coords, p2l_cast(ctx, updates, sdtype), p2l_const_i32(ctx, xt.rank, shape)};
    int64_t sdims[P2L_MAX_DIMS];
    memcpy(sdims, xt.dims, sizeof sdims);
    int s = p2l_temp(ctx, "scatter", sdtype, xt.rank, sdims);
    if (ins[1] < 0 || p2l_emit(ctx, P2L_OP_SCATTER_ND, 3, ins, 1, &s) < 0) return -1;
    if (mode == SCATTER_ADD) {
        if (dtype == P2L_BOOL)
            return p2l_binary(ctx, P2L_OP_LOGICAL_OR, x,
                              p2l_binary(ctx, P2L_OP_GREATER, s, p2l_const_scalar(ctx, P2L_INT32, 0), P2L_BOOL), P2L_BOOL);
        return p2l_binary(ctx, P2L_OP_ADD, x, s, dtype);
    }
    /* how many updates each position received: SCATTER_ND of ones, shaped [P, 1, ...] */
    int64_t pdims[P2L_MAX_DIMS];
    for (int i = 0; i < xt.rank; i++) pdims[i] = i == 0 ? xt.dims[0] : 1;
    int mask, count = -1;
    if (mode == SCATTER_SET && const_unique(ctx, lin, xt.dims[0])) {
        uint8_t *m = p2l_alloc_zero((size_t)xt.dims[0]);
        if (!m) return -1;
        for (int64_t i = 0; i < p2l_ir_tensor_numel(&lt); i++) m[((const int32_t *)lt.data)[i]] = 1;
        mask = p2l_add_const(ctx->g, p2l_node_tensor_name(ctx, "mask"), P2L_BOOL, xt.rank,
                             pdims, m, true);
    } else {
        int64_t ndims[P2L_MAX_DIMS];
        memcpy(ndims, lt.dims, sizeof ndims);
        int64_t n = p2l_dims_numel(lt.dims, lt.rank);
        int32_t *ones = p2l_alloc(sizeof(int32_t) * (size_t)n);
        if (!ones) return -1;
        for (int64_t i = 0; i < n; i++) ones[i] = 1;
        int32_t p32 = (int32_t)xt.dims[0];
        int cins[3] = {coords, p2l_const_indices(ctx, lt.rank, ndims, ones), p2l_const_i32(ctx, 1, &p32)};
        p2l_release(ones);
        int64_t one_dim = xt.dims[0];
        count = p2l_temp(ctx, "count", P2L_INT32, 1, &one_dim);
        if (p2l_emit(ctx, P2L_OP_SCATTER_ND, 3, cins, 1, &count) < 0) return -1;
        count = p2l_reshape(ctx, count, xt.rank, pdims);
        mask = p2l_binary(ctx, P2L_OP_GREATER, count, p2l_const_scalar(ctx, P2L_INT32, 0), P2L_BOOL);
    }
    int value = s;
    if (mode == SCATTER_MEAN) {
        int total = p2l_binary(ctx, P2L_OP_ADD, x, s, dtype);
        int denom = p2l_cast(ctx, p2l_binary(ctx, P2L_OP_ADD, count, p2l_const_scalar(ctx, P2L_INT32, 1), P2L_INT32),
                             P2L_FLOAT32);
        return p2l_binary(ctx, P2L_OP_DIV, total, denom, dtype);
    }
    if (count >= 0 && (mode == SCATTER_SET || mode == SCATTER_MEAN_NO_SELF)) {
        int safe = p2l_binary(ctx, P2L_OP_MAXIMUM, count, p2l_const_scalar(ctx, P2L_INT32, 1), P2L_INT32);
        if (sdtype == P2L_FLOAT32)
            value = p2l_binary(ctx, P2L_OP_DIV, s, p2l_cast(ctx, safe, P2L_FLOAT32), P2L_FLOAT32);
        else if (dtype == P2L_INT32)
            value = p2l_binary(ctx, P2L_OP_FLOOR_DIV, s, safe, P2L_INT32);
    }
    if (dtype == P2L_BOOL) value = p2l_binary(ctx, P2L_OP_GREATER, value, p2l_const_scalar(ctx, P2L_INT32, 0), P2L_BOOL);
    if (mask < 0 || value < 0) return -1;
    int ins2[3] = {mask, value, x};
    int out = p2l_temp(ctx, "select", dtype, xt.rank, sdims);
    return p2l_emit(ctx, P2L_OP_SELECT_V2, 3, ins2, 1, &out) < 0 ? -1 : out;
}

/* index_put(self, [None.., idx], values) with one runtime index of one element and no accumulate:
 * DYNAMIC_UPDATE_SLICE of the values at start (0.., idx, 0..), the work proportional to the written
 * row, not to self (a KV cache's update per decode step). The index is wrapped as the SCATTER_ND form
 * wraps it (negatives count from the end; FLOOR_MOD, so every start is in range and the update's clamp
 * never moves it). -1: not this case (nothing emitted); otherwise the result tensor, or -2 on failure. */
static int index_put_one_row(p2l_lower_ctx *ctx, const p2l_value *self_v, const index_plan *plan) {
    if (plan->count != 1 || p2l_arg_of(ctx, "accumulate")->i != 0) return -1;
    const p2l_value *idx_v = &ctx->ep->values.items[plan->ids[0]];
    if (idx_v->rank != 1 || idx_v->dims[0] != 1) return -1;
    p2l_dtype dtype = p2l_ir_dtype(self_v->dtype);
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32 && dtype != P2L_BOOL) return -1;
    int given = p2l_value_input_any(ctx, plan->ids[0], NULL);
    if (given < 0 || p2l_is_const(ctx->g, given)) return -1; /* a constant index keeps the exact SCATTER_ND form */
    const int rank = self_v->rank, d = plan->dims[0];
    int64_t udims[P2L_MAX_DIMS];
    memcpy(udims, self_v->dims, sizeof(int64_t) * (size_t)rank);
    udims[d] = 1;
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) shape[i] = (int32_t)udims[i];
    /* values broadcast to self[indices]'s shape: self's with dim d of size 1 */
    int v = p2l_cast(ctx, p2l_align_rank(ctx, p2l_input(ctx, "values", NULL), rank), dtype);
    if (v < 0) return -2;
    if (memcmp(tensor_of(ctx, v)->dims, udims, sizeof(int64_t) * (size_t)rank) != 0) {
        int ins[2] = {v, p2l_const_i32(ctx, rank, shape)};
        int b = p2l_temp(ctx, "values", dtype, rank, udims);
        if (p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &b) < 0) return -2;
        v = b;
    }
    int pos = index_tensor(ctx, plan->ids[0], self_v->dims[d]); /* [1] */
    int32_t zeros[P2L_MAX_DIMS] = {0};
    int parts[3], n = 0;
    if (d > 0) parts[n++] = p2l_const_i32(ctx, d, zeros);
    parts[n++] = pos;
    if (d < rank - 1) parts[n++] = p2l_const_i32(ctx, rank - 1 - d, zeros);
    int start = concat(ctx, n, parts, 0);
    int ins[3] = {p2l_input(ctx, "self", NULL), v, start};
    if (ins[0] < 0 || start < 0) return -2;
    int64_t odims[P2L_MAX_DIMS];
    memcpy(odims, self_v->dims, sizeof(int64_t) * (size_t)rank);
    int out = p2l_temp(ctx, "updated", dtype, rank, odims);
    return p2l_emit(ctx, P2L_OP_DYNAMIC_UPDATE_SLICE, 3, ins, 1, &out) < 0 ? -2 : out;
}

/* index_put(self, indices, values, accumulate): the indexed dims are moved first and merged, the
 * values broadcast to the shape self[indices] has and put in the same order, then SCATTER_ND. */
p2l_status p2l_lower_index_put(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self"), *val_v = p2l_value_of(ctx, "values");
    if (!self_v || !val_v) return p2l_unsupported(ctx, "index_put needs tensors");
    index_plan plan;
    if (!plan_indices(ctx, self_v, &plan)) return P2L_ERROR_UNSUPPORTED;
    if (plan.count == 0) return p2l_unsupported(ctx, "index_put without an index tensor");
    if (!p2l_dims_static(self_v->dims, self_v->rank) || !p2l_dims_static(plan.bdims, plan.brank))
        return p2l_unsupported(ctx, "index_put with dynamic shapes");
    int one_row = index_put_one_row(ctx, self_v, &plan);
    if (one_row != -1) return one_row < 0 ? P2L_ERROR_UNSUPPORTED : p2l_logical_output(ctx, 0, one_row);
    int rank = self_v->rank;
    int axis;
    int8_t perm[P2L_MAX_DIMS];
    int x = merged_self(ctx, self_v, &plan, true, &axis, perm);
    int lin = plan_linear_index(ctx, self_v, &plan);
    /* values -> the shape of self[indices]: pre + B + post (adjacent) or B + rest, then B first */
    int64_t rdims[P2L_MAX_DIMS];
    int rr = 0, first = plan.dims[0];
    int pre = plan.adjacent ? first : 0;
    for (int d = 0; d < pre; d++) rdims[rr++] = self_v->dims[d];
    for (int d = 0; d < plan.brank; d++) rdims[rr++] = plan.bdims[d];
    for (int d = 0; d < rank; d++) {
        bool indexed = false;
        for (int k = 0; k < plan.count; k++) indexed = indexed || plan.dims[k] == d;
        if (!indexed && !(plan.adjacent && d < first)) rdims[rr++] = self_v->dims[d];
    }
    if (rr > P2L_MAX_DIMS) return p2l_unsupported(ctx, "index_put result of rank %d", rr);
    p2l_dtype dtype = p2l_ir_dtype(self_v->dtype);
    int v = p2l_cast(ctx, p2l_align_rank(ctx, p2l_input(ctx, "values", NULL), rr), dtype);
    if (v < 0) return P2L_ERROR_UNSUPPORTED;
    if (memcmp(tensor_of(ctx, v)->dims, rdims, sizeof(int64_t) * (size_t)rr) != 0) {
        int32_t shape[P2L_MAX_DIMS];
        for (int i = 0; i < rr; i++) shape[i] = (int32_t)rdims[i];
        int ins[2] = {v, p2l_const_i32(ctx, rr, shape)};
        int b = p2l_temp(ctx, "values", dtype, rr, rdims);
        if (p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &b) < 0) return P2L_ERROR_UNSUPPORTED;
        v = b;
    }
    if (plan.adjacent && pre > 0) { /* pre + B + post -> B + pre + post */
        int8_t vp[P2L_MAX_DIMS];
        int n = 0;
        for (int d = 0; d < plan.brank; d++) vp[n++] = (int8_t)(pre + d);
        for (int d = 0; d < pre; d++) vp[n++] = (int8_t)d;
        for (int d = pre + plan.brank; d < rr; d++) vp[n++] = (int8_t)d;
        v = p2l_transpose(ctx, v, vp);
    }
    bool accumulate = p2l_arg_of(ctx, "accumulate")->i != 0;
    int y = scatter_into(ctx, x, lin, v, accumulate ? SCATTER_ADD : SCATTER_SET);
    if (y < 0) return P2L_ERROR_UNSUPPORTED;
    /* back: split the merged axis, undo the transpose */
    int64_t tdims[P2L_MAX_DIMS];
    for (int d = 0; d < rank; d++) tdims[d] = self_v->dims[perm[d]];
    y = p2l_reshape(ctx, y, rank, tdims);
    int8_t inverse[P2L_MAX_DIMS];
    for (int d = 0; d < rank; d++) inverse[perm[d]] = (int8_t)d;
    return p2l_logical_output(ctx, 0, p2l_transpose(ctx, y, inverse));
}

/* scatter / scatter_add / scatter_reduce along `dim`: flattened self, linear positions of the
 * index, updates = src cut to the index's shape (or a constant `value`). */
static p2l_status dim_scatter(p2l_lower_ctx *ctx, scatter_mode mode) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    const p2l_arg *idx = p2l_arg_of(ctx, "index");
    if (!self_v || idx->kind != P2L_ARG_TENSOR) return p2l_unsupported(ctx, "scatter needs tensors");
    int rank = self_v->rank;
    if (rank == 0) return p2l_unsupported(ctx, "scatter into a 0-d tensor");
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (d < 0) return p2l_unsupported(ctx, "dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
    if (!p2l_dims_static(self_v->dims, rank)) return p2l_unsupported(ctx, "scatter into a dynamic shape");
    p2l_dtype dtype = p2l_ir_dtype(self_v->dtype);
    int i = index_tensor(ctx, (int)idx->i, 0);
    if (i < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor it = *tensor_of(ctx, i);
    if (it.rank != rank) return p2l_unsupported(ctx, "scatter index of rank %d for a rank-%d tensor", it.rank, rank);
    int lin = dim_linear_index(ctx, i, self_v->dims, rank, d);
    int upd;
    if (p2l_value_of(ctx, "src")) {
        const p2l_value *src_v = p2l_value_of(ctx, "src");
        upd = p2l_cast(ctx, p2l_input(ctx, "src", NULL), dtype);
        if (src_v->rank != rank) return p2l_unsupported(ctx, "scatter src of another rank");
        for (int k = 0; k < rank && upd >= 0; k++)
            if (src_v->dims[k] != it.dims[k]) upd = slice_axis(ctx, upd, k, 0, it.dims[k]);
    } else {
        double value = p2l_arg_number(ctx, "value", 0);
        int64_t n = p2l_dims_numel(it.dims, it.rank);
        float *vals = p2l_alloc(sizeof(float) * (size_t)(n + 1));
        if (!vals) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (int64_t k = 0; k < n; k++) vals[k] = (float)value;
        int64_t idims[P2L_MAX_DIMS];
        memcpy(idims, it.dims, sizeof idims);
        upd = p2l_cast(ctx, p2l_const_f32(ctx, it.rank, idims, vals), dtype);
        p2l_release(vals);
    }
    int x = p2l_flatten(ctx, p2l_input(ctx, "self", NULL));
    return p2l_logical_output(ctx, 0, scatter_into(ctx, x, lin, upd, mode));
}

p2l_status p2l_lower_scatter(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *reduce = p2l_node_arg(node, "reduce");
    if (reduce && reduce->kind == P2L_ARG_STRING) return p2l_unsupported(ctx, "scatter with reduce='%s'", reduce->s);
    return dim_scatter(ctx, SCATTER_SET);
}

p2l_status p2l_lower_scatter_add(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return dim_scatter(ctx, SCATTER_ADD); }

/* scatter_reduce.two(self, dim, index, src, reduce, include_self): sum and mean are exact with
 * SCATTER_ND (which adds); prod, amax and amin have no scatter builtin to compose from. */
p2l_status p2l_lower_scatter_reduce(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *reduce = p2l_arg_of(ctx, "reduce");
    bool include_self = p2l_arg_of(ctx, "include_self")->kind == P2L_ARG_NONE || p2l_arg_of(ctx, "include_self")->i;
    const char *r = reduce->kind == P2L_ARG_STRING ? reduce->s : "";
    if (strcmp(r, "sum") == 0) return dim_scatter(ctx, include_self ? SCATTER_ADD : SCATTER_SUM_NO_SELF);
    if (strcmp(r, "mean") == 0) return dim_scatter(ctx, include_self ? SCATTER_MEAN : SCATTER_MEAN_NO_SELF);
    return p2l_unsupported(ctx, "scatter_reduce '%s': TFLite's SCATTER_ND only adds duplicate updates, so only "
                                "'sum' and 'mean' are exact",
                           r);
}

/* select_scatter(self, src, dim, index): CONCATENATION of self before index, src as a size-1 slice,
 * self after index, in self's layout. */
p2l_status p2l_lower_select_scatter(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self"), *src_v = p2l_value_of(ctx, "src");
    if (!self_v || !src_v || self_v->rank == 0) return p2l_unsupported(ctx, "select_scatter needs a tensor of rank >= 1");
    int rank = self_v->rank;
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    int64_t size = self_v->dims[d < 0 ? 0 : d], index = p2l_arg_of(ctx, "index")->i;
    if (d < 0 || size < 0 || p2l_arg_of(ctx, "index")->symbolic) return p2l_unsupported(ctx, "select_scatter dim or index");
    if (index < 0) index += size;
    if (index < 0 || index >= size) return p2l_unsupported(ctx, "select_scatter index out of range");
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    p2l_dtype dtype = p2l_ir_dtype(self_v->dtype);
    int64_t logical[P2L_MAX_DIMS];
    memcpy(logical, self_v->dims, sizeof logical);
    logical[d] = 1;
    int s = p2l_transpose(ctx, p2l_reshape(ctx, p2l_cast(ctx, p2l_input(ctx, "src", NULL), dtype), rank, logical), l.perm);
    int p = p2l_physical_axis(&l, rank, d);
    int parts[3], n = 0;
    if (index > 0) parts[n++] = slice_axis(ctx, x, p, 0, index);
    parts[n++] = s;
    if (index + 1 < size) parts[n++] = slice_axis(ctx, x, p, index + 1, size);
    int y = concat(ctx, n, parts, p);
    return y < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, y, &l);
}

/* slice_scatter(self, src, dim, start, end, step): step 1 is a CONCATENATION of self's outer parts
 * and src; a larger step gathers from [self, src] concatenated, at constant positions. */
p2l_status p2l_lower_slice_scatter(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self"), *src_v = p2l_value_of(ctx, "src");
    const p2l_arg *src_a = p2l_arg_of(ctx, "src");
    if (!self_v || !src_v || self_v->rank == 0) return p2l_unsupported(ctx, "slice_scatter needs a tensor of rank >= 1");
    int rank = self_v->rank;
    int d = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (d < 0 || self_v->dims[d] < 0) return p2l_unsupported(ctx, "slice_scatter dim");
    int64_t size = self_v->dims[d];
    const p2l_arg *sa = p2l_arg_of(ctx, "start"), *ea = p2l_arg_of(ctx, "end"), *st = p2l_arg_of(ctx, "step");
    if (sa->symbolic || ea->symbolic || st->symbolic) return p2l_unsupported(ctx, "symbolic slice_scatter bounds");
    int64_t start = sa->kind == P2L_ARG_INT ? sa->i : 0, end = ea->kind == P2L_ARG_INT ? ea->i : size;
    int64_t step = st->kind == P2L_ARG_INT ? st->i : 1;
    if (start < 0) start += size;
    if (end < 0) end += size;
    start = start < 0 ? 0 : start > size ? size : start;
    end = end < start ? start : end > size ? size : end;
    if (step < 1) return p2l_unsupported(ctx, "slice_scatter step %lld", (long long)step);
    int64_t m = src_v->dims[d];
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    p2l_dtype dtype = p2l_ir_dtype(self_v->dtype);
    if (m <= 0) return x < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, x, &l);
    int s = p2l_cast(ctx, p2l_value_input(ctx, (int)src_a->i, &l), dtype);
    int p = p2l_physical_axis(&l, rank, d);
    int y;
    if (step == 1) {
        int parts[3], n = 0;
        if (start > 0) parts[n++] = slice_axis(ctx, x, p, 0, start);
        parts[n++] = s;
        if (start + m < size) parts[n++] = slice_axis(ctx, x, p, start + m, size);
        y = concat(ctx, n, parts, p);
    } else {
        int both[2] = {x, s};
        int cat = concat(ctx, 2, both, p);
        int32_t *pos = p2l_alloc(sizeof(int32_t) * (size_t)size);
        if (!pos) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (int64_t j = 0; j < size; j++) {
            bool in = j >= start && j < end && (j - start) % step == 0 && (j - start) / step < m;
            pos[j] = (int32_t)(in ? size + (j - start) / step : j);
        }
        int idx = p2l_const_indices(ctx, 1, &size, pos);
        p2l_release(pos);
        y = p2l_gather(ctx, cat, idx, p);
    }
    return y < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, y, &l);
}

/* masked_scatter(self, mask, source): position i (row-major over the broadcast shape) where the
 * mask is set takes source's element number cumsum(mask)[i] - 1: a CUMSUM, a GATHER and a
 * SELECT_V2, exact. */
p2l_status p2l_lower_masked_scatter(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    const p2l_value *src_v = p2l_value_of(ctx, "source");
    if (!self_v || !out_v || !src_v) return p2l_unsupported(ctx, "masked_scatter needs tensors");
    int rank = out_v->rank;
    if (!p2l_dims_static(out_v->dims, rank) || !p2l_dims_static(src_v->dims, src_v->rank))
        return p2l_unsupported(ctx, "masked_scatter with dynamic shapes");
    int32_t shape[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) shape[i] = (int32_t)out_v->dims[i];
    int64_t n = p2l_dims_numel(out_v->dims, rank);
    p2l_dtype dtype = p2l_ir_dtype(out_v->dtype);
    int to_full[2];
    const char *names[2] = {"self", "mask"};
    for (int k = 0; k < 2; k++) {
        int t = p2l_input_broadcast(ctx, names[k], rank, NULL, k ? P2L_BOOL : dtype);
        const p2l_ir_tensor tt = t >= 0 ? *tensor_of(ctx, t) : (p2l_ir_tensor){0};
        if (t >= 0 && (tt.rank != rank || memcmp(tt.dims, out_v->dims, sizeof(int64_t) * (size_t)rank) != 0)) {
            int ins[2] = {t, p2l_const_i32(ctx, rank, shape)};
            int64_t dims[P2L_MAX_DIMS];
            memcpy(dims, out_v->dims, sizeof dims);
            int b = p2l_temp(ctx, "broadcast", tt.dtype, rank, dims);
            t = p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &b) < 0 ? -1 : b;
        }
        to_full[k] = p2l_flatten(ctx, t);
    }
    int m = to_full[1];
    int counts = p2l_cast(ctx, m, P2L_INT32);
    if (counts < 0) return P2L_ERROR_UNSUPPORTED;
    int cs = p2l_temp(ctx, "cumsum", P2L_INT32, 1, &n);
    int cins[2] = {counts, p2l_const_scalar(ctx, P2L_INT32, 0)};
    int cn = p2l_emit(ctx, P2L_OP_CUMSUM, 2, cins, 1, &cs);
    if (cn < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, cn, "exclusive", 1);
    p2l_set_option(ctx->g, cn, "reverse", 0);
    /* exclusive cumsum = the source position; clamp to the source size for unmasked tail cells */
    int64_t src_n = p2l_dims_numel(src_v->dims, src_v->rank);
    int pos = p2l_binary(ctx, P2L_OP_MINIMUM, cs, p2l_const_scalar(ctx, P2L_INT32, (double)(src_n - 1)), P2L_INT32);
    int src = p2l_flatten(ctx, p2l_cast(ctx, p2l_input(ctx, "source", NULL), dtype));
    int g = p2l_gather(ctx, src, pos, 0);
    if (g < 0 || to_full[0] < 0) return P2L_ERROR_UNSUPPORTED;
    int ins[3] = {m, g, to_full[0]};
    int y = p2l_temp(ctx, "select", dtype, 1, &n);
    if (p2l_emit(ctx, P2L_OP_SELECT_V2, 3, ins, 1, &y) < 0) return P2L_ERROR_UNSUPPORTED;
    return p2l_logical_output(ctx, 0, y);
}
