/* Hybrid CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: float32 input and output, int8 weights
 * symmetric per output channel (the dynamic_int8 recipe, docs/quantization.md), float32 bias. As
 * TFLite's reference hybrid kernels: the input is quantized to int8 at run time (FULLY_CONNECTED per
 * row, asymmetric when asymmetric_quantize_inputs, else symmetric; convolutions per image,
 * asymmetric), sums are int8 x int8 in int32 less zero point x sum of the channel's weights, then
 * scaled back to float by input scale x weight scale, plus the bias, then the fused activation.
 * The reference kernels' prepare (conv.c, matmul.c) checks shapes and options and leaves the int8
 * weights to this file. */
#include <math.h>
#include <string.h>

#include "kernels/hybrid_conv_fast.h"
#include "kernels/hybrid_fast.h"
#include "kernels/quant_math.h"

typedef struct hybrid_state {
    void *reference_state;  /* the reference kernel's (p2l_conv_params for convolutions) */
    const float *weight_scales; /* per output channel */
    int8_t *quantized;      /* the input, quantized (one prepare-time buffer per node) */
    float *input_scales;    /* per row / image */
    int32_t *input_zero_points;
    size_t rows, row_size;  /* rows quantized separately, and their length */
    bool asymmetric;
    const void *fast;       /* FULLY_CONNECTED: the fast path (hybrid_fast.h), or NULL */
} hybrid_state;

/* TFLite's asymmetric quantization of one row: the range [min(0, min), max(0, max)] onto [-128, 127]
 * with the zero point nudged to an integer (doubles, as TFLite); an all-zero row: scale 1, zero point 0. */
static void quantize_asymmetric(const float *x, size_t n, int8_t *q, float *scale, int32_t *zero_point) {
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    if (lo == hi) {
        memset(q, 0, n);
        *scale = 1, *zero_point = 0;
        return;
    }
    const double rmin = lo, rmax = hi, qmin = -128, qmax = 127;
    const double s = (rmax - rmin) / (qmax - qmin);
    const double from_min = qmin - rmin / s, from_max = qmax - rmax / s;
    const double zp = fabs(qmin) + fabs(rmin / s) < fabs(qmax) + fabs(rmax / s) ? from_min : from_max;
    *zero_point = zp <= qmin ? -128 : zp >= qmax ? 127 : (int32_t)round(zp);
    *scale = (float)s;
    const float inv = 1.0f / *scale;
    for (size_t i = 0; i < n; i++) q[i] = (int8_t)p2l_clamp_i32(p2l_round_to_i32((float)*zero_point + x[i] * inv), -128, 127);
}

/* TFLite's symmetric quantization of one row onto [-127, 127]; an all-zero row: scale 1. */
static void quantize_symmetric(const float *x, size_t n, int8_t *q, float *scale) {
    float range = 0;
    for (size_t i = 0; i < n; i++) range = fabsf(x[i]) > range ? fabsf(x[i]) : range;
    if (range == 0) {
        memset(q, 0, n);
        *scale = 1;
        return;
    }
    *scale = range / 127.0f;
    const float inv = 127.0f / range;
    for (size_t i = 0; i < n; i++) q[i] = (int8_t)p2l_clamp_i32(p2l_round_to_i32(x[i] * inv), -127, 127);
}

static void quantize_input(const p2l_node *node, const hybrid_state *st) {
    const float *x = node->inputs[0]->data;
    for (size_t r = 0; r < st->rows; r++) {
        const size_t at = r * st->row_size;
        if (st->asymmetric) quantize_asymmetric(x + at, st->row_size, st->quantized + at, &st->input_scales[r], &st->input_zero_points[r]);
        else quantize_symmetric(x + at, st->row_size, st->quantized + at, &st->input_scales[r]), st->input_zero_points[r] = 0;
    }
}

