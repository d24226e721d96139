/* Fast int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (fast.h, "int8"): the reference kernels'
 * prepare (checks, requantization parameters), weights packed once per model, the ISA's int8
 * micro-kernels for the sums, and the reference requantization per channel, so the outputs equal the
 * reference kernels' bit for bit.
 *
 * CONV_2D (one group) and FULLY_CONNECTED are one GEMM: rows are output pixels (or batch rows),
 * columns output channels, k the filter's (ky, kx, c) order. A 1x1 convolution with stride 1 reads
 * the input in place; others build im2col rows of a block of pixels in the thread's scratch, taps
 * outside the image holding the input zero point (so they add nothing: the zero point is folded into
 * the bias). DEPTHWISE_CONV_2D (depth multiplier 1) sums each output pixel's taps inside the image
 * over all channels at once. The runtime's fusion offers are not taken (they are float). Nodes these
 * paths do not cover, or an ISA without int8 micro-kernels, run the reference kernels. */
#include <string.h>

#include "kernels/fast/fast.h"
#include "kernels/quant_math.h"

enum {
    IM2COL_BLOCK_BYTES = 64 * 1024, /* im2col rows per thread and block */
    MAX_BLOCK_ROWS = 64,
    /* the k-pair GEMM: its int16 A block stays in L2, its int32 sums too; rows a multiple of its 6 */
    PAIRS_A_BLOCK_BYTES = 192 * 1024, PAIRS_ACC_BLOCK_BYTES = 128 * 1024, PAIRS_MAX_BLOCK_ROWS = 96,
    MAX_COLUMN_CHUNKS = 8,
};

/* ------------------------------------------------------------ packing */

typedef struct gemm_pack_ctx {
    const int8_t *weights; /* [n][k] */
    const int32_t *bias;   /* [n] or NULL */
    int32_t input_offset;
    int n, k, kp, groups;
} gemm_pack_ctx;

/* int16 weights (fast.h layout), then groups * NR int32 biases with the zero point folded in. */
static size_t gemm_pack_bytes(const gemm_pack_ctx *c) {
    return (size_t)c->groups * P2L_I8_GEMM_NR * ((size_t)c->kp * sizeof(int16_t) + sizeof(int32_t));
}

static p2l_status gemm_pack(void *data, const void *ctx) {
    const gemm_pack_ctx *c = ctx;
    int16_t *packed = data;
    int32_t *bias = (int32_t *)(packed + (size_t)c->groups * P2L_I8_GEMM_NR * (size_t)c->kp);
    for (int j = 0; j < c->n; j++) {
        const int8_t *row = c->weights + (size_t)j * (size_t)c->k;
        int16_t *group = packed + (size_t)(j / P2L_I8_GEMM_NR) * (size_t)c->kp * P2L_I8_GEMM_NR;
        int32_t sum = 0;
        for (int kk = 0; kk < c->k; kk++) {
            group[(size_t)(kk / P2L_I8_GEMM_KB) * P2L_I8_GEMM_NR * P2L_I8_GEMM_KB +
                  (size_t)(j % P2L_I8_GEMM_NR) * P2L_I8_GEMM_KB + (size_t)(kk % P2L_I8_GEMM_KB)] = row[kk];
            sum += row[kk];
        }
        /* Wraps as the reference's int32 sum would: equal modulo 2^32, which is all int32 keeps. */
        bias[j] = (int32_t)((uint32_t)(c->bias ? c->bias[j] : 0) + (uint32_t)c->input_offset * (uint32_t)sum);
    }
    return P2L_OK;
}

/* fast.h's k-pair layout: int8 panels (pairs of k, blocks of 8 channels), then panels * P2L_I8_PANEL
 * int32 biases with the zero point folded in. */
static size_t pairs_pack_bytes(const gemm_pack_ctx *c) {
    return (size_t)c->groups * P2L_I8_PANEL * ((size_t)c->kp + sizeof(int32_t));
}

