/* pt2lite: PyTorch (.pt2 from torch.export.save) to LiteRT/TFLite (.tflite), and a runtime for .tflite.
 *
 * The only header users include. Every fallible call returns a p2l_status; on failure
 * p2l_last_error() gives a message (thread-local) that says what was wrong and where. */
#ifndef PT2LITE_H
#define PT2LITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define P2L_API __declspec(dllexport)
#else
#define P2L_API __attribute__((visibility("default")))
#endif

#include "pt2lite_config.h" /* P2L_VERSION*, P2L_HAVE_CONVERTER, P2L_HAVE_RUNTIME */

typedef enum p2l_status {
    P2L_OK = 0,
    P2L_ERROR_INVALID_ARGUMENT = 1, /* the caller passed something wrong (NULL, bad index) */
    P2L_ERROR_IO = 2,               /* a file could not be read or written */
    P2L_ERROR_MALFORMED = 3,        /* the input is not a valid .pt2 / .tflite */
    P2L_ERROR_UNSUPPORTED = 4,      /* valid input that pt2lite does not support */
    P2L_ERROR_OUT_OF_MEMORY = 5,
    P2L_ERROR_LIMIT = 6,            /* a resource limit was exceeded (the message names it) */
    P2L_ERROR_INTERNAL = 7,         /* a bug in pt2lite */
    P2L_ERROR_CANCELLED = 8,        /* p2l_interpreter_cancel stopped an invoke (the interpreter stays usable) */
} p2l_status;

/* Element types. The values are TFLite's TensorType codes, so a dtype read from a .tflite
 * file needs no translation. */
typedef enum p2l_dtype {
    P2L_FLOAT32 = 0,
    P2L_FLOAT16 = 1,
    P2L_INT32 = 2,
    P2L_UINT8 = 3,
    P2L_INT64 = 4,
    P2L_STRING = 5,
    P2L_BOOL = 6,
    P2L_INT16 = 7,
    P2L_INT8 = 9,
    P2L_FLOAT64 = 10,
    P2L_RESOURCE = 13, /* a resource variable's handle (VAR_HANDLE's output): no elements of its own */
    P2L_INT4 = 17,     /* signed 4-bit, two per byte (element 0 in the low nibble): constant weights only */
} p2l_dtype;
/* "float32", "int64", ...; "unknown" for a value that is not a p2l_dtype. */
P2L_API const char *p2l_dtype_name(p2l_dtype dtype);

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
P2L_API const char *p2l_last_error(void);
P2L_API const char *p2l_status_name(p2l_status status);
P2L_API const char *p2l_version(void);
/* P2L_VERSION_NUMBER of the library that runs (the header's macro is the one compiled against). */
P2L_API int p2l_version_number(void);
/* Frees memory that pt2lite returned to the caller (converted model bytes, strings). */
P2L_API void p2l_free(void *ptr);

/* Error reporter: when set, fn(status, message, user) is called each time pt2lite records an error on
 * any thread, before the failing call returns; message is what p2l_last_error() would return then
 * (valid only during the call). An error gains context as it travels outward ("subgraph 0, op 3
 * (ADD): ..."), and each step is reported, so the last report before a call returns is its final
 * message; a few internal attempts that pt2lite recovers from are reported too. fn may run on several
 * threads at once, must not call pt2lite, and should be cheap. Set it (or NULL to remove it) while no
 * other thread is inside pt2lite: the pair (fn, user) is not swapped atomically with running calls. */
typedef void (*p2l_error_reporter)(p2l_status status, const char *message, void *user);
P2L_API void p2l_set_error_reporter(p2l_error_reporter fn, void *user);

/* ---------------------------------------------------------------- option structs (ABI)
 *
 * Every options struct starts with `size`: set it to sizeof the struct, e.g.
 *   p2l_interpreter_options o = {.size = sizeof o, .num_threads = 4};
 * so a library newer than the header knows which fields the caller has, and an older library refuses
 * fields it does not know (P2L_ERROR_INVALID_ARGUMENT naming the sizes) instead of ignoring them.
 * size 0 is accepted and means the struct as pt2lite 0.1 declared it, so zero-initialized structs keep
 * working; fields added after 0.1 are read only when size covers them. A size between 1 and the 0.1
 * struct's is refused (e.g. a positional initializer such as {4}, which sets size, not the first
 * option). */

/* ---------------------------------------------------------------- resource limits
 *
 * pt2lite reads files from the internet: every size a file declares is checked against a limit
 * before it is used to allocate or loop. The defaults are generous for real models (multi-GB LLMs
 * included); a caller that handles untrusted files can tighten them. A zero field means "the default".
 * Exceeding a limit fails with P2L_ERROR_LIMIT and a message naming the limit and its value, e.g.
 * "limit max_nodes = 4096 exceeded: the graph has 5000 nodes". */
