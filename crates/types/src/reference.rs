//! Acknowledgements, release decisions, elections and communities.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::enums::{AckKind, Disposition, ElectionType};
use crate::picture::Originator;

/// `POST /api/v1/pictures/{id}/acknowledgements`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAcknowledgement {
    pub kind: AckKind,
    /// At most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Acknowledgement {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub revision: i32,
    pub organisation: Originator,
    pub user_id: Uuid,
    pub kind: AckKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Acknowledgements of a picture. The originator and the secretariat see every
/// recipient's; others see their own organisation's only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcknowledgementStatus {
    /// When acknowledgements are due: 1 h after publication (immediate), 4 h (priority),
    /// none (routine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    pub acknowledgements: Vec<Acknowledgement>,
    /// Recipient organisations that have not acknowledged (originator and secretariat only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<Originator>>,
    /// The deadline has passed with a recipient still pending (for others: their own).
    pub overdue: bool,
}

/// `POST /api/v1/pictures/{id}/release-decisions` (the RAS contact point).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReleaseDecision {
    pub disposition: Disposition,
    /// At most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReleaseDecision {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub revision: i32,
    pub organisation: Originator,
    pub user_id: Uuid,
    pub disposition: Disposition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An election (reference data kept by the secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Election {
    pub id: Uuid,
    /// E.g. `FI-PARL-2027`.
    pub code: String,
    pub election_type: ElectionType,
    pub name_en: String,
    /// May be unknown yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election_day: Option<NaiveDate>,
    /// Windows derived from the election day (Finnish rules): advance voting in Finland
    /// from day −11 (Wednesday) to day −5 (Tuesday), abroad day −11 to day −8; the voting
    /// register in force from day −12.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<ElectionPhases>,
    /// Digests go hourly on the election day (docs/notifications.md).
    pub hourly_digest: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ElectionPhases {
    pub voting_register_in_force: NaiveDate,
    pub advance_voting_domestic_from: NaiveDate,
    pub advance_voting_domestic_to: NaiveDate,
    pub advance_voting_abroad_from: NaiveDate,
    pub advance_voting_abroad_to: NaiveDate,
    pub election_day: NaiveDate,
}

/// `POST /api/v1/elections` (secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateElection {
    /// 3–32 characters: `A-Z`, digits, `-`.
    pub code: String,
    pub election_type: ElectionType,
    /// 1–200 characters.
    pub name_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_day: Option<NaiveDate>,
    /// Hourly digests on the election day (default false).
    #[serde(default)]
    pub hourly_digest: bool,
}

/// `PATCH /api/v1/elections/{id}` (secretariat).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateElection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_digest: Option<bool>,
}

/// A community that TLP:GREEN pictures may be shared in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Community {
    pub code: String,
    pub name_en: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/communities` (secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommunity {
    pub code: String,
    pub name_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /api/v1/techniques`: the pinned DISARM and ATT&CK technique lists, which version
/// each is, and how TAXII exports each technique.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Techniques {
    /// The DISARM Red framework list pictures name techniques from, e.g.
    /// `DISARM Red framework @49df5f6 (2025-02-10)`.
    pub disarm_version: String,
    /// DISARM's own STIX bundle whose objects TAXII exports.
    pub disarm_stix_bundle: String,
    /// The DISARM version of that bundle, e.g. `DISARM Red framework 1.3`.
    pub disarm_stix_bundle_version: String,
    /// The DISARM techniques.
    pub techniques: Vec<Technique>,
    /// The MITRE ATT&CK Enterprise list `attack_techniques` are named from, e.g.
    /// `MITRE ATT&CK Enterprise v18.1 (mitre/cti @421deac, 2025-11-13)`.
    pub attack_version: String,
    /// Its active techniques and sub-techniques, in id order.
    pub attack_techniques: Vec<AttackTechnique>,
}

/// One ATT&CK Enterprise technique or sub-technique, as MITRE's STIX has it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttackTechnique {
    /// `T1566`, `T1566.002`.
    pub id: String,
    pub name: String,
    /// Its tactics as kill-chain phase names of the `mitre-attack` kill chain
    /// (`initial-access`), in MITRE's order.
    pub phases: Vec<String>,
    /// The id of MITRE's `attack-pattern`, which TAXII exports.
    pub stix_id: String,
}

/// One DISARM technique.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Technique {
    /// `T0002`, `T0097.206`.
    pub id: String,
    pub name: String,
    /// `TA02`.
    pub tactic: String,
    /// The kill-chain phase name of the tactic in DISARM's STIX (`plan-objectives`).
    pub phase: String,
    /// The id of its `attack-pattern` in TAXII.
    pub stix_id: String,
    /// Whether that id is the one DISARM's STIX bundle gives it (otherwise Sitrep's own).
    pub in_stix_bundle: bool,
}
