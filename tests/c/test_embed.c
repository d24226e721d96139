/* The embedding API of issue 17 (docs/embedding.md): constants are read-only (tensor_data refuses them,
 * tensor_const_data reads them), caller buffers bound to inputs and outputs (no copy, out of the arena,
 * views, rebinding, resize), size fields in the structs pt2lite fills, and shared thread pools (wait
 * policies, affinity, invokes from several threads). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/threadpool.h"
#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

static const float ramp4[4] = {1, 2, 3, 4};

static p2l_model *load(const tm_model *m) {
    size_t size;
    uint8_t *bytes = tm_build(m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY, &model), P2L_OK);
    free(bytes);
    return model;
}

static p2l_model *chain_model(void) {
    tm_model m = tm_chain_model(ramp4);
    return load(&m);
}

/* chain_model's y for x: 2 * relu(x + ramp) */
static float chain_expected(float x, int col) {
    const float a = x + ramp4[col];
    return 2 * (a > 0 ? a : 0);
}

static void *aligned_buffer(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

/* ------------------------------------------------------------ constants */

static void test_constants_are_read_only(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    const int c = 1; /* chain_model's constant "c" (ramp4) */
    p2l_tensor_info info = {.size = sizeof info};
    CHECK_EQ_INT(p2l_interpreter_tensor_info(it, 0, c, &info), P2L_OK);
    CHECK(info.is_constant);
    void *data = (void *)1;
    CHECK_EQ_INT(p2l_interpreter_tensor_data(it, 0, c, &data), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("is a constant");
    CHECK_ERROR_MENTIONS("p2l_interpreter_tensor_const_data");
    CHECK(data == NULL);
    const void *cdata = NULL;
    CHECK_EQ_INT(p2l_interpreter_tensor_const_data(it, 0, c, &cdata), P2L_OK);
    CHECK(cdata && memcmp(cdata, ramp4, sizeof ramp4) == 0);
    /* a non-constant: both accessors give the same memory */
    CHECK_EQ_INT(p2l_interpreter_tensor_data(it, 0, 0, &data), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_tensor_const_data(it, 0, 0, &cdata), P2L_OK);
    CHECK(data && data == cdata);
    CHECK_EQ_INT(p2l_interpreter_tensor_const_data(it, 0, 0, NULL), P2L_ERROR_INVALID_ARGUMENT);
    p2l_interpreter_free(it);
}

/* ------------------------------------------------------------ binding caller buffers */

static void fill_ramp(float *x, int n, float start) {
    for (int i = 0; i < n; i++) x[i] = start + (float)i;
}

static bool chain_output_ok(const float *x, const float *y, int n) {
    for (int i = 0; i < n; i++)
        if (y[i] != chain_expected(x[i], i % 4)) return false;
    return true;
}

static void test_bind_input_and_output(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_OK);
    const size_t arena_unbound = p2l_interpreter_arena_bytes(it, 0);
    float *x = aligned_buffer(16), *x2 = aligned_buffer(16), *y = aligned_buffer(16);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x, 16), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, y, 16), P2L_OK);
    fill_ramp(x, 4, -2);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK(chain_output_ok(x, y, 4)); /* read and written in place: no set_input, no get_output */
    void *data = NULL;
    CHECK_EQ_INT(p2l_interpreter_tensor_data(it, 0, 0, &data), P2L_OK);
    CHECK(data == x);
    /* out of the memory plan: the arena no longer holds x and y */
    CHECK(p2l_interpreter_arena_bytes(it, 0) < arena_unbound);
    /* the copying calls still work, through the bound memory */
    const float x_in[4] = {5, -6, 7, -8};
    float y_out[4];
    CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x_in, sizeof x_in), P2L_OK);
    CHECK(memcmp(x, x_in, sizeof x_in) == 0);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, y_out, sizeof y_out), P2L_OK);
    CHECK(memcmp(y, y_out, sizeof y_out) == 0 && chain_output_ok(x_in, y_out, 4));

    /* rebinding to another buffer of the same size swaps the pointer: no re-plan */
    const size_t arena_bound = p2l_interpreter_arena_bytes(it, 0);
    fill_ramp(x2, 4, 10);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x2, 16), P2L_OK);
    CHECK(p2l_interpreter_arena_bytes(it, 0) == arena_bound); /* still planned (a re-plan would report 0) */
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK(chain_output_ok(x2, y, 4));

    /* refused: misaligned, wrong size, overlapping, a constant, an intermediate */
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, (char *)x + 4, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("P2L_BIND_ALIGNMENT");
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x, 32), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("holds 16 bytes, got a buffer of 32");
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, x2, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("overlaps");
    CHECK_EQ_INT(p2l_interpreter_bind_tensor(it, 0, 1, x, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("not an input or output");
    CHECK_EQ_INT(p2l_interpreter_bind_tensor(it, 0, 3 /* a */, x, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, NULL, 16), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 5, x, 16), P2L_ERROR_INVALID_ARGUMENT);

    /* unbinding: back in the arena, the caller's buffer untouched by the next invoke */
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, NULL, 0), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, NULL, 0), P2L_OK);
    memset(y, 0, 16);
    CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x_in, sizeof x_in), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_tensor_data(it, 0, 0, &data), P2L_OK);
    CHECK(data != x && data != x2);
    CHECK(y[0] == 0 && y[3] == 0);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, y_out, sizeof y_out), P2L_OK);
    CHECK(chain_output_ok(x_in, y_out, 4));
    CHECK(p2l_interpreter_arena_bytes(it, 0) == arena_unbound);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    free(x), free(x2), free(y);
}

