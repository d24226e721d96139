/* Fast hybrid CONV_2D and DEPTHWISE_CONV_2D (kernels/hybrid_conv_fast.h): int8 per-channel weights
 * (dynamic_int8), float input quantized per image at run time, float output. The quantization is
 * the reference kernel's (hybrid.c), with the ISA's loops for the range and the rounding and the
 * reference's own code for the scale and zero point, so the same integers reach both paths.
 *
 * CONV_2D (one group) is the ISA's hybrid GEMM (fast.h) over the quantized input: rows are output
 * pixels, columns output channels, k the filter's (ky, kx, c) order; the weights are packed once per
 * model (runtime/weights.c) with each channel's weight sum. Rows of a block of pixels are widened to
 * int16 in the thread's scratch: a 1x1 convolution with stride 1 from the input as it is, others as
 * im2col rows, taps outside the image holding the image's zero point. The reference sums (x - zero_point) * w over
 * the taps inside the image; the GEMM sums x * w over all taps, so zero_point x the channel's weight
 * sum comes off: the padding's terms cancel, and the rest is the reference's sum (exact, wrapping as
 * int32). DEPTHWISE_CONV_2D (depth multiplier 1) is the ISA's pixel loop over all channels at once,
 * taps outside the image pointing at a row of zero points (x - zero_point = 0: as the reference,
 * which skips them). The epilogue is the reference kernel's float expression, term for term, then
 * its activation. */
#include <string.h>

#include "kernels/fast/fast.h"
#include "kernels/hybrid_conv_fast.h"

enum {
    IM2COL_BLOCK_BYTES = 64 * 1024, /* im2col rows per thread and block */
    MAX_BLOCK_ROWS = 64,
    MAX_COLUMN_CHUNKS = 8,
};

typedef struct hybrid_conv_fast {
    bool depthwise, direct; /* direct: the GEMM reads the quantized input in place (lda = k) */
    const p2l_conv_params *p;
    p2l_hybrid_gemm_fn gemm;
    const int16_t *b;           /* CONV_2D: the packed weights (fast.h), then the channels' weight sums */
    const int32_t *weight_sums;
    int n, k, pairs, panels;
    p2l_hybrid_depthwise_pixel_fn pixel;
    const int16_t *taps;        /* DEPTHWISE_CONV_2D: the weights [KH * KW][C] as int16 */
    p2l_clamp clamp;            /* the activation when it is a clamp (else applied after) */
    bool clamped;
    size_t pixels, block_rows, row_blocks; /* output pixels per image; CONV_2D's row blocks (all images) */
    int chunk_panels, chunks;
    p2l_hybrid_range_fn range;
    p2l_hybrid_quantize_fn quantize;
} hybrid_conv_fast;

/* ------------------------------------------------------------ packing */

typedef struct pack_ctx {
    const int8_t *weights; /* [n][k] (CONV_2D), [taps][n] (DEPTHWISE_CONV_2D) */
    int n, k, pairs, panels;
} pack_ctx;

/* fast.h's p2l_hybrid_gemm_fn layout, then panels * NR int32 weight sums (wrapping as the
 * reference's int32). */
static p2l_status pack_gemm(void *data, const void *ctx) {
    const pack_ctx *c = ctx;
    int16_t *packed = data;
    int32_t *sums = (int32_t *)(packed + (size_t)c->panels * (size_t)c->pairs * 2 * P2L_HYBRID_GEMM_NR);
    for (int j = 0; j < c->n; j++) {
        const int8_t *row = c->weights + (size_t)j * (size_t)c->k;
        int16_t *panel = packed + (size_t)(j / P2L_HYBRID_GEMM_NR) * (size_t)c->pairs * 2 * P2L_HYBRID_GEMM_NR;
        uint32_t sum = 0;
        for (int kk = 0; kk < c->k; kk++) {
            panel[((size_t)(kk / 2) * P2L_HYBRID_GEMM_NR + (size_t)(j % P2L_HYBRID_GEMM_NR)) * 2 + (size_t)(kk % 2)] = row[kk];
            sum += (uint32_t)(int32_t)row[kk];
        }
        sums[j] = (int32_t)sum;
    }
    return P2L_OK;
}

static p2l_status pack_taps(void *data, const void *ctx) {
    const pack_ctx *c = ctx;
    int16_t *taps = data;
    for (size_t i = 0; i < (size_t)c->k * (size_t)c->n; i++) taps[i] = c->weights[i];
    return P2L_OK;
}

