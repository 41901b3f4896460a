//! Access tokens: JWTs signed with Ed25519 (`EdDSA`), `typ: at+jwt`, a `kid` naming the
//! key, at most 15 minutes. Every registered claim is required and checked; exactly one
//! algorithm is accepted; `jku`/`jwk`/`x5u`/`x5c` headers are refused, never followed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::keyfile::{open_private, restrict_dir};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Longest token looked at; anything longer is refused before decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The hard ceiling on access-token lifetime.
pub const MAX_ACCESS_TTL_SECS: u64 = 15 * 60;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// The claims of an access token. All are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: Uuid,
    /// The organisation the session acts for.
    pub org: Uuid,
    /// The login session (refresh family); checked on every request.
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Why a token was refused. Recorded in the access log; the client sees one `401`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token_too_long")]
    TooLong,
    #[error("token_malformed")]
    Malformed,
    #[error("token_header_refused")]
    HeaderRefused,
    #[error("token_unknown_key")]
    UnknownKey,
    #[error("token_bad_signature")]
    BadSignature,
    #[error("token_expired")]
    Expired,
    #[error("token_not_yet_valid")]
    NotYetValid,
    #[error("token_wrong_audience")]
    WrongAudience,
    #[error("token_wrong_issuer")]
    WrongIssuer,
    #[error("token_claims_invalid")]
    Claims,
}

impl TokenError {
    pub fn reason(self) -> &'static str {
        match self {
            TokenError::TooLong => "token_too_long",
            TokenError::Malformed => "token_malformed",
            TokenError::HeaderRefused => "token_header_refused",
            TokenError::UnknownKey => "token_unknown_key",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::WrongAudience => "token_wrong_audience",
            TokenError::WrongIssuer => "token_wrong_issuer",
            TokenError::Claims => "token_claims_invalid",
        }
    }
}

struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: [u8; 32],
}

/// The signing keys: every key verifies, the newest (last by `kid`) signs.
#[derive(Clone)]
pub struct KeySet {
    keys: Arc<BTreeMap<String, Key>>,
    active: String,
}

impl KeySet {
    /// Loads every `<kid>.pem` (PKCS#8 Ed25519) in `dir`; creates the directory and a
    /// first key (mode 0600) when there is none. The key is never printed.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<KeySet> {
        fs::create_dir_all(dir)?;
        restrict_dir(dir)?;
        if Self::load(dir)?.is_none() {
            let kid = format!("ed25519-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding key: {e}"))?;
            let path = dir.join(format!("{kid}.pem"));
            match open_private(&path) {
                Ok(mut f) => f.write_all(pem.as_bytes())?,
                // Another process created it in the same second: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        Self::load(dir)?.ok_or_else(|| anyhow::anyhow!("no signing key in {}", dir.display()))
    }

    fn load(dir: &Path) -> anyhow::Result<Option<KeySet>> {
        let mut keys = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let Some(kid) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
            let pem = fs::read_to_string(&path)?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            keys.insert(kid, Key::from_signing(&key)?);
        }
        let Some(active) = keys.keys().next_back().cloned() else { return Ok(None) };
        Ok(Some(KeySet { keys: Arc::new(keys), active }))
    }

    /// A key set from keys held in memory (tests, tools).
    pub fn from_keys(keys: Vec<(String, SigningKey)>) -> anyhow::Result<KeySet> {
        let mut map = BTreeMap::new();
        for (kid, k) in keys {
            map.insert(kid, Key::from_signing(&k)?);
        }
        let active = map.keys().next_back().cloned().ok_or_else(|| anyhow::anyhow!("empty key set"))?;
        Ok(KeySet { keys: Arc::new(map), active })
    }

    pub fn active_kid(&self) -> &str {
        &self.active
    }

    /// `(kid, raw Ed25519 public key)` of every key, for publication.
    pub fn public_keys(&self) -> Vec<(String, [u8; 32])> {
        self.keys.iter().map(|(kid, k)| (kid.clone(), k.public)).collect()
    }
}

impl Key {
    fn from_signing(key: &SigningKey) -> anyhow::Result<Key> {
        let der = key.to_pkcs8_der().map_err(|e| anyhow::anyhow!("encoding key: {e}"))?;
        let public = key.verifying_key().to_bytes();
        Ok(Key {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_der(&public),
            public,
        })
    }
}

/// Issuer, audience and lifetime of access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    /// At most 900 (15 minutes).
    pub access_ttl_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig { issuer: "sitrep".into(), audience: "sitrep-api".into(), access_ttl_secs: MAX_ACCESS_TTL_SECS }
    }
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenService {
    keys: KeySet,
    config: TokenConfig,
    validation: Arc<Validation>,
}