typedef struct p2l_limits {
    uint64_t max_file_bytes;   /* size of the input file (.pt2 / .tflite); default 64 GiB */
    uint64_t max_tensor_bytes; /* total bytes of all tensors: converter: weights, constants and folded
                                  values; runtime: every tensor of a subgraph at load and after shape
                                  inference; default 64 GiB */
    uint64_t max_nodes;        /* nodes of the .pt2 graph / ops of a .tflite subgraph; default 1 << 22 */
    uint64_t max_tensors;      /* values of the .pt2 graph / tensors of a .tflite subgraph (also bounds
                                  subgraphs, buffers and operator codes); default 1 << 22 */
    uint64_t max_json_depth;   /* nesting depth of the .pt2's JSON documents; default 256 */
    uint64_t max_arena_bytes;  /* runtime: tensor memory one allocation of a subgraph plans (the arena,
                                  values computed at prepare time and scratch); default 64 GiB */
} p2l_limits;

#define P2L_DEFAULT_MAX_FILE_BYTES ((uint64_t)64 << 30)
#define P2L_DEFAULT_MAX_TENSOR_BYTES ((uint64_t)64 << 30)
#define P2L_DEFAULT_MAX_NODES ((uint64_t)1 << 22)
#define P2L_DEFAULT_MAX_TENSORS ((uint64_t)1 << 22)
#define P2L_DEFAULT_MAX_JSON_DEPTH 256
#define P2L_DEFAULT_MAX_ARENA_BYTES ((uint64_t)64 << 30)

/* The limits in effect for `limits` (NULL: all defaults): every zero field replaced by its default. */
P2L_API p2l_limits p2l_limits_resolve(const p2l_limits *limits);

/* ------------------------------------------------------------ end resource limits */

/* ---------------------------------------------------------------- converter
 * Declared only where the library contains it (P2L_HAVE_CONVERTER, from pt2lite_config.h). */
#ifdef P2L_HAVE_CONVERTER

/* Called when a conversion stage ends ("read", "lower", "passes", "write", in that order; the stage that
 * failed is reported too) with its wall-clock time: what `pt2lite convert -v` and
 * pt2lite.convert(..., verbose=True) print. */
typedef void (*p2l_convert_stage_fn)(const char *stage, double seconds, void *user);

/* Built-in quantization recipes (docs/quantization.md says what each writes and how it runs). */
typedef enum p2l_quantize_recipe {
    P2L_QUANTIZE_NONE = 0,         /* weights and compute as the program has them */
    P2L_QUANTIZE_FP16 = 1,         /* float16 weights (DEQUANTIZE to float32), float compute */
    P2L_QUANTIZE_DYNAMIC_INT8 = 2, /* int8 per-channel weights for conv / fully connected / matmul with
                                      constant weights; activations float, quantized at run time */
    P2L_QUANTIZE_INT8 = 3,         /* full integer: int8 weights and activations, activation ranges
                                      from a calibration (p2l_convert_options.calibration) */
    P2L_QUANTIZE_INT4_WEIGHTS = 4, /* block-wise int4 weights for fully connected layers and
                                      embeddings; activations float */
} p2l_quantize_recipe;

/* Activation ranges recorded by running the float model (the int8 recipe's calibration). */
typedef struct p2l_calibration p2l_calibration;

typedef struct p2l_convert_options {
    size_t size;              /* sizeof(p2l_convert_options), or 0 (see "option structs") */
    const p2l_limits *limits; /* NULL: the defaults (see p2l_limits) */
    /* Fields below are read only when size covers them (see "option structs"). */
    p2l_convert_stage_fn on_stage; /* NULL: no stage reports */
    void *on_stage_user;           /* passed to on_stage */
    p2l_quantize_recipe quantize;  /* P2L_QUANTIZE_NONE: no quantization */
    int quantize_block_size;       /* P2L_QUANTIZE_INT4_WEIGHTS: values per block (0: 32) */
    const p2l_calibration *calibration; /* P2L_QUANTIZE_INT8: the recorded ranges (required) */
    int int8_io;                   /* P2L_QUANTIZE_INT8, nonzero: model inputs/outputs int8 (default float32) */
    /* Entries the caller adds to the file's metadata (p2l_model_metadata reads them), after the
     * converter's own; a name the file already has is refused. E.g. pt2lite.llm records
     * "pt2lite_llm" (docs/generative.md). The bytes are read during the call only. */
    const struct p2l_metadata_item *metadata;
    size_t metadata_count;
    /* Weights the caller holds in memory, read from there instead of from the archives: each entry
     * replaces the stored bytes of state_dict entry `name` of program `program` (its index in the
     * programs given). The archive still describes the weight (its config entry's dtype; the graph's
     * shape); its stored bytes are ignored (torch.export.save writes none for a fake tensor). So a
     * caller that has the weights (pt2lite's Python) saves no copy of them, and signatures over the
     * same module share one buffer by address. The bytes are read during the call only. */
    const struct p2l_external_weight *weights;
    size_t weight_count;
} p2l_convert_options;

/* A weight in the caller's memory (p2l_convert_options.weights): `size` bytes, the tensor's elements
 * in row-major order (contiguous), in the dtype the archive's config gives it. */
