/*
 * test_advisor.c - the risk profile (levels, capacity capping tolerance,
 * drivers, contradictions, bad answers named, bad questionnaires refused)
 * and advice on a generated synthetic bank (every product suitable and
 * eligible, weights summing to 1, amounts to the amount less the leftover,
 * rows stored and journaled, the goal plan consistent with itself, nothing
 * suitable answered plainly, an unknown customer TL_ENOTFOUND).
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <teller/advisor.h>

#include "../../lib/bank/advisor_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *answers(const char *text)
{
    json_error_t je;
    json_t *a = json_loads(text, 0, &je);
    cr_assert_not_null(a, "%s", je.text);
    return a;
}

static const char MAX_ALL[] =
    "{\"horizon\":\"gt15\",\"income_stability\":\"very_stable\",\"emergency_savings\":\"gt6m\","
    "\"share_of_wealth\":\"lt10\",\"loss\":\"30pct_plus\",\"reaction\":\"buy_more\","
    "\"objective\":\"max_growth\",\"experience\":\"advanced\"}";

/* Wants the most risk, can bear the least. */
static const char CAPPED[] =
    "{\"horizon\":\"lt3\",\"income_stability\":\"unstable\",\"emergency_savings\":\"none\","
    "\"share_of_wealth\":\"gt75\",\"loss\":\"30pct_plus\",\"reaction\":\"buy_more\","
    "\"objective\":\"max_growth\",\"experience\":\"advanced\"}";

/* tolerance 7/12 (the optional experience unanswered) -> level 3;
 * capacity 12/16 = 0.75 -> level 4 */
static const char BALANCED[] =
    "{\"horizon\":\"10to15\",\"income_stability\":\"stable\",\"emergency_savings\":\"3to6m\","
    "\"share_of_wealth\":\"10to25\",\"loss\":\"10pct\",\"reaction\":\"hold\","
    "\"objective\":\"balanced\"}";

static json_t *score(const char *text)
{
    tl_advice_questionnaire *q;
    tl_err err = {0};
    cr_assert_eq(tl_advice_questionnaire_default(&q, &err), 0, "%s", err.msg);
    json_t *a = answers(text), *p = NULL;
    cr_assert_eq(tl_advice_profile_score(q, a, &p, &err), 0, "%s", err.msg);
    json_decref(a);
    tl_advice_questionnaire_free(q);
    return p;
}

static int jint(const json_t *o, const char *k)
{
    return (int)json_integer_value(json_object_get(o, k));
}

static bool has_contradiction(const json_t *p, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(p, "contradictions"), i, c)
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
            return true;
    return false;
}

Test(advisor_profile, the_default_questionnaire_validates_and_round_trips)
{
    tl_advice_questionnaire *q, *q2;
    tl_err err = {0};
    cr_assert_eq(tl_advice_questionnaire_default(&q, &err), 0, "%s", err.msg);
    cr_assert_str_eq(tl_advice_questionnaire_version(q), "teller-default-v1");
    json_t *j = tl_advice_questionnaire_json(q);
    cr_assert_eq(json_array_size(json_object_get(j, "questions")), 8);
    char *s = json_dumps(j, 0);
    cr_assert_eq(tl_advice_questionnaire_parse(s, strlen(s), "copy", &q2, &err), 0, "%s", err.msg);
    json_t *j2 = tl_advice_questionnaire_json(q2);
    cr_assert(json_equal(j, j2), "what the JSON shows parses back to the same questionnaire");
    free(s);
    json_decref(j);
    json_decref(j2);
    tl_advice_questionnaire_free(q);
    tl_advice_questionnaire_free(q2);
}

Test(advisor_profile, top_answers_give_five_without_contradictions)
{
    json_t *p = score(MAX_ALL);
    cr_assert_eq(jint(p, "profile"), 5);
    cr_assert_eq(jint(p, "tolerance"), 5);
    cr_assert_eq(jint(p, "capacity"), 5);
    cr_assert(json_is_false(json_object_get(p, "capped_by_capacity")));
    cr_assert_eq(json_array_size(json_object_get(p, "contradictions")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(p, "label")), "adventurous");
    cr_assert_eq(strlen(json_string_value(json_object_get(p, "answers_digest"))), 64);
    json_decref(p);
}

