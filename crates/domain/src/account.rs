//! Checked account types: what `CreateUser`, `CreateOrganisation` and friends become
//! once their fields have been parsed.

use chrono::{DateTime, Utc};
use sitrep_types as wire;
use sitrep_types::{LocalizedText, Reach, Role};
use uuid::Uuid;

use crate::permissions::RoleSet;
use crate::validation::{FieldErrors, Invalid, TextRule, check_text};

/// The most roles one membership lists (each role once).
pub const MAX_ROLES: usize = Role::ALL.len();

pub use crate::password::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};

/// A login name's length.
pub const USERNAME: TextRule = TextRule::line(3, 64);
/// What a new login name may be, as the OpenAPI document states it (capitals are taken and
/// stored lower-case).
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9._@-]{3,64}$";
/// A login name as a sign-in form submits it ([`Username::check_submitted`]).
pub const SUBMITTED_USERNAME: TextRule = TextRule::line(0, usize::MAX);
/// A person's name for display.
pub const DISPLAY_NAME: TextRule = TextRule::line(1, 200);
/// An organisation's short code, as the OpenAPI document states it.
pub const ORG_CODE_PATTERN: &str = "^[A-Z][A-Z0-9-]{1,31}$";
/// Each language of an organisation's name.
pub const ORG_NAME: TextRule = TextRule::line(1, 200);
/// A service account's description (an empty one is none).
pub const SERVICE_ACCOUNT_DESCRIPTION: TextRule = TextRule::lines(1, 500);
/// An API key's name.
pub const API_KEY_NAME: TextRule = TextRule::line(1, 100);

