/* test_fund_life: a fund's whole life over HTTP against the real server: tranches, contributions,
 * pipeline, loan approval, disbursement, repayments on time, late and early, a waterfall run, a
 * write-off and a recovery, and the investor's statement. Every figure is checked to the centavo
 * against values worked out by hand below (not by the code under test), and the trial balance
 * is at zero after every step.
 *
 * The numbers are chosen so that the arithmetic is exact:
 *  - loan: 1,000,000.00 at EA 0.21550625, quarterly: (1.05)^4 = 1.21550625, so the periodic
 *    rate is exactly 5%. Four equal-principal instalments of 250,000.00 with interest 5% of the
 *    balance: 50,000.00, 37,500.00, 25,000.00, 12,500.00.
 *  - tranches hold 300,000.00 (first loss, rank 3, 0%), 500,000.00 (mezzanine, rank 2, 4%) and
 *    1,200,000.00 (senior, rank 1, 6%), contributed on 2025-05-15; the loan is funded pro rata to
 *    cash: senior 600,000.00 (60%), mezzanine 250,000.00 (25%), first loss 150,000.00 (15%).
 *  - the waterfall runs on 2026-05-15, exactly 365 days after the contributions, so a tranche's
 *    coupon is capital x rate: senior 72,000.00, mezzanine 20,000.00.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "fundledger/config.h"
#include "fundledger/db.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/log.h"
#include "testdb.h"

enum who { MANAGER, APPROVER, COMMITTEE, ADMIN, IMPACT, PEOPLE };
static const char *const people[PEOPLE] = {"manager", "approver", "committee", "admin", "impact"};
static char tokens[PEOPLE][80];
static struct config cfg;
static struct http_server *server;
static char base[64];
static int key_no;

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(null)";
}

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* One request; fails the test unless the status is the expected one. Returns the JSON body
 * (caller frees). */
static json_t *call(const char *method, const char *path, enum who who, const char *body, long expect)
{
    struct httpc_resp r;
    char key[32];
    snprintf(key, sizeof key, "life-%d", ++key_no);
    bool write = strcmp(method, "GET") != 0;
    assert_true(httpc_request(base, method, path, tokens[who], write ? key : NULL, NULL, body, &r));
    if (r.status != expect) {
        print_message("%s %s -> %ld (expected %ld): %s\n", method, path, r.status, expect, r.body ? r.body : "");
    }
    assert_int_equal(r.status, expect);
    json_t *j = json_incref(r.json);
    httpc_resp_free(&r);
    return j;
}

/* Approves a proposal; returns its status after the decision. */
static void approve(int64_t proposal_id, enum who who, const char *expect_status)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/approvals/%" PRId64 "/approve", proposal_id);
    json_t *p = call("POST", path, who, NULL, 200);
    assert_string_equal(jstr(p, "status"), expect_status);
    json_decref(p);
}

static int64_t fund_id;
static char conninfo[512];
static char fund_path[64];

/* The trial balance of the fund: every currency's debits equal its credits. */
static void assert_trial_balance_zero(void)
{
    char path[96];
    snprintf(path, sizeof path, "%s/trial-balance", fund_path);
    json_t *tb = call("GET", path, MANAGER, NULL, 200);
    json_t *totals = json_object_get(tb, "totals");
    assert_true(json_array_size(totals) >= 1);
    size_t i;
    json_t *t;
    json_array_foreach(totals, i, t)
    {
        assert_string_equal(jstr(t, "difference"), "0.00");
        assert_string_equal(jstr(t, "debit"), jstr(t, "credit"));
    }
    json_decref(tb);
}

