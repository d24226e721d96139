/* MEAN over the spatial dims of an NHWC tensor (axes 1 and 2: global average pooling), float32,
 * AVX2. Each output channel sums its pixels in order, as the reference does, 64 channels at a time
 * in 8 accumulators, then divides by the pixel count. Tasks: (image, block of 64 channels). Other
 * reductions use the reference kernel. */
#include "kernels/x86/x86.h"

enum { BLOCK = 64 };

typedef struct mean_state {
    void *reference_state;
    bool fast;
} mean_state;

static p2l_status reduce_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_reduce.prepare(node));
    mean_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->reference_state = node->state;
    node->state = st;
    const p2l_tensor *x = node->inputs[0];
    if (node->op != P2L_OP_MEAN || x->dtype != P2L_FLOAT32 || x->rank != 4) return P2L_OK;
    int64_t axes[8];
    size_t n;
    P2L_TRY(p2l_read_ints(node->inputs[1], axes, 8, &n)); /* known: checked by the reference prepare */
    bool mask[4] = {0};
    for (size_t i = 0; i < n; i++) {
        int axis;
        P2L_TRY(p2l_normalize_axis(axes[i], 4, &axis));
        mask[axis] = true;
    }
    st->fast = !mask[0] && mask[1] && mask[2] && !mask[3] && x->dims[1] > 0 && x->dims[2] > 0;
    return P2L_OK;
}

typedef struct mean_job {
    const float *in;
    float *out;
    size_t pixels, channels, blocks;
} mean_job;

static void mean_task(void *ctx, size_t task, int thread) {
    const mean_job *job = ctx;
    const size_t n = task / job->blocks, c0 = task % job->blocks * BLOCK, C = job->channels;
    const size_t width = C - c0 < BLOCK ? C - c0 : BLOCK;
    const float *in = job->in + n * job->pixels * C + c0;
    float *out = job->out + n * C + c0;
    const float count = (float)job->pixels;
    if (width == BLOCK) {
        __m256 acc[8];
        for (int v = 0; v < 8; v++) acc[v] = _mm256_setzero_ps();
        for (size_t p = 0; p < job->pixels; p++, in += C)
            for (int v = 0; v < 8; v++) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(in + 8 * v));
        for (int v = 0; v < 8; v++) _mm256_storeu_ps(out + 8 * v, _mm256_div_ps(acc[v], _mm256_set1_ps(count)));
        return;
    }
    for (size_t c = 0; c < width; c += 8) {
        const __m256i mask = p2l_tail_mask(width - c < 8 ? width - c : 8);
        __m256 acc = _mm256_setzero_ps();
        const float *ip = in + c;
        for (size_t p = 0; p < job->pixels; p++, ip += C) acc = _mm256_add_ps(acc, _mm256_maskload_ps(ip, mask));
        _mm256_maskstore_ps(out + c, mask, _mm256_div_ps(acc, _mm256_set1_ps(count)));
    }
}

static p2l_status reduce_invoke(p2l_node *node) {
    mean_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_reduce, st->reference_state);
    const p2l_tensor *x = node->inputs[0];
    mean_job job = {x->data, node->outputs[0]->data, (size_t)x->dims[1] * (size_t)x->dims[2], (size_t)x->dims[3],
                    ((size_t)x->dims[3] + BLOCK - 1) / BLOCK};
    p2l_parallel_for(node->exec ? node->exec->pool : NULL, (size_t)x->dims[0] * job.blocks, mean_task, &job);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_reduce_x86 = {
    .prepare = reduce_prepare, .invoke = reduce_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
