/* Prepare-time fusions (src/runtime/fusions.c): each row of the table fuses where its pattern holds and
 * nowhere else. What ran is read from the profile (an absorbed op is not run); the fused result must
 * equal the reference kernels running every op as written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "check.h"
#include "kernels/kernels.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

enum { CONV_2D = 3, DEPTHWISE_CONV_2D = 4, DEQUANTIZE = 6, LOGISTIC = 14, MUL = 18, TANH = 28, PAD = 34, PADV2 = 60,
       QUANTIZE = 114, HARD_SWISH = 117, GELU = 150 };

static const float weights[36] = {0.5f, -1, 0.25f, 2, -0.75f, 1, 0.125f, -0.5f, 1.5f, -1, 0.5f, 0.75f,
                                  -0.25f, 1, -2, 0.5f, 0.25f, -0.125f, 1, 0.375f, -1.5f, 0.25f, 0.5f, -0.5f,
                                  0.75f, -0.25f, 2, -1, 0.125f, 0.5f, -0.75f, 1.25f, 0.5f, -2, 0.25f, 1};
static const float bias[2] = {0.25f, -0.5f};
static const int32_t spatial_pads[8] = {0, 0, 1, 1, 1, 1, 0, 0};
static const float one[1] = {1};

typedef struct fusion_case {
    const char *name;
    bool depthwise;      /* DEPTHWISE_CONV_2D (3x3, 2 channels) instead of CONV_2D (3x3, 2 -> 2) */
    int pad;             /* 0: none; PAD or PADV2 (PADV2 pads with 1.0: not a zero PAD) in front */
    int epilogue;        /* 0: none; HARD_SWISH, or LOGISTIC for LOGISTIC + MUL (SiLU) after it */
    bool mul_swapped;    /* SiLU as MUL(s, c) instead of MUL(c, s) */
    int mul_activation;  /* the MUL's fused activation */
    bool conv_is_output; /* the convolution's output is also a subgraph output */
    int fused_ops;       /* ops that run where the fast kernels take every offer the runtime makes */
} fusion_case;

/* x[1,4,4,2] -> [PAD] -> conv -> [epilogue] -> y */
static p2l_model *case_model(const fusion_case *c) {
    tm_model m = {0};
    const int side = c->pad ? 4 : 6; /* the convolution's input is 6x6 either way: 4x4 output */
    int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, side, side, 2}, "x");
    int conv_in = x;
    if (c->pad) {
        int paddings = tm_const_add(&m, P2L_INT32, 2, (int32_t[]){4, 2}, spatial_pads, sizeof spatial_pads, "pads");
        conv_in = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 6, 6, 2}, "padded");
        if (c->pad == PAD) tm_op_add(&m, PAD, 2, (int32_t[]){x, paddings}, 1, (int32_t[]){conv_in});
        else {
            int value = tm_const_add(&m, P2L_FLOAT32, 0, NULL, one, sizeof one, "pad_value");
            tm_op_add(&m, PADV2, 3, (int32_t[]){x, paddings, value}, 1, (int32_t[]){conv_in});
        }
    }
    const int32_t *wshape = c->depthwise ? (int32_t[]){1, 3, 3, 2} : (int32_t[]){2, 3, 3, 2};
    int w = tm_const_add(&m, P2L_FLOAT32, 4, wshape, weights, (c->depthwise ? 18 : 36) * sizeof(float), "w");
    int b = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){2}, bias, sizeof bias, "b");
    int conv_out = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 4, 4, 2}, "conv");
    tm_op *conv = tm_op_add(&m, c->depthwise ? DEPTHWISE_CONV_2D : CONV_2D, 3, (int32_t[]){conv_in, w, b}, 1,
                            (int32_t[]){conv_out});
    tm_option(conv, "padding", 1 /* VALID */);
    tm_option(conv, "stride_w", 1);
    tm_option(conv, "stride_h", 1);
    if (c->depthwise) tm_option(conv, "depth_multiplier", 1);
    int y = conv_out;
    if (c->epilogue == HARD_SWISH) {
        y = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 4, 4, 2}, "y");
        tm_op_add(&m, HARD_SWISH, 1, (int32_t[]){conv_out}, 1, (int32_t[]){y});
    } else if (c->epilogue == LOGISTIC) {
        int s = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 4, 4, 2}, "sigmoid");
        y = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 4, 4, 2}, "y");
        tm_op_add(&m, LOGISTIC, 1, (int32_t[]){conv_out}, 1, (int32_t[]){s});
        tm_op *mul = tm_op_add(&m, MUL, 2, c->mul_swapped ? (int32_t[]){s, conv_out} : (int32_t[]){conv_out, s}, 1,
                               (int32_t[]){y});
        tm_option(mul, "fused_activation_function", c->mul_activation);
    }
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    if (c->conv_is_output && y != conv_out) m.n_out = 2, m.out[1] = conv_out;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY, &model), P2L_OK);
    free(bytes);
    return model;
}

