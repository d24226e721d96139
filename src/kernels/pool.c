/* AVERAGE_POOL_2D and MAX_POOL_2D, NHWC float32 and quantized int8 (same scale and zero point in
 * and out, as TFLite requires). With SAME padding the average counts only the window elements
 * inside the input, as LiteRT does. */
#include <math.h>

#include "kernels/quant_math.h"

typedef p2l_pool_params pool_params; /* kernels.h: the fast variants reuse it */

static p2l_status pool_geometry(int padding, int32_t in, int filter, int stride, int32_t *out, int *pad) {
    if (stride < 1 || filter < 1)
        return p2l_fail(P2L_ERROR_MALFORMED, "stride %d and filter size %d must be at least 1", stride, filter);
    int64_t size;
    if (padding == P2L_PAD_SAME) size = ((int64_t)in + stride - 1) / stride;
    else if (padding == P2L_PAD_VALID) size = ((int64_t)in - filter + stride) / stride;
    else return p2l_fail(P2L_ERROR_MALFORMED, "padding %d is neither SAME nor VALID", padding);
    if (size < 0) size = 0;
    if ((size - 1) * stride + filter > INT32_MAX)
        return p2l_fail(P2L_ERROR_MALFORMED, "stride %d and filter size %d are too large", stride, filter);
    int64_t total = (size - 1) * stride + filter - in;
    *pad = total > 0 ? (int)(total / 2) : 0;
    *out = (int32_t)size;
    return P2L_OK;
}

static p2l_status pool_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    const bool quantized = x->dtype == P2L_INT8;
    if (!quantized) P2L_TRY(p2l_expect_dtype(x, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(node->outputs[0], x->dtype));
    P2L_TRY(p2l_expect_rank(x, 4));
    pool_params *p = p2l_arena_alloc(node->arena, sizeof *p);
    if (!p) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = p;
    const p2l_pool2d_options *o = &node->opts.pool2d;
    p->stride_h = o->stride_h;
    p->stride_w = o->stride_w;
    p->filter_h = o->filter_height;
    p->filter_w = o->filter_width;
    p->activation = o->fused_activation_function;
    P2L_TRY(p2l_check_activation(p->activation));
    if (quantized) {
        float sx = 1, sy = 1;
        int32_t zx = 0, zy = 0;
        P2L_TRY(p2l_quant_per_tensor(x, &sx, &zx));
        P2L_TRY(p2l_quant_per_tensor(node->outputs[0], &sy, &zy));
        if (sx != sy || zx != zy)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "int8 pooling needs the same scale and zero point in and out (%g, "
                            "%d vs %g, %d)", (double)sx, zx, (double)sy, zy);
        P2L_TRY(p2l_quantized_activation_range(p->activation, node->outputs[0], &p->act_min, &p->act_max));
    }
    int padding = o->padding;
    int32_t dims[4] = {x->dims[0], 0, 0, x->dims[3]};
    P2L_TRY(pool_geometry(padding, x->dims[1], p->filter_h, p->stride_h, &dims[1], &p->pad_h));
    P2L_TRY(pool_geometry(padding, x->dims[2], p->filter_w, p->stride_w, &dims[2], &p->pad_w));
    return p2l_set_output_dims(node, 0, 4, dims);
}

/* One window of `rows` x `cols` pixels (row_stride, C elements apart), all C channels. */
static void pool_window_f32(bool average, const float *in, size_t row_stride, int rows, int cols, int C, float *out) {
    for (int c = 0; c < C; c++) {
        float acc = average ? 0.0f : -INFINITY;
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) {
                const float v = in[(size_t)r * row_stride + (size_t)k * (size_t)C + (size_t)c];
                if (average) acc += v;
                else acc = v > acc || v != v ? v : acc; /* NaN wins, as in PyTorch */
            }
        const int count = rows * cols;
        out[c] = average ? (count > 0 ? acc / (float)count : 0.0f) : acc;
    }
}

/* The int8 average rounds half away from zero, as TFLite's integer AveragePool; the result is
 * clamped to the fused activation's range. */
static void pool_window_int8(const pool_params *p, bool average, const int8_t *in, size_t row_stride, int rows,
                             int cols, int C, int8_t *out) {
    const int32_t count = rows * cols;
    for (int c = 0; c < C; c++) {
        int32_t acc = average ? 0 : INT8_MIN;
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < cols; k++) {
                const int32_t v = in[(size_t)r * row_stride + (size_t)k * (size_t)C + (size_t)c];
                if (average) acc += v;
                else acc = v > acc ? v : acc;
            }
        if (average && count > 0) acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        out[c] = (int8_t)p2l_clamp_i32(acc, p->act_min, p->act_max);
    }
}

static p2l_status pool_invoke(p2l_node *node) {
    const pool_params *p = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    const bool quantized = x->dtype == P2L_INT8, average = node->op == P2L_OP_AVERAGE_POOL_2D;
    const int N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3], OH = y->dims[1], OW = y->dims[2];
    const size_t row_stride = (size_t)W * (size_t)C;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const int y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                const int ys = y0 < 0 ? 0 : y0, ye = y0 + p->filter_h < H ? y0 + p->filter_h : H;
                const int xs = x0 < 0 ? 0 : x0, xe = x0 + p->filter_w < W ? x0 + p->filter_w : W;
                const int rows = ye > ys ? ye - ys : 0, cols = xe > xs ? xe - xs : 0;
                /* a window with no pixel inside reads nothing (and may start past the input) */
                const size_t in_at = rows && cols ? (((size_t)n * H + ys) * W + xs) * C : 0;
                const size_t out_at = (((size_t)n * OH + oy) * OW + ox) * C;
                if (quantized)
                    pool_window_int8(p, average, (const int8_t *)x->data + in_at, row_stride, rows, cols, C,
                                     (int8_t *)y->data + out_at);
                else
                    pool_window_f32(average, (const float *)x->data + in_at, row_stride, rows, cols, C,
                                    (float *)y->data + out_at);
            }
    if (!quantized) p2l_apply_activation(p->activation, y->data, y->count);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_pool = {
    .prepare = pool_prepare, .invoke = pool_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
