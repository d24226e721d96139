/* Regression inputs of the fuzzers (fuzz/): every file under tests/data/regress/<harness>/ goes
 * through the same entry point as that harness and must give a clean result: P2L_OK, or an error
 * with a message (never P2L_ERROR_INTERNAL, never a crash: ctest runs this under ASan/UBSan in
 * scripts/test_sanitize.sh). The file names say what each input once broke. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/limits.h"
#include "base/zip.h"
#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"
#ifdef P2L_HAVE_CONVERTER
#include "pt2/pt2.h"
#endif

/* Found from the source tree (CMake passes it), so the test finds its files from any directory. */
#ifndef P2L_SOURCE_DIR
#error "P2L_SOURCE_DIR (the source tree) must be defined"
#endif
static const char *const ROOT = P2L_SOURCE_DIR "/tests/data/regress";

/* The interpreter API harness itself (its models and call sequence; it aborts on a wrong result). */
#define LLVMFuzzerInitialize fuzz_interpreter_api_init
#define LLVMFuzzerTestOneInput fuzz_interpreter_api_one
#include "../../fuzz/fuzz_interpreter_api.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

static p2l_status run_interpreter_api(const uint8_t *data, size_t size) {
    static bool ready;
    if (!ready) fuzz_interpreter_api_init(NULL, NULL);
    ready = true;
    return (p2l_status)fuzz_interpreter_api_one(data, size);
}

/* The limits the fuzzers run with (fuzz/fuzz_*.c). */
#ifdef P2L_HAVE_CONVERTER
static const p2l_limits converter_limits = {.max_tensor_bytes = 64u << 20, .max_nodes = 4096,
                                            .max_tensors = 16384, .max_json_depth = 128};
#endif
static const p2l_limits run_limits = {.max_nodes = 64, .max_tensors = 256, .max_tensor_bytes = 16u << 20,
                                      .max_arena_bytes = 4u << 20};

static p2l_status run_json(const uint8_t *data, size_t size) {
    p2l_arena arena = {0};
    p2l_json *root = NULL;
    p2l_json_limits limits = {.max_depth = 64, .max_bytes = 1 << 20};
    p2l_status s = p2l_json_parse((const char *)data, size, &limits, "regress.json", &arena, &root);
    p2l_arena_free(&arena);
    return s;
}

static p2l_status run_zip(const uint8_t *data, size_t size) {
    p2l_arena arena = {0};
    p2l_zip zip;
    p2l_status s = p2l_zip_open(data, size, &arena, &zip);
    if (!s)
        for (size_t i = 0; i < zip.count; i++)
            if (!p2l_zip_find(&zip, zip.entries[i].name)) s = p2l_fail(P2L_ERROR_INTERNAL, "entry not found by name");
    p2l_arena_free(&arena);
    return s;
}

#ifdef P2L_HAVE_CONVERTER
static p2l_status run_pt2(const uint8_t *data, size_t size) {
    p2l_limits_set_thread(&converter_limits);
    p2l_exported ep;
    p2l_status s = p2l_pt2_read(data, size, &ep);
    if (!s) p2l_exported_free(&ep);
    p2l_limits_set_thread(NULL);
    return s;
}

static p2l_status run_convert(const uint8_t *data, size_t size) {
    p2l_convert_options options = {.limits = &converter_limits};
    void *out = NULL;
    size_t out_size = 0;
    p2l_status s = p2l_convert(data, size, &options, &out, &out_size);
    if (!s) {
        p2l_model *m = NULL;
        if (p2l_model_load(out, out_size, 0, &m) == P2L_ERROR_MALFORMED)
            s = p2l_fail(P2L_ERROR_INTERNAL, "converter output fails verification: %s", p2l_last_error());
        p2l_model_free(m);
        p2l_free(out);
    }
    return s;
}
#endif

static p2l_status run_tflite_load(const uint8_t *data, size_t size) {
    p2l_model *m = NULL;
    p2l_status s = p2l_model_load(data, size, P2L_MODEL_COPY, &m);
    p2l_model_free(m);
    return s;
}

