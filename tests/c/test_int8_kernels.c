/* Quantized (int8) runtime: the fixed-point helpers against hand-computed values (rounding ties,
 * saturation), and one-op models with quantized tensors through the public API on golden values:
 * saturation, ties rounded away from zero, zero points at the ends of the range, per-channel
 * scales; and the reader's checks of quantization parameters. LiteRT agreement on whole models is
 * tests/python/test_int8_runtime.py. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/quant_math.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

static void test_fixed_point_helpers(void) {
    CHECK_EQ_INT(p2l_saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
    CHECK_EQ_INT(p2l_saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
    /* x / 2^e, ties away from zero */
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(5, 1), 3);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(-5, 1), -3);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(3, 1), 2);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(-3, 1), -2);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(6, 2), 2);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(-6, 2), -2);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(-7, 2), -2);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(7, 0), 7);
    CHECK_EQ_INT(p2l_rounding_divide_by_pot(INT32_MIN, 31), -1);
    /* multipliers: mantissa in [2^30, 2^31), rounding up to 1.0 carries into the shift */
    p2l_multiplier m = p2l_quantize_multiplier(0.5);
    CHECK_EQ_INT(m.multiplier, 1 << 30);
    CHECK_EQ_INT(m.shift, 0);
    m = p2l_quantize_multiplier(1.0);
    CHECK_EQ_INT(m.multiplier, 1 << 30);
    CHECK_EQ_INT(m.shift, 1);
    m = p2l_quantize_multiplier(0.75);
    CHECK_EQ_INT(m.multiplier, 1610612736);
    m = p2l_quantize_multiplier(1.0 - ldexp(1.0, -40));
    CHECK_EQ_INT(m.multiplier, 1 << 30);
    CHECK_EQ_INT(m.shift, 1);
    m = p2l_quantize_multiplier(ldexp(1.0, -40)); /* every bit shifted out */
    CHECK_EQ_INT(m.multiplier, 0);
    CHECK_EQ_INT(m.shift, 0);
    m = p2l_quantize_multiplier(0.0);
    CHECK_EQ_INT(m.multiplier, 0);
    /* x * 0.5 (no shift): the high multiply rounds positive ties up and negative ties toward zero, as
     * gemmlowp's; x * 0.25 (a shift after it): the shift rounds the tie away from zero */
    const p2l_multiplier half = p2l_quantize_multiplier(0.5), quarter = p2l_quantize_multiplier(0.25);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(1, half), 1);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(-1, half), 0);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(3, half), 2);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(-3, half), -1);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(2, quarter), 1);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(-2, quarter), -1);
    CHECK_EQ_INT(p2l_multiply_by_quantized_multiplier(100, p2l_quantize_multiplier(3.0)), 300);
    CHECK_EQ_INT(p2l_round_to_i32(2.5f), 3);
    CHECK_EQ_INT(p2l_round_to_i32(-2.5f), -3);
    CHECK_EQ_INT(p2l_round_to_i32(1e20f), INT32_MAX);
    CHECK_EQ_INT(p2l_round_to_i32(NAN), 0);
}

/* ------------------------------------------------------------ one-op models */

static void quantize_tensor(tm_model *m, int t, float scale, int64_t zero_point) {
    m->t[t].quant_count = 1;
    m->t[t].scales[0] = scale;
    m->t[t].zero_points[0] = zero_point;
}

/* A model of one op: inputs (runtime) x [and y], the output, constants added by the caller. */
static tm_model unary_model(p2l_dtype in, p2l_dtype out, int rank, const int32_t *shape) {
    tm_model m = {0};
    m.in[m.n_in++] = tm_tensor_add(&m, (int8_t)in, rank, shape, "x");
    m.out[m.n_out++] = tm_tensor_add(&m, (int8_t)out, rank, shape, "y");
    return m;
}

