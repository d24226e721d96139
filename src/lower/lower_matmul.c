/* Matrix products and softmax.
 *
 * A product with a constant right-hand side is FULLY_CONNECTED, whose weights are [out, in]: the
 * transpose of torch's mat2 [in, out]. Asking for mat2 in layout {1,0} gives exactly that: for a
 * weight, the transposed constant built at conversion time; for nn.Linear's permute(weight) (which
 * the permute lowering aliases with layout {1,0}), the weight itself, untouched. Products of two
 * activations are BATCH_MATMUL; a right operand held with its last two axes swapped (a permute,
 * as in q @ k.transpose(-1, -2)) is read in place through adj_y. */
#include <string.h>

#include "lower/lower.h"

static const p2l_layout transposed_2d = {{1, 0}};

static bool is_float_arg(p2l_lower_ctx *ctx, const char *name) {
    const p2l_value *v = p2l_value_of(ctx, name);
    return v && (v->dtype == P2L_FLOAT32 || v->dtype == P2L_FLOAT64);
}

/* Whether the tensor argument is known at conversion time (a weight, or a permute/view of one that
 * its lowering aliased to the weight's constant). */
static bool is_constant_arg(p2l_lower_ctx *ctx, const char *name) {
    p2l_layout l;
    int t = p2l_input_any(ctx, name, &l);
    return p2l_is_const(ctx->g, t);
}

/* A 1-D float constant of n zeros: FULLY_CONNECTED without a bias still gets one, because LiteRT's
 * XNNPACK path delegates it only with a bias. */
static int zero_bias(p2l_lower_ctx *ctx, int64_t n) {
    float *zeros = p2l_alloc_zero(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!zeros) return -1;
    return p2l_add_const(ctx->g, p2l_node_tensor_name(ctx, "bias"), P2L_FLOAT32, 1, &n,
                         zeros, true);
}

/* `lhs` @ `rhs` (2-D, rhs constant) as FULLY_CONNECTED into `out`, with `bias` (1-D, n outputs). */
static int emit_fully_connected(p2l_lower_ctx *ctx, const char *lhs, const char *rhs, int bias, int out) {
    int ins[3] = {p2l_input(ctx, lhs, NULL), p2l_input(ctx, rhs, &transposed_2d), bias};
    if (ins[0] < 0 || ins[1] < 0 || bias < 0) return -1;
    return p2l_emit(ctx, P2L_OP_FULLY_CONNECTED, 3, ins, 1, &out);
}

/* Whether layout l is the identity except for its last two axes, swapped. */
static bool last_two_swapped(const p2l_layout *l, int rank) {
    if (rank < 2 || l->perm[rank - 2] != rank - 1 || l->perm[rank - 1] != rank - 2) return false;
    for (int i = 0; i < rank - 2; i++)
        if (l->perm[i] != i) return false;
    return true;
}

/* `lhs` @ `rhs` (same rank, batch axes equal) as BATCH_MATMUL into `out`. The right operand is
 * read transposed in place (adj_y) when its layout swaps the last two axes; the left one always in
 * the logical layout (XNNPACK does not take adj_x). */
static int emit_batch_matmul(p2l_lower_ctx *ctx, const char *lhs, const char *rhs, int out) {
    const p2l_value *rv = p2l_value_of(ctx, rhs);
    if (!rv) return -1;
    p2l_layout l;
    int y = p2l_input_any(ctx, rhs, &l);
    bool adj_y = y >= 0 && last_two_swapped(&l, rv->rank);
    if (!adj_y) y = p2l_input(ctx, rhs, NULL);
    int ins[2] = {p2l_input(ctx, lhs, NULL), y};
    if (ins[0] < 0 || ins[1] < 0) return -1;
    int n = p2l_emit(ctx, P2L_OP_BATCH_MATMUL, 2, ins, 1, &out);
    if (n >= 0) p2l_set_option(ctx->g, n, "adj_y", adj_y);
    return n;
}

