-- 0022_statement_speed: the borrower count of an investor statement (statement_loans_outstanding,
-- src/db/statements.c) reads, beside the T<id>.LOANS lines, the entries of the fund whose
-- reference is a zero-padded "loan:0..." (no code writes one; the query parses them so that the
-- count is the ledger's whatever the text). Without an index that branch scanned every journal
-- entry (200,184 on the 100,000-loan benchmark fund: 40-140 ms of each statement); this partial
-- index holds only such entries (none today), so the branch reads an empty index. Its predicate is
-- the query's own, so the planner proves it. An index needs no grant.
CREATE INDEX journal_entry_loan_ref_padded ON journal_entry (fund_id) WHERE event_ref LIKE 'loan:0_%';
