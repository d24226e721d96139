/* Strict JSON parser (RFC 8259) into an arena-allocated tree.
 *
 * The parser is iterative: an explicit stack of open containers replaces recursion, so nesting
 * depth costs heap, not C stack, and max_depth is a plain counter. Values of open containers
 * collect on one temporary stack (and object keys on another); when a container closes, its
 * elements are copied once into the arena. So the tree needs no per-element malloc.
 *
 * Numbers are converted by p2l_decimal_to_double (base/decimal.c, no strtod), so the C locale
 * cannot change the result, and the result is the correctly rounded double. */
#include "base/json.h"

#include "base/decimal.h"
#include "base/strmap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { DEFAULT_MAX_DEPTH = 256 };

/* ================================================================ the parser */

typedef struct key_entry {
    const char *text;
    size_t length;
    size_t offset;
} key_entry;

typedef struct open_container {
    size_t first_value; /* index into parser.values of its first element */
    size_t first_key;   /* index into parser.keys (objects) */
    size_t offset;
    bool is_object;
} open_container;

typedef struct parser {
    const char *text;
    size_t len, pos;
    const char *what;
    size_t max_depth;
    p2l_arena *arena;
    P2L_VEC(p2l_json) values;          /* elements of all open containers */
    P2L_VEC(key_entry) keys;           /* keys of all open objects */
    P2L_VEC(open_container) open;      /* innermost last */
    P2L_VEC(size_t) hash_slots;        /* scratch for duplicate-key detection */
} parser;

static void describe_byte(const parser *p, size_t offset, char *out, size_t size) {
    if (offset >= p->len) {
        snprintf(out, size, "end of input");
        return;
    }
    unsigned char c = (unsigned char)p->text[offset];
    if (c >= 0x20 && c < 0x7f) {
        snprintf(out, size, "'%c'", c);
    } else {
        snprintf(out, size, "byte 0x%02x", c);
    }
}

