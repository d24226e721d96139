/* p2l_interpreter: tensors, prepare (shape inference, prepare-time folding, memory plan) and invoke.
 *
 * Prepare walks the ops in order: each kernel checks its inputs and sets its outputs' dims. An op
 * whose inputs are all known at prepare time (constants, or results of such ops, or SHAPE of any
 * tensor) is computed right there and skipped at invoke; this is how shape arithmetic of dynamic
 * models (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) resolves before memory is planned. The other
 * tensors share one arena, planned by lifetime (planner.c). Constants are used in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/limits.h"
#include "runtime/runtime.h"

enum { TENSOR_ALIGNMENT = 64 };

/* Threads and scratch memory, shared by the interpreter's subgraphs (they run one at a time). */
typedef struct exec_context {
    p2l_exec exec;
    void *scratch_block; /* exec.scratch before alignment */
    bool profile;        /* P2L_INTERPRETER_PROFILE or P2L_PROFILE: time every node */
    int print_profile;   /* P2L_PROFILE=1: per op type to stderr when freed; 2: and per node of subgraph 0 */
    bool no_fusion;      /* P2L_INTERPRETER_NO_FUSION or P2L_NO_FUSION=1: run every op as written */
    p2l_kernel_selection kernels; /* p2l_interpreter_options.kernels */
    atomic_bool cancel;  /* p2l_interpreter_cancel: stop the running (or next) invoke between nodes */
} exec_context;

typedef struct node_profile {
    double seconds, min_seconds;
    long runs;
} node_profile;

typedef struct graph {
    int index;
    const p2l_tfl_subgraph *sg;
    p2l_tensor *tensors;
    p2l_node *nodes;
    bool *folded;           /* node computed at prepare time */
    bool *skipped;          /* node absorbed into another by a fusion, or a view sharing its input's memory */
    bool *is_input;         /* tensor is a subgraph input */
    bool *is_output;        /* tensor is a subgraph output */
    const p2l_kernel **kernels; /* per node: the kernel this interpreter runs it with */
    node_profile *profile;  /* per node, when profiling */
    long invokes;
    int *readers;           /* per tensor: how many op inputs name it */
    int *producer;          /* per tensor: the op that writes it, -1 for none */
    p2l_tensor **io;        /* storage of every node's input and output pointers */
    p2l_arena prepare_arena; /* kernel state and folded values of the current plan */
    void *arena_block;      /* tensor memory of the current plan */
    size_t arena_size;
    bool prepared;
    exec_context *ctx;      /* the interpreter's threads and scratch */
    const p2l_limits *limits; /* the model's (max_arena_bytes, max_tensor_bytes) */
} graph;

struct p2l_interpreter {
    p2l_model *model;
    int num_threads;
    exec_context ctx;
    int graph_count;
    graph *graphs;
    p2l_profile_entry *profile_table; /* p2l_interpreter_profile's answer */
    /* LIVE_INTERPRETER while the interpreter lives, cleared by p2l_interpreter_free: catches most uses
     * after free. Last, away from the allocator's own bookkeeping at the start of a freed block. */
    uint64_t live;
};

#define LIVE_INTERPRETER UINT64_C(0x70326c6c69766521) /* "p2llive!" */

/* Every entry point's first check: NULL, or not (any longer) an interpreter. */
static p2l_status check_live(const p2l_interpreter *it, const char *fn) {
    if (!it) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: interpreter is NULL", fn);
    if (it->live != LIVE_INTERPRETER)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: not a live interpreter (freed already, or not one)", fn);
    return P2L_OK;
}

static p2l_status op_context(p2l_status s, const graph *g, int node) {
    return p2l_fail_context(s, "subgraph %d, op %d (%s)", g->index, node, p2l_op_info_of(g->nodes[node].op)->name);
}

static void set_dims(p2l_tensor *t, int rank, const int32_t *dims) {
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->count = p2l_dims_count(rank, dims); /* verified not to overflow */
    t->bytes = t->count * p2l_dtype_size(t->dtype);
}

