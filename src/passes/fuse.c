/* Fusions that make a converted CNN one op per layer, as LiteRT's XNNPACK path likes it:
 *  - affine: MUL/ADD/SUB by a per-output-channel constant after CONV_2D, DEPTHWISE_CONV_2D or
 *    FULLY_CONNECTED is folded into the filter and bias (this is how batch norm disappears);
 *  - activation: RELU, RELU6, RELU_N1_TO_1 after an op with a fused activation field;
 *  - relu6: MINIMUM(RELU(x), 6) -> RELU6(x) (torch.export splits clamp(0, 6) into two clamps);
 *  - hard swish: x * relu6(x + 3) / 6 (how torch.export decomposes nn.Hardswish) -> HARD_SWISH;
 *  - prelu: where(x > 0, x, x * a) (how torch.export decomposes nn.PReLU) -> LEAKY_RELU for one
 *    slope, PRELU for a slope per channel of the last axis;
 *  - max-pool padding: PADV2 with -inf before MAX_POOL_2D becomes PAD (zeros) when its input comes
 *    out of a ReLU, since then zeros never win a window; XNNPACK takes PAD but not PADV2. */
#include <string.h>

#include "passes/passes.h"

/* The op that produced t, if t has no other reader. */
static int sole_producer(const p2l_ir_graph *g, int t) {
    const p2l_ir_tensor *tt = &g->tensors.items[t];
    if (tt->producer < 0 || tt->consumers != 1 || p2l_is_graph_output(g, t)) return -1;
    return g->nodes.items[tt->producer].dead ? -1 : tt->producer;
}

/* Makes `producer` write the output of `node` directly and removes `node`. */
static void absorb(p2l_ir_graph *g, int producer, int node) {
    p2l_ir_node *p = &g->nodes.items[producer], *n = &g->nodes.items[node];
    p->outputs[0] = n->outputs[0];
    g->tensors.items[n->outputs[0]].producer = producer;
    n->dead = true;
}

/* Per-channel values of a constant that broadcasts along the last axis only: numel 1 (a scalar,
 * repeated) or `channels` with every other dim 1. */
static bool channel_constant(const p2l_ir_graph *g, int t, int64_t channels, float *out) {
    if (t < 0 || !p2l_is_const(g, t)) return false;
    const p2l_ir_tensor *c = &g->tensors.items[t];
    if (c->dtype != P2L_FLOAT32) return false;
    int64_t numel = p2l_ir_tensor_numel(c);
    if (numel == 1) {
        float v;
        memcpy(&v, c->data, 4);
        for (int64_t i = 0; i < channels; i++) out[i] = v;
        return true;
    }
    if (numel != channels || c->rank < 1 || c->dims[c->rank - 1] != channels) return false;
    memcpy(out, c->data, sizeof(float) * (size_t)channels);
    return true;
}

/* Constant t ready to be modified: t itself when the graph owns its bytes and this is its only
 * reader (no extra copy of the weights), else a private owned copy (shared weights stay intact). */
static int writable_const(p2l_ir_graph *g, int t) {
    const p2l_ir_tensor *c = &g->tensors.items[t];
    if (c->owned && c->consumers == 1) return t;
    float *copy = p2l_alloc(c->nbytes ? c->nbytes : 1);
    if (!copy) return -1;
    memcpy(copy, c->data, c->nbytes);
    int64_t dims[P2L_MAX_DIMS];
    memcpy(dims, c->dims, sizeof dims);
    return p2l_add_const(g, c->name, c->dtype, c->rank, dims, copy, true);
}

typedef enum { AFFINE_SCALE, AFFINE_ADD, AFFINE_SUB } affine_kind;

/* Where each op keeps its filter and bias, and which filter axis holds the output channels. */
typedef struct affine_target {
    p2l_op op;
    int filter_input, bias_input;
    bool channels_last; /* DEPTHWISE [1,H,W,O]; the others [O,...] */
} affine_target;

static const affine_target affine_targets[] = {
    {P2L_OP_CONV_2D, 1, 2, false},
    {P2L_OP_DEPTHWISE_CONV_2D, 1, 2, true},
    {P2L_OP_FULLY_CONNECTED, 1, 2, false},
    {P2L_OP_TRANSPOSE_CONV, 1, 3, false},
};

static const affine_target *affine_target_of(p2l_op op) {
    for (size_t i = 0; i < sizeof affine_targets / sizeof affine_targets[0]; i++)
        if (affine_targets[i].op == op) return &affine_targets[i];
    return NULL;
}

