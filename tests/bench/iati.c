/* iati: timing and peak memory of the IATI export of a large synthetic fund.
 *
 * One program, one step per run, so that each step's peak RSS (getrusage ru_maxrss) is its own:
 *   iati build   [CONNINFO] --loans N [--persons-every K]
 *       A fund of N loans of 1,200,000.00 COP (a year of monthly instalments: equal principal
 *       100,000.00, interest (13 - k) x 2,000.00), one in K to a person (default 10), the others to
 *       cooperatives with an IATI identifier. Users, organisations of the fund, the tranche and its
 *       contribution go through the C API; entrepreneurs, organisations of the borrowers, loans,
 *       schedules, funding shares and proposals are INSERT ... SELECT generate_series; every journal
 *       entry is real and balanced, posted with ledger_post in batches: per loan its commitment
 *       (Dr 8500 / Cr 8590), its drawdown (Dr T.LOANS / Cr T.CASH, Dr 8590 / Cr 8500) and two
 *       repayments (Dr 1050 / Cr T.LOANS / Cr 4000), with the business rows pointing at them.
 *       Prints "RESULT fund=ID ...".
 *   iati write   [CONNINFO] --fund ID --out DIR     iati_export_write in one REPEATABLE READ snapshot
 *   iati check   FILE                              iati_check_file (schema, codelists, rulesets)
 *   iati privacy [CONNINFO] FILE                   iati_privacy_check
 *   iati spawn   CMD [ARGS...]                     runs a command: its time and its peak RSS (wait4)
 * Each step prints "RESULT step=... seconds=... maxrss_kib=..." and more. Figures, not assertions:
 * the targets are writing faster than `xmllint --noout` parses the file and a peak under 64 MiB.
 * Schemas and codelists come from FUNDLEDGER_SHARED_DIR (default ../shared). */
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/fund.h"
#include "fundledger/iati_check.h"
#include "fundledger/iati_export.h"
#include "fundledger/ledger.h"
#include "fundledger/log.h"
#include "fundledger/money.h"
#include "fundledger/org.h"
#include "fundledger/tranche.h"

extern char **environ;

#define LOANS_MAX 1000000
#define POST_BATCH 2000                    /* loans per ledger_post call: 4 entries each */
#define PRINCIPAL_MINOR INT64_C(120000000) /* 1,200,000.00 */
#define REF "CO-RUE-9001234567"
#define PATH_BYTES 1024

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long maxrss_kib(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_maxrss : -1;
}

static void die(const char *what, const struct fl_error *err)
{
    fprintf(stderr, "iati bench: %s: %s %s %s\n", what, err ? fl_err_code(err->code) : "", err ? err->field : "",
            err ? err->message : "");
    exit(1);
}

static void sql(struct db *db, const char *text)
{
    struct fl_error err;
    PGresult *r = db_exec_sql(db, text, &err);
    if (r == NULL) {
        fprintf(stderr, "iati bench: fixture SQL failed: %.300s\n", text);
        die("sql", &err);
    }
    PQclear(r);
}

static struct db *open_db(const char *conninfo)
{
    struct db *db = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    if (conninfo == NULL || db_open(conninfo, true, 8, &db, &err) != FLE_OK) {
        die("cannot open the database (CONNINFO or FUNDLEDGER_DATABASE_URL)", &err);
    }
    return db;
}

static void shared_dir(char *out, size_t cap, const char *sub)
{
    const char *s = getenv("FUNDLEDGER_SHARED_DIR");
    snprintf(out, cap, "%s/%s", s != NULL && s[0] != '\0' ? s : "../shared", sub);
}

/* ---- build ---- */

struct build {
    struct principal manager, approver;
    int64_t fund, tranche, loans, persons_every;
    int64_t acc_loans, acc_cash, a8500, a8590, a1050, a4000;
};

