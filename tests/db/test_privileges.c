/* test_privileges: the service role fundledger_app (migrations/0010_roles.sql). It is no
 * superuser, owns nothing and holds exactly the privileges of the table in docs/architecture.md
 * (Database roles); every escape the issue found, tried as that role, is refused for its reason
 * (SQLSTATE and message); the guards on proposals, tokens, users and idempotency keys hold for
 * the owner too; and the role can do its normal work. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/fund.h"
#include "fundledger/idempotency.h"
#include "fundledger/ledger.h"
#include "fundledger/migrate.h"
#include "testdb.h"

static const char *ci; /* the service role's */
static struct db *db;  /* a service connection, as the server's */
static struct principal manager, approver;
static int64_t fund_id, cash, capital;

/* What fundledger_app may do on each table and sequence of the schema: the privileges in
 * alphabetical order, then UPDATE(columns) when it may update some columns. "" = nothing. The
 * same table is in docs/architecture.md; a table or sequence missing here fails the test. */
static const struct {
    const char *rel;
    const char *privs;
} expected[] = {
    {"account", "INSERT,SELECT"},
    {"account_balance", "INSERT,SELECT UPDATE(balance_minor)"},
    {"account_id_seq", "USAGE"},
    {"api_token", "INSERT,SELECT UPDATE(expires_at,revoked_at)"},
    {"api_token_id_seq", "USAGE"},
    {"app_user", "INSERT,SELECT"},
    {"app_user_id_seq", "USAGE"},
    {"approval_limit", "INSERT,SELECT UPDATE(limit_minor)"},
    {"audit_log", "INSERT,SELECT"},
    {"audit_log_id_seq", "USAGE"},
    {"capital_call", "INSERT,SELECT"},
    {"capital_call_id_seq", "USAGE"},
    {"commitment_cancellation", "INSERT,SELECT"},
    {"commitment_cancellation_id_seq", "USAGE"},
    {"contribution", "INSERT,SELECT"},
    {"contribution_id_seq", "USAGE"},
    {"disbursement", "INSERT,SELECT"},
    {"disbursement_id_seq", "USAGE"},
    {"entrepreneur", "INSERT,SELECT UPDATE(stage,stage_changed_at)"},
    {"entrepreneur_id_seq", "USAGE"},
    {"entrepreneur_stage", "INSERT,SELECT"},
    {"entrepreneur_stage_id_seq", "USAGE"},
    {"fund", "INSERT,SELECT UPDATE(reserve_target_minor,waterfall_mode)"},
    {"fund_default_rate", "INSERT,SELECT"},
    {"fund_default_rate_id_seq", "USAGE"},
    {"fund_id_seq", "USAGE"},
    {"hs_measure", "INSERT,SELECT UPDATE(approved_at,approved_by)"},
    {"hs_measure_id_seq", "USAGE"},
    {"idempotency_key", "INSERT,SELECT"},
    {"journal_entry", "INSERT,SELECT UPDATE(hash,prev_hash,seal_pos)"},
    {"journal_entry_id_seq", "USAGE"},
    {"journal_line", "INSERT,SELECT"},
    {"ledger_anchor", "INSERT,SELECT"},
    {"login_attempt", "INSERT,SELECT"},
    {"login_attempt_id_seq", "USAGE"},
    {"loan", "INSERT,SELECT UPDATE(approved_on,capitalised_minor,drawn_minor,status,written_off_minor)"},
    {"loan_accrual", "INSERT,SELECT"},
    {"loan_accrual_id_seq", "USAGE"},
    {"loan_capitalisation", "DELETE,INSERT,SELECT UPDATE(entry_id)"},
    {"loan_charge", "INSERT,SELECT"},
    {"loan_charge_id_seq", "USAGE"},
    {"loan_condition", "INSERT,SELECT"},
    {"loan_funding", "INSERT,SELECT"},
    {"loan_id_seq", "USAGE"},
    {"loan_schedule", "INSERT,SELECT"},
    {"loan_schedule_version", "INSERT,SELECT"},
    {"loan_schedule_version_row", "INSERT,SELECT"},
    {"municipality", "SELECT"},
    {"nav_allocation", "INSERT,SELECT"},
    {"nav_allocation_id_seq", "USAGE"},
    {"nav_allocation_tranche", "INSERT,SELECT"},
    {"organisation", "INSERT,SELECT"},
    {"organisation_id_seq", "USAGE"},
    {"proposal", "INSERT,SELECT UPDATE(decided_at,reason,result_entry_id,status)"},
    {"period_close", "INSERT,SELECT"},
    {"proposal_decision", "INSERT,SELECT"},
    {"proposal_id_seq", "USAGE"},
    {"provision_bucket", "SELECT"},
    {"provision_bucket_id_seq", ""},
    {"provision_loan", "INSERT,SELECT"},
    {"provision_run", "INSERT,SELECT"},
    {"provision_run_id_seq", "USAGE"},
    {"provision_tranche", "INSERT,SELECT"},
    {"publication", "INSERT,SELECT"},
    {"publication_chain_head", "INSERT,SELECT"},
    {"publication_id_seq", "USAGE"},
    {"recovery", "INSERT,SELECT"},
    {"recovery_id_seq", "USAGE"},
    {"repayment", "INSERT,SELECT"},
    {"repayment_allocation", "INSERT,SELECT"},
    {"repayment_id_seq", "USAGE"},
    {"schema_migration", "SELECT"},
    {"tranche", "INSERT,SELECT UPDATE(commitment_minor,eligibility,fee_rate,return_rate,status)"},
    {"tranche_change", "INSERT,SELECT"},
    {"tranche_change_id_seq", "USAGE"},
    {"tranche_id_seq", "USAGE"},
    {"usury_rate", "SELECT"},
    {"usury_rate_id_seq", ""},
    {"value_chain", "SELECT"},
    {"user_credential", "INSERT,SELECT UPDATE(password_hash,totp_last_step,totp_sealed,totp_secret,updated_at)"},
    {"verify_run", "INSERT,SELECT"},
    {"verify_run_id_seq", "USAGE"},
    {"waterfall_run", "INSERT,SELECT"},
    {"waterfall_run_id_seq", "USAGE"},
    {"waterfall_step", "INSERT,SELECT"},
    {"web_session", "INSERT,SELECT UPDATE(ended_at,ended_why,last_seen_at)"},
    {"web_session_id_seq", "USAGE"},
    {"write_off", "INSERT,SELECT"},
    {"write_off_id_seq", "USAGE"},
};

