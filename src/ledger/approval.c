/* approval: proposals and decisions (four eyes), dispatching the final approval to its kind. */
#include "fundledger/approval.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/money.h"
#include "fundledger/loan.h"
#include "fundledger/tranche.h"
#include "fundledger/repayment.h"
#include "fundledger/distribution.h"
#include "fundledger/charge.h"

static const struct {
    const char *name;
    approval_execute_fn execute;
    approval_reject_fn reject; /* NULL when a rejection changes nothing else */
} kinds[] = {
    {"journal_entry", journal_execute, NULL},
    {"reversal", journal_reversal_execute, NULL},
    {"tranche", tranche_execute, NULL},
    {"tranche_change", tranche_change_execute, NULL},
    {"loan", loan_execute, loan_reject},
    {"disbursement", disbursement_execute, NULL},
    {"write_off", writeoff_execute, NULL},
    {"fund_settings", fund_settings_execute, NULL},
    {"loan_charge", loan_charge_execute, NULL},
    /* @kinds@ */
};

static int kind_index(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static approval_execute_fn kind_execute(const char *name)
{
    int i = kind_index(name);
    return i < 0 ? NULL : kinds[i].execute;
}

/* Columns of approval_get / approval_list: id, fund_id, kind, payload, amount, currency, status,
 * proposed_by, maker name, proposed_at, decided_at, reason, result_entry_id, decisions (json). */
static json_t *proposal_json(const PGresult *r, int i)
{
    json_error_t je;
    json_t *payload = json_loads(db_str(r, i, 3), 0, &je);
    json_t *decisions = json_loads(db_str(r, i, 13), 0, &je);
    return json_pack("{s:I, s:I, s:s, s:o, s:o, s:s, s:s, s:{s:I, s:s}, s:s, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)db_i64(r, i, 0), "fund_id", (json_int_t)db_i64(r, i, 1), "kind", db_str(r, i, 2),
                     "payload", payload ? payload : json_null(), "amount",
                     jv_amount(db_i64(r, i, 4), db_str(r, i, 5)), "currency", db_str(r, i, 5), "status",
                     db_str(r, i, 6), "proposed_by", "id", (json_int_t)db_i64(r, i, 7), "name", db_str(r, i, 8),
                     "proposed_at", db_str(r, i, 9), "decided_at",
                     db_null(r, i, 10) ? json_null() : json_string(db_str(r, i, 10)), "reason",
                     db_null(r, i, 11) ? json_null() : json_string(db_str(r, i, 11)), "result_entry_id",
                     db_null(r, i, 12) ? json_null() : json_integer(db_i64(r, i, 12)), "decisions",
                     decisions ? decisions : json_array());
}

json_t *approval_get(struct db *db, int64_t proposal_id, struct fl_error *err)
{
    char pb[21];
    const char *p[1] = {db_i64_text(proposal_id, pb)};
    PGresult *r = db_exec(db, "approval_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "proposal_id", "no proposal %" PRId64, proposal_id);
        return NULL;
    }
    json_t *o = proposal_json(r, 0);
    PQclear(r);
    return o;
}

json_t *approval_list(struct db *db, int64_t fund_id, const char *status, int64_t after_id, unsigned limit,
                      struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    char fb[21], ab[21], lb[21];
    const char *p[4] = {fund_id ? db_i64_text(fund_id, fb) : NULL, status, db_i64_text(after_id, ab),
                        db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, "approval_list", 4, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    int rows = pg.rows;
    json_t *a = json_array();
    for (int i = 0; i < rows; i++) {
        json_array_append_new(a, proposal_json(r, i));
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "proposals", a, "next_after", jv_next_after(pg.more, pg.last));
}

json_t *approval_propose(struct db *db, const struct principal *maker, int64_t fund_id, const char *kind,
                         json_t *payload, int64_t amount_minor, const char *currency, struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL && payload != NULL);
    assert(kind_execute(kind) != NULL);
    assert(amount_minor >= 0);
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    if (text == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    char fb[21], ab[21], ub[21];
    const char *p[6] = {db_i64_text(fund_id, fb), kind, text, db_i64_text(amount_minor, ab), currency,
                        db_i64_text(maker->user_id, ub)};
    PGresult *r = db_exec(db, "approval_propose", 6, p, err);
    free(text);
    if (r == NULL) {
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char idb[21];
    json_t *detail = json_pack("{s:s, s:o, s:s}", "kind", kind, "amount", jv_amount(amount_minor, currency),
                               "currency", currency);
    if (audit_record(db, maker, "proposal.create", "proposal", db_i64_text(id, idb), fund_id, detail, err) !=
        FLE_OK) {
        return NULL;
    }
    return approval_get(db, id, err);
}

/* Records a decision row, the audit event, and (when final) the proposal's new status. */
static enum fl_err record(struct db *db, const struct principal *who, const struct proposal *p, const char *decision,
                          const char *reason, int64_t limit, const char *final_status, int64_t entry_id,
                          struct fl_error *err)
{
    char pb[21], ub[21], lb[21], eb[21];
    const char *pd[5] = {db_i64_text(p->id, pb), db_i64_text(who->user_id, ub), decision, reason ? reason : "",
                         db_i64_text(limit, lb)};
    PGresult *r = db_exec(db, "approval_record_decision", 5, pd, err);
    if (r == NULL) {
        return err->code == FLE_DUPLICATE
                   ? fl_error_set(err, FLE_ALREADY_DECIDED, "proposal_id", "you already approved this proposal")
                   : err->code;
    }
    PQclear(r);
    if (final_status != NULL) {
        const char *ps[4] = {pb, final_status, reason && reason[0] ? reason : NULL,
                             entry_id ? db_i64_text(entry_id, eb) : NULL};
        r = db_exec_rows(db, "approval_finish", 4, ps, 1, err);
        if (r == NULL) {
            return err->code;
        }
        PQclear(r);
    }
    json_t *detail = json_pack("{s:s, s:s}", "kind", p->kind, "decision", decision);
    if (final_status) {
        json_object_set_new(detail, "status", json_string(final_status));
    }
    if (entry_id) {
        json_object_set_new(detail, "entry_id", json_integer(entry_id));
    }
    char action[32];
    snprintf(action, sizeof action, "proposal.%s", decision);
    return audit_record(db, who, action, "proposal", pb, p->fund_id, detail, err);
}

json_t *approval_decide(struct db *db, const struct principal *approver, int64_t proposal_id, bool approve,
                        const char *reason, struct fl_error *err)
{
    assert(db_in_tx(db) && approver != NULL);
    if (!approve && (reason == NULL || reason[0] == '\0')) {
        fl_error_set(err, FLE_MISSING_FIELD, "reason", "a rejection says why");
        return NULL;
    }
    if (reason != NULL && strlen(reason) > REASON_BYTES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "reason", "at most %d characters", REASON_BYTES_MAX);
        return NULL;
    }
    char pb[21], ub[21];
    const char *p[2] = {db_i64_text(proposal_id, pb), db_i64_text(approver->user_id, ub)};
    /* Locks the proposal: a racing approver waits here and then sees the decision. */
    PGresult *r = db_exec(db, "approval_decide_lock", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "proposal_id", "no proposal %" PRId64, proposal_id);
        return NULL;
    }
    struct proposal prop = {.id = db_i64(r, 0, 0), .fund_id = db_i64(r, 0, 1), .amount_minor = db_i64(r, 0, 4),
                            .proposed_by = db_i64(r, 0, 7)};
    snprintf(prop.kind, sizeof prop.kind, "%s", db_str(r, 0, 2));
    snprintf(prop.currency, sizeof prop.currency, "%s", db_str(r, 0, 5));
    bool pending = strcmp(db_str(r, 0, 6), "pending") == 0;
    json_error_t je;
    prop.payload = json_loads(db_str(r, 0, 3), 0, &je);
    PQclear(r);
    r = db_exec(db, "approval_decide_prior", 2, p, err);
    if (r == NULL) {
        json_decref(prop.payload);
        return NULL;
    }
    bool has_limit = !db_null(r, 0, 0);
    int64_t limit = db_i64(r, 0, 0);
    int64_t prior_n = db_i64(r, 0, 1), prior_sum = db_i64(r, 0, 2);
    bool mine_before = db_bool(r, 0, 3);
    PQclear(r);

    enum fl_err e = FLE_OK;
    if (prop.payload == NULL) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "proposal payload unreadable");
    } else if (!pending) {
        e = fl_error_set(err, FLE_ALREADY_DECIDED, "proposal_id", "proposal %" PRId64 " was already decided",
                         proposal_id);
    } else if (prop.proposed_by == approver->user_id) {
        e = fl_error_set(err, FLE_SELF_APPROVAL, "proposal_id", "you proposed this; another approver must decide");
    } else if (mine_before) {
        e = fl_error_set(err, FLE_ALREADY_DECIDED, "proposal_id", "you already approved this proposal");
    } else if (!approve) {
        int k = kind_index(prop.kind);
        e = k >= 0 && kinds[k].reject ? kinds[k].reject(db, &prop, approver, err) : FLE_OK;
        if (e == FLE_OK) {
            e = record(db, approver, &prop, "reject", reason, has_limit ? limit : 0, "rejected", 0, err);
        }
    } else if (!has_limit || limit == 0) {
        e = fl_error_set(err, FLE_OVER_LIMIT, "proposal_id", "you have no approval authority in %s", prop.currency);
    } else {
        money_i128 combined = (money_i128)limit + prior_sum;
        bool final = prop.amount_minor <= limit || (prior_n >= 1 && prop.amount_minor <= combined);
        if (!final && prior_n >= 1) {
            e = fl_error_set(err, FLE_OVER_LIMIT, "proposal_id",
                             "the amount is over the combined limits of the approvers");
        } else if (!final) {
            /* Over this approver's limit: their approval counts as the first of two. */
            e = record(db, approver, &prop, "approve", reason, limit, NULL, 0, err);
        } else {
            approval_execute_fn exec = kind_execute(prop.kind);
            int64_t entry_id = 0;
            e = exec ? exec(db, &prop, approver, &entry_id, err)
                     : fl_error_set(err, FLE_INTERNAL, NULL, "unknown proposal kind %s", prop.kind);
            if (e == FLE_OK) {
                e = record(db, approver, &prop, "approve", reason, limit, "approved", entry_id, err);
            }
        }
    }
    json_decref(prop.payload);
    return e == FLE_OK ? approval_get(db, proposal_id, err) : NULL;
}
