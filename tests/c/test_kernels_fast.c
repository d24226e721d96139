/* The fast kernels (x86: AVX2/FMA, AVX-512; aarch64: NEON; threads) against the portable reference
 * kernels, on many shapes: odd sizes, edges, unequal strides, dilations, padding, 1x1, depthwise
 * multipliers, batch > 1, broadcasting, activations, row tails of every length modulo the vector
 * widths, empty tensors, NaN and +-inf (which must give what PyTorch gives); each with 1, 2 and 3
 * threads, and once per ISA table the CPU supports (an AVX-512 CPU runs the AVX2 table too).
 * Where the build has fast kernels for a CPU that supports them (x86 with AVX2 and FMA, aarch64),
 * a run on which no fast kernel ran fails; P2L_EXPECT_FAST_KERNELS=1 demands fast kernels on any
 * CPU (scripts/test_arm.sh sets it). */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "kernels/fast/fast.h"
#include "kernels/quant_math.h"

enum { MAX_IO = 4, MAX_OPTIONS = 64 };

typedef struct spec {
    p2l_op op;
    int inputs;
    p2l_tensor in[MAX_IO];
    int64_t options[MAX_OPTIONS];
    /* Element i passes when |got - expect| <= tolerance |expect| + abs_fraction * M, M the largest
     * finite |expect| of the output: sums of many products can cancel to near zero while their
     * rounding errors are relative to the larger terms. Element-wise ops use abs_fraction 0. */
    double tolerance, abs_fraction;
} spec;

static uint32_t rng_state = 12345;
static float rnd(float scale) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return ((float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
}

static void tensor(p2l_tensor *t, int rank, const int32_t *dims, bool constant, float scale) {
    memset(t, 0, sizeof *t);
    t->dtype = P2L_FLOAT32;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->count = p2l_dims_count(rank, dims);
    t->bytes = t->count * 4;
    float *d = malloc(t->bytes + 4);
    for (size_t i = 0; i < t->count; i++) d[i] = rnd(scale);
    t->data = d;
    t->is_constant = t->known = constant;
}

static void int_tensor(p2l_tensor *t, int n, const int32_t *values) {
    memset(t, 0, sizeof *t);
    t->dtype = P2L_INT32;
    t->rank = 1;
    t->dims[0] = n;
    t->count = (size_t)n;
    t->bytes = (size_t)n * 4;
    int32_t *d = malloc(t->bytes + 4);
    memcpy(d, values, t->bytes);
    t->data = d;
    t->is_constant = t->known = true;
}

static void set_option(spec *s, const char *name, int64_t value) {
    int id = p2l_option_field(s->op, name);
    if (id < 0 || id >= MAX_OPTIONS) {
        fprintf(stderr, "no option %s\n", name);
        abort();
    }
    s->options[id] = value;
}

/* Runs one kernel on the spec's inputs into `out` (its dtype and quantization set by the caller);
 * returns the output (malloc'ed) or NULL on failure. With an offer (fusion tests), *offer gets the
 * taken flags back, and a taken epilogue writes the result. *scratch_used (if not NULL): whether the
 * kernel asked for scratch. */
static void *run_node(const spec *s, const p2l_kernel *k, int threads, p2l_tensor *out, p2l_fusion *offer,
                      bool *scratch_used) {
    p2l_tensor in[MAX_IO];
    p2l_tensor *in_ptr[MAX_IO], *out_ptr[1] = {out};
    for (int i = 0; i < s->inputs; i++) in[i] = s->in[i], in_ptr[i] = &in[i];
    p2l_arena arena = {0};
    p2l_exec exec = {0};
    if (p2l_threadpool_start(threads, 0, &exec.pool)) return NULL;
    p2l_node node = {.op = s->op, .version = 1, .input_count = s->inputs, .output_count = 1, .inputs = in_ptr,
                     .outputs = out_ptr, .options = s->options, .arena = &arena, .exec = &exec};
    p2l_parse_options(&node);
    void *result = NULL, *scratch = NULL;
    p2l_tensor epilogue_out = {.dtype = out->dtype};
    if (offer) {
        node.fusion = *offer;
        if (offer->epilogue) node.fusion.epilogue_output = &epilogue_out;
    }
    if (k->prepare(&node) == P2L_OK) {
        if (offer) {
            offer->unpadded_taken = node.fusion.unpadded_taken;
            offer->epilogue_taken = node.fusion.epilogue_taken;
        }
        if (scratch_used) *scratch_used = node.scratch_bytes > 0;
        CHECK(p2l_round_up_size(node.scratch_bytes, 64, &exec.scratch_stride));
        scratch = malloc(exec.scratch_stride * (size_t)threads + 64);
        exec.scratch = p2l_align_pointer(scratch, 64);
        result = malloc(out->bytes + 4);
        out->data = result;
        if (node.fusion.epilogue_taken) {
            epilogue_out = *out; /* same shape; the kernel holds its address */
            out->data = NULL;    /* output 0 has no memory when the epilogue is fused */
            epilogue_out.data = result;
        }
        if (k->invoke(&node) != P2L_OK) {
            free(result);
            result = NULL;
        }
    } else {
        fprintf(stderr, "prepare failed: %s\n", p2l_last_error());
    }
    free(scratch);
    p2l_threadpool_free(exec.pool);
    p2l_arena_free(&arena);
    return result;
}

/* run_node with a float32 output. */
static float *run_offer(const spec *s, const p2l_kernel *k, int threads, p2l_tensor *out, p2l_fusion *offer) {
    memset(out, 0, sizeof *out);
    out->dtype = P2L_FLOAT32;
    return run_node(s, k, threads, out, offer, NULL);
}
static float *run(const spec *s, const p2l_kernel *k, int threads, p2l_tensor *out) {
    return run_offer(s, k, threads, out, NULL);
}

static int cases, fast_cases;

static const char *current_isa(void) {
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    return isa ? isa->name : "reference";
}

/* The largest finite magnitude (NaN and +-inf skipped). A comparison, not fmax: aarch64 gcc 12
 * crashes vectorizing an fmax reduction (internal compiler error in vect_transform_reduction). */
static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && fabs(v[i]) > m) m = fabs(v[i]);
    return m;
}

/* Compares got with expect (spec's tolerance rule): NaN must meet NaN, an infinity the same one;
 * counts and reports the elements that differ. */
static void check_close(const char *what, int threads, const float *expect, const float *got, size_t count,
                        double tolerance, double abs_fraction) {
    /* results below the normal range may flush to zero (the vector exp does) */
    const double atol = abs_fraction * max_abs(expect, count) + FLT_MIN;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < count; i++) {
        const double e = expect[i], g = got[i];
        const bool ok = isnan(e) ? isnan(g) : isinf(e) ? g == e : fabs(e - g) <= tolerance * fabs(e) + atol;
        if (!ok) {
            if (!bad) first = i;
            bad++;
        }
    }
    check_count++;
    if (bad) {
        check_failures++;
        fprintf(stderr, "%s (%s, %d threads): %zu of %zu differ, first at %zu: %g vs reference %g\n", what,
                current_isa(), threads, bad, count, first, got[first], expect[first]);
    }
}

static void compare(const char *what, spec *s) {
    cases++;
    const p2l_kernel *ref = p2l_reference_kernel_of(s->op), *fast = p2l_kernel_of(s->op, NULL);
    if (fast != ref) fast_cases++;
    p2l_tensor ref_out, fast_out;
    float *expect = run(s, ref, 1, &ref_out);
    CHECK(expect != NULL);
    for (int threads = 1; threads <= 3 && expect; threads++) {
        float *got = run(s, fast, threads, &fast_out);
        CHECK(got != NULL);
        if (!got) continue;
        CHECK_EQ_INT(fast_out.count, ref_out.count);
        CHECK_EQ_INT(fast_out.rank, ref_out.rank);
        check_close(what, threads, expect, got, ref_out.count < fast_out.count ? ref_out.count : fast_out.count,
                    s->tolerance, s->abs_fraction);
        free(got);
    }
    free(expect);
    for (int i = 0; i < s->inputs; i++) free(s->in[i].data);
}

static spec new_spec(p2l_op op, int inputs) {
    spec s;
    memset(&s, 0, sizeof s);
    s.op = op;
    s.inputs = inputs;
    s.tolerance = 2e-5;
    s.abs_fraction = 2e-5;
    return s;
}

/* A convolution; groups > 1: CONV_2D with a filter of c / groups input channels. Strides and
 * dilations per axis. */
static void conv_case_hw(bool depthwise, int groups, int n, int h, int w, int c, int oc, int kh, int kw, int stride_h,
                         int stride_w, int dilation_h, int dilation_w, int padding, int activation, bool bias) {
    spec s = new_spec(depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D, bias ? 3 : 2);
    tensor(&s.in[0], 4, (int32_t[]){n, h, w, c}, false, 1);
    if (depthwise) tensor(&s.in[1], 4, (int32_t[]){1, kh, kw, oc}, true, 1);
    else tensor(&s.in[1], 4, (int32_t[]){oc, kh, kw, c / groups}, true, 1);
    if (bias) tensor(&s.in[2], 1, (int32_t[]){oc}, true, 1);
    set_option(&s, "stride_h", stride_h);
    set_option(&s, "stride_w", stride_w);
    set_option(&s, "dilation_h_factor", dilation_h);
    set_option(&s, "dilation_w_factor", dilation_w);
    set_option(&s, "padding", padding);
    set_option(&s, "fused_activation_function", activation);
    if (depthwise) set_option(&s, "depth_multiplier", c ? oc / c : 1);
    char what[160];
    snprintf(what, sizeof what, "%s n%d %dx%dx%d -> %d groups %d k%dx%d s%dx%d d%dx%d pad%d act%d bias%d",
             depthwise ? "depthwise" : "conv", n, h, w, c, oc, groups, kh, kw, stride_h, stride_w, dilation_h,
             dilation_w, padding, activation, bias);
    compare(what, &s);
}

static void grouped_conv_case(bool depthwise, int groups, int n, int h, int w, int c, int oc, int kh, int kw,
                              int stride, int dilation, int padding, int activation, bool bias) {
    conv_case_hw(depthwise, groups, n, h, w, c, oc, kh, kw, stride, stride, dilation, dilation, padding, activation,
                 bias);
}

static void conv_case(bool depthwise, int n, int h, int w, int c, int oc, int kh, int kw, int stride, int dilation,
                      int padding, int activation, bool bias) {
    grouped_conv_case(depthwise, 1, n, h, w, c, oc, kh, kw, stride, dilation, padding, activation, bias);
}

