/* The runtime's C API (load, share, signatures, resize, memory plan, folding at prepare) and a few kernels with
 * golden values on both the reference and the fast kernels (edge cases of every op family: test_reference_kernels.c). */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "pt2lite.h"
#include "kernel_runner.h"
#include "test_runtime_builder.h"

static const float ramp4[4] = {1, 2, 3, 4};

static void test_load_run_share(void) {
    tm_model m = tm_chain_model(ramp4);
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY, &model), P2L_OK);
    memset(bytes, 0, size); /* a copied model no longer needs the caller's bytes */
    free(bytes);
    p2l_interpreter *a = NULL, *b = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = 2}, &a), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &b), P2L_OK);
    p2l_model_free(model); /* interpreters keep it alive */
    float x[4] = {-5, 0, 1, 2}, y[4] = {0};
    CHECK_EQ_INT(p2l_interpreter_set_input(a, 0, x, sizeof x), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(a), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(a, 0, y, sizeof y), P2L_OK);
    CHECK(y[0] == 0 && y[1] == 4 && y[2] == 8 && y[3] == 12);
    float x2[4] = {1, 1, 1, 1};
    CHECK_EQ_INT(p2l_interpreter_set_input(b, 0, x2, sizeof x2), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(b), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(b, 0, y, sizeof y), P2L_OK);
    CHECK(y[0] == 4 && y[3] == 10);
    /* invoking again without setting the input reuses it */
    CHECK_EQ_INT(p2l_interpreter_invoke(a), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(a, 0, y, sizeof y), P2L_OK);
    CHECK(y[1] == 4);
    /* wrong sizes, bad indices, constants */
    CHECK_EQ_INT(p2l_interpreter_set_input(a, 0, x, 8), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("16 bytes");
    CHECK_EQ_INT(p2l_interpreter_set_input(a, 1, x, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_interpreter_set_tensor(a, 0, 1, x, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("constant");
    CHECK_EQ_INT(p2l_interpreter_set_tensor(a, 3, 0, x, 16), P2L_ERROR_INVALID_ARGUMENT);
    p2l_interpreter_free(a);
    p2l_interpreter_free(b);
}

static void test_file_signatures_resize(void) {
    tm_model m = tm_chain_model(ramp4);
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    char path[] = "/tmp/p2l_runtime_testXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, bytes, size) == (ssize_t)size);
    close(fd);
    free(bytes);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load_file(path, &model), P2L_OK);
    unlink(path);
    CHECK_EQ_INT(p2l_model_signature_count(model), 1);
    CHECK(strcmp(p2l_model_signature_key(model, 0), "serving_default") == 0);
    int sig = -1, tensor = -1, subgraph = -1;
    CHECK_EQ_INT(p2l_model_find_signature(model, "serving_default", &sig), P2L_OK);
    CHECK_EQ_INT(p2l_model_signature_subgraph(model, sig, &subgraph), P2L_OK);
    CHECK_EQ_INT(subgraph, 0);
    CHECK_EQ_INT(p2l_model_signature_find_io(model, sig, 0, "x", &tensor), P2L_OK);
    CHECK_EQ_INT(tensor, 0);
    CHECK_EQ_INT(p2l_model_signature_find_io(model, sig, 1, "y", &tensor), P2L_OK);
    CHECK_EQ_INT(tensor, 5);
    CHECK_EQ_INT(p2l_model_signature_find_io(model, sig, 1, "nope", &tensor), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_model_find_signature(model, "nope", &sig), P2L_ERROR_INVALID_ARGUMENT);

    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    p2l_tensor_info info = {.size = sizeof info};
    CHECK_EQ_INT(p2l_interpreter_input_info(it, 0, &info), P2L_OK);
    CHECK(strcmp(info.name, "x") == 0 && info.rank == 2 && info.dims_signature[0] == -1 && info.bytes == 16);
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){3, 4}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_output_info(it, 0, &info), P2L_OK);
    CHECK(info.dims[0] == 3 && info.dims[1] == 4 && info.bytes == 48);
    float x[12], y[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x, sizeof x), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, y, sizeof y), P2L_OK);
    CHECK(y[11] == 2 * (11 + 4));
    /* memory plan: input and output live throughout; the two intermediates share one buffer */
    CHECK_EQ_INT(p2l_interpreter_arena_bytes(it, 0), 3 * 64);
    /* only inputs can be resized; dims are checked */
    CHECK_EQ_INT(p2l_interpreter_resize_tensor(it, 0, 3, 2, (int32_t[]){3, 4}), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){-1, 4}), P2L_ERROR_INVALID_ARGUMENT);
    /* an incompatible resize fails at allocation, naming the op */
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){3, 5}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("op 0 (ADD)");
    p2l_interpreter_free(it);
}

