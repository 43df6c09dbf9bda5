/* repayment: cash received on loans, its allocation inside the loan, bank-statement import,
 * arrears, write-offs and recoveries. Postings follow docs/fund-operations.md. */
#include "fundledger/repayment.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/navalloc.h"
#include "fundledger/pipeline.h"
#include "fundledger/provision.h"
#include "fundledger/rate.h"
#include "fundledger/schedver.h"
#include "fundledger/servicing.h"
#include "fundledger/tranche.h"

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* "YYYY-MM-DD" (a real date) to days since 1970. */
static bool date_days(const char *text, int64_t *days)
{
    rate_date d;
    if (!ledger_date_parse(text, &d)) {
        return false;
    }
    *days = rate_date_to_days(d);
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Pure allocation                                                                             */

repayment_alloc_status repayment_allocate(int64_t amount, int64_t value_days, int64_t outstanding,
                                          struct repayment_instalment *inst, size_t n, struct repayment_allocation *out,
                                          int64_t *owed_max)
{
    return repayment_allocate_fees(amount, value_days, outstanding, 0, inst, n, out, owed_max);
}

repayment_alloc_status repayment_allocate_fees(int64_t amount, int64_t value_days, int64_t outstanding,
                                               int64_t fees_due, struct repayment_instalment *inst, size_t n,
                                               struct repayment_allocation *out, int64_t *owed_max)
{
    assert(out != NULL);
    if (amount <= 0 || outstanding < 0 || fees_due < 0 || n > SCHEDULE_INSTALMENTS_MAX || (n > 0 && inst == NULL)) {
        return REPAYMENT_ALLOC_INVALID;
    }
    /* Overdue sums, the current instalment, and the principal of the instalments after it. */
    int64_t od_i = 0, od_p = 0, later_p = 0;
    long cur = -1;
    for (size_t i = 0; i < n; i++) {
        const struct repayment_instalment *x = &inst[i];
        int64_t up = x->principal_minor - x->principal_paid_minor;
        int64_t ui = x->interest_minor - x->interest_paid_minor;
        if (x->principal_paid_minor < 0 || x->interest_paid_minor < 0 || up < 0 || ui < 0 ||
            (i > 0 && (x->no <= inst[i - 1].no || x->due_days < inst[i - 1].due_days))) {
            return REPAYMENT_ALLOC_INVALID;
        }
        bool ok = true;
        if (x->due_days < value_days) {
            ok = money_add(od_i, ui, &od_i) && money_add(od_p, up, &od_p);
        } else if (cur < 0) {
            cur = (long)i;
        } else {
            ok = money_add(later_p, up, &later_p);
        }
        if (!ok) {
            return REPAYMENT_ALLOC_INVALID;
        }
    }
    /* Principal is owed up to what is outstanding, overdue first. */
    int64_t cap = outstanding;
    waterfall_loan_due due = {{0}};
    due.due_minor[WATERFALL_BUCKET_FEES] = fees_due; /* charges unpaid: collected first */
    due.due_minor[WATERFALL_BUCKET_OVERDUE_INTEREST] = od_i;
    due.due_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL] = min64(od_p, cap);
    cap -= due.due_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL];
    if (cur >= 0) {
        due.due_minor[WATERFALL_BUCKET_CURRENT_INTEREST] = inst[cur].interest_minor - inst[cur].interest_paid_minor;
        due.due_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL] =
            min64(inst[cur].principal_minor - inst[cur].principal_paid_minor, cap);
        cap -= due.due_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL];
    }
    int64_t prepay_max = min64(later_p, cap);
    int64_t owed = prepay_max;
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        if (!money_add(owed, due.due_minor[b], &owed)) {
            return REPAYMENT_ALLOC_INVALID;
        }
    }
    if (owed_max != NULL) {
        *owed_max = owed;
    }
    if (amount > owed) {
        return REPAYMENT_ALLOC_OVERPAID;
    }
    waterfall_loan_applied applied;
    if (waterfall_allocate_payment(amount, &due, &applied) != WATERFALL_OK) {
        return REPAYMENT_ALLOC_INVALID;
    }
    assert(applied.excess_minor <= prepay_max);

    memset(out, 0, sizeof *out);
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        out->bucket_minor[b] = applied.applied_minor[b];
    }
    out->prepayment_minor = applied.excess_minor;
    /* Per instalment: overdue interest oldest first, overdue principal oldest first, current
     * interest and principal, prepayment from the last instalment backwards. */
    int64_t left_oi = applied.applied_minor[WATERFALL_BUCKET_OVERDUE_INTEREST];
    int64_t left_op = applied.applied_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL];
    for (size_t i = 0; i < n && inst[i].due_days < value_days; i++) {
        int64_t a = min64(left_oi, inst[i].interest_minor - inst[i].interest_paid_minor);
        if (a > 0) {
            out->parts[out->n].no = inst[i].no;
            out->parts[out->n].principal = false;
            out->parts[out->n++].amount_minor = a;
            left_oi -= a;
        }
    }
    for (size_t i = 0; i < n && inst[i].due_days < value_days; i++) {
        int64_t a = min64(left_op, inst[i].principal_minor - inst[i].principal_paid_minor);
        if (a > 0) {
            out->parts[out->n].no = inst[i].no;
            out->parts[out->n].principal = true;
            out->parts[out->n++].amount_minor = a;
            left_op -= a;
        }
    }
    assert(left_oi == 0 && left_op == 0);
    if (cur >= 0) {
        int64_t ci = applied.applied_minor[WATERFALL_BUCKET_CURRENT_INTEREST];
        int64_t cp = applied.applied_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL];
        if (ci > 0) {
            out->parts[out->n].no = inst[cur].no;
            out->parts[out->n].principal = false;
            out->parts[out->n++].amount_minor = ci;
        }
        if (cp > 0) {
            out->parts[out->n].no = inst[cur].no;
            out->parts[out->n].principal = true;
            out->parts[out->n++].amount_minor = cp;
        }
        int64_t left_pre = applied.excess_minor;
        for (size_t k = n; k > (size_t)cur + 1 && left_pre > 0; k--) {
            size_t i = k - 1;
            int64_t a = min64(left_pre, inst[i].principal_minor - inst[i].principal_paid_minor);
            if (a > 0) {
                out->parts[out->n].no = inst[i].no;
                out->parts[out->n].principal = true;
                out->parts[out->n++].amount_minor = a;
                left_pre -= a;
            }
        }
        assert(left_pre == 0);
    } else {
        assert(applied.excess_minor == 0);
    }
    assert(out->n <= 2 * SCHEDULE_INSTALMENTS_MAX);
    /* Apply to the instalments so the next payment sees them paid. */
    for (unsigned k = 0; k < out->n; k++) {
        for (size_t i = 0; i < n; i++) {
            if (inst[i].no == out->parts[k].no) {
                if (out->parts[k].principal) {
                    inst[i].principal_paid_minor += out->parts[k].amount_minor;
                } else {
                    inst[i].interest_paid_minor += out->parts[k].amount_minor;
                }
                break;
            }
        }
    }
    out->interest_minor =
        out->bucket_minor[WATERFALL_BUCKET_OVERDUE_INTEREST] + out->bucket_minor[WATERFALL_BUCKET_CURRENT_INTEREST];
    out->principal_minor = out->bucket_minor[WATERFALL_BUCKET_OVERDUE_PRINCIPAL] +
                           out->bucket_minor[WATERFALL_BUCKET_CURRENT_PRINCIPAL] + out->prepayment_minor;
    assert(out->interest_minor + out->principal_minor + out->bucket_minor[WATERFALL_BUCKET_FEES] == amount);
    return REPAYMENT_ALLOC_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Loan state for a batch of lines                                                            */

struct rp_loan {
    int64_t id, fund_id, entrepreneur_id;
    char currency[CURRENCY_CODE_BYTES];
    int exponent;
    char status[16];
    int64_t principal, drawn, written_off, repaid;
    char first_disbursement[DATE_TEXT_BYTES]; /* "" when none */
    char first_write_off[DATE_TEXT_BYTES];    /* "" when none */
    size_t inst_at, inst_n;
    unsigned n_funding;
    int64_t tranche_id[LOAN_FUNDING_MAX], weight[LOAN_FUNDING_MAX], loans_account[LOAN_FUNDING_MAX];
    bool repaid_now;
    bool cap_set;           /* capitalised_minor is set to cap_posted (the replay's) when written */
    int64_t cap_posted;     /* capitalised interest posted to T.LOANS (loan.capitalised_minor) */
    int64_t fee, fees_paid; /* origination fee (due from the first disbursement), fees collected */
    int64_t charges;        /* ad-hoc charges approved (loan_charge, docs/loan-servicing.md §8) */
    char last_charge[DATE_TEXT_BYTES]; /* value date of the latest charge, "" when none */
    size_t cap_at, cap_n;   /* its capitalisation rows in the chunk */
    int version;            /* its latest stored schedule version (schedver.h) */
    /* Accrual postings (docs/loan-servicing.md §9): the cumulative interest recognised by the
     * loan's latest accrual row (ordinary, default) and its date; has_accrual false: none yet. */
    bool has_accrual;
    int64_t acr_ord, acr_def;
    char last_accrual[DATE_TEXT_BYTES];
};

/* One row of loan_capitalisation (docs/loan-servicing.md §3). */
struct rp_cap {
    int no;
    int64_t due_days;
    int64_t amount_minor;
    bool posted;
};

/* A set of (loan, reference): references already used. Open addressing; keys borrowed. */
struct ref_set {
    struct {
        int64_t loan_id;
        const char *ref;
    } * slot;
    size_t cap; /* a power of two */
    size_t n;
};

static uint64_t ref_hash(int64_t loan_id, const char *ref)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)loan_id;
    for (size_t i = 0; i < REPAYMENT_REFERENCE_BYTES_MAX + 1 && ref[i] != '\0'; i++) {
        h = (h ^ (unsigned char)ref[i]) * 1099511628211ULL;
    }
    return h;
}

static bool ref_set_init(struct ref_set *s, size_t expected)
{
    s->cap = 64;
    while (s->cap < 2 * expected + 2) {
        s->cap *= 2;
    }
    s->n = 0;
    s->slot = calloc(s->cap, sizeof *s->slot);
    return s->slot != NULL;
}

/* true when present; with add, inserts when absent (the set never fills: cap >= 2 * expected). */
static bool ref_set_check(struct ref_set *s, int64_t loan_id, const char *ref, bool add)
{
    size_t mask = s->cap - 1;
    size_t i = (size_t)ref_hash(loan_id, ref) & mask;
    for (size_t probe = 0; probe < s->cap; probe++, i = (i + 1) & mask) {
        if (s->slot[i].ref == NULL) {
            if (add) {
                assert(s->n + 1 < s->cap);
                s->slot[i].loan_id = loan_id;
                s->slot[i].ref = ref;
                s->n++;
            }
            return false;
        }
        if (s->slot[i].loan_id == loan_id && strcmp(s->slot[i].ref, ref) == 0) {
            return true;
        }
    }
    return false;
}

/* One line to record: its text fields (borrowed), and what became of it. */
struct rp_line {
    unsigned line_no;
    int64_t loan_id; /* 0 when the field did not parse */
    const char *amount, *value_date, *reference;
    bool done; /* refused or applied */
    bool applied;
    struct fl_error err;
    int64_t amount_minor;
    int64_t repayment_id, entry_id;
    struct rp_loan *loan; /* during its chunk */
    int64_t bucket[WATERFALL_BUCKETS], prepayment, principal, interest;
    int64_t default_interest; /* docs/loan-servicing.md §5 (in interest) */
    int64_t fee_charges;      /* of the fees bucket, what collects charges (Cr 1160); the rest is the origination fee */
    const char *choice_text;  /* prepayment_choice as given, or NULL: the fund's default */
    accrual_choice choice;    /* as recorded */
    bool engine;              /* allocated by the accrual engine; cap_after = its capitalised total */
    int64_t cap_after;
    size_t alloc_at, alloc_n; /* in the chunk's allocation list */
    /* Capitalised interest this line posts first (rows newly due), and the running totals the
     * tranche splits step from: lent = drawn + capitalised posted, settled = principal repaid +
     * written off (docs/loan-servicing.md §10). */
    int64_t cap_post, lent_before, settled_before, outstanding_after;
    size_t capp_at, capp_n; /* the capitalisation rows it posts, in the chunk's caps */
    int64_t cap_entry_id;
    /* The schedule version this line cuts (a prepayment or capitalisation re-cut): its rows in
     * the chunk's vrows (docs/loan-servicing.md §4). */
    bool ver;
    schedver_reason ver_reason;
    size_t ver_at, ver_n;
    /* Accrual postings (docs/loan-servicing.md §9). acr: an accrual entry to the value date comes
     * first, posting acr_ord + acr_def (cumulative totals after it acr_ord_total, acr_def_total;
     * recognised before it acr_before). recv: the loan is on the accrual basis, so interest
     * collected and capitalised credits T.INTEREST_RECEIVABLE (a step of the cleared total from
     * clear_before) instead of 4000. */
    bool acr, recv;
    int64_t acr_ord, acr_def, acr_ord_total, acr_def_total, acr_before, clear_before;
    int64_t acr_entry_id;
    unsigned acr_np; /* the non-zero tranche parts of its accrual: tranche ids, amounts */
    int64_t acr_tr[LOAN_FUNDING_MAX], acr_part[LOAN_FUNDING_MAX];
};

struct rp_alloc {
    int no;
    bool principal;
    int64_t amount_minor;
};

/* The fund accounts a repayment entry posts to. */
struct rp_fund {
    int64_t fund_id, collections, interest_income, fee_income;
};
#define RP_FUNDS_MAX 8

/* Everything one chunk needs; reset per chunk. */
struct rp_chunk {
    struct rp_loan *loans;
    size_t n_loans;
    struct repayment_instalment *inst;
    size_t n_inst;
    struct ref_set refs;
    char **owned_refs;
    size_t n_owned_refs;
    struct rp_alloc *alloc;
    size_t n_alloc, cap_alloc;
    struct rp_fund funds[RP_FUNDS_MAX];
    unsigned n_funds;
    struct rp_cap *caps;
    size_t n_caps;
    /* The accrual engine's replay (servicing.h): loaded for the chunk's loans; the state of
     * one loan at a time (lines come sorted by loan), and a copy to restore a refused line. */
    struct servicing_set sv;
    struct accrual_loan *acc, *acc_backup;
    int64_t acc_loan; /* the loan acc holds, 0: none */
    bool acc_ok;      /* its history replays to the recorded figures */
    /* Rows of the schedule versions the lines cut (docs/loan-servicing.md §4). */
    struct accrual_row *vrows;
    size_t n_vrows, cap_vrows;
    /* T<id>.INTEREST_RECEIVABLE account ids by tranche, opened on first use. */
    struct rp_recv {
        int64_t tranche_id, account_id;
    } * recv;
    size_t n_recv, cap_recv;
};

