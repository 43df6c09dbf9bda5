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

/* The columns of a verify run (verify_run.c's run_json reads them in this order). */
#define VERIFY_RUN_COLS                                                                                      \
    "id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), to_char(finished_at AT " \
    "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), via, user_id, run_by, entries_checked, "            \
    "entries_unsealed, accounts_checked, anchors_checked, anchor_log_lines, origins_checked, key_id, ok, "   \
    "problems_total, findings::text"

const struct db_statement db_statements[] = {
    /* db (db.c): the open transaction's snapshot, for a sibling connection to read */
    {"db_snapshot_export", "SELECT pg_export_snapshot()"},
    /* ledger */
    {"ledger_post_accounts", "SELECT id, fund_id, currency FROM account WHERE id = ANY($1::bigint[]) ORDER BY id"},
    /* One statement writes a batch of entries and their lines (the database's entry trigger
     * requires an entry's lines in the statement that writes it). Entries: $1..$7, one element
     * per entry; lines: $8..$12, one element per line, $8 the entry's 1-based place in the batch.
     * Returns the new ids in batch order. */
    {"ledger_post",
     "WITH src AS MATERIALIZED (SELECT nextval('journal_entry_id_seq') AS id, u.* FROM unnest($1::bigint[], "
     "$2::date[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY "
     "AS u(fund_id, effective_date, posted_by, memo, event_type, event_ref, reverses_entry_id, ord)), "
     "e AS (INSERT INTO journal_entry (id, fund_id, effective_date, posted_by, memo, event_type, event_ref, "
     "reverses_entry_id) SELECT id, fund_id, effective_date, posted_by, memo, event_type, event_ref, "
     "reverses_entry_id FROM src), "
     "l AS (INSERT INTO journal_line (entry_id, line_no, account_id, currency, amount_minor, effective_date) "
     "SELECT s.id, x.line_no, x.account_id, x.currency, x.amount_minor, s.effective_date FROM unnest($8::bigint[], "
     "$9::smallint[], $10::bigint[], $11::bpchar[], $12::bigint[]) AS x(ord, line_no, account_id, currency, "
     "amount_minor) JOIN src s ON s.ord = x.ord) "
     "SELECT id FROM src ORDER BY ord"},
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
    {"ledger_balance_now", "SELECT balance_minor FROM account_balance WHERE account_id = $1"},
    {"ledger_balance_as_of",
     "SELECT coalesce((SELECT sum(amount_minor) FROM journal_line WHERE account_id = a.id "
     "AND effective_date <= $2::date), 0)::bigint FROM account a WHERE a.id = $1"},
    {"ledger_trial_balance",
     "SELECT a.id, a.code, a.name, a.type, a.currency, CASE WHEN $2::date IS NULL THEN b.balance_minor ELSE "
     "coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $2::date), 0)::bigint END FROM account a "
     "JOIN account_balance b ON b.account_id = a.id WHERE a.fund_id = $1 "
     "ORDER BY a.currency, a.code"},
    {"ledger_seal_lock", "SELECT pg_advisory_xact_lock(7265100002)"},
    {"ledger_seal_head",
     "SELECT seal_pos, encode(hash, 'hex'), id, (SELECT max(seal_pos) FROM ledger_anchor), "
     "(SELECT encode(g.hash, 'hex') FROM journal_entry g WHERE g.seal_pos = 1) FROM journal_entry "
     "WHERE seal_pos IS NOT NULL ORDER BY seal_pos DESC LIMIT 1"},
    {"ledger_seal_pending", "SELECT " SEAL_COLS " FROM journal_entry WHERE seal_pos IS NULL ORDER BY id LIMIT $1"},
    /* Lines in the order of the ids given (seal order when verifying, which is not always id
     * order: an entry may commit, and so be sealed, after one with a higher id). */
    {"ledger_seal_lines",
     "SELECT l.entry_id, l.line_no, l.account_id, l.currency, l.amount_minor FROM unnest($1::bigint[]) "
     "WITH ORDINALITY AS u(id, ord) JOIN journal_line l ON l.entry_id = u.id ORDER BY u.ord, l.line_no"},
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
    {"ledger_verify_entries", "SELECT count(*) FROM journal_entry"},
    /* anchors (seal.c; docs/architecture.md, Tamper evidence) */
    {"ledger_anchor_insert",
     "INSERT INTO ledger_anchor (seal_pos, entry_id, count, hash, key_id, signature, chain) "
     "VALUES ($1, $2, $3, decode($4, 'hex'), $5, decode($6, 'hex'), decode($7, 'hex'))"},
#define ANCHOR_COLS \
    "seal_pos, entry_id, count, encode(hash, 'hex'), key_id, encode(signature, 'hex'), encode(chain, 'hex')"
    {"ledger_verify_anchors",
     "SELECT " ANCHOR_COLS " FROM ledger_anchor WHERE seal_pos > $1 AND seal_pos <= $2 ORDER BY seal_pos"},
    /* The last anchor, and how many lie past seal position $1 (the chain's end). */
    {"ledger_verify_anchors_past",
     "SELECT " ANCHOR_COLS ", (SELECT count(*) FROM ledger_anchor WHERE seal_pos > $1) FROM ledger_anchor "
     "ORDER BY seal_pos DESC LIMIT 1"},
    {"ledger_verify_entries_at",
     "SELECT u.pos, e.id, encode(e.hash, 'hex') FROM unnest($1::bigint[]) WITH ORDINALITY AS u(pos, ord) "
     "LEFT JOIN journal_entry e ON e.seal_pos = u.pos ORDER BY u.ord"},
    {"ledger_chain_head",
     "SELECT " ANCHOR_COLS " FROM ledger_anchor ORDER BY seal_pos DESC LIMIT 1"},
    {"ledger_verify_balances",
     "SELECT a.id, coalesce(b.balance_minor, 0), coalesce(s.total, 0)::bigint FROM account a "
     "LEFT JOIN account_balance b ON b.account_id = a.id LEFT JOIN "
     "(SELECT account_id, sum(amount_minor) AS total FROM journal_line GROUP BY account_id) s "
     "ON s.account_id = a.id WHERE b.account_id IS NULL OR b.balance_minor <> coalesce(s.total, 0) "
     "ORDER BY a.id LIMIT 1"},
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
    {"auth_token_renew",
     "UPDATE api_token SET expires_at = now() + make_interval(days => $2::int) WHERE id = $1 AND revoked_at IS NULL "
     "AND (expires_at IS NULL OR expires_at > now()) "
     "RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"},
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
     "SELECT a.id, a.fund_id, a.code, a.name, a.type, a.currency, CASE WHEN $2::date IS NULL THEN b.balance_minor "
     "ELSE coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $2::date), 0)::bigint END FROM account a "
     "JOIN account_balance b ON b.account_id = a.id WHERE a.fund_id = $1 ORDER BY a.code"},
    {"fund_account_get",
     "SELECT a.id, a.fund_id, a.code, a.name, a.type, a.currency, CASE WHEN $2::date IS NULL THEN b.balance_minor "
     "ELSE coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $2::date), 0)::bigint END FROM account a "
     "JOIN account_balance b ON b.account_id = a.id WHERE a.id = $1"},
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
     "SELECT substr(a.code, length('T' || $2::text || '.') + 1), CASE WHEN $3::date IS NULL THEN b.balance_minor "
     "ELSE coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date <= $3::date), 0)::bigint END FROM account a "
     "JOIN account_balance b ON b.account_id = a.id WHERE a.fund_id = $1 AND a.code LIKE 'T' || $2::text || '.%'"},
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
     "SELECT t.id, t.eligibility::text, b.balance_minor FROM tranche t JOIN account a ON a.fund_id = t.fund_id "
     "AND a.code = 'T' || t.id || '.CASH' JOIN account_balance b ON b.account_id = a.id WHERE t.fund_id = $1 AND t.currency = $2 AND t.status = 'active' "
     "ORDER BY t.rank, t.id"},
    {"loan_insert",
     "INSERT INTO loan (fund_id, entrepreneur_id, currency, principal_minor, annual_rate, day_count, "
     "payments_per_year, term_count, first_due_date, grace_principal, grace_interest, amortisation, modality, "
     "purpose, proposal_id, created_by, origination_fee_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
     "$11, $12, $13, $14, $15, $16, $17) RETURNING id"},
    {"loan_by_proposal_for_update", "SELECT " LOAN_ROW " FROM loan WHERE proposal_id = $1 FOR UPDATE"},
    {"loan_by_id", "SELECT " LOAN_ROW " FROM loan WHERE id = $1"},
    {"loan_by_id_for_update", "SELECT " LOAN_ROW " FROM loan WHERE id = $1 FOR UPDATE"},
    {"loan_store_schedule",
     "INSERT INTO loan_schedule (loan_id, no, due_date, principal_minor, interest_minor) "
     "SELECT $1, * FROM unnest($2::int[], $3::date[], $4::bigint[], $5::bigint[])"},
    {"loan_store_capitalisation",
     "INSERT INTO loan_capitalisation (loan_id, instalment_no, due_date, amount_minor) "
     "SELECT $1, * FROM unnest($2::int[], $3::date[], $4::bigint[])"},
    {"loan_capitalised_posted", "SELECT capitalised_minor FROM loan WHERE id = $1"},
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
     "SELECT least(b.balance_minor, coalesce((SELECT sum(l.amount_minor) FROM journal_line l "
     "WHERE l.account_id = a.id AND l.effective_date <= $2::date), 0)::bigint), t.eligibility::text, t.status "
     "FROM tranche t JOIN account a ON a.fund_id = t.fund_id AND a.code = 'T' || t.id || '.CASH' "
     "JOIN account_balance b ON b.account_id = a.id WHERE t.id = $1"},
    {"loan_disburse",
     "WITH d AS (INSERT INTO disbursement (loan_id, amount_minor, value_date, proposal_id, entry_id) "
     "VALUES ($1, $2, $3, $4, $5) RETURNING id) UPDATE loan SET drawn_minor = drawn_minor + $2, status = 'active' "
     "WHERE id = $1 RETURNING (SELECT id FROM d)"},
    {"loan_get",
     "SELECT id, fund_id, entrepreneur_id, currency, principal_minor, annual_rate, day_count, payments_per_year, "
     "term_count, first_due_date, grace_principal, grace_interest, amortisation, modality, purpose, status, "
     "approved_on, drawn_minor, written_off_minor, proposal_id FROM loan WHERE id = $1"},
    /* The loan's schedule: its latest stored version (migration 0018). */
    {"loan_get_schedule",
     "SELECT no, due_date, principal_minor, interest_minor FROM loan_schedule_version_row WHERE loan_id = $1 "
     "AND version = (SELECT max(version) FROM loan_schedule_version WHERE loan_id = $1) ORDER BY no"},
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
    /* statement */
    {"statement_cutoff", "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"},

    {"statement_investor", "SELECT id, name FROM organisation WHERE id = $1 AND kind = 'investor'"},
    {"statement_tranche_owner", "SELECT fund_id, investor_id, signed_date FROM tranche WHERE id = $1"},
    {"statement_tranches",
     "SELECT id, investor_id, name, kind, rank, currency, return_rate, fee_rate, signed_date, status FROM tranche "
     "WHERE fund_id = $1 AND signed_date <= $2::date ORDER BY rank, id LIMIT $3"},
    /* Per date, the net of the tranche's CONTRIB, RETURNED and DIST_INCOME lines up to $3 (each
     * account's lines read through its index: they are few). */
    {"statement_cash_flows",
     "SELECT x.effective_date, sum(x.s)::bigint FROM account a CROSS JOIN LATERAL (SELECT l.effective_date, "
     "sum(l.amount_minor) AS s FROM journal_line l WHERE l.account_id = a.id AND l.effective_date <= $3::date "
     "GROUP BY l.effective_date) x WHERE a.fund_id = $1 "
     "AND a.code IN ('T' || $2::text || '.CONTRIB', 'T' || $2::text || '.RETURNED', 'T' || $2::text || '.DIST_INCOME') "
     "GROUP BY x.effective_date HAVING sum(x.s) <> 0 ORDER BY x.effective_date LIMIT $4"},
    /* Every account of tranche $2 as of the end of three dates ($3 the period end, $4 and $5 the
     * days before the quarter and the year): the maintained balance less the lines dated after
     * each date, read in one pass over the lines after the earliest of them (one query per
     * tranche instead of a sum over every line since inception per account and date). */
    {"statement_tranche_accounts",
     "SELECT substr(a.code, length('T' || $2::text || '.') + 1), a.type, (b.balance_minor - coalesce(x.e, 0))::bigint, "
     "(b.balance_minor - coalesce(x.q, 0))::bigint, (b.balance_minor - coalesce(x.y, 0))::bigint FROM account a "
     "JOIN account_balance b ON b.account_id = a.id LEFT JOIN LATERAL (SELECT sum(l.amount_minor) FILTER (WHERE "
     "l.effective_date > $3::date) AS e, sum(l.amount_minor) FILTER (WHERE l.effective_date > $4::date) AS q, "
     "sum(l.amount_minor) FILTER (WHERE l.effective_date > $5::date) AS y FROM journal_line l WHERE l.account_id = a.id "
     "AND l.effective_date > least($3::date, $4::date, $5::date)) x ON true WHERE a.fund_id = $1 "
     "AND a.code LIKE 'T' || $2::text || '.%'"},
    /* What recoveries restored to tranche $2's LOSS account (its credits by `recovery` entries, and
     * the lines of entries reversing one) up to the end of $3, $4 and $5: signed, a credit < 0. */
    {"statement_tranche_recoveries",
     "SELECT coalesce(sum(x.s) FILTER (WHERE x.d <= $3::date), 0)::bigint, coalesce(sum(x.s) FILTER (WHERE x.d <= "
     "$4::date), 0)::bigint, coalesce(sum(x.s) FILTER (WHERE x.d <= $5::date), 0)::bigint FROM account a "
     "CROSS JOIN LATERAL (SELECT l.amount_minor AS s, l.effective_date AS d, (SELECT e.event_type = 'recovery' "
     "OR coalesce(o.event_type = 'recovery', false) FROM journal_entry e LEFT JOIN journal_entry o "
     "ON o.id = e.reverses_entry_id WHERE e.id = l.entry_id) AS rec FROM journal_line l WHERE l.account_id = a.id) x "
     "WHERE a.fund_id = $1 AND a.code = 'T' || $2::text || '.LOSS' AND x.rec"},
    /* The coupon's start for tranche $2 as of $3 (coupon.c's rules, as the waterfall's next run
     * would compute it): the fund's last waterfall run on or before $3 with the tranche's interest
     * due and not paid by it, and the tranche's first contribution on or before $3. */
    {"statement_coupon_start",
     "SELECT r.run_date::text, coalesce((SELECT s.due_minor - s.amount_minor FROM waterfall_step s "
     "WHERE s.run_id = r.id AND s.tranche_id = $2 AND s.kind = 'interest'), 0)::bigint, "
     "(SELECT min(c.received_date)::text FROM contribution c WHERE c.tranche_id = $2 AND c.received_date <= $3::date) "
     "FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT w.id, w.run_date FROM waterfall_run w WHERE w.fund_id = $1 "
     "AND w.run_date <= $3::date ORDER BY w.run_date DESC, w.id DESC LIMIT 1) r ON true"},
    /* The fund-level accounts (not a tranche's) as of the end of $2: the maintained balance less
     * the lines dated after it (few for a recent date). */
    {"statement_fund_accounts",
     "SELECT a.code, a.type, (b.balance_minor - coalesce((SELECT sum(l.amount_minor) FROM journal_line l "
     "WHERE l.account_id = a.id AND l.effective_date > $2::date), 0))::bigint FROM account a "
     "JOIN account_balance b ON b.account_id = a.id WHERE a.fund_id = $1 AND a.code !~ '^T[0-9]+[.]' "
     "AND a.type <> 'memo' ORDER BY a.code"},
    /* The sum of the tranche's CONTRIB, RETURNED and LOSS balances (its capital negated) at the
     * end of each date of $3, in order: the same sums of lines tranche_balances reads, for those
     * three accounts only. */
    {"statement_capital_history",
     "SELECT d.d, coalesce((SELECT sum(x.s) FROM account a CROSS JOIN LATERAL (SELECT sum(l.amount_minor) AS s "
     "FROM journal_line l WHERE l.account_id = a.id AND l.effective_date <= d.d) x WHERE a.fund_id = $1 "
     "AND a.code IN ('T' || $2::text || '.CONTRIB', 'T' || $2::text || '.RETURNED', 'T' || $2::text || '.LOSS')), "
     "0)::bigint FROM unnest($3::date[]) WITH ORDINALITY AS d(d, n) ORDER BY d.n"},
    {"statement_interest_unpaid",
     "SELECT r.run_date, s.due_minor - s.amount_minor FROM waterfall_step s JOIN waterfall_run r ON r.id = s.run_id "
     "WHERE s.tranche_id = $1 AND s.kind = 'interest' AND r.run_date <= $2::date "
     "ORDER BY r.run_date DESC, r.id DESC, s.step_no DESC LIMIT 1"},
    {"statement_waterfall_runs",
     "SELECT id, run_date, mode, interest_minor, fee_minor, principal_minor FROM waterfall_run "
     "WHERE fund_id = $1 AND run_date BETWEEN $2::date AND $3::date ORDER BY run_date, id LIMIT $4"},
    {"statement_waterfall_steps",
     "SELECT s.run_id, s.step_no, s.kind, s.due_minor, s.amount_minor FROM waterfall_step s "
     "WHERE s.run_id = ANY($1::bigint[]) AND s.tranche_id = $2 ORDER BY s.run_id, s.step_no LIMIT $3"},
    /* Borrowers with a loan outstanding in the ledger at $2: the T<id>.LOANS lines of fund $1 dated
     * on or before $2 whose entry's reference is "loan:<id>" naming a loan of the fund (the
     * canonical text, at most 23 characters, joins directly; a zero-padded id, which no code
     * writes, is parsed, from the few entries of the fund whose reference starts so, read through
     * the partial index journal_entry_loan_ref_padded of migration 0022, whose predicate is this
     * one's: an entry has lines only on accounts of its own fund), summed per loan, outstanding when the sum is
     * positive. Returns borrowers, women-led borrowers, their declared members and the borrowers
     * that are persons. The lines are summed per entry first (an entry of a loan funded by three
     * tranches has three LOANS lines: a third of the rows to join), each entry joined to its loan,
     * then summed per loan: the same sums as summing per reference first (a reference names one
     * loan), without grouping and sorting 100,000 reference texts (~0.1 s of the benchmark's
     * statement). */
    {"statement_loans_outstanding",
     "WITH a AS (SELECT id FROM account WHERE fund_id = $1 AND code ~ '^T[0-9]+[.]LOANS$'), "
     "lo AS (SELECT ln.id, ln.entrepreneur_id, x.s FROM (SELECT l.entry_id, sum(l.amount_minor) AS s "
     "FROM journal_line l WHERE l.account_id IN (SELECT id FROM a) AND l.effective_date <= $2::date "
     "GROUP BY l.entry_id) x JOIN journal_entry e ON e.id = x.entry_id JOIN loan ln ON e.event_ref = 'loan:' || ln.id "
     "WHERE ln.fund_id = $1 AND length(e.event_ref) <= 23 "
     "UNION ALL SELECT ln.id, ln.entrepreneur_id, l.amount_minor FROM journal_entry e "
     "JOIN journal_line l ON l.entry_id = e.id JOIN loan ln ON ln.id = CASE WHEN "
     "e.event_ref ~ '^loan:[0-9]{1,18}$' THEN substr(e.event_ref, 6)::bigint END "
     "WHERE e.fund_id = $1 AND e.event_ref LIKE 'loan:0_%' AND l.account_id IN (SELECT id FROM a) "
     "AND l.effective_date <= $2::date AND ln.fund_id = $1), "
     "b AS (SELECT DISTINCT entrepreneur_id FROM (SELECT entrepreneur_id FROM lo GROUP BY id, entrepreneur_id "
     "HAVING sum(s) > 0) x) "
     "SELECT count(*), count(*) FILTER (WHERE n.women_led), coalesce(sum(n.members), 0)::bigint, "
     "count(*) FILTER (WHERE n.kind = 'person') FROM b JOIN entrepreneur n ON n.id = b.entrepreneur_id"},
    /* repayment, write-off, recovery, arrears, portfolio, distribution (repayment.c, portfolio.c,
     * distribution.c) */
    /* One probe of repayment and one of loan_charge for each loan (LATERAL), not one per figure. */
    {"repayment_load_loans",
     "SELECT l.id, l.fund_id, l.entrepreneur_id, l.currency, l.principal_minor, l.drawn_minor, l.written_off_minor, "
     "l.status, (SELECT min(d.value_date) FROM disbursement d WHERE d.loan_id = l.id), r.p, "
     "(SELECT min(w.value_date) FROM write_off w WHERE w.loan_id = l.id), "
     "l.capitalised_minor, l.origination_fee_minor, r.f, c.a, c.m "
     "FROM loan l CROSS JOIN LATERAL (SELECT coalesce(sum(r.overdue_principal_minor + r.current_principal_minor "
     "+ r.prepayment_minor), 0) AS p, coalesce(sum(r.fees_minor), 0) AS f FROM repayment r WHERE r.loan_id = l.id) r "
     "CROSS JOIN LATERAL (SELECT coalesce(sum(c.amount_minor), 0)::bigint AS a, "
     "coalesce(max(c.value_date)::text, '') AS m FROM loan_charge c WHERE c.loan_id = l.id) c "
     "WHERE l.id = ANY($1::bigint[]) ORDER BY l.id FOR UPDATE OF l"},
    {"repayment_load_schedule",
     "SELECT s.loan_id, s.no, s.due_date, s.principal_minor, s.interest_minor, coalesce(p.pp, 0), coalesce(p.pi, 0) "
     "FROM loan_schedule s LEFT JOIN (SELECT loan_id, instalment_no, "
     "sum(amount_minor) FILTER (WHERE component = 'principal') AS pp, "
     "sum(amount_minor) FILTER (WHERE component = 'interest') AS pi FROM repayment_allocation "
     "WHERE loan_id = ANY($1::bigint[]) GROUP BY loan_id, instalment_no) p "
     "ON p.loan_id = s.loan_id AND p.instalment_no = s.no WHERE s.loan_id = ANY($1::bigint[]) "
     "ORDER BY s.loan_id, s.no"},
    {"repayment_load_schedule_range",
     "SELECT s.loan_id, s.no, s.due_date, s.principal_minor, s.interest_minor, coalesce(p.pp, 0), coalesce(p.pi, 0) "
     "FROM loan_schedule s LEFT JOIN (SELECT loan_id, instalment_no, "
     "sum(amount_minor) FILTER (WHERE component = 'principal') AS pp, "
     "sum(amount_minor) FILTER (WHERE component = 'interest') AS pi FROM repayment_allocation "
     "WHERE loan_id BETWEEN $1 AND $2 GROUP BY loan_id, instalment_no) p "
     "ON p.loan_id = s.loan_id AND p.instalment_no = s.no WHERE s.loan_id BETWEEN $1 AND $2 "
     "ORDER BY s.loan_id, s.no"},
    {"repayment_load_funding",
     "SELECT f.loan_id, f.tranche_id, f.weight_minor, a.id FROM loan_funding f JOIN loan l ON l.id = f.loan_id "
     "JOIN account a ON a.fund_id = l.fund_id AND a.code = 'T' || f.tranche_id || '.LOANS' "
     "WHERE f.loan_id = ANY($1::bigint[]) ORDER BY f.loan_id, f.position"},
    {"repayment_load_refs",
     "SELECT DISTINCT r.loan_id, r.reference FROM repayment r "
     "JOIN unnest($1::bigint[], $2::text[]) AS u(loan_id, reference) "
     "ON r.loan_id = u.loan_id AND r.reference = u.reference"},
    {"repayment_ids", "SELECT nextval('repayment_id_seq') FROM generate_series(1, $1::int)"},
    {"repayment_insert",
     "INSERT INTO repayment (id, loan_id, amount_minor, value_date, reference, fees_minor, overdue_interest_minor, "
     "overdue_principal_minor, current_interest_minor, current_principal_minor, prepayment_minor, entry_id, "
     "default_interest_minor, prepayment_choice, created_by) SELECT u.*, $15::bigint FROM unnest($1::bigint[], "
     "$2::bigint[], $3::bigint[], $4::date[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], "
     "$10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[]) AS u"},
    {"repayment_insert_allocations",
     "INSERT INTO repayment_allocation (repayment_id, loan_id, instalment_no, component, amount_minor) "
     "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::bigint[])"},
    {"repayment_load_capitalisation",
     "SELECT loan_id, instalment_no, due_date, amount_minor, entry_id IS NOT NULL FROM loan_capitalisation "
     "WHERE loan_id = ANY($1::bigint[]) ORDER BY loan_id, instalment_no"},
    /* Marks capitalisation rows (loan, instalment) posted by an entry and adds them to the loans'
     * capitalised_minor; returns how many rows it marked. */
    {"repayment_post_capitalisation",
     "WITH c AS (UPDATE loan_capitalisation k SET entry_id = u.entry_id FROM unnest($1::bigint[], $2::int[], "
     "$3::bigint[]) AS u(loan_id, no, entry_id) WHERE k.loan_id = u.loan_id AND k.instalment_no = u.no "
     "AND k.entry_id IS NULL RETURNING k.loan_id, k.amount_minor), s AS (SELECT loan_id, sum(amount_minor)::bigint "
     "AS amt, count(*) AS n FROM c GROUP BY loan_id), l AS (UPDATE loan SET capitalised_minor = capitalised_minor "
     "+ s.amt FROM s WHERE loan.id = s.loan_id RETURNING loan.id) SELECT coalesce(sum(n), 0)::bigint FROM s"},
    /* Capitalisation not posted when a loan ends (repaid in full, written off in full): it was not
     * due yet (or, at a write-off, never recognised) and never will be. */
    {"repayment_drop_capitalisation",
     "DELETE FROM loan_capitalisation WHERE loan_id = ANY($1::bigint[]) AND entry_id IS NULL"},
    {"repayment_list",
     "SELECT id, amount_minor, value_date, reference, fees_minor, overdue_interest_minor, overdue_principal_minor, "
     "current_interest_minor, current_principal_minor, prepayment_minor, entry_id, "
     "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), default_interest_minor, "
     "prepayment_choice FROM repayment WHERE loan_id = $1 "
     "ORDER BY value_date, id"},
    {"repayment_list_allocations",
     "SELECT a.repayment_id, a.instalment_no, a.component, a.amount_minor FROM repayment_allocation a "
     "JOIN repayment r ON r.id = a.repayment_id WHERE a.loan_id = $1 "
     "ORDER BY r.value_date, r.id, a.instalment_no, a.component"},
    {"repayment_list_tranches",
     "SELECT r.id, substring(a.code FROM '^T([0-9]+)[.]LOANS$')::bigint, -l.amount_minor FROM repayment r "
     "JOIN journal_line l ON l.entry_id = r.entry_id JOIN account a ON a.id = l.account_id "
     "WHERE r.loan_id = $1 AND a.code ~ '^T[0-9]+[.]LOANS$' ORDER BY r.value_date, r.id, a.code"},
    /* servicing.c: a set of loans replayed by the accrual engine; the funds' default rates */
    {"servicing_load_loans",
     "SELECT l.id, l.fund_id, l.principal_minor, l.currency, l.annual_rate, l.day_count, l.payments_per_year, "
     "l.term_count, l.first_due_date, l.grace_principal, l.grace_interest, l.amortisation, l.modality, "
     "l.origination_fee_minor, f.prepayment_default, f.servicing_basis FROM loan l JOIN fund f ON f.id = l.fund_id "
     "WHERE l.id = ANY($1::bigint[]) ORDER BY l.id"},
    {"servicing_load_events",
     "SELECT loan_id, value_date, k, amount_minor, choice FROM (SELECT loan_id, value_date, 0 AS k, amount_minor, "
     "'reduce_term'::text AS choice, id FROM disbursement WHERE loan_id = ANY($1::bigint[]) UNION ALL "
     "SELECT loan_id, value_date, 1, amount_minor, prepayment_choice, id FROM repayment "
     "WHERE loan_id = ANY($1::bigint[]) UNION ALL SELECT loan_id, value_date, 2, amount_minor, 'reduce_term', id "
     "FROM loan_charge WHERE loan_id = ANY($1::bigint[])) e "
     "ORDER BY loan_id, value_date, CASE k WHEN 2 THEN 1 WHEN 1 THEN 2 ELSE 0 END, id"},
    {"servicing_load_caps",
     "SELECT modality, valid_from, rate, CASE WHEN valid_to < '9999-01-01' THEN (valid_to + 1)::text END "
     "FROM usury_rate ORDER BY modality, valid_from"},
    /* The loans' approval schedules (version 1), the replay's seed (servicing.h). */
    {"servicing_load_seeds",
     "SELECT loan_id, no, due_date, principal_minor, interest_minor, capitalised_minor "
     "FROM loan_schedule_version_row WHERE loan_id = ANY($1::bigint[]) AND version = 1 ORDER BY loan_id, no"},
    {"servicing_load_seeds_range",
     "SELECT loan_id, no, due_date, principal_minor, interest_minor, capitalised_minor "
     "FROM loan_schedule_version_row WHERE loan_id BETWEEN $1 AND $2 AND version = 1 ORDER BY loan_id, no"},
    /* Stored schedule versions (schedver.c, migration 0018). */
    {"schedver_flush",
     "INSERT INTO loan_schedule_version (loan_id, version, reason, disbursement_id, repayment_id, valid_from, "
     "repayments_through) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], $5::bigint[], "
     "$6::date[], $7::bigint[])"},
    {"schedver_flush_rows",
     "INSERT INTO loan_schedule_version_row (loan_id, version, no, due_date, principal_minor, interest_minor, "
     "capitalised_minor, principal_paid_minor, interest_paid_minor) SELECT * FROM unnest($1::bigint[], $2::int[], "
     "$3::int[], $4::date[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])"},
    {"schedver_latest",
     "SELECT loan_id, max(version) FROM loan_schedule_version WHERE loan_id = ANY($1::bigint[]) GROUP BY loan_id "
     "ORDER BY loan_id"},
    {"schedver_after_disbursement",
     "SELECT coalesce((SELECT max(version) FROM loan_schedule_version WHERE loan_id = $1), 0), "
     "coalesce((SELECT max(id) FROM repayment WHERE loan_id = $1), 0)"},
    {"schedver_list",
     "SELECT v.version, v.reason, v.disbursement_id, v.repayment_id, v.valid_from, "
     "to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.no, r.due_date, "
     "r.principal_minor, r.interest_minor, r.capitalised_minor, r.principal_paid_minor, r.interest_paid_minor "
     "FROM loan_schedule_version v LEFT JOIN loan_schedule_version_row r ON r.loan_id = v.loan_id "
     "AND r.version = v.version WHERE v.loan_id = $1 ORDER BY v.version, r.no"},
    {"servicing_load_default_rates",
     "SELECT fund_id, valid_from, rate FROM fund_default_rate WHERE fund_id IN (SELECT fund_id FROM loan "
     "WHERE id = ANY($1::bigint[])) ORDER BY fund_id, valid_from"},
    {"servicing_default_rate_bounds",
     "SELECT coalesce((SELECT max(valid_from)::text FROM fund_default_rate WHERE fund_id = $1), ''), "
     "coalesce((SELECT max(r.value_date)::text FROM repayment r JOIN loan l ON l.id = r.loan_id "
     "WHERE l.fund_id = $1), '')"},
    {"servicing_default_rate_insert",
     "INSERT INTO fund_default_rate (fund_id, valid_from, rate, created_by) VALUES ($1, $2, $3, $4) RETURNING id"},
    {"servicing_default_rate_list",
     "SELECT id, valid_from, rate, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
     "FROM fund_default_rate WHERE fund_id = $1 ORDER BY valid_from"},
    /* Sets the capitalised interest posted of loans to the replayed figure. */
    {"servicing_set_capitalised",
     "UPDATE loan SET capitalised_minor = u.c FROM unnest($1::bigint[], $2::bigint[]) AS u(id, c) "
     "WHERE loan.id = u.id"},
    {"close_lock_fund", "SELECT id FROM fund WHERE id = $1 FOR UPDATE"},
    {"close_last",
     "SELECT coalesce(max(close_date)::text, ''), coalesce(max(entries) FILTER (WHERE close_date = $2::date), -1) "
     "FROM period_close WHERE fund_id = $1"},
    {"close_loans",
     "SELECT l.id FROM loan l JOIN fund f ON f.id = l.fund_id WHERE l.fund_id = $1 AND l.status = 'active' AND "
     "(f.servicing_basis = 'accrual' OR EXISTS (SELECT 1 FROM loan_capitalisation k WHERE k.loan_id = l.id "
     "AND k.entry_id IS NULL AND k.due_date <= $2::date)) ORDER BY 1"},
    /* repayment.c: accrual postings (docs/loan-servicing.md §9) */
    {"accrual_load_latest",
     "SELECT DISTINCT ON (loan_id) loan_id, accrual_date, ordinary_total_minor, default_total_minor "
     "FROM loan_accrual WHERE loan_id = ANY($1::bigint[]) ORDER BY loan_id, id DESC"},
    {"accrual_insert",
     "INSERT INTO loan_accrual (loan_id, accrual_date, ordinary_minor, default_minor, ordinary_total_minor, "
     "default_total_minor, tranche_ids, tranche_parts, entry_id, created_by) SELECT u.l, u.d, u.o, u.f, u.ot, "
     "u.ft, u.ti::bigint[], u.tp::bigint[], u.e, $10 FROM unnest($1::bigint[], $2::date[], $3::bigint[], "
     "$4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::bigint[]) "
     "AS u(l, d, o, f, ot, ft, ti, tp, e) ORDER BY u.l, u.d"},
    {"accrual_list",
     "SELECT id, accrual_date, ordinary_minor, default_minor, ordinary_total_minor, default_total_minor, entry_id, "
     "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM loan_accrual "
     "WHERE loan_id = $1 ORDER BY id"},
    {"accrual_list_tranches",
     "SELECT k.id, u.t, u.p FROM loan_accrual k CROSS JOIN LATERAL unnest(k.tranche_ids, k.tranche_parts) "
     "WITH ORDINALITY AS u(t, p, o) WHERE k.loan_id = $1 ORDER BY k.id, u.o"},
    /* seal.c: each accrual entry against its loan_accrual rows */
    {"ledger_verify_accruals",
     "WITH r AS (SELECT k.*, l.fund_id FROM loan_accrual k JOIN loan l ON l.id = k.loan_id), "
     "rp AS (SELECT entry_id, CASE WHEN (SELECT coalesce(sum(p), 0) FROM unnest(tranche_parts) p) <> "
     "ordinary_minor + default_minor THEN 'the tranche parts of loan ' || loan_id || ' do not add up to its "
     "accrual' WHEN ordinary_total_minor + default_total_minor <> coalesce(lag(ordinary_total_minor + "
     "default_total_minor) OVER (PARTITION BY loan_id ORDER BY id) + ordinary_minor + default_minor, "
     "ordinary_total_minor + default_total_minor) THEN 'the cumulative totals of loan ' || loan_id || "
     "' do not continue its previous accrual''s' WHEN EXISTS (SELECT 1 FROM unnest(tranche_ids) t WHERE NOT "
     "EXISTS (SELECT 1 FROM loan_funding f WHERE f.loan_id = r.loan_id AND f.tranche_id = t)) THEN 'loan ' || "
     "loan_id || ' has a part on a tranche that does not fund it' END AS problem FROM r), "
     "w AS (SELECT entry_id, 'T' || u.t || '.INTEREST_RECEIVABLE' AS code, sum(u.p) AS amt FROM r CROSS JOIN "
     "LATERAL unnest(r.tranche_ids, r.tranche_parts) AS u(t, p) GROUP BY 1, 2 UNION ALL SELECT entry_id, '4000', "
     "-sum(ordinary_minor + default_minor) FROM r GROUP BY 1), "
     "g AS (SELECT jl.entry_id, a.code, sum(jl.amount_minor) AS amt FROM journal_line jl JOIN account a ON "
     "a.id = jl.account_id WHERE jl.entry_id IN (SELECT entry_id FROM r) GROUP BY 1, 2), "
     "ln AS (SELECT coalesce(w.entry_id, g.entry_id) AS entry_id, 'its line on ' || coalesce(w.code, g.code) || "
     "' is ' || coalesce(g.amt, 0) || ' where its accrual rows make ' || coalesce(w.amt, 0) AS problem FROM w "
     "FULL JOIN g ON g.entry_id = w.entry_id AND g.code = w.code WHERE coalesce(w.amt, 0) <> coalesce(g.amt, 0)), "
     "hd AS (SELECT DISTINCT r.entry_id, CASE WHEN e.event_type <> 'accrual' THEN 'it is posted as ' || "
     "e.event_type WHEN e.fund_id <> r.fund_id THEN 'it is posted to another fund than loan ' || r.loan_id || "
     "'''s' WHEN e.effective_date <> r.accrual_date THEN 'its date is not the accrual date of loan ' || "
     "r.loan_id END AS problem FROM r JOIN journal_entry e ON e.id = r.entry_id) "
     "SELECT entry_id, problem FROM (SELECT * FROM rp UNION ALL SELECT * FROM ln UNION ALL SELECT * FROM hd) z "
     "WHERE problem IS NOT NULL ORDER BY 1 LIMIT 100"},
    {"close_insert",
     "INSERT INTO period_close (fund_id, close_date, entries, created_by) VALUES ($1, $2, $3, $4)"},
    {"repayment_mark_repaid",
     "UPDATE loan SET status = 'repaid' WHERE id = ANY($1::bigint[]) AND status = 'active' "
     "RETURNING id, entrepreneur_id"},
    {"repayment_lock_tranches", "SELECT id FROM tranche WHERE fund_id = $1 ORDER BY id FOR UPDATE"},
    {"repayment_tranches",
     "SELECT t.id, t.rank, t.status, coalesce(sum(b.balance_minor) FILTER (WHERE a.code IN ('T' || t.id || "
     "'.CONTRIB', 'T' || t.id || '.RETURNED', 'T' || t.id || '.LOSS')), 0)::bigint, "
     "coalesce(sum(b.balance_minor) FILTER (WHERE a.code = 'T' || t.id || '.LOSS'), 0)::bigint, "
     "coalesce(max(a.id) FILTER (WHERE a.code = 'T' || t.id || '.LOSS'), 0) FROM tranche t "
     "JOIN account a ON a.fund_id = t.fund_id AND a.code LIKE 'T' || t.id || '.%' "
     "JOIN account_balance b ON b.account_id = a.id "
     "WHERE t.fund_id = $1 AND t.currency = $2 GROUP BY t.id, t.rank, t.status ORDER BY t.rank, t.id"},
    {"writeoff_insert",
     "INSERT INTO write_off (loan_id, amount_minor, value_date, proposal_id, entry_id) VALUES ($1, $2, $3, $4, $5) "
     "RETURNING id"},
    {"writeoff_loan_update",
     "UPDATE loan SET written_off_minor = written_off_minor + $2, "
     "status = CASE WHEN $3::boolean THEN 'written_off' ELSE status END WHERE id = $1"},
    /* The loan's allowance held (its allowance in the fund's last provision run less what its
     * write-offs since that run used on 1190) and the fund's 1190 account (docs/fund-operations.md,
     * "Write-off: the allowance is used first"). */
    {"writeoff_allowance_held",
     "WITH run AS (SELECT id, entry_id, created_at FROM provision_run WHERE fund_id = $1 "
     "ORDER BY as_of DESC, id DESC LIMIT 1) SELECT (coalesce((SELECT pl.allowance_minor FROM provision_loan pl "
     "JOIN run ON pl.run_id = run.id WHERE pl.loan_id = $2), 0) - coalesce((SELECT sum(jl.amount_minor) "
     "FROM write_off w JOIN run ON w.created_at > run.created_at OR w.entry_id > run.entry_id "
     "JOIN journal_line jl ON jl.entry_id = w.entry_id JOIN account a ON a.id = jl.account_id "
     "WHERE w.loan_id = $2 AND a.fund_id = $1 AND a.code = '1190'), 0))::bigint, "
     "(SELECT id FROM account WHERE fund_id = $1 AND code = '1190')"},
    /* The tranches' ALLOWANCE accounts in a currency, most senior first, with their balances. */
    {"writeoff_allowance_tranches",
     "SELECT a.id, coalesce((SELECT sum(l.amount_minor) FROM journal_line l WHERE l.account_id = a.id), 0)::bigint "
     "FROM tranche t JOIN account a ON a.fund_id = t.fund_id AND a.code = 'T' || t.id || '.ALLOWANCE' "
     "WHERE t.fund_id = $1 AND t.currency = $2 ORDER BY t.rank, t.id"},
    {"recovery_insert",
     "INSERT INTO recovery (loan_id, amount_minor, value_date, reference, entry_id, created_by) "
     "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"},
    /* Arrears of loans as of $2 (payments, drawdowns and write-offs dated on or before it): per loan
     * the principal outstanding, the oldest due date before $2 of an instalment not fully paid and
     * the scheduled principal and interest due before $2 not paid yet. LN selects the loans (id,
     * entrepreneur_id, currency); FILTER(col) restricts each source to them: ARREARS_IN_LN, or
     * ARREARS_ANY_LOAN when the final join with ln alone selects them (portfolio_quality_whole).
     * What repayments paid is summed per instalment first, then the schedule due before $2 joins
     * it once; every sum is bigint (amounts are int64 minor units: no numeric arithmetic per row).
     * An allocation counts unless its repayment is dated after $2 (NOT EXISTS: every allocation
     * has its repayment, whose value_date is never NULL, so this keeps exactly the allocations of
     * repayments dated on or before $2): an anti-join against the few repayments after $2 keeps
     * the allocations in (loan_id, instalment_no) index order, so the sums come out in the
     * schedule's order and merge-join it without a sort, where joining every repayment hashed
     * them and sorted the sums again (~0.1 s of the benchmark's portfolio pass). Not MATERIALIZED
     * any more: that hid the order; statements run the pass without parallel workers. */
