//! Roles worked out once into a permissions value (what each role may: docs/auth.md). Handlers ask it
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

/// Roles only the secretariat hands out: they see across organisations. An account that
/// holds one is the secretariat's alone to manage.
pub const CROSS_ORGANISATION_ROLES: [Role; 3] = [Role::Secretariat, Role::Auditor, Role::Sysadmin];

/// The roles that need a second factor when `auth.login.privileged_roles_need_totp` is on
/// (docs/auth.md, "Organisation policies"): the roles whose misuse reaches furthest.
pub const PRIVILEGED_ROLES: [Role; 5] =
    [Role::Approver, Role::OrgAdmin, Role::Secretariat, Role::Auditor, Role::Sysadmin];

/// Whose administrative objects a caller reaches: accounts, memberships, service
/// accounts and subscriptions. The secretariat reaches every organisation's, anyone else
/// only its own organisation's. The finders in `sitrep_db` take one, so a handler gets an
/// object only through the caller's scope (as pictures are found through a `Viewer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminScope {
    All,
    Organisation(Uuid),
}

impl AdminScope {
    /// The organisation to filter on; `None` for all.
    pub fn organisation(self) -> Option<Uuid> {
        match self {
            AdminScope::All => None,
            AdminScope::Organisation(o) => Some(o),
        }
    }

    pub fn includes(self, organisation: Uuid) -> bool {
        self.organisation().is_none_or(|o| o == organisation)
    }
}

impl Permissions {
    /// The organisations whose administrative objects this caller may list and read.
    pub fn admin_scope(&self) -> AdminScope {
        if self.is_secretariat() { AdminScope::All } else { AdminScope::Organisation(self.organisation_id) }
    }

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

    /// Post STIX to the organisation's TAXII inbox, which makes drafts of its pictures: a
    /// service account (`machine`) that may write them. People write through the REST
    /// API and the console, where they see what they write.
    pub fn can_write_inbox(&self, machine: bool) -> bool {
        machine && self.can_author_pictures()
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

    /// Set the duty addresses of `organisation` (where its `immediate` notifications go):
    /// the same boundary as its memberships, the secretariat for every organisation and
    /// an `org_admin` for its own.
    pub fn can_manage_duty_addresses(&self, organisation: Uuid) -> bool {
        self.can_manage_members_of(organisation)
    }

    /// Hand out `role`. The cross-organisation roles are the secretariat's to give.
    pub fn can_grant(&self, role: Role) -> bool {
        self.is_secretariat() || (self.has(Role::OrgAdmin) && !CROSS_ORGANISATION_ROLES.contains(&role))
    }

    /// Hand out every role of `roles` in `organisation` (a new account, a new membership,
    /// a role change). The cross-organisation roles are the secretariat's to give.
    pub fn can_grant_roles(&self, organisation: Uuid, roles: RoleSet) -> Result<(), Refusal> {
        if !self.can_manage_members_of(organisation) {
            return Err(Refusal::NotYourOrganisation);
        }
        if !roles.to_vec().into_iter().all(|r| self.can_grant(r)) {
            return Err(Refusal::RoleNotGrantable);
        }
        Ok(())
    }

    /// Change the account `target` in any way: its password, activation, second factor,
    /// memberships (create, re-role, end), service-account roles and API keys. `me` is
    /// the caller's own account.
    ///
    /// The secretariat manages every account but its own. An `org_admin` manages only
    /// accounts of its own organisation (see [`AccountRoles::managing_organisation`]):
    /// every membership not yet ended is there, and none holds a role the `org_admin`
    /// could not grant itself. Nobody changes their own account through administration:
    /// that would let them give themselves roles, or a password or second factor without
    /// proving the current one.
    pub fn can_manage_account(&self, me: Uuid, target: &AccountRoles) -> Result<(), Refusal> {
        if target.account_id == me {
            return Err(Refusal::OwnAccount);
        }
        if self.is_secretariat() {
            return Ok(());
        }
        if !self.has(Role::OrgAdmin) {
            return Err(Refusal::NotYourOrganisation);
        }
        if target.managing_organisation() == Some(self.organisation_id) {
            return Ok(());
        }
        if target.holds_cross_organisation_role() {
            Err(Refusal::PrivilegedAccount)
        } else if target.current.iter().any(|(org, _)| *org != self.organisation_id) {
            Err(Refusal::SharedAccount)
        } else {
            Err(Refusal::NotYourOrganisation)
        }
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

/// Why an administrator may not change an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an administrator of the account's organisation.
    NotYourOrganisation,
    /// The account holds `secretariat`, `auditor` or `sysadmin`, in any organisation.
    PrivilegedAccount,
    /// The account has a membership in another organisation too.
    SharedAccount,
    /// Administration acts on other accounts; a caller's own is under `/me`.
    OwnAccount,
    /// A role only the secretariat grants.
    RoleNotGrantable,
}

/// What the administration rule needs to know of an account, as the database holds it
/// now (read under a lock on the account's row, so it cannot change under the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRoles {
    pub account_id: Uuid,
    /// Every membership that has not ended (in force now, or starting later), in any
    /// organisation: its organisation and roles.
    pub current: Vec<(Uuid, RoleSet)>,
    /// When no membership is current: the organisation of the one that ended last.
    pub last_organisation: Option<Uuid>,
}

impl AccountRoles {
    /// A brand-new account of `organisation`, about to get its first membership.
    pub fn new_in(account_id: Uuid, organisation: Uuid) -> AccountRoles {
        AccountRoles { account_id, current: vec![], last_organisation: Some(organisation) }
    }

