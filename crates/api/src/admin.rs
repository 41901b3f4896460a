//! The administration boundary the user and service-account routes share: whose accounts
//! a caller manages, the refusals, and what a membership change that takes an account
//! away from its administrator voids. The rule itself is
//! `Permissions::can_manage_account` in the domain crate.

use sitrep_db::accounts::UserRow;
use sitrep_db::scope::InScope;
use sitrep_db::service_accounts::ServiceAccountRow;
use sitrep_db::{GenericClient, accounts, service_accounts, sessions};
use sitrep_domain::{AccountRoles, Refusal};
use uuid::Uuid;

use crate::error::ApiError;
use crate::principal::{ActorKind, Principal};
use crate::state::AppState;

/// The answer to a refused administration request.
pub(crate) fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotYourOrganisation => {
            ApiError::forbidden("You may manage the accounts of your own organisation only.")
        }
        Refusal::PrivilegedAccount => ApiError::Forbidden {
            code: "account_privileged",
            detail: "This account holds a role only the secretariat grants; only the secretariat manages it.",
        },
        Refusal::SharedAccount => ApiError::Forbidden {
            code: "user_shared",
            detail: "This account is also a member of another organisation; ask the secretariat.",
        },
        Refusal::OwnAccount => ApiError::Forbidden {
            code: "own_account",
            detail: "Administration acts on other accounts; your own is under /api/v1/me.",
        },
        Refusal::RoleNotGrantable => ApiError::Forbidden {
            code: "role_not_grantable",
            detail: "Only the secretariat grants the secretariat, auditor and sysadmin roles.",
        },
    }
}

/// The account's roles in every organisation, if the caller may change the account.
/// Call it after locking the account's row, so the answer holds until commit.
pub(crate) async fn check_manages(
    c: &impl GenericClient,
    caller: &Principal,
    account: Uuid,
) -> Result<AccountRoles, ApiError> {
    let roles = accounts::account_roles(c, account).await?;
    caller.permissions.can_manage_account(caller.user_id, &roles).map_err(refused)?;
    // A service account acts for whoever made its keys: it does not administer them, or
    // "nobody changes their own account" would be one API key away.
    if caller.actor == ActorKind::ServiceAccount
        && service_accounts::key_holder_of(c, account).await?.contains(&caller.user_id)
    {
        return Err(refused(Refusal::OwnAccount));
    }
    Ok(roles)
}

/// The organisation exists and is active, or a `422` on `field`.
pub(crate) async fn check_organisation(c: &impl GenericClient, id: Uuid, field: &str) -> Result<(), ApiError> {
    match accounts::get_organisation(c, id).await? {
        Some(o) if o.active => Ok(()),
        _ => Err(ApiError::invalid(field, "unknown_organisation", "no active organisation has this id")),
    }
}

/// An account an administrator changes, as found through the administrator's scope; what
/// its credentials are follows from its kind.
#[derive(Clone, Copy)]
pub(crate) enum Managed<'a> {
    Person(&'a InScope<UserRow>),
    Service(&'a InScope<ServiceAccountRow>),
}

/// After a membership change of `account` (still under its row lock): when the change
/// took the account away from the organisation whose `org_admin` managed it (`before`),
/// that administrator may know its credentials, so they end here. A person's password
/// becomes the hash of a secret nobody keeps, its second factor goes and its sessions
/// end (the secretariat then sets a new password); a service account's keys are revoked.
/// Returns whether anything was voided.
pub(crate) async fn void_credentials_if_it_left(
    c: &impl GenericClient,
    state: &AppState,
    before: &AccountRoles,
    account: Managed<'_>,
    by: Uuid,
) -> Result<bool, ApiError> {
    let id = match account {
        Managed::Person(p) => p.id,
        Managed::Service(s) => s.id,
    };
    let after = accounts::account_roles(c, id).await?;
    if !before.leaves_its_administrator(&after) {
        return Ok(false);
    }
    match account {
        Managed::Person(person) => {
            let secret = hex::encode(rand::random::<[u8; 32]>());
            let unusable = state.hasher.hash(&secret).await?;
            accounts::void_person_credentials(c, person, &unusable).await?;
            sessions::revoke_user_sessions(c, id, None, "credentials_voided").await?;
        }
        Managed::Service(service) => {
            service_accounts::revoke_all_api_keys(c, service, by).await?;
        }
    }
    Ok(true)
}
