/* Quantized arithmetic and parameters (see quant_math.h). */
#include "kernels/quant_math.h"
#if defined(P2L_HAVE_X86_KERNELS) || defined(P2L_HAVE_ARM_KERNELS)
#include "kernels/fast/fast.h"
#endif

#include <math.h>

p2l_multiplier p2l_quantize_multiplier(double real) {
    if (real == 0) return (p2l_multiplier){0, 0};
    int shift;
    const double mantissa = frexp(real, &shift); /* in [0.5, 1) */
    int64_t fixed = (int64_t)round(mantissa * (double)((int64_t)1 << 31));
    if (fixed == (int64_t)1 << 31) { /* rounded up to 1.0 */
        fixed /= 2;
        shift++;
    }
    if (shift < -31) return (p2l_multiplier){0, 0}; /* every bit would be shifted out */
    return (p2l_multiplier){(int32_t)fixed, shift};
}

int32_t p2l_round_to_i32(float v) {
    const float r = roundf(v);
    if (r != r) return 0;
    if (r >= 2147483648.0f) return INT32_MAX;
    if (r <= -2147483648.0f) return INT32_MIN;
    return (int32_t)r;
}

bool p2l_is_quantized_dtype(p2l_dtype dtype) {
    return dtype == P2L_INT8 || dtype == P2L_UINT8 || dtype == P2L_INT16;
}

void p2l_quantized_range(p2l_dtype dtype, int32_t *min, int32_t *max) {
    switch (dtype) {
    case P2L_UINT8: *min = 0, *max = UINT8_MAX; return;
    case P2L_INT16: *min = INT16_MIN, *max = INT16_MAX; return;
    default: *min = INT8_MIN, *max = INT8_MAX; return;
    }
}

p2l_status p2l_quant_per_tensor(const p2l_tensor *t, float *scale, int32_t *zero_point) {
    if (t->quant_count == 0)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s is %s without quantization parameters (scale, zero point)",
                        P2L_LABEL(t), p2l_dtype_name(t->dtype));
    if (t->quant_count != 1)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s is quantized per channel (%d scales along dim %d); this op takes "
                        "one scale", P2L_LABEL(t), t->quant_count, t->quantized_dimension);
    *scale = t->scales[0];
    *zero_point = (int32_t)t->zero_points[0]; /* the reader checked it fits the dtype */
    return P2L_OK;
}

p2l_status p2l_quant_scales(const p2l_tensor *t, int dim, int32_t channels, const float **scales, bool *per_channel) {
    if (t->quant_count == 0)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s is %s without quantization parameters", P2L_LABEL(t),
                        p2l_dtype_name(t->dtype));
    *per_channel = t->quant_count > 1;
    if (*per_channel && (t->quantized_dimension != dim || t->quant_count != channels))
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s has %d scales along dim %d; expected one, or %d along dim %d",
                        P2L_LABEL(t), t->quant_count, t->quantized_dimension, channels, dim);
    *scales = t->scales;
    return P2L_OK;
}

p2l_status p2l_quant_expect_same(const p2l_tensor *output, const p2l_tensor *input) {
    bool same = output->quant_count == input->quant_count && output->quantized_dimension == input->quantized_dimension;
    for (int i = 0; same && i < input->quant_count; i++)
        same = output->scales[i] == input->scales[i] && output->zero_points[i] == input->zero_points[i];
    if (!same)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s and %s have different quantization (scale %g, zero point %lld vs "
                        "scale %g, zero point %lld); requantizing here is not supported", P2L_LABEL(input),
                        P2L_LABEL(output), input->quant_count ? (double)input->scales[0] : 0.0,
                        input->quant_count ? (long long)input->zero_points[0] : 0LL,
                        output->quant_count ? (double)output->scales[0] : 0.0,
                        output->quant_count ? (long long)output->zero_points[0] : 0LL);
    return P2L_OK;
}

