/* The model verifier on malformed files: each one a clear error, never a crash (run under
 * ASan/UBSan). */
#include <stdio.h>

#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

#include <math.h>

/* Distinct non-zero values, so that each constant's bytes can be found in the file (memmem) and the
 * outputs depend on every weight. */
static float weights[2 * 3 * 3 * 2];
static const float bias2[2] = {0.5f, -0.25f};
static const float add_const[4] = {1, 2, 3, 4};

static void init_weights(void) {
    for (int i = 0; i < 36; i++) weights[i] = (float)(i % 7 - 3) / 4.0f + (float)i / 64.0f;
}

/* x[1,4] + c[1,4] -> RELU -> y. */
static tm_model add_model(void) {
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "x");
    int c = tm_const_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, add_const, sizeof add_const, "c");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "y");
    tm_op *op = tm_op_add(&m, 0 /* ADD */, 2, (int32_t[]){x, c}, 1, (int32_t[]){y});
    tm_option(op, "fused_activation_function", P2L_ACT_RELU);
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    m.signature_key = "serving_default";
    return m;
}

/* x[1,5,5,2] -> CONV_2D (3x3, SAME) -> MEAN over H,W -> y. */
static tm_model conv_model(void) {
    static const int32_t axes[2] = {1, 2};
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 5, 5, 2}, "x");
    int w = tm_const_add(&m, P2L_FLOAT32, 4, (int32_t[]){2, 3, 3, 2}, weights, sizeof weights, "w");
    int b = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){2}, bias2, sizeof bias2, "b");
    int h = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 5, 5, 2}, "h");
    int a = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, axes, sizeof axes, "axes");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 2}, "y");
    tm_op *conv = tm_op_add(&m, 3 /* CONV_2D */, 3, (int32_t[]){x, w, b}, 1, (int32_t[]){h});
    tm_option(conv, "padding", P2L_PAD_SAME);
    tm_option(conv, "stride_w", 1);
    tm_option(conv, "stride_h", 1);
    tm_op *mean = tm_op_add(&m, 40 /* MEAN */, 2, (int32_t[]){h, a}, 1, (int32_t[]){y});
    tm_option(mean, "keep_dims", 0);
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    return m;
}

/* The inputs the tests run with: x + c lies in (0, 1), where RELU, RELU6, RELU_N1_TO_1 and no
 * activation agree (a mutated activation code that names one of those is harmless). */
static const float add_input[4] = {-0.75f, -1.5f, -2.25f, -3.5f};
static float conv_input[50];

/* The expected outputs, computed here from the constants as the file holds them. */
static void add_reference(const float *c, float *y) {
    for (int i = 0; i < 4; i++) y[i] = fmaxf(add_input[i] + c[i], 0.0f);
}

/* CONV_2D with the file's options (padding, strides, dilations, activation), then the mean over H, W. */
typedef struct conv_options {
    int padding, activation;
    long long stride_h, stride_w, dilation_h, dilation_w;
} conv_options;

static void conv_reference(const float *w, const float *b, const conv_options *o, float *y) {
    long long out_h, out_w, pad_top = 0, pad_left = 0;
    const long long span_h = 2 * o->dilation_h + 1, span_w = 2 * o->dilation_w + 1;
    if (o->padding == P2L_PAD_SAME) {
        out_h = (5 + o->stride_h - 1) / o->stride_h, out_w = (5 + o->stride_w - 1) / o->stride_w;
        const long long th = (out_h - 1) * o->stride_h + span_h - 5, tw = (out_w - 1) * o->stride_w + span_w - 5;
        pad_top = th > 0 ? th / 2 : 0, pad_left = tw > 0 ? tw / 2 : 0;
    } else {
        out_h = span_h > 5 ? 0 : (5 - span_h) / o->stride_h + 1, out_w = span_w > 5 ? 0 : (5 - span_w) / o->stride_w + 1;
    }
    for (int oc = 0; oc < 2; oc++) {
        double sum = 0;
        for (long long r = 0; r < out_h; r++)
            for (long long col = 0; col < out_w; col++) {
                double acc = b[oc];
                for (int kr = 0; kr < 3; kr++)
                    for (int kc = 0; kc < 3; kc++) {
                        const long long ir = r * o->stride_h + kr * o->dilation_h - pad_top;
                        const long long ic = col * o->stride_w + kc * o->dilation_w - pad_left;
                        if (ir < 0 || ir >= 5 || ic < 0 || ic >= 5) continue;
                        for (int i = 0; i < 2; i++)
                            acc += (double)w[((oc * 3 + kr) * 3 + kc) * 2 + i] * conv_input[(ir * 5 + ic) * 2 + i];
                    }
                if (o->activation == P2L_ACT_RELU) acc = acc > 0 ? acc : 0;
                sum += acc;
            }
        y[oc] = (float)(sum / (double)(out_h * out_w));
    }
}

