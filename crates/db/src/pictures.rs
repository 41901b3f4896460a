//! Situation pictures and revisions. Every query that returns a picture, or anything
//! about one, carries the caller's visibility predicate (`picture_visible`, defined in
//! migrations/V2__pictures.sql and mirrored by `sitrep_domain::visibility`).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sitrep_domain::lifecycle::RevisionState;
use sitrep_domain::visibility::{Handling, IndicatorHistory, Viewer, attachment_tlps, min_rank, tier_rank};
use sitrep_types::{Domain, PictureContent, Severity, Status, Tier, Tlp};
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use crate::{DbError, GenericClient};

/// The predicate for full sight, on `pictures p`, with the viewer in `$1..$3`.
pub(crate) const VISIBLE: &str = picture_visible!("$1", "$2", "$3");
/// Full sight, or the secretariat's metadata sight (`$4`), past draft.
const VISIBLE_OR_METADATA: &str =
    concat!("(", picture_visible!("$1", "$2", "$3"), " OR ($4 AND p.status NOT IN ('draft', 'in_review')))");

/// The viewer as query parameters `$1..$4`.
pub(crate) fn viewer_params(v: &Viewer) -> (Uuid, i16, bool, bool) {
    (v.organisation, min_rank(v.reach), v.reads_pictures, v.secretariat)
}

/// A picture row with the content of its revision in force.
#[derive(Debug, Clone)]
pub struct PictureRow {
    pub id: Uuid,
    pub reference: String,
    pub originator_id: Uuid,
    pub originator_code: String,
    pub status: Status,
    pub revision: i32,
    pub pending_revision: Option<i32>,
    pub version: i32,
    pub tier: Tier,
    pub tlp: Tlp,
    pub named_recipients: Vec<Uuid>,
    pub severity: Severity,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub content: PictureContent,
}

impl PictureRow {
    /// The picture's handling now, as the visibility rule reads it.
    pub fn handling(&self) -> Handling<'_> {
        Handling { originator: self.originator_id, status: self.status, tier: self.tier, named: &self.named_recipients }
    }
}

const ROW_COLUMNS: &str = "p.id, p.reference, p.originator_id, o.code AS originator_code, p.status, p.revision, \
     p.pending_revision, p.version, p.tier, p.tlp, p.named_recipients, p.severity, p.valid_until, p.created_at, \
     p.updated_at, p.published_at, r.content";
const ROW_FROM: &str = "pictures p JOIN organisations o ON o.id = p.originator_id \
     JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision";

fn parse<T>(v: Option<T>, what: &'static str) -> Result<T, DbError> {
    v.ok_or(DbError::Corrupt(what))
}

fn picture(row: &Row) -> Result<PictureRow, DbError> {
    let content =
        row.try_get::<_, Json<PictureContent>>("content").map_err(|_| DbError::Corrupt("picture_revisions.content"))?;
    picture_with(row, content.0)
}

/// A picture row whose content the caller already holds (it just wrote it).
fn picture_with(row: &Row, content: PictureContent) -> Result<PictureRow, DbError> {
    Ok(PictureRow {
        id: row.try_get("id")?,
        reference: row.try_get("reference")?,
        originator_id: row.try_get("originator_id")?,
        originator_code: row.try_get("originator_code")?,
        status: parse(Status::parse(row.try_get("status")?), "pictures.status")?,
        revision: row.try_get("revision")?,
        pending_revision: row.try_get("pending_revision")?,
        version: row.try_get("version")?,
        tier: parse(Tier::parse(row.try_get("tier")?), "pictures.tier")?,
        tlp: parse(Tlp::parse(row.try_get("tlp")?), "pictures.tlp")?,
        named_recipients: row.try_get("named_recipients")?,
        severity: parse(Severity::parse(row.try_get("severity")?), "pictures.severity")?,
        valid_until: row.try_get("valid_until")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        published_at: row.try_get("published_at")?,
        content,
    })
}

