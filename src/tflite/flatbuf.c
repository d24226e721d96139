/* FlatBuffers builder: writes the standard binary format back to front.
 *
 * The bytes built so far are the last `size` bytes of one allocation of `cap` bytes, so the front
 * (where the next object goes) is buf + cap - size. A p2l_fb_ref is an object's distance from the end
 * of the buffer: it stays valid when the allocation grows (the built bytes move to the new end).
 *
 * Alignment: every object is aligned relative to the END of the buffer, and p2l_fb_finish pads the
 * front so the total size is a multiple of the largest alignment used. Then an object at a distance
 * that is a multiple of A from the end is also at a multiple of A from the start.
 *
 * Deferred vectors (p2l_fb_vector_deferred): the builder counts their bytes but does not store them, so
 * a model's constants need not be copied into it; p2l_fb_finish_parts says where in the finished
 * bytes each one goes, and the caller writes them there. Stored bytes are then the built size minus
 * `hidden` (the deferred bytes so far), and a ref maps to storage minus the deferred bytes below it.
 *
 * Tables: fields are collected while the table is open and placed at p2l_fb_table_end, largest
 * first, so they need at most one pad before the 8-byte fields and one before the soffset.
 * Identical vtables are written once. */
#include "tflite/flatbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pt2lite's flatbuffer builder copies vector data as-is: it needs a little-endian host"
#endif

/* uoffsets are unsigned 32-bit but soffsets (table -> vtable) are signed: 2 GiB is the format's limit. */
#define FB_MAX_SIZE ((size_t)INT32_MAX)
/* The largest field id whose vtable size still fits its uint16. */
#define FB_MAX_FIELD_ID ((UINT16_MAX - 4) / 2 - 1)
#define FB_DEFAULT_CAPACITY 1024

typedef struct pending_field {
    uint16_t id;
    uint8_t size;       /* 1, 4 or 8 bytes */
    bool is_ref;        /* value is a p2l_fb_ref, written as a uoffset from the field */
    uint8_t value[8];   /* little-endian bytes of a scalar */
    p2l_fb_ref target;  /* is_ref: the referenced object */
    p2l_fb_ref placed;  /* where p2l_fb_table_end put it */
} pending_field;

struct p2l_fb {
    uint8_t *buf;
    size_t cap, size;                  /* size: the built bytes, deferred ones included */
    size_t hidden;                     /* deferred bytes: counted in size, not stored in buf */
    P2L_VEC(p2l_fb_hole) holes;        /* the deferred vectors, oldest first: offset = the ref just past
                                        * its bytes, size = the deferred bytes through it */
    size_t max_align;                  /* the final size is padded to a multiple of this */
    bool in_table;
    P2L_VEC(pending_field) fields;     /* of the open table */
    P2L_VEC(p2l_fb_ref) vtables;       /* every distinct vtable written so far */
    p2l_status error;                  /* sticky: the first failure; P2L_OK while healthy */
    char message[200];
};

/* ------------------------------------------------------------ byte helpers */

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Bytes of padding so that after `extra` more bytes the size is a multiple of `align`. */
static size_t pad_for(size_t size, size_t extra, size_t align) {
    return (0 - (size + extra)) & (align - 1);
}

static bool is_power_of_two(size_t x) { return x && (x & (x - 1)) == 0; }

/* ------------------------------------------------------------ state */

P2L_PRINTF(3, 4)
static void set_error(p2l_fb *fb, p2l_status status, const char *fmt, ...) {
    if (fb->error != P2L_OK) return; /* keep the first: later ones are usually its consequences */
    fb->error = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fb->message, sizeof fb->message, fmt, ap);
    va_end(ap);
}

/* Whether an object (vector, string, table start) may be written now. */
static bool can_write_object(p2l_fb *fb, const char *what) {
    if (!fb || fb->error != P2L_OK) return false;
    if (fb->in_table) {
        set_error(fb, P2L_ERROR_INTERNAL,
                  "%s started inside an open table (nested objects must be built before p2l_fb_table_start)",
                  what);
        return false;
    }
    return true;
}

