/* The fast hybrid FULLY_CONNECTED paths (fast/hybrid.c over the ISA's loops) against the reference
 * hybrid kernels (hybrid.c: int8 per-channel / per-tensor weights; fully_connected_int4.c: int4
 * block-wise and per-channel weights): outputs must be equal bit for bit (same integer sums, same
 * float expression), over odd sizes (channel counts not a multiple of 4, depths not a multiple of
 * 16), several block sizes, batch 1 and > 1, all-zero rows, asymmetric and symmetric input
 * quantization, fused activations, 1 to 3 threads, and every ISA table the CPU supports. Where the
 * CPU has such a table, the test also checks the fast path covers the cases it should. */
#include <math.h>
#include <stdlib.h>

#include "base/float16.h"
#include "check.h"
#include "kernels/fast/fast.h"
#include "kernels/hybrid_fast.h"
#include "kernels/quant_math.h"

static uint32_t rng_state = 2024;
static uint32_t rnd_u32(void) { return rng_state = rng_state * 1664525u + 1013904223u; }
static float rnd(float scale) { return ((float)(rnd_u32() >> 8) / 16777216.0f * 2.0f - 1.0f) * scale; }

typedef struct fc_case {
    int units, depth, batch;
    bool int4;
    int block;      /* int4: values per scale; 0: one scale per channel */
    bool per_tensor; /* int8: one weight scale */
    bool asymmetric;
    int activation;
    bool zero_row;  /* input row 0 all zeros */
    bool no_minimum; /* int8: no weight is -128 (what the one-row loops need) */
    bool extreme;   /* weights and inputs at their ranges' ends (sums near int16's limit) */
} fc_case;

typedef struct fc_tensors {
    p2l_tensor x, w, bias, y;
    float scales[4096];
    int64_t zero_points[4096];
    uint16_t block_scales[65536];
} fc_tensors;

static void make_tensors(const fc_case *c, fc_tensors *t) {
    memset(t, 0, sizeof *t);
    t->x = (p2l_tensor){.dtype = P2L_FLOAT32, .rank = 2, .dims = {c->batch, c->depth},
                        .count = (size_t)c->batch * (size_t)c->depth};
    t->x.bytes = t->x.count * 4;
    float *x = malloc(t->x.bytes + 4);
    for (size_t i = 0; i < t->x.count; i++) x[i] = rnd(3.0f) + (i % 7 == 0 ? 1.5f : 0.0f); /* skewed: zero point != 0 */
    if (c->extreme) /* the row's ends quantize to -128 and 127 */
        for (size_t i = 0; i < t->x.count; i++) x[i] = i % 3 ? (i % 2 ? 3.0f : -3.0f) : x[i];
    if (c->zero_row) memset(x, 0, (size_t)c->depth * 4);
    t->x.data = x;
    const size_t n = (size_t)c->units * (size_t)c->depth;
    t->w = (p2l_tensor){.dtype = c->int4 ? P2L_INT4 : P2L_INT8, .rank = 2, .dims = {c->units, c->depth}, .count = n,
                        .is_constant = true, .known = true};
    t->w.bytes = c->int4 ? (n + 1) / 2 : n;
    uint8_t *w = malloc(t->w.bytes + 1);
    for (size_t i = 0; i < t->w.bytes; i++) w[i] = (uint8_t)(rnd_u32() >> 24);
    if (c->extreme)
        for (size_t i = 0; i < t->w.bytes; i++) w[i] = c->int4 ? (i % 3 ? 0x88 : 0x77) : (i % 3 ? 0x81 : 0x7f);
    if (!c->int4 && !c->no_minimum)
        for (size_t i = 0; i < n; i += 97) w[i] = 0x80; /* -128: the int8 range's edge */
    t->w.data = w;
    if (c->int4 && c->block) {
        t->w.block_size = c->block;
        for (size_t i = 0; i < n / (size_t)c->block; i++) t->block_scales[i] = p2l_f32_to_f16(0.01f + fabsf(rnd(0.05f)));
        t->w.block_scales = t->block_scales;
    } else {
        t->w.quant_count = c->per_tensor ? 1 : c->units;
        for (int u = 0; u < t->w.quant_count; u++) t->scales[u] = 0.001f + fabsf(rnd(0.02f));
        t->w.scales = t->scales, t->w.zero_points = t->zero_points;
    }
    t->bias = (p2l_tensor){.dtype = P2L_FLOAT32, .rank = 1, .dims = {c->units}, .count = (size_t)c->units,
                           .bytes = (size_t)c->units * 4, .is_constant = true, .known = true};
    float *bias = malloc(t->bias.bytes + 4);
    for (int u = 0; u < c->units; u++) bias[u] = rnd(1.0f);
    t->bias.data = bias;
}

