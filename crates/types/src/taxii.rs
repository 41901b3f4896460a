//! TAXII 2.1 resources (OASIS TAXII 2.1 §4–5), as Sitrep serves them under `/taxii2/`.
//! Media type `application/taxii+json;version=2.1`; timestamps with microseconds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `GET /taxii2/`: the server and its API root.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiDiscovery {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub api_roots: Vec<String>,
}

/// `GET /taxii2/api/`: the API root.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiApiRoot {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub versions: Vec<String>,
    /// The largest body the organisation's inbox accepts, in bytes.
    pub max_content_length: u64,
}

/// A collection: one tier the caller reads (read-only), or the caller's organisation's
/// inbox (write-only, for its service accounts with the author role).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiCollection {
    pub id: Uuid,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tier: `named`, `group`, `group_virt`, `group_virt_ras` or `public`; `inbox`
    /// for the organisation's inbox.
    pub alias: String,
    pub can_read: bool,
    pub can_write: bool,
    pub media_types: Vec<String>,
}

/// `GET /taxii2/api/collections/`. Without collections the list is left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiCollections {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collections: Option<Vec<TaxiiCollection>>,
}

/// A page of STIX 2.1 objects. An empty page leaves `objects` out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiEnvelope {
    pub more: bool,
    /// Repeat the same request with `next=` this value for the following page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// STIX 2.1 objects (`report`, `indicator`, `attack-pattern`, `language-content`,
    /// `identity`, `marking-definition`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub objects: Option<Vec<serde_json::Value>>,
}

/// One object version in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiManifestRecord {
    pub id: String,
    pub date_added: String,
    pub version: String,
    pub media_type: String,
}

/// A page of a collection's manifest. An empty page leaves `objects` out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiManifest {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<TaxiiManifestRecord>>,
}

/// A page of an object's versions (its `modified` timestamps).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiVersions {
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<String>>,
}

/// The TAXII error message of every failed TAXII request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiError {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// A stable snake_case code, as in the REST API's problem documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The HTTP status, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<String>,
}

/// One object version in a status resource: what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaxiiStatusDetail {
    /// The STIX id.
    pub id: String,
    /// Its `modified` (or `created`), as received; absent for a cyber observable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The status resource of one `POST …/objects/` to an inbox (TAXII 2.1 §4.3.1). An
/// import is done when it is answered: `status` is always `complete`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiStatus {
    pub id: Uuid,
    pub status: String,
    /// When the envelope was received (microseconds, UTC).
    pub request_timestamp: String,
    pub total_count: u64,
    pub success_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub successes: Vec<TaxiiStatusDetail>,
    pub failure_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<TaxiiStatusDetail>,
    pub pending_count: u64,
}
