/* test_tamper: tamper evidence a database superuser cannot forge. Each tampering that the chain
 * and balance checks alone accept (the last sealed entries deleted and balances fixed; a line
 * altered, its seals cleared and the ledger sealed again; a balanced entry inserted with no
 * proposal and no audit row; an anchor signed with another key) is performed as the superuser
 * and ledger_verify_full (`fundledger verify`) names the entry; a clean ledger (the demo fund,
 * every posting path) verifies, with the public key alone. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "fundledger/anchor.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/demo.h"
#include "fundledger/fund.h"
#include "fundledger/iati_export.h"
#include "fundledger/ledger.h"
#include "fundledger/statement.h"
#include "testdb.h"

/* One ledger of its own per test: database, anchor key, public key and log in a temp directory. */
struct fx {
    char ci[1024];
    struct db *db;
    char dir[64];
    struct anchor_paths paths;
    struct anchor_signer *signer;
    struct principal manager, approver;
    int64_t fund_id, cash, capital;
};

static struct principal make_user(struct fx *f, const char *name, enum role role)
{
    struct principal p = {.role = role};
    struct fl_error err;
    assert_int_equal(auth_user_add(f->db, name, role, 0, &p.user_id, &err), FLE_OK);
    snprintf(p.name, sizeof p.name, "%s", name);
    return p;
}

static enum fl_err make_fund_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct fx *f = arg;
    json_t *j = fund_create(d, &f->manager, "TAMPER", "Tamper test fund", "COP", err);
    if (j == NULL) {
        return err->code;
    }
    f->fund_id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return FLE_OK;
}

static void paths_in(const char *dir, struct anchor_paths *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s/anchor.key", dir);
    snprintf(p->public_key, sizeof p->public_key, "%s/anchor.key.pub", dir);
    snprintf(p->log, sizeof p->log, "%s/anchor.log", dir);
}

