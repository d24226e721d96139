/* FULLY_CONNECTED and BATCH_MATMUL with constant right-hand side, float32: the weights are packed
 * once at prepare and every row of the input goes through the ISA's GEMM micro-kernel. With
 * one input row (a classifier head) the work is split over column panels; with many, over rows.
 * BATCH_MATMUL (left side not transposed): a constant right-hand side shared by every batch is
 * packed once and all batches are one tall GEMM; a right-hand side computed at run time
 * (attention's K^T and V) is packed at each invoke, once when one matrix is shared by every batch,
 * else per batch, the batches split over the threads; with at most DIRECT_MAX_ROWS rows of A per batch
 * (decode attention) it is not packed: the product reads B as it is. Broadcast batch dims and adj_x use the
 * reference kernel. */
#include "kernels/fast/fast.h"

enum { BLOCK_BYTES = 512 * 1024, MIN_CHUNK_ROWS = 24, DIRECT_MAX_ROWS = 8 };

typedef struct matmul_state {
    void *reference_state;
    p2l_gemm_fn gemm; /* the ISA's; NULL: reference kernel */
    bool fast;
    p2l_clamp clamp;
    p2l_gemm_b b;
    p2l_gemm_split split;
    size_t m;
    /* BATCH_MATMUL with B computed at run time: */
    bool pack_each_invoke;  /* B packed into `packed` at each invoke (with `b` then as above) */
    bool per_batch;         /* ... or one pack and GEMM per batch, into the thread's scratch */
    bool adj_y;
    int k, n;
    size_t batches, rows;   /* per_batch: batch count and rows of A per batch */
    size_t chunk_rows, chunks; /* ... cut into chunks of rows when there are fewer batches than threads */
    bool direct;            /* ... or few rows of A per batch: computed straight from B's layout */
    size_t b_stride;        /* direct: floats from one batch's B to the next (0: one B for all) */
    float *packed;          /* pack_each_invoke: the one packed B (per_batch: the thread's scratch) */
    size_t packed_floats;   /* packed B then its zero bias, rounded up to 16 floats */
} matmul_state;

static void matmul_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const matmul_state *st = job->state;
    const p2l_gemm_task t = p2l_gemm_task_of(&st->split, st->m, st->b.panels, task);
    const size_t K = (size_t)st->b.k, N = (size_t)st->b.n;
    st->gemm(&st->b, t.rows, (const float *)job->node->inputs[0]->data + t.row0 * K, K,
             (float *)job->node->outputs[0]->data + t.row0 * N, N, t.panel_begin, t.panel_end, &st->clamp);
}

static p2l_status run(p2l_node *node, const matmul_state *st) {
    p2l_fast_job job = {node, st};
    p2l_parallel_for(node->exec ? node->exec->pool : NULL, st->split.row_blocks * (size_t)st->split.chunks, matmul_task,
                     &job);
    return P2L_OK;
}

static matmul_state *new_state(p2l_node *node) {
    matmul_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (st) {
        st->reference_state = node->state;
        node->state = st;
        const p2l_fast_isa *isa = p2l_fast_isa_active();
        st->gemm = isa ? isa->gemm : NULL;
    }
    return st;
}

static void plan(p2l_node *node, matmul_state *st, size_t m) {
    st->m = m;
    p2l_gemm_plan(m, st->b.k, st->b.panels, p2l_node_threads(node), BLOCK_BYTES, &st->split);
    st->fast = true;
}

static p2l_status fully_connected_prepare(p2l_node *node) {
    P2L_TRY(p2l_reference_kernel_of(node->op)->prepare(node));
    matmul_state *st = new_state(node);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    if (!st->gemm || !w->known || w->dtype != P2L_FLOAT32 || (bias && !bias->known) ||
        !p2l_clamp_of(node->opts.fully_connected.fused_activation_function, &st->clamp))
        return P2L_OK;
    const int units = w->dims[0], depth = w->dims[1];
    if (units <= 0 || depth <= 0 || depth > INT32_MAX / 16) return P2L_OK;
    P2L_TRY(p2l_gemm_pack(node, p2l_constant_weights(w, bias), &st->b, w->data, 1, (size_t)depth, depth, units,
                          bias ? bias->data : NULL));
    plan(node, st, x->count / (size_t)depth);
    return P2L_OK;
}

static p2l_status fully_connected_invoke(p2l_node *node) {
    matmul_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    return run(node, st);
}

