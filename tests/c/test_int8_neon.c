/* The int8 micro-kernels of every ISA table this build has and this CPU supports (aarch64: plain
 * NEON, and NEON with SDOT where the CPU has the dot product; x86: AVX2) against sums computed here
 * from fast.h's packed layout: odd row counts, k not a multiple of the block (read in place, so the
 * kernel must not read past the row), channel counts not a multiple of the group, and the extreme
 * values (-128 x -128 everywhere, which overflows int16 if two products are added there). Then one-op
 * int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED models through the public API, the CPU's kernels
 * against P2L_KERNELS_REFERENCE, bit for bit (test_kernels_fast.c compares the drivers node by node).
 *
 * On aarch64 it also checks the run-time choice: the dot-product table is the default exactly when
 * the OS reports the instructions (the Arm ctest runs this test under qemu's default CPU, which has
 * them, and again as a Cortex-A57, which has not: there an SDOT would be an illegal instruction). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/fast/fast.h"
#include "kernels/quant_math.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"
#if defined(P2L_HAVE_ARM_KERNELS) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

static uint32_t rng_state = 777;
static int8_t random_i8(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int8_t)(rng_state >> 24);
}

/* fill: 0 random, 1 all -128, 2 alternating 127 / -128 */
static void fill_i8(int8_t *v, size_t n, int fill) {
    for (size_t i = 0; i < n; i++) v[i] = fill == 0 ? random_i8() : fill == 1 ? -128 : (i % 3 ? 127 : -128);
}

/* Packs w[n][k] as fast.h describes (groups of NR channels, blocks of KB, channel-major, zero padded). */
static int16_t *pack_i8(const int8_t *w, int n, int k, p2l_i8_gemm_b *b) {
    const int kp = (k + P2L_I8_GEMM_KB - 1) / P2L_I8_GEMM_KB * P2L_I8_GEMM_KB;
    const int groups = (n + P2L_I8_GEMM_NR - 1) / P2L_I8_GEMM_NR;
    int16_t *data = aligned_alloc(64, ((size_t)groups * P2L_I8_GEMM_NR * (size_t)kp * 2 + 63) / 64 * 64);
    memset(data, 0, (size_t)groups * P2L_I8_GEMM_NR * (size_t)kp * 2);
    for (int j = 0; j < n; j++)
        for (int kk = 0; kk < k; kk++)
            data[(size_t)(j / P2L_I8_GEMM_NR) * (size_t)kp * P2L_I8_GEMM_NR +
                 (size_t)(kk / P2L_I8_GEMM_KB) * P2L_I8_GEMM_NR * P2L_I8_GEMM_KB +
                 (size_t)(j % P2L_I8_GEMM_NR) * P2L_I8_GEMM_KB + (size_t)(kk % P2L_I8_GEMM_KB)] = w[(size_t)j * k + kk];
    *b = (p2l_i8_gemm_b){.data = data, .k = k, .kp = kp, .n = n, .groups = groups};
    return data;
}

/* padded: rows lda = kp apart, zero padded, and the kernel told k = kp (fast/int8.c's im2col rows);
 * else rows exactly k long, back to back, in a buffer of exactly m * k bytes (read in place). */
static void gemm_case(const p2l_fast_isa *isa, size_t m, int k, int n, int fill, bool padded) {
    int8_t *w = malloc((size_t)n * (size_t)k);
    fill_i8(w, (size_t)n * (size_t)k, fill);
    p2l_i8_gemm_b b;
    int16_t *packed = pack_i8(w, n, k, &b);
    const size_t lda = padded ? (size_t)b.kp : (size_t)k;
    int8_t *a = calloc(m * lda, 1);
    for (size_t r = 0; r < m; r++) fill_i8(a + r * lda, (size_t)k, fill);
    if (padded) b.k = b.kp;
    const size_t ldacc = (size_t)b.groups * P2L_I8_GEMM_NR + 3; /* not a multiple of 4: unaligned rows */
    int32_t *acc = malloc(m * ldacc * sizeof *acc);
    memset(acc, 0x5a, m * ldacc * sizeof *acc);
    isa->i8_gemm(&b, m, a, lda, acc, ldacc);
    size_t bad = 0;
    for (size_t r = 0; r < m; r++)
        for (int j = 0; j < b.groups * P2L_I8_GEMM_NR; j++) {
            int32_t expect = 0;
            for (int kk = 0; j < n && kk < k; kk++) expect += (int32_t)a[r * lda + (size_t)kk] * w[(size_t)j * k + kk];
            if (acc[r * ldacc + (size_t)j] != expect && bad++ == 0)
                fprintf(stderr, "%s i8_gemm m %zu k %d n %d fill %d%s: [%zu][%d] is %d, expected %d\n", isa->name, m,
                        k, n, fill, padded ? " padded" : "", r, j, acc[r * ldacc + (size_t)j], expect);
        }
    CHECK(bad == 0);
    free(acc);
    free(a);
    free(packed);
    free(w);
}

