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
    /* The lock first; the prior decisions in a second statement, whose fresh snapshot (READ
     * COMMITTED) sees what a racing approver committed while this one waited for the lock. */
    {"approval_decide_lock",
     "SELECT p.id, p.fund_id, p.kind, p.payload::text, p.amount_minor, p.currency, p.status, p.proposed_by "
     "FROM proposal p WHERE p.id = $1 FOR UPDATE OF p"},
    {"approval_decide_prior",
     "SELECT (SELECT l.limit_minor FROM approval_limit l WHERE l.user_id = $2 AND l.currency = p.currency), "
     "(SELECT count(*) FROM proposal_decision d WHERE d.proposal_id = p.id AND d.decision = 'approve'), "
     "(SELECT coalesce(sum(d.limit_minor), 0) FROM proposal_decision d WHERE d.proposal_id = p.id "
     "AND d.decision = 'approve'), "
     "EXISTS (SELECT 1 FROM proposal_decision d WHERE d.proposal_id = p.id AND d.user_id = $2) "
     "FROM proposal p WHERE p.id = $1"},
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
    /* tranche */
#define TRANCHE_COLS                                                                                   \
    "t.id, t.fund_id, t.investor_id, t.name, t.kind, t.rank, t.currency, t.commitment_minor, t.return_rate, " \
    "t.fee_rate, t.eligibility::text, t.signed_date, t.provider_activity_id, t.status, o.name"
    {"tranche_municipality_exists", "SELECT 1 FROM municipality WHERE code = $1"},
    {"tranche_value_chain_exists", "SELECT 1 FROM value_chain WHERE code = $1"},
    {"tranche_name_taken", "SELECT 1 FROM tranche WHERE fund_id = $1 AND name = $2"},
    {"tranche_insert",
     "INSERT INTO tranche (fund_id, investor_id, name, kind, rank, currency, commitment_minor, return_rate, fee_rate, "
     "eligibility, signed_date, provider_activity_id, proposal_id) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13) RETURNING id"},
    {"tranche_load",
     "SELECT " TRANCHE_COLS " FROM tranche t JOIN organisation o ON o.id = t.investor_id WHERE t.id = $1"},
    {"tranche_load_for_update",
     "SELECT " TRANCHE_COLS " FROM tranche t JOIN organisation o ON o.id = t.investor_id WHERE t.id = $1 "
     "FOR UPDATE OF t"},
    {"tranche_list",
     "SELECT " TRANCHE_COLS " FROM tranche t JOIN organisation o ON o.id = t.investor_id WHERE t.fund_id = $1 "
     "AND ($2::bigint IS NULL OR t.investor_id = $2) ORDER BY t.rank, t.id"},
    {"tranche_balances",
     "SELECT substr(a.code, length('T' || $2::text || '.') + 1), CASE WHEN $3::date IS NULL THEN a.balance_minor "
     "ELSE coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $3::date), 0)::bigint END FROM account a "
     "WHERE a.fund_id = $1 AND a.code LIKE 'T' || $2::text || '.%'"},
    {"tranche_update",
     "UPDATE tranche SET commitment_minor = $2, return_rate = $3, fee_rate = $4, eligibility = $5::jsonb, "
     "status = $6 WHERE id = $1"},
    {"tranche_change_record",
     "INSERT INTO tranche_change (tranche_id, proposal_id, before, after) VALUES ($1, $2, $3::jsonb, $4::jsonb)"},
    {"tranche_call",
     "INSERT INTO capital_call (tranche_id, call_no, amount_minor, call_date, due_date, created_by) "
     "SELECT $1, coalesce(max(call_no), 0) + 1, $2, $3, $4, $5 FROM capital_call WHERE tranche_id = $1 "
     "RETURNING id, call_no"},
    {"tranche_contribute",
     "INSERT INTO contribution (tranche_id, capital_call_id, amount_minor, received_date, reference, entry_id, "
     "created_by) SELECT $1, $2::bigint, $3, $4, $5, $6, $7 WHERE $2::bigint IS NULL OR EXISTS "
     "(SELECT 1 FROM capital_call c WHERE c.id = $2 AND c.tranche_id = $1) RETURNING id"},
    {"tranche_cancel",
     "INSERT INTO commitment_cancellation (tranche_id, amount_minor, cancel_date, reason, entry_id, created_by) "
     "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"},
    /* loan */
