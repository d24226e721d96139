/* Convolutions (1-D, 2-D, grouped, depthwise, transposed) and inference batch norm.
 *
 * Activations are NHWC inside (N,L,C for 1-D); filters are permuted at conversion time: CONV_2D
 * wants OHWI, DEPTHWISE_CONV_2D 1HW(C*M), TRANSPOSE_CONV OHWI. A 1-D conv is a 2-D conv with H=1.
 * Every conv gets a bias (zeros if the module has none): LiteRT's XNNPACK path requires one. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

typedef struct conv_params {
    int spatial;                      /* 1 or 2 */
    int64_t stride[2], pad[2], dilation[2], output_padding[2];
    int64_t groups;
} conv_params;

/* Reads a 1- or 2-element int list argument, broadcasting a single value. */
static void int_pair(p2l_lower_ctx *ctx, const char *name, int spatial, int64_t fallback, int64_t out[2]) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    for (int i = 0; i < 2; i++) out[i] = fallback;
    if (a->kind == P2L_ARG_INTS && a->count > 0)
        for (int i = 0; i < spatial; i++) out[i] = a->ints[a->count == 1 ? 0 : i];
    else if (a->kind == P2L_ARG_INT)
        for (int i = 0; i < spatial; i++) out[i] = a->i;
}

/* TFLite SAME padding puts floor(total/2) before: matches torch's symmetric padding exactly when
 * the output sizes agree and the "before" amounts agree. */
static bool same_padding_matches(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad, int64_t torch_out) {
    int64_t out = (in + stride - 1) / stride;
    int64_t effective = (k - 1) * dilation + 1;
    int64_t total = (out - 1) * stride + effective - in;
    if (total < 0) total = 0;
    return out == torch_out && total / 2 == pad;
}

/* A bias constant for `channels` outputs: the given one or zeros. */
static int bias_input(p2l_lower_ctx *ctx, int64_t channels) {
    const p2l_arg *b = p2l_arg_of(ctx, "bias");
    if (b->kind == P2L_ARG_TENSOR) return p2l_input(ctx, "bias", NULL);
    float *zeros = p2l_alloc_zero(sizeof(float) * (size_t)(channels ? channels : 1));
    if (!zeros) return -1;
    int t = p2l_add_const(ctx->g, p2l_arena_printf(ctx->g->arena, "%s/bias", ctx->node->name), P2L_FLOAT32, 1, &channels,
                          zeros, true);
    return t;
}

/* 1-D tensors ride through the 2-D ops as N,1,L,C. */
static int as_4d(p2l_lower_ctx *ctx, int x) {
    const p2l_tensor t = ctx->g->tensors.items[x];
    if (t.rank == 4) return x;
    int64_t dims[4] = {t.dims[0], 1, t.dims[1], t.dims[2]};
    return p2l_reshape(ctx, x, 4, dims);
}

static p2l_status lower_transposed(p2l_lower_ctx *ctx, const conv_params *p, int x, const p2l_value *w,
                                   const p2l_value *out_v);

