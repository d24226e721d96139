/* The converter's public entry points: .pt2 bytes -> IR -> passes -> .tflite bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/mem.h"
#include "convert/metadata.h"
#include "lower/lower.h"
#include "passes/passes.h"
#include "pt2/pt2.h"
#include "tflite/writer.h"

static _Thread_local size_t last_peak;

size_t p2l_convert_peak_bytes(void) { return last_peak; }

size_t p2l_json_string(char *out, const char *text) {
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*c;
        } else if (*c < 0x20) {
            n += (size_t)snprintf(out + n, 7, "\\u%04x", *c);
        } else {
            out[n++] = (char)*c;
        }
    }
    out[n++] = '"';
    return n;
}

/* Metadata `entry` (OUTPUT_STRUCTURE, or OUTPUT_STRUCTURE ":<signature>" in a file of several
 * signatures) = {"out_spec": <the module's serialized output pytree, or null>, "none_outputs": [positions
 * of None among its leaves]}: the file has no tensor for a returned None, and a loaded file gives back
 * the module's structure (tuple, list, dict, None) as convert() does. */
#define OUTPUT_STRUCTURE "pt2lite_output_structure"
static p2l_status add_output_structure(p2l_model_ir *model, const p2l_exported *ep, const char *entry) {
    size_t spec_len = ep->out_spec ? strlen(ep->out_spec) : 0, cap;
    if (spec_len > (SIZE_MAX - 64) / 6 - 16 * ep->none_outputs.len)
        return p2l_fail(P2L_ERROR_LIMIT, "the module's output structure is too large to record");
    cap = 6 * spec_len + 16 * ep->none_outputs.len + 64;
    char *json = p2l_arena_alloc(&model->arena, cap);
    if (!json) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory recording the output structure");
    size_t n = (size_t)snprintf(json, cap, "{\"out_spec\": ");
    if (ep->out_spec) n += p2l_json_string(json + n, ep->out_spec);
    else n += (size_t)snprintf(json + n, cap - n, "null");
    n += (size_t)snprintf(json + n, cap - n, ", \"none_outputs\": [");
    for (size_t i = 0; i < ep->none_outputs.len; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s%d", i ? ", " : "", ep->none_outputs.items[i]);
    n += (size_t)snprintf(json + n, cap - n, "]}");
    p2l_metadata_entry metadata = {entry, json, n};
    return P2L_VEC_PUSH(&model->metadata, metadata);
}

/* float16 / bfloat16 models: weights stored as float16 (lower/lower_dtypes.c says which), and the
 * module's input and output dtypes recorded where the file cannot hold them. */
static p2l_status store_float_dtypes(p2l_model_ir *model, p2l_ir_graph *g, const p2l_exported *ep,
                                     const char *entry_name) {
    bool exact_only = false;
    if (p2l_float_weights_f16(ep, &exact_only)) {
        p2l_f16_weights how = {.min_elements = exact_only ? 1 : 16, .exact_only = exact_only};
        P2L_TRY(p2l_store_weights_f16(g, &how));
    }
    p2l_clear_error();
    const char *dtypes = p2l_io_dtypes_metadata(ep, &model->arena);
    if (!dtypes) return p2l_last_status();
    p2l_metadata_entry entry = {entry_name, dtypes, strlen(dtypes)};
    return P2L_VEC_PUSH(&model->metadata, entry);
}

/* Names must be usable as SignatureDef keys and tell the signatures apart. */
static p2l_status check_programs(const p2l_signature_program *programs, size_t count) {
    if (count == 0) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signatures: no programs");
    if (count > (size_t)p2l_limits_thread()->max_tensors)
        return p2l_fail(P2L_ERROR_LIMIT, "limit max_tensors = %llu exceeded: %zu signatures",
                        (unsigned long long)p2l_limits_thread()->max_tensors, count);
    for (size_t i = 0; i < count; i++) {
        const p2l_signature_program *p = &programs[i];
        if (!p->pt2 || !p->name)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signatures: program %zu has a NULL %s", i,
                            p->pt2 ? "name" : "archive");
        if (!*p->name) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signatures: program %zu has an empty name", i);
        P2L_TRY(P2L_CHECK_LIMIT(p2l_limits_thread(), max_file_bytes, p->pt2_size, "the .pt2 file's size in bytes"));
        for (size_t j = 0; j < i; j++)
            if (strcmp(programs[j].name, p->name) == 0)
                return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "two signatures are named '%s' (programs %zu and %zu)",
                                p->name, j, i);
    }
    return P2L_OK;
}

