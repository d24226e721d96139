/* The aarch64 micro-kernel table (registry.c uses it on every aarch64 CPU: ASIMD is part of the
 * architecture). Depthwise weights are padded to whole vectors of 4 channels. */
#include "kernels/arm/arm.h"

const p2l_fast_isa p2l_isa_neon = {
    .name = "neon", .gemm = p2l_gemm_neon, .depthwise_row = p2l_depthwise_row_neon, .depthwise_lanes = 4,
    .binary_rows = p2l_binary_rows_neon, .unary_rows = p2l_unary_rows_neon, .softmax_row = p2l_softmax_row_neon,
    .pool_row = p2l_pool_row_neon, .mean_rows = p2l_mean_rows_neon, .channel_means = p2l_channel_means_neon,
};
