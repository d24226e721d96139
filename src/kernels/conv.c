/* Convolutions, NHWC: CONV_2D (filter OHWI, grouped when the filter has fewer input channels than
 * the input), DEPTHWISE_CONV_2D (filter 1HW(C*M)) and TRANSPOSE_CONV (inputs output_shape, filter
 * OHWI, input, optional bias). Float32 reference kernels; CONV_2D and DEPTHWISE_CONV_2D also int8
 * (per-channel or per-tensor symmetric int8 filters, int32 bias), as TFLite's ConvPerChannel. */
#include <string.h>

#include "kernels/quant_math.h"

typedef p2l_conv_params conv_params; /* kernels.h: the fast variants reuse it */

/* Output size and leading padding of one spatial dim, as TFLite computes them. */
static p2l_status conv_geometry(int padding, int32_t in, int32_t filter, int stride, int dilation, int32_t *out,
                                int *pad) {
    if (stride < 1 || dilation < 1)
        return p2l_fail(P2L_ERROR_MALFORMED, "stride %d and dilation %d must be at least 1", stride, dilation);
    int64_t effective = ((int64_t)filter - 1) * dilation + 1;
    int64_t size;
    if (padding == P2L_PAD_SAME) size = ((int64_t)in + stride - 1) / stride;
    else if (padding == P2L_PAD_VALID) size = ((int64_t)in - effective + stride) / stride;
    else return p2l_fail(P2L_ERROR_MALFORMED, "padding %d is neither SAME nor VALID", padding);
    if (size < 0) size = 0;
    /* Keeps every window coordinate the kernels compute within int. */
    if (effective > INT32_MAX || (size - 1) * stride + effective > INT32_MAX || (int64_t)in * stride > INT32_MAX)
        return p2l_fail(P2L_ERROR_MALFORMED, "stride %d, dilation %d and filter size %d are too large", stride,
                        dilation, filter);
    int64_t total = (size - 1) * stride + effective - in;
    *pad = total > 0 ? (int)(total / 2) : 0;
    *out = (int32_t)size;
    return P2L_OK;
}

static p2l_status expect_float(const p2l_node *node) {
    /* int8 weights under a float input: a hybrid node, whose kernel (hybrid.c) checks them */
    const bool hybrid = node->op != P2L_OP_TRANSPOSE_CONV && node->inputs[1]->dtype == P2L_INT8;
    for (int i = 0; i < node->input_count; i++)
        if (node->inputs[i] && !(node->op == P2L_OP_TRANSPOSE_CONV && i == 0) && !(hybrid && i == 1))
            P2L_TRY(p2l_expect_dtype(node->inputs[i], P2L_FLOAT32));
    return p2l_expect_dtype(node->outputs[0], P2L_FLOAT32);
}

/* Params from the options of CONV_2D, DEPTHWISE_CONV_2D or TRANSPOSE_CONV (no dilation). */
static conv_params *new_params(p2l_node *node, int *padding) {
    conv_params *p = p2l_arena_alloc(node->arena, sizeof *p);
    if (!p) return NULL;
#define GEOMETRY(o, dilation_h_, dilation_w_)                                                  \
    (p->stride_h = (o)->stride_h, p->stride_w = (o)->stride_w, p->dilation_h = (dilation_h_), \
     p->dilation_w = (dilation_w_), *padding = (o)->padding)
    if (node->op == P2L_OP_CONV_2D) {
        const p2l_conv2d_options *o = &node->opts.conv2d;
        GEOMETRY(o, o->dilation_h_factor, o->dilation_w_factor);
    } else if (node->op == P2L_OP_DEPTHWISE_CONV_2D) {
        const p2l_depthwise_conv2d_options *o = &node->opts.depthwise_conv2d;
        GEOMETRY(o, o->dilation_h_factor, o->dilation_w_factor);
    } else {
        GEOMETRY(&node->opts.transpose_conv, 1, 1);
    }
#undef GEOMETRY
    p->activation = p2l_fused_activation(node);
    node->state = p;
    return p;
}