static p2l_status pairs_pack(void *data, const void *ctx) {
    const gemm_pack_ctx *c = ctx;
    int8_t *packed = data;
    int32_t *bias = (int32_t *)(packed + (size_t)c->groups * P2L_I8_PANEL * (size_t)c->kp);
    const p2l_i8_pairs_b b = {packed, c->kp, c->n, c->groups};
    for (int j = 0; j < c->n; j++) {
        const int panel = j / P2L_I8_PANEL, width = p2l_i8_panel_width(&b, panel), lane = j % P2L_I8_PANEL;
        int8_t *column = packed + (size_t)panel * P2L_I8_PANEL * (size_t)c->kp + (size_t)(lane / 8 * 16 + lane % 8 * 2);
        const int8_t *row = c->weights + (size_t)j * (size_t)c->k;
        int32_t sum = 0;
        for (int kk = 0; kk < c->k; kk++) {
            column[(size_t)(kk / 2) * 2 * (size_t)width + (size_t)(kk % 2)] = row[kk];
            sum += row[kk];
        }
        bias[j] = (int32_t)((uint32_t)(c->bias ? c->bias[j] : 0) + (uint32_t)c->input_offset * (uint32_t)sum);
    }
    return P2L_OK;
}

/* ------------------------------------------------------------ requantization */

void p2l_i8_requantize_scalar(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                              size_t count, int8_t *out) {
    for (size_t i = 0; i < count; i++) {
        const size_t c = c0 + i;
        const p2l_multiplier m = {rq->multiplier[c], rq->left_shift[c] - rq->right_shift[c]};
        const int32_t v = p2l_multiply_by_quantized_multiplier(acc[i] + (bias ? bias[i] : 0), m);
        out[i] = (int8_t)p2l_clamp_i32(v + rq->output_offset, rq->act_min, rq->act_max);
    }
}

/* The per-channel multipliers as the requantization rows read them (three arrays). */
static p2l_status requant_setup(p2l_node *node, const p2l_quant_conv *q, int channels, p2l_i8_requant *rq,
                                p2l_i8_requantize_fn *fn) {
    int32_t *arrays = p2l_arena_alloc(node->arena, 3 * (size_t)channels * sizeof *arrays);
    if (!arrays) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    int32_t *multiplier = arrays, *left = arrays + channels, *right = arrays + 2 * (size_t)channels;
    for (int c = 0; c < channels; c++) {
        multiplier[c] = q->multipliers[c].multiplier;
        left[c] = q->multipliers[c].shift > 0 ? q->multipliers[c].shift : 0;
        right[c] = q->multipliers[c].shift > 0 ? 0 : -q->multipliers[c].shift;
    }
    *rq = (p2l_i8_requant){multiplier, left, right, q->output_offset, q->act_min, q->act_max};
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    *fn = isa && isa->i8_requantize ? isa->i8_requantize : p2l_i8_requantize_scalar;
    return P2L_OK;
}

/* ------------------------------------------------------------ GEMM nodes (CONV_2D, FULLY_CONNECTED) */

typedef struct gemm_state {
    void *reference_state;
    const p2l_quant_conv *q;
    p2l_i8_gemm_fn gemm;
    p2l_i8_requantize_fn requantize;
    p2l_i8_requant rq;
    p2l_i8_gemm_b b;
    p2l_i8_gemm_pairs_fn gemm_pairs; /* set: the k-pair GEMM over pairs_b (b.groups counts its panels) */
    p2l_i8_pairs_b pairs_b;
    const int32_t *bias; /* groups * NR */
    bool fast, direct;   /* direct: A is the input in place (lda = k) */
    const p2l_conv_params *p; /* CONV_2D */
    size_t m, block_rows, row_blocks;
    int chunk_groups, chunks;
} gemm_state;

