/* pipeline: entrepreneurs, their stage machine and history, reference data, human-security
 * measures. A person's name and tax id are personal data: they go to the database and to staff
 * replies only, never to the audit log or to logs. */
#include "fundledger/pipeline.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/money.h"
#include "fundledger/org.h"

/* ---- the stage machine --------------------------------------------------------------------- */

/* Every stage, in machine order (the order of the funnel). */
static const char *const stages[] = {"sourced", "screening", "due_diligence", "committee", "approved",
                                     "active",  "repaid",    "declined",      "withdrawn", "written_off"};
#define STAGE_COUNT (sizeof stages / sizeof stages[0])

/* Every allowed move; back = a move backwards (needs a reason, like the exits). The order of the
 * rows is the order in which allowed moves are named in messages. */
static const struct {
    const char *from, *to;
    bool reason;
} moves[] = {
    {"sourced", "screening", false},       {"sourced", "declined", true},        {"sourced", "withdrawn", true},
    {"screening", "due_diligence", false}, {"screening", "declined", true},      {"screening", "withdrawn", true},
    {"due_diligence", "committee", false}, {"due_diligence", "declined", true},  {"due_diligence", "withdrawn", true},
    {"committee", "approved", false},      {"committee", "due_diligence", true}, {"committee", "declined", true},
    {"committee", "withdrawn", true},      {"approved", "active", false},        {"approved", "withdrawn", true},
    {"active", "repaid", false},           {"active", "written_off", true},
};
#define MOVE_COUNT (sizeof moves / sizeof moves[0])

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n && s != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool pipeline_stage_valid(const char *stage)
{
    return in_list(stage, stages, STAGE_COUNT);
}

