/*
 * recommend_rules.c - the catalogue, the business rules that run after
 * ranking, MMR diversity, and the store's positives.
 *
 * The rules are written twice: tl__rc_rule_check (what serving uses, which
 * also says which rule fired, for the counts) and
 * tl__rc_rule_ok_independent (a plain restatement the evaluation and the
 * tests check every served item against), so that a slip in one shows up
 * as a rule violation instead of passing silently.
 */
#include "recommend_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const CAT_NAMES[RC_CAT_COUNT] = {
    "current_account", "savings_account", "term_deposit", "credit_card", "personal_loan",
    "auto_loan",       "mortgage",        "insurance",    "fund",        "etf"};

int tl__rc_cat_of(const char *name)
{
    for (int i = 0; name && i < RC_CAT_COUNT; i++)
        if (strcmp(name, CAT_NAMES[i]) == 0)
            return i;
    return -1;
}

const char *tl__rc_cat_name(int cat)
{
    return cat >= 0 && cat < RC_CAT_COUNT ? CAT_NAMES[cat] : "other";
}

bool tl__rc_is_investment(const struct rc_product *p)
{
    return p->cat == RC_FUND || p->cat == RC_ETF;
}

/* ---- the catalogue ------------------------------------------------------------- */

struct cat_load {
    struct rc_catalogue *c;
    int32_t cap;
    bool oom;
};

static int on_product(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct cat_load *l = ud;
    if (n < 9)
        return 0;
    if (l->c->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 64;
        struct rc_product *p = realloc(l->c->p, (size_t)cap * sizeof *p);
        if (!p) {
            l->oom = true;
            return 1;
        }
        l->c->p = p;
        l->cap = cap;
    }
    struct rc_product *p = &l->c->p[l->c->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", v[0].s ? v[0].s : "");
    snprintf(p->name, sizeof p->name, "%s", v[1].s ? v[1].s : "");
    snprintf(p->category, sizeof p->category, "%s", v[2].s ? v[2].s : "");
    p->cat = tl__rc_cat_of(p->category);
    p->risk = v[3].type == TL_VAL_INT ? (int)v[3].i : 5;
    p->rate_bp = v[4].type == TL_VAL_INT ? (int)v[4].i : -1;
    p->fee_minor = v[5].type == TL_VAL_INT ? v[5].i : -1;
    p->min_age = v[6].type == TL_VAL_INT ? (int)v[6].i : 0;
    p->max_age = v[7].type == TL_VAL_INT ? (int)v[7].i : 0;
    p->min_income_minor = v[8].type == TL_VAL_INT ? v[8].i : 0;
    return 0;
}

static int product_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rc_product *)a)->id, ((const struct rc_product *)b)->id);
}

int tl__rc_catalogue_load(tl_store *st, struct rc_catalogue *out, tl_err *err)
{
    memset(out, 0, sizeof *out);
    struct cat_load l = {.c = out};
    int rc = tl_store_exec(st,
                           "SELECT id, name, category, risk_level, interest_rate_bp,"
                           " annual_fee_minor, min_age, max_age, min_income_minor"
                           " FROM products ORDER BY id",
                           0, NULL, on_product, &l, err);
    if (rc == 0 && l.oom)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory reading the product catalogue");
    if (rc < 0) {
        tl__rc_catalogue_free(out);
        return rc;
    }
    /* ORDER BY id is the engine's collation; the binary search needs bytes */
    qsort(out->p, (size_t)out->n, sizeof out->p[0], product_cmp);
    return 0;
}

void tl__rc_catalogue_free(struct rc_catalogue *c)
{
    free(c->p);
    c->p = NULL;
    c->n = 0;
}

int32_t tl__rc_catalogue_find(const struct rc_catalogue *c, const char *id)
{
    int32_t lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->p[mid].id, id);
        if (d == 0)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* ---- facts and configuration ------------------------------------------------------ */

int tl__rc_facts_alloc(struct rc_facts *f, int32_t n)
{
    memset(f, 0, sizeof *f);
    f->age = -1;
    size_t m = n > 0 ? (size_t)n : 1;
    f->held = calloc(m, 1);
    f->shown = calloc(m, sizeof *f->shown);
    f->dismissed = calloc(m, 1);
    if (!f->held || !f->shown || !f->dismissed) {
        tl__rc_facts_free(f);
        return TL_ENOMEM;
    }
    return 0;
}

void tl__rc_facts_free(struct rc_facts *f)
{
    free(f->held);
    free(f->shown);
    free(f->dismissed);
    f->held = NULL;
    f->shown = NULL;
    f->dismissed = NULL;
}

