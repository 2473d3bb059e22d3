/*
 * teller customer: the data subject's rights from the command line. export
 * writes everything held about a customer as JSON (PII decrypted), erase
 * removes their personal data for good, find looks a customer up by email or
 * national id through the blind index. Each is journaled in the audit log.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *opt_out;
static bool opt_yes;

const struct cli_opt cli_customer_opts[] = {
    {"out", true, &opt_out, NULL, "--out FILE   export: write to FILE (mode 0600) instead of stdout"},
    {"yes", false, NULL, &opt_yes, "--yes        erase: do not ask for confirmation (needed without a terminal)"},
    {0},
};

/* Journals what was done to whose data. */
static int journal(tl_ctx *ctx, const char *action, const char *id, tl_err *err)
{
    return cli_journal(ctx, action, "customer", id, NULL, err);
}

static int customer_export(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    tl_err err = {0};
    json_t *doc = NULL;
    if (tl_privacy_export_customer(ctx, id, &doc, &err) < 0 ||
        journal(ctx, "customer.export", id, &err) < 0) {
        json_decref(doc);
        return cli_fail(env, &err);
    }
    FILE *out = stdout;
    if (opt_out) {
        /* the export holds the customer's PII in the clear */
        int fd = open(opt_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            tl_err_set(&err, TL_EIO, "cannot create %s: %s", opt_out, strerror(errno));
            if (fd >= 0)
                close(fd);
            json_decref(doc);
            return cli_fail(env, &err);
        }
    }
    int w = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (w == 0)
        fputc('\n', out);
    bool bad = w != 0 || ferror(out);
    if (out != stdout)
        bad = fclose(out) != 0 || bad;
    else
        bad = fflush(out) != 0 || bad;
    if (bad) {
        tl_err_set(&err, TL_EIO, "cannot write %s: %s", opt_out ? opt_out : "stdout",
                   strerror(errno));
        return cli_fail(env, &err);
    }
    if (opt_out && !env->quiet)
        fprintf(stderr, "exported customer %s to %s\n", id, opt_out);
    return CLI_OK;
}

/* Asks on the terminal; the customer id must be typed back, so that a
 * reflexive "y" cannot erase the wrong person. */
static bool confirmed(const char *id)
{
    fprintf(stderr,
            "This erases the personal data of customer %s for good (accounts and\n"
            "transactions stay, without a name). Type the customer id to confirm: ",
            id);
    char line[128];
    if (!fgets(line, sizeof line, stdin))
        return false;
    line[strcspn(line, "\r\n")] = 0;
    return strcmp(line, id) == 0;
}

static int customer_erase(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    tl_err err = {0};
    if (tl_privacy_erase_customer(ctx, id, &err) < 0 ||
        journal(ctx, "customer.erase", id, &err) < 0)
        return cli_fail(env, &err);
    if (env->json)
        cli_print_json(json_pack("{s:s,s:b}", "id", id, "erased", 1));
    else
        printf("customer %s erased\n", id);
    return CLI_OK;
}

static int customer_find(struct cli_env *env, tl_ctx *ctx, const char *field, const char *value)
{
    char id[65];
    tl_err err = {0};
    if (tl_privacy_find_customer(ctx, field, value, id, &err) < 0 ||
        journal(ctx, "customer.find", id, &err) < 0)
        return cli_fail(env, &err);
    if (env->json)
        cli_print_json(json_pack("{s:s}", "id", id));
    else
        printf("%s\n", id);
    return CLI_OK;
}

int cli_cmd_customer(struct cli_env *env)
{
    const char *sub = env->args[0];
    bool find = strcmp(sub, "find") == 0;
    if (strcmp(sub, "export") != 0 && strcmp(sub, "erase") != 0 && !find)
        return cli_usage_error(env, "unknown subcommand \"%s\" (export, erase, find)", sub);
    if (env->n_args != (find ? 3u : 2u))
        return cli_usage_error(env, "%s takes %s", sub, find ? "a field and a value" : "one customer id");
    if (opt_out && strcmp(sub, "export") != 0)
        return cli_usage_error(env, "--out goes only with export");
    if (opt_yes && strcmp(sub, "erase") != 0)
        return cli_usage_error(env, "--yes goes only with erase");

    char value[1024];
    const char *arg = env->args[1];
    if (find) {
        if (strcmp(arg, "email") != 0 && strcmp(arg, "national_id") != 0)
            return cli_usage_error(env, "find by email or national_id, not \"%s\"", arg);
        const char *v = env->args[2];
        /* "-" reads the value from stdin, keeping it out of ps and shell history */
        if (strcmp(v, "-") == 0) {
            if (!fgets(value, sizeof value, stdin))
                return cli_usage_error(env, "find: no value on stdin");
            value[strcspn(value, "\r\n")] = 0;
            v = value;
        }
        tl_ctx *ctx;
        int rc = cli_open_ctx(env, &ctx);
        if (rc != CLI_OK)
            return rc;
        rc = customer_find(env, ctx, arg, v);
        tl_ctx_close(ctx);
        return rc;
    }
    if (strcmp(sub, "erase") == 0 && !opt_yes) {
        if (!isatty(STDIN_FILENO))
            return cli_usage_error(env, "erase needs --yes when not run on a terminal");
        if (!confirmed(arg)) {
            fprintf(stderr, "not confirmed: nothing erased\n");
            return CLI_FAILED;
        }
    }
    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    rc = strcmp(sub, "export") == 0 ? customer_export(env, ctx, arg) : customer_erase(env, ctx, arg);
    tl_ctx_close(ctx);
    return rc;
}