/* ------------------------------------------------------------ prepare */

static p2l_status conv_setup(p2l_node *node, hybrid_conv_fast *st, const p2l_fast_isa *isa) {
    const p2l_tensor *w = node->inputs[1], *y = node->outputs[0];
    const p2l_conv_params *p = st->p;
    const int64_t k = (int64_t)w->dims[1] * w->dims[2] * w->dims[3];
    if (!isa->hybrid_gemm || k > INT32_MAX / 2) return P2L_OK;
    const pack_ctx c = {.weights = w->data, .n = w->dims[0], .k = (int)k, .pairs = (int)((k + 1) / 2),
                        .panels = (w->dims[0] + P2L_HYBRID_GEMM_NR - 1) / P2L_HYBRID_GEMM_NR};
    const size_t packed = (size_t)c.panels * (size_t)c.pairs * 2 * P2L_HYBRID_GEMM_NR, ldacc = (size_t)c.panels * P2L_HYBRID_GEMM_NR;
    const p2l_derived_key key = {.kind = P2L_DERIVED_HYBRID_CONV, .source = w->data, .params = {c.n, c.k}};
    const void *data;
    P2L_TRY(p2l_fast_derive(node, w->is_constant, &key, packed * sizeof(int16_t) + ldacc * sizeof(int32_t), pack_gemm,
                            &c, &data));
    st->gemm = isa->hybrid_gemm;
    st->b = data;
    st->weight_sums = (const int32_t *)(st->b + packed);
    st->n = c.n, st->k = c.k, st->pairs = c.pairs, st->panels = c.panels;
    st->direct = w->dims[1] == 1 && w->dims[2] == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
                 p->pad_w == 0;
    const size_t m = (size_t)y->dims[0] * st->pixels, row_bytes = (size_t)c.pairs * 2 * sizeof(int16_t);
    st->block_rows = IM2COL_BLOCK_BYTES / row_bytes / 4 * 4;
    if (st->block_rows > MAX_BLOCK_ROWS) st->block_rows = MAX_BLOCK_ROWS;
    if (st->block_rows < 4) st->block_rows = 4;
    st->row_blocks = (m + st->block_rows - 1) / st->block_rows;
    /* Few row blocks and several threads: cut the channels too. */
    const int threads = p2l_node_threads(node);
    st->chunks = 1;
    if (threads > 1 && st->row_blocks < (size_t)threads * 2)
        st->chunks = c.panels < MAX_COLUMN_CHUNKS ? c.panels : MAX_COLUMN_CHUNKS;
    st->chunk_panels = (c.panels + st->chunks - 1) / st->chunks;
    st->chunks = (c.panels + st->chunk_panels - 1) / st->chunk_panels;
    node->scratch_bytes = st->block_rows * (row_bytes + ldacc * sizeof(int32_t)) + 64;
    return P2L_OK;
}

static p2l_status depthwise_setup(p2l_node *node, hybrid_conv_fast *st, const p2l_fast_isa *isa) {
    const p2l_tensor *w = node->inputs[1];
    if (!isa->hybrid_depthwise_pixel || st->p->depth_multiplier != 1) return P2L_OK;
    const pack_ctx c = {.weights = w->data, .n = w->dims[3], .k = w->dims[1] * w->dims[2]};
    const p2l_derived_key key = {.kind = P2L_DERIVED_HYBRID_DEPTHWISE, .source = w->data, .params = {c.n, c.k}};
    const void *data;
    P2L_TRY(p2l_fast_derive(node, w->is_constant, &key, (size_t)c.n * (size_t)c.k * sizeof(int16_t), pack_taps, &c,
                            &data));
    st->taps = data;
    st->pixel = isa->hybrid_depthwise_pixel;
    st->clamped = p2l_clamp_of(st->p->activation, &st->clamp);
    if (!st->clamped) st->clamp = (p2l_clamp){.on = false};
    /* the scales (weight scale x input scale), the taps' pointers, a row of zero points */
    node->scratch_bytes = (size_t)c.n * sizeof(float) + (size_t)c.k * sizeof(void *) + (size_t)c.n + 192;
    return P2L_OK;
}