typedef struct p2l_external_weight {
    size_t program;   /* which program (signature) reads it */
    const char *name; /* its state_dict name ("model.layers.0.mlp.up_proj.weight") */
    const void *data;
    size_t size;
} p2l_external_weight;

/* A metadata entry: TFLite Model.metadata's name and the bytes of its buffer. */
typedef struct p2l_metadata_item {
    const char *name; /* non-empty */
    const void *data; /* NULL only when size is 0 */
    size_t size;
} p2l_metadata_item;

/* Converts the bytes of a .pt2 archive (as written by torch.export.save) to .tflite bytes.
 * On success *tflite_out is a p2l_free()-able buffer of *tflite_size bytes. */
P2L_API p2l_status p2l_convert(const void *pt2, size_t pt2_size, const p2l_convert_options *options,
                               void **tflite_out, size_t *tflite_size);

/* File to file. Writes the output only when conversion succeeded (no half-written files). */
P2L_API p2l_status p2l_convert_file(const char *pt2_path, const char *tflite_path,
                                    const p2l_convert_options *options);

/* Peak bytes the converter held on the heap during the last p2l_convert() on this thread. */
P2L_API size_t p2l_convert_peak_bytes(void);

/* Several signatures in one file: each program (a .pt2 archive's bytes) becomes one subgraph and one
 * SignatureDef keyed `name` (non-empty, unique), in the order given. Constant data is stored once: a
 * constant whose bytes equal one of an earlier signature's shares its buffer, so two signatures over
 * the same module cost their ops, not a second copy of the weights. Each signature's output structure
 * is recorded as metadata "pt2lite_output_structure:<name>" (one program: "pt2lite_output_structure",
 * as p2l_convert writes it). p2l_convert is this call with one program named "serving_default". */
typedef struct p2l_signature_program {
    const char *name; /* the SignatureDef key (and the subgraph's name) */
    const void *pt2;  /* the .pt2 archive's bytes */
    size_t pt2_size;
} p2l_signature_program;
P2L_API p2l_status p2l_convert_signatures(const p2l_signature_program *programs, size_t count,
                                          const p2l_convert_options *options, void **tflite_out,
                                          size_t *tflite_size);
/* File to file: pt2_paths[i] becomes the signature names[i]. Writes the output only on success. */
P2L_API p2l_status p2l_convert_signature_files(const char *const *names, const char *const *pt2_paths, size_t count,
                                               const char *tflite_path, const p2l_convert_options *options);
#endif /* P2L_HAVE_CONVERTER */

/* ---------------------------------------------------------------- runtime
 *
 * A p2l_model is a verified, read-only .tflite file; any number of interpreters (on any threads)
 * may share one. An interpreter holds the tensors and memory of one execution and is used by one
 * thread at a time. Typical use:
 *
 *   p2l_model *m;            p2l_model_load_file("model.tflite", &m);
 *   p2l_interpreter *it;     p2l_interpreter_create(m, NULL, &it);
 *   p2l_model_free(m);       // the interpreter keeps its own reference
 *   p2l_interpreter_set_input(it, 0, x, sizeof x);
 *   p2l_interpreter_invoke(it);
 *   p2l_interpreter_get_output(it, 0, y, sizeof y);
 *   p2l_interpreter_free(it);
 *
 * Tensors are addressed as (subgraph, tensor index in that subgraph), the indices of the file; for
 * subgraph 0 these are the `index` values LiteRT's Python API reports.
 *
 * Models (p2l_model_*: load, verify, read) are in every build; interpreters (p2l_interpreter_*) only
 * where P2L_HAVE_RUNTIME is defined (pt2lite_config.h). */

enum { P2L_MAX_DIMS = 8 }; /* the highest tensor rank pt2lite handles; higher ranks are refused */

typedef struct p2l_model p2l_model;
typedef struct p2l_interpreter p2l_interpreter;
typedef struct p2l_threadpool p2l_threadpool;

/* A tensor as p2l_model_tensor_info (the file) or p2l_interpreter_tensor_info (now) describes it.
 * The caller sets `size` before the call, as for the option structs: sizeof(p2l_tensor_info), or 0 for
 * the first layout (every field up to zero_point); pt2lite fills only the fields that size covers and
 * refuses other sizes (P2L_ERROR_INVALID_ARGUMENT), so an uninitialized struct is an error, not a
 * silent overflow:  p2l_tensor_info info = {.size = sizeof info}; */
typedef struct p2l_tensor_info {
    size_t size;                           /* sizeof(p2l_tensor_info), or 0; kept as the caller set it */
    const char *name;                      /* valid while the model lives */
    p2l_dtype dtype;
    int rank;
    int32_t dims[P2L_MAX_DIMS];            /* interpreter: the current shape (after resizes and shape
                                              inference); model: the file's shape */
    int32_t dims_signature[P2L_MAX_DIMS];  /* the file's shape_signature: -1 = dynamic dim */
    size_t bytes;                          /* dims product times element size */
    int is_constant;                       /* data comes from the model file */
    int quant_count;                       /* 0: not quantized; 1: per-tensor; >1: per-channel */
    int quantized_dimension;
    float scale;                           /* first scale / zero point */
    int64_t zero_point;
} p2l_tensor_info;