static enum fl_err setup_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct build *b = arg;
    json_t *f = fund_create(db, &b->manager, "IATI-BENCH", "IATI benchmark fund", "COP", err);
    if (f == NULL) {
        return err->code;
    }
    b->fund = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    json_t *fm = org_create(db, NULL, "Human Security Partnership fund manager", "fund_manager", REF, "22", err);
    json_t *inv =
        fm ? org_create(db, NULL, "United Nations Development Programme", "investor", "XM-DAC-41114", "40", err) : NULL;
    if (inv == NULL) {
        json_decref(fm);
        return err->code;
    }
    int64_t investor = json_integer_value(json_object_get(inv, "id"));
    json_decref(fm);
    json_decref(inv);
    char commitment[MONEY_TEXT_MAX];
    money_format(PRINCIPAL_MINOR * b->loans, 2, commitment, sizeof commitment);
    struct tranche_terms t = {
        investor, "Senior", "senior", 1, "COP", commitment, "0.0800", NULL, NULL, "2025-01-10", "XM-DAC-41114-BENCH"};
    json_t *p = tranche_propose(db, &b->manager, b->fund, &t, err);
    if (p == NULL) {
        return err->code;
    }
    int64_t pid = json_integer_value(json_object_get(p, "id"));
    json_decref(p);
    if ((p = approval_decide(db, &b->approver, pid, true, "bench", err)) == NULL) {
        return err->code;
    }
    json_decref(p);
    return FLE_OK;
}

static enum fl_err contribute_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct build *b = arg;
    char amount[MONEY_TEXT_MAX];
    money_format(PRINCIPAL_MINOR * b->loans, 2, amount, sizeof amount);
    json_t *c = tranche_contribute(db, &b->manager, b->tranche, amount, "2025-01-20", "bench capital", 0, err);
    json_decref(c);
    return c ? FLE_OK : err->code;
}

/* Business rows: borrower organisations, entrepreneurs, proposals, loans, schedules, shares. */
static enum fl_err rows_tx(struct db *db, void *arg, struct fl_error *err)
{
    (void)err;
    struct build *b = arg;
    char q[2048];
    int64_t f = b->fund, u = b->manager.user_id, n = b->loans, k = b->persons_every;
    snprintf(q, sizeof q,
             "INSERT INTO organisation (name, kind, iati_ref, iati_type) SELECT 'Cooperativa productora ' || g, "
             "'entrepreneur', 'CO-RUE-8' || lpad(g::text, 8, '0'), '72' FROM generate_series(1, %" PRId64
             ") g WHERE g %% %" PRId64 " <> 0",
             n, k);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO entrepreneur (fund_id, kind, organisation_id, name, tax_id, municipality_code, value_chain, "
             "members, currency, created_by) SELECT %" PRId64 ", CASE WHEN g %% %" PRId64
             " = 0 THEN 'person' ELSE 'cooperative' END, o.id, CASE WHEN g %% %" PRId64
             " = 0 THEN 'Persona ' || g ELSE o.name END, NULL, (ARRAY['05088','05234','05361','52250','52835',"
             "'52001','05001'])[1 + g %% 7], (ARRAY['coffee','cacao','banana','beans','synthetic_wood'])[1 + g %% 5], "
             "1 + g %% 50, 'COP', %" PRId64 " FROM generate_series(1, %" PRId64
             ") g LEFT JOIN organisation o ON o.iati_ref = 'CO-RUE-8' || lpad(g::text, 8, '0') ORDER BY g",
             f, k, k, u, n);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO proposal (fund_id, kind, payload, amount_minor, currency, status, proposed_by, decided_at) "
             "SELECT %" PRId64 ", kd, '{\"fixture\": true}', %" PRId64 ", 'COP', 'approved', %" PRId64 ", now() "
             "FROM generate_series(1, %" PRId64 ") g, unnest(ARRAY['loan', 'disbursement']) kd ORDER BY kd, g",
             f, PRINCIPAL_MINOR, u, n);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO loan (fund_id, entrepreneur_id, currency, principal_minor, annual_rate, payments_per_year, "
             "term_count, first_due_date, amortisation, status, proposal_id, approved_on, drawn_minor, created_by) "
             "SELECT %" PRId64 ", e.id, 'COP', %" PRId64 ", 26824179, 12, 12, '2025-04-01', 'equal_principal', "
             "'active', p.id, '2025-03-01', %" PRId64 ", %" PRId64 " FROM (SELECT id, row_number() OVER "
             "(ORDER BY id) rn FROM entrepreneur WHERE fund_id = %" PRId64 ") e JOIN (SELECT id, row_number() OVER "
             "(ORDER BY id) rn FROM proposal WHERE fund_id = %" PRId64 " AND kind = 'loan') p USING (rn)",
             f, PRINCIPAL_MINOR, PRINCIPAL_MINOR, u, f, f);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO loan_schedule (loan_id, no, due_date, principal_minor, interest_minor) "
             "SELECT l.id, k, ('2025-04-01'::date + make_interval(months => k - 1))::date, %" PRId64
             " / 12, (13 - k) * 200000 FROM loan l CROSS JOIN generate_series(1, 12) k WHERE l.fund_id = %" PRId64,
             PRINCIPAL_MINOR, f);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO loan_funding (loan_id, tranche_id, position, weight_minor) SELECT id, %" PRId64
             ", 1, principal_minor FROM loan WHERE fund_id = %" PRId64,
             b->tranche, f);
    sql(db, q);
    return FLE_OK;
}

