/* The fast paths of the hybrid CONV_2D and DEPTHWISE_CONV_2D kernels (fast/hybrid_conv.c, in builds
 * with fast kernels). As for FULLY_CONNECTED (hybrid_fast.h): the reference kernel keeps its prepare
 * and its run-time quantization of the input (per image, asymmetric) and hands the quantized images
 * over; the fast path sums the same integers exactly and scales them in the reference kernel's order,
 * so outputs are equal bit for bit. */
#ifndef P2L_KERNELS_HYBRID_CONV_FAST_H
#define P2L_KERNELS_HYBRID_CONV_FAST_H

#include "kernels/kernels.h"

/* Called at the end of the reference prepare (node->state: the reference's p2l_conv_params is
 * `params`): *fast is the fast path's state, or NULL where it does not cover the node (no loops for
 * the active ISA, kernels pinned to the reference ones, weights not known at prepare, a depthwise
 * depth multiplier other than 1). */
p2l_status p2l_hybrid_conv_fast_prepare(p2l_node *node, const p2l_conv_params *params, const void **fast);
/* Quantizes the input per image into quantized (the input's layout), input_scales and
 * input_zero_points, with the ISA's loops and p2l_hybrid_asymmetric_params (the same integers as the
 * reference's), then the output from them and the per-channel weight scales, fused activation
 * included. Returns false, having done nothing, where it cannot run (a node run outside an
 * interpreter, with no scratch): the caller runs the reference kernel. */
bool p2l_hybrid_conv_fast_invoke(const p2l_node *node, const void *fast, int8_t *quantized, float *input_scales,
                                 int32_t *input_zero_points, const float *weight_scales);
/* The reference kernel's (hybrid.c) asymmetric scale and zero point of a row whose range is
 * [lo, hi], lo <= 0 <= hi. */
void p2l_hybrid_asymmetric_params(float lo, float hi, float *scale, int32_t *zero_point);

#endif
