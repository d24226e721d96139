#include "base/mem.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries its size in a 16-byte header so release() can account for it. */
enum { HEADER = 16 };
static atomic_size_t heap_live, heap_peak;
/* This thread's share: bytes it allocated minus bytes it released (a block released on another
 * thread than the one that allocated it moves bytes between the two, hence signed). */
static _Thread_local int64_t thread_live, thread_peak;

static void account(size_t add, size_t sub) {
    size_t now = atomic_fetch_add(&heap_live, add) + add;
    atomic_fetch_sub(&heap_live, sub);
    now -= sub;
    size_t peak = atomic_load(&heap_peak);
    while (now > peak && !atomic_compare_exchange_weak(&heap_peak, &peak, now)) {
    }
    thread_live += (int64_t)add - (int64_t)sub;
    if (thread_live > thread_peak) thread_peak = thread_live;
}

void *p2l_alloc(size_t size) {
    size_t total;
    if (size == 0 || !p2l_add_size(size, HEADER, &total)) return NULL;
    uint8_t *p = malloc(total);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    account(size, 0);
    return p + HEADER;
}

void *p2l_alloc_zero(size_t size) {
    void *p = p2l_alloc(size);
    if (p) memset(p, 0, size);
    return p;
}

void *p2l_resize(void *ptr, size_t size) {
    if (!ptr) return p2l_alloc(size);
    size_t total, old;
    if (size == 0 || !p2l_add_size(size, HEADER, &total)) return NULL;
    uint8_t *base = (uint8_t *)ptr - HEADER;
    memcpy(&old, base, sizeof old);
    uint8_t *p = realloc(base, total);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    account(size, old);
    return p + HEADER;
}

void p2l_release(void *ptr) {
    if (!ptr) return;
    uint8_t *base = (uint8_t *)ptr - HEADER;
    size_t size;
    memcpy(&size, base, sizeof size);
    account(0, size);
    free(base);
}

void p2l_free(void *ptr) { p2l_release(ptr); }

size_t p2l_heap_bytes(void) { return atomic_load(&heap_live); }
size_t p2l_heap_peak(void) { return atomic_load(&heap_peak); }
void p2l_heap_reset_peak(void) { atomic_store(&heap_peak, atomic_load(&heap_live)); }
int64_t p2l_thread_heap_bytes(void) { return thread_live; }
int64_t p2l_thread_heap_peak(void) { return thread_peak; }
void p2l_thread_heap_reset_peak(void) { thread_peak = thread_live; }

bool p2l_round_up_size(size_t size, size_t alignment, size_t *out) {
    size_t sum;
    if (!p2l_add_size(size, alignment - 1, &sum)) return false;
    *out = sum & ~(alignment - 1);
    return true;
}

/* ------------------------------------------------------------------ arena */

struct p2l_arena_block {
    p2l_arena_block *next;
    size_t pad; /* keeps data 16-byte aligned */
    _Alignas(16) uint8_t data[];
};

void *p2l_arena_alloc(p2l_arena *a, size_t size) {
    if (!p2l_round_up_size(size, 16, &size)) return NULL;
    if (size == 0) size = 16;
    if (size > 16384) {
        /* Large requests get a block of their own, linked behind the head, so the head's free
         * space stays usable for small ones. */
        size_t block_bytes;
        p2l_arena_block *b = p2l_add_size(sizeof *b, size, &block_bytes) ? p2l_alloc(block_bytes) : NULL;
        if (!b) return NULL;
        if (a->head) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = NULL;
            a->head = b;
            a->used = a->capacity = size;
        }
        memset(b->data, 0, size);
        return b->data;
    }
    if (!a->head || a->capacity - a->used < size) {
        size_t cap = 65536;
        p2l_arena_block *b = p2l_alloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        a->head = b;
        a->used = 0;
        a->capacity = cap;
    }
    void *p = a->head->data + a->used;
    a->used += size;
    memset(p, 0, size);
    return p;
}

char *p2l_arena_strndup(p2l_arena *a, const char *s, size_t n) {
    char *p = n < SIZE_MAX ? p2l_arena_alloc(a, n + 1) : NULL;
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *p2l_arena_strdup(p2l_arena *a, const char *s) { return p2l_arena_strndup(a, s, strlen(s)); }

char *p2l_arena_printf(p2l_arena *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? p2l_arena_alloc(a, (size_t)n + 1) : NULL;
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void p2l_arena_free(p2l_arena *a) {
    while (a->head) {
        p2l_arena_block *next = a->head->next;
        p2l_release(a->head);
        a->head = next;
    }
    a->used = a->capacity = 0;
}

/* ----------------------------------------------------------------- buffers */

p2l_status p2l_vec_grow(void **items, size_t *cap, size_t elem_size, size_t need) {
    if (need <= *cap) return P2L_OK;
    size_t n = *cap ? *cap : 8, bytes;
    while (n < need) {
        if (!p2l_mul_size(n, 2, &n)) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "array too large");
    }
    if (!p2l_mul_size(n, elem_size, &bytes)) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "array too large");
    void *p = p2l_resize(*items, bytes);
    if (!p) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory growing an array to %zu bytes", bytes);
    *items = p;
    *cap = n;
    return P2L_OK;
}

p2l_status p2l_buf_reserve(p2l_buf *b, size_t extra) {
    size_t need;
    if (!p2l_add_size(b->len, extra, &need) || !p2l_add_size(need, 1, &need))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "buffer too large");
    return p2l_vec_grow((void **)&b->data, &b->cap, 1, need);
}

p2l_status p2l_buf_append(p2l_buf *b, const void *data, size_t n) {
    P2L_TRY(p2l_buf_reserve(b, n));
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return P2L_OK;
}

p2l_status p2l_buf_printf(p2l_buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    p2l_status s = n < 0 ? p2l_fail(P2L_ERROR_INTERNAL, "bad format") : p2l_buf_reserve(b, (size_t)n);
    if (s == P2L_OK) {
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return s;
}

void p2l_buf_free(p2l_buf *b) {
    p2l_release(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
