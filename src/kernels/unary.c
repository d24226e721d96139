/* Unary elementwise ops: activations and math. One table of float functions by op (a parameter
 * carries LEAKY_RELU's alpha and GELU's approximate flag), one of integer functions. */
#include <math.h>

#include "kernels/quant_math.h"

typedef int64_t (*int_fn)(int64_t x);

/* The clamps test for "out of range", so NaN fails both tests and passes through, as in PyTorch
 * (torch.relu(nan) is nan), and -0 stays -0 as in torch.relu. */
static float relu(float x, float p) { return x < 0 ? 0 : x; }
static float relu6(float x, float p) { return x < 0 ? 0 : x > 6 ? 6 : x; }
static float relu_n1_to_1(float x, float p) { return x < -1 ? -1 : x > 1 ? 1 : x; }
static float logistic(float x, float p) { return 1.0f / (1.0f + expf(-x)); }
static float tanh_(float x, float p) { return tanhf(x); }
static float hard_swish(float x, float p) { return x * relu6(x + 3.0f, 0) / 6.0f; }
static float gelu(float x, float approximate) {
    if (approximate != 0) {
        const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    return 0.5f * x * erfcf(-x * 0.7071067811865476f);
}
static float exp_(float x, float p) { return expf(x); }
static float log_(float x, float p) { return logf(x); }
static float sqrt_(float x, float p) { return sqrtf(x); }
static float rsqrt(float x, float p) { return 1.0f / sqrtf(x); }
static float abs_(float x, float p) { return fabsf(x); }
static float neg(float x, float p) { return -x; }
static float sin_(float x, float p) { return sinf(x); }
static float cos_(float x, float p) { return cosf(x); }
static float floor_(float x, float p) { return floorf(x); }
static float ceil_(float x, float p) { return ceilf(x); }
static float round_(float x, float p) { return nearbyintf(x); } /* half to even, as LiteRT */
static float square(float x, float p) { return x * x; }
static float sign(float x, float p) { return (float)((0 < x) - (x < 0)); }
static float leaky_relu(float x, float alpha) { return x > 0 ? x : x * alpha; }
static float elu(float x, float p) { return x < 0 ? expm1f(x) : x; }

/* The float functions as whole-row loops, one per op, so each function is inlined into its loop
 * (vectorized or at least branch-free where it can be) instead of called per element. */
typedef void (*float_row_fn)(const float *in, float *out, size_t n, float param);
#define FLOAT_ROW(f) \
    static void f##_row(const float *in, float *out, size_t n, float param) { \
        for (size_t i = 0; i < n; i++) out[i] = f(in[i], param);              \
    }
FLOAT_ROW(relu) FLOAT_ROW(relu6) FLOAT_ROW(relu_n1_to_1) FLOAT_ROW(logistic) FLOAT_ROW(tanh_) FLOAT_ROW(hard_swish)
FLOAT_ROW(gelu) FLOAT_ROW(exp_) FLOAT_ROW(log_) FLOAT_ROW(sqrt_) FLOAT_ROW(rsqrt) FLOAT_ROW(abs_) FLOAT_ROW(neg)
FLOAT_ROW(sin_) FLOAT_ROW(cos_) FLOAT_ROW(floor_) FLOAT_ROW(ceil_) FLOAT_ROW(round_) FLOAT_ROW(square)
FLOAT_ROW(sign) FLOAT_ROW(leaky_relu) FLOAT_ROW(elu)
#undef FLOAT_ROW

