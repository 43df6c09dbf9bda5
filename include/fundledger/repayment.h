/* repayment: cash received on loans (one by one or a bank statement in CSV), its allocation
 * inside the loan, days past due and arrears, write-offs (four eyes) and recoveries. */
#ifndef FUNDLEDGER_REPAYMENT_H
#define FUNDLEDGER_REPAYMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/schedule.h"
#include "fundledger/waterfall.h"

/* Limits of the CSV import. A bank statement of the fund's whole portfolio for a month is a
 * few tens of thousands of lines; 200000 leaves room and bounds the report. A line is four
 * short fields; 1024 bytes refuses binary garbage early. */
#define REPAYMENT_IMPORT_LINES_MAX 200000
#define REPAYMENT_IMPORT_LINE_BYTES_MAX 1024
/* Lines computed and written together (one savepoint, one statement per table): large enough
 * that round trips vanish, small enough that a chunk's entries (about 2.4 kB each) stay a few MB. */
#define REPAYMENT_IMPORT_CHUNK 4000
_Static_assert(REPAYMENT_IMPORT_CHUNK <= LEDGER_BATCH_ENTRIES_MAX, "one ledger_post per chunk");
/* A reference is what the bank statement says; the table CHECKs the same length. */
#define REPAYMENT_REFERENCE_BYTES_MAX 200

/* ---- pure allocation (no database), exported for the unit tests ---- */

/* One instalment of a stored schedule with what was paid on it so far. */
struct repayment_instalment {
    int no;
    int64_t due_days;             /* due date as days since 1970-01-01 (rate_date_to_days) */
    int64_t principal_minor;      /* scheduled */
    int64_t interest_minor;       /* scheduled */
    int64_t principal_paid_minor; /* sum of repayment_allocation so far */
    int64_t interest_paid_minor;
};

/* Where a payment went: per bucket (waterfall.h order: fees, overdue interest, overdue
 * principal, current interest, current principal), the prepayment, and per instalment and
 * component (overdue oldest first, then the current instalment, then the prepayment from the
 * last instalment backwards). */
struct repayment_allocation {
    int64_t bucket_minor[WATERFALL_BUCKETS];
    int64_t prepayment_minor;
    int64_t principal_minor; /* overdue + current principal + prepayment */
    int64_t interest_minor;  /* overdue + current interest */
    unsigned n;
    struct {
        int no;
        bool principal; /* false: interest */
        int64_t amount_minor;
    } parts[2 * SCHEDULE_INSTALMENTS_MAX];
};

typedef enum repayment_alloc_status {
    REPAYMENT_ALLOC_OK = 0,
    REPAYMENT_ALLOC_INVALID,  /* amount <= 0, a negative figure, instalments out of order or too many */
    REPAYMENT_ALLOC_OVERPAID, /* the payment is more than everything owed (*owed_max says how much) */
} repayment_alloc_status;

/* Allocates amount_minor paid on value_days (days since 1970) over the instalments inst[0..n)
 * (in instalment order) of a loan whose principal outstanding (drawn - repaid - written off) is
 * principal_outstanding_minor (domain §6):
 *   overdue   = instalments with due date < value date: their unpaid interest, then principal;
 *   current   = the one instalment with the earliest due date >= value date;
 *   fees      = 0 (the fund charges no loan fees yet; the bucket is kept);
 *   excess    = prepayment of principal, last instalments first, never more than the principal
 *               outstanding; a payment above everything owed is REPAYMENT_ALLOC_OVERPAID.
 * Principal taken in the buckets is capped by the principal outstanding (a partly drawn or
 * partly written-off loan owes less principal than its schedule). No penalty interest on late
 * instalments is charged beyond the schedule. On success the instalments' paid figures are
 * updated (so calls chain), *out filled; on error nothing changes. *owed_max (may be NULL) gets
 * the largest payment the loan accepts on that date. */
repayment_alloc_status repayment_allocate(int64_t amount_minor, int64_t value_days, int64_t principal_outstanding_minor,
                                          struct repayment_instalment *inst, size_t n, struct repayment_allocation *out,
                                          int64_t *owed_max);

/* As repayment_allocate, with fees_due_minor (>= 0) of charges unpaid (the origination fee,
 * docs/loan-servicing.md §8) in the fees bucket, collected first. */
repayment_alloc_status repayment_allocate_fees(int64_t amount_minor, int64_t value_days,
                                               int64_t principal_outstanding_minor, int64_t fees_due_minor,
                                               struct repayment_instalment *inst, size_t n,
                                               struct repayment_allocation *out, int64_t *owed_max);

/* ---- repayments ---- */

