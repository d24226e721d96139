/* Tests for the strict JSON parser (src/base/json.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "check.h"

static p2l_arena arena;

/* Parses a copy of text[0..len) in a buffer of exactly len bytes, so ASan flags any read past it. */
static p2l_status parse_bytes(const char *text, size_t len, const p2l_json_limits *limits, p2l_json **out) {
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    p2l_json *root = NULL;
    p2l_status status = p2l_json_parse(copy, len, limits, "test.json", &arena, &root);
    free(copy);
    if (out) *out = root;
    return status;
}

static p2l_json *parse_ok(const char *text) {
    p2l_json *root = NULL;
    p2l_status status = parse_bytes(text, strlen(text), NULL, &root);
    if (status != P2L_OK) fprintf(stderr, "unexpected failure on %s: %s\n", text, p2l_last_error());
    CHECK_EQ_INT(status, P2L_OK);
    return root;
}

/* Parsing must fail with `status` and a message containing `needle`. */
static void expect_failure(const char *text, size_t len, p2l_status status, const char *needle) {
    p2l_status got = parse_bytes(text, len, NULL, NULL);
    CHECK_EQ_INT(got, status);
    if (got != status || !strstr(p2l_last_error(), needle)) {
        fprintf(stderr, "  input: %.60s\n  message: %s\n  expected mention: %s\n", text, p2l_last_error(), needle);
    }
    CHECK_ERROR_MENTIONS(needle);
    CHECK_ERROR_MENTIONS("byte offset");
}

static void malformed(const char *text, const char *needle) { expect_failure(text, strlen(text), P2L_ERROR_MALFORMED, needle); }

static bool same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------------------------------ valid documents */

static void test_scalars(void) {
    p2l_json *v = parse_ok("null");
    CHECK(v && v->type == P2L_JSON_NULL);
    v = parse_ok(" true ");
    CHECK(v && v->type == P2L_JSON_BOOL && v->boolean);
    CHECK(v && v->offset == 1);
    v = parse_ok("false");
    CHECK(v && v->type == P2L_JSON_BOOL && !v->boolean);
    v = parse_ok("\"\"");
    CHECK(v && v->type == P2L_JSON_STRING && v->length == 0 && v->string && v->string[0] == 0);
    v = parse_ok("\t\r\n 42 \n");
    CHECK(v && v->type == P2L_JSON_NUMBER && v->is_integer && v->integer == 42 && v->number == 42.0);
}

static void test_nested_document(void) {
    const char *text = "{\n"
                       "  \"name\": \"conv\",\n"
                       "  \"z\": [1, -2.5, true, null, [], {}, [[\"deep\"]]],\n"
                       "  \"a\": {\"x\": {\"y\": false}},\n"
                       "  \"empty\": \"\"\n"
                       "}";
    p2l_json *root = parse_ok(text);
    if (!root) return;
    CHECK_EQ_INT(root->type, P2L_JSON_OBJECT);
    CHECK_EQ_INT(root->length, 4);
    /* Key order is the document's, not sorted. */
    CHECK(strcmp(root->keys[0], "name") == 0 && strcmp(root->keys[1], "z") == 0);
    CHECK(strcmp(root->keys[2], "a") == 0 && strcmp(root->keys[3], "empty") == 0);

    const p2l_json *name = p2l_json_get(root, "name");
    CHECK(name && name->type == P2L_JSON_STRING && strcmp(name->string, "conv") == 0 && name->length == 4);
    CHECK(name && name->offset == (size_t)(strstr(text, "\"conv\"") - text));

    const p2l_json *z = p2l_json_get(root, "z");
    CHECK(z && z->type == P2L_JSON_ARRAY && z->length == 7);
    if (z && z->length == 7) {
        CHECK(z->items[0].is_integer && z->items[0].integer == 1);
        CHECK(!z->items[1].is_integer && z->items[1].number == -2.5);
        CHECK(z->items[2].type == P2L_JSON_BOOL && z->items[2].boolean);
        CHECK(z->items[3].type == P2L_JSON_NULL);
        CHECK(z->items[4].type == P2L_JSON_ARRAY && z->items[4].length == 0);
        CHECK(z->items[5].type == P2L_JSON_OBJECT && z->items[5].length == 0);
        CHECK(z->items[6].type == P2L_JSON_ARRAY && z->items[6].length == 1);
        const p2l_json *inner = &z->items[6].items[0];
        CHECK(inner->type == P2L_JSON_ARRAY && inner->length == 1 && strcmp(inner->items[0].string, "deep") == 0);
        CHECK(z->items[6].offset == (size_t)(strstr(text, "[[") - text));
    }
    const p2l_json *y = p2l_json_get(p2l_json_get(p2l_json_get(root, "a"), "x"), "y");
    CHECK(y && y->type == P2L_JSON_BOOL && !y->boolean);
    CHECK(p2l_json_get(root, "missing") == NULL);
    CHECK(p2l_json_get(root, "nam") == NULL);
    CHECK(p2l_json_get(z, "name") == NULL); /* not an object */
    CHECK(p2l_json_get(NULL, "name") == NULL);
}

