#include "tflite/writer.h"

#include <string.h>

#include "base/env.h"
#include "base/strmap.h"
#include "tflite/flatbuf.h"

/* Field ids of the schema tables (DESIGN.md lists them). */
enum { MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS,
       MODEL_METADATA_BUFFER, MODEL_METADATA, MODEL_SIGNATURE_DEFS };
enum { SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME };
enum { TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANTIZATION, TENSOR_IS_VARIABLE,
       TENSOR_SPARSITY, TENSOR_SHAPE_SIGNATURE, TENSOR_HAS_RANK };
enum { OPERATOR_OPCODE_INDEX, OPERATOR_INPUTS, OPERATOR_OUTPUTS, OPERATOR_OPTIONS_TYPE, OPERATOR_OPTIONS };
enum { OPCODE_DEPRECATED_BUILTIN, OPCODE_CUSTOM, OPCODE_VERSION, OPCODE_BUILTIN };
enum { BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE };
enum { QUANT_MIN, QUANT_MAX, QUANT_SCALE, QUANT_ZERO_POINT, QUANT_DETAILS_TYPE, QUANT_DETAILS, QUANT_DIMENSION };
enum { SIGNATURE_INPUTS, SIGNATURE_OUTPUTS, SIGNATURE_KEY, SIGNATURE_SUBGRAPH_INDEX = 4 };
enum { METADATA_NAME, METADATA_BUFFER };
enum { TENSORMAP_NAME, TENSORMAP_TENSOR_INDEX };

/* The version at which an op gained int8 tensors (TFLite's op_version rules); 0: no int8 version. */
static int int8_version(const p2l_ir_graph *g, const p2l_ir_node *node) {
    if (node->ninputs < 1 || node->inputs[0] < 0 || g->tensors.items[node->inputs[0]].dtype != P2L_INT8) return 0;
    switch (node->op) {
    case P2L_OP_CONV_2D: case P2L_OP_DEPTHWISE_CONV_2D: return 3;
    case P2L_OP_FULLY_CONNECTED: return 4;
    case P2L_OP_ADD: case P2L_OP_SUB: case P2L_OP_MUL: case P2L_OP_AVERAGE_POOL_2D: case P2L_OP_MAX_POOL_2D:
    case P2L_OP_MEAN: case P2L_OP_CONCATENATION: case P2L_OP_PAD: case P2L_OP_TRANSPOSE: case P2L_OP_SOFTMAX:
    case P2L_OP_LOGISTIC: case P2L_OP_RELU: case P2L_OP_RELU6: case P2L_OP_DEQUANTIZE: case P2L_OP_QUANTIZE:
        return 2;
    default: return 0;
    }
}

/* The version of a hybrid op (float input, int8 per-channel weights: the dynamic_int8 recipe); 0: none. */
static int hybrid_version(const p2l_ir_graph *g, const p2l_ir_node *node) {
    if (node->ninputs < 2 || node->inputs[0] < 0 || node->inputs[1] < 0) return 0;
    const p2l_ir_tensor *x = &g->tensors.items[node->inputs[0]], *w = &g->tensors.items[node->inputs[1]];
    if (x->dtype != P2L_FLOAT32 || w->dtype != P2L_INT8) return 0;
    switch (node->op) {
    case P2L_OP_CONV_2D: return 5;
    case P2L_OP_DEPTHWISE_CONV_2D: return 6;
    case P2L_OP_FULLY_CONNECTED: return 12;
    default: return 0;
    }
}

int p2l_tflite_op_version(const p2l_ir_graph *g, const p2l_ir_node *node) {
    /* Versions mark when an op gained a feature; a runtime that knows the version runs it. */
#define OPT(name) p2l_get_option(g, (int)(node - g->nodes.items), name)
    const int int8 = int8_version(g, node), hybrid = hybrid_version(g, node);
    if (hybrid) return hybrid;
    switch (node->op) {
    case P2L_OP_CONV_2D: {
        /* grouped: the filter sees fewer input channels than the input has */
        const p2l_ir_tensor *in = &g->tensors.items[node->inputs[0]], *filter = &g->tensors.items[node->inputs[1]];
        if (in->rank == 4 && filter->rank == 4 && in->dims[3] != filter->dims[3]) return 6;
        if (int8) return int8;
        return OPT("dilation_w_factor") != 1 || OPT("dilation_h_factor") != 1 ? 2 : 1;
    }
    case P2L_OP_DEPTHWISE_CONV_2D:
        if (int8) return int8;
        return OPT("dilation_w_factor") != 1 || OPT("dilation_h_factor") != 1 ? 2 : 1;
    case P2L_OP_FULLY_CONNECTED:
        return OPT("keep_num_dims") ? 5 : int8 ? int8 : 1;
    case P2L_OP_RESIZE_BILINEAR:
    case P2L_OP_RESIZE_NEAREST_NEIGHBOR:
        return OPT("half_pixel_centers") ? 3 : 1;
    case P2L_OP_TRANSPOSE_CONV:
        return node->ninputs > 3 && node->inputs[3] >= 0 ? 3 : 1;
    case P2L_OP_BROADCAST_TO:
        return 2; /* the op was introduced at version 2; LiteRT registers no version 1 */
    case P2L_OP_EMBEDDING_LOOKUP: { /* version 4: an int4 or per-row quantized table */
        const p2l_ir_tensor *table = &g->tensors.items[node->inputs[1]];
        return table->dtype == P2L_INT4 || (table->quant && table->quant->count > 1) ? 4 : 1;
    }
    default:
        return int8 ? int8 : 1;
    }
#undef OPT
}

