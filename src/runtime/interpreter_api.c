/* The public interpreter API (pt2lite.h): create and free, options, tensors by index, invoke. The
 * work is the scheduler's (interpreter.c). */
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

/* The first layout with a size field (pt2lite.h, "option structs"): today's whole struct. */
static const size_t interpreter_options_first_size = sizeof(p2l_interpreter_options);

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
    const char *profile = p2l_env_flag("P2L_PROFILE");
    it->ctx.profile = (o.flags & P2L_INTERPRETER_PROFILE) || profile;
    it->ctx.print_profile = profile ? (strcmp(profile, "2") == 0 ? 2 : 1) : 0;
    it->ctx.no_fusion = (o.flags & P2L_INTERPRETER_NO_FUSION) || p2l_env_flag("P2L_NO_FUSION");
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
    for (int i = 0; it->graphs && i < it->graph_count; i++) p2l_graph_free(&it->graphs[i]);
    p2l_release(it->graphs);
    p2l_release(it->profile_table);
    p2l_threadpool_free(it->ctx.exec.pool);
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

p2l_status p2l_interpreter_tensor_info(p2l_interpreter *it, int subgraph, int tensor, p2l_tensor_info *info) {
    p2l_graph *g = NULL;
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
    P2L_TRY(tensor_memory(it, subgraph, tensor, &g, &t));
    *data = t->data;
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

size_t p2l_interpreter_arena_bytes(const p2l_interpreter *it, int subgraph) {
    if (p2l_interpreter_check_live(it, "p2l_interpreter_arena_bytes") || subgraph < 0 || subgraph >= it->graph_count) return 0;
    return it->graphs[subgraph].arena_size;
}
