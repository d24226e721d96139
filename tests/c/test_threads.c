/* Thread safety: several interpreters on one loaded model, run in parallel threads (each with its
 * own inputs, many invokes, some with a resize in between), give the same outputs as one
 * interpreter running the same inputs alone. Run under TSan/ASan to catch races on the shared model. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/kernels.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

enum { THREADS = 6, ROUNDS = 40, H = 6, W = 6, C = 3, K = 4 };

static float weights[K * 3 * 3 * C], bias[K];

/* x[n,6,6,3] -> CONV_2D 3x3 SAME + RELU -> h; MEAN over H,W -> m[n,4]; SOFTMAX -> y. Also a
 * constant-folded branch (SHAPE is not used) to exercise prepare on shared constants. */
static tm_model net(void) {
    static const int32_t axes[2] = {1, 2};
    for (int i = 0; i < K * 9 * C; i++) weights[i] = (float)((i * 37) % 17 - 8) / 8.0f;
    for (int i = 0; i < K; i++) bias[i] = 0.25f * (float)i;
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, H, W, C}, "x");
    int w = tm_const_add(&m, P2L_FLOAT32, 4, (int32_t[]){K, 3, 3, C}, weights, sizeof weights, "w");
    int b = tm_const_add(&m, P2L_FLOAT32, 1, (int32_t[]){K}, bias, sizeof bias, "b");
    int h = tm_tensor_add(&m, P2L_FLOAT32, 4, (int32_t[]){1, H, W, K}, "h");
    int a = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){2}, axes, sizeof axes, "axes");
    int mean = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, K}, "mean");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){1, K}, "y");
    tm_op *conv = tm_op_add(&m, 3 /* CONV_2D */, 3, (int32_t[]){x, w, b}, 1, (int32_t[]){h});
    tm_option(conv, "padding", P2L_PAD_SAME);
    tm_option(conv, "stride_w", 1);
    tm_option(conv, "stride_h", 1);
    tm_option(conv, "fused_activation_function", P2L_ACT_RELU);
    tm_op *red = tm_op_add(&m, 40 /* MEAN */, 2, (int32_t[]){h, a}, 1, (int32_t[]){mean});
    tm_option(red, "keep_dims", 0);
    tm_op *soft = tm_op_add(&m, 25 /* SOFTMAX */, 1, (int32_t[]){mean}, 1, (int32_t[]){y});
    tm_option(soft, "beta", p2l_f32_bits(1.0f));
    m.n_in = 1, m.in[0] = x;
    m.n_out = 1, m.out[0] = y;
    return m;
}

static void make_input(int seed, int round, int batch, float *x) {
    for (int i = 0; i < batch * H * W * C; i++) x[i] = (float)(((i + 1) * (seed * 131 + round * 7 + 3)) % 29 - 14) / 7.0f;
}

/* Batch size of a round: resizes happen between rounds (a new plan on the shared model). */
static int batch_of(int round) { return 1 + round % 3; }

/* One interpreter, inputs of thread `seed`, every round: outputs into out[round][batch*K]. */
static int run_all(p2l_model *model, int seed, int threads, float (*out)[3 * K]) {
    p2l_interpreter_options options = {.num_threads = threads};
    p2l_interpreter *it = NULL;
    if (p2l_interpreter_create(model, &options, &it)) return 1;
    float x[3 * H * W * C];
    int bad = 0;
    for (int r = 0; r < ROUNDS && !bad; r++) {
        int n = batch_of(r);
        bad |= p2l_interpreter_resize_input(it, 0, 4, (int32_t[]){n, H, W, C}) != P2L_OK;
        make_input(seed, r, n, x);
        bad |= p2l_interpreter_set_input(it, 0, x, sizeof(float) * (size_t)(n * H * W * C)) != P2L_OK;
        bad |= p2l_interpreter_invoke(it) != P2L_OK;
        bad |= p2l_interpreter_get_output(it, 0, out[r], sizeof(float) * (size_t)(n * K)) != P2L_OK;
    }
    if (bad) fprintf(stderr, "thread %d: %s\n", seed, p2l_last_error());
    p2l_interpreter_free(it);
    return bad;
}