/* The balance of an account by code, as the API shows it (a signed decimal: debit positive). */
static void assert_account(const char *code, const char *side, const char *balance)
{
    char path[96];
    snprintf(path, sizeof path, "%s/accounts", fund_path);
    json_t *list = call("GET", path, MANAGER, NULL, 200);
    size_t i;
    json_t *a;
    bool found = false;
    json_array_foreach(json_object_get(list, "accounts"), i, a)
    {
        if (strcmp(jstr(a, "code"), code) == 0) {
            found = true;
            if (strcmp(jstr(a, "balance"), balance) != 0 || strcmp(jstr(a, "side"), side) != 0) {
                print_message("account %s: %s %s, expected %s %s\n", code, jstr(a, "side"), jstr(a, "balance"), side,
                              balance);
            }
            assert_string_equal(jstr(a, "balance"), balance);
            assert_string_equal(jstr(a, "side"), side);
        }
    }
    json_decref(list);
    assert_true(found);
}

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    const char *ci = testdb_create("fund_life");
    snprintf(conninfo, sizeof conninfo, "%s", ci ? ci : "");
    /* The figures of this walk-through were worked out under the stored-schedule allocation (a
     * repayment before the due date pays the instalment's whole interest): its fund is created on
     * that servicing basis (migration 0016, docs/loan-servicing.md §11) until they are redone on
     * the accrual basis. */
    if (!testdb_exec(ci, "ALTER TABLE fund ALTER COLUMN servicing_basis SET DEFAULT 'schedule'")) {
        return -1;
    }
    char cred[] = "/tmp/fundledger-life-XXXXXX";
    int fd = mkstemp(cred);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    struct db *db = testdb_open(ci);
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = demo_load(db, cred, &err);
    db_close(db);
    json_error_t je;
    json_t *doc = e == FLE_OK ? json_load_file(cred, 0, &je) : NULL;
    remove(cred);
    for (int i = 0; i < PEOPLE && doc; i++) {
        snprintf(tokens[i], sizeof tokens[i], "%s", jstr(json_object_get(doc, "tokens"), people[i]));
    }
    json_decref(doc);
    if (e != FLE_OK) {
        fprintf(stderr, "test_fund_life: demo_load: %s\n", err.message);
        return -1;
    }
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.migrations_dir, sizeof cfg.migrations_dir, "migrations");
    if (http_server_start(&cfg, ci, &server, &err) != FLE_OK) {
        fprintf(stderr, "test_fund_life: %s\n", err.message);
        return -1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)http_server_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    return 0;
}

static int64_t t_senior, t_mezz, t_fl, investor_senior, loan_id;

static int64_t create_org(const char *name, const char *ref)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"kind\":\"investor\",\"iati_ref\":\"%s\",\"iati_type\":\"70\"}",
             name, ref);
    json_t *o = call("POST", "/v1/organisations", ADMIN, body, 201);
    int64_t id = jint(o, "id");
    json_decref(o);
    return id;
}

static int64_t create_tranche(int64_t investor, const char *name, const char *kind, int rank, const char *amount,
                              const char *rate)
{
    char path[96], body[512];
    snprintf(path, sizeof path, "%s/tranches", fund_path);
    snprintf(body, sizeof body,
             "{\"investor_id\":%" PRId64 ",\"name\":\"%s\",\"kind\":\"%s\",\"rank\":%d,\"currency\":\"COP\","
             "\"commitment\":\"%s\",\"return_rate\":\"%s\",\"signed_date\":\"2025-05-01\"}",
             investor, name, kind, rank, amount, rate);
    json_t *p = call("POST", path, MANAGER, body, 201);
    assert_string_equal(jstr(p, "status"), "pending");
    int64_t pid = jint(p, "id");
    json_decref(p);
    approve(pid, COMMITTEE, "approved");
    json_t *list = call("GET", path, MANAGER, NULL, 200);
    int64_t id = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(list, "tranches"), i, t)
    {
        if (strcmp(jstr(t, "name"), name) == 0) {
            id = jint(t, "id");
        }
    }
    json_decref(list);
    assert_true(id > 0);
    return id;
}

static void contribute(int64_t tranche, const char *amount, const char *ref)
{
    char path[96], body[256];
    snprintf(path, sizeof path, "/v1/tranches/%" PRId64 "/contributions", tranche);
    snprintf(body, sizeof body, "{\"amount\":\"%s\",\"received_date\":\"2025-05-15\",\"reference\":\"%s\"}", amount,
             ref);
    json_decref(call("POST", path, MANAGER, body, 201));
}

static void assert_tranche(int64_t tranche, const char *figure, const char *value)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/tranches/%" PRId64, tranche);
    json_t *t = call("GET", path, MANAGER, NULL, 200);
    const char *got = jstr(json_object_get(t, "figures"), figure);
    if (strcmp(got, value) != 0) {
        print_message("tranche %" PRId64 " %s: %s, expected %s\n", tranche, figure, got, value);
    }
    assert_string_equal(got, value);
    json_decref(t);
}

