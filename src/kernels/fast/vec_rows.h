/* The element-wise rows of every ISA, written once over a vector mapping: an ISA's file includes its
 * mapping header (x86/vec_avx2.h, x86/vec_avx512.h, arm/vec_neon.h: the type p2l_vec of
 * P2L_VEC_LANES floats and p2l_vec_load, p2l_vec_add, p2l_vec_max, p2l_vec_fmadd...), then this one,
 * and instantiates the rows it has (P2L_DEFINE_BINARY_ROWS...), compiled with its flags. The
 * formulas are the same operations on every ISA, so the ISAs agree (up to the AVX-512 mapping's
 * cheaper exp and reciprocal). Also the fused epilogues and the depthwise row that the AVX2 and NEON
 * kernels share. Everything is always inline: a call would make the caller spill its vector
 * registers (the ABI preserves none), in a GEMM tile's epilogue all its accumulators. */
#ifndef P2L_KERNELS_FAST_VEC_ROWS_H
#define P2L_KERNELS_FAST_VEC_ROWS_H

#include "kernels/fast/fast.h"

#ifndef P2L_VEC_ISA
#error "include the ISA's vector mapping (x86/vec_avx2.h, x86/vec_avx512.h, arm/vec_neon.h) first"
#endif

/* ------------------------------------------------------------ vector math */

#ifndef P2L_VEC_HAS_EXP
/* exp by range reduction: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for exactness),
 * exp(r) by its degree-6 Taylor polynomial (truncation error below 1.2e-7 relative), then 2^n
 * built in the exponent bits. x is clamped to [-100, 88]; below the normal range (n < -126) 2^n's
 * biased exponent is clamped to 0, which makes it +0, so exp(-inf) (softmax's masked entries,
 * sigmoid(-inf)) is exactly 0. The clamp has x as the second operand, which max / min return when
 * either is NaN: NaN goes through, so exp, sigmoid, tanh and softmax give NaN for NaN as PyTorch
 * does, at no cost. (+inf gives exp(88): every caller's argument is <= 0.) */
P2L_VEC_INLINE p2l_vec p2l_vec_exp(p2l_vec x) {
    x = p2l_vec_min(p2l_vec_set1(88.0f), p2l_vec_max(p2l_vec_set1(-100.0f), x));
    const p2l_vec n = p2l_vec_round(p2l_vec_mul(x, p2l_vec_set1(1.44269504088896341f)));
    p2l_vec r = p2l_vec_fnmadd(n, p2l_vec_set1(0.693359375f), x);
    r = p2l_vec_fnmadd(n, p2l_vec_set1(-2.12194440e-4f), r);
    p2l_vec p = p2l_vec_set1(1.0f / 720.0f);
    p = p2l_vec_fmadd(p, r, p2l_vec_set1(1.0f / 120.0f));
    p = p2l_vec_fmadd(p, r, p2l_vec_set1(1.0f / 24.0f));
    p = p2l_vec_fmadd(p, r, p2l_vec_set1(1.0f / 6.0f));
    p = p2l_vec_fmadd(p, r, p2l_vec_set1(0.5f));
    p = p2l_vec_fmadd(p, r, p2l_vec_set1(1.0f));
    p = p2l_vec_fmadd(p, r, p2l_vec_set1(1.0f));
    return p2l_vec_mul(p, p2l_vec_exp2_int(n));
}
#endif

/* 1 / (1 + exp(-x)) from e = exp(-|x|) <= 1, so nothing overflows: 1 / (1 + e) for x >= 0 and
 * e / (1 + e) below, which keeps the relative accuracy of tiny results for very negative x. */
P2L_VEC_INLINE p2l_vec p2l_vec_sigmoid(p2l_vec x) {
    const p2l_vec one = p2l_vec_set1(1.0f);
    const p2l_vec e = p2l_vec_exp(p2l_vec_neg_abs(x));
    const p2l_vec s = p2l_vec_div_small(one, p2l_vec_add(one, e));
    return p2l_vec_select_lt(x, p2l_vec_set1(0.0f), p2l_vec_mul(e, s), s);
}

/* tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1, sign restored after. Below |x| = 0.0625
 * 1 - e cancels, so there the odd Taylor polynomial to x^9 (error below 1e-11 relative) is used. */
