/* iati_fixture: a demo-like fund built through the real C API, for the IATI tests. */
#include "iati_fixture.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/approval.h"
#include "fundledger/fund.h"
#include "fundledger/loan.h"
#include "fundledger/org.h"
#include "fundledger/pipeline.h"
#include "fundledger/repayment.h"
#include "fundledger/tranche.h"

const char *const iati_fixture_person_names[IATI_FIXTURE_PERSONS] = {
    "Yesenia Quiñones Angulo", "Wilmer Rentería Caicedo", "Dora Elcy Mosquera Palacios"};

/* One domain call in its own transaction. */
typedef json_t *(*step_fn)(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err);

struct step {
    step_fn fn;
    const struct iati_fixture *f;
    const void *arg;
    json_t *out;
};

static enum fl_err step_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct step *s = arg;
    json_decref(s->out);
    s->out = s->fn(db, s->f, s->arg, err);
    return s->out ? FLE_OK : err->code;
}

/* Runs fn; returns its JSON (caller frees) or NULL after printing what failed. */
static json_t *run(struct db *db, const struct iati_fixture *f, step_fn fn, const void *arg, const char *what)
{
    struct step s = {fn, f, arg, NULL};
    struct fl_error err;
    fl_error_clear(&err);
    if (db_tx(db, step_tx, &s, &err) != FLE_OK) {
        fprintf(stderr, "iati_fixture: %s: %s (%s)\n", what, err.message, err.field);
        json_decref(s.out);
        return NULL;
    }
    return s.out;
}

static int64_t run_id(struct db *db, const struct iati_fixture *f, step_fn fn, const void *arg, const char *what,
                      const char *key)
{
    json_t *o = run(db, f, fn, arg, what);
    int64_t id = o ? (int64_t)json_integer_value(json_object_get(o, key)) : 0;
    json_decref(o);
    return id;
}

struct org_args {
    const char *name, *kind, *ref, *type;
};

static json_t *org_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    (void)f;
    const struct org_args *a = arg;
    return org_create(db, NULL, a->name, a->kind, a->ref, a->type, err);
}

static json_t *fund_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    return fund_create(db, &f->manager, arg, "Human Security Partnership — IATI test fund", "COP", err);
}

static json_t *approve_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    return approval_decide(db, &f->approver, *(const int64_t *)arg, true, "ok", err);
}

/* Approves a proposal; false when it is not approved. */
static bool approve(struct db *db, const struct iati_fixture *f, int64_t proposal_id, const char *what)
{
    json_t *o = run(db, f, approve_fn, &proposal_id, what);
    bool ok = o != NULL && strcmp(json_string_value(json_object_get(o, "status")), "approved") == 0;
    json_decref(o);
    return ok;
}

static json_t *tranche_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    return tranche_propose(db, &f->manager, f->fund_id, arg, err);
}

struct money_args {
    int64_t id;
    const char *amount, *date, *text;
};

static json_t *contribute_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return tranche_contribute(db, &f->manager, a->id, a->amount, a->date, a->text, 0, err);
}

static json_t *cancel_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return tranche_cancel(db, &f->manager, a->id, a->amount, a->date, a->text, err);
}

static json_t *expense_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    int64_t exp = 0, payable = 0;
    if (fund_account_by_code(db, f->fund_id, "5000", &exp, err) != FLE_OK ||
        fund_account_by_code(db, f->fund_id, "2300", &payable, err) != FLE_OK) {
        return NULL;
    }
    struct journal_line_input lines[2] = {{exp, a->amount, NULL}, {payable, NULL, a->amount}};
    return journal_propose(db, &f->manager, f->fund_id, a->date, a->text, lines, 2, err);
}

static json_t *entrepreneur_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    return pipeline_entrepreneur_create(db, &f->manager, f->fund_id, arg, err);
}

static json_t *move_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return pipeline_move(db, &f->manager, a->id, a->text, "fixture", err);
}

static int64_t entrepreneur(struct db *db, const struct iati_fixture *f, const struct pipeline_entrepreneur_input *in)
{
    int64_t id = run_id(db, f, entrepreneur_fn, in, "entrepreneur", "id");
    static const char *const path[] = {"screening", "due_diligence", "committee"};
    for (int i = 0; i < 3 && id != 0; i++) {
        struct money_args m = {id, NULL, NULL, path[i]};
        json_t *o = run(db, f, move_fn, &m, "move");
        if (o == NULL) {
            id = 0;
        }
        json_decref(o);
    }
    return id;
}

