/*
 * threads.c - the fork-join team that runs each matrix product of a forward
 * pass on n threads.
 *
 * A decode step hands out about five jobs per layer, each a few tens of
 * microseconds of work at the sizes this engine targets, so handing a job
 * over must cost a few hundred nanoseconds, not the tens of microseconds of
 * a futex wake-up. Workers therefore spin on a generation counter between
 * jobs, and only after SPIN_NS without work fall asleep on a condition
 * variable (so an idle session costs no CPU). The caller works as thread 0
 * and spins until the others report done.
 */
#include "llm_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* How long an idle worker spins before it sleeps: longer than the gap
 * between two tokens' jobs (sampling, the callback), short enough that an
 * idle server gives the cores back at once. */
#define SPIN_NS 2000000LL

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

typedef struct worker {
    struct tl__llm_threads *team;
    int ith;
    pthread_t tid;
} worker;

struct tl__llm_threads {
    int n;
    /* Each hot atomic on its own cache line: the caller writes gen, workers
     * write pending. */
    _Alignas(64) atomic_uint gen;
    _Alignas(64) atomic_int pending;
    _Alignas(64) atomic_int n_sleeping;
    atomic_bool quit;
    tl__llm_job_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    worker *workers; /* (n - 1) */
};

double tl__llm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *worker_main(void *p)
{
    worker *w = p;
    struct tl__llm_threads *t = w->team;
    /* Not a load of gen: the first job may have been handed out before this
     * thread ran, and it must not be missed. Workers start at generation 0. */
    unsigned seen = 0;
    for (;;) {
        /* Wait for the next generation: spin, then sleep. */
        unsigned g;
        int64_t t0 = 0;
        for (unsigned i = 0;; i++) {
            g = atomic_load_explicit(&t->gen, memory_order_acquire);
            if (g != seen || atomic_load_explicit(&t->quit, memory_order_acquire))
                break;
            CPU_RELAX();
            /* Every few microseconds, offer the core: on a machine with more
             * runnable threads than cores the thread we wait for may need it. */
            if ((i & 255) == 255)
                sched_yield();
            if ((i & 1023) == 1023) {
                int64_t now = now_ns();
                if (!t0)
                    t0 = now;
                else if (now - t0 > SPIN_NS) {
                    pthread_mutex_lock(&t->mu);
                    atomic_fetch_add(&t->n_sleeping, 1);
                    while (atomic_load(&t->gen) == seen && !atomic_load(&t->quit))
                        pthread_cond_wait(&t->cv, &t->mu);
                    atomic_fetch_sub(&t->n_sleeping, 1);
                    pthread_mutex_unlock(&t->mu);
                    t0 = 0;
                }
            }
        }
        if (atomic_load_explicit(&t->quit, memory_order_acquire))
            return NULL;
        seen = g;
        t->fn(t->arg, w->ith, t->n);
        atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel);
    }
}

int tl__llm_threads_new(int n, tl__llm_threads **out)
{
    if (n < 1)
        n = 1;
    struct tl__llm_threads *t = aligned_alloc(64, (sizeof *t + 63) / 64 * 64);
    if (!t)
        return TL_ENOMEM;
    *t = (struct tl__llm_threads){.n = n};
    atomic_init(&t->gen, 0);
    atomic_init(&t->pending, 0);
    atomic_init(&t->n_sleeping, 0);
    atomic_init(&t->quit, false);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (n > 1) {
        t->workers = calloc((size_t)n - 1, sizeof *t->workers);
        if (!t->workers) {
            tl__llm_threads_free(t);
            return TL_ENOMEM;
        }
    }
    for (int i = 1; i < n; i++) {
        worker *w = &t->workers[i - 1];
        w->team = t;
        w->ith = i;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            t->n = i; /* only the started ones are joined */
            tl__llm_threads_free(t);
            return TL_ENOMEM;
        }
    }
    *out = t;
    return 0;
}

void tl__llm_threads_run(tl__llm_threads *t, tl__llm_job_fn fn, void *arg)
{
    if (t->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    t->fn = fn;
    t->arg = arg;
    atomic_store_explicit(&t->pending, t->n - 1, memory_order_relaxed);
    atomic_fetch_add(&t->gen, 1); /* seq_cst: ordered before the n_sleeping read */
    if (atomic_load(&t->n_sleeping) > 0) {
        pthread_mutex_lock(&t->mu);
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
    fn(arg, 0, t->n);
    for (unsigned i = 0; atomic_load_explicit(&t->pending, memory_order_acquire) > 0; i++) {
        CPU_RELAX();
        /* A worker descheduled on a busy machine: let it run. */
        if ((i & 255) == 255)
            sched_yield();
    }
}

int tl__llm_threads_n(const tl__llm_threads *t) { return t->n; }

void tl__llm_threads_free(tl__llm_threads *t)
{
    if (!t)
        return;
    atomic_store(&t->quit, true);
    pthread_mutex_lock(&t->mu);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    for (int i = 1; i < t->n; i++)
        pthread_join(t->workers[i - 1].tid, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t->workers);
    free(t);
}
