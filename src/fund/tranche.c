/* tranche: tranches of the capital stack and the capital that moves in and out of them. */
#include "fundledger/tranche.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"
#include "fundledger/org.h"
#include "fundledger/rate.h"

static const char *const suffixes[] = {"CASH", "LOANS", "CONTRIB", "RETURNED", "DIST_INCOME", "LOSS", "UNFUNDED",
                                       "COMMITMENT"};
static const char *const suffix_names[] = {"Cash available", "Loans funded", "Contributions", "Capital returned",
                                           "Income distributed", "Losses absorbed", "Unfunded commitment",
                                           "Commitment (contra)"};
static const char *const suffix_types[] = {"asset", "asset", "equity", "equity", "equity", "equity", "memo", "memo"};
#define SUFFIXES (sizeof suffixes / sizeof suffixes[0])

void tranche_today(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

const char *tranche_as_of(const char *as_of, char today[11], struct fl_error *err)
{
    tranche_today(today);
    const char *d = as_of ? as_of : today;
    if (!ledger_date_valid(d)) {
        fl_error_set(err, FLE_BAD_PARAM, "as_of", "a date YYYY-MM-DD");
        return NULL;
    }
    return d;
}

static json_t *rate_json(int64_t rate)
{
    char buf[32];
    rate_format(rate, buf, sizeof buf);
    return json_string(buf);
}

/* A rate read back from a stored payload (docs/architecture.md, "Stored payloads"): the decimal
 * string, or the integer of 1e-8 in a payload written before rates were strings. */
static bool stored_rate(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        return rate_parse(json_string_value(v), out) == RATE_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= RATE_MAX) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    return false;
}

enum fl_err tranche_account(struct db *db, int64_t fund_id, int64_t tranche_id, const char *suffix, int64_t *id,
                            struct fl_error *err)
{
    char code[64];
    snprintf(code, sizeof code, "T%" PRId64 ".%s", tranche_id, suffix);
    return fund_account_by_code(db, fund_id, code, id, err);
}

static bool date_ok(const char *d, bool not_future)
{
    char today[11];
    tranche_today(today);
    return d != NULL && ledger_date_valid(d) && (!not_future || strcmp(d, today) <= 0);
}

static enum fl_err parse_amount(const char *text, const char *currency, const char *field, bool positive,
                                int64_t *out, struct fl_error *err)
{
    if (text == NULL) {
        return fl_error_set(err, FLE_MISSING_FIELD, field, "required");
    }
    money_status st = money_parse_amount(text, money_currency_exponent(currency), out);
    if (st != MONEY_OK) {
        return fl_error_set(err, FLE_BAD_FIELD, field, "%s", money_status_text(st));
    }
    if (positive && *out == 0) {
        return fl_error_set(err, FLE_BAD_FIELD, field, "must be more than zero");
    }
    return FLE_OK;
}

static enum fl_err parse_rate(const char *text, const char *field, int64_t *out, struct fl_error *err)
{
    *out = 0;
    if (text == NULL) {
        return FLE_OK;
    }
    rate_status st = rate_parse(text, out);
    if (st != RATE_OK) {
        return fl_error_set(err, FLE_BAD_FIELD, field, "a fraction such as \"0.0450\": %s", rate_status_text(st));
    }
    return FLE_OK;
}

/* Eligibility rules: {"women_led_only": bool, "municipalities": [DIVIPOLA], "value_chains": [code]}. */
static enum fl_err check_eligibility(struct db *db, const json_t *el, struct fl_error *err)
{
    if (el == NULL) {
        return FLE_OK;
    }
    if (!json_is_object(el)) {
        return fl_error_set(err, FLE_BAD_FIELD, "eligibility", "an object");
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)el, key, v)
    {
        if (strcmp(key, "women_led_only") == 0) {
            if (!json_is_boolean(v)) {
                return fl_error_set(err, FLE_BAD_FIELD, "eligibility.women_led_only", "true or false");
            }
        } else if (strcmp(key, "municipalities") == 0 || strcmp(key, "value_chains") == 0) {
            bool muni = key[0] == 'm';
            char field[ERROR_FIELD_BYTES];
            snprintf(field, sizeof field, "eligibility.%s", key);
            if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 200) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "an array of 1 to 200 codes");
            }
            size_t i;
            json_t *c;
            json_array_foreach(v, i, c)
            {
                const char *code = json_string_value(c);
                const char *p[1] = {code};
                PGresult *r = code ? db_exec(db, muni ? "tranche_municipality_exists" : "tranche_value_chain_exists",
                                             1, p, err)
                                   : NULL;
                if (code != NULL && r == NULL) {
                    return err->code;
                }
                bool found = r != NULL && PQntuples(r) == 1;
                PQclear(r);
                if (!found) {
                    snprintf(field, sizeof field, "eligibility.%s[%zu]", key, i);
                    return fl_error_set(err, FLE_BAD_FIELD, field, muni ? "not a known DIVIPOLA municipality code"
                                                                        : "not a known value chain");
                }
            }
        } else {
            char field[ERROR_FIELD_BYTES];
            snprintf(field, sizeof field, "eligibility.%s", key);
            return fl_error_set(err, FLE_UNKNOWN_FIELD, field, "rules are women_led_only, municipalities, value_chains");
        }
    }
    return FLE_OK;
}

