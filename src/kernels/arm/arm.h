/* aarch64 micro-kernels for the shared drivers of src/kernels/fast (fast.h): NEON (ASIMD), float32
 * and int8. Every aarch64 CPU has ASIMD, so registry.c uses p2l_isa_neon whenever the fast kernels
 * are on, or p2l_isa_neon_dot (the same with the SDOT int8 GEMM) where the CPU has the dot product.
 *
 * They compute what the x86 AVX2 loops compute, operation for operation: the element-wise rows and
 * the depthwise row are the same source (fast/vec_rows.h over vec_neon.h, in rows.c), and the
 * hand-written ones use the same exp, FMAs where x86 has FMAs, x86's max/min semantics (p2l_max4),
 * and sums in the order of x86's 8 lanes (p2l_hsum8), so the two ISAs give the same results and one
 * set of tolerances holds. The int8 sums are exact, so bit-exact with the reference kernels. */
#ifndef P2L_KERNELS_ARM_ARM_H
#define P2L_KERNELS_ARM_ARM_H

#include <arm_neon.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/fast/fast.h"

extern const p2l_fast_isa p2l_isa_neon, p2l_isa_neon_dot; /* isa.c */

/* Whether this CPU has the Armv8.2 dot product instructions (SDOT), asked of the OS (isa.c). */
bool p2l_arm_has_dotprod(void);

P2L_DECLARE_ISA_KERNELS(neon)

/* ------------------------------------------------------------ int8 (gemm_i8_neon.c, gemm_i8_dot.c) */
void p2l_i8_gemm__neon(const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda, int32_t *acc, size_t ldacc);
void p2l_i8_gemm__neon_dot(const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda, int32_t *acc,
                           size_t ldacc);
void p2l_i8_depthwise_tap__neon(int32_t *acc, const int8_t *x, const int16_t *w, int32_t input_offset,
                                size_t channels);

/* Requantization (requant_i8_neon.c, both tables) and the hybrid FULLY_CONNECTED dots (hybrid_neon.c;
 * hybrid_neon_dot.c with SDOT). */
void p2l_i8_requantize__neon(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                             size_t count, int8_t *out);
void p2l_hybrid_i8_dot__neon(const int16_t *x, size_t rows, size_t k, const int8_t *w, size_t ldw, int nu,
                             int32_t *dots);
void p2l_hybrid_i8_dot__neon_dot(const int16_t *x, size_t rows, size_t k, const int8_t *w, size_t ldw, int nu,
                                 int32_t *dots);
void p2l_hybrid_i4_dot__neon(const int16_t *x, const int32_t *xsum, size_t rows, size_t k, size_t block,
                             const uint8_t *w, size_t ldw, int nu, const float *scales, float *sums);
void p2l_hybrid_i4_dot__neon_dot(const int16_t *x, const int32_t *xsum, size_t rows, size_t k, size_t block,
                                 const uint8_t *w, size_t ldw, int nu, const float *scales, float *sums);
/* int8 element-wise rows (elementwise_i8_neon.c, both tables). */
struct p2l_quant_binary;
void p2l_i8_binary_row__neon(p2l_op op, const struct p2l_quant_binary *q, const int8_t *a, size_t sa, const int8_t *b,
                             size_t sb, int8_t *out, size_t n);
void p2l_i8_quantize_row__neon(const float *in, float scale, int32_t zero_point, int8_t *out, size_t n);
void p2l_i8_dequantize_row__neon(const int8_t *in, float scale, int32_t zero_point, float *out, size_t n);

/* rows (1 to 4) rows of A against one group of P2L_I8_GEMM_NR packed channels: their sums, stored
 * as rows of 4 int32 ldc apart. */
typedef void (*p2l_i8_tile_fn)(const int16_t *group, int kp, size_t k, const int8_t *a, size_t lda, int32_t *c,
                               size_t ldc);
/* A p2l_i8_gemm_fn from tiles[rows] (rows 1 to 4): groups outer, 4 rows at a time, then the rest. */
void p2l_i8_run_tiles(const p2l_i8_tile_fn tiles[5], const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda,
                      int32_t *acc, size_t ldacc);
/* Defines the p2l_i8_gemm_fn `name` from an always-inline TILE(ROWS, group, kp, k, a, lda, c, ldc):
 * one instance per row count, so ROWS is a constant in each. */
#define P2L_I8_TILE_(TILE, ROWS)                                                                            \
    static void TILE##_##ROWS(const int16_t *g, int kp, size_t k, const int8_t *a, size_t lda, int32_t *c, \
                              size_t ldc) {                                                                 \
        TILE(ROWS, g, kp, k, a, lda, c, ldc);                                                               \
    }
#define P2L_DEFINE_I8_GEMM(name, TILE)                                                                      \
    P2L_I8_TILE_(TILE, 1) P2L_I8_TILE_(TILE, 2) P2L_I8_TILE_(TILE, 3) P2L_I8_TILE_(TILE, 4)                 \
    void name(const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda, int32_t *acc, size_t ldacc) {  \
        static const p2l_i8_tile_fn tiles[5] = {NULL, TILE##_1, TILE##_2, TILE##_3, TILE##_4};              \
        p2l_i8_run_tiles(tiles, b, m, a, lda, acc, ldacc);                                                  \
    }

/* 16 int8 of a row from kk (fewer than 16 left before k: the rest read as zeros, as the packed
 * weights are zero padded, and nothing past the row is read). */
static inline int8x16_t p2l_i8_load16(const int8_t *row, size_t kk, size_t k) {
    if (kk + 16 <= k) return vld1q_s8(row + kk);
    int8_t tail[16] = {0};
    memcpy(tail, row + kk, k - kk);
    return vld1q_s8(tail);
}

/* The 4 channels' sums from a row's 4 accumulators (each holds partial sums of one channel). */
static inline int32x4_t p2l_i8_sum_channels4(int32x4_t s0, int32x4_t s1, int32x4_t s2, int32x4_t s3) {
    return vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
}

#endif
