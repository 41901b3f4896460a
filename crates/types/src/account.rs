//! Organisations, users, memberships and the caller's own view of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::LocalizedText;

/// Which tiers an organisation reads besides its own pictures and `public`
/// (DESIGN §3): `member` reads `group` and wider, `virt` reads `group_virt` and wider,
/// `ras_contact_point` reads `group_virt_ras` and wider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    Member,
    Virt,
    RasContactPoint,
}

impl Reach {
    pub const ALL: [Reach; 3] = [Reach::Member, Reach::Virt, Reach::RasContactPoint];

    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Member => "member",
            Reach::Virt => "virt",
            Reach::RasContactPoint => "ras_contact_point",
        }
    }

    pub fn parse(s: &str) -> Option<Reach> {
        Reach::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A role held through a membership (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Author,
    Approver,
    OrgAdmin,
    Secretariat,
    Auditor,
    Sysadmin,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Reader, Role::Author, Role::Approver, Role::OrgAdmin, Role::Secretariat, Role::Auditor, Role::Sysadmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Author => "author",
            Role::Approver => "approver",
            Role::OrgAdmin => "org_admin",
            Role::Secretariat => "secretariat",
            Role::Auditor => "auditor",
            Role::Sysadmin => "sysadmin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An organisation: a member authority or a subscriber.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    pub id: Uuid,
    /// Short code, unique, e.g. `TRAFICOM-NCSC`.
    pub code: String,
    pub name: LocalizedText,
    pub reach: Reach,
    pub active: bool,
    /// Every publish needs an approver who did not write the revision (four eyes).
    pub require_review: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/organisations` (secretariat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisation {
    /// 2–32 characters: capital letters, digits and `-`.
    #[schema(example = "TRAFICOM-NCSC")]
    pub code: String,
    /// At least one language; each at most 200 characters.
    pub name: LocalizedText,
    pub reach: Reach,
}

/// `PATCH /api/v1/organisations/{id}` (secretariat): rename or (de)activate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganisation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<LocalizedText>,
    /// `false` deactivates: its members can no longer log in or use their tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Require review (four eyes) for every publish of this organisation's pictures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_review: Option<bool>,
}

/// A person's account. Which organisations it acts for, and how, are its memberships.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The memberships the caller may see: all for the secretariat, those in its own
    /// organisation for an `org_admin`.
    pub memberships: Vec<Membership>,
}

/// `POST /api/v1/users`: a new account with its first membership.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 3–64 characters: lower-case letters, digits, `.`, `_`, `-`, `@`.
    #[schema(example = "mikko.testaaja")]
    pub username: String,
    #[schema(example = "Mikko Testaaja")]
    pub display_name: String,
    /// 15–128 characters.
    #[schema(format = Password)]
    pub password: String,
    pub organisation_id: Uuid,
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

/// `PATCH /api/v1/users/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `false` deactivates the account and revokes all its sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// A new password (15–128 characters); revokes all the user's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// A user's membership of one organisation: roles and validity. Memberships are never
/// deleted; a role change ends the old membership and starts a new one, so history is
/// kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub id: Uuid,
    pub user_id: Uuid,
    pub organisation_id: Uuid,
    pub roles: Vec<Role>,
    pub valid_from: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Whether the membership is in force now.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/users/{id}/memberships`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMembership {
    pub organisation_id: Uuid,
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

/// `PATCH /api/v1/users/{id}/memberships/{membership_id}`. Changing `roles` ends this
/// membership and answers with its successor; `end: true` ends it now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMembership {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<bool>,
}

/// `GET /api/v1/me`: who the token speaks for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// The organisation this session acts for.
    pub organisation: Organisation,
    /// Roles held in that organisation now.
    pub roles: Vec<Role>,
    /// All of the user's memberships in force now, in any organisation.
    pub memberships: Vec<Membership>,
}
