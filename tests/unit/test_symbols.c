/*
 * test_symbols.c - libteller exports only what it means to: every dynamic
 * symbol of libteller.so starts with "tl_" (curl's test1167 idea). Internal
 * helpers shared across files use the tl__ prefix but stay hidden.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(symbols, only_tl_prefix_exported)
{
    const char *lib = getenv("TELLER_LIB");
    cr_assert(lib && *lib, "TELLER_LIB must name libteller.so");
    char cmd[2048];
    /* defined (not U), global text/data symbols */
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s' | awk '$2 ~ /^[TDBR]$/ {print $3}'", lib);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    char line[512];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        /* toolchain symbols: _init/_fini and reserved __names (sanitizer ODR markers) */
        if (strcmp(line, "_init") == 0 || strcmp(line, "_fini") == 0 || strncmp(line, "__", 2) == 0)
            continue;
        n++;
        if (strncmp(line, "tl_", 3) != 0 || strncmp(line, "tl__", 4) == 0) {
            bad++;
            cr_log_error("exported symbol without the public tl_ prefix: %s", line);
        }
    }
    pclose(p);
    cr_expect_gt(n, 20, "expected the public API to be exported, found %d symbols", n);
    cr_expect_eq(bad, 0, "%d symbols leak out of libteller.so", bad);
}
