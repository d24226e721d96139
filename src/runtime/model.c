/* p2l_model: load (buffer, copy or mapped file), verify, check every op against the kernels, and
 * answer questions about subgraphs and signatures. Read-only after load, so shareable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "runtime/runtime.h"

/* CALL_ONCE runs its subgraph inside the caller's invoke: it must name another subgraph, without
 * inputs or outputs (an initializer of variables), which calls nothing itself, so no call recurses. */
static p2l_status check_call_once(const p2l_tfl_model *m, int s, int o) {
    const int64_t index = m->subgraphs[s].ops[o].options[p2l_option_field(P2L_OP_CALL_ONCE, "init_subgraph_index")];
    const p2l_tfl_subgraph *init = index >= 0 && index < m->subgraph_count ? &m->subgraphs[index] : NULL;
    bool calls = false;
    for (int k = 0; init && k < init->op_count; k++) calls = calls || init->ops[k].op == P2L_OP_CALL_ONCE;
    if (!init || index == s || init->input_count || init->output_count || calls)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "subgraph %d, op %d (CALL_ONCE): initializer subgraph %lld is not "
                        "supported: it must be another subgraph, without inputs, outputs or CALL_ONCE of its own",
                        s, o, (long long)index);
    return P2L_OK;
}

static bool omitted_model_input(const void *inputs, int i) { return ((const int32_t *)inputs)[i] < 0; }

/* Every op must have a kernel that accepts its version, input/output counts and omitted inputs,
 * so that prepare and invoke can index inputs without further checks. */
static p2l_status check_ops(const p2l_tfl_model *m) {
    for (int s = 0; s < m->subgraph_count; s++) {
        const p2l_tfl_subgraph *sg = &m->subgraphs[s];
        for (int t = 0; t < sg->tensor_count; t++)
            if (sg->tensors[t].is_variable)
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "subgraph %d, tensor %d '%s': variable tensors are not supported",
                                s, t, sg->tensors[t].name);
        for (int o = 0; o < sg->op_count; o++) {
            const p2l_tfl_operator *op = &sg->ops[o];
            const char *name = p2l_op_info_of(op->op)->name;
            int max_version = 0;
            const p2l_kernel *k = p2l_kernel_of(op->op, &max_version);
            if (!k)
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "subgraph %d, op %d (%s): the pt2lite runtime has no kernel for "
                                "%s yet", s, o, name, name);
            if (op->version < 1 || op->version > max_version)
                return p2l_fail(P2L_ERROR_UNSUPPORTED, "subgraph %d, op %d (%s): version %d is not supported (1 to %d)",
                                s, o, name, op->version, max_version);
            if (p2l_check_arity(k, op->input_count, op->output_count, omitted_model_input, op->inputs) != P2L_OK)
                return p2l_fail_context(P2L_ERROR_MALFORMED, "subgraph %d, op %d (%s)", s, o, name);
            if (op->op == P2L_OP_CALL_ONCE) P2L_TRY(check_call_once(m, s, o));
        }
    }
    return P2L_OK;
}

static p2l_status finish_load(const void *data, size_t size, p2l_model *m, p2l_model **out) {
    p2l_status s = p2l_tfl_read_limited(data, size, &m->limits, &m->tfl);
    if (!s && !m->verify_only) s = check_ops(&m->tfl);
    if (!s && !m->verify_only && !(s = p2l_weights_cache_init(&m->weights))) m->has_weights = true;
    if (s) {
        atomic_store(&m->refs, 1);
        p2l_model_free(m);
        return s;
    }
    atomic_store(&m->refs, 1);
    *out = m;
    return P2L_OK;
}

/* The first layout with a size field (pt2lite.h, "option structs"): today's whole struct. A field added
 * later is read only when options->size covers it. */
static const size_t load_options_first_size = sizeof(p2l_model_load_options);

