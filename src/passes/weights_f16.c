/* float16 weight storage: a float32 constant becomes a float16 constant followed by DEQUANTIZE
 * (float16 -> float32), TFLite's standard form of float16 weights. Compute stays float32: LiteRT's
 * XNNPACK delegate reads such weights directly, and both runtimes compute the DEQUANTIZE of a
 * constant once, at prepare. Half the bytes of each converted weight.
 *
 * Runs after p2l_optimize: folding and fusions (batch norm into conv) work on float32 values, and
 * would otherwise fold the DEQUANTIZE straight back. */
#include <string.h>

#include "base/float16.h"
#include "passes/passes.h"

/* The float16 bits of a float32 constant, or NULL: out of memory (message set) or, with exact_only,
 * a value float16 cannot hold exactly (no message). */
static uint16_t *to_float16(const p2l_ir_tensor *t, int64_t numel, bool exact_only, bool *inexact) {
    uint16_t *halves = p2l_alloc((size_t)(numel ? numel : 1) * sizeof *halves);
    if (!halves) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory storing %s as float16", t->name ? t->name : "a weight");
        return NULL;
    }
    const unsigned char *bytes = t->data;
    for (int64_t i = 0; i < numel; i++) {
        float x;
        memcpy(&x, bytes + (size_t)i * sizeof x, sizeof x);
        halves[i] = p2l_f32_to_f16(x);
        if (exact_only && !p2l_f32_exact_in_f16(x)) {
            p2l_release(halves);
            *inexact = true;
            return NULL;
        }
    }
    return halves;
}

p2l_status p2l_store_weights_f16(p2l_ir_graph *g, const p2l_f16_weights *how) {
    p2l_ir_graph_count_uses(g);
    size_t tensors = g->tensors.len;
    for (size_t ti = 0; ti < tensors; ti++) {
        p2l_ir_tensor t = g->tensors.items[ti];
        int64_t numel = p2l_ir_tensor_numel(&t);
        if (!t.data || t.dtype != P2L_FLOAT32 || t.consumers == 0 || numel < 0 || numel < how->min_elements ||
            t.quant || p2l_is_graph_output(g, (int)ti))
            continue;
        bool inexact = false;
        uint16_t *halves = to_float16(&t, numel, how->exact_only, &inexact);
        if (!halves) {
            if (inexact) continue;
            return p2l_last_status();
        }
        /* the float16 constant keeps the weight's name; DEQUANTIZE's output takes its place */
        int weight = p2l_add_const(g, t.name, P2L_FLOAT16, t.rank, t.dims, halves, true);
        if (weight < 0) {
            p2l_release(halves);
            return p2l_last_status();
        }
        const char *name = p2l_arena_printf(g->arena, "%s/dequantize", t.name ? t.name : "weight");
        int value = name ? p2l_add_tensor(g, name, P2L_FLOAT32, t.rank, t.dims) : -1;
        if (value < 0) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory storing %s as float16", t.name);
        p2l_ir_graph_replace_uses(g, (int)ti, value);
        if (p2l_add_node(g, P2L_OP_DEQUANTIZE, 1, &weight, 1, &value, "float16 weights") < 0)
            return p2l_last_status();
    }
    P2L_TRY(p2l_ir_graph_compact(g));
    return p2l_ir_graph_toposort(g);
}
