/* test_pipeline: entrepreneurs against a real PostgreSQL: every field error, organisations and IATI
 * references (never for a person), every allowed stage move and every refused one, the history,
 * the database's own defence of the machine, racing moves, filters and paging, the funnel's exact
 * amounts, human-security measures and their four-eyes approval, and personal data kept out of the
 * audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/auth.h"
#include "fundledger/fund.h"
#include "fundledger/pipeline.h"
#include "testdb.h"

#define RACERS 8
#define SQL_BYTES 1024

static const char *ci;
static struct db *db;
static struct principal manager, manager2, approver;
static int64_t fund_id;

/* Every stage, and the allowed moves as docs/domain.md §2 states them (independent of the code). */
static const char *const all_stages[] = {"sourced", "screening", "due_diligence", "committee", "approved",
                                         "active",  "repaid",    "declined",      "withdrawn", "written_off"};
#define N_STAGES (sizeof all_stages / sizeof all_stages[0])
static const struct {
    const char *from, *allowed; /* allowed: the exact list the 409 message names, "" when final */
} machine[] = {
    {"sourced", "screening, declined, withdrawn"},
    {"screening", "due_diligence, declined, withdrawn"},
    {"due_diligence", "committee, declined, withdrawn"},
    {"committee", "approved, due_diligence, declined, withdrawn"},
    {"approved", "active, withdrawn"},
    {"active", "repaid, written_off"},
    {"repaid", ""},
    {"declined", ""},
    {"withdrawn", ""},
    {"written_off", ""},
};

static const char *allowed_from(const char *from)
{
    for (size_t i = 0; i < sizeof machine / sizeof machine[0]; i++) {
        if (strcmp(machine[i].from, from) == 0) {
            return machine[i].allowed;
        }
    }
    fail_msg("no stage %s", from);
    return NULL;
}

/* Is `to` in the comma-separated list? */
static bool listed(const char *list, const char *to)
{
    size_t n = strlen(to);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, to, n) == 0) {
            return true;
        }
        p = end ? end + 2 : NULL;
    }
    return false;
}

static bool needs_reason(const char *from, const char *to)
{
    return strcmp(to, "declined") == 0 || strcmp(to, "withdrawn") == 0 || strcmp(to, "written_off") == 0 ||
           (strcmp(from, "committee") == 0 && strcmp(to, "due_diligence") == 0);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static struct principal make_user(const char *name, enum role role)
{
    struct principal p = {.role = role};
    struct fl_error err;
    assert_int_equal(auth_user_add(db, name, role, 0, &p.user_id, &err), FLE_OK);
    snprintf(p.name, sizeof p.name, "%s", name);
    return p;
}

struct fund_args {
    const char *code, *currency;
    int64_t id;
};

static enum fl_err fund_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct fund_args *a = arg;
    json_t *f = fund_create(d, &manager, a->code, "Pipeline test fund", a->currency, err);
    if (f == NULL) {
        return err->code;
    }
    a->id = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    return FLE_OK;
}

static int64_t make_fund(const char *code, const char *currency)
{
    struct fund_args a = {code, currency, 0};
    struct fl_error err;
    assert_int_equal(db_tx(db, fund_tx, &a, &err), FLE_OK);
    return a.id;
}

static int64_t scalar_i64(const char *sql)
{
    char *v = testdb_scalar(ci, sql);
    assert_non_null(v);
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

/* The text of a scalar query ("" for NULL / no row). Static storage until the next call. */
static const char *scalar_text(const char *sql)
{
    static char buf[512];
    char *v = testdb_scalar(ci, sql);
    snprintf(buf, sizeof buf, "%s", v ? v : "");
    free(v);
    return buf;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(null)";
}

static json_int_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* A valid cooperative in El Charco growing cacao; tests change what they need. */
static struct pipeline_entrepreneur_input coop(void)
{
    return (struct pipeline_entrepreneur_input){.kind = "cooperative",
                                                .name = "Cooperativa Cacaotera del Pacífico",
                                                .municipality_code = "52250",
                                                .value_chain = "cacao",
                                                .members = 42,
                                                .requested = "150000000.00",
                                                .purpose = "Working capital for the 2026 harvest"};
}

struct create_args {
    const struct principal *who;
    int64_t fund;
    const struct pipeline_entrepreneur_input *in;
    json_t *out;
};

static enum fl_err create_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct create_args *a = arg;
    json_decref(a->out);
    a->out = pipeline_entrepreneur_create(d, a->who, a->fund, a->in, err);
    return a->out ? FLE_OK : err->code;
}

/* Creates in fund f; returns the reply (caller decrefs). */
static json_t *create_in(int64_t f, const struct pipeline_entrepreneur_input *in)
{
    struct create_args a = {&manager, f, in, NULL};
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = db_tx(db, create_tx, &a, &err);
    if (e != FLE_OK) {
        print_message("create: %s %s: %s\n", fl_err_code(e), err.field, err.message);
    }
    assert_int_equal(e, FLE_OK);
    assert_non_null(a.out);
    return a.out;
}

static int64_t create_id(int64_t f, const struct pipeline_entrepreneur_input *in)
{
    json_t *o = create_in(f, in);
    int64_t id = jint(o, "id");
    json_decref(o);
    assert_true(id > 0);
    return id;
}

/* A create that must fail with code on field, writing nothing. */
static void create_fails(int64_t f, const struct pipeline_entrepreneur_input *in, enum fl_err code, const char *field)
{
    int64_t before = scalar_i64("SELECT count(*) FROM entrepreneur");
    int64_t orgs = scalar_i64("SELECT count(*) FROM organisation");
    struct create_args a = {&manager, f, in, NULL};
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = db_tx(db, create_tx, &a, &err);
    if (e != code || strcmp(err.field, field) != 0) {
        print_message("expected %s on %s, got %s on %s: %s\n", fl_err_code(code), field, fl_err_code(e), err.field,
                      err.message);
    }
    assert_int_equal(e, code);
    assert_string_equal(err.field, field);
    assert_true(err.message[0] != '\0');
    assert_null(a.out);
    assert_int_equal(scalar_i64("SELECT count(*) FROM entrepreneur"), before);
    assert_int_equal(scalar_i64("SELECT count(*) FROM organisation"), orgs);
}

struct move_args {
    const struct principal *who;
    int64_t id;
    const char *to, *reason;
    bool system;
    json_t *out;
};

static enum fl_err move_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct move_args *a = arg;
    json_decref(a->out);
    a->out = NULL;
    if (a->system) {
        return pipeline_move_system(d, a->who, a->id, a->to, a->reason, err);
    }
    a->out = pipeline_move(d, a->who, a->id, a->to, a->reason, err);
    return a->out ? FLE_OK : err->code;
}

/* Moves; returns the result code and fills *err. */
static enum fl_err try_move_as(struct db *d, const struct principal *who, int64_t id, const char *to,
                               const char *reason, bool system, struct fl_error *err)
{
    struct move_args a = {who, id, to, reason, system, NULL};
    fl_error_clear(err);
    enum fl_err e = db_tx(d, move_tx, &a, err);
    if (e == FLE_OK && !system) {
        assert_non_null(a.out);
        assert_string_equal(jstr(a.out, "stage"), to);
    }
    json_decref(a.out);
    return e;
}

