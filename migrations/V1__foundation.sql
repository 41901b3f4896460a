-- Foundation: organisations, users, memberships, login sessions, throttling and the
-- access log. Migrations are never edited once landed: add a new file instead.

CREATE TABLE organisations (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z][A-Z0-9-]{1,31}$'),
    name_fi     text,
    name_sv     text,
    name_en     text,
    reach       text NOT NULL CHECK (reach IN ('member', 'virt', 'ras_contact_point')),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (coalesce(name_fi, name_sv, name_en) IS NOT NULL)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username = lower(username)),
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Memberships are never deleted or re-roled: a role change ends the row and starts a
-- new one, so the history of who could do what, and when, stays.
CREATE TABLE memberships (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id),
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    roles            text[] NOT NULL CHECK (
        cardinality(roles) > 0
        AND roles <@ ARRAY['reader', 'author', 'approver', 'org_admin', 'secretariat', 'auditor', 'sysadmin']
    ),
    valid_from       timestamptz NOT NULL DEFAULT now(),
    valid_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       uuid REFERENCES users (id),
    ended_by         uuid REFERENCES users (id),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX memberships_user ON memberships (user_id, organisation_id);
CREATE INDEX memberships_organisation ON memberships (organisation_id);

-- A login session is one refresh-token family. Access tokens carry its id (`sid`), and
-- every request checks that it is not revoked, so logout and revocation act at once.
CREATE TABLE auth_sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id),
    organisation_id     uuid NOT NULL REFERENCES organisations (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoked_reason      text
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens: only SHA-256 of the opaque token is stored. Each is used once.
CREATE TABLE refresh_tokens (
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id      uuid NOT NULL REFERENCES auth_sessions (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed logins per submitted (normalised) username, whether or not it exists.
CREATE TABLE login_throttle (
    username        text PRIMARY KEY,
    window_start    timestamptz NOT NULL,
    failures        integer NOT NULL,
    locked_until    timestamptz
);

-- The access log (docs/access-log.md). One row per request that reads or writes data, every
-- login, refresh and denial. Written only through sitrep_db::audit::record.
CREATE TABLE access_log (
    seq             bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    request_id      text NOT NULL,
    actor_type      text NOT NULL CHECK (actor_type IN ('user', 'service_account', 'anonymous', 'system')),
    actor_id        uuid,
    actor_name      text,
    organisation_id uuid,
    membership_id   uuid,
    roles           text[] NOT NULL DEFAULT '{}',
    action          text NOT NULL,
    object_type     text,
    object_id       text,
    object_revision integer,
    object_ids      uuid[],
    tier            text,
    tlp             text,
    outcome         text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    reason          text,
    http_status     smallint NOT NULL,
    client_addr     inet
);
CREATE INDEX access_log_actor ON access_log (actor_id, seq);
CREATE INDEX access_log_object ON access_log (object_type, object_id, seq);
