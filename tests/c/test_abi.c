/* The C API's ABI and embedding contract (issue 17): option struct sizes, unknown flags, thread counts,
 * the numeric version, the error reporter, use after free, clear messages, interpreter options that
 * replace the environment variables (fusion, kernels, profiling) and cancelling an invoke. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "kernels/fast/fast.h"
#include "kernels/kernels.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const float ramp4[4] = {1, 2, 3, 4};

static p2l_model *chain_model(void) {
    tm_model m = tm_chain_model(ramp4);
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY, &model), P2L_OK);
    free(bytes);
    return model;
}

static bool env_set(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* ------------------------------------------------------------ option struct sizes */

static void test_options_size_field(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    /* size 0 (a zero-initialized struct written before `size` existed) and sizeof are accepted */
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = 2}, &it), P2L_OK);
    p2l_interpreter_free(it);
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = sizeof(p2l_interpreter_options)}, &it),
                 P2L_OK);
    p2l_interpreter_free(it);
    /* a positional {4} meant for the old first field num_threads lands in size: refused, not ignored */
    it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = 4}, &it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("p2l_interpreter_options.size is 4");
    CHECK(it == NULL);
    /* a caller built against a newer, larger struct: refused naming both sizes */
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = sizeof(p2l_interpreter_options) + 8},
                                        &it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("larger than");
    p2l_model_free(model);

    tm_model m = tm_chain_model(ramp4);
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    CHECK_EQ_INT(p2l_model_load_ex(bytes, size, &(p2l_model_load_options){.size = sizeof(p2l_model_load_options)},
                                   &model), P2L_OK);
    p2l_model_free(model);
    CHECK_EQ_INT(p2l_model_load_ex(bytes, size, &(p2l_model_load_options){.size = 3}, &model),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("p2l_model_load_options.size is 3");
    CHECK(model == NULL);
    free(bytes);
#ifdef P2L_HAVE_CONVERTER
    void *out = NULL;
    size_t out_size = 0;
    const char junk[4] = "PK";
    CHECK_EQ_INT(p2l_convert(junk, sizeof junk, &(p2l_convert_options){.size = 1}, &out, &out_size),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("p2l_convert_options.size is 1");
#endif
}

static void test_unknown_load_flags_are_refused(void) {
    tm_model m = tm_chain_model(ramp4);
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY | 0x40, &model), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown flags 0x40");
    CHECK(model == NULL);
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_KNOWN_FLAGS, &model), P2L_OK);
    p2l_model_free(model);
    /* the file variant checks them too, and honours P2L_MODEL_VERIFY_ONLY */
    char path[] = "/tmp/p2l_abi_testXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, bytes, size) == (ssize_t)size);
    close(fd);
    free(bytes);
    CHECK_EQ_INT(p2l_model_load_file_ex(path, &(p2l_model_load_options){.flags = 0x80000000u}, &model),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown flags 0x80000000");
    CHECK_EQ_INT(p2l_model_load_file_ex(path, &(p2l_model_load_options){.flags = P2L_MODEL_VERIFY_ONLY}, &model),
                 P2L_OK);
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("P2L_MODEL_VERIFY_ONLY");
    p2l_model_free(model);
    unlink(path);
}

static void test_invalid_thread_counts_are_refused(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = -3}, &it),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("num_threads is -3");
    CHECK(it == NULL);
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = 1000000}, &it),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("num_threads is 1000000");
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = 0}, &it), P2L_OK);
    p2l_interpreter_free(it);
    p2l_model_free(model);
}

static void test_version_number(void) {
    CHECK_EQ_INT(p2l_version_number(), P2L_VERSION_NUMBER);
    char text[32];
    snprintf(text, sizeof text, "%d.%d.%d", P2L_VERSION_MAJOR, P2L_VERSION_MINOR, P2L_VERSION_PATCH);
    CHECK(strcmp(p2l_version(), text) == 0);
    CHECK(strcmp(p2l_status_name(P2L_ERROR_CANCELLED), "cancelled") == 0);
}

/* ------------------------------------------------------------ error reporter */

typedef struct reports {
    int count;
    p2l_status status;
    char message[256];
} reports;