Test(advisor_profile, capacity_caps_tolerance_and_says_what_limits_it)
{
    json_t *p = score(CAPPED);
    cr_assert_eq(jint(p, "tolerance"), 5);
    cr_assert_eq(jint(p, "capacity"), 1);
    cr_assert_eq(jint(p, "profile"), 1, "the lower of the two");
    cr_assert(json_is_true(json_object_get(p, "capped_by_capacity")));
    const char *ex = json_string_value(json_object_get(p, "explanation"));
    cr_assert(strstr(ex, "caps"), "%s", ex);
    /* the drivers are capacity answers, the ones holding it down */
    json_t *d = json_object_get(p, "drivers");
    cr_assert_eq(json_array_size(d), 2);
    for (size_t i = 0; i < 2; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, i), "kind")),
                         "capacity");
    cr_assert(strstr(ex, json_string_value(json_object_get(json_array_get(d, 0), "text"))), "%s",
              ex);
    cr_assert(has_contradiction(p, "short_horizon_high_loss"));
    cr_assert(has_contradiction(p, "no_savings_high_tolerance"));
    cr_assert(has_contradiction(p, "unstable_income_max_growth"));
    cr_assert(has_contradiction(p, "tolerance_far_above_capacity"));
    cr_assert_not(has_contradiction(p, "preserve_but_buy_more"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(p, "contradictions"), i, c)
        cr_assert_gt(strlen(json_string_value(json_object_get(c, "text"))), 20);
    json_decref(p);
}

Test(advisor_profile, levels_follow_the_score_bands_and_optional_questions_may_be_left_out)
{
    json_t *p = score(BALANCED);
    cr_assert_eq(jint(p, "tolerance"), 3, "7 of 12 points");
    cr_assert_eq(jint(p, "capacity"), 4, "12 of 16 points");
    cr_assert_eq(jint(p, "profile"), 3);
    cr_assert(json_is_false(json_object_get(p, "capped_by_capacity")));
    cr_assert_float_eq(json_number_value(json_object_get(p, "tolerance_score")), 0.5833, 1e-9);
    cr_assert_str_eq(json_string_value(json_object_get(p, "label")), "balanced");
    json_decref(p);
    /* a tolerance contradiction between two tolerance answers */
    p = score("{\"horizon\":\"gt15\",\"income_stability\":\"stable\",\"emergency_savings\":\"gt6m\","
              "\"share_of_wealth\":\"lt10\",\"loss\":\"none\",\"reaction\":\"buy_more\","
              "\"objective\":\"preserve\"}");
    cr_assert(has_contradiction(p, "preserve_but_buy_more"));
    json_decref(p);
}

Test(advisor_profile, the_same_answers_give_the_same_digest_in_any_order)
{
    json_t *a = score(BALANCED);
    json_t *b = score("{\"objective\":\"balanced\",\"reaction\":\"hold\",\"loss\":\"10pct\","
                      "\"share_of_wealth\":\"10to25\",\"emergency_savings\":\"3to6m\","
                      "\"income_stability\":\"stable\",\"horizon\":\"10to15\"}");
    cr_assert_str_eq(json_string_value(json_object_get(a, "answers_digest")),
                     json_string_value(json_object_get(b, "answers_digest")));
    json_decref(a);
    json_decref(b);
}

Test(advisor_profile, bad_answers_are_all_named)
{
    tl_advice_questionnaire *q;
    tl_err err = {0};
    cr_assert_eq(tl_advice_questionnaire_default(&q, &err), 0, "%s", err.msg);
    json_t *a = answers("{\"colour\":\"blue\",\"horizon\":\"tomorrow\",\"income_stability\":3,"
                        "\"emergency_savings\":\"none\",\"share_of_wealth\":\"gt75\","
                        "\"reaction\":\"hold\",\"objective\":\"growth\"}");
    json_t *p = NULL;
    cr_assert_eq(tl_advice_profile_score(q, a, &p, &err), TL_EINVAL);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "unknown questions \"colour\""), "%s", err.msg);
    cr_assert(strstr(err.msg, "horizon: \"tomorrow\" (one of lt3, 3to5"), "%s", err.msg);
    cr_assert(strstr(err.msg, "income_stability: not a string"), "%s", err.msg);
    cr_assert(strstr(err.msg, "missing required answers: loss"), "%s", err.msg);
    cr_assert_not(strstr(err.msg, "experience"), "an optional question is not required: %s",
                  err.msg);
    json_decref(a);
    a = json_array();
    cr_assert_eq(tl_advice_profile_score(q, a, &p, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "must be a JSON object"), "%s", err.msg);
    json_decref(a);
    tl_advice_questionnaire_free(q);
}

