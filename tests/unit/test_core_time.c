/* test_core_time.c - ISO 8601 parsing and formatting, civil-day arithmetic. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include <teller/datetime.h>

static int64_t ok(const char *s)
{
    tl_err err = {0};
    int64_t ms = 0x5555;
    cr_assert_eq(tl_time_parse(s, strlen(s), &ms, &err), 0, "\"%s\": %s", s, err.msg);
    return ms;
}

static void bad(const char *s, const char *needle)
{
    tl_err err = {0};
    int64_t ms = 0x5555;
    int rc = tl_time_parse(s, strlen(s), &ms, &err);
    cr_assert_eq(rc, TL_EINVAL, "\"%s\" should fail, got %d", s, rc);
    cr_assert_eq(ms, 0x5555, "output untouched on error");
    if (needle)
        cr_assert(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

Test(time, epoch_and_known_instants)
{
    cr_assert_eq(ok("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(ok("1970-01-01"), 0);
    cr_assert_eq(ok("2000-01-01T00:00:00Z"), INT64_C(946684800000));
    cr_assert_eq(ok("2024-02-29T12:34:56Z"), INT64_C(1709210096000));
    cr_assert_eq(ok("1900-01-01T00:00:00Z"), INT64_C(-2208988800000));
    cr_assert_eq(ok("2999-12-31T23:59:59Z"), INT64_C(32503679999000));
    cr_assert_eq(ok("1969-12-31T23:59:59.999Z"), -1);
}

Test(time, separators_and_offsets)
{
    int64_t base = ok("2024-03-10T12:00:00Z");
    cr_assert_eq(ok("2024-03-10 12:00:00Z"), base);
    cr_assert_eq(ok("2024-03-10T12:00:00"), base, "no offset means UTC");
    cr_assert_eq(ok("2024-03-10t12:00:00z"), base);
    cr_assert_eq(ok("2024-03-10T12:00:00+00:00"), base);
    cr_assert_eq(ok("2024-03-10T12:00:00-00:00"), base);
    cr_assert_eq(ok("2024-03-10T14:30:00+02:30"), base);
    cr_assert_eq(ok("2024-03-10T07:00:00-05:00"), base);
    /* an offset can move the instant across a day and a year */
    cr_assert_eq(ok("2024-01-01T01:00:00+02:00"), ok("2023-12-31T23:00:00Z"));
}

Test(time, fractional_seconds)
{
    int64_t base = ok("2024-03-10T12:00:00Z");
    cr_assert_eq(ok("2024-03-10T12:00:00.5Z"), base + 500);
    cr_assert_eq(ok("2024-03-10T12:00:00.05Z"), base + 50);
    cr_assert_eq(ok("2024-03-10T12:00:00.123Z"), base + 123);
    cr_assert_eq(ok("2024-03-10T12:00:00.123456Z"), base + 123, "truncated to ms");
    cr_assert_eq(ok("2024-03-10T12:00:00.999999999"), base + 999);
    cr_assert_eq(ok("2024-03-10T12:00:00.250+01:00"), base + 250 - 3600000);
    bad("2024-03-10T12:00:00.Z", "not ISO 8601");
    bad("2024-03-10T12:00:00.", NULL);
    bad("2024-03-10T12:00:00.1234567890Z", NULL);
}

Test(time, leap_years)
{
    cr_assert_eq(ok("2024-02-29") + 86400000, ok("2024-03-01"));
    cr_assert_eq(ok("2000-02-29") + 86400000, ok("2000-03-01"), "2000 is a leap year");
    bad("2023-02-29", "day 29, but February 2023 has 28 days");
    bad("1900-02-29", "February 1900 has 28 days");
    bad("2100-02-29", NULL);
    bad("2024-02-30", "February 2024 has 29 days");
    bad("2024-04-31", "April 2024 has 30 days");
    ok("2024-12-31");
    bad("2024-12-32", NULL);
}

Test(time, ranges)
{
    bad("2024-13-01", "month 13");
    bad("2024-00-01", "month 00");
    bad("2024-01-00", "day 00");
    bad("1899-12-31", "year 1899, outside 1900-2999");
    bad("3000-01-01", "outside 1900-2999");
    bad("2024-01-01T24:00:00Z", "outside 00:00:00-23:59:60");
    bad("2024-01-01T12:60:00Z", NULL);
    bad("2024-01-01T12:00:61Z", NULL);
    bad("2024-01-01T12:00:00+24:00", "offset");
    bad("2024-01-01T12:00:00+01:60", NULL);
    /* a leap second folds into :59 */
    cr_assert_eq(ok("2016-12-31T23:59:60Z"), ok("2016-12-31T23:59:59Z"));
    cr_assert_eq(ok("2016-12-31T23:59:60.5Z"), ok("2016-12-31T23:59:59.500Z"));
}