static const float_row_fn float_fns[P2L_OP_COUNT] = {
    [P2L_OP_RELU] = relu_row, [P2L_OP_RELU6] = relu6_row, [P2L_OP_RELU_N1_TO_1] = relu_n1_to_1_row,
    [P2L_OP_LOGISTIC] = logistic_row, [P2L_OP_TANH] = tanh__row, [P2L_OP_HARD_SWISH] = hard_swish_row,
    [P2L_OP_GELU] = gelu_row, [P2L_OP_EXP] = exp__row, [P2L_OP_LOG] = log__row, [P2L_OP_SQRT] = sqrt__row,
    [P2L_OP_RSQRT] = rsqrt_row, [P2L_OP_ABS] = abs__row, [P2L_OP_NEG] = neg_row, [P2L_OP_SIN] = sin__row,
    [P2L_OP_COS] = cos__row, [P2L_OP_FLOOR] = floor__row, [P2L_OP_CEIL] = ceil__row, [P2L_OP_ROUND] = round__row,
    [P2L_OP_SQUARE] = square_row, [P2L_OP_SIGN] = sign_row, [P2L_OP_LEAKY_RELU] = leaky_relu_row,
    [P2L_OP_ELU] = elu_row,
};

static int64_t abs_int(int64_t x) { return x < 0 ? (int64_t)(0 - (uint64_t)x) : x; }
static int64_t neg_int(int64_t x) { return (int64_t)(0 - (uint64_t)x); }
static int64_t square_int(int64_t x) { return (int64_t)((uint64_t)x * (uint64_t)x); }
static int64_t sign_int(int64_t x) { return (0 < x) - (x < 0); }
static int64_t relu_int(int64_t x) { return x > 0 ? x : 0; }

static const int_fn int_fns[P2L_OP_COUNT] = {
    [P2L_OP_ABS] = abs_int, [P2L_OP_NEG] = neg_int, [P2L_OP_SQUARE] = square_int, [P2L_OP_SIGN] = sign_int,
    [P2L_OP_RELU] = relu_int,
};

typedef struct unary_state {
    float param;
} unary_state;

static p2l_status unary_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    if (x->dtype == P2L_INT8 && (node->op == P2L_OP_LOGISTIC || node->op == P2L_OP_HARD_SWISH || node->op == P2L_OP_RELU ||
                                 node->op == P2L_OP_RELU6 || node->op == P2L_OP_RELU_N1_TO_1))
        return p2l_int8_unary_prepare(node);
    P2L_TRY(p2l_expect_same_dtype(node->outputs[0], x));
    bool ok = node->op == P2L_OP_LOGICAL_NOT ? x->dtype == P2L_BOOL
              : x->dtype == P2L_FLOAT32      ? float_fns[node->op] != NULL
              : x->dtype == P2L_INT32 || x->dtype == P2L_INT64 ? int_fns[node->op] != NULL
                                                               : false;
    if (!ok) return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s input is not supported", p2l_dtype_name(x->dtype));
    unary_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    if (node->op == P2L_OP_LEAKY_RELU) st->param = node->opts.leaky_relu.alpha;
    if (node->op == P2L_OP_GELU) st->param = node->opts.gelu.approximate ? 1.0f : 0.0f;
    node->state = st;
    return p2l_set_output_like(node, 0, x);
}

static p2l_status unary_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    p2l_tensor *y = node->outputs[0];
    size_t n = x->count;
    if (x->dtype == P2L_INT8) return p2l_int8_unary_invoke(node);
    if (x->dtype == P2L_FLOAT32) {
        float_fns[node->op](x->data, y->data, n, ((const unary_state *)node->state)->param);
    } else if (x->dtype == P2L_INT32) {
        int_fn f = int_fns[node->op];
        const int32_t *in = x->data;
        int32_t *out = y->data;
        for (size_t i = 0; i < n; i++) out[i] = (int32_t)f(in[i]);
    } else if (x->dtype == P2L_INT64) {
        int_fn f = int_fns[node->op];
        const int64_t *in = x->data;
        int64_t *out = y->data;
        for (size_t i = 0; i < n; i++) out[i] = f(in[i]);
    } else { /* LOGICAL_NOT */
        const uint8_t *in = x->data;
        uint8_t *out = y->data;
        for (size_t i = 0; i < n; i++) out[i] = !in[i];
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_unary = {
    .prepare = unary_prepare, .invoke = unary_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
