//! Login, refresh, logout.

use actix_web::{HttpResponse, web};
use chrono::{Duration, Utc};
use sitrep_auth::{refresh, totp};
use sitrep_db::access_log::{ActorType, Outcome};
use sitrep_db::sessions::{self, RefreshUse};
use sitrep_db::{GenericClient, accounts, second_factor};
use sitrep_domain::account::{PASSWORD_MAX_CHARS, Username};
use sitrep_types::{Login, RefreshToken, TokenPair};

use crate::browser_session::{Carrier, PresentedRefresh};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Caller, OwnAccount};
use crate::state::AppState;
use crate::throttle;

endpoints! {
    "/auth/login" { POST "auth.login" => login }
    "/auth/refresh" { POST "auth.refresh" => refresh_tokens }
    "/auth/logout" { POST "auth.logout" => logout }
}

/// Log in with username and password.
///
/// Answers the same `401` for an unknown user, a wrong password and an account that may
/// not log in. Failures are throttled per (account, client address) and per address
/// (`429` with `Retry-After`); failures from other addresses never refuse anyone.
///
/// With the header `Sitrep-Session: cookie` (a browser page of this server), the refresh
/// token is set as an `HttpOnly; Secure; SameSite=Strict` cookie for `/api/v1/auth`
/// instead of being returned in the body; `403` when the request comes from another site.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = Login,
    params(("Sitrep-Session" = Option<String>, Header, description = "`cookie`: keep the refresh token in an HttpOnly cookie")),
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Wrong username or password", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the organisation asked for", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = sitrep_types::Problem, content_type = "application/problem+json"),
        BodyFailures, ServerFailures,
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    meta: RequestMeta,
    carrier: Carrier,
    body: Json<Login>,
) -> Result<HttpResponse, ApiError> {
    let pair = do_login(&state, &meta, body.0).await?;
    Ok(carrier.hand_over(pair))
}

