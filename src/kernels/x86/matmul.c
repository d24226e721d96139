/* FULLY_CONNECTED and BATCH_MATMUL with constant right-hand side, float32, AVX2/FMA: the weights
 * are packed once at prepare and every row of the input goes through the GEMM micro-kernel. With
 * one input row (a classifier head) the work is split over column panels; with many, over rows.
 * BATCH_MATMUL is covered when its right-hand side is a constant matrix shared by every batch and
 * the left one is not transposed (then all batches are one tall GEMM); other cases use the
 * reference kernel. */
#include "kernels/x86/x86.h"

enum { BLOCK_BYTES = 512 * 1024 };

typedef struct matmul_state {
    void *reference_state;
    bool fast;
    p2l_clamp clamp;
    p2l_gemm_b b;
    p2l_gemm_split split;
    size_t m;
} matmul_state;

typedef struct matmul_job {
    const p2l_node *node;
    const matmul_state *st;
} matmul_job;

static void matmul_task(void *ctx, size_t task, int thread) {
    const matmul_job *job = ctx;
    const matmul_state *st = job->st;
    const p2l_gemm_split *sp = &st->split;
    const size_t block = task / (size_t)sp->chunks, chunk = task % (size_t)sp->chunks;
    const size_t row0 = block * sp->block_rows;
    const size_t rows = st->m - row0 < sp->block_rows ? st->m - row0 : sp->block_rows;
    const int panel_begin = (int)chunk * sp->chunk_panels;
    const int panel_end = panel_begin + sp->chunk_panels < st->b.panels ? panel_begin + sp->chunk_panels : st->b.panels;
    const size_t K = (size_t)st->b.k, N = (size_t)st->b.n;
    p2l_gemm_run(&st->b, rows, (const float *)job->node->inputs[0]->data + row0 * K, K,
                 (float *)job->node->outputs[0]->data + row0 * N, N, panel_begin, panel_end, &st->clamp);
}

static p2l_status run(p2l_node *node, const matmul_state *st) {
    matmul_job job = {node, st};
    p2l_parallel_for(node->exec ? node->exec->pool : NULL, st->split.row_blocks * (size_t)st->split.chunks, matmul_task,
                     &job);
    return P2L_OK;
}

static matmul_state *new_state(p2l_node *node) {
    matmul_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (st) {
        st->reference_state = node->state;
        node->state = st;
    }
    return st;
}

static void plan(p2l_node *node, matmul_state *st, size_t m) {
    st->m = m;
    p2l_gemm_plan(m, st->b.k, st->b.panels, p2l_node_threads(node), BLOCK_BYTES, &st->split);
    st->fast = true;
}

static p2l_status fully_connected_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_fully_connected.prepare(node));
    matmul_state *st = new_state(node);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    if (!w->known || (bias && !bias->known) ||
        !p2l_clamp_of(p2l_option_int(node, "fused_activation_function"), &st->clamp))
        return P2L_OK;
    const int units = w->dims[0], depth = w->dims[1];
    if (units <= 0 || depth <= 0 || depth > INT32_MAX / 16) return P2L_OK;
    P2L_TRY(p2l_gemm_pack(node, &st->b, w->data, 1, (size_t)depth, depth, units, bias ? bias->data : NULL));
    plan(node, st, x->count / (size_t)depth);
    return P2L_OK;
}

static p2l_status fully_connected_invoke(p2l_node *node) {
    matmul_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_fully_connected, st->reference_state);
    return run(node, st);
}

const p2l_kernel p2l_kernel_fully_connected_x86 = {
    .prepare = fully_connected_prepare, .invoke = fully_connected_invoke,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 2,
};

static p2l_status batch_matmul_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_batch_matmul.prepare(node));
    matmul_state *st = new_state(node);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    p2l_clamp_of(P2L_ACT_NONE, &st->clamp);
    if (!b->known || p2l_option_int(node, "adj_x")) return P2L_OK;
    for (int d = 0; d < b->rank - 2; d++)
        if (b->dims[d] != 1) return P2L_OK;
    const bool adj_y = p2l_option_int(node, "adj_y");
    const int rows = b->dims[b->rank - 2], cols = b->dims[b->rank - 1];
    const int k = adj_y ? cols : rows, n = adj_y ? rows : cols;
    if (k <= 0 || n <= 0 || k > INT32_MAX / 16) return P2L_OK;
    /* The output's batch dims must be A's own (B broadcasts against them, not the other way). */
    if (node->outputs[0]->count != a->count / (size_t)k * (size_t)n) return P2L_OK;
    P2L_TRY(p2l_gemm_pack(node, &st->b, b->data, adj_y ? 1 : (size_t)n, adj_y ? (size_t)k : 1, k, n, NULL));
    plan(node, st, a->count / (size_t)k);
    return P2L_OK;
}

static p2l_status batch_matmul_invoke(p2l_node *node) {
    matmul_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_batch_matmul, st->reference_state);
    return run(node, st);
}

const p2l_kernel p2l_kernel_batch_matmul_x86 = {
    .prepare = batch_matmul_prepare, .invoke = batch_matmul_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