static void record_report(p2l_status status, const char *message, void *user) {
    reports *r = user;
    r->count++;
    r->status = status;
    snprintf(r->message, sizeof r->message, "%s", message);
}

static void test_error_reporter(void) {
    reports r = {0};
    p2l_set_error_reporter(record_report, &r);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load_file("/nonexistent/p2l_abi.tflite", &model), P2L_ERROR_IO);
    CHECK(r.count >= 1);
    CHECK_EQ_INT(r.status, P2L_ERROR_IO);
    CHECK(strcmp(r.message, p2l_last_error()) == 0);
    CHECK(strstr(r.message, "/nonexistent/p2l_abi.tflite") != NULL);
    /* context added on the way out is reported too: the last report is the final message */
    model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = -1}, &it),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK(strcmp(r.message, p2l_last_error()) == 0);
    CHECK(strstr(r.message, "p2l_interpreter_create") != NULL);
    p2l_model_free(model);
    p2l_set_error_reporter(NULL, NULL);
    const int before = r.count;
    CHECK_EQ_INT(p2l_model_load_file("/nonexistent/p2l_abi.tflite", &model), P2L_ERROR_IO);
    CHECK_EQ_INT(r.count, before);
}

/* ------------------------------------------------------------ use after free */

static void test_freed_interpreter_is_refused(void) {
    /* Something that is not an interpreter (zeroed memory): refused, whatever the build. */
    static uint64_t fake[512];
    p2l_interpreter *bogus = (p2l_interpreter *)(void *)fake;
    CHECK_EQ_INT(p2l_interpreter_invoke(bogus), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("not a live interpreter");
    CHECK_EQ_INT(p2l_interpreter_allocate(bogus), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("not a live interpreter");
    float x[4] = {0};
    CHECK_EQ_INT(p2l_interpreter_set_input(bogus, 0, x, sizeof x), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("not a live interpreter");
    CHECK(p2l_interpreter_model(bogus) == NULL);
    p2l_interpreter_free(bogus); /* does nothing */
#ifndef UNDER_ASAN
    /* A real double free (AddressSanitizer reports the read of freed memory itself: skipped there). Nothing
     * is allocated in between, so the freed block still holds the cleared marker. */
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    p2l_interpreter_free(it);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("not a live interpreter");
    p2l_interpreter_free(it); /* before: glibc "free(): double free detected", an abort */
#endif
}

/* ------------------------------------------------------------ messages */

static void test_clear_messages(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 4, NULL), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("dims is NULL");
    CHECK(strstr(p2l_last_error(), "not supported") == NULL);
    /* a huge shape fails at the resize, naming the limit; the interpreter keeps its old shape */
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){1 << 30, 1 << 30}), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_tensor_bytes");
    CHECK_ERROR_MENTIONS("resizing");
    p2l_tensor_info info = {.size = sizeof info};
    CHECK_EQ_INT(p2l_interpreter_input_info(it, 0, &info), P2L_OK);
    CHECK(info.dims[0] == 1 && info.dims[1] == 4);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    p2l_interpreter_free(it);
    /* the model's own, tighter limit applies at the resize too */
    tm_model m = tm_chain_model(ramp4);
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *small = NULL;
    const p2l_limits limits = {.max_tensor_bytes = 1 << 20};
    CHECK_EQ_INT(p2l_model_load_ex(bytes, size, &(p2l_model_load_options){.flags = P2L_MODEL_COPY, .limits = &limits},
                                   &small), P2L_OK);
    free(bytes);
    CHECK_EQ_INT(p2l_interpreter_create(small, NULL, &it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){1 << 20, 4}), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_tensor_bytes = 1048576");
    p2l_interpreter_free(it);
    p2l_model_free(small);
    /* NULL models say so */
    int tensor = -1;
    CHECK_EQ_INT(p2l_model_subgraph_input(NULL, 0, 0, &tensor), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("model is NULL");
    int subgraph = -1;
    CHECK_EQ_INT(p2l_model_signature_subgraph(NULL, 0, &subgraph), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("model is NULL");
    CHECK_EQ_INT(p2l_interpreter_create(NULL, NULL, &it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("model is NULL");
    CHECK_EQ_INT(p2l_model_subgraph_input(model, 5, 0, &tensor), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("no subgraph 5 (the model has 1)");
    p2l_model_free(model);
}

/* ------------------------------------------------------------ options instead of environment variables */

/* x[1,2,2,2] -> CONV_2D 1x1 -> HARD_SWISH -> y: the fast convolution absorbs the HARD_SWISH (a fusion). */
static const float conv_w[4] = {1, -2, 0.5f, 3}, conv_b[2] = {0.25f, -1};

static p2l_model *conv_hard_swish_model(void) {
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 2, 2, 2}, "x");
    int w = tm_const_add(&m, P2L_FLOAT32, 4, (int32_t[]){2, 1, 1, 2}, conv_w, sizeof conv_w, "w");
    int b = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){2}, conv_b, sizeof conv_b, "b");
    int c = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 2, 2, 2}, "c");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 2, 2, 2}, "y");
    tm_op *conv = tm_op_add(&m, 3 /* CONV_2D */, 3, (int32_t[]){x, w, b}, 1, (int32_t[]){c});
    tm_option(conv, "padding", 1 /* VALID */);
    tm_option(conv, "stride_w", 1);
    tm_option(conv, "stride_h", 1);
    tm_op_add(&m, 117 /* HARD_SWISH */, 1, (int32_t[]){c}, 1, (int32_t[]){y});
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY, &model), P2L_OK);
    free(bytes);
    return model;
}

