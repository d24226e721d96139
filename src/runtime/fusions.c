/* Prepare-time fusions: a table of patterns, one row per fusion.
 *
 * Before a CONV_2D or DEPTHWISE_CONV_2D is prepared, the runtime offers its kernel (node->fusion):
 * - a zero PAD of H and W in front of it: the convolution reads the PAD's input with more implicit
 *   padding and the PAD is skipped;
 * - LOGISTIC + MUL (SiLU) or HARD_SWISH after it: applied in the convolution's store, both skipped.
 * Before an int8 LOGISTIC is prepared: the MUL of its input and its output (int8 SiLU) after it, which
 * the int8 lookup kernel folds into its table, the MUL skipped.
 * Before a per-tensor int8 DEQUANTIZE is prepared: a float detour after it, one float element-wise unary
 * op or LOGISTIC + MUL (SiLU) ending in a QUANTIZE to int8, which the int8 lookup kernel runs as one
 * table of the 256 input bytes, the detour's ops skipped.
 * Only where the intermediate tensors have no other reader, are not subgraph outputs and are not
 * computed at prepare time. A kernel that does not take an offer leaves the ops as they are. */
#include <string.h>

#include "runtime/fusions.h"

static bool plain_intermediate_of(const p2l_graph *g, const p2l_tensor *t, int readers, p2l_dtype dtype) {
    return t && t->dtype == dtype && !t->is_constant && !t->known && g->readers[t->index] == readers &&
           !g->is_output[t->index] && !g->is_input[t->index];
}
static bool plain_intermediate(const p2l_graph *g, const p2l_tensor *t, int readers) {
    return plain_intermediate_of(g, t, readers, P2L_FLOAT32);
}

/* The one node after `after` that reads t other than `except`; -1 if none. */
static int reader_after(const p2l_graph *g, const p2l_tensor *t, int after, int except) {
    for (int o = after + 1; o < g->sg->op_count; o++) {
        if (o == except) continue;
        const p2l_node *n = &g->nodes[o];
        for (int i = 0; i < n->input_count; i++)
            if (n->inputs[i] == t) return o;
    }
    return -1;
}

static bool zero_spatial_pad(const p2l_graph *g, int p, int *top, int *left) {
    const p2l_node *pad = &g->nodes[p];
    if ((pad->op != P2L_OP_PAD && pad->op != P2L_OP_PADV2) || g->folded[p] || g->skipped[p]) return false;
    const p2l_tensor *u = pad->inputs[0], *paddings = pad->inputs[1];
    if (!u || u->dtype != P2L_FLOAT32 || u->rank != 4 || !paddings || !paddings->known) return false;
    if (pad->input_count > 2 && pad->inputs[2]) {
        const p2l_tensor *v = pad->inputs[2];
        uint32_t bits = 1;
        if (v->known && v->dtype == P2L_FLOAT32 && v->count == 1) memcpy(&bits, v->data, sizeof bits);
        if (bits != 0) return false; /* pads with +0.0 only */
    }
    int64_t v[8];
    size_t count = 0;
    if (p2l_read_ints(paddings, v, 8, &count) != P2L_OK) {
        p2l_clear_error();
        return false;
    }
    if (count != 8 || v[0] || v[1] || v[6] || v[7]) return false;
    for (int i = 2; i < 6; i++)
        if (v[i] < 0 || v[i] > 1 << 20) return false;
    *top = (int)v[2];
    *left = (int)v[4];
    return true;
}

/* A pattern around node o: on a match, the nodes it would absorb (and, for the PAD, its part of o's
 * fusion). */
typedef bool (*pattern_fn)(const p2l_graph *g, int o, p2l_fusion *f, int absorbed[P2L_FUSION_MAX_ABSORBED]);

/* Input 0 is a zero spatial PAD's output read by nothing else. */
static bool padded_input(const p2l_graph *g, int o, p2l_fusion *f, int absorbed[P2L_FUSION_MAX_ABSORBED]) {
    const p2l_tensor *x = g->nodes[o].inputs[0];
    if (!x || !plain_intermediate(g, x, 1)) return false;
    const int p = g->producer[x->index];
    if (p < 0 || p >= o || !zero_spatial_pad(g, p, &f->pad_top, &f->pad_left)) return false;
    f->unpadded = g->nodes[p].inputs[0];
    absorbed[0] = p;
    return true;
}

/* Output 0 is read only by HARD_SWISH. */
static bool hard_swish_output(const p2l_graph *g, int o, p2l_fusion *f, int absorbed[P2L_FUSION_MAX_ABSORBED]) {
    (void)f;
    const p2l_tensor *y = g->nodes[o].outputs[0];
    const int r = plain_intermediate(g, y, 1) ? reader_after(g, y, o, -1) : -1;
    if (r < 0 || g->nodes[r].op != P2L_OP_HARD_SWISH || g->skipped[r]) return false;
    absorbed[0] = r;
    return true;
}

/* Output 0 y is read only by s = LOGISTIC(y) and MUL(y, s) (either order) with no fused activation:
 * SiLU. */
