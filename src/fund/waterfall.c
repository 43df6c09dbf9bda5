/* waterfall: priority of payments inside a loan and across tranches; loss and recovery order. */
#include "fundledger/waterfall.h"

#include <assert.h>
#include <stdbool.h>

#include "fundledger/money.h"

const char *waterfall_status_text(waterfall_status st)
{
    switch (st) {
    case WATERFALL_OK:
        return "ok";
    case WATERFALL_ERR_NEGATIVE:
        return "negative amount";
    case WATERFALL_ERR_COUNT:
        return "number of tranches out of range";
    case WATERFALL_ERR_RANK:
        return "tranches must be given in strictly increasing seniority rank (1 = most senior)";
    case WATERFALL_ERR_MODE:
        return "unknown principal mode";
    case WATERFALL_ERR_CAPACITY:
        return "output array too small";
    case WATERFALL_ERR_OVERFLOW:
        return "amounts too large";
    }
    return "unknown waterfall status";
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

waterfall_status waterfall_allocate_payment(int64_t payment_minor, const waterfall_loan_due *due,
                                            waterfall_loan_applied *out)
{
    assert(due != NULL);
    assert(out != NULL);
    if (payment_minor < 0) {
        return WATERFALL_ERR_NEGATIVE;
    }
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        if (due->due_minor[b] < 0) {
            return WATERFALL_ERR_NEGATIVE;
        }
    }
    waterfall_loan_applied r;
    int64_t left = payment_minor;
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        r.applied_minor[b] = min64(left, due->due_minor[b]);
        left -= r.applied_minor[b];
    }
    r.excess_minor = left;
    assert(left >= 0 && left <= payment_minor);
    *out = r;
    return WATERFALL_OK;
}

/* Run state: cash left and the steps written so far. */
typedef struct run {
    int64_t left;
    waterfall_step *steps;
    size_t len;
    size_t cap;
} run;

static void put(run *r, waterfall_step_kind kind, int tranche, int64_t due, int64_t amount)
{
    assert(r->len < r->cap);
    assert(amount >= 0 && amount <= r->left);
    r->steps[r->len].kind = kind;
    r->steps[r->len].tranche = tranche;
    r->steps[r->len].due_minor = due;
    r->steps[r->len].amount_minor = amount;
    r->len++;
    r->left -= amount;
}

/* A step that takes what it is owed, or what is left if less. */
static void pay(run *r, waterfall_step_kind kind, int tranche, int64_t due)
{
    assert(due >= 0);
    put(r, kind, tranche, due, min64(r->left, due));
}

static waterfall_status validate_fund(const waterfall_fund *f, const waterfall_cash *cash, int64_t *total_cash)
{
    if (f->tranche_count < 1 || f->tranche_count > WATERFALL_TRANCHES_MAX) {
        return WATERFALL_ERR_COUNT;
    }
    assert(f->tranches != NULL);
    if (f->mode != WATERFALL_SEQUENTIAL && f->mode != WATERFALL_PRO_RATA) {
        return WATERFALL_ERR_MODE;
    }
    if (f->fees_expenses_due_minor < 0 || f->reserve_target_minor < 0 || f->reserve_current_minor < 0 ||
        cash->interest_minor < 0 || cash->fee_minor < 0 || cash->principal_minor < 0) {
        return WATERFALL_ERR_NEGATIVE;
    }
    int prev_rank = 0;
    int64_t outstanding = 0;
    for (size_t i = 0; i < f->tranche_count; i++) {
        const waterfall_tranche *t = &f->tranches[i];
        if (t->rank <= prev_rank) {
            return WATERFALL_ERR_RANK;
        }
        prev_rank = t->rank;
        if (t->interest_due_minor < 0 || t->principal_outstanding_minor < 0) {
            return WATERFALL_ERR_NEGATIVE;
        }
        if (!money_add(outstanding, t->principal_outstanding_minor, &outstanding)) {
            return WATERFALL_ERR_OVERFLOW;
        }
    }
    int64_t total = 0;
    if (!money_add(cash->interest_minor, cash->fee_minor, &total) || !money_add(total, cash->principal_minor, &total)) {
        return WATERFALL_ERR_OVERFLOW;
    }
    *total_cash = total;
    return WATERFALL_OK;
}

/* Pro-rata principal over tranches [0, count): one PRINCIPAL step each. */
static void pay_principal_pro_rata(run *r, const waterfall_tranche *tr, size_t count)
{
    assert(count >= 1 && count <= WATERFALL_TRANCHES_MAX);
    int64_t weights[WATERFALL_TRANCHES_MAX];
    int64_t parts[WATERFALL_TRANCHES_MAX] = {0};
    int64_t owed = 0;
    for (size_t i = 0; i < count; i++) {
        weights[i] = tr[i].principal_outstanding_minor;
        owed += weights[i]; /* validated: no overflow */
    }
    int64_t pool = min64(r->left, owed);
    if (pool > 0) {
        bool ok = money_split(pool, weights, count, parts);
        assert(ok);
        (void)ok;
    }
    for (size_t i = 0; i < count; i++) {
        /* pool <= owed makes every largest-remainder share <= its weight. */
        assert(parts[i] <= weights[i]);
        put(r, WATERFALL_STEP_PRINCIPAL, (int)i, weights[i], parts[i]);
    }
}

