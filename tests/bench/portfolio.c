/* portfolio: timing of the portfolio-sized operations on a synthetic fund.
 *
 * Builds a fund of N loans (default 100,000) of 1,200,000.00 COP with a year of monthly
 * instalments (equal principal 100,000.00; interest (13 - k) x 2,000.00), funded 5 : 3 : 2 by three
 * tranches (senior, mezzanine, first loss) of three investors, as in the demo;
 * a sixth of the loans each has its first instalment due on the 15th of January ... June 2025
 * (all in January with --catch-up).
 * The tranches, their contributions and the users go through the C API; entrepreneurs, loans,
 * schedules, funding shares and proposals are a fixture made with INSERT ... SELECT
 * generate_series; the disbursements are real balanced entries posted with ledger_post in
 * batches (Dr T.LOANS / Cr T.CASH per tranche, Dr 8590 / Cr 8500, after one commitment entry for them
 * all).
 * Then it times:
 *   (a) importing a bank statement of N repayments through repayment_import_csv, in one
 *       transaction, commit included. Each line pays a loan's first instalment on its due date
 *       (two allocation rows: interest and principal), the common case; with --catch-up a sixth
 *       of the loans each pays instalments 1..k (k = 1..6) at once on instalment k's due date
 *       (2k allocation rows, 7 a line on average), a heavy statement;
 *   (b) PAR30/PAR90 and arrears of the whole portfolio as of 2025-07-20 (portfolio_quality), and
 *       the arrears of every loan through the paged listing (portfolio_arrears_list, 500 a page);
 *   (c) one investor statement (statement_build), when include/fundledger/statement.h exists, then
 *       the same statement again (the first build also sets the hint bits of the lines (a) wrote);
 *   (d) the month-end close (capitalisations, loss allowance, NAV allocation), committed;
 *   (c') after the close, the senior investor's statement (twice), then every investor's
 *       statement one after the other (the whole fund's statements);
 *   (e) payoff quotes of 1,000 loans.
 * Checks that every line applied, the repayments and allocations stored, and the books balance.
 * Prints "RESULT key=value ..." for scripts. Figures, not assertions on time: targets are
 * (a) < 30 s, (b) < 5 s, (c) and (c') one statement < 1 s, all statements < 5 s, (d) < 10 s, (e) < 5 ms.
 *
 * Usage: portfolio [CONNINFO] [--loans N] [--catch-up]   (CONNINFO defaults to $FUNDLEDGER_DATABASE_URL) */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fundledger/accrual.h"
#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/log.h"
#include "fundledger/money.h"
#include "fundledger/org.h"
#include "fundledger/portfolio.h"
#include "fundledger/repayment.h"
#include "fundledger/tranche.h"
#if defined(__has_include)
#if __has_include("fundledger/statement.h")
#include "fundledger/statement.h"
#define HAVE_STATEMENT 1
#endif
#endif

#define LOANS_MAX 1000000
#define POST_BATCH 5000
#define PRINCIPAL_MINOR INT64_C(120000000) /* 1,200,000.00 */
#define AS_OF "2025-07-20"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct principal manager, approver;

static void die(const char *what, const struct fl_error *err)
{
    fprintf(stderr, "portfolio: %s: %s %s %s\n", what, err ? fl_err_code(err->code) : "", err ? err->field : "",
            err ? err->message : "");
    exit(1);
}

/* Runs SQL outside the statement table (the fixture) and clears the result. */
static void sql(struct db *db, const char *text)
{
    struct fl_error err;
    PGresult *r = db_exec_sql(db, text, &err);
    if (r == NULL) {
        fprintf(stderr, "portfolio: fixture SQL failed: %.200s\n", text);
        die("sql", &err);
    }
    PQclear(r);
}

static int64_t sql_i64(struct db *db, const char *text)
{
    struct fl_error err;
    PGresult *r = db_exec_sql(db, text, &err);
    if (r == NULL || PQntuples(r) != 1) {
        PQclear(r);
        die(text, &err);
    }
    int64_t v = db_i64(r, 0, 0);
    PQclear(r);
    return v;
}

/* ---- set-up through the C API ---- */

/* The stack, as in the demo: senior, mezzanine, first loss; each loan funded 5 : 3 : 2. */
#define TRANCHES 3
static const struct {
    const char *name, *kind, *rate;
    int64_t weight;
} stack[TRANCHES] = {{"Senior", "senior", "0.0800", 5}, {"Mezzanine", "mezzanine", "0.0400", 3},
                     {"First loss", "first_loss", "0.0000", 2}};

