/* Unit tests of waterfall: in-loan allocation, fund waterfall (sequential and pro rata),
 * loss and recovery allocation. */
/* cmocka.h needs these four headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <string.h>

#include "fundledger/waterfall.h"

__extension__ typedef __int128 i128;

/* ---- (1) in-loan allocation ---- */

static waterfall_loan_due sample_due(void)
{
    /* fees 100, overdue interest 200, overdue principal 300, current interest 400,
     * current principal 500: 1500 due in all. */
    waterfall_loan_due d = {{100, 200, 300, 400, 500}};
    return d;
}

static void assert_applied(const waterfall_loan_applied *a, const int64_t want[WATERFALL_BUCKETS], int64_t excess)
{
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        assert_int_equal(a->applied_minor[b], want[b]);
    }
    assert_int_equal(a->excess_minor, excess);
}

static void test_loan_payment_exact(void **state)
{
    (void)state;
    waterfall_loan_due d = sample_due();
    waterfall_loan_applied a;
    assert_int_equal(waterfall_allocate_payment(1500, &d, &a), WATERFALL_OK);
    const int64_t want[WATERFALL_BUCKETS] = {100, 200, 300, 400, 500};
    assert_applied(&a, want, 0);
}

/* 650 pays fees 100, overdue interest 200, overdue principal 300, then 50 of the current
 * interest; current principal gets nothing. */
static void test_loan_payment_under(void **state)
{
    (void)state;
    waterfall_loan_due d = sample_due();
    waterfall_loan_applied a;
    assert_int_equal(waterfall_allocate_payment(650, &d, &a), WATERFALL_OK);
    const int64_t want[WATERFALL_BUCKETS] = {100, 200, 300, 50, 0};
    assert_applied(&a, want, 0);

    assert_int_equal(waterfall_allocate_payment(0, &d, &a), WATERFALL_OK);
    const int64_t none[WATERFALL_BUCKETS] = {0, 0, 0, 0, 0};
    assert_applied(&a, none, 0);

    /* Fees first: 60 does not even cover them. */
    assert_int_equal(waterfall_allocate_payment(60, &d, &a), WATERFALL_OK);
    const int64_t fees_only[WATERFALL_BUCKETS] = {60, 0, 0, 0, 0};
    assert_applied(&a, fees_only, 0);
}

/* 2000 pays everything due (1500) and leaves 500 as prepayment. */
static void test_loan_payment_over(void **state)
{
    (void)state;
    waterfall_loan_due d = sample_due();
    waterfall_loan_applied a;
    assert_int_equal(waterfall_allocate_payment(2000, &d, &a), WATERFALL_OK);
    const int64_t want[WATERFALL_BUCKETS] = {100, 200, 300, 400, 500};
    assert_applied(&a, want, 500);

    /* Nothing overdue: straight to current interest and principal. */
    waterfall_loan_due cur = {{0, 0, 0, 70, 30}};
    assert_int_equal(waterfall_allocate_payment(120, &cur, &a), WATERFALL_OK);
    const int64_t want2[WATERFALL_BUCKETS] = {0, 0, 0, 70, 30};
    assert_applied(&a, want2, 20);
}

static void test_loan_payment_invalid(void **state)
{
    (void)state;
    waterfall_loan_due d = sample_due();
    waterfall_loan_applied a;
    memset(&a, 0x5a, sizeof a);
    waterfall_loan_applied before = a;
    assert_int_equal(waterfall_allocate_payment(-1, &d, &a), WATERFALL_ERR_NEGATIVE);
    d.due_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL] = -3;
    assert_int_equal(waterfall_allocate_payment(10, &d, &a), WATERFALL_ERR_NEGATIVE);
    assert_memory_equal(&a, &before, sizeof a);
}

/* ---- (2) fund waterfall ---- */

typedef struct want_step {
    waterfall_step_kind kind;
    int tranche;
    int64_t due;
    int64_t amount;
} want_step;

