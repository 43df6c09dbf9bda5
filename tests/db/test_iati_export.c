/* test_iati_export: a demo-like fund's IATI files from the database and the ledger: they pass the
 * official schemas (xmllint), the codelists and the rulesets; every total per transaction type
 * equals the ledger's; no person is named and nothing is located finer than a municipality; and
 * the publish path refuses (writing nothing) when a check fails. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "../support/iati_fixture.h"
#include "../support/loanfix.h"
#include "../support/testdb.h"
#include "fundledger/approval.h"
#include "fundledger/demo.h"
#include "fundledger/fund.h"
#include "fundledger/iati_export.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"

#define REF "CO-RUE-9001234567"
#define FUND_ID_TEXT REF "-HSP-IATI"
#define PATH_BYTES 1024
#define CMD_BYTES 4096

static const char *ci;
static struct db *db;
static struct iati_fixture F;
static char shared[PATH_BYTES], schemas[PATH_BYTES + 32], codelists[PATH_BYTES + 32];
static char out_dir[PATH_BYTES], apath[PATH_BYTES + 32], opath[PATH_BYTES + 32];
static struct iati_export_summary summary;

/* ---- helpers ---------------------------------------------------------------------------- */

static void mk_temp_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/fl-%s-XXXXXX", name);
    assert_non_null(mkdtemp(buf));
}

/* The number of entries of a directory besides . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

struct publish_run {
    struct iati_export_options o;
    struct iati_export_summary sum;
    struct iati_problems problems;
};

static enum fl_err publish_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct publish_run *p = arg;
    iati_problems_free(&p->problems);
    if (iati_export_snapshot(d, err) != FLE_OK) {
        return err->code;
    }
    return iati_export_publish(d, &p->o, &p->sum, &p->problems, err);
}

static struct iati_export_options options(const char *dir)
{
    return (struct iati_export_options){.fund_id = F.fund_id,
                                        .out_dir = dir,
                                        .reporting_org_ref = REF,
                                        .schema_dir = schemas,
                                        .codelist_dir = codelists,
                                        .today = NULL,
                                        .policy_url = "https://fund.example.org/v1/iati/exclusions-policy",
                                        /* each department of the fixture (2 and 1 loans to persons)
                                         * its own activity; small groups: test_small_groups_* */
                                        .small_group_min = 1};
}

/* Publishes into dir with o; returns the result, p keeps the problems (caller frees). */
static enum fl_err publish_quiet(const struct iati_export_options *o, struct publish_run *p, bool quiet)
{
    memset(p, 0, sizeof *p);
    p->o = *o;
    iati_problems_init(&p->problems);
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = db_tx(db, publish_tx, p, &err);
    if (e != FLE_OK && !quiet) {
        fprintf(stderr, "publish: %s (%s)\n", err.message, err.field);
        iati_problems_print(&p->problems, stderr);
    }
    return e;
}

static enum fl_err publish(const struct iati_export_options *o, struct publish_run *p)
{
    return publish_quiet(o, p, false);
}

static int run_cmd(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* XPath over a file: nodes of an expression. */
struct xdoc {
    xmlDocPtr doc;
    xmlXPathContextPtr ctx;
};

static void xopen(struct xdoc *x, const char *path)
{
    x->doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    assert_non_null(x->doc);
    x->ctx = xmlXPathNewContext(x->doc);
    assert_non_null(x->ctx);
}

static void xclose(struct xdoc *x)
{
    xmlXPathFreeContext(x->ctx);
    xmlFreeDoc(x->doc);
}

static int xcount(struct xdoc *x, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, x->ctx);
    assert_non_null(o);
    int n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

/* The text of the first node of expr (an element or attribute), into buf; "" when none. */
static const char *xtext(struct xdoc *x, const char *expr, char *buf, size_t cap)
{
    buf[0] = '\0';
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, x->ctx);
    assert_non_null(o);
    if (o->nodesetval && o->nodesetval->nodeNr > 0) {
        xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
        snprintf(buf, cap, "%s", (const char *)t);
        xmlFree(t);
    }
    xmlXPathFreeObject(o);
    return buf;
}

/* The sum of the decimal contents of the nodes of expr, in minor units (exponent 2). */
static int64_t xsum(struct xdoc *x, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, x->ctx);
    assert_non_null(o);
    int64_t sum = 0;
    for (int i = 0; o->nodesetval && i < o->nodesetval->nodeNr; i++) {
        xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[i]);
        int64_t v = 0;
        assert_int_equal(money_parse((const char *)t, 2, true, &v), MONEY_OK);
        sum += v;
        xmlFree(t);
    }
    xmlXPathFreeObject(o);
    return sum;
}

static int64_t scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

/* ---- small groups: no published figure is one person's loan ---------------------------- */

/* Publishes the fixture with a small group minimum into a fresh directory; the activity file is
 * opened in x (the caller closes it and calls small_groups_done). */
static void small_groups_publish(unsigned min, char *dir, size_t cap, struct publish_run *p, struct xdoc *x)
{
    mk_temp_dir(dir, cap, "iati-small");
    struct iati_export_options o = options(dir);
    o.small_group_min = min;
    assert_int_equal(publish(&o, p), FLE_OK);
    assert_false(iati_problems_errors_since(&p->problems, 0, 0));
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/activities.xml", dir);
    xopen(x, path);
}

static void small_groups_done(const char *dir, struct publish_run *p)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/activities.xml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/organisation.xml", dir);
    unlink(path);
    rmdir(dir);
    iati_problems_free(&p->problems);
}

/* Minimum 2: Antioquia has one person's loan (40,000): not its own activity. It joins "other
 * departments", which then has 1 loan, below 2: Nariño (2 loans, the smallest department on its
 * own) joins it too. One activity: AGG-OTHER, 3 loans, Q1 drawdowns 50,000 + 70,000 + 40,000. */