static bool is_built_ref(const p2l_fb *fb, p2l_fb_ref ref) { return ref != 0 && ref <= fb->size; }

static void note_align(p2l_fb *fb, size_t align) {
    if (align > fb->max_align) fb->max_align = align;
}

/* Ensures room for `n` more bytes at the front; grows by doubling, moving the built bytes to the end
 * of the new block. */
static bool reserve(p2l_fb *fb, size_t n) {
    size_t need, stored = fb->size - fb->hidden;
    if (!p2l_add_size(fb->size, n, &need) || need > FB_MAX_SIZE) {
        set_error(fb, P2L_ERROR_LIMIT, "flatbuffer would exceed %zu bytes (the format's 2 GiB limit)",
                  FB_MAX_SIZE);
        return false;
    }
    if (n <= fb->cap - stored) return true;
    need = stored + n;
    size_t new_cap = fb->cap ? fb->cap : FB_DEFAULT_CAPACITY;
    while (new_cap < need) new_cap *= 2; /* need <= 2^31, so this cannot overflow */
    uint8_t *grown = p2l_resize(fb->buf, new_cap);
    if (!grown && new_cap > need) { /* doubling was too greedy: try exactly what is needed */
        new_cap = need;
        grown = p2l_resize(fb->buf, new_cap);
    }
    if (!grown) {
        set_error(fb, P2L_ERROR_OUT_OF_MEMORY, "out of memory growing a flatbuffer to %zu bytes", new_cap);
        return false;
    }
    /* The built bytes sit at the end of the old capacity; refs are distances from the end. */
    memmove(grown + new_cap - stored, grown + fb->cap - stored, stored);
    fb->buf = grown;
    fb->cap = new_cap;
    return true;
}

/* Claims n reserved bytes at the front and returns where they start. */
static uint8_t *push(p2l_fb *fb, size_t n) {
    fb->size += n;
    return fb->buf + fb->cap - (fb->size - fb->hidden);
}

static void push_zeros(p2l_fb *fb, size_t n) {
    if (n) memset(push(fb, n), 0, n);
}

/* The deferred bytes built before `ref` (holes[i].size holds the running total through hole i). */
static size_t hidden_below(const p2l_fb *fb, p2l_fb_ref ref) {
    size_t lo = 0, hi = fb->holes.len; /* the first hole that ends past ref */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (fb->holes.items[mid].offset <= ref) lo = mid + 1;
        else hi = mid;
    }
    return lo ? fb->holes.items[lo - 1].size : 0;
}

static uint8_t *at_ref(const p2l_fb *fb, p2l_fb_ref ref) { return fb->buf + fb->cap - (ref - hidden_below(fb, ref)); }

/* Back to the empty state; keeps the allocation (if any) for the next build. */
static void reset(p2l_fb *fb) {
    fb->size = 0;
    fb->hidden = 0;
    fb->holes.len = 0;
    fb->max_align = 4;
    fb->in_table = false;
    fb->fields.len = 0;
    fb->vtables.len = 0;
    fb->error = P2L_OK;
    fb->message[0] = 0;
}

p2l_fb *p2l_fb_create(size_t initial_capacity) {
    p2l_fb *fb = p2l_alloc_zero(sizeof *fb);
    if (!fb) return NULL;
    reset(fb);
    /* The buffer can never exceed the format's limit, so neither need the reservation. */
    if (initial_capacity > FB_MAX_SIZE) initial_capacity = FB_MAX_SIZE;
    if (initial_capacity > 0) {
        fb->buf = p2l_alloc(initial_capacity);
        if (!fb->buf) {
            p2l_release(fb);
            return NULL;
        }
        fb->cap = initial_capacity;
    }
    return fb;
}

void p2l_fb_destroy(p2l_fb *fb) {
    if (!fb) return;
    p2l_release(fb->buf);
    P2L_VEC_FREE(&fb->fields);
    P2L_VEC_FREE(&fb->vtables);
    P2L_VEC_FREE(&fb->holes);
    p2l_release(fb);
}

