/* Hybrid FULLY_CONNECTED micro-kernels (fast.h: p2l_hybrid_i8_dot_fn, p2l_hybrid_i4_dot_fn), AVX2.
 * The weights are read as the file stores them, 4 rows (output channels) at a time, so every input
 * load serves 4 channels, and each row of the input is reused while the 4 weight rows stay in L1.
 * int8: 16 weights sign-extended to int16 and multiplied with vpmaddwd (exact for every int8 value).
 * int4: 16 bytes (32 weights) per row and step; their nibbles, xor 8 (so 0..15, the weight plus 8),
 * widened to int16: the low nibbles meet the chunk's even-indexed inputs, the high ones its odd ones
 * (the driver lays the input out so); the + 8 comes off per block as 8 x the block's input sum.
 * This file is compiled without -mfma (CMakeLists.txt), so the block scaling's multiply and add
 * cannot be contracted into one rounding: it rounds as the reference kernel does. */
#include <immintrin.h>

#include "kernels/x86/x86.h"

/* The weights are streamed once (batch 1: memory-bound); each group of 4 rows is only a few KB, too
 * short for the hardware prefetcher to ramp up, so the loops prefetch the rows this far ahead (in
 * rows: the same place in the group after the next). Prefetches past the end do not fault. */
enum { AHEAD = 2 * P2L_HYBRID_UNITS };

/* The 4 int32 sums of 4 vectors of 8 partial sums each. */
static inline __m128i sum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    const __m256i abcd = _mm256_hadd_epi32(ab, cd); /* a b c d (low half) | a b c d (high half) */
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* The 4 weight rows: rows past nu repeat the last real one. */
#define WEIGHT_ROWS(T, rows_, w, ldw, nu)                                                       \
    const T *rows_[P2L_HYBRID_UNITS];                                                           \
    for (int j_ = 0; j_ < P2L_HYBRID_UNITS; j_++) rows_[j_] = (w) + (size_t)(j_ < (nu) ? j_ : (nu) - 1) * (ldw)

void p2l_hybrid_i8_dot__avx2(const int16_t *x, size_t rows, size_t k, const int8_t *w, size_t ldw, int nu,
                             int32_t *dots) {
    WEIGHT_ROWS(int8_t, wr, w, ldw, nu);
    for (size_t r = 0; r < rows; r++) {
        const int16_t *xr = x + r * k;
        __m256i acc[P2L_HYBRID_UNITS] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                         _mm256_setzero_si256()};
        size_t kk = 0;
        for (; kk + 16 <= k; kk += 16) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(xr + kk));
            for (int j = 0; j < P2L_HYBRID_UNITS; j++) {
                _mm_prefetch((const char *)(wr[j] + kk + AHEAD * ldw), _MM_HINT_T0);
                const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wr[j] + kk)));
                acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(wv, xv));
            }
        }
        int32_t out[P2L_HYBRID_UNITS];
        _mm_storeu_si128((__m128i *)out, sum4(acc[0], acc[1], acc[2], acc[3]));
        for (int j = 0; j < P2L_HYBRID_UNITS; j++) {
            uint32_t tail = (uint32_t)out[j]; /* wraps as int32 sums do */
            for (size_t t = kk; t < k; t++) tail += (uint32_t)((int32_t)xr[t] * wr[j][t]);
            if (j < nu) dots[r * P2L_HYBRID_UNITS + (size_t)j] = (int32_t)tail;
        }
    }
}

void p2l_hybrid_i4_dot__avx2(const int16_t *x, const int32_t *xsum, size_t rows, size_t k, size_t block,
                             const uint8_t *w, size_t ldw, int nu, const float *scales, float *sums) {
    WEIGHT_ROWS(uint8_t, wr, w, ldw, nu);
    const size_t blocks = k / block;
    const __m128i flip = _mm_set1_epi8((char)0x88);
    const __m256i low = _mm256_set1_epi16(0x0f);
    for (size_t r = 0; r < rows; r++) {
        const int16_t *xr = x + r * k;
        __m128 total = _mm_setzero_ps();
        for (size_t b = 0; b < blocks; b++) {
            __m256i acc[P2L_HYBRID_UNITS] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                             _mm256_setzero_si256()};
            for (size_t c = b * block; c < (b + 1) * block; c += 32) {
                const __m256i even = _mm256_loadu_si256((const __m256i *)(xr + c));
                const __m256i odd = _mm256_loadu_si256((const __m256i *)(xr + c + 16));
                for (int j = 0; j < P2L_HYBRID_UNITS; j++) {
                    _mm_prefetch((const char *)(wr[j] + c / 2 + AHEAD * ldw), _MM_HINT_T0);
                    const __m128i bytes = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(wr[j] + c / 2)), flip);
                    const __m256i v = _mm256_cvtepu8_epi16(bytes);
                    const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_srli_epi16(v, 4);
                    acc[j] = _mm256_add_epi32(acc[j], _mm256_add_epi32(_mm256_madd_epi16(lo, even),
                                                                       _mm256_madd_epi16(hi, odd)));
                }
            }
            /* sum of (w + 8) * x, less 8 x the block's input sum: the exact int32 dot of the block */
            const __m128i offset = _mm_set1_epi32((int32_t)((uint32_t)xsum[r * blocks + b] << 3));
            const __m128i dot = _mm_sub_epi32(sum4(acc[0], acc[1], acc[2], acc[3]), offset);
            const __m128 product = _mm_mul_ps(_mm_cvtepi32_ps(dot), _mm_loadu_ps(scales + b * P2L_HYBRID_UNITS));
            total = _mm_add_ps(total, product);
        }
        float out[P2L_HYBRID_UNITS];
        _mm_storeu_ps(out, total);
        for (int j = 0; j < nu; j++) sums[r * P2L_HYBRID_UNITS + (size_t)j] = out[j];
    }
}