static json_t *loan_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    return loan_propose(db, &f->manager, f->fund_id, arg, err);
}

static json_t *tick_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return loan_condition_tick(db, &f->manager, a->id, a->text, "2026-03-02", "checked", err);
}

static json_t *disburse_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return disbursement_propose(db, &f->manager, a->id, a->amount, a->date, err);
}

/* A loan approved, its conditions met, and drawn in full on 2026-03-05. */
static int64_t loan(struct db *db, const struct iati_fixture *f, int64_t entrepreneur_id, const char *principal,
                    const char *amortisation)
{
    struct loan_terms t = {.entrepreneur_id = entrepreneur_id,
                           .principal = principal,
                           .annual_rate = "0.2400",
                           .payments_per_year = 12,
                           .term_count = 12,
                           .first_due_date = "2026-04-01",
                           .amortisation = amortisation,
                           .approval_date = "2026-03-01",
                           .purpose = "working capital"};
    json_t *p = run(db, f, loan_fn, &t, "loan");
    if (p == NULL) {
        return 0;
    }
    int64_t pid = json_integer_value(json_object_get(p, "id"));
    int64_t id = json_integer_value(json_object_get(p, "loan_id"));
    json_decref(p);
    if (!approve(db, f, pid, "loan approval")) {
        return 0;
    }
    static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
    for (int i = 0; i < 4; i++) {
        struct money_args m = {id, NULL, NULL, items[i]};
        json_t *o = run(db, f, tick_fn, &m, "condition");
        if (o == NULL) {
            return 0;
        }
        json_decref(o);
    }
    struct money_args d = {id, principal, "2026-03-05", NULL};
    int64_t dp = run_id(db, f, disburse_fn, &d, "disbursement", "id");
    if (dp == 0 || !approve(db, f, dp, "disbursement approval")) {
        return 0;
    }
    return id;
}

static json_t *repay_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return repayment_record(db, &f->manager, a->id, a->amount, a->date, a->text, err);
}

bool iati_fixture_repay(struct db *db, const struct iati_fixture *f, int64_t loan_id, const char *amount,
                        const char *date, const char *reference)
{
    struct money_args m = {loan_id, amount, date, reference};
    json_t *o = run(db, f, repay_fn, &m, "repayment");
    json_decref(o);
    return o != NULL;
}

static json_t *writeoff_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return writeoff_propose(db, &f->manager, a->id, NULL, a->date, a->text, err);
}

static json_t *recovery_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct money_args *a = arg;
    return recovery_record(db, &f->manager, a->id, a->amount, a->date, a->text, err);
}

struct measure_args {
    const struct pipeline_measure_input *in;
    int64_t approve_id;
};

static json_t *measure_fn(struct db *db, const struct iati_fixture *f, const void *arg, struct fl_error *err)
{
    const struct measure_args *a = arg;
    return a->approve_id ? pipeline_measure_approve(db, &f->approver, a->approve_id, err)
                         : pipeline_measure_record(db, &f->manager, f->fund_id, a->in, err);
}

static bool measure(struct db *db, const struct iati_fixture *f, const char *dimension, int64_t round,
                    const char *score, const char *date)
{
    struct pipeline_measure_input in = {.municipality_code = "52250",
                                        .round = round,
                                        .dimension = dimension,
                                        .indicator = "municipal index",
                                        .raw_value = score,
                                        .score = score,
                                        .method = "household survey",
                                        .measured_on = date};
    struct measure_args rec = {&in, 0};
    int64_t id = run_id(db, f, measure_fn, &rec, "measure", "id");
    struct measure_args ok = {NULL, id};
    json_t *o = id ? run(db, f, measure_fn, &ok, "measure approval") : NULL;
    json_decref(o);
    return o != NULL;
}

static bool user(struct db *db, const char *prefix, const char *what, enum role role, struct principal *p)
{
    struct fl_error err;
    fl_error_clear(&err);
    *p = (struct principal){.role = role};
    snprintf(p->name, sizeof p->name, "%s%s", what, prefix);
    if (auth_user_add(db, p->name, role, 0, &p->user_id, &err) != FLE_OK) {
        fprintf(stderr, "iati_fixture: user %s: %s\n", p->name, err.message);
        return false;
    }
    return true;
}

