/* Minimal unit-test harness for the C tests: each test file is one executable run by ctest.
 *
 *   static void test_x(void) { CHECK(1 + 1 == 2); CHECK_EQ_INT(f(), 3); }
 *   int main(void) { RUN(test_x); return check_summary(); }
 */
#ifndef P2L_TESTS_CHECK_H
#define P2L_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        check_count++;                                                                \
        if (!(cond)) {                                                                \
            check_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                          \
    do {                                                                                            \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                             \
        check_count++;                                                                              \
        if (check_a_ != check_b_) {                                                                 \
            check_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", __FILE__, \
                    __LINE__, #a, check_a_, #b, check_b_);                                          \
        }                                                                                           \
    } while (0)

/* The error message of the last failed call contains `needle`. */
#define CHECK_ERROR_MENTIONS(needle) CHECK(strstr(p2l_last_error(), (needle)) != NULL)

#define RUN(test)                        \
    do {                                 \
        int before_ = check_failures;    \
        test();                          \
        fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #test); \
    } while (0)

static inline int check_summary(void) {
    printf("%d passed, %d failed\n", check_count - check_failures, check_failures);
    return check_failures ? 1 : 0;
}

#endif
