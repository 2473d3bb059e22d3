/*
 * server.h - the HTTP server's internals, shared by the files of src/server
 * (not a public header).
 *
 *   server.c    libmicrohttpd lifecycle: limits, worker contexts, the slow
 *               client reaper, graceful shutdown on SIGTERM
 *   http.c      the request pipeline: route, authenticate, authorize, rate
 *               limit, read the body within its bound, call the handler,
 *               answer; request ids, JSON errors, the access log
 *   router.c    THE route table (the single source for dispatch, the
 *               authorization matrix test and the OpenAPI check)
 *   auth.c      bearer tokens: API keys and JWTs to a principal
 *   metrics.c   Prometheus counters and latency histograms (lock-free)
 *   ratelimit.c token buckets per principal in a bounded table
 *   auditq.c    the audit writer: one thread journaling audit rows in batches
 *   routes_*.c  the handlers: parse, call one library function, render
 *
 * Handlers are thin. Each gets a request whose route matched, whose caller
 * was authenticated and holds one of the route's roles, whose path
 * parameters are valid ids and whose body (if any) was read in full, and
 * answers with exactly one srv_reply_* call.
 */
#ifndef TELLER_SERVER_H
#define TELLER_SERVER_H

#include <teller/teller.h>
#include <teller/customer.h>
#include <teller/mask.h>
#include <teller/llm_backend.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* ---- the route table (router.c) ------------------------------------------ */

enum srv_method {
    SRV_GET = 1 << 0,
    SRV_POST = 1 << 1,
    SRV_DELETE = 1 << 2,
};

/* Whose data a path's {id} names, for the customer role: a customer id that
 * must be the caller's own, or an account id whose owner must be (checked by
 * the handler, which reads the owner). Another customer's id answers 404,
 * exactly like an id that does not exist, so ids cannot be probed. */
enum srv_scope {
    SRV_SCOPE_NONE = 0,
    SRV_SCOPE_CUSTOMER = 1,
    SRV_SCOPE_ACCOUNT = 2,
};

enum srv_body {
    SRV_BODY_NONE = 0,   /* a body is refused (400) */
    SRV_BODY_JSON = 1,   /* application/json, checked strictly by srv_json_body */
    SRV_BODY_INGEST = 2, /* text/csv or application/x-ndjson, spooled to a temp file */
};

/* Roles mask 0: a public route, answered without a token. */
#define SRV_PUBLIC 0u

struct srv_req;
struct srv_refusal;

struct srv_route {
    enum srv_method method;
    const char *path;      /* "/v1/customers/{id}": literal segments and {name} parameters */
    unsigned roles;        /* enum tl_role mask allowed; SRV_PUBLIC for none needed */
    enum srv_scope scope;  /* what {id} names, for customer principals */
    int (*handler)(struct srv_req *r);
    const char *summary;   /* one line: the OpenAPI summary */
    const char *schema;    /* request body schema name in docs/openapi.yaml, or NULL */
    enum srv_body body;
    const char *query;     /* accepted query parameters, comma-separated, or NULL */
    const char *audit;     /* audit action of a customer-data read, or NULL */
    bool hidden_errors;    /* internal failures answer 503 (health probes) rather than 500 */
};

extern const struct srv_route srv_routes[];
extern const size_t srv_n_routes;

#define SRV_MAX_PARAMS 2
#define SRV_PARAM_MAX 65

/* Finds the route for method and path. Path parameters (at most
 * SRV_MAX_PARAMS, each 1-64 bytes, copied into params) must look like ids.
 * Returns the route's index, -1 when no path matches (404), or -2 when the
 * path matches but not the method (405; *allowed gets the methods that do). */
int srv_route_match(const char *method, const char *path, char params[][SRV_PARAM_MAX],
                    size_t *n_params, unsigned *allowed);

/* "GET", "POST", "DELETE" for a method bit. */
const char *srv_method_name(enum srv_method m);

