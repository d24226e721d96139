/* The public interpreter API (pt2lite.h): create and free, options, tensors by index, invoke. The
 * work is the scheduler's (interpreter.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/env.h"
#include "base/limits.h"
#include "runtime/interpreter.h"

#define LIVE_INTERPRETER UINT64_C(0x70326c6c69766521) /* "p2llive!" */

p2l_status p2l_interpreter_check_live(const p2l_interpreter *it, const char *fn) {
    if (!it) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: interpreter is NULL", fn);
    if (it->live != LIVE_INTERPRETER)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: not a live interpreter (freed already, or not one)", fn);
    return P2L_OK;
}

/* The first layout with a size field (pt2lite.h, "option structs"): the fields of pt2lite 0.1. */
static const size_t interpreter_options_first_size = offsetof(p2l_interpreter_options, threadpool);

static p2l_status read_options(const p2l_interpreter_options *options, p2l_interpreter *it) {
    p2l_interpreter_options o = {0};
    if (options) {
        P2L_TRY(p2l_check_options_size("p2l_interpreter_options", options->size, interpreter_options_first_size,
                                       sizeof o));
        memcpy(&o, options, options->size ? options->size : interpreter_options_first_size);
    }
    if (o.num_threads < 0 || o.num_threads > P2L_MAX_THREADS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "num_threads is %d; expected 1 to %d, or 0 for the default (1)",
                        o.num_threads, P2L_MAX_THREADS);
    if (o.threadpool && o.num_threads && o.num_threads != p2l_threadpool_threads(o.threadpool))
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "num_threads is %d but the shared threadpool has %d threads "
                        "(set 0 to use the pool's)", o.num_threads, p2l_threadpool_threads(o.threadpool));
    P2L_TRY(p2l_kernel_select(o.kernels, &it->ctx.kernels));
    if (o.flags & ~(unsigned)P2L_INTERPRETER_KNOWN_FLAGS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "unknown flags 0x%x (known: P2L_INTERPRETER_NO_FUSION 0x%x, "
                        "P2L_INTERPRETER_PROFILE 0x%x, P2L_INTERPRETER_PRESERVE_ALL_TENSORS 0x%x)",
                        o.flags & ~(unsigned)P2L_INTERPRETER_KNOWN_FLAGS, (unsigned)P2L_INTERPRETER_NO_FUSION,
                        (unsigned)P2L_INTERPRETER_PROFILE, (unsigned)P2L_INTERPRETER_PRESERVE_ALL_TENSORS);
    it->num_threads = o.threadpool ? p2l_threadpool_threads(o.threadpool) : o.num_threads > 0 ? o.num_threads : 1;
    it->pool = o.threadpool;
    /* The environment variables override the options, for tools (pt2lite.h, "Environment variables"). */
    const char *profile = p2l_env_flag("P2L_PROFILE");
    it->ctx.profile = (o.flags & P2L_INTERPRETER_PROFILE) || profile;
    it->ctx.print_profile = profile ? (strcmp(profile, "2") == 0 ? 2 : 1) : 0;
    it->ctx.preserve_all_tensors = o.flags & P2L_INTERPRETER_PRESERVE_ALL_TENSORS;
    it->ctx.no_fusion = (o.flags & P2L_INTERPRETER_NO_FUSION) || p2l_env_flag("P2L_NO_FUSION") ||
                        it->ctx.preserve_all_tensors; /* a fusion hides the intermediate it skips */
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
    p2l_threadpool_retain(it->pool); /* the caller's shared pool, if any (NULL-safe) */
    it->live = LIVE_INTERPRETER;
    atomic_init(&it->ctx.cancel, false);
    it->graph_count = model->tfl.subgraph_count;
    it->graphs = p2l_alloc_zero((size_t)it->graph_count * sizeof *it->graphs);
    s = it->graphs ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
    if (!s && !it->pool) s = p2l_threadpool_start(it->num_threads, P2L_WAIT_DEFAULT, &it->pool);
    it->ctx.exec.pool = it->num_threads > 1 ? it->pool : NULL; /* a one-thread pool runs on the caller */
    if (!s) s = p2l_interpreter_state_init(it);
    for (int i = 0; i < it->graph_count && !s; i++) {
        it->graphs[i].ctx = &it->ctx;
        it->graphs[i].limits = &model->limits;
        it->graphs[i].derived = model->has_weights ? &model->weights.store : NULL;
        s = p2l_graph_init(&it->graphs[i], &model->tfl.subgraphs[i], i);
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
    p2l_profile_print(it);
    for (int i = 0; it->graphs && i < it->graph_count; i++) {
        p2l_release(it->graphs[i].bindings);
        p2l_graph_free(&it->graphs[i]);
    }
    p2l_release(it->graphs);
    p2l_release(it->profile_table);
    p2l_variables_free(&it->variables);
    p2l_threadpool_free(it->pool);
    p2l_release(it->ctx.scratch_block);
    p2l_model_free(it->model);
    p2l_release(it);
}

