/* The pass pipeline, dead-code removal and helpers shared by the passes. */
#include <string.h>

#include "passes/passes.h"

static const struct {
    const char *name;
    p2l_pass_fn fn;
} pipeline[] = {
    {"carry-dequantized", p2l_pass_carry_dequantized}, /* before folding: keeps int8 weights' parameters */
    {"fold-constants", p2l_pass_fold_constants},
    {"simplify", p2l_pass_simplify},
    {"cancel-transposes", p2l_pass_cancel_transposes},
    {"fuse-relu6", p2l_pass_fuse_relu6},
    {"fuse-hard-swish", p2l_pass_fuse_hard_swish},
    {"fuse-prelu", p2l_pass_fuse_prelu},
    {"fuse-affine", p2l_pass_fuse_affine},
    {"fuse-activation", p2l_pass_fuse_activation},
    {"zero-pad-max-pool", p2l_pass_zero_pad_max_pool},
    {"quantize", p2l_pass_quantize}, /* after the fusions: int8 ops with their activations fused */
    {"fuse-int8-activation", p2l_pass_fuse_int8_activation}, /* int8 RELU6 etc. the quantizer left apart */
    {"remove-dead", p2l_pass_remove_dead},
};

p2l_status p2l_optimize(p2l_ir_graph *g) {
    /* Each pass only shrinks the graph or moves work into constants, so a few rounds reach a
     * fixed point; the bound is a guard against a pass that undoes another. */
    for (int round = 0; round < 16; round++) {
        bool any = false;
        for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++) {
            bool changed = false;
            p2l_ir_graph_count_uses(g);
            p2l_status s = pipeline[i].fn(g, &changed);
            if (s != P2L_OK) return p2l_fail_context(s, "pass %s", pipeline[i].name);
            any = any || changed;
        }
        if (!any) break;
    }
    P2L_TRY(p2l_ir_graph_compact(g));
    return p2l_ir_graph_toposort(g);
}

int p2l_sole_consumer(const p2l_ir_graph *g, int t) {
    if (g->tensors.items[t].consumers != 1 || p2l_is_graph_output(g, t)) return -1;
    for (size_t n = 0; n < g->nodes.len; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead) continue;
        for (int i = 0; i < node->ninputs; i++)
            if (node->inputs[i] == t) return (int)n;
    }
    return -1;
}

bool p2l_is_graph_output(const p2l_ir_graph *g, int t) {
    for (size_t i = 0; i < g->outputs.len; i++)
        if (g->outputs.items[i] == t) return true;
    return false;
}

bool p2l_same_shape(const p2l_ir_tensor *a, const p2l_ir_tensor *b) {
    return a->rank == b->rank && memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

bool p2l_const_scalar_value(const p2l_ir_graph *g, int t, double *out) {
    if (t < 0 || !p2l_is_const(g, t)) return false;
    const p2l_ir_tensor *tt = &g->tensors.items[t];
    if (p2l_ir_tensor_numel(tt) != 1) return false;
    switch (tt->dtype) {
    case P2L_FLOAT32: { float f; memcpy(&f, tt->data, 4); *out = f; return true; }
    case P2L_INT32: { int32_t v; memcpy(&v, tt->data, 4); *out = v; return true; }
    default: return false;
    }
}

/* Nodes whose outputs nobody reads. Repeats until stable within one call. */
p2l_status p2l_pass_remove_dead(p2l_ir_graph *g, bool *changed) {
    bool again = true;
    while (again) {
        again = false;
        for (size_t n = g->nodes.len; n-- > 0;) {
            p2l_ir_node *node = &g->nodes.items[n];
            if (node->dead || node->noutputs == 0) continue; /* kept for its effect: ASSIGN_VARIABLE, CALL_ONCE */
            bool used = false;
            for (int i = 0; i < node->noutputs && !used; i++) used = g->tensors.items[node->outputs[i]].consumers > 0;
            if (used) continue;
            node->dead = true;
            for (int i = 0; i < node->ninputs; i++)
                if (node->inputs[i] >= 0) g->tensors.items[node->inputs[i]].consumers--;
            again = *changed = true;
        }
    }
    return P2L_OK;
}