#define EXPECTED_COUNT (sizeof expected / sizeof expected[0])

/* ---- helpers ----------------------------------------------------------------------------- */

static int64_t scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

/* sql, run as the service role, must fail with SQLSTATE state and a message containing reason. */
static void refused(const char *sql, const char *state, const char *reason)
{
    char st[6];
    char *msg = testdb_service_refusal(ci, sql, st);
    if (msg == NULL) {
        fail_msg("the service role was allowed: %s", sql);
        return;
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", msg);
    free(msg);
    if (strcmp(st, state) != 0 || strstr(copy, reason) == NULL) {
        fail_msg("%s\n  refused as %s \"%s\", expected %s \"%s\"", sql, st, copy, state, reason);
    }
}

/* sql, run as the owner, must fail with a message containing reason (a guard that holds for the
 * owner too, not only a missing privilege). */
static void refused_for_owner(const char *sql, const char *reason)
{
    char *msg = testdb_refusal(ci, sql);
    if (msg == NULL) {
        fail_msg("the owner was allowed: %s", sql);
        return;
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", msg);
    free(msg);
    if (strstr(copy, reason) == NULL) {
        fail_msg("%s\n  refused as \"%s\", expected \"%s\"", sql, copy, reason);
    }
}

static struct principal make_user(const char *name, enum role role)
{
    struct principal p = {.role = role};
    struct fl_error err;
    assert_int_equal(auth_user_add(db, name, role, 0, &p.user_id, &err), FLE_OK);
    snprintf(p.name, sizeof p.name, "%s", name);
    return p;
}

static enum fl_err make_fund_tx(struct db *d, void *arg, struct fl_error *err)
{
    int64_t *id = arg;
    json_t *f = fund_create(d, &manager, "PRIV", "Privileges fund", "COP", err);
    if (f == NULL) {
        return err->code;
    }
    *id = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    return FLE_OK;
}

struct propose_args {
    const char *amount;
    int64_t id;
};

static enum fl_err propose_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct propose_args *a = arg;
    struct journal_line_input lines[2] = {{cash, a->amount, NULL}, {capital, NULL, a->amount}};
    json_t *p = journal_propose(d, &manager, fund_id, "2026-04-01", "privileges", lines, 2, err);
    if (p == NULL) {
        return err->code;
    }
    a->id = json_integer_value(json_object_get(p, "id"));
    json_decref(p);
    return FLE_OK;
}

static int64_t propose(const char *amount)
{
    struct propose_args a = {amount, 0};
    struct fl_error err;
    assert_int_equal(db_tx(db, propose_tx, &a, &err), FLE_OK);
    return a.id;
}

struct decide_args {
    int64_t id;
    bool approve;
};

static enum fl_err decide_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct decide_args *a = arg;
    json_t *p = approval_decide(d, &approver, a->id, a->approve, a->approve ? NULL : "not supported", err);
    if (p == NULL) {
        return err->code;
    }
    json_decref(p);
    return FLE_OK;
}