#define ARREARS_IN_LN(col) " AND " col " IN (SELECT id FROM ln)"
#define ARREARS_ANY_LOAN(col) ""
#define ARREARS_WITH(MAT, LN, FILTER)                                                                          \
    "WITH ln AS " MAT " (" LN "), "                                                                               \
    "sv AS (SELECT DISTINCT ON (v.loan_id) v.loan_id, v.version, v.repayments_through "                   \
    "FROM loan_schedule_version v WHERE v.valid_from <= $2::date" FILTER("v.loan_id")                      \
    " ORDER BY v.loan_id, v.version DESC), "                                                              \
    "paid AS (SELECT a.loan_id, a.instalment_no, "                                                        \
    "coalesce(sum(a.amount_minor) FILTER (WHERE a.component = 'principal'), 0)::bigint AS pp, "            \
    "coalesce(sum(a.amount_minor) FILTER (WHERE a.component = 'interest'), 0)::bigint AS pi "              \
    "FROM repayment_allocation a JOIN sv ON sv.loan_id = a.loan_id AND a.repayment_id > sv.repayments_through " \
    "WHERE NOT EXISTS (SELECT 1 FROM repayment r WHERE r.id = a.repayment_id "                            \
    "AND r.value_date > $2::date)" FILTER("a.loan_id") " GROUP BY a.loan_id, a.instalment_no), "         \
    "due AS (SELECT s.loan_id, min(s.due_date) FILTER (WHERE s.principal_minor + s.interest_minor > "     \
    "s.principal_paid_minor + s.interest_paid_minor + coalesce(p.pp + p.pi, 0)) AS oldest, "              \
    "sum(s.principal_minor - s.principal_paid_minor - coalesce(p.pp, 0))::bigint AS pr, "                 \
    "sum(s.interest_minor - s.interest_paid_minor - coalesce(p.pi, 0))::bigint AS it FROM sv "            \
    "JOIN loan_schedule_version_row s ON s.loan_id = sv.loan_id AND s.version = sv.version LEFT JOIN paid p " \
    "ON p.loan_id = s.loan_id AND p.instalment_no = s.no WHERE s.due_date < $2::date"                     \
    " GROUP BY s.loan_id), "                                                                              \
    "mv AS (SELECT loan_id, sum(amount)::bigint AS outstanding FROM ("                                    \
    "SELECT loan_id, amount_minor AS amount FROM disbursement WHERE value_date <= $2::date"               \
    FILTER("loan_id") " UNION ALL SELECT loan_id, -(overdue_principal_minor + current_principal_minor + " \
    "prepayment_minor) FROM repayment WHERE value_date <= $2::date" FILTER("loan_id")                     \
    " UNION ALL SELECT loan_id, -amount_minor FROM write_off WHERE value_date <= $2::date"                 \
    FILTER("loan_id") " UNION ALL SELECT loan_id, amount_minor FROM loan_capitalisation "                   \
    "WHERE due_date <= $2::date" FILTER("loan_id") ") m GROUP BY loan_id), "                               \
    "ar AS (SELECT ln.id, ln.entrepreneur_id, ln.currency, coalesce(mv.outstanding, 0) AS outstanding, "  \
    "due.oldest, coalesce(due.pr, 0) AS pr, coalesce(due.it, 0) AS it FROM ln "                           \
    "LEFT JOIN mv ON mv.loan_id = ln.id LEFT JOIN due ON due.loan_id = ln.id), "                          \
    "x AS (SELECT id, entrepreneur_id, currency, outstanding, "                                           \
    "CASE WHEN outstanding <= 0 OR oldest IS NULL THEN 0 ELSE $2::date - oldest END AS dpd, "             \
    "CASE WHEN outstanding <= 0 THEN NULL ELSE oldest END AS oldest, "                                    \
    "CASE WHEN outstanding <= 0 THEN 0 ELSE least(pr, outstanding) END AS pr, "                           \
    "CASE WHEN outstanding <= 0 THEN 0 ELSE it END AS it FROM ar) "
    {"loan_arrears",
     ARREARS_WITH("MATERIALIZED", "SELECT id, entrepreneur_id, currency FROM loan WHERE id = $1", ARREARS_IN_LN)
     "SELECT id, currency, outstanding, dpd, oldest, pr, it FROM x"},
    {"portfolio_arrears_list",
     ARREARS_WITH("MATERIALIZED", "SELECT id, entrepreneur_id, currency FROM loan WHERE fund_id = $1 AND id > $3 "
                  "AND status IN ('active', 'repaid', 'written_off') ORDER BY id LIMIT $4", ARREARS_IN_LN)
     "SELECT x.id, x.currency, x.outstanding, x.dpd, x.oldest, x.pr, x.it, x.entrepreneur_id, "
     "e.municipality_code, e.value_chain FROM x JOIN entrepreneur e ON e.id = x.entrepreneur_id ORDER BY x.id"},
    /* The fund's loans in its base currency ($3) grouped by value chain, by municipality and in
     * total (names joined to the few groups, not to every loan). Two texts with one meaning:
     * portfolio_quality restricts every source to the fund's loans; portfolio_quality_whole reads
     * every row and keeps the fund's loans at the final join, which is cheaper when no other fund
     * has loans (portfolio_other_funds; portfolio.c chooses). */
