//! The error body of every failed request: RFC 9457 `application/problem+json`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An RFC 9457 problem document. `code` is stable and meant for programs; `title` and
/// `detail` are for people and may change. `5xx` bodies never carry internal detail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` style URN).
    #[serde(rename = "type")]
    #[schema(example = "urn:sitrep:problem:invalid_token")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable, snake_case error code.
    #[schema(example = "invalid_token")]
    pub code: String,
    /// The `X-Request-Id` of the request, to quote when reporting it.
    pub request_id: String,
    /// Field errors, on `422`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One rejected field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path below the body or the query (`roles[1]`, `name.fi`).
    #[schema(example = "username")]
    pub field: String,
    /// Stable, snake_case reason.
    #[schema(example = "too_long")]
    pub code: String,
    pub message: String,
}
