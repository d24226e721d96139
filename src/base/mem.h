/* Heap accounting, arenas and growable buffers.
 *
 * All pt2lite allocations go through p2l_alloc/p2l_release so the converter can report its
 * peak heap (bench/convert.py) and so later resource limits have one place to hook into. */
#ifndef P2L_BASE_MEM_H
#define P2L_BASE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

void *p2l_alloc(size_t size);               /* NULL on failure; never for size 0 */
void *p2l_alloc_zero(size_t size);
void *p2l_resize(void *ptr, size_t size);   /* like realloc; the old block survives failure */
void p2l_release(void *ptr);                /* NULL is fine */
size_t p2l_heap_bytes(void);                /* bytes live now, all threads */
size_t p2l_heap_peak(void);
void p2l_heap_reset_peak(void);
/* This thread's net heap bytes (allocated minus released by it) and their peak: what one
 * conversion, which runs on one thread, holds, whatever other threads do meanwhile. */
int64_t p2l_thread_heap_bytes(void);
int64_t p2l_thread_heap_peak(void);
void p2l_thread_heap_reset_peak(void);

/* Overflow-checked size arithmetic: false when the result does not fit. */
static inline bool p2l_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool p2l_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* size rounded up to a multiple of `alignment` (a power of two); false when that overflows. */
bool p2l_round_up_size(size_t size, size_t alignment, size_t *out);
/* The first address at or after p that is a multiple of `alignment` (a power of two); a block
 * allocated `alignment` bytes larger holds the aligned part. */
static inline void *p2l_align_pointer(void *p, size_t alignment) {
    return (void *)(((uintptr_t)p + alignment - 1) & ~(uintptr_t)(alignment - 1));
}

/* Arena: many small allocations freed together (graph nodes, names, parsed JSON). */
typedef struct p2l_arena_block p2l_arena_block;
typedef struct p2l_arena {
    p2l_arena_block *head;
    size_t used, capacity; /* of the head block */
} p2l_arena;

void *p2l_arena_alloc(p2l_arena *arena, size_t size);  /* 16-byte aligned, zeroed; NULL on OOM */
char *p2l_arena_strdup(p2l_arena *arena, const char *s);
char *p2l_arena_strndup(p2l_arena *arena, const char *s, size_t n);
char *p2l_arena_printf(p2l_arena *arena, const char *fmt, ...) P2L_PRINTF(2, 3);
void p2l_arena_free(p2l_arena *arena);

/* Growable byte buffer. */
typedef struct p2l_buf {
    uint8_t *data;
    size_t len, cap;
} p2l_buf;

p2l_status p2l_buf_reserve(p2l_buf *b, size_t extra);
p2l_status p2l_buf_append(p2l_buf *b, const void *data, size_t n);
p2l_status p2l_buf_printf(p2l_buf *b, const char *fmt, ...) P2L_PRINTF(2, 3); /* keeps a NUL after len */
void p2l_buf_free(p2l_buf *b);

/* Growable array of any element type: P2L_VEC(int) v = {0}; P2L_TRY(P2L_VEC_PUSH(&v, 3)); */
#define P2L_VEC(T)       \
    struct {             \
        T *items;        \
        size_t len, cap; \
    }
p2l_status p2l_vec_grow(void **items, size_t *cap, size_t elem_size, size_t need);
#define P2L_VEC_PUSH(v, value)                                                                  \
    (((v)->len < (v)->cap ||                                                                    \
      p2l_vec_grow((void **)&(v)->items, &(v)->cap, sizeof *(v)->items, (v)->len + 1) == P2L_OK) \
         ? ((v)->items[(v)->len++] = (value), P2L_OK)                                           \
         : P2L_ERROR_OUT_OF_MEMORY)
#define P2L_VEC_FREE(v) (p2l_release((v)->items), (v)->items = NULL, (v)->len = (v)->cap = 0)

#endif
