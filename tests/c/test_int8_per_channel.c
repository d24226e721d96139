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

static void test_values_and_scales(void) {
    static const struct {
        const char *what;
        float w[6];
        int axis, channels;
        float scales[3];
        int8_t want[6];
    } cases[] = {
        /* row 0: max 127, scale 1, so 0.5 and -2.5 are exact ties; row 1: all zero, scale 1 */
        {"rows", {127, 0.5f, -2.5f, 0, 0, 0}, 0, 2, {1, 1}, {127, 1, -3, 0, 0, 0}},
        /* columns: maxima 254, 1, 12.7 -> scales 2, 1/127, 0.1; -127 / 2 = -63.5 is a tie */
        {"columns", {254, -1, 1.27f, -127, 0.25f, -12.7f}, 1, 3, {2, 1.0f / 127.0f, 12.7f / 127.0f},
         {127, -127, 13, -64, 32, -127}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        p2l_model_ir model;
        int8_t *v;
        p2l_quant *q = quantize(&model, cases[k].w, cases[k].axis, &v);
        CHECK(q && v);
        if (q && v) {
            CHECK_EQ_INT(q->count, cases[k].channels);
            CHECK_EQ_INT(q->axis, cases[k].axis);
            for (int c = 0; c < cases[k].channels; c++)
                CHECK(q->scales[c] == cases[k].scales[c] && q->zero_points[c] == 0);
            for (int i = 0; i < 6; i++)
                if (v[i] != cases[k].want[i]) {
                    fprintf(stderr, "  %s: value %d is %d, expected %d\n", cases[k].what, i, v[i], cases[k].want[i]);
                    CHECK(false);
                }
        }
        p2l_release(v);
        p2l_model_ir_free(&model);
    }
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
    RUN(test_values_and_scales);
    RUN(test_nan_and_infinity_refused);
    return check_summary();
}
