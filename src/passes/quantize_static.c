/* The int8 recipe (P2L_QUANTIZE_INT8): full integer from calibrated activation ranges.
 *
 * The optimized float graph is given the form a PT2E graph has, and passes/quantize.c's rewrite
 * (the one PT2E models take) makes the int8 ops:
 * - every float32 activation that an op with an int8 form writes or reads, and the graph's inputs
 *   and outputs, goes through QUANTIZE -> DEQUANTIZE at asymmetric int8 per-tensor parameters from
 *   its calibrated range widened to include 0 (TFLite's choice); ops whose int8 kernel moves values
 *   (pooling, pad, reshape, transpose) keep their input's parameters, and LOGISTIC / SOFTMAX outputs
 *   take the fixed 1/256, -128 of TFLite's int8 kernels;
 * - the filter of conv / depthwise / FULLY_CONNECTED becomes a float constant holding symmetric
 *   per-channel int8 values dequantized (p2l_ir_tensor.dequantized), with a zero bias where it has
 *   none, so that the rewrite gives the op int8 weights and an int32 bias.
 * Ops without an int8 form stay float between a DEQUANTIZE and a QUANTIZE. With options->int8_io the
 * graph's float inputs and outputs are int8 tensors themselves (no QUANTIZE / DEQUANTIZE at the ends).
 *
 * The ranges (options->calibration) were recorded by pt2lite's runtime running the float file this
 * same graph was written as (runtime/calibration.c), keyed by subgraph and tensor names. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "passes/passes.h"

static bool is_graph_input(const p2l_ir_graph *g, int t) {
    for (size_t i = 0; i < g->inputs.len; i++)
        if (g->inputs.items[i] == t) return true;
    return false;
}

static void replace_output(p2l_ir_graph *g, int from, int to) {
    for (size_t i = 0; i < g->outputs.len; i++)
        if (g->outputs.items[i] == from) g->outputs.items[i] = to;
}

static const char *origin_of(const p2l_ir_graph *g, int t) {
    int p = g->tensors.items[t].producer;
    return p >= 0 && g->nodes.items[p].origin ? g->nodes.items[p].origin : "int8 recipe";
}

/* Asymmetric int8 parameters for [lo, hi] widened to include 0. */
static p2l_quant *range_params(p2l_ir_graph *g, double lo, double hi) {
    lo = fmin(lo, 0.0), hi = fmax(hi, 0.0);
    double scale = (hi - lo) / 255.0;
    if (!(scale >= FLT_MIN)) scale = 1.0; /* a tensor that is always 0: any scale holds it */
    p2l_quant *q = p2l_new_quant(g, 1, 0);
    if (!q) return NULL;
    q->scales[0] = (float)scale;
    q->zero_points[0] = (int64_t)fmin(fmax(nearbyint(-128.0 - lo / q->scales[0]), -128.0), 127.0);
    return q;
}

static p2l_status calibrated_params(p2l_ir_graph *g, const p2l_calibration *calibration, int t, p2l_quant **out) {
    const p2l_ir_tensor *tt = &g->tensors.items[t];
    float lo = 0, hi = 0;
    p2l_status s = p2l_calibration_range(calibration, g->name ? g->name : "", tt->name ? tt->name : "", &lo, &hi);
    if (s != P2L_OK) return p2l_fail_context(s, "%s", origin_of(g, t));
    if (!isfinite(lo) || !isfinite(hi))
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: tensor '%s' has the calibrated range [%g, %g], which int8 cannot "
                        "represent (a calibration input made it NaN or infinite)", origin_of(g, t), tt->name, lo, hi);
    *out = range_params(g, lo, hi);
    return *out ? P2L_OK : p2l_last_status();
}

/* The filter of node n (input 1, output channels along `axis`) as symmetric per-channel int8 values
 * dequantized, and a zero bias where the node has none. Left float (the op stays float) when the
 * filter is not a float32 constant of its own. */