/* Folds y = op(conv(x), c) into the conv's filter/bias. */
static bool fold_affine(p2l_ir_graph *g, int conv, const affine_target *at, affine_kind kind, const float *c,
                        int64_t channels) {
    p2l_ir_node *node = &g->nodes.items[conv];
    if (node->ninputs <= at->bias_input) return false;
    int filter_in = node->inputs[at->filter_input], bias_in = node->inputs[at->bias_input];
    if (bias_in < 0 || !p2l_is_const(g, filter_in) || !p2l_is_const(g, bias_in)) return false;
    if (p2l_get_option(g, conv, "fused_activation_function") != P2L_ACT_NONE) return false;
    const p2l_ir_tensor *bias_t = &g->tensors.items[bias_in];
    if (bias_t->dtype != P2L_FLOAT32 || p2l_ir_tensor_numel(bias_t) != channels) return false;
    if (g->tensors.items[filter_in].dtype != P2L_FLOAT32) return false;
    int bias = writable_const(g, bias_in);
    if (bias < 0) return false;
    float *b = g->tensors.items[bias].owned;
    if (kind == AFFINE_SCALE) {
        int filter = writable_const(g, filter_in);
        if (filter < 0) return false;
        const p2l_ir_tensor *ft = &g->tensors.items[filter];
        float *f = ft->owned;
        int64_t inner = p2l_ir_tensor_numel(ft) / channels;
        if (at->channels_last) {
            for (int64_t i = 0; i < inner; i++)
                for (int64_t k = 0; k < channels; k++) f[i * channels + k] *= c[k];
        } else {
            for (int64_t k = 0; k < channels; k++)
                for (int64_t i = 0; i < inner; i++) f[k * inner + i] *= c[k];
        }
        for (int64_t i = 0; i < channels; i++) b[i] *= c[i];
        g->nodes.items[conv].inputs[at->filter_input] = filter;
    } else {
        for (int64_t i = 0; i < channels; i++) b[i] += kind == AFFINE_ADD ? c[i] : -c[i];
    }
    g->nodes.items[conv].inputs[at->bias_input] = bias;
    return true;
}

static int64_t last_dim(const p2l_ir_graph *g, int t) {
    const p2l_ir_tensor *tt = &g->tensors.items[t];
    return tt->rank ? tt->dims[tt->rank - 1] : -1;
}

/* The conv-like node whose output reaches tensor x with the channels still last: directly, or
 * through a RESHAPE that keeps the last axis (a 1-D conv's N,1,L,C -> N,L,C). *via gets the
 * RESHAPE (or -1). */
static int affine_source(const p2l_ir_graph *g, int x, int *via) {
    *via = -1;
    int producer = sole_producer(g, x);
    if (producer >= 0 && g->nodes.items[producer].op == P2L_OP_RESHAPE) {
        int in = g->nodes.items[producer].inputs[0];
        if (last_dim(g, in) != last_dim(g, x)) return -1;
        *via = producer;
        producer = sole_producer(g, in);
    }
    return producer >= 0 && affine_target_of(g->nodes.items[producer].op) ? producer : -1;
}

p2l_status p2l_pass_fuse_affine(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || node->ninputs != 2) continue;
        affine_kind kind;
        if (node->op == P2L_OP_MUL) kind = AFFINE_SCALE;
        else if (node->op == P2L_OP_ADD) kind = AFFINE_ADD;
        else if (node->op == P2L_OP_SUB) kind = AFFINE_SUB;
        else continue;
        if (p2l_get_option(g, (int)n, "fused_activation_function") != P2L_ACT_NONE) continue;
        for (int side = 0; side < 2; side++) {
            if (kind == AFFINE_SUB && side == 1) break; /* c - conv(x) is not a bias */
            int x = node->inputs[side], c = node->inputs[1 - side], via;
            int conv = affine_source(g, x, &via);
            if (conv < 0) continue;
            /* the result must keep x's shape (no broadcast growth) */
            const p2l_ir_tensor *xt = &g->tensors.items[x], *yt = &g->tensors.items[node->outputs[0]];
            if (xt->rank != yt->rank || memcmp(xt->dims, yt->dims, sizeof(int64_t) * (size_t)xt->rank) != 0) continue;
            int64_t channels = last_dim(g, g->nodes.items[conv].outputs[0]);
            if (channels <= 0) continue;
            float *values = p2l_alloc(sizeof(float) * (size_t)channels);
            if (!values) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
            bool folded = channel_constant(g, c, channels, values) &&
                          fold_affine(g, conv, affine_target_of(g->nodes.items[conv].op), kind, values, channels);
            p2l_release(values);
            if (folded) {
                absorb(g, via >= 0 ? via : conv, (int)n); /* the last op before it now writes y */
                *changed = true;
                break;
            }
        }
    }
    return P2L_OK;
}

