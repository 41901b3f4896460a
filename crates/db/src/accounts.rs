//! Organisations, users and memberships.

use chrono::{DateTime, Utc};
use sitrep_domain::account::{NewOrganisation, OrganisationChange, Username};
use sitrep_domain::{AccountRoles, AdminScope, RoleSet};
use sitrep_types::{LocalizedText, Membership, Organisation, OrganisationPolicy, PolicySetBy, Reach, Role};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::scope::{Account, InScope};
use crate::{DbError, GenericClient};

const ORG_COLUMNS: &str = "id, code, name_fi, name_sv, name_en, reach, active, require_review, created_at, updated_at";

fn organisation(row: &Row) -> Result<Organisation, DbError> {
    Ok(Organisation {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name: LocalizedText { fi: row.try_get("name_fi")?, sv: row.try_get("name_sv")?, en: row.try_get("name_en")? },
        reach: Reach::parse(row.try_get("reach")?).ok_or(DbError::Corrupt("organisations.reach"))?,
        active: row.try_get("active")?,
        require_review: row.try_get("require_review")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn insert_organisation(
    c: &impl GenericClient,
    id: Uuid,
    org: &NewOrganisation,
) -> Result<Organisation, DbError> {
    let name = org.name.as_text();
    let row = c
        .query_one(
            &format!(
                "INSERT INTO organisations (id, code, name_fi, name_sv, name_en, reach) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ORG_COLUMNS}"
            ),
            &[&id, &org.code.as_str(), &name.fi, &name.sv, &name.en, &org.reach.as_str()],
        )
        .await?;
    organisation(&row)
}

pub async fn get_organisation(c: &impl GenericClient, id: Uuid) -> Result<Option<Organisation>, DbError> {
    let row = c.query_opt(&format!("SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"), &[&id]).await?;
    row.as_ref().map(organisation).transpose()
}

pub async fn find_organisation_by_code(c: &impl GenericClient, code: &str) -> Result<Option<Organisation>, DbError> {
    let row = c.query_opt(&format!("SELECT {ORG_COLUMNS} FROM organisations WHERE code = $1"), &[&code]).await?;
    row.as_ref().map(organisation).transpose()
}

/// Organisations in code order, after `after` (a code), at most `limit`.
pub async fn list_organisations(
    c: &impl GenericClient,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Organisation>, DbError> {
    let rows = c
        .query(
            &format!(
                "SELECT {ORG_COLUMNS} FROM organisations WHERE ($1::text IS NULL OR code > $1) ORDER BY code LIMIT $2"
            ),
            &[&after, &limit],
        )
        .await?;
    rows.iter().map(organisation).collect()
}

/// Renames, (de)activates; `review` (when given) is the new state of `require_review`:
/// on, with who switched it on, or off.
pub async fn update_organisation(
    c: &impl GenericClient,
    id: Uuid,
    change: &OrganisationChange,
    review: Option<Option<PolicySetBy>>,
) -> Result<Option<Organisation>, DbError> {
    let name = change.name.as_ref().map(|n| n.as_text());
    let row = c
        .query_opt(
            &format!(
                "UPDATE organisations SET \
                   name_fi = CASE WHEN $2 THEN $3 ELSE name_fi END, \
                   name_sv = CASE WHEN $2 THEN $4 ELSE name_sv END, \
                   name_en = CASE WHEN $2 THEN $5 ELSE name_en END, \
                   active = coalesce($6, active), \
                   require_review = CASE WHEN $7 THEN $8::text IS NOT NULL ELSE require_review END, \
                   require_review_set_by = CASE WHEN $7 THEN $8::text ELSE require_review_set_by END, \
                   updated_at = now() \
                 WHERE id = $1 RETURNING {ORG_COLUMNS}"
            ),
            &[
                &id,
                &name.is_some(),
                &name.and_then(|n| n.fi.clone()),
                &name.and_then(|n| n.sv.clone()),
                &name.and_then(|n| n.en.clone()),
                &change.active,
                &review.is_some(),
                &review.flatten().map(PolicySetBy::as_str),
            ],
        )
        .await?;
    row.as_ref().map(organisation).transpose()
}

const POLICY_COLUMNS: &str = "require_review, require_review_set_by, require_totp, require_totp_set_by, \
     service_account_ranges::text[] AS service_account_ranges";

fn set_by(row: &Row, column: &'static str) -> Result<Option<PolicySetBy>, DbError> {
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|r| PolicySetBy::parse(&r).ok_or(DbError::Corrupt(column))).transpose()
}

fn policy(row: &Row) -> Result<OrganisationPolicy, DbError> {
    Ok(OrganisationPolicy {
        require_review: row.try_get("require_review")?,
        require_review_set_by: set_by(row, "require_review_set_by")?,
        require_totp: row.try_get("require_totp")?,
        require_totp_set_by: set_by(row, "require_totp_set_by")?,
        service_account_ranges: row.try_get("service_account_ranges")?,
    })
}

pub async fn get_organisation_policy(c: &impl GenericClient, id: Uuid) -> Result<Option<OrganisationPolicy>, DbError> {
    let row = c.query_opt(&format!("SELECT {POLICY_COLUMNS} FROM organisations WHERE id = $1"), &[&id]).await?;
    row.as_ref().map(policy).transpose()
}

/// The policy, with the organisation's row locked until the transaction ends (two
/// administrators changing it at once are serialised).
pub async fn lock_organisation_policy(c: &impl GenericClient, id: Uuid) -> Result<Option<OrganisationPolicy>, DbError> {
    let row =
        c.query_opt(&format!("SELECT {POLICY_COLUMNS} FROM organisations WHERE id = $1 FOR UPDATE"), &[&id]).await?;
    row.as_ref().map(policy).transpose()
}

/// Sets an organisation's policies. `review` and `totp`, when given, are the new state
/// of each switch: on, with who switched it on, or off. `ranges` are CIDR texts already
/// checked.
pub async fn update_organisation_policy(
    c: &impl GenericClient,
    id: Uuid,
    review: Option<Option<PolicySetBy>>,
    totp: Option<Option<PolicySetBy>>,
    ranges: Option<&[String]>,
) -> Result<Option<OrganisationPolicy>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE organisations SET \
                   require_review = CASE WHEN $2 THEN $3::text IS NOT NULL ELSE require_review END, \
                   require_review_set_by = CASE WHEN $2 THEN $3::text ELSE require_review_set_by END, \
                   require_totp = CASE WHEN $4 THEN $5::text IS NOT NULL ELSE require_totp END, \
                   require_totp_set_by = CASE WHEN $4 THEN $5::text ELSE require_totp_set_by END, \
                   service_account_ranges = coalesce($6::text[]::cidr[], service_account_ranges), updated_at = now() \
                 WHERE id = $1 RETURNING {POLICY_COLUMNS}"
            ),
            &[
                &id,
                &review.is_some(),
                &review.flatten().map(PolicySetBy::as_str),
                &totp.is_some(),
                &totp.flatten().map(PolicySetBy::as_str),
                &ranges,
            ],
        )
        .await?;
    row.as_ref().map(policy).transpose()
}

