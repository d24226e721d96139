/* The TRANSPOSE micro-kernel with NEON for the driver fast/transpose.c: blocks of 4 x 4 4-byte
 * elements transposed in registers (an RGB image's interleave is the driver's scalar loop). */
#include <arm_neon.h>

#include "kernels/arm/arm.h"

/* out[r][c] = in[r + c * col_stride] for a 4 x 4 block: input rows c = 0..3 are the output's
 * columns; pairs of lanes are swapped (trn on 32 bits), then pairs of pairs (trn on 64 bits). */
static inline void transpose_4x4(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride) {
    const uint32x4_t r0 = vld1q_u32(in), r1 = vld1q_u32(in + col_stride);
    const uint32x4_t r2 = vld1q_u32(in + 2 * col_stride), r3 = vld1q_u32(in + 3 * col_stride);
    const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(r0, r1)), t1 = vreinterpretq_u64_u32(vtrn2q_u32(r0, r1));
    const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(r2, r3)), t3 = vreinterpretq_u64_u32(vtrn2q_u32(r2, r3));
    vst1q_u32(out, vreinterpretq_u32_u64(vtrn1q_u64(t0, t2)));
    vst1q_u32(out + out_stride, vreinterpretq_u32_u64(vtrn1q_u64(t1, t3)));
    vst1q_u32(out + 2 * out_stride, vreinterpretq_u32_u64(vtrn2q_u64(t0, t2)));
    vst1q_u32(out + 3 * out_stride, vreinterpretq_u32_u64(vtrn2q_u64(t1, t3)));
}

void p2l_u32_transpose_blocks__neon(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride,
                                    size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r += 4)
        for (size_t c = 0; c < cols; c += 4)
            transpose_4x4(in + r + (int64_t)c * col_stride, col_stride, out + r * out_stride + c, out_stride);
}
