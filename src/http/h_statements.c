/* h_statements: investor statements as JSON or as a self-contained HTML page. An investor
 * reads only its own organisation's statements; staff read any investor's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "fundledger/http.h"
#include "fundledger/statement.h"
#include "fundledger/tranche.h"

/* The template's file name inside the configured reports directory. */
#define STATEMENT_TEMPLATE_FILE "statement.html"

/* An investor may ask only for its own organisation and its own tranches. Replies 403 (or the
 * tranche lookup's error) and returns false otherwise; fills in the investor id when absent. */
static bool investor_scope(struct http_req *r, int64_t *investor_id, int64_t tranche_id, struct http_reply *out)
{
    if (r->who.role != ROLE_INVESTOR) {
        if (*investor_id == 0) {
            http_reply_fail(out, FLE_BAD_PARAM, "investor_id", "the investor organisation id is required");
            return false;
        }
        return true;
    }
    if (*investor_id == 0) {
        *investor_id = r->who.organisation_id;
    } else if (*investor_id != r->who.organisation_id) {
        http_reply_fail(out, FLE_FORBIDDEN, "investor_id", "an investor reads only its own statements");
        return false;
    }
    if (tranche_id != 0) {
        struct fl_error err;
        fl_error_clear(&err);
        json_t *t = tranche_get(r->db, tranche_id, NULL, &err);
        if (t == NULL) {
            http_reply_error(out, &err);
            return false;
        }
        json_int_t owner = json_integer_value(json_object_get(json_object_get(t, "investor"), "id"));
        json_decref(t);
        if (owner != r->who.organisation_id) {
            http_reply_fail(out, FLE_FORBIDDEN, "tranche_id", "an investor reads only its own tranches");
            return false;
        }
    }
    return true;
}

void h_statements_get(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, investor_id, tranche_id;
    const char *period_end;
    if (!http_param_id(r, 0, &fund_id, out) || !http_query_id(r, "investor_id", &investor_id, out) ||
        !http_query_id(r, "tranche_id", &tranche_id, out) || !http_query_date(r, "period_end", &period_end, out)) {
        return;
    }
    char today[DATE_TEXT_BYTES];
    if (period_end == NULL) {
        tranche_today(today); /* no period end given: the statement as of today */
        period_end = today;
    }
    const char *format = http_query(r, "format");
    bool html = false;
    if (format != NULL && strcmp(format, "html") == 0) {
        html = true;
    } else if (format != NULL && strcmp(format, "json") != 0) {
        http_reply_fail(out, FLE_BAD_PARAM, "format", "json (default) or html");
        return;
    }
    if (!investor_scope(r, &investor_id, tranche_id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    json_t *st = NULL;
    enum fl_err built = statement_build(r->db, fund_id, investor_id, tranche_id, period_end, &st, &err);
    if (built != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    if (!html) {
        http_reply_json(out, 200, st);
        return;
    }
    char path[sizeof r->cfg->reports_dir + sizeof STATEMENT_TEMPLATE_FILE + 1];
    int n = snprintf(path, sizeof path, "%s/%s", r->cfg->reports_dir, STATEMENT_TEMPLATE_FILE);
    char *page = NULL;
    enum fl_err e = n > 0 && (size_t)n < sizeof path
                        ? statement_render_html(st, path, &page, &err)
                        : fl_error_set(&err, FLE_INTERNAL, NULL, "the reports directory path is too long");
    json_decref(st);
    if (e != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    out->status = 200;
    out->text = page;
    out->content_type = "text/html; charset=utf-8";
}