static int cfg_int(const tl_config *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                   int *out, tl_err *err)
{
    const char *s = cfg ? tl_config_get(cfg, key) : NULL;
    int64_t v = def;
    if (s && *s) {
        char *end;
        long long x = strtoll(s, &end, 10);
        if (end == s || *end)
            return tl_err_set(err, TL_EINVAL, "%s = \"%s\": not an integer", key, s);
        v = x;
    }
    if (v < lo || v > hi)
        return tl_err_set(err, TL_EINVAL, "%s = %lld: must be in [%lld, %lld]", key, (long long)v,
                          (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

int tl__rc_rules_cfg(const tl_config *cfg, struct rc_rules_cfg *out, tl_err *err)
{
    int rc;
    if ((rc = cfg_int(cfg, "recommend.cap_shown", 3, 0, 1000, &out->cap_shown, err)) < 0 ||
        (rc = cfg_int(cfg, "recommend.cap_days", 30, 0, 3650, &out->cap_days, err)) < 0 ||
        (rc = cfg_int(cfg, "recommend.dismiss_days", 90, 0, 3650, &out->dismiss_days, err)) < 0)
        return rc;
    out->mmr_lambda = 0.7;
    const char *s = cfg ? tl_config_get(cfg, "recommend.mmr_lambda") : NULL;
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || !(v >= 0 && v <= 1))
            return tl_err_set(err, TL_EINVAL, "recommend.mmr_lambda = \"%s\": must be in [0, 1]",
                              s);
        out->mmr_lambda = v;
    }
    return 0;
}

/* ---- the rules ---------------------------------------------------------------------- */

/* Stackable: held, and still worth offering (a top-up). Exclusive: one of
 * the category is enough, whichever product it is. */
static bool stackable(int cat)
{
    return cat == RC_FUND || cat == RC_ETF || cat == RC_TERM_DEPOSIT;
}

static bool exclusive(int cat)
{
    return cat == RC_CURRENT || cat == RC_MORTGAGE;
}

static bool eligible(const struct rc_product *p, const struct rc_facts *f)
{
    if ((p->min_age > 0 || p->max_age > 0) && f->age < 0)
        return false;
    if (p->min_age > 0 && f->age < p->min_age)
        return false;
    if (p->max_age > 0 && f->age > p->max_age)
        return false;
    if (p->min_income_minor > 0 && (!f->income_known || f->annual_income_minor < p->min_income_minor))
        return false;
    return true;
}

static bool suitable(const struct rc_product *p, const struct rc_facts *f)
{
    if (!tl__rc_is_investment(p))
        return true;
    return f->risk_profile >= 1 && p->risk <= f->risk_profile;
}

int tl__rc_rule_check(const struct rc_catalogue *c, int32_t i, const struct rc_facts *f,
                      const struct rc_rules_cfg *cfg, bool *top_up)
{
    const struct rc_product *p = &c->p[i];
    if (top_up)
        *top_up = false;
    if (!eligible(p, f))
        return RC_INELIGIBLE;
    if (!suitable(p, f))
        return RC_UNSUITABLE;
    if (f->held[i]) {
        if (!stackable(p->cat))
            return RC_HELD;
        if (top_up)
            *top_up = true;
    }
    if (exclusive(p->cat))
        for (int32_t j = 0; j < c->n; j++)
            if (j != i && f->held[j] && c->p[j].cat == p->cat)
                return RC_HELD;
    if (f->dismissed[i])
        return RC_DISMISSED;
    if (cfg->cap_shown > 0 && f->shown[i] >= cfg->cap_shown)
        return RC_CAPPED;
    return RC_OK;
}

bool tl__rc_rule_ok_independent(const struct rc_catalogue *c, int32_t i, const struct rc_facts *f,
                                const struct rc_rules_cfg *cfg)
{
    const struct rc_product *p = &c->p[i];
    int age = f->age;
    bool age_limited = p->min_age > 0 || p->max_age > 0;
    bool age_ok = !age_limited || (age >= 0 && (p->min_age <= 0 || age >= p->min_age) &&
                                   (p->max_age <= 0 || age <= p->max_age));
    bool income_ok = p->min_income_minor <= 0 ||
                     (f->income_known && f->annual_income_minor >= p->min_income_minor);
    bool invest = strcmp(p->category, "fund") == 0 || strcmp(p->category, "etf") == 0;
    bool risk_ok = !invest || (f->risk_profile > 0 && p->risk <= f->risk_profile);
    bool held_ok = !f->held[i] || strcmp(p->category, "fund") == 0 ||
                   strcmp(p->category, "etf") == 0 || strcmp(p->category, "term_deposit") == 0;
    if (strcmp(p->category, "current_account") == 0 || strcmp(p->category, "mortgage") == 0)
        for (int32_t j = 0; j < c->n; j++)
            if (f->held[j] && strcmp(c->p[j].category, p->category) == 0)
                held_ok = false;
    bool cap_ok = !(cfg->cap_shown > 0 && f->shown[i] >= cfg->cap_shown);
    return age_ok && income_ok && risk_ok && held_ok && cap_ok && !f->dismissed[i];
}

/* ---- diversity ----------------------------------------------------------------------- */

static int family(int cat)
{
    switch (cat) {
    case RC_CURRENT: return 0;
    case RC_SAVINGS:
    case RC_TERM_DEPOSIT: return 1;
    case RC_CREDIT_CARD:
    case RC_PERSONAL_LOAN:
    case RC_AUTO_LOAN:
    case RC_MORTGAGE: return 2;
    case RC_INSURANCE: return 3;
    case RC_FUND:
    case RC_ETF: return 4;
    default: return 5;
    }
}

double tl__rc_similarity(const struct rc_catalogue *c, int32_t a, int32_t b)
{
    int ca = c->p[a].cat, cb = c->p[b].cat;
    if (strcmp(c->p[a].category, c->p[b].category) == 0)
        return 1.0;
    return family(ca) == family(cb) ? 0.5 : 0.0;
}

int tl__rc_mmr(const struct rc_catalogue *c, const float *rel, const int32_t *cand, int n_cand,
               int k, double lambda, int32_t *out)
{
    if (n_cand <= 0 || k <= 0)
        return 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n_cand; i++) {
        float r = rel[cand[i]];
        if (r < lo)
            lo = r;
        if (r > hi)
            hi = r;
    }
    double span = hi > lo ? (double)hi - lo : 1.0;
    bool *used = calloc((size_t)n_cand, 1);
    if (!used) { /* no memory for diversity: relevance order */
        int n = n_cand < k ? n_cand : k;
        memcpy(out, cand, (size_t)n * sizeof *out);
        return n;
    }
    int n_out = 0;
    while (n_out < k && n_out < n_cand) {
        int best = -1;
        double best_v = -INFINITY;
        for (int i = 0; i < n_cand; i++) {
            if (used[i])
                continue;
            double r = ((double)rel[cand[i]] - lo) / span;
            double sim = 0;
            for (int j = 0; j < n_out; j++) {
                double s = tl__rc_similarity(c, cand[i], out[j]);
                if (s > sim)
                    sim = s;
            }
            double v = lambda * r - (1 - lambda) * sim;
            if (v > best_v) { /* ties keep the earlier (better ranked) candidate */
                best_v = v;
                best = i;
            }
        }
        used[best] = true;
        out[n_out++] = cand[best];
    }
    free(used);
    return n_out;
}

