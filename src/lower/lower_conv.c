/* Convolutions (1-D, 2-D, 3-D, grouped, depthwise, transposed) and inference batch norm.
 *
 * Activations are NHWC inside (N,L,C for 1-D, NDHWC for 3-D); filters are permuted at conversion
 * time: CONV_2D wants OHWI, DEPTHWISE_CONV_2D 1HW(C*M), TRANSPOSE_CONV OHWI. A 1-D conv is a 2-D
 * conv with H=1; a 3-D conv is one 2-D conv over the frames with the depth taps stacked along the
 * channels (see lower_conv3d). Every conv gets a bias (zeros if the module has none): LiteRT's
 * XNNPACK path requires one. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

typedef struct conv_params {
    int spatial;                      /* 1, 2 or 3; the arrays hold (H, W) once 1-D and 3-D are mapped to 2-D */
    int64_t stride[3], pad[3], dilation[3], output_padding[3];
    int64_t groups;
} conv_params;

/* Reads a 1- to 3-element int list argument, broadcasting a single value. */
static void int_list(p2l_lower_ctx *ctx, const char *name, int spatial, int64_t fallback, int64_t out[3]) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    for (int i = 0; i < 3; i++) out[i] = fallback;
    if (a->kind == P2L_ARG_INTS && a->count > 0)
        for (int i = 0; i < spatial; i++) out[i] = a->ints[a->count == 1 ? 0 : i];
    else if (a->kind == P2L_ARG_INT)
        for (int i = 0; i < spatial; i++) out[i] = a->i;
}

/* TFLite SAME padding puts floor(total/2) before: matches torch's symmetric padding exactly when
 * the output sizes agree and the "before" amounts agree. */
static bool same_padding_matches(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad, int64_t torch_out) {
    int64_t effective = (k - 1) * dilation + 1;
    if (in < 0) return stride == 1 && effective - 1 == 2 * pad; /* for every size: out = in */
    int64_t out = (in + stride - 1) / stride;
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
    int t = p2l_add_const(ctx->g, p2l_node_tensor_name(ctx, "bias"), P2L_FLOAT32, 1, &channels,
                          zeros, true);
    return t;
}

/* 1-D tensors ride through the 2-D ops as N,1,L,C. x < 0 (a failed input) passes through. */
static int as_4d(p2l_lower_ctx *ctx, int x) {
    if (x < 0) return x;
    const p2l_ir_tensor t = ctx->g->tensors.items[x];
    if (t.rank == 4) return x;
    int64_t dims[4] = {t.dims[0], 1, t.dims[1], t.dims[2]};
    return p2l_reshape(ctx, x, 4, dims);
}

static p2l_status lower_transposed(p2l_lower_ctx *ctx, const conv_params *p, int x, const p2l_value *w,
                                   const p2l_value *out_v);
static p2l_status lower_conv3d(p2l_lower_ctx *ctx, const conv_params *p, const p2l_value *w, const p2l_value *out_v);

/* CONV_2D (or DEPTHWISE_CONV_2D) of NHWC x with a filter already in the op's layout (OHWI or
 * 1HW(C*M)), strides, dilations and padding p->*[0] for H and [1] for W, into `out`, whose H and W
 * are out_hw. Padding: VALID, SAME when it reproduces torch's, or an explicit PAD first. */
