/* libFuzzer harness: the interpreter API as a caller drives it. The fuzzer's bytes pick a model and
 * then a sequence of calls (resize an input or any tensor to a random small shape, allocate, set an
 * input, invoke, read outputs and tensor memory, invoke another subgraph) on one interpreter.
 *
 * Models: four small valid ones built here (test_runtime_builder.h), or, when the first byte is 0xff,
 * a .tflite carried in the input ([0xff][u32 length][model][calls], e.g. the fuzz_tflite_run seeds).
 *
 * Checks beyond the sanitizers: every status is OK or an error with a message, never
 * P2L_ERROR_INTERNAL; after a successful allocate every tensor with memory can be read and written
 * over its whole reported size (so a plan smaller than a shape is an ASan report); the chain model's
 * output equals 2 * relu(x + c), computed here, whenever its input was set since the last resize. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt2lite.h"
#include "../tests/c/test_runtime_builder.h" /* the test helper that writes .tflite files */

enum { MODEL_COUNT = 4, MAX_BYTES = 1u << 20 };

static uint8_t *models[MODEL_COUNT];
static size_t model_sizes[MODEL_COUNT];
static const float chain_c[4] = {1, -2, 3, -4};

/* x[1,5,5,2] -> PAD 1 -> CONV_2D 3x3 VALID -> SiLU (LOGISTIC, MUL) -> MEAN over H,W -> y: the
 * runtime fuses the PAD and the SiLU into the convolution. */
static tm_model conv_model(void) {
    static float w[2 * 3 * 3 * 2];
    static const float b[2] = {0.25f, -0.5f};
    static const int32_t pads[8] = {0, 0, 1, 1, 1, 1, 0, 0}, axes[2] = {1, 2};
    for (int i = 0; i < 36; i++) w[i] = (float)((i * 7) % 11 - 5) / 8.0f;
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 5, 5, 2}, "x");
    int p = tm_const_add(&m, P2L_INT32, 2, (int32_t[]){4, 2}, pads, sizeof pads, "pads");
    int xp = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 7, 7, 2}, "xp");
    int wt = tm_const_add(&m, P2L_FLOAT32, 4, (int32_t[]){2, 3, 3, 2}, w, sizeof w, "w");
    int bt = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){2}, b, sizeof b, "b");
    int h = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 5, 5, 2}, "h");
    int s = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 5, 5, 2}, "s");
    int silu = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 5, 5, 2}, "silu");
    int a = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, axes, sizeof axes, "axes");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 2}, "y");
    tm_op_add(&m, 34 /* PAD */, 2, (int32_t[]){x, p}, 1, (int32_t[]){xp});
    tm_op *conv = tm_op_add(&m, 3 /* CONV_2D */, 3, (int32_t[]){xp, wt, bt}, 1, (int32_t[]){h});
    tm_option(conv, "padding", P2L_PAD_VALID);
    tm_option(conv, "stride_w", 1);
    tm_option(conv, "stride_h", 1);
    tm_op_add(&m, 14 /* LOGISTIC */, 1, (int32_t[]){h}, 1, (int32_t[]){s});
    tm_op_add(&m, 18 /* MUL */, 2, (int32_t[]){h, s}, 1, (int32_t[]){silu});
    tm_op *mean = tm_op_add(&m, 40 /* MEAN */, 2, (int32_t[]){silu, a}, 1, (int32_t[]){y});
    tm_option(mean, "keep_dims", 0);
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    return m;
}

/* x[2,3] -> RESHAPE [-1] -> SOFTMAX -> y1; x -> TRANSPOSE [1,0] -> y2; SHAPE(x) -> y3 (folded). */
static tm_model shape_model(void) {
    static const int32_t flat[1] = {-1}, perm[2] = {1, 0};
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "x");
    int f = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){1}, flat, sizeof flat, "flat");
    int pm = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, perm, sizeof perm, "perm");
    int r = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){6}, "r");
    int y1 = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){6}, "y1");
    int y2 = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){3, 2}, "y2");
    int y3 = tm_tensor_add(&m, P2L_INT32, 1, (int32_t[]){2}, "y3");
    tm_op_add(&m, 22 /* RESHAPE */, 2, (int32_t[]){x, f}, 1, (int32_t[]){r});
    tm_option(tm_op_add(&m, 25 /* SOFTMAX */, 1, (int32_t[]){r}, 1, (int32_t[]){y1}), "beta", p2l_f32_bits(1.0f));
    tm_op_add(&m, 39 /* TRANSPOSE */, 2, (int32_t[]){x, pm}, 1, (int32_t[]){y2});
    tm_option(tm_op_add(&m, 77 /* SHAPE */, 1, (int32_t[]){x}, 1, (int32_t[]){y3}), "out_type", P2L_INT32);
    m.n_in = 1, m.in[0] = x;
    m.n_out = 3, m.out[0] = y1, m.out[1] = y2, m.out[2] = y3;
    return m;
}