/* ---- positives -------------------------------------------------------------------------- */

static int pos_add(struct rc_pos *p, const char *cust, const char *prod, int64_t ts)
{
    if (p->n == p->cap) {
        int64_t cap = p->cap ? p->cap * 2 : 1024;
        char **c = realloc(p->cust, (size_t)cap * sizeof *c);
        if (c)
            p->cust = c;
        char **q = realloc(p->prod, (size_t)cap * sizeof *q);
        if (q)
            p->prod = q;
        int64_t *t = realloc(p->ts, (size_t)cap * sizeof *t);
        if (t)
            p->ts = t;
        if (!c || !q || !t)
            return TL_ENOMEM;
        p->cap = cap;
    }
    p->cust[p->n] = strdup(cust);
    p->prod[p->n] = strdup(prod);
    if (!p->cust[p->n] || !p->prod[p->n]) {
        free(p->cust[p->n]);
        free(p->prod[p->n]);
        return TL_ENOMEM;
    }
    p->ts[p->n++] = ts;
    return 0;
}

void tl__rc_pos_free(struct rc_pos *p)
{
    for (int64_t i = 0; i < p->n; i++) {
        free(p->cust[i]);
        free(p->prod[i]);
    }
    free(p->cust);
    free(p->prod);
    free(p->ts);
    memset(p, 0, sizeof *p);
}

/* Interactions arrive ordered by (customer, product, time): a run per pair,
 * whose weights add up until the pair becomes a positive. */
struct ev_fold {
    struct rc_pos *out;
    char cust[65], prod[65];
    double sum;
    bool done, oom;
};

static double event_weight(const char *e)
{
    if (strcmp(e, "bought") == 0)
        return RC_W_BOUGHT;
    if (strcmp(e, "applied") == 0)
        return RC_W_APPLIED;
    if (strcmp(e, "clicked") == 0)
        return RC_W_CLICKED;
    if (strcmp(e, "viewed") == 0)
        return RC_W_VIEWED;
    if (strcmp(e, "dismissed") == 0)
        return RC_W_DISMISSED;
    return 0;
}