static void free_tensors(fc_tensors *t) {
    free(t->x.data), free(t->w.data), free(t->bias.data);
}

/* Runs the case's reference kernel (which takes the fast path where the selected ISA has one) with
 * `isa` selected; returns the output (malloc'ed) or NULL. *fast_ran: the fast path was prepared. */
static float *run(const fc_case *c, fc_tensors *t, const p2l_fast_isa *isa, int threads, bool *fast_ran) {
    p2l_tensor in[3] = {t->x, t->w, t->bias}, out = {.dtype = P2L_FLOAT32};
    p2l_tensor *in_ptr[3] = {&in[0], &in[1], &in[2]}, *out_ptr[1] = {&out};
    int64_t options[64] = {0};
    options[p2l_option_field(P2L_OP_FULLY_CONNECTED, "fused_activation_function")] = c->activation;
    options[p2l_option_field(P2L_OP_FULLY_CONNECTED, "asymmetric_quantize_inputs")] = c->asymmetric;
    p2l_arena arena = {0};
    p2l_exec exec = {0};
    if (p2l_threadpool_start(threads, 0, &exec.pool)) return NULL;
    p2l_node node = {.op = P2L_OP_FULLY_CONNECTED, .version = 1, .input_count = 3, .output_count = 1,
                     .inputs = in_ptr, .outputs = out_ptr, .options = options, .arena = &arena, .exec = &exec};
    p2l_parse_options(&node);
    const p2l_kernel *k = c->int4 ? p2l_reference_kernel_of(P2L_OP_FULLY_CONNECTED) : p2l_hybrid_kernel(&node);
    float *result = NULL;
    p2l_fast_isa_select(isa, true);
    p2l_status s = k ? k->prepare(&node) : P2L_ERROR_INTERNAL;
    p2l_fast_isa_select(NULL, false);
    if (s == P2L_OK) {
        /* the fast path's own prepare, on the same node, says whether it covers the case */
        const void *fast = NULL;
        p2l_fast_isa_select(isa, true);
        void *kept = node.state;
        if (c->int4) p2l_fc_int4_fast_prepare(&node, c->block ? (size_t)c->block : (size_t)c->depth, &fast);
        else p2l_hybrid_fc_fast_prepare(&node, &fast);
        node.state = kept;
        p2l_fast_isa_select(NULL, false);
        *fast_ran = fast != NULL;
        result = malloc(out.bytes + 4);
        out.data = result;
        if (k->invoke(&node) != P2L_OK) free(result), result = NULL;
    } else {
        fprintf(stderr, "prepare failed: %s\n", p2l_last_error());
    }
    p2l_threadpool_free(exec.pool);
    p2l_arena_free(&arena);
    return result;
}

static int cases, fast_cases;

static void check_case(const fc_case *c) {
    static fc_tensors t;
    make_tensors(c, &t);
    bool fast = false;
    float *expect = run(c, &t, NULL, 1, &fast);
    CHECK(expect != NULL);
    CHECK(!fast); /* no ISA selected: the reference path */
    const p2l_fast_isa *tables[8];
    const int count = p2l_fast_isa_supported(tables, 8);
    for (int i = 0; i < count && expect; i++)
        for (int threads = 1; threads <= 3; threads++) {
            float *got = run(c, &t, tables[i], threads, &fast);
            CHECK(got != NULL);
            cases++, fast_cases += fast;
            /* the fast path covers int8 always and int4 where the block is a multiple of 32 */
            const int block = c->block ? c->block : c->depth;
            if (tables[i]->hybrid_i8_dot) CHECK(fast == (!c->int4 || block % 32 == 0));
            const size_t n = (size_t)c->batch * (size_t)c->units;
            const bool same = got && memcmp(got, expect, n * sizeof(float)) == 0;
            if (!same)
                fprintf(stderr, "differs: %s units %d depth %d batch %d block %d asym %d act %d, %s, %d threads\n",
                        c->int4 ? "int4" : "int8", c->units, c->depth, c->batch, c->block, c->asymmetric,
                        c->activation, tables[i]->name, threads);
            CHECK(same);
            free(got);
        }
    free(expect);
    free_tensors(&t);
}