p2l_status p2l_hybrid_conv_fast_prepare(p2l_node *node, const p2l_conv_params *params, const void **fast) {
    *fast = NULL;
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    const p2l_tensor *w = node->inputs[1], *y = node->outputs[0];
    if (!isa || !isa->hybrid_range || !isa->hybrid_quantize || !w->known || w->rank != 4 || y->rank != 4 ||
        y->count == 0)
        return P2L_OK;
    hybrid_conv_fast *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    *st = (hybrid_conv_fast){.depthwise = node->op == P2L_OP_DEPTHWISE_CONV_2D, .p = params,
                             .pixels = (size_t)y->dims[1] * (size_t)y->dims[2], .range = isa->hybrid_range,
                             .quantize = isa->hybrid_quantize};
    P2L_TRY(st->depthwise ? depthwise_setup(node, st, isa) : conv_setup(node, st, isa));
    if (st->gemm || st->pixel) *fast = st;
    return P2L_OK;
}

/* ------------------------------------------------------------ invoke */

typedef struct conv_job {
    const p2l_node *node;
    const hybrid_conv_fast *st;
    const int8_t *quantized;
    const float *input_scales, *weight_scales;
    const int32_t *input_zero_points;
} conv_job;

/* im2col row of output pixel `pixel` (all images, image-major) as int16: 2 * pairs values. */
static void im2col_row(const conv_job *job, size_t pixel, int16_t *row) {
    const hybrid_conv_fast *st = job->st;
    const p2l_conv_params *p = st->p;
    const p2l_tensor *x = job->node->inputs[0], *w = job->node->inputs[1], *y = job->node->outputs[0];
    const int H = x->dims[1], W = x->dims[2], C = x->dims[3], KH = w->dims[1], KW = w->dims[2], OW = y->dims[2];
    const size_t n = pixel / st->pixels, in_image = pixel % st->pixels;
    const int ox = (int)(in_image % (size_t)OW), oy = (int)(in_image / (size_t)OW);
    const int16_t zero_point = (int16_t)job->input_zero_points[n];
    const int8_t *image = job->quantized + n * (size_t)H * (size_t)W * (size_t)C;
    int16_t *out = row;
    for (int ky = 0; ky < KH; ky++) {
        const int iy = oy * p->stride_h - p->pad_h + ky;
        for (int kx = 0; kx < KW; kx++, out += C) {
            const int ix = ox * p->stride_w - p->pad_w + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                for (int c = 0; c < C; c++) out[c] = zero_point;
            } else {
                const int8_t *in = image + ((size_t)iy * (size_t)W + (size_t)ix) * (size_t)C;
                for (int c = 0; c < C; c++) out[c] = in[c];
            }
        }
    }
    if (st->k % 2) *out = 0;
}

static void conv_task(void *ctx, size_t task, int thread) {
    const conv_job *job = ctx;
    const p2l_node *node = job->node;
    const hybrid_conv_fast *st = job->st;
    const size_t m = (size_t)node->outputs[0]->dims[0] * st->pixels;
    const size_t row0 = task / (size_t)st->chunks * st->block_rows;
    const size_t rows = m - row0 < st->block_rows ? m - row0 : st->block_rows;
    const int q0 = (int)(task % (size_t)st->chunks) * st->chunk_panels;
    const int q1 = q0 + st->chunk_panels < st->panels ? q0 + st->chunk_panels : st->panels;
    const size_t ldacc = (size_t)st->panels * P2L_HYBRID_GEMM_NR, lda = (size_t)st->pairs * 2;
    int32_t *acc = (int32_t *)p2l_align_pointer(p2l_node_scratch(node, thread), 64);
    int16_t *a = (int16_t *)(acc + st->block_rows * ldacc);
    for (size_t r = 0; r < rows; r++) {
        if (st->direct) {
            const int8_t *in = job->quantized + (row0 + r) * (size_t)st->k;
            for (int i = 0; i < st->k; i++) a[r * lda + (size_t)i] = in[i];
            if (st->k % 2) a[r * lda + (size_t)st->k] = 0;
        } else {
            im2col_row(job, row0 + r, a + r * lda);
        }
    }
    st->gemm(a, lda, rows, st->b, (size_t)st->pairs, q0, q1, acc, ldacc);
    const p2l_tensor *bias_t = node->input_count > 2 ? node->inputs[2] : NULL;
    const float *bias = bias_t ? bias_t->data : NULL, *ws = job->weight_scales;
    const size_t n = (size_t)st->n, c0 = (size_t)q0 * P2L_HYBRID_GEMM_NR;
    const size_t c1 = (size_t)q1 * P2L_HYBRID_GEMM_NR < n ? (size_t)q1 * P2L_HYBRID_GEMM_NR : n;
    for (size_t r = 0; r < rows; r++) {
        const size_t image = (row0 + r) / st->pixels;
        const uint32_t zero_point = (uint32_t)job->input_zero_points[image];
        const float input_scale = job->input_scales[image];
        const int32_t *sums = acc + r * ldacc;
        float *out = (float *)node->outputs[0]->data + (row0 + r) * n;
        for (size_t c = c0; c < c1; c++) {
            const int32_t dot = (int32_t)((uint32_t)sums[c] - zero_point * (uint32_t)st->weight_sums[c]);
            float v = (float)dot * ws[c] * input_scale; /* the reference's order */
            if (bias) v += bias[c];
            out[c] = v;
        }
        p2l_apply_activation(st->p->activation, out + c0, c1 - c0);
    }
}