typedef struct opcode_key {
    int builtin;
    int version;
} opcode_key;

typedef struct writer {
    p2l_fb *fb;
    p2l_model_ir *m;
    bool release;
    P2L_VEC(opcode_key) opcodes;
    P2L_VEC(p2l_fb_ref) buffers; /* buffers[0] is the empty sentinel */
} writer;

static int opcode_index(writer *w, int builtin, int version) {
    for (size_t i = 0; i < w->opcodes.len; i++)
        if (w->opcodes.items[i].builtin == builtin && w->opcodes.items[i].version == version) return (int)i;
    opcode_key k = {builtin, version};
    return P2L_VEC_PUSH(&w->opcodes, k) == P2L_OK ? (int)w->opcodes.len - 1 : -1;
}

static p2l_fb_ref int_vector(p2l_fb *fb, const int *values, size_t count) {
    int32_t tmp[64];
    if (count <= 64) {
        for (size_t i = 0; i < count; i++) tmp[i] = values[i];
        return p2l_fb_vector(fb, tmp, count, 4, 4);
    }
    return p2l_fb_vector(fb, values, count, 4, 4); /* int is 32-bit on every supported platform */
}

/* Options narrower than int64 in the schema must hold their value exactly: the file never gets a
 * truncated one. */
static p2l_status check_options(const p2l_ir_node *node) {
    const p2l_options_info *info = p2l_options_info_of(p2l_op_info_of(node->op)->options);
    for (int f = 0; f < info->field_count; f++) {
        int64_t v = node->options[f];
        bool fits = info->fields[f].type == P2L_FIELD_I8    ? v >= INT8_MIN && v <= INT8_MAX
                    : info->fields[f].type == P2L_FIELD_I32 ? v >= INT32_MIN && v <= INT32_MAX
                                                            : true;
        if (!fits)
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "%s: option %s of %s is %lld, which does not fit its type",
                            node->origin ? node->origin : "a node", info->fields[f].name ? info->fields[f].name : "?",
                            p2l_op_info_of(node->op)->name, (long long)v);
    }
    return P2L_OK;
}

static p2l_fb_ref write_options(writer *w, const p2l_ir_node *node, int *union_code) {
    const p2l_options_info *info = p2l_options_info_of(p2l_op_info_of(node->op)->options);
    *union_code = info->union_code;
    if (info->union_code == 0) return 0;
    p2l_fb *fb = w->fb;
    p2l_fb_ref strings[P2L_MAX_OPTION_FIELDS] = {0}; /* written before the table that refers to them */
    for (int f = 0; f < info->field_count; f++)
        if (info->fields[f].type == P2L_FIELD_STRING && node->options[f])
            strings[f] = p2l_fb_string(fb, (const char *)(intptr_t)node->options[f]);
    p2l_fb_table_start(fb);
    for (int f = 0; f < info->field_count; f++) {
        int64_t v = node->options[f]; /* in range: check_options */
        switch (info->fields[f].type) {
        case P2L_FIELD_I8: p2l_fb_add_i8(fb, f, (int8_t)v); break;
        case P2L_FIELD_I32: p2l_fb_add_i32(fb, f, (int32_t)v); break;
        case P2L_FIELD_BOOL: p2l_fb_add_bool(fb, f, v != 0); break;
        case P2L_FIELD_F32: p2l_fb_add_f32(fb, f, p2l_bits_f32(v)); break;
        case P2L_FIELD_I64: p2l_fb_add_i64(fb, f, v); break;
        case P2L_FIELD_STRING: if (strings[f]) p2l_fb_add_ref(fb, f, strings[f]); break;
        case P2L_FIELD_NONE: case P2L_FIELD_I32S: break; /* vectors: never set by the converter */
        }
    }
    return p2l_fb_table_end(fb);
}

static p2l_fb_ref write_quant(p2l_fb *fb, const p2l_quant *q) {
    if (q->block_size) { /* BlockwiseQuantization {scales, zero_points (none), block_size} */
        enum { BLOCKWISE_SCALES, BLOCKWISE_ZERO_POINTS, BLOCKWISE_BLOCK_SIZE, QUANT_DETAILS_BLOCKWISE = 2 };
        p2l_fb_table_start(fb);
        p2l_fb_add_i32(fb, BLOCKWISE_SCALES, q->block_scales);
        p2l_fb_add_i32(fb, BLOCKWISE_BLOCK_SIZE, q->block_size);
        p2l_fb_ref details = p2l_fb_table_end(fb);
        p2l_fb_table_start(fb);
        p2l_fb_add_u8(fb, QUANT_DETAILS_TYPE, QUANT_DETAILS_BLOCKWISE);
        p2l_fb_add_ref(fb, QUANT_DETAILS, details);
        return p2l_fb_table_end(fb);
    }
    p2l_fb_ref scale = p2l_fb_vector(fb, q->scales, (size_t)q->count, 4, 4);
    p2l_fb_ref zero = p2l_fb_vector(fb, q->zero_points, (size_t)q->count, 8, 8);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, QUANT_SCALE, scale);
    p2l_fb_add_ref(fb, QUANT_ZERO_POINT, zero);
    p2l_fb_add_i32(fb, QUANT_DIMENSION, q->axis);
    return p2l_fb_table_end(fb);
}

