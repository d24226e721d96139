/* The fast kernels: shared drivers over per-ISA micro-kernels.
 *
 *   src/kernels/         portable reference kernels, one file per op family (the correctness oracle)
 *   src/kernels/fast/    the fast kernels' drivers, in portable C: prepare (which nodes the fast path
 *                        covers, fusion offers, weight packing), im2col, broadcasting, task split;
 *                        and vec_rows.h, the element-wise rows written once over a vector mapping
 *   src/kernels/x86/     x86-64 micro-kernels: AVX2/FMA, AVX-512F (compiled with those flags per file)
 *   src/kernels/arm/     aarch64 micro-kernels: NEON (ASIMD, float32)
 *
 * The drivers use no intrinsics: the inner loops they need are the function pointers of one
 * p2l_fast_isa table, which registry.c picks once for the CPU (p2l_fast_isa_active). So each driver
 * exists once, and an ISA is only its loops. An ISA's micro-kernels are named
 * p2l_<dtype>_<what>__<isa> (p2l_f32_add_row__avx2). The simple element-wise rows are not written
 * per ISA: each ISA has a small vector-mapping header (x86/vec_avx2.h, x86/vec_avx512.h,
 * arm/vec_neon.h: p2l_vec and its load, add, max, fma...) and instantiates fast/vec_rows.h over it;
 * GEMM, softmax and pooling loops are hand-written per ISA. Every driver runs the reference
 * kernel's prepare first and falls back to the reference invoke for nodes it does not cover; its
 * arity and flags are the reference kernel's (registry.c combines them). */
#ifndef P2L_KERNELS_FAST_FAST_H
#define P2L_KERNELS_FAST_FAST_H

#include "kernels/kernels.h"

/* A fast kernel's own part: prepare and invoke. registry.c makes the p2l_kernel of an op from it
 * and the op's reference kernel, whose arity and flags it takes (they are the same op). */
typedef struct p2l_fast_driver {
    p2l_kernel_fn prepare;
    p2l_kernel_fn invoke;
} p2l_fast_driver;

/* The drivers, registered in registry.c for every ISA. */
#define P2L_FAST_DRIVERS(X) \
    X(conv_2d) X(depthwise_conv_2d) X(fully_connected) X(batch_matmul) X(binary) X(unary) X(reduce) X(pool) \
    X(softmax) X(pad) X(transpose)
#define P2L_DECLARE_FAST_DRIVER(name) extern const p2l_fast_driver p2l_fast_##name;
P2L_FAST_DRIVERS(P2L_DECLARE_FAST_DRIVER)
#undef P2L_DECLARE_FAST_DRIVER

/* The opening of every fast kernel's prepare: the reference kernel's prepare, then a zeroed state of
 * `size` bytes for the node, whose first member (a void *) keeps the reference kernel's state, so
 * that nodes the fast path does not cover run p2l_invoke_reference with it. */
p2l_status p2l_fast_prepare(p2l_node *node, const p2l_kernel *reference, size_t size, void **state);

/* ------------------------------------------------------------ data derived from constants
 * The key of an entry in the model's derived data (kernels.h, p2l_derived_store): the derivation
 * (P2L_DERIVED_*), the constant tensors' data (in the model's buffer: it names them for the model's
 * life) and every parameter the bytes depend on (shapes, strides, an ISA's vector width), so that
 * interpreters whose kernels derive differently (pinned to another ISA) get different entries.
 * Unused fields are zero; the struct has no padding (compared as bytes). */
/* Every kind of derived data, one list: two kernels must never share a kind. */
enum {
    P2L_DERIVED_GEMM_B = 1, P2L_DERIVED_DEPTHWISE = 2,                            /* fast/gemm.c, conv.c */
    P2L_DERIVED_I8_GEMM_B = 16, P2L_DERIVED_I8_DEPTHWISE = 17,                   /* fast/int8.c */
    P2L_DERIVED_I8_PAIRS_B = 18, P2L_DERIVED_I8_DEPTHWISE_PAIRS = 19,
    P2L_DERIVED_HYBRID_WEIGHT_SUMS = 48, P2L_DERIVED_HYBRID_INT4_SCALES = 49,     /* fast/hybrid.c */
    P2L_DERIVED_HYBRID_INT4_SUMS = 50,
    P2L_DERIVED_HYBRID_CONV = 56, P2L_DERIVED_HYBRID_DEPTHWISE = 57,             /* fast/hybrid_conv.c */
};
typedef struct p2l_derived_key {
    int64_t kind;
    const void *source, *bias;
    int64_t params[6];
} p2l_derived_key;
_Static_assert(sizeof(p2l_derived_key) == 7 * sizeof(int64_t) + 2 * sizeof(void *), "p2l_derived_key has padding");
/* *data: `bytes` bytes, 64-byte aligned, zeroed then filled by derive(data, ctx): the model's entry of
 * `key` (built by the first prepare that asks) when from_constants (every tensor the key names is a
 * constant of the model) and the node has the model's store, else the node's own, in its arena. */
