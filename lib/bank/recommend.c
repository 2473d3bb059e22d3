/*
 * recommend.c - the recommendation service (recommend.h): training from the
 * store into the registry, serving a customer's list under the rules,
 * recording feedback, and the temporal evaluation on the store.
 *
 * The artifact of a "recommend" model is one JSON document:
 *   {"format":"teller-recommend/1","cf":"ease","blend":0.6,
 *    "users":[customer ids],"items":[product ids],
 *    "cooc":{"n_users","count":[...],"pair":[...]},
 *    "cf_model":"<base64 safetensors, recsys.h>",
 *    "ranker":{standardization and shapes},"ranker_weights":"<base64 safetensors>"}
 * (no ranker members for a CF-only model).
 */
#include "recommend_internal.h"

#include <teller/audit.h>
#include <teller/datetime.h>
#include <teller/registry.h>

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TASK "recommend"
#define FORMAT "teller-recommend/1"
#define DAY_MS 86400000LL

/* ---- small helpers ------------------------------------------------------------- */

static void new_id(const char *prefix, char *buf, size_t size)
{
    unsigned char r[8];
    randombytes_buf(r, sizeof r);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(buf, size, "%s-%s", prefix, hex);
}

static char *b64(const uint8_t *buf, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(n);
    if (s)
        sodium_bin2base64(s, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static int unb64(const char *s, uint8_t **out, size_t *len, tl_err *err)
{
    size_t n = strlen(s), cap = n / 4 * 3 + 3;
    uint8_t *b = malloc(cap ? cap : 1);
    if (!b)
        return tl_err_set(err, TL_ENOMEM, "out of memory decoding the model");
    if (sodium_base642bin(b, cap, s, n, NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(b);
        return tl_err_set(err, TL_EPARSE, "recommend model: a blob is not base64");
    }
    *out = b;
    return 0;
}

/* recsys.h saves models to files only: a private temporary file between. */
static int cf_to_bytes(const tl_rec_model *m, uint8_t **out, size_t *len, tl_err *err)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/teller-rec-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "%s: cannot create a temporary file", path);
    close(fd);
    int rc = tl_rec_model_save(m, path, err);
    FILE *f = rc == 0 ? fopen(path, "rb") : NULL;
    if (rc == 0 && !f)
        rc = tl_err_set(err, TL_EIO, "%s: cannot read back the model", path);
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
        if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            rc = tl_err_set(err, TL_EIO, "%s: cannot read back the model", path);
        } else {
            *out = b;
            *len = (size_t)n;
        }
        fclose(f);
    }
    unlink(path);
    return rc;
}

static int cf_from_bytes(const uint8_t *b, size_t len, tl_rec_model **out, tl_err *err)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/teller-rec-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "%s: cannot create a temporary file", path);
    FILE *f = fdopen(fd, "wb");
    int rc = 0;
    if (!f || fwrite(b, 1, len, f) != len)
        rc = tl_err_set(err, TL_EIO, "%s: cannot write the model", path);
    if (f)
        fclose(f);
    else
        close(fd);
    if (rc == 0)
        rc = tl_rec_model_load(path, out, err);
    unlink(path);
    return rc;
}

static int32_t find_id(char **ids, int32_t n, const char *id)
{
    int32_t lo = 0, hi = n - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int d = strcmp(ids[mid], id);
        if (!d)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static bool sorted_ids(char **ids, int32_t n)
{
    for (int32_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) >= 0)
            return false;
    return true;
}

/* ---- a customer's facts ---------------------------------------------------------- */

struct cust_row {
    bool found;
    char birth[16];
    bool income_known;
    int64_t income;
};

static int on_cust(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct cust_row *c = ud;
    c->found = true;
    if (n >= 2) {
        if (v[0].type == TL_VAL_TEXT)
            snprintf(c->birth, sizeof c->birth, "%s", v[0].s);
        if (v[1].type == TL_VAL_INT)
            c->income = v[1].i, c->income_known = true;
    }
    return 1;
}

static int age_at(const char *birth, int64_t ms)
{
    int32_t bd;
    tl_err e = {0};
    if (!birth[0] || tl_date_parse(birth, strlen(birth), &bd, &e) < 0)
        return -1;
    return tl_age_years(bd, ms / DAY_MS);
}

struct facts_load {
    const struct rc_catalogue *c;
    struct rc_facts *f;
    int64_t as_of, cap_from, dismiss_from;
};

static int on_int(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    if (n >= 1 && v[0].type == TL_VAL_INT)
        *(int *)ud = (int)v[0].i;
    return 1;
}

static int on_held(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct facts_load *l = ud;
    if (n < 2 || !v[0].s || (v[1].type == TL_VAL_INT && v[1].i >= l->as_of))
        return 0;
    int32_t i = tl__rc_catalogue_find(l->c, v[0].s);
    if (i >= 0)
        l->f->held[i] = 1;
    return 0;
}

static int on_recent(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct facts_load *l = ud;
    if (n < 3 || !v[0].s || !v[1].s || v[2].i >= l->as_of)
        return 0;
    int32_t i = tl__rc_catalogue_find(l->c, v[0].s);
    if (i < 0)
        return 0;
    if (strcmp(v[1].s, "viewed") == 0 && v[2].i >= l->cap_from)
        l->f->shown[i]++;
    else if (strcmp(v[1].s, "dismissed") == 0 && v[2].i >= l->dismiss_from)
        l->f->dismissed[i] = 1;
    return 0;
}

int tl__rc_facts_load(tl_store *st, const struct rc_catalogue *c, const struct rc_rules_cfg *cfg,
                      const char *customer_id, int64_t as_of, struct rc_facts *f, tl_err *err)
{
    if (tl__rc_facts_alloc(f, c->n) < 0)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    tl_value id = TL_TEXT(customer_id);
    struct cust_row cr = {0};
    int rc = tl_store_exec(st, "SELECT birth_date, annual_income_minor FROM customers WHERE id = ?",
                           1, &id, on_cust, &cr, err);
    if (rc == 0 && !cr.found)
        rc = tl_err_set(err, TL_ENOTFOUND, "customer %s: not found", customer_id);
    struct facts_load l = {.c = c, .f = f, .as_of = as_of + 1,
                           .cap_from = as_of - (int64_t)cfg->cap_days * DAY_MS,
                           .dismiss_from = as_of - (int64_t)cfg->dismiss_days * DAY_MS};
    if (rc == 0) {
        f->age = age_at(cr.birth, as_of);
        f->income_known = cr.income_known;
        f->annual_income_minor = cr.income;
        tl_value p2[2] = {id, TL_INT(as_of + 1)};
        rc = tl_store_exec(st,
                           "SELECT profile FROM risk_profiles WHERE customer_id = ? AND created_ms < ?"
                           " ORDER BY created_ms DESC, id DESC LIMIT 1",
                           2, p2, on_int, &f->risk_profile, err);
    }
    if (rc == 0)
        rc = tl_store_exec(st,
                           "SELECT product_id, opened_ms FROM accounts WHERE customer_id = ?"
                           " AND product_id IS NOT NULL AND status = 'open'",
                           1, &id, on_held, &l, err);
    if (rc == 0)
        rc = tl_store_exec(st, "SELECT product_id, opened_ms FROM holdings WHERE customer_id = ?",
                           1, &id, on_held, &l, err);
    if (rc == 0) {
        int64_t from = l.cap_from < l.dismiss_from ? l.cap_from : l.dismiss_from;
        tl_value p2[2] = {id, TL_INT(from)};
        rc = tl_store_exec(st,
                           "SELECT product_id, event, ts_ms FROM interactions WHERE customer_id = ?"
                           " AND ts_ms >= ? AND event IN ('viewed', 'dismissed')",
                           2, p2, on_recent, &l, err);
    }
    if (rc < 0)
        tl__rc_facts_free(f);
    return rc;
}

/* ---- the artifact --------------------------------------------------------------------- */

struct rc_model {
    char id[TL_MODEL_ID_MAX];
    int cf_kind;
    double blend;      /* weight of the CF score */
    tl_rec_model *cf;
    rk_model *rk;      /* NULL: CF alone */
    char **users;      /* (n_users) sorted */
    int32_t n_users;
    char **items;      /* (n_items) sorted */
    int32_t n_items;
    int64_t co_users;
    int32_t *co_count; /* (n_items) */
    int32_t *co_pair;  /* (n_items, n_items) */
};