static void test_small_groups_one_person_department_joins_other(void **state)
{
    (void)state;
    char dir[PATH_BYTES], q[512], buf[256];
    struct publish_run p;
    struct xdoc x;
    small_groups_publish(2, dir, sizeof dir, &p, &x);
    assert_int_equal(p.sum.activity_count, 4); /* the fund, two loans to organisations, AGG-OTHER */
    assert_int_equal(p.sum.other_departments, 2);
    assert_int_equal(p.sum.withheld_loans, 0);
    snprintf(q, sizeof q, "//iati-activity[iati-identifier='%s-AGG-05' or iati-identifier='%s-AGG-52']", FUND_ID_TEXT,
             FUND_ID_TEXT);
    assert_int_equal(xcount(&x, q), 0);
    char a[256];
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-AGG-OTHER']", FUND_ID_TEXT);
    assert_int_equal(xcount(&x, a), 1);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='3']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "160000.00");
    snprintf(q, sizeof q, "%s/location", a); /* the country only: no department */
    assert_int_equal(xcount(&x, q), 0);
    snprintf(q, sizeof q, "%s/recipient-country[@code='CO']", a);
    assert_int_equal(xcount(&x, q), 1);
    /* the fund lists it among its children */
    snprintf(q, sizeof q, "//iati-activity[@hierarchy='1']/related-activity[@type='2' and @ref='%s-AGG-OTHER']",
             FUND_ID_TEXT);
    assert_int_equal(xcount(&x, q), 1);
    xclose(&x);
    small_groups_done(dir, &p);
}

/* The default minimum (5, small_group_min 0): the fund has 3 loans to persons in all, so any figure
 * of them could be one person's: none is published (no AGG activity); their sums are withheld and
 * still accounted for: file + withheld = ledger (FL-TOTALS passes). Disbursements withheld:
 * 50,000 + 70,000 + 40,000 = 160,000.00. */
static void test_small_groups_withheld_below_minimum(void **state)
{
    (void)state;
    char dir[PATH_BYTES], q[512];
    struct publish_run p;
    struct xdoc x;
    small_groups_publish(0, dir, sizeof dir, &p, &x);
    assert_int_equal(p.sum.activity_count, 3);
    assert_int_equal(p.sum.withheld_loans, 3);
    assert_int_equal(p.sum.other_departments, 0);
    assert_int_equal(p.sum.withheld.total_minor[IATI_TX_DISBURSEMENT], 16000000);
    snprintf(q, sizeof q, "//iati-activity[starts-with(iati-identifier, '%s-AGG-')]", FUND_ID_TEXT);
    assert_int_equal(xcount(&x, q), 0);
    struct iati_totals ledger;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(iati_export_totals(db, F.fund_id, &ledger, &err), FLE_OK);
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        assert_int_equal(p.sum.written.total_minor[t] + p.sum.withheld.total_minor[t], ledger.total_minor[t]);
    }
    assert_int_equal(ledger.total_minor[IATI_TX_DISBURSEMENT] - p.sum.written.total_minor[IATI_TX_DISBURSEMENT],
                     16000000);
    xclose(&x);
    small_groups_done(dir, &p);
}

/* A third department (Cauca, added here) with one person's loan of 30,000: with minimum 2, Nariño
 * (2 loans) is its own activity (120,000); Antioquia (1) and Cauca (1) are "other departments"
 * (2 loans, 40,000 + 30,000 = 70,000), and neither is published alone. Runs last: it adds data. */
static void test_small_groups_own_and_other(void **state)
{
    (void)state;
    assert_true(testdb_exec(ci, "INSERT INTO municipality (code, name, department_code, department_name) VALUES "
                                "('19001', 'Popayán', '19', 'Cauca') ON CONFLICT DO NOTHING"));
    assert_true(
        iati_fixture_person_loan(db, &F, "Persona De Prueba Cauca", "1061000001", "19001", "coffee", "30000.00") > 0);
    char dir[PATH_BYTES], q[512], buf[256], a[256];
    struct publish_run p;
    struct xdoc x;
    small_groups_publish(2, dir, sizeof dir, &p, &x);
    assert_int_equal(p.sum.activity_count, 5); /* the fund, two loans to organisations, AGG-52, AGG-OTHER */
    assert_int_equal(p.sum.other_departments, 2);
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-AGG-52']", FUND_ID_TEXT);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='3']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "120000.00");
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-AGG-OTHER']", FUND_ID_TEXT);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='3']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "70000.00");
    snprintf(q, sizeof q, "//iati-activity[iati-identifier='%s-AGG-05' or iati-identifier='%s-AGG-19']", FUND_ID_TEXT,
             FUND_ID_TEXT);
    assert_int_equal(xcount(&x, q), 0);
    /* coffee (Antioquia 40,000 + Cauca 30,000): one sector at 100 */
    snprintf(q, sizeof q, "%s/sector[@code='31162' and @percentage='100']", a);
    assert_int_equal(xcount(&x, q), 1);
    xclose(&x);
    small_groups_done(dir, &p);
}

/* ---- warnings publish, errors refuse ------------------------------------------------------ */

struct create_run {
    struct iati_export_options o;
    struct iati_problems problems;
    json_t *reply;
};

static enum fl_err create_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct create_run *c = arg;
    iati_problems_free(&c->problems); /* a retry starts over */
    json_decref(c->reply);
    c->reply = NULL;
    if (iati_export_snapshot(d, err) != FLE_OK) {
        return err->code;
    }
    c->reply = iati_publication_create(d, &F.transparency, &c->o, &c->problems, err);
    return c->reply != NULL ? FLE_OK : err->code;
}

/* A withdrawn code (beans as Sector 74010, withdrawn 2017-12-31) is a warning: the files are
 * published, the warning is in the problems, in the publication's reply and in its audit record. */