static float hard_swish(float v) { return v * fminf(fmaxf(v + 3, 0), 6) / 6; }

/* Runs the conv model `invokes` times with `options`; checks y against a direct computation and returns
 * the ops the profile lists (-1 on failure), the first two names in ops[]. */
static int profiled_run(p2l_model *model, int kernels, unsigned flags, int invokes, const char *ops[2]) {
    p2l_interpreter *it = NULL;
    const p2l_interpreter_options options = {.size = sizeof options, .kernels = kernels,
                                             .flags = flags | P2L_INTERPRETER_PROFILE};
    if (p2l_interpreter_create(model, &options, &it) != P2L_OK) return -1;
    const float x[8] = {1, 2, -3, 0.5f, 4, -1, 0, 2};
    float y[8];
    for (int i = 0; i < invokes; i++) {
        CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x, sizeof x), P2L_OK);
        CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    }
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, y, sizeof y), P2L_OK);
    for (int p = 0; p < 4; p++)
        for (int o = 0; o < 2; o++) {
            float v = conv_b[o] + x[2 * p] * conv_w[2 * o] + x[2 * p + 1] * conv_w[2 * o + 1];
            CHECK(fabsf(y[2 * p + o] - hard_swish(v)) < 1e-5f);
        }
    const p2l_profile_entry *entries = NULL;
    int count = -1;
    CHECK_EQ_INT(p2l_interpreter_profile(it, &entries, &count), P2L_OK);
    for (int i = 0; i < count; i++) {
        CHECK_EQ_INT(entries[i].subgraph, 0);
        CHECK_EQ_INT(entries[i].runs, invokes);
        CHECK(entries[i].min_seconds >= 0 && entries[i].seconds >= entries[i].min_seconds);
        if (i < 2) ops[i] = entries[i].op;
    }
    p2l_interpreter_free(it);
    return count;
}