/* A float intermediate shaped like output 0 (logical layout). */
static int temp_like_output(p2l_lower_ctx *ctx, const char *suffix) {
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    return out_v ? p2l_temp(ctx, suffix, P2L_FLOAT32, out_v->rank, out_v->dims) : -1;
}

/* out = x * scalar */
static int emit_scale(p2l_lower_ctx *ctx, int x, double scalar, int out) {
    int ins[2] = {x, p2l_const_scalar(ctx, P2L_FLOAT32, scalar)};
    if (x < 0 || ins[1] < 0) return -1;
    return p2l_emit(ctx, P2L_OP_MUL, 2, ins, 1, &out);
}

/* The bias of addmm as FULLY_CONNECTED's 1-D bias, when it is a constant holding exactly one value
 * per output ([n] or [1, n]); -2 when it is not (then it is added separately). */
static int fused_bias(p2l_lower_ctx *ctx, int64_t n) {
    const p2l_arg *a = p2l_arg_of(ctx, "self");
    const p2l_value *b = p2l_value_of(ctx, "self");
    if (!b || !b->data || b->rank < 1 || b->rank > 2 || b->dims[b->rank - 1] != n || (b->rank == 2 && b->dims[0] != 1))
        return -2;
    int t = p2l_value_const(ctx, (int)a->i, b->rank, NULL);
    if (t >= 0) { /* a fresh tensor over the same bytes: view [1, n] as [n] */
        p2l_ir_tensor *tt = &ctx->g->tensors.items[t];
        tt->rank = 1;
        tt->dims[0] = n;
    }
    return t;
}

/* addmm(self, mat1, mat2, beta, alpha) = beta * self + alpha * (mat1 @ mat2), as exported from
 * nn.Linear (mat2 = permute(weight)). With a constant mat2 and unit scales it is one
 * FULLY_CONNECTED with the bias fused; otherwise the product (FULLY_CONNECTED or BATCH_MATMUL),
 * then MUL by alpha, then ADD of beta * self (broadcast). beta = 0 ignores self, as torch does. */
p2l_status p2l_lower_addmm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!out_v || out_v->rank != 2) return P2L_ERROR_UNSUPPORTED;
    if (!is_float_arg(ctx, "mat1") || !is_float_arg(ctx, "mat2"))
        return p2l_unsupported(ctx, "addmm of non-float tensors");
    double alpha = p2l_arg_number(ctx, "alpha", 1), beta = p2l_arg_number(ctx, "beta", 1);
    int64_t n = out_v->dims[1];
    bool constant_rhs = is_constant_arg(ctx, "mat2");
    int bias = constant_rhs && alpha == 1 && beta == 1 ? fused_bias(ctx, n) : -2;
    if (bias == -1) return P2L_ERROR_UNSUPPORTED;
    bool add_bias = bias == -2 && beta != 0;
    bool scale = alpha != 1;
    int out = p2l_output(ctx, 0, NULL);
    int product = scale || add_bias ? temp_like_output(ctx, "product") : out;
    int made;
    if (constant_rhs)
        made = emit_fully_connected(ctx, "mat1", "mat2", bias >= 0 ? bias : zero_bias(ctx, n), product);
    else
        made = emit_batch_matmul(ctx, "mat1", "mat2", product);
    if (made < 0) return P2L_ERROR_UNSUPPORTED;
    if (scale) {
        int scaled = add_bias ? temp_like_output(ctx, "scaled") : out;
        if (emit_scale(ctx, product, alpha, scaled) < 0) return P2L_ERROR_UNSUPPORTED;
        product = scaled;
    }
    if (!add_bias) return P2L_OK;
    int b = p2l_input_broadcast(ctx, "self", 2, NULL, P2L_FLOAT32);
    if (b < 0) return P2L_ERROR_UNSUPPORTED;
    if (beta != 1) {
        const p2l_ir_tensor bt = ctx->g->tensors.items[b];
        int scaled_bias = p2l_temp(ctx, "scaled_bias", P2L_FLOAT32, bt.rank, bt.dims);
        if (emit_scale(ctx, b, beta, scaled_bias) < 0) return P2L_ERROR_UNSUPPORTED;
        b = scaled_bias;
    }
    int ins[2] = {product, b};
    return p2l_emitted(p2l_emit(ctx, P2L_OP_ADD, 2, ins, 1, &out));
}

