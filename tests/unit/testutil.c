/*
 * testutil.c - temp dirs, files and fresh PostgreSQL databases for the unit
 * tests (see testutil.h).
 */
#include "testutil.h"

#include <criterion/criterion.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/teller-test.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

char *tu_write_file(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(path);
        return NULL;
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return path;
}

char *tu_pg_fresh_url(void)
{
    const char *state = getenv("TELLER_PG_STATE");
    if (!state)
        return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/url", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char url[512] = {0};
    if (!fgets(url, sizeof url, f)) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    url[strcspn(url, "\r\n")] = 0;

    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    static unsigned counter;
    char db[64];
    snprintf(db, sizeof db, "t_%d_%u_%ld", (int)getpid(), counter++, (long)random() % 100000);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    if (!ok)
        return NULL;
    /* replace the trailing "/postgres" by the new database */
    char *slash = strrchr(url, '/');
    *slash = 0;
    size_t n = strlen(url) + strlen(db) + 2;
    char *out = malloc(n);
    snprintf(out, n, "%s/%s", url, db);
    return out;
}

char *tu_sqlite_url(void)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir, "cannot create a temporary directory");
    size_t n = strlen(dir) + 32;
    char *url = malloc(n);
    snprintf(url, n, "sqlite:%s/store.db", dir);
    free(dir);
    return url;
}

char *tu_pg_url(void)
{
    char *url = tu_pg_fresh_url();
    cr_assert_not_null(url,
                       "no PostgreSQL server: the CTest fixture pg_start must run first "
                       "(TELLER_PG_STATE=%s)",
                       getenv("TELLER_PG_STATE") ? getenv("TELLER_PG_STATE") : "(unset)");
    return url;
}

const char *tu_shared_dir(void)
{
    const char *s = getenv("TELLER_SHARED");
    return s && *s ? s : "../shared";
}

tl_config *tu_config(const char *url, const char *dir)
{
    tl_config *cfg = tl_config_new();
    cr_assert_not_null(cfg);
    tl_err err = {0};
    char key[1024];
    snprintf(key, sizeof key, "%s/teller.key", dir);
    cr_assert_eq(tl_config_set(cfg, "store.url", url, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "data.key_file", key, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    return cfg;
}