/* The route table as JSON for `teller serve --print-routes --json`: an array
 * of {method, path, roles:[...], public, customer_scoped, scope, summary,
 * schema, query:[...], audit}. New reference. */
json_t *srv_routes_json(void);

/* ---- the server ------------------------------------------------------------ */

struct srv_metrics;
struct srv_ratelimit;
struct srv_conn;

struct srv {
    const tl_config *cfg;
    struct MHD_Daemon *daemon;
    tl_jwt_verifier *jwt; /* NULL: JWTs never authenticate */
    struct srv_metrics *metrics;
    struct srv_ratelimit *rl; /* NULL: no rate limit */
    const tl_masker *masker;  /* PII masker of every log line (mask.h) */

    /* limits, from the configuration */
    uint64_t max_body_bytes;
    int64_t timeout_s;
    unsigned threads;

    /* one tl_ctx per worker thread (a store is one connection), opened on
     * the thread's first request and closed at shutdown */
    pthread_key_t ctx_key;
    pthread_mutex_t ctx_lock;
    tl_ctx **ctxs;
    size_t n_ctxs, cap_ctxs;

    /* connections, watched by the reaper for clients too slow to finish */
    pthread_mutex_t conn_lock;
    struct srv_conn *conns;
    pthread_t reaper;
    pthread_cond_t reaper_cond;
    bool reaper_running;

    /* one ingest at a time: bulk loads hold the store's write lock */
    pthread_mutex_t ingest_lock;
    /* every audit row is written by one thread, in batches (auditq.c) */
    struct srv_auditq *auditq;
    /* API keys verified lately (keycache.c) */
    struct srv_keycache *keycache;
    /* the models routes score with, loaded once (models.c) */
    struct srv_models *models;
    /* the live fraud engine, one behind a lock (fraud.c) */
    struct srv_fraud *fraud;
    /* the LLM backend of the /v1/chat/completions routes; NULL when
     * llm.backend = none (routes_llm.c) */
    struct tl_llm *llm;

    atomic_bool stopping; /* tell the reaper to end */
    atomic_bool draining; /* SIGTERM: finish what is in flight, close keep-alives */
    atomic_int in_flight; /* requests between their first byte handled and their end */

    char boot_id[9]; /* 8 hex: request ids are BOOT-SEQ */
    atomic_uint_fast64_t seq;
};

/* ---- keycache.c: API keys verified lately ----
 * A verified key is trusted without the store for this long (and never past
 * its expiry); a revocation made elsewhere shows within it. */
#define SRV_KEYCACHE_MS 1000
struct srv_keycache *srv_keycache_new(void);
void srv_keycache_free(struct srv_keycache *c);
/* true and *who filled when token was verified less than SRV_KEYCACHE_MS ago */
bool srv_keycache_get(struct srv_keycache *c, const char *token, size_t len, int64_t now_ms,
                      struct tl_principal *who);
void srv_keycache_put(struct srv_keycache *c, const char *token, size_t len, int64_t now_ms,
                      int64_t key_expires_ms, const struct tl_principal *who);
/* Forgets every key (a revocation through this server). */
void srv_keycache_clear(struct srv_keycache *c);

/* ---- models.c: the champion models, loaded once and shared ----
 * srv_models_credit gives the credit champion with a reference the caller
 * releases with srv_model_release; a promotion made elsewhere is seen
 * within a second. TL_ENOTFOUND when the task has no champion. */
struct srv_models;
struct srv_model_ref;
struct srv_models *srv_models_new(void);
void srv_models_free(struct srv_models *m);
int srv_models_credit(struct srv *s, tl_ctx *ctx, struct srv_model_ref **out, tl_err *err);
const struct tl_credit_model *srv_model_credit(const struct srv_model_ref *ref);
void srv_model_release(struct srv_model_ref *ref);

