/* Bounds-checked FlatBuffers reading and TFLite model verification (see reader.h).
 *
 * Every access goes through the fb_* helpers below, which check that what they read lies inside the
 * file (with overflow-safe arithmetic) before touching a byte. The decoder walks the fixed schema
 * depth (model -> subgraph -> tensor/op -> options), so a file with cycles or shared objects cannot
 * make it loop, and every loop is bounded by a vector length that was checked against the file size. */
#include "tflite/reader.h"

#include "base/limits.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

enum { CUSTOM_BUILTIN_CODE = 32 };

typedef struct fb_reader {
    const uint8_t *bytes;
    size_t size;
} fb_reader;

typedef struct fb_table {
    size_t pos;       /* 0: absent */
    size_t vtable;
    uint16_t vtable_size, inline_size;
} fb_table;

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t load_u64(const uint8_t *p) { return load_u32(p) | (uint64_t)load_u32(p + 4) << 32; }

static bool in_file(const fb_reader *r, size_t pos, size_t len) {
    return pos <= r->size && len <= r->size - pos;
}

static p2l_status fb_malformed(size_t at, const char *what, const fb_reader *r) {
    return p2l_fail(P2L_ERROR_MALFORMED, "%s at byte offset %zu lies outside the file (%zu bytes)", what, at,
                    r->size);
}

static p2l_status fb_table_at(const fb_reader *r, size_t pos, fb_table *t) {
    if (!in_file(r, pos, 4)) return fb_malformed(pos, "table", r);
    int32_t soffset = (int32_t)load_u32(r->bytes + pos);
    /* vtable = pos - soffset, computed in 64 bits so neither sign overflows. */
    int64_t vtable = (int64_t)pos - (int64_t)soffset;
    if (vtable < 0 || !in_file(r, (size_t)vtable, 4)) return fb_malformed(pos, "vtable of the table", r);
    t->pos = pos;
    t->vtable = (size_t)vtable;
    t->vtable_size = load_u16(r->bytes + t->vtable);
    t->inline_size = load_u16(r->bytes + t->vtable + 2);
    if (t->vtable_size < 4 || (t->vtable_size & 1) || !in_file(r, t->vtable, t->vtable_size))
        return p2l_fail(P2L_ERROR_MALFORMED, "vtable at byte offset %zu has a bad size (%u)", t->vtable,
                        t->vtable_size);
    if (t->inline_size < 4 || !in_file(r, pos, t->inline_size))
        return p2l_fail(P2L_ERROR_MALFORMED, "table at byte offset %zu has a bad size (%u)", pos, t->inline_size);
    return P2L_OK;
}

/* Position of field `id` (width bytes) or 0 when the field is absent. */
static p2l_status fb_field(const fb_reader *r, const fb_table *t, int id, size_t width, size_t *pos) {
    *pos = 0;
    size_t slot = 4 + 2 * (size_t)id;
    if (!t->pos || slot + 2 > t->vtable_size) return P2L_OK;
    uint16_t offset = load_u16(r->bytes + t->vtable + slot);
    if (offset == 0) return P2L_OK;
    if ((size_t)offset + width > t->inline_size)
        return p2l_fail(P2L_ERROR_MALFORMED, "field %d of the table at byte offset %zu runs past the table", id,
                        t->pos);
    *pos = t->pos + offset;
    return P2L_OK;
}

static p2l_status fb_u8(const fb_reader *r, const fb_table *t, int id, uint8_t def, uint8_t *out) {
    size_t pos;
    P2L_TRY(fb_field(r, t, id, 1, &pos));
    *out = pos ? r->bytes[pos] : def;
    return P2L_OK;
}

static p2l_status fb_u32(const fb_reader *r, const fb_table *t, int id, uint32_t def, uint32_t *out) {
    size_t pos;
    P2L_TRY(fb_field(r, t, id, 4, &pos));
    *out = pos ? load_u32(r->bytes + pos) : def;
    return P2L_OK;
}

static p2l_status fb_u64(const fb_reader *r, const fb_table *t, int id, uint64_t def, uint64_t *out) {
    size_t pos;
    P2L_TRY(fb_field(r, t, id, 8, &pos));
    *out = pos ? load_u64(r->bytes + pos) : def;
    return P2L_OK;
}

/* Follows an offset field; *target = 0 when absent. */
static p2l_status fb_ref(const fb_reader *r, const fb_table *t, int id, size_t *target) {
    size_t pos;
    P2L_TRY(fb_field(r, t, id, 4, &pos));
    *target = 0;
    if (!pos) return P2L_OK;
    size_t to = pos + load_u32(r->bytes + pos); /* pos < size, so no overflow in 64-bit size_t */
    if (to >= r->size) return fb_malformed(to, "offset target", r);
    *target = to;
    return P2L_OK;
}

typedef struct fb_vector {
    size_t start; /* first element; 0 when absent */
    size_t count;
} fb_vector;

static p2l_status fb_vector_at(const fb_reader *r, size_t at, size_t elem_size, fb_vector *v) {
    if (!in_file(r, at, 4)) return fb_malformed(at, "vector length", r);
    size_t count = load_u32(r->bytes + at), bytes;
    if (!p2l_mul_size(count, elem_size, &bytes) || !in_file(r, at + 4, bytes))
        return p2l_fail(P2L_ERROR_MALFORMED, "vector at byte offset %zu (%zu elements of %zu bytes) runs past the end "
                        "of the file (%zu bytes)", at, count, elem_size, r->size);
    v->start = at + 4;
    v->count = count;
    return P2L_OK;
}

static p2l_status fb_vector_field(const fb_reader *r, const fb_table *t, int id, size_t elem_size, fb_vector *v) {
    size_t at;
    v->start = v->count = 0;
    P2L_TRY(fb_ref(r, t, id, &at));
    return at ? fb_vector_at(r, at, elem_size, v) : P2L_OK;
}

