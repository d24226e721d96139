/* ATen -> TFLite lowering: the context every lowering function works through.
 *
 * Layout: PyTorch tensors are "logical" (NCHW). Each lowered value is materialized as an IR tensor
 * in some physical layout `perm`: physical axis i holds logical axis perm[i] (NHWC of a 4-D NCHW
 * value is {0,2,3,1}). Layout-sensitive lowerings (conv, pool, resize) ask for NHWC inputs and
 * produce NHWC outputs; layout-agnostic ones (element-wise, activations) keep whatever layout
 * their input has; everything else asks for the logical layout. A TRANSPOSE (or RESHAPE, when only
 * size-1 axes move) is inserted only where a value is needed in a layout it does not have yet,
 * and cached, so a plain CNN body carries NHWC from its first conv to its last with none. */
#ifndef P2L_LOWER_LOWER_H
#define P2L_LOWER_LOWER_H

#include "ir/graph.h"
#include "pt2/pt2.h"

typedef struct p2l_layout {
    int8_t perm[P2L_MAX_DIMS];
} p2l_layout;

typedef struct p2l_lowered p2l_lowered; /* one materialization of a value; see lower.c */

typedef struct p2l_lower_ctx {
    const p2l_exported *ep;
    p2l_ir_graph *g;
    p2l_lowered **values;      /* per value id: list of materializations */
    const p2l_aten_node *node; /* the node being lowered */
    const char *origin;        /* its description, kept on emitted IR nodes */
    const char *naming;        /* names helper tensors when no node is being lowered */
    p2l_buf errors;            /* every unsupported node, one per line */
    int error_count;
    p2l_strmap sym_tensors;    /* symbolic size expression -> its run-time int32 [1] tensor (lower_dynamic.c) */
} p2l_lower_ctx;

typedef p2l_status (*p2l_lower_fn)(p2l_lower_ctx *ctx, const p2l_aten_node *node);

typedef struct p2l_lowering {
    const char *target;     /* "convolution.default" */
    p2l_lower_fn fn;        /* NULL for a refused op */
    const char *tflite_ops; /* what it emits, for docs/ops.md: "CONV_2D DEPTHWISE_CONV_2D" */
    const char *refusal;    /* a refused op: why, the message its nodes are reported with; else NULL */
} p2l_lowering;

/* The lowering table (lowerings.def), in its order. NULL when the op is not in it. */
const p2l_lowering *p2l_find_lowering(const char *target);
const p2l_lowering *p2l_lowering_at(int i); /* iterate; NULL past the end */

/* Lowers the whole exported program into graph g. On unsupported ops, returns
 * P2L_ERROR_UNSUPPORTED with one message listing every offending node. Its float64, float16 and
 * bfloat16 values are made float32 first (p2l_lower_float_dtypes): ep is changed. */
p2l_status p2l_lower(p2l_exported *ep, p2l_ir_graph *g);

/* ---- floating-point dtypes (lower_dtypes.c) ---- */

/* Makes every float64, float16 and bfloat16 value float32 (weights converted), in place; each
 * value's torch_dtype still says what it was. */
p2l_status p2l_lower_float_dtypes(p2l_exported *ep);
/* The dtype a model input or output has in the file: the value's own, except float16 and float64,
 * which stay (cast on entry and exit), and bfloat16, which is float32. */
p2l_dtype p2l_boundary_dtype(const p2l_value *v);
/* Whether the model's float weights are stored as float16 (float16 and bfloat16 models); for
 * bfloat16 ones *exact_only is set: only weights float16 holds exactly. */
bool p2l_float_weights_f16(const p2l_exported *ep, bool *exact_only);
/* The "pt2lite_io_dtypes" metadata text (in arena), or NULL when not needed or out of memory
 * (p2l_last_status tells). */
const char *p2l_io_dtypes_metadata(const p2l_exported *ep, p2l_arena *arena);

/* ---- for lowering functions ---- */

p2l_layout p2l_identity_layout(void);
p2l_layout p2l_channels_last_layout(int rank); /* {0,2,..,rank-1,1} */
bool p2l_layout_is_identity(const p2l_layout *l, int rank);

/* Arguments by schema name (an absent name is an internal error reported on the node). */
const p2l_arg *p2l_arg_of(p2l_lower_ctx *ctx, const char *name);
const p2l_value *p2l_value_of(p2l_lower_ctx *ctx, const char *name); /* the tensor argument's value */
const p2l_value *p2l_output_value(p2l_lower_ctx *ctx, int index);
/* IR dtype a value becomes (int64 -> int32, float64 -> float32). */
p2l_dtype p2l_ir_dtype(p2l_dtype torch_side);