/// A login name: 3–64 characters of `a-z 0-9 . _ - @`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(field: &str, raw: &str) -> Result<Username, Invalid> {
        let lower = raw.to_lowercase();
        USERNAME.check(field, &lower)?;
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@');
        if !lower.chars().all(allowed) {
            return Err(Invalid::new(field, "invalid_characters", "may contain only a-z, 0-9, '.', '_', '-' and '@'"));
        }
        Ok(Username(lower))
    }

    /// A submitted name as the access log shows it: the same normalisation as `parse`,
    /// but total, so that any submitted name has one.
    pub fn normalise_for_lookup(raw: &str) -> String {
        raw.trim().to_lowercase().chars().take(256).collect()
    }

    /// The confusable fold: two names with the same fold look alike (`admin`, `ADMIN`,
    /// `аdmin` with a Cyrillic `а`, `adrnin`, `ad\u{200B}min`), so no two accounts may
    /// share one, and login finds an account and keys its throttle by it. It is the UTS #39
    /// skeleton (NFD, default-ignorable characters dropped, each character replaced by its
    /// prototype from Unicode's confusables table) of the lower-cased name, lower-cased
    /// again because prototypes may be capitals (`0` becomes `O`). Total, like
    /// [`Username::normalise_for_lookup`], so that any submitted name has one.
    pub fn fold(raw: &str) -> String {
        let lower = raw.trim().to_lowercase();
        unicode_security::skeleton(&lower).flat_map(char::to_lowercase).take(256).collect()
    }

    /// What a login form may submit as a name: anything `parse` might have taken, or a
    /// lookalike of it, but no control, bidirectional or invisible character (a failed
    /// login's name is shown to auditors as submitted).
    pub fn check_submitted(field: &str, raw: &str) -> Result<(), Invalid> {
        SUBMITTED_USERNAME.check(field, raw).or_else(|e| if e.code == "not_normalised" { Ok(()) } else { Err(e) })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 15–128 characters of any kind, no composition rules, not a variant of
/// the username, not on the list of common passwords (`crate::password`). Passwords are
/// compared exactly as typed (no normalisation, no trimming).
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

impl NewPassword {
    /// A password for the account `username`; `None` while the account is not known yet
    /// (an administrator's reset is parsed before the account is read): then
    /// [`NewPassword::check_username`] must follow before it is set.
    pub fn parse(field: &str, raw: &str, username: Option<&str>) -> Result<NewPassword, Invalid> {
        crate::password::check(field, raw, username)?;
        Ok(NewPassword(raw.to_owned()))
    }

    /// The username rule, and the common-password check with the username's parts as
    /// known words.
    pub fn check_username(&self, field: &str, username: &str) -> Result<(), Invalid> {
        crate::password::check(field, &self.0, Some(username))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A person's name for display: 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(field: &str, raw: &str) -> Result<DisplayName, Invalid> {
        let trimmed = raw.trim();
        DISPLAY_NAME.check(field, trimmed)?;
        Ok(DisplayName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organisation's short code: 2–32 of `A-Z 0-9 -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgCode(String);

impl OrgCode {
    pub fn parse(field: &str, raw: &str) -> Result<OrgCode, Invalid> {
        check_text(field, raw, 2, 32, false)?;
        let ok = raw.starts_with(|c: char| c.is_ascii_uppercase())
            && raw.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(Invalid::new(
                field,
                "invalid_characters",
                "must start with A-Z and contain only A-Z, 0-9 and '-'",
            ));
        }
        Ok(OrgCode(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name in fi, sv and en: at least one present, each 1–200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgName(LocalizedText);

impl OrgName {
    pub fn parse(field: &str, raw: &LocalizedText) -> Result<OrgName, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut out = LocalizedText::default();
        for (lang, value, slot) in
            [("fi", &raw.fi, &mut out.fi), ("sv", &raw.sv, &mut out.sv), ("en", &raw.en, &mut out.en)]
        {
            if let Some(v) = value {
                let v = v.trim();
                if errors.take(ORG_NAME.check(&format!("{field}.{lang}"), v)).is_some() {
                    *slot = Some(v.to_owned());
                }
            }
        }
        if raw.fi.is_none() && raw.sv.is_none() && raw.en.is_none() {
            errors.push(Invalid::new(field, "required", "needs a name in at least one of fi, sv, en"));
        }
        errors.finish().map(|()| OrgName(out))
    }

    pub fn as_text(&self) -> &LocalizedText {
        &self.0
    }
}

/// A non-empty set of roles.
pub fn parse_roles(field: &str, raw: &[Role]) -> Result<RoleSet, Invalid> {
    if raw.is_empty() {
        return Err(Invalid::new(field, "required", "needs at least one role"));
    }
    if raw.len() > MAX_ROLES {
        return Err(Invalid::new(field, "too_many", "lists a role more than once"));
    }
    Ok(raw.iter().copied().collect())
}

fn future(field: &str, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Invalid> {
    match at {
        Some(t) if t <= now => Err(Invalid::new(field, "not_in_future", "must be in the future")),
        other => Ok(other),
    }
}

/// A checked `CreateOrganisation`.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub code: OrgCode,
    pub name: OrgName,
    pub reach: Reach,
}

impl TryFrom<wire::CreateOrganisation> for NewOrganisation {
    type Error = FieldErrors;

    fn try_from(w: wire::CreateOrganisation) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let code = errors.take(OrgCode::parse("code", &w.code));
        let name = match OrgName::parse("name", &w.name) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.0.extend(e.0);
                None
            }
        };
        match (code, name) {
            (Some(code), Some(name)) if errors.is_empty() => Ok(NewOrganisation { code, name, reach: w.reach }),
            _ => Err(errors),
        }
    }
}

/// A checked `UpdateOrganisation`.
#[derive(Debug, Clone, Default)]
pub struct OrganisationChange {
    pub name: Option<OrgName>,
    pub active: Option<bool>,
    pub require_review: Option<bool>,
}

impl TryFrom<wire::UpdateOrganisation> for OrganisationChange {
    type Error = FieldErrors;

    fn try_from(w: wire::UpdateOrganisation) -> Result<Self, FieldErrors> {
        let name = w.name.as_ref().map(|n| OrgName::parse("name", n)).transpose()?;
        Ok(OrganisationChange { name, active: w.active, require_review: w.require_review })
    }
}

/// A checked `CreateUser`.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: DisplayName,
    pub password: NewPassword,
    pub organisation_id: Uuid,
    pub roles: RoleSet,
    pub valid_until: Option<DateTime<Utc>>,
}

impl NewUser {
    pub fn parse(w: wire::CreateUser, now: DateTime<Utc>) -> Result<NewUser, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = errors.take(Username::parse("username", &w.username));
        let display_name = errors.take(DisplayName::parse("display_name", &w.display_name));
        let password = errors.take(NewPassword::parse("password", &w.password, Some(&w.username.to_lowercase())));
        let roles = errors.take(parse_roles("roles", &w.roles));
        let valid_until = errors.take(future("valid_until", w.valid_until, now));
        match (username, display_name, password, roles, valid_until) {
            (Some(username), Some(display_name), Some(password), Some(roles), Some(valid_until)) => {
                Ok(NewUser { username, display_name, password, organisation_id: w.organisation_id, roles, valid_until })
            }
            _ => Err(errors),
        }
    }
}

/// A checked `UpdateUser`.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<DisplayName>,
    pub active: Option<bool>,
    pub password: Option<NewPassword>,
}

