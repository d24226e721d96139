/* Element-wise arithmetic and activations. These ops do not care about layout: they run in the
 * layout their main input already has (NHWC after a conv), and constants are laid out to match at
 * conversion time, so they never add a TRANSPOSE. */
#include <math.h>
#include <string.h>

#include "lower/lower.h"

/* The layout of the first tensor argument among `names` that is an activation of the output's
 * (`out`'s) rank (weights and scalars adapt to it), preferring one of the output's full shape: an operand that
 * broadcasts (a PReLU slope expanded to [1, 1, 1], a mask) adapts as cheaply as a weight does. */
static p2l_layout pick_layout(p2l_lower_ctx *ctx, const char *const *names, int count, const p2l_value *out) {
    for (int full = 1; full >= 0; full--)
        for (int i = 0; i < count; i++) {
            const p2l_value *v = p2l_value_of(ctx, names[i]);
            if (!v || v->rank != out->rank || v->data) continue;
            if (full && memcmp(v->dims, out->dims, (size_t)out->rank * sizeof *v->dims) != 0) continue;
            p2l_layout l;
            if (p2l_input_any(ctx, names[i], &l) >= 0) return l;
        }
    return p2l_identity_layout();
}

/* Casts tensor t to dtype when it differs (int + float promotes in torch). */
static int cast_to(p2l_lower_ctx *ctx, int t, p2l_dtype dtype) {
    if (t < 0 || ctx->g->tensors.items[t].dtype == dtype) return t;
    const p2l_ir_tensor tt = ctx->g->tensors.items[t];
    int out = p2l_temp(ctx, "cast", dtype, tt.rank, tt.dims);
    return p2l_emit1(ctx, P2L_OP_CAST, t, out) < 0 ? -1 : out;
}

/* Operand `name` (tensor or scalar) ready for a binary op producing `out_index`'s value. */
static int operand(p2l_lower_ctx *ctx, const char *name, const p2l_layout *layout, p2l_dtype dtype, int rank) {
    return cast_to(ctx, p2l_input_broadcast(ctx, name, rank, layout, dtype), dtype);
}

/* out = op(a, b) in a common layout; returns the emitted node or -1. */
static int binary(p2l_lower_ctx *ctx, p2l_op op, const char *a, const char *b, p2l_dtype operand_dtype) {
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!out_v) return -1;
    const char *names[2] = {a, b};
    p2l_layout l = pick_layout(ctx, names, 2, out_v);
    int x = operand(ctx, a, &l, operand_dtype, out_v->rank);
    int y = operand(ctx, b, &l, operand_dtype, out_v->rank);
    int out = p2l_output(ctx, 0, &l);
    int ins[2] = {x, y};
    return x < 0 || y < 0 ? -1 : p2l_emit(ctx, op, 2, ins, 1, &out);
}

static p2l_dtype out_dtype(p2l_lower_ctx *ctx) {
    const p2l_value *v = p2l_output_value(ctx, 0);
    return v ? p2l_ir_dtype(v->dtype) : P2L_FLOAT32;
}

static bool alpha_is_one(p2l_lower_ctx *ctx) {
    const p2l_arg *alpha = p2l_arg_of(ctx, "alpha");
    return alpha->kind == P2L_ARG_NONE || (alpha->kind == P2L_ARG_FLOAT ? alpha->f == 1.0 : alpha->i == 1);
}

static p2l_status add_or_sub(p2l_lower_ctx *ctx, p2l_op op) {
    if (!alpha_is_one(ctx)) return p2l_unsupported(ctx, "alpha other than 1");
    return binary(ctx, op, "self", "other", out_dtype(ctx)) < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK;
}

p2l_status p2l_lower_add(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return add_or_sub(ctx, P2L_OP_ADD); }
p2l_status p2l_lower_sub(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return add_or_sub(ctx, P2L_OP_SUB); }

p2l_status p2l_lower_rsub(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    if (!alpha_is_one(ctx)) return p2l_unsupported(ctx, "alpha other than 1");
    return binary(ctx, P2L_OP_SUB, "other", "self", out_dtype(ctx)) < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK;
}

p2l_status p2l_lower_mul(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_op op = out_dtype(ctx) == P2L_BOOL ? P2L_OP_LOGICAL_AND : P2L_OP_MUL;
    return binary(ctx, op, "self", "other", out_dtype(ctx)) < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK;
}

/* True division: the result is float even for integer operands (torch's rule). */
p2l_status p2l_lower_div(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *mode = p2l_arg_of(ctx, "rounding_mode");
    if (mode->kind == P2L_ARG_STRING) return p2l_unsupported(ctx, "rounding_mode '%s'", mode->s);
    return binary(ctx, P2L_OP_DIV, "self", "other", out_dtype(ctx)) < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK;
}

/* ---------------------------------------------------------------- activations */

/* out = op(self), same layout. Returns the node index or -1. */
static int unary(p2l_lower_ctx *ctx, p2l_op op, const char *name) {
    p2l_layout l;
    int x = p2l_input_any(ctx, name, &l);
    int out = p2l_output(ctx, 0, &l);
    return x < 0 ? -1 : p2l_emit1(ctx, op, x, out);
}

static p2l_status unary_status(p2l_lower_ctx *ctx, p2l_op op) {
    return unary(ctx, op, "self") < 0 ? P2L_ERROR_UNSUPPORTED : P2L_OK;
}