static void bad_questionnaire(const char *text, int code, const char *needle)
{
    tl_advice_questionnaire *q = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_advice_questionnaire_parse(text, strlen(text), "q.json", &q, &err), code,
                 "%s -> %s", text, err.msg);
    cr_assert_null(q);
    cr_assert(strstr(err.msg, needle), "wanted \"%s\" in: %s", needle, err.msg);
}

#define Q1 "{\"id\":\"t\",\"text\":\"T?\",\"kind\":\"tolerance\",\"answers\":[" \
           "{\"id\":\"a\",\"text\":\"A\",\"score\":0},{\"id\":\"b\",\"text\":\"B\",\"score\":2}]}"
#define Q2 "{\"id\":\"c\",\"text\":\"C?\",\"kind\":\"capacity\",\"answers\":[" \
           "{\"id\":\"x\",\"text\":\"X\",\"score\":0},{\"id\":\"y\",\"text\":\"Y\",\"score\":1}]}"

Test(advisor_profile, bad_questionnaires_are_refused_naming_the_member)
{
    bad_questionnaire("{\"id\":\"q\",", TL_EPARSE, "q.json:");
    bad_questionnaire("{\"id\":\"q\",\"version\":1,\"questions\":[" Q1 "]}", TL_EINVAL,
                      "one question of each kind");
    bad_questionnaire("{\"id\":\"q\",\"version\":0,\"questions\":[" Q1 "," Q2 "]}", TL_EINVAL,
                      "\"version\"");
    bad_questionnaire("{\"id\":\"q\",\"version\":1,\"questions\":[" Q1 "," Q1 "]}", TL_EINVAL,
                      "question \"t\" appears twice");
    bad_questionnaire("{\"id\":\"q\",\"version\":1,\"questions\":[" Q1 ",{\"id\":\"c\",\"text\":"
                      "\"C\",\"kind\":\"risk\",\"answers\":[]}]}",
                      TL_EINVAL, "question \"c\": \"kind\"");
    bad_questionnaire("{\"id\":\"q\",\"version\":1,\"questions\":[" Q1 "," Q2 "],"
                      "\"contradictions\":[{\"id\":\"r\",\"text\":\"R\",\"when\":{\"t\":[\"z\"]}}]}",
                      TL_EINVAL, "contradiction \"r\": question \"t\" has no answer \"z\"");
    bad_questionnaire("{\"id\":\"q\",\"version\":1,\"questions\":[" Q1 "," Q2 "],"
                      "\"contradictions\":[{\"id\":\"r\",\"text\":\"R\",\"when\":{\"u\":[\"a\"]}}]}",
                      TL_EINVAL, "unknown question \"u\"");
    /* and a good one scores */
    const char *ok = "{\"id\":\"q\",\"version\":2,\"questions\":[" Q1 "," Q2 "]}";
    tl_advice_questionnaire *q;
    tl_err err = {0};
    cr_assert_eq(tl_advice_questionnaire_parse(ok, strlen(ok), NULL, &q, &err), 0, "%s", err.msg);
    cr_assert_str_eq(tl_advice_questionnaire_version(q), "q-v2");
    json_t *a = answers("{\"t\":\"b\",\"c\":\"x\"}"), *p;
    cr_assert_eq(tl_advice_profile_score(q, a, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(jint(p, "tolerance"), 5);
    cr_assert_eq(jint(p, "capacity"), 1);
    cr_assert_eq(jint(p, "profile"), 1);
    json_decref(p);
    json_decref(a);
    tl_advice_questionnaire_free(q);
}

/* ---- advice on a generated bank ------------------------------------------------- */

static char *bank_dir;
static tl_config *cfg;
static tl_ctx *ctx;

static void bank_setup(void)
{
    bank_dir = tu_tmpdir();
    char out[1100], url[1100];
    snprintf(out, sizeof out, "%s/bank", bank_dir);
    snprintf(url, sizeof url, "sqlite:%s/bank.db", bank_dir);
    struct tl_generate_opts g = {.n_customers = 200, .seed = 3, .out_dir = out, .months = 1,
                                 .quiet = true};
    struct tl_generate_result res;
    tl_err err = {0};
    cr_assert_eq(tl_generate(&g, &res, &err), 0, "%s", err.msg);
    cfg = tu_config(url, bank_dir);
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
    for (size_t t = 0; t < res.n_tables; t++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s.csv", out, res.tables[t]);
        struct tl_ingest_opts io = {.table = res.tables[t], .path = path, .quiet = true};
        struct tl_ingest_result ir;
        cr_assert_eq(tl_ingest_file(tl_ctx_store(ctx), &io, &ir, &err), 0, "%s: %s",
                     res.tables[t], err.msg);
    }
}

static void bank_teardown(void)
{
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    free(bank_dir);
}

struct ids {
    char id[16][65];
    size_t n;
};

static int on_id(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct ids *ids = ud;
    if (ids->n < 16)
        snprintf(ids->id[ids->n++], 65, "%s", v[0].s);
    return 0;
}

struct prod_row {
    bool found;
    int risk;
    char currency[4];
    int64_t min_age, max_age, min_income;
    bool has_max_age;
    char category[24];
};

static int on_prod(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct prod_row *p = ud;
    p->found = true;
    p->risk = (int)v[0].i;
    snprintf(p->currency, sizeof p->currency, "%s", v[1].s);
    p->min_age = v[2].type == TL_VAL_INT ? v[2].i : 0;
    p->has_max_age = v[3].type == TL_VAL_INT;
    p->max_age = v[3].i;
    p->min_income = v[4].type == TL_VAL_INT ? v[4].i : 0;
    snprintf(p->category, sizeof p->category, "%s", v[5].s);
    return 1;
}

struct cust_row {
    char birth[16], currency[4];
    int64_t income;
};

static int on_cust(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct cust_row *c = ud;
    snprintf(c->birth, sizeof c->birth, "%s", v[0].s);
    snprintf(c->currency, sizeof c->currency, "%s", v[1].s);
    c->income = v[2].type == TL_VAL_INT ? v[2].i : -1;
    return 1;
}

static int64_t minor(const json_t *v)
{
    const char *s = json_string_value(v);
    cr_assert_not_null(s);
    int64_t m;
    tl_err err = {0};
    cr_assert_eq(tl_money_parse(s, strlen(s), "EUR", &m, &err), 0, "%s", err.msg);
    return m;
}

static int64_t count(const char *sql, const char *arg)
{
    struct ids ids = {0};
    tl_value p[] = {TL_TEXT(arg)};
    tl_err err = {0};
    char q[300];
    snprintf(q, sizeof q, "SELECT CAST(count(*) AS TEXT) FROM %s", sql);
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), q, 1, p, on_id, &ids, &err), 0, "%s", err.msg);
    return strtoll(ids.id[0], NULL, 10);
}