static void entry(struct ledger_entry *x, const struct build *b, const char *date, const char *event, int64_t loan)
{
    memset(x, 0, offsetof(struct ledger_entry, lines));
    x->fund_id = b->fund;
    x->posted_by = b->approver.user_id;
    snprintf(x->effective_date, sizeof x->effective_date, "%s", date);
    snprintf(x->memo, sizeof x->memo, "benchmark %s", event);
    snprintf(x->event_type, sizeof x->event_type, "%s", event);
    snprintf(x->event_ref, sizeof x->event_ref, "loan:%" PRId64, loan);
}

/* Per loan: commitment, drawdown, two repayments; then the rows that point at them. */
static enum fl_err entries_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct build *b = arg;
    struct ledger_entry *entries = calloc(4 * POST_BATCH, sizeof *entries);
    const struct ledger_entry **ptrs = calloc(4 * POST_BATCH, sizeof *ptrs);
    int64_t *ids = calloc(4 * POST_BATCH, sizeof *ids);
    struct db_array a[5]; /* loan, commitment, drawdown, repayment 1, repayment 2 */
    for (int i = 0; i < 5; i++) {
        db_array_init(&a[i]);
    }
    if (entries == NULL || ptrs == NULL || ids == NULL) {
        die("out of memory", NULL);
    }
    char q[512];
    snprintf(q, sizeof q, "SELECT id FROM loan WHERE fund_id = %" PRId64 " ORDER BY id", b->fund);
    PGresult *r = db_exec_sql(db, q, err);
    if (r == NULL) {
        die("loans", err);
    }
    int rows = PQntuples(r);
    const int64_t p1 = PRINCIPAL_MINOR / 12, i1 = 12 * 200000, i2 = 11 * 200000;
    enum fl_err e = FLE_OK;
    for (int at = 0; e == FLE_OK && at < rows; at += POST_BATCH) {
        int n = rows - at < POST_BATCH ? rows - at : POST_BATCH;
        for (int i = 0; i < n; i++) {
            int64_t loan = db_i64(r, at + i, 0);
            struct ledger_entry *x = &entries[4 * i];
            entry(&x[0], b, "2025-03-01", "loan_commitment", loan);
            x[0].n_lines = 2;
            x[0].lines[0] = (struct ledger_line){b->a8500, "COP", PRINCIPAL_MINOR};
            x[0].lines[1] = (struct ledger_line){b->a8590, "COP", -PRINCIPAL_MINOR};
            entry(&x[1], b, "2025-03-05", "disbursement", loan);
            x[1].n_lines = 4;
            x[1].lines[0] = (struct ledger_line){b->acc_loans, "COP", PRINCIPAL_MINOR};
            x[1].lines[1] = (struct ledger_line){b->acc_cash, "COP", -PRINCIPAL_MINOR};
            x[1].lines[2] = (struct ledger_line){b->a8590, "COP", PRINCIPAL_MINOR};
            x[1].lines[3] = (struct ledger_line){b->a8500, "COP", -PRINCIPAL_MINOR};
            entry(&x[2], b, "2025-04-01", "repayment", loan);
            x[2].n_lines = 3;
            x[2].lines[0] = (struct ledger_line){b->a1050, "COP", p1 + i1};
            x[2].lines[1] = (struct ledger_line){b->acc_loans, "COP", -p1};
            x[2].lines[2] = (struct ledger_line){b->a4000, "COP", -i1};
            entry(&x[3], b, "2025-05-01", "repayment", loan);
            x[3].n_lines = 3;
            x[3].lines[0] = (struct ledger_line){b->a1050, "COP", p1 + i2};
            x[3].lines[1] = (struct ledger_line){b->acc_loans, "COP", -p1};
            x[3].lines[2] = (struct ledger_line){b->a4000, "COP", -i2};
            for (int k = 0; k < 4; k++) {
                ptrs[4 * i + k] = &x[k];
            }
            db_array_i64(&a[0], loan);
        }
        if ((e = ledger_post(db, ptrs, (unsigned)(4 * n), ids, err)) != FLE_OK) {
            break;
        }
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 4; k++) {
                db_array_i64(&a[1 + k], ids[4 * i + k]);
            }
        }
    }
    PQclear(r);
    const char *s[5];
    for (int i = 0; i < 5; i++) {
        s[i] = db_array_str(&a[i]);
        if (s[i] == NULL) {
            die("out of memory", NULL);
        }
    }
    size_t cap = 4096;
    for (int i = 0; i < 5; i++) {
        cap += strlen(s[i]);
    }
    char *big = malloc(cap);
    if (big == NULL) {
        die("out of memory", NULL);
    }
    snprintf(big, cap,
             "WITH u AS (SELECT * FROM unnest('%s'::bigint[], '%s'::bigint[], '%s'::bigint[], '%s'::bigint[], "
             "'%s'::bigint[]) AS u(loan_id, c, d, r1, r2)), "
             "pu AS (UPDATE proposal p SET result_entry_id = u.c FROM loan l, u WHERE l.id = u.loan_id "
             "AND p.id = l.proposal_id RETURNING p.id), "
             "dp AS (SELECT id, row_number() OVER (ORDER BY id) rn FROM proposal WHERE fund_id = %" PRId64
             " AND kind = 'disbursement'), "
             "di AS (INSERT INTO disbursement (loan_id, amount_minor, value_date, proposal_id, entry_id) "
             "SELECT u.loan_id, %" PRId64 ", '2025-03-05'::date, dp.id, u.d FROM (SELECT *, row_number() OVER "
             "(ORDER BY loan_id) rn FROM u) u JOIN dp USING (rn) RETURNING id) "
             "INSERT INTO repayment (loan_id, amount_minor, value_date, reference, current_interest_minor, "
             "current_principal_minor, entry_id, created_by) "
             "SELECT loan_id, %" PRId64 ", '2025-04-01'::date, 'R1-' || loan_id, %" PRId64 ", %" PRId64 ", r1, %" PRId64
             " FROM u UNION ALL SELECT loan_id, %" PRId64 ", '2025-05-01'::date, 'R2-' || loan_id, %" PRId64
             ", %" PRId64 ", r2, %" PRId64 " FROM u",
             s[0], s[1], s[2], s[3], s[4], b->fund, PRINCIPAL_MINOR, p1 + i1, i1, p1, b->manager.user_id, p1 + i2, i2,
             p1, b->manager.user_id);
    PGresult *x = db_exec_sql(db, big, err);
    free(big);
    if (x == NULL) {
        e = err->code;
    }
    PQclear(x);
    for (int i = 0; i < 5; i++) {
        db_array_free(&a[i]);
    }
    free(entries);
    free(ptrs);
    free(ids);
    return e;
}

