//! Situation pictures on the wire.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::LocalizedText;
use crate::enums::*;

/// Everything an author writes about a picture: the body of `POST /pictures`, and what
/// a `PATCH` (a JSON merge patch, RFC 7396) changes. Each change makes a new revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PictureContent {
    pub kind: Kind,
    #[serde(default)]
    pub is_exercise: bool,
    pub primary_domain: Domain,
    /// All domains concerned; must contain `primary_domain`.
    pub domains: Vec<Domain>,
    /// The authoritative language; its title and summary are required.
    pub original_lang: Lang,
    /// At most 140 characters per language.
    pub title: LocalizedText,
    /// At most 1000 characters per language ("bottom line up front").
    pub summary: LocalizedText,
    /// Markdown, at most 20 000 characters per language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<LocalizedText>,
    pub impact_on_conduct: Impact,
    pub impact_on_public_confidence: Impact,
    /// Overrides the severity derived from the larger impact; needs a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_override: Option<SeverityOverride>,
    pub urgency: Urgency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlook: Option<Outlook>,
    pub source_reliability: SourceReliability,
    pub information_credibility: Credibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_id: Option<Uuid>,
    /// Required when `election_id` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_phase: Option<ElectionPhase>,
    pub geo_scope: GeoScope,
    /// `FI-VP-01`…`FI-VP-13`, `FI-KU-nnn`, `FI-MK-nn`, `FI-HVA-nn`, or ISO 3166-1 alpha-2;
    /// required unless `geo_scope` is `national`.
    #[serde(default)]
    pub geo_codes: Vec<String>,
    /// At least one.
    pub targets: Vec<Target>,
    pub actor_type_suspected: ActorType,
    pub attribution_confidence: AttributionConfidence,
    #[serde(default)]
    pub attribution_releasable: bool,
    /// DISARM technique ids from the pinned list; at least one when `domains` has
    /// `information_influence`.
    #[serde(default)]
    pub disarm_techniques: Vec<String>,
    /// MITRE ATT&CK technique ids (`T1498`, `T1566.002`); only with the `cyber` domain.
    #[serde(default)]
    pub attack_techniques: Vec<String>,
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    /// At least one.
    pub sources: Vec<Source>,
    #[serde(default)]
    pub recommended_actions: Vec<RecommendedAction>,
    pub tlp: Tlp,
    /// Code of the community a GREEN picture may be shared in (e.g. `FI-ELECSEC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp_community: Option<String>,
    pub tier: Tier,
    /// Organisations that receive a `named` picture (only then).
    #[serde(default)]
    pub named_recipients: Vec<Uuid>,
    pub classification: Classification,
    /// The legal basis of secrecy; required unless `unclassified_public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrecy_basis: Option<String>,
    #[serde(default)]
    pub originator_consents: Consents,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub related: Vec<Related>,
    /// Files attached to this revision (`POST /pictures/{id}/attachments` adds one). In a
    /// patch, the list as it should be: an entry left out is removed from the next
    /// revision; only `tlp` and `description` may change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file attached to a picture's revision. Its own TLP is the picture's or stricter;
/// download it at `/api/v1/pictures/{picture}/attachments/{id}/content`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub id: Uuid,
    /// The name it was uploaded with (at most 255 characters).
    pub file_name: String,
    /// The declared media type, which the content was found to match.
    pub media_type: String,
    /// Bytes, as stored and downloaded.
    pub size: i64,
    /// SHA-256 of the content as stored and downloaded, lower-case hex.
    pub sha256: String,
    /// For an image: the SHA-256 of the file as it was uploaded, before its metadata
    /// (EXIF, GPS, XMP, comments) was stripped. The original is not kept; `size` and
    /// `sha256` are the stripped file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_sha256: Option<String>,
    pub tlp: Tlp,
    /// At most 1000 characters per language.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub description: LocalizedText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityOverride {
    pub severity: Severity,
    pub reason: String,
}

/// What the originating organisation consents to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consents {
    #[serde(default)]
    pub police: bool,
    #[serde(default)]
    pub virt: bool,
    #[serde(default)]
    pub ras: bool,
    #[serde(default)]
    pub public: bool,
}

/// A technical or content indicator. Its own TLP is the picture's or stricter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub type_: IndicatorType,
    /// At most 2048 characters.
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    pub tlp: Tlp,
}

/// Where information came from, with its own Admiralty rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub source_type: SourceType,
    /// At most 500 characters.
    pub description: String,
    pub reliability: SourceReliability,
    pub credibility: Credibility,
    /// Only for open sources; `https://` or `http://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendedAction {
    /// At most 2000 characters per language.
    pub text: LocalizedText,
    pub audience: ActionAudience,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_category: Option<ResponseCategory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Related {
    pub relation: Relation,
    pub picture_id: Uuid,
}

/// The organisation that posted a picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Originator {
    pub id: Uuid,
    pub code: String,
}

/// A picture as its audience reads it: the revision in force, with indicators the
/// caller may not see left out (`redacted_indicators` counts them). `named_recipients`
/// appear only to the originator and the secretariat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Picture {
    pub id: Uuid,
    /// `VTY-YYYY-NNNN`.
    pub reference: String,
    pub revision: i32,
    pub status: Status,
    pub originator: Originator,
    pub severity: Severity,
    /// True when the picture's `valid_until` has passed.
    pub expired: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// A revision proposed and waiting for review, if any (originator only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_revision: Option<i32>,
    pub redacted_indicators: u32,
    /// Attachments left out because their TLP does not reach the caller.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redacted_attachments: u32,
    /// `details` rendered from Markdown to sanitised HTML, per language: raw HTML in the
    /// text is shown as text, links keep only `http`, `https` and `mailto` addresses with
    /// `rel="noopener noreferrer"`, images are left out. Absent when there are no details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_html: Option<LocalizedText>,
    #[serde(flatten)]
    pub content: PictureContent,
}

