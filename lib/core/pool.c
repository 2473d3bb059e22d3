/* pool.c - a fixed set of pthreads over one bounded FIFO queue. */
#include <teller/err.h>
#include <teller/pool.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 1024
#define QUEUE_PER_THREAD 64

struct task {
    tl_pool_fn fn;
    void *arg;
};

struct tl_pool {
    pthread_mutex_t mu;
    pthread_cond_t not_empty; /* workers wait here */
    pthread_cond_t not_full;  /* submitters wait here */
    pthread_cond_t idle;      /* tl_pool_wait waits here */
    struct task *queue;       /* ring buffer of cap entries */
    size_t cap, head, count;
    size_t pending;           /* queued + running */
    bool stopping;
    int n_threads;
    pthread_t *threads;
};

static void *worker(void *argp)
{
    tl_pool *p = argp;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->not_empty, &p->mu);
        if (p->count == 0) /* stopping, and the queue is drained */
            break;
        struct task t = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tl_pool *tl_pool_new(int n_threads)
{
    if (n_threads < 0)
        return NULL;
    if (n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
    }
    if (n_threads > MAX_THREADS)
        n_threads = MAX_THREADS;
    tl_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cap = (size_t)n_threads * QUEUE_PER_THREAD;
    p->queue = calloc(p->cap, sizeof *p->queue);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->queue || !p->threads)
        goto fail_alloc;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_alloc;
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (int i = 0; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->n_threads = i;
            tl_pool_free(p);
            return NULL;
        }
    }
    p->n_threads = n_threads;
    return p;

fail_alloc:
    free(p->queue);
    free(p->threads);
    free(p);
    return NULL;
}

/* Queues fn(arg). With `block` false, returns TL_ECANCELED instead of waiting
 * for room (parallel_for must never block inside a worker). */
static int submit(tl_pool *p, tl_pool_fn fn, void *arg, bool block)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == p->cap && !p->stopping && block)
        pthread_cond_wait(&p->not_full, &p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return TL_EINVAL;
    }
    if (p->count == p->cap) {
        pthread_mutex_unlock(&p->mu);
        return TL_ECANCELED;
    }
    p->queue[(p->head + p->count) % p->cap] = (struct task){fn, arg};
    p->count++;
    p->pending++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int tl_pool_submit(tl_pool *p, tl_pool_fn fn, void *arg)
{
    if (!p || !fn)
        return TL_EINVAL;
    return submit(p, fn, arg, true);
}

void tl_pool_wait(tl_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int tl_pool_size(const tl_pool *p)
{
    return p ? p->n_threads : 0;
}

void tl_pool_free(tl_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_cond_broadcast(&p->not_full);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->not_empty);
    pthread_cond_destroy(&p->not_full);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p->queue);
    free(p->threads);
    free(p);
}

/* ---- parallel_for --------------------------------------------------------
 * The caller works too, and waits only for helpers that actually started:
 * a helper still queued when the work runs out finds `closed` and leaves.
 * So parallel_for makes progress even when called from inside a task with
 * every worker busy, and the shared state lives until its last user. */
struct pfor {
    atomic_size_t next;
    size_t n, chunk;
    void (*fn)(size_t i, void *arg);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t done;
    int running; /* helpers inside run_chunks */
    int refs;    /* the caller + helpers not yet finished with the struct */
    bool closed;
};

static void run_chunks(struct pfor *pf)
{
    for (;;) {
        size_t start = atomic_fetch_add(&pf->next, pf->chunk);
        if (start >= pf->n)
            break;
        size_t end = pf->n - start < pf->chunk ? pf->n : start + pf->chunk;
        for (size_t i = start; i < end; i++)
            pf->fn(i, pf->arg);
    }
}

static void pfor_release(struct pfor *pf)
{
    /* called with pf->mu held; unlocks it */
    bool last = --pf->refs == 0;
    pthread_mutex_unlock(&pf->mu);
    if (last) {
        pthread_cond_destroy(&pf->done);
        pthread_mutex_destroy(&pf->mu);
        free(pf);
    }
}

static void pfor_helper(void *arg)
{
    struct pfor *pf = arg;
    pthread_mutex_lock(&pf->mu);
    if (pf->closed) {
        pfor_release(pf);
        return;
    }
    pf->running++;
    pthread_mutex_unlock(&pf->mu);
    run_chunks(pf);
    pthread_mutex_lock(&pf->mu);
    if (--pf->running == 0)
        pthread_cond_signal(&pf->done);
    pfor_release(pf);
}

void tl_pool_parallel_for(tl_pool *p, size_t n, void (*fn)(size_t i, void *arg), void *arg)
{
    if (!fn || n == 0)
        return;
    struct pfor *pf = NULL;
    if (p && p->n_threads > 0 && n > 1)
        pf = malloc(sizeof *pf);
    if (!pf) { /* no pool, one item, or out of memory: run here */
        for (size_t i = 0; i < n; i++)
            fn(i, arg);
        return;
    }
    atomic_init(&pf->next, 0);
    pf->n = n;
    /* About eight chunks per thread balances uneven items without making
     * the shared counter hot. */
    size_t parts = (size_t)(p->n_threads + 1) * 8;
    pf->chunk = n / parts ? n / parts : 1;
    pf->fn = fn;
    pf->arg = arg;
    pthread_mutex_init(&pf->mu, NULL);
    pthread_cond_init(&pf->done, NULL);
    pf->running = 0;
    pf->refs = 1;
    pf->closed = false;

    size_t helpers = (size_t)p->n_threads;
    if (helpers > n - 1)
        helpers = n - 1;
    for (size_t h = 0; h < helpers; h++) {
        pthread_mutex_lock(&pf->mu);
        pf->refs++;
        pthread_mutex_unlock(&pf->mu);
        if (submit(p, pfor_helper, pf, false) != 0) {
            pthread_mutex_lock(&pf->mu);
            pf->refs--;
            pthread_mutex_unlock(&pf->mu);
            break;
        }
    }
    run_chunks(pf);
    pthread_mutex_lock(&pf->mu);
    pf->closed = true;
    while (pf->running > 0)
        pthread_cond_wait(&pf->done, &pf->mu);
    pfor_release(pf);
}