P2L_VEC_INLINE p2l_vec p2l_vec_tanh(p2l_vec x) {
    const p2l_vec one = p2l_vec_set1(1.0f), ax = p2l_vec_abs(x);
    const p2l_vec e = p2l_vec_exp(p2l_vec_mul(ax, p2l_vec_set1(-2.0f)));
    const p2l_vec big = p2l_vec_div_small(p2l_vec_sub(one, e), p2l_vec_add(one, e));
    const p2l_vec x2 = p2l_vec_mul(ax, ax);
    p2l_vec p = p2l_vec_set1(62.0f / 2835.0f);
    p = p2l_vec_fmadd(p, x2, p2l_vec_set1(-17.0f / 315.0f));
    p = p2l_vec_fmadd(p, x2, p2l_vec_set1(2.0f / 15.0f));
    p = p2l_vec_fmadd(p, x2, p2l_vec_set1(-1.0f / 3.0f));
    const p2l_vec small = p2l_vec_fmadd(p2l_vec_mul(p, x2), ax, ax);
    return p2l_vec_with_sign_of(p2l_vec_select_lt(ax, p2l_vec_set1(0.0625f), small, big), x);
}

/* GELU, exact form: x/2 (1 + erf(x / sqrt 2)). erf by Abramowitz and Stegun 7.1.26 (absolute error
 * below 1.5e-7) on |x|, sign restored: 1 - t (a1 + t (a2 + ...)) exp(-x^2), t = 1 / (1 + p |x|).
 * |x| is clamped to 30, where erf is 1 long before (so t's divisor stays small); NaN goes through. */
P2L_VEC_INLINE p2l_vec p2l_vec_gelu(p2l_vec x) {
    const p2l_vec one = p2l_vec_set1(1.0f);
    const p2l_vec z = p2l_vec_mul(x, p2l_vec_set1(0.70710678118654752f));
    const p2l_vec az = p2l_vec_min(p2l_vec_set1(30.0f), p2l_vec_abs(z));
    const p2l_vec t = p2l_vec_div_small(one, p2l_vec_fmadd(p2l_vec_set1(0.3275911f), az, one));
    p2l_vec p = p2l_vec_set1(1.061405429f);
    p = p2l_vec_fmadd(p, t, p2l_vec_set1(-1.453152027f));
    p = p2l_vec_fmadd(p, t, p2l_vec_set1(1.421413741f));
    p = p2l_vec_fmadd(p, t, p2l_vec_set1(-0.284496736f));
    p = p2l_vec_fmadd(p, t, p2l_vec_set1(0.254829592f));
    const p2l_vec e = p2l_vec_exp(p2l_vec_mul(p2l_vec_neg(az), az)); /* exp(-z^2) */
    const p2l_vec erf = p2l_vec_with_sign_of(p2l_vec_fnmadd(p2l_vec_mul(p, t), e, one), z);
    return p2l_vec_mul(p2l_vec_mul(p2l_vec_set1(0.5f), x), p2l_vec_add(one, erf));
}

/* GELU, tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
P2L_VEC_INLINE p2l_vec p2l_vec_gelu_tanh(p2l_vec x) {
    const p2l_vec x3 = p2l_vec_mul(p2l_vec_mul(x, x), x);
    const p2l_vec inner =
        p2l_vec_mul(p2l_vec_set1(0.79788456080286536f), p2l_vec_fmadd(p2l_vec_set1(0.044715f), x3, x));
    return p2l_vec_mul(p2l_vec_mul(p2l_vec_set1(0.5f), x), p2l_vec_add(p2l_vec_set1(1.0f), p2l_vec_tanh(inner)));
}

/* x * relu6(x + 3) / 6, rounded exactly like the reference: a true division (multiplying by 1/6 is
 * 1 ulp off, and EfficientViT's linear attention turned that into 3x the error against PyTorch). */
P2L_VEC_INLINE p2l_vec p2l_vec_hard_swish(p2l_vec x) {
    p2l_vec r = p2l_vec_add(x, p2l_vec_set1(3.0f));
    r = p2l_vec_min(p2l_vec_set1(6.0f), p2l_vec_max(p2l_vec_set1(0.0f), r));
    return p2l_vec_div(p2l_vec_mul(x, r), p2l_vec_set1(6.0f));
}

