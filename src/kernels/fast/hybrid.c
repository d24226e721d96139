/* Fast hybrid FULLY_CONNECTED (kernels/hybrid_fast.h): int8 per-channel weights (dynamic_int8) and
 * int4 block-wise weights (int4_weights), float input and output.
 *
 * The reference kernels quantize the input rows (their code, so the same integers) and call this
 * file, which lays the rows out for the ISA's loops (fast.h: int8 widened to int16; int4 in the
 * even/odd chunk order, with per-block sums), then splits the output channels over the threads in
 * groups of 4. The weights are read in the file's layout (int4 stays 4 bits per weight); what is
 * derived once per model (runtime/weights.c) is small: the int8 rows' weight sums (the input zero
 * point's term) and the int4 scales as float32, 4 channels' side by side per block. The epilogue is
 * the reference kernels' float expression, term for term. */
#include "base/float16.h"
#include "kernels/fast/fast.h"
#include "kernels/hybrid_fast.h"

enum {
    ROW_BLOCK = 16,      /* rows per micro-kernel call (their results stay on the stack) */
    TASKS_PER_THREAD = 8,
    INT4_CHUNK = 32,     /* int4 values per step of the loops (fast.h) */
    GEMV_CHUNK = 64,
    GEMV_UNITS = 256,    /* int8 one-row channels per call (a multiple of 4: their dots stay on the stack) */     /* int4 values per step of the one-row loop (fast.h) */
    GEMV_MAX_BLOCK = 4032, /* int4 one-row blocks: their weight sums (at most 8 x block) fit int16 */
};

typedef struct hybrid_fc_fast {
    bool int4;
    p2l_hybrid_i8_dot_fn i8_dot;
    p2l_hybrid_i4_dot_fn i4_dot;
    size_t units, depth, rows, block, blocks;
    const int32_t *weight_sums; /* int8: per channel, then the count of weights equal to -128 */
    p2l_hybrid_i8_gemv_fn i8_gemv; /* one input row: the ISA's one-row loops, else NULL */
    p2l_hybrid_i4_gemv_fn i4_gemv;
    const int16_t *w_sums;      /* int4 one row: [group][block][4] sums of the weights */
    int32_t *x_terms;           /* int4 one row: per block */
    const float *scales;        /* int4: [group][block][4] */
    int16_t *x;                 /* the rows as the loops read them (rows x depth) */
    int32_t *xsum;              /* int4: rows x blocks */
} hybrid_fc_fast;

/* ------------------------------------------------------------ derived from the weights */

typedef struct derive_ctx {
    const p2l_tensor *w;
    size_t units, depth, blocks;
} derive_ctx;

static p2l_status derive_weight_sums(void *data, const void *ctx) {
    const derive_ctx *c = ctx;
    const int8_t *w = c->w->data;
    int32_t *sums = data, minimums = 0;
    for (size_t u = 0; u < c->units; u++) {
        uint32_t s = 0; /* wraps as the reference's int32 sum */
        for (size_t k = 0; k < c->depth; k++) s += (uint32_t)(int32_t)w[u * c->depth + k], minimums += w[u * c->depth + k] == -128;
        sums[u] = (int32_t)s;
    }
    sums[c->units] = minimums;
    return P2L_OK;
}

static inline int32_t int4_value(const uint8_t *packed, size_t i) {
    return (int32_t)(((i & 1 ? packed[i / 2] >> 4 : packed[i / 2]) & 0xf) ^ 8) - 8;
}

static p2l_status derive_int4_sums(void *data, const void *ctx) {
    const derive_ctx *c = ctx;
    const uint8_t *w = c->w->data;
    int16_t *out = data;
    const size_t block = c->depth / c->blocks;
    for (size_t u = 0; u < c->units; u++)
        for (size_t b = 0; b < c->blocks; b++) {
            int32_t s = 0;
            for (size_t i = 0; i < block; i++) s += int4_value(w, u * c->depth + b * block + i);
            out[((u / P2L_HYBRID_UNITS) * c->blocks + b) * P2L_HYBRID_UNITS + u % P2L_HYBRID_UNITS] = (int16_t)s;
        }
    return P2L_OK;
}

static p2l_status derive_int4_scales(void *data, const void *ctx) {
    const derive_ctx *c = ctx;
    const p2l_tensor *w = c->w;
    float *out = data;
    for (size_t u = 0; u < c->units; u++)
        for (size_t b = 0; b < c->blocks; b++)
            out[((u / P2L_HYBRID_UNITS) * c->blocks + b) * P2L_HYBRID_UNITS + u % P2L_HYBRID_UNITS] =
                w->block_size ? p2l_f16_to_f32(w->block_scales[u * c->blocks + b])
                              : w->scales[w->quant_count == 1 ? 0 : u];
    return P2L_OK;
}

