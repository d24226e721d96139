#include "ir/graph.h"

#include "base/limits.h"
#include "base/mapped.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

p2l_status p2l_model_ir_init(p2l_model_ir *m) {
    memset(m, 0, sizeof *m);
    return P2L_OK;
}

p2l_status p2l_model_ir_add_graph(p2l_model_ir *m, const char *name, p2l_ir_graph **out) {
    p2l_ir_graph *g = p2l_arena_alloc(&m->arena, sizeof *g);
    if (!g || !(g->name = p2l_arena_strdup(&m->arena, name)))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    g->arena = &m->arena;
    P2L_TRY(P2L_VEC_PUSH(&m->graphs, g));
    *out = g;
    return P2L_OK;
}

static void graph_free(p2l_ir_graph *g) {
    for (size_t i = 0; i < g->tensors.len; i++) p2l_release_const(&g->tensors.items[i]);
    P2L_VEC_FREE(&g->tensors);
    P2L_VEC_FREE(&g->nodes);
    P2L_VEC_FREE(&g->inputs);
    P2L_VEC_FREE(&g->outputs);
    P2L_VEC_FREE(&g->input_names);
    P2L_VEC_FREE(&g->output_names);
    P2L_VEC_FREE(&g->origins);
}

void p2l_model_ir_free(p2l_model_ir *m) {
    for (size_t i = 0; i < m->graphs.len; i++) graph_free(m->graphs.items[i]);
    P2L_VEC_FREE(&m->graphs);
    P2L_VEC_FREE(&m->metadata);
    p2l_arena_free(&m->arena);
}

int p2l_add_tensor(p2l_ir_graph *g, const char *name, p2l_dtype dtype, int rank, const int64_t *dims) {
    if (rank < 0 || rank > P2L_MAX_DIMS) {
        p2l_fail(P2L_ERROR_UNSUPPORTED, "tensor %s has rank %d; at most %d is supported", name, rank, P2L_MAX_DIMS);
        return -1;
    }
    /* Every dim fits TFLite's int32 shapes and every static tensor's byte count fits the limit, so
     * nothing downstream (element counts, reshape values, the writer) can overflow or truncate. */
    uint64_t bytes = p2l_dtype_size(dtype);
    bool dynamic = false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < -1 || dims[i] > P2L_MAX_DIM) {
            p2l_fail(P2L_ERROR_UNSUPPORTED, "tensor %s has size %lld in dim %d; TFLite shapes hold sizes up to %d",
                     name ? name : "", (long long)dims[i], i, P2L_MAX_DIM);
            return -1;
        }
        dynamic = dynamic || dims[i] < 0;
        if (dims[i] >= 0 && __builtin_mul_overflow(bytes, (uint64_t)dims[i], &bytes)) bytes = UINT64_MAX;
    }
    if (!dynamic && P2L_CHECK_LIMIT(p2l_limits_thread(), max_tensor_bytes, bytes, name ? name : "a tensor's bytes") != P2L_OK)
        return -1;
    p2l_ir_tensor t = {0};
    t.name = p2l_arena_strdup(g->arena, name ? name : "");
    t.dtype = dtype;
    t.rank = rank;
    if (rank) memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    t.producer = -1;
    if (!t.name || P2L_VEC_PUSH(&g->tensors, t) != P2L_OK) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory adding tensor %s", name);
        return -1;
    }
    return (int)g->tensors.len - 1;
}

int p2l_add_const(p2l_ir_graph *g, const char *name, p2l_dtype dtype, int rank, const int64_t *dims,
                  const void *data, bool take) {
    /* A constant's shape is static: a dynamic (-1) dim would leave its bytes unaccounted for (a
     * hostile archive can make an output size symbolic where a lowering builds a constant from it). */
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0) {
            if (take) p2l_release((void *)data);
            p2l_fail(P2L_ERROR_UNSUPPORTED, "constant %s would have a dynamic dim %d", name ? name : "", i);
            return -1;
        }
    int t = p2l_add_tensor(g, name, dtype, rank, dims);
    if (t < 0) {
        if (take) p2l_release((void *)data);
        return -1;
    }
    p2l_ir_tensor *tt = &g->tensors.items[t];
    tt->data = data;
    tt->owned = take ? (void *)data : NULL;
    tt->nbytes = p2l_ir_tensor_bytes(tt);
    /* bytes made here (not the archive's, counted when read) count against max_tensor_bytes */
    if (take && p2l_limits_charge_tensor_bytes(tt->nbytes, tt->name) != P2L_OK) {
        p2l_release_const(tt);
        return -1;
    }
    return t;
}