/* The tensor argument `name` as an IR tensor in the given physical layout (NULL = logical). */
int p2l_input(p2l_lower_ctx *ctx, const char *name, const p2l_layout *layout);
/* The tensor argument in whatever layout it already has; its layout in *layout. */
int p2l_input_any(p2l_lower_ctx *ctx, const char *name, p2l_layout *layout);
/* A tensor-or-scalar argument broadcast-aligned to `rank` dims and laid out as `layout`:
 * constants are reshaped/permuted at conversion time; scalars become 0-d constants of `dtype`. */
int p2l_input_broadcast(p2l_lower_ctx *ctx, const char *name, int rank, const p2l_layout *layout, p2l_dtype dtype);
/* The same for a value id (used for list arguments such as cat's tensors). */
int p2l_value_input(p2l_lower_ctx *ctx, int value_id, const p2l_layout *layout);
int p2l_value_input_any(p2l_lower_ctx *ctx, int value_id, p2l_layout *layout);

/* Creates the IR tensor for output `index` of the node, with physical layout `layout` (NULL =
 * logical) and registers it as that value's materialization. */
int p2l_output(p2l_lower_ctx *ctx, int index, const p2l_layout *layout);
/* An IR tensor with explicit physical dims, for intermediate results. */
int p2l_temp(p2l_lower_ctx *ctx, const char *suffix, p2l_dtype dtype, int rank, const int64_t *dims);
/* The name of a helper tensor of the node being lowered: "<module path>/<node>/<suffix>" with '/'
 * between modules (layer1/0/conv1/convolution/bias), as every tensor the node creates. */
const char *p2l_node_tensor_name(p2l_lower_ctx *ctx, const char *suffix);
/* An IR tensor with the dtype and dims of tensor `like` (a valid index). */
int p2l_temp_like(p2l_lower_ctx *ctx, const char *suffix, int like);
/* Makes output `index` an alias of an existing IR tensor (no-op ops: clone, alias, dropout). */
p2l_status p2l_alias_output(p2l_lower_ctx *ctx, int index, int tensor, const p2l_layout *layout);

/* Emits an IR node; returns its index or -1 (message set). */
int p2l_emit(p2l_lower_ctx *ctx, p2l_op op, int ninputs, const int *inputs, int noutputs, const int *outputs);
/* Single-input single-output helper. */
int p2l_emit1(p2l_lower_ctx *ctx, p2l_op op, int input, int output);

/* Constants (graph-owned). */
int p2l_const_scalar(p2l_lower_ctx *ctx, p2l_dtype dtype, double value);
int p2l_const_i32(p2l_lower_ctx *ctx, int n, const int32_t *values); /* 1-D */
int p2l_const_f32(p2l_lower_ctx *ctx, int rank, const int64_t *dims, const float *values);
/* A constant value (weight) in the given layout as IR dtype, reshaped to `rank` (broadcast-aligned,
 * leading 1s) first; used for weights the lowering transforms itself. */
int p2l_value_const(p2l_lower_ctx *ctx, int value_id, int rank, const p2l_layout *layout);

/* RESHAPE / TRANSPOSE emitted into fresh tensors. */
int p2l_reshape(p2l_lower_ctx *ctx, int tensor, int rank, const int64_t *dims);
int p2l_transpose(p2l_lower_ctx *ctx, int tensor, const int8_t *perm); /* out[i] = in[perm[i]] */

/* Records that this node cannot be lowered (with a reason) and returns P2L_ERROR_UNSUPPORTED; the
 * driver keeps going to report every such node at once. */
p2l_status p2l_unsupported(p2l_lower_ctx *ctx, const char *fmt, ...) P2L_PRINTF(2, 3);

/* Normalizes a possibly negative dim for a rank (-1 -> rank-1); -1 if out of range. */
int p2l_norm_dim(int64_t dim, int rank);
/* The physical position of logical axis `axis` in `layout`. */
int p2l_physical_axis(const p2l_layout *layout, int rank, int axis);

/* Narrowing checks. The IR computes int64 values as int32 (p2l_ir_dtype): every int64 number a
 * lowering writes into the model (scalars, filled constants, repeat counts, steps, pads) goes
 * through these, so a value outside int32 is an error naming the node, `what` and the value, never
 * a wrapped number. (Dims need no check: p2l_add_tensor bounds every dim to int32, so values taken
 * from dims fit.) Each returns false with the reason recorded (p2l_unsupported). */