/* ------------------------------------------------------------ one input row (decode)
 * Memory-bound: a weight byte must cost few instructions. int8: 32 weights per row and step meet the
 * row's magnitudes |x| (u8) with vpmaddubsw, the weights' signs flipped where x is negative
 * (vpsignb: w * sign(x), 0 where x is 0), so each pair sum |x0 w0 + x1 w1| <= 2 * 128 * 127 fits
 * int16 (why the weights must not hold -128); vpmaddwd by ones widens the pairs to int32.
 * The channels are read one after the other, each row whole, so the weights are one sequential
 * stream (4 rows read side by side were 15-35% slower on Zen 1: docs/generative.md), prefetched
 * I8_GEMV_AHEAD bytes ahead with the non-temporal hint (read once per step: they should not push the
 * cache and the activations out of L2/L3; measured a few % faster than T0 on the 117M Llama); x (L1) is
 * reloaded per row, and 4 rows share one horizontal sum. */
enum { I8_GEMV_AHEAD = 4096 };

void p2l_hybrid_i8_gemv__avx2(const int8_t *x, const uint8_t *x_abs, size_t k, const int8_t *w, size_t ldw,
                              size_t units, int32_t *dots) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t u0 = 0; u0 < units; u0 += P2L_HYBRID_UNITS) {
        const int nu = units - u0 < P2L_HYBRID_UNITS ? (int)(units - u0) : P2L_HYBRID_UNITS;
        __m256i acc[P2L_HYBRID_UNITS] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                         _mm256_setzero_si256()};
        for (int j = 0; j < nu; j++) {
            const int8_t *wr = w + (u0 + (size_t)j) * ldw;
            __m256i sum = _mm256_setzero_si256();
            size_t kk = 0;
            for (; kk + 64 <= k; kk += 64) { /* one cache line per step: one prefetch */
                _mm_prefetch((const char *)(wr + kk + I8_GEMV_AHEAD), _MM_HINT_NTA);
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wr + kk));
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wr + kk + 32));
                const __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + kk));
                const __m256i x1 = _mm256_loadu_si256((const __m256i *)(x + kk + 32));
                const __m256i a0 = _mm256_loadu_si256((const __m256i *)(x_abs + kk));
                const __m256i a1 = _mm256_loadu_si256((const __m256i *)(x_abs + kk + 32));
                const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(w0, x0)), ones);
                const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(w1, x1)), ones);
                sum = _mm256_add_epi32(sum, _mm256_add_epi32(p0, p1));
            }
            if (kk + 32 <= k) {
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wr + kk));
                const __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + kk));
                const __m256i a0 = _mm256_loadu_si256((const __m256i *)(x_abs + kk));
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(w0, x0)), ones));
            }
            acc[j] = sum;
        }
        int32_t out[P2L_HYBRID_UNITS];
        _mm_storeu_si128((__m128i *)out, sum4(acc[0], acc[1], acc[2], acc[3]));
        const size_t vectorized = k / 32 * 32;
        for (int j = 0; j < nu; j++) {
            const int8_t *wr = w + (u0 + (size_t)j) * ldw;
            uint32_t tail = (uint32_t)out[j]; /* wraps as int32 sums do */
            for (size_t t = vectorized; t < k; t++) tail += (uint32_t)((int32_t)x[t] * wr[t]);
            dots[u0 + (size_t)j] = (int32_t)tail;
        }
    }
}

/* int4: 32 bytes (64 weights) per row and step, their nibbles xor 8 (n = w + 8, 0..15) as the u8
 * side of vpmaddubsw against the row's q (s8): low nibbles meet the chunk's even-indexed values,
 * high ones its odd ones. Pair sums are at most 2 * 15 * 128 = 3840, so 4 steps of two of them add
 * up in int16 before vpmaddwd widens them. Per block, sum(q - zp) w = sum q n - 8 sum q - zp sum w
 * (x_terms, w_sums): the exact int32 dot, then scaled in block order as the reference does. */
static inline __m128i int4_block_dot(__m128i raw, int32_t x_term, int32_t zero_point, const int16_t *w_sums) {
    const __m128i w_sum = _mm_cvtepi16_epi32(_mm_loadl_epi64((const __m128i *)w_sums));
    return _mm_sub_epi32(_mm_sub_epi32(raw, _mm_set1_epi32(x_term)), _mm_mullo_epi32(_mm_set1_epi32(zero_point), w_sum));
}