typedef struct job {
    p2l_model *model;
    int seed, threads, failed;
    float out[ROUNDS][3 * K];
    pthread_barrier_t *start;
} job;

static void *worker(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->start);
    j->failed = run_all(j->model, j->seed, j->threads, j->out);
    return NULL;
}

static void test_parallel_interpreters_match_serial(void) {
    tm_model m = net();
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, 0, &model), P2L_OK);
    if (!model) return;

    /* The reference: each thread's inputs, one interpreter at a time. */
    static float expected[THREADS][ROUNDS][3 * K];
    for (int t = 0; t < THREADS; t++) CHECK_EQ_INT(run_all(model, t, 1, expected[t]), 0);

    /* In parallel; two of the interpreters also use their own thread pools. */
    static job jobs[THREADS];
    pthread_t tids[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t] = (job){.model = model, .seed = t, .threads = t < 2 ? 2 : 1, .start = &start};
        CHECK_EQ_INT(pthread_create(&tids[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(tids[t], NULL);
    pthread_barrier_destroy(&start);
    p2l_model_free(model);

    for (int t = 0; t < THREADS; t++) {
        CHECK_EQ_INT(jobs[t].failed, 0);
        int mismatches = 0;
        for (int r = 0; r < ROUNDS; r++)
            for (int i = 0; i < batch_of(r) * K; i++)
                /* the 2-thread interpreters may split reductions differently: allow rounding */
                if (jobs[t].out[r][i] != expected[t][r][i] &&
                    !(jobs[t].threads > 1 && (jobs[t].out[r][i] - expected[t][r][i]) < 1e-5f &&
                      (expected[t][r][i] - jobs[t].out[r][i]) < 1e-5f))
                    mismatches++;
        if (mismatches) fprintf(stderr, "thread %d: %d outputs differ from the serial run\n", t, mismatches);
        CHECK_EQ_INT(mismatches, 0);
    }
    /* Different seeds give different outputs (the comparison above is not vacuous). */
    CHECK(memcmp(expected[0][0], expected[1][0], sizeof(float) * K) != 0);
    free(bytes);
}

/* The pool itself: every task runs exactly once, for task counts below, at and above the thread
 * count (ranges empty, of one task, uneven), also right after the pool was parked (its workers
 * asleep) and with tasks of very uneven length (stealing from another thread's range). */
typedef struct count_job {
    atomic_int runs[1000];
    int max_thread, threads;
    bool bad_thread;
} count_job;

static void count_task(void *ctx, size_t task, int thread) {
    count_job *j = ctx;
    if (thread < 0 || thread >= j->threads) j->bad_thread = true;
    if (task % 97 == 0) /* a long task: the other threads finish their ranges and steal */
        for (volatile int spin = 0; spin < 20000; spin++) {
        }
    atomic_fetch_add(&j->runs[task], 1);
}

static void test_pool_runs_every_task_once(void) {
    static count_job j;
    const size_t counts[] = {0, 1, 2, 3, 5, 7, 64, 999, 1000};
    for (int threads = 1; threads <= 4; threads++) {
        p2l_threadpool *pool = NULL;
        CHECK_EQ_INT(p2l_threadpool_start(threads, 0, &pool), P2L_OK);
        CHECK_EQ_INT(p2l_threadpool_threads(pool), threads);
        for (int round = 0; round < 3; round++)
            for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
                memset(&j, 0, sizeof j);
                j.threads = threads;
                if (round == 1) p2l_threadpool_park(pool);
                p2l_parallel_for(pool, counts[c], count_task, &j);
                int wrong = 0;
                for (size_t t = 0; t < 1000; t++) wrong += atomic_load(&j.runs[t]) != (t < counts[c] ? 1 : 0);
                CHECK_EQ_INT(wrong, 0);
                CHECK(!j.bad_thread);
            }
        p2l_threadpool_free(pool);
    }
}

int main(void) {
    RUN(test_pool_runs_every_task_once);
    RUN(test_parallel_interpreters_match_serial);
    return check_summary();
}
