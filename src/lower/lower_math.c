/* Element-wise math: unary functions, powers, division with rounding modes, remainders, atan2 and
 * the ELU family. Layout-agnostic like lower_elementwise.c: every op runs in the layout its input
 * already has, constants are laid out to match at conversion time.
 *
 * TFLite has builtins for the basic functions (ABS NEG SIGN CEIL FLOOR ROUND SQRT RSQRT EXP LOG SIN
 * COS ATAN2 POW FLOOR_DIV FLOOR_MOD ELU LEAKY_RELU); the rest are compositions, chosen so that
 * LiteRT's XNNPACK delegate takes them (it refuses SIGN, POW, FLOOR_DIV, FLOOR_MOD and ATAN2) and
 * so that they keep PyTorch's accuracy where the naive formula cancels:
 *   trunc(x) = floor(max(x, 0)) + ceil(min(x, 0))
 *   expm1(x) = tanh(x/2) * (exp(x) + 1)                (no cancellation near 0)
 *   log1p(x) = log(u) + (x - (u - 1)) / u, u = 1 + x    (the rounding of 1 + x compensated)
 *   sinh(x)  = tanh(x/2) * (cosh(x) + 1),  cosh(x) = (exp(x) + exp(-x)) / 2
 *   asinh(x) = sign(x) * log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))  (written to survive 0 and inf)
 *   acosh(x) = log1p((x - 1) + sqrt((x - 1)(x + 1)))
 *   atanh(x) = log1p(2x / (1 - x)) / 2
 *   asin(x) = atan2(x, sqrt((1 - x)(1 + x))), acos(x) = atan2(sqrt((1 - x)(1 + x)), x), atan(x) = atan2(x, 1)
 *   erf(x)   = x P(x^2) / Q(x^2) on [-4, 4] (x clamped; erf(4) rounds to 1 in float32), a rational
 *              least-squares fit made for pt2lite: max abs error 4e-7
 *   tan = sin / cos, log2/log10 = log * constant, reciprocal = 1 / x, rsqrt = 1 / sqrt(x) (RSQRT
 *   gives NaN at 0 on LiteRT), atan2 operands broadcast explicitly (LiteRT's ATAN2 does not).
 * Precision: the compositions are within a few float32 ulps of torch, except that LiteRT's LOG (on
 * XNNPACK) has an absolute error near 1e-7 for arguments near 1, which log1p and the inverse
 * hyperbolics inherit as absolute error (relative error grows for |result| < 1e-4; pt2lite's own
 * runtime keeps full relative precision there). */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

/* ---------------------------------------------------------------- helpers */

static p2l_dtype dtype_of(p2l_lower_ctx *ctx, int t) { return ctx->g->tensors.items[t].dtype; }

static p2l_dtype out_dtype(p2l_lower_ctx *ctx) {
    const p2l_value *v = p2l_output_value(ctx, 0);
    return v ? p2l_ir_dtype(v->dtype) : P2L_FLOAT32;
}

static bool is_int(p2l_dtype d) { return d == P2L_INT32 || d == P2L_INT64 || d == P2L_INT16 || d == P2L_INT8 || d == P2L_UINT8; }

/* x op c for a number c (a 0-d constant of x's dtype). */
static int op_c(p2l_lower_ctx *ctx, p2l_op op, int x, double c) {
    if (x < 0) return -1;
    return p2l_binary(ctx, op, x, p2l_const_scalar(ctx, dtype_of(ctx, x), c), dtype_of(ctx, x));
}
/* c op x. */
static int c_op(p2l_lower_ctx *ctx, p2l_op op, double c, int x) {
    if (x < 0) return -1;
    return p2l_binary(ctx, op, p2l_const_scalar(ctx, dtype_of(ctx, x), c), x, dtype_of(ctx, x));
}
static int op2(p2l_lower_ctx *ctx, p2l_op op, int a, int b) {
    return a < 0 || b < 0 ? -1 : p2l_binary(ctx, op, a, b, dtype_of(ctx, a));
}
static int op1(p2l_lower_ctx *ctx, p2l_op op, int x) { return p2l_unary(ctx, op, x); }