static bool silu_output(const p2l_graph *g, int o, p2l_fusion *f, int absorbed[P2L_FUSION_MAX_ABSORBED]) {
    (void)f;
    const p2l_tensor *y = g->nodes[o].outputs[0];
    if (!plain_intermediate(g, y, 2)) return false;
    int l = reader_after(g, y, o, -1);
    int m = l >= 0 ? reader_after(g, y, o, l) : -1;
    if (l >= 0 && m >= 0 && g->nodes[l].op == P2L_OP_MUL) {
        const int t = l;
        l = m;
        m = t;
    }
    if (l < 0 || m < 0 || g->nodes[l].op != P2L_OP_LOGISTIC || g->nodes[m].op != P2L_OP_MUL || g->skipped[l] ||
        g->skipped[m])
        return false;
    const p2l_node *L = &g->nodes[l], *M = &g->nodes[m];
    const p2l_tensor *s = L->outputs[0];
    if (L->input_count != 1 || L->inputs[0] != y || !plain_intermediate(g, s, 1) || M->input_count != 2 ||
        !((M->inputs[0] == y && M->inputs[1] == s) || (M->inputs[0] == s && M->inputs[1] == y)) ||
        M->opts.mul.fused_activation_function != P2L_ACT_NONE)
        return false;
    absorbed[0] = l;
    absorbed[1] = m;
    return true;
}

/* Node o is an int8 LOGISTIC of x whose output s is read only by MUL(x, s) or MUL(s, x) with no fused
 * activation: int8 SiLU, which the int8 lookup kernel computes as one table. */
static bool mul_by_input(const p2l_graph *g, int o, p2l_fusion *f, int absorbed[P2L_FUSION_MAX_ABSORBED]) {
    (void)f;
    const p2l_node *L = &g->nodes[o];
    const p2l_tensor *x = L->inputs[0], *s = L->outputs[0];
    if (L->input_count != 1 || !x || x->dtype != P2L_INT8 || !plain_intermediate_of(g, s, 1, P2L_INT8)) return false;
    const int m = reader_after(g, s, o, -1);
    if (m < 0 || g->skipped[m]) return false;
    const p2l_node *M = &g->nodes[m];
    if (M->op != P2L_OP_MUL || M->input_count != 2 || M->opts.mul.fused_activation_function != P2L_ACT_NONE ||
        !((M->inputs[0] == x && M->inputs[1] == s) || (M->inputs[0] == s && M->inputs[1] == x)))
        return false;
    absorbed[0] = m;
    return true;
}

/* Float element-wise ops of one input whose output element depends on the same input element only. */
static bool float_unary_elementwise(p2l_op op) {
    static const p2l_op ops[] = {P2L_OP_LOGISTIC, P2L_OP_TANH, P2L_OP_HARD_SWISH, P2L_OP_GELU, P2L_OP_ELU,
                                 P2L_OP_LEAKY_RELU, P2L_OP_RELU, P2L_OP_RELU6, P2L_OP_RELU_N1_TO_1, P2L_OP_EXP,
                                 P2L_OP_LOG, P2L_OP_SQRT, P2L_OP_RSQRT, P2L_OP_SQUARE, P2L_OP_ABS, P2L_OP_NEG,
                                 P2L_OP_SIN, P2L_OP_COS, P2L_OP_FLOOR, P2L_OP_CEIL, P2L_OP_ROUND, P2L_OP_SIGN};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (op == ops[i]) return true;
    return false;
}

/* Node o is a per-tensor int8 DEQUANTIZE whose float output goes through one float element-wise unary
 * op, or LOGISTIC + MUL (SiLU, as silu_output), into a QUANTIZE to int8 (checked by the row's dtype)
 * that alone reads it: an int8 -> int8 function of the input byte. */
static bool int8_detour(const p2l_graph *g, int o, p2l_fusion *f, int absorbed[P2L_FUSION_MAX_ABSORBED]) {
    const p2l_node *D = &g->nodes[o];
    const p2l_tensor *x = D->inputs[0], *d = D->outputs[0];
    if (D->input_count != 1 || !x || x->dtype != P2L_INT8 || x->quant_count != 1 || !d) return false;
    int last = -1;
    if (silu_output(g, o, f, absorbed)) {
        last = absorbed[1];
    } else if (plain_intermediate(g, d, 1)) {
        const int u = reader_after(g, d, o, -1);
        const p2l_node *U = u >= 0 ? &g->nodes[u] : NULL;
        if (!U || g->skipped[u] || !float_unary_elementwise(U->op) || U->input_count != 1 || U->output_count != 1 ||
            U->inputs[0] != d)
            return false;
        absorbed[0] = last = u;
    }
    if (last < 0) return false;
    const p2l_tensor *v = g->nodes[last].outputs[0];
    const int q = plain_intermediate(g, v, 1) ? reader_after(g, v, last, -1) : -1;
    if (q < 0 || g->skipped[q] || g->nodes[q].op != P2L_OP_QUANTIZE || g->nodes[q].inputs[0] != v ||
        g->nodes[q].outputs[0]->quant_count != 1 || g->nodes[q].outputs[0]->count != x->count) {
        absorbed[0] = absorbed[1] = -1;
        return false;
    }
    absorbed[last == absorbed[0] ? 1 : 2] = q;
    return true;
}

