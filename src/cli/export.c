/* teller export: write a table in the format ingest reads. */
#include "cli.h"

#include <string.h>

static const char *opt_out, *opt_format;

const struct cli_opt cli_export_opts[] = {
    {"out", true, &opt_out, NULL, "--out FILE       write to FILE instead of stdout"},
    {"format", true, &opt_format, NULL, "--format F       csv (default) or jsonl"},
    {0},
};

int cli_cmd_export(struct cli_env *env)
{
    enum tl_format fmt = TL_FORMAT_CSV;
    if (opt_format && strcmp(opt_format, "jsonl") == 0)
        fmt = TL_FORMAT_JSONL;
    else if (opt_format && strcmp(opt_format, "csv") != 0)
        return cli_usage_error(env, "--format must be csv or jsonl, got \"%s\"", opt_format);
    if (!tl_schema_table(env->args[0]))
        return cli_usage_error(env, "unknown table \"%s\"", env->args[0]);

    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    FILE *out = stdout;
    tl_err err = {0};
    if (opt_out && !(out = fopen(opt_out, "wb"))) {
        tl_err_set(&err, TL_EIO, "cannot create %s: %m", opt_out);
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    uint64_t rows = 0;
    if (tl_export(tl_ctx_store(ctx), env->args[0], out, fmt, &rows, &err) < 0)
        rc = cli_fail(env, &err);
    if (out != stdout && fclose(out) != 0 && rc == CLI_OK) {
        tl_err_set(&err, TL_EIO, "cannot write %s: %m", opt_out);
        rc = cli_fail(env, &err);
    }
    if (rc == CLI_OK && opt_out && !env->quiet)
        fprintf(stderr, "exported %llu rows of %s to %s\n", (unsigned long long)rows, env->args[0], opt_out);
    tl_ctx_close(ctx);
    return rc;
}