Test(time, bad_formats)
{
    const char *cases[] = {"", "2024", "2024-1-01", "2024-01-1", "24-01-01", "2024/01/01",
                           "2024-01-01T", "2024-01-01T12", "2024-01-01T12:00",
                           "2024-01-01T1:00:00", "2024-01-01X12:00:00", "2024-01-01T12:00:00ZZ",
                           "2024-01-01T12:00:00 Z", "2024-01-01T12:00:00+0100",
                           "2024-01-01T12:00:00+01", "2024-01-01T12:00:00+01:00:00",
                           " 2024-01-01", "2024-01-01 ", "２０２４-01-01", "2024-01-01T12:00:00UTC",
                           "+2024-01-01", "2024-0a-01", "2024-01-01T12:00:00.abc",
                           "-2024-01-01T12:00:00Z"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bad(cases[i], NULL);
    bad("2024/01/01", "timestamp \"2024/01/01\" is not ISO 8601");
}

Test(time, length_bounds_the_input)
{
    int64_t ms;
    cr_assert_eq(tl_time_parse("2024-01-01T12:00:00Zjunk", 20, &ms, NULL), 0);
    cr_assert_eq(tl_time_parse("2024-01-01", 9, &ms, NULL), TL_EINVAL);
    cr_assert_eq(tl_time_parse(NULL, 0, &ms, NULL), TL_EINVAL);
}

Test(time, date_parse)
{
    int32_t d = -1;
    tl_err err = {0};
    cr_assert_eq(tl_date_parse("1970-01-01", 10, &d, &err), 0);
    cr_assert_eq(d, 0);
    cr_assert_eq(tl_date_parse("2024-02-29", 10, &d, &err), 0);
    cr_assert_eq(d, 19782);
    cr_assert_eq(tl_date_parse("1969-12-31", 10, &d, &err), 0);
    cr_assert_eq(d, -1);
    d = 77;
    cr_assert_eq(tl_date_parse("2024-02-29T00:00:00Z", 20, &d, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "date \"2024-02-29T00:00:00Z\" is not ISO 8601 (expected YYYY-MM-DD)"),
              "%s", err.msg);
    cr_assert_eq(d, 77);
    cr_assert_eq(tl_date_parse("2023-02-29", 10, &d, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "date \"2023-02-29\""), "%s", err.msg);
}

static void fmt(int64_t ms, const char *want)
{
    char buf[25];
    int n = tl_time_format(ms, buf, sizeof buf);
    cr_assert_eq(n, (int)strlen(want), "%lld -> %d %s", (long long)ms, n, buf);
    cr_assert_str_eq(buf, want);
    cr_assert_eq(ok(buf), ms, "round trip");
}

Test(time, format)
{
    fmt(0, "1970-01-01T00:00:00Z");
    fmt(1709210096000, "2024-02-29T12:34:56Z");
    fmt(1709210096007, "2024-02-29T12:34:56.007Z");
    fmt(1709210096120, "2024-02-29T12:34:56.120Z");
    fmt(-1, "1969-12-31T23:59:59.999Z");
    fmt(INT64_C(-2208988800000), "1900-01-01T00:00:00Z");
    fmt(INT64_C(32503679999999), "2999-12-31T23:59:59.999Z");
    char small[24];
    cr_assert_eq(tl_time_format(1709210096007, small, sizeof small), TL_ETOOBIG);
    char b[32];
    cr_assert_eq(tl_time_format(INT64_MAX, b, sizeof b), TL_EINVAL, "year past 9999");
    cr_assert_eq(tl_time_format(INT64_MIN, b, sizeof b), TL_EINVAL);
}

Test(time, date_format)
{
    char buf[11];
    cr_assert_eq(tl_date_format(0, buf, sizeof buf), 10);
    cr_assert_str_eq(buf, "1970-01-01");
    cr_assert_eq(tl_date_format(19782, buf, sizeof buf), 10);
    cr_assert_str_eq(buf, "2024-02-29");
    cr_assert_eq(tl_date_format(-25567, buf, sizeof buf), 10);
    cr_assert_str_eq(buf, "1900-01-01");
    cr_assert_eq(tl_date_format(0, buf, 10), TL_ETOOBIG);
    cr_assert_eq(tl_date_format(INT32_MAX, buf, sizeof buf), TL_EINVAL);
}

Test(time, civil_round_trip_against_libc)
{
    /* every day from 1600 to 2600 against timegm, both directions */
    struct tm tm = {0};
    for (int64_t days = -135140; days <= 230000; days++) {
        int y;
        unsigned m, d;
        tl_civil_from_days(days, &y, &m, &d);
        cr_assert_eq(tl_days_from_civil(y, m, d), days);
        if (days % 997 == 0) {
            time_t t = (time_t)(days * 86400);
            gmtime_r(&t, &tm);
            cr_assert_eq(y, tm.tm_year + 1900);
            cr_assert_eq((int)m, tm.tm_mon + 1);
            cr_assert_eq((int)d, tm.tm_mday);
        }
    }
    cr_assert_eq(tl_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(tl_days_from_civil(2000, 3, 1), 11017);
    cr_assert_eq(tl_days_from_civil(0, 3, 1), -719468);
    /* extreme inputs do not overflow */
    int y;
    unsigned m, d;
    tl_civil_from_days(INT64_MAX, &y, &m, &d);
    tl_civil_from_days(INT64_MIN, &y, &m, &d);
}

Test(time, clocks)
{
    int64_t now = tl_time_now_ms();
    cr_assert_gt(now, INT64_C(1600000000000));
    int64_t a = tl_time_mono_ns(), b = tl_time_mono_ns();
    cr_assert_geq(b, a);
}

Test(time, age_years_counts_birthdays_on_their_date)
{
    int64_t born = tl_days_from_civil(1990, 6, 15);
    cr_assert_eq(tl_age_years(born, tl_days_from_civil(2026, 6, 14)), 35);
    cr_assert_eq(tl_age_years(born, tl_days_from_civil(2026, 6, 15)), 36);
    cr_assert_eq(tl_age_years(born, born), 0);
    /* born on 29 February: a year older on 1 March of a common year */
    int64_t leap = tl_days_from_civil(2000, 2, 29);
    cr_assert_eq(tl_age_years(leap, tl_days_from_civil(2025, 2, 28)), 24);
    cr_assert_eq(tl_age_years(leap, tl_days_from_civil(2025, 3, 1)), 25);
    cr_assert_eq(tl_age_years(leap, tl_days_from_civil(2028, 2, 29)), 28);
}