json_t *tranche_propose(struct db *db, const struct principal *maker, int64_t fund_id, const struct tranche_terms *t,
                        struct fl_error *err)
{
    assert(db_in_tx(db) && maker != NULL && t != NULL);
    char base[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, base, err) != FLE_OK) {
        return NULL;
    }
    json_t *org = org_get_kind(db, t->investor_id, "investor", "investor_id", err);
    if (org == NULL) {
        return NULL;
    }
    json_decref(org);
    static const char *const kinds[] = {"first_loss", "mezzanine", "senior"};
    bool kind_ok = false;
    for (size_t i = 0; i < 3 && t->kind; i++) {
        kind_ok = kind_ok || strcmp(t->kind, kinds[i]) == 0;
    }
    int64_t commitment = 0, ret = 0, fee = 0;
    if (t->name == NULL || t->name[0] == '\0' || strlen(t->name) > NAME_BYTES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "name", "1-%d characters", NAME_BYTES_MAX);
    } else if (!kind_ok) {
        fl_error_set(err, FLE_BAD_FIELD, "kind", "one of first_loss, mezzanine, senior");
    } else if (t->rank < 1 || t->rank > 16) {
        fl_error_set(err, FLE_BAD_FIELD, "rank", "1 (most senior) to 16");
    } else if (t->currency == NULL || strcmp(t->currency, base) != 0) {
        fl_error_set(err, FLE_RULE, "currency", "a tranche is in the fund's currency %s", base);
    } else if (parse_amount(t->commitment, base, "commitment", true, &commitment, err) != FLE_OK ||
               parse_rate(t->return_rate, "return_rate", &ret, err) != FLE_OK ||
               parse_rate(t->fee_rate, "fee_rate", &fee, err) != FLE_OK ||
               check_eligibility(db, t->eligibility, err) != FLE_OK) {
        /* err is set */
    } else if (!date_ok(t->signed_date, true)) {
        fl_error_set(err, FLE_BAD_FIELD, "signed_date", "a date YYYY-MM-DD, not in the future");
    } else if (t->provider_activity_id && strlen(t->provider_activity_id) > 200) {
        fl_error_set(err, FLE_BAD_FIELD, "provider_activity_id", "at most 200 characters");
    } else {
        char fb[21];
        const char *p[2] = {db_i64_text(fund_id, fb), t->name};
        PGresult *r = db_exec(db, "tranche_name_taken", 2, p, err);
        if (r == NULL) {
            return NULL;
        }
        bool taken = PQntuples(r) > 0;
        PQclear(r);
        if (taken) {
            fl_error_set(err, FLE_DUPLICATE, "name", "the fund has a tranche called %s", t->name);
            return NULL;
        }
        /* Money and rates as decimal strings, as in replies. */
        json_t *payload = json_pack("{s:I, s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:s, s:o}", "investor_id",
                                    (json_int_t)t->investor_id, "name", t->name, "kind", t->kind, "rank",
                                    (json_int_t)t->rank, "currency", base, "commitment", jv_amount(commitment, base),
                                    "return_rate", rate_json(ret), "fee_rate", rate_json(fee), "eligibility",
                                    t->eligibility ? json_deep_copy(t->eligibility) : json_object(), "signed_date",
                                    t->signed_date, "provider_activity_id",
                                    t->provider_activity_id ? json_string(t->provider_activity_id) : json_null());
        return approval_propose(db, maker, fund_id, "tranche", payload, commitment, base, err);
    }
    return NULL;
}

/* Posts a two-line (or four-line) memo/cash entry for a tranche event. */
static enum fl_err post(struct db *db, int64_t fund_id, int64_t posted_by, const char *date, const char *event,
                        const char *ref, const char *memo, const int64_t *accounts, const int64_t *amounts, unsigned n,
                        const char *currency, int64_t *entry_id, struct fl_error *err)
{
    static _Thread_local struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = fund_id;
    e.posted_by = posted_by;
    snprintf(e.effective_date, sizeof e.effective_date, "%s", date);
    snprintf(e.event_type, sizeof e.event_type, "%s", event);
    snprintf(e.event_ref, sizeof e.event_ref, "%s", ref);
    snprintf(e.memo, sizeof e.memo, "%s", memo);
    assert(n <= LEDGER_LINES_MAX);
    for (unsigned i = 0; i < n; i++) {
        e.lines[i].account_id = accounts[i];
        snprintf(e.lines[i].currency, CURRENCY_CODE_BYTES, "%s", currency);
        e.lines[i].amount_minor = amounts[i];
    }
    e.n_lines = n;
    const struct ledger_entry *one = &e;
    return ledger_post(db, &one, 1, entry_id, err);
}

