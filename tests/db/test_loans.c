/* test_loans: the capital stack and loans against a real PostgreSQL: tranches by four eyes,
 * contributions, loan approval (usury cap, schedule, funding shares), conditions precedent and
 * disbursements with every refusal. Expected figures are worked out by hand in comments. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/fund.h"
#include "fundledger/loan.h"
#include "fundledger/org.h"
#include "fundledger/pipeline.h"
#include "fundledger/tranche.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t fund_id, undp, partner, impact;
static int64_t t_fl, t_mezz, t_senior; /* tranche ids */
static int64_t cacao_coop;             /* entrepreneur: women-led cacao cooperative in El Charco */

static int64_t balance_of(const char *code)
{
    int64_t id = 0;
    struct fl_error err;
    assert_int_equal(fund_account_by_code(db, fund_id, code, &id, &err), FLE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT balance_minor FROM account_balance WHERE account_id = %" PRId64, id);
    return lf_scalar_i64(sql);
}

static int64_t tranche_balance(int64_t tranche, const char *suffix)
{
    char code[64];
    snprintf(code, sizeof code, "T%" PRId64 ".%s", tranche, suffix);
    return balance_of(code);
}

static void assert_books_balance(void)
{
    assert_int_equal(lf_scalar_i64("SELECT coalesce(sum(balance_minor), 0) FROM account_balance"), 0);
}

static json_t *approve_as(int64_t proposal_id, enum fl_err expect, struct fl_error *err)
{
    return lf_run(lf_approve_fn, &proposal_id, expect, err);
}

static json_t *self_approve_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct principal maker_as_approver = manager;
    maker_as_approver.role = ROLE_APPROVER;
    return approval_decide(d, &maker_as_approver, *(int64_t *)arg, true, NULL, err);
}

static json_t *fund_fn(struct db *d, void *arg, struct fl_error *err)
{
    (void)arg;
    return fund_create(d, &manager, "LOANS", "Loan test fund", "COP", err);
}

static json_t *tranche_fn(struct db *d, void *arg, struct fl_error *err)
{
    return tranche_propose(d, &manager, fund_id, arg, err);
}

struct money_args {
    int64_t tranche;
    const char *amount, *date, *text;
};

static json_t *contribute_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct money_args *a = arg;
    return tranche_contribute(d, &manager, a->tranche, a->amount, a->date, a->text, 0, err);
}

static json_t *entrepreneur_fn(struct db *d, void *arg, struct fl_error *err)
{
    return pipeline_entrepreneur_create(d, &manager, fund_id, arg, err);
}