p2l_status p2l_lower_convolution(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "input"), *w_v = p2l_value_of(ctx, "weight");
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !w_v || !out_v) return p2l_unsupported(ctx, "convolution without tensor input/weight");
    conv_params p = {.spatial = in_v->rank - 2};
    if (p.spatial != 1 && p.spatial != 2)
        return p2l_unsupported(ctx, "%d-D convolution (only 1-D and 2-D are supported)", p.spatial);
    if (w_v->data == NULL) return p2l_unsupported(ctx, "the weight '%s' is computed at run time; pt2lite needs a constant filter", w_v->name);
    if (in_v->dtype != P2L_FLOAT32) return p2l_unsupported(ctx, "convolution on %s input", p2l_dtype_name(in_v->dtype));
    int_pair(ctx, "stride", p.spatial, 1, p.stride);
    int_pair(ctx, "padding", p.spatial, 0, p.pad);
    int_pair(ctx, "dilation", p.spatial, 1, p.dilation);
    int_pair(ctx, "output_padding", p.spatial, 0, p.output_padding);
    p.groups = p2l_arg_of(ctx, "groups")->i;
    if (p.groups < 1) p.groups = 1;
    for (int i = 0; i < p.spatial; i++) /* torch rejects these; a hostile archive must not divide by 0 */
        if (p.stride[i] < 1 || p.dilation[i] < 1 || p.pad[i] < 0 || p.output_padding[i] < 0 ||
            p.stride[i] > INT32_MAX || p.dilation[i] > INT32_MAX || p.pad[i] > INT32_MAX)
            return p2l_unsupported(ctx, "stride %lld, dilation %lld, padding %lld: not a valid convolution",
                                   (long long)p.stride[i], (long long)p.dilation[i], (long long)p.pad[i]);
    /* 1-D: the single spatial axis is W; H is 1 with unit stride/pad/dilation */
    if (p.spatial == 1) {
        p.stride[1] = p.stride[0], p.pad[1] = p.pad[0], p.dilation[1] = p.dilation[0];
        p.output_padding[1] = p.output_padding[0];
        p.stride[0] = 1, p.pad[0] = 0, p.dilation[0] = 1, p.output_padding[0] = 0;
    }
    p2l_layout cl = p2l_channels_last_layout(in_v->rank);
    int x = as_4d(ctx, p2l_input(ctx, "input", &cl));
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (p2l_arg_of(ctx, "transposed")->i) return lower_transposed(ctx, &p, x, w_v, out_v);

    const p2l_tensor xt = ctx->g->tensors.items[x];
    int64_t in_h = xt.dims[1], in_w = xt.dims[2], in_c = xt.dims[3];
    int64_t out_c = w_v->dims[0];
    int64_t k[2] = {p.spatial == 2 ? w_v->dims[2] : 1, w_v->dims[p.spatial == 2 ? 3 : 2]};
    int64_t in_hw[2] = {in_h, in_w};
    int64_t out_hw[2] = {p.spatial == 2 ? out_v->dims[2] : 1, out_v->dims[p.spatial == 2 ? 3 : 2]};
    bool depthwise = p.groups > 1 && p.groups == in_c && out_c % in_c == 0;
    /* Other groups: CONV_2D takes them natively when the filter has in_c/groups input channels. */

    /* Padding: VALID, SAME when it reproduces torch's, or an explicit PAD first. */
    int padding = P2L_PAD_VALID;
    if (p.pad[0] || p.pad[1]) {
        bool same = true;
        for (int i = 0; i < 2; i++)
            same = same && same_padding_matches(in_hw[i], k[i], p.stride[i], p.dilation[i], p.pad[i], out_hw[i]);
        if (same) padding = P2L_PAD_SAME;
        else x = p2l_pad_spatial(ctx, x, p.pad, p.pad, 0);
    }

    /* Filter in the layout the op wants, straight from the weight's bytes. */
    int filter;
    int64_t w_rank = w_v->rank;
    if (depthwise) {
        /* [O,1,kH,kW] -> [1,kH,kW,O] (1-D: [O,1,kW] -> [1,kW,O] then [1,1,kW,O]) */
        p2l_layout l = {{1, 2, 3, 0}};
        if (w_rank == 3) l = (p2l_layout){{1, 2, 0}};
        filter = p2l_value_const(ctx, (int)p2l_arg_of(ctx, "weight")->i, (int)w_rank, &l);
    } else {
        p2l_layout l = p2l_channels_last_layout((int)w_rank); /* OIHW -> OHWI */
        filter = p2l_value_const(ctx, (int)p2l_arg_of(ctx, "weight")->i, (int)w_rank, &l);
    }
    if (filter < 0) return P2L_ERROR_UNSUPPORTED;
    if (w_rank == 3) {
        /* 1-D filters gain the unit H axis */
        p2l_tensor *ft = &ctx->g->tensors.items[filter];
        int64_t d4[4] = {ft->dims[0], 1, ft->dims[1], ft->dims[2]};
        memcpy(ft->dims, d4, sizeof d4);
        ft->rank = 4;
    }
    int bias = bias_input(ctx, out_c);
    int64_t out_dims[4] = {out_v->dims[0], out_hw[0], out_hw[1], out_c};
    int out = p.spatial == 2 ? p2l_output(ctx, 0, &cl) : p2l_temp(ctx, "conv", P2L_FLOAT32, 4, out_dims);
    int ins[3] = {x, filter, bias};
    int n = p2l_emit(ctx, depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D, 3, ins, 1, &out);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "padding", padding);
    p2l_set_option(ctx->g, n, "stride_h", p.stride[0]);
    p2l_set_option(ctx->g, n, "stride_w", p.stride[1]);
    p2l_set_option(ctx->g, n, "dilation_h_factor", p.dilation[0]);
    p2l_set_option(ctx->g, n, "dilation_w_factor", p.dilation[1]);
    if (depthwise) p2l_set_option(ctx->g, n, "depth_multiplier", out_c / in_c);
    if (p.spatial == 1) {
        int y = p2l_output(ctx, 0, &cl);
        int64_t d3[3] = {out_v->dims[0], out_hw[1], out_c};
        int shape = p2l_const_i32(ctx, 3, (int32_t[]){(int32_t)d3[0], (int32_t)d3[1], (int32_t)d3[2]});
        int rins[2] = {out, shape};
        if (p2l_emit(ctx, P2L_OP_RESHAPE, 2, rins, 1, &y) < 0) return P2L_ERROR_UNSUPPORTED;
    }
    return P2L_OK;
}