static p2l_status fail_at(const parser *p, p2l_status status, size_t offset, const char *fmt, ...) P2L_PRINTF(4, 5);
static p2l_status fail_at(const parser *p, p2l_status status, size_t offset, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* Line and column (1-based, column in bytes) are only needed here, so count them lazily. */
    size_t line = 1, column = 1;
    for (size_t i = 0; i < offset && i < p->len; i++) {
        if (p->text[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    return p2l_fail(status, "%s: line %zu, column %zu (byte offset %zu): %s", p->what, line, column, offset, detail);
}

static p2l_status fail_unexpected(const parser *p, size_t offset, const char *expected) {
    char found[32];
    describe_byte(p, offset, found, sizeof found);
    return fail_at(p, P2L_ERROR_MALFORMED, offset, "expected %s, found %s", expected, found);
}

static p2l_status fail_out_of_memory(const parser *p, size_t offset) {
    return fail_at(p, P2L_ERROR_OUT_OF_MEMORY, offset, "out of memory");
}

static inline void skip_space(parser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
        p->pos++;
    }
}

/* ---------------------------------------------------------------- strings */

enum { PLAIN = 0, QUOTE, BACKSLASH, CONTROL, NON_ASCII };

static const uint8_t string_byte_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x00 control characters */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 0x50 '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 (0x7f DEL is allowed by RFC 8259) */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80 and up: UTF-8 sequences */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
 * starting at s[0] >= 0x80, or 0 if it is not one. */
static size_t utf8_sequence_length(const unsigned char *s, size_t available) {
    unsigned char c = s[0];
    size_t length;
    unsigned char second_min = 0x80, second_max = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        length = 3;
        if (c == 0xe0) second_min = 0xa0; /* overlong */
        if (c == 0xed) second_max = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        length = 4;
        if (c == 0xf0) second_min = 0x90; /* overlong */
        if (c == 0xf4) second_max = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (available < length) return 0;
    if (s[1] < second_min || s[1] > second_max) return 0;
    for (size_t i = 2; i < length; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
    }
    return length;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits of a \u escape at text[at..at+4), before `end`; -1 if bad. */
static long read_hex4(const char *text, size_t at, size_t end) {
    if (end - at < 4) return -1;
    long value = 0;
    for (size_t i = 0; i < 4; i++) {
        int digit = hex_value(text[at + i]);
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

static size_t encode_utf8(unsigned long cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escapes of text[start..end) (already checked for UTF-8 and control characters) into
 * out, which has room for end - start bytes: every escape is at least as long as what it encodes. */
static p2l_status decode_escapes(const parser *p, size_t start, size_t end, char *out, size_t *out_length) {
    const char *text = p->text;
    size_t n = 0;
    for (size_t i = start; i < end;) {
        if (text[i] != '\\') {
            out[n++] = text[i++];
            continue;
        }
        size_t escape_at = i;
        char e = text[i + 1]; /* a backslash is never the last byte before the closing quote */
        i += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            long cp = read_hex4(text, i, end);
            if (cp < 0) return fail_at(p, P2L_ERROR_MALFORMED, escape_at, "\\u must be followed by 4 hex digits");
            i += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return fail_at(p, P2L_ERROR_MALFORMED, escape_at,
                               "lone low surrogate \\u%04lX (not preceded by a high surrogate)", cp);
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                long low = end - i >= 2 && text[i] == '\\' && text[i + 1] == 'u' ? read_hex4(text, i + 2, end) : -1;
                if (low < 0xdc00 || low > 0xdfff) {
                    return fail_at(p, P2L_ERROR_MALFORMED, escape_at,
                                   "lone high surrogate \\u%04lX (not followed by a \\uDC00-\\uDFFF escape)", cp);
                }
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
            if (cp == 0) {
                return fail_at(p, P2L_ERROR_MALFORMED, escape_at, "\\u0000 (NUL) is not allowed in strings");
            }
            n += encode_utf8((unsigned long)cp, out + n);
            break;
        }
        default: {
            char found[32];
            describe_byte(p, escape_at + 1, found, sizeof found);
            return fail_at(p, P2L_ERROR_MALFORMED, escape_at, "invalid escape: backslash followed by %s", found);
        }
        }
    }
    out[n] = 0;
    *out_length = n;
    return P2L_OK;
}

/* Parses the string whose opening quote is at p->pos into a NUL-terminated arena copy. */
static p2l_status parse_string(parser *p, const char **out, size_t *out_length) {
    const unsigned char *text = (const unsigned char *)p->text;
    size_t quote = p->pos, start = quote + 1, i = start;
    bool has_escapes = false;
    /* First pass: find the closing quote, checking UTF-8 and control characters on the way. */
    for (;;) {
        if (i >= p->len) return fail_at(p, P2L_ERROR_MALFORMED, quote, "unterminated string (input ends inside it)");
        switch (string_byte_class[text[i]]) {
        case PLAIN: i++; continue;
        case QUOTE: break;
        case BACKSLASH: has_escapes = true; i += 2; continue;
        case CONTROL:
            return fail_at(p, P2L_ERROR_MALFORMED, i, "control character 0x%02x must be escaped in a string", text[i]);
        default: {
            size_t n = utf8_sequence_length(text + i, p->len - i);
            if (n == 0) return fail_at(p, P2L_ERROR_MALFORMED, i, "invalid UTF-8 (byte 0x%02x) in a string", text[i]);
            i += n;
            continue;
        }
        }
        break;
    }
    size_t raw_length = i - start;
    char *copy = p2l_arena_alloc(p->arena, raw_length + 1);
    if (!copy) return fail_out_of_memory(p, quote);
    if (has_escapes) {
        P2L_TRY(decode_escapes(p, start, i, copy, out_length));
    } else {
        memcpy(copy, p->text + start, raw_length);
        copy[raw_length] = 0;
        *out_length = raw_length;
    }
    *out = copy;
    p->pos = i + 1;
    return P2L_OK;
}

/* ---------------------------------------------------------------- numbers */

static inline bool is_digit(const parser *p, size_t i) {
    return i < p->len && p->text[i] >= '0' && p->text[i] <= '9';
}

static p2l_status parse_number(parser *p, p2l_json *v) {
    const char *text = p->text;
    size_t start = p->pos, i = start;
    bool negative = text[i] == '-';
    if (negative) i++;
    size_t int_start = i;
    if (!is_digit(p, i)) return fail_unexpected(p, i, "a digit after '-'");
    if (text[i] == '0') {
        i++;
        if (is_digit(p, i)) return fail_at(p, P2L_ERROR_MALFORMED, start, "leading zeros are not allowed in numbers");
    } else {
        while (is_digit(p, i)) i++;
    }
    size_t int_end = i, frac_start = i, frac_end = i;
    bool has_fraction = false, has_exponent = false;
    if (i < p->len && text[i] == '.') {
        has_fraction = true;
        i++;
        if (!is_digit(p, i)) return fail_unexpected(p, i, "a digit after the decimal point");
        frac_start = i;
        while (is_digit(p, i)) i++;
        frac_end = i;
    }
    int64_t exponent = 0;
    if (i < p->len && (text[i] == 'e' || text[i] == 'E')) {
        has_exponent = true;
        i++;
        bool exponent_negative = false;
        if (i < p->len && (text[i] == '+' || text[i] == '-')) exponent_negative = text[i++] == '-';
        if (!is_digit(p, i)) return fail_unexpected(p, i, "a digit in the exponent");
        while (is_digit(p, i)) {
            /* Saturate: anything past 10^1000000 is infinity or zero anyway. */
            if (exponent < 1000000) exponent = exponent * 10 + (text[i] - '0');
            i++;
        }
        if (exponent_negative) exponent = -exponent;
    }
    p->pos = i;

    v->type = P2L_JSON_NUMBER;
    v->offset = start;
    size_t int_count = int_end - int_start;
    if (!has_fraction && !has_exponent && int_count <= 19) {
        uint64_t magnitude = 0; /* 19 digits always fit uint64 */
        for (size_t k = int_start; k < int_end; k++) magnitude = magnitude * 10 + (uint64_t)(text[k] - '0');
        if (negative && magnitude <= (UINT64_C(1) << 63)) {
            v->is_integer = true;
            v->integer = magnitude == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)magnitude;
        } else if (!negative && magnitude <= (uint64_t)INT64_MAX) {
            v->is_integer = true;
            v->integer = (int64_t)magnitude;
        }
        v->number = negative ? -(double)magnitude : (double)magnitude;
        return P2L_OK;
    }
    double magnitude =
        p2l_decimal_to_double(text + int_start, int_count, text + frac_start, frac_end - frac_start, exponent);
    v->number = negative ? -magnitude : magnitude;
    return P2L_OK;
}

/* ---------------------------------------------------------------- structure */

static p2l_status expect_literal(parser *p, const char *word, size_t length) {
    if (p->len - p->pos < length || memcmp(p->text + p->pos, word, length) != 0) {
        return fail_at(p, P2L_ERROR_MALFORMED, p->pos, "invalid literal (expected %s)", word);
    }
    p->pos += length;
    return P2L_OK;
}

static p2l_status parse_scalar(parser *p, p2l_json *v) {
    memset(v, 0, sizeof *v);
    v->offset = p->pos;
    switch (p->text[p->pos]) {
    case '"':
        v->type = P2L_JSON_STRING;
        return parse_string(p, &v->string, &v->length);
    case 't':
        v->type = P2L_JSON_BOOL;
        v->boolean = true;
        return expect_literal(p, "true", 4);
    case 'f':
        v->type = P2L_JSON_BOOL;
        return expect_literal(p, "false", 5);
    case 'n':
        v->type = P2L_JSON_NULL;
        return expect_literal(p, "null", 4);
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        return parse_number(p, v);
    default:
        return fail_unexpected(p, p->pos, "a value");
    }
}

/* Parses `"key" :` of an object member (leading whitespace allowed) onto the key stack. */
static p2l_status parse_key(parser *p) {
    skip_space(p);
    if (p->pos >= p->len || p->text[p->pos] != '"') return fail_unexpected(p, p->pos, "a string key");
    key_entry key = {.offset = p->pos};
    P2L_TRY(parse_string(p, &key.text, &key.length));
    if (P2L_VEC_PUSH(&p->keys, key) != P2L_OK) return fail_out_of_memory(p, key.offset);
    skip_space(p);
    if (p->pos >= p->len || p->text[p->pos] != ':') return fail_unexpected(p, p->pos, "':' after an object key");
    p->pos++;
    return P2L_OK;
}

static bool same_key(const key_entry *a, const key_entry *b) {
    return a->length == b->length && memcmp(a->text, b->text, a->length) == 0;
}

static p2l_status fail_duplicate(const parser *p, const key_entry *first, const key_entry *again) {
    return fail_at(p, P2L_ERROR_MALFORMED, again->offset, "duplicate object key \"%.80s%s\" (first at byte offset %zu)",
                   again->text, again->length > 80 ? "..." : "", first->offset);
}

/* Rejects duplicate keys: pairwise for small objects, an open-addressing hash set for big ones. */
static p2l_status check_duplicate_keys(parser *p, const key_entry *keys, size_t count) {
    if (count <= 16) {
        for (size_t i = 1; i < count; i++) {
            for (size_t j = 0; j < i; j++) {
                if (same_key(&keys[j], &keys[i])) return fail_duplicate(p, &keys[j], &keys[i]);
            }
        }
        return P2L_OK;
    }
    size_t capacity = 64;
    while (capacity < count * 2) capacity *= 2; /* count * 2 cannot overflow: count <= len of text */
    if (p2l_vec_grow((void **)&p->hash_slots.items, &p->hash_slots.cap, sizeof(size_t), capacity) != P2L_OK) {
        return fail_out_of_memory(p, keys[0].offset);
    }
    size_t *slots = p->hash_slots.items; /* 0 = empty, else key index + 1 */
    memset(slots, 0, capacity * sizeof *slots);
    for (size_t i = 0; i < count; i++) {
        /* keyed: crafted keys cannot share one probe chain (base/strmap.h) */
        size_t slot = (size_t)p2l_hash_bytes(keys[i].text, keys[i].length) & (capacity - 1);
        while (slots[slot]) {
            const key_entry *other = &keys[slots[slot] - 1];
            if (same_key(other, &keys[i])) return fail_duplicate(p, other, &keys[i]);
            slot = (slot + 1) & (capacity - 1);
        }
        slots[slot] = i + 1;
    }
    return P2L_OK;
}

/* Pops the innermost container and copies its elements (and keys) from the stacks into the arena. */
static p2l_status close_container(parser *p, p2l_json *v) {
    open_container c = p->open.items[--p->open.len];
    size_t count = p->values.len - c.first_value;
    memset(v, 0, sizeof *v);
    v->type = c.is_object ? P2L_JSON_OBJECT : P2L_JSON_ARRAY;
    v->offset = c.offset;
    v->length = count;
    if (count) {
        size_t bytes;
        if (!p2l_mul_size(count, sizeof(p2l_json), &bytes) || !(v->items = p2l_arena_alloc(p->arena, bytes))) {
            return fail_out_of_memory(p, c.offset);
        }
        memcpy(v->items, p->values.items + c.first_value, bytes);
    }
    if (c.is_object && count) {
        const key_entry *keys = p->keys.items + c.first_key;
        P2L_TRY(check_duplicate_keys(p, keys, count));
        size_t bytes;
        if (!p2l_mul_size(count, sizeof(char *), &bytes) || !(v->keys = p2l_arena_alloc(p->arena, bytes))) {
            return fail_out_of_memory(p, c.offset);
        }
        for (size_t i = 0; i < count; i++) v->keys[i] = keys[i].text;
    }
    p->values.len = c.first_value;
    p->keys.len = c.first_key;
    return P2L_OK;
}

/* Starts a value at p->pos. A scalar or an empty container is complete (*complete = true); a
 * non-empty container is left open, positioned at its first element (after the key, for objects). */
static p2l_status begin_value(parser *p, p2l_json *v, bool *complete) {
    skip_space(p);
    if (p->pos >= p->len) return fail_unexpected(p, p->pos, "a value");
    char c = p->text[p->pos];
    if (c != '[' && c != '{') {
        *complete = true;
        return parse_scalar(p, v);
    }
    if (p->open.len >= p->max_depth) {
        return fail_at(p, P2L_ERROR_LIMIT, p->pos,
                       "nesting is deeper than the max_depth limit of %zu (limit max_json_depth = %zu exceeded)",
                       p->max_depth, p->max_depth);
    }
    open_container container = {p->values.len, p->keys.len, p->pos, c == '{'};
    if (P2L_VEC_PUSH(&p->open, container) != P2L_OK) return fail_out_of_memory(p, p->pos);
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == (c == '{' ? '}' : ']')) {
        p->pos++;
        *complete = true;
        return close_container(p, v);
    }
    *complete = false;
    return c == '{' ? parse_key(p) : P2L_OK;
}

static p2l_status parse_document(parser *p, p2l_json *root) {
    for (;;) {
        p2l_json value;
        bool complete = false;
        P2L_TRY(begin_value(p, &value, &complete));
        if (!complete) continue;
        /* A value is complete: add it to its container; each closing bracket completes another. */
        for (;;) {
            if (p->open.len == 0) {
                *root = value;
                skip_space(p);
                if (p->pos != p->len) return fail_unexpected(p, p->pos, "end of input after the JSON value");
                return P2L_OK;
            }
            if (P2L_VEC_PUSH(&p->values, value) != P2L_OK) return fail_out_of_memory(p, value.offset);
            skip_space(p);
            bool in_object = p->open.items[p->open.len - 1].is_object;
            char c = p->pos < p->len ? p->text[p->pos] : 0;
            if (p->pos < p->len && c == ',') {
                p->pos++;
                if (in_object) P2L_TRY(parse_key(p));
                break; /* next element */
            }
            if (p->pos < p->len && c == (in_object ? '}' : ']')) {
                p->pos++;
                P2L_TRY(close_container(p, &value));
                continue;
            }
            return fail_unexpected(p, p->pos, in_object ? "',' or '}' after an object member"
                                                         : "',' or ']' after an array element");
        }
    }
}

p2l_status p2l_json_parse(const char *text, size_t len, const p2l_json_limits *limits, const char *what,
                          p2l_arena *arena, p2l_json **out) {
    if (!what) what = "JSON document";
    if (!out || !arena || (!text && len)) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s: NULL argument", what);
    *out = NULL;
    size_t max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    if (limits && limits->max_bytes && len > limits->max_bytes) {
        return p2l_fail(P2L_ERROR_LIMIT, "%s: %zu bytes is more than the max_bytes limit of %zu", what, len,
                        limits->max_bytes);
    }
    parser p = {.text = text, .len = len, .what = what, .max_depth = max_depth, .arena = arena};
    p2l_json *root = p2l_arena_alloc(arena, sizeof *root);
    p2l_status status = root ? parse_document(&p, root) : fail_out_of_memory(&p, 0);
    P2L_VEC_FREE(&p.values);
    P2L_VEC_FREE(&p.keys);
    P2L_VEC_FREE(&p.open);
    P2L_VEC_FREE(&p.hash_slots);
    if (status == P2L_OK) *out = root;
    return status;
}

const p2l_json *p2l_json_get(const p2l_json *obj, const char *key) {
    if (!obj || obj->type != P2L_JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < obj->length; i++) {
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    }
    return NULL;
}

bool p2l_json_number(const p2l_json *v, double *out) {
    if (!v) return false;
    double value;
    if (v->type == P2L_JSON_NUMBER) {
        value = v->number;
    } else if (v->type == P2L_JSON_STRING && strcmp(v->string, "Infinity") == 0) {
        value = INFINITY;
    } else if (v->type == P2L_JSON_STRING && strcmp(v->string, "-Infinity") == 0) {
        value = -INFINITY;
    } else if (v->type == P2L_JSON_STRING && strcmp(v->string, "NaN") == 0) {
        value = NAN;
    } else {
        return false;
    }
    if (out) *out = value;
    return true;
}
