/* verify_run: runs the full verify with the configuration's anchor key and log, and keeps each
 * run (verify_run, migration 0021) for the auditor's screen. */
#include "fundledger/verify_run.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fundledger/anchor.h"
#include "fundledger/audit.h"
#include "fundledger/jsonv.h"
#include "fundledger/limits.h"

static void now_utc(char out[VERIFY_RUN_TIME_BYTES])
{
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        memset(&tm, 0, sizeof tm);
        ts.tv_nsec = 0;
    }
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, VERIFY_RUN_TIME_BYTES, "%.19s.%06dZ", day, (int)((ts.tv_nsec / 1000) % 1000000));
}

enum fl_err verify_run_check(struct db *db, const struct config *cfg, struct ledger_verify_report *rep,
                             char started_at[VERIFY_RUN_TIME_BYTES], char *anchor_log, struct fl_error *err)
{
    assert(db != NULL && cfg != NULL && rep != NULL && started_at != NULL);
    now_utc(started_at);
    struct anchor_paths paths;
    anchor_paths_from_config(cfg, PQdb(db_pg(db)), &paths);
    if (anchor_log != NULL) {
        snprintf(anchor_log, ANCHOR_PATH_BYTES, "%s", paths.log);
    }
    struct anchor_verifier *v = NULL;
    if (anchor_verifier_open(&paths, &v, err) != FLE_OK) {
        if (err->code != FLE_NOT_FOUND) {
            return err->code;
        }
        fl_error_clear(err); /* no key: verify names every anchor it cannot check */
    }
    struct ledger_verify_options o = {.verifier = v, .anchor_log = paths.log};
    enum fl_err e = ledger_verify_full(db, &o, rep, err);
    anchor_verifier_close(v);
    return e;
}

/* Columns: id, started_at, finished_at, via, user_id, run_by, entries_checked, entries_unsealed,
 * accounts_checked, anchors_checked, anchor_log_lines, origins_checked, key_id, ok,
 * problems_total, findings (verify_run_insert and verify_run_list return these). */
static json_t *run_json(const PGresult *r, int i)
{
    json_error_t je;
    json_t *findings = json_loads(db_str(r, i, 15), JSON_DECODE_ANY, &je);
    if (findings == NULL || !json_is_array(findings)) {
        json_decref(findings);
        findings = json_array();
    }
    bool ok = db_bool(r, i, 13);
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:b, s:I, s:o}", "id",
                     (json_int_t)db_i64(r, i, 0), "started_at", db_str(r, i, 1), "finished_at", db_str(r, i, 2), "via",
                     db_str(r, i, 3), "user_id", db_null(r, i, 4) ? json_null() : json_integer(db_i64(r, i, 4)),
                     "run_by", db_str(r, i, 5), "entries_checked", (json_int_t)db_i64(r, i, 6), "entries_unsealed",
                     (json_int_t)db_i64(r, i, 7), "accounts_checked", (json_int_t)db_i64(r, i, 8), "anchors_checked",
                     (json_int_t)db_i64(r, i, 9), "anchor_log_lines", (json_int_t)db_i64(r, i, 10), "origins_checked",
                     (json_int_t)db_i64(r, i, 11), "key_id", db_str(r, i, 12), "result", ok ? "ok" : "failed", "ok", ok,
                     "problems_total", (json_int_t)db_i64(r, i, 14), "findings", findings);
}

