/*
 * datetime.h - UTC time: ISO 8601 at the edges, epoch milliseconds inside.
 */
#ifndef TELLER_DATETIME_H
#define TELLER_DATETIME_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* Parses an ISO 8601 timestamp s[0..len) into epoch milliseconds UTC.
 * Accepts "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]", a space instead of
 * 'T', and a bare date "YYYY-MM-DD" (midnight UTC). A timestamp without an
 * offset is taken as UTC. Validates ranges (month 1-12, day within the month
 * with leap years, hour 0-23, minute 0-59, second 0-60 with 60 folded to 59)
 * and years 1900-2999. Errors quote the value. */
TL_API int tl_time_parse(const char *s, size_t len, int64_t *ms, tl_err *err);

/* Parses a date "YYYY-MM-DD" only; *days = days since 1970-01-01. */
TL_API int tl_date_parse(const char *s, size_t len, int32_t *days, tl_err *err);

/* Formats as "YYYY-MM-DDTHH:MM:SSZ", adding ".fff" when ms is not a whole
 * second. Returns length written or TL_ETOOBIG (buf needs 25 bytes), or
 * TL_EINVAL when the year falls outside 0000-9999. */
TL_API int tl_time_format(int64_t ms, char *buf, size_t bufsize);

/* Formats days since epoch as "YYYY-MM-DD" (buf needs 11 bytes). Returns 10,
 * TL_ETOOBIG, or TL_EINVAL when the year falls outside 0000-9999. */
TL_API int tl_date_format(int32_t days, char *buf, size_t bufsize);

/* Days since 1970-01-01 for a civil date (proleptic Gregorian), and back. */
TL_API int64_t tl_days_from_civil(int y, unsigned m, unsigned d);
TL_API void tl_civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);

/* Whole years from the day born to the day day (both days since the epoch):
 * the age on that day, birthdays counted on their date. */
TL_API int tl_age_years(int64_t born, int64_t day);

/* Wall clock, epoch milliseconds UTC; and a monotonic clock in nanoseconds. */
TL_API int64_t tl_time_now_ms(void);
TL_API int64_t tl_time_mono_ns(void);

TL_END_DECLS

#endif