/* Flags for p2l_model_load. */
enum {
    P2L_MODEL_COPY = 1, /* copy the bytes; otherwise the caller keeps them alive and unchanged */
    /* Verify the file but skip the check that pt2lite has a kernel for every op: for callers that only
     * read the model (signatures, metadata, ops, tensors) and run it elsewhere. p2l_interpreter_create
     * refuses it. */
    P2L_MODEL_VERIFY_ONLY = 2,
    /* Every flag this version knows; p2l_model_load* refuse others (P2L_ERROR_INVALID_ARGUMENT). */
    P2L_MODEL_KNOWN_FLAGS = P2L_MODEL_COPY | P2L_MODEL_VERIFY_ONLY,
};

/* Verifies the whole file, then keeps a reference to `data` (zero-copy) or a copy. */
P2L_API p2l_status p2l_model_load(const void *data, size_t size, unsigned flags, p2l_model **model);
/* Maps the file read-only (zero-copy); falls back to reading it where mapping is unavailable.
 * Contract: the file must stay unchanged while the model (or an interpreter created from it) lives.
 * The model's structure is verified and decoded at load, but constant data is read from the mapping
 * when kernels run: if another process truncates the file, touching the lost pages raises SIGBUS; if
 * it rewrites the file in place, the weights may change under the model. Where the file can change,
 * read it into memory yourself and call p2l_model_load with P2L_MODEL_COPY. */
P2L_API p2l_status p2l_model_load_file(const char *path, p2l_model **model);

/* Load with options (resource limits). options may be NULL (flags 0, default limits). The model keeps
 * a copy of the limits: interpreters created from it plan within max_arena_bytes / max_tensor_bytes. */
typedef struct p2l_model_load_options {
    size_t size;              /* sizeof(p2l_model_load_options), or 0 (see "option structs") */
    unsigned flags;           /* P2L_MODEL_* (P2L_MODEL_COPY is ignored by p2l_model_load_file_ex); unknown
                                 bits are refused */
    const p2l_limits *limits; /* NULL: the defaults */
} p2l_model_load_options;
P2L_API p2l_status p2l_model_load_ex(const void *data, size_t size, const p2l_model_load_options *options,
                                     p2l_model **model);
P2L_API p2l_status p2l_model_load_file_ex(const char *path, const p2l_model_load_options *options,
                                          p2l_model **model);
/* Drops the caller's reference; the model lives on while interpreters created from it do. */
P2L_API void p2l_model_free(p2l_model *model);

P2L_API int p2l_model_subgraph_count(const p2l_model *model);
/* Inputs / outputs of a subgraph as tensor indices. */
P2L_API int p2l_model_subgraph_input_count(const p2l_model *model, int subgraph);
P2L_API int p2l_model_subgraph_output_count(const p2l_model *model, int subgraph);
P2L_API p2l_status p2l_model_subgraph_input(const p2l_model *model, int subgraph, int i, int *tensor);
P2L_API p2l_status p2l_model_subgraph_output(const p2l_model *model, int subgraph, int i, int *tensor);

/* SignatureDefs. Each names a subgraph and maps input/output names to its tensors. */
P2L_API int p2l_model_signature_count(const p2l_model *model);
P2L_API const char *p2l_model_signature_key(const p2l_model *model, int signature); /* NULL if out of range */
P2L_API p2l_status p2l_model_find_signature(const p2l_model *model, const char *key, int *signature);
P2L_API p2l_status p2l_model_signature_subgraph(const p2l_model *model, int signature, int *subgraph);
/* Inputs (is_output 0) or outputs (1) of a signature, by position or by name. */
P2L_API int p2l_model_signature_io_count(const p2l_model *model, int signature, int is_output);
P2L_API p2l_status p2l_model_signature_io(const p2l_model *model, int signature, int is_output, int i,
                                          const char **name, int *tensor);
P2L_API p2l_status p2l_model_signature_find_io(const p2l_model *model, int signature, int is_output,
                                               const char *name, int *tensor);

/* The bytes of the metadata entry named `name` (TFLite Model.metadata: a name and a buffer), e.g.
 * "pt2lite_output_structure", which the converter writes (see README). *data points into the model and
 * stays valid while it lives (NULL when the entry is empty). Fails with P2L_ERROR_INVALID_ARGUMENT when
 * the model has no such entry. */
P2L_API p2l_status p2l_model_metadata(const p2l_model *model, const char *name, const void **data, size_t *size);

/* Whether `dims` (rank dims) is a shape the model accepts for input i of a signature: the same rank as
 * the tensor's shape_signature and the same size in every dim not marked dynamic (-1). Otherwise fails
 * with P2L_ERROR_INVALID_ARGUMENT and a message naming the input, the shape_signature and `dims`. */
P2L_API p2l_status p2l_model_signature_check_input(const p2l_model *model, int signature, int i, int rank,
                                                   const int64_t *dims);
