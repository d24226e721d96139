/* One output row of MAX_POOL_2D or AVERAGE_POOL_2D, NHWC float32, AVX2 (the driver is fast/pool.c):
 * for each output pixel the window is clipped to the input once, then channels go 8 at a time
 * (masked tail). The average divides by the number of window elements inside the input, as the
 * reference does. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx2.h"

void p2l_f32_pool_row__avx2(const p2l_pool_row_args *a) {
    const size_t C = a->C;
    const int W = a->W, ys = a->ys, ye = a->ye;
    const bool average = a->average, clamp = a->clamp->on;
    const float *in = a->in;
    float *out = a->out;
    const __m256 lo = _mm256_set1_ps(a->clamp->lo), hi = _mm256_set1_ps(a->clamp->hi);
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        int xs, xe;
        const int count = p2l_pool_window(a, ox, &xs, &xe);
        const __m256 divisor = _mm256_set1_ps((float)count);
        for (size_t c = 0; c < C; c += 8) {
            const __m256i mask = p2l_tail_mask(C - c < 8 ? C - c : 8);
            __m256 acc = average ? _mm256_setzero_ps() : _mm256_set1_ps(-__builtin_inff());
            __m256 nan = _mm256_setzero_ps(); /* max: all ones in lanes that saw a NaN */
            for (int iy = ys; iy < ye; iy++)
                for (int ix = xs; ix < xe; ix++) {
                    const __m256 v = _mm256_maskload_ps(in + ((size_t)iy * (size_t)W + (size_t)ix) * C + c, mask);
                    if (average) {
                        acc = _mm256_add_ps(acc, v);
                    } else { /* max_ps drops a NaN v; the reference (and PyTorch) keep it */
                        acc = _mm256_max_ps(v, acc);
                        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    }
                }
            if (average) acc = count > 0 ? _mm256_div_ps(acc, divisor) : _mm256_setzero_ps();
            else acc = _mm256_or_ps(acc, nan); /* all ones is a NaN */
            if (clamp) acc = _mm256_min_ps(hi, _mm256_max_ps(lo, acc));
            _mm256_maskstore_ps(out + c, mask, acc);
        }
    }
}
