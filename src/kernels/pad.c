/* PAD, PADV2 (constant value) and MIRROR_PAD (REFLECT / SYMMETRIC). Any dtype; PAD on a quantized
 * tensor pads with its zero point (the real value 0), as TFLite. */
#include <string.h>

#include "kernels/quant_math.h"

typedef struct pad_state {
    int32_t before[P2L_MAX_DIMS];
} pad_state;

static p2l_status pad_common(p2l_node *node, bool mirror) {
    const p2l_tensor *x = node->inputs[0], *paddings = node->inputs[1];
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    P2L_TRY(p2l_expect_known(paddings, "paddings"));
    int64_t v[2 * P2L_MAX_DIMS];
    size_t n;
    P2L_TRY(p2l_read_ints(paddings, v, 2 * P2L_MAX_DIMS, &n));
    if ((int)n != 2 * x->rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "paddings has %zu entries for a rank-%d input (expected [%d, 2])", n,
                        x->rank, x->rank);
    pad_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    int mode = mirror ? (int)node->opts.mirror_pad.mode : 0;
    if (mirror && mode != P2L_MIRROR_REFLECT && mode != P2L_MIRROR_SYMMETRIC)
        return p2l_fail(P2L_ERROR_MALFORMED, "mirror pad mode %d is neither REFLECT nor SYMMETRIC", mode);
    int32_t dims[P2L_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) {
        int64_t before = v[2 * d], after = v[2 * d + 1];
        int64_t limit = !mirror ? INT32_MAX : mode == P2L_MIRROR_REFLECT ? x->dims[d] - 1 : x->dims[d];
        if (before < 0 || after < 0 || before > limit || after > limit)
            return p2l_fail(P2L_ERROR_MALFORMED, "padding (%lld, %lld) of dim %d (size %d) is out of range",
                            (long long)before, (long long)after, d, x->dims[d]);
        int64_t size = x->dims[d] + before + after;
        if (size > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "padded dim %d is too large", d);
        dims[d] = (int32_t)size;
        st->before[d] = (int32_t)before;
    }
    return p2l_set_output_dims(node, 0, x->rank, dims);
}

static p2l_status pad_prepare(p2l_node *node) {
    if (p2l_is_quantized_dtype(node->inputs[0]->dtype)) P2L_TRY(p2l_quant_expect_same(node->outputs[0], node->inputs[0]));
    if (node->input_count > 2 && node->inputs[2]) {
        const p2l_tensor *value = node->inputs[2];
        P2L_TRY(p2l_expect_same_dtype(value, node->inputs[0]));
        if (value->count != 1) return p2l_fail(P2L_ERROR_MALFORMED, "pad value %s must be a scalar", P2L_LABEL(value));
    }
    return pad_common(node, false);
}

static void fill(uint8_t *dst, const uint8_t *value, size_t size, size_t count) {
    for (size_t i = 0; i < count; i++) memcpy(dst + i * size, value, size);
}

static p2l_status pad_invoke(p2l_node *node) {
    const pad_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    const size_t size = p2l_dtype_size(x->dtype);
    uint8_t zero[8] = {0};
    if (p2l_is_quantized_dtype(y->dtype) && y->quant_count) { /* the zero point, in the dtype's bytes */
        const int16_t zero_point = (int16_t)y->zero_points[0];
        if (size == 1) zero[0] = (uint8_t)zero_point;
        else memcpy(zero, &zero_point, sizeof zero_point);
    }
    const uint8_t *value = node->input_count > 2 && node->inputs[2] ? node->inputs[2]->data : zero;
    if (y->count == 0) return P2L_OK;
    if (x->rank == 0) {
        memcpy(y->data, x->data, size);
        return P2L_OK;
    }
    const int R = x->rank;
    const size_t inner = (size_t)y->dims[R - 1], in_inner = (size_t)x->dims[R - 1];
    const size_t rows = y->count / inner;
    int64_t in_strides[P2L_MAX_DIMS];
    p2l_dims_strides(R, x->dims, in_strides);
    int32_t index[P2L_MAX_DIMS] = {0};
    uint8_t *out = y->data;
    const uint8_t *in = x->data;
    for (size_t r = 0; r < rows; r++, out += inner * size) {
        bool inside = true;
        int64_t src = 0;
        for (int d = 0; d < R - 1; d++) {
            int64_t i = index[d] - st->before[d];
            if (i < 0 || i >= x->dims[d]) inside = false;
            src += i * in_strides[d];
        }
        if (!inside) {
            fill(out, value, size, inner);
        } else {
            size_t before = (size_t)st->before[R - 1];
            fill(out, value, size, before);
            if (in_inner) memcpy(out + before * size, in + (size_t)src * size, in_inner * size);
            fill(out + (before + in_inner) * size, value, size, inner - before - in_inner);
        }
        p2l_index_next(R - 1, y->dims, index);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_pad = {
    .prepare = pad_prepare, .invoke = pad_invoke,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status mirror_pad_prepare(p2l_node *node) { return pad_common(node, true); }

static p2l_status mirror_pad_invoke(p2l_node *node) {
    const pad_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    const size_t size = p2l_dtype_size(x->dtype);
    const bool reflect = node->opts.mirror_pad.mode == P2L_MIRROR_REFLECT;
    int64_t in_strides[P2L_MAX_DIMS];
    p2l_dims_strides(x->rank, x->dims, in_strides);
    int32_t index[P2L_MAX_DIMS] = {0};
    const uint8_t *in = x->data;
    uint8_t *out = y->data;
    for (size_t e = 0; e < y->count; e++) {
        int64_t src = 0;
        for (int d = 0; d < x->rank; d++) {
            int64_t i = index[d] - st->before[d], n = x->dims[d];
            if (i < 0) i = reflect ? -i : -i - 1;
            else if (i >= n) i = reflect ? 2 * n - i - 2 : 2 * n - i - 1;
            src += i * in_strides[d];
        }
        memcpy(out + e * size, in + (size_t)src * size, size);
        p2l_index_next(x->rank, y->dims, index);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_mirror_pad = {
    .prepare = mirror_pad_prepare, .invoke = mirror_pad_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