static void chunk_free(struct rp_chunk *c)
{
    free(c->loans);
    free(c->inst);
    free(c->refs.slot);
    for (size_t i = 0; i < c->n_owned_refs; i++) {
        free(c->owned_refs[i]);
    }
    free(c->owned_refs);
    free(c->alloc);
    free(c->caps);
    servicing_free(&c->sv);
    free(c->acc);
    free(c->acc_backup);
    free(c->vrows);
    free(c->recv);
    memset(c, 0, sizeof *c);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static struct rp_loan *find_loan(struct rp_chunk *c, int64_t id)
{
    size_t lo = 0, hi = c->n_loans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->loans[mid].id == id) {
            return &c->loans[mid];
        }
        if (c->loans[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static enum fl_err oom(struct fl_error *err)
{
    return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
}

/* Loads and locks (in id order) the loans of lines[0..n) with their schedule, paid amounts,
 * funding shares and the references already used among the lines'; the usury caps are borrowed
 * from caps (NULL: read); without schedules, the stored schedules are not read (the month-end
 * close, which allocates nothing). */
static enum fl_err chunk_load_full(struct db *db, struct rp_chunk *c, struct rp_line *lines, size_t n, bool schedules,
                                   const struct servicing_set *caps, struct fl_error *err);

static enum fl_err chunk_load_with(struct db *db, struct rp_chunk *c, struct rp_line *lines, size_t n,
                                   const struct servicing_set *caps, struct fl_error *err)
{
    return chunk_load_full(db, c, lines, n, true, caps, err);
}

static enum fl_err chunk_load_opt(struct db *db, struct rp_chunk *c, struct rp_line *lines, size_t n, bool schedules,
                                  struct fl_error *err)
{
    return chunk_load_full(db, c, lines, n, schedules, NULL, err);
}

static enum fl_err chunk_load_full(struct db *db, struct rp_chunk *c, struct rp_line *lines, size_t n, bool schedules,
                                   const struct servicing_set *caps, struct fl_error *err)
{
    memset(c, 0, sizeof *c);
    int64_t *ids = malloc(sizeof(int64_t) * (n ? n : 1));
    if (ids == NULL) {
        return oom(err);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lines[i].done) {
            ids[k++] = lines[i].loan_id;
        }
    }
    qsort(ids, k, sizeof *ids, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u == 0 || ids[u - 1] != ids[i]) {
            ids[u++] = ids[i];
        }
    }
    struct db_array a;
    db_array_init(&a);
    for (size_t i = 0; i < u; i++) {
        db_array_i64(&a, ids[i]);
    }
    /* Loans close together (an import sorts its lines by loan) load their schedules with one range
     * scan; the rows of loans in the range but not in the chunk are skipped. */
    int64_t lo = u ? ids[0] : 0, hi = u ? ids[u - 1] : 0;
    bool dense = u > 0 && (uint64_t)(hi - lo) <= 2 * (uint64_t)u + 64;
    free(ids);
    if (u == 0) {
        db_array_free(&a);
        return ref_set_init(&c->refs, 1) ? FLE_OK : oom(err);
    }
    const char *p[1] = {db_array_str(&a)};
    if (p[0] == NULL) {
        db_array_free(&a);
        return oom(err);
    }
    enum fl_err e = FLE_OK;
    PGresult *r = db_exec(db, "repayment_load_loans", 1, p, err);
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    c->n_loans = (size_t)PQntuples(r);
    c->loans = calloc(c->n_loans ? c->n_loans : 1, sizeof *c->loans);
    if (c->loans == NULL) {
        PQclear(r);
        e = oom(err);
        goto done;
    }
    for (size_t i = 0; i < c->n_loans; i++) {
        struct rp_loan *l = &c->loans[i];
        int row = (int)i;
        l->id = db_i64(r, row, 0);
        l->fund_id = db_i64(r, row, 1);
        l->entrepreneur_id = db_i64(r, row, 2);
        snprintf(l->currency, sizeof l->currency, "%s", db_str(r, row, 3));
        l->exponent = money_currency_exponent(l->currency);
        l->principal = db_i64(r, row, 4);
        l->drawn = db_i64(r, row, 5);
        l->written_off = db_i64(r, row, 6);
        snprintf(l->status, sizeof l->status, "%s", db_str(r, row, 7));
        snprintf(l->first_disbursement, sizeof l->first_disbursement, "%s", db_str(r, row, 8));
        l->repaid = db_i64(r, row, 9);
        snprintf(l->first_write_off, sizeof l->first_write_off, "%s", db_str(r, row, 10));
        l->cap_posted = db_i64(r, row, 11);
        l->fee = db_i64(r, row, 12);
        l->fees_paid = db_i64(r, row, 13);
        l->charges = db_i64(r, row, 14);
        snprintf(l->last_charge, sizeof l->last_charge, "%s", db_str(r, row, 15));
    }
    PQclear(r);
    if ((r = db_exec(db, "accrual_load_latest", 1, p, err)) == NULL) {
        e = err->code;
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct rp_loan *l = find_loan(c, db_i64(r, i, 0));
        if (l != NULL) {
            l->has_accrual = true;
            snprintf(l->last_accrual, sizeof l->last_accrual, "%s", db_str(r, i, 1));
            l->acr_ord = db_i64(r, i, 2);
            l->acr_def = db_i64(r, i, 3);
        }
    }
    PQclear(r);
    {
        int64_t *lid = malloc(sizeof(int64_t) * (c->n_loans ? c->n_loans : 1));
        if (lid == NULL) {
            e = oom(err);
            goto done;
        }
        for (size_t i = 0; i < c->n_loans; i++) {
            lid[i] = c->loans[i].id;
        }
        e = servicing_load_with(db, lid, c->n_loans, caps, &c->sv, err);
        int *ver = e == FLE_OK ? malloc(sizeof(int) * (c->n_loans ? c->n_loans : 1)) : NULL;
        if (e == FLE_OK && ver == NULL) {
            e = oom(err);
        }
        if (e == FLE_OK && (e = schedver_latest(db, lid, c->n_loans, ver, err)) == FLE_OK) {
            for (size_t i = 0; i < c->n_loans; i++) {
                c->loans[i].version = ver[i];
            }
        }
        free(ver);
        free(lid);
        if (e != FLE_OK) {
            goto done;
        }
    }

    r = db_exec(db, "repayment_load_capitalisation", 1, p, err);
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    c->n_caps = (size_t)PQntuples(r);
    c->caps = calloc(c->n_caps ? c->n_caps : 1, sizeof *c->caps);
    if (c->caps == NULL) {
        PQclear(r);
        e = oom(err);
        goto done;
    }
    for (size_t i = 0; i < c->n_caps; i++) {
        int row = (int)i;
        struct rp_loan *l = find_loan(c, db_i64(r, row, 0));
        struct rp_cap *x = &c->caps[i];
        x->no = (int)db_i64(r, row, 1);
        x->amount_minor = db_i64(r, row, 3);
        x->posted = strcmp(db_str(r, row, 4), "t") == 0;
        if (l == NULL || !date_days(db_str(r, row, 2), &x->due_days)) {
            PQclear(r);
            e = fl_error_set(err, FLE_INTERNAL, NULL, "bad capitalisation row");
            goto done;
        }
        if (l->cap_n == 0) {
            l->cap_at = i;
        }
        l->cap_n++;
    }
    PQclear(r);

    char lob[21], hib[21];
    const char *pr_range[2] = {db_i64_text(lo, lob), db_i64_text(hi, hib)};
    if (!schedules) {
        r = db_exec(db, "repayment_load_schedule", 1, (const char *[]){"{}"}, err);
    } else {
        r = dense ? db_exec(db, "repayment_load_schedule_range", 2, pr_range, err)
                  : db_exec(db, "repayment_load_schedule", 1, p, err);
    }
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    c->n_inst = (size_t)PQntuples(r);
    c->inst = calloc(c->n_inst ? c->n_inst : 1, sizeof *c->inst);
    if (c->inst == NULL) {
        PQclear(r);
        e = oom(err);
        goto done;
    }
    size_t rows_sched = c->n_inst;
    c->n_inst = 0;
    for (size_t row_i = 0; row_i < rows_sched; row_i++) {
        int row = (int)row_i;
        struct rp_loan *l = find_loan(c, db_i64(r, row, 0));
        if (l == NULL) {
            continue; /* in the range, not in the chunk */
        }
        size_t i = c->n_inst++;
        struct repayment_instalment *x = &c->inst[i];
        x->no = (int)db_i64(r, row, 1);
        if (!date_days(db_str(r, row, 2), &x->due_days)) {
            PQclear(r);
            e = fl_error_set(err, FLE_INTERNAL, NULL, "bad due date in a schedule");
            goto done;
        }
        x->principal_minor = db_i64(r, row, 3);
        x->interest_minor = db_i64(r, row, 4);
        x->principal_paid_minor = db_i64(r, row, 5);
        x->interest_paid_minor = db_i64(r, row, 6);
        if (l->inst_n == 0) {
            l->inst_at = i;
        }
        l->inst_n++;
    }
    PQclear(r);

    r = db_exec(db, "repayment_load_funding", 1, p, err);
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct rp_loan *l = find_loan(c, db_i64(r, i, 0));
        if (l == NULL || l->n_funding == LOAN_FUNDING_MAX) {
            PQclear(r);
            e = fl_error_set(err, FLE_INTERNAL, NULL, "funding row of an unknown loan");
            goto done;
        }
        l->tranche_id[l->n_funding] = db_i64(r, i, 1);
        l->weight[l->n_funding] = db_i64(r, i, 2);
        l->loans_account[l->n_funding] = db_i64(r, i, 3);
        l->n_funding++;
    }
    PQclear(r);

    /* References already used, among those the lines carry. */
    struct db_array rl, rr;
    db_array_init(&rl);
    db_array_init(&rr);
    size_t n_refs = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lines[i].done && lines[i].reference != NULL) {
            db_array_i64(&rl, lines[i].loan_id);
            db_array_text(&rr, lines[i].reference);
            n_refs++;
        }
    }
    if (!ref_set_init(&c->refs, n + n_refs)) {
        db_array_free(&rl);
        db_array_free(&rr);
        e = oom(err);
        goto done;
    }
    if (n_refs > 0) {
        const char *pr[2] = {db_array_str(&rl), db_array_str(&rr)};
        r = pr[0] && pr[1] ? db_exec(db, "repayment_load_refs", 2, pr, err) : NULL;
        db_array_free(&rl);
        db_array_free(&rr);
        if (r == NULL) {
            e = pr[0] && pr[1] ? err->code : oom(err);
            goto done;
        }
        int rows = PQntuples(r);
        c->owned_refs = calloc((size_t)rows + 1, sizeof *c->owned_refs);
        if (c->owned_refs == NULL) {
            PQclear(r);
            e = oom(err);
            goto done;
        }
        for (int i = 0; i < rows; i++) {
            char *s = strdup(db_str(r, i, 1));
            if (s == NULL) {
                PQclear(r);
                e = oom(err);
                goto done;
            }
            c->owned_refs[c->n_owned_refs++] = s;
            ref_set_check(&c->refs, db_i64(r, i, 0), s, true);
        }
        PQclear(r);
    } else {
        db_array_free(&rl);
        db_array_free(&rr);
    }
done:
    db_array_free(&a);
    return e;
}

static enum fl_err chunk_load(struct db *db, struct rp_chunk *c, struct rp_line *lines, size_t n, struct fl_error *err)
{
    return chunk_load_full(db, c, lines, n, true, NULL, err);
}

static enum fl_err fund_accounts(struct db *db, struct rp_chunk *c, int64_t fund_id, const struct rp_fund **out,
                                 struct fl_error *err)
{
    for (unsigned i = 0; i < c->n_funds; i++) {
        if (c->funds[i].fund_id == fund_id) {
            *out = &c->funds[i];
            return FLE_OK;
        }
    }
    if (c->n_funds == RP_FUNDS_MAX) {
        c->n_funds = 0; /* a cache: start over */
    }
    struct rp_fund *f = &c->funds[c->n_funds];
    f->fund_id = fund_id;
    enum fl_err e;
    if ((e = fund_account_by_code(db, fund_id, "1050", &f->collections, err)) != FLE_OK ||
        (e = fund_account_by_code(db, fund_id, "4000", &f->interest_income, err)) != FLE_OK ||
        (e = fund_account_by_code(db, fund_id, "4100", &f->fee_income, err)) != FLE_OK) {
        return e;
    }
    c->n_funds++;
    *out = f;
    return FLE_OK;
}

static bool alloc_push(struct rp_chunk *c, const struct repayment_allocation *a)
{
    if (c->n_alloc + a->n > c->cap_alloc) {
        size_t cap = c->cap_alloc ? c->cap_alloc : 1024;
        while (cap < c->n_alloc + a->n) {
            cap *= 2;
        }
        struct rp_alloc *x = realloc(c->alloc, cap * sizeof *x);
        if (x == NULL) {
            return false;
        }
        c->alloc = x;
        c->cap_alloc = cap;
    }
    for (unsigned k = 0; k < a->n; k++) {
        c->alloc[c->n_alloc++] = (struct rp_alloc){a->parts[k].no, a->parts[k].principal, a->parts[k].amount_minor};
    }
    return true;
}

/* Context of a run of lines: who, which fund (0 = any), today. */
struct rp_ctx {
    const struct principal *actor;
    int64_t fund_id;
    char today[DATE_TEXT_BYTES];
    const struct servicing_set *caps; /* the usury caps read once for a run of chunks, or NULL */
};

/* The accrual engine's state of loan l in the chunk (replayed once, then carried from line to
 * line of the same loan). *usable is false when the loan's recorded history does not replay to
 * the recorded figures (repayments recorded under the stored-schedule allocation before the
 * engine was wired, or a partial write-off, which the engine has no event for), or whose fund is
 * serviced on the 'schedule' basis: such a loan keeps the stored-schedule allocation
 * (docs/loan-servicing.md §11). */
static enum fl_err engine_state(struct rp_chunk *c, const struct rp_loan *l, bool *usable, struct fl_error *err)
{
    if (c->acc_loan == l->id) {
        *usable = c->acc_ok;
        return FLE_OK;
    }
    c->acc_loan = l->id;
    c->acc_ok = false;
    *usable = false;
    const struct servicing_loan *sl = servicing_find(&c->sv, l->id);
    if (l->written_off > 0 || sl == NULL || !sl->accrual) {
        return FLE_OK;
    }
    if ((c->acc == NULL && (c->acc = malloc(sizeof *c->acc)) == NULL) ||
        (c->acc_backup == NULL && (c->acc_backup = malloc(sizeof *c->acc_backup)) == NULL)) {
        return oom(err);
    }
    long bad = -1;
    if (servicing_replay(&c->sv, sl, c->acc, &bad) != ACCRUAL_OK) {
        return FLE_OK;
    }
    if (c->acc->principal_repaid_minor != l->repaid || c->acc->fees_paid_minor != l->fees_paid ||
        c->acc->drawn_minor != l->drawn) {
        return FLE_OK;
    }
    c->acc_ok = *usable = true;
    return FLE_OK;
}

/* Of a fees bucket, the part that collects ad-hoc charges (credited to 1160): the origination fee
 * is collected first, on a cash basis to 4100 (docs/loan-servicing.md §8). Before l->fees_paid moves. */
static int64_t charges_part(const struct rp_loan *l, int64_t fees)
{
    int64_t fee_left = l->fee - l->fees_paid > 0 ? l->fee - l->fees_paid : 0;
    return fees > fee_left ? fees - fee_left : 0;
}

static bool add_part(struct repayment_allocation *a, int no, bool principal, int64_t amount)
{
    if (amount == 0) {
        return true;
    }
    if (amount < 0) {
        return false;
    }
    for (unsigned k = 0; k < a->n; k++) {
        if (a->parts[k].no == no && a->parts[k].principal == principal) {
            a->parts[k].amount_minor += amount;
            return true;
        }
    }
    if (a->n >= 2 * SCHEDULE_INSTALMENTS_MAX) {
        return false;
    }
    a->parts[a->n].no = no;
    a->parts[a->n].principal = principal;
    a->parts[a->n++].amount_minor = amount;
    return true;
}

/* ---- accrual postings (docs/loan-servicing.md §9) ---- */

/* What loan l had cleared from interest recognised before an event: ordinary interest collected
 * (the replay's rows, a) and capitalised interest posted (l), and default interest collected. */
static void cleared_totals(const struct accrual_loan *a, const struct rp_loan *l, int64_t *ord, int64_t *def)
{
    int64_t paid = 0;
    for (size_t i = 0; i < a->n_rows; i++) {
        paid += a->rows[i].interest_paid_minor;
    }
    *ord = paid + l->cap_posted;
    *def = a->default_paid_minor;
}

/* The accrual of loan l to date d (a: its replayed state before any event on d): interest earned
 * from the start to d less what is recognised already: the latest accrual row's totals or, before
 * the loan's first row, what its repayments and capitalisations recognised (cash basis until
 * then). Sets ln->acr and its figures; nothing when d is before the loan's latest accrual (the
 * interest to d is in the books already) or when nothing is to post. */
static accrual_status accrual_to(const struct accrual_loan *a, const struct rp_loan *l, rate_date d, const char *date,
                                 struct rp_line *ln)
{
    ln->acr = false;
    if (l->has_accrual && strcmp(date, l->last_accrual) < 0) {
        return ACCRUAL_OK;
    }
    int64_t ord = 0, dft = 0, base_ord = l->acr_ord, base_def = l->acr_def;
    accrual_status st = accrual_loan_earned_split(a, d, &ord, &dft);
    if (st != ACCRUAL_OK) {
        return st;
    }
    if (!l->has_accrual) {
        cleared_totals(a, l, &base_ord, &base_def);
    }
    ln->acr_before = base_ord + base_def;
    ln->acr_ord = ord - base_ord;
    ln->acr_def = dft - base_def;
    ln->acr_ord_total = ord;
    ln->acr_def_total = dft;
    ln->acr = ln->acr_ord + ln->acr_def != 0;
    return ACCRUAL_OK;
}

/* The loan's running totals after an accrual line. */
static void accrual_commit(struct rp_loan *l, const struct rp_line *ln)
{
    if (ln->acr) {
        l->has_accrual = true;
        l->acr_ord = ln->acr_ord_total;
        l->acr_def = ln->acr_def_total;
        snprintf(l->last_accrual, sizeof l->last_accrual, "%s", ln->value_date);
    }
}

/* The id of tranche l->tranche_id[i]'s T<id>.INTEREST_RECEIVABLE, opened on first use. */
static enum fl_err recv_account(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, const struct rp_loan *l,
                                unsigned i, int64_t *id, struct fl_error *err)
{
    for (size_t k = 0; k < c->n_recv; k++) {
        if (c->recv[k].tranche_id == l->tranche_id[i]) {
            *id = c->recv[k].account_id;
            return FLE_OK;
        }
    }
    if (c->n_recv == c->cap_recv) {
        size_t cap = c->cap_recv ? 2 * c->cap_recv : 16;
        struct rp_recv *x = realloc(c->recv, cap * sizeof *x);
        if (x == NULL) {
            return oom(err);
        }
        c->recv = x;
        c->cap_recv = cap;
    }
    char code[64], name[96];
    snprintf(code, sizeof code, "T%" PRId64 ".INTEREST_RECEIVABLE", l->tranche_id[i]);
    snprintf(name, sizeof name, "Tranche %" PRId64 ": interest earned, not yet received", l->tranche_id[i]);
    enum fl_err e = fund_account_ensure(db, ctx->actor, l->fund_id, code, name, "asset", l->currency, id, err);
    if (e != FLE_OK) {
        return e;
    }
    c->recv[c->n_recv++] = (struct rp_recv){l->tranche_id[i], *id};
    return FLE_OK;
}

