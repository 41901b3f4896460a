//! Subscriptions, deliveries and the webhook host allow-list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::enums::{Domain, Kind, Severity};

/// What a subscription selects; empty lists select everything. Recalls always reach
/// the subscription, whatever the filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionFilter {
    #[serde(default)]
    pub domains: Vec<Domain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub election_ids: Vec<Uuid>,
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Only exercises (`true`), only real events (`false`), or both (absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_exercise: Option<bool>,
}

/// `POST /api/v1/subscriptions`: the secretariat for any organisation, an `org_admin`
/// for its own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// Defaults to the caller's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<Uuid>,
    /// 1–200 characters.
    pub name: String,
    /// `https://` URL on a host of the allow-list. Without it the subscription is a
    /// feed subscription (no push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub filter: SubscriptionFilter,
}

/// `PATCH /api/v1/subscriptions/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Issue a new secret; the previous one keeps signing too until the next rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_secret: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    /// `webhook` or `feed`.
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    pub filter: SubscriptionFilter,
    pub active: bool,
    /// Set when deliveries exhausted their retries; cleared by a success or a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The signing secret (`whsec_…`): only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<i16>,
    /// `delivered`, `http_error`, `redirect_refused`, `timeout`, `connect_failed`,
    /// `target_refused`, `not_visible`, …
    pub outcome: String,
    pub duration_ms: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// The picture a `picture.*` event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_id: Option<Uuid>,
    /// The report a `report.*` event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<Uuid>,
    /// `pending`, `delivered`, `failed` or `dropped` (no longer visible to the subscriber).
    pub state: String,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// `POST /api/v1/subscriptions/{id}/replay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Also send again what was delivered (default: only what failed).
    #[serde(default)]
    pub delivered: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Replayed {
    pub queued: u64,
}

/// A host webhooks may be sent to (secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookHost {
    /// A DNS name or address, lower case.
    pub host: String,
}
