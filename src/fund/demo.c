/* demo: the demo fund "Human Security Partnership — El Charco": its people, tranches, pipeline
 * and about a year of history, made through the same domain functions a user's requests run
 * (proposals approved by a second person, repayments recorded, waterfall runs). Dates are
 * relative to today so the demo always looks current. */
#include "fundledger/demo.h"

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/distribution.h"
#include "fundledger/fund.h"
#include "fundledger/loan.h"
#include "fundledger/money.h"
#include "fundledger/navalloc.h"
#include "fundledger/org.h"
#include "fundledger/pipeline.h"
#include "fundledger/repayment.h"
#include "fundledger/session.h"
#include "fundledger/hash.h"
#include "fundledger/tranche.h"

bool demo_database_empty(struct db *db, struct fl_error *err)
{
    json_t *funds = fund_list(db, err);
    bool empty = funds != NULL && json_array_size(json_object_get(funds, "funds")) == 0;
    json_decref(funds);
    return empty;
}

static const struct {
    const char *name;
    enum role role;
    const char *limit; /* COP approval limit, approvers only */
} people[] = {
    {"admin", ROLE_ADMIN, NULL},
    {"manager", ROLE_FUND_MANAGER, NULL},
    {"approver", ROLE_APPROVER, "500000000.00"},
    {"committee", ROLE_APPROVER, "2000000000.00"},
    {"undp", ROLE_INVESTOR, NULL},
    {"partner", ROLE_INVESTOR, NULL},
    {"impact", ROLE_INVESTOR, NULL},
    {"transparency", ROLE_TRANSPARENCY_OFFICER, NULL},
    {"auditor", ROLE_AUDITOR, NULL},
};
#define PEOPLE (sizeof people / sizeof people[0])
enum { P_ADMIN, P_MANAGER, P_APPROVER, P_COMMITTEE, P_UNDP, P_PARTNER, P_IMPACT };

/* How a loan's borrower pays. */
enum behaviour { ON_TIME, LATE, ARREARS, WRITTEN_OFF, PREPAYS };

/* The pipeline: organisations (named) and two persons (never published by name). A loan
 * profile (principal 0 = no loan) takes the entrepreneur through committee to an active loan. */