static p2l_status check_bias(const p2l_tensor *bias, int32_t channels) {
    if (bias && (bias->count != (size_t)channels))
        return p2l_fail(P2L_ERROR_MALFORMED, "bias %s has %zu elements, expected %d", P2L_LABEL(bias), bias->count,
                        channels);
    return P2L_OK;
}

static p2l_status conv_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    const bool quantized = x->dtype == P2L_INT8; /* p2l_quant_conv_prepare checks the other dtypes */
    if (!quantized) P2L_TRY(expect_float(node));
    P2L_TRY(p2l_expect_rank(x, 4));
    P2L_TRY(p2l_expect_rank(w, 4));
    int padding;
    conv_params *p = new_params(node, &padding);
    if (!p) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    P2L_TRY(p2l_check_activation(p->activation));
    int32_t in_c = x->dims[3], out_c = w->dims[0];
    bool depthwise = node->op == P2L_OP_DEPTHWISE_CONV_2D;
    if (depthwise) {
        out_c = w->dims[3];
        if (w->dims[0] != 1 || in_c == 0 || out_c % in_c != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "depthwise filter %s [%d,%d,%d,%d] does not fit %d input channels",
                            P2L_LABEL(w), w->dims[0], w->dims[1], w->dims[2], w->dims[3], in_c);
        p->depth_multiplier = out_c / in_c;
    } else {
        int32_t filter_c = w->dims[3];
        if (in_c == 0 || filter_c == 0 || in_c % filter_c != 0 || out_c % (in_c / filter_c) != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "filter %s has %d input channels, which does not divide the input's %d "
                            "into groups that divide %d output channels", P2L_LABEL(w), filter_c, in_c, out_c);
        p->groups = in_c / filter_c;
    }
    P2L_TRY(check_bias(bias, out_c));
    if (quantized) {
        p2l_quant_conv *q;
        P2L_TRY(p2l_quant_conv_prepare(node, 0, 1, 2, depthwise ? 3 : 0, out_c, p->activation, &q));
        p->quant = q;
    }
    int32_t dims[4] = {x->dims[0], 0, 0, out_c};
    P2L_TRY(conv_geometry(padding, x->dims[1], w->dims[1], p->stride_h, p->dilation_h, &dims[1], &p->pad_h));
    P2L_TRY(conv_geometry(padding, x->dims[2], w->dims[2], p->stride_w, p->dilation_w, &dims[2], &p->pad_w));
    return p2l_set_output_dims(node, 0, 4, dims);
}

/* The buffers (float32, or int8 with an int32 bias) and NHWC sizes of a convolution node: input x,
 * filter w, optional bias after both. */
typedef struct conv_frame {
    const void *in, *filter, *bias;
    void *out;
    int N, H, W, C;     /* input */
    int KH, KW, FC;     /* filter window and channels */
    int OH, OW, OC;     /* output */
} conv_frame;

static conv_frame conv_frame_of(const p2l_node *node, int x_input, int w_input) {
    const p2l_tensor *x = node->inputs[x_input], *w = node->inputs[w_input], *y = node->outputs[0];
    const int bias_input = (x_input > w_input ? x_input : w_input) + 1;
    const p2l_tensor *bias = node->input_count > bias_input ? node->inputs[bias_input] : NULL;
    return (conv_frame){.in = x->data, .filter = w->data, .bias = bias ? bias->data : NULL, .out = y->data,
                        .N = x->dims[0], .H = x->dims[1], .W = x->dims[2], .C = x->dims[3],
                        .KH = w->dims[1], .KW = w->dims[2], .FC = w->dims[3],
                        .OH = y->dims[1], .OW = y->dims[2], .OC = y->dims[3]};
}

/* One output pixel of a forward convolution and the filter taps [ky0, ky1) x [kx0, kx1) of its window
 * that land inside the input. */
typedef struct conv_window {
    int n, oy, ox;
    int ky0, ky1, kx0, kx1;
} conv_window;

