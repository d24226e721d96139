/* The x86-64 micro-kernel tables; registry.c picks one by CPU (AVX2 and FMA; AVX-512F too unless
 * P2L_NO_AVX512 is set). The AVX-512 table has its own GEMM, depthwise, activation and softmax rows
 * and shares the rest. */
#include "kernels/x86/x86.h"

const p2l_fast_isa p2l_isa_avx2 = {
    .name = "avx2", .gemm = p2l_f32_gemm__avx2, .depthwise_row = p2l_f32_depthwise_row__avx2, .depthwise_lanes = 8,
    .binary_rows = P2L_BINARY_ROWS_OF(avx2), .unary_rows = P2L_UNARY_ROWS_OF(avx2),
    .softmax_row = p2l_f32_softmax_row__avx2, .pool_row = p2l_f32_pool_row__avx2,
    .mean_rows = p2l_f32_mean_rows__avx2, .channel_means = p2l_f32_channel_means__avx2,
    .transpose_blocks = p2l_u32_transpose_blocks__avx2, .transpose_lanes = 8, .interleave_3 = p2l_u32_interleave_3__avx2,
    .i8_gemm = p2l_i8_gemm__avx2, .i8_depthwise_tap = p2l_i8_depthwise_tap__avx2,
    .i8_requantize = p2l_i8_requantize__avx2, .i8_binary_row = p2l_i8_binary_row__avx2,
    .i8_quantize_row = p2l_i8_quantize_row__avx2, .i8_dequantize_row = p2l_i8_dequantize_row__avx2,
    .hybrid_i8_dot = p2l_hybrid_i8_dot__avx2, .hybrid_i4_dot = p2l_hybrid_i4_dot__avx2,
    .hybrid_i8_gemv = p2l_hybrid_i8_gemv__avx2, .hybrid_i4_gemv = p2l_hybrid_i4_gemv__avx2,
    .i8_gemm_pairs = p2l_i8_gemm_pairs__avx2, .i8_depthwise_pairs = p2l_i8_depthwise_pairs__avx2,
    .i8_lookup_row = p2l_i8_lookup_row__avx2,
    .hybrid_depthwise_pixel = p2l_hybrid_depthwise_pixel__avx2, .hybrid_range = p2l_hybrid_range__avx2,
    .hybrid_quantize = p2l_hybrid_quantize__avx2, .hybrid_gemm = p2l_hybrid_gemm__avx2,
};

const p2l_fast_isa p2l_isa_avx512 = {
    .name = "avx512", .gemm = p2l_f32_gemm__avx512, .depthwise_row = p2l_f32_depthwise_row__avx512,
    .depthwise_lanes = 16, .binary_rows = P2L_BINARY_ROWS_OF(avx2), .unary_rows = P2L_UNARY_ROWS_OF(avx512),
    .softmax_row = p2l_f32_softmax_row__avx512, .pool_row = p2l_f32_pool_row__avx2,
    .mean_rows = p2l_f32_mean_rows__avx2, .channel_means = p2l_f32_channel_means__avx2,
    .transpose_blocks = p2l_u32_transpose_blocks__avx2, .transpose_lanes = 8, .interleave_3 = p2l_u32_interleave_3__avx2,
    .i8_gemm = p2l_i8_gemm__avx2, .i8_depthwise_tap = p2l_i8_depthwise_tap__avx2,
    .i8_requantize = p2l_i8_requantize__avx2, .i8_binary_row = p2l_i8_binary_row__avx2,
    .i8_quantize_row = p2l_i8_quantize_row__avx2, .i8_dequantize_row = p2l_i8_dequantize_row__avx2,
    .hybrid_i8_dot = p2l_hybrid_i8_dot__avx2, .hybrid_i4_dot = p2l_hybrid_i4_dot__avx2,
    .hybrid_i8_gemv = p2l_hybrid_i8_gemv__avx2, .hybrid_i4_gemv = p2l_hybrid_i4_gemv__avx2,
    .i8_gemm_pairs = p2l_i8_gemm_pairs__avx2, .i8_depthwise_pairs = p2l_i8_depthwise_pairs__avx2,
    .i8_lookup_row = p2l_i8_lookup_row__avx2,
    .hybrid_depthwise_pixel = p2l_hybrid_depthwise_pixel__avx2, .hybrid_range = p2l_hybrid_range__avx2,
    .hybrid_quantize = p2l_hybrid_quantize__avx2, .hybrid_gemm = p2l_hybrid_gemm__avx2,
};