/* Element i of a vector of tables. */
static p2l_status fb_vector_table(const fb_reader *r, const fb_vector *v, size_t i, fb_table *t) {
    size_t pos = v->start + 4 * i;
    size_t to = pos + load_u32(r->bytes + pos);
    return fb_table_at(r, to, t);
}

static p2l_status fb_table_field(const fb_reader *r, const fb_table *t, int id, fb_table *out) {
    size_t at;
    memset(out, 0, sizeof *out);
    P2L_TRY(fb_ref(r, t, id, &at));
    return at ? fb_table_at(r, at, out) : P2L_OK;
}

/* Strings must carry their NUL terminator inside the file, so they are used in place. */
static p2l_status fb_string(const fb_reader *r, const fb_table *t, int id, const char **out) {
    size_t at;
    *out = NULL;
    P2L_TRY(fb_ref(r, t, id, &at));
    if (!at) return P2L_OK;
    fb_vector v;
    P2L_TRY(fb_vector_at(r, at, 1, &v));
    if (!in_file(r, v.start + v.count, 1) || r->bytes[v.start + v.count] != 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "string at byte offset %zu is not NUL-terminated inside the file", at);
    *out = (const char *)r->bytes + v.start;
    return P2L_OK;
}

/* Copies a vector of int32 into the arena (the file's copy may be misaligned). */
static p2l_status fb_int32s(const fb_reader *r, const fb_table *t, int id, p2l_arena *arena, const int32_t **out,
                            int *count) {
    fb_vector v;
    P2L_TRY(fb_vector_field(r, t, id, 4, &v));
    if (v.count > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "vector of %zu elements is too long", v.count);
    int32_t *items = p2l_arena_alloc(arena, v.count * 4);
    if (!items) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory reading a vector of %zu ints", v.count);
    for (size_t i = 0; i < v.count; i++) items[i] = (int32_t)load_u32(r->bytes + v.start + 4 * i);
    *out = items;
    *count = (int)v.count;
    return P2L_OK;
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* Bytes of a tensor of this shape (verified not to overflow by decode_tensor); SIZE_MAX on overflow. */
static size_t tensor_bytes_of(int rank, const int32_t *shape, size_t elem_size) {
    size_t bytes = elem_size;
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0 || !p2l_mul_size(bytes, (size_t)shape[i], &bytes)) return SIZE_MAX;
    return bytes;
}

const char *p2l_tfl_tensor_label(const p2l_tfl_subgraph *sg, int tensor, char *buf, size_t cap) {
    if (tensor >= 0 && tensor < sg->tensor_count && sg->tensors[tensor].name[0])
        snprintf(buf, cap, "tensor %d '%s'", tensor, sg->tensors[tensor].name);
    else
        snprintf(buf, cap, "tensor %d", tensor);
    return buf;
}

/* ------------------------------------------------------------------ model */

typedef struct opcode {
    int op;            /* p2l_op, or -1 when pt2lite does not know the builtin */
    int builtin_code;
    int version;
    const char *custom_code;
} opcode;

typedef struct buffer_view {
    const uint8_t *data;
    size_t size;
} buffer_view;

typedef struct decoder {
    fb_reader r;
    p2l_tfl_model *model;
    opcode *opcodes;
    size_t opcode_count;
    buffer_view *buffers;
    size_t buffer_count;
    p2l_limits limits;
    int32_t *mark;        /* per tensor of the subgraph being decoded: op stamp (O(n) io checks) */
} decoder;

static void *arena_array(decoder *d, size_t count, size_t elem_size) {
    size_t bytes;
    if (!p2l_mul_size(count, elem_size, &bytes)) return NULL;
    return p2l_arena_alloc(&d->model->arena, bytes ? bytes : 1);
}