p2l_status p2l_pass_fuse_activation(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead) continue;
        int act = node->op == P2L_OP_RELU ? P2L_ACT_RELU
                  : node->op == P2L_OP_RELU6 ? P2L_ACT_RELU6
                  : node->op == P2L_OP_RELU_N1_TO_1 ? P2L_ACT_RELU_N1_TO_1 : -1;
        if (act < 0) continue;
        /* an activation commutes with a RESHAPE: look through one (the 1-D conv's N,1,L,C -> N,L,C) */
        int producer = sole_producer(g, node->inputs[0]), via = -1;
        if (producer >= 0 && g->nodes.items[producer].op == P2L_OP_RESHAPE) {
            via = producer;
            producer = sole_producer(g, g->nodes.items[producer].inputs[0]);
        }
        if (producer < 0) continue;
        switch (g->nodes.items[producer].op) {
        case P2L_OP_CONV_2D: case P2L_OP_DEPTHWISE_CONV_2D: case P2L_OP_FULLY_CONNECTED:
        case P2L_OP_ADD: case P2L_OP_SUB: case P2L_OP_MUL: case P2L_OP_DIV:
            break;
        default:
            continue;
        }
        if (g->tensors.items[g->nodes.items[producer].outputs[0]].dtype != P2L_FLOAT32) continue;
        if (p2l_get_option(g, producer, "fused_activation_function") != P2L_ACT_NONE) continue;
        p2l_set_option(g, producer, "fused_activation_function", act);
        absorb(g, via >= 0 ? via : producer, (int)n);
        *changed = true;
    }
    return P2L_OK;
}

/* Is node n `op(x, scalar)` (either order for commutative ops) with that scalar value? */
static bool is_op_with_scalar(const p2l_ir_graph *g, int n, p2l_op op, double value, int *other) {
    if (n < 0) return false;
    const p2l_ir_node *node = &g->nodes.items[n];
    if (node->dead || node->op != op || node->ninputs != 2) return false;
    if (p2l_option_field(op, "fused_activation_function") >= 0 &&
        p2l_get_option(g, n, "fused_activation_function") != P2L_ACT_NONE)
        return false;
    for (int side = 0; side < 2; side++) {
        double v;
        if (op == P2L_OP_DIV && side == 0) continue; /* only x / 6 */
        if (p2l_const_scalar_value(g, node->inputs[side], &v) && (float)v == (float)value) {
            *other = node->inputs[1 - side];
            return true;
        }
    }
    return false;
}

p2l_status p2l_pass_fuse_hard_swish(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        /* the tail: m / 6 or m * (1/6) */
        int m;
        if (!is_op_with_scalar(g, (int)n, P2L_OP_DIV, 6.0, &m) && !is_op_with_scalar(g, (int)n, P2L_OP_MUL, 1.0 / 6.0, &m))
            continue;
        int mul = sole_producer(g, m);
        if (mul < 0 || g->nodes.items[mul].op != P2L_OP_MUL) continue;
        if (p2l_get_option(g, mul, "fused_activation_function") != P2L_ACT_NONE) continue;
        for (int side = 0; side < 2; side++) {
            int x = g->nodes.items[mul].inputs[side], r = g->nodes.items[mul].inputs[1 - side];
            int relu6 = sole_producer(g, r);
            if (relu6 < 0 || g->nodes.items[relu6].op != P2L_OP_RELU6) continue;
            int shifted = g->nodes.items[relu6].inputs[0], add_input;
            int add = sole_producer(g, shifted);
            if (!is_op_with_scalar(g, add, P2L_OP_ADD, 3.0, &add_input) || add_input != x) continue;
            /* HARD_SWISH(x) writes the tail's output */
            p2l_ir_node *tail = &g->nodes.items[n];
            g->nodes.items[add].dead = g->nodes.items[relu6].dead = g->nodes.items[mul].dead = true;
            tail->op = P2L_OP_HARD_SWISH;
            tail->ninputs = 1;
            tail->inputs[0] = x;
            memset(tail->options, 0, sizeof tail->options);
            *changed = true;
            break;
        }
    }
    return P2L_OK;
}

