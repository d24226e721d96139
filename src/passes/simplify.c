/* Simplifications that remove ops computing nothing, or move them to where they cancel:
 *  - RESHAPE, then ops that work element by element (a scale, a constant mask, an activation;
 *    SOFTMAX when the last axis is kept), then RESHAPE: the ops run before the first RESHAPE and the
 *    two RESHAPEs meet (and merge or vanish: transposes.c). Attention is full of these, between
 *    bmm's flattened batches and the [batch, heads, ...] views around them;
 *  - RESHAPE [..., K] -> [M, K], FULLY_CONNECTED, RESHAPE [M, N] -> [..., N] (how torch.export
 *    writes nn.Linear on a sequence: view, addmm, view) is one FULLY_CONNECTED with keep_num_dims;
 *  - BATCH_MATMUL by a constant that repeats one matrix over the batch is FULLY_CONNECTED;
 *  - x + 0 and x - 0 with an all-zero constant that does not broadcast x to a larger shape (an
 *    attention mask that is constant and masks nothing is such a zero once folded);
 *  - the guard torch's scaled_dot_product_attention decomposition puts around SOFTMAX so that a
 *    row whose scores are all -inf (fully masked) gives zeros instead of NaN:
 *      SELECT_V2(LOGICAL_NOT(REDUCE_ANY(LOGICAL_NOT(EQUAL(x, -inf)), last axis)), 0, SOFTMAX(x))
 *    Five ops LiteRT's XNNPACK path does not take, between the two matmuls of every attention.
 *    When no row of x can be all -inf the guard is SOFTMAX(x) itself: x is a matmul's scores (only
 *    reshaped, transposed or scaled by a finite constant on the way), finite for finite
 *    activations, plus at most a constant whose every row holds a value above -inf (no mask, a
 *    causal mask, a padding mask fixed at export). An input-dependent mask keeps the guard. */
#include <math.h>
#include <string.h>

#include "passes/passes.h"

/* The live node producing t, or -1. */
static int producer_of(const p2l_ir_graph *g, int t) {
    if (t < 0) return -1;
    const int p = g->tensors.items[t].producer;
    return p >= 0 && !g->nodes.items[p].dead ? p : -1;
}

/* The node producing t if it is a live `op`, else -1. */
static int produced_by(const p2l_ir_graph *g, int t, p2l_op op) {
    const int p = producer_of(g, t);
    return p >= 0 && g->nodes.items[p].op == op ? p : -1;
}

/* The rank of t without its leading 1s. */
static int significant_rank(const p2l_ir_tensor *t) {
    int lead = 0;
    while (lead < t->rank && t->dims[lead] == 1) lead++;
    return t->rank - lead;
}

/* Whether the trailing `count` dims of a and b agree. */
static bool same_trailing_dims(const p2l_ir_tensor *a, const p2l_ir_tensor *b, int count) {
    if (a->rank < count || b->rank < count) return false;
    return memcmp(a->dims + a->rank - count, b->dims + b->rank - count, sizeof(int64_t) * (size_t)count) == 0;
}

/* Whether float constant t holds only `value` (every element). */
static bool const_all_equal(const p2l_ir_graph *g, int t, float value) {
    if (!p2l_is_const(g, t) || g->tensors.items[t].dtype != P2L_FLOAT32) return false;
    const p2l_ir_tensor *c = &g->tensors.items[t];
    const int64_t n = p2l_ir_tensor_numel(c);
    if (n < 0 || c->nbytes != (size_t)n * sizeof(float)) return false;
    for (int64_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, (const char *)c->data + i * 4, 4);
        if (v != value) return false;
    }
    return true;
}

