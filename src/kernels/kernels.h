/* The interface between the runtime and the kernels.
 *
 * A kernel is a struct of function pointers (prepare, invoke), one per op family file (p2l_kernel_<name>
 * in conv.c, binary.c, ...), registered in registry.c by p2l_op. prepare() validates the node's inputs
 * and typed options (node->opts), sets every output's dims (shape inference) and may keep derived
 * parameters in node->state; invoke() computes. The runtime owns tensors and memory: kernels never
 * allocate at invoke time.
 *
 * These portable C kernels are the reference: the semantics of every op, used by the runtime, by the
 * converter's constant folding (p2l_evaluate) and as the oracle of the fast kernels (src/kernels/fast
 * over one ISA's micro-kernels), which registry.c chooses instead where the CPU has them. */
#ifndef P2L_KERNELS_KERNELS_H
#define P2L_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "pt2lite.h"
#include "tflite/schema.h"

typedef struct p2l_tensor {
    const char *name;
    int index;            /* in its subgraph */
    p2l_dtype dtype;      /* as declared by the file; kernels check it */
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    size_t count;         /* elements */
    size_t bytes;
    void *data;           /* valid at invoke; at prepare only when `known` */
    bool is_constant;     /* data is the model's constant buffer (read-only) */
    bool known;           /* value available at prepare time: constant or computed at prepare */
    /* Quantization as the file declares it (quant_math.h reads it): quant_count 0 none, 1 per-tensor,
     * > 1 one scale and zero point per index of dim quantized_dimension. */
    int quant_count;
    int quantized_dimension;
    const float *scales;
    const int64_t *zero_points;
    /* Block-wise quantization (int4 weights [units, depth], verified by the reader): every block_size
     * values of a row share one scale of block_scales, float16 [units, depth / block_size]. 0: none. */
    int block_size;
    const uint16_t *block_scales;
} p2l_tensor;

/* ------------------------------------------------------------ execution context
 *
 * An interpreter owns one thread pool (none when num_threads is 1) and one scratch block: each
 * kernel states at prepare how many bytes of scratch one thread needs (node->scratch_bytes) and the
 * runtime sizes the block for the largest need, so kernels never allocate at invoke time. */
typedef struct p2l_exec {
    p2l_threadpool *pool;  /* NULL: everything runs on the calling thread */
    uint8_t *scratch;      /* threads x scratch_stride bytes, 64-byte aligned */
    size_t scratch_stride; /* bytes per thread, a multiple of 64 */
    struct p2l_variables *variables; /* the interpreter's resource variables (kernels/variables.h); NULL: none */
} p2l_exec;

/* Fusions the runtime offers a kernel at prepare (runtime/fusions.c decides when the graph allows
 * them: the intermediate tensors have no other reader and are not subgraph outputs). A kernel that
 * implements an offer sets its `taken` flag in prepare; the runtime then skips the absorbed ops. A
 * kernel that ignores the offers stays correct: the ops run as written. */
enum {
    P2L_EPILOGUE_NONE = 0,
    P2L_EPILOGUE_SILU,       /* y = x * LOGISTIC(x): LOGISTIC then MUL of the output with it */
    P2L_EPILOGUE_HARD_SWISH, /* y = HARD_SWISH(x) */
    P2L_EPILOGUE_MUL_BY_INPUT, /* offered to an int8 LOGISTIC: y = MUL(input 0, output 0) (int8 SiLU) */
    /* offered to a per-tensor int8 DEQUANTIZE: the float element-wise ops after it and the QUANTIZE to
     * int8 that ends them (epilogue_nodes, in order), a function of the input byte (a float detour) */
    P2L_EPILOGUE_INT8_DETOUR,
};
enum { P2L_FUSION_MAX_ABSORBED = 3 }; /* nodes one offer absorbs at most */
typedef struct p2l_fusion {
    /* Input 0 is the output of a zero PAD of dims 1 and 2 (H, W) only: the kernel may read `unpadded`
     * instead, with pad_top / pad_left more implicit zero padding (bottom/right follow from the
     * output size, which prepare computed from the padded input). */
    p2l_tensor *unpadded;
    int pad_top, pad_left;
    bool unpadded_taken;
    /* An element-wise op on output 0, applied after the fused activation, written to
     * epilogue_output (same shape) instead of output 0, which then has no memory. */
    int epilogue;
    p2l_tensor *epilogue_output;
    bool epilogue_taken;
    /* The nodes the epilogue absorbs, in graph order (epilogue_output is the last one's output 0). */
    struct p2l_node *epilogue_nodes[P2L_FUSION_MAX_ABSORBED];
    int epilogue_node_count;
} p2l_fusion;