static int64_t scalar_i64(const struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A database cloned from the template, with a fund, a maker and an approver (the demo's, with demo). */
static void fx_open(struct fx *f, const char *name, bool demo)
{
    memset(f, 0, sizeof *f);
    snprintf(f->ci, sizeof f->ci, "%s", testdb_create(name));
    f->db = testdb_open(f->ci);
    snprintf(f->dir, sizeof f->dir, "/tmp/fundledger-tamper-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    paths_in(f->dir, &f->paths);
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(anchor_signer_open(&f->paths, &f->signer, &err), FLE_OK);
    if (demo) {
        char cred[128];
        snprintf(cred, sizeof cred, "%s/demo-credentials.json", f->dir);
        if (demo_load(f->db, cred, &err) != FLE_OK) {
            fail_msg("demo_load: %s", err.message);
        }
        (void)remove(cred);
        /* The demo's own maker and approver (limit COP 500,000,000.00) and its fund. */
        f->manager = (struct principal){.role = ROLE_FUND_MANAGER};
        f->approver = (struct principal){.role = ROLE_APPROVER};
        assert_int_equal(auth_user_find(f->db, "manager", &f->manager.user_id, &err), FLE_OK);
        assert_int_equal(auth_user_find(f->db, "approver", &f->approver.user_id, &err), FLE_OK);
        f->fund_id = scalar_i64(f, "SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'");
    } else {
        f->manager = make_user(f, "manager", ROLE_FUND_MANAGER);
        f->approver = make_user(f, "approver", ROLE_APPROVER);
        assert_int_equal(auth_limit_set(f->db, f->approver.user_id, "COP", 100000000, &err), FLE_OK);
        assert_int_equal(db_tx(f->db, make_fund_tx, f, &err), FLE_OK);
    }
    assert_int_equal(fund_account_by_code(f->db, f->fund_id, "1000", &f->cash, &err), FLE_OK);
    assert_int_equal(fund_account_by_code(f->db, f->fund_id, "3000", &f->capital, &err), FLE_OK);
}

static void fx_close(struct fx *f)
{
    anchor_signer_close(f->signer);
    db_close(f->db);
    (void)remove(f->paths.key);
    (void)remove(f->paths.public_key);
    (void)remove(f->paths.log);
    (void)rmdir(f->dir);
}

static int64_t scalar_i64(const struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t scalar_i64(const struct fx *f, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof sql);
    char *v = testdb_scalar(f->ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

/* Runs SQL as the superuser, with triggers (and so the append-only guards) off. */
static void as_superuser(const struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void as_superuser(const struct fx *f, const char *fmt, ...)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql, "SET session_replication_role = replica; ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(sql + n, sizeof sql - (size_t)n, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof sql);
    assert_true(testdb_exec(f->ci, sql));
}

struct post_args {
    struct fx *f;
    const char *amount;
    int64_t proposal_id;
    int64_t entry_id;
};

static enum fl_err propose_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct post_args *a = arg;
    struct journal_line_input lines[2] = {{a->f->cash, a->amount, NULL}, {a->f->capital, NULL, a->amount}};
    json_t *p = journal_propose(d, &a->f->manager, a->f->fund_id, "2026-04-01", "capital in", lines, 2, err);
    if (p == NULL) {
        return err->code;
    }
    a->proposal_id = json_integer_value(json_object_get(p, "id"));
    json_decref(p);
    return FLE_OK;
}

static enum fl_err approve_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct post_args *a = arg;
    json_t *p = approval_decide(d, &a->f->approver, a->proposal_id, true, NULL, err);
    if (p == NULL) {
        return err->code;
    }
    a->entry_id = json_integer_value(json_object_get(p, "result_entry_id"));
    json_decref(p);
    return FLE_OK;
}

/* Posts a manual entry the proper way (proposed, approved by another person); returns its id. */
static int64_t post(struct fx *f, const char *amount)
{
    struct post_args a = {.f = f, .amount = amount};
    struct fl_error err;
    assert_int_equal(db_tx(f->db, propose_tx, &a, &err), FLE_OK);
    assert_int_equal(db_tx(f->db, approve_tx, &a, &err), FLE_OK);
    assert_true(a.entry_id > 0);
    return a.entry_id;
}

/* What the service's sealer does: seal everything, each chunk's head signed and logged. */
static unsigned seal_all(struct fx *f)
{
    struct fl_error err;
    unsigned total = 0, sealed = LEDGER_SEAL_CHUNK;
    while (sealed == LEDGER_SEAL_CHUNK) {
        assert_int_equal(ledger_seal_anchored(f->db, LEDGER_SEAL_CHUNK, f->signer, &sealed, &err), FLE_OK);
        total += sealed;
    }
    return total;
}

/* ledger_verify_full as `fundledger verify` runs it: the public key (or the key) and the log. */
static void verify_full(struct fx *f, const struct anchor_paths *p, struct ledger_verify_report *rep)
{
    struct fl_error err;
    fl_error_clear(&err);
    struct anchor_verifier *v = NULL;
    assert_int_equal(anchor_verifier_open(p, &v, &err), FLE_OK);
    struct ledger_verify_options o = {.verifier = v, .anchor_log = p->log};
    assert_int_equal(ledger_verify_full(f->db, &o, rep, &err), FLE_OK);
    anchor_verifier_close(v);
    if (getenv("TAMPER_VERBOSE") != NULL) {
        ledger_verify_print(rep, p->log, stderr);
    }
}

/* The chain and balance checks alone (ledger_verify, what verify was before anchoring). */
static bool chain_and_balances_ok(struct fx *f)
{
    struct ledger_verify_report rep;
    struct fl_error err;
    assert_int_equal(ledger_verify(f->db, &rep, &err), FLE_OK);
    return rep.ok;
}

/* The listed problem about entry_id whose text has `part`, or NULL. */
static const struct ledger_verify_problem *problem_for(const struct ledger_verify_report *rep, int64_t entry_id,
                                                       const char *part)
{
    for (unsigned i = 0; i < rep->problems_n; i++) {
        if (rep->problems[i].entry_id == entry_id && strstr(rep->problems[i].text, part) != NULL) {
            return &rep->problems[i];
        }
    }
    return NULL;
}

static void print_problems(const struct ledger_verify_report *rep)
{
    for (unsigned i = 0; i < rep->problems_n; i++) {
        fprintf(stderr, "  problem: entry %" PRId64 ": %s\n", rep->problems[i].entry_id, rep->problems[i].text);
    }
}

static void assert_problem(const struct ledger_verify_report *rep, int64_t entry_id, const char *part)
{
    if (problem_for(rep, entry_id, part) == NULL) {
        print_problems(rep);
        fail_msg("no problem naming entry %" PRId64 " with \"%s\"", entry_id, part);
    }
}

struct publish_args {
    struct fx *f;
    struct principal who;
    struct iati_export_options o;
    struct iati_problems problems;
    json_t *reply;
};

static enum fl_err publish_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct publish_args *a = arg;
    iati_problems_free(&a->problems);
    if (iati_export_snapshot(d, err) != FLE_OK) {
        return err->code;
    }
    a->reply = iati_publication_create(d, &a->who, &a->o, &a->problems, err);
    return a->reply ? FLE_OK : err->code;
}

/* Publishes the fund's IATI files as the demo's transparency officer; returns the reply. */
static json_t *publish(struct fx *f)
{
    const char *shared = getenv("FUNDLEDGER_SHARED_DIR");
    char schemas[512], codelists[512];
    snprintf(schemas, sizeof schemas, "%s/iati/schemas", shared ? shared : "../shared");
    snprintf(codelists, sizeof codelists, "%s/iati/codelists", shared ? shared : "../shared");
    struct publish_args a = {.f = f, .who = {.role = ROLE_TRANSPARENCY_OFFICER}};
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(auth_user_find(f->db, "transparency", &a.who.user_id, &err), FLE_OK);
    a.o = (struct iati_export_options){.fund_id = f->fund_id,
                                       .out_dir = f->dir,
                                       .reporting_org_ref = "CO-RUE-9001234567",
                                       .schema_dir = schemas,
                                       .codelist_dir = codelists,
                                       .policy_url = "http://127.0.0.1/v1/iati/exclusions-policy"};
    iati_problems_init(&a.problems);
    enum fl_err e = db_tx(f->db, publish_tx, &a, &err);
    iati_problems_print(&a.problems, stderr);
    iati_problems_free(&a.problems);
    if (e != FLE_OK) {
        fail_msg("publish: %s", err.message);
    }
    return a.reply;
}

/* ------------------------------------------------------------------------------------------ */

static void test_clean_ledger_verifies_with_the_public_key_alone(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "tamper_clean", true); /* the demo: tranches, contributions, loans, drawdowns,
                                          repayments, a write-off, a recovery, waterfall runs */
    int64_t entries = scalar_i64(&f, "SELECT count(*) FROM journal_entry");
    assert_true(entries > 50);
    assert_int_equal(seal_all(&f), (unsigned)entries);
    /* The key is the service's alone: mode 0600; its public half is beside it. */
    struct stat st;
    assert_int_equal(stat(f.paths.key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f.paths.public_key, &st), 0);
    /* An auditor's copy: the public key and the log, no private key. */
    char audit_dir[64] = "/tmp/fundledger-auditor-XXXXXX";
    assert_non_null(mkdtemp(audit_dir));
    struct anchor_paths auditor;
    paths_in(audit_dir, &auditor);
    char cmd[5 * ANCHOR_PATH_BYTES];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s' '%s'", f.paths.public_key, auditor.public_key, f.paths.log,
             auditor.log);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(access(auditor.key, F_OK), 0);
    struct ledger_verify_report rep;
    verify_full(&f, &auditor, &rep);
    if (!rep.ok) {
        print_problems(&rep);
    }
    assert_true(rep.ok);
    assert_int_equal(rep.problems_total, 0);
    assert_int_equal(rep.entries_checked, entries);
    assert_int_equal(rep.origins_checked, entries);
    assert_int_equal(rep.anchored_seal_pos, entries);
    assert_int_equal(rep.anchors_checked, scalar_i64(&f, "SELECT count(*) FROM ledger_anchor"));
    assert_true(rep.anchors_checked >= 1);
    assert_int_equal(rep.anchor_log_lines, rep.anchors_checked);
    /* A manual entry through four eyes verifies too. */
    int64_t e1 = post(&f, "1234.56");
    assert_true(e1 > 0);
    assert_int_equal(seal_all(&f), 1);
    verify_full(&f, &auditor, &rep);
    assert_true(rep.ok);
    assert_int_equal(rep.anchored_seal_pos, entries + 1);
    /* Publications and statements carry the signed head they were made on. */
    int64_t head_pos = entries + 1;
    char *head_hash = testdb_scalar(f.ci, "SELECT encode(hash, 'hex') FROM ledger_anchor ORDER BY seal_pos DESC LIMIT 1");
    assert_non_null(head_hash);
    json_t *pub = publish(&f);
    const json_t *ph = json_object_get(pub, "chain_head");
    assert_int_equal(json_integer_value(json_object_get(ph, "seal_pos")), head_pos);
    assert_int_equal(json_integer_value(json_object_get(ph, "entry_id")), e1);
    assert_string_equal(json_string_value(json_object_get(ph, "hash")), head_hash);
    assert_string_equal(json_string_value(json_object_get(ph, "key_id")), rep.key_id);
    assert_int_equal(strlen(json_string_value(json_object_get(ph, "signature"))), 128);
    json_decref(pub);
    assert_int_equal(scalar_i64(&f, "SELECT seal_pos FROM publication_chain_head"), head_pos);
    /* In both files too, as an element of our own namespace that the official schema allows. */
    for (int org = 0; org < 2; org++) {
        struct fl_error ferr;
        char *xml = iati_publication_file(f.db, f.fund_id, 0, org == 1, &ferr);
        assert_non_null(xml);
        char want[160];
        snprintf(want, sizeof want, "seal-pos=\"%" PRId64 "\" entry-id=\"%" PRId64 "\"", head_pos, e1);
        assert_non_null(strstr(xml, "<fl:ledger-chain-head xmlns:fl=\"urn:fundledger:ledger-chain-head:1\""));
        assert_non_null(strstr(xml, want));
        assert_non_null(strstr(xml, head_hash));
        char path[128];
        snprintf(path, sizeof path, "%s/published.xml", f.dir);
        FILE *out = fopen(path, "wb");
        assert_non_null(out);
        assert_int_equal(fputs(xml, out) >= 0, 1);
        assert_int_equal(fclose(out), 0);
        free(xml);
        const char *shared = getenv("FUNDLEDGER_SHARED_DIR");
        char schemas[512], codelists[512];
        snprintf(schemas, sizeof schemas, "%s/iati/schemas", shared ? shared : "../shared");
        snprintf(codelists, sizeof codelists, "%s/iati/codelists", shared ? shared : "../shared");
        struct iati_check_config c = {.schema_dir = schemas, .codelist_dir = codelists, .policy = true};
        struct iati_problems problems;
        iati_problems_init(&problems);
        enum iati_check_result res =
            iati_check_file(path, org ? IATI_KIND_ORGANISATIONS : IATI_KIND_ACTIVITIES, &c, &problems);
        iati_problems_print(&problems, stderr);
        iati_problems_free(&problems);
        assert_int_equal(res, IATI_CHECK_OK);
        (void)remove(path);
    }
    int64_t investor = scalar_i64(&f, "SELECT organisation_id FROM app_user WHERE name = 'undp'");
    json_t *statement = NULL;
    struct fl_error err;
    assert_int_equal(statement_build(f.db, f.fund_id, investor, 0, "2026-09-30", &statement, &err), FLE_OK);
    const json_t *sh = json_object_get(json_object_get(statement, "cutoff"), "chain_head");
    assert_int_equal(json_integer_value(json_object_get(sh, "seal_pos")), head_pos);
    assert_string_equal(json_string_value(json_object_get(sh, "hash")), head_hash);
    json_decref(statement);
    free(head_hash);
    /* Nothing new: sealing again signs nothing. */
    assert_int_equal(seal_all(&f), 0);
    assert_int_equal(scalar_i64(&f, "SELECT count(*) FROM ledger_anchor"), rep.anchors_checked);
    (void)remove(auditor.public_key);
    (void)remove(auditor.log);
    (void)rmdir(audit_dir);
    fx_close(&f);
}

