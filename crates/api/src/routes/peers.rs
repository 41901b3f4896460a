//! TAXII peers (the secretariat): the TAXII 2.1 servers Sitrep pulls a collection from,
//! into one organisation's drafts (docs/taxii.md, "Peers"). Credentials are write-only:
//! sealed when stored, never in an answer, never in the access log.

use actix_web::{HttpResponse, web};
use sitrep_db::taxii::peers::{self as db, PeerConfig, PeerRow};
use sitrep_domain::Permissions;
use sitrep_domain::validation::TextRule;
use sitrep_types::{CreatePeer, Peer, PeerCredentials, PeerHealth, UpdatePeer};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{ActorKind, Caller, Principal, SecretariatOnly};
use crate::state::AppState;

endpoints! {
    "/peers" { GET "peer.list" => list_peers, POST "peer.create" => create_peer }
    "/peers/{id}" { GET "peer.view" => get_peer, PATCH "peer.update" => update_peer }
    "/peers/{id}/poll" { POST "peer.poll_now" => poll_peer }
}

const NOT_FOUND: ApiError = ApiError::NotFound { code: "peer_not_found" };

// The rules of a peer's fields, as the checks below read them and as the OpenAPI document
// states them (`crate::constraints`); the tests hold each pattern to its check.
/// A peer's name.
pub const NAME: TextRule = TextRule::line(1, 200);
/// An API root's longest form, in bytes.
pub const API_ROOT_MAX: usize = 2048;
/// An API root as the document states it: `https://`, no query or fragment, ending with
/// `/`, at most [`API_ROOT_MAX`] bytes (the outbound rules are checked besides).
pub const API_ROOT_PATTERN: &str = "^https://[^?#]{0,2039}/$";
/// A collection id: letters, digits, `-`, `_` and `.`, 1 to 200 of them.
pub const COLLECTION_ID_PATTERN: &str = "^[A-Za-z0-9._-]{1,200}$";
/// Seconds between polls.
pub const POLL_INTERVAL_SECS: (u32, u32) = (10, 86_400);
/// A credential's secret: 1 to 4096 printable ASCII characters.
pub const SECRET_PATTERN: &str = "^[!-~]{1,4096}$";
/// A Basic user name: 1 to 200 printable ASCII characters but `:`.
pub const USERNAME_PATTERN: &str = "^[!-9;-~]{1,200}$";
/// A CA certificate's longest PEM, in bytes: room for a chain of a dozen certificates, and
/// half the request body's limit, so that a PEM one byte too long is answered `422` with
/// the field named, not `413` for the whole body (its line breaks are escaped in JSON).
pub const CA_PEM_MAX: usize = 32 * 1024;
const _: () = assert!(2 * CA_PEM_MAX <= crate::body::BODY_LIMIT);

fn collection_id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn secret_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4096 && s.chars().all(|c| c.is_ascii_graphic())
}

fn username_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_graphic() && c != ':')
}
const NAME_TAKEN: &str = "Another peer has this name.";

fn view(row: PeerRow) -> Peer {
    Peer {
        id: row.id,
        name: row.name,
        api_root: row.api_root,
        collection_id: row.collection_id,
        organisation_id: row.organisation_id,
        service_account_id: row.service_account_id,
        has_credentials: row.sealed_credentials.is_some(),
        ca_pem: row.ca_pem,
        poll_interval_secs: row.poll_interval_secs,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
        health: PeerHealth {
            last_poll_at: row.last_poll_at,
            last_success_at: row.last_success_at,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
            next_poll_at: row.next_poll_at,
            objects_imported: row.objects_imported,
            objects_refused: row.objects_refused,
            pages_imported: row.pages_imported,
            added_after: row.added_after,
            paging: row.next_page.is_some(),
        },
    }
}

/// A configuration as it will be stored, checked.
struct Checked {
    name: String,
    api_root: String,
    collection_id: String,
    organisation_id: Uuid,
    service_account_id: Uuid,
    ca_pem: Option<String>,
    poll_interval_secs: i32,
    active: bool,
}

impl Checked {
    fn config(&self) -> PeerConfig<'_> {
        PeerConfig {
            name: &self.name,
            api_root: &self.api_root,
            collection_id: &self.collection_id,
            organisation_id: self.organisation_id,
            service_account_id: self.service_account_id,
            ca_pem: self.ca_pem.as_deref(),
            poll_interval_secs: self.poll_interval_secs,
            active: self.active,
        }
    }
}

