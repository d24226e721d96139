/* A small FlatBuffers builder (back to front, as the format wants): enough to write TFLite models.
 *
 * Errors are sticky: after an allocation failure every call is a no-op and p2l_fb_finish() returns
 * the error, so writers need not check each call. */
#ifndef P2L_TFLITE_FLATBUF_H
#define P2L_TFLITE_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

typedef uint32_t p2l_fb_ref; /* a built object: distance from the end of the buffer; 0 = none */

typedef struct p2l_fb p2l_fb;

/* A deferred vector's bytes in the finished flatbuffer: [offset, offset + size). */
typedef struct p2l_fb_hole {
    size_t offset;
    size_t size;
} p2l_fb_hole;

p2l_fb *p2l_fb_create(size_t initial_capacity);
void p2l_fb_destroy(p2l_fb *fb);

/* Vectors of scalars: count elements of elem_size bytes (little-endian host layout), the data
 * aligned to `align` (>= elem_size, power of two, e.g. 16 for tensor buffers). */
p2l_fb_ref p2l_fb_vector(p2l_fb *fb, const void *data, size_t count, size_t elem_size, size_t align);
p2l_fb_ref p2l_fb_string(p2l_fb *fb, const char *s);
p2l_fb_ref p2l_fb_ref_vector(p2l_fb *fb, const p2l_fb_ref *refs, size_t count);
/* A vector of nbytes bytes whose data the builder does not store (a model's constants: no copy of
 * them in memory); p2l_fb_finish_parts says where the caller must put them. */
p2l_fb_ref p2l_fb_vector_deferred(p2l_fb *fb, size_t nbytes, size_t align);
/* The elements of a vector built by p2l_fb_vector (valid until the next object is built). */
const void *p2l_fb_vector_data(const p2l_fb *fb, p2l_fb_ref vector);

/* Tables: start, add fields (any order), end. Nested tables must be built before the start. */
void p2l_fb_table_start(p2l_fb *fb);
void p2l_fb_add_i8(p2l_fb *fb, int field, int8_t v);
void p2l_fb_add_u8(p2l_fb *fb, int field, uint8_t v);
void p2l_fb_add_bool(p2l_fb *fb, int field, bool v);
void p2l_fb_add_i32(p2l_fb *fb, int field, int32_t v);
void p2l_fb_add_u32(p2l_fb *fb, int field, uint32_t v);
void p2l_fb_add_i64(p2l_fb *fb, int field, int64_t v);
void p2l_fb_add_u64(p2l_fb *fb, int field, uint64_t v);
void p2l_fb_add_f32(p2l_fb *fb, int field, float v);
void p2l_fb_add_ref(p2l_fb *fb, int field, p2l_fb_ref ref); /* ref 0 is skipped */
p2l_fb_ref p2l_fb_table_end(p2l_fb *fb);

/* Writes the root offset and the 4-byte file identifier ("TFL3"), then hands the builder's storage
 * to the caller: the bytes are moved to the front of the block (no second copy of the model) and
 * *out is p2l_release()-able, 16-byte aligned, *size bytes long. The builder is left empty. */
p2l_status p2l_fb_finish(p2l_fb *fb, p2l_fb_ref root, const char identifier[4], void **out, size_t *size);
/* p2l_fb_finish for a buffer with deferred vectors: *out holds every byte but theirs, and *holes (oldest
 * first, p2l_release()-able, NULL when none) where each deferred vector's data goes in the finished
 * flatbuffer; the bytes of *out fill the rest, in order. */
p2l_status p2l_fb_finish_parts(p2l_fb *fb, p2l_fb_ref root, const char identifier[4], void **out, size_t *size,
                               p2l_fb_hole **holes, size_t *hole_count);

#endif