static void move_ok(int64_t id, const char *to, const char *reason)
{
    struct fl_error err;
    enum fl_err e = try_move_as(db, &manager, id, to, reason, false, &err);
    if (e != FLE_OK) {
        print_message("move %" PRId64 " to %s: %s %s\n", id, to, fl_err_code(e), err.message);
    }
    assert_int_equal(e, FLE_OK);
}

static const char *stage_of(int64_t id)
{
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql, "SELECT stage FROM entrepreneur WHERE id = %" PRId64, id);
    return scalar_text(sql);
}

static int64_t history_count(int64_t id)
{
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM entrepreneur_stage WHERE entrepreneur_id = %" PRId64, id);
    return scalar_i64(sql);
}

/* Walks a fresh entrepreneur of fund f to stage along allowed moves. */
static int64_t at_stage_in(int64_t f, const char *stage)
{
    struct pipeline_entrepreneur_input in = coop();
    int64_t id = create_id(f, &in);
    static const char *const forward[] = {"screening", "due_diligence", "committee", "approved", "active", "repaid"};
    if (strcmp(stage, "declined") == 0 || strcmp(stage, "withdrawn") == 0) {
        move_ok(id, stage, "walked there by the test");
    } else if (strcmp(stage, "written_off") == 0) {
        for (size_t i = 0; i < 5; i++) {
            move_ok(id, forward[i], NULL);
        }
        move_ok(id, "written_off", "the harvest was lost");
    } else {
        for (size_t i = 0; i < sizeof forward / sizeof forward[0] && strcmp(stage_of(id), stage) != 0; i++) {
            move_ok(id, forward[i], NULL);
        }
    }
    assert_string_equal(stage_of(id), stage);
    return id;
}

static int64_t at_stage(const char *stage)
{
    return at_stage_in(fund_id, stage);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("pipeline");
    db = testdb_open(ci);
    manager = make_user("manager", ROLE_FUND_MANAGER);
    manager2 = make_user("manager2", ROLE_FUND_MANAGER);
    approver = make_user("approver", ROLE_APPROVER);
    fund_id = make_fund("PIPE", "COP");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

/* ---- the machine on its own ---------------------------------------------------------------- */

static void test_machine_table(void **state)
{
    (void)state;
    unsigned allowed = 0;
    for (size_t i = 0; i < N_STAGES; i++) {
        const char *from = all_stages[i];
        assert_true(pipeline_stage_valid(from));
        char buf[160];
        assert_string_equal(pipeline_moves_text(from, buf, sizeof buf), allowed_from(from));
        for (size_t j = 0; j < N_STAGES; j++) {
            const char *to = all_stages[j];
            bool ok = listed(allowed_from(from), to);
            assert_int_equal(pipeline_move_allowed(from, to), ok);
            assert_int_equal(pipeline_move_needs_reason(from, to), ok && needs_reason(from, to));
            allowed += ok;
        }
    }
    assert_int_equal(allowed, 17);
    assert_false(pipeline_stage_valid("funded"));
    assert_false(pipeline_stage_valid(NULL));
    assert_false(pipeline_move_allowed(NULL, "sourced"));
    /* A small buffer is cut, never overrun. */
    char small[12];
    pipeline_moves_text("committee", small, sizeof small);
    assert_string_equal(small, "approved");
}

/* ---- create ----------------------------------------------------------------------------------- */

static void test_create_cooperative_with_nit(void **state)
{
    (void)state;
    struct pipeline_entrepreneur_input in = coop();
    in.tax_id = "900123456-8";
    in.women_led = true;
    json_t *o = create_in(fund_id, &in);
    assert_string_equal(jstr(o, "kind"), "cooperative");
    assert_string_equal(jstr(o, "stage"), "sourced");
    assert_string_equal(jstr(o, "iati_ref"), "CO-RUE-900123456");
    assert_string_equal(jstr(o, "tax_id"), "900123456-8");
    assert_string_equal(jstr(o, "requested"), "150000000.00");
    assert_string_equal(jstr(o, "currency"), "COP");
    assert_string_equal(jstr(o, "municipality_name"), "El Charco");
    assert_string_equal(jstr(o, "department_code"), "52");
    assert_string_equal(jstr(o, "department_name"), "Nariño");
    assert_int_equal(jint(o, "members"), 42);
    assert_true(json_is_true(json_object_get(o, "women_led")));
    assert_true(json_is_false(json_object_get(o, "youth_led")));
    int64_t id = jint(o, "id");
    int64_t org = jint(o, "organisation_id");
    assert_true(org > 0);
    /* The first history row: from nothing to sourced, by the manager. */
    json_t *h = json_object_get(o, "history");
    assert_int_equal(json_array_size(h), 1);
    json_t *first = json_array_get(h, 0);
    assert_true(json_is_null(json_object_get(first, "from")));
    assert_string_equal(jstr(first, "to"), "sourced");
    assert_int_equal(jint(json_object_get(first, "user"), "id"), manager.user_id);
    assert_string_equal(jstr(json_object_get(first, "user"), "name"), "manager");
    assert_int_equal(json_array_size(json_object_get(o, "latest_measures")), 0);
    json_decref(o);

    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql,
             "SELECT kind || ' ' || iati_ref || ' ' || iati_type FROM organisation WHERE id = %" PRId64, org);
    assert_string_equal(scalar_text(sql), "entrepreneur CO-RUE-900123456 72");
    snprintf(sql, sizeof sql, "SELECT requested_minor FROM entrepreneur WHERE id = %" PRId64, id);
    assert_int_equal(scalar_i64(sql), 15000000000);

    /* The same NIT again (without its check digit): the same legal entity, the same organisation. */
    in.tax_id = "900123456";
    in.women_led = false;
    o = create_in(fund_id, &in);
    assert_int_equal(jint(o, "organisation_id"), org);
    assert_string_equal(jstr(o, "iati_ref"), "CO-RUE-900123456");
    json_decref(o);
    assert_int_equal(scalar_i64("SELECT count(*) FROM organisation WHERE iati_ref = 'CO-RUE-900123456'"), 1);

    /* An association without a NIT: an organisation, no IATI reference, type 22. */
    in = coop();
    in.kind = "association";
    in.name = "Asociación de Mujeres Cafeteras de Dabeiba";
    in.municipality_code = "05234";
    in.value_chain = "coffee";
    in.requested = NULL;
    o = create_in(fund_id, &in);
    assert_true(jint(o, "organisation_id") > 0);
    assert_true(json_is_null(json_object_get(o, "iati_ref")));
    assert_string_equal(jstr(o, "requested"), "0.00");
    snprintf(sql, sizeof sql,
             "SELECT coalesce(iati_ref, 'none') || ' ' || iati_type FROM organisation WHERE id = %" PRId64,
             (int64_t)jint(o, "organisation_id"));
    assert_string_equal(scalar_text(sql), "none 22");
    json_decref(o);
}