/* Output row `task` (n * OH + oy) of a depthwise convolution. */
static void depthwise_task(void *ctx, size_t task, int thread) {
    const conv_job *job = ctx;
    const p2l_node *node = job->node;
    const hybrid_conv_fast *st = job->st;
    const p2l_conv_params *p = st->p;
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->outputs[0];
    const p2l_tensor *bias_t = node->input_count > 2 ? node->inputs[2] : NULL;
    const float *bias = bias_t ? bias_t->data : NULL;
    const int H = x->dims[1], W = x->dims[2], KH = w->dims[1], KW = w->dims[2], OH = y->dims[1], OW = y->dims[2];
    const size_t C = (size_t)x->dims[3];
    const size_t n = task / (size_t)OH;
    const int oy = (int)(task % (size_t)OH);
    const int8_t *image = job->quantized + n * (size_t)H * (size_t)W * C;
    const int32_t zero_point = job->input_zero_points[n];
    float *scale = (float *)p2l_align_pointer(p2l_node_scratch(node, thread), 64);
    const int8_t **taps = (const int8_t **)p2l_align_pointer(scale + C, 64);
    int8_t *zero_points = (int8_t *)p2l_align_pointer(taps + KH * KW, 64);
    for (size_t c = 0; c < C; c++) scale[c] = job->weight_scales[c] * job->input_scales[n]; /* the reference's product */
    memset(zero_points, (int8_t)zero_point, C);
    float *out = (float *)y->data + task * (size_t)OW * C;
    for (int ox = 0; ox < OW; ox++) {
        for (int ky = 0; ky < KH; ky++) {
            const int iy = oy * p->stride_h - p->pad_h + ky;
            for (int kx = 0; kx < KW; kx++) {
                const int ix = ox * p->stride_w - p->pad_w + kx;
                taps[ky * KW + kx] = iy < 0 || iy >= H || ix < 0 || ix >= W
                                         ? zero_points
                                         : image + ((size_t)iy * (size_t)W + (size_t)ix) * C;
            }
        }
        st->pixel(taps, KH * KW, st->taps, C, C, zero_point, scale, bias, &st->clamp, out + (size_t)ox * C);
    }
    if (!st->clamped) p2l_apply_activation(p->activation, out, (size_t)OW * C);
}

bool p2l_hybrid_conv_fast_invoke(const p2l_node *node, const void *fast, int8_t *quantized, float *input_scales,
                                 int32_t *input_zero_points, const float *weight_scales) {
    const hybrid_conv_fast *st = fast;
    if (!node->exec || !node->exec->scratch) return false;
    const p2l_tensor *x = node->inputs[0];
    const size_t image_size = x->count / (size_t)x->dims[0];
    for (int n = 0; n < x->dims[0]; n++) {
        const float *image = (const float *)x->data + (size_t)n * image_size;
        float lo, hi;
        st->range(image, image_size, &lo, &hi);
        p2l_hybrid_asymmetric_params(lo, hi, &input_scales[n], &input_zero_points[n]);
        st->quantize(image, image_size, 1.0f / input_scales[n], input_zero_points[n], quantized + (size_t)n * image_size);
    }
    conv_job job = {node, st, quantized, input_scales, weight_scales, input_zero_points};
    const p2l_tensor *w = node->inputs[1], *y = node->outputs[0];
    if (st->depthwise) {
        const double work = (double)y->count * (double)w->dims[1] * (double)w->dims[2];
        p2l_parallel_for(p2l_node_pool(node, work), (size_t)y->dims[0] * (size_t)y->dims[1], depthwise_task, &job);
    } else {
        const double work = (double)y->count * (double)st->k;
        p2l_parallel_for(p2l_node_pool(node, work), st->row_blocks * (size_t)st->chunks, conv_task, &job);
    }
    return true;
}