enum fl_err tranche_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                            int64_t *entry_id, struct fl_error *err)
{
    const json_t *pl = p->payload;
    char *elig = json_dumps(json_object_get(pl, "eligibility"), JSON_COMPACT | JSON_SORT_KEYS);
    if (elig == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    const char *cur = json_string_value(json_object_get(pl, "currency"));
    int64_t commitment, ret, fee;
    if (cur == NULL || !jv_stored_amount(pl, "commitment", "commitment_minor", cur, false, &commitment) ||
        !stored_rate(pl, "return_rate", &ret) || !stored_rate(pl, "fee_rate", &fee)) {
        free(elig);
        return fl_error_set(err, FLE_INTERNAL, NULL, "tranche proposal %" PRId64 " has no readable terms", p->id);
    }
    char fb[21], ib[21], rb[21], cb[21], retb[21], feeb[21], pb[21];
    const char *params[13] = {db_i64_text(p->fund_id, fb),
                              db_i64_text(json_integer_value(json_object_get(pl, "investor_id")), ib),
                              json_string_value(json_object_get(pl, "name")),
                              json_string_value(json_object_get(pl, "kind")),
                              db_i64_text(json_integer_value(json_object_get(pl, "rank")), rb),
                              json_string_value(json_object_get(pl, "currency")),
                              db_i64_text(commitment, cb),
                              db_i64_text(ret, retb),
                              db_i64_text(fee, feeb),
                              elig,
                              json_string_value(json_object_get(pl, "signed_date")),
                              json_string_value(json_object_get(pl, "provider_activity_id")),
                              db_i64_text(p->id, pb)};
    PGresult *r = db_exec(db, "tranche_insert", 13, params, err);
    free(elig);
    if (r == NULL) {
        return err->code == FLE_DUPLICATE ? fl_error_set(err, FLE_DUPLICATE, "name", "a tranche of that name exists")
                                          : err->code;
    }
    int64_t tid = db_i64(r, 0, 0);
    PQclear(r);
    int64_t acc[SUFFIXES];
    for (size_t i = 0; i < SUFFIXES; i++) {
        char code[64], name[128];
        snprintf(code, sizeof code, "T%" PRId64 ".%s", tid, suffixes[i]);
        snprintf(name, sizeof name, "%s: %s", json_string_value(json_object_get(pl, "name")), suffix_names[i]);
        json_t *a = fund_account_create(db, approver, p->fund_id, code, name, suffix_types[i], cur, err);
        if (a == NULL) {
            return err->code;
        }
        acc[i] = json_integer_value(json_object_get(a, "id"));
        json_decref(a);
    }
    int64_t accounts[2] = {acc[6], acc[7]};
    int64_t amounts[2] = {commitment, -commitment};
    char ref[40];
    snprintf(ref, sizeof ref, "tranche:%" PRId64, tid);
    return post(db, p->fund_id, approver->user_id, json_string_value(json_object_get(pl, "signed_date")),
                "tranche_signed", ref, "tranche agreement signed: commitment", accounts, amounts, 2, cur, entry_id, err);
}

/* Loaded tranche row: id, fund_id, investor_id, name, kind, rank, currency, commitment, return_rate, fee_rate,
 * eligibility, signed_date, provider_activity_id, status, investor name. */
static PGresult *load(struct db *db, int64_t tranche_id, bool lock, struct fl_error *err)
{
    char tb[21];
    const char *p[1] = {db_i64_text(tranche_id, tb)};
    PGresult *r = db_exec(db, lock ? "tranche_load_for_update" : "tranche_load", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "tranche_id", "no tranche %" PRId64, tranche_id);
        return NULL;
    }
    return r;
}

/* Balances of the tranche's accounts, by suffix index, now or as of a date. */
static enum fl_err balances(struct db *db, int64_t fund_id, int64_t tranche_id, const char *as_of,
                            int64_t out[SUFFIXES], struct fl_error *err)
{
    char fb[21], tb[21];
    const char *p[3] = {db_i64_text(fund_id, fb), db_i64_text(tranche_id, tb), as_of};
    PGresult *r = db_exec(db, "tranche_balances", 3, p, err);
    if (r == NULL) {
        return err->code;
    }
    memset(out, 0, sizeof(int64_t) * SUFFIXES);
    for (int i = 0; i < PQntuples(r); i++) {
        for (size_t k = 0; k < SUFFIXES; k++) {
            if (strcmp(db_str(r, i, 0), suffixes[k]) == 0) {
                out[k] = db_i64(r, i, 1);
            }
        }
    }
    PQclear(r);
    return FLE_OK;
}

_Static_assert(TRANCHE_ACCOUNTS == SUFFIXES && TRANCHE_CONTRIB == 2 && TRANCHE_RETURNED == 3 && TRANCHE_LOSS == 5 &&
                   TRANCHE_UNFUNDED == 6,
               "tranche_acc follows the suffix table");

