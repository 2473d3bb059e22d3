/*
 * fuzz_utf8.c - strict UTF-8 validation (include/teller/utf8.h) against a
 * reference decoder written here the slow way, straight from RFC 3629:
 * decode each sequence to a code point, then refuse overlongs, surrogates
 * and anything above U+10FFFF. Both must agree on validity and on the offset
 * of the first bad sequence, at every alignment of the 8-byte ASCII path.
 */
#include "fuzz.h"

#include <stdbool.h>

static bool ref_valid(const uint8_t *s, size_t len, size_t *bad_offset)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            goto bad; /* a continuation byte, or F8-FF */
        }
        if (len - i < n)
            goto bad;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += n;
        continue;
    bad:
        *bad_offset = i;
        return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t skip = 0; skip < 8 && skip <= size; skip++) {
        const uint8_t *s = data + skip;
        size_t len = size - skip;
        size_t want_at = SIZE_MAX, got_at = SIZE_MAX;
        bool want = ref_valid(s, len, &want_at);
        bool got = tl_utf8_valid((const char *)s, len, &got_at);
        if (got != want || (!want && got_at != want_at))
            fprintf(stderr, "skip %zu: tl_utf8_valid %d at %zu, reference %d at %zu\n", skip,
                    got, got_at, want, want_at);
        FUZZ_CHECK(got == want);
        if (want)
            FUZZ_CHECK(got_at == SIZE_MAX); /* untouched */
        else
            FUZZ_CHECK(got_at == want_at);
        FUZZ_CHECK(tl_utf8_valid((const char *)s, len, NULL) == want);
        /* Every prefix that ends before the first error is valid. */
        if (!want)
            FUZZ_CHECK(tl_utf8_valid((const char *)s, want_at, NULL));
    }
    return 0;
}
