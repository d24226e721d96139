/* Packed weights belong to the model (runtime/weights.c): the first interpreter to prepare packs them,
 * every other interpreter of the model uses the same packing, whichever thread prepares it, and each
 * still gives the reference kernels' results. Interpreters whose kernels pack differently (another
 * ISA's vector width) get their own entries; the reference kernels pack nothing. Run under ASan by
 * scripts/test_sanitize.sh (the model, freed before its interpreters, frees the packing after them). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pt2lite.h"
#include "runtime/runtime.h"
#include "test_runtime_builder.h"
#if defined(P2L_HAVE_X86_KERNELS) || defined(P2L_HAVE_ARM_KERNELS)
#include "kernels/fast/fast.h"
#define HAVE_FAST 1
#else
#define HAVE_FAST 0
#endif

enum { H = 8, W = 8, C = 4, K = 8, UNITS = 10, COLS = 6, ROWS = H * W, THREADS = 4 };
/* Packed entries with the fast kernels: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, BATCH_MATMUL. */
enum { PACKED_OPS = 4 };

static float w_conv[K * 3 * 3 * C], b_conv[K], w_dw[3 * 3 * K], b_dw[K], w_fc[UNITS * K], b_fc[UNITS],
    w_mm[UNITS * COLS];

static void fill(float *v, int n, int seed) {
    for (int i = 0; i < n; i++) v[i] = (float)((i * (seed * 2 + 31)) % 23 - 11) / 16.0f;
}

/* x[1,8,8,4] -> CONV_2D 3x3 SAME RELU -> DEPTHWISE_CONV_2D 3x3 SAME RELU6 -> FULLY_CONNECTED [64,10]
 * -> BATCH_MATMUL with a constant [10,6] -> y[64,6]: every fast kernel that packs constants. */
static uint8_t *build_model(size_t *size) {
    fill(w_conv, K * 9 * C, 1), fill(b_conv, K, 2), fill(w_dw, 9 * K, 3), fill(b_dw, K, 4);
    fill(w_fc, UNITS * K, 5), fill(b_fc, UNITS, 6), fill(w_mm, UNITS * COLS, 7);
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, H, W, C}, "x");
    int wc = tm_const_add(&m, P2L_FLOAT32, 4, (int32_t[]){K, 3, 3, C}, w_conv, sizeof w_conv, "w_conv");
    int bc = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){K}, b_conv, sizeof b_conv, "b_conv");
    int wd = tm_const_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, 3, 3, K}, w_dw, sizeof w_dw, "w_dw");
    int bd = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){K}, b_dw, sizeof b_dw, "b_dw");
    int wf = tm_const_add(&m, P2L_FLOAT32, 2, (int32_t[]){UNITS, K}, w_fc, sizeof w_fc, "w_fc");
    int bf = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){UNITS}, b_fc, sizeof b_fc, "b_fc");
    int wm = tm_const_add(&m, P2L_FLOAT32, 2, (int32_t[]){UNITS, COLS}, w_mm, sizeof w_mm, "w_mm");
    int h1 = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, H, W, K}, "h1");
    int h2 = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, H, W, K}, "h2");
    int h3 = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){ROWS, UNITS}, "h3");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){ROWS, COLS}, "y");
    tm_op *conv = tm_op_add(&m, 3 /* CONV_2D */, 3, (int32_t[]){x, wc, bc}, 1, (int32_t[]){h1});
    tm_option(conv, "padding", P2L_PAD_SAME);
    tm_option(conv, "stride_w", 1), tm_option(conv, "stride_h", 1);
    tm_option(conv, "fused_activation_function", P2L_ACT_RELU);
    tm_op *dw = tm_op_add(&m, 4 /* DEPTHWISE_CONV_2D */, 3, (int32_t[]){h1, wd, bd}, 1, (int32_t[]){h2});
    tm_option(dw, "padding", P2L_PAD_SAME);
    tm_option(dw, "stride_w", 1), tm_option(dw, "stride_h", 1), tm_option(dw, "depth_multiplier", 1);
    tm_option(dw, "fused_activation_function", P2L_ACT_RELU6);
    tm_op_add(&m, 9 /* FULLY_CONNECTED */, 3, (int32_t[]){h2, wf, bf}, 1, (int32_t[]){h3});
    tm_op_add(&m, 126 /* BATCH_MATMUL */, 2, (int32_t[]){h3, wm}, 1, (int32_t[]){y});
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    return tm_build(&m, size);
}

static float input[H * W * C];

/* Creates an interpreter with `kernels` (P2L_KERNELS_*), prepares and runs it on `input`. Returns
 * the status of the first failing call; *it stays for the caller to free (NULL if creation failed). */
