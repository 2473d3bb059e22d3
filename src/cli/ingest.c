/* teller ingest: validated, all-or-nothing loading of one file or a directory. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *opt_format, *opt_reject;

const struct cli_opt cli_ingest_opts[] = {
    {"format", true, &opt_format, NULL, "--format F             csv or jsonl (default: from the file name)"},
    {"skip-invalid", true, &opt_reject, NULL,
     "--skip-invalid FILE    load the good rows; write bad ones with reasons to FILE"},
    {0},
};

static void report(const struct cli_env *env, const char *table, const char *path,
                   const struct tl_ingest_result *r, json_t *json_out)
{
    if (json_out) {
        json_array_append_new(json_out,
                              json_pack("{s:s,s:s,s:I,s:I,s:I,s:f}", "table", table, "file", path,
                                        "rows_read", (json_int_t)r->rows_read, "rows_loaded",
                                        (json_int_t)r->rows_loaded, "rows_rejected",
                                        (json_int_t)r->rows_rejected, "seconds", r->seconds));
        return;
    }
    printf("%s: loaded %llu rows into %s", path, (unsigned long long)r->rows_loaded, table);
    if (r->rows_rejected)
        printf(", rejected %llu (see %s)", (unsigned long long)r->rows_rejected, opt_reject);
    double rate = r->seconds > 0 ? (double)r->rows_read / r->seconds : 0;
    printf(" in %.2f s (%.0f rows/s)\n", r->seconds, rate);
}

/* Journals a completed load: action "ingest", the table as the resource.
 * The load has committed by now, so a failure here is reported as such: the
 * rows are in, the journal entry is not. */
static int journal_load(tl_ctx *ctx, const char *table, const char *path,
                        const struct tl_ingest_result *r, tl_err *err)
{
    /* json_pack refuses a file name that is not UTF-8; such bytes become '?'. */
    char *file = strdup(path);
    if (!file)
        return tl_err_set(err, TL_ENOMEM, "out of memory journaling the load of %s", path);
    size_t bad, len = strlen(file), off = 0;
    while (!tl_utf8_valid(file + off, len - off, &bad)) {
        file[off + bad] = '?';
        off += bad + 1;
    }
    json_t *d = json_pack("{s:s,s:s,s:I,s:I}", "table", table, "file", file, "rows_loaded",
                          (json_int_t)r->rows_loaded, "rows_rejected", (json_int_t)r->rows_rejected);
    char *details = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    free(file);
    if (!details)
        return tl_err_set(err, TL_ENOMEM, "out of memory journaling the load of %s", path);
    int rc = cli_journal(ctx, "ingest", table, NULL, details, err);
    free(details);
    return rc;
}

static int ingest_one(struct cli_env *env, tl_ctx *ctx, const char *table, const char *path,
                      enum tl_format fmt, json_t *json_out)
{
    struct tl_ingest_opts o = {.table = table, .path = path, .format = fmt,
                               .reject_path = opt_reject, .quiet = env->quiet};
    struct tl_ingest_result r = {0};
    tl_err err = {0};
    if (tl_ingest_file(tl_ctx_store(ctx), &o, &r, &err) < 0 ||
        journal_load(ctx, table, path, &r, &err) < 0)
        return cli_fail(env, &err);
    report(env, table, path, &r, json_out);
    return CLI_OK;
}

/* Loads DIR/TABLE.csv or DIR/TABLE.jsonl for each ingestible table in
 * dependency order; each file is its own all-or-nothing load. */
static int ingest_dir(struct cli_env *env, tl_ctx *ctx, const char *dir, json_t *json_out)
{
    int loaded = 0;
    for (size_t i = 0; i < tl_schema_table_count(); i++) {
        const struct tl_table_spec *t = tl_schema_table_at(i);
        if (!t->ingestible)
            continue;
        static const char *const exts[] = {"csv", "jsonl"};
        for (size_t e = 0; e < 2; e++) {
            char path[4096];
            size_t dl = strlen(dir);
            while (dl > 1 && dir[dl - 1] == '/') /* "bank/" names files as "bank/x.csv" */
                dl--;
            snprintf(path, sizeof path, "%.*s/%s.%s", (int)dl, dir, t->name, exts[e]);
            if (access(path, R_OK) != 0)
                continue;
            int rc = ingest_one(env, ctx, t->name, path, TL_FORMAT_AUTO, json_out);
            if (rc != CLI_OK)
                return rc;
            loaded++;
        }
    }
    if (loaded == 0) {
        tl_err err;
        tl_err_set(&err, TL_ENOTFOUND, "%s holds no TABLE.csv or TABLE.jsonl file to load", dir);
        return cli_fail(env, &err);
    }
    return CLI_OK;
}

int cli_cmd_ingest(struct cli_env *env)
{
    enum tl_format fmt = TL_FORMAT_AUTO;
    if (opt_format) {
        if (strcmp(opt_format, "csv") == 0)
            fmt = TL_FORMAT_CSV;
        else if (strcmp(opt_format, "jsonl") == 0)
            fmt = TL_FORMAT_JSONL;
        else
            return cli_usage_error(env, "--format must be csv or jsonl, got \"%s\"", opt_format);
    }
    struct stat st;
    bool is_dir = env->n_args == 1;
    if (is_dir && (stat(env->args[0], &st) != 0 || !S_ISDIR(st.st_mode)))
        return cli_usage_error(env, "with one argument it must be a directory; \"%s\" is not", env->args[0]);
    if (!is_dir) {
        const struct tl_table_spec *t = tl_schema_table(env->args[0]);
        if (!t || !t->ingestible) {
            char names[512] = "";
            for (size_t i = 0; i < tl_schema_table_count(); i++)
                if (tl_schema_table_at(i)->ingestible) {
                    strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
                    strncat(names, tl_schema_table_at(i)->name, sizeof names - strlen(names) - 1);
                }
            return cli_usage_error(env, "unknown table \"%s\" (tables: %s)", env->args[0], names);
        }
    }

    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    json_t *json_out = env->json ? json_array() : NULL;
    if (is_dir)
        rc = ingest_dir(env, ctx, env->args[0], json_out);
    else
        rc = ingest_one(env, ctx, env->args[0], env->args[1], fmt, json_out);
    if (json_out) {
        if (rc == CLI_OK)
            cli_print_json(json_pack("{s:o}", "loads", json_out));
        else
            json_decref(json_out);
    }
    tl_ctx_close(ctx);
    return rc;
}
