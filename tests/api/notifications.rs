//! E-mail notifications: preferences, duty addresses and the confirmation of addresses
//! (docs/notifications.md).

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, problem};

/// The token of the newest confirmation message queued for `address`.
async fn queued_token(app: &TestApp, address: &str) -> String {
    let client = app.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT token FROM mail_messages WHERE kind = 'confirmation' AND address = $1 AND token IS NOT NULL \
             ORDER BY created_at DESC LIMIT 1",
            &[&address],
        )
        .await
        .unwrap();
    row.get(0)
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url(path)).bearer_auth(token).json(body).send().await.unwrap()
}

async fn confirm(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/email-confirmations", None, &json!({"token": token})).await
}

#[tokio::test]
async fn a_new_address_is_unconfirmed_until_the_token_mailed_to_it_is_used_once() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&reader).await;

    let res = app.get("/api/v1/me/notifications", Some(&token)).await;
    assert_eq!(res.status(), 200);
    let defaults: Value = res.json().await.unwrap();
    assert_eq!(defaults["urgencies"], json!(["immediate"]));
    assert_eq!(defaults["email"], Value::Null);

    let body = json!({"email": "Reader.B@Example.ORG", "urgencies": ["immediate", "priority"], "domains": ["cyber"],
                      "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Helsinki"}, "language": "sv"});
    let res = put(&app, "/api/v1/me/notifications", &token, &body).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "notification_preferences.update");
    assert_eq!(record.reason.as_deref(), Some("confirmation_sent"));
    let prefs: Value = res.json().await.unwrap();
    assert_eq!(prefs["email"], "Reader.B@example.org");
    assert_eq!(prefs["email_confirmed"], false);
    assert_eq!(prefs["quiet_hours"]["time_zone"], "Europe/Helsinki");
    assert_eq!(prefs["language"], "sv");

    let mailed = queued_token(&app, "Reader.B@example.org").await;
    assert_eq!(confirm(&app, "not-the-token").await.status(), 404);
    let res = confirm(&app, &mailed).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.audit_of(&res).await.action, "email.confirm");
    let prefs: Value = app.get("/api/v1/me/notifications", Some(&token)).await.json().await.unwrap();
    assert_eq!(prefs["email_confirmed"], true);
    // Single use.
    let body = problem(confirm(&app, &mailed).await, 404).await;
    assert_eq!(body["code"], "confirmation_not_found");

    // Saving the same address keeps the confirmation; another address loses it.
    let res = put(&app, "/api/v1/me/notifications", &token, &body_email("Reader.B@example.org")).await;
    assert_eq!(res.json::<Value>().await.unwrap()["email_confirmed"], true);
    let res = put(&app, "/api/v1/me/notifications", &token, &body_email("other@example.org")).await;
    assert_eq!(res.json::<Value>().await.unwrap()["email_confirmed"], false);
}

fn body_email(email: &str) -> Value {
    json!({"email": email})
}

#[tokio::test]
async fn a_token_sent_to_an_earlier_address_confirms_nothing() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    put(&app, "/api/v1/me/notifications", &token, &body_email("first@example.org")).await;
    let first = queued_token(&app, "first@example.org").await;
    put(&app, "/api/v1/me/notifications", &token, &body_email("second@example.org")).await;
    assert_eq!(confirm(&app, &first).await.status(), 404);
    let prefs: Value = app.get("/api/v1/me/notifications", Some(&token)).await.json().await.unwrap();
    assert_eq!(prefs["email_confirmed"], false);
    let second = queued_token(&app, "second@example.org").await;
    assert_eq!(confirm(&app, &second).await.status(), 204);
}

#[tokio::test]
async fn preferences_are_checked_at_the_edge() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    for (body, field, code) in [
        (json!({"email": "not an address"}), "email", "invalid_email"),
        (json!({"email": "a@example.org\r\nBcc: x@example.org"}), "email", "invalid_email"),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}}),
            "quiet_hours.time_zone",
            "unknown_time_zone",
        ),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "22:00", "time_zone": "UTC"}}),
            "quiet_hours.end",
            "empty_window",
        ),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "UTC"}}),
            "quiet_hours.start",
            "invalid_time",
        ),
        (json!({"election_ids": [uuid::Uuid::new_v4()]}), "election_ids", "unknown_election"),
    ] {
        let res = put(&app, "/api/v1/me/notifications", &token, &body).await;
        let p = problem(res, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}");
        assert_eq!(p["errors"][0]["code"], code, "{body}");
    }
    let res = put(&app, "/api/v1/me/notifications", &token, &json!({"urgencies": ["urgent"]})).await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn an_org_admin_sets_its_own_organisations_duty_addresses_and_no_other() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let admin = app.token(&admin).await;
    let reader = app.token(&reader).await;
    let secretariat = app.token(&secretariat).await;
    let own = format!("/api/v1/organisations/{}/duty-addresses", app.org("A"));
    let other = format!("/api/v1/organisations/{}/duty-addresses", app.org("B"));
    let body =
        json!({"addresses": [{"email": "duty@a.example.org", "language": "en"}, {"email": "soc@a.example.org"}]});

    let res = put(&app, &own, &admin, &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.action, "duty_address.update");
    let list: Vec<Value> = res.json().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|d| d["confirmed"] == false));

    // Another organisation's list does not exist for it; a reader may not manage any.
    assert_eq!(problem(put(&app, &other, &admin, &body).await, 404).await["code"], "organisation_not_found");
    assert_eq!(problem(app.get(&other, Some(&admin)).await, 404).await["code"], "organisation_not_found");
    problem(put(&app, &own, &reader, &body).await, 403).await;
    // The secretariat manages every organisation's.
    assert_eq!(
        put(&app, &other, &secretariat, &json!({"addresses": [{"email": "duty@b.example.org"}]})).await.status(),
        200
    );

    // Confirm one; replacing the list keeps it confirmed and removes the other.
    let mailed = queued_token(&app, "duty@a.example.org").await;
    assert_eq!(confirm(&app, &mailed).await.status(), 204);
    let res = put(&app, &own, &admin, &json!({"addresses": [{"email": "DUTY@a.example.org", "language": "fi"}]})).await;
    let list: Vec<Value> = res.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["confirmed"], true);
    assert_eq!(list[0]["language"], "fi");
    // The removed address's token is spent.
    let removed = queued_token(&app, "soc@a.example.org").await;
    assert_eq!(confirm(&app, &removed).await.status(), 404);

    let dup = json!({"addresses": [{"email": "x@a.example.org"}, {"email": "X@a.example.org"}]});
    assert_eq!(problem(put(&app, &own, &admin, &dup).await, 422).await["errors"][0]["code"], "duplicate");
}

#[tokio::test]
async fn only_the_secretariat_reads_the_mail_log() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let admin = app.token(&admin).await;
    let secretariat = app.token(&secretariat).await;
    put(
        &app,
        &format!("/api/v1/organisations/{}/duty-addresses", app.org("A")),
        &admin,
        &json!({"addresses": [{"email": "duty@a.example.org"}]}),
    )
    .await;
    problem(app.get("/api/v1/notifications/messages", Some(&admin)).await, 403).await;
    let res = app.get("/api/v1/notifications/messages?state=pending", Some(&secretariat)).await;
    assert_eq!(res.status(), 200);
    let log: Vec<Value> = res.json().await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["kind"], "confirmation");
    assert_eq!(log[0]["address"], "duty@a.example.org");
    assert!(log[0].get("token").is_none());
    assert_eq!(app.get("/api/v1/notifications/messages?state=lost", Some(&secretariat)).await.status(), 422);
}
