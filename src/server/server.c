/*
 * server.c - the server's life: start libmicrohttpd with its limits, give
 * each worker thread its own context, cut off clients too slow to finish a
 * request, and stop gracefully on SIGTERM.
 *
 * Limits. A thread pool of server.threads workers (0: one per core), each
 * running its own epoll loop over its share of the connections; keep-alive
 * is HTTP/1.1's default. Request line and headers must fit in
 * HEADER_POOL_BYTES (libmicrohttpd answers 431 or 414 otherwise); bodies are
 * bounded by server.max_body_bytes (413, http.c). server.timeout_s bounds
 * idleness (libmicrohttpd) and also the time to send a request's headers
 * however slowly they trickle in: the reaper below shuts down connections
 * whose headers are not complete in time, or whose body arrives slower than
 * MIN_BODY_BYTES_PER_S once that time has passed. shutdown(2) rather than
 * close: the descriptor stays libmicrohttpd's, which then sees the end of
 * the stream and cleans up in its own thread.
 *
 * Stores. A tl_store is one connection used by one thread at a time, so
 * every worker opens its own tl_ctx on its first request (a thread-specific
 * key); all are closed after the workers have stopped. The context opened
 * at start-up checks the store, applies migrations and creates the data key
 * file when missing, before any worker races to.
 *
 * Logs. A PII masker (mask.h) loaded with every customer's name at start-up
 * filters every log line, tl_log's and the server's own: the second line of
 * defence behind never logging PII in the first place. Customers loaded
 * after start-up are masked by pattern only (emails, phones, ids...) until
 * the next start. Library lines written while a request is handled get its
 * id appended, so every line of a request can be found by its id.
 *
 * Shutdown. SIGTERM and SIGINT are blocked in every thread and taken by
 * sigwait in the main one. Then: stop accepting (MHD_quiesce_daemon), answer
 * whatever is in flight with Connection: close, wait for it to finish (at
 * most DRAIN_S), and stop. A write is acknowledged only after its commit, so
 * nothing acknowledged is lost; what is cut at the deadline was never
 * acknowledged.
 */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEADER_POOL_BYTES (32 * 1024)
#define CONNECTION_LIMIT 1024
#define LISTEN_BACKLOG 1024
#define MIN_BODY_BYTES_PER_S (16 * 1024)
#define REAPER_PERIOD_MS 200
#define DRAIN_S 30

struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    _Atomic int phase;             /* enum srv_conn_phase */
    _Atomic int64_t phase_start_ns; /* when the phase began */
    _Atomic uint64_t bytes;         /* body bytes in this phase */
    bool cut;
};

/* ---- worker contexts ------------------------------------------------------ */

tl_ctx *srv_thread_ctx(struct srv *s, tl_err *err)
{
    tl_ctx *ctx = pthread_getspecific(s->ctx_key);
    if (ctx)
        return ctx;
    if (tl_ctx_open(s->cfg, &ctx, err) < 0)
        return NULL;
    pthread_mutex_lock(&s->ctx_lock);
    if (s->n_ctxs == s->cap_ctxs) {
        size_t cap = s->cap_ctxs ? s->cap_ctxs * 2 : 16;
        tl_ctx **p = realloc(s->ctxs, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&s->ctx_lock);
            tl_ctx_close(ctx);
            tl_err_set(err, TL_ENOMEM, "out of memory registering a worker context");
            return NULL;
        }
        s->ctxs = p;
        s->cap_ctxs = cap;
    }
    s->ctxs[s->n_ctxs++] = ctx;
    pthread_mutex_unlock(&s->ctx_lock);
    pthread_setspecific(s->ctx_key, ctx);
    return ctx;
}

void srv_thread_ctx_drop(struct srv *s)
{
    tl_ctx *ctx = pthread_getspecific(s->ctx_key);
    if (!ctx)
        return;
    pthread_setspecific(s->ctx_key, NULL);
    pthread_mutex_lock(&s->ctx_lock);
    for (size_t i = 0; i < s->n_ctxs; i++)
        if (s->ctxs[i] == ctx) {
            s->ctxs[i] = s->ctxs[--s->n_ctxs];
            break;
        }
    pthread_mutex_unlock(&s->ctx_lock);
    tl_ctx_close(ctx);
}

/* ---- connections and the reaper ---------------------------------------------- */