enum fl_err tranche_balances(struct db *db, int64_t fund_id, int64_t tranche_id, const char *as_of,
                             int64_t out[TRANCHE_ACCOUNTS], struct fl_error *err)
{
    return balances(db, fund_id, tranche_id, as_of, out, err);
}

int64_t tranche_capital(const int64_t b[TRANCHE_ACCOUNTS])
{
    return -(b[TRANCHE_CONTRIB] + b[TRANCHE_RETURNED] + b[TRANCHE_LOSS]);
}

static json_t *tranche_json(struct db *db, const PGresult *r, int i, const char *as_of, struct fl_error *err)
{
    int64_t id = db_i64(r, i, 0), fund_id = db_i64(r, i, 1);
    const char *cur = db_str(r, i, 6);
    int64_t b[SUFFIXES];
    if (balances(db, fund_id, id, as_of, b, err) != FLE_OK) {
        return NULL;
    }
    json_error_t je;
    json_t *elig = json_loads(db_str(r, i, 10), 0, &je);
    /* Credit balances are negative: contributions and capital read as positive figures. */
    int64_t capital = tranche_capital(b);
    json_t *figures = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "commitment",
                                jv_amount(db_i64(r, i, 7), cur), "paid_in", jv_amount(-b[2], cur), "unfunded",
                                jv_amount(b[6], cur), "capital", jv_amount(capital, cur), "cash_available",
                                jv_amount(b[0], cur), "loans_outstanding", jv_amount(b[1], cur),
                                "distributions_income", jv_amount(b[4], cur), "distributions_principal",
                                jv_amount(b[3], cur), "losses_absorbed", jv_amount(b[5], cur));
    return json_pack("{s:I, s:I, s:{s:I, s:s}, s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:s, s:o, s:s, s:o, s:o}", "id",
                     (json_int_t)id, "fund_id", (json_int_t)fund_id, "investor", "id", (json_int_t)db_i64(r, i, 2),
                     "name", db_str(r, i, 14), "name", db_str(r, i, 3), "kind", db_str(r, i, 4), "rank",
                     (json_int_t)db_i64(r, i, 5), "currency", cur, "return_rate", rate_json(db_i64(r, i, 8)),
                     "fee_rate", rate_json(db_i64(r, i, 9)), "eligibility", elig ? elig : json_object(),
                     "signed_date", db_str(r, i, 11), "provider_activity_id",
                     db_null(r, i, 12) ? json_null() : json_string(db_str(r, i, 12)), "status", db_str(r, i, 13),
                     "as_of", as_of ? json_string(as_of) : json_null(), "figures", figures);
}