/* ConvTranspose: TRANSPOSE_CONV with VALID padding computes the full (uncropped) output; torch's
 * padding crops `pad` from each side and output_padding adds at the end, so a SLICE follows when
 * either is set. */
static p2l_status lower_transposed(p2l_lower_ctx *ctx, const conv_params *p, int x, const p2l_value *w,
                                   const p2l_value *out_v) {
    if (p->groups != 1) return p2l_unsupported(ctx, "transposed convolution with groups=%lld", (long long)p->groups);
    if (p->dilation[0] != 1 || p->dilation[1] != 1) return p2l_unsupported(ctx, "dilated transposed convolution");
    const p2l_tensor xt = ctx->g->tensors.items[x];
    int64_t k[2] = {p->spatial == 2 ? w->dims[2] : 1, w->dims[p->spatial == 2 ? 3 : 2]};
    int64_t out_c = w->dims[1];
    int64_t full[2], want[2] = {p->spatial == 2 ? out_v->dims[2] : 1, out_v->dims[p->spatial == 2 ? 3 : 2]};
    for (int i = 0; i < 2; i++) {
        full[i] = (xt.dims[1 + i] - 1) * p->stride[i] + k[i];
        if (p->output_padding[i] > p->pad[i])
            return p2l_unsupported(ctx, "output_padding %lld larger than padding %lld", (long long)p->output_padding[i],
                                   (long long)p->pad[i]);
    }
    /* torch weight [I, O, kH, kW] -> OHWI */
    p2l_layout l = w->rank == 4 ? (p2l_layout){{1, 2, 3, 0}} : (p2l_layout){{1, 2, 0}};
    int filter = p2l_value_const(ctx, (int)p2l_arg_of(ctx, "weight")->i, w->rank, &l);
    if (filter < 0) return P2L_ERROR_UNSUPPORTED;
    if (w->rank == 3) {
        p2l_tensor *ft = &ctx->g->tensors.items[filter];
        int64_t d4[4] = {ft->dims[0], 1, ft->dims[1], ft->dims[2]};
        memcpy(ft->dims, d4, sizeof d4);
        ft->rank = 4;
    }
    int32_t shape[4] = {(int32_t)xt.dims[0], (int32_t)full[0], (int32_t)full[1], (int32_t)out_c};
    int shape_t = p2l_const_i32(ctx, 4, shape);
    int bias = bias_input(ctx, out_c);
    int64_t full_dims[4] = {xt.dims[0], full[0], full[1], out_c};
    bool crop = full[0] != want[0] || full[1] != want[1];
    p2l_layout cl = p2l_channels_last_layout(out_v->rank);
    int y = crop || p->spatial == 1 ? p2l_temp(ctx, "full", P2L_FLOAT32, 4, full_dims) : p2l_output(ctx, 0, &cl);
    int ins[4] = {shape_t, filter, x, bias};
    int n = p2l_emit(ctx, P2L_OP_TRANSPOSE_CONV, 4, ins, 1, &y);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "padding", P2L_PAD_VALID);
    p2l_set_option(ctx->g, n, "stride_h", p->stride[0]);
    p2l_set_option(ctx->g, n, "stride_w", p->stride[1]);
    if (crop) {
        int32_t begin[4] = {0, (int32_t)p->pad[0], (int32_t)p->pad[1], 0};
        /* explicit sizes: XNNPACK refuses SLICE sizes of -1 */
        int32_t size[4] = {(int32_t)xt.dims[0], (int32_t)want[0], (int32_t)want[1], (int32_t)out_c};
        int64_t dims[4] = {xt.dims[0], want[0], want[1], out_c};
        int sliced = p->spatial == 2 ? p2l_output(ctx, 0, &cl) : p2l_temp(ctx, "crop", P2L_FLOAT32, 4, dims);
        int sins[3] = {y, p2l_const_i32(ctx, 4, begin), p2l_const_i32(ctx, 4, size)};
        if (p2l_emit(ctx, P2L_OP_SLICE, 3, sins, 1, &sliced) < 0) return P2L_ERROR_UNSUPPORTED;
        y = sliced;
    }
    if (p->spatial == 1) {
        int out = p2l_output(ctx, 0, &cl);
        int32_t d3[3] = {(int32_t)xt.dims[0], (int32_t)want[1], (int32_t)out_c};
        int rins[2] = {y, p2l_const_i32(ctx, 3, d3)};
        if (p2l_emit(ctx, P2L_OP_RESHAPE, 2, rins, 1, &out) < 0) return P2L_ERROR_UNSUPPORTED;
    }
    return P2L_OK;
}