struct setup {
    int64_t fund, investor, tranche, loans;
    int64_t investors[TRANCHES], tranches[TRANCHES];
    bool catch_up;
    char code[32];
};

static enum fl_err setup_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct setup *s = arg;
    json_t *f = fund_create(db, &manager, s->code, "Portfolio benchmark fund", "COP", err);
    if (f == NULL) {
        return err->code;
    }
    s->fund = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    for (int k = 0; k < TRANCHES; k++) {
        char name[64];
        snprintf(name, sizeof name, "Bench investor %d %s", k + 1, s->code);
        json_t *o = org_create(db, NULL, name, "investor", NULL, NULL, err);
        if (o == NULL) {
            return err->code;
        }
        s->investors[k] = json_integer_value(json_object_get(o, "id"));
        json_decref(o);
        char commitment[MONEY_TEXT_MAX];
        money_format(PRINCIPAL_MINOR / 10 * stack[k].weight * s->loans, 2, commitment, sizeof commitment);
        struct tranche_terms t = {s->investors[k], stack[k].name, stack[k].kind, k + 1,        "COP",
                                  commitment,      stack[k].rate, NULL,          NULL, "2024-10-01", NULL};
        json_t *p = tranche_propose(db, &manager, s->fund, &t, err);
        if (p == NULL) {
            return err->code;
        }
        int64_t pid = json_integer_value(json_object_get(p, "id"));
        json_decref(p);
        if ((p = approval_decide(db, &approver, pid, true, "bench", err)) == NULL) {
            return err->code;
        }
        json_decref(p);
    }
    s->investor = s->investors[0];
    return FLE_OK;
}

static enum fl_err contribute_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct setup *s = arg;
    for (int k = 0; k < TRANCHES; k++) {
        char amount[MONEY_TEXT_MAX];
        money_format(PRINCIPAL_MINOR / 10 * stack[k].weight * s->loans, 2, amount, sizeof amount);
        json_t *c = tranche_contribute(db, &manager, s->tranches[k], amount, "2024-11-01", "bench capital", 0, err);
        if (c == NULL) {
            return err->code;
        }
        json_decref(c);
    }
    return FLE_OK;
}

/* ---- the fixture ---- */

struct fixture {
    struct setup *s;
    int64_t loans_acc[TRANCHES], cash_acc[TRANCHES], a8500, a8590;
};

/* The fixture's SQL: entrepreneurs, loan and disbursement proposals, loans, schedules, shares. */
static void fixture_sql(struct db *db, const struct setup *s)
{
    char q[2048];
    int64_t f = s->fund, u = manager.user_id, n = s->loans, p = PRINCIPAL_MINOR;
    snprintf(q, sizeof q,
             "INSERT INTO entrepreneur (fund_id, kind, name, municipality_code, value_chain, members, currency, "
             "created_by) SELECT %" PRId64 ", 'person', 'Productor ' || g, (ARRAY['05088','05234','05361','52250',"
             "'52835','52001','05001'])[1 + g %% 7], (ARRAY['coffee','cacao','banana','beans','synthetic_wood'])"
             "[1 + g %% 5], 1, 'COP', %" PRId64 " FROM generate_series(1, %" PRId64 ") g",
             f, u, n);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO proposal (fund_id, kind, payload, amount_minor, currency, status, proposed_by, decided_at) "
             "SELECT %" PRId64 ", k, '{\"fixture\": true}', %" PRId64 ", 'COP', 'approved', %" PRId64 ", now() "
             "FROM unnest(ARRAY['loan', 'disbursement']) k, generate_series(1, %" PRId64 ") g",
             f, p, u, n);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO loan (fund_id, entrepreneur_id, currency, principal_minor, annual_rate, payments_per_year, "
             "term_count, first_due_date, amortisation, status, proposal_id, approved_on, drawn_minor, created_by) "
             "SELECT %" PRId64 ", e.id, 'COP', %" PRId64 ", 26824179, 12, 12, ('2025-01-15'::date + "
             "make_interval(months => ((e.rn - 1) %% %d)::int))::date, 'equal_principal', "
             "'active', p.id, '2024-12-01', %" PRId64 ", %" PRId64 " FROM (SELECT id, row_number() OVER "
             "(ORDER BY id) rn FROM entrepreneur WHERE fund_id = %" PRId64 ") e JOIN (SELECT id, row_number() OVER "
             "(ORDER BY id) rn FROM proposal WHERE fund_id = %" PRId64 " AND kind = 'loan') p USING (rn)",
             f, p, s->catch_up ? 1 : 6, p, u, f, f);
    sql(db, q);
    /* Equal principal 100,000.00; interest 2 % a month of the balance: (13 - k) x 2,000.00. */
    snprintf(q, sizeof q,
             "INSERT INTO loan_schedule (loan_id, no, due_date, principal_minor, interest_minor) "
             "SELECT l.id, k, (l.first_due_date + make_interval(months => k - 1))::date, %" PRId64
             " / 12, (13 - k) * 200000 FROM loan l CROSS JOIN generate_series(1, 12) k WHERE l.fund_id = %" PRId64
             " ORDER BY l.id, k", /* stored loan by loan, as approvals store them */
             p, f);
    sql(db, q);
    for (int k = 0; k < TRANCHES; k++) {
        snprintf(q, sizeof q,
                 "INSERT INTO loan_funding (loan_id, tranche_id, position, weight_minor) SELECT id, %" PRId64
                 ", %d, principal_minor / 10 * %" PRId64 " FROM loan WHERE fund_id = %" PRId64,
                 s->tranches[k], k + 1, stack[k].weight, f);
        sql(db, q);
    }
}