/* The scalar-or-tensor argument as a number, when it is a scalar. */
static bool scalar_arg(p2l_lower_ctx *ctx, const char *name, double *out) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind == P2L_ARG_FLOAT) *out = a->f;
    else if (a->kind == P2L_ARG_INT || a->kind == P2L_ARG_BOOL) *out = (double)a->i;
    else return false;
    return true;
}

/* ---------------------------------------------------------------- compositions (x is float32) */

/* trunc(x) = floor(max(x, 0)) + ceil(min(x, 0)): all four ops run on XNNPACK, SIGN does not. */
static int trunc_f(p2l_lower_ctx *ctx, int x) {
    int pos = op1(ctx, P2L_OP_FLOOR, op_c(ctx, P2L_OP_MAXIMUM, x, 0));
    int neg = op1(ctx, P2L_OP_CEIL, op_c(ctx, P2L_OP_MINIMUM, x, 0));
    return op2(ctx, P2L_OP_ADD, pos, neg);
}

/* 1 / sqrt(x): LiteRT's RSQRT returns NaN, not inf, at 0. */
static int rsqrt_f(p2l_lower_ctx *ctx, int x) { return c_op(ctx, P2L_OP_DIV, 1, op1(ctx, P2L_OP_SQRT, x)); }

static int exp_neg(p2l_lower_ctx *ctx, int x) { return op1(ctx, P2L_OP_EXP, op1(ctx, P2L_OP_NEG, x)); }

static int expm1_f(p2l_lower_ctx *ctx, int x) {
    int t = op1(ctx, P2L_OP_TANH, op_c(ctx, P2L_OP_MUL, x, 0.5));
    return op2(ctx, P2L_OP_MUL, t, op_c(ctx, P2L_OP_ADD, op1(ctx, P2L_OP_EXP, x), 1));
}

/* log(u) + (x - (u - 1)) / u with u = 1 + x. The correction uses x clamped below 1e30 (so that
 * log1p(inf) = inf, not inf - inf) and a denominator kept positive (log1p(-1) = -inf). */
static int log1p_f(p2l_lower_ctx *ctx, int x) {
    int u = op_c(ctx, P2L_OP_ADD, x, 1);
    int log_u = op1(ctx, P2L_OP_LOG, u);
    int xc = op_c(ctx, P2L_OP_MINIMUM, x, 1e30);
    int uc = op_c(ctx, P2L_OP_ADD, xc, 1);
    int c = op2(ctx, P2L_OP_SUB, xc, op_c(ctx, P2L_OP_SUB, uc, 1));
    int den = op_c(ctx, P2L_OP_MAXIMUM, uc, 1e-30);
    return op2(ctx, P2L_OP_ADD, log_u, op2(ctx, P2L_OP_DIV, c, den));
}

static int cosh_f(p2l_lower_ctx *ctx, int x) {
    return op_c(ctx, P2L_OP_MUL, op2(ctx, P2L_OP_ADD, op1(ctx, P2L_OP_EXP, x), exp_neg(ctx, x)), 0.5);
}

static int sinh_f(p2l_lower_ctx *ctx, int x) {
    int t = op1(ctx, P2L_OP_TANH, op_c(ctx, P2L_OP_MUL, x, 0.5));
    return op2(ctx, P2L_OP_MUL, t, op_c(ctx, P2L_OP_ADD, cosh_f(ctx, x), 1));
}

/* asinh(|x|) = log1p(a + a^2 / (1 + sqrt(1 + a^2))), the fraction written as a / (r + sqrt(r^2 + 1))
 * with r = 1 / a so that neither a = 0 nor a = inf (nor a^2 overflowing) makes it NaN. */
static int asinh_f(p2l_lower_ctx *ctx, int x) {
    int a = op1(ctx, P2L_OP_ABS, x);
    int r = c_op(ctx, P2L_OP_DIV, 1, a);
    int s = op1(ctx, P2L_OP_SQRT, op_c(ctx, P2L_OP_ADD, op2(ctx, P2L_OP_MUL, r, r), 1));
    int t = op2(ctx, P2L_OP_ADD, a, op2(ctx, P2L_OP_DIV, a, op2(ctx, P2L_OP_ADD, r, s)));
    return op2(ctx, P2L_OP_MUL, op1(ctx, P2L_OP_SIGN, x), log1p_f(ctx, t));
}

