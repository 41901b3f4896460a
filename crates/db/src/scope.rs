//! What an administrator's scope reaches. Accounts, service accounts and subscriptions are
//! found the way pictures are found through a viewer: by a finder of this crate that takes
//! a scope (`accounts::find_user` and `lock_user`, `service_accounts::find_service_account`
//! and `lock_service_account`, `subscriptions::get` and `lock`), or made in the same
//! transaction. The finder hands out the row as an [`InScope`]. The changes to such an
//! object, and the reads of its memberships, keys and deliveries, take one; code outside
//! this crate cannot make an `InScope` from a bare id, so a handler cannot reach them for
//! an object it did not find through a scope. Which scope is the caller's business: the
//! API passes the caller's (`Permissions::admin_scope`). Ending a person's sessions and
//! removing its TOTP take the id, as they serve self-service too.

use std::ops::Deref;

use uuid::Uuid;

/// A row the caller's administrative scope reaches (or that the caller just made).
#[derive(Debug, Clone)]
pub struct InScope<T>(T);

impl<T> InScope<T> {
    pub(crate) fn new(row: T) -> Self {
        InScope(row)
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for InScope<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// An account row, a person's or a service account's: what memberships belong to.
pub trait Account {
    fn account_id(&self) -> Uuid;
}
