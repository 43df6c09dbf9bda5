/* Unit tests of schedule: annuity, grace on principal and interest, equal principal, bullet. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include <mpfr.h>

#include "fundledger/schedule.h"

/* Expected tables were computed independently with Python's decimal module at 80 significant
 * digits, by a separate implementation of the rules in schedule.h:
 *   r = (1 + EA) ** (1/n) - 1; interest = (balance * r).quantize(1, ROUND_HALF_EVEN);
 *   W = (B * r / (1 - (1 + r) ** -m)).quantize(1, ROUND_HALF_EVEN); principal = W - interest,
 *   the last row the remaining balance.
 * Each row's interest is also re-checked here with integer arithmetic against r to 30 decimals
 * (R30 = floor(r * 10^30), from the same Python run). */

__extension__ typedef __int128 i128;

typedef struct expect_row {
    int64_t principal, interest, total, capitalised, balance_after;
} expect_row;

static const i128 TEN30 = (i128)1000000000000000LL * (i128)1000000000000000LL;

/* round_half_even(num / den) for num >= 0, den > 0. */
static i128 rhe(i128 num, i128 den)
{
    i128 q = num / den;
    i128 r = num % den;
    if (2 * r > den || (2 * r == den && q % 2 != 0)) {
        q++;
    }
    return q;
}

/* round_half_even(balance * r) from r30 = floor(r * 1e30): r lies in [r30, r30 + 1) / 1e30,
 * so both ends must round alike (true unless within 1e-22 of a tie). */
static int64_t interest_check(int64_t balance, i128 r30)
{
    i128 lo = rhe((i128)balance * r30, TEN30);
    i128 hi = rhe((i128)balance * (r30 + 1), TEN30);
    assert_true(lo == hi);
    return (int64_t)lo;
}

static schedule_terms base_terms(void)
{
    schedule_terms t;
    memset(&t, 0, sizeof t);
    t.principal_minor = 120000000; /* COP 1,200,000.00 */
    t.exponent = 2;
    t.ea_rate = 24000000; /* 24 % EA */
    t.payments_per_year = 12;
    t.period_months = 1;
    t.instalments = 12;
    t.first_due.y = 2025;
    t.first_due.m = 1;
    t.first_due.d = 31;
    t.grace_principal = 0;
    t.grace_interest = 0;
    t.method = SCHEDULE_ANNUITY;
    return t;
}

/* Checks rows against the expected table and the invariants every schedule keeps. */
static void check_rows(const schedule_terms *t, const schedule_row *rows, size_t len, const expect_row *want, i128 r30)
{
    assert_int_equal(len, (size_t)t->instalments);
    int64_t balance = t->principal_minor;
    int64_t principal_sum = 0;
    int64_t capitalised_sum = 0;
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(rows[i].no, (int)i + 1);
        assert_int_equal(rows[i].principal_minor, want[i].principal);
        assert_int_equal(rows[i].interest_minor, want[i].interest);
        assert_int_equal(rows[i].total_minor, want[i].total);
        assert_int_equal(rows[i].capitalised_minor, want[i].capitalised);
        assert_int_equal(rows[i].balance_after_minor, want[i].balance_after);
        /* Interest (paid or capitalised) is round_half_even(balance before * r). */
        assert_int_equal(rows[i].interest_minor + rows[i].capitalised_minor, interest_check(balance, r30));
        assert_int_equal(rows[i].total_minor, rows[i].principal_minor + rows[i].interest_minor);
        balance = balance + rows[i].capitalised_minor - rows[i].principal_minor;
        assert_int_equal(rows[i].balance_after_minor, balance);
        principal_sum += rows[i].principal_minor;
        capitalised_sum += rows[i].capitalised_minor;
    }
    assert_int_equal(balance, 0);
    assert_int_equal(principal_sum, t->principal_minor + capitalised_sum);
}

