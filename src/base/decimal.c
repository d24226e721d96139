/* Decimal -> double, correctly rounded (see decimal.h).
 *
 * Fast path (Clinger): when the decimal significand fits 53 bits and the power of ten is exact
 * in a double (10^0..10^22), one multiplication or division gives the correctly rounded result.
 * Otherwise: estimate the result in double arithmetic (a few ulps off), then walk it one ulp at a
 * time, deciding each step by comparing the exact decimal value with the exact halfway point
 * between neighbouring doubles in big-integer arithmetic. */
#include "base/decimal.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Enough significant digits to decide every rounding: the halfway point between two doubles has at
 * most 767 significant decimal digits, so digits beyond 768 only matter as "something nonzero". */
enum { MAX_DIGITS = 780 };

/* Little-endian 32-bit limbs. Sizes stay below ~2700 bits: the decimal significand has at most
 * MAX_DIGITS + 1 digits (< 2600 bits) and both sides of a comparison are within a few bits of each
 * other (an estimate and its neighbour compared against the same value). 160 limbs = 5120 bits. */
enum { BIG_LIMBS = 160 };
typedef struct big {
    uint32_t limb[BIG_LIMBS];
    size_t len;    /* limbs in use; limb[len - 1] != 0 unless len == 0 */
    bool overflow; /* never expected; if set, the caller falls back to its estimate */
} big;

static void big_set_u64(big *b, uint64_t v) {
    b->len = 0;
    b->overflow = false;
    while (v) {
        b->limb[b->len++] = (uint32_t)v;
        v >>= 32;
    }
}

/* b = b * factor + addend */
static void big_mul_small(big *b, uint32_t factor, uint32_t addend) {
    uint64_t carry = addend;
    for (size_t i = 0; i < b->len; i++) {
        uint64_t t = (uint64_t)b->limb[i] * factor + carry;
        b->limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry) {
        if (b->len == BIG_LIMBS) {
            b->overflow = true;
            return;
        }
        b->limb[b->len++] = (uint32_t)carry;
    }
}