static void test_person_has_no_organisation_and_stays_out_of_the_audit(void **state)
{
    (void)state;
    int64_t orgs = scalar_i64("SELECT count(*) FROM organisation");
    struct pipeline_entrepreneur_input in = coop();
    in.kind = "person";
    in.name = "María Fernanda Quiñones";
    in.tax_id = "1087654321";
    in.members = 1;
    in.conflict_victim = true;
    json_t *o = create_in(fund_id, &in);
    assert_true(json_is_null(json_object_get(o, "organisation_id")));
    assert_true(json_is_null(json_object_get(o, "iati_ref")));
    /* Staff see the name and the cédula (the route is closed to investors). */
    assert_string_equal(jstr(o, "name"), "María Fernanda Quiñones");
    assert_string_equal(jstr(o, "tax_id"), "1087654321");
    int64_t id = jint(o, "id");
    json_decref(o);
    assert_int_equal(scalar_i64("SELECT count(*) FROM organisation"), orgs);
    assert_int_equal(scalar_i64("SELECT count(*) FROM organisation WHERE iati_ref LIKE '%1087654321%'"), 0);
    /* A person's NIT (cédula with its check digit) does not make an organisation either. */
    in.tax_id = "1087654321-3";
    in.name = "Jhon Jairo Cuero";
    o = create_in(fund_id, &in);
    assert_true(json_is_null(json_object_get(o, "organisation_id")));
    assert_true(json_is_null(json_object_get(o, "iati_ref")));
    json_decref(o);
    in.tax_id = "1087654321-5"; /* the check digit is 3 */
    create_fails(fund_id, &in, FLE_BAD_FIELD, "tax_id");
    assert_int_equal(scalar_i64("SELECT count(*) FROM organisation"), orgs);

    /* A move with a reason, then: neither the name, nor the cédula, nor the reason is in the audit log. */
    move_ok(id, "withdrawn", "María moved away after threats");
    assert_int_equal(scalar_i64("SELECT count(*) FROM audit_log WHERE detail::text LIKE '%Quiñones%' "
                                "OR detail::text LIKE '%María%' OR detail::text LIKE '%1087654321%' "
                                "OR object_id LIKE '%1087654321%'"),
                     0);
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action IN ('entrepreneur.create', 'entrepreneur.stage') "
             "AND object_id = '%" PRId64 "'",
             id);
    assert_int_equal(scalar_i64(sql), 2);
}

static void test_create_field_errors(void **state)
{
    (void)state;
    struct pipeline_entrepreneur_input in;
    char long_name[PIPELINE_NAME_BYTES_MAX + 2], long_purpose[PIPELINE_PURPOSE_BYTES_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    memset(long_purpose, 'p', sizeof long_purpose - 1);
    long_purpose[sizeof long_purpose - 1] = '\0';

    in = coop(), in.kind = NULL;
    create_fails(fund_id, &in, FLE_MISSING_FIELD, "kind");
    in = coop(), in.kind = "company";
    create_fails(fund_id, &in, FLE_BAD_FIELD, "kind");
    in = coop(), in.name = NULL;
    create_fails(fund_id, &in, FLE_MISSING_FIELD, "name");
    in = coop(), in.name = "";
    create_fails(fund_id, &in, FLE_BAD_FIELD, "name");
    in = coop(), in.name = long_name;
    create_fails(fund_id, &in, FLE_BAD_FIELD, "name");
    const char *const bad_tax[] = {"1234",
                                   "1234567890123456",
                                   "90012345a",
                                   "900123456-",
                                   "900123456-12",
                                   "900.123.456",
                                   "900123456-7" /* the check digit is 8 */,
                                   " 900123456",
                                   ""};
    for (size_t i = 0; i < sizeof bad_tax / sizeof bad_tax[0]; i++) {
        in = coop(), in.tax_id = bad_tax[i];
        create_fails(fund_id, &in, FLE_BAD_FIELD, "tax_id");
    }
    in = coop(), in.municipality_code = NULL;
    create_fails(fund_id, &in, FLE_MISSING_FIELD, "municipality_code");
    in = coop(), in.municipality_code = "5225";
    create_fails(fund_id, &in, FLE_BAD_FIELD, "municipality_code");
    in = coop(), in.municipality_code = "99999"; /* well formed, not in DIVIPOLA's table */
    create_fails(fund_id, &in, FLE_BAD_FIELD, "municipality_code");
    in = coop(), in.value_chain = NULL;
    create_fails(fund_id, &in, FLE_MISSING_FIELD, "value_chain");
    in = coop(), in.value_chain = "Cacao";
    create_fails(fund_id, &in, FLE_BAD_FIELD, "value_chain");
    in = coop(), in.value_chain = "avocado";
    create_fails(fund_id, &in, FLE_BAD_FIELD, "value_chain");
    const int64_t bad_members[] = {0, -1, PIPELINE_MEMBERS_MAX + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof bad_members / sizeof bad_members[0]; i++) {
        in = coop(), in.members = bad_members[i];
        create_fails(fund_id, &in, FLE_BAD_FIELD, "members");
    }
    const char *const bad_amounts[] = {"1.234", "-5.00", "abc", "", "1e6", "92233720368547758.08", "1,000.00",
                                       "10000000000000.01" /* one unit above MONEY_AMOUNT_MAX */};
    for (size_t i = 0; i < sizeof bad_amounts / sizeof bad_amounts[0]; i++) {
        in = coop(), in.requested = bad_amounts[i];
        create_fails(fund_id, &in, FLE_BAD_FIELD, "requested");
    }
    in = coop(), in.purpose = long_purpose;
    create_fails(fund_id, &in, FLE_BAD_FIELD, "purpose");
    in = coop();
    create_fails(999999, &in, FLE_NOT_FOUND, "fund_id");
    /* The bounds themselves are fine. */
    in = coop(), in.members = PIPELINE_MEMBERS_MAX, in.requested = "0", in.name = "x";
    json_decref(create_in(fund_id, &in));
    in = coop(), in.members = 1, in.purpose = "";
    json_decref(create_in(fund_id, &in));
    /* An IATI reference held by an organisation that is no entrepreneur. */
    assert_true(testdb_exec(ci, "INSERT INTO organisation (name, kind, iati_ref) VALUES ('Partner', 'partner', "
                                "'CO-RUE-800197268')"));
    in = coop(), in.tax_id = "800197268-4";
    create_fails(fund_id, &in, FLE_DUPLICATE, "tax_id");
}

/* ---- the stage machine against the database --------------------------------------------------- */

static void test_every_allowed_move(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_STAGES; i++) {
        const char *from = all_stages[i];
        for (size_t j = 0; j < N_STAGES; j++) {
            const char *to = all_stages[j];
            if (!listed(allowed_from(from), to)) {
                continue;
            }
            int64_t id = at_stage(from);
            int64_t n = history_count(id);
            const char *reason = needs_reason(from, to) ? "a reason the test gives" : NULL;
            struct fl_error err;
            enum fl_err e = try_move_as(db, &manager2, id, to, reason, false, &err);
            if (e != FLE_OK) {
                print_message("%s -> %s: %s\n", from, to, err.message);
            }
            assert_int_equal(e, FLE_OK);
            assert_string_equal(stage_of(id), to);
            assert_int_equal(history_count(id), n + 1);
            /* The last history row says who, from where to where, why. */
            char sql[SQL_BYTES];
            snprintf(sql, sizeof sql,
                     "SELECT s.from_stage || '>' || s.to_stage || '>' || u.name || '>' || s.reason || '>' || "
                     "(s.at = e.stage_changed_at) FROM entrepreneur_stage s JOIN app_user u ON u.id = s.user_id "
                     "JOIN entrepreneur e ON e.id = s.entrepreneur_id WHERE s.entrepreneur_id = %" PRId64
                     " ORDER BY s.id DESC LIMIT 1",
                     id);
            char want[256];
            snprintf(want, sizeof want, "%s>%s>manager2>%s>true", from, to, reason ? reason : "");
            assert_string_equal(scalar_text(sql), want);
        }
    }
}

