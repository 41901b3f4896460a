//! Shared state of the API: the pool, the credential services, the login policy.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use sitrep_auth::{PasswordHasher, SealKey, TokenService};
use sitrep_db::Pool;
use sitrep_domain::throttle::{LoginThrottle, Shape};

/// Sessions and login throttling (configuration section `auth.login`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginPolicy {
    /// A refresh token unused for this long expires (at most 30 minutes).
    pub refresh_idle_secs: u64,
    /// A session ends this long after login, however active (at most 12 hours).
    pub session_absolute_secs: u64,
    /// Failed logins of one account from one client address allowed in a window before
    /// delays start (none once the account has met `account_ceiling`).
    pub free_failures: u32,
    /// Failed logins of one account from one address per window after which that
    /// address waits for the window to end (ASVS: at most 100 per hour).
    pub max_failures_per_window: u32,
    pub window_secs: u64,
    /// The longest delay between attempts before a `max_…` is reached.
    pub max_delay_secs: u64,
    /// Failed logins from one client address, whatever the account, allowed in a window
    /// before that address waits.
    pub address_free_failures: u32,
    /// Failed logins from one address per window after which it waits for the window
    /// to end.
    pub address_max_failures_per_window: u32,
    /// Failed logins of one account from all addresses in a window that raise the alert
    /// (access log and metric) and take away every address's free failures on it. It
    /// never refuses anyone by itself.
    pub account_ceiling: u32,
    /// Login attempts per client address per minute, per process (a cost guard).
    pub per_address_per_minute: u32,
    /// People holding `approver`, `org_admin`, `secretariat`, `auditor` or `sysadmin` can
    /// do nothing but enrol until their session has proven TOTP (ASVS 6.3.3), whatever
    /// their organisation's policy.
    pub privileged_roles_need_totp: bool,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            refresh_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            free_failures: 5,
            max_failures_per_window: 100,
            window_secs: 3600,
            max_delay_secs: 15 * 60,
            address_free_failures: 50,
            address_max_failures_per_window: 1000,
            account_ceiling: 50,
            per_address_per_minute: 60,
            privileged_roles_need_totp: false,
        }
    }
}

impl LoginPolicy {
    pub fn check(&self) -> Result<(), String> {
        if self.refresh_idle_secs == 0 || self.refresh_idle_secs > 30 * 60 {
            return Err("auth.login.refresh_idle_secs must be 1..=1800".into());
        }
        if self.session_absolute_secs == 0 || self.session_absolute_secs > 12 * 3600 {
            return Err("auth.login.session_absolute_secs must be 1..=43200".into());
        }
        if self.max_failures_per_window == 0 || self.max_failures_per_window > 100 {
            return Err("auth.login.max_failures_per_window must be 1..=100".into());
        }
        if self.free_failures >= self.max_failures_per_window {
            return Err("auth.login.free_failures must be below max_failures_per_window".into());
        }
        if self.address_free_failures >= self.address_max_failures_per_window {
            return Err("auth.login.address_free_failures must be below address_max_failures_per_window".into());
        }
        if self.window_secs == 0 || self.per_address_per_minute == 0 || self.account_ceiling == 0 {
            return Err("auth.login.window_secs, account_ceiling and per_address_per_minute must be positive".into());
        }
        Ok(())
    }

    /// The roles whose sessions must prove TOTP (none unless `privileged_roles_need_totp`).
    pub fn roles_needing_totp(&self) -> &'static [&'static str] {
        const NAMES: [&str; 5] = {
            let r = sitrep_domain::permissions::PRIVILEGED_ROLES;
            [r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str(), r[4].as_str()]
        };
        if self.privileged_roles_need_totp { &NAMES } else { &[] }
    }

    /// The throttle's shape (`sitrep_domain::throttle`).
    pub fn throttle(&self) -> LoginThrottle {
        LoginThrottle {
            window_secs: self.window_secs,
            pair: Shape {
                free: self.free_failures,
                max_per_window: self.max_failures_per_window,
                max_delay_secs: self.max_delay_secs,
            },
            address: Shape {
                free: self.address_free_failures,
                max_per_window: self.address_max_failures_per_window,
                max_delay_secs: self.max_delay_secs,
            },
            account_ceiling: self.account_ceiling,
        }
    }
}

