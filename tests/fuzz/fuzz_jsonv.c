/* fuzz_jsonv: request bodies through jv_parse (jansson's json_loadb behind a depth bound) and
 * the field specs of real handlers through jv_check, each checked against what jsonv.h
 * promises: a parsed body is an object no deeper than JSON_DEPTH_MAX that prints and parses
 * back to itself; a spec accepts exactly the objects whose members it lists with their types
 * and bounds; every error has a known code, names a field the body or spec has, and can be
 * sent as JSON (valid UTF-8: http_reply_fail builds the body with json_pack). */
#include <jansson.h>
#include <stdbool.h>

#include "fundledger/error.h"
#include "fundledger/jsonv.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/loan.h"
#include "fundledger/repayment.h"
#include "fuzz.h"

/* Copies of handler specs (the arrays are static in their handlers): keep them in step. */
/* src/http/h_entries.c h_entries_propose */
static const struct jv_field entry_spec[] = {
    {"effective_date", JV_DATE, true, 0},
    {"memo", JV_TEXT, false, LEDGER_MEMO_BYTES_MAX},
    {"lines", JV_ARRAY, true, LEDGER_LINES_MAX},
};
static const struct jv_field line_spec[] = {
    {"account_id", JV_ID, true, 0},
    {"debit", JV_AMOUNT, false, 0},
    {"credit", JV_AMOUNT, false, 0},
};
/* src/http/h_repayments.c cash_in */
static const struct jv_field repayment_spec[] = {
    {"amount", JV_AMOUNT, true, 32},
    {"value_date", JV_DATE, true, 10},
    {"reference", JV_STRING, true, REPAYMENT_REFERENCE_BYTES_MAX},
};
/* src/http/h_loans.c h_loans_propose */
static const struct jv_field loan_spec[] = {
    {"entrepreneur_id", JV_ID, true, 0},     {"principal", JV_AMOUNT, true, 0},
    {"annual_rate", JV_STRING, true, 20},    {"day_count", JV_STRING, false, 8},
    {"payments_per_year", JV_ID, true, 12},  {"term_count", JV_ID, true, 600},
    {"first_due_date", JV_DATE, true, 0},    {"grace_principal", JV_UINT, false, 600},
    {"grace_interest", JV_UINT, false, 600}, {"amortisation", JV_STRING, true, 16},
    {"modality", JV_STRING, false, 20},      {"purpose", JV_TEXT, false, 1000},
    {"approval_date", JV_DATE, false, 0},    {"shares", JV_ARRAY, false, LOAN_FUNDING_MAX},
};
/* src/http/h_pipeline.c h_entrepreneurs_create */
static const struct jv_field entrepreneur_spec[] = {
    {"kind", JV_STRING, true, 16},
    {"name", JV_STRING, true, PIPELINE_NAME_BYTES_MAX},
    {"tax_id", JV_STRING, false, 20},
    {"municipality_code", JV_STRING, true, 5},
    {"value_chain", JV_STRING, true, 32},
    {"women_led", JV_BOOL, false, 0},
    {"youth_led", JV_BOOL, false, 0},
    {"conflict_victim", JV_BOOL, false, 0},
    {"members", JV_UINT, false, 0},
    {"requested", JV_AMOUNT, false, 0},
    {"purpose", JV_TEXT, false, PIPELINE_PURPOSE_BYTES_MAX},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static size_t depth_of(const json_t *j)
{
    size_t deepest = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            size_t d = depth_of(v);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            size_t d = depth_of(json_array_get(j, i));
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

/* The error can be sent: known code, one line, valid UTF-8 in field and message. */
static void check_error(const struct fl_error *err, enum fl_err e)
{
    FUZZ_CHECK(e > FLE_OK && e < FLE_COUNT_ && err->code == e, "error code %d / %d", (int)e, (int)err->code);
    FUZZ_CHECK(err->message[0] != '\0' && strchr(err->message, '\n') == NULL, "message '%s'", err->message);
    json_t *f = json_string(err->field), *m = json_string(err->message);
    FUZZ_CHECK(f != NULL, "error field is not valid UTF-8: '%s'", err->field);
    FUZZ_CHECK(m != NULL, "error message is not valid UTF-8: '%s'", err->message);
    json_decref(f);
    json_decref(m);
}

/* What jv_check should say about one member, from jsonv.h alone. */
static bool member_ok(const struct jv_field *f, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = s ? json_string_length(v) : 0;
    switch (f->type) {
    case JV_STRING:
    case JV_TEXT:
        return s != NULL && memchr(s, '\0', len) == NULL && (f->type == JV_TEXT || len > 0) &&
               (f->max_len == 0 || len <= f->max_len);
    case JV_AMOUNT:
        return s != NULL && len > 0 && len <= 40 && strspn(s, "-0123456789.") == len;
    case JV_DATE:
        return s != NULL && ledger_date_valid(s);
    case JV_ID:
    case JV_UINT:
        return json_is_integer(v) && json_integer_value(v) >= (f->type == JV_ID ? 1 : 0) &&
               (f->max_len == 0 || (json_int_t)f->max_len >= json_integer_value(v));
    case JV_BOOL:
        return json_is_boolean(v);
    case JV_ARRAY:
        return json_is_array(v) && json_array_size(v) >= 1 && (f->max_len == 0 || json_array_size(v) <= f->max_len);
    case JV_OBJECT:
        return json_is_object(v);
    }
    return false;
}

/* Runs jv_check and checks its verdict member by member. */
static bool check_spec(const json_t *obj, const struct jv_field *spec, size_t n, const char *prefix)
{
    struct fl_error err;
    memset(&err, 0, sizeof err);
    enum fl_err e = jv_check(obj, spec, n, prefix, &err);
    bool want = json_is_object(obj);
    if (want) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)obj, k, v)
        {
            bool known = false;
            for (size_t i = 0; i < n; i++) {
                known = known || strcmp(spec[i].name, k) == 0;
            }
            want = want && known;
        }
        for (size_t i = 0; i < n && want; i++) {
            json_t *v = json_object_get(obj, spec[i].name);
            if (v == NULL || json_is_null(v)) {
                want = !spec[i].required;
            } else {
                want = member_ok(&spec[i], v);
            }
        }
    }
    FUZZ_CHECK((e == FLE_OK) == want, "jv_check gave %d (%s: %s), the spec says %s", (int)e, err.field, err.message,
               want ? "accept" : "refuse");
    if (e != FLE_OK) {
        check_error(&err, e);
        FUZZ_CHECK(e == FLE_BAD_JSON || e == FLE_BAD_FIELD || e == FLE_UNKNOWN_FIELD || e == FLE_MISSING_FIELD,
                   "jv_check code %d", (int)e);
        FUZZ_CHECK(prefix[0] == '\0' || strncmp(err.field, prefix, strlen(prefix)) == 0,
                   "field '%s' without prefix '%s'", err.field, prefix);
        if (e == FLE_MISSING_FIELD || e == FLE_BAD_FIELD) {
            /* A field of the spec (or the prefix itself for a non-object). */
            const char *name = err.field + (prefix[0] ? strlen(prefix) + 1 : 0);
            bool in_spec = !json_is_object(obj);
            for (size_t i = 0; i < n; i++) {
                in_spec = in_spec || strcmp(spec[i].name, name) == 0;
            }
            FUZZ_CHECK(in_spec, "field '%s' is not in the spec", err.field);
        }
    }
    return e == FLE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) {
        return 0;
    }
    struct fl_error err;
    memset(&err, 0, sizeof err);
    json_t *j = jv_parse((const char *)data, size, &err);
    if (j == NULL) {
        check_error(&err, err.code);
        /* Only a body jansson finds not UTF-8 may name where (the member, or "body"; a refusal that
         * comes first, such as the depth bound, names none); any other refusal names no field. The
         * reference: jansson's own error code on the same bytes. */
        json_error_t je;
        json_t *raw = size > 0 ? json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je) : NULL;
        bool bad_utf8 = raw == NULL && size > 0 && json_error_code(&je) == json_error_invalid_utf8;
        json_decref(raw);
        FUZZ_CHECK(err.code == FLE_BAD_JSON && (bad_utf8 || err.field[0] == '\0'),
                   "jv_parse error %d field '%s' (body %s UTF-8)", (int)err.code, err.field, bad_utf8 ? "not" : "is");
        /* Whatever jansson accepts as an object within the depth bound, jv_parse accepts too. */
        json_t *direct = size > 0 ? json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL) : NULL;
        FUZZ_CHECK(direct == NULL || !json_is_object(direct) || depth_of(direct) > JSON_DEPTH_MAX,
                   "jv_parse refused an object of depth %zu that jansson reads", depth_of(direct));
        json_decref(direct);
        return 0;
    }
    FUZZ_CHECK(json_is_object(j), "jv_parse returned a non-object");
    FUZZ_CHECK(depth_of(j) <= JSON_DEPTH_MAX, "depth %zu > %d", depth_of(j), JSON_DEPTH_MAX);

    /* Printed and parsed again: the same value. */
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL, "a parsed body does not print");
    json_t *again = jv_parse(text, strlen(text), &err);
    FUZZ_CHECK(again != NULL && json_equal(j, again), "'%s' does not parse back to itself", text);
    json_decref(again);
    free(text);

    if (check_spec(j, entry_spec, N(entry_spec), "")) {
        json_t *lines = json_object_get(j, "lines");
        for (size_t i = 0; i < json_array_size(lines); i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "lines[%zu]", i);
            check_spec(json_array_get(lines, i), line_spec, N(line_spec), prefix);
        }
    }
    check_spec(j, repayment_spec, N(repayment_spec), "");
    check_spec(j, loan_spec, N(loan_spec), "");
    check_spec(j, entrepreneur_spec, N(entrepreneur_spec), "");
    /* A route that takes no body members (h_pipeline.c: jv_check(body, NULL, 0, ...)). */
    check_spec(j, NULL, 0, "");
    json_decref(j);
    return 0;
}