/* COP 1,200,000.00 at 24 % EA, 12 monthly instalments, no grace.
 * r = 1.24^(1/12) - 1 = 0.018087582483510674531353084161751395...
 * W = 120000000 r / (1 - (1+r)^-12) = 11214301.1397... -> 11214301.
 * Row 1: interest 120000000 r = 2170509.898 -> 2170510, principal 11214301 - 2170510 = 9043791.
 * Rows 1-11 total W; the last row pays the remaining 11015067 + interest 199236 = 11214303
 * (it absorbs the rounding: 2 centavos more than W). Principal column: 120000000 exactly. */
static void test_annuity_no_grace(void **state)
{
    (void)state;
    static const expect_row want[] = {
        {9043791, 2170510, 11214301, 0, 110956209}, {9207371, 2006930, 11214301, 0, 101748838},
        {9373911, 1840390, 11214301, 0, 92374927},  {9543462, 1670839, 11214301, 0, 82831465},
        {9716080, 1498221, 11214301, 0, 73115385},  {9891820, 1322481, 11214301, 0, 63223565},
        {10070740, 1143561, 11214301, 0, 53152825}, {10252895, 961406, 11214301, 0, 42899930},
        {10438345, 775956, 11214301, 0, 32461585},  {10627149, 587152, 11214301, 0, 21834436},
        {10819369, 394932, 11214301, 0, 11015067},  {11015067, 199236, 11214303, 0, 0},
    };
    const i128 r30 = (i128)18087582483510674LL * 1000000000000LL + 531353084161LL;
    schedule_terms t = base_terms();
    schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, SCHEDULE_INSTALMENTS_MAX, &len), SCHEDULE_OK);
    check_rows(&t, rows, len, want, r30);
    for (size_t i = 0; i + 1 < len; i++) {
        assert_int_equal(rows[i].total_minor, 11214301);
    }
    /* Due dates from the anchor Jan 31, clamped to month ends. */
    const int want_day[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(rows[i].due_date.y, 2025);
        assert_int_equal(rows[i].due_date.m, (int)i + 1);
        assert_int_equal(rows[i].due_date.d, want_day[i]);
    }
}

/* COP 500,000.00 at 18 % EA, 8 quarterly instalments, 2 of them interest only.
 * r = 1.18^(1/4) - 1 = 0.042246635456321140907747019895...
 * Rows 1-2: interest 50000000 r = 2112331.77 -> 2112332, no principal.
 * Rows 3-8: annuity over m = 6: W = 50000000 r / (1 - (1+r)^-6) = 9607971 (rounded). */
static void test_annuity_principal_grace(void **state)
{
    (void)state;
    static const expect_row want[] = {
        {0, 2112332, 2112332, 0, 50000000},       {0, 2112332, 2112332, 0, 50000000},
        {7495639, 2112332, 9607971, 0, 42504361}, {7812305, 1795666, 9607971, 0, 34692056},
        {8142348, 1465623, 9607971, 0, 26549708}, {8486335, 1121636, 9607971, 0, 18063373},
        {8844854, 763117, 9607971, 0, 9218519},   {9218519, 389451, 9607970, 0, 0},
    };
    const i128 r30 = (i128)42246635456321140LL * 1000000000000LL + 907747019895LL;
    schedule_terms t = base_terms();
    t.principal_minor = 50000000;
    t.ea_rate = 18000000;
    t.payments_per_year = 4;
    t.period_months = 3;
    t.instalments = 8;
    t.first_due.y = 2024;
    t.first_due.m = 11;
    t.first_due.d = 30;
    t.grace_principal = 2;
    schedule_row rows[8];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 8, &len), SCHEDULE_OK);
    check_rows(&t, rows, len, want, r30);
    /* Nov 30 + 3 months = Feb 28 2025 (clamped), then May 30, Aug 30, Nov 30, ... */
    assert_int_equal(rows[1].due_date.m, 2);
    assert_int_equal(rows[1].due_date.d, 28);
    assert_int_equal(rows[2].due_date.m, 5);
    assert_int_equal(rows[2].due_date.d, 30);
    assert_int_equal(rows[7].due_date.y, 2026);
    assert_int_equal(rows[7].due_date.m, 8);
    assert_int_equal(rows[7].due_date.d, 30);
}