static const struct entrepreneur {
    const char *kind, *name, *tax_id, *municipality, *chain;
    bool women, youth, victim;
    int members;
    const char *requested, *purpose;
    const char *stage; /* where an entrepreneur without a loan stands */
    const char *principal, *rate, *amortisation;
    int payments_per_year, term, grace, approved_days_ago;
    enum behaviour pays;
} pipeline[] = {
    {"cooperative", "Cooperativa Cafetera de Ituango", "900411223", "05361", "coffee", false, false, true, 86,
     "180000000.00", "Beneficiadero ecológico y secado de café", NULL, "180000000.00", "0.2400", "annuity", 12, 12,
     0, 330, ON_TIME},
    {"association", "Asociación de Mujeres Cacaoteras de El Charco", "900522334", "52250", "cacao", true, false,
     true, 54, "120000000.00", "Fermentación y secado de cacao", NULL, "120000000.00", "0.2200", "equal_principal", 4,
     8, 2, 300, ON_TIME},
    {"association", "Fríjoleros Unidos de Dabeiba", "900633445", "05234", "beans", false, false, true, 37,
     "60000000.00", "Semilla certificada y bodega", NULL, "60000000.00", "0.2600", "annuity", 12, 12, 0, 280, LATE},
    {"firm", "Madera Sintética del Pacífico S.A.S.", "901744556", "52835", "synthetic_wood", false, true, false, 18,
     "250000000.00", "Línea de extrusión de madera plástica", NULL, "250000000.00", "0.2000", "annuity", 12, 18, 0,
     260, ON_TIME},
    {"cooperative", "Cooperativa Multiactiva Cafetera de Bello", "900855667", "05088", "coffee", false, false, false,
     62, "90000000.00", "Renovación de cafetales", NULL, "90000000.00", "0.2400", "annuity", 12, 12, 0, 240, ARREARS},
    {"association", "Asociación de Mujeres del Cacao de Tumaco", "900966778", "52835", "cacao", true, false, true, 29,
     "80000000.00", "Vivero y renovación de cacao", NULL, "80000000.00", "0.2100", "annuity", 12, 12, 0, 220,
     WRITTEN_OFF},
    {"association", "Caficultores de Dabeiba", "901077889", "05234", "coffee", false, false, true, 41, "70000000.00",
     "Cosecha y acopio", NULL, "70000000.00", "0.2400", "bullet", 4, 4, 0, 200, ON_TIME},
    {"association", "Asociación Agroecológica de Ituango", "901188990", "05361", "beans", true, true, true, 33,
     "50000000.00", "Riego por goteo", NULL, "50000000.00", "0.2500", "annuity", 12, 12, 0, 180, PREPAYS},
    {"person", "Luz Dary Cuero Angulo", "1087654321", "52250", "beans", true, false, true, 1, "15000000.00",
     "Parcela de fríjol", NULL, "15000000.00", "0.3000", "annuity", 12, 10, 0, 170, ON_TIME},
    {"person", "José Albeiro Restrepo Durango", "70123456", "05088", "coffee", false, false, true, 1, "12000000.00",
     "Secador solar", NULL, "12000000.00", "0.3000", "annuity", 12, 10, 0, 150, LATE},
    {"firm", "Empresa Comunitaria Madera Sintética El Charco", "901299001", "52250", "synthetic_wood", false, true,
     true, 22, "150000000.00", "Planta de reciclaje y moldeo", NULL, "150000000.00", "0.2000", "annuity", 12, 12, 0,
     120, ON_TIME},
    {"cooperative", "Cooperativa de Cacao de Dabeiba", "901300112", "05234", "cacao", true, false, false, 45,
     "100000000.00", "Centro de acopio", NULL, "100000000.00", "0.2300", "annuity", 12, 12, 0, 60, ON_TIME},
    {"association", "Asociación de Bananeros de Tumaco", "901411223", "52835", "banana", false, false, true, 58,
     "95000000.00", "Empacadora", "committee", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"cooperative", "Cooperativa Cafetera del Alto Ituango", "901522334", "05361", "coffee", false, true, true, 71,
     "140000000.00", "Tostadora y marca propia", "due_diligence", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"association", "Jóvenes Recicladores de Bello", "901633445", "05088", "synthetic_wood", false, true, false, 15,
     "45000000.00", "Trituradora", "screening", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"association", "Red de Mujeres Fríjoleras de El Charco", "901744667", "52250", "beans", true, false, true, 26,
     "30000000.00", "Capital de trabajo", "sourced", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"firm", "Cacao Fino del Pacífico S.A.S.", "901855778", "52835", "cacao", false, false, false, 9, "200000000.00",
     "Exportación", "declined", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"cooperative", "Cooperativa Agraria de Dabeiba", "901966889", "05234", "beans", false, false, true, 48,
     "70000000.00", "Maquinaria", "withdrawn", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"association", "Asociación Cafetera de Bello", "902077990", "05088", "coffee", true, false, false, 31,
     "55000000.00", "Beneficio húmedo", "screening", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
    {"association", "Productores de Cacao de Ituango", "902188001", "05361", "cacao", false, false, true, 40,
     "85000000.00", "Secaderos", "sourced", NULL, NULL, NULL, 0, 0, 0, 0, ON_TIME},
};
#define PIPELINE (sizeof pipeline / sizeof pipeline[0])

/* The way from sourced to a target stage, in order. */
static const char *const ladder[] = {"screening", "due_diligence", "committee"};

struct load {
    const char *path;
    char tokens[PEOPLE][TOKEN_TEXT_BYTES];
    char passwords[PEOPLE][33];               /* console passwords (docs/console.md) */
    char totp[PEOPLE][TOTP_SECRET_BYTES * 2 + 1]; /* TOTP secrets (hex) of approvers and the admin */
    struct principal who[PEOPLE];
    int64_t fund_id;
    int64_t entrepreneur[PIPELINE];
    int64_t loan[PIPELINE];
    char today[11];
};

/* Date n days before today (UTC), as YYYY-MM-DD; n may be negative (the future). */
static void days_ago(int n, char out[DATE_TEXT_BYTES])
{
    time_t t = time(NULL) - (time_t)n * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, DATE_TEXT_BYTES, "%Y-%m-%d", &tm);
}

