/* FULLY_CONNECTED (weights [out, in], optional bias) and BATCH_MATMUL (broadcast batch dims,
 * adj_x / adj_y). Float32 reference kernels; FULLY_CONNECTED also int8 (int8 weights per channel or
 * per tensor, int32 bias), as TFLite's reference integer kernel. */
#include "kernels/quant_math.h"

static p2l_status fully_connected_prepare(p2l_node *node) {
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias = node->input_count > 2 ? node->inputs[2] : NULL;
    const p2l_fully_connected_options *o = &node->opts.fully_connected;
    if (w->dtype == P2L_INT4) {
        P2L_TRY(p2l_fully_connected_int4_prepare(node));
    } else if (x->dtype == P2L_INT8) {
        P2L_TRY(p2l_expect_rank(w, 2));
        p2l_quant_conv *q;
        P2L_TRY(p2l_quant_conv_prepare(node, 0, 1, 2, 0, w->dims[0], o->fused_activation_function, &q));
        node->state = q;
    } else {
        P2L_TRY(p2l_expect_dtype(x, P2L_FLOAT32));
        if (w->dtype != P2L_INT8) P2L_TRY(p2l_expect_dtype(w, P2L_FLOAT32)); /* int8: hybrid (hybrid.c checks) */
        if (bias) P2L_TRY(p2l_expect_dtype(bias, P2L_FLOAT32));
        P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    }
    P2L_TRY(p2l_expect_rank(w, 2));
    if (o->weights_format != 0)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "shuffled weights formats are not supported");
    P2L_TRY(p2l_check_activation(o->fused_activation_function));
    int32_t units = w->dims[0], depth = w->dims[1];
    if (bias && bias->count != (size_t)units)
        return p2l_fail(P2L_ERROR_MALFORMED, "bias %s has %zu elements, expected %d", P2L_LABEL(bias), bias->count, units);
    if (x->rank < 1 || depth == 0 || x->count % (size_t)depth != 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "input %s (%zu elements) is not a whole number of rows of %d", P2L_LABEL(x),
                        x->count, depth);
    int32_t dims[P2L_MAX_DIMS];
    if (o->keep_num_dims) {
        if (x->dims[x->rank - 1] != depth)
            return p2l_fail(P2L_ERROR_MALFORMED, "input %s's last dim is %d, weights expect %d", P2L_LABEL(x),
                            x->dims[x->rank - 1], depth);
        for (int i = 0; i < x->rank - 1; i++) dims[i] = x->dims[i];
        dims[x->rank - 1] = units;
        return p2l_set_output_dims(node, 0, x->rank, dims);
    }
    size_t batch = x->count / (size_t)depth;
    if (batch > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "batch of %zu rows is too large", batch);
    dims[0] = (int32_t)batch;
    dims[1] = units;
    return p2l_set_output_dims(node, 0, 2, dims);
}

static void fully_connected_int8(const p2l_node *node) {
    const p2l_quant_conv *q = node->state;
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias_t = node->input_count > 2 ? node->inputs[2] : NULL;
    const size_t units = (size_t)w->dims[0], depth = (size_t)w->dims[1], batch = x->count / depth;
    const int8_t *in = x->data, *weights = w->data;
    const int32_t *bias = bias_t ? bias_t->data : NULL;
    int8_t *out = node->outputs[0]->data;
    for (size_t b = 0; b < batch; b++)
        for (size_t u = 0; u < units; u++) {
            const int8_t *row = in + b * depth, *wr = weights + u * depth;
            int32_t acc = 0;
            for (size_t k = 0; k < depth; k++) acc += (int32_t)wr[k] * ((int32_t)row[k] + q->input_offset);
            if (bias) acc += bias[u];
            const int32_t v = p2l_multiply_by_quantized_multiplier(acc, q->multipliers[u]) + q->output_offset;
            out[b * units + u] = (int8_t)p2l_clamp_i32(v, q->act_min, q->act_max);
        }
}