#define PORTFOLIO_QUALITY(FILTER)                                                                             \
    ARREARS_WITH("NOT MATERIALIZED", "SELECT l.id, l.entrepreneur_id, l.currency FROM loan l "                \
                 "WHERE l.fund_id = $1 AND l.currency = $3 AND l.status IN ('active', 'repaid', 'written_off')", \
                 FILTER)                                                                                      \
    ", g AS (SELECT GROUPING(e.value_chain) AS gv, GROUPING(e.municipality_code) AS gm, e.value_chain, "      \
    "e.municipality_code, count(*) FILTER (WHERE x.outstanding > 0) AS n, "                                   \
    "coalesce(sum(x.outstanding) FILTER (WHERE x.outstanding > 0), 0) AS o, "                                 \
    "count(*) FILTER (WHERE x.outstanding > 0 AND x.dpd > 30) AS n30, "                                       \
    "coalesce(sum(x.outstanding) FILTER (WHERE x.outstanding > 0 AND x.dpd > 30), 0) AS a30, "                \
    "count(*) FILTER (WHERE x.outstanding > 0 AND x.dpd > 90) AS n90, "                                       \
    "coalesce(sum(x.outstanding) FILTER (WHERE x.outstanding > 0 AND x.dpd > 90), 0) AS a90, "                \
    "coalesce(sum(x.pr), 0) AS pr, coalesce(sum(x.it), 0) AS it FROM x JOIN entrepreneur e "                  \
    "ON e.id = x.entrepreneur_id GROUP BY GROUPING SETS ((), (e.value_chain), (e.municipality_code))) "       \
    "SELECT g.gv, g.gm, g.value_chain, g.municipality_code, m.name, m.department_name, g.n, g.o, g.n30, "     \
    "g.a30, g.n90, g.a90, g.pr, g.it FROM g LEFT JOIN municipality m ON m.code = g.municipality_code "         \
    "ORDER BY 1 DESC, 2 DESC, 3, 4"
    {"portfolio_quality", PORTFOLIO_QUALITY(ARREARS_IN_LN)},
    {"portfolio_quality_whole", PORTFOLIO_QUALITY(ARREARS_ANY_LOAN)},
    /* Whether a fund other than $1 has loans (two probes of loan_fund_id). */
    {"portfolio_other_funds",
     "SELECT EXISTS (SELECT 1 FROM loan WHERE fund_id < $1) OR EXISTS (SELECT 1 FROM loan WHERE fund_id > $1)"},
    {"portfolio_losses",
     "SELECT (SELECT count(*) FROM write_off w JOIN loan l ON l.id = w.loan_id WHERE l.fund_id = $1 "
     "AND w.value_date BETWEEN $2 AND $3), (SELECT coalesce(sum(w.amount_minor), 0) FROM write_off w "
     "JOIN loan l ON l.id = w.loan_id WHERE l.fund_id = $1 AND w.value_date BETWEEN $2 AND $3), "
     "(SELECT count(*) FROM recovery r JOIN loan l ON l.id = r.loan_id WHERE l.fund_id = $1 "
     "AND r.value_date BETWEEN $2 AND $3), (SELECT coalesce(sum(r.amount_minor), 0) FROM recovery r "
     "JOIN loan l ON l.id = r.loan_id WHERE l.fund_id = $1 AND r.value_date BETWEEN $2 AND $3)"},
    {"distribution_lock_fund",
     "SELECT waterfall_mode, reserve_target_minor, base_currency FROM fund WHERE id = $1 FOR UPDATE"},
    {"distribution_cutoff", "SELECT coalesce(max(id), 0) FROM journal_entry"},
    {"distribution_previous",
     "SELECT id, run_date FROM waterfall_run WHERE fund_id = $1 AND id < $2 ORDER BY id DESC LIMIT 1"},
    {"distribution_previous_principal",
     "SELECT coalesce(sum(principal_minor), 0)::bigint FROM waterfall_run WHERE fund_id = $1 AND id < $2"},
    {"distribution_previous_unpaid",
     "SELECT tranche_id, due_minor - amount_minor FROM waterfall_step WHERE run_id = $1 AND kind = 'interest'"},
    {"distribution_balance",
     "SELECT coalesce(sum(l.amount_minor), 0)::bigint FROM account a JOIN journal_line l ON l.account_id = a.id "
     "WHERE a.fund_id = $1 AND a.code = $2 AND l.effective_date <= $3::date AND l.entry_id <= $4"},
    {"distribution_principal_collected",
     "SELECT coalesce(sum(-l.amount_minor), 0)::bigint FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id "
     "JOIN account a ON a.id = l.account_id WHERE e.fund_id = $1 AND e.effective_date <= $2::date AND e.id <= $3 "
     "AND ((e.event_type = 'repayment' AND a.code LIKE 'T%.LOANS') "
     "OR (e.event_type = 'recovery' AND a.code LIKE 'T%.LOSS'))"},
    /* Principal collected with capitalised interest counted as interest (principal_rule
     * "capitalised_interest_first"): per loan, what its repayments credited to T.LOANS less the
     * interest capitalised onto it (Dr T.LOANS, event capitalisation), never below 0; plus the
     * losses recoveries restored. */
    {"distribution_principal_net",
     "SELECT (coalesce((SELECT sum(GREATEST(x.repaid - x.capitalised, 0)) FROM (SELECT e.event_ref, "
     "coalesce(sum(-l.amount_minor) FILTER (WHERE e.event_type = 'repayment'), 0) AS repaid, "
     "coalesce(sum(l.amount_minor) FILTER (WHERE e.event_type = 'capitalisation'), 0) AS capitalised "
     "FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id JOIN account a ON a.id = l.account_id "
     "WHERE e.fund_id = $1 AND e.effective_date <= $2::date AND e.id <= $3 "
     "AND e.event_type IN ('repayment', 'capitalisation') AND a.code LIKE 'T%.LOANS' GROUP BY e.event_ref) x), 0) "
     "+ coalesce((SELECT sum(-l.amount_minor) FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id "
     "JOIN account a ON a.id = l.account_id WHERE e.fund_id = $1 AND e.effective_date <= $2::date AND e.id <= $3 "
     "AND e.event_type = 'recovery' AND a.code LIKE 'T%.LOSS'), 0))::bigint"},
    {"distribution_tranches",
     "SELECT t.id, t.rank, t.return_rate, (SELECT min(c.received_date) FROM contribution c "
     "WHERE c.tranche_id = t.id AND c.received_date <= $2::date AND c.entry_id <= $3), "
     "(SELECT -coalesce(sum(l.amount_minor), 0) FROM account a JOIN journal_line l ON l.account_id = a.id "
     "WHERE a.fund_id = t.fund_id AND a.code IN ('T' || t.id || '.CONTRIB', 'T' || t.id || '.RETURNED', "
     "'T' || t.id || '.LOSS') AND l.effective_date <= $2::date AND l.entry_id <= $3)::bigint "
     "FROM tranche t WHERE t.fund_id = $1 AND t.currency = $4 ORDER BY t.rank, t.id"},
    {"distribution_capital_dates",
     "SELECT x.d::text, (-sum(x.s))::bigint FROM account a CROSS JOIN LATERAL (SELECT l.effective_date AS d, "
     "sum(l.amount_minor) AS s FROM journal_line l WHERE l.account_id = a.id AND l.effective_date <= $3::date "
     "AND l.entry_id <= $4 GROUP BY l.effective_date) x WHERE a.fund_id = $1 AND a.code IN ('T' || $2 || '.CONTRIB', "
     "'T' || $2 || '.RETURNED', 'T' || $2 || '.LOSS') GROUP BY x.d HAVING sum(x.s) <> 0 ORDER BY x.d"},
    {"provision_last",
     "SELECT (SELECT as_of::text FROM provision_run WHERE fund_id = $1 AND as_of = $2::date), "
     "(SELECT max(as_of)::text FROM provision_run WHERE fund_id = $1 AND as_of > $2::date)"},
    {"provision_buckets",
     "SELECT effective::text, dpd_from, category, rate FROM provision_bucket b WHERE b.effective <= $2::date "
     "AND (b.fund_id = $1 OR (b.fund_id IS NULL AND NOT EXISTS (SELECT 1 FROM provision_bucket o "
     "WHERE o.fund_id = $1 AND o.effective <= $2::date)))"},
    {"provision_tranches",
     "SELECT t.id, (SELECT -coalesce(sum(l.amount_minor), 0) FROM account a JOIN journal_line l "
     "ON l.account_id = a.id WHERE a.fund_id = t.fund_id AND a.code IN ('T' || t.id || '.CONTRIB', "
     "'T' || t.id || '.RETURNED', 'T' || t.id || '.LOSS') AND l.effective_date <= $2::date)::bigint, "
     "(SELECT coalesce(sum(l.amount_minor), 0) FROM account a JOIN journal_line l ON l.account_id = a.id "
     "WHERE a.fund_id = t.fund_id AND a.code = 'T' || t.id || '.ALLOWANCE')::bigint "
     "FROM tranche t JOIN fund f ON f.id = t.fund_id WHERE t.fund_id = $1 AND t.currency = f.base_currency "
     "ORDER BY t.rank, t.id"},
    {"provision_next_id", "SELECT nextval('provision_run_id_seq')"},
    {"provision_insert_run",
     "INSERT INTO provision_run (id, fund_id, as_of, allowance_minor, change_minor, entry_id, created_by) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7)"},
    {"provision_insert_loans",
     "INSERT INTO provision_loan (run_id, loan_id, days_past_due, category, rate, principal_minor, allowance_minor) "
     "SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])"},
    {"provision_insert_tranches",
     "INSERT INTO provision_tranche (run_id, tranche_id, capital_minor, allowance_minor) "
     "SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])"},
    /* nav allocation (src/fund/navalloc.c) */
    {"navalloc_last",
     "SELECT (SELECT id FROM nav_allocation WHERE fund_id = $1 AND as_of = $2::date), "
     "(SELECT max(as_of)::text FROM nav_allocation WHERE fund_id = $1 AND as_of > $2::date), "
     "(SELECT max(as_of)::text FROM nav_allocation WHERE fund_id = $1 AND as_of < $2::date)"},
    {"navalloc_tranches",
     "SELECT t.id, t.return_rate, t.fee_rate, t.signed_date::text, t.investment_period_end::text, "
     "(SELECT -coalesce(sum(l.amount_minor), 0) FROM account a JOIN journal_line l ON l.account_id = a.id "
     "WHERE a.fund_id = t.fund_id AND a.code IN ('T' || t.id || '.CONTRIB', 'T' || t.id || '.COMMITMENT') "
     "AND l.effective_date <= $2::date)::bigint, "
     "(SELECT -coalesce(sum(l.amount_minor), 0) FROM account a JOIN journal_line l ON l.account_id = a.id "
     "WHERE a.fund_id = t.fund_id AND a.code = 'T' || t.id || '.INCOME')::bigint, "
     "(SELECT min(c.received_date)::text FROM contribution c WHERE c.tranche_id = t.id AND c.received_date <= $2::date), "
     "r.run_date::text, coalesce((SELECT sum(s.amount_minor) FROM waterfall_step s JOIN waterfall_run w "
     "ON w.id = s.run_id WHERE w.fund_id = $1 AND w.id <= r.id AND s.tranche_id = t.id AND s.kind = 'interest'), 0)::bigint, "
     "coalesce((SELECT s.due_minor - s.amount_minor FROM waterfall_step s WHERE s.run_id = r.id "
     "AND s.tranche_id = t.id AND s.kind = 'interest'), 0)::bigint "
     "FROM tranche t JOIN fund f ON f.id = t.fund_id LEFT JOIN LATERAL (SELECT w.id, w.run_date FROM waterfall_run w "
     "WHERE w.fund_id = $1 AND w.run_date < $2::date ORDER BY w.run_date DESC, w.id DESC LIMIT 1) r ON true "
     "WHERE t.fund_id = $1 AND t.currency = f.base_currency AND t.signed_date <= $2::date ORDER BY t.rank, t.id"},
    {"navalloc_fund_balances",
     "SELECT a.code, coalesce(sum(l.amount_minor), 0)::bigint FROM account a LEFT JOIN journal_line l "
     "ON l.account_id = a.id AND l.effective_date <= $2::date WHERE a.fund_id = $1 "
     "AND a.code IN ('4000', '4100', '4990', '5000', '5100', '5990', '5991') GROUP BY a.code"},
    /* The fund expenses (5000) dated after the previous allocation ($2, NULL: none) up to $3, per
     * date: each is split by the tranches' capital on its own date. */
    {"navalloc_expense_dates",
     "SELECT x.d::text, x.s::bigint FROM account a CROSS JOIN LATERAL (SELECT l.effective_date AS d, "
     "sum(l.amount_minor) AS s FROM journal_line l WHERE l.account_id = a.id AND l.effective_date <= $3::date "
     "AND ($2::date IS NULL OR l.effective_date > $2::date) GROUP BY l.effective_date) x "
     "WHERE a.fund_id = $1 AND a.code = '5000' AND x.s <> 0 ORDER BY x.d"},
    {"navalloc_next_id", "SELECT nextval('nav_allocation_id_seq')"},
    {"navalloc_insert_run",
     "INSERT INTO nav_allocation (id, fund_id, as_of, period_from, income_minor, expenses_minor, losses_minor, "
     "fees_minor, entry_id, created_by) VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9, $10)"},
    {"navalloc_insert_tranches",
     "INSERT INTO nav_allocation_tranche (allocation_id, tranche_id, capital_minor, earned_minor, allocated_minor, "
     "income_minor, short_minor, fee_minor, expense_minor) SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], "
     "$4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])"},
    {"navalloc_get",
     "SELECT id, as_of::text, period_from::text, income_minor, expenses_minor, losses_minor, fees_minor, entry_id "
     "FROM nav_allocation WHERE fund_id = $1 AND as_of <= $2::date ORDER BY as_of DESC LIMIT 1"},
    /* The fund's allocations after id $2, in id (= date) order, $3 at most. */
    {"navalloc_list",
     "SELECT id, as_of::text, period_from::text, income_minor, expenses_minor, losses_minor, fees_minor, entry_id "
     "FROM nav_allocation WHERE fund_id = $1 AND id > $2 ORDER BY id LIMIT $3"},
    /* The tranches' rows of the allocations $1 (an array), of investor $2 only unless it is 0. */
    {"navalloc_list_tranches",
     "SELECT n.allocation_id, n.tranche_id, n.capital_minor, n.earned_minor, n.allocated_minor, n.income_minor, "
     "n.short_minor, n.fee_minor, n.expense_minor FROM nav_allocation_tranche n JOIN tranche t ON t.id = n.tranche_id "
     "WHERE n.allocation_id = ANY($1::bigint[]) AND ($2::bigint = 0 OR t.investor_id = $2::bigint) "
     "ORDER BY n.allocation_id, t.rank, t.id"},
    {"navalloc_get_tranches",
     "SELECT n.tranche_id, n.capital_minor, n.earned_minor, n.allocated_minor, n.income_minor, n.short_minor, "
     "n.fee_minor, n.expense_minor FROM nav_allocation_tranche n JOIN tranche t ON t.id = n.tranche_id "
     "WHERE n.allocation_id = $1 ORDER BY t.rank, t.id"},
    {"provision_get",
     "SELECT id, as_of::text, allowance_minor, change_minor, entry_id FROM provision_run "
     "WHERE fund_id = $1 AND as_of <= $2::date ORDER BY as_of DESC LIMIT 1"},
    {"provision_get_buckets",
     "SELECT category, count(*), sum(principal_minor)::bigint, sum(allowance_minor)::bigint FROM provision_loan "
     "WHERE run_id = $1 GROUP BY category ORDER BY category"},
    {"provision_get_tranches",
     "SELECT p.tranche_id, p.capital_minor, p.allowance_minor FROM provision_tranche p JOIN tranche t "
     "ON t.id = p.tranche_id WHERE p.run_id = $1 ORDER BY t.rank, t.id"},
    {"provision_get_loans",
     "SELECT loan_id, days_past_due, category, rate, principal_minor, allowance_minor FROM provision_loan "
     "WHERE run_id = $1 AND loan_id > $2 ORDER BY loan_id LIMIT $3"},
    {"distribution_insert_run",
     "INSERT INTO waterfall_run (fund_id, run_date, mode, interest_minor, fee_minor, principal_minor, created_by) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"},
    {"distribution_insert_steps",
     "INSERT INTO waterfall_step (run_id, step_no, kind, tranche_id, due_minor, amount_minor, entry_id) "
     "SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])"},
    {"distribution_get",
     "SELECT r.id, r.fund_id, r.run_date, r.mode, r.interest_minor, r.fee_minor, r.principal_minor, r.created_by, "
     "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), f.base_currency "
     "FROM waterfall_run r JOIN fund f ON f.id = r.fund_id WHERE r.id = $1"},
    {"distribution_get_steps",
     "SELECT s.step_no, s.kind, s.tranche_id, t.name, s.due_minor, s.amount_minor, s.entry_id FROM waterfall_step s "
     "LEFT JOIN tranche t ON t.id = s.tranche_id WHERE s.run_id = $1 ORDER BY s.step_no"},
    {"distribution_list",
     "SELECT r.id, r.run_date, r.mode, r.interest_minor + r.fee_minor + r.principal_minor, f.base_currency "
     "FROM waterfall_run r JOIN fund f ON f.id = r.fund_id WHERE r.fund_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3"},
    {"distribution_replay_detail",
     "SELECT (detail->>'journal_cutoff_entry_id')::bigint, (detail->>'reserve_target_minor')::bigint, "
     "detail->>'coupon_rule', detail->>'reserve_target', detail->>'principal_rule' FROM audit_log "
     "WHERE action = 'waterfall.run' AND object_type = 'waterfall_run' AND object_id = $1 ORDER BY id LIMIT 1"},
    {"fund_settings_update",
     "UPDATE fund SET waterfall_mode = coalesce($2, waterfall_mode), "
     "reserve_target_minor = coalesce($3::bigint, reserve_target_minor) WHERE id = $1 "
     "RETURNING waterfall_mode, reserve_target_minor"},
    /* iati (src/iati/export.c, src/iati/publish.c) */