/* The model's interface: subgraph 0's input and output tensors with their shapes and names. */
typedef struct interface {
    int inputs, outputs, input_tensor, output_tensor, input_rank, output_rank;
    int32_t input_dims[P2L_MAX_DIMS], output_dims[P2L_MAX_DIMS];
    char input_name[16], output_name[16];
    bool ran; /* the model ran (it is not too large to run here) */
} interface;

static bool same_interface(const interface *a, const interface *b) {
    return a->inputs == b->inputs && a->outputs == b->outputs && a->input_tensor == b->input_tensor &&
           a->output_tensor == b->output_tensor && a->input_rank == b->input_rank && a->output_rank == b->output_rank &&
           !memcmp(a->input_dims, b->input_dims, sizeof a->input_dims) &&
           !memcmp(a->output_dims, b->output_dims, sizeof a->output_dims) && !strcmp(a->input_name, b->input_name) &&
           !strcmp(a->output_name, b->output_name);
}

/* Loads bytes; on success also prepares, runs with the test input (when its size is the test's) and
 * reads output 0 into y (y_count floats). Every failure must carry a message. */
static p2l_status load_and_run_into(const uint8_t *data, size_t size, float *y, size_t y_count, interface *io) {
    interface unused;
    if (!io) io = &unused;
    memset(io, 0, sizeof *io);
    p2l_model *model = NULL;
    p2l_status s = p2l_model_load(data, size, 0, &model);
    p2l_interpreter *it = NULL;
    if (!s) s = p2l_interpreter_create(model, NULL, &it);
    if (!s) s = p2l_interpreter_allocate(it);
    p2l_tensor_info in = {.size = sizeof in}, out = {.size = sizeof out};
    if (!s) {
        io->inputs = p2l_model_subgraph_input_count(model, 0);
        io->outputs = p2l_model_subgraph_output_count(model, 0);
        if (io->inputs == 1 && io->outputs == 1 && !p2l_model_subgraph_input(model, 0, 0, &io->input_tensor) &&
            !p2l_model_subgraph_output(model, 0, 0, &io->output_tensor) && !p2l_interpreter_input_info(it, 0, &in) &&
            !p2l_interpreter_output_info(it, 0, &out)) {
            io->input_rank = in.rank, io->output_rank = out.rank;
            memcpy(io->input_dims, in.dims, sizeof in.dims);
            memcpy(io->output_dims, out.dims, sizeof out.dims);
            snprintf(io->input_name, sizeof io->input_name, "%s", in.name ? in.name : "");
            snprintf(io->output_name, sizeof io->output_name, "%s", out.name ? out.name : "");
        }
    }
    /* Corruption can yield valid models with huge tensors: running those is slow, not unsafe. */
    if (!s && p2l_interpreter_arena_bytes(it, 0) < (64u << 20)) {
        io->ran = true;
        p2l_tensor_info info = {.size = sizeof info};
        s = p2l_interpreter_input_info(it, 0, &info);
        if (!s && info.bytes == sizeof add_input) s = p2l_interpreter_set_input(it, 0, add_input, sizeof add_input);
        else if (!s && info.bytes == sizeof conv_input) s = p2l_interpreter_set_input(it, 0, conv_input, sizeof conv_input);
        if (!s) s = p2l_interpreter_invoke(it);
        if (!s && y) s = p2l_interpreter_get_output(it, 0, y, y_count * sizeof *y);
    }
    if (s && p2l_last_error()[0] == 0) {
        fprintf(stderr, "error %s without a message\n", p2l_status_name(s));
        s = P2L_ERROR_INTERNAL;
    }
    p2l_interpreter_free(it);
    p2l_model_free(model);
    return s;
}