pub async fn count_organisations(c: &impl GenericClient) -> Result<i64, DbError> {
    Ok(c.query_one("SELECT count(*) FROM organisations", &[]).await?.try_get(0)?)
}

/// A user row without memberships.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    /// A service account (managed under /service-accounts, never under /users).
    pub is_service: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The interface language the person chose, if any.
    pub language: Option<String>,
}

const USER_COLUMNS: &str =
    "id, username, display_name, active, kind = 'service' AS is_service, created_at, updated_at, language";

fn user(row: &Row) -> Result<UserRow, DbError> {
    Ok(UserRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        active: row.try_get("active")?,
        is_service: row.try_get("is_service")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        language: row.try_get("language")?,
    })
}

/// A person's account with a password someone else chose: a one-time password, to be
/// changed at the first sign-in ([`set_own_password`] clears that).
pub async fn insert_user(
    c: &impl GenericClient,
    id: Uuid,
    username: &str,
    display_name: &str,
    password_hash: &str,
) -> Result<InScope<UserRow>, DbError> {
    let row = c
        .query_one(
            &format!(
                "INSERT INTO users (id, username, username_fold, display_name, password_hash, password_change_required) \
                 VALUES ($1, $2, $3, $4, $5, true) RETURNING {USER_COLUMNS}"
            ),
            &[&id, &username, &Username::fold(username), &display_name, &password_hash],
        )
        .await?;
    Ok(InScope::new(user(&row)?))
}

pub async fn get_user(c: &impl GenericClient, id: Uuid) -> Result<Option<UserRow>, DbError> {
    let row = c.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id]).await?;
    row.as_ref().map(user).transpose()
}