/* Checks the values of input i of a signature (`bytes` of the input's dtype) against what the model
 * can compute exactly: an int64 input that the model narrows to int32 (pt2lite's converter computes
 * integers in int32) must hold int32 values. P2L_OK, or P2L_ERROR_INVALID_ARGUMENT naming the input,
 * the value and its position. pt2lite's runtime makes the same check when it runs the model; this
 * call lets a caller check before handing the data to another runtime. */
P2L_API p2l_status p2l_model_signature_check_input_values(const p2l_model *model, int signature, int i,
                                                          const void *data, size_t bytes);

/* What the file holds, without an interpreter (pt2lite's `inspect` command prints these). */
/* The schema version the file declares, and its description ("" when it has none). */
P2L_API uint32_t p2l_model_schema_version(const p2l_model *model);
P2L_API const char *p2l_model_description(const p2l_model *model);
/* A subgraph's name ("" when it has none; NULL when subgraph is out of range), and how many tensors and
 * ops it has (0 when out of range). */
P2L_API const char *p2l_model_subgraph_name(const p2l_model *model, int subgraph);
P2L_API int p2l_model_subgraph_tensor_count(const p2l_model *model, int subgraph);
P2L_API int p2l_model_subgraph_op_count(const p2l_model *model, int subgraph);
/* Op `op` (0 to op count - 1, in execution order) of a subgraph: the builtin operator's name, e.g.
 * "CONV_2D", and its code in the TFLite schema (BuiltinOperator). Either output may be NULL. */
P2L_API p2l_status p2l_model_op(const p2l_model *model, int subgraph, int op, const char **name, int *builtin_code);
/* A tensor as the file declares it: dims and dims_signature are its shape and shape_signature, bytes
 * its size at that shape, is_constant set when the file holds its data. */
P2L_API p2l_status p2l_model_tensor_info(const p2l_model *model, int subgraph, int tensor, p2l_tensor_info *info);

enum { P2L_MAX_THREADS = 1024 }; /* num_threads above this is refused */

/* Thread pools (docs/embedding.md, "Thread pools"). By default each interpreter starts its own
 * workers; a pool created here can be shared by several interpreters (p2l_interpreter_options.threadpool),
 * so N interpreters on a 4-core device use 4 threads, not 4N. Interpreters on different threads may
 * invoke at the same time on one pool: each parallel op takes the pool for itself (the others' ops
 * wait for it, then run), so results are as with private pools and the cores are never oversubscribed. */
enum {
    /* How idle workers wait for the next op (p2l_threadpool_options.wait). At the end of each invoke
     * they sleep at once whatever the policy. */
    P2L_WAIT_DEFAULT = 0, /* spin a few microseconds, then yield the core for about 100 us, then sleep */
    P2L_WAIT_SPIN = 1,    /* spin (pause instructions) about 50 us, then sleep: lowest latency on cores
                             that nothing else needs */
    P2L_WAIT_YIELD = 2,   /* no spinning: yield the core for about 100 us, then sleep */
    P2L_WAIT_SLEEP = 3,   /* sleep as soon as a job is done: least power (battery), each op pays a wake-up */
};
typedef struct p2l_threadpool_options {
    size_t size;      /* sizeof(p2l_threadpool_options), or 0 (see "option structs") */
    int num_threads;  /* threads that run one parallel op, the caller's included: 1 to P2L_MAX_THREADS */
    int wait;         /* P2L_WAIT_* */
    /* Optional CPU affinity (Linux): worker k (1 to num_threads - 1) is pinned to cpus[(k - 1) % cpu_count];
     * the caller's thread is never pinned. Best effort: a CPU that does not exist or is not allowed leaves
     * that worker unpinned (p2l_threadpool_pinned says how many were pinned). NULL / 0: no pinning. */
    const int *cpus;
    int cpu_count;
} p2l_threadpool_options;
P2L_API p2l_status p2l_threadpool_create(const p2l_threadpool_options *options, p2l_threadpool **pool);
/* Drops the caller's reference; the workers stop when no interpreter uses the pool any more. */
P2L_API void p2l_threadpool_free(p2l_threadpool *pool);
/* Workers that p2l_threadpool_options.cpus pinned (0 without cpus, or where affinity is unavailable). */
P2L_API int p2l_threadpool_pinned(const p2l_threadpool *pool);

/* Kernel selection (p2l_interpreter_options.kernels). */
enum {
    P2L_KERNELS_AUTO = 0,      /* the fastest kernels this CPU supports (AVX-512, AVX2+FMA, NEON, else portable) */
    P2L_KERNELS_REFERENCE = 1, /* the portable reference kernels only: slower, for checking results */
    /* One ISA's kernels; P2L_ERROR_UNSUPPORTED at create where the build or the CPU lacks it. */
    P2L_KERNELS_AVX2 = 2,      /* x86-64 AVX2 + FMA */
    P2L_KERNELS_AVX512 = 3,    /* x86-64 AVX-512F */
    P2L_KERNELS_NEON = 4,      /* aarch64 */
};

