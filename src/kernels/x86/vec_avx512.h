/* The vector mapping of AVX-512F for fast/vec_rows.h: 16 floats in a p2l_vec, with a cheaper exp
 * and reciprocal than AVX2's (results within an ulp or two of the AVX2 rows). Included only by the
 * *_avx512.c files (compiled with -mavx512f). */
#ifndef P2L_KERNELS_X86_VEC_AVX512_H
#define P2L_KERNELS_X86_VEC_AVX512_H

#include <immintrin.h>

#define P2L_VEC_ISA avx512
#define P2L_VEC_INLINE static inline __attribute__((always_inline))
typedef __m512 p2l_vec;
enum { P2L_VEC_LANES = 16 };

/* Lanes [0, n) on (all of them from 16 on). */
static inline __mmask16 p2l_lanes16(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

P2L_VEC_INLINE p2l_vec p2l_vec_set1(float x) { return _mm512_set1_ps(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_load(const float *p) { return _mm512_loadu_ps(p); }
P2L_VEC_INLINE void p2l_vec_store(float *p, p2l_vec v) { _mm512_storeu_ps(p, v); }
/* The first n (< 16) lanes from / to memory; the other lanes load as zero. */
P2L_VEC_INLINE p2l_vec p2l_vec_load_partial(const float *p, size_t n) { return _mm512_maskz_loadu_ps(p2l_lanes16(n), p); }
P2L_VEC_INLINE void p2l_vec_store_partial(float *p, p2l_vec v, size_t n) { _mm512_mask_storeu_ps(p, p2l_lanes16(n), v); }
P2L_VEC_INLINE float p2l_vec_first(p2l_vec v) { return _mm512_cvtss_f32(v); }

P2L_VEC_INLINE p2l_vec p2l_vec_add(p2l_vec a, p2l_vec b) { return _mm512_add_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_sub(p2l_vec a, p2l_vec b) { return _mm512_sub_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_mul(p2l_vec a, p2l_vec b) { return _mm512_mul_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_div(p2l_vec a, p2l_vec b) { return _mm512_div_ps(a, b); }
/* 1 / d for d in [1, 11]: the 14-bit estimate and one Newton step, within about 1 ulp, at a third
 * of a division's cost. */
P2L_VEC_INLINE __m512 p2l_reciprocal16(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}
P2L_VEC_INLINE p2l_vec p2l_vec_div_small(p2l_vec a, p2l_vec d) { return _mm512_mul_ps(a, p2l_reciprocal16(d)); }
/* a > b ? a : b and a < b ? a : b: b where either is NaN. */
P2L_VEC_INLINE p2l_vec p2l_vec_max(p2l_vec a, p2l_vec b) { return _mm512_max_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_min(p2l_vec a, p2l_vec b) { return _mm512_min_ps(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_fmadd(p2l_vec a, p2l_vec b, p2l_vec c) { return _mm512_fmadd_ps(a, b, c); }
P2L_VEC_INLINE p2l_vec p2l_vec_fnmadd(p2l_vec a, p2l_vec b, p2l_vec c) { return _mm512_fnmadd_ps(a, b, c); }

/* Sign bits, with integer operations (AVX-512F has no float ones). */
#define P2L_BITS16_(op, a, b) _mm512_castsi512_ps(op(_mm512_castps_si512(a), _mm512_castps_si512(b)))
P2L_VEC_INLINE p2l_vec p2l_vec_sign_bit_(void) { return _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u)); }
P2L_VEC_INLINE p2l_vec p2l_vec_abs(p2l_vec x) { return _mm512_abs_ps(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_neg_abs(p2l_vec x) { return P2L_BITS16_(_mm512_or_si512, x, p2l_vec_sign_bit_()); }
P2L_VEC_INLINE p2l_vec p2l_vec_neg(p2l_vec x) { return P2L_BITS16_(_mm512_xor_si512, x, p2l_vec_sign_bit_()); }
P2L_VEC_INLINE p2l_vec p2l_vec_with_sign_of(p2l_vec magnitude, p2l_vec x) {
    return P2L_BITS16_(_mm512_or_si512, magnitude, P2L_BITS16_(_mm512_and_si512, x, p2l_vec_sign_bit_()));
}
P2L_VEC_INLINE p2l_vec p2l_vec_or(p2l_vec a, p2l_vec b) { return P2L_BITS16_(_mm512_or_si512, a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_nan_mask(p2l_vec v) {
    return _mm512_castsi512_ps(_mm512_maskz_set1_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), -1));
}
P2L_VEC_INLINE p2l_vec p2l_vec_select_lt(p2l_vec x, p2l_vec y, p2l_vec then, p2l_vec otherwise) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_LT_OQ), otherwise, then);
}

/* exp, its own (vec_rows.h uses it instead of the Taylor one): the range reduction of the AVX2 exp;
 * exp(r) is a degree-6 minimax polynomial (relative error 1e-7 in float) and 2^n comes from one
 * scalef, so 12 operations instead of 15. x second in the clamp: NaN goes through. From -110, 2^n
 * is below the smallest denormal and scalef gives 0, so exp(-inf) is 0 as in the AVX2 exp (between
 * about -87.3 and -103 this one gives the denormal, the AVX2 one 0). */
#define P2L_VEC_HAS_EXP 1
P2L_VEC_INLINE p2l_vec p2l_vec_exp(p2l_vec x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
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

#endif