static p2l_status run_tflite_run(const uint8_t *data, size_t size) {
    p2l_model_load_options options = {.flags = P2L_MODEL_COPY, .limits = &run_limits};
    p2l_model *m = NULL;
    P2L_TRY(p2l_model_load_ex(data, size, &options, &m));
    p2l_interpreter *it = NULL;
    p2l_status s = p2l_interpreter_create(m, NULL, &it);
    p2l_model_free(m);
    if (!s) s = p2l_interpreter_allocate(it);
    uint8_t *buf = malloc(4u << 20);
    for (int round = 0; round < 2 && !s; round++) {
        int inputs = p2l_model_subgraph_input_count(p2l_interpreter_model(it), 0);
        for (int i = 0; i < inputs; i++) {
            p2l_tensor_info info = {.size = sizeof info};
            if (p2l_interpreter_input_info(it, i, &info) || info.bytes > (4u << 20)) continue;
            for (size_t b = 0; b < info.bytes; b++) buf[b] = data[(b * 7 + (size_t)i + (size_t)round) % size];
            if (info.dtype == P2L_FLOAT32)
                for (size_t b = 0; b + 4 <= info.bytes; b += 4) {
                    float f = (float)((int8_t)buf[b]) / 16.0f;
                    memcpy(buf + b, &f, 4);
                }
            p2l_interpreter_set_input(it, i, buf, info.bytes);
        }
        s = p2l_interpreter_invoke(it);
    }
    free(buf);
    p2l_interpreter_free(it);
    return s;
}

typedef struct harness {
    const char *name;
    p2l_status (*run)(const uint8_t *data, size_t size);
} harness;

static const harness harnesses[] = {
    {"fuzz_json", run_json},
    {"fuzz_zip", run_zip},
#ifdef P2L_HAVE_CONVERTER
    {"fuzz_pt2", run_pt2},
    {"fuzz_convert", run_convert},
#endif
    {"fuzz_tflite_load", run_tflite_load},
    {"fuzz_tflite_run", run_tflite_run},
    {"fuzz_interpreter_api", run_interpreter_api},
};

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* Exactly the file's size (at least 1), so ASan sees any read past the end. */
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *size = data ? fread(data, 1, (size_t)n, f) : 0;
    fclose(f);
    return data;
}

static int files_run;

static void run_folder(const harness *h) {
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/%s", ROOT, h->name);
    DIR *dir = opendir(folder);
    if (!dir) return; /* no regression input for this harness yet */
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1536];
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        size_t size = 0;
        uint8_t *data = read_file(path, &size);
        CHECK(data != NULL);
        if (!data) continue;
        p2l_clear_error();
        p2l_status s = h->run(data, size);
        files_run++;
        if (s == P2L_ERROR_INTERNAL || (s != P2L_OK && !p2l_last_error()[0]))
            fprintf(stderr, "%s: %s: %s\n", path, p2l_status_name(s), p2l_last_error());
        CHECK(s != P2L_ERROR_INTERNAL);
        CHECK(s == P2L_OK || p2l_last_error()[0] != 0);
        free(data);
    }
    closedir(dir);
}

static void test_regressions(void) {
    DIR *root = opendir(ROOT);
    CHECK(root != NULL); /* the folder exists in the source tree */
    if (root) closedir(root);
    for (size_t i = 0; i < sizeof harnesses / sizeof harnesses[0]; i++) run_folder(&harnesses[i]);
    fprintf(stderr, "  %d regression inputs from %s\n", files_run, ROOT);
    CHECK(files_run > 0);
}


/* ------------------------------------------------------------ malformed-model classes
 *
 * The classes of the official TFLite runtime's CVEs, each built into a small file; most are also in
 * test_runtime_verify.c (the table in fuzz/README.md says which test covers which). */

/* Loads, allocates and invokes (inputs zero): the status of the first step that fails. */
static p2l_status load_run(const tm_model *m) { return tm_run(m, NULL, 0, NULL, 0, NULL, 0); }

/* x[2,3] REDUCE(axes) -> y */
static tm_model mean_model(const int32_t *axes, int n_axes) {
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "x");
    int a = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){n_axes}, axes, (size_t)n_axes * 4, "axes");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){2}, "y");
    tm_op *op = tm_op_add(&m, 40 /* MEAN */, 2, (int32_t[]){x, a}, 1, (int32_t[]){y});
    tm_option(op, "keep_dims", 0);
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    return m;
}

