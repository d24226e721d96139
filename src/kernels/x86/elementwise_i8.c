/* AVX2 int8 element-wise rows (fast.h, "int8 element-wise rows"), 8 elements at a time, equal bit for
 * bit to the reference kernels:
 *  - ADD / SUB / MUL: quant_math.h's p2l_quant_binary_row with quant_avx2.h's rescaling (the operands
 *    offset and shifted left by 20 fit int32 exactly, |x| <= 255 * 2^20; products of offset operands
 *    too, |x * y| <= 255^2);
 *  - QUANTIZE: the division is IEEE's in both (VDIVPS rounds as the scalar division); round half away
 *    from zero is the truncation plus one step away from zero where the dropped fraction is >= 1/2
 *    (t and r - t are exact); NaN gives 0 as p2l_round_to_i32; the clamp to the int8 range, taken
 *    before the zero point is added, is the same clamp as the reference's after it;
 *  - DEQUANTIZE: the integer difference is exact in float, one rounded product. */
#include "kernels/quant_math.h"
#include "kernels/x86/quant_avx2.h"

/* 8 operand values from element i: step 1 loads them, step 0 repeats element 0. */
static inline __m256i load_operand(const int8_t *p, size_t step, size_t i) {
    return step ? _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + i))) : _mm256_set1_epi32(p[0]);
}

typedef struct vector_multiplier {
    __m256i multiplier, left, right;
} vector_multiplier;

static inline vector_multiplier vector_multiplier_of(p2l_multiplier m) {
    return (vector_multiplier){_mm256_set1_epi32(m.multiplier), _mm256_set1_epi32(m.shift > 0 ? m.shift : 0),
                               _mm256_set1_epi32(m.shift > 0 ? 0 : -m.shift)};
}

static inline __m256i rescale(__m256i x, vector_multiplier m) {
    return multiply_by_quantized_multiplier(x, m.multiplier, m.left, m.right);
}

void p2l_i8_binary_row__avx2(p2l_op op, const p2l_quant_binary *q, const int8_t *a, size_t sa, const int8_t *b,
                             size_t sb, int8_t *out, size_t n) {
    size_t i = 0;
    if (sa <= 1 && sb <= 1) {
        const __m256i offset_a = _mm256_set1_epi32(q->offset_a), offset_b = _mm256_set1_epi32(q->offset_b);
        const __m256i output_offset = _mm256_set1_epi32(q->output_offset);
        const __m256i lo = _mm256_set1_epi32(q->act_min), hi = _mm256_set1_epi32(q->act_max);
        const vector_multiplier ma = vector_multiplier_of(q->a), mb = vector_multiplier_of(q->b);
        const vector_multiplier mo = vector_multiplier_of(q->output);
        for (; i + 8 <= n; i += 8) {
            const __m256i x = _mm256_add_epi32(load_operand(a, sa, i), offset_a);
            const __m256i y = _mm256_add_epi32(load_operand(b, sb, i), offset_b);
            __m256i raw;
            if (op == P2L_OP_MUL) {
                raw = rescale(_mm256_mullo_epi32(x, y), mo);
            } else {
                const __m256i sx = rescale(_mm256_slli_epi32(x, P2L_QUANT_ADD_LEFT_SHIFT), ma);
                const __m256i sy = rescale(_mm256_slli_epi32(y, P2L_QUANT_ADD_LEFT_SHIFT), mb);
                raw = rescale(op == P2L_OP_ADD ? _mm256_add_epi32(sx, sy) : _mm256_sub_epi32(sx, sy), mo);
            }
            store_i8x8(out + i, _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(raw, output_offset), lo), hi));
        }
    }
    if (i < n) p2l_quant_binary_row(op, q, a + i * sa, sa, b + i * sb, sb, out + i, n - i);
}

void p2l_i8_quantize_row__avx2(const float *in, float scale, int32_t zero_point, int8_t *out, size_t n) {
    const __m256 vscale = _mm256_set1_ps(scale), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    /* the int8 range less the zero point: integers, exact in float */
    const __m256 lo = _mm256_set1_ps((float)(-128 - zero_point)), hi = _mm256_set1_ps((float)(127 - zero_point));
    const __m256i zp = _mm256_set1_epi32(zero_point);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 r = _mm256_div_ps(_mm256_loadu_ps(in + i), vscale);
        __m256 t = _mm256_round_ps(r, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(r, t)), half, _CMP_GE_OQ);
        t = _mm256_add_ps(t, _mm256_and_ps(away, _mm256_or_ps(_mm256_and_ps(r, sign), one)));
        t = _mm256_andnot_ps(_mm256_cmp_ps(r, r, _CMP_UNORD_Q), t); /* NaN -> 0 */
        t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
        store_i8x8(out + i, _mm256_add_epi32(_mm256_cvttps_epi32(t), zp));
    }
    for (; i < n; i++) out[i] = (int8_t)p2l_affine_quantize(in[i], scale, zero_point, -128, 127);
}

void p2l_i8_dequantize_row__avx2(const int8_t *in, float scale, int32_t zero_point, float *out, size_t n) {
    const __m256 vscale = _mm256_set1_ps(scale);
    const __m256i zp = _mm256_set1_epi32(zero_point);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i q = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(in + i))), zp);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(vscale, _mm256_cvtepi32_ps(q)));
    }
    for (; i < n; i++) out[i] = scale * (float)((int32_t)in[i] - zero_point);
}
