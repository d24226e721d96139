/* TOPK_V2: the k largest values along the last axis, in descending order, with their indices
 * (int32). Equal values keep their input order (the lower index first), as LiteRT does. */
#include <string.h>

#include "kernels/kernels.h"

typedef struct topk_state {
    size_t rows, n, k;
    int32_t *order, *scratch; /* n each: a stable merge sort of one row's indices */
} topk_state;

static p2l_status topk_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *k_t = node->inputs[1];
    if (x->dtype != P2L_FLOAT32 && x->dtype != P2L_INT32 && x->dtype != P2L_INT64)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "TOPK_V2 of %s is not supported", p2l_dtype_name(x->dtype));
    if (x->rank < 1) return p2l_fail(P2L_ERROR_MALFORMED, "input %s must have rank 1 or more", P2L_LABEL(x));
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    P2L_TRY(p2l_expect_dtype(node->outputs[1], P2L_INT32));
    P2L_TRY(p2l_expect_known(k_t, "k"));
    int64_t k;
    size_t count;
    P2L_TRY(p2l_read_ints(k_t, &k, 1, &count));
    int32_t n = x->dims[x->rank - 1];
    if (count != 1 || k < 0 || k > n)
        return p2l_fail(P2L_ERROR_MALFORMED, "k=%lld is out of range for a last dim of %d", (long long)k, n);
    topk_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->n = (size_t)n;
    st->k = (size_t)k;
    st->rows = n ? x->count / (size_t)n : 0;
    st->order = p2l_arena_alloc(node->arena, sizeof(int32_t) * (2 * st->n + 1));
    if (!st->order) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->scratch = st->order + st->n;
    node->state = st;
    int32_t dims[P2L_MAX_DIMS];
    memcpy(dims, x->dims, sizeof(int32_t) * (size_t)x->rank);
    dims[x->rank - 1] = (int32_t)k;
    P2L_TRY(p2l_set_output_dims(node, 0, x->rank, dims));
    return p2l_set_output_dims(node, 1, x->rank, dims);
}

/* Whether element a goes before element b: larger first, then lower index. */
static bool before(p2l_dtype t, const void *row, int32_t a, int32_t b) {
    switch (t) {
    case P2L_FLOAT32: { /* NaN is larger than any number, as in torch.topk (and a strict order for the sort) */
        float x = ((const float *)row)[a], y = ((const float *)row)[b];
        if (x != x || y != y) return y == y || (x != x && a < b);
        return x > y || (x == y && a < b);
    }
    case P2L_INT32: {
        int32_t x = ((const int32_t *)row)[a], y = ((const int32_t *)row)[b];
        return x > y || (x == y && a < b);
    }
    default: {
        int64_t x = ((const int64_t *)row)[a], y = ((const int64_t *)row)[b];
        return x > y || (x == y && a < b);
    }
    }
}

static void merge_sort(p2l_dtype t, const void *row, int32_t *v, int32_t *tmp, size_t n) {
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) tmp[o++] = before(t, row, v[j], v[i]) ? v[j++] : v[i++];
            while (i < mid) tmp[o++] = v[i++];
            while (j < hi) tmp[o++] = v[j++];
        }
        memcpy(v, tmp, sizeof(int32_t) * n);
    }
}

static p2l_status topk_invoke(p2l_node *node) {
    const topk_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    size_t esize = p2l_dtype_size(x->dtype);
    uint8_t *values = node->outputs[0]->data;
    int32_t *indices = node->outputs[1]->data;
    for (size_t r = 0; r < st->rows; r++) {
        const uint8_t *row = (const uint8_t *)x->data + r * st->n * esize;
        for (size_t i = 0; i < st->n; i++) st->order[i] = (int32_t)i;
        merge_sort(x->dtype, row, st->order, st->scratch, st->n);
        for (size_t i = 0; i < st->k; i++) {
            memcpy(values + (r * st->k + i) * esize, row + (size_t)st->order[i] * esize, esize);
            indices[r * st->k + i] = st->order[i];
        }
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_topk_v2 = {
    .prepare = topk_prepare, .invoke = topk_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 2, .max_outputs = 2,
};