static void assert_steps(const waterfall_step *got, size_t len, const want_step *want, size_t n)
{
    assert_int_equal(len, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].kind, want[i].kind);
        assert_int_equal(got[i].tranche, want[i].tranche);
        assert_int_equal(got[i].due_minor, want[i].due);
        assert_int_equal(got[i].amount_minor, want[i].amount);
    }
}

/* Stack: senior (rank 1) interest 100 / principal 6000; mezzanine (rank 2) 50 / 3000;
 * first-loss (rank 3) 0 / 1000. Fees and expenses 30; reserve target 200, current 150 (gap 50).
 * Cash: interest 200 + fees 20 + principal 3000 = 3220. */
static const waterfall_tranche stack3[3] = {
    {1, 100, 6000},
    {2, 50, 3000},
    {3, 0, 1000},
};

static waterfall_fund fund3(waterfall_mode mode)
{
    waterfall_fund f = {mode, 30, 200, 150, stack3, 3};
    return f;
}

/* Sequential, by hand: fees 30 (3190 left) -> senior interest 100 (3090) -> senior principal
 * min(3090, 6000) = 3090 (0) -> nothing for the reserve, the mezzanine, the first-loss. */
static void test_fund_sequential(void **state)
{
    (void)state;
    waterfall_fund f = fund3(WATERFALL_SEQUENTIAL);
    waterfall_cash cash = {200, 20, 3000};
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t len = 0;
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_MAX, &len), WATERFALL_OK);
    const want_step want[] = {
        {WATERFALL_STEP_FEES, -1, 30, 30},         {WATERFALL_STEP_INTEREST, 0, 100, 100},
        {WATERFALL_STEP_PRINCIPAL, 0, 6000, 3090}, {WATERFALL_STEP_RESERVE, -1, 50, 0},
        {WATERFALL_STEP_INTEREST, 1, 50, 0},       {WATERFALL_STEP_PRINCIPAL, 1, 3000, 0},
        {WATERFALL_STEP_INTEREST, 2, 0, 0},        {WATERFALL_STEP_PRINCIPAL, 2, 1000, 0},
        {WATERFALL_STEP_RESIDUAL, 2, 0, 0},
    };
    assert_steps(steps, len, want, sizeof want / sizeof want[0]);
}

/* Pro rata, same inputs, by hand: fees 30 (3190) -> senior interest 100 (3090) -> mezzanine
 * interest 50 (3040) -> principal 3040 split 6000:3000: senior 3040*2/3 = 2026.67, mezzanine
 * 1013.33; floors 2026 + 1013 = 3039, the leftover unit to the larger remainder (senior, .67):
 * senior 2027, mezzanine 1013 -> nothing left for the reserve and the first-loss.
 * Sequential gave the mezzanine nothing: the two modes differ. */
static void test_fund_pro_rata(void **state)
{
    (void)state;
    waterfall_fund f = fund3(WATERFALL_PRO_RATA);
    waterfall_cash cash = {200, 20, 3000};
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t len = 0;
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_MAX, &len), WATERFALL_OK);
    const want_step want[] = {
        {WATERFALL_STEP_FEES, -1, 30, 30},         {WATERFALL_STEP_INTEREST, 0, 100, 100},
        {WATERFALL_STEP_INTEREST, 1, 50, 50},      {WATERFALL_STEP_PRINCIPAL, 0, 6000, 2027},
        {WATERFALL_STEP_PRINCIPAL, 1, 3000, 1013}, {WATERFALL_STEP_RESERVE, -1, 50, 0},
        {WATERFALL_STEP_INTEREST, 2, 0, 0},        {WATERFALL_STEP_PRINCIPAL, 2, 1000, 0},
        {WATERFALL_STEP_RESIDUAL, 2, 0, 0},
    };
    assert_steps(steps, len, want, sizeof want / sizeof want[0]);
}

/* Enough cash for everything (20000), sequential, by hand: 30 + 100 + 6000 + 50 + 50 + 3000 +
 * 0 + 1000 = 10230 paid; the residual 9770 goes to the first-loss tranche (most junior).
 * Pro rata pays the same amounts (everything is owed in full), in its own order. */
