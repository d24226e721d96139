/* Quantized embedding tables for the weight recipes (docs/quantization.md, "Embedding tables").
 *
 * aten.embedding lowers to GATHER(table, ids, axis 0). LiteRT 2.3.0 dequantizes a quantized table
 * only in EMBEDDING_LOOKUP (GATHER copies the raw int4 nibbles: wrong values), so a GATHER on axis 0
 * of a float32 2-D constant with int32 ids becomes EMBEDDING_LOOKUP(ids, quantized table) with a
 * float32 output. EMBEDDING_LOOKUP takes 1-D ids: other ranks are flattened by a RESHAPE before it
 * and the rows reshaped to the GATHER's output after it (static shapes only; a table looked up with
 * dynamically shaped ids of another rank stays a float32 GATHER).
 *
 * The recipe supplies the quantizer and its map float constant -> quantized copy, so a table that a
 * FULLY_CONNECTED also reads (a tied LM head) is quantized once, in the form both ops run (int8 per
 * row = per output channel; int4 block-wise by rows), and both read the same quantized tensor. */
#include <string.h>

#include "passes/passes.h"

/* The table of GATHER node `ni` if the node is one this pass rewrites, else -1. Only lookups lowered
 * from aten.embedding (nn.Embedding) count: other gathers of constants (a RoPE cos/sin cache indexed
 * by positions, lookup tables) hold values whose precision the model depends on, and are not weights
 * a user asked to quantize. */
static int gathered_table(const p2l_ir_graph *g, int ni, int64_t min_elements) {
    const p2l_ir_node *n = &g->nodes.items[ni];
    if (n->dead || n->op != P2L_OP_GATHER || n->ninputs != 2 || n->noutputs != 1 || n->inputs[0] < 0 ||
        n->inputs[1] < 0 || !n->origin || !strstr(n->origin, "(aten.embedding."))
        return -1;
    const p2l_ir_tensor *table = &g->tensors.items[n->inputs[0]], *ids = &g->tensors.items[n->inputs[1]];
    const p2l_ir_tensor *out = &g->tensors.items[n->outputs[0]];
    const int64_t axis = p2l_get_option(g, ni, "axis");
    if (!table->data || table->dtype != P2L_FLOAT32 || table->rank != 2 || table->quant || table->dequantized ||
        (axis != 0 && axis != -2) || p2l_get_option(g, ni, "batch_dims") != 0 || ids->dtype != P2L_INT32 ||
        out->dtype != P2L_FLOAT32 || p2l_ir_tensor_numel(table) < min_elements)
        return -1;
    if (ids->rank != 1 && p2l_ir_tensor_numel(ids) < 0) return -1; /* flattening needs static dims */
    return n->inputs[0];
}

/* A RESHAPE of `from` into new tensor `to_dims` (rank `rank`); the new tensor, or -1. */
static int reshaped(p2l_ir_graph *g, int from, int to, int rank, const int64_t *dims, const char *origin) {
    int32_t shape[P2L_MAX_DIMS];
    for (int d = 0; d < rank; d++) shape[d] = (int32_t)dims[d];
    const int64_t shape_len = rank;
    const char *name = g->tensors.items[from].name;
    const char *shape_name = p2l_arena_printf(g->arena, "%s/embedding_shape", name ? name : "ids");
    const int shape_t = shape_name ? p2l_add_const_i32(g, shape_name, 1, &shape_len, shape) : -1;
    if (shape_t < 0) return -1;
    const int inputs[2] = {from, shape_t};
    return p2l_add_node(g, P2L_OP_RESHAPE, 2, inputs, 1, &to, origin) < 0 ? -1 : to;
}

/* Replaces GATHER node `ni` by EMBEDDING_LOOKUP of `quantized` (with RESHAPEs around it for ids that
 * are not 1-D). */
static p2l_status lookup_instead(p2l_ir_graph *g, int ni, int quantized) {
    const p2l_ir_node node = g->nodes.items[ni];
    const int ids = node.inputs[1], out = node.outputs[0];
    const p2l_ir_tensor ids_t = g->tensors.items[ids], out_t = g->tensors.items[out];
    const int64_t columns = g->tensors.items[quantized].dims[1];
    int flat_ids = ids, rows = out;
    if (ids_t.rank != 1) {
        const int64_t count = p2l_ir_tensor_numel(&ids_t), rows_dims[2] = {count, columns};
        const char *base = out_t.name ? out_t.name : "embedding";
        const char *ids_name = p2l_arena_printf(g->arena, "%s/ids", base);
        const char *rows_name = p2l_arena_printf(g->arena, "%s/rows", base);
        if (!ids_name || !rows_name) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        flat_ids = p2l_add_tensor(g, ids_name, P2L_INT32, 1, &count);
        rows = flat_ids < 0 ? -1 : p2l_add_tensor(g, rows_name, P2L_FLOAT32, 2, rows_dims);
        if (rows < 0 || reshaped(g, ids, flat_ids, 1, &count, node.origin) < 0 ||
            reshaped(g, rows, out, out_t.rank, out_t.dims, node.origin) < 0)
            return p2l_last_status();
    }
    const int inputs[2] = {flat_ids, quantized};
    if (p2l_add_node(g, P2L_OP_EMBEDDING_LOOKUP, 2, inputs, 1, &rows, node.origin) < 0) return p2l_last_status();
    g->nodes.items[ni].dead = true; /* after p2l_add_node, which may move the nodes */
    return P2L_OK;
}

p2l_status p2l_store_embeddings(p2l_ir_graph *g, const p2l_embedding_quantizer *quantizer, int *quantized_of) {
    const size_t nodes = g->nodes.len;
    for (size_t ni = 0; ni < nodes; ni++) {
        const int table = gathered_table(g, (int)ni, quantizer->min_elements);
        if (table < 0) continue;
        if (quantized_of[table] < 0 && (quantized_of[table] = quantizer->quantize(g, table, quantizer->ctx)) < 0)
            return p2l_last_status();
        P2L_TRY(lookup_instead(g, (int)ni, quantized_of[table]));
    }
    return P2L_OK;
}