static p2l_status oom(const char *what) { return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory decoding %s", what); }

static p2l_status decode_opcodes(decoder *d, const fb_table *root) {
    fb_vector v;
    P2L_TRY(fb_vector_field(&d->r, root, 1, 4, &v));
    P2L_TRY(P2L_CHECK_LIMIT(&d->limits, max_tensors, v.count, "the number of operator codes"));
    d->opcode_count = v.count;
    d->opcodes = arena_array(d, v.count, sizeof *d->opcodes);
    if (!d->opcodes) return oom("operator codes");
    for (size_t i = 0; i < v.count; i++) {
        fb_table t;
        uint8_t deprecated_code;
        uint32_t version, code;
        opcode *oc = &d->opcodes[i];
        p2l_status s = fb_vector_table(&d->r, &v, i, &t);
        if (!s) s = fb_u8(&d->r, &t, 0, 0, &deprecated_code);
        if (!s) s = fb_string(&d->r, &t, 1, &oc->custom_code);
        if (!s) s = fb_u32(&d->r, &t, 2, 1, &version);
        if (!s) s = fb_u32(&d->r, &t, 3, 0, &code);
        if (s) return p2l_fail_context(s, "operator code %zu", i);
        /* Files from before builtin_code existed only set the int8 deprecated code. */
        int builtin = (int)(int32_t)code > (int)(int8_t)deprecated_code ? (int)(int32_t)code : (int)(int8_t)deprecated_code;
        oc->builtin_code = builtin;
        oc->version = version > INT_MAX ? INT_MAX : (int)version;
        oc->op = builtin == CUSTOM_BUILTIN_CODE ? -1 : p2l_op_from_builtin(builtin);
    }
    return P2L_OK;
}

static p2l_status decode_buffers(decoder *d, const fb_table *root) {
    fb_vector v;
    P2L_TRY(fb_vector_field(&d->r, root, 4, 4, &v));
    P2L_TRY(P2L_CHECK_LIMIT(&d->limits, max_tensors, v.count, "the number of buffers"));
    d->buffer_count = v.count;
    d->buffers = arena_array(d, v.count, sizeof *d->buffers);
    if (!d->buffers) return oom("buffers");
    for (size_t i = 0; i < v.count; i++) {
        fb_table t;
        fb_vector data;
        uint64_t offset, size;
        p2l_status s = fb_vector_table(&d->r, &v, i, &t);
        if (!s) s = fb_vector_field(&d->r, &t, 0, 1, &data);
        if (!s) s = fb_u64(&d->r, &t, 1, 0, &offset);
        if (!s) s = fb_u64(&d->r, &t, 2, 0, &size);
        if (s) return p2l_fail_context(s, "buffer %zu", i);
        buffer_view *b = &d->buffers[i];
        if (offset > 1) {
            /* Models over 2 GB keep data after the flatbuffer; offset is from the file start. */
            if (data.count)
                return p2l_fail(P2L_ERROR_MALFORMED, "buffer %zu has both inline data and an external offset", i);
            if (offset > SIZE_MAX || size > SIZE_MAX || !in_file(&d->r, (size_t)offset, (size_t)size))
                return p2l_fail(P2L_ERROR_MALFORMED, "buffer %zu: external data at offset %llu, %llu bytes, lies "
                                "outside the file (%zu bytes)", i, (unsigned long long)offset,
                                (unsigned long long)size, d->r.size);
            b->data = d->r.bytes + offset;
            b->size = (size_t)size;
        } else {
            b->data = data.count ? d->r.bytes + data.start : NULL;
            b->size = data.count;
        }
        if (i == 0 && b->size)
            return p2l_fail(P2L_ERROR_MALFORMED, "buffer 0 must be the empty sentinel, but holds %zu bytes", b->size);
    }
    return P2L_OK;
}

/* The range of zero points a tensor of this dtype can hold: its own values' range. */
static bool zero_point_in_range(p2l_dtype dtype, int64_t zero_point) {
    switch (dtype) {
    case P2L_INT8: return zero_point >= INT8_MIN && zero_point <= INT8_MAX;
    case P2L_UINT8: return zero_point >= 0 && zero_point <= UINT8_MAX;
    case P2L_INT16: return zero_point >= INT16_MIN && zero_point <= INT16_MAX;
    case P2L_INT32: return zero_point >= INT32_MIN && zero_point <= INT32_MAX;
    default: return true;
    }
}

/* QuantizationParameters.details (fields 4 and 5) when they are a BlockwiseQuantization (union code
 * 2): its scales tensor (field 0) and block size (field 2), checked once the subgraph's tensors are
 * all decoded (check_blockwise). Other details stay ignored, as before. */
static p2l_status decode_blockwise(decoder *d, const fb_table *q, p2l_tfl_tensor *t) {
    enum { BLOCKWISE_QUANTIZATION = 2 };
    uint8_t type;
    fb_table details;
    uint32_t scales, block_size;
    P2L_TRY(fb_u8(&d->r, q, 4, 0, &type));
    if (type != BLOCKWISE_QUANTIZATION) return P2L_OK;
    P2L_TRY(fb_table_field(&d->r, q, 5, &details));
    if (!details.pos) return p2l_fail(P2L_ERROR_MALFORMED, "block-wise quantization without its details table");
    P2L_TRY(fb_u32(&d->r, &details, 0, 0, &scales));
    P2L_TRY(fb_u32(&d->r, &details, 2, 0, &block_size));
    if ((int32_t)block_size <= 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "block-wise quantization with block size %d", (int32_t)block_size);
    t->block_size = (int32_t)block_size;
    t->block_scales = (int32_t)scales;
    return P2L_OK;
}

/* A block-wise quantized tensor: an int4 constant [units, depth], depth a multiple of the block size,
 * with a float16 constant of scales [units, depth / block_size] (what LiteRT's kernels read). */
static p2l_status check_blockwise(const p2l_tfl_subgraph *sg, const p2l_tfl_tensor *t) {
    if (t->dtype != P2L_INT4 || t->rank != 2 || !t->data)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "block-wise quantization of a %s tensor of rank %d%s: pt2lite runs "
                        "it on int4 constant weights [units, depth] only", p2l_dtype_name(t->dtype), t->rank,
                        t->data ? "" : " that is not a constant");
    if (t->quant_count)
        return p2l_fail(P2L_ERROR_MALFORMED, "block-wise quantization alongside %d per-tensor/channel scales",
                        t->quant_count);
    if (t->shape[1] % t->block_size)
        return p2l_fail(P2L_ERROR_MALFORMED, "block size %d does not divide the depth %d", t->block_size, t->shape[1]);
    if (t->block_scales < 0 || t->block_scales >= sg->tensor_count)
        return p2l_fail(P2L_ERROR_MALFORMED, "block scales tensor %d is out of range (%d tensors)", t->block_scales,
                        sg->tensor_count);
    const p2l_tfl_tensor *s = &sg->tensors[t->block_scales];
    if (s->dtype != P2L_FLOAT16 || !s->data || s->rank != 2 || s->shape[0] != t->shape[0] ||
        s->shape[1] != t->shape[1] / t->block_size)
        return p2l_fail(P2L_ERROR_MALFORMED, "block scales tensor %d must be a float16 constant [%d, %d] (got %s%s, "
                        "rank %d)", t->block_scales, t->shape[0], t->shape[1] / t->block_size,
                        p2l_dtype_name(s->dtype), s->data ? "" : ", not constant", s->rank);
    return P2L_OK;
}

/* Scales and zero points (QuantizationParameters fields 2, 3 and 6; min/max, field 0 and 1, are only
 * informative). Decoded after dtype and shape, which they are checked against. */
