/*
 * teller audit: verify the hash-chained journal (optionally against a head
 * recorded earlier), list its entries, and append one by hand. verify exits
 * 0 when the chain is intact and 1 when it is broken, naming the first bad
 * row, so that a cron job or a monitoring probe can run it as it is.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *opt_expect_head, *opt_customer, *opt_limit, *opt_action, *opt_details;

const struct cli_opt cli_audit_opts[] = {
    {"expect-head", true, &opt_expect_head, NULL,
     "--expect-head SEQ:HASH  verify: also require row SEQ to still have HASH, a head\n"
     "                          recorded earlier (catches deleted tail rows and rewrites)"},
    {"customer", true, &opt_customer, NULL,
     "--customer ID           log: only this customer's entries; append: whose data"},
    {"limit", true, &opt_limit, NULL, "--limit N               log: at most N entries, newest first (default 100; 0: all)"},
    {"action", true, &opt_action, NULL, "--action A              append: what was done (required)"},
    {"details", true, &opt_details, NULL, "--details JSON          append: details, a JSON value"},
    {0},
};

#define DEFAULT_LIMIT 100

/* Refuses options that belong to another subcommand, naming them; allowed
 * is a NULL-terminated list. */
static int only_options(struct cli_env *env, const char *sub, const char *const *allowed)
{
    struct {
        const char *name;
        const char *value;
    } given[] = {{"expect-head", opt_expect_head}, {"customer", opt_customer}, {"limit", opt_limit},
                 {"action", opt_action},           {"details", opt_details}};
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++) {
        bool ok = !given[i].value;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, given[i].name) == 0;
        if (!ok)
            return cli_usage_error(env, "--%s does not go with `teller audit %s`", given[i].name, sub);
    }
    return CLI_OK;
}

/* Prints s with control characters shown as '?': journal fields come from
 * API callers and must not drive the terminal. */
static void put_safe(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* ---------------------------------------------------------------- verify */

static int parse_anchor(struct cli_env *env, const char *s, int64_t *seq, const char **hash)
{
    const char *colon = strchr(s, ':');
    char *end = NULL;
    errno = 0;
    long long v = colon && s[0] >= '0' && s[0] <= '9' ? strtoll(s, &end, 10) : -1;
    size_t hash_len = colon ? strlen(colon + 1) : 0;
    if (v < 0 || errno || end != colon || hash_len != 64 || strspn(colon + 1, "0123456789abcdefABCDEF") != 64)
        return cli_usage_error(env,
                               "--expect-head expects SEQ:HASH as `teller audit verify` prints the head "
                               "(a row number, a colon, 64 hex digits), got \"%s\"",
                               s);
    *seq = v;
    *hash = colon + 1;
    return CLI_OK;
}

/* The anchor given with --expect-head, parsed before the store is opened. */
static int64_t anchor_seq;
static const char *anchor_hash;

static int audit_verify(struct cli_env *env, tl_ctx *ctx)
{
    struct tl_audit_report rep;
    tl_err err = {0};
    int rc = anchor_hash ? tl_audit_verify_anchor(ctx, anchor_seq, anchor_hash, &rep, &err)
                         : tl_audit_verify(ctx, &rep, &err);
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json) {
        char head[96];
        snprintf(head, sizeof head, "%lld:%s", (long long)rep.head_seq, rep.head_hash);
        json_t *o = json_pack("{s:b,s:I,s:s,s:I,s:s}", "ok", rep.ok, "rows_checked",
                              (json_int_t)rep.rows_checked, "head", head, "head_seq",
                              (json_int_t)rep.head_seq, "head_hash", rep.head_hash);
        json_object_set_new(o, "first_bad_seq",
                            rep.ok ? json_null() : json_integer((json_int_t)rep.first_bad_seq));
        json_object_set_new(o, "problem", rep.ok ? json_null() : json_string(rep.problem));
        cli_print_json(o);
    } else if (rep.ok) {
        printf("audit log intact: %llu rows verified%s\n", (unsigned long long)rep.rows_checked,
               anchor_hash ? ", and the expected head is still in place" : "");
        printf("head %lld:%s\n", (long long)rep.head_seq, rep.head_hash);
    } else {
        if (rep.first_bad_seq > 0)
            printf("audit log BROKEN at row %lld: %s\n", (long long)rep.first_bad_seq, rep.problem);
        else
            printf("audit log BROKEN: %s\n", rep.problem);
        printf("the chain verifies up to row %lld (%lld:%s)\n", (long long)rep.head_seq,
               (long long)rep.head_seq, rep.head_hash);
    }
    return rep.ok ? CLI_OK : CLI_FAILED;
}

/* ------------------------------------------------------------------- log */

struct log_out {
    json_t *entries; /* --json */
};

