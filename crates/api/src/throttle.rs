//! The login throttle at work (its shape is `sitrep_domain::throttle`): refusing an
//! attempt while its (account, address) or its address waits, counting a failure under
//! its three keys in PostgreSQL (so every server process sees the same counts), and the
//! alert when an account meets its ceiling.

use chrono::{Duration, Utc};
use sitrep_db::GenericClient;
use sitrep_db::access_log::{AccessRecord, Outcome};
use sitrep_db::sessions;
use sitrep_domain::throttle::{self, Counted, Keys};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::state::AppState;

/// The action of the alert record in the access log.
pub const ALERT_ACTION: &str = "auth.account_alert";

/// The keys of an attempt on the account `name` (normalised, existing or not) from the
/// request's client address.
pub fn keys(meta: &RequestMeta, name: &str) -> Keys {
    throttle::keys(name, meta.client_addr)
}

/// `Err((429 with Retry-After, the access log's reason))` while the attempt's (account,
/// address) or address waits. Looked up before any password is evaluated.
pub async fn check(c: &impl GenericClient, keys: &Keys) -> Result<Result<(), (ApiError, &'static str)>, ApiError> {
    let locks = sessions::login_locks(c, &[&keys.pair, &keys.address]).await?;
    let now = Utc::now();
    let wait =
        |key: &str| locks.iter().find(|(k, _)| k == key).map(|(_, until)| (*until - now).num_seconds().max(1) as u64);
    let (pair, address) = (wait(&keys.pair), wait(&keys.address));
    Ok(match throttle::refused(pair, address) {
        None => Ok(()),
        Some(secs) => {
            let reason = if address.is_some() { "address_throttled" } else { "account_address_throttled" };
            Err((ApiError::TooManyRequests { code: "too_many_attempts", retry_after_secs: secs }, reason))
        }
    })
}

/// Counts a failed sign-in (a wrong password or code, or a wrong current password) in the
/// caller's transaction: locks what the shape says, and when this failure takes the
/// account to its ceiling, writes the alert record for the secretariat. `account` is the
/// account's id when it exists; `status` the request's answer.
pub async fn count_failure(
    state: &AppState,
    meta: &RequestMeta,
    c: &impl GenericClient,
    keys: &Keys,
    account: Option<Uuid>,
    status: u16,
) -> Result<(), ApiError> {
    let shape = state.login.throttle();
    let window = shape.window_secs as i64;
    let counted = sessions::record_login_failures(c, &[&keys.account, &keys.pair, &keys.address], window).await?;
    let now = Utc::now();
    let of = |key: &str| {
        counted
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, start, n)| {
                let left = (*start + Duration::seconds(window) - now).num_seconds().max(0) as u64;
                (u32::try_from(*n).unwrap_or(0), left)
            })
            .unwrap_or((1, shape.window_secs))
    };
    let (account_failures, _) = of(&keys.account);
    let (pair, pair_window_left_secs) = of(&keys.pair);
    let (address, address_window_left_secs) = of(&keys.address);
    let after = shape.after_failure(Counted {
        account: account_failures,
        pair,
        pair_window_left_secs,
        address,
        address_window_left_secs,
    });
    if let Some(secs) = after.pair_wait_secs {
        sessions::lock_login(c, &keys.pair, now + Duration::seconds(secs as i64)).await?;
    }
    if let Some(secs) = after.address_wait_secs {
        sessions::lock_login(c, &keys.address, now + Duration::seconds(secs as i64)).await?;
    }
    if after.alert {
        let name = keys.account.trim_start_matches("account:");
        tracing::warn!(
            failures = account_failures,
            "failed sign-ins on one account reached the ceiling: the secretariat is alerted"
        );
        let record = AccessRecord {
            action: ALERT_ACTION.to_owned(),
            actor_name: Some(name.chars().take(64).collect()),
            ..access_log::anonymous(meta)
        };
        let record = match account {
            Some(id) => record.object("user", id),
            None => record,
        };
        access_log::write(c, meta, record.refused(Outcome::Denied, "account_failure_ceiling", status)).await?;
    }
    sessions::purge_login_throttle(c, window).await?;
    Ok(())
}

/// A success from this address forgets its (account, address) failures. The address's
/// and the account's counts stay: one good sign-in must not reset an attack's.
pub async fn succeeded(c: &impl GenericClient, keys: &Keys) -> Result<(), ApiError> {
    sessions::clear_login_failures(c, &keys.pair).await?;
    Ok(())
}

/// `Err(429 with Retry-After)` while a single throttle key (`totp:<user>`, codes at the
/// self-service endpoints) is locked by earlier failures.
pub async fn key_not_locked(c: &impl GenericClient, key: &str) -> Result<Result<(), ApiError>, ApiError> {
    Ok(match sessions::login_locked_until(c, key).await? {
        Some(until) => {
            let secs = (until - Utc::now()).num_seconds().max(1) as u64;
            Err(ApiError::TooManyRequests { code: "too_many_attempts", retry_after_secs: secs })
        }
        None => Ok(()),
    })
}

/// Counts a failure against a single throttle key with the (account, address) shape.
pub async fn count_key_failure(state: &AppState, c: &impl GenericClient, key: &str) -> Result<(), ApiError> {
    let shape = state.login.throttle();
    let window = shape.window_secs as i64;
    let (window_start, failures) = sessions::record_login_failure(c, key, window).await?;
    let left = (window_start + Duration::seconds(window) - Utc::now()).num_seconds().max(0) as u64;
    if let Some(delay) = shape.pair.delay_after(u32::try_from(failures).unwrap_or(0), left) {
        sessions::lock_login(c, key, Utc::now() + Duration::seconds(delay as i64)).await?;
    }
    Ok(())
}
