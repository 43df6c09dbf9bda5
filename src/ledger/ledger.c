/* ledger: checking and posting journal entries in batches, reversals, and ledger reads. */
#include "fundledger/ledger.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/money.h"

bool ledger_date_valid(const char *t)
{
    if (t == NULL || strlen(t) != 10 || t[4] != '-' || t[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (t[i] < '0' || t[i] > '9')) {
            return false;
        }
    }
    int y = atoi(t), m = atoi(t + 5), d = atoi(t + 8);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

bool ledger_date_parse(const char *text, rate_date *out)
{
    if (!ledger_date_valid(text)) {
        return false;
    }
    rate_date d = {atoi(text), atoi(text + 5), atoi(text + 8)};
    if (!rate_date_valid(d)) {
        return false;
    }
    *out = d;
    return true;
}

enum fl_err ledger_check(const struct ledger_entry *e, struct fl_error *err)
{
    assert(e != NULL);
    if (e->fund_id <= 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "fund_id", "unknown fund");
    }
    if (!ledger_date_valid(e->effective_date)) {
        return fl_error_set(err, FLE_BAD_FIELD, "effective_date", "not a date YYYY-MM-DD");
    }
    if (e->event_type[0] == '\0') {
        return fl_error_set(err, FLE_MISSING_FIELD, "event_type", "every entry names its business event");
    }
    if (e->n_lines < 2) {
        return fl_error_set(err, FLE_BAD_FIELD, "lines", "an entry has at least two lines");
    }
    if (e->n_lines > LEDGER_LINES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "lines", "an entry has at most %d lines", LEDGER_LINES_MAX);
    }
    /* Per-currency sums; an entry has at most n_lines currencies. */
    char cur[LEDGER_LINES_MAX][CURRENCY_CODE_BYTES];
    int64_t sum[LEDGER_LINES_MAX];
    unsigned n_cur = 0;
    for (unsigned i = 0; i < e->n_lines; i++) {
        const struct ledger_line *l = &e->lines[i];
        char field[ERROR_FIELD_BYTES];
        if (l->account_id <= 0) {
            snprintf(field, sizeof field, "lines[%u].account_id", i);
            return fl_error_set(err, FLE_BAD_FIELD, field, "unknown account");
        }
        if (!money_currency_valid(l->currency)) {
            snprintf(field, sizeof field, "lines[%u].currency", i);
            return fl_error_set(err, FLE_BAD_FIELD, field, "not an ISO 4217 currency");
        }
        if (l->amount_minor == 0) {
            snprintf(field, sizeof field, "lines[%u]", i);
            return fl_error_set(err, FLE_BAD_FIELD, field, "a line moves a non-zero amount");
        }
        unsigned k = 0;
        while (k < n_cur && strcmp(cur[k], l->currency) != 0) {
            k++;
        }
        if (k == n_cur) {
            memcpy(cur[k], l->currency, CURRENCY_CODE_BYTES);
            sum[k] = 0;
            n_cur++;
        }
        if (!money_add(sum[k], l->amount_minor, &sum[k])) {
            return fl_error_set(err, FLE_BAD_FIELD, "lines", "amounts overflow");
        }
    }
    for (unsigned k = 0; k < n_cur; k++) {
        if (sum[k] != 0) {
            return fl_error_set(err, FLE_UNBALANCED, "lines", "debits and credits differ in %s", cur[k]);
        }
    }
    return FLE_OK;
}