/// The columns a picture copies from its revision in force (for the visibility
/// predicate, filters and search), and their values: one list for insert and update.
const LIST_COLUMNS: &str = "tier, tier_rank, tlp, named_recipients, kind, is_exercise, primary_domain, domains, \
     severity, urgency, election_id, classification, title_fi, title_sv, title_en, summary_fi, summary_sv, summary_en, \
     valid_from, valid_until";

struct ListValues<'a> {
    c: &'a PictureContent,
    tier_rank: i16,
    domains: Vec<&'static str>,
    strings: [&'static str; 7],
}

impl<'a> ListValues<'a> {
    fn new(c: &'a PictureContent, severity: Severity) -> Self {
        ListValues {
            c,
            tier_rank: tier_rank(c.tier),
            domains: c.domains.iter().map(|d| d.as_str()).collect(),
            strings: [
                c.tier.as_str(),
                c.tlp.as_str(),
                c.kind.as_str(),
                c.primary_domain.as_str(),
                severity.as_str(),
                c.urgency.as_str(),
                c.classification.as_str(),
            ],
        }
    }

    /// The values in `LIST_COLUMNS` order.
    fn params(&self) -> [&(dyn ToSql + Sync); 20] {
        let [tier, tlp, kind, primary, severity, urgency, classification] = &self.strings;
        let c = self.c;
        [
            tier,
            &self.tier_rank,
            tlp,
            &c.named_recipients,
            kind,
            &c.is_exercise,
            primary,
            &self.domains,
            severity,
            urgency,
            &c.election_id,
            classification,
            &c.title.fi,
            &c.title.sv,
            &c.title.en,
            &c.summary.fi,
            &c.summary.sv,
            &c.summary.en,
            &c.valid_from,
            &c.valid_until,
        ]
    }
}

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A new picture of `originator` in `draft`, with its reference for `year` and its first
/// revision, in one statement; returns it as `find` shows it.
pub async fn create(
    c: &impl GenericClient,
    id: Uuid,
    year: i32,
    originator: Uuid,
    author: Uuid,
    content: &PictureContent,
    severity: Severity,
) -> Result<PictureRow, DbError> {
    let list = ListValues::new(content, severity);
    let json = Json(content);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &year, &originator, &author, &json];
    params.extend(list.params());
    // Written once: it is the same text for every create.
    static STATEMENT: OnceLock<String> = OnceLock::new();
    let sql = STATEMENT.get_or_init(|| {
        format!(
            "WITH p AS ( \
               INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, {LIST_COLUMNS}) \
               VALUES ($1, picture_reference($2), $3, $4, 'draft', 1, {}) RETURNING * \
             ), r AS ( \
               INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by) \
               SELECT p.id, 1, 'draft', $5, p.tier, p.tlp, p.created_by FROM p \
             ) \
             SELECT p.id, p.reference, p.originator_id, o.code AS originator_code, p.status, p.revision, \
               p.pending_revision, p.version, p.tier, p.tlp, p.named_recipients, p.severity, p.valid_until, \
               p.created_at, p.updated_at, p.published_at \
             FROM p JOIN organisations o ON o.id = p.originator_id",
            placeholders(6, 20)
        )
    });
    let statement = c.prepare_cached(sql).await?;
    let row = c.query_one(&statement, &params).await?;
    crate::correlation::store(c, id, 1, content).await?;
    picture_with(&row, content.clone())
}

/// Inserts an immutable revision.
pub async fn insert_revision(
    c: &impl GenericClient,
    picture: Uuid,
    revision: i32,
    state: RevisionState,
    content: &PictureContent,
    author: Uuid,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $3 = 'published' THEN now() END)",
        &[&picture, &revision, &state.as_str(), &Json(content), &content.tier.as_str(), &content.tlp.as_str(), &author],
    )
    .await?;
    crate::correlation::store(c, picture, revision, content).await
}

