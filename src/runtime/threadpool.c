/* A small thread pool for splitting one op over the interpreter's threads.
 *
 * Workers are created once per interpreter and live until it is freed. A job is published by
 * bumping a generation counter; workers spin briefly on it (ops follow each other within
 * microseconds, and a condition-variable wake-up costs tens of them), then sleep on a condition
 * variable. Tasks are claimed from an atomic counter, so uneven tasks balance themselves; the
 * calling thread works too and then waits for the workers to finish. */
#include <pthread.h>
#include <stdatomic.h>

#include "kernels/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_ITERATIONS = 4000 }; /* tens of microseconds of spinning before a worker sleeps */

/* Job protocol (a sequence lock): `generation` is even when a job is published and odd while the
 * caller writes the next one. A worker announces itself in `active`, then re-checks the generation;
 * the caller, after making it odd, waits for `active` to drop to zero before it touches the job's
 * fields. So a worker that wakes late either runs tasks of the job it saw, with that job's fields
 * intact, or backs off. The caller waits only for tasks to finish, never for a sleepy worker. */
struct p2l_threadpool {
    int threads; /* including the caller */
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int sleeping;            /* workers waiting on `wake`; guarded by mutex */
    atomic_uint generation;
    atomic_int active;       /* workers inside the current job */
    atomic_bool stop;
    p2l_task_fn fn;
    void *ctx;
    size_t count;
    atomic_size_t next;      /* next unclaimed task */
    atomic_size_t done;      /* finished tasks */
};

typedef struct worker_arg {
    p2l_threadpool *pool;
    int thread;
} worker_arg;

static void run_tasks(p2l_threadpool *pool, int thread) {
    for (;;) {
        size_t task = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
        if (task >= pool->count) return;
        pool->fn(pool->ctx, task, thread);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
}

static bool published(unsigned g, unsigned seen) { return g != seen && (g & 1) == 0; }

static void *worker_main(void *p) {
    worker_arg *arg = p;
    p2l_threadpool *pool = arg->pool;
    const int thread = arg->thread;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load(&pool->generation);
        for (int spin = 0; !published(g, seen) && spin < SPIN_ITERATIONS; spin++) {
            cpu_relax();
            g = atomic_load(&pool->generation);
        }
        if (!published(g, seen)) {
            pthread_mutex_lock(&pool->mutex);
            pool->sleeping++;
            while (!published(g = atomic_load(&pool->generation), seen) && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->mutex);
            pool->sleeping--;
            pthread_mutex_unlock(&pool->mutex);
        }
        if (atomic_load(&pool->stop)) return NULL;
        if (!published(g, seen)) continue;
        atomic_fetch_add(&pool->active, 1);
        if (atomic_load(&pool->generation) == g) {
            seen = g;
            run_tasks(pool, thread);
        }
        atomic_fetch_sub(&pool->active, 1);
    }
}

static void wake_sleepers(p2l_threadpool *pool) {
    /* Under the mutex: a worker about to sleep re-checks the generation there, so it either sees
     * the new job or is already waiting when we broadcast. */
    pthread_mutex_lock(&pool->mutex);
    if (pool->sleeping) pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
}

static worker_arg *worker_args(p2l_threadpool *pool) { return (worker_arg *)(pool->workers + pool->threads); }

p2l_status p2l_threadpool_create(int threads, p2l_threadpool **out) {
    *out = NULL;
    if (threads <= 1) return P2L_OK;
    if (threads > 1024) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%d threads are too many (at most 1024)", threads);
    p2l_threadpool *pool = p2l_alloc_zero(sizeof *pool);
    if (!pool) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a thread pool");
    pool->workers = p2l_alloc_zero((size_t)threads * (sizeof(pthread_t) + sizeof(worker_arg)));
    if (!pool->workers) {
        p2l_release(pool);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a thread pool");
    }
    pool->threads = threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->active, 0);
    atomic_init(&pool->stop, false);
    atomic_init(&pool->next, 0);
    atomic_init(&pool->done, 0);
    worker_arg *args = worker_args(pool);
    for (int i = 1; i < threads; i++) {
        args[i] = (worker_arg){pool, i};
        if (pthread_create(&pool->workers[i], NULL, worker_main, &args[i]) != 0) {
            pool->threads = i; /* join the ones that started */
            p2l_threadpool_free(pool);
            return p2l_fail(P2L_ERROR_LIMIT, "could not start thread %d of %d", i, threads);
        }
    }
    *out = pool;
    return P2L_OK;
}

void p2l_threadpool_free(p2l_threadpool *pool) {
    if (!pool) return;
    atomic_store(&pool->stop, true);
    wake_sleepers(pool);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    p2l_release(pool->workers);
    p2l_release(pool);
}

int p2l_threadpool_threads(const p2l_threadpool *pool) { return pool ? pool->threads : 1; }

void p2l_parallel_for(p2l_threadpool *pool, size_t count, p2l_task_fn fn, void *ctx) {
    if (!pool || count <= 1) {
        for (size_t i = 0; i < count; i++) fn(ctx, i, 0);
        return;
    }
    /* Close the previous job (odd generation) and wait for late workers to leave it. */
    unsigned g = atomic_load(&pool->generation);
    atomic_store(&pool->generation, g + 1);
    while (atomic_load(&pool->active) != 0) cpu_relax();
    pool->fn = fn;
    pool->ctx = ctx;
    pool->count = count;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store(&pool->generation, g + 2);
    wake_sleepers(pool);
    run_tasks(pool, 0);
    while (atomic_load_explicit(&pool->done, memory_order_acquire) != count) cpu_relax();
}