p2l_status p2l_fast_derive(p2l_node *node, bool from_constants, const p2l_derived_key *key, size_t bytes,
                           p2l_derive_fn derive, const void *ctx, const void **data);
/* Weights (and bias, if any) are constants of the model: what they derive can be shared. */
static inline bool p2l_constant_weights(const p2l_tensor *weights, const p2l_tensor *bias) {
    return weights->is_constant && (!bias || bias->is_constant);
}

/* The job of a driver's tasks (p2l_parallel_for's ctx): the node and the driver's state. */
typedef struct p2l_fast_job {
    const p2l_node *node;
    const void *state;
} p2l_fast_job;

/* ------------------------------------------------------------ fused activation as a clamp */
typedef struct p2l_clamp {
    float lo, hi;
    bool on;      /* false: NONE, nothing to do */
    int epilogue; /* P2L_EPILOGUE_*: applied after the clamp (kernels that take a fusion offer) */
} p2l_clamp;
/* NONE, RELU, RELU_N1_TO_1, RELU6; false for TANH (not a clamp). */
bool p2l_clamp_of(int activation, p2l_clamp *clamp);

/* ------------------------------------------------------------ GEMM (gemm.c: packing and planning)
 *
 * C[m x n] = A[m x k] * B[k x n] + bias, then the clamp. A is row-major with any row stride (the
 * input of a 1x1 convolution as it is, or im2col rows); B (the weights) is packed once into panels
 * of 16 columns (the last one 8 wide when that is enough), each panel k rows of its width, zero
 * padded, so a micro-kernel reads it sequentially. Every ISA's GEMM reads this one layout. */
enum { P2L_GEMM_MR = 6, P2L_GEMM_NR = 16 };

typedef struct p2l_gemm_b {
    const float *data; /* k x padded_n, panel by panel (shared by interpreters: read-only) */
    const float *bias; /* padded_n (zeros where the node has no bias) */
    int k, n, padded_n, panels;
} p2l_gemm_b;

int p2l_gemm_padded_n(int n);
static inline int p2l_gemm_panels(int n) { return (n + P2L_GEMM_NR - 1) / P2L_GEMM_NR; }
/* Packs B where element (row kk, column j) is src[kk * k_stride + j * n_stride]; bias may be NULL.
 * data and bias must hold k * padded_n and padded_n floats. */
void p2l_gemm_pack_into(p2l_gemm_b *b, float *data, float *bias_out, const float *src, size_t k_stride,
                        size_t n_stride, int k, int n, const float *bias);
/* The same into 64-byte aligned memory of p2l_fast_derive: the model's, shared by its interpreters,
 * when from_constants (src and bias are constant tensors' data), else the node's arena. */
p2l_status p2l_gemm_pack(p2l_node *node, bool from_constants, p2l_gemm_b *b, const float *src, size_t k_stride,
                         size_t n_stride, int k, int n, const float *bias);

/* How a GEMM of m rows is cut into tasks for the threads: row blocks of at most block_rows rows
 * (a multiple of 6) times column chunks of panels. */
typedef struct p2l_gemm_split {
    size_t block_rows, row_blocks;
    int chunk_panels, chunks;
} p2l_gemm_split;
/* max_block_bytes bounds block_rows * k * 4 (the A block that should stay in cache). Aims at
 * P2L_GEMM_TASKS_PER_THREAD tasks per thread (p2l_gemm_plan_tasks: tasks_per_thread), cutting the
 * columns into chunks only where the row blocks are too few. */
enum { P2L_GEMM_TASKS_PER_THREAD = 8 };
/* Weights (B) above this size do not stay in cache between row blocks: planning then favours tall
 * row blocks, and column chunks over threads. */
enum { P2L_GEMM_LARGE_B_BYTES = 1024 * 1024 };
void p2l_gemm_plan(size_t m, int k, int panels, int threads, size_t max_block_bytes, p2l_gemm_split *split);
void p2l_gemm_plan_tasks(size_t m, int k, int panels, int threads, size_t max_block_bytes, int tasks_per_thread,
                         p2l_gemm_split *split);
/* The most rows of C a GEMM call over `panels` panels should cover: more, and the rows written for
 * the first panel have left the cache before the last one (split larger GEMMs into such blocks). */
size_t p2l_gemm_c_block_rows(int panels);
/* Task `task` of the split of m rows and `panels` panels: rows [row0, row0 + rows) of panels
 * [panel_begin, panel_end). */
typedef struct p2l_gemm_task {
    size_t row0, rows;
    int panel_begin, panel_end;
} p2l_gemm_task;
static inline p2l_gemm_task p2l_gemm_task_of(const p2l_gemm_split *sp, size_t m, int panels, size_t task) {
    const size_t row0 = task / (size_t)sp->chunks * sp->block_rows;
    const int panel_begin = (int)(task % (size_t)sp->chunks) * sp->chunk_panels;
    return (p2l_gemm_task){row0, m - row0 < sp->block_rows ? m - row0 : sp->block_rows, panel_begin,
                           panel_begin + sp->chunk_panels < panels ? panel_begin + sp->chunk_panels : panels};
}