static void ids_free(char **v, int32_t n)
{
    for (int32_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void model_free(struct rc_model *m)
{
    if (!m)
        return;
    tl_rec_model_free(m->cf);
    tl__rk_free(m->rk);
    ids_free(m->users, m->n_users);
    ids_free(m->items, m->n_items);
    free(m->co_count);
    free(m->co_pair);
    free(m);
}

static json_t *ids_json(char **ids, int32_t n)
{
    json_t *a = json_array();
    for (int32_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(ids[i]));
    return a;
}

static int ids_load(const json_t *a, char ***out, int32_t *n, const char *what, tl_err *err)
{
    size_t m = json_array_size(a);
    if (m < 1 || m > 50000000)
        return tl_err_set(err, TL_EPARSE, "recommend model: no %s", what);
    char **v = calloc(m, sizeof *v);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "out of memory loading the model");
    for (size_t i = 0; i < m; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !(v[i] = strdup(s))) {
            ids_free(v, (int32_t)i);
            return tl_err_set(err, s ? TL_ENOMEM : TL_EPARSE, "recommend model: %s %zu is not a "
                                                              "string", what, i);
        }
    }
    if (!sorted_ids(v, (int32_t)m)) {
        ids_free(v, (int32_t)m);
        return tl_err_set(err, TL_EPARSE, "recommend model: %s are not in id order", what);
    }
    *out = v;
    *n = (int32_t)m;
    return 0;
}

static char *model_serialize(const struct rc_model *m, tl_err *err)
{
    uint8_t *cfb = NULL, *rkb = NULL;
    size_t cfn = 0, rkn = 0;
    json_t *rmeta = NULL;
    if (cf_to_bytes(m->cf, &cfb, &cfn, err) < 0)
        return NULL;
    if (m->rk && tl__rk_save(m->rk, &rmeta, &rkb, &rkn, err) < 0) {
        free(cfb);
        return NULL;
    }
    char *cfs = b64(cfb, cfn), *rks = rkb ? b64(rkb, rkn) : NULL;
    free(cfb);
    free(rkb);
    json_t *count = json_array(), *pair = json_array();
    for (int32_t i = 0; i < m->n_items; i++)
        json_array_append_new(count, json_integer(m->co_count[i]));
    for (int64_t i = 0; i < (int64_t)m->n_items * m->n_items; i++)
        json_array_append_new(pair, json_integer(m->co_pair[i]));
    json_t *o = json_pack("{s:s,s:s,s:f,s:o,s:o,s:{s:I,s:o,s:o},s:s}", "format", FORMAT, "cf",
                          tl_rec_kind_name(m->cf_kind), "blend", m->blend, "users",
                          ids_json(m->users, m->n_users), "items", ids_json(m->items, m->n_items),
                          "cooc", "n_users", (json_int_t)m->co_users, "count", count, "pair", pair,
                          "cf_model", cfs ? cfs : "");
    if (o && m->rk) {
        json_object_set_new(o, "ranker", rmeta);
        json_object_set_new(o, "ranker_weights", json_string(rks ? rks : ""));
        rmeta = NULL;
    }
    json_decref(rmeta);
    free(cfs);
    free(rks);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        tl_err_set(err, TL_ENOMEM, "out of memory saving the model");
    return s;
}

static int model_parse(const char *id, const char *bytes, size_t len, struct rc_model **out,
                       tl_err *err)
{
    json_error_t je;
    json_t *o = json_loadb(bytes, len, 0, &je);
    if (!o || strcmp(json_string_value(json_object_get(o, "format")) ?: "", FORMAT) != 0) {
        json_decref(o);
        return tl_err_set(err, TL_EPARSE, "model %s: not a recommendation artifact", id);
    }
    struct rc_model *m = calloc(1, sizeof *m);
    int rc = m ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory loading model %s", id);
    uint8_t *b = NULL;
    size_t bn = 0;
    if (rc == 0) {
        snprintf(m->id, sizeof m->id, "%s", id);
        m->cf_kind = tl_rec_kind_from_name(json_string_value(json_object_get(o, "cf")) ?: "");
        m->blend = json_number_value(json_object_get(o, "blend"));
        if (m->cf_kind < 0 || !(m->blend >= 0 && m->blend <= 1))
            rc = tl_err_set(err, TL_EPARSE, "model %s: bad cf or blend", id);
    }
    if (rc == 0)
        rc = ids_load(json_object_get(o, "users"), &m->users, &m->n_users, "users", err);
    if (rc == 0)
        rc = ids_load(json_object_get(o, "items"), &m->items, &m->n_items, "items", err);
    if (rc == 0) {
        json_t *co = json_object_get(o, "cooc");
        json_t *cnt = json_object_get(co, "count"), *pair = json_object_get(co, "pair");
        m->co_users = json_integer_value(json_object_get(co, "n_users"));
        if (json_array_size(cnt) != (size_t)m->n_items ||
            json_array_size(pair) != (size_t)m->n_items * (size_t)m->n_items)
            rc = tl_err_set(err, TL_EPARSE, "model %s: co-holding counts of the wrong size", id);
        else if (!(m->co_count = calloc((size_t)m->n_items, sizeof *m->co_count)) ||
                 !(m->co_pair = calloc((size_t)m->n_items * m->n_items, sizeof *m->co_pair)))
            rc = tl_err_set(err, TL_ENOMEM, "out of memory loading model %s", id);
        for (int32_t i = 0; rc == 0 && i < m->n_items; i++)
            m->co_count[i] = (int32_t)json_integer_value(json_array_get(cnt, (size_t)i));
        for (size_t i = 0; rc == 0 && i < json_array_size(pair); i++)
            m->co_pair[i] = (int32_t)json_integer_value(json_array_get(pair, i));
    }
    if (rc == 0)
        rc = unb64(json_string_value(json_object_get(o, "cf_model")) ?: "", &b, &bn, err);
    if (rc == 0)
        rc = cf_from_bytes(b, bn, &m->cf, err);
    free(b);
    b = NULL;
    if (rc == 0 && (tl_rec_model_n_items(m->cf) != m->n_items ||
                    tl_rec_model_n_users(m->cf) != m->n_users))
        rc = tl_err_set(err, TL_EPARSE, "model %s: the CF model's shape disagrees with its ids", id);
    if (rc == 0 && json_object_get(o, "ranker")) {
        rc = unb64(json_string_value(json_object_get(o, "ranker_weights")) ?: "", &b, &bn, err);
        if (rc == 0)
            rc = tl__rk_load(json_object_get(o, "ranker"), b, bn, &m->rk, err);
        free(b);
    }
    json_decref(o);
    if (rc < 0) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int model_champion(tl_ctx *ctx, struct rc_model **out, tl_err *err)
{
    char id[TL_MODEL_ID_MAX], *bytes = NULL;
    size_t len = 0;
    int rc = tl_registry_task_artifact(ctx, TASK, NULL, id, &bytes, &len, err);
    if (rc == TL_ENOTFOUND)
        return tl_err_set(err, TL_ENOTFOUND, "no recommendation model: train one with `teller "
                                             "recommend train`");
    if (rc < 0)
        return rc;
    rc = model_parse(id, bytes, len, out, err);
    free(bytes);
    return rc;
}

/* ---- scoring one customer ----------------------------------------------------------------- */

/* The blended score of every catalogue product (out[c->n]), and the CF
 * share of each (cf_share[c->n], may be NULL). hist: the customer's
 * positives as model item indices. */
static int score_customer(const struct rc_model *m, const struct rc_catalogue *c,
                          const int32_t *item_map, const int *item_cat, const float *pfeat,
                          int32_t user, const int32_t *hist, int64_t n_hist, const float *ufeat,
                          const uint8_t *held, float *out, float *cf_share, float *cf_only,
                          float *rk_only, tl_err *err)
{
    float *cf = malloc((size_t)(m->n_items > 0 ? m->n_items : 1) * sizeof *cf);
    float *rk = malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *rk);
    int rc = cf && rk ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory scoring");
    if (rc == 0)
        rc = tl_rec_score(m->cf, user, hist, n_hist, cf, err);
    if (rc == 0 && m->rk)
        rc = tl__rk_score(m->rk, user, ufeat, held, c->n, pfeat, item_cat, item_map, rk, err);
    if (rc == 0) {
        float lo = INFINITY, hi = -INFINITY;
        for (int32_t i = 0; i < c->n; i++)
            if (item_map[i] >= 0) {
                float v = cf[item_map[i]];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        double span = hi > lo ? (double)hi - lo : 1.0;
        double w = m->rk ? m->blend : 1.0;
        for (int32_t i = 0; i < c->n; i++) {
            double cn = item_map[i] >= 0 && isfinite(lo) ? ((double)cf[item_map[i]] - lo) / span : 0;
            double r = m->rk ? rk[i] : 0;
            double s = w * cn + (1 - w) * r;
            out[i] = (float)s;
            if (cf_share)
                cf_share[i] = s > 0 ? (float)(w * cn / s) : 0.0f;
            if (cf_only)
                cf_only[i] = item_map[i] >= 0 ? cf[item_map[i]] : -INFINITY;
            if (rk_only)
                rk_only[i] = (float)r;
        }
    }
    free(cf);
    free(rk);
    return rc;
}

struct catalogue_maps {
    int32_t *item_map; /* (c->n) catalogue -> model item, -1 */
    int *item_cat;     /* (c->n) */
    float *pfeat;      /* (c->n, RK_DP) */
    struct rc_cooc co; /* over the catalogue */
};

static void maps_free(struct catalogue_maps *x)
{
    free(x->item_map);
    free(x->item_cat);
    free(x->pfeat);
    free(x->co.count);
    free(x->co.pair);
    memset(x, 0, sizeof *x);
}

static int maps_build(const struct rc_model *m, const struct rc_catalogue *c,
                      struct catalogue_maps *x, tl_err *err)
{
    memset(x, 0, sizeof *x);
    size_t n = c->n > 0 ? (size_t)c->n : 1;
    x->item_map = malloc(n * sizeof *x->item_map);
    x->item_cat = malloc(n * sizeof *x->item_cat);
    x->pfeat = malloc(n * RK_DP * sizeof *x->pfeat);
    x->co.count = calloc(n, sizeof *x->co.count);
    x->co.pair = calloc(n * n, sizeof *x->co.pair);
    if (!x->item_map || !x->item_cat || !x->pfeat || !x->co.count || !x->co.pair) {
        maps_free(x);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    x->co.n = c->n;
    x->co.n_users = m ? m->co_users : 0;
    for (int32_t i = 0; i < c->n; i++) {
        x->item_map[i] = m ? find_id(m->items, m->n_items, c->p[i].id) : -1;
        x->item_cat[i] = c->p[i].cat;
        tl__rk_product_features(&c->p[i], x->pfeat + (size_t)i * RK_DP);
    }
    for (int32_t i = 0; m && i < c->n; i++) {
        int32_t a = x->item_map[i];
        if (a < 0)
            continue;
        x->co.count[i] = m->co_count[a];
        for (int32_t j = 0; j < c->n; j++)
            if (x->item_map[j] >= 0)
                x->co.pair[(size_t)i * c->n + j] = m->co_pair[(size_t)a * m->n_items + x->item_map[j]];
    }
    return 0;
}

/* ---- serving -------------------------------------------------------------------------------- */

struct rank_ix {
    float s;
    int32_t i;
};

static int rank_cmp(const void *a, const void *b)
{
    const struct rank_ix *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Rules then MMR over scores: writes up to k catalogue indices to out and
 * counts the exclusions into l (may be NULL). skip[c->n] (may be NULL)
 * takes products out before the rules (the evaluation's train positives). */
static int apply_rules(const struct rc_catalogue *c, const float *scores, const struct rc_facts *f,
                       const struct rc_rules_cfg *cfg, const uint8_t *skip, int k,
                       struct tl_recommend_list *l, int32_t *out, bool *top_up)
{
    struct rank_ix *r = malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *r);
    int32_t *cand = malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *cand);
    if (!r || !cand) {
        free(r);
        free(cand);
        return TL_ENOMEM;
    }
    int nc = 0;
    for (int32_t i = 0; i < c->n; i++)
        r[i] = (struct rank_ix){scores[i], i};
    qsort(r, (size_t)c->n, sizeof *r, rank_cmp);
    for (int32_t j = 0; j < c->n; j++) {
        int32_t i = r[j].i;
        if (skip && skip[i])
            continue;
        bool tu = false;
        int why = tl__rc_rule_check(c, i, f, cfg, &tu);
        if (l) {
            l->excluded_ineligible += why == RC_INELIGIBLE;
            l->excluded_unsuitable += why == RC_UNSUITABLE;
            l->excluded_held += why == RC_HELD;
            l->excluded_capped += why == RC_CAPPED;
            l->excluded_dismissed += why == RC_DISMISSED;
        }
        if (why != RC_OK)
            continue;
        if (top_up)
            top_up[i] = tu;
        cand[nc++] = i;
    }
    int n = tl__rc_mmr(c, scores, cand, nc, k, cfg->mmr_lambda, out);
    free(r);
    free(cand);
    return n;
}

static int digest_of(const json_t *in, char hex[65])
{
    char *s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return TL_ENOMEM;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(hex, 65, h, sizeof h);
    free(s);
    return 0;
}

static json_t *items_json(const struct tl_recommend_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const struct tl_recommend_item *it = &l->items[i];
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:s,s:i,s:f,s:i,s:{s:s,s:s}}", "product", it->product_id,
                         "name", it->name, "category", it->category, "risk_level", it->risk_level,
                         "score", round(it->score * 1e6) / 1e6, "rank", it->rank, "reason", "kind",
                         tl_recommend_reason_name(it->reason_kind), "text", it->reason));
    }
    return a;
}

