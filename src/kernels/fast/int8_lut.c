/* Fast int8 element-wise unary kernels (fast.h, "int8 lookup"): LOGISTIC, HARD_SWISH, RELU, RELU6 and
 * RELU_N1_TO_1 on int8 tensors with per-tensor quantization. Each output element is a function of its
 * input byte alone, so prepare runs the reference kernel (its prepare: checks, output shape, state;
 * then its invoke) on the 256 int8 values once, and invoke looks every element up in that table with
 * the ISA's lookup row (a scalar loop where the ISA has none): equal to the reference kernel bit for
 * bit by construction, whatever arithmetic the reference uses. Long tensors are cut into chunks over
 * the node's threads. An int8 LOGISTIC offered the MUL of its input and its output (int8 SiLU, the
 * P2L_EPILOGUE_MUL_BY_INPUT fusion) takes it: the table then holds the reference MUL of each input
 * and its LOGISTIC, and the MUL's output is written directly. A per-tensor int8 DEQUANTIZE offered a
 * float detour ending in a QUANTIZE to int8 (P2L_EPILOGUE_INT8_DETOUR) takes it the same way: the table
 * holds what the detour's nodes, each run by the kernel the interpreter gives it, make of the 256
 * bytes, so the lookup equals the unfused run bit for bit; otherwise the DEQUANTIZE runs the int8
 * convert kernel. */
#include "kernels/fast/fast.h"
#include <string.h>

#include "kernels/quant_math.h"

enum { CHUNK = 16 * 1024 }; /* elements per task */

typedef struct lut_state {
    void *reference_state;
    p2l_i8_lookup_row_fn row; /* NULL: the node runs the reference kernel */
    int8_t table[256];        /* indexed by the input byte, (uint8_t)x */
    p2l_tensor *out;          /* output 0, or the fused MUL's output */
} lut_state;

static void lookup_row_scalar(const int8_t *table, const int8_t *in, int8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = table[(uint8_t)in[i]];
}

/* t with 256 elements at data (rank 1), its dtype and quantization kept. */
static p2l_tensor vector_256(const p2l_tensor *t, void *data) {
    p2l_tensor v = *t;
    v.rank = 1, v.dims[0] = 256, v.count = v.bytes = 256, v.data = data;
    v.is_constant = v.known = false;
    return v;
}

/* The reference kernel's output for each of the 256 inputs: the node itself, on a 256-element input. */
static p2l_status tabulate(p2l_node *node, const p2l_kernel *reference, void *reference_state, const int8_t *bytes,
                           int8_t *table) {
    p2l_tensor in = vector_256(node->inputs[0], (void *)bytes), out = vector_256(node->outputs[0], table);
    p2l_tensor *inputs[1] = {&in}, *outputs[1] = {&out};
    p2l_node probe = *node;
    probe.inputs = inputs, probe.outputs = outputs, probe.exec = NULL;
    return p2l_invoke_reference(&probe, reference, reference_state);
}

/* table[v] = the reference MUL of input v and table[v] (the op's output), onto the fused MUL's output
 * quantization (the pattern checked its operands and that it has no fused activation; the product of
 * the offset operands does not depend on their order). false where the reference MUL refuses them. */
static bool fold_mul_by_input(p2l_node *node, const int8_t *bytes, int8_t *table) {
    int8_t product[256];
    p2l_tensor x = vector_256(node->inputs[0], (void *)bytes), s = vector_256(node->outputs[0], table);
    p2l_tensor y = vector_256(node->fusion.epilogue_output, product);
    p2l_tensor *inputs[2] = {&x, &s}, *outputs[1] = {&y};
    p2l_node probe = {.op = P2L_OP_MUL, .index = node->index, .version = 1, .input_count = 2, .output_count = 1,
                      .inputs = inputs, .outputs = outputs, .arena = node->arena};
    const p2l_kernel *mul = p2l_reference_kernel_of(P2L_OP_MUL);
    if (mul->prepare(&probe) != P2L_OK || mul->invoke(&probe) != P2L_OK) {
        p2l_clear_error();
        return false;
    }
    memcpy(table, product, sizeof product);
    return true;
}

