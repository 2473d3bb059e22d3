/*
 * teller keys: API keys (create, list, revoke) and the rotation of the data
 * key that seals PII. The new key is printed once, alone on stdout, so that
 * `KEY=$(teller keys create --role service)` works; the note that it cannot
 * be shown again goes to stderr.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *opt_role, *opt_customer, *opt_name, *opt_expires;

const struct cli_opt cli_keys_opts[] = {
    {"role", true, &opt_role, NULL, "--role ROLE        admin, analyst, service or customer (create; required)"},
    {"customer", true, &opt_customer, NULL,
     "--customer ID      the customer a customer-role key acts for (create; required with\n"
     "                     --role customer, refused with the other roles)"},
    {"name", true, &opt_name, NULL, "--name TEXT        a label to recognize the key by (create)"},
    {"expires", true, &opt_expires, NULL,
     "--expires WHEN     90d, 12h or an ISO 8601 time such as 2027-01-31T00:00:00Z\n"
     "                     (create; default: never)"},
    {0},
};

#define MAX_EXPIRES_DAYS 36500

/* "90d", "12h" or an ISO 8601 time; must lie in the future. */
static int parse_expires(struct cli_env *env, const char *s, int64_t now_ms, int64_t *out)
{
    size_t n = strlen(s);
    if (n >= 2 && (s[n - 1] == 'd' || s[n - 1] == 'h') && s[0] >= '0' && s[0] <= '9') {
        int64_t v = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            if (s[i] < '0' || s[i] > '9' || v > MAX_EXPIRES_DAYS * 24)
                return cli_usage_error(env, "--expires expects 90d, 12h or an ISO 8601 time, got \"%s\"", s);
            v = v * 10 + (s[i] - '0');
        }
        int64_t hours = s[n - 1] == 'd' ? v * 24 : v;
        if (v == 0 || hours > MAX_EXPIRES_DAYS * 24)
            return cli_usage_error(env, "--expires \"%s\" must be between 1h and %dd", s, MAX_EXPIRES_DAYS);
        *out = now_ms + hours * 3600 * 1000;
        return CLI_OK;
    }
    tl_err err = {0};
    if (tl_time_parse(s, n, out, &err) < 0)
        return cli_usage_error(env, "--expires expects 90d, 12h or an ISO 8601 time: %s", err.msg);
    if (*out <= now_ms)
        return cli_usage_error(env, "--expires \"%s\" is not in the future", s);
    return CLI_OK;
}

static json_t *time_json(int64_t ms)
{
    char buf[32];
    if (!ms || tl_time_format(ms, buf, sizeof buf) < 0)
        return json_null();
    return json_string(buf);
}

static const char *time_text(int64_t ms, char buf[32])
{
    /* Whole seconds are enough for people; --json keeps the milliseconds. */
    if (!ms || tl_time_format(ms - ms % 1000, buf, 32) < 0)
        return "-";
    return buf;
}

static int keys_create(struct cli_env *env)
{
    if (!opt_role)
        return cli_usage_error(env, "create needs --role admin|analyst|service|customer");
    enum tl_role role = tl_role_parse(opt_role);
    if (role == TL_ROLE_NONE)
        return cli_usage_error(env, "unknown role \"%s\" (admin, analyst, service or customer)", opt_role);
    if (role == TL_ROLE_CUSTOMER && !opt_customer)
        return cli_usage_error(env, "--role customer needs --customer ID");
    if (role != TL_ROLE_CUSTOMER && opt_customer)
        return cli_usage_error(env, "--customer goes only with --role customer, not with --role %s",
                               opt_role);
    int64_t expires_ms = 0;
    if (opt_expires && parse_expires(env, opt_expires, tl_time_now_ms(), &expires_ms) != CLI_OK)
        return CLI_USAGE;

    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_err err = {0};
    char *key = NULL, id[33];
    if (tl_auth_key_create(ctx, role, opt_customer, opt_name, expires_ms, &key, id, &err) < 0 ||
        cli_journal(ctx, "key.create", id, opt_customer, NULL, &err) < 0) {
        free(key);
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    if (env->json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "id", id, "key", key, "role", tl_role_name(role));
        json_object_set_new(o, "customer_id", opt_customer ? json_string(opt_customer) : json_null());
        json_object_set_new(o, "name", opt_name ? json_string(opt_name) : json_null());
        json_object_set_new(o, "expires_at", time_json(expires_ms));
        cli_print_json(o);
    } else {
        char when[32];
        printf("%s\n", key);
        fflush(stdout);
        fprintf(stderr,
                "teller keys: created key %s (role %s%s%s, expires %s). This is the only time the key "
                "is shown: store it now.\n",
                id, tl_role_name(role), opt_customer ? ", customer " : "", opt_customer ? opt_customer : "",
                expires_ms ? time_text(expires_ms, when) : "never");
    }
    /* The key is in the caller's hands now; do not leave it in this heap. */
    memset(key, 0, strlen(key));
    free(key);
    tl_ctx_close(ctx);
    return CLI_OK;
}

