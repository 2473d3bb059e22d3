/*
 * main.c - the teller program: find the command in the table, parse its
 * options (its own plus the common ones), load the configuration, run it.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void print_main_help(FILE *fp)
{
    fprintf(fp,
            "teller %s - on-premise engine for personalized banking\n\n"
            "usage: teller COMMAND [options] [arguments]\n\n"
            "commands:\n",
            TL_VERSION);
    for (size_t i = 0; i < cli_n_commands; i++)
        fprintf(fp, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(fp, "\ncommon options:\n"
                "  --help, -h          help for a command (teller COMMAND --help)\n"
                "  --json              machine-readable output on stdout\n"
                "  --quiet, -q         no progress bars\n"
                "  --log-level LEVEL   debug, info, warn (default) or error\n"
                "  --store URL         sqlite:PATH (default sqlite:teller.db) or postgres://...\n"
                "  --config FILE       configuration file (INI)\n"
                "\nexit codes: 0 ok, 1 failed, 2 usage error\n");
}

void cli_print_command_help(FILE *fp, const struct cli_command *cmd)
{
    fprintf(fp, "usage: teller %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->help);
    bool any = cmd->opts && cmd->opts[0].name;
    if (any) {
        fprintf(fp, "\noptions:\n");
        for (const struct cli_opt *o = cmd->opts; o->name; o++)
            fprintf(fp, "  %s\n", o->help);
    }
    fprintf(fp, "\ncommon options: --help, --json, --quiet, --log-level LEVEL%s\n",
            cmd->uses_store ? ", --store URL, --config FILE" : "");
}

int cli_usage_error(const struct cli_env *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "teller %s: ", env->cmd ? env->cmd->name : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: teller %s %s\n(see teller %s --help)\n",
            env->cmd ? env->cmd->name : "COMMAND", env->cmd ? env->cmd->usage : "",
            env->cmd ? env->cmd->name : "");
    return CLI_USAGE;
}

int cli_fail(const struct cli_env *env, const tl_err *err)
{
    if (env->json) {
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", tl_errslug(err->code), "message",
                              err->msg);
        cli_print_json(e);
    }
    fprintf(stderr, "teller %s: %s\n", env->cmd->name, err->msg[0] ? err->msg : tl_strerror(err->code));
    return CLI_FAILED;
}

int cli_open_ctx(const struct cli_env *env, tl_ctx **out)
{
    tl_err err = {0};
    if (tl_ctx_open(env->cfg, out, &err) < 0)
        return cli_fail(env, &err);
    return CLI_OK;
}

int cli_parse_u64(const struct cli_env *env, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return cli_usage_error(env, "--%s expects a non-negative integer, got \"%s\"", opt, s ? s : "");
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return cli_usage_error(env, "--%s expects a non-negative integer, got \"%s\"", opt, s);
    *out = v;
    return CLI_OK;
}

int cli_journal(tl_ctx *ctx, const char *action, const char *resource, const char *customer_id,
                const char *details, tl_err *err)
{
    struct tl_audit_event ev = {.actor = "cli",
                                .role = "cli",
                                .action = action,
                                .resource = resource,
                                .customer_id = customer_id,
                                .details = details};
    int rc = tl_audit_append(ctx, &ev, err);
    if (rc < 0)
        tl_err_prefix(err, "%s %s was done but not journaled", action, resource ? resource : "");
    return rc;
}

void cli_print_json(json_t *v)
{
    if (!v)
        return;
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(v);
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

/* Matches argv[*i] against the command's options and the common ones.
 * Returns 1 when consumed, 0 when not an option, CLI_USAGE on error. */
