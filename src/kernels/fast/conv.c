/* CONV_2D and DEPTHWISE_CONV_2D, NHWC float32: the drivers (the micro-kernels are the ISA's GEMM
 * and depthwise row, fast.h).
 *
 * CONV_2D is a GEMM: rows are output pixels, columns output channels, k runs over (ky, kx, input
 * channel), the filter's OHWI order, so the weights pack straight into GEMM panels at prepare. A 1x1
 * convolution with stride 1 and no padding uses the input as A in place; any other one builds the
 * im2col rows of one block of output pixels at a time in the thread's scratch (a block small enough
 * to stay in L2, or in L1 when k is short), so memory does not grow with the image. A grouped
 * convolution is one such GEMM per group g: k over the window's (ky, kx) and the group's input
 * channels [g * Cg, (g + 1) * Cg), columns its output channels [g * OCg, (g + 1) * OCg), each group's
 * filter rows packed on their own; A is the input in place at column g * Cg (1x1) or the group's
 * im2col rows, C the output at column g * OCg. The tasks cut the rows into blocks and the groups'
 * panels, listed group after group, into chunks, as p2l_gemm_plan cuts one GEMM's panels (large
 * images: one task per row block, all groups). A task builds the im2col rows of all its groups in
 * one pass over the input (one matrix per group; each input pixel's channels are scattered to the
 * groups, Cg floats each), then runs the groups' GEMMs. With 4 or 8 channels per group most of a
 * panel's lanes are padding; packing several groups into one panel (block-diagonal B) would not
 * help, as the zeros between the groups cost the same multiply-adds as the padding.
 *
 * DEPTHWISE_CONV_2D (depth multiplier 1) runs directly on NHWC, one output row (or a chunk of its
 * channels) per call of the ISA's row function. Weights are padded at prepare to a multiple of the
 * ISA's vector width in channels. Work is split over output rows, and for small images (7x7,
 * 14x14) over chunks of channels too. Other cases (depth multipliers, TANH, weights computed at run
 * time) use the reference kernels.
 *
 * Both fast paths take the runtime's fusion offers (kernels.h, p2l_fusion): a zero PAD in front is
 * read as more implicit padding of the unpadded input, and SiLU / HARD_SWISH after is applied to
 * the accumulators before the one store (p2l_clamp.epilogue), written to the absorbed op's output. */
#include <string.h>

#include "kernels/fast/fast.h"

enum {
    DIRECT_BLOCK_BYTES = 512 * 1024,  /* A block read in place: half of a typical L2 */
    IM2COL_BLOCK_BYTES = 256 * 1024,  /* im2col block per thread (also its scratch) */
    /* With a short k (few input channels) a block of many rows fits in L1, where im2col's stores
     * and the GEMM's loads are cheaper than in L2. */
    IM2COL_L1_BYTES = 32 * 1024, IM2COL_L1_MIN_ROWS = 96,
    MAX_KERNEL_ROWS = 64,             /* convolution fast path: im2col's input row per ky on the stack */
    IM2COL_SLACK = 16,                /* floats after the im2col block (copy_floats) */
    IM2COL_TASKS_PER_THREAD = 4,      /* p2l_gemm_plan_tasks for im2col convolutions */
    /* Every row block streams all of B past its rows. Where B does not stay in cache (a 3x3 over
     * hundreds of channels; DeepLab's dilated ASPP has k = 8640, 8.8 MB of weights), blocks of
     * at least this many rows, however long k is, make each fetch of B serve that many rows. */
    LARGE_B_MIN_ROWS = 64, /* where B > P2L_GEMM_LARGE_B_BYTES */
};

typedef struct conv_state {
    void *reference_state; /* p2l_conv_params of the reference kernel */
    p2l_gemm_fn gemm;      /* the ISA's */
    p2l_conv_params p;     /* the same, with a fused PAD's padding added */
    const p2l_tensor *x;   /* input 0, or the fused PAD's input */
    p2l_tensor *y;         /* output 0, or the fused epilogue's output */
    bool fast, direct;
    p2l_clamp clamp;
    p2l_gemm_b *b;        /* [groups]: each group's filter rows (k = KH * KW * Cg, n = OCg) */
    const float *zeros;   /* C floats (groups > 1): im2col's input pixel outside the image */
    int groups, units;    /* units: the groups' panels, group after group (groups * b->panels) */
    p2l_gemm_split split; /* over rows and units */
    size_t m;
} conv_state;