static int acosh_f(p2l_lower_ctx *ctx, int x) {
    int xm1 = op_c(ctx, P2L_OP_SUB, x, 1);
    int root = op1(ctx, P2L_OP_SQRT, op2(ctx, P2L_OP_MUL, xm1, op_c(ctx, P2L_OP_ADD, x, 1)));
    return log1p_f(ctx, op2(ctx, P2L_OP_ADD, xm1, root));
}

static int atanh_f(p2l_lower_ctx *ctx, int x) {
    int q = op2(ctx, P2L_OP_DIV, op_c(ctx, P2L_OP_MUL, x, 2), c_op(ctx, P2L_OP_SUB, 1, x));
    return op_c(ctx, P2L_OP_MUL, log1p_f(ctx, q), 0.5);
}

/* sqrt((1 - x)(1 + x)) = sqrt(1 - x^2) without cancellation near |x| = 1. */
static int cos_of_asin(p2l_lower_ctx *ctx, int x) {
    return op1(ctx, P2L_OP_SQRT, op2(ctx, P2L_OP_MUL, c_op(ctx, P2L_OP_SUB, 1, x), op_c(ctx, P2L_OP_ADD, x, 1)));
}

static int erf_f(p2l_lower_ctx *ctx, int x) {
    static const double p[] = {1.1283791612e+00, 1.8576297100e-01, 5.2165214866e-02,
                               3.5788431837e-03, 2.8271124350e-04, 2.1090663939e-06};
    static const double q[] = {1.0000000000e+00, 4.9796127807e-01, 1.1221853074e-01,
                               1.4588443310e-02, 1.1213732206e-03, 3.8597571271e-05};
    enum { N = sizeof p / sizeof p[0] };
    int xc = op_c(ctx, P2L_OP_MINIMUM, op_c(ctx, P2L_OP_MAXIMUM, x, -4), 4);
    int s = op2(ctx, P2L_OP_MUL, xc, xc);
    int num = op_c(ctx, P2L_OP_ADD, op_c(ctx, P2L_OP_MUL, s, p[N - 1]), p[N - 2]);
    int den = op_c(ctx, P2L_OP_ADD, op_c(ctx, P2L_OP_MUL, s, q[N - 1]), q[N - 2]);
    for (int i = N - 3; i >= 0; i--) {
        num = op_c(ctx, P2L_OP_ADD, op2(ctx, P2L_OP_MUL, num, s), p[i]);
        den = op_c(ctx, P2L_OP_ADD, op2(ctx, P2L_OP_MUL, den, s), q[i]);
    }
    return op2(ctx, P2L_OP_DIV, op2(ctx, P2L_OP_MUL, xc, num), den);
}

typedef enum math_fn {
    FN_SQRT, FN_RSQRT, FN_EXP, FN_LOG, FN_SIN, FN_COS, FN_RECIPROCAL, FN_TAN, FN_EXPM1, FN_LOG10, FN_LOG2,
    FN_LOG1P, FN_SINH, FN_COSH, FN_ASINH, FN_ACOSH, FN_ATANH, FN_ASIN, FN_ACOS, FN_ATAN, FN_ERF,
} math_fn;

