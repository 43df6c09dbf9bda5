/* http: the JSON API over libmicrohttpd: server, routing, roles, request and reply helpers. */
#ifndef FUNDLEDGER_HTTP_H
#define FUNDLEDGER_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/db.h"
#include "fundledger/error.h"
#include "fundledger/idempotency.h"
#include "fundledger/limits.h"

struct MHD_Connection;
struct http_server;

/* One request as a handler sees it. Handlers parse and authorise, call one domain function,
 * and reply; they hold no SQL. */
struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const struct http_route *route;
    const char *params[HTTP_PATH_PARAMS_MAX]; /* path parameters in pattern order */
    unsigned n_params;
    struct principal who; /* valid when the route is not public */
    struct db *db;        /* this worker thread's connection */
    json_t *body;         /* the parsed body of POST/PUT ({} when empty), else NULL */
    const char *raw_body;
    size_t raw_len;
    const struct config *cfg;
    int64_t session_id;         /* > 0 when the caller signed in with a session cookie (h_session.c) */
    const char *session_cookie; /* that cookie's value, else NULL */
};

/* What a handler answers: a status and either JSON (owned, freed after sending) or text
 * (malloc'd, owned) with its content type. */
struct http_reply {
    unsigned status;
    json_t *json;
    char *text;
    const char *content_type;
    bool replayed; /* an idempotent replay: the Idempotent-Replayed header is sent */
    char allow[64]; /* for 405: the methods the path takes, sent as the Allow header */
    char set_cookie[256]; /* sent as Set-Cookie when not empty (h_session.c) */
};

typedef void (*http_handler)(struct http_req *r, struct http_reply *out);

struct http_route {
    const char *method;  /* GET, POST, PUT, DELETE */
    const char *pattern; /* "/v1/funds/{fund_id}/accounts" */
    unsigned roles;      /* ROLE_BIT mask; 0 = public, no token needed */
    bool write;          /* needs an Idempotency-Key and runs through idem_run */
    http_handler handler;
    const char *summary;
};

/* The route table (routes.c), for the server and for the OpenAPI consistency test. */
const struct http_route *http_routes(unsigned *n);

/* Starts serving cfg->listen with cfg's thread pool and limits; port 0 picks a free port
 * (see http_server_port). Each worker thread opens its own database connection to conninfo on
 * first use. A background thread seals the journal every cfg->ledger_seal_interval_ms. */
enum fl_err http_server_start(const struct config *cfg, const char *conninfo, struct http_server **out,
                              struct fl_error *err);
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting (the listening socket closes), lets the requests in flight finish for at most
 * cfg->http_shutdown_grace_s (their replies say Connection: close), then closes every connection
 * and database connection and frees. */
void http_server_stop(struct http_server *s);
/* How many requests the deadline watchdog has cut (http_request_deadline_s), since start. */
unsigned http_server_cut_count(const struct http_server *s);

/* Reply helpers. json is stolen. */
void http_reply_json(struct http_reply *out, unsigned status, json_t *json);
void http_reply_error(struct http_reply *out, const struct fl_error *err);
void http_reply_fail(struct http_reply *out, enum fl_err code, const char *field, const char *message);
/* json ? 200-style reply : error reply from err. */
void http_reply_result(struct http_reply *out, unsigned status, json_t *json, const struct fl_error *err);

/* Path parameter i as a positive id; false after replying 400 naming the parameter. */
bool http_param_id(struct http_req *r, unsigned i, int64_t *out, struct http_reply *reply);
/* A query argument or NULL. */
const char *http_query(struct http_req *r, const char *name);
/* Optional query arguments with checks; false after replying 400 naming the argument. */
bool http_query_date(struct http_req *r, const char *name, const char **out, struct http_reply *reply);
bool http_query_id(struct http_req *r, const char *name, int64_t *out, struct http_reply *reply);
/* after (default 0) and limit (default PAGE_SIZE_DEFAULT, at most PAGE_SIZE_MAX). */
bool http_query_page(struct http_req *r, int64_t *after, unsigned *limit, struct http_reply *reply);

/* Runs a write once per Idempotency-Key (see idem_run) and replies with its stored result. */
void http_write(struct http_req *r, struct http_reply *out, idem_fn fn, void *arg);

/* Shared handler shapes. A read of path parameter 0: replies 200 with fn's result or its error
 * (400 naming the parameter when it is not a positive id). */
typedef json_t *(*http_id_read_fn)(struct db *db, int64_t id, struct fl_error *err);
void http_read_id(struct http_req *r, struct http_reply *out, http_id_read_fn fn);
/* The same with an optional query date `name` (400 naming it when it is not YYYY-MM-DD). */
typedef json_t *(*http_id_date_read_fn)(struct db *db, int64_t id, const char *date, struct fl_error *err);
void http_read_id_date(struct http_req *r, struct http_reply *out, const char *name, http_id_date_read_fn fn);
/* The same with a page as well (after, limit: see http_query_page). */
typedef json_t *(*http_id_date_page_fn)(struct db *db, int64_t id, const char *date, int64_t after_id,
                                        unsigned limit, struct fl_error *err);