static p2l_status graph_init(graph *g, const p2l_tfl_subgraph *sg, int index) {
    g->index = index;
    g->sg = sg;
    g->tensors = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *g->tensors + 1);
    g->nodes = p2l_alloc_zero((size_t)sg->op_count * sizeof *g->nodes + 1);
    g->folded = p2l_alloc_zero((size_t)sg->op_count + 1);
    g->skipped = p2l_alloc_zero((size_t)sg->op_count + 1);
    g->is_input = p2l_alloc_zero((size_t)sg->tensor_count + 1);
    g->is_output = p2l_alloc_zero((size_t)sg->tensor_count + 1);
    g->readers = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *g->readers + 1);
    g->producer = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *g->producer + 1);
    g->kernels = p2l_alloc_zero((size_t)sg->op_count * sizeof *g->kernels + 1);
    if (g->ctx->profile) g->profile = p2l_alloc_zero((size_t)sg->op_count * sizeof *g->profile + 1);
    if (!g->tensors || !g->nodes || !g->folded || !g->skipped || !g->is_input || !g->is_output || !g->readers ||
        !g->producer || !g->kernels || (g->ctx->profile && !g->profile))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    for (int t = 0; t < sg->tensor_count; t++) {
        const p2l_tfl_tensor *src = &sg->tensors[t];
        p2l_tensor *dst = &g->tensors[t];
        dst->name = src->name;
        dst->index = t;
        dst->dtype = src->dtype;
        set_dims(dst, src->rank, src->shape);
        if (src->data) {
            dst->data = (void *)src->data; /* read-only: kernels never write inputs */
            dst->is_constant = dst->known = true;
        }
    }
    for (int i = 0; i < sg->input_count; i++) g->is_input[sg->inputs[i]] = true;
    for (int i = 0; i < sg->output_count; i++) g->is_output[sg->outputs[i]] = true;
    for (int t = 0; t < sg->tensor_count; t++) g->producer[t] = -1;
    for (int o = 0; o < sg->op_count; o++) {
        const p2l_tfl_operator *op = &sg->ops[o];
        for (int i = 0; i < op->input_count; i++)
            if (op->inputs[i] >= 0) g->readers[op->inputs[i]]++;
        for (int i = 0; i < op->output_count; i++) g->producer[op->outputs[i]] = o;
        /* model.c checked that every op has a kernel; the reference table has every op the fast one has */
        g->kernels[o] = p2l_kernel_selected(&g->ctx->kernels, op->op);
    }
    return P2L_OK;
}

/* Node io pointer arrays live as long as the interpreter, so they are separate from prepare state. */
static p2l_status graph_init_nodes(graph *g) {
    const p2l_tfl_subgraph *sg = g->sg;
    size_t io_count = 0;
    for (int o = 0; o < sg->op_count; o++) io_count += (size_t)sg->ops[o].input_count + (size_t)sg->ops[o].output_count;
    p2l_tensor **io = p2l_alloc_zero(io_count * sizeof *io + 1);
    if (!io) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    g->io = io;
    for (int o = 0; o < sg->op_count; o++) {
        const p2l_tfl_operator *op = &sg->ops[o];
        p2l_node *n = &g->nodes[o];
        n->op = op->op;
        n->index = o;
        n->version = op->version;
        n->input_count = op->input_count;
        n->output_count = op->output_count;
        n->options = op->options;
        n->has_option_ints = op->has_option_ints;
        n->option_int_count = op->option_int_count;
        n->option_ints = op->option_ints;
        p2l_parse_options(n);
        n->inputs = io;
        for (int i = 0; i < op->input_count; i++) *io++ = op->inputs[i] < 0 ? NULL : &g->tensors[op->inputs[i]];
        n->outputs = io;
        for (int i = 0; i < op->output_count; i++) *io++ = &g->tensors[op->outputs[i]];
    }
    return P2L_OK;
}

static void graph_release_plan(graph *g) {
    p2l_arena_free(&g->prepare_arena);
    p2l_release(g->arena_block);
    g->arena_block = NULL;
    g->arena_size = 0;
    g->prepared = false;
}

static void graph_free(graph *g) {
    graph_release_plan(g);
    p2l_release(g->io);
    p2l_release(g->tensors);
    p2l_release(g->nodes);
    p2l_release(g->folded);
    p2l_release(g->skipped);
    p2l_release(g->is_input);
    p2l_release(g->is_output);
    p2l_release(g->readers);
    p2l_release(g->producer);
    p2l_release(g->kernels);
    p2l_release(g->profile);
}

/* Grows the scratch block to the largest per-thread need of any node prepared so far; the contents
 * are not kept (kernels use scratch only within one invoke). */