/* The fused element-wise epilogues, with the same operations (so the same rounding) as the unfused
 * fast LOGISTIC then MUL, and HARD_SWISH. */
P2L_VEC_INLINE p2l_vec p2l_vec_epilogue(int epilogue, p2l_vec x) {
    if (epilogue == P2L_EPILOGUE_SILU) return p2l_vec_mul(x, p2l_vec_sigmoid(x));
    if (epilogue == P2L_EPILOGUE_HARD_SWISH) return p2l_vec_hard_swish(x);
    return x;
}

/* The fused activation's clamp (max(lo, x) then min(hi, x): a NaN, the second operand, passes
 * through), when on, then the epilogue; lo and hi are the clamp's bounds, broadcast. */
P2L_VEC_INLINE p2l_vec p2l_vec_finish(p2l_vec v, const p2l_clamp *cl, p2l_vec lo, p2l_vec hi) {
    if (cl->on) v = p2l_vec_min(hi, p2l_vec_max(lo, v));
    return cl->epilogue ? p2l_vec_epilogue(cl->epilogue, v) : v;
}

/* The clamp, then the epilogue, of a GEMM tile's accumulators: acc0[0, rows), and acc1[0, rows) too
 * when both (rows and both constants in every caller, so the loops unroll over registers). */
P2L_VEC_INLINE void p2l_vec_finish_tile(const int rows, const bool both, p2l_vec *acc0, p2l_vec *acc1,
                                        const p2l_clamp *clamp) {
    if (clamp->on) {
        const p2l_vec lo = p2l_vec_set1(clamp->lo), hi = p2l_vec_set1(clamp->hi);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            acc0[i] = p2l_vec_min(hi, p2l_vec_max(lo, acc0[i]));
            if (both) acc1[i] = p2l_vec_min(hi, p2l_vec_max(lo, acc1[i]));
        }
    }
    if (clamp->epilogue) {
        const int epilogue = clamp->epilogue;
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            acc0[i] = p2l_vec_epilogue(epilogue, acc0[i]);
            if (both) acc1[i] = p2l_vec_epilogue(epilogue, acc1[i]);
        }
    }
}

/* ------------------------------------------------------------ rows */

/* A P2L_BINARY_* of x and y. MAXIMUM and MINIMUM as the reference's x < y || y != y ? y : x and
 * y < x || y != y ? y : x: max(y, x) gives x on ties (signed zeros) and when x is NaN; a NaN y is
 * OR-ed in (all ones is a NaN). */
P2L_VEC_INLINE p2l_vec p2l_vec_binary(const int kind, p2l_vec x, p2l_vec y) {
    switch (kind) {
    case P2L_BINARY_ADD: return p2l_vec_add(x, y);
    case P2L_BINARY_SUB: return p2l_vec_sub(x, y);
    case P2L_BINARY_MUL: return p2l_vec_mul(x, y);
    case P2L_BINARY_DIV: return p2l_vec_div(x, y);
    case P2L_BINARY_MAX: return p2l_vec_or(p2l_vec_max(y, x), p2l_vec_nan_mask(y));
    case P2L_BINARY_MIN: return p2l_vec_or(p2l_vec_min(y, x), p2l_vec_nan_mask(y));
    default: return x;
    }
}

/* A P2L_UNARY_* of x. RELU and friends: max(lo, x) then min(hi, x), so NaN (the second operand)
 * passes through, as in the reference and PyTorch. */
P2L_VEC_INLINE p2l_vec p2l_vec_unary(const int kind, p2l_vec x) {
    const p2l_vec zero = p2l_vec_set1(0.0f);
    switch (kind) {
    case P2L_UNARY_RELU: return p2l_vec_max(zero, x);
    case P2L_UNARY_RELU6: return p2l_vec_min(p2l_vec_set1(6.0f), p2l_vec_max(zero, x));
    case P2L_UNARY_RELU_N1_TO_1: return p2l_vec_min(p2l_vec_set1(1.0f), p2l_vec_max(p2l_vec_set1(-1.0f), x));
    case P2L_UNARY_HARD_SWISH: return p2l_vec_hard_swish(x);
    case P2L_UNARY_LOGISTIC: return p2l_vec_sigmoid(x);
    case P2L_UNARY_TANH: return p2l_vec_tanh(x);
    case P2L_UNARY_GELU: return p2l_vec_gelu(x);
    case P2L_UNARY_GELU_TANH: return p2l_vec_gelu_tanh(x);
    default: return x;
    }
}

