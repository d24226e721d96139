/* Float ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM with broadcasting: the driver. Broadcasting (common.c)
 * turns the op into rows where each operand advances or repeats; each row goes to the ISA's row
 * function of the op, which applies the fused activation before the store. Large outputs are split
 * over the threads by rows (or by pieces of one long row). */
#include "kernels/fast/fast.h"

enum { CHUNK = 16384 }; /* output elements per task */

typedef struct binary_state {
    void *reference_state;
    p2l_binary_row_fn row; /* the ISA's; NULL: reference kernel */
    p2l_clamp clamp;
    p2l_bcast bcast;
    size_t rows_per_task, tasks;
} binary_state;

static p2l_status binary_prepare(p2l_node *node) {
    binary_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1], *y = node->outputs[0];
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || a->dtype != P2L_FLOAT32) return P2L_OK;
    int activation = p2l_fused_activation(node);
    if (!p2l_clamp_of(activation, &st->clamp)) return P2L_OK;
    const p2l_tensor *operands[2] = {a, b};
    p2l_bcast_init(&st->bcast, 2, operands, y->rank, y->dims);
    const p2l_bcast *bc = &st->bcast;
    st->rows_per_task = bc->inner >= CHUNK ? 1 : CHUNK / (bc->inner ? bc->inner : 1);
    st->tasks = bc->rows == 1 ? (bc->inner + CHUNK - 1) / CHUNK : (bc->rows + st->rows_per_task - 1) / st->rows_per_task;
    switch (node->op) {
    case P2L_OP_ADD: st->row = isa->binary_rows[P2L_BINARY_ADD]; break;
    case P2L_OP_SUB: st->row = isa->binary_rows[P2L_BINARY_SUB]; break;
    case P2L_OP_MUL: st->row = isa->binary_rows[P2L_BINARY_MUL]; break;
    case P2L_OP_DIV: st->row = isa->binary_rows[P2L_BINARY_DIV]; break;
    case P2L_OP_MAXIMUM: st->row = isa->binary_rows[P2L_BINARY_MAX]; break;
    case P2L_OP_MINIMUM: st->row = isa->binary_rows[P2L_BINARY_MIN]; break;
    default: break;
    }
    return P2L_OK;
}

typedef struct binary_job {
    const binary_state *st;
    const float *a, *b;
    float *out;
} binary_job;

static void binary_task(void *ctx, size_t task, int thread) {
    const binary_job *job = ctx;
    const binary_state *st = job->st;
    const p2l_bcast *bc = &st->bcast;
    const size_t sa = bc->strides[0][bc->rank - 1], sb = bc->strides[1][bc->rank - 1];
    if (bc->rows == 1) { /* one long row: a piece of it */
        size_t begin = task * CHUNK, n = bc->inner - begin < CHUNK ? bc->inner - begin : CHUNK;
        st->row(job->a + begin * sa, sa, job->b + begin * sb, sb, job->out + begin, n, &st->clamp);
        return;
    }
    size_t row = task * st->rows_per_task;
    size_t end = row + st->rows_per_task < bc->rows ? row + st->rows_per_task : bc->rows;
    if (bc->rank == 2) { /* one outer dim (a per-channel vector against each pixel): offsets are linear */
        const size_t ra = bc->strides[0][0], rb = bc->strides[1][0];
        for (; row < end; row++)
            st->row(job->a + row * ra, sa, job->b + row * rb, sb, job->out + row * bc->inner, bc->inner, &st->clamp);
        return;
    }
    /* The operands' offsets at this row: its index over the outer dims. */
    p2l_bcast_iter it = {0};
    size_t rest = row;
    for (int d = bc->rank - 2; d >= 0; d--) {
        it.index[d] = (int32_t)(rest % (size_t)bc->dims[d]);
        rest /= (size_t)bc->dims[d];
        it.offset[0] += (size_t)it.index[d] * bc->strides[0][d];
        it.offset[1] += (size_t)it.index[d] * bc->strides[1][d];
    }
    for (; row < end; row++) {
        st->row(job->a + it.offset[0], sa, job->b + it.offset[1], sb, job->out + row * bc->inner, bc->inner, &st->clamp);
        if (row + 1 < bc->rows) p2l_bcast_next_row(bc, &it);
    }
}

static p2l_status binary_invoke(p2l_node *node) {
    binary_state *st = node->state;
    if (!st->row) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    binary_job job = {st, node->inputs[0]->data, node->inputs[1]->data, node->outputs[0]->data};
    if (node->outputs[0]->count == 0) return P2L_OK;
    p2l_parallel_for(p2l_node_pool(node, (double)node->outputs[0]->count), st->tasks, binary_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_binary = {binary_prepare, binary_invoke};
