//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, secrets `whsec_<base64>`, several signatures (space
//! separated) while a secret is rotated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: 24 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

#[derive(Debug, thiserror::Error)]
#[error("not a whsec_ secret")]
pub struct BadSecret;

fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let raw = secret.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
    STANDARD.decode(raw).map_err(|_| BadSecret)
}

/// One `v1,…` signature of a message with one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).map_err(|_| BadSecret)?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header value: one signature per secret.
pub fn header(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let sigs: Result<Vec<String>, BadSecret> = secrets.iter().map(|s| sign(s, id, timestamp, body)).collect();
    Ok(sigs?.join(" "))
}

/// Verifies a header against a secret (what a receiver does), in constant time.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = key(secret) else { return false };
    header.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|sig| {
        let Ok(sig) = STANDARD.decode(sig) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else { return false };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's examples.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1614265330;
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(sign(secret, id, ts, body).unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_every_secret_and_either_verifies() {
        let (old, new) = (new_secret(), new_secret());
        let h = header(&[new.clone(), old.clone()], "evt_1", 5, b"{}").unwrap();
        assert!(verify(&old, "evt_1", 5, b"{}", &h));
        assert!(verify(&new, "evt_1", 5, b"{}", &h));
        assert!(!verify(&new_secret(), "evt_1", 5, b"{}", &h));
        assert!(!verify(&new, "evt_1", 6, b"{}", &h));
        assert!(sign("nope", "a", 1, b"").is_err());
    }
}
