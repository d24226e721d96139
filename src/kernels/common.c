/* Helpers shared by the kernels: shapes, dtypes, activations, broadcasting. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernels.h"

const char *p2l_tensor_label(const p2l_tensor *t, char *buf, size_t cap) {
    if (t->name && t->name[0])
        snprintf(buf, cap, "tensor %d '%s'", t->index, t->name);
    else
        snprintf(buf, cap, "tensor %d", t->index);
    return buf;
}

size_t p2l_dims_count(int rank, const int32_t *dims) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    return n;
}

p2l_status p2l_set_output_dims(p2l_node *node, int output, int rank, const int32_t *dims) {
    p2l_tensor *t = node->outputs[output];
    if (rank < 0 || rank > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "output %s would have rank %d (at most %d supported)", P2L_LABEL(t),
                        rank, P2L_MAX_DIMS);
    size_t count = 1, bytes;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "output %s would have a negative dim (%d)", P2L_LABEL(t), dims[i]);
        if (!p2l_mul_size(count, (size_t)dims[i], &count))
            return p2l_fail(P2L_ERROR_LIMIT, "output %s: element count overflows", P2L_LABEL(t));
    }
    if (!p2l_mul_size(count, p2l_dtype_size(t->dtype), &bytes))
        return p2l_fail(P2L_ERROR_LIMIT, "output %s: byte size overflows", P2L_LABEL(t));
    memmove(t->dims, dims, (size_t)rank * sizeof *dims); /* dims may alias t->dims */
    t->rank = rank;
    t->count = count;
    t->bytes = bytes;
    return P2L_OK;
}

p2l_status p2l_set_output_like(p2l_node *node, int output, const p2l_tensor *like) {
    return p2l_set_output_dims(node, output, like->rank, like->dims);
}

p2l_status p2l_expect_dtype(const p2l_tensor *t, p2l_dtype dtype) {
    if (t->dtype == dtype) return P2L_OK;
    return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s is %s, expected %s", P2L_LABEL(t), p2l_dtype_name(t->dtype),
                    p2l_dtype_name(dtype));
}

p2l_status p2l_expect_same_dtype(const p2l_tensor *t, const p2l_tensor *like) {
    if (t->dtype == like->dtype) return P2L_OK;
    return p2l_fail(P2L_ERROR_MALFORMED, "%s is %s but %s is %s", P2L_LABEL(t), p2l_dtype_name(t->dtype),
                    P2L_LABEL(like), p2l_dtype_name(like->dtype));
}

p2l_status p2l_expect_rank(const p2l_tensor *t, int rank) {
    if (t->rank == rank) return P2L_OK;
    return p2l_fail(P2L_ERROR_MALFORMED, "%s has rank %d, expected %d", P2L_LABEL(t), t->rank, rank);
}

p2l_status p2l_expect_known(const p2l_tensor *t, const char *role) {
    if (t->known) return P2L_OK;
    return p2l_fail(P2L_ERROR_UNSUPPORTED, "the %s (%s) is computed at run time; pt2lite needs it to be a constant "
                    "or computable from constants and input shapes", role, P2L_LABEL(t));
}

p2l_status p2l_read_ints(const p2l_tensor *t, int64_t *values, size_t cap, size_t *count) {
    if (t->dtype != P2L_INT32 && t->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_MALFORMED, "%s must be int32 or int64, got %s", P2L_LABEL(t), p2l_dtype_name(t->dtype));
    if (t->count > cap)
        return p2l_fail(P2L_ERROR_MALFORMED, "%s has %zu elements, at most %zu expected", P2L_LABEL(t), t->count, cap);
    for (size_t i = 0; i < t->count; i++)
        values[i] = t->dtype == P2L_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
    *count = t->count;
    return P2L_OK;
}

p2l_status p2l_normalize_axis(int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return P2L_OK;
}