/// Locks a person's row for the rest of the transaction (serialises membership changes),
/// if `scope` reaches the person (as [`find_user`] says).
pub async fn lock_user(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
) -> Result<Option<InScope<UserRow>>, DbError> {
    let row = c.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"), &[&id]).await?;
    let Some(row) = row.as_ref().map(user).transpose()? else { return Ok(None) };
    Ok(reaches(c, scope, &row).await?.then(|| InScope::new(row)))
}

/// Whether `scope` reaches a person: every person for the secretariat's, otherwise one
/// with a membership (past or present) in the organisation. Never a service account.
async fn reaches(c: &impl GenericClient, scope: AdminScope, row: &UserRow) -> Result<bool, DbError> {
    if row.is_service {
        return Ok(false);
    }
    let Some(organisation) = scope.organisation() else { return Ok(true) };
    Ok(c.query_opt(
        "SELECT 1 FROM memberships WHERE user_id = $1 AND organisation_id = $2 LIMIT 1",
        &[&row.id, &organisation],
    )
    .await?
    .is_some())
}

impl Account for UserRow {
    fn account_id(&self) -> Uuid {
        self.id
    }
}

/// What login needs to know about a username: one query, whatever the outcome.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub id: Uuid,
    pub password_hash: String,
    pub active: bool,
}

/// `fold` is the submitted name's confusable fold, `exact` the name as typed (lower-cased):
/// an account is found by its fold, or by its exact name when it has no fold (one whose
/// fold another, older account already had when folds were first computed; see
/// [`sync_username_folds`]). The exact name wins.
pub async fn find_login_candidate(
    c: &impl GenericClient,
    fold: &str,
    exact: &str,
) -> Result<Option<LoginCandidate>, DbError> {
    let row = c
        .query_opt(
            "SELECT id, password_hash, active FROM users \
             WHERE (username_fold = $1 OR username = $2) AND kind = 'person' \
             ORDER BY username = $2 DESC LIMIT 1",
            &[&fold, &exact],
        )
        .await?;
    row.map(|r| {
        Ok(LoginCandidate {
            id: r.try_get("id")?,
            password_hash: r.try_get("password_hash")?,
            active: r.try_get("active")?,
        })
    })
    .transpose()
}

/// Gives every account the fold [`Username::fold`] computes from its username now (a
/// newer confusables table may fold differently). Run under the migration lock, after the
/// migrations. Where two accounts' names fold alike, the older account keeps the fold and
/// the newer gets none: it signs in by its exact name only, and its username is returned
/// so that the caller can warn about it.
pub async fn sync_username_folds(c: &tokio_postgres::Client) -> Result<Vec<String>, DbError> {
    let rows = c.query("SELECT id, username, username_fold FROM users ORDER BY created_at, id", &[]).await?;
    let mut stale = Vec::new();
    for row in &rows {
        let id: Uuid = row.try_get("id")?;
        let username: String = row.try_get("username")?;
        let stored: Option<String> = row.try_get("username_fold")?;
        let fold = Username::fold(&username);
        if stored.as_deref() != Some(fold.as_str()) {
            stale.push((id, username, fold));
        }
    }
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = stale.iter().map(|(id, _, _)| *id).collect();
    c.execute("UPDATE users SET username_fold = NULL WHERE id = ANY($1)", &[&ids]).await?;
    let mut lookalikes = Vec::new();
    for (id, username, fold) in stale {
        let set = c
            .execute(
                "UPDATE users SET username_fold = $2 WHERE id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE username_fold = $2)",
                &[&id, &fold],
            )
            .await?;
        if set == 0 {
            lookalikes.push(username);
        }
    }
    Ok(lookalikes)
}

/// Replaces the hash of the same password (a re-hash with today's parameters at login):
/// a one-time password stays one.
pub async fn set_password_hash(c: &impl GenericClient, id: Uuid, hash: &str) -> Result<(), DbError> {
    c.execute("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", &[&id, &hash]).await?;
    Ok(())
}

/// Locks the account's row and tells whether it is still active with the password hash
/// `verified` was checked against. A login or a password change verifies the password
/// before its transaction (no connection is held while hashing); it commits only if no
/// reset, change or deactivation came in between.
pub async fn lock_unchanged_credentials(c: &impl GenericClient, id: Uuid, verified: &str) -> Result<bool, DbError> {
    let row = c
        .query_opt("SELECT password_hash = $2 AND active FROM users WHERE id = $1 FOR UPDATE", &[&id, &verified])
        .await?;
    Ok(row.map(|r| r.try_get::<_, bool>(0)).transpose()?.unwrap_or(false))
}

