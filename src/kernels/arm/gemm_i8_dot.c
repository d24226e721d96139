/* The int8 GEMM with the Armv8.2 dot product (SDOT: 4 int8 x int8 products added into each int32
 * lane, exact), for CPUs that report it (isa.c: p2l_isa_neon_dot). This file alone is compiled for
 * the instructions (the target pragma); the rest of the binary runs on every aarch64 CPU, and
 * registry.c selects this GEMM only after the run-time check.
 *
 * It reads the int16 weights fast/int8.c packs for every ISA and narrows each block of 4 channels x
 * 16 k to int8 once per tile of up to 4 rows (the values are int8, so the narrowing is exact), then
 * one SDOT per row and channel adds 16 products into 4 partial sums, added up at the end. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("arch=armv8.2-a+dotprod")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#endif
#include "kernels/arm/arm.h"

/* Up to 4 rows (ROWS, a constant in each instance) against one group of 4 channels. */
static inline __attribute__((always_inline)) void tile(const int ROWS, const int16_t *group, int kp, size_t k,
                                                       const int8_t *a, size_t lda, int32_t *c, size_t ldc) {
    int32x4_t acc[4][P2L_I8_GEMM_NR];
    memset(acc, 0, sizeof acc); /* registers: the unused rows' stores are dead */
    for (size_t kk = 0; kk < (size_t)kp; kk += P2L_I8_GEMM_KB, group += P2L_I8_GEMM_NR * P2L_I8_GEMM_KB) {
        int8x16_t bv[P2L_I8_GEMM_NR];
#pragma GCC unroll 4
        for (int j = 0; j < P2L_I8_GEMM_NR; j++)
            bv[j] = vmovn_high_s16(vmovn_s16(vld1q_s16(group + j * P2L_I8_GEMM_KB)),
                                   vld1q_s16(group + j * P2L_I8_GEMM_KB + 8));
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++) {
            const int8x16_t xv = p2l_i8_load16(a + (size_t)r * lda, kk, k);
#pragma GCC unroll 4
            for (int j = 0; j < P2L_I8_GEMM_NR; j++) acc[r][j] = vdotq_s32(acc[r][j], xv, bv[j]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++)
        vst1q_s32(c + (size_t)r * ldc, p2l_i8_sum_channels4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

P2L_DEFINE_I8_GEMM(p2l_i8_gemm__neon_dot, tile)

#if defined(__clang__)
#pragma clang attribute pop
#endif
