/* Resource limits (p2l_limits): each limit, exceeded by a little, gives P2L_ERROR_LIMIT with a
 * message naming the limit and its value; the defaults accept the same models. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"


static const float add_const[4] = {1, 2, 3, 4};

/* x[1,4] + c[1,4] -> h; h + c -> y: 2 ops, 4 tensors, 64 bytes of tensors. */
static tm_model two_adds(void) {
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "x");
    int c = tm_const_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, add_const, sizeof add_const, "c");
    int h = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "h");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 4}, "y");
    tm_op_add(&m, 0 /* ADD */, 2, (int32_t[]){x, c}, 1, (int32_t[]){h});
    tm_op_add(&m, 0 /* ADD */, 2, (int32_t[]){h, c}, 1, (int32_t[]){y});
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    return m;
}

static p2l_status load_with(const uint8_t *bytes, size_t size, const p2l_limits *limits, p2l_model **model) {
    p2l_model_load_options options = {.flags = 0, .limits = limits};
    return p2l_model_load_ex(bytes, size, &options, model);
}

static void test_defaults_resolve(void) {
    p2l_limits d = p2l_limits_resolve(NULL);
    CHECK(d.max_file_bytes == P2L_DEFAULT_MAX_FILE_BYTES);
    CHECK(d.max_tensor_bytes == P2L_DEFAULT_MAX_TENSOR_BYTES);
    CHECK(d.max_nodes == P2L_DEFAULT_MAX_NODES);
    CHECK(d.max_tensors == P2L_DEFAULT_MAX_TENSORS);
    CHECK(d.max_json_depth == P2L_DEFAULT_MAX_JSON_DEPTH);
    CHECK(d.max_arena_bytes == P2L_DEFAULT_MAX_ARENA_BYTES);
    p2l_limits some = {.max_nodes = 7};
    p2l_limits r = p2l_limits_resolve(&some);
    CHECK(r.max_nodes == 7 && r.max_tensors == P2L_DEFAULT_MAX_TENSORS);
}

static void test_runtime_load_limits(void) {
    tm_model m = two_adds();
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    /* Defaults and exact limits load. */
    CHECK_EQ_INT(load_with(bytes, size, NULL, &model), P2L_OK);
    p2l_model_free(model);
    p2l_limits exact = {.max_file_bytes = size, .max_nodes = 2, .max_tensors = 4, .max_tensor_bytes = 64};
    CHECK_EQ_INT(load_with(bytes, size, &exact, &model), P2L_OK);
    p2l_model_free(model);

    p2l_limits file = {.max_file_bytes = size - 1};
    CHECK_EQ_INT(load_with(bytes, size, &file, &model), P2L_ERROR_LIMIT);
    CHECK(model == NULL);
    CHECK_ERROR_MENTIONS("max_file_bytes");
    char value[64];
    snprintf(value, sizeof value, "= %zu", size - 1);
    CHECK_ERROR_MENTIONS(value);

    p2l_limits nodes = {.max_nodes = 1};
    CHECK_EQ_INT(load_with(bytes, size, &nodes, &model), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_nodes = 1");

    p2l_limits tensors = {.max_tensors = 3};
    CHECK_EQ_INT(load_with(bytes, size, &tensors, &model), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_tensors = 3");

    p2l_limits tensor_bytes = {.max_tensor_bytes = 63};
    CHECK_EQ_INT(load_with(bytes, size, &tensor_bytes, &model), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_tensor_bytes = 63");

    /* The file variant checks the size before mapping. */
    char path[] = "/tmp/p2l_limits_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "wb");
        fwrite(bytes, 1, size, f);
        fclose(f);
        p2l_model_load_options options = {.limits = &file};
        CHECK_EQ_INT(p2l_model_load_file_ex(path, &options, &model), P2L_ERROR_LIMIT);
        CHECK_ERROR_MENTIONS("max_file_bytes");
        CHECK_EQ_INT(p2l_model_load_file_ex(path, NULL, &model), P2L_OK);
        p2l_model_free(model);
        remove(path);
    }
    free(bytes);
}

/* Arena: the planned tensor memory; also after a resize of an input. */
static void test_runtime_arena_limit(void) {
    tm_model m = two_adds();
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_limits arena = {.max_arena_bytes = 4096};
    p2l_model *model = NULL;
    CHECK_EQ_INT(load_with(bytes, size, &arena, &model), P2L_OK);
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_OK);
    CHECK(p2l_interpreter_arena_bytes(it, 0) <= 4096);
    /* [1, 4] -> [1, 4096]: broadcasting against c fails shape inference, so use [1, 4] rows: [1024, 4]. */
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){1024, 4}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_arena_bytes = 4096");
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_ERROR_LIMIT);
    /* Back within the limit: works again. */
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){2, 4}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    p2l_interpreter_free(it);

    /* max_tensor_bytes also holds after shape inference. */
    p2l_limits tb = {.max_tensor_bytes = 1024};
    CHECK_EQ_INT(load_with(bytes, size, &tb, &model), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){64, 4}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_tensor_bytes = 1024");
    p2l_interpreter_free(it);
    free(bytes);
}