static int move_index(const char *from, const char *to)
{
    for (size_t i = 0; i < MOVE_COUNT && from != NULL && to != NULL; i++) {
        if (strcmp(moves[i].from, from) == 0 && strcmp(moves[i].to, to) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool pipeline_move_allowed(const char *from, const char *to)
{
    return move_index(from, to) >= 0;
}

bool pipeline_move_needs_reason(const char *from, const char *to)
{
    int i = move_index(from, to);
    return i >= 0 && moves[i].reason;
}

const char *pipeline_moves_text(const char *from, char *buf, size_t cap)
{
    assert(buf != NULL && cap > 0);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < MOVE_COUNT && from != NULL; i++) {
        if (strcmp(moves[i].from, from) != 0) {
            continue;
        }
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", moves[i].to);
        if (n < 0 || (size_t)n >= cap - len) {
            buf[len] = '\0'; /* cut after the last move that fits whole */
            break;
        }
        len += (size_t)n;
    }
    return buf;
}

/* ---- field checks --------------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
    return strspn(s, "0123456789") == n;
}

static bool municipality_code_valid(const char *s)
{
    return s != NULL && strlen(s) == 5 && all_digits(s, 5);
}

/* Value chain codes: [a-z][a-z_]{0,31}, as the table's CHECK. */
static bool value_chain_code_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 32 && s[0] >= 'a' && s[0] <= 'z' && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/* The DIAN check digit of a NIT: weights 3, 7, 13, ... from the rightmost digit, mod 11. */
static int nit_check_digit(const char *digits, size_t n)
{
    static const int w[] = {3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71};
    assert(n <= sizeof w / sizeof w[0]);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (digits[n - 1 - i] - '0') * w[i];
    }
    int r = sum % 11;
    return r > 1 ? 11 - r : r;
}

/* A tax id: 5..15 digits, optionally '-' and the check digit, which must be right. *base_len gets
 * the number of digits before the check digit. */
static bool tax_id_valid(const char *s, size_t *base_len, const char **why)
{
    size_t n = strlen(s);
    size_t d = strspn(s, "0123456789");
    *why = "5 to 15 digits, optionally '-' and the check digit (900123456-8)";
    if (d < 5 || d > 15 || !(n == d || (n == d + 2 && s[d] == '-' && s[d + 1] >= '0' && s[d + 1] <= '9'))) {
        return false;
    }
    *base_len = d;
    if (n == d + 2 && nit_check_digit(s, d) != s[d + 1] - '0') {
        *why = "the check digit does not match the NIT";
        return false;
    }
    return true;
}

bool pipeline_dimension_valid(const char *dimension)
{
    static const char *const dims[] = {"economic", "food",      "health",   "environmental",
                                       "personal", "community", "political"};
    return in_list(dimension, dims, sizeof dims / sizeof dims[0]);
}

/* An exact decimal: optional sign, 1..int_max digits, optionally '.' and 1..frac_max digits. */
static bool decimal_valid(const char *s, bool sign, size_t int_max, size_t frac_max)
{
    if (sign && (s[0] == '-' || s[0] == '+')) {
        s++;
    }
    size_t i = strspn(s, "0123456789");
    if (i < 1 || i > int_max) {
        return false;
    }
    if (s[i] == '\0') {
        return true;
    }
    size_t f = strspn(s + i + 1, "0123456789");
    return s[i] == '.' && f >= 1 && f <= frac_max && s[i + 1 + f] == '\0';
}

/* A score: 0..100 with at most 2 decimals. */
static bool score_valid(const char *s)
{
    if (!decimal_valid(s, false, 3, 2)) {
        return false;
    }
    size_t i = strspn(s, "0123456789");
    /* Leading zeros are allowed ("050"): compare the value of the integer part. */
    int whole = 0;
    for (size_t k = 0; k < i; k++) {
        whole = whole * 10 + (s[k] - '0');
    }
    if (whole < 100) {
        return true;
    }
    if (whole > 100) {
        return false;
    }
    /* Exactly 100: only zero decimals. */
    return s[i] == '\0' || strspn(s + i + 1, "0") == strlen(s + i + 1);
}

/* Formats a non-negative integer given as decimal digits (a numeric sum, any size) with exp
 * decimals: "12345", 2 -> "123.45"; "5", 2 -> "0.05". false when it does not fit or is no number. */
static bool digits_format(const char *digits, int exp, char *buf, size_t cap)
{
    size_t n = strlen(digits);
    if (n == 0 || !all_digits(digits, n) || exp < 0 || exp > 4) {
        return false;
    }
    size_t e = (size_t)exp;
    size_t pad = n < e + 1 ? e + 1 - n : 0; /* leading zeros so there is one whole digit */
    size_t total = pad + n;                 /* digits after padding */
    if (total + 2 > cap) {
        return false;
    }
    size_t at = 0;
    for (size_t i = 0; i < total; i++) {
        if (e > 0 && i == total - e) {
            buf[at++] = '.';
        }
        buf[at++] = i < pad ? '0' : digits[i - pad];
    }
    buf[at] = '\0';
    return true;
}

static int currency_exp(const char *currency)
{
    int exp = money_currency_exponent(currency);
    return exp < 0 ? 2 : exp;
}

static json_t *amount_json(int64_t minor, const char *currency)
{
    char buf[MONEY_TEXT_MAX];
    money_format(minor, currency_exp(currency), buf, sizeof buf);
    return json_string(buf);
}

static json_t *opt_str(const PGresult *r, int i, int col)
{
    return db_null(r, i, col) ? json_null() : json_string(db_str(r, i, col));
}

static json_t *opt_int(const PGresult *r, int i, int col)
{
    return db_null(r, i, col) ? json_null() : json_integer(db_i64(r, i, col));
}

/* ---- entrepreneurs ---------------------------------------------------------------------------- */

/* Columns of pipeline_entrepreneur_get / pipeline_entrepreneurs_list: id, fund_id, kind,
 * organisation_id, iati_ref, name, tax_id, municipality_code, municipality name, department code,
 * department name, value_chain, women_led, youth_led, conflict_victim, members, requested_minor,
 * currency, purpose, stage, stage_changed_at, created_at, created_by. */
static json_t *entrepreneur_json(const PGresult *r, int i)
{
    const char *cur = db_str(r, i, 17);
    json_t *o = json_pack("{s:I, s:I, s:s, s:o, s:o, s:s, s:o}", "id", (json_int_t)db_i64(r, i, 0), "fund_id",
                          (json_int_t)db_i64(r, i, 1), "kind", db_str(r, i, 2), "organisation_id", opt_int(r, i, 3),
                          "iati_ref", opt_str(r, i, 4), "name", db_str(r, i, 5), "tax_id", opt_str(r, i, 6));
    json_t *rest =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:I}",
                  "municipality_code", db_str(r, i, 7), "municipality_name", db_str(r, i, 8), "department_code",
                  db_str(r, i, 9), "department_name", db_str(r, i, 10), "value_chain", db_str(r, i, 11), "women_led",
                  db_bool(r, i, 12), "youth_led", db_bool(r, i, 13), "conflict_victim", db_bool(r, i, 14), "members",
                  (json_int_t)db_i64(r, i, 15), "requested", amount_json(db_i64(r, i, 16), cur), "currency", cur,
                  "purpose", db_str(r, i, 18), "stage", db_str(r, i, 19), "stage_changed_at", db_str(r, i, 20),
                  "created_at", db_str(r, i, 21), "created_by", (json_int_t)db_i64(r, i, 22));
    if (o == NULL || rest == NULL || json_object_update(o, rest) != 0) {
        json_decref(o);
        json_decref(rest);
        return NULL;
    }
    json_decref(rest);
    return o;
}