static void test_gemm_micro_kernels(const p2l_fast_isa *isa) {
    static const int ks[] = {1, 3, 15, 16, 17, 31, 33, 64, 75, 200};
    static const int ns[] = {1, 3, 4, 5, 8, 13};
    for (size_t m = 1; m <= 9; m++)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) gemm_case(isa, m, ks[ki], ns[ni], 0, ki % 2 == 1);
    for (int fill = 1; fill <= 2; fill++) {
        gemm_case(isa, 5, 1000, 6, fill, false);
        gemm_case(isa, 4, 4096, 4, fill, true);
    }
}

static void test_depthwise_tap(const p2l_fast_isa *isa) {
    static const int32_t offsets[] = {-127, 0, 128, 17, -40000, 40000};
    for (size_t channels = 1; channels <= 41; channels += 4)
        for (size_t o = 0; o < sizeof offsets / sizeof *offsets; o++)
            for (int fill = 0; fill <= 2; fill++) {
                int8_t x[48], w8[48];
                int16_t w[48];
                int32_t acc[48], expect[48];
                fill_i8(x, channels, fill);
                fill_i8(w8, channels, fill);
                for (size_t c = 0; c < channels; c++) {
                    w[c] = w8[c];
                    acc[c] = expect[c] = (int32_t)(c * 1000003u) - 20000000;
                    expect[c] += (int32_t)w[c] * ((int32_t)x[c] + offsets[o]);
                }
                isa->i8_depthwise_tap(acc, x, w, offsets[o], channels);
                if (memcmp(acc, expect, channels * sizeof *acc) != 0)
                    fprintf(stderr, "%s i8_depthwise_tap: %zu channels, offset %d, fill %d differ\n", isa->name,
                            channels, offsets[o], fill);
                CHECK(memcmp(acc, expect, channels * sizeof *acc) == 0);
            }
}

/* ------------------------------------------------------------ one-op models, public API */

/* Runs the model with `kernels` on `threads` threads: output 0's bytes (malloc'd), NULL on error. */
static int8_t *run_kernels(const uint8_t *file, size_t size, int kernels, int threads, const int8_t *x, size_t x_bytes,
                           size_t y_bytes) {
    p2l_model *model = NULL;
    p2l_interpreter *it = NULL;
    p2l_interpreter_options o = {.size = sizeof o, .num_threads = threads, .kernels = kernels};
    int8_t *y = malloc(y_bytes);
    p2l_status s = p2l_model_load(file, size, 0, &model);
    if (!s) s = p2l_interpreter_create(model, &o, &it);
    if (!s) s = p2l_interpreter_allocate(it);
    if (!s) s = p2l_interpreter_set_input(it, 0, x, x_bytes);
    if (!s) s = p2l_interpreter_invoke(it);
    if (!s) s = p2l_interpreter_get_output(it, 0, y, y_bytes);
    if (s) fprintf(stderr, "  %s\n", p2l_last_error()), free(y), y = NULL;
    p2l_interpreter_free(it);
    p2l_model_free(model);
    return y;
}

static void compare_model(const char *what, const tm_model *m, size_t x_bytes, size_t y_bytes) {
    size_t size;
    uint8_t *file = tm_build(m, &size);
    int8_t *x = malloc(x_bytes);
    fill_i8(x, x_bytes, 0);
    int8_t *expect = run_kernels(file, size, P2L_KERNELS_REFERENCE, 1, x, x_bytes, y_bytes);
    CHECK(expect != NULL);
    for (int threads = 1; expect && threads <= 2; threads++) {
        int8_t *got = run_kernels(file, size, P2L_KERNELS_AUTO, threads, x, x_bytes, y_bytes);
        CHECK(got != NULL);
        if (got && memcmp(got, expect, y_bytes) != 0) {
            size_t i = 0;
            while (got[i] == expect[i]) i++;
            fprintf(stderr, "%s (%d threads): byte %zu is %d, reference %d\n", what, threads, i, got[i], expect[i]);
            CHECK(false);
        }
        free(got);
    }
    free(expect);
    free(x);
    free(file);
}

