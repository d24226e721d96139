/* Pooling and resizing, NHWC inside: MAX_POOL_2D, AVERAGE_POOL_2D, MEAN (global pooling),
 * RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR; 3-D pooling composed from 2-D pools; reflection and
 * replication padding; pairwise distances (cdist, pdist).
 *
 * torch pads symmetrically (p before and after) and, with ceil_mode, lets the last window hang
 * past the padded input; TFLite has VALID (no padding) and SAME (floor(total/2) before, the rest
 * after, padded cells ignored). SAME is used when it reproduces torch's windows exactly; otherwise
 * the input is padded explicitly (the value each pool ignores: -inf for max, 0 for average) and
 * pooled VALID. For average pooling the divisor then differs from torch's near the borders; a MUL
 * by a constant per-position factor map restores it exactly (also for divisor_override). */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

/* torch's pooling geometry along one spatial axis (H or W). */
typedef struct pool_axis {
    int64_t in, kernel, stride, pad, out;
} pool_axis;

/* Reads an int[2] argument (one value stands for both axes; an empty list means `fallback`). */
static void int_pair(p2l_lower_ctx *ctx, const char *name, const int64_t fallback[2], int64_t out[2]) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    out[0] = fallback[0], out[1] = fallback[1];
    if (a->kind == P2L_ARG_INTS && a->count > 0)
        for (int i = 0; i < 2; i++) out[i] = a->ints[a->count == 1 ? 0 : i];
    else if (a->kind == P2L_ARG_INT)
        out[0] = out[1] = a->i;
}

/* torch's output size: (in + 2p - k) / s + 1 rounded down, or up in ceil mode, where a last window
 * that would start past the input and its left padding is dropped. */
static int64_t torch_pool_out(const pool_axis *a, bool ceil_mode) {
    int64_t span = a->in + 2 * a->pad - a->kernel;
    int64_t out = (ceil_mode ? (span + a->stride - 1) / a->stride : span / a->stride) + 1;
    if (ceil_mode && (out - 1) * a->stride >= a->in + a->pad) out--;
    return out;
}

/* How far torch's last window reaches past the padded input (ceil mode only; ceil mode over a
 * dynamic size is refused). */
static int64_t overhang(const pool_axis *a) {
    if (a->in < 0) return 0;
    int64_t reach = (a->out - 1) * a->stride + a->kernel - (a->in + 2 * a->pad);
    return reach > 0 ? reach : 0;
}

/* TFLite SAME: out = ceil(in / s), floor(total / 2) padding before. Same windows as torch's exactly
 * when both agree. */
static bool same_padding_matches(const pool_axis *a) {
    if (a->in < 0) return a->stride == 1 && a->kernel - 1 == 2 * a->pad; /* for every size: out = in */
    int64_t out = (a->in + a->stride - 1) / a->stride;
    int64_t total = (out - 1) * a->stride + a->kernel - a->in;
    return out == a->out && (total > 0 ? total : 0) / 2 == a->pad;
}

/* Whether the input v of a 2-D pooling or resizing (`what`) is a float N,C,H,W tensor; false with the
 * reason recorded if not. */
static bool float_nchw_input(p2l_lower_ctx *ctx, const p2l_value *v, const char *what) {
    if (v->rank != 4) {
        p2l_unsupported(ctx, "2-D %s of a rank-%d input (only batched N,C,H,W input is supported)", what, v->rank);
        return false;
    }
    if (v->dtype != P2L_FLOAT32 && v->dtype != P2L_FLOAT64) {
        p2l_unsupported(ctx, "%s of a %s tensor: argument 'self' must be float32 (cast it with .float() first)", what,
                        p2l_dtype_name(v->dtype));
        return false;
    }
    return true;
}

/* The geometry of a 2-D pooling node over input `name` (NCHW, static H and W). False with the
 * reason recorded for anything unsupported. */
static bool pool_geometry(p2l_lower_ctx *ctx, const char *name, pool_axis axes[2], bool *ceil_mode) {
    const p2l_value *in_v = p2l_value_of(ctx, name), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return false;
    if (!float_nchw_input(ctx, in_v, "pooling")) return false;
    int64_t kernel[2], stride[2], pad[2], dilation[2];
    static const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
    int_pair(ctx, "kernel_size", one, kernel);
    int_pair(ctx, "stride", kernel, stride);
    int_pair(ctx, "padding", zero, pad);
    int_pair(ctx, "dilation", one, dilation);
    *ceil_mode = p2l_arg_of(ctx, "ceil_mode")->i != 0;
    if (dilation[0] != 1 || dilation[1] != 1) {
        p2l_unsupported(ctx, "argument 'dilation' is %lldx%lld: TFLite pools have no dilation (only 1); use dilation=1",
                        (long long)dilation[0], (long long)dilation[1]);
        return false;
    }
    for (int i = 0; i < 2; i++) {
        pool_axis *a = &axes[i];
        *a = (pool_axis){in_v->dims[2 + i], kernel[i], stride[i], pad[i], out_v->dims[2 + i]};
        if ((a->in < 0 || a->out < 0) && *ceil_mode) {
            p2l_unsupported(ctx, "ceil_mode pooling over a dynamic spatial size (the last window depends on the size)");
            return false;
        }
        if (a->kernel < 1 || a->stride < 1 || a->pad < 0 || 2 * a->pad > a->kernel) {
            p2l_unsupported(ctx, "pooling with kernel %lld, stride %lld, padding %lld", (long long)a->kernel,
                            (long long)a->stride, (long long)a->pad);
            return false;
        }
        if (a->in >= 0 && torch_pool_out(a, *ceil_mode) != a->out) {
            p2l_unsupported(ctx, "pooling output size %lld differs from torch's formula (%lld; check ceil_mode)", (long long)a->out,
                            (long long)torch_pool_out(a, *ceil_mode));
            return false;
        }
    }
    return true;
}