static void test_string_escapes(void) {
    p2l_json *v = parse_ok("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"");
    CHECK(v && strcmp(v->string, "q\" b\\ s/ \b\f\n\r\t") == 0);
    CHECK(v && v->length == strlen("q\" b\\ s/ \b\f\n\r\t"));

    v = parse_ok("\"\\u0041\\u00e9\\u20AC\\u07ff\\uFFFF\"");
    CHECK(v && strcmp(v->string, "A\xc3\xa9\xe2\x82\xac\xdf\xbf\xef\xbf\xbf") == 0);

    /* Surrogate pairs: U+1F600 and U+10FFFF, the highest code point. */
    v = parse_ok("\"\\uD83D\\uDE00|\\udbff\\udfff\"");
    CHECK(v && strcmp(v->string, "\xf0\x9f\x98\x80|\xf4\x8f\xbf\xbf") == 0);
    CHECK(v && v->length == 9);

    /* Raw UTF-8 passes through unchanged: 2, 3 and 4 byte sequences, and DEL. */
    const char *raw = "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"";
    v = parse_ok(raw);
    CHECK(v && v->length == 10 && memcmp(v->string, raw + 1, 10) == 0);

    /* Keys are decoded too. */
    v = parse_ok("{\"\\u006b\\u0065y\": 1}");
    CHECK(v && p2l_json_get(v, "key") != NULL);
}

static void test_integers(void) {
    p2l_json *v = parse_ok("[9223372036854775807, -9223372036854775808, 9223372036854775808, "
                           "-9223372036854775809, 18446744073709551616, 123456789012345678901234567890, 0, -0, "
                           "1.0, 1e2, 1E+2, -7]");
    if (!v || v->length != 12) {
        CHECK(0);
        return;
    }
    p2l_json *n = v->items;
    CHECK(n[0].is_integer && n[0].integer == INT64_MAX);
    CHECK(n[1].is_integer && n[1].integer == INT64_MIN && n[1].number == -9223372036854775808.0);
    CHECK(!n[2].is_integer && n[2].number == 9223372036854775808.0);
    CHECK(!n[3].is_integer && n[3].number == -9223372036854775808.0); /* rounds to -2^63 as a double */
    CHECK(!n[4].is_integer && n[4].number == 18446744073709551616.0);
    CHECK(!n[5].is_integer && n[5].number == 123456789012345678901234567890.0);
    CHECK(n[6].is_integer && n[6].integer == 0);
    CHECK(n[7].is_integer && n[7].integer == 0 && signbit(n[7].number));
    CHECK(!n[8].is_integer && n[8].number == 1.0);
    CHECK(!n[9].is_integer && n[9].number == 100.0);
    CHECK(!n[10].is_integer && n[10].number == 100.0);
    CHECK(n[11].is_integer && n[11].integer == -7 && n[11].number == -7.0);
}

static double parse_number_text(const char *text) {
    p2l_json *v = parse_ok(text);
    CHECK(v && v->type == P2L_JSON_NUMBER);
    return v && v->type == P2L_JSON_NUMBER ? v->number : NAN;
}

static void test_floats(void) {
    /* The compiler rounds these literals correctly, so they are an independent reference. */
    CHECK(same_double(parse_number_text("0.1"), 0.1));
    CHECK(same_double(parse_number_text("1e-05"), 1e-05));
    CHECK(same_double(parse_number_text("-2.5E-3"), -2.5e-3));
    CHECK(same_double(parse_number_text("3.141592653589793"), 3.141592653589793));
    CHECK(same_double(parse_number_text("0.30000000000000004"), 0.30000000000000004));
    CHECK(same_double(parse_number_text("1.7976931348623157e308"), 1.7976931348623157e308));
    CHECK(same_double(parse_number_text("2.2250738585072014e-308"), 2.2250738585072014e-308)); /* DBL_MIN */
    CHECK(same_double(parse_number_text("2.2250738585072011e-308"), 2.2250738585072011e-308)); /* subnormal */
    CHECK(same_double(parse_number_text("4.9406564584124654e-324"), 4.9406564584124654e-324)); /* smallest */
    CHECK(same_double(parse_number_text("-0.0"), -0.0));
    CHECK(same_double(parse_number_text("0e1000000000000"), 0.0));
    CHECK(same_double(parse_number_text("1e309"), INFINITY));
    CHECK(same_double(parse_number_text("-1e400"), -INFINITY));
    CHECK(same_double(parse_number_text("1.7976931348623159e308"), INFINITY)); /* past DBL_MAX + half ulp */
    CHECK(same_double(parse_number_text("1e-400"), 0.0));
    CHECK(same_double(parse_number_text("1e-99999999999999999999"), 0.0));
    /* Around half the smallest subnormal (2.4703282292062327208...e-324). */
    CHECK(same_double(parse_number_text("2.4703282292062327e-324"), 0.0));
    CHECK(same_double(parse_number_text("2.4703282292062328e-324"), 4.9406564584124654e-324));
    /* Ties round to even: 2^53 + 1 lies halfway between 2^53 and 2^53 + 2. */
    CHECK(same_double(parse_number_text("9007199254740993"), 9007199254740992.0));
    CHECK(same_double(parse_number_text("9007199254740993.0"), 9007199254740992.0));
    CHECK(same_double(parse_number_text("9007199254740993.00000000000000000000000000000000001"), 9007199254740994.0));
    CHECK(same_double(parse_number_text("9007199254740995"), 9007199254740996.0));
    /* Many digits: 1 followed by 1000 zeros in the fraction, then a 1, is just above 1. */
    char long_number[1100] = "1.";
    memset(long_number + 2, '0', 1000);
    strcpy(long_number + 1002, "1");
    CHECK(same_double(parse_number_text(long_number), 1.0));
    /* A long digit string that must not lose its tail: 0.1000...0001 with 900 zeros still rounds to 0.1. */
    memset(long_number, 0, sizeof long_number);
    strcpy(long_number, "0.1");
    memset(long_number + 3, '0', 900);
    strcpy(long_number + 903, "1e0");
    CHECK(same_double(parse_number_text(long_number), 0.1));
}

/* A small deterministic PRNG, so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* strtod (in the "C" locale: the test never calls setlocale) is the reference for correct rounding. */
static void check_against_strtod(const char *text, int *mismatches) {
    p2l_json *root = NULL;
    if (parse_bytes(text, strlen(text), NULL, &root) != P2L_OK || root->type != P2L_JSON_NUMBER) {
        if ((*mismatches)++ < 5) fprintf(stderr, "  failed to parse %s: %s\n", text, p2l_last_error());
        return;
    }
    double expected = strtod(text, NULL);
    if (!same_double(root->number, expected)) {
        if ((*mismatches)++ < 5) fprintf(stderr, "  %s: got %.17g, strtod gives %.17g\n", text, root->number, expected);
    }
}

static void test_numbers_match_strtod(void) {
    int mismatches = 0;
    char text[128];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = next_random();
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x)) continue;
        int precision = 1 + (int)(next_random() % 20);
        snprintf(text, sizeof text, "%.*e", precision, x);
        check_against_strtod(text, &mismatches);
        snprintf(text, sizeof text, "%.17g", x);
        if (!strchr(text, 'n')) check_against_strtod(text, &mismatches);
    }
    /* Random digit strings with random exponents cover values between doubles, not only near them. */
    for (int i = 0; i < 20000; i++) {
        int digits = 1 + (int)(next_random() % 40);
        size_t n = 0;
        text[n++] = (char)('1' + next_random() % 9);
        if (digits > 1) text[n++] = '.';
        for (int d = 1; d < digits; d++) text[n++] = (char)('0' + next_random() % 10);
        snprintf(text + n, sizeof text - n, "e%d", (int)(next_random() % 700) - 350);
        check_against_strtod(text, &mismatches);
    }
    CHECK_EQ_INT(mismatches, 0);
}

