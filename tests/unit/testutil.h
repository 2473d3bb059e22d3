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

/* $TELLER_SHARED or ../shared relative to the source tree. */
const char *tu_shared_dir(void);

#endif
