//! Login sessions (refresh-token families), refresh tokens, the per-request principal
//! lookup, and the failed-login throttle.

use chrono::{DateTime, Utc};
use sitrep_domain::RoleSet;
use sitrep_types::Reach;
use uuid::Uuid;

use crate::accounts::{MEMBERSHIP_ACTIVE, roles};
use crate::{DbError, GenericClient};

pub async fn create_session(
    c: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
    organisation_id: Uuid,
    absolute_expires_at: DateTime<Utc>,
    second_factor: Option<&str>,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO auth_sessions (id, user_id, organisation_id, absolute_expires_at, second_factor) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&id, &user_id, &organisation_id, &absolute_expires_at, &second_factor],
    )
    .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    c: &impl GenericClient,
    token_hash: &[u8],
    session_id: Uuid,
    idle_expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, idle_expires_at) VALUES ($1, $2, $3)",
        &[&token_hash, &session_id, &idle_expires_at],
    )
    .await?;
    Ok(())
}

/// The session a refresh token belonged to, when it was spent now.
#[derive(Debug, Clone)]
pub struct SpentRefresh {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub organisation_id: Uuid,
    pub absolute_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub enum RefreshUse {
    /// Spent now; the caller issues its successor in the same transaction.
    Spent(SpentRefresh),
    /// Spent before: the whole family has been revoked (RFC 9700 §4.14).
    Reused { session_id: Uuid, user_id: Uuid, organisation_id: Uuid },
    /// Unknown, expired, or its session revoked or expired.
    Invalid,
}

/// Spends a refresh token atomically. Of two concurrent uses, one spends it and the other
/// sees a reuse, which revokes the family (strict policy, documented in docs/auth.md).
pub async fn use_refresh_token(c: &impl GenericClient, token_hash: &[u8]) -> Result<RefreshUse, DbError> {
    let spent = c
        .query_opt(
            "UPDATE refresh_tokens r SET used_at = now() FROM auth_sessions s \
             WHERE r.token_hash = $1 AND r.session_id = s.id AND r.used_at IS NULL \
               AND r.idle_expires_at > now() AND s.revoked_at IS NULL AND s.absolute_expires_at > now() \
             RETURNING s.id, s.user_id, s.organisation_id, s.absolute_expires_at",
            &[&token_hash],
        )
        .await?;
    if let Some(row) = spent {
        return Ok(RefreshUse::Spent(SpentRefresh {
            session_id: row.try_get(0)?,
            user_id: row.try_get(1)?,
            organisation_id: row.try_get(2)?,
            absolute_expires_at: row.try_get(3)?,
        }));
    }
    let earlier = c
        .query_opt(
            "SELECT s.id, s.user_id, s.organisation_id FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id \
             WHERE r.token_hash = $1 AND r.used_at IS NOT NULL",
            &[&token_hash],
        )
        .await?;
    match earlier {
        Some(row) => {
            let session_id: Uuid = row.try_get(0)?;
            revoke_session(c, session_id, "refresh_token_reuse").await?;
            Ok(RefreshUse::Reused { session_id, user_id: row.try_get(1)?, organisation_id: row.try_get(2)? })
        }
        None => Ok(RefreshUse::Invalid),
    }
}

/// The session a refresh token belongs to, if the token is live (for logout).
pub async fn session_of_refresh_token(c: &impl GenericClient, token_hash: &[u8]) -> Result<Option<Uuid>, DbError> {
    let row = c
        .query_opt(
            "SELECT r.session_id FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id \
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND s.revoked_at IS NULL",
            &[&token_hash],
        )
        .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(DbError::from)
}

/// Records that the session proved a second factor (after enrolling TOTP in it).
pub async fn mark_second_factor(c: &impl GenericClient, id: Uuid, factor: &str) -> Result<(), DbError> {
    c.execute("UPDATE auth_sessions SET second_factor = $2 WHERE id = $1", &[&id, &factor]).await?;
    Ok(())
}

pub async fn revoke_session(c: &impl GenericClient, id: Uuid, reason: &str) -> Result<bool, DbError> {
    let n = c
        .execute(
            "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &reason],
        )
        .await?;
    Ok(n > 0)
}

/// Locks the session's row and tells whether it is still live (not revoked, not past its
/// absolute end).
pub async fn lock_live_session(c: &impl GenericClient, id: Uuid) -> Result<bool, DbError> {
    let row = c
        .query_opt(
            "SELECT revoked_at IS NULL AND absolute_expires_at > now() FROM auth_sessions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| r.try_get::<_, bool>(0)).transpose()?.unwrap_or(false))
}

/// Revokes every live session of a user except `keep` (the one changing its password).
pub async fn revoke_other_sessions(
    c: &impl GenericClient,
    user_id: Uuid,
    keep: Uuid,
    reason: &str,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $3 \
             WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
        &[&user_id, &keep, &reason],
    )
    .await?)
}