/* A binary row (p2l_binary_row_fn), the fused activation applied before the store. sa, sb: 1
 * (advance) or 0 (repeat); the compiler specializes each of the three loops. The rest of a row (and
 * rows where both repeat) goes element by element through the same vector operation. */
P2L_VEC_INLINE void p2l_vec_binary_row(const int kind, const float *a, size_t sa, const float *b, size_t sb,
                                       float *out, size_t n, const p2l_clamp *cl) {
    const p2l_vec lo = p2l_vec_set1(cl->lo), hi = p2l_vec_set1(cl->hi);
    const bool clamp = cl->on;
    const p2l_vec va = p2l_vec_set1(a[0]), vb = p2l_vec_set1(b[0]);
    const size_t L = P2L_VEC_LANES;
    size_t i = 0;
    if (sa && sb) {
        for (; i + L <= n; i += L) {
            const p2l_vec r = p2l_vec_binary(kind, p2l_vec_load(a + i), p2l_vec_load(b + i));
            p2l_vec_store(out + i, clamp ? p2l_vec_min(hi, p2l_vec_max(lo, r)) : r);
        }
    } else if (sa) {
        for (; i + L <= n; i += L) {
            const p2l_vec r = p2l_vec_binary(kind, p2l_vec_load(a + i), vb);
            p2l_vec_store(out + i, clamp ? p2l_vec_min(hi, p2l_vec_max(lo, r)) : r);
        }
    } else if (sb) {
        for (; i + L <= n; i += L) {
            const p2l_vec r = p2l_vec_binary(kind, va, p2l_vec_load(b + i));
            p2l_vec_store(out + i, clamp ? p2l_vec_min(hi, p2l_vec_max(lo, r)) : r);
        }
    }
    for (; i < n; i++) {
        p2l_vec r = p2l_vec_binary(kind, p2l_vec_set1(a[i * sa]), p2l_vec_set1(b[i * sb]));
        if (clamp) r = p2l_vec_min(hi, p2l_vec_max(lo, r));
        out[i] = p2l_vec_first(r);
    }
}

/* A unary row (p2l_unary_row_fn): two vectors at a time, then one, then the tail as one partial
 * vector (the same formula on every element). */
P2L_VEC_INLINE void p2l_vec_unary_row(const int kind, const float *in, float *out, size_t n) {
    const size_t L = P2L_VEC_LANES;
    size_t i = 0;
    for (; i + 2 * L <= n; i += 2 * L) {
        const p2l_vec a = p2l_vec_unary(kind, p2l_vec_load(in + i));
        const p2l_vec b = p2l_vec_unary(kind, p2l_vec_load(in + i + L));
        p2l_vec_store(out + i, a);
        p2l_vec_store(out + i + L, b);
    }
    for (; i + L <= n; i += L) p2l_vec_store(out + i, p2l_vec_unary(kind, p2l_vec_load(in + i)));
    if (i < n) p2l_vec_store_partial(out + i, p2l_vec_unary(kind, p2l_vec_load_partial(in + i, n - i)), n - i);
}

