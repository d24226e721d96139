/* One output row of MAX_POOL_2D or AVERAGE_POOL_2D, NHWC float32, NEON (the driver is fast/pool.c):
 * for each output pixel the window is clipped to the input once, then channels go 4 at a time and
 * the last 1 to 3 one by one, with the AVX2 row's operations. The average divides by the number of
 * window elements inside the input, as the reference does. */
#include "kernels/arm/arm.h"
#include "kernels/arm/vec_neon.h"

void p2l_f32_pool_row__neon(const p2l_pool_row_args *a) {
    const size_t C = a->C;
    const int W = a->W, ys = a->ys, ye = a->ye;
    const bool average = a->average, clamp = a->clamp->on;
    const float *in = a->in;
    float *out = a->out;
    const float32x4_t lo = vdupq_n_f32(a->clamp->lo), hi = vdupq_n_f32(a->clamp->hi);
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        int xs, xe;
        const int count = p2l_pool_window(a, ox, &xs, &xe);
        size_t c = 0;
        for (; c + 4 <= C; c += 4) {
            float32x4_t acc = vdupq_n_f32(average ? 0.0f : -__builtin_inff());
            float32x4_t nan = vdupq_n_f32(0.0f); /* max: all ones in lanes that saw a NaN */
            for (int iy = ys; iy < ye; iy++)
                for (int ix = xs; ix < xe; ix++) {
                    const float32x4_t v = vld1q_f32(in + ((size_t)iy * (size_t)W + (size_t)ix) * C + c);
                    if (average) {
                        acc = vaddq_f32(acc, v);
                    } else { /* as x86/pool.c: p2l_max4 drops a NaN v, the mask keeps it */
                        acc = p2l_max4(v, acc);
                        nan = p2l_vec_or(nan, p2l_vec_nan_mask(v));
                    }
                }
            if (average) acc = count > 0 ? vdivq_f32(acc, vdupq_n_f32((float)count)) : vdupq_n_f32(0.0f);
            else acc = p2l_vec_or(acc, nan);
            vst1q_f32(out + c, clamp ? p2l_min4(hi, p2l_max4(lo, acc)) : acc);
        }
        for (; c < C; c++) {
            float acc = average ? 0.0f : -__builtin_inff();
            for (int iy = ys; iy < ye; iy++)
                for (int ix = xs; ix < xe; ix++) {
                    const float v = in[((size_t)iy * (size_t)W + (size_t)ix) * C + c];
                    acc = average ? acc + v : v > acc || v != v ? v : acc; /* NaN wins */
                }
            if (average) acc = count > 0 ? acc / (float)count : 0.0f;
            out[c] = clamp ? p2l_minf(a->clamp->hi, p2l_maxf(a->clamp->lo, acc)) : acc;
        }
    }
}
