/*
 * router.c - THE route table: every route the server answers, once.
 *
 * Dispatch reads it; `teller serve --print-routes --json` prints it; the
 * authorization matrix test (tests/integration/http_authz.sh) generates
 * every route x role x own/other customer case from that print, and
 * tests/integration/http_openapi.sh checks it against docs/openapi.yaml both
 * ways. A route added here is therefore documented and authorization-tested
 * or the suite fails.
 *
 * Roles: customer (its own customer's data only), analyst (reads all
 * customer data), service (ingest), admin (keys, configuration). Customer
 * data is not an admin's business: least privilege, each role its own job.
 */
#include "server.h"

#include <string.h>

#define R_CUSTOMER TL_ROLE_CUSTOMER
#define R_ANALYST TL_ROLE_ANALYST
#define R_SERVICE TL_ROLE_SERVICE
#define R_ADMIN TL_ROLE_ADMIN
#define PAGE_QUERY "cursor,limit"
#define TX_QUERY "cursor,limit,from,to"

/* clang-format off */
const struct srv_route srv_routes[] = {
    {SRV_GET, "/", SRV_PUBLIC, SRV_SCOPE_NONE, srv_h_index,
     "what this server is and the routes it answers", NULL, SRV_BODY_NONE, NULL, NULL, false},
    {SRV_GET, "/healthz", SRV_PUBLIC, SRV_SCOPE_NONE, srv_h_healthz,
     "liveness: the process answers", NULL, SRV_BODY_NONE, NULL, NULL, false},
    {SRV_GET, "/readyz", SRV_PUBLIC, SRV_SCOPE_NONE, srv_h_readyz,
     "readiness: the store answers and its schema is current", NULL, SRV_BODY_NONE, NULL, NULL, true},
    {SRV_GET, "/metrics", SRV_PUBLIC, SRV_SCOPE_NONE, srv_h_metrics,
     "Prometheus metrics: requests by route and status, latencies, store errors", NULL, SRV_BODY_NONE,
     NULL, NULL, false},

    {SRV_GET, "/v1/customers", R_ANALYST, SRV_SCOPE_NONE, srv_h_customers_list,
     "customers ordered by id, without their personal data", NULL, SRV_BODY_NONE, PAGE_QUERY,
     "customer.list", false},
    {SRV_GET, "/v1/customers/{id}", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER, srv_h_customer_get,
     "one customer with its personal data", NULL, SRV_BODY_NONE, NULL, "customer.read", false},
    {SRV_GET, "/v1/customers/{id}/accounts", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER,
     srv_h_customer_accounts, "the customer's accounts", NULL, SRV_BODY_NONE, NULL, "accounts.read",
     false},
    {SRV_GET, "/v1/customers/{id}/transactions", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER,
     srv_h_customer_transactions, "transactions on all the customer's accounts, newest first", NULL,
     SRV_BODY_NONE, TX_QUERY, "transactions.read", false},
    {SRV_GET, "/v1/accounts/{id}", R_CUSTOMER | R_ANALYST, SRV_SCOPE_ACCOUNT, srv_h_account_get,
     "one account", NULL, SRV_BODY_NONE, NULL, "account.read", false},
    {SRV_GET, "/v1/accounts/{id}/transactions", R_CUSTOMER | R_ANALYST, SRV_SCOPE_ACCOUNT,
     srv_h_account_transactions, "transactions on one account, newest first", NULL, SRV_BODY_NONE,
     TX_QUERY, "transactions.read", false},

    {SRV_POST, "/v1/customers/{id}/risk-profile", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER,
     srv_h_customer_risk_profile,
     "assess the customer's risk profile from the questionnaire's answers, stored and journaled",
     "RiskProfileAnswers", SRV_BODY_JSON, NULL, NULL, false},
    {SRV_POST, "/v1/customers/{id}/advice", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER,
     srv_h_customer_advice,
     "investment advice: suitable funds and ETFs, amounts, projection and goal plan, journaled",
     "AdviceRequest", SRV_BODY_JSON, NULL, NULL, false},
    {SRV_GET, "/v1/customers/{id}/profile", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER,
     srv_h_customer_profile,
     "the customer's profile: income, spending by category, fixed costs, products, life signals, segment",
     NULL, SRV_BODY_NONE, NULL, "profile.read", false},
    {SRV_GET, "/v1/customers/{id}/recommendations", R_CUSTOMER | R_ANALYST, SRV_SCOPE_CUSTOMER,
     srv_h_customer_recommendations,
     "next-best products for the customer under the rules, each with a reason, stored and journaled",
     NULL, SRV_BODY_NONE, "k", NULL, false},
    {SRV_POST, "/v1/interactions", R_SERVICE | R_CUSTOMER, SRV_SCOPE_NONE, srv_h_interaction_create,
     "record what a customer did with a product (shown, clicked, applied, bought, dismissed), journaled",
     "Interaction", SRV_BODY_JSON, NULL, NULL, false},
    {SRV_GET, "/v1/segments", R_ANALYST, SRV_SCOPE_NONE, srv_h_segments,
     "the stored customer segmentation with each segment's description", NULL, SRV_BODY_NONE,
     "model", NULL, false},

    {SRV_GET, "/v1/products", TL_ROLES_ALL, SRV_SCOPE_NONE, srv_h_products_list,
     "the product catalogue ordered by id", NULL, SRV_BODY_NONE, PAGE_QUERY, NULL, false},
    {SRV_GET, "/v1/products/{id}", TL_ROLES_ALL, SRV_SCOPE_NONE, srv_h_product_get,
     "one product", NULL, SRV_BODY_NONE, NULL, NULL, false},

    {SRV_POST, "/v1/ingest/{table}", R_SERVICE | R_ADMIN, SRV_SCOPE_NONE, srv_h_ingest,
     "load a CSV or JSON Lines body into a table, validated, all or nothing", "IngestBody",
     SRV_BODY_INGEST, NULL, NULL, false},

    {SRV_POST, "/v1/credit/score", R_SERVICE | R_ADMIN, SRV_SCOPE_NONE, srv_h_credit_score,
     "score a credit application: decision, PD, score and reasons, journaled", "CreditApplication",
     SRV_BODY_JSON, NULL, NULL, false},
    {SRV_POST, "/v1/applications", R_SERVICE, SRV_SCOPE_NONE, srv_h_application_create,
     "decide a new credit application with the champion and store it, journaled", "Application",
     SRV_BODY_JSON, NULL, NULL, false},

    {SRV_POST, "/v1/transactions", R_SERVICE, SRV_SCOPE_NONE, srv_h_transaction_create,
     "decide a card payment with the live fraud engine and store it, journaled", "CardTransaction",
     SRV_BODY_JSON, NULL, NULL, false},
    {SRV_GET, "/v1/alerts", R_ANALYST, SRV_SCOPE_NONE, srv_h_alerts_list,
     "the fraud alert queue: one alert per card, highest score first", NULL, SRV_BODY_NONE,
     "limit,status", "alerts.read", false},
    {SRV_GET, "/v1/alerts/{id}", R_ANALYST, SRV_SCOPE_NONE, srv_h_alert_get,
     "one fraud alert with its transactions", NULL, SRV_BODY_NONE, NULL, "alert.read", false},
    {SRV_POST, "/v1/alerts/{id}/resolve", R_ANALYST, SRV_SCOPE_NONE, srv_h_alert_resolve,
     "resolve an alert as fraud or genuine: its transactions are labelled, journaled",
     "AlertResolution", SRV_BODY_JSON, NULL, NULL, false},

    {SRV_POST, "/v1/chat/completions", R_CUSTOMER | R_ANALYST | R_SERVICE, SRV_SCOPE_NONE,
     srv_h_llm_chat, "OpenAI-compatible chat completion, streamed with server-sent events on request, journaled",
     "ChatCompletionRequest", SRV_BODY_JSON, NULL, NULL, false},
    {SRV_POST, "/v1/completions", R_CUSTOMER | R_ANALYST | R_SERVICE, SRV_SCOPE_NONE,
     srv_h_llm_complete, "OpenAI-compatible text completion of a raw prompt, journaled",
     "CompletionRequest", SRV_BODY_JSON, NULL, NULL, false},
    {SRV_GET, "/v1/models", TL_ROLES_ALL, SRV_SCOPE_NONE, srv_h_llm_models,
     "the LLM served (OpenAI-compatible model list)", NULL, SRV_BODY_NONE, NULL, NULL, false},

    {SRV_GET, "/v1/keys", R_ADMIN, SRV_SCOPE_NONE, srv_h_keys_list,
     "API keys (never their secrets)", NULL, SRV_BODY_NONE, NULL, NULL, false},
    {SRV_POST, "/v1/keys", R_ADMIN, SRV_SCOPE_NONE, srv_h_key_create,
     "create an API key; its secret is shown once", "KeyCreate", SRV_BODY_JSON, NULL, NULL, false},
    {SRV_DELETE, "/v1/keys/{id}", R_ADMIN, SRV_SCOPE_NONE, srv_h_key_revoke,
     "revoke an API key", NULL, SRV_BODY_NONE, NULL, NULL, false},
    {SRV_GET, "/v1/config", R_ADMIN, SRV_SCOPE_NONE, srv_h_config,
     "the effective configuration, secrets redacted", NULL, SRV_BODY_NONE, NULL, NULL, false},
};
/* clang-format on */
const size_t srv_n_routes = sizeof srv_routes / sizeof srv_routes[0];

