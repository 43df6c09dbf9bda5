/* tranche: the capital stack: tranches (four eyes), capital calls, contributions, cancellations. */
#ifndef FUNDLEDGER_TRANCHE_H
#define FUNDLEDGER_TRANCHE_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"

/* The terms a maker proposes for a new tranche; text fields as the API receives them. */
struct tranche_terms {
    int64_t investor_id;             /* an organisation of kind investor */
    const char *name;
    const char *kind;                /* first_loss, mezzanine, senior */
    int64_t rank;                    /* 1 = most senior, up to 16 */
    const char *currency;            /* the fund's base currency */
    const char *commitment;          /* decimal string */
    const char *return_rate;         /* fraction as decimal string, "0.0450"; NULL = 0 */
    const char *fee_rate;            /* NULL = 0 */
    const json_t *eligibility;       /* NULL = none; {"women_led_only", "municipalities", "value_chains"} */
    const char *signed_date;         /* YYYY-MM-DD, not in the future */
    const char *provider_activity_id; /* the investor's IATI activity id, may be NULL */
};

/* Proposes a new tranche (four eyes, kind "tranche"); the tranche exists once approved.
 * Returns the proposal (caller owns). Errors name the field. */
json_t *tranche_propose(struct db *db, const struct principal *maker, int64_t fund_id, const struct tranche_terms *t,
                        struct fl_error *err);
/* Proposes changed terms (kind "tranche_change"): any of commitment, return_rate, fee_rate,
 * eligibility, status ("closed"). A lower commitment may not go below what is paid in. */
json_t *tranche_change_propose(struct db *db, const struct principal *maker, int64_t tranche_id, const json_t *changes,
                               struct fl_error *err);
/* Approval hooks (see approval.c). */
enum fl_err tranche_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                            int64_t *entry_id, struct fl_error *err);
enum fl_err tranche_change_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                   int64_t *entry_id, struct fl_error *err);

/* A tranche with its figures read from the ledger (now, or as of a date): commitment, paid-in,
 * unfunded, capital (NAV), cash available, loans outstanding, distributions, losses. */
json_t *tranche_get(struct db *db, int64_t tranche_id, const char *as_of, struct fl_error *err);
/* A tranche's capital calls (call_no order; each with the sum of the contributions recorded
 * against it) and its contributions (received_date order, capital_call_id null when recorded
 * without a call): {"tranche_id", "currency", "calls": [{"id", "call_no", "amount", "call_date",
 * "due_date", "contributed"}], "contributions": [{"id", "capital_call_id", "amount",
 * "received_date", "reference"}]}, amounts as decimal strings. Read only; the caller checks who
 * may read the tranche. FLE_NOT_FOUND naming tranche_id; database errors. */
json_t *tranche_calls(struct db *db, int64_t tranche_id, struct fl_error *err);
/* The fund's tranches, most senior first; investor_id 0 = all. */
json_t *tranche_list(struct db *db, int64_t fund_id, int64_t investor_id, const char *as_of, struct fl_error *err);
/* The fund's tranches as IATI publishes them, for a transparency officer: per tranche only the
 * funder (id, name), its provider_activity_id, currency, signed_date and the figures commitment
 * (net of cancellations) and paid_in, as of a date or now; no cash, distributions, losses,
 * capital, rates, eligibility or kind (docs/authorization.md). Same shape otherwise
 * ({"tranches":[...]}), caller owns; FLE_NOT_FOUND naming fund_id when there is no such fund. */
json_t *tranche_list_published(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err);

/* A capital call notice (no ledger effect until paid): amount <= unfunded. */
json_t *tranche_call(struct db *db, const struct principal *actor, int64_t tranche_id, const char *amount,
                     const char *call_date, const char *due_date, struct fl_error *err);
/* Cash received from the investor: posts the contribution. amount <= unfunded (422 beyond). */
json_t *tranche_contribute(struct db *db, const struct principal *actor, int64_t tranche_id, const char *amount,
                           const char *received_date, const char *reference, int64_t call_id, struct fl_error *err);
/* Cancels part of the unfunded commitment: posts the memo reduction. */
json_t *tranche_cancel(struct db *db, const struct principal *actor, int64_t tranche_id, const char *amount,
                       const char *cancel_date, const char *reason, struct fl_error *err);

/* The id of a tranche's account "T<id>.<suffix>" (CASH, LOANS, CONTRIB, RETURNED, DIST_INCOME,
 * LOSS, UNFUNDED, COMMITMENT). */
enum fl_err tranche_account(struct db *db, int64_t fund_id, int64_t tranche_id, const char *suffix, int64_t *id,
                            struct fl_error *err);

/* A tranche's accounts in the order tranche_balances fills them. */
enum tranche_acc {
    TRANCHE_CASH = 0,
    TRANCHE_LOANS,
    TRANCHE_CONTRIB,
    TRANCHE_RETURNED,
    TRANCHE_DIST_INCOME,
    TRANCHE_LOSS,
    TRANCHE_UNFUNDED,
    TRANCHE_COMMITMENT,
    TRANCHE_ACCOUNTS /* count */
};
/* Signed balances (debit > 0) of the tranche's accounts now (as_of NULL: the maintained
 * balance) or as of the end of a date (sum of lines with effective_date <= as_of): the one way
 * tranche figures are read, shared by tranche_get and statements. Absent accounts read 0. */
enum fl_err tranche_balances(struct db *db, int64_t fund_id, int64_t tranche_id, const char *as_of,
                             int64_t out[TRANCHE_ACCOUNTS], struct fl_error *err);
/* Capital (NAV) of a tranche from its balances: -(CONTRIB + RETURNED + LOSS). */
int64_t tranche_capital(const int64_t b[TRANCHE_ACCOUNTS]);

/* Today's date (UTC) as YYYY-MM-DD; dates after it are "in the future". */
void tranche_today(char out[11]);
/* The date a read is "as of": as_of, or today (written into today) when as_of is NULL. NULL with
 * FLE_BAD_PARAM (as_of) "a date YYYY-MM-DD" when as_of is not such a date. */
const char *tranche_as_of(const char *as_of, char today[11], struct fl_error *err);

#endif