static enum fl_err fixture_sql_tx(struct db *db, void *arg, struct fl_error *err)
{
    (void)err;
    struct fixture *fx = arg;
    fixture_sql(db, fx->s);
    return FLE_OK;
}

/* The stored schedule versions every loan has (docs/loan-servicing.md §4): version 1, the
 * approval schedule (the stored schedule), and version 2, cut by its disbursement of the whole
 * principal on 2024-12-05: the accrual engine's rows after that drawdown (row 1 carries the stub
 * before its period), computed here once per first due date (the loans have six). */
static void fixture_versions(struct db *db, const struct setup *s)
{
    static char q[16384];
    sql(db, "SET LOCAL work_mem = '256MB'");
    snprintf(q, sizeof q,
             "INSERT INTO loan_schedule_version (loan_id, version, reason, valid_from) SELECT id, 1, 'approval', "
             "approved_on FROM loan WHERE fund_id = %" PRId64,
             s->fund);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO loan_schedule_version_row (loan_id, version, no, due_date, principal_minor, interest_minor) "
             "SELECT s.loan_id, 1, s.no, s.due_date, s.principal_minor, s.interest_minor FROM loan_schedule s "
             "JOIN loan l ON l.id = s.loan_id WHERE l.fund_id = %" PRId64 " ORDER BY s.loan_id, s.no",
             s->fund);
    sql(db, q);
    snprintf(q, sizeof q,
             "INSERT INTO loan_schedule_version (loan_id, version, reason, disbursement_id, valid_from) "
             "SELECT d.loan_id, 2, 'drawdown', d.id, d.value_date FROM disbursement d JOIN loan l ON l.id = d.loan_id "
             "WHERE l.fund_id = %" PRId64,
             s->fund);
    sql(db, q);
    int n = snprintf(q, sizeof q,
                     "INSERT INTO loan_schedule_version_row (loan_id, version, no, due_date, principal_minor, "
                     "interest_minor) SELECT l.id, 2, v.no, v.due::date, v.p, v.i FROM loan l JOIN (VALUES ");
    static struct accrual_loan acc;
    static struct accrual_row rows[SCHEDULE_INSTALMENTS_MAX];
    for (int k = 0; k < 6; k++) {
        schedule_terms t = {.principal_minor = PRINCIPAL_MINOR,
                            .exponent = 2,
                            .ea_rate = 26824179,
                            .payments_per_year = 12,
                            .period_months = 1,
                            .instalments = 12,
                            .first_due = {2025, 1 + k, 15},
                            .method = SCHEDULE_EQUAL_PRINCIPAL};
        size_t len = 0;
        if (accrual_loan_init(&acc, &t, RATE_DC_ACT_365, NULL, 0, NULL, 0) != ACCRUAL_OK ||
            accrual_loan_drawdown(&acc, (rate_date){2024, 12, 5}, PRINCIPAL_MINOR) != ACCRUAL_OK ||
            accrual_loan_version(&acc, rows, &len) != ACCRUAL_OK) {
            die("the fixture's schedule versions", NULL);
        }
        for (size_t i = 0; i < len; i++) {
            n += snprintf(q + n, sizeof q - (size_t)n,
                          "%s('2025-%02d-15'::date, %d, '%04d-%02d-%02d', %" PRId64 ", %" PRId64 ")",
                          k == 0 && i == 0 ? "" : ", ", 1 + k, (int)i + 1, rows[i].due.y, rows[i].due.m, rows[i].due.d,
                          rows[i].principal_minor, rows[i].interest_minor);
        }
    }
    snprintf(q + n, sizeof q - (size_t)n,
             ") v(fd, no, due, p, i) ON v.fd = l.first_due_date WHERE l.fund_id = %" PRId64 " ORDER BY l.id, v.no",
             s->fund);
    sql(db, q);
}