/* COP 300,000.00 at 12 % EA, 12 monthly, interest grace 2 (capitalised), principal grace 3.
 * r = 1.12^(1/12) - 1 = 0.009488792934582974126355069193...
 * Row 1: 30000000 r = 284663.79 -> 284664 capitalised: balance 30284664.
 * Row 2: 30284664 r = 287364.9 -> 287365 capitalised: balance 30572029.
 * Row 3: interest only 30572029 r = 290091.9 -> 290092.
 * Rows 4-12: annuity of 30572029 over 9: W = 3560083; the principal column sums to
 * 30000000 + 284664 + 287365 = 30572029. */
static void test_annuity_interest_grace(void **state)
{
    (void)state;
    static const expect_row want[] = {
        {0, 0, 0, 284664, 30284664},
        {0, 0, 0, 287365, 30572029},
        {0, 290092, 290092, 0, 30572029},
        {3269991, 290092, 3560083, 0, 27302038},
        {3301020, 259063, 3560083, 0, 24001018},
        {3332342, 227741, 3560083, 0, 20668676},
        {3363962, 196121, 3560083, 0, 17304714},
        {3395882, 164201, 3560083, 0, 13908832},
        {3428105, 131978, 3560083, 0, 10480727},
        {3460634, 99449, 3560083, 0, 7020093},
        {3493471, 66612, 3560083, 0, 3526622},
        {3526622, 33463, 3560085, 0, 0},
    };
    const i128 r30 = (i128)9488792934582974LL * 1000000000000LL + 126355069193LL;
    schedule_terms t = base_terms();
    t.principal_minor = 30000000;
    t.ea_rate = 12000000;
    t.grace_principal = 3;
    t.grace_interest = 2;
    schedule_row rows[12];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 12, &len), SCHEDULE_OK);
    check_rows(&t, rows, len, want, r30);
}

/* 100000007 minor units (not divisible by 6) at 10 % EA, 6 half-yearly, equal principal.
 * r = 1.1^(1/2) - 1 = 0.048808848170151546991453513679...
 * floor(100000007 / 6) = 16666667 on rows 1-5; the last takes 100000007 - 5 * 16666667 =
 * 16666672. Interest row 1: 100000007 r = 4880885.18 -> 4880885. */
static void test_equal_principal(void **state)
{
    (void)state;
    static const expect_row want[] = {
        {16666667, 4880885, 21547552, 0, 83333340}, {16666667, 4067404, 20734071, 0, 66666673},
        {16666667, 3253924, 19920591, 0, 50000006}, {16666667, 2440443, 19107110, 0, 33333339},
        {16666667, 1626962, 18293629, 0, 16666672}, {16666672, 813481, 17480153, 0, 0},
    };
    const i128 r30 = (i128)48808848170151546LL * 1000000000000LL + 991453513679LL;
    schedule_terms t = base_terms();
    t.principal_minor = 100000007;
    t.ea_rate = 10000000;
    t.payments_per_year = 2;
    t.period_months = 6;
    t.instalments = 6;
    t.method = SCHEDULE_EQUAL_PRINCIPAL;
    schedule_row rows[6];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 6, &len), SCHEDULE_OK);
    check_rows(&t, rows, len, want, r30);
}

/* Bullet, by hand: 10,000,000 at 15 % EA yearly (r = 0.15 exactly), 3 instalments, the first
 * in interest grace. Row 1: 1,500,000 capitalised -> 11,500,000. Row 2: interest
 * 11,500,000 * 0.15 = 1,725,000. Row 3: principal 11,500,000 + interest 1,725,000. */