/* Columns of the measure statements: id, fund_id, municipality_code, entrepreneur_id, round,
 * dimension, indicator, raw_value, score, method, measured_on, recorded_by, recorder name,
 * recorded_at, approved_by, approver name, approved_at. */
static json_t *measure_json(const PGresult *r, int i)
{
    json_t *approved = db_null(r, i, 14)
                           ? json_null()
                           : json_pack("{s:I, s:s}", "id", (json_int_t)db_i64(r, i, 14), "name", db_str(r, i, 15));
    return json_pack("{s:I, s:I, s:s, s:o, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}, s:s, s:o, s:o}", "id",
                     (json_int_t)db_i64(r, i, 0), "fund_id", (json_int_t)db_i64(r, i, 1), "municipality_code",
                     db_str(r, i, 2), "entrepreneur_id", opt_int(r, i, 3), "round", (json_int_t)db_i64(r, i, 4),
                     "dimension", db_str(r, i, 5), "indicator", db_str(r, i, 6), "raw_value", db_str(r, i, 7), "score",
                     db_str(r, i, 8), "method", db_str(r, i, 9), "measured_on", db_str(r, i, 10), "recorded_by", "id",
                     (json_int_t)db_i64(r, i, 11), "name", db_str(r, i, 12), "recorded_at", db_str(r, i, 13),
                     "approved_by", approved, "approved_at", opt_str(r, i, 16));
}

/* Checks every field that needs no database; errors name the field. */
static enum fl_err entrepreneur_input_check(const struct pipeline_entrepreneur_input *in, size_t *nit_len,
                                            struct fl_error *err)
{
    static const char *const kinds[] = {"cooperative", "association", "firm", "person"};
    if (in->kind == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "kind", "one of cooperative, association, firm, person");
    }
    if (!in_list(in->kind, kinds, sizeof kinds / sizeof kinds[0])) {
        return fl_error_set(err, FLE_BAD_FIELD, "kind", "one of cooperative, association, firm, person");
    }
    if (in->name == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "name", "1-%d characters", PIPELINE_NAME_BYTES_MAX);
    }
    if (in->name[0] == '\0' || strlen(in->name) > PIPELINE_NAME_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "name", "1-%d characters", PIPELINE_NAME_BYTES_MAX);
    }
    *nit_len = 0;
    const char *why = NULL;
    if (in->tax_id != NULL && !tax_id_valid(in->tax_id, nit_len, &why)) {
        return fl_error_set(err, FLE_BAD_FIELD, "tax_id", "%s", why);
    }
    if (in->municipality_code == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "municipality_code", "a DIVIPOLA code such as 52250");
    }
    if (!municipality_code_valid(in->municipality_code)) {
        return fl_error_set(err, FLE_BAD_FIELD, "municipality_code", "a 5-digit DIVIPOLA code such as 52250");
    }
    if (in->value_chain == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "value_chain", "a value chain code such as cacao");
    }
    if (!value_chain_code_valid(in->value_chain)) {
        return fl_error_set(err, FLE_BAD_FIELD, "value_chain", "a value chain code such as cacao");
    }
    if (in->members < 1 || in->members > PIPELINE_MEMBERS_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "members", "from 1 to %d", PIPELINE_MEMBERS_MAX);
    }
    if (in->purpose != NULL && strlen(in->purpose) > PIPELINE_PURPOSE_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "purpose", "at most %d characters", PIPELINE_PURPOSE_BYTES_MAX);
    }
    return FLE_OK;
}

/* Checks that the municipality and the value chain exist (before writing, so the error names the
 * field instead of a foreign key). */
static enum fl_err references_check(struct db *db, const char *municipality_code, const char *value_chain,
                                    struct fl_error *err)
{
    const char *p[2] = {municipality_code, value_chain};
    PGresult *r = db_exec_rows(db, "pipeline_entrepreneur_create_refs", 2, p, 1, err);
    if (r == NULL) {
        return err->code;
    }
    bool muni = db_bool(r, 0, 0), chain = db_bool(r, 0, 1);
    PQclear(r);
    if (!muni) {
        return fl_error_set(err, FLE_BAD_FIELD, "municipality_code", "no municipality %s (see /v1/municipalities)",
                            municipality_code);
    }
    if (value_chain && !chain) {
        return fl_error_set(err, FLE_BAD_FIELD, "value_chain", "no value chain %s (see /v1/value-chains)", value_chain);
    }
    return FLE_OK;
}