/// Puts `revision` (with `content`) in force: copies its handling and list columns onto
/// the picture, sets the status, bumps the version.
pub async fn set_in_force(
    c: &impl GenericClient,
    id: Uuid,
    revision: i32,
    status: Status,
    content: &PictureContent,
    severity: Severity,
    published: bool,
) -> Result<(), DbError> {
    let list = ListValues::new(content, severity);
    let status = status.as_str();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &revision, &status, &published];
    params.extend(list.params());
    c.execute(
        &format!(
            "UPDATE pictures SET revision = $2, status = $3, ({LIST_COLUMNS}) = ({}), \
               published_at = CASE WHEN $4 THEN coalesce(published_at, now()) ELSE published_at END, \
               pending_revision = CASE WHEN pending_revision = $2 THEN NULL ELSE pending_revision END, \
               version = version + 1, updated_at = now() \
             WHERE id = $1",
            placeholders(5, 20)
        ),
        &params,
    )
    .await?;
    Ok(())
}

/// Changes the status (and optionally the pending revision) and bumps the version: a
/// change every reader of the picture sees.
pub async fn set_status(
    c: &impl GenericClient,
    id: Uuid,
    status: Status,
    pending: Option<Option<i32>>,
) -> Result<(), DbError> {
    c.execute(
        "UPDATE pictures SET status = $2, \
           pending_revision = CASE WHEN $3 THEN $4 ELSE pending_revision END, \
           version = version + 1, updated_at = now() WHERE id = $1",
        &[&id, &status.as_str(), &pending.is_some(), &pending.flatten()],
    )
    .await?;
    Ok(())
}

pub async fn set_revision_state(
    c: &impl GenericClient,
    id: Uuid,
    revision: i32,
    state: RevisionState,
    approver: Option<Uuid>,
) -> Result<(), DbError> {
    c.execute(
        "UPDATE picture_revisions SET state = $3, \
           approved_by = CASE WHEN $4::uuid IS NOT NULL THEN $4 ELSE approved_by END, \
           approved_at = CASE WHEN $4::uuid IS NOT NULL THEN now() ELSE approved_at END, \
           published_at = CASE WHEN $3 = 'published' THEN now() ELSE published_at END \
         WHERE picture_id = $1 AND revision = $2",
        &[&id, &revision, &state.as_str(), &approver],
    )
    .await?;
    Ok(())
}

/// The picture, if the viewer sees it at all (fully, or the secretariat's metadata).
/// With `lock`, the row is locked for the rest of the transaction.
pub async fn find(c: &impl GenericClient, v: &Viewer, id: Uuid, lock: bool) -> Result<Option<PictureRow>, DbError> {
    let (org, rank, reads, sec) = viewer_params(v);
    let lock = if lock { " FOR UPDATE OF p" } else { "" };
    let statement = c
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE p.id = $5 AND {VISIBLE_OR_METADATA}{lock}"
        ))
        .await?;
    let row = c.query_opt(&statement, &[&org, &rank, &reads, &sec, &id]).await?;
    row.as_ref().map(picture).transpose()
}

/// One revision of a picture, for the originator's review work and for history.
#[derive(Debug, Clone)]
pub struct RevisionRow {
    pub revision: i32,
    pub state: RevisionState,
    pub content: PictureContent,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<Uuid>,
    /// It was in force as a published revision at some point (a draft superseded before
    /// publication never was).
    pub published: bool,
}

fn revision(row: &Row) -> Result<RevisionRow, DbError> {
    let content =
        row.try_get::<_, Json<PictureContent>>("content").map_err(|_| DbError::Corrupt("picture_revisions.content"))?;
    Ok(RevisionRow {
        revision: row.try_get("revision")?,
        state: parse(RevisionState::parse(row.try_get("state")?), "picture_revisions.state")?,
        content: content.0,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        approved_by: row.try_get("approved_by")?,
        published: row.try_get("published")?,
    })
}

/// Revisions of a picture the viewer sees (the caller checks the picture first; the
/// predicate is repeated here so that no path skips it).
pub async fn revisions(c: &impl GenericClient, v: &Viewer, id: Uuid) -> Result<Vec<RevisionRow>, DbError> {
    let (org, rank, reads, sec) = viewer_params(v);
    let rows = c
        .query(
            &format!(
                "SELECT r.revision, r.state, r.content, r.created_by, r.created_at, r.approved_by, \
                   r.published_at IS NOT NULL AS published \
                 FROM picture_revisions r JOIN pictures p ON p.id = r.picture_id \
                 WHERE r.picture_id = $5 AND {VISIBLE_OR_METADATA} ORDER BY r.revision"
            ),
            &[&org, &rank, &reads, &sec, &id],
        )
        .await?;
    rows.iter().map(revision).collect()
}