/* Every product of the advice is a fund or ETF at or below the profile's
 * risk level that the customer is eligible for; weights and amounts add up. */
static void check_advice(const char *cust, const json_t *adv)
{
    int prof = jint(json_object_get(adv, "profile"), "profile");
    cr_assert(prof >= 1 && prof <= 5);
    struct cust_row c = {0};
    tl_value pc[] = {TL_TEXT(cust)};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx),
                               "SELECT birth_date, currency, annual_income_minor FROM customers "
                               "WHERE id = ?",
                               1, pc, on_cust, &c, &err),
                 0, "%s", err.msg);
    int by, bm, bd;
    cr_assert_eq(sscanf(c.birth, "%d-%d-%d", &by, &bm, &bd), 3);
    int ny;
    unsigned nm, nd;
    tl_civil_from_days(tl_time_now_ms() / 86400000, &ny, &nm, &nd);
    int age = ny - by - (((int)nm < bm || ((int)nm == bm && (int)nd < bd)) ? 1 : 0);

    json_t *prods = json_object_get(adv, "products");
    cr_assert(json_is_true(json_object_get(adv, "suitable")));
    cr_assert_gt(json_array_size(prods), 0);
    double wsum = 0;
    int64_t asum = 0;
    size_t i;
    json_t *p;
    json_array_foreach(prods, i, p) {
        struct prod_row r = {0};
        tl_value pp[] = {TL_TEXT(json_string_value(json_object_get(p, "id")))};
        cr_assert_eq(tl_store_exec(tl_ctx_store(ctx),
                                   "SELECT risk_level, currency, min_age, max_age, "
                                   "min_income_minor, category FROM products WHERE id = ?",
                                   1, pp, on_prod, &r, &err),
                     0, "%s", err.msg);
        cr_assert(r.found);
        cr_assert_leq(r.risk, prof, "%s risk %d above profile %d", pp[0].s, r.risk, prof);
        cr_assert_eq(jint(p, "risk_level"), r.risk);
        cr_assert(strcmp(r.category, "fund") == 0 || strcmp(r.category, "etf") == 0);
        cr_assert_str_eq(r.currency, c.currency);
        cr_assert_geq(age, r.min_age);
        if (r.has_max_age)
            cr_assert_leq(age, r.max_age);
        if (r.min_income > 0)
            cr_assert_geq(c.income, r.min_income, "%s needs an income of %lld", pp[0].s,
                          (long long)r.min_income);
        double w = json_number_value(json_object_get(p, "weight"));
        cr_assert_gt(w, 0);
        wsum += w;
        asum += minor(json_object_get(p, "amount"));
        cr_assert_gt(strlen(json_string_value(json_object_get(p, "reason"))), 20);
    }
    cr_assert_float_eq(wsum, 1.0, 1e-9);
    int64_t amount = minor(json_object_get(adv, "amount"));
    int64_t left = minor(json_object_get(adv, "leftover"));
    cr_assert_eq(asum, amount - left, "amounts %lld, amount %lld, leftover %lld", (long long)asum,
                 (long long)amount, (long long)left);
    cr_assert_geq(left, 0);
    cr_assert_lt(left, (int64_t)json_array_size(prods), "under one cent per product");
    cr_assert_eq(minor(json_object_get(adv, "invested")), asum);
    cr_assert_eq(strlen(json_string_value(json_object_get(adv, "inputs_digest"))), 64);
    cr_assert_gt(json_array_size(json_object_get(adv, "reasons")), 3);
}

