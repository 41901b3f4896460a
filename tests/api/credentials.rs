//! Service accounts and API keys, TOTP, signing-key rotation, organisation policies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{cast, content, published};
use crate::helpers::{TestApp, TestUser, problem};

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

/// A service account of `org` with `roles`, made by that organisation's admin, and one
/// key for it. Returns (account id, key id, key).
async fn service_account_with_key(app: &TestApp, admin: &str, name: &str, roles: &[&str]) -> (String, String, String) {
    let res = app.post_json("/api/v1/service-accounts", Some(admin), &json!({"name": name, "roles": roles})).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let account: Value = res.json().await.unwrap();
    let id = account["id"].as_str().unwrap().to_owned();
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(admin),
            &json!({"name": "soc tooling", "expires_at": in_days(30)}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let key = made["key"].as_str().unwrap().to_owned();
    (id, made["api_key"]["id"].as_str().unwrap().to_owned(), key)
}

async fn basic(app: &TestApp, path: &str, key: &str) -> reqwest::Response {
    let auth = format!("Basic {}", STANDARD.encode(format!("taxii-client:{key}")));
    app.client.get(app.url(path)).header("Authorization", auth).send().await.unwrap()
}

async fn admin_of(app: &TestApp, username: &str, org: &str) -> String {
    let admin = app.seed_user(username, org, &[Role::OrgAdmin]).await;
    app.token(&admin).await
}

/// Every access-log row, as text: secrets must never appear in it.
async fn access_log_text(app: &TestApp) -> String {
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let rows = client.query("SELECT row_to_json(a)::text FROM access_log a", &[]).await.unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn an_api_key_works_as_bearer_and_basic_and_is_shown_once() {
    let app = TestApp::spawn().await;
    let admin = admin_of(&app, "a.admin", "A").await;
    let (account, key_id, key) = service_account_with_key(&app, &admin, "soc-feed", &["reader"]).await;
    assert!(key.starts_with("sitrep_live_"));

    let res = app.get("/api/v1/me", Some(&key)).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!(record.actor_type, "service_account");
    assert_eq!(record.actor_id.map(|u| u.to_string()), Some(account.clone()));
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["actor_type"], "service_account");
    assert_eq!(me["roles"], json!(["reader"]));
    assert_eq!(app.get("/api/v1/pictures", Some(&key)).await.status(), 200);
    assert_eq!(basic(&app, "/api/v1/pictures", &key).await.status(), 200);
    // A password in Basic is not a credential here.
    assert_eq!(basic(&app, "/api/v1/pictures", "a long enough password for tests").await.status(), 401);

    // Listed without the key; last use recorded.
    let res = app.get(&format!("/api/v1/service-accounts/{account}/keys"), Some(&admin)).await;
    let keys: Value = res.json().await.unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["id"], key_id.as_str());
    assert!(key.starts_with(keys[0]["prefix"].as_str().unwrap()));
    assert!(!keys.to_string().contains(&key[20..]), "the key is never shown again");
    assert_eq!(keys[0]["last_used_addr"], "127.0.0.1");
    assert!(keys[0]["last_used_at"].is_string());
    // A service account cannot log in with a password, and has no session to end.
    let res = app.post_json("/api/v1/auth/logout", Some(&key), &json!({})).await;
    assert_eq!(problem(res, 403).await["code"], "no_session");
    assert!(!access_log_text(&app).await.contains(&key[12..]), "the key never reaches the access log");
}