/* After the reference prepare: checks the weights and sets up the buffers. */
static p2l_status hybrid_setup(p2l_node *node, int channel_dim, int32_t channels, size_t rows, bool asymmetric) {
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    P2L_TRY(p2l_expect_dtype(w, P2L_INT8));
    const float *scales;
    bool per_channel;
    P2L_TRY(p2l_quant_scales(w, channel_dim, channels, &scales, &per_channel));
    P2L_TRY(p2l_quant_expect_symmetric(w));
    if (!per_channel && (node->op != P2L_OP_FULLY_CONNECTED || channels > 1))
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "hybrid %s with one weight scale for %d channels is not supported "
                        "(per-channel weights are)", p2l_op_info_of(node->op)->name, channels);
    hybrid_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    const size_t count = x->count ? x->count : 1, r = rows ? rows : 1;
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    *st = (hybrid_state){.reference_state = node->state, .weight_scales = scales, .rows = rows,
                         .row_size = rows ? x->count / rows : 0, .asymmetric = asymmetric,
                         .quantized = p2l_arena_alloc(node->arena, count),
                         .input_scales = p2l_arena_alloc(node->arena, r * sizeof(float)),
                         .input_zero_points = p2l_arena_alloc(node->arena, r * sizeof(int32_t))};
    if (!st->quantized || !st->input_scales || !st->input_zero_points)
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory for the quantized input (%zu bytes)", x->count);
    node->state = st;
    return P2L_OK;
}

/* ------------------------------------------------------------ FULLY_CONNECTED */

static p2l_status fully_connected_prepare(p2l_node *node) {
    P2L_TRY(p2l_reference_kernel_of(P2L_OP_FULLY_CONNECTED)->prepare(node));
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    P2L_TRY(hybrid_setup(node, 0, w->dims[0], x->count / (size_t)w->dims[1],
                         node->opts.fully_connected.asymmetric_quantize_inputs));
#if P2L_HYBRID_FAST
    P2L_TRY(p2l_hybrid_fc_fast_prepare(node, &((hybrid_state *)node->state)->fast));
#endif
    return P2L_OK;
}

static p2l_status fully_connected_invoke(p2l_node *node) {
    const hybrid_state *st = node->state;
    const p2l_tensor *w = node->inputs[1], *bias_t = node->input_count > 2 ? node->inputs[2] : NULL;
    const size_t units = (size_t)w->dims[0], depth = (size_t)w->dims[1];
    const int8_t *weights = w->data;
    const float *bias = bias_t ? bias_t->data : NULL, *ws = st->weight_scales;
    const bool per_channel = w->quant_count > 1;
    float *out = node->outputs[0]->data;
    quantize_input(node, st);
#if P2L_HYBRID_FAST
    if (st->fast) {
        p2l_hybrid_fc_fast_invoke(node, st->fast, st->quantized, st->input_scales, st->input_zero_points, ws,
                                  per_channel);
        p2l_apply_fused_activation(node);
        return P2L_OK;
    }
#endif
    for (size_t b = 0; b < st->rows; b++) {
        const int8_t *row = st->quantized + b * depth;
        for (size_t u = 0; u < units; u++) {
            const int8_t *wr = weights + u * depth;
            int32_t dot = 0, weight_sum = 0;
            for (size_t k = 0; k < depth; k++) dot += (int32_t)row[k] * wr[k], weight_sum += wr[k];
            dot -= st->input_zero_points[b] * weight_sum;
            out[b * units + u] = (bias ? bias[u] : 0.0f) + (float)dot * (st->input_scales[b] * ws[per_channel ? u : 0]);
        }
    }
    p2l_apply_fused_activation(node);
    return P2L_OK;
}

/* ------------------------------------------------------------ CONV_2D, DEPTHWISE_CONV_2D */

static p2l_status conv_prepare(p2l_node *node) {
    P2L_TRY(p2l_reference_kernel_of(node->op)->prepare(node));
    const p2l_tensor *x = node->inputs[0];
    const bool depthwise = node->op == P2L_OP_DEPTHWISE_CONV_2D;
    const p2l_conv_params *p = node->state;
    if (!depthwise && p->groups != 1)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "hybrid grouped CONV_2D (%d groups) is not supported", p->groups);
    if (p->dilation_h != 1 || p->dilation_w != 1)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "hybrid %s with dilation %dx%d is not supported (LiteRT's hybrid "
                        "kernel ignores dilation)", p2l_op_info_of(node->op)->name, p->dilation_h, p->dilation_w);
    P2L_TRY(hybrid_setup(node, depthwise ? 3 : 0, node->outputs[0]->dims[3], (size_t)x->dims[0], true));
#if P2L_HYBRID_FAST
    P2L_TRY(p2l_hybrid_conv_fast_prepare(node, p, &((hybrid_state *)node->state)->fast));