/* Flags for p2l_interpreter_options.flags; unknown bits are refused. */
enum {
    P2L_INTERPRETER_NO_FUSION = 1, /* run every op as written (no PAD / activation fused into convolutions) */
    P2L_INTERPRETER_PROFILE = 2,   /* time every op; read with p2l_interpreter_profile */
    /* Every intermediate tensor keeps its own memory and stays readable after invoke (as LiteRT's
     * experimental_preserve_all_tensors): no memory shared between tensors, no fusions (implies
     * P2L_INTERPRETER_NO_FUSION). For debugging (per-node comparison): more memory, slower. */
    P2L_INTERPRETER_PRESERVE_ALL_TENSORS = 4,
    P2L_INTERPRETER_KNOWN_FLAGS = P2L_INTERPRETER_NO_FUSION | P2L_INTERPRETER_PROFILE |
                                  P2L_INTERPRETER_PRESERVE_ALL_TENSORS,
};

/* Environment variables, overrides for tools and debugging (docs/embedding.md, "Environment variables");
 * set to anything but "" or "0", they add to the options, never remove: P2L_PROFILE=1 (profile, printed to
 * stderr per op type when the interpreter is freed; =2 also per op), P2L_NO_FUSION (as
 * P2L_INTERPRETER_NO_FUSION), P2L_REFERENCE_KERNELS (P2L_KERNELS_REFERENCE for every interpreter, whatever
 * its kernels), P2L_NO_AVX512 (AVX2 kernels where AVX-512 ones would run, P2L_KERNELS_AVX512 included). */
typedef struct p2l_interpreter_options {
    size_t size;     /* sizeof(p2l_interpreter_options), or 0 (see "option structs") */
    int num_threads; /* threads that run one invoke, the caller's included: 1 to P2L_MAX_THREADS; 0: the
                        default (1). Negative or larger values fail with P2L_ERROR_INVALID_ARGUMENT. */
    int kernels;     /* P2L_KERNELS_*; 0: auto */
    unsigned flags;  /* P2L_INTERPRETER_* */
    /* Fields below are read only when size covers them (see "option structs"). */
    p2l_threadpool *threadpool; /* NULL: the interpreter's own pool of num_threads threads; else this
                                   shared pool (num_threads must then be 0 or the pool's thread count);
                                   the interpreter holds a reference to it until freed */
} p2l_interpreter_options;

/* options may be NULL. Checks that every op has a kernel; shapes and memory are planned lazily
 * (p2l_interpreter_allocate, or the first call that needs them). */
P2L_API p2l_status p2l_interpreter_create(p2l_model *model, const p2l_interpreter_options *options,
                                          p2l_interpreter **interpreter);
/* Frees the interpreter (NULL is fine). Every p2l_interpreter_* call checks that its interpreter is live:
 * a freed one is refused with P2L_ERROR_INVALID_ARGUMENT "not a live interpreter" (and freeing it again
 * does nothing) while its memory has not been reused. A debugging aid, not a promise: do not rely on it. */
P2L_API void p2l_interpreter_free(p2l_interpreter *interpreter);
P2L_API const p2l_model *p2l_interpreter_model(const p2l_interpreter *interpreter);

/* Shape inference for every op and the memory plan, for every subgraph. Needed again after a resize
 * (done automatically by the calls below). Input values set before a re-allocation are lost. */
P2L_API p2l_status p2l_interpreter_allocate(p2l_interpreter *interpreter);

/* Info of any tensor of any subgraph. Shapes of non-input tensors are those of the last
 * allocation (the file's shapes before the first). */
P2L_API p2l_status p2l_interpreter_tensor_info(p2l_interpreter *interpreter, int subgraph, int tensor,
                                               p2l_tensor_info *info);
/* Copies `bytes` (must equal the tensor's byte size) into / out of a tensor. Outputs of ops other
 * than the subgraph's outputs are valid after invoke only until their memory is reused. */
P2L_API p2l_status p2l_interpreter_set_tensor(p2l_interpreter *interpreter, int subgraph, int tensor,
                                              const void *data, size_t bytes);
P2L_API p2l_status p2l_interpreter_get_tensor(p2l_interpreter *interpreter, int subgraph, int tensor,
                                              void *data, size_t bytes);
/* Direct pointer to a tensor's memory (valid until the next allocation or binding change), to write
 * inputs and read outputs without a copy. Constants (is_constant in p2l_tensor_info) are refused with
 * P2L_ERROR_INVALID_ARGUMENT: their memory is the model's, read-only when the file is mapped (a write
 * would crash) and shared by every interpreter; read them with p2l_interpreter_tensor_const_data. */
P2L_API p2l_status p2l_interpreter_tensor_data(p2l_interpreter *interpreter, int subgraph, int tensor,
                                               void **data);
/* Read-only pointer to any tensor's memory, constants included (valid as p2l_interpreter_tensor_data's;
 * a constant's as long as the model lives). */
P2L_API p2l_status p2l_interpreter_tensor_const_data(p2l_interpreter *interpreter, int subgraph, int tensor,
                                                     const void **data);