static p2l_status drop_zero_add(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || (node->op != P2L_OP_ADD && node->op != P2L_OP_SUB) || node->ninputs != 2) continue;
        if (p2l_get_option(g, (int)n, "fused_activation_function") != P2L_ACT_NONE) continue;
        const int out = node->outputs[0];
        for (int zero_at = node->op == P2L_OP_SUB ? 1 : 0; zero_at < 2; zero_at++) {
            const int x = node->inputs[1 - zero_at];
            if (!const_all_equal(g, node->inputs[zero_at], 0.0f) || p2l_is_graph_output(g, out)) continue;
            const p2l_ir_tensor *xt = &g->tensors.items[x], *ot = &g->tensors.items[out];
            if (xt->dtype != ot->dtype || !p2l_same_shape(xt, ot)) continue;
            p2l_ir_graph_replace_uses(g, out, x);
            node->dead = true;
            *changed = true;
            break;
        }
    }
    return P2L_OK;
}

/* Whether t is a matmul's result, possibly reshaped, transposed or scaled by a finite constant. */
static bool matmul_scores(const p2l_ir_graph *g, int t) {
    for (int step = 0; step < 6; step++) {
        const int p = producer_of(g, t);
        if (p < 0) return false;
        const p2l_ir_node *node = &g->nodes.items[p];
        switch (node->op) {
        case P2L_OP_BATCH_MATMUL:
        case P2L_OP_FULLY_CONNECTED: return true;
        case P2L_OP_RESHAPE:
        case P2L_OP_TRANSPOSE: t = node->inputs[0]; break;
        case P2L_OP_MUL:
        case P2L_OP_DIV: {
            double s;
            if (!p2l_const_scalar_value(g, node->inputs[1], &s) || !isfinite(s) || s == 0) return false;
            t = node->inputs[0];
            break;
        }
        default: return false;
        }
    }
    return false;
}

/* Whether every row (along the last axis) of float constant c holds a value above -inf. */
static bool every_row_unmasked(const p2l_ir_graph *g, int c) {
    if (!p2l_is_const(g, c) || g->tensors.items[c].dtype != P2L_FLOAT32) return false;
    const p2l_ir_tensor *t = &g->tensors.items[c];
    const int64_t n = p2l_ir_tensor_numel(t), row = t->rank ? t->dims[t->rank - 1] : 1;
    if (n <= 0 || row <= 0 || t->nbytes != (size_t)n * sizeof(float)) return false;
    for (int64_t r = 0; r < n / row; r++) {
        bool open = false;
        for (int64_t i = 0; i < row && !open; i++) {
            float v;
            memcpy(&v, (const char *)t->data + (r * row + i) * 4, 4);
            open = v > -INFINITY;
        }
        if (!open) return false;
    }
    return true;
}

static bool no_row_all_neg_inf(const p2l_ir_graph *g, int x) {
    if (matmul_scores(g, x)) return true;
    for (int r; (r = produced_by(g, x, P2L_OP_RESHAPE)) >= 0;) { /* rows survive a RESHAPE keeping the last axis */
        const int in = g->nodes.items[r].inputs[0];
        if (!same_trailing_dims(&g->tensors.items[in], &g->tensors.items[x], 1)) return false;
        x = in;
    }
    const int p = producer_of(g, x);
    if (p < 0) return false;
    const p2l_ir_node *add = &g->nodes.items[p];
    if (add->op != P2L_OP_ADD || add->ninputs != 2 || p2l_get_option(g, p, "fused_activation_function") != P2L_ACT_NONE)
        return false;
    for (int c = 0; c < 2; c++)
        if (every_row_unmasked(g, add->inputs[c]) && matmul_scores(g, add->inputs[1 - c])) return true;
    return false;
}