/* Takes the runtime's fusion offers (the fast paths of both kernels implement them). */
static void take_fusions(p2l_node *node, p2l_conv_params *p, const p2l_tensor **x, p2l_tensor **y, p2l_clamp *clamp) {
    p2l_fusion *f = &node->fusion;
    *x = node->inputs[0];
    *y = node->outputs[0];
    if (f->unpadded && f->unpadded->dtype == P2L_FLOAT32 && f->unpadded->rank == 4 && f->pad_top >= 0 &&
        f->pad_left >= 0) {
        *x = f->unpadded;
        p->pad_h += f->pad_top;
        p->pad_w += f->pad_left;
        f->unpadded_taken = true;
    }
    if ((f->epilogue == P2L_EPILOGUE_SILU || f->epilogue == P2L_EPILOGUE_HARD_SWISH) && f->epilogue_output &&
        f->epilogue_output->dtype == P2L_FLOAT32) { /* same shape: the runtime checks it after prepare */
        *y = f->epilogue_output;
        clamp->epilogue = f->epilogue;
        f->epilogue_taken = true;
    }
}

static p2l_status conv_prepare(p2l_node *node) {
    conv_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa) return P2L_OK;
    st->gemm = isa->gemm;
    st->p = *(const p2l_conv_params *)st->reference_state;
    const p2l_conv_params *p = &st->p;
    const p2l_tensor *w = node->inputs[1], *y = node->outputs[0];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    if (p->groups < 1 || !w->known || (bias && !bias->known) || !p2l_clamp_of(p->activation, &st->clamp))
        return P2L_OK;
    /* The reference prepare checked that the groups divide the input and output channels. */
    const int kh = w->dims[1], kw = w->dims[2], cg = w->dims[3], groups = p->groups, ocg = w->dims[0] / groups;
    const int64_t k = (int64_t)kh * kw * cg;
    if (k <= 0 || k > INT32_MAX / 16 || ocg <= 0 || kh > MAX_KERNEL_ROWS ||
        (int64_t)groups * p2l_gemm_panels(ocg) > INT32_MAX / 2)
        return P2L_OK;
    st->b = p2l_arena_alloc(node->arena, (size_t)groups * sizeof *st->b);
    if (!st->b) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const float *wd = w->data, *bd = bias ? bias->data : NULL;
    const bool from_constants = p2l_constant_weights(w, bias);
    for (int g = 0; g < groups; g++) {
        const size_t first = (size_t)g * (size_t)ocg; /* the group's first output channel */
        P2L_TRY(p2l_gemm_pack(node, from_constants, &st->b[g], wd + first * (size_t)k, 1, (size_t)k, (int)k, ocg,
                              bd ? bd + first : NULL));
    }
    st->groups = groups;
    st->units = groups * st->b[0].panels;
    if (groups > 1 && !(st->zeros = p2l_arena_alloc(node->arena, (size_t)groups * (size_t)cg * sizeof(float))))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    take_fusions(node, &st->p, &st->x, &st->y, &st->clamp);
    const p2l_tensor *x = st->x;
    st->direct = kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0 &&
                 x->dims[1] == y->dims[1] && x->dims[2] == y->dims[2];
    st->m = (size_t)y->dims[0] * (size_t)y->dims[1] * (size_t)y->dims[2];
    /* A task's block holds the rows of all its groups (all of them, unless rows are too few):
     * blocked as the rows of a convolution without groups, k * groups floats each. */
    const bool short_k = (size_t)k * (size_t)groups * sizeof(float) * IM2COL_L1_MIN_ROWS <= IM2COL_L1_BYTES;
    /* Every task builds the im2col rows of its row block: fewer, larger tasks, so that a block is
     * rarely cut into column chunks that would build the same rows again (28x28 and 14x14 layers of
     * ResNet at 2 threads). */
    size_t block_bytes = st->direct ? DIRECT_BLOCK_BYTES : short_k ? IM2COL_L1_BYTES : IM2COL_BLOCK_BYTES;
    const size_t row_bytes = (size_t)k * (size_t)groups * sizeof(float);
    if (!st->direct && row_bytes / (size_t)groups * (size_t)ocg > P2L_GEMM_LARGE_B_BYTES &&
        block_bytes < LARGE_B_MIN_ROWS * row_bytes)
        block_bytes = LARGE_B_MIN_ROWS * row_bytes;
    p2l_gemm_plan_tasks(st->m, (int)k, st->units, p2l_node_threads(node), block_bytes / (size_t)groups,
                        st->direct ? P2L_GEMM_TASKS_PER_THREAD : IM2COL_TASKS_PER_THREAD, &st->split);
    if (!st->direct)
        node->scratch_bytes = (st->split.block_rows * (size_t)k * (size_t)groups + IM2COL_SLACK) * sizeof(float);
    st->fast = true;
    return P2L_OK;
}