static void test_conv(void) {
    /* 1x1 (GEMM on the input in place), 1x1 strided (im2col), KxK, odd channel counts around the
     * panel widths (8, 16, 32), batch 2, dilation, SAME and VALID, every clamp. */
    const int ocs[] = {1, 7, 8, 9, 16, 17, 24, 31, 32, 33, 40, 48, 50};
    for (size_t i = 0; i < sizeof ocs / sizeof *ocs; i++) {
        conv_case(false, 1, 5, 7, 3, ocs[i], 1, 1, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
        conv_case(false, 2, 6, 5, 5, ocs[i], 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    }
    conv_case(false, 1, 13, 11, 16, 24, 1, 1, 2, 1, P2L_PAD_VALID, P2L_ACT_RELU6, true);
    conv_case(false, 1, 17, 17, 3, 32, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_RELU6, true);
    conv_case(false, 1, 17, 17, 3, 32, 3, 3, 2, 1, P2L_PAD_VALID, P2L_ACT_NONE, false);
    conv_case(false, 2, 9, 10, 8, 20, 5, 5, 1, 2, P2L_PAD_SAME, P2L_ACT_RELU_N1_TO_1, true);
    conv_case(false, 1, 12, 12, 4, 10, 7, 7, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
    conv_case(false, 1, 4, 4, 64, 96, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    conv_case(false, 1, 3, 3, 300, 70, 3, 3, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true); /* deep k */
    conv_case(false, 1, 40, 40, 8, 16, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);  /* many rows */
    conv_case(false, 1, 5, 5, 3, 8, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_TANH, true);     /* reference path */
    /* AVX-512 panel groups: a full panel with the 8-wide tail (24, 40, 88), a lone full panel in
     * 12-row tiles with every remainder (16, 48, 80), the tail alone (8); row counts around 6 and 12;
     * large enough that two threads split them. */
    const int grouped[] = {8, 16, 24, 40, 48, 80, 88};
    for (size_t i = 0; i < sizeof grouped / sizeof *grouped; i++) {
        conv_case(false, 1, 13, 11, 40, grouped[i], 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_RELU6, true);
        conv_case(false, 1, 5, 7, 24, grouped[i], 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
    }
    /* The first layer of image models: 3 input channels, 3x3 stride 2 (im2col rows of 9 floats),
     * odd sizes, enough rows for several im2col blocks. */
    conv_case(false, 1, 67, 61, 3, 16, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_RELU6, true);
    conv_case(false, 1, 64, 64, 3, 24, 3, 3, 2, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
    conv_case(false, 2, 9, 9, 2, 8, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true); /* 2 channels per tap */
    /* Weights over P2L_GEMM_LARGE_B_BYTES (1.3 MB): tall row blocks, and threads split the columns;
     * 13x11 rows do not divide evenly into the blocks. */
    conv_case(false, 1, 13, 11, 144, 256, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    conv_case(false, 1, 7, 7, 160, 232, 3, 3, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
}

static void test_grouped_conv(void) {
    /* Channels per group in and out (Cg, OCg) around the panel widths, equal and not: 1x1 in place,
     * 1x1 strided (im2col), 3x3 with padding, stride 2, dilation 2, batch 2, every clamp. */
    const int widths[] = {1, 4, 8, 16, 24}, groups[] = {2, 4, 32};
    for (size_t gi = 0; gi < sizeof groups / sizeof *groups; gi++)
        for (size_t i = 0; i < sizeof widths / sizeof *widths; i++)
            for (int other = 0; other < 2; other++) {
                const int g = groups[gi], c = g * widths[i], oc = g * widths[(i + 2 * (size_t)other) % 5];
                grouped_conv_case(false, g, 1, 5, 7, c, oc, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_RELU6, true);
                grouped_conv_case(false, g, 1, 7, 6, c, oc, 1, 1, 2, 1, P2L_PAD_VALID, P2L_ACT_NONE, other);
                grouped_conv_case(false, g, 2, 6, 5, c, oc, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
                grouped_conv_case(false, g, 1, 9, 8, c, oc, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
                grouped_conv_case(false, g, 1, 8, 9, c, oc, 3, 3, 1, 2, P2L_PAD_SAME, P2L_ACT_RELU_N1_TO_1, true);
                grouped_conv_case(false, g, 1, 7, 7, c, oc, 3, 3, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, false);
            }
    /* Many rows (row blocks over both threads), groups of several panels on few rows (a chunk of
     * panels that ends inside a group), ResNeXt / RegNet-like layers, a 1 x K filter (wav2vec2's
     * positional convolution), a single pixel (split attention), TANH (reference path). */
    grouped_conv_case(false, 4, 1, 30, 29, 32, 32, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    grouped_conv_case(false, 2, 1, 40, 40, 16, 16, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
    grouped_conv_case(false, 2, 1, 3, 3, 40, 80, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
    grouped_conv_case(false, 3, 1, 4, 3, 12, 120, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU6, true);
    grouped_conv_case(false, 3, 1, 2, 2, 48, 105, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
    grouped_conv_case(false, 32, 1, 14, 14, 128, 128, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    grouped_conv_case(false, 13, 1, 14, 14, 104, 104, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    grouped_conv_case(false, 16, 1, 1, 50, 64, 64, 1, 17, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
    grouped_conv_case(false, 2, 1, 1, 1, 64, 128, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_RELU, true);
    grouped_conv_case(false, 4, 1, 5, 5, 16, 16, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_TANH, true);
}

static void test_depthwise(void) {
    /* around the vector widths 4 (NEON), 8 (AVX2), 16 (AVX-512, NEON blocks) and 32 (AVX2 blocks) */
    const int channels[] = {1, 3, 6, 8, 13, 23, 32, 37, 40, 72};
    for (size_t i = 0; i < sizeof channels / sizeof *channels; i++) {
        int c = channels[i];
        conv_case(true, 1, 9, 8, c, c, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU6, true);
        conv_case(true, 2, 10, 9, c, c, 3, 3, 2, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
        conv_case(true, 1, 11, 11, c, c, 5, 5, 2, 1, P2L_PAD_SAME, P2L_ACT_RELU, false);
    }
    conv_case(true, 1, 12, 12, 16, 16, 3, 3, 1, 2, P2L_PAD_SAME, P2L_ACT_RELU_N1_TO_1, true);
    conv_case(true, 1, 3, 3, 16, 16, 5, 5, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true); /* window larger than input */
    conv_case(true, 1, 7, 7, 6, 12, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);  /* multiplier 2: reference */
    /* Layers of MobileNet / EfficientNet sizes (interior pixels with all taps unrolled, edge pixels,
     * channel chunks of 7x7 and 14x14 images split over threads), and a 4x4 filter (taps listed). */
    conv_case(true, 1, 14, 14, 240, 240, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU6, true);
    conv_case(true, 1, 7, 7, 576, 576, 5, 5, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
    conv_case(true, 1, 29, 27, 37, 37, 5, 5, 2, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    conv_case(true, 1, 56, 56, 16, 16, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
    conv_case(true, 2, 20, 19, 40, 40, 3, 3, 1, 2, P2L_PAD_SAME, P2L_ACT_RELU6, false);
    conv_case(true, 1, 12, 13, 20, 20, 4, 4, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
}

static void test_unequal_strides(void) {
    /* stride h != w and dilation h != w: a kernel that used one for the other differs */
    for (int depthwise = 0; depthwise <= 1; depthwise++) {
        const int c = depthwise ? 24 : 5, oc = depthwise ? 24 : 17;
        conv_case_hw(depthwise, 1, 1, 13, 11, c, oc, 3, 3, 1, 2, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
        conv_case_hw(depthwise, 1, 2, 12, 13, c, oc, 3, 3, 2, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_RELU, true);
        conv_case_hw(depthwise, 1, 1, 15, 14, c, oc, 3, 2, 3, 2, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU6, true);
        conv_case_hw(depthwise, 1, 1, 14, 15, c, oc, 3, 3, 1, 1, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
        conv_case_hw(depthwise, 1, 1, 14, 15, c, oc, 3, 3, 1, 2, 1, 3, P2L_PAD_VALID, P2L_ACT_NONE, false);
    }
    conv_case_hw(false, 1, 1, 13, 11, 8, 16, 1, 1, 1, 2, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true); /* 1x1 strided */
    conv_case_hw(false, 1, 1, 13, 11, 8, 16, 1, 1, 2, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, true);
    conv_case_hw(false, 4, 1, 9, 10, 16, 32, 3, 3, 2, 1, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true); /* grouped */
}

/* Fusion offers: a zero PAD in front (the kernel reads the unpadded input; the padded one is all NaN
 * so reading it would show) and SiLU / HARD_SWISH after; compared with the reference kernel on the
 * padded input followed by the element-wise op in double precision. */
static void fused_case(bool depthwise, int groups, int h, int w, int c, int oc, int k, int stride, int padding,
                       int activation, const int pads[4], int epilogue) {
    cases++;
    spec s = new_spec(depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D, 3);
    p2l_tensor unpadded;
    tensor(&unpadded, 4, (int32_t[]){1, h, w, c}, false, 1);
    const int ph = h + pads[0] + pads[1], pw = w + pads[2] + pads[3];
    tensor(&s.in[0], 4, (int32_t[]){1, ph, pw, c}, false, 1);
    float *padded = s.in[0].data, *nan_padded = malloc(s.in[0].bytes + 4);
    for (int y = 0; y < ph; y++)
        for (int x = 0; x < pw; x++)
            for (int ch = 0; ch < c; ch++) {
                const int uy = y - pads[0], ux = x - pads[2];
                const bool inside = uy >= 0 && uy < h && ux >= 0 && ux < w;
                padded[((size_t)y * pw + x) * c + ch] = inside ? ((float *)unpadded.data)[((size_t)uy * w + ux) * c + ch] : 0;
                nan_padded[((size_t)y * pw + x) * c + ch] = NAN;
            }
    if (depthwise) tensor(&s.in[1], 4, (int32_t[]){1, k, k, oc}, true, 1);
    else tensor(&s.in[1], 4, (int32_t[]){oc, k, k, c / groups}, true, 1);
    tensor(&s.in[2], 1, (int32_t[]){oc}, true, 1);
    set_option(&s, "stride_h", stride);
    set_option(&s, "stride_w", stride);
    set_option(&s, "dilation_h_factor", 1);
    set_option(&s, "dilation_w_factor", 1);
    set_option(&s, "padding", padding);
    set_option(&s, "fused_activation_function", activation);
    if (depthwise) set_option(&s, "depth_multiplier", 1);
    char what[200];
    snprintf(what, sizeof what, "fused %s %dx%dx%d -> %d groups %d k%d s%d pad%d act%d pads %d,%d,%d,%d epilogue %d",
             depthwise ? "depthwise" : "conv", h, w, c, oc, groups, k, stride, padding, activation, pads[0], pads[1],
             pads[2], pads[3], epilogue);
    p2l_tensor ref_out, fast_out;
    float *expect = run(&s, p2l_reference_kernel_of(s.op), 1, &ref_out);
    CHECK(expect != NULL);
    const bool fast = p2l_fast_kernels_enabled();
    if (fast) fast_cases++;
    for (size_t i = 0; expect && i < ref_out.count; i++) {
        double v = expect[i];
        if (epilogue == P2L_EPILOGUE_SILU) v = v / (1.0 + exp(-v));
        else if (epilogue == P2L_EPILOGUE_HARD_SWISH) v = v * fmin(6.0, fmax(0.0, v + 3.0)) / 6.0;
        expect[i] = (float)v;
    }
    spec fs = s;
    if (fast) fs.in[0].data = nan_padded; /* the fast kernels must read the unpadded input */
    for (int threads = 1; threads <= 3 && expect; threads++) {
        p2l_fusion offer = {.unpadded = &unpadded, .pad_top = pads[0], .pad_left = pads[2], .epilogue = epilogue};
        float *got = run_offer(&fs, p2l_kernel_of(s.op, NULL), threads, &fast_out, &offer);
        CHECK(got != NULL);
        if (!got) continue;
        if (fast) {
            CHECK(offer.unpadded_taken);
            CHECK(offer.epilogue_taken == (epilogue != P2L_EPILOGUE_NONE));
        }
        if (!offer.epilogue_taken) /* reference kernels: apply the op here */
            for (size_t i = 0; i < fast_out.count; i++) {
                double v = got[i];
                if (epilogue == P2L_EPILOGUE_SILU) v = v / (1.0 + exp(-v));
                else if (epilogue == P2L_EPILOGUE_HARD_SWISH) v = v * fmin(6.0, fmax(0.0, v + 3.0)) / 6.0;
                got[i] = (float)v;
            }
        CHECK_EQ_INT(fast_out.count, ref_out.count);
        check_close(what, threads, expect, got, ref_out.count < fast_out.count ? ref_out.count : fast_out.count, 2e-5,
                    2e-5);
        free(got);
    }
    free(expect);
    free(nan_padded);
    free(unpadded.data);
    for (int i = 0; i < s.inputs; i++) free(s.in[i].data);
}

static void test_fusions(void) {
    const int none[4] = {0, 0, 0, 0}, even[4] = {1, 1, 1, 1}, odd[4] = {0, 1, 0, 1}, uneven[4] = {2, 0, 1, 3};
    const int *all_pads[] = {none, even, odd, uneven};
    for (int e = P2L_EPILOGUE_NONE; e <= P2L_EPILOGUE_HARD_SWISH; e++)
        for (size_t p = 0; p < 4; p++) {
            const int *pads = all_pads[p];
            fused_case(false, 1, 9, 8, 5, 19, 3, 1, P2L_PAD_VALID, P2L_ACT_NONE, pads, e);
            fused_case(false, 1, 11, 10, 3, 32, 3, 2, P2L_PAD_VALID, P2L_ACT_RELU6, pads, e);
            fused_case(false, 1, 7, 7, 16, 40, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, pads, e); /* 1x1: in place unpadded */
            fused_case(false, 1, 6, 6, 8, 9, 3, 1, P2L_PAD_SAME, P2L_ACT_RELU, pads, e);
            fused_case(false, 4, 9, 8, 16, 32, 3, 1, P2L_PAD_VALID, P2L_ACT_NONE, pads, e); /* grouped */
            fused_case(false, 2, 11, 10, 48, 48, 3, 2, P2L_PAD_VALID, P2L_ACT_RELU6, pads, e);
            fused_case(false, 32, 7, 7, 128, 64, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, pads, e);
            fused_case(false, 8, 6, 6, 64, 64, 3, 1, P2L_PAD_SAME, P2L_ACT_RELU, pads, e);
            fused_case(true, 1, 12, 11, 37, 37, 3, 2, P2L_PAD_VALID, P2L_ACT_NONE, pads, e);
            fused_case(true, 1, 9, 9, 72, 72, 5, 1, P2L_PAD_SAME, P2L_ACT_RELU6, pads, e);
            fused_case(true, 1, 8, 8, 16, 16, 3, 1, P2L_PAD_VALID, P2L_ACT_RELU, pads, e);
        }
}

static void test_transpose(void) {
    const struct {
        int rank;
        int32_t dims[4], perm[4];
    } cases_[] = {
        {4, {1, 3, 224, 224}, {0, 2, 3, 1}}, /* NCHW -> NHWC at a model's input */
        {4, {2, 5, 7, 9}, {0, 3, 1, 2}},
        {4, {3, 4, 2, 6}, {3, 1, 2, 0}},
        {4, {2, 3, 4, 5}, {1, 0, 2, 3}}, /* rows contiguous: reference */
        {2, {40, 50}, {1, 0}},
        {3, {4, 33, 65}, {2, 0, 1}},
        {3, {70, 1, 45}, {2, 1, 0}},
        {4, {2, 3, 5, 7}, {0, 2, 3, 1}},     /* 3 channels: interleaved 8 rows at a time, and the rest */
        {4, {1, 3, 101, 103}, {0, 2, 3, 1}},
    };
    for (size_t i = 0; i < sizeof cases_ / sizeof *cases_; i++) {
        spec s = new_spec(P2L_OP_TRANSPOSE, 2);
        s.tolerance = s.abs_fraction = 0;
        tensor(&s.in[0], cases_[i].rank, cases_[i].dims, false, 1);
        int_tensor(&s.in[1], cases_[i].rank, cases_[i].perm);
        compare("transpose", &s);
    }
}

static void test_fully_connected(void) {
    /* One row (the matrix-vector path): k with and without a remainder mod 4, every panel grouping. */
    const int shapes[][3] = {{1, 5, 1}, {1, 64, 10}, {3, 17, 17}, {7, 33, 40}, {1, 1280, 1000}, {13, 8, 24},
                             {1, 576, 144}, {1, 37, 8}, {1, 130, 24}, {1, 99, 88}, {1, 576, 1024}, {2, 64, 1000}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        for (int act = 0; act <= 3; act += 3) {
            spec s = new_spec(P2L_OP_FULLY_CONNECTED, 3);
            tensor(&s.in[0], 2, (int32_t[]){shapes[i][0], shapes[i][1]}, false, 1);
            tensor(&s.in[1], 2, (int32_t[]){shapes[i][2], shapes[i][1]}, true, 1);
            tensor(&s.in[2], 1, (int32_t[]){shapes[i][2]}, true, 1);
            set_option(&s, "fused_activation_function", act);
            char what[96];
            snprintf(what, sizeof what, "fully_connected %dx%d -> %d act%d", shapes[i][0], shapes[i][1], shapes[i][2], act);
            compare(what, &s);
        }
    }
}

static void runtime_b_cases(const int32_t (*shapes)[2][4], size_t count);

static void test_batch_matmul(void) {
    for (int adj_y = 0; adj_y <= 1; adj_y++) {
        spec s = new_spec(P2L_OP_BATCH_MATMUL, 2);
        tensor(&s.in[0], 3, (int32_t[]){2, 5, 7}, false, 1);
        tensor(&s.in[1], 2, adj_y ? (int32_t[]){19, 7} : (int32_t[]){7, 19}, true, 1);
        set_option(&s, "adj_y", adj_y);
        compare(adj_y ? "batch_matmul adj_y" : "batch_matmul", &s);
    }
    /* B computed at run time (attention): packed per batch, or once when shared; odd sizes, adj_y;
     * and a broadcast batch dim, which stays on the reference path. */
    const int32_t shapes[][2][4] = {
        {{2, 4, 6}, {2, 6, 3}},          /* per batch */
        {{1, 4, 32, 32}, {1, 4, 32, 32}}, /* attention-sized */
        {{3, 17, 9}, {3, 9, 21}},        /* panels with a tail */
        {{2, 5, 7}, {1, 7, 19}},         /* one B shared by every batch */
        {{2, 3, 5, 7}, {2, 1, 7, 4}},    /* broadcast batch dim: reference */
    };
    runtime_b_cases(shapes, sizeof shapes / sizeof *shapes);
}

/* Up to 8 rows of A per batch (decode attention) are computed from B unpacked; more are packed. Its
 * own test, run last: the inputs are drawn from one sequence, so the earlier tests keep theirs. */
static void test_batch_matmul_few_rows(void) {
    const int32_t shapes[][2][4] = {
        {{1, 4, 3, 64}, {1, 4, 64, 40}}, /* q x K^T / p x V of a decode step */
        {{1, 4, 1, 13}, {1, 4, 13, 5}},  /* one row, a depth not a multiple of 8 */
        {{2, 8, 19}, {1, 19, 11}},       /* 8 rows, one B shared by every batch */
        {{2, 9, 6}, {2, 6, 3}},          /* 9 rows: packed per batch */
        {{2, 12, 7}, {1, 7, 19}},        /* 12 rows: one shared B packed */
    };
    runtime_b_cases(shapes, sizeof shapes / sizeof *shapes);
}

static void runtime_b_cases(const int32_t (*shapes)[2][4], size_t count) {
    for (size_t i = 0; i < count; i++)
        for (int adj_y = 0; adj_y <= 1; adj_y++) {
            const int rank = shapes[i][0][3] ? 4 : 3;
            int32_t b_dims[4];
            memcpy(b_dims, shapes[i][1], sizeof b_dims);
            if (adj_y) { int32_t t = b_dims[rank - 1]; b_dims[rank - 1] = b_dims[rank - 2]; b_dims[rank - 2] = t; }
            spec s = new_spec(P2L_OP_BATCH_MATMUL, 2);
            tensor(&s.in[0], rank, shapes[i][0], false, 1);
            tensor(&s.in[1], rank, b_dims, false, 1);
            set_option(&s, "adj_y", adj_y);
            char what[64];
            snprintf(what, sizeof what, "batch_matmul runtime b, shape pair %zu%s", i, adj_y ? " adj_y" : "");
            compare(what, &s);
        }
}

static void test_binary(void) {
    const p2l_op ops[] = {P2L_OP_ADD, P2L_OP_SUB, P2L_OP_MUL, P2L_OP_DIV, P2L_OP_MAXIMUM, P2L_OP_MINIMUM};
    const int32_t shapes[][2][4] = {
        {{1, 5, 7, 19}, {1, 5, 7, 19}},   /* same shape */
        {{1, 6, 6, 37}, {1, 1, 1, 37}},   /* per channel */
        {{1, 1, 1, 37}, {1, 6, 6, 37}},
        {{2, 3, 4, 5}, {1, 1, 1, 1}},     /* scalar */
        {{1, 1, 1, 1}, {2, 3, 4, 5}},
        {{2, 3, 1, 5}, {1, 1, 4, 1}},     /* both broadcast */
        {{1, 160, 160, 3}, {1, 160, 160, 3}}, /* large: split over threads */
        {{1, 70, 70, 16}, {1, 1, 1, 16}},     /* large per channel (squeeze-excitation scale) */
    };
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            spec s = new_spec(ops[o], 2);
            tensor(&s.in[0], 4, shapes[i][0], false, 2);
            tensor(&s.in[1], 4, shapes[i][1], false, 2);
            s.abs_fraction = 0; /* element-wise, the same operations as the reference */
            if (ops[o] == P2L_OP_DIV) /* keep divisors away from zero */
                for (size_t k = 0; k < s.in[1].count; k++) ((float *)s.in[1].data)[k] += 3.0f;
            if (p2l_option_field(ops[o], "fused_activation_function") >= 0)
                set_option(&s, "fused_activation_function", i % 2 ? P2L_ACT_RELU6 : P2L_ACT_NONE);
            char what[64];
            snprintf(what, sizeof what, "%s shape pair %zu", p2l_op_info_of(ops[o])->name, i);
            compare(what, &s);
        }
}

static void test_unary(void) {
    /* GELU twice: the exact (erf) form, then the tanh form (approximate = 1) */
    const p2l_op ops[] = {P2L_OP_RELU, P2L_OP_RELU6, P2L_OP_RELU_N1_TO_1, P2L_OP_HARD_SWISH, P2L_OP_LOGISTIC,
                          P2L_OP_TANH, P2L_OP_GELU, P2L_OP_GELU};
    const int32_t sizes[] = {1, 2, 7, 8, 14, 17, 1000, 40000, 70001};
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            const bool approximate = ops[o] == P2L_OP_GELU && o + 1 == sizeof ops / sizeof *ops;
            spec s = new_spec(ops[o], 1);
            tensor(&s.in[0], 1, &sizes[i], false, ops[o] == P2L_OP_LOGISTIC ? 30 : 8);
            /* Element-wise: relative error, LOGISTIC's on the tails too (values down to ~1e-13). GELU's
             * erf has an absolute error of ~1.5e-7, so GELU's is absolute where erf is near -1. */
            s.abs_fraction = ops[o] == P2L_OP_GELU ? 1e-7 : 0;
            if (ops[o] == P2L_OP_LOGISTIC) s.tolerance = 2e-6;
            if (ops[o] == P2L_OP_GELU) set_option(&s, "approximate", approximate);
            char what[64];
            snprintf(what, sizeof what, "%s%s x%d", p2l_op_info_of(ops[o])->name, approximate ? " (tanh)" : "",
                     sizes[i]);
            compare(what, &s);
        }
    /* Relative error of LOGISTIC where the result is tiny. */
    spec s = new_spec(P2L_OP_LOGISTIC, 1);
    tensor(&s.in[0], 1, (int32_t[]){64}, false, 1);
    for (int i = 0; i < 64; i++) ((float *)s.in[0].data)[i] = -80.0f + (float)i;
    p2l_tensor ref_out, fast_out;
    float *expect = run(&s, p2l_reference_kernel_of(P2L_OP_LOGISTIC), 1, &ref_out);
    float *got = run(&s, p2l_kernel_of(P2L_OP_LOGISTIC, NULL), 1, &fast_out);
    CHECK(expect && got);
    for (int i = 0; expect && got && i < 64; i++) CHECK(fabs(got[i] - expect[i]) <= 2e-6 * expect[i]);
    free(expect);
    free(got);
    /* Relative error of TANH near zero, both signs, across the switch between its two formulas. */
    for (int i = 0; i < 64; i++) ((float *)s.in[0].data)[i] = (i % 2 ? -1.0f : 1.0f) * 1e-6f * powf(1.35f, (float)i);
    s.op = P2L_OP_TANH;
    expect = run(&s, p2l_reference_kernel_of(P2L_OP_TANH), 1, &ref_out);
    got = run(&s, p2l_kernel_of(P2L_OP_TANH, NULL), 1, &fast_out);
    CHECK(expect && got);
    for (int i = 0; expect && got && i < 64; i++) CHECK(fabs(got[i] - expect[i]) <= 2e-6 * fabs(expect[i]));
    free(expect);
    free(got);
    free(s.in[0].data);
}

static void test_mean(void) {
    const int32_t shapes[][4] = {{1, 7, 7, 3},    {2, 5, 6, 64}, {1, 14, 14, 70}, {3, 1, 1, 130},
                                 {1, 28, 28, 100}, {2, 3, 4, 27}, {1, 5, 5, 14}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int keep = 0; keep <= 1; keep++) {
            spec s = new_spec(P2L_OP_MEAN, 2);
            tensor(&s.in[0], 4, shapes[i], false, 1);
            int_tensor(&s.in[1], 2, (int32_t[]){1, 2});
            set_option(&s, "keep_dims", keep);
            compare("mean over h, w", &s);
        }
    /* the last axis alone (layer norm): rows of odd lengths, enough rows to split over threads;
     * axis -1 and keep_dims both ways */
    const int32_t rows[][3] = {{2, 3, 5}, {1, 32, 128}, {4, 197, 192}, {1, 300, 7}, {1, 1, 1}, {2, 9, 45}, {1, 5, 12}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        for (int keep = 0; keep <= 1; keep++) {
            spec s = new_spec(P2L_OP_MEAN, 2);
            tensor(&s.in[0], 3, rows[i], false, 1);
            int_tensor(&s.in[1], 1, (int32_t[]){keep ? 2 : -1});
            set_option(&s, "keep_dims", keep);
            compare("mean over the last axis", &s);
        }
    spec s = new_spec(P2L_OP_MEAN, 2); /* other axes: reference path */
    tensor(&s.in[0], 4, (int32_t[]){2, 3, 4, 5}, false, 1);
    int_tensor(&s.in[1], 1, (int32_t[]){2});
    compare("mean over w", &s);
}

static void test_pool(void) {
    const p2l_op ops[] = {P2L_OP_MAX_POOL_2D, P2L_OP_AVERAGE_POOL_2D};
    const int channels[] = {3, 5, 8, 21, 37};
    for (size_t o = 0; o < 2; o++)
        for (int padding = 0; padding <= 1; padding++)
            for (size_t i = 0; i < sizeof channels / sizeof *channels; i++) {
                const int c = channels[i];
                spec s = new_spec(ops[o], 1);
                tensor(&s.in[0], 4, c == 37 ? (int32_t[]){1, 48, 45, c} : (int32_t[]){2, 11, 10, c}, false, 1);
                set_option(&s, "stride_h", 2);
                set_option(&s, "stride_w", 2);
                set_option(&s, "filter_height", 3);
                set_option(&s, "filter_width", 3);
                set_option(&s, "padding", padding);
                set_option(&s, "fused_activation_function",
                           c == 5 ? P2L_ACT_RELU : c == 3 ? P2L_ACT_RELU6 : P2L_ACT_NONE);
                if (ops[o] == P2L_OP_MAX_POOL_2D) s.abs_fraction = 0; /* exact */
                compare(p2l_op_info_of(ops[o])->name, &s);
            }
    /* unequal strides and filter sides */
    const int geometry[][4] = {{1, 2, 2, 3}, {2, 1, 3, 2}, {3, 2, 3, 3}, {2, 3, 1, 4}}; /* stride h, w; filter h, w */
    for (size_t o = 0; o < 2; o++)
        for (size_t g = 0; g < sizeof geometry / sizeof *geometry; g++) {
            spec s = new_spec(ops[o], 1);
            tensor(&s.in[0], 4, (int32_t[]){2, 13, 11, 19}, false, 1);
            set_option(&s, "stride_h", geometry[g][0]);
            set_option(&s, "stride_w", geometry[g][1]);
            set_option(&s, "filter_height", geometry[g][2]);
            set_option(&s, "filter_width", geometry[g][3]);
            set_option(&s, "padding", (int)g % 2 ? P2L_PAD_SAME : P2L_PAD_VALID);
            compare(p2l_op_info_of(ops[o])->name, &s);
        }
}

static void test_softmax(void) {
    const int32_t shapes[][2] = {{1, 10}, {3, 1000}, {4, 7}, {2, 1}, {20, 1001}, {3, 4}, {2, 13}, {1, 16}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int b = 0; b < 2; b++) {
            spec s = new_spec(P2L_OP_SOFTMAX, 1);
            tensor(&s.in[0], 2, shapes[i], false, 5);
            set_option(&s, "beta", (int64_t)p2l_f32_bits(b ? 0.5f : 1.0f));
            s.tolerance = 1e-6;
            s.abs_fraction = 0;
            compare("softmax", &s);
        }
}

static void test_pad(void) {
    const int32_t pads[][8] = {
        {0, 0, 1, 1, 1, 1, 0, 0}, /* H and W (before a VALID conv) */
        {0, 0, 0, 1, 0, 1, 0, 0},
        {0, 0, 0, 0, 0, 0, 2, 3}, /* channels */
        {1, 0, 2, 1, 0, 3, 1, 1}, /* everything */
    };
    for (size_t i = 0; i < 2 * sizeof pads / sizeof *pads; i++) {
        spec s = new_spec(P2L_OP_PAD, 2);
        const bool large = i >= sizeof pads / sizeof *pads; /* split over threads */
        tensor(&s.in[0], 4, large ? (int32_t[]){1, 60, 57, 24} : (int32_t[]){2, 9, 7, 5}, false, 1);
        int_tensor(&s.in[1], 8, pads[i % (sizeof pads / sizeof *pads)]);
        s.in[1].rank = 2, s.in[1].dims[0] = 4, s.in[1].dims[1] = 2;
        compare("pad", &s);
    }
}

/* ------------------------------------------------------------ NaN, +-inf and empty tensors */

static const float specials[] = {NAN,   INFINITY, -INFINITY, 0.0f,   -0.0f,  1.0f,   -1.0f,   3.0f,
                                 -3.0f, 6.0f,     7.0f,      -7.0f,  100.0f, -100.0f, 88.5f,  -88.5f,
                                 1e-30f, -1e-30f, 3.0e38f,   -3.0e38f};
enum { SPECIALS = sizeof specials / sizeof *specials };

/* Every `every`-th element of t (from `start`) becomes the next special value. */
static void sprinkle(p2l_tensor *t, size_t start, size_t every) {
    float *d = t->data;
    for (size_t i = start, k = 0; i < t->count; i += every, k++) d[i] = specials[k % SPECIALS];
}

/* Runs op on one row of values with a kernel; returns the output (malloc'ed). */
static float *run_values(p2l_op op, const float *values, size_t n, int approximate, bool fast) {
    spec s = new_spec(op, 1);
    tensor(&s.in[0], 1, (int32_t[]){(int32_t)n}, false, 1);
    memcpy(s.in[0].data, values, n * sizeof(float));
    if (op == P2L_OP_GELU) set_option(&s, "approximate", approximate);
    if (op == P2L_OP_SOFTMAX) set_option(&s, "beta", (int64_t)p2l_f32_bits(1.0f));
    p2l_tensor out;
    float *got = run(&s, fast ? p2l_kernel_of(op, NULL) : p2l_reference_kernel_of(op), 1, &out);
    free(s.in[0].data);
    return got;
}

static bool same_value(float got, float expect) {
    return isnan(expect) ? isnan(got) : got == expect || fabs((double)got - expect) <= 1e-6 * fabs((double)expect);
}

/* What PyTorch gives (torch 2.x eager: torch.relu, F.relu6, F.hardtanh, F.hardswish, torch.sigmoid,
 * torch.tanh, F.gelu both forms) for NaN, +inf, -inf: NaN goes through every one, and x * 0 at -inf
 * makes hardswish and gelu NaN there. Checked on both kernels, the values in the vector body and in
 * the tail of a row. */
static void test_special_values_pytorch(void) {
    const struct {
        p2l_op op;
        int approximate;
        float nan_, inf_, minus_inf;
    } cases_[] = {
        {P2L_OP_RELU, 0, NAN, INFINITY, 0.0f},       {P2L_OP_RELU6, 0, NAN, 6.0f, 0.0f},
        {P2L_OP_RELU_N1_TO_1, 0, NAN, 1.0f, -1.0f},  {P2L_OP_HARD_SWISH, 0, NAN, INFINITY, NAN},
        {P2L_OP_LOGISTIC, 0, NAN, 1.0f, 0.0f},       {P2L_OP_TANH, 0, NAN, 1.0f, -1.0f},
        {P2L_OP_GELU, 0, NAN, INFINITY, NAN},        {P2L_OP_GELU, 1, NAN, INFINITY, NAN},
        {P2L_OP_EXP, 0, NAN, INFINITY, 0.0f},
    };
    for (size_t c = 0; c < sizeof cases_ / sizeof *cases_; c++)
        for (int fast = 0; fast <= 1; fast++) {
            float in[37];
            for (int i = 0; i < 37; i++) in[i] = 0.25f * (float)(i % 5);
            const int at[2] = {3, 34}; /* the vector body, the tail */
            for (int k = 0; k < 2; k++) in[at[k]] = NAN, in[at[k] + 1] = INFINITY, in[at[k] + 2] = -INFINITY;
            float *got = run_values(cases_[c].op, in, 37, cases_[c].approximate, fast);
            CHECK(got != NULL);
            for (int k = 0; got && k < 2; k++) {
                const float expect[3] = {cases_[c].nan_, cases_[c].inf_, cases_[c].minus_inf};
                for (int j = 0; j < 3; j++)
                    if (!same_value(got[at[k] + j], expect[j])) {
                        check_failures++;
                        fprintf(stderr, "%s%s (%s) of %g: %g, PyTorch gives %g\n", p2l_op_info_of(cases_[c].op)->name,
                                cases_[c].approximate ? " (tanh)" : "", fast ? current_isa() : "reference",
                                in[at[k] + j], got[at[k] + j], expect[j]);
                    }
            }
            check_count++;
            free(got);
        }
    /* SOFTMAX rows as PyTorch: a NaN or +inf anywhere makes the row NaN; -inf entries give 0; all
     * -inf is NaN. Rows of 3 and of 21 (vector body and tail), the special value at each place. */
    for (int fast = 0; fast <= 1; fast++)
        for (size_t n = 3; n <= 21; n += 18)
            for (size_t at = 0; at < n; at += n == 3 ? 1 : 4) {
                const float special[3] = {NAN, INFINITY, -INFINITY};
                for (int k = 0; k < 3; k++) {
                    float in[21];
                    for (size_t i = 0; i < n; i++) in[i] = (float)(i % 3);
                    in[at] = special[k];
                    float *got = run_values(P2L_OP_SOFTMAX, in, n, 0, fast);
                    CHECK(got != NULL);
                    for (size_t i = 0; got && i < n; i++) {
                        const bool want_nan = k < 2;
                        CHECK(want_nan ? isnan(got[i]) : i == at ? got[i] == 0.0f : got[i] > 0.0f && got[i] < 1.0f);
                    }
                    free(got);
                }
                float in[21];
                for (size_t i = 0; i < n; i++) in[i] = -INFINITY;
                float *got = run_values(P2L_OP_SOFTMAX, in, n, 0, fast);
                CHECK(got != NULL);
                for (size_t i = 0; got && i < n; i++) CHECK(isnan(got[i]));
                free(got);
            }
}

/* The fast kernels against the reference on inputs with NaN and +-inf among ordinary values: the
 * NaNs must land in the same places and the infinities be the same. */
static void test_special_values(void) {
    const p2l_op unary[] = {P2L_OP_RELU, P2L_OP_RELU6, P2L_OP_RELU_N1_TO_1, P2L_OP_HARD_SWISH, P2L_OP_LOGISTIC,
                            P2L_OP_TANH, P2L_OP_GELU, P2L_OP_GELU};
    for (size_t o = 0; o < sizeof unary / sizeof *unary; o++)
        for (int32_t n = 1; n <= 1001; n += 125) {
            spec s = new_spec(unary[o], 1);
            s.abs_fraction = unary[o] == P2L_OP_GELU ? 1e-7 : 0;
            if (unary[o] == P2L_OP_LOGISTIC) s.tolerance = 2e-6;
            tensor(&s.in[0], 1, &n, false, 8);
            sprinkle(&s.in[0], (size_t)n % 7, 3);
            if (unary[o] == P2L_OP_GELU) set_option(&s, "approximate", o + 1 == sizeof unary / sizeof *unary);
            compare("unary with NaN and inf", &s);
        }
    const p2l_op binary[] = {P2L_OP_ADD, P2L_OP_SUB, P2L_OP_MUL, P2L_OP_DIV, P2L_OP_MAXIMUM, P2L_OP_MINIMUM};
    const int32_t shapes[][2][2] = {{{7, 19}, {7, 19}}, {{6, 37}, {1, 37}}, {{6, 37}, {1, 1}}, {{1, 1}, {6, 37}}};
    for (size_t o = 0; o < sizeof binary / sizeof *binary; o++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int which = 0; which < 3; which++) { /* NaN and inf in a, in b, in both */
                spec s = new_spec(binary[o], 2);
                s.abs_fraction = 0;
                tensor(&s.in[0], 2, shapes[i][0], false, 4);
                tensor(&s.in[1], 2, shapes[i][1], false, 4);
                if (which != 1) sprinkle(&s.in[0], 0, s.in[0].count > 1 ? 5 : 1);
                if (which != 0) sprinkle(&s.in[1], 2, s.in[1].count > 1 ? 3 : 1);
                if (p2l_option_field(binary[o], "fused_activation_function") >= 0)
                    set_option(&s, "fused_activation_function", which == 2 ? P2L_ACT_RELU6 : P2L_ACT_RELU);
                char what[80];
                snprintf(what, sizeof what, "%s with NaN and inf, shape pair %zu, operand %d",
                         p2l_op_info_of(binary[o])->name, i, which);
                compare(what, &s);
            }
    /* PyTorch's maximum / minimum: NaN from either side, the first operand on ties */
    const float a[] = {NAN, 1.0f, NAN, -INFINITY, INFINITY, -0.0f, 0.0f, 2.0f};
    const float b[] = {1.0f, NAN, NAN, 1.0f, 1.0f, 0.0f, -0.0f, 3.0f};
    const float max_expect[] = {NAN, NAN, NAN, 1.0f, INFINITY, -0.0f, 0.0f, 3.0f};
    const float min_expect[] = {NAN, NAN, NAN, -INFINITY, 1.0f, -0.0f, 0.0f, 2.0f};
    for (int fast = 0; fast <= 1; fast++)
        for (int max = 0; max <= 1; max++) {
            spec s = new_spec(max ? P2L_OP_MAXIMUM : P2L_OP_MINIMUM, 2);
            tensor(&s.in[0], 1, (int32_t[]){8}, false, 1);
            tensor(&s.in[1], 1, (int32_t[]){8}, false, 1);
            memcpy(s.in[0].data, a, sizeof a);
            memcpy(s.in[1].data, b, sizeof b);
            p2l_tensor out;
            float *got = run(&s, fast ? p2l_kernel_of(s.op, NULL) : p2l_reference_kernel_of(s.op), 1, &out);
            CHECK(got != NULL);
            for (int i = 0; got && i < 8; i++) {
                const float e = max ? max_expect[i] : min_expect[i];
                CHECK(isnan(e) ? isnan(got[i]) : got[i] == e && signbit(got[i]) == signbit(e));
            }
            free(got);
            free(s.in[0].data);
            free(s.in[1].data);
        }
    /* pooling: a NaN anywhere in a window makes it NaN (max and average), every channel lane */
    for (int o = 0; o < 2; o++)
        for (int c = 1; c <= 19; c += 9) {
            spec s = new_spec(o ? P2L_OP_AVERAGE_POOL_2D : P2L_OP_MAX_POOL_2D, 1);
            if (o == 0) s.abs_fraction = 0;
            tensor(&s.in[0], 4, (int32_t[]){1, 9, 10, c}, false, 1);
            sprinkle(&s.in[0], 4, 23);
            set_option(&s, "stride_h", 2);
            set_option(&s, "stride_w", 3);
            set_option(&s, "filter_height", 3);
            set_option(&s, "filter_width", 2);
            set_option(&s, "padding", P2L_PAD_SAME);
            set_option(&s, "fused_activation_function", c == 10 ? P2L_ACT_RELU : P2L_ACT_NONE);
            compare(o ? "average pool with NaN and inf" : "max pool with NaN and inf", &s);
        }
    for (int fast = 0; fast <= 1; fast++) { /* PyTorch: max_pool2d of [[1, nan], [3, 4]] is nan */
        spec s = new_spec(P2L_OP_MAX_POOL_2D, 1);
        tensor(&s.in[0], 4, (int32_t[]){1, 2, 2, 9}, false, 1);
        float *d = s.in[0].data;
        for (int ch = 0; ch < 9; ch++) d[ch] = 1, d[9 + ch] = ch % 2 ? NAN : 2, d[18 + ch] = 3, d[27 + ch] = ch % 3 ? 4 : NAN;
        set_option(&s, "stride_h", 2);
        set_option(&s, "stride_w", 2);
        set_option(&s, "filter_height", 2);
        set_option(&s, "filter_width", 2);
        set_option(&s, "padding", P2L_PAD_VALID);
        p2l_tensor out;
        float *got = run(&s, fast ? p2l_kernel_of(s.op, NULL) : p2l_reference_kernel_of(s.op), 1, &out);
        CHECK(got != NULL);
        for (int ch = 0; got && ch < 9; ch++) CHECK(ch % 2 || ch % 3 == 0 ? isnan(got[ch]) : got[ch] == 4);
        free(got);
        free(s.in[0].data);
    }
    /* softmax rows with NaN / inf against the reference */
    for (int32_t n = 3; n <= 1003; n += 200) {
        spec s = new_spec(P2L_OP_SOFTMAX, 1);
        s.tolerance = 1e-6, s.abs_fraction = 0;
        tensor(&s.in[0], 2, (int32_t[]){4, n}, false, 5);
        float *d = s.in[0].data;
        d[1] = NAN, d[n + 2] = INFINITY, d[2 * n] = -INFINITY, d[3 * n + n - 1] = -INFINITY;
        set_option(&s, "beta", (int64_t)p2l_f32_bits(1.0f));
        compare("softmax with NaN and inf", &s);
    }
    /* convolutions and matrix products with NaN / inf inputs and clamps: NaN stays NaN */
    for (int act = P2L_ACT_NONE; act <= P2L_ACT_RELU6; act++) {
        if (act == 2) continue; /* RELU_N1_TO_1 is 2 only in TFLite's numbering below; the loop visits 0, 1, 3 */
        spec s = new_spec(P2L_OP_CONV_2D, 3);
        tensor(&s.in[0], 4, (int32_t[]){1, 9, 8, 5}, false, 1);
        sprinkle(&s.in[0], 11, 37);
        tensor(&s.in[1], 4, (int32_t[]){17, 3, 3, 5}, true, 1);
        tensor(&s.in[2], 1, (int32_t[]){17}, true, 1);
        set_option(&s, "stride_h", 1), set_option(&s, "stride_w", 1);
        set_option(&s, "dilation_h_factor", 1), set_option(&s, "dilation_w_factor", 1);
        set_option(&s, "padding", P2L_PAD_SAME);
        set_option(&s, "fused_activation_function", act);
        compare("conv with NaN and inf", &s);
        spec d = new_spec(P2L_OP_DEPTHWISE_CONV_2D, 3);
        tensor(&d.in[0], 4, (int32_t[]){1, 9, 8, 21}, false, 1);
        sprinkle(&d.in[0], 5, 41);
        tensor(&d.in[1], 4, (int32_t[]){1, 3, 3, 21}, true, 1);
        tensor(&d.in[2], 1, (int32_t[]){21}, true, 1);
        set_option(&d, "stride_h", 1), set_option(&d, "stride_w", 1);
        set_option(&d, "dilation_h_factor", 1), set_option(&d, "dilation_w_factor", 1);
        set_option(&d, "padding", P2L_PAD_SAME);
        set_option(&d, "depth_multiplier", 1);
        set_option(&d, "fused_activation_function", act);
        compare("depthwise with NaN and inf", &d);
        for (int rows = 1; rows <= 7; rows += 6) {
            spec f = new_spec(P2L_OP_FULLY_CONNECTED, 3);
            tensor(&f.in[0], 2, (int32_t[]){rows, 33}, false, 1);
            sprinkle(&f.in[0], 3, 29);
            tensor(&f.in[1], 2, (int32_t[]){40, 33}, true, 1);
            tensor(&f.in[2], 1, (int32_t[]){40}, true, 1);
            set_option(&f, "fused_activation_function", act);
            compare("fully_connected with NaN and inf", &f);
        }
    }
}

/* Empty tensors: nothing to compute, and nothing may fail or be touched. */
static void test_empty(void) {
    const p2l_op unary[] = {P2L_OP_RELU, P2L_OP_LOGISTIC, P2L_OP_TANH, P2L_OP_GELU};
    for (size_t o = 0; o < sizeof unary / sizeof *unary; o++) {
        spec s = new_spec(unary[o], 1);
        tensor(&s.in[0], 2, (int32_t[]){0, 5}, false, 1);
        compare("empty unary", &s);
    }
    const int32_t shapes[][2][2] = {{{0, 5}, {0, 5}}, {{0, 5}, {1, 5}}, {{3, 0}, {1, 1}}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        spec s = new_spec(P2L_OP_ADD, 2);
        tensor(&s.in[0], 2, shapes[i][0], false, 1);
        tensor(&s.in[1], 2, shapes[i][1], false, 1);
        compare("empty add", &s);
    }
    spec s = new_spec(P2L_OP_SOFTMAX, 1);
    tensor(&s.in[0], 2, (int32_t[]){0, 10}, false, 1);
    set_option(&s, "beta", (int64_t)p2l_f32_bits(1.0f));
    compare("empty softmax", &s);
    for (int o = 0; o < 2; o++) {
        spec p = new_spec(o ? P2L_OP_AVERAGE_POOL_2D : P2L_OP_MAX_POOL_2D, 1);
        tensor(&p.in[0], 4, (int32_t[]){0, 6, 6, 3}, false, 1);
        set_option(&p, "stride_h", 2), set_option(&p, "stride_w", 2);
        set_option(&p, "filter_height", 2), set_option(&p, "filter_width", 2);
        set_option(&p, "padding", P2L_PAD_VALID);
        compare("empty pool", &p);
    }
    conv_case(false, 0, 5, 5, 3, 8, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, true);
    conv_case(true, 0, 5, 5, 8, 8, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, true);
    spec f = new_spec(P2L_OP_FULLY_CONNECTED, 3);
    tensor(&f.in[0], 2, (int32_t[]){0, 16}, false, 1);
    tensor(&f.in[1], 2, (int32_t[]){8, 16}, true, 1);
    tensor(&f.in[2], 1, (int32_t[]){8}, true, 1);
    compare("empty fully_connected", &f);
    spec m = new_spec(P2L_OP_MEAN, 2);
    tensor(&m.in[0], 3, (int32_t[]){0, 4, 6}, false, 1);
    int_tensor(&m.in[1], 1, (int32_t[]){2});
    compare("empty mean", &m);
}

/* ------------------------------------------------------------ int8 (fast/int8.c) against the reference
 * Bit-exact: the int8 kernels requantize with the reference arithmetic. Random int8 data, symmetric
 * per-channel (or per-tensor) weights, int32 bias, zero points across the range, 1 to 3 threads. */

static void int8_tensor(p2l_tensor *t, int rank, const int32_t *dims, bool constant, int quant_count, int dim,
                        float scale, int zero_point) {
    memset(t, 0, sizeof *t);
    t->dtype = P2L_INT8;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->count = p2l_dims_count(rank, dims);
    t->bytes = t->count;
    int8_t *d = malloc(t->bytes + 16);
    for (size_t i = 0; i < t->count; i++) d[i] = (int8_t)(int)floorf(rnd(128.0f));
    t->data = d;
    t->is_constant = t->known = constant;
    float *scales = malloc((size_t)quant_count * sizeof *scales);
    int64_t *zero_points = malloc((size_t)quant_count * sizeof *zero_points);
    for (int i = 0; i < quant_count; i++) scales[i] = scale * (1.0f + 0.5f * rnd(1.0f)), zero_points[i] = zero_point;
    t->quant_count = quant_count, t->quantized_dimension = dim, t->scales = scales, t->zero_points = zero_points;
}

static void free_tensor(p2l_tensor *t) {
    free(t->data);
    free((void *)t->scales);
    free((void *)t->zero_points);
}

/* Runs kernel k on the node of `s` with an int8 output (scale, zero point); returns the output bytes
 * and whether the kernel asked for scratch (the int8 fast paths do, the reference kernels do not). */
static int8_t *run_int8(const spec *s, const p2l_kernel *k, int threads, float out_scale, int out_zero_point,
                        size_t *count, bool *scratch_used) {
    p2l_tensor out = {.dtype = P2L_INT8, .quant_count = 1, .scales = &out_scale,
                      .zero_points = &(int64_t){out_zero_point}};
    int8_t *result = run_node(s, k, threads, &out, NULL, scratch_used);
    *count = out.count;
    return result;
}

/* expect_fast: the ISA's int8 loops must have run (where it has them). */
static void compare_int8(const char *what, const spec *s, float out_scale, int out_zero_point, bool expect_fast) {
    size_t n_ref = 0, n_fast = 0;
    bool unused, fast = false;
    int8_t *expect = run_int8(s, p2l_reference_kernel_of(s->op), 1, out_scale, out_zero_point, &n_ref, &unused);
    CHECK(expect != NULL);
    const p2l_kernel *k = p2l_int8_fast_kernel(s->op);
    CHECK(k != NULL);
    for (int threads = 1; expect && k && threads <= 3; threads++) {
        int8_t *got = run_int8(s, k, threads, out_scale, out_zero_point, &n_fast, &fast);
        CHECK(got != NULL && n_fast == n_ref);
        if (got && n_fast == n_ref && memcmp(got, expect, n_ref) != 0) {
            size_t i = 0;
            while (got[i] == expect[i]) i++;
            fprintf(stderr, "%s [%s, %d threads]: element %zu is %d, reference %d\n", what, current_isa(), threads, i,
                    got[i], expect[i]);
            CHECK(false);
        }
        free(got);
    }
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (expect_fast && isa && isa->i8_gemm && !fast) fprintf(stderr, "%s [%s]: not on the fast path\n", what, isa->name);
    CHECK(!(expect_fast && isa && isa->i8_gemm) || fast);
    cases++;
    if (fast) fast_cases++;
    free(expect);
}

static void int8_conv_case(bool depthwise, int n, int h, int w, int c, int oc, int kh, int kw, int stride,
                           int dilation, int padding, int activation, int in_zero_point, int out_zero_point,
                           bool per_channel, bool bias) {
    spec s = new_spec(depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D, bias ? 3 : 2);
    const int channels_dim = depthwise ? 3 : 0;
    int8_tensor(&s.in[0], 4, (int32_t[]){n, h, w, c}, false, 1, 0, 0.05f, in_zero_point);
    int8_tensor(&s.in[1], 4, depthwise ? (int32_t[]){1, kh, kw, oc} : (int32_t[]){oc, kh, kw, c}, true,
                per_channel ? oc : 1, channels_dim, 0.01f, 0);
    if (bias) {
        int32_t *values = malloc((size_t)oc * sizeof *values);
        for (int i = 0; i < oc; i++) values[i] = (int32_t)rnd(20000.0f);
        int_tensor(&s.in[2], oc, values);
        free(values);
    }
    set_option(&s, "padding", padding);
    set_option(&s, "stride_h", stride);
    set_option(&s, "stride_w", stride);
    set_option(&s, "dilation_h_factor", dilation);
    set_option(&s, "dilation_w_factor", dilation);
    set_option(&s, "fused_activation_function", activation);
    if (depthwise) set_option(&s, "depth_multiplier", oc / c);
    char what[160];
    snprintf(what, sizeof what, "int8 %s %dx%dx%dx%d -> %d, %dx%d s%d d%d pad %d act %d zp %d/%d%s",
             depthwise ? "depthwise" : "conv", n, h, w, c, oc, kh, kw, stride, dilation, padding, activation,
             in_zero_point, out_zero_point, per_channel ? " per-channel" : "");
    compare_int8(what, &s, 0.02f + 0.1f * (float)(kh * kw) / 9.0f, out_zero_point, !depthwise || oc == c);
    for (int i = 0; i < s.inputs; i++) free_tensor(&s.in[i]);
}

/* Inputs and weights only at the int8 extremes (-128, 127): the pair sums of the k-pair GEMM and
 * depthwise (two products of -128 * -128, or (x + offset) = -255 times -128) at their largest. */
static void int8_extremes(p2l_tensor *t) {
    int8_t *d = t->data;
    for (size_t i = 0; i < t->count; i++) d[i] = rnd(1.0f) < 0.0f ? -128 : 127;
}

static void int8_extreme_case(bool depthwise, int c, int oc, int k, int in_zero_point) {
    spec s = new_spec(depthwise ? P2L_OP_DEPTHWISE_CONV_2D : P2L_OP_CONV_2D, 2);
    int8_tensor(&s.in[0], 4, (int32_t[]){1, 7, 6, c}, false, 1, 0, 0.05f, in_zero_point);
    int8_tensor(&s.in[1], 4, depthwise ? (int32_t[]){1, k, k, oc} : (int32_t[]){oc, k, k, c}, true, oc,
                depthwise ? 3 : 0, 0.01f, 0);
    int8_extremes(&s.in[0]);
    int8_extremes(&s.in[1]);
    set_option(&s, "padding", P2L_PAD_SAME);
    set_option(&s, "stride_h", 1);
    set_option(&s, "stride_w", 1);
    set_option(&s, "dilation_h_factor", 1);
    set_option(&s, "dilation_w_factor", 1);
    set_option(&s, "fused_activation_function", P2L_ACT_NONE);
    if (depthwise) set_option(&s, "depth_multiplier", 1);
    char what[128];
    snprintf(what, sizeof what, "int8 %s of extremes %d -> %d, %dx%d, zero point %d", depthwise ? "depthwise" : "conv",
             c, oc, k, k, in_zero_point);
    compare_int8(what, &s, 40.0f * (float)(k * k), 0, true);
    for (int i = 0; i < s.inputs; i++) free_tensor(&s.in[i]);
}

static void test_int8_conv(void) {
    for (int z = -128; z <= 127; z += 255) {
        int8_extreme_case(false, 19, 24, 3, z);
        int8_extreme_case(false, 64, 33, 1, z);
        int8_extreme_case(true, 40, 40, 3, z);
        int8_extreme_case(true, 21, 21, 2, z);
    }
    const int zero_points[][2] = {{0, 0}, {-128, 127}, {127, -128}, {-17, 5}};
    for (int z = 0; z < 4; z++) {
        const int zi = zero_points[z][0], zo = zero_points[z][1];
        int8_conv_case(false, 1, 8, 8, 3, 16, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, true);
        int8_conv_case(false, 1, 9, 7, 16, 33, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_RELU, zi, zo, true, true);
        int8_conv_case(false, 2, 6, 5, 17, 7, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU6, zi, zo, false, false);
        int8_conv_case(false, 1, 11, 10, 40, 24, 3, 3, 1, 2, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, true);
        int8_conv_case(false, 1, 7, 9, 5, 6, 5, 3, 3, 1, P2L_PAD_VALID, P2L_ACT_NONE, zi, zo, true, true);
        int8_conv_case(false, 1, 14, 14, 64, 70, 1, 1, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, true);
        int8_conv_case(false, 1, 20, 20, 8, 16, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, zi, zo, true, true);
        int8_conv_case(true, 1, 10, 9, 32, 32, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU6, zi, zo, true, true);
        int8_conv_case(true, 2, 9, 11, 13, 13, 3, 3, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, false);
        int8_conv_case(true, 1, 12, 12, 40, 40, 5, 5, 2, 1, P2L_PAD_VALID, P2L_ACT_RELU, zi, zo, false, true);
        int8_conv_case(true, 1, 8, 8, 8, 16, 3, 3, 1, 2, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, true);
        /* panel tails (24 = 16 + 8, 40 = 16 + 16 + 8), odd k, rows past a multiple of 6 */
        int8_conv_case(false, 1, 13, 7, 24, 24, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, zi, zo, true, true);
        int8_conv_case(false, 1, 5, 5, 1, 40, 3, 3, 1, 1, P2L_PAD_SAME, P2L_ACT_RELU, zi, zo, true, false);
        int8_conv_case(false, 1, 3, 1, 7, 9, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_NONE, zi, zo, true, true);
        /* depthwise: an even tap count, one tap, channels in 16s, 8s and single ones */
        int8_conv_case(true, 1, 9, 8, 24, 24, 2, 2, 1, 1, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, true);
        int8_conv_case(true, 1, 6, 7, 7, 7, 1, 1, 1, 1, P2L_PAD_VALID, P2L_ACT_RELU6, zi, zo, true, true);
        int8_conv_case(true, 1, 11, 11, 57, 57, 7, 7, 2, 1, P2L_PAD_SAME, P2L_ACT_NONE, zi, zo, true, true);
    }
}

/* The ISA's requantization row against quant_math.h's scalar arithmetic directly, over the whole int32
 * range of sums (ties of the rounding included), multipliers below and above 1, odd channel counts and
 * offsets, and activation ranges. */
static void test_int8_requantize(void) {
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || !isa->i8_requantize) return;
    enum { CHANNELS = 77 };
    int32_t multiplier[CHANNELS], left[CHANNELS], right[CHANNELS], acc[CHANNELS], bias[CHANNELS];
    p2l_multiplier m[CHANNELS];
    for (int trial = 0; trial < 400; trial++) {
        for (int c = 0; c < CHANNELS; c++) {
            /* reals from 2^-30 to 2^6 */
            m[c] = p2l_quantize_multiplier(ldexp(1.0 + 0.5 * (double)rnd(1.0f), (int)floorf(rnd(18.0f)) - 12 - trial % 13));
            multiplier[c] = m[c].multiplier, left[c] = m[c].shift > 0 ? m[c].shift : 0;
            right[c] = m[c].shift > 0 ? 0 : -m[c].shift;
            const int bits = 1 + (trial * 7 + c) % 30; /* sums of every magnitude */
            acc[c] = (int32_t)(rnd(1.0f) * (float)((int64_t)1 << bits));
            if (c % 5 == 0) acc[c] = (int32_t)((uint32_t)acc[c] | ((1u << right[c]) >> 1)); /* ties */
            bias[c] = (int32_t)rnd(1000.0f);
        }
        const int32_t zero_point = (int32_t)rnd(128.0f);
        const p2l_i8_requant rq = {multiplier, left, right, zero_point, trial % 3 ? -128 : -20,
                                   trial % 4 ? 127 : 100};
        const bool with_bias = trial % 2;
        const size_t c0 = (size_t)trial % 9, count = CHANNELS - c0 - (size_t)trial % 4;
        int8_t got[CHANNELS], expect[CHANNELS];
        isa->i8_requantize(acc, with_bias ? bias : NULL, &rq, c0, count, got);
        for (size_t i = 0; i < count; i++) {
            const int32_t v = p2l_multiply_by_quantized_multiplier(acc[i] + (with_bias ? bias[i] : 0), m[c0 + i]);
            expect[i] = (int8_t)p2l_clamp_i32(v + zero_point, rq.act_min, rq.act_max);
        }
        CHECK(memcmp(got, expect, count) == 0);
        cases++, fast_cases++;
    }
}

static void test_int8_fully_connected(void) {
    const int shapes[][3] = {{1, 32, 10}, {3, 100, 17}, {7, 16, 64}, {1, 1280, 100}, {5, 7, 3}};
    for (int i = 0; i < 5; i++)
        for (int z = -128; z <= 127; z += 85) {
            const int batch = shapes[i][0], depth = shapes[i][1], units = shapes[i][2];
            spec s = new_spec(P2L_OP_FULLY_CONNECTED, 3);
            int8_tensor(&s.in[0], 2, (int32_t[]){batch, depth}, false, 1, 0, 0.05f, z);
            int8_tensor(&s.in[1], 2, (int32_t[]){units, depth}, true, i % 2 ? 1 : units, 0, 0.01f, 0);
            int32_t *values = malloc((size_t)units * sizeof *values);
            for (int u = 0; u < units; u++) values[u] = (int32_t)rnd(30000.0f);
            int_tensor(&s.in[2], units, values);
            free(values);
            set_option(&s, "fused_activation_function", i % 3 == 0 ? P2L_ACT_RELU : P2L_ACT_NONE);
            char what[96];
            snprintf(what, sizeof what, "int8 fully connected %dx%d -> %d, zero point %d", batch, depth, units, z);
            compare_int8(what, &s, 0.05f * sqrtf((float)depth) / 4.0f, -z / 2, true);
            for (int t = 0; t < s.inputs; t++) free_tensor(&s.in[t]);
        }
}


/* ------------------------------------------------------------ int8 element-wise (fast/int8_elementwise.c)
 * ADD / SUB / MUL (with broadcasting), QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32 against
 * the reference kernels, bit for bit, 1 to 3 threads; then the ISA's rows alone on wider parameters. */

static void int8_binary_case(p2l_op op, int rank, const int32_t *a_dims, const int32_t *b_dims, const int32_t *y_dims,
                             float sa, int za, float sb, int zb, float sy, int zy, int activation) {
    spec s = new_spec(op, 2);
    int8_tensor(&s.in[0], rank, a_dims, false, 1, 0, sa, za);
    int8_tensor(&s.in[1], rank, b_dims, false, 1, 0, sb, zb);
    set_option(&s, "fused_activation_function", activation);
    size_t count = p2l_dims_count(rank, y_dims);
    char what[128];
    snprintf(what, sizeof what, "int8 %s of %zu elements, scales %g/%g/%g zero points %d/%d/%d act %d",
             p2l_op_info_of(op)->name, count, sa, sb, sy, za, zb, zy, activation);
    compare_int8(what, &s, sy, zy, false);
    for (int t = 0; t < s.inputs; t++) free_tensor(&s.in[t]);
}

static void test_int8_binary(void) {
    const p2l_op ops[] = {P2L_OP_ADD, P2L_OP_SUB, P2L_OP_MUL};
    for (int o = 0; o < 3; o++)
        for (int trial = 0; trial < 4; trial++) {
            const float sa = 0.02f + 0.03f * (float)trial, sb = 0.05f / (float)(trial + 1);
            const float sy = ops[o] == P2L_OP_MUL ? sa * sb * (20.0f + 30.0f * (float)trial) : 0.04f + 0.01f * (float)trial;
            const int za = -128 + 85 * trial, zb = 13 - 40 * trial, zy = trial * 30 - 50;
            const int act = trial == 1 ? P2L_ACT_RELU : trial == 3 ? P2L_ACT_RELU6 : P2L_ACT_NONE;
            /* same shapes (one long row, over the threads), odd length, channel broadcast (SE blocks),
             * a scalar operand, broadcast rows */
            int8_binary_case(ops[o], 4, (int32_t[]){1, 64, 64, 20}, (int32_t[]){1, 64, 64, 20},
                             (int32_t[]){1, 64, 64, 20}, sa, za, sb, zb, sy, zy, act);
            int8_binary_case(ops[o], 2, (int32_t[]){3, 37}, (int32_t[]){3, 37}, (int32_t[]){3, 37}, sa, za, sb, zb, sy, zy, act);
            int8_binary_case(ops[o], 4, (int32_t[]){1, 1, 1, 35}, (int32_t[]){1, 9, 7, 35}, (int32_t[]){1, 9, 7, 35},
                             sa, za, sb, zb, sy, zy, act);
            int8_binary_case(ops[o], 3, (int32_t[]){2, 5, 19}, (int32_t[]){1, 1, 1}, (int32_t[]){2, 5, 19}, sa, za, sb, zb,
                             sy, zy, act);
            int8_binary_case(ops[o], 3, (int32_t[]){4, 1, 11}, (int32_t[]){4, 6, 1}, (int32_t[]){4, 6, 11}, sa, za, sb, zb,
                             sy, zy, act);
        }
}

/* float32 values: ties of the scale (k + 1/2 steps), values next to them, large, +-inf and NaN. */
static void quantize_input(p2l_tensor *t, int rank, const int32_t *dims, float scale) {
    tensor(t, rank, dims, false, 1.0f);
    float *d = t->data;
    for (size_t i = 0; i < t->count; i++) {
        const float tie = ((float)(int)rnd(140.0f) + 0.5f) * scale;
        switch (i % 7) {
        case 0: d[i] = tie; break;
        case 1: d[i] = nextafterf(tie, 0.0f); break;
        case 2: d[i] = rnd(200.0f) * scale; break;
        case 3: d[i] = i % 3 ? rnd(1e9f) : (i % 2 ? INFINITY : -INFINITY); break;
        case 4: d[i] = i % 5 ? rnd(3.0f) * scale : NAN; break;
        default: d[i] = rnd(130.0f) * scale;
        }
    }
}

static void test_int8_quantize(void) {
    const int32_t shapes[][4] = {{1, 64, 64, 24}, {1, 3, 5, 7}, {2, 1, 1, 9}};
    for (int i = 0; i < 3; i++)
        for (int z = -128; z <= 127; z += 51) {
            const float scale = 0.013f * (float)(i + 1);
            spec s = new_spec(P2L_OP_QUANTIZE, 1);
            quantize_input(&s.in[0], 4, shapes[i], scale);
            char what[96];
            snprintf(what, sizeof what, "int8 QUANTIZE %dx%dx%dx%d, zero point %d", shapes[i][0], shapes[i][1],
                     shapes[i][2], shapes[i][3], z);
            compare_int8(what, &s, scale, z, false);
            free_tensor(&s.in[0]);
            /* DEQUANTIZE: int8 in, float32 out */
            spec d = new_spec(P2L_OP_DEQUANTIZE, 1);
            int8_tensor(&d.in[0], 4, shapes[i], false, 1, 0, scale, z);
            p2l_tensor out_ref, out_fast;
            float *expect = run_offer(&d, p2l_reference_kernel_of(P2L_OP_DEQUANTIZE), 1, &out_ref, NULL);
            for (int threads = 1; threads <= 3; threads++) {
                float *got = run_offer(&d, p2l_int8_fast_kernel(P2L_OP_DEQUANTIZE), threads, &out_fast, NULL);
                CHECK(expect && got && out_fast.count == out_ref.count &&
                      memcmp(got, expect, out_ref.count * sizeof *got) == 0);
                free(got);
            }
            free(expect);
            free_tensor(&d.in[0]);
            cases++;
        }
}

static void test_int8_elementwise_rows(void) {
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || !isa->i8_binary_row || !isa->i8_quantize_row || !isa->i8_dequantize_row) return;
    enum { N = 83 };
    int8_t a[N], b[N], got[N], expect[N];
    float values[N], got_f[N], expect_f[N];
    for (int trial = 0; trial < 600; trial++) {
        for (int i = 0; i < N; i++) a[i] = (int8_t)(int)floorf(rnd(128.0f)), b[i] = (int8_t)(int)floorf(rnd(128.0f));
        /* multipliers of reals 2^-24 .. 2^4 (MUL's output may scale up) */
        p2l_quant_binary q = {.offset_a = (int32_t)rnd(128.0f), .offset_b = (int32_t)rnd(128.0f),
                              .output_offset = (int32_t)rnd(128.0f), .act_min = trial % 3 ? -128 : -10,
                              .act_max = trial % 5 ? 127 : 90};
        q.a = p2l_quantize_multiplier(ldexp(0.5 + 0.49 * (double)rnd(1.0f), -(trial % 3)));
        q.b = p2l_quantize_multiplier(ldexp(0.5 + 0.49 * (double)rnd(1.0f), -(trial % 5)));
        q.output = p2l_quantize_multiplier(ldexp(1.0 + 0.5 * (double)rnd(1.0f), (trial % 29) - 24));
        const p2l_op op = trial % 3 == 0 ? P2L_OP_ADD : trial % 3 == 1 ? P2L_OP_SUB : P2L_OP_MUL;
        const size_t sa = (size_t)(trial % 4 != 1), sb = (size_t)(trial % 4 != 2), n = N - (size_t)trial % 11;
        isa->i8_binary_row(op, &q, a, sa, b, sb, got, n);
        p2l_quant_binary_row(op, &q, a, sa, b, sb, expect, n);
        CHECK(memcmp(got, expect, n) == 0);
        const float scale = (float)ldexp(1.0 + (double)rnd(0.9f), (trial % 17) - 10);
        const int32_t zero_point = (int32_t)rnd(128.0f);
        for (int i = 0; i < N; i++)
            values[i] = i % 3 ? rnd(300.0f) * scale : ((float)(int)rnd(200.0f) + 0.5f) * scale;
        isa->i8_quantize_row(values, scale, zero_point, got, n);
        for (size_t i = 0; i < n; i++) expect[i] = (int8_t)p2l_affine_quantize(values[i], scale, zero_point, -128, 127);
        CHECK(memcmp(got, expect, n) == 0);
        isa->i8_dequantize_row(a, scale, zero_point, got_f, n);
        for (size_t i = 0; i < n; i++) expect_f[i] = scale * (float)((int32_t)a[i] - zero_point);
        CHECK(memcmp(got_f, expect_f, n * sizeof *got_f) == 0);
        cases++, fast_cases++;
    }
}

/* ------------------------------------------------------------ int8 unary ops as a lookup (fast/int8_lut.c)
 * The fast kernel of each int8 unary op against its reference kernel, bit for bit: all 256 inputs,
 * scales and zero points up to the extremes (where the reference refuses a node, the fast kernel must
 * refuse it too), odd lengths (every vector tail) and long tensors cut over the threads; then the
 * ISA's lookup row against the table itself on random tables, every length to 200, unaligned and in
 * place. */

static void int8_lut_case(p2l_op op, const int32_t *dims, int rank, float in_scale, int in_zero_point, float out_scale,
                          int out_zero_point) {
    spec s = new_spec(op, 1);
    int8_tensor(&s.in[0], rank, dims, false, 1, 0, in_scale, in_zero_point);
    ((float *)s.in[0].scales)[0] = in_scale;
    int8_t *data = s.in[0].data;
    for (size_t i = 0; i < s.in[0].count; i += 3) data[i] = (int8_t)(uint8_t)(i / 3); /* every value, in turns */
    size_t n_ref = 0, n_fast = 0;
    bool unused;
    int8_t *expect = run_int8(&s, p2l_reference_kernel_of(op), 1, out_scale, out_zero_point, &n_ref, &unused);
    const p2l_kernel *k = p2l_int8_lut_fast_kernel(op);
    CHECK(k != NULL && p2l_int8_fast_kernel(op) == k);
    for (int threads = 1; k && threads <= (expect ? 3 : 1); threads++) {
        int8_t *got = run_int8(&s, k, threads, out_scale, out_zero_point, &n_fast, &unused);
        CHECK((got == NULL) == (expect == NULL)); /* the same nodes refused */
        if (got && expect && (n_fast != n_ref || memcmp(got, expect, n_ref) != 0)) {
            size_t i = 0;
            while (i < n_ref && got[i] == expect[i]) i++;
            fprintf(stderr, "int8 %s %zu elements, scales %g/%g, zero points %d/%d [%s, %d threads]: element %zu is %d, "
                    "reference %d\n", p2l_op_info_of(op)->name, n_ref, (double)in_scale, (double)out_scale, in_zero_point,
                    out_zero_point, current_isa(), threads, i, i < n_fast ? got[i] : 0, i < n_ref ? expect[i] : 0);
            CHECK(false);
        }
        free(got);
    }
    cases++;
    if (expect) fast_cases++;
    free(expect);
    free_tensor(&s.in[0]);
}

static void test_int8_lut(void) {
    const p2l_op ops[] = {P2L_OP_LOGISTIC, P2L_OP_HARD_SWISH, P2L_OP_RELU, P2L_OP_RELU6, P2L_OP_RELU_N1_TO_1};
    /* input scale, zero point; output scale, zero point (LOGISTIC's output scale is always 1/256) */
    const struct { float in_scale; int in_zp; float out_scale; int out_zp; } q[] = {
        {0.05f, 0, 0.03f, 0},        {0.1f, -128, 0.02f, -128},   {0.02f, 127, 0.05f, 127},  {1e-4f, 5, 1e-3f, -3},
        {8.0f, -77, 2.0f, 100},      {0.0235f, 13, 0.0235f, 13}, {0.5f, -128, 1e-4f, 127},   {3e-3f, 127, 30.0f, -128},
    };
    const int32_t lengths[] = {256, 1, 31, 33, 63, 64, 65, 97, 255, 1221, 3 * 16384 + 77};
    for (int o = 0; o < 5; o++)
        for (size_t c = 0; c < sizeof q / sizeof q[0]; c++)
            for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
                const float out_scale = ops[o] == P2L_OP_LOGISTIC ? 1.0f / 256 : q[c].out_scale;
                int8_lut_case(ops[o], &lengths[l], 1, q[c].in_scale, q[c].in_zp, out_scale, q[c].out_zp);
            }
    for (int o = 0; o < 5; o++) /* a feature map of efficientnet's size class, odd in every dim */
        int8_lut_case(ops[o], (int32_t[]){1, 23, 19, 37}, 4, 0.06f, -20, ops[o] == P2L_OP_LOGISTIC ? 1.0f / 256 : 0.04f, -90);
    const p2l_fast_isa *isa = p2l_fast_isa_active();
    if (!isa || !isa->i8_lookup_row) return;
    enum { N = 200 };
    int8_t table[256], in[N + 32], got[N + 32], expect[N + 32];
    for (int trial = 0; trial < 40; trial++) {
        for (int v = 0; v < 256; v++) table[v] = (int8_t)(int)floorf(rnd(128.0f));
        for (int i = 0; i < N + 32; i++) in[i] = (int8_t)(trial < 2 ? i * 7 + trial : (int)floorf(rnd(128.0f)));
        for (size_t n = 0; n <= N; n++) {
            const size_t offset = n % 7;
            isa->i8_lookup_row(table, in + offset, got, n);
            for (size_t i = 0; i < n; i++) expect[i] = table[(uint8_t)in[offset + i]];
            CHECK(memcmp(got, expect, n) == 0);
        }
        memcpy(got, in, sizeof got); /* in place */
        isa->i8_lookup_row(table, got + 1, got + 1, N);
        for (size_t i = 0; i < N; i++) CHECK(got[1 + i] == table[(uint8_t)in[1 + i]]);
        cases++, fast_cases++;
    }
}

/* ------------------------------------------------------------ int8 PAD / PADV2 (fast/pad.c)
 * Padded with the zero point (PAD) or the pad value (PADV2), against the reference kernel bit for bit:
 * H and W (before stride-2 depthwise layers), the channels too, zero points across the range. */
static void int8_pad_case(p2l_op op, const int32_t dims[4], const int32_t pads[8], int zero_point, int value) {
    spec s = new_spec(op, op == P2L_OP_PADV2 ? 3 : 2);
    int8_tensor(&s.in[0], 4, dims, false, 1, 0, 0.05f, zero_point);
    int_tensor(&s.in[1], 8, pads);
    s.in[1].rank = 2, s.in[1].dims[0] = 4, s.in[1].dims[1] = 2;
    if (op == P2L_OP_PADV2) {
        int8_tensor(&s.in[2], 1, (int32_t[]){1}, true, 1, 0, 0.05f, zero_point);
        ((int8_t *)s.in[2].data)[0] = (int8_t)value;
        ((float *)s.in[2].scales)[0] = s.in[0].scales[0];
    }
    char what[128];
    snprintf(what, sizeof what, "int8 %s %dx%dx%dx%d pads %d/%d/%d/%d/%d/%d, zero point %d value %d",
             p2l_op_info_of(op)->name, dims[0], dims[1], dims[2], dims[3], pads[2], pads[3], pads[4], pads[5], pads[6],
             pads[7], zero_point, value);
    compare_int8(what, &s, s.in[0].scales[0], zero_point, false);
    for (int t = 0; t < s.inputs; t++) free_tensor(&s.in[t]);
}

static void test_int8_pad(void) {
    for (int z = -128; z <= 127; z += 85) {
        int8_pad_case(P2L_OP_PAD, (int32_t[]){1, 9, 8, 24}, (int32_t[]){0, 0, 0, 1, 0, 1, 0, 0}, z, 0);
        int8_pad_case(P2L_OP_PAD, (int32_t[]){2, 5, 7, 3}, (int32_t[]){0, 0, 1, 2, 3, 1, 0, 0}, z, 0);
        int8_pad_case(P2L_OP_PAD, (int32_t[]){1, 4, 5, 6}, (int32_t[]){0, 0, 1, 1, 1, 1, 2, 1}, z, 0);
        int8_pad_case(P2L_OP_PADV2, (int32_t[]){1, 6, 6, 16}, (int32_t[]){0, 0, 2, 2, 2, 2, 0, 0}, z, -z / 2 - 7);
    }
}

static void run_all(void) {
    RUN(test_conv);
    RUN(test_grouped_conv);
    RUN(test_depthwise);
    RUN(test_unequal_strides);
    RUN(test_fully_connected);
    RUN(test_batch_matmul);
    RUN(test_binary);
    RUN(test_unary);
    RUN(test_mean);
    RUN(test_pool);
    RUN(test_softmax);
    RUN(test_pad);
    RUN(test_fusions);
    RUN(test_transpose);
    RUN(test_special_values_pytorch);
    RUN(test_special_values);
    RUN(test_empty);
    RUN(test_int8_conv);
    RUN(test_int8_fully_connected);
    RUN(test_int8_requantize);
    RUN(test_int8_binary);
    RUN(test_int8_quantize);
    RUN(test_int8_elementwise_rows);
    RUN(test_int8_lut);
    RUN(test_int8_pad);
    RUN(test_batch_matmul_few_rows);
}

static bool env_set(const char *name) {
    const char *env = getenv(name);
    return env && *env && strcmp(env, "0") != 0;
}

int main(void) {
    /* Once per ISA table this build has and this CPU supports, each table selected in turn. */
    const p2l_fast_isa *tables[8];
    const int table_count = p2l_fast_isa_supported(tables, 8);
    for (int t = 0; t < table_count && t < 8; t++) {
        p2l_fast_isa_select(tables[t], true);
        cases = fast_cases = 0;
        rng_state = 12345; /* every table on the same inputs (tables may share their float loops) */
        fprintf(stderr, "== the %s table\n", tables[t]->name);
        run_all();
        printf("%s: %d cases, %d on fast kernels\n", tables[t]->name, cases, fast_cases);
        CHECK(fast_cases > 0);
    }
    p2l_fast_isa_select(NULL, false);
    if (table_count == 0) { /* nothing fast here: the reference against itself, which must still run */
        run_all();
        printf("%d cases, fast kernels off (not built, or not for this CPU)\n", cases);
    }
    /* Where the build has the x86 kernels and the CPU can run them, at least one table must have run,
     * and the registry must hand them out by default (unless P2L_REFERENCE_KERNELS asks otherwise). */
    bool expect_fast = env_set("P2L_EXPECT_FAST_KERNELS");
#if defined(P2L_HAVE_X86_KERNELS)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) expect_fast = true;
#elif defined(P2L_HAVE_ARM_KERNELS)
    expect_fast = true;
#endif
    if (expect_fast) {
        if (table_count == 0) fprintf(stderr, "fast kernels were expected, but none ran (build or CPU)\n");
        CHECK(table_count > 0);
        if (!env_set("P2L_REFERENCE_KERNELS")) CHECK(p2l_fast_kernels_enabled());
    }
    return check_summary();
}
