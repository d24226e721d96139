/* Comparisons, logical and bitwise ops, where, isnan/isinf, maximum/minimum and clamp with tensor
 * bounds. Layout-agnostic: they run in the layout of their first activation operand.
 *
 * Operands are compared in the dtype torch promotes them to (float if either side is float, int if
 * either is int, else bool); bool operands of LESS & co. are compared as int32 (LiteRT's LESS has no
 * bool kernel). Integer bitwise ops: TFLite has BITWISE_XOR only, so
 *   a & b = 2 (a' & b') + (a mod 2)(b mod 2), a' = floor(a / 2), b' = floor(b / 2), where
 *   a' & b' = (a' + b' - (a' ^ b')) / 2 (the identity x + y = (x ^ y) + 2 (x & y) holds for two's
 *   complement values; halving first keeps every intermediate inside int32), and
 *   a | b = (a ^ b) + (a & b) (disjoint bits).
 * A mask 2^k - 1 known at conversion time is one FLOOR_MOD. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

static p2l_dtype dtype_of(p2l_lower_ctx *ctx, int t) { return ctx->g->tensors.items[t].dtype; }

static p2l_dtype out_dtype(p2l_lower_ctx *ctx) {
    const p2l_value *v = p2l_output_value(ctx, 0);
    return v ? p2l_ir_dtype(v->dtype) : P2L_FLOAT32;
}

static int category(p2l_dtype d) { return d == P2L_BOOL ? 0 : d == P2L_FLOAT32 || d == P2L_FLOAT16 ? 2 : 1; }

/* The dtype an argument brings to torch's type promotion (a scalar counts by its kind). */
static bool arg_dtype(p2l_lower_ctx *ctx, const char *name, p2l_dtype *out, bool *is_tensor) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    *is_tensor = a->kind == P2L_ARG_TENSOR;
    switch (a->kind) {
    case P2L_ARG_TENSOR: *out = p2l_ir_dtype(ctx->ep->values.items[a->i].dtype); return true;
    case P2L_ARG_FLOAT: *out = P2L_FLOAT32; return true;
    case P2L_ARG_INT: *out = P2L_INT32; return true;
    case P2L_ARG_BOOL: *out = P2L_BOOL; return true;
    default: return false;
    }
}

/* The common dtype of two operands: the higher category; among ints, the tensors' dtype when they
 * agree (a scalar adopts the tensor's), int32 otherwise. */
static p2l_dtype common_dtype(p2l_lower_ctx *ctx, const char *a, const char *b) {
    p2l_dtype da = P2L_BOOL, db = P2L_BOOL;
    bool ta = false, tb = false;
    if (!arg_dtype(ctx, a, &da, &ta)) return P2L_FLOAT32;
    if (!arg_dtype(ctx, b, &db, &tb)) return da;
    int ca = category(da), cb = category(db);
    int c = ca > cb ? ca : cb;
    if (c == 0) return P2L_BOOL;
    if (c == 2) return P2L_FLOAT32;
    if (ca == 1 && cb == 1) return da == db ? da : ta && !tb ? da : tb && !ta ? db : P2L_INT32;
    return ca == 1 ? (ta ? da : P2L_INT32) : (tb ? db : P2L_INT32);
}

static int op_c(p2l_lower_ctx *ctx, p2l_op op, int x, double c, p2l_dtype out) {
    return x < 0 ? -1 : p2l_binary(ctx, op, x, p2l_const_scalar(ctx, dtype_of(ctx, x), c), out);
}
static int op2(p2l_lower_ctx *ctx, p2l_op op, int a, int b) {
    return a < 0 || b < 0 ? -1 : p2l_binary(ctx, op, a, b, dtype_of(ctx, a));
}

/* x as bool: x != 0 for numbers. */
static int truth(p2l_lower_ctx *ctx, int x) {
    if (x < 0 || dtype_of(ctx, x) == P2L_BOOL) return x;
    return op_c(ctx, P2L_OP_NOT_EQUAL, x, 0, P2L_BOOL);
}