/// Everything a handler may need, cloned cheaply per worker.
#[derive(Clone)]
pub struct AppState {
    /// The primary: every write, every access-log record, and every read that must see
    /// the latest state (by id, after one's own write, authentication).
    pub pool: Pool,
    /// Writes the access-log records of requests that change nothing, several to a commit.
    pub recorder: sitrep_db::access_log::recorder::Recorder,
    /// A read-only replica for lists and search (`database.read_url`); see `reader`.
    pub read_pool: Option<Pool>,
    pub tokens: TokenService,
    pub hasher: PasswordHasher,
    /// Seals TOTP secrets in the database.
    pub seal: SealKey,
    /// Seals every cursor the API hands out (derived from `seal`, so the same in every
    /// process of a deployment).
    pub cursors: crate::pagination::CursorKey,
    /// The issuer authenticator apps show.
    pub totp_issuer: String,
    pub login: LoginPolicy,
    pub login_per_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// The deployment is accredited to hold TL IV material (never beyond `group_virt`).
    pub tl_iv_accredited: bool,
    /// The time zone the console shows times in (`console.time_zone`).
    pub time_zone: String,
    /// Checks webhook targets when subscriptions are made.
    pub webhooks: sitrep_delivery::client::WebhookClient,
    /// Bumped whenever the outbox grows (any server process): wakes live streams.
    pub events: Option<tokio::sync::watch::Receiver<u64>>,
    /// Feeds this process's live streams (set by the server at start).
    pub live: Option<Arc<crate::live::Hub>>,
    pub metrics: crate::metrics::Metrics,
    /// The public key of the access log's checkpoints (set by the server at start).
    pub checkpoint_key: Option<sitrep_types::CheckpointKey>,
    /// Balancers whose `X-Forwarded-For` names the client (`http.trusted_proxies`).
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// Turns `true` when the process begins to shut down: live streams end (their clients
    /// resume with `Last-Event-ID` on another process) so that shutdown is not held up.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// Where attachments are kept (set by the server at start; without it uploads and
    /// downloads answer `503`).
    pub attachments: Option<Arc<crate::attachments::Store>>,
}

impl AppState {
    pub fn new(
        pool: Pool,
        recorder: sitrep_db::access_log::recorder::Recorder,
        tokens: TokenService,
        hasher: PasswordHasher,
        seal: SealKey,
        login: LoginPolicy,
        webhooks: sitrep_delivery::client::WebhookClient,
    ) -> Result<Self, String> {
        login.check()?;
        let per_minute = NonZeroU32::new(login.per_address_per_minute).ok_or("per_address_per_minute is zero")?;
        Ok(AppState {
            pool,
            recorder,
            read_pool: None,
            tokens,
            hasher,
            cursors: crate::pagination::CursorKey::new(&seal),
            seal,
            totp_issuer: "Sitrep".into(),
            login,
            login_per_address: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            tl_iv_accredited: false,
            time_zone: "Europe/Helsinki".into(),
            webhooks,
            events: None,
            live: None,
            metrics: crate::metrics::Metrics::new().map_err(|e| e.to_string())?,
            checkpoint_key: None,
            trusted_proxies: Default::default(),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
            attachments: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_shape_frees_five_failures_per_address_and_locks_at_the_hundredth() {
        let t = LoginPolicy::default().throttle();
        assert_eq!(t.pair.delay_after(5, 3000), None);
        assert_eq!(t.pair.delay_after(6, 3000), Some(1));
        assert_eq!(t.pair.delay_after(10, 3000), Some(16));
        assert_eq!(t.pair.delay_after(40, 3000), Some(900));
        assert_eq!(t.pair.delay_after(100, 1234), Some(1234));
        assert_eq!(t.pair.delay_after(100, 0), Some(1));
        assert_eq!(t.address.delay_after(50, 3000), None);
        assert_eq!(t.address.delay_after(51, 3000), Some(1));
    }

    #[test]
    fn policies_beyond_the_asvs_limits_are_refused() {
        assert!(LoginPolicy::default().check().is_ok());
        assert!(LoginPolicy { refresh_idle_secs: 3600, ..LoginPolicy::default() }.check().is_err());
        assert!(LoginPolicy { max_failures_per_window: 101, ..LoginPolicy::default() }.check().is_err());
    }
}
