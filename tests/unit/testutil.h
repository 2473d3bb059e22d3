/*
 * testutil.h - helpers shared by the unit tests.
 */
#ifndef TL_TESTUTIL_H
#define TL_TESTUTIL_H

#include <teller/teller.h>

/* A fresh empty directory under /tmp (malloc'd path; caller frees). */
char *tu_tmpdir(void);

/* Writes text to dir/name and returns the malloc'd path. */
char *tu_write_file(const char *dir, const char *name, const char *text);

/* The PostgreSQL server URL of this test run with a fresh database created on
 * it (malloc'd), or NULL when no server runs (the caller skips visibly). */
char *tu_pg_fresh_url(void);

/* "sqlite:<fresh temp dir>/store.db" (malloc'd); fails the test when no
 * temp dir can be made. */
char *tu_sqlite_url(void);

/* A configuration for a context on store url with its data key file in dir
 * (dir/teller.key, created on first open): how every test that opens a
 * tl_ctx starts. Fails the test on error; the caller frees it. */
tl_config *tu_config(const char *url, const char *dir);

/* tu_pg_fresh_url, failing the test when no server runs: tests marked
 * needs: postgres always have the CTest fixture's server. */
char *tu_pg_url(void);

/* One test body run once per backend: TU_BOTH(name) { ... uses url ... } */
#define TU_BOTH(name)                  \
    static void name(const char *url); \
    Test(sqlite, name)                 \
    {                                  \
        char *u = tu_sqlite_url();     \
        name(u);                       \
        free(u);                       \
    }                                  \
    Test(postgres, name)               \
    {                                  \
        char *u = tu_pg_url();         \
        name(u);                       \
        free(u);                       \
    }                                  \
    static void name(const char *url)

/* $TELLER_SHARED or ../shared relative to the source tree. */
const char *tu_shared_dir(void);

#endif