/* Checks that every account of every entry exists in the entry's fund with the line's currency. */
enum fl_err ledger_check_accounts(struct db *db, const struct ledger_entry *const *entries, unsigned n,
                                  struct fl_error *err)
{
    struct db_array ids;
    db_array_init(&ids);
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < entries[i]->n_lines; j++) {
            db_array_i64(&ids, entries[i]->lines[j].account_id);
        }
    }
    const char *p[1] = {db_array_str(&ids)};
    if (p[0] == NULL) {
        db_array_free(&ids);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    PGresult *r = db_exec(db, "ledger_post_accounts", 1, p, err);
    db_array_free(&ids);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    enum fl_err e = FLE_OK;
    for (unsigned i = 0; i < n && e == FLE_OK; i++) {
        for (unsigned j = 0; j < entries[i]->n_lines && e == FLE_OK; j++) {
            const struct ledger_line *l = &entries[i]->lines[j];
            bool found = false;
            /* rows are ordered by id: binary search. */
            int lo = 0, hi = rows - 1;
            while (lo <= hi) {
                int mid = lo + (hi - lo) / 2;
                int64_t id = db_i64(r, mid, 0);
                if (id == l->account_id) {
                    found = db_i64(r, mid, 1) == entries[i]->fund_id && strcmp(db_str(r, mid, 2), l->currency) == 0;
                    break;
                }
                if (id < l->account_id) {
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            if (!found) {
                char field[ERROR_FIELD_BYTES];
                if (n == 1) {
                    snprintf(field, sizeof field, "lines[%u].account_id", j);
                } else {
                    snprintf(field, sizeof field, "entries[%u].lines[%u].account_id", i, j);
                }
                e = fl_error_set(err, FLE_BAD_FIELD, field,
                                 "account %" PRId64 " is not an account of this fund in %s", l->account_id,
                                 l->currency);
            }
        }
    }
    PQclear(r);
    return e;
}

/* ledger_check on each entry; the first refusal. */
static enum fl_err check_each(const struct ledger_entry *const *entries, unsigned n, struct fl_error *err)
{
    for (unsigned i = 0; i < n; i++) {
        enum fl_err e = ledger_check(entries[i], err);
        if (e != FLE_OK) {
            return e;
        }
    }
    return FLE_OK;
}

/* Writes entries[0..n) and their lines with the one "ledger_post" statement, inside the caller's
 * transaction (in_tx) or as a transaction of its own; ids[i] gets the id of entries[i]. */
static enum fl_err post_statement(struct db *db, const struct ledger_entry *const *entries, unsigned n, bool in_tx,
                                  int64_t *ids, struct fl_error *err)
{
    enum { E_FUND, E_DATE, E_BY, E_MEMO, E_TYPE, E_REF, E_REVERSES, L_ORD, L_NO, L_ACCOUNT, L_CUR, L_AMOUNT, N_ARR };
    struct db_array a[N_ARR];
    for (int k = 0; k < N_ARR; k++) {
        db_array_init(&a[k]);
    }
    for (unsigned i = 0; i < n; i++) {
        const struct ledger_entry *x = entries[i];
        db_array_i64(&a[E_FUND], x->fund_id);
        db_array_text(&a[E_DATE], x->effective_date);
        db_array_i64(&a[E_BY], x->posted_by);
        db_array_text(&a[E_MEMO], x->memo);
        db_array_text(&a[E_TYPE], x->event_type);
        db_array_text(&a[E_REF], x->event_ref);
        if (x->reverses_entry_id > 0) {
            db_array_i64(&a[E_REVERSES], x->reverses_entry_id);
        } else {
            db_array_null(&a[E_REVERSES]);
        }
        for (unsigned j = 0; j < x->n_lines; j++) {
            db_array_i64(&a[L_ORD], i + 1);
            db_array_i64(&a[L_NO], j + 1);
            db_array_i64(&a[L_ACCOUNT], x->lines[j].account_id);
            db_array_text(&a[L_CUR], x->lines[j].currency);
            db_array_i64(&a[L_AMOUNT], x->lines[j].amount_minor);
        }
    }
    const char *p[N_ARR];
    bool ok = true;
    for (int k = 0; k < N_ARR; k++) {
        ok = ok && (p[k] = db_array_str(&a[k])) != NULL;
    }
    enum fl_err e = FLE_OK;
    PGresult *r = NULL;
    if (!ok) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    } else if ((r = in_tx ? db_exec(db, "ledger_post", N_ARR, p, err)
                          : db_exec_commit(db, "ledger_post", N_ARR, p, err)) == NULL) {
        /* The one unique key an insert can hit: reverses_entry_id (one reversal per entry). */
        e = err->code == FLE_DUPLICATE ? fl_error_set(err, FLE_ALREADY_REVERSED, "entry_id",
                                                      "the entry was already reversed")
                                       : err->code;
    } else if (PQntuples(r) != (int)n) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "database error");
    } else {
        for (unsigned i = 0; i < n; i++) {
            ids[i] = db_i64(r, (int)i, 0);
        }
    }
    PQclear(r);
    for (int k = 0; k < N_ARR; k++) {
        db_array_free(&a[k]);
    }
    return e;
}

enum fl_err ledger_post(struct db *db, const struct ledger_entry *const *entries, unsigned n, int64_t *ids,
                        struct fl_error *err)
{
    assert(db != NULL && entries != NULL && ids != NULL);
    assert(db_in_tx(db));
    assert(n >= 1 && n <= LEDGER_BATCH_ENTRIES_MAX);
    enum fl_err e = check_each(entries, n, err);
    if (e != FLE_OK) {
        return e;
    }
    e = ledger_check_accounts(db, entries, n, err);
    if (e != FLE_OK) {
        return e;
    }
    return post_statement(db, entries, n, true, ids, err);
}