void http_read_id_date_page(struct http_req *r, struct http_reply *out, const char *name, http_id_date_page_fn fn);
/* A write on the fund in path parameter 0 whose body is {field: "YYYY-MM-DD"} (required): runs
 * fn(db, who, fund_id, date) once per Idempotency-Key and replies with `status` or fn's error. */
typedef json_t *(*http_fund_date_write_fn)(struct db *db, const struct principal *actor, int64_t fund_id,
                                           const char *date, struct fl_error *err);
void http_write_fund_date(struct http_req *r, struct http_reply *out, const char *field, unsigned status,
                          http_fund_date_write_fn fn);
/* A proposal on the loan in path parameter 0 whose body is {amount (required or not), value_date,
 * reason}: runs fn(db, who, loan_id, amount, value_date, reason) once per Idempotency-Key and
 * replies 201 or fn's error (a write-off, a charge). */
typedef json_t *(*http_loan_proposal_fn)(struct db *db, const struct principal *maker, int64_t loan_id,
                                         const char *amount, const char *value_date, const char *reason,
                                         struct fl_error *err);
void http_write_loan_proposal(struct http_req *r, struct http_reply *out, bool amount_required,
                              http_loan_proposal_fn fn);

/* Handlers, one file per resource family (h_*.c). */
void h_healthz(struct http_req *r, struct http_reply *out);
void h_readyz(struct http_req *r, struct http_reply *out);
void h_me(struct http_req *r, struct http_reply *out);
void h_funds_list(struct http_req *r, struct http_reply *out);
void h_funds_create(struct http_req *r, struct http_reply *out);
void h_funds_get(struct http_req *r, struct http_reply *out);
void h_accounts_list(struct http_req *r, struct http_reply *out);
void h_accounts_create(struct http_req *r, struct http_reply *out);
void h_accounts_get(struct http_req *r, struct http_reply *out);
void h_trial_balance(struct http_req *r, struct http_reply *out);
void h_entries_list(struct http_req *r, struct http_reply *out);
void h_entries_propose(struct http_req *r, struct http_reply *out);
void h_entries_get(struct http_req *r, struct http_reply *out);
void h_entries_reverse(struct http_req *r, struct http_reply *out);
void h_approvals_list(struct http_req *r, struct http_reply *out);
void h_approvals_get(struct http_req *r, struct http_reply *out);
void h_approvals_approve(struct http_req *r, struct http_reply *out);
void h_approvals_reject(struct http_req *r, struct http_reply *out);
void h_audit_list(struct http_req *r, struct http_reply *out);
void h_users_list(struct http_req *r, struct http_reply *out);
void h_users_create(struct http_req *r, struct http_reply *out);
void h_tokens_create(struct http_req *r, struct http_reply *out);
void h_tokens_revoke(struct http_req *r, struct http_reply *out);
void h_tokens_renew(struct http_req *r, struct http_reply *out);
void h_limits_set(struct http_req *r, struct http_reply *out);
void h_orgs_list(struct http_req *r, struct http_reply *out);
void h_orgs_create(struct http_req *r, struct http_reply *out);
void h_tranches_list(struct http_req *r, struct http_reply *out);
void h_tranches_get(struct http_req *r, struct http_reply *out);
void h_tranches_propose(struct http_req *r, struct http_reply *out);
void h_tranches_change(struct http_req *r, struct http_reply *out);
void h_tranches_call(struct http_req *r, struct http_reply *out);
void h_tranches_contribute(struct http_req *r, struct http_reply *out);
void h_tranches_cancel(struct http_req *r, struct http_reply *out);
void h_loans_propose(struct http_req *r, struct http_reply *out);
void h_loans_list(struct http_req *r, struct http_reply *out);
void h_loans_get(struct http_req *r, struct http_reply *out);
void h_loans_condition(struct http_req *r, struct http_reply *out);
void h_loans_disburse(struct http_req *r, struct http_reply *out);
void h_entrepreneurs_create(struct http_req *r, struct http_reply *out);
void h_entrepreneurs_list(struct http_req *r, struct http_reply *out);
void h_entrepreneurs_get(struct http_req *r, struct http_reply *out);
void h_entrepreneurs_move(struct http_req *r, struct http_reply *out);
void h_funnel(struct http_req *r, struct http_reply *out);
void h_hs_measures_create(struct http_req *r, struct http_reply *out);
void h_hs_measures_approve(struct http_req *r, struct http_reply *out);
void h_hs_measures_list(struct http_req *r, struct http_reply *out);
void h_municipalities_list(struct http_req *r, struct http_reply *out);
void h_value_chains_list(struct http_req *r, struct http_reply *out);
/* h_repayments.c: repayments, bank-statement import (text/csv), arrears, write-offs, recoveries,
 * waterfall runs, portfolio quality, the fund's waterfall settings. */