/* mm: FULLY_CONNECTED (with a zero bias) for a constant right-hand side, else BATCH_MATMUL. */
p2l_status p2l_lower_mm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    const p2l_value *out_v = p2l_output_value(ctx, 0);
    if (!out_v || out_v->rank != 2) return P2L_ERROR_UNSUPPORTED;
    if (!is_float_arg(ctx, "self") || !is_float_arg(ctx, "mat2")) return p2l_unsupported(ctx, "mm of non-float tensors");
    int out = p2l_output(ctx, 0, NULL);
    if (is_constant_arg(ctx, "mat2"))
        return p2l_emitted(emit_fully_connected(ctx, "self", "mat2", zero_bias(ctx, out_v->dims[1]), out));
    return p2l_emitted(emit_batch_matmul(ctx, "self", "mat2", out));
}

/* bmm: [B, n, k] @ [B, k, m] is BATCH_MATMUL as is. */
p2l_status p2l_lower_bmm(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    if (!is_float_arg(ctx, "self") || !is_float_arg(ctx, "mat2")) return p2l_unsupported(ctx, "bmm of non-float tensors");
    return p2l_emitted(emit_batch_matmul(ctx, "self", "mat2", p2l_output(ctx, 0, NULL)));
}

/* SOFTMAX and LOG_SOFTMAX normalize over the last physical axis. The input stays in its layout
 * when `dim` is already last there (channels of an NHWC tensor); otherwise it is requested in its
 * layout with `dim` moved last, and the output keeps that layout. */
static p2l_status lower_softmax_like(p2l_lower_ctx *ctx, p2l_op op) {
    const p2l_value *in_v = p2l_value_of(ctx, "self");
    if (!in_v || in_v->rank == 0) return p2l_unsupported(ctx, "softmax of a 0-d tensor");
    if (in_v->dtype != P2L_FLOAT32 && in_v->dtype != P2L_FLOAT64)
        return p2l_unsupported(ctx, "softmax of a %s tensor", p2l_dtype_name(in_v->dtype));
    if (p2l_arg_of(ctx, "half_to_float")->i) return p2l_unsupported(ctx, "half_to_float=True (half inputs)");
    int rank = in_v->rank;
    int dim = p2l_norm_dim(p2l_arg_of(ctx, "dim")->i, rank);
    if (dim < 0) return p2l_unsupported(ctx, "softmax dim %lld is out of range", (long long)p2l_arg_of(ctx, "dim")->i);
    p2l_layout l;
    int x = p2l_input_any(ctx, "self", &l);
    if (x < 0) return P2L_ERROR_UNSUPPORTED;
    int p = p2l_physical_axis(&l, rank, dim);
    if (p != rank - 1) {
        memmove(&l.perm[p], &l.perm[p + 1], (size_t)(rank - 1 - p));
        l.perm[rank - 1] = (int8_t)dim;
        x = p2l_input(ctx, "self", &l);
    }
    int n = p2l_emit1(ctx, op, x, p2l_output(ctx, 0, &l));
    if (n >= 0 && op == P2L_OP_SOFTMAX) p2l_set_option_f32(ctx->g, n, "beta", 1.0f);
    return p2l_emitted(n);
}

p2l_status p2l_lower_softmax(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_softmax_like(ctx, P2L_OP_SOFTMAX);
}

p2l_status p2l_lower_log_softmax(p2l_lower_ctx *ctx, const p2l_aten_node *node) {
    return lower_softmax_like(ctx, P2L_OP_LOG_SOFTMAX);
}