/* The ISA's rows, p2l_f32_<name>_row__<isa>, one instance per kind so the switches leave the loops. */
#define P2L_BINARY_ROW_DEFINE_(KIND, name, isa)                                                         \
    P2L_DECLARE_BINARY_ROW_(KIND, name, isa)                                                            \
    void P2L_ROW_NAME(name, isa)(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n, \
                                 const p2l_clamp *clamp) {                                              \
        p2l_vec_binary_row(P2L_BINARY_##KIND, a, sa, b, sb, out, n, clamp);                             \
    }
#define P2L_UNARY_ROW_DEFINE_(KIND, name, isa)                                                       \
    P2L_DECLARE_UNARY_ROW_(KIND, name, isa)                                                          \
    void P2L_ROW_NAME(name, isa)(const float *in, float *out, size_t n) {                            \
        p2l_vec_unary_row(P2L_UNARY_##KIND, in, out, n);                                             \
    }
#define P2L_DEFINE_BINARY_ROWS() P2L_F32_BINARY_ROWS(P2L_BINARY_ROW_DEFINE_, P2L_VEC_ISA)
#define P2L_DEFINE_UNARY_ROWS() P2L_F32_UNARY_ROWS(P2L_UNARY_ROW_DEFINE_, P2L_VEC_ISA)

/* ------------------------------------------------------------ depthwise row */

/* A p2l_depthwise_row_fn (fast.h): for each output pixel the valid filter taps are listed once, then
 * channels go 4 vectors at a time in 4 accumulators, then one vector, then the tail as one partial
 * vector; each channel is bias + its taps in (ky, kx) order, fused multiply-adds, then the clamp and
 * the epilogue, before the one store. Weights and bias are padded to whole vectors, so only the
 * input and the output need partial loads and stores. */
P2L_VEC_INLINE void p2l_vec_depthwise_row(const p2l_depthwise_row_args *a) {
    const size_t L = P2L_VEC_LANES, C = a->C, c_begin = a->c_begin, c_end = a->c_end;
    const p2l_clamp *cl = a->clamp;
    const p2l_vec lo = p2l_vec_set1(cl->lo), hi = p2l_vec_set1(cl->hi);
    const float *in = a->in, *bias = a->bias;
    float *out = a->out;
    size_t in_offset[P2L_DEPTHWISE_MAX_TAPS];
    const float *tap_weights[P2L_DEPTHWISE_MAX_TAPS];
    for (int ox = 0; ox < a->OW; ox++, out += C) {
        const int taps = p2l_depthwise_taps(a, ox, in_offset, tap_weights);
        size_t c = c_begin;
        for (; c + 4 * L <= c_end; c += 4 * L) {
            p2l_vec a0 = p2l_vec_load(bias + c), a1 = p2l_vec_load(bias + c + L);
            p2l_vec a2 = p2l_vec_load(bias + c + 2 * L), a3 = p2l_vec_load(bias + c + 3 * L);
            for (int t = 0; t < taps; t++) {
                const float *ip = in + in_offset[t] + c, *wp = tap_weights[t] + c;
                a0 = p2l_vec_fmadd(p2l_vec_load(ip), p2l_vec_load(wp), a0);
                a1 = p2l_vec_fmadd(p2l_vec_load(ip + L), p2l_vec_load(wp + L), a1);
                a2 = p2l_vec_fmadd(p2l_vec_load(ip + 2 * L), p2l_vec_load(wp + 2 * L), a2);
                a3 = p2l_vec_fmadd(p2l_vec_load(ip + 3 * L), p2l_vec_load(wp + 3 * L), a3);
            }
            p2l_vec_store(out + c, p2l_vec_finish(a0, cl, lo, hi));
            p2l_vec_store(out + c + L, p2l_vec_finish(a1, cl, lo, hi));
            p2l_vec_store(out + c + 2 * L, p2l_vec_finish(a2, cl, lo, hi));
            p2l_vec_store(out + c + 3 * L, p2l_vec_finish(a3, cl, lo, hi));
        }
        for (; c + L <= c_end; c += L) {
            p2l_vec a0 = p2l_vec_load(bias + c);
            for (int t = 0; t < taps; t++)
                a0 = p2l_vec_fmadd(p2l_vec_load(in + in_offset[t] + c), p2l_vec_load(tap_weights[t] + c), a0);
            p2l_vec_store(out + c, p2l_vec_finish(a0, cl, lo, hi));
        }
        if (c < c_end) {
            p2l_vec a0 = p2l_vec_load(bias + c); /* padded: in bounds */
            for (int t = 0; t < taps; t++)
                a0 = p2l_vec_fmadd(p2l_vec_load_partial(in + in_offset[t] + c, c_end - c),
                                   p2l_vec_load(tap_weights[t] + c), a0);
            p2l_vec_store_partial(out + c, p2l_vec_finish(a0, cl, lo, hi), c_end - c);
        }
    }
}

#endif
