//! One error type for the whole API, rendered as `application/problem+json`.
//!
//! Client errors carry a stable `code` and a safe message; server errors an opaque body.
//! The cause of a server error goes to the log, never to the client. The request id
//! comes from the task-local set by the envelope middleware.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use sitrep_db::DbError;
use sitrep_domain::FieldErrors;
use sitrep_types::{FieldError, Problem};

use crate::meta;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Field codes besides the sharing rules that name the whole problem: a `422` carrying
/// one has it as its top-level `code` (a client tells a reused `Idempotency-Key` from a
/// bad body without reading the field errors).
const REQUEST_RULES: &[&str] = &["idempotency_key_reused"];

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable access token. `reason` goes to the access log only.
    #[error("unauthenticated: {reason}")]
    Unauthenticated { reason: &'static str },
    /// Wrong username or password, or an account that may not log in: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right; the second factor is missing (`totp_required`) or wrong
    /// (`totp_invalid`).
    #[error("second factor: {code}")]
    SecondFactor { code: &'static str, detail: &'static str },
    #[error("forbidden: {code}")]
    Forbidden { code: &'static str, detail: &'static str },
    /// The object does not exist *for this caller*.
    #[error("not found: {code}")]
    NotFound { code: &'static str },
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: String },
    #[error("bad request: {code}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("precondition failed: {code}")]
    Precondition { status: u16, code: &'static str, detail: &'static str },
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// A `Range` of a download that is not within the file (or not a valid range): `416`
    /// with `Content-Range: bytes */size`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests: {code}")]
    TooManyRequests { code: &'static str, retry_after_secs: u64 },
    #[error("unavailable: {code}")]
    Unavailable { code: &'static str, retry_after_secs: u64 },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn not_found(code: &'static str) -> ApiError {
        ApiError::NotFound { code }
    }

    pub fn forbidden(detail: &'static str) -> ApiError {
        ApiError::Forbidden { code: "forbidden", detail }
    }

    /// Maps a unique-constraint violation to `409 code`, anything else as usual.
    pub fn on_unique(code: &'static str, detail: &'static str) -> impl FnOnce(DbError) -> ApiError {
        move |e| {
            if e.is_unique_violation() { ApiError::Conflict { code, detail: detail.into() } } else { e.into() }
        }
    }

    /// `409 code`: the object is not in a state that allows the request.
    pub fn conflict(code: &'static str, detail: &str) -> ApiError {
        ApiError::Conflict { code, detail: detail.into() }
    }

    pub fn invalid(field: &str, code: &'static str, message: &str) -> ApiError {
        ApiError::Invalid(sitrep_domain::Invalid::new(field, code, message).into())
    }

    /// The stable code of the problem body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated { .. } => "invalid_token",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::SecondFactor { code, .. } => code,
            ApiError::Forbidden { code, .. } => code,
            ApiError::NotFound { code } => code,
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Precondition { code, .. } => code,
            ApiError::Conflict { code, .. } => code,
            ApiError::BadRequest { code, .. } => code,
            ApiError::Invalid(fields) => fields
                .0
                .iter()
                .find_map(|e| {
                    sitrep_domain::picture::RULES
                        .iter()
                        .chain(REQUEST_RULES)
                        .chain(sitrep_domain::report::RULES)
                        .find(|r| **r == e.code)
                        .copied()
                })
                .unwrap_or("validation_failed"),
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::TooManyRequests { code, .. } => code,
            ApiError::Unavailable { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// What the access log records as the reason.
    pub fn audit_reason(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated { reason } => reason,
            other => other.code(),
        }
    }

    pub(crate) fn title_and_detail(&self) -> (&'static str, Option<String>) {
        match self {
            ApiError::Unauthenticated { .. } => {
                ("Unauthenticated", Some("The access token is missing, invalid, expired or revoked.".into()))
            }
            ApiError::InvalidCredentials => ("Invalid credentials", Some("The username or password is wrong.".into())),
            ApiError::SecondFactor { detail, .. } => ("Second factor", Some((*detail).into())),
            ApiError::Forbidden { detail, .. } => ("Forbidden", Some((*detail).into())),
            ApiError::NotFound { .. } => ("Not found", None),
            ApiError::MethodNotAllowed { allow } => {
                ("Method not allowed", Some(format!("This resource accepts: {allow}.")))
            }
            ApiError::Conflict { detail, .. } => ("Conflict", Some(detail.clone())),
            ApiError::Precondition { detail, .. } => ("Precondition failed", Some((*detail).into())),
            ApiError::BadRequest { detail, .. } => ("Bad request", Some(detail.clone())),
            ApiError::Invalid(_) => ("Invalid request", Some("One or more fields are invalid.".into())),
            ApiError::PayloadTooLarge { limit } => {
                ("Payload too large", Some(format!("The body may be at most {limit} bytes.")))
            }
            ApiError::RangeNotSatisfiable { size } => (
                "Range not satisfiable",
                Some(format!("The file has {size} bytes; ask for one range of bytes=first-last within it.")),
            ),
            ApiError::UnsupportedMediaType => {
                ("Unsupported media type", Some("Send the body as application/json.".into()))
            }
            ApiError::TooManyRequests { .. } => {
                ("Too many requests", Some("Try again after Retry-After seconds.".into()))
            }
            ApiError::Unavailable { .. } => {
                ("Service unavailable", Some("The service cannot answer now; try again shortly.".into()))
            }
            ApiError::Internal(_) => ("Internal server error", None),
        }
    }

    /// The headers an error answer carries whatever its body: `Retry-After` when it may be
    /// retried, `Allow` on `405`, `WWW-Authenticate` (`challenge`) on `401`.
    pub(crate) fn insert_headers(&self, res: &mut actix_web::HttpResponseBuilder, challenge: &'static str) {
        match self {
            ApiError::TooManyRequests { retry_after_secs, .. } | ApiError::Unavailable { retry_after_secs, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::MethodNotAllowed { allow } => {
                res.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            ApiError::Unauthenticated { .. } => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
            }
            ApiError::RangeNotSatisfiable { size } => {
                res.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            _ => {}
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        let unavailable = match &e {
            DbError::Pool(_) | DbError::Unavailable(_) => true,
            // No answer, a lost connection, or the server refusing for its own reasons:
            // 08 connection exception, 53 insufficient resources (disk full, out of
            // memory, too many connections), 57 operator intervention (shutdown,
            // terminated backend, starting up), 58 system error (I/O).
            DbError::Postgres(pg) => {
                pg.is_closed()
                    || pg
                        .code()
                        .is_none_or(|c| ["08", "53", "57", "58"].iter().any(|class| c.code().starts_with(class)))
            }
            DbError::Corrupt(_) => false,
        };
        if unavailable {
            tracing::error!(error = %e, "database unavailable");
            ApiError::Unavailable { code: "database_unavailable", retry_after_secs: 2 }
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        DbError::from(e).into()
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<sitrep_auth::HashError> for ApiError {
    fn from(e: sitrep_auth::HashError) -> Self {
        match e {
            sitrep_auth::HashError::Busy => ApiError::Unavailable { code: "login_busy", retry_after_secs: 1 },
            sitrep_auth::HashError::Internal(m) => ApiError::Internal(anyhow::anyhow!(m)),
        }
    }
}

/// The reason an error response gives the access log; read by the envelope middleware.
#[derive(Debug, Clone, Copy)]
pub struct AuditReason(pub &'static str);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated { .. } | ApiError::InvalidCredentials | ApiError::SecondFactor { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Precondition { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::PRECONDITION_FAILED)
            }
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let request_id = meta::current_request_id();
        if status.is_server_error() {
            tracing::error!(request_id = %request_id, error = %self, "request failed");
        }
        let (title, detail) = self.title_and_detail();
        let errors = match self {
            ApiError::Invalid(fields) => fields
                .0
                .iter()
                .map(|e| FieldError { field: e.field.clone(), code: e.code.into(), message: e.message.clone() })
                .collect(),
            _ => Vec::new(),
        };
        let code = self.code();
        let problem = Problem {
            type_: format!("urn:sitrep:problem:{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
            request_id,
            errors,
        };
        let mut res = HttpResponse::build(status);
        res.content_type(PROBLEM_JSON);
        self.insert_headers(&mut res, "Bearer error=\"invalid_token\"");
        let mut response = res.json(problem);
        response.extensions_mut().insert(AuditReason(self.audit_reason()));
        response
    }
}