static void test_int8(void) {
    static const int units[] = {1, 3, 4, 7, 33};
    static const int depths[] = {1, 15, 16, 17, 64, 129};
    static const int batches[] = {1, 2, 17};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 6; b++)
            for (size_t n = 0; n < 3; n++) {
                fc_case c = {.units = units[a], .depth = depths[b], .batch = batches[n],
                             .asymmetric = (a + b) % 2 == 0, .per_tensor = units[a] == 1 && b == 2, /* one scale: one channel only */
                             .activation = n == 1 ? P2L_ACT_RELU : P2L_ACT_NONE, .zero_row = n == 2};
                check_case(&c);
            }
    /* one row, weights in [-127, 127]: the one-row loops (depths around their 64 / 32 steps; rows
     * longer than the loop's prefetch distance, 4 KB, with both tails) */
    static const int row_depths[] = {1, 31, 32, 33, 64, 95, 96, 129, 768, 2048 + 32 + 5, 4096 + 63};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 11; b++)
            for (int variant = 0; variant < 3; variant++) {
                fc_case c = {.units = units[a] + (a == 4 ? 300 : 0), .depth = row_depths[b], .batch = 1,
                             .asymmetric = variant != 1, .no_minimum = true, .zero_row = variant == 2 && b == 4,
                             .extreme = variant == 2, .activation = variant == 1 ? P2L_ACT_RELU : P2L_ACT_NONE};
                check_case(&c);
            }
}

/* The ISA's one-row int8 loop alone against plain int32 dots: x over all of int8 (-128 included),
 * weights in [-127, 127], row strides longer than the rows, channel counts around the groups of 4,
 * depths around the 64 / 32 steps and past the 4 KB prefetch distance. */
static void test_int8_gemv_loop(void) {
    static const size_t depths[] = {1, 32, 63, 64, 97, 768, 4096 + 32 + 7};
    static const size_t units[] = {1, 3, 4, 5, 9};
    const p2l_fast_isa *tables[8];
    const int count = p2l_fast_isa_supported(tables, 8);
    for (int i = 0; i < count; i++) {
        if (!tables[i]->hybrid_i8_gemv) continue;
        for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++)
            for (size_t n = 0; n < sizeof units / sizeof units[0]; n++) {
                const size_t k = depths[d], ldw = k + 5, count_w = units[n] * ldw;
                int8_t *x = malloc(k), *w = malloc(count_w);
                uint8_t *x_abs = malloc(k);
                int32_t got[9], expect[9];
                for (size_t t = 0; t < k; t++) {
                    x[t] = (int8_t)(t % 5 == 0 ? -128 : (int)(rnd_u32() >> 24) - 128);
                    x_abs[t] = (uint8_t)(x[t] < 0 ? -x[t] : x[t]);
                }
                for (size_t t = 0; t < count_w; t++) w[t] = (int8_t)(t % 3 == 0 ? (t % 2 ? 127 : -127) : (int)(rnd_u32() % 255) - 127);
                for (size_t u = 0; u < units[n]; u++) {
                    int32_t s = 0;
                    for (size_t t = 0; t < k; t++) s += (int32_t)x[t] * w[u * ldw + t];
                    expect[u] = s;
                }
                tables[i]->hybrid_i8_gemv(x, x_abs, k, w, ldw, units[n], got);
                const bool same = memcmp(got, expect, units[n] * sizeof(int32_t)) == 0;
                if (!same) fprintf(stderr, "one-row int8 loop differs: %s depth %zu units %zu\n", tables[i]->name, k, units[n]);
                CHECK(same);
                free(x), free(w), free(x_abs);
            }
    }
}

static void test_int4(void) {
    static const int units[] = {1, 5, 8, 37};
    static const int blocks[] = {32, 64, 128, 16, 0};
    static const int batches[] = {1, 3, 18};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t n = 0; n < 3; n++) {
                const int depth = blocks[b] ? blocks[b] * (int)(1 + (a + n) % 3) : 96;
                fc_case c = {.units = units[a], .depth = depth, .batch = batches[n], .int4 = true, .block = blocks[b],
                             .activation = n == 1 ? P2L_ACT_RELU6 : P2L_ACT_NONE, .zero_row = n == 2};
                check_case(&c);
            }
    /* one row: block 32 (even and odd counts of blocks), multiples of 64 (steps of 4 x 64 values
     * and a partial one), per-channel; extreme values (int16 partial sums near their limit) */
    static const int row_blocks[] = {32, 32, 32, 64, 128, 320, 0, 4096, 32};
    static const int row_depths[] = {64, 96, 768, 192, 256, 640, 512, 4096, 4096 + 192}; /* last: past 64 steps a row */
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 9; b++)
            for (int variant = 0; variant < 3; variant++) {
                fc_case c = {.units = units[a], .depth = row_depths[b], .batch = 1, .int4 = true,
                             .block = row_blocks[b], .zero_row = variant == 1, .extreme = variant == 2,
                             .activation = variant == 1 ? P2L_ACT_RELU6 : P2L_ACT_NONE};
                check_case(&c);
            }
}

int main(void) {
    RUN(test_int8);
    RUN(test_int8_gemv_loop);
    RUN(test_int4);
    const p2l_fast_isa *tables[1];
    if (p2l_fast_isa_supported(tables, 1) > 0 && tables[0]->hybrid_i8_dot) CHECK(fast_cases > 0);
    printf("%d fast cases of %d\n", fast_cases, cases);
    return check_summary();
}
