#include "base/strmap.h"

#include <stdint.h>
#include <string.h>

#include "base/mem.h"

static uint64_t hash_string(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static size_t slot_of(const p2l_strmap *m, const char *key) {
    size_t mask = m->cap - 1, i = (size_t)hash_string(key) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & mask;
    return i;
}

static p2l_status grow(p2l_strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    p2l_strmap bigger = {p2l_alloc_zero(cap * sizeof(char *)), p2l_alloc(cap * sizeof(int)), cap, 0};
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
