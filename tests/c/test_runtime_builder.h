/* Test helper: builds small .tflite files from a plain description, so the C runtime tests need
 * neither the converter nor Python. Front-to-back FlatBuffers writing: every table gets one 8-byte
 * slot per field and children are written after their parents (uoffsets point forward). */
#ifndef P2L_TESTS_RUNTIME_BUILDER_H
#define P2L_TESTS_RUNTIME_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt2lite.h"
#include "tflite/schema.h"

typedef struct tb {
    uint8_t *buf;
    size_t len, cap;
} tb;

static void tb_reserve(tb *b, size_t n) {
    if (b->len + n <= b->cap) return;
    while (b->len + n > b->cap) b->cap = b->cap ? b->cap * 2 : 1024;
    b->buf = realloc(b->buf, b->cap);
}
static size_t tb_pad(tb *b, size_t align) {
    while (b->len % align) {
        tb_reserve(b, 1);
        b->buf[b->len++] = 0;
    }
    return b->len;
}
static size_t tb_bytes(tb *b, const void *p, size_t n) {
    tb_reserve(b, n);
    size_t at = b->len;
    if (n) memcpy(b->buf + at, p, n);
    b->len += n;
    return at;
}
static void tb_put(tb *b, size_t at, const void *p, size_t n) { memcpy(b->buf + at, p, n); }
static void tb_u32_at(tb *b, size_t at, uint32_t v) { tb_put(b, at, &v, 4); }

/* A table with `n` fields; fields whose bit is set in `absent` are left out of the vtable. */
static size_t tb_table(tb *b, int n, uint32_t absent) {
    tb_pad(b, 4);
    size_t vt = b->len;
    uint16_t vsize = (uint16_t)(4 + 2 * n + ((n & 1) ? 2 : 0)), tsize = (uint16_t)(8 + 8 * n);
    tb_bytes(b, &vsize, 2);
    tb_bytes(b, &tsize, 2);
    for (int i = 0; i < n; i++) {
        uint16_t off = (absent >> i & 1) ? 0 : (uint16_t)(8 + 8 * i);
        tb_bytes(b, &off, 2);
    }
    if (n & 1) tb_bytes(b, &(uint16_t){0}, 2);
    tb_pad(b, 8);
    size_t t = b->len;
    tb_reserve(b, tsize);
    memset(b->buf + t, 0, tsize);
    b->len += tsize;
    int32_t soff = (int32_t)(t - vt);
    tb_put(b, t, &soff, 4);
    return t;
}
static size_t tb_field(size_t table, int field) { return table + 8 + 8 * (size_t)field; }
static void tb_set(tb *b, size_t table, int field, const void *v, size_t n) { tb_put(b, tb_field(table, field), v, n); }
static void tb_link(tb *b, size_t table, int field, size_t target) {
    size_t at = tb_field(table, field);
    tb_u32_at(b, at, (uint32_t)(target - at));
}
/* Vector of scalars; returns the position of its length word. */
static size_t tb_vector(tb *b, const void *data, uint32_t count, size_t elem, size_t align) {
    while ((b->len + 4) % align) tb_bytes(b, "", 1);
    size_t at = tb_bytes(b, &count, 4);
    tb_bytes(b, data, count * elem);
    return at;
}
static size_t tb_string(tb *b, const char *s) {
    size_t at = tb_vector(b, s, (uint32_t)strlen(s), 1, 4);
    tb_bytes(b, "", 1);
    return at;
}
/* Vector of offsets (to be filled with tb_ref_item). */
static size_t tb_refs(tb *b, uint32_t count) {
    tb_pad(b, 4);
    size_t at = tb_bytes(b, &count, 4);
    tb_reserve(b, 4 * count);
    memset(b->buf + b->len, 0, 4 * count);
    b->len += 4 * count;
    return at;
}
static void tb_ref_item(tb *b, size_t vec, uint32_t i, size_t target) {
    size_t at = vec + 4 + 4 * i;
    tb_u32_at(b, at, (uint32_t)(target - at));
}

/* ------------------------------------------------------------ model description */

enum { TM_MAX = 32 };

typedef struct tm_tensor {
    int8_t type;
    int rank;
    int32_t shape[8];
    const void *data; /* constant data, data_size bytes */
    size_t data_size;
    const char *name;
    bool has_signature;
    int32_t signature[8];
    int buffer; /* > 0: use this buffer index instead of the automatic one */
    /* Quantization: quant_count scales and zero points (0: none) along quantized_dimension. */
    int quant_count;
    float scales[8];
    int64_t zero_points[8];
    int32_t quantized_dimension;
} tm_tensor;

typedef struct tm_op {
    int builtin;
    int version; /* 0: 1 */
    int n_in, n_out;
    int32_t in[8], out[8];
    bool has_options;
    int64_t options[P2L_MAX_OPTION_FIELDS];
    int options_type; /* 0: the op's own */
} tm_op;