/* (a) The last sealed entries deleted, their balances taken back, their anchors deleted. */
static void test_tail_cut_is_detected(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "tamper_tail", false);
    int64_t e1 = post(&f, "100.00");
    int64_t e2 = post(&f, "200.00");
    seal_all(&f);
    int64_t e3 = post(&f, "300.00");
    int64_t e4 = post(&f, "400.00");
    seal_all(&f); /* one anchor covers e3 and e4: count 2, head e4 */
    assert_true(e1 < e2 && e2 < e3 && e3 < e4);
    struct ledger_verify_report rep;
    verify_full(&f, &f.paths, &rep);
    assert_true(rep.ok);
    as_superuser(&f,
                 "UPDATE account_balance b SET balance_minor = b.balance_minor - s.total FROM (SELECT account_id, "
                 "sum(amount_minor) AS total FROM journal_line WHERE entry_id IN (%" PRId64 ", %" PRId64 ") "
                 "GROUP BY account_id) s WHERE b.account_id = s.account_id; "
                 "DELETE FROM journal_line WHERE entry_id IN (%" PRId64 ", %" PRId64 "); "
                 "UPDATE proposal SET result_entry_id = NULL WHERE result_entry_id IN (%" PRId64 ", %" PRId64 "); "
                 "DELETE FROM journal_entry WHERE id IN (%" PRId64 ", %" PRId64 "); "
                 "DELETE FROM ledger_anchor WHERE entry_id IN (%" PRId64 ", %" PRId64 ");",
                 e3, e4, e3, e4, e3, e4, e3, e4, e3, e4);
    assert_int_equal(scalar_i64(&f, "SELECT count(*) FROM journal_entry"), 2);
    /* The chain that is left is whole and the balances add up: the old checks accept it. */
    assert_true(chain_and_balances_ok(&f));
    verify_full(&f, &f.paths, &rep);
    assert_false(rep.ok);
    /* The log outside the database signed the chain up to e4. */
    assert_problem(&rep, e4, "is missing");
    assert_problem(&rep, e4, "2 sealed entries after entry");
    assert_non_null(strstr(problem_for(&rep, e4, "is missing")->text, "entry 2"));
    fx_close(&f);
}

