/* The scheduler: a subgraph's nodes, prepare (shape inference, prepare-time folding, fusion offers,
 * then the memory plan) and invoke.
 *
 * Prepare walks the ops in order: each kernel checks its inputs and sets its outputs' dims. An op
 * whose inputs are all known at prepare time (constants, or results of such ops, or SHAPE of any
 * tensor) is computed right there and skipped at invoke; this is how shape arithmetic of dynamic
 * models (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) resolves before memory is planned. The other
 * tensors share one arena, planned by lifetime (planner.c). Constants are used in place. Before a
 * node is prepared, its kernel is offered fusions with its neighbours (fusions.c). */
#include <string.h>

#include "base/limits.h"
#include "kernels/quant_math.h"
#include "runtime/fusions.h"
#include "runtime/interpreter.h"

p2l_status p2l_graph_op_context(p2l_status s, const p2l_graph *g, int node) {
    return p2l_fail_context(s, "subgraph %d, op %d (%s)", g->index, node, p2l_op_info_of(g->nodes[node].op)->name);
}

void p2l_graph_set_dims(p2l_tensor *t, int rank, const int32_t *dims) {
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->count = p2l_dims_count(rank, dims); /* verified not to overflow */
    t->bytes = t->count * p2l_dtype_size(t->dtype);
}

static void init_tensors(p2l_graph *g) {
    const p2l_tfl_subgraph *sg = g->sg;
    for (int t = 0; t < sg->tensor_count; t++) {
        const p2l_tfl_tensor *src = &sg->tensors[t];
        p2l_tensor *dst = &g->tensors[t];
        *dst = (p2l_tensor){.name = src->name, .index = t, .dtype = src->dtype, .quant_count = src->quant_count,
                            .quantized_dimension = src->quantized_dimension, .scales = src->scales,
                            .zero_points = src->zero_points, .block_size = src->block_size,
                            .block_scales = src->block_size ? (const void *)sg->tensors[src->block_scales].data : NULL};
        p2l_graph_set_dims(dst, src->rank, src->shape);
        if (src->data) {
            dst->data = (void *)src->data; /* read-only: kernels never write inputs */
            dst->is_constant = dst->known = true;
        }
        g->producer[t] = -1;
    }
    for (int i = 0; i < sg->input_count; i++) g->is_input[sg->inputs[i]] = true;
    for (int i = 0; i < sg->output_count; i++) g->is_output[sg->outputs[i]] = true;
}

/* Node io pointer arrays live as long as the interpreter, so they are separate from prepare state. */
static p2l_status init_nodes(p2l_graph *g) {
    const p2l_tfl_subgraph *sg = g->sg;
    size_t io_count = 0;
    for (int o = 0; o < sg->op_count; o++) io_count += (size_t)sg->ops[o].input_count + (size_t)sg->ops[o].output_count;
    p2l_tensor **io = p2l_alloc_zero(io_count * sizeof *io + 1);
    if (!io) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    g->io = io;
    for (int o = 0; o < sg->op_count; o++) {
        const p2l_tfl_operator *op = &sg->ops[o];
        g->nodes[o] = (p2l_node){.op = op->op, .index = o, .version = op->version, .input_count = op->input_count,
                                 .output_count = op->output_count, .options = op->options,
                                 .has_option_ints = op->has_option_ints, .option_int_count = op->option_int_count,
                                 .option_ints = op->option_ints, .inputs = io, .outputs = io + op->input_count};
        /* Parsed for every node before any is prepared: the fusion offers read later nodes' options. */
        p2l_parse_options(&g->nodes[o]);
        for (int i = 0; i < op->input_count; i++) {
            *io++ = op->inputs[i] < 0 ? NULL : &g->tensors[op->inputs[i]];
            if (op->inputs[i] >= 0) g->readers[op->inputs[i]]++;
        }
        for (int i = 0; i < op->output_count; i++) {
            *io++ = &g->tensors[op->outputs[i]];
            g->producer[op->outputs[i]] = o;
        }
    }
    return P2L_OK;
}