/* Writes n * 2^exp2 exactly in decimal, as "<digits>e<exp10>", with `tail` appended to the digits
 * and, if `minus_one`, the digits decremented by one unit first. Exact decimals of halfway points
 * between doubles test the correctly rounded ties, which printf of a double cannot produce. */
static void exact_decimal(uint64_t n, int exp2, bool minus_one, const char *tail, char *out, size_t size) {
    unsigned char digits[1200]; /* least significant first */
    size_t count = 0;
    do {
        digits[count++] = (unsigned char)(n % 10);
        n /= 10;
    } while (n);
    int exp10 = exp2 >= 0 ? 0 : exp2; /* n * 2^-k = n * 5^k * 10^-k */
    for (int left = exp2 >= 0 ? exp2 : -exp2; left > 0;) {
        /* Multiply by 2^k or 5^k, up to 13 factors at a time (5^13 < 2^31). */
        int k = left < 13 ? left : 13;
        uint64_t factor = 1;
        for (int j = 0; j < k; j++) factor *= exp2 >= 0 ? 2 : 5;
        left -= k;
        uint64_t carry = 0;
        for (size_t i = 0; i < count; i++) {
            uint64_t t = digits[i] * factor + carry;
            digits[i] = (unsigned char)(t % 10);
            carry = t / 10;
        }
        for (; carry; carry /= 10) digits[count++] = (unsigned char)(carry % 10);
    }
    if (minus_one) {
        for (size_t i = 0; i < count; i++) {
            if (digits[i]--) break;
            digits[i] = 9;
        }
    }
    size_t len = 0;
    for (size_t i = count; i-- > 0;) out[len++] = (char)('0' + digits[i]);
    snprintf(out + len, size - len, "%se%d", tail, exp10 - (int)strlen(tail));
}

