/* routes: the one table of every HTTP route, its roles and whether it writes. docs/openapi.yaml
 * describes exactly these (a test compares them). */
#include "fundledger/http.h"

#define R(x) ROLE_BIT(ROLE_##x)
#define ANY_USER (R(ADMIN) | R(FUND_MANAGER) | R(APPROVER) | R(INVESTOR) | R(TRANSPARENCY_OFFICER) | R(AUDITOR))
#define STAFF (R(ADMIN) | R(FUND_MANAGER) | R(APPROVER) | R(AUDITOR))
#define FUNDS_READ (STAFF | R(INVESTOR) | R(TRANSPARENCY_OFFICER))
/* The pipeline holds people: names and national ID numbers of persons, their human-security
 * measures. Staff who work the pipeline read it; the admin's job (users, tokens, settings) does
 * not need it (Ley 1581 de 2012: data minimisation; docs/authorization.md). */
#define PIPELINE_READ (R(FUND_MANAGER) | R(APPROVER) | R(AUDITOR))

static const struct http_route routes[] = {
    {"GET", "/healthz", 0, false, h_healthz, "process alive"},
    {"GET", "/readyz", 0, false, h_readyz, "database reachable and migrated"},
    {"GET", "/v1/me", ANY_USER, false, h_me, "who the token belongs to"},
    {"GET", "/v1/funds", FUNDS_READ, false, h_funds_list, "list funds"},
    {"POST", "/v1/funds", R(FUND_MANAGER) | R(ADMIN), true, h_funds_create, "create a fund with its chart"},
    {"GET", "/v1/funds/{fund_id}", FUNDS_READ, false, h_funds_get, "one fund"},
    {"GET", "/v1/funds/{fund_id}/accounts", STAFF, false, h_accounts_list, "accounts with balances"},
    {"POST", "/v1/funds/{fund_id}/accounts", R(FUND_MANAGER), true, h_accounts_create, "add an account"},
    {"GET", "/v1/funds/{fund_id}/trial-balance", STAFF, false, h_trial_balance, "trial balance"},
    {"GET", "/v1/funds/{fund_id}/entries", STAFF, false, h_entries_list, "journal entries, paged"},
    {"POST", "/v1/funds/{fund_id}/entries", R(FUND_MANAGER), true, h_entries_propose,
     "propose a manual journal entry"},
    {"GET", "/v1/accounts/{account_id}", STAFF, false, h_accounts_get, "one account and its balance"},
    {"GET", "/v1/entries/{entry_id}", STAFF, false, h_entries_get, "one journal entry"},
    {"POST", "/v1/entries/{entry_id}/reversal", R(FUND_MANAGER), true, h_entries_reverse,
     "propose the reversal of an entry"},
    {"GET", "/v1/approvals", STAFF, false, h_approvals_list, "proposals (pending by default)"},
    {"GET", "/v1/approvals/{proposal_id}", STAFF, false, h_approvals_get, "one proposal"},
    {"POST", "/v1/approvals/{proposal_id}/approve", R(APPROVER), true, h_approvals_approve, "approve"},
    {"POST", "/v1/approvals/{proposal_id}/reject", R(APPROVER), true, h_approvals_reject, "reject with a reason"},
    {"GET", "/v1/audit", R(ADMIN) | R(AUDITOR) | R(FUND_MANAGER) | R(APPROVER), false, h_audit_list, "audit log"},
    {"GET", "/v1/users", R(ADMIN) | R(AUDITOR), false, h_users_list, "users"},
    {"POST", "/v1/users", R(ADMIN), true, h_users_create, "create a user"},
    {"POST", "/v1/users/{user_id}/tokens", R(ADMIN), true, h_tokens_create, "create a token (shown once)"},
    {"PUT", "/v1/users/{user_id}/approval-limits/{currency}", R(ADMIN), true, h_limits_set,
     "set an approver's limit"},
    {"DELETE", "/v1/tokens/{token_id}", R(ADMIN), true, h_tokens_revoke, "revoke a token"},
    {"POST", "/v1/tokens/{token_id}/renewal", R(ADMIN), true, h_tokens_renew,
     "a live token now expires N days from now"},
    {"GET", "/v1/organisations", STAFF | R(TRANSPARENCY_OFFICER), false, h_orgs_list, "organisations"},
    {"POST", "/v1/organisations", R(ADMIN) | R(FUND_MANAGER), true, h_orgs_create, "create an organisation"},
    {"GET", "/v1/funds/{fund_id}/tranches", FUNDS_READ, false, h_tranches_list,
     "tranches (an investor sees its own; a transparency officer what IATI publishes)"},
    {"POST", "/v1/funds/{fund_id}/tranches", R(FUND_MANAGER), true, h_tranches_propose, "propose a tranche"},
    {"GET", "/v1/tranches/{tranche_id}", STAFF | R(INVESTOR), false, h_tranches_get, "one tranche with figures"},
    {"POST", "/v1/tranches/{tranche_id}/changes", R(FUND_MANAGER), true, h_tranches_change,
     "propose changed terms"},
    {"POST", "/v1/tranches/{tranche_id}/capital-calls", R(FUND_MANAGER), true, h_tranches_call, "capital call"},
    {"POST", "/v1/tranches/{tranche_id}/contributions", R(FUND_MANAGER), true, h_tranches_contribute,
     "record a contribution"},
    {"POST", "/v1/tranches/{tranche_id}/cancellations", R(FUND_MANAGER), true, h_tranches_cancel,
     "cancel unfunded commitment"},
    {"GET", "/v1/funds/{fund_id}/loans", STAFF, false, h_loans_list, "loans, paged"},
    {"POST", "/v1/funds/{fund_id}/loans", R(FUND_MANAGER), true, h_loans_propose, "propose a loan"},
    {"GET", "/v1/loans/{loan_id}", STAFF, false, h_loans_get, "one loan with schedule and funding"},
    {"POST", "/v1/loans/{loan_id}/conditions", R(FUND_MANAGER), true, h_loans_condition,
     "tick a condition precedent"},
    {"POST", "/v1/loans/{loan_id}/disbursements", R(FUND_MANAGER), true, h_loans_disburse, "propose a drawdown"},
    {"POST", "/v1/funds/{fund_id}/entrepreneurs", R(FUND_MANAGER), true, h_entrepreneurs_create,
     "add an entrepreneur to the pipeline"},
    {"GET", "/v1/funds/{fund_id}/entrepreneurs", PIPELINE_READ, false, h_entrepreneurs_list,
     "the pipeline, filtered, paged"},
    {"GET", "/v1/entrepreneurs/{entrepreneur_id}", PIPELINE_READ, false, h_entrepreneurs_get,
     "one entrepreneur with stage history and latest measures"},
    {"POST", "/v1/entrepreneurs/{entrepreneur_id}/stage", R(FUND_MANAGER), true, h_entrepreneurs_move,
     "move an entrepreneur to another stage"},
    {"GET", "/v1/funds/{fund_id}/funnel", PIPELINE_READ, false, h_funnel,
     "entrepreneurs and requested amounts per stage"},
    {"POST", "/v1/funds/{fund_id}/hs-measures", R(FUND_MANAGER), true, h_hs_measures_create,
     "record a human-security measure"},
    {"POST", "/v1/hs-measures/{measure_id}/approve", R(FUND_MANAGER) | R(APPROVER), true, h_hs_measures_approve,
     "approve a measure (not its recorder)"},
    {"GET", "/v1/funds/{fund_id}/hs-measures", PIPELINE_READ | R(TRANSPARENCY_OFFICER), false, h_hs_measures_list,
     "human-security measures"},
    {"GET", "/v1/municipalities", ANY_USER, false, h_municipalities_list, "DIVIPOLA municipalities"},
    {"GET", "/v1/value-chains", ANY_USER, false, h_value_chains_list, "value chains"},
    {"POST", "/v1/loans/{loan_id}/repayments", R(FUND_MANAGER), true, h_repayments_create, "record a repayment"},
    {"POST", "/v1/funds/{fund_id}/repayments/import", R(FUND_MANAGER), true, h_repayments_import,
     "import a bank statement of repayments (text/csv)"},
    {"GET", "/v1/loans/{loan_id}/arrears", STAFF, false, h_loan_arrears, "days past due and arrears as of a date"},
    {"GET", "/v1/loans/{loan_id}/payoff", STAFF, false, h_loan_payoff, "payoff quote as of a date"},
    {"GET", "/v1/loans/{loan_id}/repayments", STAFF, false, h_loan_repayments,
     "repayments with their allocation per bucket, instalment and tranche"},
    {"POST", "/v1/loans/{loan_id}/write-off", R(FUND_MANAGER), true, h_writeoff_propose, "propose a write-off"},
    {"POST", "/v1/loans/{loan_id}/recoveries", R(FUND_MANAGER), true, h_recoveries_create,
     "record a recovery on a written-off loan"},
    {"POST", "/v1/funds/{fund_id}/waterfall-runs", R(FUND_MANAGER), true, h_waterfall_runs_create,
     "run the waterfall"},
    {"GET", "/v1/funds/{fund_id}/waterfall-runs", STAFF, false, h_waterfall_runs_list, "waterfall runs, paged"},
    {"GET", "/v1/waterfall-runs/{run_id}", STAFF, false, h_waterfall_run_get, "one waterfall run with its steps"},
    {"GET", "/v1/waterfall-runs/{run_id}/replay", STAFF, false, h_waterfall_run_replay,
     "replay a waterfall run from the journal"},
    {"GET", "/v1/funds/{fund_id}/portfolio", STAFF, false, h_portfolio, "portfolio quality (PAR30, PAR90)"},
    {"GET", "/v1/funds/{fund_id}/arrears", STAFF, false, h_portfolio_arrears, "arrears per loan, paged"},
    {"POST", "/v1/funds/{fund_id}/close", R(FUND_MANAGER), true, h_fund_close,
     "month-end close: post what became due by the date (idempotent per date)"},
    {"POST", "/v1/funds/{fund_id}/settings", R(FUND_MANAGER), true, h_fund_settings_propose,
     "propose waterfall settings (mode, reserve target)"},
    {"GET", "/v1/funds/{fund_id}/statements", STAFF | R(INVESTOR), false, h_statements_get,
     "investor statement (an investor reads its own)"},
    {"POST", "/v1/funds/{fund_id}/publications", R(TRANSPARENCY_OFFICER), true, h_publications_create,
     "publish the fund's IATI files (all checks first)"},
    {"GET", "/v1/funds/{fund_id}/publications", 0, false, h_publications_list, "IATI publications (public)"},
    {"GET", "/v1/funds/{fund_id}/publications/{version}/activities.xml", 0, false, h_publication_activities,
     "a published activity file (public; version or latest)"},
    {"GET", "/v1/funds/{fund_id}/publications/{version}/organisation.xml", 0, false, h_publication_organisation,
     "a published organisation file (public; version or latest)"},
    {"GET", "/v1/funds/{fund_id}/publications/{version}/changes", 0, false, h_publication_changes,
     "what changed since the previous publication (public)"},
    {"GET", "/v1/iati/exclusions-policy", 0, false, h_iati_policy, "the IATI exclusions policy (public)"},
    {"POST", "/v1/funds/{fund_id}/provisions", R(FUND_MANAGER), true, h_provisions_create,
     "post the loss allowance for a date"},
    {"GET", "/v1/funds/{fund_id}/provisions", STAFF, false, h_provisions_get,
     "the loss allowance per bucket, tranche and loan"},
    {"POST", "/v1/session", 0, false, h_session_login, "sign in (name, password, totp): sets the session cookie"},
    {"GET", "/v1/session", ANY_USER, false, h_session_get, "who is signed in, and the session's CSRF token"},
    {"DELETE", "/v1/session", ANY_USER, false, h_session_logout, "sign out: ends the session"},
    {"DELETE", "/v1/users/{user_id}/sessions", R(ADMIN), false, h_sessions_revoke,
     "end every browser session of a user"},
    /* @routes@ */
};

const struct http_route *http_routes(unsigned *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

bool http_route_takes_csv(const struct http_route *route)
{
    return route != NULL && route->handler == h_repayments_import;
}