static enum fl_err decide(int64_t id, bool approve)
{
    struct decide_args a = {id, approve};
    struct fl_error err;
    return db_tx(db, decide_tx, &a, &err);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("privileges");
    db = testdb_open(ci);
    manager = make_user("manager", ROLE_FUND_MANAGER);
    approver = make_user("approver", ROLE_APPROVER);
    struct fl_error err;
    assert_int_equal(auth_limit_set(db, approver.user_id, "COP", 100000000, &err), FLE_OK);
    assert_int_equal(db_tx(db, make_fund_tx, &fund_id, &err), FLE_OK);
    assert_int_equal(fund_account_by_code(db, fund_id, "1000", &cash, &err), FLE_OK);
    assert_int_equal(fund_account_by_code(db, fund_id, "3000", &capital, &err), FLE_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* ---- the role ---------------------------------------------------------------------------- */

static void test_service_role_is_plain(void **state)
{
    (void)state;
    /* The service's connections really are fundledger_app. */
    struct fl_error err;
    PGresult *r =
        db_exec_sql(db, "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)", &err);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "fundledger_app");
    assert_string_equal(PQgetvalue(r, 0, 1), "f");
    PQclear(r);
    /* What the command line checks before warning that the service holds the owner's rights. */
    char role[64];
    assert_int_equal(migrate_role_is_owner(db, role, sizeof role, &err), 0);
    assert_string_equal(role, "fundledger_app");
    struct db *owner = NULL;
    assert_int_equal(db_open(testdb_owner(ci), false, 0, &owner, &err), FLE_OK);
    assert_int_equal(migrate_role_is_owner(owner, role, sizeof role, &err), 1);
    assert_string_equal(role, "fundledger");
    db_close(owner);
    char *attrs =
        testdb_scalar(ci, "SELECT concat_ws(',', rolsuper, rolcreaterole, rolcreatedb, rolreplication, "
                          "rolbypassrls, rolinherit, rolcanlogin) FROM pg_roles WHERE rolname = 'fundledger_app'");
    assert_non_null(attrs);
    assert_string_equal(attrs, "f,f,f,f,f,f,t");
    free(attrs);
    /* A member of no role, and no role is a member of it. */
    assert_int_equal(
        scalar_i64("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid IN (m.member, m.roleid) "
                   "WHERE r.rolname = 'fundledger_app'"),
        0);
    /* It owns nothing: no relation, function, type, schema or database. */
    assert_int_equal(scalar_i64("SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + "
                                "(SELECT count(*) FROM pg_proc WHERE proowner = r.oid) + "
                                "(SELECT count(*) FROM pg_type WHERE typowner = r.oid) + "
                                "(SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) + "
                                "(SELECT count(*) FROM pg_database WHERE datdba = r.oid) "
                                "FROM pg_roles r WHERE r.rolname = 'fundledger_app'"),
                     0);
}

/* The privileges of fundledger_app on relation %s: as in the table above. */
#define PRIVILEGES_OF_SQL                                                                                              \
    "SELECT coalesce((SELECT string_agg(x.privilege_type, ',' ORDER BY x.privilege_type) "                             \
    "FROM aclexplode(c.relacl) x WHERE x.grantee = r.oid), '') || coalesce(' UPDATE(' || "                             \
    "(SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_attribute a "                                       \
    "CROSS JOIN LATERAL aclexplode(a.attacl) y WHERE a.attrelid = c.oid AND y.grantee = r.oid "                        \
    "AND y.privilege_type = 'UPDATE') || ')', '') "                                                                    \
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN pg_roles r "                             \
    "WHERE n.nspname = 'public' AND c.relname = '%s' AND r.rolname = 'fundledger_app'"

/* The privileges of fundledger_app, as granted in the catalog, are exactly the table above. */
static void test_privileges_are_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < EXPECTED_COUNT; i++) {
        char sql[2048];
        snprintf(sql, sizeof sql, PRIVILEGES_OF_SQL, expected[i].rel);
        char *got = testdb_scalar(ci, sql);
        if (got == NULL) {
            fail_msg("%s: no such table or sequence", expected[i].rel);
            return;
        }
        if (strcmp(got, expected[i].privs) != 0) {
            char copy[256];
            snprintf(copy, sizeof copy, "%s", got);
            free(got);
            fail_msg("%s: fundledger_app has \"%s\", the table says \"%s\"", expected[i].rel, copy, expected[i].privs);
        }
        free(got);
    }
    /* Every table and sequence is in the table (a new one needs its row and its grants). */
    char *missing = testdb_scalar(ci, "SELECT coalesce(string_agg(c.relname, ', ' ORDER BY c.relname), '') "
                                      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                      "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm')");
    assert_non_null(missing);
    size_t listed = 0;
    for (char *tok = strtok(missing, ", "); tok != NULL; tok = strtok(NULL, ", ")) {
        bool found = false;
        for (size_t i = 0; i < EXPECTED_COUNT; i++) {
            found = found || strcmp(tok, expected[i].rel) == 0;
        }
        if (!found) {
            char copy[128];
            snprintf(copy, sizeof copy, "%s", tok);
            free(missing);
            fail_msg("%s is not in the privilege table of test_privileges.c and docs/architecture.md", copy);
            return;
        }
        listed++;
    }
    free(missing);
    assert_int_equal(listed, EXPECTED_COUNT);
    /* PUBLIC holds nothing on them either. */
    assert_int_equal(
        scalar_i64("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "CROSS JOIN LATERAL aclexplode(c.relacl) x WHERE n.nspname = 'public' AND x.grantee = 0"),
        0);
}