void h_repayments_create(struct http_req *r, struct http_reply *out);
void h_repayments_import(struct http_req *r, struct http_reply *out);
void h_loan_arrears(struct http_req *r, struct http_reply *out);
void h_loan_payoff(struct http_req *r, struct http_reply *out);
void h_loan_repayments(struct http_req *r, struct http_reply *out);
void h_loan_schedule_versions(struct http_req *r, struct http_reply *out);
void h_loan_accruals(struct http_req *r, struct http_reply *out);
void h_fund_close(struct http_req *r, struct http_reply *out);
void h_default_rates_create(struct http_req *r, struct http_reply *out);
void h_default_rates_list(struct http_req *r, struct http_reply *out);
void h_writeoff_propose(struct http_req *r, struct http_reply *out);
void h_recoveries_create(struct http_req *r, struct http_reply *out);
void h_waterfall_runs_create(struct http_req *r, struct http_reply *out);
void h_waterfall_runs_list(struct http_req *r, struct http_reply *out);
void h_waterfall_run_get(struct http_req *r, struct http_reply *out);
void h_waterfall_run_replay(struct http_req *r, struct http_reply *out);
void h_portfolio(struct http_req *r, struct http_reply *out);
void h_portfolio_arrears(struct http_req *r, struct http_reply *out);
void h_provisions_create(struct http_req *r, struct http_reply *out);
void h_provisions_get(struct http_req *r, struct http_reply *out);
void h_nav_allocations_list(struct http_req *r, struct http_reply *out);
void h_fund_settings_propose(struct http_req *r, struct http_reply *out);
/* true for a route whose body is text/csv rather than JSON (routes.c): the dispatcher then checks
 * the Content-Type, leaves body NULL, and the handler reads raw_body. */
bool http_route_takes_csv(const struct http_route *route);
void h_statements_get(struct http_req *r, struct http_reply *out);
void h_publications_create(struct http_req *r, struct http_reply *out);
void h_publications_list(struct http_req *r, struct http_reply *out);
void h_publications_preview(struct http_req *r, struct http_reply *out);
void h_loan_usury(struct http_req *r, struct http_reply *out);
/* h_loans.c: the loan form's schedule preview (POST that writes nothing, no Idempotency-Key). */
void h_loans_schedule_preview(struct http_req *r, struct http_reply *out);
/* h_capital.c: a tranche's capital calls and contributions (staff; an investor its own). */
void h_tranches_calls(struct http_req *r, struct http_reply *out);
/* h_verify.c: run verify now (recorded, audited) and read past runs (auditor, admin). */
void h_verify_runs_create(struct http_req *r, struct http_reply *out);
void h_verify_runs_list(struct http_req *r, struct http_reply *out);
/* h_writeoff_view.c: a write-off's effect before approval (the inbox). */
void h_writeoff_preview(struct http_req *r, struct http_reply *out);
void h_publication_activities(struct http_req *r, struct http_reply *out);
void h_publication_organisation(struct http_req *r, struct http_reply *out);
void h_publication_changes(struct http_req *r, struct http_reply *out);
void h_iati_policy(struct http_req *r, struct http_reply *out);
/* h_session.c: browser sign-in (docs/console.md). */
void h_session_login(struct http_req *r, struct http_reply *out);
void h_session_get(struct http_req *r, struct http_reply *out);
void h_session_logout(struct http_req *r, struct http_reply *out);
void h_sessions_revoke(struct http_req *r, struct http_reply *out);
/* Authenticates a request that has no Authorization header by its session cookie, if it has
 * one: true with r->who, r->session_id set (and, for any method but GET and HEAD, the
 * X-CSRF-Token header checked); false after replying 401 or 403. Called by the dispatcher. */
bool http_session_cookie_present(struct http_req *r);
bool http_session_auth(struct http_req *r, struct http_reply *out);
/* static.c: the console's files under /app/ (CSP, cache headers), served without the database. */
bool http_static_path(const char *url);
int http_static_serve(struct MHD_Connection *conn, const char *method, const char *url);
/* h_charges.c: ad-hoc loan charges (four eyes) and a loan's charges. */
void h_loan_charge_propose(struct http_req *r, struct http_reply *out);
void h_loan_charges_list(struct http_req *r, struct http_reply *out);
/* @handlers@ */

/* The number of migrations the running code expects (set by the server at start). */
extern int http_expected_migration;

#endif
