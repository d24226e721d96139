/* Fast int8 element-wise kernels (fast.h, "int8 element-wise rows"): ADD / SUB / MUL on int8, QUANTIZE
 * float32 -> int8 and DEQUANTIZE int8 -> float32 (per tensor). Each runs the reference kernel's
 * prepare (its checks, its output shape), then the ISA's rows, whose results equal the reference
 * kernels' bit for bit; nodes they do not cover (other types, per-channel scales, rescaling shifts
 * beyond 31 bits, an ISA without the rows) run the reference kernel. Large rows are cut into chunks
 * over the node's threads. */
#include "kernels/fast/fast.h"
#include "kernels/quant_math.h"

enum { CHUNK = 16 * 1024 }; /* elements per task of a long row */

typedef struct elementwise_state {
    void *reference_state;
    bool fast;
    /* ADD / SUB / MUL */
    p2l_i8_binary_row_fn binary_row;
    p2l_quant_binary *binary;
    p2l_bcast bcast;
    /* QUANTIZE / DEQUANTIZE */
    p2l_i8_quantize_row_fn quantize_row;
    p2l_i8_dequantize_row_fn dequantize_row;
    float scale;
    int32_t zero_point;
} elementwise_state;

static bool shift_in_range(p2l_multiplier m) { return m.shift >= -31 && m.shift <= 31; }

static p2l_status binary_prepare(p2l_node *node) {
    elementwise_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1];
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (a->dtype != P2L_INT8 || !a->quant_count || !isa || !isa->i8_binary_row) return P2L_OK;
    P2L_TRY(p2l_quant_binary_prepare(node, &st->binary));
    const p2l_quant_binary *q = st->binary;
    if (!shift_in_range(q->output) || (node->op != P2L_OP_MUL && (!shift_in_range(q->a) || !shift_in_range(q->b))))
        return P2L_OK;
    const p2l_tensor *operands[2] = {a, b};
    P2L_TRY(p2l_broadcast_output(node, 2, operands, &st->bcast));
    st->binary_row = isa->i8_binary_row;
    st->fast = true;
    return P2L_OK;
}

/* A chunk of the one row of an output without broadcast rows. */
static void binary_chunk(void *ctx, size_t task, int thread) {
    (void)thread;
    const p2l_fast_job *job = ctx;
    const elementwise_state *st = job->state;
    const p2l_node *node = job->node;
    const p2l_bcast *bc = &st->bcast;
    const size_t sa = bc->strides[0][bc->rank - 1], sb = bc->strides[1][bc->rank - 1];
    const size_t i = task * CHUNK, n = bc->inner - i < CHUNK ? bc->inner - i : CHUNK;
    st->binary_row(node->op, st->binary, (const int8_t *)node->inputs[0]->data + i * sa, sa,
                   (const int8_t *)node->inputs[1]->data + i * sb, sb, (int8_t *)node->outputs[0]->data + i, n);
}

static p2l_status binary_invoke(p2l_node *node) {
    const elementwise_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const p2l_bcast *bc = &st->bcast;
    if (bc->rows == 1) {
        p2l_fast_job job = {node, st};
        p2l_parallel_for(p2l_node_pool(node, (double)bc->inner), (bc->inner + CHUNK - 1) / CHUNK, binary_chunk, &job);
        return P2L_OK;
    }
    const int8_t *a = node->inputs[0]->data, *b = node->inputs[1]->data;
    int8_t *out = node->outputs[0]->data;
    p2l_bcast_iter it = {0};
    for (size_t r = 0; r < bc->rows; r++, out += bc->inner) {
        st->binary_row(node->op, st->binary, a + it.offset[0], bc->strides[0][bc->rank - 1], b + it.offset[1],
                       bc->strides[1][bc->rank - 1], out, bc->inner);
        if (r + 1 < bc->rows) p2l_bcast_next_row(bc, &it);
    }
    return P2L_OK;
}

/* QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32, one scale and zero point. */
static p2l_status convert_prepare(p2l_node *node) {
    elementwise_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    const bool quantize = node->op == P2L_OP_QUANTIZE;
    const p2l_tensor *q = quantize ? y : x;
    if (!isa || (quantize ? x : y)->dtype != P2L_FLOAT32 || q->dtype != P2L_INT8 || q->quant_count != 1) return P2L_OK;
    if (quantize ? !isa->i8_quantize_row : !isa->i8_dequantize_row) return P2L_OK;
    st->quantize_row = isa->i8_quantize_row;
    st->dequantize_row = isa->i8_dequantize_row;
    st->scale = q->scales[0];
    st->zero_point = (int32_t)q->zero_points[0];
    st->fast = true;
    return P2L_OK;
}

static void convert_chunk(void *ctx, size_t task, int thread) {
    (void)thread;
    const p2l_fast_job *job = ctx;
    const elementwise_state *st = job->state;
    const p2l_node *node = job->node;
    const size_t count = node->inputs[0]->count, i = task * CHUNK, n = count - i < CHUNK ? count - i : CHUNK;
    if (node->op == P2L_OP_QUANTIZE)
        st->quantize_row((const float *)node->inputs[0]->data + i, st->scale, st->zero_point,
                         (int8_t *)node->outputs[0]->data + i, n);
    else
        st->dequantize_row((const int8_t *)node->inputs[0]->data + i, st->scale, st->zero_point,
                           (float *)node->outputs[0]->data + i, n);
}

static p2l_status convert_invoke(p2l_node *node) {
    const elementwise_state *st = node->state;
    if (!st->fast) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const size_t count = node->inputs[0]->count;
    p2l_fast_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, (double)count), (count + CHUNK - 1) / CHUNK, convert_chunk, &job);
    return P2L_OK;
}

static const p2l_kernel int8_binary = {.prepare = binary_prepare, .invoke = binary_invoke, .min_inputs = 2,
                                       .max_inputs = 2, .min_outputs = 1, .max_outputs = 1};
static const p2l_kernel int8_convert = {.prepare = convert_prepare, .invoke = convert_invoke, .min_inputs = 1,
                                        .max_inputs = 1, .min_outputs = 1, .max_outputs = 1};

const p2l_kernel *p2l_int8_elementwise_fast_kernel(p2l_op op) {
    switch (op) {
    case P2L_OP_ADD:
    case P2L_OP_SUB:
    case P2L_OP_MUL: return &int8_binary;
    case P2L_OP_QUANTIZE:
    case P2L_OP_DEQUANTIZE: return &int8_convert;
    default: return NULL;
    }
}