enum fl_err ledger_post_commit(struct db *db, const struct ledger_entry *const *entries, unsigned n, int64_t *ids,
                               struct fl_error *err)
{
    assert(db != NULL && entries != NULL && ids != NULL);
    assert(!db_in_tx(db));
    assert(n >= 1 && n <= LEDGER_BATCH_ENTRIES_MAX);
    enum fl_err e = check_each(entries, n, err);
    return e != FLE_OK ? e : post_statement(db, entries, n, false, ids, err);
}

enum fl_err ledger_reversal_build(struct db *db, int64_t entry_id, int64_t posted_by, const char *memo,
                                  const char *effective_date, struct ledger_entry *out, struct fl_error *err)
{
    assert(db != NULL && out != NULL && memo != NULL);
    char idb[21];
    const char *p[1] = {db_i64_text(entry_id, idb)};
    PGresult *r = db_exec(db, "ledger_reversal_build_entry", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "entry_id", "no journal entry %" PRId64, entry_id);
    }
    bool is_reversal = !db_null(r, 0, 2);
    bool reversed = !db_null(r, 0, 3);
    memset(out, 0, sizeof *out);
    out->fund_id = db_i64(r, 0, 0);
    snprintf(out->effective_date, sizeof out->effective_date, "%s",
             effective_date ? effective_date : db_str(r, 0, 1));
    PQclear(r);
    if (is_reversal) {
        return fl_error_set(err, FLE_RULE, "entry_id", "entry %" PRId64 " is a reversal; post a new entry instead",
                            entry_id);
    }
    if (reversed) {
        return fl_error_set(err, FLE_ALREADY_REVERSED, "entry_id", "entry %" PRId64 " was already reversed", entry_id);
    }
    out->posted_by = posted_by;
    out->reverses_entry_id = entry_id;
    snprintf(out->memo, sizeof out->memo, "%s", memo);
    snprintf(out->event_type, sizeof out->event_type, "reversal");
    snprintf(out->event_ref, sizeof out->event_ref, "entry:%" PRId64, entry_id);
    r = db_exec(db, "ledger_reversal_build_lines", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    int rows = PQntuples(r);
    assert(rows >= 2 && rows <= LEDGER_LINES_MAX);
    for (int i = 0; i < rows; i++) {
        out->lines[i].account_id = db_i64(r, i, 0);
        snprintf(out->lines[i].currency, CURRENCY_CODE_BYTES, "%s", db_str(r, i, 1));
        out->lines[i].amount_minor = -db_i64(r, i, 2);
    }
    out->n_lines = (unsigned)rows;
    PQclear(r);
    return FLE_OK;
}

static json_t *lines_json(const PGresult *r, int from, int to)
{
    json_t *arr = json_array();
    for (int i = from; i < to; i++) {
        int64_t amt = db_i64(r, i, 6);
        const char *cur = db_str(r, i, 5);
        json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s}", "line_no", (json_int_t)db_i64(r, i, 1),
                              "account_id", (json_int_t)db_i64(r, i, 2), "account_code", db_str(r, i, 3),
                              "account_name", db_str(r, i, 4), "currency", cur);
        json_object_set_new(o, amt > 0 ? "debit" : "credit", jv_amount(amt > 0 ? amt : -amt, cur));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* Columns of ledger_entry_get_entry / ledger_entries_list_*: id, fund_id, effective_date, posted_at,
 * posted_by, posted_by_name, memo, event_type, event_ref, reverses, reversed_by, seal_pos, hash. */
static json_t *entry_json(const PGresult *r, int i)
{
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:{s:I, s:s}, s:s, s:s, s:s}", "id", (json_int_t)db_i64(r, i, 0),
                          "fund_id", (json_int_t)db_i64(r, i, 1), "effective_date", db_str(r, i, 2), "posted_at",
                          db_str(r, i, 3), "posted_by", "id", (json_int_t)db_i64(r, i, 4), "name", db_str(r, i, 5),
                          "memo", db_str(r, i, 6), "event_type", db_str(r, i, 7), "event_ref", db_str(r, i, 8));
    json_object_set_new(o, "reverses_entry_id", db_null(r, i, 9) ? json_null() : json_integer(db_i64(r, i, 9)));
    json_object_set_new(o, "reversed_by_entry_id",
                        db_null(r, i, 10) ? json_null() : json_integer(db_i64(r, i, 10)));
    json_object_set_new(o, "seal_pos", db_null(r, i, 11) ? json_null() : json_integer(db_i64(r, i, 11)));
    json_object_set_new(o, "hash", db_null(r, i, 12) ? json_null() : json_string(db_str(r, i, 12)));
    return o;
}