/* The organisation of a non-person entrepreneur: reuses the entrepreneur organisation registered
 * under the same IATI identifier, or creates one. *org_id gets its id. */
static enum fl_err entrepreneur_org(struct db *db, const struct principal *actor,
                                    const struct pipeline_entrepreneur_input *in, size_t nit_len, int64_t *org_id,
                                    struct fl_error *err)
{
    char ref[32];
    const char *iati_ref = NULL;
    if (in->tax_id != NULL) {
        assert(nit_len >= 5 && nit_len <= 15);
        snprintf(ref, sizeof ref, "CO-RUE-%.*s", (int)nit_len, in->tax_id);
        iati_ref = ref;
        const char *p[1] = {iati_ref};
        PGresult *r = db_exec(db, "pipeline_entrepreneur_create_org_find", 1, p, err);
        if (r == NULL) {
            return err->code;
        }
        bool found = PQntuples(r) == 1;
        bool is_entrepreneur = found && strcmp(db_str(r, 0, 1), "entrepreneur") == 0;
        *org_id = found ? db_i64(r, 0, 0) : 0;
        PQclear(r);
        if (found && !is_entrepreneur) {
            return fl_error_set(err, FLE_DUPLICATE, "tax_id",
                                "the organisation %s is registered, not as an entrepreneur", iati_ref);
        }
        if (found) {
            return FLE_OK;
        }
    }
    /* IATI OrganisationType: 22 National NGO for a (non-profit) association, 72 Private Sector in
     * Aid Recipient Country for cooperatives and firms (as in the IATI examples). */
    const char *iati_type = strcmp(in->kind, "association") == 0 ? "22" : "72";
    json_t *o = org_create(db, actor, in->name, "entrepreneur", iati_ref, iati_type, err);
    if (o == NULL) {
        return err->code;
    }
    *org_id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    assert(*org_id > 0);
    return FLE_OK;
}

json_t *pipeline_entrepreneur_create(struct db *db, const struct principal *actor, int64_t fund_id,
                                     const struct pipeline_entrepreneur_input *in, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL && in != NULL && err != NULL);
    size_t nit_len = 0;
    if (entrepreneur_input_check(in, &nit_len, err) != FLE_OK) {
        return NULL;
    }
    char currency[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, currency, err) != FLE_OK) {
        return NULL;
    }
    int64_t requested = 0;
    if (in->requested != NULL) {
        money_status st = money_parse_amount(in->requested, money_currency_exponent(currency), &requested);
        if (st != MONEY_OK) {
            fl_error_set(err, FLE_BAD_FIELD, "requested", "%s (%s)", money_status_text(st), currency);
            return NULL;
        }
    }
    if (references_check(db, in->municipality_code, in->value_chain, err) != FLE_OK) {
        return NULL;
    }
    bool person = strcmp(in->kind, "person") == 0;
    int64_t org_id = 0;
    if (!person && entrepreneur_org(db, actor, in, nit_len, &org_id, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], ob[21], mb[21], rb[21], ub[21];
    const char *p[15] = {db_i64_text(fund_id, fb),
                         in->kind,
                         person ? NULL : db_i64_text(org_id, ob),
                         in->name,
                         in->tax_id,
                         in->municipality_code,
                         in->value_chain,
                         in->women_led ? "true" : "false",
                         in->youth_led ? "true" : "false",
                         in->conflict_victim ? "true" : "false",
                         db_i64_text(in->members, mb),
                         db_i64_text(requested, rb),
                         currency,
                         in->purpose ? in->purpose : "",
                         db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec_rows(db, "pipeline_entrepreneur_create", 15, p, 1, err);
    if (r == NULL) {
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char ib[21];
    const char *ps[2] = {db_i64_text(id, ib), ub};
    r = db_exec_rows(db, "pipeline_entrepreneur_create_stage", 2, ps, 1, err);
    if (r == NULL) {
        return NULL;
    }
    PQclear(r);
    /* Never the name or tax id: for a person they are personal data. */
    json_t *detail =
        json_pack("{s:s, s:s, s:s, s:o}", "kind", in->kind, "municipality_code", in->municipality_code, "value_chain",
                  in->value_chain, "organisation_id", person ? json_null() : json_integer(org_id));
    if (audit_record(db, actor, "entrepreneur.create", "entrepreneur", ib, fund_id, detail, err) != FLE_OK) {
        return NULL;
    }
    return pipeline_entrepreneur_get(db, id, err);
}

/* The move itself, on a locked row. *moved is false when system and already at to_stage. */
static enum fl_err move(struct db *db, const struct principal *actor, int64_t entrepreneur_id, const char *to,
                        const char *reason, bool system, bool *moved, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL && err != NULL);
    *moved = false;
    if (to == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "to", "the stage to move to");
    }
    if (!pipeline_stage_valid(to)) {
        return fl_error_set(err, FLE_BAD_FIELD, "to",
                            "one of sourced, screening, due_diligence, committee, approved, active, repaid, "
                            "declined, withdrawn, written_off");
    }
    if (reason != NULL && strlen(reason) > REASON_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "reason", "at most %d characters", REASON_BYTES_MAX);
    }
    char ib[21];
    const char *p[1] = {db_i64_text(entrepreneur_id, ib)};
    PGresult *r = db_exec(db, "pipeline_move_lock", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(err, FLE_NOT_FOUND, "entrepreneur_id", "no entrepreneur %" PRId64, entrepreneur_id);
    }
    int64_t fund_id = db_i64(r, 0, 1);
    char from[32];
    snprintf(from, sizeof from, "%s", db_str(r, 0, 2));
    PQclear(r);
    if (system && strcmp(from, to) == 0) {
        return FLE_OK;
    }
    if (!pipeline_move_allowed(from, to)) {
        char allowed[160];
        pipeline_moves_text(from, allowed, sizeof allowed);
        if (allowed[0] == '\0') {
            return fl_error_set(err, FLE_CONFLICT, "to", "%s is a final stage: no move is allowed from it", from);
        }
        return fl_error_set(err, FLE_CONFLICT, "to", "from %s the allowed moves are: %s", from, allowed);
    }
    if (pipeline_move_needs_reason(from, to) && (reason == NULL || reason[0] == '\0')) {
        return fl_error_set(err, FLE_MISSING_FIELD, "reason", "say why the entrepreneur moves from %s to %s", from, to);
    }
    char ub[21];
    const char *pm[5] = {ib, from, to, db_i64_text(actor->user_id, ub), reason ? reason : ""};
    r = db_exec_rows(db, "pipeline_move", 5, pm, 1, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    /* The reason stays in the stage history (staff only): it may speak of people. */
    enum fl_err e = audit_record(db, actor, "entrepreneur.stage", "entrepreneur", ib, fund_id,
                                 json_pack("{s:s, s:s}", "from", from, "to", to), err);
    *moved = e == FLE_OK;
    return e;
}

