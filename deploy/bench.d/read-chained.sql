-- pgbench: the same read and its access-log record, appended to the hash chain in the
-- request's own transaction under the chain head's lock, as sitrep_db::audit::record did
-- before migration V8 (a fixed 32-byte digest stands in for the SHA-256 of the record's
-- canonical JSON, which Sitrep computes in Rust). Kept as the "before" of the sealer.
BEGIN;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
WITH head AS MATERIALIZED (SELECT seq, hash, at FROM access_log_head WHERE id FOR UPDATE),
link AS MATERIALIZED (SELECT seq + 1 AS seq, hash AS prev_hash, greatest(clock_timestamp(), at) AS at FROM head),
ins AS (
  INSERT INTO access_log (seq, at, request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles,
    action, object_type, object_id, object_revision, tier, tlp, outcome, http_status, client_addr, prev_hash, hash)
  SELECT link.seq, link.at, md5(random()::text), 'user', gen_random_uuid(), 'bench.reader', :org::uuid,
    gen_random_uuid(), '{reader}', 'picture.view', 'picture', :pic, 1, 'group', 'AMBER', 'allowed', 200,
    '127.0.0.1', link.prev_hash, sitrep_audit_link(link.prev_hash, link.seq, link.at, sha256('bench'::bytea)) FROM link
  RETURNING seq, hash, at)
UPDATE access_log_head h SET seq = ins.seq, hash = ins.hash, at = ins.at FROM ins WHERE h.id;
COMMIT;
