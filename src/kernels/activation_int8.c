/* int8 LOGISTIC, HARD_SWISH and SOFTMAX as TFLite computes them (see quant_math.h).
 *
 * LOGISTIC and HARD_SWISH map each of the 256 int8 inputs to one output, so prepare tabulates the op
 * once and invoke looks values up: LOGISTIC's table is TFLite's (the float sigmoid of each dequantized
 * input, rounded onto the output scale); HARD_SWISH's entries are TFLite's int16 fixed-point formula
 * evaluated per input, so the table equals computing it element by element. SOFTMAX follows TFLite's
 * quantized softmax: a float table of exp(-input_scale * beta * d) for the 256 distances d from the
 * row's maximum, a float sum, and a rounded float rescale. */
#include <math.h>

#include "kernels/quant_math.h"

/* ------------------------------------------------------------ fixed-point pieces of HARD_SWISH (int16) */

static int16_t saturate_i16(int64_t v) { return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v); }

/* value * 2^amount, saturated to int16. */
static int16_t saturating_left_shift_i16(int16_t value, int amount) {
    if (amount > 16) amount = 16; /* any nonzero value already saturates */
    return saturate_i16((int64_t)value * ((int64_t)1 << amount));
}

/* (a * b * 2) / 2^16 rounded to nearest as gemmlowp's int16 form does (positive ties up, negative
 * ties toward zero); INT16_MIN * INT16_MIN saturates. */
