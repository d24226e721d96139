/* PT2E graphs: DEQUANTIZE -> float op -> QUANTIZE becomes the int8 op (lower/lower_quant.c says
 * what the lowering leaves).
 *
 * p2l_pass_carry_dequantized runs before constant folding: it lays out (TRANSPOSE, RESHAPE) float
 * constants that hold dequantized int8 weights itself, so the layout change keeps the parameters
 * (the per-channel axis follows the output channels into OHWI, 1HW(C*M) or [out, in]).
 *
 * p2l_pass_quantize runs after the activation fusions:
 * - DEQUANTIZE moves after TRANSPOSE / RESHAPE / PAD, which then move int8 bytes;
 * - QUANTIZE of DEQUANTIZE(y) is y itself when the parameters agree, else a requantizing QUANTIZE;
 * - an op of the table below whose activation inputs all come from DEQUANTIZE and whose output
 *   only goes to one QUANTIZE reads the int8 tensors and writes the QUANTIZE's output; conv and
 *   FULLY_CONNECTED get their weights back as int8 (per channel along the output channels) and
 *   their bias as int32 with scale input_scale * weight_scale[c] and zero point 0. A fused
 *   RELU/RELU6 clamps in the int8 domain, as TFLite's int8 kernels do.
 * Pooling, concat, pad, reshape and transpose move int8 values without rescaling: an input at other
 * parameters than the output is rescaled first (an int8 -> int8 QUANTIZE, as TFLite's converter does).
 * An op outside the table, or whose int8 kernel fixes its output's parameters (LOGISTIC, SOFTMAX:
 * scale 1/256, zero point -128) when the graph has others, stays float between its DEQUANTIZE and
 * QUANTIZE: the file computes what PyTorch's Q/DQ graph computes. */
#include <math.h>
#include <string.h>

#include "passes/passes.h"

static int producer_op(const p2l_ir_graph *g, int t, p2l_op op) {
    if (t < 0) return -1;
    int p = g->tensors.items[t].producer;
    return p >= 0 && !g->nodes.items[p].dead && g->nodes.items[p].op == op ? p : -1;
}

static bool per_tensor_int8(const p2l_ir_tensor *t) {
    return t->dtype == P2L_INT8 && t->quant && t->quant->count == 1;
}

/* The int8 tensor a DEQUANTIZE turns into t, or -1. */
static int dequantized_source(const p2l_ir_graph *g, int t) {
    int d = producer_op(g, t, P2L_OP_DEQUANTIZE);
    if (d < 0) return -1;
    int x = g->nodes.items[d].inputs[0];
    return per_tensor_int8(&g->tensors.items[x]) ? x : -1;
}

/* ------------------------------------------------------------ weights through layout changes */

/* Where channel axis `axis` of `in` lands in `out` after a RESHAPE: the axis with the same size and
 * the same number of elements before it; -1 when the reshape splits or merges it. */
static int reshaped_axis(const p2l_ir_tensor *in, const p2l_ir_tensor *out, int axis) {
    int64_t before = 1, seen = 1;
    for (int d = 0; d < axis; d++) before *= in->dims[d];
    for (int d = 0; d < out->rank; d++) {
        if (seen == before && out->dims[d] == in->dims[axis]) return d;
        seen *= out->dims[d];
    }
    return -1;
}