/* The taps [*first, *end) of a window at output coordinate `o` that land inside an input dim of `size`
 * (the input coordinate o * stride - pad + k * dilation grows with k, so they are one run). */
static void window_taps(int o, int stride, int pad, int dilation, int size, int taps, int *first, int *end) {
    const int origin = o * stride - pad;
    int k0 = 0, k1 = taps;
    while (k0 < k1 && origin + k0 * dilation < 0) k0++;
    while (k1 > k0 && origin + (k1 - 1) * dilation >= size) k1--;
    *first = k0, *end = k1;
}

/* The element offset of the input pixel under tap (ky, kx) of window w (a tap inside the input). */
static size_t window_input(const conv_params *p, const conv_frame *f, const conv_window *w, int ky, int kx) {
    const int iy = w->oy * p->stride_h - p->pad_h + ky * p->dilation_h;
    const int ix = w->ox * p->stride_w - p->pad_w + kx * p->dilation_w;
    return (((size_t)w->n * f->H + iy) * f->W + ix) * f->C;
}

/* out_pixel: the output's element offset of the pixel's first channel. */
typedef void (*conv_pixel_fn)(const conv_params *p, const conv_frame *f, const conv_window *w, size_t out_pixel);

/* Calls `pixel` for each output pixel (all OC channels at once), then applies the fused activation
 * (int8 pixels apply it themselves, as the clamp of their requantization). */
static p2l_status conv_each_pixel(const p2l_node *node, conv_pixel_fn pixel) {
    const conv_params *p = node->state;
    const conv_frame f = conv_frame_of(node, 0, 1);
    conv_window w;
    for (w.n = 0; w.n < f.N; w.n++)
        for (w.oy = 0; w.oy < f.OH; w.oy++)
            for (w.ox = 0; w.ox < f.OW; w.ox++) {
                window_taps(w.oy, p->stride_h, p->pad_h, p->dilation_h, f.H, f.KH, &w.ky0, &w.ky1);
                window_taps(w.ox, p->stride_w, p->pad_w, p->dilation_w, f.W, f.KW, &w.kx0, &w.kx1);
                pixel(p, &f, &w, (((size_t)w.n * f.OH + w.oy) * f.OW + w.ox) * f.OC);
            }
    if (!p->quant) p2l_apply_activation(p->activation, f.out, node->outputs[0]->count);
    return P2L_OK;
}

/* An int8 accumulator (bias included) of output channel oc, requantized and clamped. */
static inline int8_t conv_requantize(const p2l_quant_conv *q, int oc, int32_t acc) {
    const int32_t v = p2l_multiply_by_quantized_multiplier(acc, q->multipliers[oc]) + q->output_offset;
    return (int8_t)p2l_clamp_i32(v, q->act_min, q->act_max);
}

/* Group g = oc / group_out reads input channels [g * FC, (g + 1) * FC). */
static void conv_pixel(const conv_params *p, const conv_frame *f, const conv_window *w, size_t out_pixel) {
    const int group_out = p->groups ? f->OC / p->groups : 0;
    const float *in = f->in, *filter = f->filter, *bias = f->bias;
    float *out = (float *)f->out + out_pixel;
    for (int oc = 0; oc < f->OC; oc++) {
        const int g = oc / group_out;
        float sum = bias ? bias[oc] : 0.0f;
        for (int ky = w->ky0; ky < w->ky1; ky++)
            for (int kx = w->kx0; kx < w->kx1; kx++) {
                const float *ip = in + window_input(p, f, w, ky, kx) + (size_t)g * f->FC;
                const float *fp = filter + (((size_t)oc * f->KH + ky) * f->KW + kx) * f->FC;
                for (int c = 0; c < f->FC; c++) sum += ip[c] * fp[c];
            }
        out[oc] = sum;
    }
}

/* Taps outside the input contribute nothing: the padding is the input's zero point, 0 after the
 * offset, as in TFLite. */