static int parse_option(struct cli_env *env, int argc, char **argv, int *i, const char **store,
                        const char **config, const char **log_level, bool *help)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        return *help = true, 1;
    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
        return env->quiet = true, 1;
    if (strncmp(a, "--", 2) != 0)
        return 0;
    const char *name = a + 2;
    const char *inline_val = strchr(name, '=');
    size_t name_len = inline_val ? (size_t)(inline_val - name) : strlen(name);

    struct {
        const char *name;
        bool has_arg;
        const char **value;
        bool *flag;
    } common[] = {
        {"json", false, NULL, &env->json},
        {"log-level", true, log_level, NULL},
        {"store", true, env->cmd->uses_store ? store : NULL, NULL},
        {"config", true, env->cmd->uses_store ? config : NULL, NULL},
    };
    const char **value = NULL;
    bool *flag = NULL;
    bool has_arg = false, found = false;
    for (const struct cli_opt *o = env->cmd->opts; o && o->name && !found; o++)
        if (strlen(o->name) == name_len && strncmp(o->name, name, name_len) == 0)
            found = true, has_arg = o->has_arg, value = o->value, flag = o->flag;
    for (size_t k = 0; k < sizeof common / sizeof common[0] && !found; k++)
        if (strlen(common[k].name) == name_len && strncmp(common[k].name, name, name_len) == 0 &&
            (common[k].value || common[k].flag))
            found = true, has_arg = common[k].has_arg, value = common[k].value, flag = common[k].flag;
    if (!found)
        return cli_usage_error(env, "unknown option \"%s\"", a);
    if (!has_arg) {
        if (inline_val)
            return cli_usage_error(env, "option --%.*s takes no value", (int)name_len, name);
        *flag = true;
        return 1;
    }
    if (inline_val) {
        *value = inline_val + 1;
    } else {
        if (*i + 1 >= argc)
            return cli_usage_error(env, "option --%s needs a value", name);
        *value = argv[++*i];
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && find_command(argv[2])) {
            cli_print_command_help(stdout, find_command(argv[2]));
            return CLI_OK;
        }
        print_main_help(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("teller %s\n", TL_VERSION);
        return CLI_OK;
    }
    struct cli_env env = {.prog = argv[0]};
    env.cmd = find_command(argv[1]);
    if (!env.cmd) {
        fprintf(stderr, "teller: unknown command \"%s\"\n\n", argv[1]);
        print_main_help(stderr);
        return CLI_USAGE;
    }

    const char *store = NULL, *config = NULL, *log_level = NULL;
    bool help = false, only_args = false;
    char **args = calloc((size_t)argc, sizeof *args);
    if (!args)
        return CLI_FAILED;
    env.args = args;
    int rc = CLI_OK;
    for (int i = 2; i < argc && rc == CLI_OK; i++) {
        if (!only_args && strcmp(argv[i], "--") == 0) {
            only_args = true;
            continue;
        }
        int r = only_args ? 0 : parse_option(&env, argc, argv, &i, &store, &config, &log_level, &help);
        if (r == CLI_USAGE)
            rc = CLI_USAGE;
        else if (r == 0)
            args[env.n_args++] = argv[i];
    }
    if (rc != CLI_OK)
        goto out;
    if (help) {
        cli_print_command_help(stdout, env.cmd);
        goto out;
    }
    if (env.n_args < env.cmd->min_args || env.n_args > env.cmd->max_args) {
        rc = cli_usage_error(&env, env.n_args < env.cmd->min_args ? "missing arguments"
                                                                   : "too many arguments");
        goto out;
    }

    /* Configuration: defaults < file < environment < flags. */
    tl_err err = {0};
    env.cfg = tl_config_new();
    if (!env.cfg) {
        rc = CLI_FAILED;
        goto out;
    }
    if (!config)
        config = getenv("TELLER_CONFIG");
    if ((config && *config && tl_config_load_file(env.cfg, config, &err) < 0) ||
        tl_config_load_env(env.cfg, NULL, &err) < 0 ||
        (store && tl_config_set(env.cfg, "store.url", store, TL_CONFIG_FLAG, &err) < 0) ||
        (log_level && tl_config_set(env.cfg, "log.level", log_level, TL_CONFIG_FLAG, &err) < 0)) {
        rc = cli_fail(&env, &err);
        goto out;
    }
    int level = tl_log_level_parse(tl_config_get(env.cfg, "log.level"));
    if (level < 0) {
        rc = cli_usage_error(&env, "unknown log level \"%s\" (debug, info, warn, error, off)",
                             tl_config_get(env.cfg, "log.level"));
        goto out;
    }
    tl_log_set_level((enum tl_log_level)level);
    rc = env.cmd->run(&env);
out:
    tl_config_free(env.cfg);
    free(args);
    return rc;
}
