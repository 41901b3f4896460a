//! What the TAXII collections hold (docs/taxii.md). A collection is one tier; its entries
//! are the versions of the pictures of that tier the viewer sees: each revision that came
//! into force while published, and the withdrawal. Every query carries the visibility
//! predicate of `crate::pictures` (`picture_visible`), unchanged.

use chrono::{DateTime, Utc};
use sitrep_domain::visibility::Viewer;
use sitrep_types::{PictureContent, Status, Tier, Tlp};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::pictures::{VISIBLE, viewer_params};
use crate::{DbError, GenericClient};

pub mod inbox;
pub mod peers;

/// One version of a picture in a collection, with the picture's handling now.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub picture_id: Uuid,
    pub reference: String,
    pub originator_id: Uuid,
    pub status: Status,
    /// The tier and named recipients of the picture now.
    pub tier: Tier,
    pub named_recipients: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// The revision of this version and its content.
    pub revision: i32,
    pub content: PictureContent,
    /// The TAXII `date_added` of this version.
    pub added: DateTime<Utc>,
    /// This version is the withdrawal.
    pub revoked: bool,
}

impl EntryRow {
    /// The keyset position of this entry.
    pub fn key(&self) -> EntryKey {
        EntryKey { added: self.added, picture: self.picture_id, revision: self.revision, revoked: self.revoked }
    }
}

/// A position in a collection: entries are ordered by these fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryKey {
    pub added: DateTime<Utc>,
    pub picture: Uuid,
    pub revision: i32,
    pub revoked: bool,
}

/// Which entries of a collection to read.
#[derive(Debug, Clone, Default)]
pub struct EntryQuery<'a> {
    /// Only each picture's newest version (otherwise every version).
    pub newest_only: bool,
    /// `added_after`: strictly later.
    pub added_after: Option<DateTime<Utc>>,
    /// Start at this entry (inclusive).
    pub from: Option<EntryKey>,
    /// Only these pictures.
    pub pictures: Option<&'a [Uuid]>,
    pub limit: i64,
}

const ENTRY_COLUMNS: &str = "p.id, p.reference, p.originator_id, p.status, p.tier, p.named_recipients, p.created_at, \
     p.published_at, e.revision, e.content, e.added, e.revoked";

fn entry(row: &Row) -> Result<EntryRow, DbError> {
    let content: serde_json::Value = row.try_get("content")?;
    Ok(EntryRow {
        picture_id: row.try_get("id")?,
        reference: row.try_get("reference")?,
        originator_id: row.try_get("originator_id")?,
        status: Status::parse(row.try_get("status")?).ok_or(DbError::Corrupt("pictures.status"))?,
        tier: Tier::parse(row.try_get("tier")?).ok_or(DbError::Corrupt("pictures.tier"))?,
        named_recipients: row.try_get("named_recipients")?,
        created_at: row.try_get("created_at")?,
        published_at: row.try_get("published_at")?,
        revision: row.try_get("revision")?,
        content: serde_json::from_value(content).map_err(|_| DbError::Corrupt("picture_revisions.content"))?,
        added: row.try_get("added")?,
        revoked: row.try_get("revoked")?,
    })
}

/// Entries of the collection of `tier` that the viewer sees, in keyset order.
pub async fn entries(
    c: &impl GenericClient,
    v: &Viewer,
    tier: Tier,
    q: &EntryQuery<'_>,
) -> Result<Vec<EntryRow>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let versions = if q.newest_only {
        // The newest version: the revision in force, or the withdrawal.
        "SELECT r.revision, r.state, r.content, p.stix_added AS added, p.status = 'withdrawn' AS revoked \
         FROM picture_revisions r WHERE r.picture_id = p.id AND r.revision = p.revision"
    } else {
        // Every revision that came into force while published, and the withdrawal.
        "SELECT r.revision, r.state, r.content, r.published_at AS added, false AS revoked \
         FROM picture_revisions r WHERE r.picture_id = p.id AND r.published_at IS NOT NULL \
           AND r.revision <= p.revision AND r.state IN ('published', 'superseded') \
         UNION ALL \
         SELECT r.revision, r.state, r.content, p.stix_added AS added, true AS revoked \
         FROM picture_revisions r WHERE p.status = 'withdrawn' AND r.picture_id = p.id AND r.revision = p.revision"
    };
    let (from_added, from_picture, from_revision, from_revoked) = q
        .from
        .map_or((None, None, None, None), |k| (Some(k.added), Some(k.picture), Some(k.revision), Some(k.revoked)));
    let pictures: Option<Vec<Uuid>> = q.pictures.map(<[Uuid]>::to_vec);
    let order = if q.newest_only { "p.stix_added, p.id" } else { "e.added, p.id, e.revision, e.revoked" };
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM pictures p CROSS JOIN LATERAL ({versions}) e \
         WHERE {VISIBLE} AND p.tier = $4 AND p.stix_added IS NOT NULL \
           AND ($5::timestamptz IS NULL OR e.added > $5) \
           AND ($6::timestamptz IS NULL OR (e.added, p.id, e.revision, e.revoked) >= ($6, $7::uuid, $8::integer, $9::boolean)) \
           AND ($10::uuid[] IS NULL OR p.id = ANY ($10)) \
           {newest} \
         ORDER BY {order} LIMIT $11",
        newest = if q.newest_only {
            // Lets the planner walk the index (tier, stix_added, id).
            "AND ($6::timestamptz IS NULL OR (p.stix_added, p.id) >= ($6, $7::uuid)) \
             AND ($5::timestamptz IS NULL OR p.stix_added > $5)"
        } else {
            ""
        },
    );
    let rows = c
        .query(
            &sql,
            &[
                &org,
                &rank,
                &reads,
                &tier.as_str(),
                &q.added_after,
                &from_added,
                &from_picture,
                &from_revision,
                &from_revoked,
                &pictures,
                &q.limit,
            ],
        )
        .await?;
    rows.iter().map(entry).collect()
}

