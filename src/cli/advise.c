/*
 * teller advise / teller risk-profile: robo-advice from the command line.
 *
 *   advise CUSTOMER   the customer's risk profile (from --answers, or the
 *                     latest stored one), the bank's suitable funds and
 *                     ETFs with weights and amounts, a projection and a
 *                     goal plan, with the reasons; stored and journaled
 *   risk-profile      scores a questionnaire's answers; with --customer the
 *                     profile is stored and journaled
 */
#include "cli.h"

#include <teller/advisor.h>

#include <stdlib.h>
#include <string.h>

static const char *opt_answers, *opt_amount, *opt_monthly, *opt_goal, *opt_by, *opt_currency,
    *opt_method, *opt_customer;
static bool opt_show;

const struct cli_opt cli_advise_opts[] = {
    {"answers", true, &opt_answers, NULL, "--answers FILE.json   the questionnaire's answers {question: answer} (default: the latest stored profile)"},
    {"amount", true, &opt_amount, NULL, "--amount AMOUNT       the lump sum to invest now, e.g. 10000.00"},
    {"monthly", true, &opt_monthly, NULL, "--monthly AMOUNT      the monthly contribution"},
    {"goal", true, &opt_goal, NULL, "--goal AMOUNT         a target amount (needs --by)"},
    {"by", true, &opt_by, NULL, "--by YYYY-MM-DD       the goal date"},
    {"currency", true, &opt_currency, NULL, "--currency CODE       currency of the amounts and products (default: the customer's)"},
    {"method", true, &opt_method, NULL, "--method table|optimize   the profile's target mix, or efficient risk (default advice.method)"},
    {0},
};

const struct cli_opt cli_risk_profile_opts[] = {
    {"answers", true, &opt_answers, NULL, "--answers FILE.json   the questionnaire's answers {question: answer}"},
    {"customer", true, &opt_customer, NULL, "--customer ID         store the profile for this customer (journaled)"},
    {"questionnaire", false, NULL, &opt_show, "--questionnaire       print the questionnaire in effect and exit"},
    {0},
};

/* The answers file: {question: answer}, or {"answers": {...}} as the HTTP
 * body has it. */