static int emit_conv2d(p2l_lower_ctx *ctx, const conv_params *p, int x, int filter, bool depthwise,
                       const int64_t out_hw[2], int out) {
    if (x < 0 || filter < 0 || out < 0) return -1;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x], ft = ctx->g->tensors.items[filter];
    const int64_t in_hw[2] = {xt.dims[1], xt.dims[2]}, k[2] = {ft.dims[1], ft.dims[2]};
    const int64_t in_c = xt.dims[3], out_c = depthwise ? ft.dims[3] : ft.dims[0];
    int padding = P2L_PAD_VALID;
    if (p->pad[0] || p->pad[1]) {
        bool same = true;
        for (int i = 0; i < 2; i++)
            same = same && same_padding_matches(in_hw[i], k[i], p->stride[i], p->dilation[i], p->pad[i], out_hw[i]);
        if (same) padding = P2L_PAD_SAME;
        else x = p2l_pad_spatial(ctx, x, p->pad, p->pad, 0);
    }
    int ins[3] = {x, filter, bias_input(ctx, out_c)};
    int n = p2l_emit(ctx, depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D, 3, ins, 1, &out);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "padding", padding);
    p2l_set_option(ctx->g, n, "stride_h", p->stride[0]);
    p2l_set_option(ctx->g, n, "stride_w", p->stride[1]);
    p2l_set_option(ctx->g, n, "dilation_h_factor", p->dilation[0]);
    p2l_set_option(ctx->g, n, "dilation_w_factor", p->dilation[1]);
    if (depthwise) p2l_set_option(ctx->g, n, "depth_multiplier", out_c / in_c);
    return out;
}

/* The weight argument laid out as `l`: permuted at conversion time when it is a constant; when the
 * model computes it (weight standardization, weight norm) the computation is lowered with a
 * TRANSPOSE after it, and constant folding turns a parameter-only computation into a constant. */
static int filter_input(p2l_lower_ctx *ctx, const p2l_value *w, const p2l_layout *l) {
    if (w->data) return p2l_value_const(ctx, (int)p2l_arg_of(ctx, "weight")->i, w->rank, l);
    return p2l_input(ctx, "weight", l);
}

/* Gives a filter tensor (from a rank-3 or rank-5 weight) the 4-D shape the 2-D op reads: a new
 * shape for a constant, a RESHAPE for a computed one. */
static int reshape_filter(p2l_lower_ctx *ctx, int filter, const int64_t dims[4]) {
    if (filter < 0) return -1;
    p2l_ir_tensor *ft = &ctx->g->tensors.items[filter];
    if (!p2l_is_const(ctx->g, filter)) return p2l_reshape(ctx, filter, 4, dims);
    memcpy(ft->dims, dims, sizeof(int64_t) * 4);
    ft->rank = 4;
    return filter;
}