/* A MAX_POOL_2D / AVERAGE_POOL_2D node from x into out. */
static int emit_pool(p2l_lower_ctx *ctx, p2l_op op, int x, const pool_axis axes[2], int padding, int out) {
    int n = p2l_emit1(ctx, op, x, out);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "padding", padding);
    p2l_set_option(ctx->g, n, "stride_h", axes[0].stride);
    p2l_set_option(ctx->g, n, "stride_w", axes[1].stride);
    p2l_set_option(ctx->g, n, "filter_height", axes[0].kernel);
    p2l_set_option(ctx->g, n, "filter_width", axes[1].kernel);
    return n;
}

/* Whether any node or the model's outputs read value `id`. */
static bool value_is_used(p2l_lower_ctx *ctx, int id) {
    if (id < 0) return false;
    const p2l_exported *ep = ctx->ep;
    for (size_t n = 0; n < ep->nodes.len; n++) {
        const p2l_aten_node *node = &ep->nodes.items[n];
        for (int a = 0; a < node->nargs; a++) {
            const p2l_arg *arg = &node->args[a];
            if (arg->kind == P2L_ARG_TENSOR && arg->i == id) return true;
            for (int k = 0; arg->kind == P2L_ARG_TENSORS && k < arg->count; k++)
                if (arg->ints[k] == id) return true;
        }
    }
    for (size_t i = 0; i < ep->user_outputs.len; i++)
        if (ep->user_outputs.items[i] == id) return true;
    return false;
}

/* max_pool2d_with_indices: VALID, SAME when it matches torch's windows, or explicit -inf padding
 * (ceil mode's overhang included) then VALID. The indices output has no TFLite counterpart. */
p2l_status p2l_lower_max_pool2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    pool_axis axes[2];
    bool ceil_mode;
    if (!pool_geometry(ctx, "self", axes, &ceil_mode)) return P2L_ERROR_UNSUPPORTED;
    if (node->noutputs > 1 && value_is_used(ctx, node->outputs[1]))
        return p2l_unsupported(ctx, "the indices output of max_pool2d is used (TFLite's MAX_POOL_2D has none)");
    p2l_layout nhwc = p2l_channels_last_layout(4);
    int x = p2l_input(ctx, "self", &nhwc);
    int64_t before[2] = {axes[0].pad, axes[1].pad};
    int64_t after[2] = {axes[0].pad + overhang(&axes[0]), axes[1].pad + overhang(&axes[1])};
    bool padded = before[0] || before[1] || after[0] || after[1];
    int padding = P2L_PAD_VALID;
    if (padded && same_padding_matches(&axes[0]) && same_padding_matches(&axes[1]))
        padding = P2L_PAD_SAME;
    else if (padded)
        x = p2l_pad_spatial(ctx, x, before, after, -INFINITY);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    return p2l_emitted(emit_pool(ctx, P2L_OP_MAX_POOL_2D, x, axes, padding, p2l_output(ctx, 0, &nhwc)));
}

/* torch's average-pool window at output index o along one axis: how many cells the divisor counts
 * with count_include_pad (the window clipped to the padded input) and without (clipped to the
 * input). */
static void window_counts(const pool_axis *a, int64_t o, int64_t *with_pad, int64_t *valid) {
    int64_t start = o * a->stride - a->pad;
    int64_t end = start + a->kernel < a->in + a->pad ? start + a->kernel : a->in + a->pad;
    *with_pad = end - start;
    int64_t lo = start > 0 ? start : 0, hi = end < a->in ? end : a->in;
    *valid = hi - lo;
}

/* Fills factor[oh * OW + ow] = kernel area / torch's divisor: what turns the VALID average over
 * a zero-padded input (sum / kernel area) into torch's result. Sets *uses_valid_count when torch's
 * divisor is the count of real input cells everywhere (what TFLite's SAME divides by). */
static void average_factors(const pool_axis axes[2], bool count_include_pad, int64_t divisor_override, float *factor,
                            bool *uses_valid_count) {
    *uses_valid_count = divisor_override == 0;
    double area = (double)(axes[0].kernel * axes[1].kernel);
    for (int64_t oh = 0; oh < axes[0].out; oh++) {
        int64_t ph, vh;
        window_counts(&axes[0], oh, &ph, &vh);
        for (int64_t ow = 0; ow < axes[1].out; ow++) {
            int64_t pw, vw;
            window_counts(&axes[1], ow, &pw, &vw);
            int64_t divisor = divisor_override ? divisor_override : count_include_pad ? ph * pw : vh * vw;
            if (divisor != vh * vw) *uses_valid_count = false;
            factor[oh * axes[1].out + ow] = (float)(area / (double)divisor);
        }
    }
}

/* Whether every factor is 1 (torch divides by the kernel area everywhere). */
static bool all_ones(const float *factor, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (factor[i] != 1.0f) return false;
    return true;
}

/* out = x * factor: a scalar when uniform, else a [1, OH, OW, 1] map. */
static int scale_by_factors(p2l_lower_ctx *ctx, int x, const pool_axis axes[2], const float *factor, int out) {
    int64_t count = axes[0].out * axes[1].out;
    bool uniform = true;
    for (int64_t i = 1; i < count; i++) uniform = uniform && factor[i] == factor[0];
    int64_t dims[4] = {1, axes[0].out, axes[1].out, 1};
    int ins[2] = {x, uniform ? p2l_const_scalar(ctx, P2L_FLOAT32, factor[0]) : p2l_const_f32(ctx, 4, dims, factor)};
    if (x < 0 || ins[1] < 0) return -1;
    return p2l_emit(ctx, P2L_OP_MUL, 2, ins, 1, &out);
}

/* average_pool over a dynamic spatial size: exact when torch divides by the kernel area in every
 * window (no padding, or padding counted), as a VALID pool over the zero-padded input. */
