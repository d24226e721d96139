/* PT2E quantize/dequantize ops (quantized_decomposed.*, as torchao's convert_pt2e leaves them).
 *
 * An activation's quantize/dequantize becomes QUANTIZE (float -> int8 with the scale and zero point)
 * and DEQUANTIZE (int8 -> float), in whatever layout the value has. A weight (a constant input) is
 * computed here instead: quantize of a constant is an int8 constant, and dequantize of an int8
 * constant is the float constant PyTorch computes, marked with the parameters it came from
 * (p2l_ir_tensor.dequantized), so the lowerings that lay out weights (conv filters, linear) work
 * unchanged. passes/quantize.c then turns DEQUANTIZE -> float op -> QUANTIZE into the int8 op,
 * giving it its weights back as int8 and its bias as int32.
 *
 * pt2lite writes what TFLite's int8 kernels compute: int8 activations per tensor over [-128, 127],
 * int8 weights per tensor or per channel. Other schemes (uint8, int16, per-channel activations,
 * parameters computed at run time) are refused with the node and the scheme named. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

/* ScalarType codes of the archive schema (DESIGN.md). */
enum { TORCH_UINT8 = 1, TORCH_INT8 = 2, TORCH_INT16 = 3, TORCH_INT32 = 4, TORCH_FLOAT = 7 };

typedef struct qscheme {
    p2l_quant *q;    /* scales and zero points; axis is the logical axis until laid out */
    int64_t qmin, qmax;
} qscheme;

static const char *scheme_dtype_name(int64_t code) {
    switch (code) {
    case TORCH_UINT8: return "uint8";
    case TORCH_INT16: return "int16";
    case TORCH_INT32: return "int32";
    default: return "a dtype other than int8";
    }
}

/* The elements of a constant tensor argument as doubles (count in *n), or NULL with the reason recorded. */
static const p2l_value *const_param(p2l_lower_ctx *ctx, const char *name, int64_t *n) {
    const p2l_value *v = p2l_value_of(ctx, name);
    if (!v || !v->data) {
        p2l_unsupported(ctx, "quantization parameter '%s' is computed at run time; pt2lite needs constant scales "
                        "and zero points", name);
        return NULL;
    }
    *n = p2l_dims_numel(v->dims, v->rank);
    return v;
}

/* Reads scale(s), zero point(s), range and dtype of the node; checks the scheme is one TFLite's int8
 * kernels compute. */
static bool read_scheme(p2l_lower_ctx *ctx, bool per_channel, qscheme *s) {
    const p2l_arg *dtype = p2l_arg_of(ctx, "dtype");
    if (dtype->kind == P2L_ARG_SCALAR_TYPE && dtype->i != TORCH_INT8) {
        p2l_unsupported(ctx, "%s quantization is not supported: pt2lite writes int8 models (symmetric int8 weights, "
                        "int8 activations)",
                        scheme_dtype_name(dtype->i));
        return false;
    }
    s->qmin = p2l_arg_of(ctx, "quant_min")->i;
    s->qmax = p2l_arg_of(ctx, "quant_max")->i;
    if (s->qmin < INT8_MIN || s->qmax > INT8_MAX || s->qmin >= s->qmax) {
        p2l_unsupported(ctx, "int8 quantization with quant_min %lld and quant_max %lld", (long long)s->qmin,
                        (long long)s->qmax);
        return false;
    }
    int64_t count = 1;
    if (per_channel) {
        int64_t nz = 0;
        const p2l_value *scales = const_param(ctx, "scales", &count);
        if (!scales) return false;
        const p2l_value *zps = p2l_arg_of(ctx, "zero_points")->kind == P2L_ARG_NONE ? NULL : const_param(ctx, "zero_points", &nz);
        if (p2l_arg_of(ctx, "zero_points")->kind != P2L_ARG_NONE && (!zps || nz != count)) {
            if (zps) p2l_unsupported(ctx, "%lld scales but %lld zero points", (long long)count, (long long)nz);
            return false;
        }
        if (count < 1 || count > INT32_MAX) return p2l_unsupported(ctx, "%lld per-channel scales", (long long)count), false;
        if (!(s->q = p2l_new_quant(ctx->g, (int)count, (int)p2l_arg_of(ctx, "axis")->i))) return false;
        for (int64_t c = 0; c < count; c++) {
            s->q->scales[c] = (float)p2l_load_element(scales->data, scales->dtype, (size_t)c);
            s->q->zero_points[c] = zps ? (int64_t)p2l_load_element(zps->data, zps->dtype, (size_t)c) : 0;
        }
    } else {
        if (!(s->q = p2l_new_quant(ctx->g, 1, 0))) return false;
        const p2l_arg *scale = p2l_arg_of(ctx, "scale"), *zp = p2l_arg_of(ctx, "zero_point");
        int64_t n = 1;
        if (scale->kind == P2L_ARG_FLOAT) s->q->scales[0] = (float)scale->f;
        else {
            const p2l_value *v = const_param(ctx, "scale", &n);
            if (!v) return false;
            if (n != 1) return p2l_unsupported(ctx, "a per-tensor scale with %lld elements", (long long)n), false;
            s->q->scales[0] = (float)p2l_load_element(v->data, v->dtype, 0);
        }
        if (zp->kind == P2L_ARG_INT) s->q->zero_points[0] = zp->i;
        else {
            const p2l_value *v = const_param(ctx, "zero_point", &n);
            if (!v) return false;
            if (n != 1) return p2l_unsupported(ctx, "a per-tensor zero point with %lld elements", (long long)n), false;
            s->q->zero_points[0] = (int64_t)p2l_load_element(v->data, v->dtype, 0);
        }
    }
    for (int c = 0; c < s->q->count; c++) {
        float scale = s->q->scales[c];
        int64_t zp = s->q->zero_points[c];
        if (!(scale > 0) || !isfinite(scale) || zp < s->qmin || zp > s->qmax) {
            p2l_unsupported(ctx, "quantization with scale %g and zero point %lld (channel %d)", scale, (long long)zp, c);
            return false;
        }
    }
    return true;
}

