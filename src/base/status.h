/* Status codes and error messages shared by every component. */
#ifndef P2L_BASE_STATUS_H
#define P2L_BASE_STATUS_H

#include "pt2lite.h"

#if defined(__GNUC__)
#define P2L_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define P2L_PRINTF(f, a)
#endif

/* Sets this thread's error message and returns `status`, so a failure reads
 *   return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry %s: ...", name); */
p2l_status p2l_fail(p2l_status status, const char *fmt, ...) P2L_PRINTF(2, 3);
/* Prepends context to the current message: "while reading weights: <old message>". */
p2l_status p2l_fail_context(p2l_status status, const char *fmt, ...) P2L_PRINTF(2, 3);
void p2l_clear_error(void);
/* The status of the last p2l_fail / p2l_fail_context on this thread (P2L_OK after p2l_clear_error):
 * what a function that returns only -1 or NULL failed with. */
p2l_status p2l_last_status(void);

/* The `size` field of a public options struct (pt2lite.h, "option structs"): 0, or from first_size
 * (the first layout with a size field) to known_size (this library's sizeof). Otherwise fails naming
 * the struct `what` and the sizes. Fields beyond `size` must then be read as zero. */
p2l_status p2l_check_options_size(const char *what, size_t size, size_t first_size, size_t known_size);
/* A struct pt2lite fills for the caller (p2l_tensor_info), `size` first and set by the caller as for the
 * options: *out (checked with p2l_check_options_size) receives the fields of *full its size covers (0:
 * first_size), and keeps its size. */
void p2l_fill_sized(void *out, const void *full, size_t first_size);

#define P2L_TRY(expr)                        \
    do {                                     \
        p2l_status p2l_try_s_ = (expr);      \
        if (p2l_try_s_ != P2L_OK) return p2l_try_s_; \
    } while (0)

#endif