/* Caller-owned memory for an input or output of a subgraph (docs/embedding.md, "Binding buffers"):
 * invoke reads the input from / writes the output to `data` directly, without a copy. `data` must be
 * aligned to P2L_BIND_ALIGNMENT bytes (64 is best: the arena's alignment, a cache line) and `bytes`
 * must equal the tensor's byte size at its current shape (an output whose shape is not known yet, before
 * the first allocation, is checked at allocation). The tensor leaves the memory plan: binding a tensor
 * that was not bound, or unbinding (data NULL, bytes 0), re-plans at the next use like a resize (input
 * values set before are lost); binding a bound tensor to another buffer of the same size is only a
 * pointer swap (a new camera frame each invoke costs nothing). A RESHAPE of a bound tensor keeps
 * aliasing it. Buffers bound in one subgraph must not overlap, and must stay valid while bound.
 * After a resize that changes a bound tensor's size the binding stays but invoke refuses to run
 * (P2L_ERROR_INVALID_ARGUMENT naming the tensor and both sizes) until it is bound again or unbound. */
#define P2L_BIND_ALIGNMENT 16
P2L_API p2l_status p2l_interpreter_bind_tensor(p2l_interpreter *interpreter, int subgraph, int tensor, void *data,
                                               size_t bytes);
/* New dims for an input of a subgraph; shapes are re-inferred at the next allocation. */
P2L_API p2l_status p2l_interpreter_resize_tensor(p2l_interpreter *interpreter, int subgraph, int tensor,
                                                 int rank, const int32_t *dims);
/* Runs a subgraph (allocating first if needed). */
P2L_API p2l_status p2l_interpreter_invoke_subgraph(p2l_interpreter *interpreter, int subgraph);

/* Asks the running invoke of this interpreter to stop; callable from any thread (an atomic store). The
 * invoke checks between ops and returns P2L_ERROR_CANCELLED; output values are then undefined, and the
 * interpreter stays usable (the next invoke runs in full). If no invoke is running, the next one is
 * cancelled before its first op: a request is consumed by the invoke it stops. The interpreter must
 * stay alive during the call (free it only after the cancelling thread is done with it). */
P2L_API void p2l_interpreter_cancel(p2l_interpreter *interpreter);

/* Profile of an interpreter created with P2L_INTERPRETER_PROFILE: one entry per op that has run
 * (ops computed at allocation or fused into another are not listed), in subgraph and op order, summed
 * over all invokes since creation. The table belongs to the interpreter and stays valid until the next
 * p2l_interpreter_profile call or p2l_interpreter_free. */
typedef struct p2l_profile_entry {
    size_t size;         /* sizeof(p2l_profile_entry) in the library that filled it: the distance between
                            entries. A caller built against an older header steps with it:
                            (const p2l_profile_entry *)((const char *)entries + i * entries->size) */
    int subgraph, node;  /* the op's subgraph and index in it */
    const char *op;      /* builtin op name, e.g. "CONV_2D" */
    long runs;           /* invokes that ran it */
    double seconds;      /* wall-clock seconds, summed over the runs */
    double min_seconds;  /* the fastest run */
} p2l_profile_entry;
P2L_API p2l_status p2l_interpreter_profile(p2l_interpreter *interpreter, const p2l_profile_entry **entries,
                                           int *count);

/* Conveniences for subgraph 0, inputs and outputs by position. */
P2L_API p2l_status p2l_interpreter_input_info(p2l_interpreter *interpreter, int i, p2l_tensor_info *info);
P2L_API p2l_status p2l_interpreter_output_info(p2l_interpreter *interpreter, int i, p2l_tensor_info *info);
P2L_API p2l_status p2l_interpreter_set_input(p2l_interpreter *interpreter, int i, const void *data, size_t bytes);
P2L_API p2l_status p2l_interpreter_get_output(p2l_interpreter *interpreter, int i, void *data, size_t bytes);
P2L_API p2l_status p2l_interpreter_resize_input(p2l_interpreter *interpreter, int i, int rank,
                                                const int32_t *dims);
P2L_API p2l_status p2l_interpreter_invoke(p2l_interpreter *interpreter);
P2L_API p2l_status p2l_interpreter_bind_input(p2l_interpreter *interpreter, int i, void *data, size_t bytes);
P2L_API p2l_status p2l_interpreter_bind_output(p2l_interpreter *interpreter, int i, void *data, size_t bytes);

/* Bytes of tensor memory the last allocation planned for a subgraph (the arena; constants and
 * prepare-time folded values not included). */
P2L_API size_t p2l_interpreter_arena_bytes(const p2l_interpreter *interpreter, int subgraph);

/* Module state: resource variables (a model's mutated buffers) keep their values from one invoke to
 * the next, shared by the interpreter's subgraphs. This restores the state of a new interpreter: the
 * next invoke starts from the initial values (the model's initializer runs again). */
P2L_API p2l_status p2l_interpreter_reset_state(p2l_interpreter *interpreter);