static p2l_status check_load_options(const p2l_model_load_options *options, const char *fn) {
    if (!options) return P2L_OK;
    p2l_status s = p2l_check_options_size("p2l_model_load_options", options->size, load_options_first_size,
                                          sizeof *options);
    if (s) return p2l_fail_context(s, "%s", fn);
    if (options->flags & ~(unsigned)P2L_MODEL_KNOWN_FLAGS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: unknown flags 0x%x (known: P2L_MODEL_COPY 0x%x, "
                        "P2L_MODEL_VERIFY_ONLY 0x%x)", fn, options->flags & ~(unsigned)P2L_MODEL_KNOWN_FLAGS,
                        (unsigned)P2L_MODEL_COPY, (unsigned)P2L_MODEL_VERIFY_ONLY);
    return P2L_OK;
}

p2l_status p2l_model_load(const void *data, size_t size, unsigned flags, p2l_model **model) {
    p2l_model_load_options options = {.flags = flags};
    return p2l_model_load_ex(data, size, &options, model);
}

p2l_status p2l_model_load_ex(const void *data, size_t size, const p2l_model_load_options *options,
                             p2l_model **model) {
    if (!model) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_model_load: model is NULL");
    *model = NULL;
    if (!data) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_model_load: data is NULL");
    P2L_TRY(check_load_options(options, "p2l_model_load"));
    unsigned flags = options ? options->flags : 0;
    p2l_limits limits = p2l_limits_resolve(options ? options->limits : NULL);
    /* Before the copy: a file over the size limit is not copied either. */
    P2L_TRY(P2L_CHECK_LIMIT(&limits, max_file_bytes, size, "the .tflite file's size in bytes"));
    p2l_model *m = p2l_alloc_zero(sizeof *m);
    if (!m) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory loading a model");
    m->limits = limits;
    m->verify_only = (flags & P2L_MODEL_VERIFY_ONLY) != 0;
    if (flags & P2L_MODEL_COPY) {
        m->owned = p2l_alloc(size ? size : 1);
        if (!m->owned) {
            p2l_release(m);
            return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory copying a model of %zu bytes", size);
        }
        memcpy(m->owned, data, size);
        data = m->owned;
    }
    return finish_load(data, size, m, model);
}

p2l_status p2l_model_load_file(const char *path, p2l_model **model) { return p2l_model_load_file_ex(path, NULL, model); }

p2l_status p2l_model_load_file_ex(const char *path, const p2l_model_load_options *options, p2l_model **model) {
    if (!model || !path) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_model_load_file: NULL argument");
    *model = NULL;
    P2L_TRY(check_load_options(options, "p2l_model_load_file"));
    p2l_limits limits = p2l_limits_resolve(options ? options->limits : NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return p2l_fail(P2L_ERROR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return p2l_fail(P2L_ERROR_IO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    p2l_status ls = P2L_CHECK_LIMIT(&limits, max_file_bytes, size, "the .tflite file's size in bytes");
    if (ls) {
        close(fd);
        return p2l_fail_context(ls, "%s", path);
    }
    p2l_model *m = p2l_alloc_zero(sizeof *m);
    if (!m) {
        close(fd);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory loading '%s'", path);
    }
    m->limits = limits;
    m->verify_only = options && (options->flags & P2L_MODEL_VERIFY_ONLY);
    const void *data = NULL;
    if (size > 0) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            m->mapping = p;
            m->mapping_size = size;
            data = p;
        } else { /* e.g. a file system without mmap: read it instead */
            m->owned = p2l_alloc(size);
            size_t done = 0;
            while (m->owned && done < size) {
                ssize_t got = read(fd, (uint8_t *)m->owned + done, size - done);
                if (got <= 0) break;
                done += (size_t)got;
            }
            if (!m->owned || done != size) {
                close(fd);
                p2l_release(m->owned);
                p2l_release(m);
                return p2l_fail(P2L_ERROR_IO, "cannot read '%s'", path);
            }
            data = m->owned;
        }
    }
    close(fd);
    static const uint8_t empty[1];
    p2l_status s = finish_load(data ? data : empty, size, m, model);
    if (s) return p2l_fail_context(s, "%s", path);
    return P2L_OK;
}

void p2l_model_retain(p2l_model *model) { atomic_fetch_add(&model->refs, 1); }

void p2l_model_free(p2l_model *model) {
    if (!model || atomic_fetch_sub(&model->refs, 1) != 1) return;
    if (model->has_weights) p2l_weights_cache_destroy(&model->weights); /* its interpreters are gone */
    p2l_tfl_free(&model->tfl);
    if (model->mapping) munmap(model->mapping, model->mapping_size);
    p2l_release(model->owned);
    p2l_release(model);
}

/* ------------------------------------------------------------ queries */

static const p2l_tfl_subgraph *subgraph_of(const p2l_model *m, int subgraph) {
    if (!m || subgraph < 0 || subgraph >= m->tfl.subgraph_count) return NULL;
    return &m->tfl.subgraphs[subgraph];
}

static const p2l_tfl_signature *signature_of(const p2l_model *m, int signature) {
    if (!m || signature < 0 || signature >= m->tfl.signature_count) return NULL;
    return &m->tfl.signatures[signature];
}

static p2l_status no_signature(const p2l_model *m, int signature) {
    if (!m) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the model is NULL");
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "no signature %d (the model has %d)", signature, m->tfl.signature_count);
}

static p2l_status find_subgraph(const p2l_model *model, int subgraph, const p2l_tfl_subgraph **sg) {
    if (!model) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the model is NULL");
    *sg = subgraph_of(model, subgraph);
    if (!*sg)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "no subgraph %d (the model has %d)", subgraph,
                        model->tfl.subgraph_count);
    return P2L_OK;
}