/// Every rule of a peer's configuration: the API root obeys the webhooks' outbound
/// rules; the service account may write to the organisation's inbox; the CA is PEM.
async fn check(c: &impl sitrep_db::GenericClient, state: &AppState, p: Checked) -> Result<Checked, ApiError> {
    NAME.check("name", &p.name).map_err(|e| ApiError::Invalid(e.into()))?;
    if p.api_root.len() > API_ROOT_MAX || !p.api_root.ends_with('/') {
        return Err(ApiError::invalid(
            "api_root",
            "invalid_value",
            "an https:// URL ending with / of at most 2048 characters",
        ));
    }
    state
        .webhooks
        .check_target(&p.api_root)
        .map_err(|e| ApiError::invalid("api_root", "target_refused", &e.to_string()))?;
    if reqwest::Url::parse(&p.api_root).is_ok_and(|u| u.query().is_some() || u.fragment().is_some()) {
        return Err(ApiError::invalid("api_root", "invalid_value", "no query or fragment"));
    }
    if !collection_id_ok(&p.collection_id) {
        return Err(ApiError::invalid("collection_id", "invalid_value", "letters, digits, - _ . (at most 200)"));
    }
    if !(i64::from(POLL_INTERVAL_SECS.0)..=i64::from(POLL_INTERVAL_SECS.1)).contains(&i64::from(p.poll_interval_secs)) {
        return Err(ApiError::invalid("poll_interval_secs", "out_of_range", "10 to 86400 seconds"));
    }
    if let Some(pem) = &p.ca_pem {
        let ok = pem.len() <= CA_PEM_MAX
            && pem.contains("-----BEGIN CERTIFICATE-----")
            && reqwest::Certificate::from_pem(pem.as_bytes()).is_ok();
        if !ok {
            return Err(ApiError::invalid("ca_pem", "invalid_value", "a PEM certificate of at most 32 KiB"));
        }
    }
    let Some(account) = db::importer(c, p.service_account_id, p.organisation_id).await? else {
        return Err(ApiError::invalid(
            "service_account_id",
            "unknown_service_account",
            "no active service account of that active organisation has this id",
        ));
    };
    let principal = Principal {
        user_id: p.service_account_id,
        username: account.username,
        organisation_id: p.organisation_id,
        membership_id: account.membership_id,
        actor: ActorKind::ServiceAccount,
        session_id: None,
        api_key_id: None,
        restriction: None,
        permissions: Permissions::new(p.organisation_id, account.reach, account.roles),
    };
    if !crate::taxii::writes_inbox(&principal) {
        return Err(ApiError::invalid(
            "service_account_id",
            "cannot_write_inbox",
            "the service account needs the author or approver role",
        ));
    }
    Ok(p)
}

fn check_credentials(c: &PeerCredentials) -> Result<(), ApiError> {
    if !secret_ok(&c.secret) {
        return Err(ApiError::invalid("credentials.secret", "invalid_value", "1 to 4096 printable characters"));
    }
    if c.username.as_deref().is_some_and(|u| !username_ok(u)) {
        return Err(ApiError::invalid("credentials.username", "invalid_value", "1 to 200 printable characters, no :"));
    }
    Ok(())
}

fn sealed(state: &AppState, id: Uuid, c: Option<&PeerCredentials>) -> Result<Option<Vec<u8>>, ApiError> {
    c.map(|c| {
        check_credentials(c)?;
        crate::peers::seal_credentials(state, id, c).map_err(ApiError::Internal)
    })
    .transpose()
}

/// The peers, with their health. Never their credentials.
#[utoipa::path(
    get, path = "/api/v1/peers", tag = "taxii",
    security(("bearer" = [])), responses((status = 200, body = Vec<Peer>), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn list_peers(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let rows = db::list(&client).await?;
    let ids = rows.iter().map(|r| r.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("taxii_peer", ids)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(view).collect::<Vec<_>>()))
}

/// Configure a peer to pull from. Its first poll is at once.
#[utoipa::path(
    post, path = "/api/v1/peers", tag = "taxii",
    security(("bearer" = [])), request_body = CreatePeer,
    responses((status = 201, body = Peer), AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures)
)]
pub async fn create_peer(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    body: Json<CreatePeer>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let interval = i32::try_from(b.poll_interval_secs).unwrap_or(i32::MAX);
    let p = check(
        &tx,
        &state,
        Checked {
            name: b.name.trim().to_owned(),
            api_root: b.api_root,
            collection_id: b.collection_id,
            organisation_id: b.organisation_id,
            service_account_id: b.service_account_id,
            ca_pem: b.ca_pem,
            poll_interval_secs: interval,
            active: b.active,
        },
    )
    .await?;
    let id = Uuid::new_v4();
    let credentials = sealed(&state, id, b.credentials.as_ref())?;
    let row = db::insert(&tx, id, &p.config(), credentials.as_deref(), caller.user_id)
        .await?
        .ok_or_else(|| ApiError::Conflict { code: "peer_name_taken", detail: NAME_TAKEN.into() })?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("taxii_peer", id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(view(row)))
}