/* A Model.metadata entry read back by name (the converter records the module's output structure so). */
static void test_metadata_by_name(void) {
    tm_model m = tm_chain_model(ramp4);
    m.metadata_name = "pt2lite_output_structure";
    m.metadata = "{\"none_outputs\": [1]}";
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, 0, &model), P2L_OK);
    const void *data = NULL;
    size_t data_size = 0;
    CHECK_EQ_INT(p2l_model_metadata(model, "pt2lite_output_structure", &data, &data_size), P2L_OK);
    CHECK(data_size == strlen(m.metadata) && memcmp(data, m.metadata, data_size) == 0);
    CHECK_EQ_INT(p2l_model_metadata(model, "min_runtime_version", &data, &data_size), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("min_runtime_version");
    CHECK(data == NULL && data_size == 0);
    CHECK_EQ_INT(p2l_model_metadata(model, NULL, &data, &data_size), P2L_ERROR_INVALID_ARGUMENT);
    p2l_model_free(model);
    /* a model loaded to be read only (its ops unchecked) gives its metadata but runs nowhere */
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_VERIFY_ONLY, &model), P2L_OK);
    CHECK_EQ_INT(p2l_model_metadata(model, "pt2lite_output_structure", &data, &data_size), P2L_OK);
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("P2L_MODEL_VERIFY_ONLY");
    CHECK(it == NULL);
    p2l_model_free(model);
    free(bytes);
}

/* An input shape is checked against the file's shape_signature: -1 dims may change, others not. */
static void test_signature_check_input(void) {
    tm_model m = tm_chain_model(ramp4); /* x: shape_signature [-1, 4] */
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, 0, &model), P2L_OK);
    CHECK_EQ_INT(p2l_model_signature_check_input(model, 0, 0, 2, (int64_t[]){7, 4}), P2L_OK);
    CHECK_EQ_INT(p2l_model_signature_check_input(model, 0, 0, 2, (int64_t[]){7, 5}), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("input 'x' has shape [7, 5], but the model was converted for shape [-1, 4]");
    CHECK_EQ_INT(p2l_model_signature_check_input(model, 0, 0, 3, (int64_t[]){1, 7, 4}), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("[1, 7, 4]");
    CHECK_EQ_INT(p2l_model_signature_check_input(model, 0, 0, 2, (int64_t[]){(int64_t)1 << 40, 4}),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_model_signature_check_input(model, 0, 1, 2, (int64_t[]){1, 4}), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_model_signature_check_input(model, 1, 0, 2, (int64_t[]){1, 4}), P2L_ERROR_INVALID_ARGUMENT);
    p2l_model_free(model);
    free(bytes);
}

/* ------------------------------------------------------------ kernels with golden values */

/* Both the reference kernels and the fast ones this CPU has. */
static const int reference_and_auto[2] = {P2L_KERNELS_REFERENCE, P2L_KERNELS_AUTO};

static void test_average_pool_same_counts_valid_only(void) {
    for (int k = 0; k < 2; k++) {
        op_result r = run_op_on(reference_and_auto[k], P2L_OP_AVERAGE_POOL_2D,
                                OP_OPTIONS({"padding", P2L_PAD_SAME}, {"stride_w", 1}, {"stride_h", 1},
                                           {"filter_width", 3}, {"filter_height", 3}),
                                P2L_FLOAT32, OP_F32((1, 2, 2, 1), 1, 2, 3, 4));
        CHECK_OP_F32(r, (1, 2, 2, 1), 1e-6, 2.5f, 2.5f, 2.5f, 2.5f);
        op_result_free(&r);
    }
}

static void test_constant_subgraph_folded_at_prepare(void) {
    /* SHAPE(x) -> CAST -> output: computable at prepare time, runs nothing at invoke. */
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 3, (int32_t[]){2, 3, 5}, "x");
    int s = tm_tensor_add(&m, P2L_INT32, 1, (int32_t[]){3}, "s");
    int f = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){3}, "f");
    tm_op *shape = tm_op_add(&m, 77 /* SHAPE */, 1, (int32_t[]){x}, 1, (int32_t[]){s});
    tm_option(shape, "out_type", P2L_INT32);
    tm_op_add(&m, 53 /* CAST */, 1, (int32_t[]){s}, 1, (int32_t[]){f});
    m.n_in = 1, m.in[0] = x, m.n_out = 1, m.out[0] = f;
    float in[30] = {0}, out[3];
    CHECK_EQ_INT(tm_run(&m, in, sizeof in, NULL, 0, out, sizeof out), P2L_OK);
    CHECK(out[0] == 2 && out[1] == 3 && out[2] == 5);
}