typedef struct tm_model {
    uint32_t version; /* 0: 3 */
    int n_tensors, n_ops, n_in, n_out;
    tm_tensor t[TM_MAX];
    tm_op ops[TM_MAX];
    int32_t in[8], out[8];
    const char *signature_key;     /* adds one signature over all inputs/outputs */
    int extra_buffers;             /* empty buffers appended */
    bool nonempty_buffer0;
    const char *metadata_name;     /* adds one Model.metadata entry naming an extra buffer ... */
    const char *metadata;          /* ... that holds this string (without its NUL) */
    int subgraph_copies;           /* 0 or 1: one subgraph; n: the same subgraph n times */
} tm_model;

/* Where the last tm_build wrote each op's input tensor indices (int32s), for tests that mutate them. */
static size_t tm_op_inputs_at[TM_MAX];
/* ... and each op's options table (field i at + 8 + 8 i), 0 for none. */
static size_t tm_options_at, tm_op_options_at[TM_MAX];

static size_t tm_ints(tb *b, const int32_t *v, int n) { return tb_vector(b, v, (uint32_t)n, 4, 4); }

static void tm_options(tb *b, size_t op_table, const tm_op *op) {
    int kind_op = p2l_op_from_builtin(op->builtin);
    if (kind_op < 0 || !op->has_options) return;
    const p2l_options_info *info = p2l_options_info_of(p2l_op_info_of((p2l_op)kind_op)->options);
    uint8_t type = (uint8_t)(op->options_type ? op->options_type : info->union_code);
    tb_set(b, op_table, 3, &type, 1);
    uint32_t absent = 0;
    for (int i = 0; i < info->field_count; i++)
        if (info->fields[i].type == P2L_FIELD_NONE || info->fields[i].type == P2L_FIELD_I32S ||
            info->fields[i].type == P2L_FIELD_STRING) absent |= 1u << i;
    size_t t = tb_table(b, info->field_count, absent);
    tm_options_at = t;
    tb_link(b, op_table, 4, t);
    for (int i = 0; i < info->field_count; i++) {
        int64_t v = op->options[i];
        switch (info->fields[i].type) {
        case P2L_FIELD_I8: case P2L_FIELD_BOOL: { int8_t x = (int8_t)v; tb_set(b, t, i, &x, 1); break; }
        case P2L_FIELD_I32: case P2L_FIELD_F32: { int32_t x = (int32_t)v; tb_set(b, t, i, &x, 4); break; }
        case P2L_FIELD_I64: tb_set(b, t, i, &v, 8); break;
        default: break;
        }
    }
}