/* memcpy / memset for the short window rows of few-channel convolutions (the first layer's 3x3
 * over 3 channels copies 9 floats at a time), where the call costs more than the copy. Rows of up
 * to 16 floats are copied as 16 whole floats, a fixed size that the compiler turns into a few
 * vector moves on every ISA: im2col writes its buffer in increasing order, so the excess is
 * overwritten by the next row, and the buffer has IM2COL_SLACK floats after its end for the last
 * one. Only a row within 16 floats of the input's end is copied at its own length. */
static inline void copy_floats(float *dst, const float *src, size_t n, const float *src_end) {
    if (n > 16 || src_end - src < 16) memcpy(dst, src, n * sizeof(float));
    else memcpy(dst, src, 16 * sizeof(float));
}

static inline void zero_floats(float *dst, size_t n) {
    if (n > 16) memset(dst, 0, n * sizeof(float));
    else memset(dst, 0, 16 * sizeof(float));
}

/* Grouped im2col: the channels of one input pixel go to `count` groups, Cg floats to each, the
 * group at dst + g * stride. The usual group widths have a constant Cg here, which the compiler
 * copies with a fixed number of vector moves instead of a call per group. */
#define SCATTER_(CG) for (size_t g = 0; g < count; g++) memcpy(dst + g * stride, src + g * (CG), (CG) * sizeof(float))
static void scatter_pixel(float *dst, size_t stride, const float *src, size_t Cg, size_t count) {
    switch (Cg) {
    case 4: SCATTER_(4); break;
    case 8: SCATTER_(8); break;
    case 16: SCATTER_(16); break;
    default: SCATTER_(Cg); break;
    }
}
#undef SCATTER_

/* The im2col rows of output pixels [row0, row0 + rows): each row is the (ky, kx, c) window of one
 * output pixel, zeros where the window leaves the input. The pixel's (n, oy, ox) is stepped, not
 * divided out of its index for every row, and the input row of each ky is found once per output
 * row. With groups, the rows of groups [g0, g0 + count) (c over the group's Cg channels), one
 * matrix of rows x K per group, `stride` floats apart. */
static void im2col(const p2l_node *node, const conv_state *st, size_t g0, size_t count, size_t row0, size_t rows,
                   float *a, size_t stride) {
    const p2l_conv_params *p = &st->p;
    const p2l_tensor *x = st->x, *w = node->inputs[1], *y = node->outputs[0];
    const float *in = x->data, *in_end = in + x->count;
    const int H = x->dims[1], W = x->dims[2], C = x->dims[3], Cg = w->dims[3];
    const int KH = w->dims[1], KW = w->dims[2], OH = y->dims[1], OW = y->dims[2];
    const size_t window_row = (size_t)KW * (size_t)Cg, c0 = g0 * (size_t)Cg;
    int ox = (int)(row0 % (size_t)OW), oy = (int)(row0 / (size_t)OW % (size_t)OH);
    size_t n = row0 / ((size_t)OW * (size_t)OH);
    const float *src[MAX_KERNEL_ROWS]; /* input row of each ky for the current output row, NULL outside */
    bool new_row = true;
    for (size_t r = 0; r < rows; r++) {
        if (new_row) {
            for (int ky = 0; ky < KH; ky++) {
                const int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                src[ky] = iy < 0 || iy >= H ? NULL : in + (((size_t)n * (size_t)H + (size_t)iy) * (size_t)W) * (size_t)C;
            }
            new_row = false;
        }
        const int x0 = ox * p->stride_w - p->pad_w;
        const bool row_inside = x0 >= 0 && x0 + (KW - 1) * p->dilation_w < W && p->dilation_w == 1;
        for (int ky = 0; ky < KH; ky++, a += window_row) {
            if (st->groups > 1) { /* pixels outside the input read a row of zeros */
                for (int kx = 0; kx < KW; kx++) {
                    const int ix = x0 + kx * p->dilation_w;
                    const bool inside = src[ky] && ix >= 0 && ix < W;
                    scatter_pixel(a + (size_t)kx * (size_t)Cg, stride,
                                  inside ? src[ky] + (size_t)ix * (size_t)C + c0 : st->zeros, (size_t)Cg, count);
                }
            } else if (!src[ky]) {
                zero_floats(a, window_row);
            } else if (row_inside) { /* the whole window row is contiguous in NHWC */
                copy_floats(a, src[ky] + (size_t)x0 * (size_t)C, window_row, in_end);
            } else {
                for (int kx = 0; kx < KW; kx++) {
                    const int ix = x0 + kx * p->dilation_w;
                    float *dst = a + (size_t)kx * (size_t)C;
                    if (ix < 0 || ix >= W) zero_floats(dst, (size_t)C);
                    else copy_floats(dst, src[ky] + (size_t)ix * (size_t)C, (size_t)C, in_end);
                }
            }
        }
        if (++ox == OW) {
            ox = 0, new_row = true;
            if (++oy == OH) oy = 0, n++;
        }
    }
}