typedef struct p2l_node {
    p2l_op op;
    int index;            /* op index in the subgraph (for messages) */
    int version;
    int input_count, output_count;
    p2l_tensor **inputs;  /* NULL for an omitted optional input */
    p2l_tensor **outputs;
    /* The options as the file has them, options.def fields by id with defaults filled in, and the
     * int vector some carry (RESHAPE new_shape, SQUEEZE squeeze_dims): p2l_parse_options' input. */
    const int64_t *options;
    bool has_option_ints;
    int option_int_count;
    const int32_t *option_ints;
    p2l_op_options opts;             /* typed options: what kernels read (p2l_parse_options) */
    void *state;                     /* kernel's prepared parameters */
    p2l_arena *arena;                /* prepare-time allocations, freed at the next prepare */
    p2l_exec *exec;                  /* threads and scratch; may be NULL (one thread, no scratch) */
    size_t scratch_bytes;            /* set by prepare: scratch one thread needs at invoke */
    p2l_fusion fusion;               /* offers from the runtime (zero: none) */
    struct p2l_derived_store *derived; /* the model's data derived from constants (below); NULL: none */
} p2l_node;

static inline int p2l_node_threads(const p2l_node *node) {
    return node->exec ? p2l_threadpool_threads(node->exec->pool) : 1;
}
/* The pool to split `work` units of a node over (multiply-adds, or elements of an element-wise op),
 * or NULL to run it on the calling thread: below P2L_MIN_PARALLEL_WORK, handing part of it to
 * another thread and waiting for that thread costs more than it saves. */
enum { P2L_MIN_PARALLEL_WORK = 1 << 15 };
static inline p2l_threadpool *p2l_node_pool(const p2l_node *node, double work) {
    return node->exec && work >= P2L_MIN_PARALLEL_WORK ? node->exec->pool : NULL;
}
static inline void *p2l_node_scratch(const p2l_node *node, int thread) {
    return node->exec->scratch + (size_t)thread * node->exec->scratch_stride;
}

typedef p2l_status (*p2l_kernel_fn)(p2l_node *node);

/* ------------------------------------------------------------ data derived from constants
 * What a kernel derives at prepare from constant tensors alone (packed weights) is the same in every
 * interpreter of a model, so the runtime keeps it with the model (runtime/weights.c) and gives each
 * node the model's store: the first prepare that asks for an entry builds it (any interpreter, any
 * thread), later ones get the same bytes until the model is freed. Entries are read-only once built.
 * A node without a store (p2l_evaluate, kernel tests) derives into its own arena. */
typedef p2l_status (*p2l_derive_fn)(void *data, const void *ctx); /* fills `bytes` zeroed bytes */
typedef struct p2l_derived_store {
    /* *data: the entry of `key` (key_bytes bytes, compared as bytes: it names the constants and every
     * parameter the result depends on), `bytes` long and 64-byte aligned, built first by
     * derive(data, ctx) if the store has no such entry yet. */
    p2l_status (*get)(struct p2l_derived_store *store, const void *key, size_t key_bytes, size_t bytes,
                      p2l_derive_fn derive, const void *ctx, const void **data);
} p2l_derived_store;

enum {
    P2L_KERNEL_SHAPE_ONLY = 1, /* outputs depend only on input shapes (SHAPE): computed at prepare */
    P2L_KERNEL_NO_FOLD = 2,    /* never computed at prepare even when inputs are known (random ops) */
    P2L_KERNEL_VIEW = 4,       /* output 0 is input 0's bytes under another shape (RESHAPE): the memory
                                * plan may give both one buffer, and invoke then has nothing to do */
};

