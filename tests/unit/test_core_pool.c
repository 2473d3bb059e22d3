/* test_core_pool.c - the thread pool and parallel_for. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <teller/pool.h>

static void add_one(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
}

Test(pool, submit_and_wait)
{
    tl_pool *p = tl_pool_new(4);
    cr_assert(p);
    cr_assert_eq(tl_pool_size(p), 4);
    atomic_long n = 0;
    /* far more tasks than the queue holds: submit must block, not drop */
    for (int i = 0; i < 100000; i++)
        cr_assert_eq(tl_pool_submit(p, add_one, &n), 0);
    tl_pool_wait(p);
    cr_assert_eq(atomic_load(&n), 100000);
    tl_pool_free(p);
}

Test(pool, default_size_is_the_core_count)
{
    tl_pool *p = tl_pool_new(0);
    cr_assert(p);
    cr_assert_eq(tl_pool_size(p), (int)sysconf(_SC_NPROCESSORS_ONLN));
    tl_pool_free(p);
    cr_assert_null(tl_pool_new(-1));
}

static void slow_add(void *arg)
{
    usleep(2000);
    atomic_fetch_add((atomic_long *)arg, 1);
}

Test(pool, free_finishes_queued_work)
{
    tl_pool *p = tl_pool_new(2);
    atomic_long n = 0;
    for (int i = 0; i < 50; i++)
        tl_pool_submit(p, slow_add, &n);
    tl_pool_free(p);
    cr_assert_eq(atomic_load(&n), 50);
}

struct sum {
    const int64_t *v;
    int64_t *partial; /* one slot per i */
    atomic_int *hits;
};

static void square(size_t i, void *arg)
{
    struct sum *s = arg;
    s->partial[i] = s->v[i] * s->v[i];
    atomic_fetch_add(&s->hits[i], 1);
}

static void check_parallel_for(tl_pool *p, size_t n)
{
    int64_t *v = malloc(n * sizeof *v), *partial = calloc(n, sizeof *partial);
    atomic_int *hits = calloc(n, sizeof *hits);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)i - 1000;
    struct sum s = {v, partial, hits};
    tl_pool_parallel_for(p, n, square, &s);
    int64_t total = 0, want = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&hits[i]), 1, "index %zu ran %d times", i, atomic_load(&hits[i]));
        total += partial[i];
        want += v[i] * v[i];
    }
    cr_assert_eq(total, want);
    free(v);
    free(partial);
    free(hits);
}

Test(pool, parallel_for_runs_each_index_once)
{
    tl_pool *p = tl_pool_new(4);
    size_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, 123457};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        check_parallel_for(p, sizes[k]);
    tl_pool_free(p);
    check_parallel_for(NULL, 1000); /* no pool: runs in the caller */
}

struct nested {
    tl_pool *p;
    atomic_long total;
};

static void inner(size_t i, void *arg)
{
    atomic_fetch_add(&((struct nested *)arg)->total, (long)i);
}

static void outer(size_t i, void *arg)
{
    (void)i;
    struct nested *ns = arg;
    /* parallel_for from inside a worker must not deadlock */
    tl_pool_parallel_for(ns->p, 100, inner, ns);
}

Test(pool, nested_parallel_for, .timeout = 30)
{
    struct nested ns = {tl_pool_new(2), 0};
    tl_pool_parallel_for(ns.p, 50, outer, &ns);
    cr_assert_eq(atomic_load(&ns.total), 50L * 4950);
    tl_pool_free(ns.p);
}

struct submitter {
    tl_pool *p;
    atomic_long *n;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < 20000; i++)
        tl_pool_submit(s->p, add_one, s->n);
    return NULL;
}

Test(pool, concurrent_submitters)
{
    tl_pool *p = tl_pool_new(3);
    atomic_long n = 0;
    struct submitter s = {p, &n};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, submit_many, &s);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    tl_pool_wait(p);
    cr_assert_eq(atomic_load(&n), 80000);
    tl_pool_free(p);
    tl_pool_free(NULL);
}
