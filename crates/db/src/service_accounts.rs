//! Service accounts (rows of `users` of kind `service`) and their API keys, and the
//! per-request lookup of the principal behind a key.

use chrono::{DateTime, Utc};
use sitrep_domain::{AdminScope, RoleSet};
use sitrep_types::Reach;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::accounts::{MEMBERSHIP_ACTIVE, roles};
use crate::scope::{Account, InScope};
use crate::{DbError, GenericClient};

/// A service account without its memberships.
#[derive(Debug, Clone)]
pub struct ServiceAccountRow {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ACCOUNT_COLUMNS: &str =
    "id, owner_organisation_id, display_name, description, active, created_at, updated_at, username";

fn account(row: &Row) -> Result<ServiceAccountRow, DbError> {
    Ok(ServiceAccountRow {
        id: row.try_get("id")?,
        organisation_id: row.try_get("owner_organisation_id")?,
        name: row.try_get("display_name")?,
        description: row.try_get("description")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The username of a service account: `service:<organisation id>:<name>`. A person's
/// username cannot hold `:`, so the two never collide, and a name is unique per
/// organisation.
pub fn username(organisation_id: Uuid, name: &str) -> String {
    format!("service:{organisation_id}:{name}")
}

pub async fn insert_service_account(
    c: &impl GenericClient,
    id: Uuid,
    organisation_id: Uuid,
    name: &str,
    description: Option<&str>,
) -> Result<InScope<ServiceAccountRow>, DbError> {
    let username = username(organisation_id, name);
    let row = c
        .query_one(
            &format!(
                "INSERT INTO users (id, username, username_fold, display_name, kind, owner_organisation_id, \
                 description) VALUES ($1, $2, $3, $4, 'service', $5, $6) RETURNING {ACCOUNT_COLUMNS}"
            ),
            &[
                &id,
                &username,
                &sitrep_domain::account::Username::fold(&username),
                &name,
                &organisation_id,
                &description,
            ],
        )
        .await?;
    Ok(InScope::new(account(&row)?))
}

pub async fn get_service_account(c: &impl GenericClient, id: Uuid) -> Result<Option<ServiceAccountRow>, DbError> {
    let row =
        c.query_opt(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1 AND kind = 'service'"), &[&id]).await?;
    row.as_ref().map(account).transpose()
}

/// The service account, if `scope` reaches its organisation.
pub async fn find_service_account(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
) -> Result<Option<InScope<ServiceAccountRow>>, DbError> {
    Ok(get_service_account(c, id).await?.filter(|row| scope.includes(row.organisation_id)).map(InScope::new))
}

/// Locks the account's row for the rest of the transaction, if `scope` reaches its
/// organisation.
pub async fn lock_service_account(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
) -> Result<Option<InScope<ServiceAccountRow>>, DbError> {
    let row = c
        .query_opt(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1 AND kind = 'service' FOR UPDATE"),
            &[&id],
        )
        .await?;
    let row = row.as_ref().map(account).transpose()?;
    Ok(row.filter(|row| scope.includes(row.organisation_id)).map(InScope::new))
}

impl Account for ServiceAccountRow {
    fn account_id(&self) -> Uuid {
        self.id
    }
}

/// Service accounts in `scope` by username (organisation, then name), after `after`.
pub async fn list_service_accounts(
    c: &impl GenericClient,
    scope: AdminScope,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, ServiceAccountRow)>, DbError> {
    let organisation = scope.organisation();
    let rows = c
        .query(
            &format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE kind = 'service' \
                   AND ($1::uuid IS NULL OR owner_organisation_id = $1) AND ($2::text IS NULL OR username > $2) \
                 ORDER BY username LIMIT $3"
            ),
            &[&organisation, &after, &limit],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get("username")?, account(r)?))).collect()
}

pub async fn update_service_account(
    c: &impl GenericClient,
    target: &InScope<ServiceAccountRow>,
    description: Option<Option<&str>>,
    active: Option<bool>,
) -> Result<Option<ServiceAccountRow>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE users SET description = CASE WHEN $2 THEN $3 ELSE description END, \
                   active = coalesce($4, active), updated_at = now() \
                 WHERE id = $1 AND kind = 'service' RETURNING {ACCOUNT_COLUMNS}"
            ),
            &[&target.id, &description.is_some(), &description.flatten(), &active],
        )
        .await?;
    row.as_ref().map(account).transpose()
}

/// An API key as stored (never the key itself).
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub service_account_id: Uuid,
    pub prefix: String,
    pub name: String,
    pub allowed_ranges: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_addr: Option<String>,
}

