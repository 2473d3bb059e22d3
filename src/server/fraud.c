/*
 * fraud.c - the server's live fraud engine: one tl_fraud_engine deciding
 * every card payment the server is sent, with the fraud champion.
 *
 * One engine, one lock. The stream state is the card's and terminal's
 * recent history: every decision reads it and adds to it, so decisions are
 * taken one at a time (microseconds each), in arrival order, and the
 * payment is stored under the same lock, so that two payments of one card
 * never race to open two alerts.
 *
 * The model. The champion is loaded once and, at most once a second, the
 * registry is asked whether it is still the champion (as models.c does for
 * credit). A new champion trained with the same stream configuration
 * (windows, label delay, lateness) takes over the state as it is; one with
 * another configuration needs a new state, rebuilt by replaying the store.
 *
 * Warm-up. The features of a payment depend on the card's and terminal's
 * history, so an engine starting empty would see every card as new. At
 * start (or on the first fraud request, when the champion appears later)
 * the state is restored from fraud.state_file when there is one, then the
 * store's card payments are replayed from the snapshot's watermark; without
 * a state file from the newest payment minus everything a feature can look
 * back (longest window + label delay + lateness). Labels given since the
 * snapshot (alerts resolved meanwhile) are applied again. At a graceful
 * shutdown the state is written to fraud.state_file (atomically: a
 * temporary file renamed over it).
 *
 * Rules. fraud.rules_file is compiled when the engine is built: a rule that
 * does not parse stops `teller serve` with the rule's position.
 */
#include "server.h"

#include <teller/fraud.h>
#include <teller/fraud_alerts.h>
#include <teller/registry.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECHECK_MS 1000
/* The most resolved alerts whose labels a restart applies again. */
#define RELABEL_MAX 10000

struct srv_fraud {
    pthread_mutex_t lock; /* everything below */
    struct tl_fraud_engine_opts opts;
    char *rules_path; /* NULL: no rules */
    char *state_path; /* NULL: no state file */
    bool state_used;  /* the state file is read at the first warm-up only */

    tl_fraud_model *model; /* the champion the engine decides with */
    char id[TL_MODEL_ID_MAX];
    char checksum[65];
    int64_t checked_ms;
    tl_fraud_engine *engine;
};

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static int threshold(const tl_config *cfg, const char *key, double *out, tl_err *err)
{
    const char *v = tl_config_get(cfg, key);
    *out = 0;
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || *end || !isfinite(d) || d <= 0 || d > 1)
        return tl_err_set(err, TL_EINVAL, "%s = \"%s\" must be a score above 0 and at most 1",
                          key, v);
    *out = d;
    return 0;
}