static p2l_status load_and_run(const uint8_t *data, size_t size) { return load_and_run_into(data, size, NULL, 0, NULL); }

static p2l_status build_and_load(const tm_model *m) {
    size_t size;
    uint8_t *bytes = tm_build(m, &size);
    p2l_status s = load_and_run(bytes, size);
    free(bytes);
    return s;
}

/* A model of the tests with where its constants lie in the file, to compute what a mutant that
 * still loads must output. */
typedef struct subject {
    const char *name;
    tm_model model;
    uint8_t *bytes;
    size_t size, y_count;
    size_t const_at[2], const_bytes[2]; /* add: c; conv: w, b */
    size_t add_inputs_at;                /* add: the ADD's input list {x, c} = tensors {0, 1} */
} subject;

static size_t find_bytes(const uint8_t *hay, size_t n, const void *needle, size_t k) {
    size_t found = SIZE_MAX;
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) {
            if (found != SIZE_MAX) return SIZE_MAX - 1; /* twice: ambiguous */
            found = i;
        }
    return found;
}

static subject make_subject(bool conv) {
    subject s = {.name = conv ? "conv" : "add", .model = conv ? conv_model() : add_model(), .y_count = conv ? 2 : 4};
    s.bytes = tm_build(&s.model, &s.size);
    const void *consts[2] = {conv ? (const void *)weights : add_const, conv ? bias2 : NULL};
    const size_t sizes[2] = {conv ? sizeof weights : sizeof add_const, conv ? sizeof bias2 : 0};
    for (int k = 0; k < 2; k++) {
        s.const_bytes[k] = sizes[k];
        s.const_at[k] = sizes[k] ? find_bytes(s.bytes, s.size, consts[k], sizes[k]) : SIZE_MAX;
        if (sizes[k]) CHECK(s.const_at[k] < s.size); /* found exactly once */
    }
    s.add_inputs_at = tm_op_inputs_at[0];
    return s;
}

/* What the file at `bytes` must compute, reading its constants from where they lie. */
static void expected_output(const subject *s, const uint8_t *bytes, float *y) {
    float c0[36], c1[2];
    memcpy(c0, bytes + s->const_at[0], s->const_bytes[0]);
    if (s->const_bytes[1]) memcpy(c1, bytes + s->const_at[1], s->const_bytes[1]);
    if (s->y_count == 4) {
        /* the ADD reads tensors 0 (x) and 1 (c) as the file lists them: {x, c}, {c, c}, {x, x}, ... */
        int32_t in[2];
        memcpy(in, bytes + s->add_inputs_at, sizeof in);
        for (int i = 0; i < 4; i++) {
            const float a = in[0] == 0 ? add_input[i] : c0[i], b = in[1] == 0 ? add_input[i] : c0[i];
            y[i] = fmaxf(a + b, 0.0f);
        }
    } else {
        const size_t at = tm_op_options_at[0];
        int8_t padding, activation;
        int32_t stride_w, stride_h, dilation_w, dilation_h;
#define CONV_FIELD(name, var) memcpy(&var, bytes + at + 8 + 8 * (size_t)p2l_option_field(P2L_OP_CONV_2D, name), sizeof var)
        CONV_FIELD("padding", padding);
        CONV_FIELD("fused_activation_function", activation);
        CONV_FIELD("stride_w", stride_w);
        CONV_FIELD("stride_h", stride_h);
        CONV_FIELD("dilation_w_factor", dilation_w);
        CONV_FIELD("dilation_h_factor", dilation_h);
#undef CONV_FIELD
        const conv_options o = {padding, activation, stride_h, stride_w, dilation_h, dilation_w};
        conv_reference(c0, c1, &o, y);
        int32_t mean_input; /* the MEAN reads h (tensor 3), or x (tensor 0) when that index is mutated */
        memcpy(&mean_input, bytes + tm_op_inputs_at[1], sizeof mean_input);
        for (int c = 0; mean_input == 0 && c < 2; c++) {
            double sum = 0;
            for (int p = 0; p < 25; p++) sum += conv_input[p * 2 + c];
            y[c] = (float)(sum / 25);
        }
    }
}

