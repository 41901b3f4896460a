-- pgbench: sixteen picture reads and their sixteen access-log records written with one
-- statement, in one commit, as Sitrep's recorder (sitrep_db::recorder) writes the records
-- of concurrent reads since the Performance issue: the database's limit for an audited
-- read when its record shares a commit. One pgbench transaction is sixteen reads, so
-- deploy/bench-pictures multiplies the tps by 16. Each client here fills its own batches
-- of sixteen; the recorder's batches are whatever arrives during a commit, so this is the
-- best case. The fixed digest stands in for the SHA-256 Sitrep computes in Rust.
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
INSERT INTO access_log_pending (request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles,
    action, object_type, object_id, object_revision, tier, tlp, outcome, http_status, client_addr, digest)
  SELECT md5(random()::text), 'user', gen_random_uuid(), 'bench.reader', :org::uuid, gen_random_uuid(), '{reader}',
    'picture.view', 'picture', :pic, 1, 'group', 'AMBER', 'allowed', 200, '127.0.0.1', sha256('bench'::bytea)
  FROM generate_series(1, 16);