#[tokio::test]
async fn expired_revoked_malformed_and_out_of_range_keys_are_refused() {
    let app = TestApp::spawn().await;
    let admin = admin_of(&app, "a.admin", "A").await;
    let (account, key_id, key) = service_account_with_key(&app, &admin, "soc-feed", &["reader"]).await;
    assert_eq!(app.get("/api/v1/me", Some(&key)).await.status(), 200);

    // Wrong scheme, or a real prefix with a wrong secret.
    let wrong_prefix = key.replacen("sitrep_live_", "sitrep_test_", 1);
    let res = app.get("/api/v1/me", Some(&wrong_prefix)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("api_key_malformed"));
    let mut forged = key.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let res = app.get("/api/v1/me", Some(&forged)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("api_key_unknown"));

    // Allowed ranges: a key limited to another network is refused from loopback.
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{account}/keys"),
            Some(&admin),
            &json!({"name": "elsewhere", "expires_at": in_days(10), "allowed_ranges": ["192.0.2.0/24"]}),
        )
        .await;
    let elsewhere: Value = res.json().await.unwrap();
    let res = app.get("/api/v1/me", Some(elsewhere["key"].as_str().unwrap())).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("api_key_address_not_allowed"));
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{account}/keys"),
            Some(&admin),
            &json!({"name": "here", "expires_at": in_days(10), "allowed_ranges": ["127.0.0.1", "::1/128"]}),
        )
        .await;
    let here: Value = res.json().await.unwrap();
    assert_eq!(here["api_key"]["allowed_ranges"], json!(["127.0.0.1/32", "::1/128"]));
    assert_eq!(app.get("/api/v1/me", Some(here["key"].as_str().unwrap())).await.status(), 200);
    // The organisation's ranges apply to every key of it.
    let a = app.org("A");
    let policy = format!("/api/v1/organisations/{a}/policy");
    let res = app.patch_json(&policy, &admin, &json!({"service_account_ranges": ["192.0.2.0/24"]})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/v1/me", Some(&key)).await.status(), 401);
    let res = app.patch_json(&policy, &admin, &json!({"service_account_ranges": []})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/v1/me", Some(&key)).await.status(), 200);
    let res = app.patch_json(&policy, &admin, &json!({"service_account_ranges": ["not a range"]})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "service_account_ranges[0]");

    // Expiry.
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE api_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second' \
             WHERE id = $1::text::uuid",
            &[&key_id],
        )
        .await
        .unwrap();
    let res = app.get("/api/v1/me", Some(&key)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("api_key_expired"));

    // Revocation acts on the next request.
    let here_key = here["key"].as_str().unwrap();
    let here_id = here["api_key"]["id"].as_str().unwrap();
    let res = app
        .post_json(&format!("/api/v1/service-accounts/{account}/keys/{here_id}/revoke"), Some(&admin), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get("/api/v1/me", Some(here_key)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("api_key_revoked"));
    assert_eq!(basic(&app, "/api/v1/me", here_key).await.status(), 401);

    // Keys that expire in the past or beyond a year are refused at creation.
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{account}/keys"),
            Some(&admin),
            &json!({"name": "x", "expires_at": in_days(400)}),
        )
        .await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "expires_at");
}

#[tokio::test]
async fn deactivating_a_service_account_or_ending_its_roles_stops_its_keys() {
    let app = TestApp::spawn().await;
    let admin = admin_of(&app, "a.admin", "A").await;
    let (account, _, key) = service_account_with_key(&app, &admin, "soc-feed", &["reader"]).await;
    let path = format!("/api/v1/service-accounts/{account}");
    let res = app.patch_json(&path, &admin, &json!({"roles": ["author"]})).await;
    assert_eq!(res.status(), 200);
    let me: Value = app.get("/api/v1/me", Some(&key)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["author"]), "roles are re-read on every request");
    let res = app.patch_json(&path, &admin, &json!({"active": false})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);
    let res = app.get("/api/v1/me", Some(&key)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("user_inactive"));
}

