/* The reference kernels on edge cases, through the public API (kernel_runner.h): broadcasting, empty
 * tensors, extreme values (NaN, infinities, signed zeros, integer overflow), and the errors of invalid
 * inputs.
 *
 * Golden values are PyTorch's: worked out by hand from PyTorch semantics, or computed with torch 2.14
 * (CPU, float32; e.g. torch.maximum(torch.tensor([nan, 1.]), torch.tensor([1., nan])).tolist()) where a
 * comment says "torch". Where PyTorch leaves a result undefined or refuses the input and pt2lite
 * documents its own behaviour (saturating float -> int CAST, integer division by zero), the golden value
 * is that documented behaviour, and the comment says so. Never values printed by the code under test. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "kernel_runner.h"

#define NAN_F ((float)NAN)
#define INF_F ((float)INFINITY)

/* ------------------------------------------------------------ broadcasting (binary ops) */

static void test_broadcast_size_one_dims(void) {
    /* [2,1] + [3] -> [2,3]: the rank-1 operand lines up with the last dim */
    op_result r = run_op(P2L_OP_ADD, NULL, P2L_FLOAT32, OP_F32((2, 1), 1, 2), OP_F32((3), 10, 20, 30));
    CHECK_OP_F32(r, (2, 3), 0, 11, 21, 31, 12, 22, 32);
    op_result_free(&r);
    /* [1,3] - [2,1]: both operands broadcast */
    r = run_op(P2L_OP_SUB, NULL, P2L_FLOAT32, OP_F32((1, 3), 1, 2, 3), OP_F32((2, 1), 10, 20));
    CHECK_OP_F32(r, (2, 3), 0, -9, -8, -7, -19, -18, -17);
    op_result_free(&r);
}

static void test_broadcast_scalar(void) {
    op_result r = run_op(P2L_OP_MUL, NULL, P2L_FLOAT32, OP_F32((), 3), OP_F32((2, 2), 1, 2, 3, 4));
    CHECK_OP_F32(r, (2, 2), 0, 3, 6, 9, 12);
    op_result_free(&r);
    r = run_op(P2L_OP_SUB, NULL, P2L_INT32, OP_I32((3), 1, 2, 3), OP_I32((), 5));
    CHECK_OP_I32(r, (3), -4, -3, -2);
    op_result_free(&r);
    /* scalar with scalar stays a scalar */
    r = run_op(P2L_OP_ADD, NULL, P2L_FLOAT32, OP_F32((), 1.5f), OP_F32((), 2));
    CHECK_OP_F32(r, (), 0, 3.5f);
    op_result_free(&r);
}

static void test_broadcast_rank_mismatch(void) {
    /* [2,1,3] * [4,1] -> [2,4,3]; torch: (arange(1,7).reshape(2,1,3) * tensor([[10.],[100.],[1000.],[10000.]])) */
    op_result r = run_op(P2L_OP_MUL, NULL, P2L_FLOAT32, OP_F32((2, 1, 3), 1, 2, 3, 4, 5, 6),
                         OP_F32((4, 1), 10, 100, 1000, 10000));
    CHECK_OP_F32(r, (2, 4, 3), 0, 10, 20, 30, 100, 200, 300, 1000, 2000, 3000, 10000, 20000, 30000,
                 40, 50, 60, 400, 500, 600, 4000, 5000, 6000, 40000, 50000, 60000);
    op_result_free(&r);
    /* a comparison broadcasts the same way and gives bool */
    r = run_op(P2L_OP_GREATER, NULL, P2L_BOOL, OP_I32((2, 1, 2), 1, 5, 3, 0), OP_I32((2), 2, 2));
    CHECK_OP_BOOL(r, (2, 1, 2), 0, 1, 1, 0);
    op_result_free(&r);
}

static void test_broadcast_incompatible_shapes_fail(void) {
    op_result r = run_op(P2L_OP_ADD, NULL, P2L_FLOAT32, OP_F32((2, 3), 1, 2, 3, 4, 5, 6), OP_F32((2), 1, 2));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "shapes do not broadcast");
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "ADD");
    op_result_free(&r);
    /* a zero-sized dim broadcasts against 1 only (torch: zeros(0) + zeros(2) raises) */
    r = run_op(P2L_OP_MAXIMUM, NULL, P2L_FLOAT32, OP_F32((0)), OP_F32((2), 1, 2));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "shapes do not broadcast");
    op_result_free(&r);
}

static void test_broadcast_empty_tensors(void) {
    op_result r = run_op(P2L_OP_ADD, NULL, P2L_FLOAT32, OP_F32((0, 3)), OP_F32((3), 1, 2, 3));
    CHECK_OP_F32(r, (0, 3), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_MUL, NULL, P2L_FLOAT32, OP_F32((2, 1), 1, 2), OP_F32((2, 0)));
    CHECK_OP_F32(r, (2, 0), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_LESS, NULL, P2L_BOOL, OP_I32((0)), OP_I32((1), 4));
    CHECK_OP_BOOL(r, (0));
    op_result_free(&r);
    /* the integer divisor check on an empty divisor finds nothing to refuse */
    r = run_op(P2L_OP_FLOOR_DIV, NULL, P2L_INT32, OP_I32((1), 4), OP_I32((0)));
    CHECK_OP_I32(r, (0));
    op_result_free(&r);
}

static void test_binary_fused_activation(void) {
    op_result r = run_op(P2L_OP_ADD, OP_OPTIONS({"fused_activation_function", P2L_ACT_RELU6}), P2L_FLOAT32,
                         OP_F32((4), -5, 1, 5, NAN_F), OP_F32((), 2));
    CHECK_OP_F32(r, (4), 0, 0, 3, 6, NAN_F); /* torch: relu6(tensor([-3., 3, 7, nan])) */
    op_result_free(&r);
}

/* ------------------------------------------------------------ binary ops: extreme values */

static void test_maximum_minimum_nan_and_signed_zeros(void) {
    /* torch.maximum(tensor([nan, 1, 2, -0., 0.]), tensor([1, nan, inf, 0., -0.])): NaN from either side;
     * on equal values the first operand (its sign of zero) */
    op_result r = run_op(P2L_OP_MAXIMUM, NULL, P2L_FLOAT32, OP_F32((5), NAN_F, 1, 2, -0.0f, 0.0f),
                         OP_F32((5), 1, NAN_F, INF_F, 0.0f, -0.0f));
    CHECK_OP_F32(r, (5), 0, NAN_F, NAN_F, INF_F, -0.0f, 0.0f);
    op_result_free(&r);
    r = run_op(P2L_OP_MINIMUM, NULL, P2L_FLOAT32, OP_F32((5), NAN_F, 1, -INF_F, -0.0f, 0.0f),
               OP_F32((5), 1, NAN_F, 2, 0.0f, -0.0f));
    CHECK_OP_F32(r, (5), 0, NAN_F, NAN_F, -INF_F, -0.0f, 0.0f);
    op_result_free(&r);
}

