-- 0006_performance: indexes for the portfolio's arrears (portfolio_quality, the arrears listing,
-- loan_arrears) and so for investor statements, which report the fund's portfolio quality.
--
-- The arrears join each loan's schedule due before the as-of date to what repayments paid per
-- instalment, in (loan_id, no) order. With the instalment's date and amounts in the index that is
-- an index-only scan in that order (a merge join with the payments, then one aggregate per loan)
-- instead of a heap page per instalment: on the 100,000-loan benchmark fund (1,200,000 schedule
-- rows) about 70 ms of portfolio_quality's ~0.7 s. The schedule is written once per loan, at
-- approval, and never changed, so its pages stay all-visible once vacuumed. This index also
-- serves any read of a loan's schedule by loan_id alone.
CREATE INDEX loan_schedule_loan_no_amounts ON loan_schedule (loan_id, no)
    INCLUDE (due_date, principal_minor, interest_minor);