/* ------------------------------------------------------------ vectors and strings */

/* A vector of `count` elements; data NULL with count > 0: deferred (its bytes are not stored). */
static p2l_fb_ref vector(p2l_fb *fb, const void *data, size_t count, size_t elem_size, size_t align, bool deferred) {
    if (!can_write_object(fb, "vector")) return 0;
    if (elem_size == 0 || !is_power_of_two(align) || (is_power_of_two(elem_size) && align < elem_size)) {
        set_error(fb, P2L_ERROR_INTERNAL, "vector of %zu-byte elements with alignment %zu", elem_size, align);
        return 0;
    }
    size_t bytes;
    if (!p2l_mul_size(count, elem_size, &bytes) || bytes > FB_MAX_SIZE) {
        set_error(fb, P2L_ERROR_LIMIT, "vector of %zu x %zu bytes exceeds the flatbuffer 2 GiB limit", count,
                  elem_size);
        return 0;
    }
    if (bytes && !data && !deferred) {
        set_error(fb, P2L_ERROR_INTERNAL, "vector of %zu elements without data", count);
        return 0;
    }
    /* The uint32 length right before the data needs 4-byte alignment too. */
    size_t data_align = align < 4 ? 4 : align;
    size_t pad = pad_for(fb->size, bytes, data_align);
    if (!reserve(fb, pad + (deferred ? 0 : bytes) + 4)) return 0;
    note_align(fb, data_align);
    push_zeros(fb, pad);
    if (deferred && bytes) {
        fb->size += bytes;
        fb->hidden += bytes;
        p2l_fb_hole hole = {fb->size, fb->hidden};
        if (P2L_VEC_PUSH(&fb->holes, hole) != P2L_OK) {
            set_error(fb, P2L_ERROR_OUT_OF_MEMORY, "out of memory recording a deferred vector");
            return 0;
        }
    } else if (bytes) {
        memcpy(push(fb, bytes), data, bytes);
    }
    put_u32(push(fb, 4), (uint32_t)count);
    return (p2l_fb_ref)fb->size;
}

p2l_fb_ref p2l_fb_vector(p2l_fb *fb, const void *data, size_t count, size_t elem_size, size_t align) {
    return vector(fb, data, count, elem_size, align, false);
}

p2l_fb_ref p2l_fb_vector_deferred(p2l_fb *fb, size_t nbytes, size_t align) {
    return vector(fb, NULL, nbytes, 1, align, true);
}

const void *p2l_fb_vector_data(const p2l_fb *fb, p2l_fb_ref vector) { return at_ref(fb, vector) + 4; }

p2l_fb_ref p2l_fb_string(p2l_fb *fb, const char *s) {
    if (!can_write_object(fb, "string")) return 0;
    if (!s) {
        set_error(fb, P2L_ERROR_INTERNAL, "NULL string");
        return 0;
    }
    size_t len = strlen(s);
    if (len >= FB_MAX_SIZE) {
        set_error(fb, P2L_ERROR_LIMIT, "string of %zu bytes exceeds the flatbuffer 2 GiB limit", len);
        return 0;
    }
    size_t pad = pad_for(fb->size, len + 1, 4);
    if (!reserve(fb, pad + len + 1 + 4)) return 0;
    push_zeros(fb, pad);
    uint8_t *p = push(fb, len + 1);
    memcpy(p, s, len);
    p[len] = 0; /* the format's NUL terminator, not counted in the length */
    put_u32(push(fb, 4), (uint32_t)len);
    return (p2l_fb_ref)fb->size;
}