json_t *pipeline_move(struct db *db, const struct principal *actor, int64_t entrepreneur_id, const char *to_stage,
                      const char *reason, struct fl_error *err)
{
    bool moved = false;
    if (move(db, actor, entrepreneur_id, to_stage, reason, false, &moved, err) != FLE_OK) {
        return NULL;
    }
    assert(moved);
    return pipeline_entrepreneur_get(db, entrepreneur_id, err);
}

enum fl_err pipeline_move_system(struct db *db, const struct principal *actor, int64_t entrepreneur_id,
                                 const char *to_stage, const char *reason, struct fl_error *err)
{
    bool moved = false;
    return move(db, actor, entrepreneur_id, to_stage, reason, true, &moved, err);
}

json_t *pipeline_entrepreneur_get(struct db *db, int64_t entrepreneur_id, struct fl_error *err)
{
    assert(err != NULL);
    char ib[21];
    const char *p[1] = {db_i64_text(entrepreneur_id, ib)};
    PGresult *r = db_exec(db, "pipeline_entrepreneur_get", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "entrepreneur_id", "no entrepreneur %" PRId64, entrepreneur_id);
        return NULL;
    }
    json_t *o = entrepreneur_json(r, 0);
    PQclear(r);
    if (o == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    r = db_exec(db, "pipeline_entrepreneur_get_stages", 1, p, err);
    if (r == NULL) {
        json_decref(o);
        return NULL;
    }
    json_t *history = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(
            history, json_pack("{s:I, s:o, s:s, s:s, s:{s:I, s:s}, s:s}", "id", (json_int_t)db_i64(r, i, 0), "from",
                               opt_str(r, i, 1), "to", db_str(r, i, 2), "at", db_str(r, i, 3), "user", "id",
                               (json_int_t)db_i64(r, i, 4), "name", db_str(r, i, 5), "reason", db_str(r, i, 6)));
    }
    PQclear(r);
    json_object_set_new(o, "history", history);
    r = db_exec(db, "pipeline_entrepreneur_get_measures", 1, p, err);
    if (r == NULL) {
        json_decref(o);
        return NULL;
    }
    json_t *measures = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(measures, measure_json(r, i));
    }
    PQclear(r);
    json_object_set_new(o, "latest_measures", measures);
    return o;
}

