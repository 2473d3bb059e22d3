/*
 * fuzz_time.c - ISO 8601 timestamps and dates (include/teller/datetime.h).
 *
 * A timestamp that parses must format ("YYYY-MM-DDTHH:MM:SS[.fff]Z") and
 * parse back to the same milliseconds, unless an offset moved it outside
 * the years the parser accepts (1900-2999), in which case the reparse must
 * refuse it. A date that parses must format and parse back to the same day,
 * agree with tl_time_parse at midnight, and survive civil conversion. The
 * first eight bytes, as int64 milliseconds and as int32 days, must format
 * without harm whatever their value.
 */
#include "fuzz.h"

#include <teller/datetime.h>

#define MS_PER_DAY INT64_C(86400000)

static int year_of(const char *buf)
{
    return (buf[0] - '0') * 1000 + (buf[1] - '0') * 100 + (buf[2] - '0') * 10 + (buf[3] - '0');
}

/* Formats ms; when the year is one the parser takes, parsing gives ms back. */
static void check_time_format(int64_t ms)
{
    char buf[32];
    int n = tl_time_format(ms, buf, sizeof buf);
    if (n == TL_EINVAL)
        return; /* a year outside 0000-9999 */
    FUZZ_CHECK(n == 20 || n == 24);
    FUZZ_CHECK((size_t)n == strlen(buf) && buf[n - 1] == 'Z' && buf[10] == 'T');
    FUZZ_CHECK((n == 24) == (((ms % 1000) + 1000) % 1000 != 0));
    char tight[32];
    FUZZ_CHECK(tl_time_format(ms, tight, (size_t)n) == TL_ETOOBIG);

    int64_t back = 0;
    tl_err err = {0};
    int rc = tl_time_parse(buf, (size_t)n, &back, &err);
    int year = year_of(buf);
    if (year >= 1900 && year <= 2999) {
        if (rc != 0 || back != ms)
            fprintf(stderr, "%lld formats as %s, which parses to %lld (rc %d: %s)\n",
                    (long long)ms, buf, (long long)back, rc, err.msg);
        FUZZ_CHECK(rc == 0 && back == ms);
    } else {
        fuzz_check_err(rc, &err);
    }
}

static void check_date_format(int32_t days)
{
    char buf[16];
    int n = tl_date_format(days, buf, sizeof buf);
    if (n == TL_EINVAL)
        return;
    FUZZ_CHECK(n == 10 && strlen(buf) == 10);
    int y;
    unsigned m, d;
    tl_civil_from_days(days, &y, &m, &d);
    FUZZ_CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    FUZZ_CHECK(tl_days_from_civil(y, m, d) == days);
    int32_t back = 0;
    tl_err err = {0};
    int rc = tl_date_parse(buf, 10, &back, &err);
    if (y >= 1900 && y <= 2999)
        FUZZ_CHECK(rc == 0 && back == days);
    else
        fuzz_check_err(rc, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t ms = 0;
    tl_err err = {0};
    int rc = tl_time_parse(s, size, &ms, &err);
    if (rc < 0) {
        fuzz_check_err(rc, &err);
    } else {
        FUZZ_CHECK(rc == 0 && size >= 10);
        /* 1900-01-01 minus a day of offset .. 2999-12-31 plus a day */
        FUZZ_CHECK(ms >= (tl_days_from_civil(1900, 1, 1) - 1) * MS_PER_DAY);
        FUZZ_CHECK(ms < (tl_days_from_civil(3000, 1, 1) + 1) * MS_PER_DAY);
        check_time_format(ms);
    }

    int32_t days = 0;
    tl_err derr = {0};
    rc = tl_date_parse(s, size, &days, &derr);
    if (rc < 0) {
        fuzz_check_err(rc, &derr);
    } else {
        FUZZ_CHECK(rc == 0 && size == 10);
        int64_t midnight = 0;
        tl_err terr = {0};
        FUZZ_CHECK(tl_time_parse(s, size, &midnight, &terr) == 0);
        FUZZ_CHECK(midnight == (int64_t)days * MS_PER_DAY);
        check_date_format(days);
    }

    if (size >= 8) {
        int64_t v;
        memcpy(&v, data, sizeof v);
        check_time_format(v);
        int32_t dv;
        memcpy(&dv, data + 4, sizeof dv);
        check_date_format(dv);
        /* The same bytes, kept within the parser's years. */
        int64_t span = (tl_days_from_civil(3000, 1, 1) - tl_days_from_civil(1900, 1, 1)) * MS_PER_DAY;
        int64_t in_range = tl_days_from_civil(1900, 1, 1) * MS_PER_DAY +
                           (int64_t)((uint64_t)v % (uint64_t)span);
        check_time_format(in_range);
    }
    return 0;
}
