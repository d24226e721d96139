/* Metadata entries the converter writes besides the graph. */
#ifndef P2L_CONVERT_METADATA_H
#define P2L_CONVERT_METADATA_H

#include "ir/graph.h"
#include "pt2/pt2.h"

/* Appends `text` as a JSON string literal to out (room for 6 bytes per input byte plus quotes). */
size_t p2l_json_string(char *out, const char *text);

/* Metadata "pt2lite_node_map": which tensor of `subgraph` holds each ATen node output (g->origins,
 * after the passes), for per-node comparison (docs/debugging.md). */
p2l_status p2l_add_node_map(p2l_model_ir *model, int subgraph, const p2l_ir_graph *g, const p2l_exported *ep);

#endif
