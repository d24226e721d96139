/* The model verifier on malformed files: each one a clear error, never a crash (run under
 * ASan/UBSan). */
#include <stdio.h>

#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

static const float weights[2 * 3 * 3 * 2] = {0};
static const float bias2[2] = {0.5f, -0.5f};
static const float add_const[4] = {1, 2, 3, 4};

/* x[1,4] + c[1,4] -> y. */
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

/* Loads bytes; on success also prepares and runs, which must not crash either. */
static p2l_status load_and_run(const uint8_t *data, size_t size) {
    p2l_model *model = NULL;
    p2l_status s = p2l_model_load(data, size, 0, &model);
    if (s) {
        if (p2l_last_error()[0] == 0) {
            fprintf(stderr, "error without a message\n");
            return P2L_ERROR_INTERNAL;
        }
        return s;
    }
    p2l_interpreter *it = NULL;
    s = p2l_interpreter_create(model, NULL, &it);
    if (!s) s = p2l_interpreter_allocate(it);
    /* Corruption can yield valid models with huge tensors: running those is slow, not unsafe. */
    if (!s && p2l_interpreter_arena_bytes(it, 0) < (64u << 20)) s = p2l_interpreter_invoke(it);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    return s;
}

static p2l_status build_and_load(const tm_model *m) {
    size_t size;
    uint8_t *bytes = tm_build(m, &size);
    p2l_status s = load_and_run(bytes, size);
    free(bytes);
    return s;
}

static void test_valid_models_load(void) {
    tm_model m = add_model();
    CHECK_EQ_INT(build_and_load(&m), P2L_OK);
    m = conv_model();
    CHECK_EQ_INT(build_and_load(&m), P2L_OK);
}

static void test_truncated_at_every_length(void) {
    tm_model models[2] = {add_model(), conv_model()};
    for (int k = 0; k < 2; k++) {
        size_t size;
        uint8_t *bytes = tm_build(&models[k], &size);
        int failures = 0;
        for (size_t n = 0; n < size; n++) {
            uint8_t *copy = malloc(n ? n : 1);
            memcpy(copy, bytes, n);
            if (load_and_run(copy, n) == P2L_OK) failures++;
            free(copy);
        }
        /* Trailing bytes may be padding that nothing reads; everything before the last object must fail. */
        CHECK(failures < 8);
        CHECK_EQ_INT(load_and_run(bytes, 7), P2L_ERROR_MALFORMED);
        free(bytes);
    }
}

/* Every byte replaced by several values: load may fail or succeed, but never crash. */
static void test_corrupted_bytes(void) {
    tm_model models[2] = {add_model(), conv_model()};
    static const uint8_t values[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x40};
    for (int k = 0; k < 2; k++) {
        size_t size;
        uint8_t *bytes = tm_build(&models[k], &size);
        int rejected = 0;
        for (size_t i = 0; i < size; i++)
            for (size_t v = 0; v < sizeof values; v++) {
                uint8_t old = bytes[i];
                bytes[i] = values[v];
                if (load_and_run(bytes, size) != P2L_OK) rejected++;
                bytes[i] = old;
            }
        CHECK(rejected > 0);
        free(bytes);
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
    RUN(test_valid_models_load);
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
