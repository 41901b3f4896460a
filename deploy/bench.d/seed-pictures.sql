-- Seeds :count published pictures (psql -v count=N), spread over organisations, tiers,
-- domains, severities, urgencies (2 % immediate, 10 % priority) and times, each with one
-- revision whose content is a copy of an existing demo picture's.
-- For benchmarks only.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE template AS
    SELECT r.content FROM picture_revisions r JOIN pictures p ON p.id = r.picture_id
    WHERE p.tier = 'group' AND p.status = 'published' LIMIT 1;
CREATE TEMP TABLE orgs AS SELECT row_number() OVER (ORDER BY code) - 1 AS n, id FROM organisations;
CREATE TEMP TABLE author AS SELECT id FROM users ORDER BY created_at LIMIT 1;
CREATE TEMP TABLE seeded AS
    SELECT gen_random_uuid() AS id, g AS n,
           now() - (g || ' seconds')::interval AS at,
           (ARRAY['group', 'group_virt', 'group', 'group_virt_ras', 'public'])[1 + g % 5] AS tier,
           (ARRAY[1, 2, 1, 3, 4])[1 + g % 5]::smallint AS tier_rank,
           (ARRAY['AMBER', 'AMBER', 'AMBER+STRICT', 'GREEN', 'CLEAR'])[1 + g % 5] AS tlp,
           (ARRAY['information_influence', 'hybrid', 'cyber'])[1 + g % 3] AS domain,
           (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4] AS severity,
           CASE WHEN g % 50 = 7 THEN 'immediate' WHEN g % 10 = 3 THEN 'priority' ELSE 'routine' END AS urgency,
           (ARRAY['vaalit', 'tulospalvelu', 'äänestyspaikka', 'ehdokas', 'tekstiviesti', 'palvelunesto'])[1 + g % 6] AS word
    FROM generate_series(1, :count) g;
INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp, kind, is_exercise,
    primary_domain, domains, severity, urgency, classification, title_fi, title_en, summary_fi, summary_en,
    created_at, updated_at, published_at)
SELECT s.id, 'BENCH-' || s.n, (SELECT id FROM orgs WHERE orgs.n = s.n % (SELECT count(*) FROM orgs)),
       (SELECT id FROM author), 'published', 1, s.tier, s.tier_rank, s.tlp, 'alert', false, s.domain, ARRAY[s.domain],
       s.severity, s.urgency, 'unclassified_public',
       'Tilannekuva ' || s.n || ': ' || s.word, 'Situation picture ' || s.n,
       'Havaittu ilmiö koskee sanaa ' || s.word || ' ja sen levitystä verkossa.', 'An observed phenomenon.',
       s.at, s.at, s.at
FROM seeded s;
INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by, created_at, published_at)
SELECT s.id, 1, 'published', (SELECT content FROM template), s.tier, s.tlp, (SELECT id FROM author), s.at, s.at
FROM seeded s;
COMMIT;
-- What a service that gathered these pictures over years has long done: vacuumed (the
-- visibility map lets index-only scans skip the heap), analysed, checkpointed. Without
-- it, autovacuum and the checkpoint of the seed run during the first measurements and
-- their p99 measures the seed's aftermath (measured: 27-30 ms instead of 10-14 ms).
VACUUM (ANALYZE) pictures;
VACUUM (ANALYZE) picture_revisions;
CHECKPOINT;