bool p2l_fits_dtype(p2l_lower_ctx *ctx, p2l_dtype dtype, double value, const char *what);
bool p2l_narrow_i32(p2l_lower_ctx *ctx, int64_t value, const char *what, int32_t *out);

/* Element i of typed data (float32/64, int8/16/32/64, uint8, bool) as a double. */
double p2l_load_element(const void *data, p2l_dtype dtype, size_t i);

/* The number a Scalar argument holds (int, float or bool), or `fallback` when it is absent. */
double p2l_arg_number(p2l_lower_ctx *ctx, const char *name, double fallback);
/* Whether a value is known at conversion time (parameter, buffer or constant). */
bool p2l_value_is_constant(const p2l_value *v);
/* P2L_OK for a valid node or tensor index, else P2L_ERROR_UNSUPPORTED (the reason is already
 * recorded): `return p2l_emitted(p2l_emit(...));` ends a lowering. */
p2l_status p2l_emitted(int index);

/* ---- small emission helpers (each returns the new tensor, or -1 with the reason recorded) ---- */

/* t cast to dtype (CAST with its options set); t itself when it already has that dtype. */
int p2l_cast(p2l_lower_ctx *ctx, int t, p2l_dtype dtype);
/* out = op(a, b) into a fresh tensor with the numpy-broadcast dims of a and b (ranks aligned to
 * the right) and dtype `dtype` (P2L_BOOL for comparisons). */
int p2l_binary(p2l_lower_ctx *ctx, p2l_op op, int a, int b, p2l_dtype dtype);
/* out = op(x) into a fresh tensor shaped and typed like x. */
int p2l_unary(p2l_lower_ctx *ctx, p2l_op op, int x);
/* A reducer (MEAN, SUM, REDUCE_*) of x over the physical axes marked in `axes` (bit i = axis i). */
int p2l_reduce(p2l_lower_ctx *ctx, p2l_op op, int x, unsigned axes, bool keep_dims);
/* The layout of a value after the logical axes marked in `removed` are dropped (reductions without
 * keepdim): the remaining physical axes keep their order, logical indices renumbered. */
p2l_layout p2l_layout_without_axes(const p2l_layout *l, int rank, const bool *removed);

/* The layout of the first argument among `names` that is a non-constant tensor of rank `rank`
 * (element-wise ops run in it; constants, scalars and lower-rank operands adapt); identity if none. */
p2l_layout p2l_operands_layout(p2l_lower_ctx *ctx, const char *const *names, int count, int rank);
/* Tensor-or-scalar argument `name` broadcast-aligned to `rank`, laid out as `layout`, cast to dtype. */
int p2l_operand(p2l_lower_ctx *ctx, const char *name, int rank, const p2l_layout *layout, p2l_dtype dtype);
/* Both operands `a` and `b` (tensor or scalar) of a binary op producing output 0, broadcast-aligned
 * to its rank in a common layout (p2l_operands_layout) and cast to dtype. False when either fails. */
typedef struct p2l_operands {
    int a, b;
    p2l_layout layout;
    int rank;
} p2l_operands;
bool p2l_binary_operands(p2l_lower_ctx *ctx, const char *a, const char *b, p2l_dtype dtype, p2l_operands *o);
/* Makes `tensor` (the last result of a composition) output `index` in physical layout `layout`;
 * an intermediate produced by this node takes the output value's name. P2L_ERROR_UNSUPPORTED when
 * tensor < 0 (the reason is already recorded). */
p2l_status p2l_set_output(p2l_lower_ctx *ctx, int index, int tensor, const p2l_layout *layout);

/* Pads the spatial axes (1 and 2) of NHWC tensor x by (before, after): zeros as PAD, any other
 * value as PADV2. Returns the padded tensor or -1. */
int p2l_pad_spatial(p2l_lower_ctx *ctx, int x, const int64_t before[2], const int64_t after[2], float value);