pub async fn revision_of(c: &impl GenericClient, v: &Viewer, id: Uuid, n: i32) -> Result<Option<RevisionRow>, DbError> {
    let (org, rank, reads, sec) = viewer_params(v);
    let row = c
        .query_opt(
            &format!(
                "SELECT r.revision, r.state, r.content, r.created_by, r.created_at, r.approved_by, \
                   r.published_at IS NOT NULL AS published \
                 FROM picture_revisions r JOIN pictures p ON p.id = r.picture_id \
                 WHERE r.picture_id = $5 AND r.revision = $6 AND {VISIBLE_OR_METADATA}"
            ),
            &[&org, &rank, &reads, &sec, &id, &n],
        )
        .await?;
    row.as_ref().map(revision).transpose()
}

/// Filters of the picture list; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub domain: Option<String>,
    pub severity: Option<String>,
    pub urgency: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub is_exercise: Option<bool>,
    pub election: Option<Uuid>,
    pub originator: Option<Uuid>,
    pub tier: Option<String>,
    pub tlp: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Full-text query (fi, sv and en configurations). Searching includes expired
    /// pictures and only those the viewer sees fully.
    pub q: Option<String>,
    pub include_expired: bool,
    /// Acknowledgements overdue: a recipient has not acknowledged by the deadline. For
    /// the secretariat any recipient counts; for the originator, its recipients; for
    /// everyone else, its own organisation.
    pub overdue: Option<bool>,
    /// Only these pictures (the correlation filter, `indicator=`, worked out by the caller
    /// among the pictures the viewer sees in full).
    pub pictures: Option<Vec<Uuid>>,
}

impl ListFilter {
    /// Whether a filter looks at a picture's content (anything beyond reference,
    /// originator, tier, TLP, status and times).
    pub fn asks_about_content(&self) -> bool {
        self.q.is_some()
            || self.domain.is_some()
            || self.severity.is_some()
            || self.urgency.is_some()
            || self.kind.is_some()
            || self.is_exercise.is_some()
            || self.election.is_some()
            || self.overdue.is_some()
            || self.pictures.is_some()
    }
}