#[tokio::test]
async fn service_accounts_are_managed_within_their_organisation_only() {
    let app = TestApp::spawn().await;
    let admin_a = admin_of(&app, "a.admin", "A").await;
    let admin_b = admin_of(&app, "b.admin", "B").await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let reader = app.token(&reader).await;
    let (account, key_id, _) = service_account_with_key(&app, &admin_a, "soc-feed", &["reader"]).await;

    for path in [
        format!("/api/v1/service-accounts/{account}"),
        format!("/api/v1/service-accounts/{account}/keys"),
        format!("/api/v1/service-accounts/{account}/keys/{key_id}"),
    ] {
        assert_eq!(problem(app.get(&path, Some(&admin_b)).await, 404).await["code"], "service_account_not_found");
    }
    let revoke = format!("/api/v1/service-accounts/{account}/keys/{key_id}/revoke");
    assert_eq!(app.post_json(&revoke, Some(&admin_b), &json!({})).await.status(), 404);
    let list: Value = app.get("/api/v1/service-accounts", Some(&admin_b)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    let list: Value = app.get("/api/v1/service-accounts", Some(&admin_a)).await.json().await.unwrap();
    assert_eq!(list["items"][0]["name"], "soc-feed");
    // Not someone else's organisation, not cross-organisation roles, not by a reader.
    let body = json!({"name": "x-feed", "roles": ["reader"], "organisation_id": app.org("B")});
    assert_eq!(app.post_json("/api/v1/service-accounts", Some(&admin_a), &body).await.status(), 403);
    let body = json!({"name": "x-feed", "roles": ["auditor"]});
    let res = app.post_json("/api/v1/service-accounts", Some(&admin_a), &body).await;
    assert_eq!(problem(res, 403).await["code"], "role_not_grantable");
    let body = json!({"name": "x-feed", "roles": ["reader"]});
    assert_eq!(app.post_json("/api/v1/service-accounts", Some(&reader), &body).await.status(), 403);
    let res = app
        .post_json("/api/v1/service-accounts", Some(&admin_a), &json!({"name": "soc-feed", "roles": ["reader"]}))
        .await;
    assert_eq!(problem(res, 409).await["code"], "name_taken");
    let res =
        app.post_json("/api/v1/service-accounts", Some(&admin_a), &json!({"name": "Bad:Name", "roles": []})).await;
    let body = problem(res, 422).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "roles"]);
    // A service account is not a user: not under /users, and cannot log in.
    assert_eq!(app.get(&format!("/api/v1/users/{account}"), Some(&admin_a)).await.status(), 404);
    let res = app.login_response(&format!("service:{}:soc-feed", app.org("A")), "anything at all here").await;
    assert_eq!(res.status(), 401);
    // The policy of another organisation is not the admin's to read or change.
    let policy_b = format!("/api/v1/organisations/{}/policy", app.org("B"));
    assert_eq!(app.get(&policy_b, Some(&admin_a)).await.status(), 404);
    assert_eq!(app.patch_json(&policy_b, &admin_a, &json!({"require_totp": true})).await.status(), 404);
}

#[tokio::test]
async fn a_key_of_one_organisation_never_reads_a_named_picture_not_naming_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("V")]);
    let id = published(&app, &cast, &named).await;
    let admin_b = admin_of(&app, "b.admin", "B").await;
    let admin_v = admin_of(&app, "v.admin", "V").await;
    let (_, _, key_b) = service_account_with_key(&app, &admin_b, "b-feed", &["reader"]).await;
    let (_, _, key_v) = service_account_with_key(&app, &admin_v, "v-feed", &["reader"]).await;

    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&key_v)).await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&key_b)).await.status(), 404);
    assert_eq!(basic(&app, &format!("/api/v1/pictures/{id}"), &key_b).await.status(), 404);
    for path in ["/api/v1/pictures", "/api/v1/pictures?tier=named", "/api/v1/feed"] {
        let body = app.get(path, Some(&key_b)).await.text().await.unwrap();
        assert!(!body.contains(&id), "{path} shows the named picture to another organisation's key");
    }
}