static p2l_status decode_quantization(decoder *d, const fb_table *q, p2l_tfl_tensor *t) {
    fb_vector scales, zero_points;
    uint32_t dim;
    P2L_TRY(fb_vector_field(&d->r, q, 2, 4, &scales));
    P2L_TRY(fb_vector_field(&d->r, q, 3, 8, &zero_points));
    P2L_TRY(fb_u32(&d->r, q, 6, 0, &dim));
    P2L_TRY(decode_blockwise(d, q, t));
    if (zero_points.count && zero_points.count != scales.count)
        return p2l_fail(P2L_ERROR_MALFORMED, "quantization has %zu scales but %zu zero points", scales.count,
                        zero_points.count);
    if (scales.count > 1 && ((int32_t)dim < 0 || (int32_t)dim >= t->rank || (size_t)t->shape[dim] != scales.count))
        return p2l_fail(P2L_ERROR_MALFORMED, "per-channel quantization along dim %d with %zu scales does not match "
                        "the tensor's shape", (int32_t)dim, scales.count);
    t->quant_count = (int32_t)scales.count;
    t->quantized_dimension = (int32_t)dim;
    if (!scales.count) return P2L_OK;
    float *scale_values = arena_array(d, scales.count, sizeof *scale_values);
    int64_t *zero_point_values = arena_array(d, scales.count, sizeof *zero_point_values);
    if (!scale_values || !zero_point_values) return oom("quantization parameters");
    for (size_t i = 0; i < scales.count; i++) {
        union { uint32_t u; float f; } bits = {load_u32(d->r.bytes + scales.start + 4 * i)};
        const float scale = bits.f;
        const int64_t zero_point = zero_points.count ? (int64_t)load_u64(d->r.bytes + zero_points.start + 8 * i) : 0;
        /* !(scale > 0) also catches NaN; scale - scale is NaN for infinities. */
        if (!(scale > 0) || scale - scale != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "quantization scale %zu is %g; scales must be positive and finite", i,
                            (double)scale);
        if (!zero_point_in_range(t->dtype, zero_point))
            return p2l_fail(P2L_ERROR_MALFORMED, "quantization zero point %zu is %lld, outside the range of %s", i,
                            (long long)zero_point, p2l_dtype_name(t->dtype));
        scale_values[i] = scale;
        zero_point_values[i] = zero_point;
    }
    t->scales = scale_values;
    t->zero_points = zero_point_values;
    t->scale = scale_values[0];
    t->zero_point = zero_point_values[0];
    return P2L_OK;
}

static p2l_status decode_tensor(decoder *d, const fb_table *t, p2l_tfl_tensor *out) {
    const int32_t *shape = NULL, *signature = NULL;
    int rank = 0, signature_rank = 0;
    uint8_t type, is_variable;
    fb_table quantization, sparsity;
    P2L_TRY(fb_string(&d->r, t, 3, &out->name));
    out->name = str_or_empty(out->name);
    P2L_TRY(fb_int32s(&d->r, t, 0, &d->model->arena, &shape, &rank));
    P2L_TRY(fb_u8(&d->r, t, 1, 0, &type));
    P2L_TRY(fb_u32(&d->r, t, 2, 0, &out->buffer));
    P2L_TRY(fb_table_field(&d->r, t, 4, &quantization));
    P2L_TRY(fb_u8(&d->r, t, 5, 0, &is_variable));
    P2L_TRY(fb_table_field(&d->r, t, 6, &sparsity));
    P2L_TRY(fb_int32s(&d->r, t, 7, &d->model->arena, &signature, &signature_rank));

    out->dtype = (p2l_dtype)(int8_t)type;
    out->is_variable = is_variable != 0;
    size_t elem_size = p2l_dtype_size(out->dtype);
    const bool int4 = out->dtype == P2L_INT4; /* two per byte: its bytes are counted below */
    if (elem_size == 0 && !int4)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "element type %d (%s) is not supported", (int8_t)type,
                        p2l_dtype_name(out->dtype));
    if (sparsity.pos) return p2l_fail(P2L_ERROR_UNSUPPORTED, "sparse tensors are not supported");
    if (rank > P2L_MAX_DIMS)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "rank %d is above the supported maximum of %d", rank, P2L_MAX_DIMS);
    if (signature_rank == 0) signature = NULL; /* an empty shape_signature says nothing */
    if (signature && signature_rank != rank)
        return p2l_fail(P2L_ERROR_MALFORMED, "shape_signature has rank %d but shape has rank %d", signature_rank, rank);
    out->rank = rank;
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return p2l_fail(P2L_ERROR_MALFORMED, "dim %d is negative (%d)", i, shape[i]);
        if (signature && signature[i] != -1 && signature[i] != shape[i])
            return p2l_fail(P2L_ERROR_MALFORMED, "shape_signature dim %d is %d but shape says %d", i, signature[i],
                            shape[i]);
        out->shape[i] = shape[i];
        out->shape_signature[i] = signature ? signature[i] : shape[i];
        if (!p2l_mul_size(count, (size_t)shape[i], &count))
            return p2l_fail(P2L_ERROR_MALFORMED, "element count overflows");
    }
    size_t bytes = count / 2 + count % 2;
    if (!int4 && !p2l_mul_size(count, elem_size, &bytes)) return p2l_fail(P2L_ERROR_MALFORMED, "byte size overflows");
    if (quantization.pos) P2L_TRY(decode_quantization(d, &quantization, out));

    if (out->buffer >= d->buffer_count && !(out->buffer == 0 && d->buffer_count == 0))
        return p2l_fail(P2L_ERROR_MALFORMED, "buffer index %u is out of range (%zu buffers)", out->buffer,
                        d->buffer_count);
    const buffer_view *b = d->buffer_count ? &d->buffers[out->buffer] : NULL;
    if (b && b->size) {
        if (b->size != bytes)
            return p2l_fail(P2L_ERROR_MALFORMED, "shape x element size = %zu bytes, but buffer %u holds %zu bytes",
                            bytes, out->buffer, b->size);
        out->data_size = b->size;
        out->data = b->data;
        if ((uintptr_t)b->data % 16) { /* kernels load constants as typed arrays: keep them aligned */
            uint8_t *copy = p2l_arena_alloc(&d->model->arena, b->size);
            if (!copy) return oom("a misaligned constant");
            memcpy(copy, b->data, b->size);
            out->data = copy;
        }
    } else if (int4 && bytes) {
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "int4 tensors are supported only as constants (weights)");
    } else if (out->buffer != 0 && bytes == 0) {
        /* A tensor with no elements that names its own buffer is an empty constant (the shape of a
         * RESHAPE to 0-d); give it a non-NULL pointer so it reads as constant everywhere. */
        static const uint8_t no_bytes[16];
        out->data = no_bytes;
    }
    return P2L_OK;
}