/// Remembers the language the person chose.
pub async fn set_language(c: &impl GenericClient, id: Uuid, language: &str) -> Result<(), DbError> {
    c.execute("UPDATE users SET language = $2, updated_at = now() WHERE id = $1", &[&id, &language]).await?;
    Ok(())
}

/// A password the person chose: no longer a one-time password.
pub async fn set_own_password(c: &impl GenericClient, id: Uuid, hash: &str) -> Result<(), DbError> {
    c.execute(
        "UPDATE users SET password_hash = $2, password_change_required = false, updated_at = now() WHERE id = $1",
        &[&id, &hash],
    )
    .await?;
    Ok(())
}

/// Users in username order, after `after`: in an organisation's scope, only those with a
/// membership (past or present) in it.
pub async fn list_users(
    c: &impl GenericClient,
    scope: AdminScope,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UserRow>, DbError> {
    let organisation = scope.organisation();
    let rows = c
        .query(
            &format!(
                "SELECT {USER_COLUMNS} FROM users u \
                 WHERE kind = 'person' AND ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM memberships m \
                        WHERE m.user_id = u.id AND m.organisation_id = $1)) \
                   AND ($2::text IS NULL OR username > $2) \
                 ORDER BY username LIMIT $3"
            ),
            &[&organisation, &after, &limit],
        )
        .await?;
    rows.iter().map(user).collect()
}

/// Changes an account as an administrator: a new password is a one-time password, to be
/// changed at the next sign-in.
pub async fn update_user(
    c: &impl GenericClient,
    target: &InScope<UserRow>,
    display_name: Option<&str>,
    active: Option<bool>,
    password_hash: Option<&str>,
) -> Result<Option<UserRow>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE users SET display_name = coalesce($2, display_name), active = coalesce($3, active), \
                   password_hash = coalesce($4, password_hash), \
                   password_change_required = password_change_required OR $4 IS NOT NULL, updated_at = now() \
                 WHERE id = $1 RETURNING {USER_COLUMNS}"
            ),
            &[&target.id, &display_name, &active, &password_hash],
        )
        .await?;
    row.as_ref().map(user).transpose()
}

const MEMBERSHIP_COLUMNS: &str = "id, user_id, organisation_id, roles, valid_from, valid_until, created_at, \
     (valid_from <= now() AND (valid_until IS NULL OR valid_until > now())) AS active";

/// The SQL condition for "in force now", on a table aliased `m`.
pub const MEMBERSHIP_ACTIVE: &str = "(m.valid_from <= now() AND (m.valid_until IS NULL OR m.valid_until > now()))";

pub(crate) fn roles(raw: Vec<String>) -> Result<RoleSet, DbError> {
    raw.iter().map(|r| Role::parse(r).ok_or(DbError::Corrupt("memberships.roles"))).collect()
}

pub(crate) fn role_names(roles: RoleSet) -> Vec<&'static str> {
    roles.to_vec().into_iter().map(Role::as_str).collect()
}

