/* Constant folding: ops whose inputs are all constants become constants (TRANSPOSE, RESHAPE,
 * CAST of weights and shapes), so no weight is ever moved at run time. */
#include <string.h>

#include "passes/passes.h"

/* Turns node n's output into a constant with `data` (owned unless borrowed) and kills n. */
static void become_constant(p2l_graph *g, int n, const void *data, bool owned, size_t nbytes) {
    p2l_node *node = &g->nodes.items[n];
    p2l_tensor *out = &g->tensors.items[node->outputs[0]];
    out->data = data;
    out->owned = owned ? (void *)data : NULL;
    out->nbytes = nbytes;
    out->producer = -1;
    node->dead = true;
}

static bool fold_reshape(p2l_graph *g, int n) {
    p2l_node *node = &g->nodes.items[n];
    const p2l_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_tensor *out = &g->tensors.items[node->outputs[0]];
    if (p2l_tensor_numel(out) < 0 || p2l_tensor_bytes(out) != in->nbytes) return false;
    /* Borrow bytes the archive owns; copy bytes another tensor owns (lifetimes differ). */
    if (!in->owned) {
        become_constant(g, n, in->data, false, in->nbytes);
        return true;
    }
    void *copy = p2l_alloc(in->nbytes ? in->nbytes : 1);
    if (!copy) return false;
    memcpy(copy, in->data, in->nbytes);
    become_constant(g, n, copy, true, in->nbytes);
    return true;
}

static bool fold_transpose(p2l_graph *g, int n) {
    p2l_node *node = &g->nodes.items[n];
    const p2l_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_tensor *perm_t = &g->tensors.items[node->inputs[1]];
    if (perm_t->dtype != P2L_INT32 || p2l_tensor_numel(perm_t) != in->rank || p2l_tensor_numel(in) < 0) return false;
    int32_t perm[P2L_MAX_RANK];
    memcpy(perm, perm_t->data, sizeof(int32_t) * (size_t)in->rank);
    uint8_t *out = p2l_alloc(in->nbytes ? in->nbytes : 1);
    if (!out) return false;
    int p[P2L_MAX_RANK];
    for (int d = 0; d < in->rank; d++) {
        if (perm[d] < 0 || perm[d] >= in->rank) {
            p2l_release(out);
            return false;
        }
        p[d] = perm[d];
    }
    p2l_permute_bytes(out, in->data, p2l_dtype_size(in->dtype), in->rank, in->dims, p);
    become_constant(g, n, out, true, in->nbytes);
    return true;
}

static bool fold_cast(p2l_graph *g, int n) {
    p2l_node *node = &g->nodes.items[n];
    const p2l_tensor *in = &g->tensors.items[node->inputs[0]];
    const p2l_tensor *out = &g->tensors.items[node->outputs[0]];
    int64_t numel = p2l_tensor_numel(in);
    size_t osize = p2l_dtype_size(out->dtype);
    if (numel < 0 || !osize) return false;
    uint8_t *dst = p2l_alloc(numel ? (size_t)numel * osize : 1);
    if (!dst) return false;
    for (int64_t i = 0; i < numel; i++) {
        double v;
        switch (in->dtype) {
        case P2L_FLOAT32: { float f; memcpy(&f, (const float *)in->data + i, 4); v = f; break; }
        case P2L_INT32: { int32_t x; memcpy(&x, (const int32_t *)in->data + i, 4); v = x; break; }
        case P2L_BOOL: case P2L_UINT8: v = ((const uint8_t *)in->data)[i]; break;
        case P2L_INT8: v = ((const int8_t *)in->data)[i]; break;
        default: p2l_release(dst); return false;
        }
        switch (out->dtype) {
        case P2L_FLOAT32: { float f = (float)v; memcpy(dst + i * 4, &f, 4); break; }
        case P2L_INT32: { int32_t x = (int32_t)v; memcpy(dst + i * 4, &x, 4); break; }
        case P2L_BOOL: dst[i] = v != 0; break;
        case P2L_UINT8: dst[i] = (uint8_t)v; break;
        case P2L_INT8: dst[i] = (uint8_t)(int8_t)v; break;
        default: p2l_release(dst); return false;
        }
    }
    become_constant(g, n, dst, true, (size_t)numel * osize);
    return true;
}

p2l_status p2l_pass_fold_constants(p2l_graph *g, bool *changed) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_node *node = &g->nodes.items[n];
        if (node->dead || node->noutputs != 1) continue;
        bool all_const = node->ninputs > 0;
        for (int i = 0; i < node->ninputs && all_const; i++) all_const = p2l_is_const(g, node->inputs[i]);
        if (!all_const) continue;
        bool folded = false;
        switch (node->op) {
        case P2L_OP_RESHAPE: folded = fold_reshape(g, (int)n); break;
        case P2L_OP_TRANSPOSE: folded = fold_transpose(g, (int)n); break;
        case P2L_OP_CAST: folded = fold_cast(g, (int)n); break;
        default: break;
        }
        *changed = *changed || folded;
    }
    return P2L_OK;
}