waterfall_status waterfall_run(const waterfall_fund *fund, const waterfall_cash *cash, waterfall_step *steps,
                               size_t steps_cap, size_t *steps_len)
{
    assert(fund != NULL);
    assert(cash != NULL);
    assert(steps_len != NULL);
    *steps_len = 0;
    int64_t total = 0;
    waterfall_status st = validate_fund(fund, cash, &total);
    if (st != WATERFALL_OK) {
        return st;
    }
    const size_t n = fund->tranche_count;
    if (steps_cap < WATERFALL_STEPS_FOR(n)) {
        return WATERFALL_ERR_CAPACITY;
    }
    assert(steps != NULL);
    const waterfall_tranche *tr = fund->tranches;
    const int junior = (int)n - 1; /* residual holder; == 0 when there is one tranche */
    int64_t reserve_gap = fund->reserve_target_minor > fund->reserve_current_minor
                              ? fund->reserve_target_minor - fund->reserve_current_minor
                              : 0;
    run r = {.left = total, .steps = steps, .len = 0, .cap = steps_cap};

    pay(&r, WATERFALL_STEP_FEES, -1, fund->fees_expenses_due_minor);
    pay(&r, WATERFALL_STEP_INTEREST, 0, tr[0].interest_due_minor);
    if (fund->mode == WATERFALL_SEQUENTIAL) {
        pay(&r, WATERFALL_STEP_PRINCIPAL, 0, tr[0].principal_outstanding_minor);
        pay(&r, WATERFALL_STEP_RESERVE, -1, reserve_gap);
        for (int i = 1; i <= junior; i++) {
            pay(&r, WATERFALL_STEP_INTEREST, i, tr[i].interest_due_minor);
            pay(&r, WATERFALL_STEP_PRINCIPAL, i, tr[i].principal_outstanding_minor);
        }
    } else {
        /* Rated tranches: the senior and the mezzanines (all but the first-loss when n >= 2). */
        size_t rated = n >= 2 ? n - 1 : 1;
        for (size_t i = 1; i < rated; i++) {
            pay(&r, WATERFALL_STEP_INTEREST, (int)i, tr[i].interest_due_minor);
        }
        pay_principal_pro_rata(&r, tr, rated);
        pay(&r, WATERFALL_STEP_RESERVE, -1, reserve_gap);
        if (n >= 2) {
            pay(&r, WATERFALL_STEP_INTEREST, junior, tr[junior].interest_due_minor);
            pay(&r, WATERFALL_STEP_PRINCIPAL, junior, tr[junior].principal_outstanding_minor);
        }
    }
    put(&r, WATERFALL_STEP_RESIDUAL, junior, 0, r.left);

    /* Pair assertions: the shape is fixed and the steps hand out exactly the cash. */
    assert(r.len == WATERFALL_STEPS_FOR(n));
    assert(r.left == 0);
    int64_t sum = 0;
    for (size_t i = 0; i < r.len; i++) {
        sum += steps[i].amount_minor;
    }
    assert(sum == total);
    *steps_len = r.len;
    return WATERFALL_OK;
}

/* Shared checks of the loss and recovery functions. */
static waterfall_status validate_stack(int64_t amount, const int64_t *v, size_t n)
{
    if (n < 1 || n > WATERFALL_TRANCHES_MAX) {
        return WATERFALL_ERR_COUNT;
    }
    assert(v != NULL);
    if (amount < 0) {
        return WATERFALL_ERR_NEGATIVE;
    }
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0) {
            return WATERFALL_ERR_NEGATIVE;
        }
        if (!money_add(sum, v[i], &sum)) {
            return WATERFALL_ERR_OVERFLOW;
        }
    }
    return WATERFALL_OK;
}

waterfall_status waterfall_allocate_loss(int64_t loss_minor, const int64_t *capital_minor, size_t n,
                                         int64_t *absorbed_minor, int64_t *unabsorbed_minor)
{
    assert(absorbed_minor != NULL || n == 0);
    assert(unabsorbed_minor != NULL);
    waterfall_status st = validate_stack(loss_minor, capital_minor, n);
    if (st != WATERFALL_OK) {
        return st;
    }
    int64_t left = loss_minor;
    for (size_t k = n; k > 0; k--) {
        size_t i = k - 1; /* most junior first */
        absorbed_minor[i] = min64(left, capital_minor[i]);
        left -= absorbed_minor[i];
    }
    assert(left >= 0);
    *unabsorbed_minor = left;
    return WATERFALL_OK;
}

waterfall_status waterfall_allocate_recovery(int64_t recovery_minor, const int64_t *written_down_minor, size_t n,
                                             int64_t *restored_minor, int64_t *excess_minor)
{
    assert(restored_minor != NULL || n == 0);
    assert(excess_minor != NULL);
    waterfall_status st = validate_stack(recovery_minor, written_down_minor, n);
    if (st != WATERFALL_OK) {
        return st;
    }
    int64_t left = recovery_minor;
    for (size_t i = 0; i < n; i++) { /* most senior first */
        restored_minor[i] = min64(left, written_down_minor[i]);
        left -= restored_minor[i];
    }
    assert(left >= 0);
    *excess_minor = left;
    return WATERFALL_OK;
}
