-- Requests stop taking the chain head's lock (docs/access-log.md, "Sealing").
--
-- Until now every audited request appended its record to the hash chain under a lock on
-- the one-row access_log_head, held until the request's transaction committed: audited
-- requests committed one at a time, one WAL flush each (about 2,100 per second on the
-- standard machine, whatever the number of cores; docs/benchmarks.md). Now a request
-- inserts its record, unchained, into access_log_pending in its own transaction (so a
-- write and its record still commit together, and a read is still answered only after
-- its record is durable), and a sealer (every server process runs one; the head lock
-- makes one seal at a time) moves committed records into access_log in batches, giving
-- each its seq, time and hash there. docs/access-log.md describes this design.
--
-- * digest is SHA-256 of the record's canonical JSON, computed in Rust at request time;
--   the chain's hash is computed when sealing, in Rust (sitrep_db::chain::link), and the
--   verifier recomputes both from the sealed record.
-- * at is the time the record was written; sealing keeps it unless the record before it
--   in the chain is later (time never runs backwards along seq).
-- * The service role may insert, read and delete pending records (sealing deletes them)
--   but never update them; a deleted pending record never reaches the chain, which is
--   the "unsealed window" docs/access-log.md describes and the metrics
--   sitrep_access_log_unsealed / sitrep_access_log_unsealed_oldest_milliseconds watch.

CREATE TABLE access_log_pending (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT date_trunc('microseconds', clock_timestamp()),
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
    digest          bytea NOT NULL CHECK (length(digest) = 32)
);
-- A queue: rows live for milliseconds, so vacuum it often.
ALTER TABLE access_log_pending SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000
);

CREATE FUNCTION access_log_pending_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pending access-log records are never changed: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER access_log_pending_no_update BEFORE UPDATE ON access_log_pending
    FOR EACH ROW EXECUTE FUNCTION access_log_pending_refuse_update();
CREATE TRIGGER access_log_pending_no_truncate BEFORE TRUNCATE ON access_log_pending
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_pending_refuse_update();

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sitrep_app') THEN
        REVOKE ALL ON access_log_pending FROM sitrep_app;
        GRANT SELECT, INSERT, DELETE ON access_log_pending TO sitrep_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot grant on access_log_pending to sitrep_app; the service uses the migrating role';
END
$$;
