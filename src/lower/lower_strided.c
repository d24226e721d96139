/* Views of a tensor at strided positions that no reshape expresses: diagonal and as_strided,
 * each a GATHER at constant positions of the input (merged or flattened). */
#include <string.h>

#include "lower/lower.h"

/* diagonal(self, offset, dim1, dim2): the two dims moved last and merged, then a GATHER of the
 * diagonal's positions i*B + i + offset (constant). */
p2l_status p2l_lower_diagonal(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    if (!self_v || self_v->rank < 2) return p2l_unsupported(ctx, "diagonal needs a tensor of rank >= 2");
    int rank = self_v->rank;
    int d1 = p2l_norm_dim(p2l_arg_of(ctx, "dim1")->i, rank), d2 = p2l_norm_dim(p2l_arg_of(ctx, "dim2")->i, rank);
    int64_t offset = p2l_arg_of(ctx, "offset")->i;
    if (d1 < 0 || d2 < 0 || d1 == d2) return p2l_unsupported(ctx, "diagonal dims must be two distinct dims");
    int64_t a = self_v->dims[d1], b = self_v->dims[d2];
    if (a < 0 || b < 0) return p2l_unsupported(ctx, "diagonal of dynamic dims");
    int64_t len = offset >= 0 ? (a < b - offset ? a : b - offset) : (a + offset < b ? a + offset : b);
    if (len <= 0) return p2l_unsupported(ctx, "an empty diagonal (TFLite has no empty tensors)");
    int8_t perm[P2L_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < rank; d++)
        if (d != d1 && d != d2) perm[n++] = (int8_t)d;
    perm[n++] = (int8_t)d1;
    perm[n++] = (int8_t)d2;
    int x = p2l_transpose(ctx, p2l_input(ctx, "self", NULL), perm);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int64_t dims[P2L_MAX_DIMS];
    for (int d = 0; d < rank - 2; d++) dims[d] = ctx->g->tensors.items[x].dims[d];
    dims[rank - 2] = a * b;
    x = p2l_reshape(ctx, x, rank - 1, dims);
    int32_t *pos = p2l_alloc(sizeof(int32_t) * (size_t)len);
    if (!pos) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < len; i++)
        pos[i] = (int32_t)(offset >= 0 ? i * b + i + offset : (i - offset) * b + i);
    int idx = p2l_const_indices(ctx, 1, &len, pos);
    p2l_release(pos);
    return p2l_logical_output(ctx, 0, p2l_gather(ctx, x, idx, rank - 2));
}

/* as_strided(self, size, stride, storage_offset) over a contiguous self: element (i...) is
 * self.flatten()[offset + sum i_d * stride_d]. A RESHAPE when that is the identity order, else a
 * GATHER at constant positions (views such as unfold's overlapping windows included). */
p2l_status p2l_lower_as_strided(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *self_v = p2l_value_of(ctx, "self");
    const p2l_arg *size = p2l_arg_of(ctx, "size"), *stride = p2l_arg_of(ctx, "stride");
    const p2l_arg *offset_a = p2l_arg_of(ctx, "storage_offset");
    if (!self_v || size->kind != P2L_ARG_INTS || stride->kind != P2L_ARG_INTS || size->count != stride->count)
        return p2l_unsupported(ctx, "as_strided needs size and stride lists of one length");
    if (size->symbolic || stride->symbolic || offset_a->symbolic || !p2l_dims_static(self_v->dims, self_v->rank))
        return p2l_unsupported(ctx, "as_strided with symbolic sizes");
    int64_t offset = offset_a->kind == P2L_ARG_INT ? offset_a->i : 0;
    int64_t total = p2l_dims_numel(self_v->dims, self_v->rank), n = 1;
    for (int i = 0; i < size->count; i++) n *= size->ints[i];
    if (n <= 0) return p2l_unsupported(ctx, "an empty as_strided view");
    if (n > (1 << 24)) return p2l_unsupported(ctx, "an as_strided view of %lld elements", (long long)n);
    int32_t *pos = p2l_alloc(sizeof(int32_t) * (size_t)n);
    if (!pos) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    bool identity = true;
    for (int64_t e = 0; e < n; e++) {
        int64_t rem = e, off = offset;
        for (int d = size->count - 1; d >= 0; d--) {
            off += (rem % size->ints[d]) * stride->ints[d];
            rem /= size->ints[d];
        }
        if (off < 0 || off >= total) {
            p2l_release(pos);
            return p2l_unsupported(ctx, "as_strided reads element %lld of a tensor of %lld elements (only views inside "
                                        "a contiguous input are supported)",
                                   (long long)off, (long long)total);
        }
        pos[e] = (int32_t)off;
        identity = identity && off == e;
    }
    int x = p2l_flatten(ctx, p2l_input(ctx, "self", NULL));
    if (identity && n == total) {
        p2l_release(pos);
        return p2l_logical_output(ctx, 0, x);
    }
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < size->count; i++) dims[i] = size->ints[i];
    int idx = size->count ? p2l_const_indices(ctx, size->count, dims, pos) : p2l_const_scalar(ctx, P2L_INT32, pos[0]);
    p2l_release(pos);
    return p2l_logical_output(ctx, 0, p2l_gather(ctx, x, idx, 0));
}