p2l_status p2l_pass_carry_dequantized(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || (node->op != P2L_OP_TRANSPOSE && node->op != P2L_OP_RESHAPE) || node->ninputs < 1) continue;
        const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]];
        p2l_ir_tensor *out = &g->tensors.items[node->outputs[0]];
        if (!in->data || !in->dequantized || in->dtype != P2L_FLOAT32 || p2l_ir_tensor_bytes(out) != in->nbytes ||
            p2l_ir_tensor_numel(out) < 0)
            continue;
        const p2l_quant *q = in->dequantized;
        int axis = 0, perm[P2L_MAX_DIMS];
        if (node->op == P2L_OP_TRANSPOSE) {
            if (node->ninputs < 2 || !p2l_is_const(g, node->inputs[1]) || g->tensors.items[node->inputs[1]].dtype != P2L_INT32 ||
                p2l_ir_tensor_numel(&g->tensors.items[node->inputs[1]]) != in->rank)
                continue;
            const int32_t *p = g->tensors.items[node->inputs[1]].data;
            bool valid = true;
            for (int d = 0; d < in->rank; d++) {
                perm[d] = p[d];
                valid = valid && p[d] >= 0 && p[d] < in->rank && in->dims[p[d]] == out->dims[d];
                if (p[d] == q->axis) axis = d;
            }
            if (!valid) continue;
        } else if (q->count > 1 && (axis = reshaped_axis(in, out, q->axis)) < 0) {
            continue; /* left to fold-constants: the op reading it stays float */
        }
        p2l_quant *moved = (p2l_quant *)q;
        if (q->count > 1 && axis != q->axis) {
            if (!(moved = p2l_new_quant(g, q->count, axis))) return p2l_last_status();
            memcpy(moved->scales, q->scales, sizeof(float) * (size_t)q->count);
            memcpy(moved->zero_points, q->zero_points, sizeof(int64_t) * (size_t)q->count);
        }
        void *data = p2l_alloc(in->nbytes ? in->nbytes : 1);
        if (!data) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory moving %s", in->name);
        if (node->op == P2L_OP_TRANSPOSE) p2l_permute_bytes(data, in->data, sizeof(float), in->rank, in->dims, perm);
        else memcpy(data, in->data, in->nbytes);
        out->data = out->owned = data;
        out->nbytes = in->nbytes;
        out->producer = -1;
        out->dequantized = moved;
        node->dead = true;
        *changed = true;
    }
    return P2L_OK;
}

/* ------------------------------------------------------------ int8 ops */

enum {
    SAME_PARAMS = 1, /* the int8 kernel needs the output's parameters on every input: others are rescaled first */
    WEIGHTS = 2,     /* input 1 is the filter (channel axis below), input 2 the bias */
    OUTPUT_1_256 = 4 /* the int8 kernel's output has scale 1/256, zero point -128 */
};

static const struct {
    p2l_op op;
    int activations; /* leading inputs that are activations (-1: all); the rest are constants */
    unsigned rules;
    int channel_axis; /* WEIGHTS: the filter's output-channel axis in TFLite's layout */
} int8_ops[] = {
    {P2L_OP_CONV_2D, 1, WEIGHTS, 0},
    {P2L_OP_DEPTHWISE_CONV_2D, 1, WEIGHTS, 3},
    {P2L_OP_FULLY_CONNECTED, 1, WEIGHTS, 0},
    {P2L_OP_ADD, 2, 0, 0},
    {P2L_OP_SUB, 2, 0, 0},
    {P2L_OP_MUL, 2, 0, 0},
    {P2L_OP_AVERAGE_POOL_2D, 1, SAME_PARAMS, 0},
    {P2L_OP_MAX_POOL_2D, 1, SAME_PARAMS, 0},
    {P2L_OP_MEAN, 1, 0, 0},
    {P2L_OP_CONCATENATION, -1, SAME_PARAMS, 0},
    {P2L_OP_PAD, 1, SAME_PARAMS, 0},
    {P2L_OP_RESHAPE, 1, SAME_PARAMS, 0},
    {P2L_OP_TRANSPOSE, 1, SAME_PARAMS, 0},
    {P2L_OP_HARD_SWISH, 1, 0, 0},
    {P2L_OP_RELU, 1, 0, 0},
    {P2L_OP_RELU6, 1, 0, 0},
    {P2L_OP_LOGISTIC, 1, OUTPUT_1_256, 0},
    {P2L_OP_SOFTMAX, 1, OUTPUT_1_256, 0},
};

static int int8_row(p2l_op op) {
    for (size_t i = 0; i < sizeof int8_ops / sizeof int8_ops[0]; i++)
        if (int8_ops[i].op == op) return (int)i;
    return -1;
}

