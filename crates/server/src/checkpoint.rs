//! The checkpoint key (Ed25519, its own file, separate from the token keys) and the task
//! that signs the chain head periodically (docs/access-log.md).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey};
use sitrep_auth::keyfile::{open_private, private_dir};
use sitrep_db::Pool;
use sitrep_types::{AccessLogCheckpoint, CheckpointKey};

/// The key that signs checkpoints.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// Loads the PKCS#8 PEM key at `path`, creating it (mode 0600, folder 0700) if missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<CheckpointSigner> {
        if !path.exists() {
            if let Some(dir) = path.parent() {
                private_dir(dir)?;
            }
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding key: {e}"))?;
            match open_private(path) {
                Ok(mut f) => f.write_all(pem.as_bytes())?,
                // Another process created it at the same moment: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(path = %path.display(), "created the access-log checkpoint key");
        }
        Self::load(path)
    }

    pub fn load(path: &Path) -> anyhow::Result<CheckpointSigner> {
        let pem = fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self::from_key(key))
    }

    pub fn from_key(key: SigningKey) -> CheckpointSigner {
        let key_id = sitrep_access_log::chain::key_id(&key.verifying_key());
        CheckpointSigner { key, key_id }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public half, as the API shows it.
    pub fn public(&self) -> CheckpointKey {
        CheckpointKey {
            key_id: self.key_id.clone(),
            algorithm: "Ed25519".into(),
            public_key: B64.encode(self.key.verifying_key().as_bytes()),
        }
    }

    /// The public key as a PEM (SubjectPublicKeyInfo) text.
    pub fn public_pem(&self) -> anyhow::Result<String> {
        self.key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding key: {e}"))
    }

    /// Signs the current head now (see `sitrep_db::access_log::make_checkpoint`).
    pub async fn checkpoint(&self, pool: &Pool, force: bool) -> anyhow::Result<Option<AccessLogCheckpoint>> {
        let mut client = pool.get().await?;
        let key = &self.key;
        let cp = sitrep_db::access_log::make_checkpoint(&mut client, &self.key_id, force, |m| key.sign(m).to_bytes())
            .await?;
        Ok(cp)
    }

    /// Signs the head every `interval` (when it moved), until the process ends. Several
    /// processes may run this: an advisory lock makes one of them do each round.
    pub fn spawn_periodic(self, pool: Pool, interval: Duration) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match self.checkpoint(&pool, false).await {
                    Ok(Some(cp)) => tracing::info!(seq = cp.seq, id = cp.id, "signed an access-log checkpoint"),
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = format!("{e:#}"), "could not sign an access-log checkpoint"),
                }
            }
        });
    }
}