static void test_quantize_saturates_and_rounds_ties_away(void) {
    const int32_t shape[1] = {8};
    const float x[8] = {0, 0.25f, -0.25f, 63.75f, 127.5f, 1000, -1000, -127.75f};
    for (int z = 0; z < 2; z++) {
        const int64_t zero_point = z ? 127 : -128;
        tm_model m = unary_model(P2L_FLOAT32, P2L_INT8, 1, shape);
        quantize_tensor(&m, 1, 0.5f, zero_point);
        tm_op_add(&m, 114, 1, (int32_t[]){0}, 1, (int32_t[]){1});
        int8_t y[8];
        CHECK_EQ_INT(tm_run(&m, x, sizeof x, NULL, 0, y, sizeof y), P2L_OK);
        const int8_t low[8] = {-128, -127, -128, 0, 127, 127, -128, -128};
        const int8_t high[8] = {127, 127, 126, 127, 127, 127, -128, -128};
        for (int i = 0; i < 8; i++) CHECK_EQ_INT(y[i], z ? high[i] : low[i]);
    }
}

static void test_requantize_rounds_ties_as_tflite(void) {
    const int32_t shape[1] = {6};
    tm_model m = unary_model(P2L_INT8, P2L_INT8, 1, shape);
    quantize_tensor(&m, 0, 1.0f, 0);
    quantize_tensor(&m, 1, 2.0f, 0);
    tm_op_add(&m, 114, 1, (int32_t[]){0}, 1, (int32_t[]){1});
    const int8_t x[6] = {1, -1, 3, -3, 127, -128};
    int8_t y[6];
    CHECK_EQ_INT(tm_run(&m, x, sizeof x, NULL, 0, y, sizeof y), P2L_OK);
    const int8_t want[6] = {1, 0, 2, -1, 64, -64}; /* x * 0.5: negative ties toward zero (see above) */
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(y[i], want[i]);
}

static void test_dequantize_extreme_zero_points_and_per_channel(void) {
    const int32_t shape[1] = {3};
    tm_model m = unary_model(P2L_UINT8, P2L_FLOAT32, 1, shape);
    quantize_tensor(&m, 0, 0.25f, 255);
    tm_op_add(&m, 6, 1, (int32_t[]){0}, 1, (int32_t[]){1});
    const uint8_t x[3] = {0, 255, 128};
    float y[3];
    CHECK_EQ_INT(tm_run(&m, x, sizeof x, NULL, 0, y, sizeof y), P2L_OK);
    CHECK(y[0] == -63.75f && y[1] == 0.0f && y[2] == -31.75f);

    const int32_t shape2[2] = {2, 2};
    tm_model pc = unary_model(P2L_INT8, P2L_FLOAT32, 2, shape2);
    pc.t[0].quant_count = 2;
    pc.t[0].scales[0] = 1.0f, pc.t[0].scales[1] = 0.5f;
    pc.t[0].zero_points[0] = -128, pc.t[0].zero_points[1] = 127;
    pc.t[0].quantized_dimension = 0;
    tm_op_add(&pc, 6, 1, (int32_t[]){0}, 1, (int32_t[]){1});
    const int8_t q[4] = {-128, 127, -128, 127};
    float f[4];
    CHECK_EQ_INT(tm_run(&pc, q, sizeof q, NULL, 0, f, sizeof f), P2L_OK);
    CHECK(f[0] == 0.0f && f[1] == 255.0f && f[2] == -127.5f && f[3] == 0.0f);
}

static void test_dequantize_float16(void) {
    const int32_t shape[1] = {4};
    tm_model m = unary_model(P2L_FLOAT16, P2L_FLOAT32, 1, shape);
    tm_op_add(&m, 6, 1, (int32_t[]){0}, 1, (int32_t[]){1});
    const uint16_t x[4] = {0x3c00, 0xc000, 0x0001, 0x7c00}; /* 1, -2, smallest subnormal, +inf */
    float y[4];
    CHECK_EQ_INT(tm_run(&m, x, sizeof x, NULL, 0, y, sizeof y), P2L_OK);
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == ldexpf(1.0f, -24) && isinf(y[3]) && y[3] > 0);
}

