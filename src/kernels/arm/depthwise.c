/* DEPTHWISE_CONV_2D rows with NEON (the driver is fast/conv.c), as the AVX2 rows: for each output
 * pixel the valid filter taps are listed once, then channels go 16 at a time in 4 accumulators,
 * then 4 at a time; each channel is bias + its taps in (ky, kx) order, fused multiply-adds, then
 * the clamp and the epilogue. Weights and bias are padded to a multiple of 4 channels; the last
 * 1 to 3 channels of a row (NEON has no masked loads) are summed one by one with fmaf, the same
 * rounding, and finished as one vector. */
#include <math.h>

#include "kernels/arm/arm.h"

void p2l_depthwise_row_neon(const p2l_depthwise_row_args *a) {
    const size_t C = a->C, c_begin = a->c_begin, c_end = a->c_end;
    const p2l_clamp *cl = a->clamp;
    const float32x4_t lo = vdupq_n_f32(cl->lo), hi = vdupq_n_f32(cl->hi);
    const float *in = a->in, *bias = a->bias;
    float *out = a->out;
    size_t in_offset[P2L_DEPTHWISE_MAX_TAPS];
    const float *tap_weights[P2L_DEPTHWISE_MAX_TAPS];
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        const int taps = p2l_depthwise_taps(a, ox, in_offset, tap_weights);
        size_t c = c_begin;
        for (; c + 16 <= c_end; c += 16) {
            float32x4_t a0 = vld1q_f32(bias + c), a1 = vld1q_f32(bias + c + 4);
            float32x4_t a2 = vld1q_f32(bias + c + 8), a3 = vld1q_f32(bias + c + 12);
            for (int t = 0; t < taps; t++) {
                const float *ip = in + in_offset[t] + c, *wp = tap_weights[t] + c;
                a0 = vfmaq_f32(a0, vld1q_f32(ip), vld1q_f32(wp));
                a1 = vfmaq_f32(a1, vld1q_f32(ip + 4), vld1q_f32(wp + 4));
                a2 = vfmaq_f32(a2, vld1q_f32(ip + 8), vld1q_f32(wp + 8));
                a3 = vfmaq_f32(a3, vld1q_f32(ip + 12), vld1q_f32(wp + 12));
            }
            vst1q_f32(out + c, p2l_finish4(a0, cl, lo, hi));
            vst1q_f32(out + c + 4, p2l_finish4(a1, cl, lo, hi));
            vst1q_f32(out + c + 8, p2l_finish4(a2, cl, lo, hi));
            vst1q_f32(out + c + 12, p2l_finish4(a3, cl, lo, hi));
        }
        for (; c + 4 <= c_end; c += 4) {
            float32x4_t a0 = vld1q_f32(bias + c);
            for (int t = 0; t < taps; t++)
                a0 = vfmaq_f32(a0, vld1q_f32(in + in_offset[t] + c), vld1q_f32(tap_weights[t] + c));
            vst1q_f32(out + c, p2l_finish4(a0, cl, lo, hi));
        }
        if (c < c_end) {
            float acc[4] = {0, 0, 0, 0};
            for (size_t j = 0; j < c_end - c; j++) {
                acc[j] = bias[c + j];
                for (int t = 0; t < taps; t++) acc[j] = fmaf(in[in_offset[t] + c + j], tap_weights[t][c + j], acc[j]);
            }
            p2l_store_partial4(out + c, p2l_finish4(vld1q_f32(acc), cl, lo, hi), c_end - c);
        }
    }
}