static void test_published_with_a_warning(void **state)
{
    (void)state;
    char dir[PATH_BYTES], path[PATH_BYTES + 32];
    mk_temp_dir(dir, sizeof dir, "iati-warning");
    assert_true(testdb_exec(ci, "UPDATE value_chain SET dac_sector = '74010' WHERE code = 'beans'"));
    struct iati_export_options o = options(dir);
    struct publish_run p;
    assert_int_equal(publish(&o, &p), FLE_OK);
    const struct iati_problem *w = iati_problems_find(&p.problems, "FL-CODE-WITHDRAWN");
    assert_non_null(w);
    assert_int_equal(w->severity, IATI_SEVERITY_WARNING);
    assert_false(iati_problems_errors_since(&p.problems, 0, 0));
    iati_problems_free(&p.problems);
    assert_int_equal(dir_entries(dir), 2); /* both files published */
    snprintf(path, sizeof path, "%s/activities.xml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/organisation.xml", dir);
    unlink(path);

    struct create_run c = {.o = options(dir)};
    iati_problems_init(&c.problems);
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(db_tx(db, create_tx, &c, &err), FLE_OK);
    const json_t *warnings = json_object_get(c.reply, "warnings");
    assert_true(json_array_size(warnings) >= 1);
    const json_t *w0 = json_array_get(warnings, 0);
    assert_string_equal(json_string_value(json_object_get(w0, "id")), "FL-CODE-WITHDRAWN");
    assert_string_equal(json_string_value(json_object_get(w0, "severity")), "warning");
    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM audit_log WHERE action = 'iati.publish' AND object_id = '%" PRId64
             "' AND detail->'warnings' ? 'FL-CODE-WITHDRAWN'",
             (int64_t)json_integer_value(json_object_get(c.reply, "version")));
    assert_int_equal(scalar_i64(q), 1);
    json_decref(c.reply);
    iati_problems_free(&c.problems);
    assert_int_equal(dir_entries(dir), 0); /* the staging directory is gone */
    rmdir(dir);
    assert_true(testdb_exec(ci, "UPDATE value_chain SET dac_sector = '31161' WHERE code = 'beans'"));
}

/* ---- principal outstanding includes capitalised interest ------------------------------- */

/* Publishes into a fresh directory (every check passes, the official schema too); checks the
 * loan activity's principal outstanding and arrears (loan 0: none) and returns the fund's
 * "Loans outstanding, value" indicator in minor units. */
static int64_t grace_loan_status(int64_t loan, const char *outstanding, const char *arrears)
{
    char dir[PATH_BYTES], path[PATH_BYTES + 32], q[512], a[256], buf[64], cmd[CMD_BYTES];
    mk_temp_dir(dir, sizeof dir, "iati-grace");
    struct iati_export_options o = options(dir);
    struct publish_run p;
    assert_int_equal(publish(&o, &p), FLE_OK);
    assert_false(iati_problems_errors_since(&p.problems, 0, 0));
    iati_problems_free(&p.problems);
    snprintf(path, sizeof path, "%s/activities.xml", dir);
    snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema %s/iati-activities-schema.xsd %s 2>&1", schemas, path);
    assert_int_equal(run_cmd(cmd), 0);
    struct xdoc x;
    xopen(&x, path);
    snprintf(q, sizeof q,
             "//iati-activity[iati-identifier='%s']/result/indicator[title/narrative[contains(., 'PI7569')]]"
             "/period/actual/@value",
             FUND_ID_TEXT);
    assert_int_equal(xcount(&x, q), 1);
    int64_t fund_outstanding = xsum(&x, q);
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-L%" PRId64 "']/crs-add/loan-status", FUND_ID_TEXT,
             loan);
    if (loan == 0) {
        outstanding = arrears = "";
    }
    snprintf(q, sizeof q, "%s/principal-outstanding", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), outstanding);
    snprintf(q, sizeof q, "%s/principal-arrears", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), arrears);
    /* No transaction for a capitalisation: disbursement is what was drawn. */
    snprintf(q, sizeof q,
             "//iati-activity[iati-identifier='%s-L%" PRId64 "']/transaction[transaction-type/@code='3']/value",
             FUND_ID_TEXT, loan);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), loan == 0 ? "" : "176800000.00");
    xclose(&x);
    unlink(path);
    snprintf(path, sizeof path, "%s/organisation.xml", dir);
    unlink(path);
    rmdir(dir);
    return fund_outstanding;
}

/* The grace loan G of docs/loan-servicing.md §3 (dates of test_servicing: first due 2024-04-30):
 * 176,800,000.00 at 24.75 % EA, quarterly, 10 instalments, 2 interest-grace, 3 principal-grace.
 * Rows 1-2 capitalise 10,049,697.57 + 10,620,944.30 = 20,670,641.87. Every instalment is due by
 * the export date (the last on 2026-07-30), so before any repayment the loan owes drawn +
 * capitalised = 197,470,641.87, all of it in arrears, though no capitalisation entry is posted
 * yet. Rows 3-6 paid on their due dates (the first repayment posts the capitalisation) leave
 * 122,083,654.88 (G.balance_after_row6), rows 7-10 in arrears. Counting only the T.LOANS lines
 * of the loan's drawdowns and repayments gave 176,800,000.00 and 101,413,013.01. The fund's
 * "Loans outstanding, value" indicator rises by the same figures. */