/* ---- what only a superuser or the owner could do ------------------------------------------ */

static void test_superuser_and_owner_powers_refused(void **state)
{
    (void)state;
    refused("SET session_replication_role = replica", "42501",
            "permission denied to set parameter \"session_replication_role\"");
    refused("ALTER TABLE journal_line DISABLE TRIGGER ALL", "42501", "must be owner of table journal_line");
    refused("ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_immutable", "42501",
            "must be owner of table journal_entry");
    refused("DROP TRIGGER journal_line_append_only ON journal_line", "42501", "must be owner of");
    refused("DROP TRIGGER proposal_decided_final ON proposal", "42501", "must be owner of");
    refused(
        "CREATE OR REPLACE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        "42501", "permission denied for schema public");
    refused("CREATE TABLE shadow (a int)", "42501", "permission denied for schema public");
    refused("DROP TABLE journal_line", "42501", "must be owner of table journal_line");
    refused("ALTER ROLE fundledger_app SUPERUSER", "42501", "must be superuser");
    refused("CREATE ROLE intruder", "42501", "permission denied to create role");
    refused("SET ROLE fundledger", "42501", "permission denied to set role");
}

/* ---- the journal and the audit log: INSERT and SELECT only (and sealing) ----------------- */

static void test_history_insert_and_select_only(void **state)
{
    (void)state;
    refused("UPDATE journal_line SET amount_minor = amount_minor", "42501", "permission denied for table journal_line");
    refused("DELETE FROM journal_line", "42501", "permission denied for table journal_line");
    refused("TRUNCATE journal_line", "42501", "permission denied for table journal_line");
    refused("UPDATE journal_entry SET memo = 'edited'", "42501", "permission denied for table journal_entry");
    refused("DELETE FROM journal_entry", "42501", "permission denied for table journal_entry");
    refused("TRUNCATE journal_entry CASCADE", "42501", "permission denied for table journal_entry");
    refused("UPDATE audit_log SET action = 'x'", "42501", "permission denied for table audit_log");
    refused("DELETE FROM audit_log", "42501", "permission denied for table audit_log");
    refused("TRUNCATE audit_log", "42501", "permission denied for table audit_log");
    refused("TRUNCATE account_balance", "42501", "permission denied for table account_balance");
    refused("DELETE FROM account", "42501", "permission denied for table account");
    refused("UPDATE account SET name = 'x'", "42501", "permission denied for table account");
    refused("SELECT setval('journal_entry_id_seq', 1)", "42501", "permission denied for sequence journal_entry_id_seq");
    /* The columns it may update are still guarded by the triggers: sealing happens once, and
     * balances move only through the journal. */
    struct fl_error err;
    unsigned sealed = 0;
    int64_t id = propose("10.00");
    assert_int_equal(decide(id, true), FLE_OK);
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_true(sealed > 0);
    refused("UPDATE journal_entry SET seal_pos = seal_pos + 1000000 WHERE seal_pos IS NOT NULL", "P0001",
            "posted entries are immutable");
    refused("UPDATE journal_entry SET hash = prev_hash WHERE seal_pos IS NOT NULL", "P0001",
            "posted entries are immutable");
    refused("UPDATE account_balance SET balance_minor = 0", "P0001", "account balances change only by posting");
}

/* ---- the tables that decide who may do what ----------------------------------------------- */

static void test_decided_proposal_is_final(void **state)
{
    (void)state;
    int64_t a = propose("20.00");
    assert_int_equal(decide(a, true), FLE_OK);
    int64_t r = propose("30.00");
    assert_int_equal(decide(r, false), FLE_OK);
    char sql[512], reason[128];
    snprintf(sql, sizeof sql,
             "UPDATE proposal SET status = 'pending', decided_at = NULL, result_entry_id = NULL "
             "WHERE id = %" PRId64,
             a);
    snprintf(reason, sizeof reason, "proposal %" PRId64 " is already approved: a decision is final", a);
    refused(sql, "P0001", reason);
    refused_for_owner(sql, reason);
    snprintf(sql, sizeof sql,
             "UPDATE proposal SET status = 'pending', decided_at = NULL, reason = NULL "
             "WHERE id = %" PRId64,
             r);
    snprintf(reason, sizeof reason, "proposal %" PRId64 " is already rejected: a decision is final", r);
    refused(sql, "P0001", reason);
    snprintf(sql, sizeof sql, "UPDATE proposal SET payload = '{}' WHERE id = %" PRId64, a);
    refused(sql, "42501", "permission denied for table proposal");
    refused("DELETE FROM proposal", "42501", "permission denied for table proposal");
    refused("TRUNCATE proposal CASCADE", "42501", "permission denied for table proposal");
    refused_for_owner("SET client_min_messages = warning; TRUNCATE proposal CASCADE",
                      "TRUNCATE on proposal is not allowed");
    /* Still one posting, and the approval path refuses a second decision. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM journal_entry WHERE event_ref = 'proposal:%" PRId64 "'", a);
    assert_int_equal(scalar_i64(sql), 1);
    assert_int_equal(decide(a, true), FLE_ALREADY_DECIDED);
    /* A pending proposal names no posting. */
    int64_t p = propose("40.00");
    snprintf(sql, sizeof sql,
             "UPDATE proposal SET result_entry_id = (SELECT max(id) FROM journal_entry) WHERE id = %" PRId64, p);
    snprintf(reason, sizeof reason, "proposal %" PRId64 " is pending and cannot name a posting", p);
    refused(sql, "P0001", reason);
}

static void test_one_proposal_one_posting(void **state)
{
    (void)state;
    int64_t a = propose("50.00");
    assert_int_equal(decide(a, true), FLE_OK);
    char sql[2048];
    /* A second entry for the proposal, written as ledger_post writes entries: refused by the
     * journal's unique index on the proposal reference. */
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, event_type, event_ref) "
             "VALUES (nextval('journal_entry_id_seq'), %" PRId64 ", '2026-04-01', %" PRId64 ", 'manual', "
             "'proposal:%" PRId64 "') RETURNING id) "
             "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) "
             "SELECT id, 1, %" PRId64 ", 'COP', 5000, '2026-04-01'::date FROM e UNION ALL "
             "SELECT id, 2, %" PRId64 ", 'COP', -5000, '2026-04-01'::date FROM e",
             fund_id, approver.user_id, a, cash, capital);
    refused(sql, "23505", "duplicate key value violates unique constraint \"journal_entry_proposal_posting_key\"");
    /* The same through the C posting path. */
    struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    snprintf(e.effective_date, sizeof e.effective_date, "2026-04-01");
    e.posted_by = approver.user_id;
    snprintf(e.event_type, sizeof e.event_type, "manual");
    snprintf(e.event_ref, sizeof e.event_ref, "proposal:%" PRId64, a);
    e.n_lines = 2;
    e.lines[0] = (struct ledger_line){cash, "COP", 5000};
    e.lines[1] = (struct ledger_line){capital, "COP", -5000};
    const struct ledger_entry *one = &e;
    int64_t id = 0;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_not_equal(ledger_post_commit(db, &one, 1, &id, &err), FLE_OK);
    assert_string_equal(db_last_sqlstate(db), "23505");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM journal_entry WHERE event_ref = 'proposal:%" PRId64 "'", a);
    assert_int_equal(scalar_i64(sql), 1);
    /* An entry is the posting of one proposal: another cannot claim it (owner: past the status
     * guard's first rule, a pending proposal being decided in the same UPDATE). */
    int64_t b = propose("60.00");
    snprintf(sql, sizeof sql,
             "UPDATE proposal SET status = 'approved', decided_at = now(), result_entry_id = "
             "(SELECT result_entry_id FROM proposal WHERE id = %" PRId64 ") WHERE id = %" PRId64,
             a, b);
    refused(sql, "23505", "duplicate key value violates unique constraint \"proposal_result_entry_key\"");
}

