//! Acknowledgements, release decisions, elections and communities.

use chrono::{DateTime, NaiveDate, Utc};
use sitrep_types::{
    AckKind, Acknowledgement, Community, Disposition, Election, ElectionType, Originator, ReleaseDecision,
};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{DbError, GenericClient};

fn org(row: &Row) -> Result<Originator, DbError> {
    Ok(Originator { id: row.try_get("organisation_id")?, code: row.try_get("organisation_code")? })
}

/// Who answers a picture (an acknowledgement or a release decision), and with what note.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub picture: Uuid,
    pub revision: i32,
    pub organisation: Uuid,
    pub user: Uuid,
    pub note: Option<&'a str>,
}

pub async fn insert_acknowledgement(
    c: &impl GenericClient,
    id: Uuid,
    a: &Answer<'_>,
    kind: AckKind,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO acknowledgements (id, picture_id, revision, organisation_id, user_id, kind, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &a.picture, &a.revision, &a.organisation, &a.user, &kind.as_str(), &a.note],
    )
    .await?;
    Ok(())
}

/// Acknowledgements of a picture, oldest first; with `organisation`, only its own.
pub async fn acknowledgements(
    c: &impl GenericClient,
    picture: Uuid,
    organisation: Option<Uuid>,
) -> Result<Vec<Acknowledgement>, DbError> {
    let rows = c
        .query(
            "SELECT a.id, a.picture_id, a.revision, a.organisation_id, o.code AS organisation_code, a.user_id, a.kind, \
               a.note, a.created_at FROM acknowledgements a JOIN organisations o ON o.id = a.organisation_id \
             WHERE a.picture_id = $1 AND ($2::uuid IS NULL OR a.organisation_id = $2) ORDER BY a.created_at, a.id",
            &[&picture, &organisation],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Acknowledgement {
                id: r.try_get("id")?,
                picture_id: r.try_get("picture_id")?,
                revision: r.try_get("revision")?,
                organisation: org(r)?,
                user_id: r.try_get("user_id")?,
                kind: AckKind::parse(r.try_get("kind")?).ok_or(DbError::Corrupt("acknowledgements.kind"))?,
                note: r.try_get("note")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// The acknowledgement deadline of a picture, and the recipient organisations that
/// have not acknowledged it yet.
pub async fn pending_recipients(
    c: &impl GenericClient,
    picture: Uuid,
) -> Result<(Option<DateTime<Utc>>, Vec<Originator>), DbError> {
    let deadline: Option<DateTime<Utc>> =
        c.query_one("SELECT picture_ack_deadline(p) FROM pictures p WHERE p.id = $1", &[&picture]).await?.try_get(0)?;
    let rows = c
        .query(
            "SELECT o.id AS organisation_id, o.code AS organisation_code FROM pictures p, organisations o \
             WHERE p.id = $1 AND picture_recipient(p, o) \
               AND NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.picture_id = p.id AND a.organisation_id = o.id) \
             ORDER BY o.code",
            &[&picture],
        )
        .await?;
    Ok((deadline, rows.iter().map(org).collect::<Result<_, _>>()?))
}

pub async fn insert_release_decision(
    c: &impl GenericClient,
    id: Uuid,
    a: &Answer<'_>,
    disposition: Disposition,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO release_decisions (id, picture_id, revision, organisation_id, user_id, disposition, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &a.picture, &a.revision, &a.organisation, &a.user, &disposition.as_str(), &a.note],
    )
    .await?;
    Ok(())
}

pub async fn release_decisions(c: &impl GenericClient, picture: Uuid) -> Result<Vec<ReleaseDecision>, DbError> {
    let rows = c
        .query(
            "SELECT r.id, r.picture_id, r.revision, r.organisation_id, o.code AS organisation_code, r.user_id, \
               r.disposition, r.note, r.created_at FROM release_decisions r JOIN organisations o ON o.id = r.organisation_id \
             WHERE r.picture_id = $1 ORDER BY r.created_at, r.id",
            &[&picture],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ReleaseDecision {
                id: r.try_get("id")?,
                picture_id: r.try_get("picture_id")?,
                revision: r.try_get("revision")?,
                organisation: org(r)?,
                user_id: r.try_get("user_id")?,
                disposition: Disposition::parse(r.try_get("disposition")?)
                    .ok_or(DbError::Corrupt("release_decisions.disposition"))?,
                note: r.try_get("note")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

fn election(r: &Row) -> Result<Election, DbError> {
    let day: Option<NaiveDate> = r.try_get("election_day")?;
    Ok(Election {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        election_type: ElectionType::parse(r.try_get("election_type")?)
            .ok_or(DbError::Corrupt("elections.election_type"))?,
        name_en: r.try_get("name_en")?,
        election_day: day,
        phases: day.map(sitrep_domain::election::phases),
        hourly_digest: r.try_get("hourly_digest")?,
        created_at: r.try_get("created_at")?,
    })
}

const ELECTION_COLUMNS: &str = "id, code, election_type, name_en, election_day, hourly_digest, created_at";

pub async fn insert_election(
    c: &impl GenericClient,
    id: Uuid,
    code: &str,
    kind: ElectionType,
    name_en: &str,
    day: Option<NaiveDate>,
    hourly_digest: bool,
) -> Result<Election, DbError> {
    let row = c
        .query_one(
            &format!(
                "INSERT INTO elections (id, code, election_type, name_en, election_day, hourly_digest) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ELECTION_COLUMNS}"
            ),
            &[&id, &code, &kind.as_str(), &name_en, &day, &hourly_digest],
        )
        .await?;
    election(&row)
}

pub async fn elections(c: &impl GenericClient) -> Result<Vec<Election>, DbError> {
    let rows = c
        .query(&format!("SELECT {ELECTION_COLUMNS} FROM elections ORDER BY election_day DESC NULLS FIRST, code"), &[])
        .await?;
    rows.iter().map(election).collect()
}

pub async fn get_election(c: &impl GenericClient, id: Uuid) -> Result<Option<Election>, DbError> {
    let row = c.query_opt(&format!("SELECT {ELECTION_COLUMNS} FROM elections WHERE id = $1"), &[&id]).await?;
    row.as_ref().map(election).transpose()
}

pub async fn find_election_by_code(c: &impl GenericClient, code: &str) -> Result<Option<Election>, DbError> {
    let row = c.query_opt(&format!("SELECT {ELECTION_COLUMNS} FROM elections WHERE code = $1"), &[&code]).await?;
    row.as_ref().map(election).transpose()
}

pub async fn update_election(
    c: &impl GenericClient,
    id: Uuid,
    name_en: Option<&str>,
    day: Option<NaiveDate>,
    hourly_digest: Option<bool>,
) -> Result<Option<Election>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE elections SET name_en = coalesce($2, name_en), election_day = coalesce($3, election_day), \
                   hourly_digest = coalesce($4, hourly_digest) \
                 WHERE id = $1 RETURNING {ELECTION_COLUMNS}"
            ),
            &[&id, &name_en, &day, &hourly_digest],
        )
        .await?;
    row.as_ref().map(election).transpose()
}

fn community(r: &Row) -> Result<Community, DbError> {
    Ok(Community {
        code: r.try_get("code")?,
        name_en: r.try_get("name_en")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn communities(c: &impl GenericClient) -> Result<Vec<Community>, DbError> {
    let rows = c.query("SELECT code, name_en, description, created_at FROM communities ORDER BY code", &[]).await?;
    rows.iter().map(community).collect()
}

pub async fn insert_community(
    c: &impl GenericClient,
    code: &str,
    name_en: &str,
    description: Option<&str>,
) -> Result<Community, DbError> {
    let row = c
        .query_one(
            "INSERT INTO communities (code, name_en, description) VALUES ($1, $2, $3) \
             RETURNING code, name_en, description, created_at",
            &[&code, &name_en, &description],
        )
        .await?;
    community(&row)
}

/// The election days (dates) of elections that ask for hourly digests.
pub async fn hourly_digest_days(c: &impl GenericClient) -> Result<Vec<NaiveDate>, DbError> {
    let rows =
        c.query("SELECT election_day FROM elections WHERE hourly_digest AND election_day IS NOT NULL", &[]).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}