/* The constant buffers planned so far: a file of several signatures stores a constant of one signature
 * once when an earlier signature has it (litert-torch's files share weights the same way). The same
 * weight is found by address (signatures converted from one module's tensors point at the same bytes:
 * nothing to read), other equal constants by content: hash, then the bytes compared, the first
 * tensor with given bytes being the one kept, so the output never depends on the hash's random key.
 * The table is keyed by size, and hashes are computed only when a constant of that size is looked
 * up by content (a big model's weights are never read for this when all are shared by address). */
typedef struct written_buffer {
    uint64_t hash;
    bool hashed;
    size_t nbytes;
    const void *bytes; /* the kept tensor's data (alive until the buffers are written) */
    int buffer;        /* index in Model.buffers */
    size_t graph;      /* the graph that holds it */
} written_buffer;

typedef struct buffer_index {
    P2L_VEC(written_buffer) entries;
    int *slots; /* open addressing on the size: entry + 1, 0 = free; a size's entries in insertion order */
    size_t cap; /* a power of two, at least twice the entries */
} buffer_index;

/* Drops the pages of [data, data + nbytes) that lie in a mapped file (base/mapped.h). */
static void drop_mapped_pages(const p2l_tflite_destination *dest, const void *data, size_t nbytes) {
    if (dest) p2l_drop_mapped_pages(dest->mapped, dest->mapped_count, data, nbytes);
}

/* Constants are hashed and compared a slice at a time, each slice's mapped pages dropped once read, so
 * a big weight of two signatures is never twice in memory. */
#define SLICE_BYTES ((size_t)16 << 20)

static uint64_t hash_constant(const p2l_tflite_destination *dest, const void *data, size_t nbytes) {
    uint64_t hash = nbytes;
    for (size_t at = 0; at < nbytes; at += SLICE_BYTES) {
        const size_t n = nbytes - at < SLICE_BYTES ? nbytes - at : SLICE_BYTES;
        hash = hash * 0x9e3779b97f4a7c15ull ^ p2l_hash_bytes((const uint8_t *)data + at, n);
        drop_mapped_pages(dest, (const uint8_t *)data + at, n);
    }
    return hash;
}

static bool same_bytes(const p2l_tflite_destination *dest, const void *a, const void *b, size_t nbytes) {
    bool same = true;
    for (size_t at = 0; same && at < nbytes; at += SLICE_BYTES) {
        const size_t n = nbytes - at < SLICE_BYTES ? nbytes - at : SLICE_BYTES;
        same = memcmp((const uint8_t *)a + at, (const uint8_t *)b + at, n) == 0;
        drop_mapped_pages(dest, (const uint8_t *)a + at, n);
        drop_mapped_pages(dest, (const uint8_t *)b + at, n);
    }
    return same;
}

static size_t size_slot(size_t nbytes, size_t cap) { return (size_t)(nbytes * 0x9e3779b97f4a7c15ull >> 17) & (cap - 1); }

/* The entry of a graph before `graph` holding `tensor`'s bytes: by address first, else by content;
 * -1 when none. */
static int shared_entry(buffer_index *index, const p2l_tflite_destination *dest, const p2l_ir_tensor *tensor,
                        size_t graph) {
    if (!index->cap) return -1;
    for (int by_content = 0; by_content < 2; by_content++) {
        uint64_t hash = 0;
        if (by_content) hash = hash_constant(dest, tensor->data, tensor->nbytes);
        for (size_t slot = size_slot(tensor->nbytes, index->cap); index->slots[slot];
             slot = (slot + 1) & (index->cap - 1)) {
            written_buffer *w = &index->entries.items[index->slots[slot] - 1];
            if (w->nbytes != tensor->nbytes || w->graph >= graph) continue;
            if (!by_content) {
                if (w->bytes == tensor->data) return index->slots[slot] - 1;
                continue;
            }
            if (!w->hashed) w->hash = hash_constant(dest, w->bytes, w->nbytes), w->hashed = true;
            if (w->hash == hash && same_bytes(dest, w->bytes, tensor->data, tensor->nbytes)) return index->slots[slot] - 1;
        }
    }
    return -1;
}