p2l_status p2l_pass_fuse_prelu(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || node->op != P2L_OP_SELECT_V2) continue;
        const int x = node->inputs[1];
        const p2l_ir_tensor *xt = &g->tensors.items[x];
        if (xt->dtype != P2L_FLOAT32 || xt->rank < 1 || !p2l_same_shape(xt, &g->tensors.items[node->outputs[0]]))
            continue;
        const int gt = sole_producer(g, node->inputs[0]);
        double zero;
        if (gt < 0 || g->nodes.items[gt].op != P2L_OP_GREATER || g->nodes.items[gt].inputs[0] != x ||
            !p2l_const_scalar_value(g, g->nodes.items[gt].inputs[1], &zero) || zero != 0.0)
            continue;
        const int mul = sole_producer(g, node->inputs[2]);
        if (mul < 0 || g->nodes.items[mul].op != P2L_OP_MUL ||
            p2l_get_option(g, mul, "fused_activation_function") != P2L_ACT_NONE)
            continue;
        const p2l_ir_node *m = &g->nodes.items[mul];
        const int slope = m->inputs[0] == x ? m->inputs[1] : m->inputs[1] == x ? m->inputs[0] : -1;
        if (slope < 0 || !p2l_is_const(g, slope)) continue;
        const int64_t channels = xt->dims[xt->rank - 1], numel = p2l_ir_tensor_numel(&g->tensors.items[slope]);
        if (numel != 1 && channels <= 0) continue;
        float *alpha = p2l_alloc(sizeof(float) * (size_t)(numel == 1 ? 1 : channels));
        if (!alpha) return P2L_ERROR_OUT_OF_MEMORY;
        if (!channel_constant(g, slope, numel == 1 ? 1 : channels, alpha)) {
            p2l_release(alpha);
            continue;
        }
        int alpha_t = -1;
        if (numel != 1) {
            alpha_t = p2l_add_const(g, g->tensors.items[slope].name, P2L_FLOAT32, 1, &channels, alpha, true);
            if (alpha_t < 0) return P2L_ERROR_OUT_OF_MEMORY;
        }
        g->nodes.items[gt].dead = g->nodes.items[mul].dead = true;
        p2l_ir_node *out = &g->nodes.items[n];
        memset(out->options, 0, sizeof out->options);
        out->inputs[0] = x;
        if (numel == 1) {
            out->op = P2L_OP_LEAKY_RELU;
            out->ninputs = 1;
            p2l_set_option_f32(g, (int)n, "alpha", alpha[0]);
            p2l_release(alpha);
        } else {
            out->op = P2L_OP_PRELU;
            out->ninputs = 2;
            out->inputs[1] = alpha_t;
        }
        *changed = true;
    }
    return P2L_OK;
}

p2l_status p2l_pass_fuse_relu6(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        int x;
        if (!is_op_with_scalar(g, (int)n, P2L_OP_MINIMUM, 6.0, &x)) continue;
        int relu = sole_producer(g, x);
        if (relu < 0 || g->nodes.items[relu].op != P2L_OP_RELU) continue;
        if (g->tensors.items[x].dtype != P2L_FLOAT32) continue;
        p2l_ir_node *node = &g->nodes.items[n];
        node->op = P2L_OP_RELU6;
        node->ninputs = 1;
        node->inputs[0] = g->nodes.items[relu].inputs[0];
        memset(node->options, 0, sizeof node->options);
        g->nodes.items[relu].dead = true;
        *changed = true;
    }
    return P2L_OK;
}

/* Does t hold only values >= 0 (the output of a RELU/RELU6, standalone or fused, maybe (de)quantized)? */
static bool non_negative(const p2l_ir_graph *g, int t) {
    int producer = g->tensors.items[t].producer;
    if (producer < 0) return false;
    const p2l_ir_node *p = &g->nodes.items[producer];
    if (p->op == P2L_OP_RELU || p->op == P2L_OP_RELU6) return true;
    /* (de)quantizing keeps the sign: 0.0 is the zero point (PT2E graphs: DEQUANTIZE -> PADV2 -> pool) */
    if (p->op == P2L_OP_DEQUANTIZE || p->op == P2L_OP_QUANTIZE) return non_negative(g, p->inputs[0]);
    if (p2l_option_field(p->op, "fused_activation_function") < 0) return false;
    int64_t act = p2l_get_option(g, producer, "fused_activation_function");
    return act == P2L_ACT_RELU || act == P2L_ACT_RELU6;
}

p2l_status p2l_pass_zero_pad_max_pool(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        double pad_value;
        if (node->dead || node->op != P2L_OP_PADV2 || node->ninputs != 3) continue;
        if (!p2l_const_scalar_value(g, node->inputs[2], &pad_value) || pad_value > 0) continue;
        int pool = p2l_sole_consumer(g, node->outputs[0]);
        if (pool < 0 || g->nodes.items[pool].op != P2L_OP_MAX_POOL_2D || !non_negative(g, node->inputs[0])) continue;
        node->op = P2L_OP_PAD;
        node->ninputs = 2;
        *changed = true;
    }
    return P2L_OK;
}