const p2l_fast_driver p2l_fast_fully_connected = {fully_connected_prepare, fully_connected_invoke};

/* Packs B (k x n, or n x k with adj_y) into `data` for the GEMM. */
static void pack_b(p2l_gemm_b *b, float *data, const float *src, int k, int n, bool adj_y) {
    p2l_gemm_pack_into(b, data, data + (size_t)k * (size_t)p2l_gemm_padded_n(n), src, adj_y ? 1 : (size_t)n,
                       adj_y ? (size_t)k : 1, k, n, NULL);
}

/* B computed at run time: one packed B shared by all rows of A, or per batch (prepare decides). */
static p2l_status prepare_runtime_b(p2l_node *node, matmul_state *st) {
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    if (a->rank < 2 || b->rank < 2 || a->count == 0) return P2L_OK;
    st->adj_y = node->opts.batch_matmul.adj_y;
    const int rows = b->dims[b->rank - 2], cols = b->dims[b->rank - 1];
    st->k = st->adj_y ? cols : rows;
    st->n = st->adj_y ? rows : cols;
    if (st->k <= 0 || st->n <= 0 || st->k > INT32_MAX / 16) return P2L_OK;
    const size_t b_batches = b->count / ((size_t)st->k * (size_t)st->n);
    const size_t a_batches = a->count / ((size_t)a->dims[a->rank - 2] * (size_t)a->dims[a->rank - 1]);
    if (node->outputs[0]->count != a->count / (size_t)st->k * (size_t)st->n) return P2L_OK; /* A broadcasts */
    if (b_batches != 1 && (b_batches != a_batches || a->rank != b->rank)) return P2L_OK;  /* B broadcasts */
    const size_t a_rows = (size_t)a->dims[a->rank - 2];
    if (a_rows <= DIRECT_MAX_ROWS) { /* decode attention: packing B would cost more than the product */
        st->direct = true;
        st->batches = a_batches;
        st->rows = a_rows;
        st->b_stride = b_batches == 1 ? 0 : (size_t)st->k * (size_t)st->n;
        return P2L_OK;
    }
    size_t floats;
    if (!p2l_mul_size((size_t)st->k + 1, (size_t)p2l_gemm_padded_n(st->n), &floats) ||
        floats > SIZE_MAX / sizeof(float) - 16)
        return P2L_OK;
    st->packed_floats = (floats + 15) & ~(size_t)15;
    if (b_batches == 1) { /* one B for all rows, read by every thread: the node's own memory */
        st->packed = p2l_arena_alloc(node->arena, st->packed_floats * sizeof(float));
        if (!st->packed) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        st->pack_each_invoke = true;
        st->b = (p2l_gemm_b){st->packed, NULL, st->k, st->n, p2l_gemm_padded_n(st->n), p2l_gemm_panels(st->n)};
        plan(node, st, a->count / (size_t)st->k);
    } else { /* a B per batch, packed by the thread that runs it into its scratch */
        node->scratch_bytes = st->packed_floats * sizeof(float);
        st->per_batch = true;
        st->batches = b_batches;
        st->rows = a->count / b_batches / (size_t)st->k;
        /* at least two tasks per thread, in chunks of at least MIN_CHUNK_ROWS rows (each chunk
         * packs its batch's B again: small against the chunk's GEMM) */
        const size_t want = 2 * (size_t)p2l_node_threads(node);
        st->chunks = b_batches >= want ? 1 : (want + b_batches - 1) / b_batches;
        if (st->chunks > (st->rows + MIN_CHUNK_ROWS - 1) / MIN_CHUNK_ROWS)
            st->chunks = (st->rows + MIN_CHUNK_ROWS - 1) / MIN_CHUNK_ROWS;
        if (st->chunks < 1) st->chunks = 1;
        st->chunk_rows = (st->rows + st->chunks - 1) / st->chunks;
    }
    return P2L_OK;
}

