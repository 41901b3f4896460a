//! Situation reports and their revisions. Every query that returns a report carries the
//! caller's visibility predicate: the pictures' `picture_visible` (V2) on the report's
//! own handling, which mirrors `sitrep_domain::report::report_sight` (full sight only: no
//! one has a metadata view of a report).

use chrono::{DateTime, Utc};
use sitrep_domain::lifecycle::{RevisionState, WrittenRevision};
use sitrep_domain::report::Organisation;
use sitrep_domain::visibility::{Handling, Viewer, tier_rank};
use sitrep_types::{Reach, ReportContent, Status, Tier, Tlp};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::pictures::viewer_params;
use crate::{DbError, GenericClient};

/// The predicate for sight of a report `r`, with the viewer in `$1..$3`.
const VISIBLE: &str = "picture_visible(r.originator_id, r.status, r.tier_rank, r.named_recipients, $1, $2, $3)";

/// A report row with the content of its revision in force.
#[derive(Debug, Clone)]
pub struct ReportRow {
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub content: ReportContent,
}

impl ReportRow {
    /// The report's handling now, as the visibility rule reads it.
    pub fn handling(&self) -> Handling<'_> {
        Handling { originator: self.originator_id, status: self.status, tier: self.tier, named: &self.named_recipients }
    }
}

const ROW_COLUMNS: &str = "r.id, r.reference, r.originator_id, o.code AS originator_code, r.status, r.revision, \
     r.pending_revision, r.version, r.tier, r.tlp, r.named_recipients, r.created_at, r.updated_at, r.published_at, \
     v.content";
const ROW_FROM: &str = "reports r JOIN organisations o ON o.id = r.originator_id \
     JOIN report_revisions v ON v.report_id = r.id AND v.revision = r.revision";

fn parse<T>(v: Option<T>, what: &'static str) -> Result<T, DbError> {
    v.ok_or(DbError::Corrupt(what))
}

fn report(row: &Row) -> Result<ReportRow, DbError> {
    let content =
        row.try_get::<_, Json<ReportContent>>("content").map_err(|_| DbError::Corrupt("report_revisions.content"))?;
    Ok(ReportRow {
        id: row.try_get("id")?,
        reference: row.try_get("reference")?,
        originator_id: row.try_get("originator_id")?,
        originator_code: row.try_get("originator_code")?,
        status: parse(Status::parse(row.try_get("status")?), "reports.status")?,
        revision: row.try_get("revision")?,
        pending_revision: row.try_get("pending_revision")?,
        version: row.try_get("version")?,
        tier: parse(Tier::parse(row.try_get("tier")?), "reports.tier")?,
        tlp: parse(Tlp::parse(row.try_get("tlp")?), "reports.tlp")?,
        named_recipients: row.try_get("named_recipients")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        published_at: row.try_get("published_at")?,
        content: content.0,
    })
}

/// A new report of `originator` in `draft`, with its reference for `year` and its first
/// revision.
pub async fn create(
    c: &impl GenericClient,
    id: Uuid,
    year: i32,
    originator: Uuid,
    author: Uuid,
    content: &ReportContent,
) -> Result<(), DbError> {
    let rank = tier_rank(content.tier);
    c.execute(
        "WITH r AS ( \
           INSERT INTO reports (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp, \
             named_recipients) \
           VALUES ($1, report_reference($2), $3, $4, 'draft', 1, $5, $6, $7, $8) RETURNING id \
         ) \
         INSERT INTO report_revisions (report_id, revision, state, content, tier, tlp, created_by) \
         SELECT r.id, 1, 'draft', $9, $5, $7, $4 FROM r",
        &[
            &id,
            &year,
            &originator,
            &author,
            &content.tier.as_str(),
            &rank,
            &content.tlp.as_str(),
            &content.named_recipients,
            &Json(content),
        ],
    )
    .await?;
    Ok(())
}

/// Inserts an immutable revision.
pub async fn insert_revision(
    c: &impl GenericClient,
    report: Uuid,
    revision: i32,
    state: RevisionState,
    content: &ReportContent,
    author: Uuid,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO report_revisions (report_id, revision, state, content, tier, tlp, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&report, &revision, &state.as_str(), &Json(content), &content.tier.as_str(), &content.tlp.as_str(), &author],
    )
    .await?;
    Ok(())
}