json_t *tl_recommend_list_json(const struct tl_recommend_list *l)
{
    char when[40] = "";
    tl_time_format(l->created_ms, when, sizeof when);
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:i,s:o,s:{s:i,s:i,s:i,s:i,s:i}}", "id", l->id,
                     "customer_id", l->customer_id, "model", l->model, "created_at", when,
                     "cold_start", l->cold_start, "k", l->k, "items", items_json(l), "excluded",
                     "ineligible", l->excluded_ineligible, "unsuitable", l->excluded_unsuitable,
                     "held", l->excluded_held, "capped", l->excluded_capped, "dismissed",
                     l->excluded_dismissed);
}

char *tl_recommend_audit_details(const struct tl_recommend_list *l)
{
    json_t *items = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(items, json_pack("{s:s,s:i,s:f,s:s}", "product",
                                               l->items[i].product_id, "rank", l->items[i].rank,
                                               "score", round(l->items[i].score * 1e6) / 1e6,
                                               "reason", tl_recommend_reason_name(l->items[i].reason_kind)));
    json_t *d = json_pack("{s:s,s:i,s:b,s:o,s:{s:i,s:i,s:i,s:i,s:i}}", "id", l->id, "k", l->k,
                          "cold_start", l->cold_start, "items", items, "excluded", "ineligible",
                          l->excluded_ineligible, "unsuitable", l->excluded_unsuitable, "held",
                          l->excluded_held, "capped", l->excluded_capped, "dismissed",
                          l->excluded_dismissed);
    char *s = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    return s;
}

int tl_recommend_journal(tl_ctx *ctx, const char *actor, const char *role, const char *resource,
                         const struct tl_recommend_list *l, tl_err *err)
{
    char *details = tl_recommend_audit_details(l);
    if (!details)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    struct tl_audit_event ev = {.actor = actor,
                                .role = role,
                                .action = "recommendation.serve",
                                .resource = resource,
                                .customer_id = l->customer_id,
                                .model_version = l->model,
                                .inputs_digest = l->inputs_digest,
                                .details = details};
    int rc = tl_audit_append(ctx, &ev, err);
    free(details);
    return rc;
}

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

