/* The dynamic_int8 recipe (docs/quantization.md): the constant float32 weights of CONV_2D,
 * DEPTHWISE_CONV_2D and FULLY_CONNECTED become int8, symmetric per output channel (zero point 0,
 * quantized_dimension = the output-channel dim), and the op reads them as it is: float input, int8
 * weights, float bias and output is TFLite's "hybrid" form, which quantizes the input at run time.
 * Only the forms LiteRT's builtin kernels compute as written are made (the others stay float):
 *   - FULLY_CONNECTED with asymmetric_quantize_inputs (inputs quantized per row, asymmetric);
 *   - CONV_2D with one group and no dilation (the hybrid kernel ignores dilation), inputs quantized
 *     per image, asymmetric;
 *   - DEPTHWISE_CONV_2D with no dilation, the same.
 * Per-channel needs two channels or more (with one scale LiteRT takes the per-tensor hybrid path,
 * which quantizes conv inputs symmetrically). Weights under MIN_ELEMENTS values stay float (as
 * TFLite's own converter does), and so do biases and every other constant. BATCH_MATMUL stays float:
 * LiteRT's hybrid BATCH_MATMUL takes per-tensor weights only. */
#include "base/mapped.h"
#include "passes/passes.h"

enum { MIN_ELEMENTS = 1024 };

/* The weight input's output-channel dim for a node the recipe converts, or -1 (node left float). */
static int output_channel_dim(const p2l_ir_graph *g, int ni) {
    const p2l_ir_node *n = &g->nodes.items[ni];
    if (n->dead || n->ninputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return -1;
    const p2l_ir_tensor *x = &g->tensors.items[n->inputs[0]], *w = &g->tensors.items[n->inputs[1]];
    if (x->dtype != P2L_FLOAT32 || n->noutputs != 1 || g->tensors.items[n->outputs[0]].dtype != P2L_FLOAT32) return -1;
    int dim;
    switch (n->op) {
    case P2L_OP_FULLY_CONNECTED:
        if (w->rank != 2) return -1;
        dim = 0;
        break;
    case P2L_OP_CONV_2D:
        /* one group: the filter sees all the input's channels */
        if (w->rank != 4 || x->rank != 4 || x->dims[3] != w->dims[3]) return -1;
        dim = 0;
        break;
    case P2L_OP_DEPTHWISE_CONV_2D:
        if (w->rank != 4) return -1;
        dim = 3;
        break;
    default: return -1;
    }
    if (n->op != P2L_OP_FULLY_CONNECTED &&
        (p2l_get_option(g, ni, "dilation_w_factor") != 1 || p2l_get_option(g, ni, "dilation_h_factor") != 1))
        return -1;
    const int64_t numel = p2l_ir_tensor_numel(w);
    if (!w->data || w->dtype != P2L_FLOAT32 || w->quant || w->dequantized || numel < MIN_ELEMENTS ||
        w->dims[dim] < 2)
        return -1;
    return dim;
}

/* The int8 copy of float32 constant `ti`, symmetric per channel of `dim`; -1 on failure (message set). */
static int quantize_weights(p2l_ir_graph *g, int ti, int dim, const char *where) {
    int8_t *values = NULL;
    p2l_quant *q = p2l_int8_per_channel(g, ti, dim, where, &values);
    if (!q) return -1;
    const p2l_ir_tensor t = g->tensors.items[ti];
    p2l_drop_mapped(t.data, t.nbytes); /* the float weight's pages leave memory now, not after the whole pass */
    int qi = p2l_add_const(g, t.name, P2L_INT8, t.rank, t.dims, values, true);
    if (qi < 0) {
        p2l_release(values);
        return -1;
    }
    g->tensors.items[qi].quant = q;
    return qi;
}

/* An embedding table [rows, columns] as int8 per row: EMBEDDING_LOOKUP's hybrid form, and the same
 * tensor a FULLY_CONNECTED reading the table (a tied LM head) takes, per output channel. */
static int int8_embedding_table(p2l_ir_graph *g, int table, const void *ctx) {
    (void)ctx;
    return p2l_quantize_once(g, table, 0, "dynamic_int8 embedding table", quantize_weights);
}

p2l_status p2l_store_weights_int8(p2l_ir_graph *g) {
    const size_t tensors = g->tensors.len, nodes = g->nodes.len;
    /* a weight read by several nodes is quantized once (all readers use the same channel dim) */
    int *int8_of = p2l_alloc((tensors ? tensors : 1) * sizeof *int8_of);
    if (!int8_of) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < tensors; i++) int8_of[i] = -1;
    const p2l_embedding_quantizer tables = {int8_embedding_table, NULL, MIN_ELEMENTS};
    if (p2l_store_embeddings(g, &tables, int8_of) != P2L_OK) {
        p2l_release(int8_of);
        return p2l_last_status();
    }
    for (size_t ni = 0; ni < nodes; ni++) {
        const int dim = output_channel_dim(g, (int)ni);
        if (dim < 0) continue;
        const int wi = g->nodes.items[ni].inputs[1];
        if (int8_of[wi] < 0 &&
            (int8_of[wi] = p2l_quantize_once(g, wi, dim, g->nodes.items[ni].origin, quantize_weights)) < 0) {
            p2l_release(int8_of);
            return p2l_last_status();
        }
        g->nodes.items[ni].inputs[1] = int8_of[wi];
        if (g->nodes.items[ni].op == P2L_OP_FULLY_CONNECTED)
            p2l_set_option(g, (int)ni, "asymmetric_quantize_inputs", 1);
    }
    p2l_release(int8_of);
    p2l_ir_graph_count_uses(g);
    P2L_TRY(p2l_ir_graph_compact(g));
    return p2l_ir_graph_toposort(g);
}