const KEY_COLUMNS: &str = "id, service_account_id, prefix, name, allowed_ranges::text[] AS allowed_ranges, \
     created_at, expires_at, revoked_at, last_used_at, host(last_used_addr) AS last_used_addr";

fn api_key(row: &Row) -> Result<ApiKeyRow, DbError> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        service_account_id: row.try_get("service_account_id")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        allowed_ranges: row.try_get("allowed_ranges")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
        last_used_addr: row.try_get("last_used_addr")?,
    })
}

/// What a new key row holds; `allowed_ranges` are CIDR texts already checked.
pub struct NewKeyRow<'a> {
    pub id: Uuid,
    pub prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub name: &'a str,
    pub allowed_ranges: &'a [String],
    pub expires_at: DateTime<Utc>,
    pub created_by: Uuid,
}

pub async fn insert_api_key(
    c: &impl GenericClient,
    account: &InScope<ServiceAccountRow>,
    k: &NewKeyRow<'_>,
) -> Result<ApiKeyRow, DbError> {
    let row = c
        .query_one(
            &format!(
                "INSERT INTO api_keys (id, service_account_id, prefix, secret_hash, name, allowed_ranges, expires_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6::text[]::cidr[], $7, $8) RETURNING {KEY_COLUMNS}"
            ),
            &[
                &k.id,
                &account.id,
                &k.prefix,
                &k.secret_hash,
                &k.name,
                &k.allowed_ranges,
                &k.expires_at,
                &k.created_by,
            ],
        )
        .await?;
    api_key(&row)
}

/// The keys of a service account, newest first.
pub async fn list_api_keys(
    c: &impl GenericClient,
    account: &InScope<ServiceAccountRow>,
) -> Result<Vec<ApiKeyRow>, DbError> {
    let rows = c
        .query(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE service_account_id = $1 ORDER BY created_at DESC, id LIMIT 1000"
            ),
            &[&account.id],
        )
        .await?;
    rows.iter().map(api_key).collect()
}

pub async fn get_api_key(
    c: &impl GenericClient,
    account: &InScope<ServiceAccountRow>,
    id: Uuid,
) -> Result<Option<ApiKeyRow>, DbError> {
    let row = c
        .query_opt(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 AND service_account_id = $2"),
            &[&id, &account.id],
        )
        .await?;
    row.as_ref().map(api_key).transpose()
}

/// Revokes a key now; a key already revoked keeps its first revocation.
pub async fn revoke_api_key(
    c: &impl GenericClient,
    account: &InScope<ServiceAccountRow>,
    id: Uuid,
    by: Uuid,
) -> Result<Option<ApiKeyRow>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $3) \
                 WHERE id = $1 AND service_account_id = $2 RETURNING {KEY_COLUMNS}"
            ),
            &[&id, &account.id, &by],
        )
        .await?;
    row.as_ref().map(api_key).transpose()
}

/// Revokes every key of the account not revoked yet; returns how many.
pub async fn revoke_all_api_keys(
    c: &impl GenericClient,
    account: &InScope<ServiceAccountRow>,
    by: Uuid,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "UPDATE api_keys SET revoked_at = now(), revoked_by = $2 WHERE service_account_id = $1 AND revoked_at IS NULL",
        &[&account.id, &by],
    )
    .await?)
}

/// Who an API key speaks for, as the database says now.
#[derive(Debug, Clone)]
pub struct KeyPrincipal {
    pub key_id: Uuid,
    pub account_id: Uuid,
    pub username: String,
    pub organisation_id: Uuid,
    pub reach: Reach,
    pub membership_id: Uuid,
    pub roles: RoleSet,
}

/// Why a key is refused. All are one `401` to the client; the access log keeps which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Unknown,
    Expired,
    Revoked,
    AddressNotAllowed,
    AccountInactive,
    OrganisationInactive,
    NoMembership,
}

impl KeyRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRefusal::Unknown => "api_key_unknown",
            KeyRefusal::Expired => "api_key_expired",
            KeyRefusal::Revoked => "api_key_revoked",
            KeyRefusal::AddressNotAllowed => "api_key_address_not_allowed",
            KeyRefusal::AccountInactive => "user_inactive",
            KeyRefusal::OrganisationInactive => "organisation_inactive",
            KeyRefusal::NoMembership => "membership_ended",
        }
    }
}