static void test_every_refused_move(void **state)
{
    (void)state;
    unsigned refused = 0;
    for (size_t i = 0; i < N_STAGES; i++) {
        const char *from = all_stages[i];
        int64_t id = at_stage(from);
        int64_t n = history_count(id);
        int64_t audits = scalar_i64("SELECT count(*) FROM audit_log");
        for (size_t j = 0; j < N_STAGES; j++) {
            const char *to = all_stages[j];
            if (listed(allowed_from(from), to)) {
                continue;
            }
            struct fl_error err;
            /* With a reason, so only the machine can refuse. */
            assert_int_equal(try_move_as(db, &manager, id, to, "because", false, &err), FLE_CONFLICT);
            assert_int_equal(fl_err_status(err.code), 409);
            assert_string_equal(err.field, "to");
            char want[256];
            if (allowed_from(from)[0] == '\0') {
                snprintf(want, sizeof want, "%s is a final stage: no move is allowed from it", from);
            } else {
                snprintf(want, sizeof want, "from %s the allowed moves are: %s", from, allowed_from(from));
            }
            assert_string_equal(err.message, want);
            refused++;
        }
        assert_string_equal(stage_of(id), from);
        assert_int_equal(history_count(id), n);
        assert_int_equal(scalar_i64("SELECT count(*) FROM audit_log"), audits);
    }
    assert_int_equal(refused, N_STAGES * N_STAGES - 17);
}

static void test_move_errors(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t id = at_stage("committee");
    /* A reason is required to go back, decline, withdraw (and write off: below). */
    const char *const need[] = {"due_diligence", "declined", "withdrawn"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        assert_int_equal(try_move_as(db, &manager, id, need[i], NULL, false, &err), FLE_MISSING_FIELD);
        assert_string_equal(err.field, "reason");
        assert_int_equal(try_move_as(db, &manager, id, need[i], "", false, &err), FLE_MISSING_FIELD);
        assert_string_equal(err.field, "reason");
    }
    assert_string_equal(stage_of(id), "committee");
    int64_t active = at_stage("active");
    assert_int_equal(try_move_as(db, &manager, active, "written_off", NULL, false, &err), FLE_MISSING_FIELD);
    assert_string_equal(err.field, "reason");
    /* Not a stage; no stage; too long a reason; no such entrepreneur. */
    assert_int_equal(try_move_as(db, &manager, id, "funded", NULL, false, &err), FLE_BAD_FIELD);
    assert_string_equal(err.field, "to");
    assert_int_equal(try_move_as(db, &manager, id, NULL, NULL, false, &err), FLE_MISSING_FIELD);
    assert_string_equal(err.field, "to");
    char long_reason[REASON_BYTES_MAX + 2];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    assert_int_equal(try_move_as(db, &manager, id, "declined", long_reason, false, &err), FLE_BAD_FIELD);
    assert_string_equal(err.field, "reason");
    assert_int_equal(try_move_as(db, &manager, 999999, "screening", NULL, false, &err), FLE_NOT_FOUND);
    assert_string_equal(err.field, "entrepreneur_id");
    /* Sent back, then forward again: both in the history. */
    move_ok(id, "due_diligence", "the cash-flow projection is missing");
    move_ok(id, "committee", NULL);
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(coalesce(from_stage, '-') || '>' || to_stage, ',' ORDER BY id) FROM entrepreneur_stage "
             "WHERE entrepreneur_id = %" PRId64,
             id);
    assert_string_equal(scalar_text(sql), "->sourced,sourced>screening,screening>due_diligence,"
                                          "due_diligence>committee,committee>due_diligence,due_diligence>committee");
}

static void test_move_system(void **state)
{
    (void)state;
    struct fl_error err;
    int64_t id = at_stage("committee");
    int64_t n = history_count(id);
    assert_int_equal(try_move_as(db, &approver, id, "approved", "loan 7 approved", true, &err), FLE_OK);
    assert_int_equal(try_move_as(db, &approver, id, "active", "loan 7 first drawdown", true, &err), FLE_OK);
    /* A second drawdown finds it active: nothing happens. */
    assert_int_equal(try_move_as(db, &approver, id, "active", "loan 7 second drawdown", true, &err), FLE_OK);
    assert_int_equal(history_count(id), n + 2);
    assert_string_equal(stage_of(id), "active");
    /* The rules still hold: no skipping, write-off needs a reason. */
    assert_int_equal(try_move_as(db, &approver, id, "approved", "x", true, &err), FLE_CONFLICT);
    assert_int_equal(try_move_as(db, &approver, id, "written_off", NULL, true, &err), FLE_MISSING_FIELD);
    assert_int_equal(try_move_as(db, &approver, id, "repaid", "loan 7 repaid", true, &err), FLE_OK);
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM entrepreneur_stage WHERE entrepreneur_id = %" PRId64 " AND user_id = %" PRId64, id,
             approver.user_id);
    assert_int_equal(scalar_i64(sql), 3);
}

/* Whatever C does, the database keeps the machine and the history. */
static void test_database_defends_the_machine(void **state)
{
    (void)state;
    int64_t id = at_stage("screening");
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql, "UPDATE entrepreneur SET stage = 'approved' WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql,
             "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id) VALUES (%" PRId64
             ", 'screening', 'approved', %" PRId64 ")",
             id, manager.user_id);
    assert_false(testdb_exec(ci, sql)); /* a skip */
    snprintf(sql, sizeof sql,
             "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id) VALUES (%" PRId64
             ", 'sourced', 'screening', %" PRId64 ")",
             id, manager.user_id);
    assert_false(testdb_exec(ci, sql)); /* not the current stage */
    snprintf(sql, sizeof sql,
             "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id) VALUES (%" PRId64
             ", 'screening', 'declined', %" PRId64 ")",
             id, manager.user_id);
    assert_false(testdb_exec(ci, sql)); /* no reason */
    snprintf(sql, sizeof sql,
             "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id) VALUES (%" PRId64
             ", NULL, 'screening', %" PRId64 ")",
             id, manager.user_id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "UPDATE entrepreneur_stage SET reason = 'x' WHERE entrepreneur_id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "DELETE FROM entrepreneur_stage WHERE entrepreneur_id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "DELETE FROM entrepreneur WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "UPDATE entrepreneur SET fund_id = fund_id + 1 WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    /* A move recorded by hand, correctly, moves the stage. */
    snprintf(sql, sizeof sql,
             "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id) VALUES (%" PRId64
             ", 'screening', 'due_diligence', %" PRId64 ")",
             id, manager.user_id);
    assert_true(testdb_exec(ci, sql));
    assert_string_equal(stage_of(id), "due_diligence");
    /* A new entrepreneur enters at sourced whatever the INSERT says. */
    snprintf(sql, sizeof sql,
             "INSERT INTO entrepreneur (fund_id, kind, name, municipality_code, value_chain, currency, stage, "
             "created_by) VALUES (%" PRId64 ", 'person', 'x', '52250', 'cacao', 'COP', 'active', %" PRId64
             ") RETURNING stage",
             fund_id, manager.user_id);
    assert_string_equal(scalar_text(sql), "sourced");
}

