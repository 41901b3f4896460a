-- pgbench: everything the database does for Sitrep's picture read, at best: sixteen
-- authenticated reads (deploy/bench.d/read-authenticated.sql) and their sixteen
-- access-log records written with one statement, in one commit, as the recorder
-- (sitrep_db::recorder) writes the records of concurrent reads. One pgbench transaction
-- is sixteen reads (deploy/bench-pictures multiplies the tps by 16); each client fills
-- its own batches here, the recorder's are whatever arrives during a commit, so this is
-- the best case. The fixed digest stands in for the SHA-256 Sitrep computes in Rust.
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
SELECT u.username, u.active AS user_active, o.active AS org_active, o.reach,
  (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles,
  ((o.require_totp OR m.roles && '{secretariat,auditor}'::text[]) AND s.second_factor IS NULL) AS enrolment_only
FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = s.organisation_id
LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m
    WHERE m.user_id = u.id AND m.organisation_id = o.id
      AND (m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))
    ORDER BY m.valid_from DESC LIMIT 1) m ON true
WHERE s.id = :sid::uuid AND s.user_id = :uid::uuid AND s.organisation_id = :org::uuid;
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
INSERT INTO access_log_pending (request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles,
    action, object_type, object_id, object_revision, tier, tlp, outcome, http_status, client_addr, digest)
  SELECT md5(random()::text), 'user', :uid::uuid, 'bench.author', :org::uuid, gen_random_uuid(), '{author}',
    'picture.view', 'picture', :pic, 1, 'group_virt', 'AMBER', 'allowed', 200, '127.0.0.1', sha256('bench'::bytea)
  FROM generate_series(1, 16);
