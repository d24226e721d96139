/* Metadata "pt2lite_node_map" = {"version": 1, "subgraph": 0, "nodes": [row...]}, one row per ATen node
 * output that a tensor of the file holds, in graph order:
 *   {"node": "convolution_3", "target": "aten.convolution.default", "output": 0,
 *    "module": "layer1.0.conv1", "source": "resnet.py:285: ...", "tensor": 12, "perm": [0, 2, 3, 1]}
 * Axis i of the tensor is axis perm[i] of PyTorch's value (pt2lite runs convolutions in NHWC). An
 * output folded or fused away by the passes has no row; nor has one whose tensor a pass reshaped in
 * place, whose elements no longer sit where perm says. Readers: python/pt2lite/debug.py. */
#include <stdio.h>
#include <string.h>

#include "convert/metadata.h"

/* Whether the tensor's dims are the value's dims permuted by perm (dynamic sizes match anything). */
static bool laid_out_as(const p2l_ir_tensor *t, const p2l_value *v, const int8_t *perm) {
    if (t->rank != v->rank) return false;
    for (int i = 0; i < t->rank; i++) {
        if (perm[i] < 0 || perm[i] >= v->rank) return false;
        const int64_t want = v->dims[perm[i]];
        if (t->dims[i] >= 0 && want >= 0 && t->dims[i] != want) return false;
    }
    return true;
}

/* A JSON string member: `, "key": "text"`. */
static p2l_status add_string(p2l_buf *out, const char *key, const char *text) {
    text = text ? text : "";
    P2L_TRY(p2l_buf_reserve(out, strlen(key) + 6 * strlen(text) + 16));
    out->len += (size_t)snprintf((char *)out->data + out->len, out->cap - out->len, ", \"%s\": ", key);
    out->len += p2l_json_string((char *)out->data + out->len, text);
    return P2L_OK;
}

static p2l_status add_row(p2l_buf *out, const p2l_ir_origin *o, const p2l_aten_node *node, int rank, bool first) {
    P2L_TRY(p2l_buf_printf(out, "%s\n{\"output\": %d, \"tensor\": %d, \"perm\": [", first ? "" : ",", o->aten_output,
                           o->tensor));
    for (int i = 0; i < rank; i++) P2L_TRY(p2l_buf_printf(out, "%s%d", i ? ", " : "", o->perm[i]));
    P2L_TRY(p2l_buf_printf(out, "]"));
    P2L_TRY(add_string(out, "node", node->name));
    char target[256];
    snprintf(target, sizeof target, "aten.%s", node->target ? node->target : "");
    P2L_TRY(add_string(out, "target", target));
    P2L_TRY(add_string(out, "module", node->module_path));
    P2L_TRY(add_string(out, "source", node->source));
    return p2l_buf_printf(out, "}");
}

p2l_status p2l_add_node_map(p2l_model_ir *model, int subgraph, const p2l_ir_graph *g, const p2l_exported *ep) {
    p2l_buf out = {0};
    p2l_status s = p2l_buf_printf(&out, "{\"version\": 1, \"subgraph\": %d, \"nodes\": [", subgraph);
    bool first = true;
    for (size_t i = 0; s == P2L_OK && i < g->origins.len; i++) {
        const p2l_ir_origin *o = &g->origins.items[i];
        const p2l_aten_node *node = &ep->nodes.items[o->aten_node];
        const p2l_value *v = &ep->values.items[node->outputs[o->aten_output]];
        if (!laid_out_as(&g->tensors.items[o->tensor], v, o->perm)) continue;
        s = add_row(&out, o, node, v->rank, first);
        first = false;
    }
    if (s == P2L_OK) s = p2l_buf_printf(&out, "]}");
    char *json = s == P2L_OK ? p2l_arena_alloc(&model->arena, out.len) : NULL;
    if (s == P2L_OK && !json) s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory recording the node map");
    if (s == P2L_OK) {
        memcpy(json, out.data, out.len);
        p2l_metadata_entry entry = {"pt2lite_node_map", json, out.len};
        s = P2L_VEC_PUSH(&model->metadata, entry);
    }
    p2l_buf_free(&out);
    return s;
}