p2l_status p2l_graph_init(p2l_graph *g, const p2l_tfl_subgraph *sg, int index) {
    g->index = index;
    g->sg = sg;
    g->tensors = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *g->tensors + 1);
    g->nodes = p2l_alloc_zero((size_t)sg->op_count * sizeof *g->nodes + 1);
    g->kernels = p2l_alloc_zero((size_t)sg->op_count * sizeof *g->kernels + 1);
    g->folded = p2l_alloc_zero((size_t)sg->op_count + 1);
    g->skipped = p2l_alloc_zero((size_t)sg->op_count + 1);
    g->is_input = p2l_alloc_zero((size_t)sg->tensor_count + 1);
    g->is_output = p2l_alloc_zero((size_t)sg->tensor_count + 1);
    g->readers = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *g->readers + 1);
    g->producer = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *g->producer + 1);
    if (g->ctx->profile) g->profile = p2l_alloc_zero((size_t)sg->op_count * sizeof *g->profile + 1);
    if (!g->tensors || !g->nodes || !g->kernels || !g->folded || !g->skipped || !g->is_input || !g->is_output ||
        !g->readers || !g->producer || (g->ctx->profile && !g->profile))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    init_tensors(g);
    return init_nodes(g);
}

void p2l_graph_release_plan(p2l_graph *g) {
    p2l_arena_free(&g->prepare_arena);
    g->variable_aliases = NULL;
    g->variable_alias_count = 0;
    p2l_release(g->arena_block);
    g->arena_block = NULL;
    g->arena_size = 0;
    g->prepared = false;
}

void p2l_graph_free(p2l_graph *g) {
    p2l_graph_release_plan(g);
    p2l_release(g->io);
    p2l_release(g->tensors);
    p2l_release(g->nodes);
    p2l_release(g->kernels);
    p2l_release(g->folded);
    p2l_release(g->skipped);
    p2l_release(g->is_input);
    p2l_release(g->is_output);
    p2l_release(g->readers);
    p2l_release(g->producer);
    p2l_release(g->profile);
}

/* Grows the scratch block to the largest per-thread need of any node prepared so far; the contents
 * are not kept (kernels use scratch only within one invoke). */
static p2l_status reserve_scratch(p2l_graph *g, size_t per_thread) {
    p2l_exec *e = &g->ctx->exec;
    if (per_thread <= e->scratch_stride) return P2L_OK;
    P2L_TRY(P2L_CHECK_LIMIT(g->limits, max_arena_bytes, per_thread, "scratch memory per thread in bytes"));
    size_t stride, total;
    int threads = p2l_threadpool_threads(e->pool);
    if (!p2l_round_up_size(per_thread, 64, &stride) || !p2l_mul_size(stride, (size_t)threads, &total) ||
        !p2l_add_size(total, 64, &total))
        return p2l_fail(P2L_ERROR_LIMIT, "scratch memory of %zu bytes per thread is too large", per_thread);
    /* Allocate before releasing: other subgraphs of the interpreter stay prepared with the old block
     * if this fails. */
    void *block = p2l_alloc(total);
    if (!block) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory allocating %zu bytes of scratch memory", total);
    p2l_release(g->ctx->scratch_block);
    g->ctx->scratch_block = block;
    e->scratch = p2l_align_pointer(block, 64);
    e->scratch_stride = stride;
    return P2L_OK;
}

static bool node_foldable(const p2l_node *n, const p2l_kernel *k) {
    if (k->flags & P2L_KERNEL_NO_FOLD) return false;
    if (k->flags & P2L_KERNEL_SHAPE_ONLY) return true;
    return n->input_count > 0 && p2l_node_inputs_known(n);
}