#endif
    return P2L_OK;
}

static p2l_status conv_invoke(p2l_node *node) {
    const hybrid_state *st = node->state;
    const p2l_conv_params *p = st->reference_state;
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->outputs[0];
    const p2l_tensor *bias_t = node->input_count > 2 ? node->inputs[2] : NULL;
    const int H = x->dims[1], W = x->dims[2], C = x->dims[3], KH = w->dims[1], KW = w->dims[2], FC = w->dims[3];
    const int OH = y->dims[1], OW = y->dims[2], OC = y->dims[3];
    const bool depthwise = node->op == P2L_OP_DEPTHWISE_CONV_2D;
    const int8_t *filter = w->data;
    const float *bias = bias_t ? bias_t->data : NULL;
    float *out = y->data;
#if P2L_HYBRID_FAST
    if (st->fast && p2l_hybrid_conv_fast_invoke(node, st->fast, st->quantized, st->input_scales,
                                                st->input_zero_points, st->weight_scales))
        return P2L_OK;
#endif
    quantize_input(node, st);
    for (int n = 0; n < x->dims[0]; n++) {
        const int8_t *image = st->quantized + (size_t)n * st->row_size;
        const int32_t zero_point = st->input_zero_points[n];
        const float input_scale = st->input_scales[n];
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int oc = 0; oc < OC; oc++) {
                    int32_t acc = 0;
                    for (int ky = 0; ky < KH; ky++) {
                        const int iy = oy * p->stride_h - p->pad_h + ky;
                        if (iy < 0 || iy >= H) continue;
                        for (int kx = 0; kx < KW; kx++) {
                            const int ix = ox * p->stride_w - p->pad_w + kx;
                            if (ix < 0 || ix >= W) continue; /* padding is the zero point: adds nothing */
                            const int8_t *in = image + ((size_t)iy * W + ix) * C;
                            if (depthwise) {
                                const int32_t v = in[oc / p->depth_multiplier] - zero_point;
                                acc += v * filter[((size_t)ky * KW + kx) * FC + oc];
                            } else {
                                const int8_t *f = filter + (((size_t)oc * KH + ky) * KW + kx) * FC;
                                for (int c = 0; c < C; c++) acc += ((int32_t)in[c] - zero_point) * f[c];
                            }
                        }
                    }
                    /* the two kernels' orders of the float products, as TFLite's reference kernels */
                    float v = depthwise ? (float)acc * (st->weight_scales[oc] * input_scale)
                                        : (float)acc * st->weight_scales[oc] * input_scale;
                    if (bias) v += bias[oc];
                    out[(((size_t)n * OH + oy) * OW + ox) * OC + oc] = v;
                }
    }
    p2l_apply_activation(p->activation, out, y->count);
    return P2L_OK;
}

/* The arity of the three ops' reference kernels: input, filter, optional bias; one output. */
#define HYBRID_KERNEL(name, prefix)                                                                            \
    static const p2l_kernel name = {.prepare = prefix##_prepare, .invoke = prefix##_invoke, .min_inputs = 2,   \
                                     .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 2};
HYBRID_KERNEL(hybrid_conv, conv)
HYBRID_KERNEL(hybrid_fully_connected, fully_connected)
#undef HYBRID_KERNEL

const p2l_kernel *p2l_hybrid_kernel(const p2l_node *node) {
    if (node->input_count < 2 || !node->inputs[0] || !node->inputs[1] || node->inputs[0]->dtype != P2L_FLOAT32 ||
        node->inputs[1]->dtype != P2L_INT8)
        return NULL;
    switch (node->op) {
    case P2L_OP_CONV_2D: case P2L_OP_DEPTHWISE_CONV_2D: return &hybrid_conv;
    case P2L_OP_FULLY_CONNECTED: return &hybrid_fully_connected;
    default: return NULL;
    }
}

/* The convolutions' fast path (hybrid_conv_fast.h) quantizes with its own loops and takes the scale
 * and zero point from this file's code: on the range's two ends, whose range is the row's. */
void p2l_hybrid_asymmetric_params(float lo, float hi, float *scale, int32_t *zero_point) {
    const float ends[2] = {lo, hi};
    int8_t unused[2];
    quantize_asymmetric(ends, 2, unused, scale, zero_point);
}