#ifdef P2L_HAVE_CONVERTER
/* Calibration for P2L_QUANTIZE_INT8 (docs/quantization.md, "Recipe int8"): the range [min, max] of
 * every float32 activation over the invocations of the float model. Convert the model without
 * quantization, run it in an interpreter created with P2L_INTERPRETER_PRESERVE_ALL_TENSORS on
 * representative inputs and record each invocation, then convert the same .pt2 again with
 * p2l_convert_options.calibration set: the converter writes the same tensor names both times, and the
 * ranges are keyed by subgraph name and tensor name. */
P2L_API p2l_status p2l_calibration_create(p2l_calibration **calibration);
P2L_API void p2l_calibration_free(p2l_calibration *calibration); /* NULL is fine */
/* Widens the ranges with the values every float32 non-constant tensor of `subgraph` holds after the
 * interpreter's last invoke. The interpreter must preserve all tensors (P2L_INTERPRETER_PRESERVE_ALL_TENSORS)
 * and have run that subgraph at least once; otherwise P2L_ERROR_INVALID_ARGUMENT. A NaN or infinity is
 * recorded (the range becomes NaN / infinite) and refused at conversion, naming the tensor. Needs a build
 * with the runtime (P2L_HAVE_RUNTIME; else P2L_ERROR_UNSUPPORTED). */
P2L_API p2l_status p2l_calibration_record(p2l_calibration *calibration, p2l_interpreter *interpreter, int subgraph);
/* How many invocations were recorded. */
P2L_API long p2l_calibration_invocations(const p2l_calibration *calibration);
/* The recorded range of tensor `tensor` of subgraph `subgraph` (names as in the float file); NaN when a
 * recorded value was NaN. P2L_ERROR_INVALID_ARGUMENT naming the tensor when no invocation recorded it. */
P2L_API p2l_status p2l_calibration_range(const p2l_calibration *calibration, const char *subgraph, const char *tensor,
                                         float *min, float *max);
#endif /* P2L_HAVE_CONVERTER */

/* Token generation for decoder language models (docs/generative.md): a model with a prefill signature
 * (tokens [1, prefill_len], input_pos [prefill_len] -> logits [1, vocab] of the last row) and a decode
 * signature (the same at one token), the KV cache held as the interpreter's state, as pt2lite.llm.convert
 * writes it. Greedy: the next token is the first id of the largest logit. A generator is one interpreter;
 * use it from one thread at a time. */
typedef struct p2l_generator p2l_generator;
typedef struct p2l_generator_options {
    size_t size;                   /* sizeof(p2l_generator_options), or 0 (see "option structs") */
    const char *prefill_signature; /* NULL: "prefill", or "prefill_<n>" for each n of the metadata's
                                      "prefill_lens" (docs/generative.md); a name: that signature alone */
    const char *decode_signature;  /* NULL: "decode" */
    int num_threads;               /* as p2l_interpreter_options.num_threads */
    int max_seq_len;               /* 0: the limit the file records (metadata "pt2lite_llm"; none checked for
                                      a file without it). Otherwise a limit at most the recorded one
                                      (P2L_ERROR_INVALID_ARGUMENT above it): positions past the cache
                                      write nowhere, so it may only be lowered */
} p2l_generator_options;
typedef struct p2l_generator_stats {
    long prefill_tokens, decode_tokens;     /* prompt tokens prefilled, decode calls, since the last prefill */
    double prefill_seconds, decode_seconds; /* wall-clock time of those calls */
} p2l_generator_stats;
/* options may be NULL. The model must outlive the generator. */
P2L_API p2l_status p2l_generator_create(p2l_model *model, const p2l_generator_options *options,
                                        p2l_generator **generator);
P2L_API void p2l_generator_free(p2l_generator *generator);
/* Starts a sequence: clears the cache and prefills `count` (>= 1) prompt ids in blocks of prefill_len (a
 * shorter last block reruns the prompt's last prefill_len ids; a prompt shorter than one block is padded
 * with rows at positions past it); with several prefill signatures, the blocks computing the fewest rows,
 * then making the fewest calls (docs/generative.md). P2L_ERROR_LIMIT when the prompt exceeds max_seq_len. */
P2L_API p2l_status p2l_generator_prefill(p2l_generator *generator, const int64_t *ids, size_t count);
/* The next token (greedy). Each call after the first decodes the previous token first; past max_seq_len
 * positions it fails with P2L_ERROR_LIMIT naming the limit. */
P2L_API p2l_status p2l_generator_next(p2l_generator *generator, int64_t *token);
/* The logits the next p2l_generator_next picks from (valid until the next call), for other samplers. */
P2L_API const float *p2l_generator_logits(const p2l_generator *generator, size_t *vocab);
P2L_API p2l_status p2l_generator_stats_get(const p2l_generator *generator, p2l_generator_stats *stats);
/* The cache positions a sequence may use (options.max_seq_len, else the file's; 0: unknown, unchecked)
 * and the prefill signature's block length (the largest, with several). */
P2L_API int p2l_generator_max_seq_len(const p2l_generator *generator);
P2L_API int p2l_generator_prefill_len(const p2l_generator *generator);

/* ------------------------------------------------------------ end runtime */

#ifdef __cplusplus
}
#endif
#endif