fn membership(row: &Row) -> Result<Membership, DbError> {
    Ok(Membership {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        organisation_id: row.try_get("organisation_id")?,
        roles: roles(row.try_get("roles")?)?.to_vec(),
        valid_from: row.try_get("valid_from")?,
        valid_until: row.try_get("valid_until")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn insert_membership(
    c: &impl GenericClient,
    id: Uuid,
    account: &InScope<impl Account>,
    organisation_id: Uuid,
    roles: RoleSet,
    valid_until: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
) -> Result<Membership, DbError> {
    let row = c
        .query_one(
            &format!(
                "INSERT INTO memberships (id, user_id, organisation_id, roles, valid_until, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {MEMBERSHIP_COLUMNS}"
            ),
            &[&id, &account.account_id(), &organisation_id, &role_names(roles), &valid_until, &created_by],
        )
        .await?;
    membership(&row)
}

/// One of the account's memberships.
pub async fn get_membership(
    c: &impl GenericClient,
    account: &InScope<impl Account>,
    id: Uuid,
) -> Result<Option<Membership>, DbError> {
    let row = c
        .query_opt(
            &format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE id = $1 AND user_id = $2"),
            &[&id, &account.account_id()],
        )
        .await?;
    row.as_ref().map(membership).transpose()
}

/// A person account and its memberships in `scope` (newest first), if the scope reaches
/// it: in an organisation's scope, only a person with a membership (past or present)
/// there. Service accounts are not found here.
pub async fn find_user(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
) -> Result<Option<(InScope<UserRow>, Vec<Membership>)>, DbError> {
    let Some(row) = get_user(c, id).await?.filter(|u| !u.is_service) else { return Ok(None) };
    let memberships = memberships_of(c, id, scope).await?;
    if scope != AdminScope::All && memberships.is_empty() {
        return Ok(None);
    }
    Ok(Some((InScope::new(row), memberships)))
}

/// A user's memberships in `scope`, newest first.
pub async fn memberships_of(
    c: &impl GenericClient,
    user_id: Uuid,
    scope: AdminScope,
) -> Result<Vec<Membership>, DbError> {
    let organisation = scope.organisation();
    let rows = c
        .query(
            &format!(
                "SELECT {MEMBERSHIP_COLUMNS} FROM memberships \
                 WHERE user_id = $1 AND ($2::uuid IS NULL OR organisation_id = $2) \
                 ORDER BY created_at DESC, id"
            ),
            &[&user_id, &organisation],
        )
        .await?;
    rows.iter().map(membership).collect()
}

/// Memberships of `user_ids` (for a page of users) in `scope`.
pub async fn memberships_of_users(
    c: &impl GenericClient,
    user_ids: &[Uuid],
    scope: AdminScope,
) -> Result<Vec<Membership>, DbError> {
    let organisation = scope.organisation();
    let rows = c
        .query(
            &format!(
                "SELECT {MEMBERSHIP_COLUMNS} FROM memberships \
                 WHERE user_id = ANY($1) AND ($2::uuid IS NULL OR organisation_id = $2) \
                 ORDER BY created_at DESC, id"
            ),
            &[&user_ids, &organisation],
        )
        .await?;
    rows.iter().map(membership).collect()
}

/// Ends one of the account's memberships now. `None` when it was not in force.
pub async fn end_membership(
    c: &impl GenericClient,
    account: &InScope<impl Account>,
    id: Uuid,
    by: Uuid,
) -> Result<Option<Membership>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE memberships m SET valid_until = greatest(now(), valid_from), ended_by = $2 \
                 WHERE id = $1 AND user_id = $3 AND {MEMBERSHIP_ACTIVE} RETURNING {MEMBERSHIP_COLUMNS}"
            ),
            &[&id, &by, &account.account_id()],
        )
        .await?;
    row.as_ref().map(membership).transpose()
}

/// What the administration rule needs to know of an account: the organisation and roles
/// of every membership not yet ended (in force, or starting later), and the organisation
/// of the one that ended last. Call it after locking the account's row (`lock_user`,
/// `service_accounts::lock_service_account`), so that it cannot change before the caller
/// commits.
pub async fn account_roles(c: &impl GenericClient, account: Uuid) -> Result<AccountRoles, DbError> {
    let rows = c
        .query(
            "SELECT organisation_id, roles, \
               (valid_until IS NULL OR (valid_until > now() AND valid_until > valid_from)) AS current \
             FROM memberships WHERE user_id = $1 \
             ORDER BY valid_until DESC NULLS FIRST, created_at DESC, id",
            &[&account],
        )
        .await?;
    let mut out = AccountRoles { account_id: account, current: vec![], last_organisation: None };
    for row in &rows {
        let organisation: Uuid = row.try_get("organisation_id")?;
        if row.try_get("current")? {
            out.current.push((organisation, roles(row.try_get("roles")?)?));
        } else if out.last_organisation.is_none() {
            out.last_organisation = Some(organisation);
        }
    }
    if !out.current.is_empty() {
        out.last_organisation = None;
    }
    Ok(out)
}

/// Replaces a person's password hash by `unusable_hash` (of a secret nobody keeps) and
/// removes its second factor and recovery codes: credentials someone who may no longer
/// manage the account could know. The caller ends its sessions.
pub async fn void_person_credentials(
    c: &impl GenericClient,
    person: &InScope<UserRow>,
    unusable_hash: &str,
) -> Result<(), DbError> {
    let id = person.id;
    c.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 AND kind = 'person'",
        &[&id, &unusable_hash],
    )
    .await?;
    crate::second_factor::remove_totp(c, id).await?;
    Ok(())
}

pub async fn count_users(c: &impl GenericClient) -> Result<i64, DbError> {
    Ok(c.query_one("SELECT count(*) FROM users", &[]).await?.try_get(0)?)
}

/// Serialises one-time set-up across processes until the transaction ends.
pub async fn lock_bootstrap(c: &impl GenericClient) -> Result<(), DbError> {
    c.execute("SELECT pg_advisory_xact_lock(7365726564)", &[]).await?;
    Ok(())
}