/// Revokes every live session of a user; with `organisation`, only those acting for it.
pub async fn revoke_user_sessions(
    c: &impl GenericClient,
    user_id: Uuid,
    organisation: Option<Uuid>,
    reason: &str,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $3 \
             WHERE user_id = $1 AND ($2::uuid IS NULL OR organisation_id = $2) AND revoked_at IS NULL",
        &[&user_id, &organisation, &reason],
    )
    .await?)
}

/// Revokes every live session acting for an organisation (when it is deactivated).
pub async fn revoke_organisation_sessions(
    c: &impl GenericClient,
    organisation: Uuid,
    reason: &str,
) -> Result<u64, DbError> {
    Ok(c.execute(
        "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2 \
             WHERE organisation_id = $1 AND revoked_at IS NULL",
        &[&organisation, &reason],
    )
    .await?)
}

/// Who an access token speaks for, as the database says now.
#[derive(Debug, Clone)]
pub struct PrincipalRow {
    pub username: String,
    pub reach: Reach,
    pub membership_id: Uuid,
    pub roles: RoleSet,
    /// The organisation requires TOTP and the session has not proven a second factor.
    pub enrolment_only: bool,
    /// The user's password is a one-time password an administrator set.
    pub password_change_required: bool,
}

/// Why a token that verified cryptographically is still refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalRefusal {
    SessionRevoked,
    UserInactive,
    OrganisationInactive,
    NoMembership,
}

impl PrincipalRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalRefusal::SessionRevoked => "session_revoked",
            PrincipalRefusal::UserInactive => "user_inactive",
            PrincipalRefusal::OrganisationInactive => "organisation_inactive",
            PrincipalRefusal::NoMembership => "membership_ended",
        }
    }
}

/// What [`principal_row`] reads of a session `s`, its user `u`, organisation `o` and
/// membership `m` (`$4`: the roles that need a second factor).
const PRINCIPAL_COLUMNS: &str = "u.username, u.active AS user_active, o.active AS org_active, o.reach, \
     (s.revoked_at IS NULL AND s.absolute_expires_at > now()) AS session_live, m.id AS mid, m.roles, \
     ((o.require_totp OR m.roles && $4::text[]) AND s.second_factor IS NULL) AS enrolment_only, \
     u.password_change_required";

/// The user, organisation and membership in force of a session `s`.
fn principal_joins() -> String {
    format!(
        "JOIN users u ON u.id = s.user_id \
         JOIN organisations o ON o.id = s.organisation_id \
         LEFT JOIN LATERAL (SELECT m.id, m.roles FROM memberships m \
              WHERE m.user_id = u.id AND m.organisation_id = o.id AND {MEMBERSHIP_ACTIVE} \
              ORDER BY m.valid_from DESC LIMIT 1) m ON true"
    )
}