json_t *tranche_get(struct db *db, int64_t tranche_id, const char *as_of, struct fl_error *err)
{
    PGresult *r = load(db, tranche_id, false, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *o = tranche_json(db, r, 0, as_of, err);
    PQclear(r);
    return o;
}

json_t *tranche_calls(struct db *db, int64_t tranche_id, struct fl_error *err)
{
    PGresult *r = load(db, tranche_id, false, err);
    if (r == NULL) {
        return NULL;
    }
    char cur[CURRENCY_CODE_BYTES];
    snprintf(cur, sizeof cur, "%s", db_str(r, 0, 6));
    PQclear(r);
    char tb[21];
    const char *p[1] = {db_i64_text(tranche_id, tb)};
    json_t *calls = json_array(), *contribs = json_array();
    PGresult *c = db_exec(db, "tranche_calls_list", 1, p, err);
    PGresult *k = c ? db_exec(db, "tranche_contributions_list", 1, p, err) : NULL;
    bool ok = calls != NULL && contribs != NULL && c != NULL && k != NULL;
    for (int i = 0; ok && i < PQntuples(c); i++) {
        ok = json_array_append_new(calls, json_pack("{s:I, s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)db_i64(c, i, 0),
                                                    "call_no", (json_int_t)db_i64(c, i, 1), "amount",
                                                    jv_amount(db_i64(c, i, 2), cur), "call_date", db_str(c, i, 3),
                                                    "due_date", db_str(c, i, 4), "contributed",
                                                    jv_amount(db_i64(c, i, 5), cur))) == 0;
    }
    for (int i = 0; ok && i < PQntuples(k); i++) {
        ok = json_array_append_new(contribs,
                                   json_pack("{s:I, s:o, s:o, s:s, s:s}", "id", (json_int_t)db_i64(k, i, 0),
                                             "capital_call_id",
                                             db_null(k, i, 1) ? json_null() : json_integer(db_i64(k, i, 1)), "amount",
                                             jv_amount(db_i64(k, i, 2), cur), "received_date", db_str(k, i, 3),
                                             "reference", db_str(k, i, 4))) == 0;
    }
    PQclear(c);
    PQclear(k);
    json_t *o = ok ? json_pack("{s:I, s:s, s:o, s:o}", "tranche_id", (json_int_t)tranche_id, "currency", cur, "calls",
                               calls, "contributions", contribs)
                   : NULL;
    if (!ok) {
        json_decref(calls);
        json_decref(contribs);
        if (c != NULL && k != NULL) {
            fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        }
    } else if (o == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return o;
}

/* What IATI publishes of a tranche (docs/authorization.md): its funder and the funder's own
 * activity id, the currency, the signing date, the commitment (incoming commitments, type 11:
 * signed less cancelled) and what was paid in (incoming funds, type 1: -CONTRIB), read from the
 * same balances as tranche_json. A contribution moves its amount from the COMMITMENT memo
 * account's credit (docs/fund-operations.md), so signed less cancelled = -(COMMITMENT + CONTRIB).
 * Nothing else. */
static json_t *tranche_published_json(struct db *db, const PGresult *r, int i, const char *as_of,
                                      struct fl_error *err)
{
    int64_t id = db_i64(r, i, 0), fund_id = db_i64(r, i, 1);
    const char *cur = db_str(r, i, 6);
    int64_t b[SUFFIXES];
    if (balances(db, fund_id, id, as_of, b, err) != FLE_OK) {
        return NULL;
    }
    /* Both are credit balances (negative): shown as positive figures. */
    return json_pack("{s:I, s:I, s:{s:I, s:s}, s:o, s:s, s:s, s:o, s:{s:o, s:o}}", "id", (json_int_t)id, "fund_id",
                     (json_int_t)fund_id, "investor", "id", (json_int_t)db_i64(r, i, 2), "name", db_str(r, i, 14),
                     "provider_activity_id", db_null(r, i, 12) ? json_null() : json_string(db_str(r, i, 12)),
                     "currency", cur, "signed_date", db_str(r, i, 11), "as_of",
                     as_of ? json_string(as_of) : json_null(), "figures", "commitment",
                     jv_amount(-(b[TRANCHE_COMMITMENT] + b[TRANCHE_CONTRIB]), cur), "paid_in", jv_amount(-b[TRANCHE_CONTRIB], cur));
}

typedef json_t *(*tranche_row_fn)(struct db *db, const PGresult *r, int i, const char *as_of, struct fl_error *err);

static json_t *list_rows(struct db *db, int64_t fund_id, int64_t investor_id, const char *as_of, tranche_row_fn row,
                         struct fl_error *err)
{
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], ib[21];
    const char *p[2] = {db_i64_text(fund_id, fb), investor_id ? db_i64_text(investor_id, ib) : NULL};
    PGresult *r = db_exec(db, "tranche_list", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *t = row(db, r, i, as_of, err);
        if (t == NULL) {
            json_decref(a);
            PQclear(r);
            return NULL;
        }
        json_array_append_new(a, t);
    }
    PQclear(r);
    return json_pack("{s:o}", "tranches", a);
}

json_t *tranche_list(struct db *db, int64_t fund_id, int64_t investor_id, const char *as_of, struct fl_error *err)
{
    return list_rows(db, fund_id, investor_id, as_of, tranche_json, err);
}

json_t *tranche_list_published(struct db *db, int64_t fund_id, const char *as_of, struct fl_error *err)
{
    return list_rows(db, fund_id, 0, as_of, tranche_published_json, err);
}

json_t *tranche_change_propose(struct db *db, const struct principal *maker, int64_t tranche_id, const json_t *ch,
                               struct fl_error *err)
{
    assert(db_in_tx(db));
    PGresult *r = load(db, tranche_id, false, err);
    if (r == NULL) {
        return NULL;
    }
    int64_t fund_id = db_i64(r, 0, 1), commitment_now = db_i64(r, 0, 7);
    char cur[CURRENCY_CODE_BYTES];
    snprintf(cur, sizeof cur, "%s", db_str(r, 0, 6));
    PQclear(r);
    json_t *norm = json_object();
    int64_t amount = 0;
    enum fl_err e = FLE_OK;
    const char *s;
    if ((s = json_string_value(json_object_get(ch, "commitment"))) != NULL) {
        int64_t c;
        e = parse_amount(s, cur, "commitment", true, &c, err);
        if (e == FLE_OK) {
            int64_t b[SUFFIXES];
            e = balances(db, fund_id, tranche_id, NULL, b, err);
            if (e == FLE_OK && c < -b[2]) {
                e = fl_error_set(err, FLE_RULE, "commitment", "below what is already paid in");
            }
            json_object_set_new(norm, "commitment", jv_amount(c, cur));
            amount = c > commitment_now ? c - commitment_now : commitment_now - c;
        }
    }
    int64_t rate;
    if (e == FLE_OK && (s = json_string_value(json_object_get(ch, "return_rate"))) != NULL) {
        e = parse_rate(s, "return_rate", &rate, err);
        json_object_set_new(norm, "return_rate", rate_json(rate));
    }
    if (e == FLE_OK && (s = json_string_value(json_object_get(ch, "fee_rate"))) != NULL) {
        e = parse_rate(s, "fee_rate", &rate, err);
        json_object_set_new(norm, "fee_rate", rate_json(rate));
    }
    if (e == FLE_OK && json_object_get(ch, "eligibility") != NULL) {
        e = check_eligibility(db, json_object_get(ch, "eligibility"), err);
        json_object_set(norm, "eligibility", json_object_get(ch, "eligibility"));
    }
    if (e == FLE_OK && (s = json_string_value(json_object_get(ch, "status"))) != NULL) {
        if (strcmp(s, "closed") != 0 && strcmp(s, "active") != 0) {
            e = fl_error_set(err, FLE_BAD_FIELD, "status", "active or closed");
        }
        json_object_set_new(norm, "status", json_string(s));
    }
    if (e == FLE_OK && json_object_size(norm) == 0) {
        e = fl_error_set(err, FLE_MISSING_FIELD, "changes", "nothing to change");
    }
    if (e != FLE_OK) {
        json_decref(norm);
        return NULL;
    }
    json_object_set_new(norm, "tranche_id", json_integer(tranche_id));
    return approval_propose(db, maker, fund_id, "tranche_change", norm, amount, cur, err);
}

enum fl_err tranche_change_execute(struct db *db, const struct proposal *p, const struct principal *approver,
                                   int64_t *entry_id, struct fl_error *err)
{
    const json_t *pl = p->payload;
    int64_t tid = json_integer_value(json_object_get(pl, "tranche_id"));
    PGresult *r = load(db, tid, true, err);
    if (r == NULL) {
        return err->code;
    }
    json_error_t je;
    char cur[CURRENCY_CODE_BYTES];
    snprintf(cur, sizeof cur, "%s", db_str(r, 0, 6));
    int64_t old_commitment = db_i64(r, 0, 7), new_commitment = old_commitment;
    int64_t new_ret = db_i64(r, 0, 8), new_fee = db_i64(r, 0, 9);
    /* before and after as the tranche_change row keeps them: money and rates as decimal strings. */
    json_t *before = json_pack("{s:o, s:o, s:o, s:o, s:s}", "commitment", jv_amount(old_commitment, cur),
                               "return_rate", rate_json(new_ret), "fee_rate", rate_json(new_fee), "eligibility",
                               json_loads(db_str(r, 0, 10), 0, &je), "status", db_str(r, 0, 13));
    PQclear(r);
    /* What the proposal changes; a payload stored before amounts were strings has commitment_minor
     * and integer rates. */
    bool has_commitment = json_object_get(pl, "commitment") || json_object_get(pl, "commitment_minor");
    if (before == NULL ||
        (has_commitment && !jv_stored_amount(pl, "commitment", "commitment_minor", cur, false, &new_commitment)) ||
        (json_object_get(pl, "return_rate") && !stored_rate(pl, "return_rate", &new_ret)) ||
        (json_object_get(pl, "fee_rate") && !stored_rate(pl, "fee_rate", &new_fee))) {
        json_decref(before);
        return fl_error_set(err, FLE_INTERNAL, NULL, "tranche_change proposal %" PRId64 " does not read", p->id);
    }
    json_t *after = json_deep_copy(before);
    json_object_set_new(after, "commitment", jv_amount(new_commitment, cur));
    json_object_set_new(after, "return_rate", rate_json(new_ret));
    json_object_set_new(after, "fee_rate", rate_json(new_fee));
    if (json_object_get(pl, "eligibility") != NULL) {
        json_object_set(after, "eligibility", json_object_get(pl, "eligibility"));
    }
    if (json_is_string(json_object_get(pl, "status"))) {
        json_object_set(after, "status", json_object_get(pl, "status"));
    }
    int64_t b[SUFFIXES];
    enum fl_err e = balances(db, p->fund_id, tid, NULL, b, err);
    if (e == FLE_OK && new_commitment < -b[2]) {
        e = fl_error_set(err, FLE_RULE, "commitment", "below what is already paid in");
    }
    char *elig = json_dumps(json_object_get(after, "eligibility"), JSON_COMPACT | JSON_SORT_KEYS);
    char *btext = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS), *atext = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
    char tb[21], cb[21], rb[21], fb[21], pb[21];
    if (e == FLE_OK) {
        const char *params[6] = {db_i64_text(tid, tb), db_i64_text(new_commitment, cb),
                                 db_i64_text(new_ret, rb), db_i64_text(new_fee, fb), elig,
                                 json_string_value(json_object_get(after, "status"))};
        r = db_exec(db, "tranche_update", 6, params, err);
        e = r ? FLE_OK : err->code;
        PQclear(r);
    }
    if (e == FLE_OK) {
        const char *params[4] = {tb, db_i64_text(p->id, pb), btext, atext};
        r = db_exec(db, "tranche_change_record", 4, params, err);
        e = r ? FLE_OK : err->code;
        PQclear(r);
    }
    free(elig);
    free(btext);
    free(atext);
    json_decref(before);
    json_decref(after);
    *entry_id = 0;
    if (e == FLE_OK && new_commitment != old_commitment) {
        int64_t unfunded, commitment;
        int64_t delta = new_commitment - old_commitment;
        if ((e = tranche_account(db, p->fund_id, tid, "UNFUNDED", &unfunded, err)) == FLE_OK &&
            (e = tranche_account(db, p->fund_id, tid, "COMMITMENT", &commitment, err)) == FLE_OK) {
            char today[11], ref[40];
            tranche_today(today);
            snprintf(ref, sizeof ref, "tranche:%" PRId64, tid);
            int64_t accounts[2] = {unfunded, commitment};
            int64_t amounts[2] = {delta, -delta};
            e = post(db, p->fund_id, approver->user_id, today, delta > 0 ? "tranche_signed" : "commitment_cancellation",
                     ref, "tranche commitment changed", accounts, amounts, 2, cur, entry_id, err);
        }
    }
    return e;
}

