//! Access tokens: JWTs signed with Ed25519 (`EdDSA`), `typ: at+jwt`, a `kid` naming the
//! key, at most 15 minutes. Every registered claim is required and checked; exactly one
//! algorithm is accepted; `jku`/`jwk`/`x5u`/`x5c` headers are refused, never followed.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};

use ed25519_dalek::SigningKey;

use crate::keyfile::{open_private, private_dir};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
    created_at: DateTime<Utc>,
}

/// The kid of a key made at `at`: `ed25519-YYYYMMDDTHHMMSSZ`. Keys sort by it.
fn kid_at(at: DateTime<Utc>) -> String {
    format!("ed25519-{}", at.format("%Y%m%dT%H%M%SZ"))
}

/// When a key was made, from its kid; keys named otherwise count as made long ago.
fn created_from_kid(kid: &str) -> DateTime<Utc> {
    kid.strip_prefix("ed25519-")
        .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%SZ").ok())
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// One signing key as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: DateTime<Utc>,
    /// This key signs new tokens now; the others only verify.
    pub signing: bool,
}

/// The signing keys in a directory, `<kid>.pem` each. Every key verifies. The newest key
/// that has been published for `activation` signs (so that every server process has
/// loaded it before tokens signed by it arrive); until then its predecessor signs.
#[derive(Clone)]
pub struct KeySet {
    keys: Arc<BTreeMap<String, Key>>,
    /// The kids oldest first (by creation, then kid), fixed when the set is made.
    order: Arc<Vec<String>>,
}

impl KeySet {
    /// Loads every key in `dir`; creates the directory and a first key (mode 0600) when
    /// there is none. The key is never printed.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<KeySet> {
        private_dir(dir)?;
        if Self::load(dir)?.is_none() {
            match Self::create_key(dir) {
                Ok(_) => {}
                // Another process created it in the same second: use theirs.
                Err(e)
                    if e.downcast_ref::<std::io::Error>().map(|e| e.kind())
                        == Some(std::io::ErrorKind::AlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        Self::load(dir)?.ok_or_else(|| anyhow::anyhow!("no signing key in {}", dir.display()))
    }

    /// Writes a new key to `dir` and returns its kid. Fails if a key was made in the
    /// same second.
    pub fn create_key(dir: &Path) -> anyhow::Result<String> {
        let kid = kid_at(Utc::now());
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding key: {e}"))?;
        let mut f = open_private(&dir.join(format!("{kid}.pem")))?;
        f.write_all(pem.as_bytes())?;
        Ok(kid)
    }

    /// Every `<kid>.pem` in `dir`, or `None` when there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Option<KeySet>> {
        let mut keys = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let Some(kid) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
            let pem = fs::read_to_string(&path)?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let created_at = created_from_kid(&kid);
            keys.insert(kid, Key::from_signing(&key, created_at)?);
        }
        Ok((!keys.is_empty()).then(|| KeySet::new(keys)))
    }

    /// A key set from keys held in memory (tests, tools); made when their kids say.
    pub fn from_keys(keys: Vec<(String, SigningKey)>) -> anyhow::Result<KeySet> {
        let mut map = BTreeMap::new();
        for (kid, k) in keys {
            let created_at = created_from_kid(&kid);
            map.insert(kid, Key::from_signing(&k, created_at)?);
        }
        if map.is_empty() {
            anyhow::bail!("empty key set");
        }
        Ok(KeySet::new(map))
    }

    fn new(keys: BTreeMap<String, Key>) -> KeySet {
        let mut order: Vec<(&String, &Key)> = keys.iter().collect();
        order.sort_by(|a, b| (a.1.created_at, a.0).cmp(&(b.1.created_at, b.0)));
        let order = order.into_iter().map(|(kid, _)| kid.clone()).collect();
        KeySet { keys: Arc::new(keys), order: Arc::new(order) }
    }

    /// Keys oldest first (by creation, then kid).
    fn ordered(&self) -> Vec<(&String, &Key)> {
        self.order.iter().filter_map(|kid| self.keys.get_key_value(kid)).collect()
    }