static const char *const ANSWER_SETS[] = {
    "{\"horizon\":\"gt15\",\"income_stability\":\"very_stable\",\"emergency_savings\":\"gt6m\","
    "\"share_of_wealth\":\"lt10\",\"loss\":\"30pct_plus\",\"reaction\":\"buy_more\","
    "\"objective\":\"max_growth\"}",
    "{\"horizon\":\"10to15\",\"income_stability\":\"stable\",\"emergency_savings\":\"3to6m\","
    "\"share_of_wealth\":\"10to25\",\"loss\":\"20pct\",\"reaction\":\"hold\","
    "\"objective\":\"growth\"}",
    "{\"horizon\":\"10to15\",\"income_stability\":\"stable\",\"emergency_savings\":\"3to6m\","
    "\"share_of_wealth\":\"10to25\",\"loss\":\"10pct\",\"reaction\":\"hold\","
    "\"objective\":\"balanced\"}",
    "{\"horizon\":\"3to5\",\"income_stability\":\"variable\",\"emergency_savings\":\"lt3m\","
    "\"share_of_wealth\":\"25to50\",\"loss\":\"5pct\",\"reaction\":\"sell_some\","
    "\"objective\":\"income\"}",
    CAPPED,
};

Test(advisor, advice_on_a_generated_bank_is_suitable_eligible_and_adds_up, .init = bank_setup,
     .fini = bank_teardown, .timeout = 300)
{
    struct ids ids = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "SELECT id FROM customers ORDER BY id LIMIT 10",
                               0, NULL, on_id, &ids, &err),
                 0, "%s", err.msg);
    cr_assert_eq(ids.n, 10);
    int seen[6] = {0};
    for (size_t k = 0; k < ids.n; k++) {
        const char *set = ANSWER_SETS[k % 5];
        json_t *req = json_pack("{s:o,s:s,s:s,s:s}", "answers", answers(set), "amount",
                                k % 2 ? "10000.00" : "2500.55", "monthly", "150.00", "method",
                                k >= 5 ? "optimize" : "table");
        json_t *adv = NULL;
        cr_assert_eq(tl_advice_give(ctx, ids.id[k], req, &adv, &err), 0, "%s: %s", ids.id[k],
                     err.msg);
        check_advice(ids.id[k], adv);
        int prof = jint(json_object_get(adv, "profile"), "profile");
        seen[prof] = 1;
        if (k >= 5) {
            /* optimize: within the profile's volatility cap (or at the least volatile mix) */
            static const double cap[] = {0, 0.03, 0.06, 0.09, 0.13, 0.18};
            double vol = json_number_value(json_object_get(adv, "volatility"));
            bool least = false;
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(adv, "reasons"), i, r)
                least = least || strstr(json_string_value(r), "least volatile");
            cr_assert(vol <= cap[prof] + 1e-4 || least, "volatility %g above cap %g", vol,
                      cap[prof]);
        }
        cr_assert_eq(tl_advice_journal(ctx, "test", "cli", "advice.give", "test", adv, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(count("advice WHERE customer_id = ?", ids.id[k]), 1);
        cr_assert_eq(count("risk_profiles WHERE customer_id = ?", ids.id[k]), 1);
        cr_assert_eq(count("audit_log WHERE action = 'advice.give' AND customer_id = ?",
                           ids.id[k]),
                     1);
        json_decref(req);
        json_decref(adv);
    }
    cr_assert(seen[1] && seen[5] && seen[3], "the answer sets span the profiles");

    /* without answers: the stored profile; a second piece of advice */
    json_t *req = json_pack("{s:s}", "amount", "1000.00");
    json_t *adv = NULL;
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], req, &adv, &err), 0, "%s", err.msg);
    check_advice(ids.id[0], adv);
    cr_assert_eq(count("advice WHERE customer_id = ?", ids.id[0]), 2);
    cr_assert_eq(count("risk_profiles WHERE customer_id = ?", ids.id[0]), 1, "no new profile");
    json_decref(adv);
    json_decref(req);
}

