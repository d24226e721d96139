/* TRANSPOSE of 4-byte elements (float32, int32) where the output's innermost dim is not contiguous
 * in the input, e.g. the NCHW -> NHWC transpose at a model's input or attention's K^T: the driver.
 * The view is simplified first (p2l_view_simplify), so NCHW -> NHWC becomes one [H*W, C] <- [C, H*W]
 * matrix transpose. The last two dims are then copied in 32 x 32 tiles so that both the reads and
 * the writes stay within a few cache lines per tile, each tile as the ISA's register-transposed
 * blocks where the input's rows are contiguous; tasks are (outer index, band of 32 rows). Three
 * columns read from contiguous rows (an RGB image's NCHW -> NHWC) are the ISA's interleave. Views
 * whose rows are contiguous are the reference kernel's memcpy per row. */
#include "kernels/fast/fast.h"

enum { TILE = P2L_TRANSPOSE_TILE, MIN_TASK_ELEMENTS = 16384 };

typedef struct transpose_state {
    void *reference_state; /* p2l_view */
    const p2l_fast_isa *isa; /* NULL: reference kernel */
    p2l_view view;           /* simplified, rank at least 2 */
    size_t outer, bands, bands_per_task, tasks;
} transpose_state;

static p2l_status transpose_prepare(p2l_node *node) {
    transpose_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *y = node->outputs[0];
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || p2l_dtype_size(y->dtype) != 4 || y->count == 0) return P2L_OK;
    p2l_view *v = &st->view;
    p2l_view_simplify(st->reference_state, v);
    const int rank = v->rank;
    if (rank < 2 || v->strides[rank - 1] == 1 || v->offset != 0) return P2L_OK; /* contiguous rows: memcpy */
    st->outer = p2l_dims_count(rank - 2, v->dims);
    st->bands = ((size_t)v->dims[rank - 2] + TILE - 1) / TILE;
    size_t band_elements = (size_t)TILE * (size_t)v->dims[rank - 1];
    st->bands_per_task = band_elements >= MIN_TASK_ELEMENTS ? 1 : (MIN_TASK_ELEMENTS + band_elements - 1) / band_elements;
    st->tasks = st->outer * ((st->bands + st->bands_per_task - 1) / st->bands_per_task);
    st->isa = isa;
    return P2L_OK;
}

typedef struct transpose_job {
    const transpose_state *st;
    const uint32_t *in;
    uint32_t *out;
} transpose_job;

/* Rows [r0, r1) of a 3-column output whose columns are rows of the input, channel_stride apart. */
static void interleave_3(const p2l_fast_isa *isa, const uint32_t *in, size_t channel_stride, uint32_t *out, size_t r0,
                         size_t r1) {
    if (isa->interleave_3) {
        isa->interleave_3(in, channel_stride, out, r0, r1);
        return;
    }
    for (size_t r = r0; r < r1; r++)
        for (size_t j = 0; j < 3; j++) out[r * 3 + j] = in[j * channel_stride + r];
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
        interleave_3(st->isa, in, (size_t)col_stride, out, r0, r1);
        return;
    }
    const size_t lanes = (size_t)st->isa->transpose_lanes;
    for (size_t r0 = band0 * TILE; r0 < band_end * TILE && r0 < rows; r0 += TILE) {
        const size_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
        for (size_t c0 = 0; c0 < cols; c0 += TILE) {
            const size_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
            size_t r = r0, c_full = c0;
            if (row_stride == 1) { /* the ISA's blocks, then element by element for what is left */
                c_full = c0 + (c1 - c0) / lanes * lanes;
                r = r0 + (r1 - r0) / lanes * lanes;
                if (r > r0 && c_full > c0)
                    st->isa->transpose_blocks(in + r0 + (int64_t)c0 * col_stride, col_stride, out + r0 * cols + c0,
                                              cols, r - r0, c_full - c0);
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
    if (!st->isa) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    transpose_job job = {st, node->inputs[0]->data, node->outputs[0]->data};
    p2l_parallel_for(p2l_node_pool(node, (double)node->outputs[0]->count), st->tasks, transpose_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_transpose = {transpose_prepare, transpose_invoke};
