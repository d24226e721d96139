/* Normalizations along the last axis: SOFTMAX (with beta), LOG_SOFTMAX, L2_NORMALIZATION. */
#include <math.h>

#include "kernels/quant_math.h"

static p2l_status last_axis_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    if (node->op == P2L_OP_SOFTMAX && x->dtype == P2L_INT8) return p2l_int8_softmax_prepare(node);
    P2L_TRY(p2l_expect_dtype(x, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    if (x->rank < 1) return p2l_fail(P2L_ERROR_MALFORMED, "%s must have rank 1 or more", P2L_LABEL(x));
    if (node->op == P2L_OP_L2_NORMALIZATION) P2L_TRY(p2l_check_activation(node->opts.l2norm.fused_activation_function));
    return p2l_set_output_like(node, 0, x);
}

static p2l_status softmax_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    if (x->dtype == P2L_INT8) return p2l_int8_softmax_invoke(node);
    size_t depth = (size_t)x->dims[x->rank - 1];
    if (depth == 0) return P2L_OK;
    size_t rows = x->count / depth;
    bool log_softmax = node->op == P2L_OP_LOG_SOFTMAX;
    float beta = log_softmax ? 1.0f : node->opts.softmax.beta;
    const float *in = x->data;
    float *out = node->outputs[0]->data;
    for (size_t r = 0; r < rows; r++, in += depth, out += depth) {
        float max = in[0];
        for (size_t i = 1; i < depth; i++) max = in[i] > max ? in[i] : max;
        float sum = 0;
        if (log_softmax) {
            for (size_t i = 0; i < depth; i++) sum += expf(in[i] - max);
            float log_sum = logf(sum);
            for (size_t i = 0; i < depth; i++) out[i] = in[i] - max - log_sum;
        } else {
            for (size_t i = 0; i < depth; i++) sum += out[i] = expf((in[i] - max) * beta);
            float scale = 1.0f / sum;
            for (size_t i = 0; i < depth; i++) out[i] *= scale;
        }
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_softmax = {
    .prepare = last_axis_prepare, .invoke = softmax_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};

static p2l_status l2_normalization_invoke(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0];
    size_t depth = (size_t)x->dims[x->rank - 1];
    if (depth == 0) return P2L_OK;
    size_t rows = x->count / depth;
    const float *in = x->data;
    float *out = node->outputs[0]->data;
    for (size_t r = 0; r < rows; r++, in += depth, out += depth) {
        float sum = 0;
        for (size_t i = 0; i < depth; i++) sum += in[i] * in[i];
        /* LiteRT's reference clamps the norm from below by 1e-6. */
        float norm = sqrtf(sum);
        float scale = 1.0f / (norm > 1e-6f ? norm : 1e-6f);
        for (size_t i = 0; i < depth; i++) out[i] = in[i] * scale;
    }
    p2l_apply_fused_activation(node);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_l2_normalization = {
    .prepare = last_axis_prepare, .invoke = l2_normalization_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
};
