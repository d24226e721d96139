/* DEPTHWISE_CONV_2D rows with AVX-512F (compiled with -mavx512f; registry.c picks this only when
 * the CPU has it; the driver is fast/conv.c). Channels go 16 at a time (a masked tail last) in the
 * outer loop and output pixels in the inner one, so for 3x3 and 5x5 filters the 16 channels'
 * weights of every tap stay in registers across the row: each tap then costs one load and one FMA
 * instead of two loads. Pixels whose whole window lies inside the input (the interior of a row not
 * at the top or bottom edge) run with every tap unrolled, addressed from one pointer per filter
 * row; edge pixels skip the taps that fall outside. Other filter sizes list the valid taps once per
 * pixel and load the weights from memory. Every path sums bias then taps in (ky, kx) order and
 * applies the clamp (and the fused epilogue) before the result is final, as the reference does.
 * Weights and bias are padded to a multiple of 16 channels at prepare, so only the input and output
 * need masks. */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx512.h"
#include "kernels/fast/vec_rows.h"

#define ALWAYS_INLINE P2L_VEC_INLINE
enum { MAX_TAPS = P2L_DEPTHWISE_MAX_TAPS, MAX_UNROLLED = 5 };

/* Output pixels [ox_lo, ox_hi) whose window lies inside the input: the first x inside is ox_lo. */
static void interior_columns(const p2l_depthwise_row_args *a, int *ox_lo, int *ox_hi) {
    int lo = (a->pad_w + a->stride_w - 1) / a->stride_w; /* ox * stride_w - pad_w >= 0 */
    const int last = a->W - 1 - (a->KW - 1) * a->dilation_w + a->pad_w; /* ox * stride_w <= last */
    int hi = last < 0 ? 0 : last / a->stride_w + 1;
    if (hi > a->OW) hi = a->OW;
    if (lo > hi) lo = hi;
    *ox_lo = lo;
    *ox_hi = hi;
}

/* One block of 16 channels (mask: the ones that exist) of the row, KH x KW taps. */
ALWAYS_INLINE void block_row(const int KH, const int KW, const p2l_depthwise_row_args *a, size_t c0, __mmask16 mask,
                             int ox_lo, int ox_hi) {
    const size_t C = a->C, PC = a->padded_c;
    const p2l_clamp *cl = a->clamp;
    const __m512 lo = _mm512_set1_ps(cl->lo), hi = _mm512_set1_ps(cl->hi);
    const __m512 bias = _mm512_loadu_ps(a->bias + c0);
    __m512 w[MAX_UNROLLED * MAX_UNROLLED];
#pragma GCC unroll 25
    for (int t = 0; t < KH * KW; t++) w[t] = _mm512_loadu_ps(a->weights + (size_t)t * PC + c0);
    const float *row[MAX_UNROLLED]; /* input row of each ky (channel c0), NULL outside */
    bool all_rows = true;
#pragma GCC unroll 5
    for (int ky = 0; ky < KH; ky++) {
        const int iy = a->oy * a->stride_h - a->pad_h + ky * a->dilation_h;
        row[ky] = iy >= 0 && iy < a->H ? a->in + (size_t)iy * (size_t)a->W * C + c0 : NULL;
        all_rows &= row[ky] != NULL;
    }
    const ptrdiff_t step = (ptrdiff_t)a->dilation_w * (ptrdiff_t)C; /* from tap kx to kx + 1 */
    const ptrdiff_t pixel_step = (ptrdiff_t)a->stride_w * (ptrdiff_t)C;  /* from ox to ox + 1 */
    const bool clamp = cl->on;
    float *out = a->out + c0;
    if (!all_rows) ox_lo = ox_hi = a->OW; /* no pixel has its whole window inside */
    for (int ox = 0; ox < a->OW;) {
        if (ox == ox_lo && ox_lo < ox_hi) {
            /* The interior: every tap inside, one pointer per filter row stepping along the row,
             * so each tap is a load at a fixed distance from it and an FMA (the compiler keeps the
             * few distances in registers). Successive pixels' FMA chains are independent and
             * overlap in the out-of-order core. */
            const float *p[MAX_UNROLLED];
            const ptrdiff_t x0 = (ptrdiff_t)(ox * a->stride_w - a->pad_w) * (ptrdiff_t)C;
#pragma GCC unroll 5
            for (int ky = 0; ky < KH; ky++) p[ky] = row[ky] + x0;
            float *o = out + (size_t)ox * C;
            for (; ox < ox_hi; ox++, o += C) {
                __m512 acc = bias;
#pragma GCC unroll 5
                for (int ky = 0; ky < KH; ky++) {
#pragma GCC unroll 5
                    for (int kx = 0; kx < KW; kx++)
                        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, p[ky] + kx * step), w[ky * KW + kx], acc);
                    p[ky] += pixel_step;
                }
                if (clamp) acc = _mm512_min_ps(hi, _mm512_max_ps(lo, acc));
                _mm512_mask_storeu_ps(o, mask, acc);
            }
            continue;
        }
        /* An edge pixel: the taps outside the input skipped. */
        const int x0 = ox * a->stride_w - a->pad_w;
        __m512 acc = bias;