/* Disbursements: one commitment entry for all the loans, then one entry per loan in batches, and
 * the disbursement rows pointing at them. */
static enum fl_err disburse_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct fixture *fx = arg;
    const struct setup *s = fx->s;
    enum fl_err e;
    for (int k = 0; k < TRANCHES; k++) {
        if ((e = tranche_account(db, s->fund, s->tranches[k], "LOANS", &fx->loans_acc[k], err)) != FLE_OK ||
            (e = tranche_account(db, s->fund, s->tranches[k], "CASH", &fx->cash_acc[k], err)) != FLE_OK) {
            return e;
        }
    }
    if ((e = fund_account_by_code(db, s->fund, "8500", &fx->a8500, err)) != FLE_OK ||
        (e = fund_account_by_code(db, s->fund, "8590", &fx->a8590, err)) != FLE_OK) {
        return e;
    }
    struct ledger_entry *entries = calloc(POST_BATCH, sizeof *entries);
    const struct ledger_entry **ptrs = calloc(POST_BATCH, sizeof *ptrs);
    int64_t *ids = calloc(POST_BATCH, sizeof *ids);
    struct db_array loan_ids, entry_ids;
    db_array_init(&loan_ids);
    db_array_init(&entry_ids);
    if (entries == NULL || ptrs == NULL || ids == NULL) {
        free(entries);
        free(ptrs);
        free(ids);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    struct ledger_entry *c = &entries[0];
    c->fund_id = s->fund;
    c->posted_by = approver.user_id;
    snprintf(c->effective_date, sizeof c->effective_date, "2024-12-01");
    snprintf(c->memo, sizeof c->memo, "benchmark fixture: loan commitments");
    snprintf(c->event_type, sizeof c->event_type, "loan_commitment");
    snprintf(c->event_ref, sizeof c->event_ref, "fund:%" PRId64, s->fund);
    c->n_lines = 2;
    c->lines[0] = (struct ledger_line){fx->a8500, "COP", PRINCIPAL_MINOR * s->loans};
    c->lines[1] = (struct ledger_line){fx->a8590, "COP", -PRINCIPAL_MINOR * s->loans};
    ptrs[0] = c;
    e = ledger_post(db, ptrs, 1, ids, err);
    char q[256];
    snprintf(q, sizeof q, "SELECT id FROM loan WHERE fund_id = %" PRId64 " ORDER BY id", s->fund);
    PGresult *r = e == FLE_OK ? db_exec_sql(db, q, err) : NULL;
    if (r == NULL && e == FLE_OK) {
        e = err->code;
    }
    int rows = r ? PQntuples(r) : 0;
    for (int at = 0; e == FLE_OK && at < rows; at += POST_BATCH) {
        int n = rows - at < POST_BATCH ? rows - at : POST_BATCH;
        for (int i = 0; i < n; i++) {
            struct ledger_entry *x = &entries[i];
            int64_t loan = db_i64(r, at + i, 0);
            memset(x, 0, offsetof(struct ledger_entry, lines));
            x->fund_id = s->fund;
            x->posted_by = approver.user_id;
            snprintf(x->effective_date, sizeof x->effective_date, "2024-12-05");
            snprintf(x->memo, sizeof x->memo, "loan drawdown");
            snprintf(x->event_type, sizeof x->event_type, "disbursement");
            snprintf(x->event_ref, sizeof x->event_ref, "loan:%" PRId64, loan);
            x->n_lines = 2 + 2 * TRANCHES;
            for (int k = 0; k < TRANCHES; k++) {
                int64_t part = PRINCIPAL_MINOR / 10 * stack[k].weight;
                x->lines[2 * k] = (struct ledger_line){fx->loans_acc[k], "COP", part};
                x->lines[2 * k + 1] = (struct ledger_line){fx->cash_acc[k], "COP", -part};
            }
            x->lines[2 * TRANCHES] = (struct ledger_line){fx->a8590, "COP", PRINCIPAL_MINOR};
            x->lines[2 * TRANCHES + 1] = (struct ledger_line){fx->a8500, "COP", -PRINCIPAL_MINOR};
            ptrs[i] = x;
            db_array_i64(&loan_ids, loan);
        }
        if ((e = ledger_post(db, ptrs, (unsigned)n, ids, err)) != FLE_OK) {
            break;
        }
        for (int i = 0; i < n; i++) {
            db_array_i64(&entry_ids, ids[i]);
        }
    }
    PQclear(r);
    if (e == FLE_OK) {
        const char *la = db_array_str(&loan_ids), *ea = db_array_str(&entry_ids);
        size_t cap = (la ? strlen(la) : 0) + (ea ? strlen(ea) : 0) + 1024;
        char *big = la && ea ? malloc(cap) : NULL;
        if (big == NULL) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        } else {
            snprintf(big, cap,
                     "INSERT INTO disbursement (loan_id, amount_minor, value_date, proposal_id, entry_id) "
                     "SELECT u.loan_id, %" PRId64 ", '2024-12-05', p.id, u.entry_id FROM unnest('%s'::bigint[], "
                     "'%s'::bigint[]) WITH ORDINALITY AS u(loan_id, entry_id, rn) JOIN (SELECT id, row_number() "
                     "OVER (ORDER BY id) AS rn FROM proposal WHERE fund_id = %" PRId64
                     " AND kind = 'disbursement') p USING (rn)",
                     PRINCIPAL_MINOR, la, ea, s->fund);
            PGresult *x = db_exec_sql(db, big, err);
            free(big);
            if (x == NULL) {
                e = err->code;
            }
            PQclear(x);
        }
    }
    db_array_free(&loan_ids);
    db_array_free(&entry_ids);
    free(entries);
    free(ptrs);
    free(ids);
    if (e == FLE_OK) {
        fixture_versions(db, s);
    }
    return e;
}