static int compose(p2l_lower_ctx *ctx, math_fn fn, int x) {
    switch (fn) {
    case FN_SQRT: return op1(ctx, P2L_OP_SQRT, x);
    case FN_RSQRT: return rsqrt_f(ctx, x);
    case FN_EXP: return op1(ctx, P2L_OP_EXP, x);
    case FN_LOG: return op1(ctx, P2L_OP_LOG, x);
    case FN_SIN: return op1(ctx, P2L_OP_SIN, x);
    case FN_COS: return op1(ctx, P2L_OP_COS, x);
    case FN_RECIPROCAL: return c_op(ctx, P2L_OP_DIV, 1, x);
    case FN_TAN: return op2(ctx, P2L_OP_DIV, op1(ctx, P2L_OP_SIN, x), op1(ctx, P2L_OP_COS, x));
    case FN_EXPM1: return expm1_f(ctx, x);
    case FN_LOG10: return op_c(ctx, P2L_OP_MUL, op1(ctx, P2L_OP_LOG, x), 1.0 / log(10.0));
    case FN_LOG2: return op_c(ctx, P2L_OP_MUL, op1(ctx, P2L_OP_LOG, x), 1.0 / log(2.0));
    case FN_LOG1P: return log1p_f(ctx, x);
    case FN_SINH: return sinh_f(ctx, x);
    case FN_COSH: return cosh_f(ctx, x);
    case FN_ASINH: return asinh_f(ctx, x);
    case FN_ACOSH: return acosh_f(ctx, x);
    case FN_ATANH: return atanh_f(ctx, x);
    case FN_ASIN: return op2(ctx, P2L_OP_ATAN2, x, cos_of_asin(ctx, x));
    case FN_ACOS: return op2(ctx, P2L_OP_ATAN2, cos_of_asin(ctx, x), x);
    case FN_ATAN: return op2(ctx, P2L_OP_ATAN2, x, op_c(ctx, P2L_OP_POW, x, 0)); /* ones shaped like x */
    case FN_ERF: return erf_f(ctx, x);
    }
    return -1;
}

/* A float function of one tensor: integer and bool inputs are cast first (torch returns float). */
static p2l_status float_unary(p2l_lower_ctx *ctx, math_fn fn) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    p2l_dtype dtype = out_dtype(ctx);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype != P2L_FLOAT32) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(dtype));
    return p2l_set_output(ctx, 0, compose(ctx, fn, p2l_cast(ctx, x, dtype)), &l);
}

#define FLOAT_UNARY(name, fn)                                                       \
    p2l_status p2l_lower_##name(p2l_lower_ctx *ctx, const p2l_aten_node *node) {    \
        return float_unary(ctx, fn);                                                \
    }
FLOAT_UNARY(sqrt, FN_SQRT)
FLOAT_UNARY(rsqrt, FN_RSQRT)
FLOAT_UNARY(exp, FN_EXP)
FLOAT_UNARY(log, FN_LOG)
FLOAT_UNARY(sin, FN_SIN)
FLOAT_UNARY(cos, FN_COS)
FLOAT_UNARY(reciprocal, FN_RECIPROCAL)
FLOAT_UNARY(tan, FN_TAN)
FLOAT_UNARY(expm1, FN_EXPM1)
FLOAT_UNARY(log10, FN_LOG10)
FLOAT_UNARY(log2, FN_LOG2)
FLOAT_UNARY(log1p, FN_LOG1P)
FLOAT_UNARY(sinh, FN_SINH)
FLOAT_UNARY(cosh, FN_COSH)
FLOAT_UNARY(asinh, FN_ASINH)
FLOAT_UNARY(acosh, FN_ACOSH)
FLOAT_UNARY(atanh, FN_ATANH)
FLOAT_UNARY(asin, FN_ASIN)
FLOAT_UNARY(acos, FN_ACOS)
FLOAT_UNARY(atan, FN_ATAN)
FLOAT_UNARY(erf, FN_ERF)

/* ---------------------------------------------------------------- dtype-preserving unary ops */

/* abs, neg, sign: the same op for float and int32 (LiteRT takes both); sign of a bool is itself. */
static p2l_status same_dtype_unary(p2l_lower_ctx *ctx, p2l_op op) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype dtype = dtype_of(ctx, x);
    if (dtype == P2L_BOOL) {
        if (op == P2L_OP_SIGN) return p2l_set_output(ctx, 0, x, &l);
        return p2l_unsupported(ctx, "a bool input");
    }
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32)
        return p2l_unsupported(ctx, "a %s input", p2l_dtype_name(dtype));
    return p2l_set_output(ctx, 0, op1(ctx, op, x), &l);
}

p2l_status p2l_lower_abs(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return same_dtype_unary(ctx, P2L_OP_ABS); }
p2l_status p2l_lower_neg(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return same_dtype_unary(ctx, P2L_OP_NEG); }
p2l_status p2l_lower_sign(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return same_dtype_unary(ctx, P2L_OP_SIGN); }