/* Two subgraphs of: a[2,3] + b[1,3] (broadcast) -> SUM over axis 1 -> y (SUM uses scratch memory). */
static tm_model two_subgraph_model(void) {
    static const int32_t axis[1] = {1};
    tm_model m = {0};
    int a = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "a");
    int b = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, 3}, "b");
    int t = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 3}, "t");
    int ax = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){1}, axis, sizeof axis, "axis");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){2}, "y");
    tm_op_add(&m, 0 /* ADD */, 2, (int32_t[]){a, b}, 1, (int32_t[]){t});
    tm_option(tm_op_add(&m, 74 /* SUM */, 2, (int32_t[]){t, ax}, 1, (int32_t[]){y}), "keep_dims", 0);
    m.n_in = 2, m.in[0] = a, m.in[1] = b;
    m.n_out = 1, m.out[0] = y;
    m.subgraph_copies = 2;
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    tm_model built[MODEL_COUNT] = {tm_chain_model(chain_c), conv_model(), shape_model(), two_subgraph_model()};
    for (int i = 0; i < MODEL_COUNT; i++) models[i] = tm_build(&built[i], &model_sizes[i]);
    return 0;
}

/* The fuzzer's bytes, consumed front to back; 0 once they run out. */
typedef struct bytes {
    const uint8_t *p;
    size_t left;
} bytes;

static uint8_t next(bytes *b) {
    if (!b->left) return 0;
    b->left--;
    return *b->p++;
}

/* A status is OK, or an error that says what went wrong. */
static p2l_status checked(p2l_status s) {
    if (s == P2L_ERROR_INTERNAL || (s != P2L_OK && p2l_last_error()[0] == 0)) {
        fprintf(stderr, "status %s with message '%s'\n", p2l_status_name(s), p2l_last_error());
        abort();
    }
    return s;
}

static int tensor_count(const p2l_interpreter *it, int subgraph) {
    /* No count in the API: tensors up to the first index that tensor_info refuses. */
    int n = 0;
    p2l_tensor_info info = {.size = sizeof info};
    while (n < 256 && p2l_interpreter_tensor_info((p2l_interpreter *)it, subgraph, n, &info) == P2L_OK) n++;
    return n;
}

/* Every tensor with memory: its whole reported size can be read and written (ASan checks the
 * bounds); constants are only read. */
static void touch_tensors(p2l_interpreter *it, int subgraph, uint8_t *sink) {
    const int n = tensor_count(it, subgraph);
    for (int t = 0; t < n; t++) {
        p2l_tensor_info info = {.size = sizeof info};
        void *data = NULL;
        if (p2l_interpreter_tensor_info(it, subgraph, t, &info) != P2L_OK) abort();
        if (checked(p2l_interpreter_tensor_data(it, subgraph, t, &data)) != P2L_OK || !info.bytes) continue;
        uint8_t acc = 0;
        for (size_t i = 0; i < info.bytes; i++) acc ^= ((const uint8_t *)data)[i];
        *sink ^= acc;
        if (!info.is_constant) memset(data, acc, info.bytes);
    }
}

static float chain_expected(float x, int col) {
    const float a = x + chain_c[col];
    return 2 * (a > 0 ? a : 0);
}