static p2l_status dynamic_average_pool(p2l_lower_ctx *ctx, int x, const pool_axis axes[2], bool count_include_pad,
                                       int64_t divisor_override) {
    bool padded = axes[0].pad || axes[1].pad;
    if ((padded && !count_include_pad) || (divisor_override && divisor_override != axes[0].kernel * axes[1].kernel))
        return p2l_unsupported(ctx, "average pooling over a dynamic spatial size whose divisor varies by window "
                                    "(count_include_pad=False with padding, or divisor_override)");
    if (padded) x = p2l_pad_spatial(ctx, x, (int64_t[]){axes[0].pad, axes[1].pad}, (int64_t[]){axes[0].pad, axes[1].pad}, 0);
    p2l_layout nhwc = p2l_channels_last_layout(4);
    return p2l_emitted(x < 0 ? -1 : emit_pool(ctx, P2L_OP_AVERAGE_POOL_2D, x, axes, P2L_PAD_VALID, p2l_output(ctx, 0, &nhwc)));
}

/* The AVERAGE_POOL_2D of NHWC tensor x with torch's divisor rules, into output 0. */
static p2l_status average_pool(p2l_lower_ctx *ctx, int x, const pool_axis axes[2], bool count_include_pad,
                               int64_t divisor_override) {
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (axes[0].in < 0 || axes[1].in < 0) return dynamic_average_pool(ctx, x, axes, count_include_pad, divisor_override);
    int64_t count = axes[0].out * axes[1].out;
    float *factor = p2l_alloc(sizeof(float) * (size_t)(count + 1));
    if (!factor) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    bool uses_valid_count;
    average_factors(axes, count_include_pad, divisor_override, factor, &uses_valid_count);
    int64_t before[2] = {axes[0].pad, axes[1].pad};
    int64_t after[2] = {axes[0].pad + overhang(&axes[0]), axes[1].pad + overhang(&axes[1])};
    bool padded = before[0] || before[1] || after[0] || after[1];
    p2l_layout nhwc = p2l_channels_last_layout(4);
    int y = p2l_output(ctx, 0, &nhwc);
    int result;
    if (padded && uses_valid_count && same_padding_matches(&axes[0]) && same_padding_matches(&axes[1])) {
        result = emit_pool(ctx, P2L_OP_AVERAGE_POOL_2D, x, axes, P2L_PAD_SAME, y);
    } else {
        bool scale = !all_ones(factor, count);
        if (padded) x = p2l_pad_spatial(ctx, x, before, after, 0);
        int pooled = y;
        if (scale && x >= 0) {
            const p2l_ir_tensor xt = ctx->g->tensors.items[x];
            int64_t dims[4] = {xt.dims[0], axes[0].out, axes[1].out, xt.dims[3]};
            pooled = p2l_temp(ctx, "pool", P2L_FLOAT32, 4, dims);
        }
        result = x < 0 ? -1 : emit_pool(ctx, P2L_OP_AVERAGE_POOL_2D, x, axes, P2L_PAD_VALID, pooled);
        if (result >= 0 && scale) result = scale_by_factors(ctx, pooled, axes, factor, y);
    }
    p2l_release(factor);
    return p2l_emitted(result);
}

/* avg_pool2d(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override) */
p2l_status p2l_lower_avg_pool2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    pool_axis axes[2];
    bool ceil_mode;
    if (!pool_geometry(ctx, "self", axes, &ceil_mode)) return P2L_ERROR_UNSUPPORTED;
    const p2l_arg *override = p2l_arg_of(ctx, "divisor_override");
    int64_t divisor = override->kind == P2L_ARG_INT ? override->i : 0;
    if (override->kind == P2L_ARG_INT && divisor <= 0)
        return p2l_unsupported(ctx, "argument 'divisor_override' is %lld: it must be positive (or None)", (long long)divisor);
    p2l_layout nhwc = p2l_channels_last_layout(4);
    return average_pool(ctx, p2l_input(ctx, "self", &nhwc), axes, p2l_arg_of(ctx, "count_include_pad")->i != 0, divisor);
}

/* _adaptive_avg_pool2d: output 1x1 is a MEAN over H and W (in the input's layout, whatever it
 * is); an output size dividing the input gives equal, disjoint windows: AVERAGE_POOL_2D with
 * kernel = stride = in / out. Other sizes have uneven, overlapping windows TFLite has no op for. */
p2l_status p2l_lower_adaptive_avg_pool2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    if (in_v->rank != 4) return p2l_unsupported(ctx, "adaptive pooling of a rank-%d input (only N,C,H,W)", in_v->rank);
    if (in_v->dtype != P2L_FLOAT32 && in_v->dtype != P2L_FLOAT64)
        return p2l_unsupported(ctx, "pooling of a %s tensor", p2l_dtype_name(in_v->dtype));
    pool_axis axes[2];
    for (int i = 0; i < 2; i++) {
        int64_t in = in_v->dims[2 + i], out = out_v->dims[2 + i];
        if (in < 0 && out == 1) { /* to 1x1 at any size: the MEAN below */
            axes[i] = (pool_axis){in, -1, -1, 0, out};
            continue;
        }
        if (in <= 0 || out <= 0) return p2l_unsupported(ctx, "adaptive pooling over a dynamic spatial size to a size other than 1");
        if (in % out)
            return p2l_unsupported(ctx,
                                   "adaptive_avg_pool2d from %lldx%lld to %lldx%lld: only output sizes that divide "
                                   "the input (equal, disjoint windows) are supported",
                                   (long long)in_v->dims[2], (long long)in_v->dims[3], (long long)out_v->dims[2],
                                   (long long)out_v->dims[3]);
        axes[i] = (pool_axis){in, in / out, in / out, 0, out};
    }
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (axes[0].kernel == 1 && axes[1].kernel == 1) return p2l_alias_output(ctx, 0, x, &l);
    if (axes[0].out == 1 && axes[1].out == 1) {
        int h = p2l_physical_axis(&l, 4, 2), w = p2l_physical_axis(&l, 4, 3);
        int32_t hw[2] = {h < w ? h : w, h < w ? w : h};
        int ins[2] = {x, p2l_const_i32(ctx, 2, hw)};
        int y = p2l_output(ctx, 0, &l);
        int n = p2l_emit(ctx, P2L_OP_MEAN, 2, ins, 1, &y);
        if (n >= 0) p2l_set_option(ctx->g, n, "keep_dims", 1);
        return p2l_emitted(n);
    }
    p2l_layout nhwc = p2l_channels_last_layout(4);
    return average_pool(ctx, p2l_input(ctx, "self", &nhwc), axes, true, 0);
}