/* Whether `cond` is NOT(ANY(NOT(EQUAL(x, -inf)), last axis)) for this x. */
static bool fully_masked_rows_of(const p2l_ir_graph *g, int cond, int x) {
    const int not_any = produced_by(g, cond, P2L_OP_LOGICAL_NOT);
    const int any = not_any < 0 ? -1 : produced_by(g, g->nodes.items[not_any].inputs[0], P2L_OP_REDUCE_ANY);
    const int not_eq = any < 0 ? -1 : produced_by(g, g->nodes.items[any].inputs[0], P2L_OP_LOGICAL_NOT);
    const int eq = not_eq < 0 ? -1 : produced_by(g, g->nodes.items[not_eq].inputs[0], P2L_OP_EQUAL);
    if (eq < 0) return false;
    const p2l_ir_node *e = &g->nodes.items[eq];
    double v;
    const int other = e->inputs[0] == x ? 1 : e->inputs[1] == x ? 0 : -1;
    if (other < 0 || !p2l_const_scalar_value(g, e->inputs[other], &v) || v != -INFINITY) return false;
    /* the reduction runs over the last axis, as SOFTMAX does */
    const p2l_ir_node *r = &g->nodes.items[any];
    const int rank = g->tensors.items[x].rank;
    double axis;
    if (p2l_ir_tensor_numel(&g->tensors.items[r->inputs[1]]) != 1 || !p2l_const_scalar_value(g, r->inputs[1], &axis))
        return false;
    return axis == rank - 1 || axis == -1;
}

/* Whether t is all zeros: a constant, or FILL with 0 (full_like(x, 0) of a run-time shape). */
static bool zeros(const p2l_ir_graph *g, int t) {
    if (const_all_equal(g, t, 0.0f)) return true;
    const int fill = produced_by(g, t, P2L_OP_FILL);
    double v;
    return fill >= 0 && p2l_const_scalar_value(g, g->nodes.items[fill].inputs[1], &v) && v == 0;
}

static p2l_status drop_softmax_guard(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *select = &g->nodes.items[n];
        if (select->dead || select->op != P2L_OP_SELECT_V2 || select->ninputs != 3) continue;
        const int softmax = produced_by(g, select->inputs[2], P2L_OP_SOFTMAX);
        if (softmax < 0 || !zeros(g, select->inputs[1])) continue;
        const int x = g->nodes.items[softmax].inputs[0], out = select->outputs[0];
        const int sm = g->nodes.items[softmax].outputs[0];
        if (!p2l_same_shape(&g->tensors.items[sm], &g->tensors.items[out]) || p2l_is_graph_output(g, out)) continue;
        if (!fully_masked_rows_of(g, select->inputs[0], x) || !no_row_all_neg_inf(g, x)) continue;
        p2l_ir_graph_replace_uses(g, out, sm);
        select->dead = true; /* the comparison chain is left without readers: remove-dead takes it */
        *changed = true;
    }
    return P2L_OK;
}

/* The RESHAPE node that alone reads t (produced by a live node), or -1. */
static int sole_reshape_reading(const p2l_ir_graph *g, int t) {
    const int r = p2l_sole_consumer(g, t);
    return r >= 0 && g->nodes.items[r].op == P2L_OP_RESHAPE ? r : -1;
}

static p2l_status fully_connected_keep_dims(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *fc = &g->nodes.items[n];
        if (fc->dead || fc->op != P2L_OP_FULLY_CONNECTED || p2l_get_option(g, (int)n, "keep_num_dims")) continue;
        const int flat = fc->inputs[0], flat_out = fc->outputs[0];
        const int before = produced_by(g, flat, P2L_OP_RESHAPE), after = sole_reshape_reading(g, flat_out);
        if (before < 0 || after < 0 || p2l_sole_consumer(g, flat) != (int)n) continue;
        const int x = g->nodes.items[before].inputs[0], y = g->nodes.items[after].outputs[0];
        const p2l_ir_tensor *xt = &g->tensors.items[x], *yt = &g->tensors.items[y];
        const p2l_ir_tensor *ft = &g->tensors.items[flat], *ot = &g->tensors.items[flat_out];
        if (ft->rank != 2 || ot->rank != 2 || xt->rank < 3 || yt->rank != xt->rank) continue;
        bool same = xt->dims[xt->rank - 1] == ft->dims[1] && yt->dims[yt->rank - 1] == ot->dims[1];
        for (int d = 0; d < xt->rank - 1 && same; d++) same = xt->dims[d] >= 0 && xt->dims[d] == yt->dims[d];
        if (!same) continue;
        fc->inputs[0] = x;
        fc->outputs[0] = y;
        g->tensors.items[y].producer = (int)n;
        p2l_set_option(g, (int)n, "keep_num_dims", 1);
        g->nodes.items[before].dead = g->nodes.items[after].dead = true;
        *changed = true;
    }
    return P2L_OK;
}