static p2l_status check_index(int subgraph, int index, int count, const char *what) {
    if (index < 0 || index >= count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d has %d %s; index %d is out of range", subgraph, count,
                        what, index);
    return P2L_OK;
}

/* What a model holds, for tools that list it (`pt2lite inspect`): the file's description, subgraph
 * names, ops and tensors as declared, read without an interpreter. */
uint32_t p2l_model_schema_version(const p2l_model *model) { return model ? model->tfl.version : 0; }

const char *p2l_model_description(const p2l_model *model) {
    if (!model) return NULL;
    return model->tfl.description ? model->tfl.description : "";
}

const char *p2l_model_subgraph_name(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_of(model, subgraph);
    if (!sg) return NULL;
    return sg->name ? sg->name : "";
}

int p2l_model_subgraph_tensor_count(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_of(model, subgraph);
    return sg ? sg->tensor_count : 0;
}

int p2l_model_subgraph_op_count(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_of(model, subgraph);
    return sg ? sg->op_count : 0;
}

p2l_status p2l_model_op(const p2l_model *model, int subgraph, int op, const char **name, int *builtin_code) {
    const p2l_tfl_subgraph *sg;
    P2L_TRY(find_subgraph(model, subgraph, &sg));
    P2L_TRY(check_index(subgraph, op, sg->op_count, "ops"));
    const p2l_op_info *info = p2l_op_info_of(sg->ops[op].op);
    if (name) *name = info->name;
    if (builtin_code) *builtin_code = info->builtin_code;
    return P2L_OK;
}

p2l_status p2l_model_tensor_info(const p2l_model *model, int subgraph, int tensor, p2l_tensor_info *out) {
    const p2l_tfl_subgraph *sg;
    P2L_TRY(find_subgraph(model, subgraph, &sg));
    P2L_TRY(check_index(subgraph, tensor, sg->tensor_count, "tensors"));
    P2L_TRY(p2l_check_tensor_info(out));
    const p2l_tfl_tensor *t = &sg->tensors[tensor];
    p2l_tensor_info full = {0}, *info = &full;
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    size_t bytes = p2l_dtype_size(t->dtype); /* the reader checked that the product does not overflow */
    for (int d = 0; d < t->rank; d++) {
        info->dims[d] = t->shape[d];
        info->dims_signature[d] = t->shape_signature[d];
        bytes *= (size_t)t->shape[d];
    }
    info->bytes = bytes;
    info->is_constant = t->data != NULL;
    p2l_tensor_info_set_quantization(info, t);
    p2l_fill_sized(out, info, P2L_TENSOR_INFO_FIRST_SIZE);
    return P2L_OK;
}

void p2l_tensor_info_set_quantization(p2l_tensor_info *info, const p2l_tfl_tensor *t) {
    info->quant_count = t->quant_count;
    info->quantized_dimension = t->quantized_dimension;
    info->scale = t->scale;
    info->zero_point = t->zero_point;
}

p2l_status p2l_check_tensor_info(const p2l_tensor_info *info) {
    if (!info) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "info is NULL");
    return p2l_check_options_size("p2l_tensor_info", info->size, P2L_TENSOR_INFO_FIRST_SIZE, sizeof *info);
}