const char *srv_method_name(enum srv_method m)
{
    switch (m) {
    case SRV_GET: return "GET";
    case SRV_POST: return "POST";
    case SRV_DELETE: return "DELETE";
    }
    return "?";
}

static enum srv_method method_of(const char *m)
{
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return SRV_GET;
    if (strcmp(m, "POST") == 0)
        return SRV_POST;
    if (strcmp(m, "DELETE") == 0)
        return SRV_DELETE;
    return 0;
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

/* Matches path against pattern, segment by segment; {name} takes one
 * segment that must look like an id. */
static bool path_matches(const char *pattern, const char *path, char params[][SRV_PARAM_MAX],
                         size_t *n_params)
{
    const char *p = pattern, *s = path;
    size_t n = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || n >= SRV_MAX_PARAMS)
                return false;
            size_t len = 0;
            while (s[len] && s[len] != '/')
                len++;
            if (len == 0 || len >= SRV_PARAM_MAX)
                return false;
            for (size_t i = 0; i < len; i++)
                if (!id_char(s[i]))
                    return false;
            memcpy(params[n], s, len);
            params[n][len] = '\0';
            n++;
            p = close + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return false;
        p++, s++;
    }
    if (*p || *s)
        return false;
    *n_params = n;
    return true;
}

int srv_route_match(const char *method, const char *path, char params[][SRV_PARAM_MAX],
                    size_t *n_params, unsigned *allowed)
{
    enum srv_method m = method_of(method);
    unsigned other = 0;
    for (size_t i = 0; i < srv_n_routes; i++) {
        char tmp[SRV_MAX_PARAMS][SRV_PARAM_MAX];
        size_t n = 0;
        if (!path_matches(srv_routes[i].path, path, tmp, &n))
            continue;
        if (srv_routes[i].method != m) {
            other |= srv_routes[i].method;
            continue;
        }
        memcpy(params, tmp, sizeof tmp);
        *n_params = n;
        return (int)i;
    }
    *allowed = other;
    return other ? -2 : -1;
}