static int add_const_copy(p2l_ir_graph *g, const char *name, p2l_dtype dtype, int rank, const int64_t *dims,
                          const void *values) {
    size_t bytes = p2l_dtype_size(dtype);
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || !p2l_mul_size(bytes, (size_t)dims[i], &bytes)) {
            p2l_fail(P2L_ERROR_UNSUPPORTED, "constant %s has a dynamic or too large shape", name ? name : "");
            return -1;
        }
    }
    void *copy = p2l_alloc(bytes ? bytes : 1);
    if (!copy) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory adding constant %s", name);
        return -1;
    }
    if (bytes) memcpy(copy, values, bytes);
    return p2l_add_const(g, name, dtype, rank, dims, copy, true);
}

int p2l_add_const_i32(p2l_ir_graph *g, const char *name, int rank, const int64_t *dims, const int32_t *values) {
    return add_const_copy(g, name, P2L_INT32, rank, dims, values);
}

int p2l_add_const_f32(p2l_ir_graph *g, const char *name, int rank, const int64_t *dims, const float *values) {
    return add_const_copy(g, name, P2L_FLOAT32, rank, dims, values);
}

int p2l_add_node(p2l_ir_graph *g, p2l_op op, int ninputs, const int *inputs, int noutputs, const int *outputs,
                 const char *origin) {
    p2l_ir_node n = {0};
    n.op = op;
    n.ninputs = ninputs;
    n.noutputs = noutputs;
    n.inputs = p2l_arena_alloc(g->arena, sizeof(int) * (size_t)(ninputs + 1));
    n.outputs = p2l_arena_alloc(g->arena, sizeof(int) * (size_t)(noutputs + 1));
    n.origin = origin;
    if (!n.inputs || !n.outputs) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory adding a node");
        return -1;
    }
    if (ninputs) memcpy(n.inputs, inputs, sizeof(int) * (size_t)ninputs);
    if (noutputs) memcpy(n.outputs, outputs, sizeof(int) * (size_t)noutputs);
    const p2l_options_info *info = p2l_options_info_of(p2l_op_info_of(op)->options);
    for (int i = 0; i < info->field_count; i++) n.options[i] = info->fields[i].default_value;
    if (P2L_VEC_PUSH(&g->nodes, n) != P2L_OK) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory adding a node");
        return -1;
    }
    int index = (int)g->nodes.len - 1;
    for (int i = 0; i < noutputs; i++)
        if (outputs[i] >= 0) g->tensors.items[outputs[i]].producer = index;
    return index;
}

static int field_or_abort(const p2l_ir_graph *g, int node, const char *field) {
    p2l_op op = g->nodes.items[node].op;
    int id = p2l_option_field(op, field);
    if (id < 0) {
        /* A typo in a lowering: fail loudly so the op's test catches it. */
        fprintf(stderr, "pt2lite internal error: %s has no option '%s'\n", p2l_op_info_of(op)->name, field);
        abort();
    }
    return id;
}

void p2l_set_option(p2l_ir_graph *g, int node, const char *field, int64_t value) {
    g->nodes.items[node].options[field_or_abort(g, node, field)] = value;
}

void p2l_set_option_f32(p2l_ir_graph *g, int node, const char *field, float value) {
    p2l_set_option(g, node, field, p2l_f32_bits(value));
}

int64_t p2l_get_option(const p2l_ir_graph *g, int node, const char *field) {
    return g->nodes.items[node].options[field_or_abort(g, node, field)];
}

void p2l_release_const(p2l_ir_tensor *t) {
    if (!t->owned) p2l_drop_mapped(t->data, t->nbytes); /* borrowed from a mapped archive: done with */
    p2l_release(t->owned);
    t->owned = NULL;
    t->data = NULL;
    t->nbytes = 0;
}

void p2l_set_const_data(p2l_ir_graph *g, int tensor, void *owned_data, size_t nbytes) {
    p2l_ir_tensor *t = &g->tensors.items[tensor];
    p2l_release_const(t);
    t->data = owned_data;
    t->owned = owned_data;
    t->nbytes = nbytes;
}

int64_t p2l_ir_tensor_numel(const p2l_ir_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0 || __builtin_mul_overflow(n, t->dims[i], &n)) return -1;
    }
    return n;
}

size_t p2l_ir_tensor_bytes(const p2l_ir_tensor *t) {
    int64_t n = p2l_ir_tensor_numel(t);
    if (t->dtype == P2L_INT4) return n < 0 ? 0 : (size_t)(n / 2 + n % 2); /* two values per byte */
    return n < 0 ? 0 : (size_t)n * p2l_dtype_size(t->dtype);
}

