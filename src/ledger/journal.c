/* journal: manual journal entries and reversals as four-eyes proposals, and their posting. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/fund.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"

/* Payload of a journal_entry proposal: {"effective_date", "memo", "lines": [{"account_id",
 * "currency", "amount"}]} with amount a signed decimal string in the line's currency (debit > 0),
 * as replies show money. Payloads stored before amounts were strings have an integer
 * "amount_minor" instead; entry_from_payload reads both (docs/architecture.md, "Stored payloads"). */
static json_t *entry_payload(const struct ledger_entry *e)
{
    json_t *lines = json_array();
    for (unsigned i = 0; i < e->n_lines; i++) {
        json_array_append_new(lines, json_pack("{s:I, s:s, s:o}", "account_id", (json_int_t)e->lines[i].account_id,
                                               "currency", e->lines[i].currency, "amount",
                                               jv_amount(e->lines[i].amount_minor, e->lines[i].currency)));
    }
    return json_pack("{s:s, s:s, s:o}", "effective_date", e->effective_date, "memo", e->memo, "lines", lines);
}

static bool entry_from_payload(const json_t *pl, struct ledger_entry *e)
{
    const char *date = json_string_value(json_object_get(pl, "effective_date"));
    const char *memo = json_string_value(json_object_get(pl, "memo"));
    json_t *lines = json_object_get(pl, "lines");
    if (!date || !memo || !json_is_array(lines) || json_array_size(lines) > LEDGER_LINES_MAX) {
        return false;
    }
    snprintf(e->effective_date, sizeof e->effective_date, "%s", date);
    snprintf(e->memo, sizeof e->memo, "%s", memo);
    e->n_lines = (unsigned)json_array_size(lines);
    for (unsigned i = 0; i < e->n_lines; i++) {
        json_t *l = json_array_get(lines, i);
        const char *cur = json_string_value(json_object_get(l, "currency"));
        if (cur == NULL || !jv_stored_amount(l, "amount", "amount_minor", cur, true, &e->lines[i].amount_minor)) {
            return false;
        }
        e->lines[i].account_id = json_integer_value(json_object_get(l, "account_id"));
        snprintf(e->lines[i].currency, CURRENCY_CODE_BYTES, "%s", cur);
    }
    return true;
}

json_t *journal_propose(struct db *db, const struct principal *maker, int64_t fund_id, const char *effective_date,
                        const char *memo, const struct journal_line_input *in, unsigned n, struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL);
    char base[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, base, err) != FLE_OK) {
        return NULL;
    }
    static _Thread_local struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    e.posted_by = maker->user_id;
    snprintf(e.event_type, sizeof e.event_type, "manual");
    if (effective_date == NULL || !ledger_date_valid(effective_date)) {
        fl_error_set(err, effective_date ? FLE_BAD_FIELD : FLE_MISSING_FIELD, "effective_date",
                     "a date YYYY-MM-DD");
        return NULL;
    }
    snprintf(e.effective_date, sizeof e.effective_date, "%s", effective_date);
    if (memo != NULL && strlen(memo) > LEDGER_MEMO_BYTES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "memo", "at most %d characters", LEDGER_MEMO_BYTES_MAX);
        return NULL;
    }
    snprintf(e.memo, sizeof e.memo, "%s", memo ? memo : "");
    if (n < 2 || n > LEDGER_LINES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "lines", "2 to %d lines", LEDGER_LINES_MAX);
        return NULL;
    }
    /* Each line's currency is its account's; the amount is parsed in that currency. */
    for (unsigned i = 0; i < n; i++) {
        char field[ERROR_FIELD_BYTES];
        json_t *acc = fund_account_get(db, in[i].account_id, NULL, err);
        if (acc == NULL && err != NULL && err->code != FLE_NOT_FOUND) {
            return NULL; /* the database failed (lost, refused): its error, not the client's */
        }
        if (acc == NULL || json_integer_value(json_object_get(acc, "fund_id")) != fund_id) {
            json_decref(acc);
            snprintf(field, sizeof field, "lines[%u].account_id", i);
            fl_error_set(err, FLE_BAD_FIELD, field, "no account %" PRId64 " in this fund", in[i].account_id);
            return NULL;
        }
        snprintf(e.lines[i].currency, CURRENCY_CODE_BYTES, "%s", json_string_value(json_object_get(acc, "currency")));
        json_decref(acc);
        e.lines[i].account_id = in[i].account_id;
        if ((in[i].debit == NULL) == (in[i].credit == NULL)) {
            snprintf(field, sizeof field, "lines[%u]", i);
            fl_error_set(err, FLE_BAD_FIELD, field, "a line has exactly one of debit or credit");
            return NULL;
        }
        const char *text = in[i].debit ? in[i].debit : in[i].credit;
        snprintf(field, sizeof field, "lines[%u].%s", i, in[i].debit ? "debit" : "credit");
        int64_t minor = 0;
        money_status st = money_parse_amount(text, money_currency_exponent(e.lines[i].currency), &minor);
        if (st != MONEY_OK) {
            fl_error_set(err, FLE_BAD_FIELD, field, "%s", money_status_text(st));
            return NULL;
        }
        if (minor == 0) {
            fl_error_set(err, FLE_BAD_FIELD, field, "a line moves a non-zero amount");
            return NULL;
        }
        e.lines[i].amount_minor = in[i].debit ? minor : -minor;
        if (strcmp(e.lines[i].currency, e.lines[0].currency) != 0) {
            snprintf(field, sizeof field, "lines[%u].account_id", i);
            fl_error_set(err, FLE_BAD_FIELD, field, "a manual entry is in one currency");
            return NULL;
        }
    }
    e.n_lines = n;
    if (ledger_check(&e, err) != FLE_OK) {
        return NULL;
    }
    int64_t debits = 0;
    for (unsigned i = 0; i < n; i++) {
        if (e.lines[i].amount_minor > 0 && !money_add(debits, e.lines[i].amount_minor, &debits)) {
            fl_error_set(err, FLE_BAD_FIELD, "lines", "the debits add up to more than can be recorded");
            return NULL;
        }
    }
    return approval_propose(db, maker, fund_id, "journal_entry", entry_payload(&e), debits, e.lines[0].currency,
                            err);
}