static p2l_status lut_prepare(p2l_node *node) {
    lut_state *st;
    const p2l_kernel *reference = p2l_reference_kernel_of(node->op);
    P2L_TRY(p2l_fast_prepare(node, reference, sizeof *st, (void **)&st));
    const p2l_tensor *x = node->inputs[0], *y = node->outputs[0];
    if (x->dtype != P2L_INT8 || y->dtype != P2L_INT8 || x->quant_count != 1 || y->quant_count != 1) return P2L_OK;
    int8_t bytes[256];
    for (int v = 0; v < 256; v++) bytes[v] = (int8_t)(uint8_t)v;
    P2L_TRY(tabulate(node, reference, st->reference_state, bytes, st->table));
    st->out = node->outputs[0];
    p2l_fusion *f = &node->fusion;
    if (f->epilogue == P2L_EPILOGUE_MUL_BY_INPUT && f->epilogue_output && f->epilogue_output->dtype == P2L_INT8 &&
        f->epilogue_output->quant_count == 1 && fold_mul_by_input(node, bytes, st->table)) {
        f->epilogue_taken = true;
        st->out = f->epilogue_output;
    }
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    st->row = isa && isa->i8_lookup_row ? isa->i8_lookup_row : lookup_row_scalar;
    return P2L_OK;
}

/* The bytes the chain DEQUANTIZE node, then f->epilogue_nodes, makes of the 256 int8 inputs: each node
 * a copy reading and writing 256-element tensors, run by the kernel the interpreter would give it
 * (dequantize for the DEQUANTIZE). false where a node cannot run so (it needs scratch, or refuses). */
enum { DETOUR_TENSORS = 1 + 2 * P2L_FUSION_MAX_ABSORBED };
static bool tabulate_detour(p2l_node *node, const p2l_kernel *dequantize, const int8_t *bytes, int8_t *table) {
    const p2l_fusion *f = &node->fusion;
    const p2l_tensor *originals[DETOUR_TENSORS]; /* the graph's tensors ... */
    p2l_tensor probes[DETOUR_TENSORS];            /* ... and their 256-element stand-ins */
    float data[P2L_FUSION_MAX_ABSORBED + 1][256];
    int known = 0;
    originals[known] = node->inputs[0], probes[known++] = vector_256(node->inputs[0], (void *)bytes);
    const p2l_kernel_selection selection = {0}; /* auto: the interpreter's, set while it prepares */
    for (int k = 0; k <= f->epilogue_node_count; k++) {
        p2l_node *n = k == 0 ? node : f->epilogue_nodes[k - 1];
        const p2l_kernel *kernel = k == 0 ? dequantize : p2l_kernel_for_node(&selection, n);
        p2l_tensor *inputs[2], *outputs[1];
        if (!kernel || n->input_count > 2 || n->output_count != 1) return false;
        for (int i = 0; i < n->input_count; i++) {
            int t = 0;
            while (t < known && originals[t] != n->inputs[i]) t++;
            if (t == known) return false; /* reads a tensor from outside the chain */
            inputs[i] = &probes[t];
        }
        const bool last = k == f->epilogue_node_count;
        if (known == DETOUR_TENSORS || (last && n->outputs[0] != f->epilogue_output)) return false;
        originals[known] = n->outputs[0];
        probes[known] = vector_256(n->outputs[0], last ? (void *)table : data[k]);
        probes[known].bytes = 256 * p2l_dtype_size(n->outputs[0]->dtype);
        outputs[0] = &probes[known++];
        p2l_node probe = *n;
        /* (the interpreter has not set up the later nodes yet: this node's arena) */
        probe.inputs = inputs, probe.outputs = outputs, probe.exec = NULL, probe.state = NULL;
        probe.arena = node->arena, probe.derived = node->derived;
        probe.scratch_bytes = 0;
        memset(&probe.fusion, 0, sizeof probe.fusion);
        if (kernel->prepare(&probe) != P2L_OK || probe.scratch_bytes || kernel->invoke(&probe) != P2L_OK) {
            p2l_clear_error();
            return false;
        }
    }
    return true;
}