static p2l_status buffer_index_add(buffer_index *index, written_buffer entry) {
    if (2 * (index->entries.len + 1) > index->cap) {
        size_t cap = index->cap ? 2 * index->cap : 64;
        int *slots = p2l_alloc_zero(sizeof *slots * cap);
        if (!slots) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory indexing the constant buffers");
        p2l_release(index->slots);
        index->slots = slots;
        index->cap = cap;
        for (size_t e = 0; e < index->entries.len; e++) { /* in insertion order: kept along each probe */
            size_t slot = size_slot(index->entries.items[e].nbytes, cap);
            while (slots[slot]) slot = (slot + 1) & (cap - 1);
            slots[slot] = (int)e + 1;
        }
    }
    P2L_TRY(P2L_VEC_PUSH(&index->entries, entry));
    size_t slot = size_slot(entry.nbytes, index->cap);
    while (index->slots[slot]) slot = (slot + 1) & (index->cap - 1);
    index->slots[slot] = (int)index->entries.len;
    return P2L_OK;
}

/* Which constant each tensor's buffer holds: buffers[i + 1] holds sources[i]'s bytes (buffer 0 is the
 * empty sentinel); planned before anything is written, so the bytes can go inline or after the
 * flatbuffer. */
typedef struct buffer_plan {
    int **tensor_buffer; /* per graph, per tensor: its index in Model.buffers, 0 = none */
    P2L_VEC(p2l_ir_tensor *) sources;
} buffer_plan;

static p2l_status plan_buffers(p2l_model_ir *m, bool release, const p2l_tflite_destination *dest, buffer_plan *plan) {
    bool share = m->graphs.len > 1; /* a single graph's file is written as it always was */
    buffer_index index = {0};
    p2l_status s = P2L_OK;
    plan->tensor_buffer = p2l_alloc_zero(sizeof(int *) * (m->graphs.len + 1));
    if (!plan->tensor_buffer) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t gi = 0; s == P2L_OK && gi < m->graphs.len; gi++) {
        p2l_ir_graph *g = m->graphs.items[gi];
        int *tensor_buffer = plan->tensor_buffer[gi] = p2l_alloc_zero(sizeof(int) * (g->tensors.len + 1));
        if (!tensor_buffer) s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (size_t t = 0; s == P2L_OK && t < g->tensors.len; t++) {
            p2l_ir_tensor *tensor = &g->tensors.items[t];
            if (!tensor->data) continue;
            int e = share && gi > 0 ? shared_entry(&index, dest, tensor, gi) : -1;
            if (e >= 0) { /* an earlier signature's constant */
                tensor_buffer[t] = index.entries.items[e].buffer;
                if (release) p2l_release_const(tensor);
                continue;
            }
            s = P2L_VEC_PUSH(&plan->sources, tensor);
            tensor_buffer[t] = (int)plan->sources.len; /* after the sentinel */
            if (s == P2L_OK && share && tensor->nbytes && gi + 1 < m->graphs.len) {
                written_buffer entry = {0, false, tensor->nbytes, tensor->data, tensor_buffer[t], gi};
                s = buffer_index_add(&index, entry);
            }
        }
    }
    P2L_VEC_FREE(&index.entries);
    p2l_release(index.slots);
    return s;
}

static void free_plan(buffer_plan *plan, size_t graphs) {
    for (size_t gi = 0; plan->tensor_buffer && gi < graphs; gi++) p2l_release(plan->tensor_buffer[gi]);
    p2l_release(plan->tensor_buffer);
    P2L_VEC_FREE(&plan->sources);
}

/* External layout (files over 2 GB): buffer data follows the flatbuffer, each at a multiple of this
 * from the file start; Buffer.offset (> 1, from the file start) and Buffer.size locate it. */
#define EXTERNAL_ALIGN 64
#define ALIGN_UP(n, a) (((n) + (a)-1) / (a) * (a))

/* How build_flatbuffer places the constants' bytes. */
typedef enum buffer_layout {
    LAYOUT_COPIED,   /* inside the flatbuffer, copied into it */
    LAYOUT_DEFERRED, /* inside the flatbuffer, written into it by the caller (p2l_fb_finish_parts) */
    LAYOUT_EXTERNAL, /* after the flatbuffer (Buffer.offset / Buffer.size) */
} buffer_layout;

/* Buffers first: the largest objects, written once (copied: their source released right after).
 * external_base: the file offset of the data section (LAYOUT_EXTERNAL). */
static p2l_status write_buffers(writer *w, const buffer_plan *plan, buffer_layout layout, uint64_t external_base) {
    p2l_fb *fb = w->fb;
    p2l_fb_table_start(fb);
    P2L_TRY(P2L_VEC_PUSH(&w->buffers, p2l_fb_table_end(fb)));
    uint64_t next = external_base;
    for (size_t i = 0; i < plan->sources.len; i++) {
        p2l_ir_tensor *tensor = plan->sources.items[i];
        p2l_fb_ref data = 0;
        if (layout == LAYOUT_DEFERRED && tensor->nbytes) data = p2l_fb_vector_deferred(fb, tensor->nbytes, 16);
        else if (layout != LAYOUT_EXTERNAL) data = p2l_fb_vector(fb, tensor->data, tensor->nbytes, 1, 16);
        p2l_fb_table_start(fb);
        if (layout == LAYOUT_EXTERNAL && tensor->nbytes) {
            p2l_fb_add_u64(fb, BUFFER_OFFSET, next);
            p2l_fb_add_u64(fb, BUFFER_SIZE, tensor->nbytes);
            next += ALIGN_UP(tensor->nbytes, EXTERNAL_ALIGN);
        }
        p2l_fb_add_ref(fb, BUFFER_DATA, data);
        P2L_TRY(P2L_VEC_PUSH(&w->buffers, p2l_fb_table_end(fb)));
        if (w->release && layout == LAYOUT_COPIED) p2l_release_const(tensor); /* the file holds it now */
    }
    return P2L_OK;
}

