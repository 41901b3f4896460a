//! TAXII peers (docs/taxii.md, "Peers"): their configuration, the keyset position the
//! worker keeps for each, their health, and the TLP floor of the pictures made from what
//! they sent. The credentials are stored sealed; this module never sees them in clear.

use chrono::{DateTime, Utc};
use sitrep_domain::RoleSet;
use sitrep_types::Reach;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{DbError, GenericClient};

/// A peer as stored.
#[derive(Debug, Clone)]
pub struct PeerRow {
    pub id: Uuid,
    pub name: String,
    pub api_root: String,
    pub collection_id: String,
    pub organisation_id: Uuid,
    pub service_account_id: Uuid,
    pub sealed_credentials: Option<Vec<u8>>,
    pub ca_pem: Option<String>,
    pub poll_interval_secs: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub added_after: Option<String>,
    pub next_page: Option<String>,
    pub next_poll_at: DateTime<Utc>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub objects_imported: i64,
    pub objects_refused: i64,
    pub pages_imported: i64,
    /// The lease of the worker that claimed the peer (set by [`claim`]).
    pub lease_token: Option<Uuid>,
}

const COLUMNS: &str = "id, name, api_root, collection_id, organisation_id, service_account_id, sealed_credentials, \
     ca_pem, poll_interval_secs, active, created_at, updated_at, added_after, next_page, next_poll_at, last_poll_at, \
     last_success_at, last_error, last_error_at, objects_imported, objects_refused, pages_imported, lease_token";

fn peer(r: &Row) -> Result<PeerRow, DbError> {
    Ok(PeerRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        api_root: r.try_get("api_root")?,
        collection_id: r.try_get("collection_id")?,
        organisation_id: r.try_get("organisation_id")?,
        service_account_id: r.try_get("service_account_id")?,
        sealed_credentials: r.try_get("sealed_credentials")?,
        ca_pem: r.try_get("ca_pem")?,
        poll_interval_secs: r.try_get("poll_interval_secs")?,
        active: r.try_get("active")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        added_after: r.try_get("added_after")?,
        next_page: r.try_get("next_page")?,
        next_poll_at: r.try_get("next_poll_at")?,
        last_poll_at: r.try_get("last_poll_at")?,
        last_success_at: r.try_get("last_success_at")?,
        last_error: r.try_get("last_error")?,
        last_error_at: r.try_get("last_error_at")?,
        objects_imported: r.try_get("objects_imported")?,
        objects_refused: r.try_get("objects_refused")?,
        pages_imported: r.try_get("pages_imported")?,
        lease_token: r.try_get("lease_token")?,
    })
}

/// What the secretariat sets.
#[derive(Debug, Clone)]
pub struct PeerConfig<'a> {
    pub name: &'a str,
    pub api_root: &'a str,
    pub collection_id: &'a str,
    pub organisation_id: Uuid,
    pub service_account_id: Uuid,
    pub ca_pem: Option<&'a str>,
    pub poll_interval_secs: i32,
    pub active: bool,
}

/// `Ok(None)`: the name is taken.
pub async fn insert(
    c: &impl GenericClient,
    id: Uuid,
    p: &PeerConfig<'_>,
    sealed_credentials: Option<&[u8]>,
    by: Uuid,
) -> Result<Option<PeerRow>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "INSERT INTO taxii_peers (id, name, api_root, collection_id, organisation_id, service_account_id, \
                   sealed_credentials, ca_pem, poll_interval_secs, active, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &p.name,
                &p.api_root,
                &p.collection_id,
                &p.organisation_id,
                &p.service_account_id,
                &sealed_credentials,
                &p.ca_pem,
                &p.poll_interval_secs,
                &p.active,
                &by,
            ],
        )
        .await?;
    row.as_ref().map(peer).transpose()
}

pub async fn list(c: &impl GenericClient) -> Result<Vec<PeerRow>, DbError> {
    let rows = c.query(&format!("SELECT {COLUMNS} FROM taxii_peers ORDER BY name"), &[]).await?;
    rows.iter().map(peer).collect()
}

pub async fn get(c: &impl GenericClient, id: Uuid) -> Result<Option<PeerRow>, DbError> {
    let row = c.query_opt(&format!("SELECT {COLUMNS} FROM taxii_peers WHERE id = $1"), &[&id]).await?;
    row.as_ref().map(peer).transpose()
}

pub async fn lock(c: &impl GenericClient, id: Uuid) -> Result<Option<PeerRow>, DbError> {
    let row = c.query_opt(&format!("SELECT {COLUMNS} FROM taxii_peers WHERE id = $1 FOR UPDATE"), &[&id]).await?;
    row.as_ref().map(peer).transpose()
}

/// The peer reads the same collection into the same organisation (in an `UPDATE` of a
/// peer, `$3`..`$5` being the new API root, collection and organisation).
const SAME_SOURCE: &str = "(api_root = $3 AND collection_id = $4 AND organisation_id = $5)";

