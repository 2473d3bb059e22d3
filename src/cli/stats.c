/* teller stats: row counts and money sums per table. */
#include "cli.h"

#include <stdlib.h>

static bool opt_checksum;

const struct cli_opt cli_stats_opts[] = {
    {"checksum", false, NULL, &opt_checksum,
     "--checksum     print only a SHA-256 over every table's contents (same rows, same\n"
     "                 checksum on SQLite and PostgreSQL)"},
    {0},
};

static int print_checksum(struct cli_env *env, tl_ctx *ctx)
{
    char hex[65];
    tl_err err = {0};
    if (tl_store_checksum(tl_ctx_store(ctx), hex, &err) < 0)
        return cli_fail(env, &err);
    if (env->json)
        cli_print_json(json_pack("{s:s}", "checksum", hex));
    else
        printf("%s\n", hex);
    return CLI_OK;
}

int cli_cmd_stats(struct cli_env *env)
{
    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    if (opt_checksum) {
        rc = print_checksum(env, ctx);
        tl_ctx_close(ctx);
        return rc;
    }
    size_t n = tl_schema_table_count();
    struct tl_table_stats *st = calloc(n, sizeof *st);
    tl_err err = {0};
    if (!st || tl_store_stats(tl_ctx_store(ctx), st, n, &err) < 0) {
        if (!st)
            tl_err_set(&err, TL_ENOMEM, "out of memory");
        free(st);
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    if (env->json) {
        json_t *tables = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *sums = json_array();
            for (size_t k = 0; k < st[i].n_sums; k++) {
                char buf[48];
                tl_money_format(st[i].sums[k].sum_minor, st[i].sums[k].currency, buf, sizeof buf);
                json_array_append_new(sums, json_pack("{s:s,s:s,s:I,s:s}", "column", st[i].sums[k].column,
                                                      "currency", st[i].sums[k].currency, "sum_minor",
                                                      (json_int_t)st[i].sums[k].sum_minor, "sum", buf));
            }
            json_object_set_new(tables, st[i].table,
                                json_pack("{s:I,s:o}", "rows", (json_int_t)st[i].rows, "sums", sums));
        }
        cli_print_json(json_pack("{s:s,s:o}", "store", tl_config_get(env->cfg, "store.url"), "tables",
                                 tables));
    } else {
        printf("%-14s %12s  %s\n", "table", "rows", "sums");
        for (size_t i = 0; i < n; i++) {
            printf("%-14s %12lld ", st[i].table, (long long)st[i].rows);
            for (size_t k = 0; k < st[i].n_sums; k++) {
                char buf[48];
                tl_money_format(st[i].sums[k].sum_minor, st[i].sums[k].currency, buf, sizeof buf);
                printf(" %s=%s %s", st[i].sums[k].column, buf, st[i].sums[k].currency);
            }
            printf("\n");
        }
    }
    free(st);
    tl_ctx_close(ctx);
    return CLI_OK;
}
