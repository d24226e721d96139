/* The converter's IR: a graph of TFLite builtin ops over tensors with static or dynamic shapes.
 *
 * Lowering writes it, the passes rewrite it, the writer serializes it. Nodes refer to tensors by
 * index; a node is removed by marking it dead (p2l_ir_graph_compact() drops dead nodes and unused
 * tensors). A model has one or more subgraphs; subgraph 0 is the entry one. */
#ifndef P2L_IR_GRAPH_H
#define P2L_IR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "pt2lite.h"
#include "tflite/schema.h"

/* P2L_MAX_DIMS (pt2lite.h) bounds ranks here as in the runtime: one limit for the whole product. */

/* Quantization parameters: per-tensor (count 1) or per-channel along `axis`; or block-wise
 * (block_size > 0, count 0): every block_size values of a row of a 2-D weight share one scale, held
 * by the float16 constant tensor block_scales [rows, columns / block_size] (TFLite's
 * BlockwiseQuantization; compaction keeps and renumbers that tensor). */
typedef struct p2l_quant {
    int count;
    int axis;
    float *scales;
    int64_t *zero_points;
    int block_size;
    int block_scales;
} p2l_quant;

typedef struct p2l_ir_tensor {
    const char *name;
    p2l_dtype dtype;
    int rank;
    int64_t dims[P2L_MAX_DIMS]; /* -1: dynamic */
    /* A graph input with dynamic dims: its sizes in the export's example inputs, which the file's
     * `shape` holds (shape_signature holds the -1s); NULL: a dynamic dim's `shape` entry is 1. */
    const int64_t *sample_dims;
    /* Constant data (NULL for activations). `owned` is set when the graph allocated the bytes
     * (p2l_alloc) and must release them; otherwise they live in the input archive. */
    const void *data;
    void *owned;
    size_t nbytes;
    p2l_quant *quant;
    /* A float32 constant holding int8 values dequantized with these parameters (a PT2E weight):
     * passes/quantize.c gives the op reading it int8 weights again. Never written to the file. */
    const p2l_quant *dequantized;
    int producer;  /* node index, or -1 (graph input or constant) */
    int consumers; /* number of node inputs reading it (kept by p2l_ir_graph_count_uses) */
} p2l_ir_tensor;

typedef struct p2l_ir_node {
    p2l_op op;
    int ninputs, noutputs;
    int *inputs;  /* tensor indices; -1 = omitted optional input */
    int *outputs;
    int64_t options[P2L_MAX_OPTION_FIELDS]; /* builtin options by schema field id */
    const char *origin; /* where the node came from, for messages: "conv2d_3 (aten.convolution)" */
    bool dead;
} p2l_ir_node;

/* Which ATen value a tensor holds, for debugging (the "pt2lite_node_map" metadata): output `aten_output`
 * of node `aten_node` of the exported program, laid out so that axis i of the tensor is the value's
 * (PyTorch's) axis perm[i]. Lowering records one per node output; compaction renumbers them and drops
 * those whose tensor was removed (folded or fused away). */
typedef struct p2l_ir_origin {
    int tensor;
    int aten_node, aten_output;
    int8_t perm[P2L_MAX_DIMS];
} p2l_ir_origin;

typedef struct p2l_ir_graph {
    const char *name;          /* subgraph / signature key, e.g. "serving_default" */
    P2L_VEC(p2l_ir_tensor) tensors;
    P2L_VEC(p2l_ir_node) nodes;
    P2L_VEC(int) inputs;
    P2L_VEC(int) outputs;
    P2L_VEC(const char *) input_names;  /* signature names, parallel to inputs ("args_0") */
    P2L_VEC(const char *) output_names; /* ("output_0") */
    p2l_arena *arena;          /* the model's arena: names, index arrays */
    bool no_signature;         /* run only by CALL_ONCE (the initializer of resource variables) */
    P2L_VEC(p2l_ir_origin) origins; /* ATen node outputs -> tensors (see p2l_ir_origin) */
} p2l_ir_graph;

/* A TFLite Model.metadata entry: a name and bytes (in the model's arena). */
typedef struct p2l_metadata_entry {
    const char *name;
    const void *data;
    size_t size;
} p2l_metadata_entry;