p2l_status p2l_lower_convolution(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "input"), *w_v = p2l_value_of(ctx, "weight");
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !w_v || !out_v) return p2l_unsupported(ctx, "convolution without tensor input/weight");
    conv_params p = {.spatial = in_v->rank - 2};
    if (p.spatial < 1 || p.spatial > 3 || w_v->rank != in_v->rank)
        return p2l_unsupported(ctx, "convolution of a rank-%d input with a rank-%d weight", in_v->rank, w_v->rank);
    if (in_v->dtype != P2L_FLOAT32) return p2l_unsupported(ctx, "convolution of a %s input: argument 'input' must be float32 "
                                                                 "(cast it with .float() first)", p2l_dtype_name(in_v->dtype));
    int_list(ctx, "stride", p.spatial, 1, p.stride);
    int_list(ctx, "padding", p.spatial, 0, p.pad);
    int_list(ctx, "dilation", p.spatial, 1, p.dilation);
    int_list(ctx, "output_padding", p.spatial, 0, p.output_padding);
    p.groups = p2l_arg_of(ctx, "groups")->i;
    if (p.groups < 1) p.groups = 1;
    for (int i = 0; i < p.spatial; i++) /* torch rejects these; a hostile archive must not divide by 0 */
        if (p.stride[i] < 1 || p.dilation[i] < 1 || p.pad[i] < 0 || p.output_padding[i] < 0 ||
            p.stride[i] > INT32_MAX || p.dilation[i] > INT32_MAX || p.pad[i] > INT32_MAX)
            return p2l_unsupported(ctx, "stride %lld, dilation %lld, padding %lld: not a valid convolution",
                                   (long long)p.stride[i], (long long)p.dilation[i], (long long)p.pad[i]);
    if (p.spatial == 3) {
        if (p2l_arg_of(ctx, "transposed")->i) return p2l_unsupported(ctx, "3-D transposed convolution");
        return lower_conv3d(ctx, &p, w_v, out_v);
    }
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

    const int64_t in_c = ctx->g->tensors.items[x].dims[3], out_c = w_v->dims[0];
    const int64_t out_hw[2] = {p.spatial == 2 ? out_v->dims[2] : 1, out_v->dims[p.spatial == 2 ? 3 : 2]};
    /* Other groups: CONV_2D takes them natively when the filter has in_c/groups input channels. */
    const bool depthwise = p.groups > 1 && p.groups == in_c && out_c % in_c == 0;

    /* Filter in the layout the op wants, straight from the weight's bytes. */
    const int w_rank = w_v->rank;
    p2l_layout l = p2l_channels_last_layout(w_rank); /* OIHW -> OHWI */
    if (depthwise) /* [O,1,kH,kW] -> [1,kH,kW,O] (1-D: [O,1,kW] -> [1,kW,O] then [1,1,kW,O]) */
        l = w_rank == 4 ? (p2l_layout){{1, 2, 3, 0}} : (p2l_layout){{1, 2, 0}};
    int filter = filter_input(ctx, w_v, &l);
    if (filter >= 0 && w_rank == 3) { /* 1-D filters gain the unit H axis */
        const p2l_ir_tensor *ft = &ctx->g->tensors.items[filter];
        filter = reshape_filter(ctx, filter, (int64_t[]){ft->dims[0], 1, ft->dims[1], ft->dims[2]});
    }
    if (filter < 0) return P2L_ERROR_UNSUPPORTED;
    if (p.spatial == 2) return p2l_emitted(emit_conv2d(ctx, &p, x, filter, depthwise, out_hw, p2l_output(ctx, 0, &cl)));
    int64_t out_dims[4] = {out_v->dims[0], 1, out_hw[1], out_c};
    int out = emit_conv2d(ctx, &p, x, filter, depthwise, out_hw, p2l_temp(ctx, "conv", P2L_FLOAT32, 4, out_dims));
    if (out < 0) return P2L_ERROR_UNSUPPORTED;
    int y = p2l_output(ctx, 0, &cl);
    int rins[2] = {out, p2l_const_i32(ctx, 3, (int32_t[]){(int32_t)out_v->dims[0], (int32_t)out_hw[1], (int32_t)out_c})};
    return p2l_emitted(p2l_emit(ctx, P2L_OP_RESHAPE, 2, rins, 1, &y));
}

/* SLICE of x from `begin` with `size` (explicit sizes: XNNPACK refuses -1), into a fresh tensor. */
static int slice(p2l_lower_ctx *ctx, int x, int rank, const int32_t *begin, const int32_t *size) {
    if (x < 0) return -1;
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) dims[i] = size[i];
    int out = p2l_temp(ctx, "slice", ctx->g->tensors.items[x].dtype, rank, dims);
    int ins[3] = {x, p2l_const_i32(ctx, rank, begin), p2l_const_i32(ctx, rank, size)};
    return p2l_emit(ctx, P2L_OP_SLICE, 3, ins, 1, &out) < 0 ? -1 : out;
}

/* 3-D convolution as one CONV_2D over the frames: the kD frames each output frame reads (input
 * frame t*stride + j*dilation - pad, for tap j) are sliced out and stacked along the channels,
 * [N*D', H, W, kD*C]; the filter [O, I, kD, kH, kW] becomes [O, kH, kW, kD*I] to match. Exact,
 * and every op is one LiteRT's XNNPACK path takes (TFLite's CONV_3D is not; nor is a strided
 * slice, so a depth stride s takes s*D' frames viewed as [N*D', s, H*W*C] and keeps index 0).
 * Groups would interleave with the stacked taps, so only groups=1, or a depth kernel of 1. */