/* ---- the bank statement ---- */

/* One line per loan, in loan id order. Common case: the first instalment, 124,000.00, on its due
 * date. --catch-up: line i pays instalments 1..k, k = i % 6 + 1, on the due date of instalment k
 * (2025-01-15 + k - 1 months): 1..k-1 are overdue then, k is current, and the amount is exactly
 * what they owe: the sum over j = 1..k of 100,000.00 + (13 - j) x 2,000.00. */
static char *make_csv(struct db *db, const struct setup *s, size_t *len, int64_t *total)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT id, first_due_date FROM loan WHERE fund_id = %" PRId64 " ORDER BY id", s->fund);
    struct fl_error err;
    PGresult *r = db_exec_sql(db, q, &err);
    if (r == NULL) {
        die("loans", &err);
    }
    int rows = PQntuples(r);
    size_t cap = (size_t)rows * 64 + 64;
    char *csv = malloc(cap);
    if (csv == NULL) {
        die("out of memory", NULL);
    }
    size_t n = (size_t)snprintf(csv, cap, "loan_id,amount,value_date,reference\n");
    *total = 0;
    for (int i = 0; i < rows; i++) {
        int64_t k = s->catch_up ? i % 6 + 1 : 1;
        int64_t amount = k * (PRINCIPAL_MINOR / 12) + 200000 * (13 * k - k * (k + 1) / 2);
        char a[MONEY_TEXT_MAX], date[DATE_TEXT_BYTES];
        money_format(amount, 2, a, sizeof a);
        if (s->catch_up) {
            snprintf(date, sizeof date, "2025-%02d-15", (int)k);
        } else {
            snprintf(date, sizeof date, "%s", PQgetvalue(r, i, 1));
        }
        n += (size_t)snprintf(csv + n, cap - n, "%s,%s,%s,STMT-%d\n", PQgetvalue(r, i, 0), a, date, i + 1);
        *total += amount;
    }
    PQclear(r);
    *len = n;
    return csv;
}

struct import {
    const struct setup *s;
    const char *csv;
    size_t len;
    json_t *report;
};

struct close_args {
    int64_t fund;
    json_t *out;
};