/// Throttle, verify, choose the organisation, open a session — with one access-log
/// record whatever the outcome.
async fn do_login(state: &AppState, meta: &RequestMeta, login: Login) -> Result<TokenPair, ApiError> {
    // A name that hides characters is refused before anything is recorded under it; an
    // account is found, and its failures counted, by the confusable fold of the name.
    Username::check_submitted("username", &login.username).map_err(|e| ApiError::Invalid(e.into()))?;
    let exact = Username::normalise_for_lookup(&login.username);
    let username = Username::fold(&login.username);
    let logged_name: String = exact.chars().take(64).collect();
    let record = access_log::anonymous(meta);
    let record = sitrep_db::access_log::AccessRecord { actor_name: Some(logged_name), ..record };
    let keys = throttle::keys(meta, &username);

    if let Some(ip) = meta.client_addr
        && let Err(wait) = state.login_per_address.check_key(&ip)
    {
        let secs =
            wait.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default())).as_secs() + 1;
        let err = ApiError::TooManyRequests { code: "too_many_attempts", retry_after_secs: secs };
        return refuse(state, meta, record.refused(Outcome::Denied, "address_rate_limited", 429), err).await;
    }

    let candidate = {
        let client = meta.client(&state.pool).await?;
        if let Err((err, reason)) = throttle::check(&client, &keys).await? {
            drop(client);
            access_log::commit(state, meta, record.refused(Outcome::Denied, reason, 429)).await?;
            return Err(err);
        }
        accounts::find_login_candidate(&client, &username, &exact).await?
    };
    // No database connection is held while the password is checked: logins queued for
    // the hasher must not take the connections every other request needs.
    let too_long = login.password.chars().count() > PASSWORD_MAX_CHARS;
    let verified = if too_long {
        sitrep_auth::Verified { ok: false, needs_rehash: false }
    } else {
        state.hasher.verify(&login.password, candidate.as_ref().map(|c| c.password_hash.as_str())).await?
    };
    // A stronger hash for an account whose stored one uses weaker parameters than today's,
    // made now for the same reason; it is stored only if the login succeeds.
    let new_hash = match &candidate {
        Some(c) if verified.ok && verified.needs_rehash && c.active => Some(state.hasher.hash(&login.password).await?),
        _ => None,
    };
    let mut client = state.pool.get().await?;
    let user = match candidate {
        Some(c) if verified.ok && c.active => c,
        other => {
            let reason = match &other {
                None => "unknown_user",
                Some(c) if !c.active && verified.ok => "user_inactive",
                _ => "wrong_password",
            };
            let tx = client.transaction().await?;
            throttle::count_failure(state, meta, &tx, &keys, other.as_ref().map(|c| c.id), 401).await?;
            let record = sitrep_db::access_log::AccessRecord { actor_id: other.map(|c| c.id), ..record };
            access_log::write(&tx, meta, record.refused(Outcome::Denied, reason, 401)).await?;
            tx.commit().await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    let record = sitrep_db::access_log::AccessRecord { actor_type: ActorType::User, actor_id: Some(user.id), ..record };

    let second_factor = match check_second_factor(state, &client, user.id, &login).await? {
        Ok(factor) => factor,
        Err(refusal) => {
            let tx = client.transaction().await?;
            if refusal.counts_as_failure() {
                throttle::count_failure(state, meta, &tx, &keys, Some(user.id), 401).await?;
            }
            access_log::write(&tx, meta, record.refused(Outcome::Denied, refusal.reason(), 401)).await?;
            tx.commit().await?;
            return Err(refusal.error());
        }
    };

    let memberships = sessions::login_memberships(&client, user.id).await?;
    let chosen = match &login.organisation {
        Some(wanted) => memberships.iter().find(|(id, code, _, _)| id.to_string() == *wanted || code == wanted),
        None if memberships.len() == 1 => memberships.first(),
        None => None,
    };
    let Some((org_id, _, membership_id, roles)) = chosen.cloned() else {
        let (reason, status, err) = if memberships.is_empty() {
            ("no_membership", 401, ApiError::InvalidCredentials)
        } else if login.organisation.is_some() {
            (
                "not_a_member",
                403,
                ApiError::Forbidden {
                    code: "not_a_member",
                    detail: "You have no membership in force in that organisation.",
                },
            )
        } else {
            let e =
                ApiError::invalid("organisation", "required", "you are a member of several organisations; name one");
            ("organisation_required", 422, e)
        };
        let outcome = if status == 422 { Outcome::Failed } else { Outcome::Denied };
        access_log::commit(state, meta, record.refused(outcome, reason, status)).await?;
        return Err(err);
    };

    let tx = client.transaction().await?;
    // The password was checked against the hash read before the transaction: a reset, a
    // change or a deactivation since then wins (the account's row is locked until commit).
    if !accounts::lock_unchanged_credentials(&tx, user.id, &user.password_hash).await? {
        throttle::count_failure(state, meta, &tx, &keys, Some(user.id), 401).await?;
        access_log::write(&tx, meta, record.refused(Outcome::Denied, "credentials_changed", 401)).await?;
        tx.commit().await?;
        return Err(ApiError::InvalidCredentials);
    }
    throttle::succeeded(&tx, &keys).await?;
    if let Some(hash) = new_hash {
        accounts::set_password_hash(&tx, user.id, &hash).await?;
    }
    let session_id = Uuid::new_v4();
    let absolute = Utc::now() + Duration::seconds(state.login.session_absolute_secs as i64);
    sessions::create_session(&tx, session_id, user.id, org_id, absolute, second_factor).await?;
    let pair = issue_pair(state, &tx, user.id, org_id, session_id, absolute).await?;
    let record = sitrep_db::access_log::AccessRecord {
        organisation_id: Some(org_id),
        membership_id: Some(membership_id),
        roles: roles.to_vec().into_iter().map(|r| r.as_str()).collect(),
        ..record
    };
    access_log::write(&tx, meta, record.object("session", session_id)).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Why the second factor of a login was refused.
#[derive(Debug, Clone, Copy)]
enum FactorRefusal {
    Missing,
    Invalid,
    Replayed,
    RecoveryCodeInvalid,
}

impl FactorRefusal {
    fn reason(self) -> &'static str {
        match self {
            FactorRefusal::Missing => "totp_required",
            FactorRefusal::Invalid => "totp_invalid",
            FactorRefusal::Replayed => "totp_replayed",
            FactorRefusal::RecoveryCodeInvalid => "recovery_code_invalid",
        }
    }

    /// A wrong guess counts towards the account's login throttle; asking for the code
    /// does not.
    fn counts_as_failure(self) -> bool {
        !matches!(self, FactorRefusal::Missing)
    }

    fn error(self) -> ApiError {
        match self {
            FactorRefusal::Missing => ApiError::SecondFactor {
                code: "totp_required",
                detail: "This account logs in with a TOTP code: send it as `totp` (or a `recovery_code`).",
            },
            _ => ApiError::SecondFactor {
                code: "totp_invalid",
                detail: "The second factor is wrong or was already used.",
            },
        }
    }
}

/// The second factor of a user whose password was right: `None` when the user has not
/// enrolled TOTP, the factor used when it was proven. A code works once: its time step
/// must be above the last one used, and a recovery code is spent.
async fn check_second_factor(
    state: &AppState,
    c: &impl GenericClient,
    user: Uuid,
    login: &Login,
) -> Result<Result<Option<&'static str>, FactorRefusal>, ApiError> {
    let Some(credential) = second_factor::get_totp(c, user).await?.filter(|t| t.confirmed) else {
        return Ok(Ok(None));
    };
    if let Some(code) = &login.totp {
        return Ok(match crate::second_factor::spend(state, c, user, &credential.sealed_secret, code).await? {
            crate::second_factor::Spend::Spent => Ok(Some("totp")),
            crate::second_factor::Spend::Invalid => Err(FactorRefusal::Invalid),
            crate::second_factor::Spend::Replayed => Err(FactorRefusal::Replayed),
        });
    }
    if let Some(code) = &login.recovery_code {
        if !second_factor::spend_recovery_code(c, user, &totp::recovery_hash(code)).await? {
            return Ok(Err(FactorRefusal::RecoveryCodeInvalid));
        }
        return Ok(Ok(Some("recovery_code")));
    }
    Ok(Err(FactorRefusal::Missing))
}