static void test_fund_excess_to_residual(void **state)
{
    (void)state;
    waterfall_cash cash = {5000, 0, 15000};
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t len = 0;
    waterfall_fund f = fund3(WATERFALL_SEQUENTIAL);
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_MAX, &len), WATERFALL_OK);
    const want_step seq[] = {
        {WATERFALL_STEP_FEES, -1, 30, 30},         {WATERFALL_STEP_INTEREST, 0, 100, 100},
        {WATERFALL_STEP_PRINCIPAL, 0, 6000, 6000}, {WATERFALL_STEP_RESERVE, -1, 50, 50},
        {WATERFALL_STEP_INTEREST, 1, 50, 50},      {WATERFALL_STEP_PRINCIPAL, 1, 3000, 3000},
        {WATERFALL_STEP_INTEREST, 2, 0, 0},        {WATERFALL_STEP_PRINCIPAL, 2, 1000, 1000},
        {WATERFALL_STEP_RESIDUAL, 2, 0, 9770},
    };
    assert_steps(steps, len, seq, sizeof seq / sizeof seq[0]);

    f = fund3(WATERFALL_PRO_RATA);
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_MAX, &len), WATERFALL_OK);
    const want_step pro[] = {
        {WATERFALL_STEP_FEES, -1, 30, 30},         {WATERFALL_STEP_INTEREST, 0, 100, 100},
        {WATERFALL_STEP_INTEREST, 1, 50, 50},      {WATERFALL_STEP_PRINCIPAL, 0, 6000, 6000},
        {WATERFALL_STEP_PRINCIPAL, 1, 3000, 3000}, {WATERFALL_STEP_RESERVE, -1, 50, 50},
        {WATERFALL_STEP_INTEREST, 2, 0, 0},        {WATERFALL_STEP_PRINCIPAL, 2, 1000, 1000},
        {WATERFALL_STEP_RESIDUAL, 2, 0, 9770},
    };
    assert_steps(steps, len, pro, sizeof pro / sizeof pro[0]);
}

/* Reserve before the mezzanine in sequential mode: cash 6200 pays fees 30, senior 100 + 6000,
 * reserve 50, then the mezzanine's interest gets the last 20. */
static void test_fund_reserve_order(void **state)
{
    (void)state;
    waterfall_cash cash = {6200, 0, 0};
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t len = 0;
    waterfall_fund f = fund3(WATERFALL_SEQUENTIAL);
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_MAX, &len), WATERFALL_OK);
    assert_int_equal(steps[3].kind, WATERFALL_STEP_RESERVE);
    assert_int_equal(steps[3].amount_minor, 50);
    assert_int_equal(steps[4].amount_minor, 20);
    assert_int_equal(steps[5].amount_minor, 0);

    /* A reserve at or above target takes nothing. */
    f.reserve_current_minor = 500;
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_MAX, &len), WATERFALL_OK);
    assert_int_equal(steps[3].due_minor, 0);
    assert_int_equal(steps[3].amount_minor, 0);
    assert_int_equal(steps[4].amount_minor, 50);
    assert_int_equal(steps[5].amount_minor, 20);
}

/* One tranche: it is senior and residual holder. Two: senior and first-loss, and pro rata
 * shares principal among the rated tranches only (the senior), so both modes agree. */
