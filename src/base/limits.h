/* Resource limits (the public p2l_limits in pt2lite.h): defaults, the limits in effect on this
 * thread, and the error every exceeded limit gives.
 *
 * The converter sets the caller's limits for the duration of one p2l_convert() (thread-local), so
 * deep components (the .pt2 reader, JSON parsing, constant folding) check them without threading a
 * pointer through every call. The runtime keeps its limits in the p2l_model. */
#ifndef P2L_BASE_LIMITS_H
#define P2L_BASE_LIMITS_H

#include <stdint.h>

#include "base/status.h"

/* The limits in effect on this thread: those set by p2l_limits_set_thread, else the defaults. */
const p2l_limits *p2l_limits_thread(void);
/* Sets this thread's limits (resolved: zero fields become defaults); NULL restores the defaults. */
void p2l_limits_set_thread(const p2l_limits *limits);

/* The largest dim a tensor may have: TFLite stores shapes as int32. */
#define P2L_MAX_DIM INT32_MAX

/* Counts `bytes` more tensor bytes the converter holds (weights, constants, folded values) against
 * this thread's max_tensor_bytes; p2l_limits_set_thread starts the count again at zero. */
p2l_status p2l_limits_charge_tensor_bytes(uint64_t bytes, const char *what);

/* Fails with P2L_ERROR_LIMIT: "limit <name> = <value> exceeded: <what>". */
p2l_status p2l_limit_fail(const char *name, uint64_t value, const char *fmt, ...) P2L_PRINTF(3, 4);

/* Checks `amount` <= limit; the message says "<what> is <amount>". */
#define P2L_CHECK_LIMIT(limits, field, amount, what)                                                        \
    ((uint64_t)(amount) > (limits)->field                                                                    \
         ? p2l_limit_fail(#field, (limits)->field, "%s is %llu", (what), (unsigned long long)(uint64_t)(amount)) \
         : P2L_OK)

#endif