static p2l_fb_ref write_subgraph(writer *w, const p2l_ir_graph *g, const int *tensor_buffer, p2l_status *status) {
    p2l_fb *fb = w->fb;
    size_t nt = g->tensors.len, nn = g->nodes.len;
    p2l_fb_ref *refs = p2l_alloc(sizeof(p2l_fb_ref) * ((nt > nn ? nt : nn) + 1));
    if (!refs) {
        *status = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        return 0;
    }
    for (size_t t = 0; t < nt; t++) {
        const p2l_ir_tensor *tensor = &g->tensors.items[t];
        int32_t shape[P2L_MAX_DIMS], signature[P2L_MAX_DIMS];
        bool dynamic = false;
        for (int d = 0; d < tensor->rank; d++) {
            if (tensor->dims[d] < -1 || tensor->dims[d] > INT32_MAX) {
                p2l_release(refs);
                *status = p2l_fail(P2L_ERROR_UNSUPPORTED, "tensor %s has size %lld in dim %d; TFLite shapes hold int32",
                                   tensor->name, (long long)tensor->dims[d], d);
                return 0;
            }
            dynamic = dynamic || tensor->dims[d] < 0;
            shape[d] = tensor->dims[d] >= 0 ? (int32_t)tensor->dims[d]
                       : tensor->sample_dims && tensor->sample_dims[d] > 0 ? (int32_t)tensor->sample_dims[d] : 1;
            signature[d] = (int32_t)tensor->dims[d];
        }
        p2l_fb_ref shape_ref = p2l_fb_vector(fb, shape, (size_t)tensor->rank, 4, 4);
        p2l_fb_ref signature_ref = dynamic ? p2l_fb_vector(fb, signature, (size_t)tensor->rank, 4, 4) : 0;
        p2l_fb_ref name = p2l_fb_string(fb, tensor->name);
        p2l_fb_ref quant = tensor->quant ? write_quant(fb, tensor->quant) : 0;
        p2l_fb_table_start(fb);
        p2l_fb_add_ref(fb, TENSOR_SHAPE, shape_ref);
        p2l_fb_add_i8(fb, TENSOR_TYPE, (int8_t)tensor->dtype);
        p2l_fb_add_u32(fb, TENSOR_BUFFER, (uint32_t)tensor_buffer[t]);
        p2l_fb_add_ref(fb, TENSOR_NAME, name);
        p2l_fb_add_ref(fb, TENSOR_QUANTIZATION, quant);
        p2l_fb_add_ref(fb, TENSOR_SHAPE_SIGNATURE, signature_ref);
        refs[t] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref tensors = p2l_fb_ref_vector(fb, refs, nt);
    for (size_t n = 0; n < nn; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        if ((*status = check_options(node)) != P2L_OK) {
            p2l_release(refs);
            return 0;
        }
        int code = p2l_op_info_of(node->op)->builtin_code;
        int opcode = opcode_index(w, code, p2l_tflite_op_version(g, node));
        int union_code = 0;
        p2l_fb_ref options = write_options(w, node, &union_code);
        p2l_fb_ref ins = int_vector(fb, node->inputs, (size_t)node->ninputs);
        p2l_fb_ref outs = int_vector(fb, node->outputs, (size_t)node->noutputs);
        p2l_fb_table_start(fb);
        p2l_fb_add_u32(fb, OPERATOR_OPCODE_INDEX, (uint32_t)opcode);
        p2l_fb_add_ref(fb, OPERATOR_INPUTS, ins);
        p2l_fb_add_ref(fb, OPERATOR_OUTPUTS, outs);
        if (union_code) {
            p2l_fb_add_u8(fb, OPERATOR_OPTIONS_TYPE, (uint8_t)union_code);
            p2l_fb_add_ref(fb, OPERATOR_OPTIONS, options);
        }
        refs[n] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref operators = p2l_fb_ref_vector(fb, refs, nn);
    p2l_release(refs);
    p2l_fb_ref inputs = int_vector(fb, g->inputs.items, g->inputs.len);
    p2l_fb_ref outputs = int_vector(fb, g->outputs.items, g->outputs.len);
    p2l_fb_ref name = p2l_fb_string(fb, g->name);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, SUBGRAPH_TENSORS, tensors);
    p2l_fb_add_ref(fb, SUBGRAPH_INPUTS, inputs);
    p2l_fb_add_ref(fb, SUBGRAPH_OUTPUTS, outputs);
    p2l_fb_add_ref(fb, SUBGRAPH_OPERATORS, operators);
    p2l_fb_add_ref(fb, SUBGRAPH_NAME, name);
    return p2l_fb_table_end(fb);
}

/* Every input / output gets its entry: a signature never silently drops any. */
static p2l_fb_ref write_tensor_maps(p2l_fb *fb, const int *tensors, const char *const *names, size_t count,
                                    p2l_status *status) {
    size_t bytes;
    p2l_fb_ref *refs = p2l_mul_size(count + 1, sizeof *refs, &bytes) ? p2l_alloc(bytes) : NULL;
    if (!refs) {
        *status = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory writing a signature of %zu tensors", count);
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        p2l_fb_ref name = p2l_fb_string(fb, names[i]);
        p2l_fb_table_start(fb);
        p2l_fb_add_ref(fb, TENSORMAP_NAME, name);
        p2l_fb_add_u32(fb, TENSORMAP_TENSOR_INDEX, (uint32_t)tensors[i]);
        refs[i] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref vector = p2l_fb_ref_vector(fb, refs, count);
    p2l_release(refs);
    return vector;
}

static p2l_fb_ref write_signature(p2l_fb *fb, const p2l_ir_graph *g, int index, p2l_status *status) {
    p2l_fb_ref ins = write_tensor_maps(fb, g->inputs.items, g->input_names.items, g->inputs.len, status);
    p2l_fb_ref outs = *status == P2L_OK
                          ? write_tensor_maps(fb, g->outputs.items, g->output_names.items, g->outputs.len, status)
                          : 0;
    if (*status != P2L_OK) return 0;
    p2l_fb_ref key = p2l_fb_string(fb, g->name);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, SIGNATURE_INPUTS, ins);
    p2l_fb_add_ref(fb, SIGNATURE_OUTPUTS, outs);
    p2l_fb_add_ref(fb, SIGNATURE_KEY, key);
    p2l_fb_add_u32(fb, SIGNATURE_SUBGRAPH_INDEX, (uint32_t)index);
    return p2l_fb_table_end(fb);
}

/* Model.metadata: entry i names buffer first_buffer + i (written after the constants). */
static p2l_fb_ref write_metadata(p2l_fb *fb, const p2l_model_ir *m, size_t first_buffer, p2l_status *status) {
    if (m->metadata.len == 0) return 0;
    p2l_fb_ref *refs = p2l_alloc(sizeof(p2l_fb_ref) * m->metadata.len);
    if (!refs) {
        *status = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        return 0;
    }
    for (size_t i = 0; i < m->metadata.len; i++) {
        p2l_fb_ref name = p2l_fb_string(fb, m->metadata.items[i].name);
        p2l_fb_table_start(fb);
        p2l_fb_add_ref(fb, METADATA_NAME, name);
        p2l_fb_add_u32(fb, METADATA_BUFFER, (uint32_t)(first_buffer + i));
        refs[i] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref vec = p2l_fb_ref_vector(fb, refs, m->metadata.len);
    p2l_release(refs);
    return vec;
}

/* The flatbuffer, its constants placed as `layout` says (LAYOUT_DEFERRED: *holes gets where each
 * constant of nonzero size goes, in plan order). */
static p2l_status build_flatbuffer(p2l_model_ir *m, const buffer_plan *plan, bool release_constants,
                                   buffer_layout layout, uint64_t external_base, size_t estimate, void **out,
                                   size_t *size, p2l_fb_hole **holes, size_t *hole_count) {
    writer w = {.fb = p2l_fb_create(estimate), .m = m, .release = release_constants};
    if (!w.fb) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory reserving %zu bytes for the model", estimate);
    size_t ng = m->graphs.len;
    int **tensor_buffer = plan->tensor_buffer;
    p2l_fb_ref *subgraphs = p2l_alloc_zero(sizeof(p2l_fb_ref) * (ng + 1));
    p2l_fb_ref *signatures = p2l_alloc_zero(sizeof(p2l_fb_ref) * (ng + 1));
    p2l_status s = subgraphs && signatures ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    if (s == P2L_OK) s = write_buffers(&w, plan, layout, external_base);
    size_t first_metadata_buffer = w.buffers.len;
    for (size_t i = 0; s == P2L_OK && i < m->metadata.len; i++) {
        p2l_fb_ref data = p2l_fb_vector(w.fb, m->metadata.items[i].data, m->metadata.items[i].size, 1, 16);
        p2l_fb_table_start(w.fb);
        p2l_fb_add_ref(w.fb, BUFFER_DATA, data);
        s = P2L_VEC_PUSH(&w.buffers, p2l_fb_table_end(w.fb));
    }
    for (size_t gi = 0; s == P2L_OK && gi < ng; gi++)
        subgraphs[gi] = write_subgraph(&w, m->graphs.items[gi], tensor_buffer[gi], &s);
    size_t nsig = 0;
    for (size_t gi = 0; s == P2L_OK && gi < ng; gi++)
        if (!m->graphs.items[gi]->no_signature) signatures[nsig++] = write_signature(w.fb, m->graphs.items[gi], (int)gi, &s);
    if (s == P2L_OK) {
        p2l_fb *fb = w.fb;
        p2l_fb_ref *codes = p2l_alloc(sizeof(p2l_fb_ref) * (w.opcodes.len + 1));
        if (!codes) s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; s == P2L_OK && i < w.opcodes.len; i++) {
            int code = w.opcodes.items[i].builtin;
            p2l_fb_table_start(fb);
            p2l_fb_add_i8(fb, OPCODE_DEPRECATED_BUILTIN, (int8_t)(code < 127 ? code : 127));
            p2l_fb_add_i32(fb, OPCODE_VERSION, w.opcodes.items[i].version);
            p2l_fb_add_i32(fb, OPCODE_BUILTIN, code);
            codes[i] = p2l_fb_table_end(fb);
        }
        if (s == P2L_OK) {
            p2l_fb_ref opcodes = p2l_fb_ref_vector(fb, codes, w.opcodes.len);
            p2l_fb_ref subgraph_vec = p2l_fb_ref_vector(fb, subgraphs, ng);
            p2l_fb_ref buffers = p2l_fb_ref_vector(fb, w.buffers.items, w.buffers.len);
            p2l_fb_ref signature_vec = p2l_fb_ref_vector(fb, signatures, nsig);
            p2l_fb_ref description = p2l_fb_string(fb, m->description ? m->description : "pt2lite " P2L_VERSION);
            p2l_fb_ref metadata_vec = write_metadata(fb, m, first_metadata_buffer, &s);
            p2l_fb_table_start(fb);
            p2l_fb_add_u32(fb, MODEL_VERSION, 3);
            p2l_fb_add_ref(fb, MODEL_OPERATOR_CODES, opcodes);
            p2l_fb_add_ref(fb, MODEL_SUBGRAPHS, subgraph_vec);
            p2l_fb_add_ref(fb, MODEL_DESCRIPTION, description);
            p2l_fb_add_ref(fb, MODEL_BUFFERS, buffers);
            p2l_fb_add_ref(fb, MODEL_SIGNATURE_DEFS, signature_vec);
            p2l_fb_add_ref(fb, MODEL_METADATA, metadata_vec);
            p2l_fb_ref root = p2l_fb_table_end(fb);
            if (s == P2L_OK) s = p2l_fb_finish_parts(fb, root, "TFL3", out, size, holes, hole_count);
        }
        p2l_release(codes);
    }
    p2l_release(subgraphs);
    p2l_release(signatures);
    P2L_VEC_FREE(&w.opcodes);
    P2L_VEC_FREE(&w.buffers);
    p2l_fb_destroy(w.fb);
    return s;
}

/* Above this, the flatbuffer could pass FlatBuffers' 2 GiB limit (32-bit offsets): the constants go
 * after it instead (the margin covers everything but the constants' bytes). */
#define INLINE_LIMIT ((size_t)INT32_MAX - ((size_t)64 << 20))

static p2l_status emit(const p2l_tflite_destination *dest, uint8_t *memory, size_t *pos, const void *data, size_t n) {
    static const uint8_t zeros[EXTERNAL_ALIGN];
    if (!data) data = zeros; /* padding: n <= EXTERNAL_ALIGN */
    if (memory) memcpy(memory + *pos, data, n);
    else if (n && fwrite(data, 1, n, dest->file) != n) return p2l_fail(P2L_ERROR_IO, "cannot write the model: write failed");
    *pos += n;
    return P2L_OK;
}

/* The flatbuffer, then each constant at its offset, released (or its mapped pages dropped) once written. */
static p2l_status write_external(p2l_model_ir *m, const buffer_plan *plan, bool release, size_t estimate,
                                 const p2l_tflite_destination *dest) {
    /* Offsets are scalars: the flatbuffer's size does not depend on them, so a first build with a
     * placeholder base tells where the data starts, and the second writes the real offsets. */
    const uint64_t placeholder = EXTERNAL_ALIGN;
    void *fb = NULL;
    size_t fb_size = 0, size = 0;
    P2L_TRY(build_flatbuffer(m, plan, false, LAYOUT_EXTERNAL, placeholder, estimate, &fb, &fb_size, NULL, NULL));
    uint64_t base = ALIGN_UP((uint64_t)fb_size, EXTERNAL_ALIGN);
    p2l_release(fb);
    P2L_TRY(build_flatbuffer(m, plan, false, LAYOUT_EXTERNAL, base, estimate, &fb, &size, NULL, NULL));
    if (size != fb_size) {
        p2l_release(fb);
        return p2l_fail(P2L_ERROR_INTERNAL, "the model's flatbuffer changed size between its two builds");
    }
    uint64_t total = base;
    for (size_t i = 0; i < plan->sources.len; i++) total += ALIGN_UP((uint64_t)plan->sources.items[i]->nbytes, EXTERNAL_ALIGN);
    uint8_t *memory = NULL;
    if (!dest->file) {
        if (total > SIZE_MAX || !(memory = p2l_alloc((size_t)total))) {
            p2l_release(fb);
            return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory holding a model of %llu bytes", (unsigned long long)total);
        }
    }
    size_t pos = 0;
    p2l_status s = emit(dest, memory, &pos, fb, fb_size);
    p2l_release(fb);
    if (s == P2L_OK) s = emit(dest, memory, &pos, NULL, (size_t)(base - fb_size));
    for (size_t i = 0; s == P2L_OK && i < plan->sources.len; i++) {
        p2l_ir_tensor *tensor = plan->sources.items[i];
        size_t n = tensor->nbytes;
        s = emit(dest, memory, &pos, tensor->data, n);
        if (s == P2L_OK) s = emit(dest, memory, &pos, NULL, ALIGN_UP(n, EXTERNAL_ALIGN) - n);
        drop_mapped_pages(dest, tensor->data, n);
        if (release) p2l_release_const(tensor);
    }
    if (s == P2L_OK && memory) {
        *dest->out = memory;
        *dest->size = pos;
    } else {
        p2l_release(memory);
    }
    return s;
}

/* Writes a constant's bytes to the file, then lets them go (mapped pages dropped, owned bytes released). */
static p2l_status emit_constant(const p2l_tflite_destination *dest, size_t *pos, p2l_ir_tensor *tensor, bool release) {
    p2l_status s = emit(dest, NULL, pos, tensor->data, tensor->nbytes);
    drop_mapped_pages(dest, tensor->data, tensor->nbytes);
    if (release) p2l_release_const(tensor);
    return s;
}

/* The inline layout streamed to a file: the flatbuffer is built without the constants' bytes, which
 * are written from their sources into the holes it leaves, so the model is never whole in memory. */
static p2l_status write_inline_to_file(p2l_model_ir *m, const buffer_plan *plan, bool release, size_t estimate,
                                       const p2l_tflite_destination *dest) {
    void *fb = NULL;
    size_t fb_size = 0, hole_count = 0;
    p2l_fb_hole *holes = NULL;
    P2L_TRY(build_flatbuffer(m, plan, false, LAYOUT_DEFERRED, 0, estimate, &fb, &fb_size, &holes, &hole_count));
    /* Holes are in plan order, built back to front: the last constant comes first in the file. */
    size_t pos = 0, stored = 0, hole = hole_count;
    p2l_status s = P2L_OK;
    for (size_t i = plan->sources.len; s == P2L_OK && i-- > 0;) {
        p2l_ir_tensor *tensor = plan->sources.items[i];
        if (!tensor->nbytes) continue;
        if (hole == 0 || holes[--hole].size != tensor->nbytes || holes[hole].offset < pos) {
            s = p2l_fail(P2L_ERROR_INTERNAL, "the writer's constant %zu does not fill its place in the model", i);
            break;
        }
        size_t before = holes[hole].offset - pos; /* the flatbuffer's bytes up to this constant */
        s = emit(dest, NULL, &pos, (const uint8_t *)fb + stored, before);
        stored += before;
        if (s == P2L_OK) s = emit_constant(dest, &pos, tensor, release);
    }
    if (s == P2L_OK && hole) s = p2l_fail(P2L_ERROR_INTERNAL, "the model has %zu places for constants left over", hole);
    if (s == P2L_OK) s = emit(dest, NULL, &pos, (const uint8_t *)fb + stored, fb_size - stored);
    p2l_release(holes);
    p2l_release(fb);
    return s;
}

p2l_status p2l_tflite_write_to(p2l_model_ir *m, bool release_constants, const p2l_tflite_destination *dest) {
    size_t estimate = 65536, constants = 0;
    for (size_t gi = 0; gi < m->graphs.len; gi++) {
        const p2l_ir_graph *g = m->graphs.items[gi];
        for (size_t t = 0; t < g->tensors.len; t++) {
            estimate += 160 + strlen(g->tensors.items[t].name);
            constants += g->tensors.items[t].nbytes;
        }
        estimate += g->nodes.len * 128;
    }
    bool external = constants > INLINE_LIMIT - estimate || p2l_env_flag("P2L_EXTERNAL_BUFFERS");
    buffer_plan plan = {0};
    p2l_status s = plan_buffers(m, release_constants, dest, &plan);
    if (s == P2L_OK && external) {
        s = write_external(m, &plan, release_constants, estimate, dest);
    } else if (s == P2L_OK && dest->file) {
        s = write_inline_to_file(m, &plan, release_constants, estimate, dest);
    } else if (s == P2L_OK) {
        s = build_flatbuffer(m, &plan, release_constants, LAYOUT_COPIED, 0, estimate + constants, dest->out,
                             dest->size, NULL, NULL);
    }
    free_plan(&plan, m->graphs.len);
    return s;
}

p2l_status p2l_tflite_write(p2l_model_ir *m, bool release_constants, void **out, size_t *size) {
    p2l_tflite_destination dest = {.out = out, .size = size};
    return p2l_tflite_write_to(m, release_constants, &dest);
}
