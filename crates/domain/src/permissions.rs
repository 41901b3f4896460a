//! Roles worked out once into a permissions value (DESIGN §4). Handlers ask it
//! `can_*` questions; nothing else looks at role names.

use sitrep_types::{Reach, Role};
use uuid::Uuid;

/// A set of roles, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u8);

impl RoleSet {
    fn bit(role: Role) -> u8 {
        1 << (role as u8)
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & Self::bit(role) != 0
    }

    pub fn insert(&mut self, role: Role) {
        self.0 |= Self::bit(role);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in a stable order.
    pub fn to_vec(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.contains(*r)).collect()
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        let mut set = RoleSet::default();
        for r in iter {
            set.insert(r);
        }
        set
    }
}

/// What a caller acting for one organisation may do. Built from the roles of its
/// membership in force at the time of the request, never from token claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    pub organisation_id: Uuid,
    pub reach: Reach,
    pub roles: RoleSet,
}

/// Roles only the secretariat hands out: they see across organisations.
const CROSS_ORGANISATION_ROLES: [Role; 3] = [Role::Secretariat, Role::Auditor, Role::Sysadmin];

/// The roles that need a second factor when `auth.login.privileged_roles_need_totp` is on
/// (security.md SEC-AUTHN-08).
pub const PRIVILEGED_ROLES: [Role; 5] =
    [Role::Approver, Role::OrgAdmin, Role::Secretariat, Role::Auditor, Role::Sysadmin];

impl Permissions {
    pub fn new(organisation_id: Uuid, reach: Reach, roles: RoleSet) -> Self {
        Permissions { organisation_id, reach, roles }
    }

    fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    pub fn is_secretariat(&self) -> bool {
        self.has(Role::Secretariat)
    }

    /// Read pictures that the sharing rules show its organisation, and acknowledge.
    pub fn can_read_pictures(&self) -> bool {
        self.has(Role::Reader) || self.has(Role::Author) || self.has(Role::Approver)
    }

    /// Create and revise its organisation's pictures, submit them for review.
    pub fn can_author_pictures(&self) -> bool {
        self.has(Role::Author) || self.has(Role::Approver)
    }

    /// Approve (four eyes), publish, withdraw, loosen TLP, record consents.
    pub fn can_approve_pictures(&self) -> bool {
        self.has(Role::Approver)
    }

    /// Create, rename and deactivate organisations.
    pub fn can_manage_organisations(&self) -> bool {
        self.is_secretariat()
    }

    /// Manage users at all: the secretariat (everyone) or an `org_admin` (its own
    /// organisation's users).
    pub fn can_manage_users(&self) -> bool {
        self.is_secretariat() || self.has(Role::OrgAdmin)
    }

    /// Manage memberships in `organisation`.
    pub fn can_manage_members_of(&self, organisation: Uuid) -> bool {
        self.is_secretariat() || (self.has(Role::OrgAdmin) && organisation == self.organisation_id)
    }

    /// Hand out `role`. The cross-organisation roles are the secretariat's to give.
    pub fn can_grant(&self, role: Role) -> bool {
        self.is_secretariat() || (self.has(Role::OrgAdmin) && !CROSS_ORGANISATION_ROLES.contains(&role))
    }

    /// Read, export and verify the access log.
    pub fn can_read_access_log(&self) -> bool {
        self.has(Role::Auditor) || self.is_secretariat()
    }

    /// Technical administration: keys, health, metrics.
    pub fn can_administer_system(&self) -> bool {
        self.has(Role::Sysadmin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(roles: &[Role]) -> Permissions {
        Permissions::new(Uuid::from_u128(1), Reach::Member, roles.iter().copied().collect())
    }

    #[test]
    fn role_set_round_trips_every_role() {
        let all: RoleSet = Role::ALL.into_iter().collect();
        assert_eq!(all.to_vec(), Role::ALL.to_vec());
        assert!(RoleSet::default().is_empty());
    }

    #[test]
    fn picture_rights_are_cumulative_reader_author_approver() {
        let reader = perms(&[Role::Reader]);
        assert!(reader.can_read_pictures() && !reader.can_author_pictures() && !reader.can_approve_pictures());
        let author = perms(&[Role::Author]);
        assert!(author.can_read_pictures() && author.can_author_pictures() && !author.can_approve_pictures());
        let approver = perms(&[Role::Approver]);
        assert!(approver.can_read_pictures() && approver.can_author_pictures() && approver.can_approve_pictures());
    }

    #[test]
    fn administrative_roles_read_no_pictures() {
        for role in [Role::OrgAdmin, Role::Secretariat, Role::Auditor, Role::Sysadmin] {
            assert!(!perms(&[role]).can_read_pictures(), "{role:?}");
        }
    }

    #[test]
    fn org_admin_manages_only_its_own_organisation_and_grants_no_cross_org_roles() {
        let admin = perms(&[Role::OrgAdmin]);
        assert!(admin.can_manage_users());
        assert!(admin.can_manage_members_of(Uuid::from_u128(1)));
        assert!(!admin.can_manage_members_of(Uuid::from_u128(2)));
        assert!(admin.can_grant(Role::Approver) && admin.can_grant(Role::OrgAdmin));
        for role in CROSS_ORGANISATION_ROLES {
            assert!(!admin.can_grant(role));
        }
        assert!(!admin.can_manage_organisations());
    }

    #[test]
    fn secretariat_manages_everything_but_reads_no_content() {
        let sec = perms(&[Role::Secretariat]);
        assert!(sec.can_manage_organisations() && sec.can_manage_users());
        assert!(sec.can_manage_members_of(Uuid::from_u128(99)));
        assert!(Role::ALL.iter().all(|r| sec.can_grant(*r)));
        assert!(!sec.can_read_pictures());
    }

    #[test]
    fn reader_and_sysadmin_manage_nobody() {
        for role in [Role::Reader, Role::Author, Role::Approver, Role::Auditor, Role::Sysadmin] {
            let p = perms(&[role]);
            assert!(!p.can_manage_users() && !p.can_manage_organisations(), "{role:?}");
        }
    }
}