static void test_negative_axes(void) {
    static const int32_t last[1] = {-1}, far[1] = {-100}, big[1] = {7}, min[1] = {INT32_MIN};
    tm_model m = mean_model(last, 1);
    CHECK_EQ_INT(load_run(&m), P2L_OK); /* -1 is the last axis: valid */
    m = mean_model(far, 1);
    CHECK(load_run(&m) != P2L_OK);
    CHECK(p2l_last_error()[0] != 0);
    m = mean_model(big, 1);
    CHECK(load_run(&m) != P2L_OK);
    m = mean_model(min, 1);
    CHECK(load_run(&m) != P2L_OK);

    /* CONCATENATION and GATHER take the axis as an option. */
    for (int axis = -6; axis <= 6; axis++) {
        tm_model c = {0};
        int a = tm_tensor_add(&c, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "a");
        int b = tm_tensor_add(&c, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "b");
        int y = tm_tensor_add(&c, P2L_FLOAT32, 2, (int32_t[]){4, 3}, "y");
        tm_op *op = tm_op_add(&c, 2 /* CONCATENATION */, 2, (int32_t[]){a, b}, 1, (int32_t[]){y});
        tm_option(op, "axis", axis);
        c.n_in = 2, c.in[0] = a, c.in[1] = b;
        c.n_out = 1, c.out[0] = y;
        p2l_status s = load_run(&c);
        CHECK(axis >= -2 && axis < 2 ? s == P2L_OK : s != P2L_OK);

        static const int32_t idx[2] = {1, 0};
        tm_model g = {0};
        int x = tm_tensor_add(&g, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "x");
        int i = tm_const_add(&g, P2L_INT32, 1, (int32_t[]){2}, idx, sizeof idx, "i");
        int z = tm_tensor_add(&g, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "z");
        op = tm_op_add(&g, 36 /* GATHER */, 2, (int32_t[]){x, i}, 1, (int32_t[]){z});
        tm_option(op, "axis", axis);
        g.n_in = 1, g.in[0] = x;
        g.n_out = 1, g.out[0] = z;
        s = load_run(&g);
        CHECK(axis >= -2 && axis < 2 ? s == P2L_OK : s != P2L_OK);
    }
}

