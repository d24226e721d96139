/* Resource limits (p2l_limits): each limit, exceeded by a little, gives P2L_ERROR_LIMIT with a
 * message naming the limit and its value; the defaults accept the same models. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/mem.h"
#include "base/strmap.h"
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


/* ---------------------------------------------------------------- base: hashing, sizes, peaks */

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Names whose unseeded FNV-1a hashes agree in their low 20 bits (every table size up to 2^20
 * puts them in one slot): "k<i>" plus three bytes solved backwards through FNV's inverse step. */
static char *colliding_name(int i) {
    const uint64_t prime = 1099511628211ull, mask = (1u << 20) - 1;
    uint64_t inverse = prime;
    for (int k = 0; k < 6; k++) inverse *= 2 - prime * inverse; /* prime * inverse == 1 mod 2^64 */
    char *name = malloc(32);
    int len = snprintf(name, 28, "k%d", i);
    uint64_t state = 1469598103934665603ull;
    for (int k = 0; k < len; k++) state = (state ^ (uint8_t)name[k]) * prime;
    for (unsigned c3 = 1; c3 < 256; c3++) {
        uint64_t after2 = c3; /* the state before the last byte when the final state is 0 */
        for (unsigned c2 = 1; c2 < 256; c2++) {
            uint64_t after1 = ((after2 * inverse) ^ c2) & mask;
            uint64_t c1 = ((after1 * inverse) ^ state) & mask;
            if (c1 >= 1 && c1 < 256) {
                name[len] = (char)c1, name[len + 1] = (char)c2, name[len + 2] = (char)c3, name[len + 3] = 0;
                return name;
            }
        }
    }
    free(name);
    return NULL;
}

/* Names crafted to collide under the old unseeded hash cost what ordinary names cost (the hash is
 * keyed now); with FNV-1a and linear probing they took quadratic time. */
static void test_strmap_colliding_names_stay_fast(void) {
    enum { N = 20000 };
    char **crafted = malloc(sizeof(char *) * N), **plain = malloc(sizeof(char *) * N);
    for (int i = 0; i < N; i++) {
        crafted[i] = colliding_name(i);
        plain[i] = malloc(32);
        snprintf(plain[i], 32, "k%d", i);
    }
    CHECK(crafted[0] && crafted[N - 1]);
    double times[2];
    for (int pass = 0; pass < 2; pass++) {
        char **names = pass ? crafted : plain;
        p2l_strmap map = {0};
        double start = seconds_now();
        for (int i = 0; i < N && names[i]; i++) CHECK_EQ_INT(p2l_strmap_put(&map, names[i], i), P2L_OK);
        int found = 0;
        for (int i = 0; i < N && names[i]; i++) found += p2l_strmap_get(&map, names[i], -1) == i;
        times[pass] = seconds_now() - start;
        CHECK_EQ_INT(found, N);
        CHECK_EQ_INT(p2l_strmap_get(&map, "absent", -7), -7);
        p2l_strmap_free(&map);
    }
    if (times[1] > 10 * times[0] + 0.05)
        fprintf(stderr, "  crafted names: %.3f s, plain names: %.3f s\n", times[1], times[0]);
    CHECK(times[1] <= 10 * times[0] + 0.05);
    for (int i = 0; i < N; i++) free(crafted[i]), free(plain[i]);
    free(crafted);
    free(plain);
}

/* Size rounding never wraps to a small block. */
static void test_size_rounding_overflow(void) {
    size_t out = 0;
    CHECK(p2l_round_up_size(17, 16, &out) && out == 32);
    CHECK(p2l_round_up_size(0, 16, &out) && out == 0);
    CHECK(!p2l_round_up_size(SIZE_MAX - 3, 16, &out));
    p2l_arena arena = {0};
    CHECK(p2l_arena_alloc(&arena, SIZE_MAX - 3) == NULL);
    CHECK(p2l_arena_alloc(&arena, SIZE_MAX - 20) == NULL);
    CHECK(p2l_arena_alloc(&arena, 24) != NULL);
    p2l_arena_free(&arena);
}