void p2l_ir_graph_count_uses(p2l_ir_graph *g) {
    for (size_t i = 0; i < g->tensors.len; i++) {
        g->tensors.items[i].consumers = 0;
        g->tensors.items[i].producer = -1;
    }
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead) continue;
        for (int i = 0; i < node->ninputs; i++)
            if (node->inputs[i] >= 0) g->tensors.items[node->inputs[i]].consumers++;
        for (int i = 0; i < node->noutputs; i++)
            if (node->outputs[i] >= 0) g->tensors.items[node->outputs[i]].producer = (int)n;
    }
    for (size_t i = 0; i < g->outputs.len; i++) g->tensors.items[g->outputs.items[i]].consumers++;
}

void p2l_ir_graph_replace_uses(p2l_ir_graph *g, int from, int to) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead) continue;
        for (int i = 0; i < node->ninputs; i++)
            if (node->inputs[i] == from) node->inputs[i] = to;
    }
    for (size_t i = 0; i < g->outputs.len; i++)
        if (g->outputs.items[i] == from) g->outputs.items[i] = to;
}

p2l_status p2l_ir_graph_compact(p2l_ir_graph *g) {
    size_t nt = g->tensors.len;
    int *remap = p2l_alloc_zero(sizeof(int) * (nt + 1));
    if (!remap) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    /* Mark used tensors. */
    for (size_t i = 0; i < g->inputs.len; i++) remap[g->inputs.items[i]] = 1;
    for (size_t i = 0; i < g->outputs.len; i++) remap[g->outputs.items[i]] = 1;
    size_t live = 0;
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead) continue;
        for (int i = 0; i < node->ninputs; i++)
            if (node->inputs[i] >= 0) remap[node->inputs[i]] = 1;
        for (int i = 0; i < node->noutputs; i++)
            if (node->outputs[i] >= 0) remap[node->outputs[i]] = 1;
        g->nodes.items[live++] = *node;
    }
    g->nodes.len = live;
    for (size_t i = 0; i < nt; i++) { /* a kept block-wise weight keeps its scales */
        const p2l_quant *q = g->tensors.items[i].quant;
        if (remap[i] && q && q->block_size) remap[q->block_scales] = 1;
    }
    size_t kept = 0;
    for (size_t i = 0; i < nt; i++) {
        if (remap[i]) {
            g->tensors.items[kept] = g->tensors.items[i];
            remap[i] = (int)kept++;
        } else {
            p2l_release_const(&g->tensors.items[i]);
            remap[i] = -1;
        }
    }
    g->tensors.len = kept;
    for (size_t i = 0; i < kept; i++) {
        p2l_quant *q = g->tensors.items[i].quant;
        if (q && q->block_size) q->block_scales = remap[q->block_scales];
    }
    for (size_t n = 0; n < g->nodes.len; n++) {
        p2l_ir_node *node = &g->nodes.items[n];
        for (int i = 0; i < node->ninputs; i++)
            if (node->inputs[i] >= 0) node->inputs[i] = remap[node->inputs[i]];
        for (int i = 0; i < node->noutputs; i++)
            if (node->outputs[i] >= 0) node->outputs[i] = remap[node->outputs[i]];
    }
    for (size_t i = 0; i < g->inputs.len; i++) g->inputs.items[i] = remap[g->inputs.items[i]];
    for (size_t i = 0; i < g->outputs.len; i++) g->outputs.items[i] = remap[g->outputs.items[i]];
    size_t origins = 0;
    for (size_t i = 0; i < g->origins.len; i++) {
        p2l_ir_origin o = g->origins.items[i];
        if ((o.tensor = remap[o.tensor]) >= 0) g->origins.items[origins++] = o;
    }
    g->origins.len = origins;
    p2l_release(remap);
    p2l_ir_graph_count_uses(g);
    return P2L_OK;
}