/* Loads a tranche for a capital movement: checks it is active and returns fund, currency and the
 * unfunded balance. */
static enum fl_err movement_context(struct db *db, int64_t tranche_id, int64_t *fund_id, char cur[4],
                                    int64_t *unfunded, struct fl_error *err)
{
    PGresult *r = load(db, tranche_id, true, err);
    if (r == NULL) {
        return err->code;
    }
    *fund_id = db_i64(r, 0, 1);
    snprintf(cur, CURRENCY_CODE_BYTES, "%s", db_str(r, 0, 6));
    bool active = strcmp(db_str(r, 0, 13), "active") == 0;
    PQclear(r);
    if (!active) {
        return fl_error_set(err, FLE_CONFLICT, "tranche_id", "the tranche is closed");
    }
    int64_t b[SUFFIXES];
    enum fl_err e = balances(db, *fund_id, tranche_id, NULL, b, err);
    *unfunded = b[6];
    return e;
}

json_t *tranche_call(struct db *db, const struct principal *actor, int64_t tranche_id, const char *amount,
                     const char *call_date, const char *due_date, struct fl_error *err)
{
    assert(db_in_tx(db));
    int64_t fund_id, unfunded, minor;
    char cur[CURRENCY_CODE_BYTES];
    if (movement_context(db, tranche_id, &fund_id, cur, &unfunded, err) != FLE_OK ||
        parse_amount(amount, cur, "amount", true, &minor, err) != FLE_OK) {
        return NULL;
    }
    if (!date_ok(call_date, true)) {
        fl_error_set(err, FLE_BAD_FIELD, "call_date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    if (!date_ok(due_date, false) || strcmp(due_date, call_date) < 0) {
        fl_error_set(err, FLE_BAD_FIELD, "due_date", "a date YYYY-MM-DD on or after the call date");
        return NULL;
    }
    if (minor > unfunded) {
        fl_error_set(err, FLE_RULE, "amount", "more than the unfunded commitment");
        return NULL;
    }
    char tb[21], ab[21], ub[21];
    const char *p[5] = {db_i64_text(tranche_id, tb), db_i64_text(minor, ab), call_date, due_date,
                        db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec(db, "tranche_call", 5, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *o = json_pack("{s:I, s:I, s:I, s:o, s:s, s:s}", "id", (json_int_t)db_i64(r, 0, 0), "tranche_id",
                          (json_int_t)tranche_id, "call_no", (json_int_t)db_i64(r, 0, 1), "amount",
                          jv_amount(minor, cur), "call_date", call_date, "due_date", due_date);
    char idb[21];
    db_i64_text(db_i64(r, 0, 0), idb);
    PQclear(r);
    if (audit_record(db, actor, "capital_call.create", "capital_call", idb, fund_id,
                     json_pack("{s:I, s:o}", "tranche_id", (json_int_t)tranche_id, "amount", jv_amount(minor, cur)),
                     err) != FLE_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *tranche_contribute(struct db *db, const struct principal *actor, int64_t tranche_id, const char *amount,
                           const char *received_date, const char *reference, int64_t call_id, struct fl_error *err)
{
    assert(db_in_tx(db));
    int64_t fund_id, unfunded, minor;
    char cur[CURRENCY_CODE_BYTES];
    if (movement_context(db, tranche_id, &fund_id, cur, &unfunded, err) != FLE_OK ||
        parse_amount(amount, cur, "amount", true, &minor, err) != FLE_OK) {
        return NULL;
    }
    if (!date_ok(received_date, true)) {
        fl_error_set(err, FLE_BAD_FIELD, "received_date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    if (reference == NULL || reference[0] == '\0' || strlen(reference) > 200) {
        fl_error_set(err, FLE_BAD_FIELD, "reference", "the bank reference, 1-200 characters");
        return NULL;
    }
    if (minor > unfunded) {
        fl_error_set(err, FLE_RULE, "amount", "more than the unfunded commitment");
        return NULL;
    }
    int64_t acc[4];
    static const char *const which[4] = {"CASH", "CONTRIB", "COMMITMENT", "UNFUNDED"};
    for (int i = 0; i < 4; i++) {
        if (tranche_account(db, fund_id, tranche_id, which[i], &acc[i], err) != FLE_OK) {
            return NULL;
        }
    }
    int64_t amounts[4] = {minor, -minor, minor, -minor};
    char ref[40];
    snprintf(ref, sizeof ref, "tranche:%" PRId64, tranche_id);
    int64_t entry_id = 0;
    if (post(db, fund_id, actor->user_id, received_date, "contribution", ref, "capital contribution", acc, amounts, 4,
             cur, &entry_id, err) != FLE_OK) {
        return NULL;
    }
    char tb[21], ab[21], eb[21], ub[21], cb[21];
    const char *p[7] = {db_i64_text(tranche_id, tb), call_id ? db_i64_text(call_id, cb) : NULL,
                        db_i64_text(minor, ab), received_date, reference, db_i64_text(entry_id, eb),
                        db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec(db, "tranche_contribute", 7, p, err);
    if (r == NULL) {
        if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_DUPLICATE, "reference", "a contribution with this reference was recorded");
        }
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        fl_error_set(err, FLE_BAD_FIELD, "capital_call_id", "no such capital call of this tranche");
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char idb[21];
    if (audit_record(db, actor, "contribution.record", "contribution", db_i64_text(id, idb), fund_id,
                     json_pack("{s:I, s:o, s:I}", "tranche_id", (json_int_t)tranche_id, "amount",
                               jv_amount(minor, cur), "entry_id", (json_int_t)entry_id),
                     err) != FLE_OK) {
        return NULL;
    }
    return json_pack("{s:I, s:I, s:o, s:s, s:s, s:I}", "id", (json_int_t)id, "tranche_id", (json_int_t)tranche_id,
                     "amount", jv_amount(minor, cur), "received_date", received_date, "reference", reference,
                     "entry_id", (json_int_t)entry_id);
}

json_t *tranche_cancel(struct db *db, const struct principal *actor, int64_t tranche_id, const char *amount,
                       const char *cancel_date, const char *reason, struct fl_error *err)
{
    assert(db_in_tx(db));
    int64_t fund_id, unfunded, minor;
    char cur[CURRENCY_CODE_BYTES];
    if (movement_context(db, tranche_id, &fund_id, cur, &unfunded, err) != FLE_OK ||
        parse_amount(amount, cur, "amount", true, &minor, err) != FLE_OK) {
        return NULL;
    }
    if (!date_ok(cancel_date, true)) {
        fl_error_set(err, FLE_BAD_FIELD, "cancel_date", "a date YYYY-MM-DD, not in the future");
        return NULL;
    }
    if (reason == NULL || reason[0] == '\0' || strlen(reason) > REASON_BYTES_MAX) {
        fl_error_set(err, FLE_BAD_FIELD, "reason", "say why: 1-%d characters", REASON_BYTES_MAX);
        return NULL;
    }
    if (minor > unfunded) {
        fl_error_set(err, FLE_RULE, "amount", "more than the unfunded commitment");
        return NULL;
    }
    int64_t acc[2];
    if (tranche_account(db, fund_id, tranche_id, "COMMITMENT", &acc[0], err) != FLE_OK ||
        tranche_account(db, fund_id, tranche_id, "UNFUNDED", &acc[1], err) != FLE_OK) {
        return NULL;
    }
    int64_t amounts[2] = {minor, -minor};
    char ref[40];
    snprintf(ref, sizeof ref, "tranche:%" PRId64, tranche_id);
    int64_t entry_id = 0;
    if (post(db, fund_id, actor->user_id, cancel_date, "commitment_cancellation", ref, reason, acc, amounts, 2, cur,
             &entry_id, err) != FLE_OK) {
        return NULL;
    }
    char tb[21], ab[21], eb[21], ub[21];
    const char *p[6] = {db_i64_text(tranche_id, tb), db_i64_text(minor, ab), cancel_date, reason,
                        db_i64_text(entry_id, eb), db_i64_text(actor->user_id, ub)};
    PGresult *r = db_exec(db, "tranche_cancel", 6, p, err);
    if (r == NULL) {
        return NULL;
    }
    int64_t id = db_i64(r, 0, 0);
    PQclear(r);
    char idb[21];
    if (audit_record(db, actor, "commitment.cancel", "tranche", db_i64_text(tranche_id, idb), fund_id,
                     json_pack("{s:o}", "amount", jv_amount(minor, cur)), err) != FLE_OK) {
        return NULL;
    }
    return json_pack("{s:I, s:I, s:o, s:s, s:I}", "id", (json_int_t)id, "tranche_id", (json_int_t)tranche_id,
                     "amount", jv_amount(minor, cur), "cancel_date", cancel_date, "entry_id", (json_int_t)entry_id);
}