static void conv_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const conv_state *st = job->state;
    const p2l_node *node = job->node;
    const p2l_gemm_task t = p2l_gemm_task_of(&st->split, st->m, st->units, task);
    const int panels = st->b[0].panels; /* per group */
    const size_t K = (size_t)st->b[0].k, Cg = (size_t)node->inputs[1]->dims[3], OCg = (size_t)st->b[0].n;
    const size_t C = Cg * (size_t)st->groups, OC = OCg * (size_t)st->groups;
    float *out = (float *)st->y->data + t.row0 * OC;
    /* The groups [g0, g_end) whose panels the task's units [panel_begin, panel_end) cover. */
    const int g0 = t.panel_begin / panels, g_end = (t.panel_end + panels - 1) / panels;
    const size_t stride = t.rows * K; /* between the groups' im2col matrices */
    float *scratch = st->direct ? NULL : p2l_node_scratch(node, thread);
    if (scratch) im2col(node, st, (size_t)g0, (size_t)(g_end - g0), t.row0, t.rows, scratch, stride);
    for (int g = g0; g < g_end; g++) {
        const int begin = t.panel_begin > g * panels ? t.panel_begin - g * panels : 0;
        const int end = t.panel_end < (g + 1) * panels ? t.panel_end - g * panels : panels;
        if (scratch)
            st->gemm(&st->b[g], t.rows, scratch + (size_t)(g - g0) * stride, K, out + (size_t)g * OCg, OC, begin, end,
                     &st->clamp);
        else
            st->gemm(&st->b[g], t.rows, (const float *)st->x->data + t.row0 * C + (size_t)g * Cg, C,
                     out + (size_t)g * OCg, OC, begin, end, &st->clamp);
    }
}

