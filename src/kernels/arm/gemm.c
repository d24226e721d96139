/* The NEON GEMM micro-kernel over the packed panels of fast/gemm.c.
 *
 * A block of C up to 6 rows x 8 or 4 rows x 16 columns stays in 12 or 16 of the 32 vector
 * registers. Per 4 steps of k it loads 4 consecutive elements of each A row into one register and
 * multiplies the panel's rows of B by their lanes (FMLA by element), so 6 x 8 takes 14 loads for
 * 48 FMAs. A 6 x 16 tile would need 24 accumulators + 6 A + 4 B registers, more than there are:
 * it is computed as two 6 x 8 halves (the 6 rows of A stay in L1 between them). As on x86, bias
 * initializes the accumulators, each element is bias + its products in k order, fused, and the
 * clamp and the epilogue are applied before the only store, so the results are the AVX2 tile's. */
#include "kernels/arm/arm.h"
#include "kernels/arm/vec_neon.h"
#include "kernels/fast/vec_rows.h"

#define ALWAYS_INLINE P2L_VEC_INLINE

/* Columns [0, W) (W = 16 or 8, the block's part of a panel NR wide; b, bias and c start at its
 * first column) of MR rows. nc: columns to store, counted from the first; at most W are. */
ALWAYS_INLINE void block(const int MR, const int W, const int NR, size_t k, const float *a, size_t lda,
                         const float *b, const float *bias, float *c, size_t ldc, int nc, const p2l_clamp *clamp) {
    enum { MAX_V = P2L_GEMM_NR / 4 };
    const int NV = W / 4;
    float32x4_t acc[P2L_GEMM_MR][MAX_V];
    const float *ap[P2L_GEMM_MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = vld1q_f32(bias + 4 * v);
        ap[i] = a + (size_t)i * lda;
    }
    size_t p = 0;
    for (; p + 4 <= k; p += 4, b += 4 * (size_t)NR) {
        float32x4_t av[P2L_GEMM_MR];
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) av[i] = vld1q_f32(ap[i] + p);
        /* the lane is an immediate operand: a macro, not a loop, so it is a constant at -O0 too */
#define STEP(LANE)                                                                                   \
        {                                                                                            \
            float32x4_t bv[MAX_V];                                                                   \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = vld1q_f32(b + LANE * NR + 4 * v); \
            _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++)                                     \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                 \
                    acc[i][v] = vfmaq_laneq_f32(acc[i][v], bv[v], av[i], LANE);                      \
        }
        STEP(0) STEP(1) STEP(2) STEP(3)
#undef STEP
    }
    for (; p < k; p++, b += NR) {
        float32x4_t bv[MAX_V];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = vld1q_f32(b + 4 * v);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const float32x4_t a1 = vld1q_dup_f32(ap[i] + p);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = vfmaq_f32(acc[i][v], a1, bv[v]);
        }
    }
    if (clamp->on || clamp->epilogue) {
        const float32x4_t lo = vdupq_n_f32(clamp->lo), hi = vdupq_n_f32(clamp->hi);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = p2l_vec_finish(acc[i][v], clamp, lo, hi);
    }
    /* Unrolled, so every index is a constant and the accumulators never leave the registers. */
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            float *dst = c + (size_t)i * ldc + 4 * v;
            if (nc - 4 * v >= 4) vst1q_f32(dst, acc[i][v]);
            else if (nc - 4 * v > 0) p2l_store_partial4(dst, acc[i][v], (size_t)(nc - 4 * v));
        }
}

/* One MR x NR tile (NR 16 or 8). nc < NR: only the first nc columns are stored. */
ALWAYS_INLINE void tile(const int MR, const int NR, size_t k, const float *a, size_t lda, const float *b,
                        const float *bias, float *c, size_t ldc, int nc, const p2l_clamp *clamp) {
    if (NR == 16 && MR > 4) { /* two halves of 8 columns: see above */
        block(MR, 8, NR, k, a, lda, b, bias, c, ldc, nc, clamp);
        if (nc > 8) block(MR, 8, NR, k, a, lda, b + 8, bias + 8, c + 8, ldc, nc - 8, clamp);
    } else {
        block(MR, NR, NR, k, a, lda, b, bias, c, ldc, nc, clamp);
    }
}

P2L_DEFINE_GEMM(p2l_f32_gemm__neon, tile)
