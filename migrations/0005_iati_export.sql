-- 0005_iati_export: the schedule of each loan as the IATI export's pages read it.
--
-- Every page of the export (iati_export_page, 1,000 loans) sums each loan's schedule: its first
-- and last due dates and what was due before the as-of date. Through the primary key that is one
-- heap page per instalment (a loan's rows are written when it is approved, among other loans'),
-- about half of the page's time. With the columns in the index the sums are an index-only scan
-- (tables here are append-only, so their pages stay all-visible once vacuumed): 45 ms -> 31 ms a
-- page at 10,000 loans. loan_schedule is written once per loan, at approval.

CREATE INDEX loan_schedule_loan_sums ON loan_schedule (loan_id) INCLUDE (due_date, principal_minor, interest_minor);
