/* A tiny flatbuffer reader for tests: follows uoffsets and vtables with bounds checks.
 *
 * Positions are byte offsets from the start of the buffer; 0 means "absent" (nothing but the root
 * uoffset can live at 0). Any out-of-bounds or malformed access clears r->ok and returns 0, so a test
 * reads everything it wants and then checks r.ok once. */
#ifndef P2L_TESTS_FB_READ_H
#define P2L_TESTS_FB_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fb_reader {
    const uint8_t *buf;
    size_t size;
    bool ok;
} fb_reader;

static inline fb_reader fb_open(const void *buf, size_t size) {
    fb_reader r = {buf, size, buf != NULL && size >= 8};
    return r;
}

static inline bool fb_in_bounds(fb_reader *r, size_t pos, size_t len) {
    if (pos > r->size || len > r->size - pos) r->ok = false;
    return r->ok;
}

/* Little-endian unsigned integer of `width` bytes at pos. */
static inline uint64_t fb_uint(fb_reader *r, size_t pos, size_t width) {
    if (!fb_in_bounds(r, pos, width)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) v |= (uint64_t)r->buf[pos + i] << (8 * i);
    return v;
}

static inline uint32_t fb_u32(fb_reader *r, size_t pos) { return (uint32_t)fb_uint(r, pos, 4); }
static inline uint16_t fb_u16(fb_reader *r, size_t pos) { return (uint16_t)fb_uint(r, pos, 2); }

/* The position a uoffset at pos points to. */
static inline size_t fb_follow(fb_reader *r, size_t pos) {
    uint32_t off = fb_u32(r, pos);
    if (!r->ok || off == 0 || !fb_in_bounds(r, pos + off, 4)) {
        r->ok = false;
        return 0;
    }
    return pos + off;
}

static inline size_t fb_root(fb_reader *r) { return fb_follow(r, 0); }

/* The vtable of the table at pos (checked), or 0. */
static inline size_t fb_vtable(fb_reader *r, size_t table) {
    int32_t soffset = (int32_t)fb_u32(r, table);
    int64_t vtable = (int64_t)table - soffset;
    if (!r->ok || vtable < 0 || vtable % 2 != 0 || !fb_in_bounds(r, (size_t)vtable, 4)) {
        r->ok = false;
        return 0;
    }
    uint16_t vtable_size = fb_u16(r, (size_t)vtable), table_size = fb_u16(r, (size_t)vtable + 2);
    if (vtable_size < 4 || vtable_size % 2 != 0 || table_size < 4 ||
        !fb_in_bounds(r, (size_t)vtable, vtable_size) || !fb_in_bounds(r, table, table_size)) {
        r->ok = false;
        return 0;
    }
    return (size_t)vtable;
}

/* Position of a field of `width` bytes, or 0 when the table does not have it. */
static inline size_t fb_field(fb_reader *r, size_t table, int field, size_t width) {
    size_t vtable = fb_vtable(r, table);
    if (!r->ok) return 0;
    uint16_t vtable_size = fb_u16(r, vtable), table_size = fb_u16(r, vtable + 2);
    size_t entry = 4 + 2 * (size_t)field;
    if (entry + 2 > vtable_size) return 0;
    uint16_t off = fb_u16(r, vtable + entry);
    if (off == 0) return 0;
    if (off < 4 || off + width > table_size) {
        r->ok = false;
        return 0;
    }
    return table + off;
}

static inline bool fb_has(fb_reader *r, size_t table, int field) { return fb_field(r, table, field, 1) != 0; }

static inline uint64_t fb_get_uint(fb_reader *r, size_t table, int field, size_t width, uint64_t dflt) {
    size_t pos = fb_field(r, table, field, width);
    return pos ? fb_uint(r, pos, width) : dflt;
}

static inline int8_t fb_get_i8(fb_reader *r, size_t t, int f, int8_t d) {
    return (int8_t)(uint8_t)fb_get_uint(r, t, f, 1, (uint8_t)d);
}
static inline uint8_t fb_get_u8(fb_reader *r, size_t t, int f, uint8_t d) {
    return (uint8_t)fb_get_uint(r, t, f, 1, d);
}
static inline int32_t fb_get_i32(fb_reader *r, size_t t, int f, int32_t d) {
    return (int32_t)(uint32_t)fb_get_uint(r, t, f, 4, (uint32_t)d);
}
static inline uint32_t fb_get_u32(fb_reader *r, size_t t, int f, uint32_t d) {
    return (uint32_t)fb_get_uint(r, t, f, 4, d);
}
static inline int64_t fb_get_i64(fb_reader *r, size_t t, int f, int64_t d) {
    return (int64_t)fb_get_uint(r, t, f, 8, (uint64_t)d);
}
static inline uint64_t fb_get_u64(fb_reader *r, size_t t, int f, uint64_t d) {
    return fb_get_uint(r, t, f, 8, d);
}
static inline float fb_get_f32(fb_reader *r, size_t t, int f, float d) {
    uint32_t dbits, bits;
    memcpy(&dbits, &d, 4);
    bits = (uint32_t)fb_get_uint(r, t, f, 4, dbits);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* The object (table, vector, string) a ref field points to, or 0. */
static inline size_t fb_get_ref(fb_reader *r, size_t table, int field) {
    size_t pos = fb_field(r, table, field, 4);
    return pos ? fb_follow(r, pos) : 0;
}

/* A vector object at pos: its element count and the position of its data (bounds-checked). */
static inline size_t fb_vector_data(fb_reader *r, size_t vec, size_t elem_size, size_t *count) {
    *count = 0;
    if (!vec) return 0;
    uint32_t n = fb_u32(r, vec);
    if (!fb_in_bounds(r, vec + 4, (size_t)n * elem_size)) return 0;
    *count = n;
    return vec + 4;
}

static inline size_t fb_get_vector(fb_reader *r, size_t table, int field, size_t elem_size, size_t *count) {
    return fb_vector_data(r, fb_get_ref(r, table, field), elem_size, count);
}

/* Element i of a vector of tables/strings. */
static inline size_t fb_vector_ref(fb_reader *r, size_t data, size_t count, size_t i) {
    if (i >= count) {
        r->ok = false;
        return 0;
    }
    return fb_follow(r, data + 4 * i);
}

/* A string object at pos (NUL terminator checked), or NULL. */
static inline const char *fb_string_at(fb_reader *r, size_t pos, size_t *len) {
    size_t n = 0;
    size_t data = fb_vector_data(r, pos, 1, &n);
    if (!data || !fb_in_bounds(r, data, n + 1) || r->buf[data + n] != 0) {
        r->ok = false;
        return NULL;
    }
    if (len) *len = n;
    return (const char *)r->buf + data;
}

static inline const char *fb_get_string(fb_reader *r, size_t table, int field) {
    size_t pos = fb_get_ref(r, table, field);
    return pos ? fb_string_at(r, pos, NULL) : NULL;
}

#endif