impl TryFrom<wire::UpdateUser> for UserChange {
    type Error = FieldErrors;

    fn try_from(w: wire::UpdateUser) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let display_name = w.display_name.as_deref().map(|d| DisplayName::parse("display_name", d));
        let password = w.password.as_deref().map(|p| NewPassword::parse("password", p, None));
        let display_name = display_name.and_then(|r| errors.take(r));
        let password = password.and_then(|r| errors.take(r));
        errors.finish()?;
        Ok(UserChange { display_name, active: w.active, password })
    }
}

impl UserChange {
    /// The new password, if any, may be set for the account `username` (see
    /// [`NewPassword::check_username`]).
    pub fn check_password_for(&self, username: &str) -> Result<(), FieldErrors> {
        match &self.password {
            Some(p) => p.check_username("password", username).map_err(FieldErrors::from),
            None => Ok(()),
        }
    }
}

/// A checked `CreateMembership`.
#[derive(Debug, Clone)]
pub struct NewMembership {
    pub organisation_id: Uuid,
    pub roles: RoleSet,
    pub valid_until: Option<DateTime<Utc>>,
}

impl NewMembership {
    pub fn parse(w: wire::CreateMembership, now: DateTime<Utc>) -> Result<NewMembership, FieldErrors> {
        let mut errors = FieldErrors::default();
        let roles = errors.take(parse_roles("roles", &w.roles));
        let valid_until = errors.take(future("valid_until", w.valid_until, now));
        match (roles, valid_until) {
            (Some(roles), Some(valid_until)) => {
                Ok(NewMembership { organisation_id: w.organisation_id, roles, valid_until })
            }
            _ => Err(errors),
        }
    }
}

/// A checked `UpdateMembership`: exactly one of a role change or an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Roles(RoleSet),
    End,
}

impl TryFrom<wire::UpdateMembership> for MembershipChange {
    type Error = FieldErrors;

