/*
 * ctx.c - the process context (see ctx.h). It sits in bank/, the top library
 * layer, because it wires together services from every layer below.
 */
#include <teller/ctx.h>
#include <teller/keyring.h>
#include <teller/log.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

struct tl_ctx {
    const tl_config *cfg;
    tl_store *store;
    tl_keyring *keyring;
    int migrations_applied;
};

/* Loads the data keys named by data.key_file (an empty value means no file:
 * then TELLER_DATA_KEY must hold the key). A missing file is created with a
 * fresh key, because a first `teller ingest` must be able to encrypt; the
 * warning tells the operator there is now a file to back up. */
static int open_keyring(const tl_config *cfg, tl_keyring **out, tl_err *err)
{
    const char *path = tl_config_get(cfg, "data.key_file");
    if (path && !*path)
        path = NULL;
    const char *env = getenv("TELLER_DATA_KEY");
    struct stat sb;
    bool missing = path && !(env && *env) && stat(path, &sb) != 0 && errno == ENOENT;
    int rc = tl_keyring_open(path, true, out, err);
    if (rc < 0) {
        tl_err_prefix(err, "data keys");
        return rc;
    }
    if (missing)
        tl_log(TL_LOG_WARN, "keyring",
               "created the data key file %s with a new key: back it up, personal data "
               "encrypted under it cannot be read without it",
               path);
    return 0;
}

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
    /* after the store: a command pointed at a wrong store should fail on
     * that, not leave a new key file behind */
    if (rc == 0)
        rc = open_keyring(cfg, &ctx->keyring, err);
    if (rc < 0) {
        tl_store_close(ctx->store);
        free(ctx);
        return rc;
    }
    tl_store_set_keyring(ctx->store, ctx->keyring);
    *out = ctx;
    return 0;
}

void tl_ctx_close(tl_ctx *ctx)
{
    if (!ctx)
        return;
    tl_store_close(ctx->store);
    tl_keyring_free(ctx->keyring);
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

struct tl_keyring *tl_ctx_keyring(tl_ctx *ctx)
{
    return ctx ? ctx->keyring : NULL;
}

int tl_ctx_migrations_applied(const tl_ctx *ctx)
{
    return ctx->migrations_applied;
}
