/* A small thread pool for splitting one op over the interpreter's threads.
 *
 * Workers are created once per interpreter and live until it is freed. A job is published by
 * bumping a generation counter; workers wait for it spinning, then yielding, then asleep on a
 * condition variable (see SPIN_ITERATIONS); the caller starts on the tasks at once, so a late
 * worker only takes fewer of them.
 *
 * The tasks are cut into one contiguous range per thread, and each thread first claims its own
 * range's tasks, in order, from an atomic counter: consecutive ops that split their output alike (a
 * 1x1 convolution's rows, then the depthwise convolution over those rows) then find their input in
 * their own core's cache, not the other core's. A thread done with its range claims what is left of
 * the others' the same way, so uneven tasks and a thread the machine holds back still balance. The
 * caller waits for the workers' last tasks spinning, then yielding its core (a worker may share it).
 * At the end of an invoke the interpreter parks the pool: workers sleep at once instead of spinning
 * on cores that the caller's next work, or another runtime, needs. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_setaffinity_np */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/float_mode.h"
#include "base/mem.h"
#include "base/threadpool.h"

/* A hint to the core that this thread spins. A function (not a statement macro), so that
 * `cpu_relax(), spin++` works on every architecture. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }
#else
static inline void cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
#endif

/* How a worker waits for the next job of an invoke: first spinning on pauses (the gap between two
 * ops is often a microsecond or two), then spinning on sched_yield, then sleeping on the condition
 * variable. Yielding keeps the worker ready for the next op (a wake-up from sleep costs tens of
 * microseconds, more on a busy machine) while a thread that has real work on this core runs
 * instead: on a machine with more runnable threads than cores a worker spinning on pauses alone
 * takes half of a core the caller or another process needs. (Measured on 2 shared cores with
 * bench/runtime.py at 2 threads: 4000 pauses, about 55 us, cost 10-30% against 50 to 1000.) */
enum {
    SPIN_ITERATIONS = 300,       /* pauses: a few microseconds */
    YIELD_ITERATIONS = 200,      /* then sched_yield calls: about 100 us on an idle core */
    WAIT_SPIN_ITERATIONS = 200,  /* a few microseconds of spinning before the caller yields */
    SPIN_ONLY_ITERATIONS = 4000, /* P2L_WAIT_SPIN: pauses only, about 50 us */
};

/* Pauses, then sched_yield calls, before a worker sleeps: per p2l_threadpool_options.wait. */
static const struct wait_policy {
    int spins, yields;
} wait_policies[] = {
    [P2L_WAIT_DEFAULT] = {SPIN_ITERATIONS, YIELD_ITERATIONS},
    [P2L_WAIT_SPIN] = {SPIN_ONLY_ITERATIONS, 0},
    [P2L_WAIT_YIELD] = {0, YIELD_ITERATIONS},
    [P2L_WAIT_SLEEP] = {0, 0},
};

/* Job protocol (a sequence lock): `generation` is even when a job is published and odd while the
 * caller writes the next one. A worker announces itself in `active`, then re-checks the generation;
 * the caller, after making it odd, waits for `active` to drop to zero before it touches the job's
 * fields. So a worker that wakes late either runs tasks of the job it saw, with that job's fields
 * intact, or backs off. The caller waits only for tasks to finish, never for a sleepy worker. */
struct p2l_threadpool {
    int threads; /* including the caller */
    struct wait_policy wait;
    atomic_int refs;         /* the creator's reference plus one per interpreter using the pool */
    bool shared;             /* made by the public API: callers on several threads take job_mutex */
    pthread_mutex_t job_mutex; /* one job at a time when shared */
    int pinned;              /* workers pinned to a CPU */
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int sleeping;            /* workers waiting on `wake`; guarded by mutex */
    atomic_uint generation;
    atomic_int active;       /* workers inside the current job */
    atomic_bool stop;
    atomic_bool parked;      /* p2l_threadpool_park: no job soon, workers sleep without spinning */
    p2l_task_fn fn;
    void *ctx;
    size_t count;
    struct task_range *ranges; /* one per thread, 64-byte aligned in ranges_block */
    void *ranges_block;
    atomic_size_t done;      /* finished tasks */
};