/* One row per fusion: the ops offered it, the neighbour pattern, the kind of offer (each kind is made
 * at most once per node: the first row that matches) and, for an epilogue, which one: its output is
 * output 0 of the last node absorbed, of the row's dtype. */
static const struct fusion_row {
    p2l_op ops[2];
    pattern_fn pattern;
    int offer;    /* P2L_OFFER_* */
    int epilogue; /* P2L_EPILOGUE_*, for P2L_OFFER_EPILOGUE */
    p2l_dtype epilogue_dtype;
} fusions[] = {
    {{P2L_OP_CONV_2D, P2L_OP_DEPTHWISE_CONV_2D}, padded_input, P2L_OFFER_UNPADDED, P2L_EPILOGUE_NONE, P2L_FLOAT32},
    {{P2L_OP_CONV_2D, P2L_OP_DEPTHWISE_CONV_2D}, hard_swish_output, P2L_OFFER_EPILOGUE, P2L_EPILOGUE_HARD_SWISH, P2L_FLOAT32},
    {{P2L_OP_CONV_2D, P2L_OP_DEPTHWISE_CONV_2D}, silu_output, P2L_OFFER_EPILOGUE, P2L_EPILOGUE_SILU, P2L_FLOAT32},
    {{P2L_OP_LOGISTIC, P2L_OP_LOGISTIC}, mul_by_input, P2L_OFFER_EPILOGUE, P2L_EPILOGUE_MUL_BY_INPUT, P2L_INT8},
    {{P2L_OP_DEQUANTIZE, P2L_OP_DEQUANTIZE}, int8_detour, P2L_OFFER_EPILOGUE, P2L_EPILOGUE_INT8_DETOUR, P2L_INT8},
};

static bool offer_row(p2l_graph *g, int o, const struct fusion_row *row, int absorbed[P2L_FUSION_MAX_ABSORBED]) {
    p2l_fusion *f = &g->nodes[o].fusion;
    int nodes[P2L_FUSION_MAX_ABSORBED];
    for (int i = 0; i < P2L_FUSION_MAX_ABSORBED; i++) nodes[i] = -1;
    if (!row->pattern(g, o, f, nodes)) return false;
    int count = 0;
    while (count < P2L_FUSION_MAX_ABSORBED && nodes[count] >= 0) count++;
    if (row->offer == P2L_OFFER_EPILOGUE) {
        p2l_tensor *y = g->nodes[nodes[count - 1]].outputs[0];
        if (y->dtype != row->epilogue_dtype) return false;
        f->epilogue = row->epilogue;
        f->epilogue_output = y;
        for (int i = 0; i < count; i++) f->epilogue_nodes[i] = &g->nodes[nodes[i]];
        f->epilogue_node_count = count;
    }
    for (int i = 0; i < P2L_FUSION_MAX_ABSORBED; i++) absorbed[i] = nodes[i];
    return true;
}

void p2l_fusions_offer(p2l_graph *g, int o, p2l_fusion_offers *offers) {
    p2l_node *n = &g->nodes[o];
    memset(&n->fusion, 0, sizeof n->fusion);
    for (int k = 0; k < P2L_OFFER_KINDS; k++)
        for (int i = 0; i < P2L_FUSION_MAX_ABSORBED; i++) offers->absorbed[k][i] = -1;
    /* a node computed at prepare time runs no kernel at invoke to fuse into */
    if (g->ctx->no_fusion || g->skipped[o] || p2l_node_inputs_known(n)) return;
    bool made[P2L_OFFER_KINDS] = {false};
    for (size_t r = 0; r < sizeof fusions / sizeof *fusions; r++) {
        const struct fusion_row *row = &fusions[r];
        if ((n->op != row->ops[0] && n->op != row->ops[1]) || made[row->offer]) continue;
        made[row->offer] = offer_row(g, o, row, offers->absorbed[row->offer]);
    }
}

void p2l_fusions_apply(p2l_graph *g, int o, const p2l_fusion_offers *offers) {
    p2l_fusion *f = &g->nodes[o].fusion;
    const bool taken[P2L_OFFER_KINDS] = {[P2L_OFFER_UNPADDED] = f->unpadded_taken,
                                         [P2L_OFFER_EPILOGUE] = f->epilogue_taken};
    if (!f->unpadded_taken) f->unpadded = NULL;
    if (!f->epilogue_taken) {
        f->epilogue_output = NULL;
        f->epilogue_node_count = 0;
    }
    for (int k = 0; k < P2L_OFFER_KINDS; k++)
        for (int i = 0; i < P2L_FUSION_MAX_ABSORBED && taken[k]; i++)
            if (offers->absorbed[k][i] >= 0) g->skipped[offers->absorbed[k][i]] = true;
}