/* Appends to e the lines sign * (split(after) - split(before)) on the loan's tranches'
 * receivables (a step of a cumulative total, §10; a zero part posts no line). */
static enum fl_err recv_lines(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, const struct rp_loan *l,
                              int64_t before, int64_t after, int sign, struct ledger_entry *e, unsigned *k,
                              struct fl_error *err);

/* Allocates a line with the accrual engine (docs/loan-servicing.md §6, §7): accrual_loan_pay on
 * the loan's replayed state. Per instalment, interest and principal go where the engine put
 * them; a prepayment is recorded against the stored schedule's last instalments backwards (the
 * rows it shortens under reduce_term). Refusals go to ln->err. */
static enum fl_err engine_evaluate(struct rp_chunk *c, struct rp_loan *l, struct rp_line *ln, struct fl_error *err)
{
    static _Thread_local struct repayment_allocation a;
    static _Thread_local int64_t ip[SCHEDULE_INSTALMENTS_MAX], pp[SCHEDULE_INSTALMENTS_MAX];
    struct fl_error *le = &ln->err;
    struct accrual_loan *acc = c->acc;
    const struct servicing_loan *sl = servicing_find(&c->sv, l->id);
    rate_date vd;
    if (!ledger_date_parse(ln->value_date, &vd)) {
        fl_error_set(le, FLE_BAD_FIELD, "value_date", "a date YYYY-MM-DD");
        return FLE_OK;
    }
    if (rate_date_to_days(vd) < rate_date_to_days(acc->clock)) {
        fl_error_set(le, FLE_BAD_FIELD, "value_date",
                     "before the loan's latest recorded event (%04d-%02d-%02d): repayments are recorded in date order",
                     acc->clock.y, acc->clock.m, acc->clock.d);
        return FLE_OK;
    }
    ln->choice = sl->prepayment_default;
    if (ln->choice_text != NULL && !accrual_choice_parse(ln->choice_text, &ln->choice)) {
        fl_error_set(le, FLE_BAD_FIELD, "prepayment_choice", "reduce_term or reduce_instalment");
        return FLE_OK;
    }
    memcpy(c->acc_backup, acc, sizeof *acc);
    size_t n_before = acc->n_rows;
    for (size_t i = 0; i < n_before; i++) {
        ip[i] = acc->rows[i].interest_paid_minor;
        pp[i] = acc->rows[i].principal_paid_minor;
    }
    int64_t applied[ACCRUAL_BUCKETS], payoff = 0, clear_ord = 0, clear_def = 0;
    cleared_totals(acc, l, &clear_ord, &clear_def);
    accrual_status st = accrual_loan_pay(acc, vd, ln->amount_minor, ln->choice, applied, &payoff);
    if (st == ACCRUAL_OK) {
        /* The accrual to the value date, on the state before the payment (§9). */
        st = accrual_to(c->acc_backup, l, vd, ln->value_date, ln);
    }
    if (st != ACCRUAL_OK) {
        memcpy(acc, c->acc_backup, sizeof *acc);
        char ob[MONEY_TEXT_MAX];
        switch (st) {
        case ACCRUAL_ERR_OVERPAID:
            money_format(payoff, l->exponent, ob, sizeof ob);
            fl_error_set(le, FLE_RULE, "amount",
                         "overpayment refused: on %s loan %" PRId64 " owes at most %s %s (the payoff: charges, default "
                         "interest, interest accrued to that date and all principal outstanding)",
                         ln->value_date, l->id, ob, l->currency);
            break;
        case ACCRUAL_ERR_NO_CAP:
            fl_error_set(le, FLE_RULE, "value_date",
                         "default interest runs over a day with no usury cap recorded for the loan's modality: record "
                         "the cap in force (usury_rate) before this payment");
            break;
        default:
            fl_error_set(le, FLE_CONFLICT, "loan_id", "loan %" PRId64 " cannot take this payment: %s", l->id,
                         accrual_status_text(st));
            break;
        }
        return FLE_OK;
    }
    memset(&a, 0, sizeof a);
    bool ok = true;
    size_t n_after = acc->n_rows < n_before ? acc->n_rows : n_before;
    for (size_t i = 0; i < n_after && ok; i++) {
        ok = add_part(&a, (int)i + 1, false, acc->rows[i].interest_paid_minor - ip[i]) &&
             add_part(&a, (int)i + 1, true, acc->rows[i].principal_paid_minor - pp[i]);
    }
    int64_t pi = 0, pr = 0;
    for (unsigned k = 0; k < a.n; k++) {
        *(a.parts[k].principal ? &pr : &pi) += a.parts[k].amount_minor;
    }
    if (!ok || pi != applied[ACCRUAL_BUCKET_OVERDUE_INTEREST] + applied[ACCRUAL_BUCKET_CURRENT_INTEREST] ||
        pr != applied[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL] + applied[ACCRUAL_BUCKET_CURRENT_PRINCIPAL]) {
        memcpy(acc, c->acc_backup, sizeof *acc);
        return fl_error_set(err, FLE_INTERNAL, NULL, "the allocation of loan %" PRId64 " does not add up", l->id);
    }
    /* The prepayment against the stored schedule, last instalments first. */
    int64_t left = applied[ACCRUAL_BUCKET_PREPAYMENT];
    struct repayment_instalment *inst = l->inst_n ? &c->inst[l->inst_at] : NULL;
    for (size_t k = l->inst_n; k > 0 && left > 0; k--) {
        struct repayment_instalment *x = &inst[k - 1];
        int64_t room = x->principal_minor - x->principal_paid_minor;
        int64_t take = room < left ? (room > 0 ? room : 0) : left;
        if (k == 1) {
            take = left;
        }
        if (take > 0) {
            ok = ok && add_part(&a, x->no, true, take);
            x->principal_paid_minor += take;
            left -= take;
        }
    }
    if (!ok || left != 0) {
        memcpy(acc, c->acc_backup, sizeof *acc);
        return fl_error_set(err, FLE_INTERNAL, NULL, "the prepayment of loan %" PRId64 " has no instalment", l->id);
    }
    if (!alloc_push(c, &a)) {
        memcpy(acc, c->acc_backup, sizeof *acc);
        return oom(err);
    }
    ln->alloc_at = c->n_alloc - a.n;
    ln->alloc_n = a.n;
    ln->bucket[WATERFALL_BUCKET_FEES] = applied[ACCRUAL_BUCKET_FEES];
    ln->bucket[WATERFALL_BUCKET_OVERDUE_INTEREST] = applied[ACCRUAL_BUCKET_OVERDUE_INTEREST];
    ln->bucket[WATERFALL_BUCKET_OVERDUE_PRINCIPAL] = applied[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL];
    ln->bucket[WATERFALL_BUCKET_CURRENT_INTEREST] = applied[ACCRUAL_BUCKET_CURRENT_INTEREST];
    ln->bucket[WATERFALL_BUCKET_CURRENT_PRINCIPAL] = applied[ACCRUAL_BUCKET_CURRENT_PRINCIPAL];
    ln->default_interest = applied[ACCRUAL_BUCKET_DEFAULT_INTEREST];
    ln->prepayment = applied[ACCRUAL_BUCKET_PREPAYMENT];
    ln->principal =
        applied[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL] + applied[ACCRUAL_BUCKET_CURRENT_PRINCIPAL] + ln->prepayment;
    ln->interest =
        applied[ACCRUAL_BUCKET_OVERDUE_INTEREST] + applied[ACCRUAL_BUCKET_CURRENT_INTEREST] + ln->default_interest;
    ref_set_check(&c->refs, l->id, ln->reference, true);
    ln->lent_before = l->drawn + l->cap_posted;
    ln->settled_before = l->repaid + l->written_off;
    /* Capitalised interest as the replay has it by the value date, less what is posted (§3); the
     * stored capitalisation rows now due are marked posted by this line's entry. */
    ln->cap_post = acc->capitalised_minor - l->cap_posted;
    ln->capp_at = 0;
    ln->capp_n = 0;
    int64_t vdays = rate_date_to_days(vd);
    for (size_t q = 0; ln->cap_post != 0 && q < l->cap_n; q++) {
        struct rp_cap *x = &c->caps[l->cap_at + q];
        if (x->due_days <= vdays && !x->posted) {
            x->posted = true;
            if (ln->capp_n == 0) {
                ln->capp_at = l->cap_at + q;
            }
            ln->capp_n++;
        }
    }
    /* A re-cut (prepayment, or a capitalisation other than the version foresaw) is the loan's
     * next schedule version, written with the repayment (docs/loan-servicing.md §4). */
    ln->ver = acc->versions != c->acc_backup->versions;
    if (ln->ver) {
        if (c->n_vrows + SCHEDULE_INSTALMENTS_MAX > c->cap_vrows) {
            size_t cap = c->cap_vrows ? 2 * c->cap_vrows : 4 * SCHEDULE_INSTALMENTS_MAX;
            struct accrual_row *x = realloc(c->vrows, cap * sizeof *x);
            if (x == NULL) {
                memcpy(acc, c->acc_backup, sizeof *acc);
                return oom(err);
            }
            c->vrows = x;
            c->cap_vrows = cap;
        }
        ln->ver_reason = ln->prepayment > 0 ? SCHEDVER_PREPAYMENT : SCHEDVER_CAPITALISATION;
        ln->ver_at = c->n_vrows;
        if (accrual_loan_version(acc, &c->vrows[c->n_vrows], &ln->ver_n) != ACCRUAL_OK) {
            memcpy(acc, c->acc_backup, sizeof *acc);
            return fl_error_set(err, FLE_INTERNAL, NULL, "the schedule of loan %" PRId64 " cannot be stored", l->id);
        }
        c->n_vrows += ln->ver_n;
    }
    l->cap_set = l->cap_set || ln->cap_post != 0;
    l->cap_posted = acc->capitalised_minor;
    ln->recv = true;
    ln->clear_before = clear_ord + clear_def;
    accrual_commit(l, ln);
    ln->engine = true;
    ln->cap_after = acc->capitalised_minor;
    ln->fee_charges = charges_part(l, applied[ACCRUAL_BUCKET_FEES]);
    l->fees_paid += applied[ACCRUAL_BUCKET_FEES];
    l->repaid += ln->principal;
    ln->outstanding_after = accrual_loan_outstanding(acc);
    if (l->drawn == l->principal && ln->outstanding_after == 0) {
        snprintf(l->status, sizeof l->status, "repaid");
        l->repaid_now = true;
    }
    ln->loan = l;
    ln->applied = true;
    fl_error_clear(le);
    return FLE_OK;
}

/* Checks and allocates one line against the chunk's state. Refusals go to line->err (and
 * line->done); only FLE_INTERNAL-class failures are returned. */
static enum fl_err evaluate(const struct rp_ctx *ctx, struct rp_chunk *c, struct rp_line *ln, struct fl_error *err)
{
    static _Thread_local struct repayment_allocation a;
    struct fl_error *le = &ln->err;
    ln->done = true;
    struct rp_loan *l = find_loan(c, ln->loan_id);
    if (l == NULL) {
        fl_error_set(le, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, ln->loan_id);
        return FLE_OK;
    }
    if (ctx->fund_id != 0 && l->fund_id != ctx->fund_id) {
        fl_error_set(le, FLE_BAD_FIELD, "loan_id", "loan %" PRId64 " is not a loan of fund %" PRId64, l->id,
                     ctx->fund_id);
        return FLE_OK;
    }
    if (strcmp(l->status, "active") != 0) {
        fl_error_set(le, FLE_CONFLICT, "loan_id",
                     "repayments are recorded on an active (disbursed) loan; loan %" PRId64 " is %s", l->id, l->status);
        return FLE_OK;
    }
    if (ln->amount == NULL || ln->amount[0] == '\0') {
        fl_error_set(le, FLE_MISSING_FIELD, "amount", "required");
        return FLE_OK;
    }
    money_status ms = money_parse_amount(ln->amount, l->exponent, &ln->amount_minor);
    if (ms != MONEY_OK || ln->amount_minor == 0) {
        fl_error_set(le, FLE_BAD_FIELD, "amount", "a positive decimal in %s: %s", l->currency,
                     ms != MONEY_OK ? money_status_text(ms) : "must be more than zero");
        return FLE_OK;
    }
    int64_t vdays = 0;
    if (ln->value_date == NULL || ln->value_date[0] == '\0') {
        fl_error_set(le, FLE_MISSING_FIELD, "value_date", "required");
        return FLE_OK;
    }
    if (!date_days(ln->value_date, &vdays) || strcmp(ln->value_date, ctx->today) > 0) {
        fl_error_set(le, FLE_BAD_FIELD, "value_date", "a date YYYY-MM-DD, not in the future");
        return FLE_OK;
    }
    if (l->first_disbursement[0] == '\0' || strcmp(ln->value_date, l->first_disbursement) < 0) {
        fl_error_set(le, FLE_BAD_FIELD, "value_date", "before the loan's first disbursement (%s)",
                     l->first_disbursement[0] ? l->first_disbursement : "none");
        return FLE_OK;
    }
    size_t rlen = ln->reference ? strlen(ln->reference) : 0;
    if (rlen == 0) {
        fl_error_set(le, FLE_MISSING_FIELD, "reference", "required");
        return FLE_OK;
    }
    if (rlen > REPAYMENT_REFERENCE_BYTES_MAX) {
        fl_error_set(le, FLE_BAD_FIELD, "reference", "at most %d characters", REPAYMENT_REFERENCE_BYTES_MAX);
        return FLE_OK;
    }
    if (ref_set_check(&c->refs, l->id, ln->reference, false)) {
        fl_error_set(le, FLE_DUPLICATE, "reference", "loan %" PRId64 " already has a repayment with this reference",
                     l->id);
        return FLE_OK;
    }
    if (l->last_charge[0] != '\0' && strcmp(ln->value_date, l->last_charge) < 0) {
        fl_error_set(le, FLE_BAD_FIELD, "value_date",
                     "before the loan's latest charge (%s): repayments are recorded in date order", l->last_charge);
        return FLE_OK;
    }
    accrual_choice given;
    if (ln->choice_text != NULL && !accrual_choice_parse(ln->choice_text, &given)) {
        fl_error_set(le, FLE_BAD_FIELD, "prepayment_choice", "reduce_term or reduce_instalment");
        return FLE_OK;
    }
    bool usable = false;
    enum fl_err ee = engine_state(c, l, &usable, err);
    if (ee != FLE_OK) {
        return ee;
    }
    if (usable) {
        return engine_evaluate(c, l, ln, err);
    }
    ln->choice = ACCRUAL_REDUCE_TERM; /* the stored-schedule allocation shortens the term */
    /* Capitalised interest due by the value date is principal outstanding (§3). */
    int64_t cap_due = 0, cap_new = 0;
    for (size_t q = 0; q < l->cap_n; q++) {
        const struct rp_cap *x = &c->caps[l->cap_at + q];
        if (x->due_days <= vdays) {
            cap_due += x->amount_minor;
            cap_new += x->posted ? 0 : x->amount_minor;
        }
    }
    int64_t outstanding = l->drawn - l->repaid - l->written_off + cap_due;
    int64_t owed = 0;
    /* The origination fee is due from the first disbursement (value dates are never before it). */
    int64_t fees_due = l->fee + l->charges - l->fees_paid; /* charges are dated before the line (checked) */
    repayment_alloc_status st =
        repayment_allocate_fees(ln->amount_minor, vdays, outstanding, fees_due > 0 ? fees_due : 0,
                                l->inst_n ? &c->inst[l->inst_at] : NULL, l->inst_n, &a, &owed);
    if (st == REPAYMENT_ALLOC_OVERPAID) {
        char ob[MONEY_TEXT_MAX];
        money_format(owed, l->exponent, ob, sizeof ob);
        fl_error_set(le, FLE_RULE, "amount",
                     "overpayment refused: on %s loan %" PRId64 " owes at most %s %s (overdue and current "
                     "instalments plus the principal outstanding)",
                     ln->value_date, l->id, ob, l->currency);
        return FLE_OK;
    }
    if (st != REPAYMENT_ALLOC_OK) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "the schedule of loan %" PRId64 " is inconsistent", l->id);
    }
    if (!alloc_push(c, &a)) {
        return oom(err);
    }
    ln->alloc_at = c->n_alloc - a.n;
    ln->alloc_n = a.n;
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        ln->bucket[b] = a.bucket_minor[b];
    }
    ln->prepayment = a.prepayment_minor;
    ln->principal = a.principal_minor;
    ln->interest = a.interest_minor;
    ref_set_check(&c->refs, l->id, ln->reference, true);
    ln->lent_before = l->drawn + l->cap_posted;
    ln->settled_before = l->repaid + l->written_off;
    ln->cap_post = cap_new;
    ln->capp_at = 0;
    ln->capp_n = 0;
    for (size_t q = 0; q < l->cap_n; q++) {
        /* Rows are in instalment (so due date) order and are posted up to a date: the rows this
         * line posts are consecutive. */
        struct rp_cap *x = &c->caps[l->cap_at + q];
        if (x->due_days <= vdays && !x->posted) {
            x->posted = true;
            if (ln->capp_n == 0) {
                ln->capp_at = l->cap_at + q;
            }
            ln->capp_n++;
        }
    }
    l->cap_posted += cap_new;
    ln->fee_charges = charges_part(l, a.bucket_minor[WATERFALL_BUCKET_FEES]);
    l->fees_paid += a.bucket_minor[WATERFALL_BUCKET_FEES];
    l->repaid += a.principal_minor;
    ln->outstanding_after = outstanding - a.principal_minor;
    if (l->drawn == l->principal && ln->outstanding_after == 0) {
        snprintf(l->status, sizeof l->status, "repaid");
        l->repaid_now = true;
    }
    ln->loan = l;
    ln->applied = true;
    fl_error_clear(le);
    return FLE_OK;
}