/* Tasks [next, end) of one thread's range are unclaimed; a cache line each, as every thread claims
 * from its own. */
typedef struct task_range {
    _Alignas(64) atomic_size_t next;
    size_t end;
} task_range;

typedef struct worker_arg {
    p2l_threadpool *pool;
    int thread;
} worker_arg;

static void run_tasks(p2l_threadpool *pool, int thread) {
    size_t finished = 0; /* counted once at the end: `done` is one cache line all threads write */
    for (int i = 0; i < pool->threads; i++) { /* its own range first, then the others' */
        task_range *range = &pool->ranges[(thread + i) % pool->threads];
        for (;;) {
            size_t task = atomic_fetch_add_explicit(&range->next, 1, memory_order_relaxed);
            if (task >= range->end) break;
            pool->fn(pool->ctx, task, thread);
            finished++;
        }
    }
    if (finished) atomic_fetch_add_explicit(&pool->done, finished, memory_order_release);
}

static bool published(unsigned g, unsigned seen) { return g != seen && (g & 1) == 0; }

static void *worker_main(void *p) {
    worker_arg *arg = p;
    p2l_threadpool *pool = arg->pool;
    const int thread = arg->thread;
    unsigned seen = 0;
    p2l_flush_denormals_begin(); /* a worker only ever runs kernels */
    for (;;) {
        unsigned g = atomic_load(&pool->generation);
        const int spins = pool->wait.spins, waits = pool->wait.spins + pool->wait.yields;
        for (int spin = 0; !published(g, seen) && spin < waits &&
                           !atomic_load_explicit(&pool->parked, memory_order_relaxed);
             spin++) {
            if (spin < spins) cpu_relax();
            else sched_yield();
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

/* Best effort (pt2lite.h, p2l_threadpool_options.cpus): false where the CPU is unavailable. */
static bool pin_thread(pthread_t thread, int cpu) {
#if defined(__linux__) && defined(CPU_SET)
    if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(thread, sizeof set, &set) == 0;
#else
    (void)thread, (void)cpu;
    return false;
#endif
}

/* threads >= 1: one thread makes a pool without workers. */
static p2l_status pool_new(int threads, int wait, p2l_threadpool **out) {
    *out = NULL;
    if (threads > P2L_MAX_THREADS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%d threads are too many (at most %d)", threads, P2L_MAX_THREADS);
    if (wait < 0 || wait > P2L_WAIT_SLEEP)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "wait policy %d is unknown (P2L_WAIT_DEFAULT 0 to P2L_WAIT_SLEEP %d)",
                        wait, P2L_WAIT_SLEEP);
    p2l_threadpool *pool = p2l_alloc_zero(sizeof *pool);
    if (!pool) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a thread pool");
    pool->workers = p2l_alloc_zero((size_t)threads * (sizeof(pthread_t) + sizeof(worker_arg)));
    if (!pool->workers) {
        p2l_release(pool);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a thread pool");
    }
    pool->ranges_block = p2l_alloc_zero((size_t)threads * sizeof(task_range) + 64);
    pool->ranges = p2l_align_pointer(pool->ranges_block, 64);
    if (!pool->ranges_block) {
        p2l_release(pool->workers);
        p2l_release(pool);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating a thread pool");
    }
    pool->threads = threads;
    pool->wait = wait_policies[wait];
    atomic_init(&pool->refs, 1);
    pthread_mutex_init(&pool->job_mutex, NULL);
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->active, 0);
    atomic_init(&pool->stop, false);
    atomic_init(&pool->parked, false);
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

p2l_status p2l_threadpool_start(int threads, int wait, p2l_threadpool **out) {
    *out = NULL;
    return threads <= 1 ? P2L_OK : pool_new(threads, wait, out);
}

void p2l_threadpool_retain(p2l_threadpool *pool) {
    if (pool) atomic_fetch_add(&pool->refs, 1);
}

void p2l_threadpool_free(p2l_threadpool *pool) {
    if (!pool || atomic_fetch_sub(&pool->refs, 1) != 1) return;
    atomic_store(&pool->stop, true);
    wake_sleepers(pool);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    pthread_mutex_destroy(&pool->job_mutex);
    p2l_release(pool->workers);
    p2l_release(pool->ranges_block);
    p2l_release(pool);
}

int p2l_threadpool_threads(const p2l_threadpool *pool) { return pool ? pool->threads : 1; }

/* The public pool (pt2lite.h): one of one thread is an object too (interpreters given it run on the
 * caller's thread), not p2l_threadpool_start's NULL. */
p2l_status p2l_threadpool_create(const p2l_threadpool_options *options, p2l_threadpool **out) {
    if (!out) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_threadpool_create: pool is NULL");
    *out = NULL;
    if (!options) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_threadpool_create: options is NULL");
    P2L_TRY(p2l_check_options_size("p2l_threadpool_options", options->size, sizeof *options, sizeof *options));
    const p2l_threadpool_options o = *options;
    if (o.num_threads < 1 || o.num_threads > P2L_MAX_THREADS)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_threadpool_create: num_threads is %d; expected 1 to %d",
                        o.num_threads, P2L_MAX_THREADS);
    if (o.cpu_count < 0 || (o.cpu_count > 0 && !o.cpus))
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_threadpool_create: cpus is %s with cpu_count %d",
                        o.cpus ? "set" : "NULL", o.cpu_count);
    p2l_threadpool *pool = NULL;
    P2L_TRY(pool_new(o.num_threads, o.wait, &pool));
    pool->shared = true;
    for (int k = 1; o.cpu_count > 0 && k < pool->threads; k++)
        pool->pinned += pin_thread(pool->workers[k], o.cpus[(k - 1) % o.cpu_count]);
    *out = pool;
    return P2L_OK;
}

int p2l_threadpool_pinned(const p2l_threadpool *pool) { return pool ? pool->pinned : 0; }

void p2l_threadpool_park(p2l_threadpool *pool) {
    if (pool) atomic_store_explicit(&pool->parked, true, memory_order_relaxed);
}

void p2l_parallel_for(p2l_threadpool *pool, size_t count, p2l_task_fn fn, void *ctx) {
    if (!pool || count <= 1) {
        for (size_t i = 0; i < count; i++) fn(ctx, i, 0);
        return;
    }
    if (pool->shared) pthread_mutex_lock(&pool->job_mutex);
    if (atomic_load_explicit(&pool->parked, memory_order_relaxed))
        atomic_store_explicit(&pool->parked, false, memory_order_relaxed);
    /* Close the previous job (odd generation) and wait for late workers to leave it. */
    unsigned g = atomic_load(&pool->generation);
    atomic_store(&pool->generation, g + 1);
    for (int spin = 0; atomic_load(&pool->active) != 0;) { /* as below: a late worker may share this core */
        if (spin < WAIT_SPIN_ITERATIONS) cpu_relax(), spin++;
        else sched_yield();
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->count = count;
    for (int t = 0; t < pool->threads; t++) {
        atomic_store_explicit(&pool->ranges[t].next, count * (size_t)t / (size_t)pool->threads, memory_order_relaxed);
        pool->ranges[t].end = count * (size_t)(t + 1) / (size_t)pool->threads;
    }
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store(&pool->generation, g + 2);
    wake_sleepers(pool);
    run_tasks(pool, 0);
    /* The tasks left are running on workers. On a machine with more runnable threads than cores a
     * worker may share this core, and pure spinning would keep it off the core until the scheduler's
     * time slice ends (milliseconds): after a few microseconds, yield on each round. */
    for (int spin = 0; atomic_load_explicit(&pool->done, memory_order_acquire) != count;) {
        if (spin < WAIT_SPIN_ITERATIONS) cpu_relax(), spin++;
        else sched_yield();
    }
    if (pool->shared) pthread_mutex_unlock(&pool->job_mutex);
}
