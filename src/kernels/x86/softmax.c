/* SOFTMAX along the last axis, float32, AVX2: row max, then exp((x - max) * beta) stored and
 * summed, then one scaling pass. Rows are tasks. LOG_SOFTMAX uses the reference kernel. */
#include "kernels/x86/x86.h"

typedef struct softmax_state {
    void *reference_state;
    bool fast;
    float beta;
} softmax_state;

static p2l_status softmax_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_softmax.prepare(node));
    softmax_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->reference_state = node->state;
    node->state = st;
    const p2l_tensor *x = node->inputs[0];
    st->fast = node->op == P2L_OP_SOFTMAX && x->dims[x->rank - 1] > 0;
    st->beta = p2l_option_float(node, "beta");
    return P2L_OK;
}

typedef struct softmax_job {
    const float *in;
    float *out;
    size_t depth;
    float beta;
} softmax_job;

static float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void softmax_task(void *ctx, size_t row, int thread) {
    const softmax_job *job = ctx;
    const size_t n = job->depth;
    const float *in = job->in + row * n;
    float *out = job->out + row * n;
    __m256 vmax = _mm256_set1_ps(in[0]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(in + i));
    float max = hmax(vmax);
    for (; i < n; i++) max = in[i] > max ? in[i] : max;
    const __m256 m = _mm256_set1_ps(max), beta = _mm256_set1_ps(job->beta);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = p2l_exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), m), beta));
        _mm256_storeu_ps(out + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (i < n) {
        const __m256i mask = p2l_tail_mask(n - i);
        __m256 e = p2l_exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(in + i, mask), m), beta));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
        _mm256_maskstore_ps(out + i, mask, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 scale = _mm256_set1_ps(1.0f / hsum(vsum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), scale));
    for (; i < n; i++) out[i] *= _mm256_cvtss_f32(scale);
}

static p2l_status softmax_invoke(p2l_node *node) {
    softmax_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_softmax, st->reference_state);
    const p2l_tensor *x = node->inputs[0];
    softmax_job job = {x->data, node->outputs[0]->data, (size_t)x->dims[x->rank - 1], st->beta};
    /* exp per element: a few element-wise ops' worth of work each */
    p2l_parallel_for(p2l_node_pool(node, 4.0 * (double)x->count), x->count / job.depth, softmax_task, &job);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_softmax_x86 = {
    .prepare = softmax_prepare, .invoke = softmax_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