/* Days from a YYYY-MM-DD date to today (positive in the past). */
static int age_days(const char *date)
{
    struct tm tm = {0};
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8);
    time_t then = timegm(&tm);
    return (int)((time(NULL) - then) / 86400);
}

/* Approves a proposal as checker; when the amount is over checker's limit the proposal stays
 * pending and second (may be NULL) gives the second approval, as a committee would. */
static enum fl_err approve2(struct db *db, const struct principal *checker, const struct principal *second,
                            json_t *proposal, int64_t *id_out, struct fl_error *err);

static enum fl_err approve(struct db *db, const struct principal *checker, json_t *proposal, int64_t *id_out,
                           struct fl_error *err)
{
    return approve2(db, checker, NULL, proposal, id_out, err);
}

static enum fl_err approve2(struct db *db, const struct principal *checker, const struct principal *second,
                            json_t *proposal, int64_t *id_out, struct fl_error *err)
{
    if (proposal == NULL) {
        return err->code;
    }
    int64_t pid = json_integer_value(json_object_get(proposal, "id"));
    if (id_out) {
        *id_out = json_integer_value(json_object_get(proposal, "loan_id"));
    }
    json_decref(proposal);
    json_t *done = approval_decide(db, checker, pid, true, "demo", err);
    if (done != NULL && second != NULL && strcmp(json_string_value(json_object_get(done, "status")), "pending") == 0) {
        json_decref(done);
        done = approval_decide(db, second, pid, true, "committee: second approval", err);
    }
    if (done == NULL) {
        return err->code;
    }
    bool approved = strcmp(json_string_value(json_object_get(done, "status")), "approved") == 0;
    json_decref(done);
    return approved ? FLE_OK : fl_error_set(err, FLE_INTERNAL, NULL, "demo proposal %" PRId64 " not approved", pid);
}

/* A console password for demo person i (random, written to the credentials file) and, for the
 * roles that need it, a TOTP secret. The demo hashes with RFC 9106's second choice (t=3, 64 MiB). */
static enum fl_err demo_credentials(struct db *db, struct load *l, size_t i, int64_t uid, struct fl_error *err)
{
    static const struct password_params pp = {.t_cost = 3, .m_cost_kib = 65536, .parallelism = 1};
    uint8_t raw[16];
    if (!hash_random(raw, sizeof raw)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "no random bytes");
    }
    hash_hex(raw, sizeof raw, l->passwords[i]);
    enum fl_err e = session_password_put(db, &pp, uid, l->passwords[i], err);
    l->totp[i][0] = '\0';
    if (e == FLE_OK && session_role_needs_totp(people[i].role)) {
        char uri[TOTP_URI_BYTES];
        uint8_t secret[TOTP_SECRET_BYTES];
        e = session_totp_enroll(db, uid, people[i].name, uri, secret, err);
        if (e == FLE_OK) {
            hash_hex(secret, sizeof secret, l->totp[i]);
        }
    }
    return e;
}