/* Records cash received on a loan, inside the caller's transaction: the loan must be active
 * (disbursed); amount a positive decimal in the loan currency; value_date not in the future
 * and not before the first disbursement; reference unique per loan. The payment is allocated
 * by repayment_allocate, stored (repayment + repayment_allocation rows) and posted as ONE entry
 * (docs/fund-operations.md): Dr 1050 amount; Cr T<id>.LOANS per funding tranche, the principal
 * part split by the stored shares (largest remainder in position order, as loan_split);
 * Cr 4000 the interest part. event "repayment", ref "loan:<id>". When all the drawn principal
 * is repaid and the loan is fully drawn, the loan becomes repaid and its entrepreneur moves to
 * the repaid stage. Returns the repayment with its allocation (caller owns). Errors:
 * FLE_NOT_FOUND loan_id, FLE_CONFLICT loan_id (not active), FLE_BAD_FIELD / FLE_MISSING_FIELD
 * amount, value_date, reference, FLE_DUPLICATE reference, FLE_RULE amount (overpayment). */
json_t *repayment_record(struct db *db, const struct principal *actor, int64_t loan_id, const char *amount,
                         const char *value_date, const char *reference, struct fl_error *err);

/* As repayment_record, with the borrower's prepayment choice ("reduce_term" or
 * "reduce_instalment"; NULL: the fund's prepayment_default), stored with the repayment. Loans
 * whose recorded history replays (docs/loan-servicing.md §11) are allocated by the accrual engine
 * (accrual_loan_pay: charges, default interest, overdue interest and principal, current interest
 * accrued to the value date, current principal, prepayment re-cutting the schedule); the reply
 * adds "default_interest" and "prepayment_choice". A value date before the loan's latest recorded
 * event is FLE_BAD_FIELD value_date; a day of default interest with no usury cap is FLE_RULE
 * value_date; a bad choice FLE_BAD_FIELD prepayment_choice. */
json_t *repayment_record_choice(struct db *db, const struct principal *actor, int64_t loan_id, const char *amount,
                                const char *value_date, const char *reference, const char *prepayment_choice,
                                struct fl_error *err);

/* Imports a bank statement: CSV text with the exact header "loan_id,amount,value_date,reference"
 * and one repayment per line (plain comma-separated fields: no quotes, no commas inside a field;
 * CRLF accepted), at most REPAYMENT_IMPORT_LINES_MAX lines. Inside the caller's transaction.
 * Each line is checked and allocated exactly as repayment_record does, and the loans must be of
 * fund_id. A refused line changes nothing and the others still apply: lines are computed in C
 * against the loans' state (locked), then written in chunks, each inside a SAVEPOINT; should the
 * database refuse a chunk, it is rolled back and its lines are redone one by one, each in its own
 * SAVEPOINT. *report (caller owns) gets {"lines", "applied", "refused", "amount_applied",
 * "currency", "results": [{"line", "status": "applied", "repayment_id"} | {"line", "status":
 * "refused", "error": {"code", "field", "message"}}]} with line numbers of the file (the header
 * is line 1). Errors of the whole import (nothing written): FLE_NOT_FOUND fund_id,
 * FLE_BAD_FIELD "header" (missing or not exact), FLE_BAD_FIELD "csv" (too many lines), database
 * failures. */
enum fl_err repayment_import_csv(struct db *db, const struct principal *actor, int64_t fund_id, const char *csv,
                                 size_t len, json_t **report, struct fl_error *err);

/* One data line of a bank statement as the import cuts it, before any database work. */
struct repayment_csv_line {
    unsigned line_no;               /* in the file; the header is line 1 */
    const struct fl_error *refusal; /* why the line is refused as it stands ("line", "loan_id"), or NULL */
    int64_t loan_id;                /* the rest only when not refused; text valid during the call */
    const char *amount, *value_date, *reference;
};
typedef void (*repayment_csv_visit)(void *ctx, const struct repayment_csv_line *line);

/* The import's reading of a file alone (pure, no database; for tests and tests/fuzz): checks the
 * line count, NUL bytes and header exactly as repayment_import_csv does, and calls visit for each
 * data line in file order. Returns FLE_OK, or the error of the whole file (FLE_BAD_FIELD "csv" or
 * "header"; FLE_INTERNAL when out of memory), after which visit is not called. */
enum fl_err repayment_csv_parse(const char *csv, size_t len, repayment_csv_visit visit, void *ctx,
                                struct fl_error *err);

/* Days past due and arrears of a loan as of a date (payments count when their value date is
 * on or before it): {"loan_id", "as_of", "currency", "days_past_due" (as_of minus the oldest due
 * date, before as_of, of an instalment with something unpaid; 0 when none or when nothing is
 * outstanding), "oldest_unpaid_due_date", "principal_in_arrears", "interest_in_arrears",
 * "principal_outstanding" (drawn - principal repaid - written off, each as of the date)}.
 * as_of NULL = today. Caller owns. FLE_NOT_FOUND loan_id, FLE_BAD_PARAM as_of. */
json_t *loan_arrears(struct db *db, int64_t loan_id, const char *as_of, struct fl_error *err);