/* A resize keeps the bindings and re-checks them: invoke refuses a binding of the old size until it is
 * bound again; an output bound before its shape is known is checked at allocation. */
static void test_bind_and_resize(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    float *x = aligned_buffer(16), *y = aligned_buffer(16), *x8 = aligned_buffer(32), *y8 = aligned_buffer(32);
    /* before the first allocation: y's size is checked when the plan is made */
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, y8, 32), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x, 16), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("bound to a buffer of 32 bytes but now holds 16");
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, y, 16), P2L_OK);
    fill_ramp(x, 4, -1);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK(chain_output_ok(x, y, 4));

    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 2, (int32_t[]){2, 4}), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("bind it again or unbind it");
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x8, 32), P2L_OK); /* the input's new size is known */
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_ERROR_INVALID_ARGUMENT); /* y is still 16 bytes */
    CHECK_ERROR_MENTIONS("bound to a buffer of 16 bytes but now holds 32");
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, y8, 32), P2L_OK);
    fill_ramp(x8, 8, -4);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK(chain_output_ok(x8, y8, 8));
    p2l_interpreter_free(it);
    free(x), free(y), free(x8), free(y8);
}

/* x[2,2] -> ADD c -> a -> RESHAPE [4] -> y (a view of a); x -> RESHAPE [4] -> z (a view of the input). */
static p2l_model *view_model(void) {
    static const int32_t shape4[1] = {4};
    tm_model m = {0};
    int x = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 2}, "x");
    int c = tm_const_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 2}, ramp4, sizeof ramp4, "c");
    int sh = tm_const_add(&m, P2L_INT32, 1, (int32_t[]){1}, shape4, sizeof shape4, "shape");
    int a = tm_tensor_add(&m, P2L_FLOAT32, 2, (int32_t[]){2, 2}, "a");
    int y = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){4}, "y");
    int z = tm_tensor_add(&m, P2L_FLOAT32, 1, (int32_t[]){4}, "z");
    tm_op_add(&m, 0 /* ADD */, 2, (int32_t[]){x, c}, 1, (int32_t[]){a});
    tm_op_add(&m, 22 /* RESHAPE */, 2, (int32_t[]){a, sh}, 1, (int32_t[]){y});
    tm_op_add(&m, 22 /* RESHAPE */, 2, (int32_t[]){x, sh}, 1, (int32_t[]){z});
    m.n_in = 1, m.in[0] = x;
    m.n_out = 2, m.out[0] = y, m.out[1] = z;
    return load(&m);
}