/// Starts and confirms TOTP for `token`; returns (secret, recovery codes).
async fn enrol(app: &TestApp, token: &str) -> (Vec<u8>, Vec<String>) {
    let res = app.post_json("/api/v1/me/totp", Some(token), &json!({})).await;
    assert_eq!(res.status(), 201);
    let enrolment: Value = res.json().await.unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Sitrep:"), "{uri}");
    let secret = sitrep_auth::totp::decode_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    let res = app.post_json("/api/v1/me/totp/confirm", Some(token), &json!({"code": "000000"})).await;
    assert_eq!(problem(res, 401).await["code"], "totp_invalid");
    let res = app.post_json("/api/v1/me/totp/confirm", Some(token), &json!({"code": code(&secret, 0)})).await;
    assert_eq!(res.status(), 200);
    let codes: Value = res.json().await.unwrap();
    let codes = codes["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes)
}

/// The code of the time step `steps` away from now.
fn code(secret: &[u8], steps: i64) -> String {
    let at = chrono::Utc::now().timestamp() + steps * 30;
    sitrep_auth::totp::code_at(secret, at as u64).unwrap()
}

async fn login_with(app: &TestApp, user: &TestUser, extra: Value) -> reqwest::Response {
    let mut body = json!({"username": user.username, "password": user.password});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.post_json("/api/v1/auth/login", None, &body).await
}

#[tokio::test]
async fn totp_is_asked_for_checked_once_per_code_and_recovery_codes_work_once() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("a.analyst", "A", &[Role::Reader]).await;
    let token = app.token(&user).await;
    let (secret, recovery) = enrol(&app, &token).await;
    assert_eq!(recovery.len(), 10);
    let status: Value = app.get("/api/v1/me/totp", Some(&token)).await.json().await.unwrap();
    assert_eq!(status, json!({"enabled": true, "required": false, "recovery_codes_left": 10}));
    let client = app.pool.get().await.unwrap();
    let (stored, sealed_len): (i64, i64) = {
        let sql = "SELECT count(*) FILTER (WHERE position($1::bytea IN sealed_secret) > 0), max(length(sealed_secret))::bigint \
                   FROM totp_credentials";
        let row = client.query_one(sql, &[&secret]).await.unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((stored, sealed_len), (0, 12 + 20 + 16), "the secret is stored sealed (nonce, ciphertext, tag)");

    // The password alone is no longer enough, and says why.
    let res = app.login_response(&user.username, &user.password).await;
    let request = crate::helpers::request_id(&res);
    let body = problem(res, 401).await;
    assert_eq!(body["code"], "totp_required");
    assert!(body.get("access_token").is_none());
    assert_eq!(app.audit_of_id(&request).await.reason.as_deref(), Some("totp_required"));
    // A wrong password with a code is still just invalid credentials.
    let wrong = TestUser { password: "not the password at all!".into(), ..user.clone() };
    let res = login_with(&app, &wrong, json!({"totp": code(&secret, 1)})).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");

    // The code of the next step works once; its replay is refused, as is the code used
    // to confirm the enrolment (an earlier step).
    let next = code(&secret, 1);
    assert_eq!(login_with(&app, &user, json!({"totp": next})).await.status(), 200);
    let res = login_with(&app, &user, json!({"totp": next})).await;
    let request = crate::helpers::request_id(&res);
    assert_eq!(problem(res, 401).await["code"], "totp_invalid");
    assert_eq!(app.audit_of_id(&request).await.reason.as_deref(), Some("totp_replayed"));
    assert_eq!(login_with(&app, &user, json!({"totp": code(&secret, 0)})).await.status(), 401);
    let res = login_with(&app, &user, json!({"totp": "12345x"})).await;
    assert_eq!(problem(res, 401).await["code"], "totp_invalid");

    // A recovery code works once, whatever its case and dashes.
    let formatted = recovery[3].to_uppercase().replace('-', " ");
    assert_eq!(login_with(&app, &user, json!({"recovery_code": formatted})).await.status(), 200);
    let res = login_with(&app, &user, json!({"recovery_code": recovery[3]})).await;
    let request = crate::helpers::request_id(&res);
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of_id(&request).await.reason.as_deref(), Some("recovery_code_invalid"));
    let status: Value = app.get("/api/v1/me/totp", Some(&token)).await.json().await.unwrap();
    assert_eq!(status["recovery_codes_left"], 9);

    // Enrolling again needs switching off first; switching off needs a fresh code.
    let res = app.post_json("/api/v1/me/totp", Some(&token), &json!({})).await;
    assert_eq!(problem(res, 409).await["code"], "totp_enabled");
    let res = app.post_json("/api/v1/me/totp/disable", Some(&token), &json!({"code": next})).await;
    assert_eq!(res.status(), 401);
    // Every code valid now (this step and the next) is spent; rather than wait 30 s for
    // a new one, move the last used step back as if a minute had passed.
    client.execute("UPDATE totp_credentials SET last_step = last_step - 2", &[]).await.unwrap();
    let res = app.post_json("/api/v1/me/totp/disable", Some(&token), &json!({"code": code(&secret, 0)})).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.login_response(&user.username, &user.password).await.status(), 200);

    // No secret, code or recovery code in the access log.
    let log = access_log_text(&app).await;
    for secret_text in recovery.iter().chain([&next]) {
        assert!(!log.contains(secret_text.as_str()), "{secret_text} in the access log");
    }
}

