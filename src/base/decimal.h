/* Decimal -> double conversion, correctly rounded (round half to even) and independent of the C
 * locale: the JSON parser's numbers go through it instead of strtod. */
#ifndef P2L_BASE_DECIMAL_H
#define P2L_BASE_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* The number int_digits[.frac_digits] * 10^exponent, correctly rounded. The digit runs hold only
 * '0'..'9' (no sign, point or exponent; either may be empty) and need no terminator. Too large a
 * value gives +HUGE_VAL (infinity), too small a value 0.0. */
double p2l_decimal_to_double(const char *int_digits, size_t int_count, const char *frac_digits, size_t frac_count,
                             int64_t exponent);

#endif