/// One indexed query per request: the key (by prefix and hash) is live and not revoked,
/// the client address is in the key's and the organisation's ranges, the account and
/// organisation are active, and a membership in force gives the roles. Records the use
/// (time and address) at most once a minute per key and address.
pub async fn key_principal(
    c: &impl GenericClient,
    prefix: &str,
    secret_hash: &[u8],
    client_addr: Option<&str>,
) -> Result<Result<KeyPrincipal, KeyRefusal>, DbError> {
    lookup(c, "k.prefix = $1 AND k.secret_hash = $2", &prefix, &secret_hash, client_addr).await
}

/// The same checks for a key already presented (a live stream re-checks its caller).
pub async fn key_principal_by_id(
    c: &impl GenericClient,
    key_id: Uuid,
    client_addr: Option<&str>,
) -> Result<Result<KeyPrincipal, KeyRefusal>, DbError> {
    lookup(c, "k.id = $1 AND $2::bytea IS NULL", &key_id, &None::<Vec<u8>>, client_addr).await
}

async fn lookup(
    c: &impl GenericClient,
    filter: &str,
    first: &(dyn tokio_postgres::types::ToSql + Sync),
    second: &(dyn tokio_postgres::types::ToSql + Sync),
    client_addr: Option<&str>,
) -> Result<Result<KeyPrincipal, KeyRefusal>, DbError> {
    let statement = c
        .prepare_cached(&format!(
                "SELECT k.id AS key_id, u.id AS account_id, u.username, u.active AS account_active, \
                        o.id AS org_id, o.active AS org_active, o.reach, \
                        k.expires_at > now() AS live, k.revoked_at IS NULL AS unrevoked, \
                        coalesce((cardinality(k.allowed_ranges) = 0 OR $3::text::inet <<= ANY(k.allowed_ranges)) \
                             AND (cardinality(o.service_account_ranges) = 0 OR $3::text::inet <<= ANY(o.service_account_ranges)), \
                             false) AS address_ok, \
                        (k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds' \
                             OR k.last_used_addr IS DISTINCT FROM $3::text::inet) AS stale, \
                        m.id AS mid, m.roles \
                 FROM api_keys k \
                 JOIN users u ON u.id = k.service_account_id AND u.kind = 'service' \
                 JOIN organisations o ON o.id = u.owner_organisation_id \
                 LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m \
                      WHERE m.user_id = u.id AND m.organisation_id = o.id AND {MEMBERSHIP_ACTIVE} \
                      ORDER BY m.valid_from DESC LIMIT 1) m ON true \
                 WHERE {filter}"
        ))
        .await?;
    let row = c.query_opt(&statement, &[first, second, &client_addr]).await?;
    let Some(row) = row else { return Ok(Err(KeyRefusal::Unknown)) };
    let checks = [
        ("unrevoked", KeyRefusal::Revoked),
        ("live", KeyRefusal::Expired),
        ("address_ok", KeyRefusal::AddressNotAllowed),
        ("account_active", KeyRefusal::AccountInactive),
        ("org_active", KeyRefusal::OrganisationInactive),
    ];
    for (column, refusal) in checks {
        if !row.try_get::<_, bool>(column)? {
            return Ok(Err(refusal));
        }
    }
    let Some(membership_id) = row.try_get::<_, Option<Uuid>>("mid")? else {
        return Ok(Err(KeyRefusal::NoMembership));
    };
    let key_id: Uuid = row.try_get("key_id")?;
    if row.try_get::<_, bool>("stale")? {
        c.execute(
            "UPDATE api_keys SET last_used_at = now(), last_used_addr = $2::text::inet WHERE id = $1",
            &[&key_id, &client_addr],
        )
        .await?;
    }
    Ok(Ok(KeyPrincipal {
        key_id,
        account_id: row.try_get("account_id")?,
        username: row.try_get("username")?,
        organisation_id: row.try_get("org_id")?,
        reach: Reach::parse(row.try_get("reach")?).ok_or(DbError::Corrupt("organisations.reach"))?,
        membership_id,
        roles: roles(row.try_get("roles")?)?,
    }))
}

/// The service accounts `user` can act as: those whose API keys it created (revoked or
/// not), and, through them, those whose keys those accounts created, and so on. Whoever
/// made a key could act as that account, so for four eyes and for administration its
/// doings count as theirs.
pub async fn key_holder_of(c: &impl GenericClient, user: Uuid) -> Result<Vec<Uuid>, DbError> {
    let rows = c
        .query(
            "WITH RECURSIVE held(id) AS ( \
               SELECT service_account_id FROM api_keys WHERE created_by = $1 \
               UNION \
               SELECT k.service_account_id FROM api_keys k JOIN held h ON k.created_by = h.id \
             ) SELECT id FROM held",
            &[&user],
        )
        .await?;
    rows.iter().map(|r| r.try_get(0).map_err(DbError::from)).collect()
}