    fn try_from(w: wire::UpdateMembership) -> Result<Self, FieldErrors> {
        match (w.roles, w.end) {
            (Some(roles), None | Some(false)) => Ok(MembershipChange::Roles(parse_roles("roles", &roles)?)),
            (None, Some(true)) => Ok(MembershipChange::End),
            (Some(_), Some(true)) => {
                Err(Invalid::new("end", "conflicting_fields", "give either roles or end, not both").into())
            }
            (None, _) => Err(Invalid::new("roles", "required", "give roles to change or end: true").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_limited() {
        assert_eq!(Username::parse("u", "Mikko.Testaaja").unwrap().as_str(), "mikko.testaaja");
        assert_eq!(Username::parse("u", "ab").unwrap_err().code, "too_short");
        assert_eq!(Username::parse("u", "mikko testaaja").unwrap_err().code, "invalid_characters");
        assert_eq!(Username::parse("u", "x\n{\"action\":1}").unwrap_err().code, "control_character");
        assert_eq!(Username::parse("u", &"a".repeat(65)).unwrap_err().code, "too_long");
    }

    #[test]
    fn lookalike_usernames_share_a_fold() {
        let admin = Username::fold("admin");
        for lookalike in ["ADMIN", " Admin ", "\u{430}dmin", "adm\u{456}n", "adrnin", "ad\u{200B}min", "\u{FF41}dmin"] {
            assert_eq!(Username::fold(lookalike), admin, "{lookalike:?}");
        }
        assert_eq!(Username::fold("r00t"), Username::fold("root"));
        assert_eq!(Username::fold("paypa1"), Username::fold("paypal"));
        assert_ne!(Username::fold("mikko"), Username::fold("mikka"));
        assert_ne!(Username::fold("a.b"), Username::fold("ab"));
    }

    #[test]
    fn a_submitted_login_name_may_not_hide_characters() {
        assert!(Username::check_submitted("username", "\u{430}dmin").is_ok());
        assert!(Username::check_submitted("username", "").is_ok());
        assert_eq!(Username::check_submitted("username", "ad\u{202E}nim").unwrap_err().code, "bidi_control");
        assert_eq!(Username::check_submitted("username", "ad\u{200B}min").unwrap_err().field, "username");
        assert_eq!(Username::check_submitted("username", "a\u{0}").unwrap_err().code, "control_character");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Letters and their lookalikes from other scripts and from the full-width block.
        const LOOKALIKES: [(char, char); 10] = [
            ('a', '\u{430}'),
            ('e', '\u{435}'),
            ('o', '\u{43E}'),
            ('p', '\u{440}'),
            ('c', '\u{441}'),
            ('x', '\u{445}'),
            ('i', '\u{456}'),
            ('o', '\u{3BF}'),
            ('0', 'o'),
            ('l', '1'),
        ];

        proptest! {
            #[test]
            fn a_name_and_any_lookalike_of_it_fold_alike(
                name in "[a-z0-9][a-z0-9._@-]{2,30}",
                swaps in proptest::collection::vec(any::<bool>(), 32),
                upper in any::<bool>(),
                zero_width in proptest::option::of(0usize..32),
            ) {
                let valid = Username::parse("username", &name).unwrap();
                let mut spoof: String = name
                    .chars()
                    .zip(swaps.iter().chain(std::iter::repeat(&false)))
                    .map(|(c, &swap)| match LOOKALIKES.iter().find(|(plain, _)| *plain == c) {
                        Some((_, look)) if swap => *look,
                        _ => c,
                    })
                    .collect();
                if upper {
                    spoof = spoof.to_uppercase();
                }
                if let Some(at) = zero_width {
                    let at = spoof.char_indices().nth(at).map_or(spoof.len(), |(i, _)| i);
                    spoof.insert(at, '\u{200B}');
                }
                prop_assert_eq!(Username::fold(&spoof), Username::fold(valid.as_str()), "{:?}", spoof);
            }

            #[test]
            fn names_that_differ_in_a_letter_fold_apart(
                name in "[a-z]{3,20}",
                at in any::<prop::sample::Index>(),
                other in "[a-z]",
            ) {
                let i = at.index(name.len());
                let mut changed = name.clone();
                changed.replace_range(i..=i, &other);
                let alike = |a: char, b: char| matches!((a.min(b), a.max(b)), ('i', 'l') | ('l', 'l'));
                let (a, b) = (name.as_bytes()[i] as char, other.as_bytes()[0] as char);
                // `m` and `rn` are one pair of lookalikes the fold joins; a single letter
                // changed can only make or break that pair next to an `r`, `n` or `m`.
                let near_rn = name.contains(['r', 'n', 'm']) || other.contains(['r', 'n', 'm']);
                if a != b && !alike(a, b) && !near_rn {
                    prop_assert_ne!(Username::fold(&name), Username::fold(&changed));
                }
            }
        }
    }

    #[test]
    fn passwords_need_15_to_128_characters_of_any_kind() {
        let parse = |p: &str| NewPassword::parse("p", p, Some("some.one"));
        assert_eq!(parse(&"a".repeat(14)).unwrap_err().code, "too_short");
        assert!(parse("ankka lentää yli").is_ok());
        assert!(parse("😀🦆🌲🍓🚲🎻🧭🪁🦔🌋🍄🛶🎈🧊🦉").is_ok());
        assert_eq!(parse(&"a".repeat(129)).unwrap_err().code, "too_long");
        assert_eq!(format!("{:?}", parse("kahvi mustikka 1917").unwrap()), "NewPassword(<redacted>)");
    }

    #[test]
    fn a_new_user_and_a_reset_apply_the_username_rule() {
        let w = wire::CreateUser {
            username: "Mikko.Testaaja".into(),
            display_name: "Mikko".into(),
            password: "mikko.testaaja2024".into(),
            organisation_id: Uuid::nil(),
            roles: vec![Role::Reader],
            valid_until: None,
        };
        assert_eq!(NewUser::parse(w, Utc::now()).unwrap_err().0[0].code, "like_username");
        let reset = UserChange::try_from(wire::UpdateUser {
            password: Some("mikko.testaaja2024".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(reset.check_password_for("mikko.testaaja").unwrap_err().0[0].code, "like_username");
        assert!(reset.check_password_for("someone.else").is_ok());
    }

    #[test]
    fn org_codes_are_upper_case() {
        assert!(OrgCode::parse("c", "TRAFICOM-NCSC").is_ok());
        assert_eq!(OrgCode::parse("c", "om").unwrap_err().code, "invalid_characters");
        assert_eq!(OrgCode::parse("c", "-OM").unwrap_err().code, "invalid_characters");
    }

    #[test]
    fn an_org_name_needs_one_language_and_reports_each_bad_one() {
        let empty = LocalizedText::default();
        assert_eq!(OrgName::parse("name", &empty).unwrap_err().0[0].field, "name");
        let bad = LocalizedText { fi: Some("".into()), sv: None, en: Some("x".repeat(201)) };
        let fields: Vec<String> = OrgName::parse("name", &bad).unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name.fi", "name.en"]);
    }

    #[test]
    fn new_user_reports_every_bad_field() {
        let w = wire::CreateUser {
            username: "x".into(),
            display_name: "".into(),
            password: "short".into(),
            organisation_id: Uuid::nil(),
            roles: vec![],
            valid_until: Some(Utc::now() - chrono::Duration::hours(1)),
        };
        let fields: Vec<String> = NewUser::parse(w, Utc::now()).unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["username", "display_name", "password", "roles", "valid_until"]);
    }

    #[test]
    fn membership_change_is_roles_or_end() {
        let roles = wire::UpdateMembership { roles: Some(vec![Role::Reader]), end: None };
        assert!(matches!(MembershipChange::try_from(roles), Ok(MembershipChange::Roles(_))));
        let end = wire::UpdateMembership { roles: None, end: Some(true) };
        assert_eq!(MembershipChange::try_from(end).unwrap(), MembershipChange::End);
        let both = wire::UpdateMembership { roles: Some(vec![Role::Reader]), end: Some(true) };
        assert!(MembershipChange::try_from(both).is_err());
        assert!(MembershipChange::try_from(wire::UpdateMembership::default()).is_err());
    }
}

/// Longest an API key may live.
pub const API_KEY_MAX_DAYS: i64 = 366;
/// Most address ranges on one key or organisation.
pub const MAX_RANGES: usize = 32;

/// Client address ranges in CIDR notation (a bare address is a single-host range),
/// normalised (`192.0.2.7/24` becomes `192.0.2.0/24`).
pub fn parse_ranges(field: &str, raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > MAX_RANGES {
        return Err(Invalid::new(field, "too_many", format!("at most {MAX_RANGES} ranges")));
    }
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r.trim();
            let net = r
                .parse::<ipnet::IpNet>()
                .or_else(|_| r.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| Invalid::new(format!("{field}[{i}]"), "invalid_range", "must be a CIDR range"))?;
            Ok(net.trunc().to_string())
        })
        .collect()
}

/// A checked `CreateServiceAccount`.
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    pub organisation_id: Option<Uuid>,
    pub name: Username,
    pub description: Option<String>,
    pub roles: RoleSet,
}

fn description(field: &str, raw: Option<&str>) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) => SERVICE_ACCOUNT_DESCRIPTION.check(field, d).map(|_| Some(d.to_owned())),
    }
}