async fn refuse<T>(
    state: &AppState,
    meta: &RequestMeta,
    record: sitrep_db::access_log::AccessRecord,
    err: ApiError,
) -> Result<T, ApiError> {
    access_log::commit(state, meta, record).await?;
    Err(err)
}

/// A new refresh token in `session_id` and an access token, in the caller's transaction.
async fn issue_pair(
    state: &AppState,
    c: &impl GenericClient,
    user: Uuid,
    org: Uuid,
    session_id: Uuid,
    absolute: chrono::DateTime<Utc>,
) -> Result<TokenPair, ApiError> {
    let (refresh_token, hash) = refresh::generate();
    let idle = (Utc::now() + Duration::seconds(state.login.refresh_idle_secs as i64)).min(absolute);
    sessions::insert_refresh_token(c, &hash, session_id, idle).await?;
    let (access_token, claims) = state.tokens.issue(user, org, session_id)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer".into(),
        expires_in: (claims.exp - claims.iat).max(0) as u64,
        refresh_token: Some(refresh_token),
        refresh_expires_in: (idle - Utc::now()).num_seconds().max(0) as u64,
        organisation_id: org,
    })
}

/// Exchange a refresh token for a new pair.
///
/// Each refresh token works once. Presenting one that was already used revokes its
/// whole session (every refresh and access token of that login).
///
/// A browser session (`Sitrep-Session: cookie`) sends no body: the token is the cookie
/// the login set, and the answer sets its successor (or, when refused, clears it).
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = RefreshToken, description = "The refresh token. A browser session (`Sitrep-Session: cookie`) sends no body: its token is the cookie"),
    params(("Sitrep-Session" = Option<String>, Header, description = "`cookie`: the refresh token is the HttpOnly cookie")),
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 401, description = "Unknown, spent, expired or revoked refresh token", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser session's request from another site", body = sitrep_types::Problem, content_type = "application/problem+json"),
        BodyFailures, ServerFailures,
    )
)]
pub async fn refresh_tokens(
    state: web::Data<AppState>,
    meta: RequestMeta,
    presented: PresentedRefresh,
) -> Result<HttpResponse, ApiError> {
    Ok(match do_refresh(&state, &meta, &presented.token).await {
        Ok(pair) => presented.carrier.hand_over(pair),
        Err(err) => presented.carrier.refused(&err),
    })
}

