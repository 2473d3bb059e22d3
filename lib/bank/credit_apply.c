/*
 * credit_apply.c - a new credit application decided and stored: the
 * champion scores it (with the applicant's age, income and occupation from
 * the customer record, as training saw them) and the row goes into
 * applications with its decision, PD, score, reasons and model version.
 *
 * The application carries money as decimal strings in its currency, like
 * ingest; the model sees major units (what store training gives it).
 */
#include "credit_internal.h"

#include <teller/datetime.h>
#include <teller/money.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cust {
    bool found;
    char birth[16];
    char occupation[81];
    int64_t income_minor;
    bool has_income;
};

static int on_customer(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct cust *c = ud;
    c->found = true;
    if (n >= 3) {
        if (v[0].type == TL_VAL_TEXT)
            snprintf(c->birth, sizeof c->birth, "%s", v[0].s);
        if (v[1].type == TL_VAL_TEXT)
            snprintf(c->occupation, sizeof c->occupation, "%s", v[1].s);
        if (v[2].type == TL_VAL_INT)
            c->income_minor = v[2].i, c->has_income = true;
    }
    return 1;
}

/* A money member as minor units; absent or null leaves *present false. */
static int money_member(const json_t *app, const char *name, const char *cur, int64_t *minor,
                        bool *present, tl_err *err)
{
    *present = false;
    const json_t *v = json_object_get(app, name);
    if (!v || json_is_null(v))
        return 0;
    char buf[40];
    const char *s = buf;
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        return tl_err_set(err, TL_EINVAL, "field %s: a decimal string such as \"1200.00\" expected",
                          name);
    int rc = tl_money_parse(s, strlen(s), cur, minor, err);
    if (rc < 0)
        return tl_err_prefix(err, "field %s", name);
    *present = true;
    return 0;
}

static int int_member(const json_t *app, const char *name, int64_t lo, int64_t hi, tl_value *out,
                      tl_err *err)
{
    const json_t *v = json_object_get(app, name);
    *out = TL_NULLV;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return tl_err_set(err, TL_EINVAL, "field %s: an integer from %lld to %lld expected", name,
                          (long long)lo, (long long)hi);
    *out = TL_INT(json_integer_value(v));
    return 0;
}

static const char *str_member(const json_t *app, const char *name, size_t max, bool required,
                              tl_err *err)
{
    const json_t *v = json_object_get(app, name);
    const char *s = json_string_value(v);
    if (!s && required) {
        tl_err_set(err, TL_EINVAL, "field %s is required (a string)", name);
        return NULL;
    }
    if (v && !json_is_null(v) && !s) {
        tl_err_set(err, TL_EINVAL, "field %s: a string expected", name);
        return NULL;
    }
    if (s && (strlen(s) == 0 || strlen(s) > max)) {
        tl_err_set(err, TL_EINVAL, "field %s: 1 to %zu characters expected", name, max);
        return NULL;
    }
    return s;
}

static json_t *major(int64_t minor, const char *cur)
{
    int e = tl_currency_exponent(cur);
    return json_real((double)minor / pow(10, e < 0 ? 2 : e));
}