static struct srv_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void srv_conn_set_phase(struct MHD_Connection *c, enum srv_conn_phase phase)
{
    struct srv_conn *sc = conn_of(c);
    if (!sc)
        return;
    atomic_store_explicit(&sc->phase_start_ns, tl_time_mono_ns(), memory_order_relaxed);
    atomic_store_explicit(&sc->bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&sc->phase, (int)phase, memory_order_release);
}

void srv_conn_add_bytes(struct MHD_Connection *c, size_t n)
{
    struct srv_conn *sc = conn_of(c);
    if (sc)
        atomic_fetch_add_explicit(&sc->bytes, n, memory_order_relaxed);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct srv *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct srv_conn *sc = calloc(1, sizeof *sc);
        if (!sc)
            return; /* untracked: libmicrohttpd's idle timeout still applies */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        sc->fd = ci ? ci->connect_fd : -1;
        atomic_store(&sc->phase_start_ns, tl_time_mono_ns());
        pthread_mutex_lock(&s->conn_lock);
        sc->next = s->conns;
        if (s->conns)
            s->conns->prev = sc;
        s->conns = sc;
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = sc;
        srv_metrics_gauge_connections(s->metrics, 1);
        return;
    }
    struct srv_conn *sc = *socket_context;
    if (!sc)
        return;
    /* Under the lock, so the reaper never touches a descriptor that
     * libmicrohttpd is about to close and the kernel may reuse. */
    pthread_mutex_lock(&s->conn_lock);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    pthread_mutex_unlock(&s->conn_lock);
    *socket_context = NULL;
    free(sc);
    srv_metrics_gauge_connections(s->metrics, -1);
}

static bool too_slow(const struct srv *s, struct srv_conn *sc, int64_t now_ns)
{
    int phase = atomic_load_explicit(&sc->phase, memory_order_acquire);
    int64_t elapsed_ns = now_ns - atomic_load_explicit(&sc->phase_start_ns, memory_order_relaxed);
    int64_t limit_ns = s->timeout_s * 1000000000LL;
    if (phase == SRV_CONN_WAITING)
        return elapsed_ns > limit_ns;
    if (phase == SRV_CONN_UPLOADING && elapsed_ns > limit_ns) {
        double bytes = (double)atomic_load_explicit(&sc->bytes, memory_order_relaxed);
        return bytes / ((double)elapsed_ns * 1e-9) < MIN_BODY_BYTES_PER_S;
    }
    return false;
}

static void *reaper_main(void *arg)
{
    struct srv *s = arg;
    pthread_mutex_lock(&s->conn_lock);
    while (!atomic_load(&s->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAPER_PERIOD_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->reaper_cond, &s->conn_lock, &ts);
        int64_t now = tl_time_mono_ns();
        for (struct srv_conn *sc = s->conns; sc; sc = sc->next) {
            if (sc->cut || sc->fd < 0 || !too_slow(s, sc, now))
                continue;
            sc->cut = true;
            shutdown(sc->fd, SHUT_RDWR);
            srv_metrics_count(s->metrics, SRV_SLOW_CLIENTS_CUT);
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
    return NULL;
}

/* ---- logs ------------------------------------------------------------------------ */

/* The request a worker thread is handling, for the log filter. Per thread by
 * nature: a line is filtered on the thread that writes it. */
static _Thread_local const char *tls_request_id;

void srv_log_context(const char *request_id)
{
    tls_request_id = request_id;
}

/* tl_log's filter while serving: the PII masker, then " (request ID)" when
 * the line was written while handling a request. */
static size_t log_filter(void *ud, const char *msg, size_t len, char *out, size_t out_size)
{
    size_t n = tl_masker_log_filter(ud, msg, len, out, out_size);
    const char *id = tls_request_id;
    if (id && n + strlen(id) + 12 < out_size)
        n += (size_t)snprintf(out + n, out_size - n, " (request %s)", id);
    return n;
}

/* ---- start and stop ------------------------------------------------------------ */

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (TL_LOG_DEBUG < tl_log_get_level())
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    /* libmicrohttpd reports every client that hangs up: debug, not warn */
    tl_log(TL_LOG_DEBUG, "http", "libmicrohttpd: %s", msg);
}

static int config_int(const tl_config *cfg, const char *key, int64_t min, int64_t max, int64_t *out,
                      tl_err *err)
{
    int rc = tl_config_get_int(cfg, key, out, err);
    if (rc < 0)
        return rc;
    if (*out < min || *out > max)
        return tl_err_set(err, TL_EINVAL, "%s = %lld is out of range (%lld to %lld)", key,
                          (long long)*out, (long long)min, (long long)max);
    return 0;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (every interface) to a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, tl_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1])
        return tl_err_set(err, TL_EINVAL, "server.listen \"%s\" is not HOST:PORT", listen);
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return tl_err_set(err, TL_EINVAL, "server.listen \"%s\": the port must be 0 to 65535", listen);
    size_t hn = (size_t)(colon - listen);
    if (hn >= sizeof host)
        return tl_err_set(err, TL_EINVAL, "server.listen \"%s\": host too long", listen);
    memcpy(host, listen, hn);
    host[hn] = '\0';
    if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
        memmove(host, host + 1, hn - 2);
        host[hn - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (g != 0 || !res)
        return tl_err_set(err, TL_EINVAL, "server.listen \"%s\": %s", listen, gai_strerror(g));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void bound_address(const struct sockaddr_storage *ss, uint16_t port, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN + 2] = "?";
    if (ss->ss_family == AF_INET6) {
        char h[INET6_ADDRSTRLEN];
        getnameinfo((const struct sockaddr *)ss, sizeof(struct sockaddr_in6), h, sizeof h, NULL, 0,
                    NI_NUMERICHOST);
        snprintf(host, sizeof host, "[%s]", h);
    } else {
        getnameinfo((const struct sockaddr *)ss, sizeof(struct sockaddr_in), host, sizeof host, NULL,
                    0, NI_NUMERICHOST);
    }
    snprintf(out, cap, "%s:%u", host, (unsigned)port);
}