/* Runs the model once; y gets output 0 (32 floats); returns how many ops ran (-1 on failure). */
static int run(p2l_model *model, int kernels, unsigned flags, float y[32]) {
    p2l_interpreter *it = NULL;
    const p2l_interpreter_options options = {.size = sizeof options, .kernels = kernels,
                                             .flags = flags | P2L_INTERPRETER_PROFILE};
    if (p2l_interpreter_create(model, &options, &it) != P2L_OK) return -1;
    p2l_tensor_info info = {.size = sizeof info};
    CHECK_EQ_INT(p2l_interpreter_input_info(it, 0, &info), P2L_OK);
    float x[72];
    for (size_t i = 0; i < info.bytes / sizeof *x; i++) x[i] = (float)((int)(i * 7 % 13) - 6) * 0.375f;
    int ran = -1;
    const p2l_profile_entry *entries = NULL;
    if (p2l_interpreter_set_input(it, 0, x, info.bytes) == P2L_OK && p2l_interpreter_invoke(it) == P2L_OK &&
        p2l_interpreter_get_output(it, 0, y, 32 * sizeof *y) == P2L_OK &&
        p2l_interpreter_profile(it, &entries, &ran) != P2L_OK)
        ran = -1;
    p2l_interpreter_free(it);
    return ran;
}

static void check_case(const fusion_case *c, bool fusing) {
    const int written = 1 + (c->pad != 0) + (c->epilogue == HARD_SWISH) + 2 * (c->epilogue == LOGISTIC);
    p2l_model *model = case_model(c);
    float expected[32], y[32];
    CHECK_EQ_INT(run(model, P2L_KERNELS_REFERENCE, P2L_INTERPRETER_NO_FUSION, expected), written);
    CHECK_EQ_INT(run(model, P2L_KERNELS_AUTO, P2L_INTERPRETER_NO_FUSION, y), written);
    const int ran = run(model, P2L_KERNELS_AUTO, 0, y);
    CHECK_EQ_INT(ran, fusing ? c->fused_ops : written);
    float worst = 0;
    for (int i = 0; i < 32; i++) worst = fmaxf(worst, fabsf(y[i] - expected[i]) / (1 + fabsf(expected[i])));
    CHECK(worst < 1e-5f);
    if (ran != (fusing ? c->fused_ops : written) || !(worst < 1e-5f))
        fprintf(stderr, "  in case %s: %d ops ran, largest difference %g\n", c->name, ran, worst);
    p2l_model_free(model);
}

