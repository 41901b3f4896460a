//! TAXII peers the secretariat configures and a worker pulls from (docs/taxii.md,
//! "Peers"). Credentials are write-only: no answer carries them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// How Sitrep authenticates to a peer: HTTP Basic with `username` and `secret`, or,
/// without `username`, `Authorization: Bearer <secret>`. Never returned; its `Debug`
/// shows no secret.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub secret: String,
}

impl std::fmt::Debug for PeerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerCredentials(..)")
    }
}

fn default_interval() -> u32 {
    300
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/peers` (the secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePeer {
    /// 1–200 characters, unique.
    pub name: String,
    /// The peer's TAXII 2.1 API root: an `https://` URL ending with `/`, under the same
    /// outbound rules as webhooks.
    pub api_root: String,
    /// The id of the peer's collection to pull.
    pub collection_id: String,
    /// The organisation whose drafts the received reports become.
    pub organisation_id: Uuid,
    /// A service account of that organisation with the `author` or `approver` role: the
    /// import acts as it, as if it had posted to the organisation's inbox.
    pub service_account_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PeerCredentials>,
    /// PEM of the CA the peer's certificate chains to, if not a public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// 10–86,400 seconds; default 300.
    #[serde(default = "default_interval")]
    pub poll_interval_secs: u32,
    #[serde(default = "yes")]
    pub active: bool,
}

/// `PATCH /api/v1/peers/{id}`: what is present changes. A new `api_root`,
/// `collection_id` or `organisation_id` starts pulling from the beginning (what the
/// organisation received is not imported twice), and a poll under way then writes
/// nothing more. `credentials` replaces the credentials; a new server (scheme, host or
/// port of `api_root`) or a new `ca_pem` without new `credentials` drops them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PeerCredentials>,
    /// A new CA certificate; `null` removes it (the system roots remain).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable)]
    pub ca_pem: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// A field that is present, `null` included (`Some(None)`); absent is the `default`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// How a peer's polling goes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeerHealth {
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last error (kept after a later success; compare the times).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub next_poll_at: DateTime<Utc>,
    /// Object versions stored from this peer's pages.
    pub objects_imported: i64,
    /// Objects of pages that were refused (the page's status resource says why).
    pub objects_refused: i64,
    pub pages_imported: i64,
    /// The position: the peer's `X-TAXII-Date-Added-Last` of the last page read to the
    /// end, and whether a walk through pages (`next`) is under way.
    pub added_after: Option<String>,
    pub paging: bool,
}

/// A peer, without its credentials.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Peer {
    pub id: Uuid,
    pub name: String,
    pub api_root: String,
    pub collection_id: String,
    pub organisation_id: Uuid,
    pub service_account_id: Uuid,
    /// Whether credentials are set (they are never shown).
    pub has_credentials: bool,
    pub ca_pem: Option<String>,
    pub poll_interval_secs: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub health: PeerHealth,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_output() {
        let c = PeerCredentials { username: Some("user-x".into()), secret: "s3cret-value".into() };
        let create = CreatePeer {
            name: "n".into(),
            api_root: "https://peer.example/taxii2/api/".into(),
            collection_id: "c".into(),
            organisation_id: Uuid::nil(),
            service_account_id: Uuid::nil(),
            credentials: Some(c.clone()),
            ca_pem: None,
            poll_interval_secs: 300,
            active: true,
        };
        for text in [
            format!("{c:?}"),
            format!("{create:?}"),
            format!("{:?}", UpdatePeer { credentials: Some(c), ..Default::default() }),
        ] {
            assert!(!text.contains("s3cret-value") && !text.contains("user-x"), "{text}");
        }
    }
}