static p2l_status gemm_setup(p2l_node *node, gemm_state *st, const p2l_quant_conv *q, int n, int k, size_t m) {
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    const p2l_tensor *w = node->inputs[1], *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    if (!isa || !isa->i8_gemm) return P2L_OK;
    gemm_pack_ctx c = {.weights = w->data, .bias = bias ? bias->data : NULL, .input_offset = q->input_offset,
                       .n = n, .k = k, .kp = (k + P2L_I8_GEMM_KB - 1) / P2L_I8_GEMM_KB * P2L_I8_GEMM_KB,
                       .groups = (n + P2L_I8_GEMM_NR - 1) / P2L_I8_GEMM_NR};
    if (!w->known || (bias && !bias->known)) return P2L_OK; /* weights computed at run time */
    const bool pairs = isa->i8_gemm_pairs != NULL;
    if (pairs) c.kp = (k + 1) / 2 * 2, c.groups = (n + P2L_I8_PANEL - 1) / P2L_I8_PANEL;
    const int width = pairs ? P2L_I8_PANEL : P2L_I8_GEMM_NR;
    const p2l_derived_key key = {.kind = pairs ? P2L_DERIVED_I8_PAIRS_B : P2L_DERIVED_I8_GEMM_B, .source = w->data,
                                 .bias = c.bias, .params = {n, k, q->input_offset}};
    const void *data;
    P2L_TRY(p2l_fast_derive(node, p2l_constant_weights(w, bias), &key, pairs ? pairs_pack_bytes(&c) : gemm_pack_bytes(&c),
                            pairs ? pairs_pack : gemm_pack, &c, &data));
    P2L_TRY(requant_setup(node, q, n, &st->rq, &st->requantize));
    st->q = q;
    st->gemm = isa->i8_gemm;
    st->gemm_pairs = isa->i8_gemm_pairs;
    st->b = (p2l_i8_gemm_b){.data = data, .k = k, .kp = c.kp, .n = n, .groups = c.groups};
    st->pairs_b = (p2l_i8_pairs_b){.data = data, .kp = c.kp, .n = n, .panels = c.groups};
    st->bias = pairs ? (const int32_t *)(st->pairs_b.data + (size_t)c.groups * P2L_I8_PANEL * (size_t)c.kp)
                     : (const int32_t *)(st->b.data + (size_t)c.groups * P2L_I8_GEMM_NR * (size_t)c.kp);
    st->m = m;
    const size_t ldacc = (size_t)c.groups * (size_t)width;
    if (pairs) {
        st->block_rows = PAIRS_A_BLOCK_BYTES / (2 * (size_t)c.kp);
        if (st->block_rows > PAIRS_ACC_BLOCK_BYTES / (4 * ldacc)) st->block_rows = PAIRS_ACC_BLOCK_BYTES / (4 * ldacc);
        if (st->block_rows > PAIRS_MAX_BLOCK_ROWS) st->block_rows = PAIRS_MAX_BLOCK_ROWS;
        st->block_rows = st->block_rows < 6 ? 6 : st->block_rows / 6 * 6;
    } else {
        st->block_rows = (size_t)(IM2COL_BLOCK_BYTES / c.kp);
        if (st->block_rows > MAX_BLOCK_ROWS) st->block_rows = MAX_BLOCK_ROWS;
        if (st->block_rows < 2) st->block_rows = 2;
    }
    st->row_blocks = m ? (m + st->block_rows - 1) / st->block_rows : 0;
    /* Few rows (a fully connected layer on one row) and several threads: cut the channels instead. */
    const int threads = p2l_node_threads(node);
    st->chunks = 1;
    if (threads > 1 && st->row_blocks < (size_t)threads * 2)
        st->chunks = c.groups < MAX_COLUMN_CHUNKS ? c.groups : MAX_COLUMN_CHUNKS;
    st->chunk_groups = (c.groups + st->chunks - 1) / st->chunks;
    st->chunks = (c.groups + st->chunk_groups - 1) / st->chunk_groups;
    /* the sums, then the block of A (im2col rows, or the k-pair GEMM's int16 rows) */
    node->scratch_bytes = st->block_rows * ((size_t)c.kp * (pairs ? 2 : 1) + ldacc * sizeof(int32_t)) + 64;
    st->fast = true;
    return P2L_OK;
}

/* n int8 as int16 (the k-pair GEMM's A). */
static void widen(int16_t *out, const int8_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i];
}