static void test_fund_small_stacks(void **state)
{
    (void)state;
    const waterfall_tranche one[1] = {{1, 10, 100}};
    waterfall_fund f = {WATERFALL_PRO_RATA, 5, 0, 0, one, 1};
    waterfall_cash cash = {0, 0, 200};
    waterfall_step steps[WATERFALL_STEPS_FOR(1)];
    size_t len = 0;
    assert_int_equal(waterfall_run(&f, &cash, steps, WATERFALL_STEPS_FOR(1), &len), WATERFALL_OK);
    const want_step w1[] = {
        {WATERFALL_STEP_FEES, -1, 5, 5},         {WATERFALL_STEP_INTEREST, 0, 10, 10},
        {WATERFALL_STEP_PRINCIPAL, 0, 100, 100}, {WATERFALL_STEP_RESERVE, -1, 0, 0},
        {WATERFALL_STEP_RESIDUAL, 0, 0, 85},
    };
    assert_steps(steps, len, w1, sizeof w1 / sizeof w1[0]);

    const waterfall_tranche two[2] = {{1, 10, 100}, {5, 7, 50}};
    waterfall_step s_seq[WATERFALL_STEPS_FOR(2)];
    waterfall_step s_pro[WATERFALL_STEPS_FOR(2)];
    size_t l_seq = 0;
    size_t l_pro = 0;
    waterfall_cash cash2 = {0, 0, 140};
    waterfall_fund fs = {WATERFALL_SEQUENTIAL, 0, 0, 0, two, 2};
    waterfall_fund fp = {WATERFALL_PRO_RATA, 0, 0, 0, two, 2};
    assert_int_equal(waterfall_run(&fs, &cash2, s_seq, 7, &l_seq), WATERFALL_OK);
    assert_int_equal(waterfall_run(&fp, &cash2, s_pro, 7, &l_pro), WATERFALL_OK);
    assert_int_equal(l_seq, 7);
    assert_int_equal(l_pro, 7);
    assert_memory_equal(s_seq, s_pro, sizeof s_seq);
    /* 140: senior interest 10, senior principal 100, first-loss interest 7, principal 23. */
    assert_int_equal(s_seq[5].amount_minor, 23);
    assert_int_equal(s_seq[6].amount_minor, 0);
}

static void expect_run_refused(const waterfall_fund *f, const waterfall_cash *c, size_t cap, waterfall_status want)
{
    waterfall_step steps[WATERFALL_STEPS_MAX];
    size_t len = 99;
    assert_int_equal(waterfall_run(f, c, steps, cap, &len), want);
    assert_int_equal(len, 0);
}

static void test_fund_invalid(void **state)
{
    (void)state;
    waterfall_cash cash = {1, 1, 1};
    waterfall_fund f = fund3(WATERFALL_SEQUENTIAL);
    expect_run_refused(&f, &cash, WATERFALL_STEPS_FOR(3) - 1, WATERFALL_ERR_CAPACITY);

    f.tranche_count = 0;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_COUNT);
    waterfall_tranche many[WATERFALL_TRANCHES_MAX + 1];
    for (int i = 0; i <= WATERFALL_TRANCHES_MAX; i++) {
        many[i].rank = i + 1;
        many[i].interest_due_minor = 0;
        many[i].principal_outstanding_minor = 0;
    }
    f.tranches = many;
    f.tranche_count = WATERFALL_TRANCHES_MAX + 1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX + 2, WATERFALL_ERR_COUNT);

    waterfall_tranche bad[3] = {{1, 0, 10}, {1, 0, 10}, {2, 0, 10}}; /* duplicate rank */
    f.tranches = bad;
    f.tranche_count = 3;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_RANK);
    bad[0].rank = 3; /* descending */
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_RANK);
    bad[0].rank = 0; /* rank below 1 */
    bad[1].rank = 1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_RANK);
    bad[0].rank = 1;
    bad[1].rank = 2;
    bad[2].rank = 3;
    bad[1].interest_due_minor = -1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_NEGATIVE);
    bad[1].interest_due_minor = 0;
    bad[2].principal_outstanding_minor = -1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_NEGATIVE);
    bad[2].principal_outstanding_minor = INT64_MAX;
    bad[1].principal_outstanding_minor = 1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_OVERFLOW);

    f = fund3(WATERFALL_SEQUENTIAL);
    f.mode = (waterfall_mode)7;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_MODE);
    f = fund3(WATERFALL_SEQUENTIAL);
    f.fees_expenses_due_minor = -1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_NEGATIVE);
    f = fund3(WATERFALL_SEQUENTIAL);
    f.reserve_target_minor = -1;
    expect_run_refused(&f, &cash, WATERFALL_STEPS_MAX, WATERFALL_ERR_NEGATIVE);
    f = fund3(WATERFALL_SEQUENTIAL);
    waterfall_cash neg = {0, -1, 0};
    expect_run_refused(&f, &neg, WATERFALL_STEPS_MAX, WATERFALL_ERR_NEGATIVE);
    waterfall_cash huge = {INT64_MAX, 1, 0};
    expect_run_refused(&f, &huge, WATERFALL_STEPS_MAX, WATERFALL_ERR_OVERFLOW);

    for (int s = WATERFALL_OK; s <= WATERFALL_ERR_OVERFLOW; s++) {
        assert_non_null(waterfall_status_text((waterfall_status)s));
    }
}

