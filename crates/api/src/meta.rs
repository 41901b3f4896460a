//! Per-request facts (request id, client address, action) and the envelope middleware
//! that every response passes through: request id, security headers, and the access-log
//! record of any request under `/api/` that its handler did not record itself (denials
//! refused before the handler ran, unknown routes, bad bodies).

use std::future::{Ready, ready};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
use sitrep_db::{Client, Pool};
use tracing::Instrument;
use uuid::Uuid;

use crate::actions;
use crate::error::{ApiError, AuditReason};
use crate::principal::Principal;
use crate::state::AppState;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (`unknown` outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "unknown".into())
}

/// What the access log needs to know about the request, whatever the handler.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_addr: Option<IpAddr>,
    /// The action name of the matched route (see `actions`).
    pub action: &'static str,
    audited: Arc<AtomicBool>,
    handover: Arc<Handover>,
}

impl RequestMeta {
    /// Called by `access_log::write` once the handler's own record is written.
    pub(crate) fn mark_audited(&self) {
        self.audited.store(true, Ordering::SeqCst);
    }

    /// The meta of a request that unit tests make up.
    #[cfg(test)]
    pub(crate) fn for_tests(request_id: &str) -> RequestMeta {
        RequestMeta {
            request_id: request_id.into(),
            client_addr: None,
            action: "stream.open",
            audited: Arc::new(AtomicBool::new(false)),
            handover: Default::default(),
        }
    }

    /// A connection to the primary: the one that authenticated this request while it is
    /// still kept for it, else one from the pool. Handlers take their connection here,
    /// never from the pool directly, so that a request never waits for a second
    /// connection while it holds a first.
    pub async fn client(&self, pool: &Pool) -> Result<Client, ApiError> {
        match self.handover.take() {
            Some(client) => Ok(client),
            None => Ok(pool.get().await?),
        }
    }
}

/// The pool connection that authenticated a request, kept for its handler: one request,
/// one connection. Only for a request with no body: one with a body gives its connection
/// back while the body arrives, so a slow sender never holds a database connection.
#[derive(Default)]
pub(crate) struct Handover(Mutex<Option<Client>>);

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handover")
    }
}

impl Handover {
    fn take(&self) -> Option<Client> {
        self.0.lock().ok().and_then(|mut held| held.take())
    }

    fn keep(&self, client: Client) {
        if let Ok(mut held) = self.0.lock() {
            *held = Some(client);
        }
    }
}

#[derive(Clone, Debug)]
struct Envelope {
    request_id: String,
    client_addr: Option<IpAddr>,
    audited: Arc<AtomicBool>,
    handover: Arc<Handover>,
}

/// The client's address as the envelope decided it (the peer, or the address a trusted
/// proxy forwarded).
pub(crate) fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    match req.extensions().get::<Envelope>() {
        Some(e) => e.client_addr,
        None => req.peer_addr().map(|a| a.ip()),
    }
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let action = actions::action(req.method(), req.match_pattern().as_deref());
        let meta = req.extensions().get::<Envelope>().map(|e| RequestMeta {
            request_id: e.request_id.clone(),
            client_addr: e.client_addr,
            action,
            audited: e.audited.clone(),
            handover: e.handover.clone(),
        });
        ready(meta.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("envelope middleware missing"))))
    }
}

/// Who the request was made by, once authenticated; read when a denial is recorded.
#[derive(Clone, Debug)]
pub struct AuditActor {
    pub actor_type: ActorType,
    pub actor_id: Uuid,
    pub actor_name: String,
    pub organisation_id: Uuid,
    pub membership_id: Option<Uuid>,
    pub roles: Vec<&'static str>,
}

const CSP_API: &str = "default-src 'none'; frame-ancestors 'none'";
const CSP_DOCS: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// The console (`/app/`): its own scripts and styles only, no inline code, no framing,
/// requests to this origin only (docs/console.md). Images may also be `blob:` URLs: an
/// attachment's thumbnail is fetched with the access token, which an `<img>` cannot send,
/// and shown from a blob URL that only this page's scripts can make.
pub const CSP_APP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Who sent the request, decided by the envelope before any extractor runs; taken by the
/// `Principal` extractor.
pub(crate) struct AuthOutcome(pub(crate) Result<Principal, ApiError>);