static int cmd_build(const char *conninfo, int64_t loans, int64_t persons_every)
{
    struct db *db = open_db(conninfo);
    struct build b = {.loans = loans, .persons_every = persons_every};
    struct fl_error err;
    fl_error_clear(&err);
    b.manager = (struct principal){.role = ROLE_FUND_MANAGER};
    b.approver = (struct principal){.role = ROLE_APPROVER};
    if (auth_user_add(db, "iati-bench-manager", ROLE_FUND_MANAGER, 0, &b.manager.user_id, &err) != FLE_OK ||
        auth_user_add(db, "iati-bench-approver", ROLE_APPROVER, 0, &b.approver.user_id, &err) != FLE_OK ||
        auth_limit_set(db, b.approver.user_id, "COP", INT64_MAX / 2, &err) != FLE_OK) {
        die("users", &err);
    }
    double t0 = now_s();
    if (db_tx(db, setup_tx, &b, &err) != FLE_OK) {
        die("set-up", &err);
    }
    char q[128];
    snprintf(q, sizeof q, "SELECT id FROM tranche WHERE fund_id = %" PRId64, b.fund);
    PGresult *r = db_exec_sql(db, q, &err);
    if (r == NULL || PQntuples(r) != 1) {
        die("tranche", &err);
    }
    b.tranche = db_i64(r, 0, 0);
    PQclear(r);
    if (db_tx(db, contribute_tx, &b, &err) != FLE_OK) {
        die("contribution", &err);
    }
    if (tranche_account(db, b.fund, b.tranche, "LOANS", &b.acc_loans, &err) != FLE_OK ||
        tranche_account(db, b.fund, b.tranche, "CASH", &b.acc_cash, &err) != FLE_OK ||
        fund_account_by_code(db, b.fund, "8500", &b.a8500, &err) != FLE_OK ||
        fund_account_by_code(db, b.fund, "8590", &b.a8590, &err) != FLE_OK ||
        fund_account_by_code(db, b.fund, "1050", &b.a1050, &err) != FLE_OK ||
        fund_account_by_code(db, b.fund, "4000", &b.a4000, &err) != FLE_OK) {
        die("accounts", &err);
    }
    if (db_tx(db, rows_tx, &b, &err) != FLE_OK || db_tx(db, entries_tx, &b, &err) != FLE_OK) {
        die("fixture", &err);
    }
    sql(db, "ANALYZE");
    double t = now_s() - t0;
    printf("fixture: fund %" PRId64 ", %" PRId64 " loans (one in %" PRId64 " to a person), %" PRId64
           " journal entries: %.1f s\n",
           b.fund, loans, persons_every, 4 * loans + 3, t);
    printf("RESULT step=build fund=%" PRId64 " loans=%" PRId64 " seconds=%.2f\n", b.fund, loans, t);
    db_close(db);
    return 0;
}