typedef struct p2l_kernel {
    p2l_kernel_fn prepare;
    p2l_kernel_fn invoke;
    uint8_t min_inputs, max_inputs;
    uint8_t min_outputs, max_outputs;
    uint16_t optional_inputs;  /* bit i set: input i may be omitted (-1) */
    uint8_t flags;
} p2l_kernel;

/* The kernel for an op and the highest op version it accepts; NULL when pt2lite has none. This is the
 * fastest variant the CPU supports (a fast kernel falls back to the reference one, by itself, for
 * nodes it does not cover); P2L_REFERENCE_KERNELS=1 in the environment forces the reference kernels. */
const p2l_kernel *p2l_kernel_of(p2l_op op, int *max_version);
/* The portable reference kernel of an op (the correctness oracle of the fast ones). */
const p2l_kernel *p2l_reference_kernel_of(p2l_op op);
/* Whether fast kernels are in use (CPU support and no P2L_REFERENCE_KERNELS). */
bool p2l_fast_kernels_enabled(void);

/* One interpreter's kernels (p2l_interpreter_options.kernels, P2L_KERNELS_*). Auto follows the process-
 * wide choice above; any other value pins the interpreter's kernels: the reference ones, or the fast
 * ones over one ISA's micro-kernels (P2L_ERROR_UNSUPPORTED where the build or CPU lacks it). */
typedef struct p2l_kernel_selection {
    const struct p2l_fast_isa *isa; /* pinned, not reference: the micro-kernel table */
    bool reference;                 /* pinned to the reference kernels */
    bool pinned;                    /* false: auto */
} p2l_kernel_selection;
p2l_status p2l_kernel_select(int kernels, p2l_kernel_selection *selection);
const p2l_kernel *p2l_kernel_selected(const p2l_kernel_selection *selection, p2l_op op);
/* Fast kernels pick their micro-kernels at prepare: between begin and end, on this thread, they get
 * the selection's (nothing changes for auto). */
void p2l_kernel_selection_begin(const p2l_kernel_selection *selection);
void p2l_kernel_selection_end(void);

/* Prepared parameters of the convolution and pooling reference kernels (conv.c, pool.c), which the
 * fast variants reuse. */
typedef struct p2l_conv_params {
    int stride_h, stride_w, dilation_h, dilation_w;
    int pad_h, pad_w;
    int activation;
    int groups, depth_multiplier;
    const struct p2l_quant_conv *quant; /* int8 nodes: requantization (quant_math.h); NULL for float */
} p2l_conv_params;
typedef struct p2l_pool_params {
    int stride_h, stride_w, filter_h, filter_w, pad_h, pad_w, activation;
    int32_t act_min, act_max; /* int8: the fused activation's quantized range */
} p2l_pool_params;

/* Fast kernels fall back to the reference kernel for nodes they do not cover: they keep the
 * reference kernel's prepared state and run its invoke with that state in place. */
static inline p2l_status p2l_invoke_reference(p2l_node *node, const p2l_kernel *reference, void *reference_state) {
    void *fast_state = node->state;
    node->state = reference_state;
    p2l_status s = reference->invoke(node);
    node->state = fast_state;
    return s;
}

/* ------------------------------------------------------------ helpers (common.c) */

/* "input 1 (tensor 5 'w')" for messages. */
const char *p2l_tensor_label(const p2l_tensor *t, char *buf, size_t cap);
#define P2L_LABEL(t) p2l_tensor_label((t), (char[192]){0}, 192)

/* Sets an output's dims, element count and byte size (overflow-checked). */
p2l_status p2l_set_output_dims(p2l_node *node, int output, int rank, const int32_t *dims);
/* Output gets the input's shape. */
p2l_status p2l_set_output_like(p2l_node *node, int output, const p2l_tensor *like);