/* BATCH_MATMUL(A, B) with a constant B whose batches are all the same matrix (a weight that
 * torch.export expanded over the batch for bmm: nn.Linear on a transposed activation) is
 * FULLY_CONNECTED with keep_num_dims and that one matrix as [N, K] weights, when A already has the
 * output's batch dims. Both runtimes' matrix paths take it; a batched constant B is a slow path. */
static p2l_status matmul_with_repeated_weight(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        const p2l_ir_node *bmm = &g->nodes.items[n];
        if (bmm->dead || bmm->op != P2L_OP_BATCH_MATMUL || bmm->ninputs != 2 || p2l_get_option(g, (int)n, "adj_x"))
            continue;
        const p2l_ir_tensor *a = &g->tensors.items[bmm->inputs[0]], *b = &g->tensors.items[bmm->inputs[1]];
        const p2l_ir_tensor *y = &g->tensors.items[bmm->outputs[0]];
        if (!p2l_is_const(g, bmm->inputs[1]) || b->dtype != P2L_FLOAT32 || a->dtype != P2L_FLOAT32 || b->rank < 3 ||
            a->rank < 2 || y->rank != a->rank)
            continue;
        bool batch_dims_kept = true; /* A's batch dims are the output's: FULLY_CONNECTED broadcasts none */
        for (int d = 0; d < a->rank - 1 && batch_dims_kept; d++) batch_dims_kept = a->dims[d] >= 0 && a->dims[d] == y->dims[d];
        const bool adj_y = p2l_get_option(g, (int)n, "adj_y");
        const int64_t rows = b->dims[b->rank - 2], cols = b->dims[b->rank - 1];
        const int64_t k = adj_y ? cols : rows, units = adj_y ? rows : cols, batches = p2l_ir_tensor_numel(b) / (rows * cols);
        if (!batch_dims_kept || rows <= 0 || cols <= 0 || a->dims[a->rank - 1] != k) continue;
        const float *w = b->data;
        const size_t matrix = (size_t)(rows * cols);
        bool repeated = true;
        for (int64_t i = 1; i < batches && repeated; i++) repeated = memcmp(w, w + (size_t)i * matrix, matrix * 4) == 0;
        if (!repeated) continue;
        float *weights = p2l_alloc(matrix * sizeof(float)), *bias = p2l_alloc_zero((size_t)units * sizeof(float));
        if (!weights || !bias) {
            p2l_release(weights);
            p2l_release(bias);
            return P2L_ERROR_OUT_OF_MEMORY;
        }
        for (int64_t u = 0; u < units; u++) /* [N, K]: B's rows as they are (adj_y) or transposed */
            for (int64_t i = 0; i < k; i++) weights[u * k + i] = adj_y ? w[u * k + i] : w[i * units + u];
        const int64_t wdims[2] = {units, k};
        const char *name = g->tensors.items[bmm->inputs[1]].name;
        const int wt = p2l_add_const(g, name, P2L_FLOAT32, 2, wdims, weights, true);
        const int bt = p2l_add_const(g, name, P2L_FLOAT32, 1, &units, bias, true);
        if (wt < 0 || bt < 0) return P2L_ERROR_OUT_OF_MEMORY;
        p2l_ir_node *fc = &g->nodes.items[n];
        memset(fc->options, 0, sizeof fc->options);
        fc->op = P2L_OP_FULLY_CONNECTED;
        fc->ninputs = 3;
        fc->inputs[1] = wt;
        fc->inputs[2] = bt;
        p2l_set_option(g, (int)n, "keep_num_dims", 1);
        *changed = true;
    }
    return P2L_OK;
}

/* Whether `node` computes each output element from the same element of its first input and of a
 * constant that broadcasts the same way before and after the RESHAPE x -> a (a scalar, or one
 * whose dims are trailing dims the reshape keeps: an attention mask), so that it commutes with the
 * RESHAPE; SOFTMAX does when the reshape keeps the last axis. */
