/*
 * ctx.c - the process context (see ctx.h). It sits in bank/, the top library
 * layer, because it wires together services from every layer below.
 */
#include <teller/ctx.h>

#include <stdlib.h>

struct tl_ctx {
    const tl_config *cfg;
    tl_store *store;
    int migrations_applied;
};

int tl_ctx_open(const tl_config *cfg, tl_ctx **out, tl_err *err)
{
    const char *url = tl_config_get(cfg, "store.url");
    if (!url || !*url)
        return tl_err_set(err, TL_EINVAL, "no store configured: set store.url, TELLER_STORE_URL or --store");
    tl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return tl_err_set(err, TL_ENOMEM, "out of memory opening the context");
    ctx->cfg = cfg;
    int rc = tl_store_open(url, &ctx->store, err);
    if (rc == 0)
        rc = tl_store_migrate(ctx->store, &ctx->migrations_applied, err);
    if (rc < 0) {
        tl_store_close(ctx->store);
        free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void tl_ctx_close(tl_ctx *ctx)
{
    if (!ctx)
        return;
    tl_store_close(ctx->store);
    free(ctx);
}

tl_store *tl_ctx_store(tl_ctx *ctx)
{
    return ctx->store;
}

const tl_config *tl_ctx_config(const tl_ctx *ctx)
{
    return ctx->cfg;
}

int tl_ctx_migrations_applied(const tl_ctx *ctx)
{
    return ctx->migrations_applied;
}