/* The name of a per-signature metadata entry: `base` in a file of one signature, "<base>:<signature>"
 * in a file of several. NULL when out of memory. */
static const char *signature_entry(p2l_model_ir *model, const char *base, const char *signature, bool several) {
    if (!several) return base;
    size_t len = strlen(base) + 2 + strlen(signature);
    char *name = p2l_arena_alloc(&model->arena, len);
    if (name) snprintf(name, len, "%s:%s", base, signature);
    else p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    return name;
}

/* The caller's metadata entries (p2l_convert_options.metadata), after the converter's own: a name may
 * appear once in the file, so a reader finds what its writer meant. */
static p2l_status add_caller_metadata(p2l_model_ir *model, const p2l_metadata_item *items, size_t count) {
    if (count && !items)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options: metadata is NULL, metadata_count %zu", count);
    for (size_t i = 0; i < count; i++) {
        const p2l_metadata_item *item = &items[i];
        if (!item->name || !*item->name || (item->size && !item->data))
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options: metadata entry %zu has %s", i,
                            item->name && *item->name ? "size > 0 and no data" : "no name");
        for (size_t j = 0; j < model->metadata.len; j++)
            if (strcmp(model->metadata.items[j].name, item->name) == 0)
                return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_options: the file already has a metadata entry "
                                "named '%s' (entry %zu)", item->name, i);
        p2l_metadata_entry entry = {item->name, item->data, item->size};
        P2L_TRY(P2L_VEC_PUSH(&model->metadata, entry));
    }
    return P2L_OK;
}

/* The first layout with a size field (pt2lite.h, "option structs"): the fields of pt2lite 0.1. */
static const size_t convert_options_first_size = offsetof(p2l_convert_options, on_stage);

/* Reports each stage's wall time to the caller's on_stage, if any. */
typedef struct stage_clock {
    p2l_convert_stage_fn report;
    void *user;
    struct timespec start;
} stage_clock;

/* Ends `stage` (started when the previous one ended) and passes its status through. */
static p2l_status stage_done(stage_clock *clock, const char *stage, p2l_status s) {
    if (!clock->report) return s;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    clock->report(stage, (double)(now.tv_sec - clock->start.tv_sec) + (double)(now.tv_nsec - clock->start.tv_nsec) * 1e-9,
                  clock->user);
    clock->start = now;
    return s;
}

/* One program's graph (read from its archive into ep, which stays alive until the model is written:
 * the IR borrows from it) -> one subgraph of `model`, lowered and optimized, and its metadata entries. */
static p2l_status add_program(p2l_model_ir *model, const p2l_signature_program *program, int index,
                              bool several, p2l_exported *ep, const p2l_convert_options *options, stage_clock *clock) {
    p2l_ir_graph *g = NULL;
    const char *structure = signature_entry(model, OUTPUT_STRUCTURE, program->name, several);
    const char *io_dtypes = signature_entry(model, "pt2lite_io_dtypes", program->name, several);
    if (!structure || !io_dtypes) return p2l_last_status();
    P2L_TRY(p2l_model_ir_add_graph(model, program->name, &g));
    P2L_TRY(p2l_lower(ep, g));
    P2L_TRY(p2l_add_state_initializer(model, ep));
    P2L_TRY(add_output_structure(model, ep, structure));
    P2L_TRY(stage_done(clock, "lower", p2l_add_dynamic_ranges(model, index, ep)));
    P2L_TRY(stage_done(clock, "passes", p2l_optimize(g)));
    P2L_TRY(store_float_dtypes(model, g, ep, io_dtypes));
    if (options->quantize != P2L_QUANTIZE_NONE) P2L_TRY(stage_done(clock, "quantize", p2l_apply_recipe(g, options)));
    return p2l_add_node_map(model, index, g, ep);
}