/* ------------------------------------------------------------ resizing */

/* An upsample node's input and sizes: .vec(input, output_size, [align_corners,] scale_factors)
 * or .default(self, output_size, [align_corners,] scales_h, scales_w). scale[i] is 0 when absent. */
typedef struct resize_params {
    const char *input;
    int64_t in[2], out[2];
    double scale[2];
} resize_params;

static bool resize_geometry(p2l_lower_ctx *ctx, resize_params *r) {
    r->input = p2l_value_of(ctx, "input") ? "input" : "self";
    const p2l_value *in_v = p2l_value_of(ctx, r->input), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return false;
    if (!float_nchw_input(ctx, in_v, "resizing")) return false;
    const p2l_arg *factors = p2l_arg_of(ctx, "scale_factors");
    const p2l_arg *per_axis[2] = {p2l_arg_of(ctx, "scales_h"), p2l_arg_of(ctx, "scales_w")};
    for (int i = 0; i < 2; i++) {
        r->in[i] = in_v->dims[2 + i];
        r->out[i] = out_v->dims[2 + i];
        if (r->in[i] <= 0 || r->out[i] <= 0) {
            p2l_unsupported(ctx, "resizing a dynamic spatial size");
            return false;
        }
        r->scale[i] = factors->kind == P2L_ARG_FLOATS && factors->count == 2 ? factors->floats[i]
                      : per_axis[i]->kind == P2L_ARG_FLOAT                     ? per_axis[i]->f
                                                                              : 0;
        if (r->scale[i] < 0) r->scale[i] = 0;
    }
    return true;
}

/* The source-to-destination scale torch uses without align_corners: 1/scale_factor when given,
 * else in/out (float, as its CPU kernels compute it). */
static float torch_scale(int64_t in, int64_t out, double scale_factor) {
    return scale_factor > 0 ? (float)(1.0 / scale_factor) : (float)in / (float)out;
}

/* Whether torch's nearest source index floor(dst * scale) (with its exact fast paths for 1x and
 * 2x) equals TFLite's floor(dst * in / out) for every destination index. They differ only when a
 * scale_factor was given that is not exactly out / in. */
static bool nearest_indices_agree(int64_t in, int64_t out, double scale_factor) {
    if (out == in || out == 2 * in) return true;
    float torch = torch_scale(in, out, scale_factor), tflite = (float)in / (float)out;
    for (int64_t dst = 0; dst < out; dst++) {
        int64_t a = (int64_t)floorf((float)dst * torch), b = (int64_t)floorf((float)dst * tflite);
        if ((a < in - 1 ? a : in - 1) != (b < in - 1 ? b : in - 1)) return false;
    }
    return true;
}

/* RESIZE_* of the NHWC input to the output's H, W. */
static p2l_status emit_resize(p2l_lower_ctx *ctx, p2l_op op, const resize_params *r, bool align_corners,
                              bool half_pixel_centers) {
    p2l_layout nhwc = p2l_channels_last_layout(4);
    int32_t size[2] = {(int32_t)r->out[0], (int32_t)r->out[1]};
    int ins[2] = {p2l_input(ctx, r->input, &nhwc), p2l_const_i32(ctx, 2, size)};
    if (ins[0] < 0) return P2L_ERROR_UNSUPPORTED;
    int y = p2l_output(ctx, 0, &nhwc);
    int n = p2l_emit(ctx, op, 2, ins, 1, &y);
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "align_corners", align_corners);
    p2l_set_option(ctx->g, n, "half_pixel_centers", half_pixel_centers);
    return P2L_OK;
}

/* torch 'nearest' picks floor(dst * in / out): TFLite's rule without align_corners and without
 * half-pixel centers. */
p2l_status p2l_lower_upsample_nearest2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    resize_params r;
    if (!resize_geometry(ctx, &r)) return P2L_ERROR_UNSUPPORTED;
    for (int i = 0; i < 2; i++)
        if (!nearest_indices_agree(r.in[i], r.out[i], r.scale[i]))
            return p2l_unsupported(ctx,
                                   "nearest resize with scale factor %g from %lld to %lld picks other source pixels "
                                   "than TFLite's in/out rule (pass size= instead of scale_factor=)",
                                   r.scale[i], (long long)r.in[i], (long long)r.out[i]);
    return emit_resize(ctx, P2L_OP_RESIZE_NEAREST_NEIGHBOR, &r, false, false);
}

/* torch bilinear: align_corners=True maps corners to corners ((in-1)/(out-1)), as TFLite's
 * align_corners; align_corners=False samples at half-pixel centers ((dst+0.5)*in/out-0.5, clamped
 * at 0), as TFLite's half_pixel_centers. */
p2l_status p2l_lower_upsample_bilinear2d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    resize_params r;
    if (!resize_geometry(ctx, &r)) return P2L_ERROR_UNSUPPORTED;
    bool align_corners = p2l_arg_of(ctx, "align_corners")->i != 0;
    for (int i = 0; i < 2 && !align_corners; i++)
        if (torch_scale(r.in[i], r.out[i], r.scale[i]) != (float)r.in[i] / (float)r.out[i])
            return p2l_unsupported(ctx,
                                   "bilinear resize with scale factor %g from %lld to %lld samples other positions "
                                   "than TFLite's in/out rule (pass size= instead of scale_factor=)",
                                   r.scale[i], (long long)r.in[i], (long long)r.out[i]);
    return emit_resize(ctx, P2L_OP_RESIZE_BILINEAR, &r, align_corners, !align_corners);
}