/* 64 int4 weights of one row against the chunk's even / odd values: 16 int16 sums of 4 products. */
static inline __m256i int4_step(const uint8_t *w, __m256i even, __m256i odd) {
    const __m256i flip = _mm256_set1_epi8((char)0x88), low = _mm256_set1_epi8(0x0f);
    const __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)w), flip);
    const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi16(_mm256_maddubs_epi16(lo, even), _mm256_maddubs_epi16(hi, odd));
}

void p2l_hybrid_i4_gemv__avx2(const int8_t *x, const int32_t *x_terms, int32_t zero_point, size_t k, size_t block,
                              const uint8_t *w, size_t ldw, size_t units, const int16_t *w_sums, const float *scales,
                              float *sums) {
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t blocks = k / block;
    for (size_t u0 = 0; u0 < units; u0 += P2L_HYBRID_UNITS) {
        const int nu = units - u0 < P2L_HYBRID_UNITS ? (int)(units - u0) : P2L_HYBRID_UNITS;
        WEIGHT_ROWS(uint8_t, wr, w + u0 * ldw, ldw, nu);
        const int16_t *gs = w_sums + u0 * blocks;
        const float *gscale = scales + u0 * blocks;
        __m128 total = _mm_setzero_ps();
        if (block == 32) { /* two blocks per step: the low 128 bits are block b, the high ones b + 1 */
            for (size_t b = 0; b < blocks; b += 2) {
                const size_t c = b * 32;
                const __m256i even = _mm256_loadu_si256((const __m256i *)(x + c));
                const __m256i odd = _mm256_loadu_si256((const __m256i *)(x + c + 32));
                __m256i acc[P2L_HYBRID_UNITS];
                for (int j = 0; j < P2L_HYBRID_UNITS; j++) {
                    _mm_prefetch((const char *)(wr[j] + c / 2 + AHEAD * ldw), _MM_HINT_T0);
                    acc[j] = _mm256_madd_epi16(int4_step(wr[j] + c / 2, even, odd), ones);
                }
                const __m256i ab = _mm256_hadd_epi32(acc[0], acc[1]), cd = _mm256_hadd_epi32(acc[2], acc[3]);
                const __m256i raw = _mm256_hadd_epi32(ab, cd); /* 4 channels of block b | of block b + 1 */
                const __m256 s = _mm256_loadu_ps(gscale + b * P2L_HYBRID_UNITS);
                const __m128i d0 = int4_block_dot(_mm256_castsi256_si128(raw), x_terms[b], zero_point,
                                                  gs + b * P2L_HYBRID_UNITS);
                const __m128i d1 = int4_block_dot(_mm256_extracti128_si256(raw, 1), x_terms[b + 1], zero_point,
                                                  gs + (b + 1) * P2L_HYBRID_UNITS);
                total = _mm_add_ps(total, _mm_mul_ps(_mm_cvtepi32_ps(d0), _mm256_castps256_ps128(s)));
                total = _mm_add_ps(total, _mm_mul_ps(_mm_cvtepi32_ps(d1), _mm256_extractf128_ps(s, 1)));
            }
        } else { /* block: a multiple of 64 */
            for (size_t b = 0; b < blocks; b++) {
                __m256i acc[P2L_HYBRID_UNITS] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                                                 _mm256_setzero_si256(), _mm256_setzero_si256()};
                for (size_t c = b * block; c < (b + 1) * block; c += 4 * 64) {
                    const size_t end = c + 4 * 64 < (b + 1) * block ? c + 4 * 64 : (b + 1) * block;
                    __m256i part[P2L_HYBRID_UNITS] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                                                      _mm256_setzero_si256(), _mm256_setzero_si256()};
                    for (size_t cc = c; cc < end; cc += 64) {
                        const __m256i even = _mm256_loadu_si256((const __m256i *)(x + cc));
                        const __m256i odd = _mm256_loadu_si256((const __m256i *)(x + cc + 32));
                        for (int j = 0; j < P2L_HYBRID_UNITS; j++) {
                            _mm_prefetch((const char *)(wr[j] + cc / 2 + AHEAD * ldw), _MM_HINT_T0);
                            part[j] = _mm256_add_epi16(part[j], int4_step(wr[j] + cc / 2, even, odd));
                        }
                    }
                    for (int j = 0; j < P2L_HYBRID_UNITS; j++)
                        acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(part[j], ones));
                }
                const __m128i d = int4_block_dot(sum4(acc[0], acc[1], acc[2], acc[3]), x_terms[b], zero_point,
                                                 gs + b * P2L_HYBRID_UNITS);
                total = _mm_add_ps(total, _mm_mul_ps(_mm_cvtepi32_ps(d), _mm_loadu_ps(gscale + b * P2L_HYBRID_UNITS)));
            }
        }
        float out[P2L_HYBRID_UNITS];
        _mm_storeu_ps(out, total);
        for (int j = 0; j < nu; j++) sums[u0 + (size_t)j] = out[j];
    }
}
