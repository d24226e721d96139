/* aarch64 micro-kernels for the shared drivers of src/kernels/fast (fast.h): NEON (ASIMD), float32.
 * Every aarch64 CPU has ASIMD, so registry.c uses p2l_isa_neon whenever the fast kernels are on.
 *
 * They compute what the x86 AVX2 loops compute, operation for operation: the element-wise rows and
 * the depthwise row are the same source (fast/vec_rows.h over vec_neon.h, in rows.c), and the
 * hand-written ones use the same exp, FMAs where x86 has FMAs, x86's max/min semantics (p2l_max4),
 * and sums in the order of x86's 8 lanes (p2l_hsum8), so the two ISAs give the same results and one
 * set of tolerances holds. */
#ifndef P2L_KERNELS_ARM_ARM_H
#define P2L_KERNELS_ARM_ARM_H

#include "kernels/fast/fast.h"

extern const p2l_fast_isa p2l_isa_neon; /* isa.c */

/* The micro-kernels. */
P2L_DECLARE_BINARY_ROWS(neon)
P2L_DECLARE_UNARY_ROWS(neon)
void p2l_f32_gemm__neon(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                        int panel_begin, int panel_end, const p2l_clamp *clamp);
void p2l_f32_depthwise_row__neon(const p2l_depthwise_row_args *a);
void p2l_f32_softmax_row__neon(const float *in, float *out, size_t n, float beta);
void p2l_f32_pool_row__neon(const p2l_pool_row_args *a);
void p2l_f32_mean_rows__neon(const float *in, float *out, size_t rows, size_t length);
void p2l_f32_channel_means__neon(const float *in, size_t pixels, size_t C, size_t width, float *out);
void p2l_u32_transpose_blocks__neon(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride,
                                    size_t rows, size_t cols);

#endif