/// Puts `revision` (with `content`) in force with `status`: copies its handling onto the
/// report, bumps the version; `published` stamps the first publication time.
pub async fn set_in_force(
    c: &impl GenericClient,
    id: Uuid,
    revision: i32,
    status: Status,
    content: &ReportContent,
    published: bool,
) -> Result<(), DbError> {
    c.execute(
        "UPDATE reports SET revision = $2, status = $3, tier = $4, tier_rank = $5, tlp = $6, named_recipients = $7, \
           published_at = CASE WHEN $8 THEN coalesce(published_at, now()) ELSE published_at END, \
           pending_revision = CASE WHEN pending_revision = $2 THEN NULL ELSE pending_revision END, \
           version = version + 1, updated_at = now() \
         WHERE id = $1",
        &[
            &id,
            &revision,
            &status.as_str(),
            &content.tier.as_str(),
            &tier_rank(content.tier),
            &content.tlp.as_str(),
            &content.named_recipients,
            &published,
        ],
    )
    .await?;
    Ok(())
}

/// Changes the status and bumps the version: a change every reader of the report sees.
pub async fn set_status(c: &impl GenericClient, id: Uuid, status: Status) -> Result<(), DbError> {
    c.execute(
        "UPDATE reports SET status = $2, version = version + 1, updated_at = now() WHERE id = $1",
        &[&id, &status.as_str()],
    )
    .await?;
    Ok(())
}

/// Sets (or clears) the proposed revision of a published report; only its originator
/// knows of it: the version changes, `updated_at` does not.
pub async fn set_pending(c: &impl GenericClient, id: Uuid, pending: Option<i32>) -> Result<(), DbError> {
    c.execute("UPDATE reports SET pending_revision = $2, version = version + 1 WHERE id = $1", &[&id, &pending])
        .await?;
    Ok(())
}

/// Moves a revision's review state; `approver` records who approved it.
pub async fn set_revision_state(
    c: &impl GenericClient,
    id: Uuid,
    revision: i32,
    state: RevisionState,
    approver: Option<Uuid>,
) -> Result<(), DbError> {
    c.execute(
        "UPDATE report_revisions SET state = $3, \
           approved_by = CASE WHEN $4::uuid IS NOT NULL THEN $4 ELSE approved_by END, \
           approved_at = CASE WHEN $4::uuid IS NOT NULL THEN now() ELSE approved_at END, \
           published_at = CASE WHEN $3 = 'published' THEN now() ELSE published_at END \
         WHERE report_id = $1 AND revision = $2",
        &[&id, &revision, &state.as_str(), &approver],
    )
    .await?;
    Ok(())
}

/// Takes back the approval of `revision` (it was returned to its author).
pub async fn clear_approval(c: &impl GenericClient, id: Uuid, revision: i32) -> Result<(), DbError> {
    c.execute(
        "UPDATE report_revisions SET approved_by = NULL, approved_at = NULL WHERE report_id = $1 AND revision = $2",
        &[&id, &revision],
    )
    .await?;
    Ok(())
}

/// The report, if the viewer sees it.
pub async fn find(c: &impl GenericClient, v: &Viewer, id: Uuid) -> Result<Option<ReportRow>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let statement =
        c.prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE r.id = $4 AND {VISIBLE}")).await?;
    let row = c.query_opt(&statement, &[&org, &rank, &reads, &id]).await?;
    row.as_ref().map(report).transpose()
}

/// Locks the report's row for the rest of the transaction; `false` if there is none.
/// Taken before the report is read (`find`), so that a request that waited for a
/// concurrent change reads the report as that change left it.
pub async fn lock(c: &impl GenericClient, id: Uuid) -> Result<bool, DbError> {
    let statement = c.prepare_cached("SELECT 1 FROM reports WHERE id = $1 FOR UPDATE").await?;
    Ok(c.query_opt(&statement, &[&id]).await?.is_some())
}

/// A page of reports the viewer sees, newest change first, after `(updated_at, id)`.
pub async fn list(
    c: &impl GenericClient,
    v: &Viewer,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ReportRow>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let (after_at, after_id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let statement = c
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE {VISIBLE} \
               AND ($4::timestamptz IS NULL OR (r.updated_at, r.id) < ($4, $5::uuid)) \
             ORDER BY r.updated_at DESC, r.id DESC LIMIT $6"
        ))
        .await?;
    let rows = c.query(&statement, &[&org, &rank, &reads, &after_at, &after_id, &limit]).await?;
    rows.iter().map(report).collect()
}

/// One revision of a report, for its lifecycle.
#[derive(Debug, Clone)]
pub struct RevisionRow {
    pub revision: i32,
    pub state: RevisionState,
    pub content: ReportContent,
}