/* ------------------------------------------------------------ the micro-kernels of one ISA */

/* Rows [0, m) of C for panels [panel_begin, panel_end). */
typedef void (*p2l_gemm_fn)(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                            int panel_begin, int panel_end, const p2l_clamp *clamp);

/* A GEMM made of one panel's tiles: rows x width of C (width 16, or 8 for the tail panel) from k
 * rows of the panel; nc < width: only the first nc columns are stored. p2l_gemm_run_tiles runs
 * tiles[width == 16][rows] down each panel, panels outer (one panel of B stays in cache while the
 * A block streams past it), 6 rows at a time then the rest. */
typedef void (*p2l_gemm_tile_fn)(size_t k, const float *a, size_t lda, const float *b, const float *bias, float *c,
                                 size_t ldc, int nc, const p2l_clamp *clamp);
void p2l_gemm_run_tiles(const p2l_gemm_tile_fn tiles[2][P2L_GEMM_MR + 1], const p2l_gemm_b *b, size_t m,
                        const float *a, size_t lda, float *c, size_t ldc, int panel_begin, int panel_end,
                        const p2l_clamp *clamp);
/* Defines the p2l_gemm_fn `name` from an ISA's always-inline tile body
 * TILE(MR, NR, k, a, lda, b, bias, c, ldc, nc, clamp): one instance per row count (1 to 6) and
 * panel width (8, 16), so MR and NR are constants in each, run by p2l_gemm_run_tiles. */
#define P2L_GEMM_TILE_(TILE, MR, NR)                                                                            \
    static void TILE##_##MR##x##NR(size_t k, const float *a, size_t lda, const float *b, const float *bias,    \
                                   float *c, size_t ldc, int nc, const p2l_clamp *clamp) {                     \
        TILE(MR, NR, k, a, lda, b, bias, c, ldc, nc, clamp);                                                   \
    }