static void test_ties_match_strtod(void) {
    static char text[1400];
    int mismatches = 0;
    for (int i = 0; i < 3000; i++) {
        /* A random finite double x = m * 2^b, and the halfway point to its upper neighbour. */
        uint64_t bits = next_random() % 0x7ff0000000000000u;
        uint64_t fraction = bits & ((UINT64_C(1) << 52) - 1);
        int exponent_field = (int)(bits >> 52);
        uint64_t m = exponent_field ? fraction | (UINT64_C(1) << 52) : fraction;
        int b = exponent_field ? exponent_field - 1075 : -1074;
        exact_decimal(2 * m + 1, b - 1, false, "", text, sizeof text);
        check_against_strtod(text, &mismatches);
        exact_decimal(2 * m + 1, b - 1, false, "000000000000000000000000000001", text, sizeof text); /* above */
        check_against_strtod(text, &mismatches);
        exact_decimal(2 * m + 1, b - 1, true, "999999999999999999999999999999", text, sizeof text); /* below */
        check_against_strtod(text, &mismatches);
        /* Just below a power of two, where the gap below is half the gap above:
         * (2^55 - 3) * 2^(k-55) lies between the two candidate halfway points. */
        int k = (int)(next_random() % 2000) - 1000;
        exact_decimal((UINT64_C(1) << 55) - 3, k - 55, false, "", text, sizeof text);
        check_against_strtod(text, &mismatches);
    }
    CHECK_EQ_INT(mismatches, 0);
    /* The digits past the 780th still decide: 2^53 + 1 (a tie) followed by 800 zeros and a 1. */
    memset(text, 0, sizeof text);
    strcpy(text, "9007199254740993.");
    memset(text + strlen(text), '0', 800);
    strcat(text, "1");
    CHECK(same_double(parse_number_text(text), 9007199254740994.0));
    text[strlen(text) - 1] = '0';
    CHECK(same_double(parse_number_text(text), 9007199254740992.0));
}

static void test_number_function(void) {
    p2l_json *root = parse_ok("[\"Infinity\", \"-Infinity\", \"NaN\", 2.5, \"infinity\", \"1.5\", null, true]");
    if (!root || root->length != 8) {
        CHECK(0);
        return;
    }
    double x = 0;
    CHECK(p2l_json_number(&root->items[0], &x) && isinf(x) && x > 0);
    CHECK(p2l_json_number(&root->items[1], &x) && isinf(x) && x < 0);
    CHECK(p2l_json_number(&root->items[2], &x) && isnan(x));
    CHECK(p2l_json_number(&root->items[3], &x) && x == 2.5);
    CHECK(!p2l_json_number(&root->items[4], &x)); /* case matters */
    CHECK(!p2l_json_number(&root->items[5], &x)); /* numbers in strings are not numbers */
    CHECK(!p2l_json_number(&root->items[6], &x));
    CHECK(!p2l_json_number(&root->items[7], &x));
    CHECK(!p2l_json_number(NULL, &x));
}

