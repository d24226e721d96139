/* The driver of the float32 unary activations RELU, RELU6, RELU_N1_TO_1, HARD_SWISH, LOGISTIC, TANH
 * and GELU: the ISA's row function of the op over chunks of the tensor, split over the threads. */
#include "kernels/fast/fast.h"

enum { CHUNK = 16384 }; /* elements per task: big enough that handing it out costs nothing */

typedef struct unary_state {
    void *reference_state;
    p2l_unary_row_fn row; /* the ISA's; NULL: reference kernel */
} unary_state;

static p2l_status unary_prepare(p2l_node *node) {
    unary_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || node->inputs[0]->dtype != P2L_FLOAT32) return P2L_OK;
    const p2l_unary_row_fn *rows = isa->unary_rows;
    switch (node->op) {
    case P2L_OP_RELU: st->row = rows[P2L_UNARY_RELU]; break;
    case P2L_OP_RELU6: st->row = rows[P2L_UNARY_RELU6]; break;
    case P2L_OP_RELU_N1_TO_1: st->row = rows[P2L_UNARY_RELU_N1_TO_1]; break;
    case P2L_OP_HARD_SWISH: st->row = rows[P2L_UNARY_HARD_SWISH]; break;
    case P2L_OP_LOGISTIC: st->row = rows[P2L_UNARY_LOGISTIC]; break;
    case P2L_OP_TANH: st->row = rows[P2L_UNARY_TANH]; break;
    case P2L_OP_GELU: st->row = rows[node->opts.gelu.approximate ? P2L_UNARY_GELU_TANH : P2L_UNARY_GELU]; break;
    default: break;
    }
    return P2L_OK;
}

typedef struct unary_job {
    p2l_unary_row_fn row;
    const float *in;
    float *out;
    size_t count;
} unary_job;

static void unary_task(void *ctx, size_t task, int thread) {
    const unary_job *job = ctx;
    size_t begin = task * CHUNK, n = job->count - begin < CHUNK ? job->count - begin : CHUNK;
    job->row(job->in + begin, job->out + begin, n);
}

static p2l_status unary_invoke(p2l_node *node) {
    unary_state *st = node->state;
    if (!st->row) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    unary_job job = {st->row, node->inputs[0]->data, node->outputs[0]->data, node->inputs[0]->count};
    p2l_parallel_for(p2l_node_pool(node, (double)job.count), (job.count + CHUNK - 1) / CHUNK, unary_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_unary = {unary_prepare, unary_invoke};