Test(advisor, the_goal_plan_is_consistent_with_itself, .init = bank_setup, .fini = bank_teardown,
     .timeout = 300)
{
    struct ids ids = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "SELECT id FROM customers ORDER BY id LIMIT 1",
                               0, NULL, on_id, &ids, &err),
                 0, "%s", err.msg);
    int ny;
    unsigned nm, nd;
    tl_civil_from_days(tl_time_now_ms() / 86400000, &ny, &nm, &nd);
    char by[32];
    snprintf(by, sizeof by, "%04d-%02u-01", ny + 15, nm);
    json_t *req = json_pack("{s:o,s:s,s:s,s:s,s:s}", "answers", answers(BALANCED), "amount",
                            "5000.00", "monthly", "100.00", "goal", "60000.00", "by", by);
    json_t *adv = NULL;
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], req, &adv, &err), 0, "%s", err.msg);
    json_t *plan = json_object_get(adv, "plan");
    cr_assert(json_is_object(plan));
    double p = json_number_value(json_object_get(plan, "probability"));
    cr_assert(p >= 0 && p < 0.8, "100 a month should not reach 60000 at 80%%: %g", p);
    const char *need = json_string_value(json_object_get(plan, "contribution_for_80"));
    cr_assert_not_null(need);
    cr_assert_geq(json_number_value(json_object_get(plan, "probability_at_that")), 0.8);
    /* the same paths with that contribution: at least 80 % */
    json_object_set_new(req, "monthly", json_string(need));
    json_t *adv2 = NULL;
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], req, &adv2, &err), 0, "%s", err.msg);
    cr_assert_geq(json_number_value(json_object_get(json_object_get(adv2, "plan"), "probability")),
                  0.8);
    json_t *proj = json_object_get(adv, "projection");
    cr_assert_gt(json_integer_value(json_object_get(proj, "months")), 170);
    json_decref(adv);
    json_decref(adv2);

    /* bad requests name the field */
    json_t *bad = json_pack("{s:s}", "goal", "1000.00");
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], bad, &adv, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "field goal"), "%s", err.msg);
    json_decref(bad);
    bad = json_pack("{s:s,s:s}", "goal", "1000.00", "by", "2001-01-01");
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], bad, &adv, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "field by"), "%s", err.msg);
    json_decref(bad);
    bad = json_pack("{s:s}", "amount", "12.345");
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], bad, &adv, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "field amount"), "%s", err.msg);
    json_decref(bad);
    bad = json_pack("{s:s}", "colour", "blue");
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], bad, &adv, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "field colour"), "%s", err.msg);
    json_decref(bad);
    json_decref(req);
}