/* ---- write, check, privacy, spawn ---- */

struct write_run {
    struct iati_export_options o;
    struct iati_export_summary sum;
};

static enum fl_err write_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct write_run *w = arg;
    if (iati_export_snapshot(db, err) != FLE_OK) {
        return err->code;
    }
    return iati_export_write(db, &w->o, &w->sum, err);
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int cmd_write(const char *conninfo, int64_t fund, const char *out)
{
    struct db *db = open_db(conninfo);
    long rss0 = maxrss_kib();
    struct write_run w = {.o = {.fund_id = fund,
                                .out_dir = out,
                                .reporting_org_ref = REF,
                                .policy_url = "https://fund.example.org/v1/iati/exclusions-policy"}};
    struct fl_error err;
    fl_error_clear(&err);
    double t0 = now_s();
    if (db_tx(db, write_tx, &w, &err) != FLE_OK) {
        die("iati_export_write", &err);
    }
    double t = now_s() - t0;
    char path[PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/activities.xml", out);
    long long bytes = file_bytes(path);
    uint64_t tx = 0;
    for (int i = 0; i < IATI_TX_COUNT_; i++) {
        tx += w.sum.written.count[i];
    }
    printf("write: %" PRIu64 " activities, %" PRIu64 " transactions, %lld bytes (%.1f MiB) in %.2f s; peak RSS %ld KiB "
           "(%ld KiB before the export: libraries and the connection)\n",
           w.sum.activity_count, tx, bytes, (double)bytes / 1048576.0, t, maxrss_kib(), rss0);
    printf("RESULT step=write seconds=%.3f maxrss_kib=%ld bytes=%lld activities=%" PRIu64 "\n", t, maxrss_kib(), bytes,
           w.sum.activity_count);
    db_close(db);
    return 0;
}

static int cmd_check(const char *path)
{
    char schemas[PATH_BYTES], codelists[PATH_BYTES];
    shared_dir(schemas, sizeof schemas, "iati/schemas");
    shared_dir(codelists, sizeof codelists, "iati/codelists");
    enum iati_kind kind;
    if (!iati_file_kind(path, &kind)) {
        fprintf(stderr, "iati bench: %s is not an IATI file\n", path);
        return 1;
    }
    struct iati_check_config c = {.schema_dir = schemas, .codelist_dir = codelists, .policy = true};
    struct iati_problems p;
    iati_problems_init(&p);
    double t0 = now_s();
    enum iati_check_result res = iati_check_file(path, kind, &c, &p);
    double t = now_s() - t0;
    iati_problems_print(&p, stderr);
    printf("check: %s: %s, %zu problems in %.2f s; peak RSS %ld KiB\n", path, res == IATI_CHECK_OK ? "ok" : "FAILED",
           p.count + p.dropped, t, maxrss_kib());
    printf("RESULT step=check seconds=%.3f maxrss_kib=%ld ok=%d\n", t, maxrss_kib(), res == IATI_CHECK_OK);
    iati_problems_free(&p);
    return res == IATI_CHECK_OK ? 0 : 1;
}

static int cmd_privacy(const char *conninfo, const char *path)
{
    struct db *db = open_db(conninfo);
    struct iati_problems p;
    iati_problems_init(&p);
    struct fl_error err;
    fl_error_clear(&err);
    double t0 = now_s();
    if (iati_privacy_check(db, path, &p, &err) != FLE_OK) {
        die("iati_privacy_check", &err);
    }
    double t = now_s() - t0;
    printf("privacy: %zu problems in %.2f s; peak RSS %ld KiB\n", p.count, t, maxrss_kib());
    printf("RESULT step=privacy seconds=%.3f maxrss_kib=%ld ok=%d\n", t, maxrss_kib(), p.count == 0);
    int rc = p.count == 0 ? 0 : 1;
    iati_problems_free(&p);
    db_close(db);
    return rc;
}

static int cmd_spawn(char **argv)
{
    pid_t pid;
    double t0 = now_s();
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
        perror("posix_spawnp");
        return 1;
    }
    int status = 0;
    struct rusage u;
    if (wait4(pid, &status, 0, &u) != pid) {
        perror("wait4");
        return 1;
    }
    double t = now_s() - t0;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    printf("spawn: %s: exit %d in %.2f s; peak RSS %ld KiB\n", argv[0], rc, t, u.ru_maxrss);
    printf("RESULT step=spawn seconds=%.3f maxrss_kib=%ld exit=%d\n", t, u.ru_maxrss, rc);
    return rc;
}