static void fill16(int16_t *out, int16_t value, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = value;
}

/* im2col row of output pixel `pixel` (image-major): kp int8, or kp int16 at `row` when wide. */
static void im2col_row(const gemm_state *st, const p2l_tensor *x, const p2l_tensor *w, const p2l_tensor *y,
                       size_t pixel, void *row, bool wide) {
    const p2l_conv_params *p = st->p;
    const int H = x->dims[1], W = x->dims[2], C = x->dims[3], KH = w->dims[1], KW = w->dims[2];
    const int OW = y->dims[2], OH = y->dims[1];
    const int ox = (int)(pixel % (size_t)OW), oy = (int)(pixel / (size_t)OW % (size_t)OH);
    const size_t n = pixel / ((size_t)OW * (size_t)OH);
    const int8_t zero_point = (int8_t)-st->q->input_offset;
    const int8_t *image = (const int8_t *)x->data + n * (size_t)H * (size_t)W * (size_t)C;
    size_t at = 0;
    for (int ky = 0; ky < KH; ky++) {
        const int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
        for (int kx = 0; kx < KW; kx++, at += (size_t)C) {
            const int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
            const int8_t *in = image + ((size_t)iy * (size_t)W + (size_t)ix) * (size_t)C;
            const bool outside = iy < 0 || iy >= H || ix < 0 || ix >= W;
            if (wide && outside) fill16((int16_t *)row + at, zero_point, (size_t)C);
            else if (wide) widen((int16_t *)row + at, in, (size_t)C);
            else if (outside) memset((int8_t *)row + at, zero_point, (size_t)C);
            else memcpy((int8_t *)row + at, in, (size_t)C);
        }
    }
    if (wide) fill16((int16_t *)row + at, 0, (size_t)st->b.kp - at);
    else memset((int8_t *)row + at, 0, (size_t)st->b.kp - at);
}

static void gemm_blocks(const gemm_state *st, const p2l_node *node, size_t row0, size_t rows, int g0, int g1,
                        int32_t *acc, size_t ldacc);

static void gemm_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const p2l_node *node = job->node;
    const gemm_state *st = job->state;
    const size_t row0 = task / (size_t)st->chunks * st->block_rows;
    const size_t rows = st->m - row0 < st->block_rows ? st->m - row0 : st->block_rows;
    const int g0 = (int)(task % (size_t)st->chunks) * st->chunk_groups;
    const int g1 = g0 + st->chunk_groups < st->b.groups ? g0 + st->chunk_groups : st->b.groups;
    const int width = st->gemm_pairs ? P2L_I8_PANEL : P2L_I8_GEMM_NR;
    const size_t ldacc = (size_t)st->b.groups * (size_t)width;
    uint8_t *scratch = node->exec ? p2l_node_scratch(node, thread) : NULL;
    int32_t *acc = (int32_t *)p2l_align_pointer(scratch, 64);
    const int n = st->b.n;
    const int c0 = g0 * width, c1 = g1 * width < n ? g1 * width : n;
    if (st->gemm_pairs) {
        const size_t kp = (size_t)st->b.kp, k = (size_t)st->b.k;
        int16_t *a16 = (int16_t *)(acc + st->block_rows * ldacc);
        for (size_t r = 0; r < rows; r++) {
            if (!st->direct) {
                im2col_row(st, node->inputs[0], node->inputs[1], node->outputs[0], row0 + r, a16 + r * kp, true);
                continue;
            }
            widen(a16 + r * kp, (const int8_t *)node->inputs[0]->data + (row0 + r) * k, k);
            fill16(a16 + r * kp + k, 0, kp - k);
        }
        st->gemm_pairs(&st->pairs_b, rows, a16, kp, acc, ldacc, g0, g1);
    } else {
        gemm_blocks(st, node, row0, rows, g0, g1, acc, ldacc);
    }
    int8_t *out = (int8_t *)node->outputs[0]->data + row0 * (size_t)n;
    for (size_t r = 0; r < rows; r++)
        st->requantize(acc + r * ldacc + (size_t)c0, st->bias + c0, &st->rq, (size_t)c0, (size_t)(c1 - c0),
                       out + r * (size_t)n + (size_t)c0);
}