bool p2l_int8_form_of(p2l_op op, p2l_int8_form *form) {
    int row = int8_row(op);
    if (row < 0) return false;
    unsigned rules = int8_ops[row].rules;
    *form = (p2l_int8_form){.weight_axis = rules & WEIGHTS ? int8_ops[row].channel_axis : -1,
                            .activations = int8_ops[row].activations,
                            .same_params = rules & SAME_PARAMS,
                            .output_1_256 = rules & OUTPUT_1_256};
    return true;
}

/* The int8 filter for the dequantized float constant f, per channel along `axis` (or per tensor):
 * -1 when f is not such a constant, or its values are not exactly the dequantized int8 ones
 * (something rewrote them); -2 with an error for weights TFLite's int8 kernels do not take. */
static int int8_filter(p2l_ir_graph *g, const p2l_ir_node *node, int f, int axis) {
    const p2l_ir_tensor *ft = &g->tensors.items[f];
    const p2l_quant *q = ft->dequantized;
    if (!ft->data || !q || ft->dtype != P2L_FLOAT32 || axis >= ft->rank) return -1;
    if (q->count > 1 && (q->axis != axis || ft->dims[axis] != q->count)) return -1;
    for (int c = 0; c < q->count; c++)
        if (q->zero_points[c] != 0) {
            p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: %s weights quantized with zero point %lld (asymmetric int8 weights): "
                     "TFLite's int8 %s takes symmetric weights (zero point 0)", node->origin ? node->origin : "a node",
                     p2l_op_info_of(node->op)->name, (long long)q->zero_points[c], p2l_op_info_of(node->op)->name);
            return -2;
        }
    int64_t n = p2l_ir_tensor_numel(ft), inner = 1;
    for (int d = axis + 1; d < ft->rank; d++) inner *= ft->dims[d];
    int8_t *data = p2l_alloc(n > 0 ? (size_t)n : 1);
    if (!data) return -2;
    for (int64_t i = 0; i < n; i++) {
        int c = q->count == 1 ? 0 : (int)(i / inner % ft->dims[axis]);
        float w;
        memcpy(&w, (const float *)ft->data + i, sizeof w);
        float r = nearbyintf(w / q->scales[c]);
        if (r < -128 || r > 127 || r * q->scales[c] != w) {
            p2l_release(data);
            return -1;
        }
        data[i] = (int8_t)r;
    }
    p2l_quant *wq = (p2l_quant *)q;
    if (q->count == 1 && q->axis != 0) {
        if (!(wq = p2l_new_quant(g, 1, 0))) return -2;
        wq->scales[0] = q->scales[0];
    }
    int t = p2l_add_const(g, p2l_arena_printf(g->arena, "%s/int8", g->tensors.items[f].name), P2L_INT8,
                          g->tensors.items[f].rank, g->tensors.items[f].dims, data, true);
    if (t >= 0) g->tensors.items[t].quant = wq;
    return t;
}

/* The int32 bias: round(bias[c] / (input_scale * weight_scale[c])), zero point 0. -2 with an
 * error when a value does not fit int32 or the bias is not a float constant of `channels` values. */
