/* GEMM for convolutions and matrix products: packed weights and a register-blocked AVX2/FMA
 * micro-kernel.
 *
 * The micro-kernel keeps a 6 x 16 block of C in 12 ymm registers; per step of k it broadcasts one
 * element of each of the 6 A rows and multiplies it with 16 packed B values (2 loads), so 12 FMAs
 * need 8 loads, all from cache. Bias initializes the accumulators and the fused activation clamps
 * them before the only store, so C is written once. Panels narrower than 16 columns (8) and blocks
 * of fewer than 6 rows get their own instances of the same inline body. */
#include <stdlib.h>
#include <string.h>

#include "kernels/x86/x86.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

bool p2l_clamp_of(int activation, p2l_clamp *clamp) {
    *clamp = (p2l_clamp){-__builtin_inff(), __builtin_inff(), true, P2L_EPILOGUE_NONE};
    switch (activation) {
    case P2L_ACT_NONE: clamp->on = false; return true;
    case P2L_ACT_RELU: clamp->lo = 0; return true;
    case P2L_ACT_RELU_N1_TO_1: clamp->lo = -1, clamp->hi = 1; return true;
    case P2L_ACT_RELU6: clamp->lo = 0, clamp->hi = 6; return true;
    default: return false;
    }
}

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

static void *arena_alloc_aligned(p2l_arena *arena, size_t bytes) {
    uint8_t *p = p2l_arena_alloc(arena, bytes + 64);
    return p ? (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63) : NULL;
}

p2l_status p2l_gemm_pack(p2l_node *node, p2l_gemm_b *b, const float *src, size_t k_stride, size_t n_stride, int k,
                         int n, const float *bias) {
    size_t floats;
    if (!p2l_mul_size((size_t)k, (size_t)p2l_gemm_padded_n(n), &floats) || floats > SIZE_MAX / 8)
        return p2l_fail(P2L_ERROR_LIMIT, "packed weights of %d x %d are too large", k, n);
    float *data = arena_alloc_aligned(node->arena, floats * sizeof(float));
    float *bias_out = arena_alloc_aligned(node->arena, (size_t)p2l_gemm_padded_n(n) * sizeof(float));
    if (!data || !bias_out) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory packing weights");
    p2l_gemm_pack_into(b, data, bias_out, src, k_stride, n_stride, k, n, bias);
    return P2L_OK;
}

/* One MR x NR block of C. MR and NR are constants in every instance, so the loops over them unroll
 * and the accumulators live in registers. nc < NR: only the first nc columns are stored. */
ALWAYS_INLINE void tile(const int MR, const int NR, size_t k, const float *a, size_t lda, const float *b,
                        const float *bias, float *c, size_t ldc, int nc, const p2l_clamp *clamp) {
    __m256 acc0[P2L_GEMM_MR], acc1[P2L_GEMM_MR];
    const float *ap[P2L_GEMM_MR];
    const __m256 bias0 = _mm256_loadu_ps(bias);
    const __m256 bias1 = NR == 16 ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        acc0[i] = bias0;
        acc1[i] = bias1;
        ap[i] = a + (size_t)i * lda;
    }
    for (size_t p = 0; p < k; p++) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = NR == 16 ? _mm256_loadu_ps(b + 8) : _mm256_setzero_ps();
        b += NR;
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 av = _mm256_broadcast_ss(ap[i] + p);
            acc0[i] = _mm256_fmadd_ps(av, b0, acc0[i]);
            if (NR == 16) acc1[i] = _mm256_fmadd_ps(av, b1, acc1[i]);
        }
    }
    if (clamp->on) {
        /* max(lo, x) then min(hi, x): a NaN accumulator (second operand) passes through. */
        const __m256 lo = _mm256_set1_ps(clamp->lo), hi = _mm256_set1_ps(clamp->hi);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            acc0[i] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc0[i]));
            if (NR == 16) acc1[i] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc1[i]));
        }
    }
    if (clamp->epilogue) {
        const int epilogue = clamp->epilogue;
        for (int i = 0; i < MR; i++) {
            acc0[i] = p2l_epilogue8(epilogue, acc0[i]);
            if (NR == 16) acc1[i] = p2l_epilogue8(epilogue, acc1[i]);
        }
    }
    if (nc == NR) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            _mm256_storeu_ps(c + (size_t)i * ldc, acc0[i]);
            if (NR == 16) _mm256_storeu_ps(c + (size_t)i * ldc + 8, acc1[i]);
        }
    } else if (nc <= 8) {
        const __m256i mask = p2l_tail_mask((size_t)nc);
        for (int i = 0; i < MR; i++) _mm256_maskstore_ps(c + (size_t)i * ldc, mask, acc0[i]);
    } else {
        const __m256i mask = p2l_tail_mask((size_t)nc - 8);
        for (int i = 0; i < MR; i++) {
            _mm256_storeu_ps(c + (size_t)i * ldc, acc0[i]);
            _mm256_maskstore_ps(c + (size_t)i * ldc + 8, mask, acc1[i]);
        }
    }
}

typedef void (*tile_fn)(size_t k, const float *a, size_t lda, const float *b, const float *bias, float *c, size_t ldc,
                        int nc, const p2l_clamp *clamp);