static void test_bullet(void **state)
{
    (void)state;
    static const expect_row want[] = {
        {0, 0, 0, 1500000, 11500000},
        {0, 1725000, 1725000, 0, 11500000},
        {11500000, 1725000, 13225000, 0, 0},
    };
    const i128 r30 = (i128)15 * TEN30 / 100;
    schedule_terms t = base_terms();
    t.principal_minor = 10000000;
    t.ea_rate = 15000000;
    t.payments_per_year = 1;
    t.period_months = 12;
    t.instalments = 3;
    t.grace_interest = 1;
    t.method = SCHEDULE_BULLET;
    schedule_row rows[3];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 3, &len), SCHEDULE_OK);
    check_rows(&t, rows, len, want, r30);
    assert_int_equal(rows[2].due_date.y, 2027);
}

/* An exact tie inside a schedule, by hand: 1.21 EA twice a year gives r = 0.1 exactly.
 * 25 minor units, equal principal over 2: row 1 interest 2.5 -> 2 (even), principal 12;
 * row 2 interest 1.3 -> 1, principal 13. */
static void test_tie_in_schedule(void **state)
{
    (void)state;
    schedule_terms t = base_terms();
    t.principal_minor = 25;
    t.exponent = 0;
    t.ea_rate = 21000000;
    t.payments_per_year = 2;
    t.period_months = 6;
    t.instalments = 2;
    t.method = SCHEDULE_EQUAL_PRINCIPAL;
    schedule_row rows[2];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 2, &len), SCHEDULE_OK);
    assert_int_equal(rows[0].interest_minor, 2);
    assert_int_equal(rows[0].principal_minor, 12);
    assert_int_equal(rows[1].interest_minor, 1);
    assert_int_equal(rows[1].principal_minor, 13);
}

/* Zero rate: annuity W = 100 / 3 = 33.3 -> 33; rows 33, 33, 34. */
static void test_zero_rate(void **state)
{
    (void)state;
    schedule_terms t = base_terms();
    t.principal_minor = 100;
    t.ea_rate = 0;
    t.instalments = 3;
    schedule_row rows[3];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 3, &len), SCHEDULE_OK);
    assert_int_equal(rows[0].total_minor, 33);
    assert_int_equal(rows[1].total_minor, 33);
    assert_int_equal(rows[2].total_minor, 34);
    assert_int_equal(rows[2].interest_minor, 0);
}

/* Rounding the level payment up must not repay the loan early: 9 over 6 at 0 % gives
 * W = 1.5 -> 2 (half-even); rows 2, 2, 2, 2, 1, 0 would end early, so the principal is capped
 * at the balance and the rows after carry 0. */
static void test_tiny_annuity_capped(void **state)
{
    (void)state;
    schedule_terms t = base_terms();
    t.principal_minor = 9;
    t.ea_rate = 0;
    t.instalments = 6;
    schedule_row rows[6];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 6, &len), SCHEDULE_OK);
    const int64_t want[6] = {2, 2, 2, 2, 1, 0};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rows[i].principal_minor, want[i]);
    }
    assert_int_equal(rows[5].balance_after_minor, 0);
}

static void expect_refused(schedule_terms t, size_t cap, schedule_status want)
{
    schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    size_t len = 99;
    assert_int_equal(schedule_generate(&t, rows, cap, &len), want);
    assert_int_equal(len, 0);
}