/* Computes node o's outputs now (it is skipped at invoke). */
static p2l_status fold_node(p2l_graph *g, int o, size_t *folded_bytes) {
    p2l_node *n = &g->nodes[o];
    for (int i = 0; i < n->output_count; i++) {
        p2l_tensor *out = n->outputs[i];
        if (!p2l_add_size(*folded_bytes, out->bytes, folded_bytes)) *folded_bytes = SIZE_MAX;
        P2L_TRY(P2L_CHECK_LIMIT(g->limits, max_arena_bytes, *folded_bytes, "bytes of values computed at prepare time"));
        out->data = p2l_arena_alloc(&g->prepare_arena, out->bytes ? out->bytes : 1);
        if (!out->data) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    P2L_TRY(g->kernels[o]->invoke(n));
    for (int i = 0; i < n->output_count; i++) n->outputs[i]->known = true;
    g->folded[o] = true;
    return P2L_OK;
}

/* Prepares every node in order, then plans the memory of what is left to run at invoke. */
static p2l_status prepare_nodes(p2l_graph *g) {
    p2l_graph_release_plan(g);
    const p2l_tfl_subgraph *sg = g->sg;
    for (int t = 0; t < sg->tensor_count; t++) {
        p2l_tensor *x = &g->tensors[t];
        if (x->is_constant) continue;
        x->data = NULL;
        x->known = false;
    }
    memset(g->skipped, 0, (size_t)sg->op_count);
    size_t folded_bytes = 0; /* values computed at prepare time count against max_arena_bytes */
    for (int o = 0; o < sg->op_count; o++) {
        p2l_node *n = &g->nodes[o];
        /* model.c checked that every op has a kernel; the reference table has every op the fast one has */
        const p2l_kernel *k = g->kernels[o] = p2l_kernel_for_node(&g->ctx->kernels, n);
        n->state = NULL;
        n->arena = &g->prepare_arena;
        n->derived = g->derived;
        n->exec = &g->ctx->exec;
        n->scratch_bytes = 0;
        g->folded[o] = false;
        p2l_fusion_offers offers;
        p2l_fusions_offer(g, o, &offers);
        p2l_status s = k->prepare(n);
        if (!s) s = reserve_scratch(g, n->scratch_bytes);
        if (s) return p2l_graph_op_context(s, g, o);
        p2l_fusions_apply(g, o, &offers);
        if (!node_foldable(n, k)) continue;
        s = fold_node(g, o, &folded_bytes);
        if (s) return p2l_graph_op_context(s, g, o);
    }
    P2L_TRY(p2l_graph_plan_memory(g));
    g->prepared = true;
    return P2L_OK;
}

/* Kernels run in the same float mode at prepare time (folding) as at invoke, so a value folded by
 * p2l_interpreter_allocate equals the one invoke would compute. The interpreter's kernel selection
 * holds while its nodes are prepared: kernels and their micro-kernels are chosen then. */
p2l_status p2l_graph_prepare(p2l_graph *g) {
    const unsigned float_mode = p2l_flush_denormals_begin();
    p2l_kernel_selection_begin(&g->ctx->kernels);
    const p2l_status status = prepare_nodes(g);
    p2l_kernel_selection_end();
    p2l_flush_denormals_end(float_mode);
    return status;
}

p2l_status p2l_graph_invoke(p2l_graph *g) {
    if (!g->prepared) P2L_TRY(p2l_graph_prepare(g));
    if (g->binding_stale) return p2l_graph_stale_binding(g);
    p2l_graph_follow_variable_buffers(g);
    p2l_node_profile *profile = g->profile;
    atomic_bool *cancel = &g->ctx->cancel;
    for (int o = 0; o < g->sg->op_count; o++) {
        if (g->folded[o] || g->skipped[o]) continue;
        if (atomic_load_explicit(cancel, memory_order_relaxed)) {
            atomic_store(cancel, false);
            return p2l_fail(P2L_ERROR_CANCELLED, "subgraph %d: invoke cancelled before op %d (%s)", g->index, o,
                            p2l_op_info_of(g->nodes[o].op)->name);
        }
        p2l_node *n = &g->nodes[o];
        double start = profile ? p2l_profile_now() : 0;
        p2l_status s = g->kernels[o]->invoke(n);
        if (s) return p2l_graph_op_context(s, g, o);
        if (n->op == P2L_OP_CALL_ONCE) p2l_graph_follow_variable_buffers(g); /* it may prepare a subgraph */
        if (profile) p2l_profile_add(&profile[o], p2l_profile_now() - start);
    }
    g->invokes++;
    return P2L_OK;
}
