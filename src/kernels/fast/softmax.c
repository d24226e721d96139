/* SOFTMAX along the last axis, float32, the driver: rows are tasks, each one call of the ISA's
 * softmax row. LOG_SOFTMAX uses the reference kernel. */
#include "kernels/fast/fast.h"

typedef struct softmax_state {
    void *reference_state;
    p2l_softmax_row_fn row; /* the ISA's; NULL: reference kernel */
    float beta;
} softmax_state;

static p2l_status softmax_prepare(p2l_node *node) {
    softmax_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *x = node->inputs[0];
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (isa && node->op == P2L_OP_SOFTMAX && x->dims[x->rank - 1] > 0) st->row = isa->softmax_row;
    st->beta = node->opts.softmax.beta;
    return P2L_OK;
}

typedef struct softmax_job {
    p2l_softmax_row_fn row;
    const float *in;
    float *out;
    size_t depth;
    float beta;
} softmax_job;

static void softmax_task(void *ctx, size_t row, int thread) {
    const softmax_job *job = ctx;
    job->row(job->in + row * job->depth, job->out + row * job->depth, job->depth, job->beta);
}

static p2l_status softmax_invoke(p2l_node *node) {
    softmax_state *st = node->state;
    if (!st->row) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const p2l_tensor *x = node->inputs[0];
    softmax_job job = {st->row, x->data, node->outputs[0]->data, (size_t)x->dims[x->rank - 1], st->beta};
    /* exp per element: a few element-wise ops' worth of work each */
    p2l_parallel_for(p2l_node_pool(node, 4.0 * (double)x->count), x->count / job.depth, softmax_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_softmax = {softmax_prepare, softmax_invoke};
