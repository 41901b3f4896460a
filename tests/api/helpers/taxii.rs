//! What the tests of TAXII's inbox and peers share: service accounts with API keys, and
//! the peers' configuration and health as the secretariat reads them.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_server::Settings;
use sitrep_types::Role;
use uuid::Uuid;

use super::TestApp;

/// A service account of `org` with `roles`, made by a new administrator of `org`: its id
/// and an API key of it (valid 30 days).
pub async fn service_account(app: &TestApp, org: &str, roles: &[&str]) -> (Uuid, String) {
    let admin =
        app.seed_user(&format!("{}.admin.{}", org.to_lowercase(), roles.join("-")), org, &[Role::OrgAdmin]).await;
    let admin = app.token(&admin).await;
    let name = format!("{}.soc.{}", org.to_lowercase(), roles.join("-"));
    let res = app.post_json("/api/v1/service-accounts", Some(&admin), &json!({"name": name, "roles": roles})).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(&admin),
            &json!({"name": "taxii", "expires_at": expires}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    (id.parse().unwrap(), key)
}

/// An API key of a new service account of `org` with `roles`.
pub async fn service_key(app: &TestApp, org: &str, roles: &[&str]) -> String {
    service_account(app, org, roles).await.1
}

/// A token of a new member of the secretariat (who manages peers).
pub async fn peers_secretariat(app: &TestApp) -> String {
    let user = app.seed_user("sec.peers", "S", &[Role::Secretariat]).await;
    app.token(&user).await
}

/// A peer with its health, as the secretariat reads it.
pub async fn get_peer(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app.get(&format!("/api/v1/peers/{id}"), Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits (up to 30 s) until the poll that made `before` due has finished: its next poll
/// time moved past `before`'s.
pub async fn wait_poll(app: &TestApp, token: &str, id: &str, before: &Value) -> Value {
    let due = chrono::DateTime::parse_from_rfc3339(before["health"]["next_poll_at"].as_str().unwrap()).unwrap();
    for _ in 0..300 {
        let now = get_peer(app, token, id).await;
        if chrono::DateTime::parse_from_rfc3339(now["health"]["next_poll_at"].as_str().unwrap()).unwrap() > due {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("peer {id} was not polled: {}", get_peer(app, token, id).await);
}

/// The settings of the pulling Sitrep: loopback peers allowed (tests only), a quick
/// worker, one object per page and one page per poll, and the rest of a walk only when the
/// test asks (`/poll`), so that every walk stops between pages.
pub fn home_settings(s: &mut Settings) {
    s.delivery.allow_private_targets = true;
    s.peers.tick_ms = 100;
    s.peers.page_limit = 1;
    s.peers.max_pages_per_poll = 1;
    s.peers.backlog_delay_ms = 3_600_000;
    s.peers.timeout_secs = 3;
    s.peers.max_page_bytes = 1_000_000;
}

/// Polls the peer now and waits for that poll.
pub async fn poll(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app.post_json(&format!("/api/v1/peers/{id}/poll"), Some(token), &json!({})).await;
    assert_eq!(res.status(), 202);
    let before: Value = res.json().await.unwrap();
    wait_poll(app, token, id, &before).await
}

/// Polls until the peer has no more (a walk through pages ended), at most `max` polls.
pub async fn poll_to_end(app: &TestApp, token: &str, id: &str, max: usize) -> Value {
    for _ in 0..max {
        let v = poll(app, token, id).await;
        if v["health"]["paging"] == false {
            return v;
        }
    }
    panic!("the walk did not end in {max} polls");
}

/// Configures a peer and waits for its first poll.
pub async fn create_peer(app: &TestApp, token: &str, body: &Value) -> Value {
    let res = app.post_json("/api/v1/peers", Some(token), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    wait_poll(app, token, created["id"].as_str().unwrap(), &created).await
}

/// The folder holding a copy of a stopped server's seal key; removed when dropped.
pub struct KeptKey(PathBuf);

impl Drop for KeptKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stops `home` (its worker with it) and starts another server with `settings` on the same
/// database and seal key, as every process of a deployment shares it; the new server
/// knows `home`'s organisations. The key is copied into a folder of its own: the server
/// refuses a key's folder that others may write to.
pub async fn restart(home: TestApp, settings: fn(&mut Settings)) -> (TestApp, KeptKey) {
    let dir = std::env::temp_dir().join(format!("sitrep-test-peers-seal-{}", Uuid::new_v4().simple()));
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&dir).unwrap();
    let kept = KeptKey(dir);
    let key = kept.0.join("totp-seal.key");
    std::fs::copy(home.data_dir.join("secrets/totp-seal.key"), &key).unwrap();
    home.handle.stop(true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let orgs = home.orgs.clone();
    // Started before the stopped one is dropped: the last server on a test's database to
    // be dropped drops the database.
    let mut app = TestApp::spawn_on(&home.db_url, move |s| {
        settings(s);
        s.auth.totp_seal_key_file = Some(key);
    })
    .await;
    drop(home);
    app.orgs = orgs;
    (app, kept)
}

/// The token of `peers_secretariat`'s account on a server restarted on the same database
/// (the account exists already).
pub async fn secretariat_again(app: &TestApp) -> String {
    let user = super::TestUser {
        id: Uuid::nil(),
        username: "sec.peers".into(),
        password: "sec.peers-correct-horse-battery".into(),
    };
    app.token(&user).await
}

pub const ACCEPT: &str = "application/taxii+json;version=2.1";

/// A TAXII GET with the TAXII 2.1 media type.
pub async fn taxii(app: &TestApp, token: &str, path: &str) -> Response {
    app.client.get(app.url(path)).bearer_auth(token).header("accept", ACCEPT).send().await.unwrap()
}
