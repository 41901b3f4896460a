//! The language a person works in, remembered on the server (`PUT /me/language`, `GET
//! /me`), and the deployment's time zone the console shows times in.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, problem};

async fn put_language(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url("/api/v1/me/language")).bearer_auth(token).json(body).send().await.unwrap()
}

#[tokio::test]
async fn a_person_chooses_a_language_and_every_later_session_knows_it() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("r.ruotsi", "B", &[Role::Reader]).await;
    let token = app.token(&user).await;
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["language"], Value::Null, "no language until the person chooses one");
    assert_eq!(me["time_zone"], "Europe/Helsinki");

    assert_eq!(put_language(&app, &token, &json!({"language": "sv"})).await.status(), 204);
    let again = app.token(&user).await;
    let me: Value = app.get("/api/v1/me", Some(&again)).await.json().await.unwrap();
    assert_eq!(me["language"], "sv");

    // Another person's choice is their own.
    let other = app.seed_user("b.other", "B", &[Role::Reader]).await;
    let theirs = app.token(&other).await;
    let me: Value = app.get("/api/v1/me", Some(&theirs)).await.json().await.unwrap();
    assert_eq!(me["language"], Value::Null);
}

#[tokio::test]
async fn a_language_the_console_does_not_speak_is_refused_at_the_field() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&user).await;
    for body in [json!({"language": "de"}), json!({"language": ""}), json!({"language": "SV"})] {
        let p = problem(put_language(&app, &token, &body).await, 422).await;
        assert_eq!(p["errors"][0]["field"], "language", "{body}");
    }
    let p = problem(put_language(&app, &token, &json!({"language": "fi", "user_id": user.id})).await, 422).await;
    assert_eq!(p["errors"][0]["code"], "unknown_field");
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.json::<Value>().await.unwrap()["language"], Value::Null);
    let res = app.client.put(app.url("/api/v1/me/language")).json(&json!({"language": "fi"})).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn me_names_the_time_zone_the_deployment_chose() {
    let app = TestApp::spawn_with(|s| s.console.time_zone = "Europe/Stockholm".into()).await;
    let user = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&user).await;
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["time_zone"], "Europe/Stockholm");
}
