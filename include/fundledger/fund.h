/* fund: funds and their chart of accounts. */
#ifndef FUNDLEDGER_FUND_H
#define FUNDLEDGER_FUND_H

#include <jansson.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/limits.h"

/* Account types of the chart. */
bool fund_account_type_valid(const char *type);

/* Creates a fund with the standard chart of accounts in its base currency (see
 * docs/fund-operations.md: cash, collections, reserve, loans, payables, capital, income,
 * expenses, loan-commitment memo accounts), inside the caller's transaction, audited. Returns the fund
 * as JSON (caller owns). Errors: FLE_BAD_FIELD (code, name, base_currency), FLE_DUPLICATE (code). */
json_t *fund_create(struct db *db, const struct principal *actor, const char *code, const char *name,
                    const char *base_currency, struct fl_error *err);
json_t *fund_get(struct db *db, int64_t fund_id, struct fl_error *err);
json_t *fund_list(struct db *db, struct fl_error *err);
/* FLE_NOT_FOUND when there is no such fund; *base_currency (4 bytes) filled when not NULL. */
enum fl_err fund_exists(struct db *db, int64_t fund_id, char *base_currency, struct fl_error *err);
/* Locks the fund's row until the caller's transaction ends (runs of one fund are serialised) and
 * reads its waterfall settings. FLE_NOT_FOUND (fund_id) when there is no such fund. */
struct fund_settings {
    char waterfall_mode[16]; /* "sequential" or "pro_rata" */
    int64_t reserve_target_minor;
    char base_currency[CURRENCY_CODE_BYTES];
};
enum fl_err fund_lock(struct db *db, int64_t fund_id, struct fund_settings *out, struct fl_error *err);

/* Adds an account (inside the caller's transaction, audited). Errors name the field. */
json_t *fund_account_create(struct db *db, const struct principal *actor, int64_t fund_id, const char *code,
                            const char *name, const char *type, const char *currency, struct fl_error *err);
/* Accounts of a fund with balances now or as of a date (NULL): debit-positive signed balance
 * as "balance" with "side" debit/credit. */
json_t *fund_accounts_list(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err);
json_t *fund_account_get(struct db *db, int64_t account_id, const char *as_of, struct fl_error *err);
/* The id of a fund's account by code, FLE_NOT_FOUND when absent. */
enum fl_err fund_account_by_code(struct db *db, int64_t fund_id, const char *code, int64_t *id, struct fl_error *err);
/* The id of a fund's account by code, created (fund_account_create, audited as the actor) when
 * the fund has none yet: the accounts a posting path opens on first use. */
enum fl_err fund_account_ensure(struct db *db, const struct principal *actor, int64_t fund_id, const char *code,
                                const char *name, const char *type, const char *currency, int64_t *id,
                                struct fl_error *err);

#endif