/* Equal, or both NaN: a mutated constant can be NaN (exponent bits all set). Where the reference
 * (in double) is beyond float's range in the middle of the sum, float arithmetic overflows: then
 * any huge, infinite or NaN result is what float gives, depending on the order of the additions. */
static bool same_outputs(const float *a, const float *b, size_t n, float tolerance) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (fabsf(b[i]) > 1e30f && (isnan(a[i]) || fabsf(a[i]) > 1e30f)) continue;
        if (isinf(a[i]) || isinf(b[i])) {
            if (a[i] != b[i]) return false;
            continue;
        }
        if (!(fabsf(a[i] - b[i]) <= tolerance * (1.0f + fabsf(b[i])))) return false;
    }
    return true;
}

static void test_valid_models_run_correctly(void) {
    for (int k = 0; k < 2; k++) {
        subject s = make_subject(k == 1);
        float y[4], expected[4];
        CHECK_EQ_INT(load_and_run_into(s.bytes, s.size, y, s.y_count, NULL), P2L_OK);
        expected_output(&s, s.bytes, expected);
        CHECK(same_outputs(y, expected, s.y_count, 1e-5f));
        free(s.bytes);
    }
    /* the reference is not trivial: the outputs differ from zero and from each other */
    float y[4];
    add_reference(add_const, y);
    CHECK(y[0] == 0.25f && y[1] == 0.5f && y[2] == 0.75f && y[3] == 0.5f);
}

/* Every prefix of the file: rejected, or (a prefix that still holds every byte the reader uses)
 * loaded and run with the right outputs. The full file ends with padding nothing reads. */
static void test_truncated_at_every_length(void) {
    for (int k = 0; k < 2; k++) {
        subject s = make_subject(k == 1);
        int loaded = 0;
        float expected[4];
        expected_output(&s, s.bytes, expected);
        for (size_t n = 0; n < s.size; n++) {
            uint8_t *copy = malloc(n ? n : 1);
            memcpy(copy, s.bytes, n);
            float y[4];
            interface io;
            p2l_status st = load_and_run_into(copy, n, y, s.y_count, &io);
            CHECK(st != P2L_ERROR_INTERNAL);
            if (st == P2L_OK) {
                loaded++;
                CHECK(io.ran && same_outputs(y, expected, s.y_count, 1e-5f));
            }
            free(copy);
        }
        CHECK(loaded < 8); /* only trailing padding may go */
        CHECK_EQ_INT(load_and_run(s.bytes, 7), P2L_ERROR_MALFORMED);
        free(s.bytes);
    }
}

/* Every byte replaced by several values. Each mutant is either
 * - rejected with a message (never P2L_ERROR_INTERNAL, never a crash under ASan/UBSan), or
 * - a valid model with the same interface (input and output tensors, their shapes and names): it
 *   must run and output what the mutated file says, computed here: a byte of a constant changes that
 *   constant (the expected output is recomputed from the mutated bytes); a byte of another name, of
 *   padding or unused space, or a code that means the same on the test input (RELU / RELU6 /
 *   RELU_N1_TO_1 / NONE agree there) changes nothing. Any other mutant that loads fails the test; or
 * - a valid model with another interface (an index or a dim of the input / output changed, e.g. a
 *   [1,4] input made [1,1], which broadcasts): the test cannot tell what that model should compute
 *   without a second interpreter; it must run (or be too large to run here) without an error, and
 *   is counted. */