p2l_status p2l_quant_expect_symmetric(const p2l_tensor *t) {
    for (int i = 0; i < t->quant_count; i++)
        if (t->zero_points[i] != 0)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s has zero point %lld at %d; only symmetric (zero point 0) "
                            "quantization is supported here", P2L_LABEL(t), (long long)t->zero_points[i], i);
    return P2L_OK;
}

p2l_status p2l_quantized_activation_range(int activation, const p2l_tensor *output, int32_t *min, int32_t *max) {
    float scale = 1;
    int32_t zero_point = 0;
    P2L_TRY(p2l_quant_per_tensor(output, &scale, &zero_point));
    p2l_quantized_range(output->dtype, min, max);
    /* The quantized value of a real bound, as TFLite rounds it (float division, then round). */
#define QUANTIZED(f) (zero_point + p2l_round_to_i32((f) / scale))
    switch (activation) {
    case P2L_ACT_NONE: return P2L_OK;
    case P2L_ACT_RELU:
        if (QUANTIZED(0.0f) > *min) *min = QUANTIZED(0.0f);
        return P2L_OK;
    case P2L_ACT_RELU6:
        if (QUANTIZED(0.0f) > *min) *min = QUANTIZED(0.0f);
        if (QUANTIZED(6.0f) < *max) *max = QUANTIZED(6.0f);
        return P2L_OK;
    case P2L_ACT_RELU_N1_TO_1:
        if (QUANTIZED(-1.0f) > *min) *min = QUANTIZED(-1.0f);
        if (QUANTIZED(1.0f) < *max) *max = QUANTIZED(1.0f);
        return P2L_OK;
    default:
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "fused activation %d on the quantized output %s is not supported",
                        activation, P2L_LABEL(output));
    }
#undef QUANTIZED
}

p2l_status p2l_quant_conv_prepare(p2l_node *node, int input, int filter, int bias, int filter_dim, int32_t channels,
                                  int activation, p2l_quant_conv **out) {
    const p2l_tensor *x = node->inputs[input], *w = node->inputs[filter], *y = node->outputs[0];
    const p2l_tensor *b = bias < node->input_count ? node->inputs[bias] : NULL;
    P2L_TRY(p2l_expect_dtype(x, P2L_INT8));
    P2L_TRY(p2l_expect_dtype(w, P2L_INT8));
    P2L_TRY(p2l_expect_dtype(y, P2L_INT8));
    if (b) P2L_TRY(p2l_expect_dtype(b, P2L_INT32));
    float input_scale = 1, output_scale = 1;
    int32_t input_zero_point = 0, output_zero_point = 0;
    P2L_TRY(p2l_quant_per_tensor(x, &input_scale, &input_zero_point));
    P2L_TRY(p2l_quant_per_tensor(y, &output_scale, &output_zero_point));
    const float *filter_scales;
    bool per_channel;
    P2L_TRY(p2l_quant_scales(w, filter_dim, channels, &filter_scales, &per_channel));
    P2L_TRY(p2l_quant_expect_symmetric(w));
    if (b && b->quant_count) P2L_TRY(p2l_quant_expect_symmetric(b));
    p2l_quant_conv *q = p2l_arena_alloc(node->arena, sizeof *q);
    p2l_multiplier *m = p2l_arena_alloc(node->arena, (size_t)(channels ? channels : 1) * sizeof *m);
    if (!q || !m) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int32_t c = 0; c < channels; c++)
        m[c] = p2l_quantize_multiplier((double)input_scale * (double)filter_scales[per_channel ? c : 0] /
                                       (double)output_scale);
    *q = (p2l_quant_conv){.input_offset = -input_zero_point, .output_offset = output_zero_point, .multipliers = m};
    P2L_TRY(p2l_quantized_activation_range(activation, y, &q->act_min, &q->act_max));
    *out = q;
    return P2L_OK;
}

static bool is_quantized_node(const p2l_node *node) {
    for (int i = 0; i < node->input_count; i++)
        if (node->inputs[i] && p2l_is_quantized_dtype(node->inputs[i]->dtype)) return true;
    for (int i = 0; i < node->output_count; i++)
        if (p2l_is_quantized_dtype(node->outputs[i]->dtype)) return true;
    return false;
}