static void test_invalid_terms(void **state)
{
    (void)state;
    const size_t cap = SCHEDULE_INSTALMENTS_MAX;
    schedule_terms t;

    t = base_terms();
    t.principal_minor = 0;
    expect_refused(t, cap, SCHEDULE_ERR_PRINCIPAL);
    t.principal_minor = -5;
    expect_refused(t, cap, SCHEDULE_ERR_PRINCIPAL);

    t = base_terms();
    t.exponent = 5;
    expect_refused(t, cap, SCHEDULE_ERR_EXPONENT);
    t.exponent = -1;
    expect_refused(t, cap, SCHEDULE_ERR_EXPONENT);

    t = base_terms();
    t.ea_rate = -1;
    expect_refused(t, cap, SCHEDULE_ERR_RATE);
    t.ea_rate = RATE_MAX + 1;
    expect_refused(t, cap, SCHEDULE_ERR_RATE);

    t = base_terms();
    t.payments_per_year = 5;
    expect_refused(t, cap, SCHEDULE_ERR_FREQUENCY);
    t.payments_per_year = 0;
    expect_refused(t, cap, SCHEDULE_ERR_FREQUENCY);
    t.payments_per_year = 24;
    expect_refused(t, cap, SCHEDULE_ERR_FREQUENCY);

    t = base_terms();
    t.period_months = 3; /* monthly payments, quarterly dates */
    expect_refused(t, cap, SCHEDULE_ERR_PERIOD);
    t.period_months = 0;
    expect_refused(t, cap, SCHEDULE_ERR_PERIOD);

    t = base_terms();
    t.instalments = 0;
    expect_refused(t, cap, SCHEDULE_ERR_TERM);
    t.instalments = SCHEDULE_INSTALMENTS_MAX + 1;
    expect_refused(t, cap, SCHEDULE_ERR_TERM);

    t = base_terms();
    t.grace_principal = 12; /* nothing left to amortise */
    expect_refused(t, cap, SCHEDULE_ERR_GRACE);
    t.grace_principal = -1;
    expect_refused(t, cap, SCHEDULE_ERR_GRACE);
    t.grace_principal = 2;
    t.grace_interest = 3; /* interest grace longer than principal grace */
    expect_refused(t, cap, SCHEDULE_ERR_GRACE);
    t.grace_interest = -1;
    expect_refused(t, cap, SCHEDULE_ERR_GRACE);
    t.method = SCHEDULE_BULLET;
    t.grace_interest = 12; /* bullet: at most term - 1 */
    expect_refused(t, cap, SCHEDULE_ERR_GRACE);

    t = base_terms();
    t.method = (schedule_method)0;
    expect_refused(t, cap, SCHEDULE_ERR_METHOD);
    t.method = (schedule_method)99;
    expect_refused(t, cap, SCHEDULE_ERR_METHOD);

    t = base_terms();
    t.first_due.m = 2;
    t.first_due.d = 30;
    expect_refused(t, cap, SCHEDULE_ERR_DATE);
    t = base_terms();
    t.first_due.y = 9999;
    t.first_due.m = 6;
    t.first_due.d = 15; /* 12 monthly instalments run past 9999-12 */
    expect_refused(t, cap, SCHEDULE_ERR_DATE);

    t = base_terms();
    expect_refused(t, 11, SCHEDULE_ERR_CAPACITY);

    t = base_terms();
    t.principal_minor = INT64_MAX - 10;
    t.grace_principal = 1;
    t.grace_interest = 1; /* capitalising overflows */
    expect_refused(t, cap, SCHEDULE_ERR_OVERFLOW);

    for (int s = SCHEDULE_OK; s <= SCHEDULE_ERR_INTERNAL; s++) {
        assert_non_null(schedule_status_text((schedule_status)s));
    }
}

/* Bullet accepts any interest grace below the term without a principal grace. */
static void test_bullet_grace_rules(void **state)
{
    (void)state;
    schedule_terms t = base_terms();
    t.method = SCHEDULE_BULLET;
    t.grace_interest = 11;
    schedule_row rows[12];
    size_t len = 0;
    assert_int_equal(schedule_generate(&t, rows, 12, &len), SCHEDULE_OK);
    assert_int_equal(rows[10].capitalised_minor > 0, 1);
    assert_int_equal(rows[11].principal_minor, rows[10].balance_after_minor);
}

/* Property over generated cases (fixed-seed LCG, Knuth's MMIX constants): whatever the terms,
 * the principal column sums to principal + capitalised interest, the balance ends at 0, no
 * amount is negative, totals add up, and rows 1..k of the grace periods behave as promised. */
static uint64_t lcg_state = 20240611u;

static uint64_t lcg_next(uint64_t bound)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (lcg_state >> 33) % bound;
}