/* (b) A sealed line altered, the seals from it on cleared (and their anchors deleted), and the
 * ledger sealed again by the service's own sealer with the real key. */
static void test_resealing_after_an_edit_is_detected(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "tamper_reseal", false);
    int64_t e1 = post(&f, "100.00");
    seal_all(&f);
    int64_t e2 = post(&f, "200.00");
    seal_all(&f);
    int64_t e3 = post(&f, "300.00");
    seal_all(&f);
    assert_true(e1 > 0);
    int64_t pos2 = scalar_i64(&f, "SELECT seal_pos FROM journal_entry WHERE id = %" PRId64, e2);
    as_superuser(&f,
                 "UPDATE journal_line SET amount_minor = amount_minor * 10 WHERE entry_id = %" PRId64 "; "
                 "UPDATE account_balance b SET balance_minor = b.balance_minor + 9 * l.amount_minor / 10 "
                 "FROM journal_line l WHERE l.entry_id = %" PRId64 " AND l.account_id = b.account_id; "
                 "UPDATE journal_entry SET seal_pos = NULL, prev_hash = NULL, hash = NULL WHERE seal_pos >= %" PRId64
                 "; DELETE FROM ledger_anchor WHERE seal_pos >= %" PRId64 ";",
                 e2, e2, pos2, pos2);
    assert_int_equal(scalar_i64(&f, "SELECT amount_minor FROM journal_line WHERE entry_id = %" PRId64
                                    " AND line_no = 1", e2), 200000);
    assert_int_equal(seal_all(&f), 2);
    assert_true(chain_and_balances_ok(&f));
    struct ledger_verify_report rep;
    verify_full(&f, &f.paths, &rep);
    assert_false(rep.ok);
    /* The database's anchors now agree with the new chain; the log signed the old one. */
    assert_problem(&rep, e2, "re-sealed after anchoring");
    assert_problem(&rep, e3, "re-sealed after anchoring");
    assert_null(problem_for(&rep, e1, ""));
    fx_close(&f);
}

