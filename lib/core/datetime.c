/* datetime.c - ISO 8601 parsing and formatting without libc's time parsing:
 * it runs per row, so digits are read by hand and dates go through Howard
 * Hinnant's days_from_civil / civil_from_days. */
#include <teller/datetime.h>

#include <time.h>

#include "internal.h"

#define MS_PER_DAY INT64_C(86400000)
#define YEAR_MIN 1900
#define YEAR_MAX 2999

static const char *const MONTH_NAMES[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};

int64_t tl_days_from_civil(int y, unsigned m, unsigned d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;                                       // [0, 399]
    int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1; // [0, 365]
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                // [0, 146096]
    return era * 146097 + doe - 719468;
}

void tl_civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d)
{
    /* Keep the year inside int (and the arithmetic inside int64). */
    const int64_t lim = INT64_C(700000000000);
    if (days > lim)
        days = lim;
    if (days < -lim)
        days = -lim;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                     // [0, 146096]
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              // [0, 365]
    int64_t mp = (5 * doy + 2) / 153;                                   // [0, 11]
    unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    int64_t yy = yoe + era * 400 + (mm <= 2);
    if (y)
        *y = (int)yy;
    if (m)
        *m = mm;
    if (d)
        *d = dd;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned char DIM[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : DIM[m - 1];
}

/* n digits at s[0..n) into *out; false unless all are ASCII digits. */
static inline bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9)
            return false;
        v = v * 10 + (int)c;
    }
    *out = v;
    return true;
}

static int bad_format(const char *what, const char *s, size_t len, const char *expected,
                      tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EINVAL, "%s \"%s\" is not ISO 8601 (expected %s)", what,
                      tl__quote(q, sizeof q, s, len), expected);
}

/* Parses and range-checks "YYYY-MM-DD" at s[0..10). */
static int parse_date(const char *s, size_t len, const char *what, const char *expected,
                      int64_t *days, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    int y, m, d;
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return bad_format(what, s, len, expected, err);
    if (y < YEAR_MIN || y > YEAR_MAX)
        return tl_err_set(err, TL_EINVAL, "%s \"%s\" has year %d, outside %d-%d", what,
                          tl__quote(q, sizeof q, s, len), y, YEAR_MIN, YEAR_MAX);
    if (m < 1 || m > 12)
        return tl_err_set(err, TL_EINVAL, "%s \"%s\" has month %02d, outside 01-12", what,
                          tl__quote(q, sizeof q, s, len), m);
    unsigned dim = days_in_month(y, (unsigned)m);
    if (d < 1 || (unsigned)d > dim)
        return tl_err_set(err, TL_EINVAL, "%s \"%s\" has day %02d, but %s %d has %u days", what,
                          tl__quote(q, sizeof q, s, len), d, MONTH_NAMES[m - 1], y, dim);
    *days = tl_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

#define TIME_EXPECTED "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]"

int tl_time_parse(const char *s, size_t len, int64_t *ms, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    if (!s)
        len = 0;
    int64_t days;
    int rc = parse_date(s, len, "timestamp", TIME_EXPECTED, &days, err);
    if (rc < 0)
        return rc;
    if (len == 10) {
        if (ms)
            *ms = days * MS_PER_DAY;
        return 0;
    }
    int hh, mi, ss;
    if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &hh) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &ss))
        return bad_format("timestamp", s, len, TIME_EXPECTED, err);
    if (hh > 23 || mi > 59 || ss > 60)
        return tl_err_set(err, TL_EINVAL, "timestamp \"%s\" has time %02d:%02d:%02d, outside "
                          "00:00:00-23:59:60", tl__quote(q, sizeof q, s, len), hh, mi, ss);
    if (ss == 60) /* a leap second: epoch time has no room for it */
        ss = 59;
    size_t i = 19;
    int frac_ms = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && (unsigned)((unsigned char)s[i] - '0') <= 9) {
            if (i - start < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0 || n > 9)
            return bad_format("timestamp", s, len, TIME_EXPECTED, err);
        for (; n < 3; n++) /* ".5" is 500 ms; digits past the third are dropped */
            frac_ms *= 10;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (len - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om))
            return bad_format("timestamp", s, len, TIME_EXPECTED, err);
        if (oh > 23 || om > 59)
            return tl_err_set(err, TL_EINVAL, "timestamp \"%s\" has offset %.6s, outside "
                              "-23:59..+23:59", tl__quote(q, sizeof q, s, len), s + i);
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    }
    if (i != len)
        return bad_format("timestamp", s, len, TIME_EXPECTED, err);
    if (ms)
        *ms = days * MS_PER_DAY + ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac_ms -
              (int64_t)offset_min * 60000;
    return 0;
}

int tl_date_parse(const char *s, size_t len, int32_t *days, tl_err *err)
{
    if (!s)
        len = 0;
    int64_t d;
    int rc = parse_date(s, len, "date", "YYYY-MM-DD", &d, err);
    if (rc < 0)
        return rc;
    if (len != 10)
        return bad_format("date", s, len, "YYYY-MM-DD", err);
    if (days)
        *days = (int32_t)d;
    return 0;
}

static inline void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static int put_date(int64_t days, char *buf)
{
    int y;
    unsigned m, d;
    tl_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return TL_EINVAL;
    put2(buf, (unsigned)y / 100);
    put2(buf + 2, (unsigned)y % 100);
    buf[4] = '-';
    put2(buf + 5, m);
    buf[7] = '-';
    put2(buf + 8, d);
    return 10;
}

int tl_time_format(int64_t ms, char *buf, size_t bufsize)
{
    /* Floor division, so times before 1970 land on the right day. */
    int64_t days = ms / MS_PER_DAY;
    int64_t rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    unsigned msec = (unsigned)(rem % 1000);
    size_t need = msec ? 25 : 21;
    if (!buf || bufsize < need)
        return TL_ETOOBIG;
    char tmp[32];
    if (put_date(days, tmp) < 0)
        return TL_EINVAL;
    unsigned secs = (unsigned)(rem / 1000);
    tmp[10] = 'T';
    put2(tmp + 11, secs / 3600);
    tmp[13] = ':';
    put2(tmp + 14, secs / 60 % 60);
    tmp[16] = ':';
    put2(tmp + 17, secs % 60);
    size_t n = 19;
    if (msec) {
        tmp[n++] = '.';
        tmp[n++] = (char)('0' + msec / 100);
        put2(tmp + n, msec % 100);
        n += 2;
    }
    tmp[n++] = 'Z';
    tmp[n] = '\0';
    for (size_t k = 0; k <= n; k++)
        buf[k] = tmp[k];
    return (int)n;
}

int tl_date_format(int32_t days, char *buf, size_t bufsize)
{
    if (!buf || bufsize < 11)
        return TL_ETOOBIG;
    char tmp[16];
    if (put_date(days, tmp) < 0)
        return TL_EINVAL;
    tmp[10] = '\0';
    for (int k = 0; k <= 10; k++)
        buf[k] = tmp[k];
    return 10;
}

int64_t tl_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tl_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tl_age_years(int64_t born, int64_t day)
{
    int by, y;
    unsigned bm, bd, m, d;
    tl_civil_from_days(born, &by, &bm, &bd);
    tl_civil_from_days(day, &y, &m, &d);
    int age = y - by;
    if (m < bm || (m == bm && d < bd))
        age--;
    return age;
}
