/* Rows of unary activations, float32, AVX2/FMA: RELU, RELU6, RELU_N1_TO_1, HARD_SWISH, LOGISTIC,
 * TANH, GELU (the driver is fast/unary.c), and the vector exp shared with SOFTMAX and the epilogues. */
#include "kernels/x86/x86.h"

/* exp by range reduction: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for exactness),
 * exp(r) by its degree-6 Taylor polynomial (truncation error below 1.2e-7 relative), then 2^n
 * built in the exponent bits. x is clamped to [-100, 88]; below the normal range (n < -126) 2^n's
 * biased exponent is clamped to 0, which makes it +0, so exp(-inf) (softmax's masked entries,
 * sigmoid(-inf)) is exactly 0. The clamp has x as the second operand, which max_ps / min_ps
 * return when either is NaN: NaN goes through, so exp, sigmoid, tanh and softmax give NaN for NaN
 * as PyTorch does, at no cost. (+inf gives exp(88): every caller's argument is <= 0.) */
static inline __attribute__((always_inline)) __m256 exp8(__m256 x) {
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-100.0f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, ln2_hi, x);
    r = _mm256_fnmadd_ps(n, ln2_lo, r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i biased = _mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                            _mm256_setzero_si256());
    const __m256i bits = _mm256_slli_epi32(biased, 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}
/* Inlined into this file's rows (tanh and GELU call it twice per vector: a call there costs 20%),
 * called from the others. */
__m256 p2l_exp8(__m256 x) { return exp8(x); }

/* With e = exp(-|x|) <= 1 nothing overflows: 1 / (1 + e) for x >= 0 and e / (1 + e) below, which
 * keeps the relative accuracy of tiny results for very negative x. */
__m256 p2l_sigmoid8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 e = exp8(_mm256_or_ps(x, sign)); /* exp(-|x|) */
    const __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(s, _mm256_mul_ps(e, s), negative);
}

/* tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1, sign restored after. Below |x| = 0.0625
 * 1 - e cancels, so there the odd Taylor polynomial to x^9 (error below 1e-11 relative) is used. */
static inline __attribute__((always_inline)) __m256 tanh8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256 e = exp8(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
    const __m256 big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    const __m256 x2 = _mm256_mul_ps(ax, ax);
    __m256 p = _mm256_set1_ps(62.0f / 2835.0f);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-17.0f / 315.0f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 3.0f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), ax, ax);
    const __m256 magnitude = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.0625f), _CMP_LT_OQ));
    return _mm256_or_ps(magnitude, _mm256_and_ps(x, sign));
}

/* GELU, exact form: x/2 (1 + erf(x / sqrt 2)). erf by Abramowitz and Stegun 7.1.26 (absolute error
 * below 1.5e-7) on |x|, sign restored: 1 - t (a1 + t (a2 + ...)) exp(-x^2), t = 1 / (1 + p |x|). */
static inline __attribute__((always_inline)) __m256 gelu8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    const __m256 az = _mm256_andnot_ps(sign, z);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, one));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    const __m256 e = exp8(_mm256_mul_ps(_mm256_xor_ps(az, sign), az)); /* exp(-z^2) */
    const __m256 erf_abs = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, one);
    const __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(z, sign));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(one, erf));
}

/* GELU, tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static inline __attribute__((always_inline)) __m256 gelu_tanh8(__m256 x) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 inner = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f),
                                       _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), tanh8(inner)));
}

enum { GELU_TANH = P2L_OP_GELU + 100000 }; /* a row instance of its own for the tanh form */

static inline __m256 apply(int op, __m256 x) { /* a p2l_op, or GELU_TANH */
    const __m256 zero = _mm256_setzero_ps();
    switch (op) {
    /* max(0, x) then min(6, x): NaN (the second operand) passes through, as in the reference and
     * PyTorch. */
    case P2L_OP_RELU: return _mm256_max_ps(zero, x);
    case P2L_OP_RELU6: return _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(zero, x));
    case P2L_OP_RELU_N1_TO_1: return _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_set1_ps(-1.0f), x));
    case P2L_OP_HARD_SWISH: {
        /* x * relu6(x + 3) / 6, rounded exactly like the reference (a true division). */
        __m256 r = _mm256_add_ps(x, _mm256_set1_ps(3.0f));
        r = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(zero, r));
        return _mm256_div_ps(_mm256_mul_ps(x, r), _mm256_set1_ps(6.0f));
    }
    case P2L_OP_LOGISTIC: return p2l_sigmoid8(x);
    case P2L_OP_TANH: return tanh8(x);
    case P2L_OP_GELU: return gelu8(x);
    case GELU_TANH: return gelu_tanh8(x);
    default: return x;
    }
}

/* One instance per op so the switch leaves the loop. */
#define DEFINE_ROW(name, OP)                                                     \
    static void name(const float *in, float *out, size_t n) {                     \
        size_t i = 0;                                                             \
        for (; i + 16 <= n; i += 16) {                                            \
            __m256 a = apply(OP, _mm256_loadu_ps(in + i));                        \
            __m256 b = apply(OP, _mm256_loadu_ps(in + i + 8));                    \
            _mm256_storeu_ps(out + i, a);                                         \
            _mm256_storeu_ps(out + i + 8, b);                                     \
        }                                                                         \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, apply(OP, _mm256_loadu_ps(in + i))); \
        if (i < n) {                                                              \
            const __m256i mask = p2l_tail_mask(n - i);                            \
            _mm256_maskstore_ps(out + i, mask, apply(OP, _mm256_maskload_ps(in + i, mask))); \
        }                                                                         \
    }
DEFINE_ROW(relu_row, P2L_OP_RELU)
DEFINE_ROW(relu6_row, P2L_OP_RELU6)
DEFINE_ROW(relu_n1_to_1_row, P2L_OP_RELU_N1_TO_1)
DEFINE_ROW(hard_swish_row, P2L_OP_HARD_SWISH)
DEFINE_ROW(logistic_row, P2L_OP_LOGISTIC)
DEFINE_ROW(tanh_row, P2L_OP_TANH)
DEFINE_ROW(gelu_row, P2L_OP_GELU)
DEFINE_ROW(gelu_tanh_row, GELU_TANH)

const p2l_unary_row_fn p2l_unary_rows_avx2[P2L_UNARY_KINDS] = {
    [P2L_UNARY_RELU] = relu_row, [P2L_UNARY_RELU6] = relu6_row, [P2L_UNARY_RELU_N1_TO_1] = relu_n1_to_1_row,
    [P2L_UNARY_HARD_SWISH] = hard_swish_row, [P2L_UNARY_LOGISTIC] = logistic_row, [P2L_UNARY_TANH] = tanh_row,
    [P2L_UNARY_GELU] = gelu_row, [P2L_UNARY_GELU_TANH] = gelu_tanh_row,
};