static p2l_status conv_invoke(p2l_node *node) {
    conv_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    p2l_fast_job job = {node, st};
    p2l_parallel_for(node->exec ? node->exec->pool : NULL, st->split.row_blocks * (size_t)st->split.chunks, conv_task,
                     &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_conv_2d = {conv_prepare, conv_invoke};

/* ------------------------------------------------------------ depthwise */

typedef struct depthwise_state {
    void *reference_state;
    p2l_conv_params p;   /* with a fused PAD's padding added */
    const p2l_tensor *x; /* input 0, or the fused PAD's input */
    p2l_tensor *y;       /* output 0, or the fused epilogue's output */
    bool fast;
    p2l_depthwise_row_fn row; /* the ISA's */
    p2l_clamp clamp;
    const float *weights; /* [tap][padded channels] (shared by interpreters: read-only) */
    const float *bias;    /* [padded channels] */
    size_t padded_c;
    size_t chunk_c, chunks; /* tasks: output rows x chunks of chunk_c channels */
    double work;            /* multiply-adds per invoke */
} depthwise_state;

/* The filter [taps][C] and bias, each tap's row padded with zeros to padded_c channels, then the
 * bias as one more such row. */
typedef struct depthwise_pack_args {
    const float *weights, *bias;
    size_t taps, C, padded_c;
} depthwise_pack_args;

static p2l_status derive_depthwise(void *data, const void *ctx) {
    const depthwise_pack_args *a = ctx;
    float *out = data; /* zeroed */
    for (size_t t = 0; t < a->taps; t++) memcpy(out + t * a->padded_c, a->weights + t * a->C, a->C * sizeof(float));
    if (a->bias) memcpy(out + a->taps * a->padded_c, a->bias, a->C * sizeof(float));
    return P2L_OK;
}

static p2l_status depthwise_prepare(p2l_node *node) {
    depthwise_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    st->p = *(const p2l_conv_params *)st->reference_state;
    const p2l_conv_params *p = &st->p;
    const p2l_tensor *w = node->inputs[1];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || p->depth_multiplier != 1 || !w->known || (bias && !bias->known) ||
        !p2l_clamp_of(p->activation, &st->clamp))
        return P2L_OK;
    const size_t taps = (size_t)w->dims[1] * (size_t)w->dims[2], C = (size_t)w->dims[3];
    if (taps == 0 || taps > P2L_DEPTHWISE_MAX_TAPS || C == 0) return P2L_OK;
    const size_t vector = (size_t)isa->depthwise_lanes;
    st->row = isa->depthwise_row;
    st->padded_c = (C + vector - 1) / vector * vector;
    const depthwise_pack_args args = {w->data, bias ? bias->data : NULL, taps, C, st->padded_c};
    const p2l_derived_key key = {P2L_DERIVED_DEPTHWISE, args.weights, args.bias,
                                 {(int64_t)taps, (int64_t)C, (int64_t)vector, (int64_t)st->padded_c}};
    const void *packed;
    P2L_TRY(p2l_fast_derive(node, p2l_constant_weights(w, bias), &key, (taps + 1) * st->padded_c * sizeof(float),
                            derive_depthwise, &args, &packed));
    st->weights = packed;
    st->bias = st->weights + taps * st->padded_c;
    take_fusions(node, &st->p, &st->x, &st->y, &st->clamp);
    /* Small images (7x7, 14x14) have too few rows to keep the threads busy and balanced: their rows
     * are also cut into chunks of channels (whole vectors). */
    const p2l_tensor *y = node->outputs[0];
    const size_t rows = (size_t)y->dims[0] * (size_t)y->dims[1];
    const size_t vectors = (C + vector - 1) / vector, threads = (size_t)p2l_node_threads(node);
    st->work = (double)rows * (double)y->dims[2] * (double)C * (double)taps;
    size_t chunks = 1;
    if (threads > 1 && rows > 0 && rows < 4 * threads) chunks = (4 * threads + rows - 1) / rows; /* rows 0: empty batch */
    if (chunks > vectors) chunks = vectors;
    const size_t per_chunk = (vectors + chunks - 1) / chunks;
    st->chunk_c = per_chunk * vector;
    st->chunks = (vectors + per_chunk - 1) / per_chunk;
    st->fast = true;
    return P2L_OK;
}

/* Channels [c_begin, c_end) of one output row (n, oy). */
static void depthwise_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const depthwise_state *st = job->state;
    const p2l_conv_params *p = &st->p;
    const p2l_tensor *x = st->x, *w = job->node->inputs[1], *y = job->node->outputs[0];
    const int H = x->dims[1], W = x->dims[2], OH = y->dims[1], OW = y->dims[2];
    const size_t C = (size_t)x->dims[3];
    const size_t row = task / st->chunks, c_begin = task % st->chunks * st->chunk_c;
    const size_t c_end = c_begin + st->chunk_c < C ? c_begin + st->chunk_c : C;
    const size_t n = row / (size_t)OH;
    const p2l_depthwise_row_args args = {
        .in = (const float *)x->data + n * (size_t)H * (size_t)W * C,
        .out = (float *)st->y->data + row * (size_t)OW * C, .weights = st->weights, .bias = st->bias,
        .H = H, .W = W, .KH = w->dims[1], .KW = w->dims[2], .OW = OW,
        .oy = (int)(row % (size_t)OH), .stride_h = p->stride_h, .stride_w = p->stride_w, .dilation_h = p->dilation_h,
        .dilation_w = p->dilation_w, .pad_h = p->pad_h, .pad_w = p->pad_w, .C = C, .padded_c = st->padded_c,
        .c_begin = c_begin, .c_end = c_end, .clamp = &st->clamp};
    st->row(&args);
}

static p2l_status depthwise_invoke(p2l_node *node) {
    depthwise_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const p2l_tensor *y = node->outputs[0];
    p2l_fast_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, st->work), (size_t)y->dims[0] * (size_t)y->dims[1] * st->chunks,
                     depthwise_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_depthwise_conv_2d = {depthwise_prepare, depthwise_invoke};