#pragma GCC unroll 5
        for (int ky = 0; ky < KH; ky++) {
            if (!row[ky]) continue;
#pragma GCC unroll 5
            for (int kx = 0; kx < KW; kx++) {
                const int ix = x0 + kx * a->dilation_w;
                if (ix < 0 || ix >= a->W) continue;
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, row[ky] + (ptrdiff_t)ix * (ptrdiff_t)C),
                                      w[ky * KW + kx], acc);
            }
        }
        if (clamp) acc = _mm512_min_ps(hi, _mm512_max_ps(lo, acc));
        _mm512_mask_storeu_ps(out + (size_t)ox * C, mask, acc);
        ox++;
    }
    /* The fused epilogue needs a dozen vector registers of its own, which the weights hold: it runs
     * over the finished row instead, still in L1. */
    if (cl->epilogue)
        for (int ox = 0; ox < a->OW; ox++) {
            float *o = out + (size_t)ox * C;
            _mm512_mask_storeu_ps(o, mask, p2l_vec_epilogue(cl->epilogue, _mm512_maskz_loadu_ps(mask, o)));
        }
}

/* Any filter size up to MAX_TAPS taps: the valid taps of each pixel listed, weights from memory. */
static void block_row_any(const p2l_depthwise_row_args *a, size_t c0, __mmask16 mask) {
    const size_t C = a->C;
    const p2l_clamp *cl = a->clamp;
    const __m512 lo = _mm512_set1_ps(cl->lo), hi = _mm512_set1_ps(cl->hi);
    const __m512 bias = _mm512_loadu_ps(a->bias + c0);
    size_t in_offset[MAX_TAPS];
    const float *tap_weights[MAX_TAPS];
    float *out = a->out + c0;
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        const int taps = p2l_depthwise_taps(a, ox, in_offset, tap_weights);
        __m512 acc = bias;
        for (int t = 0; t < taps; t++)
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a->in + in_offset[t] + c0),
                                  _mm512_loadu_ps(tap_weights[t] + c0), acc);
        _mm512_mask_storeu_ps(out, mask, p2l_vec_finish(acc, cl, lo, hi));
    }
}

void p2l_f32_depthwise_row__avx512(const p2l_depthwise_row_args *a) {
    int ox_lo, ox_hi;
    interior_columns(a, &ox_lo, &ox_hi);
    for (size_t c0 = a->c_begin; c0 < a->c_end; c0 += 16) {
        const size_t width = a->c_end - c0 < 16 ? a->c_end - c0 : 16;
        const __mmask16 mask = (__mmask16)((1u << width) - 1u);
        if (a->KH == 3 && a->KW == 3) block_row(3, 3, a, c0, mask, ox_lo, ox_hi);
        else if (a->KH == 5 && a->KW == 5) block_row(5, 5, a, c0, mask, ox_lo, ox_hi);
        else block_row_any(a, c0, mask);
    }
}
