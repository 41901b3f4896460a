-- Seeds :count published pictures (psql -v count=N) for the board's summary: spread evenly
-- over the last 92 days (one every 79 seconds for 100,000), over organisations, tiers
-- (named ones for one organisation), domains (every seventh picture of two), severities
-- and twelve area codes (every fifth picture names none, every ninth two). Each has one
-- revision whose content is a copy of an existing demo picture's with those domains and
-- area codes. For benchmarks only.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE template AS
    SELECT r.content FROM picture_revisions r JOIN pictures p ON p.id = r.picture_id
    WHERE p.tier = 'group' AND p.status = 'published' LIMIT 1;
CREATE TEMP TABLE orgs AS SELECT row_number() OVER (ORDER BY code) - 1 AS n, id FROM organisations;
CREATE TEMP TABLE author AS SELECT id FROM users ORDER BY created_at LIMIT 1;
CREATE TEMP TABLE seeded AS
    SELECT gen_random_uuid() AS id, g AS n,
           now() - ((g * 79) || ' seconds')::interval AS at,
           (ARRAY['group', 'group_virt', 'named', 'group_virt_ras', 'public'])[1 + g % 5] AS tier,
           (ARRAY[1, 2, 0, 3, 4])[1 + g % 5]::smallint AS tier_rank,
           (ARRAY['AMBER', 'AMBER', 'RED', 'GREEN', 'CLEAR'])[1 + g % 5] AS tlp,
           CASE WHEN g % 7 = 0 THEN ARRAY['hybrid', 'cyber']
                ELSE ARRAY[(ARRAY['information_influence', 'hybrid', 'cyber'])[1 + g % 3]] END AS domains,
           (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4] AS severity,
           CASE WHEN g % 5 = 0 THEN '[]'::jsonb
                WHEN g % 9 = 0 THEN jsonb_build_array('FI-VP-' || lpad((1 + g % 12)::text, 2, '0'), 'FI-KU-091')
                ELSE jsonb_build_array('FI-VP-' || lpad((1 + g % 12)::text, 2, '0')) END AS geo
    FROM generate_series(1, :count) g;
INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp, named_recipients,
    kind, is_exercise, primary_domain, domains, severity, urgency, classification, title_fi, title_en, summary_fi,
    summary_en, created_at, updated_at, published_at)
SELECT s.id, 'BENCH-' || s.n, (SELECT id FROM orgs WHERE orgs.n = s.n % (SELECT count(*) FROM orgs)),
       (SELECT id FROM author), 'published', 1, s.tier, s.tier_rank, s.tlp,
       CASE WHEN s.tier = 'named' THEN ARRAY[(SELECT id FROM orgs WHERE orgs.n = 0)] ELSE '{}' END,
       'alert', false, s.domains[1], s.domains, s.severity, 'routine', 'unclassified_public',
       'Tilannekuva ' || s.n, 'Situation picture ' || s.n, 'Havaittu ilmiö.', 'An observed phenomenon.',
       s.at, s.at, s.at
FROM seeded s;
INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by, created_at, published_at)
SELECT s.id, 1, 'published',
       (SELECT content FROM template) || jsonb_build_object('domains', to_jsonb(s.domains), 'primary_domain', s.domains[1],
           'geo_codes', s.geo, 'geo_scope', CASE WHEN s.geo = '[]'::jsonb THEN 'national' ELSE 'constituency' END),
       s.tier, s.tlp, (SELECT id FROM author), s.at, s.at
FROM seeded s;
COMMIT;
VACUUM (ANALYZE) pictures;
VACUUM (ANALYZE) picture_revisions;
CHECKPOINT;