impl TryFrom<wire::CreateServiceAccount> for NewServiceAccount {
    type Error = FieldErrors;

    fn try_from(w: wire::CreateServiceAccount) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.take(Username::parse("name", &w.name));
        let description = errors.take(description("description", w.description.as_deref()));
        let roles = errors.take(parse_roles("roles", &w.roles));
        match (name, description, roles) {
            (Some(name), Some(description), Some(roles)) => {
                Ok(NewServiceAccount { organisation_id: w.organisation_id, name, description, roles })
            }
            _ => Err(errors),
        }
    }
}

/// A checked `UpdateServiceAccount`. `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ServiceAccountChange {
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
    pub roles: Option<RoleSet>,
}

impl TryFrom<wire::UpdateServiceAccount> for ServiceAccountChange {
    type Error = FieldErrors;

    fn try_from(w: wire::UpdateServiceAccount) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let description = match w.description.as_deref() {
            Some(d) => errors.take(description("description", Some(d))),
            None => None,
        };
        let roles = match &w.roles {
            Some(r) => errors.take(parse_roles("roles", r)),
            None => None,
        };
        errors.finish()?;
        Ok(ServiceAccountChange { description, active: w.active, roles })
    }
}

/// A checked `CreateApiKey`.
#[derive(Debug, Clone)]
pub struct NewApiKeySpec {
    pub name: String,
    pub expires_at: DateTime<Utc>,
    pub allowed_ranges: Vec<String>,
}

