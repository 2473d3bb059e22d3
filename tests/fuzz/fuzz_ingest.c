/*
 * fuzz_ingest.c - all-or-nothing ingestion (include/teller/ingest.h).
 *
 * The input is loaded as a transactions file into a SQLite store under /tmp
 * that holds the products, customers and accounts of tests/fixtures/mini and
 * no transactions. It is CSV, or JSON Lines when it starts with '{'. The
 * invariant is the one the header promises: a failed ingest leaves the store
 * exactly as it was (same tl_store_checksum, no transaction left open). A
 * successful one must have loaded exactly the rows it read; its rows are
 * then deleted, and when that does not bring the checksum back the store is
 * built again, so no state drifts from one input to the next.
 *
 * The store is built once per process (tl_store_open, tl_store_migrate,
 * tl_ingest_file of the fixtures) and removed at exit; stores left behind by
 * runs that crashed (their pid is gone) are removed at start. The fixtures come from
 * $TELLER_FIXTURES, else from TELLER_FUZZ_FIXTURES set by the build.
 * FUZZ_VERBOSE=1 prints the outcome of every ingest.
 */
#include "fuzz.h"

#include <teller/ingest.h>
#include <teller/store.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#ifndef TELLER_FUZZ_FIXTURES
#define TELLER_FUZZ_FIXTURES "tests/fixtures/mini"
#endif

static tl_store *g_store;
static char g_path[128];
static char g_baseline[65]; /* checksum of the fixture bank, hex */

/* Setup failures are the harness's, not the library's: say why and stop. */
static void setup_fail(const char *what, const tl_err *err)
{
    fprintf(stderr, "fuzz_ingest: %s: %s\n", what, err ? err->msg : "");
    abort();
}

static void store_remove(void)
{
    static const char *const SUFFIXES[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", g_path, SUFFIXES[i]);
        unlink(p);
    }
}

static void store_close(void)
{
    tl_store_close(g_store);
    g_store = NULL;
    store_remove();
}

static void store_create(void)
{
    if (g_store)
        store_close();
    store_remove();
    tl_err err = {0};
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s", g_path);
    if (tl_store_open(url, &g_store, &err) < 0)
        setup_fail(url, &err);
    if (tl_store_migrate(g_store, NULL, &err) < 0)
        setup_fail("migrate", &err);
    const char *dir = getenv("TELLER_FIXTURES");
    if (!dir || !dir[0])
        dir = TELLER_FUZZ_FIXTURES;
    static const char *const TABLES[] = {"products", "customers", "accounts"};
    for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.csv", dir, TABLES[i]);
        struct tl_ingest_opts o = {.table = TABLES[i], .path = path, .quiet = true};
        if (tl_ingest_file(g_store, &o, NULL, &err) < 0)
            setup_fail(path, &err);
    }
    if (tl_store_checksum(g_store, g_baseline, &err) < 0)
        setup_fail("checksum", &err);
}

/* Removes /tmp/fuzz-ingest-<pid>.db* of processes that no longer exist. */
static void remove_stale(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = 0;
        int used = 0;
        if (sscanf(e->d_name, "fuzz-ingest-%ld.db%n", &pid, &used) != 1 || used == 0 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[300];
        snprintf(p, sizeof p, "/tmp/%s", e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void init_once(void)
{
    if (g_path[0])
        return;
    remove_stale();
    snprintf(g_path, sizeof g_path, "/tmp/fuzz-ingest-%ld.db", (long)getpid());
    store_create();
    atexit(store_close);
}

static void checksum_now(char hex[65])
{
    tl_err err = {0};
    int rc = tl_store_checksum(g_store, hex, &err);
    if (rc < 0)
        fprintf(stderr, "checksum: %s\n", err.msg);
    FUZZ_CHECK(rc == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    FILE *in = fmemopen((void *)data, size, "rb");
    FUZZ_CHECK(in);
    bool jsonl = size > 0 && data[0] == '{';
    struct tl_ingest_opts o = {
        .table = "transactions",
        .format = jsonl ? TL_FORMAT_JSONL : TL_FORMAT_CSV,
        .quiet = true,
    };
    struct tl_ingest_result res;
    tl_err err = {0};
    int rc = tl_ingest_stream(g_store, in, jsonl ? "fuzz.jsonl" : "fuzz.csv", &o, &res, &err);
    fclose(in);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "ingest: rc %d, %llu rows read, %llu loaded: %s\n", rc,
                (unsigned long long)res.rows_read, (unsigned long long)res.rows_loaded,
                rc < 0 ? err.msg : "ok");

    char now[65];
    checksum_now(now);
    if (rc < 0) {
        fuzz_check_err(rc, &err);
        if (strcmp(now, g_baseline) != 0)
            fprintf(stderr, "failed ingest (%s) changed the store\n", err.msg);
        FUZZ_CHECK(strcmp(now, g_baseline) == 0);
        /* ... and left no transaction open. */
        tl_err terr = {0};
        FUZZ_CHECK(tl_store_begin(g_store, &terr) == 0);
        FUZZ_CHECK(tl_store_rollback(g_store, &terr) == 0);
        return 0;
    }

    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(res.rows_rejected == 0);
    FUZZ_CHECK(res.rows_loaded == res.rows_read);
    int64_t n = -1;
    tl_err cerr = {0};
    FUZZ_CHECK(tl_store_count(g_store, "transactions", &n, &cerr) == 0);
    FUZZ_CHECK(n >= 0 && (uint64_t)n == res.rows_loaded);

    tl_err derr = {0};
    if (tl_store_exec(g_store, "DELETE FROM transactions", 0, NULL, NULL, NULL, &derr) == 0) {
        checksum_now(now);
        if (strcmp(now, g_baseline) == 0)
            return 0;
    }
    store_create();
    return 0;
}