int p2l_model_subgraph_count(const p2l_model *model) { return model ? model->tfl.subgraph_count : 0; }

int p2l_model_subgraph_input_count(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_of(model, subgraph);
    return sg ? sg->input_count : 0;
}

int p2l_model_subgraph_output_count(const p2l_model *model, int subgraph) {
    const p2l_tfl_subgraph *sg = subgraph_of(model, subgraph);
    return sg ? sg->output_count : 0;
}

static p2l_status subgraph_io(const p2l_model *model, int subgraph, int i, int *tensor, bool output) {
    if (model && !tensor) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "tensor is NULL");
    const p2l_tfl_subgraph *sg;
    P2L_TRY(find_subgraph(model, subgraph, &sg));
    P2L_TRY(check_index(subgraph, i, output ? sg->output_count : sg->input_count, output ? "outputs" : "inputs"));
    *tensor = output ? sg->outputs[i] : sg->inputs[i];
    return P2L_OK;
}

p2l_status p2l_model_subgraph_input(const p2l_model *model, int subgraph, int i, int *tensor) {
    return subgraph_io(model, subgraph, i, tensor, false);
}

p2l_status p2l_model_subgraph_output(const p2l_model *model, int subgraph, int i, int *tensor) {
    return subgraph_io(model, subgraph, i, tensor, true);
}

int p2l_model_signature_count(const p2l_model *model) { return model ? model->tfl.signature_count : 0; }

const char *p2l_model_signature_key(const p2l_model *model, int signature) {
    const p2l_tfl_signature *sig = signature_of(model, signature);
    return sig ? sig->key : NULL;
}

p2l_status p2l_model_find_signature(const p2l_model *model, const char *key, int *signature) {
    if (!model || !key || !signature) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_model_find_signature: NULL argument");
    for (int i = 0; i < model->tfl.signature_count; i++)
        if (strcmp(model->tfl.signatures[i].key, key) == 0) {
            *signature = i;
            return P2L_OK;
        }
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "no signature '%s' (the model has %d)", key, model->tfl.signature_count);
}

p2l_status p2l_model_signature_subgraph(const p2l_model *model, int signature, int *subgraph) {
    const p2l_tfl_signature *sig = signature_of(model, signature);
    if (!sig) return no_signature(model, signature);
    if (!subgraph) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph is NULL");
    *subgraph = sig->subgraph;
    return P2L_OK;
}

int p2l_model_signature_io_count(const p2l_model *model, int signature, int is_output) {
    const p2l_tfl_signature *sig = signature_of(model, signature);
    return !sig ? 0 : is_output ? sig->output_count : sig->input_count;
}

p2l_status p2l_model_signature_io(const p2l_model *model, int signature, int is_output, int i, const char **name,
                                  int *tensor) {
    const p2l_tfl_signature *sig = signature_of(model, signature);
    if (!sig) return no_signature(model, signature);
    int count = is_output ? sig->output_count : sig->input_count;
    if (i < 0 || i >= count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "signature '%s' has %d %s; index %d is out of range", sig->key,
                        count, is_output ? "outputs" : "inputs", i);
    const p2l_tfl_tensor_map *map = is_output ? &sig->outputs[i] : &sig->inputs[i];
    if (name) *name = map->name;
    if (tensor) *tensor = map->tensor;
    return P2L_OK;
}

p2l_status p2l_model_signature_find_io(const p2l_model *model, int signature, int is_output, const char *name,
                                       int *tensor) {
    const p2l_tfl_signature *sig = signature_of(model, signature);
    if (!sig) return no_signature(model, signature);
    if (!name) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "name is NULL");
    int count = is_output ? sig->output_count : sig->input_count;
    const p2l_tfl_tensor_map *maps = is_output ? sig->outputs : sig->inputs;
    for (int i = 0; i < count; i++)
        if (strcmp(maps[i].name, name) == 0) {
            if (tensor) *tensor = maps[i].tensor;
            return P2L_OK;
        }
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "signature '%s' has no %s named '%s'", sig->key,
                    is_output ? "output" : "input", name);
}