static p2l_status run(p2l_model *model, int kernels, int threads, p2l_interpreter **it, float *out) {
    p2l_interpreter_options options = {.size = sizeof options, .num_threads = threads, .kernels = kernels};
    *it = NULL;
    p2l_status s = p2l_interpreter_create(model, &options, it);
    if (!s) s = p2l_interpreter_allocate(*it);
    if (!s) s = p2l_interpreter_set_input(*it, 0, input, sizeof input);
    if (!s) s = p2l_interpreter_invoke(*it);
    if (!s) s = p2l_interpreter_get_output(*it, 0, out, sizeof(float) * ROWS * COLS);
    if (s) fprintf(stderr, "kernels %d: %s\n", kernels, p2l_last_error());
    return s;
}

static int mismatches(const float *got, const float *want) {
    int bad = 0;
    for (int i = 0; i < ROWS * COLS; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])))) bad++;
    return bad;
}

static float reference[ROWS * COLS];
static uint8_t *file_bytes;
static size_t file_size;

/* The reference kernels' result; they pack nothing. */
static void test_reference_packs_nothing(void) {
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(file_bytes, file_size, 0, &model), P2L_OK);
    p2l_interpreter *it;
    CHECK_EQ_INT(run(model, P2L_KERNELS_REFERENCE, 1, &it, reference), P2L_OK);
    p2l_weights_stats stats;
    p2l_model_weights_stats(model, &stats);
    CHECK_EQ_INT(stats.entries, 0);
    CHECK_EQ_INT(stats.builds, 0);
    float sum = 0;
    for (int i = 0; i < ROWS * COLS; i++) sum += fabsf(reference[i]);
    CHECK(sum > 1.0f); /* not all zeros: the comparisons below can fail */
    p2l_interpreter_free(it);
    p2l_model_free(model);
}

/* Two interpreters: the second packs nothing and uses the first's packing; both give the reference
 * results, and the same bits. */
static void test_second_interpreter_reuses_packing(void) {
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(file_bytes, file_size, 0, &model), P2L_OK);
    p2l_weights_stats before, first, second;
    p2l_model_weights_stats(model, &before);
    CHECK_EQ_INT(before.entries, 0);
    static float out1[ROWS * COLS], out2[ROWS * COLS];
    p2l_interpreter *it1, *it2;
    CHECK_EQ_INT(run(model, P2L_KERNELS_AUTO, 1, &it1, out1), P2L_OK);
    p2l_model_weights_stats(model, &first);
    const bool fast = p2l_fast_kernels_enabled();
    CHECK_EQ_INT(first.entries, fast ? PACKED_OPS : 0);
    CHECK_EQ_INT(first.builds, first.entries);
    CHECK(!fast || first.bytes >= sizeof w_conv + sizeof w_dw + sizeof w_fc + sizeof w_mm);
    CHECK_EQ_INT(run(model, P2L_KERNELS_AUTO, 2, &it2, out2), P2L_OK);
    p2l_model_weights_stats(model, &second);
    CHECK_EQ_INT(second.builds, first.builds); /* packed nothing */
    CHECK_EQ_INT(second.entries, first.entries);
    CHECK_EQ_INT(second.bytes, first.bytes);
    CHECK_EQ_INT(mismatches(out1, reference), 0);
    CHECK_EQ_INT(mismatches(out2, reference), 0);
    /* A resize prepares again: still nothing packed. */
    CHECK_EQ_INT(p2l_interpreter_resize_input(it1, 0, 4, (int32_t[]){1, H, W, C}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it1), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it1), P2L_OK);
    p2l_model_weights_stats(model, &second);
    CHECK_EQ_INT(second.builds, first.builds);
    /* The model's caller reference goes first (the API allows it): the packing lives on with the
     * interpreters, which still run, and goes with the last of them (ASan checks both). */
    p2l_model_free(model);
    CHECK_EQ_INT(p2l_interpreter_invoke(it2), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it2, 0, out2, sizeof out2), P2L_OK);
    CHECK_EQ_INT(mismatches(out2, reference), 0);
    p2l_interpreter_free(it1);
    p2l_interpreter_free(it2);
}

/* Interpreters pinned to other kernels: the reference kernels pack nothing, every ISA this CPU has
 * gives the reference results. An ISA whose depthwise vector width differs must not read another's
 * padded filters: a table like the CPU's but twice as wide (the runtime pads to its width, the rows
 * read any padded_c) gets an entry of its own for the depthwise filter and shares the GEMM panels,
 * whose layout is the same for every ISA. */