static enum fl_err close_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct close_args *a = arg;
    json_decref(a->out);
    a->out = loan_close_period(db, &manager, a->fund, AS_OF, err);
    return a->out ? FLE_OK : err->code;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static enum fl_err import_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct import *im = arg;
    json_decref(im->report);
    im->report = NULL;
    return repayment_import_csv(db, &manager, im->s->fund, im->csv, im->len, &im->report, err);
}

int main(int argc, char **argv)
{
    const char *conninfo = getenv("FUNDLEDGER_DATABASE_URL");
    long loans = 100000;
    bool catch_up = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--loans") == 0 && i + 1 < argc) {
            loans = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--catch-up") == 0) {
            catch_up = true;
        } else if (argv[i][0] != '-') {
            conninfo = argv[i];
        } else {
            fprintf(stderr, "usage: portfolio [CONNINFO] [--loans N] [--catch-up]\n");
            return 2;
        }
    }
    if (conninfo == NULL || loans < 1 || loans > LOANS_MAX || loans > REPAYMENT_IMPORT_LINES_MAX) {
        fprintf(stderr, "portfolio: need a connection string and 1..%d loans\n", REPAYMENT_IMPORT_LINES_MAX);
        return 2;
    }
    const char *lvl = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(lvl ? lvl : "warn");
    struct db *db = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    if (db_open(conninfo, true, 8, &db, &err) != FLE_OK) {
        die("cannot open the database", &err);
    }
    /* Users of this run (names unique per run). */
    char mname[64], aname[64];
    long tag = (long)time(NULL) % 100000000;
    snprintf(mname, sizeof mname, "bench-manager-%ld", tag);
    snprintf(aname, sizeof aname, "bench-approver-%ld", tag);
    manager = (struct principal){.role = ROLE_FUND_MANAGER};
    approver = (struct principal){.role = ROLE_APPROVER};
    if (auth_user_add(db, mname, ROLE_FUND_MANAGER, 0, &manager.user_id, &err) != FLE_OK ||
        auth_user_add(db, aname, ROLE_APPROVER, 0, &approver.user_id, &err) != FLE_OK ||
        auth_limit_set(db, approver.user_id, "COP", 1000000000000000, &err) != FLE_OK) {
        die("users", &err);
    }
    struct setup s = {.loans = loans, .catch_up = catch_up};
    snprintf(s.code, sizeof s.code, "BENCH-%ld", tag);
    double t0 = now_s();
    if (db_tx(db, setup_tx, &s, &err) != FLE_OK) {
        die("set-up", &err);
    }
    char q[256];
    for (int k = 0; k < TRANCHES; k++) {
        snprintf(q, sizeof q, "SELECT id FROM tranche WHERE fund_id = %" PRId64 " AND rank = %d", s.fund, k + 1);
        s.tranches[k] = sql_i64(db, q);
    }
    s.tranche = s.tranches[0];
    if (db_tx(db, contribute_tx, &s, &err) != FLE_OK) {
        die("contribution", &err);
    }
    struct fixture fx = {.s = &s};
    if (db_tx(db, fixture_sql_tx, &fx, &err) != FLE_OK || db_tx(db, disburse_tx, &fx, &err) != FLE_OK) {
        die("fixture", &err);
    }
    sql(db, "ANALYZE");
    double t_fixture = now_s() - t0;
    printf("fixture: %ld loans, %ld schedule rows, disbursed through ledger_post: %.1f s\n", loans, loans * 12,
           t_fixture);

    /* (a) the bank statement */
    size_t len = 0;
    int64_t total = 0;
    char *csv = make_csv(db, &s, &len, &total);
    struct import im = {.s = &s, .csv = csv, .len = len};
    t0 = now_s();
    if (db_tx(db, import_tx, &im, &err) != FLE_OK) {
        die("import", &err);
    }
    double t_import = now_s() - t0;
    int64_t applied = json_integer_value(json_object_get(im.report, "applied"));
    int64_t refused = json_integer_value(json_object_get(im.report, "refused"));
    char total_text[MONEY_TEXT_MAX];
    money_format(total, 2, total_text, sizeof total_text);
    int ok = applied == loans && refused == 0 &&
             strcmp(json_string_value(json_object_get(im.report, "amount_applied")), total_text) == 0;
    json_decref(im.report);
    free(csv);
    snprintf(q, sizeof q, "SELECT count(*) FROM repayment r JOIN loan l ON l.id = r.loan_id WHERE l.fund_id = %" PRId64,
             s.fund);
    int64_t stored = sql_i64(db, q);
    snprintf(q, sizeof q,
             "SELECT count(*) FROM repayment_allocation a JOIN loan l ON l.id = a.loan_id WHERE l.fund_id = %" PRId64,
             s.fund);
    int64_t allocations = sql_i64(db, q);
    int64_t books = sql_i64(db, "SELECT coalesce(sum(balance_minor), 0) FROM account_balance");
    ok = ok && stored == loans && books == 0;
    printf("(a) import of %ld repayments%s (%" PRId64 " allocation rows, %s COP) via repayment_import_csv: "
           "%.2f s  [target < 30 s]\n",
           loans, catch_up ? " catching up 1-6 instalments" : " of one instalment", allocations, total_text, t_import);
    sql(db, "ANALYZE");

    /* (b) portfolio quality and arrears of every loan */
    t0 = now_s();
    json_t *pq = portfolio_quality(db, s.fund, AS_OF, NULL, &err);
    double t_par = now_s() - t0;
    if (pq == NULL) {
        die("portfolio_quality", &err);
    }
    const json_t *p30 = json_object_get(pq, "par30"), *p90 = json_object_get(pq, "par90");
    printf("(b) PAR30/PAR90 and arrears of the portfolio as of %s (portfolio_quality): %.2f s  [target < 5 s]\n"
           "    gross %s, PAR30 %s (%s), PAR90 %s (%s), principal in arrears %s, interest in arrears %s\n",
           AS_OF, t_par, json_string_value(json_object_get(pq, "gross_portfolio")),
           json_string_value(json_object_get(p30, "amount")), json_string_value(json_object_get(p30, "ratio")),
           json_string_value(json_object_get(p90, "amount")), json_string_value(json_object_get(p90, "ratio")),
           json_string_value(json_object_get(pq, "principal_in_arrears")),
           json_string_value(json_object_get(pq, "interest_in_arrears")));
    /* By hand (100,000 loans: 16,667 in each of the first four sixths, 16,666 in the last two).
     * Common case: every loan owes 1,100,000.00 (gross 110,000,000,000.00); its instalment 2 is
     * due a month after the first, so as of 2025-07-20 the sixths are 155, 127, 96, 66, 35 and 5
     * days late: PAR30 = 83,334 loans = 91,667,400,000.00 (0.8333), PAR90 = 50,001 loans =
     * 55,001,100,000.00 (0.5000).
     * --catch-up: the sixth that paid k instalments owes 1,200,000.00 - 100,000.00 k and is late
     * since instalment k + 1 (k = 6: 5 days, 5: 35, 4: 66, 3: 96, ...): gross 85,000,400,000.00,
     * PAR30 (k <= 5) 75,000,800,000.00, PAR90 (k <= 3) 50,001,000,000.00. */
    json_decref(pq);
    t0 = now_s();
    int64_t after = 0, listed = 0;
    for (long guard = 0; guard <= loans / PAGE_SIZE_MAX + 1; guard++) {
        json_t *page = portfolio_arrears_list(db, s.fund, AS_OF, after, PAGE_SIZE_MAX, &err);
        if (page == NULL) {
            die("portfolio_arrears_list", &err);
        }
        listed += (int64_t)json_array_size(json_object_get(page, "loans"));
        json_t *next = json_object_get(page, "next_after");
        bool more = json_is_integer(next);
        after = more ? json_integer_value(next) : 0;
        json_decref(page);
        if (!more) {
            break;
        }
    }
    double t_list = now_s() - t0;
    ok = ok && listed == loans;
    printf("    arrears of every loan through the paged listing (%" PRId64 " loans, %d a page): %.2f s\n", listed,
           PAGE_SIZE_MAX, t_list);

    /* (c) one investor statement; then the same statement again: the first build is the first
     * read of the ledger lines the import wrote (it sets their hint bits), the second is what any
     * later statement costs. */
    double t_statement = -1, t_statement2 = -1;
