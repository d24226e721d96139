/* The aarch64 micro-kernel table (registry.c uses it on every aarch64 CPU: ASIMD is part of the
 * architecture). Depthwise weights are padded to whole vectors of 4 channels. */
#include "kernels/arm/arm.h"

const p2l_fast_isa p2l_isa_neon = {
    .name = "neon", .gemm = p2l_f32_gemm__neon, .depthwise_row = p2l_f32_depthwise_row__neon, .depthwise_lanes = 4,
    .binary_rows = P2L_BINARY_ROWS_OF(neon), .unary_rows = P2L_UNARY_ROWS_OF(neon),
    .softmax_row = p2l_f32_softmax_row__neon, .pool_row = p2l_f32_pool_row__neon,
    .mean_rows = p2l_f32_mean_rows__neon, .channel_means = p2l_f32_channel_means__neon,
    .transpose_blocks = p2l_u32_transpose_blocks__neon, .transpose_lanes = 4, .interleave_3 = NULL,
};