p2l_status p2l_read_axis(const p2l_tensor *t, int rank, int *axis) {
    P2L_TRY(p2l_expect_known(t, "axis"));
    int64_t v = 0; /* set by p2l_read_ints (zeroed for aarch64 gcc's -Wmaybe-uninitialized) */
    size_t n = 0;
    P2L_TRY(p2l_read_ints(t, &v, 1, &n));
    if (n != 1) return p2l_fail(P2L_ERROR_MALFORMED, "axis %s must hold one value", P2L_LABEL(t));
    return p2l_normalize_axis(v, rank, axis);
}

p2l_status p2l_read_dims(const p2l_tensor *t, const char *role, int32_t min_dim, int *rank, int32_t *dims) {
    P2L_TRY(p2l_expect_known(t, role));
    int64_t v[P2L_MAX_DIMS];
    size_t n = 0;
    P2L_TRY(p2l_read_ints(t, v, P2L_MAX_DIMS, &n));
    for (size_t i = 0; i < n; i++) {
        if (v[i] < min_dim || v[i] > INT32_MAX)
            return p2l_fail(P2L_ERROR_MALFORMED, "%s element %zu is %lld", role, i, (long long)v[i]);
        dims[i] = (int32_t)v[i];
    }
    *rank = (int)n;
    return P2L_OK;
}

p2l_status p2l_expect_inputs_alike(const p2l_node *node) {
    const p2l_tensor *first = node->inputs[0];
    for (int i = 1; i < node->input_count; i++) {
        const p2l_tensor *t = node->inputs[i];
        P2L_TRY(p2l_expect_same_dtype(t, first));
        if (t->rank != first->rank || memcmp(t->dims, first->dims, (size_t)t->rank * sizeof *t->dims) != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "%s's shape differs from %s's", P2L_LABEL(t), P2L_LABEL(first));
    }
    return P2L_OK;
}

p2l_status p2l_check_activation(int activation) {
    if (activation >= P2L_ACT_NONE && activation <= P2L_ACT_TANH) return P2L_OK;
    return p2l_fail(P2L_ERROR_UNSUPPORTED, "fused activation %d is not supported", activation);
}

void p2l_apply_fused_activation(p2l_node *node) {
    const p2l_activation activation = p2l_fused_activation(node);
    if (activation != P2L_ACT_NONE) p2l_apply_activation(activation, node->outputs[0]->data, node->outputs[0]->count);
}

void p2l_apply_activation(int activation, float *data, size_t count) {
    float lo = -INFINITY, hi = INFINITY;
    switch (activation) {
    case P2L_ACT_RELU: lo = 0; break;
    case P2L_ACT_RELU_N1_TO_1: lo = -1, hi = 1; break;
    case P2L_ACT_RELU6: lo = 0, hi = 6; break;
    case P2L_ACT_TANH:
        for (size_t i = 0; i < count; i++) data[i] = tanhf(data[i]);
        return;
    default: return;
    }
    for (size_t i = 0; i < count; i++) data[i] = data[i] < lo ? lo : data[i] > hi ? hi : data[i];
}

p2l_status p2l_broadcast_dims(int count, const p2l_tensor *const *shapes, int *rank, int32_t *dims) {
    int r = 0;
    for (int k = 0; k < count; k++) r = shapes[k]->rank > r ? shapes[k]->rank : r;
    for (int d = 0; d < r; d++) {
        int32_t dim = 1;
        for (int k = 0; k < count; k++) {
            int offset = r - shapes[k]->rank;
            int32_t v = d < offset ? 1 : shapes[k]->dims[d - offset];
            if (v == dim || v == 1) continue;
            if (dim != 1) {
                return p2l_fail(P2L_ERROR_MALFORMED, "shapes do not broadcast: dim %d is %d in %s but %d elsewhere", d,
                                v, P2L_LABEL(shapes[k]), dim);
            }
            dim = v;
        }
        /* A zero-sized dim broadcasts against 1 only; dim stays 0 when any operand has 0. */
        for (int k = 0; k < count; k++) {
            int offset = r - shapes[k]->rank;
            if (d >= offset && shapes[k]->dims[d - offset] == 0) dim = 0;
        }
        dims[d] = dim;
    }
    *rank = r;
    return P2L_OK;
}