static bool commutes_with_reshape(const p2l_ir_graph *g, const p2l_ir_node *node, const p2l_ir_tensor *x, const p2l_ir_tensor *a) {
    switch (node->op) {
    case P2L_OP_ADD:
    case P2L_OP_SUB:
    case P2L_OP_MUL:
    case P2L_OP_DIV: {
        if (node->ninputs != 2 || !p2l_is_const(g, node->inputs[1])) return false;
        const p2l_ir_tensor *c = &g->tensors.items[node->inputs[1]];
        const int rank = significant_rank(c);
        /* leading 1s above x's rank would broadcast the result to a higher rank: dropped from the
         * constant's shape below, which needs the constant to be this op's alone */
        if (c->rank > x->rank && g->tensors.items[node->inputs[1]].consumers != 1) return false;
        return rank <= x->rank && same_trailing_dims(x, a, rank);
    }
    case P2L_OP_RELU:
    case P2L_OP_RELU6:
    case P2L_OP_LOGISTIC:
    case P2L_OP_TANH:
    case P2L_OP_GELU:
    case P2L_OP_EXP:
    case P2L_OP_NEG: return node->ninputs == 1;
    case P2L_OP_SOFTMAX: return node->ninputs == 1 && same_trailing_dims(x, a, 1);
    default: return false;
    }
}

/* RESHAPE x -> a read only by `op` (a -> b): op now reads x and writes a (given x's shape), and the
 * RESHAPE reads a and writes b. The RESHAPE moves down one op at a time until it meets the next
 * RESHAPE, or an op it does not commute with. */
static p2l_status sink_reshapes(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *reshape = &g->nodes.items[n];
        if (reshape->dead || reshape->op != P2L_OP_RESHAPE) continue;
        const int x = reshape->inputs[0], a = reshape->outputs[0];
        const int op = p2l_sole_consumer(g, a);
        if (op < 0 || g->nodes.items[op].inputs[0] != a || g->nodes.items[op].noutputs != 1) continue;
        p2l_ir_node *node = &g->nodes.items[op];
        const int b = node->outputs[0];
        p2l_ir_tensor *xt = &g->tensors.items[x], *at = &g->tensors.items[a];
        if (!commutes_with_reshape(g, node, xt, at) || p2l_ir_tensor_numel(xt) < 0) continue;
        if (g->tensors.items[b].dtype != xt->dtype || at->dtype != xt->dtype) continue;
        for (int i = 1; i < node->ninputs; i++)
            if (node->inputs[i] == a) goto next; /* x * x: both operands would need the move */
        if (node->ninputs == 2 && g->tensors.items[node->inputs[1]].rank > xt->rank) {
            p2l_ir_tensor *c = &g->tensors.items[node->inputs[1]];
            const int rank = significant_rank(c);
            memmove(c->dims, c->dims + (c->rank - rank), sizeof(int64_t) * (size_t)rank);
            c->rank = rank;
        }
        at->rank = xt->rank;
        memcpy(at->dims, xt->dims, sizeof(int64_t) * (size_t)xt->rank);
        node->inputs[0] = x;
        node->outputs[0] = a;
        reshape->inputs[0] = a;
        reshape->outputs[0] = b;
        /* swap the two nodes' places, which keeps the node list in topological order */
        const p2l_ir_node moved = *node;
        *node = *reshape;
        *reshape = moved;
        at->producer = (int)n;
        g->tensors.items[b].producer = op;
        *changed = true;
    next:;
    }
    return P2L_OK;
}

p2l_status p2l_pass_simplify(p2l_ir_graph *g, bool *changed) {
    P2L_TRY(sink_reshapes(g, changed));
    P2L_TRY(fully_connected_keep_dims(g, changed));
    P2L_TRY(matmul_with_repeated_weight(g, changed));
    P2L_TRY(drop_zero_add(g, changed));
    return drop_softmax_guard(g, changed);
}