static p2l_status reserve_scratch(graph *g, size_t per_thread) {
    p2l_exec *e = &g->ctx->exec;
    if (per_thread <= e->scratch_stride) return P2L_OK;
    P2L_TRY(P2L_CHECK_LIMIT(g->limits, max_arena_bytes, per_thread, "scratch memory per thread in bytes"));
    size_t stride = (per_thread + 63) & ~(size_t)63, total;
    int threads = p2l_threadpool_threads(e->pool);
    if (stride < per_thread || !p2l_mul_size(stride, (size_t)threads, &total) || !p2l_add_size(total, 64, &total))
        return p2l_fail(P2L_ERROR_LIMIT, "scratch memory of %zu bytes per thread is too large", per_thread);
    /* Allocate before releasing: other subgraphs of the interpreter stay prepared with the old block
     * if this fails. */
    void *block = p2l_alloc(total);
    if (!block) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory allocating %zu bytes of scratch memory", total);
    p2l_release(g->ctx->scratch_block);
    g->ctx->scratch_block = block;
    e->scratch = (uint8_t *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    e->scratch_stride = stride;
    return P2L_OK;
}

static bool node_foldable(const p2l_node *n, const p2l_kernel *k) {
    if (k->flags & P2L_KERNEL_NO_FOLD) return false;
    if (k->flags & P2L_KERNEL_SHAPE_ONLY) return true;
    if (n->input_count == 0) return false;
    for (int i = 0; i < n->input_count; i++)
        if (n->inputs[i] && !n->inputs[i]->known) return false;
    return true;
}

/* ------------------------------------------------------------ fusions
 *
 * Before a CONV_2D or DEPTHWISE_CONV_2D is prepared, the runtime offers its kernel (node->fusion):
 * - a zero PAD of H and W in front of it: the convolution reads the PAD's input with more implicit
 *   padding and the PAD is skipped;
 * - LOGISTIC + MUL (SiLU) or HARD_SWISH after it: applied in the convolution's store, both skipped.
 * Only where the intermediate tensors have no other reader, are not subgraph outputs and are not
 * computed at prepare time. A kernel that does not take an offer leaves the ops as they are. */
static bool plain_intermediate(const graph *g, const p2l_tensor *t, int readers) {
    return t && t->dtype == P2L_FLOAT32 && !t->is_constant && !t->known && g->readers[t->index] == readers &&
           !g->is_output[t->index] && !g->is_input[t->index];
}

/* The one node after `after` that reads t other than `except`; -1 if none. */
static int reader_after(const graph *g, const p2l_tensor *t, int after, int except) {
    for (int o = after + 1; o < g->sg->op_count; o++) {
        if (o == except) continue;
        const p2l_node *n = &g->nodes[o];
        for (int i = 0; i < n->input_count; i++)
            if (n->inputs[i] == t) return o;
    }
    return -1;
}

typedef struct fusion_plan {
    int pad;         /* PAD node to skip, -1 for none */
    int absorbed[2]; /* epilogue nodes to skip, -1 for none */
} fusion_plan;

static bool zero_spatial_pad(const graph *g, int p, int *top, int *left) {
    const p2l_node *pad = &g->nodes[p];
    if ((pad->op != P2L_OP_PAD && pad->op != P2L_OP_PADV2) || g->folded[p] || g->skipped[p]) return false;
    const p2l_tensor *u = pad->inputs[0], *paddings = pad->inputs[1];
    if (!u || u->dtype != P2L_FLOAT32 || u->rank != 4 || !paddings || !paddings->known) return false;
    if (pad->input_count > 2 && pad->inputs[2]) {
        const p2l_tensor *v = pad->inputs[2];
        uint32_t bits = 1;
        if (v->known && v->dtype == P2L_FLOAT32 && v->count == 1) memcpy(&bits, v->data, sizeof bits);
        if (bits != 0) return false; /* pads with +0.0 only */
    }
    int64_t v[8];
    size_t count = 0;
    if (p2l_read_ints(paddings, v, 8, &count) != P2L_OK) {
        p2l_clear_error();
        return false;
    }
    if (count != 8 || v[0] || v[1] || v[6] || v[7]) return false;
    for (int i = 2; i < 6; i++)
        if (v[i] < 0 || v[i] > 1 << 20) return false;
    *top = (int)v[2];
    *left = (int)v[4];
    return true;
}

static void offer_fusions(graph *g, int o, fusion_plan *plan) {
    p2l_node *n = &g->nodes[o];
    p2l_fusion *f = &n->fusion;
    plan->pad = plan->absorbed[0] = plan->absorbed[1] = -1;
    const p2l_tensor *x = n->inputs[0];
    if (x && plain_intermediate(g, x, 1) && g->producer[x->index] >= 0 && g->producer[x->index] < o &&
        zero_spatial_pad(g, g->producer[x->index], &f->pad_top, &f->pad_left)) {
        plan->pad = g->producer[x->index];
        f->unpadded = g->nodes[plan->pad].inputs[0];
    }
    p2l_tensor *y = n->outputs[0];
    if (plain_intermediate(g, y, 1)) {
        int r = reader_after(g, y, o, -1);
        if (r >= 0 && g->nodes[r].op == P2L_OP_HARD_SWISH && !g->skipped[r] &&
            g->nodes[r].outputs[0]->dtype == P2L_FLOAT32) {
            f->epilogue = P2L_EPILOGUE_HARD_SWISH;
            f->epilogue_output = g->nodes[r].outputs[0];
            plan->absorbed[0] = r;
        }
    } else if (plain_intermediate(g, y, 2)) {
        int l = reader_after(g, y, o, -1);
        int m = l >= 0 ? reader_after(g, y, o, l) : -1;
        if (l >= 0 && m >= 0 && g->nodes[l].op == P2L_OP_MUL) {
            int t = l;
            l = m;
            m = t;
        }
        if (l < 0 || m < 0 || g->nodes[l].op != P2L_OP_LOGISTIC || g->nodes[m].op != P2L_OP_MUL || g->skipped[l] ||
            g->skipped[m])
            return;
        const p2l_node *L = &g->nodes[l], *M = &g->nodes[m];
        const p2l_tensor *s = L->outputs[0];
        if (L->input_count != 1 || L->inputs[0] != y || !plain_intermediate(g, s, 1) || M->input_count != 2 ||
            !((M->inputs[0] == y && M->inputs[1] == s) || (M->inputs[0] == s && M->inputs[1] == y)) ||
            M->opts.mul.fused_activation_function != P2L_ACT_NONE ||
            M->outputs[0]->dtype != P2L_FLOAT32)
            return;
        f->epilogue = P2L_EPILOGUE_SILU;
        f->epilogue_output = M->outputs[0];
        plan->absorbed[0] = l;
        plan->absorbed[1] = m;
    }
}

static bool inputs_known(const p2l_node *n) {
    for (int i = 0; i < n->input_count; i++)
        if (n->inputs[i] && !n->inputs[i]->known) return false;
    return true;
}

static p2l_status graph_plan(graph *g);

/* Kernels run in the same float mode at prepare time (folding) as at invoke, so a value folded by
 * p2l_interpreter_allocate equals the one invoke would compute. */
static p2l_status graph_prepare(graph *g) {
    const unsigned float_mode = p2l_flush_denormals_begin();
    p2l_kernel_selection_begin(&g->ctx->kernels);
    const p2l_status status = graph_plan(g);
    p2l_kernel_selection_end();
    p2l_flush_denormals_end(float_mode);
    return status;
}

static p2l_status graph_plan(graph *g) {
    graph_release_plan(g);
    const p2l_tfl_subgraph *sg = g->sg;
    for (int t = 0; t < sg->tensor_count; t++) {
        p2l_tensor *x = &g->tensors[t];
        if (x->is_constant) continue;
        x->data = NULL;
        x->known = false;
    }
    memset(g->skipped, 0, (size_t)sg->op_count);
    const bool fuse = !g->ctx->no_fusion;
    size_t folded_bytes = 0; /* values computed at prepare time count against max_arena_bytes */
    for (int o = 0; o < sg->op_count; o++) {
        p2l_node *n = &g->nodes[o];
        const p2l_kernel *k = g->kernels[o];
        n->state = NULL;
        n->arena = &g->prepare_arena;
        n->exec = &g->ctx->exec;
        n->scratch_bytes = 0;
        memset(&n->fusion, 0, sizeof n->fusion);
        g->folded[o] = false;
        fusion_plan plan = {-1, {-1, -1}};
        if (fuse && (n->op == P2L_OP_CONV_2D || n->op == P2L_OP_DEPTHWISE_CONV_2D) && !g->skipped[o] && !inputs_known(n))
            offer_fusions(g, o, &plan);
        p2l_status s = k->prepare(n);
        if (!s) s = reserve_scratch(g, n->scratch_bytes);
        if (s) return op_context(s, g, o);
        if (!n->fusion.unpadded_taken) n->fusion.unpadded = NULL;
        else g->skipped[plan.pad] = true;
        if (!n->fusion.epilogue_taken) n->fusion.epilogue_output = NULL;
        else
            for (int i = 0; i < 2; i++)
                if (plan.absorbed[i] >= 0) g->skipped[plan.absorbed[i]] = true;
        if (!node_foldable(n, k)) continue;
        for (int i = 0; i < n->output_count; i++) {
            p2l_tensor *out = n->outputs[i];
            if (!p2l_add_size(folded_bytes, out->bytes, &folded_bytes)) folded_bytes = SIZE_MAX;
            s = P2L_CHECK_LIMIT(g->limits, max_arena_bytes, folded_bytes, "bytes of values computed at prepare time");
            if (s) return op_context(s, g, o);
            out->data = p2l_arena_alloc(&g->prepare_arena, out->bytes ? out->bytes : 1);
            if (!out->data) return op_context(p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory"), g, o);
        }
        s = k->invoke(n);
        if (s) return op_context(s, g, o);
        for (int i = 0; i < n->output_count; i++) n->outputs[i]->known = true;
        g->folded[o] = true;
    }

    for (int o = 0; o < sg->op_count; o++) {
        const p2l_node *n = &g->nodes[o];
        if (n->fusion.epilogue_taken && n->fusion.epilogue_output->bytes != n->outputs[0]->bytes)
            return op_context(p2l_fail(P2L_ERROR_INTERNAL, "fused epilogue output has %zu bytes, expected %zu",
                                       n->fusion.epilogue_output->bytes, n->outputs[0]->bytes), g, o);
    }

    /* Lifetimes in node steps: subgraph inputs from before the first op, subgraph outputs until after
     * the last; everything else from its producer to its last reader. The output of a view (RESHAPE)
     * of a planned tensor gets no memory of its own: it is a second name for the input's buffer
     * (owner[] maps a tensor to the one whose buffer it uses), which lives until the last reader of
     * either, and the view node is skipped at invoke. */
    int steps = sg->op_count;
    p2l_plan_item *items = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *items + 1);
    int *owner = p2l_alloc((size_t)sg->tensor_count * sizeof *owner + 1);
    if (!items || !owner) {
        p2l_release(items);
        p2l_release(owner);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning memory");
    }
    for (int t = 0; t < sg->tensor_count; t++) items[t].first = -1, owner[t] = t;
    for (int i = 0; i < sg->input_count; i++) {
        p2l_tensor *x = &g->tensors[sg->inputs[i]];
        if (x->is_constant) continue;
        items[x->index] = (p2l_plan_item){.size = x->bytes, .first = 0, .last = steps};
    }
    for (int o = 0; o < sg->op_count; o++) {
        p2l_node *n = &g->nodes[o];
        if (g->folded[o] || g->skipped[o]) continue;
        for (int i = 0; i <= n->input_count; i++) {
            p2l_tensor *x = i < n->input_count ? n->inputs[i] : n->fusion.unpadded; /* NULL unless taken */
            p2l_plan_item *it = x ? &items[owner[x->index]] : NULL;
            if (it && it->first >= 0 && it->last < o) it->last = o;
        }
        if ((g->kernels[o]->flags & P2L_KERNEL_VIEW) && items[owner[n->inputs[0]->index]].first >= 0 &&
            n->outputs[0]->bytes == n->inputs[0]->bytes) {
            owner[n->outputs[0]->index] = owner[n->inputs[0]->index];
            g->skipped[o] = true;
            continue;
        }
        for (int i = 0; i < n->output_count; i++) {
            p2l_tensor *y = n->outputs[i];
            if (i == 0 && n->fusion.epilogue_taken) y = n->fusion.epilogue_output; /* output 0 gets no memory */
            items[y->index] = (p2l_plan_item){.size = y->bytes, .first = o, .last = o};
        }
    }
    for (int i = 0; i < sg->output_count; i++) {
        p2l_plan_item *it = &items[owner[sg->outputs[i]]];
        if (it->first >= 0) it->last = steps;
    }
    size_t arena_size, tensor_bytes = 0;
    for (int t = 0; t < sg->tensor_count; t++)
        if (!p2l_add_size(tensor_bytes, g->tensors[t].bytes, &tensor_bytes)) tensor_bytes = SIZE_MAX;
    p2l_status s = P2L_CHECK_LIMIT(g->limits, max_tensor_bytes, tensor_bytes, "the bytes of the subgraph's tensors");
    if (!s) s = p2l_plan_memory(items, (size_t)sg->tensor_count, TENSOR_ALIGNMENT, &arena_size);
    if (!s) s = P2L_CHECK_LIMIT(g->limits, max_arena_bytes, arena_size, "the planned tensor memory in bytes");
    if (!s) {
        size_t block_size;
        if (!p2l_add_size(arena_size, TENSOR_ALIGNMENT, &block_size) || !(g->arena_block = p2l_alloc(block_size)))
            s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory allocating %zu bytes of tensor memory", arena_size);
    }
    if (!s) {
        uint8_t *base = (uint8_t *)(((uintptr_t)g->arena_block + TENSOR_ALIGNMENT - 1) & ~(uintptr_t)(TENSOR_ALIGNMENT - 1));
        g->arena_size = arena_size;
        for (int t = 0; t < sg->tensor_count; t++)
            if (items[owner[t]].first >= 0) g->tensors[t].data = base + items[owner[t]].offset;
        g->prepared = true;
    }
    p2l_release(items);
    p2l_release(owner);
    if (s) return p2l_fail_context(s, "subgraph %d", g->index);
    return P2L_OK;
}

/* Profiling (P2L_INTERPRETER_PROFILE, or P2L_PROFILE for tools): seconds per node. */
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static p2l_status graph_invoke(graph *g) {
    if (!g->prepared) P2L_TRY(graph_prepare(g));
    node_profile *profile = g->profile;
    atomic_bool *cancel = &g->ctx->cancel;
    for (int o = 0; o < g->sg->op_count; o++) {
        if (g->folded[o] || g->skipped[o]) continue;
        if (atomic_load_explicit(cancel, memory_order_relaxed)) {
            atomic_store(cancel, false);
            return p2l_fail(P2L_ERROR_CANCELLED, "subgraph %d: invoke cancelled before op %d (%s)", g->index, o,
                            p2l_op_info_of(g->nodes[o].op)->name);
        }
        p2l_node *n = &g->nodes[o];
        double start = profile ? now_seconds() : 0;
        p2l_status s = g->kernels[o]->invoke(n);
        if (s) return op_context(s, g, o);
        if (profile) {
            const double seconds = now_seconds() - start;
            node_profile *p = &profile[o];
            if (p->runs == 0 || seconds < p->min_seconds) p->min_seconds = seconds;
            p->seconds += seconds;
            p->runs++;
        }
    }
    g->invokes++;
    return P2L_OK;
}

/* P2L_PROFILE=2: per node of subgraph 0, mean and fastest microseconds per run, with the output's
 * shape (the fastest is what the machine's noise does not reach). */
static void print_node_profile(const graph *g) {
    if (!g->profile) return;
    for (int o = 0; o < g->sg->op_count; o++) {
        const node_profile *p = &g->profile[o];
        if (!p->runs) continue;
        const p2l_tensor *y = g->nodes[o].outputs[0];
        fprintf(stderr, "p2l node %4d %-20s %9.1f us mean %9.1f us min  [", o, p2l_op_info_of(g->nodes[o].op)->name,
                p->seconds * 1e6 / (double)p->runs, p->min_seconds * 1e6);
        for (int d = 0; d < y->rank; d++) fprintf(stderr, d ? ",%d" : "%d", y->dims[d]);
        fprintf(stderr, "]\n");
    }
}

/* P2L_PROFILE=1: seconds per op type over all subgraphs. */
static void print_profile(const p2l_interpreter *it) {
    double by_op[P2L_OP_COUNT] = {0}, total = 0;
    for (int i = 0; i < it->graph_count; i++) {
        const graph *g = &it->graphs[i];
        for (int o = 0; g->profile && o < g->sg->op_count; o++) {
            by_op[g->nodes[o].op] += g->profile[o].seconds;
            total += g->profile[o].seconds;
        }
    }
    for (int op = 0; op < P2L_OP_COUNT; op++)
        if (by_op[op] > 0)
            fprintf(stderr, "p2l profile: %-24s %9.2f ms %5.1f%%\n", p2l_op_info_of((p2l_op)op)->name, by_op[op] * 1e3,
                    100.0 * by_op[op] / total);
}

/* ------------------------------------------------------------ public API */

/* The first layout with a size field (pt2lite.h, "option structs"): today's whole struct. */
static const size_t interpreter_options_first_size = sizeof(p2l_interpreter_options);

/* An environment variable that tools set to override the options: set and not "0". */
static const char *env_override(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0 ? v : NULL;
}

static p2l_status read_options(const p2l_interpreter_options *options, p2l_interpreter *it) {
    p2l_interpreter_options o = {0};
    if (options) {
        P2L_TRY(p2l_check_options_size("p2l_interpreter_options", options->size, interpreter_options_first_size,
                                       sizeof o));
        o = *options; /* every field is in the first layout */
    }
    if (o.num_threads < 0 || o.num_threads > P2L_MAX_THREADS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "num_threads is %d; expected 1 to %d, or 0 for the default (1)",
                        o.num_threads, P2L_MAX_THREADS);
    P2L_TRY(p2l_kernel_select(o.kernels, &it->ctx.kernels));
    if (o.flags & ~(unsigned)P2L_INTERPRETER_KNOWN_FLAGS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "unknown flags 0x%x (known: P2L_INTERPRETER_NO_FUSION 0x%x, "
                        "P2L_INTERPRETER_PROFILE 0x%x)", o.flags & ~(unsigned)P2L_INTERPRETER_KNOWN_FLAGS,
                        (unsigned)P2L_INTERPRETER_NO_FUSION, (unsigned)P2L_INTERPRETER_PROFILE);
    it->num_threads = o.num_threads > 0 ? o.num_threads : 1;
    /* The environment variables override the options, for tools (pt2lite.h, "Environment variables"). */
    const char *profile = env_override("P2L_PROFILE");
    it->ctx.profile = (o.flags & P2L_INTERPRETER_PROFILE) || profile;
    it->ctx.print_profile = profile ? (strcmp(profile, "2") == 0 ? 2 : 1) : 0;
    it->ctx.no_fusion = (o.flags & P2L_INTERPRETER_NO_FUSION) || env_override("P2L_NO_FUSION");
    return P2L_OK;
}

p2l_status p2l_interpreter_create(p2l_model *model, const p2l_interpreter_options *options,
                                  p2l_interpreter **interpreter) {
    if (!interpreter) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_create: interpreter is NULL");
    *interpreter = NULL;
    if (!model) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_create: the model is NULL");
    if (model->verify_only)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_create: the model was loaded with "
                        "P2L_MODEL_VERIFY_ONLY (its ops were not checked against the kernels)");
    p2l_interpreter *it = p2l_alloc_zero(sizeof *it);
    if (!it) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    p2l_status s = read_options(options, it);
    if (s) {
        p2l_release(it);
        return p2l_fail_context(s, "p2l_interpreter_create");
    }
    p2l_model_retain(model);
    it->model = model;
    it->live = LIVE_INTERPRETER;
    atomic_init(&it->ctx.cancel, false);
    it->graph_count = model->tfl.subgraph_count;
    it->graphs = p2l_alloc_zero((size_t)it->graph_count * sizeof *it->graphs);
    s = it->graphs ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    if (!s) s = p2l_threadpool_create(it->num_threads, &it->ctx.exec.pool);
    for (int i = 0; i < it->graph_count && !s; i++) {
        it->graphs[i].ctx = &it->ctx;
        it->graphs[i].limits = &model->limits;
        s = graph_init(&it->graphs[i], &model->tfl.subgraphs[i], i);
        if (!s) s = graph_init_nodes(&it->graphs[i]);
    }
    if (s) {
        p2l_interpreter_free(it);
        return s;
    }
    *interpreter = it;
    return P2L_OK;
}