p2l_status p2l_model_metadata(const p2l_model *model, const char *name, const void **data, size_t *size) {
    if (!model || !name || !data || !size) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_model_metadata: NULL argument");
    for (int i = 0; i < model->tfl.metadata_count; i++)
        if (strcmp(model->tfl.metadata[i].name, name) == 0) {
            *data = model->tfl.metadata[i].data;
            *size = model->tfl.metadata[i].size;
            return P2L_OK;
        }
    *data = NULL;
    *size = 0;
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "the model has no metadata '%s'", name);
}

/* "[1, -1, 32]" into buf. */
static const char *format_dims64(const int64_t *dims, int rank, char *buf, size_t cap) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < rank && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", d ? ", " : "", (long long)dims[d]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

/* The signature, when it exists and has an input i. */
static p2l_status signature_input(const p2l_model *model, int signature, int i, const p2l_tfl_signature **sig) {
    *sig = signature_of(model, signature);
    if (!*sig) return no_signature(model, signature);
    if (i < 0 || i >= (*sig)->input_count)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "signature '%s' has %d inputs; index %d is out of range",
                        (*sig)->key, (*sig)->input_count, i);
    return P2L_OK;
}

p2l_status p2l_model_signature_check_input(const p2l_model *model, int signature, int i, int rank,
                                           const int64_t *dims) {
    const p2l_tfl_signature *sig;
    P2L_TRY(signature_input(model, signature, i, &sig));
    if (rank < 0 || (rank > 0 && !dims)) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "input '%s': no dims given",
                                                        sig->inputs[i].name);
    const p2l_tfl_tensor *t = &model->tfl.subgraphs[sig->subgraph].tensors[sig->inputs[i].tensor];
    bool fits = rank == t->rank;
    for (int d = 0; fits && d < rank; d++)
        fits = dims[d] >= 0 && (t->shape_signature[d] == -1 ? dims[d] <= INT32_MAX : dims[d] == t->shape_signature[d]);
    if (fits) return p2l_check_dynamic_ranges(model, sig->subgraph, sig->inputs[i].tensor, rank, dims);
    int64_t signature_dims[P2L_MAX_DIMS];
    for (int d = 0; d < t->rank; d++) signature_dims[d] = t->shape_signature[d];
    char want[P2L_MAX_DIMS * 24 + 4], got[64 * 24 + 4];
    format_dims64(signature_dims, t->rank, want, sizeof want);
    format_dims64(dims, rank < 64 ? rank : 64, got, sizeof got);
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "input '%s' has shape %s, but the model was converted for shape %s "
                    "(its shape_signature: -1 marks a dynamic dim, the others are fixed)", sig->inputs[i].name, got,
                    want);
}

/* True when subgraph input tensor `tensor` (int64) is narrowed to int32 by a CAST: pt2lite's converter
 * computes integers in int32 and narrows int64 model inputs so (see src/kernels/cast.c). */
static bool input_narrowed_to_int32(const p2l_tfl_subgraph *g, int tensor) {
    if (g->tensors[tensor].dtype != P2L_INT64) return false;
    for (int o = 0; o < g->op_count; o++) {
        const p2l_tfl_operator *op = &g->ops[o];
        if (op->op == P2L_OP_CAST && op->input_count > 0 && op->inputs[0] == tensor && op->output_count > 0 &&
            op->outputs[0] >= 0 && g->tensors[op->outputs[0]].dtype == P2L_INT32)
            return true;
    }
    return false;
}

p2l_status p2l_model_signature_check_input_values(const p2l_model *model, int signature, int i, const void *data,
                                                  size_t bytes) {
    const p2l_tfl_signature *sig;
    P2L_TRY(signature_input(model, signature, i, &sig));
    const p2l_tfl_subgraph *g = &model->tfl.subgraphs[sig->subgraph];
    if (!input_narrowed_to_int32(g, sig->inputs[i].tensor)) return P2L_OK;
    if (!data && bytes) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "input '%s': data is NULL", sig->inputs[i].name);
    const size_t count = bytes / sizeof(int64_t);
    const size_t bad = p2l_first_outside_int32(data, count);
    if (bad == count) return P2L_OK;
    int64_t value;
    memcpy(&value, (const char *)data + bad * sizeof value, sizeof value);
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "input '%s' holds %lld at element %zu, outside the int32 range "
                    "(%d to %d) that this model computes it in: pt2lite converts int64 values to int32",
                    sig->inputs[i].name, (long long)value, bad, INT32_MIN, INT32_MAX);
}