/// The answer to an upload: the attachment, and the picture as the upload left it (the
/// attachment is in its revision in force, or in the revision proposed for review).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentUploaded {
    pub attachment: Attachment,
    pub picture: PictureView,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the secretariat sees of a picture whose audience it is not in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PictureMetadata {
    pub id: Uuid,
    pub reference: String,
    pub revision: i32,
    pub status: Status,
    pub originator: Originator,
    pub tier: Tier,
    pub tlp: Tlp,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
}

/// One entry of a list or search: metadata and the texts of the list view. For the
/// secretariat outside the audience, the texts are absent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PictureListItem {
    #[serde(flatten)]
    pub metadata: PictureMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_exercise: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<LocalizedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<LocalizedText>,
    /// Its `valid_until` has passed (absent where only the metadata is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
}

/// One revision in a picture's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevisionInfo {
    pub revision: i32,
    /// `draft`, `in_review`, `approved`, `published`, `superseded` or `rejected`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub tier: Tier,
    pub tlp: Tlp,
    /// Only for the originator and the secretariat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Uuid>,
    /// The last time this revision was returned to its author: by whom, when, and the
    /// note (only for the originator and the secretariat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_note: Option<String>,
}

/// A lifecycle action's optional note.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleNote {
    /// At most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A picture as the caller may see it: the content, or (for the secretariat outside the
/// audience) its metadata only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PictureView {
    Full(Box<Picture>),
    Metadata(PictureMetadata),
}

/// An event of the feed, the stream and webhooks: thin, without content. Fetch the
/// picture (or report) with your own credentials. A `picture.recalled` event carries the
/// id alone: the picture is no longer yours to see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    /// `picture.published`, `picture.revised`, `picture.withdrawn`, `picture.recalled`,
    /// `picture.acknowledged`, `report.published` or `report.withdrawn`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The picture a `picture.*` event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_id: Option<Uuid>,
    /// The report a `report.*` event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    pub created_at: DateTime<Utc>,
}

/// A page of the pull feed. `next_cursor` is always given: ask again with it later.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedPage {
    pub events: Vec<Event>,
    pub next_cursor: String,
}

/// `GET /api/v1/pictures/{id}/related-by-indicator`: the other pictures that share an
/// indicator value with this one, among those the caller sees, through the indicators
/// it sees.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelatedByIndicator {
    /// This picture's values that correlate for the caller, each with how many other
    /// pictures the caller sees share it.
    pub values: Vec<SharedIndicator>,
    /// Those pictures, newest publication first, each with the values it shares.
    pub pictures: Vec<RelatedPicture>,
}

/// An indicator value in its normalised form (docs/pictures.md, correlation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IndicatorValue {
    #[serde(rename = "type")]
    pub type_: IndicatorType,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SharedIndicator {
    #[serde(flatten)]
    pub indicator: IndicatorValue,
    /// Other pictures the caller sees that share it, through an indicator the caller sees.
    pub pictures: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelatedPicture {
    pub id: Uuid,
    pub reference: String,
    pub shared: Vec<IndicatorValue>,
}

/// Pictures counted by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeverityCounts {
    pub low: u32,
    pub medium: u32,
    pub high: u32,
    pub critical: u32,
}

impl SeverityCounts {
    /// Adds `n` to the count of `severity`.
    pub fn add(&mut self, severity: Severity, n: u32) {
        let c = match severity {
            Severity::Low => &mut self.low,
            Severity::Medium => &mut self.medium,
            Severity::High => &mut self.high,
            Severity::Critical => &mut self.critical,
        };
        *c = c.saturating_add(n);
    }

    pub fn total(&self) -> u32 {
        self.low.saturating_add(self.medium).saturating_add(self.high).saturating_add(self.critical)
    }
}

/// One column of the summary: a local day, or a window of an election's calendar, its
/// first and last days inclusive (absent: open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SummaryWindow {
    /// The day (`2026-12-06`) or the phase (`before_register`, `register`,
    /// `advance_voting`, `before_day`, `election_day`, `after`).
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// The pictures of one domain published in one window, by severity (a picture of two
/// domains counts in each).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DomainWindowCounts {
    pub domain: Domain,
    /// The `key` of its window.
    pub window: String,
    pub counts: SeverityCounts,
}

/// The pictures naming one area code, by severity (a picture naming two codes counts
/// under each); `area` absent: the pictures naming none (national).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AreaCounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    pub counts: SeverityCounts,
}

/// `GET /api/v1/pictures/summary`: the published pictures the caller reads in full,
/// counted by domain, window and severity and by area code and severity. Only cells
/// with pictures are listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PictureSummary {
    /// The time zone the days are the deployment's local days in.
    pub time_zone: String,
    /// The election whose calendar the windows are (absent: days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election: Option<Uuid>,
    /// The columns, oldest first.
    pub windows: Vec<SummaryWindow>,
    /// How many pictures were counted (each once, whatever its domains and areas).
    pub pictures: u32,
    pub by_domain: Vec<DomainWindowCounts>,
    /// Most pictures first; the national row last.
    pub by_area: Vec<AreaCounts>,
}