/* ceil, floor, round, trunc: integers are already whole (torch returns them unchanged). */
static p2l_status rounding(p2l_lower_ctx *ctx, p2l_op op) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype_of(ctx, x) != P2L_FLOAT32) return p2l_set_output(ctx, 0, x, &l);
    return p2l_set_output(ctx, 0, op == P2L_OP_COUNT ? trunc_f(ctx, x) : op1(ctx, op, x), &l);
}

p2l_status p2l_lower_ceil(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return rounding(ctx, P2L_OP_CEIL); }
p2l_status p2l_lower_floor(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return rounding(ctx, P2L_OP_FLOOR); }
/* ROUND rounds half to even, as torch.round does. */
p2l_status p2l_lower_round(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return rounding(ctx, P2L_OP_ROUND); }
p2l_status p2l_lower_trunc(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return rounding(ctx, P2L_OP_COUNT); }

/* ---------------------------------------------------------------- binary ops */

/* t broadcast to the physical dims of output 0 in `layout` (BROADCAST_TO), unless it has them. */
static int broadcast_to_output(p2l_lower_ctx *ctx, int t, const p2l_layout *layout) {
    const p2l_value *v = p2l_output_value(ctx, 0);
    if (t < 0 || !v) return -1;
    const p2l_ir_tensor tt = ctx->g->tensors.items[t];
    int64_t dims[P2L_MAX_DIMS];
    int32_t shape[P2L_MAX_DIMS];
    bool same = tt.rank == v->rank;
    for (int i = 0; i < v->rank; i++) {
        dims[i] = v->dims[layout->perm[i]];
        shape[i] = (int32_t)dims[i];
        same = same && tt.dims[i] == dims[i];
        if (dims[i] < 0) {
            p2l_unsupported(ctx, "broadcasting to a dynamic shape");
            return -1;
        }
    }
    if (same) return t;
    int out = p2l_temp(ctx, "BROADCAST_TO", tt.dtype, v->rank, dims);
    int ins[2] = {t, p2l_const_i32(ctx, v->rank, shape)};
    return p2l_emit(ctx, P2L_OP_BROADCAST_TO, 2, ins, 1, &out) < 0 ? -1 : out;
}

/* ATAN2: LiteRT's kernel wants both operands of the output's shape. */
p2l_status p2l_lower_atan2(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_operands o;
    if (out_dtype(ctx) != P2L_FLOAT32) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(out_dtype(ctx)));
    if (!p2l_binary_operands(ctx, "self", "other", P2L_FLOAT32, &o)) return P2L_ERROR_UNSUPPORTED;
    int a = broadcast_to_output(ctx, o.a, &o.layout), b = broadcast_to_output(ctx, o.b, &o.layout);
    return p2l_set_output(ctx, 0, op2(ctx, P2L_OP_ATAN2, a, b), &o.layout);
}

/* x ** e for a number e known at conversion time: small integer and half powers become MUL, DIV,
 * SQRT, RSQRT (XNNPACK runs them; it does not run POW), the rest POW. */
static int pow_const(p2l_lower_ctx *ctx, int x, double e) {
    bool is_float = dtype_of(ctx, x) == P2L_FLOAT32;
    if (e == 1) return x;
    if (e == 2) return op2(ctx, P2L_OP_MUL, x, x);
    if (e == 3) return op2(ctx, P2L_OP_MUL, op2(ctx, P2L_OP_MUL, x, x), x);
    if (e == 4) {
        int sq = op2(ctx, P2L_OP_MUL, x, x);
        return op2(ctx, P2L_OP_MUL, sq, sq);
    }
    if (is_float) {
        if (e == 0.5) return op1(ctx, P2L_OP_SQRT, x);
        if (e == -0.5) return rsqrt_f(ctx, x);
        if (e == -1) return c_op(ctx, P2L_OP_DIV, 1, x);
        if (e == -2) return c_op(ctx, P2L_OP_DIV, 1, op2(ctx, P2L_OP_MUL, x, x));
    }
    return op_c(ctx, P2L_OP_POW, x, e);
}