/// A page of pictures the viewer sees, newest change first, after `(updated_at, id)`.
pub async fn list(
    c: &impl GenericClient,
    v: &Viewer,
    f: &ListFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<PictureRow>, DbError> {
    let (org, rank, reads, sec) = viewer_params(v);
    // A picture the secretariat sees as metadata only is listed only when no filter asks
    // about its content (text, domain, severity, urgency, kind, exercise, election, the
    // acknowledgement deadline that urgency sets), and whether it has expired is not asked
    // of it: no filter may tell what a picture it may not read says.
    let sec = sec && !f.asks_about_content();
    let (after_at, after_id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    // `overdue=true` implies an acknowledgement deadline, which only published pictures of
    // urgency immediate or priority have (`picture_ack_deadline`); saying so lets the
    // planner walk the status or urgency index instead of every picture (V10).
    // Planned on every call on purpose (not `prepare_cached`): with the values in place the
    // absent filters fold away and `'cyber' = ANY (p.domains)` matches V10's partial
    // indexes; a generic plan, which PostgreSQL may switch a reused statement to, sees
    // neither and walks the whole list order.
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE {VISIBLE_OR_METADATA} \
           AND ($5::text IS NULL OR $5 = ANY (p.domains)) \
           AND ($6::text IS NULL OR p.severity = $6) \
           AND ($7::text IS NULL OR p.urgency = $7) \
           AND ($8::text IS NULL OR p.status = $8) \
           AND ($9::text IS NULL OR p.kind = $9) \
           AND ($10::boolean IS NULL OR p.is_exercise = $10) \
           AND ($11::uuid IS NULL OR p.election_id = $11) \
           AND ($12::uuid IS NULL OR p.originator_id = $12) \
           AND ($13::text IS NULL OR p.tier = $13) \
           AND ($14::text IS NULL OR p.tlp = $14) \
           AND ($15::timestamptz IS NULL OR p.updated_at >= $15) \
           AND ($16::timestamptz IS NULL OR p.updated_at < $16) \
           AND ($17::text IS NULL OR p.search_fi @@ websearch_to_tsquery('finnish', $17) \
                OR p.search_sv @@ websearch_to_tsquery('swedish', $17) \
                OR p.search_en @@ websearch_to_tsquery('english', $17)) \
           AND ($18 OR $17::text IS NOT NULL OR p.valid_until IS NULL OR p.valid_until > now() \
                OR ($4 AND NOT coalesce({VISIBLE}, false))) \
           AND ($19::timestamptz IS NULL OR (p.updated_at, p.id) < ($19, $20::uuid)) \
           AND ($22::boolean IS NULL OR $22 = coalesce(picture_ack_deadline(p) < now() AND EXISTS ( \
                SELECT 1 FROM organisations o WHERE picture_recipient(p, o) \
                  AND ($4 OR p.originator_id = $1 OR o.id = $1) \
                  AND NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = p.id AND a.organisation_id = o.id)), false)) \
           AND ($22 IS NOT TRUE OR (p.status = 'published' AND p.urgency IN ('immediate', 'priority'))) \
           AND ($23::uuid[] IS NULL OR p.id = ANY ($23)) \
         ORDER BY p.updated_at DESC, p.id DESC LIMIT $21"
    );
    let rows = c
        .query(
            &sql,
            &[
                &org,
                &rank,
                &reads,
                &sec,
                &f.domain,
                &f.severity,
                &f.urgency,
                &f.status,
                &f.kind,
                &f.is_exercise,
                &f.election,
                &f.originator,
                &f.tier,
                &f.tlp,
                &f.updated_since,
                &f.updated_before,
                &f.q,
                &f.include_expired,
                &after_at,
                &after_id,
                &limit,
                &f.overdue,
                &f.pictures,
            ],
        )
        .await?;
    rows.iter().map(picture).collect()
}

/// How `v` sees each of `ids` on this (primary) database now: `true` full sight, `false`
/// the secretariat's metadata sight; ids it may not see at all are missing. A list read
/// from a replica is filtered through this on the primary, so that a narrowing takes
/// effect at once even while the replica lags (docs/deploy.md).
pub async fn sight_now(
    c: &impl GenericClient,
    v: &Viewer,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, bool>, DbError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let (org, rank, reads, sec) = viewer_params(v);
    let sql = format!("SELECT p.id, {VISIBLE} FROM pictures p WHERE p.id = ANY ($5) AND {VISIBLE_OR_METADATA}");
    let rows = c.query(&sql, &[&org, &rank, &reads, &sec, &ids]).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get::<_, Option<bool>>(1)?.unwrap_or(false)))).collect()
}

/// The picture an idempotency key already created for this user, and the hash of the
/// request that did it. Takes the key (blocking a concurrent holder until it commits).
pub async fn claim_idempotency_key(
    c: &impl GenericClient,
    user: Uuid,
    key: &str,
    request_hash: &[u8],
    picture: Uuid,
) -> Result<Option<(Uuid, Vec<u8>)>, DbError> {
    let inserted = c
        .execute(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, picture_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            &[&user, &key, &request_hash, &picture],
        )
        .await?;
    if inserted == 1 {
        return Ok(None);
    }
    let row = c
        .query_one(
            "SELECT picture_id, request_hash FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            &[&user, &key],
        )
        .await?;
    Ok(Some((row.try_get(0)?, row.try_get(1)?)))
}

/// Whether the organisation requires review (four eyes) for every publish.
pub async fn organisation_requires_review(c: &impl GenericClient, org: Uuid) -> Result<bool, DbError> {
    let row = c.query_opt("SELECT require_review FROM organisations WHERE id = $1", &[&org]).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(false))
}

