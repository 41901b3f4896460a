//! Organisations, users, memberships and the caller's own view of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::LocalizedText;

/// Which tiers an organisation reads besides its own pictures and `public`
/// (docs/pictures.md, "Who sees what"): `member` reads `group` and wider, `virt` reads `group_virt` and wider,
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

/// A role held through a membership (what each may: docs/auth.md).
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

    pub const fn as_str(self) -> &'static str {
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
    /// A one-time password: the person must choose their own at the first sign-in.
    /// 15–128 characters, not the username or a variant of it, not a common or breached
    /// password.
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
    /// A new one-time password (the rules of `CreateUser.password`): revokes all the
    /// user's sessions, and the person must choose their own at the next sign-in.
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
    /// `user` or `service_account`.
    pub actor_type: String,
    /// The organisation this session acts for.
    pub organisation: Organisation,
    /// Roles held in that organisation now.
    pub roles: Vec<Role>,
    /// All of the user's memberships in force now, in any organisation.
    pub memberships: Vec<Membership>,
    /// The password is a one-time password an administrator set: until it is changed
    /// (`POST /api/v1/me/password`) every other route answers `403`
    /// `password_change_required`.
    pub password_change_required: bool,
    /// The language the person chose for the console and for picture texts (`fi`, `sv`,
    /// `en`); `null` until they choose (`PUT /api/v1/me/language`).
    pub language: Option<crate::Lang>,
    /// The time zone the console shows dates and times in (the deployment's
    /// `console.time_zone`, an IANA name; `Europe/Helsinki` by default).
    pub time_zone: String,
}

/// `PUT /api/v1/me/language`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLanguage {
    pub language: crate::Lang,
}

/// Who switched a policy on: the secretariat (then only the secretariat switches it off)
/// or the organisation's own `org_admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicySetBy {
    Secretariat,
    Organisation,
}

impl PolicySetBy {
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicySetBy::Secretariat => "secretariat",
            PolicySetBy::Organisation => "organisation",
        }
    }

    pub fn parse(s: &str) -> Option<PolicySetBy> {
        [PolicySetBy::Secretariat, PolicySetBy::Organisation].into_iter().find(|b| b.as_str() == s)
    }
}

/// The policies of an organisation (`GET`/`PATCH /api/v1/organisations/{id}/policy`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrganisationPolicy {
    /// Every publish needs an approver who did not write the revision (four eyes).
    pub require_review: bool,
    /// Who switched `require_review` on; `null` while it is off. What the secretariat
    /// switched on, only the secretariat switches off.
    pub require_review_set_by: Option<PolicySetBy>,
    /// Every person acting for the organisation logs in with TOTP; until enrolled, a
    /// person can do nothing but enrol.
    pub require_totp: bool,
    /// Who switched `require_totp` on; `null` while it is off.
    pub require_totp_set_by: Option<PolicySetBy>,
    /// Client address ranges (CIDR, e.g. `192.0.2.0/24`) every API key of the
    /// organisation's service accounts must be used from; empty: any.
    pub service_account_ranges: Vec<String>,
}

/// `PATCH /api/v1/organisations/{id}/policy` (the secretariat, or the organisation's
/// `org_admin`). Fields left out keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganisationPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_review: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_totp: Option<bool>,
    /// At most 32 ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ranges: Option<Vec<String>>,
}

/// A machine client of one organisation (its SOC tooling, a TAXII client). It holds
/// roles like a user's but cannot log in with a password: it uses API keys.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccount {
    pub id: Uuid,
    pub organisation_id: Uuid,
    /// Unique within the organisation.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `false`: every key of the account is refused.
    pub active: bool,
    /// Roles held now (empty when its membership has ended).
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/service-accounts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    /// Default: the caller's organisation. Only the secretariat names another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<Uuid>,
    /// 3–64 characters: lower-case letters, digits, `.`, `_`, `-`.
    #[schema(example = "soc-feed")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Roles like a user's; `secretariat`, `auditor` and `sysadmin` only by the
    /// secretariat.
    pub roles: Vec<Role>,
}

/// `PATCH /api/v1/service-accounts/{id}`. New `roles` end the account's membership and
/// start a successor (history kept); `active: false` refuses all its keys at once.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
}

/// An API key of a service account, as stored: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub service_account_id: Uuid,
    pub name: String,
    /// The visible start of the key, e.g. `sitrep_live_ab12cd34ef`.
    pub prefix: String,
    /// Client address ranges (CIDR) the key may be used from; empty: any allowed by the
    /// organisation's policy.
    pub allowed_ranges: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_addr: Option<String>,
}

/// `POST /api/v1/service-accounts/{id}/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1–100 characters, e.g. what uses the key.
    pub name: String,
    /// When the key stops working; in the future, at most 366 days ahead.
    pub expires_at: DateTime<Utc>,
    /// At most 32 CIDR ranges, e.g. `192.0.2.0/24`.
    #[serde(default)]
    pub allowed_ranges: Vec<String>,
}

/// A new API key. `key` is shown this once and never again: store it now. Use it as
/// `Authorization: Bearer <key>`, or as the password of HTTP Basic (TAXII clients).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: String,
    pub api_key: ApiKey,
}

/// `POST /api/v1/me/totp`: an enrolment waiting for its confirmation code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/...` URI: the content of the QR code.
    pub otpauth_uri: String,
}

/// A TOTP code from the authenticator app (6 digits).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    #[schema(example = "123456")]
    pub code: String,
}

/// Single-use recovery codes, shown once. Each replaces a TOTP code at one login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// The caller's second factor (`GET /api/v1/me/totp`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpStatus {
    /// A confirmed TOTP credential exists: login asks for a code.
    pub enabled: bool,
    /// The caller's organisation requires TOTP.
    pub required: bool,
    pub recovery_codes_left: i64,
}