/* Zero-sized dims where a kernel would divide by them: a clean result, never SIGFPE. */
static void test_zero_sized_dims_divide(void) {
    /* RESHAPE of a zero-element tensor with a -1 dim: the -1 would be count / product(other dims). */
    static const int32_t shapes[][2] = {{-1, 0}, {0, -1}, {-1, 4}, {-1, -1}};
    for (int k = 0; k < 4; k++) {
        tm_model m = {0};
        int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){0, 4}, "x");
        int sh = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, shapes[k], sizeof shapes[k], "shape");
        int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){0, 4}, "y");
        tm_op_add(&m, 22 /* RESHAPE */, 2, (int32_t[]){x, sh}, 1, (int32_t[]){y});
        m.n_in = 1, m.in[0] = x;
        m.n_out = 1, m.out[0] = y;
        p2l_status s = load_run(&m);
        CHECK(s == P2L_OK || (s != P2L_ERROR_INTERNAL && p2l_last_error()[0]));
    }
    /* MEAN over an empty axis (count 0) and over a tensor with a zero dim elsewhere. */
    static const int32_t axis1[1] = {1};
    for (int k = 0; k < 2; k++) {
        tm_model m = mean_model(axis1, 1);
        m.t[0].shape[k == 0 ? 1 : 0] = 0;
        m.t[2].shape[0] = k == 0 ? 2 : 0;
        p2l_status s = load_run(&m);
        CHECK(s == P2L_OK || (s != P2L_ERROR_INTERNAL && p2l_last_error()[0]));
    }
    /* DEPTH_TO_SPACE / SPACE_TO_DEPTH with block size 0 or a channel count it does not divide. */
    for (int op = 0; op < 2; op++)
        for (int block = -1; block <= 3; block++) {
            tm_model m = {0};
            int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 2, 2, 4}, "x");
            int y = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 4, 4, 1}, "y");
            tm_op *o = tm_op_add(&m, op ? 26 /* SPACE_TO_DEPTH */ : 5 /* DEPTH_TO_SPACE */, 1, (int32_t[]){x}, 1,
                                 (int32_t[]){y});
            tm_option(o, "block_size", block);
            m.n_in = 1, m.in[0] = x;
            m.n_out = 1, m.out[0] = y;
            p2l_status s = load_run(&m);
            if (block <= 0) CHECK(s != P2L_OK);
            CHECK(s == P2L_OK || (s != P2L_ERROR_INTERNAL && p2l_last_error()[0]));
        }
    /* AVERAGE_POOL_2D with a zero filter or stride, and over a zero-sized window. */
    for (int k = 0; k < 3; k++) {
        tm_model m = {0};
        int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, k == 2 ? 0 : 4, 4, 1}, "x");
        int y = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 2, 2, 1}, "y");
        tm_op *o = tm_op_add(&m, 1 /* AVERAGE_POOL_2D */, 1, (int32_t[]){x}, 1, (int32_t[]){y});
        tm_option(o, "padding", P2L_PAD_VALID);
        tm_option(o, "stride_w", k == 1 ? 0 : 2);
        tm_option(o, "stride_h", 2);
        tm_option(o, "filter_width", k == 0 ? 0 : 2);
        tm_option(o, "filter_height", 2);
        m.n_in = 1, m.in[0] = x;
        m.n_out = 1, m.out[0] = y;
        p2l_status s = load_run(&m);
        if (k < 2) CHECK(s != P2L_OK);
        CHECK(s == P2L_OK || (s != P2L_ERROR_INTERNAL && p2l_last_error()[0]));
    }
}

/* Control flow (WHILE, IF, CALL_ONCE) names subgraphs: one naming its own subgraph would recurse
 * forever. pt2lite has no WHILE or IF kernels; CALL_ONCE must name another subgraph (an initializer
 * that calls nothing): each is rejected at load. */
static void test_subgraph_calling_itself(void) {
    static const int codes[3] = {119 /* WHILE */, 118 /* IF */, 129 /* CALL_ONCE */};
    for (int k = 0; k < 3; k++) {
        tm_model m = {0};
        int x = tm_tensor_add(&m, P2L_INT32, 0, NULL, "x");
        int y = tm_tensor_add(&m, P2L_INT32, 0, NULL, "y");
        if (codes[k] == 129) tm_op_add(&m, codes[k], 0, (int32_t[]){0}, 0, (int32_t[]){0});
        else tm_op_add(&m, codes[k], 1, (int32_t[]){x}, 1, (int32_t[]){y});
        m.n_in = 1, m.in[0] = x;
        m.n_out = codes[k] == 129 ? 0 : 1, m.out[0] = y;
        CHECK_EQ_INT(load_run(&m), P2L_ERROR_UNSUPPORTED);
        CHECK_ERROR_MENTIONS("not supported");
    }
}

/* Buffers whose offset or size overflow, or that point outside the file: a hand-built model (the
 * shared builder writes inline data only) with buffer 1 = {offset, size} fields. */