static void test_revocation_is_final(void **state)
{
    (void)state;
    char token[TOKEN_TEXT_BYTES], bearer[TOKEN_TEXT_BYTES + 16];
    int64_t tid = 0;
    struct fl_error err;
    assert_int_equal(auth_token_create(db, manager.user_id, "privileges", 0, token, &tid, &err), FLE_OK);
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    struct principal who;
    assert_int_equal(auth_authenticate(db, bearer, &who, &err), FLE_OK);
    /* The service's revocation path works ... */
    assert_int_equal(auth_token_revoke(db, tid, &err), FLE_OK);
    assert_int_equal(auth_authenticate(db, bearer, &who, &err), FLE_UNAUTHENTICATED);
    /* ... and cannot be undone, not even by the owner. */
    char sql[256], reason[96];
    snprintf(sql, sizeof sql, "UPDATE api_token SET revoked_at = NULL WHERE id = %" PRId64, tid);
    snprintf(reason, sizeof reason, "token %" PRId64 " is revoked: a revocation is final", tid);
    refused(sql, "P0001", reason);
    refused_for_owner(sql, reason);
    snprintf(sql, sizeof sql, "UPDATE api_token SET revoked_at = now() + interval '1 year' WHERE id = %" PRId64, tid);
    refused(sql, "P0001", reason);
    assert_int_equal(auth_authenticate(db, bearer, &who, &err), FLE_UNAUTHENTICATED);
    /* A renewal (auth_token_renew) may move a live token's expiry later, never remove it. */
    snprintf(sql, sizeof sql, "UPDATE api_token SET expires_at = NULL WHERE id = %" PRId64, tid);
    refused(sql, "P0001", reason);
    int64_t live = 0;
    char live_token[TOKEN_TEXT_BYTES], expires_at[32];
    assert_int_equal(auth_token_create(db, manager.user_id, "privileges-live", 30, live_token, &live, &err), FLE_OK);
    assert_int_equal(auth_token_renew(db, live, 60, expires_at, &err), FLE_OK); /* the service's path */
    snprintf(sql, sizeof sql, "UPDATE api_token SET expires_at = NULL WHERE id = %" PRId64, live);
    snprintf(reason, sizeof reason, "token %" PRId64 " keeps an expiry: a renewal never removes it", live);
    refused(sql, "P0001", reason);
    /* Ending a token early is allowed; bringing it back is not. */
    snprintf(sql, sizeof sql, "UPDATE api_token SET expires_at = now() - interval '1 day' WHERE id = %" PRId64, live);
    assert_true(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "UPDATE api_token SET expires_at = now() + interval '1 day' WHERE id = %" PRId64, live);
    snprintf(reason, sizeof reason, "token %" PRId64 " has expired: an expired token is not renewed", live);
    refused(sql, "P0001", reason);
    refused_for_owner(sql, reason);
    refused("UPDATE api_token SET user_id = 1", "42501", "permission denied for table api_token");
    refused("DELETE FROM api_token", "42501", "permission denied for table api_token");
    refused("TRUNCATE api_token CASCADE", "42501", "permission denied for table api_token");
}

