/* DEPTHWISE_CONV_2D rows with AVX2/FMA (the driver is fast/conv.c): for each output pixel the valid
 * filter taps are listed once, then channels go 32 at a time in 4 accumulators (8 at a time and a
 * masked tail after that); bias and the clamp are applied before the one store. Weights and bias
 * are padded to a multiple of 8 channels, so only the input and output need masks. */
#include "kernels/x86/x86.h"

static inline __m256 clamp8(__m256 v, const p2l_clamp *cl, __m256 lo, __m256 hi) {
    return p2l_epilogue8(cl->epilogue, cl->on ? _mm256_min_ps(hi, _mm256_max_ps(lo, v)) : v);
}

void p2l_depthwise_row_avx2(const p2l_depthwise_row_args *a) {
    const size_t C = a->C, c_begin = a->c_begin, c_end = a->c_end;
    const p2l_clamp *cl = a->clamp;
    const __m256 lo = _mm256_set1_ps(cl->lo), hi = _mm256_set1_ps(cl->hi);
    const __m256i tail = p2l_tail_mask((c_end - c_begin) % 8);
    const float *in = a->in, *bias = a->bias;
    float *out = a->out;
    size_t in_offset[P2L_DEPTHWISE_MAX_TAPS];
    const float *tap_weights[P2L_DEPTHWISE_MAX_TAPS];
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        const int taps = p2l_depthwise_taps(a, ox, in_offset, tap_weights);
        size_t c = c_begin;
        for (; c + 32 <= c_end; c += 32) {
            __m256 a0 = _mm256_loadu_ps(bias + c), a1 = _mm256_loadu_ps(bias + c + 8);
            __m256 a2 = _mm256_loadu_ps(bias + c + 16), a3 = _mm256_loadu_ps(bias + c + 24);
            for (int t = 0; t < taps; t++) {
                const float *ip = in + in_offset[t] + c, *wp = tap_weights[t] + c;
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(ip), _mm256_loadu_ps(wp), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(ip + 8), _mm256_loadu_ps(wp + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(ip + 16), _mm256_loadu_ps(wp + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(ip + 24), _mm256_loadu_ps(wp + 24), a3);
            }
            _mm256_storeu_ps(out + c, clamp8(a0, cl, lo, hi));
            _mm256_storeu_ps(out + c + 8, clamp8(a1, cl, lo, hi));
            _mm256_storeu_ps(out + c + 16, clamp8(a2, cl, lo, hi));
            _mm256_storeu_ps(out + c + 24, clamp8(a3, cl, lo, hi));
        }
        for (; c + 8 <= c_end; c += 8) {
            __m256 a0 = _mm256_loadu_ps(bias + c);
            for (int t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(in + in_offset[t] + c), _mm256_loadu_ps(tap_weights[t] + c), a0);
            _mm256_storeu_ps(out + c, clamp8(a0, cl, lo, hi));
        }
        if (c < c_end) {
            __m256 a0 = _mm256_loadu_ps(bias + c); /* padded: in bounds */
            for (int t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_maskload_ps(in + in_offset[t] + c, tail), _mm256_loadu_ps(tap_weights[t] + c),
                                     a0);
            _mm256_maskstore_ps(out + c, tail, clamp8(a0, cl, lo, hi));
        }
    }
}