/// One peer, with its health.
#[utoipa::path(
    get, path = "/api/v1/peers/{id}", tag = "taxii",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Peer), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn get_peer(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let row = db::get(&client, id).await?.ok_or(NOT_FOUND)?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("taxii_peer", id)).await?;
    Ok(HttpResponse::Ok().json(view(row)))
}

/// Change a peer: what is present changes. A new API root, collection or organisation
/// starts pulling from the beginning; new credentials replace the old. An API root on
/// another server (scheme, host or port) or another CA certificate, without new
/// credentials, drops the old ones.
#[utoipa::path(
    patch, path = "/api/v1/peers/{id}", tag = "taxii",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdatePeer,
    responses((status = 200, body = Peer), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn update_peer(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    id: web::Path<Uuid>,
    body: Json<UpdatePeer>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let b = body.0;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let current = db::lock(&tx, id).await?.ok_or(NOT_FOUND)?;
    let old_origin = origin(&current.api_root);
    let old_ca = current.ca_pem.clone();
    let p = check(
        &tx,
        &state,
        Checked {
            name: b.name.map(|n| n.trim().to_owned()).unwrap_or(current.name),
            api_root: b.api_root.unwrap_or(current.api_root),
            collection_id: b.collection_id.unwrap_or(current.collection_id),
            organisation_id: b.organisation_id.unwrap_or(current.organisation_id),
            service_account_id: b.service_account_id.unwrap_or(current.service_account_id),
            ca_pem: b.ca_pem.unwrap_or(current.ca_pem),
            poll_interval_secs: b
                .poll_interval_secs
                .map_or(current.poll_interval_secs, |s| i32::try_from(s).unwrap_or(i32::MAX)),
            active: b.active.unwrap_or(current.active),
        },
    )
    .await?;
    let credentials = sealed(&state, id, b.credentials.as_ref())?;
    // The credentials stay with their server: never sent to another one that a PATCH of
    // the API root names, nor to whoever holds a key the new CA certificate vouches for
    // on the same address (else whoever may change a peer could read them there).
    let moved = old_origin.is_none() || origin(&p.api_root) != old_origin;
    let trust_changed = p.ca_pem != old_ca;
    let row = db::update(&tx, id, &p.config(), credentials.as_deref(), moved || trust_changed)
        .await?
        .ok_or_else(|| ApiError::Conflict { code: "peer_name_taken", detail: NAME_TAKEN.into() })?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("taxii_peer", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(view(row)))
}

/// The scheme, host and port of an API root.
fn origin(api_root: &str) -> Option<reqwest::Url> {
    let mut url = reqwest::Url::parse(api_root).ok()?;
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

/// Poll a peer now (its position is kept).
#[utoipa::path(
    post, path = "/api/v1/peers/{id}/poll", tag = "taxii",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = Peer), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn poll_peer(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let row = db::poll_now(&tx, id).await?.ok_or(NOT_FOUND)?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("taxii_peer", id).status(202)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Accepted().json(view(row)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern).is_ok_and(|r| r.is_match(s))
    }

    proptest! {
        /// Each pattern the document states accepts exactly what its check accepts.
        #[test]
        fn each_stated_pattern_is_its_check(s in "[ -~:?#/]{0,12}|\\PC{0,8}|https://[a-z.:?#/]{0,20}") {
            prop_assert_eq!(matches(SECRET_PATTERN, &s), secret_ok(&s), "secret {:?}", s);
            prop_assert_eq!(matches(USERNAME_PATTERN, &s), username_ok(&s), "user name {:?}", s);
            prop_assert_eq!(matches(COLLECTION_ID_PATTERN, &s), collection_id_ok(&s), "collection {:?}", s);
            // The check's shape; whether a host is there is the outbound rules' to say.
            let api_root_ok = s.len() <= API_ROOT_MAX
                && s.len() > "https://".len()
                && s.ends_with('/')
                && s.starts_with("https://")
                && !s.contains(['?', '#']);
            prop_assert_eq!(matches(API_ROOT_PATTERN, &s), api_root_ok, "API root {:?}", s);
        }
    }
}