static void test_bound_views(void) {
    p2l_model *model = view_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    p2l_model_free(model);
    float *x = aligned_buffer(16), *y = aligned_buffer(16), *z = aligned_buffer(16), *x2 = aligned_buffer(16);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x, 16), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 0, y, 16), P2L_OK);
    fill_ramp(x, 4, 100);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    for (int i = 0; i < 4; i++) CHECK(y[i] == x[i] + ramp4[i]);
    void *data = NULL;
    /* ADD writes straight into the caller's y (a is the view's input); z aliases the caller's x */
    CHECK_EQ_INT(p2l_interpreter_tensor_data(it, 0, 3 /* a */, &data), P2L_OK);
    CHECK(data == y);
    CHECK_EQ_INT(p2l_interpreter_tensor_data(it, 0, 5 /* z */, &data), P2L_OK);
    CHECK(data == x);
    float z_out[4];
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 1, z_out, sizeof z_out), P2L_OK);
    CHECK(memcmp(z_out, x, sizeof z_out) == 0);
    /* rebinding x moves its view z along */
    fill_ramp(x2, 4, -50);
    CHECK_EQ_INT(p2l_interpreter_bind_input(it, 0, x2, 16), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 1, z_out, sizeof z_out), P2L_OK);
    CHECK(memcmp(z_out, x2, sizeof z_out) == 0);
    for (int i = 0; i < 4; i++) CHECK(y[i] == x2[i] + ramp4[i]);
    /* both sides of a view bound to different buffers: the RESHAPE copies */
    CHECK_EQ_INT(p2l_interpreter_bind_output(it, 1, z, 16), P2L_OK);
    memset(z, 0, 16);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK(memcmp(z, x2, 16) == 0);
    for (int i = 0; i < 4; i++) CHECK(y[i] == x2[i] + ramp4[i]);
    p2l_interpreter_free(it);
    free(x), free(y), free(z), free(x2);
}

/* ------------------------------------------------------------ size fields in filled structs */

static void test_info_size_fields(void) {
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = sizeof(p2l_interpreter_options),
                                                                          .flags = P2L_INTERPRETER_PROFILE},
                                        &it), P2L_OK);
    p2l_tensor_info info = {.size = sizeof info};
    CHECK_EQ_INT(p2l_interpreter_tensor_info(it, 0, 0, &info), P2L_OK);
    CHECK(info.size == sizeof info && info.rank == 2 && strcmp(info.name, "x") == 0);
    info = (p2l_tensor_info){0}; /* 0: the first layout */
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 1, &info), P2L_OK);
    CHECK(info.size == 0 && info.is_constant && info.bytes == 16);
    /* an uninitialized or mistaken size is refused, and nothing is written */
    info = (p2l_tensor_info){.size = 7};
    CHECK_EQ_INT(p2l_interpreter_tensor_info(it, 0, 0, &info), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("p2l_tensor_info.size is 7");
    CHECK(info.name == NULL);
    info = (p2l_tensor_info){.size = sizeof info + 8};
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 0, &info), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("larger than");
    CHECK_EQ_INT(p2l_interpreter_input_info(it, 0, &info), P2L_ERROR_INVALID_ARGUMENT);
    /* profile entries carry the library's entry size: the stride between them */
    const float x[4] = {1, 2, 3, 4};
    CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x, sizeof x), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    const p2l_profile_entry *entries = NULL;
    int count = 0;
    CHECK_EQ_INT(p2l_interpreter_profile(it, &entries, &count), P2L_OK);
    CHECK(count == 3);
    for (int i = 0; i < count; i++) CHECK(entries[i].size == sizeof(p2l_profile_entry));
    p2l_interpreter_free(it);
    p2l_model_free(model);
}

/* ------------------------------------------------------------ thread pools */

typedef struct count_job {
    atomic_long *hits; /* per task */
} count_job;

static void count_task(void *ctx, size_t task, int thread) {
    (void)thread;
    atomic_fetch_add(&((count_job *)ctx)->hits[task], 1);
}

enum { JOB_TASKS = 64, JOBS = 300 };

typedef struct pool_user {
    p2l_threadpool *pool;
    atomic_long hits[JOB_TASKS];
} pool_user;

static void *use_pool(void *p) {
    pool_user *u = p;
    count_job job = {u->hits};
    for (int j = 0; j < JOBS; j++) p2l_parallel_for(u->pool, JOB_TASKS, count_task, &job);
    return NULL;
}

/* Two threads run jobs on one public pool at the same time: every task of every job runs once. */
static void test_shared_pool_from_two_threads(void) {
    for (int wait = P2L_WAIT_DEFAULT; wait <= P2L_WAIT_SLEEP; wait++) {
        p2l_threadpool *pool = NULL;
        CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.size = sizeof(p2l_threadpool_options),
                                                                     .num_threads = 3, .wait = wait}, &pool), P2L_OK);
        pool_user users[2] = {{.pool = pool}, {.pool = pool}};
        pthread_t other;
        CHECK(pthread_create(&other, NULL, use_pool, &users[1]) == 0);
        use_pool(&users[0]);
        pthread_join(other, NULL);
        for (int u = 0; u < 2; u++)
            for (int t = 0; t < JOB_TASKS; t++) CHECK(atomic_load(&users[u].hits[t]) == JOBS);
        p2l_threadpool_free(pool);
    }
}