/* ------------------------------------------------------------ prepare */

static p2l_status setup(p2l_node *node, bool int4, size_t block, const void **fast) {
    *fast = NULL;
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    if (!isa || (int4 ? !isa->hybrid_i4_dot : !isa->hybrid_i8_dot) || !w->known || w->rank != 2) return P2L_OK;
    const size_t units = (size_t)w->dims[0], depth = (size_t)w->dims[1];
    if (units == 0 || depth == 0 || x->count % depth) return P2L_OK;
    if (int4 && (block == 0 || block % INT4_CHUNK || depth % block)) return P2L_OK;
    hybrid_fc_fast *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    *st = (hybrid_fc_fast){.int4 = int4, .i8_dot = isa->hybrid_i8_dot, .i4_dot = isa->hybrid_i4_dot, .units = units,
                           .depth = depth, .rows = x->count / depth, .block = block,
                           .blocks = int4 ? depth / block : 0};
    const derive_ctx c = {w, units, depth, st->blocks};
    const size_t groups = (units + P2L_HYBRID_UNITS - 1) / P2L_HYBRID_UNITS;
    const void *data;
    if (int4) {
        const p2l_derived_key key = {.kind = P2L_DERIVED_HYBRID_INT4_SCALES, .source = w->data,
                                     .bias = w->block_size ? (const void *)w->block_scales : (const void *)w->scales,
                                     .params = {(int64_t)units, (int64_t)depth, (int64_t)block}};
        P2L_TRY(p2l_fast_derive(node, w->is_constant, &key, groups * st->blocks * P2L_HYBRID_UNITS * sizeof(float),
                                derive_int4_scales, &c, &data));
        st->scales = data;
    } else {
        const p2l_derived_key key = {.kind = P2L_DERIVED_HYBRID_WEIGHT_SUMS, .source = w->data,
                                     .params = {(int64_t)units, (int64_t)depth}};
        P2L_TRY(p2l_fast_derive(node, w->is_constant, &key, (units + 1) * sizeof(int32_t), derive_weight_sums, &c,
                                &data));
        st->weight_sums = data;
        if (st->rows == 1 && st->weight_sums[units] == 0) st->i8_gemv = isa->hybrid_i8_gemv;
    }
    if (int4 && st->rows == 1 && isa->hybrid_i4_gemv &&
        ((block == INT4_CHUNK && st->blocks % 2 == 0) || (block % GEMV_CHUNK == 0 && block <= GEMV_MAX_BLOCK))) {
        const p2l_derived_key key = {.kind = P2L_DERIVED_HYBRID_INT4_SUMS, .source = w->data,
                                     .params = {(int64_t)units, (int64_t)depth, (int64_t)block}};
        P2L_TRY(p2l_fast_derive(node, w->is_constant, &key, groups * st->blocks * P2L_HYBRID_UNITS * sizeof(int16_t),
                                derive_int4_sums, &c, &data));
        st->w_sums = data;
        st->x_terms = p2l_arena_alloc(node->arena, st->blocks * sizeof(int32_t));
        if (!st->x_terms) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        st->i4_gemv = isa->hybrid_i4_gemv;
    }
    size_t values;
    if (!p2l_mul_size(st->rows, depth, &values) || values > SIZE_MAX / 4)
        return p2l_fail(P2L_ERROR_LIMIT, "input %s is too large", P2L_LABEL(x));
    st->x = p2l_arena_alloc(node->arena, (values + 16) * sizeof(int16_t));
    if (int4) st->xsum = p2l_arena_alloc(node->arena, (st->rows * st->blocks + 1) * sizeof(int32_t));
    if (!st->x || (int4 && !st->xsum)) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    *fast = st;
    return P2L_OK;
}

p2l_status p2l_hybrid_fc_fast_prepare(p2l_node *node, const void **fast) { return setup(node, false, 0, fast); }

p2l_status p2l_fc_int4_fast_prepare(p2l_node *node, size_t block, const void **fast) {
    return setup(node, true, block, fast);
}

/* ------------------------------------------------------------ invoke */

typedef struct hybrid_job {
    const p2l_node *node;
    const hybrid_fc_fast *st;
    size_t groups_per_task;
    /* int8 */
    const float *input_scales, *weight_scales;
    const int32_t *input_zero_points;
    bool per_channel;
    const int8_t *quantized; /* one row */
    /* int4 */
    const float *row_scale;
    int32_t zero_point; /* one row */
} hybrid_job;