static void test_strided_slice_reverse_and_shrink(void) {
    const op_tensor x = OP_F32((3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    for (int k = 0; k < 2; k++) {
        op_result r = run_op_on(reference_and_auto[k], P2L_OP_STRIDED_SLICE, OP_OPTIONS({"shrink_axis_mask", 2}),
                                P2L_FLOAT32, x, OP_CONSTANT(OP_I32((2), -1, 1)), OP_CONSTANT(OP_I32((2), 0, 2)),
                                OP_CONSTANT(OP_I32((2), -1, 1)));
        CHECK_OP_F32(r, (2), 0, 9, 5); /* rows 2, 1 of column 1 */
        op_result_free(&r);
    }
}

static void test_planner_reuses_memory(void) {
    /* A chain of 6 RELUs over 1000 floats: at most two intermediates alive at once. */
    tm_model m = {0};
    int prev = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){1000}, "x");
    m.n_in = 1, m.in[0] = prev;
    for (int i = 0; i < 6; i++) {
        int next = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){1000}, NULL);
        tm_op_add(&m, 19 /* RELU */, 1, (int32_t[]){prev}, 1, (int32_t[]){next});
        prev = next;
    }
    m.n_out = 1, m.out[0] = prev;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, 0, &model), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_OK);
    size_t tensor_bytes = 4032; /* 4000 rounded up to 64 */
    CHECK(p2l_interpreter_arena_bytes(it, 0) <= 4 * tensor_bytes);
    CHECK(p2l_interpreter_arena_bytes(it, 0) >= 3 * tensor_bytes);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    free(bytes);
}

/* Two copies of x[n,1] -> SUM over axis 1 -> y[n] (SUM adds in per-thread scratch memory). A failed
 * prepare of subgraph 1 (scratch memory too large to allocate) must leave subgraph 0, prepared before,
 * with its scratch: the old block is released only once a new one exists. */