p2l_status p2l_ir_graph_toposort(p2l_ir_graph *g) {
    size_t nn = g->nodes.len, nt = g->tensors.len;
    char *ready = p2l_alloc_zero(nt + 1);
    char *placed = p2l_alloc_zero(nn + 1);
    p2l_ir_node *order = p2l_alloc(sizeof(p2l_ir_node) * (nn + 1));
    p2l_status status = P2L_OK;
    if (!ready || !placed || !order) {
        status = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < nt; t++)
        if (g->tensors.items[t].data) ready[t] = 1;
    for (size_t i = 0; i < g->inputs.len; i++) ready[g->inputs.items[i]] = 1;
    size_t count = 0;
    /* Repeated stable sweeps: already-ordered graphs finish in one. */
    while (count < nn) {
        size_t before = count;
        for (size_t n = 0; n < nn; n++) {
            if (placed[n]) continue;
            p2l_ir_node *node = &g->nodes.items[n];
            bool ok = true;
            for (int i = 0; i < node->ninputs && ok; i++) ok = node->inputs[i] < 0 || ready[node->inputs[i]];
            if (!ok) continue;
            placed[n] = 1;
            order[count++] = *node;
            for (int i = 0; i < node->noutputs; i++)
                if (node->outputs[i] >= 0) ready[node->outputs[i]] = 1;
        }
        if (count == before) {
            status = p2l_fail(P2L_ERROR_INTERNAL, "graph %s has a cycle or a tensor with no producer", g->name);
            goto done;
        }
    }
    if (nn) memcpy(g->nodes.items, order, sizeof(p2l_ir_node) * nn); /* items is NULL in an empty graph */
    p2l_ir_graph_count_uses(g);
done:
    p2l_release(ready);
    p2l_release(placed);
    p2l_release(order);
    return status;
}

void p2l_permute_bytes(void *dst, const void *src, size_t elem_size, int rank, const int64_t *src_dims,
                       const int *perm) {
    int64_t src_stride[P2L_MAX_DIMS], step[P2L_MAX_DIMS], dims[P2L_MAX_DIMS], index[P2L_MAX_DIMS] = {0};
    int64_t s = 1, numel = 1;
    for (int d = rank - 1; d >= 0; d--) {
        src_stride[d] = s;
        s *= src_dims[d];
    }
    for (int d = 0; d < rank; d++) {
        dims[d] = src_dims[perm[d]];
        step[d] = src_stride[perm[d]];
        numel *= dims[d];
    }
    /* Walk dst in order; the source offset moves by the permuted strides (an odometer), so each
     * element costs an add, not a rank-long dot product. */
    uint8_t *out = dst;
    const uint8_t *in = src;
    int64_t offset = 0;
    for (int64_t i = 0; i < numel; i++) {
        if (elem_size == 4) memcpy(out + (size_t)i * 4, in + (size_t)offset * 4, 4);
        else memcpy(out + (size_t)i * elem_size, in + (size_t)offset * elem_size, elem_size);
        for (int d = rank - 1; d >= 0; d--) {
            offset += step[d];
            if (++index[d] < dims[d]) break;
            offset -= step[d] * dims[d];
            index[d] = 0;
        }
    }
}

void p2l_ir_graph_print(const p2l_ir_graph *g, void *file) {
    FILE *f = file;
    fprintf(f, "graph %s: %zu tensors, %zu nodes\n", g->name, g->tensors.len, g->nodes.len);
    for (size_t n = 0; n < g->nodes.len; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead) continue;
        fprintf(f, "  %-3zu %-22s", n, p2l_op_info_of(node->op)->name);
        for (int i = 0; i < node->ninputs; i++) {
            int t = node->inputs[i];
            if (t < 0) { fprintf(f, " -"); continue; }
            const p2l_ir_tensor *tt = &g->tensors.items[t];
            fprintf(f, " %s%d[", tt->data ? "c" : "t", t);
            for (int d = 0; d < tt->rank; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)tt->dims[d]);
            fprintf(f, "]");
        }
        fprintf(f, " ->");
        for (int i = 0; i < node->noutputs; i++) {
            const p2l_ir_tensor *tt = &g->tensors.items[node->outputs[i]];
            fprintf(f, " t%d[", node->outputs[i]);
            for (int d = 0; d < tt->rank; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)tt->dims[d]);
            fprintf(f, "]");
        }
        fprintf(f, "  %s\n", node->origin ? node->origin : "");
    }
}

p2l_quant *p2l_new_quant(p2l_ir_graph *g, int count, int axis) {
    p2l_quant *q = p2l_arena_alloc(g->arena, sizeof *q);
    if (q) {
        q->count = count;
        q->axis = axis;
        q->scales = p2l_arena_alloc(g->arena, sizeof(float) * (size_t)(count > 0 ? count : 1));
        q->zero_points = p2l_arena_alloc(g->arena, sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
    }
    if (!q || !q->scales || !q->zero_points) {
        p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory for quantization parameters");
        return NULL;
    }
    return q;
}

bool p2l_quant_equal(const p2l_quant *a, const p2l_quant *b) {
    if (!a || !b) return a == b;
    if (a->count != b->count || (a->count > 1 && a->axis != b->axis)) return false;
    for (int i = 0; i < a->count; i++)
        if (a->scales[i] != b->scales[i] || a->zero_points[i] != b->zero_points[i]) return false;
    return true;
}