p2l_status p2l_lower_sigmoid(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return unary_status(ctx, P2L_OP_LOGISTIC); }
p2l_status p2l_lower_tanh(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return unary_status(ctx, P2L_OP_TANH); }
p2l_status p2l_lower_hardswish(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return unary_status(ctx, P2L_OP_HARD_SWISH);
}

p2l_status p2l_lower_gelu(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_arg *approx = p2l_arg_of(ctx, "approximate");
    bool tanh_form = approx->kind == P2L_ARG_STRING && strcmp(approx->s, "tanh") == 0;
    int n = unary(ctx, P2L_OP_GELU, "self");
    if (n < 0) return P2L_ERROR_UNSUPPORTED;
    p2l_set_option(ctx->g, n, "approximate", tanh_form);
    return P2L_OK;
}

/* A scalar-or-None bound of clamp/hardtanh. */
static bool bound(p2l_lower_ctx *ctx, const char *name, double *out) {
    const p2l_arg *a = p2l_arg_of(ctx, name);
    if (a->kind == P2L_ARG_FLOAT) *out = a->f;
    else if (a->kind == P2L_ARG_INT) *out = (double)a->i;
    else return false;
    return true;
}

/* clamp(x, lo, hi): the ReLU family when the bounds are theirs (XNNPACK fuses them into the op
 * before), MAXIMUM/MINIMUM otherwise. */
static p2l_status clamp(p2l_lower_ctx *ctx, bool has_lo, double lo, bool has_hi, double hi) {
    p2l_op relu = has_lo && lo == 0 && !has_hi          ? P2L_OP_RELU
                  : has_lo && lo == 0 && has_hi && hi == 6  ? P2L_OP_RELU6
                  : has_lo && lo == -1 && has_hi && hi == 1 ? P2L_OP_RELU_N1_TO_1
                                                            : P2L_OP_COUNT;
    if (relu != P2L_OP_COUNT && out_dtype(ctx) == P2L_FLOAT32) return unary_status(ctx, relu);
    /* torch promotes: clamp(int tensor, 0.5) is float, so compute in the output's dtype */
    p2l_layout l;
    p2l_dtype dtype = out_dtype(ctx);
    int x = cast_to(ctx, p2l_input_any(ctx, "self", &l), dtype);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    const p2l_ir_tensor xt = ctx->g->tensors.items[x];
    if (has_lo) {
        int y = has_hi ? p2l_temp(ctx, "lower", dtype, xt.rank, xt.dims) : p2l_output(ctx, 0, &l);
        int ins[2] = {x, p2l_const_scalar(ctx, dtype, lo)};
        if (p2l_emit(ctx, P2L_OP_MAXIMUM, 2, ins, 1, &y) < 0) return P2L_ERROR_UNSUPPORTED;
        x = y;
    }
    if (has_hi) {
        int y = p2l_output(ctx, 0, &l);
        int ins[2] = {x, p2l_const_scalar(ctx, dtype, hi)};
        if (p2l_emit(ctx, P2L_OP_MINIMUM, 2, ins, 1, &y) < 0) return P2L_ERROR_UNSUPPORTED;
    }
    if (!has_lo && !has_hi) return p2l_alias_output(ctx, 0, x, &l);
    return P2L_OK;
}

p2l_status p2l_lower_clamp(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double lo = 0, hi = 0;
    bool has_lo = bound(ctx, "min", &lo), has_hi = bound(ctx, "max", &hi);
    return clamp(ctx, has_lo, lo, has_hi, hi);
}

p2l_status p2l_lower_hardtanh(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    double lo = -1, hi = 1;
    bound(ctx, "min_val", &lo);
    bound(ctx, "max_val", &hi);
    return clamp(ctx, true, lo, true, hi);
}

/* RELU for floats; MAXIMUM(x, 0) for integer tensors, which LiteRT's RELU does not take. */
p2l_status p2l_lower_relu(p2l_lower_ctx *ctx, const p2l_aten_node *node) { return clamp(ctx, true, 0, false, 0); }

/* silu(x) = x * sigmoid(x) */
p2l_status p2l_lower_silu(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int s = p2l_temp_like(ctx, "sigmoid", x);
    int out = p2l_output(ctx, 0, &l);
    int ins[2] = {x, s};
    if (p2l_emit1(ctx, P2L_OP_LOGISTIC, x, s) < 0 || p2l_emit(ctx, P2L_OP_MUL, 2, ins, 1, &out) < 0)
        return P2L_ERROR_UNSUPPORTED;
    return P2L_OK;
}

/* hardsigmoid(x) = relu6(x + 3) / 6 */
p2l_status p2l_lower_hardsigmoid(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int shifted = p2l_temp_like(ctx, "shifted", x);
    int clipped = p2l_temp_like(ctx, "clipped", x);
    int out = p2l_output(ctx, 0, &l);
    int add_in[2] = {x, p2l_const_scalar(ctx, P2L_FLOAT32, 3)};
    int mul_in[2] = {clipped, p2l_const_scalar(ctx, P2L_FLOAT32, 1.0 / 6.0)};
    if (p2l_emit(ctx, P2L_OP_ADD, 2, add_in, 1, &shifted) < 0 || p2l_emit1(ctx, P2L_OP_RELU6, shifted, clipped) < 0 ||
        p2l_emit(ctx, P2L_OP_MUL, 2, mul_in, 1, &out) < 0)
        return P2L_ERROR_UNSUPPORTED;
    return P2L_OK;
}