static void batch_task(void *ctx, size_t task, int thread) {
    const p2l_fast_job *job = ctx;
    const matmul_state *st = job->state;
    const size_t batch = task / st->chunks, row0 = task % st->chunks * st->chunk_rows;
    if (row0 >= st->rows) return;
    const size_t rows = st->rows - row0 < st->chunk_rows ? st->rows - row0 : st->chunk_rows;
    const size_t k = (size_t)st->k, n = (size_t)st->n;
    p2l_gemm_b b;
    pack_b(&b, p2l_node_scratch(job->node, thread), (const float *)job->node->inputs[1]->data + batch * k * n, st->k,
           st->n, st->adj_y);
    const float *a = (const float *)job->node->inputs[0]->data + (batch * st->rows + row0) * k;
    float *c = (float *)job->node->outputs[0]->data + (batch * st->rows + row0) * n;
    const size_t block = p2l_gemm_c_block_rows(b.panels);
    for (size_t r = 0; r < rows; r += block)
        st->gemm(&b, rows - r < block ? rows - r : block, a + r * k, k, c + r * n, n, 0, b.panels, &st->clamp);
}

/* x . y in 8 independent partial sums (vectorizable without reassociating a single sum). */
static float dot(const float *x, const float *y, size_t k) {
    float acc[8] = {0};
    size_t p = 0;
    for (; p + 8 <= k; p += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[p + l] * y[p + l];
    float tail = 0;
    for (; p < k; p++) tail += x[p] * y[p];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

/* One batch of few rows, from B as it is: adj_y (B is n x k) one dot per output, each B row read once
 * for all rows of A; plain B (k x n) the rows of C accumulated over B's rows, each read once. */
static void direct_task(void *ctx, size_t batch, int thread) {
    (void)thread;
    const p2l_fast_job *job = ctx;
    const matmul_state *st = job->state;
    const size_t k = (size_t)st->k, n = (size_t)st->n, m = st->rows;
    const float *a = (const float *)job->node->inputs[0]->data + batch * m * k;
    const float *b = (const float *)job->node->inputs[1]->data + batch * st->b_stride;
    float *c = (float *)job->node->outputs[0]->data + batch * m * n;
    if (st->adj_y) {
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < m; i++) c[i * n + j] = dot(a + i * k, b + j * k, k);
        return;
    }
    for (size_t e = 0; e < m * n; e++) c[e] = 0;
    for (size_t p = 0; p < k; p++) {
        const float *bp = b + p * n;
        for (size_t i = 0; i < m; i++) {
            const float aip = a[i * k + p];
            float *ci = c + i * n;
            for (size_t j = 0; j < n; j++) ci[j] += aip * bp[j];
        }
    }
}

static p2l_status batch_matmul_prepare(p2l_node *node) {
    P2L_TRY(p2l_reference_kernel_of(node->op)->prepare(node));
    matmul_state *st = new_state(node);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    p2l_clamp_of(P2L_ACT_NONE, &st->clamp);
    if (!st->gemm || node->opts.batch_matmul.adj_x) return P2L_OK;
    if (!b->known) return prepare_runtime_b(node, st);
    for (int d = 0; d < b->rank - 2; d++)
        if (b->dims[d] != 1) return P2L_OK;
    const bool adj_y = node->opts.batch_matmul.adj_y;
    const int rows = b->dims[b->rank - 2], cols = b->dims[b->rank - 1];
    const int k = adj_y ? cols : rows, n = adj_y ? rows : cols;
    if (k <= 0 || n <= 0 || k > INT32_MAX / 16) return P2L_OK;
    /* The output's batch dims must be A's own (B broadcasts against them, not the other way). */
    if (node->outputs[0]->count != a->count / (size_t)k * (size_t)n) return P2L_OK;
    P2L_TRY(p2l_gemm_pack(node, p2l_constant_weights(b, NULL), &st->b, b->data, adj_y ? 1 : (size_t)n,
                          adj_y ? (size_t)k : 1, k, n, NULL));
    plan(node, st, a->count / (size_t)k);
    return P2L_OK;
}

static p2l_status batch_matmul_invoke(p2l_node *node) {
    matmul_state *st = node->state;
    if (st->direct) {
        p2l_fast_job job = {node, st};
        p2l_parallel_for(node->exec ? node->exec->pool : NULL, st->batches, direct_task, &job);
        return P2L_OK;
    }
    if (st->per_batch) {
        p2l_fast_job job = {node, st};
        p2l_parallel_for(node->exec ? node->exec->pool : NULL, st->batches * st->chunks, batch_task, &job);
        return P2L_OK;
    }
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    if (st->pack_each_invoke) pack_b(&st->b, st->packed, node->inputs[1]->data, st->k, st->n, st->adj_y);
    return run(node, st);
}

const p2l_fast_driver p2l_fast_batch_matmul = {batch_matmul_prepare, batch_matmul_invoke};
