/* Graph rewrites on the TFLite-level IR, run in order by p2l_optimize(). Each pass is one file. */
#ifndef P2L_PASSES_PASSES_H
#define P2L_PASSES_PASSES_H

#include "ir/graph.h"

typedef p2l_status (*p2l_pass_fn)(p2l_ir_graph *g, bool *changed);

/* Runs the pass pipeline to a fixed point (bounded), then compacts the graph. */
p2l_status p2l_optimize(p2l_ir_graph *g);

/* The passes (see each file for what it rewrites). */
p2l_status p2l_pass_fold_constants(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_simplify(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_cancel_transposes(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_fuse_affine(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_fuse_activation(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_fuse_relu6(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_fuse_hard_swish(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_fuse_prelu(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_zero_pad_max_pool(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_carry_dequantized(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_quantize(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_fuse_int8_activation(p2l_ir_graph *g, bool *changed);
p2l_status p2l_pass_remove_dead(p2l_ir_graph *g, bool *changed);

/* float16 weight storage (weights_f16.c), run after p2l_optimize: each float32 constant with at
 * least min_elements values (all of them exact in float16, with exact_only) becomes a float16
 * constant and a DEQUANTIZE to float32. float16 models use it; bfloat16 models with exact_only. */
typedef struct p2l_f16_weights {
    int64_t min_elements;
    bool exact_only;
} p2l_f16_weights;
p2l_status p2l_store_weights_f16(p2l_ir_graph *g, const p2l_f16_weights *how);

/* dynamic_int8 weights (weights_int8.c), run after p2l_optimize: the constant weights of conv,
 * depthwise and fully connected nodes become int8 per channel, read as they are (hybrid ops). */
p2l_status p2l_store_weights_int8(p2l_ir_graph *g);

/* int4 weight storage (weights_int4.c), run after p2l_optimize: the float32 constant weights of
 * FULLY_CONNECTED layers with float32 input become block-wise int4 (block_size values per float16
 * scale; 0: 32). A block size that does not divide a layer's input dimension is an error naming it. */
p2l_status p2l_store_weights_int4(p2l_ir_graph *g, int block_size);

/* Quantized embedding tables (weights_embedding.c), called by the weight recipes: each GATHER on axis 0
 * of a float32 2-D constant (at least min_elements values) with int32 ids becomes EMBEDDING_LOOKUP of
 * quantize(g, table, ctx), the quantized copy (or -1, message set). quantized_of maps the graph's
 * tensors (as many as it had when the recipe began) to their quantized copies, -1 for none: the
 * recipe shares it with its other rewrites, so a constant read by both (a tied LM head) is stored once. */
typedef struct p2l_embedding_quantizer {
    int (*quantize)(p2l_ir_graph *g, int table, const void *ctx);
    const void *ctx;
    int64_t min_elements;
} p2l_embedding_quantizer;
p2l_status p2l_store_embeddings(p2l_ir_graph *g, const p2l_embedding_quantizer *quantizer, int *quantized_of);

/* The built-in quantization recipe options->quantize names (recipes.c), run after p2l_optimize. */
p2l_status p2l_apply_recipe(p2l_ir_graph *g, const p2l_convert_options *options);

/* What the int8 form of an op takes (the table of passes/quantize.c), for the int8 recipe to choose
 * parameters p2l_pass_quantize accepts; false for an op without an int8 form. */
typedef struct p2l_int8_form {
    int weight_axis;   /* input 1 is the filter, quantized along this axis, input 2 the bias; -1: none */
    int activations;   /* leading inputs that are activations (-1: all) */
    bool same_params;  /* its inputs must have the output's parameters (else they are rescaled first) */
    bool output_1_256; /* its output has scale 1/256, zero point -128 */
} p2l_int8_form;
bool p2l_int8_form_of(p2l_op op, p2l_int8_form *form);
/* The int8 recipe (quantize_static.c): options->calibration's ranges for the activations, symmetric
 * per-channel int8 weights, then p2l_pass_quantize's rewrite. */
p2l_status p2l_quantize_static(p2l_ir_graph *g, const p2l_convert_options *options);
/* Float32 constant `tensor` as symmetric per-channel int8 along `axis` (int8_per_channel.c, both int8
 * recipes): its parameters, and *values its numel int8 values (p2l_alloc'd, the caller's); NULL when
 * out of memory or a weight is NaN or infinite (message set, naming `where` and the tensor). */
p2l_quant *p2l_int8_per_channel(p2l_ir_graph *g, int tensor, int axis, const char *where, int8_t **values);

/* Shared helpers for passes. */
/* The single live node reading tensor t, or -1 (none, several, or t is a graph output). */
int p2l_sole_consumer(const p2l_ir_graph *g, int t);
/* Whether tensor t is one of the graph's outputs. */
bool p2l_is_graph_output(const p2l_ir_graph *g, int t);
/* Whether two tensors have the same rank and dims. */
bool p2l_same_shape(const p2l_ir_tensor *a, const p2l_ir_tensor *b);
/* Scalar value of a constant with one element (any float/int dtype), or false. */
bool p2l_const_scalar_value(const p2l_ir_graph *g, int t, double *out);

/* Quantizing a weight once for all signatures of a file (quantize_once.c): a quantizer makes the
 * quantized tensor replacing constant `tensor` (param: its axis or the like; where: the node or use, for
 * its messages), -1 on failure. Between
 * begin and end (one conversion on this thread), p2l_quantize_once returns a tensor borrowing the
 * bytes and parameters an earlier graph's call made from the same source, shape, quantizer and param;
 * otherwise (and outside begin/end) it calls the quantizer. */
typedef int (*p2l_weight_quantizer)(p2l_ir_graph *g, int tensor, int param, const char *where);
void p2l_quantize_once_begin(void);
void p2l_quantize_once_end(void);
int p2l_quantize_once(p2l_ir_graph *g, int tensor, int param, const char *where, p2l_weight_quantizer quantize);

#endif