static void run_calls(p2l_interpreter *it, bool is_chain, bytes *b) {
    static uint8_t buf[MAX_BYTES];
    static float chain_x[MAX_BYTES / 4];
    const p2l_model *model = p2l_interpreter_model(it);
    const int subgraphs = p2l_model_subgraph_count(model);
    bool chain_input_set = false; /* chain_x holds the input since the last plan change */
    uint8_t sink = 0;
    for (int step = 0; step < 24 && b->left; step++) {
        const uint8_t call = next(b);
        const int i = next(b) % 3; /* input / output index: 2 is out of range for most models */
        switch (call % 8) {
        case 0: /* resize input i: rank 0-4, dims 0-7 */
        case 1: { /* resize any tensor of any subgraph (only inputs may be) */
            int32_t dims[4];
            const int rank = next(b) % 5;
            for (int d = 0; d < rank; d++) dims[d] = next(b) % 8;
            if (call % 8 == 0) checked(p2l_interpreter_resize_input(it, i, rank, dims));
            else checked(p2l_interpreter_resize_tensor(it, next(b) % (subgraphs + 1), next(b) % 8, rank, dims));
            chain_input_set = false;
            break;
        }
        case 2:
            if (checked(p2l_interpreter_allocate(it)) == P2L_OK) {
                for (int s = 0; s < subgraphs; s++) touch_tensors(it, s, &sink);
                chain_input_set = false; /* touch_tensors wrote over the input */
            }
            break;
        case 3: { /* set input i: the size it reports, or (rarely) a wrong one */
            p2l_tensor_info info = {.size = sizeof info};
            if (checked(p2l_interpreter_input_info(it, i, &info)) != P2L_OK || info.bytes > MAX_BYTES) break;
            const size_t n = (call & 0x80) ? info.bytes + 4 : info.bytes;
            if (n > MAX_BYTES) break;
            for (size_t k = 0; k < n; k++) buf[k] = next(b);
            if (info.dtype == P2L_FLOAT32) /* small finite floats */
                for (size_t k = 0; k + 4 <= n; k += 4) {
                    const float f = (float)(int8_t)buf[k] / 8.0f;
                    memcpy(buf + k, &f, 4);
                }
            if (checked(p2l_interpreter_set_input(it, i, buf, n)) == P2L_OK && is_chain) {
                memcpy(chain_x, buf, n);
                chain_input_set = true;
            }
            break;
        }
        case 4: {
            if (checked(p2l_interpreter_invoke(it)) != P2L_OK || !is_chain || !chain_input_set) break;
            p2l_tensor_info info = {.size = sizeof info}, x_info = {.size = sizeof x_info};
            if (p2l_interpreter_output_info(it, 0, &info) != P2L_OK || info.bytes > MAX_BYTES ||
                p2l_interpreter_input_info(it, 0, &x_info) != P2L_OK)
                abort();
            const float *y = (const float *)buf;
            if (checked(p2l_interpreter_get_output(it, 0, buf, info.bytes)) != P2L_OK) abort();
            /* x broadcasts against c[4]: its last dim is 4 (y[k] from x[k]) or 1 (y[k] from x[k / 4]) */
            const bool x_last_is_1 = x_info.rank == 0 || x_info.dims[x_info.rank - 1] == 1;
            for (size_t k = 0; k < info.bytes / 4; k++) {
                const float expected = chain_expected(chain_x[x_last_is_1 ? k / 4 : k], (int)(k % 4));
                if (y[k] != expected) {
                    fprintf(stderr, "chain model: y[%zu] = %g, expected %g\n", k, y[k], expected);
                    abort();
                }
            }
            break;
        }
        case 5: { /* read output i, with its size or a wrong one */
            p2l_tensor_info info = {.size = sizeof info};
            if (checked(p2l_interpreter_output_info(it, i, &info)) != P2L_OK || info.bytes + 4 > MAX_BYTES) break;
            checked(p2l_interpreter_get_output(it, i, buf, (call & 0x80) ? info.bytes + 4 : info.bytes));
            break;
        }
        case 6: /* invoke another subgraph (or one out of range) */
            checked(p2l_interpreter_invoke_subgraph(it, next(b) % (subgraphs + 1)));
            break;
        default: { /* tensor memory of any tensor, planned or not */
            const int s = next(b) % (subgraphs + 1), t = next(b) % 12;
            p2l_tensor_info info = {.size = sizeof info};
            void *data = NULL;
            if (checked(p2l_interpreter_tensor_info(it, s, t, &info)) != P2L_OK) break;
            if (checked(p2l_interpreter_tensor_data(it, s, t, &data)) == P2L_OK && info.bytes)
                sink ^= ((const uint8_t *)data)[info.bytes - 1];
            break;
        }
        }
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bytes b = {data, size};
    const uint8_t first = next(&b);
    const uint8_t *model_bytes;
    size_t model_size;
    bool is_chain = false;
    if (first == 0xff) {
        uint32_t n = 0;
        for (int k = 0; k < 4; k++) n |= (uint32_t)next(&b) << (8 * k);
        if (n > b.left) return 0;
        model_bytes = b.p, model_size = n;
        b.p += n, b.left -= n;
    } else {
        model_bytes = models[first % MODEL_COUNT], model_size = model_sizes[first % MODEL_COUNT];
        is_chain = first % MODEL_COUNT == 0;
    }
    p2l_limits limits = {.max_nodes = 64, .max_tensors = 256, .max_tensor_bytes = 16u << 20,
                         .max_arena_bytes = 4u << 20};
    p2l_model_load_options options = {.flags = P2L_MODEL_COPY, .limits = &limits};
    p2l_model *m = NULL;
    if (checked(p2l_model_load_ex(model_bytes, model_size, &options, &m)) != P2L_OK) return 0;
    p2l_interpreter *it = NULL;
    const p2l_interpreter_options io = {.num_threads = 1 + (first >> 7 & 1)};
    p2l_status s = checked(p2l_interpreter_create(m, &io, &it));
    p2l_model_free(m);
    if (s == P2L_OK) run_calls(it, is_chain, &b);
    p2l_interpreter_free(it);
    return 0;
}