json_t *pipeline_entrepreneurs_list(struct db *db, int64_t fund_id, const struct pipeline_filter *f, int64_t after_id,
                                    unsigned limit, struct fl_error *err)
{
    assert(f != NULL && err != NULL && limit >= 1 && limit <= PAGE_SIZE_MAX);
    if (f->stage != NULL && !pipeline_stage_valid(f->stage)) {
        fl_error_set(err, FLE_BAD_PARAM, "stage", "one of the pipeline stages, such as screening");
        return NULL;
    }
    if (f->municipality_code != NULL && !municipality_code_valid(f->municipality_code)) {
        fl_error_set(err, FLE_BAD_PARAM, "municipality", "a 5-digit DIVIPOLA code such as 52250");
        return NULL;
    }
    if (f->value_chain != NULL && !value_chain_code_valid(f->value_chain)) {
        fl_error_set(err, FLE_BAD_PARAM, "value_chain", "a value chain code such as cacao");
        return NULL;
    }
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], ab[21], lb[21];
    const bool *flags[3] = {f->women_led, f->youth_led, f->conflict_victim};
    const char *p[9] = {db_i64_text(fund_id, fb),
                        f->stage,
                        f->municipality_code,
                        f->value_chain,
                        NULL,
                        NULL,
                        NULL,
                        db_i64_text(after_id, ab),
                        db_i64_text((int64_t)limit + 1, lb)};
    for (int k = 0; k < 3; k++) {
        p[4 + k] = flags[k] == NULL ? NULL : *flags[k] ? "true" : "false";
    }
    PGresult *r = db_exec(db, "pipeline_entrepreneurs_list", 9, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    int rows = pg.rows;
    json_t *list = json_array();
    for (int i = 0; i < rows; i++) {
        json_array_append_new(list, entrepreneur_json(r, i));
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "entrepreneurs", list, "next_after", jv_next_after(pg.more, pg.last));
}

json_t *pipeline_funnel(struct db *db, int64_t fund_id, struct fl_error *err)
{
    assert(err != NULL);
    char currency[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, currency, err) != FLE_OK) {
        return NULL;
    }
    struct db_array names;
    db_array_init(&names);
    for (size_t i = 0; i < STAGE_COUNT; i++) {
        db_array_text(&names, stages[i]);
    }
    char fb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), db_array_str(&names)};
    /* Rows: stage, count, sum of requested_minor as exact digits; every stage of the array
     * (zeros included) in its order, then the total over all stages (stage NULL). */
    PGresult *r = p[1] ? db_exec(db, "pipeline_funnel", 2, p, err) : NULL;
    db_array_free(&names);
    if (r == NULL) {
        if (p[1] == NULL) {
            fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
        return NULL;
    }
    int exp = currency_exp(currency);
    json_t *list = json_array();
    json_t *total = NULL;
    bool ok = PQntuples(r) == (int)STAGE_COUNT + 1;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        char amount[64];
        ok = digits_format(db_str(r, i, 2), exp, amount, sizeof amount);
        json_t *row = json_pack("{s:I, s:s}", "count", (json_int_t)db_i64(r, i, 1), "requested", amount);
        if (!ok || row == NULL) {
            json_decref(row);
            ok = false;
        } else if (db_null(r, i, 0)) {
            total = row;
        } else {
            ok = strcmp(db_str(r, i, 0), stages[i]) == 0;
            json_object_set_new(row, "stage", json_string(stages[i]));
            json_array_append_new(list, row);
        }
    }
    PQclear(r);
    if (!ok || total == NULL) {
        json_decref(list);
        json_decref(total);
        fl_error_set(err, FLE_INTERNAL, NULL, "the funnel could not be computed");
        return NULL;
    }
    return json_pack("{s:I, s:s, s:o, s:o}", "fund_id", (json_int_t)fund_id, "currency", currency, "stages", list,
                     "total", total);
}

json_t *pipeline_municipalities_list(struct db *db, struct fl_error *err)
{
    PGresult *r = db_exec(db, "pipeline_municipalities_list", 0, NULL, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "code", db_str(r, i, 0), "name", db_str(r, i, 1),
                                           "department_code", db_str(r, i, 2), "department_name", db_str(r, i, 3)));
    }
    PQclear(r);
    return json_pack("{s:o}", "municipalities", a);
}