/* ------------------------------------------------------------ reflection and replication padding */

/* reflection_pad{1,2,3}d / replication_pad{2,3}d(self, padding): `padding` lists (before, after)
 * pairs from the last axis backwards. Reflection is MIRROR_PAD (REFLECT) on the physical axes;
 * replication, which MIRROR_PAD cannot do, is a GATHER per padded axis at clamped positions
 * (constant). Both run in the input's layout. */
static p2l_status edge_pad(p2l_lower_ctx *ctx, bool replicate) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    const p2l_arg *pad = p2l_arg_of(ctx, "padding");
    if (!in_v || pad->kind != P2L_ARG_INTS || pad->count % 2 || pad->count > 2 * in_v->rank)
        return p2l_unsupported(ctx, "padding needs (before, after) pairs");
    if (pad->symbolic) return p2l_unsupported(ctx, "symbolic padding");
    int rank = in_v->rank;
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int32_t amounts[P2L_MAX_DIMS][2] = {{0}};
    bool any = false;
    for (int k = 0; k < pad->count; k++) {
        int axis = rank - 1 - k / 2, p = p2l_physical_axis(&l, rank, axis);
        int64_t a = pad->ints[k], size = in_v->dims[axis];
        if (a < 0) return p2l_unsupported(ctx, "negative %s padding", replicate ? "replication" : "reflection");
        if (size < 0 && a) return p2l_unsupported(ctx, "padding a dynamic axis");
        if (!replicate && a >= size)
            return p2l_unsupported(ctx, "reflection padding %lld is not below the size %lld", (long long)a, (long long)size);
        amounts[p][k % 2] = (int32_t)a;
        any = any || a;
    }
    if (!any) return p2l_alias_output(ctx, 0, x, &l);
    if (!replicate) {
        int64_t pad_dims[2] = {rank, 2};
        int ins[2] = {x, p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "paddings"), 2,
                                           pad_dims, &amounts[0][0])};
        int y = p2l_output(ctx, 0, &l);
        int n = p2l_emit(ctx, P2L_OP_MIRROR_PAD, 2, ins, 1, &y);
        if (n < 0) return P2L_ERROR_UNSUPPORTED;
        p2l_set_option(ctx->g, n, "mode", P2L_MIRROR_REFLECT);
        return P2L_OK;
    }
    for (int p = 0; p < rank; p++) {
        if (!amounts[p][0] && !amounts[p][1]) continue;
        const p2l_ir_tensor xt = ctx->g->tensors.items[x];
        int64_t size = xt.dims[p], n = size + amounts[p][0] + amounts[p][1];
        int32_t *pos = p2l_alloc(sizeof(int32_t) * (size_t)n);
        if (!pos) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            int64_t src = i - amounts[p][0];
            pos[i] = (int32_t)(src < 0 ? 0 : src >= size ? size - 1 : src);
        }
        int idx = p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "positions"), 1, &n, pos);
        p2l_release(pos);
        int64_t dims[P2L_MAX_DIMS];
        memcpy(dims, xt.dims, sizeof dims);
        dims[p] = n;
        int out = p2l_temp(ctx, "replicate", xt.dtype, rank, dims);
        int ins[2] = {x, idx};
        int node = p2l_emit(ctx, P2L_OP_GATHER, 2, ins, 1, &out);
        if (node < 0) return P2L_ERROR_UNSUPPORTED;
        p2l_set_option(ctx->g, node, "axis", p);
        p2l_set_option(ctx->g, node, "batch_dims", 0);
        x = out;
    }
    return p2l_alias_output(ctx, 0, x, &l);
}

p2l_status p2l_lower_reflection_pad(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return edge_pad(ctx, false); }
p2l_status p2l_lower_replication_pad(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return edge_pad(ctx, true); }

/* ------------------------------------------------------------ 3-D pooling */

/* A 3-D pool over N,C,D,H,W as two 2-D pools on the NDHWC tensor (max and average are separable
 * over boxes): explicit padding (-inf / 0, ceil mode's overhang included), [N*D, H, W, C] pooled
 * over H, W; then [N, D, OH*OW, C] pooled over D with a (kd, 1) window; average divisors fixed by
 * a constant per-position factor map, as in 2-D. */
