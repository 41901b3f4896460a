-- Situation reports: a set of published pictures under the report's own texts and
-- handling, with immutable revisions and the pictures' lifecycle (docs/reports.md).

CREATE TABLE reports (
    id               uuid PRIMARY KEY,
    reference        text NOT NULL UNIQUE,
    -- The author's organisation.
    originator_id    uuid NOT NULL REFERENCES organisations (id),
    created_by       uuid NOT NULL REFERENCES users (id),
    status           text NOT NULL CHECK (status IN ('draft', 'in_review', 'published', 'withdrawn')),
    -- The revision in force, and a proposed one waiting for review.
    revision         integer NOT NULL,
    pending_revision integer,
    -- Bumped by every change; the ETag.
    version          integer NOT NULL DEFAULT 1,
    -- Copied from the revision in force, for the visibility predicate and lists.
    tier             text NOT NULL CHECK (tier IN ('named', 'group', 'group_virt', 'group_virt_ras', 'public')),
    tier_rank        smallint NOT NULL CHECK (tier_rank BETWEEN 0 AND 4),
    tlp              text NOT NULL,
    named_recipients uuid[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    published_at     timestamptz
);
CREATE INDEX reports_order ON reports (updated_at DESC, id DESC);

-- Revisions are immutable: their content never changes; only their review state moves on.
CREATE TABLE report_revisions (
    report_id    uuid NOT NULL REFERENCES reports (id),
    revision     integer NOT NULL CHECK (revision >= 1),
    state        text NOT NULL CHECK (state IN ('draft', 'in_review', 'approved', 'published', 'superseded', 'rejected')),
    content      jsonb NOT NULL,
    tier         text NOT NULL,
    tlp          text NOT NULL,
    created_by   uuid NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    approved_by  uuid REFERENCES users (id),
    approved_at  timestamptz,
    published_at timestamptz,
    PRIMARY KEY (report_id, revision)
);

CREATE FUNCTION report_revisions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'report revisions are never deleted';
    END IF;
    IF NEW.content IS DISTINCT FROM OLD.content OR NEW.created_by IS DISTINCT FROM OLD.created_by
       OR NEW.revision IS DISTINCT FROM OLD.revision OR NEW.report_id IS DISTINCT FROM OLD.report_id THEN
        RAISE EXCEPTION 'report revisions are immutable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER report_revisions_immutable BEFORE UPDATE OR DELETE ON report_revisions
    FOR EACH ROW EXECUTE FUNCTION report_revisions_immutable();

-- The next report reference of `year` (REP-YYYY-NNNN), from one sequence per year made
-- on first use, as picture references are (V9).
CREATE FUNCTION report_reference(year integer) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    name text := format('public.report_reference_%s', year);
    seq regclass := to_regclass(name);
    n bigint;
BEGIN
    IF year NOT BETWEEN 1000 AND 9999 THEN
        RAISE EXCEPTION 'report reference year % out of range', year;
    END IF;
    IF seq IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('report_reference'), year);
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s AS integer', name);
        seq := name::regclass;
    END IF;
    n := nextval(seq);
    RETURN format('REP-%s-%s', year, lpad(n::text, greatest(4, length(n::text)), '0'));
END
$$;
REVOKE ALL ON FUNCTION report_reference(integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sitrep_app') THEN
        GRANT EXECUTE ON FUNCTION report_reference(integer) TO sitrep_app;
    END IF;
END
$$;

-- Report events in the one outbox, in the same commit-safe order as picture events: an
-- event concerns a picture or a report, never both. Readers that join events to their
-- picture see only picture events; the feed, the live stream and the webhook worker read
-- report events under the report's own handling.
ALTER TABLE events ALTER COLUMN picture_id DROP NOT NULL;
ALTER TABLE events ADD COLUMN report_id uuid REFERENCES reports (id);
ALTER TABLE events ADD CONSTRAINT events_one_object CHECK ((picture_id IS NULL) <> (report_id IS NULL));
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type IN (
    'picture.published', 'picture.revised', 'picture.withdrawn', 'picture.recalled', 'picture.acknowledged',
    'report.published', 'report.withdrawn'));
CREATE INDEX events_report ON events (report_id) WHERE report_id IS NOT NULL;