/// Replaces the configuration (and the sealed credentials when `Some`; without them,
/// `drop_credentials` forgets the stored ones). A changed API
/// root, collection or organisation starts the position again: another server's
/// position means nothing here, and another organisation has not received what was
/// read. Such a change, another service account, new credentials, credentials dropped (a
/// new server or CA certificate), or the peer made inactive also ends the hold of a poll
/// under way (it holds the old credentials and trust in memory): it writes nothing more (not its page in flight, not its
/// position, not its end), and the next poll follows the new configuration. `Ok(None)`:
/// the name is taken.
pub async fn update(
    c: &impl GenericClient,
    id: Uuid,
    p: &PeerConfig<'_>,
    sealed_credentials: Option<&[u8]>,
    drop_credentials: bool,
) -> Result<Option<PeerRow>, DbError> {
    let taken = c.query_opt("SELECT 1 FROM taxii_peers WHERE name = $1 AND id <> $2", &[&p.name, &id]).await?.is_some();
    if taken {
        return Ok(None);
    }
    let row = c
        .query_one(
            &format!(
                "UPDATE taxii_peers SET name = $2, \
                   added_after = CASE WHEN {SAME_SOURCE} THEN added_after END, \
                   next_page = CASE WHEN {SAME_SOURCE} THEN next_page END, \
                   walk_pages = CASE WHEN {SAME_SOURCE} THEN walk_pages ELSE 0 END, \
                   lease_until = CASE WHEN {SAME_SOURCE} AND service_account_id = $6 AND $10 AND NOT $11 \
                     AND $7::bytea IS NULL THEN lease_until END, \
                   lease_token = CASE WHEN {SAME_SOURCE} AND service_account_id = $6 AND $10 AND NOT $11 \
                     AND $7::bytea IS NULL THEN lease_token END, \
                   api_root = $3, collection_id = $4, organisation_id = $5, service_account_id = $6, \
                   sealed_credentials = coalesce($7, CASE WHEN $11 THEN NULL ELSE sealed_credentials END), ca_pem = $8, poll_interval_secs = $9::int4, \
                   active = $10, updated_at = now(), \
                   next_poll_at = LEAST(next_poll_at, now() + make_interval(secs => $9::int4)) \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &p.name,
                &p.api_root,
                &p.collection_id,
                &p.organisation_id,
                &p.service_account_id,
                &sealed_credentials,
                &p.ca_pem,
                &p.poll_interval_secs,
                &p.active,
                &drop_credentials,
            ],
        )
        .await?;
    peer(&row).map(Some)
}

/// Polls the peer at once (its position is kept).
pub async fn poll_now(c: &impl GenericClient, id: Uuid) -> Result<Option<PeerRow>, DbError> {
    let row = c
        .query_opt(&format!("UPDATE taxii_peers SET next_poll_at = now() WHERE id = $1 RETURNING {COLUMNS}"), &[&id])
        .await?;
    row.as_ref().map(peer).transpose()
}

/// Claims up to `limit` active peers that are due and not held by a worker, holding
/// each until `lease_secs` from now (`SKIP LOCKED`: several processes share the peers,
/// and a peer held by a worker that died is free again when its lease ends).
pub async fn claim(c: &impl GenericClient, lease_secs: f64, limit: i64) -> Result<Vec<PeerRow>, DbError> {
    let rows = c
        .query(
            &format!(
                "UPDATE taxii_peers SET lease_until = now() + make_interval(secs => $1), lease_token = gen_random_uuid(), \
                   last_poll_at = now() \
                 WHERE id IN (SELECT id FROM taxii_peers WHERE active AND next_poll_at <= now() \
                   AND (lease_until IS NULL OR lease_until < now()) ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 RETURNING {COLUMNS}"
            ),
            &[&lease_secs, &limit],
        )
        .await?;
    rows.iter().map(peer).collect()
}