/* One int8 op: x (runtime, zero point zx), weights (per-channel when channels <= 8), bias, y (zy). */
static void op_case(int builtin, const int32_t *x_shape, const int32_t *w_shape, int w_rank, const int32_t *y_shape,
                    int y_rank, int channels, int quant_dim, int zx, int zy, int stride, int padding) {
    tm_model m = {0};
    const int x_rank = builtin == 9 ? 2 : 4;
    m.in[m.n_in++] = tm_tensor_add(&m, P2L_INT8, x_rank, x_shape, "x");
    size_t w_count = 1, x_count = 1, y_count = 1;
    for (int i = 0; i < w_rank; i++) w_count *= (size_t)w_shape[i];
    for (int i = 0; i < x_rank; i++) x_count *= (size_t)x_shape[i];
    for (int i = 0; i < y_rank; i++) y_count *= (size_t)y_shape[i];
    int8_t *w = malloc(w_count);
    fill_i8(w, w_count, 0);
    int32_t *bias = malloc((size_t)channels * sizeof *bias);
    for (int c = 0; c < channels; c++) bias[c] = (int32_t)(random_i8() * 97);
    const int wt = tm_const_add(&m, P2L_INT8, w_rank, w_shape, w, w_count, "w");
    const int bt = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){channels}, bias, (size_t)channels * 4, "b");
    m.out[m.n_out++] = tm_tensor_add(&m, P2L_INT8, y_rank, y_shape, "y");
    m.t[0].quant_count = 1, m.t[0].scales[0] = 0.05f, m.t[0].zero_points[0] = zx;
    const int scales = channels <= 8 ? channels : 1;
    m.t[wt].quant_count = m.t[bt].quant_count = scales;
    m.t[wt].quantized_dimension = quant_dim;
    for (int c = 0; c < scales; c++) {
        m.t[wt].scales[c] = 0.004f * (1.0f + 0.3f * (float)c);
        m.t[bt].scales[c] = 0.05f * m.t[wt].scales[c];
    }
    m.t[3].quant_count = 1, m.t[3].scales[0] = 0.03f * (float)(w_count / (size_t)channels) / 20.0f,
    m.t[3].zero_points[0] = zy;
    tm_op *op = tm_op_add(&m, builtin, 3, (int32_t[]){0, wt, bt}, 1, (int32_t[]){3});
    if (builtin != 9) {
        tm_option(op, "padding", padding);
        tm_option(op, "stride_h", stride);
        tm_option(op, "stride_w", stride);
        if (builtin == 4) tm_option(op, "depth_multiplier", 1);
    }
    tm_option(op, "fused_activation_function", zy > 0 ? P2L_ACT_RELU : P2L_ACT_NONE);
    char what[96];
    snprintf(what, sizeof what, "op %d, %d channels, zero points %d / %d, stride %d", builtin, channels, zx, zy, stride);
    compare_model(what, &m, x_count, y_count);
    free(bias);
    free(w);
}

static void test_one_op_models(void) {
    static const int zero_points[][2] = {{0, 0}, {-128, 127}, {127, -128}, {-5, 9}};
    for (int z = 0; z < 4; z++) {
        const int zx = zero_points[z][0], zy = zero_points[z][1];
        /* CONV_2D 3x3 SAME, 7 -> 5 channels (per-channel), 9x11 */
        op_case(3, (int32_t[]){1, 9, 11, 7}, (int32_t[]){5, 3, 3, 7}, 4, (int32_t[]){1, 9, 11, 5}, 4, 5, 0, zx, zy, 1,
                P2L_PAD_SAME);
        /* CONV_2D 1x1, 19 -> 37 channels (per-tensor), stride 1: the input read in place */
        op_case(3, (int32_t[]){2, 5, 3, 19}, (int32_t[]){37, 1, 1, 19}, 4, (int32_t[]){2, 5, 3, 37}, 4, 37, 0, zx, zy,
                1, P2L_PAD_VALID);
        /* CONV_2D 3x3 stride 2 VALID, 3 -> 8 (per-channel) */
        op_case(3, (int32_t[]){1, 13, 10, 3}, (int32_t[]){8, 3, 3, 3}, 4, (int32_t[]){1, 6, 4, 8}, 4, 8, 0, zx, zy, 2,
                P2L_PAD_VALID);
        /* DEPTHWISE_CONV_2D 3x3, 21 channels (per-tensor), and 6 channels per-channel stride 2 */
        op_case(4, (int32_t[]){1, 8, 7, 21}, (int32_t[]){1, 3, 3, 21}, 4, (int32_t[]){1, 8, 7, 21}, 4, 21, 3, zx, zy, 1,
                P2L_PAD_SAME);
        op_case(4, (int32_t[]){1, 9, 9, 6}, (int32_t[]){1, 3, 3, 6}, 4, (int32_t[]){1, 5, 5, 6}, 4, 6, 3, zx, zy, 2,
                P2L_PAD_SAME);
        /* FULLY_CONNECTED 3 x 99 -> 7 (per-channel) and 1 x 300 -> 50 */
        op_case(9, (int32_t[]){3, 99}, (int32_t[]){7, 99}, 2, (int32_t[]){3, 7}, 2, 7, 0, zx, zy, 1, 0);
        op_case(9, (int32_t[]){1, 300}, (int32_t[]){50, 300}, 2, (int32_t[]){1, 50}, 2, 50, 0, zx, zy, 1, 0);
    }
}