/* (c) A balanced entry inserted straight into the journal: no proposal, no audit row. */
static void test_entry_without_proposal_is_detected(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "tamper_insert", false);
    int64_t e1 = post(&f, "100.00");
    seal_all(&f);
    int64_t forged = scalar_i64(&f, "SELECT nextval('journal_entry_id_seq')");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, memo, event_type, "
             "event_ref) VALUES (%" PRId64 ", %" PRId64 ", '2026-04-02', %" PRId64 ", 'capital in', 'manual', "
             "'proposal:%" PRId64 "')) INSERT INTO journal_line (entry_id, line_no, account_id, currency, "
             "amount_minor, effective_date) VALUES (%" PRId64 ", 1, %" PRId64 ", 'COP', 5000000, '2026-04-02'), "
             "(%" PRId64 ", 2, %" PRId64 ", 'COP', -5000000, '2026-04-02')",
             forged, f.fund_id, f.approver.user_id, forged + 1000, forged, f.cash, forged, f.capital);
    assert_true(testdb_exec(f.ci, sql));
    /* A second one passed off as a contribution, with no contribution row. */
    int64_t forged2 = scalar_i64(&f, "SELECT nextval('journal_entry_id_seq')");
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, memo, event_type, "
             "event_ref) VALUES (%" PRId64 ", %" PRId64 ", '2026-04-02', %" PRId64 ", 'capital contribution', "
             "'contribution', 'tranche:1')) INSERT INTO journal_line (entry_id, line_no, account_id, currency, "
             "amount_minor, effective_date) VALUES (%" PRId64 ", 1, %" PRId64 ", 'COP', 700, '2026-04-02'), "
             "(%" PRId64 ", 2, %" PRId64 ", 'COP', -700, '2026-04-02')",
             forged2, f.fund_id, f.approver.user_id, forged2, f.cash, forged2, f.capital);
    assert_true(testdb_exec(f.ci, sql));
    /* The sealer signs them like any other: the signature does not make them legitimate. */
    assert_int_equal(seal_all(&f), 2);
    assert_true(chain_and_balances_ok(&f));
    struct ledger_verify_report rep;
    verify_full(&f, &f.paths, &rep);
    assert_false(rep.ok);
    assert_problem(&rep, forged, "no approved proposal posted it");
    assert_problem(&rep, forged2, "no contribution row records it");
    assert_null(problem_for(&rep, e1, ""));
    assert_int_equal(rep.problems_total, 2);
    /* `fundledger verify` says the same and exits non-zero. */
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin != NULL) {
        char cmd[8 * ANCHOR_PATH_BYTES];
        snprintf(cmd, sizeof cmd,
                 "FUNDLEDGER_DATABASE_URL='%s' FUNDLEDGER_ANCHOR_KEY_FILE='%s' FUNDLEDGER_ANCHOR_LOG_FILE='%s' "
                 "'%s' verify 2>&1",
                 f.ci, f.paths.key, f.paths.log, bin);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[8192];
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        int status = pclose(p);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        char want[64];
        snprintf(want, sizeof want, "MISMATCH: entry %" PRId64 " (manual", forged);
        if (strstr(out, want) == NULL || strstr(out, "verify: FAILED") == NULL) {
            fail_msg("fundledger verify said:\n%s", out);
        }
    }
    fx_close(&f);
}