p2l_status p2l_expect_dtype(const p2l_tensor *t, p2l_dtype dtype);
p2l_status p2l_expect_same_dtype(const p2l_tensor *t, const p2l_tensor *like);
p2l_status p2l_expect_rank(const p2l_tensor *t, int rank);
/* The tensor's value must be available at prepare time (constant or computed from constants). */
p2l_status p2l_expect_known(const p2l_tensor *t, const char *role);
/* Reads an int32 or int64 tensor into int64 values (at most `cap`); *count = elements. */
p2l_status p2l_read_ints(const p2l_tensor *t, int64_t *values, size_t cap, size_t *count);
/* Axis in [-rank, rank) made non-negative. */
p2l_status p2l_normalize_axis(int64_t axis, int rank, int *out);
/* A known one-element axis tensor, normalized for `rank`. */
p2l_status p2l_read_axis(const p2l_tensor *t, int rank, int *axis);
/* A known int tensor of dims (a shape, multiples), each in [min_dim, INT32_MAX]; `role` names it in errors. */
p2l_status p2l_read_dims(const p2l_tensor *t, const char *role, int32_t min_dim, int *rank, int32_t *dims);
/* Every input has input 0's dtype and shape (ADD_N, PACK). */
p2l_status p2l_expect_inputs_alike(const p2l_node *node);

/* Steps a row-major index over `dims` to the next element (the last dim fastest). */
static inline void p2l_index_next(int rank, const int32_t *dims, int32_t *index) {
    for (int d = rank - 1; d >= 0; d--) {
        if (++index[d] < dims[d]) return;
        index[d] = 0;
    }
}

size_t p2l_dims_count(int rank, const int32_t *dims);
/* Index of the first value outside int32 (count if none): the int64 -> int32 CAST refuses those. */
size_t p2l_first_outside_int32(const int64_t *values, size_t count);

/* ------------------------------------------------------------ options (options.c) */

/* Fills node->opts from node->options and the option ints (the table of node->op in options.def;
 * all defaults when node->options is NULL). Whoever builds a node calls it once, before prepare. */
void p2l_parse_options(p2l_node *node);
/* The fused activation of a node whose options have one (ADD, CONV_2D, ...); P2L_ACT_NONE otherwise. */
p2l_activation p2l_fused_activation(const p2l_node *node);

/* Fused activations: NONE, RELU, RELU_N1_TO_1, RELU6, TANH. */
p2l_status p2l_check_activation(int activation);
void p2l_apply_activation(int activation, float *data, size_t count);
/* Applies the node's fused activation (p2l_fused_activation) to its float output 0. */
void p2l_apply_fused_activation(p2l_node *node);
/* FULLY_CONNECTED with int4 weights and float input (fully_connected_int4.c): the float kernel's
 * prepare (reference and fast) and invoke hand such nodes to these. */
p2l_status p2l_fully_connected_int4_prepare(p2l_node *node);
p2l_status p2l_fully_connected_int4_invoke(p2l_node *node);

/* N-ary broadcasting (numpy rules): the output shape, then rows of the output with one offset per
 * operand. Adjacent dims with the same broadcast pattern are merged, so a plain elementwise op is
 * one long row. */
enum { P2L_BCAST_MAX_OPERANDS = 3 };
typedef struct p2l_bcast {
    int operands, rank;
    int32_t dims[P2L_MAX_DIMS];
    size_t strides[P2L_BCAST_MAX_OPERANDS][P2L_MAX_DIMS]; /* 0 where the operand is broadcast */
    size_t rows, inner;                                   /* inner = dims[rank-1] */
} p2l_bcast;
typedef struct p2l_bcast_iter {
    int32_t index[P2L_MAX_DIMS];
    size_t offset[P2L_BCAST_MAX_OPERANDS];
} p2l_bcast_iter;
/* Broadcast shape of `count` shapes; fails naming the incompatible dims. */
p2l_status p2l_broadcast_dims(int count, const p2l_tensor *const *shapes, int *rank, int32_t *dims);
void p2l_bcast_init(p2l_bcast *b, int count, const p2l_tensor *const *operands, int rank, const int32_t *dims);
void p2l_bcast_next_row(const p2l_bcast *b, p2l_bcast_iter *it); /* call after each row but the last */
/* Output 0 gets the operands' broadcast shape, and *b is initialized to walk it. */
p2l_status p2l_broadcast_output(p2l_node *node, int count, const p2l_tensor *const *operands, p2l_bcast *b);

