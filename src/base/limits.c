/* Resource limits: defaults, per-thread limits of the converter, the limit error. */
#include "base/limits.h"

#include <stdarg.h>
#include <stdio.h>

p2l_limits p2l_limits_resolve(const p2l_limits *limits) {
    p2l_limits l = limits ? *limits : (p2l_limits){0};
    if (!l.max_file_bytes) l.max_file_bytes = P2L_DEFAULT_MAX_FILE_BYTES;
    if (!l.max_tensor_bytes) l.max_tensor_bytes = P2L_DEFAULT_MAX_TENSOR_BYTES;
    if (!l.max_nodes) l.max_nodes = P2L_DEFAULT_MAX_NODES;
    if (!l.max_tensors) l.max_tensors = P2L_DEFAULT_MAX_TENSORS;
    if (!l.max_json_depth) l.max_json_depth = P2L_DEFAULT_MAX_JSON_DEPTH;
    if (!l.max_arena_bytes) l.max_arena_bytes = P2L_DEFAULT_MAX_ARENA_BYTES;
    return l;
}

static _Thread_local p2l_limits thread_limits;
static _Thread_local int thread_limits_set;
static _Thread_local uint64_t thread_tensor_bytes;

const p2l_limits *p2l_limits_thread(void) {
    if (!thread_limits_set) {
        thread_limits = p2l_limits_resolve(NULL);
        thread_limits_set = 1;
    }
    return &thread_limits;
}

void p2l_limits_set_thread(const p2l_limits *limits) {
    thread_limits = p2l_limits_resolve(limits);
    thread_limits_set = 1;
    thread_tensor_bytes = 0;
}

p2l_status p2l_limits_charge_tensor_bytes(uint64_t bytes, const char *what) {
    uint64_t total;
    const p2l_limits *limits = p2l_limits_thread();
    if (__builtin_add_overflow(thread_tensor_bytes, bytes, &total) || total > limits->max_tensor_bytes)
        return p2l_limit_fail("max_tensor_bytes", limits->max_tensor_bytes,
                              "the bytes of the weights and constants reach %llu with %s",
                              (unsigned long long)total, what);
    thread_tensor_bytes = total;
    return P2L_OK;
}

p2l_status p2l_limit_fail(const char *name, uint64_t value, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return p2l_fail(P2L_ERROR_LIMIT, "limit %s = %llu exceeded: %s (raise it in p2l_limits)", name,
                    (unsigned long long)value, what);
}