static void big_mul(big *out, const big *a, const big *b) {
    memset(out, 0, sizeof *out);
    out->overflow = a->overflow || b->overflow;
    if (a->len == 0 || b->len == 0) return;
    if (a->len + b->len > BIG_LIMBS) {
        out->overflow = true;
        return;
    }
    for (size_t i = 0; i < a->len; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < b->len; j++) {
            uint64_t t = (uint64_t)a->limb[i] * b->limb[j] + out->limb[i + j] + carry;
            out->limb[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        out->limb[i + b->len] = (uint32_t)carry;
    }
    out->len = a->len + b->len;
    while (out->len && out->limb[out->len - 1] == 0) out->len--;
}

static void big_shift_left(big *b, uint64_t bits) {
    if (b->len == 0 || bits == 0) return;
    size_t limbs = (size_t)(bits / 32), rest = (size_t)(bits % 32);
    if (bits / 32 >= BIG_LIMBS || b->len + limbs + 1 > BIG_LIMBS) {
        b->overflow = true;
        return;
    }
    b->limb[b->len + limbs] = 0;
    for (size_t i = b->len; i-- > 0;) {
        uint64_t t = (uint64_t)b->limb[i] << rest;
        b->limb[i + limbs + 1] |= (uint32_t)(t >> 32);
        b->limb[i + limbs] = (uint32_t)t;
    }
    memset(b->limb, 0, limbs * sizeof b->limb[0]);
    b->len += limbs + 1;
    while (b->len && b->limb[b->len - 1] == 0) b->len--;
}

static int big_compare(const big *a, const big *b) {
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    for (size_t i = a->len; i-- > 0;) {
        if (a->limb[i] != b->limb[i]) return a->limb[i] < b->limb[i] ? -1 : 1;
    }
    return 0;
}

static void big_pow5(big *b, uint64_t exponent) {
    big_set_u64(b, 1);
    for (; exponent >= 13 && !b->overflow; exponent -= 13) big_mul_small(b, 1220703125u, 0); /* 5^13 */
    uint32_t rest = 1;
    while (exponent--) rest *= 5;
    big_mul_small(b, rest, 0);
}

static void big_from_digits(big *b, const char *digits, size_t count) {
    big_set_u64(b, 0);
    for (size_t i = 0; i < count;) {
        uint32_t chunk = 0, scale = 1;
        for (size_t k = 0; k < 9 && i < count; k++, i++) {
            chunk = chunk * 10 + (uint32_t)(digits[i] - '0');
            scale *= 10;
        }
        big_mul_small(b, scale, chunk);
    }
}

static const double exact_powers_of_ten[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* x * 10^e in double arithmetic: a few roundings, so a few ulps off at worst. Multiplying only
 * grows and dividing only shrinks the value, so no intermediate step under- or overflows early. */
static double scale_by_power_of_ten(double x, int64_t e) {
    for (; e > 22; e -= 22) x *= 1e22;
    for (; e < -22; e += 22) x /= 1e22;
    return e >= 0 ? x * exact_powers_of_ten[e] : x / exact_powers_of_ten[-e];
}

static uint64_t double_bits(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

static double bits_double(uint64_t bits) {
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* Compares digits * 10^e10 with a point between two positive doubles next to x: the halfway point
 * above x (upper) or below x. d_times_pow5 is digits * 5^e10 when e10 >= 0; pow5 is 5^|e10|. */
static int compare_with_halfway(const big *digits, const big *d_times_pow5, const big *pow5, int64_t e10, double x,
                                bool upper) {
    uint64_t bits = double_bits(x);
    uint64_t exponent_field = bits >> 52, fraction = bits & ((UINT64_C(1) << 52) - 1);
    uint64_t m = exponent_field ? fraction | (UINT64_C(1) << 52) : fraction;
    int64_t b = exponent_field ? (int64_t)exponent_field - 1075 : -1074; /* x = m * 2^b */
    uint64_t h;                                                          /* halfway = h * 2^f */
    int64_t f;
    if (upper) {
        h = 2 * m + 1, f = b - 1;
    } else if (fraction == 0 && exponent_field > 1) {
        h = 4 * m - 1, f = b - 2; /* x is a power of two: the gap below it is half the gap above */
    } else {
        h = 2 * m - 1, f = b - 1;
    }
    /* value = digits * 5^e10 * 2^e10 */
    big left, right, halfway;
    big_set_u64(&halfway, h);
    if (e10 >= 0) {
        left = *d_times_pow5;
        right = halfway;
    } else {
        left = *digits;
        big_mul(&right, &halfway, pow5);
    }
    if (e10 > f) big_shift_left(&left, (uint64_t)(e10 - f));
    if (f > e10) big_shift_left(&right, (uint64_t)(f - e10));
    if (left.overflow || right.overflow) return 0;
    return big_compare(&left, &right);
}

static double refine_estimate(const char *digits, size_t count, int64_t e10, double x) {
    big d, pow5, d_times_pow5;
    big_from_digits(&d, digits, count);
    big_pow5(&pow5, (uint64_t)(e10 < 0 ? -e10 : e10));
    if (e10 >= 0) big_mul(&d_times_pow5, &d, &pow5);
    if (d.overflow || pow5.overflow || (e10 >= 0 && d_times_pow5.overflow)) return x;
    for (int step = 0; step < 10000; step++) {
        uint64_t bits = double_bits(x);
        int above = compare_with_halfway(&d, &d_times_pow5, &pow5, e10, x, true);
        if (above > 0) {
            x = bits_double(bits + 1); /* may become infinity: the value is past DBL_MAX's half ulp */
            if (isinf(x)) return x;
            continue;
        }
        if (above == 0) return (bits & 1) ? bits_double(bits + 1) : x; /* tie: round to even */
        if (bits == 0) return x;
        int below = compare_with_halfway(&d, &d_times_pow5, &pow5, e10, x, false);
        if (below < 0) {
            x = bits_double(bits - 1);
            continue;
        }
        if (below == 0) return (bits & 1) ? bits_double(bits - 1) : x;
        return x;
    }
    return x;
}

double p2l_decimal_to_double(const char *int_digits, size_t int_count, const char *frac_digits, size_t frac_count,
                             int64_t exponent) {
    char digits[MAX_DIGITS + 1];
    size_t count = 0;
    int64_t e10 = exponent; /* value = digits * 10^e10 */
    bool truncated_nonzero = false;
    for (size_t i = 0; i < int_count; i++) {
        char c = int_digits[i];
        if (count == 0 && c == '0') continue;
        if (count < MAX_DIGITS) {
            digits[count++] = c;
        } else {
            e10++;
            truncated_nonzero |= c != '0';
        }
    }
    for (size_t i = 0; i < frac_count; i++) {
        char c = frac_digits[i];
        if (count == 0 && c == '0') {
            e10--;
        } else if (count < MAX_DIGITS) {
            digits[count++] = c;
            e10--;
        } else {
            truncated_nonzero |= c != '0';
        }
    }
    if (count == 0) return 0.0;
    if (truncated_nonzero) {
        /* A trailing 1 stands for the nonzero tail: it keeps the value off every halfway point. */
        digits[count++] = '1';
        e10--;
    } else {
        while (digits[count - 1] == '0') count--, e10++;
    }

    int64_t leading_exponent = e10 + (int64_t)count - 1; /* 10^leading <= value < 10^(leading+1) */
    if (leading_exponent > 309) return HUGE_VAL;
    if (leading_exponent < -325) return 0.0; /* below half the smallest subnormal */

    uint64_t significand = 0;
    size_t used = count < 19 ? count : 19;
    for (size_t i = 0; i < used; i++) significand = significand * 10 + (uint64_t)(digits[i] - '0');
    if (used == count) {
        if (e10 == 0) return (double)significand;
        if (significand <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
            return e10 > 0 ? (double)significand * exact_powers_of_ten[e10]
                           : (double)significand / exact_powers_of_ten[-e10];
        }
    }
    double estimate = scale_by_power_of_ten((double)significand, e10 + (int64_t)(count - used));
    if (isinf(estimate)) estimate = DBL_MAX;
    return refine_estimate(digits, count, e10, estimate);
}
