/* QUANTIZE (float32 -> int8 / uint8 / int16, and requantizing int8 / uint8 / int16 to another scale
 * or type) and DEQUANTIZE (int8 / uint8 / int16, per-tensor or per-channel, and float16 -> float32),
 * as TFLite's reference kernels compute them. */
#include <math.h>
#include <string.h>

#include "base/float16.h"
#include "kernels/quant_math.h"

/* Scale and zero point of element i of a tensor quantized per tensor or per channel. */
typedef struct quant_walk {
    const float *scales;
    const int64_t *zero_points;
    size_t inner;    /* elements per channel step (product of the dims after the quantized one) */
    size_t channels; /* 1: per tensor */
} quant_walk;

static quant_walk quant_walk_of(const p2l_tensor *t) {
    quant_walk w = {t->scales, t->zero_points, 1, (size_t)(t->quant_count > 1 ? t->quant_count : 1)};
    if (w.channels > 1)
        for (int d = t->quantized_dimension + 1; d < t->rank; d++) w.inner *= (size_t)t->dims[d];
    return w;
}

static inline size_t quant_channel(const quant_walk *w, size_t i) {
    return w->channels > 1 ? i / w->inner % w->channels : 0;
}

/* Integer element i of an int8 / uint8 / int16 buffer. */
static inline int32_t load_quantized(p2l_dtype dtype, const void *data, size_t i) {
    switch (dtype) {
    case P2L_UINT8: return ((const uint8_t *)data)[i];
    case P2L_INT16: return ((const int16_t *)data)[i];
    default: return ((const int8_t *)data)[i];
    }
}

static inline void store_quantized(p2l_dtype dtype, void *data, size_t i, int32_t v) {
    switch (dtype) {
    case P2L_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; return;
    case P2L_INT16: ((int16_t *)data)[i] = (int16_t)v; return;
    default: ((int8_t *)data)[i] = (int8_t)v; return;
    }
}

/* ------------------------------------------------------------ QUANTIZE */

typedef struct quantize_state {
    p2l_multiplier requantize; /* integer input: input_scale / output_scale */
    int32_t input_zero_point;
} quantize_state;

static p2l_status quantize_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    if (!p2l_is_quantized_dtype(y->dtype))
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "QUANTIZE to %s (%s) is not supported; expected int8, uint8 or int16",
                        p2l_dtype_name(y->dtype), P2L_LABEL(y));
    if (y->quant_count == 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "QUANTIZE output %s has no quantization parameters", P2L_LABEL(y));
    if (y->quant_count > 1 && (y->quantized_dimension >= x->rank || x->dims[y->quantized_dimension] != y->quant_count))
        return p2l_fail(P2L_ERROR_MALFORMED, "QUANTIZE output %s has %d scales along dim %d, which does not match the "
                        "input's shape", P2L_LABEL(y), y->quant_count, y->quantized_dimension);
    quantize_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    if (x->dtype != P2L_FLOAT32) {
        if (!p2l_is_quantized_dtype(x->dtype))
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "QUANTIZE from %s (%s) is not supported; expected float32, int8, "
                            "uint8 or int16", p2l_dtype_name(x->dtype), P2L_LABEL(x));
        float input_scale = 1, output_scale = 1;
        int32_t output_zero_point = 0;
        P2L_TRY(p2l_quant_per_tensor(x, &input_scale, &st->input_zero_point));
        P2L_TRY(p2l_quant_per_tensor(y, &output_scale, &output_zero_point));
        st->requantize = p2l_quantize_multiplier((double)input_scale / (double)output_scale);
    }
    return p2l_set_output_like(node, 0, x);
}

static p2l_status quantize_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    const quantize_state *st = node->state;
    const quant_walk w = quant_walk_of(y);
    int32_t lo, hi;
    p2l_quantized_range(y->dtype, &lo, &hi);
    if (x->dtype == P2L_FLOAT32) {
        const float *in = x->data;
        for (size_t i = 0; i < x->count; i++) {
            const size_t c = quant_channel(&w, i);
            store_quantized(y->dtype, y->data, i, p2l_affine_quantize(in[i], w.scales[c], (int32_t)w.zero_points[c], lo, hi));
        }
        return P2L_OK;
    }
    const int32_t output_zero_point = (int32_t)w.zero_points[0];
    for (size_t i = 0; i < x->count; i++) {
        const int32_t v = load_quantized(x->dtype, x->data, i) - st->input_zero_point;
        const int32_t r = p2l_multiply_by_quantized_multiplier(v, st->requantize) + output_zero_point;
        store_quantized(y->dtype, y->data, i, p2l_clamp_i32(r, lo, hi));
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_quantize = {
    .prepare = quantize_prepare, .invoke = quantize_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};

/* ------------------------------------------------------------ DEQUANTIZE */

static p2l_status dequantize_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    if (x->dtype != P2L_FLOAT16) {
        if (!p2l_is_quantized_dtype(x->dtype))
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "DEQUANTIZE from %s (%s) is not supported; expected int8, uint8, "
                            "int16 or float16", p2l_dtype_name(x->dtype), P2L_LABEL(x));
        if (x->quant_count == 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "DEQUANTIZE input %s has no quantization parameters", P2L_LABEL(x));
    }
    return p2l_set_output_like(node, 0, x);
}

static p2l_status dequantize_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    float *out = node->outputs[0]->data;
    if (x->dtype == P2L_FLOAT16) {
        const uint16_t *in = x->data;
        for (size_t i = 0; i < x->count; i++) out[i] = p2l_f16_to_f32(in[i]);
        return P2L_OK;
    }
    const quant_walk w = quant_walk_of(x);
    for (size_t i = 0; i < x->count; i++) {
        const size_t c = quant_channel(&w, i);
        /* scale * (q - zero point): the integer is exact in float, so the product rounds once, as
         * TFLite's double product cast to float does */
        out[i] = w.scales[c] * (float)(load_quantized(x->dtype, x->data, i) - (int32_t)w.zero_points[c]);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_dequantize = {
    .prepare = dequantize_prepare, .invoke = dequantize_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
