/* The fast paths of the hybrid FULLY_CONNECTED kernels (fast/hybrid.c, in builds with fast kernels):
 * int8 per-channel weights (hybrid.c) and int4 block-wise weights (fully_connected_int4.c). The
 * reference kernels keep their prepare and their run-time quantization of the input and hand the
 * quantized rows over, so both paths see the same integers; the fast path sums them exactly and
 * scales them in the reference kernels' order, so outputs are equal bit for bit. */
#ifndef P2L_KERNELS_HYBRID_FAST_H
#define P2L_KERNELS_HYBRID_FAST_H

#include "kernels/kernels.h"

/* Whether the build has the fast kernels (and so fast/hybrid.c). */
#if defined(P2L_HAVE_X86_KERNELS) || defined(P2L_HAVE_ARM_KERNELS)
#define P2L_HYBRID_FAST 1
#else
#define P2L_HYBRID_FAST 0
#endif

/* Called at the end of the reference prepare: *fast is the fast path's state, or NULL where it does
 * not cover the node (no loops for the active ISA, kernels pinned to the reference ones, weights
 * not known at prepare, an int4 block size that is not a multiple of 32). */
p2l_status p2l_hybrid_fc_fast_prepare(p2l_node *node, const void **fast);
/* Output rows from the input rows quantized to int8 (rows x depth), their scales and zero points;
 * weight_scales per channel (per_channel) or one. The fused activation is the caller's. */
void p2l_hybrid_fc_fast_invoke(const p2l_node *node, const void *fast, const int8_t *quantized,
                               const float *input_scales, const int32_t *input_zero_points,
                               const float *weight_scales, bool per_channel);

/* int4: block is the values per scale (depth where the weights have one scale per channel). */
p2l_status p2l_fc_int4_fast_prepare(p2l_node *node, size_t block, const void **fast);
/* row_values: each row's quantized values less its zero point; row_scale, row_zero_point: each
 * row's scale and zero point. */
void p2l_fc_int4_fast_invoke(const p2l_node *node, const void *fast, const int16_t *row_values,
                             const float *row_scale, const int32_t *row_zero_point);

#endif
