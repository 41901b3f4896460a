-- The TAXII inbox (docs/taxii.md, "The inbox"): the status resource of every post to an
-- organisation's inbox, every object version it received (idempotency is by organisation,
-- STIX id and version), and which draft picture each received report became. Statuses
-- and received objects are never changed or deleted; a report's link moves on to the
-- newest version imported.

CREATE TABLE taxii_inbox_statuses (
    id              uuid PRIMARY KEY,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    posted_by       uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    total_count     integer NOT NULL CHECK (total_count >= 0),
    success_count   integer NOT NULL CHECK (success_count >= 0),
    failure_count   integer NOT NULL CHECK (failure_count >= 0),
    -- [{id, version?, message?}]
    successes       jsonb NOT NULL,
    failures        jsonb NOT NULL
);

CREATE TABLE taxii_inbox_objects (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    stix_id         text NOT NULL,
    -- `modified`; for a marking definition `created`; the Unix epoch for a cyber
    -- observable, which has no versions.
    version         timestamptz NOT NULL,
    type            text NOT NULL,
    object          jsonb NOT NULL,
    status_id       uuid NOT NULL REFERENCES taxii_inbox_statuses (id),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, stix_id, version)
);

CREATE TABLE taxii_inbox_reports (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    report_id       text NOT NULL,
    picture_id      uuid NOT NULL UNIQUE REFERENCES pictures (id),
    -- The newest version of the report imported into the picture.
    version         timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, report_id)
);

CREATE FUNCTION taxii_inbox_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'what the TAXII inbox received is never changed or deleted';
END $$;
CREATE TRIGGER taxii_inbox_statuses_immutable BEFORE UPDATE OR DELETE ON taxii_inbox_statuses
    FOR EACH ROW EXECUTE FUNCTION taxii_inbox_immutable();
CREATE TRIGGER taxii_inbox_objects_immutable BEFORE UPDATE OR DELETE ON taxii_inbox_objects
    FOR EACH ROW EXECUTE FUNCTION taxii_inbox_immutable();