int tl_credit_apply(tl_ctx *ctx, const tl_credit_model *m, const json_t *app, json_t **decision,
                    tl_err *err)
{
    if (!json_is_object(app))
        return tl_err_set(err, TL_EINVAL, "an application must be a JSON object");
    tl_err_clear(err);
    const char *id = str_member(app, "id", 64, true, err);
    const char *cust = id ? str_member(app, "customer_id", 64, true, err) : NULL;
    const char *prod = cust ? str_member(app, "product_id", 64, true, err) : NULL;
    const char *cur = prod ? str_member(app, "currency", 3, true, err) : NULL;
    const char *purpose = cur ? str_member(app, "purpose", 80, false, err) : NULL;
    const char *applied = err->code == 0 ? str_member(app, "applied_at", 40, false, err) : NULL;
    if (err->code < 0)
        return err->code;
    if (!tl_currency_valid(cur))
        return tl_err_set(err, TL_EINVAL, "field currency: \"%s\" is not an ISO 4217 code", cur);
    int64_t amount = 0, income = 0, debt = 0, applied_ms = tl_time_now_ms();
    bool has_amount, has_income, has_debt;
    tl_value term, emp, delinq;
    int rc = money_member(app, "amount", cur, &amount, &has_amount, err);
    if (rc == 0 && !has_amount)
        rc = tl_err_set(err, TL_EINVAL, "field amount is required (a decimal string)");
    if (rc == 0)
        rc = money_member(app, "annual_income", cur, &income, &has_income, err);
    if (rc == 0)
        rc = money_member(app, "existing_debt", cur, &debt, &has_debt, err);
    if (rc == 0)
        rc = int_member(app, "term_months", 1, 480, &term, err);
    if (rc == 0)
        rc = int_member(app, "employment_years", 0, 80, &emp, err);
    if (rc == 0)
        rc = int_member(app, "delinquencies_2y", 0, 1000, &delinq, err);
    if (rc == 0 && applied && tl_time_parse(applied, strlen(applied), &applied_ms, err) < 0)
        rc = tl_err_prefix(err, "field applied_at");
    if (rc < 0)
        return rc;
    /* a duplicate is the caller's mistake, said plainly (not as SQL) */
    struct cust dup = {0};
    tl_value p0[] = {TL_TEXT(id)};
    rc = tl_store_exec(tl_ctx_store(ctx), "SELECT id, id, id FROM applications WHERE id = ?", 1, p0,
                       on_customer, &dup, err);
    if (rc < 0)
        return rc;
    if (dup.found)
        return tl_err_set(err, TL_EEXISTS, "application \"%s\" exists already", id);
    struct cust c = {0};
    tl_value p1[] = {TL_TEXT(cust)};
    rc = tl_store_exec(tl_ctx_store(ctx),
                       "SELECT birth_date, occupation, annual_income_minor FROM customers WHERE id = ?",
                       1, p1, on_customer, &c, err);
    if (rc < 0)
        return rc;
    if (!c.found)
        return tl_err_set(err, TL_ENOTFOUND, "no customer with id \"%s\"", cust);

    /* the features, named as store training names them */
    json_t *feat = json_deep_copy(app);
    if (!feat)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    json_object_set_new(feat, "amount", major(amount, cur));
    json_object_set_new(feat, "annual_income", has_income ? major(income, cur) : json_null());
    json_object_set_new(feat, "existing_debt", has_debt ? major(debt, cur) : json_null());
    int64_t born_ms;
    tl_err e2 = {0};
    if (!json_object_get(feat, "age") && c.birth[0] &&
        tl_time_parse(c.birth, strlen(c.birth), &born_ms, &e2) == 0)
        json_object_set_new(feat, "age", json_integer((json_int_t)((applied_ms - born_ms) /
                                                                   (365.2425 * 86400000.0))));
    if (!json_object_get(feat, "occupation") && c.occupation[0])
        json_object_set_new(feat, "occupation", json_string(c.occupation));
    if (!json_object_get(feat, "customer_income") && c.has_income)
        json_object_set_new(feat, "customer_income", major(c.income_minor, cur));
    json_t *d = NULL;
    rc = tl_credit_score_json(m, feat, &d, err);
    json_decref(feat);
    if (rc < 0)
        return rc;
    const char *outcome = json_string_value(json_object_get(d, "decision"));
    const char *status = strcmp(outcome, "approve") == 0   ? "approved"
                         : strcmp(outcome, "decline") == 0 ? "declined"
                                                           : "pending";
    char *reasons = json_dumps(json_object_get(d, "reasons"), JSON_COMPACT);
    if (!reasons) {
        json_decref(d);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    int64_t now = tl_time_now_ms();
    tl_value p[] = {
        TL_TEXT(id), TL_TEXT(cust), TL_TEXT(prod), TL_INT(applied_ms), TL_TEXT(cur),
        TL_INT(amount), term, purpose ? TL_TEXT(purpose) : TL_NULLV,
        has_income ? TL_INT(income) : TL_NULLV, has_debt ? TL_INT(debt) : TL_NULLV, emp, delinq,
        TL_TEXT(status), TL_TEXT(outcome),
        TL_INT(llround(json_number_value(json_object_get(d, "score")))),
        TL_REAL(json_number_value(json_object_get(d, "pd"))), TL_TEXT(reasons),
        TL_TEXT(tl_credit_model_id(m)), TL_INT(now),
    };
    rc = tl_store_exec(tl_ctx_store(ctx),
                       "INSERT INTO applications (id, customer_id, product_id, applied_ms, currency,"
                       " amount_minor, term_months, purpose, annual_income_minor,"
                       " existing_debt_minor, employment_years, delinquencies_2y, status, decision,"
                       " decision_score, decision_pd, decision_reasons, decision_model, decided_ms)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       sizeof p / sizeof p[0], p, NULL, NULL, err);
    free(reasons);
    if (rc < 0) {
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "id", json_string(id));
    json_object_set_new(d, "status", json_string(status));
    *decision = d;
    return 0;
}
