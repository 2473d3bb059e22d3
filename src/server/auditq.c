/*
 * auditq.c - the audit writer: one thread that journals every audited
 * request's row, in batches.
 *
 * Why. Each append is a write transaction of its own, and SQLite runs one at
 * a time: at about 60 us a commit, appending on the request's own thread
 * capped the audited routes near 10k requests/s however many workers ran,
 * with the rest queueing on the store's lock. Here requests put their event
 * in a bounded queue and the writer commits whatever has gathered in one
 * tl_audit_append_batch: the more requests wait, the larger the batch, so
 * the cost of a commit is shared instead of serialized.
 *
 * The contract is unchanged: an answer is sent only after its row is
 * committed, so an acknowledged read is always journaled. An audited read
 * renders its answer, then suspends its connection (MHD_suspend_connection)
 * and frees its worker thread for other connections; once the batch holding
 * its row commits (or fails) the writer resumes it, and libmicrohttpd calls
 * the request's handler again, which sends the held answer, or a 500 and no
 * data when the batch failed (http.c). A handful of actions (key creation,
 * ingest) wait on their thread instead: they are rare, and their handlers
 * answer in line.
 *
 * Checkpoints: on SQLite the commit that takes the write-ahead log past
 * 1000 pages also copies it into the database, a pause of milliseconds that
 * every request waiting on that commit shared (most of the audited routes'
 * p99, docs/benchmarks.md). The writer's connection leaves that to a second
 * thread, the checkpointer, which copies the log every CHECKPOINT_MS from a
 * connection of its own without stopping the writer.
 *
 * Shutdown: the writer finishes everything queued before it stops, so no
 * connection stays suspended (libmicrohttpd refuses to stop with one); a
 * request that comes after that is answered 503 (srv_auditq_submit fails).
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Like PostgreSQL's commit_delay: a batch of fewer rows than this waits this
 * long for others to join it first, when other requests are in flight that
 * may bring some (a lone client never waits). A commit costs about as much
 * as four rows, and woken at once the writer committed batches of about two
 * rows, spending most of its time (and a core shared with the workers) on
 * commits; half a millisecond, small against the answer's latency, makes
 * batches of about 30 at 64 connections (docs/benchmarks.md). */
#define AUDIT_GATHER_ROWS 32
#define AUDIT_GATHER_NS (500 * 1000L)
#define CHECKPOINT_MS 200

struct srv_auditq {
    struct srv *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* the writer waits here for work */
    pthread_cond_t not_full;  /* submitters wait here for room */
    pthread_cond_t done;      /* waiting submitters (srv_audit) wait here for their row */
    /* a ring of requests whose rows are not yet written; a request in it
     * is suspended, or its thread waits on done */
    struct srv_req *ring[SRV_AUDIT_QUEUE];
    size_t head, n;
    bool stopping;             /* under lock: finish the queue, then end */
    bool stopped;              /* under lock: refuse new requests */
    tl_ctx *ctx;               /* the writer's own store connection; NULL after a store failure */
    /* the checkpointer: its thread, its connection, and its wake-up */
    pthread_t ckpt_thread;
    bool ckpt_running;
    pthread_cond_t ckpt_wake; /* under lock, on the monotonic clock */
    /* the batch being written: writer thread only */
    struct srv_req *batch[SRV_AUDIT_QUEUE];
    struct MHD_Connection *resume[SRV_AUDIT_QUEUE];
    struct tl_audit_event evs[SRV_AUDIT_QUEUE];
};

/* Writes batch[0..n) and hands each request its result. */
static void write_batch(struct srv_auditq *q, struct srv_req **batch, size_t n)
{
    tl_err err = {0};
    int rc = 0;
    if (!q->ctx && (rc = tl_ctx_open(q->srv->cfg, &q->ctx, &err)) == 0 &&
        tl_store_set_autocheckpoint(tl_ctx_store(q->ctx), false, &err) < 0) {
        /* the commits will checkpoint themselves: slower, still correct */
        tl_log(TL_LOG_WARN, "server", "audit writer: %s", err.msg);
        tl_err_clear(&err);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            q->evs[i] = batch[i]->audit_ev;
        rc = tl_audit_append_batch(q->ctx, q->evs, n, &err);
    }
    if (rc == TL_ESTORE || rc == TL_EIO) {
        /* a fresh connection for the next batch, as a worker would */
        tl_ctx_close(q->ctx);
        q->ctx = NULL;
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            srv_metrics_count(q->srv->metrics, SRV_AUDIT_APPENDS);

    /* Results first, under the lock (waiting submitters read them there);
     * then resume the suspended requests. Once the lock is let go no request
     * of the batch is ours to touch: each may finish and be freed. */
    size_t n_resume = 0;
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < n; i++) {
        batch[i]->audit_rc = rc;
        if (rc < 0)
            batch[i]->audit_err = err;
        batch[i]->audit_state = SRV_AUDIT_DONE;
        /* noted now: a waiting request may end as soon as the lock is let go */
        if (!batch[i]->audit_waits)
            q->resume[n_resume++] = batch[i]->conn;
    }
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < n_resume; i++)
        MHD_resume_connection(q->resume[i]);
}

