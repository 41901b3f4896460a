-- The access log becomes append-only and hash-chained (docs/access-log.md).
--
-- * Records written before this migration (unchained) are kept, read-only, in
--   access_log_v1; the chain starts at its genesis with the first record after it.
-- * Each record carries prev_hash and hash: hash = sitrep_audit_link(prev_hash, seq, at,
--   SHA-256 of the record's canonical JSON). The canonical JSON is computed in Rust
--   (sitrep_db::audit::chain), the link here and, for verification, in the same module.
-- * seq is gapless: it is taken from the one-row access_log_head, locked FOR UPDATE by
--   the inserting statement and held until the writing transaction commits.
-- * The service's own database role, sitrep_app, may INSERT and SELECT the log, never
--   UPDATE, DELETE or TRUNCATE it; triggers refuse those for every role.

ALTER TABLE access_log RENAME TO access_log_v1;
ALTER INDEX access_log_actor RENAME TO access_log_v1_actor;
ALTER INDEX access_log_object RENAME TO access_log_v1_object;
ALTER TABLE access_log_v1 RENAME CONSTRAINT access_log_pkey TO access_log_v1_pkey;

CREATE TABLE access_log (
    seq             bigint PRIMARY KEY CHECK (seq > 0),
    at              timestamptz NOT NULL,
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
    client_addr     inet,
    prev_hash       bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea NOT NULL CHECK (length(hash) = 32)
);
-- The auditor's filters, each ending in seq for keyset pages (newest first).
CREATE INDEX access_log_actor ON access_log (actor_id, seq);
CREATE INDEX access_log_organisation ON access_log (organisation_id, seq);
CREATE INDEX access_log_object ON access_log (object_type, object_id, seq);
CREATE INDEX access_log_action ON access_log (action, seq);
CREATE INDEX access_log_outcome ON access_log (outcome, seq);
CREATE INDEX access_log_at ON access_log (at, seq);

-- The head of the chain: the last record's seq, hash and time (0, 32 zero bytes and the
-- epoch at genesis). A cache for the writer; the verifier trusts only the records.
CREATE TABLE access_log_head (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint NOT NULL,
    hash bytea NOT NULL CHECK (length(hash) = 32),
    at   timestamptz NOT NULL
);
INSERT INTO access_log_head (id, seq, hash, at)
    VALUES (true, 0, decode(repeat('00', 32), 'hex'), '1970-01-01T00:00:00Z');
-- Every append updates this row; its dead versions must go quickly or appends slow down.
ALTER TABLE access_log_head SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- SHA-256( "sitrep-audit-v1" 0x00 || prev_hash (32) || seq (8, big-endian)
--          || at in microseconds since 1970-01-01T00:00:00Z (8, big-endian, signed)
--          || SHA-256(canonical JSON) (32) ). Mirrored by sitrep_db::audit::chain::link.
CREATE FUNCTION sitrep_audit_link(prev_hash bytea, seq bigint, at timestamptz, digest bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(
        convert_to('sitrep-audit-v1', 'UTF8') || '\x00'::bytea || prev_hash || int8send(seq)
        || int8send((extract(epoch FROM at) * 1000000)::bigint) || digest
    )
$$;

-- Signed checkpoints of the chain head (Ed25519; the key lives with the service, not here).
CREATE TABLE access_log_checkpoints (
    id         bigserial PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       bytea NOT NULL CHECK (length(hash) = 32),
    at         timestamptz NOT NULL,
    key_id     text NOT NULL,
    signature  bytea NOT NULL CHECK (length(signature) = 64)
);
CREATE INDEX access_log_checkpoints_seq ON access_log_checkpoints (seq);

CREATE FUNCTION access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change();
CREATE TRIGGER access_log_v1_append_only BEFORE UPDATE OR DELETE ON access_log_v1
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change();
CREATE TRIGGER access_log_v1_no_truncate BEFORE TRUNCATE ON access_log_v1
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change();
CREATE TRIGGER access_log_checkpoints_append_only BEFORE UPDATE OR DELETE ON access_log_checkpoints
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change();
CREATE TRIGGER access_log_checkpoints_no_truncate BEFORE TRUNCATE ON access_log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change();

-- The service role. Created NOLOGIN here (roles belong to the cluster, so this runs once
-- per cluster); the operator gives it LOGIN and a password (deploy/start does). If the
-- migrating role may not create roles, the role is skipped with a notice and the server
-- keeps working with one URL (docs/access-log.md).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sitrep_app') THEN
        BEGIN
            CREATE ROLE sitrep_app NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'cannot create role sitrep_app; the service will use the migrating role';
            RETURN;
        END;
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO sitrep_app', current_database());
    GRANT USAGE ON SCHEMA public TO sitrep_app;
    -- Everything else the service works with, now and in later migrations.
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO sitrep_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO sitrep_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sitrep_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sitrep_app;
    -- The log: insert and read only.
    REVOKE ALL ON access_log, access_log_v1, access_log_checkpoints FROM sitrep_app;
    GRANT SELECT, INSERT ON access_log, access_log_checkpoints TO sitrep_app;
    GRANT SELECT ON access_log_v1 TO sitrep_app;
    REVOKE ALL ON access_log_head FROM sitrep_app;
    GRANT SELECT, UPDATE ON access_log_head TO sitrep_app;
    REVOKE ALL ON refinery_schema_history FROM sitrep_app;
END
$$;