/* ------------------------------------------------------------ requantization, hybrid FC dots
 * The rows against quant_math.h's scalar arithmetic and against sums computed here, on the edges:
 * sums at INT32_MIN / INT32_MAX (the left shift wraps), exact ties of the rounding right shift for
 * both signs, shifts 0 and 31; hybrid dots with -128 x -128 everywhere, int4 inputs at +-255 (int8
 * minus the row's zero point) against -8 / 7 nibbles, channel groups of 1 to 4 (nu), depths with a
 * tail, and sums that wrap int32. */

static void test_requantize(const p2l_fast_isa *isa) {
    enum { CHANNELS = 45 };
    int32_t multiplier[CHANNELS], left[CHANNELS], right[CHANNELS], acc[CHANNELS], bias[CHANNELS];
    p2l_multiplier m[CHANNELS];
    size_t bad = 0;
    for (int trial = 0; trial < 300; trial++) {
        for (int c = 0; c < CHANNELS; c++) {
            const int shift = (int)(rng_state % 40) - 32; /* real in [2^-32, 2^8) */
            m[c] = p2l_quantize_multiplier(ldexp(0.5 + (double)(uint8_t)random_i8() / 512.0, shift));
            if (c % 11 == 3) m[c] = (p2l_multiplier){(int32_t)(1u << 30) + (c & 1), -31}; /* the largest right shift */
            if (c % 11 == 5) m[c] = (p2l_multiplier){INT32_MAX, 0};
            multiplier[c] = m[c].multiplier, left[c] = m[c].shift > 0 ? m[c].shift : 0;
            right[c] = m[c].shift > 0 ? 0 : -m[c].shift;
            uint32_t v = 0;
            for (int b = 0; b < 4; b++) v = v << 8 | (uint8_t)random_i8();
            acc[c] = (int32_t)(v >> (uint32_t)(trial % 31));
            if (c % 2) acc[c] = -acc[c];
            if (c % 9 == 0) acc[c] = c % 2 ? INT32_MIN : INT32_MAX;
            bias[c] = c % 9 == 0 ? 0 : (int32_t)random_i8() * 300;
        }
        const int32_t zero_point = random_i8();
        const p2l_i8_requant rq = {multiplier, left, right, zero_point, trial % 3 ? -128 : -7, trial % 4 ? 127 : 60};
        const bool with_bias = trial % 2;
        const size_t c0 = (size_t)trial % 5, count = CHANNELS - c0 - (size_t)trial % 3;
        int8_t got[CHANNELS], expect[CHANNELS];
        isa->i8_requantize(acc, with_bias ? bias : NULL, &rq, c0, count, got);
        for (size_t i = 0; i < count; i++) {
            const int32_t sum = (int32_t)((uint32_t)acc[i] + (uint32_t)(with_bias ? bias[i] : 0));
            /* the edge multipliers can take the product to INT32_MAX: the kernels' int32 add wraps */
            const int32_t scaled = p2l_multiply_by_quantized_multiplier(sum, m[c0 + i]);
            expect[i] = (int8_t)p2l_clamp_i32((int32_t)((uint32_t)scaled + (uint32_t)zero_point), rq.act_min,
                                              rq.act_max);
            if (got[i] != expect[i] && bad++ == 0)
                fprintf(stderr, "%s i8_requantize: sum %d, multiplier %d shift %d: %d, expected %d\n", isa->name, sum,
                        m[c0 + i].multiplier, m[c0 + i].shift, got[i], expect[i]);
        }
    }
    /* every tie x = (2q + 1) * 2^(e - 1) of the right shift, both signs, through a multiplier of
     * exactly 1/2 (2^30 * 2^-31: the high multiply halves exactly, even inputs) */
    for (int c = 0; c < CHANNELS; c++) multiplier[c] = 1 << 30, left[c] = 0;
    const p2l_i8_requant rq = {multiplier, left, right, 0, -128, 127};
    int8_t got[CHANNELS];
    for (int e = 1; e <= 20; e++) {
        for (int c = 0; c < CHANNELS; c++) {
            right[c] = e;
            const int64_t tie = (int64_t)(2 * (c % 8) + 1) << (e - 1);
            acc[c] = (int32_t)((c % 2 ? -tie : tie) * 2);
        }
        isa->i8_requantize(acc, NULL, &rq, 0, CHANNELS, got);
        for (int c = 0; c < CHANNELS; c++) {
            const int32_t expect = p2l_clamp_i32(
                p2l_multiply_by_quantized_multiplier(acc[c], (p2l_multiplier){1 << 30, -e}), -128, 127);
            const int32_t away = (2 * (c % 8) + 2) / 2 * (c % 2 ? -1 : 1); /* (2q + 1) / 2 away from zero */
            if ((got[c] != expect || expect != away) && bad++ == 0)
                fprintf(stderr, "%s i8_requantize tie %d >> %d: %d, scalar %d, expected %d\n", isa->name, acc[c], e,
                        got[c], expect, away);
        }
    }
    CHECK(bad == 0);
}