static enum fl_err people_and_orgs(struct db *db, struct load *l, int64_t investors[3], struct fl_error *err)
{
    static const struct {
        const char *name, *ref, *type;
    } orgs[] = {{"United Nations Development Programme", "XM-DAC-41114", "40"},
                {"Socio corporativo (filial del sector energético)", "CO-RUE-900000001", "70"},
                {"Fondo de Inversión de Impacto Andino", "CO-RUE-900000002", "70"}};
    for (int i = 0; i < 3; i++) {
        json_t *o = org_create(db, NULL, orgs[i].name, "investor", orgs[i].ref, orgs[i].type, err);
        if (o == NULL) {
            return err->code;
        }
        investors[i] = json_integer_value(json_object_get(o, "id"));
        json_decref(o);
    }
    json_t *m = org_create(db, NULL, "Human Security Partnership — administradora del fondo", "fund_manager",
                           "CO-RUE-9001234567", "22", err);
    if (m == NULL) {
        return err->code;
    }
    json_decref(m);
    for (size_t i = 0; i < PEOPLE; i++) {
        int64_t uid = 0, org = people[i].role == ROLE_INVESTOR ? investors[i - P_UNDP] : 0;
        enum fl_err e = auth_user_add(db, people[i].name, people[i].role, org, &uid, err);
        if (e == FLE_OK) {
            /* Demo tokens expire like any other (the default token_lifetime_days, 90); renew them
             * with `fundledger token renew ID`. */
            e = auth_token_create(db, uid, "demo", 90, l->tokens[i], NULL, err);
        }
        if (e == FLE_OK) {
            e = demo_credentials(db, l, i, uid, err);
        }
        if (e == FLE_OK && people[i].limit) {
            int64_t limit = 0;
            money_status st = money_parse(people[i].limit, 2, false, &limit);
            assert(st == MONEY_OK);
            (void)st;
            e = auth_limit_set(db, uid, "COP", limit, err);
        }
        if (e != FLE_OK) {
            return e;
        }
        l->who[i] = (struct principal){.user_id = uid, .role = people[i].role, .organisation_id = org};
        snprintf(l->who[i].name, sizeof l->who[i].name, "%s", people[i].name);
    }
    return FLE_OK;
}

/* Three tranches (approved by the committee) and their first contributions. */
static enum fl_err capital(struct db *db, struct load *l, const int64_t investors[3], struct fl_error *err)
{
    static const struct {
        const char *name, *kind, *commitment, *rate, *paid, *activity;
        int rank, days_ago;
        const char *eligibility;
    } stack[] = {
        {"UNDP first loss", "first_loss", "1000000000.00", "0.0000", "1000000000.00", "XM-DAC-41114-COL-00123456", 3,
         365, NULL},
        {"Corporate partner concessional", "mezzanine", "1500000000.00", "0.0400", "800000000.00",
         "CO-RUE-900000001-HSP-2025", 2, 355, NULL},
        {"Impact investor senior", "senior", "2500000000.00", "0.0900", "1200000000.00", "CO-RUE-900000002-ANDES-7",
         1, 345, "{\"value_chains\": [\"coffee\", \"cacao\", \"beans\", \"banana\"]}"},
    };
    char signed_on[DATE_TEXT_BYTES], paid_on[DATE_TEXT_BYTES];
    for (int i = 0; i < 3; i++) {
        days_ago(stack[i].days_ago, signed_on);
        json_error_t je;
        json_t *elig = stack[i].eligibility ? json_loads(stack[i].eligibility, 0, &je) : NULL;
        struct tranche_terms t = {investors[i],   stack[i].name, stack[i].kind, stack[i].rank, "COP",
                                  stack[i].commitment, stack[i].rate, NULL, elig, signed_on, stack[i].activity};
        /* Every tranche is over the approver's 500,000,000.00: the approver approves first and
         * the committee member second, within their combined limits. */
        enum fl_err e = approve2(db, &l->who[P_APPROVER], &l->who[P_COMMITTEE],
                                 tranche_propose(db, &l->who[P_MANAGER], l->fund_id, &t, err), NULL, err);
        json_decref(elig);
        if (e != FLE_OK) {
            return e;
        }
    }
    json_t *list = tranche_list(db, l->fund_id, 0, NULL, err);
    if (list == NULL) {
        return err->code;
    }
    enum fl_err e = FLE_OK;
    for (int i = 0; i < 3 && e == FLE_OK; i++) {
        /* tranche_list is most senior first: find each by name. */
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(list, "tranches"), k, t)
        {
            if (strcmp(json_string_value(json_object_get(t, "name")), stack[i].name) != 0) {
                continue;
            }
            days_ago(stack[i].days_ago - 7, paid_on);
            char ref[32];
            snprintf(ref, sizeof ref, "DEMO-CONTRIB-%d", i + 1);
            json_t *c = tranche_contribute(db, &l->who[P_MANAGER], json_integer_value(json_object_get(t, "id")),
                                           stack[i].paid, paid_on, ref, 0, err);
            e = c ? FLE_OK : err->code;
            json_decref(c);
        }
    }
    json_decref(list);
    return e;
}