async fn do_refresh(state: &AppState, meta: &RequestMeta, token: &str) -> Result<TokenPair, ApiError> {
    let hash = refresh::hash(token);
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let record = access_log::anonymous(meta);
    let denied = ApiError::Unauthenticated { reason: "refresh_token_invalid" };
    let spent = match sessions::use_refresh_token(&tx, &hash).await? {
        RefreshUse::Spent(spent) => spent,
        RefreshUse::Reused { session_id, user_id, organisation_id } => {
            let record = sitrep_db::access_log::AccessRecord {
                actor_type: ActorType::User,
                actor_id: Some(user_id),
                organisation_id: Some(organisation_id),
                ..record
            };
            tracing::warn!(%session_id, "refresh token reused: session revoked");
            access_log::write(
                &tx,
                meta,
                record.object("session", session_id).refused(Outcome::Denied, "refresh_token_reuse", 401),
            )
            .await?;
            tx.commit().await?;
            return Err(denied);
        }
        RefreshUse::Invalid => {
            access_log::write(&tx, meta, record.refused(Outcome::Denied, "refresh_token_invalid", 401)).await?;
            tx.commit().await?;
            return Err(denied);
        }
    };
    let record = sitrep_db::access_log::AccessRecord {
        actor_type: ActorType::User,
        actor_id: Some(spent.user_id),
        organisation_id: Some(spent.organisation_id),
        ..record
    }
    .object("session", spent.session_id);
    let totp_roles = state.login.roles_needing_totp();
    match sessions::principal(&tx, spent.session_id, spent.user_id, spent.organisation_id, totp_roles).await? {
        Ok(p) => {
            let pair = issue_pair(
                state,
                &tx,
                spent.user_id,
                spent.organisation_id,
                spent.session_id,
                spent.absolute_expires_at,
            )
            .await?;
            let record = sitrep_db::access_log::AccessRecord {
                actor_name: Some(p.username),
                membership_id: Some(p.membership_id),
                roles: p.roles.to_vec().into_iter().map(|r| r.as_str()).collect(),
                ..record
            };
            access_log::write(&tx, meta, record).await?;
            tx.commit().await?;
            Ok(pair)
        }
        Err(refusal) => {
            sessions::revoke_session(&tx, spent.session_id, refusal.as_str()).await?;
            access_log::write(&tx, meta, record.refused(Outcome::Denied, refusal.as_str(), 401)).await?;
            tx.commit().await?;
            Err(denied)
        }
    }
}

/// Log out: revoke this session. Its access and refresh tokens stop working at once.
///
/// With `Sitrep-Session: cookie` the answer also clears the browser session's cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    params(("Sitrep-Session" = Option<String>, Header, description = "`cookie`: also clear the browser session's cookie")),
    responses(
        (status = 204, description = "Logged out"),
        AuthFailures, ServerFailures,
    )
)]
pub async fn logout(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<OwnAccount>,
    carrier: Carrier,
) -> Result<HttpResponse, ApiError> {
    let Some(session_id) = caller.session_id else {
        return Err(ApiError::Forbidden {
            code: "no_session",
            detail: "An API key has no session to end; its organisation administrator revokes it.",
        });
    };
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    sessions::revoke_session(&tx, session_id, "logout").await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("session", session_id).status(204)).await?;
    tx.commit().await?;
    Ok(carrier.signed_out())
}