/// Which of `ids` are pictures the viewer sees fully.
pub async fn visible_ids(c: &impl GenericClient, v: &Viewer, ids: &[Uuid]) -> Result<Vec<Uuid>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let rows = c
        .query(
            &format!("SELECT p.id FROM pictures p WHERE p.id = ANY ($4) AND {VISIBLE}"),
            &[&org, &rank, &reads, &ids],
        )
        .await?;
    rows.iter().map(|r| r.try_get(0).map_err(DbError::from)).collect()
}

/// What a picture's content refers to, as the database knows it now.
#[derive(Debug, Clone, Default)]
pub struct KnownReferences {
    /// Those of the named recipients that are active organisations.
    pub organisations: Vec<Uuid>,
    /// The TLP community exists (or none was named).
    pub community: bool,
    /// The election exists (or none was named).
    pub election: bool,
    /// Those of the related pictures the viewer sees fully.
    pub pictures: Vec<Uuid>,
}

/// Looks up every reference of a picture's content in one statement, which asks only
/// about the kinds of reference the content has: a part for an absent one (`$n IS NULL OR
/// ...`, `= ANY ('{}')`) made PostgreSQL plan the statement afresh on every call, as a
/// custom plan for the constants was always cheaper than the generic plan. Each shape is
/// prepared once per connection and then runs on its generic plan.
pub async fn known_references(
    c: &impl GenericClient,
    v: &Viewer,
    organisations: &[Uuid],
    community: Option<&str>,
    election: Option<Uuid>,
    related: &[Uuid],
) -> Result<KnownReferences, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    // The visibility predicate reads the viewer from `$1..$3`: they come first when needed.
    // An absent kind of reference is a constant in its place, so the columns keep their
    // positions whatever the shape.
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(6);
    let mut columns = ["'{}'::uuid[]".to_owned(), "'{}'::uuid[]".to_owned(), "true".to_owned(), "true".to_owned()];
    if !related.is_empty() {
        let viewer: [&(dyn ToSql + Sync); 4] = [&org, &rank, &reads, &related];
        params.extend(viewer);
        columns[0] = format!("ARRAY(SELECT p.id FROM pictures p WHERE p.id = ANY ($4) AND {VISIBLE})");
    }
    if !organisations.is_empty() {
        params.push(&organisations);
        columns[1] = format!("ARRAY(SELECT id FROM organisations WHERE id = ANY (${}) AND active)", params.len());
    }
    if let Some(community) = &community {
        params.push(community);
        columns[2] = format!("EXISTS (SELECT 1 FROM communities WHERE code = ${})", params.len());
    }
    if let Some(election) = &election {
        params.push(election);
        columns[3] = format!("EXISTS (SELECT 1 FROM elections WHERE id = ${})", params.len());
    }
    if params.is_empty() {
        return Ok(KnownReferences { community: true, election: true, ..Default::default() });
    }
    let statement = c.prepare_cached(&format!("SELECT {}", columns.join(", "))).await?;
    let row = c.query_one(&statement, &params).await?;
    Ok(KnownReferences {
        pictures: row.try_get(0)?,
        organisations: row.try_get(1)?,
        community: row.try_get(2)?,
        election: row.try_get(3)?,
    })
}

/// The highest revision number of a picture (in force, pending or abandoned).
pub async fn max_revision(c: &impl GenericClient, id: Uuid) -> Result<i32, DbError> {
    let row =
        c.query_one("SELECT coalesce(max(revision), 0) FROM picture_revisions WHERE picture_id = $1", &[&id]).await?;
    Ok(row.try_get(0)?)
}

/// Locks the picture's row for the rest of the transaction; `false` if there is none.
/// Taken before the picture is read (`find`), so that a request that waited for a
/// concurrent change reads the picture as that change left it: locking in the joined read
/// itself re-checks only the picture row, and the join to the revision then in force
/// comes up empty.
pub async fn lock(c: &impl GenericClient, id: Uuid) -> Result<bool, DbError> {
    let statement = c.prepare_cached("SELECT 1 FROM pictures WHERE id = $1 FOR UPDATE").await?;
    Ok(c.query_opt(&statement, &[&id]).await?.is_some())
}