static p2l_status pool3d(p2l_lower_ctx *ctx, p2l_op op, const pool_axis axes[3], bool count_include_pad,
                         int64_t divisor_override) {
    p2l_layout ndhwc = p2l_channels_last_layout(5);
    int x = p2l_input(ctx, "self", &ndhwc);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int64_t n = xt.dims[0], c = xt.dims[4], padded[3];
    int32_t pads[10] = {0};
    bool any_pad = false;
    for (int i = 0; i < 3; i++) {
        int64_t after = axes[i].pad + overhang(&axes[i]);
        pads[2 + 2 * i] = (int32_t)axes[i].pad;
        pads[3 + 2 * i] = (int32_t)after;
        padded[i] = axes[i].in + axes[i].pad + after;
        any_pad = any_pad || axes[i].pad || after;
    }
    if (any_pad) {
        int64_t pad_dims[2] = {5, 2}, dims[5] = {n, padded[0], padded[1], padded[2], c};
        bool max = op == P2L_OP_MAX_POOL_2D;
        int ins[3] = {x, p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "paddings"), 2,
                                           pad_dims, pads),
                      max ? p2l_const_scalar(ctx, P2L_FLOAT32, -INFINITY) : -1};
        int out = p2l_temp(ctx, "pad", P2L_FLOAT32, 5, dims);
        if (p2l_emit(ctx, max ? P2L_OP_PADV2 : P2L_OP_PAD, max ? 3 : 2, ins, 1, &out) < 0) return P2L_ERROR_UNSUPPORTED;
        x = out;
    }
    int64_t nd = n < 0 ? -1 : n * padded[0];
    int64_t d4[4] = {nd, padded[1], padded[2], c};
    x = p2l_reshape(ctx, x, 4, d4);
    int64_t hw_out[4] = {nd, axes[1].out, axes[2].out, c};
    int hw = p2l_temp(ctx, "pool_hw", P2L_FLOAT32, 4, hw_out);
    pool_axis hw_axes[2] = {axes[1], axes[2]};
    if (x < 0 || emit_pool(ctx, op, x, hw_axes, P2L_PAD_VALID, hw) < 0) return P2L_ERROR_UNSUPPORTED;
    int64_t d_in[4] = {n, padded[0], axes[1].out * axes[2].out, c};
    x = p2l_reshape(ctx, hw, 4, d_in);
    int64_t d_out[4] = {n, axes[0].out, axes[1].out * axes[2].out, c};
    int dd = p2l_temp(ctx, "pool_d", P2L_FLOAT32, 4, d_out);
    pool_axis d_axes[2] = {axes[0], {1, 1, 1, 0, 1}};
    if (x < 0 || emit_pool(ctx, op, x, d_axes, P2L_PAD_VALID, dd) < 0) return P2L_ERROR_UNSUPPORTED;
    int64_t out_dims[5] = {n, axes[0].out, axes[1].out, axes[2].out, c};
    int y = p2l_reshape(ctx, dd, 5, out_dims);
    if (op == P2L_OP_AVERAGE_POOL_2D && y >= 0) {
        int64_t count = axes[0].out * axes[1].out * axes[2].out;
        float *factor = p2l_alloc(sizeof(float) * (size_t)count);
        if (!factor) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        double volume = (double)(axes[0].kernel * axes[1].kernel * axes[2].kernel);
        bool ones = true;
        for (int64_t od = 0, i = 0; od < axes[0].out; od++)
            for (int64_t oh = 0; oh < axes[1].out; oh++)
                for (int64_t ow = 0; ow < axes[2].out; ow++, i++) {
                    int64_t pd, vd, ph, vh, pw, vw;
                    window_counts(&axes[0], od, &pd, &vd);
                    window_counts(&axes[1], oh, &ph, &vh);
                    window_counts(&axes[2], ow, &pw, &vw);
                    int64_t divisor = divisor_override ? divisor_override : count_include_pad ? pd * ph * pw : vd * vh * vw;
                    factor[i] = (float)(volume / (double)divisor);
                    ones = ones && factor[i] == 1.0f;
                }
        if (!ones) {
            int64_t fdims[5] = {1, axes[0].out, axes[1].out, axes[2].out, 1};
            y = p2l_binary(ctx, P2L_OP_MUL, y, p2l_const_f32(ctx, 5, fdims, factor), P2L_FLOAT32);
        }
        p2l_release(factor);
    }
    return y < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, y, &ndhwc);
}

/* The geometry of a 3-D pooling node (N,C,D,H,W input, static D, H, W). */
static bool pool3d_geometry(p2l_lower_ctx *ctx, pool_axis axes[3], bool *ceil_mode) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return false;
    if (in_v->rank != 5) {
        p2l_unsupported(ctx, "3-D pooling of a rank-%d input (only batched N,C,D,H,W input is supported)", in_v->rank);
        return false;
    }
    if (in_v->dtype != P2L_FLOAT32 && in_v->dtype != P2L_FLOAT64) {
        p2l_unsupported(ctx, "pooling of a %s tensor", p2l_dtype_name(in_v->dtype));
        return false;
    }
    const char *names[4] = {"kernel_size", "stride", "padding", "dilation"};
    int64_t v[4][3];
    for (int k = 0; k < 4; k++) {
        const p2l_arg *a = p2l_arg_of(ctx, names[k]);
        for (int i = 0; i < 3; i++) {
            v[k][i] = k == 1 ? v[0][i] : k == 2 ? 0 : 1;
            if (a->kind == P2L_ARG_INTS && a->count > 0) v[k][i] = a->ints[a->count == 1 ? 0 : i];
            else if (a->kind == P2L_ARG_INT) v[k][i] = a->i;
        }
    }
    *ceil_mode = p2l_arg_of(ctx, "ceil_mode")->i != 0;
    for (int i = 0; i < 3; i++) {
        if (v[3][i] != 1) {
            p2l_unsupported(ctx, "dilation %lld (TFLite pools have no dilation; only 1 is supported)", (long long)v[3][i]);
            return false;
        }
        pool_axis *a = &axes[i];
        *a = (pool_axis){in_v->dims[2 + i], v[0][i], v[1][i], v[2][i], out_v->dims[2 + i]};
        if (a->in < 0 || a->out < 0) {
            p2l_unsupported(ctx, "pooling over a dynamic spatial size");
            return false;
        }
        if (a->kernel < 1 || a->stride < 1 || a->pad < 0 || 2 * a->pad > a->kernel ||
            torch_pool_out(a, *ceil_mode) != a->out) {
            p2l_unsupported(ctx, "pooling with kernel %lld, stride %lld, padding %lld", (long long)a->kernel,
                            (long long)a->stride, (long long)a->pad);
            return false;
        }
    }
    return true;
}

p2l_status p2l_lower_max_pool3d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    pool_axis axes[3];
    bool ceil_mode;
    if (!pool3d_geometry(ctx, axes, &ceil_mode)) return P2L_ERROR_UNSUPPORTED;
    if (node->noutputs > 1 && value_is_used(ctx, node->outputs[1]))
        return p2l_unsupported(ctx, "the indices output of max_pool3d is used (TFLite's pools have none)");
    return pool3d(ctx, P2L_OP_MAX_POOL_2D, axes, false, 0);
}