/* ---- fraud.c: the live fraud engine ----
 * srv_fraud_new reads the fraud.* configuration (TL_EINVAL naming the key);
 * srv_fraud_start builds the engine with the champion and warms its state
 * up (state file, then the store), failing only on what the configuration
 * got wrong (a rule that does not parse): without a champion the engine is
 * built on the first fraud request. srv_fraud_acquire gives the engine,
 * current with the champion, with its lock held until srv_fraud_release
 * (TL_ENOTFOUND when the task has no champion; the lock is not held on
 * error). srv_fraud_save writes the state file, if configured, at shutdown. */
struct srv_fraud;
int srv_fraud_new(const tl_config *cfg, struct srv_fraud **out, tl_err *err);
void srv_fraud_free(struct srv_fraud *f);
int srv_fraud_start(struct srv_fraud *f, tl_ctx *ctx, tl_err *err);
int srv_fraud_acquire(struct srv_fraud *f, tl_ctx *ctx, tl_fraud_engine **engine, tl_err *err);
void srv_fraud_release(struct srv_fraud *f);
int srv_fraud_save(struct srv_fraud *f, tl_err *err);

/* Runs the server on cfg until SIGTERM or SIGINT, then drains and returns 0;
 * on a start-up failure returns a TL_E* code with err filled. announce (may
 * be NULL) is called once listening, with the bound address "HOST:PORT". */
int srv_run(const tl_config *cfg, void (*announce)(void *ud, const char *addr), void *ud,
            tl_err *err);

/* This thread's context, opened on first use. NULL with err filled when the
 * store cannot be opened. */
tl_ctx *srv_thread_ctx(struct srv *s, tl_err *err);

/* Closes this thread's context after a store failure, so the next request
 * opens a fresh connection. */
void srv_thread_ctx_drop(struct srv *s);

/* Connection tracking for the reaper (server.c), driven by http.c. */
enum srv_conn_phase {
    SRV_CONN_WAITING = 0,  /* awaiting (the rest of) a request's headers */
    SRV_CONN_UPLOADING = 1, /* headers in; body arriving */
    SRV_CONN_WORKING = 2,  /* the request is being handled or answered */
};
void srv_conn_set_phase(struct MHD_Connection *c, enum srv_conn_phase phase);
void srv_conn_add_bytes(struct MHD_Connection *c, size_t n);

/* ---- requests (http.c) ---------------------------------------------------- */

enum srv_audit_state {
    SRV_AUDIT_NONE = 0,   /* no row asked for */
    SRV_AUDIT_QUEUED = 1, /* waiting for the writer */
    SRV_AUDIT_DONE = 2,   /* written, or failed: audit_rc says */
};

struct srv_req {
    struct srv *srv;
    struct MHD_Connection *conn;
    const struct srv_route *route; /* NULL until matched */
    int route_index;               /* -1 when unmatched */
    char method[8];
    char params[SRV_MAX_PARAMS][SRV_PARAM_MAX];
    size_t n_params;
    char request_id[65];
    struct tl_principal who; /* role TL_ROLE_NONE on public routes */
    tl_ctx *ctx;             /* this thread's; set for authenticated routes, NULL on public ones */
    int64_t start_ns;

    /* the body */
    char *body; /* SRV_BODY_JSON: the bytes, NUL-terminated */
    size_t body_len, body_cap;
    FILE *spool; /* SRV_BODY_INGEST: an unlinked temp file */
    enum tl_format format;
    uint64_t body_bytes;    /* received so far */
    uint64_t discarded;     /* received past a limit and dropped */
    int body_error;         /* an error found while receiving: answered at the end */
    struct srv_refusal *pending; /* a refusal decided on the first call, answered on the last */

    /* the audit row (auditq.c): queued, then written by the writer thread */
    enum srv_audit_state audit_state;
    bool audit_waits;             /* the thread waits; else the connection is suspended */
    bool audit_suspended;         /* this thread's own record that it is (the writer
                                     changes audit_state, so it cannot say) */
    struct tl_audit_event audit_ev; /* borrows audit_resource and this request's strings */
    char audit_resource[128];
    char audit_customer[SRV_PARAM_MAX];
    json_t *audit_answer;         /* the answer held back until the row commits */
    int audit_rc;                 /* the batch's result, once DONE */
    tl_err audit_err;