void p2l_interpreter_free(p2l_interpreter *it) {
    if (!it || it->live != LIVE_INTERPRETER) return; /* NULL, or freed already (see check_live) */
    it->live = 0;
    if (it->ctx.print_profile == 2 && it->graphs && it->graph_count > 0) print_node_profile(&it->graphs[0]);
    if (it->ctx.print_profile && it->graphs) print_profile(it);
    for (int i = 0; it->graphs && i < it->graph_count; i++) graph_free(&it->graphs[i]);
    p2l_release(it->graphs);
    p2l_release(it->profile_table);
    p2l_threadpool_free(it->ctx.exec.pool);
    p2l_release(it->ctx.scratch_block);
    p2l_model_free(it->model);
    p2l_release(it);
}

const p2l_model *p2l_interpreter_model(const p2l_interpreter *it) {
    return check_live(it, "p2l_interpreter_model") ? NULL : it->model;
}

void p2l_interpreter_cancel(p2l_interpreter *it) {
    if (!check_live(it, "p2l_interpreter_cancel")) atomic_store(&it->ctx.cancel, true);
}

p2l_status p2l_interpreter_profile(p2l_interpreter *it, const p2l_profile_entry **entries, int *count) {
    P2L_TRY(check_live(it, "p2l_interpreter_profile"));
    if (!entries || !count) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_profile: NULL argument");
    *entries = NULL;
    *count = 0;
    if (!it->ctx.profile)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_profile: the interpreter was created without "
                        "P2L_INTERPRETER_PROFILE");
    size_t total = 0;
    for (int i = 0; i < it->graph_count; i++) total += (size_t)it->graphs[i].sg->op_count;
    p2l_release(it->profile_table);
    it->profile_table = p2l_alloc_zero(total * sizeof *it->profile_table + 1);
    if (!it->profile_table) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory building the profile");
    int n = 0;
    for (int i = 0; i < it->graph_count; i++) {
        const graph *g = &it->graphs[i];
        for (int o = 0; o < g->sg->op_count; o++) {
            const node_profile *p = &g->profile[o];
            if (!p->runs) continue;
            it->profile_table[n++] = (p2l_profile_entry){.subgraph = i, .node = o,
                                                         .op = p2l_op_info_of(g->nodes[o].op)->name,
                                                         .runs = p->runs, .seconds = p->seconds,
                                                         .min_seconds = p->min_seconds};
        }
    }
    *entries = it->profile_table;
    *count = n;
    return P2L_OK;
}