/* The payoff quote of an active loan on date (NULL = today; not before the first disbursement):
 * what a repayment of exactly "payoff" on that date allocates, bucket by bucket, capitalised
 * interest due by the date included (docs/loan-servicing.md §3, §7). {"loan_id", "date",
 * "currency", "payoff", "fees", "overdue_interest", "overdue_principal", "current_interest",
 * "current_principal", "prepayment", "principal_outstanding", "capitalised_interest"}. Runs in the
 * caller's transaction or its own. Caller owns. FLE_NOT_FOUND loan_id, FLE_CONFLICT loan_id (not
 * active), FLE_BAD_PARAM date. */
json_t *loan_payoff(struct db *db, int64_t loan_id, const char *date, struct fl_error *err);

/* A loan's repayments in value-date order, each with its buckets, its allocation per instalment
 * and component, and the principal each funding tranche received (the T.LOANS lines of its
 * entry): {"loan_id", "currency", "repayments": [{"id", "amount", "value_date", "reference",
 * "entry_id", "created_at", "fees", "overdue_interest", "overdue_principal", "current_interest",
 * "current_principal", "prepayment", "allocations": [{"instalment_no", "component", "amount"}],
 * "tranches": [{"tranche_id", "principal"}]}]}. Caller owns. FLE_NOT_FOUND loan_id. */
json_t *repayment_list(struct db *db, int64_t loan_id, struct fl_error *err);

/* A loan's accrual postings in order (docs/loan-servicing.md §9): {"loan_id", "currency",
 * "accruals": [{"id", "accrual_date", "ordinary_interest", "default_interest", "amount",
 * "ordinary_total", "default_total", "total", "entry_id", "created_at", "tranches":
 * [{"tranche_id", "amount"}]}]} (amount = ordinary + default posted by the entry; totals:
 * recognised to accrual_date; tranches: the loan's non-zero parts of the entry's
 * T.INTEREST_RECEIVABLE debits, an entry holding a fund's accruals of one date). Caller owns.
 * FLE_NOT_FOUND loan_id. */
json_t *loan_accruals(struct db *db, int64_t loan_id, struct fl_error *err);

/* The month-end close of a fund on date (not in the future), inside the caller's transaction
 * (docs/loan-servicing.md §9): posts, for every active loan of the fund, its accrual to date when
 * the fund is on the accrual basis (Dr T.INTEREST_RECEIVABLE / Cr 4000, one entry per chunk), the
 * capitalised interest due by date and not posted yet (Dr T.LOANS / Cr T.INTEREST_RECEIVABLE, or
 * Cr 4000 on the schedule basis, as a repayment would), then the fund's allowance and NAV
 * allocation, and records the close. Idempotent per date: a second close on the same date posts nothing and says
 * "already_closed": true. {"fund_id", "close_date", "entries", "already_closed"}. Caller owns.
 * FLE_NOT_FOUND fund_id; FLE_MISSING_FIELD / FLE_BAD_FIELD date; FLE_RULE date (before the fund's
 * last close). */
json_t *loan_close_period(struct db *db, const struct principal *actor, int64_t fund_id, const char *date,
                          struct fl_error *err);

/* ---- losses ---- */

/* Proposes a write-off (four eyes, kind "write_off") of amount (NULL = all the principal
 * outstanding) of an active loan on value_date (not in the future, not before the first
 * disbursement), with a reason. Inside the caller's transaction. Returns the proposal (caller
 * owns). Errors name the field: amount (above the principal outstanding: FLE_RULE), value_date,
 * reason; FLE_CONFLICT loan_id when the loan is not active. */
json_t *writeoff_propose(struct db *db, const struct principal *maker, int64_t loan_id, const char *amount,
                         const char *value_date, const char *reason, struct fl_error *err);
/* Approval hook: re-checks, then posts ONE entry: Cr T.LOANS per funding share (loan_split of
 * the amount); Dr T.LOSS bottom-up over all the fund's active tranches in the loan currency by
 * their capital (waterfall_allocate_loss, most junior first); what exceeds all capital Dr 5100.
 * Stores the write_off row, adds to loan.written_off_minor, and when nothing is left outstanding
 * marks the loan written_off and moves the entrepreneur to written_off. */
enum fl_err writeoff_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                             int64_t *entry_id, struct fl_error *err);

/* Records cash recovered on a written-off loan, inside the caller's transaction: Dr 1050 amount;
 * Cr T.LOSS top-down (waterfall_allocate_recovery over what each tranche of the fund in the loan
 * currency has absorbed and not had restored: the debit balance of its LOSS account, most senior
 * first); what is left Cr 4000. Stores the recovery row. value_date not in the future and not
 * before the loan's first write-off; reference unique per loan (FLE_DUPLICATE reference).
 * Returns the recovery (caller owns). */
json_t *recovery_record(struct db *db, const struct principal *actor, int64_t loan_id, const char *amount,
                        const char *value_date, const char *reference, struct fl_error *err);

#endif