#[tokio::test]
async fn an_organisation_that_requires_totp_lets_unenrolled_people_only_enrol() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let user = app.seed_user("a.analyst", "A", &[Role::Reader]).await;
    let before = app.token(&user).await;
    let res = app
        .patch_json(&format!("/api/v1/organisations/{}/policy", app.org("A")), &sec, &json!({"require_totp": true}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["require_totp"], true);

    // A session from before the rule and a new password-only login: enrolment only.
    for token in [before.clone(), app.token(&user).await] {
        let res = app.get("/api/v1/pictures", Some(&token)).await;
        assert_eq!(problem(res, 403).await["code"], "totp_enrolment_required");
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 200);
    }
    let (secret, _) = enrol(&app, &before).await;
    assert_eq!(app.get("/api/v1/pictures", Some(&before)).await.status(), 200, "enrolling proves the factor");
    let status: Value = app.get("/api/v1/me/totp", Some(&before)).await.json().await.unwrap();
    assert_eq!(status["required"], true);
    let res = app.post_json("/api/v1/me/totp/disable", Some(&before), &json!({"code": code(&secret, 1)})).await;
    assert_eq!(problem(res, 403).await["code"], "totp_required_by_organisation");
    let res = app.login_response(&user.username, &user.password).await;
    assert_eq!(problem(res, 401).await["code"], "totp_required");
    let res = login_with(&app, &user, json!({"totp": code(&secret, 1)})).await;
    let pair: Value = res.json().await.unwrap();
    assert_eq!(app.get("/api/v1/pictures", Some(pair["access_token"].as_str().unwrap())).await.status(), 200);
    // Another organisation is not affected.
    let other = app.seed_user("b.analyst", "B", &[Role::Reader]).await;
    let other = app.token(&other).await;
    assert_eq!(app.get("/api/v1/pictures", Some(&other)).await.status(), 200);
}

#[tokio::test]
async fn a_rotated_key_signs_new_tokens_while_old_ones_verify_until_retired() {
    let app = TestApp::spawn_with(|s| {
        s.auth.tokens.key_activation_secs = 1;
        s.auth.tokens.key_reload_secs = 1;
    })
    .await;
    let sysadmin = app.seed_user("sys.admin", "S", &[Role::Sysadmin]).await;
    let sys = app.token(&sysadmin).await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let old = app.token(&reader).await;
    let (old_kid, _) = app.signing_key();

    // Keys are made per second: wait so the new one is distinct.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let reader_token = app.token(&reader).await;
    assert_eq!(
        problem(app.post_json("/api/v1/signing-keys", Some(&reader_token), &json!({})).await, 403).await["code"],
        "forbidden"
    );
    let res = app.post_json("/api/v1/signing-keys", Some(&sys), &json!({})).await;
    assert_eq!(res.status(), 201);
    let record = app.audit_of(&res).await;
    assert_eq!(record.object_type.as_deref(), Some("signing_key"));
    let keys: Value = res.json().await.unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let new_kid = keys[1]["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);

    let jwks: Value = app.get("/api/v1/.well-known/jwks.json", None).await.json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");

    // After the activation delay new tokens carry the new kid; the old token still works.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = app.token(&reader).await;
    let header = jsonwebtoken::decode_header(&fresh).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    assert_eq!(app.get("/api/v1/me", Some(&old)).await.status(), 200);
    let listed: Value = app.get("/api/v1/signing-keys", Some(&sys)).await.json().await.unwrap();
    assert_eq!(listed[1]["signing"], true);
    assert_eq!(listed[0]["signing"], false);

    // A token whose kid the server does not have is refused.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let payload = fresh.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let forged = crate::helpers::sign_jwt(
        &stranger,
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed25519-19990101T000000Z"}),
        &claims,
    );
    let res = app.get("/api/v1/me", Some(&forged)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("token_unknown_key"));

    // Retiring the old key (as `sitrep keys retire` does once its tokens expired).
    sitrep_auth::tokens::retire_key(&app.data_dir.join("keys"), &old_kid).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = app.get("/api/v1/me", Some(&old)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("token_unknown_key"));
    assert_eq!(app.get("/api/v1/me", Some(&fresh)).await.status(), 200);
}

