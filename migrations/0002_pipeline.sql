-- 0002_pipeline: reference data (DIVIPOLA municipalities, value chains), entrepreneurs in the
-- pipeline with their stage history, and human-security measurements (baseline and follow-ups).

CREATE TABLE municipality (
    code             char(5) PRIMARY KEY CHECK (code ~ '^[0-9]{5}$'), -- DIVIPOLA
    name             text NOT NULL,
    department_code  char(2) NOT NULL CHECK (department_code ~ '^[0-9]{2}$'),
    department_name  text NOT NULL,
    CHECK (substr(code, 1, 2) = department_code)
);

INSERT INTO municipality (code, name, department_code, department_name) VALUES
    ('05001', 'Medellín', '05', 'Antioquia'),
    ('05088', 'Bello', '05', 'Antioquia'),
    ('05234', 'Dabeiba', '05', 'Antioquia'),
    ('05361', 'Ituango', '05', 'Antioquia'),
    ('52001', 'Pasto', '52', 'Nariño'),
    ('52250', 'El Charco', '52', 'Nariño'),
    ('52835', 'San Andrés de Tumaco', '52', 'Nariño');

-- Value chains with the DAC 5-digit sector used when publishing.
CREATE TABLE value_chain (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z_]{0,31}$'),
    name_es     text NOT NULL,
    name_en     text NOT NULL,
    dac_sector  char(5) NOT NULL CHECK (dac_sector ~ '^[0-9]{5}$')
);

INSERT INTO value_chain (code, name_es, name_en, dac_sector) VALUES
    ('coffee', 'Café', 'Coffee', '31162'),
    ('cacao', 'Cacao', 'Cacao', '31162'),
    ('banana', 'Banano', 'Bananas', '31162'),
    ('beans', 'Fríjol', 'Beans', '31161'),
    ('synthetic_wood', 'Madera sintética', 'Synthetic wood', '32161');

CREATE TABLE entrepreneur (
    id                 bigserial PRIMARY KEY,
    fund_id            bigint NOT NULL REFERENCES fund (id),
    -- Cooperatives, associations and firms are organisations (published); a person is not.
    kind               text NOT NULL CHECK (kind IN ('cooperative', 'association', 'firm', 'person')),
    organisation_id    bigint REFERENCES organisation (id),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200), -- personal data for a person
    tax_id             text CHECK (tax_id ~ '^[0-9]{5,15}(-[0-9])?$'),       -- NIT, or a person's cédula
    municipality_code  char(5) NOT NULL REFERENCES municipality (code),
    value_chain        text NOT NULL REFERENCES value_chain (code),
    women_led          boolean NOT NULL DEFAULT false,
    youth_led          boolean NOT NULL DEFAULT false,
    conflict_victim    boolean NOT NULL DEFAULT false,
    members            int NOT NULL DEFAULT 1 CHECK (members BETWEEN 1 AND 100000),
    requested_minor    bigint NOT NULL DEFAULT 0 CHECK (requested_minor >= 0),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    purpose            text NOT NULL DEFAULT '' CHECK (length(purpose) <= 1000),
    stage              text NOT NULL DEFAULT 'sourced' CHECK (stage IN ('sourced', 'screening', 'due_diligence',
                           'committee', 'approved', 'active', 'repaid', 'declined', 'withdrawn', 'written_off')),
    stage_changed_at   timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         bigint NOT NULL REFERENCES app_user (id),
    CHECK ((kind = 'person') = (organisation_id IS NULL)),
    UNIQUE (id, fund_id, municipality_code) -- target of hs_measure's consistency key
);
CREATE INDEX entrepreneur_fund_stage ON entrepreneur (fund_id, stage);
CREATE INDEX entrepreneur_fund_id ON entrepreneur (fund_id, id);
CREATE INDEX entrepreneur_municipality ON entrepreneur (municipality_code);

-- Every move through the stage machine: who, when, why. Append-only. Only the moves of the
-- machine (docs/domain.md §2) are accepted, and a reason is required to decline, withdraw,
-- write off and go back (checked in C as well).
CREATE TABLE entrepreneur_stage (
    id               bigserial PRIMARY KEY,
    entrepreneur_id  bigint NOT NULL REFERENCES entrepreneur (id),
    from_stage       text,
    to_stage         text NOT NULL,
    at               timestamptz NOT NULL DEFAULT now(),
    user_id          bigint NOT NULL REFERENCES app_user (id),
    reason           text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    CHECK ((from_stage IS NULL AND to_stage = 'sourced') OR (from_stage IS NOT NULL AND (from_stage, to_stage) IN (
        ('sourced', 'screening'), ('screening', 'due_diligence'), ('due_diligence', 'committee'),
        ('committee', 'approved'), ('approved', 'active'), ('active', 'repaid'),
        ('sourced', 'declined'), ('screening', 'declined'), ('due_diligence', 'declined'), ('committee', 'declined'),
        ('sourced', 'withdrawn'), ('screening', 'withdrawn'), ('due_diligence', 'withdrawn'),
        ('committee', 'withdrawn'), ('approved', 'withdrawn'),
        ('active', 'written_off'), ('committee', 'due_diligence')))),
    CHECK (length(reason) > 0 OR NOT (to_stage IN ('declined', 'withdrawn', 'written_off')
                                      OR (coalesce(from_stage, '') = 'committee' AND to_stage = 'due_diligence')))
);
CREATE INDEX entrepreneur_stage_by_entrepreneur ON entrepreneur_stage (entrepreneur_id, id);
CREATE TRIGGER entrepreneur_stage_append_only BEFORE UPDATE OR DELETE ON entrepreneur_stage
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER entrepreneur_stage_no_truncate BEFORE TRUNCATE ON entrepreneur_stage
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- An entrepreneur enters at 'sourced'.
CREATE FUNCTION entrepreneur_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.stage := 'sourced';
    NEW.stage_changed_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER entrepreneur_enters_sourced BEFORE INSERT ON entrepreneur
    FOR EACH ROW EXECUTE FUNCTION entrepreneur_before_insert();

