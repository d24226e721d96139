/* A thread pool that splits one job into tasks over a fixed set of threads (threadpool.c).
 *
 * The interpreter creates one per interpreter (none when num_threads is 1), or uses a pool the caller
 * shares between interpreters (p2l_interpreter_options.threadpool), and hands it to the kernels through p2l_exec (kernels/kernels.h); kernels split their work with p2l_parallel_for. */
#ifndef P2L_BASE_THREADPOOL_H
#define P2L_BASE_THREADPOOL_H

#include <stddef.h>

#include "base/status.h"

typedef struct p2l_threadpool p2l_threadpool;
typedef void (*p2l_task_fn)(void *ctx, size_t task, int thread);
/* threads counts the calling thread: 1 creates no threads (*pool NULL). wait: P2L_WAIT_* (pt2lite.h).
 * The public p2l_threadpool_create (pt2lite.h) makes a pool that callers on several threads may share. */
p2l_status p2l_threadpool_start(int threads, int wait, p2l_threadpool **pool);
/* Reference counting: p2l_threadpool_free (pt2lite.h) drops one reference; the last stops the workers. */
void p2l_threadpool_retain(p2l_threadpool *pool);
int p2l_threadpool_threads(const p2l_threadpool *pool); /* 1 for NULL */
/* No job is coming soon (the end of an invoke): workers go to sleep now instead of spinning, so
 * they leave the cores to whatever the caller runs next. The next p2l_parallel_for wakes them. */
void p2l_threadpool_park(p2l_threadpool *pool);
/* Runs fn(ctx, task, thread) for every task in [0, count), thread in [0, threads); returns when all
 * are done. Each thread takes its own share of consecutive tasks first (thread t the t-th of
 * `threads` equal ranges, so ops that split their rows alike keep each thread on the same rows),
 * then helps with the others'; the caller works too. pool may be NULL. */
void p2l_parallel_for(p2l_threadpool *pool, size_t count, p2l_task_fn fn, void *ctx);

#endif
