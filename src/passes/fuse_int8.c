/* int8 activations folded into the int8 op that produces their input, as TFLite's converter does:
 * LiteRT's XNNPACK delegate takes int8 CONV_2D / ADD / ... with a fused activation but not a
 * standalone int8 RELU6, so one such op per layer splits the delegate into a partition per layer.
 *
 * p2l_pass_fuse_int8_activation runs after p2l_pass_quantize. An int8 RELU, RELU6 or RELU_N1_TO_1
 * (the float fusions have already turned clamp(x, 0, 6) and friends into these ops) whose input is
 * read by it alone and written by an int8 op with a fused activation field (none set yet) becomes
 * that op's fused activation, and the op writes the activation's output tensor, with its
 * quantization.
 *
 * Why this is what TFLite computes: an int8 kernel requantizes its accumulator to the output's scale
 * and zero point, then clamps to the fused activation's range expressed in those parameters. When
 * the activation's output has its input's parameters (what the XNNPACK quantizer gives ReLU6), the
 * standalone op was that same clamp on the same int8 values: the fused form is exact. When they
 * differ, the two-step graph rounds twice (accumulator -> input steps s_in, then -> output steps
 * s_out) where the fused op rounds once: the fused result is the better rounded one and differs from
 * the two-step (PyTorch Q/DQ) result by at most ceil(s_in / (2 s_out)) output steps, 1 when
 * s_in <= 2 s_out. The first step's saturation must not matter: the producer's int8 range, in real
 * values, must cover the activation's clamp range (within half an output step), else the op stays
 * standalone. */
#include <math.h>

#include "passes/passes.h"

static int fused_code(p2l_op op) {
    return op == P2L_OP_RELU ? P2L_ACT_RELU
           : op == P2L_OP_RELU6 ? P2L_ACT_RELU6
           : op == P2L_OP_RELU_N1_TO_1 ? P2L_ACT_RELU_N1_TO_1 : -1;
}

static bool takes_int8_activation(p2l_op op) {
    switch (op) {
    case P2L_OP_CONV_2D: case P2L_OP_DEPTHWISE_CONV_2D: case P2L_OP_FULLY_CONNECTED:
    case P2L_OP_ADD: case P2L_OP_SUB: case P2L_OP_MUL:
        return true;
    default:
        return false;
    }
}

static const p2l_quant *int8_per_tensor(const p2l_ir_tensor *t) {
    return t->dtype == P2L_INT8 && t->quant && t->quant->count == 1 ? t->quant : NULL;
}

/* The real interval [lo, hi] an int8 tensor with parameters q holds after activation `act`, with the
 * clamp bounds rounded to steps as TFLite's kernels round them. */
static void int8_real_range(const p2l_quant *q, int act, double *lo, double *hi) {
    double s = q->scales[0], z = (double)q->zero_points[0], qlo = -128, qhi = 127;
    if (act == P2L_ACT_RELU || act == P2L_ACT_RELU6) qlo = fmax(qlo, z);
    if (act == P2L_ACT_RELU_N1_TO_1) qlo = fmax(qlo, z + round(-1.0 / s));
    if (act == P2L_ACT_RELU6) qhi = fmin(qhi, z + round(6.0 / s));
    if (act == P2L_ACT_RELU_N1_TO_1) qhi = fmin(qhi, z + round(1.0 / s));
    *lo = s * (qlo - z);
    *hi = s * (qhi - z);
}

p2l_status p2l_pass_fuse_int8_activation(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        int act = node->dead || node->ninputs != 1 || node->noutputs != 1 ? -1 : fused_code(node->op);
        if (act < 0) continue;
        int x = node->inputs[0], y = node->outputs[0];
        const p2l_quant *xq = int8_per_tensor(&g->tensors.items[x]), *yq = int8_per_tensor(&g->tensors.items[y]);
        int producer = g->tensors.items[x].producer;
        if (!xq || !yq || producer < 0 || p2l_sole_consumer(g, x) != (int)n) continue;
        const p2l_ir_node *p = &g->nodes.items[producer];
        if (p->dead || p->noutputs != 1 || !takes_int8_activation(p->op) ||
            p2l_option_field(p->op, "fused_activation_function") < 0 ||
            p2l_get_option(g, producer, "fused_activation_function") != P2L_ACT_NONE)
            continue;
        if (!p2l_quant_equal(xq, yq)) {
            double have_lo, have_hi, want_lo, want_hi, half_step = 0.5 * yq->scales[0];
            int8_real_range(xq, P2L_ACT_NONE, &have_lo, &have_hi);
            int8_real_range(yq, act, &want_lo, &want_hi);
            if (have_lo > want_lo + half_step || have_hi < want_hi - half_step) continue;
        }
        p2l_set_option(g, producer, "fused_activation_function", act);
        g->nodes.items[producer].outputs[0] = y;
        g->tensors.items[y].producer = producer;
        node->dead = true;
        *changed = true;
    }
    return P2L_OK;
}