json_t *ledger_entry_get(struct db *db, int64_t entry_id, struct fl_error *err)
{
    char idb[21];
    const char *p[1] = {db_i64_text(entry_id, idb)};
    PGresult *r = db_exec(db, "ledger_entry_get_entry", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "entry_id", "no journal entry %" PRId64, entry_id);
        return NULL;
    }
    json_t *o = entry_json(r, 0);
    PQclear(r);
    r = db_exec(db, "ledger_entry_get_lines", 1, p, err);
    if (r == NULL) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "lines", lines_json(r, 0, PQntuples(r)));
    PQclear(r);
    return o;
}

json_t *ledger_entries_list(struct db *db, int64_t fund_id, int64_t account_id, const char *from, const char *to,
                            int64_t after_id, unsigned limit, struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    char fb[21], ab[21], accb[21], lb[21];
    /* One more than the page tells whether there is a next page. */
    const char *p[6] = {db_i64_text(fund_id, fb), db_i64_text(after_id, ab),
                        account_id > 0 ? db_i64_text(account_id, accb) : NULL, from, to,
                        db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, account_id > 0 ? "ledger_entries_list_account" : "ledger_entries_list_fund", 6, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    int rows = pg.rows;
    json_t *entries = json_array();
    struct db_array ids;
    db_array_init(&ids);
    for (int i = 0; i < rows; i++) {
        json_array_append_new(entries, entry_json(r, i));
        db_array_i64(&ids, db_i64(r, i, 0));
    }
    PQclear(r);
    const char *pl[1] = {db_array_str(&ids)};
    r = pl[0] ? db_exec(db, "ledger_entries_list_lines", 1, pl, err) : NULL;
    db_array_free(&ids);
    if (r == NULL) {
        json_decref(entries);
        return NULL;
    }
    /* Lines come ordered by entry id, the same order as the entries. */
    int at = 0, total = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        json_t *e = json_array_get(entries, (size_t)i);
        int64_t id = json_integer_value(json_object_get(e, "id"));
        int start = at;
        while (at < total && db_i64(r, at, 0) == id) {
            at++;
        }
        json_object_set_new(e, "lines", lines_json(r, start, at));
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "entries", entries, "next_after", jv_next_after(pg.more, pg.last));
}

enum fl_err ledger_balance(struct db *db, int64_t account_id, const char *as_of, int64_t *balance,
                           struct fl_error *err)
{
    char idb[21];
    const char *p[2] = {db_i64_text(account_id, idb), as_of};
    PGresult *r = db_exec(db, as_of ? "ledger_balance_as_of" : "ledger_balance_now", as_of ? 2 : 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "account_id", "no account %" PRId64, account_id);
    }
    *balance = db_i64(r, 0, 0);
    PQclear(r);
    return FLE_OK;
}

/* A total as the API shows amounts (jv_amount's layout), from 128 bits. */
static json_t *wide_amount(money_i128 minor, const char *currency)
{
    char buf[MONEY_WIDE_TEXT_MAX];
    int exp = money_currency_exponent(currency);
    money_format_wide(minor, exp < 0 ? 2 : exp, buf, sizeof buf);
    return json_string(buf);
}

json_t *ledger_trial_balance(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err)
{
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), as_of};
    PGresult *r = db_exec(db, "ledger_trial_balance", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *accounts = json_array();
    json_t *totals = json_array();
    int rows = PQntuples(r);
    /* Totals in 128 bits: a sum of int64 balances cannot overflow them, so the trial balance
     * always answers with exact figures (docs/architecture.md, Amount limits). */
    money_i128 debit = 0, credit = 0;
    for (int i = 0; i < rows; i++) {
        const char *cur = db_str(r, i, 4);
        int64_t bal = db_i64(r, i, 5);
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "account_id", (json_int_t)db_i64(r, i, 0), "code",
                              db_str(r, i, 1), "name", db_str(r, i, 2), "type", db_str(r, i, 3), "currency", cur);
        json_object_set_new(o, "debit", jv_amount(bal > 0 ? bal : 0, cur));
        json_object_set_new(o, "credit", jv_amount(bal < 0 ? -bal : 0, cur));
        json_array_append_new(accounts, o);
        if (bal > 0) {
            debit += bal;
        } else {
            credit -= (money_i128)bal;
        }
        /* Rows are ordered by currency: close the currency's total at its last row. */
        if (i + 1 == rows || strcmp(cur, db_str(r, i + 1, 4)) != 0) {
            json_array_append_new(totals, json_pack("{s:s, s:o, s:o, s:o}", "currency", cur, "debit",
                                                    wide_amount(debit, cur), "credit", wide_amount(credit, cur),
                                                    "difference", wide_amount(debit - credit, cur)));
            debit = credit = 0;
        }
    }
    PQclear(r);
    return json_pack("{s:I, s:o, s:o, s:o}", "fund_id", (json_int_t)fund_id, "as_of",
                     as_of ? json_string(as_of) : json_null(), "accounts", accounts, "totals", totals);
}