static json_t *str_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static int print_entry(void *ud, const struct tl_audit_entry *e)
{
    struct log_out *out = ud;
    char ts[32];
    if (tl_time_format(e->ts_ms, ts, sizeof ts) < 0)
        snprintf(ts, sizeof ts, "%lld", (long long)e->ts_ms);
    if (out->entries) {
        json_t *details = NULL;
        if (e->details)
            details = json_loads(e->details, JSON_DECODE_ANY, NULL);
        if (!details)
            details = str_or_null(e->details);
        json_t *o = json_object();
        json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
        json_object_set_new(o, "id", str_or_null(e->id));
        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "ts_ms", json_integer((json_int_t)e->ts_ms));
        json_object_set_new(o, "actor", str_or_null(e->actor));
        json_object_set_new(o, "role", str_or_null(e->role));
        json_object_set_new(o, "action", str_or_null(e->action));
        json_object_set_new(o, "resource", str_or_null(e->resource));
        json_object_set_new(o, "customer_id", str_or_null(e->customer_id));
        json_object_set_new(o, "request_id", str_or_null(e->request_id));
        json_object_set_new(o, "model_version", str_or_null(e->model_version));
        json_object_set_new(o, "inputs_digest", str_or_null(e->inputs_digest));
        json_object_set_new(o, "details", details);
        json_object_set_new(o, "prev_hash", str_or_null(e->prev_hash));
        json_object_set_new(o, "hash", str_or_null(e->hash));
        json_array_append_new(out->entries, o);
        return 0;
    }
    printf("%6lld  %s  ", (long long)e->seq, ts);
    put_safe(e->actor ? e->actor : "-");
    printf(" (");
    put_safe(e->role ? e->role : "-");
    printf(")  ");
    put_safe(e->action ? e->action : "-");
    const struct {
        const char *label, *value;
    } extra[] = {{"resource", e->resource},           {"customer", e->customer_id},
                 {"request", e->request_id},          {"model", e->model_version},
                 {"details", e->details}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        if (!extra[i].value)
            continue;
        printf("  %s=", extra[i].label);
        put_safe(extra[i].value);
    }
    putchar('\n');
    return 0;
}

static uint64_t log_limit = DEFAULT_LIMIT;

static int audit_log(struct cli_env *env, tl_ctx *ctx)
{
    struct log_out out = {.entries = env->json ? json_array() : NULL};
    tl_err err = {0};
    if (tl_audit_list(ctx, opt_customer, log_limit, print_entry, &out, &err) < 0) {
        json_decref(out.entries);
        return cli_fail(env, &err);
    }
    if (out.entries)
        cli_print_json(json_pack("{s:o}", "entries", out.entries));
    return CLI_OK;
}

/* ---------------------------------------------------------------- append */

static int audit_append(struct cli_env *env, tl_ctx *ctx)
{
    struct tl_audit_event ev = {.actor = "cli",
                                .role = "cli",
                                .action = opt_action,
                                .customer_id = opt_customer,
                                .details = opt_details};
    tl_err err = {0};
    if (tl_audit_append(ctx, &ev, &err) < 0)
        return cli_fail(env, &err);
    if (env->json)
        cli_print_json(json_pack("{s:b}", "appended", 1));
    return CLI_OK;
}

int cli_cmd_audit(struct cli_env *env)
{
    const char *sub = env->args[0];
    int (*run)(struct cli_env *, tl_ctx *) = NULL;
    int rc;
    if (strcmp(sub, "verify") == 0) {
        run = audit_verify;
        rc = only_options(env, sub, (const char *const[]){"expect-head", NULL});
        if (rc == CLI_OK && opt_expect_head)
            rc = parse_anchor(env, opt_expect_head, &anchor_seq, &anchor_hash);
    } else if (strcmp(sub, "log") == 0) {
        run = audit_log;
        rc = only_options(env, sub, (const char *const[]){"customer", "limit", NULL});
        if (rc == CLI_OK && opt_limit)
            rc = cli_parse_u64(env, "limit", opt_limit, &log_limit);
    } else if (strcmp(sub, "append") == 0) {
        run = audit_append;
        rc = only_options(env, sub, (const char *const[]){"action", "customer", "details", NULL});
        if (rc == CLI_OK && !opt_action)
            rc = cli_usage_error(env, "append needs --action A");
        json_error_t je;
        json_t *j = rc == CLI_OK && opt_details ? json_loads(opt_details, JSON_DECODE_ANY, &je) : NULL;
        if (rc == CLI_OK && opt_details && !j)
            rc = cli_usage_error(env, "--details must be JSON: %s at byte %d", je.text, je.position);
        json_decref(j);
    } else {
        return cli_usage_error(env, "unknown subcommand \"%s\" (verify, log or append)", sub);
    }
    if (rc != CLI_OK)
        return rc;
    tl_ctx *ctx;
    if ((rc = cli_open_ctx(env, &ctx)) != CLI_OK)
        return rc;
    rc = run(env, ctx);
    tl_ctx_close(ctx);
    return rc;
}