static void test_roles_cannot_change(void **state)
{
    (void)state;
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE app_user SET role = 'admin' WHERE id = %" PRId64, manager.user_id);
    refused(sql, "42501", "permission denied for table app_user");
    refused("UPDATE app_user SET disabled_at = now()", "42501", "permission denied for table app_user");
    refused("DELETE FROM app_user", "42501", "permission denied for table app_user");
    /* For the owner too, a role never changes; disabling stays possible. */
    char reason[96];
    snprintf(reason, sizeof reason, "user %" PRId64 " cannot change name, role or organisation", manager.user_id);
    refused_for_owner(sql, reason);
    int64_t temp = make_user("temp", ROLE_AUDITOR).user_id;
    snprintf(sql, sizeof sql, "UPDATE app_user SET disabled_at = now() WHERE id = %" PRId64, temp);
    assert_true(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "SELECT role FROM app_user WHERE id = %" PRId64, manager.user_id);
    char *role = testdb_scalar(ci, sql);
    assert_non_null(role);
    assert_string_equal(role, "fund_manager");
    free(role);
    /* The legitimate paths: the admin API creates users and sets approval limits. */
    struct principal fresh = make_user("fresh_admin", ROLE_ADMIN);
    assert_true(fresh.user_id > 0);
    struct fl_error err;
    assert_int_equal(auth_limit_set(db, approver.user_id, "COP", 200000000, &err), FLE_OK);
    snprintf(sql, sizeof sql, "SELECT limit_minor FROM approval_limit WHERE user_id = %" PRId64, approver.user_id);
    assert_int_equal(scalar_i64(sql), 200000000);
}

