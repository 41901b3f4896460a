//! The TAXII inbox's SQL (docs/taxii.md, "The inbox"): what an organisation received, its
//! status resources, and which draft picture each received report became. Everything is
//! scoped by the receiving organisation: one organisation's objects, reports and statuses
//! are never read for another.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{DbError, GenericClient};

/// Serialises the imports of one organisation (held to the end of the transaction), so
/// that two posts of the same new report make one draft, not two.
pub async fn lock(c: &impl GenericClient, organisation: Uuid) -> Result<(), DbError> {
    c.execute("SELECT pg_advisory_xact_lock(hashtextextended('taxii-inbox:' || $1::uuid::text, 0))", &[&organisation])
        .await?;
    Ok(())
}

/// Which of these object versions the organisation already received.
pub async fn received(
    c: &impl GenericClient,
    organisation: Uuid,
    ids: &[String],
) -> Result<HashSet<(String, DateTime<Utc>)>, DbError> {
    let rows = c
        .query(
            "SELECT stix_id, version FROM taxii_inbox_objects WHERE organisation_id = $1 AND stix_id = ANY ($2)",
            &[&organisation, &ids],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The newest version the organisation received of each of these objects.
pub async fn newest(
    c: &impl GenericClient,
    organisation: Uuid,
    ids: &[String],
) -> Result<HashMap<String, Value>, DbError> {
    let rows = c
        .query(
            "SELECT DISTINCT ON (stix_id) stix_id, object FROM taxii_inbox_objects \
             WHERE organisation_id = $1 AND stix_id = ANY ($2) ORDER BY stix_id, version DESC",
            &[&organisation, &ids],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The draft picture a received report became, and the newest version imported into it.
pub async fn report_links(
    c: &impl GenericClient,
    organisation: Uuid,
    reports: &[String],
) -> Result<HashMap<String, (Uuid, DateTime<Utc>)>, DbError> {
    let rows = c
        .query(
            "SELECT report_id, picture_id, version FROM taxii_inbox_reports \
             WHERE organisation_id = $1 AND report_id = ANY ($2)",
            &[&organisation, &reports],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?)))).collect()
}

/// Records that `report` (at `version`) is imported into `picture`.
pub async fn link_report(
    c: &impl GenericClient,
    organisation: Uuid,
    report: &str,
    picture: Uuid,
    version: DateTime<Utc>,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO taxii_inbox_reports (organisation_id, report_id, picture_id, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (organisation_id, report_id) DO UPDATE SET version = excluded.version",
        &[&organisation, &report, &picture, &version],
    )
    .await?;
    Ok(())
}

/// One received object version to keep.
#[derive(Debug, Clone)]
pub struct NewObject<'a> {
    pub id: &'a str,
    pub version: DateTime<Utc>,
    pub type_: &'a str,
    pub object: &'a Value,
}

/// Keeps the received object versions (in one statement, whatever their number).
pub async fn insert_objects(
    c: &impl GenericClient,
    organisation: Uuid,
    status: Uuid,
    objects: &[NewObject<'_>],
) -> Result<(), DbError> {
    if objects.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = objects.iter().map(|o| o.id).collect();
    let versions: Vec<DateTime<Utc>> = objects.iter().map(|o| o.version).collect();
    let types: Vec<&str> = objects.iter().map(|o| o.type_).collect();
    let bodies: Vec<&Value> = objects.iter().map(|o| o.object).collect();
    c.execute(
        "INSERT INTO taxii_inbox_objects (organisation_id, stix_id, version, type, object, status_id) \
         SELECT $1, i, v, t, o, $2 FROM unnest($3::text[], $4::timestamptz[], $5::text[], $6::jsonb[]) AS u (i, v, t, o) \
         ON CONFLICT (organisation_id, stix_id, version) DO NOTHING",
        &[&organisation, &status, &ids, &versions, &types, &bodies],
    )
    .await?;
    Ok(())
}

/// A status resource as stored.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub total_count: i32,
    pub success_count: i32,
    pub failure_count: i32,
    /// `[{id, version?, message?}]`
    pub successes: Value,
    pub failures: Value,
}

pub async fn insert_status(c: &impl GenericClient, posted_by: Uuid, s: &StatusRow) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO taxii_inbox_statuses (id, organisation_id, posted_by, created_at, total_count, success_count, \
           failure_count, successes, failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &s.id,
            &s.organisation_id,
            &posted_by,
            &s.created_at,
            &s.total_count,
            &s.success_count,
            &s.failure_count,
            &s.successes,
            &s.failures,
        ],
    )
    .await?;
    Ok(())
}

/// The status resource `id` of `organisation`'s inbox; `None` for another organisation's.
pub async fn status(c: &impl GenericClient, organisation: Uuid, id: Uuid) -> Result<Option<StatusRow>, DbError> {
    let row = c
        .query_opt(
            "SELECT id, organisation_id, created_at, total_count, success_count, failure_count, successes, failures \
             FROM taxii_inbox_statuses WHERE id = $1 AND organisation_id = $2",
            &[&id, &organisation],
        )
        .await?;
    row.map(|r| {
        Ok(StatusRow {
            id: r.try_get(0)?,
            organisation_id: r.try_get(1)?,
            created_at: r.try_get(2)?,
            total_count: r.try_get(3)?,
            success_count: r.try_get(4)?,
            failure_count: r.try_get(5)?,
            successes: r.try_get(6)?,
            failures: r.try_get(7)?,
        })
    })
    .transpose()
}