static enum fl_err entrepreneurs(struct db *db, struct load *l, struct fl_error *err)
{
    const struct principal *manager = &l->who[P_MANAGER];
    for (size_t i = 0; i < PIPELINE; i++) {
        const struct entrepreneur *p = &pipeline[i];
        struct pipeline_entrepreneur_input in = {p->kind,  p->name,  p->tax_id,  p->municipality, p->chain, p->women,
                                                 p->youth, p->victim, p->members, p->requested,   p->purpose};
        json_t *e = pipeline_entrepreneur_create(db, manager, l->fund_id, &in, err);
        if (e == NULL) {
            return err->code;
        }
        l->entrepreneur[i] = json_integer_value(json_object_get(e, "id"));
        json_decref(e);
        const char *target = p->principal ? "committee" : p->stage;
        if (strcmp(target, "declined") == 0 || strcmp(target, "withdrawn") == 0) {
            json_t *m = pipeline_move(db, manager, l->entrepreneur[i], "screening", "", err);
            json_decref(m);
            m = m ? pipeline_move(db, manager, l->entrepreneur[i], target,
                                  target[0] == 'd' ? "no cash flow to repay at this size" : "found other funding",
                                  err)
                  : NULL;
            if (m == NULL) {
                return err->code;
            }
            json_decref(m);
            continue;
        }
        for (size_t k = 0; k < sizeof ladder / sizeof ladder[0] && strcmp(target, "sourced") != 0; k++) {
            json_t *m = pipeline_move(db, manager, l->entrepreneur[i], ladder[k], "", err);
            if (m == NULL) {
                return err->code;
            }
            json_decref(m);
            if (strcmp(ladder[k], target) == 0) {
                break;
            }
        }
    }
    return FLE_OK;
}

/* Approves and disburses each loan on its dates (approval, conditions, drawdown a week later). */
static enum fl_err loans(struct db *db, struct load *l, struct fl_error *err)
{
    const struct principal *manager = &l->who[P_MANAGER], *approver = &l->who[P_APPROVER];
    for (size_t i = 0; i < PIPELINE; i++) {
        const struct entrepreneur *p = &pipeline[i];
        if (p->principal == NULL) {
            continue;
        }
        char approved_on[DATE_TEXT_BYTES], first_due[DATE_TEXT_BYTES], ticked[DATE_TEXT_BYTES], paid_out[DATE_TEXT_BYTES];
        days_ago(p->approved_days_ago, approved_on);
        days_ago(p->approved_days_ago - 365 / p->payments_per_year - 7, first_due);
        days_ago(p->approved_days_ago - 3, ticked);
        days_ago(p->approved_days_ago - 7, paid_out);
        struct loan_terms t = {.entrepreneur_id = l->entrepreneur[i],
                               .principal = p->principal,
                               .annual_rate = p->rate,
                               .payments_per_year = p->payments_per_year,
                               .term_count = p->term,
                               .first_due_date = first_due,
                               .grace_principal = p->grace,
                               .amortisation = p->amortisation,
                               .modality = "microcredito",
                               .purpose = p->purpose,
                               .approval_date = approved_on};
        enum fl_err e = approve(db, approver, loan_propose(db, manager, l->fund_id, &t, err), &l->loan[i], err);
        static const char *const items[] = {"signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"};
        for (size_t k = 0; k < 4 && e == FLE_OK; k++) {
            json_t *c = loan_condition_tick(db, manager, l->loan[i], items[k], ticked, "", err);
            e = c ? FLE_OK : err->code;
            json_decref(c);
        }
        if (e == FLE_OK) {
            e = approve(db, approver, disbursement_propose(db, manager, l->loan[i], p->principal, paid_out, err), NULL,
                        err);
        }
        if (e != FLE_OK) {
            return e;
        }
    }
    return FLE_OK;
}

