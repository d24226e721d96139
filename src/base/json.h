/* A strict JSON parser (RFC 8259) into a tree allocated in an arena.
 *
 * Strict: no comments, no trailing commas, no NaN; but the non-standard strings "Infinity",
 * "-Infinity" and "NaN" that torch.export writes stay strings (p2l_json_number() maps them).
 * Limits on nesting depth and input size keep hostile input from exhausting the stack or memory. */
#ifndef P2L_BASE_JSON_H
#define P2L_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

typedef enum p2l_json_type {
    P2L_JSON_NULL,
    P2L_JSON_BOOL,
    P2L_JSON_NUMBER,
    P2L_JSON_STRING,
    P2L_JSON_ARRAY,
    P2L_JSON_OBJECT,
} p2l_json_type;

typedef struct p2l_json p2l_json;
struct p2l_json {
    p2l_json_type type;
    bool boolean;
    bool is_integer;     /* a number written without fraction or exponent that fits int64 */
    int64_t integer;     /* valid when is_integer */
    double number;       /* always valid for numbers */
    const char *string;  /* decoded UTF-8, NUL-terminated (embedded NULs rejected) */
    size_t length;       /* string bytes, or array/object element count */
    p2l_json *items;     /* array elements, or object values */
    const char **keys;   /* object keys (decoded), parallel to items; duplicates rejected */
    size_t offset;       /* byte offset of the value in the text, for error messages */
};

typedef struct p2l_json_limits {
    size_t max_depth;    /* 0 = default (256) */
    size_t max_bytes;    /* 0 = no limit besides size_t */
} p2l_json_limits;

/* Parses text[0..len). On error returns P2L_ERROR_MALFORMED (or P2L_ERROR_LIMIT, or OUT_OF_MEMORY)
 * with a message naming the byte offset, line and column, and what was expected. `what` names the
 * document in messages ("models/model.json"). */
p2l_status p2l_json_parse(const char *text, size_t len, const p2l_json_limits *limits, const char *what,
                          p2l_arena *arena, p2l_json **out);

/* Object member by key, or NULL (also NULL when obj is NULL or not an object). Linear scan. */
const p2l_json *p2l_json_get(const p2l_json *obj, const char *key);
/* Numeric value of a number, or of the strings "Infinity"/"-Infinity"/"NaN"; false otherwise. */
bool p2l_json_number(const p2l_json *v, double *out);

#endif