static void test_comparisons_with_nan(void) {
    /* IEEE: every ordered comparison with NaN is false, NOT_EQUAL is true (torch agrees) */
    const op_tensor a = OP_F32((2), NAN_F, NAN_F), b = OP_F32((2), 1, NAN_F);
    const p2l_op ops[] = {P2L_OP_LESS, P2L_OP_LESS_EQUAL, P2L_OP_GREATER, P2L_OP_GREATER_EQUAL, P2L_OP_EQUAL};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        op_result r = run_op(ops[i], NULL, P2L_BOOL, a, b);
        CHECK_OP_BOOL(r, (2), 0, 0);
        op_result_free(&r);
    }
    op_result r = run_op(P2L_OP_NOT_EQUAL, NULL, P2L_BOOL, a, b);
    CHECK_OP_BOOL(r, (2), 1, 1);
    op_result_free(&r);
}

static void test_float_arithmetic_infinities(void) {
    /* torch: (tensor([inf, 1.]) - tensor([inf, -inf]))**2 */
    op_result r = run_op(P2L_OP_SQUARED_DIFFERENCE, NULL, P2L_FLOAT32, OP_F32((2), INF_F, 1), OP_F32((2), INF_F, -INF_F));
    CHECK_OP_F32(r, (2), 0, NAN_F, INF_F);
    op_result_free(&r);
    /* float division by zero follows IEEE, as torch */
    r = run_op(P2L_OP_DIV, NULL, P2L_FLOAT32, OP_F32((4), 1, -1, 0, -0.0f), OP_F32((4), 0, 0, 0, 1));
    CHECK_OP_F32(r, (4), 0, INF_F, -INF_F, NAN_F, -0.0f);
    op_result_free(&r);
    /* torch.pow(tensor([0., -8, nan, 2, -2, inf]), tensor([0., 1/3, 0, -inf, 3, -1])) */
    r = run_op(P2L_OP_POW, NULL, P2L_FLOAT32, OP_F32((6), 0, -8, NAN_F, 2, -2, INF_F),
               OP_F32((6), 0, 1.0f / 3, 0, -INF_F, 3, -1));
    CHECK_OP_F32(r, (6), 0, 1, NAN_F, 1, 0, -8, 0);
    op_result_free(&r);
}

static void test_int32_overflow_wraps(void) {
    /* Two's complement wrap-around, as torch does for int32 tensors:
     * torch: tensor([2**31-1, -2**31], int32) + tensor([1, -1], int32) -> [-2**31, 2**31-1];
     * tensor([65536, 46341], int32)**2 elementwise -> [0, -2147479015] */
    op_result r = run_op(P2L_OP_ADD, NULL, P2L_INT32, OP_I32((2), INT32_MAX, INT32_MIN), OP_I32((2), 1, -1));
    CHECK_OP_I32(r, (2), INT32_MIN, INT32_MAX);
    op_result_free(&r);
    r = run_op(P2L_OP_MUL, NULL, P2L_INT32, OP_I32((2), 65536, 46341), OP_I32((2), 65536, 46341));
    CHECK_OP_I32(r, (2), 0, -2147479015);
    op_result_free(&r);
    r = run_op(P2L_OP_SUB, NULL, P2L_INT64, OP_I64((1), INT64_MIN), OP_I64((1), 1));
    CHECK_OP_I64(r, (1), INT64_MAX);
    op_result_free(&r);
}

static void test_floor_div_and_floor_mod_signs(void) {
    /* torch.floor_divide / torch.remainder of int32 [7, -7, 7, -7, 0, -2**31] by [2, 2, -2, -2, 3, -1]:
     * rounding toward -inf, the remainder takes the divisor's sign; INT32_MIN // -1 wraps to INT32_MIN */
    const op_tensor x = OP_I32((6), 7, -7, 7, -7, 0, INT32_MIN), y = OP_I32((6), 2, 2, -2, -2, 3, -1);
    op_result r = run_op(P2L_OP_FLOOR_DIV, NULL, P2L_INT32, x, y);
    CHECK_OP_I32(r, (6), 3, -4, -4, 3, 0, INT32_MIN);
    op_result_free(&r);
    r = run_op(P2L_OP_FLOOR_MOD, NULL, P2L_INT32, x, y);
    CHECK_OP_I32(r, (6), 1, 1, -1, -1, 0, 0);
    op_result_free(&r);
    /* integer DIV truncates (torch.div(rounding_mode='trunc')) */
    r = run_op(P2L_OP_DIV, NULL, P2L_INT32, OP_I32((4), 7, -7, 7, -7), OP_I32((4), 2, 2, -2, -2));
    CHECK_OP_I32(r, (4), 3, -3, -3, 3);
    op_result_free(&r);
    /* int64 keeps its range: INT64_MIN floor-divided by -1 wraps, as in torch */
    r = run_op(P2L_OP_FLOOR_DIV, NULL, P2L_INT64, OP_I64((2), INT64_MIN, -9000000000LL), OP_I64((2), -1, 4000000000LL));
    CHECK_OP_I64(r, (2), INT64_MIN, -3);
    op_result_free(&r);
    /* float: torch.floor_divide(tensor([7., -7, 7, -7, 1, -1, 0]), tensor([2., 2, -2, -2, 0, 0, 0])) and
     * torch.remainder(tensor([7., -7, 7, -7, 5, -0., inf]), tensor([2., 2, -2, -2, 0, 2, 2])) */
    r = run_op(P2L_OP_FLOOR_DIV, NULL, P2L_FLOAT32, OP_F32((7), 7, -7, 7, -7, 1, -1, 0), OP_F32((7), 2, 2, -2, -2, 0, 0, 0));
    CHECK_OP_F32(r, (7), 0, 3, -4, -4, 3, INF_F, -INF_F, NAN_F);
    op_result_free(&r);
    r = run_op(P2L_OP_FLOOR_MOD, NULL, P2L_FLOAT32, OP_F32((7), 7, -7, 7, -7, 5, -0.0f, INF_F),
               OP_F32((7), 2, 2, -2, -2, 0, 2, 2));
    CHECK_OP_F32(r, (7), 0, 1, 1, -1, -1, NAN_F, -0.0f, NAN_F);
    op_result_free(&r);
}

static void test_integer_division_by_zero_fails(void) {
    /* torch raises "ZeroDivisionError" for integer division by zero; pt2lite refuses it too */
    const p2l_op ops[] = {P2L_OP_DIV, P2L_OP_FLOOR_DIV, P2L_OP_FLOOR_MOD};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        op_result r = run_op(ops[i], NULL, P2L_INT32, OP_I32((2, 2), 1, 2, 3, 4), OP_I32((2), 1, 0));
        CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "integer division by zero");
        CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, p2l_op_info_of(ops[i])->name);
        op_result_free(&r);
    }
    /* integer POW with a negative exponent has no integer result (torch raises too) */
    op_result r = run_op(P2L_OP_POW, NULL, P2L_INT32, OP_I32((2), 2, 2), OP_I32((2), 3, -1));
    CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "negative exponent (-1)");
    op_result_free(&r);
    r = run_op(P2L_OP_POW, NULL, P2L_INT32, OP_I32((3), 2, -3, 0), OP_I32((3), 10, 3, 0));
    CHECK_OP_I32(r, (3), 1024, -27, 1);
    op_result_free(&r);
}

