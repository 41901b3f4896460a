//! What every TAXII 2.1 resource shares (docs/taxii.md): the media types, TAXII error
//! messages, the caller (`Accept` checked, then the REST API's authentication), the
//! collections a caller has (the tiers it reads, and its organisation's inbox if it may
//! write to it), and the error responses of the OpenAPI document. The read side is
//! `routes::taxii`; the inbox, which writes drafts, is `routes::pictures::inbox`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use sitrep_domain::visibility::{Viewer, in_audience};
use sitrep_stix::ids;
use sitrep_types::{TaxiiCollection, Tier};
use utoipa::IntoResponses;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Ref;
use utoipa::openapi::{RefOr, Response};
use uuid::Uuid;

use crate::error::{ApiError, AuditReason};
use crate::meta;
use crate::principal::{ActorKind, Principal};

/// The TAXII media type, of every request's `Accept` and every response.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of the content of the collections.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// The challenge of a refused TAXII request: an access token as Bearer, or a
/// service-account API key as Bearer or over HTTP Basic (what TAXII clients send).
const WWW_AUTHENTICATE: &str = "Bearer error=\"invalid_token\", Basic realm=\"sitrep-taxii\"";

// ---------------------------------------------------------------------------------------
// Errors: TAXII error messages, not problem documents.

/// A failed TAXII request, answered with a TAXII error message.
#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// `Accept` does not ask for TAXII 2.1.
    #[error("not acceptable")]
    NotAcceptable,
}

impl From<sitrep_db::DbError> for TaxiiError {
    fn from(e: sitrep_db::DbError) -> Self {
        TaxiiError::Api(e.into())
    }
}

impl From<tokio_postgres::Error> for TaxiiError {
    fn from(e: tokio_postgres::Error) -> Self {
        TaxiiError::Api(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for TaxiiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        TaxiiError::Api(e.into())
    }
}

pub fn bad_request(code: &'static str, detail: impl Into<String>) -> TaxiiError {
    TaxiiError::Api(ApiError::BadRequest { code, detail: detail.into() })
}

pub const COLLECTION_NOT_FOUND: TaxiiError = TaxiiError::Api(ApiError::NotFound { code: "collection_not_found" });
pub const OBJECT_NOT_FOUND: TaxiiError = TaxiiError::Api(ApiError::NotFound { code: "object_not_found" });

impl ResponseError for TaxiiError {
    fn status_code(&self) -> StatusCode {
        match self {
            TaxiiError::Api(e) => e.status_code(),
            TaxiiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let request_id = meta::current_request_id();
        let (title, description, code, reason) = match self {
            TaxiiError::Api(e) => {
                if status.is_server_error() {
                    tracing::error!(request_id = %request_id, error = %e, "TAXII request failed");
                }
                let (title, detail) = e.title_and_detail();
                (title, detail, e.code(), e.audit_reason())
            }
            TaxiiError::NotAcceptable => (
                "Not acceptable",
                Some(format!("Send Accept: {TAXII_MEDIA_TYPE}.")),
                "not_acceptable",
                "not_acceptable",
            ),
        };
        let body = sitrep_types::TaxiiError {
            title: title.into(),
            description,
            error_id: Some(request_id),
            error_code: Some(code.into()),
            http_status: Some(status.as_u16().to_string()),
        };
        let mut res = HttpResponse::build(status);
        res.content_type(TAXII_MEDIA_TYPE);
        if let TaxiiError::Api(e) = self {
            e.insert_headers(&mut res, WWW_AUTHENTICATE);
        }
        let mut response = res.json(body);
        response.extensions_mut().insert(AuditReason(reason));
        response
    }
}

/// `404` for a path under `/taxii2/` that no route matches.
pub async fn no_route() -> Result<HttpResponse, TaxiiError> {
    Err(TaxiiError::Api(ApiError::not_found("route_not_found")))
}

/// `405` with `Allow` for a method a TAXII resource does not offer (no Delete; Add
/// Objects only on the collections path, and only the inbox accepts it).
pub fn only(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, _>(TaxiiError::Api(ApiError::MethodNotAllowed { allow })) })
}

// ---------------------------------------------------------------------------------------
// The caller.

/// Whether `Accept` asks for TAXII 2.1: some media range is `application/taxii+json` with
/// `version=2.1`. A missing header, a missing version or another version is `406`.
pub fn accepts_taxii(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        media.eq_ignore_ascii_case("application/taxii+json")
            && parts
                .filter_map(|p| p.split_once('='))
                .any(|(k, v)| k.trim().eq_ignore_ascii_case("version") && v.trim().trim_matches('"') == "2.1")
    })
}

