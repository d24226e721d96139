/* MAX_POOL_2D and AVERAGE_POOL_2D, NHWC float32, the driver: output rows are tasks, each one call of
 * the ISA's pooling row with the window's rows clipped to the input. */
#include "kernels/fast/fast.h"

typedef struct pool_state {
    void *reference_state;
    p2l_pool_row_fn row; /* the ISA's; NULL: reference kernel */
    p2l_clamp clamp;
} pool_state;

static p2l_status pool_prepare(p2l_node *node) {
    pool_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_pool_params *p = st->reference_state;
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (isa && p2l_clamp_of(p->activation, &st->clamp)) st->row = isa->pool_row;
    return P2L_OK;
}

static void pool_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const pool_state *st = job->state;
    const p2l_pool_params *p = st->reference_state;
    const p2l_tensor *x = job->node->inputs[0], *y = job->node->outputs[0];
    const int H = x->dims[1], W = x->dims[2], OH = y->dims[1], OW = y->dims[2];
    const size_t C = (size_t)x->dims[3], n = task / (size_t)OH;
    const int y0 = (int)(task % (size_t)OH) * p->stride_h - p->pad_h;
    const p2l_pool_row_args args = {
        .in = (const float *)x->data + n * (size_t)H * (size_t)W * C, .out = (float *)y->data + task * (size_t)OW * C,
        .W = W, .OW = OW, .ys = y0 < 0 ? 0 : y0, .ye = y0 + p->filter_h < H ? y0 + p->filter_h : H,
        .stride_w = p->stride_w, .pad_w = p->pad_w, .filter_w = p->filter_w, .C = C,
        .average = job->node->op == P2L_OP_AVERAGE_POOL_2D, .clamp = &st->clamp};
    st->row(&args);
}

static p2l_status pool_invoke(p2l_node *node) {
    pool_state *st = node->state;
    if (!st->row) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const p2l_tensor *y = node->outputs[0];
    p2l_fast_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, (double)node->inputs[0]->count), (size_t)y->dims[0] * (size_t)y->dims[1],
                     pool_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_pool = {pool_prepare, pool_invoke};
