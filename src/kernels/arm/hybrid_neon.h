/* The loops of the NEON hybrid FULLY_CONNECTED micro-kernels (fast.h: p2l_hybrid_i8_dot_fn,
 * p2l_hybrid_i4_dot_fn), written once for the two ways of multiplying: hybrid_neon.c (SMLAL, every
 * aarch64 CPU) and hybrid_neon_dot.c (SDOT, CPUs with the dot product) define what one step does.
 * As on x86 (x86/hybrid_avx2.c), the weights are read as the file stores them, 4 rows (output
 * channels) at a time, so every input load serves 4 channels, and each input row is reused while
 * the 4 weight rows stay in L1; the rows are prefetched ahead as there (batch 1 streams them once).
 *
 * The int4 nibbles are sign-extended in place (shift left by 4, then arithmetic right by 4; the high
 * nibble by the right shift alone), so the block sums need no offset and no input sums. The float
 * part (block sums times scales, added in block order) is a separate multiply and add: the files that
 * include this are compiled with -ffp-contract=off on aarch64 (CMakeLists.txt), as the reference
 * kernels that compute the same expression are, so nothing is fused into FMLA. */
#ifndef P2L_KERNELS_ARM_HYBRID_NEON_H
#define P2L_KERNELS_ARM_HYBRID_NEON_H

#include "kernels/arm/arm.h"

/* In weight rows: the same place in the group after the next (x86/hybrid_avx2.c says why). */
enum { P2L_HYBRID_AHEAD = 2 * P2L_HYBRID_UNITS };

/* The 4 weight rows: rows past nu repeat the last real one. */
static inline void p2l_hybrid_weight_rows(const void *w, size_t ldw, int nu, const uint8_t *rows[P2L_HYBRID_UNITS]) {
    for (int j = 0; j < P2L_HYBRID_UNITS; j++) rows[j] = (const uint8_t *)w + (size_t)(j < nu ? j : nu - 1) * ldw;
}

/* The 4 channels' int8 dots of one row: the vector sums plus the scalar tail [kk, k) (wrapping as
 * int32 sums do), the first nu stored. */
static inline void p2l_hybrid_i8_finish(int32x4_t s0, int32x4_t s1, int32x4_t s2, int32x4_t s3, const int16_t *xr,
                                        const uint8_t *const wr[P2L_HYBRID_UNITS], size_t kk, size_t k, int nu,
                                        int32_t *dots) {
    int32_t out[P2L_HYBRID_UNITS];
    vst1q_s32(out, p2l_i8_sum_channels4(s0, s1, s2, s3));
    for (int j = 0; j < nu; j++) {
        uint32_t sum = (uint32_t)out[j];
        for (size_t t = kk; t < k; t++) sum += (uint32_t)((int32_t)xr[t] * (int8_t)wr[j][t]);
        dots[j] = (int32_t)sum;
    }
}

/* Defines the p2l_hybrid_i8_dot_fn `name`. Per 16 values of a row: X_TYPE xv = LOAD_X(xr + kk), then
 * acc = STEP(acc, xv, 16 int8 weights) for each of the 4 rows (acc: int32x4_t partial sums). */
#define P2L_DEFINE_HYBRID_I8_DOT(name, X_TYPE, LOAD_X, STEP)                                                  \
    void name(const int16_t *x, size_t rows, size_t k, const int8_t *w, size_t ldw, int nu, int32_t *dots) {   \
        const uint8_t *wr[P2L_HYBRID_UNITS];                                                                   \
        p2l_hybrid_weight_rows(w, ldw, nu, wr);                                                                \
        for (size_t r = 0; r < rows; r++) {                                                                    \
            const int16_t *xr = x + r * k;                                                                     \
            int32x4_t acc[P2L_HYBRID_UNITS] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)}; \
            size_t kk = 0;                                                                                     \
            for (; kk + 16 <= k; kk += 16) {                                                                   \
                const X_TYPE xv = LOAD_X(xr + kk);                                                             \
                for (int j = 0; j < P2L_HYBRID_UNITS; j++) {                                                   \
                    __builtin_prefetch(wr[j] + kk + P2L_HYBRID_AHEAD * ldw);                                   \
                    acc[j] = STEP(acc[j], xv, vld1q_s8((const int8_t *)wr[j] + kk));                           \
                }                                                                                              \
            }                                                                                                  \
            p2l_hybrid_i8_finish(acc[0], acc[1], acc[2], acc[3], xr, wr, kk, k, nu, dots + r * P2L_HYBRID_UNITS); \
        }                                                                                                      \
    }

/* Defines the p2l_hybrid_i4_dot_fn `name` (the input sums are not needed). Per chunk of 32 values:
 * X_TYPE xv = LOAD_X(xr + c) (16 even-indexed values, then 16 odd ones), then for each of the 4 rows
 * acc = STEP(acc, xv, lo, hi) with the chunk's 16 bytes of weights as signed int8: lo = the low
 * nibbles (meeting the even values), hi = the high ones (the odd values). */
#define P2L_DEFINE_HYBRID_I4_DOT(name, X_TYPE, LOAD_X, STEP)                                                  \
    void name(const int16_t *x, const int32_t *xsum, size_t rows, size_t k, size_t block, const uint8_t *w,     \
              size_t ldw, int nu, const float *scales, float *sums) {                                          \
        (void)xsum;                                                                                            \
        const uint8_t *wr[P2L_HYBRID_UNITS];                                                                   \
        p2l_hybrid_weight_rows(w, ldw, nu, wr);                                                                \
        const size_t blocks = k / block;                                                                       \
        for (size_t r = 0; r < rows; r++) {                                                                    \
            const int16_t *xr = x + r * k;                                                                     \
            float32x4_t total = vdupq_n_f32(0.0f);                                                             \
            for (size_t b = 0; b < blocks; b++) {                                                              \
                int32x4_t acc[P2L_HYBRID_UNITS] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0),             \
                                                   vdupq_n_s32(0)};                                            \
                for (size_t c = b * block; c < (b + 1) * block; c += 32) {                                     \
                    const X_TYPE xv = LOAD_X(xr + c);                                                          \
                    for (int j = 0; j < P2L_HYBRID_UNITS; j++) {                                               \
                        __builtin_prefetch(wr[j] + c / 2 + P2L_HYBRID_AHEAD * ldw);                            \
                        const int8x16_t bytes = vld1q_s8((const int8_t *)wr[j] + c / 2);                       \
                        acc[j] = STEP(acc[j], xv, vshrq_n_s8(vshlq_n_s8(bytes, 4), 4), vshrq_n_s8(bytes, 4));  \
                    }                                                                                          \
                }                                                                                              \
                const int32x4_t dot = p2l_i8_sum_channels4(acc[0], acc[1], acc[2], acc[3]);                    \
                const float32x4_t product = vmulq_f32(vcvtq_f32_s32(dot), vld1q_f32(scales + b * P2L_HYBRID_UNITS)); \
                total = vaddq_f32(total, product);                                                             \
            }                                                                                                  \
            float out[P2L_HYBRID_UNITS];                                                                       \
            vst1q_f32(out, total);                                                                             \
            for (int j = 0; j < nu; j++) sums[r * P2L_HYBRID_UNITS + (size_t)j] = out[j];                      \
        }                                                                                                      \
    }

#endif