int tl_recommend(tl_ctx *ctx, const char *customer_id, int k, struct tl_recommend_list *out,
                 tl_err *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_id(customer_id))
        return tl_err_set(err, TL_EINVAL, "customer id \"%s\": not an id", customer_id ? customer_id : "");
    if (k < 1 || k > TL_RECOMMEND_MAX_K)
        return tl_err_set(err, TL_EINVAL, "k = %d: must be in [1, %d]", k, TL_RECOMMEND_MAX_K);
    tl_store *st = tl_ctx_store(ctx);
    struct rc_rules_cfg cfg;
    int rc = tl__rc_rules_cfg(tl_ctx_config(ctx), &cfg, err);
    if (rc < 0)
        return rc;
    struct rc_catalogue c = {0};
    struct rc_model *m = NULL;
    struct rc_facts f = {0};
    struct catalogue_maps mp = {0};
    struct rc_pos pos = {0};
    struct tl_profile *pf = malloc(sizeof *pf);
    float *scores = NULL, *share = NULL;
    int32_t *hist = NULL, *pick = NULL;
    bool *top_up = NULL;
    json_t *in = NULL;
    if (!pf)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    int64_t now = tl_time_now_ms();
    if ((rc = tl_profile_get(ctx, customer_id, pf, err)) < 0 ||
        (rc = tl__rc_catalogue_load(st, &c, err)) < 0 ||
        (rc = tl__rc_facts_load(st, &c, &cfg, customer_id, now, &f, err)) < 0 ||
        (rc = model_champion(ctx, &m, err)) < 0 || (rc = maps_build(m, &c, &mp, err)) < 0 ||
        (rc = tl__rc_positives(st, customer_id, &pos, err)) < 0)
        goto done;
    size_t n = c.n > 0 ? (size_t)c.n : 1;
    scores = malloc(n * sizeof *scores);
    share = malloc(n * sizeof *share);
    hist = malloc(((size_t)pos.n + 1) * sizeof *hist);
    pick = malloc(n * sizeof *pick);
    top_up = calloc(n, sizeof *top_up);
    if (!scores || !share || !hist || !pick || !top_up) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto done;
    }
    int64_t n_hist = 0;
    for (int64_t e = 0; e < pos.n; e++) {
        int32_t j = find_id(m->items, m->n_items, pos.prod[e]);
        if (j >= 0)
            hist[n_hist++] = j;
    }
    /* tl_rec_score wants the history sorted */
    for (int64_t a = 1; a < n_hist; a++)
        for (int64_t b = a; b > 0 && hist[b - 1] > hist[b]; b--) {
            int32_t t = hist[b];
            hist[b] = hist[b - 1];
            hist[b - 1] = t;
        }
    int32_t user = find_id(m->users, m->n_users, customer_id);
    float ufeat[RK_DU];
    tl__rk_user_features(pf, &c, f.held, ufeat);
    if ((rc = score_customer(m, &c, mp.item_map, mp.item_cat, mp.pfeat, user, hist, n_hist, ufeat,
                             f.held, scores, share, NULL, NULL, err)) < 0)
        goto done;
    snprintf(out->customer_id, sizeof out->customer_id, "%s", customer_id);
    snprintf(out->model, sizeof out->model, "%s", m->id);
    out->created_ms = now;
    out->k = k;
    out->cold_start = user < 0;
    int np = apply_rules(&c, scores, &f, &cfg, NULL, k, out, pick, top_up);
    if (np < 0) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto done;
    }
    for (int r = 0; r < np; r++) {
        int32_t i = pick[r];
        struct tl_recommend_item *it = &out->items[r];
        /* the independent check: a slip in the rules never reaches a customer */
        if (!tl__rc_rule_ok_independent(&c, i, &f, &cfg)) {
            rc = tl_err_set(err, TL_EINTERNAL, "recommendation for %s: product %s breaks a rule "
                                               "(a bug: nothing was served)", customer_id, c.p[i].id);
            goto done;
        }
        snprintf(it->product_id, sizeof it->product_id, "%s", c.p[i].id);
        snprintf(it->name, sizeof it->name, "%s", c.p[i].name);
        snprintf(it->category, sizeof it->category, "%s", c.p[i].category);
        it->risk_level = c.p[i].risk;
        it->score = scores[i];
        it->rank = r + 1;
        tl__rc_reason(&c, i, pf, &f, &mp.co, top_up[i], share[i], it);
    }
    out->n = (size_t)np;
    /* what the list was decided on */
    json_t *held = json_array(), *shown = json_object(), *dism = json_array();
    for (int32_t i = 0; i < c.n; i++) {
        if (f.held[i])
            json_array_append_new(held, json_string(c.p[i].id));
        if (f.shown[i])
            json_object_set_new(shown, c.p[i].id, json_integer(f.shown[i]));
        if (f.dismissed[i])
            json_array_append_new(dism, json_string(c.p[i].id));
    }
    in = json_pack("{s:s,s:s,s:i,s:i,s:b,s:I,s:i,s:o,s:o,s:o,s:I,s:i}", "customer_id", customer_id,
                   "model", m->id, "k", k, "age", f.age, "income_known", f.income_known,
                   "annual_income_minor", (json_int_t)f.annual_income_minor, "risk_profile",
                   f.risk_profile, "held", held, "shown", shown, "dismissed", dism,
                   "profile_as_of_ms", (json_int_t)pf->as_of_ms, "history", (int)n_hist);
    if (!in || digest_of(in, out->inputs_digest) < 0) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto done;
    }
    new_id("rec", out->id, sizeof out->id);
    json_t *items = items_json(out);
    char *items_s = items ? json_dumps(items, JSON_COMPACT) : NULL;
    json_decref(items);
    if (!items_s) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto done;
    }
    tl_value v[] = {TL_TEXT(out->id),      TL_TEXT(customer_id), TL_TEXT(out->model),
                    TL_INT(out->created_ms), TL_INT(k),          TL_TEXT(items_s),
                    TL_TEXT(out->inputs_digest)};
    rc = tl_store_exec(st,
                       "INSERT INTO recommendations (id, customer_id, model, created_ms, k, items,"
                       " inputs_digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       7, v, NULL, NULL, err);
    free(items_s);
    if (rc < 0)
        tl_err_prefix(err, "storing the recommendations");
done:
    json_decref(in);
    free(pf);
    free(scores);
    free(share);
    free(hist);
    free(pick);
    free(top_up);
    tl__rc_pos_free(&pos);
    maps_free(&mp);
    tl__rc_facts_free(&f);
    model_free(m);
    tl__rc_catalogue_free(&c);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- feedback -------------------------------------------------------------------------------- */

static int on_found(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)v, (void)names;
    *(bool *)ud = true;
    return 1;
}

