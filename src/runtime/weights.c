/* The model's data derived from constants (packed weights), shared by every interpreter of the model.
 *
 * A fast kernel asks at prepare for the entry of a key that names the constant tensors and every
 * parameter the derived bytes depend on (the packing, the ISA's vector width); the first prepare
 * that asks builds it, later ones, in any interpreter, get the same read-only bytes. The model owns
 * the entries (struct p2l_model: weights) and frees them when its last reference goes, which is after
 * its last interpreter. One lock guards the list and is held while an entry is built: concurrent
 * prepares of the same model wait for each other's packing instead of packing twice. A model has
 * tens to a few hundred entries, looked up at prepare only, so a list with hashes is enough. */
#include <string.h>

#include "base/limits.h"
#include "runtime/runtime.h"

typedef struct p2l_weights_entry {
    struct p2l_weights_entry *next;
    uint64_t hash;
    size_t key_bytes, bytes;
    void *data; /* 64-byte aligned, in the same block, after the key */
    unsigned char key[];
} p2l_weights_entry;

static uint64_t hash_key(const unsigned char *key, size_t n) { /* FNV-1a */
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++) h = (h ^ key[i]) * 1099511628211u;
    return h;
}

static p2l_weights_entry *find(const p2l_weights_cache *c, uint64_t hash, const void *key, size_t key_bytes) {
    for (p2l_weights_entry *e = c->entries; e; e = e->next)
        if (e->hash == hash && e->key_bytes == key_bytes && memcmp(e->key, key, key_bytes) == 0) return e;
    return NULL;
}

static p2l_status build(p2l_weights_cache *c, uint64_t hash, const void *key, size_t key_bytes, size_t bytes,
                        p2l_derive_fn derive, const void *ctx, p2l_weights_entry **out) {
    size_t total;
    if (!p2l_add_size(sizeof(p2l_weights_entry) + 64, key_bytes, &total) || !p2l_add_size(total, bytes, &total))
        return p2l_fail(P2L_ERROR_LIMIT, "derived constants of %zu bytes are too large", bytes);
    p2l_weights_entry *e = p2l_alloc(total);
    if (!e) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory packing %zu bytes of weights", bytes);
    *e = (p2l_weights_entry){.hash = hash, .key_bytes = key_bytes, .bytes = bytes};
    memcpy(e->key, key, key_bytes);
    e->data = p2l_align_pointer(e->key + key_bytes, 64);
    memset(e->data, 0, bytes);
    c->builds++;
    p2l_status s = derive(e->data, ctx);
    if (s) {
        p2l_release(e);
        return s;
    }
    e->next = c->entries;
    c->entries = e;
    c->entry_count++;
    c->bytes += total;
    *out = e;
    return P2L_OK;
}

static p2l_status cache_get(p2l_derived_store *store, const void *key, size_t key_bytes, size_t bytes,
                            p2l_derive_fn derive, const void *ctx, const void **data) {
    p2l_weights_cache *c = (p2l_weights_cache *)store; /* the store is the cache's first member */
    const uint64_t hash = hash_key(key, key_bytes);
    p2l_status s = P2L_OK;
    pthread_mutex_lock(&c->lock);
    p2l_weights_entry *e = find(c, hash, key, key_bytes);
    if (!e) s = build(c, hash, key, key_bytes, bytes, derive, ctx, &e);
    else if (e->bytes != bytes) /* the key names everything the size follows from: a kernel's bug */
        s = p2l_fail(P2L_ERROR_INTERNAL, "derived constants: an entry of %zu bytes was asked for as %zu", e->bytes,
                     bytes);
    pthread_mutex_unlock(&c->lock);
    *data = s ? NULL : e->data;
    return s;
}

p2l_status p2l_weights_cache_init(p2l_weights_cache *cache) {
    *cache = (p2l_weights_cache){.store = {cache_get}};
    if (pthread_mutex_init(&cache->lock, NULL) != 0)
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "cannot create the lock of the model's weights cache");
    return P2L_OK;
}

void p2l_weights_cache_destroy(p2l_weights_cache *cache) {
    for (p2l_weights_entry *e = cache->entries, *next; e; e = next) {
        next = e->next;
        p2l_release(e);
    }
    cache->entries = NULL;
    pthread_mutex_destroy(&cache->lock);
}

void p2l_model_weights_stats(p2l_model *model, p2l_weights_stats *stats) {
    *stats = (p2l_weights_stats){0};
    if (!model || !model->has_weights) return;
    p2l_weights_cache *c = &model->weights;
    pthread_mutex_lock(&c->lock);
    *stats = (p2l_weights_stats){c->entry_count, c->bytes, c->builds};
    pthread_mutex_unlock(&c->lock);
}
