/* The x86-64 micro-kernel tables; registry.c picks one by CPU (AVX2 and FMA; AVX-512F too unless
 * P2L_NO_AVX512 is set). The AVX-512 table has its own GEMM, depthwise, activation and softmax rows and shares the rest. */
#include "kernels/x86/x86.h"

const p2l_fast_isa p2l_isa_avx2 = {
    .name = "avx2", .gemm = p2l_gemm_avx2, .depthwise_row = p2l_depthwise_row_avx2, .depthwise_lanes = 8,
    .binary_rows = p2l_binary_rows_avx2, .unary_rows = p2l_unary_rows_avx2, .softmax_row = p2l_softmax_row_avx2,
    .pool_row = p2l_pool_row_avx2, .mean_rows = p2l_mean_rows_avx2, .channel_means = p2l_channel_means_avx2,
};

const p2l_fast_isa p2l_isa_avx512 = {
    .name = "avx512", .gemm = p2l_gemm_avx512, .depthwise_row = p2l_depthwise_row_avx512, .depthwise_lanes = 16,
    .binary_rows = p2l_binary_rows_avx2, .unary_rows = p2l_unary_rows_avx512, .softmax_row = p2l_softmax_row_avx512,
    .pool_row = p2l_pool_row_avx2, .mean_rows = p2l_mean_rows_avx2, .channel_means = p2l_channel_means_avx2,
};