    unsigned status; /* what was answered; 0 when nothing was */
    bool store_failed; /* the handler hit a store error: counted, context renewed */
};

/* The MHD callbacks (http.c). */
enum MHD_Result srv_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls);
void srv_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe);

/* Answers with body (a reference stolen, NULL allowed for 204) as JSON.
 * Returns 0, or -1 when the response could not be queued. */
int srv_reply_json(struct srv_req *r, unsigned status, json_t *body);

/* Answers {"error":{"code","message","field"}}; field may be NULL. */
int srv_reply_error(struct srv_req *r, unsigned status, const char *code, const char *field,
                    const char *fmt, ...) TL_PRINTF(5, 6);

/* Answers a library error with the status its code maps to; internal
 * failures answer without their details, which go to the log. */
int srv_reply_tl(struct srv_req *r, int rc, const tl_err *err, const char *field);

/* Answers text (copied) with a content type. */
int srv_reply_text(struct srv_req *r, unsigned status, const char *content_type, const char *text,
                   size_t len);

/* The HTTP status a TL_E* code maps to. */
unsigned srv_status_of(int rc);

/* A query parameter (decoded by MHD), or NULL. */
const char *srv_query(struct srv_req *r, const char *name);

/* A request header, or NULL. */
const char *srv_header(struct srv_req *r, const char *name);

/* Strict check of a JSON object body against fields: unknown members and
 * wrong types answer 400 naming the field. Returns 0 when the body passes,
 * or -1 after answering. */
struct srv_field {
    const char *name;
    json_type type; /* JSON_STRING, JSON_INTEGER, JSON_TRUE (any boolean), ... */
    bool required;
};
int srv_json_body(struct srv_req *r, const struct srv_field *fields, json_t **out);

/* Appends the audit row of an action, as this request's principal, and
 * waits on this thread until it is committed. Returns 0, or -1 after
 * answering 500 (503 while shutting down). */
int srv_audit(struct srv_req *r, const char *action, const char *customer_id, const char *details);
/* srv_audit for a decision: the row also names the model version and the
 * digest of the inputs it decided on. */
int srv_audit_decision(struct srv_req *r, const char *action, const char *customer_id,
                       const char *details, const char *model_version, const char *inputs_digest);

/* Answers a customer-data read with body (a reference stolen) once its audit
 * row is committed: the connection is suspended meanwhile and the thread
 * goes on with other connections. When the row cannot be written, the
 * answer is 500 and body is dropped: an unjournaled read is never served.
 * Returns 0, or -1 when it could not answer. */
int srv_audit_reply(struct srv_req *r, const char *action, const char *customer_id, json_t *body);

/* Names the request this thread is working on (NULL: none), so that the
 * log filter adds its id to every library log line written meanwhile. */
void srv_log_context(const char *request_id);

/* A JSON log line with this request's id (module "http"). */
void srv_log(struct srv_req *r, enum tl_log_level level, const char *fmt, ...) TL_PRINTF(3, 4);

/* ---- the audit writer (auditq.c) ------------------------------------------ */

/* The most rows queued, and so the largest batch one commit writes. */
#define SRV_AUDIT_QUEUE 512

/* Starts the writer with its own store connection. */
int srv_auditq_start(struct srv *s, tl_err *err);
/* Writes everything queued, resumes those requests, then stops the writer;
 * later submissions fail. */
void srv_auditq_stop(struct srv *s);
/* Queues r's audit_ev (waiting for room when the queue is full). wait: block
 * until its row is written (audit_state DONE); else suspend r's connection,
 * which the writer resumes when done. -1 when the writer has stopped:
 * nothing queued, nothing suspended. On r's thread, inside its handler. */
int srv_auditq_submit(struct srv_req *r, bool wait);

/* ---- auth (auth.c) ---------------------------------------------------------- */

