-- pgbench: what the database does for one picture create (crates/db/src/pictures.rs
-- `create`, as captured with log_statement = all from a `POST /api/v1/pictures` of the
-- benchmark's body): the election check, the picture and its first revision in one
-- statement (three generated tsvectors, the V10 list indexes, foreign keys), and the
-- access-log record written unchained (a fixed digest stands in for the SHA-256 Sitrep
-- computes in Rust). No HTTP, TLS, JSON or Rust: the floor of a create on this cluster.
-- pgbench -D org=<organisation> -D user=<author> -D election=<election>
BEGIN;
SELECT EXISTS (SELECT 1 FROM elections WHERE id = :election::uuid);
WITH p AS (
  INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp,
      named_recipients, kind, is_exercise, primary_domain, domains, severity, urgency, election_id, classification,
      title_fi, title_sv, title_en, summary_fi, summary_sv, summary_en, valid_from, valid_until)
  VALUES (gen_random_uuid(), picture_reference(extract(year FROM now())::int), :org::uuid, :user::uuid, 'draft', 1,
      'group_virt', 2, 'AMBER', '{}', 'alert', false, 'cyber', '{cyber,information_influence}', 'medium', 'immediate',
      :election::uuid, 'unclassified_secret',
      'Palvelunestohyökkäys tulospalveluun vaali-iltana', 'Överbelastningsattack mot resultattjänsten på valkvällen',
      'DDoS on the results service on election night',
      'Hakitivistiryhmä väittää Telegramissa kaataneensa tulospalvelun. Tulosten näyttö viivästyy; ääntenlaskenta jatkuu paperilla.',
      NULL,
      'A hacktivist collective claims on Telegram to have taken down the results service. Results display is delayed; counting continues on paper.',
      NULL, NULL)
  RETURNING *
), r AS (
  INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by)
  SELECT p.id, 1, 'draft', (SELECT content FROM bench_template), p.tier, p.tlp, p.created_by FROM p
)
SELECT p.id, p.reference, p.originator_id, o.code AS originator_code, p.status, p.revision, p.pending_revision,
       p.version, p.tier, p.tlp, p.named_recipients, p.severity, p.valid_until, p.created_at, p.updated_at, p.published_at
FROM p JOIN organisations o ON o.id = p.originator_id;
INSERT INTO access_log_pending (request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles,
    action, object_type, object_id, object_revision, object_ids, tier, tlp, outcome, reason, http_status, client_addr,
    digest)
  VALUES (md5(random()::text), 'user', :user::uuid, 'bench.author', :org::uuid, gen_random_uuid(), '{author}',
    'picture.create', 'picture', gen_random_uuid()::text, '1', NULL, 'group_virt', 'AMBER', 'allowed', NULL, 201,
    '127.0.0.1', sha256('bench'::bytea));
COMMIT;