struct list_out {
    json_t *arr;
    int64_t now_ms;
    size_t n;
};

static const char *status_of(const struct tl_key_info *k, int64_t now_ms)
{
    if (k->revoked_ms)
        return "revoked";
    if (k->expires_ms && now_ms >= k->expires_ms)
        return "expired";
    return "active";
}

static int on_key(void *ud, const struct tl_key_info *k)
{
    struct list_out *o = ud;
    o->n++;
    const char *status = status_of(k, o->now_ms);
    if (o->arr) {
        json_t *j = json_pack("{s:s,s:s}", "id", k->id ? k->id : "", "role", tl_role_name(k->role));
        json_object_set_new(j, "customer_id", k->customer_id ? json_string(k->customer_id) : json_null());
        json_object_set_new(j, "name", k->name ? json_string(k->name) : json_null());
        json_object_set_new(j, "created_at", time_json(k->created_ms));
        json_object_set_new(j, "expires_at", time_json(k->expires_ms));
        json_object_set_new(j, "revoked_at", time_json(k->revoked_ms));
        json_object_set_new(j, "status", json_string(status));
        json_array_append_new(o->arr, j);
        return 0;
    }
    char c[32], e[32];
    printf("%-12s  %-8s  %-16s  %-20s  %-20s  %-7s  %s\n", k->id ? k->id : "", tl_role_name(k->role),
           k->customer_id ? k->customer_id : "-", time_text(k->created_ms, c), time_text(k->expires_ms, e),
           status, k->name ? k->name : "");
    return 0;
}

static int keys_list(struct cli_env *env)
{
    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    struct list_out o = {.now_ms = tl_time_now_ms(), .arr = env->json ? json_array() : NULL};
    if (!env->json)
        printf("%-12s  %-8s  %-16s  %-20s  %-20s  %-7s  %s\n", "ID", "ROLE", "CUSTOMER", "CREATED",
               "EXPIRES", "STATUS", "NAME");
    tl_err err = {0};
    if (tl_auth_key_list(ctx, on_key, &o, &err) < 0) {
        json_decref(o.arr);
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    if (env->json)
        cli_print_json(o.arr);
    tl_ctx_close(ctx);
    return CLI_OK;
}

static int keys_revoke(struct cli_env *env)
{
    if (env->n_args != 2)
        return cli_usage_error(env, "revoke needs the key id: teller keys revoke ID");
    const char *id = env->args[1];
    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_err err = {0};
    if (tl_auth_key_revoke(ctx, id, &err) < 0 || cli_journal(ctx, "key.revoke", id, NULL, NULL, &err) < 0) {
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    if (env->json)
        cli_print_json(json_pack("{s:s,s:b}", "id", id, "revoked", 1));
    else
        printf("revoked key %s\n", id);
    tl_ctx_close(ctx);
    return CLI_OK;
}

static int keys_rotate(struct cli_env *env)
{
    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_err err = {0};
    uint64_t n = 0;
    if (tl_privacy_rotate_data_key(ctx, &n, &err) < 0 ||
        cli_journal(ctx, "data_key.rotate", tl_keyring_active_id(tl_ctx_keyring(ctx)), NULL, NULL,
                    &err) < 0) {
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    const char *kid = tl_keyring_active_id(tl_ctx_keyring(ctx));
    if (env->json)
        cli_print_json(json_pack("{s:s,s:I}", "key_id", kid ? kid : "", "resealed", (json_int_t)n));
    else
        printf("data key rotated: new key %s, %llu value%s resealed\n", kid ? kid : "?",
               (unsigned long long)n, n == 1 ? "" : "s");
    tl_ctx_close(ctx);
    return CLI_OK;
}

int cli_cmd_keys(struct cli_env *env)
{
    const char *sub = env->args[0];
    bool create = strcmp(sub, "create") == 0;
    if (!create && (opt_role || opt_customer || opt_name || opt_expires))
        return cli_usage_error(env, "--role, --customer, --name and --expires go only with create");
    if (strcmp(sub, "revoke") != 0 && env->n_args > 1)
        return cli_usage_error(env, "too many arguments for %s", sub);
    if (create)
        return keys_create(env);
    if (strcmp(sub, "list") == 0)
        return keys_list(env);
    if (strcmp(sub, "revoke") == 0)
        return keys_revoke(env);
    if (strcmp(sub, "rotate-data-key") == 0)
        return keys_rotate(env);
    return cli_usage_error(env, "unknown subcommand \"%s\" (create, list, revoke, rotate-data-key)", sub);
}