/* Whether no dim is dynamic (< 0); the element count, -1 when a dim is dynamic. */
bool p2l_dims_static(const int64_t *dims, int rank);
int64_t p2l_dims_numel(const int64_t *dims, int rank);
/* An int32 constant of positions with the given dims (named "<node>/indices"). */
int p2l_const_indices(p2l_lower_ctx *ctx, int rank, const int64_t *dims, const int32_t *values);
/* GATHER(params, indices, axis) into a fresh tensor: params' dims with `axis` replaced by indices' dims. */
int p2l_gather(p2l_lower_ctx *ctx, int params, int indices, int axis);
/* t reshaped to `rank` dims with leading 1s (t itself when it has that rank). */
int p2l_align_rank(p2l_lower_ctx *ctx, int t, int rank);
/* t reshaped to 1-D (t itself when it is 1-D). */
int p2l_flatten(p2l_lower_ctx *ctx, int t);
/* Output `index` = t, a tensor holding the output's elements in logical order (reshaped when its
 * dims differ from the output's). P2L_ERROR_UNSUPPORTED when t < 0. */
p2l_status p2l_logical_output(p2l_lower_ctx *ctx, int index, int t);

/* Binds an ATen value to tensor (identity layout), as if a node had produced it there. */
p2l_status p2l_bind_value(p2l_lower_ctx *ctx, int value_id, int tensor);

/* Module state (lower_state.c): buffers forward() mutates become resource variables. Reads, before the
 * nodes: CALL_ONCE, VAR_HANDLE and READ_VARIABLE per buffer; writes, after the outputs: ASSIGN_VARIABLE
 * of each new value. Once every signature is lowered, p2l_add_state_initializer adds the subgraph that
 * assigns the buffers' values at conversion (once per file) and points each CALL_ONCE at it. */
p2l_status p2l_lower_state_reads(p2l_lower_ctx *ctx);
p2l_status p2l_lower_state_writes(p2l_lower_ctx *ctx);
p2l_status p2l_add_state_initializer(p2l_model_ir *model, const p2l_exported *ep);

/* ---- dynamic dims (lower_dynamic.c) ---- */

/* The value of a symbolic size expression (p2l_value.sym, p2l_arg.sym) at run time: a 1-element
 * int32 tensor computed in the graph from the inputs' shapes (once per expression). -1 with the
 * reason recorded when it cannot be computed. */
int p2l_sym_tensor(p2l_lower_ctx *ctx, const char *expr);
/* A 1-D int32 tensor of `count` sizes: static ones (>= 0) as constants, the others (< 0) from
 * exprs[i]; a constant when all are static. */
int p2l_size_tensor(p2l_lower_ctx *ctx, int count, const int64_t *sizes, const char *const *exprs);
/* CONCATENATION of n 1-D int32 tensors holding `len` values in all (the piece itself when n == 1);
 * -1 when a piece is -1. */
int p2l_concat_sizes(p2l_lower_ctx *ctx, int n, const int *pieces, int64_t len);
/* The shape of value v in physical layout `layout` (NULL = logical) as such a tensor. */
int p2l_dynamic_shape(p2l_lower_ctx *ctx, const p2l_value *v, const p2l_layout *layout);
/* The shape tensor of a reshape of `tensor` to `dims` (several unknown) that only inserts or drops
 * size-1 axes: the input's run-time sizes gathered in order, 1 at the new axes. -1 with the reason
 * recorded for any other reshape. */
int p2l_unit_reshape_shape(p2l_lower_ctx *ctx, int tensor, int rank, const int64_t *dims);
/* Records on graph input tensor t the sizes of input value v in the export's example inputs (the
 * file's `shape`; shape_signature keeps -1 for the dynamic dims). */
p2l_status p2l_set_sample_dims(p2l_lower_ctx *ctx, int t, const p2l_value *v);
/* Whether two values have the same sizes: equal static dims, dynamic ones of the same expression. */
bool p2l_same_sizes(const p2l_value *a, const p2l_value *b);
/* Which user input holds symbol `name` (not NUL-terminated): value id and dim where the input's size
 * is factor * symbol. */
bool p2l_symbol_source(const p2l_exported *ep, const char *name, size_t name_len, int *value_id, int *dim,
                       int64_t *factor);

/* Appends the metadata entry P2L_DYNAMIC_RANGES_METADATA (tflite/schema.h) for subgraph `subgraph`:
 * the range torch.export allows for each dynamic input size; nothing for a static program. */
p2l_status p2l_add_dynamic_ranges(p2l_model_ir *model, int subgraph, const p2l_exported *ep);

/* Lowering functions, declared from the table. */
#define L(target, fn, ops) p2l_status fn(p2l_lower_ctx *ctx, const p2l_aten_node *node);
#define R(target, ops, reason)
#include "lower/lowerings.def"
#undef L
#undef R

#endif
