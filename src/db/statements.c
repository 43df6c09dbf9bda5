/* statements: every SQL statement fundledger runs, named after the C function that runs it,
 * prepared from this one table when a connection opens. Parameters are always $n. */
#include "fundledger/db.h"

#define ENTRY_COLS                                                                                        \
    "e.id, e.fund_id, e.effective_date, to_char(e.posted_at AT TIME ZONE 'UTC', "                        \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), e.posted_by, u.name, e.memo, e.event_type, e.event_ref, "        \
    "e.reverses_entry_id, (SELECT r.id FROM journal_entry r WHERE r.reverses_entry_id = e.id), e.seal_pos, " \
    "encode(e.hash, 'hex')"

#define SEAL_COLS                                                                                         \
    "id, fund_id, effective_date, (extract(epoch FROM posted_at) * 1000000)::bigint, posted_by, memo, "  \
    "event_type, event_ref, coalesce(reverses_entry_id, 0)"

const struct db_statement db_statements[] = {
    /* ledger */
    {"ledger_post_accounts", "SELECT id, fund_id, currency FROM account WHERE id = ANY($1::bigint[]) ORDER BY id"},
    {"ledger_post_ids", "SELECT nextval('journal_entry_id_seq') FROM generate_series(1, $1::int)"},
    {"ledger_post_entries",
     "INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, memo, event_type, event_ref, "
     "reverses_entry_id) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::date[], $4::bigint[], $5::text[], "
     "$6::text[], $7::text[], $8::bigint[])"},
    {"ledger_post_lines",
     "INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) "
     "SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::bpchar[], $5::bigint[], $6::date[])"},
    {"ledger_reversal_build_entry",
     "SELECT e.fund_id, e.effective_date, e.reverses_entry_id, "
     "(SELECT r.id FROM journal_entry r WHERE r.reverses_entry_id = e.id) FROM journal_entry e WHERE e.id = $1"},
    {"ledger_reversal_build_lines",
     "SELECT account_id, currency, amount_minor FROM journal_line WHERE entry_id = $1 ORDER BY line_no"},
    {"ledger_entry_get_entry",
     "SELECT " ENTRY_COLS " FROM journal_entry e JOIN app_user u ON u.id = e.posted_by WHERE e.id = $1"},
    {"ledger_entry_get_lines",
     "SELECT l.entry_id, l.line_no, l.account_id, a.code, a.name, l.currency, l.amount_minor "
     "FROM journal_line l JOIN account a ON a.id = l.account_id WHERE l.entry_id = $1 ORDER BY l.line_no"},
    {"ledger_entries_list_fund",
     "SELECT " ENTRY_COLS " FROM journal_entry e JOIN app_user u ON u.id = e.posted_by "
     "WHERE e.fund_id = $1 AND e.id > $2 AND $3::bigint IS NULL "
     "AND ($4::date IS NULL OR e.effective_date >= $4) AND ($5::date IS NULL OR e.effective_date <= $5) "
     "ORDER BY e.id LIMIT $6"},
    {"ledger_entries_list_account",
     "SELECT " ENTRY_COLS " FROM journal_entry e JOIN app_user u ON u.id = e.posted_by "
     "WHERE e.fund_id = $1 AND e.id IN (SELECT l.entry_id FROM journal_line l WHERE l.account_id = $3 "
     "AND l.entry_id > $2 AND ($4::date IS NULL OR l.effective_date >= $4) "
     "AND ($5::date IS NULL OR l.effective_date <= $5)) ORDER BY e.id LIMIT $6"},
    {"ledger_entries_list_lines",
     "SELECT l.entry_id, l.line_no, l.account_id, a.code, a.name, l.currency, l.amount_minor "
     "FROM journal_line l JOIN account a ON a.id = l.account_id WHERE l.entry_id = ANY($1::bigint[]) "
     "ORDER BY l.entry_id, l.line_no"},
    {"ledger_balance_now", "SELECT balance_minor FROM account WHERE id = $1"},
    {"ledger_balance_as_of",
     "SELECT coalesce((SELECT sum(amount_minor) FROM journal_line WHERE account_id = a.id "
     "AND effective_date <= $2::date), 0)::bigint FROM account a WHERE a.id = $1"},
    {"ledger_trial_balance",
     "SELECT a.id, a.code, a.name, a.type, a.currency, CASE WHEN $2::date IS NULL THEN a.balance_minor ELSE "
     "coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $2::date), 0)::bigint END FROM account a WHERE a.fund_id = $1 "
     "ORDER BY a.currency, a.code"},
    {"ledger_seal_lock", "SELECT pg_advisory_xact_lock(7265100002)"},
    {"ledger_seal_head",
     "SELECT seal_pos, encode(hash, 'hex') FROM journal_entry WHERE seal_pos IS NOT NULL "
     "ORDER BY seal_pos DESC LIMIT 1"},
    {"ledger_seal_pending", "SELECT " SEAL_COLS " FROM journal_entry WHERE seal_pos IS NULL ORDER BY id LIMIT $1"},
    {"ledger_seal_lines",
     "SELECT entry_id, line_no, account_id, currency, amount_minor FROM journal_line "
     "WHERE entry_id = ANY($1::bigint[]) ORDER BY entry_id, line_no"},
    {"ledger_seal_update",
     "UPDATE journal_entry e SET seal_pos = u.pos, prev_hash = decode(u.prev, 'hex'), hash = decode(u.h, 'hex') "
     "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(id, pos, prev, h) WHERE e.id = u.id"},
    {"ledger_verify_chain",
     "SELECT " SEAL_COLS ", seal_pos, encode(prev_hash, 'hex'), encode(hash, 'hex') FROM journal_entry "
     "WHERE seal_pos > $1 ORDER BY seal_pos LIMIT $2"},
    {"ledger_verify_unsealed", "SELECT count(*) FROM journal_entry WHERE seal_pos IS NULL"},
    {"ledger_verify_unbalanced",
     "SELECT id FROM (SELECT entry_id AS id FROM journal_line GROUP BY entry_id, currency "
     "HAVING sum(amount_minor) <> 0 UNION ALL SELECT e.id FROM journal_entry e "
     "WHERE (SELECT count(*) FROM journal_line l WHERE l.entry_id = e.id) < 2) x ORDER BY id LIMIT 1"},
    {"ledger_verify_accounts", "SELECT count(*) FROM account"},
    {"ledger_verify_balances",
     "SELECT a.id, a.balance_minor, coalesce(s.total, 0)::bigint FROM account a LEFT JOIN "
     "(SELECT account_id, sum(amount_minor) AS total FROM journal_line GROUP BY account_id) s "
     "ON s.account_id = a.id WHERE a.balance_minor <> coalesce(s.total, 0) ORDER BY a.id LIMIT 1"},
    /* auth */
    {"auth_user_add",
     "INSERT INTO app_user (name, role, organisation_id) SELECT $1, $2, $3::bigint "
     "WHERE $3::bigint IS NULL OR EXISTS (SELECT 1 FROM organisation WHERE id = $3 AND kind = 'investor') "
     "RETURNING id"},
    {"auth_user_find", "SELECT id FROM app_user WHERE name = $1"},
    {"auth_token_create",
     "INSERT INTO api_token (user_id, token_hash, label, expires_at) SELECT id, decode($2, 'hex'), $3, "
     "CASE WHEN $4::int IS NULL THEN NULL ELSE now() + make_interval(days => $4::int) END "
     "FROM app_user WHERE id = $1 AND disabled_at IS NULL RETURNING id"},
    {"auth_token_revoke", "UPDATE api_token SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"},
    {"auth_authenticate",
     "SELECT t.id, u.id, u.name, u.role, u.organisation_id FROM api_token t JOIN app_user u ON u.id = t.user_id "
     "WHERE t.token_hash = decode($1, 'hex') AND t.revoked_at IS NULL "
     "AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL"},
    {"auth_limit_set",
     "INSERT INTO approval_limit (user_id, currency, limit_minor) SELECT id, $2, $3 FROM app_user "
     "WHERE id = $1 AND role = 'approver' ON CONFLICT (user_id, currency) DO UPDATE SET limit_minor = $3 "
     "RETURNING user_id"},
    {"auth_principal_limits", "SELECT currency, limit_minor FROM approval_limit WHERE user_id = $1 ORDER BY currency"},
    {"auth_users_list", "SELECT id, name, role, organisation_id, disabled_at IS NOT NULL FROM app_user ORDER BY id"},
    /* audit */
    {"audit_record",
     "INSERT INTO audit_log (user_id, token_id, action, object_type, object_id, fund_id, detail) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"},
    {"audit_list",
     "SELECT a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.user_id, u.name, "
     "a.token_id, a.action, a.object_type, a.object_id, a.detail::text, a.fund_id FROM audit_log a "
     "LEFT JOIN app_user u ON u.id = a.user_id WHERE ($1::bigint IS NULL OR a.fund_id = $1) AND a.id > $2 "
     "ORDER BY a.id LIMIT $3"},
    /* idempotency */
    {"idem_lookup",
     "SELECT encode(request_hash, 'hex'), status_code, response FROM idempotency_key WHERE user_id = $1 AND key = $2"},
    {"idem_store",
     "INSERT INTO idempotency_key (user_id, key, request_hash, status_code, response) "
     "VALUES ($1, $2, decode($3, 'hex'), $4, $5)"},
    /* fund */
    {"fund_create",
     "INSERT INTO fund (code, name, base_currency, created_by) VALUES ($1, $2, $3, $4) RETURNING id, code, name, "
     "base_currency, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"},
    {"fund_get",
     "SELECT id, code, name, base_currency, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
     "FROM fund WHERE id = $1"},
    {"fund_list",
     "SELECT id, code, name, base_currency, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
     "FROM fund ORDER BY id"},
    {"fund_account_create",
     "INSERT INTO account (fund_id, code, name, type, currency) VALUES ($1, $2, $3, $4, $5) RETURNING id"},
    {"fund_accounts_list",
     "SELECT a.id, a.fund_id, a.code, a.name, a.type, a.currency, CASE WHEN $2::date IS NULL THEN a.balance_minor "
     "ELSE coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $2::date), 0)::bigint END FROM account a WHERE a.fund_id = $1 ORDER BY a.code"},
    {"fund_account_get",
     "SELECT a.id, a.fund_id, a.code, a.name, a.type, a.currency, CASE WHEN $2::date IS NULL THEN a.balance_minor "
     "ELSE coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $2::date), 0)::bigint END FROM account a WHERE a.id = $1"},
    {"fund_account_by_code", "SELECT id FROM account WHERE fund_id = $1 AND code = $2"},
    /* approval */
#define PROPOSAL_COLS                                                                                     \
    "p.id, p.fund_id, p.kind, p.payload::text, p.amount_minor, p.currency, p.status, p.proposed_by, u.name, " \
    "to_char(p.proposed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "                      \
    "to_char(p.decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), p.reason, "              \
    "p.result_entry_id, (SELECT coalesce(json_agg(json_build_object('user_id', d.user_id, 'user', du.name, "   \
    "'decision', d.decision, 'reason', d.reason, 'at', to_char(d.decided_at AT TIME ZONE 'UTC', "              \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ORDER BY d.decided_at), '[]')::text FROM proposal_decision d "      \
    "JOIN app_user du ON du.id = d.user_id WHERE d.proposal_id = p.id)"
    {"approval_get", "SELECT " PROPOSAL_COLS " FROM proposal p JOIN app_user u ON u.id = p.proposed_by WHERE p.id = $1"},
    {"approval_list",
     "SELECT " PROPOSAL_COLS " FROM proposal p JOIN app_user u ON u.id = p.proposed_by "
     "WHERE ($1::bigint IS NULL OR p.fund_id = $1) AND ($2::text IS NULL OR p.status = $2) AND p.id > $3 "
     "ORDER BY p.id LIMIT $4"},
    {"approval_propose",
     "INSERT INTO proposal (fund_id, kind, payload, amount_minor, currency, proposed_by) "
     "VALUES ($1, $2, $3::jsonb, $4, $5, $6) RETURNING id"},
    {"approval_decide_lock",
     "SELECT p.id, p.fund_id, p.kind, p.payload::text, p.amount_minor, p.currency, p.status, p.proposed_by, "
     "(SELECT l.limit_minor FROM approval_limit l WHERE l.user_id = $2 AND l.currency = p.currency), "
     "(SELECT count(*) FROM proposal_decision d WHERE d.proposal_id = p.id AND d.decision = 'approve'), "
     "(SELECT coalesce(sum(d.limit_minor), 0) FROM proposal_decision d WHERE d.proposal_id = p.id "
     "AND d.decision = 'approve'), "
     "EXISTS (SELECT 1 FROM proposal_decision d WHERE d.proposal_id = p.id AND d.user_id = $2) "
     "FROM proposal p WHERE p.id = $1 FOR UPDATE OF p"},
    {"approval_record_decision",
     "INSERT INTO proposal_decision (proposal_id, user_id, decision, reason, limit_minor) VALUES ($1, $2, $3, $4, $5)"},
    {"approval_finish",
     "UPDATE proposal SET status = $2, decided_at = now(), reason = $3, result_entry_id = $4 "
     "WHERE id = $1 AND status = 'pending'"},
    /* org */
    {"org_create",
     "INSERT INTO organisation (name, kind, iati_ref, iati_type) VALUES ($1, $2, $3, $4) "
     "RETURNING id, name, kind, iati_ref, iati_type"},
    {"org_list",
     "SELECT id, name, kind, iati_ref, iati_type FROM organisation WHERE $1::text IS NULL OR kind = $1 ORDER BY id"},
    {"org_get", "SELECT id, name, kind, iati_ref, iati_type FROM organisation WHERE id = $1"},
    /* @more@ */
};

const unsigned db_statements_count = sizeof db_statements / sizeof db_statements[0];