/* parts = split(after) - split(before) by the loan's shares: one step of a running total
 * (docs/loan-servicing.md §10). */
static bool step_split(const struct rp_loan *l, int64_t before, int64_t after, int64_t *parts)
{
    int64_t from[LOAN_FUNDING_MAX];
    if (l->n_funding == 0 || !money_split(before, l->weight, l->n_funding, from) ||
        !money_split(after, l->weight, l->n_funding, parts)) {
        return false;
    }
    for (unsigned i = 0; i < l->n_funding; i++) {
        parts[i] -= from[i];
    }
    return true;
}

/* Builds the capitalisation entry of an applied line (cap_post > 0): Dr T.LOANS per tranche (a
 * step of the lent total), Cr 4000. */
static enum fl_err build_cap_entry(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx,
                                   const struct rp_line *ln, struct ledger_entry *e, struct fl_error *err)
{
    const struct rp_loan *l = ln->loan;
    const struct rp_fund *f = NULL;
    enum fl_err x = fund_accounts(db, c, l->fund_id, &f, err);
    if (x != FLE_OK) {
        return x;
    }
    assert(ln->cap_post != 0);
    memset(e, 0, offsetof(struct ledger_entry, lines));
    e->fund_id = l->fund_id;
    e->posted_by = ctx->actor->user_id;
    snprintf(e->effective_date, sizeof e->effective_date, "%s", ln->value_date);
    snprintf(e->memo, sizeof e->memo, "grace interest capitalised");
    snprintf(e->event_type, sizeof e->event_type, "capitalisation");
    snprintf(e->event_ref, sizeof e->event_ref, "loan:%" PRId64, l->id);
    int64_t parts[LOAN_FUNDING_MAX];
    if (!step_split(l, ln->lent_before, ln->lent_before + ln->cap_post, parts)) {
        return fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " has no funding shares", l->id);
    }
    unsigned k = 0;
    for (unsigned i = 0; i < l->n_funding; i++) {
        if (parts[i] != 0) {
            e->lines[k++] = (struct ledger_line){l->loans_account[i], "", parts[i]};
        }
    }
    if (ln->recv) {
        /* The interest was accrued first: it leaves the receivable (§9). */
        x = recv_lines(db, c, ctx, l, ln->clear_before, ln->clear_before + ln->cap_post, -1, e, &k, err);
        if (x != FLE_OK) {
            return x;
        }
    } else {
        e->lines[k++] = (struct ledger_line){f->interest_income, "", -ln->cap_post};
    }
    assert(k <= LEDGER_LINES_MAX);
    for (unsigned i = 0; i < k; i++) {
        memcpy(e->lines[i].currency, l->currency, CURRENCY_CODE_BYTES);
    }
    e->n_lines = k;
    return FLE_OK;
}

/* Builds the entry of an applied line. */
static enum fl_err build_entry(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, const struct rp_line *ln,
                               struct ledger_entry *e, struct fl_error *err)
{
    const struct rp_loan *l = ln->loan;
    const struct rp_fund *f = NULL;
    enum fl_err x = fund_accounts(db, c, l->fund_id, &f, err);
    if (x != FLE_OK) {
        return x;
    }
    memset(e, 0, offsetof(struct ledger_entry, lines));
    e->fund_id = l->fund_id;
    e->posted_by = ctx->actor->user_id;
    snprintf(e->effective_date, sizeof e->effective_date, "%s", ln->value_date);
    snprintf(e->memo, sizeof e->memo, "loan repayment");
    snprintf(e->event_type, sizeof e->event_type, "repayment");
    snprintf(e->event_ref, sizeof e->event_ref, "loan:%" PRId64, l->id);
    unsigned k = 0;
    e->lines[k++] = (struct ledger_line){f->collections, "", ln->amount_minor};
    if (ln->principal > 0) {
        int64_t parts[LOAN_FUNDING_MAX];
        if (!step_split(l, ln->settled_before, ln->settled_before + ln->principal, parts)) {
            return fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " has no funding shares", l->id);
        }
        for (unsigned i = 0; i < l->n_funding; i++) {
            if (parts[i] != 0) {
                e->lines[k++] = (struct ledger_line){l->loans_account[i], "", -parts[i]};
            }
        }
    }
    if (ln->interest > 0 && ln->recv) {
        /* Interest and default interest collected clear the receivable (§9). */
        int64_t from = ln->clear_before + ln->cap_post;
        if ((x = recv_lines(db, c, ctx, l, from, from + ln->interest, -1, e, &k, err)) != FLE_OK) {
            return x;
        }
    } else if (ln->interest > 0) {
        e->lines[k++] = (struct ledger_line){f->interest_income, "", -ln->interest};
    }
    if (ln->bucket[WATERFALL_BUCKET_FEES] > ln->fee_charges) {
        e->lines[k++] = (struct ledger_line){f->fee_income, "", -(ln->bucket[WATERFALL_BUCKET_FEES] - ln->fee_charges)};
    }
    if (ln->fee_charges > 0) {
        int64_t receivable = 0; /* opened by the first charge's entry */
        if ((x = fund_account_by_code(db, l->fund_id, "1160", &receivable, err)) != FLE_OK) {
            return x;
        }
        e->lines[k++] = (struct ledger_line){receivable, "", -ln->fee_charges};
    }
    assert(k <= LEDGER_LINES_MAX);
    for (unsigned i = 0; i < k; i++) {
        memcpy(e->lines[i].currency, l->currency, CURRENCY_CODE_BYTES);
    }
    e->n_lines = k;
    return FLE_OK;
}

static enum fl_err recv_lines(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, const struct rp_loan *l,
                              int64_t before, int64_t after, int sign, struct ledger_entry *e, unsigned *k,
                              struct fl_error *err)
{
    int64_t parts[LOAN_FUNDING_MAX];
    if (!step_split(l, before, after, parts)) {
        return fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " has no funding shares", l->id);
    }
    for (unsigned i = 0; i < l->n_funding; i++) {
        if (parts[i] == 0) {
            continue;
        }
        int64_t acc = 0;
        enum fl_err x = recv_account(db, c, ctx, l, i, &acc, err);
        if (x != FLE_OK) {
            return x;
        }
        assert(*k < LEDGER_LINES_MAX);
        e->lines[(*k)++] = (struct ledger_line){acc, "", sign * parts[i]};
    }
    return FLE_OK;
}

/* One accrual entry being built: a fund's accruals of one date (docs/loan-servicing.md §9), Dr
 * each tranche's receivable the sum of the loans' parts on it, Cr 4000 their total. */
struct acr_group {
    size_t first, n; /* its lines: order[first .. first + n) */
    unsigned n_acc;  /* receivable accounts in it */
    int64_t acc[LEDGER_LINES_MAX - 1], amt[LEDGER_LINES_MAX - 1];
    int64_t total;
};

/* Adds line ln's parts (on accounts acc) to g; false (g unchanged) when they would not fit in
 * one entry. */
static bool acr_group_add(struct acr_group *g, const struct rp_line *ln, const int64_t *acc)
{
    unsigned extra = 0;
    for (unsigned i = 0; i < ln->acr_np; i++) {
        bool found = false;
        for (unsigned k = 0; k < g->n_acc && !found; k++) {
            found = g->acc[k] == acc[i];
        }
        extra += found ? 0 : 1;
    }
    if (g->n_acc + extra > LEDGER_LINES_MAX - 1) {
        return false;
    }
    for (unsigned i = 0; i < ln->acr_np; i++) {
        unsigned k = 0;
        while (k < g->n_acc && g->acc[k] != acc[i]) {
            k++;
        }
        if (k == g->n_acc) {
            g->acc[g->n_acc] = acc[i];
            g->amt[g->n_acc++] = 0;
        }
        g->amt[k] += ln->acr_part[i];
    }
    g->total += ln->acr_ord + ln->acr_def;
    g->n++;
    return true;
}

/* The entry of a group (ln0: its first line); false when its lines all net to zero. */
static bool acr_group_entry(const struct acr_group *g, const struct rp_line *ln0, const struct rp_fund *f,
                            const struct rp_ctx *ctx, struct ledger_entry *e)
{
    const struct rp_loan *l = ln0->loan;
    memset(e, 0, offsetof(struct ledger_entry, lines));
    e->fund_id = l->fund_id;
    e->posted_by = ctx->actor->user_id;
    snprintf(e->effective_date, sizeof e->effective_date, "%s", ln0->value_date);
    if (g->n == 1) {
        snprintf(e->memo, sizeof e->memo, "interest earned, not yet received: loan %" PRId64, l->id);
    } else {
        snprintf(e->memo, sizeof e->memo, "interest earned, not yet received: %zu loans", g->n);
    }
    snprintf(e->event_type, sizeof e->event_type, "accrual");
    snprintf(e->event_ref, sizeof e->event_ref, "fund:%" PRId64, l->fund_id);
    unsigned k = 0;
    for (unsigned i = 0; i < g->n_acc; i++) {
        if (g->amt[i] != 0) {
            e->lines[k++] = (struct ledger_line){g->acc[i], "", g->amt[i]};
        }
    }
    if (g->total != 0) {
        e->lines[k++] = (struct ledger_line){f->interest_income, "", -g->total};
    }
    for (unsigned i = 0; i < k; i++) {
        memcpy(e->lines[i].currency, l->currency, CURRENCY_CODE_BYTES);
    }
    e->n_lines = k;
    return k >= 2;
}

/* The receivable accounts of line ln's parts. */
static enum fl_err acr_accounts(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, const struct rp_line *ln,
                                int64_t *acc, struct fl_error *err)
{
    for (unsigned i = 0; i < ln->acr_np; i++) {
        unsigned pos = 0;
        while (pos + 1 < ln->loan->n_funding && ln->loan->tranche_id[pos] != ln->acr_tr[i]) {
            pos++;
        }
        enum fl_err e = recv_account(db, c, ctx, ln->loan, pos, &acc[i], err);
        if (e != FLE_OK) {
            return e;
        }
    }
    return FLE_OK;
}

/* Orders accrual lines by fund, currency and date, then as given. */
static const struct rp_line *acr_sort_base;
static int cmp_acr(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const struct rp_line *p = &acr_sort_base[x], *q = &acr_sort_base[y];
    if (p->loan->fund_id != q->loan->fund_id) {
        return p->loan->fund_id < q->loan->fund_id ? -1 : 1;
    }
    int cmp = strcmp(p->loan->currency, q->loan->currency);
    if (cmp == 0) {
        cmp = strcmp(p->value_date, q->value_date);
    }
    return cmp != 0 ? cmp : (x > y) - (x < y);
}

/* Posts the accruals of lines[0..n) (those applied with acr): one entry per fund and date (more
 * when the tranches would not fit in one entry's lines, and loan by loan when a group's lines all
 * net to zero) and a loan_accrual row per line; ln->acr_entry_id is set. *posted += entries. */
static enum fl_err post_accruals(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, struct rp_line *lines,
                                 size_t n, unsigned *posted, struct fl_error *err)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        m += lines[i].applied && lines[i].acr ? 1 : 0;
    }
    if (m == 0) {
        return FLE_OK;
    }
    assert(m <= LEDGER_BATCH_ENTRIES_MAX);
    size_t *order = malloc(m * sizeof *order), *slot = malloc(m * sizeof *slot);
    struct acr_group *groups = malloc(m * sizeof *groups);
    struct ledger_entry *entries = malloc(m * sizeof *entries);
    const struct ledger_entry **ptrs = malloc(m * sizeof *ptrs);
    int64_t *ids = malloc(m * sizeof *ids);
    struct db_array col[9];
    for (int q = 0; q < 9; q++) {
        db_array_init(&col[q]);
    }
    PGresult *r = NULL;
    enum fl_err e = FLE_OK;
    if (order == NULL || slot == NULL || groups == NULL || entries == NULL || ptrs == NULL || ids == NULL) {
        e = oom(err);
        goto done;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        struct rp_line *ln = &lines[i];
        if (!ln->applied || !ln->acr) {
            continue;
        }
        order[j++] = i;
        /* The loan's parts: a step of its recognised total (§10). */
        const struct rp_loan *l = ln->loan;
        int64_t parts[LOAN_FUNDING_MAX];
        if (!step_split(l, ln->acr_before, ln->acr_before + ln->acr_ord + ln->acr_def, parts)) {
            e = fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " has no funding shares", l->id);
            goto done;
        }
        ln->acr_np = 0;
        for (unsigned k = 0; k < l->n_funding; k++) {
            if (parts[k] != 0) {
                ln->acr_tr[ln->acr_np] = l->tranche_id[k];
                ln->acr_part[ln->acr_np++] = parts[k];
            }
        }
    }
    acr_sort_base = lines;
    qsort(order, m, sizeof *order, cmp_acr);
    size_t n_groups = 0;
    for (size_t q = 0; q < m; q++) {
        const struct rp_line *ln = &lines[order[q]];
        int64_t acc[LOAN_FUNDING_MAX];
        if ((e = acr_accounts(db, c, ctx, ln, acc, err)) != FLE_OK) {
            goto done;
        }
        struct acr_group *g = n_groups ? &groups[n_groups - 1] : NULL;
        const struct rp_line *head = g ? &lines[order[g->first]] : NULL;
        if (g == NULL || head->loan->fund_id != ln->loan->fund_id ||
            strcmp(head->loan->currency, ln->loan->currency) != 0 || strcmp(head->value_date, ln->value_date) != 0 ||
            !acr_group_add(g, ln, acc)) {
            g = &groups[n_groups++];
            memset(g, 0, sizeof *g);
            g->first = q;
            bool fits = acr_group_add(g, ln, acc);
            assert(fits);
            (void)fits;
        }
    }
    /* The entries: slot[q] is the entry of order[q]. */
    size_t n_entries = 0;
    for (size_t gi = 0; gi < n_groups; gi++) {
        const struct acr_group *g = &groups[gi];
        const struct rp_fund *f = NULL;
        if ((e = fund_accounts(db, c, lines[order[g->first]].loan->fund_id, &f, err)) != FLE_OK) {
            goto done;
        }
        if (acr_group_entry(g, &lines[order[g->first]], f, ctx, &entries[n_entries])) {
            for (size_t q = 0; q < g->n; q++) {
                slot[g->first + q] = n_entries;
            }
            ptrs[n_entries] = &entries[n_entries];
            n_entries++;
            continue;
        }
        for (size_t q = g->first; q < g->first + g->n; q++) {
            const struct rp_line *ln = &lines[order[q]];
            struct acr_group one;
            memset(&one, 0, sizeof one);
            one.first = q;
            int64_t acc[LOAN_FUNDING_MAX];
            if ((e = acr_accounts(db, c, ctx, ln, acc, err)) != FLE_OK) {
                goto done;
            }
            if (!acr_group_add(&one, ln, acc) || !acr_group_entry(&one, ln, f, ctx, &entries[n_entries])) {
                e = fl_error_set(err, FLE_INTERNAL, NULL, "the accrual of loan %" PRId64 " posts nothing", ln->loan->id);
                goto done;
            }
            slot[q] = n_entries;
            ptrs[n_entries] = &entries[n_entries];
            n_entries++;
        }
    }
    if ((e = ledger_post(db, ptrs, (unsigned)n_entries, ids, err)) != FLE_OK) {
        goto done;
    }
    for (size_t q = 0; q < m; q++) {
        struct rp_line *ln = &lines[order[q]];
        ln->acr_entry_id = ids[slot[q]];
        db_array_i64(&col[0], ln->loan->id);
        db_array_text(&col[1], ln->value_date);
        db_array_i64(&col[2], ln->acr_ord);
        db_array_i64(&col[3], ln->acr_def);
        db_array_i64(&col[4], ln->acr_ord_total);
        db_array_i64(&col[5], ln->acr_def_total);
        char tb[LOAN_FUNDING_MAX * 21 + 3], pb[LOAN_FUNDING_MAX * 21 + 3];
        int tl = snprintf(tb, sizeof tb, "{"), pl = snprintf(pb, sizeof pb, "{");
        for (unsigned i = 0; i < ln->acr_np; i++) {
            tl += snprintf(tb + tl, sizeof tb - (size_t)tl, "%s%" PRId64, i ? "," : "", ln->acr_tr[i]);
            pl += snprintf(pb + pl, sizeof pb - (size_t)pl, "%s%" PRId64, i ? "," : "", ln->acr_part[i]);
        }
        snprintf(tb + tl, sizeof tb - (size_t)tl, "}");
        snprintf(pb + pl, sizeof pb - (size_t)pl, "}");
        db_array_text(&col[6], tb);
        db_array_text(&col[7], pb);
        db_array_i64(&col[8], ln->acr_entry_id);
    }
    const char *pa[10];
    for (int q = 0; q < 9; q++) {
        if ((pa[q] = db_array_str(&col[q])) == NULL) {
            e = oom(err);
            goto done;
        }
    }
    char ub[21];
    pa[9] = db_i64_text(ctx->actor->user_id, ub);
    if ((r = db_exec(db, "accrual_insert", 10, pa, err)) == NULL) {
        e = err->code;
        goto done;
    }
    *posted += (unsigned)n_entries;
