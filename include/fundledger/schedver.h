/* schedver: a loan's stored schedule versions (docs/loan-servicing.md §4, §11). Version 1 is the
 * approval schedule; each disbursement, each repayment whose prepayment re-cuts the rows and each
 * capitalisation re-cut stores the next version, in the transaction of its event, with the rows
 * the accrual engine then has (accrual_loan_version) and what is paid on each. Versions are
 * written in bulk (one statement for the headers, one for the rows) and never changed. */
#ifndef FUNDLEDGER_SCHEDVER_H
#define FUNDLEDGER_SCHEDVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/accrual.h"
#include "fundledger/db.h"
#include "fundledger/schedule.h"

/* Why a version was cut: the loan_schedule_version.reason values. */
typedef enum schedver_reason {
    SCHEDVER_APPROVAL = 0,
    SCHEDVER_DRAWDOWN,
    SCHEDVER_PREPAYMENT,
    SCHEDVER_CAPITALISATION
} schedver_reason;

const char *schedver_reason_name(schedver_reason r);

/* Versions to be written together: column arrays. Init, add, flush, free. */
struct schedver_batch {
    struct db_array h[7]; /* loan, version, reason, disbursement, repayment, valid_from, repayments_through */
    struct db_array r[9]; /* loan, version, no, due, principal, interest, capitalised, paid p, paid i */
    size_t n;
};

void schedver_init(struct schedver_batch *b);
void schedver_free(struct schedver_batch *b);

/* Adds version `version` of loan_id: its event (disbursement_id or repayment_id, 0: none), the
 * date it is valid from (the event's value date, "YYYY-MM-DD"), the last repayment its paid
 * amounts include (0: none), and rows[0..n) as the engine has them. false on out of memory. */
bool schedver_add(struct schedver_batch *b, int64_t loan_id, int version, schedver_reason reason,
                  int64_t disbursement_id, int64_t repayment_id, const char *valid_from, int64_t repayments_through,
                  const struct accrual_row *rows, size_t n);

/* Adds the approval schedule (version 1) of loan_id, valid from the approval date. */
bool schedver_add_approval(struct schedver_batch *b, int64_t loan_id, const char *approved_on, const schedule_row *rows,
                           size_t n);

/* Writes the batch's versions in the caller's transaction (nothing when empty) and empties it.
 * db_exec's errors (FLE_DUPLICATE: a version number taken concurrently). */
enum fl_err schedver_flush(struct db *db, struct schedver_batch *b, struct fl_error *err);

/* The latest version number of each of ids[0..n) (ascending, no duplicates; 0: none yet), in
 * versions[0..n) (same order). */
enum fl_err schedver_latest(struct db *db, const int64_t *ids, size_t n, int *versions, struct fl_error *err);

/* After the disbursement disbursement_id of loan_id (value date value_date) is recorded, inside
 * its transaction: replays the loan (servicing.h) and stores the next version (reason drawdown)
 * with the engine's rows. A loan serviced on the 'schedule' basis, or whose history the engine
 * cannot replay, keeps its versions (none is written). */
enum fl_err schedver_after_disbursement(struct db *db, int64_t loan_id, int64_t disbursement_id, const char *value_date,
                                        struct fl_error *err);

/* A loan's versions, oldest first: {"loan_id", "currency", "versions": [{"version", "reason",
 * "disbursement_id", "repayment_id" (null when none), "valid_from", "created_at", "rows": [{"no",
 * "due_date", "principal", "interest", "capitalised", "total", "principal_paid",
 * "interest_paid"}]}]}. FLE_NOT_FOUND loan_id. */
json_t *schedver_list(struct db *db, int64_t loan_id, struct fl_error *err);

#endif