static void conv_pixel_int8(const conv_params *p, const conv_frame *f, const conv_window *w, size_t out_pixel) {
    const p2l_quant_conv *q = p->quant;
    const int group_out = p->groups ? f->OC / p->groups : 0;
    const int8_t *in = f->in, *filter = f->filter;
    const int32_t *bias = f->bias;
    int8_t *out = (int8_t *)f->out + out_pixel;
    for (int oc = 0; oc < f->OC; oc++) {
        const int g = oc / group_out;
        int32_t acc = 0;
        for (int ky = w->ky0; ky < w->ky1; ky++)
            for (int kx = w->kx0; kx < w->kx1; kx++) {
                const int8_t *ip = in + window_input(p, f, w, ky, kx) + (size_t)g * f->FC;
                const int8_t *fp = filter + (((size_t)oc * f->KH + ky) * f->KW + kx) * f->FC;
                for (int c = 0; c < f->FC; c++) acc += (int32_t)fp[c] * ((int32_t)ip[c] + q->input_offset);
            }
        out[oc] = conv_requantize(q, oc, acc + (bias ? bias[oc] : 0));
    }
}

static p2l_status conv_invoke(p2l_node *node) {
    const conv_params *p = node->state;
    return conv_each_pixel(node, p->quant ? conv_pixel_int8 : conv_pixel);
}

const p2l_kernel p2l_kernel_conv_2d = {
    .prepare = conv_prepare, .invoke = conv_invoke,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 2,
};

/* Output channel c * M + m reads input channel c. */
static void depthwise_pixel(const conv_params *p, const conv_frame *f, const conv_window *w, size_t out_pixel) {
    const int M = p->depth_multiplier;
    const float *in = f->in, *filter = f->filter, *bias = f->bias;
    float *out = (float *)f->out + out_pixel;
    for (int oc = 0; oc < f->OC; oc++) out[oc] = bias ? bias[oc] : 0.0f;
    for (int ky = w->ky0; ky < w->ky1; ky++)
        for (int kx = w->kx0; kx < w->kx1; kx++) {
            const float *ip = in + window_input(p, f, w, ky, kx);
            const float *fp = filter + ((size_t)ky * f->KW + kx) * f->OC;
            for (int c = 0; c < f->C; c++)
                for (int m = 0; m < M; m++) out[c * M + m] += ip[c] * fp[c * M + m];
        }
}

static void depthwise_pixel_int8(const conv_params *p, const conv_frame *f, const conv_window *w, size_t out_pixel) {
    const p2l_quant_conv *q = p->quant;
    const int M = p->depth_multiplier;
    const int8_t *in = f->in, *filter = f->filter;
    const int32_t *bias = f->bias;
    int8_t *out = (int8_t *)f->out + out_pixel;
    for (int oc = 0; oc < f->OC; oc++) {
        const int c = oc / M;
        int32_t acc = 0;
        for (int ky = w->ky0; ky < w->ky1; ky++)
            for (int kx = w->kx0; kx < w->kx1; kx++) {
                const int32_t x = in[window_input(p, f, w, ky, kx) + (size_t)c];
                acc += (int32_t)filter[((size_t)ky * f->KW + kx) * f->OC + (size_t)oc] * (x + q->input_offset);
            }
        out[oc] = conv_requantize(q, oc, acc + (bias ? bias[oc] : 0));
    }
}

static p2l_status depthwise_invoke(p2l_node *node) {
    const conv_params *p = node->state;
    return conv_each_pixel(node, p->quant ? depthwise_pixel_int8 : depthwise_pixel);
}

const p2l_kernel p2l_kernel_depthwise_conv_2d = {
    .prepare = conv_prepare, .invoke = depthwise_invoke,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 2,
};