p2l_fb_ref p2l_fb_ref_vector(p2l_fb *fb, const p2l_fb_ref *refs, size_t count) {
    if (!can_write_object(fb, "vector of refs")) return 0;
    if (count && !refs) {
        set_error(fb, P2L_ERROR_INTERNAL, "vector of %zu refs without refs", count);
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (!is_built_ref(fb, refs[i])) {
            set_error(fb, P2L_ERROR_INTERNAL, "vector of refs: element %zu (ref %u) is not a built object", i,
                      (unsigned)refs[i]);
            return 0;
        }
    }
    size_t bytes;
    if (!p2l_mul_size(count, 4, &bytes) || bytes > FB_MAX_SIZE) {
        set_error(fb, P2L_ERROR_LIMIT, "vector of %zu refs exceeds the flatbuffer 2 GiB limit", count);
        return 0;
    }
    size_t pad = pad_for(fb->size, bytes, 4);
    if (!reserve(fb, pad + bytes + 4)) return 0;
    push_zeros(fb, pad);
    /* Last element first; each uoffset is relative to its own position. */
    for (size_t i = count; i-- > 0;) {
        uint8_t *p = push(fb, 4);
        put_u32(p, (uint32_t)(fb->size - refs[i]));
    }
    put_u32(push(fb, 4), (uint32_t)count);
    return (p2l_fb_ref)fb->size;
}

/* ------------------------------------------------------------ tables */

void p2l_fb_table_start(p2l_fb *fb) {
    if (!fb || fb->error != P2L_OK) return;
    if (fb->in_table) {
        set_error(fb, P2L_ERROR_INTERNAL,
                  "nested p2l_fb_table_start (a nested table must be built before its parent's start)");
        return;
    }
    fb->in_table = true;
    fb->fields.len = 0;
}

static pending_field *add_field(p2l_fb *fb, int field, uint8_t size) {
    if (!fb || fb->error != P2L_OK) return NULL;
    if (!fb->in_table) {
        set_error(fb, P2L_ERROR_INTERNAL, "field %d added outside a table", field);
        return NULL;
    }
    if (field < 0 || field > FB_MAX_FIELD_ID) {
        set_error(fb, P2L_ERROR_INTERNAL, "field id %d out of range 0..%d", field, FB_MAX_FIELD_ID);
        return NULL;
    }
    for (size_t i = 0; i < fb->fields.len; i++) {
        if (fb->fields.items[i].id == field) {
            set_error(fb, P2L_ERROR_INTERNAL, "field %d added twice to one table", field);
            return NULL;
        }
    }
    pending_field f = {.id = (uint16_t)field, .size = size};
    if (P2L_VEC_PUSH(&fb->fields, f) != P2L_OK) {
        set_error(fb, P2L_ERROR_OUT_OF_MEMORY, "out of memory adding table field %d", field);
        return NULL;
    }
    return &fb->fields.items[fb->fields.len - 1];
}

static void add_scalar(p2l_fb *fb, int field, uint8_t size, uint64_t bits) {
    pending_field *f = add_field(fb, field, size);
    if (!f) return;
    if (size == 1) f->value[0] = (uint8_t)bits;
    else if (size == 4) put_u32(f->value, (uint32_t)bits);
    else put_u64(f->value, bits);
}

void p2l_fb_add_i8(p2l_fb *fb, int field, int8_t v) { add_scalar(fb, field, 1, (uint8_t)v); }
void p2l_fb_add_u8(p2l_fb *fb, int field, uint8_t v) { add_scalar(fb, field, 1, v); }
void p2l_fb_add_bool(p2l_fb *fb, int field, bool v) { add_scalar(fb, field, 1, v ? 1 : 0); }
void p2l_fb_add_i32(p2l_fb *fb, int field, int32_t v) { add_scalar(fb, field, 4, (uint32_t)v); }
void p2l_fb_add_u32(p2l_fb *fb, int field, uint32_t v) { add_scalar(fb, field, 4, v); }
void p2l_fb_add_i64(p2l_fb *fb, int field, int64_t v) { add_scalar(fb, field, 8, (uint64_t)v); }
void p2l_fb_add_u64(p2l_fb *fb, int field, uint64_t v) { add_scalar(fb, field, 8, v); }

void p2l_fb_add_f32(p2l_fb *fb, int field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    add_scalar(fb, field, 4, bits);
}