/// Revision `n` of a report the viewer sees.
pub async fn revision_of(c: &impl GenericClient, v: &Viewer, id: Uuid, n: i32) -> Result<Option<RevisionRow>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let row = c
        .query_opt(
            &format!(
                "SELECT v.revision, v.state, v.content FROM report_revisions v JOIN reports r ON r.id = v.report_id \
                 WHERE v.report_id = $4 AND v.revision = $5 AND {VISIBLE}"
            ),
            &[&org, &rank, &reads, &id, &n],
        )
        .await?;
    row.map(|r| {
        let content =
            r.try_get::<_, Json<ReportContent>>(2).map_err(|_| DbError::Corrupt("report_revisions.content"))?;
        Ok(RevisionRow {
            revision: r.try_get(0)?,
            state: parse(RevisionState::parse(r.try_get(1)?), "report_revisions.state")?,
            content: content.0,
        })
    })
    .transpose()
}

/// The highest revision number of a report (in force, pending or abandoned).
pub async fn max_revision(c: &impl GenericClient, id: Uuid) -> Result<i32, DbError> {
    let row =
        c.query_one("SELECT coalesce(max(revision), 0) FROM report_revisions WHERE report_id = $1", &[&id]).await?;
    Ok(row.try_get(0)?)
}

/// Every revision of a report as the four-eyes rule needs it.
pub async fn written_revisions(c: &impl GenericClient, id: Uuid) -> Result<Vec<WrittenRevision>, DbError> {
    let rows = c
        .query(
            "SELECT revision, created_by, approved_by IS NOT NULL, published_at IS NOT NULL \
             FROM report_revisions WHERE report_id = $1 ORDER BY revision",
            &[&id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(WrittenRevision {
                revision: r.try_get(0)?,
                created_by: r.try_get(1)?,
                approved: r.try_get(2)?,
                published: r.try_get(3)?,
            })
        })
        .collect()
}

/// An included picture's handling now, as the strictness rule reads it.
#[derive(Debug, Clone)]
pub struct PictureHandling {
    pub id: Uuid,
    pub reference: String,
    pub originator_id: Uuid,
    pub status: Status,
    pub tier: Tier,
    pub tlp: Tlp,
    pub named_recipients: Vec<Uuid>,
}

/// The handling of those of `ids` that the viewer sees in full (the others do not exist
/// for it), each picture locked against change (`FOR SHARE`) until the transaction ends:
/// a picture made stricter at the same moment either waits for the report's check to
/// commit or is seen by it, so a report is never published under a TLP looser than a
/// picture's that had just changed.
pub async fn picture_handlings(
    c: &impl GenericClient,
    v: &Viewer,
    ids: &[Uuid],
) -> Result<Vec<PictureHandling>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let rows = c
        .query(
            &format!(
                "SELECT p.id, p.originator_id, p.status, p.tier, p.tlp, p.named_recipients, p.reference FROM pictures p \
                 WHERE p.id = ANY ($4) AND {} ORDER BY p.id FOR SHARE OF p",
                crate::pictures::VISIBLE
            ),
            &[&org, &rank, &reads, &ids],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PictureHandling {
                id: r.try_get(0)?,
                originator_id: r.try_get(1)?,
                status: parse(Status::parse(r.try_get(2)?), "pictures.status")?,
                tier: parse(Tier::parse(r.try_get(3)?), "pictures.tier")?,
                tlp: parse(Tlp::parse(r.try_get(4)?), "pictures.tlp")?,
                named_recipients: r.try_get(5)?,
                reference: r.try_get(6)?,
            })
        })
        .collect()
}

/// Those of `ids` that are active organisations, with their reach.
pub async fn organisations(c: &impl GenericClient, ids: &[Uuid]) -> Result<Vec<Organisation>, DbError> {
    let rows = c.query("SELECT id, reach FROM organisations WHERE id = ANY ($1) AND active", &[&ids]).await?;
    rows.iter()
        .map(|r| {
            Ok(Organisation { id: r.try_get(0)?, reach: parse(Reach::parse(r.try_get(1)?), "organisations.reach")? })
        })
        .collect()
}

/// Whether the election exists.
pub async fn election_exists(c: &impl GenericClient, id: Uuid) -> Result<bool, DbError> {
    Ok(c.query_opt("SELECT 1 FROM elections WHERE id = $1", &[&id]).await?.is_some())
}