p2l_status p2l_interpreter_allocate(p2l_interpreter *it) {
    P2L_TRY(check_live(it, "p2l_interpreter_allocate"));
    for (int i = 0; i < it->graph_count; i++)
        if (!it->graphs[i].prepared) P2L_TRY(graph_prepare(&it->graphs[i]));
    return P2L_OK;
}

static p2l_status find_tensor(p2l_interpreter *it, int subgraph, int tensor, graph **g, p2l_tensor **t) {
    P2L_TRY(check_live(it, "p2l_interpreter"));
    if (subgraph < 0 || subgraph >= it->graph_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d is out of range (%d subgraphs)", subgraph, it->graph_count);
    *g = &it->graphs[subgraph];
    if (tensor < 0 || tensor >= (*g)->sg->tensor_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "tensor %d is out of range (subgraph %d has %d tensors)", tensor,
                        subgraph, (*g)->sg->tensor_count);
    *t = &(*g)->tensors[tensor];
    return P2L_OK;
}

p2l_status p2l_interpreter_tensor_info(p2l_interpreter *it, int subgraph, int tensor, p2l_tensor_info *info) {
    graph *g = NULL;
    p2l_tensor *t = NULL;
    P2L_TRY(find_tensor(it, subgraph, tensor, &g, &t));
    if (!info) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "info is NULL");
    const p2l_tfl_tensor *src = &g->sg->tensors[tensor];
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    memcpy(info->dims, t->dims, sizeof info->dims);
    if (src->rank == t->rank) memcpy(info->dims_signature, src->shape_signature, sizeof info->dims_signature);
    else memcpy(info->dims_signature, t->dims, sizeof info->dims_signature);
    info->bytes = t->bytes;
    info->is_constant = t->is_constant;
    info->quant_count = src->quant_count;
    info->quantized_dimension = src->quantized_dimension;
    info->scale = src->scale;
    info->zero_point = src->zero_point;
    return P2L_OK;
}