const p2l_model *p2l_interpreter_model(const p2l_interpreter *it) {
    return p2l_interpreter_check_live(it, "p2l_interpreter_model") ? NULL : it->model;
}

void p2l_interpreter_cancel(p2l_interpreter *it) {
    if (!p2l_interpreter_check_live(it, "p2l_interpreter_cancel")) atomic_store(&it->ctx.cancel, true);
}

p2l_status p2l_interpreter_allocate(p2l_interpreter *it) {
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_interpreter_allocate"));
    for (int i = 0; i < it->graph_count; i++)
        if (!it->graphs[i].prepared) P2L_TRY(p2l_graph_prepare(&it->graphs[i]));
    return P2L_OK;
}

static p2l_status find_tensor(p2l_interpreter *it, int subgraph, int tensor, p2l_graph **g, p2l_tensor **t) {
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_interpreter"));
    if (subgraph < 0 || subgraph >= it->graph_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d is out of range (%d subgraphs)", subgraph, it->graph_count);
    *g = &it->graphs[subgraph];
    if (tensor < 0 || tensor >= (*g)->sg->tensor_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "tensor %d is out of range (subgraph %d has %d tensors)", tensor,
                        subgraph, (*g)->sg->tensor_count);
    *t = &(*g)->tensors[tensor];
    return P2L_OK;
}

p2l_status p2l_interpreter_tensor_info(p2l_interpreter *it, int subgraph, int tensor, p2l_tensor_info *out) {
    p2l_graph *g = NULL;
    p2l_tensor *t = NULL;
    P2L_TRY(find_tensor(it, subgraph, tensor, &g, &t));
    P2L_TRY(p2l_check_tensor_info(out));
    const p2l_tfl_tensor *src = &g->sg->tensors[tensor];
    p2l_tensor_info full = {0}, *info = &full;
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    memcpy(info->dims, t->dims, sizeof info->dims);
    if (src->rank == t->rank) memcpy(info->dims_signature, src->shape_signature, sizeof info->dims_signature);
    else memcpy(info->dims_signature, t->dims, sizeof info->dims_signature);
    info->bytes = t->bytes;
    info->is_constant = t->is_constant;
    p2l_tensor_info_set_quantization(info, src);
    p2l_fill_sized(out, info, P2L_TENSOR_INFO_FIRST_SIZE);
    return P2L_OK;
}

static p2l_status tensor_memory(p2l_interpreter *it, int subgraph, int tensor, p2l_graph **g, p2l_tensor **t) {
    P2L_TRY(find_tensor(it, subgraph, tensor, g, t));
    if (!(*g)->prepared) P2L_TRY(p2l_graph_prepare(*g));
    if (!(*t)->data)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s has no memory (no op of the subgraph uses it)",
                        subgraph, P2L_LABEL(*t));
    return P2L_OK;
}

p2l_status p2l_interpreter_set_tensor(p2l_interpreter *it, int subgraph, int tensor, const void *data, size_t bytes) {
    p2l_graph *g = NULL;
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
    p2l_graph *g = NULL;
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
    p2l_graph *g = NULL;
    p2l_tensor *t = NULL;
    if (!data) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "data is NULL");
    *data = NULL;
    P2L_TRY(tensor_memory(it, subgraph, tensor, &g, &t));
    if (t->is_constant)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is a constant of the model (read-only memory, "
                        "shared by every interpreter): use p2l_interpreter_tensor_const_data", subgraph, P2L_LABEL(t));
    *data = t->data;
    return P2L_OK;
}

p2l_status p2l_interpreter_tensor_const_data(p2l_interpreter *it, int subgraph, int tensor, const void **data) {
    p2l_graph *g = NULL;
    p2l_tensor *t = NULL;
    if (!data) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "data is NULL");
    *data = NULL;
    P2L_TRY(tensor_memory(it, subgraph, tensor, &g, &t));
    *data = t->data;
    return P2L_OK;
}

/* Another bound buffer of the subgraph that overlaps [data, data + bytes), or -1. */
static int overlapping_binding(const p2l_graph *g, int tensor, const void *data, size_t bytes) {
    const uintptr_t start = (uintptr_t)data, end = start + bytes;
    for (int u = 0; u < g->sg->tensor_count; u++) {
        const p2l_binding *b = &g->bindings[u];
        if (u != tensor && b->data && start < (uintptr_t)b->data + b->bytes && (uintptr_t)b->data < end) return u;
    }
    return -1;
}

