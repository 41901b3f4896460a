//! Correlation: the normalised indicator values of every revision
//! (`picture_indicator_values`, migration V18) and the pictures that share one. Every
//! query that returns pictures carries the visibility predicate; which indicators
//! correlate for a reader is then decided by `sitrep_domain::correlation`.

use sitrep_domain::correlation::normalise;
use sitrep_domain::visibility::Viewer;
use sitrep_types::{IndicatorType, PictureContent, Status, Tier, Tlp};
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::pictures::{VISIBLE, viewer_params};
use crate::{DbError, GenericClient};

const INSERT: &str = "INSERT INTO picture_indicator_values (picture_id, revision, type, value_norm, tlp) \
     SELECT $1, $2, t, v, l FROM unnest($3::text[], $4::text[], $5::text[]) AS u (t, v, l) \
     ON CONFLICT DO NOTHING";

/// The (type, normalised value, TLP) columns of `content`'s indicators.
fn columns(content: &PictureContent) -> (Vec<&'static str>, Vec<String>, Vec<&'static str>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for i in &content.indicators {
        if let Some(n) = normalise(i.type_, &i.value) {
            out.0.push(i.type_.as_str());
            out.1.push(n);
            out.2.push(i.tlp.as_str());
        }
    }
    out
}

/// Stores the normalised values of `content`'s indicators for revision `revision`.
pub async fn store(
    c: &impl GenericClient,
    picture: Uuid,
    revision: i32,
    content: &PictureContent,
) -> Result<(), DbError> {
    let (types, values, tlps) = columns(content);
    if !types.is_empty() {
        c.execute(INSERT, &[&picture, &revision, &types, &values, &tlps]).await?;
    }
    Ok(())
}

/// Fills in the values of revisions written before `picture_indicator_values` existed
/// (run under the migration lock). Returns how many revisions it indexed.
pub async fn index_missing(c: &tokio_postgres::Client) -> Result<usize, DbError> {
    let rows = c
        .query(
            "SELECT r.picture_id, r.revision, r.content FROM picture_revisions r \
             WHERE jsonb_array_length(coalesce(r.content->'indicators', '[]')) > 0 \
               AND NOT EXISTS (SELECT 1 FROM picture_indicator_values v \
                               WHERE v.picture_id = r.picture_id AND v.revision = r.revision)",
            &[],
        )
        .await?;
    for row in &rows {
        let content: Json<PictureContent> =
            row.try_get("content").map_err(|_| DbError::Corrupt("picture_revisions.content"))?;
        let (picture, revision): (Uuid, i32) = (row.try_get("picture_id")?, row.try_get("revision")?);
        let (types, values, tlps) = columns(&content.0);
        if !types.is_empty() {
            c.execute(INSERT, &[&picture, &revision, &types, &values, &tlps]).await?;
        }
    }
    Ok(rows.len())
}

/// A picture's indicator (type, normalised value, TLP) in its revision in force, with
/// the picture's handling now.
#[derive(Debug, Clone)]
pub struct SharedValue {
    pub picture_id: Uuid,
    pub reference: String,
    pub originator_id: Uuid,
    pub status: Status,
    pub tier: Tier,
    pub tlp: Tlp,
    pub named_recipients: Vec<Uuid>,
    pub kind: IndicatorType,
    pub value: String,
    pub indicator_tlp: Tlp,
}

/// The indicators, in their revision in force, of the pictures other than `except` that
/// the viewer sees in full and whose value is one of `values`.
pub async fn sharing(
    c: &impl GenericClient,
    v: &Viewer,
    except: Option<Uuid>,
    values: &[(IndicatorType, String)],
) -> Result<Vec<SharedValue>, DbError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let (org, rank, reads, _) = viewer_params(v);
    let types: Vec<&str> = values.iter().map(|(t, _)| t.as_str()).collect();
    let norms: Vec<&str> = values.iter().map(|(_, n)| n.as_str()).collect();
    let sql = format!(
        "SELECT p.id, p.reference, p.originator_id, p.status, p.tier, p.tlp, p.named_recipients, \
           iv.type, iv.value_norm, iv.tlp AS indicator_tlp \
         FROM unnest($4::text[], $5::text[]) AS w (t, v) \
         JOIN picture_indicator_values iv ON iv.type = w.t AND iv.value_norm = w.v \
         JOIN pictures p ON p.id = iv.picture_id AND p.revision = iv.revision \
         WHERE {VISIBLE} AND ($6::uuid IS NULL OR p.id <> $6) \
         ORDER BY p.published_at DESC NULLS LAST, p.id, iv.type, iv.value_norm \
         LIMIT 10000"
    );
    let rows = c.query(&sql, &[&org, &rank, &reads, &types, &norms, &except]).await?;
    rows.iter()
        .map(|r| {
            Ok(SharedValue {
                picture_id: r.try_get("id")?,
                reference: r.try_get("reference")?,
                originator_id: r.try_get("originator_id")?,
                status: Status::parse(r.try_get("status")?).ok_or(DbError::Corrupt("pictures.status"))?,
                tier: Tier::parse(r.try_get("tier")?).ok_or(DbError::Corrupt("pictures.tier"))?,
                tlp: Tlp::parse(r.try_get("tlp")?).ok_or(DbError::Corrupt("pictures.tlp"))?,
                named_recipients: r.try_get("named_recipients")?,
                kind: IndicatorType::parse(r.try_get("type")?)
                    .ok_or(DbError::Corrupt("picture_indicator_values.type"))?,
                value: r.try_get("value_norm")?,
                indicator_tlp: Tlp::parse(r.try_get("indicator_tlp")?)
                    .ok_or(DbError::Corrupt("picture_indicator_values.tlp"))?,
            })
        })
        .collect()
}
