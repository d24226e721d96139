/* The symmetric per-channel int8 weight quantizer both int8 recipes use (passes/int8_per_channel.c):
 * scales max|w| / 127 per channel along the axis, ties rounded away from zero (TFLite's converter;
 * round-half-to-even would give 0 for 0.5), an all-zero channel, NaN and infinite weights refused.
 * Expected values worked out by hand. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "passes/passes.h"

/* Quantizes a [2, 3] float32 constant along `axis`; *values NULL on failure. */
static p2l_quant *quantize(p2l_model_ir *model, const float w[6], int axis, int8_t **values) {
    p2l_ir_graph *g = NULL;
    CHECK_EQ_INT(p2l_model_ir_init(model), P2L_OK);
    CHECK_EQ_INT(p2l_model_ir_add_graph(model, "serving_default", &g), P2L_OK);
    int t = p2l_add_const(g, "w", P2L_FLOAT32, 2, (const int64_t[]){2, 3}, w, false);
    *values = NULL;
    return p2l_int8_per_channel(g, t, axis, "test node", values);
}

static void test_rows_ties_away_from_zero(void) {
    /* row 0: max 127, scale 1, so 0.5 and -2.5 are exact ties; row 1: all zero, scale 1 */
    const float w[6] = {127, 0.5f, -2.5f, 0, 0, 0};
    p2l_model_ir model;
    int8_t *v;
    p2l_quant *q = quantize(&model, w, 0, &v);
    CHECK(q && v);
    if (q && v) {
        CHECK_EQ_INT(q->count, 2);
        CHECK_EQ_INT(q->axis, 0);
        CHECK(q->scales[0] == 1.0f && q->scales[1] == 1.0f);
        CHECK(q->zero_points[0] == 0 && q->zero_points[1] == 0);
        const int8_t want[6] = {127, 1, -3, 0, 0, 0};
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(v[i], want[i]);
    }
    p2l_release(v);
    p2l_model_ir_free(&model);
}

static void test_columns(void) {
    /* channels along axis 1: column maxima 254, 1, 12.7 -> scales 2, 1/127, 0.1 */
    const float w[6] = {254, -1, 1.27f, -127, 0.25f, -12.7f};
    p2l_model_ir model;
    int8_t *v;
    p2l_quant *q = quantize(&model, w, 1, &v);
    CHECK(q && v);
    if (q && v) {
        CHECK_EQ_INT(q->count, 3);
        CHECK_EQ_INT(q->axis, 1);
        CHECK(q->scales[0] == 2.0f && q->scales[1] == 1.0f / 127.0f && q->scales[2] == 12.7f / 127.0f);
        const int8_t want[6] = {127, -127, 13, -64, 32, -127}; /* -127 / 2 = -63.5: away from zero */
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(v[i], want[i]);
    }
    p2l_release(v);
    p2l_model_ir_free(&model);
}

static void test_nan_and_infinity_refused(void) {
    const float bad[2][6] = {{1, 2, 3, 4, NAN, 6}, {1, 2, 3, -INFINITY, 5, 6}};
    for (int k = 0; k < 2; k++) {
        p2l_model_ir model;
        int8_t *v;
        CHECK(quantize(&model, bad[k], 0, &v) == NULL);
        CHECK(v == NULL);
        CHECK_EQ_INT(p2l_last_status(), P2L_ERROR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("test node: weight 'w' has a NaN or infinite value in channel 1");
        p2l_model_ir_free(&model);
    }
}

int main(void) {
    RUN(test_rows_ties_away_from_zero);
    RUN(test_columns);
    RUN(test_nan_and_infinity_refused);
    return check_summary();
}