static p2l_status lower_conv3d(p2l_lower_ctx *ctx, const conv_params *p, const p2l_value *w, const p2l_value *out_v) {
    const int64_t kd = w->dims[2], out_c = w->dims[0], in_c = w->dims[1] * p->groups;
    if (p->groups != 1 && kd != 1)
        return p2l_unsupported(ctx, "grouped 3-D convolution (groups=%lld) with a depth kernel of %lld",
                               (long long)p->groups, (long long)kd);
    p2l_layout cl = p2l_channels_last_layout(5);
    int x = p2l_input(ctx, "input", &cl);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    for (int i = 0; i < 5; i++)
        if (xt.dims[i] < 0) return p2l_unsupported(ctx, "3-D convolution of a dynamic shape");
    const int64_t n = xt.dims[0], h = xt.dims[2], wd = xt.dims[3], out_d = out_v->dims[2], sd = p->stride[0];
    if (n * out_d * h * wd * in_c * kd > INT32_MAX) return p2l_unsupported(ctx, "3-D convolution too large");
    /* Zero frames: `pad` before, and after enough that every tap can take sd*D' frames. */
    const int64_t last_tap = (kd - 1) * p->dilation[0];
    int64_t after = last_tap + out_d * sd - (xt.dims[1] + p->pad[0]);
    if (after < p->pad[0]) after = p->pad[0];
    if (p->pad[0] || after) {
        int32_t pads[10] = {0, 0, (int32_t)p->pad[0], (int32_t)after, 0, 0, 0, 0, 0, 0};
        int64_t dims[5] = {n, xt.dims[1] + p->pad[0] + after, h, wd, in_c}, pad_dims[2] = {5, 2};
        int ins[2] = {x, p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "paddings"), 2,
                                           pad_dims, pads)};
        int padded = p2l_temp(ctx, "pad_frames", P2L_FLOAT32, 5, dims);
        if (p2l_emit(ctx, P2L_OP_PAD, 2, ins, 1, &padded) < 0) return P2L_ERROR_UNSUPPORTED;
        x = padded;
    }
    int *taps = p2l_arena_alloc(ctx->g->arena, sizeof(int) * (size_t)kd);
    if (!taps) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const int64_t frames = ctx->g->tensors.items[x].dims[1];
    for (int64_t j = 0; j < kd; j++) {
        int tap = x;
        const int32_t first = (int32_t)(j * p->dilation[0]);
        if (first != 0 || out_d * sd != frames)
            tap = slice(ctx, x, 5, (int32_t[]){0, first, 0, 0, 0},
                        (int32_t[]){(int32_t)n, (int32_t)(out_d * sd), (int32_t)h, (int32_t)wd, (int32_t)in_c});
        if (sd > 1) {
            tap = p2l_reshape(ctx, tap, 3, (int64_t[]){n * out_d, sd, h * wd * in_c});
            tap = slice(ctx, tap, 3, (int32_t[]){0, 0, 0}, (int32_t[]){(int32_t)(n * out_d), 1, (int32_t)(h * wd * in_c)});
        }
        taps[j] = p2l_reshape(ctx, tap, 4, (int64_t[]){n * out_d, h, wd, in_c});
        if (taps[j] < 0) return P2L_ERROR_UNSUPPORTED;
    }
    int frames2d = taps[0];
    if (kd > 1) {
        int64_t dims[4] = {n * out_d, h, wd, kd * in_c};
        frames2d = p2l_temp(ctx, "taps", P2L_FLOAT32, 4, dims);
        int op = p2l_emit(ctx, P2L_OP_CONCATENATION, (int)kd, taps, 1, &frames2d);
        if (op < 0) return P2L_ERROR_UNSUPPORTED;
        p2l_set_option(ctx->g, op, "axis", 3);
    }
    /* [O, I, kD, kH, kW] -> [O, kH, kW, kD, I] -> [O, kH, kW, kD*I]; depthwise (kD = 1, I = 1):
     * [O, 1, 1, kH, kW] -> [1, 1, kH, kW, O] -> [1, kH, kW, O] */
    const bool depthwise = p->groups > 1 && p->groups == in_c && out_c % in_c == 0;
    const p2l_layout l = depthwise ? (p2l_layout){{1, 2, 3, 4, 0}} : (p2l_layout){{0, 3, 4, 2, 1}};
    int filter = filter_input(ctx, w, &l);
    if (depthwise) filter = reshape_filter(ctx, filter, (int64_t[]){1, w->dims[3], w->dims[4], out_c});
    else filter = reshape_filter(ctx, filter, (int64_t[]){out_c, w->dims[3], w->dims[4], kd * w->dims[1]});
    if (filter < 0 || frames2d < 0) return P2L_ERROR_UNSUPPORTED;
    conv_params p2 = {.spatial = 2, .groups = p->groups,
                      .stride = {p->stride[1], p->stride[2]}, .pad = {p->pad[1], p->pad[2]},
                      .dilation = {p->dilation[1], p->dilation[2]}};
    const int64_t out_hw[2] = {out_v->dims[3], out_v->dims[4]};
    int64_t dims[4] = {n * out_d, out_hw[0], out_hw[1], out_c};
    int out = emit_conv2d(ctx, &p2, frames2d, filter, depthwise, out_hw, p2l_temp(ctx, "conv", P2L_FLOAT32, 4, dims));
    if (out < 0) return P2L_ERROR_UNSUPPORTED;
    int y = p2l_output(ctx, 0, &cl);
    int32_t shape[5] = {(int32_t)n, (int32_t)out_d, (int32_t)out_hw[0], (int32_t)out_hw[1], (int32_t)out_c};
    int rins[2] = {out, p2l_const_i32(ctx, 5, shape)};
    return p2l_emitted(p2l_emit(ctx, P2L_OP_RESHAPE, 2, rins, 1, &y));
}