/* One input row: output channels of groups [g_begin, g_end) through the ISA's one-row loops; the
 * epilogue is the same expression as hybrid_task's. */
static void one_row_task(const hybrid_job *job, size_t g_begin, size_t g_end) {
    const hybrid_fc_fast *st = job->st;
    const p2l_tensor *w = job->node->inputs[1];
    const p2l_tensor *bias_t = job->node->input_count > 2 ? job->node->inputs[2] : NULL;
    const float *bias = bias_t ? bias_t->data : NULL;
    float *out = job->node->outputs[0]->data;
    const size_t u_begin = g_begin * P2L_HYBRID_UNITS, u_end = g_end * P2L_HYBRID_UNITS < st->units ? g_end * P2L_HYBRID_UNITS : st->units;
    if (st->i4_gemv) {
        const size_t row_bytes = st->depth / 2;
        st->i4_gemv((const int8_t *)st->x, st->x_terms, job->zero_point, st->depth, st->block,
                    (const uint8_t *)w->data + u_begin * row_bytes, row_bytes, u_end - u_begin,
                    st->w_sums + u_begin * st->blocks, st->scales + u_begin * st->blocks, out + u_begin);
        for (size_t u = u_begin; u < u_end; u++) out[u] = out[u] * job->row_scale[0] + (bias ? bias[u] : 0.0f);
        return;
    }
    for (size_t u0 = u_begin; u0 < u_end; u0 += GEMV_UNITS) {
        const size_t n = u_end - u0 < GEMV_UNITS ? u_end - u0 : GEMV_UNITS;
        int32_t dots[GEMV_UNITS];
        st->i8_gemv(job->quantized, (const uint8_t *)st->x, st->depth, (const int8_t *)w->data + u0 * st->depth,
                    st->depth, n, dots);
        for (size_t i = 0; i < n; i++) {
            const size_t u = u0 + i;
            const int32_t dot = (int32_t)((uint32_t)dots[i] - (uint32_t)job->input_zero_points[0] * (uint32_t)st->weight_sums[u]);
            out[u] = (bias ? bias[u] : 0.0f) +
                     (float)dot * (job->input_scales[0] * job->weight_scales[job->per_channel ? u : 0]);
        }
    }
}

static void hybrid_task(void *ctx, size_t task, int thread) {
    (void)thread;
    const hybrid_job *job = ctx;
    const hybrid_fc_fast *st = job->st;
    const p2l_tensor *w = job->node->inputs[1];
    const p2l_tensor *bias_t = job->node->input_count > 2 ? job->node->inputs[2] : NULL;
    const float *bias = bias_t ? bias_t->data : NULL;
    float *out = job->node->outputs[0]->data;
    const size_t groups = (st->units + P2L_HYBRID_UNITS - 1) / P2L_HYBRID_UNITS;
    const size_t g_end = (task + 1) * job->groups_per_task < groups ? (task + 1) * job->groups_per_task : groups;
    if (st->i8_gemv || st->i4_gemv) {
        one_row_task(job, task * job->groups_per_task, g_end);
        return;
    }
    for (size_t g = task * job->groups_per_task; g < g_end; g++) {
        const size_t u0 = g * P2L_HYBRID_UNITS;
        const int nu = st->units - u0 < P2L_HYBRID_UNITS ? (int)(st->units - u0) : P2L_HYBRID_UNITS;
        for (size_t r0 = 0; r0 < st->rows; r0 += ROW_BLOCK) {
            const size_t rows = st->rows - r0 < ROW_BLOCK ? st->rows - r0 : ROW_BLOCK;
            if (st->int4) {
                float sums[ROW_BLOCK * P2L_HYBRID_UNITS];
                const size_t row_bytes = st->depth / 2;
                st->i4_dot(st->x + r0 * st->depth, st->xsum + r0 * st->blocks, rows, st->depth, st->block,
                           (const uint8_t *)w->data + u0 * row_bytes, row_bytes, nu,
                           st->scales + g * st->blocks * P2L_HYBRID_UNITS, sums);
                for (size_t r = 0; r < rows; r++)
                    for (int j = 0; j < nu; j++) {
                        const size_t u = u0 + (size_t)j, b = r0 + r;
                        out[b * st->units + u] = sums[r * P2L_HYBRID_UNITS + (size_t)j] * job->row_scale[b] +
                                                 (bias ? bias[u] : 0.0f);
                    }
            } else {
                int32_t dots[ROW_BLOCK * P2L_HYBRID_UNITS];
                st->i8_dot(st->x + r0 * st->depth, rows, st->depth, (const int8_t *)w->data + u0 * st->depth,
                           st->depth, nu, dots);
                for (size_t r = 0; r < rows; r++)
                    for (int j = 0; j < nu; j++) {
                        const size_t u = u0 + (size_t)j, b = r0 + r;
                        const int32_t dot = (int32_t)((uint32_t)dots[r * P2L_HYBRID_UNITS + (size_t)j] -
                                                      (uint32_t)job->input_zero_points[b] * (uint32_t)st->weight_sums[u]);
                        out[b * st->units + u] =
                            (bias ? bias[u] : 0.0f) +
                            (float)dot * (job->input_scales[b] * job->weight_scales[job->per_channel ? u : 0]);
                    }
            }
        }
    }
}