static void test_scratch_kept_when_growing_it_fails(void) {
    static const int32_t axis[1] = {1};
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){4, 1}, "x");
    int a = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){1}, axis, sizeof axis, "axis");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){4}, "y");
    tm_op *sum = tm_op_add(&m, 74 /* SUM */, 2, (int32_t[]){x, a}, 1, (int32_t[]){y});
    tm_option(sum, "keep_dims", 0);
    m.n_in = 1, m.in[0] = x, m.n_out = 1, m.out[0] = y;
    m.subgraph_copies = 2;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_limits limits = {.max_arena_bytes = SIZE_MAX, .max_tensor_bytes = SIZE_MAX};
    p2l_model *model = NULL;
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_model_load_ex(bytes, size, &(p2l_model_load_options){.limits = &limits}, &model), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    const float in[4] = {1, 2, 3, 4};
    float out[4] = {0};
    CHECK_EQ_INT(p2l_interpreter_set_tensor(it, 0, x, in, sizeof in), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke_subgraph(it, 0), P2L_OK);
    /* [2^21, 1, 2^22] -> 2^43 sums of 8 bytes: no allocator grants 64 TiB */
    CHECK_EQ_INT(p2l_interpreter_resize_tensor(it, 1, x, 3, (int32_t[]){1 << 21, 1, 1 << 22}), P2L_OK);
    p2l_status s = p2l_interpreter_invoke_subgraph(it, 1);
    CHECK(s == P2L_ERROR_OUT_OF_MEMORY);
    CHECK_ERROR_MENTIONS("scratch");
    CHECK_EQ_INT(p2l_interpreter_set_tensor(it, 0, x, (float[]){5, 6, 7, 8}, sizeof in), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke_subgraph(it, 0), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_tensor(it, 0, y, out, sizeof out), P2L_OK);
    CHECK(out[0] == 5 && out[1] == 6 && out[2] == 7 && out[3] == 8);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    free(bytes);
}

/* y = MUL(a, b): folded at prepare time when a and b are constants, computed at invoke when a is an
 * input. 1e-20 * 1e-20 = 1e-40 is a denormal: both paths must give the same bits, whether the fold
 * happens in p2l_interpreter_allocate (on the caller's float mode) or in the first invoke. */
static uint32_t denormal_product(bool a_is_input, bool allocate_first) {
    static const float tiny[1] = {1e-20f};
    tm_model m = {0};
    int a = a_is_input ? tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){1}, "a")
                       : tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){1}, tiny, sizeof tiny, "a");
    int b = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){1}, tiny, sizeof tiny, "b");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){1}, "y");
    tm_op_add(&m, 18 /* MUL */, 2, (int32_t[]){a, b}, 1, (int32_t[]){y});
    if (a_is_input) m.n_in = 1, m.in[0] = a;
    m.n_out = 1, m.out[0] = y;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    p2l_interpreter *it = NULL;
    float out = -1;
    CHECK_EQ_INT(p2l_model_load(bytes, size, 0, &model), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    if (allocate_first) CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_OK);
    if (a_is_input) CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, tiny, sizeof tiny), P2L_OK);
    if (!allocate_first || a_is_input) CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, &out, sizeof out), P2L_OK);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    free(bytes);
    uint32_t bits;
    memcpy(&bits, &out, sizeof bits);
    return bits;
}

static void test_folding_uses_the_invoke_float_mode(void) {
    const uint32_t at_invoke = denormal_product(true, false);
    CHECK_EQ_INT(denormal_product(false, true), at_invoke);  /* folded by allocate */
    CHECK_EQ_INT(denormal_product(false, false), at_invoke); /* folded by the first invoke */
    CHECK_EQ_INT(denormal_product(true, true), at_invoke);
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    CHECK_EQ_INT(at_invoke, 0); /* flushed to zero where the runtime sets the mode */
#endif
}

__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int main(void) {
    RUN(test_load_run_share);
    RUN(test_file_signatures_resize);
    RUN(test_metadata_by_name);
    RUN(test_signature_check_input);
    RUN(test_average_pool_same_counts_valid_only);
    RUN(test_constant_subgraph_folded_at_prepare);
    RUN(test_strided_slice_reverse_and_shrink);
    RUN(test_planner_reuses_memory);
    RUN(test_scratch_kept_when_growing_it_fails);
    RUN(test_folding_uses_the_invoke_float_mode);
    return check_summary();
}