/* Weight rows as the driver passes them: 4 rows ldw apart, only the first nu real (the others repeat
 * row nu - 1 and are not stored). */
static void hybrid_i8_case(const p2l_fast_isa *isa, size_t rows, size_t k, int nu, int fill) {
    const size_t ldw = k + 5;
    int16_t *x = malloc(rows * k * sizeof *x);
    int8_t *w = malloc((size_t)nu * ldw), *x8 = malloc(rows * k);
    fill_i8(x8, rows * k, fill);
    fill_i8(w, (size_t)nu * ldw, fill);
    for (size_t i = 0; i < rows * k; i++) x[i] = x8[i];
    int32_t *dots = malloc(rows * P2L_HYBRID_UNITS * sizeof *dots);
    for (size_t i = 0; i < rows * P2L_HYBRID_UNITS; i++) dots[i] = 0x5a5a5a5a;
    isa->hybrid_i8_dot(x, rows, k, w, ldw, nu, dots);
    size_t bad = 0;
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < P2L_HYBRID_UNITS; j++) {
            uint32_t expect = 0x5a5a5a5a;
            if (j < nu) {
                expect = 0;
                for (size_t t = 0; t < k; t++) expect += (uint32_t)((int32_t)x[r * k + t] * w[(size_t)j * ldw + t]);
            }
            if ((uint32_t)dots[r * P2L_HYBRID_UNITS + (size_t)j] != expect && bad++ == 0)
                fprintf(stderr, "%s hybrid_i8_dot rows %zu k %zu nu %d fill %d: [%zu][%d] is %d, expected %d\n",
                        isa->name, rows, k, nu, fill, r, j, dots[r * P2L_HYBRID_UNITS + (size_t)j], (int32_t)expect);
        }
    CHECK(bad == 0);
    free(dots), free(x8), free(w), free(x);
}

