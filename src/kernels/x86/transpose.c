/* TRANSPOSE micro-kernels with AVX2 for the driver fast/transpose.c: blocks of 8 x 8 4-byte
 * elements transposed in registers, and three contiguous input rows interleaved with vector
 * permutes (an RGB image's NCHW -> NHWC). */
#include "kernels/x86/x86.h"
#include "kernels/x86/vec_avx2.h"

/* 8 rows of each input channel make 24 interleaved outputs, each output vector a blend of the three
 * channels' vectors permuted alike. Element j of the 24 comes from channel j % 3, row j / 3. */
void p2l_u32_interleave_3__avx2(const uint32_t *in, size_t channel_stride, uint32_t *out, size_t r0, size_t r1) {
    static const int32_t row_of[3][8] = {{0, 0, 0, 1, 1, 1, 2, 2}, {2, 3, 3, 3, 4, 4, 4, 5}, {5, 5, 6, 6, 6, 7, 7, 7}};
    static const int32_t from_1[3][8] = {{0, -1, 0, 0, -1, 0, 0, -1}, {0, 0, -1, 0, 0, -1, 0, 0},
                                         {-1, 0, 0, -1, 0, 0, -1, 0}};
    static const int32_t from_2[3][8] = {{0, 0, -1, 0, 0, -1, 0, 0}, {-1, 0, 0, -1, 0, 0, -1, 0},
                                         {0, -1, 0, 0, -1, 0, 0, -1}};
    __m256i idx[3], m1[3], m2[3];
    for (int k = 0; k < 3; k++) {
        idx[k] = _mm256_loadu_si256((const __m256i *)row_of[k]);
        m1[k] = _mm256_loadu_si256((const __m256i *)from_1[k]);
        m2[k] = _mm256_loadu_si256((const __m256i *)from_2[k]);
    }
    const uint32_t *c0 = in, *c1 = in + channel_stride, *c2 = in + 2 * channel_stride;
    size_t r = r0;
    for (; r + 8 <= r1; r += 8) {
        const __m256i v0 = _mm256_loadu_si256((const __m256i *)(c0 + r));
        const __m256i v1 = _mm256_loadu_si256((const __m256i *)(c1 + r));
        const __m256i v2 = _mm256_loadu_si256((const __m256i *)(c2 + r));
        for (int k = 0; k < 3; k++) {
            __m256i o = _mm256_permutevar8x32_epi32(v0, idx[k]);
            o = _mm256_blendv_epi8(o, _mm256_permutevar8x32_epi32(v1, idx[k]), m1[k]);
            o = _mm256_blendv_epi8(o, _mm256_permutevar8x32_epi32(v2, idx[k]), m2[k]);
            _mm256_storeu_si256((__m256i *)(out + r * 3 + 8 * (size_t)k), o);
        }
    }
    for (; r < r1; r++) {
        out[r * 3] = c0[r];
        out[r * 3 + 1] = c1[r];
        out[r * 3 + 2] = c2[r];
    }
}

/* out[r][c] = in[r + c * col_stride] for an 8 x 8 block: 8 contiguous input rows (one per c) are
 * transposed in registers. */
static inline void transpose_8x8(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride) {
    __m256 r[8], t[8];
    for (int c = 0; c < 8; c++) r[c] = _mm256_loadu_ps((const float *)(in + c * col_stride));
    for (int c = 0; c < 8; c += 2) {
        t[c] = _mm256_unpacklo_ps(r[c], r[c + 1]);
        t[c + 1] = _mm256_unpackhi_ps(r[c], r[c + 1]);
    }
    for (int c = 0; c < 8; c += 4) {
        r[c] = _mm256_shuffle_ps(t[c], t[c + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[c + 1] = _mm256_shuffle_ps(t[c], t[c + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[c + 2] = _mm256_shuffle_ps(t[c + 1], t[c + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[c + 3] = _mm256_shuffle_ps(t[c + 1], t[c + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_ps((float *)(out + (size_t)k * out_stride), _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
        _mm256_storeu_ps((float *)(out + (size_t)(k + 4) * out_stride), _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
    }
}

void p2l_u32_transpose_blocks__avx2(const uint32_t *in, int64_t col_stride, uint32_t *out, size_t out_stride,
                                    size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r += 8)
        for (size_t c = 0; c < cols; c += 8)
            transpose_8x8(in + r + (int64_t)c * col_stride, col_stride, out + r * out_stride + c, out_stride);
}