/* One repayment event: a loan, a date and an amount (decimal text). */
struct payment {
    char date[DATE_TEXT_BYTES];
    size_t loan;
    char amount[MONEY_TEXT_MAX];
    int instalment;
};

static int by_date(const void *a, const void *b)
{
    const struct payment *x = a, *y = b;
    int c = strcmp(x->date, y->date);
    return c ? c : (x->loan > y->loan) - (x->loan < y->loan);
}

#define PAYMENTS_MAX 256

/* Schedules each borrower's payments by behaviour, then records them in date order, with
 * waterfall runs at each quarter end and the write-off and recovery on their dates. */
static enum fl_err history(struct db *db, struct load *l, struct fl_error *err)
{
    static struct payment pay[PAYMENTS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < PIPELINE; i++) {
        const struct entrepreneur *p = &pipeline[i];
        if (p->principal == NULL) {
            continue;
        }
        json_t *loan = loan_get(db, l->loan[i], err);
        if (loan == NULL) {
            return err->code;
        }
        size_t k;
        json_t *row;
        json_array_foreach(json_object_get(loan, "schedule"), k, row)
        {
            const char *due = json_string_value(json_object_get(row, "due_date"));
            int late = p->pays == LATE ? 25 : 0;
            if (age_days(due) - late < 1 || n == PAYMENTS_MAX) {
                continue; /* not due yet (or not paid yet, for a late payer) */
            }
            if ((p->pays == ARREARS && k >= 3) || (p->pays == WRITTEN_OFF && k >= 2)) {
                continue; /* stopped paying */
            }
            struct payment *x = &pay[n++];
            days_ago(age_days(due) - late, x->date);
            x->loan = i;
            x->instalment = (int)k + 1;
            snprintf(x->amount, sizeof x->amount, "%s", json_string_value(json_object_get(row, "total")));
            if (p->pays == PREPAYS && k == 3) {
                /* With the fourth instalment, a harvest bonus pays 20,000,000.00 early. */
                int64_t total = 0;
                money_parse(x->amount, 2, false, &total);
                money_format(total + 2000000000, 2, x->amount, sizeof x->amount);
            }
        }
        json_decref(loan);
    }
    qsort(pay, n, sizeof pay[0], by_date);
    const struct principal *manager = &l->who[P_MANAGER];
    char last_run[DATE_TEXT_BYTES] = "", last_close[DATE_TEXT_BYTES] = "";
    for (size_t i = 0; i <= n; i++) {
        /* Month ends passed since the last payment get the fund accounting close (loss
         * allowance and NAV allocation), quarter ends then a waterfall run. */
        const char *upto = i < n ? pay[i].date : l->today;
        for (int q = 360; q > 0; q -= 1) {
            char d[DATE_TEXT_BYTES];
            days_ago(q, d);
            char next[DATE_TEXT_BYTES];
            days_ago(q - 1, next);
            bool month_end = strcmp(next + 8, "01") == 0;
            if (month_end && strcmp(d, upto) < 0 && strcmp(d, last_close) > 0) {
                json_t *c = fund_close_steps(db, manager, l->fund_id, d, err);
                if (c == NULL) {
                    return err->code;
                }
                json_decref(c);
                snprintf(last_close, sizeof last_close, "%s", d);
            }
            bool quarter_end = (strcmp(d + 5, "03-31") == 0 || strcmp(d + 5, "06-30") == 0 ||
                                strcmp(d + 5, "09-30") == 0 || strcmp(d + 5, "12-31") == 0);
            if (quarter_end && strcmp(d, upto) < 0 && strcmp(d, last_run) > 0) {
                json_t *run = distribution_run(db, manager, l->fund_id, d, err);
                if (run == NULL) {
                    return err->code;
                }
                json_decref(run);
                snprintf(last_run, sizeof last_run, "%s", d);
            }
        }
        if (i == n) {
            break;
        }
        char ref[48];
        snprintf(ref, sizeof ref, "DEMO-BANK-%zu-%d", pay[i].loan + 1, pay[i].instalment);
        json_t *r = repayment_record(db, manager, l->loan[pay[i].loan], pay[i].amount, pay[i].date, ref, err);
        if (r == NULL) {
            return err->code;
        }
        json_decref(r);
    }
    /* The written-off loan: write-off (four eyes) 45 days ago, a partial recovery 15 days ago. */
    for (size_t i = 0; i < PIPELINE; i++) {
        if (pipeline[i].principal == NULL || pipeline[i].pays != WRITTEN_OFF) {
            continue;
        }
        char on[DATE_TEXT_BYTES], back[DATE_TEXT_BYTES];
        days_ago(45, on);
        days_ago(15, back);
        enum fl_err e = approve(db, &l->who[P_APPROVER],
                                writeoff_propose(db, manager, l->loan[i], NULL, on,
                                                 "flooding destroyed the nursery; no repayment capacity", err),
                                NULL, err);
        if (e != FLE_OK) {
            return e;
        }
        json_t *r = recovery_record(db, manager, l->loan[i], "12500000.00", back, "DEMO-RECOVERY-1", err);
        if (r == NULL) {
            return err->code;
        }
        json_decref(r);
    }
    return FLE_OK;
}