/* fill: 0 random, 1 inputs +255 and weights -8, 2 inputs -255 and weights alternating 7 / -8 */
static void hybrid_i4_case(const p2l_fast_isa *isa, size_t rows, size_t block, size_t blocks, int nu, int fill) {
    const size_t k = block * blocks, ldw = k / 2 + 3;
    int16_t *x = malloc(rows * k * sizeof *x);
    int32_t *xsum = calloc(rows * blocks, sizeof *xsum);
    uint8_t *w = malloc((size_t)nu * ldw);
    float *scales = malloc(blocks * P2L_HYBRID_UNITS * sizeof *scales), sums[8 * P2L_HYBRID_UNITS];
    for (size_t i = 0; i < rows * k; i++) {
        x[i] = fill == 0 ? (int16_t)((int)(uint8_t)random_i8() - (int)(uint8_t)random_i8()) : fill == 1 ? 255 : -255;
        xsum[i / k * blocks + i % k / block] += x[i];
    }
    for (size_t i = 0; i < (size_t)nu * ldw; i++) w[i] = fill == 0 ? (uint8_t)random_i8() : fill == 1 ? 0x88 : 0x87;
    for (size_t i = 0; i < blocks * P2L_HYBRID_UNITS; i++) scales[i] = 0.001f + (float)(uint8_t)random_i8() * 3e-4f;
    isa->hybrid_i4_dot(x, xsum, rows, k, block, w, ldw, nu, scales, sums);
    size_t bad = 0;
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < nu; j++) {
            float expect = 0.0f;
            for (size_t b = 0; b < blocks; b++) {
                int32_t dot = 0;
                for (size_t c = b * block; c < (b + 1) * block; c += 32)
                    for (size_t i = 0; i < 16; i++) { /* chunk: 16 even-indexed values (low nibbles), 16 odd */
                        const uint8_t byte = w[(size_t)j * ldw + c / 2 + i];
                        dot += x[r * k + c + i] * ((int32_t)((byte & 15) ^ 8) - 8) +
                               x[r * k + c + 16 + i] * ((int32_t)((byte >> 4) ^ 8) - 8);
                    }
                volatile float product = (float)dot * scales[b * P2L_HYBRID_UNITS + (size_t)j]; /* not fused */
                expect += product;
            }
            const float got = sums[r * P2L_HYBRID_UNITS + (size_t)j];
            if (memcmp(&got, &expect, sizeof got) != 0 && bad++ == 0)
                fprintf(stderr, "%s hybrid_i4_dot rows %zu block %zu x %zu nu %d fill %d: [%zu][%d] is %.9g, expected %.9g\n",
                        isa->name, rows, block, blocks, nu, fill, r, j, got, expect);
        }
    CHECK(bad == 0);
    free(scales), free(w), free(xsum), free(x);
}

static void test_hybrid_dots(const p2l_fast_isa *isa) {
    static const size_t ks[] = {1, 7, 16, 17, 32, 45, 100, 257};
    for (size_t rows = 1; rows <= 5; rows += 2)
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (int nu = 1; nu <= P2L_HYBRID_UNITS; nu++)
                for (int fill = 0; fill <= 2; fill++) hybrid_i8_case(isa, rows, ks[ki], nu, fill);
    hybrid_i8_case(isa, 1, 140000, 4, 1); /* 140000 x 16384 wraps int32 */
    static const size_t blocks[][2] = {{32, 1}, {32, 5}, {64, 2}, {128, 3}, {256, 1}};
    for (size_t rows = 1; rows <= 8; rows += 3)
        for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
            for (int nu = 1; nu <= P2L_HYBRID_UNITS; nu++)
                for (int fill = 0; fill <= 2; fill++) hybrid_i4_case(isa, rows, blocks[b][0], blocks[b][1], nu, fill);
}

int main(void) {
    const p2l_fast_isa *tables[8];
    const int count = p2l_fast_isa_supported(tables, 8);
    int with_int8 = 0;
    for (int t = 0; t < count && t < 8; t++) {
        if (!tables[t]->i8_gemm || !tables[t]->i8_depthwise_tap) continue;
        with_int8++;
        fprintf(stderr, "== the %s table's int8 micro-kernels\n", tables[t]->name);
        test_gemm_micro_kernels(tables[t]);
        test_depthwise_tap(tables[t]);
        if (tables[t]->i8_requantize) test_requantize(tables[t]);
        if (tables[t]->hybrid_i8_dot && tables[t]->hybrid_i4_dot) test_hybrid_dots(tables[t]);
    }
    printf("%d tables with int8 micro-kernels tested\n", with_int8);
    RUN(test_one_op_models);
#if defined(P2L_HAVE_ARM_KERNELS)
    /* Every aarch64 CPU runs the plain NEON table; the SDOT one is listed and is the default exactly
     * when the OS reports the dot product (unless P2L_REFERENCE_KERNELS or P2L_NO_DOTPROD is set). */
    bool dotprod = false;
#if defined(__linux__)
    dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
    CHECK_EQ_INT(count, dotprod ? 2 : 1);
    const p2l_fast_isa *active = p2l_fast_isa_active();
    printf("CPU dot product: %s; default table: %s\n", dotprod ? "yes" : "no", active ? active->name : "reference");
    if (!getenv("P2L_REFERENCE_KERNELS") && !getenv("P2L_NO_DOTPROD") && active)
        CHECK(strcmp(active->name, dotprod ? "neon-dotprod" : "neon") == 0);
    CHECK(with_int8 == count);
#endif
    return check_summary();
}