p2l_status p2l_broadcast_output(p2l_node *node, int count, const p2l_tensor *const *operands, p2l_bcast *b) {
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    P2L_TRY(p2l_broadcast_dims(count, operands, &rank, dims));
    P2L_TRY(p2l_set_output_dims(node, 0, rank, dims));
    p2l_bcast_init(b, count, operands, rank, dims);
    return P2L_OK;
}

void p2l_bcast_init(p2l_bcast *b, int count, const p2l_tensor *const *operands, int rank, const int32_t *dims) {
    memset(b, 0, sizeof *b);
    b->operands = count;
    /* Full strides per operand, 0 on broadcast dims. */
    size_t strides[P2L_BCAST_MAX_OPERANDS][P2L_MAX_DIMS];
    for (int k = 0; k < count; k++) {
        const p2l_tensor *t = operands[k];
        size_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int td = d - (rank - t->rank);
            int32_t v = td < 0 ? 1 : t->dims[td];
            strides[k][d] = v == 1 && dims[d] != 1 ? 0 : s;
            s *= (size_t)v;
        }
    }
    /* Merge dim d into the previous kept dim when every operand is contiguous across them. Size-1
     * dims carry no iteration, so they are dropped. */
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1) continue;
        /* b->dims are int32: keep dims apart when their product would not fit (> 2^31 elements). */
        bool merge = r > 0 && (int64_t)b->dims[r - 1] * dims[d] <= INT32_MAX;
        for (int k = 0; k < count && merge; k++)
            merge = strides[k][d] * (size_t)dims[d] == b->strides[k][r - 1] ||
                    (strides[k][d] == 0 && b->strides[k][r - 1] == 0);
        if (merge) {
            b->dims[r - 1] *= dims[d];
            for (int k = 0; k < count; k++) b->strides[k][r - 1] = strides[k][d];
        } else {
            b->dims[r] = dims[d];
            for (int k = 0; k < count; k++) b->strides[k][r] = strides[k][d];
            r++;
        }
    }
    if (r == 0) { /* a scalar or all-ones shape: one element */
        b->dims[0] = 1;
        for (int k = 0; k < count; k++) b->strides[k][0] = 0;
        r = 1;
    }
    b->rank = r;
    b->inner = (size_t)b->dims[r - 1];
    b->rows = 1;
    for (int d = 0; d < r - 1; d++) b->rows *= (size_t)b->dims[d];
    for (int d = 0; d < rank; d++)
        if (dims[d] == 0) b->rows = 0, b->inner = 0;
}

void p2l_bcast_next_row(const p2l_bcast *b, p2l_bcast_iter *it) {
    for (int d = b->rank - 2; d >= 0; d--) {
        for (int k = 0; k < b->operands; k++) it->offset[k] += b->strides[k][d];
        if (++it->index[d] < b->dims[d]) return;
        it->index[d] = 0;
        for (int k = 0; k < b->operands; k++) it->offset[k] -= b->strides[k][d] * (size_t)b->dims[d];
    }
}

void p2l_dims_strides(int rank, const int32_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

void p2l_view_simplify(const p2l_view *v, p2l_view *out) {
    int rank = 0;
    out->offset = v->offset;
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] == 1) continue;
        if (rank > 0 && out->strides[rank - 1] == v->strides[d] * v->dims[d] &&
            (int64_t)out->dims[rank - 1] * v->dims[d] <= INT32_MAX) {
            out->dims[rank - 1] *= v->dims[d];
            out->strides[rank - 1] = v->strides[d];
            continue;
        }
        out->dims[rank] = v->dims[d];
        out->strides[rank] = v->strides[d];
        rank++;
    }
    if (rank == 0) out->dims[0] = 1, out->strides[0] = 1, rank = 1;
    out->rank = rank;
}