/* i8_gemm's layout: rows of A as int8 (in place, or im2col), sums of groups [g0, g1). */
static void gemm_blocks(const gemm_state *st, const p2l_node *node, size_t row0, size_t rows, int g0, int g1,
                        int32_t *acc, size_t ldacc) {
    const int8_t *a;
    size_t lda;
    if (st->direct) {
        lda = (size_t)st->b.k;
        a = (const int8_t *)node->inputs[0]->data + row0 * lda;
    } else {
        int8_t *im2col = (int8_t *)(acc + st->block_rows * ldacc);
        lda = (size_t)st->b.kp;
        for (size_t r = 0; r < rows; r++)
            im2col_row(st, node->inputs[0], node->inputs[1], node->outputs[0], row0 + r, im2col + r * lda, false);
        a = im2col;
    }
    p2l_i8_gemm_b b = st->b;
    if (!st->direct) b.k = b.kp; /* im2col rows are zero padded to kp: no partial blocks to read */
    b.data += (size_t)g0 * (size_t)b.kp * P2L_I8_GEMM_NR;
    b.groups = g1 - g0;
    st->gemm(&b, rows, a, lda, acc + (size_t)g0 * P2L_I8_GEMM_NR, ldacc);
}

static p2l_status gemm_invoke(p2l_node *node, const p2l_kernel *reference) {
    const gemm_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, reference, st->reference_state);
    if (st->m == 0) return P2L_OK;
    if (!node->exec && node->scratch_bytes) /* no scratch to work in (a node run outside an interpreter) */
        return p2l_invoke_reference(node, reference, st->reference_state);
    const double work = (double)st->m * (double)st->b.k * (double)st->b.n;
    p2l_fast_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, work), st->row_blocks * (size_t)st->chunks, gemm_task, &job);
    return P2L_OK;
}

static p2l_status conv_prepare(p2l_node *node) {
    gemm_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(P2L_OP_CONV_2D), sizeof *st, (void **)&st));
    const p2l_conv_params *p = st->reference_state;
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->outputs[0];
    if (!p->quant || p->groups != 1) return P2L_OK;
    st->p = p;
    st->direct = w->dims[1] == 1 && w->dims[2] == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
                 p->pad_w == 0;
    const int64_t k = (int64_t)w->dims[1] * w->dims[2] * w->dims[3];
    if (k > INT32_MAX / 2) return P2L_OK;
    P2L_TRY(gemm_setup(node, st, p->quant, y->dims[3], (int)k, y->count / (size_t)(y->dims[3] ? y->dims[3] : 1)));
    (void)x;
    return P2L_OK;
}

static p2l_status conv_invoke(p2l_node *node) { return gemm_invoke(node, p2l_reference_kernel_of(P2L_OP_CONV_2D)); }

static p2l_status fully_connected_prepare(p2l_node *node) {
    gemm_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(P2L_OP_FULLY_CONNECTED), sizeof *st, (void **)&st));
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    if (x->dtype != P2L_INT8) return P2L_OK;
    st->direct = true;
    return gemm_setup(node, st, st->reference_state, w->dims[0], w->dims[1], x->count / (size_t)w->dims[1]);
}

static p2l_status fully_connected_invoke(p2l_node *node) { return gemm_invoke(node, p2l_reference_kernel_of(P2L_OP_FULLY_CONNECTED)); }

/* ------------------------------------------------------------ DEPTHWISE_CONV_2D */

typedef struct depthwise_pack_ctx {
    const int8_t *weights; /* [taps][C] */
    const int32_t *bias;
    size_t taps, C;
} depthwise_pack_ctx;