static int load_answers(const char *path, json_t **out, tl_err *err)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tl_err_set(err, TL_EPARSE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    json_t *inner = json_object_get(doc, "answers");
    if (json_object_size(doc) == 1 && json_is_object(inner)) {
        json_incref(inner);
        json_decref(doc);
        doc = inner;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return tl_err_set(err, TL_EINVAL, "%s: the answers must be a JSON object", path);
    }
    *out = doc;
    return 0;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(v);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_profile(const json_t *p)
{
    printf("risk profile %d (%s): tolerance %d, capacity %d%s\n",
           (int)json_integer_value(json_object_get(p, "profile")), str(p, "label"),
           (int)json_integer_value(json_object_get(p, "tolerance")),
           (int)json_integer_value(json_object_get(p, "capacity")),
           json_is_true(json_object_get(p, "capped_by_capacity")) ? " (capacity caps it)" : "");
    printf("  %s\n", str(p, "explanation"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(p, "contradictions"), i, c)
        printf("  check: %s\n", str(c, "text"));
}

int cli_cmd_risk_profile(struct cli_env *env)
{
    tl_err err = {0};
    tl_advice_questionnaire *q = NULL;
    const char *path = tl_config_get(env->cfg, "advice.questionnaire_file");
    int rc = path && *path ? tl_advice_questionnaire_load(path, &q, &err)
                           : tl_advice_questionnaire_default(&q, &err);
    if (rc < 0)
        return cli_fail(env, &err);
    if (opt_show) {
        print_json(tl_advice_questionnaire_json(q));
        tl_advice_questionnaire_free(q);
        return CLI_OK;
    }
    if (!opt_answers) {
        tl_advice_questionnaire_free(q);
        return cli_usage_error(env, "--answers FILE.json is required");
    }
    json_t *answers = NULL, *p = NULL;
    if (load_answers(opt_answers, &answers, &err) < 0) {
        tl_advice_questionnaire_free(q);
        return cli_fail(env, &err);
    }
    if (!opt_customer) {
        rc = tl_advice_profile_score(q, answers, &p, &err);
    } else {
        tl_ctx *ctx = NULL;
        rc = cli_open_ctx(env, &ctx);
        if (rc != CLI_OK) {
            json_decref(answers);
            tl_advice_questionnaire_free(q);
            return rc;
        }
        rc = tl_advice_assess(ctx, opt_customer, answers, &p, &err);
        if (rc == 0 && (rc = tl_advice_journal(ctx, "cli", "cli", "risk_profile.assess",
                                               "teller risk-profile", p, &err)) < 0)
            tl_err_prefix(&err, "the profile was stored but not journaled");
        tl_ctx_close(ctx);
    }
    json_decref(answers);
    tl_advice_questionnaire_free(q);
    if (rc < 0) {
        json_decref(p);
        return cli_fail(env, &err);
    }
    if (env->json) {
        print_json(p);
        return CLI_OK;
    }
    print_profile(p);
    json_decref(p);
    return CLI_OK;
}

static void print_advice(const json_t *a)
{
    const char *cur = str(a, "currency");
    print_profile(json_object_get(a, "profile"));
    if (!json_is_true(json_object_get(a, "suitable"))) {
        json_t *r = json_object_get(a, "reasons");
        printf("%s\n", json_string_value(json_array_get(r, json_array_size(r) - 1)));
        printf("advice %s stored\n", str(a, "id"));
        return;
    }
    printf("\n%-10s %-36s %-11s %4s %7s %14s\n", "product", "name", "class", "risk", "weight",
           "amount");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(a, "products"), i, p)
        printf("%-10s %-36.36s %-11s %4d %6.1f%% %14s\n", str(p, "id"), str(p, "name"),
               str(p, "asset_class"), (int)json_integer_value(json_object_get(p, "risk_level")),
               100 * json_number_value(json_object_get(p, "weight")), str(p, "amount"));
    printf("invested %s %s, left over %s %s; expected return %.1f %%, volatility %.1f %%\n",
           str(a, "invested"), cur, str(a, "leftover"), cur,
           100 * json_number_value(json_object_get(a, "expected_return")),
           100 * json_number_value(json_object_get(a, "volatility")));
    printf("\nwhy:\n");
    json_t *r;
    json_array_foreach(json_object_get(a, "reasons"), i, r)
        printf("  - %s\n", json_string_value(r));
    printf("advice %s stored (%s)\n", str(a, "id"), str(a, "model"));
}

int cli_cmd_advise(struct cli_env *env)
{
    const char *customer = env->args[0];
    if ((opt_goal != NULL) != (opt_by != NULL))
        return cli_usage_error(env, "--goal and --by go together");
    tl_err err = {0};
    json_t *req = json_object();
    json_t *answers = NULL;
    if (opt_answers && load_answers(opt_answers, &answers, &err) < 0) {
        json_decref(req);
        return cli_fail(env, &err);
    }
    if (answers)
        json_object_set_new(req, "answers", answers);
    const char *names[] = {"amount", "monthly", "goal", "by", "currency", "method"};
    const char *vals[] = {opt_amount, opt_monthly, opt_goal, opt_by, opt_currency, opt_method};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (vals[i])
            json_object_set_new(req, names[i], json_string(vals[i]));
    tl_ctx *ctx = NULL;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK) {
        json_decref(req);
        return rc;
    }
    json_t *a = NULL;
    rc = tl_advice_give(ctx, customer, req, &a, &err);
    json_decref(req);
    if (rc == 0 && answers) {
        rc = tl_advice_journal(ctx, "cli", "cli", "risk_profile.assess", "teller advise",
                               json_object_get(a, "profile"), &err);
        if (rc < 0)
            tl_err_prefix(&err, "the advice was stored but not journaled");
    }
    if (rc == 0 && (rc = tl_advice_journal(ctx, "cli", "cli", "advice.give", "teller advise", a,
                                           &err)) < 0)
        tl_err_prefix(&err, "the advice was stored but not journaled");
    tl_ctx_close(ctx);
    if (rc < 0) {
        json_decref(a);
        return cli_fail(env, &err);
    }
    if (env->json) {
        print_json(a);
        return CLI_OK;
    }
    print_advice(a);
    json_decref(a);
    return CLI_OK;
}