json_t *pipeline_value_chains_list(struct db *db, struct fl_error *err)
{
    PGresult *r = db_exec(db, "pipeline_value_chains_list", 0, NULL, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "code", db_str(r, i, 0), "name_es", db_str(r, i, 1),
                                           "name_en", db_str(r, i, 2), "dac_sector", db_str(r, i, 3)));
    }
    PQclear(r);
    return json_pack("{s:o}", "value_chains", a);
}

/* ---- human-security measures --------------------------------------------------------------------- */

static enum fl_err measure_input_check(const struct pipeline_measure_input *in, struct fl_error *err)
{
    if (in->municipality_code == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "municipality_code", "a DIVIPOLA code such as 52250");
    }
    if (!municipality_code_valid(in->municipality_code)) {
        return fl_error_set(err, FLE_BAD_FIELD, "municipality_code", "a 5-digit DIVIPOLA code such as 52250");
    }
    if (in->entrepreneur_id < 0) {
        return fl_error_set(err, FLE_BAD_FIELD, "entrepreneur_id", "a positive integer id");
    }
    if (in->round < 0 || in->round > PIPELINE_ROUND_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "round", "0 (baseline) to %d", PIPELINE_ROUND_MAX);
    }
    if (in->dimension == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "dimension", "one of the seven dimensions");
    }
    if (!pipeline_dimension_valid(in->dimension)) {
        return fl_error_set(err, FLE_BAD_FIELD, "dimension",
                            "one of economic, food, health, environmental, personal, community, political");
    }
    if (in->indicator == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "indicator", "1-%d characters", PIPELINE_INDICATOR_BYTES_MAX);
    }
    if (in->indicator[0] == '\0' || strlen(in->indicator) > PIPELINE_INDICATOR_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "indicator", "1-%d characters", PIPELINE_INDICATOR_BYTES_MAX);
    }
    if (in->raw_value == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "raw_value", "an exact decimal string such as \"12.5\"");
    }
    if (!decimal_valid(in->raw_value, true, 14, 6)) {
        return fl_error_set(err, FLE_BAD_FIELD, "raw_value",
                            "an exact decimal string: optional sign, up to 14 digits, up to 6 decimals");
    }
    if (in->score == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "score", "a decimal string from 0 to 100");
    }
    if (!score_valid(in->score)) {
        return fl_error_set(err, FLE_BAD_FIELD, "score", "a decimal string from 0 to 100 with at most 2 decimals");
    }
    if (in->method != NULL && strlen(in->method) > PIPELINE_METHOD_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "method", "at most %d characters", PIPELINE_METHOD_BYTES_MAX);
    }
    if (in->measured_on == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, "measured_on", "a date YYYY-MM-DD");
    }
    if (!ledger_date_valid(in->measured_on)) {
        return fl_error_set(err, FLE_BAD_FIELD, "measured_on", "a date YYYY-MM-DD");
    }
    return FLE_OK;
}

static json_t *measure_get(struct db *db, int64_t id, struct fl_error *err)
{
    char ib[21];
    const char *p[1] = {db_i64_text(id, ib)};
    PGresult *r = db_exec_rows(db, "pipeline_measure_get", 1, p, 1, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *o = measure_json(r, 0);
    PQclear(r);
    return o;
}

json_t *pipeline_measure_record(struct db *db, const struct principal *actor, int64_t fund_id,
                                const struct pipeline_measure_input *in, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL && in != NULL && err != NULL);
    if (measure_input_check(in, err) != FLE_OK) {
        return NULL;
    }
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], eb[21];
    const char *eid = in->entrepreneur_id > 0 ? db_i64_text(in->entrepreneur_id, eb) : NULL;
    /* Row: municipality exists, entrepreneur's fund, entrepreneur's municipality, date not in the future. */
    const char *pc[3] = {in->municipality_code, eid, in->measured_on};
    PGresult *r = db_exec_rows(db, "pipeline_measure_record_check", 3, pc, 1, err);
    if (r == NULL) {
        return NULL;
    }
    bool muni = db_bool(r, 0, 0), future = !db_bool(r, 0, 3);
    bool ent_found = !db_null(r, 0, 1);
    bool ent_fund = ent_found && db_i64(r, 0, 1) == fund_id;
    bool ent_muni = ent_found && strcmp(db_str(r, 0, 2), in->municipality_code) == 0;
    PQclear(r);
    if (!muni) {
        fl_error_set(err, FLE_BAD_FIELD, "municipality_code", "no municipality %s (see /v1/municipalities)",
                     in->municipality_code);
        return NULL;
    }
    if (eid != NULL && !ent_fund) {
        fl_error_set(err, FLE_BAD_FIELD, "entrepreneur_id", "no entrepreneur %" PRId64 " in this fund",
                     in->entrepreneur_id);
        return NULL;
    }
    if (eid != NULL && !ent_muni) {
        fl_error_set(err, FLE_BAD_FIELD, "municipality_code", "entrepreneur %" PRId64 " is in another municipality",
                     in->entrepreneur_id);
        return NULL;
    }
    if (future) {
        fl_error_set(err, FLE_BAD_FIELD, "measured_on", "a measure cannot be dated in the future");
        return NULL;
    }
    char rb[21], ub[21];
    const char *p[11] = {db_i64_text(fund_id, fb),
                         in->municipality_code,
                         eid,
                         db_i64_text(in->round, rb),
                         in->dimension,
                         in->indicator,
                         in->raw_value,
                         in->score,
                         in->method ? in->method : "",
                         in->measured_on,
                         db_i64_text(actor->user_id, ub)};
    r = db_exec_rows(db, "pipeline_measure_record", 11, p, 1, err);
    if (r == NULL) {
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char ib[21];
    json_t *detail =
        json_pack("{s:s, s:I, s:s, s:o}", "municipality_code", in->municipality_code, "round", (json_int_t)in->round,
                  "dimension", in->dimension, "entrepreneur_id", eid ? json_integer(in->entrepreneur_id) : json_null());
    if (audit_record(db, actor, "hs_measure.record", "hs_measure", db_i64_text(id, ib), fund_id, detail, err) !=
        FLE_OK) {
        return NULL;
    }
    return measure_get(db, id, err);
}