/* Anchors signed with another key: a forged re-seal, and a line added to the log. */
static void test_forged_anchor_is_detected(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "tamper_forged", false);
    post(&f, "100.00");
    seal_all(&f);
    int64_t e2 = post(&f, "200.00");
    seal_all(&f);
    int64_t pos2 = scalar_i64(&f, "SELECT seal_pos FROM journal_entry WHERE id = %" PRId64, e2);
    /* The intruder has no access to the service's key: they re-seal with one of their own. */
    char other_dir[64] = "/tmp/fundledger-intruder-XXXXXX";
    assert_non_null(mkdtemp(other_dir));
    struct anchor_paths other;
    paths_in(other_dir, &other);
    struct anchor_signer *intruder = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(anchor_signer_open(&other, &intruder, &err), FLE_OK);
    as_superuser(&f,
                 "UPDATE journal_line SET amount_minor = amount_minor * 2 WHERE entry_id = %" PRId64 "; "
                 "UPDATE account_balance b SET balance_minor = b.balance_minor + l.amount_minor / 2 "
                 "FROM journal_line l WHERE l.entry_id = %" PRId64 " AND l.account_id = b.account_id; "
                 "UPDATE journal_entry SET seal_pos = NULL, prev_hash = NULL, hash = NULL WHERE seal_pos >= %" PRId64
                 "; DELETE FROM ledger_anchor WHERE seal_pos >= %" PRId64 ";",
                 e2, e2, pos2, pos2);
    unsigned sealed = 0;
    assert_int_equal(ledger_seal_anchored(f.db, LEDGER_SEAL_CHUNK, intruder, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 1);
    assert_true(chain_and_balances_ok(&f));
    struct ledger_verify_report rep;
    verify_full(&f, &f.paths, &rep);
    assert_false(rep.ok);
    assert_problem(&rep, e2, "not signed by key");
    /* A line the intruder appends to the service's log, signed with their key, is refused too. */
    struct anchor_head h;
    memset(&h, 0, sizeof h);
    h.seal_pos = pos2 + 5;
    h.entry_id = e2 + 5;
    h.count = 5 + 1;
    assert_true(anchor_sign(intruder, &h));
    struct anchor_paths to_log = other;
    snprintf(to_log.log, sizeof to_log.log, "%s", f.paths.log);
    anchor_signer_close(intruder);
    intruder = NULL;
    assert_int_equal(anchor_signer_open(&to_log, &intruder, &err), FLE_OK);
    assert_int_equal(anchor_log_append(intruder, &h, &err), FLE_OK);
    verify_full(&f, &f.paths, &rep);
    assert_problem(&rep, e2 + 5, "is not signed by key");
    /* Checked with the intruder's key instead, the service's own anchors are the forgeries. */
    verify_full(&f, &other, &rep);
    assert_false(rep.ok);
    assert_non_null(strstr(rep.problem, "not signed by key"));
    anchor_signer_close(intruder);
    (void)remove(other.key);
    (void)remove(other.public_key);
    (void)rmdir(other_dir);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_ledger_verifies_with_the_public_key_alone),
        cmocka_unit_test(test_tail_cut_is_detected),
        cmocka_unit_test(test_resealing_after_an_edit_is_detected),
        cmocka_unit_test(test_entry_without_proposal_is_detected),
        cmocka_unit_test(test_forged_anchor_is_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