done:
    PQclear(r);
    for (int q = 0; q < 9; q++) {
        db_array_free(&col[q]);
    }
    free(order);
    free(slot);
    free(groups);
    free(entries);
    free(ptrs);
    free(ids);
    return e;
}

static const char *const bucket_cols[WATERFALL_BUCKETS] = {"fees", "overdue_interest", "overdue_principal",
                                                           "current_interest", "current_principal"};

/* The schedule versions the applied lines cut, numbered on from each loan's latest, valid from
 * the line's value date and including its repayment; one statement for all. */
static enum fl_err write_versions(struct db *db, struct rp_chunk *c, struct rp_line *lines, size_t n,
                                  struct fl_error *err)
{
    struct schedver_batch b;
    schedver_init(&b);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        struct rp_line *ln = &lines[i];
        if (ln->applied && ln->ver) {
            ok = schedver_add(&b, ln->loan->id, ++ln->loan->version, ln->ver_reason, 0, ln->repayment_id,
                              ln->value_date, ln->repayment_id, &c->vrows[ln->ver_at], ln->ver_n);
        }
    }
    enum fl_err e = ok ? schedver_flush(db, &b, err) : oom(err);
    schedver_free(&b);
    return e;
}

/* Writes the applied lines of a chunk: entries, repayment rows, allocation rows, the schedule
 * versions they cut, loans that became repaid (and their entrepreneurs). Inside whatever
 * transaction or savepoint is open. */
static enum fl_err chunk_write(struct db *db, struct rp_chunk *c, const struct rp_ctx *ctx, struct rp_line *lines,
                               size_t n, struct fl_error *err)
{
    size_t k = 0, n_entries = 0;
    for (size_t i = 0; i < n; i++) {
        k += lines[i].applied ? 1 : 0;
        n_entries += lines[i].applied ? (lines[i].cap_post != 0 ? 2 : 1) : 0;
    }
    if (k == 0) {
        return FLE_OK;
    }
    assert(k <= REPAYMENT_IMPORT_CHUNK);
    unsigned n_acr = 0;
    enum fl_err ea = post_accruals(db, c, ctx, lines, n, &n_acr, err);
    if (ea != FLE_OK) {
        return ea;
    }
    _Static_assert(2 * REPAYMENT_IMPORT_CHUNK <= LEDGER_BATCH_ENTRIES_MAX, "capitalisation and repayment entries");
    struct ledger_entry *entries = malloc(n_entries * sizeof *entries);
    const struct ledger_entry **ptrs = malloc(n_entries * sizeof *ptrs);
    int64_t *entry_ids = malloc(n_entries * sizeof *entry_ids);
    struct db_array cp[3];
    for (int q = 0; q < 3; q++) {
        db_array_init(&cp[q]);
    }
    struct db_array col[15], al[5], capset[2];
    db_array_init(&capset[0]);
    db_array_init(&capset[1]);
    for (int j = 0; j < 15; j++) {
        db_array_init(&col[j]);
    }
    for (int j = 0; j < 5; j++) {
        db_array_init(&al[j]);
    }
    enum fl_err e = FLE_OK;
    PGresult *r = NULL;
    if (entries == NULL || ptrs == NULL || entry_ids == NULL) {
        e = oom(err);
        goto done;
    }
    size_t j = 0;
    for (size_t i = 0; i < n && e == FLE_OK; i++) {
        if (lines[i].applied) {
            if (lines[i].cap_post != 0) {
                e = build_cap_entry(db, c, ctx, &lines[i], &entries[j], err);
                ptrs[j] = &entries[j];
                j++;
            }
            if (e == FLE_OK) {
                e = build_entry(db, c, ctx, &lines[i], &entries[j], err);
                ptrs[j] = &entries[j];
                j++;
            }
        }
    }
    if (e != FLE_OK || (e = ledger_post(db, ptrs, (unsigned)n_entries, entry_ids, err)) != FLE_OK) {
        goto done;
    }
    j = 0;
    for (size_t i = 0; i < n; i++) {
        struct rp_line *ln = &lines[i];
        if (!ln->applied) {
            continue;
        }
        ln->cap_entry_id = 0;
        if (ln->cap_post != 0) {
            ln->cap_entry_id = entry_ids[j++];
            for (size_t q = 0; q < ln->capp_n; q++) {
                db_array_i64(&cp[0], ln->loan->id);
                db_array_i64(&cp[1], c->caps[ln->capp_at + q].no);
                db_array_i64(&cp[2], ln->cap_entry_id);
            }
        }
        ln->entry_id = entry_ids[j++];
    }
    assert(j == n_entries);
    if (cp[0].n > 0) {
        const char *pc[3] = {db_array_str(&cp[0]), db_array_str(&cp[1]), db_array_str(&cp[2])};
        if (!pc[0] || !pc[1] || !pc[2]) {
            e = oom(err);
            goto done;
        }
        if ((r = db_exec_rows(db, "repayment_post_capitalisation", 3, pc, 1, err)) == NULL) {
            e = err->code;
            goto done;
        }
        if (db_i64(r, 0, 0) != (int64_t)cp[0].n) {
            e = fl_error_set(err, FLE_CONFLICT, "loan_id", "capitalisation posted concurrently");
            goto done;
        }
        PQclear(r);
        r = NULL;
    }
    char nb[21];
    const char *pn[1] = {db_i64_text((int64_t)k, nb)};
    if ((r = db_exec_rows(db, "repayment_ids", 1, pn, (int)k, err)) == NULL) {
        e = err->code;
        goto done;
    }
    j = 0;
    for (size_t i = 0; i < n; i++) {
        struct rp_line *ln = &lines[i];
        if (!ln->applied) {
            continue;
        }
        ln->repayment_id = db_i64(r, (int)j, 0);
        j++;
        db_array_i64(&col[0], ln->repayment_id);
        db_array_i64(&col[1], ln->loan->id);
        db_array_i64(&col[2], ln->amount_minor);
        db_array_text(&col[3], ln->value_date);
        db_array_text(&col[4], ln->reference);
        for (int b = 0; b < WATERFALL_BUCKETS; b++) {
            db_array_i64(&col[5 + b], ln->bucket[b]);
        }
        db_array_i64(&col[10], ln->prepayment);
        db_array_i64(&col[11], ln->entry_id);
        db_array_i64(&col[12], ln->default_interest);
        db_array_text(&col[13], accrual_choice_name(ln->choice));
        for (size_t q = 0; q < ln->alloc_n; q++) {
            const struct rp_alloc *x = &c->alloc[ln->alloc_at + q];
            db_array_i64(&al[0], ln->repayment_id);
            db_array_i64(&al[1], ln->loan->id);
            db_array_i64(&al[2], x->no);
            db_array_text(&al[3], x->principal ? "principal" : "interest");
            db_array_i64(&al[4], x->amount_minor);
        }
    }
    PQclear(r);
    r = NULL;
    for (size_t i = 0; i < c->n_loans; i++) {
        if (c->loans[i].cap_set) {
            db_array_i64(&capset[0], c->loans[i].id);
            db_array_i64(&capset[1], c->loans[i].cap_posted);
        }
    }
    if (capset[0].n > 0) {
        /* The replay's capitalised total (the rows' sum may differ: a drawdown inside a grace
         * period, a stub before the first period). */
        const char *ps[2] = {db_array_str(&capset[0]), db_array_str(&capset[1])};
        if (!ps[0] || !ps[1]) {
            e = oom(err);
            goto done;
        }
        if ((r = db_exec(db, "servicing_set_capitalised", 2, ps, err)) == NULL) {
            e = err->code;
            goto done;
        }
        PQclear(r);
        r = NULL;
    }
    char ub[21];
    const char *pr[15];
    for (int q = 0; q < 14; q++) {
        if ((pr[q] = db_array_str(&col[q])) == NULL) {
            e = oom(err);
            goto done;
        }
    }
    pr[14] = db_i64_text(ctx->actor->user_id, ub);
    if ((r = db_exec(db, "repayment_insert", 15, pr, err)) == NULL) {
        e = err->code == FLE_DUPLICATE
                ? fl_error_set(err, FLE_DUPLICATE, "reference", "a repayment with this reference exists for the loan")
                : err->code;
        goto done;
    }
    PQclear(r);
    r = NULL;
    if (al[0].n > 0) {
        const char *pa[5];
        for (int q = 0; q < 5; q++) {
            if ((pa[q] = db_array_str(&al[q])) == NULL) {
                e = oom(err);
                goto done;
            }
        }
        if ((r = db_exec(db, "repayment_insert_allocations", 5, pa, err)) == NULL) {
            e = err->code;
            goto done;
        }
        PQclear(r);
        r = NULL;
    }
    if ((e = write_versions(db, c, lines, n, err)) != FLE_OK) {
        goto done;
    }
    /* Loans repaid in full: status, then their entrepreneurs. */
    struct db_array done_ids;
    db_array_init(&done_ids);
    for (size_t i = 0; i < c->n_loans; i++) {
        if (c->loans[i].repaid_now) {
            db_array_i64(&done_ids, c->loans[i].id);
        }
    }
    if (done_ids.n > 0) {
        const char *pd[1] = {db_array_str(&done_ids)};
        r = pd[0] ? db_exec(db, "repayment_drop_capitalisation", 1, pd, err) : NULL;
        if (r == NULL) {
            e = pd[0] ? err->code : oom(err);
        }
        PQclear(r);
        r = e == FLE_OK ? db_exec(db, "repayment_mark_repaid", 1, pd, err) : NULL;
        if (r == NULL && e == FLE_OK) {
            e = err->code;
        }
        for (int i = 0; r != NULL && e == FLE_OK && i < PQntuples(r); i++) {
            char reason[64];
            snprintf(reason, sizeof reason, "loan %s repaid in full", db_str(r, i, 0));
            e = pipeline_move_system(db, ctx->actor, db_i64(r, i, 1), "repaid", reason, err);
        }
    }
    db_array_free(&done_ids);
done:
    PQclear(r);
    for (int q = 0; q < 15; q++) {
        db_array_free(&col[q]);
    }
    db_array_free(&capset[0]);
    db_array_free(&capset[1]);
    for (int q = 0; q < 5; q++) {
        db_array_free(&al[q]);
    }
    for (int q = 0; q < 3; q++) {
        db_array_free(&cp[q]);
    }
    free(entries);
    free(ptrs);
    free(entry_ids);
    return e;
}

static bool fatal(const struct db *db, enum fl_err e)
{
    const char *st = db_last_sqlstate(db);
    return e == FLE_DB_UNAVAILABLE || strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

static bool savepoint(struct db *db, const char *sql, struct fl_error *err)
{
    PGresult *r = db_exec_sql(db, sql, err);
    PQclear(r);
    return r != NULL;
}

/* Processes lines[0..n): load, evaluate in order, write. With use_savepoint, the write runs in a
 * savepoint; a refused write is rolled back and reported in *write_failed (lines then carry no
 * result) unless the chunk is one line, which is then refused with the database's error. */
static enum fl_err chunk_run(struct db *db, const struct rp_ctx *ctx, struct rp_line *lines, size_t n,
                             bool use_savepoint, bool *write_failed, struct fl_error *err)
{
    struct rp_chunk c;
    *write_failed = false;
    enum fl_err e = chunk_load_with(db, &c, lines, n, ctx->caps, err);
    for (size_t i = 0; i < n && e == FLE_OK; i++) {
        if (!lines[i].done) {
            e = evaluate(ctx, &c, &lines[i], err);
        }
    }
    if (e != FLE_OK) {
        chunk_free(&c);
        return e;
    }
    if (!use_savepoint) {
        e = chunk_write(db, &c, ctx, lines, n, err);
        chunk_free(&c);
        return e;
    }
    if (!savepoint(db, "SAVEPOINT repayment_chunk", err)) {
        chunk_free(&c);
        return err->code;
    }
    e = chunk_write(db, &c, ctx, lines, n, err);
    chunk_free(&c);
    if (e == FLE_OK) {
        return savepoint(db, "RELEASE SAVEPOINT repayment_chunk", err) ? FLE_OK : err->code;
    }
    if (fatal(db, e)) {
        return e;
    }
    struct fl_error why = *err;
    if (!savepoint(db, "ROLLBACK TO SAVEPOINT repayment_chunk", err) ||
        !savepoint(db, "RELEASE SAVEPOINT repayment_chunk", err)) {
        return err->code;
    }
    size_t applied = 0;
    for (size_t i = 0; i < n; i++) {
        applied += lines[i].applied ? 1 : 0;
    }
    if (applied > 1) {
        *write_failed = true;
        return FLE_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (lines[i].applied) {
            lines[i].applied = false;
            lines[i].err = why;
        }
    }
    return FLE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* One repayment                                                                               */

json_t *repayment_record(struct db *db, const struct principal *actor, int64_t loan_id, const char *amount,
                         const char *value_date, const char *reference, struct fl_error *err)
{
    return repayment_record_choice(db, actor, loan_id, amount, value_date, reference, NULL, err);
}

json_t *repayment_record_choice(struct db *db, const struct principal *actor, int64_t loan_id, const char *amount,
                                const char *value_date, const char *reference, const char *prepayment_choice,
                                struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    struct rp_ctx ctx = {.actor = actor, .fund_id = 0};
    tranche_today(ctx.today);
    struct rp_line ln = {.line_no = 1,
                         .loan_id = loan_id,
                         .amount = amount,
                         .value_date = value_date,
                         .reference = reference,
                         .choice_text = prepayment_choice};
    fl_error_clear(&ln.err);
    struct rp_chunk c;
    enum fl_err e = chunk_load(db, &c, &ln, 1, err);
    if (e == FLE_OK) {
        e = evaluate(&ctx, &c, &ln, err);
    }
    if (e == FLE_OK && !ln.applied) {
        *err = ln.err;
        e = ln.err.code;
    }
    if (e == FLE_OK) {
        e = chunk_write(db, &c, &ctx, &ln, 1, err);
    }
    if (e == FLE_OK) {
        char rb[21];
        e = audit_record(db, actor, "repayment.record", "repayment", db_i64_text(ln.repayment_id, rb), ln.loan->fund_id,
                         json_pack("{s:I, s:o}", "loan_id", (json_int_t)loan_id, "amount",
                                   jv_amount(ln.amount_minor, ln.loan->currency)),
                         err);
    }
    if (e != FLE_OK) {
        chunk_free(&c);
        return NULL;
    }
    const struct rp_loan *l = ln.loan;
    json_t *allocs = json_array();
    for (size_t q = 0; q < ln.alloc_n; q++) {
        const struct rp_alloc *x = &c.alloc[ln.alloc_at + q];
        json_array_append_new(allocs, json_pack("{s:i, s:s, s:o}", "instalment_no", x->no, "component",
                                                x->principal ? "principal" : "interest", "amount",
                                                jv_amount(x->amount_minor, l->currency)));
    }
    json_t *o = json_pack("{s:I, s:I, s:s, s:o, s:s, s:s, s:I}", "id", (json_int_t)ln.repayment_id, "loan_id",
                          (json_int_t)l->id, "currency", l->currency, "amount", jv_amount(ln.amount_minor, l->currency),
                          "value_date", value_date, "reference", reference, "entry_id", (json_int_t)ln.entry_id);
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        json_object_set_new(o, bucket_cols[b], jv_amount(ln.bucket[b], l->currency));
    }
    json_object_set_new(o, "default_interest", jv_amount(ln.default_interest, l->currency));
    json_object_set_new(o, "prepayment", jv_amount(ln.prepayment, l->currency));
    json_object_set_new(o, "prepayment_choice", json_string(accrual_choice_name(ln.choice)));
    json_object_set_new(o, "principal", jv_amount(ln.principal, l->currency));
    json_object_set_new(o, "interest", jv_amount(ln.interest, l->currency));
    json_object_set_new(o, "allocations", allocs);
    json_object_set_new(o, "loan_status", json_string(l->status));
    json_object_set_new(o, "principal_outstanding", jv_amount(ln.outstanding_after, l->currency));
    json_object_set_new(o, "capitalised_interest_posted", jv_amount(ln.cap_post, l->currency));
    chunk_free(&c);
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Bank statement import                                                                       */

static const char csv_header[] = "loan_id,amount,value_date,reference";

/* Cuts one data line (NUL-terminated, without its newline) into fields in place. Refusals go
 * to ln->err with field "line" or "loan_id". */
static void parse_line(char *s, struct rp_line *ln)
{
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '\r') {
        s[--len] = '\0';
    }
    ln->done = true;
    if (len == 0) {
        fl_error_set(&ln->err, FLE_BAD_FIELD, "line", "empty line");
        return;
    }
    if (len > REPAYMENT_IMPORT_LINE_BYTES_MAX) {
        fl_error_set(&ln->err, FLE_BAD_FIELD, "line", "longer than %d bytes", REPAYMENT_IMPORT_LINE_BYTES_MAX);
        return;
    }
    if (!jv_utf8_valid(s, len)) {
        fl_error_set(&ln->err, FLE_BAD_FIELD, "line", "not valid UTF-8");
        return;
    }
    if (strchr(s, '"') != NULL) {
        fl_error_set(&ln->err, FLE_BAD_FIELD, "line",
                     "quoted fields are not supported: write plain comma-separated fields without quotes");
        return;
    }
    char *f[4];
    unsigned n = 0;
    char *p = s;
    for (unsigned guard = 0; guard <= len; guard++) {
        char *comma = strchr(p, ',');
        if (n < 4) {
            f[n] = p;
        }
        n++;
        if (comma == NULL) {
            break;
        }
        *comma = '\0';
        p = comma + 1;
    }
    if (n != 4) {
        fl_error_set(&ln->err, FLE_BAD_FIELD, "line", "4 fields expected (%s), found %u", csv_header, n);
        return;
    }
    size_t idlen = strlen(f[0]);
    if (idlen == 0 || idlen > 18 || strspn(f[0], "0123456789") != idlen || strtoll(f[0], NULL, 10) <= 0) {
        fl_error_set(&ln->err, FLE_BAD_FIELD, "loan_id", "a positive integer loan id");
        return;
    }
    ln->loan_id = strtoll(f[0], NULL, 10);
    ln->amount = f[1];
    ln->value_date = f[2];
    ln->reference = f[3];
    ln->done = false;
}

static json_t *error_json(const struct fl_error *e)
{
    return json_pack("{s:s, s:s, s:s}", "code", fl_err_code(e->code), "field", e->field, "message", e->message);
}

/* One data line of the file, as parsed; result set when it is done. */
struct rp_src {
    struct rp_line line; /* fields point into the import's copy of the file */
    json_t *result;
};

static int cmp_src(const void *a, const void *b)
{
    const struct rp_src *x = *(struct rp_src *const *)a, *y = *(struct rp_src *const *)b;
    if (x->line.loan_id != y->line.loan_id) {
        return x->line.loan_id < y->line.loan_id ? -1 : 1;
    }
    return (x->line.line_no > y->line.line_no) - (x->line.line_no < y->line.line_no);
}

static json_t *result_json(const struct rp_line *ln)
{
    if (ln->applied) {
        return json_pack("{s:i, s:s, s:I}", "line", (int)ln->line_no, "status", "applied", "repayment_id",
                         (json_int_t)ln->repayment_id);
    }
    return json_pack("{s:i, s:s, s:o}", "line", (int)ln->line_no, "status", "refused", "error", error_json(&ln->err));
}

/* Runs src[0..n) (sorted by loan) as one chunk; on a refused write, line by line. Fills results. */
static enum fl_err import_chunk(struct db *db, const struct rp_ctx *ctx, struct rp_src **src, size_t n,
                                struct rp_line *lines, int64_t *applied_total, struct fl_error *err)
{
    assert(n >= 1 && n <= REPAYMENT_IMPORT_CHUNK);
    for (size_t i = 0; i < n; i++) {
        lines[i] = src[i]->line;
    }
    bool write_failed = false;
    enum fl_err e = chunk_run(db, ctx, lines, n, true, &write_failed, err);
    if (e == FLE_OK && write_failed) {
        /* The database refused the chunk: redo its lines one by one, each in its own savepoint. */
        for (size_t i = 0; i < n && e == FLE_OK; i++) {
            lines[i] = src[i]->line;
            bool single_failed = false;
            e = chunk_run(db, ctx, &lines[i], 1, true, &single_failed, err);
            assert(!single_failed);
        }
    }
    for (size_t i = 0; i < n && e == FLE_OK; i++) {
        if (lines[i].applied && !money_add(*applied_total, lines[i].amount_minor, applied_total)) {
            e = fl_error_set(err, FLE_BAD_FIELD, "csv", "the total of the file overflows");
        }
        src[i]->result = result_json(&lines[i]);
        if (src[i]->result == NULL) {
            e = oom(err);
        }
    }
    return e;
}

/* A bank statement as read, before any database work: the file's copy (fields point into it),
 * one rp_src per data line in file order, and the lines to apply (not refused as they stand). */
struct rp_file {
    char *buf;
    struct rp_src *src;    /* n_lines slots, n used */
    struct rp_src **order; /* queued used */
    size_t n_lines, n, queued;
};

static void file_free(struct rp_file *f)
{
    for (size_t i = 0; f->src != NULL && i < f->n_lines; i++) {
        json_decref(f->src[i].result);
    }
    free(f->order);
    free(f->src);
    free(f->buf);
}

/* Checks the file (line count, NUL bytes, header) and cuts it into lines; a line refused as it
 * stands gets its result at once. Pure: no database. *f is set on every path: file_free it. */
static enum fl_err file_read(const char *csv, size_t len, struct rp_file *f, struct fl_error *err)
{
    memset(f, 0, sizeof *f);
    if (csv == NULL) {
        len = 0;
    }
    /* Count the lines first: nothing is written for a file over the limit. */
    size_t n_lines = 0;
    for (const char *q = csv, *end = csv + len; q != NULL && q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        n_lines++;
        q = nl ? nl + 1 : end;
    }
    if (n_lines > (size_t)REPAYMENT_IMPORT_LINES_MAX + 1) {
        return fl_error_set(err, FLE_BAD_FIELD, "csv", "at most %d lines after the header", REPAYMENT_IMPORT_LINES_MAX);
    }
    if (len > 0 && memchr(csv, '\0', len) != NULL) {
        return fl_error_set(err, FLE_BAD_FIELD, "csv", "the file contains NUL bytes: not a text CSV");
    }
    char *buf = f->buf = malloc(len + 1);
    struct rp_src *src = f->src = calloc(n_lines ? n_lines : 1, sizeof *src);
    struct rp_src **order = f->order = calloc(n_lines ? n_lines : 1, sizeof *order);
    f->n_lines = n_lines;
    if (buf == NULL || src == NULL || order == NULL) {
        return oom(err);
    }
    if (len > 0) {
        memcpy(buf, csv, len);
    }
    buf[len] = '\0';
    char *p = buf, *end = buf + len;
    /* Header: exact, after an optional UTF-8 byte order mark, CRLF accepted. */
    if ((size_t)(end - p) >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
    }
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *hend = nl ? nl : end;
    if (hend > p && hend[-1] == '\r') {
        hend--;
    }
    if ((size_t)(hend - p) != strlen(csv_header) || memcmp(p, csv_header, strlen(csv_header)) != 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "header", "the first line must be exactly: %s", csv_header);
    }
    p = nl ? nl + 1 : end;
    /* Parse every line; refusals of form are answered at once, the rest queued. */
    size_t n = 0, queued = 0;
    for (; p < end && n < n_lines; n++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol != NULL) {
            *eol = '\0';
        }
        struct rp_line *ln = &src[n].line;
        ln->line_no = (unsigned)n + 2;
        fl_error_clear(&ln->err);
        parse_line(p, ln);
        if (ln->done) {
            if ((src[n].result = result_json(ln)) == NULL) {
                return oom(err);
            }
        } else {
            order[queued++] = &src[n];
        }
        p = eol ? eol + 1 : end;
    }
    f->n = n;
    f->queued = queued;
    return FLE_OK;
}

