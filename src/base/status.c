#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { ERROR_CAPACITY = 16384 };
static _Thread_local char error_message[ERROR_CAPACITY];
static _Thread_local p2l_status error_status;

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
    };
    if ((unsigned)status < sizeof names / sizeof names[0] && names[status]) return names[status];
    return "unknown status";
}

const char *p2l_version(void) { return P2L_VERSION; }