/* n elements of elem_size bytes, element i from src[i * stride] (stride in elements). */
static void copy_strided_row(uint8_t *dst, const uint8_t *src, size_t elem_size, int32_t n, int64_t stride) {
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * elem_size);
        return;
    }
#define COPY_ROW(T)                                                                         \
    for (int32_t i = 0; i < n; i++) ((T *)dst)[i] = ((const T *)src)[(int64_t)i * stride]; \
    break
    switch (elem_size) {
    case 1: COPY_ROW(uint8_t);
    case 2: COPY_ROW(uint16_t);
    case 4: COPY_ROW(uint32_t);
    case 8: COPY_ROW(uint64_t);
    default: break;
    }
#undef COPY_ROW
}

typedef struct view_copy {
    p2l_view v; /* simplified */
    uint8_t *dst;
    const uint8_t *src;
    size_t elem_size, rows, rows_per_task;
} view_copy;

/* Rows [task * rows_per_task, ...) of the view: each row is the innermost dim. */
static void copy_view_rows(void *ctx, size_t task, int thread) {
    (void)thread;
    const view_copy *c = ctx;
    const p2l_view *v = &c->v;
    const int outer_rank = v->rank - 1;
    const int32_t inner = v->dims[outer_rank];
    const size_t r0 = task * c->rows_per_task, r1 = r0 + c->rows_per_task < c->rows ? r0 + c->rows_per_task : c->rows;
    int32_t index[P2L_MAX_DIMS] = {0};
    int64_t pos = v->offset;
    size_t rest = r0; /* r0 as an index over the outer dims */
    for (int d = outer_rank - 1; d >= 0; d--) {
        index[d] = (int32_t)(rest % (size_t)v->dims[d]);
        rest /= (size_t)v->dims[d];
        pos += (int64_t)index[d] * v->strides[d];
    }
    uint8_t *out = c->dst + r0 * (size_t)inner * c->elem_size;
    for (size_t r = r0; r < r1; r++) {
        copy_strided_row(out, c->src + pos * (int64_t)c->elem_size, c->elem_size, inner, v->strides[outer_rank]);
        out += (size_t)inner * c->elem_size;
        for (int d = outer_rank - 1; d >= 0; d--) {
            pos += v->strides[d];
            if (++index[d] < v->dims[d]) break;
            pos -= v->strides[d] * v->dims[d];
            index[d] = 0;
        }
    }
}

void p2l_copy_view(const p2l_node *node, const p2l_view *view, void *dst, const void *src, size_t elem_size) {
    view_copy c = {.dst = dst, .src = src, .elem_size = elem_size};
    p2l_view_simplify(view, &c.v);
    c.rows = p2l_dims_count(c.v.rank - 1, c.v.dims);
    if (c.rows == 0 || c.v.dims[c.v.rank - 1] == 0) return;
    const size_t count = c.rows * (size_t)c.v.dims[c.v.rank - 1];
    p2l_threadpool *pool = p2l_node_pool(node, (double)count);
    const size_t tasks = pool ? 4 * (size_t)p2l_threadpool_threads(pool) : 1;
    c.rows_per_task = (c.rows + tasks - 1) / tasks;
    p2l_parallel_for(pool, (c.rows + c.rows_per_task - 1) / c.rows_per_task, copy_view_rows, &c);
}

p2l_view *p2l_new_view(p2l_node *node) {
    p2l_view *v = p2l_arena_alloc(node->arena, sizeof *v);
    node->state = v;
    return v;
}

p2l_status p2l_view_invoke(p2l_node *node) {
    const p2l_view *v = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    if (y->count) p2l_copy_view(node, v, y->data, x->data, p2l_dtype_size(x->dtype));
    return P2L_OK;
}