static p2l_status detour_prepare(p2l_node *node) {
    const p2l_kernel *dequantize = p2l_int8_elementwise_fast_kernel(P2L_OP_DEQUANTIZE);
    const p2l_fusion *f = &node->fusion;
    const p2l_tensor *x = node->inputs[0], *y = f->epilogue_output;
    const bool offered = f->epilogue == P2L_EPILOGUE_INT8_DETOUR && y && x->dtype == P2L_INT8 && x->quant_count == 1 &&
                         y->dtype == P2L_INT8 && y->quant_count == 1 && y->count == x->count;
    int8_t bytes[256], table[256];
    for (int v = 0; v < 256; v++) bytes[v] = (int8_t)(uint8_t)v;
    /* the table first: the detour's nodes are prepared on copies, before this node's state is set */
    if (!offered || !tabulate_detour(node, dequantize, bytes, table)) return dequantize->prepare(node);
    lut_state *st;
    P2L_TRY(p2l_fast_prepare(node, p2l_reference_kernel_of(node->op), sizeof *st, (void **)&st));
    memcpy(st->table, table, sizeof table);
    st->out = f->epilogue_output;
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    st->row = isa && isa->i8_lookup_row ? isa->i8_lookup_row : lookup_row_scalar;
    node->fusion.epilogue_taken = true;
    return P2L_OK;
}

static void lut_chunk(void *ctx, size_t task, int thread) {
    (void)thread;
    const p2l_fast_job *job = ctx;
    const lut_state *st = job->state;
    const p2l_node *node = job->node;
    const size_t count = node->inputs[0]->count, i = task * CHUNK, n = count - i < CHUNK ? count - i : CHUNK;
    st->row(st->table, (const int8_t *)node->inputs[0]->data + i, (int8_t *)st->out->data + i, n);
}

static p2l_status lut_invoke(p2l_node *node) {
    const lut_state *st = node->state;
    if (!st->row) return p2l_invoke_reference(node, p2l_reference_kernel_of(node->op), st->reference_state);
    const size_t count = node->inputs[0]->count;
    p2l_fast_job job = {node, st};
    p2l_parallel_for(p2l_node_pool(node, (double)count), (count + CHUNK - 1) / CHUNK, lut_chunk, &job);
    return P2L_OK;
}

static p2l_status detour_invoke(p2l_node *node) {
    if (!node->fusion.epilogue_taken) return p2l_int8_elementwise_fast_kernel(P2L_OP_DEQUANTIZE)->invoke(node);
    return lut_invoke(node);
}

static const p2l_kernel int8_detour = {.prepare = detour_prepare, .invoke = detour_invoke, .min_inputs = 1,
                                       .max_inputs = 1, .min_outputs = 1, .max_outputs = 1};
static const p2l_kernel int8_lut = {.prepare = lut_prepare, .invoke = lut_invoke, .min_inputs = 1, .max_inputs = 1,
                                    .min_outputs = 1, .max_outputs = 1};

const p2l_kernel *p2l_int8_lut_fast_kernel(p2l_op op) {
    switch (op) {
    case P2L_OP_LOGISTIC:
    case P2L_OP_HARD_SWISH:
    case P2L_OP_RELU:
    case P2L_OP_RELU6:
    case P2L_OP_RELU_N1_TO_1: return &int8_lut;
    case P2L_OP_DEQUANTIZE: return &int8_detour; /* the int8 convert kernel where no detour is fused */
    default: return NULL;
    }
}