#define IATI_LOANS_RE "'^T[0-9]+[.]LOANS$'"
    {"iati_export_fund",
     "SELECT id, code, name, base_currency, iati_activity_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') "
     "FROM fund WHERE id = $1"},
    {"iati_export_reporting_org",
     "SELECT id, name, iati_ref, iati_type FROM organisation WHERE kind = 'fund_manager' "
     "ORDER BY (iati_ref IS NOT DISTINCT FROM $1) DESC, id LIMIT 1"},
    {"iati_export_investors",
     "SELECT DISTINCT o.id, o.name, o.iati_ref, o.iati_type FROM tranche t JOIN organisation o ON o.id = t.investor_id "
     "WHERE t.fund_id = $1 ORDER BY o.id"},
    {"iati_export_fund_dates",
     "SELECT (SELECT min(c.received_date) FROM contribution c JOIN tranche t ON t.id = c.tranche_id "
     "WHERE t.fund_id = $1), (SELECT min(signed_date) FROM tranche WHERE fund_id = $1), "
     "(SELECT max(s.due_date) FROM loan l JOIN loan_schedule s ON s.loan_id = l.id WHERE l.fund_id = $1 "
     "AND l.approved_on IS NOT NULL AND l.status <> 'rejected'), "
     "(SELECT count(DISTINCT m.department_code) FROM loan l JOIN entrepreneur en ON en.id = l.entrepreneur_id "
     "JOIN municipality m ON m.code = en.municipality_code WHERE l.fund_id = $1 AND l.approved_on IS NOT NULL "
     "AND l.status <> 'rejected'), "
     "(SELECT count(DISTINCT en.municipality_code) FROM loan l JOIN entrepreneur en ON en.id = l.entrepreneur_id "
     "WHERE l.fund_id = $1 AND l.approved_on IS NOT NULL AND l.status <> 'rejected')"},
    /* Portfolio figures of the fund's results: outstanding (ledger, and the interest capitalised by
     * the export date $2 whose entry is not posted yet), loans active, women-led borrowers, members
     * reached, principal written off (ledger). */
    {"iati_export_fund_results",
     "SELECT (SELECT coalesce(sum(b.balance_minor), 0)::bigint FROM account a "
     "JOIN account_balance b ON b.account_id = a.id WHERE a.fund_id = $1 "
     "AND a.code ~ " IATI_LOANS_RE ") + (SELECT coalesce(sum(k.amount_minor), 0)::bigint FROM loan_capitalisation k "
     "JOIN loan l ON l.id = k.loan_id WHERE l.fund_id = $1 AND k.entry_id IS NULL AND k.due_date <= $2::date), (SELECT count(*) FROM loan WHERE fund_id = $1 AND status = 'active'), "
     "(SELECT count(DISTINCT l.entrepreneur_id) FROM loan l JOIN entrepreneur en ON en.id = l.entrepreneur_id "
     "WHERE l.fund_id = $1 AND l.drawn_minor > 0 AND en.women_led), "
     "(SELECT coalesce(sum(en.members), 0)::bigint FROM entrepreneur en WHERE en.fund_id = $1 AND EXISTS "
     "(SELECT 1 FROM loan l WHERE l.entrepreneur_id = en.id AND l.drawn_minor > 0)), "
     "(SELECT coalesce(-sum(jl.amount_minor), 0)::bigint FROM journal_entry e JOIN journal_line jl "
     "ON jl.entry_id = e.id JOIN account a ON a.id = jl.account_id WHERE e.fund_id = $1 "
     "AND e.event_type = 'write_off' AND a.code ~ " IATI_LOANS_RE ")"},
    /* Human security per dimension: municipal, approved measures; the baseline (round 0) and the
     * latest round, as averages of the scores (numeric, exact to 2 decimals). */
    {"iati_export_hs",
     "WITH m AS (SELECT dimension, round, score, measured_on FROM hs_measure WHERE fund_id = $1 "
     "AND approved_by IS NOT NULL AND entrepreneur_id IS NULL), "
     "b AS (SELECT dimension, round(avg(score), 2)::text AS v, min(measured_on) AS d FROM m WHERE round = 0 "
     "GROUP BY dimension), lr AS (SELECT dimension, max(round) AS r FROM m GROUP BY dimension), "
     "l AS (SELECT m.dimension, lr.r, round(avg(m.score), 2)::text AS v, max(m.measured_on) AS d FROM m "
     "JOIN lr ON lr.dimension = m.dimension AND lr.r = m.round GROUP BY m.dimension, lr.r) "
     "SELECT b.dimension, b.v, b.d, coalesce(l.r, 0), l.v, l.d FROM b LEFT JOIN l ON l.dimension = b.dimension "
     "ORDER BY b.dimension"},
    /* DAC sector weights of published loans (all, or persons of one department): disbursed principal
     * from the ledger (reversals included) and, as a fallback, committed principal. */
    {"iati_export_sectors",
     "WITH ln AS (SELECT l.id, l.principal_minor, vc.dac_sector AS dac FROM loan l "
     "JOIN entrepreneur en ON en.id = l.entrepreneur_id JOIN municipality m ON m.code = en.municipality_code "
     "JOIN value_chain vc ON vc.code = en.value_chain WHERE l.fund_id = $1 AND l.approved_on IS NOT NULL "
     "AND l.status <> 'rejected' AND ($2::text IS NULL OR (en.kind = 'person' AND m.department_code = $2))), "
     "de AS (SELECT ln.dac, d.entry_id FROM ln JOIN disbursement d ON d.loan_id = ln.id), "
     "ee AS (SELECT dac, entry_id FROM de UNION ALL SELECT de.dac, r.id FROM de JOIN journal_entry r "
     "ON r.reverses_entry_id = de.entry_id), "
     "dis AS (SELECT ee.dac, sum(jl.amount_minor) AS s FROM ee JOIN journal_line jl ON jl.entry_id = ee.entry_id "
     "JOIN account a ON a.id = jl.account_id WHERE a.code ~ " IATI_LOANS_RE " GROUP BY ee.dac), "
     "com AS (SELECT dac, sum(principal_minor) AS s FROM ln GROUP BY dac) "
     "SELECT com.dac, coalesce(dis.s, 0)::bigint, com.s::bigint FROM com LEFT JOIN dis ON dis.dac = com.dac "
     "ORDER BY com.dac"},
    /* Departments with published loans to persons. */
    {"iati_export_departments",
     "SELECT m.department_code, m.department_name, count(*) FROM loan l JOIN entrepreneur en "
     "ON en.id = l.entrepreneur_id JOIN municipality m ON m.code = en.municipality_code WHERE l.fund_id = $1 "
     "AND l.approved_on IS NOT NULL AND l.status <> 'rejected' AND en.kind = 'person' GROUP BY 1, 2 ORDER BY 1"},
    /* The ids of published loans to organisations, in keyset pages (the fund's related activities). */
    {"iati_export_loan_ids",
     "SELECT l.id FROM loan l JOIN entrepreneur en ON en.id = l.entrepreneur_id WHERE l.fund_id = $1 AND l.id > $2 "
     "AND l.approved_on IS NOT NULL AND l.status <> 'rejected' AND en.kind <> 'person' ORDER BY l.id LIMIT $3"},
    /* One keyset page of published loans (of fund $1, ids after $2, at most $3): to organisations ($5
     * NULL) or to persons of department $5 (no name or identifier of a person is selected); with
     * their schedule due before $4 and what repayments on or before $4 allocated to those
     * instalments (the arrears), the interest capitalised by $4 (loan_capitalisation rows due on or
     * before it, posted or not: principal outstanding from the due date), and one row per journal
     * entry of each loan, found through its business rows (approval, drawdowns, repayments,
     * write-offs, recoveries, which name the event) and the entries reversing them, with its date
     * and the sums of its lines on the accounts IATI reads. Rows in loan order; a loan without an
     * entry has one row with NULL entry columns. */
    {"iati_export_page",
     "WITH pg AS MATERIALIZED (SELECT l.id, l.status, l.approved_on, l.principal_minor, l.annual_rate, "
     "l.payments_per_year, l.amortisation, l.currency, o.name AS org_name, o.iati_ref, o.iati_type, "
     "en.municipality_code, m.name AS mun_name, m.department_code, m.department_name, vc.dac_sector, vc.name_es, "
     "vc.name_en, en.women_led, s.first_due, s.final_due, s.p_due, s.i_due, al.p_paid, al.i_paid, cap.c_due "
     "FROM loan l JOIN entrepreneur en ON en.id = l.entrepreneur_id "
     "LEFT JOIN organisation o ON o.id = en.organisation_id JOIN municipality m ON m.code = en.municipality_code "
     "JOIN value_chain vc ON vc.code = en.value_chain "
     "CROSS JOIN LATERAL (SELECT min(due_date) AS first_due, max(due_date) AS final_due, "
     "coalesce(sum(principal_minor) FILTER (WHERE due_date < $4::date), 0)::bigint AS p_due, "
     "coalesce(sum(interest_minor) FILTER (WHERE due_date < $4::date), 0)::bigint AS i_due "
     "FROM loan_schedule WHERE loan_id = l.id) s "
     "CROSS JOIN LATERAL (SELECT coalesce(sum(a.amount_minor) FILTER (WHERE a.component = 'principal'), 0)::bigint "
     "AS p_paid, coalesce(sum(a.amount_minor) FILTER (WHERE a.component = 'interest'), 0)::bigint AS i_paid "
     "FROM repayment_allocation a JOIN repayment r ON r.id = a.repayment_id JOIN loan_schedule s2 "
     "ON s2.loan_id = a.loan_id AND s2.no = a.instalment_no WHERE a.loan_id = l.id AND s2.due_date < $4::date "
     "AND r.value_date <= $4::date) al "
     "CROSS JOIN LATERAL (SELECT coalesce(sum(amount_minor), 0)::bigint AS c_due FROM loan_capitalisation "
     "WHERE loan_id = l.id AND due_date <= $4::date) cap "
     "WHERE l.fund_id = $1 AND l.id > $2 AND l.approved_on IS NOT NULL AND l.status <> 'rejected' "
     "AND (($5::text IS NULL AND en.kind <> 'person') OR (en.kind = 'person' AND m.department_code = $5::text)) "
     "ORDER BY l.id LIMIT $3), "
     "ids AS (SELECT ARRAY(SELECT id FROM pg) AS a), "
     "x AS MATERIALIZED (SELECT l.id AS loan_id, p.result_entry_id AS entry_id, 'loan_commitment' AS cls "
     "FROM loan l JOIN proposal p ON p.id = l.proposal_id WHERE l.id = ANY((SELECT a FROM ids)::bigint[]) "
     "AND p.result_entry_id IS NOT NULL "
     "UNION ALL SELECT loan_id, entry_id, 'disbursement' FROM disbursement WHERE loan_id = ANY((SELECT a FROM ids)::bigint[]) "
     "UNION ALL SELECT loan_id, entry_id, 'repayment' FROM repayment WHERE loan_id = ANY((SELECT a FROM ids)::bigint[]) "
     "UNION ALL SELECT loan_id, entry_id, 'write_off' FROM write_off WHERE loan_id = ANY((SELECT a FROM ids)::bigint[]) "
     "UNION ALL SELECT loan_id, entry_id, 'recovery' FROM recovery WHERE loan_id = ANY((SELECT a FROM ids)::bigint[])), "
     "y AS MATERIALIZED (SELECT loan_id, entry_id, cls, false AS reversal FROM x UNION ALL "
     "SELECT x.loan_id, r.id, x.cls, true FROM journal_entry r JOIN x ON x.entry_id = r.reverses_entry_id "
     "WHERE r.reverses_entry_id = ANY(ARRAY(SELECT entry_id FROM x))), "
     "acc AS MATERIALIZED (SELECT id, CASE WHEN code = '8500' THEN 1 WHEN code ~ " IATI_LOANS_RE " THEN 2 "
     "WHEN code ~ '^T[0-9]+[.]LOSS$' THEN 3 WHEN code = '4000' OR code ~ '^T[0-9]+[.]INTEREST_RECEIVABLE$' THEN 4 "
     "ELSE 0 END AS k FROM account "
     "WHERE fund_id = $1), "
     "sm AS MATERIALIZED (SELECT jl.entry_id, min(jl.effective_date) AS d, min(jl.currency) AS c1, "
     "max(jl.currency) AS c2, coalesce(sum(jl.amount_minor) FILTER (WHERE acc.k = 1), 0)::bigint AS s8500, "
     "coalesce(sum(jl.amount_minor) FILTER (WHERE acc.k = 2), 0)::bigint AS sloans, "
     "coalesce(sum(jl.amount_minor) FILTER (WHERE acc.k = 3), 0)::bigint AS sloss, "
     "coalesce(sum(jl.amount_minor) FILTER (WHERE acc.k = 4), 0)::bigint AS s4000 "
     "FROM journal_line jl JOIN acc ON acc.id = jl.account_id "
     "WHERE jl.entry_id = ANY(ARRAY(SELECT entry_id FROM y)) GROUP BY jl.entry_id) "
     "SELECT pg.*, e.entry_id, e.d, e.cls, e.reversal, e.c1, e.c2, e.s8500, e.sloans, e.sloss, e.s4000 FROM pg "
     "LEFT JOIN (SELECT y.loan_id, y.entry_id, y.cls, y.reversal, sm.d, sm.c1, sm.c2, sm.s8500, sm.sloans, "
     "sm.sloss, sm.s4000 FROM y JOIN sm ON sm.entry_id = y.entry_id) e ON e.loan_id = pg.id "
     "ORDER BY pg.id, e.d, e.entry_id"},
    /* Fund-level entries in keyset pages: tranche agreements and cancellations, contributions, the
     * reversals of anything, and every entry on 5000; with the tranche and investor they concern. */
    {"iati_export_fund_entries",
     "WITH c AS ((SELECT e.id FROM journal_entry e WHERE e.fund_id = $1 AND e.id > $2 AND e.event_type IN "
     "('tranche_signed', 'commitment_cancellation', 'contribution', 'reversal')) UNION (SELECT l.entry_id "
     "FROM journal_line l JOIN account a ON a.id = l.account_id WHERE a.fund_id = $1 AND a.code = '5000' "
     "AND l.entry_id > $2) ORDER BY 1 LIMIT $3) "
     "SELECT e.id, e.effective_date, coalesce(o.event_type, e.event_type), e.reverses_entry_id IS NOT NULL, "
     "min(jl.currency), max(jl.currency), "
     "coalesce(-sum(jl.amount_minor) FILTER (WHERE a.code ~ '^T[0-9]+[.]COMMITMENT$'), 0)::bigint, "
     "coalesce(-sum(jl.amount_minor) FILTER (WHERE a.code ~ '^T[0-9]+[.]CONTRIB$'), 0)::bigint, "
     "coalesce(sum(jl.amount_minor) FILTER (WHERE a.code = '5000'), 0)::bigint, "
     "t.provider_activity_id, io.name, io.iati_ref, io.iati_type "
     "FROM c JOIN journal_entry e ON e.id = c.id LEFT JOIN journal_entry o ON o.id = e.reverses_entry_id "
     "JOIN journal_line jl ON jl.entry_id = e.id JOIN account a ON a.id = jl.account_id "
     "LEFT JOIN tranche t ON t.fund_id = $1 AND 'tranche:' || t.id = coalesce(o.event_ref, e.event_ref) "
     "LEFT JOIN organisation io ON io.id = t.investor_id GROUP BY e.id, o.id, t.id, io.id ORDER BY e.id"},
    /* The ledger's totals per IATI transaction type, by event type and account only (independent of
     * the export's own queries; see iati_export_totals). */
    {"iati_export_totals",
     "WITH ln AS (SELECT coalesce(o.event_type, e.event_type) AS cls, a.code, jl.amount_minor AS amt, jl.currency "
     "FROM journal_entry e LEFT JOIN journal_entry o ON o.id = e.reverses_entry_id JOIN journal_line jl "
     "ON jl.entry_id = e.id JOIN account a ON a.id = jl.account_id WHERE e.fund_id = $1) "
     "SELECT t.type, sum(t.amount)::bigint, min(ln.currency), max(ln.currency) FROM ln CROSS JOIN LATERAL (VALUES "
     "('11', CASE WHEN cls IN ('tranche_signed', 'commitment_cancellation') AND code ~ '^T[0-9]+[.]COMMITMENT$' "
     "THEN -amt END), ('1', CASE WHEN cls = 'contribution' AND code ~ '^T[0-9]+[.]CONTRIB$' THEN -amt END), "
     "('2', CASE WHEN cls = 'loan_commitment' AND code = '8500' THEN amt END), "
     "('3', CASE WHEN cls = 'disbursement' AND code ~ " IATI_LOANS_RE " THEN amt END), "
     "('4', CASE WHEN code = '5000' THEN amt END), "
     "('5', CASE WHEN cls IN ('repayment', 'recovery') AND (code = '4000' OR code ~ "
     "'^T[0-9]+[.]INTEREST_RECEIVABLE$') THEN -amt END), "
     "('6', CASE WHEN (cls = 'repayment' AND code ~ " IATI_LOANS_RE ") "
     "OR (cls = 'recovery' AND code ~ '^T[0-9]+[.]LOSS$') THEN -amt END)) AS t(type, amount) "
     "WHERE t.amount IS NOT NULL GROUP BY t.type ORDER BY t.type"},
    {"iati_privacy_names",
     "SELECT id, name FROM entrepreneur WHERE kind = 'person' AND id > $1 ORDER BY id LIMIT $2"},
    {"iati_publication_insert",
     "INSERT INTO publication (fund_id, version, created_by, fund_identifier, currency, activity_count, transactions, "
     "activities_sha256, organisation_sha256, activities_xml, organisation_xml) "
     "SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6::jsonb, decode($7, 'hex'), decode($8, 'hex'), $9, "
     "$10 FROM publication WHERE fund_id = $1 "
     "RETURNING version, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"},