static p2l_status check_index_list(const int32_t *items, int count, int limit, const char *what) {
    for (int i = 0; i < count; i++)
        if (items[i] < 0 || items[i] >= limit)
            return p2l_fail(P2L_ERROR_MALFORMED, "%s %d is tensor %d, out of range (%d tensors)", what, i, items[i], limit);
    return P2L_OK;
}

static p2l_status decode_options(decoder *d, const fb_table *t, p2l_tfl_operator *op) {
    const p2l_op_info *info = p2l_op_info_of(op->op);
    const p2l_options_info *opts = p2l_options_info_of(info->options);
    for (int i = 0; i < opts->field_count; i++) op->options[i] = opts->fields[i].default_value;
    uint8_t type;
    P2L_TRY(fb_u8(&d->r, t, 3, 0, &type));
    if (type == 0) return P2L_OK; /* no options: every field keeps its default */
    if (type != opts->union_code)
        return p2l_fail(P2L_ERROR_MALFORMED, "builtin_options_type is %d, but %s takes %s (%d)", type, info->name,
                        opts->name, opts->union_code);
    fb_table o;
    P2L_TRY(fb_table_field(&d->r, t, 4, &o));
    if (!o.pos) return P2L_OK;
    for (int i = 0; i < opts->field_count; i++) {
        static const size_t widths[] = {[P2L_FIELD_I8] = 1, [P2L_FIELD_BOOL] = 1, [P2L_FIELD_I32] = 4,
                                        [P2L_FIELD_F32] = 4, [P2L_FIELD_I64] = 8};
        const p2l_field *f = &opts->fields[i];
        if (f->type == P2L_FIELD_I32S) {
            size_t at;
            P2L_TRY(fb_ref(&d->r, &o, i, &at));
            if (at) {
                op->has_option_ints = true;
                P2L_TRY(fb_int32s(&d->r, &o, i, &d->model->arena, &op->option_ints, &op->option_int_count));
            }
            continue;
        }
        if (f->type == P2L_FIELD_STRING) {
            const char *text;
            P2L_TRY(fb_string(&d->r, &o, i, &text));
            op->options[i] = (int64_t)(intptr_t)text;
            continue;
        }
        if (f->type == P2L_FIELD_NONE) continue;
        size_t pos;
        P2L_TRY(fb_field(&d->r, &o, i, widths[f->type], &pos));
        if (!pos) continue;
        const uint8_t *p = d->r.bytes + pos;
        switch (f->type) {
        case P2L_FIELD_I8: op->options[i] = (int8_t)p[0]; break;
        case P2L_FIELD_BOOL: op->options[i] = p[0] != 0; break;
        case P2L_FIELD_I32: op->options[i] = (int32_t)load_u32(p); break;
        case P2L_FIELD_F32: op->options[i] = (int64_t)load_u32(p); break;
        case P2L_FIELD_I64: op->options[i] = (int64_t)load_u64(p); break;
        case P2L_FIELD_NONE: case P2L_FIELD_I32S: case P2L_FIELD_STRING: break;
        }
    }
    return P2L_OK;
}

static p2l_status decode_operator(decoder *d, const fb_table *t, const p2l_tfl_subgraph *sg, p2l_tfl_operator *op) {
    uint32_t opcode_index;
    P2L_TRY(fb_u32(&d->r, t, 0, 0, &opcode_index));
    if (opcode_index >= d->opcode_count)
        return p2l_fail(P2L_ERROR_MALFORMED, "opcode index %u is out of range (%zu operator codes)", opcode_index,
                        d->opcode_count);
    const opcode *oc = &d->opcodes[opcode_index];
    if (oc->builtin_code == CUSTOM_BUILTIN_CODE)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "custom op '%s' is not supported", str_or_empty(oc->custom_code));
    if (oc->op < 0)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "builtin operator code %d is not supported by pt2lite",
                        oc->builtin_code);
    op->op = (p2l_op)oc->op;
    op->version = oc->version;
    P2L_TRY(fb_int32s(&d->r, t, 1, &d->model->arena, &op->inputs, &op->input_count));
    P2L_TRY(fb_int32s(&d->r, t, 2, &d->model->arena, &op->outputs, &op->output_count));
    for (int i = 0; i < op->input_count; i++)
        if (op->inputs[i] < -1 || op->inputs[i] >= sg->tensor_count)
            return p2l_fail(P2L_ERROR_MALFORMED, "input %d is tensor %d, out of range (%d tensors)", i, op->inputs[i],
                            sg->tensor_count);
    P2L_TRY(check_index_list(op->outputs, op->output_count, sg->tensor_count, "output"));
    /* A tensor both input and output, or two outputs in one: linear time with per-tensor stamps
     * (input j of this op: -(2 + j); output i: op_stamp_base + i), so a hostile op with many inputs
     * and outputs cannot make the check quadratic. */
    char label[160];
    int32_t *mark = d->mark;
    for (int j = 0; j < op->input_count; j++)
        if (op->inputs[j] >= 0) mark[op->inputs[j]] = -2 - j;
    for (int i = 0; i < op->output_count; i++) {
        int32_t m = mark[op->outputs[i]];
        if (m <= -2 && m >= -1 - op->input_count && op->inputs[-2 - m] == op->outputs[i])
            return p2l_fail(P2L_ERROR_MALFORMED, "%s is both input %d and output %d",
                            p2l_tfl_tensor_label(sg, op->outputs[i], label, sizeof label), -2 - m, i);
        if (m >= 0 && m < i && op->outputs[m] == op->outputs[i])
            return p2l_fail(P2L_ERROR_MALFORMED, "%s is outputs %d and %d",
                            p2l_tfl_tensor_label(sg, op->outputs[i], label, sizeof label), m, i);
        mark[op->outputs[i]] = i;
    }
    for (int j = 0; j < op->input_count; j++)
        if (op->inputs[j] >= 0) mark[op->inputs[j]] = -1;
    for (int i = 0; i < op->output_count; i++) mark[op->outputs[i]] = -1;
    return decode_options(d, t, op);
}