typedef struct invoker {
    p2l_interpreter *it;
    float base;
    bool ok;
} invoker;

static void *invoke_many(void *p) {
    invoker *v = p;
    v->ok = true;
    for (int r = 0; r < 200 && v->ok; r++) {
        float x[4], y[4];
        fill_ramp(x, 4, v->base + (float)r);
        v->ok = p2l_interpreter_set_input(v->it, 0, x, sizeof x) == P2L_OK && p2l_interpreter_invoke(v->it) == P2L_OK &&
                p2l_interpreter_get_output(v->it, 0, y, sizeof y) == P2L_OK && chain_output_ok(x, y, 4);
    }
    return NULL;
}

static void test_interpreters_share_a_pool(void) {
    p2l_threadpool *pool = NULL;
    const int cpus[2] = {0, 1};
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.size = sizeof(p2l_threadpool_options),
                                                                 .num_threads = 2, .wait = P2L_WAIT_SLEEP,
                                                                 .cpus = cpus, .cpu_count = 2}, &pool), P2L_OK);
    CHECK(p2l_threadpool_pinned(pool) >= 0 && p2l_threadpool_pinned(pool) <= 1);
    p2l_model *model = chain_model();
    p2l_interpreter *a = NULL, *b = NULL;
    const p2l_interpreter_options options = {.size = sizeof options, .threadpool = pool};
    CHECK_EQ_INT(p2l_interpreter_create(model, &options, &a), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, &options, &b), P2L_OK);
    /* num_threads must agree with the pool's */
    p2l_interpreter *c = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = sizeof options, .num_threads = 4,
                                                                          .threadpool = pool}, &c),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("shared threadpool has 2 threads");
    /* a struct of the first layout (size 0) cannot name a pool: the field is not read */
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = 0, .threadpool = pool}, &c), P2L_OK);
    p2l_interpreter_free(c);
    p2l_model_free(model);
    p2l_threadpool_free(pool); /* the interpreters keep it alive */
    invoker va = {a, -3, false}, vb = {b, 7, false};
    pthread_t other;
    CHECK(pthread_create(&other, NULL, invoke_many, &vb) == 0);
    invoke_many(&va);
    pthread_join(other, NULL);
    CHECK(va.ok && vb.ok);
    p2l_interpreter_free(a);
    p2l_interpreter_free(b);
}

static void test_pool_options_are_checked(void) {
    p2l_threadpool *pool = (p2l_threadpool *)1;
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.num_threads = 0}, &pool), P2L_ERROR_INVALID_ARGUMENT);
    CHECK(pool == NULL);
    CHECK_ERROR_MENTIONS("num_threads is 0");
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.num_threads = 2, .wait = 9}, &pool),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("wait policy 9");
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.size = 5, .num_threads = 2}, &pool),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.num_threads = 2, .cpu_count = 2}, &pool),
                 P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_threadpool_create(NULL, &pool), P2L_ERROR_INVALID_ARGUMENT);
    /* CPUs that do not exist: created anyway, nothing pinned, jobs run */
    const int missing[2] = {100000, -1};
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.num_threads = 3, .cpus = missing, .cpu_count = 2},
                                       &pool), P2L_OK);
    CHECK(p2l_threadpool_pinned(pool) == 0);
    pool_user user = {.pool = pool};
    use_pool(&user);
    for (int t = 0; t < JOB_TASKS; t++) CHECK(atomic_load(&user.hits[t]) == JOBS);
    p2l_threadpool_free(pool);
    /* one thread: a pool without workers, interpreters run on the caller */
    CHECK_EQ_INT(p2l_threadpool_create(&(p2l_threadpool_options){.num_threads = 1}, &pool), P2L_OK);
    p2l_model *model = chain_model();
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, &(p2l_interpreter_options){.size = sizeof(p2l_interpreter_options),
                                                                          .threadpool = pool}, &it), P2L_OK);
    invoker v = {it, 1, false};
    invoke_many(&v);
    CHECK(v.ok);
    p2l_interpreter_free(it);
    p2l_model_free(model);
    p2l_threadpool_free(pool);
}

int main(void) {
    (void)tm_option; /* the builder's, unused here */
    RUN(test_constants_are_read_only);
    RUN(test_bind_input_and_output);
    RUN(test_bind_and_resize);
    RUN(test_bound_views);
    RUN(test_info_size_fields);
    RUN(test_shared_pool_from_two_threads);
    RUN(test_interpreters_share_a_pool);
    RUN(test_pool_options_are_checked);
    return check_summary();
}