#ifdef P2L_HAVE_CONVERTER
static atomic_int churn_stop;
/* Allocates and frees a large block over and over: other threads' heap must not show up in this
 * thread's conversion peak. */
static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&churn_stop)) {
        void *block = p2l_alloc((size_t)256 << 20); /* address space only: never touched */
        p2l_release(block);
    }
    return NULL;
}
#endif

static void test_convert_peak_is_per_thread(void) {
#ifndef P2L_HAVE_CONVERTER
    fprintf(stderr, "  (converter not built: skipped)\n");
#else
    size_t size = 0;
    uint8_t *pt2 = read_file("fuzz/corpus/fuzz_convert/linear.pt2", &size);
    CHECK(pt2 != NULL);
    if (!pt2) return;
    void *out = NULL;
    size_t out_size = 0, alone, worst = 0;
    CHECK_EQ_INT(p2l_convert(pt2, size, NULL, &out, &out_size), P2L_OK);
    p2l_free(out);
    alone = p2l_convert_peak_bytes();
    CHECK(alone > 0 && alone < ((size_t)64 << 20));
    pthread_t thread;
    atomic_store(&churn_stop, 0);
    CHECK_EQ_INT(pthread_create(&thread, NULL, churn, NULL), 0);
    for (int i = 0; i < 200; i++) {
        CHECK_EQ_INT(p2l_convert(pt2, size, NULL, &out, &out_size), P2L_OK);
        p2l_free(out);
        if (p2l_convert_peak_bytes() > worst) worst = p2l_convert_peak_bytes();
    }
    atomic_store(&churn_stop, 1);
    pthread_join(thread, NULL);
    if (worst > alone + ((size_t)1 << 20))
        fprintf(stderr, "  peak alone %zu, with another thread allocating %zu\n", alone, worst);
    CHECK(worst <= alone + ((size_t)1 << 20));
    free(pt2);
#endif
}

/* A limit hit while lowering (constants the lowering makes count against max_tensor_bytes) is
 * reported as P2L_ERROR_LIMIT: the driver returns the real status, not "unsupported" or "out of
 * memory". Every limit below the smallest that converts fails with LIMIT. */
static void test_lowering_returns_real_status(void) {
#ifndef P2L_HAVE_CONVERTER
    fprintf(stderr, "  (converter not built: skipped)\n");
#else
    size_t size = 0;
    uint8_t *pt2 = read_file("fuzz/corpus/fuzz_convert/conv.pt2", &size);
    CHECK(pt2 != NULL);
    if (!pt2) return;
    void *out = NULL;
    size_t out_size = 0;
    uint64_t low = 1, high = (uint64_t)1 << 30; /* low fails, high converts */
    p2l_limits limits = {.max_tensor_bytes = high};
    p2l_convert_options options = {.limits = &limits};
    CHECK_EQ_INT(p2l_convert(pt2, size, &options, &out, &out_size), P2L_OK);
    p2l_free(out);
    while (high - low > 1) {
        limits.max_tensor_bytes = low + (high - low) / 2;
        out = NULL;
        p2l_status s = p2l_convert(pt2, size, &options, &out, &out_size);
        p2l_free(out);
        if (s == P2L_OK) {
            high = limits.max_tensor_bytes;
        } else {
            low = limits.max_tensor_bytes;
            if (s != P2L_ERROR_LIMIT) fprintf(stderr, "  limit %llu: %s\n", (unsigned long long)low, p2l_last_error());
            CHECK_EQ_INT(s, P2L_ERROR_LIMIT);
        }
    }
    limits.max_tensor_bytes = high - 1;
    CHECK_EQ_INT(p2l_convert(pt2, size, &options, &out, &out_size), P2L_ERROR_LIMIT);
    CHECK_ERROR_MENTIONS("max_tensor_bytes");
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
    RUN(test_strmap_colliding_names_stay_fast);
    RUN(test_size_rounding_overflow);
    RUN(test_convert_peak_is_per_thread);
    RUN(test_lowering_returns_real_status);
    return check_summary();
}