const p2l_kernel *p2l_kernel_for_node(const p2l_kernel_selection *selection, const p2l_node *node) {
    const p2l_kernel *selected = p2l_kernel_selected(selection, node->op);
    if (!is_quantized_node(node)) return selected;
    const p2l_kernel *hybrid = p2l_hybrid_kernel(node);
    if (hybrid) return hybrid;
    const p2l_kernel *reference = p2l_reference_kernel_of(node->op);
#if defined(P2L_HAVE_X86_KERNELS) || defined(P2L_HAVE_ARM_KERNELS)
    /* Fast kernels in use (not pinned to the reference ones): the int8 ones where there are some
     * (they fall back to the reference kernels by themselves where the ISA has no int8 loops). */
    const p2l_kernel *int8_fast = p2l_int8_fast_kernel(node->op);
    /* (QUANTIZE / DEQUANTIZE have no float fast driver: their selection is the reference kernel) */
    const bool fast_in_use = selection->pinned ? !selection->reference : p2l_fast_isa_active() != NULL;
    if (fast_in_use && int8_fast) return int8_fast;
#endif
    return reference;
}

p2l_status p2l_quant_binary_prepare(p2l_node *node, p2l_quant_binary **out) {
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1], *y = node->outputs[0];
    if (node->op != P2L_OP_ADD && node->op != P2L_OP_SUB && node->op != P2L_OP_MUL)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "quantized int8 inputs are not supported by %s",
                        p2l_op_info_of(node->op)->name);
    P2L_TRY(p2l_expect_dtype(y, P2L_INT8));
    float sa = 1, sb = 1, sy = 1;
    int32_t za = 0, zb = 0, zy = 0;
    P2L_TRY(p2l_quant_per_tensor(a, &sa, &za));
    P2L_TRY(p2l_quant_per_tensor(b, &sb, &zb));
    P2L_TRY(p2l_quant_per_tensor(y, &sy, &zy));
    p2l_quant_binary *q = p2l_arena_alloc(node->arena, sizeof *q);
    if (!q) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    *q = (p2l_quant_binary){.offset_a = -za, .offset_b = -zb, .output_offset = zy};
    P2L_TRY(p2l_quantized_activation_range(p2l_fused_activation(node), y, &q->act_min, &q->act_max));
    if (node->op == P2L_OP_MUL) {
        q->output = p2l_quantize_multiplier((double)sa * (double)sb / (double)sy);
    } else {
        const double twice_max = 2 * (double)(sa > sb ? sa : sb);
        q->a = p2l_quantize_multiplier((double)sa / twice_max);
        q->b = p2l_quantize_multiplier((double)sb / twice_max);
        q->output = p2l_quantize_multiplier(twice_max / ((double)(1 << P2L_QUANT_ADD_LEFT_SHIFT) * (double)sy));
    }
    *out = q;
    return P2L_OK;
}

void p2l_quant_binary_row(p2l_op op, const p2l_quant_binary *q, const int8_t *a, size_t sa, const int8_t *b, size_t sb,
                          int8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const int32_t x = a[i * sa] + q->offset_a, y = b[i * sb] + q->offset_b;
        int32_t raw;
        if (op == P2L_OP_MUL) {
            raw = p2l_multiply_by_quantized_multiplier(x * y, q->output);
        } else {
            const int32_t sx = p2l_multiply_by_quantized_multiplier(x * (1 << P2L_QUANT_ADD_LEFT_SHIFT), q->a);
            const int32_t sy = p2l_multiply_by_quantized_multiplier(y * (1 << P2L_QUANT_ADD_LEFT_SHIFT), q->b);
            raw = p2l_multiply_by_quantized_multiplier(op == P2L_OP_ADD ? sx + sy : sx - sy, q->output);
        }
        out[i] = (int8_t)p2l_clamp_i32(raw + q->output_offset, q->act_min, q->act_max);
    }
}