/* Values computed at prepare time (FILL of constant dims) count against the arena limit before they
 * are allocated: a tiny file cannot make prepare allocate gigabytes. */
static void test_runtime_folded_limit(void) {
    static const int32_t dims[2] = {30000, 30000};
    static const float value = 1.0f;
    tm_model m = {0};
    int d = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, dims, sizeof dims, "dims");
    int v = tm_const_add(&m, P2L_FLOAT32, 0, NULL, &value, sizeof value, "value");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 1}, "y");
    tm_op_add(&m, 94 /* FILL */, 2, (int32_t[]){d, v}, 1, (int32_t[]){y});
    m.n_out = 1, m.out[0] = y;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_limits limits = {.max_arena_bytes = 1 << 20};
    p2l_model *model = NULL;
    CHECK_EQ_INT(load_with(bytes, size, &limits, &model), P2L_OK);
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_arena_bytes = 1048576");
    p2l_interpreter_free(it);
    free(bytes);
}

#ifdef P2L_HAVE_CONVERTER
static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)n + 1);
    *size = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}
#endif

/* The converter: a real .pt2 (nn.Linear(4, 3), from fuzz/make_corpus.py). */
static void test_converter_limits(void) {
#ifndef P2L_HAVE_CONVERTER
    fprintf(stderr, "  (converter not built: skipped)\n");
    return;
#else
    size_t size = 0;
    uint8_t *pt2 = read_file("fuzz/corpus/fuzz_convert/linear.pt2", &size);
    CHECK(pt2 != NULL);
    if (!pt2) return;
    void *out = NULL;
    size_t out_size = 0;
    p2l_convert_options options = {0};
    CHECK_EQ_INT(p2l_convert(pt2, size, &options, &out, &out_size), P2L_OK);
    p2l_free(out);

    struct {
        p2l_limits limits;
        const char *mention;
    } cases[] = {
        {{.max_file_bytes = 100}, "max_file_bytes = 100"},
        {{.max_nodes = 1}, "max_nodes = 1"},
        {{.max_tensors = 2}, "max_tensors = 2"},
        {{.max_json_depth = 4}, "max_json_depth = 4"},
        {{.max_tensor_bytes = 40}, "max_tensor_bytes = 40"}, /* weight 3x4 floats = 48 bytes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        options.limits = &cases[i].limits;
        out = NULL;
        CHECK_EQ_INT(p2l_convert(pt2, size, &options, &out, &out_size), P2L_ERROR_LIMIT);
        CHECK(out == NULL);
        if (!strstr(p2l_last_error(), cases[i].mention))
            fprintf(stderr, "  case %zu: message '%s' lacks '%s'\n", i, p2l_last_error(), cases[i].mention);
        CHECK_ERROR_MENTIONS(cases[i].mention);
    }
    /* The limits were for that conversion only: the next one has the defaults again. */
    options.limits = NULL;
    CHECK_EQ_INT(p2l_convert(pt2, size, &options, &out, &out_size), P2L_OK);
    p2l_free(out);
    free(pt2);
#endif
}

int main(void) {
    (void)tm_option;
    RUN(test_defaults_resolve);
    RUN(test_runtime_load_limits);
    RUN(test_runtime_arena_limit);
    RUN(test_runtime_folded_limit);
    RUN(test_converter_limits);
    return check_summary();
}