/// The position after a page, with its import's counts, in the import's transaction.
/// Only while the worker still holds the peer (`None` otherwise: the page's import must
/// roll back, since another worker may have moved on). Returns how many pages the walk
/// under way has read (0 when this page ended it).
#[allow(clippy::too_many_arguments)]
pub async fn advance(
    c: &impl GenericClient,
    id: Uuid,
    lease: Option<Uuid>,
    added_after: Option<&str>,
    next_page: Option<&str>,
    imported: i64,
    refused: i64,
    error: Option<&str>,
) -> Result<Option<i32>, DbError> {
    let row = c
        .query_opt(
            "UPDATE taxii_peers SET added_after = $2, next_page = $3, objects_imported = objects_imported + $4, \
               objects_refused = objects_refused + $5, pages_imported = pages_imported + 1, \
               walk_pages = CASE WHEN $3::text IS NULL THEN 0 ELSE walk_pages + 1 END, \
               last_error = coalesce($6, last_error), last_error_at = CASE WHEN $6::text IS NULL THEN last_error_at ELSE now() END \
             WHERE id = $1 AND lease_until > now() AND lease_token = $7 RETURNING walk_pages",
            &[&id, &added_after, &next_page, &imported, &refused, &error, &lease],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Abandons the walk under way (its `next`): the next poll reads again from
/// `added_after`.
pub async fn forget_next(c: &impl GenericClient, id: Uuid, lease: Option<Uuid>) -> Result<(), DbError> {
    c.execute(
        "UPDATE taxii_peers SET next_page = NULL, walk_pages = 0 WHERE id = $1 AND lease_token = $2",
        &[&id, &lease],
    )
    .await?;
    Ok(())
}

/// Ends a poll: releases the peer, sets when it is polled next, and its health (unless
/// another worker holds the peer by now).
pub async fn finish(
    c: &impl GenericClient,
    id: Uuid,
    lease: Option<Uuid>,
    next_poll_at: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), DbError> {
    c.execute(
        "UPDATE taxii_peers SET lease_until = NULL, lease_token = NULL, next_poll_at = $2, \
           last_success_at = CASE WHEN $3::text IS NULL THEN now() ELSE last_success_at END, \
           last_error = coalesce($3, last_error), last_error_at = CASE WHEN $3::text IS NULL THEN last_error_at ELSE now() END \
         WHERE id = $1 AND lease_token = $4",
        &[&id, &next_poll_at, &error, &lease],
    )
    .await?;
    Ok(())
}

/// Records that `picture` was made from what `peer` sent, with the TLP it may never be
/// looser than and the floors of its indicators (`[{type, value, tlp}]`); imported again,
/// the strictest of the floors is kept.
pub async fn set_floor(
    c: &impl GenericClient,
    picture: Uuid,
    peer: Uuid,
    tlp: Option<&str>,
    indicators: &serde_json::Value,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO taxii_peer_pictures (picture_id, peer_id, tlp_floor, indicator_floors) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (picture_id) DO UPDATE SET indicator_floors = taxii_peer_pictures.indicator_floors || excluded.indicator_floors, \
           tlp_floor = CASE \
           WHEN taxii_peer_pictures.tlp_floor IS NULL THEN excluded.tlp_floor \
           WHEN excluded.tlp_floor IS NULL THEN taxii_peer_pictures.tlp_floor \
           WHEN array_position(ARRAY['CLEAR','GREEN','AMBER','AMBER+STRICT','RED'], excluded.tlp_floor) \
              > array_position(ARRAY['CLEAR','GREEN','AMBER','AMBER+STRICT','RED'], taxii_peer_pictures.tlp_floor) \
             THEN excluded.tlp_floor ELSE taxii_peer_pictures.tlp_floor END",
        &[&picture, &peer, &tlp, indicators],
    )
    .await?;
    Ok(())
}

/// The floors of a picture made from a peer's material: its TLP and its indicators'
/// (`[{type, value, tlp}]`); `None` for any other picture.
pub async fn floor(
    c: &impl GenericClient,
    picture: Uuid,
) -> Result<Option<(Option<String>, serde_json::Value)>, DbError> {
    let row = c
        .query_opt("SELECT tlp_floor, indicator_floors FROM taxii_peer_pictures WHERE picture_id = $1", &[&picture])
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// The service account a peer imports as, as the database says now.
#[derive(Debug, Clone)]
pub struct Importer {
    pub username: String,
    pub membership_id: Uuid,
    pub reach: Reach,
    pub roles: RoleSet,
}

/// The service account `account` if it is an active account of the active organisation
/// `organisation` with a membership in force; `None` otherwise.
pub async fn importer(c: &impl GenericClient, account: Uuid, organisation: Uuid) -> Result<Option<Importer>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "SELECT u.username, m.id, o.reach, m.roles FROM users u \
                 JOIN organisations o ON o.id = u.owner_organisation_id AND o.active \
                 JOIN LATERAL (SELECT m.id, m.roles FROM memberships m \
                      WHERE m.user_id = u.id AND m.organisation_id = o.id AND {} \
                      ORDER BY m.valid_from DESC LIMIT 1) m ON true \
                 WHERE u.id = $1 AND u.kind = 'service' AND u.active AND o.id = $2",
                crate::accounts::MEMBERSHIP_ACTIVE
            ),
            &[&account, &organisation],
        )
        .await?;
    row.map(|r| {
        Ok(Importer {
            username: r.try_get(0)?,
            membership_id: r.try_get(1)?,
            reach: Reach::parse(r.try_get(2)?).ok_or(DbError::Corrupt("organisations.reach"))?,
            roles: crate::accounts::roles(r.try_get(3)?)?,
        })
    })
    .transpose()
}
