-- pgbench: the same read and its access-log record, written unchained to
-- access_log_pending as sitrep_db::audit::record does since migration V8 (the sealer
-- chains it afterwards; a fixed 32-byte digest stands in for the SHA-256 of the record's
-- canonical JSON, which Sitrep computes in Rust).
BEGIN;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
INSERT INTO access_log_pending (request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles,
    action, object_type, object_id, object_revision, tier, tlp, outcome, http_status, client_addr, digest)
  VALUES (md5(random()::text), 'user', gen_random_uuid(), 'bench.reader', :org::uuid, gen_random_uuid(), '{reader}',
    'picture.view', 'picture', :pic, 1, 'group', 'AMBER', 'allowed', 200, '127.0.0.1', sha256('bench'::bytea));
COMMIT;
