/* The "int4_weights" recipe: block-wise int4 weights for FULLY_CONNECTED layers, float activations
 * (docs/quantization.md, "int4 weights").
 *
 * The form is the one the installed LiteRT runs on both its builtin kernel and its XNNPACK delegate
 * (checked by hand-built files): an INT4 weight tensor [units, depth], packed two values per byte with
 * element 0 in the low nibble, whose QuantizationParameters carry a BlockwiseQuantization naming a
 * float16 constant of scales [units, depth / block] (float32 scales are misread by the builtin kernel
 * and refused by XNNPACK) and the block size; no zero points (symmetric). Each block's scale is
 * max|w| / 7 rounded to float16, the values round(w / scale) in [-7, 7]. */
#include <math.h>

#include "base/float16.h"
#include "base/mapped.h"
#include "passes/passes.h"

enum { DEFAULT_BLOCK = 32 };

/* Scales and packed values of a float32 [units, depth] weight; the caller checked depth % block. */
static p2l_status quantize_blocks(const float *w, size_t units, size_t depth, size_t block, uint16_t *scales,
                                  uint8_t *packed, const char *where) {
    const size_t blocks = depth / block;
    for (size_t u = 0; u < units; u++)
        for (size_t b = 0; b < blocks; b++) {
            const float *v = w + u * depth + b * block;
            float max = 0.0f;
            for (size_t i = 0; i < block; i++) max = fabsf(v[i]) > max ? fabsf(v[i]) : max;
            if (!(max - max == 0))
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: weight row %zu holds a non-finite value", where, u);
            /* all zeros: any scale gives zeros; the smallest float16 keeps the scale positive */
            uint16_t half = max > 0 ? p2l_f32_to_f16(max / 7.0f) : 1;
            if (half == 0) half = 1; /* weights below float16's range all quantize to 0 */
            if ((half & 0x7c00u) == 0x7c00u)
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: weight magnitude %g in row %zu exceeds what float16 block "
                                "scales hold", where, (double)max, u);
            scales[u * blocks + b] = half;
            const float scale = p2l_f16_to_f32(half);
            for (size_t i = 0; i < block; i++) {
                float q = roundf(v[i] / scale);
                q = q < -8.0f ? -8.0f : q > 7.0f ? 7.0f : q;
                const size_t e = u * depth + b * block + i;
                const uint8_t nibble = (uint8_t)((int)q & 0xf);
                packed[e / 2] |= (uint8_t)(e % 2 ? nibble << 4 : nibble);
            }
        }
    return P2L_OK;
}

/* The int4 tensor (with its scales tensor) replacing float32 weight `weight`; -1 on failure. */
static int int4_weight(p2l_ir_graph *g, int weight, size_t block, const char *where) {
    const p2l_ir_tensor t = g->tensors.items[weight];
    const size_t units = (size_t)t.dims[0], depth = (size_t)t.dims[1], blocks = depth / block;
    uint16_t *scales = p2l_alloc((units * blocks + 1) * sizeof *scales);
    uint8_t *packed = p2l_alloc_zero(units * depth / 2 + 1);
    if (!scales || !packed) {
        p2l_release(scales);
        p2l_release(packed);
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory storing %s as int4", where);
        return -1;
    }
    if (quantize_blocks(t.data, units, depth, block, scales, packed, where) != P2L_OK) {
        p2l_release(scales);
        p2l_release(packed);
        return -1;
    }
    p2l_drop_mapped(t.data, t.nbytes); /* the float weight's pages leave memory now, not after the whole pass */
    const char *name = t.name ? t.name : "weight";
    const char *scales_name = p2l_arena_printf(g->arena, "%s/block_scales", name);
    const int64_t scale_dims[2] = {(int64_t)units, (int64_t)blocks};
    int s = scales_name ? p2l_add_const(g, scales_name, P2L_FLOAT16, 2, scale_dims, scales, true) : -1;
    if (s < 0) {
        if (!scales_name) p2l_release(scales);
        p2l_release(packed);
        return -1;
    }
    int w = p2l_add_const(g, name, P2L_INT4, 2, t.dims, packed, true);
    p2l_quant *q = w >= 0 ? p2l_new_quant(g, 0, 0) : NULL;
    if (!q) return -1;
    q->block_size = (int)block;
    q->block_scales = s;
    g->tensors.items[w].quant = q;
    return w;
}

/* LiteRT 2.3.0's builtin block-wise FULLY_CONNECTED ignores a fused activation (XNNPACK applies it):
 * the activation becomes its own op after the layer, so the file means the same on both paths. */