#define P2L_DEFINE_GEMM(name, TILE)                                                                             \
    P2L_GEMM_TILE_(TILE, 1, 8) P2L_GEMM_TILE_(TILE, 2, 8) P2L_GEMM_TILE_(TILE, 3, 8)                            \
    P2L_GEMM_TILE_(TILE, 4, 8) P2L_GEMM_TILE_(TILE, 5, 8) P2L_GEMM_TILE_(TILE, 6, 8)                            \
    P2L_GEMM_TILE_(TILE, 1, 16) P2L_GEMM_TILE_(TILE, 2, 16) P2L_GEMM_TILE_(TILE, 3, 16)                         \
    P2L_GEMM_TILE_(TILE, 4, 16) P2L_GEMM_TILE_(TILE, 5, 16) P2L_GEMM_TILE_(TILE, 6, 16)                         \
    void name(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc, int panel_begin, \
              int panel_end, const p2l_clamp *clamp) {                                                          \
        static const p2l_gemm_tile_fn tiles[2][P2L_GEMM_MR + 1] = {                                             \
            {NULL, TILE##_1x8, TILE##_2x8, TILE##_3x8, TILE##_4x8, TILE##_5x8, TILE##_6x8},                     \
            {NULL, TILE##_1x16, TILE##_2x16, TILE##_3x16, TILE##_4x16, TILE##_5x16, TILE##_6x16},               \
        };                                                                                                      \
        p2l_gemm_run_tiles(tiles, b, m, a, lda, c, ldc, panel_begin, panel_end, clamp);                         \
    }

/* Channels [c_begin, c_end) of one output row (n, oy) of a depth-multiplier-1 depthwise
 * convolution: bias, then the taps in (ky, kx) order, then the clamp and the epilogue. */
typedef struct p2l_depthwise_row_args {
    const float *in;      /* image n of the (unpadded) input */
    float *out;           /* the output row */
    const float *weights; /* [tap][padded_c] */
    const float *bias;    /* [padded_c] */
    int H, W, KH, KW, OW, oy;
    int stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
    size_t C, padded_c;    /* padded_c: C rounded up to the ISA's depthwise_lanes */
    size_t c_begin, c_end; /* c_begin a multiple of depthwise_lanes */
    const p2l_clamp *clamp;
} p2l_depthwise_row_args;
typedef void (*p2l_depthwise_row_fn)(const p2l_depthwise_row_args *a);
enum { P2L_DEPTHWISE_MAX_TAPS = 64 }; /* taps listed on the stack by the rows */

/* The taps of output pixel ox that fall inside the input, in (ky, kx) order: the offset of each
 * one's input pixel from a->in and its row of weights. Returns how many. */
static inline int p2l_depthwise_taps(const p2l_depthwise_row_args *a, int ox, size_t *in_offset,
                                     const float **tap_weights) {
    int taps = 0;
    for (int ky = 0; ky < a->KH; ky++) {
        const int iy = a->oy * a->stride_h - a->pad_h + ky * a->dilation_h;
        if (iy < 0 || iy >= a->H) continue;
        for (int kx = 0; kx < a->KW; kx++) {
            const int ix = ox * a->stride_w - a->pad_w + kx * a->dilation_w;
            if (ix < 0 || ix >= a->W) continue;
            in_offset[taps] = ((size_t)iy * (size_t)a->W + (size_t)ix) * a->C;
            tap_weights[taps] = a->weights + (size_t)(ky * a->KW + kx) * a->padded_c;
            taps++;
        }
    }
    return taps;
}

/* ------------------------------------------------------------ element-wise rows: one key space
 * The row kinds of every ISA, listed once: the enums P2L_BINARY_* and P2L_UNARY_* (the slots of
 * p2l_fast_isa's row tables), the rows' names and their definitions (fast/vec_rows.h) all come from
 * these lists. X(KIND, name, isa): the row is p2l_f32_<name>_row__<isa>. */
#define P2L_F32_BINARY_ROWS(X, isa) \
    X(ADD, add, isa) X(SUB, sub, isa) X(MUL, mul, isa) X(DIV, div, isa) X(MAX, max, isa) X(MIN, min, isa)
/* GELU_TANH: GELU with approximate = true (the tanh form). */
#define P2L_F32_UNARY_ROWS(X, isa)                                                                      \
    X(RELU, relu, isa) X(RELU6, relu6, isa) X(RELU_N1_TO_1, relu_n1_to_1, isa) X(HARD_SWISH, hard_swish, isa) \
    X(LOGISTIC, logistic, isa) X(TANH, tanh, isa) X(GELU, gelu, isa) X(GELU_TANH, gelu_tanh, isa)
#define P2L_BINARY_KIND_(KIND, name, isa) P2L_BINARY_##KIND,
#define P2L_UNARY_KIND_(KIND, name, isa) P2L_UNARY_##KIND,
enum { P2L_F32_BINARY_ROWS(P2L_BINARY_KIND_, ) P2L_BINARY_KINDS };
enum { P2L_F32_UNARY_ROWS(P2L_UNARY_KIND_, ) P2L_UNARY_KINDS };
#undef P2L_BINARY_KIND_
#undef P2L_UNARY_KIND_

/* The names of one ISA's micro-kernels: p2l_<dtype>_<what>__<isa>. */
#define P2L_UKERNEL(dtype, what, isa) P2L_UKERNEL_(dtype, what, isa)
#define P2L_UKERNEL_(dtype, what, isa) p2l_##dtype##_##what##__##isa
#define P2L_ROW_NAME(name, isa) P2L_ROW_NAME_(name, isa)
#define P2L_ROW_NAME_(name, isa) p2l_f32_##name##_row__##isa

/* out[i] = op(a[i * sa], b[i * sb]) for i < n, then the clamp; sa, sb are 1 (advance) or 0 (repeat). */
typedef void (*p2l_binary_row_fn)(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n,
                                  const p2l_clamp *clamp);
typedef void (*p2l_unary_row_fn)(const float *in, float *out, size_t n);

/* Declarations of an ISA's rows, and its row tables in enum order (for the p2l_fast_isa tables). */
#define P2L_DECLARE_BINARY_ROW_(KIND, name, isa)                                                        \
    void P2L_ROW_NAME(name, isa)(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n, \
                                 const p2l_clamp *clamp);
#define P2L_DECLARE_UNARY_ROW_(KIND, name, isa) void P2L_ROW_NAME(name, isa)(const float *in, float *out, size_t n);
#define P2L_ROW_ENTRY_(KIND, name, isa) P2L_ROW_NAME(name, isa),
#define P2L_DECLARE_BINARY_ROWS(isa) P2L_F32_BINARY_ROWS(P2L_DECLARE_BINARY_ROW_, isa)
#define P2L_DECLARE_UNARY_ROWS(isa) P2L_F32_UNARY_ROWS(P2L_DECLARE_UNARY_ROW_, isa)
#define P2L_BINARY_ROWS_OF(isa) {P2L_F32_BINARY_ROWS(P2L_ROW_ENTRY_, isa)}
#define P2L_UNARY_ROWS_OF(isa) {P2L_F32_UNARY_ROWS(P2L_ROW_ENTRY_, isa)}

/* SOFTMAX of one row of n > 0 floats: exp((x - max) * beta) / sum. */
typedef void (*p2l_softmax_row_fn)(const float *in, float *out, size_t n, float beta);

/* One output row of MAX_POOL_2D or AVERAGE_POOL_2D; the window's rows [ys, ye) are clipped to the
 * input already, its columns are clipped per pixel; the average divides by the elements inside. */
typedef struct p2l_pool_row_args {
    const float *in; /* image n */
    float *out;      /* the output row */
    int W, OW, ys, ye;
    int stride_w, pad_w, filter_w;
    size_t C;
    bool average;
    const p2l_clamp *clamp;
} p2l_pool_row_args;
typedef void (*p2l_pool_row_fn)(const p2l_pool_row_args *a);
/* Output pixel ox's window columns clipped to the input, [*xs, *xe); returns how many elements of
 * the window lie inside the input (the average's divisor). */
static inline int p2l_pool_window(const p2l_pool_row_args *a, int ox, int *xs, int *xe) {
    const int x0 = ox * a->stride_w - a->pad_w;
    *xs = x0 < 0 ? 0 : x0;
    *xe = x0 + a->filter_w < a->W ? x0 + a->filter_w : a->W;
    return (a->ye - a->ys) * (*xe - *xs);
}

/* MEAN over the last axis: out[r] = mean of the `length` floats at in + r * length, r < rows. */
typedef void (*p2l_mean_rows_fn)(const float *in, float *out, size_t rows, size_t length);
/* MEAN over the pixels: channels [0, width) (width <= P2L_MEAN_BLOCK) of `pixels` pixels of C
 * channels each, each channel summed in pixel order, divided by the pixel count. */
typedef void (*p2l_channel_means_fn)(const float *in, size_t pixels, size_t C, size_t width, float *out);
enum { P2L_MEAN_BLOCK = 64 };

/* TRANSPOSE of 4-byte elements (fast/transpose.c): out[r * out_stride + c] = in[r + c * col_stride]
 * for r < rows, c < cols, both multiples of transpose_lanes (the input's rows, one per c, are
 * contiguous): blocks of transpose_lanes squared, transposed in registers. */
typedef void (*p2l_transpose_blocks_fn)(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride,
                                        size_t rows, size_t cols);
/* Rows [r0, r1) of a 3-column output whose columns are contiguous rows of the input, channel_stride
 * apart (an RGB image's NCHW -> NHWC): out[3 r + j] = in[j * channel_stride + r]. */
typedef void (*p2l_interleave_3_fn)(const uint32_t *in, size_t channel_stride, uint32_t *out, size_t r0, size_t r1);

/* ------------------------------------------------------------ int8 (fast/int8.c drivers)
 * int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED accumulate sum(w * x) in int32 and fold the
 * input zero point into the bias (bias - zero_point * sum(w), exact in int32), then requantize per
 * channel with the reference kernels' arithmetic (quant_math.h), so outputs equal theirs bit for
 * bit. The GEMM's B (weights [n][k], k contiguous: OHWI or FC rows) is packed at prepare as int16,
 * groups of P2L_I8_GEMM_NR channels, k padded to a multiple of P2L_I8_GEMM_KB with zeros: group g,
 * block kb is NR x KB int16, channel-major. */
enum { P2L_I8_GEMM_NR = 4, P2L_I8_GEMM_KB = 16 };
typedef struct p2l_i8_gemm_b {
    const int16_t *data;
    int k, kp, n, groups; /* kp: k rounded up to KB; groups: n rounded up to NR, / NR */
} p2l_i8_gemm_b;
/* acc[r * ldacc + j] = sum over kk < k of a[r * lda + kk] * B[j][kk], rows r < m, every column j of
 * B's groups (up to groups * NR: ldacc must hold them). */
typedef void (*p2l_i8_gemm_fn)(const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda, int32_t *acc,
                               size_t ldacc);
/* acc[c] += w[c] * (x[c] + input_offset) for c < channels: one tap of a depthwise convolution. */
typedef void (*p2l_i8_depthwise_tap_fn)(int32_t *acc, const int8_t *x, const int16_t *w, int32_t input_offset,
                                        size_t channels);
/* The output stage of those ops: per channel c, the reference's p2l_multiply_by_quantized_multiplier
 * (shift = left_shift - right_shift, multiplier > 0, as p2l_quantize_multiplier makes them), plus the
 * output zero point, clamped to the activation range. */
typedef struct p2l_i8_requant {
    const int32_t *multiplier, *left_shift, *right_shift; /* [channels]: left_shift or right_shift is 0 */
    int32_t output_offset, act_min, act_max;
} p2l_i8_requant;
/* out[i] = requantized(acc[i] + (bias ? bias[i] : 0)) with channel c0 + i's parameters, i < count. */
typedef void (*p2l_i8_requantize_fn)(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                                     size_t count, int8_t *out);
/* The same with quant_math.h's scalar arithmetic (fast/int8.c): ISAs without the slot, vector tails. */
void p2l_i8_requantize_scalar(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                              size_t count, int8_t *out);
/* The k-pair GEMM (ISAs whose int8 product is a 16-bit pair sum, AVX2's VPMADDWD): B packed at prepare
 * as int8 panels of P2L_I8_PANEL channels (the last one 8 wide when that is enough), k padded to even
 * with zeros; panel p starts at p * P2L_I8_PANEL * kp bytes and holds, per pair of k, its width's
 * channels in blocks of 8, each block 8 x (k, k + 1). A is int16 rows (kp values, the pad 0): each
 * pair of A is broadcast against a block of B, so sums land in output channels with no horizontal
 * reduction, and k needs no padding beyond even. */
enum { P2L_I8_PANEL = 16 };
typedef struct p2l_i8_pairs_b {
    const int8_t *data;
    int kp, n, panels; /* kp: k rounded up to even; panels: n / P2L_I8_PANEL rounded up */
} p2l_i8_pairs_b;
static inline int p2l_i8_panel_width(const p2l_i8_pairs_b *b, int panel) {
    return b->n - panel * P2L_I8_PANEL <= P2L_I8_PANEL / 2 ? P2L_I8_PANEL / 2 : P2L_I8_PANEL;
}
/* acc[r * ldacc + j] = sum over kk < kp of a[r * lda + kk] * B[j][kk], rows r < m, the columns j of
 * panels [panel_begin, panel_end) (all of each panel's width). */
typedef void (*p2l_i8_gemm_pairs_fn)(const p2l_i8_pairs_b *b, size_t m, const int16_t *a, size_t lda, int32_t *acc,
                                     size_t ldacc, int panel_begin, int panel_end);
/* One output pixel of a depthwise convolution (depth multiplier 1) over its taps in pairs:
 * acc[c] = bias[c] + sum over t < 2 * pairs of w_t[c] * (x_t[c] + input_offset), c < C, where x_t is
 * the tap's input pixel (a tap outside the image points at C bytes of the input zero point: it adds
 * nothing) and the weights are int16 [pair][C][2] (an odd tap count's last pair has zero second
 * weights; its second pointer may be any tap's). */
typedef void (*p2l_i8_depthwise_pairs_fn)(const int8_t *const *taps, int pairs, const int16_t *weights,
                                          const int32_t *bias, int32_t input_offset, size_t C, int32_t *acc);
/* int8 element-wise rows (fast/int8_elementwise.c drivers), equal bit for bit to the reference
 * kernels: ADD / SUB / MUL as quant_math.h's p2l_quant_binary_row (steps sa, sb each 0 or 1);
 * QUANTIZE float32 -> int8 per tensor, clamp(round half away from zero(in / scale) + zero_point), NaN
 * as 0; DEQUANTIZE int8 -> float32 per tensor, scale * (in - zero_point). */
struct p2l_quant_binary;
typedef void (*p2l_i8_binary_row_fn)(p2l_op op, const struct p2l_quant_binary *q, const int8_t *a, size_t sa,
                                     const int8_t *b, size_t sb, int8_t *out, size_t n);
typedef void (*p2l_i8_quantize_row_fn)(const float *in, float scale, int32_t zero_point, int8_t *out, size_t n);
typedef void (*p2l_i8_dequantize_row_fn)(const int8_t *in, float scale, int32_t zero_point, float *out, size_t n);
/* int8 lookup (fast/int8_lut.c): out[i] = table[(uint8_t)in[i]], i < n (in and out may be the same). */
typedef void (*p2l_i8_lookup_row_fn)(const int8_t *table, const int8_t *in, int8_t *out, size_t n);

/* The fast int8 ADD / SUB / MUL, QUANTIZE and DEQUANTIZE kernels (fast/int8_elementwise.c), NULL for
 * other ops; p2l_int8_fast_kernel answers with them. */
const p2l_kernel *p2l_int8_elementwise_fast_kernel(p2l_op op);
/* The fast int8 unary kernels (fast/int8_lut.c: LOGISTIC, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, a
 * table of the reference kernel's 256 outputs), NULL for other ops; p2l_int8_fast_kernel answers first
 * with them. */
const p2l_kernel *p2l_int8_lut_fast_kernel(p2l_op op);
/* PAD / PADV2 of int8 tensors (fast/pad.c: one repeated byte, the zero point or the pad value). */
extern const p2l_kernel p2l_int8_fast_pad;

/* ------------------------------------------------------------ hybrid FULLY_CONNECTED (fast/hybrid.c)
 * Float input quantized per row at run time (by the reference kernels' code), constant weights in
 * their file layout; 4 output channels at a time, rows [0, rows) against the same 4 weight rows
 * (weight row j at w + j * ldw; only the first nu <= 4 are real: the others repeat row nu - 1 and
 * their results are not stored). Sums are exact integers, as the reference kernels'. */
enum { P2L_HYBRID_UNITS = 4 };
/* int8 weights: dots[r * 4 + j] = sum over kk < k of x[r * k + kk] * w_j[kk] (int32, wrapping),
 * x the quantized rows widened to int16. */
typedef void (*p2l_hybrid_i8_dot_fn)(const int16_t *x, size_t rows, size_t k, const int8_t *w, size_t ldw, int nu,
                                     int32_t *dots);
/* int4 weights (two per byte, element 0 in the low nibble), blocks of `block` values (a multiple of
 * 32) with one float scale each: sums[r * 4 + j] = 0 + dot_0 * s_0 + dot_1 * s_1 + ... in block order
 * (float products and sums, no fused multiply-add), dot_b the exact int32 sum of the block's
 * x * w, s_b = scales[b * 4 + j]. x: each row's values in chunks of 32 (the 16 even-indexed values,
 * then the 16 odd ones); xsum[r * blocks + b] the sum of row r's values in block b. */
typedef void (*p2l_hybrid_i4_dot_fn)(const int16_t *x, const int32_t *xsum, size_t rows, size_t k, size_t block,
                                     const uint8_t *w, size_t ldw, int nu, const float *scales, float *sums);
/* One input row (decode: memory-bound, so few instructions per weight byte), output channels
 * [0, units) in groups of 4 (weight row u at w + u * ldw). int8: dots[u] = sum over kk < k of
 * x[kk] * w_u[kk] (int32, wrapping), x the quantized row and x_abs its magnitudes; every weight must
 * be in [-127, 127] (u8 x s8 pair sums stay below int16's limit). */
typedef void (*p2l_hybrid_i8_gemv_fn)(const int8_t *x, const uint8_t *x_abs, size_t k, const int8_t *w, size_t ldw,
                                      size_t units, int32_t *dots);
/* int4: block 32 with an even number of blocks, or a multiple of 64 up to 4032. x: the row's
 * quantized values q (int8, before the zero point comes off) in chunks of 64 (the 32 even-indexed
 * values, then the 32 odd ones); x_terms[b] = 8 x the sum of q over block b; w_sums[(u / 4) * blocks
 * * 4 + b * 4 + u % 4] = the sum of channel u's weights in block b. sums[u] as p2l_hybrid_i4_dot_fn's,
 * dot_b the exact sum of (q - zero_point) * w over the block. */
typedef void (*p2l_hybrid_i4_gemv_fn)(const int8_t *x, const int32_t *x_terms, int32_t zero_point, size_t k,
                                      size_t block, const uint8_t *w, size_t ldw, size_t units, const int16_t *w_sums,
                                      const float *scales, float *sums);

/* Hybrid DEPTHWISE_CONV_2D (fast/hybrid_conv.c), one output pixel of a depth-multiplier-1 convolution
 * over an image quantized at run time: per channel c < C, sum over t < tap_count of
 * (taps[t][c] - zero_point) * weights[t * ldw + c] (exact int32; taps outside the image point at a
 * row of zero points), then out[c] = (float)sum * scale[c] (+ bias[c]), clamped when clamp->on. */
typedef void (*p2l_hybrid_depthwise_pixel_fn)(const int8_t *const *taps, int tap_count, const int16_t *weights,
                                              size_t ldw, size_t C, int32_t zero_point, const float *scale,
                                              const float *bias, const p2l_clamp *clamp, float *out);

/* The hybrid convolutions' run-time quantization of an image, equal to the reference kernel's
 * (hybrid.c): its range [lo, hi] from lo = hi = 0 (NaNs skipped), and
 * q[i] = clamp(round half away from zero((float)zero_point + x[i] * inv), -128, 127), NaN as 0. */
typedef void (*p2l_hybrid_range_fn)(const float *x, size_t n, float *lo, float *hi);
typedef void (*p2l_hybrid_quantize_fn)(const float *x, size_t n, float inv, int32_t zero_point, int8_t *q);
/* Hybrid CONV_2D's GEMM: c[r * ldc + j] = sum over kk of a[r * lda + kk] * B[j][kk] (exact int32),
 * rows r < m, channels j of panels [panel_begin, panel_end) of P2L_HYBRID_GEMM_NR. a: int16 rows of
 * 2 * pairs values (k zero padded to even). b: per panel, per pair p, the panel's channels' values
 * kk = 2p, 2p + 1 side by side (NR x 2 int16; channels past n and kk past k zero), 32-byte aligned. */
enum { P2L_HYBRID_GEMM_NR = 16 };
typedef void (*p2l_hybrid_gemm_fn)(const int16_t *a, size_t lda, size_t m, const int16_t *b, size_t pairs,
                                   int panel_begin, int panel_end, int32_t *c, size_t ldc);

/* One ISA's micro-kernels (x86/isa.c, arm/isa.c), by slot. */
typedef struct p2l_fast_isa {
    const char *name;
    p2l_gemm_fn gemm;
    p2l_depthwise_row_fn depthwise_row;
    int depthwise_lanes; /* depthwise weights are padded to a multiple of this */
    p2l_binary_row_fn binary_rows[P2L_BINARY_KINDS];
    p2l_unary_row_fn unary_rows[P2L_UNARY_KINDS];
    p2l_softmax_row_fn softmax_row;
    p2l_pool_row_fn pool_row;
    p2l_mean_rows_fn mean_rows;
    p2l_channel_means_fn channel_means;
    p2l_transpose_blocks_fn transpose_blocks;
    int transpose_lanes;                /* the blocks' size; it divides P2L_TRANSPOSE_TILE */
    p2l_interleave_3_fn interleave_3;   /* NULL: the driver's scalar loop */
    p2l_i8_gemm_fn i8_gemm;                   /* NULL: int8 nodes run the reference kernels */
    p2l_i8_depthwise_tap_fn i8_depthwise_tap; /* NULL: the same */
    p2l_i8_requantize_fn i8_requantize;       /* NULL: the drivers' scalar loop */
    p2l_hybrid_i8_dot_fn hybrid_i8_dot;       /* NULL: hybrid nodes run the reference kernels */
    p2l_hybrid_i4_dot_fn hybrid_i4_dot;       /* NULL: the same */
    p2l_i8_binary_row_fn i8_binary_row;       /* NULL: int8 ADD / SUB / MUL run the reference kernel */
    p2l_i8_quantize_row_fn i8_quantize_row;   /* NULL: QUANTIZE runs the reference kernel */
    p2l_i8_dequantize_row_fn i8_dequantize_row; /* NULL: DEQUANTIZE runs the reference kernel */
    p2l_hybrid_i8_gemv_fn hybrid_i8_gemv;     /* NULL: one-row hybrid nodes run hybrid_i8_dot */
    p2l_hybrid_i4_gemv_fn hybrid_i4_gemv;     /* NULL: one-row int4 nodes run hybrid_i4_dot */
    p2l_i8_gemm_pairs_fn i8_gemm_pairs;       /* NULL: i8_gemm's layout (k blocks of int16) */
    p2l_i8_depthwise_pairs_fn i8_depthwise_pairs; /* NULL: i8_depthwise_tap */
    p2l_i8_lookup_row_fn i8_lookup_row;       /* NULL: the int8 unary kernels' scalar loop */
    p2l_hybrid_depthwise_pixel_fn hybrid_depthwise_pixel; /* NULL: hybrid depthwise runs the reference kernel */
    p2l_hybrid_range_fn hybrid_range;       /* NULL: hybrid convolutions run the reference kernel */
    p2l_hybrid_quantize_fn hybrid_quantize; /* NULL: the same */
    p2l_hybrid_gemm_fn hybrid_gemm;         /* NULL: the same (hybrid CONV_2D) */
} p2l_fast_isa;
enum { P2L_TRANSPOSE_TILE = 32 };

/* Declarations of one ISA's micro-kernels, p2l_<dtype>_<what>__<isa>, one per slot of p2l_fast_isa
 * (a table may take some slots from another ISA: those are declared and never defined). */
#define P2L_DECLARE_ISA_KERNELS(isa)                                                                        \
    P2L_DECLARE_BINARY_ROWS(isa)                                                                            \
    P2L_DECLARE_UNARY_ROWS(isa)                                                                             \
    void P2L_UKERNEL(f32, gemm, isa)(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c,  \
                                     size_t ldc, int panel_begin, int panel_end, const p2l_clamp *clamp);   \
    void P2L_UKERNEL(f32, depthwise_row, isa)(const p2l_depthwise_row_args *a);                             \
    void P2L_UKERNEL(f32, softmax_row, isa)(const float *in, float *out, size_t n, float beta);             \
    void P2L_UKERNEL(f32, pool_row, isa)(const p2l_pool_row_args *a);                                       \
    void P2L_UKERNEL(f32, mean_rows, isa)(const float *in, float *out, size_t rows, size_t length);         \
    void P2L_UKERNEL(f32, channel_means, isa)(const float *in, size_t pixels, size_t C, size_t width,       \
                                              float *out);                                                  \
    void P2L_UKERNEL(u32, transpose_blocks, isa)(const uint32_t *in, int64_t col_stride, uint32_t *out,     \
                                                 size_t out_stride, size_t rows, size_t cols);              \
    void P2L_UKERNEL(u32, interleave_3, isa)(const uint32_t *in, size_t channel_stride, uint32_t *out,      \
                                             size_t r0, size_t r1);

/* The table registry.c chose for this CPU, or NULL where the fast kernels are off; or the one that
 * p2l_fast_isa_select selected. */
const p2l_fast_isa *p2l_fast_isa_active(void);
/* For tests, so that every table the CPU can run is compared with the reference kernels (an AVX-512
 * CPU would otherwise only ever run the AVX-512 table): the tables this build has and this CPU
 * supports, best last, whatever the environment says. Stores up to max in tables; returns how many. */
int p2l_fast_isa_supported(const p2l_fast_isa **tables, int max);
/* selected: from now on p2l_fast_isa_active() returns isa (NULL: reference kernels) on this thread,
 * for kernels it prepares after the call; false: back to the CPU's table. The same per-thread
 * override an interpreter's pinned kernel selection uses while it prepares. */
void p2l_fast_isa_select(const p2l_fast_isa *isa, bool selected);

#endif
