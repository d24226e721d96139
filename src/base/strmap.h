/* A string -> int hash map (open addressing) for name lookups in large graphs. Keys are not
 * copied: they must outlive the map (they live in an arena).
 *
 * Names come from untrusted files, so the hash is keyed (SipHash-1-3 with a per-process random
 * key): nobody can craft names that all land in one probe chain. Nothing iterates a map in slot
 * order, so the random key never changes what the converter writes. */
#ifndef P2L_BASE_STRMAP_H
#define P2L_BASE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct p2l_strmap {
    const char **keys;
    int *values;
    size_t cap, len;
} p2l_strmap;

p2l_status p2l_strmap_put(p2l_strmap *m, const char *key, int value); /* replaces an existing key */
int p2l_strmap_get(const p2l_strmap *m, const char *key, int missing);
void p2l_strmap_free(p2l_strmap *m);

/* Keyed hash of `length` bytes (the per-process key above): for every hash table fed with file
 * contents. */
uint64_t p2l_hash_bytes(const void *data, size_t length);

#endif
