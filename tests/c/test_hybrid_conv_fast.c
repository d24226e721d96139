/* The fast hybrid CONV_2D and DEPTHWISE_CONV_2D paths (fast/hybrid_conv.c over the ISA's int8 loops)
 * against the reference hybrid kernel (hybrid.c's loops): outputs must be equal bit for bit (same
 * integer sums, same float expression), over 1x1 (in place and strided), 3x3 and 5x5 filters,
 * strides 1 and 2, SAME and VALID padding, odd channel counts, batch 1 and > 1 (a zero point per
 * image; one all-zero image), fused activations, 1 and 2 threads, and every ISA table the CPU
 * supports; and the ISA's run-time quantization loops against the reference's rounding. Where the CPU has int8 loops, the test also checks the fast path covers the cases it
 * should (and not a depth multiplier of 2). */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "kernels/fast/fast.h"
#include "kernels/hybrid_conv_fast.h"
#include "kernels/quant_math.h"

enum { PADDING_SAME = 0, PADDING_VALID = 1 };

static uint32_t rng_state = 77;
static uint32_t rnd_u32(void) { return rng_state = rng_state * 1664525u + 1013904223u; }
static float rnd(float scale) { return ((float)(rnd_u32() >> 8) / 16777216.0f * 2.0f - 1.0f) * scale; }

typedef struct conv_case {
    bool depthwise;
    int batch, H, W, C, OC, KH, KW, stride, padding, activation, depth_multiplier;
    bool zero_image; /* image 0 all zeros (scale 1, zero point 0) */
    bool no_bias;
} conv_case;

typedef struct conv_tensors {
    p2l_tensor x, w, bias;
    float scales[512];
    int64_t zero_points[512];
} conv_tensors;

static void make_tensors(const conv_case *c, conv_tensors *t) {
    memset(t, 0, sizeof *t);
    t->x = (p2l_tensor){.dtype = P2L_FLOAT32, .rank = 4, .dims = {c->batch, c->H, c->W, c->C},
                        .count = (size_t)c->batch * (size_t)c->H * (size_t)c->W * (size_t)c->C};
    t->x.bytes = t->x.count * 4;
    float *x = malloc(t->x.bytes + 4);
    for (size_t i = 0; i < t->x.count; i++) x[i] = rnd(2.0f) + (i % 5 == 0 ? 1.5f : 0.0f); /* skewed: zero point != 0 */
    if (c->zero_image) memset(x, 0, t->x.count / (size_t)c->batch * 4);
    t->x.data = x;
    const int oc = c->depthwise ? c->C * c->depth_multiplier : c->OC;
    const int32_t dims[4] = {c->depthwise ? 1 : oc, c->KH, c->KW, c->depthwise ? oc : c->C};
    const size_t n = (size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2] * (size_t)dims[3];
    t->w = (p2l_tensor){.dtype = P2L_INT8, .rank = 4, .dims = {dims[0], dims[1], dims[2], dims[3]}, .count = n,
                        .bytes = n, .is_constant = true, .known = true, .quant_count = oc,
                        .quantized_dimension = c->depthwise ? 3 : 0};
    int8_t *w = malloc(n + 1);
    for (size_t i = 0; i < n; i++) w[i] = (int8_t)(rnd_u32() >> 24);
    for (size_t i = 0; i < n; i += 31) w[i] = -128; /* the int8 range's edge */
    t->w.data = w;
    for (int u = 0; u < oc; u++) t->scales[u] = 0.001f + fabsf(rnd(0.02f));
    t->w.scales = t->scales, t->w.zero_points = t->zero_points;
    t->bias = (p2l_tensor){.dtype = P2L_FLOAT32, .rank = 1, .dims = {oc}, .count = (size_t)oc,
                           .bytes = (size_t)oc * 4, .is_constant = true, .known = true};
    float *bias = malloc(t->bias.bytes + 4);
    for (int u = 0; u < oc; u++) bias[u] = rnd(1.0f);
    t->bias.data = bias;
}

static void free_tensors(conv_tensors *t) { free(t->x.data), free(t->w.data), free(t->bias.data); }

/* Runs the hybrid kernel with `isa` selected (NULL: the reference loops); with_scratch false: no
 * interpreter's scratch (the fast path must hand the node back to the reference loops). Returns
 * the output (malloc'ed) or NULL; *fast_ran: the fast path was prepared. */
