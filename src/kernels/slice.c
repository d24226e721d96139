/* SLICE and STRIDED_SLICE (begin/end/ellipsis/new_axis/shrink_axis masks and `offset`), as strided
 * views of the input. Bounds are constants (or computed at prepare). */
#include <string.h>

#include "kernels/kernels.h"

static p2l_status read_known_ints(const p2l_tensor *t, const char *role, int64_t *v, size_t cap, size_t *n) {
    P2L_TRY(p2l_expect_known(t, role));
    P2L_TRY(p2l_read_ints(t, v, cap, n));
    /* Keep the arithmetic below far from int64 overflow; dims are below 2^31 anyway. */
    const int64_t limit = (int64_t)1 << 40;
    for (size_t i = 0; i < *n; i++) v[i] = v[i] > limit ? limit : v[i] < -limit ? -limit : v[i];
    return P2L_OK;
}

static p2l_status slice_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    int64_t begin[P2L_MAX_DIMS], size[P2L_MAX_DIMS];
    size_t nb, ns;
    P2L_TRY(read_known_ints(node->inputs[1], "begin", begin, P2L_MAX_DIMS, &nb));
    P2L_TRY(read_known_ints(node->inputs[2], "size", size, P2L_MAX_DIMS, &ns));
    if ((int)nb != x->rank || (int)ns != x->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "begin and size need %d entries (got %zu and %zu)", x->rank, nb, ns);
    p2l_view *v = p2l_new_view(node);
    if (!v) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int64_t strides[P2L_MAX_DIMS];
    p2l_dims_strides(x->rank, x->dims, strides);
    v->rank = x->rank;
    for (int d = 0; d < x->rank; d++) {
        int64_t b = begin[d], s = size[d] == -1 ? x->dims[d] - b : size[d];
        if (b < 0 || s < 0 || b + s > x->dims[d])
            return p2l_fail(P2L_ERROR_MALFORMED, "slice [%lld, +%lld) of dim %d (size %d) is out of range", (long long)b,
                            (long long)size[d], d, x->dims[d]);
        v->dims[d] = (int32_t)s;
        v->strides[d] = strides[d];
        v->offset += b * strides[d];
    }
    return p2l_set_output_dims(node, 0, v->rank, v->dims);
}

const p2l_kernel p2l_kernel_slice = {
    .prepare = slice_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
};

typedef struct dense_dim {
    int64_t begin, end, stride;
    bool begin_masked, end_masked, shrink;
} dense_dim;

enum { MAX_SPARSE = 2 * P2L_MAX_DIMS, NEW_AXIS = -1 };

