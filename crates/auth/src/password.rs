//! argon2id on the blocking pool, behind a semaphore, with the same cost for unknown
//! users as for known ones.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// argon2id cost parameters. The defaults are OWASP's m=19 MiB, t=2, p=1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Memory in KiB (at least 19456).
    pub memory_kib: u32,
    /// Iterations (at least 2).
    pub iterations: u32,
    /// Hashes computed at once; further logins wait for a slot.
    pub max_concurrent: usize,
    /// How long a login waits for a slot before `503` with `Retry-After`.
    pub queue_timeout_ms: u64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { memory_kib: 19_456, iterations: 2, max_concurrent: 2, queue_timeout_ms: 2_000 }
    }
}

impl PasswordPolicy {
    pub const MIN_MEMORY_KIB: u32 = 19_456;
    pub const MIN_ITERATIONS: u32 = 2;

    /// Refuses parameters below the OWASP minimum (asserted at start-up).
    pub fn check(&self) -> Result<(), String> {
        if self.memory_kib < Self::MIN_MEMORY_KIB || self.iterations < Self::MIN_ITERATIONS {
            return Err(format!(
                "argon2id parameters below m={} KiB, t={}: m={}, t={}",
                Self::MIN_MEMORY_KIB,
                Self::MIN_ITERATIONS,
                self.memory_kib,
                self.iterations
            ));
        }
        if self.max_concurrent == 0 {
            return Err("auth.password.max_concurrent must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every slot stayed busy for the queue timeout: answer `503` with `Retry-After`.
    #[error("password hashing is saturated")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The result of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash uses weaker parameters than today's: store a new one.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
    /// A hash of a random password with today's parameters, verified when the user does
    /// not exist so that unknown users cost as much as known ones.
    dummy: Arc<str>,
}

impl PasswordHasher {
    pub fn new(policy: &PasswordPolicy) -> Result<PasswordHasher, HashError> {
        policy.check().map_err(HashError::Internal)?;
        let params = Params::new(policy.memory_kib, policy.iterations, 1, None)
            .map_err(|e| HashError::Internal(e.to_string()))?;
        let random = SaltString::generate(&mut OsRng);
        let dummy = hash_with(&params, random.as_str())?;
        Ok(PasswordHasher {
            params,
            slots: Arc::new(Semaphore::new(policy.max_concurrent)),
            queue_timeout: Duration::from_millis(policy.queue_timeout_ms),
            dummy: dummy.into(),
        })
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let result = tokio::task::spawn_blocking(work).await.map_err(|e| HashError::Internal(e.to_string()))?;
        drop(permit);
        result
    }

    /// A PHC string `$argon2id$v=19$m=…,t=…,p=1$…` for a new password.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.on_blocking_pool(move || hash_with(&params, &password)).await
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// such user (the answer is then always "no", at the same cost).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified, HashError> {
        let known = stored.is_some();
        let stored: String = stored.map(str::to_owned).unwrap_or_else(|| self.dummy.to_string());
        let password = password.to_owned();
        let current = self.params.clone();
        self.on_blocking_pool(move || {
            let parsed = PasswordHash::new(&stored).map_err(|e| HashError::Internal(e.to_string()))?;
            let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
            let needs_rehash = ok && weaker_than(&parsed, &current);
            Ok(Verified { ok: ok && known, needs_rehash: needs_rehash && known })
        })
        .await
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Internal(e.to_string()))
}

fn weaker_than(stored: &PasswordHash<'_>, current: &Params) -> bool {
    if stored.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(stored) {
        Ok(p) => p.m_cost() < current.m_cost() || p.t_cost() < current.t_cost(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(&PasswordPolicy::default()).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_owasp_parameters() {
        let h = hasher().hash("correct horse battery staple").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }

    #[tokio::test]
    async fn verify_accepts_the_exact_password_only() {
        let hasher = hasher();
        let pw = "Ääkkösiä ja 😀 välilyöntejä pitkä salasana";
        let h = hasher.hash(pw).await.unwrap();
        assert!(hasher.verify(pw, Some(&h)).await.unwrap().ok);
        assert!(!hasher.verify(&pw.to_uppercase(), Some(&h)).await.unwrap().ok);
        let prefix: String = pw.chars().take(20).collect();
        assert!(!hasher.verify(&prefix, Some(&h)).await.unwrap().ok);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!hasher().verify("anything at all here", None).await.unwrap().ok);
    }

    #[tokio::test]
    async fn weaker_stored_parameters_ask_for_a_rehash() {
        let weak = Params::new(7168, 5, 1, None).unwrap();
        let h = hash_with(&weak, "a password of some length").unwrap();
        let v = hasher().verify("a password of some length", Some(&h)).await.unwrap();
        assert!(v.ok && v.needs_rehash);
    }

    #[test]
    fn parameters_below_owasp_are_refused() {
        let p = PasswordPolicy { memory_kib: 4096, ..PasswordPolicy::default() };
        assert!(PasswordHasher::new(&p).is_err());
    }

    #[tokio::test]
    async fn a_saturated_hasher_answers_busy() {
        let p = PasswordPolicy { max_concurrent: 1, queue_timeout_ms: 1, ..PasswordPolicy::default() };
        let hasher = PasswordHasher::new(&p).unwrap();
        let _held = hasher.slots.clone().acquire_owned().await.unwrap();
        assert!(matches!(hasher.hash("whatever password").await, Err(HashError::Busy)));
    }
}
