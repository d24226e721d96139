/* x86-64 micro-kernels for the shared drivers of src/kernels/fast (fast.h): AVX2/FMA in every file
 * (compiled with -mavx2 -mfma), AVX-512F in the *_avx512.c files (with -mavx512f too). registry.c
 * picks p2l_isa_avx2 or p2l_isa_avx512 only on CPUs that have those instructions. TRANSPOSE
 * (transpose.c) is a whole kernel of its own, x86 only. */
#ifndef P2L_KERNELS_X86_X86_H
#define P2L_KERNELS_X86_X86_H

#include "kernels/fast/fast.h"

/* The micro-kernel tables (isa.c): AVX2/FMA, and the same with the AVX-512F GEMM and depthwise. */
extern const p2l_fast_isa p2l_isa_avx2, p2l_isa_avx512;
extern const p2l_kernel p2l_kernel_transpose_x86;

/* The micro-kernels, by file. */
void p2l_gemm_avx2(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc, int panel_begin,
                   int panel_end, const p2l_clamp *clamp);
void p2l_gemm_avx512(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc,
                     int panel_begin, int panel_end, const p2l_clamp *clamp);
void p2l_depthwise_row_avx2(const p2l_depthwise_row_args *a);
void p2l_depthwise_row_avx512(const p2l_depthwise_row_args *a);
extern const p2l_binary_row_fn p2l_binary_rows_avx2[P2L_BINARY_KINDS];
extern const p2l_unary_row_fn p2l_unary_rows_avx2[P2L_UNARY_KINDS];
void p2l_softmax_row_avx2(const float *in, float *out, size_t n, float beta);
extern const p2l_unary_row_fn p2l_unary_rows_avx512[P2L_UNARY_KINDS];
void p2l_softmax_row_avx512(const float *in, float *out, size_t n, float beta);
void p2l_pool_row_avx2(const p2l_pool_row_args *a);
void p2l_mean_rows_avx2(const float *in, float *out, size_t rows, size_t length);
void p2l_channel_means_avx2(const float *in, size_t pixels, size_t C, size_t width, float *out);

/* ------------------------------------------------------------ vector math (unary.c) */
#if defined(__AVX2__) /* the kernel files; registry.c sees only the tables */
/* exp(x) for 8 floats, relative error about 1e-7 for x in [-87, 88]; 0 below about -87.3 (also for
 * -inf), exp(88) above; NaN for NaN. */
#include <immintrin.h>
__m256 p2l_exp8(__m256 x);
/* 1 / (1 + exp(-x)), accurate in relative terms on both tails. */
__m256 p2l_sigmoid8(__m256 x);

/* The fused element-wise epilogues, with the same operations (so the same rounding) as the
 * unfused fast LOGISTIC then MUL, and HARD_SWISH. */
static inline __m256 p2l_epilogue8(int epilogue, __m256 x) {
    if (epilogue == P2L_EPILOGUE_SILU) return _mm256_mul_ps(x, p2l_sigmoid8(x));
    if (epilogue == P2L_EPILOGUE_HARD_SWISH) {
        __m256 r = _mm256_add_ps(x, _mm256_set1_ps(3.0f));
        r = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), r));
        return _mm256_div_ps(_mm256_mul_ps(x, r), _mm256_set1_ps(6.0f));
    }
    return x;
}

/* Masks for the last n (0..8) lanes of a row: lanes [0, n) on. */
static inline __m256i p2l_tail_mask(size_t n) {
    static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(table + 8 - n));
}
#endif

#if defined(__AVX512F__) /* the *_avx512.c files */
/* 16-lane exp / sigmoid / epilogues. Inline: a call makes the caller save and restore every live
 * vector register around it (the ABI preserves none), in a GEMM tile's epilogue all 12 accumulators
 * around each call. The range reduction is p2l_exp8's; exp(r) is a degree-6 minimax polynomial
 * (relative error 1e-7 in float) and 2^n comes from one scalef, so 12 operations instead of 15. */
static inline __m512 p2l_exp16(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    /* x second: NaN goes through (p2l_exp8). From -110, 2^n is below the smallest denormal and
     * scalef gives 0, so exp(-inf) is 0 as in p2l_exp8 (between about -87.3 and -103 this one gives
     * the denormal, p2l_exp8 0). */
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-110.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
    r = _mm512_fnmadd_ps(n, ln2_lo, r);
    __m512 p = _mm512_set1_ps(1.3836807e-3f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3748102e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1668225e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666420e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.9999991e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 1 / d for d in [1, 11] (the uses below): the 14-bit estimate and one Newton step, within about 1
 * ulp, at a third of a division's cost. */
static inline __m512 p2l_reciprocal16(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* As p2l_sigmoid8: e = exp(-|x|), 1 / (1 + e) or e / (1 + e). */
static inline __m512 p2l_sigmoid16(__m512 x) {
    const __m512 e = p2l_exp16(_mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)))); /* exp(-|x|) */
    const __m512 s = p2l_reciprocal16(_mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(negative, s, _mm512_mul_ps(e, s));
}

static inline __m512 p2l_epilogue16(int epilogue, __m512 x) {
    if (epilogue == P2L_EPILOGUE_SILU) return _mm512_mul_ps(x, p2l_sigmoid16(x));
    if (epilogue == P2L_EPILOGUE_HARD_SWISH) {
        __m512 r = _mm512_add_ps(x, _mm512_set1_ps(3.0f));
        r = _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), r));
        /* a true division, as the unfused op: multiplying by 1/6 is 1 ulp off, and EfficientViT's
         * linear attention turned that into 3x the error against PyTorch */
        return _mm512_div_ps(_mm512_mul_ps(x, r), _mm512_set1_ps(6.0f));
    }
    return x;
}
#endif

#endif
