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

P2L_DECLARE_ISA_KERNELS(avx2)
P2L_DECLARE_ISA_KERNELS(avx512)
/* int8 (gemm_i8.c): both tables use the AVX2 ones. */
void p2l_i8_gemm__avx2(const p2l_i8_gemm_b *b, size_t m, const int8_t *a, size_t lda, int32_t *acc, size_t ldacc);
void p2l_i8_depthwise_tap__avx2(int32_t *acc, const int8_t *x, const int16_t *w, int32_t input_offset,
                                size_t channels);
void p2l_i8_gemm_pairs__avx2(const p2l_i8_pairs_b *b, size_t m, const int16_t *a, size_t lda, int32_t *acc,
                             size_t ldacc, int panel_begin, int panel_end);
void p2l_i8_depthwise_pairs__avx2(const int8_t *const *taps, int pairs, const int16_t *weights, const int32_t *bias,
                                  int32_t input_offset, size_t C, int32_t *acc);
void p2l_i8_requantize__avx2(const int32_t *acc, const int32_t *bias, const p2l_i8_requant *rq, size_t c0,
                             size_t count, int8_t *out);
/* Hybrid FULLY_CONNECTED (hybrid_avx2.c): both tables use the AVX2 ones. */
void p2l_hybrid_i8_dot__avx2(const int16_t *x, size_t rows, size_t k, const int8_t *w, size_t ldw, int nu,
                             int32_t *dots);
void p2l_hybrid_i4_dot__avx2(const int16_t *x, const int32_t *xsum, size_t rows, size_t k, size_t block,
                             const uint8_t *w, size_t ldw, int nu, const float *scales, float *sums);
void p2l_hybrid_i8_gemv__avx2(const int8_t *x, const uint8_t *x_abs, size_t k, const int8_t *w, size_t ldw,
                              size_t units, int32_t *dots);
void p2l_hybrid_i4_gemv__avx2(const int8_t *x, const int32_t *x_terms, int32_t zero_point, size_t k, size_t block,
                              const uint8_t *w, size_t ldw, size_t units, const int16_t *w_sums, const float *scales,
                              float *sums);
/* int8 element-wise rows (elementwise_i8.c). */
void p2l_i8_binary_row__avx2(p2l_op op, const struct p2l_quant_binary *q, const int8_t *a, size_t sa, const int8_t *b,
                             size_t sb, int8_t *out, size_t n);
void p2l_i8_quantize_row__avx2(const float *in, float scale, int32_t zero_point, int8_t *out, size_t n);
void p2l_i8_dequantize_row__avx2(const int8_t *in, float scale, int32_t zero_point, float *out, size_t n);
/* int8 table lookup (lookup_i8.c). */
void p2l_i8_lookup_row__avx2(const int8_t *table, const int8_t *in, int8_t *out, size_t n);

/* Hybrid convolutions (hybrid_conv_avx2.c): both tables use the AVX2 ones. */
void p2l_hybrid_range__avx2(const float *x, size_t n, float *lo, float *hi);
void p2l_hybrid_quantize__avx2(const float *x, size_t n, float inv, int32_t zero_point, int8_t *q);
void p2l_hybrid_gemm__avx2(const int16_t *a, size_t lda, size_t m, const int16_t *b, size_t pairs, int panel_begin,
                           int panel_end, int32_t *c, size_t ldc);
void p2l_hybrid_depthwise_pixel__avx2(const int8_t *const *taps, int tap_count, const int16_t *weights, size_t ldw,
                                      size_t C, int32_t zero_point, const float *scale, const float *bias,
                                      const p2l_clamp *clamp, float *out);
#endif