int main(int argc, char **argv)
{
    const char *lvl = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(lvl ? lvl : "warn");
    if (argc < 2) {
        fprintf(stderr, "usage: iati build|write|check|privacy|spawn ... (see tests/bench/iati.c)\n");
        return 2;
    }
    const char *step = argv[1];
    if (strcmp(step, "spawn") == 0 && argc >= 3) {
        return cmd_spawn(argv + 2);
    }
    if (strcmp(step, "check") == 0 && argc == 3) {
        return cmd_check(argv[2]);
    }
    const char *conninfo = getenv("FUNDLEDGER_DATABASE_URL");
    int64_t loans = 10000, persons_every = 10, fund = 0;
    const char *out = NULL, *file = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--loans") == 0 && i + 1 < argc) {
            loans = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--persons-every") == 0 && i + 1 < argc) {
            persons_every = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--fund") == 0 && i + 1 < argc) {
            fund = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] != '-' && strchr(argv[i], '=') != NULL) {
            conninfo = argv[i];
        } else if (argv[i][0] != '-') {
            file = argv[i];
        } else {
            fprintf(stderr, "iati bench: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(step, "build") == 0 && loans >= 1 && loans <= LOANS_MAX && persons_every >= 2) {
        return cmd_build(conninfo, loans, persons_every);
    }
    if (strcmp(step, "write") == 0 && fund > 0 && out != NULL) {
        return cmd_write(conninfo, fund, out);
    }
    if (strcmp(step, "privacy") == 0 && file != NULL) {
        return cmd_privacy(conninfo, file);
    }
    fprintf(stderr, "usage: iati build [CONNINFO] --loans N [--persons-every K] | write [CONNINFO] --fund ID --out DIR "
                    "| check FILE | privacy [CONNINFO] FILE | spawn CMD [ARGS...]\n");
    return 2;
}