/* ---------------------------------------------------------------- comparisons */

static p2l_status compare(p2l_lower_ctx *ctx, p2l_op op) {
    p2l_dtype dtype = common_dtype(ctx, "self", "other");
    if (dtype == P2L_BOOL && op != P2L_OP_EQUAL && op != P2L_OP_NOT_EQUAL) dtype = P2L_INT32;
    p2l_operands o;
    if (!p2l_binary_operands(ctx, "self", "other", dtype, &o)) return P2L_ERROR_UNSUPPORTED;
    return p2l_set_output(ctx, 0, p2l_binary(ctx, op, o.a, o.b, P2L_BOOL), &o.layout);
}

p2l_status p2l_lower_eq(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return compare(ctx, P2L_OP_EQUAL); }
p2l_status p2l_lower_ne(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return compare(ctx, P2L_OP_NOT_EQUAL); }
p2l_status p2l_lower_lt(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return compare(ctx, P2L_OP_LESS); }
p2l_status p2l_lower_le(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return compare(ctx, P2L_OP_LESS_EQUAL); }
p2l_status p2l_lower_gt(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return compare(ctx, P2L_OP_GREATER); }
p2l_status p2l_lower_ge(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return compare(ctx, P2L_OP_GREATER_EQUAL); }

/* ---------------------------------------------------------------- logical */

static p2l_status logical(p2l_lower_ctx *ctx, p2l_op op) {
    const p2l_value *out = p2l_output_value(ctx, 0);
    if (!out) return P2L_ERROR_UNSUPPORTED;
    const char *names[2] = {"self", "other"};
    p2l_layout l = p2l_operands_layout(ctx, names, 2, out->rank);
    int a = truth(ctx, p2l_input_broadcast(ctx, "self", out->rank, &l, P2L_BOOL));
    int b = truth(ctx, p2l_input_broadcast(ctx, "other", out->rank, &l, P2L_BOOL));
    if (out_dtype(ctx) != P2L_BOOL) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(out_dtype(ctx)));
    return p2l_set_output(ctx, 0, op2(ctx, op, a, b), &l);
}

p2l_status p2l_lower_logical_and(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return logical(ctx, P2L_OP_LOGICAL_AND); }
p2l_status p2l_lower_logical_or(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return logical(ctx, P2L_OP_LOGICAL_OR); }
p2l_status p2l_lower_logical_xor(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return logical(ctx, P2L_OP_NOT_EQUAL); }
p2l_status p2l_lower_logical_not(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_layout l;
    int x = truth(ctx, p2l_input_any(ctx, "self", &l));
    if (out_dtype(ctx) != P2L_BOOL) return p2l_unsupported(ctx, "a %s result", p2l_dtype_name(out_dtype(ctx)));
    return p2l_set_output(ctx, 0, p2l_unary(ctx, P2L_OP_LOGICAL_NOT, x), &l);
}

/* ---------------------------------------------------------------- bitwise */

static bool int_scalar(p2l_lower_ctx *ctx, const char *name, int64_t *out) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind != P2L_ARG_INT) return false;
    *out = a->i;
    return true;
}

/* a & b on int32, exact for every pair (see the header comment). */
static int bit_and(p2l_lower_ctx *ctx, int a, int b) {
    int ha = op_c(ctx, P2L_OP_FLOOR_DIV, a, 2, P2L_INT32), hb = op_c(ctx, P2L_OP_FLOOR_DIV, b, 2, P2L_INT32);
    int la = op_c(ctx, P2L_OP_FLOOR_MOD, a, 2, P2L_INT32), lb = op_c(ctx, P2L_OP_FLOOR_MOD, b, 2, P2L_INT32);
    int twice = op2(ctx, P2L_OP_SUB, op2(ctx, P2L_OP_ADD, ha, hb), op2(ctx, P2L_OP_BITWISE_XOR, ha, hb));
    int high = op_c(ctx, P2L_OP_FLOOR_DIV, twice, 2, P2L_INT32);
    int shifted = op2(ctx, P2L_OP_ADD, high, high);
    return op2(ctx, P2L_OP_ADD, shifted, op2(ctx, P2L_OP_MUL, la, lb));
}

