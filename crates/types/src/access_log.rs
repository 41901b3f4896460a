//! The access log as the auditor sees it: records, checkpoints, the checkpoint key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One access-log record with its place in the hash chain (docs/access-log.md). The same
/// shape is one line of the JSON Lines export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogEntry {
    /// Position in the chain: 1, 2, 3… with no gaps.
    pub seq: i64,
    /// The database clock when the record was appended (never earlier than the record before).
    pub at: DateTime<Utc>,
    pub request_id: String,
    /// `user`, `service_account`, `anonymous` or `system`.
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub organisation_id: Option<Uuid>,
    pub membership_id: Option<Uuid>,
    pub roles: Vec<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub object_revision: Option<i32>,
    /// For lists and feeds: the ids returned.
    pub object_ids: Option<Vec<Uuid>>,
    pub tier: Option<String>,
    pub tlp: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    pub reason: Option<String>,
    pub http_status: i16,
    pub client_addr: Option<String>,
    /// Hex SHA-256 of the record before (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 linking this record to `prev_hash` (see docs/access-log.md).
    pub hash: String,
}

/// A signed statement of the chain head: "the log held `seq` records, the last with
/// `hash`, at `at`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogCheckpoint {
    pub id: i64,
    pub seq: i64,
    /// Hex hash of record `seq`.
    pub hash: String,
    pub at: DateTime<Utc>,
    /// Which checkpoint key signed it (see `GET /api/v1/access-log/checkpoint-key`).
    pub key_id: String,
    /// Base64 Ed25519 signature of the checkpoint message (docs/access-log.md).
    pub signature: String,
}

/// The public key that verifies checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckpointKey {
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The raw 32-byte public key, base64.
    pub public_key: String,
}