/* Fixed-seed LCG (Knuth's MMIX constants) for the property tests. */
static uint64_t lcg_state = 7919u;

static int64_t lcg_next(uint64_t bound)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (int64_t)((lcg_state >> 33) % bound);
}

/* Property over 2000 generated funds, both modes: the steps hand out exactly the cash, no
 * step takes more than its due (but the residual), the residual gets something only when every
 * claim is paid in full, the shape is fixed, the run is deterministic, and a pro-rata principal
 * share is within one unit of its exact proportion. The in-loan allocation is checked alike. */
static void test_property_conservation(void **state)
{
    (void)state;
    for (int c = 0; c < 2000; c++) {
        waterfall_tranche tr[WATERFALL_TRANCHES_MAX];
        size_t n = 1 + (size_t)lcg_next(6);
        uint64_t scale = c % 4 == 0 ? 100 : 1000000000000ull;
        int rank = 0;
        for (size_t i = 0; i < n; i++) {
            rank += 1 + (int)lcg_next(3);
            tr[i].rank = rank;
            tr[i].interest_due_minor = lcg_next(4) == 0 ? 0 : lcg_next(scale / 10 + 1);
            tr[i].principal_outstanding_minor = lcg_next(5) == 0 ? 0 : lcg_next(scale);
        }
        waterfall_fund f = {
            .mode = lcg_next(2) == 0 ? WATERFALL_SEQUENTIAL : WATERFALL_PRO_RATA,
            .fees_expenses_due_minor = lcg_next(scale / 20 + 1),
            .reserve_target_minor = lcg_next(scale / 10 + 1),
            .reserve_current_minor = lcg_next(scale / 10 + 1),
            .tranches = tr,
            .tranche_count = n,
        };
        waterfall_cash cash = {lcg_next(scale), lcg_next(scale / 50 + 1), lcg_next(scale * 3)};
        int64_t total = cash.interest_minor + cash.fee_minor + cash.principal_minor;
        waterfall_step s1[WATERFALL_STEPS_MAX];
        waterfall_step s2[WATERFALL_STEPS_MAX];
        size_t l1 = 0;
        size_t l2 = 0;
        assert_int_equal(waterfall_run(&f, &cash, s1, WATERFALL_STEPS_MAX, &l1), WATERFALL_OK);
        assert_int_equal(waterfall_run(&f, &cash, s2, WATERFALL_STEPS_MAX, &l2), WATERFALL_OK);
        assert_int_equal(l1, WATERFALL_STEPS_FOR(n));
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1 * sizeof s1[0]);
        int64_t sum = 0;
        int64_t unpaid = 0;
        for (size_t i = 0; i < l1; i++) {
            assert_true(s1[i].amount_minor >= 0);
            sum += s1[i].amount_minor;
            if (s1[i].kind == WATERFALL_STEP_RESIDUAL) {
                assert_int_equal(i, l1 - 1);
                assert_int_equal(s1[i].tranche, (int)n - 1);
            } else {
                assert_true(s1[i].amount_minor <= s1[i].due_minor);
                unpaid += s1[i].due_minor - s1[i].amount_minor;
            }
        }
        assert_int_equal(sum, total);
        if (s1[l1 - 1].amount_minor > 0) {
            assert_int_equal(unpaid, 0);
        }
        if (f.mode == WATERFALL_PRO_RATA && n >= 2) {
            /* Principal steps of the rated tranches: shares of their combined amount. */
            i128 pool = 0;
            i128 owed = 0;
            for (size_t i = 0; i < l1; i++) {
                if (s1[i].kind == WATERFALL_STEP_PRINCIPAL && s1[i].tranche < (int)n - 1) {
                    pool += s1[i].amount_minor;
                    owed += s1[i].due_minor;
                }
            }
            for (size_t i = 0; i < l1 && owed > 0; i++) {
                if (s1[i].kind == WATERFALL_STEP_PRINCIPAL && s1[i].tranche < (int)n - 1) {
                    i128 exact_num = pool * s1[i].due_minor;
                    i128 got = (i128)s1[i].amount_minor * owed;
                    i128 diff = got > exact_num ? got - exact_num : exact_num - got;
                    assert_true(diff < owed); /* |share - exact| < 1 unit */
                }
            }
        }

        waterfall_loan_due due;
        int64_t due_sum = 0;
        for (int b = 0; b < WATERFALL_BUCKETS; b++) {
            due.due_minor[b] = lcg_next(3) == 0 ? 0 : lcg_next(scale);
            due_sum += due.due_minor[b];
        }
        int64_t pay = lcg_next((uint64_t)due_sum * 2 + 2);
        waterfall_loan_applied a;
        assert_int_equal(waterfall_allocate_payment(pay, &due, &a), WATERFALL_OK);
        int64_t applied = a.excess_minor;
        bool short_seen = false;
        for (int b = 0; b < WATERFALL_BUCKETS; b++) {
            assert_true(a.applied_minor[b] >= 0 && a.applied_minor[b] <= due.due_minor[b]);
            if (short_seen) {
                assert_int_equal(a.applied_minor[b], 0); /* nothing after an unpaid bucket */
            }
            short_seen = short_seen || a.applied_minor[b] < due.due_minor[b];
            applied += a.applied_minor[b];
        }
        assert_int_equal(applied, pay);
        assert_true(a.excess_minor == 0 || !short_seen);
    }
}

