/* The AVX2/FMA GEMM micro-kernel over the packed panels of fast/gemm.c.
 *
 * The micro-kernel keeps a 6 x 16 block of C in 12 ymm registers; per step of k it broadcasts one
 * element of each of the 6 A rows and multiplies it with 16 packed B values (2 loads), so 12 FMAs
 * need 8 loads, all from cache. Bias initializes the accumulators and the fused activation clamps
 * them before the only store, so C is written once. Panels narrower than 16 columns (8) and blocks
 * of fewer than 6 rows get their own instances of the same inline body. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx2.h"
#include "kernels/fast/vec_rows.h"

/* One MR x NR block of C. MR and NR are constants in every instance, so the loops over them unroll
 * and the accumulators live in registers. nc < NR: only the first nc columns are stored. */
P2L_VEC_INLINE void tile(const int MR, const int NR, size_t k, const float *a, size_t lda, const float *b,
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
    p2l_vec_finish_tile(MR, NR == 16, acc0, acc1, clamp);
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

P2L_DEFINE_GEMM(p2l_f32_gemm__avx2, tile)
