/*
 * fuzz.h - what the fuzz targets in tests/fuzz share.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput and nothing else public.
 * It is linked either with libFuzzer (clang, `make fuzz`, scripts/fuzz.sh) or
 * with replay.c (gcc, `make test`), which feeds it every file of a corpus.
 * A broken invariant traps (FUZZ_CHECK), so both harnesses report it as a
 * crash with the input that caused it.
 */
#ifndef TL_FUZZ_H
#define TL_FUZZ_H

#include <teller/err.h>
#include <teller/utf8.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Traps with the failed condition on stderr: the invariant is ours, not the
 * input's, so a violation is a finding. */
#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            __builtin_trap();                                                            \
        }                                                                                \
    } while (0)

/* The tl_err contract on a failed call: the code came back and was recorded,
 * and the message is non-empty valid UTF-8 without control characters (user
 * values in it are quoted by tl__quote, since messages reach JSON bodies and
 * terminals: lib/core/internal.h). To fuzz on past a known message finding,
 * set FUZZ_MSG_CHECK=utf8 (allow control characters) or =none. */
static inline void fuzz_check_err(int rc, const tl_err *err)
{
    FUZZ_CHECK(rc < 0);
    FUZZ_CHECK(err->code == rc);
    static int level = -1; /* 0 none, 1 utf8, 2 all */
    if (level < 0) {
        const char *e = getenv("FUZZ_MSG_CHECK");
        level = !e || !e[0] || strcmp(e, "all") == 0 ? 2 : strcmp(e, "utf8") == 0 ? 1 : 0;
    }
    if (level == 0)
        return;
    size_t n = strnlen(err->msg, sizeof err->msg);
    FUZZ_CHECK(n > 0 && n < sizeof err->msg);
    bool clean = tl_utf8_valid(err->msg, n, NULL);
    for (size_t i = 0; i < n && level == 2; i++)
        if ((unsigned char)err->msg[i] < 0x20 || err->msg[i] == 0x7f)
            clean = false;
    if (!clean) {
        fputs("message: \"", stderr);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)err->msg[i];
            if (c < 0x20 || c >= 0x7f)
                fprintf(stderr, "\\x%02x", c);
            else
                fputc(c, stderr);
        }
        fputs("\"\n", stderr);
    }
    FUZZ_CHECK(clean); /* valid UTF-8, no control characters */
}

#endif
