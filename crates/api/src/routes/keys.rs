//! The public keys that verify access tokens (JWKS), and signing-key rotation for the
//! `sysadmin`.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sitrep_types::{Jwk, Jwks, SigningKeyInfo};

use crate::access_log::{self, RecordExt};
use crate::docs::{AuthFailures, Forbidden, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Caller, Sysadmin};
use crate::state::AppState;

endpoints! {
    "/.well-known/jwks.json" { GET "jwks.view" => jwks }
    "/signing-keys" { GET "signing_key.list" => list_signing_keys, POST "signing_key.rotate" => rotate_signing_key }
}

/// The public keys that verify access tokens, as a JSON Web Key Set (RFC 7517, Ed25519
/// keys as RFC 8037 `OKP`). Public: it holds no secret. A rotated-in key appears here
/// before it signs anything.
#[utoipa::path(
    get, path = "/api/v1/.well-known/jwks.json", tag = "auth",
    responses((status = 200, body = Jwks), ServerFailures)
)]
pub async fn jwks(state: web::Data<AppState>, meta: RequestMeta) -> Result<HttpResponse, ApiError> {
    let keys = state
        .tokens
        .keys()
        .public_keys()
        .into_iter()
        .map(|(kid, public)| Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(public),
            kid,
            alg: "EdDSA".into(),
            use_: "sig".into(),
        })
        .collect();
    access_log::commit(&state, &meta, access_log::anonymous(&meta)).await?;
    Ok(HttpResponse::Ok().json(Jwks { keys }))
}

fn infos(state: &AppState) -> Vec<SigningKeyInfo> {
    state
        .tokens
        .describe_keys()
        .into_iter()
        .map(|k| SigningKeyInfo { kid: k.kid, created_at: k.created_at, signing: k.signing })
        .collect()
}

/// The token signing keys: which signs, which only verify.
#[utoipa::path(
    get, path = "/api/v1/signing-keys", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<SigningKeyInfo>), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn list_signing_keys(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Sysadmin>,
) -> Result<HttpResponse, ApiError> {
    let keys = infos(&state);
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    Ok(HttpResponse::Ok().json(keys))
}

/// Rotate: make a new signing key in the shared keys directory. It verifies at once
/// everywhere the directory is shared (each process re-reads it every
/// `auth.tokens.key_reload_secs`) and signs after `auth.tokens.key_activation_secs`;
/// tokens signed by the previous key keep working until they expire. The same as
/// `sitrep keys rotate`.
#[utoipa::path(
    post, path = "/api/v1/signing-keys", tag = "auth",
    security(("bearer" = [])),
    responses((status = 201, body = Vec<SigningKeyInfo>), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn rotate_signing_key(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Sysadmin>,
) -> Result<HttpResponse, ApiError> {
    let kid = state.tokens.rotate().map_err(|e| {
        if e.downcast_ref::<std::io::Error>().map(|e| e.kind()) == Some(std::io::ErrorKind::AlreadyExists) {
            ApiError::Conflict { code: "key_just_made", detail: "A key was made this second; try again.".into() }
        } else {
            ApiError::Internal(e)
        }
    })?;
    let mut record = access_log::by(&meta, &caller).status(201);
    record.object_type = Some("signing_key");
    record.object_id = Some(kid);
    access_log::commit(&state, &meta, record).await?;
    Ok(HttpResponse::Created().json(infos(&state)))
}