int srv_fraud_new(const tl_config *cfg, struct srv_fraud **out, tl_err *err)
{
    struct tl_fraud_engine_opts o = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    const char *reasons = tl_config_get(cfg, "fraud.reasons");
    if (!reasons || !*reasons || strcmp(reasons, "shap") == 0)
        o.reasons = TL_FRAUD_REASONS_SHAP;
    else if (strcmp(reasons, "exact") == 0)
        o.reasons = TL_FRAUD_REASONS_EXACT;
    else if (strcmp(reasons, "approx") == 0)
        o.reasons = TL_FRAUD_REASONS_APPROX;
    else
        return tl_err_set(err, TL_EINVAL, "fraud.reasons = \"%s\" must be shap, exact or approx",
                          reasons);
    int rc;
    if ((rc = threshold(cfg, "fraud.review_threshold", &o.review_threshold, err)) < 0 ||
        (rc = threshold(cfg, "fraud.block_threshold", &o.block_threshold, err)) < 0)
        return rc;
    if (o.review_threshold > 0 && o.block_threshold > 0 && o.review_threshold > o.block_threshold)
        return tl_err_set(err, TL_EINVAL,
                          "fraud.review_threshold (%g) is above fraud.block_threshold (%g)",
                          o.review_threshold, o.block_threshold);
    const char *rules = tl_config_get(cfg, "fraud.rules_file");
    if (rules && *rules && access(rules, R_OK) != 0)
        return tl_err_set(err, TL_EIO, "fraud.rules_file %s cannot be read: %s", rules,
                          strerror(errno));
    struct srv_fraud *f = calloc(1, sizeof *f);
    if (!f)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    f->rules_path = dup_or_null(rules);
    f->state_path = dup_or_null(tl_config_get(cfg, "fraud.state_file"));
    if ((rules && *rules && !f->rules_path) ||
        (tl_config_get(cfg, "fraud.state_file") && *tl_config_get(cfg, "fraud.state_file") &&
         !f->state_path)) {
        srv_fraud_free(f);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    o.rules_path = f->rules_path;
    f->opts = o;
    pthread_mutex_init(&f->lock, NULL);
    *out = f;
    return 0;
}

void srv_fraud_free(struct srv_fraud *f)
{
    if (!f)
        return;
    tl_fraud_engine_free(f->engine);
    tl_fraud_model_free(f->model);
    free(f->rules_path);
    free(f->state_path);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* ---- warm-up ---------------------------------------------------------------- */

struct replay {
    tl_fraud_engine *engine;
    uint64_t taken, held, skipped;
};

static int replay_one(void *ud, const struct tl_fraud_tx *tx, tl_err *err)
{
    struct replay *rp = ud;
    bool duplicate = false;
    tl_err e2 = {0};
    /* the state is all a warm-up needs: no scores, reasons or rules */
    int rc = tl_fraud_engine_take(rp->engine, tx, &duplicate, &e2);
    if (rc == TL_ENOMEM) {
        *err = e2;
        return rc;
    }
    /* too late to place, refused by the clock checks, or a duplicate id:
     * history the state can do without */
    if (rc < 0)
        rp->skipped++;
    else if (duplicate)
        rp->held++; /* already in the restored state */
    else
        rp->taken++;
    return 0;
}

/* The labels analysts gave since since_ms (alerts resolved meanwhile, by
 * this server before a crash or by another one), applied again: the state
 * file predates them. */
static void relabel_since(struct srv_fraud *f, tl_ctx *ctx, int64_t since_ms)
{
    static const char *const resolved[] = {"confirmed_fraud", "false_positive"};
    tl_stream *st = tl_fraud_engine_stream(f->engine);
    size_t n_labels = 0;
    for (size_t k = 0; k < 2; k++) {
        json_t *list = NULL;
        tl_err err = {0};
        if (tl_fraud_alerts_list(ctx, resolved[k], RELABEL_MAX, &list, &err) < 0) {
            tl_log(TL_LOG_WARN, "fraud", "labels since the state file: %s", err.msg);
            continue;
        }
        size_t i;
        json_t *a;
        json_array_foreach(list, i, a)
        {
            const char *at = json_string_value(json_object_get(a, "resolved_at"));
            int64_t ms = 0;
            if (!at || tl_time_parse(at, strlen(at), &ms, &err) < 0 || ms < since_ms)
                continue;
            json_t *full = NULL;
            if (tl_fraud_alert_get(ctx, json_string_value(json_object_get(a, "id")), &full,
                                   &err) < 0)
                continue;
            size_t j;
            json_t *t;
            json_array_foreach(json_object_get(full, "transactions"), j, t)
            {
                tl_err e2 = {0};
                if (tl_stream_label(st, json_string_value(json_object_get(t, "id")), k == 0 ? 1 : 0,
                                    &e2) == 0)
                    n_labels++;
            }
            json_decref(full);
        }
        json_decref(list);
    }
    if (n_labels)
        tl_log(TL_LOG_INFO, "fraud", "applied %zu labels given since the state file was written",
               n_labels);
}

/* Restores the state file into f->engine when there is one that fits;
 * true with *from_ms (where the replay starts) and *written_ms (when the
 * file was written) when it did. */
static bool restore_state(struct srv_fraud *f, int64_t *from_ms, int64_t *written_ms)
{
    if (!f->state_path || f->state_used)
        return false;
    f->state_used = true;
    FILE *in = fopen(f->state_path, "rb");
    if (!in) {
        if (errno != ENOENT)
            tl_log(TL_LOG_WARN, "fraud", "fraud.state_file %s cannot be read (%s): rebuilding "
                   "the state from the store", f->state_path, strerror(errno));
        return false;
    }
    struct stat sb;
    *written_ms = fstat(fileno(in), &sb) == 0 ? (int64_t)sb.st_mtime * 1000 : 0;
    tl_stream *s = NULL;
    tl_err err = {0};
    int rc = tl_stream_restore(in, &s, &err);
    fclose(in);
    if (rc == 0 && (rc = tl_fraud_engine_set_stream(f->engine, s, &err)) < 0)
        tl_stream_free(s);
    if (rc < 0) {
        tl_log(TL_LOG_WARN, "fraud", "fraud.state_file %s is not used (%s): rebuilding the state "
               "from the store", f->state_path, err.msg);
        return false;
    }
    struct tl_stream_watermark wm;
    tl_stream_watermark(tl_fraud_engine_stream(f->engine), &wm);
    *from_ms = wm.any ? wm.replay_from_ts_s * 1000 : INT64_MIN;
    return true;
}

/* Brings f->engine's fresh state up to the store's present. */
static int warm_up(struct srv_fraud *f, tl_ctx *ctx, tl_err *err)
{
    int64_t t0 = tl_time_mono_ns(), from_ms = INT64_MIN, written_ms = 0;
    bool restored = restore_state(f, &from_ms, &written_ms);
    if (!restored) {
        struct tl_stream_config cfg;
        tl_fraud_model_stream_config(f->model, &cfg);
        int64_t newest = INT64_MIN;
        int rc = tl_fraud_store_newest_ms(ctx, &newest, err);
        if (rc < 0)
            return rc;
        if (newest == INT64_MIN)
            return 0; /* no card payment stored yet: nothing to remember */
        int64_t back_s = cfg.window_s[cfg.n_windows > 0 ? cfg.n_windows - 1 : 0] +
                         cfg.label_delay_s + cfg.max_lateness_s;
        from_ms = newest - back_s * 1000;
    }
    struct replay rp = {.engine = f->engine};
    int rc = tl_fraud_scan_store(ctx, from_ms, replay_one, &rp, err);
    if (rc < 0)
        return tl_err_prefix(err, "replaying the store into the fraud engine");
    if (restored)
        relabel_since(f, ctx, written_ms - 1000);
    char from[32] = "the beginning";
    if (from_ms != INT64_MIN)
        tl_time_format(from_ms, from, sizeof from);
    tl_log(TL_LOG_INFO, "fraud",
           "fraud engine warmed up%s: %llu payments replayed from %s (%llu already held, %llu "
           "skipped) in %.1f ms",
           restored ? " from its state file" : "", (unsigned long long)rp.taken, from,
           (unsigned long long)rp.held, (unsigned long long)rp.skipped,
           (double)(tl_time_mono_ns() - t0) / 1e6);
    return 0;
}

/* ---- the champion ---------------------------------------------------------------- */

/* Makes f's engine decide with the current champion, warmed up. Lock held.
 * *fatal (optional) is set when the failure is the configuration's (the
 * rules), which must stop a start. */
static int ensure(struct srv_fraud *f, tl_ctx *ctx, bool *fatal, tl_err *err)
{
    int64_t now = tl_time_now_ms();
    if (f->engine && now - f->checked_ms < RECHECK_MS)
        return 0;
    struct tl_model_info info = {0};
    int rc = tl_registry_champion(ctx, "fraud", &info, err);
    if (rc < 0)
        return rc;
    if (f->engine && strcmp(f->id, info.id) == 0 && strcmp(f->checksum, info.checksum) == 0) {
        f->checked_ms = now;
        tl_model_info_clear(&info);
        return 0;
    }
    tl_fraud_model *m = NULL;
    if ((rc = tl_fraud_model_load(ctx, info.id, &m, err)) < 0) {
        tl_model_info_clear(&info);
        return rc;
    }
    bool swapped = false;
    if (f->engine) {
        tl_err e2 = {0};
        rc = tl_fraud_engine_set_model(f->engine, m, &e2);
        if (rc == 0) {
            swapped = true;
            tl_log(TL_LOG_INFO, "fraud", "fraud champion %s takes over from %s, state kept",
                   info.id, f->id);
        } else if (rc != TL_EINVAL) {
            *err = e2;
            tl_fraud_model_free(m);
            tl_model_info_clear(&info);
            return rc;
        }
    }
    if (!swapped) {
        /* a first engine, or a champion with other windows: a new state */
        tl_fraud_engine *e = NULL;
        if ((rc = tl_fraud_engine_new(m, &f->opts, &e, err)) < 0) {
            if (fatal)
                *fatal = true;
            tl_fraud_model_free(m);
            tl_model_info_clear(&info);
            return rc;
        }
        tl_fraud_engine *old_e = f->engine;
        tl_fraud_model *old_m = f->model;
        f->engine = e;
        f->model = m;
        if ((rc = warm_up(f, ctx, err)) < 0) {
            /* back to the previous engine (or none): never half a state */
            f->engine = old_e;
            f->model = old_m;
            tl_fraud_engine_free(e);
            tl_fraud_model_free(m);
            tl_model_info_clear(&info);
            return rc;
        }
        if (old_e)
            tl_log(TL_LOG_INFO, "fraud", "fraud champion %s has other stream windows than %s: "
                   "state rebuilt from the store", info.id, f->id);
        tl_fraud_engine_free(old_e);
        tl_fraud_model_free(old_m);
    } else {
        tl_fraud_model_free(f->model);
        f->model = m;
    }
    snprintf(f->id, sizeof f->id, "%s", info.id);
    snprintf(f->checksum, sizeof f->checksum, "%s", info.checksum);
    f->checked_ms = now;
    tl_model_info_clear(&info);
    return 0;
}

int srv_fraud_start(struct srv_fraud *f, tl_ctx *ctx, tl_err *err)
{
    bool fatal = false;
    pthread_mutex_lock(&f->lock);
    int rc = ensure(f, ctx, &fatal, err);
    pthread_mutex_unlock(&f->lock);
    if (rc == TL_ENOTFOUND && !fatal) {
        tl_log(TL_LOG_INFO, "fraud", "no fraud model is champion yet: POST /v1/transactions "
               "answers 503 until `teller fraud train` registers one");
        tl_err_clear(err);
        return 0;
    }
    if (rc < 0 && !fatal) {
        /* a champion that cannot be loaded: the rest of the server still
         * serves, and each fraud request says what is wrong */
        tl_log(TL_LOG_ERROR, "fraud", "the fraud engine is not ready: %s", err->msg);
        tl_err_clear(err);
        return 0;
    }
    return rc < 0 ? tl_err_prefix(err, "fraud engine") : 0;
}

int srv_fraud_acquire(struct srv_fraud *f, tl_ctx *ctx, tl_fraud_engine **engine, tl_err *err)
{
    pthread_mutex_lock(&f->lock);
    int rc = ensure(f, ctx, NULL, err);
    if (rc < 0) {
        pthread_mutex_unlock(&f->lock);
        return rc;
    }
    *engine = f->engine;
    return 0;
}

void srv_fraud_release(struct srv_fraud *f)
{
    pthread_mutex_unlock(&f->lock);
}

int srv_fraud_save(struct srv_fraud *f, tl_err *err)
{
    if (!f || !f->state_path)
        return 0;
    pthread_mutex_lock(&f->lock);
    if (!f->engine) {
        pthread_mutex_unlock(&f->lock);
        return 0;
    }
    size_t n = strlen(f->state_path) + 32;
    char *tmp = malloc(n);
    int rc = 0;
    if (!tmp) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, n, "%s.tmp.%ld", f->state_path, (long)getpid());
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        rc = tl_err_set(err, TL_EIO, "fraud.state_file: cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    rc = tl_stream_snapshot(tl_fraud_engine_stream(f->engine), out, err);
    if (rc == 0 && (fflush(out) != 0 || fsync(fileno(out)) != 0))
        rc = tl_err_set(err, TL_EIO, "fraud.state_file: writing %s: %s", tmp, strerror(errno));
    if (fclose(out) != 0 && rc == 0)
        rc = tl_err_set(err, TL_EIO, "fraud.state_file: closing %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, f->state_path) != 0)
        rc = tl_err_set(err, TL_EIO, "fraud.state_file: cannot rename %s to %s: %s", tmp,
                        f->state_path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    else
        tl_log(TL_LOG_INFO, "fraud", "fraud engine state saved to %s", f->state_path);
out:
    free(tmp);
    pthread_mutex_unlock(&f->lock);
    return rc;
}
