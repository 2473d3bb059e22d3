/*
 * pool.h - a fixed thread pool with a bounded queue.
 *
 *     tl_pool *p = tl_pool_new(0);          // 0: one thread per core
 *     tl_pool_submit(p, work, arg);
 *     tl_pool_wait(p);                      // all submitted work done
 *     tl_pool_free(p);
 */
#ifndef TELLER_POOL_H
#define TELLER_POOL_H

#include "common.h"

TL_BEGIN_DECLS

typedef struct tl_pool tl_pool;
typedef void (*tl_pool_fn)(void *arg);

/* n_threads 0 means the number of online cores. NULL when out of resources. */
TL_API tl_pool *tl_pool_new(int n_threads);

/* Queues fn(arg); blocks while the queue is full. Returns 0 or TL_EINVAL
 * after tl_pool_free has begun. */
TL_API int tl_pool_submit(tl_pool *p, tl_pool_fn fn, void *arg);

/* Blocks until every submitted task has finished. */
TL_API void tl_pool_wait(tl_pool *p);

/* Runs fn(i, arg) for i in [0, n) split across the pool, and waits. The
 * caller runs items too, so it is safe to call from inside a task; p NULL
 * runs everything in the caller. */
TL_API void tl_pool_parallel_for(tl_pool *p, size_t n, void (*fn)(size_t i, void *arg), void *arg);

TL_API int tl_pool_size(const tl_pool *p);

/* Finishes queued work, joins the threads and frees the pool. */
TL_API void tl_pool_free(tl_pool *p);

TL_END_DECLS

#endif