/* Fills r->who from the Authorization header. TL_EAUTH with the reason when
 * it is missing, malformed or does not verify. */
int srv_authenticate(struct srv_req *r, tl_err *err);

/* ---- metrics (metrics.c) ------------------------------------------------------ */

enum srv_counter {
    SRV_STORE_ERRORS = 0,
    SRV_RATE_LIMITED,
    SRV_SLOW_CLIENTS_CUT,
    SRV_AUDIT_APPENDS,
    SRV_AUTH_FAILURES,
    SRV_N_COUNTERS
};

struct srv_metrics *srv_metrics_new(size_t n_routes);
void srv_metrics_free(struct srv_metrics *m);
/* route_index -1: requests that matched no route. */
void srv_metrics_observe(struct srv_metrics *m, int route_index, const char *method, unsigned status,
                         int64_t duration_ns);
void srv_metrics_count(struct srv_metrics *m, enum srv_counter c);
void srv_metrics_gauge_connections(struct srv_metrics *m, int delta);
/* The Prometheus text exposition (format 0.0.4), malloc'd; NULL when out of
 * memory. in_flight is the current number of requests. */
char *srv_metrics_render(const struct srv_metrics *m, int in_flight, size_t *len);

/* ---- rate limiting (ratelimit.c) ---------------------------------------------- */

/* rate_per_s 0 turns limiting off (returns NULL). */
struct srv_ratelimit *srv_ratelimit_new(double rate_per_s, double burst);
void srv_ratelimit_free(struct srv_ratelimit *rl);
/* Takes a token from subject's bucket. false when empty, with *retry_after_s
 * the whole seconds until one is back (at least 1). */
bool srv_ratelimit_take(struct srv_ratelimit *rl, const char *subject, int64_t now_ns,
                        int64_t *retry_after_s);

/* ---- handlers (routes_*.c) ------------------------------------------------------- */

int srv_h_index(struct srv_req *r);
int srv_h_healthz(struct srv_req *r);
int srv_h_readyz(struct srv_req *r);
int srv_h_metrics(struct srv_req *r);
int srv_h_customers_list(struct srv_req *r);
int srv_h_customer_get(struct srv_req *r);
int srv_h_customer_accounts(struct srv_req *r);
int srv_h_customer_transactions(struct srv_req *r);
int srv_h_customer_risk_profile(struct srv_req *r);
int srv_h_customer_advice(struct srv_req *r);
int srv_h_customer_profile(struct srv_req *r);
int srv_h_segments(struct srv_req *r);
int srv_h_customer_recommendations(struct srv_req *r);
int srv_h_interaction_create(struct srv_req *r);
int srv_h_account_get(struct srv_req *r);
int srv_h_account_transactions(struct srv_req *r);
int srv_h_products_list(struct srv_req *r);
int srv_h_product_get(struct srv_req *r);
int srv_h_ingest(struct srv_req *r);
int srv_h_keys_list(struct srv_req *r);
int srv_h_key_create(struct srv_req *r);
int srv_h_key_revoke(struct srv_req *r);
int srv_h_config(struct srv_req *r);
int srv_h_credit_score(struct srv_req *r);
int srv_h_application_create(struct srv_req *r);
int srv_h_transaction_create(struct srv_req *r);
int srv_h_alerts_list(struct srv_req *r);
int srv_h_alert_get(struct srv_req *r);
int srv_h_alert_resolve(struct srv_req *r);

/* ---- routes_llm.c: OpenAI-compatible LLM serving ----
 * srv_llm_open opens the backend llm.* configures (s->llm NULL for none:
 * the routes answer 503); srv_llm_close after the daemon has stopped. */
int srv_llm_open(struct srv *s, tl_err *err);
void srv_llm_close(struct srv *s);
int srv_h_llm_chat(struct srv_req *r);
int srv_h_llm_complete(struct srv_req *r);
int srv_h_llm_models(struct srv_req *r);

#endif
