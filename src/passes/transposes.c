/* Removes data movement that cancels out: TRANSPOSE of TRANSPOSE composes (and vanishes when the
 * result is the identity), RESHAPE of RESHAPE keeps only the last, and a RESHAPE to the shape its
 * input already has disappears. */
#include <string.h>

#include "passes/passes.h"

/* The node `n` is a no-op: readers of its output read its input instead. */
static bool bypass(p2l_ir_graph *g, int n) {
    p2l_ir_node *node = &g->nodes.items[n];
    int in = node->inputs[0], out = node->outputs[0];
    if (p2l_is_graph_output(g, out) && (p2l_is_graph_output(g, in) || g->tensors.items[in].producer < 0)) return false;
    if (p2l_is_graph_output(g, out)) {
        /* keep the output tensor: the producer of `in` writes it directly, if it is ours alone */
        int producer = g->tensors.items[in].producer;
        if (producer < 0 || g->tensors.items[in].consumers != 1) return false;
        p2l_ir_node *p = &g->nodes.items[producer];
        for (int i = 0; i < p->noutputs; i++)
            if (p->outputs[i] == in) p->outputs[i] = out;
        g->tensors.items[out].producer = producer;
    } else {
        p2l_ir_graph_replace_uses(g, out, in);
    }
    node->dead = true;
    return true;
}

static bool read_perm(const p2l_ir_graph *g, int t, int32_t *perm, int rank) {
    const p2l_ir_tensor *pt = &g->tensors.items[t];
    if (!pt->data || pt->dtype != P2L_INT32 || p2l_ir_tensor_numel(pt) != rank) return false;
    memcpy(perm, pt->data, sizeof(int32_t) * (size_t)rank);
    return true;
}

p2l_status p2l_pass_cancel_transposes(p2l_ir_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || (node->op != P2L_OP_TRANSPOSE && node->op != P2L_OP_RESHAPE)) continue;
        int in = node->inputs[0];
        const p2l_ir_tensor *in_t = &g->tensors.items[in], *out_t = &g->tensors.items[node->outputs[0]];
        if (node->op == P2L_OP_RESHAPE && p2l_same_shape(in_t, out_t) && p2l_ir_tensor_numel(out_t) >= 0) {
            if (bypass(g, (int)n)) *changed = true;
            continue;
        }
        int producer = in_t->producer;
        if (producer < 0) continue;
        p2l_ir_node *prev = &g->nodes.items[producer];
        if (prev->dead || prev->op != node->op) continue;
        if (node->op == P2L_OP_RESHAPE) {
            /* reshape(reshape(x)) = reshape(x) */
            g->tensors.items[in].consumers--;
            g->tensors.items[prev->inputs[0]].consumers++;
            node->inputs[0] = prev->inputs[0];
            *changed = true;
            continue;
        }
        int rank = in_t->rank;
        int32_t outer[P2L_MAX_DIMS], inner[P2L_MAX_DIMS], composed[P2L_MAX_DIMS];
        if (!read_perm(g, node->inputs[1], outer, rank) || !read_perm(g, prev->inputs[1], inner, rank)) continue;
        bool identity = true;
        for (int i = 0; i < rank; i++) {
            composed[i] = inner[outer[i]];
            identity = identity && composed[i] == i;
        }
        int64_t dims = rank;
        int perm_t = p2l_add_const_i32(g, g->tensors.items[node->inputs[1]].name, 1, &dims, composed);
        if (perm_t < 0) return P2L_ERROR_OUT_OF_MEMORY;
        node = &g->nodes.items[n];
        g->tensors.items[in].consumers--;
        g->tensors.items[g->nodes.items[producer].inputs[0]].consumers++;
        node->inputs[0] = g->nodes.items[producer].inputs[0];
        node->inputs[1] = perm_t;
        *changed = true;
        if (identity) bypass(g, (int)n);
    }
    return P2L_OK;
}