void p2l_fb_add_ref(p2l_fb *fb, int field, p2l_fb_ref ref) {
    if (ref == 0 || !fb || fb->error != P2L_OK) return;
    if (!is_built_ref(fb, ref)) {
        set_error(fb, P2L_ERROR_INTERNAL, "field %d: ref %u is not a built object", field, (unsigned)ref);
        return;
    }
    pending_field *f = add_field(fb, field, 4);
    if (!f) return;
    f->is_ref = true;
    f->target = ref;
}

/* Placement order: largest first (so no padding between fields), then by id, highest first, so that
 * in memory each size group reads in ascending id order. Independent of the order of the adds. */
static bool placed_before(const pending_field *a, const pending_field *b) {
    if (a->size != b->size) return a->size > b->size;
    return a->id > b->id;
}

static void sort_fields(pending_field *fields, size_t n) {
    for (size_t i = 1; i < n; i++) { /* insertion sort: tables have a handful of fields */
        pending_field f = fields[i];
        size_t j = i;
        for (; j > 0 && placed_before(&f, &fields[j - 1]); j--) fields[j] = fields[j - 1];
        fields[j] = f;
    }
}

/* A previously written vtable with exactly these bytes, or 0. */
static p2l_fb_ref find_vtable(const p2l_fb *fb, const uint8_t *vtable, size_t vtable_size) {
    for (size_t i = fb->vtables.len; i-- > 0;) { /* newest first: repeats are usually close */
        const uint8_t *old = at_ref(fb, fb->vtables.items[i]);
        if (get_u16(old) == vtable_size && memcmp(old, vtable, vtable_size) == 0) return fb->vtables.items[i];
    }
    return 0;
}

p2l_fb_ref p2l_fb_table_end(p2l_fb *fb) {
    if (!fb || fb->error != P2L_OK) return 0;
    if (!fb->in_table) {
        set_error(fb, P2L_ERROR_INTERNAL, "p2l_fb_table_end without p2l_fb_table_start");
        return 0;
    }
    fb->in_table = false;
    pending_field *fields = fb->fields.items;
    size_t n = fb->fields.len;
    sort_fields(fields, n);

    size_t largest = n ? fields[0].size : 1, field_bytes = 0, max_id = 0;
    for (size_t i = 0; i < n; i++) {
        field_bytes += fields[i].size;
        if (fields[i].id > max_id) max_id = fields[i].id;
    }
    size_t vtable_size = 4 + 2 * (n ? max_id + 1 : 0);
    size_t pad = pad_for(fb->size, 0, largest);
    /* Up to 3 bytes of padding before the soffset; the vtable may be dropped again if it is a repeat. */
    if (!reserve(fb, pad + field_bytes + 3 + 4 + vtable_size)) return 0;
    note_align(fb, largest);
    push_zeros(fb, pad);

    size_t table_end = fb->size;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = push(fb, fields[i].size);
        if (fields[i].is_ref) put_u32(p, (uint32_t)(fb->size - fields[i].target));
        else memcpy(p, fields[i].value, fields[i].size);
        fields[i].placed = (p2l_fb_ref)fb->size;
    }
    push_zeros(fb, pad_for(fb->size, 4, 4));
    push(fb, 4); /* the soffset to the vtable, patched below */
    p2l_fb_ref table = (p2l_fb_ref)fb->size;
    size_t table_size = table - table_end;
    if (table_size > UINT16_MAX) {
        set_error(fb, P2L_ERROR_LIMIT, "table of %zu bytes: a vtable can describe at most 65535", table_size);
        return 0;
    }

    uint8_t *vtable = push(fb, vtable_size);
    memset(vtable, 0, vtable_size); /* absent fields have offset 0 */
    put_u16(vtable, (uint16_t)vtable_size);
    put_u16(vtable + 2, (uint16_t)table_size);
    for (size_t i = 0; i < n; i++) {
        put_u16(vtable + 4 + 2 * fields[i].id, (uint16_t)(table - fields[i].placed)); /* from table start */
    }

    p2l_fb_ref vtable_ref = find_vtable(fb, vtable, vtable_size);
    if (vtable_ref) {
        fb->size -= vtable_size; /* a repeat: point at the earlier copy instead */
    } else {
        vtable_ref = (p2l_fb_ref)fb->size;
        if (P2L_VEC_PUSH(&fb->vtables, vtable_ref) != P2L_OK) {
            set_error(fb, P2L_ERROR_OUT_OF_MEMORY, "out of memory recording a vtable");
            return 0;
        }
    }
    /* The vtable lives at table_address - soffset; in refs that is vtable_ref - table (negative when the
     * shared vtable was written earlier, i.e. after the table in memory). */
    int32_t soffset = (int32_t)((int64_t)vtable_ref - (int64_t)table);
    put_u32(at_ref(fb, table), (uint32_t)soffset);
    return table;
}