static int on_event(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct ev_fold *f = ud;
    if (n < 4 || !v[0].s || !v[1].s || !v[3].s)
        return 0;
    if (strcmp(v[0].s, f->cust) != 0 || strcmp(v[1].s, f->prod) != 0) {
        snprintf(f->cust, sizeof f->cust, "%s", v[0].s);
        snprintf(f->prod, sizeof f->prod, "%s", v[1].s);
        f->sum = 0;
        f->done = false;
    }
    if (f->done)
        return 0;
    f->sum += event_weight(v[3].s);
    if (f->sum >= 1.0 - 1e-9) {
        f->done = true;
        if (pos_add(f->out, f->cust, f->prod, v[2].i) < 0) {
            f->oom = true;
            return 1;
        }
    }
    return 0;
}

static int on_owned(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct ev_fold *f = ud;
    if (n < 3 || !v[0].s || !v[1].s)
        return 0;
    if (pos_add(f->out, v[0].s, v[1].s, v[2].i) < 0) {
        f->oom = true;
        return 1;
    }
    return 0;
}

struct pos_ref {
    const char *cust, *prod;
    int64_t ts, i;
};

static int pos_cmp(const void *a, const void *b)
{
    const struct pos_ref *x = a, *y = b;
    int d = strcmp(x->cust, y->cust);
    if (!d)
        d = strcmp(x->prod, y->prod);
    if (!d)
        d = (x->ts > y->ts) - (x->ts < y->ts);
    if (!d)
        d = (x->i > y->i) - (x->i < y->i);
    return d;
}

int tl__rc_positives(tl_store *st, const char *customer_id, struct rc_pos *out, tl_err *err)
{
    memset(out, 0, sizeof *out);
    struct ev_fold f = {.out = out};
    tl_value prm[1] = {TL_TEXT(customer_id ? customer_id : "")};
    size_t np = customer_id ? 1 : 0;
    int rc = tl_store_exec(st,
                           customer_id ? "SELECT customer_id, product_id, ts_ms, event FROM"
                                         " interactions WHERE customer_id = ?"
                                         " ORDER BY customer_id, product_id, ts_ms, id"
                                       : "SELECT customer_id, product_id, ts_ms, event FROM"
                                         " interactions ORDER BY customer_id, product_id, ts_ms, id",
                           np, prm, on_event, &f, err);
    if (rc == 0 && !f.oom)
        rc = tl_store_exec(st,
                           customer_id ? "SELECT customer_id, product_id, opened_ms FROM holdings"
                                         " WHERE customer_id = ?"
                                       : "SELECT customer_id, product_id, opened_ms FROM holdings",
                           np, prm, on_owned, &f, err);
    if (rc == 0 && !f.oom)
        rc = tl_store_exec(st,
                           customer_id
                               ? "SELECT customer_id, product_id, opened_ms FROM accounts"
                                 " WHERE customer_id = ? AND product_id IS NOT NULL AND status = 'open'"
                               : "SELECT customer_id, product_id, opened_ms FROM accounts"
                                 " WHERE product_id IS NOT NULL AND status = 'open'",
                           np, prm, on_owned, &f, err);
    if (rc == 0 && f.oom)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory reading the interactions");
    if (rc < 0) {
        tl__rc_pos_free(out);
        return tl_err_prefix(err, "reading the positives");
    }
    /* one row per pair, at its earliest */
    if (out->n > 1) {
        struct pos_ref *ix = malloc((size_t)out->n * sizeof *ix);
        if (!ix) {
            tl__rc_pos_free(out);
            return tl_err_set(err, TL_ENOMEM, "out of memory sorting the positives");
        }
        for (int64_t i = 0; i < out->n; i++)
            ix[i] = (struct pos_ref){out->cust[i], out->prod[i], out->ts[i], i};
        qsort(ix, (size_t)out->n, sizeof *ix, pos_cmp);
        struct rc_pos u = {0};
        for (int64_t r = 0; r < out->n; r++) {
            const struct pos_ref *e = &ix[r];
            if (u.n > 0 && strcmp(u.cust[u.n - 1], e->cust) == 0 &&
                strcmp(u.prod[u.n - 1], e->prod) == 0)
                continue;
            if (pos_add(&u, e->cust, e->prod, e->ts) < 0) {
                free(ix);
                tl__rc_pos_free(&u);
                tl__rc_pos_free(out);
                return tl_err_set(err, TL_ENOMEM, "out of memory sorting the positives");
            }
        }
        free(ix);
        tl__rc_pos_free(out);
        *out = u;
    }
    return 0;
}