static void test_1_capital(void **state)
{
    (void)state;
    json_t *f = call("POST", "/v1/funds", MANAGER, "{\"code\":\"LIFE\",\"name\":\"Fund life\",\"base_currency\":\"COP\"}",
                     201);
    fund_id = jint(f, "id");
    json_decref(f);
    snprintf(fund_path, sizeof fund_path, "/v1/funds/%" PRId64, fund_id);
    int64_t a = create_org("Life first-loss donor", "CO-RUE-800000101");
    int64_t b = create_org("Life concessional partner", "CO-RUE-800000102");
    investor_senior = create_org("Life senior investor", "CO-RUE-800000103");
    t_fl = create_tranche(a, "FL", "first_loss", 3, "300000.00", "0.0000");
    t_mezz = create_tranche(b, "MEZZ", "mezzanine", 2, "500000.00", "0.0400");
    t_senior = create_tranche(investor_senior, "SENIOR", "senior", 1, "1200000.00", "0.0600");
    assert_trial_balance_zero();
    contribute(t_fl, "300000.00", "FL-1");
    contribute(t_mezz, "500000.00", "MZ-1");
    contribute(t_senior, "1200000.00", "SN-1");
    assert_tranche(t_senior, "paid_in", "1200000.00");
    assert_tranche(t_senior, "unfunded", "0.00");
    assert_tranche(t_senior, "cash_available", "1200000.00");
    assert_trial_balance_zero();
}

/* The loan form's schedule preview (docs/console.md) of loan L of docs/loan-servicing.md:
 * 12,000,000.00 COP at 24 % EA, monthly, 12 annuity instalments from 2026-02-15: level
 * 1,121,430.11, row 1 interest 217,050.99 and principal 904,379.12, interest total
 * 1,457,161.36; microcrédito cap 52 % from 2026, margin 28 %. It writes nothing, and refuses bad
 * terms as the proposal does. */