static void test_grace_loan_outstanding_includes_capitalised(void **state)
{
    (void)state;
    int64_t fund_before = grace_loan_status(0, NULL, NULL);
    lf_use(ci, db, &F.manager, &F.approver);
    int64_t tranche =
        lf_make_tranche(F.fund_id, F.undp, "Grace senior", "senior", 5, "176800000.00", "0.0800", "2024-01-10");
    struct lf_entrepreneur_args ea = {F.fund_id,
                                      {.kind = "cooperative",
                                       .name = "Cacaoteros de Tumaco",
                                       .tax_id = "900555111",
                                       .municipality_code = "52835",
                                       .value_chain = "cacao",
                                       .members = 60}};
    json_t *en = lf_run(lf_entrepreneur_fn, &ea, FLE_OK, NULL);
    int64_t e = lf_jid(en, "id");
    json_decref(en);
    static const char *const path[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3; i++) {
        struct lf_move_args m = {e, path[i]};
        json_decref(lf_run(lf_move_fn, &m, FLE_OK, NULL));
    }
    json_t *shares = json_pack("[{s:I, s:s}]", "tranche_id", (json_int_t)tranche, "amount", "176800000.00");
    struct lf_loan_args la = {F.fund_id,
                              {.entrepreneur_id = e,
                               .principal = "176800000.00",
                               .annual_rate = "0.2475",
                               .payments_per_year = 4,
                               .term_count = 10,
                               .first_due_date = "2024-04-30",
                               .grace_principal = 3,
                               .grace_interest = 2,
                               .amortisation = "annuity",
                               .approval_date = "2024-01-15",
                               .purpose = "cacao renovation",
                               .shares = shares}};
    int64_t loan = lf_approve_loan(&la);
    json_decref(shares);
    /* Drawn on the day instalment 1's period starts (2024-04-30 less a quarter), so the loan
     * owes exactly its stored schedule (docs/loan-servicing.md §2: no event, no stub). */
    lf_disburse_on(loan, "176800000.00", "2024-01-30");
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT sum(amount_minor) || ' ' || count(entry_id) FROM loan_capitalisation WHERE loan_id = %" PRId64,
             loan);
    lf_assert_scalar(sql, "2067064187 0");
    /* The fund's indicator moves by the same figure as the loan's principal outstanding. */
    assert_int_equal(grace_loan_status(loan, "197470641.87", "197470641.87") - fund_before, 19747064187);

    static const char *const due[] = {"2024-10-30", "2025-01-30", "2025-04-30", "2025-07-30"};
    for (int k = 0; k < 4; k++) {
        snprintf(sql, sizeof sql,
                 "SELECT ((principal_minor + interest_minor) / 100)::text || '.' || "
                 "lpad(((principal_minor + interest_minor) %% 100)::text, 2, '0') FROM loan_schedule "
                 "WHERE loan_id = %" PRId64 " AND due_date = '%s'",
                 loan, due[k]);
        char *amount = testdb_scalar(ci, sql);
        assert_non_null(amount);
        char ref[16];
        snprintf(ref, sizeof ref, "GI-%d", k + 3);
        json_decref(lf_repay(loan, amount, due[k], ref, FLE_OK, NULL));
        free(amount);
    }
    snprintf(sql, sizeof sql, "SELECT count(entry_id) FROM loan_capitalisation WHERE loan_id = %" PRId64, loan);
    lf_assert_scalar(sql, "2");
    assert_int_equal(grace_loan_status(loan, "122083654.88", "122083654.88") - fund_before, 12208365488);
    lf_assert_books_balance();
}

/* ---- setup ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    const char *s = getenv("FUNDLEDGER_SHARED_DIR");
    snprintf(shared, sizeof shared, "%s", s != NULL && s[0] != '\0' ? s : "../shared");
    snprintf(schemas, sizeof schemas, "%s/iati/schemas", shared);
    snprintf(codelists, sizeof codelists, "%s/iati/codelists", shared);
    static char ci_copy[PATH_BYTES]; /* testdb_create returns its own static buffer, reused by the next call */
    snprintf(ci_copy, sizeof ci_copy, "%s", testdb_create("iati_export"));
    ci = ci_copy;
    db = testdb_open(ci);
    if (!iati_fixture_build(db, "x", "HSP-IATI", REF, &F)) {
        return -1;
    }
    mk_temp_dir(out_dir, sizeof out_dir, "iati-out");
    snprintf(apath, sizeof apath, "%s/activities.xml", out_dir);
    snprintf(opath, sizeof opath, "%s/organisation.xml", out_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("FUNDLEDGER_TEST_KEEP") != NULL) { /* to look at the files: keep them */
        fprintf(stderr, "test_iati_export: files kept in %s\n", out_dir);
        db_close(db);
        return 0;
    }
    unlink(apath);
    unlink(opath);
    rmdir(out_dir);
    db_close(db);
    return 0;
}

/* ---- the files pass every check ------------------------------------------------------- */

static void test_publish_passes_every_check(void **state)
{
    (void)state;
    struct iati_export_options o = options(out_dir);
    struct publish_run p;
    assert_int_equal(publish(&o, &p), FLE_OK);
    assert_int_equal(p.problems.count, 0);
    iati_problems_free(&p.problems);
    summary = p.sum;
    assert_string_equal(summary.fund_identifier, FUND_ID_TEXT);
    /* the fund, two loans to organisations, two departments of loans to persons */
    assert_int_equal(summary.activity_count, 5);
    assert_int_equal(dir_entries(out_dir), 2);

    /* The official schemas, with xmllint as the IATI README runs it. */
    char cmd[CMD_BYTES];
    snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema %s/iati-activities-schema.xsd %s 2>&1", schemas, apath);
    assert_int_equal(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema %s/iati-organisations-schema.xsd %s 2>&1", schemas,
             opath);
    assert_int_equal(run_cmd(cmd), 0);
    /* The shared codelist checker (Python), when Python is there. */
    if (run_cmd("command -v python3 >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "cd %s && python3 iati/tools/check_codelists.py iati %s >/dev/null", shared, apath);
        assert_int_equal(run_cmd(cmd), 0);
        snprintf(cmd, sizeof cmd, "cd %s && python3 iati/tools/check_codelists.py iati %s >/dev/null", shared, opath);
        assert_int_equal(run_cmd(cmd), 0);
    }
    /* Our checker on its own, as `iati check` runs it: no problem. */
    struct iati_problems q;
    iati_problems_init(&q);
    struct iati_check_config c = {.schema_dir = schemas, .codelist_dir = codelists, .policy = true};
    assert_int_equal(iati_check_file(apath, IATI_KIND_ACTIVITIES, &c, &q), IATI_CHECK_OK);
    assert_int_equal(iati_check_file(opath, IATI_KIND_ORGANISATIONS, &c, &q), IATI_CHECK_OK);
    iati_problems_free(&q);
    enum iati_kind k;
    assert_true(iati_file_kind(apath, &k));
    assert_int_equal(k, IATI_KIND_ACTIVITIES);
    assert_true(iati_file_kind(opath, &k));
    assert_int_equal(k, IATI_KIND_ORGANISATIONS);
}

/* ---- what the files say --------------------------------------------------------------- */

static void test_fund_activity(void **state)
{
    (void)state;
    struct xdoc x;
    xopen(&x, apath);
    char buf[256];
    const char *fund = "//iati-activity[@hierarchy='1']";
    char q[512];
    assert_int_equal(xcount(&x, "//iati-activity"), 5);
    assert_int_equal(xcount(&x, fund), 1);
    snprintf(q, sizeof q, "%s/iati-identifier", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), FUND_ID_TEXT);
    snprintf(q, sizeof q, "%s/reporting-org/@ref", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), REF);
    /* funding: both investors; accountable and extending: the fund manager */
    snprintf(q, sizeof q, "%s/participating-org[@role='1' and @ref='XM-DAC-41114']", fund);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/participating-org[@role='1' and @ref='CO-RUE-900000001']", fund);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/participating-org[(@role='2' or @role='3') and @ref='%s']", fund, REF);
    assert_int_equal(xcount(&x, q), 2);
    /* title and description in Spanish and English */
    snprintf(q, sizeof q, "%s/title/narrative[@xml:lang='en']", fund);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/activity-date[@type='2']/@iso-date", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "2026-01-20"); /* the first contribution */
    snprintf(q, sizeof q, "%s/recipient-country[@code='CO' and @percentage='100']", fund);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/default-finance-type/@code", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "421");
    /* sectors by disbursed amount: cacao 1,100,000 + 50,000, beans 800,000, bananas 70,000 and
     * coffee 40,000 -> 31162 (cacao, bananas, coffee) 1,260,000 / 2,060,000 = 61.2% and 31161
     * (beans) 38.8%: 61 + 39 = 100 by largest remainder */
    snprintf(q, sizeof q, "%s/sector[@code='31162']/@percentage", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "61");
    snprintf(q, sizeof q, "%s/sector[@code='31161']/@percentage", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "39");
    /* incoming commitments: two agreements and one cancellation (negative) */
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='11']", fund);
    assert_int_equal(xcount(&x, q), 3);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='11']/value[. = '-500000.00']", fund);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q,
             "%s/transaction[transaction-type/@code='1']/provider-org[@ref='XM-DAC-41114']/@provider-activity-id",
             fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "XM-DAC-41114-OUTPUT-00012345");
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='1']/receiver-org/@receiver-activity-id", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), FUND_ID_TEXT);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='4']/value", fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "125000.50");
    /* a yearly budget from the commitments: 8,000,000 - 500,000 */
    snprintf(q, sizeof q, "%s/budget[period-start/@iso-date='2026-01-01' and period-end/@iso-date='2026-12-31']/value",
             fund);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "7500000.00");
    /* links to every child, the exclusions policy, results */
    snprintf(q, sizeof q, "%s/related-activity[@type='2']", fund);
    assert_int_equal(xcount(&x, q), 4);
    snprintf(q, sizeof q, "%s/document-link[category/@code='B08']", fund);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/result/indicator/baseline[@value='42.75']", fund); /* (40 + 45.50) / 2 */
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/result/indicator/period/actual[@value='55.25']", fund);
    assert_int_equal(xcount(&x, q), 1);
    xclose(&x);
}