/// Wraps every request: see the module documentation.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = Uuid::now_v7().to_string();
    let peer = req.peer_addr().map(|a| a.ip());
    let client_addr = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !state.trusted_proxies.is_empty() => state.trusted_proxies.client_address(peer, req.headers()),
        _ => peer,
    };
    let audited = Arc::new(AtomicBool::new(false));
    let handover = Arc::new(Handover::default());
    req.extensions_mut().insert(Envelope {
        request_id: request_id.clone(),
        client_addr,
        audited: audited.clone(),
        handover: handover.clone(),
    });
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    // Authenticate before the handler's extractors run, so that a request is refused
    // for who sends it before anything about its body or path is looked at.
    let held = handover.clone();
    let work = async move {
        if req.headers().contains_key(header::AUTHORIZATION) && authenticates(req.path()) {
            let outcome = Principal::authenticate(req.request().clone()).await.map(|(principal, client)| {
                if !has_body(req.method(), req.headers()) {
                    held.keep(client);
                }
                principal
            });
            req.extensions_mut().insert(AuthOutcome(outcome));
        }
        next.call(req).await
    };
    let mut res = REQUEST_ID.scope(request_id.clone(), work).instrument(span.clone()).await?;
    // A handler that did not take the connection kept for it gives it back now (the
    // record of a refused request below goes through the recorder's own connection).
    drop(handover.take());

    let path = res.request().path().to_owned();
    let docs = path == "/docs" || path.starts_with("/docs/");
    let console = path == "/app" || path.starts_with("/app/");
    let headers = res.headers_mut();
    let set = |h: &mut actix_web::http::header::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), v);
    }
    set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    let csp = if docs {
        CSP_DOCS
    } else if console {
        CSP_APP
    } else {
        CSP_API
    };
    // An API handler may set a stricter policy of its own (an attachment download adds
    // `sandbox`); every other response gets the one for its part of the site.
    if docs || console || !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        set(headers, header::CONTENT_SECURITY_POLICY, csp);
    }
    if !docs || !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    headers.remove(header::SERVER);

    let status = res.status();
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        state.metrics.observe(&route, res.request().method().as_str(), status.as_u16(), started.elapsed());
    }
    if needs_record(&path) && !audited.load(Ordering::SeqCst) {
        record_unaudited(&res, &request_id, client_addr).instrument(span.clone()).await;
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "served"
        );
    });
    Ok(res)
}

/// Requests whose caller the envelope establishes before the handler's extractors run:
/// the data routes except those that never look at a caller. Elsewhere a handler that
/// wants a caller authenticates it itself (`Principal::of`).
fn authenticates(path: &str) -> bool {
    needs_record(path)
        && !matches!(path, "/api/v1/auth/login" | "/api/v1/auth/refresh" | "/api/v1/.well-known/jwks.json")
}

/// Whether the request may have a body still to arrive: a length above zero; without a
/// length, a chunked body or a method that carries one (HTTP/2 need not send a length).
fn has_body(method: &Method, headers: &header::HeaderMap) -> bool {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => {
            headers.contains_key(header::TRANSFER_ENCODING)
                || !matches!(*method, Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS)
        }
    }
}

/// Requests that touch data: everything under `/api/` except the OpenAPI document, and
/// everything under `/taxii2/`.
fn needs_record(path: &str) -> bool {
    (path.starts_with("/api/") && path != "/api/v1/openapi.json") || path.starts_with("/taxii2/")
}

async fn record_unaudited<B>(res: &ServiceResponse<B>, request_id: &str, client_addr: Option<IpAddr>) {
    let req = res.request();
    let Some(state) = req.app_data::<web::Data<AppState>>() else { return };
    let status = res.status();
    let reason = res.response().extensions().get::<AuditReason>().map(|r| r.0.to_owned());
    let reason = if status.is_success() || status.is_redirection() {
        tracing::error!(status = status.as_u16(), "handler answered without an access-log record");
        Some("unaudited_handler".to_owned())
    } else {
        reason.or_else(|| status.canonical_reason().map(str::to_owned))
    };
    let outcome = match status.as_u16() {
        200..=399 => Outcome::Allowed,
        401 | 403 | 404 | 429 => Outcome::Denied,
        _ => Outcome::Failed,
    };
    let actor = req.extensions().get::<AuditActor>().cloned();
    let record = AccessRecord {
        request_id: request_id.to_owned(),
        actor_type: actor.as_ref().map_or(ActorType::Anonymous, |a| a.actor_type),
        actor_id: actor.as_ref().map(|a| a.actor_id),
        actor_name: actor.as_ref().map(|a| a.actor_name.clone()),
        organisation_id: actor.as_ref().map(|a| a.organisation_id),
        membership_id: actor.as_ref().and_then(|a| a.membership_id),
        roles: actor.as_ref().map(|a| a.roles.clone()).unwrap_or_default(),
        action: actions::action(req.method(), req.match_pattern().as_deref()).to_owned(),
        object_type: None,
        // The path as sent, refused or not: PostgreSQL cannot store a NUL (`%00`).
        object_id: req
            .match_info()
            .get("id")
            .map(|s| s.chars().take(64).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()),
        object_revision: None,
        object_ids: None,
        tier: None,
        tlp: None,
        outcome,
        reason,
        http_status: status.as_u16(),
        client_addr,
    };
    if let Err(e) = state.recorder.record(record).await {
        tracing::error!(error = %e, "could not write the access-log record of a refused request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> header::HeaderMap {
        let mut h = header::HeaderMap::new();
        for (name, value) in pairs {
            h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn only_a_request_without_a_body_keeps_its_connection_for_the_handler() {
        assert!(!has_body(&Method::GET, &headers(&[])));
        assert!(!has_body(&Method::POST, &headers(&[("content-length", "0")])));
        assert!(has_body(&Method::POST, &headers(&[])));
        assert!(has_body(&Method::PATCH, &headers(&[("content-length", "2048")])));
        assert!(has_body(&Method::GET, &headers(&[("transfer-encoding", "chunked")])));
        assert!(has_body(&Method::GET, &headers(&[("content-length", "5")])));
    }
}