p2l_status p2l_lower_avg_pool3d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    pool_axis axes[3];
    bool ceil_mode;
    if (!pool3d_geometry(ctx, axes, &ceil_mode)) return P2L_ERROR_UNSUPPORTED;
    const p2l_arg *override = p2l_arg_of(ctx, "divisor_override");
    int64_t divisor = override->kind == P2L_ARG_INT ? override->i : 0;
    if (override->kind == P2L_ARG_INT && divisor <= 0) return p2l_unsupported(ctx, "divisor_override %lld", (long long)divisor);
    return pool3d(ctx, P2L_OP_AVERAGE_POOL_2D, axes, p2l_arg_of(ctx, "count_include_pad")->i != 0, divisor);
}

/* _adaptive_avg_pool3d: 1x1x1 is a MEAN over D, H, W in the input's layout; sizes dividing the
 * input are avg_pool3d with kernel = stride = in / out. */
p2l_status p2l_lower_adaptive_avg_pool3d(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *in_v = p2l_value_of(ctx, "self"), *out_v = p2l_output_value(ctx, 0);
    if (!in_v || !out_v) return P2L_ERROR_UNSUPPORTED;
    if (in_v->rank != 5) return p2l_unsupported(ctx, "adaptive 3-D pooling of a rank-%d input (only N,C,D,H,W)", in_v->rank);
    pool_axis axes[3];
    bool global = true;
    for (int i = 0; i < 3; i++) {
        int64_t in = in_v->dims[2 + i], out = out_v->dims[2 + i];
        if (in <= 0 || out <= 0) return p2l_unsupported(ctx, "adaptive pooling over a dynamic spatial size");
        if (in % out)
            return p2l_unsupported(ctx, "adaptive_avg_pool3d to a size that does not divide the input (%lld into %lld): "
                                        "uneven windows are not supported",
                                   (long long)in, (long long)out);
        axes[i] = (pool_axis){in, in / out, in / out, 0, out};
        global = global && out == 1;
    }
    if (global) {
        p2l_layout l;
        int x = p2l_input_any(ctx, "self", &l);
        unsigned bits = 0;
        for (int a = 2; a < 5; a++) bits |= 1u << p2l_physical_axis(&l, 5, a);
        int y = p2l_reduce(ctx, P2L_OP_MEAN, x, bits, true);
        return y < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, y, &l);
    }
    return pool3d(ctx, P2L_OP_AVERAGE_POOL_2D, axes, true, 0);
}

/* ------------------------------------------------------------ pairwise distances */

/* p-norm distances between the rows of a [..., P, M] and b [..., R, M] -> [..., P, R] by
 * broadcasting (a[..., :, None, :] - b[..., None, :, :]) and reducing the last axis. */
static int direct_distances(p2l_lower_ctx *ctx, int a, int b, double p) {
    if (a < 0 || b < 0) return -1;
    const p2l_ir_tensor at = ctx->g->tensors.items[a], bt = ctx->g->tensors.items[b];
    int rank = at.rank;
    /* a: [..., P, 1, M]; b: [..., 1, R, M] */
    int64_t a5[P2L_MAX_DIMS], b5[P2L_MAX_DIMS];
    for (int i = 0; i < rank - 2; i++) a5[i] = at.dims[i], b5[i] = bt.dims[i];
    a5[rank - 2] = at.dims[rank - 2], a5[rank - 1] = 1, a5[rank] = at.dims[rank - 1];
    b5[rank - 2] = 1, b5[rank - 1] = bt.dims[rank - 2], b5[rank] = bt.dims[rank - 1];
    int d = p2l_binary(ctx, P2L_OP_SUB, p2l_reshape(ctx, a, rank + 1, a5), p2l_reshape(ctx, b, rank + 1, b5), P2L_FLOAT32);
    unsigned last = 1u << rank;
    if (p == 2) return p2l_unary(ctx, P2L_OP_SQRT, p2l_reduce(ctx, P2L_OP_SUM, p2l_binary(ctx, P2L_OP_MUL, d, d, P2L_FLOAT32), last, false));
    int absd = p2l_unary(ctx, P2L_OP_ABS, d);
    if (p == 1) return p2l_reduce(ctx, P2L_OP_SUM, absd, last, false);
    if (isinf(p)) return p2l_reduce(ctx, P2L_OP_REDUCE_MAX, absd, last, false);
    if (p == 0) {
        int nz = p2l_binary(ctx, P2L_OP_NOT_EQUAL, d, p2l_const_scalar(ctx, P2L_FLOAT32, 0), P2L_BOOL);
        return p2l_reduce(ctx, P2L_OP_SUM, p2l_cast(ctx, nz, P2L_FLOAT32), last, false);
    }
    int powed = p2l_binary(ctx, P2L_OP_POW, absd, p2l_const_scalar(ctx, P2L_FLOAT32, p), P2L_FLOAT32);
    int sum = p2l_reduce(ctx, P2L_OP_SUM, powed, last, false);
    return p2l_binary(ctx, P2L_OP_POW, sum, p2l_const_scalar(ctx, P2L_FLOAT32, 1.0 / p), P2L_FLOAT32);
}

/* sqrt(max(|a|^2 + |b|^2 - 2 a.b^T, 0)) with BATCH_MATMUL: torch's own path for p=2 on larger
 * inputs (compute_mode), so the rounding is torch's too. */