static p2l_status strided_slice_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    int64_t begin[MAX_SPARSE], end[MAX_SPARSE], step[MAX_SPARSE];
    size_t n, ne, ns;
    P2L_TRY(read_known_ints(node->inputs[1], "begin", begin, MAX_SPARSE, &n));
    P2L_TRY(read_known_ints(node->inputs[2], "end", end, MAX_SPARSE, &ne));
    P2L_TRY(read_known_ints(node->inputs[3], "strides", step, MAX_SPARSE, &ns));
    if (ne != n || ns != n)
        return p2l_fail(P2L_ERROR_MALFORMED, "begin, end and strides differ in length (%zu, %zu, %zu)", n, ne, ns);
    const p2l_strided_slice_options *o = &node->opts.strided_slice;
    const int begin_mask = o->begin_mask, end_mask = o->end_mask;
    const int ellipsis_mask = o->ellipsis_mask;
    const int new_axis_mask = o->new_axis_mask;
    const int shrink_mask = o->shrink_axis_mask;
    const bool offset = o->offset;
    const int R = x->rank;

    /* Sparse spec (as written) -> one entry per input dim, plus where new axes go in the output. */
    dense_dim dense[P2L_MAX_DIMS];
    int out_map[MAX_SPARSE + P2L_MAX_DIMS], out_count = 0, full = 0, ellipsis_at = -1;
    for (size_t i = 0; i < n; i++)
        if (ellipsis_mask >> i & 1) {
            if (ellipsis_at >= 0) return p2l_fail(P2L_ERROR_MALFORMED, "more than one ellipsis");
            ellipsis_at = (int)i;
        }
    int new_after_ellipsis = 0;
    for (size_t i = (size_t)(ellipsis_at + 1); ellipsis_at >= 0 && i < n; i++)
        new_after_ellipsis += new_axis_mask >> i & 1;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == ellipsis_at) {
            int next = R - (int)(n - i) + 1 + new_after_ellipsis;
            next = next < R ? next : R;
            for (; full < next; full++) {
                dense[full] = (dense_dim){0, 0, 1, true, true, false};
                out_map[out_count++] = full;
            }
        } else if (new_axis_mask >> i & 1) {
            out_map[out_count++] = NEW_AXIS;
        } else {
            if (full >= R)
                return p2l_fail(P2L_ERROR_MALFORMED, "the slice spec has more dims than the rank-%d input", R);
            dense[full] = (dense_dim){begin[i], end[i], step[i], begin_mask >> i & 1, end_mask >> i & 1,
                                      shrink_mask >> i & 1};
            if (!dense[full].shrink) out_map[out_count++] = full;
            full++;
        }
    }
    for (; full < R; full++) {
        dense[full] = (dense_dim){0, 0, 1, true, true, false};
        out_map[out_count++] = full;
    }
    if (out_count > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "output rank %d is above %d", out_count, P2L_MAX_DIMS);

    p2l_view *v = p2l_new_view(node);
    if (!v) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int64_t strides[P2L_MAX_DIMS];
    p2l_dims_strides(R, x->dims, strides);
    v->rank = R;
    for (int d = 0; d < R; d++) {
        const dense_dim *s = &dense[d];
        const int64_t dim = x->dims[d];
        if (s->stride == 0) return p2l_fail(P2L_ERROR_MALFORMED, "stride of dim %d is 0", d);
        int64_t start, size;
        if (s->shrink) {
            start = s->begin < 0 ? s->begin + dim : s->begin;
            if (start < 0 || start >= dim)
                return p2l_fail(P2L_ERROR_MALFORMED, "index %lld is out of range for dim %d of size %lld",
                                (long long)s->begin, d, (long long)dim);
            size = 1;
        } else {
            const bool forward = s->stride > 0;
            const int64_t lo = forward ? 0 : -1, hi = forward ? dim : dim - 1;
            int64_t b = s->begin_masked ? (forward ? 0 : dim - 1) : (s->begin < 0 ? s->begin + dim : s->begin);
            start = b < lo ? lo : b > hi ? hi : b;
            int64_t e;
            if (s->end_masked) e = forward ? dim : -1;
            else if (offset) e = b + s->end;
            else e = s->end < 0 ? s->end + dim : s->end;
            int64_t stop = e < lo ? lo : e > hi ? hi : e;
            size = forward ? (stop > start ? (stop - start + s->stride - 1) / s->stride : 0)
                           : (start > stop ? (start - stop - s->stride - 1) / -s->stride : 0);
        }
        v->dims[d] = (int32_t)size;
        v->strides[d] = strides[d] * (s->shrink ? 1 : s->stride);
        if (size > 0) v->offset += start * strides[d];
    }
    int32_t out_dims[P2L_MAX_DIMS];
    for (int i = 0; i < out_count; i++) out_dims[i] = out_map[i] == NEW_AXIS ? 1 : v->dims[out_map[i]];
    return p2l_set_output_dims(node, 0, out_count, out_dims);
}

const p2l_kernel p2l_kernel_strided_slice = {
    .prepare = strided_slice_prepare, .invoke = p2l_view_invoke,
    .min_inputs = 4, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
};