/// An authenticated TAXII caller who asked for TAXII 2.1. Authentication is the REST
/// API's (`Principal`): whatever credentials it accepts (Bearer access tokens,
/// service-account API keys as Bearer or over HTTP Basic), TAXII accepts, and it
/// records the actor for the access log the same way.
pub struct TaxiiCaller(pub Principal);

impl std::ops::Deref for TaxiiCaller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequest for TaxiiCaller {
    type Error = TaxiiError;
    type Future = Pin<Box<dyn Future<Output = Result<TaxiiCaller, TaxiiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let acceptable = accepts_taxii(req);
        let principal = Principal::from_request(req, payload);
        Box::pin(async move {
            if !acceptable {
                return Err(TaxiiError::NotAcceptable);
            }
            Ok(TaxiiCaller(principal.await?))
        })
    }
}

pub fn taxii_json<T: serde::Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok().content_type(TAXII_MEDIA_TYPE).json(body)
}

/// The TAXII error responses every TAXII endpoint lists.
pub struct TaxiiFailures;
impl IntoResponses for TaxiiFailures {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        failures(&[
            ("400", "An unknown, repeated or malformed parameter, or a `next` not issued for this request"),
            ("403", "The collection is the caller's inbox, which is write-only"),
        ])
    }
}

/// The TAXII error responses of Add Objects (the inbox).
pub struct TaxiiAddFailures;
impl IntoResponses for TaxiiAddFailures {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        failures(&[
            ("400", "Not JSON, or not a TAXII envelope"),
            (
                "403",
                "A tier collection (read-only), or the caller's organisation's inbox and the caller is not one of its service accounts that author",
            ),
            ("413", "The envelope is larger than max_content_length or holds more than 10,000 objects"),
            ("415", "Content-Type is not application/taxii+json;version=2.1"),
        ])
    }
}

fn failures(own: &[(&str, &str)]) -> std::collections::BTreeMap<String, RefOr<Response>> {
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    TAXII_MEDIA_TYPE,
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("TaxiiError"))).build(),
                )
                .build(),
        )
    };
    own.iter()
        .copied()
        .chain([
            ("401", "Missing, invalid, expired or revoked credentials"),
            ("404", "No such collection, object or status, or not one the caller may see"),
            ("406", "Accept does not ask for application/taxii+json;version=2.1"),
            ("500", "Internal error; the body carries only the request id as error_id"),
            ("503", "Database or access log unavailable"),
        ])
        .map(|(status, d)| (status.to_owned(), error(d)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The collections a caller has.

/// The tiers whose collections the caller reads: those `in_audience` lets it read at
/// all (`named` for the pictures naming it, and its own), none without a reading role.
pub fn tiers(p: &Principal) -> Vec<Tier> {
    let v = Viewer::from(&p.permissions);
    Tier::ALL.iter().copied().filter(|t| in_audience(&v, Uuid::nil(), *t, &[v.organisation])).collect()
}

/// Whether the caller may post to its organisation's inbox: a service account that
/// writes pictures (`Permissions::can_write_inbox`).
pub fn writes_inbox(p: &Principal) -> bool {
    p.permissions.can_write_inbox(p.actor == ActorKind::ServiceAccount)
}

/// The inbox collection of the caller's organisation: write-only.
pub fn inbox_collection(p: &Principal) -> TaxiiCollection {
    TaxiiCollection {
        id: ids::inbox(p.organisation_id),
        title: "Inbox".into(),
        description: Some(
            "STIX 2.1 reports posted here become draft pictures of this organisation, for its own review".into(),
        ),
        alias: "inbox".into(),
        can_read: false,
        can_write: true,
        media_types: vec![STIX_MEDIA_TYPE.into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn accept_must_name_taxii_2_1() {
        let ok = |v: &str| accepts_taxii(&TestRequest::default().insert_header((header::ACCEPT, v)).to_http_request());
        assert!(ok("application/taxii+json;version=2.1"));
        assert!(ok("application/json, application/taxii+json; version=\"2.1\""));
        assert!(ok("APPLICATION/TAXII+JSON;VERSION=2.1;q=0.9"));
        assert!(!ok("application/taxii+json"));
        assert!(!ok("application/taxii+json;version=2.0"));
        assert!(!ok("application/json"));
        assert!(!ok("*/*"));
        assert!(!accepts_taxii(&TestRequest::default().to_http_request()));
    }
}