/* int16 weights [taps][C], then C int32 biases (zeros without a bias). */
static p2l_status depthwise_pack(void *data, const void *ctx) {
    const depthwise_pack_ctx *c = ctx;
    int16_t *w = data;
    int32_t *bias = (int32_t *)(w + (c->taps * c->C + 1) / 2 * 2);
    for (size_t i = 0; i < c->taps * c->C; i++) w[i] = c->weights[i];
    for (size_t i = 0; i < c->C; i++) bias[i] = c->bias ? c->bias[i] : 0;
    return P2L_OK;
}

/* fast.h's p2l_i8_depthwise_pairs_fn layout: int16 [tap pair][C][2] (zeros for a missing last tap),
 * then C int32 biases. */
static size_t depthwise_pairs_weights(const depthwise_pack_ctx *c) { return (c->taps + 1) / 2 * c->C * 2; }

static p2l_status depthwise_pairs_pack(void *data, const void *ctx) {
    const depthwise_pack_ctx *c = ctx;
    int16_t *w = data;
    int32_t *bias = (int32_t *)(w + depthwise_pairs_weights(c));
    for (size_t t = 0; t < c->taps; t++)
        for (size_t ch = 0; ch < c->C; ch++) w[(t / 2 * c->C + ch) * 2 + t % 2] = c->weights[t * c->C + ch];
    for (size_t i = 0; i < c->C; i++) bias[i] = c->bias ? c->bias[i] : 0;
    return P2L_OK;
}

typedef struct depthwise_state {
    void *reference_state;
    const p2l_conv_params *p;
    p2l_i8_depthwise_pairs_fn pairs; /* set: weights in its layout, taps outside the image read zero_row */
    const int8_t *zero_row;          /* C bytes of the input zero point */
    p2l_i8_depthwise_tap_fn tap;
    p2l_i8_requantize_fn requantize;
    p2l_i8_requant rq;
    const int16_t *weights;
    const int32_t *bias;
    bool fast;
} depthwise_state;

static p2l_status depthwise_prepare(p2l_node *node) {
    depthwise_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(P2L_OP_DEPTHWISE_CONV_2D), sizeof *st, (void **)&st));
    const p2l_conv_params *p = st->reference_state;
    const p2l_tensor *w = node->inputs[1], *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!p->quant || p->depth_multiplier != 1 || !isa || !isa->i8_depthwise_tap || !w->known || (bias && !bias->known))
        return P2L_OK;
    const depthwise_pack_ctx c = {w->data, bias ? bias->data : NULL, (size_t)w->dims[1] * (size_t)w->dims[2],
                                  (size_t)w->dims[3]};
    st->pairs = isa->i8_depthwise_pairs;
    const p2l_derived_key key = {.kind = st->pairs ? P2L_DERIVED_I8_DEPTHWISE_PAIRS : P2L_DERIVED_I8_DEPTHWISE,
                                 .source = w->data, .bias = c.bias, .params = {(int64_t)c.taps, (int64_t)c.C}};
    const size_t weights = st->pairs ? depthwise_pairs_weights(&c) : (c.taps * c.C + 1) / 2 * 2;
    const void *data;
    P2L_TRY(p2l_fast_derive(node, p2l_constant_weights(w, bias), &key, weights * sizeof(int16_t) + c.C * sizeof(int32_t),
                            st->pairs ? depthwise_pairs_pack : depthwise_pack, &c, &data));
    st->weights = data;
    st->bias = (const int32_t *)(st->weights + weights);
    st->p = p;
    st->tap = isa->i8_depthwise_tap;
    P2L_TRY(requant_setup(node, p->quant, (int)c.C, &st->rq, &st->requantize));
    node->scratch_bytes = c.C * sizeof(int32_t) + 64;
    if (st->pairs) {
        int8_t *zero_row = p2l_arena_alloc(node->arena, c.C);
        if (!zero_row) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        memset(zero_row, -p->quant->input_offset, c.C);
        st->zero_row = zero_row;
        node->scratch_bytes += (c.taps + 2) * sizeof(const int8_t *); /* the taps' pointers, aligned */
    }
    st->fast = true;
    return P2L_OK;
}