/* The programs -> one model written to `dest` (memory or a file). */
static p2l_status convert_to(const p2l_signature_program *programs, size_t count, const p2l_convert_options *options,
                             const p2l_tflite_destination *dest) {
    p2l_clear_error();
    p2l_convert_options o = {0};
    if (options) {
        P2L_TRY(p2l_check_options_size("p2l_convert_options", options->size, convert_options_first_size, sizeof o));
        memcpy(&o, options, options->size ? options->size : convert_options_first_size);
    }
    stage_clock clock = {o.on_stage, o.on_stage_user, {0, 0}};
    clock_gettime(CLOCK_MONOTONIC, &clock.start);
    /* The caller's limits hold for this conversion on this thread (base/limits.h). */
    p2l_limits limits = p2l_limits_resolve(o.limits);
    p2l_limits saved = *p2l_limits_thread();
    p2l_limits_set_thread(&limits);
    p2l_status s = check_programs(programs, count);
    p2l_exported *eps = s == P2L_OK ? p2l_alloc_zero(sizeof *eps * count) : NULL;
    if (s == P2L_OK && !eps) s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    if (s != P2L_OK) {
        p2l_limits_set_thread(&saved);
        return s;
    }
    /* This thread's counters: conversions on other threads do not count (pt2lite.h). */
    int64_t base = p2l_thread_heap_bytes();
    p2l_thread_heap_reset_peak();
    p2l_model_ir model;
    p2l_model_ir_init(&model);
    p2l_mapped_set_thread(dest->mapped, dest->mapped_count); /* passes drop weights' pages once replaced */
    if (count > 1) p2l_quantize_once_begin(); /* signatures share their quantized weights */
    size_t read = 0; /* archives read: p2l_pt2_read frees what it read when it fails */
    for (size_t i = 0; s == P2L_OK && i < count; i++) {
        s = stage_done(&clock, "read", p2l_pt2_read_with_weights(programs[i].pt2, programs[i].pt2_size, o.weights,
                                                                 o.weight_count, i, &eps[i]));
        if (s == P2L_OK) {
            read++;
            s = add_program(&model, &programs[i], (int)i, count > 1, &eps[i], &o, &clock);
        }
        if (s != P2L_OK && count > 1) s = p2l_fail_context(s, "signature '%s'", programs[i].name);
    }
    if (s == P2L_OK) s = add_caller_metadata(&model, o.metadata, o.metadata_count);
    if (s == P2L_OK) s = stage_done(&clock, "write", p2l_tflite_write_to(&model, true, dest));
    p2l_quantize_once_end();
    p2l_model_ir_free(&model);
    p2l_mapped_set_thread(NULL, 0);
    for (size_t i = 0; i < read; i++) p2l_exported_free(&eps[i]);
    p2l_release(eps);
    p2l_limits_set_thread(&saved);
    int64_t peak = p2l_thread_heap_peak();
    last_peak = peak > base ? (size_t)(peak - base) : 0;
    return s;
}

p2l_status p2l_convert_signatures(const p2l_signature_program *programs, size_t count,
                                  const p2l_convert_options *options, void **tflite_out, size_t *tflite_size) {
    if (!programs || !tflite_out || !tflite_size)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signatures: NULL argument");
    *tflite_out = NULL;
    *tflite_size = 0;
    p2l_tflite_destination dest = {.out = tflite_out, .size = tflite_size};
    return convert_to(programs, count, options, &dest);
}

p2l_status p2l_convert(const void *pt2, size_t pt2_size, const p2l_convert_options *options, void **tflite_out,
                       size_t *tflite_size) {
    if (!pt2 || !tflite_out || !tflite_size) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert: NULL argument");
    p2l_signature_program program = {"serving_default", pt2, pt2_size};
    return p2l_convert_signatures(&program, 1, options, tflite_out, tflite_size);
}