/* ---- (3) losses and recoveries ---- */

/* COP millions in centavos: 1 million COP = 100,000,000 centavos. */
#define MCOP(x) ((int64_t)(x)*100000000)

/* Domain worked example: stack 3,000 first-loss / 5,000 mezzanine / 12,000 senior, loss 4,200
 * -> first-loss absorbs 3,000 (to 0), mezzanine 1,200 (to 3,800), senior 0 (stays 12,000). */
static void test_loss_domain_example(void **state)
{
    (void)state;
    const int64_t capital[3] = {MCOP(12000), MCOP(5000), MCOP(3000)}; /* senior first */
    int64_t absorbed[3];
    int64_t unabsorbed = -1;
    assert_int_equal(waterfall_allocate_loss(MCOP(4200), capital, 3, absorbed, &unabsorbed), WATERFALL_OK);
    assert_int_equal(absorbed[2], MCOP(3000));
    assert_int_equal(absorbed[1], MCOP(1200));
    assert_int_equal(absorbed[0], 0);
    assert_int_equal(unabsorbed, 0);
    assert_int_equal(capital[2] - absorbed[2], 0);
    assert_int_equal(capital[1] - absorbed[1], MCOP(3800));
    assert_int_equal(capital[0] - absorbed[0], MCOP(12000));

    /* Recoveries top-down: written down 0 / 1,200 / 3,000. The senior lost nothing, so 1,000
     * recovered restores the mezzanine to 4,800 (200 still written down). */
    int64_t written[3] = {absorbed[0], absorbed[1], absorbed[2]};
    int64_t restored[3];
    int64_t excess = -1;
    assert_int_equal(waterfall_allocate_recovery(MCOP(1000), written, 3, restored, &excess), WATERFALL_OK);
    assert_int_equal(restored[0], 0);
    assert_int_equal(restored[1], MCOP(1000));
    assert_int_equal(restored[2], 0);
    assert_int_equal(excess, 0);
    for (int i = 0; i < 3; i++) {
        written[i] -= restored[i];
    }
    /* 2,500 more: the mezzanine's last 200, then 2,300 to the first-loss (700 still down). */
    assert_int_equal(waterfall_allocate_recovery(MCOP(2500), written, 3, restored, &excess), WATERFALL_OK);
    assert_int_equal(restored[0], 0);
    assert_int_equal(restored[1], MCOP(200));
    assert_int_equal(restored[2], MCOP(2300));
    assert_int_equal(excess, 0);
    for (int i = 0; i < 3; i++) {
        written[i] -= restored[i];
    }
    /* 1,000 more: 700 restores the first-loss fully, 300 is excess. */
    assert_int_equal(waterfall_allocate_recovery(MCOP(1000), written, 3, restored, &excess), WATERFALL_OK);
    assert_int_equal(restored[2], MCOP(700));
    assert_int_equal(excess, MCOP(300));
}