#define IATI_PUBLICATION_COLS                                                                                \
    "version, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), created_by, "        \
    "fund_identifier, currency, activity_count, transactions::text, encode(activities_sha256, 'hex'), "      \
    "encode(organisation_sha256, 'hex'), octet_length(activities_xml), octet_length(organisation_xml)"
    {"iati_publication_list",
     "SELECT " IATI_PUBLICATION_COLS ", h.seal_pos, h.entry_id, h.count, encode(h.hash, 'hex'), h.key_id, "
     "encode(h.signature, 'hex'), encode(h.chain, 'hex') FROM publication LEFT JOIN publication_chain_head h "
     "USING (fund_id, version) WHERE fund_id = $1 ORDER BY version DESC"},
    /* The signed chain head a publication was made on: the latest anchor (docs/architecture.md). */
    {"iati_publication_chain_head",
     "INSERT INTO publication_chain_head (fund_id, version, chain, seal_pos, entry_id, count, hash, key_id, "
     "signature) SELECT $1, $2, chain, seal_pos, entry_id, count, hash, key_id, signature FROM ledger_anchor "
     "ORDER BY seal_pos DESC LIMIT 1 RETURNING seal_pos, entry_id, count, encode(hash, 'hex'), key_id, "
     "encode(signature, 'hex'), encode(chain, 'hex')"},
    {"iati_publication_file",
     "SELECT CASE WHEN $3::boolean THEN organisation_xml ELSE activities_xml END FROM publication "
     "WHERE fund_id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1"},
    /* A version (NULL: the latest) and the one before it, newest first. */
    {"iati_publication_pair",
     "SELECT version, transactions::text, currency, activities_xml FROM publication WHERE fund_id = $1 "
     "AND version <= coalesce($2::int, (SELECT max(version) FROM publication WHERE fund_id = $1)) "
     "ORDER BY version DESC LIMIT 2"},
    /* session (migration 0010): passwords, TOTP, browser sessions, login attempts */
    {"session_fail_counts",
     "SELECT (SELECT count(*) FROM login_attempt WHERE user_name = $1 AND NOT ok "
     "AND at > now() - make_interval(secs => $3::int)), (SELECT count(*) FROM login_attempt "
     "WHERE address = $2 AND NOT ok AND at > now() - make_interval(secs => $3::int))"},
    {"session_credential",
     "SELECT u.id, u.name, u.role, u.organisation_id, c.password_hash, encode(c.totp_secret, 'hex'), c.totp_sealed "
     "FROM app_user u LEFT JOIN user_credential c ON c.user_id = u.id WHERE u.name = $1 AND u.disabled_at IS NULL"},
    {"session_attempt", "INSERT INTO login_attempt (user_name, address, ok) VALUES ($1, $2, $3)"},
    {"session_totp_used",
     "UPDATE user_credential SET totp_last_step = $2 WHERE user_id = $1 AND totp_last_step < $2 RETURNING user_id"},
    {"session_replace",
     "UPDATE web_session SET ended_at = now(), ended_why = 'replaced' WHERE token_hash = $1 AND ended_at IS NULL"},
    {"session_create",
     "INSERT INTO web_session (token_hash, user_id, expires_at, address) "
     "VALUES ($1, $2, now() + make_interval(secs => $3::int), $4) RETURNING id"},
    {"session_authenticate",
     "UPDATE web_session s SET last_seen_at = now() FROM app_user u WHERE s.token_hash = $1 AND u.id = s.user_id "
     "AND s.ended_at IS NULL AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2::int) "
     "AND u.disabled_at IS NULL RETURNING s.id, u.id, u.name, u.role, u.organisation_id"},
    {"session_logout",
     "UPDATE web_session SET ended_at = now(), ended_why = 'logout' WHERE id = $1 AND ended_at IS NULL RETURNING id"},
    {"session_end_user",
     "UPDATE web_session SET ended_at = now(), ended_why = $2 WHERE user_id = $1 AND ended_at IS NULL RETURNING id"},
    {"session_password_set",
     "INSERT INTO user_credential (user_id, password_hash) SELECT id, $2 FROM app_user WHERE id = $1 "
     "ON CONFLICT (user_id) DO UPDATE SET password_hash = $2, updated_at = now() RETURNING user_id"},
    {"session_totp_set",
     "UPDATE user_credential SET totp_secret = decode($2, 'hex'), totp_sealed = true, totp_last_step = 0, "
     "updated_at = now() "
     "WHERE user_id = $1 RETURNING user_id"},
    {"session_user_exists", "SELECT id FROM app_user WHERE id = $1"},
    /* usury (web console) */
    {"usury_cap_on",
     "SELECT rate, valid_from::text, valid_to::text, source FROM usury_rate WHERE modality = $1 "
     "AND $2::date BETWEEN valid_from AND valid_to ORDER BY valid_from DESC LIMIT 1"},
    /* A tranche's capital calls with what was contributed against each, and its contributions
     * (tranche_calls; bounded: a tranche has a handful of calls). */
    {"tranche_calls_list",
     "SELECT c.id, c.call_no, c.amount_minor, c.call_date::text, c.due_date::text, "
     "coalesce((SELECT sum(k.amount_minor) FROM contribution k WHERE k.capital_call_id = c.id), 0)::bigint "
     "FROM capital_call c WHERE c.tranche_id = $1 ORDER BY c.call_no LIMIT 1000"},
    {"tranche_contributions_list",
     "SELECT id, capital_call_id, amount_minor, received_date::text, reference FROM contribution "
     "WHERE tranche_id = $1 ORDER BY received_date, id LIMIT 1000"},
    /* Ad-hoc loan charges (charge.c, docs/loan-servicing.md §8). */