static enum fl_err idem_write(struct db *d, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    (void)d;
    (void)err;
    int *calls = arg;
    (*calls)++;
    *status = 201;
    *reply = json_pack("{s:i}", "n", 7);
    return FLE_OK;
}

static void test_idempotency_keys_are_kept(void **state)
{
    (void)state;
    /* The service stores and replays a key ... */
    uint8_t h[HASH_BYTES] = {1, 2, 3};
    int calls = 0;
    unsigned status = 0;
    char *text = NULL;
    bool replayed = true;
    struct fl_error err;
    assert_int_equal(idem_run(db, manager.user_id, "priv-key", h, idem_write, &calls, &status, &text, &replayed, &err),
                     FLE_OK);
    assert_false(replayed);
    free(text);
    assert_int_equal(idem_run(db, manager.user_id, "priv-key", h, idem_write, &calls, &status, &text, &replayed, &err),
                     FLE_OK);
    assert_true(replayed);
    assert_int_equal(calls, 1);
    assert_int_equal(status, 201);
    free(text);
    /* ... and cannot forget one, which would let a retry write twice. */
    refused("TRUNCATE idempotency_key", "42501", "permission denied for table idempotency_key");
    refused("DELETE FROM idempotency_key", "42501", "permission denied for table idempotency_key");
    refused("UPDATE idempotency_key SET response = '{}'", "42501", "permission denied for table idempotency_key");
    refused_for_owner("TRUNCATE idempotency_key", "TRUNCATE on idempotency_key is not allowed");
    assert_int_equal(scalar_i64("SELECT count(*) FROM idempotency_key WHERE key = 'priv-key'"), 1);
}

