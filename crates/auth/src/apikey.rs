//! API keys of service accounts: `sitrep_live_<prefix>_<secret>`. The prefix (10
//! base32 characters, 50 random bits) is visible and finds the key; the secret (256
//! random bits) is shown once. Only SHA-256 of the whole key is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// What every key starts with; secret scanners can look for it.
pub const SCHEME: &str = "sitrep_live_";
pub const PREFIX_CHARS: usize = 10;
const SECRET_CHARS: usize = 43;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A freshly made key: show `key` once, store `prefix` and `hash`.
pub struct NewApiKey {
    pub key: String,
    pub prefix: String,
    pub hash: [u8; 32],
}

pub fn generate() -> NewApiKey {
    let mut raw = [0u8; PREFIX_CHARS];
    OsRng.fill_bytes(&mut raw);
    // 256 is a multiple of 32: taking each byte modulo 32 is uniform.
    let prefix: String = raw.iter().map(|b| BASE32[(*b % 32) as usize] as char).collect();
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let key = format!("{SCHEME}{prefix}_{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash(&key);
    NewApiKey { key, prefix, hash }
}

/// The visible part of a key, e.g. `sitrep_live_ab12cd34ef`.
pub fn display_prefix(prefix: &str) -> String {
    format!("{SCHEME}{prefix}")
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Whether a presented credential looks like an API key (rather than a JWT).
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with("sitrep_") && !credential.starts_with(crate::refresh::PREFIX)
}

/// The prefix of a well-formed key, or `None` (wrong scheme, length or alphabet).
pub fn parse(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(SCHEME)?;
    let (prefix, secret) = rest.split_once('_')?;
    let prefix_ok = prefix.len() == PREFIX_CHARS && prefix.bytes().all(|b| BASE32.contains(&b));
    let secret_ok =
        secret.len() == SECRET_CHARS && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_to_their_prefix_and_hash_consistently() {
        let a = generate();
        let b = generate();
        assert_ne!(a.key, b.key);
        assert_ne!(a.prefix, b.prefix);
        assert_eq!(parse(&a.key), Some(a.prefix.as_str()));
        assert_eq!(hash(&a.key), a.hash);
        assert!(a.key.starts_with(&display_prefix(&a.prefix)));
        assert_eq!(a.key.len(), SCHEME.len() + PREFIX_CHARS + 1 + SECRET_CHARS);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let good = generate().key;
        let secret = &good[SCHEME.len() + PREFIX_CHARS + 1..];
        for bad in [
            format!("sitrep_test_abcdefghij_{secret}"),
            format!("{SCHEME}ABCDEFGHIJ_{secret}"),
            format!("{SCHEME}abcdefghi_{secret}"),
            format!("{SCHEME}abcdefghij_{}", &secret[1..]),
            format!("{SCHEME}abcdefghij_{}!", &secret[1..]),
            format!("{SCHEME}abcdefghij{secret}"),
            String::new(),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
        assert!(looks_like_key(&good));
        assert!(!looks_like_key("eyJhbGciOiJFZERTQSJ9.x.y"));
        assert!(!looks_like_key(&crate::refresh::generate().0), "a refresh token is not a key");
    }
}