impl TokenService {
    pub fn new(keys: KeySet, config: TokenConfig) -> anyhow::Result<TokenService> {
        if config.access_ttl_secs == 0 || config.access_ttl_secs > MAX_ACCESS_TTL_SECS {
            anyhow::bail!("auth.tokens.access_ttl_secs must be 1..={MAX_ACCESS_TTL_SECS}");
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[&config.audience]);
        validation.set_issuer(&[&config.issuer]);
        Ok(TokenService { keys, config, validation: Arc::new(validation) })
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// A signed access token for `user` acting for `org` in session `sid`.
    pub fn issue(&self, user: Uuid, org: Uuid, sid: Uuid) -> anyhow::Result<(String, AccessClaims)> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user,
            org,
            sid,
            jti: Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + self.config.access_ttl_secs as i64,
        };
        let key = self.keys.keys.get(&self.keys.active).ok_or_else(|| anyhow::anyhow!("active key missing"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(self.keys.active.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)?;
        Ok((token, claims))
    }

    /// Verifies signature, header and every claim. Never decodes without verifying.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP)
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(TokenError::HeaderRefused);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.keys.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature | K::InvalidEcdsaKey | K::InvalidEddsaKey | K::InvalidAlgorithm => {
                    TokenError::BadSignature
                }
                K::ExpiredSignature => TokenError::Expired,
                K::ImmatureSignature => TokenError::NotYetValid,
                K::InvalidAudience => TokenError::WrongAudience,
                K::InvalidIssuer => TokenError::WrongIssuer,
                K::MissingRequiredClaim(_) | K::Json(_) => TokenError::Claims,
                _ => TokenError::Malformed,
            }
        })?;
        let claims = data.claims;
        if claims.exp - claims.iat > (MAX_ACCESS_TTL_SECS + LEEWAY_SECS) as i64 {
            return Err(TokenError::Claims);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    fn service() -> (TokenService, SigningKey) {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let keys = KeySet::from_keys(vec![("k1".into(), key.clone())]).unwrap();
        (TokenService::new(keys, TokenConfig::default()).unwrap(), key)
    }

    fn claims(svc: &TokenService) -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        serde_json::json!({
            "iss": svc.config.issuer, "aud": svc.config.audience, "sub": Uuid::nil(), "org": Uuid::nil(),
            "sid": Uuid::nil(), "jti": Uuid::nil(), "iat": now, "nbf": now, "exp": now + 60
        })
    }

    fn sign(key: &SigningKey, header: serde_json::Value, claims: &serde_json::Value) -> String {
        use ed25519_dalek::Signer;
        let h = B64.encode(header.to_string());
        let c = B64.encode(claims.to_string());
        let sig = key.sign(format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", B64.encode(sig.to_bytes()))
    }

    fn good_header() -> serde_json::Value {
        serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"})
    }

    #[test]
    fn issued_tokens_verify_round_trip() {
        let (svc, _) = service();
        let (token, claims) = svc.issue(Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)).unwrap();
        assert_eq!(svc.verify(&token).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn hand_signed_control_token_verifies() {
        let (svc, key) = service();
        assert!(svc.verify(&sign(&key, good_header(), &claims(&svc))).is_ok());
    }

    #[test]
    fn expired_and_immature_tokens_are_refused_past_the_leeway() {
        let (svc, key) = service();
        let now = chrono::Utc::now().timestamp();
        let mut c = claims(&svc);
        c["exp"] = (now - LEEWAY_SECS as i64 - 2).into();
        c["iat"] = (now - 600).into();
        c["nbf"] = (now - 600).into();
        assert_eq!(svc.verify(&sign(&key, good_header(), &c)), Err(TokenError::Expired));
        let mut c = claims(&svc);
        c["nbf"] = (now + LEEWAY_SECS as i64 + 2).into();
        assert_eq!(svc.verify(&sign(&key, good_header(), &c)), Err(TokenError::NotYetValid));
    }

    #[test]
    fn string_typed_or_missing_times_are_refused() {
        let (svc, key) = service();
        for (claim, value) in [("exp", serde_json::json!("never")), ("nbf", serde_json::json!("99999999999"))] {
            let mut c = claims(&svc);
            c[claim] = value;
            assert!(svc.verify(&sign(&key, good_header(), &c)).is_err(), "{claim}");
        }
        for claim in ["exp", "nbf", "iat", "iss", "aud", "sub", "org", "sid", "jti"] {
            let mut c = claims(&svc);
            c.as_object_mut().unwrap().remove(claim);
            assert!(svc.verify(&sign(&key, good_header(), &c)).is_err(), "missing {claim}");
        }
    }

    #[test]
    fn wrong_audience_or_issuer_is_refused() {
        let (svc, key) = service();
        let mut c = claims(&svc);
        c["aud"] = "other-service".into();
        assert_eq!(svc.verify(&sign(&key, good_header(), &c)), Err(TokenError::WrongAudience));
        let mut c = claims(&svc);
        c["aud"] = serde_json::json!(["other", "x"]);
        assert!(svc.verify(&sign(&key, good_header(), &c)).is_err());
        let mut c = claims(&svc);
        c["iss"] = "someone-else".into();
        assert_eq!(svc.verify(&sign(&key, good_header(), &c)), Err(TokenError::WrongIssuer));
    }

    #[test]
    fn headers_other_than_ours_are_refused() {
        let (svc, key) = service();
        let c = claims(&svc);
        for header in [
            serde_json::json!({"alg": "EdDSA", "kid": "k1"}),
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"}),
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt"}),
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k0"}),
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "../../etc/passwd"}),
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1", "jku": "http://127.0.0.1:1/jwks"}),
        ] {
            assert!(svc.verify(&sign(&key, header.clone(), &c)).is_err(), "{header}");
        }
    }

    #[test]
    fn none_and_hmac_confusion_are_refused() {
        let (svc, key) = service();
        let c = B64.encode(claims(&svc).to_string());
        for alg in ["none", "None", "NONE"] {
            let h = B64.encode(serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": "k1"}).to_string());
            assert!(svc.verify(&format!("{h}.{c}.")).is_err(), "{alg}");
        }
        let public = key.verifying_key().to_bytes();
        let forged = jsonwebtoken::encode(
            &{
                let mut h = Header::new(Algorithm::HS256);
                h.typ = Some(ACCESS_TOKEN_TYP.into());
                h.kid = Some("k1".into());
                h
            },
            &claims(&svc),
            &EncodingKey::from_secret(&public),
        )
        .unwrap();
        assert_eq!(svc.verify(&forged), Err(TokenError::HeaderRefused));
    }

    #[test]
    fn tampered_payload_or_signature_is_refused() {
        let (svc, key) = service();
        let token = sign(&key, good_header(), &claims(&svc));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut evil = claims(&svc);
        evil["org"] = Uuid::from_u128(66).to_string().into();
        let original_payload = std::mem::replace(&mut parts[1], B64.encode(evil.to_string()));
        assert_eq!(svc.verify(&parts.join(".")), Err(TokenError::BadSignature));
        parts[1] = original_payload;
        let mut sig = B64.decode(&parts[2]).unwrap();
        sig[0] ^= 1;
        parts[2] = B64.encode(sig);
        assert_eq!(svc.verify(&parts.join(".")), Err(TokenError::BadSignature));
        parts[2] = String::new();
        assert!(svc.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn a_token_signed_by_another_key_with_our_kid_is_refused() {
        let (svc, _) = service();
        let attacker = SigningKey::from_bytes(&[9u8; 32]);
        assert_eq!(svc.verify(&sign(&attacker, good_header(), &claims(&svc))), Err(TokenError::BadSignature));
    }

    #[test]
    fn oversized_tokens_are_refused_before_decoding() {
        let (svc, _) = service();
        assert_eq!(svc.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)), Err(TokenError::TooLong));
    }

    #[test]
    fn duplicate_claims_are_refused() {
        let (svc, key) = service();
        let h = B64.encode(good_header().to_string());
        let body = claims(&svc).to_string();
        let dup = body.replacen('{', &format!("{{\"sub\":\"{}\",", Uuid::from_u128(5)), 1);
        let c = B64.encode(dup);
        use ed25519_dalek::Signer;
        let sig = key.sign(format!("{h}.{c}").as_bytes());
        assert!(svc.verify(&format!("{h}.{c}.{}", B64.encode(sig.to_bytes()))).is_err());
    }

    #[test]
    fn keys_are_created_once_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("sitrep-keys-{}", Uuid::new_v4()));
        let a = KeySet::load_or_create(&dir).unwrap();
        let b = KeySet::load_or_create(&dir).unwrap();
        assert_eq!(a.active_kid(), b.active_kid());
        assert_eq!(a.public_keys(), b.public_keys());
        fs::remove_dir_all(&dir).unwrap();
    }
}