static int64_t make_tranche(int64_t investor, const char *name, const char *kind, int rank, const char *commitment,
                            const json_t *eligibility)
{
    struct tranche_terms t = {investor, name,         kind,        rank,          "COP", commitment, "0.0500",
                              NULL,     eligibility, "2026-01-10", "XM-DAC-41114-TEST"};
    json_t *p = lf_run(tranche_fn, &t, FLE_OK, NULL);
    assert_string_equal(lf_jstr(p, "status"), "pending");
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    /* Nothing exists until four eyes approve. */
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tranche WHERE name = '%s'", name);
    assert_int_equal(lf_scalar_i64(sql), 0);
    json_t *done = approve_as(pid, FLE_OK, NULL);
    assert_string_equal(lf_jstr(done, "status"), "approved");
    json_decref(done);
    snprintf(sql, sizeof sql, "SELECT id FROM tranche WHERE name = '%s'", name);
    return lf_scalar_i64(sql);
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("loans");
    db = testdb_open(ci);
    /* 100,000,000.00 COP authority: enough for every proposal here. */
    lf_setup(ci, db, &manager, &approver, 10000000000);
    json_t *f = lf_run(fund_fn, NULL, FLE_OK, NULL);
    fund_id = lf_jid(f, "id");
    json_decref(f);
    undp = lf_make_investor("UNDP", "XM-DAC-41114");
    partner = lf_make_investor("Partner", "CO-RUE-900000001");
    impact = lf_make_investor("Impact", "CO-RUE-900000002");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

static void test_tranches_by_four_eyes(void **state)
{
    (void)state;
    json_t *coffee_only = json_pack("{s:[s]}", "value_chains", "coffee");
    t_fl = make_tranche(undp, "UNDP first loss", "first_loss", 3, "3000000.00", NULL);
    t_mezz = make_tranche(partner, "Partner concessional", "mezzanine", 2, "5000000.00", NULL);
    t_senior = make_tranche(impact, "Impact senior", "senior", 1, "12000000.00", coffee_only);
    json_decref(coffee_only);
    /* The signed commitment is in the memo accounts: unfunded = commitment. */
    assert_int_equal(tranche_balance(t_fl, "UNFUNDED"), 300000000);
    assert_int_equal(tranche_balance(t_fl, "COMMITMENT"), -300000000);
    assert_int_equal(tranche_balance(t_senior, "UNFUNDED"), 1200000000);
    assert_books_balance();
    /* Refusals: same name, unknown investor, foreign currency, bad eligibility, future date. */
    struct fl_error err;
    struct tranche_terms dup = {undp, "UNDP first loss", "first_loss", 4, "COP", "1.00", NULL, NULL, NULL,
                                "2026-01-10", NULL};
    assert_null(lf_run(tranche_fn, &dup, FLE_DUPLICATE, &err));
    assert_string_equal(err.field, "name");
    struct tranche_terms bad = dup;
    bad.name = "Other";
    bad.investor_id = 999999;
    assert_null(lf_run(tranche_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "investor_id");
    bad.investor_id = undp;
    bad.currency = "USD";
    assert_null(lf_run(tranche_fn, &bad, FLE_RULE, &err));
    assert_string_equal(err.field, "currency");
    bad.currency = "COP";
    json_t *el = json_pack("{s:[s]}", "municipalities", "99999");
    bad.eligibility = el;
    assert_null(lf_run(tranche_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "eligibility.municipalities[0]");
    json_decref(el);
    bad.eligibility = NULL;
    bad.signed_date = "2999-01-01";
    assert_null(lf_run(tranche_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "signed_date");
    bad.signed_date = "2026-01-10";
    bad.commitment = "10.001";
    assert_null(lf_run(tranche_fn, &bad, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "commitment");
}

static void test_contributions(void **state)
{
    (void)state;
    struct money_args a = {t_fl, "3000000.00", "2026-01-20", "UNDP-TRF-001"};
    json_t *c = lf_run(contribute_fn, &a, FLE_OK, NULL);
    assert_string_equal(lf_jstr(c, "amount"), "3000000.00");
    json_decref(c);
    a = (struct money_args){t_mezz, "2500000.00", "2026-01-25", "PARTNER-TRF-001"};
    json_decref(lf_run(contribute_fn, &a, FLE_OK, NULL));
    a = (struct money_args){t_senior, "6000000.00", "2026-02-01", "IMPACT-TRF-001"};
    json_decref(lf_run(contribute_fn, &a, FLE_OK, NULL));
    /* Cash and paid-in capital per tranche; unfunded reduced by the same amounts. */
    assert_int_equal(tranche_balance(t_fl, "CASH"), 300000000);
    assert_int_equal(tranche_balance(t_fl, "CONTRIB"), -300000000);
    assert_int_equal(tranche_balance(t_fl, "UNFUNDED"), 0);
    assert_int_equal(tranche_balance(t_mezz, "UNFUNDED"), 250000000);
    assert_int_equal(tranche_balance(t_senior, "UNFUNDED"), 600000000);
    struct fl_error err;
    /* More than the unfunded commitment; the same bank reference twice. */
    a = (struct money_args){t_fl, "0.01", "2026-01-21", "UNDP-TRF-002"};
    assert_null(lf_run(contribute_fn, &a, FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    a = (struct money_args){t_mezz, "1.00", "2026-01-26", "PARTNER-TRF-001"};
    assert_null(lf_run(contribute_fn, &a, FLE_DUPLICATE, &err));
    assert_string_equal(err.field, "reference");
    assert_int_equal(tranche_balance(t_mezz, "CASH"), 250000000);
    json_t *t = tranche_get(db, t_mezz, NULL, &err);
    json_t *fig = json_object_get(t, "figures");
    assert_string_equal(lf_jstr(fig, "commitment"), "5000000.00");
    assert_string_equal(lf_jstr(fig, "paid_in"), "2500000.00");
    assert_string_equal(lf_jstr(fig, "unfunded"), "2500000.00");
    assert_string_equal(lf_jstr(fig, "capital"), "2500000.00");
    json_decref(t);
    /* As of a date before the contribution, nothing was paid in. */
    t = tranche_get(db, t_mezz, "2026-01-24", &err);
    assert_string_equal(lf_jstr(json_object_get(t, "figures"), "paid_in"), "0.00");
    json_decref(t);
    assert_books_balance();
}

static void test_entrepreneur_at_committee(void **state)
{
    (void)state;
    struct pipeline_entrepreneur_input in = {.kind = "cooperative",
                                             .name = "Cooperativa Cacaotera El Charco",
                                             .tax_id = "900123456",
                                             .municipality_code = "52250",
                                             .value_chain = "cacao",
                                             .women_led = true,
                                             .members = 40,
                                             .requested = "1100000.00",
                                             .purpose = "post-harvest equipment"};
    json_t *e = lf_run(entrepreneur_fn, &in, FLE_OK, NULL);
    cacao_coop = lf_jid(e, "id");
    json_decref(e);
    static const char *const path[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3; i++) {
        struct lf_move_args m = {cacao_coop, path[i]};
        json_decref(lf_run(lf_move_fn, &m, FLE_OK, NULL));
    }
}

static json_t *loan_fn(struct db *d, void *arg, struct fl_error *err)
{
    return loan_propose(d, &manager, fund_id, arg, err);
}

static struct loan_terms base_terms(void)
{
    return (struct loan_terms){.entrepreneur_id = cacao_coop,
                               .principal = "1100000.00",
                               .annual_rate = "0.2400",
                               .payments_per_year = 12,
                               .term_count = 12,
                               .first_due_date = "2026-04-01",
                               .amortisation = "annuity",
                               .approval_date = "2026-03-01",
                               .purpose = "equipment"};
}

static int64_t loan_id;

static void test_loan_approval(void **state)
{
    (void)state;
    struct fl_error err;
    /* Above the microcredit cap in force on 2026-03-01 (0.5200 in the seeded table). */
    struct loan_terms t = base_terms();
    t.annual_rate = "0.6000";
    assert_null(lf_run(loan_fn, &t, FLE_RULE, &err));
    assert_string_equal(err.field, "annual_rate");
    assert_non_null(strstr(err.message, "0.5200"));
    /* An explicit share in the senior tranche, which takes coffee only. */
    t = base_terms();
    json_t *shares = json_pack("[{s:I, s:s}]", "tranche_id", (json_int_t)t_senior, "amount", "1100000.00");
    t.shares = shares;
    assert_null(lf_run(loan_fn, &t, FLE_RULE, &err));
    assert_string_equal(err.field, "shares[0].tranche_id");
    json_decref(shares);
    t = base_terms();
    t.grace_interest = 2; /* more than grace_principal (0) */
    assert_null(lf_run(loan_fn, &t, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "grace_interest");

    t = base_terms();
    json_t *p = lf_run(loan_fn, &t, FLE_OK, NULL);
    loan_id = lf_jid(p, "loan_id");
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM loan_schedule WHERE loan_id = %" PRId64, loan_id);
    assert_int_equal(lf_scalar_i64(sql), 0); /* no schedule before approval */
    /* The maker cannot approve; the approver can. */
    assert_null(lf_run(self_approve_fn, &pid, FLE_SELF_APPROVAL, &err));
    json_t *done = approve_as(pid, FLE_OK, NULL);
    assert_string_equal(lf_jstr(done, "status"), "approved");
    json_decref(done);

    /* Schedule stored: 12 instalments whose principal sums exactly to 1,100,000.00. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM loan_schedule WHERE loan_id = %" PRId64, loan_id);
    assert_int_equal(lf_scalar_i64(sql), 12);
    snprintf(sql, sizeof sql, "SELECT sum(principal_minor) FROM loan_schedule WHERE loan_id = %" PRId64, loan_id);
    assert_int_equal(lf_scalar_i64(sql), 110000000);
    /* Funding pro rata to eligible cash: first loss 3,000,000.00 and mezzanine 2,500,000.00
     * (the senior tranche takes coffee only): 1,100,000.00 x 3/5.5 = 600,000.00 and
     * 1,100,000.00 x 2.5/5.5 = 500,000.00 exactly. Positions follow seniority: mezzanine first. */
    snprintf(sql, sizeof sql,
             "SELECT string_agg(tranche_id || ':' || position || ':' || weight_minor, ',' ORDER BY position) "
             "FROM loan_funding WHERE loan_id = %" PRId64,
             loan_id);
    char *funding = testdb_scalar(ci, sql);
    char want[128];
    snprintf(want, sizeof want, "%" PRId64 ":1:50000000,%" PRId64 ":2:60000000", t_mezz, t_fl);
    assert_string_equal(funding, want);
    free(funding);
    /* The commitment is in the memo accounts; the entrepreneur moved to approved. */
    assert_int_equal(balance_of("8500"), 110000000);
    snprintf(sql, sizeof sql, "SELECT stage FROM entrepreneur WHERE id = %" PRId64, cacao_coop);
    char *stage = testdb_scalar(ci, sql);
    assert_string_equal(stage, "approved");
    free(stage);
    assert_books_balance();
}

struct disb_args {
    const char *amount, *date;
};

static json_t *disb_fn(struct db *d, void *arg, struct fl_error *err)
{
    struct disb_args *a = arg;
    return disbursement_propose(d, &manager, loan_id, a->amount, a->date, err);
}

static json_t *tick_fn(struct db *d, void *arg, struct fl_error *err)
{
    return loan_condition_tick(d, &manager, loan_id, arg, "2026-03-02", "checked", err);
}

static void test_disbursements(void **state)
{
    (void)state;
    struct fl_error err;
    struct disb_args d = {"1000000.00", "2026-03-05"};
    /* No conditions precedent yet. */
    assert_null(lf_run(disb_fn, &d, FLE_RULE, &err));
    assert_string_equal(err.field, "conditions");
    assert_non_null(strstr(err.message, "signed_agreement, kyc, sanctions_screening, bank_account_verified"));
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening"};
    for (int i = 0; i < 3; i++) {
        json_decref(lf_run(tick_fn, (void *)items[i], FLE_OK, NULL));
    }
    assert_null(lf_run(tick_fn, (void *)"kyc", FLE_DUPLICATE, &err));
    assert_null(lf_run(disb_fn, &d, FLE_RULE, &err));
    assert_non_null(strstr(err.message, "bank_account_verified"));
    json_decref(lf_run(tick_fn, (void *)"bank_account_verified", FLE_OK, NULL));
    /* Over-drawn, before approval date, future. */
    struct disb_args over = {"1100000.01", "2026-03-05"};
    assert_null(lf_run(disb_fn, &over, FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    struct disb_args early = {"10.00", "2026-02-28"};
    assert_null(lf_run(disb_fn, &early, FLE_BAD_FIELD, &err));
    assert_string_equal(err.field, "value_date");

    json_t *p = lf_run(disb_fn, &d, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id");
    json_decref(p);
    int64_t fl_cash = tranche_balance(t_fl, "CASH"), mezz_cash = tranche_balance(t_mezz, "CASH");
    json_decref(approve_as(pid, FLE_OK, NULL));
    /* 1,000,000.00 over shares 500,000 (mezz, position 1) and 600,000 (first loss):
     * mezz 1,000,000 x 5/11 = 454,545.4545..., first loss 545,454.5454...; floors 454,545.45 and
     * 545,454.54 leave 0.01, which goes to the larger remainder (first loss, .5454 > .4545). */
    assert_int_equal(tranche_balance(t_mezz, "LOANS"), 45454545);
    assert_int_equal(tranche_balance(t_fl, "LOANS"), 54545455);
    assert_int_equal(mezz_cash - tranche_balance(t_mezz, "CASH"), 45454545);
    assert_int_equal(fl_cash - tranche_balance(t_fl, "CASH"), 54545455);
    assert_int_equal(balance_of("8500"), 10000000); /* 100,000.00 still undrawn */
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT drawn_minor FROM loan WHERE id = %" PRId64, loan_id);
    assert_int_equal(lf_scalar_i64(sql), 100000000);
    snprintf(sql, sizeof sql, "SELECT stage FROM entrepreneur WHERE id = %" PRId64, cacao_coop);
    char *stage = testdb_scalar(ci, sql);
    assert_string_equal(stage, "active");
    free(stage);
    /* Two drawdowns proposed together may not over-draw: the second fails at approval. */
    struct disb_args rest = {"100000.00", "2026-03-10"};
    p = lf_run(disb_fn, &rest, FLE_OK, NULL);
    int64_t p1 = lf_jid(p, "id");
    json_decref(p);
    p = lf_run(disb_fn, &rest, FLE_OK, NULL);
    int64_t p2 = lf_jid(p, "id");
    json_decref(p);
    json_decref(approve_as(p1, FLE_OK, NULL));
    assert_null(approve_as(p2, FLE_RULE, &err));
    assert_string_equal(err.field, "amount");
    snprintf(sql, sizeof sql, "SELECT drawn_minor FROM loan WHERE id = %" PRId64, loan_id);
    assert_int_equal(lf_scalar_i64(sql), 110000000);
    assert_int_equal(balance_of("8500"), 0);
    assert_books_balance();
}

static void test_loan_over_available_cash(void **state)
{
    (void)state;
    /* A second entrepreneur asks for more than the eligible tranches still hold. */
    struct pipeline_entrepreneur_input in = {.kind = "association",
                                             .name = "Asociación de Fríjol de Dabeiba",
                                             .tax_id = "900765432",
                                             .municipality_code = "05234",
                                             .value_chain = "beans",
                                             .members = 25};
    json_t *e = lf_run(entrepreneur_fn, &in, FLE_OK, NULL);
    int64_t beans = lf_jid(e, "id");
    json_decref(e);
    static const char *const path[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3; i++) {
        struct lf_move_args m = {beans, path[i]};
        json_decref(lf_run(lf_move_fn, &m, FLE_OK, NULL));
    }
    struct loan_terms t = base_terms();
    t.entrepreneur_id = beans;
    t.principal = "5000000.00"; /* first loss + mezzanine cash left: 4,400,000.00 */
    json_t *p = lf_run(loan_fn, &t, FLE_OK, NULL);
    int64_t pid = lf_jid(p, "id"), lid = lf_jid(p, "loan_id");
    json_decref(p);
    struct fl_error err;
    assert_null(approve_as(pid, FLE_RULE, &err));
    assert_string_equal(err.field, "principal");
    assert_non_null(strstr(err.message, "4400000.00"));
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT status FROM loan WHERE id = %" PRId64, lid);
    char *status = testdb_scalar(ci, sql);
    assert_string_equal(status, "proposed");
    free(status);
    assert_books_balance();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tranches_by_four_eyes),  cmocka_unit_test(test_contributions),
        cmocka_unit_test(test_entrepreneur_at_committee), cmocka_unit_test(test_loan_approval),
        cmocka_unit_test(test_disbursements),          cmocka_unit_test(test_loan_over_available_cash),
    };
    return cmocka_run_group_tests_name("loans (database)", tests, setup, teardown);
}