/* Dataflow checks: every tensor an op reads exists by then (a constant, a subgraph input, a
 * variable, or the output of an earlier op), and every tensor is written at most once. */
static p2l_status check_dataflow(decoder *d, p2l_tfl_subgraph *sg, int sg_index) {
    int32_t *writer = arena_array(d, (size_t)sg->tensor_count, sizeof *writer);
    if (!writer) return oom("dataflow");
    enum { UNWRITTEN = -3, GRAPH_INPUT = -2, CONSTANT = -1 };
    for (int t = 0; t < sg->tensor_count; t++)
        writer[t] = sg->tensors[t].data || sg->tensors[t].is_variable ? CONSTANT : UNWRITTEN;
    char label[160];
    for (int i = 0; i < sg->input_count; i++) {
        /* The caller sets and may resize an input: one backed by the file's bytes would be read past
         * its buffer after a resize (and could not be set). */
        if (sg->tensors[sg->inputs[i]].data)
            return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d: input %d, %s, has constant data (buffer %u); a "
                            "subgraph input is set by the caller and cannot be a constant", sg_index, i,
                            p2l_tfl_tensor_label(sg, sg->inputs[i], label, sizeof label),
                            sg->tensors[sg->inputs[i]].buffer);
        writer[sg->inputs[i]] = GRAPH_INPUT;
    }
    for (int o = 0; o < sg->op_count; o++) {
        const p2l_tfl_operator *op = &sg->ops[o];
        const char *op_name = p2l_op_info_of(op->op)->name;
        for (int i = 0; i < op->input_count; i++) {
            int t = op->inputs[i];
            if (t < 0 || writer[t] != UNWRITTEN) continue;
            /* A zero-element tensor holds nothing to read: a constant with no elements has an empty
             * buffer, which the file cannot tell apart from "not a constant" (pt2lite's converter
             * writes such constants for zero-sized weights). */
            if (tensor_bytes_of(sg->tensors[t].rank, sg->tensors[t].shape, 1) == 0) continue;
            /* Find whether a later op writes it, for a precise message. */
            int later = -1;
            for (int o2 = o + 1; o2 < sg->op_count && later < 0; o2++)
                for (int k = 0; k < sg->ops[o2].output_count; k++)
                    if (sg->ops[o2].outputs[k] == t) later = o2;
            p2l_tfl_tensor_label(sg, t, label, sizeof label);
            if (later >= 0)
                return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d, op %d (%s): reads %s before op %d writes it (ops "
                                "must be in execution order)", sg_index, o, op_name, label, later);
            return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d, op %d (%s): reads %s, which is not a constant, not a "
                            "subgraph input and not written by any op", sg_index, o, op_name, label);
        }
        for (int i = 0; i < op->output_count; i++) {
            int t = op->outputs[i];
            p2l_tfl_tensor_label(sg, t, label, sizeof label);
            if (writer[t] == CONSTANT)
                return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d, op %d (%s): writes %s, which is a constant or "
                                "variable", sg_index, o, op_name, label);
            if (writer[t] == GRAPH_INPUT)
                return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d, op %d (%s): writes %s, which is a subgraph input",
                                sg_index, o, op_name, label);
            if (writer[t] >= 0)
                return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d, op %d (%s): writes %s, already written by op %d",
                                sg_index, o, op_name, label, writer[t]);
            writer[t] = o;
        }
    }
    for (int i = 0; i < sg->output_count; i++)
        if (writer[sg->outputs[i]] == UNWRITTEN)
            return p2l_fail(P2L_ERROR_MALFORMED, "subgraph %d: output %d, %s, is never written", sg_index, i,
                            p2l_tfl_tensor_label(sg, sg->outputs[i], label, sizeof label));
    return P2L_OK;
}