static const fusion_case cases[] = {
    {"PAD + CONV_2D", false, PAD, 0, false, 0, false, 1},
    {"CONV_2D + HARD_SWISH", false, 0, HARD_SWISH, false, 0, false, 1},
    {"CONV_2D + SiLU", false, 0, LOGISTIC, false, 0, false, 1},
    {"CONV_2D + SiLU, MUL(sigmoid, x)", false, 0, LOGISTIC, true, 0, false, 1},
    {"PAD + DEPTHWISE_CONV_2D + SiLU", true, PAD, LOGISTIC, false, 0, false, 1},
    {"PAD + DEPTHWISE_CONV_2D + HARD_SWISH", true, PAD, HARD_SWISH, false, 0, false, 1},
    /* not fused: a PADV2 with a non-zero value, a MUL with a fused RELU, a convolution output that the
     * caller reads */
    {"PADV2 of 1.0 + CONV_2D", false, PADV2, 0, false, 0, false, 2},
    {"CONV_2D + SiLU with a RELU", false, 0, LOGISTIC, false, P2L_ACT_RELU, false, 3},
    {"CONV_2D (an output too) + HARD_SWISH", false, 0, HARD_SWISH, false, 0, true, 2},
    {"PAD + CONV_2D (an output too) + SiLU", false, PAD, LOGISTIC, false, 0, true, 3},
};

static void test_fusion_table(void) {
    /* the fast convolutions take every offer; the reference ones take none */
    const bool fusing = p2l_fast_kernels_enabled() && !p2l_env_flag("P2L_NO_FUSION");
    if (!fusing) fprintf(stderr, "test_fusions: no fast kernels or P2L_NO_FUSION set: checking that nothing fuses\n");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i], fusing);
}

/* ------------------------------------------------------------ int8 SiLU: LOGISTIC + MUL(x, s) as one table
 * x int8 [1,4,8,8] holding each of the 256 values -> LOGISTIC (1/256, -128) -> MUL with x -> y int8. The
 * int8 lookup kernel takes the MUL; the bytes must equal the reference kernels' running both ops. */
typedef struct int8_silu_case {
    const char *name;
    bool mul_swapped, s_is_output;
    int mul_activation, fused_ops;
    float x_scale, y_scale;
    int x_zero_point, y_zero_point;
} int8_silu_case;

static void set_quant(tm_model *m, int t, float scale, int64_t zero_point) {
    m->t[t].quant_count = 1, m->t[t].scales[0] = scale, m->t[t].zero_points[0] = zero_point;
}

/* Builds m, runs it on the 256 int8 values, writes output 0 to y; the number of ops that ran (-1: failed). */
static int run_int8_model(tm_model *m, int kernels, unsigned flags, int8_t y[256]) {
    size_t size;
    uint8_t *bytes = tm_build(m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY, &model), P2L_OK);
    free(bytes);
    p2l_interpreter *it = NULL;
    const p2l_interpreter_options options = {.size = sizeof options, .kernels = kernels,
                                             .flags = flags | P2L_INTERPRETER_PROFILE};
    int ran = -1;
    if (model && p2l_interpreter_create(model, &options, &it) == P2L_OK) {
        int8_t in[256];
        for (int i = 0; i < 256; i++) in[i] = (int8_t)(uint8_t)(i * 151 + 7); /* 151 is odd: every byte once */
        const p2l_profile_entry *entries = NULL;
        if (p2l_interpreter_set_input(it, 0, in, sizeof in) != P2L_OK || p2l_interpreter_invoke(it) != P2L_OK ||
            p2l_interpreter_get_output(it, 0, y, 256) != P2L_OK || p2l_interpreter_profile(it, &entries, &ran) != P2L_OK)
            ran = -1;
    }
    p2l_interpreter_free(it);
    p2l_model_free(model);
    return ran;
}

static int run_int8_silu(const int8_silu_case *c, int kernels, unsigned flags, int8_t y[256]) {
    tm_model m = {0};
    const int32_t shape[4] = {1, 4, 8, 8};
    const int x = tm_tensor_add(&m, P2L_INT8, 4, shape, "x"), sg = tm_tensor_add(&m, P2L_INT8, 4, shape, "sigmoid");
    const int out = tm_tensor_add(&m, P2L_INT8, 4, shape, "y");
    set_quant(&m, x, c->x_scale, c->x_zero_point);
    set_quant(&m, sg, 1.0f / 256, -128);
    set_quant(&m, out, c->y_scale, c->y_zero_point);
    tm_op_add(&m, LOGISTIC, 1, (int32_t[]){x}, 1, (int32_t[]){sg});
    tm_op *mul = tm_op_add(&m, MUL, 2, c->mul_swapped ? (int32_t[]){sg, x} : (int32_t[]){x, sg}, 1, (int32_t[]){out});
    tm_option(mul, "fused_activation_function", c->mul_activation);
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = out;
    if (c->s_is_output) m.n_out = 2, m.out[1] = sg;
    return run_int8_model(&m, kernels, flags, y);
}