static void test_loan_activities(void **state)
{
    (void)state;
    struct xdoc x;
    xopen(&x, apath);
    char buf[256], q[512], a[160];
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-L%" PRId64 "']", FUND_ID_TEXT, F.loan_coop);
    assert_int_equal(xcount(&x, a), 1);
    snprintf(q, sizeof q, "%s/@hierarchy", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "2");
    snprintf(q, sizeof q, "%s/participating-org[@role='4']/@ref", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "CO-RUE-900123456");
    snprintf(q, sizeof q, "%s/location/@ref", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "DIVIPOLA-52250");
    snprintf(q, sizeof q, "%s/location/name/narrative", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "El Charco, Nariño");
    snprintf(q, sizeof q, "%s/sector[@code='31162' and @percentage='100']", a);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/related-activity[@type='1']/@ref", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), FUND_ID_TEXT);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='2']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "1100000.00");
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='3']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "1100000.00");
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='5']", a);
    assert_int_equal(xcount(&x, q), 2);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='6']/provider-org/@ref", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "CO-RUE-900123456");
    snprintf(q, sizeof q, "%s/crs-add/loan-terms/@rate-1", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "24");
    snprintf(q, sizeof q, "%s/crs-add/loan-terms/repayment-type/@code", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "2");
    snprintf(q, sizeof q, "%s/crs-add/loan-terms/repayment-plan/@code", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "12");
    snprintf(q, sizeof q, "%s/crs-add/loan-terms/commitment-date/@iso-date", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "2026-03-01");
    snprintf(q, sizeof q, "%s/crs-add/loan-terms/repayment-first-date/@iso-date", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "2026-04-01");
    /* principal outstanding = drawn - principal repaid, as the ledger has it */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT 110000000 - sum(overdue_principal_minor + current_principal_minor + prepayment_minor) "
             "FROM repayment WHERE loan_id = %" PRId64,
             F.loan_coop);
    int64_t outstanding = scalar_i64(sql);
    snprintf(q, sizeof q, "%s/crs-add/loan-status/principal-outstanding", a);
    assert_int_equal(xsum(&x, q), outstanding);
    snprintf(q, sizeof q, "%s/crs-add/loan-status/interest-received", a);
    snprintf(sql, sizeof sql,
             "SELECT sum(overdue_interest_minor + current_interest_minor) FROM repayment WHERE loan_id = %" PRId64,
             F.loan_coop);
    assert_int_equal(xsum(&x, q), scalar_i64(sql));
    /* payments stopped in May: instalments of June onwards are in arrears */
    snprintf(q, sizeof q, "%s/crs-add/loan-status/principal-arrears", a);
    assert_true(xsum(&x, q) > 0);

    /* The written-off loan: nothing outstanding, a narrative, the recovery as a repayment. */
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-L%" PRId64 "']", FUND_ID_TEXT, F.loan_assoc);
    snprintf(q, sizeof q, "%s/crs-add/loan-status/principal-outstanding", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "0.00");
    snprintf(q, sizeof q, "%s/crs-add/loan-status/principal-arrears", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "0.00");
    snprintf(q, sizeof q, "%s/description[@type='4']/narrative[contains(., 'castigado') and contains(., '800000.00')]",
             a);
    assert_int_equal(xcount(&x, q), 1);
    snprintf(q, sizeof q, "%s/activity-status/@code", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "3");
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='6']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "100000.00");
    snprintf(q, sizeof q, "%s/crs-add/loan-terms/repayment-type/@code", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "1"); /* equal principal */

    /* Loans to persons: one activity per department, never one per person. */
    for (int i = 0; i < IATI_FIXTURE_PERSONS; i++) {
        snprintf(q, sizeof q, "//iati-activity[iati-identifier='%s-L%" PRId64 "']", FUND_ID_TEXT, F.loan_persons[i]);
        assert_int_equal(xcount(&x, q), 0);
    }
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-AGG-52']", FUND_ID_TEXT);
    assert_int_equal(xcount(&x, a), 1);
    /* two drawdowns on 2026-03-05 summed in the first quarter: 50,000 + 70,000 */
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='3']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "120000.00");
    snprintf(q, sizeof q, "%s/location/@ref", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "DIVIPOLA-52");
    snprintf(q, sizeof q, "%s/location/administrative[@level='2']", a);
    assert_int_equal(xcount(&x, q), 0);
    snprintf(a, sizeof a, "//iati-activity[iati-identifier='%s-AGG-05']", FUND_ID_TEXT);
    snprintf(q, sizeof q, "%s/transaction[transaction-type/@code='3']/value", a);
    assert_string_equal(xtext(&x, q, buf, sizeof buf), "40000.00");
    snprintf(q, sizeof q, "%s/sector[@code='31162' and @percentage='100']", a);
    assert_int_equal(xcount(&x, q), 1);
    /* nothing finer than a municipality, anywhere */
    assert_int_equal(xcount(&x, "//point | //pos | //*[local-name()='point' or local-name()='pos']"), 0);
    xclose(&x);

    struct xdoc o;
    xopen(&o, opath);
    assert_string_equal(xtext(&o, "//organisation-identifier", buf, sizeof buf), REF);
    assert_string_equal(xtext(&o, "//total-budget[period-start/@iso-date='2026-01-01']/value", buf, sizeof buf),
                        "7500000.00");
    assert_int_equal(xcount(&o, "//recipient-country-budget/recipient-country[@code='CO']"), 1);
    /* expenditure 2026: disbursed 2,060,000.00 + expenses 125,000.50 */
    assert_string_equal(xtext(&o, "//total-expenditure[period-start/@iso-date='2026-01-01']/value", buf, sizeof buf),
                        "2185000.50");
    assert_int_equal(xcount(&o, "//document-link[category/@code='B08']/description/narrative[contains(., '1581')]"), 2);
    xclose(&o);
}

