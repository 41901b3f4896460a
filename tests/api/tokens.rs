//! Crafted access tokens: each is refused with `401`, and the refusal is logged with its
//! reason (never the token). A properly minted token is the positive control.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, problem, sign_jwt};

struct Minting {
    app: TestApp,
    kid: String,
    key: ed25519_dalek::SigningKey,
    claims: Value,
}

impl Minting {
    async fn new() -> Minting {
        let app = TestApp::spawn().await;
        let user = app.seed_user("token.user", "A", &[Role::Reader]).await;
        let pair = app.login(&user).await;
        // Take sub/org/sid from a real token so that only the tampered part differs.
        let at = pair["access_token"].as_str().unwrap();
        let payload = at.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        let (kid, key) = app.signing_key();
        Minting { app, kid, key, claims }
    }

    fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid})
    }

    fn sign(&self, claims: &Value) -> String {
        sign_jwt(&self.key, &self.header(), claims)
    }

    fn claims_with(&self, change: impl FnOnce(&mut Value)) -> Value {
        let mut c = self.claims.clone();
        change(&mut c);
        c
    }

    /// `GET /me` with `token` is `401`, logged with `reason`.
    async fn refused(&self, token: &str, reason: &str) {
        let res = self.app.get("/api/v1/me", Some(token)).await;
        let record = self.app.audit_of(&res).await;
        assert_eq!(record.outcome, "denied");
        assert_eq!(record.reason.as_deref(), Some(reason), "token {token}");
        assert_eq!(record.action, "me.view");
        assert_eq!(res.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
        assert_eq!(problem(res, 401).await["code"], "invalid_token");
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_hand_minted_token_with_the_servers_key_is_accepted() {
    let m = Minting::new().await;
    let fresh = m.claims_with(|c| c["jti"] = json!(uuid::Uuid::new_v4()));
    assert_eq!(m.app.get("/api/v1/me", Some(&m.sign(&fresh))).await.status(), 200);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let m = Minting::new().await;
    let expired = m.claims_with(|c| {
        c["iat"] = json!(now() - 900);
        c["nbf"] = json!(now() - 900);
        c["exp"] = json!(now() - 32);
    });
    m.refused(&m.sign(&expired), "token_expired").await;
    let early = m.claims_with(|c| c["nbf"] = json!(now() + 32));
    m.refused(&m.sign(&early), "token_not_yet_valid").await;
    let stringly = m.claims_with(|c| c["exp"] = json!("never"));
    m.refused(&m.sign(&stringly), "token_claims_invalid").await;
    let missing = m.claims_with(|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    m.refused(&m.sign(&missing), "token_claims_invalid").await;
}

#[tokio::test]
async fn wrong_audience_and_issuer_are_refused() {
    let m = Minting::new().await;
    m.refused(&m.sign(&m.claims_with(|c| c["aud"] = json!("other-service"))), "token_wrong_audience").await;
    m.refused(&m.sign(&m.claims_with(|c| c["iss"] = json!("https://evil.example"))), "token_wrong_issuer").await;
    m.refused(&m.sign(&m.claims_with(|c| c["aud"] = json!(["other", "x"]))), "token_claims_invalid").await;
}

#[tokio::test]
async fn forged_and_tampered_signatures_are_refused() {
    let m = Minting::new().await;
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    m.refused(&sign_jwt(&attacker, &m.header(), &m.claims), "token_bad_signature").await;
    let good = m.sign(&m.claims);
    let parts: Vec<&str> = good.split('.').collect();
    let evil = m.claims_with(|c| c["org"] = json!(m.app.org("B")));
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(evil.to_string()), parts[2]);
    m.refused(&tampered, "token_bad_signature").await;
    m.refused(&format!("{}.{}.", parts[0], parts[1]), "token_bad_signature").await;
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_refused() {
    let m = Minting::new().await;
    let payload = B64.encode(m.claims.to_string());
    for alg in ["none", "None", "NONE"] {
        let header = B64.encode(json!({"alg": alg, "typ": "at+jwt", "kid": m.kid}).to_string());
        m.refused(&format!("{header}.{payload}."), "token_malformed").await;
    }
    let public = m.key.verifying_key();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(m.kid.clone());
    let pem = {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        public.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap()
    };
    for secret in [public.to_bytes().to_vec(), pem.into_bytes()] {
        let forged = jsonwebtoken::encode(&header, &m.claims, &EncodingKey::from_secret(&secret)).unwrap();
        m.refused(&forged, "token_header_refused").await;
    }
}

#[tokio::test]
async fn foreign_key_headers_and_unknown_kids_are_refused_without_fetching() {
    let m = Minting::new().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let jku = format!("http://127.0.0.1:{}/jwks", listener.local_addr().unwrap().port());
    let mut header = m.header();
    header["jku"] = json!(jku);
    m.refused(&sign_jwt(&m.key, &header, &m.claims), "token_header_refused").await;
    for kid in ["k0", "../../etc/passwd", "' OR 1=1--"] {
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        m.refused(&sign_jwt(&m.key, &header, &m.claims), "token_unknown_key").await;
    }
    let untyped = json!({"alg": "EdDSA", "kid": m.kid});
    m.refused(&sign_jwt(&m.key, &untyped, &m.claims), "token_header_refused").await;
    assert!(listener.accept().is_err(), "the server must not fetch a jku");
}

#[tokio::test]
async fn missing_malformed_and_query_string_tokens_are_refused() {
    let m = Minting::new().await;
    let res = m.app.get("/api/v1/me", None).await;
    assert_eq!(m.app.audit_of(&res).await.reason.as_deref(), Some("token_missing"));
    problem(res, 401).await;
    let good = m.sign(&m.claims);
    let res = m.app.get(&format!("/api/v1/me?access_token={good}"), None).await;
    assert_eq!(m.app.audit_of(&res).await.reason.as_deref(), Some("token_missing"));
    problem(res, 401).await;
    let res = m
        .app
        .client
        .get(m.app.url("/api/v1/me"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
    m.refused(&"a".repeat(9000), "token_too_long").await;
}
