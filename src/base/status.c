#include "base/status.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { ERROR_CAPACITY = 16384 };
static _Thread_local char error_message[ERROR_CAPACITY];
static _Thread_local p2l_status error_status;

/* p2l_set_error_reporter's pair; atomics so that reading them while another thread fails is defined. */
static p2l_error_reporter _Atomic reporter_fn;
static void *_Atomic reporter_user;

void p2l_set_error_reporter(p2l_error_reporter fn, void *user) {
    atomic_store(&reporter_user, user);
    atomic_store(&reporter_fn, fn);
}

static void report(p2l_status status) {
    p2l_error_reporter fn = atomic_load_explicit(&reporter_fn, memory_order_relaxed);
    if (fn) fn(status, error_message, atomic_load(&reporter_user));
}

const char *p2l_last_error(void) { return error_message; }
p2l_status p2l_last_status(void) { return error_status; }

void p2l_clear_error(void) {
    error_message[0] = 0;
    error_status = P2L_OK;
}

p2l_status p2l_fail(p2l_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_status = status;
    report(status);
    return status;
}

p2l_status p2l_fail_context(p2l_status status, const char *fmt, ...) {
    char old[ERROR_CAPACITY];
    memcpy(old, error_message, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used + 2 < sizeof error_message) {
        /* Truncation is fine here: the message is diagnostic text. */
        size_t room = sizeof error_message - used - 2;
        size_t old_len = strnlen(old, room);
        memcpy(error_message + used, ": ", 2);
        memcpy(error_message + used + 2, old, old_len);
        error_message[used + 2 + old_len] = 0;
    }
    error_status = status;
    report(status);
    return status;
}

const char *p2l_status_name(p2l_status status) {
    static const char *const names[] = {
        [P2L_OK] = "ok",
        [P2L_ERROR_INVALID_ARGUMENT] = "invalid argument",
        [P2L_ERROR_IO] = "I/O error",
        [P2L_ERROR_MALFORMED] = "malformed input",
        [P2L_ERROR_UNSUPPORTED] = "unsupported",
        [P2L_ERROR_OUT_OF_MEMORY] = "out of memory",
        [P2L_ERROR_LIMIT] = "resource limit exceeded",
        [P2L_ERROR_INTERNAL] = "internal error",
        [P2L_ERROR_CANCELLED] = "cancelled",
    };
    if ((unsigned)status < sizeof names / sizeof names[0] && names[status]) return names[status];
    return "unknown status";
}

const char *p2l_version(void) { return P2L_VERSION; }
int p2l_version_number(void) { return P2L_VERSION_NUMBER; }

void p2l_fill_sized(void *out, const void *full, size_t first_size) {
    size_t size;
    memcpy(&size, out, sizeof size);
    if (!size) size = first_size;
    memcpy((char *)out + sizeof size, (const char *)full + sizeof size, size - sizeof size);
}

p2l_status p2l_check_options_size(const char *what, size_t size, size_t first_size, size_t known_size) {
    if (size == 0 || (size >= first_size && size <= known_size)) return P2L_OK;
    if (size > known_size)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s.size is %zu, larger than the %zu bytes this pt2lite %s knows "
                        "(built against a newer pt2lite.h?)", what, size, known_size, P2L_VERSION);
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s.size is %zu; set it to sizeof(%s) (%zu) or 0", what, size, what,
                    known_size);
}