p2l_status p2l_interpreter_bind_tensor(p2l_interpreter *it, int subgraph, int tensor, void *data, size_t bytes) {
    p2l_graph *g = NULL;
    p2l_tensor *t = NULL;
    P2L_TRY(find_tensor(it, subgraph, tensor, &g, &t));
    if (!g->is_input[tensor] && !g->is_output[tensor])
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is not an input or output of the subgraph; only "
                        "those can be bound", subgraph, P2L_LABEL(t));
    if (t->is_constant)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is a constant and cannot be bound", subgraph,
                        P2L_LABEL(t));
    p2l_binding *old = g->bindings ? &g->bindings[tensor] : NULL;
    if (!data) {
        if (bytes) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "data is NULL with %zu bytes (unbind: NULL and 0)", bytes);
        if (old && old->data) { /* unbind: back into the arena at the next use */
            *old = (p2l_binding){0};
            p2l_graph_release_plan(g);
        }
        return P2L_OK;
    }
    if ((uintptr_t)data % P2L_BIND_ALIGNMENT)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: the buffer for %s at %p is not aligned to "
                        "P2L_BIND_ALIGNMENT (%d) bytes", subgraph, P2L_LABEL(t), data, P2L_BIND_ALIGNMENT);
    /* An input's shape is its own; an output's is known once the subgraph is prepared (until then the
     * plan checks it). */
    if ((g->is_input[tensor] || g->prepared) && bytes != t->bytes)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s holds %zu bytes, got a buffer of %zu", subgraph,
                        P2L_LABEL(t), t->bytes, bytes);
    if (!g->bindings && !(g->bindings = p2l_alloc_zero((size_t)g->sg->tensor_count * sizeof *g->bindings)))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory binding a buffer");
    old = &g->bindings[tensor];
    const int overlap = overlapping_binding(g, tensor, data, bytes);
    if (overlap >= 0)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: the buffer for %s overlaps the one bound to %s",
                        subgraph, P2L_LABEL(t), P2L_LABEL(&g->tensors[overlap]));
    if (g->prepared && old->data && old->bytes == bytes && t->data == old->data) {
        /* Rebinding in use: the plan stays, every tensor in the old buffer (the tensor and its views)
         * moves to the new one. */
        for (int u = 0; u < g->sg->tensor_count; u++)
            if (g->tensors[u].data == old->data) g->tensors[u].data = data;
        old->data = data;
        return P2L_OK;
    }
    *old = (p2l_binding){data, bytes};
    p2l_graph_release_plan(g);
    return P2L_OK;
}

p2l_status p2l_interpreter_resize_tensor(p2l_interpreter *it, int subgraph, int tensor, int rank, const int32_t *dims) {
    p2l_graph *g = NULL;
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
    int64_t wide[P2L_MAX_DIMS];
    for (int i = 0; i < rank; i++) wide[i] = dims[i];
    P2L_TRY(p2l_check_dynamic_ranges(it->model, subgraph, tensor, rank, wide));
    if (rank == t->rank && memcmp(dims, t->dims, (size_t)rank * sizeof *dims) == 0) return P2L_OK;
    p2l_graph_set_dims(t, rank, dims);
    p2l_graph_release_plan(g);
    return P2L_OK;
}

p2l_status p2l_interpreter_invoke_subgraph(p2l_interpreter *it, int subgraph) {
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_interpreter_invoke"));
    if (subgraph < 0 || subgraph >= it->graph_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d is out of range (%d subgraphs)", subgraph, it->graph_count);
    const unsigned float_mode = p2l_flush_denormals_begin();
    const p2l_status status = p2l_graph_invoke(&it->graphs[subgraph]);
    p2l_flush_denormals_end(float_mode);
    p2l_threadpool_park(it->ctx.exec.pool); /* the caller's own work follows, not ours */
    return status;
}

static p2l_status io_tensor(p2l_interpreter *it, int i, bool output, int *tensor) {
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_interpreter"));
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

p2l_status p2l_interpreter_bind_input(p2l_interpreter *it, int i, void *data, size_t bytes) {
    int t;
    P2L_TRY(io_tensor(it, i, false, &t));
    return p2l_interpreter_bind_tensor(it, 0, t, data, bytes);
}

p2l_status p2l_interpreter_bind_output(p2l_interpreter *it, int i, void *data, size_t bytes) {
    int t;
    P2L_TRY(io_tensor(it, i, true, &t));
    return p2l_interpreter_bind_tensor(it, 0, t, data, bytes);
}

size_t p2l_interpreter_arena_bytes(const p2l_interpreter *it, int subgraph) {
    if (p2l_interpreter_check_live(it, "p2l_interpreter_arena_bytes") || subgraph < 0 || subgraph >= it->graph_count) return 0;
    return it->graphs[subgraph].arena_size;
}