static void test_property_conservation(void **state)
{
    (void)state;
    static const int freq[6] = {1, 2, 3, 4, 6, 12};
    static schedule_row rows[SCHEDULE_INSTALMENTS_MAX];
    for (int c = 0; c < 300; c++) {
        schedule_terms t = base_terms();
        int f = freq[lcg_next(6)];
        t.payments_per_year = f;
        t.period_months = 12 / f;
        t.instalments = 1 + (int)lcg_next(c % 10 == 0 ? 120 : 36);
        t.principal_minor = 1 + (int64_t)lcg_next(c % 3 == 0 ? 1000 : 50000000000ull);
        t.ea_rate = (int64_t)lcg_next(60000001); /* 0 .. 60 % */
        t.method = (schedule_method)(1 + lcg_next(3));
        t.grace_principal = (int)lcg_next((uint64_t)t.instalments);
        t.grace_interest = t.grace_principal > 0 ? (int)lcg_next((uint64_t)t.grace_principal + 1) : 0;
        size_t len = 0;
        assert_int_equal(schedule_generate(&t, rows, SCHEDULE_INSTALMENTS_MAX, &len), SCHEDULE_OK);
        assert_int_equal(len, (size_t)t.instalments);
        int64_t principal_sum = 0;
        int64_t capitalised_sum = 0;
        int64_t balance = t.principal_minor;
        for (size_t i = 0; i < len; i++) {
            const schedule_row *r = &rows[i];
            assert_true(r->principal_minor >= 0 && r->interest_minor >= 0);
            assert_true(r->capitalised_minor >= 0);
            assert_int_equal(r->total_minor, r->principal_minor + r->interest_minor);
            if ((int)i < t.grace_interest) {
                assert_int_equal(r->total_minor, 0);
            } else {
                assert_int_equal(r->capitalised_minor, 0);
            }
            if ((int)i < t.grace_principal || (t.method == SCHEDULE_BULLET && i + 1 < len)) {
                assert_int_equal(r->principal_minor, 0);
            }
            balance += r->capitalised_minor - r->principal_minor;
            assert_int_equal(r->balance_after_minor, balance);
            principal_sum += r->principal_minor;
            capitalised_sum += r->capitalised_minor;
        }
        assert_int_equal(balance, 0);
        assert_int_equal(principal_sum, t.principal_minor + capitalised_sum);
        /* Annuity: every amortising row but the last pays the same total. */
        if (t.method == SCHEDULE_ANNUITY && t.principal_minor > 100000) {
            for (size_t i = (size_t)t.grace_principal + 1; i + 1 < len; i++) {
                assert_int_equal(rows[i].total_minor, rows[t.grace_principal].total_minor);
            }
        }
    }
}

/* MPFR keeps per-thread constant caches and an integer pool (library-owned, reachable); free
 * them so that valgrind sees nothing in use at exit and any leak of ours would stand out. */
static int free_mpfr_caches(void **state)
{
    (void)state;
    mpfr_free_cache();
    return 0;
}

/* The stored amortisation names map to their methods (the one reading, for approval and replay). */
static void test_method_of_names(void **state)
{
    (void)state;
    assert_int_equal(schedule_method_of("annuity"), SCHEDULE_ANNUITY);
    assert_int_equal(schedule_method_of("equal_principal"), SCHEDULE_EQUAL_PRINCIPAL);
    assert_int_equal(schedule_method_of("bullet"), SCHEDULE_BULLET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_of_names),
        cmocka_unit_test(test_annuity_no_grace),
        cmocka_unit_test(test_annuity_principal_grace),
        cmocka_unit_test(test_annuity_interest_grace),
        cmocka_unit_test(test_equal_principal),
        cmocka_unit_test(test_bullet),
        cmocka_unit_test(test_tie_in_schedule),
        cmocka_unit_test(test_zero_rate),
        cmocka_unit_test(test_tiny_annuity_capped),
        cmocka_unit_test(test_invalid_terms),
        cmocka_unit_test(test_bullet_grace_rules),
        cmocka_unit_test(test_property_conservation),
    };
    return cmocka_run_group_tests(tests, NULL, free_mpfr_caches);
}