static int int32_bias(p2l_ir_graph *g, const p2l_ir_node *node, int b, float input_scale, const p2l_quant *wq,
                      int64_t channels) {
    const p2l_ir_tensor *bt = b >= 0 ? &g->tensors.items[b] : NULL;
    const char *origin = node->origin ? node->origin : "a node";
    if (!bt || !bt->data || bt->dtype != P2L_FLOAT32 || p2l_ir_tensor_numel(bt) != channels) return -1;
    int32_t *data = p2l_alloc(sizeof(int32_t) * (size_t)(channels > 0 ? channels : 1));
    p2l_quant *q = p2l_new_quant(g, wq->count, 0);
    if (!data || !q) {
        p2l_release(data);
        return -2;
    }
    for (int c = 0; c < q->count; c++) q->scales[c] = input_scale * wq->scales[c];
    for (int64_t c = 0; c < channels; c++) {
        float v;
        memcpy(&v, (const float *)bt->data + c, sizeof v);
        double r = nearbyint((double)v / (double)q->scales[q->count == 1 ? 0 : c]);
        if (!(r >= INT32_MIN && r <= INT32_MAX)) {
            p2l_release(data);
            p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: bias %g of channel %lld at scale %g (input scale x weight scale) is "
                     "%.0f steps, which does not fit int32", origin, v, (long long)c, q->scales[q->count == 1 ? 0 : c], r);
            return -2;
        }
        data[c] = (int32_t)r;
    }
    int t = p2l_add_const(g, p2l_arena_printf(g->arena, "%s/int32", bt->name), P2L_INT32, 1, &channels, data, true);
    if (t >= 0) g->tensors.items[t].quant = q;
    return t;
}

/* x rescaled to parameters q by an int8 -> int8 QUANTIZE (for node n, whose int8 kernel needs its
 * inputs at its output's parameters); -1 on OOM. */
static int requantized(p2l_ir_graph *g, int n, int x, const p2l_quant *q) {
    const p2l_ir_tensor xt = g->tensors.items[x];
    int t = p2l_add_tensor(g, p2l_arena_printf(g->arena, "%s/requantized", xt.name), P2L_INT8, xt.rank, xt.dims);
    if (t < 0) return -1;
    g->tensors.items[t].quant = (p2l_quant *)q;
    return p2l_add_node(g, P2L_OP_QUANTIZE, 1, &x, 1, &t, g->nodes.items[n].origin) < 0 ? -1 : t;
}

/* Rewrites node n as its int8 form when its inputs come from DEQUANTIZE and its output goes to one
 * QUANTIZE; false (graph untouched) when it cannot. */
static p2l_status try_int8(p2l_ir_graph *g, int n, bool *done) {
    *done = false;
    const p2l_ir_node *node = &g->nodes.items[n];
    int row = int8_row(node->op);
    if (row < 0 || node->noutputs != 1 || g->tensors.items[node->outputs[0]].dtype != P2L_FLOAT32) return P2L_OK;
    int qn = p2l_sole_consumer(g, node->outputs[0]);
    if (qn < 0 || g->nodes.items[qn].op != P2L_OP_QUANTIZE) return P2L_OK;
    int out = g->nodes.items[qn].outputs[0];
    const p2l_quant *oq = g->tensors.items[out].quant;
    if (!per_tensor_int8(&g->tensors.items[out])) return P2L_OK;
    unsigned rules = int8_ops[row].rules;
    if ((rules & OUTPUT_1_256) && (oq->scales[0] != 1.0f / 256 || oq->zero_points[0] != -128)) return P2L_OK;
    if (node->op == P2L_OP_CONCATENATION && p2l_get_option(g, n, "fused_activation_function") != 0) return P2L_OK;
    int activations = int8_ops[row].activations < 0 ? node->ninputs : int8_ops[row].activations;
    if (activations > node->ninputs || node->ninputs > 8) return P2L_OK;
    int sources[8];
    for (int i = 0; i < node->ninputs; i++) {
        if (i >= activations) {
            if (node->inputs[i] >= 0 && !p2l_is_const(g, node->inputs[i])) return P2L_OK;
            continue;
        }
        if ((sources[i] = dequantized_source(g, node->inputs[i])) < 0) return P2L_OK;
    }
    int filter = -1, bias = -1;
    if (rules & WEIGHTS) {
        if (node->ninputs < 3) return P2L_OK;
        int axis = int8_ops[row].channel_axis;
        filter = int8_filter(g, node, node->inputs[1], axis);
        if (filter == -2) return p2l_last_status();
        if (filter < 0) return P2L_OK;
        const p2l_ir_tensor *ft = &g->tensors.items[filter];
        bias = int32_bias(g, &g->nodes.items[n], g->nodes.items[n].inputs[2],
                          g->tensors.items[sources[0]].quant->scales[0], ft->quant, ft->dims[axis]);
        if (bias == -2) return p2l_last_status();
        if (bias < 0) return P2L_OK; /* the filter constant is dropped with the other unused tensors */
    }
    for (int i = 0; (rules & SAME_PARAMS) && i < activations; i++)
        if (!p2l_quant_equal(g->tensors.items[sources[i]].quant, oq) && (sources[i] = requantized(g, n, sources[i], oq)) < 0)
            return p2l_last_status();
    p2l_ir_node *rewritten = &g->nodes.items[n];
    for (int i = 0; i < activations; i++) rewritten->inputs[i] = sources[i];
    if (filter >= 0) rewritten->inputs[1] = filter, rewritten->inputs[2] = bias;
    rewritten->outputs[0] = out;
    g->nodes.items[qn].dead = true;
    *done = true;
    return P2L_OK;
}