/* Builds the file; returns malloc()ed bytes (16-byte aligned). */
static uint8_t *tm_build(const tm_model *m, size_t *size) {
    tb b = {0};
    tb_bytes(&b, "\0\0\0\0TFL3", 8);
    size_t model = tb_table(&b, 8, 1u << 5 | (m->metadata_name ? 0 : 1u << 6) | (m->signature_key ? 0 : 1u << 7));
    tb_u32_at(&b, 0, (uint32_t)model);
    uint32_t version = m->version ? m->version : 3;
    tb_set(&b, model, 0, &version, 4);
    tb_link(&b, model, 3, tb_string(&b, "pt2lite test model"));
    /* operator codes: one per op */
    size_t codes = tb_refs(&b, (uint32_t)m->n_ops);
    tb_link(&b, model, 1, codes);
    for (int i = 0; i < m->n_ops; i++) {
        size_t c = tb_table(&b, 4, 1u << 1);
        int8_t dep = (int8_t)(m->ops[i].builtin < 127 ? m->ops[i].builtin : 127);
        int32_t code = m->ops[i].builtin, ver = m->ops[i].version ? m->ops[i].version : 1;
        tb_set(&b, c, 0, &dep, 1);
        tb_set(&b, c, 2, &ver, 4);
        tb_set(&b, c, 3, &code, 4);
        tb_ref_item(&b, codes, (uint32_t)i, c);
    }
    /* buffers: 0 = sentinel, then one per constant tensor */
    int n_buffers = 1 + m->extra_buffers, buffer_of[TM_MAX] = {0};
    for (int i = 0; i < m->n_tensors; i++)
        if (m->t[i].data) buffer_of[i] = n_buffers++;
    int metadata_buffer = m->metadata_name ? n_buffers++ : 0;
    size_t buffers = tb_refs(&b, (uint32_t)n_buffers);
    tb_link(&b, model, 4, buffers);
    for (int i = 0; i < n_buffers; i++) {
        size_t bt = tb_table(&b, 1, 0);
        tb_ref_item(&b, buffers, (uint32_t)i, bt);
        const void *data = NULL;
        size_t n = 0;
        for (int t = 0; t < m->n_tensors; t++)
            if (buffer_of[t] == i && i > 0) data = m->t[t].data, n = m->t[t].data_size;
        if (i == 0 && m->nonempty_buffer0) data = "abcd", n = 4;
        if (i > 0 && i == metadata_buffer) data = m->metadata, n = strlen(m->metadata);
        tb_link(&b, bt, 0, tb_vector(&b, data, (uint32_t)n, 1, 16));
    }
    /* the subgraph, subgraph_copies times */
    const int copies = m->subgraph_copies > 1 ? m->subgraph_copies : 1;
    size_t subgraphs = tb_refs(&b, (uint32_t)copies);
    tb_link(&b, model, 2, subgraphs);
    for (int copy = 0; copy < copies; copy++) {
    size_t sg = tb_table(&b, 5, 0);
    tb_ref_item(&b, subgraphs, (uint32_t)copy, sg);
    tb_link(&b, sg, 1, tm_ints(&b, m->in, m->n_in));
    tb_link(&b, sg, 2, tm_ints(&b, m->out, m->n_out));
    tb_link(&b, sg, 4, tb_string(&b, "main"));
    size_t tensors = tb_refs(&b, (uint32_t)m->n_tensors);
    tb_link(&b, sg, 0, tensors);
    for (int i = 0; i < m->n_tensors; i++) {
        const tm_tensor *t = &m->t[i];
        size_t tt = tb_table(&b, 8, (t->quant_count ? 0 : 1u << 4) | 1u << 5 | 1u << 6 | (t->has_signature ? 0 : 1u << 7));
        if (t->quant_count) { /* QuantizationParameters: scale (2), zero_point (3), quantized_dimension (6) */
            size_t q = tb_table(&b, 7, 1u << 0 | 1u << 1 | 1u << 4 | 1u << 5);
            tb_link(&b, q, 2, tb_vector(&b, t->scales, (uint32_t)t->quant_count, 4, 4));
            tb_link(&b, q, 3, tb_vector(&b, t->zero_points, (uint32_t)t->quant_count, 8, 8));
            tb_set(&b, q, 6, &t->quantized_dimension, 4);
            tb_link(&b, tt, 4, q);
        }
        tb_ref_item(&b, tensors, (uint32_t)i, tt);
        tb_set(&b, tt, 1, &t->type, 1);
        uint32_t buffer = (uint32_t)(t->buffer > 0 ? t->buffer : buffer_of[i]);
        tb_set(&b, tt, 2, &buffer, 4);
        tb_link(&b, tt, 0, tm_ints(&b, t->shape, t->rank));
        tb_link(&b, tt, 3, tb_string(&b, t->name ? t->name : ""));
        if (t->has_signature) tb_link(&b, tt, 7, tm_ints(&b, t->signature, t->rank));
    }
    size_t ops = tb_refs(&b, (uint32_t)m->n_ops);
    tb_link(&b, sg, 3, ops);
    for (int i = 0; i < m->n_ops; i++) {
        const tm_op *op = &m->ops[i];
        size_t ot = tb_table(&b, 5, op->has_options ? 0 : (1u << 3 | 1u << 4));
        tb_ref_item(&b, ops, (uint32_t)i, ot);
        uint32_t index = (uint32_t)i;
        tb_set(&b, ot, 0, &index, 4);
        const size_t inputs_at = tm_ints(&b, op->in, op->n_in);
        if (copy == 0) tm_op_inputs_at[i] = inputs_at + 4;
        tb_link(&b, ot, 1, inputs_at);
        tb_link(&b, ot, 2, tm_ints(&b, op->out, op->n_out));
        tm_options_at = 0;
        tm_options(&b, ot, op);
        if (copy == 0) tm_op_options_at[i] = tm_options_at;
    }
    }
    if (m->signature_key) {
        size_t sigs = tb_refs(&b, 1);
        tb_link(&b, model, 7, sigs);
        size_t st = tb_table(&b, 5, 1u << 3);
        tb_ref_item(&b, sigs, 0, st);
        tb_link(&b, st, 2, tb_string(&b, m->signature_key));
        uint32_t zero = 0;
        tb_set(&b, st, 4, &zero, 4);
        for (int io = 0; io < 2; io++) {
            int n = io ? m->n_out : m->n_in;
            size_t maps = tb_refs(&b, (uint32_t)n);
            tb_link(&b, st, io, maps);
            for (int i = 0; i < n; i++) {
                uint32_t tensor = (uint32_t)(io ? m->out[i] : m->in[i]);
                size_t mt = tb_table(&b, 2, 0);
                tb_ref_item(&b, maps, (uint32_t)i, mt);
                tb_set(&b, mt, 1, &tensor, 4);
                const char *name = tensor < TM_MAX && m->t[tensor].name ? m->t[tensor].name : "";
                tb_link(&b, mt, 0, tb_string(&b, name));
            }
        }
    }
    if (m->metadata_name) {
        size_t entries = tb_refs(&b, 1);
        tb_link(&b, model, 6, entries);
        size_t et = tb_table(&b, 2, 0);
        tb_ref_item(&b, entries, 0, et);
        tb_link(&b, et, 0, tb_string(&b, m->metadata_name));
        uint32_t buffer = (uint32_t)metadata_buffer;
        tb_set(&b, et, 1, &buffer, 4);
    }
    *size = b.len;
    uint8_t *out = aligned_alloc(16, (b.len + 15) & ~(size_t)15);
    memcpy(out, b.buf, b.len);
    free(b.buf);
    return out;
}

