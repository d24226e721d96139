/* The converter's public entry points: .pt2 bytes -> IR -> passes -> .tflite bytes. */
#include <errno.h>
#include <stddef.h>
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
#include "lower/lower.h"
#include "passes/passes.h"
#include "pt2/pt2.h"
#include "tflite/writer.h"

static _Thread_local size_t last_peak;

size_t p2l_convert_peak_bytes(void) { return last_peak; }

/* Appends `text` as a JSON string literal to out (room for 6 bytes per input byte plus quotes). */
static size_t json_string(char *out, const char *text) {
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

/* Metadata "pt2lite_output_structure" = {"out_spec": <the module's serialized output pytree, or null>,
 * "none_outputs": [positions of None among its leaves]}: the file has no tensor for a returned None,
 * and a loaded file gives back the module's structure (tuple, list, dict, None) as convert() does. */
static p2l_status add_output_structure(p2l_model_ir *model, const p2l_exported *ep) {
    size_t spec_len = ep->out_spec ? strlen(ep->out_spec) : 0, cap;
    if (spec_len > (SIZE_MAX - 64) / 6 - 16 * ep->none_outputs.len)
        return p2l_fail(P2L_ERROR_LIMIT, "the module's output structure is too large to record");
    cap = 6 * spec_len + 16 * ep->none_outputs.len + 64;
    char *json = p2l_arena_alloc(&model->arena, cap);
    if (!json) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory recording the output structure");
    size_t n = (size_t)snprintf(json, cap, "{\"out_spec\": ");
    if (ep->out_spec) n += json_string(json + n, ep->out_spec);
    else n += (size_t)snprintf(json + n, cap - n, "null");
    n += (size_t)snprintf(json + n, cap - n, ", \"none_outputs\": [");
    for (size_t i = 0; i < ep->none_outputs.len; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s%d", i ? ", " : "", ep->none_outputs.items[i]);
    n += (size_t)snprintf(json + n, cap - n, "]}");
    p2l_metadata_entry entry = {"pt2lite_output_structure", json, n};
    return P2L_VEC_PUSH(&model->metadata, entry);
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

p2l_status p2l_convert(const void *pt2, size_t pt2_size, const p2l_convert_options *options, void **tflite_out,
                       size_t *tflite_size) {
    if (!pt2 || !tflite_out || !tflite_size) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert: NULL argument");
    *tflite_out = NULL;
    *tflite_size = 0;
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
    P2L_TRY(P2L_CHECK_LIMIT(&limits, max_file_bytes, pt2_size, "the .pt2 file's size in bytes"));
    p2l_limits saved = *p2l_limits_thread();
    p2l_limits_set_thread(&limits);
    /* This thread's counters: conversions on other threads do not count (pt2lite.h). */
    int64_t base = p2l_thread_heap_bytes();
    p2l_thread_heap_reset_peak();
    p2l_exported ep;
    p2l_status read_status = stage_done(&clock, "read", p2l_pt2_read(pt2, pt2_size, &ep));
    if (read_status != P2L_OK) {
        p2l_limits_set_thread(&saved);
        return read_status;
    }
    p2l_model_ir model;
    p2l_model_ir_init(&model);
    p2l_ir_graph *g = NULL;
    p2l_status s = p2l_model_ir_add_graph(&model, "serving_default", &g);
    if (s == P2L_OK) s = p2l_lower(&ep, g);
    if (s == P2L_OK) s = p2l_add_state_initializer(&model, &ep);
    if (s == P2L_OK) s = add_output_structure(&model, &ep);
    s = stage_done(&clock, "lower", s);
    if (s == P2L_OK) s = stage_done(&clock, "passes", p2l_optimize(g));
    if (s == P2L_OK) s = stage_done(&clock, "write", p2l_tflite_write(&model, true, tflite_out, tflite_size));
    p2l_model_ir_free(&model);
    p2l_exported_free(&ep);
    p2l_limits_set_thread(&saved);
    int64_t peak = p2l_thread_heap_peak();
    last_peak = peak > base ? (size_t)(peak - base) : 0;
    return s;
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

/* Writes to a temporary file beside the target and renames it over, so a failure never leaves a
 * half-written model behind. */
static p2l_status write_file_atomically(const char *path, const void *data, size_t size) {
    size_t len = strlen(path);
    char *tmp = p2l_alloc(len + 16);
    if (!tmp) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, len + 16, "%s.tmp%05d", path, (int)(getpid() % 100000));
    FILE *f = fopen(tmp, "wb");
    p2l_status s = P2L_OK;
    if (!f) {
        s = p2l_fail(P2L_ERROR_IO, "cannot write %s: %s", path, strerror(errno));
    } else {
        bool ok = fwrite(data, 1, size, f) == size;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            s = p2l_fail(P2L_ERROR_IO, "cannot write %s: %s", path, strerror(errno));
            remove(tmp);
        }
    }
    p2l_release(tmp);
    return s;
}

p2l_status p2l_convert_file(const char *pt2_path, const char *tflite_path, const p2l_convert_options *options) {
    if (!pt2_path || !tflite_path) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_convert_file: NULL path");
    void *data = NULL;
    size_t size = 0;
    P2L_TRY(map_file(pt2_path, &data, &size));
    void *out = NULL;
    size_t out_size = 0;
    p2l_status s = p2l_convert(data, size, options, &out, &out_size);
    munmap(data, size);
    if (s != P2L_OK) return p2l_fail_context(s, "%s", pt2_path);
    s = write_file_atomically(tflite_path, out, out_size);
    p2l_release(out);
    return s;
}