static p2l_status decode_subgraph(decoder *d, const fb_table *t, int index, p2l_tfl_subgraph *sg) {
    fb_vector tensors, ops;
    P2L_TRY(fb_string(&d->r, t, 4, &sg->name));
    sg->name = str_or_empty(sg->name);
    P2L_TRY(fb_vector_field(&d->r, t, 0, 4, &tensors));
    P2L_TRY(fb_vector_field(&d->r, t, 3, 4, &ops));
    if (tensors.count > INT32_MAX || ops.count > INT32_MAX)
        return p2l_fail(P2L_ERROR_LIMIT, "subgraph %d has too many tensors or ops", index);
    p2l_status ls = P2L_CHECK_LIMIT(&d->limits, max_tensors, tensors.count, "the number of tensors");
    if (!ls) ls = P2L_CHECK_LIMIT(&d->limits, max_nodes, ops.count, "the number of ops");
    if (ls) return p2l_fail_context(ls, "subgraph %d", index);
    sg->tensor_count = (int)tensors.count;
    sg->op_count = (int)ops.count;
    sg->tensors = arena_array(d, tensors.count, sizeof *sg->tensors);
    sg->ops = arena_array(d, ops.count, sizeof *sg->ops);
    d->mark = arena_array(d, tensors.count, sizeof *d->mark);
    if (!sg->tensors || !sg->ops || !d->mark) return oom("a subgraph");
    size_t tensor_bytes = 0;
    for (size_t i = 0; i < tensors.count; i++) d->mark[i] = -1;
    for (int i = 0; i < sg->tensor_count; i++) {
        fb_table tt;
        p2l_status s = fb_vector_table(&d->r, &tensors, (size_t)i, &tt);
        if (!s) s = decode_tensor(d, &tt, &sg->tensors[i]);
        if (!s) {
            const p2l_tfl_tensor *x = &sg->tensors[i];
            size_t bytes = tensor_bytes_of(x->rank, x->shape, p2l_dtype_size(x->dtype));
            if (bytes == SIZE_MAX || !p2l_add_size(tensor_bytes, bytes, &tensor_bytes)) tensor_bytes = SIZE_MAX;
            s = P2L_CHECK_LIMIT(&d->limits, max_tensor_bytes, tensor_bytes, "the bytes of the subgraph's tensors");
        }
        if (s) {
            const char *name = sg->tensors[i].name;
            return p2l_fail_context(s, "subgraph %d, tensor %d%s%s%s", index, i, name && *name ? " '" : "",
                                    name ? name : "", name && *name ? "'" : "");
        }
    }
    for (int i = 0; i < sg->tensor_count; i++) {
        p2l_status s = sg->tensors[i].block_size ? check_blockwise(sg, &sg->tensors[i]) : P2L_OK;
        if (s) return p2l_fail_context(s, "subgraph %d, tensor %d '%s'", index, i, sg->tensors[i].name);
    }
    P2L_TRY(fb_int32s(&d->r, t, 1, &d->model->arena, &sg->inputs, &sg->input_count));
    P2L_TRY(fb_int32s(&d->r, t, 2, &d->model->arena, &sg->outputs, &sg->output_count));
    p2l_status s = check_index_list(sg->inputs, sg->input_count, sg->tensor_count, "input");
    if (!s) s = check_index_list(sg->outputs, sg->output_count, sg->tensor_count, "output");
    if (s) return p2l_fail_context(s, "subgraph %d", index);
    for (int i = 0; i < sg->op_count; i++) {
        fb_table ot;
        sg->ops[i].op = P2L_OP_COUNT;
        s = fb_vector_table(&d->r, &ops, (size_t)i, &ot);
        if (!s) s = decode_operator(d, &ot, sg, &sg->ops[i]);
        if (s) {
            if (sg->ops[i].op < P2L_OP_COUNT)
                return p2l_fail_context(s, "subgraph %d, op %d (%s)", index, i, p2l_op_info_of(sg->ops[i].op)->name);
            return p2l_fail_context(s, "subgraph %d, op %d", index, i);
        }
    }
    return check_dataflow(d, sg, index);
}

static p2l_status decode_tensor_maps(decoder *d, const fb_table *t, int id, int subgraph, p2l_tfl_tensor_map **out,
                                     int *count) {
    fb_vector v;
    P2L_TRY(fb_vector_field(&d->r, t, id, 4, &v));
    if (v.count > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "too many signature tensors");
    *out = arena_array(d, v.count, sizeof **out);
    if (!*out) return oom("a signature");
    *count = (int)v.count;
    const p2l_tfl_subgraph *sg = &d->model->subgraphs[subgraph];
    for (size_t i = 0; i < v.count; i++) {
        fb_table m;
        uint32_t tensor;
        P2L_TRY(fb_vector_table(&d->r, &v, i, &m));
        P2L_TRY(fb_string(&d->r, &m, 0, &(*out)[i].name));
        P2L_TRY(fb_u32(&d->r, &m, 1, 0, &tensor));
        (*out)[i].name = str_or_empty((*out)[i].name);
        if (tensor >= (uint32_t)sg->tensor_count)
            return p2l_fail(P2L_ERROR_MALFORMED, "%s %zu ('%s') is tensor %u, out of range (%d tensors in subgraph %d)",
                            id == 0 ? "input" : "output", i, (*out)[i].name, tensor, sg->tensor_count, subgraph);
        (*out)[i].tensor = (int32_t)tensor;
    }
    return P2L_OK;
}

static p2l_status decode_signatures(decoder *d, const fb_table *root) {
    fb_vector v;
    P2L_TRY(fb_vector_field(&d->r, root, 7, 4, &v));
    if (v.count > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "too many signatures");
    d->model->signature_count = (int)v.count;
    d->model->signatures = arena_array(d, v.count, sizeof *d->model->signatures);
    if (!d->model->signatures) return oom("signatures");
    for (size_t i = 0; i < v.count; i++) {
        p2l_tfl_signature *sig = &d->model->signatures[i];
        fb_table t;
        uint32_t subgraph;
        p2l_status s = fb_vector_table(&d->r, &v, i, &t);
        if (!s) s = fb_string(&d->r, &t, 2, &sig->key);
        if (!s) s = fb_u32(&d->r, &t, 4, 0, &subgraph);
        if (!s && subgraph >= (uint32_t)d->model->subgraph_count)
            s = p2l_fail(P2L_ERROR_MALFORMED, "subgraph index %u is out of range (%d subgraphs)", subgraph,
                         d->model->subgraph_count);
        if (!s) {
            sig->subgraph = (int)subgraph;
            sig->key = str_or_empty(sig->key);
            s = decode_tensor_maps(d, &t, 0, sig->subgraph, &sig->inputs, &sig->input_count);
        }
        if (!s) s = decode_tensor_maps(d, &t, 1, sig->subgraph, &sig->outputs, &sig->output_count);
        if (s) return p2l_fail_context(s, "signature %zu%s%s%s", i, sig->key ? " '" : "", sig->key ? sig->key : "",
                                       sig->key ? "'" : "");
    }
    return P2L_OK;
}