#ifdef HAVE_STATEMENT
    json_t *st = NULL;
    t0 = now_s();
    if (statement_build(db, s.fund, s.investor, 0, "2025-07-31", &st, &err) != FLE_OK) {
        printf("(c) statement: statement_build failed: %s %s\n", err.field, err.message);
    } else {
        t_statement = now_s() - t0;
        json_decref(st);
        st = NULL;
        t0 = now_s();
        if (statement_build(db, s.fund, s.investor, 0, "2025-07-31", &st, &err) == FLE_OK) {
            t_statement2 = now_s() - t0;
        }
        printf("(c) one investor statement (statement_build, period end 2025-07-31): %.2f s  [target < 1 s]\n"
               "    the same statement built again: %.2f s\n",
               t_statement, t_statement2);
    }
    json_decref(st);
#else
    printf("(c) statement: not available yet\n");
#endif
    /* (d) the month-end close of the fund, committed (durable: synchronous_commit on). */
    struct close_args ca = {s.fund, NULL};
    t0 = now_s();
    if (db_tx(db, close_tx, &ca, &err) != FLE_OK) {
        die("loan_close_period", &err);
    }
    double t_close = now_s() - t0;
    printf("(d) month-end close of the fund on %s (loan_close_period, committed): %.2f s, %lld entries  "
           "[target < 10 s]\n",
           AS_OF, t_close, (long long)json_integer_value(json_object_get(ca.out, "entries")));
    json_decref(ca.out);
    double t_statement3 = -1, t_statement4 = -1, t_all = -1;
