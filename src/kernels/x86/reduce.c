/* MEAN, float32, AVX2:
 * - over the spatial dims of an NHWC tensor (axes 1 and 2: global average pooling). Each output
 *   channel sums its pixels in order, 64 channels at a time in up to 8 accumulators in one pass
 *   over the pixels, then divides by the pixel count. Tasks: (image, block of 64 channels).
 * - over the last axis alone (layer norm's statistics): each row summed in 4 x 8 lanes. Tasks:
 *   blocks of rows.
 * Other reductions use the reference kernel. */
#include "kernels/x86/x86.h"

enum { BLOCK = 64, ROWS_PER_TASK = 64 };

typedef struct mean_state {
    void *reference_state;
    bool fast;       /* global average pooling */
    bool last_axis;  /* rows of the last axis */
    size_t rows, length;
} mean_state;

static p2l_status reduce_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_reduce.prepare(node));
    mean_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->reference_state = node->state;
    node->state = st;
    const p2l_tensor *x = node->inputs[0];
    if (node->op != P2L_OP_MEAN || x->dtype != P2L_FLOAT32 || x->rank < 1 || x->count == 0) return P2L_OK;
    int64_t axes[8];
    size_t n;
    P2L_TRY(p2l_read_ints(node->inputs[1], axes, 8, &n)); /* known: checked by the reference prepare */
    bool mask[P2L_MAX_DIMS] = {0};
    int reduced = 0;
    for (size_t i = 0; i < n; i++) {
        int axis;
        P2L_TRY(p2l_normalize_axis(axes[i], x->rank, &axis));
        reduced += !mask[axis];
        mask[axis] = true;
    }
    if (reduced == 1 && mask[x->rank - 1] && x->dims[x->rank - 1] > 0) {
        st->last_axis = true;
        st->length = (size_t)x->dims[x->rank - 1];
        st->rows = x->count / st->length;
        return P2L_OK;
    }
    st->fast = x->rank == 4 && !mask[0] && mask[1] && mask[2] && !mask[3] && x->dims[1] > 0 && x->dims[2] > 0;
    return P2L_OK;
}

/* Sum of n floats in 4 x 8 lanes (then across them). */
static float row_sum(const float *x, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    if (i < n) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, p2l_tail_mask(n - i)));
    const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

typedef struct rows_job {
    const float *in;
    float *out;
    size_t rows, length;
} rows_job;

static void rows_task(void *ctx, size_t task, int thread) {
    const rows_job *job = ctx;
    const size_t first = task * ROWS_PER_TASK;
    const size_t end = first + ROWS_PER_TASK < job->rows ? first + ROWS_PER_TASK : job->rows;
    for (size_t r = first; r < end; r++) job->out[r] = row_sum(job->in + r * job->length, job->length) / (float)job->length;
}

typedef struct mean_job {
    const float *in;
    float *out;
    size_t pixels, channels, blocks;
} mean_job;

/* Channel means of VECTORS vectors of 8 channels (the last one masked by `tail`): every pixel's
 * vectors in one pass, each channel summed in pixel order. VECTORS is a constant in every call, so
 * the accumulators stay in registers. */
static inline __attribute__((always_inline)) void mean_vectors(const int VECTORS, const float *in, size_t pixels,
                                                               size_t C, float *out, float count, __m256i tail) {
    __m256 acc[8];
#pragma GCC unroll 8
    for (int v = 0; v < VECTORS; v++) acc[v] = _mm256_setzero_ps();
    for (size_t p = 0; p < pixels; p++, in += C) {
#pragma GCC unroll 8
        for (int v = 0; v < VECTORS - 1; v++) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(in + 8 * v));
        acc[VECTORS - 1] = _mm256_add_ps(acc[VECTORS - 1], _mm256_maskload_ps(in + 8 * (VECTORS - 1), tail));
    }
#pragma GCC unroll 8
    for (int v = 0; v < VECTORS - 1; v++) _mm256_storeu_ps(out + 8 * v, _mm256_div_ps(acc[v], _mm256_set1_ps(count)));
    _mm256_maskstore_ps(out + 8 * (VECTORS - 1), tail, _mm256_div_ps(acc[VECTORS - 1], _mm256_set1_ps(count)));
}

static void mean_task(void *ctx, size_t task, int thread) {
    const mean_job *job = ctx;
    const size_t n = task / job->blocks, c0 = task % job->blocks * BLOCK, C = job->channels;
    const size_t width = C - c0 < BLOCK ? C - c0 : BLOCK;
    const float *in = job->in + n * job->pixels * C + c0;
    float *out = job->out + n * C + c0;
    const float count = (float)job->pixels;
    /* A block of 64 channels, or a narrower last block (all of a tensor with fewer channels). */
    const __m256i tail = p2l_tail_mask(width % 8 ? width % 8 : 8);
    switch ((width + 7) / 8) {
    case 1: mean_vectors(1, in, job->pixels, C, out, count, tail); break;
    case 2: mean_vectors(2, in, job->pixels, C, out, count, tail); break;
    case 3: mean_vectors(3, in, job->pixels, C, out, count, tail); break;
    case 4: mean_vectors(4, in, job->pixels, C, out, count, tail); break;
    case 5: mean_vectors(5, in, job->pixels, C, out, count, tail); break;
    case 6: mean_vectors(6, in, job->pixels, C, out, count, tail); break;
    case 7: mean_vectors(7, in, job->pixels, C, out, count, tail); break;
    default: mean_vectors(8, in, job->pixels, C, out, count, tail); break;
    }
}

static p2l_status reduce_invoke(p2l_node *node) {
    mean_state *st = node->state;
    if (st->last_axis) {
        rows_job job = {node->inputs[0]->data, node->outputs[0]->data, st->rows, st->length};
        p2l_parallel_for(p2l_node_pool(node, (double)node->inputs[0]->count), (st->rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                         rows_task, &job);
        return P2L_OK;
    }
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_reduce, st->reference_state);
    const p2l_tensor *x = node->inputs[0];
    mean_job job = {x->data, node->outputs[0]->data, (size_t)x->dims[1] * (size_t)x->dims[2], (size_t)x->dims[3],
                    ((size_t)x->dims[3] + BLOCK - 1) / BLOCK};
    p2l_parallel_for(p2l_node_pool(node, (double)x->count), (size_t)x->dims[0] * job.blocks, mean_task, &job);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_reduce_x86 = {
    .prepare = reduce_prepare, .invoke = reduce_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