static p2l_status decode_metadata(decoder *d, const fb_table *root) {
    fb_vector v;
    P2L_TRY(fb_vector_field(&d->r, root, 6, 4, &v));
    P2L_TRY(P2L_CHECK_LIMIT(&d->limits, max_tensors, v.count, "the number of metadata entries"));
    if (v.count > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "too many metadata entries");
    d->model->metadata = arena_array(d, v.count, sizeof *d->model->metadata);
    if (!d->model->metadata) return oom("metadata");
    for (size_t i = 0; i < v.count; i++) {
        fb_table t;
        const char *name;
        uint32_t buffer;
        P2L_TRY(fb_vector_table(&d->r, &v, i, &t));
        P2L_TRY(fb_string(&d->r, &t, 0, &name));
        P2L_TRY(fb_u32(&d->r, &t, 1, 0, &buffer));
        if (buffer >= d->buffer_count && buffer != 0)
            return p2l_fail(P2L_ERROR_MALFORMED, "metadata %zu ('%s') names buffer %u, out of range (%zu buffers)", i,
                            str_or_empty(name), buffer, d->buffer_count);
        p2l_tfl_metadata *entry = &d->model->metadata[d->model->metadata_count++];
        entry->name = str_or_empty(name);
        entry->data = buffer ? d->buffers[buffer].data : NULL;
        entry->size = buffer ? d->buffers[buffer].size : 0;
    }
    fb_vector mb;
    P2L_TRY(fb_vector_field(&d->r, root, 5, 4, &mb));
    for (size_t i = 0; i < mb.count; i++) {
        uint32_t buffer = load_u32(d->r.bytes + mb.start + 4 * i);
        if (buffer >= d->buffer_count)
            return p2l_fail(P2L_ERROR_MALFORMED, "metadata_buffer %zu is %u, out of range (%zu buffers)", i, buffer,
                            d->buffer_count);
    }
    return P2L_OK;
}

static p2l_status decode_model(decoder *d) {
    const fb_reader *r = &d->r;
    if (r->size < 8) return p2l_fail(P2L_ERROR_MALFORMED, "file too small for a TFLite model (%zu bytes)", r->size);
    if (memcmp(r->bytes + 4, "TFL3", 4) != 0)
        return p2l_fail(P2L_ERROR_MALFORMED, "not a TFLite model: file identifier is not 'TFL3'");
    fb_table root;
    P2L_TRY(fb_table_at(r, load_u32(r->bytes), &root));
    uint32_t version;
    P2L_TRY(fb_u32(r, &root, 0, 0, &version));
    if (version != 3) return p2l_fail(P2L_ERROR_UNSUPPORTED, "model schema version %u (only 3 is supported)", version);
    d->model->version = version;
    P2L_TRY(fb_string(r, &root, 3, &d->model->description));
    d->model->description = str_or_empty(d->model->description);
    P2L_TRY(decode_opcodes(d, &root));
    P2L_TRY(decode_buffers(d, &root));
    P2L_TRY(decode_metadata(d, &root));
    fb_vector subgraphs;
    P2L_TRY(fb_vector_field(r, &root, 2, 4, &subgraphs));
    if (subgraphs.count == 0) return p2l_fail(P2L_ERROR_MALFORMED, "model has no subgraphs");
    if (subgraphs.count > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "too many subgraphs");
    P2L_TRY(P2L_CHECK_LIMIT(&d->limits, max_tensors, subgraphs.count, "the number of subgraphs"));
    d->model->subgraph_count = (int)subgraphs.count;
    d->model->subgraphs = arena_array(d, subgraphs.count, sizeof *d->model->subgraphs);
    if (!d->model->subgraphs) return oom("subgraphs");
    for (size_t i = 0; i < subgraphs.count; i++) {
        fb_table t;
        p2l_status s = fb_vector_table(r, &subgraphs, i, &t);
        if (s) return p2l_fail_context(s, "subgraph %zu", i);
        P2L_TRY(decode_subgraph(d, &t, (int)i, &d->model->subgraphs[i]));
    }
    return decode_signatures(d, &root);
}

p2l_status p2l_tfl_read(const void *data, size_t size, p2l_tfl_model *model) {
    return p2l_tfl_read_limited(data, size, NULL, model);
}

p2l_status p2l_tfl_read_limited(const void *data, size_t size, const p2l_limits *limits, p2l_tfl_model *model) {
    memset(model, 0, sizeof *model);
    if (!data && size) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "model bytes are NULL");
    decoder d = {.r = {data, size}, .model = model, .limits = p2l_limits_resolve(limits)};
    p2l_status s = P2L_CHECK_LIMIT(&d.limits, max_file_bytes, size, "the .tflite file's size in bytes");
    if (!s) s = decode_model(&d);
    if (s) p2l_tfl_free(model);
    return s;
}

void p2l_tfl_free(p2l_tfl_model *model) {
    if (!model) return;
    p2l_arena_free(&model->arena);
    memset(model, 0, sizeof *model);
}