static p2l_status transpose_conv_prepare(p2l_node *node) {
    const p2l_tensor *shape = node->inputs[0], *w = node->inputs[1], *x = node->inputs[2];
    const p2l_tensor *bias = node->input_count > 3 ? node->inputs[3] : NULL;
    P2L_TRY(expect_float(node));
    P2L_TRY(p2l_expect_rank(x, 4));
    P2L_TRY(p2l_expect_rank(w, 4));
    P2L_TRY(p2l_expect_known(shape, "output shape"));
    int64_t v[4];
    size_t n;
    P2L_TRY(p2l_read_ints(shape, v, 4, &n));
    if (n != 4) return p2l_fail(P2L_ERROR_MALFORMED, "output shape %s must have 4 elements", P2L_LABEL(shape));
    int32_t dims[4];
    for (int i = 0; i < 4; i++) {
        if (v[i] < 0 || v[i] > INT32_MAX)
            return p2l_fail(P2L_ERROR_MALFORMED, "output shape element %d is %lld", i, (long long)v[i]);
        dims[i] = (int32_t)v[i];
    }
    if (dims[0] != x->dims[0] || dims[3] != w->dims[0] || w->dims[3] != x->dims[3])
        return p2l_fail(P2L_ERROR_MALFORMED, "output shape [%d,%d,%d,%d], filter [%d,%d,%d,%d] and input [%d,%d,%d,%d] "
                        "do not agree", dims[0], dims[1], dims[2], dims[3], w->dims[0], w->dims[1], w->dims[2],
                        w->dims[3], x->dims[0], x->dims[1], x->dims[2], x->dims[3]);
    P2L_TRY(check_bias(bias, dims[3]));
    int padding;
    conv_params *p = new_params(node, &padding);
    if (!p) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    P2L_TRY(p2l_check_activation(p->activation));
    int32_t unused;
    /* The padding of the forward convolution that maps the output back to the input. */
    P2L_TRY(conv_geometry(padding, dims[1], w->dims[1], p->stride_h, 1, &unused, &p->pad_h));
    P2L_TRY(conv_geometry(padding, dims[2], w->dims[2], p->stride_w, 1, &unused, &p->pad_w));
    if ((int64_t)x->dims[1] * p->stride_h + w->dims[1] > INT32_MAX ||
        (int64_t)x->dims[2] * p->stride_w + w->dims[2] > INT32_MAX)
        return p2l_fail(P2L_ERROR_MALFORMED, "strides %d x %d are too large for the input", p->stride_h, p->stride_w);
    return p2l_set_output_dims(node, 0, 4, dims);
}

static p2l_status transpose_conv_invoke(p2l_node *node) {
    const conv_params *p = node->state;
    const conv_frame f = conv_frame_of(node, 2, 1);
    const float *in = f.in, *filter = f.filter, *bias = f.bias;
    float *out = f.out;
    const p2l_tensor *y = node->outputs[0];
    memset(out, 0, y->bytes);
    for (int n = 0; n < f.N; n++)
        for (int iy = 0; iy < f.H; iy++)
            for (int ix = 0; ix < f.W; ix++) {
                const float *ip = in + (((size_t)n * f.H + iy) * f.W + ix) * f.C;
                for (int ky = 0; ky < f.KH; ky++) {
                    const int oy = iy * p->stride_h - p->pad_h + ky;
                    if (oy < 0 || oy >= f.OH) continue;
                    for (int kx = 0; kx < f.KW; kx++) {
                        const int ox = ix * p->stride_w - p->pad_w + kx;
                        if (ox < 0 || ox >= f.OW) continue;
                        float *op = out + (((size_t)n * f.OH + oy) * f.OW + ox) * f.OC;
                        for (int oc = 0; oc < f.OC; oc++) {
                            const float *fp = filter + (((size_t)oc * f.KH + ky) * f.KW + kx) * f.C;
                            float sum = 0;
                            for (int c = 0; c < f.C; c++) sum += ip[c] * fp[c];
                            op[oc] += sum;
                        }
                    }
                }
            }
    if (bias)
        for (size_t i = 0; i < y->count; i++) out[i] += bias[i % (size_t)f.OC];
    p2l_apply_activation(p->activation, out, y->count);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_transpose_conv = {
    .prepare = transpose_conv_prepare, .invoke = transpose_conv_invoke,
    .min_inputs = 3, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 3,
};