static void test_2a_schedule_preview(void **state)
{
    (void)state;
    long long proposals = testdb_int(conninfo, "SELECT count(*) FROM proposal"),
              audit = testdb_int(conninfo, "SELECT count(*) FROM audit_log"),
              keys = testdb_int(conninfo, "SELECT count(*) FROM idempotency_key");
    char path[96];
    snprintf(path, sizeof path, "%s/loans/schedule-preview", fund_path);
    const char *terms = "{\"principal\":\"12000000.00\",\"annual_rate\":\"0.24\",\"payments_per_year\":12,"
                        "\"term_count\":12,\"first_due_date\":\"2026-02-15\",\"amortisation\":\"annuity\","
                        "\"approval_date\":\"2026-01-15\"}";
    struct httpc_resp r;
    assert_true(httpc_request(base, "POST", path, tokens[MANAGER], NULL, NULL, terms, &r)); /* no key needed */
    assert_int_equal(r.status, 200);
    json_t *p = r.json;
    assert_string_equal(jstr(p, "currency"), "COP");
    assert_string_equal(jstr(p, "principal"), "12000000.00");
    assert_string_equal(jstr(p, "instalment"), "1121430.11");
    json_t *rows = json_object_get(p, "rows");
    assert_int_equal(json_array_size(rows), 12);
    json_t *r1 = json_array_get(rows, 0), *r12 = json_array_get(rows, 11);
    assert_int_equal(jint(r1, "no"), 1);
    assert_string_equal(jstr(r1, "due_date"), "2026-02-15");
    assert_string_equal(jstr(r1, "interest"), "217050.99");
    assert_string_equal(jstr(r1, "principal"), "904379.12");
    assert_string_equal(jstr(r1, "total"), "1121430.11");
    assert_string_equal(jstr(r1, "capitalised"), "0.00");
    assert_string_equal(jstr(r1, "balance_after"), "11095620.88");
    assert_string_equal(jstr(r12, "due_date"), "2027-01-15");
    assert_string_equal(jstr(r12, "balance_after"), "0.00");
    json_t *tot = json_object_get(p, "totals");
    assert_string_equal(jstr(tot, "principal"), "12000000.00");
    assert_string_equal(jstr(tot, "interest"), "1457161.36");
    assert_string_equal(jstr(tot, "total"), "13457161.36");
    json_t *u = json_object_get(p, "usury");
    assert_string_equal(jstr(u, "modality"), "microcredito");
    assert_string_equal(jstr(u, "on"), "2026-01-15");
    assert_string_equal(jstr(u, "cap"), "0.5200");
    assert_string_equal(jstr(u, "margin"), "0.2800");
    httpc_resp_free(&r);
    /* The proposal's errors: same code, same field. */
    static const struct {
        const char *body, *code, *field;
    } bad[] = {
        {"{\"principal\":\"0.00\",\"annual_rate\":\"0.24\",\"payments_per_year\":12,\"term_count\":12,"
         "\"first_due_date\":\"2026-02-15\",\"amortisation\":\"annuity\",\"approval_date\":\"2026-01-15\"}",
         "invalid_field", "principal"},
        {"{\"principal\":\"1.00\",\"annual_rate\":\"0.24\",\"payments_per_year\":5,\"term_count\":12,"
         "\"first_due_date\":\"2026-02-15\",\"amortisation\":\"annuity\",\"approval_date\":\"2026-01-15\"}",
         "invalid_field", "payments_per_year"},
        {"{\"principal\":\"1.00\",\"annual_rate\":\"0.24\",\"payments_per_year\":12,\"term_count\":12,"
         "\"first_due_date\":\"2026-01-10\",\"amortisation\":\"annuity\",\"approval_date\":\"2026-01-15\"}",
         "invalid_field", "first_due_date"},
        {"{\"principal\":\"1.00\",\"annual_rate\":\"0.24\",\"payments_per_year\":12,\"term_count\":12,"
         "\"first_due_date\":\"2026-02-15\",\"amortisation\":\"annuity\",\"grace_principal\":12}",
         "invalid_field", "grace_principal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_true(httpc_request(base, "POST", path, tokens[MANAGER], NULL, NULL, bad[i].body, &r));
        json_t *e = json_object_get(r.json, "error");
        if (r.status != 400 || strcmp(jstr(e, "code"), bad[i].code) != 0 || strcmp(jstr(e, "field"), bad[i].field) != 0) {
            print_message("bad terms %zu: %ld %s\n", i, r.status, r.body ? r.body : "");
        }
        assert_int_equal(r.status, 400);
        assert_string_equal(jstr(e, "code"), bad[i].code);
        assert_string_equal(jstr(e, "field"), bad[i].field);
        httpc_resp_free(&r);
    }
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM proposal"), proposals);
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM audit_log"), audit);
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM idempotency_key"), keys);
}

static void test_2_pipeline_and_loan(void **state)
{
    (void)state;
    char path[96];
    snprintf(path, sizeof path, "%s/entrepreneurs", fund_path);
    json_t *e = call("POST", path, MANAGER,
                     "{\"kind\":\"cooperative\",\"name\":\"Cooperativa de Prueba\",\"tax_id\":\"900111222\","
                     "\"municipality_code\":\"52250\",\"value_chain\":\"cacao\",\"members\":12,"
                     "\"requested\":\"1000000.00\"}",
                     201);
    int64_t ent = jint(e, "id");
    json_decref(e);
    static const char *const stages[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3; i++) {
        char body[64];
        snprintf(path, sizeof path, "/v1/entrepreneurs/%" PRId64 "/stage", ent);
        snprintf(body, sizeof body, "{\"to\":\"%s\"}", stages[i]);
        json_decref(call("POST", path, MANAGER, body, 200));
    }
    char body[512];
    snprintf(path, sizeof path, "%s/loans", fund_path);
    snprintf(body, sizeof body,
             "{\"entrepreneur_id\":%" PRId64 ",\"principal\":\"1000000.00\",\"annual_rate\":\"0.21550625\","
             "\"payments_per_year\":4,\"term_count\":4,\"first_due_date\":\"2025-09-02\","
             "\"amortisation\":\"equal_principal\",\"approval_date\":\"2025-06-02\"}",
             ent);
    json_t *p = call("POST", path, MANAGER, body, 201);
    loan_id = jint(p, "loan_id");
    int64_t pid = jint(p, "id");
    json_decref(p);
    approve(pid, APPROVER, "approved");
    snprintf(path, sizeof path, "/v1/loans/%" PRId64, loan_id);
    json_t *loan = call("GET", path, MANAGER, NULL, 200);
    json_t *sched = json_object_get(loan, "schedule");
    assert_int_equal(json_array_size(sched), 4);
    static const char *const due[] = {"2025-09-02", "2025-12-02", "2026-03-02", "2026-06-02"};
    static const char *const interest[] = {"50000.00", "37500.00", "25000.00", "12500.00"};
    for (size_t i = 0; i < 4; i++) {
        json_t *row = json_array_get(sched, i);
        assert_string_equal(jstr(row, "due_date"), due[i]);
        assert_string_equal(jstr(row, "principal"), "250000.00");
        assert_string_equal(jstr(row, "interest"), interest[i]);
    }
    /* Funding pro rata to cash, most senior first. */
    json_t *funding = json_object_get(loan, "funding");
    assert_int_equal(json_array_size(funding), 3);
    assert_int_equal(jint(json_array_get(funding, 0), "tranche_id"), t_senior);
    assert_string_equal(jstr(json_array_get(funding, 0), "share"), "600000.00");
    assert_string_equal(jstr(json_array_get(funding, 1), "share"), "250000.00");
    assert_string_equal(jstr(json_array_get(funding, 2), "share"), "150000.00");
    json_decref(loan);
    assert_account("8500", "debit", "1000000.00");
    assert_trial_balance_zero();

    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/conditions", loan_id);
    for (int i = 0; i < 4; i++) {
        snprintf(body, sizeof body, "{\"item\":\"%s\",\"done_on\":\"2025-06-03\"}", items[i]);
        json_decref(call("POST", path, MANAGER, body, 201));
    }
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/disbursements", loan_id);
    p = call("POST", path, MANAGER, "{\"amount\":\"1000000.00\",\"value_date\":\"2025-06-05\"}", 201);
    pid = jint(p, "id");
    json_decref(p);
    approve(pid, APPROVER, "approved");
    assert_tranche(t_senior, "loans_outstanding", "600000.00");
    assert_tranche(t_mezz, "loans_outstanding", "250000.00");
    assert_tranche(t_fl, "loans_outstanding", "150000.00");
    assert_tranche(t_senior, "cash_available", "600000.00");
    assert_tranche(t_fl, "cash_available", "150000.00");
    assert_account("8500", "zero", "0.00");
    assert_trial_balance_zero();
}

static void repay(const char *amount, const char *date, const char *ref)
{
    char path[96], body[256];
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/repayments", loan_id);
    snprintf(body, sizeof body, "{\"amount\":\"%s\",\"value_date\":\"%s\",\"reference\":\"%s\"}", amount, date, ref);
    json_decref(call("POST", path, MANAGER, body, 201));
    assert_trial_balance_zero();
}

static void test_3_repayments(void **state)
{
    (void)state;
    /* On time: instalment 1, 250,000.00 + 50,000.00, split 60/25/15 of the principal. */
    repay("300000.00", "2025-09-02", "BANK-1");
    assert_tranche(t_senior, "loans_outstanding", "450000.00");
    assert_tranche(t_mezz, "loans_outstanding", "187500.00");
    assert_tranche(t_fl, "loans_outstanding", "112500.00");
    assert_account("1050", "debit", "300000.00");
    assert_account("4000", "credit", "50000.00");
    /* Late: instalment 2 paid ten days after its due date: 40 days past due the day before. */
    char path[128];
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/arrears?as_of=2025-12-11", loan_id);
    json_t *arr = call("GET", path, MANAGER, NULL, 200);
    assert_int_equal(jint(arr, "days_past_due"), 9);
    assert_string_equal(jstr(arr, "principal_in_arrears"), "250000.00");
    assert_string_equal(jstr(arr, "interest_in_arrears"), "37500.00");
    json_decref(arr);
    repay("287500.00", "2025-12-12", "BANK-2");
    /* Early: on 2026-02-25 (before instalment 3 is due) 400,000.00 pays instalment 3's
     * 25,000.00 + 250,000.00 and prepays 125,000.00 of instalment 4's principal. */
    repay("400000.00", "2026-02-25", "BANK-3");
    assert_tranche(t_senior, "loans_outstanding", "75000.00");
    assert_tranche(t_mezz, "loans_outstanding", "31250.00");
    assert_tranche(t_fl, "loans_outstanding", "18750.00");
    assert_account("1050", "debit", "987500.00");
    assert_account("4000", "credit", "112500.00");
    /* A duplicate bank reference is refused and changes nothing. */
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/repayments", loan_id);
    json_decref(call("POST", path, MANAGER, "{\"amount\":\"1.00\",\"value_date\":\"2026-02-26\",\"reference\":\"BANK-3\"}",
                     409));
    assert_account("1050", "debit", "987500.00");
}

static void test_4_waterfall(void **state)
{
    (void)state;
    /* On 2026-05-15 collections hold 987,500.00. Sequential, one priority of payments:
     * senior interest 72,000.00, then senior principal takes the remaining 915,500.00 (its
     * capital is 1,200,000.00); nothing is left for the mezzanine (20,000.00 due, unpaid). */
    char path[96];
    snprintf(path, sizeof path, "%s/waterfall-runs", fund_path);
    json_t *run = call("POST", path, MANAGER, "{\"run_date\":\"2026-05-15\"}", 201);
    int64_t run_id = jint(run, "id");
    json_decref(run);
    assert_tranche(t_senior, "distributions_income", "72000.00");
    assert_tranche(t_senior, "distributions_principal", "915500.00");
    assert_tranche(t_senior, "capital", "284500.00");
    assert_tranche(t_mezz, "distributions_income", "0.00");
    assert_tranche(t_mezz, "capital", "500000.00");
    assert_account("1050", "zero", "0.00");
    assert_trial_balance_zero();
    snprintf(path, sizeof path, "/v1/waterfall-runs/%" PRId64 "/replay", run_id);
    json_t *replay = call("GET", path, MANAGER, NULL, 200);
    assert_true(json_is_true(json_object_get(replay, "ok")) || strcmp(jstr(replay, "status"), "ok") == 0);
    json_decref(replay);
}

static void test_5_statement(void **state)
{
    (void)state;
    /* As of the run date: paid in 1,200,000.00; distributed 987,500.00; capital 284,500.00;
     * DPI 0.8229, RVPI 0.2371, TVPI 1.0600; every flow is 365 days apart, so IRR = 0.06. */
    char path[160];
    snprintf(path, sizeof path, "%s/statements?investor_id=%" PRId64 "&period_end=2026-05-15", fund_path,
             investor_senior);
    json_t *s = call("GET", path, MANAGER, NULL, 200);
    json_t *t = json_array_get(json_object_get(s, "tranches"), 0);
    assert_non_null(t);
    json_t *perf = json_object_get(t, "performance");
    json_t *itd = json_object_get(perf, "itd") ? json_object_get(perf, "itd") : perf;
    assert_string_equal(jstr(itd, "dpi"), "0.8229");
    assert_string_equal(jstr(itd, "rvpi"), "0.2371");
    assert_string_equal(jstr(itd, "tvpi"), "1.0600");
    assert_string_equal(jstr(itd, "irr"), "0.0600000000");
    assert_int_equal(strlen(jstr(s, "hash")), 64);
    json_decref(s);
}

static void test_6_write_off_and_recovery(void **state)
{
    (void)state;
    /* Instalment 4's remaining 125,000.00 is never paid: written off on 2026-07-15 (four eyes).
     * Loss bottom-up: the first-loss tranche (capital 300,000.00) absorbs all of it. */
    char path[96];
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/write-off", loan_id);
    json_t *p = call("POST", path, MANAGER, "{\"value_date\":\"2026-07-15\",\"reason\":\"crop lost to flooding\"}", 201);
    int64_t pid = jint(p, "id");
    json_decref(p);
    approve(pid, APPROVER, "approved");
    assert_tranche(t_fl, "losses_absorbed", "125000.00");
    assert_tranche(t_fl, "capital", "175000.00");
    assert_tranche(t_mezz, "losses_absorbed", "0.00");
    assert_tranche(t_senior, "loans_outstanding", "0.00");
    assert_tranche(t_fl, "loans_outstanding", "0.00");
    assert_trial_balance_zero();
    /* Recovery 50,000.00: restores top-down what was lost, here the first loss's. */
    snprintf(path, sizeof path, "/v1/loans/%" PRId64 "/recoveries", loan_id);
    json_decref(call("POST", path, MANAGER,
                     "{\"amount\":\"50000.00\",\"value_date\":\"2026-08-01\",\"reference\":\"RECOVERY-1\"}", 201));
    assert_tranche(t_fl, "losses_absorbed", "75000.00");
    assert_tranche(t_fl, "capital", "225000.00");
    assert_account("1050", "debit", "50000.00");
    assert_trial_balance_zero();
    /* The portfolio is empty of this loan: nothing outstanding in the fund. */
    char q[128];
    snprintf(q, sizeof q, "%s/portfolio?as_of=2026-08-01", fund_path);
    json_t *pq = call("GET", q, MANAGER, NULL, 200);
    assert_string_equal(jstr(pq, "gross_portfolio"), "0.00");
    json_decref(pq);
}

static void test_7_investor_sees_only_its_own(void **state)
{
    (void)state;
    /* The demo's impact investor is not this fund's senior investor: 403 on its statement. */
    char path[160];
    snprintf(path, sizeof path, "%s/statements?investor_id=%" PRId64 "&period_end=2026-05-15", fund_path,
             investor_senior);
    json_decref(call("GET", path, IMPACT, NULL, 403));
    snprintf(path, sizeof path, "/v1/tranches/%" PRId64, t_senior);
    json_decref(call("GET", path, IMPACT, NULL, 403));
    /* A tranche's capital calls and contributions (the investor screen, docs/console.md): a new
     * tranche of 100,000.00, called 40,000.00 on 2026-06-01 (due 2026-06-30), 25,000.00 received
     * against the call on 2026-06-10 and 5,000.00 without a call on 2026-06-12. */
    int64_t t_called = create_tranche(investor_senior, "CALLED", "senior", 4, "100000.00", "0.0500");
    snprintf(path, sizeof path, "/v1/tranches/%" PRId64 "/capital-calls", t_called);
    json_t *c = call("POST", path, MANAGER, "{\"amount\":\"40000.00\",\"call_date\":\"2026-06-01\","
                     "\"due_date\":\"2026-06-30\"}", 201);
    int64_t call_id = jint(c, "id");
    json_decref(c);
    char body[256], cpath[96];
    snprintf(cpath, sizeof cpath, "/v1/tranches/%" PRId64 "/contributions", t_called);
    snprintf(body, sizeof body, "{\"amount\":\"25000.00\",\"received_date\":\"2026-06-10\",\"reference\":\"CL-1\","
             "\"capital_call_id\":%" PRId64 "}", call_id);
    json_decref(call("POST", cpath, MANAGER, body, 201));
    json_decref(call("POST", cpath, MANAGER,
                     "{\"amount\":\"5000.00\",\"received_date\":\"2026-06-12\",\"reference\":\"CL-2\"}", 201));
    json_t *l = call("GET", path, MANAGER, NULL, 200);
    assert_int_equal(jint(l, "tranche_id"), t_called);
    assert_string_equal(jstr(l, "currency"), "COP");
    json_t *calls = json_object_get(l, "calls"), *contribs = json_object_get(l, "contributions");
    assert_int_equal(json_array_size(calls), 1);
    json_t *c1 = json_array_get(calls, 0);
    assert_int_equal(jint(c1, "id"), call_id);
    assert_int_equal(jint(c1, "call_no"), 1);
    assert_string_equal(jstr(c1, "amount"), "40000.00");
    assert_string_equal(jstr(c1, "call_date"), "2026-06-01");
    assert_string_equal(jstr(c1, "due_date"), "2026-06-30");
    assert_string_equal(jstr(c1, "contributed"), "25000.00");
    assert_int_equal(json_array_size(contribs), 2);
    json_t *k1 = json_array_get(contribs, 0), *k2 = json_array_get(contribs, 1);
    assert_int_equal(jint(k1, "capital_call_id"), call_id);
    assert_string_equal(jstr(k1, "amount"), "25000.00");
    assert_string_equal(jstr(k1, "received_date"), "2026-06-10");
    assert_string_equal(jstr(k1, "reference"), "CL-1");
    assert_true(json_is_null(json_object_get(k2, "capital_call_id")));
    assert_string_equal(jstr(k2, "amount"), "5000.00");
    assert_string_equal(jstr(k2, "reference"), "CL-2");
    json_decref(l);
    /* Another investor's tranche: 403 naming tranche_id; no tranche: 404. */
    json_decref(call("GET", path, IMPACT, NULL, 403));
    json_decref(call("GET", "/v1/tranches/999999/capital-calls", MANAGER, NULL, 404));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_1_capital),    cmocka_unit_test(test_2a_schedule_preview),
        cmocka_unit_test(test_2_pipeline_and_loan),
        cmocka_unit_test(test_3_repayments), cmocka_unit_test(test_4_waterfall),
        cmocka_unit_test(test_5_statement),  cmocka_unit_test(test_6_write_off_and_recovery),
        cmocka_unit_test(test_7_investor_sees_only_its_own),
    };
    return cmocka_run_group_tests_name("fund life (HTTP end to end)", tests, setup, teardown);
}
