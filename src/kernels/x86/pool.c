/* MAX_POOL_2D and AVERAGE_POOL_2D, NHWC float32, AVX2: for each output pixel the window is clipped
 * to the input once, then channels go 8 at a time (masked tail). The average divides by the
 * number of window elements inside the input, as the reference does. Tasks: output rows. */
#include "kernels/x86/x86.h"

typedef struct pool_state {
    void *reference_state;
    bool fast;
    p2l_clamp clamp;
} pool_state;

static p2l_status pool_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_pool.prepare(node));
    pool_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->reference_state = node->state;
    node->state = st;
    const p2l_pool_params *p = st->reference_state;
    st->fast = p2l_clamp_of(p->activation, &st->clamp);
    return P2L_OK;
}

typedef struct pool_job {
    const p2l_node *node;
    const pool_state *st;
} pool_job;

static void pool_task(void *ctx, size_t task, int thread) {
    const pool_job *job = ctx;
    const pool_state *st = job->st;
    const p2l_pool_params *p = st->reference_state;
    const p2l_tensor *x = job->node->inputs[0], *y = job->node->outputs[0];
    const int H = x->dims[1], W = x->dims[2], OH = y->dims[1], OW = y->dims[2];
    const size_t C = (size_t)x->dims[3], n = task / (size_t)OH;
    const int oy = (int)(task % (size_t)OH);
    const bool average = job->node->op == P2L_OP_AVERAGE_POOL_2D;
    const float *in = (const float *)x->data + n * (size_t)H * (size_t)W * C;
    float *out = (float *)y->data + task * (size_t)OW * C;
    const __m256 lo = _mm256_set1_ps(st->clamp.lo), hi = _mm256_set1_ps(st->clamp.hi);
    const int y0 = oy * p->stride_h - p->pad_h;
    const int ys = y0 < 0 ? 0 : y0, ye = y0 + p->filter_h < H ? y0 + p->filter_h : H;
    for (int ox = 0; ox < OW; ox++, out += C) {
        const int x0 = ox * p->stride_w - p->pad_w;
        const int xs = x0 < 0 ? 0 : x0, xe = x0 + p->filter_w < W ? x0 + p->filter_w : W;
        const int count = (ye - ys) * (xe - xs);
        const __m256 divisor = _mm256_set1_ps((float)count);
        for (size_t c = 0; c < C; c += 8) {
            const __m256i mask = p2l_tail_mask(C - c < 8 ? C - c : 8);
            __m256 acc = average ? _mm256_setzero_ps() : _mm256_set1_ps(-__builtin_inff());
            for (int iy = ys; iy < ye; iy++)
                for (int ix = xs; ix < xe; ix++) {
                    const __m256 v = _mm256_maskload_ps(in + ((size_t)iy * (size_t)W + (size_t)ix) * C + c, mask);
                    /* The reference's v > acc ? v : acc keeps the first NaN out; max_ps(v, acc) is the same. */
                    acc = average ? _mm256_add_ps(acc, v) : _mm256_max_ps(v, acc);
                }
            if (average) acc = count > 0 ? _mm256_div_ps(acc, divisor) : _mm256_setzero_ps();
            if (st->clamp.on) acc = _mm256_min_ps(hi, _mm256_max_ps(lo, acc));
            _mm256_maskstore_ps(out + c, mask, acc);
        }
    }
}

static p2l_status pool_invoke(p2l_node *node) {
    pool_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_pool, st->reference_state);
    const p2l_tensor *y = node->outputs[0];
    pool_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, (double)node->inputs[0]->count), (size_t)y->dims[0] * (size_t)y->dims[1],
                     pool_task, &job);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_pool_x86 = {
    .prepare = pool_prepare, .invoke = pool_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
