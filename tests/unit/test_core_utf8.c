/* test_core_utf8.c - strict UTF-8 (RFC 3629). */
#include <criterion/criterion.h>
#include <string.h>

#include <teller/utf8.h>

static void valid(const char *s, size_t len)
{
    size_t off = 12345;
    cr_assert(tl_utf8_valid(s, len, &off), "should be valid (len %zu)", len);
    cr_assert_eq(off, 12345, "bad_offset untouched when valid");
}

static void invalid(const char *s, size_t len, size_t at)
{
    size_t off = 12345;
    cr_assert_not(tl_utf8_valid(s, len, &off), "should be invalid (len %zu)", len);
    cr_assert_eq(off, at, "bad offset %zu, expected %zu", off, at);
    cr_assert_not(tl_utf8_valid(s, len, NULL));
}

#define V(lit) valid(lit, sizeof lit - 1)
#define I(lit, at) invalid(lit, sizeof lit - 1, at)

Test(utf8, valid_sequences)
{
    V("");
    V("plain ascii");
    V("caf\xc3\xa9");                      /* é, 2 bytes */
    V("\xe2\x82\xac");                     /* €, 3 bytes */
    V("\xf0\x9f\x98\x80");                 /* 😀, 4 bytes */
    V("\xf4\x8f\xbf\xbf");                 /* U+10FFFF, the last code point */
    V("\xc2\x80");                         /* U+0080, smallest 2-byte */
    V("\xe0\xa0\x80");                     /* U+0800, smallest 3-byte */
    V("\xf0\x90\x80\x80");                 /* U+10000, smallest 4-byte */
    V("\xed\x9f\xbf");                     /* U+D7FF, just below the surrogates */
    V("\xee\x80\x80");                     /* U+E000, just above */
    V("\xef\xbf\xbf");                     /* U+FFFF */
    V("a\0b");                             /* NUL is a valid code point */
}

Test(utf8, overlongs)
{
    I("\xc0\x80", 0);                      /* overlong NUL */
    I("\xc1\xbf", 0);
    I("ab\xe0\x80\xaf", 2);                /* overlong '/' */
    I("\xe0\x9f\xbf", 0);                  /* overlong U+07FF */
    I("\xf0\x80\x80\xaf", 0);
    I("\xf0\x8f\xbf\xbf", 0);              /* overlong U+FFFF */
}

Test(utf8, surrogates)
{
    I("\xed\xa0\x80", 0);                  /* U+D800 */
    I("x\xed\xbf\xbf", 1);                 /* U+DFFF */
    I("\xed\xa0\xbd\xed\xb8\x80", 0);      /* CESU-8 pair */
}

Test(utf8, above_10ffff)
{
    I("\xf4\x90\x80\x80", 0);              /* U+110000 */
    I("\xf5\x80\x80\x80", 0);
    I("\xf7\xbf\xbf\xbf", 0);
    I("\xf8\x88\x80\x80\x80", 0);          /* 5-byte form */
    I("\xfc\x84\x80\x80\x80\x80", 0);      /* 6-byte form */
    I("\xfe", 0);
    I("\xff", 0);
}

Test(utf8, truncated_and_stray)
{
    I("\xc3", 0);
    I("abc\xe2\x82", 3);
    I("\xf0\x9f\x98", 0);
    I("\x80", 0);                          /* lone continuation */
    I("a\xbf" "b", 1);
    I("\xc3\x28", 0);                      /* continuation missing */
    I("\xe2\x28\xa1", 0);
    I("\xf0\x9f\x28\x80", 0);
    /* the length bounds the read: a valid sequence cut by len is invalid */
    invalid("\xe2\x82\xac", 2, 0);
}

Test(utf8, offsets_past_the_ascii_fast_path)
{
    char buf[1000];
    memset(buf, 'a', sizeof buf);
    cr_assert(tl_utf8_valid(buf, sizeof buf, NULL));
    for (size_t at = 0; at < 40; at++) {
        memset(buf, 'a', sizeof buf);
        buf[900 + at % 17] = '\xc3';
        buf[901 + at % 17] = '\xa9';
        cr_assert(tl_utf8_valid(buf, sizeof buf, NULL));
        buf[at * 7] = '\x80';
        size_t off = 0;
        cr_assert_not(tl_utf8_valid(buf, sizeof buf, &off));
        cr_assert_eq(off, at * 7);
    }
}