static void test_corrupted_bytes(void) {
    static const uint8_t values[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x40};
    for (int k = 0; k < 2; k++) {
        subject s = make_subject(k == 1);
        interface original;
        float y[4], expected[4];
        CHECK_EQ_INT(load_and_run_into(s.bytes, s.size, y, s.y_count, &original), P2L_OK);
        int rejected = 0, correct = 0, other_interface = 0, wrong = 0;
        for (size_t i = 0; i < s.size; i++)
            for (size_t v = 0; v < sizeof values; v++) {
                const uint8_t old = s.bytes[i];
                if (values[v] == old) continue;
                s.bytes[i] = values[v];
                interface io;
                p2l_status st = load_and_run_into(s.bytes, s.size, y, s.y_count, &io);
                CHECK(st != P2L_ERROR_INTERNAL);
                if (st != P2L_OK) {
                    rejected++;
                } else if (!same_interface(&io, &original)) {
                    other_interface++;
                } else {
                    expected_output(&s, s.bytes, expected);
                    if (io.ran && same_outputs(y, expected, s.y_count, 1e-5f)) {
                        correct++;
                    } else {
                        wrong++;
                        fprintf(stderr, "  %s: byte %zu = 0x%02x loads and gives %g, expected %g\n", s.name, i,
                                values[v], y[0], expected[0]);
                    }
                }
                s.bytes[i] = old;
            }
        fprintf(stderr, "  %s: %d mutants rejected, %d ran correctly, %d changed the interface\n", s.name, rejected,
                correct, other_interface);
        CHECK_EQ_INT(wrong, 0);
        CHECK(rejected > 0 && correct > 0);
        free(s.bytes);
    }
}

static void test_identifier_and_version(void) {
    tm_model m = add_model();
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    bytes[4] = 'X';
    CHECK_EQ_INT(load_and_run(bytes, size), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("TFL3");
    free(bytes);
    m.version = 2;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("version 2");
}

static void test_out_of_range_indices(void) {
    tm_model m = add_model();
    m.ops[0].in[1] = 9;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("op 0 (ADD)");
    CHECK_ERROR_MENTIONS("tensor 9");

    m = add_model();
    m.ops[0].out[0] = -1;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);

    m = add_model();
    m.t[0].buffer = 57;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("buffer index 57");
    CHECK_ERROR_MENTIONS("tensor 0 'x'");

    m = add_model();
    m.in[0] = 3;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);

    m = add_model();
    m.out[0] = -2;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
}

static void test_unknown_builtin(void) {
    tm_model m = add_model();
    m.ops[0].builtin = 200;
    m.ops[0].has_options = false;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("200");
    CHECK_ERROR_MENTIONS("op 0");
}

static void test_negative_and_huge_dims(void) {
    tm_model m = add_model();
    m.t[0].shape[1] = -4;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("negative");
    CHECK_ERROR_MENTIONS("tensor 0 'x'");

    m = add_model();
    m.t[0].rank = 8;
    for (int i = 0; i < 8; i++) m.t[0].shape[i] = 0x7fffffff;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("overflow");

    m = add_model();
    m.t[0].rank = 9;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("rank 9");

    /* Huge but not overflowing: fails when memory is planned, with a message. */
    m = add_model();
    m.t[0].rank = 4;
    for (int i = 0; i < 4; i++) m.t[0].shape[i] = 60000;
    p2l_status s = build_and_load(&m);
    CHECK(s == P2L_ERROR_MALFORMED || s == P2L_ERROR_OUT_OF_MEMORY || s == P2L_ERROR_LIMIT);
    CHECK(p2l_last_error()[0] != 0);

    /* shape_signature must agree with shape where static. */
    m = add_model();
    m.t[0].has_signature = true;
    m.t[0].signature[0] = -1, m.t[0].signature[1] = 5;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("shape_signature");
    m.t[0].signature[1] = 4;
    CHECK_EQ_INT(build_and_load(&m), P2L_OK);
}

static void test_constant_size_mismatch(void) {
    tm_model m = add_model();
    m.t[1].data_size = 12;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("16 bytes");
    CHECK_ERROR_MENTIONS("tensor 1 'c'");
}

static void test_buffer0_must_be_empty(void) {
    tm_model m = add_model();
    m.nonempty_buffer0 = true;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("buffer 0");
}

/* A subgraph input backed by a constant buffer: the caller could resize it and the kernels would
 * read past the file's bytes. x takes c's buffer (16 bytes, the same size). */
static void test_constant_subgraph_input_rejected(void) {
    tm_model m = add_model();
    m.t[0].buffer = 1;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("input 0, tensor 0 'x', has constant data");
}

static void test_tensor_both_input_and_output(void) {
    tm_model m = add_model();
    m.ops[0].out[0] = 0;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("both input 0 and output 0");
}

