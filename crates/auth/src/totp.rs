//! The TOTP second factor (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way) and single-use recovery codes.

use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// 160-bit secrets, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn totp(secret: &[u8], account: &str, issuer: &str) -> anyhow::Result<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECS, secret.to_vec(), Some(issuer.to_owned()), account.to_owned())
        .map_err(|e| anyhow::anyhow!("totp parameters: {e:?}"))
}

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// What an authenticator app needs: the secret in base32 and the `otpauth://` URI
/// (the content of the QR code).
pub fn provisioning(secret: &[u8], account: &str, issuer: &str) -> anyhow::Result<(String, String)> {
    // Issuer and account may not hold ':' in an otpauth label.
    let account = account.replace(':', "_");
    let t = totp(secret, &account, issuer)?;
    Ok((t.get_secret_base32(), t.get_url()))
}

/// The time step a code is valid for at `now` (Unix seconds), if it is valid within one
/// step of skew. The caller refuses a step not above the last one used (replay).
pub fn verify(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x", "x").ok()?;
    let current = now / STEP_SECS;
    let mut matched = None;
    // Check every candidate step, without stopping early, so timing does not say which.
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = t.generate(step * STEP_SECS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

/// The raw secret of a base32 text (as `provisioning` returns it).
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::Encoded(text.to_owned()).to_bytes().ok()
}

/// The code for `now` (tests and tools).
pub fn code_at(secret: &[u8], now: u64) -> anyhow::Result<String> {
    Ok(totp(secret, "x", "x")?.generate(now))
}

/// Ten recovery codes of 120 random bits each, as `xxxxxx-xxxxxx-xxxxxx-xxxxxx`.
pub fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut raw = [0u8; 24];
            OsRng.fill_bytes(&mut raw);
            let chars: Vec<char> = raw.iter().map(|b| BASE32[(*b % 32) as usize] as char).collect();
            chars.chunks(6).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// The stored form of a recovery code; case, spaces and dashes do not matter.
pub fn recovery_hash(code: &str) -> [u8; 32] {
    let normal: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
    Sha256::digest(normal.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s → 94287082 (8
        // digits); its last six digits are the 6-digit code.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(code_at(secret, 1111111109).unwrap(), "081804");
    }

    #[test]
    fn codes_verify_within_one_step_of_skew_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(verify(&secret, &code, now), Some(now / STEP_SECS));
        assert_eq!(verify(&secret, &code, now + STEP_SECS), Some(now / STEP_SECS));
        assert_eq!(verify(&secret, &code, now - STEP_SECS), Some(now / STEP_SECS));
        assert_eq!(verify(&secret, &code, now + 3 * STEP_SECS), None);
        assert_eq!(verify(&secret, "12345", now), None);
        assert_eq!(verify(&secret, "abcdef", now), None);
        assert_eq!(verify(&new_secret(), &code, now), None);
    }

    #[test]
    fn provisioning_uri_names_issuer_account_and_parameters() {
        let secret = new_secret();
        let (b32, uri) = provisioning(&secret, "mikko:x", "Sitrep").unwrap();
        assert_eq!(decode_base32(&b32).unwrap(), secret);
        assert!(uri.starts_with("otpauth://totp/Sitrep:mikko_x?"), "{uri}");
        assert!(uri.contains(&format!("secret={b32}")));
        assert!(uri.contains("issuer=Sitrep"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_regardless_of_formatting() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), RECOVERY_CODES);
        let c = &codes[0];
        assert_eq!(c.len(), 27);
        assert_eq!(recovery_hash(c), recovery_hash(&c.to_uppercase().replace('-', " ")));
        assert_ne!(recovery_hash(c), recovery_hash(&codes[1]));
    }
}
