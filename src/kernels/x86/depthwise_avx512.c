/* DEPTHWISE_CONV_2D rows with AVX-512F (compiled with -mavx512f; conv.c calls this only when the
 * CPU has it). The AVX2 row's scheme in 16 lanes: for each output pixel the valid filter taps are
 * listed once, then channels go 64 at a time in 4 accumulators, then 16 at a time, then a masked
 * tail; bias, the clamp and the fused epilogue are applied before the one store. Weights and bias
 * are padded to a multiple of 16 channels at prepare, so only the input and output need masks. */
#include <immintrin.h>

#include "kernels/x86/x86.h"

enum { MAX_TAPS = 64 };

static inline __m512 finish(__m512 v, const p2l_clamp *cl, __m512 lo, __m512 hi) {
    if (cl->on) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    return cl->epilogue ? p2l_epilogue16(cl->epilogue, v) : v;
}

void p2l_depthwise_row_avx512(const p2l_depthwise_row_args *a) {
    const size_t C = a->C, PC = a->padded_c;
    const p2l_clamp *cl = a->clamp;
    const __m512 lo = _mm512_set1_ps(cl->lo), hi = _mm512_set1_ps(cl->hi);
    const __mmask16 tail = (__mmask16)((1u << (C % 16)) - 1u);
    size_t in_offset[MAX_TAPS];
    const float *tap_weights[MAX_TAPS];
    float *out = a->out;
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        int taps = 0;
        for (int ky = 0; ky < a->KH; ky++) {
            const int iy = a->oy * a->stride_h - a->pad_h + ky * a->dilation_h;
            if (iy < 0 || iy >= a->H) continue;
            for (int kx = 0; kx < a->KW; kx++) {
                const int ix = ox * a->stride_w - a->pad_w + kx * a->dilation_w;
                if (ix < 0 || ix >= a->W) continue;
                in_offset[taps] = ((size_t)iy * (size_t)a->W + (size_t)ix) * C;
                tap_weights[taps] = a->weights + (size_t)(ky * a->KW + kx) * PC;
                taps++;
            }
        }
        size_t c = 0;
        for (; c + 64 <= C; c += 64) {
            __m512 a0 = _mm512_loadu_ps(a->bias + c), a1 = _mm512_loadu_ps(a->bias + c + 16);
            __m512 a2 = _mm512_loadu_ps(a->bias + c + 32), a3 = _mm512_loadu_ps(a->bias + c + 48);
            for (int t = 0; t < taps; t++) {
                const float *ip = a->in + in_offset[t] + c, *wp = tap_weights[t] + c;
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(ip), _mm512_loadu_ps(wp), a0);
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(ip + 16), _mm512_loadu_ps(wp + 16), a1);
                a2 = _mm512_fmadd_ps(_mm512_loadu_ps(ip + 32), _mm512_loadu_ps(wp + 32), a2);
                a3 = _mm512_fmadd_ps(_mm512_loadu_ps(ip + 48), _mm512_loadu_ps(wp + 48), a3);
            }
            _mm512_storeu_ps(out + c, finish(a0, cl, lo, hi));
            _mm512_storeu_ps(out + c + 16, finish(a1, cl, lo, hi));
            _mm512_storeu_ps(out + c + 32, finish(a2, cl, lo, hi));
            _mm512_storeu_ps(out + c + 48, finish(a3, cl, lo, hi));
        }
        for (; c + 16 <= C; c += 16) {
            __m512 a0 = _mm512_loadu_ps(a->bias + c);
            for (int t = 0; t < taps; t++)
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a->in + in_offset[t] + c), _mm512_loadu_ps(tap_weights[t] + c), a0);
            _mm512_storeu_ps(out + c, finish(a0, cl, lo, hi));
        }
        if (c < C) {
            __m512 a0 = _mm512_loadu_ps(a->bias + c); /* padded: in bounds */
            for (int t = 0; t < taps; t++)
                a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a->in + in_offset[t] + c),
                                     _mm512_loadu_ps(tap_weights[t] + c), a0);
            _mm512_mask_storeu_ps(out + c, tail, finish(a0, cl, lo, hi));
        }
    }
}
