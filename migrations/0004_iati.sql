-- 0004_iati: published IATI files, one immutable version per publication of a fund, and the
-- indexes the streaming export pages through (loans of a fund by id; loan events by loan; fund
-- entries by event type).

CREATE TABLE publication (
    id                   bigserial PRIMARY KEY,
    fund_id              bigint NOT NULL REFERENCES fund (id),
    version              int NOT NULL CHECK (version >= 1),
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           bigint NOT NULL REFERENCES app_user (id),
    fund_identifier      text NOT NULL CHECK (length(fund_identifier) BETWEEN 1 AND 200),
    currency             char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    activity_count       bigint NOT NULL CHECK (activity_count >= 1),
    -- Per IATI transaction type code ("1", "11", ...): how many transactions and their total in
    -- minor units of currency, e.g. {"3": {"count": 4, "total_minor": 110000000}}.
    transactions         jsonb NOT NULL CHECK (jsonb_typeof(transactions) = 'object'),
    activities_sha256    bytea NOT NULL CHECK (length(activities_sha256) = 32),
    organisation_sha256  bytea NOT NULL CHECK (length(organisation_sha256) = 32),
    activities_xml       text NOT NULL,
    organisation_xml     text NOT NULL,
    UNIQUE (fund_id, version)
);

-- A published version is history: never changed, never removed.
CREATE TRIGGER publication_append_only BEFORE UPDATE OR DELETE ON publication
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER publication_no_truncate BEFORE TRUNCATE ON publication
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE INDEX loan_fund_id ON loan (fund_id, id);
CREATE INDEX write_off_loan ON write_off (loan_id);
CREATE INDEX recovery_loan ON recovery (loan_id);
CREATE INDEX journal_entry_fund_event ON journal_entry (fund_id, event_type, id);
