/* Runtime internals shared by the model (model.c) and the interpreter (interpreter.h and its files). */
#ifndef P2L_RUNTIME_RUNTIME_H
#define P2L_RUNTIME_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/float_mode.h"
#include "kernels/kernels.h"
#include "tflite/reader.h"

/* The model's data derived from its constants (runtime/weights.c): the p2l_derived_store its
 * interpreters' nodes use. Entries are built under `lock` by the first prepare that asks for them and
 * freed with the model. */
typedef struct p2l_weights_cache {
    p2l_derived_store store; /* what nodes see (node->derived) */
    pthread_mutex_t lock;
    struct p2l_weights_entry *entries;
    size_t entry_count, bytes; /* entries and their bytes (data, keys and headers) */
    size_t builds;             /* derivations run: entry_count, plus those that failed */
} p2l_weights_cache;
p2l_status p2l_weights_cache_init(p2l_weights_cache *cache);
void p2l_weights_cache_destroy(p2l_weights_cache *cache);

/* What a model's cache holds now (for tests and memory figures). */
typedef struct p2l_weights_stats {
    size_t entries, bytes, builds;
} p2l_weights_stats;
void p2l_model_weights_stats(p2l_model *model, p2l_weights_stats *stats);

struct p2l_model {
    p2l_tfl_model tfl;
    atomic_int refs;       /* the caller's reference plus one per interpreter */
    void *owned;           /* P2L_MODEL_COPY / read fallback: p2l_release()d */
    void *mapping;         /* p2l_model_load_file: munmap()ed */
    size_t mapping_size;
    p2l_limits limits;     /* resolved at load (p2l_model_load_ex); interpreters plan within them */
    bool verify_only;      /* P2L_MODEL_VERIFY_ONLY: ops not checked against the kernels */
    bool has_weights;      /* `weights` was initialized */
    p2l_weights_cache weights; /* packed weights and the like, shared by the interpreters */
};

void p2l_model_retain(p2l_model *model);

/* p2l_tensor_info's first layout with a size field (pt2lite.h): every field up to zero_point. */
#define P2L_TENSOR_INFO_FIRST_SIZE sizeof(p2l_tensor_info)
/* info is not NULL and its size is one pt2lite accepts. */
p2l_status p2l_check_tensor_info(const p2l_tensor_info *info);
/* The quantization fields of a tensor's info, as the file holds them (model and interpreter queries). */
void p2l_tensor_info_set_quantization(p2l_tensor_info *info, const p2l_tfl_tensor *t);

/* Memory plan: tensor i lives from first[i] to last[i] (node indices, inclusive) and needs size[i]
 * bytes; entries with size 0 or first < 0 are skipped. Writes offsets and the arena size. */
typedef struct p2l_plan_item {
    size_t size;
    int first, last;
    size_t offset; /* out */
} p2l_plan_item;
p2l_status p2l_plan_memory(p2l_plan_item *items, size_t count, size_t alignment, size_t *arena_size);

/* Whether `dims` lies within the range constraints the converter recorded for input tensor `tensor`
 * of `subgraph` (metadata P2L_DYNAMIC_RANGES_METADATA; dynamic_ranges.c). P2L_OK for a file without
 * them; else P2L_ERROR_INVALID_ARGUMENT naming the input, the dim, the size and the range. */
p2l_status p2l_check_dynamic_ranges(const p2l_model *model, int subgraph, int tensor, int rank, const int64_t *dims);

#endif