    /// The kid that signs at `now`: the newest key published for `activation`, or the
    /// oldest key when none has been published that long (a first start).
    pub fn signing_kid(&self, now: DateTime<Utc>, activation: chrono::Duration) -> &str {
        let ordered = self.ordered();
        ordered
            .iter()
            .rev()
            .find(|(_, k)| k.created_at + activation <= now)
            .or_else(|| ordered.first())
            .map(|(kid, _)| kid.as_str())
            .unwrap_or_default()
    }

    /// `(kid, raw Ed25519 public key)` of every key, for publication.
    pub fn public_keys(&self) -> Vec<(String, [u8; 32])> {
        self.ordered().into_iter().map(|(kid, k)| (kid.clone(), k.public)).collect()
    }

    pub fn describe(&self, now: DateTime<Utc>, activation: chrono::Duration) -> Vec<KeyInfo> {
        let signing = self.signing_kid(now, activation).to_owned();
        self.ordered()
            .into_iter()
            .map(|(kid, k)| KeyInfo { kid: kid.clone(), created_at: k.created_at, signing: *kid == signing })
            .collect()
    }

    /// Keys older than the signing key once every token they signed has expired: the
    /// signing key has been signing for longer than the longest token lifetime and the
    /// leeway.
    pub fn retirable(&self, now: DateTime<Utc>, activation: chrono::Duration) -> Vec<String> {
        let signing = self.signing_kid(now, activation);
        let Some(current) = self.keys.get(signing) else { return Vec::new() };
        let signing_since = current.created_at + activation;
        let ttl = chrono::Duration::seconds((MAX_ACCESS_TTL_SECS + LEEWAY_SECS) as i64);
        if signing_since + ttl > now {
            return Vec::new();
        }
        self.ordered().into_iter().take_while(|(kid, _)| kid.as_str() != signing).map(|(kid, _)| kid.clone()).collect()
    }
}

/// Takes a key out of use: renames `<kid>.pem` to `<kid>.pem.retired` (kept for the
/// record; no longer loaded, so its tokens are refused).
pub fn retire_key(dir: &Path, kid: &str) -> anyhow::Result<()> {
    if kid.contains(['/', '\\']) || kid.starts_with('.') {
        anyhow::bail!("not a key id: {kid}");
    }
    let from = dir.join(format!("{kid}.pem"));
    fs::rename(&from, dir.join(format!("{kid}.pem.retired")))?;
    Ok(())
}

impl Key {
    fn from_signing(key: &SigningKey, created_at: DateTime<Utc>) -> anyhow::Result<Key> {
        let der = key.to_pkcs8_der().map_err(|e| anyhow::anyhow!("encoding key: {e}"))?;
        let public = key.verifying_key().to_bytes();
        Ok(Key {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_der(&public),
            public,
            created_at,
        })
    }
}

/// Issuer, audience and lifetime of access tokens, and how signing keys are picked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    /// At most 900 (15 minutes).
    pub access_ttl_secs: u64,
    /// Seconds between re-reads of the keys directory (new and retired keys).
    pub key_reload_secs: u64,
    /// A new key only verifies for this long before it starts signing, so that every
    /// server process has loaded it first; more than `key_reload_secs`.
    pub key_activation_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            issuer: "sitrep".into(),
            audience: "sitrep-api".into(),
            access_ttl_secs: MAX_ACCESS_TTL_SECS,
            key_reload_secs: 30,
            key_activation_secs: 90,
        }
    }
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenService {
    keys: Arc<RwLock<KeySet>>,
    /// Where the keys live, for reloads and rotation (`None`: keys held in memory).
    dir: Option<PathBuf>,
    config: TokenConfig,
    validation: Arc<Validation>,
    verified: Arc<Verified>,
}

/// Tokens whose signature verified, by the SHA-256 of the token (which covers its header,
/// so its `kid` too): a token is checked against its key once (an Ed25519 verification
/// was a quarter of the server's CPU on a picture read); on every later use only its
/// header, its times and that its key is still loaded are checked again. Emptied when
/// full.
#[derive(Default)]
struct Verified(Mutex<HashMap<[u8; 32], AccessClaims>>);