/* TRANSPOSE / RESHAPE / PAD of DEQUANTIZE(x) -> DEQUANTIZE of the int8 op on x (int8 PAD pads with
 * the zero point, which is 0.0: the conv lowering's explicit padding). */
static p2l_status sink_dequantize(p2l_ir_graph *g, int n, bool *done) {
    *done = false;
    const p2l_ir_node *node = &g->nodes.items[n];
    if ((node->op != P2L_OP_TRANSPOSE && node->op != P2L_OP_RESHAPE && node->op != P2L_OP_PAD) || node->noutputs != 1)
        return P2L_OK;
    int x = dequantized_source(g, node->inputs[0]);
    if (x < 0) return P2L_OK;
    int out = node->outputs[0];
    const p2l_ir_tensor ot = g->tensors.items[out];
    int moved = p2l_add_tensor(g, p2l_arena_printf(g->arena, "%s/int8", ot.name), P2L_INT8, ot.rank, ot.dims);
    if (moved < 0) return p2l_last_status();
    g->tensors.items[moved].quant = g->tensors.items[x].quant;
    const char *origin = g->nodes.items[n].origin;
    g->nodes.items[n].inputs[0] = x;
    g->nodes.items[n].outputs[0] = moved;
    if (p2l_add_node(g, P2L_OP_DEQUANTIZE, 1, &moved, 1, &out, origin) < 0) return p2l_last_status();
    *done = true;
    return P2L_OK;
}

/* QUANTIZE(DEQUANTIZE(y)): y when the parameters agree, else QUANTIZE(y) (int8 -> int8 rescaling). */
static p2l_status skip_round_trip(p2l_ir_graph *g, int n, bool *done) {
    *done = false;
    p2l_ir_node *node = &g->nodes.items[n];
    if (node->op != P2L_OP_QUANTIZE) return P2L_OK;
    int y = dequantized_source(g, node->inputs[0]), out = node->outputs[0];
    if (y < 0 || !per_tensor_int8(&g->tensors.items[out])) return P2L_OK;
    if (p2l_quant_equal(g->tensors.items[y].quant, g->tensors.items[out].quant) && !p2l_is_graph_output(g, out)) {
        p2l_ir_graph_replace_uses(g, out, y);
        node->dead = true;
    } else {
        node->inputs[0] = y;
    }
    *done = true;
    return P2L_OK;
}

p2l_status p2l_pass_quantize(p2l_ir_graph *g, bool *changed) {
    static p2l_status (*const rewrites[])(p2l_ir_graph *, int, bool *) = {sink_dequantize, skip_round_trip, try_int8};
    for (size_t n = 0; n < g->nodes.len; n++) {
        for (size_t r = 0; r < sizeof rewrites / sizeof rewrites[0] && !g->nodes.items[n].dead; r++) {
            bool done = false;
            P2L_TRY(rewrites[r](g, (int)n, &done));
            if (!done) continue;
            p2l_ir_graph_count_uses(g); /* producers and consumers changed */
            *changed = true;
            break;
        }
    }
    return P2L_OK;
}