static void test_large_object(void) {
    /* 20,000 keys: duplicate detection must be fast (a quadratic scan would take seconds). */
    enum { KEYS = 20000 };
    p2l_buf text = {0};
    p2l_buf_printf(&text, "{");
    for (int i = 0; i < KEYS; i++) p2l_buf_printf(&text, "%s\"tensor_%d\": [%d]", i ? ", " : "", i, i);
    p2l_buf_printf(&text, "}");
    p2l_json *root = NULL;
    CHECK_EQ_INT(parse_bytes((const char *)text.data, text.len, NULL, &root), P2L_OK);
    CHECK(root && root->length == KEYS);
    const p2l_json *last = p2l_json_get(root, "tensor_19999");
    CHECK(last && last->type == P2L_JSON_ARRAY && last->length == 1 && last->items[0].integer == 19999);

    /* The same object with one key repeated at the end. */
    text.len--;
    p2l_buf_printf(&text, ", \"tensor_123\": 0}");
    CHECK_EQ_INT(parse_bytes((const char *)text.data, text.len, NULL, NULL), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("duplicate object key \"tensor_123\"");
    char where[64];
    snprintf(where, sizeof where, "byte offset %zu", (size_t)(strstr((const char *)text.data, "\"tensor_123\"") -
                                                              (const char *)text.data));
    CHECK_ERROR_MENTIONS(where); /* names where the first occurrence is */
    p2l_buf_free(&text);

    /* Large arrays of arrays. */
    p2l_buf_printf(&text, "[");
    for (int i = 0; i < 100000; i++) p2l_buf_printf(&text, "%s[%d,\"s%d\"]", i ? "," : "", i, i);
    p2l_buf_printf(&text, "]");
    CHECK_EQ_INT(parse_bytes((const char *)text.data, text.len, NULL, &root), P2L_OK);
    CHECK(root && root->length == 100000 && root->items[99999].items[0].integer == 99999);
    CHECK(root && strcmp(root->items[54321].items[1].string, "s54321") == 0);
    p2l_buf_free(&text);
}

/* ------------------------------------------------------------------ malformed documents */

static void test_every_prefix_fails(void) {
    /* A valid document touching every construct; every proper prefix of it must fail cleanly. */
    const char *text = "{\"a\": [1, -2.5e+3, 0, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\xc3\xa9\"],"
                       " \"b\": {\"c\": {}, \"d\": []}, \"e\": -0.125E-2, \"f\": \"\"}";
    size_t len = strlen(text);
    CHECK_EQ_INT(parse_bytes(text, len, NULL, NULL), P2L_OK);
    int wrong = 0;
    for (size_t n = 0; n < len; n++) {
        p2l_status status = parse_bytes(text, n, NULL, NULL);
        if (status != P2L_ERROR_MALFORMED || !strstr(p2l_last_error(), "byte offset")) {
            if (wrong++ < 5) fprintf(stderr, "  prefix of %zu bytes: status %d: %s\n", n, status, p2l_last_error());
        }
    }
    CHECK_EQ_INT(wrong, 0);
}

static void test_malformed_syntax(void) {
    malformed("", "expected a value, found end of input");
    malformed("   ", "expected a value");
    malformed("[1,]", "expected a value, found ']'");
    malformed("{\"a\": 1,}", "expected a string key, found '}'");
    malformed("[1 2]", "expected ',' or ']'");
    malformed("{\"a\" 1}", "expected ':'");
    malformed("{\"a\": 1 \"b\": 2}", "expected ',' or '}'");
    malformed("{a: 1}", "expected a string key");
    malformed("{1: 1}", "expected a string key");
    malformed("['x']", "expected a value, found '''");
    malformed("[1] [2]", "expected end of input after the JSON value, found '['");
    malformed("{} x", "found 'x'");
    malformed("1 2", "found '2'");
    malformed("[1] // comment", "found '/'");
    malformed("/* c */ 1", "found '/'");
    malformed("tru", "invalid literal (expected true)");
    malformed("nul", "invalid literal (expected null)");
    malformed("[nulL]", "invalid literal (expected null)");
    malformed("[falsey]", "found 'y'");
    malformed("True", "found 'T'");
    malformed("NaN", "found 'N'");
    malformed("Infinity", "found 'I'");
    malformed("[-Infinity]", "a digit after '-'");
    malformed("\xef\xbb\xbf{}", "found byte 0xef"); /* a byte order mark is not JSON */
    malformed("[1]\x0b", "found byte 0x0b");       /* vertical tab is not JSON whitespace */
    malformed("[\f1]", "found byte 0x0c");
    expect_failure("[1]\0", 4, P2L_ERROR_MALFORMED, "found byte 0x00");
    malformed("[", "expected a value, found end of input");
    malformed("{", "expected a string key, found end of input");
    malformed("]", "found ']'");
}

static void test_malformed_numbers(void) {
    malformed("01", "leading zeros");
    malformed("[-01]", "leading zeros");
    malformed("[00]", "leading zeros");
    malformed("-", "a digit after '-'");
    malformed("[- 1]", "a digit after '-'");
    malformed("+1", "found '+'");
    malformed(".5", "found '.'");
    malformed("[1.]", "a digit after the decimal point");
    malformed("[1.e5]", "a digit after the decimal point");
    malformed("[1e]", "a digit in the exponent");
    malformed("[1e+]", "a digit in the exponent");
    malformed("[0x10]", "found 'x'");
    malformed("[1.5.2]", "found '.'");
    malformed("[--1]", "a digit after '-'");
}

static void test_malformed_strings(void) {
    malformed("\"abc", "unterminated string");
    malformed("[\"a\\\"]", "unterminated string");
    malformed("\"\\x\"", "invalid escape: backslash followed by 'x'");
    malformed("\"\\U0041\"", "invalid escape");
    malformed("\"\\u12G4\"", "\\u must be followed by 4 hex digits");
    malformed("\"\\u12\"", "\\u must be followed by 4 hex digits");
    malformed("\"\\u0000\"", "NUL");
    malformed("\"\\uD800\"", "lone high surrogate");
    malformed("\"\\uD800x\"", "lone high surrogate");
    malformed("\"\\uD800\\u0041\"", "lone high surrogate");
    malformed("\"\\uD800\\uD800\"", "lone high surrogate");
    malformed("\"\\uDC00\"", "lone low surrogate");
    malformed("\"a\tb\"", "control character 0x09");
    malformed("\"a\nb\"", "control character 0x0a");
    expect_failure("\"a\0b\"", 5, P2L_ERROR_MALFORMED, "control character 0x00");
    malformed("\"\x80\"", "invalid UTF-8 (byte 0x80)");         /* lone continuation byte */
    malformed("\"\xc0\xaf\"", "invalid UTF-8 (byte 0xc0)");     /* overlong '/' */
    malformed("\"\xe0\x80\xaf\"", "invalid UTF-8");             /* overlong 3-byte */
    malformed("\"\xf0\x80\x80\xaf\"", "invalid UTF-8");         /* overlong 4-byte */
    malformed("\"\xed\xa0\x80\"", "invalid UTF-8 (byte 0xed)"); /* UTF-8-encoded surrogate */
    malformed("\"\xf4\x90\x80\x80\"", "invalid UTF-8");         /* above U+10FFFF */
    malformed("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
    malformed("\"\xff\"", "invalid UTF-8");
    malformed("\"\xc3\"", "invalid UTF-8");                     /* sequence cut by the quote */
    malformed("\"\xe2\x82\"", "invalid UTF-8");
    expect_failure("\"\xe2\x82", 3, P2L_ERROR_MALFORMED, "invalid UTF-8"); /* cut by the end of input */
    malformed("\"\\\xc3\xa9\"", "invalid");                    /* escaped non-ASCII */
}

static void test_error_location(void) {
    const char *text = "{\"a\": 1,\n \"b\": [1, 2,\n   x]}";
    CHECK_EQ_INT(parse_bytes(text, strlen(text), NULL, NULL), P2L_ERROR_MALFORMED);
    char where[64];
    snprintf(where, sizeof where, "byte offset %zu", (size_t)(strchr(text, 'x') - text));
    CHECK_ERROR_MENTIONS(where);
    CHECK_ERROR_MENTIONS("line 3, column 4");
    CHECK_ERROR_MENTIONS("test.json"); /* the document's name */
    CHECK_ERROR_MENTIONS("found 'x'");

    malformed("{\"k\": 1, \"k\": 2}", "duplicate object key \"k\" (first at byte offset 1)");
    malformed("{\"k\": 1, \"k\": 2}", "line 1, column 10 (byte offset 9)");
    malformed("[{\"a\": {\"b\": 1, \"c\": 2, \"b\": 3}}]", "duplicate object key \"b\"");
    /* Equal after decoding escapes counts as a duplicate. */
    malformed("{\"ab\": 1, \"a\\u0062\": 2}", "duplicate object key \"ab\"");
    /* Keys that differ only after a prefix, or in length, are distinct. */
    p2l_json *root = parse_ok("{\"a\": 1, \"ab\": 2, \"b\": 3, \"\": 4, \"A\": 5}");
    CHECK(root && root->length == 5);
}

static void test_depth_limit(void) {
    enum { DEEP = 10000 };
    char *text = malloc(2 * DEEP);
    for (int i = 0; i < DEEP; i++) text[i] = '[';
    for (int i = 0; i < DEEP; i++) text[DEEP + i] = ']';
    CHECK_EQ_INT(parse_bytes(text, 2 * DEEP, NULL, NULL), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_depth limit of 256");
    CHECK_ERROR_MENTIONS("byte offset 256");
    /* Unclosed: must fail with the limit too, not run off the end. */
    CHECK_EQ_INT(parse_bytes(text, DEEP, NULL, NULL), P2L_ERROR_LIMIT);

    /* Exactly 256 levels are allowed by default, 257 are not. */
    CHECK_EQ_INT(parse_bytes(text + DEEP - 256, 2 * 256, NULL, NULL), P2L_OK);
    CHECK_EQ_INT(parse_bytes(text + DEEP - 257, 2 * 257, NULL, NULL), P2L_ERROR_LIMIT);

    /* A raised limit allows all 10,000 levels without recursion on the C stack. */
    p2l_json_limits deep = {.max_depth = DEEP};
    p2l_json *root = NULL;
    CHECK_EQ_INT(parse_bytes(text, 2 * DEEP, &deep, &root), P2L_OK);
    int depth = 0;
    for (const p2l_json *v = root; v && v->type == P2L_JSON_ARRAY; v = v->length ? &v->items[0] : NULL) depth++;
    CHECK_EQ_INT(depth, DEEP);

    /* Objects count too, mixed with arrays. */
    p2l_json_limits three = {.max_depth = 3};
    CHECK_EQ_INT(parse_bytes("{\"a\": [{}]}", 11, &three, NULL), P2L_OK);
    CHECK_EQ_INT(parse_bytes("{\"a\": [{\"b\": []}]}", 18, &three, NULL), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_depth limit of 3");
    free(text);
}

static void test_size_limit(void) {
    p2l_json_limits limits = {.max_bytes = 10};
    CHECK_EQ_INT(parse_bytes("[1,2,3,45]", 10, &limits, NULL), P2L_OK);
    CHECK_EQ_INT(parse_bytes("[1,2,3,456]", 11, &limits, NULL), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_bytes limit of 10");
    CHECK_ERROR_MENTIONS("test.json");
}

static void test_bad_arguments(void) {
    p2l_json *root = NULL;
    CHECK_EQ_INT(p2l_json_parse(NULL, 3, NULL, NULL, &arena, &root), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_json_parse("1", 1, NULL, NULL, NULL, &root), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_json_parse("1", 1, NULL, NULL, &arena, NULL), P2L_ERROR_INVALID_ARGUMENT);
}

int main(void) {
    RUN(test_scalars);
    RUN(test_nested_document);
    RUN(test_string_escapes);
    RUN(test_integers);
    RUN(test_floats);
    RUN(test_numbers_match_strtod);
    RUN(test_ties_match_strtod);
    RUN(test_number_function);
    RUN(test_large_object);
    RUN(test_every_prefix_fails);
    RUN(test_malformed_syntax);
    RUN(test_malformed_numbers);
    RUN(test_malformed_strings);
    RUN(test_error_location);
    RUN(test_depth_limit);
    RUN(test_size_limit);
    RUN(test_bad_arguments);
    p2l_arena_free(&arena);
    return check_summary();
}