static void close_contexts(struct srv *s)
{
    for (size_t i = 0; i < s->n_ctxs; i++)
        tl_ctx_close(s->ctxs[i]);
    free(s->ctxs);
    s->ctxs = NULL;
    s->n_ctxs = s->cap_ctxs = 0;
}

int srv_run(const tl_config *cfg, void (*announce)(void *ud, const char *addr), void *ud,
            tl_err *err)
{
    struct srv s = {.cfg = cfg};
    int64_t threads, max_body, timeout_s, rate, burst;
    int rc;
    if ((rc = config_int(cfg, "server.threads", 0, 256, &threads, err)) < 0 ||
        (rc = config_int(cfg, "server.max_body_bytes", 1024, INT64_C(1) << 40, &max_body, err)) < 0 ||
        (rc = config_int(cfg, "server.timeout_s", 1, 3600, &timeout_s, err)) < 0 ||
        (rc = config_int(cfg, "server.rate_limit", 0, 100000000, &rate, err)) < 0 ||
        (rc = config_int(cfg, "server.rate_burst", 1, 100000000, &burst, err)) < 0)
        return rc;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? cores : 1;
    }
    s.threads = (unsigned)threads;
    s.max_body_bytes = (uint64_t)max_body;
    s.timeout_s = timeout_s;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    const char *listen = tl_config_get(cfg, "server.listen");
    if ((rc = parse_listen(listen ? listen : "", &ss, &ss_len, err)) < 0)
        return rc;

    tl_ctx *main_ctx = NULL;
    tl_masker *masker = NULL;
    size_t n_names = 0;
    if ((rc = tl_ctx_open(cfg, &main_ctx, err)) < 0)
        return rc;
    if ((rc = tl_masker_new(&masker, err)) < 0 ||
        (rc = tl_masker_load_customers(masker, main_ctx, &n_names, err)) < 0) {
        tl_err_prefix(err, "log masker");
        goto out_early;
    }
    s.masker = masker;
    if ((rc = tl_jwt_verifier_new(cfg, &s.jwt, err)) < 0)
        goto out_early;
    s.metrics = srv_metrics_new(srv_n_routes);
    s.rl = srv_ratelimit_new((double)rate, (double)burst);
    s.keycache = srv_keycache_new();
    s.models = srv_models_new();
    if (!s.metrics || (rate > 0 && !s.rl) || !s.keycache || !s.models) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory starting the server");
        goto out_early;
    }
    /* before listening: a broken rule file stops the start, and the first
     * payments are decided with the cards' history already in place */
    if ((rc = srv_fraud_new(cfg, &s.fraud, err)) < 0 ||
        (rc = srv_fraud_start(s.fraud, main_ctx, err)) < 0)
        goto out_early;
    /* before listening: a model that does not load stops the start */
    if ((rc = srv_llm_open(&s, err)) < 0)
        goto out_early;
    uint32_t boot = 0;
    if (getrandom(&boot, sizeof boot, 0) != sizeof boot)
        boot = (uint32_t)tl_time_now_ms() ^ (uint32_t)getpid();
    snprintf(s.boot_id, sizeof s.boot_id, "%08x", boot);
    pthread_key_create(&s.ctx_key, NULL);
    pthread_mutex_init(&s.ctx_lock, NULL);
    pthread_mutex_init(&s.conn_lock, NULL);
    pthread_mutex_init(&s.ingest_lock, NULL);
    pthread_cond_init(&s.reaper_cond, NULL);

    /* Every thread started from here on inherits the blocked signals; the
     * main thread takes them with sigwait. */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
    signal(SIGPIPE, SIG_IGN);
    tl_log_set_filter(log_filter, masker); /* before any other thread logs */

    if (pthread_create(&s.reaper, NULL, reaper_main, &s) != 0) {
        rc = tl_err_set(err, TL_EINTERNAL, "cannot start the reaper thread");
        goto out;
    }
    s.reaper_running = true;
    if ((rc = srv_auditq_start(&s, err)) < 0)
        goto out;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME; /* audited reads wait suspended (auditq.c) */
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    s.daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, srv_on_request, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_POOL_BYTES,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)LISTEN_BACKLOG, MHD_OPTION_NOTIFY_COMPLETED, srv_on_completed, &s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, &s,
        MHD_OPTION_END);
    if (!s.daemon) {
        rc = tl_err_set(err, TL_EIO, "cannot listen on %s: %s", listen,
                        errno ? strerror(errno) : "libmicrohttpd refused to start");
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
    char addr[INET6_ADDRSTRLEN + 16];
    bound_address(&ss, di ? di->port : 0, addr, sizeof addr);
    tl_log(TL_LOG_INFO, "http", "listening on %s with %u threads (store %s, %zu names masked in logs)",
           addr, s.threads, tl_store_backend(tl_ctx_store(main_ctx)), n_names);
    if (announce)
        announce(ud, addr);

    int sig = 0;
    while (sigwait(&stop_set, &sig) != 0)
        ;
    tl_log(TL_LOG_INFO, "http", "%s: draining %d requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT",
           atomic_load(&s.in_flight));
    atomic_store(&s.draining, true);
    MHD_socket lsock = MHD_quiesce_daemon(s.daemon);
    int64_t deadline = tl_time_mono_ns() + (int64_t)DRAIN_S * 1000000000LL;
    while (atomic_load(&s.in_flight) > 0 && tl_time_mono_ns() < deadline) {
        struct timespec pause = {.tv_nsec = 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    int left = atomic_load(&s.in_flight);
    /* Before the daemon: the writer resumes every connection still waiting
     * for its audit row, and libmicrohttpd cannot stop with one suspended. */
    srv_auditq_stop(&s);
    MHD_stop_daemon(s.daemon);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    tl_err save_err = {0}; /* every decision is in: the engine's state is final */
    if (srv_fraud_save(s.fraud, &save_err) < 0)
        tl_log(TL_LOG_ERROR, "fraud", "the fraud state was not saved: %s", save_err.msg);
    tl_log(left ? TL_LOG_WARN : TL_LOG_INFO, "http", "stopped%s",
           left ? " with requests cut at the drain deadline" : "");
    rc = 0;

out:
    srv_auditq_stop(&s); /* when the start failed; else already stopped */
    if (s.reaper_running) {
        pthread_mutex_lock(&s.conn_lock);
        atomic_store(&s.stopping, true);
        pthread_cond_signal(&s.reaper_cond);
        pthread_mutex_unlock(&s.conn_lock);
        pthread_join(s.reaper, NULL);
    }
    tl_log_set_filter(NULL, NULL); /* every other thread has stopped */
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    close_contexts(&s);
    pthread_key_delete(s.ctx_key);
    pthread_mutex_destroy(&s.ctx_lock);
    pthread_mutex_destroy(&s.conn_lock);
    pthread_mutex_destroy(&s.ingest_lock);
    pthread_cond_destroy(&s.reaper_cond);
out_early:
    srv_llm_close(&s); /* after the daemon: no stream is generating */
    srv_fraud_free(s.fraud);
    srv_models_free(s.models);
    srv_keycache_free(s.keycache);
    srv_ratelimit_free(s.rl);
    srv_metrics_free(s.metrics);
    tl_jwt_verifier_free(s.jwt);
    tl_masker_free(masker);
    tl_ctx_close(main_ctx);
    return rc;
}