/* Maps a whole file read-only (no copy of the archive in memory). */
static p2l_status map_file(const char *path, void **data, size_t *size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return p2l_fail(P2L_ERROR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return p2l_fail(P2L_ERROR_IO, "%s is not a regular file", path);
    }
    *size = (size_t)st.st_size;
    if (*size == 0) {
        close(fd);
        return p2l_fail(P2L_ERROR_MALFORMED, "%s is empty", path);
    }
    *data = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (*data == MAP_FAILED) return p2l_fail(P2L_ERROR_IO, "cannot map %s: %s", path, strerror(errno));
    return P2L_OK;
}

/* Converts into a temporary file beside the target, renamed over it once complete, so a failure never
 * leaves a half-written model behind. The model streams to the file: constants are not assembled in
 * memory, and the archives' mapped pages are dropped as the writer reads them. */
static p2l_status convert_into_file(const p2l_signature_program *programs, size_t count,
                                    const p2l_convert_options *options, const p2l_mapped_range *mapped,
                                    const char *path) {
    size_t len = strlen(path);
    char *tmp = p2l_alloc(len + 16);
    if (!tmp) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, len + 16, "%s.tmp%05d", path, (int)(getpid() % 100000));
    FILE *f = fopen(tmp, "wb");
    p2l_status s = P2L_OK;
    if (!f) {
        s = p2l_fail(P2L_ERROR_IO, "cannot write %s: %s", path, strerror(errno));
    } else {
        p2l_tflite_destination dest = {.file = f, .mapped = mapped, .mapped_count = count};
        s = convert_to(programs, count, options, &dest);
        bool closed = fclose(f) == 0;
        if (s == P2L_OK && (!closed || rename(tmp, path) != 0))
            s = p2l_fail(P2L_ERROR_IO, "cannot write %s: %s", path, strerror(errno));
        if (s != P2L_OK) remove(tmp);
    }
    p2l_release(tmp);
    return s;
}

p2l_status p2l_convert_signature_files(const char *const *names, const char *const *pt2_paths, size_t count,
                                       const char *tflite_path, const p2l_convert_options *options) {
    if (!names || !pt2_paths || !tflite_path)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signature_files: NULL argument");
    if (count == 0) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signature_files: no programs");
    p2l_signature_program *programs = p2l_alloc_zero(sizeof *programs * count);
    if (!programs) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    p2l_status s = P2L_OK;
    size_t mapped = 0;
    for (; s == P2L_OK && mapped < count; mapped++) {
        void *data = NULL;
        programs[mapped].name = names[mapped];
        s = pt2_paths[mapped] ? map_file(pt2_paths[mapped], &data, &programs[mapped].pt2_size)
                              : p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_signature_files: NULL path");
        programs[mapped].pt2 = data;
        if (s != P2L_OK) break;
    }
    p2l_mapped_range *ranges = s == P2L_OK ? p2l_alloc_zero(sizeof *ranges * count) : NULL;
    if (s == P2L_OK && !ranges) s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; s == P2L_OK && i < count; i++) ranges[i] = (p2l_mapped_range){programs[i].pt2, programs[i].pt2_size};
    if (s == P2L_OK) {
        s = convert_into_file(programs, count, options, ranges, tflite_path);
        if (s != P2L_OK && count == 1) s = p2l_fail_context(s, "%s", pt2_paths[0]);
    }
    p2l_release(ranges);
    for (size_t i = 0; i < mapped; i++) munmap((void *)programs[i].pt2, programs[i].pt2_size);
    p2l_release(programs);
    return s;
}

p2l_status p2l_convert_file(const char *pt2_path, const char *tflite_path, const p2l_convert_options *options) {
    if (!pt2_path || !tflite_path) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_file: NULL path");
    const char *name = "serving_default";
    return p2l_convert_signature_files(&name, &pt2_path, 1, tflite_path, options);
}