static p2l_status fully_connected_invoke(p2l_node *node) {
    if (node->inputs[1]->dtype == P2L_INT4) return p2l_fully_connected_int4_invoke(node);
    if (node->inputs[0]->dtype == P2L_INT8) {
        fully_connected_int8(node);
        return P2L_OK;
    }
    const p2l_tensor *x = node->inputs[0], *w = node->inputs[1];
    const p2l_tensor *bias_t = node->input_count > 2 ? node->inputs[2] : NULL;
    p2l_tensor *y = node->outputs[0];
    const size_t units = (size_t)w->dims[0], depth = (size_t)w->dims[1], batch = x->count / depth;
    const float *in = x->data, *weights = w->data, *bias = bias_t ? bias_t->data : NULL;
    float *out = y->data;
    for (size_t b = 0; b < batch; b++)
        for (size_t u = 0; u < units; u++) {
            const float *row = in + b * depth, *wr = weights + u * depth;
            float sum = bias ? bias[u] : 0.0f;
            for (size_t k = 0; k < depth; k++) sum += row[k] * wr[k];
            out[b * units + u] = sum;
        }
    p2l_apply_fused_activation(node);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_fully_connected = {
    .prepare = fully_connected_prepare, .invoke = fully_connected_invoke,
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1, .optional_inputs = 1u << 2,
};

typedef struct matmul_state {
    int batch_rank;
    int32_t batch_dims[P2L_MAX_DIMS];
    size_t a_strides[P2L_MAX_DIMS], b_strides[P2L_MAX_DIMS]; /* in matrices; 0 where broadcast */
    size_t batches, m, n, k;
    bool adj_x, adj_y;
} matmul_state;

static p2l_status batch_matmul_prepare(p2l_node *node) {
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    P2L_TRY(p2l_expect_dtype(a, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(b, P2L_FLOAT32));
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    if (a->rank < 2 || b->rank < 2)
        return p2l_fail(P2L_ERROR_MALFORMED, "both inputs need rank 2 or more (got %d and %d)", a->rank, b->rank);
    matmul_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    node->state = st;
    st->adj_x = node->opts.batch_matmul.adj_x;
    st->adj_y = node->opts.batch_matmul.adj_y;
    int32_t am = a->dims[a->rank - 2], ak = a->dims[a->rank - 1];
    int32_t bk = b->dims[b->rank - 2], bn = b->dims[b->rank - 1];
    if (st->adj_x) { int32_t t = am; am = ak; ak = t; }
    if (st->adj_y) { int32_t t = bk; bk = bn; bn = t; }
    if (ak != bk) return p2l_fail(P2L_ERROR_MALFORMED, "inner dims differ: %d vs %d", ak, bk);
    /* Broadcast the batch dims (all but the last two). */
    int rank = (a->rank > b->rank ? a->rank : b->rank) - 2;
    st->batch_rank = rank;
    size_t a_stride = 1, b_stride = 1;
    st->batches = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int ad = d - (rank - (a->rank - 2)), bd = d - (rank - (b->rank - 2));
        int32_t av = ad < 0 ? 1 : a->dims[ad], bv = bd < 0 ? 1 : b->dims[bd];
        if (av != bv && av != 1 && bv != 1)
            return p2l_fail(P2L_ERROR_MALFORMED, "batch dims do not broadcast: %d vs %d", av, bv);
        st->batch_dims[d] = av == 1 ? bv : av;
        st->a_strides[d] = av == 1 ? 0 : a_stride;
        st->b_strides[d] = bv == 1 ? 0 : b_stride;
        a_stride *= (size_t)av;
        b_stride *= (size_t)bv;
        st->batches *= (size_t)st->batch_dims[d];
    }
    st->m = (size_t)am, st->n = (size_t)bn, st->k = (size_t)ak;
    int32_t dims[P2L_MAX_DIMS];
    for (int d = 0; d < rank; d++) dims[d] = st->batch_dims[d];
    dims[rank] = am;
    dims[rank + 1] = bn;
    return p2l_set_output_dims(node, 0, rank + 2, dims);
}

static p2l_status batch_matmul_invoke(p2l_node *node) {
    const matmul_state *st = node->state;
    const float *A = node->inputs[0]->data, *B = node->inputs[1]->data;
    float *C = node->outputs[0]->data;
    const size_t m = st->m, n = st->n, k = st->k;
    /* Element strides of the two matrices, so adj_x/adj_y need no transposed copies. */
    const size_t a_row = st->adj_x ? 1 : k, a_col = st->adj_x ? m : 1;
    const size_t b_row = st->adj_y ? 1 : n, b_col = st->adj_y ? k : 1;
    int32_t index[P2L_MAX_DIMS] = {0};
    for (size_t batch = 0; batch < st->batches; batch++) {
        size_t ai = 0, bi = 0;
        for (int d = 0; d < st->batch_rank; d++) ai += (size_t)index[d] * st->a_strides[d], bi += (size_t)index[d] * st->b_strides[d];
        const float *a = A + ai * m * k, *b = B + bi * k * n;
        float *c = C + batch * m * n;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float sum = 0;
                for (size_t p = 0; p < k; p++) sum += a[i * a_row + p * a_col] * b[p * b_row + j * b_col];
                c[i * n + j] = sum;
            }
        p2l_index_next(st->batch_rank, st->batch_dims, index);
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_batch_matmul = {
    .prepare = batch_matmul_prepare, .invoke = batch_matmul_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