static int16_t rounding_doubling_high_mul_i16(int16_t a, int16_t b) {
    if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? 1 << 14 : 1 - (1 << 14);
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* The same product truncated toward zero (ARM's SQDMULH): TFLite uses it for the last product so
 * that its bias cancels the rounding one's. */
static int16_t doubling_high_mul_i16(int16_t a, int16_t b) {
    if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* A Q31 multiplier rounded to Q15 (saturating at the top). */
static int16_t q15_of_q31(int32_t multiplier) {
    const int32_t rounding = 1 << 15;
    if (multiplier >= INT32_MAX - rounding) return INT16_MAX;
    return (int16_t)((multiplier + rounding) >> 16);
}

typedef struct hard_swish_params {
    int32_t input_zero_point, output_zero_point;
    int16_t reluish_multiplier, output_multiplier; /* Q15 */
    int reluish_exponent, output_exponent;
} hard_swish_params;

/* TFLite's quantized hard-swish of one input value: x on a finer scale (x * 2^7), x rescaled to the
 * output scale (before its final shift), and the "relu-ish" factor relu6(x + 3) / 6 in Q15 from x
 * rescaled so that 3.0 is 2^15. */
static int8_t hard_swish_int8(const hard_swish_params *p, int32_t input) {
    const int16_t hires = (int16_t)((input - p->input_zero_point) * (1 << 7));
    const int16_t preshift_output = rounding_doubling_high_mul_i16(hires, p->output_multiplier);
    int16_t reluish = hires;
    /* The left shift less one bit before the multiply, the last bit after it: saturation then
     * happens only where it decides the result. */
    if (p->reluish_exponent > 0) reluish = saturating_left_shift_i16(reluish, p->reluish_exponent - 1);
    reluish = rounding_doubling_high_mul_i16(reluish, p->reluish_multiplier);
    if (p->reluish_exponent > 0) reluish = saturating_left_shift_i16(reluish, 1);
    if (p->reluish_exponent < 0) reluish = (int16_t)p2l_rounding_divide_by_pot(reluish, -p->reluish_exponent);
    reluish = (int16_t)((reluish + (1 << 15)) >> 1); /* [-1, 1] -> [0, 1] */
    const int16_t preshift = doubling_high_mul_i16(reluish, preshift_output);
    const int32_t out = p2l_rounding_divide_by_pot(preshift, -p->output_exponent) + p->output_zero_point;
    return (int8_t)p2l_clamp_i32(out, INT8_MIN, INT8_MAX);
}

/* ------------------------------------------------------------ LOGISTIC, HARD_SWISH, RELU*: one table */

typedef struct int8_table {
    int8_t values[256]; /* indexed by the input byte (uint8_t)x */
} int8_table;

/* The output quantization TFLite's int8 LOGISTIC and SOFTMAX take: [0, 1) in 256 steps (scale 1/256;
 * SOFTMAX also needs zero point -128, LOGISTIC takes any). */
static p2l_status probability_quantization(const p2l_node *node, float *scale, int32_t *zero_point) {
    const p2l_tensor *y = node->outputs[0];
    const char *op = p2l_op_info_of(node->op)->name;
    P2L_TRY(p2l_quant_per_tensor(y, scale, zero_point));
    if (*scale != 1.0f / 256)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "int8 %s output %s has scale %g; TFLite's int8 %s needs scale 1/256",
                        op, P2L_LABEL(y), (double)*scale, op);
    if (node->op == P2L_OP_SOFTMAX && *zero_point != INT8_MIN)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "int8 SOFTMAX output %s has zero point %d; TFLite's int8 SOFTMAX needs "
                        "zero point -128", P2L_LABEL(y), (int)*zero_point);
    return P2L_OK;
}

static p2l_status logistic_table(const p2l_node *node, float input_scale, int32_t input_zero_point, int8_table *t) {
    float output_scale;
    int32_t output_zero_point;
    P2L_TRY(probability_quantization(node, &output_scale, &output_zero_point));
    const float inverse_scale = 1 / output_scale;
    for (int32_t v = INT8_MIN; v <= INT8_MAX; v++) {
        const float x = input_scale * (float)(v - input_zero_point);
        const float rescaled = roundf(1.0f / (1.0f + expf(-x)) * inverse_scale);
        const int32_t q = (int32_t)(rescaled + (float)output_zero_point);
        t->values[(uint8_t)v] = (int8_t)p2l_clamp_i32(q, INT8_MIN, INT8_MAX);
    }
    return P2L_OK;
}

static p2l_status hard_swish_table(const p2l_node *node, float input_scale, int32_t input_zero_point, int8_table *t) {
    const p2l_tensor *y = node->outputs[0];
    float output_scale;
    hard_swish_params p = {.input_zero_point = input_zero_point};
    P2L_TRY(p2l_quant_per_tensor(y, &output_scale, &p.output_zero_point));
    /* As TFLite: the multipliers are computed in float, then quantized. */
    const float hires_input_scale = (1.0f / 128.0f) * input_scale;
    const p2l_multiplier output = p2l_quantize_multiplier((double)(hires_input_scale / output_scale));
    const p2l_multiplier reluish = p2l_quantize_multiplier((double)(hires_input_scale / (3.0f / 32768.0f)));
    /* TFLite requires the output multiplier below 1; its int16 shifts stop being exact past 15 bits. */
    if (output.shift > 0 || output.shift < -15 || reluish.shift < -15)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "int8 HARD_SWISH with input scale %g and output scale %g %s needs a "
                        "rescale TFLite's int16 fixed-point form cannot express", (double)input_scale,
                        (double)output_scale, P2L_LABEL(y));
    p.output_multiplier = q15_of_q31(output.multiplier), p.output_exponent = output.shift;
    p.reluish_multiplier = q15_of_q31(reluish.multiplier), p.reluish_exponent = reluish.shift;
    for (int32_t v = INT8_MIN; v <= INT8_MAX; v++) t->values[(uint8_t)v] = hard_swish_int8(&p, v);
    return P2L_OK;
}

/* TFLite's quantized RELU / RELU6 / RELU_N1_TO_1 (QuantizedReluX): the input rescaled onto the output's
 * quantization by the multiplier input_scale / output_scale, then clamped to the activation's bounds
 * on the output grid (round(bound / output_scale) from the zero point, within the int8 range). */
static p2l_status relu_table(const p2l_node *node, float input_scale, int32_t input_zero_point, int8_table *t) {
    float output_scale;
    int32_t output_zero_point;
    P2L_TRY(p2l_quant_per_tensor(node->outputs[0], &output_scale, &output_zero_point));
    const float low = node->op == P2L_OP_RELU_N1_TO_1 ? -1.0f : 0.0f;
    const float high = node->op == P2L_OP_RELU6 ? 6.0f : node->op == P2L_OP_RELU_N1_TO_1 ? 1.0f : INFINITY;
    const int32_t act_min = output_zero_point + (int32_t)roundf(low / output_scale);
    const int32_t act_max = isinf(high) ? INT8_MAX : output_zero_point + (int32_t)roundf(high / output_scale);
    const int32_t lo = act_min > INT8_MIN ? act_min : INT8_MIN, hi = act_max < INT8_MAX ? act_max : INT8_MAX;
    const p2l_multiplier m = p2l_quantize_multiplier((double)input_scale / (double)output_scale);
    for (int32_t v = INT8_MIN; v <= INT8_MAX; v++) {
        const int32_t q = output_zero_point + p2l_multiply_by_quantized_multiplier(v - input_zero_point, m);
        t->values[(uint8_t)v] = (int8_t)p2l_clamp_i32(q, lo, hi);
    }
    return P2L_OK;
}

