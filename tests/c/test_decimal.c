/* Tests for the decimal -> double converter (src/base/decimal.c), called directly with split digit
 * runs. The reference is the C library's strtod (in the "C" locale: the test never calls
 * setlocale), never the code under test. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/decimal.h"
#include "check.h"

static bool same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Splits "<int>[.<frac>][e<exp>]" into the converter's arguments (each digit run copied into a
 * buffer of exactly its length, so ASan flags any read past it) and compares with strtod. */
static void check_text(const char *text) {
    const char *point = strchr(text, '.'), *e = strpbrk(text, "eE");
    size_t int_count = point ? (size_t)(point - text) : e ? (size_t)(e - text) : strlen(text);
    const char *frac = point ? point + 1 : text + int_count;
    size_t frac_count = point ? (e ? (size_t)(e - frac) : strlen(frac)) : 0;
    int64_t exponent = e ? strtoll(e + 1, NULL, 10) : 0;
    char *int_digits = malloc(int_count ? int_count : 1), *frac_digits = malloc(frac_count ? frac_count : 1);
    memcpy(int_digits, text, int_count);
    memcpy(frac_digits, frac, frac_count);
    double got = p2l_decimal_to_double(int_digits, int_count, frac_digits, frac_count, exponent);
    free(int_digits);
    free(frac_digits);
    double expected = strtod(text, NULL);
    CHECK(same_double(got, expected));
    if (!same_double(got, expected)) fprintf(stderr, "  %.80s: got %.17g, strtod gives %.17g\n", text, got, expected);
}

static void test_exact_and_fast_path(void) {
    check_text("0");
    check_text("000.000");
    check_text("1");
    check_text("0.1");
    check_text("123456789012345678");
    check_text("9007199254740992"); /* 2^53 */
    check_text("1e22");             /* the largest exact power of ten */
    check_text("1e23");             /* the first inexact one */
    check_text("123.456e-22");
    check_text("0.000001");
}

/* Halfway between two doubles, ties go to the even significand; a digit past the tie decides. */
static void test_round_half_even(void) {
    check_text("9007199254740993");  /* 2^53 + 1: tie, down to even 2^53 */
    check_text("9007199254740995");  /* 2^53 + 3: tie, up to even 2^53 + 4 */
    check_text("9007199254740993.0000000000000000000000000001"); /* just above the tie: up */
    check_text("9007199254740992.9999999999999999999999999999"); /* just below 2^53 + 1 */
    check_text("1.00000000000000011102230246251565404236316680908203125"); /* 1 + 2^-53: tie, down to 1 */
    check_text("1.00000000000000011102230246251565404236316680908203126"); /* above: up */
    check_text("1.00000000000000011102230246251565404236316680908203124"); /* below: down */
    check_text("0.3000000000000000444089209850062616169452667236328125"); /* a double exactly */
}

static void test_subnormals(void) {
    check_text("2.2250738585072014e-308");  /* DBL_MIN */
    check_text("2.2250738585072011e-308");  /* the largest subnormal */
    check_text("4.9406564584124654e-324");  /* the smallest subnormal */
    check_text("2.4703282292062327e-324");  /* below half the smallest: 0 */
    check_text("2.4703282292062328e-324");  /* above half: the smallest */
    check_text("2.47032822920623272088e-324"); /* exactly half the smallest subnormal, to 21 digits */
    check_text("1e-320");
    check_text("7.4109846876186982e-324");  /* 1.5 * the smallest: tie, up to even 2 * smallest */
    check_text("1e-400");
}

static void test_overflow(void) {
    check_text("1.7976931348623157e308");  /* DBL_MAX */
    check_text("1.7976931348623158e308");  /* rounds down to DBL_MAX */
    check_text("1.7976931348623159e308");  /* past DBL_MAX + half an ulp: infinity */
    check_text("1e309");
    check_text("1e400");
    check_text("0.0000000001e318");
}

static void test_exponents(void) {
    check_text("1e0");
    check_text("1e-0");
    check_text("1e+5");
    check_text("1e-22");
    check_text("1e-23");
    check_text("12345e-330"); /* a small significand far below 10^-308 */
    check_text("0e999999");
    check_text("1e999999");
    check_text("1e-999999");
    check_text("123456789e-300");
}

/* Longer than the 780 significant digits the converter keeps: the tail only says "nonzero". */
static void test_many_digits(void) {
    static char text[4000];
    strcpy(text, "1.");
    memset(text + 2, '0', 1000);
    strcpy(text + 1002, "1");
    check_text(text); /* just above 1 */
    strcpy(text, "0.");
    memset(text + 2, '3', 2000);
    text[2002] = 0;
    check_text(text);
    memset(text, '9', 1500);
    strcpy(text + 1500, "e-1200");
    check_text(text);
    /* 1 + 2^-53 (a tie) written exactly, then 1000 zeros and a 1: above the tie, rounds up */
    strcpy(text, "1.00000000000000011102230246251565404236316680908203125");
    size_t n = strlen(text);
    memset(text + n, '0', 1000);
    strcpy(text + n + 1000, "1");
    check_text(text);
    /* the same tie with 1000 trailing zeros only: still a tie, rounds to even */
    text[n + 1000] = 0;
    check_text(text);
}

/* Random digit strings with random exponents, compared with strtod. */
static void test_random_against_strtod(void) {
    uint64_t state = 0x2545F4914F6CDD1Du;
    char text[128];
    for (int i = 0; i < 5000; i++) {
        size_t n = 0;
        int digits = 1 + (int)(state % 30);
        for (int d = 0; d < digits; d++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            text[n++] = (char)('0' + state % 10);
            if (d == digits / 2) text[n++] = '.';
        }
        snprintf(text + n, sizeof text - n, "e%d", (int)(state % 660) - 340);
        check_text(text);
    }
}

int main(void) {
    RUN(test_exact_and_fast_path);
    RUN(test_round_half_even);
    RUN(test_subnormals);
    RUN(test_overflow);
    RUN(test_exponents);
    RUN(test_many_digits);
    RUN(test_random_against_strtod);
    return check_summary();
}