-- The stage moves only by recording a move: a history row moves the entrepreneur from its
-- from_stage (which must be the current one) to its to_stage. The first row (NULL -> sourced)
-- is the entry into the pipeline.
CREATE FUNCTION entrepreneur_stage_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.from_stage IS NULL THEN
        IF EXISTS (SELECT 1 FROM entrepreneur_stage WHERE entrepreneur_id = NEW.entrepreneur_id AND id <> NEW.id)
           OR NOT EXISTS (SELECT 1 FROM entrepreneur WHERE id = NEW.entrepreneur_id AND stage = 'sourced') THEN
            RAISE EXCEPTION 'entrepreneur % already entered the pipeline', NEW.entrepreneur_id
                USING ERRCODE = '23514';
        END IF;
        RETURN NULL;
    END IF;
    UPDATE entrepreneur SET stage = NEW.to_stage, stage_changed_at = NEW.at
     WHERE id = NEW.entrepreneur_id AND stage = NEW.from_stage;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'entrepreneur % is not at stage %', NEW.entrepreneur_id, NEW.from_stage
            USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER entrepreneur_stage_move AFTER INSERT ON entrepreneur_stage
    FOR EACH ROW EXECUTE FUNCTION entrepreneur_stage_after_insert();

-- A stage changes only through the history (above); identity never changes.
CREATE FUNCTION entrepreneur_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.stage IS DISTINCT FROM OLD.stage OR NEW.stage_changed_at IS DISTINCT FROM OLD.stage_changed_at)
       AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'an entrepreneur''s stage changes only by recording a move in entrepreneur_stage'
            USING ERRCODE = 'P0001';
    END IF;
    IF (NEW.id, NEW.fund_id, NEW.kind, NEW.organisation_id, NEW.currency, NEW.created_at, NEW.created_by)
       IS DISTINCT FROM
       (OLD.id, OLD.fund_id, OLD.kind, OLD.organisation_id, OLD.currency, OLD.created_at, OLD.created_by) THEN
        RAISE EXCEPTION 'entrepreneur identity (fund, kind, organisation, currency, creation) cannot change'
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER entrepreneur_guard BEFORE UPDATE ON entrepreneur
    FOR EACH ROW EXECUTE FUNCTION entrepreneur_guard_update();
CREATE TRIGGER entrepreneur_no_delete BEFORE DELETE ON entrepreneur
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Human security: seven dimensions; round 0 is the baseline, later rounds are follow-ups.
-- Values are exact decimals (numeric, kept at the scale they were given), never binary floating
-- point. A measure of one entrepreneur is in that entrepreneur's fund and municipality. Four
-- eyes on data: the approver is not who recorded it.
CREATE TABLE hs_measure (
    id                 bigserial PRIMARY KEY,
    fund_id            bigint NOT NULL REFERENCES fund (id),
    municipality_code  char(5) NOT NULL REFERENCES municipality (code),
    entrepreneur_id    bigint REFERENCES entrepreneur (id),
    round              int NOT NULL CHECK (round BETWEEN 0 AND 100),
    dimension          text NOT NULL CHECK (dimension IN ('economic', 'food', 'health', 'environmental',
                                                          'personal', 'community', 'political')),
    indicator          text NOT NULL CHECK (length(indicator) BETWEEN 1 AND 200),
    raw_value          numeric NOT NULL CHECK (scale(raw_value) <= 6 AND abs(raw_value) < 1e14),
    score              numeric(5, 2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    method             text NOT NULL DEFAULT '' CHECK (length(method) <= 500),
    measured_on        date NOT NULL,
    recorded_by        bigint NOT NULL REFERENCES app_user (id),
    approved_by        bigint REFERENCES app_user (id),
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    approved_at        timestamptz,
    CHECK (approved_by IS NULL OR approved_by <> recorded_by),
    CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
    FOREIGN KEY (entrepreneur_id, fund_id, municipality_code)
        REFERENCES entrepreneur (id, fund_id, municipality_code)
);
CREATE INDEX hs_measure_place ON hs_measure (fund_id, municipality_code, round, dimension);
CREATE INDEX hs_measure_entrepreneur ON hs_measure (entrepreneur_id, dimension, indicator);

-- A measure is written once; the only later change is its approval (from NULL to set).
CREATE FUNCTION hs_measure_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.approved_by IS NULL AND NEW.approved_by IS NOT NULL
       AND (NEW.id, NEW.fund_id, NEW.municipality_code, NEW.entrepreneur_id, NEW.round, NEW.dimension,
            NEW.indicator, NEW.raw_value, NEW.score, NEW.method, NEW.measured_on, NEW.recorded_by,
            NEW.recorded_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.fund_id, OLD.municipality_code, OLD.entrepreneur_id, OLD.round, OLD.dimension,
            OLD.indicator, OLD.raw_value, OLD.score, OLD.method, OLD.measured_on, OLD.recorded_by,
            OLD.recorded_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'UPDATE on hs_measure % is not allowed: a measure is recorded once and approved once', OLD.id
        USING ERRCODE = 'P0001', HINT = 'record a new measure instead';
END $$;
CREATE TRIGGER hs_measure_immutable BEFORE UPDATE ON hs_measure
    FOR EACH ROW EXECUTE FUNCTION hs_measure_guard_update();
CREATE TRIGGER hs_measure_no_delete BEFORE DELETE ON hs_measure
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