#define LOAN_ROW "id, fund_id, entrepreneur_id, currency, principal_minor, annual_rate, status, drawn_minor, modality, approved_on"
    {"loan_usury_check",
     "SELECT rate FROM usury_rate WHERE modality = $1 AND $2::date BETWEEN valid_from AND valid_to "
     "ORDER BY valid_from DESC LIMIT 1"},
    {"loan_borrower",
     "SELECT fund_id, stage, women_led, municipality_code, value_chain FROM entrepreneur WHERE id = $1"},
    {"loan_candidates",
     "SELECT t.id, t.eligibility::text, a.balance_minor FROM tranche t JOIN account a ON a.fund_id = t.fund_id "
     "AND a.code = 'T' || t.id || '.CASH' WHERE t.fund_id = $1 AND t.currency = $2 AND t.status = 'active' "
     "ORDER BY t.rank, t.id"},
    {"loan_insert",
     "INSERT INTO loan (fund_id, entrepreneur_id, currency, principal_minor, annual_rate, day_count, "
     "payments_per_year, term_count, first_due_date, grace_principal, grace_interest, amortisation, modality, "
     "purpose, proposal_id, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
     "$16) RETURNING id"},
    {"loan_by_proposal_for_update", "SELECT " LOAN_ROW " FROM loan WHERE proposal_id = $1 FOR UPDATE"},
    {"loan_by_id", "SELECT " LOAN_ROW " FROM loan WHERE id = $1"},
    {"loan_by_id_for_update", "SELECT " LOAN_ROW " FROM loan WHERE id = $1 FOR UPDATE"},
    {"loan_store_schedule",
     "INSERT INTO loan_schedule (loan_id, no, due_date, principal_minor, interest_minor) "
     "SELECT $1, * FROM unnest($2::int[], $3::date[], $4::bigint[], $5::bigint[])"},
    {"loan_store_funding",
     "INSERT INTO loan_funding (loan_id, tranche_id, position, weight_minor) "
     "SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::bigint[])"},
    {"loan_approve",
     "UPDATE loan SET status = 'approved', approved_on = $2 WHERE id = $1 AND status = 'proposed'"},
    {"loan_reject", "UPDATE loan SET status = 'rejected' WHERE proposal_id = $1 AND status = 'proposed'"},
    {"loan_condition_tick",
     "INSERT INTO loan_condition (loan_id, item, done_on, done_by, note) VALUES ($1, $2, $3, $4, $5)"},
    {"loan_conditions_met", "SELECT item FROM loan_condition WHERE loan_id = $1 AND done_on <= $2::date"},
    {"loan_funding",
     "SELECT tranche_id, weight_minor FROM loan_funding WHERE loan_id = $1 ORDER BY position"},
    {"loan_tranche_cash",
     "SELECT a.balance_minor, t.eligibility::text, t.status FROM tranche t JOIN account a ON a.fund_id = t.fund_id "
     "AND a.code = 'T' || t.id || '.CASH' WHERE t.id = $1 AND $2::date IS NOT NULL"},
    {"loan_disburse",
     "WITH d AS (INSERT INTO disbursement (loan_id, amount_minor, value_date, proposal_id, entry_id) "
     "VALUES ($1, $2, $3, $4, $5) RETURNING id) UPDATE loan SET drawn_minor = drawn_minor + $2, status = 'active' "
     "WHERE id = $1 RETURNING (SELECT id FROM d)"},
    {"loan_get",
     "SELECT id, fund_id, entrepreneur_id, currency, principal_minor, annual_rate, day_count, payments_per_year, "
     "term_count, first_due_date, grace_principal, grace_interest, amortisation, modality, purpose, status, "
     "approved_on, drawn_minor, written_off_minor, proposal_id FROM loan WHERE id = $1"},
    {"loan_get_schedule",
     "SELECT no, due_date, principal_minor, interest_minor FROM loan_schedule WHERE loan_id = $1 ORDER BY no"},
    {"loan_get_funding",
     "SELECT f.tranche_id, t.name, f.position, f.weight_minor FROM loan_funding f JOIN tranche t ON t.id = f.tranche_id "
     "WHERE f.loan_id = $1 ORDER BY f.position"},
    {"loan_get_conditions",
     "SELECT item, done_on, done_by, note FROM loan_condition WHERE loan_id = $1 ORDER BY item"},
    {"loan_get_disbursements",
     "SELECT id, amount_minor, value_date, proposal_id, entry_id FROM disbursement WHERE loan_id = $1 ORDER BY id"},
    {"loan_list",
     "SELECT id, entrepreneur_id, principal_minor, currency, drawn_minor, status, approved_on FROM loan "
     "WHERE fund_id = $1 AND ($2::text IS NULL OR status = $2) AND id > $3 ORDER BY id LIMIT $4"},
    /* pipeline */
#define ENTREPRENEUR_COLS                                                                                   \
    "e.id, e.fund_id, e.kind, e.organisation_id, o.iati_ref, e.name, e.tax_id, e.municipality_code, m.name, " \
    "m.department_code, m.department_name, e.value_chain, e.women_led, e.youth_led, e.conflict_victim, "     \
    "e.members, e.requested_minor, e.currency, e.purpose, e.stage, "                                        \
    "to_char(e.stage_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "                  \
    "to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), e.created_by "           \
    "FROM entrepreneur e JOIN municipality m ON m.code = e.municipality_code "                              \
    "LEFT JOIN organisation o ON o.id = e.organisation_id "
