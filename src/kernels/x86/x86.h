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

#endif
