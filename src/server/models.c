/*
 * models.c - the models the server scores with, loaded once and shared.
 *
 * Why. Loading a credit model reads its artifact from the store, checks the
 * checksum and parses every part: about 7 ms for a GBDT, against tens of
 * microseconds to score with it. So the champion is loaded on first use and
 * kept; every worker scores with the same copy (a loaded model is read-only).
 *
 * Freshness. At most once a second a request asks the registry which model
 * is the champion (one small query); when another process has promoted a
 * different model, or re-registered it with other bytes, the new one is
 * loaded and swapped in. Requests already scoring with the old one keep it
 * until they finish: each holds a reference.
 */
#include "server.h"

#include <teller/credit.h>
#include <teller/registry.h>

#include <stdatomic.h>
#include <string.h>

#define RECHECK_MS 1000

struct srv_model_ref {
    tl_credit_model *model;
    atomic_int refs;
};

struct srv_models {
    pthread_mutex_t lock;
    struct srv_model_ref *credit; /* the cache's own reference, or NULL */
    char id[TL_MODEL_ID_MAX];
    char checksum[65];
    int64_t checked_ms;
};

struct srv_models *srv_models_new(void)
{
    struct srv_models *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void srv_model_release(struct srv_model_ref *ref)
{
    if (ref && atomic_fetch_sub(&ref->refs, 1) == 1) {
        tl_credit_model_free(ref->model);
        free(ref);
    }
}

void srv_models_free(struct srv_models *m)
{
    if (!m)
        return;
    srv_model_release(m->credit);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

const tl_credit_model *srv_model_credit(const struct srv_model_ref *ref)
{
    return ref->model;
}

/* The cached champion with a reference for the caller, when it is fresh
 * (checked within RECHECK_MS) or when it is still the champion named by
 * info (then marked fresh again). NULL otherwise. */
static struct srv_model_ref *cached(struct srv_models *m, int64_t now,
                                    const struct tl_model_info *info)
{
    struct srv_model_ref *ref = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->credit) {
        bool fresh = info ? strcmp(m->id, info->id) == 0 && strcmp(m->checksum, info->checksum) == 0
                          : now - m->checked_ms < RECHECK_MS;
        if (fresh) {
            if (info)
                m->checked_ms = now;
            ref = m->credit;
            atomic_fetch_add(&ref->refs, 1);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return ref;
}

int srv_models_credit(struct srv *s, tl_ctx *ctx, struct srv_model_ref **out, tl_err *err)
{
    struct srv_models *m = s->models;
    int64_t now = tl_time_now_ms();
    if ((*out = cached(m, now, NULL)))
        return 0;
    struct tl_model_info info = {0};
    int rc = tl_registry_champion(ctx, "credit", &info, err);
    if (rc < 0)
        return rc;
    if ((*out = cached(m, now, &info))) {
        tl_model_info_clear(&info);
        return 0;
    }
    struct srv_model_ref *ref = calloc(1, sizeof *ref);
    if (!ref) {
        tl_model_info_clear(&info);
        return tl_err_set(err, TL_ENOMEM, "out of memory loading model %s", info.id);
    }
    if ((rc = tl_credit_model_load(ctx, info.id, &ref->model, err)) < 0) {
        free(ref);
        tl_model_info_clear(&info);
        return rc;
    }
    atomic_init(&ref->refs, 2); /* the cache's and the caller's */
    pthread_mutex_lock(&m->lock);
    struct srv_model_ref *old = m->credit;
    m->credit = ref;
    snprintf(m->id, sizeof m->id, "%s", info.id);
    snprintf(m->checksum, sizeof m->checksum, "%s", info.checksum);
    m->checked_ms = now;
    pthread_mutex_unlock(&m->lock);
    srv_model_release(old);
    tl_model_info_clear(&info);
    *out = ref;
    return 0;
}