static tm_model binary_model(void) {
    const int32_t shape[1] = {4};
    tm_model m = {0};
    m.in[m.n_in++] = tm_tensor_add(&m, P2L_INT8, 1, shape, "a");
    m.in[m.n_in++] = tm_tensor_add(&m, P2L_INT8, 1, shape, "b");
    m.out[m.n_out++] = tm_tensor_add(&m, P2L_INT8, 1, shape, "y");
    return m;
}

static void test_add_saturates(void) {
    tm_model m = binary_model();
    for (int t = 0; t < 3; t++) quantize_tensor(&m, t, 1.0f, 0);
    tm_op_add(&m, 0, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
    const int8_t a[4] = {100, -100, 1, -128}, b[4] = {100, -100, 2, 127};
    int8_t y[4];
    CHECK_EQ_INT(tm_run(&m, a, 4, b, 4, y, 4), P2L_OK);
    const int8_t want[4] = {127, -128, 3, -1};
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(y[i], want[i]);
}

static void test_mul_with_extreme_zero_points(void) {
    tm_model m = binary_model();
    quantize_tensor(&m, 0, 0.5f, -128);
    quantize_tensor(&m, 1, 0.5f, 127);
    quantize_tensor(&m, 2, 0.25f, 0);
    tm_op_add(&m, 18, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
    const int8_t a[4] = {-126, -128, 127, -127}, b[4] = {125, 0, -128, 126};
    int8_t y[4];
    CHECK_EQ_INT(tm_run(&m, a, 4, b, 4, y, 4), P2L_OK);
    /* (a + 128) * (b - 127) * 0.25 / 0.25 */
    const int8_t want[4] = {-4, 0, -128, -1};
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(y[i], want[i]);
}

static void test_fully_connected_per_channel_relu_and_tie(void) {
    tm_model m = {0};
    m.in[m.n_in++] = tm_tensor_add(&m, P2L_INT8, 2, (int32_t[]){1, 2}, "x");
    static const int8_t w[4] = {-1, -1, 1, 2};
    static const int32_t bias[2] = {5, 0};
    const int wt = tm_const_add(&m, P2L_INT8, 2, (int32_t[]){2, 2}, w, sizeof w, "w");
    const int bt = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, bias, sizeof bias, "b");
    m.out[m.n_out++] = tm_tensor_add(&m, P2L_INT8, 2, (int32_t[]){1, 2}, "y");
    quantize_tensor(&m, 0, 1.0f, 0);
    m.t[wt].quant_count = 2;
    m.t[wt].scales[0] = 1.0f, m.t[wt].scales[1] = 0.5f;
    m.t[bt].quant_count = 2;
    m.t[bt].scales[0] = 1.0f, m.t[bt].scales[1] = 0.5f;
    quantize_tensor(&m, 3, 1.0f, 0);
    tm_op *op = tm_op_add(&m, 9, 3, (int32_t[]){0, wt, bt}, 1, (int32_t[]){3});
    tm_option(op, "fused_activation_function", P2L_ACT_RELU);
    const int8_t x[2] = {11, 20};
    int8_t y[2];
    CHECK_EQ_INT(tm_run(&m, x, 2, NULL, 0, y, 2), P2L_OK);
    CHECK_EQ_INT(y[0], 0);  /* -31 + 5, clamped by the RELU */
    CHECK_EQ_INT(y[1], 26); /* 51 * 0.5 = 25.5: away from zero */
}

static void test_average_pool_rounds_ties_away(void) {
    const int32_t shape[4] = {1, 1, 4, 1};
    tm_model m = unary_model(P2L_INT8, P2L_INT8, 4, shape);
    quantize_tensor(&m, 0, 0.1f, -3);
    quantize_tensor(&m, 1, 0.1f, -3);
    tm_op *op = tm_op_add(&m, 1, 1, (int32_t[]){0}, 1, (int32_t[]){1});
    tm_option(op, "padding", P2L_PAD_VALID);
    tm_option(op, "stride_w", 2);
    tm_option(op, "stride_h", 1);
    tm_option(op, "filter_width", 2);
    tm_option(op, "filter_height", 1);
    const int8_t x[4] = {1, 2, -1, -2};
    int8_t y[2];
    CHECK_EQ_INT(tm_run(&m, x, 4, NULL, 0, y, 2), P2L_OK);
    CHECK_EQ_INT(y[0], 2);
    CHECK_EQ_INT(y[1], -2);
}

/* ------------------------------------------------------------ the reader's checks */

static p2l_status load_only(const tm_model *m) {
    size_t size;
    uint8_t *bytes = tm_build(m, &size);
    p2l_model *model = NULL;
    p2l_status s = p2l_model_load(bytes, size, 0, &model);
    p2l_model_free(model);
    free(bytes);
    return s;
}

static void test_reader_refuses_bad_quantization(void) {
    const int32_t shape[2] = {2, 3};
    tm_model m = unary_model(P2L_INT8, P2L_FLOAT32, 2, shape);
    tm_op_add(&m, 6, 1, (int32_t[]){0}, 1, (int32_t[]){1});
    quantize_tensor(&m, 0, 0.0f, 0);
    CHECK_EQ_INT(load_only(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("positive and finite");
    quantize_tensor(&m, 0, NAN, 0);
    CHECK_EQ_INT(load_only(&m), P2L_ERROR_MALFORMED);
    quantize_tensor(&m, 0, INFINITY, 0);
    CHECK_EQ_INT(load_only(&m), P2L_ERROR_MALFORMED);
    quantize_tensor(&m, 0, 1.0f, 128);
    CHECK_EQ_INT(load_only(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("outside the range of int8");
    quantize_tensor(&m, 0, 1.0f, -128);
    CHECK_EQ_INT(load_only(&m), P2L_OK);
    m.t[0].quant_count = 2; /* per channel along dim 1, which has 3 */
    m.t[0].scales[1] = 1.0f;
    m.t[0].quantized_dimension = 1;
    CHECK_EQ_INT(load_only(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("per-channel");
    m.t[0].quantized_dimension = 0;
    CHECK_EQ_INT(load_only(&m), P2L_OK);
}

static void test_int8_without_quantization_is_refused(void) {
    const int32_t shape[1] = {2};
    tm_model m = binary_model();
    m.t[0].shape[0] = m.t[1].shape[0] = m.t[2].shape[0] = shape[0];
    quantize_tensor(&m, 1, 1.0f, 0);
    quantize_tensor(&m, 2, 1.0f, 0);
    quantize_tensor(&m, 0, 1.0f, 0);
    m.t[2].quant_count = 0; /* the output has no scale */
    tm_op_add(&m, 0, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
    const int8_t a[2] = {1, 2};
    int8_t y[2];
    CHECK_EQ_INT(tm_run(&m, a, 2, a, 2, y, 2), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("without quantization parameters");
}

int main(void) {
    RUN(test_fixed_point_helpers);
    RUN(test_quantize_saturates_and_rounds_ties_away);
    RUN(test_requantize_rounds_ties_as_tflite);
    RUN(test_dequantize_extreme_zero_points_and_per_channel);
    RUN(test_dequantize_float16);
    RUN(test_add_saturates);
    RUN(test_mul_with_extreme_zero_points);
    RUN(test_fully_connected_per_channel_relu_and_tie);
    RUN(test_average_pool_rounds_ties_away);
    RUN(test_reader_refuses_bad_quantization);
    RUN(test_int8_without_quantization_is_refused);
    return check_summary();
}
