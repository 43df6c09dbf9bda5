/* distribution: the fund's waterfall runs (collected cash to fees, tranches and the reserve),
 * stored with their steps and replayable from the journal; the fund's waterfall settings. */
#ifndef FUNDLEDGER_DISTRIBUTION_H
#define FUNDLEDGER_DISTRIBUTION_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"

/* Runs the waterfall of a fund on run_date (not in the future, after the previous run's date),
 * inside the caller's transaction (docs/fund-operations.md "Waterfall runs"). The fund row is
 * locked, so runs of one fund are serialised. Inputs, all read from the journal as of run_date
 * and up to the last journal entry committed when the run starts (its cut-off):
 *  - cash = balance of 1050; its principal part = principal of repayments (their T.LOANS
 *    credits) and recoveries (their T.LOSS credits) dated up to run_date, less the principal of
 *    the previous runs, at most the cash; the rest is interest (fees collected: 0, no loan fees);
 *  - per tranche (the fund's tranches in its currency, most senior first): interest due =
 *    coupon at return_rate (EA, actual/365, rate_daycount_interest) on its capital as of
 *    run_date, from the previous run's date (or its first contribution, when later) to run_date,
 *    plus what the previous run's interest step left unpaid; principal outstanding = capital
 *    = -(CONTRIB + RETURNED + LOSS);
 *  - fees and expenses due = credit balance of 2300; reserve target = the fund's
 *    reserve_target_minor, current = balance of 1060; mode = the fund's waterfall_mode.
 * waterfall_run() gives the steps; each step that moves money is one entry (event "waterfall",
 * ref "waterfall_run:<id>": fees Dr 2300, interest and residual Dr T.DIST_INCOME, principal
 * Dr T.RETURNED, reserve Dr 1060; Cr 1050). The run and all its steps are stored; the cut-off
 * and the reserve target are kept in the run's audit record, for the replay. Returns the run
 * (as distribution_get, plus "inputs"). Errors: FLE_NOT_FOUND fund_id, FLE_BAD_FIELD run_date,
 * FLE_RULE (no tranche, tranches sharing a rank, negative collections). */
json_t *distribution_run(struct db *db, const struct principal *actor, int64_t fund_id, const char *run_date,
                         struct fl_error *err);

/* A run with its cash and steps: {"id", "fund_id", "run_date", "mode", "currency", "cash":
 * {"interest", "fees", "principal", "total"}, "created_by", "created_at", "steps": [{"step_no",
 * "kind", "tranche_id", "tranche", "due", "amount", "entry_id"}]}. Caller owns. */
json_t *distribution_get(struct db *db, int64_t run_id, struct fl_error *err);
/* Runs of a fund, oldest first, keyset-paged: {"runs": [...], "next_after"}. */
json_t *distribution_list(struct db *db, int64_t fund_id, int64_t after_id, unsigned limit, struct fl_error *err);

/* Recomputes a stored run from the journal (the same inputs as distribution_run, read with the
 * run's cut-off, its date, mode and reserve target, and the runs before it) and compares each
 * step (kind, tranche, due, amount) and the cash split with what is stored:
 * {"run_id", "ok": true|false, "steps", "journal_cutoff_entry_id", "difference": null |
 * {"step_no", "field", "stored", "replayed"}}. Caller owns. */
json_t *distribution_replay(struct db *db, int64_t run_id, struct fl_error *err);

/* Proposes new waterfall settings for a fund (four eyes, kind "fund_settings"): waterfall_mode
 * ("sequential" or "pro_rata") and/or reserve_target (a decimal in the fund currency, >= 0);
 * NULL leaves a setting as it is, at least one is needed. Returns the proposal (caller owns). */
json_t *fund_settings_propose(struct db *db, const struct principal *maker, int64_t fund_id, const char *mode_text,
                              const char *reserve_target, struct fl_error *err);
/* Approval hook: updates the fund's settings (audited); posts nothing. */
enum fl_err fund_settings_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                  int64_t *entry_id, struct fl_error *err);

#endif
