/* One SOFTMAX row with AVX-512F (the driver is fast/softmax.c): the AVX2 row's steps on 16 lanes
 * with vec_avx512.h's cheaper exp; twice the work per instruction for transformers' attention. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx512.h"

/* Row max, then exp((x - max) * beta) stored and summed, then one scaling pass (the AVX2 row's
 * steps; the sum adds 16 lanes instead of 8, so its last bit may differ). */
void p2l_f32_softmax_row__avx512(const float *in, float *out, size_t n, float beta) {
    __m512 vmax = _mm512_set1_ps(in[0]);
    for (size_t i = 0; i < n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, p2l_lanes16(n - i), in + i));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax)), vbeta = _mm512_set1_ps(beta);
    __m512 vsum = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = p2l_lanes16(n - i);
        const __m512 e = p2l_vec_exp(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, in + i), m), vbeta));
        _mm512_mask_storeu_ps(out + i, k, e);
        vsum = _mm512_mask_add_ps(vsum, k, vsum, e);
    }
    const __m512 scale = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = p2l_lanes16(n - i);
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + i), scale));
    }
}