#define LOAN_CHARGE_LOAN                                                                                   \
    "SELECT l.fund_id, l.currency, l.status, l.modality, coalesce((SELECT min(d.value_date)::text "          \
    "FROM disbursement d WHERE d.loan_id = l.id), ''), coalesce((SELECT max(r.value_date)::text "            \
    "FROM repayment r WHERE r.loan_id = l.id), '') FROM loan l WHERE l.id = $1"
    {"loan_charge_loan", LOAN_CHARGE_LOAN},
    {"loan_charge_loan_for_update", LOAN_CHARGE_LOAN " FOR UPDATE OF l"},
#undef LOAN_CHARGE_LOAN
    {"loan_charge_list",
     "SELECT id, amount_minor, value_date::text, reason, proposal_id, entry_id, created_by, "
     "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM loan_charge WHERE loan_id = $1 "
     "ORDER BY value_date, id"},
    {"loan_charge_insert",
     "INSERT INTO loan_charge (loan_id, amount_minor, value_date, reason, proposal_id, entry_id, created_by) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"},
    {"loan_charge_totals",
     "SELECT l.currency, l.origination_fee_minor, (SELECT coalesce(sum(r.fees_minor), 0)::bigint FROM repayment r "
     "WHERE r.loan_id = l.id) FROM loan l WHERE l.id = $1"},
    /* verify runs (verify_run.c, migration 0021): record one, list them newest first */
    {"verify_run_insert",
     "INSERT INTO verify_run (started_at, via, user_id, run_by, entries_checked, entries_unsealed, accounts_checked, "
     "anchors_checked, anchor_log_lines, origins_checked, key_id, ok, problems_total, findings) VALUES ($1, $2, $3, "
     "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb) RETURNING " VERIFY_RUN_COLS},
    {"verify_run_list",
     "SELECT " VERIFY_RUN_COLS " FROM verify_run WHERE ($1::bigint = 0 OR id < $1) ORDER BY id DESC LIMIT $2"},
    /* TOTP secrets stored clear before migration 0021, sealed at the server's start */
    {"session_totp_clear_list",
     "SELECT user_id, encode(totp_secret, 'hex') FROM user_credential WHERE totp_secret IS NOT NULL AND NOT "
     "totp_sealed ORDER BY user_id FOR UPDATE"},
    {"session_totp_seal",
     "UPDATE user_credential SET totp_secret = decode($2, 'hex'), totp_sealed = true WHERE user_id = $1 "
     "AND NOT totp_sealed RETURNING user_id"},
    /* A write-off's effect before approval (writeoff_view.c, the inbox) */
    {"writeoff_preview_loan", "SELECT fund_id, currency, status, entrepreneur_id FROM loan WHERE id = $1"},
    {"writeoff_preview_tranche", "SELECT name, rank FROM tranche WHERE id = $1"},
    /* @more@ */
};

const unsigned db_statements_count = sizeof db_statements / sizeof db_statements[0];