enum fl_err repayment_csv_parse(const char *csv, size_t len, repayment_csv_visit visit, void *ctx, struct fl_error *err)
{
    assert(visit != NULL);
    struct rp_file f;
    enum fl_err e = file_read(csv, len, &f, err);
    for (size_t i = 0; e == FLE_OK && i < f.n; i++) {
        const struct rp_line *ln = &f.src[i].line;
        struct repayment_csv_line out = {.line_no = ln->line_no};
        if (ln->done) {
            out.refusal = &ln->err;
        } else {
            out.loan_id = ln->loan_id;
            out.amount = ln->amount;
            out.value_date = ln->value_date;
            out.reference = ln->reference;
        }
        visit(ctx, &out);
    }
    file_free(&f);
    return e;
}

enum fl_err repayment_import_csv(struct db *db, const struct principal *actor, int64_t fund_id, const char *csv,
                                 size_t len, json_t **report, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL && report != NULL);
    *report = NULL;
    char currency[CURRENCY_CODE_BYTES];
    enum fl_err e = fund_exists(db, fund_id, currency, err);
    if (e != FLE_OK) {
        return e;
    }
    struct rp_file f;
    struct rp_line *lines = NULL;
    e = file_read(csv, len, &f, err);
    if (e != FLE_OK) {
        goto done;
    }
    lines = calloc(REPAYMENT_IMPORT_CHUNK, sizeof *lines);
    if (lines == NULL) {
        e = oom(err);
        goto done;
    }
    /* A chunk's loan load (repayment_load_loans, a few index probes for each of its thousands of
     * loans) is estimated above the cost where PostgreSQL compiles a query (JIT, on by default):
     * compiling took about two thirds of its time (tests/bench/README.md). For the rest of this
     * transaction, as statement_build does. */
    PGresult *jr = db_exec_sql(db, "SET LOCAL jit = off", err);
    if (jr == NULL) {
        e = err->code;
        goto done;
    }
    PQclear(jr);
    struct rp_src *src = f.src, **order = f.order;
    size_t n = f.n, queued = f.queued;
    /* By loan (file order within a loan): each chunk covers a narrow range of loans, whose state
     * loads with range scans; lines of different loans are independent, so their order is free. */
    qsort(order, queued, sizeof *order, cmp_src);
    struct rp_ctx ctx = {.actor = actor, .fund_id = fund_id};
    tranche_today(ctx.today);
    int64_t total = 0;
    /* The usury caps are read once for all the chunks. */
    struct servicing_set caps;
    if ((e = servicing_load_caps(db, &caps, err)) != FLE_OK) {
        servicing_free(&caps);
        goto done;
    }
    ctx.caps = &caps;
    for (size_t at = 0; at < queued && e == FLE_OK; at += REPAYMENT_IMPORT_CHUNK) {
        size_t k = queued - at < REPAYMENT_IMPORT_CHUNK ? queued - at : REPAYMENT_IMPORT_CHUNK;
        e = import_chunk(db, &ctx, order + at, k, lines, &total, err);
    }
    servicing_free(&caps);
    if (e != FLE_OK) {
        goto done;
    }
    json_t *results = json_array();
    int64_t n_applied = 0, n_refused = 0;
    for (size_t i = 0; i < n && results != NULL; i++) {
        const char *st = json_string_value(json_object_get(src[i].result, "status"));
        if (st != NULL && strcmp(st, "applied") == 0) {
            n_applied++;
        } else {
            n_refused++;
        }
        if (json_array_append_new(results, src[i].result) != 0) {
            json_decref(results);
            results = NULL;
        }
        src[i].result = NULL;
    }
    json_t *rep = results ? json_pack("{s:I, s:I, s:I, s:o, s:s, s:o}", "lines", (json_int_t)n, "applied",
                                      (json_int_t)n_applied, "refused", (json_int_t)n_refused, "amount_applied",
                                      jv_amount(total, currency), "currency", currency, "results", results)
                          : NULL;
    if (rep == NULL) {
        e = oom(err);
        goto done;
    }
    char fb[21];
    e = audit_record(db, actor, "repayment.import", "fund", db_i64_text(fund_id, fb), fund_id,
                     json_pack("{s:I, s:I, s:o}", "applied", (json_int_t)n_applied, "refused", (json_int_t)n_refused,
                               "amount_applied", jv_amount(total, currency)),
                     err);
    if (e != FLE_OK) {
        json_decref(rep);
        goto done;
    }
    *report = rep;
done:
    free(lines);
    file_free(&f);
    return e;
}

/* ------------------------------------------------------------------------------------------ */
/* Arrears                                                                                     */

json_t *loan_arrears(struct db *db, int64_t loan_id, const char *as_of, struct fl_error *err)
{
    char today[DATE_TEXT_BYTES];
    const char *d = tranche_as_of(as_of, today, err);
    if (d == NULL) {
        return NULL;
    }
    char lb[21];
    const char *p[2] = {db_i64_text(loan_id, lb), d};
    PGresult *r = db_exec(db, "loan_arrears", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
        return NULL;
    }
    const char *cur = db_str(r, 0, 1);
    json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "loan_id", (json_int_t)loan_id, "as_of", d,
                          "currency", cur, "days_past_due", (json_int_t)db_i64(r, 0, 3), "oldest_unpaid_due_date",
                          db_null(r, 0, 4) ? json_null() : json_string(db_str(r, 0, 4)), "principal_in_arrears",
                          jv_amount(db_i64(r, 0, 5), cur), "interest_in_arrears", jv_amount(db_i64(r, 0, 6), cur),
                          "principal_outstanding", jv_amount(db_i64(r, 0, 2), cur));
    PQclear(r);
    if (o == NULL) {
        oom(err);
    }
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Write-offs and recoveries                                                                  */

/* Posts one entry of n lines (zero amounts skipped) in a currency. */
static enum fl_err post_lines(struct db *db, int64_t fund_id, int64_t posted_by, const char *date, const char *event,
                              int64_t loan_id, const char *memo, const int64_t *accounts, const int64_t *amounts,
                              unsigned n, const char *currency, int64_t *entry_id, struct fl_error *err)
{
    static _Thread_local struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    e.posted_by = posted_by;
    snprintf(e.effective_date, sizeof e.effective_date, "%s", date);
    snprintf(e.event_type, sizeof e.event_type, "%s", event);
    snprintf(e.event_ref, sizeof e.event_ref, "loan:%" PRId64, loan_id);
    snprintf(e.memo, sizeof e.memo, "%s", memo);
    assert(n <= LEDGER_LINES_MAX);
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (amounts[i] != 0) {
            e.lines[k].account_id = accounts[i];
            snprintf(e.lines[k].currency, CURRENCY_CODE_BYTES, "%s", currency);
            e.lines[k].amount_minor = amounts[i];
            k++;
        }
    }
    e.n_lines = k;
    const struct ledger_entry *one = &e;
    return ledger_post(db, &one, 1, entry_id, err);
}

/* The fund's tranches in a currency, most senior first, locked: id, capital (from the ledger),
 * what they absorbed and have not had restored (LOSS debit balance), their LOSS account. */
struct stack {
    size_t n;
    int64_t id[WATERFALL_TRANCHES_MAX], capital[WATERFALL_TRANCHES_MAX], written_down[WATERFALL_TRANCHES_MAX],
        loss_account[WATERFALL_TRANCHES_MAX];
};

static enum fl_err load_stack(struct db *db, int64_t fund_id, const char *currency, bool active_only, struct stack *s,
                              struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), currency};
    PGresult *r = db_exec(db, "repayment_lock_tranches", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    if ((r = db_exec(db, "repayment_tranches", 2, p, err)) == NULL) {
        return err->code;
    }
    s->n = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (active_only && strcmp(db_str(r, i, 2), "active") != 0) {
            continue;
        }
        if (s->n == WATERFALL_TRANCHES_MAX) {
            PQclear(r);
            return fl_error_set(err, FLE_RULE, "fund_id", "more than %d tranches", WATERFALL_TRANCHES_MAX);
        }
        int64_t cap = -db_i64(r, i, 3), loss = db_i64(r, i, 4);
        s->id[s->n] = db_i64(r, i, 0);
        s->capital[s->n] = cap > 0 ? cap : 0;
        s->written_down[s->n] = loss > 0 ? loss : 0;
        s->loss_account[s->n] = db_i64(r, i, 5);
        s->n++;
    }
    PQclear(r);
    if (s->n == 0) {
        return fl_error_set(err, FLE_RULE, "loan_id", "the fund has no %stranche in %s", active_only ? "active " : "",
                            currency);
    }
    return FLE_OK;
}

/* Loads and locks one loan (through the chunk loader). */
static enum fl_err load_one(struct db *db, int64_t loan_id, struct rp_chunk *c, struct rp_loan **l,
                            struct fl_error *err)
{
    struct rp_line ln = {.loan_id = loan_id};
    enum fl_err e = chunk_load(db, c, &ln, 1, err);
    if (e != FLE_OK) {
        return e;
    }
    *l = find_loan(c, loan_id);
    if (*l == NULL) {
        return fl_error_set(err, FLE_NOT_FOUND, "loan_id", "no loan %" PRId64, loan_id);
    }
    return FLE_OK;
}

static enum fl_err check_value_date(const char *value_date, const char *not_before, const char *what,
                                    struct fl_error *err)
{
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    if (value_date == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "value_date", "required");
    }
    if (!ledger_date_valid(value_date) || strcmp(value_date, today) > 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "value_date", "a date YYYY-MM-DD, not in the future");
    }
    if (not_before[0] == '\0' || strcmp(value_date, not_before) < 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "value_date", "before the loan's %s (%s)", what,
                            not_before[0] ? not_before : "none");
    }
    return FLE_OK;
}

