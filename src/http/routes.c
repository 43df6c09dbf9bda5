/* routes: the one table of every HTTP route, its roles and whether it writes. docs/openapi.yaml
 * describes exactly these (a test compares them). */
#include "fundledger/http.h"

#define R(x) ROLE_BIT(ROLE_##x)
#define ANY_USER (R(ADMIN) | R(FUND_MANAGER) | R(APPROVER) | R(INVESTOR) | R(TRANSPARENCY_OFFICER) | R(AUDITOR))
#define STAFF (R(ADMIN) | R(FUND_MANAGER) | R(APPROVER) | R(AUDITOR))
#define FUNDS_READ (STAFF | R(INVESTOR) | R(TRANSPARENCY_OFFICER))

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
    {"GET", "/v1/organisations", STAFF | R(TRANSPARENCY_OFFICER), false, h_orgs_list, "organisations"},
    {"POST", "/v1/organisations", R(ADMIN) | R(FUND_MANAGER), true, h_orgs_create, "create an organisation"},
};

const struct http_route *http_routes(unsigned *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
