//! Situation reports on the wire: a set of published pictures gathered under the
//! report's own texts and handling.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::LocalizedText;
use crate::enums::*;
use crate::picture::{Originator, PictureContent};

/// The period a report covers: `from` before `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Everything an author writes about a report: the body of `POST /reports`, and what a
/// `PATCH` (a JSON merge patch, RFC 7396) changes. Each change makes a new revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportContent {
    /// The authoritative language; its title, summary and assessment are required.
    pub original_lang: Lang,
    /// At most 140 characters per language.
    pub title: LocalizedText,
    /// At most 1000 characters per language.
    pub summary: LocalizedText,
    /// The report's own assessment, Markdown, at most 20 000 characters per language.
    pub assessment: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<ReportWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_id: Option<Uuid>,
    /// The included pictures, in the order the report presents them: 1 to 200, each once.
    /// Each must be published (or later) and seen in full by the author's organisation,
    /// and its audience must hold the report's (see `tier`).
    pub pictures: Vec<Uuid>,
    /// The report's audience. Every organisation it reaches must see every included
    /// picture in full, and the TLP must be at least as strict as every picture's.
    pub tier: Tier,
    pub tlp: Tlp,
    /// Organisations that receive a `named` report (only then); shown to the report's
    /// organisation and the secretariat only.
    #[serde(default)]
    pub named_recipients: Vec<Uuid>,
}

/// One included picture as the reader sees it now, as `GET /pictures/{id}` shows it to
/// them: its content in force less the indicators and attachments whose TLP does not
/// reach the reader (counted in `redacted_indicators` and `redacted_attachments`), named
/// recipients only for the picture's originator and the secretariat, and no related
/// pictures. A picture the reader does not see in full is left out of the report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportPicture {
    pub id: Uuid,
    /// `VTY-YYYY-NNNN`.
    pub reference: String,
    pub revision: i32,
    pub status: Status,
    pub originator: Originator,
    pub severity: Severity,
    /// When the picture was first published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// True when the picture's `valid_until` has passed.
    pub expired: bool,
    pub redacted_indicators: u32,
    pub redacted_attachments: u32,
    #[serde(flatten)]
    pub content: PictureContent,
}

/// A report as its audience reads it: the revision in force, and its pictures as the
/// reader sees them now (a picture the reader no longer sees is left out).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub id: Uuid,
    /// `REP-YYYY-NNNN`.
    pub reference: String,
    pub revision: i32,
    pub status: Status,
    pub originator: Originator,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// A revision proposed and waiting for review, if any (originator only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_revision: Option<i32>,
    /// The included pictures the reader sees, in the report's order.
    pub included: Vec<ReportPicture>,
    #[serde(flatten)]
    pub content: ReportContent,
}

/// One entry of the report list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportListItem {
    pub id: Uuid,
    pub reference: String,
    pub revision: i32,
    pub status: Status,
    pub originator: Originator,
    pub tier: Tier,
    pub tlp: Tlp,
    pub title: LocalizedText,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
}