/* Kernels whose output is a strided view of input 0 keep this as node->state and use
 * p2l_view_invoke: output element (i0..ir-1), in row-major order over dims, comes from input element
 * offset + sum(i_d * strides[d]) (strides in elements, may be zero or negative). Serves TRANSPOSE,
 * slices, REVERSE_V2, BROADCAST_TO, DEPTH_TO_SPACE. dims may have more entries than the output's rank
 * (e.g. DEPTH_TO_SPACE's 6-D view). */
typedef struct p2l_view {
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    int64_t strides[P2L_MAX_DIMS];
    int64_t offset;
} p2l_view;
/* The same view with size-1 dims dropped and neighbours contiguous in the input merged (an NCHW ->
 * NHWC transpose becomes one [H*W, C] <- [C, H*W] matrix, a slice of whole rows one long row); rank
 * at least 1. */
void p2l_view_simplify(const p2l_view *v, p2l_view *out);
/* Copies the view of src into contiguous dst: contiguous runs with memcpy, rows split over the node's
 * threads when the copy is large enough. */
void p2l_copy_view(const p2l_node *node, const p2l_view *view, void *dst, const void *src, size_t elem_size);
p2l_view *p2l_new_view(p2l_node *node);
p2l_status p2l_view_invoke(p2l_node *node);
/* Row-major strides (in elements) of a shape. */
void p2l_dims_strides(int rank, const int32_t *dims, int64_t *strides);

/* Saturating float -> integer conversion (C leaves out-of-range conversions undefined). */
static inline int64_t p2l_float_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* ------------------------------------------------------------ one op outside an interpreter (evaluate.c)
 *
 * Runs one op with its reference kernel, prepared and invoked as the interpreter does, on the calling
 * thread: constant folding in the converter (which so computes what the runtime computes) and the
 * C tests use it. */
typedef struct p2l_eval_tensor {
    p2l_dtype dtype;
    int rank;                   /* output: the declared shape before (as a model's), the computed one after */
    int32_t dims[P2L_MAX_DIMS];
    void *data;      /* input: its elements, row-major (only read). Output: memory of `capacity` bytes, or
                      * NULL to have it allocated (p2l_alloc: the caller releases it with p2l_release) */
    size_t capacity; /* output: bytes at data when the caller gives the memory */
    size_t bytes;    /* output: set to the result's size */
    bool allocated;  /* output: set when data was allocated */
} p2l_eval_tensor;
typedef struct p2l_eval_op {
    p2l_op op;
    const int64_t *options;     /* options.def fields by id, as p2l_node's; NULL: the defaults */
    bool has_option_ints;       /* RESHAPE new_shape / SQUEEZE squeeze_dims, as p2l_node's */
    int option_int_count;
    const int32_t *option_ints;
} p2l_eval_op;
/* inputs[i] NULL: an omitted optional input. Output dtypes are the caller's (CAST's target, ARG_MAX's
 * index type); on failure no output memory stays allocated and the message names the op. */
p2l_status p2l_evaluate(const p2l_eval_op *op, int input_count, const p2l_eval_tensor *const *inputs,
                        int output_count, p2l_eval_tensor *outputs);

/* Whether kernel k takes an op of input_count inputs and output_count outputs, with only optional
 * inputs omitted (omitted(inputs, i): whether input i is left out), so that its prepare and invoke
 * index inputs without checks. Checked at model load (runtime/model.c) and by p2l_evaluate; the
 * message ("has 3 inputs, expected 2 to 2") is for the caller to prefix with the op. */
p2l_status p2l_check_arity(const p2l_kernel *k, int input_count, int output_count,
                           bool (*omitted)(const void *inputs, int i), const void *inputs);

#endif
