/* NEON int8 micro-kernels (fast.h, "int8") for every aarch64 CPU: the GEMM of int8 rows against the
 * int16-packed weights that fast/int8.c shares with x86, and one tap of a depthwise convolution.
 *
 * Both multiply int16 by int16 into int32 lanes (SMLAL / SMLAL2), which is exact for every int8 pair,
 * -128 x -128 included: the int8 x int8 -> int16 forms (SMULL.8B then SMLAL.8B) can overflow int16
 * when two such products are added, so they would need weights limited to [-127, 127], which TFLite
 * files do not promise. The SDOT GEMM for CPUs with the dot product is gemm_i8_dot.c. */
#include "kernels/arm/arm.h"

/* Up to 4 rows (ROWS, a constant in each instance) against one group of 4 channels. */
static inline __attribute__((always_inline)) void tile(const int ROWS, const int16_t *group, int kp, size_t k,
                                                       const int8_t *a, size_t lda, int32_t *c, size_t ldc) {
    int32x4_t acc[4][P2L_I8_GEMM_NR];
    memset(acc, 0, sizeof acc); /* registers: the unused rows' stores are dead */
    for (size_t kk = 0; kk < (size_t)kp; kk += P2L_I8_GEMM_KB, group += P2L_I8_GEMM_NR * P2L_I8_GEMM_KB) {
        int16x8_t b_lo[P2L_I8_GEMM_NR], b_hi[P2L_I8_GEMM_NR];
#pragma GCC unroll 4
        for (int j = 0; j < P2L_I8_GEMM_NR; j++) {
            b_lo[j] = vld1q_s16(group + j * P2L_I8_GEMM_KB);
            b_hi[j] = vld1q_s16(group + j * P2L_I8_GEMM_KB + 8);
        }
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++) {
            const int8x16_t xv = p2l_i8_load16(a + (size_t)r * lda, kk, k);
            const int16x8_t x_lo = vmovl_s8(vget_low_s8(xv)), x_hi = vmovl_high_s8(xv);
#pragma GCC unroll 4
            for (int j = 0; j < P2L_I8_GEMM_NR; j++) {
                int32x4_t s = vmlal_s16(acc[r][j], vget_low_s16(x_lo), vget_low_s16(b_lo[j]));
                s = vmlal_high_s16(s, x_lo, b_lo[j]);
                s = vmlal_s16(s, vget_low_s16(x_hi), vget_low_s16(b_hi[j]));
                acc[r][j] = vmlal_high_s16(s, x_hi, b_hi[j]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++)
        vst1q_s32(c + (size_t)r * ldc, p2l_i8_sum_channels4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

P2L_DEFINE_I8_GEMM(p2l_i8_gemm__neon, tile)

void p2l_i8_run_tiles(const p2l_i8_tile_fn tiles[5], const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda,
                      int32_t *acc, size_t ldacc) {
    const size_t k = (size_t)b->k;
    for (int g = 0; g < b->groups; g++) {
        const int16_t *group = b->data + (size_t)g * (size_t)b->kp * P2L_I8_GEMM_NR;
        int32_t *c = acc + (size_t)g * P2L_I8_GEMM_NR;
        size_t r = 0;
        for (; r + 4 <= m; r += 4) tiles[4](group, b->kp, k, a + r * lda, lda, c + r * ldacc, ldacc);
        if (r < m) tiles[m - r](group, b->kp, k, a + r * lda, lda, c + r * ldacc, ldacc);
    }
}

void p2l_i8_depthwise_tap__neon(int32_t *acc, const int8_t *x, const int16_t *w, int32_t input_offset,
                                size_t channels) {
    size_t c = 0;
    /* x + input_offset is exact in int16 for every int8 x when |input_offset| <= 32640 (an int8 zero
     * point's offset is within [-127, 128]); otherwise the scalar loop does it all. */
    if (input_offset >= -32640 && input_offset <= 32640) {
        const int16x8_t offset = vdupq_n_s16((int16_t)input_offset);
        for (; c + 8 <= channels; c += 8) {
            const int16x8_t xv = vaddq_s16(vmovl_s8(vld1_s8(x + c)), offset);
            const int16x8_t wv = vld1q_s16(w + c);
            vst1q_s32(acc + c, vmlal_s16(vld1q_s32(acc + c), vget_low_s16(xv), vget_low_s16(wv)));
            vst1q_s32(acc + c + 4, vmlal_high_s16(vld1q_s32(acc + c + 4), xv, wv));
        }
    }
    for (; c < channels; c++) acc[c] += (int32_t)w[c] * ((int32_t)x[c] + input_offset);
}
