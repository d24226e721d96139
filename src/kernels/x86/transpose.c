/* TRANSPOSE of 4-byte elements (float32, int32) where the output's innermost dim is not contiguous
 * in the input, e.g. the NCHW -> NHWC transpose at a model's input or attention's K^T. The view is
 * simplified first (p2l_view_simplify), so NCHW -> NHWC becomes one [H*W, C] <- [C, H*W] matrix
 * transpose. The last two dims are then copied in 32 x 32 tiles so that both the reads and the writes
 * stay within a few cache lines per tile, each tile as 8 x 8 register transposes where the input's
 * rows are contiguous; tasks are (outer index, band of 32 rows). Three columns read from contiguous
 * rows (an RGB image's NCHW -> NHWC) are interleaved with vector permutes instead. Views whose rows
 * are contiguous are the reference kernel's memcpy per row. */
#include <string.h>

#include "kernels/x86/x86.h"

enum { TILE = 32, MIN_TASK_ELEMENTS = 16384 };

typedef struct transpose_state {
    void *reference_state; /* p2l_view */
    bool fast;
    p2l_view view;         /* simplified, rank at least 2 */
    size_t outer, bands, bands_per_task, tasks;
} transpose_state;

static p2l_status transpose_prepare(p2l_node *node) {
    transpose_state *st;
    P2L_TRY(p2l_fast_prepare(node, &p2l_kernel_transpose, sizeof *st, (void **)&st));
    const p2l_tensor *y = node->outputs[0];
    if (p2l_dtype_size(y->dtype) != 4 || y->count == 0) return P2L_OK;
    p2l_view *v = &st->view;
    p2l_view_simplify(st->reference_state, v);
    const int rank = v->rank;
    if (rank < 2 || v->strides[rank - 1] == 1 || v->offset != 0) return P2L_OK; /* contiguous rows: memcpy */
    st->outer = p2l_dims_count(rank - 2, v->dims);
    st->bands = ((size_t)v->dims[rank - 2] + TILE - 1) / TILE;
    size_t band_elements = (size_t)TILE * (size_t)v->dims[rank - 1];
    st->bands_per_task = band_elements >= MIN_TASK_ELEMENTS ? 1 : (MIN_TASK_ELEMENTS + band_elements - 1) / band_elements;
    st->tasks = st->outer * ((st->bands + st->bands_per_task - 1) / st->bands_per_task);
    st->fast = true;
    return P2L_OK;
}

typedef struct transpose_job {
    const transpose_state *st;
    const uint32_t *in;
    uint32_t *out;
} transpose_job;

/* Rows [r0, r1) of a 3-column output whose columns are contiguous rows of the input (NCHW -> NHWC
 * of an RGB image): 8 rows of each input channel make 24 interleaved outputs, each output vector a
 * blend of the three channels' vectors permuted alike. Element j of the 24 comes from channel j % 3,
 * row j / 3. */
static void interleave_3(const uint32_t *in, size_t channel_stride, uint32_t *out, size_t r0, size_t r1) {
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

static void transpose_task(void *ctx, size_t task, int thread) {
    (void)thread;
    const transpose_job *job = ctx;
    const transpose_state *st = job->st;
    const p2l_view *v = &st->view;
    const int R = v->rank;
    const size_t rows = (size_t)v->dims[R - 2], cols = (size_t)v->dims[R - 1];
    const int64_t row_stride = v->strides[R - 2], col_stride = v->strides[R - 1];
    const size_t task_groups = (st->bands + st->bands_per_task - 1) / st->bands_per_task;
    size_t outer = task / task_groups;
    const size_t band0 = task % task_groups * st->bands_per_task;
    const size_t band_end = band0 + st->bands_per_task < st->bands ? band0 + st->bands_per_task : st->bands;
    int64_t in_offset = 0;
    for (int d = R - 3; d >= 0; d--) {
        in_offset += (int64_t)(outer % (size_t)v->dims[d]) * v->strides[d];
        outer /= (size_t)v->dims[d];
    }
    const uint32_t *in = job->in + in_offset;
    uint32_t *out = job->out + task / task_groups * rows * cols;
    if (cols == 3 && row_stride == 1 && col_stride > 0) {
        const size_t r0 = band0 * TILE, r1 = band_end * TILE < rows ? band_end * TILE : rows;
        interleave_3(in, (size_t)col_stride, out, r0, r1);
        return;
    }
    for (size_t r0 = band0 * TILE; r0 < band_end * TILE && r0 < rows; r0 += TILE) {
        const size_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
        for (size_t c0 = 0; c0 < cols; c0 += TILE) {
            const size_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
            size_t r = r0, c_full = c0;
            if (row_stride == 1) { /* 8 x 8 blocks, then the scalar loop for what is left */
                c_full = c0 + (c1 - c0) / 8 * 8;
                for (; r + 8 <= r1; r += 8)
                    for (size_t c = c0; c < c_full; c += 8)
                        transpose_8x8(in + r + (int64_t)c * col_stride, col_stride, out + r * cols + c, cols);
                for (size_t rr = r0; rr < r; rr++) /* the rows done, columns past the last block */
                    for (size_t c = c_full; c < c1; c++) out[rr * cols + c] = in[rr + (int64_t)c * col_stride];
            }
            for (; r < r1; r++) {
                const uint32_t *src = in + (int64_t)r * row_stride;
                uint32_t *dst = out + r * cols;
                for (size_t c = c0; c < c1; c++) dst[c] = src[(int64_t)c * col_stride];
            }
        }
    }
}

static p2l_status transpose_invoke(p2l_node *node) {
    transpose_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, &p2l_kernel_transpose, st->reference_state);
    transpose_job job = {st, node->inputs[0]->data, node->outputs[0]->data};
    p2l_parallel_for(p2l_node_pool(node, (double)node->outputs[0]->count), st->tasks, transpose_task, &job);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_transpose_x86 = {
    .prepare = transpose_prepare, .invoke = transpose_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
