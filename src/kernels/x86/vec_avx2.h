/* The vector mapping of AVX2/FMA for fast/vec_rows.h: 8 floats in a p2l_vec. Included only by the
 * files compiled with -mavx2 -mfma. */
#ifndef P2L_KERNELS_X86_VEC_AVX2_H
#define P2L_KERNELS_X86_VEC_AVX2_H

#include <immintrin.h>

#define P2L_VEC_ISA avx2
#define P2L_VEC_INLINE static inline __attribute__((always_inline))
typedef __m256 p2l_vec;
enum { P2L_VEC_LANES = 8 };

/* Lanes [0, n) on, n in 0..8. */
static inline __m256i p2l_tail_mask(size_t n) {
    static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(table + 8 - n));
}

P2L_VEC_INLINE p2l_vec p2l_vec_set1(float x) { return _mm256_set1_ps(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_load(const float *p) { return _mm256_loadu_ps(p); }
P2L_VEC_INLINE void p2l_vec_store(float *p, p2l_vec v) { _mm256_storeu_ps(p, v); }
/* The first n (< 8) lanes from / to memory; the other lanes load as zero. */
P2L_VEC_INLINE p2l_vec p2l_vec_load_partial(const float *p, size_t n) { return _mm256_maskload_ps(p, p2l_tail_mask(n)); }
P2L_VEC_INLINE void p2l_vec_store_partial(float *p, p2l_vec v, size_t n) { _mm256_maskstore_ps(p, p2l_tail_mask(n), v); }
P2L_VEC_INLINE float p2l_vec_first(p2l_vec v) { return _mm256_cvtss_f32(v); }

P2L_VEC_INLINE p2l_vec p2l_vec_add(p2l_vec a, p2l_vec b) { return _mm256_add_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_sub(p2l_vec a, p2l_vec b) { return _mm256_sub_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_mul(p2l_vec a, p2l_vec b) { return _mm256_mul_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_div(p2l_vec a, p2l_vec b) { return _mm256_div_ps(a, b); }
/* a / d for d in [1, 11] (the rows' uses): a true division here. */
P2L_VEC_INLINE p2l_vec p2l_vec_div_small(p2l_vec a, p2l_vec d) { return _mm256_div_ps(a, d); }
/* a > b ? a : b and a < b ? a : b: b where either is NaN (maxps / minps). */
P2L_VEC_INLINE p2l_vec p2l_vec_max(p2l_vec a, p2l_vec b) { return _mm256_max_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_min(p2l_vec a, p2l_vec b) { return _mm256_min_ps(a, b); }
/* a * b + c and c - a * b, rounded once. */
P2L_VEC_INLINE p2l_vec p2l_vec_fmadd(p2l_vec a, p2l_vec b, p2l_vec c) { return _mm256_fmadd_ps(a, b, c); }
P2L_VEC_INLINE p2l_vec p2l_vec_fnmadd(p2l_vec a, p2l_vec b, p2l_vec c) { return _mm256_fnmadd_ps(a, b, c); }

/* Sign bits: |x|, -|x|, -x, x's sign on a non-negative magnitude; OR of the bits. */
P2L_VEC_INLINE p2l_vec p2l_vec_abs(p2l_vec x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
P2L_VEC_INLINE p2l_vec p2l_vec_neg_abs(p2l_vec x) { return _mm256_or_ps(x, _mm256_set1_ps(-0.0f)); }
P2L_VEC_INLINE p2l_vec p2l_vec_neg(p2l_vec x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }
P2L_VEC_INLINE p2l_vec p2l_vec_with_sign_of(p2l_vec magnitude, p2l_vec x) {
    return _mm256_or_ps(magnitude, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
}
P2L_VEC_INLINE p2l_vec p2l_vec_or(p2l_vec a, p2l_vec b) { return _mm256_or_ps(a, b); }
/* All ones (a NaN) in the lanes where v is NaN. */
P2L_VEC_INLINE p2l_vec p2l_vec_nan_mask(p2l_vec v) { return _mm256_cmp_ps(v, v, _CMP_UNORD_Q); }
/* Per lane: x < y (ordered) ? then : otherwise. */
P2L_VEC_INLINE p2l_vec p2l_vec_select_lt(p2l_vec x, p2l_vec y, p2l_vec then, p2l_vec otherwise) {
    return _mm256_blendv_ps(otherwise, then, _mm256_cmp_ps(x, y, _CMP_LT_OQ));
}

/* For vec_rows.h's exp: n rounded to the nearest integer, and 2^n for integral n, 0 below the
 * normal range (the biased exponent clamped to 0). */
P2L_VEC_INLINE p2l_vec p2l_vec_round(p2l_vec x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
P2L_VEC_INLINE p2l_vec p2l_vec_exp2_int(p2l_vec n) {
    const __m256i biased =
        _mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), _mm256_setzero_si256());
    return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
}

#endif
