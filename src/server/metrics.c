/*
 * metrics.c - Prometheus counters and latency histograms, lock-free.
 *
 * Every cell is a relaxed atomic: a request adds to three of them (its
 * status counter, one histogram bucket, the duration sum) and never waits
 * for another thread. Statuses outside the fixed list count as "other", and
 * requests that matched no route share one row, so the series are bounded
 * by the route table whatever clients send.
 */
#include "server.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned STATUSES[] = {200, 201, 204, 400, 401, 403, 404, 405, 413,
                                    415, 422, 429, 431, 500, 503};
#define N_STATUS (sizeof STATUSES / sizeof STATUSES[0] + 1) /* + "other" */

/* Upper bounds of the latency buckets, microseconds (le, in seconds). */
static const int64_t BUCKETS_US[] = {100, 250, 500, 1000, 2500, 5000, 10000,
                                     25000, 50000, 100000, 250000, 500000, 1000000,
                                     2500000, 5000000, 10000000};
#define N_BUCKETS (sizeof BUCKETS_US / sizeof BUCKETS_US[0] + 1) /* + "+Inf" */

struct row {
    atomic_uint_fast64_t by_status[N_STATUS];
    atomic_uint_fast64_t buckets[N_BUCKETS];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t count;
};

struct srv_metrics {
    size_t n_routes;
    struct row *rows; /* n_routes + 1: the last is "unmatched" */
    atomic_uint_fast64_t counters[SRV_N_COUNTERS];
    atomic_int connections;
};

static const struct {
    const char *name, *help;
} COUNTERS[SRV_N_COUNTERS] = {
    [SRV_STORE_ERRORS] = {"teller_store_errors_total", "Requests that failed on a store error."},
    [SRV_RATE_LIMITED] = {"teller_http_rate_limited_total", "Requests refused with 429."},
    [SRV_SLOW_CLIENTS_CUT] = {"teller_http_slow_clients_cut_total",
                              "Connections closed for sending a request too slowly."},
    [SRV_AUDIT_APPENDS] = {"teller_audit_appends_total", "Rows appended to the audit log."},
    [SRV_AUTH_FAILURES] = {"teller_http_auth_failures_total", "Requests refused with 401."},
};

struct srv_metrics *srv_metrics_new(size_t n_routes)
{
    struct srv_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n_routes = n_routes;
    m->rows = calloc(n_routes + 1, sizeof *m->rows);
    if (!m->rows) {
        free(m);
        return NULL;
    }
    return m;
}

void srv_metrics_free(struct srv_metrics *m)
{
    if (!m)
        return;
    free(m->rows);
    free(m);
}

void srv_metrics_observe(struct srv_metrics *m, int route_index, const char *method, unsigned status,
                         int64_t duration_ns)
{
    (void)method; /* a route is one method: its path and method go together */
    struct row *row = &m->rows[route_index >= 0 && (size_t)route_index < m->n_routes
                                   ? (size_t)route_index
                                   : m->n_routes];
    size_t s = N_STATUS - 1;
    for (size_t i = 0; i + 1 < N_STATUS; i++)
        if (STATUSES[i] == status)
            s = i;
    atomic_fetch_add_explicit(&row->by_status[s], 1, memory_order_relaxed);
    int64_t us = duration_ns > 0 ? duration_ns / 1000 : 0;
    size_t b = N_BUCKETS - 1;
    for (size_t i = 0; i + 1 < N_BUCKETS; i++)
        if (us <= BUCKETS_US[i]) {
            b = i;
            break;
        }
    atomic_fetch_add_explicit(&row->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&row->sum_us, (uint_fast64_t)us, memory_order_relaxed);
    atomic_fetch_add_explicit(&row->count, 1, memory_order_relaxed);
}

void srv_metrics_count(struct srv_metrics *m, enum srv_counter c)
{
    atomic_fetch_add_explicit(&m->counters[c], 1, memory_order_relaxed);
}

void srv_metrics_gauge_connections(struct srv_metrics *m, int delta)
{
    atomic_fetch_add_explicit(&m->connections, delta, memory_order_relaxed);
}

/* A growable text buffer, bounded (the exposition of a fixed table). */
struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *fmt, ...) TL_PRINTF(2, 3);
static void put(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        if (cap > (64u << 20)) {
            t->oom = true;
            return;
        }
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static void route_labels(const struct srv_metrics *m, size_t i, const char **method, const char **path)
{
    if (i < m->n_routes) {
        *method = srv_method_name(srv_routes[i].method);
        *path = srv_routes[i].path;
    } else {
        *method = "";
        *path = "unmatched";
    }
}

char *srv_metrics_render(const struct srv_metrics *m, int in_flight, size_t *len)
{
    struct text t = {.cap = 16384};
    t.p = malloc(t.cap);
    if (!t.p)
        return NULL;
    t.p[0] = '\0';
    put(&t, "# HELP teller_http_requests_total HTTP requests by route and status.\n"
            "# TYPE teller_http_requests_total counter\n");
    for (size_t i = 0; i <= m->n_routes; i++) {
        const char *method, *path;
        route_labels(m, i, &method, &path);
        for (size_t s = 0; s < N_STATUS; s++) {
            uint64_t v = atomic_load_explicit(&m->rows[i].by_status[s], memory_order_relaxed);
            if (v == 0)
                continue;
            char status[8];
            if (s + 1 < N_STATUS)
                snprintf(status, sizeof status, "%u", STATUSES[s]);
            else
                snprintf(status, sizeof status, "other");
            put(&t, "teller_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                method, path, status, v);
        }
    }
    put(&t, "# HELP teller_http_request_duration_seconds Time from a request's headers to its "
            "answer, by route.\n"
            "# TYPE teller_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->n_routes; i++) {
        uint64_t count = atomic_load_explicit(&m->rows[i].count, memory_order_relaxed);
        if (count == 0)
            continue;
        const char *method, *path;
        route_labels(m, i, &method, &path);
        uint64_t cum = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += atomic_load_explicit(&m->rows[i].buckets[b], memory_order_relaxed);
            if (b + 1 < N_BUCKETS)
                put(&t,
                    "teller_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} "
                    "%" PRIu64 "\n",
                    method, path, (double)BUCKETS_US[b] / 1e6, cum);
            else
                put(&t,
                    "teller_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} "
                    "%" PRIu64 "\n",
                    method, path, cum);
        }
        put(&t, "teller_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method,
            path, (double)atomic_load_explicit(&m->rows[i].sum_us, memory_order_relaxed) / 1e6);
        /* the count is the +Inf bucket, read once so the two always agree */
        put(&t, "teller_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %" PRIu64 "\n",
            method, path, cum);
    }
    for (size_t c = 0; c < SRV_N_COUNTERS; c++)
        put(&t, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", COUNTERS[c].name, COUNTERS[c].help,
            COUNTERS[c].name, COUNTERS[c].name,
            (uint64_t)atomic_load_explicit(&m->counters[c], memory_order_relaxed));
    put(&t, "# HELP teller_http_requests_in_flight Requests being received, handled or answered.\n"
            "# TYPE teller_http_requests_in_flight gauge\nteller_http_requests_in_flight %d\n",
        in_flight);
    put(&t, "# HELP teller_http_connections Open client connections.\n"
            "# TYPE teller_http_connections gauge\nteller_http_connections %d\n",
        atomic_load_explicit(&m->connections, memory_order_relaxed));
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}