const VERIFIED_CAPACITY: usize = 10_000;

impl Verified {
    fn get(&self, digest: &[u8; 32]) -> Option<AccessClaims> {
        self.0.lock().ok()?.get(digest).cloned()
    }

    fn insert(&self, digest: [u8; 32], claims: &AccessClaims) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= VERIFIED_CAPACITY {
                cache.clear();
            }
            cache.insert(digest, claims.clone());
        }
    }
}

impl TokenService {
    pub fn new(keys: KeySet, config: TokenConfig) -> anyhow::Result<TokenService> {
        if config.access_ttl_secs == 0 || config.access_ttl_secs > MAX_ACCESS_TTL_SECS {
            anyhow::bail!("auth.tokens.access_ttl_secs must be 1..={MAX_ACCESS_TTL_SECS}");
        }
        if config.key_reload_secs == 0 || config.key_activation_secs < config.key_reload_secs {
            anyhow::bail!("auth.tokens.key_reload_secs must be positive and at most key_activation_secs");
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[&config.audience]);
        validation.set_issuer(&[&config.issuer]);
        Ok(TokenService {
            keys: Arc::new(RwLock::new(keys)),
            dir: None,
            config,
            validation: Arc::new(validation),
            verified: Default::default(),
        })
    }

    /// Keys loaded from (and later reloaded from) `dir`.
    pub fn from_dir(dir: &Path, config: TokenConfig) -> anyhow::Result<TokenService> {
        let keys = KeySet::load_or_create(dir)?;
        Ok(TokenService { dir: Some(dir.to_path_buf()), ..TokenService::new(keys, config)? })
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    fn activation(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.config.key_activation_secs as i64)
    }