json_t *writeoff_propose(struct db *db, const struct principal *maker, int64_t loan_id, const char *amount,
                         const char *value_date, const char *reason, struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL);
    struct rp_chunk c;
    struct rp_loan *l = NULL;
    json_t *res = NULL;
    int64_t minor = 0;
    if (load_one(db, loan_id, &c, &l, err) != FLE_OK) {
        goto done;
    }
    /* Capitalised interest counts once posted (a repayment posts what is due by its date). */
    int64_t outstanding = l->drawn + l->cap_posted - l->repaid - l->written_off;
    if (strcmp(l->status, "active") != 0) {
        fl_error_set(err, FLE_CONFLICT, "loan_id", "only an active loan is written off; loan %" PRId64 " is %s",
                     loan_id, l->status);
        goto done;
    }
    if (amount == NULL) {
        minor = outstanding;
        if (minor <= 0) {
            fl_error_set(err, FLE_RULE, "amount", "nothing is outstanding on loan %" PRId64, loan_id);
            goto done;
        }
    } else {
        money_status ms = money_parse_amount(amount, l->exponent, &minor);
        if (ms != MONEY_OK || minor == 0) {
            fl_error_set(err, FLE_BAD_FIELD, "amount", "%s",
                         ms != MONEY_OK ? money_status_text(ms) : "must be more than zero");
            goto done;
        }
        if (minor > outstanding) {
            char ob[MONEY_TEXT_MAX];
            money_format(outstanding, l->exponent, ob, sizeof ob);
            fl_error_set(err, FLE_RULE, "amount", "above the principal outstanding (%s %s)", ob, l->currency);
            goto done;
        }
    }
    if (check_value_date(value_date, l->first_disbursement, "first disbursement", err) != FLE_OK) {
        goto done;
    }
    if (reason == NULL || reason[0] == '\0') {
        fl_error_set(err, FLE_MISSING_FIELD, "reason", "a write-off needs a reason");
        goto done;
    }
    if (strlen(reason) > REASON_BYTES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "reason", "at most %d characters", REASON_BYTES_MAX);
        goto done;
    }
    json_t *payload = json_pack("{s:I, s:o, s:s, s:s}", "loan_id", (json_int_t)loan_id, "amount",
                                jv_amount(minor, l->currency), "value_date", value_date, "reason", reason);
    if (payload == NULL) {
        oom(err);
        goto done;
    }
    res = approval_propose(db, maker, l->fund_id, "write_off", payload, minor, l->currency, err);
    if (res != NULL) {
        json_object_set_new(res, "loan_id", json_integer(loan_id));
    }
done:
    chunk_free(&c);
    return res;
}

/* The loan's loss allowance used by a write-off of `loss` (docs/fund-operations.md, "Write-off:
 * the allowance is used first"): appends Dr 1190 and Cr T.ALLOWANCE top-down (most senior share
 * first) to acc/amt at *k. Nothing when the loan holds no allowance. */
static enum fl_err writeoff_use_allowance(struct db *db, int64_t fund_id, int64_t loan_id, const char *currency,
                                          int64_t loss, int64_t *acc, int64_t *amt, unsigned *k,
                                          struct fl_error *err)
{
    char fb[21], lb[21];
    const char *ph[2] = {db_i64_text(fund_id, fb), db_i64_text(loan_id, lb)};
    PGresult *r = db_exec(db, "writeoff_allowance_held", 2, ph, err);
    if (r == NULL) {
        return err->code;
    }
    int64_t held = db_i64(r, 0, 0), b1190 = db_null(r, 0, 1) ? 0 : db_i64(r, 0, 1);
    PQclear(r);
    if (held <= 0 || b1190 == 0) {
        return FLE_OK;
    }
    const char *pt[2] = {fb, currency};
    if ((r = db_exec(db, "writeoff_allowance_tranches", 2, pt, err)) == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    int64_t on_books = 0;
    for (int i = 0; i < n; i++) {
        int64_t b = db_i64(r, i, 1);
        on_books += b > 0 ? b : 0;
    }
    int64_t used = 0, extra = 0;
    if (provision_write_off(loss, held < on_books ? held : on_books, &used, &extra) != PROVISION_OK) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot use the allowance of loan %" PRId64, loan_id);
    }
    if (used > 0 && n > WATERFALL_TRANCHES_MAX) {
        PQclear(r);
        return fl_error_set(err, FLE_INTERNAL, NULL, "too many tranches carry an allowance");
    }
    int64_t left = used;
    for (int i = 0; i < n && left > 0; i++) {
        int64_t b = db_i64(r, i, 1);
        int64_t take = b <= 0 ? 0 : b < left ? b : left;
        if (take > 0) {
            acc[*k] = db_i64(r, i, 0);
            amt[(*k)++] = -take;
            left -= take;
        }
    }
    PQclear(r);
    assert(left == 0);
    if (used > 0) {
        acc[*k] = b1190;
        amt[(*k)++] = used;
    }
    return FLE_OK;
}

enum fl_err writeoff_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                             int64_t *entry_id, struct fl_error *err)
{
    int64_t loan_id = json_integer_value(json_object_get(p->payload, "loan_id"));
    const char *amount_text = json_string_value(json_object_get(p->payload, "amount"));
    const char *value_date = json_string_value(json_object_get(p->payload, "value_date"));
    const char *reason = json_string_value(json_object_get(p->payload, "reason"));
    struct rp_chunk c;
    struct rp_loan *l = NULL;
    int64_t amount = 0;
    enum fl_err e = load_one(db, loan_id, &c, &l, err);
    if (e != FLE_OK) {
        goto done;
    }
    if (amount_text == NULL || money_parse(amount_text, l->exponent, false, &amount) != MONEY_OK) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "write-off proposal %" PRId64 " has no readable amount", p->id);
        goto done;
    }
    int64_t outstanding = l->drawn + l->cap_posted - l->repaid - l->written_off;
    if (strcmp(l->status, "active") != 0) {
        e = fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " is now %s", loan_id, l->status);
        goto done;
    }
    if (amount <= 0 || amount > outstanding) {
        char ob[MONEY_TEXT_MAX];
        money_format(outstanding, l->exponent, ob, sizeof ob);
        e = fl_error_set(err, FLE_RULE, "amount", "the loan now has %s %s outstanding", ob, l->currency);
        goto done;
    }
    if ((e = check_value_date(value_date, l->first_disbursement, "first disbursement", err)) != FLE_OK) {
        goto done;
    }
    int64_t parts[LOAN_FUNDING_MAX];
    struct stack s;
    if (!step_split(l, l->repaid + l->written_off, l->repaid + l->written_off + amount, parts)) {
        e = fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " has no funding shares", loan_id);
        goto done;
    }
    /* The fund first (as a provision run takes it): the allowance used is read from a settled run. */
    struct fund_settings fs;
    if ((e = fund_lock(db, l->fund_id, &fs, err)) != FLE_OK ||
        (e = load_stack(db, l->fund_id, l->currency, true, &s, err)) != FLE_OK) {
        goto done;
    }
    int64_t absorbed[WATERFALL_TRANCHES_MAX], unabsorbed = 0;
    if (waterfall_allocate_loss(amount, s.capital, s.n, absorbed, &unabsorbed) != WATERFALL_OK) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot allocate the loss");
        goto done;
    }
    int64_t acc[LOAN_FUNDING_MAX + 2 * WATERFALL_TRANCHES_MAX + 2],
        amt[LOAN_FUNDING_MAX + 2 * WATERFALL_TRANCHES_MAX + 2];
    _Static_assert(LOAN_FUNDING_MAX + 2 * WATERFALL_TRANCHES_MAX + 2 <= LEDGER_LINES_MAX, "write-off lines");
    unsigned k = 0;
    for (unsigned i = 0; i < l->n_funding; i++) {
        if (parts[i] != 0) {
            acc[k] = l->loans_account[i];
            amt[k++] = -parts[i];
        }
    }
    for (size_t i = 0; i < s.n; i++) {
        acc[k] = s.loss_account[i];
        amt[k++] = absorbed[i];
    }
    if (unabsorbed > 0) {
        if ((e = fund_account_by_code(db, l->fund_id, "5100", &acc[k], err)) != FLE_OK) {
            goto done;
        }
        amt[k++] = unabsorbed;
    }
    /* The loan's allowance is used first, in the same entry. */
    if ((e = writeoff_use_allowance(db, l->fund_id, loan_id, l->currency, amount, acc, amt, &k, err)) != FLE_OK) {
        goto done;
    }
    if ((e = post_lines(db, l->fund_id, approver->user_id, value_date, "write_off", loan_id, "loan written off", acc,
                        amt, k, l->currency, entry_id, err)) != FLE_OK) {
        goto done;
    }
    bool all = amount == outstanding;
    char lb[21], ab[21], pb[21], eb[21];
    const char *pw[5] = {db_i64_text(loan_id, lb), db_i64_text(amount, ab), value_date, db_i64_text(p->id, pb),
                         db_i64_text(*entry_id, eb)};
    PGresult *r = db_exec(db, "writeoff_insert", 5, pw, err);
    if (r == NULL) {
        e = err->code;
        goto done;
    }
    PQclear(r);
    const char *pu[3] = {lb, ab, all ? "true" : "false"};
    if ((r = db_exec_rows(db, "writeoff_loan_update", 3, pu, 1, err)) == NULL) {
        e = err->code;
        goto done;
    }
    PQclear(r);
    if (all) {
        /* Capitalisation not posted by now is never recognised (docs/loan-servicing.md §3). */
        char arr[32];
        snprintf(arr, sizeof arr, "{%" PRId64 "}", loan_id);
        const char *pc[1] = {arr};
        if ((r = db_exec(db, "repayment_drop_capitalisation", 1, pc, err)) == NULL) {
            e = err->code;
            goto done;
        }
        PQclear(r);
        e = pipeline_move_system(db, approver, l->entrepreneur_id, "written_off", reason, err);
    }
done:
    chunk_free(&c);
    return e;
}

json_t *recovery_record(struct db *db, const struct principal *actor, int64_t loan_id, const char *amount,
                        const char *value_date, const char *reference, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    struct rp_chunk c;
    struct rp_loan *l = NULL;
    json_t *res = NULL;
    int64_t minor = 0;
    if (load_one(db, loan_id, &c, &l, err) != FLE_OK) {
        goto done;
    }
    if (l->written_off == 0) {
        fl_error_set(err, FLE_CONFLICT, "loan_id",
                     "recoveries are recorded on a written-off loan; loan %" PRId64 " has nothing written off",
                     loan_id);
        goto done;
    }
    money_status ms = amount ? money_parse_amount(amount, l->exponent, &minor) : MONEY_ERR_EMPTY;
    if (ms != MONEY_OK || minor == 0) {
        fl_error_set(err, amount ? FLE_BAD_FIELD : FLE_MISSING_FIELD, "amount", "%s",
                     ms != MONEY_OK ? money_status_text(ms) : "must be more than zero");
        goto done;
    }
    if (check_value_date(value_date, l->first_write_off, "first write-off", err) != FLE_OK) {
        goto done;
    }
    if (reference == NULL || reference[0] == '\0' || strlen(reference) > REPAYMENT_REFERENCE_BYTES_MAX) {
        fl_error_set(err, reference ? FLE_BAD_FIELD : FLE_MISSING_FIELD, "reference", "1 to %d characters",
                     REPAYMENT_REFERENCE_BYTES_MAX);
        goto done;
    }
    struct stack s;
    if (load_stack(db, l->fund_id, l->currency, false, &s, err) != FLE_OK) {
        goto done;
    }
    int64_t restored[WATERFALL_TRANCHES_MAX], excess = 0;
    if (waterfall_allocate_recovery(minor, s.written_down, s.n, restored, &excess) != WATERFALL_OK) {
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot allocate the recovery");
        goto done;
    }
    int64_t acc[WATERFALL_TRANCHES_MAX + 2], amt[WATERFALL_TRANCHES_MAX + 2];
    unsigned k = 0;
    if (fund_account_by_code(db, l->fund_id, "1050", &acc[k], err) != FLE_OK) {
        goto done;
    }
    amt[k++] = minor;
    for (size_t i = 0; i < s.n; i++) {
        acc[k] = s.loss_account[i];
        amt[k++] = -restored[i];
    }
    if (excess > 0) {
        if (fund_account_by_code(db, l->fund_id, "4000", &acc[k], err) != FLE_OK) {
            goto done;
        }
        amt[k++] = -excess;
    }
    int64_t entry_id = 0;
    if (post_lines(db, l->fund_id, actor->user_id, value_date, "recovery", loan_id, "recovery on a written-off loan",
                   acc, amt, k, l->currency, &entry_id, err) != FLE_OK) {
        goto done;
    }
    char lb[21], ab[21], eb[21], ub[21];
    const char *pr[6] = {db_i64_text(loan_id, lb),  db_i64_text(minor, ab),         value_date, reference,
                         db_i64_text(entry_id, eb), db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec(db, "recovery_insert", 6, pr, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "reference", "loan %" PRId64 " already has a recovery with this reference",
                         loan_id);
        }
        goto done;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char ib[21];
    if (audit_record(db, actor, "recovery.record", "recovery", db_i64_text(id, ib), l->fund_id,
                     json_pack("{s:I, s:o}", "loan_id", (json_int_t)loan_id, "amount", jv_amount(minor, l->currency)),
                     err) != FLE_OK) {
        goto done;
    }
    json_t *tr = json_array();
    for (size_t i = 0; i < s.n; i++) {
        if (restored[i] > 0) {
            json_array_append_new(tr, json_pack("{s:I, s:o}", "tranche_id", (json_int_t)s.id[i], "amount",
                                                jv_amount(restored[i], l->currency)));
        }
    }
    res = json_pack("{s:I, s:I, s:s, s:o, s:s, s:s, s:I, s:o, s:o}", "id", (json_int_t)id, "loan_id",
                    (json_int_t)loan_id, "currency", l->currency, "amount", jv_amount(minor, l->currency), "value_date",
                    value_date, "reference", reference, "entry_id", (json_int_t)entry_id, "restored", tr, "income",
                    jv_amount(excess, l->currency));
    if (res == NULL) {
        oom(err);
    }
done:
    chunk_free(&c);
    return res;
}

/* ------------------------------------------------------------------------------------------ */
/* Payoff quote and reads                                                                      */

struct payoff_call {
    int64_t loan_id;
    const char *date;
    json_t *out;
};

/* The payoff quote by the accrual engine: accrual_loan_due on the replayed state, the very figures
 * accrual_loan_pay allocates a payment of that amount from (docs/loan-servicing.md §7). */
static enum fl_err engine_payoff(struct rp_chunk *c, const struct rp_loan *l, const char *date, json_t **out,
                                 struct fl_error *err)
{
    rate_date d;
    if (!ledger_date_parse(date, &d)) {
        return fl_error_set(err, FLE_BAD_PARAM, "date", "a date YYYY-MM-DD");
    }
    if (rate_date_to_days(d) < rate_date_to_days(c->acc->clock)) {
        return fl_error_set(err, FLE_BAD_PARAM, "date", "before the loan's latest recorded event (%04d-%02d-%02d)",
                            c->acc->clock.y, c->acc->clock.m, c->acc->clock.d);
    }
    int64_t due[ACCRUAL_BUCKETS], payoff = 0;
    accrual_status st = accrual_loan_due(c->acc, d, due, &payoff);
    if (st == ACCRUAL_ERR_NO_CAP) {
        return fl_error_set(err, FLE_RULE, "date",
                            "default interest runs over a day with no usury cap recorded for the loan's modality");
    }
    if (st != ACCRUAL_OK) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "the payoff of loan %" PRId64 ": %s", l->id,
                            accrual_status_text(st));
    }
    /* Principal outstanding and capitalised interest as of the date (a copy advanced to it). */
    struct accrual_loan *copy = malloc(sizeof *copy);
    if (copy == NULL) {
        return oom(err);
    }
    memcpy(copy, c->acc, sizeof *copy);
    st = accrual_loan_advance(copy, d);
    int64_t outstanding = accrual_loan_outstanding(copy), capitalised = copy->capitalised_minor;
    free(copy);
    if (st != ACCRUAL_OK) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "the payoff of loan %" PRId64 ": %s", l->id,
                            accrual_status_text(st));
    }
    const char *cur = l->currency;
    *out = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "loan_id", (json_int_t)l->id,
                     "date", date, "currency", cur, "payoff", jv_amount(payoff, cur), "fees",
                     jv_amount(due[ACCRUAL_BUCKET_FEES], cur), "default_interest",
                     jv_amount(due[ACCRUAL_BUCKET_DEFAULT_INTEREST], cur), "overdue_interest",
                     jv_amount(due[ACCRUAL_BUCKET_OVERDUE_INTEREST], cur), "overdue_principal",
                     jv_amount(due[ACCRUAL_BUCKET_OVERDUE_PRINCIPAL], cur), "current_interest",
                     jv_amount(due[ACCRUAL_BUCKET_CURRENT_INTEREST], cur), "current_principal",
                     jv_amount(due[ACCRUAL_BUCKET_CURRENT_PRINCIPAL], cur), "prepayment",
                     jv_amount(due[ACCRUAL_BUCKET_PREPAYMENT], cur), "principal_outstanding",
                     jv_amount(outstanding, cur), "capitalised_interest", jv_amount(capitalised, cur));
    return *out != NULL ? FLE_OK : oom(err);
}

/* The quote: what repayment_allocate owes on the date, allocated as a payment of exactly that
 * amount would be (on copies of the instalments: nothing changes). */