typedef struct p2l_model_ir {
    p2l_arena arena;
    P2L_VEC(p2l_ir_graph *) graphs;
    const char *description;
    P2L_VEC(p2l_metadata_entry) metadata;
} p2l_model_ir;

p2l_status p2l_model_ir_init(p2l_model_ir *m);
p2l_status p2l_model_ir_add_graph(p2l_model_ir *m, const char *name, p2l_ir_graph **out);
void p2l_model_ir_free(p2l_model_ir *m);

/* Adds an activation tensor (data NULL). Returns the index or -1 on OOM (message set). */
int p2l_add_tensor(p2l_ir_graph *g, const char *name, p2l_dtype dtype, int rank, const int64_t *dims);
/* Adds a constant. If `take` is true the graph takes ownership of `data` (p2l_alloc'd); otherwise
 * it must outlive the graph. */
int p2l_add_const(p2l_ir_graph *g, const char *name, p2l_dtype dtype, int rank, const int64_t *dims,
                  const void *data, bool take);
/* Convenience constants, copied into graph-owned memory. */
int p2l_add_const_i32(p2l_ir_graph *g, const char *name, int rank, const int64_t *dims, const int32_t *values);
int p2l_add_const_f32(p2l_ir_graph *g, const char *name, int rank, const int64_t *dims, const float *values);
/* Adds a node with options set to the schema defaults. Returns its index or -1. The node's input
 * and output arrays are copied. */
int p2l_add_node(p2l_ir_graph *g, p2l_op op, int ninputs, const int *inputs, int noutputs, const int *outputs,
                 const char *origin);
/* Sets / reads a builtin option by field name (an unknown name is a programming error: aborts
 * with a message, caught by any test that builds that node). */
void p2l_set_option(p2l_ir_graph *g, int node, const char *field, int64_t value);
void p2l_set_option_f32(p2l_ir_graph *g, int node, const char *field, float value);
int64_t p2l_get_option(const p2l_ir_graph *g, int node, const char *field);

/* Quantization parameters for `count` channels along `axis` (count 1: per-tensor), in the graph's
 * arena, zero points 0; NULL on OOM (message set). */
p2l_quant *p2l_new_quant(p2l_ir_graph *g, int count, int axis);
/* Whether two parameter sets are the same (both NULL counts as the same). */
bool p2l_quant_equal(const p2l_quant *a, const p2l_quant *b);

/* Replaces a tensor's constant data (releasing old owned bytes). */
void p2l_set_const_data(p2l_ir_graph *g, int tensor, void *owned_data, size_t nbytes);
void p2l_release_const(p2l_ir_tensor *t);

static inline bool p2l_is_const(const p2l_ir_graph *g, int t) { return t >= 0 && g->tensors.items[t].data; }
int64_t p2l_ir_tensor_numel(const p2l_ir_tensor *t);      /* -1 if dynamic (or, never for tensors p2l_add_tensor made, too large) */
size_t p2l_ir_tensor_bytes(const p2l_ir_tensor *t);       /* 0 if dynamic */

/* Recomputes producer and consumer counts (after rewrites). */
void p2l_ir_graph_count_uses(p2l_ir_graph *g);
/* Redirects every use of tensor `from` (node inputs and graph outputs) to `to`. */
void p2l_ir_graph_replace_uses(p2l_ir_graph *g, int from, int to);
/* Drops dead nodes, and tensors no live node or graph input/output refers to; renumbers. */
p2l_status p2l_ir_graph_compact(p2l_ir_graph *g);
/* Orders nodes so every input is produced before use (stable for already-ordered graphs). */
p2l_status p2l_ir_graph_toposort(p2l_ir_graph *g);

/* dst = src with axes permuted: dst axis i is src axis perm[i] (TRANSPOSE's semantics). */
void p2l_permute_bytes(void *dst, const void *src, size_t elem_size, int rank, const int64_t *src_dims,
                       const int *perm);

/* Human-readable dump for debugging (pt2lite convert --dump-ir). */
void p2l_ir_graph_print(const p2l_ir_graph *g, void *file);

#endif