enum fl_err journal_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                            int64_t *entry_id, struct fl_error *err)
{
    static _Thread_local struct ledger_entry e;
    memset(&e, 0, sizeof e);
    if (!entry_from_payload(p->payload, &e)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "proposal %" PRId64 " has an unreadable entry", p->id);
    }
    e.fund_id = p->fund_id;
    e.posted_by = approver->user_id;
    snprintf(e.event_type, sizeof e.event_type, "manual");
    snprintf(e.event_ref, sizeof e.event_ref, "proposal:%" PRId64, p->id);
    const struct ledger_entry *one = &e;
    return ledger_post(db, &one, 1, entry_id, err);
}

json_t *journal_reversal_propose(struct db *db, const struct principal *maker, int64_t entry_id, const char *memo,
                                 const char *effective_date, struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL);
    if (effective_date != NULL && !ledger_date_valid(effective_date)) {
        fl_error_set(err, FLE_BAD_FIELD, "effective_date", "a date YYYY-MM-DD");
        return NULL;
    }
    if (memo == NULL || memo[0] == '\0' || strlen(memo) > LEDGER_MEMO_BYTES_MAX) {
        fl_error_set(err, memo ? FLE_BAD_FIELD : FLE_MISSING_FIELD, "memo", "say why: 1-%d characters",
                     LEDGER_MEMO_BYTES_MAX);
        return NULL;
    }
    static _Thread_local struct ledger_entry e;
    if (ledger_reversal_build(db, entry_id, maker->user_id, memo, effective_date, &e, err) != FLE_OK) {
        return NULL;
    }
    int64_t debits = 0;
    for (unsigned i = 0; i < e.n_lines; i++) {
        if (e.lines[i].amount_minor > 0 && strcmp(e.lines[i].currency, e.lines[0].currency) == 0 &&
            !money_add(debits, e.lines[i].amount_minor, &debits)) {
            fl_error_set(err, FLE_RULE, "entry_id", "the entry's debits cannot be totalled");
            return NULL;
        }
    }
    json_t *payload = json_pack("{s:I, s:s, s:s}", "entry_id", (json_int_t)entry_id, "memo", memo, "effective_date",
                                e.effective_date);
    return approval_propose(db, maker, e.fund_id, "reversal", payload, debits, e.lines[0].currency, err);
}

enum fl_err journal_reversal_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                     int64_t *entry_id, struct fl_error *err)
{
    static _Thread_local struct ledger_entry e;
    json_int_t original = json_integer_value(json_object_get(p->payload, "entry_id"));
    const char *memo = json_string_value(json_object_get(p->payload, "memo"));
    const char *date = json_string_value(json_object_get(p->payload, "effective_date"));
    if (original <= 0 || memo == NULL || date == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "proposal %" PRId64 " has an unreadable reversal", p->id);
    }
    enum fl_err rc = ledger_reversal_build(db, original, approver->user_id, memo, date, &e, err);
    if (rc != FLE_OK) {
        return rc;
    }
    const struct ledger_entry *one = &e;
    return ledger_post(db, &one, 1, entry_id, err);
}