static p2l_status tensor_memory(p2l_interpreter *it, int subgraph, int tensor, graph **g, p2l_tensor **t) {
    P2L_TRY(find_tensor(it, subgraph, tensor, g, t));
    if (!(*g)->prepared) P2L_TRY(graph_prepare(*g));
    if (!(*t)->data)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s has no memory (no op of the subgraph uses it)",
                        subgraph, P2L_LABEL(*t));
    return P2L_OK;
}

p2l_status p2l_interpreter_set_tensor(p2l_interpreter *it, int subgraph, int tensor, const void *data, size_t bytes) {
    graph *g = NULL;
    p2l_tensor *t = NULL;
    P2L_TRY(tensor_memory(it, subgraph, tensor, &g, &t));
    if (t->is_constant || t->known)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is a constant and cannot be set", subgraph,
                        P2L_LABEL(t));
    if (bytes != t->bytes)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s holds %zu bytes, got %zu", subgraph, P2L_LABEL(t),
                        t->bytes, bytes);
    if (bytes && !data) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "data is NULL");
    if (bytes) memcpy(t->data, data, bytes);
    return P2L_OK;
}

p2l_status p2l_interpreter_get_tensor(p2l_interpreter *it, int subgraph, int tensor, void *data, size_t bytes) {
    graph *g = NULL;
    p2l_tensor *t = NULL;
    P2L_TRY(tensor_memory(it, subgraph, tensor, &g, &t));
    if (bytes != t->bytes)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s holds %zu bytes, got a buffer of %zu", subgraph,
                        P2L_LABEL(t), t->bytes, bytes);
    if (bytes && !data) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "data is NULL");
    if (bytes) memcpy(data, t->data, bytes);
    return P2L_OK;
}