/// Every revision of a picture as the four-eyes rule needs it: who wrote it, and whether
/// it was ever approved or published.
pub async fn written_revisions(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<Vec<sitrep_domain::lifecycle::WrittenRevision>, DbError> {
    let rows = c
        .query(
            "SELECT revision, created_by, approved_by IS NOT NULL, published_at IS NOT NULL \
             FROM picture_revisions WHERE picture_id = $1 ORDER BY revision",
            &[&id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(sitrep_domain::lifecycle::WrittenRevision {
                revision: r.try_get(0)?,
                created_by: r.try_get(1)?,
                approved: r.try_get(2)?,
                published: r.try_get(3)?,
            })
        })
        .collect()
}

/// Sets (or clears) the proposed revision of a published picture. Only the originator
/// knows about it: the version (the originator's `ETag`) changes, `updated_at` does not.
pub async fn set_pending(c: &impl GenericClient, id: Uuid, pending: Option<i32>) -> Result<(), DbError> {
    c.execute("UPDATE pictures SET pending_revision = $2, version = version + 1 WHERE id = $1", &[&id, &pending])
        .await?;
    Ok(())
}

/// Takes back the approval of `revision` (it was returned to its author): it no longer
/// counts as approved, for publication or for where the next approval chain starts.
pub async fn clear_approval(c: &impl GenericClient, id: Uuid, revision: i32) -> Result<(), DbError> {
    c.execute(
        "UPDATE picture_revisions SET approved_by = NULL, approved_at = NULL WHERE picture_id = $1 AND revision = $2",
        &[&id, &revision],
    )
    .await?;
    Ok(())
}

/// Records that `revision` was returned to its author, with the approver's note.
pub async fn record_return(
    c: &impl GenericClient,
    id: Uuid,
    revision: i32,
    by: Uuid,
    note: Option<&str>,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO picture_returns (picture_id, revision, returned_by, note) VALUES ($1, $2, $3, $4)",
        &[&id, &revision, &by, &note],
    )
    .await?;
    Ok(())
}

/// The latest return of each of a picture's revisions: revision → (who, when, note).
pub async fn returns(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<std::collections::HashMap<i32, (Uuid, DateTime<Utc>, Option<String>)>, DbError> {
    let rows = c
        .query(
            "SELECT DISTINCT ON (revision) revision, returned_by, returned_at, note FROM picture_returns \
             WHERE picture_id = $1 ORDER BY revision, returned_at DESC",
            &[&id],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))).collect()
}

/// The indicators and attachments of every revision of each of `ids`, with the revision
/// in force, for deciding what old revisions show (`IndicatorHistory`). Only the server reads this.
pub async fn indicator_history(
    c: &impl GenericClient,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, IndicatorHistory>, DbError> {
    let mut out: std::collections::HashMap<Uuid, IndicatorHistory> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let statement = c
        .prepare_cached(
            "SELECT r.picture_id, r.revision, p.revision, coalesce(r.content -> 'indicators', '[]'::jsonb), \
               coalesce(r.content -> 'attachments', '[]'::jsonb) \
             FROM picture_revisions r JOIN pictures p ON p.id = r.picture_id \
             WHERE r.picture_id = ANY ($1) ORDER BY r.picture_id, r.revision",
        )
        .await?;
    for row in c.query(&statement, &[&ids]).await? {
        let indicators = row
            .try_get::<_, Json<Vec<sitrep_types::Indicator>>>(3)
            .map_err(|_| DbError::Corrupt("picture_revisions.content"))?
            .0;
        let attachments = row
            .try_get::<_, Json<Vec<sitrep_types::Attachment>>>(4)
            .map_err(|_| DbError::Corrupt("picture_revisions.content"))?
            .0;
        let entry = out.entry(row.try_get(0)?).or_default();
        entry.in_force = row.try_get(2)?;
        let revision: i32 = row.try_get(1)?;
        entry.revisions.push((revision, indicators.into_iter().map(|i| (i.type_, i.value, i.tlp)).collect()));
        entry.attachments.push((revision, attachments.iter().flat_map(attachment_tlps).collect()));
    }
    Ok(out)
}

/// What the board's summary counts: the published pictures the viewer sees in full (the
/// secretariat's metadata sight shows no domain, severity or area, so it counts nothing),
/// published in `from..until` (absent: open), of `election` if given, not expired unless
/// `include_expired` — the list's rule for the same reader with `status=published`.
#[derive(Debug, Clone)]
pub struct SummaryFilter {
    pub time_zone: String,
    pub election: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub include_expired: bool,
}

/// The counts of [`SummaryFilter`]'s pictures, grouped in the database.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// By domain, local day of publication and severity.
    pub days: Vec<sitrep_domain::charts::DayCount>,
    /// By area code (none: national) and severity.
    pub areas: Vec<sitrep_domain::charts::AreaCount>,
    /// The pictures counted, each once.
    pub pictures: u32,
}

