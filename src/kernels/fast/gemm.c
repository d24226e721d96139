/* GEMM parts every ISA shares: the packing of B into panels (fast.h), the loop of tiles over the
 * panels and the split of a GEMM into tasks. The tiles that read the panels are per ISA
 * (x86/gemm*.c, arm/gemm.c). */
#include "kernels/fast/fast.h"

int p2l_gemm_padded_n(int n) {
    int full = n / P2L_GEMM_NR * P2L_GEMM_NR, rest = n - full;
    return rest == 0 ? full : rest <= 8 ? full + 8 : full + P2L_GEMM_NR;
}

void p2l_gemm_pack_into(p2l_gemm_b *b, float *data, float *bias_out, const float *src, size_t k_stride,
                        size_t n_stride, int k, int n, const float *bias) {
    const int padded = p2l_gemm_padded_n(n);
    *b = (p2l_gemm_b){data, bias_out, k, n, padded, p2l_gemm_panels(n)};
    for (int col = 0; col < padded; col += P2L_GEMM_NR) {
        const int width = padded - col < P2L_GEMM_NR ? padded - col : P2L_GEMM_NR;
        float *panel = data + (size_t)col * (size_t)k;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < width; j++)
                panel[(size_t)kk * width + j] = col + j < n ? src[(size_t)kk * k_stride + (size_t)(col + j) * n_stride] : 0.0f;
    }
    for (int j = 0; j < padded; j++) bias_out[j] = bias && j < n ? bias[j] : 0.0f;
}

typedef struct gemm_pack_args {
    const float *src, *bias;
    size_t k_stride, n_stride, bias_offset; /* bias_offset: floats from data to the packed bias */
    int k, n;
} gemm_pack_args;

static p2l_status derive_gemm_b(void *data, const void *ctx) {
    const gemm_pack_args *a = ctx;
    p2l_gemm_b unused;
    p2l_gemm_pack_into(&unused, data, (float *)data + a->bias_offset, a->src, a->k_stride, a->n_stride, a->k, a->n,
                       a->bias);
    return P2L_OK;
}

p2l_status p2l_gemm_pack(p2l_node *node, bool from_constants, p2l_gemm_b *b, const float *src, size_t k_stride,
                         size_t n_stride, int k, int n, const float *bias) {
    const int padded_n = p2l_gemm_padded_n(n);
    size_t floats;
    if (!p2l_mul_size((size_t)k, (size_t)padded_n, &floats) || floats > SIZE_MAX / 8)
        return p2l_fail(P2L_ERROR_LIMIT, "packed weights of %d x %d are too large", k, n);
    /* One block: the panels, then the bias at the next 64-byte boundary. */
    const size_t bias_offset = (floats + 15) & ~(size_t)15;
    const gemm_pack_args args = {src, bias, k_stride, n_stride, bias_offset, k, n};
    const p2l_derived_key key = {P2L_DERIVED_GEMM_B, src, bias, {(int64_t)k_stride, (int64_t)n_stride, k, n}};
    const void *data;
    P2L_TRY(p2l_fast_derive(node, from_constants, &key, (bias_offset + (size_t)padded_n) * sizeof(float),
                            derive_gemm_b, &args, &data));
    *b = (p2l_gemm_b){data, (const float *)data + bias_offset, k, n, padded_n, p2l_gemm_panels(n)};
    return P2L_OK;
}

void p2l_gemm_run_tiles(const p2l_gemm_tile_fn tiles[2][P2L_GEMM_MR + 1], const p2l_gemm_b *b, size_t m,
                        const float *a, size_t lda, float *c, size_t ldc, int panel_begin, int panel_end,
                        const p2l_clamp *clamp) {
    const size_t k = (size_t)b->k;
    for (int panel = panel_begin; panel < panel_end; panel++) {
        const int col = panel * P2L_GEMM_NR;
        const int width = b->padded_n - col < P2L_GEMM_NR ? b->padded_n - col : P2L_GEMM_NR;
        const int nc = b->n - col < width ? b->n - col : width;
        const float *bp = b->data + (size_t)col * k, *bias = b->bias + col;
        const p2l_gemm_tile_fn *row = tiles[width == P2L_GEMM_NR];
        size_t i = 0;
        for (; i + P2L_GEMM_MR <= m; i += P2L_GEMM_MR)
            row[P2L_GEMM_MR](k, a + i * lda, lda, bp, bias, c + i * ldc + col, ldc, nc, clamp);
        if (i < m) row[m - i](k, a + i * lda, lda, bp, bias, c + i * ldc + col, ldc, nc, clamp);
    }
}