/* Loads a per-channel float vector argument (weight, bias, mean, var) or a default. */
static bool channel_vector(p2l_lower_ctx *ctx, const char *name, int64_t c, float fallback, float *out) {
    const p2l_value *v = p2l_value_of(ctx, name);
    if (!v) {
        for (int64_t i = 0; i < c; i++) out[i] = fallback;
        return true;
    }
    if (!v->data || v->rank != 1 || v->dims[0] != c || (v->dtype != P2L_FLOAT32 && v->dtype != P2L_FLOAT64)) return false;
    for (int64_t i = 0; i < c; i++) {
        if (v->dtype == P2L_FLOAT32) memcpy(&out[i], (const float *)v->data + i, 4);
        else {
            double d;
            memcpy(&d, (const double *)v->data + i, 8);
            out[i] = (float)d;
        }
    }
    return true;
}

/* y = x * scale + shift with scale = w / sqrt(var + eps), shift = b - mean * scale, per channel
 * (logical axis 1). Emitted as MUL + ADD in the input's layout; p2l_pass_fuse_affine then folds
 * both into the conv before it, so a conv + BN pair costs one CONV_2D. */
p2l_status p2l_lower_batch_norm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "input");
    if (!in_v || in_v->rank < 2) return p2l_unsupported(ctx, "batch norm needs an input of rank >= 2");
    int64_t c = in_v->dims[1];
    if (c < 0) return p2l_unsupported(ctx, "batch norm over a dynamic channel count");
    float *buf = p2l_alloc(sizeof(float) * (size_t)(4 * c + 1));
    if (!buf) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    float *w = buf, *b = buf + c, *mean = buf + 2 * c, *var = buf + 3 * c;
    p2l_status s = P2L_OK;
    if (!channel_vector(ctx, "weight", c, 1, w) || !channel_vector(ctx, "bias", c, 0, b) ||
        !channel_vector(ctx, "running_mean", c, 0, mean) || !channel_vector(ctx, "running_var", c, 1, var)) {
        p2l_release(buf);
        return p2l_unsupported(ctx, "batch norm parameters must be constant float vectors of %lld channels", (long long)c);
    }
    double eps = p2l_arg_of(ctx, "eps")->f;
    for (int64_t i = 0; i < c; i++) {
        float scale = (float)(w[i] / sqrt((double)var[i] + eps));
        w[i] = scale;
        b[i] = b[i] - mean[i] * scale;
    }
    p2l_layout layout;
    int x = p2l_input_any(ctx, "input", &layout);
    /* constants shaped [1,C,1,...] in logical order, then laid out like x */
    int64_t logical[P2L_MAX_RANK], dims[P2L_MAX_RANK];
    for (int i = 0; i < in_v->rank; i++) logical[i] = i == 1 ? c : 1;
    for (int i = 0; i < in_v->rank; i++) dims[i] = logical[layout.perm[i]];
    int scale_t = p2l_const_f32(ctx, in_v->rank, dims, w);
    int shift_t = p2l_const_f32(ctx, in_v->rank, dims, b);
    p2l_release(buf);
    if (x < 0 || scale_t < 0 || shift_t < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_tensor xt = ctx->g->tensors.items[x];
    int scaled = p2l_temp(ctx, "scaled", P2L_FLOAT32, xt.rank, xt.dims);
    int out = p2l_output(ctx, 0, &layout);
    int mul_in[2] = {x, scale_t}, add_in[2] = {scaled, shift_t};
    if (p2l_emit(ctx, P2L_OP_MUL, 2, mul_in, 1, &scaled) < 0 || p2l_emit(ctx, P2L_OP_ADD, 2, add_in, 1, &out) < 0)
        s = P2L_ERROR_UNSUPPORTED;
    return s;
}