json_t *verify_run_record(struct db *db, const struct principal *actor, const char *via, const char *run_by,
                          const char *started_at, const struct ledger_verify_report *rep, struct fl_error *err)
{
    assert(db != NULL && via != NULL && run_by != NULL && started_at != NULL && rep != NULL);
    assert((strcmp(via, "api") == 0) == (actor != NULL));
    json_t *findings = json_array();
    for (unsigned i = 0; findings != NULL && i < rep->problems_n; i++) {
        const struct ledger_verify_problem *p = &rep->problems[i];
        json_array_append_new(findings,
                              json_pack("{s:o, s:o, s:s}", "entry_id",
                                        p->entry_id ? json_integer(p->entry_id) : json_null(), "account_id",
                                        p->account_id ? json_integer(p->account_id) : json_null(), "text", p->text));
    }
    char *text = findings ? json_dumps(findings, JSON_COMPACT) : NULL;
    json_decref(findings);
    if (text == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    char ub[21], b[6][21], tb[21];
    const char *p[14] = {started_at,
                         via,
                         actor ? db_i64_text(actor->user_id, ub) : NULL,
                         run_by,
                         db_i64_text(rep->entries_checked, b[0]),
                         db_i64_text(rep->entries_unsealed, b[1]),
                         db_i64_text(rep->accounts_checked, b[2]),
                         db_i64_text(rep->anchors_checked, b[3]),
                         db_i64_text(rep->anchor_log_lines, b[4]),
                         db_i64_text(rep->origins_checked, b[5]),
                         rep->key_id,
                         rep->ok ? "true" : "false",
                         db_i64_text((int64_t)rep->problems_total, tb),
                         text};
    PGresult *r = db_exec_rows(db, "verify_run_insert", 14, p, 1, err);
    free(text);
    if (r == NULL) {
        return NULL;
    }
    json_t *run = run_json(r, 0);
    PQclear(r);
    if (run == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    char idb[21];
    json_t *detail = json_pack("{s:s, s:b, s:I, s:I}", "via", via, "ok", rep->ok, "problems_total",
                               (json_int_t)rep->problems_total, "entries_checked", (json_int_t)rep->origins_checked);
    if (audit_record(db, actor, "verify.run", "verify_run",
                     db_i64_text(json_integer_value(json_object_get(run, "id")), idb), 0, detail, err) != FLE_OK) {
        json_decref(run);
        return NULL;
    }
    return run;
}

struct cli_args {
    const char *run_by;
    const char *started_at;
    const struct ledger_verify_report *rep;
    json_t *run;
};

static enum fl_err cli_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct cli_args *a = arg;
    json_decref(a->run); /* a retry starts over */
    a->run = verify_run_record(db, NULL, "cli", a->run_by, a->started_at, a->rep, err);
    return a->run ? FLE_OK : err->code;
}

enum fl_err verify_run_cli(struct db *db, const struct config *cfg, const char *run_by,
                           struct ledger_verify_report *rep, char *anchor_log, json_t **run, struct fl_error *err)
{
    assert(run_by != NULL);
    char started[VERIFY_RUN_TIME_BYTES];
    enum fl_err e = verify_run_check(db, cfg, rep, started, anchor_log, err);
    if (e != FLE_OK) {
        return e;
    }
    struct cli_args a = {.run_by = run_by, .started_at = started, .rep = rep};
    e = db_tx(db, cli_tx, &a, err);
    if (e == FLE_OK && run != NULL) {
        *run = a.run;
    } else {
        json_decref(a.run);
    }
    return e;
}

json_t *verify_run_list(struct db *db, int64_t before, unsigned limit, struct fl_error *err)
{
    assert(db != NULL && limit >= 1 && limit <= PAGE_SIZE_MAX);
    char bb[21], lb[21];
    const char *p[2] = {db_i64_text(before, bb), db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, "verify_run_list", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    json_t *runs = json_array();
    for (int i = 0; runs != NULL && i < pg.rows; i++) {
        json_array_append_new(runs, run_json(r, i));
    }
    PQclear(r);
    json_t *latest = NULL;
    if (before == 0) {
        latest = runs && json_array_size(runs) > 0 ? json_incref(json_array_get(runs, 0)) : json_null();
    } else {
        const char *q[2] = {"0", "1"};
        if ((r = db_exec(db, "verify_run_list", 2, q, err)) == NULL) {
            json_decref(runs);
            return NULL;
        }
        latest = PQntuples(r) > 0 ? run_json(r, 0) : json_null();
        PQclear(r);
    }
    json_t *out =
        json_pack("{s:o, s:o, s:o}", "latest", latest, "runs", runs, "next_before", jv_next_after(pg.more, pg.last));
    if (out == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return out;
}