static void test_int8_silu(void) {
    const bool fusing = p2l_fast_kernels_enabled() && !p2l_env_flag("P2L_NO_FUSION");
    static const int8_silu_case silu_cases[] = {
        {"int8 SiLU", false, false, 0, 1, 0.07f, 0.03f, -5, -100},
        {"int8 SiLU, MUL(s, x)", true, false, 0, 1, 0.07f, 0.03f, -5, -100},
        {"int8 SiLU, extreme scales", false, false, 0, 1, 2.5f, 1e-3f, 127, 127},
        {"int8 SiLU, small scales", true, false, 0, 1, 1e-3f, 4e-4f, -128, -128},
        /* not fused: a MUL with a fused RELU, a sigmoid the caller reads */
        {"int8 SiLU with a RELU", false, false, P2L_ACT_RELU, 2, 0.07f, 0.03f, -5, -100},
        {"int8 SiLU (sigmoid an output too)", false, true, 0, 2, 0.07f, 0.03f, -5, -100},
    };
    for (size_t i = 0; i < sizeof silu_cases / sizeof *silu_cases; i++) {
        const int8_silu_case *c = &silu_cases[i];
        int8_t expected[256], y[256];
        CHECK_EQ_INT(run_int8_silu(c, P2L_KERNELS_REFERENCE, P2L_INTERPRETER_NO_FUSION, expected), 2);
        CHECK_EQ_INT(run_int8_silu(c, P2L_KERNELS_AUTO, P2L_INTERPRETER_NO_FUSION, y), 2);
        CHECK(memcmp(y, expected, sizeof y) == 0);
        const int ran = run_int8_silu(c, P2L_KERNELS_AUTO, 0, y);
        CHECK_EQ_INT(ran, fusing ? c->fused_ops : 2);
        CHECK(memcmp(y, expected, sizeof y) == 0);
        if (memcmp(y, expected, sizeof y) != 0) fprintf(stderr, "  in case %s: %d ops ran\n", c->name, ran);
    }
}

/* ------------------------------------------------------------ int8 float detours as one table
 * x int8 [1,4,8,8] holding each of the 256 values -> DEQUANTIZE -> a float unary op, or LOGISTIC then
 * MUL(d, s) (PT2E's unannotated SiLU) -> QUANTIZE -> y int8. The DEQUANTIZE's lookup kernel takes the
 * detour; its bytes must equal the same kernels running every op (fusions off) on every input, for
 * several input and output quantizations, and stay within a step of the reference kernels. */
typedef struct detour_case {
    const char *name;
    int op;                       /* the unary op; LOGISTIC with silu: LOGISTIC + MUL */
    bool silu, mul_swapped, s_is_output;
    int mul_activation, fused_ops; /* ops that run when the detour fuses */
} detour_case;

static int run_detour(const detour_case *c, const float q[4], int kernels, unsigned flags, int8_t y[256]) {
    tm_model m = {0};
    const int32_t shape[4] = {1, 4, 8, 8};
    const int x = tm_tensor_add(&m, P2L_INT8, 4, shape, "x"), d = tm_tensor_add(&m, P2L_FLOAT32, 4, shape, "d");
    const int u = tm_tensor_add(&m, P2L_FLOAT32, 4, shape, "u");
    const int v = c->silu ? tm_tensor_add(&m, P2L_FLOAT32, 4, shape, "v") : u;
    const int out = tm_tensor_add(&m, P2L_INT8, 4, shape, "y");
    set_quant(&m, x, q[0], (int64_t)q[1]);
    set_quant(&m, out, q[2], (int64_t)q[3]);
    tm_op_add(&m, DEQUANTIZE, 1, (int32_t[]){x}, 1, (int32_t[]){d});
    tm_op_add(&m, c->op, 1, (int32_t[]){d}, 1, (int32_t[]){u});
    if (c->silu) {
        tm_op *mul = tm_op_add(&m, MUL, 2, c->mul_swapped ? (int32_t[]){u, d} : (int32_t[]){d, u}, 1, (int32_t[]){v});
        tm_option(mul, "fused_activation_function", c->mul_activation);
    }
    tm_op_add(&m, QUANTIZE, 1, (int32_t[]){v}, 1, (int32_t[]){out});
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = out;
    if (c->s_is_output) m.n_out = 2, m.out[1] = u;
    return run_int8_model(&m, kernels, flags, y);
}

