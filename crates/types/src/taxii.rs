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
    /// Collections are read-only: no content is accepted.
    pub max_content_length: u64,
}

/// A collection: one tier the caller reads. Read-only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxiiCollection {
    pub id: Uuid,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tier: `named`, `group`, `group_virt`, `group_virt_ras` or `public`.
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