/* ConvTranspose: TRANSPOSE_CONV with VALID padding computes the full (uncropped) output; torch's
 * padding crops `pad` from each side and output_padding adds at the end, so a SLICE follows when
 * either is set. */
static p2l_status lower_transposed(p2l_lower_ctx *ctx, const conv_params *p, int x, const p2l_value *w,
                                   const p2l_value *out_v) {
    if (p->groups != 1) return p2l_unsupported(ctx, "transposed convolution with groups=%lld", (long long)p->groups);
    if (p->dilation[0] != 1 || p->dilation[1] != 1) return p2l_unsupported(ctx, "argument 'dilation' of a transposed convolution must be 1 (TRANSPOSE_CONV has none)");
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
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
    int filter = filter_input(ctx, w, &l);
    if (filter >= 0 && w->rank == 3) {
        const p2l_ir_tensor *ft = &ctx->g->tensors.items[filter];
        filter = reshape_filter(ctx, filter, (int64_t[]){ft->dims[0], 1, ft->dims[1], ft->dims[2]});
    }
    if (filter < 0) return P2L_ERROR_UNSUPPORTED;
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
    int64_t logical[P2L_MAX_DIMS], dims[P2L_MAX_DIMS];
    for (int i = 0; i < in_v->rank; i++) logical[i] = i == 1 ? c : 1;
    for (int i = 0; i < in_v->rank; i++) dims[i] = logical[layout.perm[i]];
    int scale_t = p2l_const_f32(ctx, in_v->rank, dims, w);
    int shift_t = p2l_const_f32(ctx, in_v->rank, dims, b);
    p2l_release(buf);
    if (x < 0 || scale_t < 0 || shift_t < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int scaled = p2l_temp(ctx, "scaled", P2L_FLOAT32, xt.rank, xt.dims);
    int out = p2l_output(ctx, 0, &layout);
    int mul_in[2] = {x, scale_t}, add_in[2] = {scaled, shift_t};
    if (p2l_emit(ctx, P2L_OP_MUL, 2, mul_in, 1, &scaled) < 0 || p2l_emit(ctx, P2L_OP_ADD, 2, add_in, 1, &out) < 0)
        s = P2L_ERROR_UNSUPPORTED;
    return s;
}
