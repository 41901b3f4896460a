-- pgbench: the database work of a picture create without Sitrep — three inserts in one
-- transaction (picture row, revision with its JSON content, access-log row).
\set n random(1, 1000000000)
BEGIN;
INSERT INTO bench_pictures (id, reference, title, tier, tlp, created_at) VALUES (gen_random_uuid(), 'B-' || :n, 'Tilannekuva ' || :n, 'group', 'AMBER', now());
INSERT INTO bench_revisions (id, revision, content, created_at) VALUES (gen_random_uuid(), 1, (SELECT content FROM bench_template), now());
INSERT INTO bench_log (request_id, action, object_id, outcome, http_status, at) VALUES (gen_random_uuid()::text, 'picture.create', :n::text, 'allowed', 201, now());
END;
