/* fund: funds, the standard chart of accounts, account reads with balances. */
#include "fundledger/fund.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"

static const struct {
    const char *code, *name, *type;
} chart[] = {
    {"1000", "Cash at bank", "asset"},
    {"1050", "Collections (undistributed)", "asset"},
    {"1060", "Reserve cash", "asset"},
    {"1100", "Loans receivable", "asset"},
    {"1150", "Interest receivable", "asset"},
    {"2100", "Distributions payable to investors", "liability"},
    {"2300", "Expenses payable", "liability"},
    {"3000", "Paid-in capital", "equity"},
    {"3900", "Retained results", "equity"},
    {"4000", "Interest income", "income"},
    {"4100", "Fee income", "income"},
    {"5000", "Fund expenses", "expense"},
    {"5100", "Credit losses", "expense"},
    {"8500", "Loan commitments undrawn", "memo"},
    {"8590", "Loan commitments (contra)", "memo"},
};

bool fund_account_type_valid(const char *t)
{
    static const char *const types[] = {"asset", "liability", "equity", "income", "expense", "memo"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (t != NULL && strcmp(t, types[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool valid_code(const char *s, size_t max, bool upper_only)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                  (!upper_only && ((c >= 'a' && c <= 'z') || (i > 0 && (c == '.' || c == ':' || c == '_')))) ||
                  (i > 0 && c == '-');
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= NAME_BYTES_MAX;
}

static json_t *fund_row_json(const PGresult *r, int i)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)db_i64(r, i, 0), "code", db_str(r, i, 1), "name",
                     db_str(r, i, 2), "base_currency", db_str(r, i, 3), "created_at", db_str(r, i, 4));
}

json_t *fund_create(struct db *db, const struct principal *actor, const char *code, const char *name,
                    const char *base_currency, struct fl_error *err)
{
    assert(db_in_tx(db));
    if (!valid_code(code, 32, true)) {
        fl_error_set(err, FLE_BAD_FIELD, "code", "1-32 characters: A-Z, 0-9, '-'");
        return NULL;
    }
    if (!valid_name(name)) {
        fl_error_set(err, FLE_BAD_FIELD, "name", "1-%d characters", NAME_BYTES_MAX);
        return NULL;
    }
    if (!money_currency_valid(base_currency)) {
        fl_error_set(err, FLE_BAD_FIELD, "base_currency", "not an ISO 4217 currency");
        return NULL;
    }
    char ub[21];
    const char *p[4] = {code, name, base_currency, db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec(db, "fund_create", 4, p, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "code", "a fund with code %s exists", code);
        }
        return NULL;
    }
    json_t *fund = fund_row_json(r, 0);
    int64_t fund_id = db_i64(r, 0, 0);
    PQclear(r);
    for (size_t i = 0; i < sizeof chart / sizeof chart[0]; i++) {
        json_t *a = fund_account_create(db, actor, fund_id, chart[i].code, chart[i].name, chart[i].type, base_currency,
                                        err);
        if (a == NULL) {
            json_decref(fund);
            return NULL;
        }
        json_decref(a);
    }
    char idb[21];
    if (audit_record(db, actor, "fund.create", "fund", db_i64_text(fund_id, idb), fund_id,
                     json_pack("{s:s, s:s}", "code", code, "base_currency", base_currency), err) != FLE_OK) {
        json_decref(fund);
        return NULL;
    }
    return fund;
}

json_t *fund_get(struct db *db, int64_t fund_id, struct fl_error *err)
{
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec(db, "fund_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "fund_id", "no fund %" PRId64, fund_id);
        return NULL;
    }
    json_t *o = fund_row_json(r, 0);
    PQclear(r);
    return o;
}

enum fl_err fund_exists(struct db *db, int64_t fund_id, char *base_currency, struct fl_error *err)
{
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec(db, "fund_get", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    bool found = PQntuples(r) == 1;
    if (found && base_currency) {
        snprintf(base_currency, CURRENCY_CODE_BYTES, "%s", db_str(r, 0, 3));
    }
    PQclear(r);
    return found ? FLE_OK : fl_error_set(err, FLE_NOT_FOUND, "fund_id", "no fund %" PRId64, fund_id);
}

enum fl_err fund_lock(struct db *db, int64_t fund_id, struct fund_settings *out, struct fl_error *err)
{
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec(db, "distribution_lock_fund", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "fund_id", "no fund %" PRId64, fund_id);
    }
    snprintf(out->waterfall_mode, sizeof out->waterfall_mode, "%s", db_str(r, 0, 0));
    out->reserve_target_minor = db_i64(r, 0, 1);
    snprintf(out->base_currency, sizeof out->base_currency, "%s", db_str(r, 0, 2));
    PQclear(r);
    return FLE_OK;
}