impl NewApiKeySpec {
    pub fn parse(w: wire::CreateApiKey, now: DateTime<Utc>) -> Result<NewApiKeySpec, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = w.name.trim().to_owned();
        errors.take(API_KEY_NAME.check("name", &name));
        if w.expires_at <= now {
            errors.push(Invalid::new("expires_at", "not_in_future", "must be in the future"));
        } else if w.expires_at > now + chrono::Duration::days(API_KEY_MAX_DAYS) {
            errors.push(Invalid::new("expires_at", "too_far", format!("at most {API_KEY_MAX_DAYS} days ahead")));
        }
        let allowed_ranges = errors.take(parse_ranges("allowed_ranges", &w.allowed_ranges));
        errors.finish()?;
        Ok(NewApiKeySpec { name, expires_at: w.expires_at, allowed_ranges: allowed_ranges.unwrap_or_default() })
    }
}

#[cfg(test)]
mod credential_tests {
    use super::*;

    #[test]
    fn ranges_are_normalised_and_bad_ones_named() {
        let ok = parse_ranges("r", &["192.0.2.7/24".into(), "127.0.0.1".into(), "::1/128".into()]).unwrap();
        assert_eq!(ok, vec!["192.0.2.0/24", "127.0.0.1/32", "::1/128"]);
        let err = parse_ranges("r", &["10.0.0.0/8".into(), "10.0.0.0/33".into()]).unwrap_err();
        assert_eq!(err.field, "r[1]");
        assert!(parse_ranges("r", &vec!["10.0.0.0/8".to_owned(); MAX_RANGES + 1]).is_err());
    }

    #[test]
    fn api_keys_expire_within_a_year_and_name_is_required() {
        let now = Utc::now();
        let spec = |name: &str, days: i64| wire::CreateApiKey {
            name: name.into(),
            expires_at: now + chrono::Duration::days(days),
            allowed_ranges: vec![],
        };
        assert!(NewApiKeySpec::parse(spec("soc", 30), now).is_ok());
        let fields = |e: FieldErrors| e.0.into_iter().map(|i| i.field).collect::<Vec<_>>();
        assert_eq!(fields(NewApiKeySpec::parse(spec("soc", 400), now).unwrap_err()), vec!["expires_at"]);
        assert_eq!(fields(NewApiKeySpec::parse(spec("", -1), now).unwrap_err()), vec!["name", "expires_at"]);
    }

    #[test]
    fn service_account_names_follow_username_rules() {
        let w = |name: &str, roles: Vec<Role>| wire::CreateServiceAccount {
            organisation_id: None,
            name: name.into(),
            description: Some("  ".into()),
            roles,
        };
        let ok = NewServiceAccount::try_from(w("soc-feed", vec![Role::Reader])).unwrap();
        assert_eq!(ok.name.as_str(), "soc-feed");
        assert_eq!(ok.description, None);
        assert!(NewServiceAccount::try_from(w("so:c", vec![Role::Reader])).is_err());
        assert!(NewServiceAccount::try_from(w("soc", vec![])).is_err());
    }
}

#[cfg(test)]
mod pattern_tests {
    use proptest::prelude::*;

    use super::*;

    fn from(pattern: &str) -> impl Strategy<Value = String> {
        proptest::string::string_regex(pattern.trim_start_matches('^').trim_end_matches('$')).unwrap()
    }

    proptest! {
        /// Whatever the document's patterns allow, the checks take.
        #[test]
        fn every_username_and_organisation_code_the_patterns_allow_is_taken(
            name in from(USERNAME_PATTERN),
            code in from(ORG_CODE_PATTERN),
        ) {
            prop_assert!(Username::parse("u", &name).is_ok(), "{:?}", name);
            prop_assert!(OrgCode::parse("c", &code).is_ok(), "{:?}", code);
        }
    }

    #[test]
    fn what_the_patterns_refuse_the_checks_refuse_at_the_edges() {
        let name = regex::Regex::new(USERNAME_PATTERN).unwrap();
        for n in ["ab", "a b", "a\u{0}b", &"a".repeat(65), "ä.b.c"] {
            assert!(!name.is_match(n) && Username::parse("u", n).is_err(), "{n:?}");
        }
        let code = regex::Regex::new(ORG_CODE_PATTERN).unwrap();
        for c in ["A", "1AB", "ab", "A_B", &"A".repeat(33)] {
            assert!(!code.is_match(c) && OrgCode::parse("c", c).is_err(), "{c:?}");
        }
    }
}