/* ---- totals ---------------------------------------------------------------------------- */

static void test_totals_equal_the_ledger(void **state)
{
    (void)state;
    struct iati_totals ledger;
    struct fl_error err;
    assert_int_equal(iati_export_totals(db, F.fund_id, &ledger, &err), FLE_OK);
    assert_string_equal(ledger.currency, "COP");
    /* by hand: 3,000,000 + 2,500,000 paid in; 3,000,000 + 5,000,000 - 500,000 committed; loans of
     * 1,100,000 + 800,000 + 50,000 + 70,000 + 40,000 approved and drawn; 125,000.50 of expenses */
    assert_int_equal(ledger.total_minor[IATI_TX_INCOMING_FUNDS], 550000000);
    assert_int_equal(ledger.total_minor[IATI_TX_INCOMING_COMMITMENT], 750000000);
    assert_int_equal(ledger.total_minor[IATI_TX_OUTGOING_COMMITMENT], 206000000);
    assert_int_equal(ledger.total_minor[IATI_TX_DISBURSEMENT], 206000000);
    assert_int_equal(ledger.total_minor[IATI_TX_EXPENDITURE], 12500050);
    /* interest and principal: the repayments' own split, plus the recovery (principal) */
    assert_int_equal(ledger.total_minor[IATI_TX_INTEREST],
                     scalar_i64("SELECT sum(overdue_interest_minor + current_interest_minor) FROM repayment"));
    assert_int_equal(ledger.total_minor[IATI_TX_LOAN_REPAYMENT],
                     scalar_i64("SELECT sum(overdue_principal_minor + current_principal_minor + prepayment_minor) "
                                "FROM repayment") +
                         10000000);
    /* the export wrote exactly these totals ... */
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        assert_int_equal(summary.written.total_minor[t], ledger.total_minor[t]);
    }
    /* ... and so says the file itself, read back on its own */
    struct xdoc x;
    xopen(&x, apath);
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        char q[160];
        snprintf(q, sizeof q, "//transaction[transaction-type/@code='%s']/value", iati_tx_code((enum iati_tx)t));
        assert_int_equal(xsum(&x, q), ledger.total_minor[t]);
        assert_int_equal((uint64_t)xcount(&x, q), summary.written.count[t]);
    }
    xclose(&x);
}

/* ---- privacy --------------------------------------------------------------------------- */