static void test_binary_dtype_errors(void) {
    op_result r = run_op(P2L_OP_ADD, NULL, P2L_FLOAT32, OP_F32((1), 1), OP_I32((1), 1));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "is int32 but");
    op_result_free(&r);
    r = run_op(P2L_OP_LOGICAL_AND, NULL, P2L_BOOL, OP_BOOL((3), 1, 1, 0), OP_BOOL((1), 1));
    CHECK_OP_BOOL(r, (3), 1, 1, 0);
    op_result_free(&r);
}

/* ------------------------------------------------------------ unary ops */

static void test_relu_family_nan_and_signed_zero(void) {
    /* torch.relu / relu6 / hardtanh of [nan, -0., -1, 2, inf, -inf, 7]: NaN passes through, -0 stays -0 */
    const op_tensor x = OP_F32((7), NAN_F, -0.0f, -1, 2, INF_F, -INF_F, 7);
    op_result r = run_op(P2L_OP_RELU, NULL, P2L_FLOAT32, x);
    CHECK_OP_F32(r, (7), 0, NAN_F, -0.0f, 0, 2, INF_F, 0, 7);
    op_result_free(&r);
    r = run_op(P2L_OP_RELU6, NULL, P2L_FLOAT32, x);
    CHECK_OP_F32(r, (7), 0, NAN_F, -0.0f, 0, 2, 6, 0, 6);
    op_result_free(&r);
    r = run_op(P2L_OP_RELU_N1_TO_1, NULL, P2L_FLOAT32, x);
    CHECK_OP_F32(r, (7), 0, NAN_F, -0.0f, -1, 1, 1, -1, 1);
    op_result_free(&r);
    /* torch.nn.functional.leaky_relu(tensor([nan, -2, -inf, 3]), 0.5) */
    r = run_op(P2L_OP_LEAKY_RELU, OP_OPTIONS({"alpha", p2l_f32_bits(0.5f)}), P2L_FLOAT32, OP_F32((4), NAN_F, -2, -INF_F, 3));
    CHECK_OP_F32(r, (4), 0, NAN_F, -1, -INF_F, 3);
    op_result_free(&r);
    /* torch.relu on int32 */
    r = run_op(P2L_OP_RELU, NULL, P2L_INT32, OP_I32((3), INT32_MIN, 0, INT32_MAX));
    CHECK_OP_I32(r, (3), 0, 0, INT32_MAX);
    op_result_free(&r);
}

static void test_activations_at_infinities(void) {
    /* torch.sigmoid / tanh / exp of [-inf, inf, nan, 0] */
    const op_tensor x = OP_F32((4), -INF_F, INF_F, NAN_F, 0);
    op_result r = run_op(P2L_OP_LOGISTIC, NULL, P2L_FLOAT32, x);
    CHECK_OP_F32(r, (4), 0, 0, 1, NAN_F, 0.5f);
    op_result_free(&r);
    r = run_op(P2L_OP_TANH, NULL, P2L_FLOAT32, x);
    CHECK_OP_F32(r, (4), 0, -1, 1, NAN_F, 0);
    op_result_free(&r);
    r = run_op(P2L_OP_EXP, NULL, P2L_FLOAT32, x);
    CHECK_OP_F32(r, (4), 0, 0, INF_F, NAN_F, 1);
    op_result_free(&r);
    /* torch hardswish of [-inf, inf, nan, -3, -1, 1, 3]: -inf * 0 is NaN, -3 gives -0 */
    r = run_op(P2L_OP_HARD_SWISH, NULL, P2L_FLOAT32, OP_F32((7), -INF_F, INF_F, NAN_F, -3, -1, 1, 3));
    CHECK_OP_F32(r, (7), 1e-6, NAN_F, INF_F, NAN_F, -0.0f, -0.33333334f, 0.6666667f, 3);
    op_result_free(&r);
    /* torch.nn.functional.elu of [-inf, nan, -1, 2] */
    r = run_op(P2L_OP_ELU, NULL, P2L_FLOAT32, OP_F32((4), -INF_F, NAN_F, -1, 2));
    CHECK_OP_F32(r, (4), 1e-6, -1, NAN_F, -0.63212055f, 2);
    op_result_free(&r);
    /* torch gelu (erf and tanh forms) of [-inf, inf, nan, -1, 1]: -inf * 0 is NaN */
    r = run_op(P2L_OP_GELU, NULL, P2L_FLOAT32, OP_F32((5), -INF_F, INF_F, NAN_F, -1, 1));
    CHECK_OP_F32(r, (5), 1e-6, NAN_F, INF_F, NAN_F, -0.15865529f, 0.8413447f);
    op_result_free(&r);
    r = run_op(P2L_OP_GELU, OP_OPTIONS({"approximate", 1}), P2L_FLOAT32, OP_F32((5), -INF_F, INF_F, NAN_F, -1, 1));
    CHECK_OP_F32(r, (5), 1e-6, NAN_F, INF_F, NAN_F, -0.15880799f, 0.841192f);
    op_result_free(&r);
}

static void test_math_domain_edges(void) {
    /* torch.log of [0, -1, inf, 1, -0.]; torch.sqrt of [-0., -1, inf]; torch.rsqrt of [0, -0., inf, -1, 4] */
    op_result r = run_op(P2L_OP_LOG, NULL, P2L_FLOAT32, OP_F32((5), 0, -1, INF_F, 1, -0.0f));
    CHECK_OP_F32(r, (5), 0, -INF_F, NAN_F, INF_F, 0, -INF_F);
    op_result_free(&r);
    r = run_op(P2L_OP_SQRT, NULL, P2L_FLOAT32, OP_F32((3), -0.0f, -1, INF_F));
    CHECK_OP_F32(r, (3), 0, -0.0f, NAN_F, INF_F);
    op_result_free(&r);
    r = run_op(P2L_OP_RSQRT, NULL, P2L_FLOAT32, OP_F32((5), 0, -0.0f, INF_F, -1, 4));
    CHECK_OP_F32(r, (5), 0, INF_F, -INF_F, 0, NAN_F, 0.5f);
    op_result_free(&r);
    /* torch.sign of [nan, -0., 0., -3, inf] is [0, 0, 0, -1, 1] */
    r = run_op(P2L_OP_SIGN, NULL, P2L_FLOAT32, OP_F32((5), NAN_F, -0.0f, 0, -3, INF_F));
    CHECK_OP_F32(r, (5), 0, 0, 0, 0, -1, 1);
    op_result_free(&r);
}

