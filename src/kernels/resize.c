/* RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR, NHWC float32, with TFLite's align_corners and
 * half_pixel_centers semantics. */
#include <math.h>

#include "kernels/kernels.h"

typedef struct resize_state {
    float scale_h, scale_w;
    bool align_corners, half_pixel;
} resize_state;

static float resize_scale(bool align_corners, int32_t in, int32_t out) {
    return align_corners && out > 1 ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
}

static p2l_status resize_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *size_t_ = node->inputs[1];
    P2L_TRY(p2l_expect_dtype(x, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    P2L_TRY(p2l_expect_rank(x, 4));
    P2L_TRY(p2l_expect_known(size_t_, "output size"));
    int64_t v[2];
    size_t n;
    P2L_TRY(p2l_read_ints(size_t_, v, 2, &n));
    if (n != 2 || v[0] < 0 || v[1] < 0 || v[0] > INT32_MAX || v[1] > INT32_MAX)
        return p2l_fail(P2L_ERROR_MALFORMED, "output size %s must be two non-negative values", P2L_LABEL(size_t_));
    resize_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    if (node->op == P2L_OP_RESIZE_BILINEAR) {
        st->align_corners = node->opts.resize_bilinear.align_corners;
        st->half_pixel = node->opts.resize_bilinear.half_pixel_centers;
    } else {
        st->align_corners = node->opts.resize_nearest_neighbor.align_corners;
        st->half_pixel = node->opts.resize_nearest_neighbor.half_pixel_centers;
    }
    if (st->align_corners && st->half_pixel)
        return p2l_fail(P2L_ERROR_MALFORMED, "align_corners and half_pixel_centers cannot both be set");
    int32_t dims[4] = {x->dims[0], (int32_t)v[0], (int32_t)v[1], x->dims[3]};
    if ((dims[1] || dims[2]) && (x->dims[1] == 0 || x->dims[2] == 0))
        return p2l_fail(P2L_ERROR_MALFORMED, "cannot resize an empty image to %dx%d", dims[1], dims[2]);
    if (dims[1]) st->scale_h = resize_scale(st->align_corners, x->dims[1], dims[1]);
    if (dims[2]) st->scale_w = resize_scale(st->align_corners, x->dims[2], dims[2]);
    return p2l_set_output_dims(node, 0, 4, dims);
}

/* Source coordinate and its two neighbours (clamped into the image). */
static void bilinear_source(int out, float scale, bool half_pixel, int32_t in_size, float *pos, int *lo, int *hi) {
    *pos = half_pixel ? ((float)out + 0.5f) * scale - 0.5f : (float)out * scale;
    int f = (int)floorf(*pos), c = (int)ceilf(*pos);
    *lo = f > 0 ? f : 0;
    *hi = c < in_size - 1 ? c : in_size - 1;
}

static int nearest_source(int out, float scale, bool align_corners, bool half_pixel, int32_t in_size) {
    float pos = ((float)out + (half_pixel ? 0.5f : 0.0f)) * scale;
    int i = align_corners ? (int)roundf(pos) : (int)floorf(pos); /* roundf: half away from zero */
    i = i < in_size - 1 ? i : in_size - 1;
    return half_pixel && i < 0 ? 0 : i;
}

static p2l_status resize_invoke(p2l_node *node) {
    const resize_state *st = node->state;
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    const int N = x->dims[0], H = x->dims[1], W = x->dims[2], C = x->dims[3], OH = y->dims[1], OW = y->dims[2];
    const float *in = x->data;
    float *out = y->data;
    const bool bilinear = node->op == P2L_OP_RESIZE_BILINEAR;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float *op = out + (((size_t)n * OH + oy) * OW + ox) * C;
                if (!bilinear) {
                    int iy = nearest_source(oy, st->scale_h, st->align_corners, st->half_pixel, H);
                    int ix = nearest_source(ox, st->scale_w, st->align_corners, st->half_pixel, W);
                    const float *ip = in + (((size_t)n * H + iy) * W + ix) * C;
                    for (int c = 0; c < C; c++) op[c] = ip[c];
                    continue;
                }
                float py, px;
                int y0, y1, x0, x1;
                bilinear_source(oy, st->scale_h, st->half_pixel, H, &py, &y0, &y1);
                bilinear_source(ox, st->scale_w, st->half_pixel, W, &px, &x0, &x1);
                const float dy = py - (float)y0, dx = px - (float)x0;
                const float *p00 = in + (((size_t)n * H + y0) * W + x0) * C;
                const float *p01 = in + (((size_t)n * H + y0) * W + x1) * C;
                const float *p10 = in + (((size_t)n * H + y1) * W + x0) * C;
                const float *p11 = in + (((size_t)n * H + y1) * W + x1) * C;
                for (int c = 0; c < C; c++)
                    op[c] = p00[c] * (1 - dy) * (1 - dx) + p10[c] * dy * (1 - dx) + p01[c] * (1 - dy) * dx +
                            p11[c] * dy * dx;
            }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_resize = {
    .prepare = resize_prepare, .invoke = resize_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
