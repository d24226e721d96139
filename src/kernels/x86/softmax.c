/* One SOFTMAX row, float32, AVX2 (the driver is fast/softmax.c): row max, then
 * exp((x - max) * beta) stored and summed, then one scaling pass. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx2.h"
#include "kernels/fast/vec_rows.h"

static float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void p2l_f32_softmax_row__avx2(const float *in, float *out, size_t n, float beta) {
    __m256 vmax = _mm256_set1_ps(in[0]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(in + i));
    float max = hmax(vmax);
    for (; i < n; i++) max = in[i] > max ? in[i] : max;
    const __m256 m = _mm256_set1_ps(max), vbeta = _mm256_set1_ps(beta);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = p2l_vec_exp(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), m), vbeta));
        _mm256_storeu_ps(out + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (i < n) {
        const __m256i mask = p2l_tail_mask(n - i);
        __m256 e = p2l_vec_exp(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(in + i, mask), m), vbeta));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
        _mm256_maskstore_ps(out + i, mask, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 scale = _mm256_set1_ps(1.0f / hsum(vsum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), scale));
    for (; i < n; i++) out[i] *= _mm256_cvtss_f32(scale);
}