/* Activations: what TFLite's int8 kernels compute is the full int8 range. */
static bool activation_scheme(p2l_lower_ctx *ctx, const qscheme *s) {
    if (s->qmin == INT8_MIN && s->qmax == INT8_MAX) return true;
    p2l_unsupported(ctx, "int8 activations restricted to [%lld, %lld]: TFLite's int8 activations use [-128, 127]",
                    (long long)s->qmin, (long long)s->qmax);
    return false;
}

/* The channel of element i along physical axis `axis` of t (0 for per-tensor parameters). */
static int channel_of(const p2l_ir_tensor *t, const p2l_quant *q, int64_t i) {
    if (q->count == 1) return 0;
    int64_t inner = 1;
    for (int d = q->axis + 1; d < t->rank; d++) inner *= t->dims[d];
    return (int)(i / inner % t->dims[q->axis]);
}

/* Lays out the parameters' axis (logical) as tensor t's physical axis; false when it is out of
 * range or its size is not the channel count. */
static bool layout_axis(p2l_lower_ctx *ctx, const p2l_ir_tensor *t, const p2l_layout *l, p2l_quant *q) {
    if (q->count == 1) {
        q->axis = 0;
        return true;
    }
    int axis = p2l_norm_dim(q->axis, t->rank);
    int physical = axis < 0 ? -1 : p2l_physical_axis(l, t->rank, axis);
    if (physical < 0 || t->dims[physical] != q->count) {
        p2l_unsupported(ctx, "%d per-channel scales along axis %d of a tensor of rank %d", q->count, q->axis, t->rank);
        return false;
    }
    q->axis = physical;
    return true;
}

/* A new constant shaped like `like`, named after output 0, holding `data` (taken). */
static int const_like(p2l_lower_ctx *ctx, const p2l_ir_tensor *like, p2l_dtype dtype, void *data) {
    const p2l_value *out = p2l_output_value(ctx, 0);
    const char *name = p2l_arena_printf(ctx->g->arena, "%s", out ? out->name : ctx->node->name);
    return p2l_add_const(ctx->g, name, dtype, like->rank, like->dims, data, true);
}

/* quantize of a float constant: the int8 constant, as torch computes it
 * (clamp(round(x * (1 / scale)) + zero_point)). */
static int quantized_constant(p2l_lower_ctx *ctx, int x, const qscheme *s) {
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int64_t n = p2l_ir_tensor_numel(&xt);
    int8_t *q = p2l_alloc(n > 0 ? (size_t)n : 1);
    if (!q) return -1;
    for (int64_t i = 0; i < n; i++) {
        int c = channel_of(&xt, s->q, i);
        float v;
        memcpy(&v, (const float *)xt.data + i, sizeof v);
        double r = nearbyintf(v * (float)(1.0 / s->q->scales[c])) + (double)s->q->zero_points[c];
        q[i] = (int8_t)(r < (double)s->qmin ? s->qmin : r > (double)s->qmax ? s->qmax : r);
    }
    int t = const_like(ctx, &xt, P2L_INT8, q);
    if (t >= 0) ctx->g->tensors.items[t].quant = s->q;
    return t;
}

/* dequantize of an int8 constant: the float constant torch computes ((q - zero_point) * scale),
 * marked with the parameters for passes/quantize.c. */
