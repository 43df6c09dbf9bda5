/* fuzz_date: the date parsers against the C library's calendar (timegm/gmtime_r) as the
 * reference: ledger_date_valid (every YYYY-MM-DD of the API: JSON fields, query parameters,
 * CSV lines), the IATI checker's iati_chk_date_days, and the calendar arithmetic of rate.h
 * (rate_date_valid, rate_date_to_days, rate_date_add_months).
 *
 * Input: bytes 0..3 are a month count (int32, little-endian) for rate_date_add_months; the
 * rest is the date text. */
#include <stdbool.h>
#include <time.h>

#include "../../src/iati/check_internal.h"
#include "fundledger/ledger.h"
#include "fundledger/rate.h"
#include "fuzz.h"

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* The reference: a date exists when the C library's normalisation leaves it unchanged. Year,
 * month and day come from the ten characters "YYYY-MM-DD" at s. */
static bool reference_date(const char *s, int *y, int *m, int *d, int64_t *days)
{
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2)) {
        return false;
    }
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    struct tm tm = {.tm_year = *y - 1900, .tm_mon = *m - 1, .tm_mday = *d, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm back;
    if (gmtime_r(&t, &back) == NULL) {
        return false;
    }
    if (back.tm_year != *y - 1900 || back.tm_mon != *m - 1 || back.tm_mday != *d) {
        return false;
    }
    /* t is noon; floor division for dates before 1970. */
    int64_t secs = (int64_t)t - 12 * 3600;
    *days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 64) {
        return 0;
    }
    int32_t months =
        (int32_t)((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24);
    char *s = fuzz_strdup(data + 4, size - 4);
    size_t len = strlen(s);

    int y = 0, m = 0, d = 0;
    int64_t ref_days = 0;
    bool shaped = len >= 10 && reference_date(s, &y, &m, &d, &ref_days);

    /* ledger_date_valid: exactly ten characters, a real date, year 1900 or later. */
    bool ledger = ledger_date_valid(s);
    bool want = len == 10 && shaped && y >= 1900;
    FUZZ_CHECK(ledger == want, "ledger_date_valid('%s') = %d, reference %d", s, ledger, want);

    /* ledger_date_parse (the one date parser): the same verdict, the reference's fields, and
     * nothing written on a refusal. */
    rate_date parsed = {-7, -7, -7};
    bool p = ledger_date_parse(s, &parsed);
    FUZZ_CHECK(p == want, "ledger_date_parse('%s') = %d, reference %d", s, p, want);
    FUZZ_CHECK(p ? parsed.y == y && parsed.m == m && parsed.d == d
                 : parsed.y == -7 && parsed.m == -7 && parsed.d == -7,
               "ledger_date_parse('%s') = %d-%d-%d", s, parsed.y, parsed.m, parsed.d);

    /* iati_chk_date_days: a real date (any year 0000..9999) followed by nothing, 'T', 'Z', '+'
     * or '-' (xsd:date with a time zone, or a dateTime). */
    int64_t iati_days = 0x7777;
    bool iati = iati_chk_date_days(s, &iati_days);
    bool iati_want = shaped && (len == 10 || s[10] == 'T' || s[10] == 'Z' || s[10] == '+' || s[10] == '-');
    FUZZ_CHECK(iati == iati_want, "iati_chk_date_days('%s') = %d, reference %d", s, iati, iati_want);
    FUZZ_CHECK(iati ? iati_days == ref_days : iati_days == 0x7777, "iati_chk_date_days('%s') = %lld days, want %lld", s,
               (long long)iati_days, (long long)ref_days);

    if (shaped) {
        rate_date r = {y, m, d};
        bool valid = rate_date_valid(r);
        FUZZ_CHECK(valid == (y >= RATE_DATE_YEAR_MIN && y <= RATE_DATE_YEAR_MAX), "rate_date_valid(%d-%d-%d) = %d", y,
                   m, d, valid);
        FUZZ_CHECK(!ledger || valid, "'%s' valid for the ledger but not for rate.h", s);
        if (valid) {
            FUZZ_CHECK(rate_date_to_days(r) == ref_days, "rate_date_to_days(%s) = %lld, want %lld", s,
                       (long long)rate_date_to_days(r), (long long)ref_days);
            FUZZ_CHECK(rate_days_in_month(y, m) >= d && rate_days_in_month(y, m) >= 28, "days in %d-%d", y, m);
            rate_date out = {-1, -1, -1};
            bool ok = rate_date_add_months(r, months, &out);
            int64_t target = (int64_t)y * 12 + (m - 1) + months;
            bool in_range = target >= 0 && target / 12 >= RATE_DATE_YEAR_MIN && target / 12 <= RATE_DATE_YEAR_MAX;
            FUZZ_CHECK(ok == in_range, "%s + %d months: ok %d, in range %d", s, (int)months, ok, in_range);
            if (ok) {
                FUZZ_CHECK(rate_date_valid(out), "%s + %d months gave an invalid date", s, (int)months);
                FUZZ_CHECK((int64_t)out.y * 12 + (out.m - 1) == target, "%s + %d months: %d-%d", s, (int)months, out.y,
                           out.m);
                int dim = rate_days_in_month(out.y, out.m);
                FUZZ_CHECK(out.d == (d < dim ? d : dim), "%s + %d months: day %d", s, (int)months, out.d);
            } else {
                FUZZ_CHECK(out.y == -1 && out.m == -1 && out.d == -1, "out written on refusal");
            }
        }
    }
    free(s);
    return 0;
}
