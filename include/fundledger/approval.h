/* approval: four eyes. A maker proposes a money movement; a different approver approves within
 * their limit (or with a second approver above it) or rejects with a reason; the posting
 * happens atomically at the final approval. Every kind of movement uses this mechanism. */
#ifndef FUNDLEDGER_APPROVAL_H
#define FUNDLEDGER_APPROVAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/limits.h"

struct proposal {
    int64_t id;
    int64_t fund_id;
    char kind[LEDGER_EVENT_TYPE_BYTES_MAX + 1];
    json_t *payload; /* borrowed from the runner for the duration of execute */
    int64_t amount_minor;
    char currency[CURRENCY_CODE_BYTES];
    int64_t proposed_by;
};

/* What the final approval does, inside the approval's transaction: posts the movement and
 * sets *entry_id (0 when the kind posts nothing). An error rolls the approval back. */
typedef enum fl_err (*approval_execute_fn)(struct db *db, const struct proposal *p, const struct principal *approver,
                                           int64_t *entry_id, struct fl_error *err);

/* What a rejection does besides recording it (e.g. a proposed loan becomes rejected). */
typedef enum fl_err (*approval_reject_fn)(struct db *db, const struct proposal *p, const struct principal *approver,
                                          struct fl_error *err);

/* Records a pending proposal (inside the caller's transaction, audited). payload is stolen.
 * Returns the proposal as JSON (caller owns). kind must be registered. */
json_t *approval_propose(struct db *db, const struct principal *maker, int64_t fund_id, const char *kind,
                         json_t *payload, int64_t amount_minor, const char *currency, struct fl_error *err);

/* Approves (approve=true) or rejects a pending proposal, inside the caller's transaction. The
 * proposal row is locked, so of two racing approvers exactly one decides. Rules:
 * - the maker never decides (FLE_SELF_APPROVAL); a decided proposal is FLE_ALREADY_DECIDED;
 * - a rejection needs a reason (FLE_MISSING_FIELD "reason");
 * - an approver with no limit in the currency has no authority (FLE_OVER_LIMIT);
 * - amount <= the approver's limit: final approval, the kind's execute posts;
 * - above it, the first approval is recorded and the proposal stays pending for a second,
 *   different approver; the second approval is final when the amount is within the two
 *   approvers' combined limits, else FLE_OVER_LIMIT.
 * Returns the proposal as JSON after the decision (caller owns). */
json_t *approval_decide(struct db *db, const struct principal *approver, int64_t proposal_id, bool approve,
                        const char *reason, struct fl_error *err);

json_t *approval_get(struct db *db, int64_t proposal_id, struct fl_error *err);
/* Proposals of a fund (0 = all) with a status (NULL = any), keyset-paged by id. */
json_t *approval_list(struct db *db, int64_t fund_id, const char *status, int64_t after_id, unsigned limit,
                      struct fl_error *err);

/* Kinds: journal entries and reversals (journal.c). Later kinds add a row to the table in
 * approval.c. */
enum fl_err journal_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                            int64_t *entry_id, struct fl_error *err);
enum fl_err journal_reversal_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                     int64_t *entry_id, struct fl_error *err);

/* A manual journal line as a maker sends it: one of debit or credit, a decimal string. */
struct journal_line_input {
    int64_t account_id;
    const char *debit;
    const char *credit;
};

/* Proposes a manual journal entry (one currency; accounts of the fund; balanced). Returns the
 * pending proposal (caller owns). Errors name the field: "lines[1].debit". */
json_t *journal_propose(struct db *db, const struct principal *maker, int64_t fund_id, const char *effective_date,
                        const char *memo, const struct journal_line_input *lines, unsigned n_lines,
                        struct fl_error *err);

/* Proposes the reversal of a posted entry (on effective_date, or the original's date when NULL). */
json_t *journal_reversal_propose(struct db *db, const struct principal *maker, int64_t entry_id, const char *memo,
                                 const char *effective_date, struct fl_error *err);

#endif
