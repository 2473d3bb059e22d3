/* teller init: create the store or migrate it to the latest schema. */
#include "cli.h"

int cli_cmd_init(struct cli_env *env)
{
    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_store *s = tl_ctx_store(ctx);
    int version = 0;
    tl_err err = {0};
    if (tl_store_schema_version(s, &version, &err) < 0) {
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    const char *url = tl_config_get(env->cfg, "store.url");
    int applied = tl_ctx_migrations_applied(ctx);
    if (env->json)
        cli_print_json(json_pack("{s:s,s:s,s:i,s:i}", "store", url, "backend", tl_store_backend(s),
                                 "schema_version", version, "migrations_applied", applied));
    else
        printf("store %s (%s) at schema version %d: %d migration%s applied\n", url,
               tl_store_backend(s), version, applied, applied == 1 ? "" : "s");
    tl_ctx_close(ctx);
    return CLI_OK;
}