static float *run(const conv_case *c, conv_tensors *t, const p2l_fast_isa *isa, int threads, bool with_scratch,
                  bool *fast_ran, size_t *count) {
    p2l_tensor in[3] = {t->x, t->w, t->bias}, out = {.dtype = P2L_FLOAT32};
    p2l_tensor *in_ptr[3] = {&in[0], &in[1], &in[2]}, *out_ptr[1] = {&out};
    const p2l_op op = c->depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D;
    int64_t options[64] = {0};
    options[p2l_option_field(op, "padding")] = c->padding;
    options[p2l_option_field(op, "stride_h")] = c->stride;
    options[p2l_option_field(op, "stride_w")] = c->stride;
    options[p2l_option_field(op, "dilation_h_factor")] = 1;
    options[p2l_option_field(op, "dilation_w_factor")] = 1;
    options[p2l_option_field(op, "fused_activation_function")] = c->activation;
    if (c->depthwise) options[p2l_option_field(op, "depth_multiplier")] = c->depth_multiplier;
    p2l_arena arena = {0};
    p2l_exec exec = {0};
    if (p2l_threadpool_start(threads, 0, &exec.pool)) return NULL;
    p2l_node node = {.op = op, .version = c->depthwise ? 6 : 5, .input_count = c->no_bias ? 2 : 3,
                     .output_count = 1, .inputs = in_ptr, .outputs = out_ptr, .options = options, .arena = &arena,
                     .exec = with_scratch ? &exec : NULL};
    p2l_parse_options(&node);
    const p2l_kernel *k = p2l_hybrid_kernel(&node);
    float *result = NULL;
    p2l_fast_isa_select(isa, true);
    p2l_status s = k ? k->prepare(&node) : P2L_ERROR_INTERNAL;
    p2l_fast_isa_select(NULL, false);
    if (s == P2L_OK) {
        /* the fast path's own prepare, on the same node, says whether it covers the case (the hybrid
         * state's first member is the reference kernel's state) */
        const void *fast = NULL;
        void *kept = node.state;
        const size_t scratch_bytes = node.scratch_bytes;
        p2l_fast_isa_select(isa, true);
        CHECK(p2l_hybrid_conv_fast_prepare(&node, *(p2l_conv_params *const *)kept, &fast) == P2L_OK);
        p2l_fast_isa_select(NULL, false);
        node.state = kept, node.scratch_bytes = scratch_bytes;
        *fast_ran = fast != NULL && with_scratch;
        exec.scratch_stride = (node.scratch_bytes + 63) / 64 * 64;
        exec.scratch = exec.scratch_stride ? aligned_alloc(64, exec.scratch_stride * (size_t)threads) : NULL;
        *count = out.count;
        result = malloc(out.bytes + 4);
        out.data = result;
        if (k->invoke(&node) != P2L_OK) free(result), result = NULL;
        free(exec.scratch);
    } else {
        fprintf(stderr, "prepare failed: %s\n", p2l_last_error());
    }
    p2l_threadpool_free(exec.pool);
    p2l_arena_free(&arena);
    return result;
}

static int cases, fast_cases;

static void check_case(const conv_case *c) {
    static conv_tensors t;
    make_tensors(c, &t);
    bool fast = false;
    size_t n = 0, got_n = 0;
    float *expect = run(c, &t, NULL, 1, true, &fast, &n);
    CHECK(expect != NULL);
    CHECK(!fast); /* no ISA selected: the reference path */
    const p2l_fast_isa *tables[8];
    const int count = p2l_fast_isa_supported(tables, 8);
    for (int i = 0; i < count && expect; i++)
        for (int threads = 0; threads <= 2; threads++) {
            /* threads 0: one thread with no scratch (the reference loops) */
            float *got = run(c, &t, tables[i], threads ? threads : 1, threads > 0, &fast, &got_n);
            CHECK(got != NULL);
            cases++, fast_cases += fast;
            if (tables[i]->hybrid_gemm && tables[i]->hybrid_depthwise_pixel)
                CHECK(fast == (threads > 0 && (!c->depthwise || c->depth_multiplier == 1)));
            const bool same = got && got_n == n && n > 0 && memcmp(got, expect, n * sizeof(float)) == 0;
            if (!same)
                fprintf(stderr, "differs: %s %dx%dx%dx%d -> %d, filter %dx%d stride %d padding %d act %d, %s, %d threads\n",
                        c->depthwise ? "depthwise" : "conv", c->batch, c->H, c->W, c->C, c->OC, c->KH, c->KW,
                        c->stride, c->padding, c->activation, tables[i]->name, threads);
            CHECK(same);
            free(got);
        }
    free(expect);
    free_tensors(&t);
}

