/* x86-64 micro-kernels for the shared drivers of src/kernels/fast (fast.h): AVX2/FMA in every file
 * (compiled with -mavx2 -mfma), AVX-512F in the *_avx512.c files (with -mavx512f too). registry.c
 * picks p2l_isa_avx2 or p2l_isa_avx512 only on CPUs that have those instructions. The element-wise
 * rows and the AVX2 depthwise row are fast/vec_rows.h over vec_avx2.h / vec_avx512.h (rows.c,
 * rows_avx512.c); the rest is written for the ISA. */
#ifndef P2L_KERNELS_X86_X86_H
#define P2L_KERNELS_X86_X86_H

#include "kernels/fast/fast.h"

/* The micro-kernel tables (isa.c): AVX2/FMA, and the same with the AVX-512F GEMM, depthwise,
 * activation and softmax rows. */
extern const p2l_fast_isa p2l_isa_avx2, p2l_isa_avx512;

/* The micro-kernels, by ISA. */
P2L_DECLARE_BINARY_ROWS(avx2)
P2L_DECLARE_UNARY_ROWS(avx2)
P2L_DECLARE_UNARY_ROWS(avx512)
void p2l_f32_gemm__avx2(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                        int panel_begin, int panel_end, const p2l_clamp *clamp);
void p2l_f32_gemm__avx512(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                          int panel_begin, int panel_end, const p2l_clamp *clamp);
void p2l_f32_depthwise_row__avx2(const p2l_depthwise_row_args *a);
void p2l_f32_depthwise_row__avx512(const p2l_depthwise_row_args *a);
void p2l_f32_softmax_row__avx2(const float *in, float *out, size_t n, float beta);
void p2l_f32_softmax_row__avx512(const float *in, float *out, size_t n, float beta);
void p2l_f32_pool_row__avx2(const p2l_pool_row_args *a);
void p2l_f32_mean_rows__avx2(const float *in, float *out, size_t rows, size_t length);
void p2l_f32_channel_means__avx2(const float *in, size_t pixels, size_t C, size_t width, float *out);
void p2l_u32_transpose_blocks__avx2(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride,
                                    size_t rows, size_t cols);
void p2l_u32_interleave_3__avx2(const uint32_t *in, size_t channel_stride, uint32_t *out, size_t r0, size_t r1);

#endif