static void test_fusion_kernels_and_profile_options(void) {
    p2l_model *model = conv_hard_swish_model();
    const char *ops[2] = {"", ""};
    /* fusion off: both ops run and are profiled, in order */
    CHECK_EQ_INT(profiled_run(model, P2L_KERNELS_AUTO, P2L_INTERPRETER_NO_FUSION, 3, ops), 2);
    CHECK(strcmp(ops[0], "CONV_2D") == 0 && strcmp(ops[1], "HARD_SWISH") == 0);
    /* the reference kernels take no fusion offers: both ops run */
    CHECK_EQ_INT(profiled_run(model, P2L_KERNELS_REFERENCE, 0, 2, ops), 2);
    /* auto: the fast convolution absorbs HARD_SWISH, where this CPU has fast kernels and no environment
     * variable overrides the options */
    if (p2l_fast_kernels_enabled() && !env_set("P2L_NO_FUSION")) {
        CHECK_EQ_INT(profiled_run(model, P2L_KERNELS_AUTO, 0, 1, ops), 1);
        CHECK(strcmp(ops[0], "CONV_2D") == 0);
        /* P2L_NO_FUSION stays as an override for tools */
        setenv("P2L_NO_FUSION", "1", 1);
        CHECK_EQ_INT(profiled_run(model, P2L_KERNELS_AUTO, 0, 1, ops), 2);
        unsetenv("P2L_NO_FUSION");
    }
    /* one ISA's kernels: accepted exactly where this build and CPU have them, and used even where the
     * process-wide choice is the reference kernels (they fuse, which the reference kernels do not) */
    const p2l_fast_isa *tables[8];
    const int supported = p2l_fast_isa_supported(tables, 8);
    static const struct { int kernels; const char *name; } isas[] = {
        {P2L_KERNELS_AVX2, "avx2"}, {P2L_KERNELS_AVX512, "avx512"}, {P2L_KERNELS_NEON, "neon"}};
    p2l_fast_isa_select(NULL, true);
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++) {
        bool have = false;
        for (int t = 0; t < supported && t < 8; t++) have |= strcmp(tables[t]->name, isas[i].name) == 0;
        if (env_set("P2L_REFERENCE_KERNELS") || (isas[i].kernels == P2L_KERNELS_AVX512 && env_set("P2L_NO_AVX512")))
            continue;
        const int ran = profiled_run(model, isas[i].kernels, 0, 1, ops);
        if (have) {
            CHECK_EQ_INT(ran, env_set("P2L_NO_FUSION") ? 2 : 1);
        } else {
            CHECK_EQ_INT(ran, -1);
            CHECK_EQ_INT(p2l_last_status(), P2L_ERROR_UNSUPPORTED);
            CHECK_ERROR_MENTIONS(isas[i].name);
        }
    }
    p2l_fast_isa_select(NULL, false);
    /* bad values are refused; no profile without the flag */
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.kernels = 7}, &it),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("kernels is 7");
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.kernels = -1}, &it),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.flags = 0x100}, &it),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown flags 0x100");
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    const p2l_profile_entry *entries = NULL;
    int count = 0;
    CHECK_EQ_INT(p2l_interpreter_profile(it, &entries, &count), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("P2L_INTERPRETER_PROFILE");
    p2l_interpreter_free(it);
    p2l_model_free(model);
}

/* ------------------------------------------------------------ cancel */

static void *cancel_from_thread(void *it) {
    p2l_interpreter_cancel(it);
    return NULL;
}

static void test_cancel(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.num_threads = 2}, &it), P2L_OK);
    p2l_model_free(model);
    const float x[4] = {-5, 0, 1, 2};
    float y[4] = {0};
    CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x, sizeof x), P2L_OK);
    /* a request from another thread, made while no invoke runs, stops the next invoke before its first op */
    pthread_t thread;
    CHECK_EQ_INT(pthread_create(&thread, NULL, cancel_from_thread, it), 0);
    pthread_join(thread, NULL);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_ERROR_CANCELLED);
    CHECK_ERROR_MENTIONS("cancelled before op 0 (ADD)");
    /* consumed: the interpreter runs again in full */
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, y, sizeof y), P2L_OK);
    CHECK(y[0] == 0 && y[1] == 4 && y[2] == 8 && y[3] == 12);
    /* the same through invoke_subgraph */
    p2l_interpreter_cancel(it);
    CHECK_EQ_INT(p2l_interpreter_invoke_subgraph(it, 0), P2L_ERROR_CANCELLED);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    p2l_interpreter_cancel(NULL); /* harmless */
    p2l_interpreter_free(it);
}

int main(void) {
    RUN(test_options_size_field);
    RUN(test_unknown_load_flags_are_refused);
    RUN(test_invalid_thread_counts_are_refused);
    RUN(test_version_number);
    RUN(test_error_reporter);
    RUN(test_freed_interpreter_is_refused);
    RUN(test_clear_messages);
    RUN(test_fusion_kernels_and_profile_options);
    RUN(test_cancel);
    return check_summary();
}