static void *writer_main(void *arg)
{
    struct srv_auditq *q = arg;
    struct srv_req **batch = q->batch;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->n == 0 && !q->stopping)
            pthread_cond_wait(&q->not_empty, &q->lock);
        if (q->n == 0) /* stopping, and nothing left */
            break;
        if (q->n < AUDIT_GATHER_ROWS && !q->stopping &&
            atomic_load_explicit(&q->srv->in_flight, memory_order_relaxed) > (int)q->n) {
            /* gather until the batch is full (a submitter signals when it
             * reaches AUDIT_GATHER_ROWS) or the time is up, whichever is
             * first: a busy server does not wait the whole pause */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += AUDIT_GATHER_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (q->n < AUDIT_GATHER_ROWS && !q->stopping &&
                   pthread_cond_timedwait(&q->not_empty, &q->lock, &until) == 0)
                ;
        }
        /* everything queued: the batch is as large as the wait was long */
        size_t n = q->n;
        for (size_t i = 0; i < n; i++)
            batch[i] = q->ring[(q->head + i) % SRV_AUDIT_QUEUE];
        q->head = (q->head + n) % SRV_AUDIT_QUEUE;
        q->n = 0;
        pthread_cond_broadcast(&q->not_full);
        pthread_mutex_unlock(&q->lock);
        write_batch(q, batch, n);
        pthread_mutex_lock(&q->lock);
    }
    q->stopped = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Copies the write-ahead log into the database every CHECKPOINT_MS, for
 * the writer whose commits no longer do (see the top of the file). */
static void *checkpointer_main(void *arg)
{
    struct srv_auditq *q = arg;
    tl_ctx *ctx = NULL;
    pthread_mutex_lock(&q->lock);
    while (!q->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += CHECKPOINT_MS * 1000000L;
        while (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q->ckpt_wake, &q->lock, &until);
        if (q->stopping)
            break;
        pthread_mutex_unlock(&q->lock);
        tl_err err = {0};
        if (!ctx && tl_ctx_open(q->srv->cfg, &ctx, &err) < 0)
            ctx = NULL;
        if (ctx && tl_store_checkpoint(tl_ctx_store(ctx), &err) < 0) {
            tl_log(TL_LOG_WARN, "server", "checkpoint: %s", err.msg);
            tl_ctx_close(ctx); /* a fresh connection next time */
            ctx = NULL;
        }
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    tl_ctx_close(ctx);
    return NULL;
}

/* Releases what srv_auditq_start made; the writer thread must not be
 * running (never started, or joined). */
static void queue_free(struct srv_auditq *q)
{
    tl_ctx_close(q->ctx);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->ckpt_wake);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->done);
    free(q);
}

int srv_auditq_start(struct srv *s, tl_err *err)
{
    struct srv_auditq *q = calloc(1, sizeof *q);
    if (!q)
        return tl_err_set(err, TL_ENOMEM, "out of memory starting the audit writer");
    q->srv = s;
    int rc = tl_ctx_open(s->cfg, &q->ctx, err);
    if (rc == 0)
        rc = tl_store_set_autocheckpoint(tl_ctx_store(q->ctx), false, err);
    if (rc < 0) {
        tl_err_prefix(err, "audit writer");
        tl_ctx_close(q->ctx);
        free(q);
        return rc;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t mono; /* the gathering deadline is on the monotonic clock */
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &mono);
    pthread_cond_init(&q->ckpt_wake, &mono);
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&q->not_full, NULL);
    pthread_cond_init(&q->done, NULL);
    if (pthread_create(&q->thread, NULL, writer_main, q) != 0) {
        queue_free(q);
        return tl_err_set(err, TL_EINTERNAL, "cannot start the audit writer thread");
    }
    s->auditq = q;
    if (pthread_create(&q->ckpt_thread, NULL, checkpointer_main, q) != 0) {
        srv_auditq_stop(s);
        return tl_err_set(err, TL_EINTERNAL, "cannot start the checkpoint thread");
    }
    q->ckpt_running = true;
    return 0;
}

void srv_auditq_stop(struct srv *s)
{
    struct srv_auditq *q = s->auditq;
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_mutex_lock(&q->lock);
    pthread_cond_signal(&q->ckpt_wake);
    pthread_mutex_unlock(&q->lock);
    if (q->ckpt_running)
        pthread_join(q->ckpt_thread, NULL);
    queue_free(q);
    s->auditq = NULL;
}

int srv_auditq_submit(struct srv_req *r, bool wait)
{
    struct srv_auditq *q = r->srv->auditq;
    pthread_mutex_lock(&q->lock);
    /* a full queue holds back the request's thread: the bound on memory
     * and on how far the journal may trail the requests */
    while (q->n == SRV_AUDIT_QUEUE && !q->stopping)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->stopping) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    r->audit_waits = wait;
    r->audit_state = SRV_AUDIT_QUEUED;
    /* Suspended before the writer can see it, so that its resume can never
     * come first. Called on the request's own thread, inside its handler,
     * as libmicrohttpd requires. */
    if (!wait) {
        r->audit_suspended = true;
        MHD_suspend_connection(r->conn);
    }
    q->ring[(q->head + q->n) % SRV_AUDIT_QUEUE] = r;
    q->n++;
    /* the writer waits for a first row, or gathers until this many: wake it
     * only then, not once per row */
    if (q->n == 1 || q->n == AUDIT_GATHER_ROWS)
        pthread_cond_signal(&q->not_empty);
    if (wait)
        while (r->audit_state != SRV_AUDIT_DONE)
            pthread_cond_wait(&q->done, &q->lock);
    pthread_mutex_unlock(&q->lock);
    return 0;
}
