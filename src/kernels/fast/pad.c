/* PAD / PADV2 with one repeated byte: zeros (the common case: explicit padding before a VALID
 * convolution), or for int8 / uint8 tensors any pad value, or (PAD) the output zero point as the
 * reference kernel pads. Trailing dims that are not padded are merged into the innermost padded one,
 * so for NHWC padding of H and W each output row (W and C together) is one memset, one memcpy and
 * one memset. Rows are tasks when the tensor is large. Other pad values use the reference kernel.
 * Nothing here is ISA specific (memset and memcpy), so every ISA uses it as it is; the float
 * selection reaches it through registry.c, int8 nodes through p2l_int8_fast_pad. */
#include <string.h>

#include "kernels/fast/fast.h"
#include "kernels/quant_math.h"

enum { ROWS_PER_TASK = 64 };

typedef struct pad_state {
    void *reference_state;
    bool fast;
    uint8_t fill;                   /* the byte every padded element is made of */
    int rank;                       /* dims up to and including the innermost padded one */
    int32_t in_dims[P2L_MAX_DIMS], out_dims[P2L_MAX_DIMS], before[P2L_MAX_DIMS];
    size_t inner;                   /* bytes of one element of the last kept dim (merged dims) */
    size_t rows;                    /* output rows: product of out_dims[0 .. rank - 2] */
} pad_state;

static p2l_status pad_prepare(p2l_node *node) {
    pad_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    const size_t size = p2l_dtype_size(x->dtype);
    if (node->input_count > 2 && node->inputs[2]) {
        const p2l_tensor *v = node->inputs[2];
        if (!v->known) return P2L_OK;
        const uint8_t *bytes = v->data;
        st->fill = bytes[0];
        for (size_t i = 0; i < p2l_dtype_size(v->dtype); i++)
            if (bytes[i] != st->fill || (bytes[i] && size != 1)) return P2L_OK; /* not one byte repeated */
    } else if (p2l_is_quantized_dtype(y->dtype) && y->quant_count) { /* the reference pads with the zero point */
        if (size != 1 && y->zero_points[0]) return P2L_OK;
        st->fill = (uint8_t)y->zero_points[0];
    }
    if (x->rank < 1 || y->count == 0) return P2L_OK;
    int64_t v[2 * P2L_MAX_DIMS];
    size_t n;
    P2L_TRY(p2l_read_ints(node->inputs[1], v, 2 * P2L_MAX_DIMS, &n));
    int last = -1;
    for (int d = 0; d < x->rank; d++)
        if (v[2 * d] || v[2 * d + 1]) last = d;
    if (last < 0) last = 0;
    size_t inner = p2l_dtype_size(x->dtype);
    for (int d = last + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    st->rank = last + 1;
    st->inner = inner;
    st->rows = 1;
    for (int d = 0; d <= last; d++) {
        st->in_dims[d] = x->dims[d];
        st->out_dims[d] = y->dims[d];
        st->before[d] = (int32_t)v[2 * d];
        if (d < last) st->rows *= (size_t)y->dims[d];
    }
    st->fast = true;
    return P2L_OK;
}

typedef struct pad_job {
    const pad_state *st;
    const uint8_t *in;
    uint8_t *out;
} pad_job;

static void pad_task(void *ctx, size_t task, int thread) {
    const pad_job *job = ctx;
    const pad_state *st = job->st;
    const int R = st->rank;
    const size_t out_row = (size_t)st->out_dims[R - 1] * st->inner, in_row = (size_t)st->in_dims[R - 1] * st->inner;
    const size_t before = (size_t)st->before[R - 1] * st->inner;
    const size_t first = task * ROWS_PER_TASK, end = first + ROWS_PER_TASK < st->rows ? first + ROWS_PER_TASK : st->rows;
    for (size_t r = first; r < end; r++) {
        uint8_t *out = job->out + r * out_row;
        /* The input row this output row comes from, if any. */
        size_t rest = r, src = 0, stride = 1;
        bool inside = true;
        for (int d = R - 2; d >= 0; d--) {
            int64_t i = (int64_t)(rest % (size_t)st->out_dims[d]) - st->before[d];
            rest /= (size_t)st->out_dims[d];
            if (i < 0 || i >= st->in_dims[d]) inside = false;
            src += (size_t)i * stride;
            stride *= (size_t)st->in_dims[d];
        }
        if (!inside) {
            memset(out, st->fill, out_row);
            continue;
        }
        memset(out, st->fill, before);
        memcpy(out + before, job->in + src * in_row, in_row);
        memset(out + before + in_row, st->fill, out_row - before - in_row);
    }
}

static p2l_status pad_invoke(p2l_node *node) {
    pad_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    pad_job job = {st, node->inputs[0]->data, node->outputs[0]->data};
    p2l_parallel_for(p2l_node_pool(node, (double)node->outputs[0]->count), (st->rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                     pad_task, &job);
    return P2L_OK;
}

const p2l_fast_driver p2l_fast_pad = {pad_prepare, pad_invoke};

/* The same for int8 nodes (p2l_int8_fast_kernel), with the reference PAD's arity. */
const p2l_kernel p2l_int8_fast_pad = {.prepare = pad_prepare, .invoke = pad_invoke, .min_inputs = 2, .max_inputs = 3,
                                      .min_outputs = 1, .max_outputs = 1};
