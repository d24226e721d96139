/* FULLY_CONNECTED with int4 weights and float32 input/output (the "int4_weights" recipe's layers,
 * docs/quantization.md): weights [units, depth] packed two per byte, element 0 in the low nibble,
 * with block-wise float16 scales (one per block_size values of a row) or per-channel / per-tensor
 * float32 scales, zero points 0.
 *
 * The arithmetic is LiteRT's (its builtin kernel and XNNPACK agree on it): each input row is
 * quantized at run time to int8, asymmetrically (scale = (max(x, 0) - min(x, 0)) / 255, the zero
 * point nudged into [-128, 127] from whichever end of the range loses less), each block is an exact
 * integer dot product, scaled by its weight scale; the sum of blocks times the row's scale, plus the
 * bias, is the output. Only the order of the float additions may differ from LiteRT's (and XNNPACK
 * rounds the block scales to bfloat16), so outputs agree to float rounding, not bit for bit. */
#include <math.h>

#include "base/float16.h"
#include "kernels/hybrid_fast.h"

typedef struct fc_int4_state {
    size_t units, depth, batch, block; /* block: values per scale (depth: per channel) */
    float *row_scale;                  /* per input row: its int8 scale (0: an all-zero row) */
    int32_t *row_zero_point;           /* per input row: its zero point */
    int16_t *row_values;               /* per input row: quantized values minus the zero point */
    const void *fast;                  /* the fast path (hybrid_fast.h), or NULL */
} fc_int4_state;

p2l_status p2l_fully_connected_int4_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    P2L_TRY(p2l_expect_dtype(x, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    if (bias) P2L_TRY(p2l_expect_dtype(bias, P2L_FLOAT32));
    P2L_TRY(p2l_expect_rank(w, 2));
    if (!w->is_constant)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "int4 weights %s must be a constant", P2L_LABEL(w));
    const size_t units = (size_t)w->dims[0], depth = (size_t)w->dims[1];
    size_t block;
    if (w->block_size) {
        block = (size_t)w->block_size; /* the reader checked the scales' shape and that it divides depth */
    } else if (w->quant_count == 1 || (w->quant_count == (int)units && w->quantized_dimension == 0)) {
        block = depth;
        for (int i = 0; i < w->quant_count; i++)
            if (w->zero_points[i] != 0)
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "int4 weights %s have zero point %lld; only symmetric "
                                "(zero point 0) int4 weights are supported", P2L_LABEL(w),
                                (long long)w->zero_points[i]);
    } else {
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "int4 weights %s need block-wise, per-channel (dim 0) or per-tensor "
                        "scales (have %d along dim %d)", P2L_LABEL(w), w->quant_count, w->quantized_dimension);
    }
    if (depth == 0 || x->count % depth)
        return p2l_fail(P2L_ERROR_MALFORMED, "input %s (%zu elements) is not a whole number of rows of %zu",
                        P2L_LABEL(x), x->count, depth);
    fc_int4_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    *st = (fc_int4_state){.units = units, .depth = depth, .batch = x->count / depth, .block = block};
    size_t values;
    if (!p2l_mul_size(st->batch, depth, &values) || values > SIZE_MAX / sizeof(int16_t))
        return p2l_fail(P2L_ERROR_LIMIT, "input %s is too large", P2L_LABEL(x));
    st->row_scale = p2l_arena_alloc(node->arena, (st->batch + 1) * sizeof *st->row_scale);
    st->row_values = p2l_arena_alloc(node->arena, (values + 1) * sizeof *st->row_values);
    st->row_zero_point = p2l_arena_alloc(node->arena, (st->batch + 1) * sizeof *st->row_zero_point);
    if (!st->row_scale || !st->row_values || !st->row_zero_point) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
#if P2L_HYBRID_FAST
    P2L_TRY(p2l_fc_int4_fast_prepare(node, block, &st->fast));
#endif
    return P2L_OK;
}

/* One row to int8, asymmetric, as LiteRT's dynamic quantization; returns the scale (0: all zeros)
 * and stores q - zero_point, and the zero point (0 for all zeros). */