static p2l_status quantize_weights(p2l_ir_graph *g, int n, int axis) {
    const p2l_ir_node *node = &g->nodes.items[n];
    int f = node->ninputs >= 3 ? node->inputs[1] : -1;
    if (!p2l_is_const(g, f)) return P2L_OK;
    p2l_ir_tensor *ft = &g->tensors.items[f];
    int64_t numel = p2l_ir_tensor_numel(ft);
    if (ft->dtype != P2L_FLOAT32 || ft->dequantized || ft->consumers != 1 || axis >= ft->rank || numel <= 0) return P2L_OK;
    int64_t channels = ft->dims[axis], inner = 1;
    for (int d = axis + 1; d < ft->rank; d++) inner *= ft->dims[d];
    int8_t *int8_values = NULL;
    p2l_quant *q = p2l_int8_per_channel(g, f, axis, node->origin ? node->origin : "a node", &int8_values);
    if (!q) return p2l_last_status();
    float *values = p2l_alloc((size_t)numel * sizeof(float));
    if (!values) {
        p2l_release(int8_values);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory quantizing %s", ft->name);
    }
    for (int64_t i = 0; i < numel; i++) values[i] = int8_values[i] * q->scales[i / inner % channels];
    p2l_release(int8_values);
    p2l_set_const_data(g, f, values, (size_t)numel * sizeof(float));
    g->tensors.items[f].dequantized = q;
    if (node->inputs[2] >= 0) return P2L_OK;
    float *zeros = p2l_alloc_zero((size_t)channels * sizeof(float));
    if (!zeros) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory quantizing %s", g->tensors.items[f].name);
    int b = p2l_add_const_f32(g, p2l_arena_printf(g->arena, "%s/zero_bias", g->tensors.items[f].name), 1, &channels, zeros);
    p2l_release(zeros);
    if (b < 0) return p2l_last_status();
    g->nodes.items[n].inputs[2] = b;
    return P2L_OK;
}

/* t -> QUANTIZE -> DEQUANTIZE -> t's readers (and the graph output t was); with int8_io a graph
 * input becomes int8 itself and a graph output the QUANTIZE's int8 result. */
static p2l_status insert_quantize(p2l_ir_graph *g, int t, p2l_quant *q, bool int8_io) {
    const p2l_ir_tensor tt = g->tensors.items[t];
    const char *origin = origin_of(g, t);
    bool output = p2l_is_graph_output(g, t);
    int dq = p2l_add_tensor(g, p2l_arena_printf(g->arena, "%s/dequantized", tt.name), P2L_FLOAT32, tt.rank, tt.dims);
    if (dq < 0) return p2l_last_status();
    p2l_ir_graph_replace_uses(g, t, dq);
    int int8 = t;
    if (int8_io && is_graph_input(g, t)) {
        g->tensors.items[t].dtype = P2L_INT8;
    } else {
        int8 = p2l_add_tensor(g, p2l_arena_printf(g->arena, "%s/quantized", tt.name), P2L_INT8, tt.rank, tt.dims);
        if (int8 < 0 || p2l_add_node(g, P2L_OP_QUANTIZE, 1, &t, 1, &int8, origin) < 0) return p2l_last_status();
    }
    g->tensors.items[int8].quant = q;
    if (p2l_add_node(g, P2L_OP_DEQUANTIZE, 1, &int8, 1, &dq, origin) < 0) return p2l_last_status();
    if (output && int8_io) replace_output(g, dq, int8);
    return P2L_OK;
}

/* Whether tensor t gets int8 parameters: a float32 activation at the graph's edge, or written or
 * read (as an activation) by an op with an int8 form. */
static bool wants_params(const p2l_ir_graph *g, int t, const bool *int8_reader) {
    const p2l_ir_tensor *tt = &g->tensors.items[t];
    if (tt->dtype != P2L_FLOAT32 || tt->data) return false;
    p2l_int8_form form;
    return int8_reader[t] || is_graph_input(g, t) || p2l_is_graph_output(g, t) ||
           (tt->producer >= 0 && p2l_int8_form_of(g->nodes.items[tt->producer].op, &form));
}