/* Output row `task` (n * OH + oy). */
static void depthwise_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const p2l_node *node = job->node;
    const depthwise_state *st = job->state;
    const p2l_conv_params *p = st->p;
    const p2l_quant_conv *q = p->quant;
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->outputs[0];
    const int H = x->dims[1], W = x->dims[2], KH = w->dims[1], KW = w->dims[2], OH = y->dims[1], OW = y->dims[2];
    const size_t C = (size_t)x->dims[3];
    const int n = (int)(task / (size_t)OH), oy = (int)(task % (size_t)OH);
    const int8_t *image = (const int8_t *)x->data + (size_t)n * (size_t)H * (size_t)W * C;
    int8_t *out = (int8_t *)y->data + task * (size_t)OW * C;
    int32_t *acc = (int32_t *)p2l_align_pointer(p2l_node_scratch(node, thread), 64);
    if (st->pairs) {
        const int8_t **taps = (const int8_t **)p2l_align_pointer(acc + C, sizeof(void *));
        const int count = KH * KW;
        for (int ox = 0; ox < OW; ox++, out += C) {
            for (int ky = 0, t = 0; ky < KH; ky++) {
                const int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                for (int kx = 0; kx < KW; kx++, t++) {
                    const int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                    taps[t] = iy < 0 || iy >= H || ix < 0 || ix >= W
                                  ? st->zero_row : image + ((size_t)iy * (size_t)W + (size_t)ix) * C;
                }
            }
            taps[count] = taps[0]; /* the missing last tap of an odd count (its weights are 0) */
            st->pairs(taps, (count + 1) / 2, st->weights, st->bias, q->input_offset, C, acc);
            st->requantize(acc, NULL, &st->rq, 0, C, out);
        }
        return;
    }
    for (int ox = 0; ox < OW; ox++, out += C) {
        memcpy(acc, st->bias, C * sizeof *acc);
        for (int ky = 0; ky < KH; ky++) {
            const int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; kx++) {
                const int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                if (ix < 0 || ix >= W) continue;
                st->tap(acc, image + ((size_t)iy * (size_t)W + (size_t)ix) * C,
                        st->weights + (size_t)(ky * KW + kx) * C, q->input_offset, C);
            }
        }
        st->requantize(acc, NULL, &st->rq, 0, C, out);
    }
}

static p2l_status depthwise_invoke(p2l_node *node) {
    const depthwise_state *st = node->state;
    if (!st->fast || !node->exec) return p2l_invoke_reference(node, p2l_reference_kernel_of(P2L_OP_DEPTHWISE_CONV_2D), st->reference_state);
    const p2l_tensor *y = node->outputs[0], *w = node->inputs[1];
    const double work = (double)y->count * (double)w->dims[1] * (double)w->dims[2];
    p2l_fast_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, work), (size_t)y->dims[0] * (size_t)y->dims[1], depthwise_task, &job);
    return P2L_OK;
}

/* ------------------------------------------------------------ the kernels */

/* The arity of the three ops' reference kernels: input, filter, optional bias; one output. */
#define INT8_KERNEL(name)                                                                                       \
    static const p2l_kernel int8_##name = {.prepare = name##_prepare, .invoke = name##_invoke, .min_inputs = 2, \
                                           .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,                \
                                           .optional_inputs = 1u << 2};
INT8_KERNEL(conv)
INT8_KERNEL(depthwise)
INT8_KERNEL(fully_connected)
#undef INT8_KERNEL

const p2l_kernel *p2l_int8_fast_kernel(p2l_op op) {
    const p2l_kernel *lookup = p2l_int8_lut_fast_kernel(op); /* unary ops: fast/int8_lut.c */
    if (lookup) return lookup;
    switch (op) {
    case P2L_OP_CONV_2D: return &int8_conv;
    case P2L_OP_DEPTHWISE_CONV_2D: return &int8_depthwise;
    case P2L_OP_FULLY_CONNECTED: return &int8_fully_connected;
    case P2L_OP_PAD:
    case P2L_OP_PADV2: return &p2l_int8_fast_pad; /* fast/pad.c */
    default: return p2l_int8_elementwise_fast_kernel(op);
    }
}
