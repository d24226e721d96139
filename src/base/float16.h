/* IEEE half precision (float16) and bfloat16 <-> float32, in portable C.
 *
 * float16 -> float32 and bfloat16 -> float32 are exact. float32 -> float16 rounds to nearest, ties to
 * even (what F16C's _cvtps_ph, numpy and PyTorch do): values beyond the float16 range become +-inf,
 * tiny ones subnormals or +-0, NaN stays a (quiet) NaN with its sign. One definition for the
 * converter (weights stored as float16) and the runtime (CAST, DEQUANTIZE). */
#ifndef P2L_BASE_FLOAT16_H
#define P2L_BASE_FLOAT16_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline float p2l_f32_of_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t p2l_bits_of_f32(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static inline float p2l_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return p2l_f32_of_bits(sign | 0x7f800000u | (mantissa << 13)); /* inf, NaN */
    if (exponent == 0) { /* zero or subnormal: mantissa * 2^-24, exact in float32 */
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    return p2l_f32_of_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

static inline uint16_t p2l_f32_to_f16(float f) {
    uint32_t bits = p2l_bits_of_f32(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((magnitude >> 13) & 0x1ffu)); /* NaN */
    if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: inf */
    if (magnitude < 0x38800000u) {
        /* below the smallest normal (2^-14): a subnormal step is 2^-24; adding 0.5 (2^-1) shifts the
         * value so float32's own round-to-nearest-even lands on the right step in the low bits. */
        float shifted = p2l_f32_of_bits(magnitude) + 0.5f;
        return (uint16_t)(sign | (uint16_t)(p2l_bits_of_f32(shifted) - 0x3f000000u));
    }
    uint32_t odd = (magnitude >> 13) & 1u; /* ties to even: round up a tie only when the kept bit is odd */
    magnitude += 0xc8000fffu + odd;           /* rebias the exponent (-112 << 23) and add the rounding bias */
    return (uint16_t)(sign | (uint16_t)(magnitude >> 13));
}

static inline float p2l_bf16_to_f32(uint16_t b) { return p2l_f32_of_bits((uint32_t)b << 16); }

/* Whether float32 x survives float32 -> float16 -> float32 unchanged (NaN counts as exact). */
static inline bool p2l_f32_exact_in_f16(float x) {
    float back = p2l_f16_to_f32(p2l_f32_to_f16(x));
    return back == x || (x != x && back != back);
}

#endif
