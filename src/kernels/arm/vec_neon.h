/* The vector mapping of NEON for fast/vec_rows.h: 4 floats in a p2l_vec, with x86's semantics where
 * they differ (max / min), so the rows compute what the AVX2 rows compute, operation for operation.
 * Included only by the files of src/kernels/arm. */
#ifndef P2L_KERNELS_ARM_VEC_NEON_H
#define P2L_KERNELS_ARM_VEC_NEON_H

#include <arm_neon.h>
#include <string.h>

#define P2L_VEC_ISA neon
#define P2L_VEC_INLINE static inline __attribute__((always_inline))
typedef float32x4_t p2l_vec;
enum { P2L_VEC_LANES = 4 };

/* x86's maxps / minps: a > b ? a : b and a < b ? a : b, so b where either is NaN, as the
 * reference's comparisons do (NEON's FMAX / FMIN would return the NaN). */
static inline float32x4_t p2l_max4(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline float32x4_t p2l_min4(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
static inline float p2l_maxf(float a, float b) { return a > b ? a : b; }
static inline float p2l_minf(float a, float b) { return a < b ? a : b; }

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

P2L_VEC_INLINE p2l_vec p2l_vec_set1(float x) { return vdupq_n_f32(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_load(const float *p) { return vld1q_f32(p); }
P2L_VEC_INLINE void p2l_vec_store(float *p, p2l_vec v) { vst1q_f32(p, v); }
P2L_VEC_INLINE p2l_vec p2l_vec_load_partial(const float *p, size_t n) { return p2l_load_partial4(p, n); }
P2L_VEC_INLINE void p2l_vec_store_partial(float *p, p2l_vec v, size_t n) { p2l_store_partial4(p, v, n); }
P2L_VEC_INLINE float p2l_vec_first(p2l_vec v) { return vgetq_lane_f32(v, 0); }

P2L_VEC_INLINE p2l_vec p2l_vec_add(p2l_vec a, p2l_vec b) { return vaddq_f32(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_sub(p2l_vec a, p2l_vec b) { return vsubq_f32(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_mul(p2l_vec a, p2l_vec b) { return vmulq_f32(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_div(p2l_vec a, p2l_vec b) { return vdivq_f32(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_div_small(p2l_vec a, p2l_vec d) { return vdivq_f32(a, d); }
P2L_VEC_INLINE p2l_vec p2l_vec_max(p2l_vec a, p2l_vec b) { return p2l_max4(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_min(p2l_vec a, p2l_vec b) { return p2l_min4(a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_fmadd(p2l_vec a, p2l_vec b, p2l_vec c) { return vfmaq_f32(c, a, b); }
P2L_VEC_INLINE p2l_vec p2l_vec_fnmadd(p2l_vec a, p2l_vec b, p2l_vec c) { return vfmsq_f32(c, a, b); }

P2L_VEC_INLINE p2l_vec p2l_vec_abs(p2l_vec x) { return vabsq_f32(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_neg_abs(p2l_vec x) { return vnegq_f32(vabsq_f32(x)); }
P2L_VEC_INLINE p2l_vec p2l_vec_neg(p2l_vec x) { return vnegq_f32(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_or(p2l_vec a, p2l_vec b) {
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}
P2L_VEC_INLINE p2l_vec p2l_vec_with_sign_of(p2l_vec magnitude, p2l_vec x) {
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(magnitude), sign));
}
/* All ones (a NaN) in the lanes where v is NaN, as x86's cmp_ps(v, v, _CMP_UNORD_Q). */
P2L_VEC_INLINE p2l_vec p2l_vec_nan_mask(p2l_vec v) { return vreinterpretq_f32_u32(vmvnq_u32(vceqq_f32(v, v))); }
P2L_VEC_INLINE p2l_vec p2l_vec_select_lt(p2l_vec x, p2l_vec y, p2l_vec then, p2l_vec otherwise) {
    return vbslq_f32(vcltq_f32(x, y), then, otherwise);
}

P2L_VEC_INLINE p2l_vec p2l_vec_round(p2l_vec x) { return vrndnq_f32(x); }
P2L_VEC_INLINE p2l_vec p2l_vec_exp2_int(p2l_vec n) {
    const int32x4_t biased = vmaxq_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), vdupq_n_s32(0));
    return vreinterpretq_f32_s32(vshlq_n_s32(biased, 23));
}

#endif
