/* The unary activation rows and the SOFTMAX row with AVX-512F: the AVX2 versions (unary.c,
 * softmax.c) on 16 lanes with x86.h's cheaper exp and reciprocal (results within an ulp or two of
 * the AVX2 ones); twice the work per instruction for transformers' GELU and softmax. */
#include "kernels/x86/x86.h"

static inline __m512 tanh16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 ax = _mm512_abs_ps(x);
    const __m512 e = p2l_exp16(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
    const __m512 big = _mm512_mul_ps(_mm512_sub_ps(one, e), p2l_reciprocal16(_mm512_add_ps(one, e)));
    const __m512 x2 = _mm512_mul_ps(ax, ax);
    __m512 p = _mm512_set1_ps(62.0f / 2835.0f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), ax, ax);
    const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.0625f), _CMP_LT_OQ);
    const __m512 magnitude = _mm512_mask_blend_ps(is_small, big, small);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude), sign));
}

static inline __m512 gelu16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 az = _mm512_min_ps(_mm512_set1_ps(30.0f), _mm512_abs_ps(z)); /* erf is 1 long before; NaN goes through */
    const __m512 t = p2l_reciprocal16(_mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), az, one));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    const __m512 e = p2l_exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az)); /* exp(-z^2) */
    const __m512 erf_abs = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, one);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u));
    const __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(erf_abs), sign));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, erf));
}

static inline __m512 gelu_tanh16(__m512 x) {
    const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.79788456080286536f),
                                       _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), tanh16(inner)));
}

static inline __m512 apply16(int kind, __m512 x) { /* a P2L_UNARY_* */
    const __m512 zero = _mm512_setzero_ps();
    switch (kind) {
    /* x second: NaN passes through (x86/unary.c) */
    case P2L_UNARY_RELU: return _mm512_max_ps(zero, x);
    case P2L_UNARY_RELU6: return _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(zero, x));
    case P2L_UNARY_RELU_N1_TO_1: return _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_set1_ps(-1.0f), x));
    case P2L_UNARY_HARD_SWISH: return p2l_epilogue16(P2L_EPILOGUE_HARD_SWISH, x);
    case P2L_UNARY_LOGISTIC: return p2l_sigmoid16(x);
    case P2L_UNARY_TANH: return tanh16(x);
    case P2L_UNARY_GELU: return gelu16(x);
    case P2L_UNARY_GELU_TANH: return gelu_tanh16(x);
    default: return x;
    }
}

/* Lanes [0, left) of a 16-lane vector (all of them from 16 on). */
static inline __mmask16 lanes16(size_t left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

/* One instance per kind so the switch leaves the loop; the tail is one masked vector. */
#define DEFINE_ROW16(name, KIND)                                                                      \
    static void name(const float *in, float *out, size_t n) {                                          \
        size_t i = 0;                                                                                  \
        for (; i + 32 <= n; i += 32) {                                                                 \
            const __m512 a = apply16(KIND, _mm512_loadu_ps(in + i));                                   \
            const __m512 b = apply16(KIND, _mm512_loadu_ps(in + i + 16));                              \
            _mm512_storeu_ps(out + i, a);                                                              \
            _mm512_storeu_ps(out + i + 16, b);                                                         \
        }                                                                                              \
        for (; i < n; i += 16) {                                                                       \
            const __mmask16 m = lanes16(n - i);                                                        \
            _mm512_mask_storeu_ps(out + i, m, apply16(KIND, _mm512_maskz_loadu_ps(m, in + i)));        \
        }                                                                                              \
    }
DEFINE_ROW16(relu_row, P2L_UNARY_RELU)
DEFINE_ROW16(relu6_row, P2L_UNARY_RELU6)
DEFINE_ROW16(relu_n1_to_1_row, P2L_UNARY_RELU_N1_TO_1)
DEFINE_ROW16(hard_swish_row, P2L_UNARY_HARD_SWISH)
DEFINE_ROW16(logistic_row, P2L_UNARY_LOGISTIC)
DEFINE_ROW16(tanh_row, P2L_UNARY_TANH)
DEFINE_ROW16(gelu_row, P2L_UNARY_GELU)
DEFINE_ROW16(gelu_tanh_row, P2L_UNARY_GELU_TANH)

const p2l_unary_row_fn p2l_unary_rows_avx512[P2L_UNARY_KINDS] = {
    [P2L_UNARY_RELU] = relu_row, [P2L_UNARY_RELU6] = relu6_row, [P2L_UNARY_RELU_N1_TO_1] = relu_n1_to_1_row,
    [P2L_UNARY_HARD_SWISH] = hard_swish_row, [P2L_UNARY_LOGISTIC] = logistic_row, [P2L_UNARY_TANH] = tanh_row,
    [P2L_UNARY_GELU] = gelu_row, [P2L_UNARY_GELU_TANH] = gelu_tanh_row,
};

/* Row max, then exp((x - max) * beta) stored and summed, then one scaling pass (the AVX2 row's
 * steps; the sum adds 16 lanes instead of 8, so its last bit may differ). */
void p2l_softmax_row_avx512(const float *in, float *out, size_t n, float beta) {
    __m512 vmax = _mm512_set1_ps(in[0]);
    for (size_t i = 0; i < n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, lanes16(n - i), in + i));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax)), vbeta = _mm512_set1_ps(beta);
    __m512 vsum = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = lanes16(n - i);
        const __m512 e = p2l_exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, in + i), m), vbeta));
        _mm512_mask_storeu_ps(out + i, k, e);
        vsum = _mm512_mask_add_ps(vsum, k, vsum, e);
    }
    const __m512 scale = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = lanes16(n - i);
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + i), scale));
    }
}