static void test_round_half_to_even(void) {
    /* torch.round of [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999998]: ties to even, -0.5 -> -0 */
    op_result r = run_op(P2L_OP_ROUND, NULL, P2L_FLOAT32, OP_F32((7), 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4999998f));
    CHECK_OP_F32(r, (7), 0, 0, 2, 2, -0.0f, -2, -2, 2);
    op_result_free(&r);
    /* torch.floor / ceil keep the sign of zero: floor(-0.) = -0, ceil(-0.5) = -0 */
    r = run_op(P2L_OP_FLOOR, NULL, P2L_FLOAT32, OP_F32((3), -0.5f, 0.5f, -0.0f));
    CHECK_OP_F32(r, (3), 0, -1, 0, -0.0f);
    op_result_free(&r);
    r = run_op(P2L_OP_CEIL, NULL, P2L_FLOAT32, OP_F32((2), -0.5f, 0.5f));
    CHECK_OP_F32(r, (2), 0, -0.0f, 1);
    op_result_free(&r);
}

static void test_integer_unary_wraps(void) {
    /* torch.abs / torch.neg of int32 INT32_MIN wrap to INT32_MIN */
    op_result r = run_op(P2L_OP_ABS, NULL, P2L_INT32, OP_I32((2), INT32_MIN, -5));
    CHECK_OP_I32(r, (2), INT32_MIN, 5);
    op_result_free(&r);
    r = run_op(P2L_OP_NEG, NULL, P2L_INT32, OP_I32((2), INT32_MIN, 5));
    CHECK_OP_I32(r, (2), INT32_MIN, -5);
    op_result_free(&r);
    r = run_op(P2L_OP_NEG, NULL, P2L_INT64, OP_I64((1), INT64_MIN));
    CHECK_OP_I64(r, (1), INT64_MIN);
    op_result_free(&r);
}

static void test_unary_empty_and_unsupported(void) {
    op_result r = run_op(P2L_OP_TANH, NULL, P2L_FLOAT32, OP_F32((3, 0, 2)));
    CHECK_OP_F32(r, (3, 0, 2), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_EXP, NULL, P2L_INT32, OP_I32((1), 1));
    CHECK_OP_FAILS(r, P2L_ERROR_UNSUPPORTED, "int32 input is not supported");
    op_result_free(&r);
}

/* ------------------------------------------------------------ CAST */

static void test_cast_float_to_int_saturates(void) {
    /* In range, float -> int truncates toward zero (torch: tensor([1.9, -1.9, -0.5, 2147483520.]).int()).
     * Out of range, NaN and inf are undefined in PyTorch; pt2lite documents (cast.c) saturation to the
     * target's range and NaN -> 0, so those golden values are that documented rule. */
    op_result r = run_op(P2L_OP_CAST, NULL, P2L_INT32,
                         OP_F32((8), 1.9f, -1.9f, -0.5f, 2147483520.0f, 3e9f, -3e9f, INF_F, -INF_F));
    CHECK_OP_I32(r, (8), 1, -1, 0, 2147483520, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN);
    op_result_free(&r);
    r = run_op(P2L_OP_CAST, NULL, P2L_INT32, OP_F32((1), NAN_F));
    CHECK_OP_I32(r, (1), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_CAST, NULL, P2L_UINT8, OP_F32((4), -1, 300, 255.9f, 7.5f));
    CHECK_OP_U8(r, (4), 0, 255, 255, 7);
    op_result_free(&r);
    r = run_op(P2L_OP_CAST, NULL, P2L_INT8, OP_F32((3), 300, -300, -128.9f));
    CHECK_OP_I8(r, (3), 127, -128, -128);
    op_result_free(&r);
    r = run_op(P2L_OP_CAST, NULL, P2L_INT64, OP_F32((3), 1e19f, -1e19f, -2.5f));
    CHECK_OP_I64(r, (3), INT64_MAX, INT64_MIN, -2);
    op_result_free(&r);
}

static void test_cast_to_bool_and_integer_narrowing(void) {
    /* torch: tensor([0., -0., nan, 0.1, -inf]).bool() -> [F, F, T, T, T] */
    op_result r = run_op(P2L_OP_CAST, NULL, P2L_BOOL, OP_F32((5), 0, -0.0f, NAN_F, 0.1f, -INF_F));
    CHECK_OP_BOOL(r, (5), 0, 0, 1, 1, 1);
    op_result_free(&r);
    /* integer -> narrower integer keeps the low bits: torch tensor([300, -129, 127, -128, 255], int32).to(int8) */
    r = run_op(P2L_OP_CAST, NULL, P2L_INT8, OP_I32((5), 300, -129, 127, -128, 255));
    CHECK_OP_I8(r, (5), 44, 127, 127, -128, -1);
    op_result_free(&r);
    /* torch: tensor([300, -1, 256], int32).to(uint8) -> [44, 255, 0] */
    r = run_op(P2L_OP_CAST, NULL, P2L_UINT8, OP_I32((3), 300, -1, 256));
    CHECK_OP_U8(r, (3), 44, 255, 0);
    op_result_free(&r);
    r = run_op(P2L_OP_CAST, NULL, P2L_FLOAT32, OP_BOOL((2), 1, 0));
    CHECK_OP_F32(r, (2), 0, 1, 0);
    op_result_free(&r);
    /* int64 -> int32 is how the converter narrows int64 inputs: a value outside int32 is refused
     * (pt2lite's documented rule, cast.c), not wrapped */
    r = run_op(P2L_OP_CAST, NULL, P2L_INT32, OP_I64((2), 5, 1LL << 31));
    CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "2147483648 at element 1");
    op_result_free(&r);
    r = run_op(P2L_OP_CAST, NULL, P2L_INT32, OP_I64((2), INT32_MIN, INT32_MAX));
    CHECK_OP_I32(r, (2), INT32_MIN, INT32_MAX);
    op_result_free(&r);
}

/* ------------------------------------------------------------ reductions */

#define AXES(...) OP_CONSTANT(OP_I32((sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), __VA_ARGS__))

static void test_reduce_over_empty_axis(void) {
    /* torch: zeros(2, 0).sum(1) -> [0, 0]; .mean(1) -> [nan, nan]; .prod(1) -> [1, 1] */
    op_result r = run_op(P2L_OP_SUM, NULL, P2L_FLOAT32, OP_F32((2, 0)), AXES(1));
    CHECK_OP_F32(r, (2), 0, 0, 0);
    op_result_free(&r);
    r = run_op(P2L_OP_MEAN, NULL, P2L_FLOAT32, OP_F32((2, 0)), AXES(1));
    CHECK_OP_F32(r, (2), 0, NAN_F, NAN_F);
    op_result_free(&r);
    r = run_op(P2L_OP_REDUCE_PROD, NULL, P2L_FLOAT32, OP_F32((2, 0)), AXES(-1));
    CHECK_OP_F32(r, (2), 0, 1, 1);
    op_result_free(&r);
    r = run_op(P2L_OP_SUM, NULL, P2L_INT32, OP_I32((0, 3)), AXES(0));
    CHECK_OP_I32(r, (3), 0, 0, 0);
    op_result_free(&r);
    /* torch: zeros(2, 0, dtype=bool).any(1) -> [F, F]; .all(1) -> [T, T] */
    r = run_op(P2L_OP_REDUCE_ANY, NULL, P2L_BOOL, OP_BOOL((2, 0)), AXES(1));
    CHECK_OP_BOOL(r, (2), 0, 0);
    op_result_free(&r);
    r = run_op(P2L_OP_REDUCE_ALL, NULL, P2L_BOOL, OP_BOOL((2, 0)), AXES(1));
    CHECK_OP_BOOL(r, (2), 1, 1);
    op_result_free(&r);
    /* an empty input whose reduced axes are not empty: an empty output */
    r = run_op(P2L_OP_REDUCE_MAX, NULL, P2L_FLOAT32, OP_F32((0, 3)), AXES(1));
    CHECK_OP_F32(r, (0), 0);
    op_result_free(&r);
}