/// One indexed query per request: the session is live, the user and organisation
/// active, and a membership in force gives the roles. A session that has not proven a
/// second factor may only enrol when its organisation requires TOTP or its roles include
/// one of `roles_needing_totp`. Never trusts token claims beyond
/// the ids.
pub async fn principal(
    c: &impl GenericClient,
    session_id: Uuid,
    user_id: Uuid,
    organisation_id: Uuid,
    roles_needing_totp: &[&str],
) -> Result<Result<PrincipalRow, PrincipalRefusal>, DbError> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM auth_sessions s {} \
             WHERE s.id = $1 AND s.user_id = $2 AND s.organisation_id = $3",
            principal_joins()
        ))
        .await?;
    let row = c.query_opt(&statement, &[&session_id, &user_id, &organisation_id, &roles_needing_totp]).await?;
    let Some(row) = row else { return Ok(Err(PrincipalRefusal::SessionRevoked)) };
    principal_row(&row)
}

/// `principal` for many sessions in one query (the live streams of a process re-check
/// theirs together): one answer per `(session, user, organisation)`, in order.
pub async fn principals(
    c: &impl GenericClient,
    sessions: &[(Uuid, Uuid, Uuid)],
    roles_needing_totp: &[&str],
) -> Result<Vec<Result<PrincipalRow, PrincipalRefusal>>, DbError> {
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.0).collect();
    let users: Vec<Uuid> = sessions.iter().map(|s| s.1).collect();
    let orgs: Vec<Uuid> = sessions.iter().map(|s| s.2).collect();
    let rows = c
        .query(
            &format!(
                "SELECT q.n, {PRINCIPAL_COLUMNS} \
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS q(sid, uid, oid, n) \
                 JOIN auth_sessions s ON s.id = q.sid AND s.user_id = q.uid AND s.organisation_id = q.oid {}",
                principal_joins()
            ),
            &[&ids, &users, &orgs, &roles_needing_totp],
        )
        .await?;
    let mut out: Vec<Result<PrincipalRow, PrincipalRefusal>> =
        sessions.iter().map(|_| Err(PrincipalRefusal::SessionRevoked)).collect();
    for row in &rows {
        let n: i64 = row.try_get("n")?;
        if let Some(slot) = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = principal_row(row)?;
        }
    }
    Ok(out)
}

fn principal_row(row: &tokio_postgres::Row) -> Result<Result<PrincipalRow, PrincipalRefusal>, DbError> {
    if !row.try_get::<_, bool>("session_live")? {
        return Ok(Err(PrincipalRefusal::SessionRevoked));
    }
    if !row.try_get::<_, bool>("user_active")? {
        return Ok(Err(PrincipalRefusal::UserInactive));
    }
    if !row.try_get::<_, bool>("org_active")? {
        return Ok(Err(PrincipalRefusal::OrganisationInactive));
    }
    let Some(membership_id) = row.try_get::<_, Option<Uuid>>("mid")? else {
        return Ok(Err(PrincipalRefusal::NoMembership));
    };
    Ok(Ok(PrincipalRow {
        username: row.try_get("username")?,
        reach: Reach::parse(row.try_get("reach")?).ok_or(DbError::Corrupt("organisations.reach"))?,
        membership_id,
        roles: roles(row.try_get("roles")?)?,
        enrolment_only: row.try_get("enrolment_only")?,
        password_change_required: row.try_get("password_change_required")?,
    }))
}

/// Organisations in which a user has a membership in force, with the membership's roles.
pub async fn login_memberships(
    c: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<(Uuid, String, Uuid, RoleSet)>, DbError> {
    let rows = c
        .query(
            &format!(
                "SELECT o.id, o.code, m.id, m.roles FROM memberships m JOIN organisations o ON o.id = m.organisation_id \
                 WHERE m.user_id = $1 AND o.active AND {MEMBERSHIP_ACTIVE} ORDER BY o.code"
            ),
            &[&user_id],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, roles(r.try_get(3)?)?))).collect()
}