/* ------------------------------------------------------------ finish */

p2l_status p2l_fb_finish_parts(p2l_fb *fb, p2l_fb_ref root, const char identifier[4], void **out, size_t *size,
                               p2l_fb_hole **holes, size_t *hole_count) {
    if (out) *out = NULL;
    if (size) *size = 0;
    if (holes) *holes = NULL;
    if (hole_count) *hole_count = 0;
    if (!fb || !out || !size) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_fb_finish: NULL argument");
    if (fb->error == P2L_OK) {
        if (fb->in_table) set_error(fb, P2L_ERROR_INTERNAL, "p2l_fb_finish with a table still open");
        else if (!is_built_ref(fb, root))
            set_error(fb, P2L_ERROR_INTERNAL, "p2l_fb_finish: root ref %u is not a built object",
                      (unsigned)root);
        else if (fb->holes.len && !holes)
            set_error(fb, P2L_ERROR_INTERNAL, "p2l_fb_finish: the buffer has deferred vectors (p2l_fb_finish_parts)");
    }
    if (fb->error == P2L_OK) {
        size_t header = identifier ? 8 : 4; /* root uoffset, then the optional identifier */
        size_t pad = pad_for(fb->size, header, fb->max_align);
        if (reserve(fb, pad + header)) {
            push_zeros(fb, pad);
            if (identifier) memcpy(push(fb, 4), identifier, 4);
            uint8_t *p = push(fb, 4);
            put_u32(p, (uint32_t)(fb->size - root));
        }
    }
    if (fb->error != P2L_OK) {
        p2l_status status = fb->error;
        p2l_status result = p2l_fail(status, "flatbuffer builder: %s", fb->message);
        reset(fb);
        return result;
    }
    if (fb->holes.len) { /* each hole's offset from the start of the finished bytes, its size */
        size_t bytes = sizeof *fb->holes.items * fb->holes.len;
        p2l_fb_hole *placed = p2l_alloc(bytes);
        if (!placed) {
            reset(fb);
            return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
        }
        for (size_t i = 0; i < fb->holes.len; i++) {
            size_t end = fb->holes.items[i].offset, total = fb->holes.items[i].size;
            size_t below = i ? fb->holes.items[i - 1].size : 0;
            placed[i] = (p2l_fb_hole){fb->size - end, total - below};
        }
        *holes = placed;
        *hole_count = fb->holes.len;
    }

    /* Hand the allocation over: the bytes move to its front, the unused rest is given back. */
    uint8_t *block = fb->buf;
    size_t built = fb->size - fb->hidden;
    memmove(block, block + fb->cap - built, built);
    uint8_t *shrunk = p2l_resize(block, built);
    if (shrunk) block = shrunk; /* on failure the larger block is still a valid answer */
    fb->buf = NULL;
    fb->cap = 0;
    reset(fb);
    *out = block;
    *size = built;
    return P2L_OK;
}

p2l_status p2l_fb_finish(p2l_fb *fb, p2l_fb_ref root, const char identifier[4], void **out, size_t *size) {
    return p2l_fb_finish_parts(fb, root, identifier, out, size, NULL, NULL);
}