static p2l_status bitwise(p2l_lower_ctx *ctx, char kind) {
    p2l_dtype dtype = out_dtype(ctx);
    p2l_operands o;
    if (dtype == P2L_BOOL) {
        if (!p2l_binary_operands(ctx, "self", "other", P2L_BOOL, &o)) return P2L_ERROR_UNSUPPORTED;
        p2l_op op = kind == '&' ? P2L_OP_LOGICAL_AND : kind == '|' ? P2L_OP_LOGICAL_OR : P2L_OP_NOT_EQUAL;
        return p2l_set_output(ctx, 0, op2(ctx, op, o.a, o.b), &o.layout);
    }
    if (dtype != P2L_INT32) return p2l_unsupported(ctx, "%s operands (bitwise ops take int and bool tensors)", p2l_dtype_name(dtype));
    int64_t mask;
    bool scalar = int_scalar(ctx, "other", &mask);
    /* x & (2^k - 1) = x mod 2^k, x & -2^k = x - x mod 2^k */
    if (kind == '&' && scalar && mask >= 0 && mask < INT32_MAX && ((mask + 1) & mask) == 0) {
        p2l_layout l;
        int x = p2l_cast(ctx, p2l_input_any(ctx, "self", &l), P2L_INT32);
        return p2l_set_output(ctx, 0, op_c(ctx, P2L_OP_FLOOR_MOD, x, (double)mask + 1, P2L_INT32), &l);
    }
    if (kind == '&' && scalar && mask < 0 && mask > INT32_MIN && ((-mask) & (-mask - 1)) == 0) {
        p2l_layout l;
        int x = p2l_cast(ctx, p2l_input_any(ctx, "self", &l), P2L_INT32);
        return p2l_set_output(ctx, 0, op2(ctx, P2L_OP_SUB, x, op_c(ctx, P2L_OP_FLOOR_MOD, x, (double)-mask, P2L_INT32)), &l);
    }
    if (!p2l_binary_operands(ctx, "self", "other", P2L_INT32, &o)) return P2L_ERROR_UNSUPPORTED;
    int r;
    if (kind == '^') r = op2(ctx, P2L_OP_BITWISE_XOR, o.a, o.b);
    else if (kind == '&') r = bit_and(ctx, o.a, o.b);
    else r = op2(ctx, P2L_OP_ADD, op2(ctx, P2L_OP_BITWISE_XOR, o.a, o.b), bit_and(ctx, o.a, o.b));
    return p2l_set_output(ctx, 0, r, &o.layout);
}

p2l_status p2l_lower_bitwise_and(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return bitwise(ctx, '&'); }
p2l_status p2l_lower_bitwise_or(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return bitwise(ctx, '|'); }
p2l_status p2l_lower_bitwise_xor(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return bitwise(ctx, '^'); }

/* ~x: LOGICAL_NOT for bool, -1 - x for ints (two's complement; no overflow). */
p2l_status p2l_lower_bitwise_not(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype dtype = dtype_of(ctx, x);
    if (dtype == P2L_BOOL) return p2l_set_output(ctx, 0, p2l_unary(ctx, P2L_OP_LOGICAL_NOT, x), &l);
    if (dtype != P2L_INT32) return p2l_unsupported(ctx, "a %s input", p2l_dtype_name(dtype));
    int r = p2l_binary(ctx, P2L_OP_SUB, p2l_const_scalar(ctx, P2L_INT32, -1), x, P2L_INT32);
    return p2l_set_output(ctx, 0, r, &l);
}

/* ---------------------------------------------------------------- NaN and infinity */