json_t *pipeline_measure_approve(struct db *db, const struct principal *actor, int64_t measure_id, struct fl_error *err)
{
    assert(db_in_tx(db) && actor != NULL && err != NULL);
    char ib[21], ub[21];
    const char *p[2] = {db_i64_text(measure_id, ib), db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec(db, "pipeline_measure_approve_lock", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "measure_id", "no measure %" PRId64, measure_id);
        return NULL;
    }
    int64_t fund_id = db_i64(r, 0, 1), recorded_by = db_i64(r, 0, 2);
    bool approved = !db_null(r, 0, 3);
    PQclear(r);
    if (approved) {
        fl_error_set(err, FLE_CONFLICT, "measure_id", "measure %" PRId64 " is already approved", measure_id);
        return NULL;
    }
    if (recorded_by == actor->user_id) {
        fl_error_set(err, FLE_SELF_APPROVAL, "measure_id", "you recorded this measure; another person must approve it");
        return NULL;
    }
    r = db_exec_rows(db, "pipeline_measure_approve", 2, p, 1, err);
    if (r == NULL) {
        return NULL;
    }
    PQclear(r);
    if (audit_record(db, actor, "hs_measure.approve", "hs_measure", ib, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    return measure_get(db, measure_id, err);
}

json_t *pipeline_measures_list(struct db *db, int64_t fund_id, const char *municipality_code, int64_t round,
                               const char *dimension, bool public_only, int64_t after_id, unsigned limit,
                               struct fl_error *err)
{
    assert(err != NULL && limit >= 1 && limit <= PAGE_SIZE_MAX);
    if (municipality_code != NULL && !municipality_code_valid(municipality_code)) {
        fl_error_set(err, FLE_BAD_PARAM, "municipality", "a 5-digit DIVIPOLA code such as 52250");
        return NULL;
    }
    if (dimension != NULL && !pipeline_dimension_valid(dimension)) {
        fl_error_set(err, FLE_BAD_PARAM, "dimension",
                     "one of economic, food, health, environmental, personal, community, political");
        return NULL;
    }
    if (round > PIPELINE_ROUND_MAX) {
        fl_error_set(err, FLE_BAD_PARAM, "round", "0 (baseline) to %d", PIPELINE_ROUND_MAX);
        return NULL;
    }
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], rb[21], ab[21], lb[21];
    const char *p[7] = {db_i64_text(fund_id, fb),
                        municipality_code,
                        round >= 0 ? db_i64_text(round, rb) : NULL,
                        dimension,
                        public_only ? "true" : "false",
                        db_i64_text(after_id, ab),
                        db_i64_text((int64_t)limit + 1, lb)};
    PGresult *r = db_exec(db, "pipeline_measures_list", 7, p, err);
    if (r == NULL) {
        return NULL;
    }
    struct db_page pg = db_page(r, limit);
    int rows = pg.rows;
    json_t *list = json_array();
    for (int i = 0; i < rows; i++) {
        json_array_append_new(list, measure_json(r, i));
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "measures", list, "next_after", jv_next_after(pg.more, pg.last));
}