/* Shorthands. */
static int tm_tensor_add(tm_model *m, int8_t type, int rank, const int32_t *shape, const char *name) {
    tm_tensor *t = &m->t[m->n_tensors];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->rank = rank;
    if (rank) memcpy(t->shape, shape, (size_t)rank * 4);
    t->name = name;
    return m->n_tensors++;
}
static int tm_const_add(tm_model *m, int8_t type, int rank, const int32_t *shape, const void *data, size_t bytes,
                        const char *name) {
    int i = tm_tensor_add(m, type, rank, shape, name);
    m->t[i].data = data;
    m->t[i].data_size = bytes;
    return i;
}
static tm_op *tm_op_add(tm_model *m, int builtin, int n_in, const int32_t *in, int n_out, const int32_t *out) {
    tm_op *op = &m->ops[m->n_ops++];
    memset(op, 0, sizeof *op);
    op->builtin = builtin;
    op->n_in = n_in;
    op->n_out = n_out;
    memcpy(op->in, in, (size_t)n_in * 4);
    memcpy(op->out, out, (size_t)n_out * 4);
    return op;
}
/* Sets an option by name (floats via p2l_f32_bits). */
static void tm_option(tm_op *op, const char *name, int64_t value) {
    int kind = p2l_op_from_builtin(op->builtin);
    int id = p2l_option_field((p2l_op)kind, name);
    if (id < 0) { fprintf(stderr, "test bug: no option %s\n", name); abort(); }
    if (!op->has_options) {
        const p2l_options_info *info = p2l_options_info_of(p2l_op_info_of((p2l_op)kind)->options);
        for (int i = 0; i < info->field_count; i++) op->options[i] = info->fields[i].default_value;
    }
    op->has_options = true;
    op->options[id] = value;
}

/* x[n,4] (dynamic n) -> ADD c -> RELU -> MUL 2 -> y: a chain whose intermediates can share memory.
 * `c` (4 floats) must outlive the built file. */
static inline tm_model tm_chain_model(const float *c_values) {
    static const float two[1] = {2};
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "x");
    m.t[x].has_signature = true;
    m.t[x].signature[0] = -1, m.t[x].signature[1] = 4;
    int c = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){4}, c_values, 4 * sizeof(float), "c");
    int k = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){1}, two, sizeof two, "two");
    int a = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "a");
    int r = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "r");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "y");
    tm_op_add(&m, 0 /* ADD */, 2, (int32_t[]){x, c}, 1, (int32_t[]){a});
    tm_op_add(&m, 19 /* RELU */, 1, (int32_t[]){a}, 1, (int32_t[]){r});
    tm_op_add(&m, 18 /* MUL */, 2, (int32_t[]){r, k}, 1, (int32_t[]){y});
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    m.signature_key = "serving_default";
    return m;
}


/* Builds m, loads it, allocates, sets input 0 to in0 (and input 1 to in1) unless NULL, invokes and
 * reads output 0 into out unless NULL: the status of the first step that fails (its message printed). */
static inline p2l_status tm_run(const tm_model *m, const void *in0, size_t in0_bytes, const void *in1,
                                size_t in1_bytes, void *out, size_t out_bytes) {
    size_t size;
    uint8_t *bytes = tm_build(m, &size);
    p2l_model *model = NULL;
    p2l_interpreter *it = NULL;
    p2l_status s = p2l_model_load(bytes, size, 0, &model);
    if (!s) s = p2l_interpreter_create(model, NULL, &it);
    if (!s) s = p2l_interpreter_allocate(it);
    if (!s && in0) s = p2l_interpreter_set_input(it, 0, in0, in0_bytes);
    if (!s && in1) s = p2l_interpreter_set_input(it, 1, in1, in1_bytes);
    if (!s) s = p2l_interpreter_invoke(it);
    if (!s && out) s = p2l_interpreter_get_output(it, 0, out, out_bytes);
    if (s) fprintf(stderr, "  %s\n", p2l_last_error());
    p2l_interpreter_free(it);
    p2l_model_free(model);
    free(bytes);
    return s;
}

#endif