/// What a STIX id of a picture's objects is derived from, for the pictures of a
/// collection the viewer sees: the picture, and (when asked for) the techniques,
/// `type:value` of the indicators and the attachment ids of its published revisions.
#[derive(Debug, Clone)]
pub struct PictureKeys {
    pub picture: Uuid,
    pub techniques: Vec<String>,
    pub indicators: Vec<String>,
    /// Each attachment of a published revision with the TLP it was published under
    /// (an artifact's id includes its TLP).
    pub attachments: Vec<(Uuid, Tlp)>,
}

pub async fn picture_keys(
    c: &impl GenericClient,
    v: &Viewer,
    tier: Tier,
    techniques: bool,
    indicators: bool,
    attachments: bool,
) -> Result<Vec<PictureKeys>, DbError> {
    let (org, rank, reads, _) = viewer_params(v);
    let sql = format!(
        "SELECT p.id, \
           CASE WHEN $5 THEN (SELECT coalesce(array_agg(DISTINCT t), '{{}}') FROM picture_revisions r, \
               jsonb_array_elements_text(coalesce(r.content->'disarm_techniques', '[]') \
                                         || coalesce(r.content->'attack_techniques', '[]')) t \
               WHERE r.picture_id = p.id AND r.published_at IS NOT NULL) ELSE '{{}}' END AS techniques, \
           CASE WHEN $6 THEN (SELECT coalesce(array_agg(DISTINCT (i->>'type') || ':' || (i->>'value')), '{{}}') \
               FROM picture_revisions r, jsonb_array_elements(coalesce(r.content->'indicators', '[]')) i \
               WHERE r.picture_id = p.id AND r.published_at IS NOT NULL) ELSE '{{}}' END AS indicators, \
           CASE WHEN $7 THEN (SELECT coalesce(array_agg(DISTINCT (a->>'id') || ' ' || (a->>'tlp')), '{{}}') \
               FROM picture_revisions r, jsonb_array_elements(coalesce(r.content->'attachments', '[]')) a \
               WHERE r.picture_id = p.id AND r.published_at IS NOT NULL) ELSE '{{}}' END AS attachments \
         FROM pictures p WHERE {VISIBLE} AND p.tier = $4 AND p.stix_added IS NOT NULL"
    );
    let rows = c.query(&sql, &[&org, &rank, &reads, &tier.as_str(), &techniques, &indicators, &attachments]).await?;
    rows.iter()
        .map(|r| {
            Ok(PictureKeys {
                picture: r.try_get(0)?,
                techniques: r.try_get::<_, Vec<String>>(1)?,
                indicators: r.try_get::<_, Vec<String>>(2)?,
                attachments: r
                    .try_get::<_, Vec<String>>(3)?
                    .iter()
                    .map(|a| {
                        let (id, tlp) = a.split_once(' ').ok_or(DbError::Corrupt("picture_revisions.attachments"))?;
                        let id = id.parse().map_err(|_| DbError::Corrupt("picture_revisions.attachments"))?;
                        Ok((id, Tlp::parse(tlp).ok_or(DbError::Corrupt("picture_revisions.attachments"))?))
                    })
                    .collect::<Result<_, DbError>>()?,
            })
        })
        .collect()
}
