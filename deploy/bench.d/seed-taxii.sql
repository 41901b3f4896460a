-- Seeds :count published `group` pictures for the TAXII benchmark (psql -v count=N). Each
-- exports three STIX objects of its own (a report, one indicator and a language-content)
-- and refers to two DISARM attack-patterns, which every picture shares (the collection
-- holds each once). Pictures are added in bulk: 500 share each date_added, as a bulk
-- load would, so paging must not rely on date_added alone. For benchmarks only.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE template AS
    SELECT r.content FROM picture_revisions r JOIN pictures p ON p.id = r.picture_id
    WHERE p.tier = 'group' AND p.status = 'published' LIMIT 1;
CREATE TEMP TABLE orgs AS
    SELECT row_number() OVER (ORDER BY code) - 1 AS n, id FROM organisations WHERE reach = 'member';
CREATE TEMP TABLE author AS SELECT id FROM users ORDER BY created_at LIMIT 1;
CREATE TEMP TABLE seeded AS
    SELECT gen_random_uuid() AS id, g AS n,
           timestamptz '2027-01-01 00:00:00+00' + ((g / 500) || ' seconds')::interval AS at
    FROM generate_series(1, :count) g;
INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp, kind, is_exercise,
    primary_domain, domains, severity, urgency, classification, title_fi, title_en, summary_fi, summary_en,
    created_at, updated_at, published_at, stix_added)
SELECT s.id, 'BENCH-' || s.n, (SELECT id FROM orgs WHERE orgs.n = s.n % (SELECT count(*) FROM orgs)),
       (SELECT id FROM author), 'published', 1, 'group', 1, 'AMBER', 'alert', false, 'information_influence',
       ARRAY['information_influence'], 'medium', 'routine', 'unclassified_secret',
       'Tilannekuva ' || s.n, 'Situation picture ' || s.n, 'Havaittu ilmiö.', 'An observed phenomenon.',
       s.at, s.at, s.at, s.at
FROM seeded s;
INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by, created_at, published_at)
SELECT s.id, 1, 'published',
       (SELECT content FROM template) || jsonb_build_object(
           'tier', 'group', 'tlp', 'AMBER', 'named_recipients', '[]'::jsonb, 'original_lang', 'fi',
           'title', jsonb_build_object('fi', 'Tilannekuva ' || s.n, 'en', 'Situation picture ' || s.n),
           'summary', jsonb_build_object('fi', 'Havaittu ilmiö.', 'en', 'An observed phenomenon.'),
           'disarm_techniques', '["T0101", "T0097.206"]'::jsonb, 'attack_techniques', '[]'::jsonb,
           'indicators', jsonb_build_array(jsonb_build_object(
               'type', 'domain', 'value', 'bench-' || s.n || '.example', 'tlp', 'AMBER'))),
       'group', 'AMBER', (SELECT id FROM author), s.at, s.at
FROM seeded s;
COMMIT;
ANALYZE pictures;
ANALYZE picture_revisions;