static p2l_status unfuse_activation(p2l_ir_graph *g, int node_index) {
    static const p2l_op activation_ops[] = {[1] = P2L_OP_RELU, [2] = P2L_OP_RELU_N1_TO_1, [3] = P2L_OP_RELU6,
                                            [4] = P2L_OP_TANH};
    const int64_t activation = p2l_get_option(g, node_index, "fused_activation_function");
    if (activation == 0) return P2L_OK;
    const p2l_ir_node *node = &g->nodes.items[node_index];
    if (activation < 0 || activation > 4)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: fused activation %lld has no separate op", node->origin,
                        (long long)activation);
    const int output = node->outputs[0];
    const p2l_ir_tensor out = g->tensors.items[output];
    const char *name = p2l_arena_printf(g->arena, "%s/linear", out.name ? out.name : "fully_connected");
    const int linear = name ? p2l_add_tensor(g, name, out.dtype, out.rank, out.dims) : -1;
    if (linear < 0) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory unfusing an activation");
    const char *origin = g->nodes.items[node_index].origin;
    if (p2l_add_node(g, activation_ops[activation], 1, &linear, 1, &output, origin) < 0) return p2l_last_status();
    g->nodes.items[node_index].outputs[0] = linear; /* after p2l_add_node, which may move the nodes */
    p2l_set_option(g, node_index, "fused_activation_function", 0);
    return P2L_OK;
}

/* An embedding table [rows, columns] as block-wise int4 by rows: EMBEDDING_LOOKUP runs it on LiteRT's
 * builtin kernel, and it is the form a FULLY_CONNECTED reading the table (a tied LM head) takes. */
static int int4_embedding_table(p2l_ir_graph *g, int table, const void *block_size) {
    const size_t block = *(const size_t *)block_size;
    const p2l_ir_tensor *t = &g->tensors.items[table];
    const char *name = t->name ? t->name : "";
    if (t->dims[1] % (int64_t)block) {
        p2l_fail(P2L_ERROR_UNSUPPORTED, "embedding table %s [%lld, %lld]: block size %zu does not divide its row "
                 "length; choose a block size that divides it", name, (long long)t->dims[0], (long long)t->dims[1],
                 block);
        return -1;
    }
    const char *where = p2l_arena_printf(g->arena, "embedding table %s", name);
    return int4_weight(g, table, block, where ? where : "an embedding table");
}

p2l_status p2l_store_weights_int4(p2l_ir_graph *g, int block_size) {
    if (block_size < 0) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "quantize_block_size is %d", block_size);
    const size_t block = block_size ? (size_t)block_size : DEFAULT_BLOCK;
    const size_t tensors = g->tensors.len;
    int *replaced = p2l_alloc((tensors + 1) * sizeof *replaced); /* float weight -> its int4 tensor */
    if (!replaced) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < tensors; i++) replaced[i] = -1;
    const p2l_embedding_quantizer tables = {int4_embedding_table, &block, 0};
    p2l_status status = p2l_store_embeddings(g, &tables, replaced);
    for (size_t n = 0; status == P2L_OK && n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || node->op != P2L_OP_FULLY_CONNECTED || node->ninputs < 2) continue;
        const int weight = node->inputs[1];
        if (weight < 0 || (size_t)weight >= tensors || node->inputs[0] < 0) continue;
        const p2l_ir_tensor *t = &g->tensors.items[weight];
        if (!t->data || t->dtype != P2L_FLOAT32 || t->rank != 2 || t->quant || t->dequantized ||
            g->tensors.items[node->inputs[0]].dtype != P2L_FLOAT32)
            continue;
        if (replaced[weight] < 0) {
            const char *where = node->origin ? node->origin : "a fully connected layer";
            if (t->dims[1] % (int64_t)block) {
                status = p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: block size %zu does not divide the input dimension "
                                  "%lld of its weights %s [%lld, %lld]; choose a block size that divides it",
                                  where, block, (long long)t->dims[1], t->name ? t->name : "",
                                  (long long)t->dims[0], (long long)t->dims[1]);
                break;
            }
            replaced[weight] = int4_weight(g, weight, block, where);
            if (replaced[weight] < 0) {
                status = p2l_last_status();
                break;
            }
        }
        g->nodes.items[n].inputs[1] = replaced[weight];
        if ((status = unfuse_activation(g, (int)n)) != P2L_OK) break;
    }
    p2l_release(replaced);
    if (status != P2L_OK) return status;
    P2L_TRY(p2l_ir_graph_compact(g));
    return p2l_ir_graph_toposort(g);
}
