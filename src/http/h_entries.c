/* h_entries: journal entries: propose (four eyes), read, list, reverse. */
#include <stdio.h>

#include "fundledger/approval.h"
#include "fundledger/fund.h"
#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"

void h_entries_get(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, ledger_entry_get(r->db, id, &err), &err);
}

void h_entries_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, account_id, after;
    unsigned limit;
    const char *from, *to;
    if (!http_param_id(r, 0, &fund_id, out) || !http_query_id(r, "account_id", &account_id, out) ||
        !http_query_date(r, "from", &from, out) || !http_query_date(r, "to", &to, out) ||
        !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    if (fund_exists(r->db, fund_id, NULL, &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    http_reply_result(out, 200, ledger_entries_list(r->db, fund_id, account_id, from, to, after, limit, &err), &err);
}

struct propose_args {
    const struct principal *who;
    int64_t fund_id;
    const char *date, *memo;
    struct journal_line_input lines[LEDGER_LINES_MAX];
    unsigned n;
};

static enum fl_err propose_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct propose_args *a = arg;
    *status = 201;
    *reply = journal_propose(db, a->who, a->fund_id, a->date, a->memo, a->lines, a->n, err);
    return *reply ? FLE_OK : err->code;
}

void h_entries_propose(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"effective_date", JV_DATE, true, 0},
        {"memo", JV_TEXT, false, LEDGER_MEMO_BYTES_MAX},
        {"lines", JV_ARRAY, true, LEDGER_LINES_MAX},
    };
    static const struct jv_field line_spec[] = {
        {"account_id", JV_ID, true, 0},
        {"debit", JV_AMOUNT, false, 0},
        {"credit", JV_AMOUNT, false, 0},
    };
    static _Thread_local struct propose_args a;
    a = (struct propose_args){.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    json_t *lines = json_object_get(r->body, "lines");
    a.n = (unsigned)json_array_size(lines);
    for (unsigned i = 0; i < a.n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "lines[%u]", i);
        json_t *l = json_array_get(lines, i);
        if (jv_check(l, line_spec, sizeof line_spec / sizeof line_spec[0], prefix, &err) != FLE_OK) {
            http_reply_error(out, &err);
            return;
        }
        a.lines[i] = (struct journal_line_input){jv_int(l, "account_id"), jv_str(l, "debit"), jv_str(l, "credit")};
    }
    a.date = jv_str(r->body, "effective_date");
    a.memo = jv_str(r->body, "memo");
    http_write(r, out, propose_op, &a);
}

struct reverse_args {
    const struct principal *who;
    int64_t entry_id;
    const char *memo, *date;
};

static enum fl_err reverse_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct reverse_args *a = arg;
    *status = 201;
    *reply = journal_reversal_propose(db, a->who, a->entry_id, a->memo, a->date, err);
    return *reply ? FLE_OK : err->code;
}

void h_entries_reverse(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"memo", JV_STRING, true, LEDGER_MEMO_BYTES_MAX},
        {"effective_date", JV_DATE, false, 0},
    };
    struct reverse_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.entry_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.memo = jv_str(r->body, "memo");
    a.date = jv_str(r->body, "effective_date");
    http_write(r, out, reverse_op, &a);
}