Test(advisor, nothing_suitable_is_an_answer_and_unknown_customers_are_not_found,
     .init = bank_setup, .fini = bank_teardown, .timeout = 300)
{
    struct ids ids = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "SELECT id FROM customers ORDER BY id LIMIT 1",
                               0, NULL, on_id, &ids, &err),
                 0, "%s", err.msg);
    /* the catalogue is all in EUR */
    json_t *req = json_pack("{s:o,s:s,s:s}", "answers", answers(MAX_ALL), "amount", "1000.00",
                            "currency", "USD");
    json_t *adv = NULL;
    cr_assert_eq(tl_advice_give(ctx, ids.id[0], req, &adv, &err), 0, "%s", err.msg);
    cr_assert(json_is_false(json_object_get(adv, "suitable")));
    cr_assert_eq(json_array_size(json_object_get(adv, "products")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(adv, "leftover")), "1000.00");
    json_t *reasons = json_object_get(adv, "reasons");
    const char *last = json_string_value(json_array_get(reasons, json_array_size(reasons) - 1));
    cr_assert(strstr(last, "None of the bank's funds"), "%s", last);
    json_decref(adv);

    adv = NULL;
    cr_assert_eq(tl_advice_give(ctx, "no-such-customer", req, &adv, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no-such-customer"), "%s", err.msg);
    cr_assert_null(adv);
    json_t *a = answers(MAX_ALL);
    cr_assert_eq(tl_advice_assess(ctx, "no-such-customer", a, &adv, &err), TL_ENOTFOUND);
    json_decref(a);
    json_decref(req);

    /* no answers and no stored profile */
    struct ids two = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx),
                               "SELECT id FROM customers ORDER BY id DESC LIMIT 1", 0, NULL, on_id,
                               &two, &err),
                 0, "%s", err.msg);
    req = json_pack("{s:s}", "amount", "10.00");
    cr_assert_eq(tl_advice_give(ctx, two.id[0], req, &adv, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "no risk profile"), "%s", err.msg);
    json_decref(req);
}

Test(advisor, the_class_correlations_give_a_positive_definite_covariance)
{
    /* five products per class, the worst case for the within/between
     * structure: a Cholesky factorization must succeed */
    enum { K = 5, C = ADV_N_CLASSES, N = K * C };
    double a[N][N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            a[i][j] = i == j ? 1.0 : i / K == j / K ? ADV_SAME_CLASS_CORR
                                                 : tl__advice_class_corr[i / K][j / K];
    for (int j = 0; j < N; j++) {
        double d = a[j][j];
        for (int k = 0; k < j; k++)
            d -= a[j][k] * a[j][k];
        cr_assert_gt(d, 1e-6, "pivot %d is %g", j, d);
        a[j][j] = sqrt(d);
        for (int i = j + 1; i < N; i++) {
            double s = a[i][j];
            for (int k = 0; k < j; k++)
                s -= a[i][k] * a[j][k];
            a[i][j] = s / a[j][j];
        }
    }
}