static int matmul_distances(p2l_lower_ctx *ctx, int a, int b) {
    if (a < 0 || b < 0) return -1;
    const p2l_ir_tensor at = ctx->g->tensors.items[a], bt = ctx->g->tensors.items[b];
    int rank = at.rank;
    int64_t dims[P2L_MAX_DIMS];
    for (int i = 0; i < rank - 2; i++) dims[i] = at.dims[i] > bt.dims[i] ? at.dims[i] : bt.dims[i];
    dims[rank - 2] = at.dims[rank - 2], dims[rank - 1] = bt.dims[rank - 2];
    int ab = p2l_temp(ctx, "ab", P2L_FLOAT32, rank, dims);
    int ins[2] = {a, b};
    int n = p2l_emit(ctx, P2L_OP_BATCH_MATMUL, 2, ins, 1, &ab);
    if (n < 0) return -1;
    p2l_set_option(ctx->g, n, "adj_y", 1);
    unsigned last = 1u << (rank - 1);
    int a2 = p2l_reduce(ctx, P2L_OP_SUM, p2l_binary(ctx, P2L_OP_MUL, a, a, P2L_FLOAT32), last, true); /* [.., P, 1] */
    int b2 = p2l_reduce(ctx, P2L_OP_SUM, p2l_binary(ctx, P2L_OP_MUL, b, b, P2L_FLOAT32), last, false); /* [.., R] */
    if (b2 < 0) return -1;
    int64_t bdims[P2L_MAX_DIMS];
    memcpy(bdims, ctx->g->tensors.items[b2].dims, sizeof bdims);
    bdims[rank - 1] = bdims[rank - 2], bdims[rank - 2] = 1;
    b2 = p2l_reshape(ctx, b2, rank, bdims);
    int two_ab = p2l_binary(ctx, P2L_OP_MUL, ab, p2l_const_scalar(ctx, P2L_FLOAT32, -2), P2L_FLOAT32);
    int sum = p2l_binary(ctx, P2L_OP_ADD, p2l_binary(ctx, P2L_OP_ADD, two_ab, a2, P2L_FLOAT32), b2, P2L_FLOAT32);
    int clamped = p2l_binary(ctx, P2L_OP_MAXIMUM, sum, p2l_const_scalar(ctx, P2L_FLOAT32, 0), P2L_FLOAT32);
    return p2l_unary(ctx, P2L_OP_SQRT, clamped);
}

/* _cdist_forward(x1, x2, p, compute_mode): p=2 follows torch's choice of algorithm (matrix
 * products when either set has more than 25 rows, or compute_mode 1; compute_mode 2 never); other
 * p (0, 1, inf, any) broadcast the differences. */
p2l_status p2l_lower_cdist(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *a_v = p2l_value_of(ctx, "x1"), *b_v = p2l_value_of(ctx, "x2");
    if (!a_v || !b_v || a_v->rank < 2 || a_v->rank != b_v->rank || a_v->rank >= P2L_MAX_DIMS)
        return p2l_unsupported(ctx, "cdist of tensors of ranks other than two equal ranks >= 2");
    if (!p2l_dims_static(a_v->dims, a_v->rank) || !p2l_dims_static(b_v->dims, b_v->rank)) return p2l_unsupported(ctx, "cdist of dynamic shapes");
    double p = p2l_arg_number(ctx, "p", 2);
    const p2l_arg *mode = p2l_arg_of(ctx, "compute_mode");
    int64_t m = mode->kind == P2L_ARG_INT ? mode->i : 0;
    int64_t rows_a = a_v->dims[a_v->rank - 2], rows_b = b_v->dims[b_v->rank - 2];
    bool use_mm = p == 2 && (m == 1 || (m == 0 && (rows_a > 25 || rows_b > 25)));
    int a = p2l_cast(ctx, p2l_input(ctx, "x1", NULL), P2L_FLOAT32), b = p2l_cast(ctx, p2l_input(ctx, "x2", NULL), P2L_FLOAT32);
    int y = use_mm ? matmul_distances(ctx, a, b) : direct_distances(ctx, a, b, p);
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (y >= 0 && out_v && memcmp(ctx->g->tensors.items[y].dims, out_v->dims, sizeof(int64_t) * (size_t)out_v->rank) != 0) {
        int32_t shape[P2L_MAX_DIMS];
        for (int i = 0; i < out_v->rank; i++) shape[i] = (int32_t)out_v->dims[i];
        int ins[2] = {y, p2l_const_i32(ctx, out_v->rank, shape)};
        int out = p2l_output(ctx, 0, NULL);
        return p2l_emitted(p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &out));
    }
    return y < 0 ? P2L_ERROR_UNSUPPORTED : p2l_alias_output(ctx, 0, y, NULL);
}

/* _pdist_forward(self [N, M], p): the upper triangle (i < j, row-major) of the N x N distances:
 * direct distances (torch's own algorithm here), flattened, then a GATHER of the pairs. */
p2l_status p2l_lower_pdist(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *v = p2l_value_of(ctx, "self");
    if (!v || v->rank != 2 || v->dims[0] < 2 || v->dims[1] < 1)
        return p2l_unsupported(ctx, "pdist needs a static [N, M] input with N >= 2 (TFLite has no empty tensors)");
    int x = p2l_cast(ctx, p2l_input(ctx, "self", NULL), P2L_FLOAT32);
    int d = direct_distances(ctx, x, x, p2l_arg_number(ctx, "p", 2));
    int64_t n = v->dims[0], nn = n * n, pairs = n * (n - 1) / 2;
    d = p2l_reshape(ctx, d, 1, &nn);
    int32_t *pos = p2l_alloc(sizeof(int32_t) * (size_t)pairs);
    if (!pos) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) pos[k++] = (int32_t)(i * n + j);
    int idx = p2l_add_const_i32(ctx->g, p2l_node_tensor_name(ctx, "pairs"), 1, &pairs, pos);
    p2l_release(pos);
    int y = p2l_output(ctx, 0, NULL);
    int ins[2] = {d, idx};
    int g = p2l_emit(ctx, P2L_OP_GATHER, 2, ins, 1, &y);
    if (g < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, g, "axis", 0);
    p2l_set_option(ctx->g, g, "batch_dims", 0);
    return P2L_OK;
}