p2l_status p2l_interpreter_tensor_data(p2l_interpreter *it, int subgraph, int tensor, void **data) {
    graph *g = NULL;
    p2l_tensor *t = NULL;
    if (!data) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "data is NULL");
    P2L_TRY(tensor_memory(it, subgraph, tensor, &g, &t));
    *data = t->data;
    return P2L_OK;
}

p2l_status p2l_interpreter_resize_tensor(p2l_interpreter *it, int subgraph, int tensor, int rank, const int32_t *dims) {
    graph *g = NULL;
    p2l_tensor *t = NULL;
    P2L_TRY(find_tensor(it, subgraph, tensor, &g, &t));
    if (!g->is_input[tensor])
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is not an input; only inputs can be resized",
                        subgraph, P2L_LABEL(t));
    if (rank < 0 || rank > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "rank %d is not supported (0 to %d)", rank, P2L_MAX_DIMS);
    if (rank && !dims) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "dims is NULL (rank %d)", rank);
    size_t count = 1, bytes;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "dim %d is negative (%d)", i, dims[i]);
        if (!p2l_mul_size(count, (size_t)dims[i], &count))
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the new shape's element count overflows");
    }
    if (!p2l_mul_size(count, p2l_dtype_size(t->dtype), &bytes))
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the new shape's byte size overflows");
    /* Refused here rather than at the next allocation, where it would surface from whichever op first
     * computes a size from it. */
    p2l_status limit = P2L_CHECK_LIMIT(g->limits, max_tensor_bytes, bytes, "the resized input's size in bytes");
    if (limit) return p2l_fail_context(limit, "subgraph %d: resizing %s", subgraph, P2L_LABEL(t));
    if (rank == t->rank && memcmp(dims, t->dims, (size_t)rank * sizeof *dims) == 0) return P2L_OK;
    set_dims(t, rank, dims);
    graph_release_plan(g);
    return P2L_OK;
}