/// When the throttle key may next be tried, if it is locked now.
pub async fn login_locked_until(c: &impl GenericClient, key: &str) -> Result<Option<DateTime<Utc>>, DbError> {
    let row = c
        .query_opt("SELECT locked_until FROM login_throttle WHERE throttle_key = $1 AND locked_until > now()", &[&key])
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// The keys among `keys` that are locked now, with when each opens.
pub async fn login_locks(c: &impl GenericClient, keys: &[&str]) -> Result<Vec<(String, DateTime<Utc>)>, DbError> {
    let rows = c
        .query(
            "SELECT throttle_key, locked_until FROM login_throttle \
             WHERE throttle_key = ANY($1::text[]) AND locked_until > now()",
            &[&keys],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Counts a failed login in the key's current window; returns (window start, failures in it).
pub async fn record_login_failure(
    c: &impl GenericClient,
    key: &str,
    window_secs: i64,
) -> Result<(DateTime<Utc>, i32), DbError> {
    let counted = record_login_failures(c, &[key], window_secs).await?;
    let (_, start, n) = counted.into_iter().next().ok_or(DbError::Corrupt("login_throttle"))?;
    Ok((start, n))
}

/// Counts one failure under each of `keys`, each in its current window (a window older
/// than `window_secs` starts again); returns (key, window start, failures in it). Keys are
/// written in sorted order, so concurrent failures never wait on each other in a cycle.
pub async fn record_login_failures(
    c: &impl GenericClient,
    keys: &[&str],
    window_secs: i64,
) -> Result<Vec<(String, DateTime<Utc>, i32)>, DbError> {
    let rows = c
        .query(
            "INSERT INTO login_throttle AS t (throttle_key, window_start, failures) \
             SELECT k, now(), 1 FROM unnest($1::text[]) AS k ORDER BY k \
             ON CONFLICT (throttle_key) DO UPDATE SET \
               window_start = CASE WHEN t.window_start <= now() - make_interval(secs => $2) THEN now() ELSE t.window_start END, \
               failures = CASE WHEN t.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE t.failures + 1 END \
             RETURNING throttle_key, window_start, failures",
            &[&keys, &(window_secs as f64)],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

pub async fn lock_login(c: &impl GenericClient, key: &str, until: DateTime<Utc>) -> Result<(), DbError> {
    c.execute(
        "UPDATE login_throttle SET locked_until = greatest(locked_until, $2) WHERE throttle_key = $1",
        &[&key, &until],
    )
    .await?;
    Ok(())
}

pub async fn clear_login_failures(c: &impl GenericClient, key: &str) -> Result<(), DbError> {
    c.execute("DELETE FROM login_throttle WHERE throttle_key = $1", &[&key]).await?;
    Ok(())
}

/// Deletes up to 100 counters whose window ended long ago and that hold no lock (called as
/// failures come in, so the table stays the size of the recent failures).
pub async fn purge_login_throttle(c: &impl GenericClient, window_secs: i64) -> Result<u64, DbError> {
    Ok(c.execute(
        "DELETE FROM login_throttle WHERE throttle_key IN (SELECT throttle_key FROM login_throttle \
           WHERE window_start < now() - make_interval(secs => $1) * 2 AND coalesce(locked_until, '-infinity') < now() \
           LIMIT 100)",
        &[&(window_secs as f64)],
    )
    .await?)
}

/// Accounts whose failed logins in their current window have reached `ceiling` (the
/// alert's gauge).
pub async fn accounts_over_ceiling(c: &impl GenericClient, ceiling: i32, window_secs: i64) -> Result<i64, DbError> {
    Ok(c.query_one(
        "SELECT count(*) FROM login_throttle WHERE throttle_key LIKE 'account:%' AND failures >= $1 \
           AND window_start > now() - make_interval(secs => $2)",
        &[&ceiling, &(window_secs as f64)],
    )
    .await?
    .try_get(0)?)
}
