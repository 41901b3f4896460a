-- pgbench: the picture read of GET /pictures/{id} (the row, its revision, the visibility
-- predicate) as Sitrep runs it, for a member organisation. :pic and :org are set by -D.
SELECT p.id, p.reference, p.status, p.revision, p.tier, p.tlp, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE p.id = :pic::uuid
  AND (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, :org::uuid, 1::smallint, true)
       OR (false AND p.status NOT IN ('draft', 'in_review')));
