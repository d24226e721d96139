/* AVX2 lookup of int8 values in a 256-entry table (fast.h, p2l_i8_lookup_row_fn) without gathers.
 * The table is 16 rows of 16 (row h: inputs whose byte has high nibble h). VPSHUFB looks up 16
 * entries by the index's low nibble, and gives 0 where the index byte has bit 7 set. Bytes x < 128:
 * step k = 0..7 looks up D_k = row_k ^ row_(k-1) (D_0 = row_0) at x - 16k (wrapping); for x = 16h + l
 * that index is in [0, 127] with low nibble l while k <= h, and in [0x90, 0xff] (bit 7 set, nothing)
 * once k > h, so the XOR of the steps is D_0 ^ ... ^ D_h = row_h at l. Bytes x >= 128: the same over
 * rows 8..15 on x ^ 0x80; x's sign picks the chain. 16 shuffles per 32 bytes, two vectors at a time
 * so that the chains overlap (on Zen 1: 1.6-2x a scalar loop on tensors of 16 KiB to 400 KiB). */
#include "kernels/x86/x86.h"

#include <immintrin.h>

typedef struct lookup_tables {
    __m256i low[8], high[8]; /* D_k of rows 0..7 and of rows 8..15, in both lanes */
} lookup_tables;

static void lookup_tables_of(const int8_t *table, lookup_tables *t) {
    for (int k = 0; k < 8; k++) {
        const __m128i low = _mm_loadu_si128((const __m128i *)(table + 16 * k));
        const __m128i high = _mm_loadu_si128((const __m128i *)(table + 128 + 16 * k));
        const __m128i low_before = k ? _mm_loadu_si128((const __m128i *)(table + 16 * (k - 1))) : _mm_setzero_si128();
        const __m128i high_before = k ? _mm_loadu_si128((const __m128i *)(table + 128 + 16 * (k - 1))) : _mm_setzero_si128();
        t->low[k] = _mm256_broadcastsi128_si256(_mm_xor_si128(low, low_before));
        t->high[k] = _mm256_broadcastsi128_si256(_mm_xor_si128(high, high_before));
    }
}

#define LOOKUP_STEP(k, a, ra, rb)                                                                                 \
    ra = _mm256_xor_si256(ra, _mm256_shuffle_epi8(t.low[k], a));                                                 \
    rb = _mm256_xor_si256(rb, _mm256_shuffle_epi8(t.high[k], _mm256_xor_si256(a, sign)))

void p2l_i8_lookup_row__avx2(const int8_t *table, const int8_t *in, int8_t *out, size_t n) {
    lookup_tables t;
    lookup_tables_of(table, &t);
    const __m256i sixteen = _mm256_set1_epi8(16), sign = _mm256_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(in + i));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(in + i + 32));
        __m256i a0 = x0, a1 = x1, ra0 = _mm256_setzero_si256(), rb0 = ra0, ra1 = ra0, rb1 = ra0;
        for (int k = 0; k < 8; k++) {
            LOOKUP_STEP(k, a0, ra0, rb0);
            LOOKUP_STEP(k, a1, ra1, rb1);
            a0 = _mm256_sub_epi8(a0, sixteen), a1 = _mm256_sub_epi8(a1, sixteen);
        }
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_blendv_epi8(ra0, rb0, x0));
        _mm256_storeu_si256((__m256i *)(out + i + 32), _mm256_blendv_epi8(ra1, rb1, x1));
    }
    for (; i + 32 <= n; i += 32) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(in + i));
        __m256i a = x, ra = _mm256_setzero_si256(), rb = ra;
        for (int k = 0; k < 8; k++) {
            LOOKUP_STEP(k, a, ra, rb);
            a = _mm256_sub_epi8(a, sixteen);
        }
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_blendv_epi8(ra, rb, x));
    }
    for (; i < n; i++) out[i] = table[(uint8_t)in[i]];
}