static void test_pinned_kernels_pack_their_own(void) {
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(file_bytes, file_size, 0, &model), P2L_OK);
    static float out[ROWS * COLS];
    p2l_interpreter *it;
    CHECK_EQ_INT(run(model, P2L_KERNELS_AUTO, 1, &it, out), P2L_OK);
    p2l_interpreter_free(it);
    p2l_weights_stats auto_stats, stats;
    p2l_model_weights_stats(model, &auto_stats);
    CHECK_EQ_INT(run(model, P2L_KERNELS_REFERENCE, 1, &it, out), P2L_OK);
    p2l_interpreter_free(it);
    p2l_model_weights_stats(model, &stats);
    CHECK_EQ_INT(stats.builds, auto_stats.builds);
    CHECK_EQ_INT(mismatches(out, reference), 0);
    static const int isas[] = {P2L_KERNELS_AVX2, P2L_KERNELS_AVX512, P2L_KERNELS_NEON};
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++) {
        p2l_interpreter_options options = {.size = sizeof options, .kernels = isas[i]};
        if (p2l_interpreter_create(model, &options, &it) != P2L_OK) continue; /* not this CPU */
        p2l_interpreter_free(it);
        CHECK_EQ_INT(run(model, isas[i], 1, &it, out), P2L_OK);
        p2l_interpreter_free(it);
        CHECK_EQ_INT(mismatches(out, reference), 0);
    }
#if HAVE_FAST
    const p2l_fast_isa *active = p2l_fast_isa_active();
    if (active) {
        p2l_model_weights_stats(model, &stats);
        p2l_fast_isa wide = *active;
        wide.depthwise_lanes = 2 * active->depthwise_lanes;
        p2l_fast_isa_select(&wide, true); /* what this thread's next prepare sees */
        p2l_status s = run(model, P2L_KERNELS_AUTO, 1, &it, out);
        p2l_fast_isa_select(NULL, false);
        CHECK_EQ_INT(s, P2L_OK);
        p2l_interpreter_free(it);
        CHECK_EQ_INT(mismatches(out, reference), 0);
        p2l_weights_stats wide_stats;
        p2l_model_weights_stats(model, &wide_stats);
        CHECK_EQ_INT(wide_stats.builds, stats.builds + 1); /* the depthwise filter, padded wider */
        CHECK_EQ_INT(wide_stats.entries, stats.entries + 1);
    }
#endif
    p2l_model_free(model);
}

/* Several threads create and prepare interpreters of one fresh model at once: each entry is packed
 * once, and every interpreter gives the reference results. */
typedef struct job {
    p2l_model *model;
    pthread_barrier_t *start;
    float out[ROWS * COLS];
    p2l_status status;
} job;

static void *worker(void *arg) {
    job *j = arg;
    p2l_interpreter *it;
    pthread_barrier_wait(j->start);
    j->status = run(j->model, P2L_KERNELS_AUTO, 1, &it, j->out);
    p2l_interpreter_free(it);
    return NULL;
}

static void test_concurrent_prepare_packs_once(void) {
    for (int round = 0; round < 5; round++) {
        p2l_model *model = NULL;
        CHECK_EQ_INT(p2l_model_load(file_bytes, file_size, 0, &model), P2L_OK);
        static job jobs[THREADS];
        pthread_t tids[THREADS];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, THREADS);
        for (int t = 0; t < THREADS; t++) {
            jobs[t] = (job){.model = model, .start = &start};
            CHECK_EQ_INT(pthread_create(&tids[t], NULL, worker, &jobs[t]), 0);
        }
        for (int t = 0; t < THREADS; t++) pthread_join(tids[t], NULL);
        pthread_barrier_destroy(&start);
        p2l_weights_stats stats;
        p2l_model_weights_stats(model, &stats);
        CHECK_EQ_INT(stats.builds, p2l_fast_kernels_enabled() ? PACKED_OPS : 0);
        CHECK_EQ_INT(stats.entries, stats.builds);
        for (int t = 0; t < THREADS; t++) {
            CHECK_EQ_INT(jobs[t].status, P2L_OK);
            CHECK_EQ_INT(mismatches(jobs[t].out, reference), 0);
        }
        p2l_model_free(model);
    }
}

int main(void) {
    fill(input, H * W * C, 9);
    file_bytes = build_model(&file_size);
    RUN(test_reference_packs_nothing);
    RUN(test_second_interpreter_reuses_packing);
    RUN(test_pinned_kernels_pack_their_own);
    RUN(test_concurrent_prepare_packs_once);
    free(file_bytes);
    return check_summary();
}