static void test_reduce_max_min_of_nothing_fails(void) {
    /* torch: zeros(2, 0).amax(1) raises "Expected reduction dim 1 to have non-zero size"; the maximum of
     * no values has no answer (-inf would be a plausible wrong one) */
    op_result r = run_op(P2L_OP_REDUCE_MAX, NULL, P2L_FLOAT32, OP_F32((2, 0)), AXES(1));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "empty axis");
    op_result_free(&r);
    r = run_op(P2L_OP_REDUCE_MIN, NULL, P2L_INT32, OP_I32((0, 2)), AXES(0));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "empty axis");
    op_result_free(&r);
}

static void test_reduce_nan_propagates(void) {
    /* torch.amax / amin of [1, nan, 3] is nan; of [-inf, -inf] is -inf */
    op_result r = run_op(P2L_OP_REDUCE_MAX, NULL, P2L_FLOAT32, OP_F32((2, 3), 1, NAN_F, 3, -INF_F, -INF_F, -INF_F), AXES(1));
    CHECK_OP_F32(r, (2), 0, NAN_F, -INF_F);
    op_result_free(&r);
    r = run_op(P2L_OP_REDUCE_MIN, NULL, P2L_FLOAT32, OP_F32((3), 1, NAN_F, 0), AXES(0));
    CHECK_OP_F32(r, (), 0, NAN_F);
    op_result_free(&r);
    r = run_op(P2L_OP_SUM, NULL, P2L_FLOAT32, OP_F32((3), 1, INF_F, -INF_F), AXES(0));
    CHECK_OP_F32(r, (), 0, NAN_F);
    op_result_free(&r);
}

static void test_reduce_axes_and_keep_dims(void) {
    /* torch: tensor([[1., 2, 3], [4, 5, 6]]).mean(dim=-1, keepdim=True) -> [[2], [5]] */
    op_result r = run_op(P2L_OP_MEAN, OP_OPTIONS({"keep_dims", 1}), P2L_FLOAT32, OP_F32((2, 3), 1, 2, 3, 4, 5, 6), AXES(-1));
    CHECK_OP_F32(r, (2, 1), 0, 2, 5);
    op_result_free(&r);
    /* over every axis -> a scalar; a middle axis of a rank-3 tensor (not one block with the others) */
    r = run_op(P2L_OP_SUM, NULL, P2L_FLOAT32, OP_F32((2, 3), 1, 2, 3, 4, 5, 6), AXES(0, 1));
    CHECK_OP_F32(r, (), 0, 21);
    op_result_free(&r);
    r = run_op(P2L_OP_REDUCE_MAX, NULL, P2L_INT32, OP_I32((2, 2, 2), 1, 8, 3, 4, 5, 6, 7, 2), AXES(0, 2));
    CHECK_OP_I32(r, (2), 8, 7); /* torch.amax(dim=(0, 2)) */
    op_result_free(&r);
    /* an int32 sum wraps (documented: kernels compute integers in the tensor's type; torch's int32 sum
     * with dtype=torch.int32 gives the same -2**31) */
    r = run_op(P2L_OP_SUM, NULL, P2L_INT32, OP_I32((2), INT32_MAX, 1), AXES(0));
    CHECK_OP_I32(r, (), INT32_MIN);
    op_result_free(&r);
    r = run_op(P2L_OP_SUM, NULL, P2L_FLOAT32, OP_F32((2), 1, 2), AXES(2));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "axis 2 is out of range for rank 1");
    op_result_free(&r);
    /* the axes must be known when the op is prepared */
    r = run_op(P2L_OP_SUM, NULL, P2L_FLOAT32, OP_F32((2), 1, 2), OP_I32((1), 0));
    CHECK_OP_FAILS(r, P2L_ERROR_UNSUPPORTED, "computed at run time");
    op_result_free(&r);
}

static void test_arg_max_min(void) {
    /* ties: the first index (torch.argmax(tensor([1., 3, 3])) = 1, argmin(tensor([2., 1, 1])) = 1) */
    op_result r = run_op(P2L_OP_ARG_MAX, NULL, P2L_INT32, OP_F32((2, 3), 1, 3, 3, -INF_F, -INF_F, -INF_F), AXES(1));
    CHECK_OP_I32(r, (2), 1, 0);
    op_result_free(&r);
    r = run_op(P2L_OP_ARG_MIN, NULL, P2L_INT64, OP_I32((3, 1), 2, 1, 1), AXES(0));
    CHECK_OP_I64(r, (1), 1);
    op_result_free(&r);
    /* NaN counts as the largest and the smallest value, the first one wins:
     * torch argmax(tensor([1., nan, 3])) = 1, argmin(tensor([1., nan, 0])) = 1, argmax([1., 3, nan, nan]) = 2 */
    r = run_op(P2L_OP_ARG_MAX, NULL, P2L_INT32, OP_F32((2, 4), 1, NAN_F, 3, 4, 1, 3, NAN_F, NAN_F), AXES(1));
    CHECK_OP_I32(r, (2), 1, 2);
    op_result_free(&r);
    r = run_op(P2L_OP_ARG_MIN, NULL, P2L_INT32, OP_F32((3), 1, NAN_F, 0), AXES(0));
    CHECK_OP_I32(r, (), 1);
    op_result_free(&r);
    /* torch: argmax over an empty dim raises */
    r = run_op(P2L_OP_ARG_MAX, NULL, P2L_INT32, OP_F32((2, 0)), AXES(1));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "empty axis");
    op_result_free(&r);
}

/* ------------------------------------------------------------ softmax family */

static void test_softmax_infinities(void) {
    /* torch.softmax rows: [-inf, -inf, -inf] -> nan (0/0); [0, -inf] -> [1, 0]; [1000, 1000] -> [.5, .5]
     * (no overflow); [inf, 1] -> nan; [nan, 1] -> nan */
    op_result r = run_op(P2L_OP_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((3, 3), -INF_F, -INF_F, -INF_F, 0, -INF_F, -INF_F,
                                                                   1000, 1000, -INF_F));
    CHECK_OP_F32(r, (3, 3), 0, NAN_F, NAN_F, NAN_F, 1, 0, 0, 0.5f, 0.5f, 0);
    op_result_free(&r);
    r = run_op(P2L_OP_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((2, 2), INF_F, 1, NAN_F, 1));
    CHECK_OP_F32(r, (2, 2), 0, NAN_F, NAN_F, NAN_F, NAN_F);
    op_result_free(&r);
    /* torch.log_softmax: [0, -inf] -> [0, -inf]; [-inf, -inf] -> nan */
    r = run_op(P2L_OP_LOG_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((2, 2), 0, -INF_F, -INF_F, -INF_F));
    CHECK_OP_F32(r, (2, 2), 0, 0, -INF_F, NAN_F, NAN_F);
    op_result_free(&r);
}

