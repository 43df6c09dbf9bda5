/* charge: ad-hoc loan charges (docs/loan-servicing.md §8): a fund manager proposes a charge on a
 * loan (four eyes, proposal kind "loan_charge"); the final approval checks the total cost of
 * credit with the charge against the usury cap in force on its value date, stores the loan_charge
 * row and posts Dr 1160 fees receivable / Cr 4100 fee income. The accrual engine's replay
 * (servicing.c) puts each charge in the fees bucket from its value date; repayments collect it
 * first and credit 1160 (repayment.c). */
#ifndef FUNDLEDGER_CHARGE_H
#define FUNDLEDGER_CHARGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/accrual.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/schedule.h"

/* One charge already on the loan, for the cost check: amount and value date. */
struct charge_flow {
    int64_t amount_minor;
    rate_date value_date;
};

/* The total cost of credit with charges under a cap (docs/loan-servicing.md §8), pure: the
 * borrower receives principal - origination fee at t = 0, the start of instalment 1's period
 * (terms->first_due less one period); pays the approved schedule's instalments (row k at k/n
 * years) and each charge at t = calendar days from t = 0 to its value date / 365 (0 when
 * earlier). *within = true when the present value of those payments at the cap is not above what
 * is received. ACCRUAL_ERR_INVALID on bad terms, more than SCHEDULE_INSTALMENTS_MAX charges or a
 * charge more than RATE_DAYS_MAX days after t = 0. */
accrual_status charge_cost_within_cap(const schedule_terms *terms, int64_t origination_fee_minor,
                                      const struct charge_flow *charges, size_t n, int64_t cap, bool *within);

/* Proposes a charge of amount (a decimal string in the loan's currency, > 0) on loan_id due on
 * value_date, with a reason, inside the caller's transaction (four eyes, kind "loan_charge";
 * payload {"loan_id", "amount", "value_date", "reason"}). The checks run here and again at
 * approval: the loan is active (disbursed, not repaid or written off) (FLE_CONFLICT loan_id);
 * value_date a date from the loan's first disbursement to today, after its latest repayment
 * (recorded allocations never change) (FLE_BAD_FIELD / FLE_RULE value_date); a usury cap is
 * certified for that date (FLE_RULE value_date); the cost of credit with this charge is within
 * the cap (FLE_RULE amount). Returns the pending proposal (caller owns). */
json_t *loan_charge_propose(struct db *db, const struct principal *maker, int64_t loan_id, const char *amount,
                            const char *value_date, const char *reason, struct fl_error *err);

/* Final approval of a "loan_charge" proposal (approval.c): the checks again with the loan row
 * locked, the entry Dr 1160 / Cr 4100 (event "loan_charge", reference "loan:<id>", 1160 opened on
 * first use) and the loan_charge row. Nothing is written when a check fails. */
enum fl_err loan_charge_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                int64_t *entry_id, struct fl_error *err);

/* A loan's charges in value-date order with what is collected of them: {"loan_id", "currency",
 * "charges": [{"id", "value_date", "amount", "reason", "proposal_id", "entry_id", "approved_by",
 * "created_at"}], "total", "collected", "due"}. Collected = the fees the repayments took beyond
 * the origination fee (the origination fee is collected first). FLE_NOT_FOUND loan_id. */
json_t *loan_charge_list(struct db *db, int64_t loan_id, struct fl_error *err);

#endif