p2l_status p2l_interpreter_invoke_subgraph(p2l_interpreter *it, int subgraph) {
    P2L_TRY(check_live(it, "p2l_interpreter_invoke"));
    if (subgraph < 0 || subgraph >= it->graph_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d is out of range (%d subgraphs)", subgraph, it->graph_count);
    const unsigned float_mode = p2l_flush_denormals_begin();
    const p2l_status status = graph_invoke(&it->graphs[subgraph]);
    p2l_flush_denormals_end(float_mode);
    p2l_threadpool_park(it->ctx.exec.pool); /* the caller's own work follows, not ours */
    return status;
}

static p2l_status io_tensor(p2l_interpreter *it, int i, bool output, int *tensor) {
    P2L_TRY(check_live(it, "p2l_interpreter"));
    return output ? p2l_model_subgraph_output(it->model, 0, i, tensor) : p2l_model_subgraph_input(it->model, 0, i, tensor);
}

p2l_status p2l_interpreter_input_info(p2l_interpreter *it, int i, p2l_tensor_info *info) {
    int t;
    P2L_TRY(io_tensor(it, i, false, &t));
    return p2l_interpreter_tensor_info(it, 0, t, info);
}

p2l_status p2l_interpreter_output_info(p2l_interpreter *it, int i, p2l_tensor_info *info) {
    int t;
    P2L_TRY(io_tensor(it, i, true, &t));
    return p2l_interpreter_tensor_info(it, 0, t, info);
}

p2l_status p2l_interpreter_set_input(p2l_interpreter *it, int i, const void *data, size_t bytes) {
    int t;
    P2L_TRY(io_tensor(it, i, false, &t));
    return p2l_interpreter_set_tensor(it, 0, t, data, bytes);
}

p2l_status p2l_interpreter_get_output(p2l_interpreter *it, int i, void *data, size_t bytes) {
    int t;
    P2L_TRY(io_tensor(it, i, true, &t));
    return p2l_interpreter_get_tensor(it, 0, t, data, bytes);
}

p2l_status p2l_interpreter_resize_input(p2l_interpreter *it, int i, int rank, const int32_t *dims) {
    int t;
    P2L_TRY(io_tensor(it, i, false, &t));
    return p2l_interpreter_resize_tensor(it, 0, t, rank, dims);
}

p2l_status p2l_interpreter_invoke(p2l_interpreter *it) { return p2l_interpreter_invoke_subgraph(it, 0); }

size_t p2l_interpreter_arena_bytes(const p2l_interpreter *it, int subgraph) {
    if (check_live(it, "p2l_interpreter_arena_bytes") || subgraph < 0 || subgraph >= it->graph_count) return 0;
    return it->graphs[subgraph].arena_size;
}
