//! E-mail notifications: a person's preferences, organisations' duty addresses, address
//! confirmation, and the mail log the secretariat reads (docs/notifications.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::enums::{Domain, Lang, Urgency};

/// A daily window in the person's time zone in which only `immediate` pictures are
/// mailed; the others wait for its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour, local time.
    #[schema(example = "22:00")]
    pub start: String,
    /// `HH:MM`, 24-hour, local time; before `start` means the next morning.
    #[schema(example = "07:00")]
    pub end: String,
    /// IANA time zone.
    #[schema(example = "Europe/Helsinki")]
    pub time_zone: String,
}

/// A daily digest at a local time: one message listing what the person can see and has
/// not read since the last digest (hourly too on the election day of an election that
/// asks for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    /// `HH:MM`, 24-hour, local time.
    #[schema(example = "07:00")]
    pub at: String,
    /// IANA time zone.
    #[schema(example = "Europe/Helsinki")]
    pub time_zone: String,
}

/// `PUT /api/v1/me/notifications`: the whole set of preferences (what is left out takes
/// its default).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNotificationPreferences {
    /// The address to mail. A new address is sent a confirmation link and receives
    /// nothing else until confirmed; absent or `null`: no e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Urgencies mailed (default `["immediate"]`; empty: none).
    #[serde(default = "default_urgencies")]
    pub urgencies: Vec<Urgency>,
    /// Domains mailed; empty: all.
    #[serde(default)]
    pub domains: Vec<Domain>,
    /// Elections mailed; empty: all.
    #[serde(default)]
    pub election_ids: Vec<Uuid>,
    /// Never applied to `immediate`.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// A daily digest; absent or `null`: none.
    #[serde(default)]
    pub digest: Option<Digest>,
    /// Language of the messages (default `fi`).
    #[serde(default = "default_language")]
    pub language: Lang,
}

fn default_urgencies() -> Vec<Urgency> {
    vec![Urgency::Immediate]
}

fn default_language() -> Lang {
    Lang::Fi
}

/// A person's notification preferences.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationPreferences {
    pub email: Option<String>,
    /// The address is confirmed: only then is anything mailed to it.
    pub email_confirmed: bool,
    pub urgencies: Vec<Urgency>,
    pub domains: Vec<Domain>,
    pub election_ids: Vec<Uuid>,
    pub quiet_hours: Option<QuietHours>,
    pub digest: Option<Digest>,
    pub language: Lang,
}

/// One duty address of an organisation, as set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyAddressInput {
    pub email: String,
    #[serde(default = "default_language")]
    pub language: Lang,
}

/// `PUT /api/v1/organisations/{id}/duty-addresses`: the whole list (at most 10).
/// Addresses already there keep their confirmation; new ones are sent a link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutDutyAddresses {
    pub addresses: Vec<DutyAddressInput>,
}

/// A duty address: where `immediate` publications for the organisation go, whether or
/// not any person opted in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DutyAddress {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub email: String,
    pub language: Lang,
    pub confirmed: bool,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/email-confirmations`: the token from the confirmation message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmail {
    pub token: String,
}

/// One message of the mail log (the secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MailMessage {
    pub id: Uuid,
    /// The `Message-ID` header, the same on every attempt.
    pub message_id: String,
    /// `event`, `confirmation`, `reminder` (an overdue acknowledgement, to the silent
    /// organisation's duty address), `overdue` (to the secretariat's) or `thread` (a new
    /// message in a question thread, to the other party's people in it).
    pub kind: String,
    pub event_id: Option<Uuid>,
    pub picture_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub duty_address_id: Option<Uuid>,
    pub organisation_id: Option<Uuid>,
    pub address: String,
    /// `pending`, `sent`, `failed` (the retry schedule is spent) or `suppressed` (not
    /// sent: the recipient no longer sees the picture, or no longer wants it).
    pub state: String,
    pub attempts: i32,
    /// What the last attempt came to (`sent`, `connect_failed`, `refused`, `not_visible`, …).
    pub last_outcome: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One entry of the console's notification list: an event about a picture the caller
/// sees and their preferences select. Thin, like the feed: the picture is read through
/// its own route.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboxItem {
    pub event_id: Uuid,
    /// `picture.published`, `picture.revised` or `picture.withdrawn`.
    #[serde(rename = "type")]
    pub kind: String,
    pub picture_id: Uuid,
    pub reference: String,
    pub urgency: Urgency,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

/// `GET /api/v1/me/notifications/inbox`: the newest entries of the last 30 days (at
/// most 200) and how many of them are unread.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<InboxItem>,
}

/// `POST /api/v1/me/notifications/inbox/read`: mark entries read (at most 200 ids), or
/// every entry with `all`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    #[serde(default)]
    pub event_ids: Vec<Uuid>,
    #[serde(default)]
    pub all: bool,
}

/// One step of the escalation of an overdue acknowledgement (the secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Escalation {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub reference: String,
    /// The organisation that had not acknowledged by the deadline.
    pub organisation_id: Uuid,
    pub organisation_code: String,
    /// `reminder` (its duty addresses were reminded) or `secretariat` (the secretariat's
    /// duty addresses were told).
    pub step: String,
    /// The acknowledgement deadline the step was taken against.
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Whether the organisation has acknowledged the picture since.
    pub acknowledged_since: bool,
}

/// A recipient organisation that has not acknowledged a published picture by its deadline
/// (`GET /api/v1/acknowledgements/overdue`, the secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OverdueAcknowledgement {
    pub picture_id: Uuid,
    pub reference: String,
    pub tier: crate::Tier,
    pub tlp: crate::Tlp,
    pub originator_code: String,
    pub published_at: DateTime<Utc>,
    /// The organisation that has not acknowledged.
    pub organisation_id: Uuid,
    pub organisation_code: String,
    /// When the acknowledgement was due.
    pub deadline: DateTime<Utc>,
    /// Seconds since the deadline, when the list was read.
    pub overdue_secs: i64,
    /// The escalation steps taken for it so far (`reminder`, `secretariat`).
    pub escalations: Vec<String>,
}