static enum fl_err load_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct load *l = arg;
    days_ago(0, l->today);
    int64_t investors[3];
    enum fl_err e = people_and_orgs(db, l, investors, err);
    if (e != FLE_OK) {
        return e;
    }
    json_t *fund = fund_create(db, &l->who[P_MANAGER], "HSP-ELCHARCO", "Human Security Partnership — El Charco", "COP",
                               err);
    if (fund == NULL) {
        return err->code;
    }
    l->fund_id = json_integer_value(json_object_get(fund, "id"));
    json_decref(fund);
    if ((e = capital(db, l, investors, err)) != FLE_OK || (e = entrepreneurs(db, l, err)) != FLE_OK ||
        (e = loans(db, l, err)) != FLE_OK) {
        return e;
    }
    return history(db, l, err);
}

/* {"tokens": {user: token}, "roles": {user: role}}: one token per demo user (two approvers, so
 * that four eyes can be tried with the demo alone, and three investors). */
static bool write_credentials(const struct load *l)
{
    json_t *tokens = json_object(), *roles = json_object(), *passwords = json_object(), *totp = json_object();
    for (size_t i = 0; i < PEOPLE; i++) {
        json_object_set_new(tokens, people[i].name, json_string(l->tokens[i]));
        json_object_set_new(passwords, people[i].name, json_string(l->passwords[i]));
        if (l->totp[i][0] != '\0') {
            json_object_set_new(totp, people[i].name, json_string(l->totp[i]));
        }
        json_object_set_new(roles, people[i].name, json_string(auth_role_name(people[i].role)));
    }
    json_t *doc = json_pack("{s:s, s:o, s:o, s:o, s:o}", "note",
                            "demo tokens, console passwords and TOTP secrets (hex, HMAC-SHA1, 6 digits, 30 s); "
                            "keep this file private",
                            "tokens", tokens, "roles", roles, "passwords", passwords, "totp_secrets_hex", totp);
    int fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = f != NULL && json_dumpf(doc, f, JSON_INDENT(2)) == 0;
    json_decref(doc);
    if (f != NULL) {
        ok = fclose(f) == 0 && ok;
    } else if (fd >= 0) {
        close(fd);
    }
    return ok;
}

enum fl_err demo_load(struct db *db, const char *credentials_path, struct fl_error *err)
{
    static struct load l;
    memset(&l, 0, sizeof l);
    l.path = credentials_path;
    enum fl_err e = db_tx(db, load_tx, &l, err);
    if (e != FLE_OK) {
        return e;
    }
    if (!write_credentials(&l)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot write %s", credentials_path);
    }
    return FLE_OK;
}