static p2l_status choose_params(p2l_ir_graph *g, const p2l_calibration *calibration, p2l_quant **params) {
    size_t tensors = g->tensors.len;
    bool *int8_reader = p2l_alloc_zero(tensors ? tensors : 1);
    if (!int8_reader) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t n = 0; n < g->nodes.len; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        p2l_int8_form form;
        if (node->dead || !p2l_int8_form_of(node->op, &form)) continue;
        int activations = form.activations < 0 || form.activations > node->ninputs ? node->ninputs : form.activations;
        for (int i = 0; i < activations; i++)
            if (node->inputs[i] >= 0) int8_reader[node->inputs[i]] = true;
    }
    p2l_status s = P2L_OK;
    for (size_t i = 0; s == P2L_OK && i < g->inputs.len; i++)
        if (wants_params(g, g->inputs.items[i], int8_reader))
            s = calibrated_params(g, calibration, g->inputs.items[i], &params[g->inputs.items[i]]);
    for (size_t n = 0; s == P2L_OK && n < g->nodes.len; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        p2l_int8_form form;
        bool has_form = !node->dead && p2l_int8_form_of(node->op, &form);
        for (int o = 0; s == P2L_OK && !node->dead && o < node->noutputs; o++) {
            int t = node->outputs[o];
            if (!wants_params(g, t, int8_reader)) continue;
            if (has_form && form.output_1_256) {
                if (!(params[t] = p2l_new_quant(g, 1, 0))) s = p2l_last_status();
                else params[t]->scales[0] = 1.0f / 256, params[t]->zero_points[0] = -128;
            } else if (has_form && form.same_params && form.activations == 1 && node->inputs[0] >= 0 &&
                       params[node->inputs[0]]) {
                params[t] = params[node->inputs[0]]; /* values moved, not computed: no rescaling */
            } else {
                s = calibrated_params(g, calibration, t, &params[t]);
            }
        }
    }
    p2l_release(int8_reader);
    return s;
}

p2l_status p2l_quantize_static(p2l_ir_graph *g, const p2l_convert_options *options) {
    const p2l_calibration *calibration = options->calibration;
    if (!calibration)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "needs p2l_convert_options.calibration: the activation ranges "
                        "recorded by running the float model (p2l_calibration_record)");
    if (p2l_calibration_invocations(calibration) == 0)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the calibration is empty: no invocation was recorded (give it "
                        "representative inputs)");
    p2l_ir_graph_count_uses(g);
    size_t tensors = g->tensors.len, nodes = g->nodes.len;
    p2l_quant **params = p2l_alloc_zero(sizeof *params * (tensors ? tensors : 1));
    if (!params) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    p2l_status s = choose_params(g, calibration, params);
    for (size_t n = 0; s == P2L_OK && n < nodes; n++) {
        p2l_int8_form form;
        if (!g->nodes.items[n].dead && p2l_int8_form_of(g->nodes.items[n].op, &form) && form.weight_axis >= 0)
            s = quantize_weights(g, (int)n, form.weight_axis);
    }
    for (size_t t = 0; s == P2L_OK && t < tensors; t++)
        if (params[t]) s = insert_quantize(g, (int)t, params[t], options->int8_io != 0);
    p2l_release(params);
    P2L_TRY(s);
    /* passes/quantize.c's rewrite, to a fixed point (bounded as p2l_optimize's) */
    for (int round = 0; round < 16; round++) {
        bool changed = false;
        p2l_ir_graph_count_uses(g);
        P2L_TRY(p2l_pass_quantize(g, &changed));
        p2l_ir_graph_count_uses(g);
        P2L_TRY(p2l_pass_remove_dead(g, &changed));
        if (!changed) break;
    }
    P2L_TRY(p2l_ir_graph_compact(g));
    return p2l_ir_graph_toposort(g);
}