static void test_softmax_beta_and_empty(void) {
    /* beta scales the logits: torch.softmax(tensor([1., 2, 3]) * 2, 0) */
    op_result r = run_op(P2L_OP_SOFTMAX, OP_OPTIONS({"beta", p2l_f32_bits(2.0f)}), P2L_FLOAT32, OP_F32((3), 1, 2, 3));
    CHECK_OP_F32(r, (3), 1e-6, 0.015876241f, 0.11731043f, 0.86681336f);
    op_result_free(&r);
    /* torch.log_softmax(tensor([1., 2, 3]), 0) */
    r = run_op(P2L_OP_LOG_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((1, 3), 1, 2, 3));
    CHECK_OP_F32(r, (1, 3), 1e-6, -2.4076059f, -1.4076059f, -0.40760595f);
    op_result_free(&r);
    r = run_op(P2L_OP_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((2, 0)));
    CHECK_OP_F32(r, (2, 0), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((0, 4)));
    CHECK_OP_F32(r, (0, 4), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_SOFTMAX, NULL, P2L_FLOAT32, OP_F32((), 1));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "must have rank 1 or more");
    op_result_free(&r);
}

static void test_l2_normalization_of_zeros(void) {
    /* torch.nn.functional.normalize(tensor([3., 4]), dim=0) = [.6, .8]; of zeros: zeros (the norm is
     * clamped from below, eps 1e-12 in torch, 1e-6 in LiteRT: both give 0 / eps = 0) */
    op_result r = run_op(P2L_OP_L2_NORMALIZATION, NULL, P2L_FLOAT32, OP_F32((2, 2), 3, 4, 0, 0));
    CHECK_OP_F32(r, (2, 2), 1e-7, 0.6f, 0.8f, 0, 0);
    op_result_free(&r);
}

/* ------------------------------------------------------------ indexing: gather */

static void test_gather_edges(void) {
    /* x[:, [2, 0, 2]] along axis 1 (torch.index_select(x, 1, tensor([2, 0, 2]))) */
    op_result r = run_op(P2L_OP_GATHER, OP_OPTIONS({"axis", 1}), P2L_FLOAT32, OP_F32((2, 3), 1, 2, 3, 4, 5, 6),
                         OP_I32((3), 2, 0, 2));
    CHECK_OP_F32(r, (2, 3), 0, 3, 1, 3, 6, 4, 6);
    op_result_free(&r);
    /* a scalar index drops the axis; int64 indices; negative axis */
    r = run_op(P2L_OP_GATHER, OP_OPTIONS({"axis", -1}), P2L_INT32, OP_I32((2, 3), 1, 2, 3, 4, 5, 6), OP_I64((), 1));
    CHECK_OP_I32(r, (2), 2, 5);
    op_result_free(&r);
    /* no indices: an empty result */
    r = run_op(P2L_OP_GATHER, NULL, P2L_FLOAT32, OP_F32((2, 2), 1, 2, 3, 4), OP_I32((0)));
    CHECK_OP_F32(r, (0, 2), 0);
    op_result_free(&r);
    /* out of range either way is an error, never a read outside the tensor (torch raises too; negative
     * indices are not wrapped by TFLite's GATHER) */
    r = run_op(P2L_OP_GATHER, NULL, P2L_FLOAT32, OP_F32((2, 2), 1, 2, 3, 4), OP_I32((2), 0, 2));
    CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "index 2 is out of range [0, 2)");
    op_result_free(&r);
    r = run_op(P2L_OP_GATHER, NULL, P2L_FLOAT32, OP_F32((2, 2), 1, 2, 3, 4), OP_I32((1), -1));
    CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "index -1 is out of range");
    op_result_free(&r);
    /* from an empty axis every index is out of range */
    r = run_op(P2L_OP_GATHER, NULL, P2L_FLOAT32, OP_F32((0, 2)), OP_I32((1), 0));
    CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "index 0 is out of range [0, 0)");
    op_result_free(&r);
    r = run_op(P2L_OP_GATHER_ND, NULL, P2L_FLOAT32, OP_F32((2, 2), 1, 2, 3, 4), OP_I32((2, 2), 1, 0, 0, 2));
    CHECK_OP_FAILS(r, P2L_ERROR_INVALID_ARGUMENT, "index 2 is out of range [0, 2) in dim 1");
    op_result_free(&r);
    r = run_op(P2L_OP_GATHER_ND, NULL, P2L_FLOAT32, OP_F32((2, 2), 1, 2, 3, 4), OP_I32((2, 2), 1, 0, 0, 1));
    CHECK_OP_F32(r, (2), 0, 3, 2); /* x[1, 0], x[0, 1] */
    op_result_free(&r);
}

/* ------------------------------------------------------------ shapes: concat, slice, pad, transpose */

static void test_concatenation_edges(void) {
    /* torch.cat([zeros(2, 0), x], 1) == x; negative axis */
    op_result r = run_op(P2L_OP_CONCATENATION, OP_OPTIONS({"axis", -1}), P2L_FLOAT32, OP_F32((2, 0)),
                         OP_F32((2, 2), 1, 2, 3, 4), OP_F32((2, 1), 5, 6));
    CHECK_OP_F32(r, (2, 3), 0, 1, 2, 5, 3, 4, 6);
    op_result_free(&r);
    r = run_op(P2L_OP_CONCATENATION, OP_OPTIONS({"axis", 0}), P2L_INT32, OP_I32((0, 2)), OP_I32((0, 2)));
    CHECK_OP_I32(r, (0, 2));
    op_result_free(&r);
    r = run_op(P2L_OP_CONCATENATION, OP_OPTIONS({"axis", 1}), P2L_FLOAT32, OP_F32((2, 1), 1, 2), OP_F32((3, 1), 1, 2, 3));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "dim 0 is 3, expected 2");
    op_result_free(&r);
    r = run_op(P2L_OP_CONCATENATION, OP_OPTIONS({"axis", 2}), P2L_FLOAT32, OP_F32((1, 1), 1), OP_F32((1, 1), 2));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "axis 2 is out of range for rank 2");
    op_result_free(&r);
}