/// One grouped statement: the pictures are read once under the visibility predicate and
/// counted by their domains, local day, severity and area codes together (a few thousand
/// cells for 100,000 pictures); each cell is then counted once in each of its domains and
/// once under each of its area codes (a code named twice counts once). Without JIT: its
/// estimate grows with the table until PostgreSQL would compile it, which took longer than
/// running it (docs/benchmarks.md).
pub async fn summary(c: &mut crate::Client, v: &Viewer, f: &SummaryFilter) -> Result<Summary, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let sql = format!(
        "SELECT p.domains, (p.published_at AT TIME ZONE $4)::date AS day, p.severity, \
           r.content ->> 'geo_codes' AS geo, count(*) AS n \
         FROM pictures p JOIN picture_revisions r ON r.picture_id = p.id AND r.revision = p.revision \
         WHERE {VISIBLE} AND p.status = 'published' AND p.published_at IS NOT NULL \
           AND ($5::uuid IS NULL OR p.election_id = $5) \
           AND ($6::timestamptz IS NULL OR p.published_at >= $6) \
           AND ($7::timestamptz IS NULL OR p.published_at < $7) \
           AND ($8 OR p.valid_until IS NULL OR p.valid_until > now()) \
         GROUP BY 1, 2, 3, 4"
    );
    let tx = c.transaction().await?;
    tx.batch_execute("SET LOCAL jit = off").await?;
    let rows = tx
        .query(&sql, &[&org, &rank, &reads, &f.time_zone, &f.election, &f.from, &f.until, &f.include_expired])
        .await?;
    tx.commit().await?;
    let mut out = Summary::default();
    for row in &rows {
        let n = u32::try_from(row.try_get::<_, i64>("n")?).unwrap_or(u32::MAX);
        let severity = parse(Severity::parse(row.try_get("severity")?), "pictures.severity")?;
        let day = row.try_get("day")?;
        let mut domains = row
            .try_get::<_, Vec<&str>>("domains")?
            .into_iter()
            .map(|d| parse(Domain::parse(d), "pictures.domains"))
            .collect::<Result<Vec<_>, _>>()?;
        domains.sort();
        domains.dedup();
        for domain in domains {
            out.days.push(sitrep_domain::charts::DayCount { domain, day, severity, n });
        }
        let mut codes: Vec<String> = match row.try_get::<_, Option<&str>>("geo")? {
            Some(text) => serde_json::from_str(text).map_err(|_| DbError::Corrupt("picture_revisions.content"))?,
            None => Vec::new(),
        };
        codes.sort();
        codes.dedup();
        if codes.is_empty() {
            out.areas.push(sitrep_domain::charts::AreaCount { area: None, severity, n });
        }
        for code in codes {
            out.areas.push(sitrep_domain::charts::AreaCount { area: Some(code), severity, n });
        }
        out.pictures = out.pictures.saturating_add(n);
    }
    Ok(out)
}