int tl_recommend_record(tl_ctx *ctx, const struct tl_recommend_event *ev, char id_out[40],
                        tl_err *err)
{
    static const char *const EVENTS[] = {"shown", "viewed", "clicked", "applied", "bought",
                                         "dismissed"};
    static const char *const CHANNELS[] = {"web", "mobile", "branch", "email", "call"};
    if (!ev->customer_id || !valid_id(ev->customer_id))
        return tl_err_set(err, TL_EINVAL, "customer_id: missing or not an id");
    if (!ev->product_id || !valid_id(ev->product_id))
        return tl_err_set(err, TL_EINVAL, "product_id: missing or not an id");
    const char *stored = NULL;
    for (size_t i = 0; ev->event && i < sizeof EVENTS / sizeof EVENTS[0]; i++)
        if (strcmp(ev->event, EVENTS[i]) == 0)
            stored = i == 0 ? "viewed" : EVENTS[i];
    if (!stored)
        return tl_err_set(err, TL_EINVAL, "event \"%s\": must be shown, viewed, clicked, applied, "
                                          "bought or dismissed", ev->event ? ev->event : "");
    bool ch_ok = !ev->channel;
    for (size_t i = 0; ev->channel && i < sizeof CHANNELS / sizeof CHANNELS[0]; i++)
        ch_ok = ch_ok || strcmp(ev->channel, CHANNELS[i]) == 0;
    if (!ch_ok)
        return tl_err_set(err, TL_EINVAL, "channel \"%s\": must be web, mobile, branch, email or "
                                          "call", ev->channel);
    int64_t now = tl_time_now_ms();
    int64_t ts = ev->ts_ms ? ev->ts_ms : now;
    if (ts < 0 || ts > now + DAY_MS)
        return tl_err_set(err, TL_EINVAL, "ts: %lld is not a plausible instant", (long long)ts);
    tl_store *st = tl_ctx_store(ctx);
    bool found = false;
    tl_value cid = TL_TEXT(ev->customer_id), pid = TL_TEXT(ev->product_id);
    int rc = tl_store_exec(st, "SELECT 1 FROM customers WHERE id = ?", 1, &cid, on_found, &found,
                           err);
    if (rc < 0)
        return rc;
    if (!found)
        return tl_err_set(err, TL_ENOTFOUND, "customer %s: not found", ev->customer_id);
    found = false;
    if ((rc = tl_store_exec(st, "SELECT 1 FROM products WHERE id = ?", 1, &pid, on_found, &found,
                            err)) < 0)
        return rc;
    if (!found)
        return tl_err_set(err, TL_ENOTFOUND, "product %s: not found", ev->product_id);
    char id[40];
    new_id("int", id, sizeof id);
    tl_value v[] = {TL_TEXT(id), cid, pid, TL_INT(ts), TL_TEXT(stored),
                    ev->channel ? TL_TEXT(ev->channel) : TL_NULLV};
    rc = tl_store_exec(st,
                       "INSERT INTO interactions (id, customer_id, product_id, ts_ms, event, channel)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       6, v, NULL, NULL, err);
    if (rc < 0)
        return tl_err_prefix(err, "storing the interaction");
    if (id_out)
        snprintf(id_out, 40, "%s", id);
    return 0;
}

/* ---- training ------------------------------------------------------------------------------- */

/* The store's positives as a table, with what the ranker needs per user. */
struct train_set {
    struct rc_catalogue c;
    tl_rec_data *d;
    struct tl_rec_csr all, held;
    float *ufeat;     /* (n_users, RK_DU) */
    float *pfeat;     /* (n_items, RK_DP) in d's item order */
    int *item_cat;    /* (n_items) */
    int32_t *cat_of;  /* (n_items) d item -> catalogue index */
    int64_t *first_ts; /* d's ts per positive */
};

static void train_set_free(struct train_set *t)
{
    tl__rc_catalogue_free(&t->c);
    tl_rec_data_free(t->d);
    tl_rec_csr_free(&t->all);
    tl_rec_csr_free(&t->held);
    free(t->ufeat);
    free(t->pfeat);
    free(t->item_cat);
    free(t->cat_of);
    memset(t, 0, sizeof *t);
}

/* held_as_of: held products counted when opened before it (INT64_MAX: now). */
static int train_set_load(tl_ctx *ctx, int64_t held_as_of, struct train_set *t, tl_err *err)
{
    memset(t, 0, sizeof *t);
    tl_store *st = tl_ctx_store(ctx);
    struct rc_pos pos = {0};
    int rc;
    if ((rc = tl__rc_catalogue_load(st, &t->c, err)) < 0 ||
        (rc = tl__rc_positives(st, NULL, &pos, err)) < 0)
        goto fail;
    if (pos.n == 0) {
        rc = tl_err_set(err, TL_EINVAL, "the store holds no interactions, accounts or holdings to "
                                        "learn from: ingest some first");
        goto fail;
    }
    if ((rc = tl_rec_data_from_ids((const char *const *)pos.cust, (const char *const *)pos.prod,
                                   pos.ts, pos.n, &t->d, err)) < 0 ||
        (rc = tl_rec_data_matrix(t->d, &t->all, err)) < 0)
        goto fail;
    tl__rc_pos_free(&pos);
    tl_rec_data *d = t->d;
    if (!sorted_ids(d->user_ids, d->n_users) || !sorted_ids(d->item_ids, d->n_items)) {
        /* numeric ids are numbered by value: the model's id lists must be
         * sorted bytewise for lookups, so such stores are refused plainly */
        rc = tl_err_set(err, TL_EINVAL, "customer and product ids must sort the same bytewise "
                                        "and numerically (zero-padded ids such as C000042 do)");
        goto fail;
    }
    t->ufeat = calloc((size_t)d->n_users * RK_DU, sizeof *t->ufeat);
    t->pfeat = calloc((size_t)d->n_items * RK_DP, sizeof *t->pfeat);
    t->item_cat = calloc((size_t)d->n_items, sizeof *t->item_cat);
    t->cat_of = calloc((size_t)d->n_items, sizeof *t->cat_of);
    struct tl_profile *pf = malloc(sizeof *pf);
    struct rc_rules_cfg cfg = {.cap_days = 0, .dismiss_days = 0};
    int32_t *hr = NULL, *hc = NULL;
    int64_t nh = 0, caph = 0;
    if (!t->ufeat || !t->pfeat || !t->item_cat || !t->cat_of || !pf) {
        free(pf);
        rc = tl_err_set(err, TL_ENOMEM, "out of memory loading the training set");
        goto fail;
    }
    for (int32_t i = 0; i < d->n_items; i++) {
        int32_t j = tl__rc_catalogue_find(&t->c, d->item_ids[i]);
        t->cat_of[i] = j;
        t->item_cat[i] = j >= 0 ? t->c.p[j].cat : -1;
        if (j >= 0)
            tl__rk_product_features(&t->c.p[j], t->pfeat + (size_t)i * RK_DP);
    }
    if ((rc = tl_profile_refresh(ctx, NULL, NULL, err)) < 0) {
        free(pf);
        goto fail;
    }
    for (int32_t u = 0; u < d->n_users && rc == 0; u++) {
        struct rc_facts f = {0};
        if ((rc = tl__rc_facts_load(tl_ctx_store(ctx), &t->c, &cfg, d->user_ids[u],
                             held_as_of == INT64_MAX ? tl_time_now_ms() : held_as_of - 1, &f,
                             err)) < 0)
            break;
        if ((rc = tl_profile_get(ctx, d->user_ids[u], pf, err)) < 0) {
            tl__rc_facts_free(&f);
            break;
        }
        tl__rk_user_features(pf, &t->c, f.held, t->ufeat + (size_t)u * RK_DU);
        for (int32_t i = 0; i < d->n_items; i++) {
            if (t->cat_of[i] < 0 || !f.held[t->cat_of[i]])
                continue;
            if (nh == caph) {
                caph = caph ? caph * 2 : 4096;
                int32_t *a = realloc(hr, (size_t)caph * sizeof *a);
                if (a)
                    hr = a;
                int32_t *b = realloc(hc, (size_t)caph * sizeof *b);
                if (b)
                    hc = b;
                if (!a || !b) {
                    rc = tl_err_set(err, TL_ENOMEM, "out of memory");
                    break;
                }
            }
            hr[nh] = u;
            hc[nh++] = i;
        }
        tl__rc_facts_free(&f);
    }
    free(pf);
    if (rc == 0)
        rc = tl_rec_csr_from_pairs(d->n_users, d->n_items, hr, hc, nh, &t->held, err);
    free(hr);
    free(hc);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    tl__rc_pos_free(&pos);
    train_set_free(t);
    return rc;
}

/* NDCG@k and Recall@k of lists against test rows. */
struct acc {
    double recall, ndcg, map, ild, novelty;
    int64_t n_users, n_items_listed, n_pairs, violations;
    uint8_t *seen; /* (n catalogue) recommended at least once */
    int32_t n_seen;
};

static void acc_add(struct acc *a, const int32_t *list, int n, const uint8_t *rel, int32_t n_rel,
                    int k, const int *cat, const double *nov)
{
    if (n_rel <= 0)
        return;
    double dcg = 0, idcg = 0, ap = 0;
    int hits = 0;
    for (int r = 0; r < n; r++) {
        if (rel[list[r]]) {
            hits++;
            dcg += 1.0 / log2(r + 2.0);
            ap += (double)hits / (r + 1);
        }
        a->novelty += nov ? nov[list[r]] : 0;
        if (a->seen && !a->seen[list[r]]) {
            a->seen[list[r]] = 1;
            a->n_seen++;
        }
        for (int s = r + 1; s < n; s++) {
            a->ild += cat[list[r]] != cat[list[s]];
            a->n_pairs++;
        }
    }
    int m = n_rel < k ? n_rel : k;
    for (int r = 0; r < m; r++)
        idcg += 1.0 / log2(r + 2.0);
    a->recall += (double)hits / n_rel;
    a->ndcg += idcg > 0 ? dcg / idcg : 0;
    a->map += m > 0 ? ap / m : 0;
    a->n_users++;
    a->n_items_listed += n;
}

static json_t *acc_json(const char *name, const struct acc *a, int32_t n_catalogue)
{
    double u = a->n_users > 0 ? (double)a->n_users : 1;
    return json_pack("{s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:I,s:I}", "model", name, "recall",
                     a->recall / u, "ndcg", a->ndcg / u, "map", a->map / u, "coverage",
                     n_catalogue > 0 ? (double)a->n_seen / n_catalogue : 0.0, "diversity",
                     a->n_pairs ? a->ild / (double)a->n_pairs : 0.0, "novelty",
                     a->n_items_listed ? a->novelty / (double)a->n_items_listed : 0.0,
                     "rule_violations",
                     a->n_items_listed ? (double)a->violations / (double)a->n_items_listed : 0.0,
                     "n_users", (json_int_t)a->n_users, "n_listed", (json_int_t)a->n_items_listed);
}

/* top-k of s[0..n) over catalogue indices with skip taken out */
static int topk_plain(const float *s, int32_t n, const uint8_t *skip, int k, int32_t *out)
{
    int m = 0;
    for (int32_t i = 0; i < n; i++) {
        if (skip[i] || !isfinite(s[i]))
            continue;
        int pos = m < k ? m++ : k;
        if (pos == k && !(s[i] > s[out[k - 1]]))
            continue;
        if (pos == k)
            pos = k - 1;
        while (pos > 0 && s[i] > s[out[pos - 1]]) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = i;
    }
    return m;
}

/* A CF model and the ranker fitted on train, the blend chosen on valid
 * (NDCG@k of the blended lists, train positives excluded). */
struct pair_fit {
    tl_rec_model *cf;
    rk_model *rk;
    double blend, valid_ndcg, valid_recall;
    struct rk_train_report rep;
};

static int train_ranker(const struct train_set *t, const struct tl_rec_csr *train,
                        const struct tl_rec_csr *valid, int epochs, uint64_t seed, rk_model **out,
                        struct rk_train_report *rep, tl_err *err)
{
    struct rk_train_data rd = {.n_users = t->d->n_users, .n_items = t->d->n_items,
                               .ufeat = t->ufeat, .pfeat = t->pfeat, .item_cat = t->item_cat,
                               .pos = train, .held = &t->held, .valid = valid};
    struct rk_train_opts ro = {.epochs = epochs, .patience = 4, .n_neg = 3, .cold_p = 0.2,
                               .lr = 3e-3, .seed = seed};
    return tl__rk_fit(&rd, &ro, out, rep, err);
}

/* Blend choice on valid for cf + rk (both fitted on train): model-space
 * scores, no rules (the rules do not depend on the blend). */
static int choose_blend(const struct train_set *t, const tl_rec_model *cf, const rk_model *rk,
                        const struct tl_rec_csr *train, const struct tl_rec_csr *valid, int k,
                        double *best_w, double *best_ndcg, double *best_recall, tl_err *err)
{
    static const double W[] = {0.0, 0.2, 0.4, 0.6, 0.8, 1.0};
    enum { NW = sizeof W / sizeof W[0] };
    int32_t n = t->d->n_items;
    struct acc a[NW];
    memset(a, 0, sizeof a);
    float *cs = malloc((size_t)n * sizeof *cs), *rs = malloc((size_t)n * sizeof *rs),
          *bs = malloc((size_t)n * sizeof *bs);
    uint8_t *skip = malloc((size_t)n), *rel = malloc((size_t)n);
    int32_t *list = malloc((size_t)(k > 0 ? k : 1) * sizeof *list);
    int rc = cs && rs && bs && skip && rel && list ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory");
    for (int32_t u = 0; rc == 0 && u < valid->n_rows; u++) {
        int64_t nv = valid->ptr[u + 1] - valid->ptr[u];
        if (nv == 0)
            continue;
        const int32_t *hist = train->idx + train->ptr[u];
        int64_t nh = train->ptr[u + 1] - train->ptr[u];
        if ((rc = tl_rec_score(cf, u, hist, nh, cs, err)) < 0)
            break;
        if (rk) {
            uint8_t held[4096];
            uint8_t *hp = n <= 4096 ? held : NULL;
            if (hp) {
                memset(hp, 0, (size_t)n);
                for (int64_t e = t->held.ptr[u]; e < t->held.ptr[u + 1]; e++)
                    hp[t->held.idx[e]] = 1;
            }
            if ((rc = tl__rk_score(rk, u, t->ufeat + (size_t)u * RK_DU, hp, n, t->pfeat,
                                   t->item_cat, NULL, rs, err)) < 0)
                break;
        }
        memset(skip, 0, (size_t)n);
        memset(rel, 0, (size_t)n);
        for (int64_t e = 0; e < nh; e++)
            skip[hist[e]] = 1;
        for (int64_t e = valid->ptr[u]; e < valid->ptr[u + 1]; e++)
            rel[valid->idx[e]] = 1;
        float lo = INFINITY, hi = -INFINITY;
        for (int32_t i = 0; i < n; i++) {
            lo = cs[i] < lo ? cs[i] : lo;
            hi = cs[i] > hi ? cs[i] : hi;
        }
        double span = hi > lo ? (double)hi - lo : 1.0;
        for (int w = 0; w < NW; w++) {
            if (!rk && w != NW - 1)
                continue;
            for (int32_t i = 0; i < n; i++)
                bs[i] = (float)(W[w] * (cs[i] - lo) / span + (1 - W[w]) * (rk ? rs[i] : 0));
            int m = topk_plain(bs, n, skip, k, list);
            acc_add(&a[w], list, m, rel, (int32_t)nv, k, t->item_cat, NULL);
        }
    }
    if (rc == 0) {
        int best = NW - 1;
        for (int w = 0; rk && w < NW; w++)
            if (a[w].n_users && a[w].ndcg > a[best].ndcg + 1e-12)
                best = w;
        double u = a[best].n_users ? (double)a[best].n_users : 1;
        *best_w = W[best];
        *best_ndcg = a[best].ndcg / u;
        *best_recall = a[best].recall / u;
    }
    free(cs);
    free(rs);
    free(bs);
    free(skip);
    free(rel);
    free(list);
    return rc;
}

static int parse_models(const char *spec, unsigned *mask, tl_err *err)
{
    *mask = 0;
    if (!spec || !*spec)
        spec = "ease";
    if (strcmp(spec, "all") == 0) {
        *mask = (1u << TL_REC_KIND_COUNT) - 1;
        return 0;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = tl_rec_kind_from_name(t);
        if (k < 0)
            return tl_err_set(err, TL_EINVAL, "models \"%s\": unknown model \"%s\" (pop, itemknn, "
                                              "als, bpr, ease, lightgcn or all)", spec, t);
        *mask |= 1u << k;
    }
    return 0;
}

static int fit_cf(int kind, const struct tl_rec_csr *train, uint64_t seed, tl_rec_model **out,
                  tl_err *err)
{
    struct tl_rec_params p;
    tl_rec_params_defaults(kind, &p);
    p.seed = seed;
    p.threads = 2;
    if (kind == TL_REC_EASE)
        p.ease_lambda = 50; /* a few dozen products: far less shrinkage than MovieLens needs */
    return tl_rec_fit(kind, &p, train, out, err);
}

static void cooc_fill(const struct tl_rec_csr *all, struct rc_model *m)
{
    for (int32_t u = 0; u < all->n_rows; u++)
        for (int64_t a = all->ptr[u]; a < all->ptr[u + 1]; a++) {
            m->co_count[all->idx[a]]++;
            for (int64_t b = all->ptr[u]; b < all->ptr[u + 1]; b++)
                if (a != b)
                    m->co_pair[(size_t)all->idx[a] * m->n_items + all->idx[b]]++;
        }
    m->co_users = all->n_rows;
}

static int ids_copy(char **src, int32_t n, char ***out)
{
    char **v = calloc((size_t)n, sizeof *v);
    if (!v)
        return TL_ENOMEM;
    for (int32_t i = 0; i < n; i++)
        if (!(v[i] = strdup(src[i]))) {
            ids_free(v, i);
            return TL_ENOMEM;
        }
    *out = v;
    return 0;
}

int tl_recommend_train(tl_ctx *ctx, const struct tl_recommend_train_opts *opts, json_t **out,
                       tl_err *err)
{
    unsigned mask;
    int rc = parse_models(opts->models, &mask, err);
    if (rc < 0)
        return rc;
    uint64_t seed = opts->seed ? opts->seed : 20261123;
    tl_nn_set_blas_threads(1);
    struct train_set t;
    if ((rc = train_set_load(ctx, INT64_MAX, &t, err)) < 0)
        return rc;
    struct tl_rec_csr tr = {0}, va = {0};
    rk_model *rk_valid = NULL, *rk_full = NULL;
    struct rk_train_report rep = {0}, rep_full = {0};
    json_t *res = json_pack("{s:i,s:i,s:I,s:[]}", "customers", t.d->n_users, "products",
                            t.c.n, "positives", (json_int_t)tl_rec_csr_nnz(&t.all), "models");
    json_t *models = json_object_get(res, "models");
    char best_id[TL_MODEL_ID_MAX] = "";
    double best_ndcg = -1;
    if ((rc = tl_rec_split_csr(&t.all, TL_REC_SPLIT_PER_USER, 0.2, seed + 1, &tr, &va, err)) < 0)
        goto done;
    if (!opts->no_ranker) {
        if ((rc = train_ranker(&t, &tr, &va, opts->ranker_epochs > 0 ? opts->ranker_epochs : 40,
                               seed, &rk_valid, &rep, err)) < 0 ||
            (rc = train_ranker(&t, &t.all, NULL, rep.best_epoch + 1, seed, &rk_full, &rep_full,
                               err)) < 0)
            goto done;
    }
    for (int kind = 0; kind < TL_REC_KIND_COUNT; kind++) {
        if (!(mask & (1u << kind)))
            continue;
        tl_rec_model *cf_valid = NULL;
        double w = 1, vn = 0, vr = 0;
        if ((rc = fit_cf(kind, &tr, seed, &cf_valid, err)) < 0)
            goto done;
        rc = choose_blend(&t, cf_valid, rk_valid, &tr, &va, 5, &w, &vn, &vr, err);
        tl_rec_model_free(cf_valid);
        if (rc < 0)
            goto done;
        struct rc_model *m = calloc(1, sizeof *m);
        if (!m) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto done;
        }
        m->cf_kind = kind;
        m->blend = w;
        m->rk = rk_full; /* borrowed for serialization */
        m->n_users = t.d->n_users;
        m->n_items = t.d->n_items;
        m->co_count = calloc((size_t)m->n_items, sizeof *m->co_count);
        m->co_pair = calloc((size_t)m->n_items * m->n_items, sizeof *m->co_pair);
        char *art = NULL;
        if (!m->co_count || !m->co_pair || ids_copy(t.d->user_ids, m->n_users, &m->users) < 0 ||
            ids_copy(t.d->item_ids, m->n_items, &m->items) < 0)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        if (rc == 0)
            rc = fit_cf(kind, &t.all, seed, &m->cf, err);
        if (rc == 0) {
            cooc_fill(&t.all, m);
            art = model_serialize(m, err);
            if (!art)
                rc = err->code ? err->code : TL_ENOMEM;
        }
        m->rk = NULL;
        model_free(m);
        if (rc < 0)
            goto done;
        char algo[32];
        snprintf(algo, sizeof algo, "%s%s", tl_rec_kind_name(kind), rk_full ? "+ranker" : "");
        json_t *meta = json_pack(
            "{s:{s:s,s:f,s:i,s:i,s:i,s:f,s:I},s:{s:f,s:f,s:i},s:{s:s,s:i,s:i,s:I},"
            "s:{s:s,s:s,s:s,s:s}}",
            "hyperparameters", "cf", tl_rec_kind_name(kind), "blend", w, "ranker_epochs",
            rk_full ? rep.best_epoch + 1 : 0, "embedding", RK_EMB, "negatives_per_positive", 3,
            "cold_share", 0.2, "seed", (json_int_t)seed, "metrics", "valid_ndcg_at_5", vn,
            "valid_recall_at_5", vr, "k", 5, "data", "source", "store: interactions, accounts, holdings",
            "customers", t.d->n_users, "products", t.d->n_items, "positives",
            (json_int_t)tl_rec_csr_nnz(&t.all), "card", "intended_use",
            "next-best-product lists for the bank's own customers, filtered by eligibility, "
            "suitability, holdings and frequency rules after ranking (docs/recommend.md)",
            "data",
            "positives: bought/applied/clicked interactions by weight, open accounts and holdings; "
            "dismissed products count against; ranker features from customer profiles",
            "metrics", "validation: 20% of each customer's positives held out, NDCG@5 and Recall@5 "
            "of the blend with train positives excluded",
            "limitations",
            "learns what customers took, not what was good for them; the rules, not the model, "
            "guarantee suitability; customers without history are scored from their profile only");
        struct tl_model_new nm = {.task = TASK, .algo = algo, .artifact = art,
                                  .artifact_len = strlen(art), .metadata = meta,
                                  .actor = opts->actor};
        struct tl_model_info info;
        rc = tl_registry_add(ctx, &nm, &info, err);
        free(art);
        json_decref(meta);
        if (rc < 0) {
            tl_model_info_clear(&info);
            goto done;
        }
        json_t *ranker = rk_full ? json_pack("{s:i,s:i,s:f}", "epochs", rep.epochs_run,
                                             "best_epoch", rep.best_epoch, "valid_loss",
                                             isnan(rep.best_valid_loss) ? 0.0 : rep.best_valid_loss)
                                 : json_null();
        json_array_append_new(models,
                              json_pack("{s:s,s:s,s:f,s:{s:f,s:f},s:o,s:b}", "id", info.id, "algo",
                                        algo, "blend", w, "valid", "ndcg", vn, "recall", vr,
                                        "ranker", ranker, "promoted", false));
        if (vn > best_ndcg) {
            best_ndcg = vn;
            snprintf(best_id, sizeof best_id, "%s", info.id);
        }
        tl_model_info_clear(&info);
    }
    if (!opts->no_promote && best_id[0]) {
        struct tl_model_info ch;
        int c2 = tl_registry_champion(ctx, TASK, &ch, err);
        tl_model_info_clear(&ch);
        if (c2 == TL_ENOTFOUND) {
            tl_err_clear(err);
            if ((rc = tl_registry_promote(ctx, best_id, opts->actor ? opts->actor : "teller", err)) < 0)
                goto done;
            size_t i;
            json_t *e;
            json_array_foreach(models, i, e)
                if (strcmp(json_string_value(json_object_get(e, "id")), best_id) == 0)
                    json_object_set_new(e, "promoted", json_true());
        } else if (c2 < 0) {
            rc = c2;
            goto done;
        }
    }
    rc = 0;
done:
    tl__rk_free(rk_valid);
    tl__rk_free(rk_full);
    tl_rec_csr_free(&tr);
    tl_rec_csr_free(&va);
    train_set_free(&t);
    if (rc < 0) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* ---- evaluation on the store --------------------------------------------------------------- */

#define EV_MAX_ROWS (TL_REC_KIND_COUNT + 3)

int tl_recommend_eval_store(tl_ctx *ctx, const struct tl_recommend_eval_opts *opts, json_t **out,
                            tl_err *err)
{
    double frac = opts->test_frac > 0 ? opts->test_frac : 0.2;
    int k = opts->k > 0 ? opts->k : 5;
    uint64_t seed = opts->seed ? opts->seed : 20261123;
    if (!(frac > 0 && frac < 1))
        return tl_err_set(err, TL_EINVAL, "test_frac %g: must be in (0, 1)", frac);
    if (k > TL_RECOMMEND_MAX_K)
        return tl_err_set(err, TL_EINVAL, "k = %d: must be in [1, %d]", k, TL_RECOMMEND_MAX_K);
    unsigned mask;
    int rc = parse_models(opts->models ? opts->models : "pop,itemknn,als,ease", &mask, err);
    if (rc < 0)
        return rc;
    struct rc_rules_cfg cfg;
    if ((rc = tl__rc_rules_cfg(tl_ctx_config(ctx), &cfg, err)) < 0)
        return rc;
    tl_nn_set_blas_threads(1);
    /* the split instant first: held products and recent events as of then */
    struct train_set t;
    int64_t cutoff = 0;
    struct tl_rec_csr train = {0}, test = {0}, tr2 = {0}, va2 = {0};
    tl_rec_model *cf[TL_REC_KIND_COUNT] = {0};
    rk_model *rk = NULL;
    struct rk_train_report rep = {0};
    json_t *res = NULL;
    {
        struct train_set t0;
        if ((rc = train_set_load(ctx, INT64_MAX, &t0, err)) < 0)
            return rc;
        if ((rc = tl_rec_split(t0.d, TL_REC_SPLIT_TEMPORAL, frac, seed, &train, &test, err)) < 0) {
            train_set_free(&t0);
            return rc;
        }
        cutoff = INT64_MAX;
        for (int64_t e = 0; e < t0.d->n; e++) {
            int32_t u = t0.d->user[e], i = t0.d->item[e];
            for (int64_t x = test.ptr[u]; x < test.ptr[u + 1]; x++)
                if (test.idx[x] == i && t0.d->ts[e] < cutoff)
                    cutoff = t0.d->ts[e];
        }
        train_set_free(&t0);
        tl_rec_csr_free(&train);
        tl_rec_csr_free(&test);
    }
    if ((rc = train_set_load(ctx, cutoff, &t, err)) < 0)
        return rc;
    if ((rc = tl_rec_split(t.d, TL_REC_SPLIT_TEMPORAL, frac, seed, &train, &test, err)) < 0 ||
        (rc = tl_rec_split_csr(&train, TL_REC_SPLIT_PER_USER, 0.2, seed + 1, &tr2, &va2, err)) < 0)
        goto done;
    for (int kind = 0; kind < TL_REC_KIND_COUNT; kind++)
        if ((mask & (1u << kind)) && (rc = fit_cf(kind, &train, seed, &cf[kind], err)) < 0)
            goto done;
    /* the ranker: early stopping on a validation split of train, then refit */
    {
        rk_model *rv = NULL;
        if ((rc = train_ranker(&t, &tr2, &va2, 40, seed, &rv, &rep, err)) < 0)
            goto done;
        tl__rk_free(rv);
        if ((rc = train_ranker(&t, &train, NULL, rep.best_epoch + 1, seed, &rk, &rep, err)) < 0)
            goto done;
    }
    /* the blend's CF: EASE when evaluated, else the first chosen; its weight on tr2/va2 */
    int bk = (mask & (1u << TL_REC_EASE)) ? TL_REC_EASE : __builtin_ctz(mask);
    double w = 1, vn = 0, vr = 0;
    {
        tl_rec_model *c2 = NULL;
        rk_model *r2 = NULL;
        struct rk_train_report rp2;
        if ((rc = fit_cf(bk, &tr2, seed, &c2, err)) == 0 &&
            (rc = train_ranker(&t, &tr2, NULL, rep.best_epoch + 1, seed, &r2, &rp2, err)) == 0)
            rc = choose_blend(&t, c2, r2, &tr2, &va2, k, &w, &vn, &vr, err);
        tl_rec_model_free(c2);
        tl__rk_free(r2);
        if (rc < 0)
            goto done;
    }
    int32_t n = t.d->n_items, nc = t.c.n;
    /* rows: CF kinds, ranker, blend, served */
    struct acc acc[EV_MAX_ROWS];
    memset(acc, 0, sizeof acc);
    const char *names[EV_MAX_ROWS];
    int n_rows = 0, row_cf[TL_REC_KIND_COUNT];
    for (int kind = 0; kind < TL_REC_KIND_COUNT; kind++)
        if (mask & (1u << kind)) {
            row_cf[kind] = n_rows;
            names[n_rows++] = tl_rec_kind_name(kind);
        }
    int row_rk = n_rows, row_bl = n_rows + 1, row_sv = n_rows + 2;
    char blend_name[48];
    snprintf(blend_name, sizeof blend_name, "%s+ranker", tl_rec_kind_name(bk));
    names[row_rk] = "ranker";
    names[row_bl] = blend_name;
    names[row_sv] = "served";
    n_rows += 3;
    /* all of these over the catalogue, indexed by catalogue product */
    float *s_cf = malloc((size_t)n * sizeof *s_cf), *s_rk = malloc((size_t)n * sizeof *s_rk);
    float *cat_s = malloc((size_t)nc * sizeof *cat_s), *cat_b = malloc((size_t)nc * sizeof *cat_b);
    uint8_t *skip = calloc((size_t)nc, 1), *rel = calloc((size_t)nc, 1);
    uint8_t *held_m = calloc((size_t)n, 1);
    int32_t *list = malloc((size_t)k * sizeof *list);
    double *nov = calloc((size_t)nc, sizeof *nov);
    int *ccat = malloc((size_t)nc * sizeof *ccat);
    int32_t *cnt_item = calloc((size_t)n, sizeof *cnt_item);
    for (int r = 0; r < n_rows; r++)
        acc[r].seen = calloc((size_t)nc, 1);
    bool ok = s_cf && s_rk && cat_s && cat_b && skip && rel && held_m && list && nov && ccat &&
              cnt_item;
    for (int r = 0; r < n_rows; r++)
        ok = ok && acc[r].seen;
    if (!ok) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory evaluating");
        goto free_eval;
    }
    for (int64_t e = 0; e < tl_rec_csr_nnz(&train); e++)
        cnt_item[train.idx[e]]++;
    for (int32_t j = 0; j < nc; j++) {
        ccat[j] = t.c.p[j].cat;
        nov[j] = -log2(1.0 / (t.d->n_users + 1.0));
    }
    for (int32_t i = 0; i < n; i++)
        if (t.cat_of[i] >= 0)
            nov[t.cat_of[i]] = -log2((cnt_item[i] + 1.0) / (t.d->n_users + 1.0));
    int64_t n_test_users = 0;
    for (int32_t u = 0; u < t.d->n_users && rc == 0; u++) {
        int64_t nt = test.ptr[u + 1] - test.ptr[u];
        if (nt == 0)
            continue;
        n_test_users++;
        struct rc_facts f = {0};
        if ((rc = tl__rc_facts_load(tl_ctx_store(ctx), &t.c, &cfg, t.d->user_ids[u], cutoff - 1, &f,
                             err)) < 0)
            break;
        const int32_t *hist = train.idx + train.ptr[u];
        int64_t nh = train.ptr[u + 1] - train.ptr[u];
        memset(skip, 0, (size_t)nc);
        memset(rel, 0, (size_t)nc);
        for (int64_t e = 0; e < nh; e++)
            if (t.cat_of[hist[e]] >= 0)
                skip[t.cat_of[hist[e]]] = 1;
        int32_t n_rel = 0;
        for (int64_t e = test.ptr[u]; e < test.ptr[u + 1]; e++)
            if (t.cat_of[test.idx[e]] >= 0) {
                rel[t.cat_of[test.idx[e]]] = 1;
                n_rel++;
            }
        memset(held_m, 0, (size_t)n);
        for (int32_t i = 0; i < n; i++)
            held_m[i] = t.cat_of[i] >= 0 && f.held[t.cat_of[i]];
        /* the ranker */
        if ((rc = tl__rk_score(rk, u, t.ufeat + (size_t)u * RK_DU, held_m, n, t.pfeat, t.item_cat,
                               NULL, s_rk, err)) < 0) {
            tl__rc_facts_free(&f);
            break;
        }
        for (int32_t j = 0; j < nc; j++)
            cat_s[j] = -INFINITY;
        for (int32_t i = 0; i < n; i++)
            if (t.cat_of[i] >= 0)
                cat_s[t.cat_of[i]] = s_rk[i];
        int m = topk_plain(cat_s, nc, skip, k, list);
        acc_add(&acc[row_rk], list, m, rel, n_rel, k, ccat, nov);
        for (int r = 0; r < m; r++)
            acc[row_rk].violations += !tl__rc_rule_ok_independent(&t.c, list[r], &f, &cfg);
        for (int kind = 0; kind < TL_REC_KIND_COUNT && rc == 0; kind++) {
            if (!cf[kind])
                continue;
            if ((rc = tl_rec_score(cf[kind], u, hist, nh, s_cf, err)) < 0)
                break;
            for (int32_t j = 0; j < nc; j++)
                cat_s[j] = -INFINITY;
            float lo = INFINITY, hi = -INFINITY;
            for (int32_t i = 0; i < n; i++) {
                lo = s_cf[i] < lo ? s_cf[i] : lo;
                hi = s_cf[i] > hi ? s_cf[i] : hi;
            }
            for (int32_t i = 0; i < n; i++)
                if (t.cat_of[i] >= 0)
                    cat_s[t.cat_of[i]] = s_cf[i];
            m = topk_plain(cat_s, nc, skip, k, list);
            acc_add(&acc[row_cf[kind]], list, m, rel, n_rel, k, ccat, nov);
            for (int r = 0; r < m; r++)
                acc[row_cf[kind]].violations += !tl__rc_rule_ok_independent(&t.c, list[r], &f, &cfg);
            if (kind != bk)
                continue;
            double span = hi > lo ? (double)hi - lo : 1.0;
            for (int32_t j = 0; j < nc; j++)
                cat_b[j] = 0;
            for (int32_t i = 0; i < n; i++)
                if (t.cat_of[i] >= 0)
                    cat_b[t.cat_of[i]] = (float)(w * (s_cf[i] - lo) / span + (1 - w) * s_rk[i]);
            m = topk_plain(cat_b, nc, skip, k, list);
            acc_add(&acc[row_bl], list, m, rel, n_rel, k, ccat, nov);
            for (int r = 0; r < m; r++)
                acc[row_bl].violations += !tl__rc_rule_ok_independent(&t.c, list[r], &f, &cfg);
            /* served: the blend under the rules as of the split, then MMR */
            m = apply_rules(&t.c, cat_b, &f, &cfg, skip, k, NULL, list, NULL);
            if (m < 0) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory evaluating");
                break;
            }
            acc_add(&acc[row_sv], list, m, rel, n_rel, k, ccat, nov);
            for (int r = 0; r < m; r++)
                acc[row_sv].violations += !tl__rc_rule_ok_independent(&t.c, list[r], &f, &cfg);
        }
        tl__rc_facts_free(&f);
    }
    if (rc < 0)
        goto free_eval;
    char when[40] = "";
    tl_time_format(cutoff, when, sizeof when);
    json_t *arr = json_array();
    for (int r = 0; r < n_rows; r++)
        json_array_append_new(arr, acc_json(names[r], &acc[r], nc));
    res = json_pack("{s:s,s:f,s:s,s:i,s:I,s:i,s:i,s:I,s:I,s:I,s:f,s:{s:i,s:i},s:o}", "split",
                    "temporal", "test_frac", frac, "cutoff", when, "k", k, "seed",
                    (json_int_t)seed, "n_users", t.d->n_users, "n_products", nc, "n_train",
                    (json_int_t)tl_rec_csr_nnz(&train), "n_test", (json_int_t)tl_rec_csr_nnz(&test),
                    "n_test_users", (json_int_t)n_test_users, "blend", w, "ranker", "epochs",
                    rep.epochs_run, "best_epoch", rep.best_epoch, "models", arr);
    if (!res)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
free_eval:
    free(s_cf);
    free(s_rk);
    free(cat_s);
    free(cat_b);
    free(skip);
    free(rel);
    free(held_m);
    free(list);
    free(nov);
    free(ccat);
    free(cnt_item);
    for (int r = 0; r < n_rows; r++)
        free(acc[r].seen);
done:
    for (int kind = 0; kind < TL_REC_KIND_COUNT; kind++)
        tl_rec_model_free(cf[kind]);
    tl__rk_free(rk);
    tl_rec_csr_free(&train);
    tl_rec_csr_free(&test);
    tl_rec_csr_free(&tr2);
    tl_rec_csr_free(&va2);
    train_set_free(&t);
    if (rc < 0) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}