static void run(hybrid_job *job) {
    const hybrid_fc_fast *st = job->st;
    const size_t groups = (st->units + P2L_HYBRID_UNITS - 1) / P2L_HYBRID_UNITS;
    const size_t wanted = (size_t)p2l_node_threads(job->node) * TASKS_PER_THREAD;
    job->groups_per_task = groups > wanted ? (groups + wanted - 1) / wanted : 1;
    const size_t tasks = (groups + job->groups_per_task - 1) / job->groups_per_task;
    p2l_parallel_for(p2l_node_pool(job->node, (double)st->units * (double)st->depth * (double)st->rows), tasks,
                     hybrid_task, job);
}

void p2l_hybrid_fc_fast_invoke(const p2l_node *node, const void *fast, const int8_t *quantized,
                               const float *input_scales, const int32_t *input_zero_points,
                               const float *weight_scales, bool per_channel) {
    const hybrid_fc_fast *st = fast;
    if (st->i8_gemv) { /* the magnitudes, as bytes */
        uint8_t *x_abs = (uint8_t *)st->x;
        for (size_t i = 0; i < st->depth; i++) x_abs[i] = (uint8_t)(quantized[i] < 0 ? -quantized[i] : quantized[i]);
    } else {
        for (size_t i = 0; i < st->rows * st->depth; i++) st->x[i] = quantized[i];
    }
    hybrid_job job = {.node = node, .st = st, .input_scales = input_scales, .weight_scales = weight_scales,
                      .input_zero_points = input_zero_points, .per_channel = per_channel, .quantized = quantized};
    run(&job);
}

void p2l_fc_int4_fast_invoke(const p2l_node *node, const void *fast, const int16_t *row_values,
                             const float *row_scale, const int32_t *row_zero_point) {
    const hybrid_fc_fast *st = fast;
    if (st->i4_gemv) { /* q = value + zero point, even / odd per chunk of 64; 8 x each block's sum of q */
        int8_t *x = (int8_t *)st->x;
        const int32_t zp = row_zero_point[0];
        for (size_t c = 0; c < st->depth; c += GEMV_CHUNK)
            for (size_t i = 0; i < GEMV_CHUNK / 2; i++)
                x[c + i] = (int8_t)(row_values[c + 2 * i] + zp), x[c + GEMV_CHUNK / 2 + i] = (int8_t)(row_values[c + 2 * i + 1] + zp);
        for (size_t b = 0; b < st->blocks; b++) {
            int32_t s = 0;
            for (size_t i = b * st->block; i < (b + 1) * st->block; i++) s += row_values[i] + zp;
            st->x_terms[b] = s * 8;
        }
        hybrid_job job = {.node = node, .st = st, .row_scale = row_scale, .zero_point = zp};
        run(&job);
        return;
    }
    for (size_t r = 0; r < st->rows; r++) {
        const int16_t *v = row_values + r * st->depth;
        int16_t *x = st->x + r * st->depth;
        for (size_t c = 0; c < st->depth; c += INT4_CHUNK)
            for (size_t i = 0; i < INT4_CHUNK / 2; i++)
                x[c + i] = v[c + 2 * i], x[c + INT4_CHUNK / 2 + i] = v[c + 2 * i + 1];
        for (size_t b = 0; b < st->blocks; b++) {
            int32_t s = 0;
            for (size_t i = b * st->block; i < (b + 1) * st->block; i++) s += v[i];
            st->xsum[r * st->blocks + b] = s;
        }
    }
    hybrid_job job = {.node = node, .st = st, .row_scale = row_scale};
    run(&job);
}