static p2l_status pow_common(p2l_lower_ctx *ctx) {
    p2l_dtype dtype = out_dtype(ctx);
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(dtype));
    double e;
    const p2l_arg *self = p2l_arg_of(ctx, "self");
    if (self->kind == P2L_ARG_TENSOR && scalar_arg(ctx, "exponent", &e)) {
        p2l_layout l;
        int x = p2l_cast(ctx, p2l_input_any(ctx, "self", &l), dtype);
        if (x < 0) return P2L_ERROR_UNSUPPORTED;
        return p2l_set_output(ctx, 0, pow_const(ctx, x, e), &l);
    }
    p2l_operands o;
    if (!p2l_binary_operands(ctx, "self", "exponent", dtype, &o)) return P2L_ERROR_UNSUPPORTED;
    return p2l_set_output(ctx, 0, op2(ctx, P2L_OP_POW, o.a, o.b), &o.layout);
}

p2l_status p2l_lower_pow(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return pow_common(ctx); }

/* fmod(a, b) = sign(a) * floor_mod(|a|, |b|): with both operands non-negative the floored and the
 * truncated remainders agree, and fmod takes the dividend's sign. Exact for ints and floats
 * (b = 0 gives NaN for floats, as in torch). */
static int fmod_of(p2l_lower_ctx *ctx, int a, int b) {
    double divisor;
    int abs_b = scalar_arg(ctx, "other", &divisor) ? p2l_const_scalar(ctx, dtype_of(ctx, a), fabs(divisor))
                                                   : op1(ctx, P2L_OP_ABS, b);
    int r = op2(ctx, P2L_OP_FLOOR_MOD, op1(ctx, P2L_OP_ABS, a), abs_b);
    return op2(ctx, P2L_OP_MUL, op1(ctx, P2L_OP_SIGN, a), r);
}

p2l_status p2l_lower_fmod(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_dtype dtype = out_dtype(ctx);
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(dtype));
    p2l_operands o;
    if (!p2l_binary_operands(ctx, "self", "other", dtype, &o)) return P2L_ERROR_UNSUPPORTED;
    return p2l_set_output(ctx, 0, fmod_of(ctx, o.a, o.b), &o.layout);
}

/* remainder takes the divisor's sign: exactly FLOOR_MOD (ints and floats). */
p2l_status p2l_lower_remainder(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_dtype dtype = out_dtype(ctx);
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(dtype));
    p2l_operands o;
    if (!p2l_binary_operands(ctx, "self", "other", dtype, &o)) return P2L_ERROR_UNSUPPORTED;
    return p2l_set_output(ctx, 0, op2(ctx, P2L_OP_FLOOR_MOD, o.a, o.b), &o.layout);
}

/* div with rounding_mode:
 *   None:    DIV (true division).
 *   "trunc": ints: sign(a) sign(b) floor_div(|a|, |b|) (exact, no float round trip);
 *            floats: trunc(a / b), as torch computes it.
 *   "floor": ints: FLOOR_DIV (floor semantics in LiteRT too);
 *            floats: round((a - floor_mod(a, b)) / b), torch's own formula (1.0 // 0.1 is 9, not
 *            floor(10.000001) = 10), with a / b where b is 0. */