#[tokio::test]
async fn an_administrator_resets_a_lost_second_factor_of_its_own_users_only() {
    let app = TestApp::spawn().await;
    let admin_a = admin_of(&app, "a.admin", "A").await;
    let admin_b = admin_of(&app, "b.admin", "B").await;
    let user = app.seed_user("a.analyst", "A", &[Role::Reader]).await;
    let token = app.token(&user).await;
    enrol(&app, &token).await;
    assert_eq!(app.login_response(&user.username, &user.password).await.status(), 401);

    let reset = format!("/api/v1/users/{}/totp/reset", user.id);
    assert_eq!(app.post_json(&reset, Some(&admin_b), &json!({})).await.status(), 404);
    let res = app.post_json(&reset, Some(&admin_a), &json!({})).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.audit_of(&res).await.action, "totp.reset");
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401, "the user's sessions ended");
    assert_eq!(app.login_response(&user.username, &user.password).await.status(), 200);
}

#[tokio::test]
async fn taxii_clients_use_an_api_key_over_basic_and_an_unenrolled_session_reads_nothing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let admin_b = admin_of(&app, "b.admin", "B").await;
    let (_, _, key) = service_account_with_key(&app, &admin_b, "b-taxii", &["reader"]).await;
    let taxii = |path: &str, auth: String| {
        app.client
            .get(app.url(path))
            .header("Authorization", auth)
            .header("Accept", crate::helpers::taxii::ACCEPT)
            .send()
    };
    let basic_auth = format!("Basic {}", STANDARD.encode(format!("b-taxii:{key}")));
    let res = taxii("/taxii2/api/collections/", basic_auth.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.actor_type, "service_account");
    let collections: Value = res.json().await.unwrap();
    let group = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["alias"] == "group")
        .expect("a member reads the group collection")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = taxii(&format!("/taxii2/api/collections/{group}/objects/"), basic_auth).await.unwrap();
    let body: Value = res.json().await.unwrap();
    let report = sitrep_stix::ids::report(id.parse().unwrap());
    assert!(body["objects"].as_array().unwrap().iter().any(|o| o["id"] == report.as_str()));
    // A wrong key over Basic is refused with a challenge naming Basic.
    let res =
        taxii("/taxii2/api/collections/", format!("Basic {}", STANDARD.encode("x:sitrep_live_aaaaaaaaaa_x"))).await;
    let res = res.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("Basic"));

    // A person whose organisation requires TOTP and who has not enrolled reads nothing.
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let policy = format!("/api/v1/organisations/{}/policy", app.org("B"));
    assert_eq!(app.patch_json(&policy, &sec, &json!({"require_totp": true})).await.status(), 200);
    let res = taxii("/taxii2/api/collections/", format!("Bearer {}", cast.b_reader)).await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn with_the_privileged_rule_on_an_unenrolled_administrator_can_only_enrol() {
    let app = TestApp::spawn_with(|s| s.auth.login.privileged_roles_need_totp = true).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let res = app.get("/api/v1/organisations", Some(&sec)).await;
    assert_eq!(problem(res, 403).await["code"], "totp_enrolment_required");
    let status: Value = app.get("/api/v1/me/totp", Some(&sec)).await.json().await.unwrap();
    assert_eq!(status["required"], true);
    enrol(&app, &sec).await;
    assert_eq!(app.get("/api/v1/organisations", Some(&sec)).await.status(), 200);
    // A reader is not privileged: the rule does not touch it.
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let reader = app.token(&reader).await;
    assert_eq!(app.get("/api/v1/pictures", Some(&reader)).await.status(), 200);
    let status: Value = app.get("/api/v1/me/totp", Some(&reader)).await.json().await.unwrap();
    assert_eq!(status["required"], false);
}
