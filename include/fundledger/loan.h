/* loan: loans to entrepreneurs: proposal and four-eyes approval (usury cap, stored schedule,
 * funding shares), conditions precedent, four-eyes disbursements, reads. */
#ifndef FUNDLEDGER_LOAN_H
#define FUNDLEDGER_LOAN_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"

/* Terms as the API receives them (text fields are decimal strings or codes). */
struct loan_terms {
    int64_t entrepreneur_id;
    const char *principal;         /* "12000000.00" */
    const char *annual_rate;       /* effective annual (EA) as a fraction, "0.2400" */
    const char *day_count;         /* act_365 (default) or 30_360, for overdue interest */
    int64_t payments_per_year;     /* 1, 2, 3, 4, 6, 12 */
    int64_t term_count;            /* instalments */
    const char *first_due_date;
    int64_t grace_principal;       /* instalments paying interest only */
    int64_t grace_interest;        /* instalments paying nothing (interest capitalised) */
    const char *amortisation;      /* annuity, equal_principal, bullet */
    const char *modality;          /* usury modality: microcredito (default), productivo_rural, consumo_ordinario */
    const char *purpose;
    const char *approval_date;     /* the committee date the approval takes effect; NULL = today */
    const json_t *shares;          /* NULL = pro rata to eligible cash; else [{"tranche_id", "amount"}] */
    const char *origination_fee;      /* NULL or a fixed fee "240000.00", due at the first drawdown */
    const char *origination_fee_rate; /* NULL or a fraction of the principal "0.02" (not with the above) */
};

/* Proposes a loan to an entrepreneur at the committee stage (four eyes, kind "loan"): checks
 * the terms by generating the schedule, the usury cap on the approval date, and explicit
 * shares. Inside the caller's transaction. Returns the proposal with "loan_id". */
json_t *loan_propose(struct db *db, const struct principal *maker, int64_t fund_id, const struct loan_terms *t,
                     struct fl_error *err);

/* The schedule a proposal with terms t would store, computed and nothing written (the loan form's
 * preview, docs/console.md): the proposal's checks of the terms (same errors, same fields; the
 * entrepreneur, shares and purpose are not read), the rows with amounts as decimal strings,
 * column totals and the usury cap of the modality on the approval date with the rate's margin
 * under it (usury_on: reported, not refused, so the form shows it). "instalment" is row 1's
 * total (the level payment of an annuity without grace). */
json_t *loan_schedule_preview(struct db *db, int64_t fund_id, const struct loan_terms *t, struct fl_error *err);

/* Approval: usury cap again, schedule stored, funding shares stored, loan commitment posted,
 * entrepreneur moved to approved. */
enum fl_err loan_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                         int64_t *entry_id, struct fl_error *err);
/* Rejection: the loan is marked rejected. */
enum fl_err loan_reject(struct db *db, const struct proposal *p, const struct principal *approver,
                        struct fl_error *err);

/* Ticks a condition precedent (signed_agreement, kyc, sanctions_screening,
 * bank_account_verified) with the date it was met; each is ticked once. */
json_t *loan_condition_tick(struct db *db, const struct principal *actor, int64_t loan_id, const char *item,
                            const char *done_on, const char *note, struct fl_error *err);

/* Proposes a drawdown (four eyes, kind "disbursement"). The checks run at proposal and again
 * at approval: loan approved and not over-drawn, conditions precedent complete, each funding
 * tranche eligible and holding the cash for its share, usury cap on the value date. */
json_t *disbursement_propose(struct db *db, const struct principal *maker, int64_t loan_id, const char *amount,
                             const char *value_date, struct fl_error *err);
enum fl_err disbursement_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                 int64_t *entry_id, struct fl_error *err);

/* A loan with terms, status, funding shares, conditions, schedule and disbursements. */
json_t *loan_get(struct db *db, int64_t loan_id, struct fl_error *err);

/* The loan's currency into cur (CURRENCY_CODE_BYTES): FLE_OK, FLE_NOT_FOUND (field loan_id) when
 * there is no such loan, or the database's error. For the reads that list a loan's rows. */
enum fl_err loan_currency(struct db *db, int64_t loan_id, char *cur, struct fl_error *err);
/* Loans of a fund (status NULL = any), keyset-paged. */
json_t *loan_list(struct db *db, int64_t fund_id, const char *status, int64_t after_id, unsigned limit,
                  struct fl_error *err);

/* The usury cap certified for modality on date (EA, 1e-8 units) into *cap; FLE_RULE on
 * annual_rate when there is none. */
enum fl_err loan_usury_cap(struct db *db, const char *modality, const char *date, int64_t *cap, struct fl_error *err);

/* The usury cap in force for a modality on a date: FLE_RULE (field annual_rate) when rate is
 * above it or when no cap is certified for that date. */
enum fl_err loan_usury_check(struct db *db, const char *modality, int64_t rate, const char *date,
                             struct fl_error *err);

/* Splits amount over the loan's funding tranches by the stored shares (largest remainder in
 * position order). tranche_ids and parts get up to LOAN_FUNDING_MAX rows; *n their count. */
#define LOAN_FUNDING_MAX 16
enum fl_err loan_split(struct db *db, int64_t loan_id, int64_t amount, int64_t *tranche_ids, int64_t *parts,
                       unsigned *n, struct fl_error *err);

/* Splits a step of a cumulative total without drift (docs/loan-servicing.md §10): parts[i] =
 * split(after)[i] - split(before)[i] by the stored shares, so the parts of every step of a
 * running total sum to split(final total) and a total back at 0 leaves 0 on every tranche. A
 * part can be one unit of the other sign (largest remainder is not monotone). */
enum fl_err loan_split_cumulative(struct db *db, int64_t loan_id, int64_t before, int64_t after, int64_t *tranche_ids,
                                  int64_t *parts, unsigned *n, struct fl_error *err);

#endif