static bool contains_folded(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p != '\0'; p++) {
        if (strncasecmp(p, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static void test_no_person_is_named(void **state)
{
    (void)state;
    char *files[2] = {slurp(apath), slurp(opath)};
    /* every person's name in the database, whole and word by word for the distinctive surnames */
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQexec(c, "SELECT name FROM entrepreneur WHERE kind = 'person'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), IATI_FIXTURE_PERSONS);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        for (int k = 0; k < 2; k++) {
            if (contains_folded(files[k], name)) {
                fail_msg("the name of a person is in a published file");
            }
        }
    }
    PQclear(r);
    PQfinish(c);
    static const char *const surnames[] = {"Quiñones", "Angulo", "Rentería",   "Caicedo", "Mosquera",
                                           "Yesenia",  "Wilmer", "1087654321", "43123456"};
    for (size_t i = 0; i < sizeof surnames / sizeof surnames[0]; i++) {
        for (int k = 0; k < 2; k++) {
            assert_false(contains_folded(files[k], surnames[i]));
        }
    }
    for (int k = 0; k < 2; k++) {
        assert_null(strstr(files[k], "<point"));
        assert_null(strstr(files[k], "<pos"));
        free(files[k]);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The privacy check itself finds a person's name however it is written, and coordinates. */
static void test_privacy_check_finds_names_and_points(void **state)
{
    (void)state;
    char dir[PATH_BYTES], path[PATH_BYTES + 16];
    mk_temp_dir(dir, sizeof dir, "iati-priv");
    snprintf(path, sizeof path, "%s/leak.xml", dir);
    write_file(path, "<?xml version=\"1.0\"?>\n<iati-activities>\n<iati-activity><title><narrative>Crédito a "
                     "YESENIA  quiñones-angulo en El Charco</narrative></title>\n<location><point srsName=\"x\">"
                     "<pos>2.47 -78.11</pos></point></location></iati-activity>\n</iati-activities>\n");
    struct iati_problems p;
    iati_problems_init(&p);
    struct fl_error err;
    assert_int_equal(iati_privacy_check(db, path, &p, &err), FLE_OK);
    const struct iati_problem *name = iati_problems_find(&p, "FL-PRIVACY-NAME");
    assert_non_null(name);
    assert_int_equal(name->line, 3);
    char id[32];
    snprintf(id, sizeof id, "entrepreneur %" PRId64, F.persons[0]);
    assert_non_null(strstr(name->message, id));
    assert_null(strstr(name->message, "Quiñones")); /* the report never repeats the name */
    assert_non_null(iati_problems_find(&p, "FL-PRIVACY-COORDINATES"));
    iati_problems_free(&p);
    /* a part of a name is not the name */
    write_file(path, "<iati-activities><narrative>Señora Yesenia de Tumaco</narrative></iati-activities>\n");
    assert_int_equal(iati_privacy_check(db, path, &p, &err), FLE_OK);
    assert_int_equal(p.count, 0);
    iati_problems_free(&p);
    unlink(path);
    rmdir(dir);
}

/* ---- refusals: nothing is published ------------------------------------------------------ */

static void expect_refused(const struct iati_export_options *o, const char *rule_id)
{
    struct publish_run p;
    assert_int_equal(publish_quiet(o, &p, true), FLE_RULE);
    const struct iati_problem *q = iati_problems_find(&p.problems, rule_id);
    if (q == NULL) {
        iati_problems_print(&p.problems, stderr);
    }
    assert_non_null(q);
    iati_problems_free(&p.problems);
    assert_int_equal(dir_entries(o->out_dir), 0); /* no file, no staging directory left */
}

static void test_refused_without_schemas(void **state)
{
    (void)state;
    char empty[PATH_BYTES], dir[PATH_BYTES];
    mk_temp_dir(empty, sizeof empty, "iati-noschema");
    mk_temp_dir(dir, sizeof dir, "iati-refused");
    struct iati_export_options o = options(dir);
    o.schema_dir = empty;
    expect_refused(&o, "FL-CONFIG");
    o.schema_dir = schemas;
    o.codelist_dir = empty;
    expect_refused(&o, "FL-CONFIG");
    rmdir(empty);
    rmdir(dir);
}

static void test_refused_with_another_reporting_org(void **state)
{
    (void)state;
    char dir[PATH_BYTES];
    mk_temp_dir(dir, sizeof dir, "iati-refused");
    struct iati_export_options o = options(dir);
    o.reporting_org_ref = "XM-DAC-99999";
    expect_refused(&o, "FL-EXPORT");
    rmdir(dir);
}

static void test_refused_with_a_bad_code(void **state)
{
    (void)state;
    char dir[PATH_BYTES];
    mk_temp_dir(dir, sizeof dir, "iati-refused");
    struct iati_export_options o = options(dir);
    assert_true(testdb_exec(ci, "UPDATE value_chain SET dac_sector = '99999' WHERE code = 'beans'"));
    expect_refused(&o, "FL-CODE-UNKNOWN");
    assert_true(testdb_exec(ci, "UPDATE value_chain SET dac_sector = '31161' WHERE code = 'beans'"));
    rmdir(dir);
}

struct post_args {
    struct ledger_entry *e;
};

static enum fl_err post_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct post_args *a = arg;
    const struct ledger_entry *one = a->e;
    int64_t id = 0;
    return ledger_post(d, &one, 1, &id, err);
}

static int64_t account(const char *code)
{
    int64_t id = 0;
    struct fl_error err;
    assert_int_equal(fund_account_by_code(db, F.fund_id, code, &id, &err), FLE_OK);
    return id;
}

static int64_t post_pair(const char *date, const char *event, const char *debit, const char *credit, int64_t amount)
{
    static struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = F.fund_id;
    e.posted_by = F.manager.user_id;
    snprintf(e.effective_date, sizeof e.effective_date, "%s", date);
    snprintf(e.event_type, sizeof e.event_type, "%s", event);
    snprintf(e.memo, sizeof e.memo, "test entry");
    e.n_lines = 2;
    e.lines[0] = (struct ledger_line){account(debit), "COP", amount};
    e.lines[1] = (struct ledger_line){account(credit), "COP", -amount};
    struct post_args a = {&e};
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(db_tx(db, post_tx, &a, &err), FLE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT max(id) FROM journal_entry WHERE fund_id = %" PRId64, F.fund_id);
    return scalar_i64(sql);
}

/* A drawdown in the books that no loan accounts for: the file's total differs from the ledger's. */
static void test_refused_when_totals_differ(void **state)
{
    (void)state;
    char dir[PATH_BYTES], loans[32], cash[32];
    mk_temp_dir(dir, sizeof dir, "iati-refused");
    struct iati_export_options o = options(dir);
    snprintf(loans, sizeof loans, "T%" PRId64 ".LOANS", F.t_first_loss);
    snprintf(cash, sizeof cash, "T%" PRId64 ".CASH", F.t_first_loss);
    int64_t stray = post_pair("2026-06-30", "disbursement", loans, cash, 100000);
    expect_refused(&o, "FL-TOTALS");
    /* reversed, the books and the file agree again */
    static struct ledger_entry rev;
    struct fl_error err;
    assert_int_equal(ledger_reversal_build(db, stray, F.manager.user_id, "stray drawdown", NULL, &rev, &err), FLE_OK);
    struct post_args a = {&rev};
    assert_int_equal(db_tx(db, post_tx, &a, &err), FLE_OK);
    struct publish_run p;
    assert_int_equal(publish(&o, &p), FLE_OK);
    iati_problems_free(&p.problems);
    char f1[PATH_BYTES + 32], f2[PATH_BYTES + 32];
    snprintf(f1, sizeof f1, "%s/activities.xml", dir);
    snprintf(f2, sizeof f2, "%s/organisation.xml", dir);
    unlink(f1);
    unlink(f2);
    rmdir(dir);
}

/* An expense accrued ahead of its date: rule 11.2.1 refuses the file. Last: it stays in the books. */
static void test_refused_with_a_future_transaction(void **state)
{
    (void)state;
    char dir[PATH_BYTES];
    mk_temp_dir(dir, sizeof dir, "iati-refused");
    struct iati_export_options o = options(dir);
    (void)post_pair("2099-01-31", "manual", "5000", "2300", 990000);
    expect_refused(&o, "11.2.1");
    rmdir(dir);
}

/* The demo fund itself (`make run`) publishes: its files pass the official schemas. */
static void test_demo_fund_publishes(void **state)
{
    (void)state;
    char demo_ci[PATH_BYTES];
    snprintf(demo_ci, sizeof demo_ci, "%s", testdb_create("iati_demo"));
    struct db *ddb = testdb_open(demo_ci);
    char dir[PATH_BYTES], cred[PATH_BYTES + 32];
    mk_temp_dir(dir, sizeof dir, "iati-demo");
    snprintf(cred, sizeof cred, "%s/credentials.json", dir);
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(demo_load(ddb, cred, &err), FLE_OK);
    unlink(cred);
    char *fund = testdb_scalar(demo_ci, "SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'");
    assert_non_null(fund);
    struct iati_export_options o = options(dir);
    o.fund_id = strtoll(fund, NULL, 10);
    free(fund);
    struct db *saved = db;
    db = ddb;
    struct publish_run p;
    assert_int_equal(publish(&o, &p), FLE_OK);
    db = saved;
    iati_problems_free(&p.problems);
    char cmd[2 * CMD_BYTES];
    snprintf(cmd, sizeof cmd,
             "xmllint --noout --nonet --schema %s/iati-activities-schema.xsd %s/activities.xml >/dev/null 2>&1 && "
             "xmllint --noout --nonet --schema %s/iati-organisations-schema.xsd %s/organisation.xml >/dev/null 2>&1",
             schemas, dir, schemas, dir);
    assert_int_equal(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -f %s/activities.xml %s/organisation.xml", dir, dir);
    assert_int_equal(run_cmd(cmd), 0);
    rmdir(dir);
    db_close(ddb);
}

/* The command line: `iati export` writes both files, `iati check` checks any file. */
static void test_command_line(void **state)
{
    (void)state;
    const char *bin = getenv("FUNDLEDGER_BIN");
    if (bin == NULL) {
        skip();
    }
    char dir[PATH_BYTES], cmd[CMD_BYTES];
    mk_temp_dir(dir, sizeof dir, "iati-cli");
    snprintf(
        cmd, sizeof cmd,
        "FUNDLEDGER_DATABASE_URL='%s' FUNDLEDGER_IATI_SCHEMA_DIR=%s FUNDLEDGER_IATI_CODELIST_DIR=%s %s iati export "
        "--fund %" PRId64 " --out %s >/dev/null",
        ci, schemas, codelists, bin, F.fund_id, dir);
    assert_int_equal(run_cmd(cmd), 0);
    assert_int_equal(dir_entries(dir), 2);
    snprintf(cmd, sizeof cmd,
             "FUNDLEDGER_IATI_SCHEMA_DIR=%s FUNDLEDGER_IATI_CODELIST_DIR=%s %s iati check %s/activities.xml"
             " >/dev/null 2>&1",
             schemas, codelists, bin, dir);
    assert_int_equal(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "FUNDLEDGER_IATI_SCHEMA_DIR=%s FUNDLEDGER_IATI_CODELIST_DIR=%s %s iati check "
             "%s/organisation.xml --kind organisation >/dev/null 2>&1",
             schemas, codelists, bin, dir);
    assert_int_equal(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "FUNDLEDGER_IATI_SCHEMA_DIR=%s FUNDLEDGER_IATI_CODELIST_DIR=%s %s iati check "
             "%s/iati/examples/invalid-activity.xml >/dev/null 2>&1",
             schemas, codelists, bin, shared);
    assert_int_equal(run_cmd(cmd), 1);
    snprintf(cmd, sizeof cmd, "%s iati check >/dev/null 2>&1", bin);
    assert_int_equal(run_cmd(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s iati export --fund x --out %s >/dev/null 2>&1", bin, dir);
    assert_int_equal(run_cmd(cmd), 2);
    /* absent schemas: a clear refusal, exit 1, and the files of the run before stay as they were */
    char empty[PATH_BYTES];
    mk_temp_dir(empty, sizeof empty, "iati-noschema");
    snprintf(
        cmd, sizeof cmd,
        "FUNDLEDGER_DATABASE_URL='%s' FUNDLEDGER_IATI_SCHEMA_DIR=%s FUNDLEDGER_IATI_CODELIST_DIR=%s %s iati export "
        "--fund %" PRId64 " --out %s >/dev/null 2>&1",
        ci, empty, codelists, bin, F.fund_id, dir);
    assert_int_equal(run_cmd(cmd), 1);
    assert_int_equal(dir_entries(dir), 2);
    snprintf(cmd, sizeof cmd, "rm -f %s/activities.xml %s/organisation.xml", dir, dir);
    assert_int_equal(run_cmd(cmd), 0);
    rmdir(dir);
    rmdir(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_passes_every_check),
        cmocka_unit_test(test_fund_activity),
        cmocka_unit_test(test_loan_activities),
        cmocka_unit_test(test_totals_equal_the_ledger),
        cmocka_unit_test(test_no_person_is_named),
        cmocka_unit_test(test_privacy_check_finds_names_and_points),
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_demo_fund_publishes),
        cmocka_unit_test(test_refused_without_schemas),
        cmocka_unit_test(test_refused_with_another_reporting_org),
        cmocka_unit_test(test_refused_with_a_bad_code),
        /* before the refusals that leave data behind; the last one adds a department */
        cmocka_unit_test(test_small_groups_one_person_department_joins_other),
        cmocka_unit_test(test_small_groups_withheld_below_minimum),
        cmocka_unit_test(test_small_groups_own_and_other),
        cmocka_unit_test(test_published_with_a_warning),
        cmocka_unit_test(test_grace_loan_outstanding_includes_capitalised),
        cmocka_unit_test(test_refused_when_totals_differ),
        cmocka_unit_test(test_refused_with_a_future_transaction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
