/* h_iati: IATI publications: publish (transparency officer, checked first), and the public list,
 * files, changes and exclusions policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/http.h"
#include "fundledger/iati_export.h"
#include "fundledger/jsonv.h"

/* The URL the files give for the exclusions policy: this server's public page. */
#define POLICY_URL_BYTES 256

struct publish_args {
    const struct principal *who;
    struct iati_export_options o;
    struct iati_problems problems;
};

static enum fl_err publish_op(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err)
{
    struct publish_args *a = arg;
    iati_problems_free(&a->problems); /* a retry starts over */
    *status = 201;
    *reply = NULL;
    if (iati_export_snapshot(db, err) != FLE_OK) {
        return err->code;
    }
    *reply = iati_publication_create(db, a->who, &a->o, &a->problems, err);
    return *reply ? FLE_OK : err->code;
}

/* The export's options from the configuration; policy (POLICY_URL_BYTES) receives the policy URL:
 * given, or this server's /v1/iati/exclusions-policy. */
static void export_options(struct http_req *r, const char *given, char *policy, struct iati_export_options *o)
{
    if (given != NULL) {
        snprintf(policy, POLICY_URL_BYTES, "%s", given);
    } else {
        snprintf(policy, POLICY_URL_BYTES, "http://%s/v1/iati/exclusions-policy", r->cfg->listen);
    }
    const char *tmp = getenv("TMPDIR");
    o->out_dir = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
    o->reporting_org_ref = r->cfg->iati_reporting_org_ref;
    o->schema_dir = r->cfg->iati_schema_dir;
    o->codelist_dir = r->cfg->iati_codelist_dir;
    o->policy_url = policy;
    o->small_group_min = r->cfg->iati_small_group_min;
}

void h_publications_create(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {{"policy_url", JV_STRING, false, POLICY_URL_BYTES - 1}};
    struct publish_args a = {.who = &r->who};
    struct fl_error err;
    fl_error_clear(&err);
    if (!http_param_id(r, 0, &a.o.fund_id, out)) {
        return;
    }
    if (jv_check(r->body, spec, 1, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    char policy[POLICY_URL_BYTES];
    export_options(r, jv_str(r->body, "policy_url"), policy, &a.o);
    iati_problems_init(&a.problems);
    http_write(r, out, publish_op, &a);
    /* A refused publication: the error body lists every problem found. */
    json_t *e = out->json != NULL ? json_object_get(out->json, "error") : NULL;
    if (e != NULL && (a.problems.count > 0 || a.problems.dropped > 0)) {
        json_object_set_new(e, "problems", iati_problems_json(&a.problems, 0));
    }
    iati_problems_free(&a.problems);
}

void h_publications_list(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id;
    if (!http_param_id(r, 0, &fund_id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, iati_publication_list(r->db, fund_id, &err), &err);
}

/* Path parameter 1: a version number or "latest" (0). */
static bool version_param(struct http_req *r, int64_t *version, struct http_reply *out)
{
    if (strcmp(r->params[1], "latest") == 0) {
        *version = 0;
        return true;
    }
    return http_param_id(r, 1, version, out);
}

static void reply_file(struct http_req *r, struct http_reply *out, bool organisation)
{
    int64_t fund_id, version;
    if (!http_param_id(r, 0, &fund_id, out) || !version_param(r, &version, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    char *text = iati_publication_file(r->db, fund_id, version, organisation, &err);
    if (text == NULL) {
        http_reply_error(out, &err);
        return;
    }
    out->status = 200;
    out->text = text;
    out->content_type = "application/xml";
}

void h_publication_activities(struct http_req *r, struct http_reply *out)
{
    reply_file(r, out, false);
}

void h_publication_organisation(struct http_req *r, struct http_reply *out)
{
    reply_file(r, out, true);
}

void h_publication_changes(struct http_req *r, struct http_reply *out)
{
    int64_t fund_id, version;
    if (!http_param_id(r, 0, &fund_id, out) || !version_param(r, &version, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, iati_publication_changes(r->db, fund_id, version, &err), &err);
}

void h_iati_policy(struct http_req *r, struct http_reply *out)
{
    (void)r;
    char *text = strdup(iati_exclusions_policy_html());
    if (text == NULL) {
        http_reply_fail(out, FLE_INTERNAL, NULL, "out of memory");
        return;
    }
    out->status = 200;
    out->text = text;
    out->content_type = "text/html; charset=utf-8";
}

/* What publishing now would do (every check, the changes, the totals against the ledger), run
 * and rolled back: nothing is stored. */
void h_publications_preview(struct http_req *r, struct http_reply *out)
{
    struct iati_export_options o;
    memset(&o, 0, sizeof o);
    if (!http_param_id(r, 0, &o.fund_id, out)) {
        return;
    }
    char policy[POLICY_URL_BYTES];
    export_options(r, NULL, policy, &o);
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, iati_publication_preview(r->db, &r->who, &o, &err), &err);
}