#define MEASURE_COLS                                                                                        \
    "h.id, h.fund_id, h.municipality_code, h.entrepreneur_id, h.round, h.dimension, h.indicator, "           \
    "h.raw_value::text, h.score::text, h.method, h.measured_on, h.recorded_by, ru.name, "                   \
    "to_char(h.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), h.approved_by, au.name, " \
    "to_char(h.approved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "                        \
    "FROM hs_measure h JOIN app_user ru ON ru.id = h.recorded_by LEFT JOIN app_user au ON au.id = h.approved_by "
    {"pipeline_entrepreneur_create_refs",
     "SELECT EXISTS (SELECT 1 FROM municipality WHERE code = $1), EXISTS (SELECT 1 FROM value_chain WHERE code = $2)"},
    {"pipeline_entrepreneur_create_org_find", "SELECT id, kind FROM organisation WHERE iati_ref = $1"},
    {"pipeline_entrepreneur_create",
     "INSERT INTO entrepreneur (fund_id, kind, organisation_id, name, tax_id, municipality_code, value_chain, "
     "women_led, youth_led, conflict_victim, members, requested_minor, currency, purpose, created_by) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id"},
    {"pipeline_entrepreneur_create_stage",
     "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id) "
     "VALUES ($1, NULL, 'sourced', $2) RETURNING id"},
    {"pipeline_move_lock", "SELECT id, fund_id, stage FROM entrepreneur WHERE id = $1 FOR UPDATE"},
    {"pipeline_move",
     "INSERT INTO entrepreneur_stage (entrepreneur_id, from_stage, to_stage, user_id, reason) "
     "VALUES ($1, $2, $3, $4, $5) RETURNING id"},
    {"pipeline_entrepreneur_get", "SELECT " ENTREPRENEUR_COLS "WHERE e.id = $1"},
    {"pipeline_entrepreneur_get_stages",
     "SELECT s.id, s.from_stage, s.to_stage, to_char(s.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
     "s.user_id, u.name, s.reason FROM entrepreneur_stage s JOIN app_user u ON u.id = s.user_id "
     "WHERE s.entrepreneur_id = $1 ORDER BY s.id"},
    {"pipeline_entrepreneur_get_measures",
     "SELECT DISTINCT ON (h.dimension, h.indicator) " MEASURE_COLS "WHERE h.entrepreneur_id = $1 "
     "ORDER BY h.dimension, h.indicator, h.round DESC, h.measured_on DESC, h.id DESC"},
    {"pipeline_entrepreneurs_list",
     "SELECT " ENTREPRENEUR_COLS "WHERE e.fund_id = $1 AND ($2::text IS NULL OR e.stage = $2) "
     "AND ($3::text IS NULL OR e.municipality_code = $3) AND ($4::text IS NULL OR e.value_chain = $4) "
     "AND ($5::boolean IS NULL OR e.women_led = $5) AND ($6::boolean IS NULL OR e.youth_led = $6) "
     "AND ($7::boolean IS NULL OR e.conflict_victim = $7) AND e.id > $8 ORDER BY e.id LIMIT $9"},
    {"pipeline_funnel",
     "SELECT s.stage, count(e.id), coalesce(sum(e.requested_minor), 0)::text "
     "FROM unnest($2::text[]) WITH ORDINALITY AS s(stage, n) "
     "LEFT JOIN entrepreneur e ON e.fund_id = $1 AND e.stage = s.stage "
     "GROUP BY GROUPING SETS ((s.n, s.stage), ()) ORDER BY s.n NULLS LAST"},
    {"pipeline_municipalities_list",
     "SELECT code, name, department_code, department_name FROM municipality ORDER BY code"},
    {"pipeline_value_chains_list", "SELECT code, name_es, name_en, dac_sector FROM value_chain ORDER BY code"},
    {"pipeline_measure_record_check",
     "SELECT EXISTS (SELECT 1 FROM municipality WHERE code = $1), "
     "(SELECT fund_id FROM entrepreneur WHERE id = $2::bigint), "
     "(SELECT municipality_code FROM entrepreneur WHERE id = $2::bigint), $3::date <= current_date"},
    {"pipeline_measure_record",
     "INSERT INTO hs_measure (fund_id, municipality_code, entrepreneur_id, round, dimension, indicator, raw_value, "
     "score, method, measured_on, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8::numeric, $9, "
     "$10, $11) RETURNING id"},
    {"pipeline_measure_get", "SELECT " MEASURE_COLS "WHERE h.id = $1"},
    {"pipeline_measure_approve_lock",
     "SELECT id, fund_id, recorded_by, approved_by FROM hs_measure WHERE id = $1 FOR UPDATE"},
    {"pipeline_measure_approve",
     "UPDATE hs_measure SET approved_by = $2, approved_at = now() WHERE id = $1 AND approved_by IS NULL"},
    {"pipeline_measures_list",
     "SELECT " MEASURE_COLS "WHERE h.fund_id = $1 AND ($2::text IS NULL OR h.municipality_code = $2) "
     "AND ($3::int IS NULL OR h.round = $3) AND ($4::text IS NULL OR h.dimension = $4) "
     "AND (NOT $5::boolean OR (h.approved_by IS NOT NULL AND h.entrepreneur_id IS NULL)) "
     "AND h.id > $6 ORDER BY h.id LIMIT $7"},
    /* @more@ */
};

const unsigned db_statements_count = sizeof db_statements / sizeof db_statements[0];