static void test_conv(void) {
    static const int filters[][2] = {{1, 1}, {3, 3}, {1, 3}, {5, 5}};
    static const int channels[][2] = {{3, 5}, {16, 16}, {17, 33}, {40, 7}};
    for (size_t f = 0; f < 4; f++)
        for (size_t ch = 0; ch < 4; ch++)
            for (int stride = 1; stride <= 2; stride++) {
                const size_t v = f * 8 + ch * 2 + (size_t)stride;
                conv_case c = {.batch = 1 + (int)(v % 3 == 0), .H = 7 + (int)(v % 4), .W = 6 + (int)(v % 3),
                               .C = channels[ch][0], .OC = channels[ch][1], .KH = filters[f][0], .KW = filters[f][1],
                               .stride = stride, .padding = v % 5 == 0 ? PADDING_VALID : PADDING_SAME,
                               .activation = v % 3 == 1 ? P2L_ACT_RELU6 : v % 3 == 2 ? P2L_ACT_RELU : P2L_ACT_NONE,
                               .zero_image = v % 6 == 0, .no_bias = v % 7 == 0};
                check_case(&c);
            }
}

static void test_depthwise(void) {
    static const int filters[] = {3, 5, 1};
    static const int channels[] = {2, 8, 13, 32, 35};
    for (size_t f = 0; f < 3; f++)
        for (size_t ch = 0; ch < 5; ch++)
            for (int stride = 1; stride <= 2; stride++) {
                const size_t v = f * 10 + ch * 2 + (size_t)stride;
                conv_case c = {.depthwise = true, .batch = 1 + (int)(v % 3 == 0), .H = 6 + (int)(v % 5),
                               .W = 5 + (int)(v % 4), .C = channels[ch], .KH = filters[f], .KW = filters[f],
                               .stride = stride, .padding = v % 4 == 0 ? PADDING_VALID : PADDING_SAME,
                               .activation = v % 3 == 1 ? P2L_ACT_RELU6 : P2L_ACT_NONE, .depth_multiplier = 1,
                               .zero_image = v % 6 == 0, .no_bias = v % 7 == 0};
                check_case(&c);
            }
    /* depth multiplier 2: the reference loops (no fast path) */
    conv_case c = {.depthwise = true, .batch = 1, .H = 6, .W = 6, .C = 5, .KH = 3, .KW = 3, .stride = 1,
                   .padding = PADDING_SAME, .depth_multiplier = 2};
    check_case(&c);
}

/* The ISA's quantization loops against the reference's expression, on ties, the clamp's edges, NaN,
 * -0 and values around 2^23, in the vector body and the tail. */
static void test_quantize_rows(void) {
    static const float special[] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f, 126.5f, 127.5f,
                                    -128.5f, -127.5f, 300.0f, -1e30f, 1e30f, -0.0f, 8388609.0f, -8388609.5f, NAN, 3.0f};
    float x[83];
    int8_t got[83];
    const p2l_fast_isa *tables[8];
    const int count = p2l_fast_isa_supported(tables, 8);
    for (int i = 0; i < count; i++) {
        if (!tables[i]->hybrid_quantize || !tables[i]->hybrid_range) continue;
        for (int zp = -3; zp <= 3; zp += 3)
            for (size_t n = 1; n <= 83; n += 41) {
                for (size_t j = 0; j < n; j++) x[j] = j < 20 ? special[(j + (size_t)zp + 3) % 20] : rnd(200.0f);
                const float inv = zp == 0 ? 1.0f : 0.5f;
                tables[i]->hybrid_quantize(x, n, inv, zp, got);
                for (size_t j = 0; j < n; j++) {
                    const int32_t want = p2l_clamp_i32(p2l_round_to_i32((float)zp + x[j] * inv), -128, 127);
                    if (got[j] != want) fprintf(stderr, "quantize %g: %d, expected %d\n", (double)x[j], got[j], want);
                    CHECK(got[j] == want);
                }
                float lo = 1, hi = -1, want_lo = 0, want_hi = 0;
                tables[i]->hybrid_range(x, n, &lo, &hi);
                for (size_t j = 0; j < n; j++)
                    want_lo = x[j] < want_lo ? x[j] : want_lo, want_hi = x[j] > want_hi ? x[j] : want_hi;
                CHECK(memcmp(&lo, &want_lo, sizeof lo) == 0 && memcmp(&hi, &want_hi, sizeof hi) == 0);
            }
    }
}

int main(void) {
    RUN(test_quantize_rows);
    RUN(test_conv);
    RUN(test_depthwise);
    const p2l_fast_isa *tables[1];
    if (p2l_fast_isa_supported(tables, 1) > 0 && tables[0]->hybrid_gemm) CHECK(fast_cases > 0);
    printf("%d fast cases of %d\n", fast_cases, cases);
    return check_summary();
}
