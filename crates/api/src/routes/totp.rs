//! The caller's own TOTP second factor: enrol, confirm (which hands out recovery
//! codes), new recovery codes, and switching it off. People only: a service account
//! authenticates with its API keys.

use actix_web::{HttpResponse, web};
use sitrep_auth::totp;
use sitrep_db::{GenericClient, accounts, second_factor, sessions};
use sitrep_types::{RecoveryCodes, TotpCode, TotpEnrolment, TotpStatus};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, ServerFailures, Throttled};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{ActorKind, Caller, Principal, SelfService};
use crate::second_factor::{Spend, spend};
use crate::state::AppState;
use crate::throttle::{count_key_failure, key_not_locked};

endpoints! {
    "/me/totp" { GET "totp.view" => get_totp, POST "totp.enrol" => start_totp }
    "/me/totp/confirm" { POST "totp.confirm" => confirm_totp }
    "/me/totp/recovery-codes" { POST "totp.recovery_codes" => renew_recovery_codes }
    "/me/totp/disable" { POST "totp.disable" => disable_totp }
}

const WRONG_CODE: ApiError =
    ApiError::SecondFactor { code: "totp_invalid", detail: "The code is wrong or was already used." };

fn person(p: &Principal) -> Result<(), ApiError> {
    if p.actor == ActorKind::ServiceAccount {
        return Err(ApiError::Forbidden { code: "people_only", detail: "Service accounts use API keys, not TOTP." });
    }
    Ok(())
}

/// Spends a code of the caller's credential, which must be confirmed when `enabled` and
/// not yet confirmed otherwise (a confirmation). Wrong codes are throttled like failed
/// logins, under a key of their own, counted outside the caller's transaction (which a
/// wrong code rolls back).
async fn spend_code_when(
    state: &AppState,
    c: &impl GenericClient,
    user: Uuid,
    code: &str,
    enabled: bool,
) -> Result<(), ApiError> {
    let credential = match (second_factor::get_totp(c, user).await?, enabled) {
        (Some(t), true) if t.confirmed => t,
        (Some(t), false) if !t.confirmed => t,
        (None, false) => {
            return Err(ApiError::Conflict {
                code: "totp_not_enrolled",
                detail: "Start an enrolment first (POST /api/v1/me/totp).".into(),
            });
        }
        (_, true) => {
            return Err(ApiError::Conflict { code: "totp_not_enrolled", detail: "TOTP is not enabled.".into() });
        }
        (Some(_), false) => {
            return Err(ApiError::Conflict { code: "totp_enabled", detail: "TOTP is already enabled.".into() });
        }
    };
    let throttle_key = format!("totp:{user}");
    key_not_locked(c, &throttle_key).await??;
    match spend(state, c, user, &credential.sealed_secret, code).await? {
        Spend::Spent => Ok(()),
        Spend::Replayed => Err(WRONG_CODE),
        Spend::Invalid => {
            count_key_failure(state, &state.pool.get().await?, &throttle_key).await?;
            Err(WRONG_CODE)
        }
    }
}

/// Makes, stores (hashed) and returns a new set of recovery codes.
async fn new_recovery_codes(c: &impl GenericClient, user: Uuid) -> Result<RecoveryCodes, ApiError> {
    let codes = totp::recovery_codes();
    let hashes: Vec<[u8; 32]> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
    second_factor::replace_recovery_codes(c, user, &hashes).await?;
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Whether the caller has TOTP, whether its organisation requires it, and how many
/// recovery codes are left.
#[utoipa::path(
    get, path = "/api/v1/me/totp", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = TotpStatus), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn get_totp(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SelfService>,
) -> Result<HttpResponse, ApiError> {
    person(&caller)?;
    let client = meta.client(&state.pool).await?;
    let enabled = second_factor::get_totp(&client, caller.user_id).await?.is_some_and(|t| t.confirmed);
    let by_policy =
        accounts::get_organisation_policy(&client, caller.organisation_id).await?.is_some_and(|o| o.require_totp);
    let required = by_policy || caller.role_names().iter().any(|r| state.login.roles_needing_totp().contains(r));
    let left = second_factor::unused_recovery_codes(&client, caller.user_id).await?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("user", caller.user_id)).await?;
    Ok(HttpResponse::Ok().json(TotpStatus { enabled, required, recovery_codes_left: left }))
}