struct racer {
    pthread_barrier_t *start;
    int64_t id;
    enum fl_err result;
    char message[ERROR_MESSAGE_BYTES];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct db *d = testdb_open(ci);
    pthread_barrier_wait(r->start);
    struct fl_error err;
    struct move_args a = {&manager, r->id, "screening", NULL, false, NULL};
    fl_error_clear(&err);
    r->result = db_tx(d, move_tx, &a, &err);
    snprintf(r->message, sizeof r->message, "%s", err.message);
    json_decref(a.out);
    db_close(d);
    return NULL;
}

static void test_racing_moves_serialise(void **state)
{
    (void)state;
    struct pipeline_entrepreneur_input in = coop();
    int64_t id = create_id(fund_id, &in);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
    struct racer racers[RACERS];
    pthread_t threads[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (struct racer){.start = &start, .id = id};
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (racers[i].result == FLE_OK) {
            ok++;
        } else {
            assert_int_equal(racers[i].result, FLE_CONFLICT);
            assert_string_equal(racers[i].message,
                                "from screening the allowed moves are: due_diligence, declined, withdrawn");
            refused++;
        }
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, RACERS - 1);
    assert_int_equal(history_count(id), 2);
}

/* ---- reads ------------------------------------------------------------------------------------ */

static json_t *list(int64_t f, const struct pipeline_filter *flt, int64_t after, unsigned limit, enum fl_err expect)
{
    struct fl_error err;
    fl_error_clear(&err);
    json_t *o = pipeline_entrepreneurs_list(db, f, flt, after, limit, &err);
    assert_int_equal(o ? FLE_OK : err.code, expect);
    return o;
}

static size_t list_count(int64_t f, const struct pipeline_filter *flt)
{
    json_t *o = list(f, flt, 0, PAGE_SIZE_MAX, FLE_OK);
    size_t n = json_array_size(json_object_get(o, "entrepreneurs"));
    assert_true(json_is_null(json_object_get(o, "next_after")));
    json_decref(o);
    return n;
}