/* The tiles go down one panel of a row block, then the next: the block's rows of C must stay in
 * cache until its last panel, or each panel's pass fetches them again (attention's 1500 x 1500
 * scores with k = 32 took twice as long as one pass over C). */
enum { MAX_C_BLOCK_BYTES = 512 * 1024 };

size_t p2l_gemm_c_block_rows(int panels) {
    const size_t rows = MAX_C_BLOCK_BYTES / ((size_t)(panels > 0 ? panels : 1) * P2L_GEMM_NR * sizeof(float));
    return rows < P2L_GEMM_MR ? P2L_GEMM_MR : rows / P2L_GEMM_MR * P2L_GEMM_MR;
}

void p2l_gemm_plan(size_t m, int k, int panels, int threads, size_t max_block_bytes, p2l_gemm_split *split) {
    p2l_gemm_plan_tasks(m, k, panels, threads, max_block_bytes, P2L_GEMM_TASKS_PER_THREAD, split);
}

void p2l_gemm_plan_tasks(size_t m, int k, int panels, int threads, size_t max_block_bytes, int tasks_per_thread,
                         p2l_gemm_split *split) {
    size_t row_bytes = (size_t)(k > 0 ? k : 1) * sizeof(float);
    /* Below P2L_MIN_PARALLEL_WORK multiply-adds, waking another thread costs more than it saves. */
    if ((double)m * (double)k * (double)panels * P2L_GEMM_NR < P2L_MIN_PARALLEL_WORK) threads = 1;
    size_t rows = max_block_bytes / row_bytes;
    const size_t c_rows = p2l_gemm_c_block_rows(panels);
    if (c_rows < rows) rows = c_rows;
    rows = rows / P2L_GEMM_MR * P2L_GEMM_MR;
    if (rows < P2L_GEMM_MR) rows = P2L_GEMM_MR;
    /* B larger than the cache: every row block streams all of it (or of its column chunk) past its
     * rows, so keep the row blocks as tall as the budget allows, evened out, and give the threads
     * chunks of columns instead, two per thread (ResNet's last 3x3 layers, 9 MB of weights for 49
     * rows, streamed them five times over at 2 threads). */
    const double b_bytes = (double)(k > 0 ? k : 1) * (double)panels * P2L_GEMM_NR * sizeof(float);
    const bool large_b = threads > 1 && b_bytes > P2L_GEMM_LARGE_B_BYTES && panels >= 2 * threads;
    const size_t want = (size_t)threads * (size_t)(large_b ? 2 : tasks_per_thread);
    if (large_b && m) {
        const size_t blocks = (m + rows - 1) / rows;
        rows = ((m + blocks - 1) / blocks + P2L_GEMM_MR - 1) / P2L_GEMM_MR * P2L_GEMM_MR;
    } else if (threads > 1) {
        /* Several tasks per thread, so a thread slowed by the machine does not hold up the op: the
         * last one to finish is small. Smaller row blocks cost little, as B is streamed once per
         * tile of rows anyway. */
        size_t fair = (m + want - 1) / want;
        fair = (fair + P2L_GEMM_MR - 1) / P2L_GEMM_MR * P2L_GEMM_MR;
        if (fair < P2L_GEMM_MR) fair = P2L_GEMM_MR;
        if (fair < rows) rows = fair;
    }
    size_t blocks = m ? (m + rows - 1) / rows : 0;
    int chunks = 1;
    if (threads > 1 && blocks < want && panels > 1) {
        size_t c = (want + blocks - 1) / (blocks ? blocks : 1);
        chunks = c > (size_t)panels ? panels : (int)c;
    }
    int per_chunk = panels > 0 ? (panels + chunks - 1) / chunks : 0;
    if (per_chunk > 1 && per_chunk % 2) per_chunk++; /* whole pairs of panels (the AVX-512 tiles) */
    if (per_chunk > 0) chunks = (panels + per_chunk - 1) / per_chunk;
    *split = (p2l_gemm_split){rows, blocks, per_chunk, chunks};
}