p2l_status p2l_lower_div_mode(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *mode = p2l_arg_of(ctx, "rounding_mode");
    p2l_dtype dtype = out_dtype(ctx);
    if (dtype != P2L_FLOAT32 && dtype != P2L_INT32) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(dtype));
    bool trunc = mode->kind == P2L_ARG_STRING && strcmp(mode->s, "trunc") == 0;
    bool floor = mode->kind == P2L_ARG_STRING && strcmp(mode->s, "floor") == 0;
    if (mode->kind == P2L_ARG_STRING && !trunc && !floor) return p2l_unsupported(ctx, "rounding_mode '%s'", mode->s);
    p2l_operands o;
    if (!p2l_binary_operands(ctx, "self", "other", dtype, &o)) return P2L_ERROR_UNSUPPORTED;
    int a = o.a, b = o.b, r;
    double divisor = 0;
    bool scalar_divisor = scalar_arg(ctx, "other", &divisor);
    if (!trunc && !floor) {
        r = op2(ctx, P2L_OP_DIV, a, b);
    } else if (is_int(dtype)) {
        if (floor) {
            r = op2(ctx, P2L_OP_FLOOR_DIV, a, b);
        } else if (scalar_divisor) {
            int q = op_c(ctx, P2L_OP_FLOOR_DIV, op1(ctx, P2L_OP_ABS, a), fabs(divisor));
            r = op2(ctx, P2L_OP_MUL, op1(ctx, P2L_OP_SIGN, a), q);
            if (divisor < 0) r = op1(ctx, P2L_OP_NEG, r);
        } else {
            int q = op2(ctx, P2L_OP_FLOOR_DIV, op1(ctx, P2L_OP_ABS, a), op1(ctx, P2L_OP_ABS, b));
            int s = op2(ctx, P2L_OP_MUL, op1(ctx, P2L_OP_SIGN, a), op1(ctx, P2L_OP_SIGN, b));
            r = op2(ctx, P2L_OP_MUL, s, q);
        }
    } else if (trunc) {
        r = trunc_f(ctx, op2(ctx, P2L_OP_DIV, a, b));
    } else if (scalar_divisor && divisor == 0) {
        r = op2(ctx, P2L_OP_DIV, a, b);
    } else {
        int m = op2(ctx, P2L_OP_FLOOR_MOD, a, b);
        r = op1(ctx, P2L_OP_ROUND, op2(ctx, P2L_OP_DIV, op2(ctx, P2L_OP_SUB, a, m), b));
        if (!scalar_divisor) {
            int zero = p2l_binary(ctx, P2L_OP_EQUAL, b, p2l_const_scalar(ctx, P2L_FLOAT32, 0), P2L_BOOL);
            int ins[3] = {zero, op2(ctx, P2L_OP_DIV, a, b), r};
            if (zero < 0 || ins[1] < 0 || r < 0) return P2L_ERROR_UNSUPPORTED;
            const p2l_ir_tensor rt = ctx->g->tensors.items[r];
            int sel = p2l_temp(ctx, "SELECT_V2", P2L_FLOAT32, rt.rank, rt.dims);
            r = p2l_emit(ctx, P2L_OP_SELECT_V2, 3, ins, 1, &sel) < 0 ? -1 : sel;
        }
    }
    return p2l_set_output(ctx, 0, r, &o.layout);
}

/* ---------------------------------------------------------------- activations */

/* elu(x) = scale * (x > 0 ? x : alpha * (exp(input_scale * x) - 1)): ELU itself for the defaults,
 * otherwise scale * max(x, 0) + scale * alpha * ELU(input_scale * min(x, 0)) (selu, celu). */
p2l_status p2l_lower_elu(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double alpha = p2l_arg_number(ctx, "alpha", 1), scale = p2l_arg_number(ctx, "scale", 1);
    double input_scale = p2l_arg_number(ctx, "input_scale", 1);
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype_of(ctx, x) != P2L_FLOAT32) return p2l_unsupported(ctx, "a %s input", p2l_dtype_name(dtype_of(ctx, x)));
    if (alpha == 1 && scale == 1 && input_scale == 1) return p2l_set_output(ctx, 0, op1(ctx, P2L_OP_ELU, x), &l);
    int pos = op_c(ctx, P2L_OP_MAXIMUM, x, 0);
    if (scale != 1) pos = op_c(ctx, P2L_OP_MUL, pos, scale);
    int neg = op_c(ctx, P2L_OP_MINIMUM, x, 0);
    if (input_scale != 1) neg = op_c(ctx, P2L_OP_MUL, neg, input_scale);
    neg = op1(ctx, P2L_OP_ELU, neg);
    if (alpha * scale != 1) neg = op_c(ctx, P2L_OP_MUL, neg, alpha * scale);
    return p2l_set_output(ctx, 0, op2(ctx, P2L_OP_ADD, pos, neg), &l);
}

p2l_status p2l_lower_leaky_relu(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double slope = p2l_arg_number(ctx, "negative_slope", 0.01);
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype_of(ctx, x) != P2L_FLOAT32) return p2l_unsupported(ctx, "a %s input", p2l_dtype_name(dtype_of(ctx, x)));
    int y = op1(ctx, P2L_OP_LEAKY_RELU, x);
    if (y < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option_f32(ctx->g, ctx->g->tensors.items[y].producer, "alpha", (float)slope);
    return p2l_set_output(ctx, 0, y, &l);
}