/* ---- the service role does its work -------------------------------------------------------- */

static void test_service_role_does_its_work(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t before = scalar_i64("SELECT count(*) FROM journal_entry");
    /* Post (the batcher's statement), propose and approve (four eyes), seal, verify. */
    struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    snprintf(e.effective_date, sizeof e.effective_date, "2026-05-01");
    e.posted_by = manager.user_id;
    snprintf(e.event_type, sizeof e.event_type, "test");
    e.n_lines = 2;
    e.lines[0] = (struct ledger_line){cash, "COP", 777};
    e.lines[1] = (struct ledger_line){capital, "COP", -777};
    const struct ledger_entry *one = &e;
    int64_t id = 0;
    assert_int_equal(ledger_post_commit(db, &one, 1, &id, &err), FLE_OK);
    assert_true(id > 0);
    int64_t p = propose("1.23");
    assert_int_equal(decide(p, true), FLE_OK);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry"), before + 2);
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(scalar_i64("SELECT count(*) FROM journal_entry WHERE seal_pos IS NULL"), 0);
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
    /* Migrations, as the service role: checking that all are applied works; applying a new one
     * is refused with what to do. */
    unsigned applied = 99;
    fl_error_clear(&err);
    assert_int_equal(migrate_apply(db, "migrations", &applied, &err), FLE_OK);
    assert_int_equal(applied, 0);
    char dir[] = "/tmp/fundledger-priv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int n = migrate_count("migrations", &err);
    assert_true(n >= 10);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp migrations/*.sql %s/ && echo 'CREATE TABLE shadow (a int);' > %s/%04d_shadow.sql",
             dir, dir, n + 1);
    assert_int_equal(system(cmd), 0);
    fl_error_clear(&err);
    assert_int_not_equal(migrate_apply(db, dir, &applied, &err), FLE_OK);
    assert_string_equal(err.field, "database_owner_url");
    assert_non_null(strstr(err.message, "needs the owner's rights"));
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'shadow'"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_role_is_plain),
        cmocka_unit_test(test_privileges_are_the_table),
        cmocka_unit_test(test_superuser_and_owner_powers_refused),
        cmocka_unit_test(test_history_insert_and_select_only),
        cmocka_unit_test(test_decided_proposal_is_final),
        cmocka_unit_test(test_one_proposal_one_posting),
        cmocka_unit_test(test_revocation_is_final),
        cmocka_unit_test(test_roles_cannot_change),
        cmocka_unit_test(test_idempotency_keys_are_kept),
        cmocka_unit_test(test_service_role_does_its_work),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
