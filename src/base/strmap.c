#include "base/strmap.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#if defined(__linux__) || defined(__APPLE__)
#include <sys/random.h>
#endif

#include "base/mem.h"

/* ---------------------------------------------------------------- keyed hash (SipHash-1-3) */

static _Atomic uint64_t hash_key[2];
static atomic_int hash_key_state; /* 0: unset, 1: being set, 2: set */

static void hash_key_init(void) {
    if (atomic_load_explicit(&hash_key_state, memory_order_acquire) == 2) return;
    int unset = 0;
    if (atomic_compare_exchange_strong(&hash_key_state, &unset, 1)) {
        uint64_t key[2] = {0, 0};
#if defined(__linux__) || defined(__APPLE__)
        if (getentropy(key, sizeof key) != 0) key[0] = key[1] = 0;
#endif
        if (!key[0] && !key[1]) { /* no entropy source: still unpredictable enough across runs */
            struct timespec ts;
            timespec_get(&ts, TIME_UTC);
            key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&ts;
            key[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4full ^ (uint64_t)(uintptr_t)&hash_key_init;
        }
        atomic_store(&hash_key[0], key[0]);
        atomic_store(&hash_key[1], key[1]);
        atomic_store_explicit(&hash_key_state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&hash_key_state, memory_order_acquire) != 2) {
    }
}

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIP_ROUND(v0, v1, v2, v3)                                         \
    do {                                                                  \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);         \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                            \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                            \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);         \
    } while (0)

uint64_t p2l_hash_bytes(const void *data, size_t length) {
    hash_key_init();
    uint64_t k0 = atomic_load_explicit(&hash_key[0], memory_order_relaxed);
    uint64_t k1 = atomic_load_explicit(&hash_key[1], memory_order_relaxed);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    const uint8_t *p = data;
    size_t whole = length & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = 0;
        for (int b = 0; b < 8; b++) m |= (uint64_t)p[i + b] << (8 * b); /* little-endian on any host */
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)length << 56;
    for (size_t b = 0; b < (length & 7); b++) last |= (uint64_t)p[whole + b] << (8 * b);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int r = 0; r < 3; r++) SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---------------------------------------------------------------- the map */

static size_t slot_of(const p2l_strmap *m, const char *key) {
    size_t mask = m->cap - 1, i = (size_t)p2l_hash_bytes(key, strlen(key)) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & mask;
    return i;
}

static p2l_status grow(p2l_strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64, key_bytes, value_bytes;
    if (!p2l_mul_size(cap, sizeof(char *), &key_bytes) || !p2l_mul_size(cap, sizeof(int), &value_bytes))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "name table too large");
    p2l_strmap bigger = {p2l_alloc_zero(key_bytes), p2l_alloc(value_bytes), cap, 0};
    if (!bigger.keys || !bigger.values) {
        p2l_release(bigger.keys);
        p2l_release(bigger.values);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory growing a name table");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t s = slot_of(&bigger, m->keys[i]);
        bigger.keys[s] = m->keys[i];
        bigger.values[s] = m->values[i];
        bigger.len++;
    }
    p2l_strmap_free(m);
    *m = bigger;
    return P2L_OK;
}

p2l_status p2l_strmap_put(p2l_strmap *m, const char *key, int value) {
    if ((m->len + 1) * 2 > m->cap) P2L_TRY(grow(m));
    size_t s = slot_of(m, key);
    if (!m->keys[s]) {
        m->keys[s] = key;
        m->len++;
    }
    m->values[s] = value;
    return P2L_OK;
}

int p2l_strmap_get(const p2l_strmap *m, const char *key, int missing) {
    if (!m->cap) return missing;
    size_t s = slot_of(m, key);
    return m->keys[s] ? m->values[s] : missing;
}

void p2l_strmap_free(p2l_strmap *m) {
    p2l_release(m->keys);
    p2l_release(m->values);
    memset(m, 0, sizeof *m);
}
