/* aarch64 micro-kernels for the shared drivers of src/kernels/fast (fast.h): NEON (ASIMD), float32.
 * Every aarch64 CPU has ASIMD, so registry.c uses p2l_isa_neon whenever the fast kernels are on.
 *
 * They compute what the x86 AVX2 loops compute, operation for operation: the same exp polynomial,
 * FMAs where x86 has FMAs, x86's max/min semantics (p2l_max4), and sums in the order of x86's 8
 * lanes (p2l_hsum8), so the two ISAs give the same results and one set of tolerances holds. */
#ifndef P2L_KERNELS_ARM_ARM_H
#define P2L_KERNELS_ARM_ARM_H

#include "kernels/fast/fast.h"

extern const p2l_fast_isa p2l_isa_neon; /* isa.c */

/* The micro-kernels, by file. */
void p2l_gemm_neon(const p2l_gemm_b *b, size_t m, const float *a, size_t lda, float *c, size_t ldc, int panel_begin,
                   int panel_end, const p2l_clamp *clamp);
void p2l_depthwise_row_neon(const p2l_depthwise_row_args *a);
extern const p2l_binary_row_fn p2l_binary_rows_neon[P2L_BINARY_KINDS];
extern const p2l_unary_row_fn p2l_unary_rows_neon[P2L_UNARY_KINDS];
void p2l_softmax_row_neon(const float *in, float *out, size_t n, float beta);
void p2l_pool_row_neon(const p2l_pool_row_args *a);
void p2l_mean_rows_neon(const float *in, float *out, size_t rows, size_t length);
void p2l_channel_means_neon(const float *in, size_t pixels, size_t C, size_t width, float *out);

#if defined(__ARM_NEON) /* the kernel files; registry.c sees only the table */
#include <arm_neon.h>
#include <string.h>

/* x86's maxps / minps: a > b ? a : b and a < b ? a : b, so b where either is NaN, as the
 * reference's comparisons do (NEON's FMAX / FMIN would return the NaN). */
static inline float32x4_t p2l_max4(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline float32x4_t p2l_min4(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
static inline float p2l_maxf(float a, float b) { return a > b ? a : b; }
static inline float p2l_minf(float a, float b) { return a < b ? a : b; }
/* All ones (a NaN) in the lanes where v is NaN, as x86's cmp_ps(v, v, _CMP_UNORD_Q). */
static inline float32x4_t p2l_nan_mask4(float32x4_t v) {
    return vreinterpretq_f32_u32(vmvnq_u32(vceqq_f32(v, v)));
}
static inline float32x4_t p2l_or4(float32x4_t a, float32x4_t b) {
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}

/* The first n (0..4) lanes from / to memory, for the tails of rows (other lanes load as zero). */
static inline float32x4_t p2l_load_partial4(const float *p, size_t n) {
    float t[4] = {0, 0, 0, 0};
    memcpy(t, p, n * sizeof(float));
    return vld1q_f32(t);
}
static inline void p2l_store_partial4(float *p, float32x4_t v, size_t n) {
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, n * sizeof(float));
}

/* The sum of 8 lanes (lo, hi) in the order of the AVX2 horizontal sum: (l0+h0 + l2+h2) + (l1+h1 + l3+h3). */
static inline float p2l_hsum8(float32x4_t lo, float32x4_t hi) {
    const float32x4_t s = vaddq_f32(lo, hi);
    return (vgetq_lane_f32(s, 0) + vgetq_lane_f32(s, 2)) + (vgetq_lane_f32(s, 1) + vgetq_lane_f32(s, 3));
}

/* exp(x), as p2l_exp8: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for exactness), exp(r)
 * by its degree-6 Taylor polynomial, 2^n built in the exponent bits; x clamped to [-100, 88] with x
 * second (NaN goes through), 2^n's biased exponent clamped to 0 (so exp(-inf) is 0).
 * Inline, as the AVX-512 versions: a call would spill a GEMM tile's accumulators. */
static inline float32x4_t p2l_exp4(float32x4_t x) {
    x = p2l_min4(vdupq_n_f32(88.0f), p2l_max4(vdupq_n_f32(-100.0f), x));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.0f / 720.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t biased = vmaxq_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), vdupq_n_s32(0));
    const int32x4_t bits = vshlq_n_s32(biased, 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(bits));
}

/* 1 / (1 + exp(-x)) from e = exp(-|x|) <= 1: 1 / (1 + e) for x >= 0, e / (1 + e) below. */
static inline float32x4_t p2l_sigmoid4(float32x4_t x) {
    const float32x4_t e = p2l_exp4(vnegq_f32(vabsq_f32(x)));
    const float32x4_t s = vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(vdupq_n_f32(1.0f), e));
    return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vmulq_f32(e, s), s);
}

/* The fused epilogues, with the operations of the unfused LOGISTIC then MUL, and HARD_SWISH. */
static inline float32x4_t p2l_epilogue4(int epilogue, float32x4_t x) {
    if (epilogue == P2L_EPILOGUE_SILU) return vmulq_f32(x, p2l_sigmoid4(x));
    if (epilogue == P2L_EPILOGUE_HARD_SWISH) {
        float32x4_t r = vaddq_f32(x, vdupq_n_f32(3.0f));
        r = p2l_min4(vdupq_n_f32(6.0f), p2l_max4(vdupq_n_f32(0.0f), r));
        /* a true division, as the unfused op: multiplying by 1/6 is 1 ulp off, which tripled one
         * model's error against PyTorch */
        return vdivq_f32(vmulq_f32(x, r), vdupq_n_f32(6.0f));
    }
    return x;
}

/* The fused activation clamp (when on), then the epilogue. */
static inline float32x4_t p2l_finish4(float32x4_t v, const p2l_clamp *cl, float32x4_t lo, float32x4_t hi) {
    if (cl->on) v = p2l_min4(hi, p2l_max4(lo, v));
    return cl->epilogue ? p2l_epilogue4(cl->epilogue, v) : v;
}
#endif

#endif
