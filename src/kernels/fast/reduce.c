/* MEAN, float32, the driver:
 * - over the spatial dims of an NHWC tensor (axes 1 and 2: global average pooling): tasks are
 *   (image, block of P2L_MEAN_BLOCK channels), each one call of the ISA's channel means;
 * - over the last axis alone (layer norm's statistics): tasks are blocks of rows.
 * Other reductions use the reference kernel. */
#include "kernels/fast/fast.h"

enum { ROWS_PER_TASK = 64 };

typedef struct mean_state {
    void *reference_state;
    const p2l_fast_isa *isa;
    bool fast;       /* global average pooling */
    bool last_axis;  /* rows of the last axis */
    size_t rows, length;
} mean_state;

static p2l_status reduce_prepare(p2l_node *node) {
    mean_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *x = node->inputs[0];
    st->isa = p2l_fast_isa_active();
    if (!st->isa || node->op != P2L_OP_MEAN || x->dtype != P2L_FLOAT32 || x->rank < 1 || x->count == 0) return P2L_OK;
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

typedef struct rows_job {
    const p2l_fast_isa *isa;
    const float *in;
    float *out;
    size_t rows, length;
} rows_job;

static void rows_task(void *ctx, size_t task, int thread) {
    const rows_job *job = ctx;
    const size_t first = task * ROWS_PER_TASK;
    const size_t end = first + ROWS_PER_TASK < job->rows ? first + ROWS_PER_TASK : job->rows;
    job->isa->mean_rows(job->in + first * job->length, job->out + first, end - first, job->length);
}

typedef struct mean_job {
    const p2l_fast_isa *isa;
    const float *in;
    float *out;
    size_t pixels, channels, blocks;
} mean_job;

static void mean_task(void *ctx, size_t task, int thread) {
    const mean_job *job = ctx;
    const size_t n = task / job->blocks, c0 = task % job->blocks * P2L_MEAN_BLOCK, C = job->channels;
    const size_t width = C - c0 < P2L_MEAN_BLOCK ? C - c0 : P2L_MEAN_BLOCK;
    job->isa->channel_means(job->in + n * job->pixels * C + c0, job->pixels, C, width, job->out + n * C + c0);
}

static p2l_status reduce_invoke(p2l_node *node) {
    mean_state *st = node->state;
    if (st->last_axis) {
        rows_job job = {st->isa, node->inputs[0]->data, node->outputs[0]->data, st->rows, st->length};
        p2l_parallel_for(p2l_node_pool(node, (double)node->inputs[0]->count), (st->rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                         rows_task, &job);
        return P2L_OK;
    }
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const p2l_tensor *x = node->inputs[0];
    mean_job job = {st->isa, x->data, node->outputs[0]->data, (size_t)x->dims[1] * (size_t)x->dims[2],
                    (size_t)x->dims[3], ((size_t)x->dims[3] + P2L_MEAN_BLOCK - 1) / P2L_MEAN_BLOCK};
    p2l_parallel_for(p2l_node_pool(node, (double)x->count), (size_t)x->dims[0] * job.blocks, mean_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_reduce = {reduce_prepare, reduce_invoke};
