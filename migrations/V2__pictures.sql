-- Situation pictures, their immutable revisions, reference data, idempotency keys.

CREATE TABLE communities (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9-]{1,31}$'),
    name_en     text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO communities (code, name_en, description) VALUES
    ('FI-ELECSEC', 'Finnish election security community',
     'The cooperation group, Election-VIRT and the Government information-influence network'),
    ('EU-RAS', 'EU Rapid Alert System', 'The RAS points of contact');

CREATE TABLE elections (
    id            uuid PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    election_type text NOT NULL,
    name_en       text NOT NULL,
    election_day  date,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One reference sequence per year, shared by all organisations: VTY-YYYY-NNNN.
CREATE TABLE picture_references (
    year integer PRIMARY KEY,
    last integer NOT NULL
);

CREATE TABLE pictures (
    id               uuid PRIMARY KEY,
    reference        text NOT NULL UNIQUE,
    originator_id    uuid NOT NULL REFERENCES organisations (id),
    created_by       uuid NOT NULL REFERENCES users (id),
    status           text NOT NULL CHECK (status IN ('draft', 'in_review', 'published', 'superseded', 'withdrawn', 'closed')),
    -- The revision in force, and a proposed one waiting for review.
    revision         integer NOT NULL,
    pending_revision integer,
    -- Bumped by every change; the ETag.
    version          integer NOT NULL DEFAULT 1,
    -- Copied from the revision in force, for the visibility predicate, lists and search.
    tier             text NOT NULL CHECK (tier IN ('named', 'group', 'group_virt', 'group_virt_ras', 'public')),
    tier_rank        smallint NOT NULL CHECK (tier_rank BETWEEN 0 AND 4),
    tlp              text NOT NULL,
    named_recipients uuid[] NOT NULL DEFAULT '{}',
    kind             text NOT NULL,
    is_exercise      boolean NOT NULL,
    primary_domain   text NOT NULL,
    domains          text[] NOT NULL,
    severity         text NOT NULL,
    urgency          text NOT NULL,
    election_id      uuid REFERENCES elections (id),
    classification   text NOT NULL,
    title_fi         text, title_sv text, title_en text,
    summary_fi       text, summary_sv text, summary_en text,
    valid_from       timestamptz,
    valid_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    published_at     timestamptz,
    search_fi tsvector GENERATED ALWAYS AS (to_tsvector('finnish', coalesce(title_fi, '') || ' ' || coalesce(summary_fi, ''))) STORED,
    search_sv tsvector GENERATED ALWAYS AS (to_tsvector('swedish', coalesce(title_sv, '') || ' ' || coalesce(summary_sv, ''))) STORED,
    search_en tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(title_en, '') || ' ' || coalesce(summary_en, ''))) STORED
);
CREATE INDEX pictures_order ON pictures (updated_at DESC, id DESC);
CREATE INDEX pictures_originator ON pictures (originator_id, updated_at DESC);
CREATE INDEX pictures_search_fi ON pictures USING gin (search_fi);
CREATE INDEX pictures_search_sv ON pictures USING gin (search_sv);
CREATE INDEX pictures_search_en ON pictures USING gin (search_en);

-- Revisions are immutable: their content never changes; only their review state moves on.
CREATE TABLE picture_revisions (
    picture_id  uuid NOT NULL REFERENCES pictures (id),
    revision    integer NOT NULL CHECK (revision >= 1),
    state       text NOT NULL CHECK (state IN ('draft', 'in_review', 'approved', 'published', 'superseded', 'rejected')),
    content     jsonb NOT NULL,
    tier        text NOT NULL,
    tlp         text NOT NULL,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    approved_by uuid REFERENCES users (id),
    approved_at timestamptz,
    published_at timestamptz,
    PRIMARY KEY (picture_id, revision)
);

CREATE FUNCTION picture_revisions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'picture revisions are never deleted';
    END IF;
    IF NEW.content IS DISTINCT FROM OLD.content OR NEW.created_by IS DISTINCT FROM OLD.created_by
       OR NEW.revision IS DISTINCT FROM OLD.revision OR NEW.picture_id IS DISTINCT FROM OLD.picture_id THEN
        RAISE EXCEPTION 'picture revisions are immutable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER picture_revisions_immutable BEFORE UPDATE OR DELETE ON picture_revisions
    FOR EACH ROW EXECUTE FUNCTION picture_revisions_immutable();

-- THE visibility predicate (mirrors sitrep_domain::visibility::sight == Full). Every query
-- that returns pictures or anything about them calls it. A plain SQL function, inlined
-- by the planner.
CREATE FUNCTION picture_visible(
    originator uuid, status text, tier_rank smallint, named uuid[],
    viewer uuid, viewer_min_rank smallint, viewer_reads boolean
) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT viewer_reads AND (
        originator = viewer
        OR (status NOT IN ('draft', 'in_review') AND (
            tier_rank = 4
            OR (tier_rank = 0 AND viewer = ANY (named))
            OR (tier_rank > 0 AND tier_rank >= viewer_min_rank)
        ))
    )
$$;

-- Idempotency-Key of POST requests: the first result answers every repeat.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id),
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    picture_id   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

ALTER TABLE organisations ADD COLUMN require_review boolean NOT NULL DEFAULT false;

-- Acknowledgements by recipient organisations (one row per acknowledgement; the latest
-- counts), and the RAS contact point's release decisions.
CREATE TABLE acknowledgements (
    id              uuid PRIMARY KEY,
    picture_id      uuid NOT NULL REFERENCES pictures (id),
    revision        integer NOT NULL,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    user_id         uuid NOT NULL REFERENCES users (id),
    kind            text NOT NULL CHECK (kind IN ('received', 'actioning', 'no_action', 'need_more_info')),
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX acknowledgements_picture ON acknowledgements (picture_id, organisation_id);

CREATE TABLE release_decisions (
    id              uuid PRIMARY KEY,
    picture_id      uuid NOT NULL REFERENCES pictures (id),
    revision        integer NOT NULL,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    user_id         uuid NOT NULL REFERENCES users (id),
    disposition     text NOT NULL CHECK (disposition IN ('not_released', 'shared_for_awareness', 'alert_proposed', 'alert_raised')),
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX release_decisions_picture ON release_decisions (picture_id);

-- The organisations that must acknowledge a published picture: active, not the
-- originator, and in its audience.
CREATE FUNCTION picture_recipient(p pictures, o organisations) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT o.active AND o.id <> p.originator_id AND picture_visible(
        p.originator_id, p.status, p.tier_rank, p.named_recipients, o.id,
        (CASE o.reach WHEN 'member' THEN 1 WHEN 'virt' THEN 2 ELSE 3 END)::smallint, true)
$$;

-- When acknowledgements are due: published_at + 1 h (immediate) or 4 h (priority).
CREATE FUNCTION picture_ack_deadline(p pictures) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.status <> 'published' OR p.published_at IS NULL THEN NULL
                WHEN p.urgency = 'immediate' THEN p.published_at + interval '1 hour'
                WHEN p.urgency = 'priority' THEN p.published_at + interval '4 hours'
           END
$$;