static void test_int8_detour(void) {
    const bool fusing = p2l_fast_kernels_enabled() && !p2l_env_flag("P2L_NO_FUSION");
    static const detour_case detour_cases[] = {
        {"DEQUANTIZE, SiLU, QUANTIZE", LOGISTIC, true, false, false, 0, 1},
        {"DEQUANTIZE, SiLU as MUL(s, x), QUANTIZE", LOGISTIC, true, true, false, 0, 1},
        {"DEQUANTIZE, LOGISTIC, QUANTIZE", LOGISTIC, false, false, false, 0, 1},
        {"DEQUANTIZE, HARD_SWISH, QUANTIZE", HARD_SWISH, false, false, false, 0, 1},
        {"DEQUANTIZE, TANH, QUANTIZE", TANH, false, false, false, 0, 1},
        {"DEQUANTIZE, GELU, QUANTIZE", GELU, false, false, false, 0, 1},
        /* not fused: a MUL with a fused RELU, a float intermediate the caller reads */
        {"DEQUANTIZE, SiLU with a RELU, QUANTIZE", LOGISTIC, true, false, false, P2L_ACT_RELU, 4},
        {"DEQUANTIZE, SiLU (sigmoid an output too), QUANTIZE", LOGISTIC, true, false, true, 0, 4},
        {"DEQUANTIZE, TANH (an output too), QUANTIZE", TANH, false, false, true, 0, 3},
    };
    /* x scale, x zero point, y scale, y zero point */
    static const float quants[][4] = {{0.07f, -5, 0.03f, -100}, {2.5f, 127, 1e-3f, 127}, {1e-3f, -128, 4e-4f, -128},
                                      {0.0235f, 3, 0.0117f, 0}};
    for (size_t i = 0; i < sizeof detour_cases / sizeof *detour_cases; i++)
        for (size_t k = 0; k < sizeof quants / sizeof *quants; k++) {
            const detour_case *c = &detour_cases[i];
            const int written = c->silu ? 4 : 3;
            int8_t reference[256], expected[256], y[256];
            CHECK_EQ_INT(run_detour(c, quants[k], P2L_KERNELS_REFERENCE, P2L_INTERPRETER_NO_FUSION, reference), written);
            CHECK_EQ_INT(run_detour(c, quants[k], P2L_KERNELS_AUTO, P2L_INTERPRETER_NO_FUSION, expected), written);
            const int ran = run_detour(c, quants[k], P2L_KERNELS_AUTO, 0, y);
            CHECK_EQ_INT(ran, fusing ? c->fused_ops : written);
            int worst = 0; /* steps from the reference kernels (the fast float ops may round differently) */
            for (int e = 0; e < 256; e++) worst = abs(y[e] - reference[e]) > worst ? abs(y[e] - reference[e]) : worst;
            CHECK(memcmp(y, expected, sizeof y) == 0);
            CHECK(worst <= 1);
            if (memcmp(y, expected, sizeof y) != 0 || worst > 1 || ran != (fusing ? c->fused_ops : written))
                fprintf(stderr, "  in case %s, quantization %zu: %d ops ran, %d steps from the reference\n", c->name,
                        k, ran, worst);
        }
}

int main(void) {
    RUN(test_fusion_table);
    RUN(test_int8_silu);
    RUN(test_int8_detour);
    return check_summary();
}