static float quantize_row(const float *x, size_t n, int16_t *out, int32_t *zero_point_out) {
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo == hi) {
        for (size_t i = 0; i < n; i++) out[i] = 0;
        *zero_point_out = 0;
        return 0.0f;
    }
    const float qmin = -128.0f, qmax = 127.0f;
    const float scale = (hi - lo) / (qmax - qmin);
    const float from_min = qmin - lo / scale, from_max = qmax - hi / scale;
    const float zero = fabsf(qmin) + fabsf(lo / scale) < fabsf(qmax) + fabsf(hi / scale) ? from_min : from_max;
    const int32_t zero_point = zero < qmin ? -128 : zero > qmax ? 127 : (int32_t)roundf(zero);
    const float inverse = 1.0f / scale;
    for (size_t i = 0; i < n; i++) {
        int32_t q = (int32_t)roundf(x[i] * inverse) + zero_point;
        q = q < -128 ? -128 : q > 127 ? 127 : q;
        out[i] = (int16_t)(q - zero_point);
    }
    *zero_point_out = zero_point;
    return scale;
}

static inline int32_t low_nibble(uint8_t b) { return (int32_t)((b & 0xf) ^ 8) - 8; }
static inline int32_t high_nibble(uint8_t b) { return (int32_t)((b >> 4) ^ 8) - 8; }

/* Integer dot product of `n` quantized inputs with int4 weights starting at element `first` (any
 * parity) of the packed row. */
static int32_t dot_int4(const int16_t *x, const uint8_t *packed, size_t first, size_t n) {
    int32_t acc = 0;
    size_t i = 0;
    if (first & 1) {
        if (n) acc += x[0] * high_nibble(packed[first >> 1]);
        i = 1;
    }
    const uint8_t *p = packed + ((first + i) >> 1);
    for (; i + 1 < n; i += 2, p++) acc += x[i] * low_nibble(*p) + x[i + 1] * high_nibble(*p);
    if (i < n) acc += x[i] * low_nibble(*p);
    return acc;
}

typedef struct fc_int4_job {
    const p2l_node *node;
    const fc_int4_state *st;
} fc_int4_job;

enum { UNITS_PER_TASK = 16 };

static void fc_int4_task(void *ctx, size_t task, int thread) {
    (void)thread;
    const fc_int4_job *job = ctx;
    const fc_int4_state *st = job->st;
    const p2l_tensor *w = job->node->inputs[1];
    const p2l_tensor *bias_t = job->node->input_count > 2 ? job->node->inputs[2] : NULL;
    const float *bias = bias_t ? bias_t->data : NULL;
    const uint8_t *packed = w->data;
    float *out = job->node->outputs[0]->data;
    const size_t blocks = st->depth / st->block;
    const size_t u_end = (task + 1) * UNITS_PER_TASK < st->units ? (task + 1) * UNITS_PER_TASK : st->units;
    for (size_t u = task * UNITS_PER_TASK; u < u_end; u++) {
        const size_t first = u * st->depth; /* element index of the row in the packed weights */
        for (size_t b = 0; b < st->batch; b++) {
            const int16_t *x = st->row_values + b * st->depth;
            float sum = 0.0f;
            for (size_t k = 0; k < blocks; k++) {
                const float scale = w->block_size ? p2l_f16_to_f32(w->block_scales[u * blocks + k])
                                                  : w->scales[w->quant_count == 1 ? 0 : u];
                sum += (float)dot_int4(x + k * st->block, packed, first + k * st->block, st->block) * scale;
            }
            out[b * st->units + u] = sum * st->row_scale[b] + (bias ? bias[u] : 0.0f);
        }
    }
}

p2l_status p2l_fully_connected_int4_invoke(p2l_node *node) {
    const fc_int4_state *st = node->state;
    const float *in = node->inputs[0]->data;
    for (size_t b = 0; b < st->batch; b++)
        st->row_scale[b] = quantize_row(in + b * st->depth, st->depth, st->row_values + b * st->depth,
                                        &st->row_zero_point[b]);
#if P2L_HYBRID_FAST
    if (st->fast) {
        p2l_fc_int4_fast_invoke(node, st->fast, st->row_values, st->row_scale, st->row_zero_point);
        p2l_apply_fused_activation(node);
        return P2L_OK;
    }
#endif
    fc_int4_job job = {node, st};
    const size_t tasks = (st->units + UNITS_PER_TASK - 1) / UNITS_PER_TASK;
    p2l_parallel_for(p2l_node_pool(node, (double)st->units * (double)st->depth * (double)st->batch), tasks,
                     fc_int4_task, &job);
    p2l_apply_fused_activation(node);
    return P2L_OK;
}
