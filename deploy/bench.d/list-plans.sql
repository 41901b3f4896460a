-- The plan PostgreSQL picks for the picture list's first page (crates/db/src/pictures.rs
-- `list`, repeated here: a psql script stands alone) under each filter the benchmark
-- measures, as the NCSC author sees it, with random_page_cost as the server sets it
-- (:rpc). psql -v org=<organisation id> -v rpc=<cost>; prints one JSON plan per filter.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SET random_page_cost = :rpc;
PREPARE list(uuid, smallint, boolean, boolean, text, text, text, text, text, boolean, uuid, uuid, text, text,
             timestamptz, timestamptz, text, boolean, timestamptz, uuid, bigint, boolean) AS
SELECT p.id, p.reference, p.originator_id, o.code AS originator_code, p.status, p.revision, p.pending_revision,
       p.version, p.tier, p.tlp, p.named_recipients, p.severity, p.valid_until, p.created_at, p.updated_at,
       p.published_at, r.content
FROM pictures p JOIN organisations o ON o.id = p.originator_id
     JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision
WHERE (picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, $1, $2, $3)
       OR ($4 AND p.status NOT IN ('draft', 'in_review')))
  AND ($5::text IS NULL OR $5 = ANY (p.domains))
  AND ($6::text IS NULL OR p.severity = $6)
  AND ($7::text IS NULL OR p.urgency = $7)
  AND ($8::text IS NULL OR p.status = $8)
  AND ($9::text IS NULL OR p.kind = $9)
  AND ($10::boolean IS NULL OR p.is_exercise = $10)
  AND ($11::uuid IS NULL OR p.election_id = $11)
  AND ($12::uuid IS NULL OR p.originator_id = $12)
  AND ($13::text IS NULL OR p.tier = $13)
  AND ($14::text IS NULL OR p.tlp = $14)
  AND ($15::timestamptz IS NULL OR p.updated_at >= $15)
  AND ($16::timestamptz IS NULL OR p.updated_at < $16)
  AND ($17::text IS NULL OR p.search_fi @@ websearch_to_tsquery('finnish', $17)
       OR p.search_sv @@ websearch_to_tsquery('swedish', $17)
       OR p.search_en @@ websearch_to_tsquery('english', $17))
  AND ($18 OR $17::text IS NOT NULL OR p.valid_until IS NULL OR p.valid_until > now())
  AND ($19::timestamptz IS NULL OR (p.updated_at, p.id) < ($19, $20::uuid))
  AND ($22::boolean IS NULL OR $22 = coalesce(picture_ack_deadline(p) < now() AND EXISTS (
       SELECT 1 FROM organisations o WHERE picture_recipient(p, o)
         AND ($4 OR p.originator_id = $1 OR o.id = $1)
         AND NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = p.id AND a.organisation_id = o.id)), false))
  AND ($22 IS NOT TRUE OR (p.status = 'published' AND p.urgency IN ('immediate', 'priority')))
ORDER BY p.updated_at DESC, p.id DESC LIMIT $21;
--                                                                  domain, severity, urgency, status, …, tlp, …, q
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, 'cyber', 'high', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, 'critical', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, 'immediate', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, NULL, 'in_review', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'CLEAR', NULL, NULL, NULL, false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'tulospalvelu', false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'tilannekuva', false, NULL, NULL, 51, NULL);
EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE list(:'org', 1::smallint, true, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, 51, true);