static void test_dataflow(void) {
    tm_model m = add_model();
    /* y is never written when the op writes a fresh tensor instead. */
    int z = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "z");
    m.ops[0].out[0] = z;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("never written");

    /* reading a tensor nothing writes */
    m = add_model();
    m.n_in = 0;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("not written by any op");

    /* writing a constant */
    m = add_model();
    m.ops[0].in[1] = 0;
    m.ops[0].out[0] = 1;
    m.out[0] = 1;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("constant");
}

static void test_optional_inputs(void) {
    tm_model m = add_model();
    m.ops[0].in[1] = -1;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("not optional");
    m = conv_model();
    m.ops[0].in[2] = -1; /* CONV_2D bias may be omitted */
    CHECK_EQ_INT(build_and_load(&m), P2L_OK);
}

static void test_unsupported_ops_and_versions(void) {
    tm_model m = add_model();
    m.ops[0].version = 99;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("op 0 (ADD)");
    CHECK_ERROR_MENTIONS("version 99");
    m = add_model();
    m.ops[0].builtin = 161; /* RIGHT_SHIFT: in ops.def, no kernel yet */
    m.ops[0].has_options = false;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("RIGHT_SHIFT");
    m = add_model();
    m.ops[0].builtin = 32; /* CUSTOM */
    m.ops[0].has_options = false;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("custom");
    m = add_model();
    m.ops[0].options_type = 9; /* SoftmaxOptions on an ADD */
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("builtin_options_type");
    m = add_model();
    m.ops[0].n_in = 3;
    m.ops[0].in[2] = 0;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("3 inputs");
}

static void test_zero_sized_dims(void) {
    /* A stride of zero would divide by zero in shape inference. */
    tm_model m = conv_model();
    m.ops[0].options[p2l_option_field(P2L_OP_CONV_2D, "stride_h")] = 0;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("stride");
    CHECK_ERROR_MENTIONS("CONV_2D");
    /* Zero-sized tensors are valid and run. */
    m = add_model();
    m.t[0].shape[0] = 0, m.t[2].shape[0] = 0;
    m.t[1].shape[0] = 1;
    CHECK_EQ_INT(build_and_load(&m), P2L_OK);
    /* A zero-channel input to a convolution is rejected, not divided by. */
    m = conv_model();
    m.t[0].shape[3] = 0;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    /* Incompatible shapes for broadcasting. */
    m = add_model();
    m.t[0].shape[1] = 3;
    CHECK_EQ_INT(build_and_load(&m), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("broadcast");
}

static void test_null_arguments(void) {
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(NULL, 10, 0, &model), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_model_load("x", 1, 0, NULL), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_model_load_file("/nonexistent/model.tflite", &model), P2L_ERROR_IO);
    CHECK_ERROR_MENTIONS("/nonexistent/model.tflite");
    CHECK_EQ_INT(p2l_interpreter_create(NULL, NULL, NULL), P2L_ERROR_INVALID_ARGUMENT);
    p2l_model_free(NULL);
    p2l_interpreter_free(NULL);
}

/* Huge (but valid) shapes must fail with P2L_ERROR_OUT_OF_MEMORY, not abort under ASan. */
const char *__asan_default_options(void);
__attribute__((visibility("default"), used)) const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int main(void) {
    init_weights();
    for (int i = 0; i < 50; i++) conv_input[i] = (float)((i * 13) % 17 - 8) / 8.0f;
    RUN(test_valid_models_run_correctly);
    RUN(test_truncated_at_every_length);
    RUN(test_corrupted_bytes);
    RUN(test_identifier_and_version);
    RUN(test_out_of_range_indices);
    RUN(test_unknown_builtin);
    RUN(test_negative_and_huge_dims);
    RUN(test_constant_size_mismatch);
    RUN(test_buffer0_must_be_empty);
    RUN(test_constant_subgraph_input_rejected);
    RUN(test_tensor_both_input_and_output);
    RUN(test_dataflow);
    RUN(test_optional_inputs);
    RUN(test_unsupported_ops_and_versions);
    RUN(test_zero_sized_dims);
    RUN(test_null_arguments);
    return check_summary();
}