/* isnan(x) = x != x (false for every int). */
p2l_status p2l_lower_isnan(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    return p2l_set_output(ctx, 0, x < 0 ? -1 : p2l_binary(ctx, P2L_OP_NOT_EQUAL, x, x, P2L_BOOL), &l);
}

/* isinf(x) = |x| == inf; ints are never infinite (x != x). */
p2l_status p2l_lower_isinf(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    if (dtype_of(ctx, x) != P2L_FLOAT32) return p2l_set_output(ctx, 0, p2l_binary(ctx, P2L_OP_NOT_EQUAL, x, x, P2L_BOOL), &l);
    int r = op_c(ctx, P2L_OP_EQUAL, p2l_unary(ctx, P2L_OP_ABS, x), INFINITY, P2L_BOOL);
    return p2l_set_output(ctx, 0, r, &l);
}

/* ---------------------------------------------------------------- where, maximum, minimum, clamp */

p2l_status p2l_lower_where(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *out = p2l_output_value(ctx, 0);
    if (!out) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype dtype = out_dtype(ctx);
    const char *names[3] = {"self", "other", "condition"};
    p2l_layout l = p2l_operands_layout(ctx, names, 3, out->rank);
    int cond = truth(ctx, p2l_input_broadcast(ctx, "condition", out->rank, &l, P2L_BOOL));
    int a = p2l_operand(ctx, "self", out->rank, &l, dtype);
    int b = p2l_operand(ctx, "other", out->rank, &l, dtype);
    if (cond < 0 || a < 0 || b < 0) return P2L_ERROR_UNSUPPORTED;
    int r = p2l_output(ctx, 0, &l);
    int ins[3] = {cond, a, b};
    return p2l_emitted(p2l_emit(ctx, P2L_OP_SELECT_V2, 3, ins, 1, &r));
}

/* maximum/minimum: MAXIMUM/MINIMUM in the promoted dtype; for bools, OR/AND. */
static p2l_status extremum(p2l_lower_ctx *ctx, bool max) {
    p2l_dtype dtype = out_dtype(ctx);
    p2l_operands o;
    if (!p2l_binary_operands(ctx, "self", "other", dtype, &o)) return P2L_ERROR_UNSUPPORTED;
    p2l_op op = dtype == P2L_BOOL ? (max ? P2L_OP_LOGICAL_OR : P2L_OP_LOGICAL_AND) : max ? P2L_OP_MAXIMUM : P2L_OP_MINIMUM;
    return p2l_set_output(ctx, 0, op2(ctx, op, o.a, o.b), &o.layout);
}

p2l_status p2l_lower_maximum(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return extremum(ctx, true); }
p2l_status p2l_lower_minimum(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return extremum(ctx, false); }

/* clamp(x, min, max) with tensor bounds (either may be None) = minimum(maximum(x, min), max). */
p2l_status p2l_lower_clamp_tensor(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *out = p2l_output_value(ctx, 0);
    if (!out) return P2L_ERROR_UNSUPPORTED;
    p2l_dtype dtype = out_dtype(ctx);
    if (dtype == P2L_BOOL) return p2l_unsupported(ctx, "a bool input");
    bool has_min = p2l_arg_of(ctx, "min")->kind != P2L_ARG_NONE, has_max = p2l_arg_of(ctx, "max")->kind != P2L_ARG_NONE;
    const char *names[3] = {"self", "min", "max"};
    p2l_layout l = p2l_operands_layout(ctx, names, 3, out->rank);
    int x = p2l_operand(ctx, "self", out->rank, &l, dtype);
    if (has_min) x = op2(ctx, P2L_OP_MAXIMUM, x, p2l_operand(ctx, "min", out->rank, &l, dtype));
    if (has_max) x = op2(ctx, P2L_OP_MINIMUM, x, p2l_operand(ctx, "max", out->rank, &l, dtype));
    return p2l_set_output(ctx, 0, x, &l);
}
