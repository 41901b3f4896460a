//! Sealing of secrets the server must read back (TOTP secrets): ChaCha20-Poly1305 under
//! a 256-bit key kept in a file outside the database, so a copy of the database alone
//! does not give away second factors. The associated data binds a sealed value to its
//! owner: moving it to another row makes it fail to open.
//!
//! The same key is the root of the server's other secrets that every process of a
//! deployment must share (the cursor key): [`SealKey::derive`] gives each purpose a key
//! of its own, from which the seal key cannot be worked back.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use crate::keyfile::{open_private, private_dir};

const NONCE_BYTES: usize = 12;

#[derive(Clone)]
pub struct SealKey {
    cipher: Arc<ChaCha20Poly1305>,
    /// Kept for [`SealKey::derive`].
    raw: Arc<[u8; 32]>,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// Reads the key (base64 of 32 bytes) from `path`, creating it (mode 0600, in a
    /// directory only the owner enters) when missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<SealKey> {
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        if !path.exists() {
            let mut raw = [0u8; 32];
            OsRng.fill_bytes(&mut raw);
            match open_private(path) {
                Ok(mut f) => f.write_all(STANDARD.encode(raw).as_bytes())?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        let text = fs::read_to_string(path)?;
        let raw = STANDARD.decode(text.trim()).map_err(|_| anyhow::anyhow!("{}: not base64", path.display()))?;
        let raw: [u8; 32] =
            raw.try_into().map_err(|_| anyhow::anyhow!("{}: a seal key is 32 bytes", path.display()))?;
        Ok(SealKey::from_bytes(&raw))
    }

    pub fn from_bytes(raw: &[u8; 32]) -> SealKey {
        SealKey { cipher: Arc::new(ChaCha20Poly1305::new(&Key::from(*raw))), raw: Arc::new(*raw) }
    }

    /// A 256-bit key for `purpose` (HMAC-SHA-256 of the purpose under this key): the same
    /// in every process that shares the seal key, different for every purpose.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        // HMAC takes a key of any length; this cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.raw.as_slice()) else { unreachable!() };
        mac.update(b"sitrep derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// `nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], owner: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: owner })
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, sealed: &[u8], owner: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into()?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad: owner })
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server once made `/tmp` 0700 when a test put a seal key there: a folder it did
    /// not create is never changed, and one that others may write to is refused (another
    /// user could have put a key of their own in place first).
    #[cfg(unix)]
    #[test]
    fn a_seal_key_in_a_folder_others_may_write_to_is_refused_and_the_folder_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let shared = std::env::temp_dir().join(format!("sitrep-seal-shared-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        let refused = SealKey::load_or_create(&shared.join("seal.key")).unwrap_err();
        assert!(refused.to_string().contains("may be written by other users"), "{refused}");
        assert_eq!(fs::metadata(&shared).unwrap().permissions().mode() & 0o7777, 0o1777);
        assert!(!shared.join("seal.key").exists());
        // A folder of its own is made private and the key created there.
        let own = shared.join("own/secrets");
        SealKey::load_or_create(&own.join("seal.key")).unwrap();
        assert_eq!(fs::metadata(&own).unwrap().permissions().mode() & 0o7777, 0o700);
        fs::remove_dir_all(&shared).unwrap();
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_owner() {
        let key = SealKey::from_bytes(&[7u8; 32]);
        let sealed = key.seal(b"secret", b"alice").unwrap();
        assert_eq!(key.open(&sealed, b"alice").unwrap(), b"secret");
        assert!(key.open(&sealed, b"bob").is_err());
        assert!(SealKey::from_bytes(&[8u8; 32]).open(&sealed, b"alice").is_err());
        let mut flipped = sealed.clone();
        flipped[15] ^= 1;
        assert!(key.open(&flipped, b"alice").is_err());
        assert_ne!(key.seal(b"secret", b"alice").unwrap(), sealed, "fresh nonce each time");
    }

    #[test]
    fn derived_keys_depend_on_the_seal_key_and_the_purpose_alone() {
        let key = SealKey::from_bytes(&[7u8; 32]);
        assert_eq!(key.derive("cursors"), SealKey::from_bytes(&[7u8; 32]).derive("cursors"));
        assert_ne!(key.derive("cursors"), key.derive("other"));
        assert_ne!(key.derive("cursors"), SealKey::from_bytes(&[8u8; 32]).derive("cursors"));
        assert_ne!(key.derive("cursors"), [7u8; 32]);
    }

    #[test]
    fn key_file_is_created_once_and_reread() {
        let dir = std::env::temp_dir().join(format!("sitrep-seal-{}", uuid::Uuid::new_v4().simple()));
        let path = dir.join("totp-seal.key");
        let a = SealKey::load_or_create(&path).unwrap();
        let sealed = a.seal(b"x", b"o").unwrap();
        let b = SealKey::load_or_create(&path).unwrap();
        assert_eq!(b.open(&sealed, b"o").unwrap(), b"x");
        fs::remove_dir_all(dir).unwrap();
    }
}