static json_t *csv_array(const char *list)
{
    json_t *a = json_array();
    while (a && list && *list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        json_array_append_new(a, json_stringn(list, len));
        list = comma ? comma + 1 : list + len;
    }
    return a;
}

json_t *srv_routes_json(void)
{
    static const char *const scopes[] = {"none", "customer", "account"};
    json_t *all = json_array();
    for (size_t i = 0; all && i < srv_n_routes; i++) {
        const struct srv_route *rt = &srv_routes[i];
        json_t *roles = json_array();
        for (unsigned bit = TL_ROLE_CUSTOMER; bit <= TL_ROLE_ADMIN; bit <<= 1)
            if (rt->roles & bit)
                json_array_append_new(roles, json_string(tl_role_name((enum tl_role)bit)));
        json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:b, s:s, s:s, s:s?, s:o, s:s?}", "method",
                              srv_method_name(rt->method), "path", rt->path, "roles", roles,
                              "public", rt->roles == SRV_PUBLIC, "customer_scoped",
                              rt->scope != SRV_SCOPE_NONE, "scope", scopes[rt->scope], "summary",
                              rt->summary, "schema", rt->schema, "query", csv_array(rt->query),
                              "audit", rt->audit);
        json_array_append_new(all, o);
    }
    return all;
}