/* A loss deep enough to reach the senior: 9,000 -> first-loss 3,000, mezzanine 5,000,
 * senior 1,000. A recovery of 1,500 restores the senior first (1,000), then the mezzanine
 * (500). A loss beyond the stack (25,000) leaves 5,000 unabsorbed. */
static void test_loss_reaches_senior(void **state)
{
    (void)state;
    const int64_t capital[3] = {MCOP(12000), MCOP(5000), MCOP(3000)};
    int64_t absorbed[3];
    int64_t unabsorbed = -1;
    assert_int_equal(waterfall_allocate_loss(MCOP(9000), capital, 3, absorbed, &unabsorbed), WATERFALL_OK);
    assert_int_equal(absorbed[0], MCOP(1000));
    assert_int_equal(absorbed[1], MCOP(5000));
    assert_int_equal(absorbed[2], MCOP(3000));
    assert_int_equal(unabsorbed, 0);
    int64_t restored[3];
    int64_t excess = -1;
    assert_int_equal(waterfall_allocate_recovery(MCOP(1500), absorbed, 3, restored, &excess), WATERFALL_OK);
    assert_int_equal(restored[0], MCOP(1000));
    assert_int_equal(restored[1], MCOP(500));
    assert_int_equal(restored[2], 0);
    assert_int_equal(excess, 0);

    assert_int_equal(waterfall_allocate_loss(MCOP(25000), capital, 3, absorbed, &unabsorbed), WATERFALL_OK);
    assert_int_equal(unabsorbed, MCOP(5000));
    assert_int_equal(absorbed[0], MCOP(12000));
}

static void test_loss_invalid(void **state)
{
    (void)state;
    const int64_t capital[2] = {100, 50};
    const int64_t negative[2] = {100, -1};
    const int64_t huge[2] = {INT64_MAX, 1};
    int64_t out[2] = {7, 7};
    int64_t rest = 7;
    assert_int_equal(waterfall_allocate_loss(-1, capital, 2, out, &rest), WATERFALL_ERR_NEGATIVE);
    assert_int_equal(waterfall_allocate_loss(10, negative, 2, out, &rest), WATERFALL_ERR_NEGATIVE);
    assert_int_equal(waterfall_allocate_loss(10, huge, 2, out, &rest), WATERFALL_ERR_OVERFLOW);
    assert_int_equal(waterfall_allocate_loss(10, capital, 0, out, &rest), WATERFALL_ERR_COUNT);
    assert_int_equal(waterfall_allocate_recovery(-1, capital, 2, out, &rest), WATERFALL_ERR_NEGATIVE);
    assert_int_equal(waterfall_allocate_recovery(1, capital, WATERFALL_TRANCHES_MAX + 1, out, &rest),
                     WATERFALL_ERR_COUNT);
    assert_int_equal(out[0], 7);
    assert_int_equal(out[1], 7);
    assert_int_equal(rest, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loan_payment_exact),      cmocka_unit_test(test_loan_payment_under),
        cmocka_unit_test(test_loan_payment_over),       cmocka_unit_test(test_loan_payment_invalid),
        cmocka_unit_test(test_fund_sequential),         cmocka_unit_test(test_fund_pro_rata),
        cmocka_unit_test(test_fund_excess_to_residual), cmocka_unit_test(test_fund_reserve_order),
        cmocka_unit_test(test_fund_small_stacks),       cmocka_unit_test(test_fund_invalid),
        cmocka_unit_test(test_property_conservation),   cmocka_unit_test(test_loss_domain_example),
        cmocka_unit_test(test_loss_reaches_senior),     cmocka_unit_test(test_loss_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