bool iati_fixture_build(struct db *db, const char *prefix, const char *fund_code, const char *reporting_ref,
                        struct iati_fixture *f)
{
    memset(f, 0, sizeof *f);
    struct fl_error err;
    fl_error_clear(&err);
    if (!user(db, prefix, "m", ROLE_FUND_MANAGER, &f->manager) || !user(db, prefix, "a", ROLE_APPROVER, &f->approver) ||
        !user(db, prefix, "t", ROLE_TRANSPARENCY_OFFICER, &f->transparency) ||
        auth_limit_set(db, f->approver.user_id, "COP", 100000000000, &err) != FLE_OK) {
        return false;
    }
    json_t *fund = run(db, f, fund_fn, fund_code, "fund");
    if (fund == NULL) {
        return false;
    }
    f->fund_id = json_integer_value(json_object_get(fund, "id"));
    json_decref(fund);
    /* Organisations: shared by the funds of one database (IATI identifiers are unique). */
    struct org_args undp = {"United Nations Development Programme", "investor", "XM-DAC-41114", "40"};
    struct org_args partner = {"Socio corporativo (filial del sector energético)", "investor", "CO-RUE-900000001",
                               "70"};
    struct org_args manager = {"Human Security Partnership fund manager", "fund_manager", reporting_ref, "22"};
    f->undp = run_id(db, f, org_fn, &undp, "organisation", "id");
    f->partner = run_id(db, f, org_fn, &partner, "organisation", "id");
    f->fund_manager = run_id(db, f, org_fn, &manager, "organisation", "id");
    if (f->undp == 0 || f->partner == 0 || f->fund_manager == 0) {
        return false;
    }
    struct tranche_terms fl = {f->undp,
                               "UNDP first loss",
                               "first_loss",
                               2,
                               "COP",
                               "3000000.00",
                               "0.0000",
                               NULL,
                               NULL,
                               "2026-01-10",
                               "XM-DAC-41114-OUTPUT-00012345"};
    struct tranche_terms mz = {f->partner, "Partner concessional", "mezzanine", 1, "COP", "5000000.00", "0.0500", NULL,
                               NULL,       "2026-01-12",           NULL};
    int64_t p1 = run_id(db, f, tranche_fn, &fl, "tranche", "id");
    int64_t p2 = run_id(db, f, tranche_fn, &mz, "tranche", "id");
    if (p1 == 0 || p2 == 0 || !approve(db, f, p1, "tranche approval") || !approve(db, f, p2, "tranche approval")) {
        return false;
    }
    json_t *tl = tranche_list(db, f->fund_id, 0, NULL, &err);
    for (size_t i = 0; tl != NULL && i < json_array_size(json_object_get(tl, "tranches")); i++) {
        const json_t *t = json_array_get(json_object_get(tl, "tranches"), i);
        int64_t id = json_integer_value(json_object_get(t, "id"));
        if (strcmp(json_string_value(json_object_get(t, "kind")), "first_loss") == 0) {
            f->t_first_loss = id;
        } else {
            f->t_mezzanine = id;
        }
    }
    json_decref(tl);
    struct money_args c1 = {f->t_first_loss, "3000000.00", "2026-01-20", "UNDP-TRF-001"};
    struct money_args c2 = {f->t_mezzanine, "2500000.00", "2026-01-25", "PARTNER-TRF-001"};
    struct money_args cancel = {f->t_mezzanine, "500000.00", "2026-02-01", "commitment reduced by the partner"};
    struct money_args expense = {0, "125000.50", "2026-02-15", "Auditoría externa"};
    json_t *o1 = run(db, f, contribute_fn, &c1, "contribution");
    json_t *o2 = run(db, f, contribute_fn, &c2, "contribution");
    json_t *o3 = run(db, f, cancel_fn, &cancel, "cancellation");
    int64_t ep = run_id(db, f, expense_fn, &expense, "expense", "id");
    bool ok = o1 && o2 && o3 && ep != 0 && approve(db, f, ep, "expense approval");
    json_decref(o1);
    json_decref(o2);
    json_decref(o3);
    if (!ok) {
        return false;
    }
    struct pipeline_entrepreneur_input coop = {.kind = "cooperative",
                                               .name = "Cooperativa Cacaotera El Charco",
                                               .tax_id = "900123456",
                                               .municipality_code = "52250",
                                               .value_chain = "cacao",
                                               .women_led = true,
                                               .members = 40};
    struct pipeline_entrepreneur_input assoc = {.kind = "association",
                                                .name = "Asociación de Fríjol de Dabeiba",
                                                .tax_id = "900765432",
                                                .municipality_code = "05234",
                                                .value_chain = "beans",
                                                .members = 25};
    static const char *const person_mun[IATI_FIXTURE_PERSONS] = {"52250", "52835", "05361"};
    static const char *const person_vc[IATI_FIXTURE_PERSONS] = {"cacao", "banana", "coffee"};
    static const char *const person_id[IATI_FIXTURE_PERSONS] = {"1087654321", "1087123456", "43123456"};
    f->coop = entrepreneur(db, f, &coop);
    f->assoc = entrepreneur(db, f, &assoc);
    for (int i = 0; i < IATI_FIXTURE_PERSONS; i++) {
        struct pipeline_entrepreneur_input p = {.kind = "person",
                                                .name = iati_fixture_person_names[i],
                                                .tax_id = person_id[i],
                                                .municipality_code = person_mun[i],
                                                .value_chain = person_vc[i],
                                                .women_led = i != 1,
                                                .members = 1};
        f->persons[i] = entrepreneur(db, f, &p);
        if (f->persons[i] == 0) {
            return false;
        }
    }
    if (f->coop == 0 || f->assoc == 0) {
        return false;
    }
    f->loan_coop = loan(db, f, f->coop, "1100000.00", "annuity");
    f->loan_assoc = loan(db, f, f->assoc, "800000.00", "equal_principal");
    static const char *const person_amount[IATI_FIXTURE_PERSONS] = {"50000.00", "70000.00", "40000.00"};
    for (int i = 0; i < IATI_FIXTURE_PERSONS; i++) {
        f->loan_persons[i] = loan(db, f, f->persons[i], person_amount[i], "annuity");
        if (f->loan_persons[i] == 0) {
            return false;
        }
    }
    if (f->loan_coop == 0 || f->loan_assoc == 0) {
        return false;
    }
    if (!iati_fixture_repay(db, f, f->loan_coop, "104000.00", "2026-04-01", "COOP-001") ||
        !iati_fixture_repay(db, f, f->loan_coop, "104000.00", "2026-05-02", "COOP-002") ||
        !iati_fixture_repay(db, f, f->loan_persons[0], "4700.00", "2026-04-03", "P0-001") ||
        !iati_fixture_repay(db, f, f->loan_persons[1], "6600.00", "2026-04-30", "P1-001")) {
        return false;
    }
    struct money_args wo = {f->loan_assoc, NULL, "2026-07-01", "unpayable after the flood"};
    int64_t wp = run_id(db, f, writeoff_fn, &wo, "write-off", "id");
    if (wp == 0 || !approve(db, f, wp, "write-off approval")) {
        return false;
    }
    struct money_args rec = {f->loan_assoc, "100000.00", "2026-08-01", "REC-001"};
    json_t *r = run(db, f, recovery_fn, &rec, "recovery");
    json_decref(r);
    if (r == NULL) {
        return false;
    }
    return measure(db, f, "economic", 0, "40.00", "2026-01-15") &&
           measure(db, f, "economic", 0, "45.50", "2026-01-16") &&
           measure(db, f, "economic", 1, "55.25", "2026-06-15") && measure(db, f, "food", 0, "30.00", "2026-01-15");
}

int64_t iati_fixture_person_loan(struct db *db, const struct iati_fixture *f, const char *name, const char *tax_id,
                                 const char *municipality_code, const char *value_chain, const char *principal)
{
    struct pipeline_entrepreneur_input p = {.kind = "person",
                                            .name = name,
                                            .tax_id = tax_id,
                                            .municipality_code = municipality_code,
                                            .value_chain = value_chain,
                                            .members = 1};
    int64_t person = entrepreneur(db, f, &p);
    return person == 0 ? 0 : loan(db, f, person, principal, "annuity");
}
