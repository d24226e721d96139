/* AVERAGE_POOL_2D and MAX_POOL_2D, NHWC float32. With SAME padding the average counts only the
 * window elements inside the input, as LiteRT does. */
#include <math.h>

#include "kernels/kernels.h"

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
    P2L_TRY(p2l_expect_dtype(x, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
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
    int padding = o->padding;
    int32_t dims[4] = {x->dims[0], 0, 0, x->dims[3]};
    P2L_TRY(pool_geometry(padding, x->dims[1], p->filter_h, p->stride_h, &dims[1], &p->pad_h));
    P2L_TRY(pool_geometry(padding, x->dims[2], p->filter_w, p->stride_w, &dims[2], &p->pad_w));
    return p2l_set_output_dims(node, 0, 4, dims);
}

static p2l_status pool_invoke(p2l_node *node) {
    const pool_params *p = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    const float *in = x->data;
    float *out = y->data;
    const int N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3], OH = y->dims[1], OW = y->dims[2];
    const bool average = node->op == P2L_OP_AVERAGE_POOL_2D;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const int y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                const int ys = y0 < 0 ? 0 : y0, ye = y0 + p->filter_h < H ? y0 + p->filter_h : H;
                const int xs = x0 < 0 ? 0 : x0, xe = x0 + p->filter_w < W ? x0 + p->filter_w : W;
                float *op = out + (((size_t)n * OH + oy) * OW + ox) * C;
                for (int c = 0; c < C; c++) {
                    float acc = average ? 0.0f : -INFINITY;
                    for (int iy = ys; iy < ye; iy++)
                        for (int ix = xs; ix < xe; ix++) {
                            float v = in[(((size_t)n * H + iy) * W + ix) * C + c];
                            if (average) acc += v;
                            else acc = v > acc || v != v ? v : acc; /* NaN wins, as in PyTorch */
                        }
                    int count = (ye - ys) * (xe - xs);
                    op[c] = average ? (count > 0 ? acc / (float)count : 0.0f) : acc;
                }
            }
    p2l_apply_activation(p->activation, out, y->count);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_pool = {
    .prepare = pool_prepare, .invoke = pool_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