static int dequantized_constant(p2l_lower_ctx *ctx, int x, const qscheme *s) {
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    int64_t n = p2l_ir_tensor_numel(&xt);
    float *f = p2l_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!f) return -1;
    for (int64_t i = 0; i < n; i++) {
        int c = channel_of(&xt, s->q, i);
        f[i] = (float)(((const int8_t *)xt.data)[i] - s->q->zero_points[c]) * s->q->scales[c];
    }
    int t = const_like(ctx, &xt, P2L_FLOAT32, f);
    if (t >= 0) ctx->g->tensors.items[t].dequantized = s->q;
    return t;
}

/* Per-channel parameters exist for weights only: refused on an activation before anything else. */
static bool per_tensor_activation(p2l_lower_ctx *ctx, bool per_channel, int x) {
    if (!per_channel || p2l_is_const(ctx->g, x)) return true;
    p2l_unsupported(ctx, "per-channel quantization of activations (axis %lld): TFLite quantizes activations per tensor",
                    (long long)p2l_arg_of(ctx, "axis")->i);
    return false;
}

static p2l_status lower_quantize(p2l_lower_ctx *ctx, bool per_channel) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "input", &l);
    if (x < 0 || !per_tensor_activation(ctx, per_channel, x)) return P2L_ERROR_UNSUPPORTED;
    qscheme s;
    if (!read_scheme(ctx, per_channel, &s)) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    if (xt.dtype != P2L_FLOAT32) return p2l_unsupported(ctx, "quantize of a %s tensor", p2l_dtype_name(xt.dtype));
    if (p2l_is_const(ctx->g, x)) {
        if (!layout_axis(ctx, &xt, &l, s.q)) return P2L_ERROR_UNSUPPORTED;
        return p2l_set_output(ctx, 0, quantized_constant(ctx, x, &s), &l);
    }
    if (!activation_scheme(ctx, &s)) return P2L_ERROR_UNSUPPORTED;
    int out = p2l_output(ctx, 0, &l);
    if (out < 0) return P2L_ERROR_UNSUPPORTED;
    ctx->g->tensors.items[out].quant = s.q;
    return p2l_emitted(p2l_emit1(ctx, P2L_OP_QUANTIZE, x, out));
}

static p2l_status lower_dequantize(p2l_lower_ctx *ctx, bool per_channel) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "input", &l);
    if (x < 0 || !per_tensor_activation(ctx, per_channel, x)) return P2L_ERROR_UNSUPPORTED;
    qscheme s;
    if (!read_scheme(ctx, per_channel, &s)) return P2L_ERROR_UNSUPPORTED;
    const p2l_arg *out_dtype = p2l_arg_of(ctx, "out_dtype");
    if (out_dtype->kind == P2L_ARG_SCALAR_TYPE && out_dtype->i != TORCH_FLOAT)
        return p2l_unsupported(ctx, "dequantize to ScalarType %lld (pt2lite dequantizes to float32)", (long long)out_dtype->i);
    p2l_ir_tensor *xt = &ctx->g->tensors.items[x];
    if (xt->dtype != P2L_INT8) return p2l_unsupported(ctx, "dequantize of a %s tensor", p2l_dtype_name(xt->dtype));
    if (p2l_is_const(ctx->g, x)) {
        if (!layout_axis(ctx, xt, &l, s.q)) return P2L_ERROR_UNSUPPORTED;
        return p2l_set_output(ctx, 0, dequantized_constant(ctx, x, &s), &l);
    }
    if (!activation_scheme(ctx, &s)) return P2L_ERROR_UNSUPPORTED;
    if (!xt->quant) xt->quant = s.q; /* an int8 model input: these are its parameters */
    else if (!p2l_quant_equal(xt->quant, s.q) || xt->quant->count != 1)
        return p2l_unsupported(ctx, "dequantize with scale %g, zero point %lld of a tensor quantized with scale %g, "
                               "zero point %lld", s.q->scales[0], (long long)s.q->zero_points[0], xt->quant->scales[0],
                               (long long)xt->quant->zero_points[0]);
    int out = p2l_output(ctx, 0, &l);
    return p2l_emitted(p2l_emit1(ctx, P2L_OP_DEQUANTIZE, x, out));
}

p2l_status p2l_lower_quantize_per_tensor(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_quantize(ctx, false);
}

p2l_status p2l_lower_quantize_per_channel(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_quantize(ctx, true);
}

p2l_status p2l_lower_dequantize_per_tensor(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_dequantize(ctx, false);
}

p2l_status p2l_lower_dequantize_per_channel(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_dequantize(ctx, true);
}