    /// The keys in use now.
    pub fn keys(&self) -> KeySet {
        self.keys.read().map(|k| k.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn describe_keys(&self) -> Vec<KeyInfo> {
        self.keys().describe(Utc::now(), self.activation())
    }

    /// Re-reads the keys directory: new keys start verifying, retired ones stop. An
    /// empty or unreadable directory keeps the keys already loaded.
    pub fn reload(&self) -> anyhow::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let loaded = KeySet::load(dir)?.ok_or_else(|| anyhow::anyhow!("no signing key in {}", dir.display()))?;
        match self.keys.write() {
            Ok(mut keys) => *keys = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        Ok(())
    }

    /// Makes a new key in the keys directory and loads it. It verifies at once and
    /// signs after `key_activation_secs`. Returns its kid.
    pub fn rotate(&self) -> anyhow::Result<String> {
        let dir = self.dir.as_ref().ok_or_else(|| anyhow::anyhow!("keys are not kept in a directory"))?;
        let kid = KeySet::create_key(dir)?;
        self.reload()?;
        Ok(kid)
    }

    /// Retires every key whose tokens have all expired; returns their kids.
    pub fn retire_expired(&self) -> anyhow::Result<Vec<String>> {
        let dir = self.dir.as_ref().ok_or_else(|| anyhow::anyhow!("keys are not kept in a directory"))?;
        let retired = self.keys().retirable(Utc::now(), self.activation());
        for kid in &retired {
            retire_key(dir, kid)?;
        }
        self.reload()?;
        Ok(retired)
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
        let keys = self.keys();
        let kid = keys.signing_kid(Utc::now(), self.activation()).to_owned();
        let key = keys.keys.get(&kid).ok_or_else(|| anyhow::anyhow!("signing key missing"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(kid);
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
        let keys = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = keys.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.verified.get(&digest) {
            // What `validation` checks of the times, with the same leeway.
            let now = Utc::now().timestamp();
            if claims.exp < now - LEEWAY_SECS as i64 {
                return Err(TokenError::Expired);
            }
            if claims.nbf > now + LEEWAY_SECS as i64 {
                return Err(TokenError::NotYetValid);
            }
            return Ok(claims);
        }
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
        self.verified.insert(digest, &claims);
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
    fn a_token_verified_once_still_has_its_times_and_its_key_checked_on_every_use() {
        let (svc, key) = service();
        let token = sign(&key, good_header(), &claims(&svc));
        let first = svc.verify(&token).unwrap();
        assert_eq!(svc.verify(&token), Ok(first.clone()));
        // The same token, remembered with times now past: refused as expired.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        let old = AccessClaims { exp: now - LEEWAY_SECS as i64 - 2, ..first.clone() };
        svc.verified.insert(digest, &old);
        assert_eq!(svc.verify(&token), Err(TokenError::Expired));
        svc.verified.insert(digest, &AccessClaims { nbf: now + LEEWAY_SECS as i64 + 2, ..first });
        assert_eq!(svc.verify(&token), Err(TokenError::NotYetValid));
        // Its key no longer loaded: refused, remembered or not.
        let other = SigningKey::from_bytes(&[9u8; 32]);
        *svc.keys.write().unwrap() = KeySet::from_keys(vec![("k2".into(), other)]).unwrap();
        assert_eq!(svc.verify(&token), Err(TokenError::UnknownKey));
        // A tampered copy of a remembered token is not the remembered token.
        let (svc, key) = service();
        let token = sign(&key, good_header(), &claims(&svc));
        svc.verify(&token).unwrap();
        let at = token.rfind('.').unwrap() + 1;
        let swap = if &token[at..at + 1] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swap}{}", &token[..at], &token[at + 1..]);
        assert!(svc.verify(&tampered).is_err());
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
        assert_eq!(a.public_keys(), b.public_keys());
        assert_eq!(a.public_keys().len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn key_made(at: &str, seed: u8) -> (String, SigningKey) {
        (format!("ed25519-{at}"), SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn the_newest_published_key_signs_and_older_ones_retire_after_the_token_lifetime() {
        let keys = KeySet::from_keys(vec![key_made("20260101T000000Z", 1), key_made("20260101T010000Z", 2)]).unwrap();
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let activation = chrono::Duration::seconds(90);
        // The new key (01:00) is not yet published long enough: the old one signs.
        assert_eq!(keys.signing_kid(at("2026-01-01T01:00:30Z"), activation), "ed25519-20260101T000000Z");
        assert_eq!(keys.signing_kid(at("2026-01-01T01:01:30Z"), activation), "ed25519-20260101T010000Z");
        // The old key retires once every token it signed has expired (15 min + leeway).
        assert!(keys.retirable(at("2026-01-01T01:10:00Z"), activation).is_empty());
        assert_eq!(keys.retirable(at("2026-01-01T01:17:10Z"), activation), vec!["ed25519-20260101T000000Z"]);
        // Only keys made after now: the oldest signs (first start).
        assert_eq!(keys.signing_kid(at("2025-01-01T00:00:00Z"), activation), "ed25519-20260101T000000Z");
        let described = keys.describe(at("2026-01-01T02:00:00Z"), activation);
        assert_eq!(described.iter().filter(|k| k.signing).count(), 1);
        assert!(described[1].signing);
    }

    #[test]
    fn rotation_adds_a_verifying_key_and_retirement_refuses_its_tokens() {
        let dir = std::env::temp_dir().join(format!("sitrep-keys-{}", Uuid::new_v4()));
        let config = TokenConfig { key_activation_secs: 1, key_reload_secs: 1, ..TokenConfig::default() };
        let svc = TokenService::from_dir(&dir, config).unwrap();
        let (old_token, _) = svc.issue(Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)).unwrap();
        let old_kid = svc.describe_keys()[0].kid.clone();
        // A second key cannot be made in the same second as the first.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let new_kid = svc.rotate().unwrap();
        assert_ne!(new_kid, old_kid);
        assert_eq!(svc.describe_keys().len(), 2);
        assert!(svc.verify(&old_token).is_ok(), "the previous key still verifies");
        retire_key(&dir, &old_kid).unwrap();
        svc.reload().unwrap();
        assert_eq!(svc.verify(&old_token), Err(TokenError::UnknownKey));
        assert!(retire_key(&dir, "../x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
