-- 0010_anchor: signed anchors of the hash chain's head (docs/architecture.md, Tamper evidence).
-- The sealer signs, with an Ed25519 key the database never holds, the head it has just sealed
-- (seal position, entry id, entries since the previous anchor, chain hash) and stores the
-- signature here, in the same transaction as the seal, and in an append-only log file outside
-- the database. A superuser can rewrite this table but cannot sign a new row; `fundledger verify`
-- checks every row and every log line with the public key against the chain.
-- publication_chain_head: the anchored head an IATI publication was made from.

CREATE TABLE ledger_anchor (
    seal_pos    bigint PRIMARY KEY CHECK (seal_pos >= 1),
    chain       bytea NOT NULL CHECK (length(chain) = 32), -- the hash at seal position 1: names the ledger
    entry_id    bigint NOT NULL,
    count       bigint NOT NULL CHECK (count BETWEEN 1 AND seal_pos),
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    key_id      text NOT NULL CHECK (key_id ~ '^[0-9a-f]{16}$'),
    signature   bytea NOT NULL CHECK (length(signature) = 64),
    signed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER ledger_anchor_append_only BEFORE UPDATE OR DELETE ON ledger_anchor
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_anchor_no_truncate BEFORE TRUNCATE ON ledger_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE publication_chain_head (
    fund_id     bigint NOT NULL,
    version     int NOT NULL,
    chain       bytea NOT NULL CHECK (length(chain) = 32),
    seal_pos    bigint NOT NULL,
    entry_id    bigint NOT NULL,
    count       bigint NOT NULL,
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    key_id      text NOT NULL,
    signature   bytea NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (fund_id, version),
    FOREIGN KEY (fund_id, version) REFERENCES publication (fund_id, version)
);
CREATE TRIGGER publication_chain_head_append_only BEFORE UPDATE OR DELETE ON publication_chain_head
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER publication_chain_head_no_truncate BEFORE TRUNCATE ON publication_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- verify reads audit rows by object; without this it would scan the log once per entry.
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- The service role inserts and reads anchors, never changes them (no sequences here; no UPDATE,
-- DELETE or TRUNCATE).
GRANT SELECT, INSERT ON ledger_anchor, publication_chain_head TO fundledger_app;
