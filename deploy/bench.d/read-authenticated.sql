-- pgbench: what the database does for any authenticated picture read, before its
-- access-log record: the caller's session, user, organisation and membership checked
-- (sitrep_db::sessions::principal, on every request, so that a revocation acts on the
-- next one) and the picture read (deploy/bench.d/read.sql). :sid, :uid, :org and :pic
-- are set by -D.
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