static void test_slice_edges(void) {
    const op_tensor x = OP_F32((3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    /* size -1 runs to the end (TFLite SLICE): x[1:, 2:4] */
    op_result r = run_op(P2L_OP_SLICE, NULL, P2L_FLOAT32, x, OP_CONSTANT(OP_I32((2), 1, 2)), OP_CONSTANT(OP_I32((2), -1, 2)));
    CHECK_OP_F32(r, (2, 2), 0, 6, 7, 10, 11);
    op_result_free(&r);
    /* an empty slice: x[3:, :] */
    r = run_op(P2L_OP_SLICE, NULL, P2L_FLOAT32, x, OP_CONSTANT(OP_I32((2), 3, 0)), OP_CONSTANT(OP_I32((2), 0, 4)));
    CHECK_OP_F32(r, (0, 4), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_SLICE, NULL, P2L_FLOAT32, x, OP_CONSTANT(OP_I32((2), 2, 0)), OP_CONSTANT(OP_I32((2), 2, 4)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "out of range");
    op_result_free(&r);
    /* STRIDED_SLICE x[::-1, ::3] (torch.flip(x, [0])[:, ::3]): end_mask covers every dim */
    r = run_op(P2L_OP_STRIDED_SLICE, OP_OPTIONS({"begin_mask", 3}, {"end_mask", 3}), P2L_FLOAT32, x,
               OP_CONSTANT(OP_I32((2), 0, 0)), OP_CONSTANT(OP_I32((2), 0, 0)), OP_CONSTANT(OP_I32((2), -1, 3)));
    CHECK_OP_F32(r, (3, 2), 0, 8, 11, 4, 7, 0, 3);
    op_result_free(&r);
    /* begin past end with a positive stride: empty (x[2:1]) */
    r = run_op(P2L_OP_STRIDED_SLICE, NULL, P2L_FLOAT32, x, OP_CONSTANT(OP_I32((2), 2, 0)), OP_CONSTANT(OP_I32((2), 1, 4)),
               OP_CONSTANT(OP_I32((2), 1, 1)));
    CHECK_OP_F32(r, (0, 4), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_STRIDED_SLICE, NULL, P2L_FLOAT32, x, OP_CONSTANT(OP_I32((2), 0, 0)), OP_CONSTANT(OP_I32((2), 1, 4)),
               OP_CONSTANT(OP_I32((2), 1, 0)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "stride of dim 1 is 0");
    op_result_free(&r);
}

static void test_pad_edges(void) {
    /* torch.nn.functional.pad(zeros(0, 2), (0, 0, 1, 1)): padding an empty tensor gives the pad value */
    op_result r = run_op(P2L_OP_PAD, NULL, P2L_FLOAT32, OP_F32((0, 2)), OP_CONSTANT(OP_I32((2, 2), 1, 1, 0, 0)));
    CHECK_OP_F32(r, (2, 2), 0, 0, 0, 0, 0);
    op_result_free(&r);
    /* PADV2 with -inf (a max-pool's padding); torch F.pad(tensor([[1., 2]]), (1, 0, 0, 1), value=-inf) */
    r = run_op(P2L_OP_PADV2, NULL, P2L_FLOAT32, OP_F32((1, 2), 1, 2), OP_CONSTANT(OP_I32((2, 2), 0, 1, 1, 0)),
               OP_F32((), -INF_F));
    CHECK_OP_F32(r, (2, 3), 0, -INF_F, 1, 2, -INF_F, -INF_F, -INF_F);
    op_result_free(&r);
    /* REFLECT pads at most size - 1 (torch F.pad(x, (2, 2), mode='reflect') of [1., 2, 3]) */
    r = run_op(P2L_OP_MIRROR_PAD, OP_OPTIONS({"mode", P2L_MIRROR_REFLECT}), P2L_FLOAT32, OP_F32((3), 1, 2, 3),
               OP_CONSTANT(OP_I32((1, 2), 2, 2)));
    CHECK_OP_F32(r, (7), 0, 3, 2, 1, 2, 3, 2, 1);
    op_result_free(&r);
    r = run_op(P2L_OP_MIRROR_PAD, OP_OPTIONS({"mode", P2L_MIRROR_REFLECT}), P2L_FLOAT32, OP_F32((3), 1, 2, 3),
               OP_CONSTANT(OP_I32((1, 2), 3, 0)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "padding (3, 0) of dim 0 (size 3) is out of range");
    op_result_free(&r);
    r = run_op(P2L_OP_PAD, NULL, P2L_FLOAT32, OP_F32((2), 1, 2), OP_CONSTANT(OP_I32((1, 2), -1, 0)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "out of range");
    op_result_free(&r);
}

static void test_transpose_edges(void) {
    /* x.permute(1, 0) of a [0, 3] tensor is [3, 0]; of a rank-3 tensor with a size-1 dim */
    op_result r = run_op(P2L_OP_TRANSPOSE, NULL, P2L_FLOAT32, OP_F32((0, 3)), OP_CONSTANT(OP_I32((2), 1, 0)));
    CHECK_OP_F32(r, (3, 0), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_TRANSPOSE, NULL, P2L_INT32, OP_I32((2, 1, 3), 1, 2, 3, 4, 5, 6), OP_CONSTANT(OP_I32((3), 2, 1, 0)));
    CHECK_OP_I32(r, (3, 1, 2), 1, 4, 2, 5, 3, 6);
    op_result_free(&r);
    r = run_op(P2L_OP_TRANSPOSE, NULL, P2L_FLOAT32, OP_F32((), 7), OP_CONSTANT(OP_I32((0))));
    CHECK_OP_F32(r, (), 0, 7);
    op_result_free(&r);
    r = run_op(P2L_OP_TRANSPOSE, NULL, P2L_FLOAT32, OP_F32((1, 2), 1, 2), OP_CONSTANT(OP_I32((2), 0, 0)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "permutation repeats dim 0");
    op_result_free(&r);
}

/* ------------------------------------------------------------ other generators and selectors */

static void test_select_broadcasts_three_ways(void) {
    /* torch.where(cond[2,1], x[1,3], y[]) */
    op_result r = run_op(P2L_OP_SELECT_V2, NULL, P2L_FLOAT32, OP_BOOL((2, 1), 1, 0), OP_F32((1, 3), 1, 2, 3),
                         OP_F32((), NAN_F));
    CHECK_OP_F32(r, (2, 3), 0, 1, 2, 3, NAN_F, NAN_F, NAN_F);
    op_result_free(&r);
    /* one condition per row, both values full (a KV cache's positions): whole rows from x or y */
    r = run_op(P2L_OP_SELECT_V2, NULL, P2L_FLOAT32, OP_BOOL((3, 1), 0, 1, 0), OP_F32((3, 2), 1, 2, 3, 4, 5, 6),
               OP_F32((3, 2), -1, -2, -3, -4, -5, -6));
    CHECK_OP_F32(r, (3, 2), 0, -1, -2, 3, 4, -5, -6);
    op_result_free(&r);
}

static void test_range_and_tile_edges(void) {
    /* torch.arange(5, 0, -2) = [5, 3, 1]; arange(3, 3) is empty; arange(0., 1., .3) has 4 elements */
    op_result r = run_op(P2L_OP_RANGE, NULL, P2L_INT32, OP_CONSTANT(OP_I32((), 5)), OP_CONSTANT(OP_I32((), 0)),
                         OP_CONSTANT(OP_I32((), -2)));
    CHECK_OP_I32(r, (3), 5, 3, 1);
    op_result_free(&r);
    r = run_op(P2L_OP_RANGE, NULL, P2L_INT32, OP_CONSTANT(OP_I32((), 3)), OP_CONSTANT(OP_I32((), 3)),
               OP_CONSTANT(OP_I32((), 1)));
    CHECK_OP_I32(r, (0));
    op_result_free(&r);
    r = run_op(P2L_OP_RANGE, NULL, P2L_FLOAT32, OP_CONSTANT(OP_F32((), 0)), OP_CONSTANT(OP_F32((), 1)),
               OP_CONSTANT(OP_F32((), 0.3f)));
    CHECK_OP_F32(r, (4), 1e-7, 0, 0.3f, 0.6f, 0.9f);
    op_result_free(&r);
    /* torch.arange(0, 5, -1) raises: the range does not make progress */
    r = run_op(P2L_OP_RANGE, NULL, P2L_INT32, OP_CONSTANT(OP_I32((), 0)), OP_CONSTANT(OP_I32((), 5)),
               OP_CONSTANT(OP_I32((), -1)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "does not make progress");
    op_result_free(&r);
    /* x.repeat(0, 2) is empty; x.repeat(2, 1) */
    r = run_op(P2L_OP_TILE, NULL, P2L_FLOAT32, OP_F32((1, 2), 1, 2), OP_CONSTANT(OP_I32((2), 0, 2)));
    CHECK_OP_F32(r, (0, 4), 0);
    op_result_free(&r);
    r = run_op(P2L_OP_TILE, NULL, P2L_FLOAT32, OP_F32((1, 2), 1, 2), OP_CONSTANT(OP_I32((2), 2, 1)));
    CHECK_OP_F32(r, (2, 2), 0, 1, 2, 1, 2);
    op_result_free(&r);
}

/* ------------------------------------------------------------ ops with several outputs */

static void test_topk_nan_ties_and_zero_k(void) {
    /* torch.topk(tensor([1., nan, 3, -1]), 2) -> values [nan, 3], indices [1, 2]: NaN is the largest */
    op_result r = run_op_outputs(P2L_OP_TOPK_V2, NULL, OP_DTYPES(P2L_FLOAT32, P2L_INT32),
                                 OP_F32((2, 4), 1, NAN_F, 3, -1, 2, 5, 2, 5), OP_CONSTANT(OP_I32((), 2)));
    /* row 2 has ties: the lower index first (LiteRT's order; torch.topk leaves ties unordered) */
    CHECK_OP_OUTPUT(r, 0, P2L_FLOAT32, float, (2, 2), 0, NAN_F, 3, 5, 5);
    CHECK_OP_OUTPUT(r, 1, P2L_INT32, int32_t, (2, 2), 0, 1, 2, 1, 3);
    op_result_free(&r);
    /* torch.topk(x, 0) is empty */
    r = run_op_outputs(P2L_OP_TOPK_V2, NULL, OP_DTYPES(P2L_FLOAT32, P2L_INT32), OP_F32((3), 1, 2, 3),
                       OP_CONSTANT(OP_I32((), 0)));
    CHECK_OP_OUTPUT(r, 0, P2L_FLOAT32, float, (0), 0);
    CHECK_OP_OUTPUT(r, 1, P2L_INT32, int32_t, (0), 0);
    op_result_free(&r);
    r = run_op_outputs(P2L_OP_TOPK_V2, NULL, OP_DTYPES(P2L_FLOAT32, P2L_INT32), OP_F32((3), 1, 2, 3),
                       OP_CONSTANT(OP_I32((), 4)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "k=4 is out of range for a last dim of 3");
    op_result_free(&r);
}

static void test_split_and_unpack_empty_pieces(void) {
    /* torch.split(arange(6.).reshape(3, 2), [0, 3], 0) -> an empty [0, 2] piece and the whole */
    op_result r = run_op_outputs(P2L_OP_SPLIT_V, OP_OPTIONS({"num_splits", 2}), OP_DTYPES(P2L_FLOAT32, P2L_FLOAT32),
                                 OP_F32((3, 2), 0, 1, 2, 3, 4, 5), OP_CONSTANT(OP_I32((2), 0, 3)),
                                 OP_CONSTANT(OP_I32((), 0)));
    CHECK_OP_OUTPUT(r, 0, P2L_FLOAT32, float, (0, 2), 0);
    CHECK_OP_OUTPUT(r, 1, P2L_FLOAT32, float, (3, 2), 0, 0, 1, 2, 3, 4, 5);
    op_result_free(&r);
    /* torch.unbind(zeros(2, 0)) -> two empty [0] tensors */
    r = run_op_outputs(P2L_OP_UNPACK, OP_OPTIONS({"num", 2}, {"axis", 0}), OP_DTYPES(P2L_FLOAT32, P2L_FLOAT32),
                       OP_F32((2, 0)));
    CHECK_OP_OUTPUT(r, 0, P2L_FLOAT32, float, (0), 0);
    CHECK_OP_OUTPUT(r, 1, P2L_FLOAT32, float, (0), 0);
    op_result_free(&r);
    r = run_op_outputs(P2L_OP_SPLIT_V, OP_OPTIONS({"num_splits", 2}), OP_DTYPES(P2L_FLOAT32, P2L_FLOAT32),
                       OP_F32((3), 0, 1, 2), OP_CONSTANT(OP_I32((2), 1, 1)), OP_CONSTANT(OP_I32((), 0)));
    CHECK_OP_FAILS(r, P2L_ERROR_MALFORMED, "split sizes add up to 2, not 3");
    op_result_free(&r);
}

__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int main(void) {
    RUN(test_broadcast_size_one_dims);
    RUN(test_broadcast_scalar);
    RUN(test_broadcast_rank_mismatch);
    RUN(test_broadcast_incompatible_shapes_fail);
    RUN(test_broadcast_empty_tensors);
    RUN(test_binary_fused_activation);
    RUN(test_maximum_minimum_nan_and_signed_zeros);
    RUN(test_comparisons_with_nan);
    RUN(test_float_arithmetic_infinities);
    RUN(test_int32_overflow_wraps);
    RUN(test_floor_div_and_floor_mod_signs);
    RUN(test_integer_division_by_zero_fails);
    RUN(test_binary_dtype_errors);
    RUN(test_relu_family_nan_and_signed_zero);
    RUN(test_activations_at_infinities);
    RUN(test_math_domain_edges);
    RUN(test_round_half_to_even);
    RUN(test_integer_unary_wraps);
    RUN(test_unary_empty_and_unsupported);
    RUN(test_cast_float_to_int_saturates);
    RUN(test_cast_to_bool_and_integer_narrowing);
    RUN(test_reduce_over_empty_axis);
    RUN(test_reduce_max_min_of_nothing_fails);
    RUN(test_reduce_nan_propagates);
    RUN(test_reduce_axes_and_keep_dims);
    RUN(test_arg_max_min);
    RUN(test_softmax_infinities);
    RUN(test_softmax_beta_and_empty);
    RUN(test_l2_normalization_of_zeros);
    RUN(test_gather_edges);
    RUN(test_concatenation_edges);
    RUN(test_slice_edges);
    RUN(test_pad_edges);
    RUN(test_transpose_edges);
    RUN(test_select_broadcasts_three_ways);
    RUN(test_range_and_tile_edges);
    RUN(test_topk_nan_ties_and_zero_k);
    RUN(test_split_and_unpack_empty_pieces);
    return check_summary();
}