static p2l_status load_with_buffer(uint64_t offset, uint64_t size, uint32_t inline_count) {
    tb b = {0};
    tb_bytes(&b, "\0\0\0\0TFL3", 8);
    size_t model = tb_table(&b, 5, 1u << 3);
    tb_u32_at(&b, 0, (uint32_t)model);
    uint32_t version = 3;
    tb_set(&b, model, 0, &version, 4);
    size_t codes = tb_refs(&b, 1);
    tb_link(&b, model, 1, codes);
    size_t c = tb_table(&b, 4, 1u << 1);
    int32_t code = 0 /* ADD */, ver = 1;
    int8_t dep = 0;
    tb_set(&b, c, 0, &dep, 1);
    tb_set(&b, c, 2, &ver, 4);
    tb_set(&b, c, 3, &code, 4);
    tb_ref_item(&b, codes, 0, c);
    size_t buffers = tb_refs(&b, 2);
    tb_link(&b, model, 4, buffers);
    size_t b0 = tb_table(&b, 1, 1u << 0);
    tb_ref_item(&b, buffers, 0, b0);
    size_t b1 = tb_table(&b, 3, inline_count ? 0 : 1u << 0);
    tb_ref_item(&b, buffers, 1, b1);
    tb_set(&b, b1, 1, &offset, 8);
    tb_set(&b, b1, 2, &size, 8);
    if (inline_count) { /* a vector whose length runs past the end of the file */
        size_t v = tb_vector(&b, "abcdefgh", 2, 4, 16);
        tb_u32_at(&b, v, inline_count);
        tb_link(&b, b1, 0, v);
    }
    size_t subgraphs = tb_refs(&b, 1);
    tb_link(&b, model, 2, subgraphs);
    size_t sg = tb_table(&b, 4, 0);
    tb_ref_item(&b, subgraphs, 0, sg);
    tb_link(&b, sg, 1, tm_ints(&b, (int32_t[]){0}, 1));
    tb_link(&b, sg, 2, tm_ints(&b, (int32_t[]){2}, 1));
    size_t tensors = tb_refs(&b, 3);
    tb_link(&b, sg, 0, tensors);
    for (uint32_t i = 0; i < 3; i++) {
        size_t tt = tb_table(&b, 3, 0);
        tb_ref_item(&b, tensors, i, tt);
        int8_t type = P2L_FLOAT32;
        uint32_t buffer = i == 1 ? 1 : 0;
        tb_set(&b, tt, 1, &type, 1);
        tb_set(&b, tt, 2, &buffer, 4);
        tb_link(&b, tt, 0, tm_ints(&b, (int32_t[]){4}, 1));
    }
    size_t ops = tb_refs(&b, 1);
    tb_link(&b, sg, 3, ops);
    size_t ot = tb_table(&b, 3, 0);
    tb_ref_item(&b, ops, 0, ot);
    tb_link(&b, ot, 1, tm_ints(&b, (int32_t[]){0, 1}, 2));
    tb_link(&b, ot, 2, tm_ints(&b, (int32_t[]){2}, 1));
    /* 16 bytes of external data at the end, 16-byte aligned, for the valid case. */
    size_t data_at = tb_pad(&b, 16);
    tb_bytes(&b, (float[]){1, 2, 3, 4}, 16);
    if (offset == 1) { /* placeholder: the valid external offset */
        offset = data_at;
        tb_set(&b, b1, 1, &offset, 8);
    }
    uint8_t *bytes = malloc(b.len);
    memcpy(bytes, b.buf, b.len);
    p2l_model *m = NULL;
    p2l_status s = p2l_model_load(bytes, b.len, 0, &m);
    p2l_model_free(m);
    free(bytes);
    free(b.buf);
    return s;
}

static void test_overflowing_buffer_offsets(void) {
    CHECK_EQ_INT(load_with_buffer(1, 16, 0), P2L_OK); /* external data inside the file: valid */
    CHECK_EQ_INT(load_with_buffer(UINT64_MAX - 7, 16, 0), P2L_ERROR_MALFORMED); /* offset + size wraps */
    CHECK_ERROR_MENTIONS("outside the file");
    CHECK_EQ_INT(load_with_buffer(16, UINT64_MAX - 8, 0), P2L_ERROR_MALFORMED); /* size wraps */
    CHECK_EQ_INT(load_with_buffer((uint64_t)1 << 40, 16, 0), P2L_ERROR_MALFORMED); /* past the end */
    CHECK_EQ_INT(load_with_buffer(0, 0, 0x3fffffff), P2L_ERROR_MALFORMED);  /* vector length past the end */
    CHECK_EQ_INT(load_with_buffer(0, 0, 0xffffffff), P2L_ERROR_MALFORMED);  /* length * elem overflows 32 bits */
    CHECK_ERROR_MENTIONS("runs past the end");
}

int main(void) {
    RUN(test_regressions);
    RUN(test_negative_axes);
    RUN(test_zero_sized_dims_divide);
    RUN(test_subgraph_calling_itself);
    RUN(test_overflowing_buffer_offsets);
    return check_summary();
}