static enum fl_err payoff_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct payoff_call *q = arg;
    struct rp_chunk c;
    struct rp_loan *l = NULL;
    struct repayment_instalment *copy = NULL;
    static _Thread_local struct repayment_allocation a;
    enum fl_err e = load_one(db, q->loan_id, &c, &l, err);
    if (e != FLE_OK) {
        goto done;
    }
    if (strcmp(l->status, "active") != 0) {
        e = fl_error_set(err, FLE_CONFLICT, "loan_id", "loan %" PRId64 " is %s: nothing to pay off", l->id, l->status);
        goto done;
    }
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    const char *date = q->date ? q->date : today;
    int64_t vdays = 0;
    if (!date_days(date, &vdays)) {
        e = fl_error_set(err, FLE_BAD_PARAM, "date", "a date YYYY-MM-DD");
        goto done;
    }
    if (strcmp(date, l->first_disbursement) < 0) {
        e = fl_error_set(err, FLE_BAD_PARAM, "date", "before the loan's first disbursement (%s)",
                         l->first_disbursement);
        goto done;
    }
    if (strcmp(date, l->last_charge) < 0) { /* a payment that day would be refused too */
        e = fl_error_set(err, FLE_BAD_PARAM, "date", "before the loan's latest charge (%s)", l->last_charge);
        goto done;
    }
    bool usable = false;
    if ((e = engine_state(&c, l, &usable, err)) != FLE_OK) {
        goto done;
    }
    if (usable) {
        e = engine_payoff(&c, l, date, &q->out, err);
        goto done;
    }
    int64_t cap_due = 0;
    for (size_t k = 0; k < l->cap_n; k++) {
        const struct rp_cap *x = &c.caps[l->cap_at + k];
        cap_due += x->due_days <= vdays ? x->amount_minor : 0;
    }
    int64_t outstanding = l->drawn - l->repaid - l->written_off + cap_due;
    copy = malloc((l->inst_n ? l->inst_n : 1) * sizeof *copy);
    if (copy == NULL) {
        e = oom(err);
        goto done;
    }
    int64_t owed = 0;
    memcpy(copy, &c.inst[l->inst_at], l->inst_n * sizeof *copy);
    int64_t fees_due = l->fee + l->charges - l->fees_paid > 0 ? l->fee + l->charges - l->fees_paid : 0;
    repayment_alloc_status st =
        repayment_allocate_fees(INT64_MAX, vdays, outstanding, fees_due, copy, l->inst_n, &a, &owed);
    memset(&a, 0, sizeof a);
    if (st == REPAYMENT_ALLOC_INVALID) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "the schedule of loan %" PRId64 " is inconsistent", l->id);
        goto done;
    }
    if (owed > 0) {
        memcpy(copy, &c.inst[l->inst_at], l->inst_n * sizeof *copy);
        if (repayment_allocate_fees(owed, vdays, outstanding, fees_due, copy, l->inst_n, &a, NULL) !=
            REPAYMENT_ALLOC_OK) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "the payoff of loan %" PRId64 " does not allocate", l->id);
            goto done;
        }
    }
    q->out = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "loan_id", (json_int_t)l->id, "date", date, "currency",
                       l->currency, "payoff", jv_amount(owed, l->currency), "principal_outstanding",
                       jv_amount(outstanding, l->currency), "capitalised_interest", jv_amount(cap_due, l->currency));
    if (q->out == NULL) {
        e = oom(err);
        goto done;
    }
    for (int b = 0; b < WATERFALL_BUCKETS; b++) {
        json_object_set_new(q->out, bucket_cols[b], jv_amount(a.bucket_minor[b], l->currency));
    }
    json_object_set_new(q->out, "prepayment", jv_amount(a.prepayment_minor, l->currency));
    json_object_set_new(q->out, "default_interest", jv_amount(0, l->currency));
done:
    free(copy);
    chunk_free(&c);
    return e;
}

json_t *loan_payoff(struct db *db, int64_t loan_id, const char *date, struct fl_error *err)
{
    struct payoff_call q = {loan_id, date, NULL};
    enum fl_err e = db_in_tx(db) ? payoff_tx(db, &q, err) : db_tx(db, payoff_tx, &q, err);
    if (e != FLE_OK) {
        json_decref(q.out);
        return NULL;
    }
    return q.out;
}

json_t *repayment_list(struct db *db, int64_t loan_id, struct fl_error *err)
{
    char cur[CURRENCY_CODE_BYTES];
    if (loan_currency(db, loan_id, cur, err) != FLE_OK) {
        return NULL;
    }
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = NULL;
    PGresult *ra = NULL, *rt = NULL;
    json_t *list = NULL;
    if ((r = db_exec(db, "repayment_list", 1, p, err)) == NULL ||
        (ra = db_exec(db, "repayment_list_allocations", 1, p, err)) == NULL ||
        (rt = db_exec(db, "repayment_list_tranches", 1, p, err)) == NULL) {
        goto done;
    }
    list = json_array();
    int ia = 0, it = 0;
    for (int i = 0; list != NULL && i < PQntuples(r); i++) {
        int64_t id = db_i64(r, i, 0);
        json_t *o =
            json_pack("{s:I, s:o, s:s, s:s, s:I, s:s}", "id", (json_int_t)id, "amount", jv_amount(db_i64(r, i, 1), cur),
                      "value_date", db_str(r, i, 2), "reference", db_str(r, i, 3), "entry_id",
                      (json_int_t)db_i64(r, i, 10), "created_at", db_str(r, i, 11));
        for (int b = 0; b < WATERFALL_BUCKETS; b++) {
            json_object_set_new(o, bucket_cols[b], jv_amount(db_i64(r, i, 4 + b), cur));
        }
        json_object_set_new(o, "prepayment", jv_amount(db_i64(r, i, 9), cur));
        json_object_set_new(o, "default_interest", jv_amount(db_i64(r, i, 12), cur));
        json_object_set_new(o, "prepayment_choice", json_string(db_str(r, i, 13)));
        json_t *al = json_array();
        for (; ia < PQntuples(ra) && db_i64(ra, ia, 0) == id; ia++) {
            json_array_append_new(al, json_pack("{s:I, s:s, s:o}", "instalment_no", (json_int_t)db_i64(ra, ia, 1),
                                                "component", db_str(ra, ia, 2), "amount",
                                                jv_amount(db_i64(ra, ia, 3), cur)));
        }
        json_t *tr = json_array();
        for (; it < PQntuples(rt) && db_i64(rt, it, 0) == id; it++) {
            json_array_append_new(tr, json_pack("{s:I, s:o}", "tranche_id", (json_int_t)db_i64(rt, it, 1), "principal",
                                                jv_amount(db_i64(rt, it, 2), cur)));
        }
        json_object_set_new(o, "allocations", al);
        json_object_set_new(o, "tranches", tr);
        json_array_append_new(list, o);
    }
done:
    PQclear(r);
    PQclear(ra);
    PQclear(rt);
    if (list == NULL) {
        return NULL;
    }
    return json_pack("{s:I, s:s, s:o}", "loan_id", (json_int_t)loan_id, "currency", cur, "repayments", list);
}

json_t *loan_accruals(struct db *db, int64_t loan_id, struct fl_error *err)
{
    char cur[CURRENCY_CODE_BYTES];
    if (loan_currency(db, loan_id, cur, err) != FLE_OK) {
        return NULL;
    }
    char lb[21];
    const char *p[1] = {db_i64_text(loan_id, lb)};
    PGresult *r = NULL;
    PGresult *rt = NULL;
    json_t *list = NULL;
    if ((r = db_exec(db, "accrual_list", 1, p, err)) == NULL ||
        (rt = db_exec(db, "accrual_list_tranches", 1, p, err)) == NULL) {
        goto done;
    }
    list = json_array();
    int it = 0;
    for (int i = 0; list != NULL && i < PQntuples(r); i++) {
        int64_t id = db_i64(r, i, 0), o = db_i64(r, i, 2), d = db_i64(r, i, 3), ot = db_i64(r, i, 4),
                dt = db_i64(r, i, 5);
        json_t *x = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:s}", "id", (json_int_t)id,
                              "accrual_date", db_str(r, i, 1), "ordinary_interest", jv_amount(o, cur),
                              "default_interest", jv_amount(d, cur), "amount", jv_amount(o + d, cur), "ordinary_total",
                              jv_amount(ot, cur), "default_total", jv_amount(dt, cur), "total",
                              jv_amount(ot + dt, cur), "entry_id", (json_int_t)db_i64(r, i, 6), "created_at",
                              db_str(r, i, 7));
        json_t *tr = json_array();
        for (; it < PQntuples(rt) && db_i64(rt, it, 0) == id; it++) {
            json_array_append_new(tr, json_pack("{s:I, s:o}", "tranche_id", (json_int_t)db_i64(rt, it, 1), "amount",
                                                jv_amount(db_i64(rt, it, 2), cur)));
        }
        if (x == NULL || tr == NULL || json_object_set_new(x, "tranches", tr) != 0 ||
            json_array_append_new(list, x) != 0) {
            json_decref(list);
            list = NULL;
            oom(err);
        }
    }
done:
    PQclear(r);
    PQclear(rt);
    if (list == NULL) {
        return NULL;
    }
    return json_pack("{s:I, s:s, s:o}", "loan_id", (json_int_t)loan_id, "currency", cur, "accruals", list);
}

/* ------------------------------------------------------------------------------------------ */
/* Month-end close                                                                             */

/* Posts, one entry each per loan, the accruals to date of loans[0..n) on the accrual basis
 * (post_accruals), then the capitalisations due by date and not posted yet as repayments post
 * them (build_cap_entry); *posted += entries. */
static enum fl_err close_chunk(struct db *db, const struct rp_ctx *ctx, const int64_t *loans, size_t n,
                               const char *date, unsigned *posted, struct fl_error *err)
{
    int64_t vdays = 0;
    bool ok = date_days(date, &vdays);
    assert(ok);
    (void)ok;
    struct rp_line *lines = calloc(n ? n : 1, sizeof *lines);
    struct ledger_entry *entries = malloc((n ? n : 1) * sizeof *entries);
    const struct ledger_entry **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    struct db_array cp[3];
    for (int q = 0; q < 3; q++) {
        db_array_init(&cp[q]);
    }
    struct rp_chunk c;
    memset(&c, 0, sizeof c);
    PGresult *r = NULL;
    enum fl_err e = FLE_OK;
    if (lines == NULL || entries == NULL || ptrs == NULL || ids == NULL) {
        e = oom(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        lines[i].loan_id = loans[i];
        lines[i].value_date = date;
    }
    if ((e = chunk_load_opt(db, &c, lines, n, false, err)) != FLE_OK) {
        goto done;
    }
    rate_date d;
    ok = ledger_date_parse(date, &d);
    assert(ok);
    size_t k = 0;
    for (size_t i = 0; i < n && e == FLE_OK; i++) {
        struct rp_line *ln = &lines[i];
        struct rp_loan *l = find_loan(&c, ln->loan_id);
        if (l == NULL || strcmp(l->status, "active") != 0) {
            continue;
        }
        ln->loan = l;
        /* A loan on the accrual basis: its accrual to the date first (§9), unless an event
         * after the date is recorded (that event accrued to its own, later date). */
        bool usable = false;
        if ((e = engine_state(&c, l, &usable, err)) != FLE_OK) {
            break;
        }
        if (usable) {
            int64_t co = 0, cd = 0;
            cleared_totals(c.acc, l, &co, &cd);
            ln->recv = true;
            ln->clear_before = co + cd;
            if (rate_date_to_days(d) >= rate_date_to_days(c.acc->clock)) {
                accrual_status st = accrual_to(c.acc, l, d, date, ln);
                if (st == ACCRUAL_ERR_NO_CAP) {
                    e = fl_error_set(err, FLE_RULE, "date",
                                     "loan %" PRId64 " earns default interest over a day with no usury cap recorded "
                                     "for its modality: record the cap in force (usury_rate) before the close",
                                     l->id);
                    break;
                }
                if (st != ACCRUAL_OK) {
                    e = fl_error_set(err, FLE_CONFLICT, "fund_id", "loan %" PRId64 " cannot accrue to %s: %s", l->id,
                                     date, accrual_status_text(st));
                    break;
                }
                accrual_commit(l, ln);
                ln->applied = ln->acr;
            }
        }
        ln->lent_before = l->drawn + l->cap_posted;
        for (size_t q = 0; q < l->cap_n; q++) {
            struct rp_cap *x = &c.caps[l->cap_at + q];
            if (x->due_days <= vdays && !x->posted) {
                x->posted = true;
                if (ln->capp_n == 0) {
                    ln->capp_at = l->cap_at + q;
                }
                ln->capp_n++;
                ln->cap_post += x->amount_minor;
            }
        }
        if (ln->cap_post == 0) {
            continue;
        }
        l->cap_posted += ln->cap_post;
        e = build_cap_entry(db, &c, ctx, ln, &entries[k], err);
        ptrs[k] = &entries[k];
        k++;
    }
    if (e != FLE_OK || (e = post_accruals(db, &c, ctx, lines, n, posted, err)) != FLE_OK || k == 0 ||
        (e = ledger_post(db, ptrs, (unsigned)k, ids, err)) != FLE_OK) {
        goto done;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].cap_post == 0) {
            continue;
        }
        for (size_t q = 0; q < lines[i].capp_n; q++) {
            db_array_i64(&cp[0], lines[i].loan_id);
            db_array_i64(&cp[1], c.caps[lines[i].capp_at + q].no);
            db_array_i64(&cp[2], ids[j]);
        }
        j++;
    }
    const char *pc[3] = {db_array_str(&cp[0]), db_array_str(&cp[1]), db_array_str(&cp[2])};
    if (!pc[0] || !pc[1] || !pc[2]) {
        e = oom(err);
        goto done;
    }
    if ((r = db_exec_rows(db, "repayment_post_capitalisation", 3, pc, 1, err)) == NULL) {
        e = err->code;
        goto done;
    }
    if (db_i64(r, 0, 0) != (int64_t)cp[0].n) {
        e = fl_error_set(err, FLE_CONFLICT, "fund_id", "capitalisation posted concurrently");
        goto done;
    }
    *posted += (unsigned)k;
done:
    PQclear(r);
    chunk_free(&c);
    for (int q = 0; q < 3; q++) {
        db_array_free(&cp[q]);
    }
    free(lines);
    free(entries);
    free(ptrs);
    free(ids);
    return e;
}

json_t *loan_close_period(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                          struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL);
    char today[DATE_TEXT_BYTES];
    tranche_today(today);
    int64_t days = 0;
    if (date == NULL) {
        fl_error_set(err, FLE_MISSING_FIELD, "date", "required");
        return NULL;
    }
    if (!date_days(date, &days) || strcmp(date, today) > 0) {
        fl_error_set(err, FLE_BAD_FIELD, "date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), date};
    PGresult *r = db_exec(db, "close_lock_fund", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    bool found = PQntuples(r) == 1;
    PQclear(r);
    if (!found) {
        fl_error_set(err, FLE_NOT_FOUND, "fund_id", "no fund %" PRId64, fund_id);
        return NULL;
    }
    if ((r = db_exec_rows(db, "close_last", 2, p, 1, err)) == NULL) {
        return NULL;
    }
    char last[DATE_TEXT_BYTES];
    snprintf(last, sizeof last, "%s", db_str(r, 0, 0));
    int64_t same = db_i64(r, 0, 1);
    PQclear(r);
    if (same >= 0) {
        /* Closed already on this date: nothing more is posted. */
        return json_pack("{s:I, s:s, s:I, s:b}", "fund_id", (json_int_t)fund_id, "close_date", date, "entries",
                         (json_int_t)same, "already_closed", 1);
    }
    if (last[0] != '\0' && strcmp(date, last) < 0) {
        fl_error_set(err, FLE_RULE, "date", "before the fund's last close (%s)", last);
        return NULL;
    }
    if ((r = db_exec(db, "close_loans", 2, p, err)) == NULL) {
        return NULL;
    }
    size_t n = (size_t)PQntuples(r);
    int64_t *loans = malloc((n ? n : 1) * sizeof *loans);
    if (loans == NULL) {
        PQclear(r);
        oom(err);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        loans[i] = db_i64(r, (int)i, 0);
    }
    PQclear(r);
    struct rp_ctx ctx = {.actor = actor, .fund_id = fund_id};
    snprintf(ctx.today, sizeof ctx.today, "%s", today);
    unsigned posted = 0;
    enum fl_err e = FLE_OK;
    for (size_t at = 0; at < n && e == FLE_OK; at += REPAYMENT_IMPORT_CHUNK) {
        size_t m = n - at < REPAYMENT_IMPORT_CHUNK ? n - at : REPAYMENT_IMPORT_CHUNK;
        e = close_chunk(db, &ctx, loans + at, m, date, &posted, err);
    }
    free(loans);
    if (e != FLE_OK) {
        return NULL;
    }
    /* Fund-level steps, once the loans' postings are made and before the close is recorded (same
     * transaction, same date): the loss allowance, then the NAV allocation (navalloc.h). Each
     * entry they hold for the date counts in `entries`. */
    json_t *steps = fund_close_steps(db, actor, fund_id, date, err);
    if (steps == NULL) {
        return NULL;
    }
    static const char *const step_names[] = {"provision", "allocation"};
    for (size_t k = 0; k < sizeof step_names / sizeof step_names[0]; k++) {
        json_t *step = json_object_get(steps, step_names[k]);
        if (json_is_integer(json_object_get(step, "entry_id"))) {
            posted++;
        }
    }
    char nb[21], ub[21];
    const char *pi[4] = {fb, date, db_i64_text((int64_t)posted, nb), db_i64_text(actor->user_id, ub)};
    if ((r = db_exec(db, "close_insert", 4, pi, err)) == NULL) {
        json_decref(steps);
        return NULL;
    }
    PQclear(r);
    return json_pack("{s:I, s:s, s:I, s:b, s:o}", "fund_id", (json_int_t)fund_id, "close_date", date, "entries",
                     (json_int_t)posted, "already_closed", 0, "fund_accounting", steps);
}
