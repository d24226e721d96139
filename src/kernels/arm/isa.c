/* The aarch64 micro-kernel tables (registry.c uses one on every aarch64 CPU: ASIMD is part of the
 * architecture). Depthwise weights are padded to whole vectors of 4 channels. p2l_isa_neon_dot is
 * p2l_isa_neon with the SDOT int8 GEMM and hybrid FULLY_CONNECTED dots, for CPUs that report the dot
 * product (Armv8.2 optional, Armv8.4 mandatory): registry.c asks p2l_arm_has_dotprod before it uses it. */
#include "kernels/arm/arm.h"

#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20) /* the kernel's bit for the dot product (asm/hwcap.h) */
#endif
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

bool p2l_arm_has_dotprod(void) {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    int has = 0;
    size_t size = sizeof has;
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &has, &size, NULL, 0) == 0 && has;
#else
    return false; /* no way to ask here: the plain NEON kernels, which every aarch64 CPU runs */
#endif
}

#define NEON_TABLE(table_name, int8_gemm, i8_dot, i4_dot)                                                              \
    {                                                                                                                  \
        .name = table_name, .gemm = p2l_f32_gemm__neon, .depthwise_row = p2l_f32_depthwise_row__neon,                  \
        .depthwise_lanes = 4, .binary_rows = P2L_BINARY_ROWS_OF(neon), .unary_rows = P2L_UNARY_ROWS_OF(neon),          \
        .softmax_row = p2l_f32_softmax_row__neon, .pool_row = p2l_f32_pool_row__neon,                                  \
        .mean_rows = p2l_f32_mean_rows__neon, .channel_means = p2l_f32_channel_means__neon,                            \
        .transpose_blocks = p2l_u32_transpose_blocks__neon, .transpose_lanes = 4, .interleave_3 = NULL,                \
        .i8_gemm = int8_gemm, .i8_depthwise_tap = p2l_i8_depthwise_tap__neon,                                          \
        .i8_requantize = p2l_i8_requantize__neon, .hybrid_i8_dot = i8_dot, .hybrid_i4_dot = i4_dot,                    \
        .i8_binary_row = p2l_i8_binary_row__neon, .i8_quantize_row = p2l_i8_quantize_row__neon,                        \
        .i8_dequantize_row = p2l_i8_dequantize_row__neon,                                                              \
    }

const p2l_fast_isa p2l_isa_neon =
    NEON_TABLE("neon", p2l_i8_gemm__neon, p2l_hybrid_i8_dot__neon, p2l_hybrid_i4_dot__neon);
const p2l_fast_isa p2l_isa_neon_dot = NEON_TABLE("neon-dotprod", p2l_i8_gemm__neon_dot, p2l_hybrid_i8_dot__neon_dot,
                                              p2l_hybrid_i4_dot__neon_dot);