static void test_list_filters_and_paging(void **state)
{
    (void)state;
    int64_t f = make_fund("PIPE-LIST", "COP");
    /* Five entrepreneurs with distinct attributes. */
    struct pipeline_entrepreneur_input in[5];
    for (int i = 0; i < 5; i++) {
        in[i] = coop();
    }
    in[0].municipality_code = "05361", in[0].value_chain = "coffee", in[0].women_led = true;
    in[1].municipality_code = "05361", in[1].value_chain = "beans", in[1].youth_led = true;
    in[2].municipality_code = "52835", in[2].value_chain = "cacao", in[2].women_led = true,
    in[2].conflict_victim = true;
    in[3].kind = "person", in[3].name = "Luz Dary Angulo", in[3].municipality_code = "52250", in[3].women_led = true,
    in[3].youth_led = true;
    in[4].kind = "firm", in[4].municipality_code = "05088", in[4].value_chain = "synthetic_wood";
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = create_id(f, &in[i]);
    }
    move_ok(ids[0], "screening", NULL);
    move_ok(ids[2], "screening", NULL);
    move_ok(ids[4], "declined", "outside the programme's value chains");

    struct pipeline_filter none = {0};
    assert_int_equal(list_count(f, &none), 5);
    struct pipeline_filter flt = {.stage = "screening"};
    assert_int_equal(list_count(f, &flt), 2);
    flt = (struct pipeline_filter){.municipality_code = "05361"};
    assert_int_equal(list_count(f, &flt), 2);
    flt = (struct pipeline_filter){.value_chain = "cacao"};
    assert_int_equal(list_count(f, &flt), 2);
    bool yes = true, no = false;
    flt = (struct pipeline_filter){.women_led = &yes};
    assert_int_equal(list_count(f, &flt), 3);
    flt = (struct pipeline_filter){.women_led = &no};
    assert_int_equal(list_count(f, &flt), 2);
    flt = (struct pipeline_filter){.youth_led = &yes};
    assert_int_equal(list_count(f, &flt), 2);
    flt = (struct pipeline_filter){.conflict_victim = &yes};
    assert_int_equal(list_count(f, &flt), 1);
    /* Filters combine. */
    flt = (struct pipeline_filter){.women_led = &yes, .stage = "screening", .municipality_code = "52835"};
    json_t *o = list(f, &flt, 0, 10, FLE_OK);
    json_t *rows = json_object_get(o, "entrepreneurs");
    assert_int_equal(json_array_size(rows), 1);
    assert_int_equal(jint(json_array_get(rows, 0), "id"), ids[2]);
    json_decref(o);
    flt = (struct pipeline_filter){.women_led = &yes, .youth_led = &yes, .value_chain = "cacao"};
    o = list(f, &flt, 0, 10, FLE_OK);
    rows = json_object_get(o, "entrepreneurs");
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(jstr(json_array_get(rows, 0), "name"), "Luz Dary Angulo");
    json_decref(o);
    flt = (struct pipeline_filter){.stage = "repaid"};
    assert_int_equal(list_count(f, &flt), 0);
    /* Another fund's entrepreneurs never show. */
    assert_true(list_count(fund_id, &none) > 0);
    flt = (struct pipeline_filter){.municipality_code = "05088"};
    assert_int_equal(list_count(f, &flt), 1);

    /* Paging by two: 2 + 2 + 1, in id order, next_after the last id of each page. */
    int64_t after = 0;
    size_t seen = 0;
    for (int page = 0; page < 3; page++) {
        o = list(f, &none, after, 2, FLE_OK);
        rows = json_object_get(o, "entrepreneurs");
        for (size_t i = 0; i < json_array_size(rows); i++) {
            assert_int_equal(jint(json_array_get(rows, i), "id"), ids[seen++]);
        }
        json_t *next = json_object_get(o, "next_after");
        if (page < 2) {
            assert_int_equal(json_array_size(rows), 2);
            assert_int_equal(json_integer_value(next), ids[seen - 1]);
            after = json_integer_value(next);
        } else {
            assert_int_equal(json_array_size(rows), 1);
            assert_true(json_is_null(next));
        }
        json_decref(o);
    }
    assert_int_equal(seen, 5);

    /* Malformed filters name themselves; an unknown fund is 404. */
    struct fl_error err;
    flt = (struct pipeline_filter){.stage = "funded"};
    assert_null(pipeline_entrepreneurs_list(db, f, &flt, 0, 10, &err));
    assert_int_equal(err.code, FLE_BAD_PARAM);
    assert_string_equal(err.field, "stage");
    flt = (struct pipeline_filter){.municipality_code = "Tumaco"};
    assert_null(pipeline_entrepreneurs_list(db, f, &flt, 0, 10, &err));
    assert_string_equal(err.field, "municipality");
    flt = (struct pipeline_filter){.value_chain = "DROP TABLE"};
    assert_null(pipeline_entrepreneurs_list(db, f, &flt, 0, 10, &err));
    assert_string_equal(err.field, "value_chain");
    assert_null(pipeline_entrepreneurs_list(db, 999999, &none, 0, 10, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
}

static json_t *funnel(int64_t f)
{
    struct fl_error err;
    fl_error_clear(&err);
    json_t *o = pipeline_funnel(db, f, &err);
    if (o == NULL) {
        print_message("funnel: %s\n", err.message);
    }
    assert_non_null(o);
    return o;
}

static void expect_stage(json_t *fun, size_t i, const char *stage, json_int_t count, const char *requested)
{
    json_t *s = json_array_get(json_object_get(fun, "stages"), i);
    assert_string_equal(jstr(s, "stage"), stage);
    assert_int_equal(jint(s, "count"), count);
    assert_string_equal(jstr(s, "requested"), requested);
}

static void test_funnel_exact(void **state)
{
    (void)state;
    int64_t f = make_fund("PIPE-FUNNEL", "COP");
    json_t *o = funnel(f);
    assert_string_equal(jstr(o, "currency"), "COP");
    assert_int_equal(json_array_size(json_object_get(o, "stages")), N_STAGES);
    for (size_t i = 0; i < N_STAGES; i++) {
        expect_stage(o, i, all_stages[i], 0, "0.00");
    }
    assert_int_equal(jint(json_object_get(o, "total"), "count"), 0);
    assert_string_equal(jstr(json_object_get(o, "total"), "requested"), "0.00");
    json_decref(o);

    const char *const amounts[] = {"0.01", "0.99", "1234567.89", "150000000.00", "0"};
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        struct pipeline_entrepreneur_input in = coop();
        in.requested = amounts[i];
        ids[i] = create_id(f, &in);
    }
    move_ok(ids[2], "screening", NULL);
    move_ok(ids[3], "screening", NULL);
    move_ok(ids[3], "due_diligence", NULL);
    move_ok(ids[4], "withdrawn", "found another lender");
    o = funnel(f);
    expect_stage(o, 0, "sourced", 2, "1.00");
    expect_stage(o, 1, "screening", 1, "1234567.89");
    expect_stage(o, 2, "due_diligence", 1, "150000000.00");
    expect_stage(o, 3, "committee", 0, "0.00");
    expect_stage(o, 8, "withdrawn", 1, "0.00");
    expect_stage(o, 9, "written_off", 0, "0.00");
    assert_int_equal(jint(json_object_get(o, "total"), "count"), 5);
    assert_string_equal(jstr(json_object_get(o, "total"), "requested"), "151234568.89");
    json_decref(o);

    /* Sums stay exact at the largest amount there is (MONEY_AMOUNT_MAX, 10^15 minor units; the
     * int64 maximum itself is refused since migration 0010): two of them. */
    int64_t g = make_fund("PIPE-BIG", "COP");
    for (int i = 0; i < 2; i++) {
        struct pipeline_entrepreneur_input in = coop();
        in.requested = "10000000000000.00";
        create_id(g, &in);
    }
    o = funnel(g);
    expect_stage(o, 0, "sourced", 2, "20000000000000.00");
    assert_string_equal(jstr(json_object_get(o, "total"), "requested"), "20000000000000.00");
    json_decref(o);

    /* A currency without decimals formats without a point. */
    int64_t y = make_fund("PIPE-JPY", "JPY");
    struct pipeline_entrepreneur_input in = coop();
    in.requested = "5";
    create_id(y, &in);
    o = funnel(y);
    expect_stage(o, 0, "sourced", 1, "5");
    assert_string_equal(jstr(o, "currency"), "JPY");
    json_decref(o);
    in.requested = "5.5";
    create_fails(y, &in, FLE_BAD_FIELD, "requested");

    struct fl_error err;
    assert_null(pipeline_funnel(db, 999999, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
}

/* ---- human-security measures ----------------------------------------------------------------- */

static struct pipeline_measure_input measure(void)
{
    return (struct pipeline_measure_input){.municipality_code = "52250",
                                           .round = 0,
                                           .dimension = "food",
                                           .indicator = "Households with three meals a day (%)",
                                           .raw_value = "61.5",
                                           .score = "61.50",
                                           .method = "Household survey, n=120",
                                           .measured_on = "2025-06-30"};
}

struct measure_args {
    const struct principal *who;
    int64_t fund;
    const struct pipeline_measure_input *in;
    int64_t approve_id;
    json_t *out;
};

static enum fl_err measure_tx(struct db *d, void *arg, struct fl_error *err)
{
    struct measure_args *a = arg;
    json_decref(a->out);
    a->out = a->approve_id ? pipeline_measure_approve(d, a->who, a->approve_id, err)
                           : pipeline_measure_record(d, a->who, a->fund, a->in, err);
    return a->out ? FLE_OK : err->code;
}

static enum fl_err record(const struct pipeline_measure_input *in, json_t **out, struct fl_error *err)
{
    struct measure_args a = {&manager, fund_id, in, 0, NULL};
    fl_error_clear(err);
    enum fl_err e = db_tx(db, measure_tx, &a, err);
    if (out) {
        *out = a.out;
    } else {
        json_decref(a.out);
    }
    return e;
}

static enum fl_err approve(const struct principal *who, int64_t id, json_t **out, struct fl_error *err)
{
    struct measure_args a = {who, 0, NULL, id, NULL};
    fl_error_clear(err);
    enum fl_err e = db_tx(db, measure_tx, &a, err);
    if (out) {
        *out = a.out;
    } else {
        json_decref(a.out);
    }
    return e;
}

static void record_fails(const struct pipeline_measure_input *in, enum fl_err code, const char *field)
{
    int64_t before = scalar_i64("SELECT count(*) FROM hs_measure");
    struct fl_error err;
    enum fl_err e = record(in, NULL, &err);
    if (e != code || strcmp(err.field, field) != 0) {
        print_message("expected %s on %s, got %s on %s: %s\n", fl_err_code(code), field, fl_err_code(e), err.field,
                      err.message);
    }
    assert_int_equal(e, code);
    assert_string_equal(err.field, field);
    assert_int_equal(scalar_i64("SELECT count(*) FROM hs_measure"), before);
}

static void test_measures_record_and_field_errors(void **state)
{
    (void)state;
    struct pipeline_measure_input in = measure();
    json_t *o = NULL;
    struct fl_error err;
    assert_int_equal(record(&in, &o, &err), FLE_OK);
    assert_string_equal(jstr(o, "raw_value"), "61.5");
    assert_string_equal(jstr(o, "score"), "61.50");
    assert_string_equal(jstr(o, "dimension"), "food");
    assert_int_equal(jint(o, "round"), 0);
    assert_true(json_is_null(json_object_get(o, "entrepreneur_id")));
    assert_true(json_is_null(json_object_get(o, "approved_by")));
    assert_int_equal(jint(json_object_get(o, "recorded_by"), "id"), manager.user_id);
    assert_string_equal(jstr(o, "measured_on"), "2025-06-30");
    json_decref(o);
    /* Exact values, kept as given. */
    const char *const raws[][2] = {{"-12.500000", "-12.500000"},
                                   {"+7", "7"},
                                   {"0.000001", "0.000001"},
                                   {"99999999999999.999999", "99999999999999.999999"}};
    for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
        in = measure(), in.raw_value = raws[i][0];
        assert_int_equal(record(&in, &o, &err), FLE_OK);
        assert_string_equal(jstr(o, "raw_value"), raws[i][1]);
        json_decref(o);
    }
    const char *const scores[][2] = {
        {"0", "0.00"}, {"100", "100.00"}, {"100.00", "100.00"}, {"7.5", "7.50"}, {"099.99", "99.99"}};
    for (size_t i = 0; i < sizeof scores / sizeof scores[0]; i++) {
        in = measure(), in.score = scores[i][0];
        assert_int_equal(record(&in, &o, &err), FLE_OK);
        assert_string_equal(jstr(o, "score"), scores[i][1]);
        json_decref(o);
    }

    in = measure(), in.municipality_code = NULL;
    record_fails(&in, FLE_MISSING_FIELD, "municipality_code");
    in = measure(), in.municipality_code = "5225O";
    record_fails(&in, FLE_BAD_FIELD, "municipality_code");
    in = measure(), in.municipality_code = "99999";
    record_fails(&in, FLE_BAD_FIELD, "municipality_code");
    in = measure(), in.round = -1;
    record_fails(&in, FLE_BAD_FIELD, "round");
    in = measure(), in.round = PIPELINE_ROUND_MAX + 1;
    record_fails(&in, FLE_BAD_FIELD, "round");
    in = measure(), in.dimension = "spiritual";
    record_fails(&in, FLE_BAD_FIELD, "dimension");
    in = measure(), in.dimension = NULL;
    record_fails(&in, FLE_MISSING_FIELD, "dimension");
    in = measure(), in.indicator = "";
    record_fails(&in, FLE_BAD_FIELD, "indicator");
    const char *const bad_raw[] = {"",    "1.",  ".5",  "1e3",      "1.1234567", "123456789012345",
                                   "--1", "1,5", "NaN", "Infinity", " 1"};
    for (size_t i = 0; i < sizeof bad_raw / sizeof bad_raw[0]; i++) {
        in = measure(), in.raw_value = bad_raw[i];
        record_fails(&in, FLE_BAD_FIELD, "raw_value");
    }
    in = measure(), in.raw_value = NULL;
    record_fails(&in, FLE_MISSING_FIELD, "raw_value");
    const char *const bad_score[] = {"100.01", "101", "-1", "50.123", "1000", "+5", "", "5.", "abc"};
    for (size_t i = 0; i < sizeof bad_score / sizeof bad_score[0]; i++) {
        in = measure(), in.score = bad_score[i];
        record_fails(&in, FLE_BAD_FIELD, "score");
    }
    char long_method[PIPELINE_METHOD_BYTES_MAX + 2];
    memset(long_method, 'm', sizeof long_method - 1);
    long_method[sizeof long_method - 1] = '\0';
    in = measure(), in.method = long_method;
    record_fails(&in, FLE_BAD_FIELD, "method");
    in = measure(), in.measured_on = "2025-02-30";
    record_fails(&in, FLE_BAD_FIELD, "measured_on");
    in = measure(), in.measured_on = "9999-12-31";
    record_fails(&in, FLE_BAD_FIELD, "measured_on");
    in = measure(), in.entrepreneur_id = 999999;
    record_fails(&in, FLE_BAD_FIELD, "entrepreneur_id");
    /* An entrepreneur of another fund, and one in another municipality. */
    int64_t other_fund = make_fund("PIPE-OTHER", "COP");
    struct pipeline_entrepreneur_input ein = coop();
    in = measure(), in.entrepreneur_id = create_id(other_fund, &ein);
    record_fails(&in, FLE_BAD_FIELD, "entrepreneur_id");
    ein.municipality_code = "05234";
    in = measure(), in.entrepreneur_id = create_id(fund_id, &ein);
    record_fails(&in, FLE_BAD_FIELD, "municipality_code");
    in.municipality_code = "05234";
    assert_int_equal(record(&in, NULL, &err), FLE_OK);
    struct measure_args a = {&manager, 999999, &in, 0, NULL};
    assert_int_equal(db_tx(db, measure_tx, &a, &err), FLE_NOT_FOUND);
    assert_string_equal(err.field, "fund_id");
}

static void test_measures_four_eyes(void **state)
{
    (void)state;
    struct pipeline_measure_input in = measure();
    in.dimension = "personal";
    in.indicator = "Threats reported to the ombudsman";
    json_t *o = NULL;
    struct fl_error err;
    assert_int_equal(record(&in, &o, &err), FLE_OK);
    int64_t id = jint(o, "id");
    json_decref(o);
    /* Not by who recorded it. */
    assert_int_equal(approve(&manager, id, NULL, &err), FLE_SELF_APPROVAL);
    assert_string_equal(err.field, "measure_id");
    char sql[SQL_BYTES];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM hs_measure WHERE id = %" PRId64 " AND approved_by IS NULL", id);
    assert_int_equal(scalar_i64(sql), 1);
    /* The database refuses it too, and any other change. */
    snprintf(sql, sizeof sql,
             "UPDATE hs_measure SET approved_by = recorded_by, approved_at = now() WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "UPDATE hs_measure SET score = 99 WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql, "DELETE FROM hs_measure WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    /* A different person approves, once. */
    assert_int_equal(approve(&approver, id, &o, &err), FLE_OK);
    assert_int_equal(jint(json_object_get(o, "approved_by"), "id"), approver.user_id);
    assert_string_equal(jstr(json_object_get(o, "approved_by"), "name"), "approver");
    assert_true(json_is_string(json_object_get(o, "approved_at")));
    json_decref(o);
    assert_int_equal(approve(&manager2, id, NULL, &err), FLE_CONFLICT);
    assert_string_equal(err.field, "measure_id");
    assert_int_equal(approve(&approver, 999999, NULL, &err), FLE_NOT_FOUND);
    /* After approval the row is frozen too. */
    snprintf(sql, sizeof sql, "UPDATE hs_measure SET approved_by = NULL, approved_at = NULL WHERE id = %" PRId64, id);
    assert_false(testdb_exec(ci, sql));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'hs_measure.approve' AND object_id = '%" PRId64 "'", id);
    assert_int_equal(scalar_i64(sql), 1);
}

static size_t measures_count(int64_t f, const char *muni, int64_t round, const char *dim, bool public_only)
{
    struct fl_error err;
    fl_error_clear(&err);
    json_t *o = pipeline_measures_list(db, f, muni, round, dim, public_only, 0, PAGE_SIZE_MAX, &err);
    assert_non_null(o);
    size_t n = json_array_size(json_object_get(o, "measures"));
    json_decref(o);
    return n;
}

static void test_measures_list_and_latest(void **state)
{
    (void)state;
    int64_t f = make_fund("PIPE-HS", "COP");
    struct pipeline_entrepreneur_input ein = coop();
    ein.kind = "person";
    ein.name = "Ana Lucía Riascos";
    int64_t ent = create_id(f, &ein);
    struct measure_args a = {&manager, f, NULL, 0, NULL};
    struct fl_error err;
    /* Municipal baseline and follow-up for two dimensions in El Charco, one in Tumaco, and the
     * entrepreneur's own baseline and follow-up for one indicator. */
    struct pipeline_measure_input ms[7];
    for (int i = 0; i < 7; i++) {
        ms[i] = measure();
    }
    ms[1].round = 1, ms[1].score = "70.00", ms[1].measured_on = "2026-06-30";
    ms[2].dimension = "economic", ms[2].indicator = "Household income (COP/month)", ms[2].raw_value = "850000";
    ms[3].municipality_code = "52835";
    ms[4].entrepreneur_id = ent, ms[4].dimension = "economic", ms[4].indicator = "Monthly income",
    ms[4].raw_value = "400000", ms[4].score = "20";
    ms[5] = ms[4], ms[5].round = 1, ms[5].raw_value = "650000", ms[5].score = "35.5", ms[5].measured_on = "2026-06-30";
    ms[6] = ms[4], ms[6].dimension = "community", ms[6].indicator = "Members of a producers' group";
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        a.in = &ms[i];
        assert_int_equal(db_tx(db, measure_tx, &a, &err), FLE_OK);
        ids[i] = jint(a.out, "id");
    }
    json_decref(a.out);
    assert_int_equal(measures_count(f, NULL, -1, NULL, false), 7);
    assert_int_equal(measures_count(f, "52250", -1, NULL, false), 6);
    assert_int_equal(measures_count(f, "52835", -1, NULL, false), 1);
    assert_int_equal(measures_count(f, "52250", 0, NULL, false), 4);
    assert_int_equal(measures_count(f, "52250", 1, NULL, false), 2);
    assert_int_equal(measures_count(f, NULL, -1, "economic", false), 3);
    assert_int_equal(measures_count(f, "52250", 0, "food", false), 1);
    assert_int_equal(measures_count(f, NULL, 7, NULL, false), 0);
    assert_int_equal(measures_count(fund_id, "52835", -1, NULL, false), 0); /* another fund's */
    /* What may be published: approved and municipal only. */
    assert_int_equal(measures_count(f, NULL, -1, NULL, true), 0);
    assert_int_equal(approve(&approver, ids[0], NULL, &err), FLE_OK);
    assert_int_equal(approve(&approver, ids[4], NULL, &err), FLE_OK);
    assert_int_equal(measures_count(f, NULL, -1, NULL, true), 1);
    /* Paging. */
    json_t *o = pipeline_measures_list(db, f, NULL, -1, NULL, false, 0, 4, &err);
    assert_int_equal(json_array_size(json_object_get(o, "measures")), 4);
    assert_int_equal(jint(o, "next_after"), ids[3]);
    json_decref(o);
    o = pipeline_measures_list(db, f, NULL, -1, NULL, false, ids[3], 4, &err);
    assert_int_equal(json_array_size(json_object_get(o, "measures")), 3);
    assert_true(json_is_null(json_object_get(o, "next_after")));
    json_decref(o);
    assert_null(pipeline_measures_list(db, f, "x", -1, NULL, false, 0, 4, &err));
    assert_string_equal(err.field, "municipality");
    assert_null(pipeline_measures_list(db, f, NULL, -1, "spiritual", false, 0, 4, &err));
    assert_string_equal(err.field, "dimension");
    assert_null(pipeline_measures_list(db, 999999, NULL, -1, NULL, false, 0, 4, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);

    /* The entrepreneur shows its latest measure per indicator: round 1 for income, round 0 for the group. */
    fl_error_clear(&err);
    o = pipeline_entrepreneur_get(db, ent, &err);
    assert_non_null(o);
    json_t *latest = json_object_get(o, "latest_measures");
    assert_int_equal(json_array_size(latest), 2);
    json_t *m0 = json_array_get(latest, 0), *m1 = json_array_get(latest, 1);
    assert_string_equal(jstr(m0, "dimension"), "community");
    assert_int_equal(jint(m0, "round"), 0);
    assert_string_equal(jstr(m1, "dimension"), "economic");
    assert_int_equal(jint(m1, "round"), 1);
    assert_string_equal(jstr(m1, "raw_value"), "650000");
    assert_string_equal(jstr(m1, "score"), "35.50");
    assert_int_equal(jint(m1, "id"), ids[5]);
    json_decref(o);
    assert_null(pipeline_entrepreneur_get(db, 999999, &err));
    assert_int_equal(err.code, FLE_NOT_FOUND);
    assert_string_equal(err.field, "entrepreneur_id");
}

static void test_reference_lists(void **state)
{
    (void)state;
    struct fl_error err;
    json_t *m = pipeline_municipalities_list(db, &err);
    assert_non_null(m);
    json_t *list = json_object_get(m, "municipalities");
    assert_true(json_array_size(list) >= 7);
    bool charco = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (strcmp(jstr(e, "code"), "52250") == 0) {
            charco = strcmp(jstr(e, "name"), "El Charco") == 0 && strcmp(jstr(e, "department_name"), "Nariño") == 0;
        }
    }
    assert_true(charco);
    json_decref(m);
    json_t *v = pipeline_value_chains_list(db, &err);
    assert_non_null(v);
    assert_int_equal(json_array_size(json_object_get(v, "value_chains")), 5);
    /* In code order: banana, beans, cacao, coffee, synthetic_wood. */
    json_t *cacao = json_array_get(json_object_get(v, "value_chains"), 2);
    assert_string_equal(jstr(cacao, "code"), "cacao");
    assert_string_equal(jstr(cacao, "name_es"), "Cacao");
    assert_string_equal(jstr(cacao, "dac_sector"), "31162");
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_machine_table),
        cmocka_unit_test(test_create_cooperative_with_nit),
        cmocka_unit_test(test_person_has_no_organisation_and_stays_out_of_the_audit),
        cmocka_unit_test(test_create_field_errors),
        cmocka_unit_test(test_every_allowed_move),
        cmocka_unit_test(test_every_refused_move),
        cmocka_unit_test(test_move_errors),
        cmocka_unit_test(test_move_system),
        cmocka_unit_test(test_database_defends_the_machine),
        cmocka_unit_test(test_racing_moves_serialise),
        cmocka_unit_test(test_list_filters_and_paging),
        cmocka_unit_test(test_funnel_exact),
        cmocka_unit_test(test_measures_record_and_field_errors),
        cmocka_unit_test(test_measures_four_eyes),
        cmocka_unit_test(test_measures_list_and_latest),
        cmocka_unit_test(test_reference_lists),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