#ifdef HAVE_STATEMENT
    /* (c') the statements after the close, which posted the allowance and the NAV allocation the
     * statements' NAV sections read: the senior investor's (one statement, twice), then every
     * investor's of the fund, one after the other (the whole fund's statements). */
    json_t *st3 = NULL;
    t0 = now_s();
    if (statement_build(db, s.fund, s.investor, 0, AS_OF, &st3, &err) == FLE_OK) {
        t_statement3 = now_s() - t0;
    } else {
        printf("(c') statement_build failed: %s %s\n", err.field, err.message);
        ok = 0;
    }
    json_decref(st3);
    st3 = NULL;
    t0 = now_s();
    if (statement_build(db, s.fund, s.investor, 0, AS_OF, &st3, &err) == FLE_OK) {
        t_statement4 = now_s() - t0;
    }
    json_decref(st3);
    t0 = now_s();
    int built = 0;
    for (int k = 0; k < TRANCHES; k++) {
        json_t *x = NULL;
        if (statement_build(db, s.fund, s.investors[k], 0, AS_OF, &x, &err) == FLE_OK) {
            built++;
        }
        json_decref(x);
    }
    t_all = now_s() - t0;
    ok = ok && built == TRANCHES;
    printf("(c') one investor statement after the close (period end %s, NAV allocated): %.2f s, again %.2f s  "
           "[target < 1 s]\n"
           "     the whole fund's statements (%d investors, one tranche each): %.2f s  [target < 5 s]\n",
           AS_OF, t_statement3, t_statement4, built, t_all);
#endif

    /* (e) payoff quotes of 1,000 loans spread over the fund, one at a time (each its own
     * transaction, as the API runs it). */
    enum { QUOTES = 1000 };
    static double quote_ms[QUOTES];
    snprintf(q, sizeof q, "SELECT min(id) FROM loan WHERE fund_id = %" PRId64, s.fund);
    int64_t first = sql_i64(db, q);
    for (int k = 0; k < QUOTES; k++) {
        int64_t id = first + ((int64_t)k * 97) % loans;
        t0 = now_s();
        json_t *quote = loan_payoff(db, id, AS_OF, &err);
        quote_ms[k] = (now_s() - t0) * 1000.0;
        if (quote == NULL) {
            die("loan_payoff", &err);
        }
        json_decref(quote);
    }
    qsort(quote_ms, QUOTES, sizeof quote_ms[0], cmp_double);
    printf("(e) payoff quote (loan_payoff) of %d loans: median %.2f ms, p99 %.2f ms, max %.2f ms  [target < 5 ms]\n",
           QUOTES, quote_ms[QUOTES / 2], quote_ms[QUOTES * 99 / 100], quote_ms[QUOTES - 1]);

    printf("checks: %s (every line applied, %" PRId64 " repayments stored, books sum %" PRId64 ")\n",
           ok ? "ok" : "FAILED", stored, books);
    printf("RESULT loans=%ld catch_up=%d fixture_s=%.2f import_s=%.2f par_s=%.2f arrears_list_s=%.2f statement_s=%.2f "
           "statement_again_s=%.2f close_s=%.2f statement_closed_s=%.2f statements_all_s=%.2f payoff_median_ms=%.2f "
           "ok=%d\n",
           loans, catch_up, t_fixture, t_import, t_par, t_list, t_statement, t_statement2, t_close, t_statement3, t_all,
           quote_ms[QUOTES / 2], ok);
    db_close(db);
    return ok ? 0 : 1;
}