    /// Holds a role only the secretariat grants, in any organisation.
    pub fn holds_cross_organisation_role(&self) -> bool {
        self.current.iter().any(|(_, roles)| CROSS_ORGANISATION_ROLES.iter().any(|r| roles.contains(*r)))
    }

    /// The organisation whose `org_admin` manages the account, or `None`: the secretariat
    /// alone. It is the one organisation of every current membership, if none of them
    /// holds a cross-organisation role; an account without a current membership stays
    /// with the organisation of its last one.
    pub fn managing_organisation(&self) -> Option<Uuid> {
        let Some(&(first, _)) = self.current.first() else {
            return self.last_organisation;
        };
        let one = self.current.iter().all(|(org, _)| *org == first);
        (one && !self.holds_cross_organisation_role()).then_some(first)
    }

    /// Whether a change that turned `self` into `after` takes the account away from an
    /// organisation whose `org_admin` managed it. That administrator may know the
    /// account's password, second factor or API keys (it may have set them), so they
    /// must not survive into the account's new standing: granting a role only the
    /// secretariat grants, or a membership of another organisation, voids them.
    pub fn leaves_its_administrator(&self, after: &AccountRoles) -> bool {
        match self.managing_organisation() {
            Some(org) => after.managing_organisation() != Some(org),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(roles: &[Role]) -> Permissions {
        Permissions::new(Uuid::from_u128(1), Reach::Member, roles.iter().copied().collect())
    }

    #[test]
    fn only_the_secretariat_reaches_every_organisations_administrative_objects() {
        let own = Uuid::from_u128(1);
        let other = Uuid::from_u128(2);
        assert_eq!(perms(&[Role::Secretariat]).admin_scope(), AdminScope::All);
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Secretariat) {
            let scope = perms(&[role]).admin_scope();
            assert_eq!(scope, AdminScope::Organisation(own), "{role:?}");
            assert!(scope.includes(own) && !scope.includes(other), "{role:?}");
        }
        assert!(AdminScope::All.includes(other));
    }

    #[test]
    fn only_a_service_account_that_authors_writes_to_the_inbox() {
        for role in Role::ALL {
            let p = perms(&[role]);
            let author = matches!(role, Role::Author | Role::Approver);
            assert_eq!(p.can_write_inbox(true), author, "{role:?}");
            assert!(!p.can_write_inbox(false), "a person never: {role:?}");
        }
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

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);
    const ME: Uuid = Uuid::from_u128(100);
    const TARGET: Uuid = Uuid::from_u128(200);

    fn set(roles: &[Role]) -> RoleSet {
        roles.iter().copied().collect()
    }

    fn account(current: &[(Uuid, &[Role])]) -> AccountRoles {
        AccountRoles {
            account_id: TARGET,
            current: current.iter().map(|(org, roles)| (*org, set(roles))).collect(),
            last_organisation: None,
        }
    }

    #[test]
    fn an_org_admin_manages_an_account_whose_every_current_role_it_could_grant() {
        let admin = perms(&[Role::OrgAdmin]);
        let plain = account(&[(A, &[Role::Reader, Role::Approver, Role::OrgAdmin])]);
        assert_eq!(admin.can_manage_account(ME, &plain), Ok(()));
        for role in CROSS_ORGANISATION_ROLES {
            let privileged = account(&[(A, &[Role::Reader, role])]);
            assert_eq!(admin.can_manage_account(ME, &privileged), Err(Refusal::PrivilegedAccount), "{role:?}");
            // Held through a membership of another organisation: still the secretariat's.
            let elsewhere = account(&[(A, &[Role::Reader]), (B, &[role])]);
            assert_eq!(admin.can_manage_account(ME, &elsewhere), Err(Refusal::PrivilegedAccount), "{role:?}");
        }
        let shared = account(&[(A, &[Role::Reader]), (B, &[Role::Reader])]);
        assert_eq!(admin.can_manage_account(ME, &shared), Err(Refusal::SharedAccount));
        let theirs = account(&[(B, &[Role::Reader])]);
        assert_eq!(admin.can_manage_account(ME, &theirs), Err(Refusal::SharedAccount));
    }

    #[test]
    fn an_account_without_a_current_membership_stays_with_its_last_organisation() {
        let admin = perms(&[Role::OrgAdmin]);
        let mut ended = account(&[]);
        ended.last_organisation = Some(A);
        assert_eq!(admin.can_manage_account(ME, &ended), Ok(()));
        ended.last_organisation = Some(B);
        assert_eq!(admin.can_manage_account(ME, &ended), Err(Refusal::NotYourOrganisation));
        ended.last_organisation = None;
        assert_eq!(admin.can_manage_account(ME, &ended), Err(Refusal::NotYourOrganisation));
        assert_eq!(admin.can_manage_account(ME, &AccountRoles::new_in(TARGET, A)), Ok(()));
    }

    #[test]
    fn nobody_manages_their_own_account_through_administration() {
        for roles in [&[Role::OrgAdmin][..], &[Role::Secretariat], &[Role::Secretariat, Role::OrgAdmin]] {
            let mine = AccountRoles { account_id: ME, ..account(&[(A, roles)]) };
            assert_eq!(perms(roles).can_manage_account(ME, &mine), Err(Refusal::OwnAccount), "{roles:?}");
        }
    }

    #[test]
    fn the_secretariat_manages_every_other_account_and_others_none() {
        let sec = perms(&[Role::Secretariat]);
        let auditor = account(&[(B, &[Role::Auditor]), (A, &[Role::OrgAdmin])]);
        assert_eq!(sec.can_manage_account(ME, &auditor), Ok(()));
        for role in [Role::Reader, Role::Author, Role::Approver, Role::Auditor, Role::Sysadmin] {
            let plain = account(&[(A, &[Role::Reader])]);
            assert_eq!(perms(&[role]).can_manage_account(ME, &plain), Err(Refusal::NotYourOrganisation));
        }
    }

    #[test]
    fn grants_are_checked_per_organisation_and_role() {
        let admin = perms(&[Role::OrgAdmin]);
        assert_eq!(admin.can_grant_roles(A, set(&[Role::Approver, Role::OrgAdmin])), Ok(()));
        assert_eq!(admin.can_grant_roles(B, set(&[Role::Reader])), Err(Refusal::NotYourOrganisation));
        assert_eq!(admin.can_grant_roles(A, set(&[Role::Reader, Role::Auditor])), Err(Refusal::RoleNotGrantable));
        assert_eq!(perms(&[Role::Secretariat]).can_grant_roles(B, set(&[Role::Sysadmin])), Ok(()));
    }

    #[test]
    fn credentials_are_void_when_an_account_leaves_its_administrator() {
        let reader = account(&[(A, &[Role::Reader])]);
        assert!(reader.leaves_its_administrator(&account(&[(A, &[Role::Auditor])])));
        assert!(reader.leaves_its_administrator(&account(&[(A, &[Role::Reader]), (B, &[Role::Reader])])));
        assert!(reader.leaves_its_administrator(&account(&[(B, &[Role::Reader])])));
        assert!(!reader.leaves_its_administrator(&account(&[(A, &[Role::Approver, Role::OrgAdmin])])));
        let auditor = account(&[(A, &[Role::Auditor])]);
        assert!(!auditor.leaves_its_administrator(&reader), "nobody but the secretariat knew them");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const ORGS: [Uuid; 3] = [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)];
        const GRANTABLE: [Role; 4] = [Role::Reader, Role::Author, Role::Approver, Role::OrgAdmin];

        fn roles() -> impl Strategy<Value = RoleSet> {
            prop::sample::subsequence(Role::ALL.to_vec(), 1..=3).prop_map(|r| r.into_iter().collect())
        }

        fn org() -> impl Strategy<Value = Uuid> {
            prop::sample::select(ORGS.to_vec())
        }

        /// The rule as the contract words it, in sets: the secretariat manages every
        /// other account; an `org_admin` every other account whose current memberships
        /// are all in its organisation with roles it could grant, or, with none current,
        /// whose last membership was there.
        fn model(caller: &Permissions, me: Uuid, target: &AccountRoles) -> bool {
            if target.account_id == me {
                return false;
            }
            if caller.roles.contains(Role::Secretariat) {
                return true;
            }
            if !caller.roles.contains(Role::OrgAdmin) {
                return false;
            }
            if target.current.is_empty() {
                return target.last_organisation == Some(caller.organisation_id);
            }
            let orgs: std::collections::BTreeSet<Uuid> = target.current.iter().map(|(o, _)| *o).collect();
            let held: Vec<Role> = target.current.iter().flat_map(|(_, r)| r.to_vec()).collect();
            orgs.len() == 1 && orgs.contains(&caller.organisation_id) && held.iter().all(|r| GRANTABLE.contains(r))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            #[test]
            fn can_manage_account_agrees_with_the_model(
                caller_org in org(),
                caller_roles in roles(),
                own in any::<bool>(),
                current in prop::collection::vec((org(), roles()), 0..4),
                last in prop::option::of(org()),
            ) {
                let caller = Permissions::new(caller_org, Reach::Member, caller_roles);
                let target = AccountRoles {
                    account_id: if own { ME } else { TARGET },
                    current,
                    last_organisation: last,
                };
                let decided = caller.can_manage_account(ME, &target);
                prop_assert_eq!(decided.is_ok(), model(&caller, ME, &target), "{:?}", decided);
                if own {
                    prop_assert_eq!(decided, Err(Refusal::OwnAccount));
                }
            }

            /// Over any sequence of membership changes (by the secretariat, or by the
            /// administrator that manages the account), expiries that need no request,
            /// and administrators setting the account's credentials: an organisation's
            /// administrator that may know them always still manages the account.
            #[test]
            fn no_sequence_leaves_credentials_with_an_administrator_who_lost_the_account(
                steps in prop::collection::vec((0u8..5, org(), roles(), 0usize..4), 1..40),
            ) {
                let mut state = AccountRoles { account_id: TARGET, current: vec![], last_organisation: Some(ORGS[0]) };
                let mut knowers: std::collections::BTreeSet<Uuid> = Default::default();
                for (op, org, roles, i) in steps {
                    let before = state.clone();
                    match op {
                        0 if !state.current.iter().any(|(o, _)| *o == org) => state.current.push((org, roles)),
                        1 if i < state.current.len() => state.current[i].1 = roles,
                        2 | 3 if i < state.current.len() => {
                            let (ended, _) = state.current.remove(i);
                            state.last_organisation = Some(ended);
                        }
                        4 => {
                            if let Some(m) = state.managing_organisation() {
                                knowers.insert(m);
                            }
                        }
                        _ => {}
                    }
                    // Op 3 is an expiry: time passes, no request runs, nothing is voided.
                    if op != 3 && before.leaves_its_administrator(&state) {
                        knowers.clear();
                    }
                    let manager = state.managing_organisation();
                    prop_assert!(knowers.iter().all(|k| Some(*k) == manager), "{:?} know, {:?} manages", knowers, manager);
                }
            }
        }
    }
}
