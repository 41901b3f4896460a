//! What the tests of TAXII's inbox and peers share: service accounts with API keys, and
//! the peers' configuration and health as the secretariat reads them.

use std::time::Duration;

use serde_json::{Value, json};
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