json_t *fund_list(struct db *db, struct fl_error *err)
{
    PGresult *r = db_exec(db, "fund_list", 0, NULL, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(a, fund_row_json(r, i));
    }
    PQclear(r);
    return json_pack("{s:o}", "funds", a);
}

json_t *fund_account_create(struct db *db, const struct principal *actor, int64_t fund_id, const char *code,
                            const char *name, const char *type, const char *currency, struct fl_error *err)
{
    assert(db_in_tx(db));
    if (!valid_code(code, CODE_BYTES_MAX, false)) {
        fl_error_set(err, FLE_BAD_FIELD, "code", "1-64 characters: letters, digits, '.', ':', '_', '-'");
        return NULL;
    }
    if (!valid_name(name)) {
        fl_error_set(err, FLE_BAD_FIELD, "name", "1-%d characters", NAME_BYTES_MAX);
        return NULL;
    }
    if (!fund_account_type_valid(type)) {
        fl_error_set(err, FLE_BAD_FIELD, "type", "one of asset, liability, equity, income, expense, memo");
        return NULL;
    }
    if (!money_currency_valid(currency)) {
        fl_error_set(err, FLE_BAD_FIELD, "currency", "not an ISO 4217 currency");
        return NULL;
    }
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21];
    const char *p[5] = {db_i64_text(fund_id, fb), code, name, type, currency};
    PGresult *r = db_exec(db, "fund_account_create", 5, p, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "code", "the fund has an account %s", code);
        }
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char idb[21];
    if (audit_record(db, actor, "account.create", "account", db_i64_text(id, idb), fund_id,
                     json_pack("{s:s, s:s, s:s}", "code", code, "type", type, "currency", currency), err) != FLE_OK) {
        return NULL;
    }
    return fund_account_get(db, id, NULL, err);
}

static json_t *account_row_json(const PGresult *r, int i)
{
    const char *cur = db_str(r, i, 5);
    int64_t bal = db_i64(r, i, 6);
    char buf[MONEY_TEXT_MAX];
    int exp = money_currency_exponent(cur);
    money_format(bal < 0 ? -bal : bal, exp < 0 ? 2 : exp, buf, sizeof buf);
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)db_i64(r, i, 0), "fund_id",
                     (json_int_t)db_i64(r, i, 1), "code", db_str(r, i, 2), "name", db_str(r, i, 3), "type",
                     db_str(r, i, 4), "currency", cur, "balance", buf, "side",
                     bal > 0 ? "debit" : bal < 0 ? "credit" : "zero");
}

json_t *fund_accounts_list(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err)
{
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), as_of};
    PGresult *r = db_exec(db, "fund_accounts_list", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(a, account_row_json(r, i));
    }
    PQclear(r);
    return json_pack("{s:I, s:o, s:o}", "fund_id", (json_int_t)fund_id, "as_of",
                     as_of ? json_string(as_of) : json_null(), "accounts", a);
}

json_t *fund_account_get(struct db *db, int64_t account_id, const char *as_of, struct fl_error *err)
{
    char ab[21];
    const char *p[2] = {db_i64_text(account_id, ab), as_of};
    PGresult *r = db_exec(db, "fund_account_get", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "account_id", "no account %" PRId64, account_id);
        return NULL;
    }
    json_t *o = account_row_json(r, 0);
    json_object_set_new(o, "as_of", as_of ? json_string(as_of) : json_null());
    PQclear(r);
    return o;
}

enum fl_err fund_account_by_code(struct db *db, int64_t fund_id, const char *code, int64_t *id, struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), code};
    PGresult *r = db_exec(db, "fund_account_by_code", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    bool found = PQntuples(r) == 1;
    *id = found ? db_i64(r, 0, 0) : 0;
    PQclear(r);
    return found ? FLE_OK : fl_error_set(err, FLE_NOT_FOUND, "code", "no account %s in fund", code);
}

enum fl_err fund_account_ensure(struct db *db, const struct principal *actor, int64_t fund_id, const char *code,
                                const char *name, const char *type, const char *currency, int64_t *id,
                                struct fl_error *err)
{
    enum fl_err e = fund_account_by_code(db, fund_id, code, id, err);
    if (e != FLE_NOT_FOUND) {
        return e;
    }
    fl_error_clear(err);
    json_t *a = fund_account_create(db, actor, fund_id, code, name, type, currency, err);
    if (a == NULL) {
        return err->code;
    }
    *id = (int64_t)json_integer_value(json_object_get(a, "id"));
    json_decref(a);
    return *id > 0 ? FLE_OK : fl_error_set(err, FLE_INTERNAL, NULL, "account %s has no id", code);
}
