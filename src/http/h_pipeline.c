/* h_pipeline: entrepreneurs in the pipeline, their stage moves, the funnel, human-security
 * measures, and the reference lists (municipalities, value chains). */
#include <string.h>

#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/pipeline.h"

/* An optional boolean query argument: absent -> *out NULL; "true"/"false" -> *out points at
 * store; anything else -> 400 naming the argument. */
static bool query_bool(struct http_req *r, const char *name, bool *store, const bool **out, struct http_reply *reply)
{
    const char *v = http_query(r, name);
    *out = NULL;
    if (v == NULL) {
        return true;
    }
    if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        http_reply_fail(reply, FLE_BAD_PARAM, name, "true or false");
        return false;
    }
    *store = strcmp(v, "true") == 0;
    *out = store;
    return true;
}

struct entrepreneur_create_args {
    const struct principal *who;
    int64_t fund_id;
    struct pipeline_entrepreneur_input in;
};

static enum fl_err entrepreneur_create_op(struct db *db, void *arg, unsigned *status, json_t **reply,
                                          struct fl_error *err)
{
    struct entrepreneur_create_args *a = arg;
    *status = 201;
    *reply = pipeline_entrepreneur_create(db, a->who, a->fund_id, &a->in, err);
    return *reply ? FLE_OK : err->code;
}

void h_entrepreneurs_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
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
    struct entrepreneur_create_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    json_t *members = json_object_get(r->body, "members");
    a.in = (struct pipeline_entrepreneur_input){
        .kind = jv_str(r->body, "kind"),
        .name = jv_str(r->body, "name"),
        .tax_id = jv_str(r->body, "tax_id"),
        .municipality_code = jv_str(r->body, "municipality_code"),
        .value_chain = jv_str(r->body, "value_chain"),
        .women_led = json_is_true(json_object_get(r->body, "women_led")),
        .youth_led = json_is_true(json_object_get(r->body, "youth_led")),
        .conflict_victim = json_is_true(json_object_get(r->body, "conflict_victim")),
        .members = json_is_integer(members) ? json_integer_value(members) : 1,
        .requested = jv_str(r->body, "requested"),
        .purpose = jv_str(r->body, "purpose"),
    };
    http_write(r, out, entrepreneur_create_op, &a);
}

void h_entrepreneurs_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, after;
    unsigned limit;
    bool women, youth, victim;
    struct pipeline_filter f = {
        .stage = http_query(r, "stage"),
        .municipality_code = http_query(r, "municipality"),
        .value_chain = http_query(r, "value_chain"),
    };
    if (!http_param_id(r, 0, &fund_id, out) || !query_bool(r, "women_led", &women, &f.women_led, out) ||
        !query_bool(r, "youth_led", &youth, &f.youth_led, out) ||
        !query_bool(r, "conflict_victim", &victim, &f.conflict_victim, out) ||
        !http_query_page(r, &after, &limit, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, pipeline_entrepreneurs_list(r->db, fund_id, &f, after, limit, &err), &err);
}

void h_entrepreneurs_get(struct http_req *r, struct http_reply *out)
{
    http_read_id(r, out, pipeline_entrepreneur_get);
}

struct move_args {
    const struct principal *who;
    int64_t id;
    const char *to, *reason;
};

static enum fl_err move_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct move_args *a = arg;
    *status = 200;
    *reply = pipeline_move(db, a->who, a->id, a->to, a->reason, err);
    return *reply ? FLE_OK : err->code;
}

void h_entrepreneurs_move(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"to", JV_STRING, true, 32},
        {"reason", JV_TEXT, false, REASON_BYTES_MAX},
    };
    struct move_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.to = jv_str(r->body, "to");
    a.reason = jv_str(r->body, "reason");
    http_write(r, out, move_op, &a);
}

void h_funnel(struct http_req *r, struct http_reply *out)
{
    int64_t id;
    if (!http_param_id(r, 0, &id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, pipeline_funnel(r->db, id, &err), &err);
}

struct measure_args {
    const struct principal *who;
    int64_t fund_id;
    struct pipeline_measure_input in;
};

static enum fl_err measure_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct measure_args *a = arg;
    *status = 201;
    *reply = pipeline_measure_record(db, a->who, a->fund_id, &a->in, err);
    return *reply ? FLE_OK : err->code;
}

void h_hs_measures_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {
        {"municipality_code", JV_STRING, true, 5},
        {"entrepreneur_id", JV_ID, false, 0},
        {"round", JV_UINT, true, PIPELINE_ROUND_MAX},
        {"dimension", JV_STRING, true, 32},
        {"indicator", JV_STRING, true, PIPELINE_INDICATOR_BYTES_MAX},
        {"raw_value", JV_STRING, true, 40},
        {"score", JV_STRING, true, 8},
        {"method", JV_TEXT, false, PIPELINE_METHOD_BYTES_MAX},
        {"measured_on", JV_DATE, true, 0},
    };
    struct measure_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, sizeof spec / sizeof spec[0], "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    a.in = (struct pipeline_measure_input){
        .municipality_code = jv_str(r->body, "municipality_code"),
        .entrepreneur_id = jv_int(r->body, "entrepreneur_id"),
        .round = jv_int(r->body, "round"),
        .dimension = jv_str(r->body, "dimension"),
        .indicator = jv_str(r->body, "indicator"),
        .raw_value = jv_str(r->body, "raw_value"),
        .score = jv_str(r->body, "score"),
        .method = jv_str(r->body, "method"),
        .measured_on = jv_str(r->body, "measured_on"),
    };
    http_write(r, out, measure_op, &a);
}

struct approve_args {
    const struct principal *who;
    int64_t id;
};

static enum fl_err approve_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct approve_args *a = arg;
    *status = 200;
    *reply = pipeline_measure_approve(db, a->who, a->id, err);
    return *reply ? FLE_OK : err->code;
}

void h_hs_measures_approve(struct http_req *r, struct http_reply *out)
{
    struct approve_args a = {.who = &r->who};
    struct fl_error err;
    if (!http_param_id(r, 0, &a.id, out)) {
        return;
    }
    if (jv_check(r->body, NULL, 0, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    http_write(r, out, approve_op, &a);
}

void h_hs_measures_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, after, round = -1;
    unsigned limit;
    if (!http_param_id(r, 0, &fund_id, out) || !http_query_page(r, &after, &limit, out)) {
        return;
    }
    const char *rs = http_query(r, "round");
    if (rs != NULL) {
        size_t n = strlen(rs);
        if (n == 0 || n > 3 || strspn(rs, "0123456789") != n) {
            http_reply_fail(out, FLE_BAD_PARAM, "round", "0 (baseline) to 100");
            return;
        }
        round = 0;
        for (size_t i = 0; i < n; i++) {
            round = round * 10 + (rs[i] - '0');
        }
    }
    /* A transparency officer sees what may be published: approved, municipality-level measures. */
    bool public_only = r->who.role == ROLE_TRANSPARENCY_OFFICER;
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200,
                      pipeline_measures_list(r->db, fund_id, http_query(r, "municipality"), round,
                                             http_query(r, "dimension"), public_only, after, limit, &err),
                      &err);
}

void h_municipalities_list(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, pipeline_municipalities_list(r->db, &err), &err);
}

void h_value_chains_list(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, pipeline_value_chains_list(r->db, &err), &err);
}