/// Start enrolling TOTP: a new secret and its `otpauth://` URI (show it as a QR code).
/// Nothing changes at login until the enrolment is confirmed with a code. Starting again
/// before confirming replaces the secret.
#[utoipa::path(
    post, path = "/api/v1/me/totp", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 201, body = TotpEnrolment),
        AuthFailures, Forbidden, Conflict, ServerFailures
    )
)]
pub async fn start_totp(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SelfService>,
) -> Result<HttpResponse, ApiError> {
    person(&caller)?;
    let secret = totp::new_secret();
    let (base32, uri) = totp::provisioning(&secret, &caller.username, &state.totp_issuer)?;
    let sealed = state.seal.seal(&secret, caller.user_id.as_bytes())?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    if !second_factor::start_totp(&tx, caller.user_id, &sealed).await? {
        return Err(ApiError::Conflict {
            code: "totp_enabled",
            detail: "TOTP is already enabled; switch it off first to enrol a new device.".into(),
        });
    }
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", caller.user_id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(TotpEnrolment { secret: base32, otpauth_uri: uri }))
}

/// Confirm the enrolment with the app's current code. TOTP is then required at every
/// login; the answer holds ten single-use recovery codes, shown this once. This session
/// counts as proven by TOTP from now on.
#[utoipa::path(
    post, path = "/api/v1/me/totp/confirm", tag = "auth",
    security(("bearer" = [])), request_body = TotpCode,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "Wrong or reused code (`totp_invalid`)", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, Conflict, BodyFailures, Throttled, ServerFailures
    )
)]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SelfService>,
    body: Json<TotpCode>,
) -> Result<HttpResponse, ApiError> {
    person(&caller)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    spend_code_when(&state, &tx, caller.user_id, &body.0.code, false).await?;
    second_factor::confirm_totp(&tx, caller.user_id).await?;
    let codes = new_recovery_codes(&tx, caller.user_id).await?;
    if let Some(session) = caller.session_id {
        sessions::mark_second_factor(&tx, session, "totp").await?;
    }
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", caller.user_id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(codes))
}

/// New recovery codes (the old ones stop working), with a current TOTP code.
#[utoipa::path(
    post, path = "/api/v1/me/totp/recovery-codes", tag = "auth",
    security(("bearer" = [])), request_body = TotpCode,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "Wrong or reused code (`totp_invalid`)", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, Conflict, BodyFailures, Throttled, ServerFailures
    )
)]
pub async fn renew_recovery_codes(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SelfService>,
    body: Json<TotpCode>,
) -> Result<HttpResponse, ApiError> {
    person(&caller)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    spend_code_when(&state, &tx, caller.user_id, &body.0.code, true).await?;
    let codes = new_recovery_codes(&tx, caller.user_id).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", caller.user_id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(codes))
}

/// Switch TOTP off, with a current code. Refused when the organisation requires it.
#[utoipa::path(
    post, path = "/api/v1/me/totp/disable", tag = "auth",
    security(("bearer" = [])), request_body = TotpCode,
    responses(
        (status = 204, description = "TOTP is off; recovery codes are gone"),
        (status = 401, description = "Wrong or reused code (`totp_invalid`)", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, Conflict, BodyFailures, Throttled, ServerFailures
    )
)]
pub async fn disable_totp(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SelfService>,
    body: Json<TotpCode>,
) -> Result<HttpResponse, ApiError> {
    person(&caller)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    if accounts::get_organisation_policy(&tx, caller.organisation_id).await?.is_some_and(|o| o.require_totp) {
        return Err(ApiError::Forbidden {
            code: "totp_required_by_organisation",
            detail: "Your organisation requires TOTP.",
        });
    }
    spend_code_when(&state, &tx, caller.user_id, &body.0.code, true).await?;
    second_factor::remove_totp(&tx, caller.user_id).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", caller.user_id).status(204)).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
