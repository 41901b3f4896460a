//! `GET /api/v1/me`, `POST /api/v1/me/password` and `PUT /api/v1/me/language`.

use actix_web::{HttpResponse, web};
use sitrep_db::access_log::Outcome;
use sitrep_db::{accounts, sessions};
use sitrep_domain::AdminScope;
use sitrep_domain::account::{NewPassword, PASSWORD_MAX_CHARS};
use sitrep_types::{ChangePassword, Lang, Me, SetLanguage};

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{ActorKind, Caller, OwnAccount, Principal, Restriction};
use crate::state::AppState;
use crate::throttle;

endpoints! {
    "/me" { GET "me.view" => get_me }
    "/me/password" { POST "me.password_change" => change_password }
    "/me/language" { PUT "me.language_set" => set_language }
}

/// Who the access token speaks for: user, organisation, roles, memberships in force, and
/// whether the password must be changed before anything else.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, body = Me), AuthFailures, ServerFailures)
)]
pub async fn get_me(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<OwnAccount>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let user =
        accounts::get_user(&client, caller.user_id).await?.ok_or(ApiError::Unauthenticated { reason: "user_gone" })?;
    let organisation = accounts::get_organisation(&client, caller.organisation_id)
        .await?
        .ok_or(ApiError::Unauthenticated { reason: "organisation_gone" })?;
    let memberships = accounts::memberships_of(&client, caller.user_id, AdminScope::All)
        .await?
        .into_iter()
        .filter(|m| m.active)
        .collect();
    let language = user.language.as_deref().and_then(Lang::parse);
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("user", caller.user_id)).await?;
    Ok(HttpResponse::Ok().json(Me {
        user_id: user.id,
        username: user.username,
        display_name: user.display_name,
        actor_type: caller.actor_type().as_str().to_owned(),
        organisation,
        roles: caller.permissions.roles.to_vec(),
        memberships,
        password_change_required: caller.restriction == Some(Restriction::ChangePassword),
        language,
        time_zone: state.time_zone.clone(),
    }))
}

/// Remember the language one works in: the console's interface and the language picture
/// texts are shown in first. Allowed also while a one-time password must be changed, so
/// that the form asking for it is in the person's language.
#[utoipa::path(
    put, path = "/api/v1/me/language", tag = "accounts",
    security(("bearer" = [])), request_body = SetLanguage,
    responses((status = 204, description = "Remembered"), AuthFailures, BodyFailures, ServerFailures)
)]
pub async fn set_language(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<OwnAccount>,
    body: Json<SetLanguage>,
) -> Result<HttpResponse, ApiError> {
    set_own_language(&state, &meta, &caller, body.0.language).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_own_language(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Principal,
    language: Lang,
) -> Result<(), ApiError> {
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    accounts::set_language(&tx, caller.user_id, language.as_str()).await?;
    access_log::write(&tx, meta, access_log::by(meta, caller).object("user", caller.user_id).status(204)).await?;
    tx.commit().await?;
    Ok(())
}

/// Change one's own password, giving the current one.
///
/// The new password follows the rules for every password (15–128 characters, not the
/// username or a variant of it, not a common or breached password). Every other session
/// of the person ends; this one goes on, and a one-time password an administrator set is
/// one no longer. A wrong current password counts as a failed sign-in (`429` with
/// `Retry-After` once throttled). Service accounts have no password.
#[utoipa::path(
    post, path = "/api/v1/me/password", tag = "accounts",
    security(("bearer" = [])), request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed; every other session of the person has ended"),
        (status = 403, description = "The current password is wrong (`current_password_invalid`), or the caller is a service account (`people_only`)", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The password was reset or changed, the account deactivated or this session ended while the request was checked (`credentials_changed`)", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, BodyFailures, ServerFailures,
    )
)]
pub async fn change_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<OwnAccount>,
    body: Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    change_own_password(&state, &meta, &caller, body.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Checks the new password, throttles and verifies the current one, then sets the new one
/// and ends the person's other sessions, with one access-log record whatever the outcome.
async fn change_own_password(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Principal,
    body: ChangePassword,
) -> Result<(), ApiError> {
    let record = access_log::by(meta, caller).object("user", caller.user_id);
    let session_id = match (caller.actor, caller.session_id) {
        (ActorKind::User, Some(sid)) => sid,
        _ => {
            let err = ApiError::Forbidden {
                code: "people_only",
                detail: "Service accounts have no password: they authenticate with API keys.",
            };
            access_log::commit(state, meta, record.refused(Outcome::Denied, "people_only", 403)).await?;
            return Err(err);
        }
    };
    let new = NewPassword::parse("new_password", &body.new_password, Some(&caller.username))
        .map_err(|e| ApiError::from(sitrep_domain::FieldErrors::from(e)))?;
    if body.new_password == body.current_password {
        return Err(ApiError::invalid("new_password", "same_as_current", "must differ from the current password"));
    }
    // Counted under the same key as the account's sign-in failures (the name's fold).
    let fold = sitrep_domain::account::Username::fold(&caller.username);
    let keys = throttle::keys(meta, &fold);
    let stored = {
        let client = meta.client(&state.pool).await?;
        if let Err((err, reason)) = throttle::check(&client, &keys).await? {
            drop(client);
            access_log::commit(state, meta, record.refused(Outcome::Denied, reason, 429)).await?;
            return Err(err);
        }
        accounts::find_login_candidate(&client, &fold, &caller.username).await?
    };
    // Hashing holds no database connection (see the login).
    let verified = if body.current_password.chars().count() > PASSWORD_MAX_CHARS {
        false
    } else {
        state.hasher.verify(&body.current_password, stored.as_ref().map(|c| c.password_hash.as_str())).await?.ok
    };
    let hash = if verified { Some(state.hasher.hash(new.expose()).await?) } else { None };
    let mut client = state.pool.get().await?;
    let (Some(hash), Some(stored)) = (hash, stored) else {
        let tx = client.transaction().await?;
        throttle::count_failure(state, meta, &tx, &keys, Some(caller.user_id), 403).await?;
        access_log::write(&tx, meta, record.refused(Outcome::Denied, "wrong_password", 403)).await?;
        tx.commit().await?;
        return Err(ApiError::Forbidden { code: "current_password_invalid", detail: "The current password is wrong." });
    };
    let tx = client.transaction().await?;
    // Checked against the hash read before the transaction: a reset or another change
    // since then, a deactivation, or the end of this session (a change made elsewhere
    // revokes it) wins; the rows stay locked until commit.
    if !accounts::lock_unchanged_credentials(&tx, caller.user_id, &stored.password_hash).await?
        || !sessions::lock_live_session(&tx, session_id).await?
    {
        access_log::write(&tx, meta, record.refused(Outcome::Denied, "credentials_changed", 409)).await?;
        tx.commit().await?;
        return Err(ApiError::conflict(
            "credentials_changed",
            "The password or the session changed while this request was checked; sign in again.",
        ));
    }
    accounts::set_own_password(&tx, caller.user_id, &hash).await?;
    sessions::revoke_other_sessions(&tx, caller.user_id, session_id, "password_changed").await?;
    throttle::succeeded(&tx, &keys).await?;
    access_log::write(&tx, meta, record.status(204)).await?;
    tx.commit().await?;
    Ok(())
}