p2l_status p2l_int8_unary_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    P2L_TRY(p2l_expect_dtype(y, P2L_INT8));
    float input_scale;
    int32_t input_zero_point;
    P2L_TRY(p2l_quant_per_tensor(x, &input_scale, &input_zero_point));
    int8_table *t = p2l_arena_alloc(node->arena, sizeof *t);
    if (!t) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    if (node->op == P2L_OP_LOGISTIC) P2L_TRY(logistic_table(node, input_scale, input_zero_point, t));
    else if (node->op == P2L_OP_HARD_SWISH) P2L_TRY(hard_swish_table(node, input_scale, input_zero_point, t));
    else if (node->op == P2L_OP_RELU || node->op == P2L_OP_RELU6 || node->op == P2L_OP_RELU_N1_TO_1)
        P2L_TRY(relu_table(node, input_scale, input_zero_point, t));
    else return p2l_fail(P2L_ERROR_UNSUPPORTED, "int8 input is not supported");
    node->state = t;
    return p2l_set_output_like(node, 0, x);
}

p2l_status p2l_int8_unary_invoke(p2l_node *node) {
    const int8_table *t = node->state;
    const uint8_t *in = node->inputs[0]->data;
    int8_t *out = node->outputs[0]->data;
    const size_t n = node->inputs[0]->count;
    for (size_t i = 0; i < n; i++) out[i] = t->values[in[i]];
    return P2L_OK;
}

/* ------------------------------------------------------------ SOFTMAX */

typedef struct softmax_int8 {
    float exp_of_distance[256]; /* [255 - d]: exp(-input_scale * beta * d), d = max - x */
    float output_scale;
    int32_t output_zero_point;
} softmax_int8;

p2l_status p2l_int8_softmax_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    P2L_TRY(p2l_expect_dtype(y, P2L_INT8));
    if (x->rank < 1) return p2l_fail(P2L_ERROR_MALFORMED, "%s must have rank 1 or more", P2L_LABEL(x));
    float input_scale;
    int32_t input_zero_point;
    P2L_TRY(p2l_quant_per_tensor(x, &input_scale, &input_zero_point));
    softmax_int8 *s = p2l_arena_alloc(node->arena, sizeof *s);
    if (!s) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    P2L_TRY(probability_quantization(node, &s->output_scale, &s->output_zero_point));
    const float scale = -input_scale * node->opts.softmax.beta;
    for (int d = 0; d <= 255; d++) s->exp_of_distance[255 - d] = expf(scale * (float)d);
    node->state = s;
    return p2l_set_output_like(node, 0, x);
}

p2l_status p2l_int8_softmax_invoke(p2l_node *node) {
    const softmax_int8 *s = node->state;
    const p2l_tensor *x = node->inputs[0];
    const size_t depth = (size_t)x->dims[x->rank - 1];
    if (depth == 0) return P2L_OK;
    const size_t rows = x->count / depth;
    const int8_t *in = x->data;
    int8_t *out = node->outputs[0]->data;
    for (size_t r = 0; r < rows; r++, in += depth, out += depth) {
        int32_t max = INT8_MIN;
        for (size_t i = 0; i < depth; i++) max = in[i] > max ? in[i] : max;
        const float *exp_of = s->exp_of_distance; /* exp_of[255 - max + x] for x <= max */
        const int32_t base = 255 - max;
        float sum = 0;
        for (size_t i = 0; i < depth; i++) sum += exp_of[base + in[i]];
        const float inverse = 1.0f / (sum * s->output_scale);
        for (size_t i = 0; i < depth; i++) {
            const int32_t q = (int32_t)roundf(exp_of[base + in[i]] * inverse) + s->output_zero_point;
            out[i] = (int8_t)p2l_clamp_i32(q, INT8_MIN, INT8_MAX);
        }
    }
    return P2L_OK;
}