#define DEFINE_TILE(MR, NR)                                                                                 \
    static void tile_##MR##x##NR(size_t k, const float *a, size_t lda, const float *b, const float *bias, float *c, \
                                 size_t ldc, int nc, const p2l_clamp *clamp) {                              \
        tile(MR, NR, k, a, lda, b, bias, c, ldc, nc, clamp);                                                \
    }
DEFINE_TILE(1, 8) DEFINE_TILE(2, 8) DEFINE_TILE(3, 8) DEFINE_TILE(4, 8) DEFINE_TILE(5, 8) DEFINE_TILE(6, 8)
DEFINE_TILE(1, 16) DEFINE_TILE(2, 16) DEFINE_TILE(3, 16) DEFINE_TILE(4, 16) DEFINE_TILE(5, 16) DEFINE_TILE(6, 16)

static const tile_fn tiles[2][P2L_GEMM_MR + 1] = {
    {NULL, tile_1x8, tile_2x8, tile_3x8, tile_4x8, tile_5x8, tile_6x8},
    {NULL, tile_1x16, tile_2x16, tile_3x16, tile_4x16, tile_5x16, tile_6x16},
};

bool p2l_cpu_has_avx512(void) {
    static int cached = -1; /* benign race: every thread computes the same answer */
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") ? 1 : 0;
        const char *env = getenv("P2L_NO_AVX512");
        if (env && *env && strcmp(env, "0") != 0) v = 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v != 0;
}

void p2l_gemm_run(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc, int panel_begin,
                  int panel_end, const p2l_clamp *clamp) {
    if (p2l_cpu_has_avx512()) {
        p2l_gemm_run_avx512(b, m, a, lda, c, ldc, panel_begin, panel_end, clamp);
        return;
    }
    const size_t k = (size_t)b->k;
    /* Panels outer: one panel of B (k x 16) stays in L1/L2 while the A block streams past it. */
    for (int panel = panel_begin; panel < panel_end; panel++) {
        const int col = panel * P2L_GEMM_NR;
        const int width = b->padded_n - col < P2L_GEMM_NR ? b->padded_n - col : P2L_GEMM_NR;
        const int nc = b->n - col < width ? b->n - col : width;
        const float *bp = b->data + (size_t)col * k, *bias = b->bias + col;
        const tile_fn *row = tiles[width == P2L_GEMM_NR];
        size_t i = 0;
        for (; i + P2L_GEMM_MR <= m; i += P2L_GEMM_MR)
            row[P2L_GEMM_MR](k, a + i * lda, lda, bp, bias, c + i * ldc + col, ldc, nc, clamp);
        if (i < m) row[m - i](k, a + i * lda, lda, bp, bias, c + i * ldc + col, ldc, nc, clamp);
    }
}

void p2l_gemm_plan(size_t m, int k, int panels, int threads, size_t max_block_bytes, p2l_gemm_split *split) {
    p2l_gemm_plan_tasks(m, k, panels, threads, max_block_bytes, P2L_GEMM_TASKS_PER_THREAD, split);
}

void p2l_gemm_plan_tasks(size_t m, int k, int panels, int threads, size_t max_block_bytes, int tasks_per_thread,
                         p2l_gemm_split *split) {
    size_t row_bytes = (size_t)(k > 0 ? k : 1) * sizeof(float);
    /* Below P2L_MIN_PARALLEL_WORK multiply-adds, waking another thread costs more than it saves. */
    if ((double)m * (double)k * (double)panels * P2L_GEMM_NR < P2L_MIN_PARALLEL_WORK) threads = 1;
    size_t rows = max_block_bytes / row_bytes / P2L_GEMM_MR * P2L_GEMM_MR;
    if (rows < P2L_GEMM_MR) rows = P2L_GEMM_MR;
    if (threads > 1) {
        /* Several tasks per thread, so a thread slowed by the machine does not hold up the op: the
         * last one to finish is small. Smaller row blocks cost little, as B is streamed once per
         * tile of rows anyway. */
        size_t want = (size_t)threads * (size_t)tasks_per_thread;
        size_t fair = (m + want - 1) / want;
        fair = (fair + P2L_GEMM_MR - 1) / P2L_GEMM_MR * P2L_GEMM_MR;
        if (fair < P2L_GEMM_MR) fair = P2L_GEMM_MR;
        if (fair < rows) rows = fair;
    }
    size_t blocks = m ? (m + rows - 1) / rows : 0;
    int chunks = 1;
    if (threads > 1 && blocks < (size_t)threads * (size_t)tasks_per_thread && panels > 1) {
        size_t c = ((size_t)threads * (size_t)tasks_per_thread + blocks - 1) / (blocks ? blocks : 1);
        chunks = c > (size_t)panels ? panels : (int)c;
    }
    int per_chunk = panels > 0 ? (panels + chunks - 1) / chunks : 0;
    if (per_chunk > 1 && per_chunk % 2) per_chunk++; /* whole pairs of panels (the AVX-512 tiles) */
    if (per_chunk > 0) chunks = (panels + per_chunk - 1) / per_chunk;
    *split = (p2l_gemm_split){rows, blocks, per_chunk, chunks};
}
