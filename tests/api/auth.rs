//! Login, refresh, logout, throttling.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, problem, request_id};

#[tokio::test]
async fn login_gives_tokens_that_read_me_over_https() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("aino.author", "A", &[Role::Author]).await;
    let res = app.login_response("Aino.Author", &user.password).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    let pair: Value = res.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert!(pair["refresh_token"].as_str().unwrap().starts_with("sitrep_rt_"));
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("auth.login", "allowed"));
    assert_eq!(record.actor_id, Some(user.id));
    assert_eq!(record.organisation_id, Some(app.org("A")));
    assert_eq!(record.client_addr.as_deref(), Some("127.0.0.1/32"));

    let res = app.get("/api/v1/me", pair["access_token"].as_str()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.actor_id), ("me.view", Some(user.id)));
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["username"], "aino.author");
    assert_eq!(me["organisation"]["code"], "ORG-A");
    assert_eq!(me["roles"], json!(["author"]));
    assert_eq!(me["memberships"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_password_unknown_user_and_inactive_user_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("reader.one", "A", &[Role::Reader]).await;
    let inactive = app.seed_user("reader.gone", "A", &[Role::Reader]).await;
    sitrep_db::accounts::update_user(
        &app.pool.get().await.unwrap(),
        &app.person(inactive.id).await,
        None,
        Some(false),
        None,
    )
    .await
    .unwrap();

    let mut bodies = Vec::new();
    for (name, password) in [
        ("reader.one", "not the password at all"),
        ("nobody.here", "not the password at all"),
        ("reader.gone", inactive.password.as_str()),
    ] {
        let res = app.login_response(name, password).await;
        let record = app.audit_of(&res).await;
        assert_eq!(
            (record.action.as_str(), record.outcome.as_str(), record.http_status),
            ("auth.login", "denied", 401)
        );
        assert_eq!(record.actor_name.as_deref(), Some(name));
        let mut headers: Vec<String> = res.headers().keys().map(|k| k.to_string()).filter(|k| k != "date").collect();
        headers.sort();
        let mut body = problem(res, 401).await;
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push((headers, body));
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0], bodies[2]);
    assert_eq!(bodies[0].1["code"], "invalid_credentials");
    let res = app.login_response("reader.one", &user.password).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after_for_known_and_unknown_names() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("target.user", "A", &[Role::Reader]).await;
    for name in ["target.user", "no.such.user"] {
        // The first five failures are free; from then on each one makes the name wait
        // (1 s, doubling). Keep failing until a wait is met: it must come, with Retry-After.
        for _ in 0..5 {
            let res = app.login_response(name, "wrong password, again and again").await;
            assert_eq!(res.status(), 401, "{name}");
        }
        let mut throttled = None;
        for _ in 0..8 {
            let res = app.login_response(name, "wrong password, again and again").await;
            if res.status() == 429 {
                throttled = Some(res);
                break;
            }
            assert_eq!(res.status(), 401);
        }
        let res = throttled.expect("a 429 after the free failures");
        let record = app.audit_of(&res).await;
        assert_eq!((record.outcome.as_str(), record.reason.as_deref()), ("denied", Some("account_address_throttled")));
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=256).contains(&retry), "{retry}");
        assert_eq!(problem(res, 429).await["code"], "too_many_attempts");
    }
    // Even the right password waits at this address while the name is locked there (the
    // lock is per name and address, not per outcome). The lock is made long here so that
    // timing cannot decide the test.
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE login_throttle SET locked_until = now() + interval '1 hour' \
             WHERE throttle_key = 'pair:127.0.0.1 target.user'",
            &[],
        )
        .await
        .unwrap();
    let res = app.login_response("target.user", &user.password).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 3000);
}

#[tokio::test]
async fn logins_per_client_address_are_throttled() {
    let app = TestApp::spawn_with(|s| s.auth.login.per_address_per_minute = 3).await;
    for i in 0..3 {
        let res = app.login_response(&format!("someone{i}"), "a wrong password again").await;
        assert_eq!(res.status(), 401);
    }
    let res = app.login_response("someone9", "a wrong password again").await;
    assert!(res.headers().contains_key("retry-after"));
    let record = app.audit_of(&res).await;
    assert_eq!(record.reason.as_deref(), Some("address_rate_limited"));
    assert_eq!(problem(res, 429).await["code"], "too_many_attempts");
}

#[tokio::test]
async fn a_user_of_several_organisations_names_one_at_login() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("two.hats", "A", &[Role::Reader]).await;
    app.add_membership(user.id, app.org("B"), &[Role::Approver]).await;
    let res = app.login_response("two.hats", &user.password).await;
    let body = problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "organisation");

    let body = json!({"username": "two.hats", "password": user.password, "organisation": "ORG-B"});
    let res = app.post_json("/api/v1/auth/login", None, &body).await;
    assert_eq!(res.status(), 200);
    let pair: Value = res.json().await.unwrap();
    assert_eq!(pair["organisation_id"], json!(app.org("B")));
    let me: Value = app.get("/api/v1/me", pair["access_token"].as_str()).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["approver"]));
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);

    let body = json!({"username": "two.hats", "password": user.password, "organisation": "ORG-R"});
    let res = app.post_json("/api/v1/auth/login", None, &body).await;
    assert_eq!(problem(res, 403).await["code"], "not_a_member");
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": token})).await
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("rota.user", "A", &[Role::Reader]).await;
    let first = app.login(&user).await;
    let rt1 = first["refresh_token"].as_str().unwrap();

    let res = refresh(&app, rt1).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("auth.refresh", "allowed"));
    let second: Value = res.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    let at2 = second["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", Some(at2)).await.status(), 200);

    // The spent token again: refused, and the family dies with it.
    let res = refresh(&app, rt1).await;
    let record = app.audit_of(&res).await;
    assert_eq!(record.reason.as_deref(), Some("refresh_token_reuse"));
    assert_eq!(record.actor_id, Some(user.id));
    assert_eq!(problem(res, 401).await["code"], "invalid_token");
    assert_eq!(refresh(&app, rt2).await.status(), 401);
    assert_eq!(app.get("/api/v1/me", Some(at2)).await.status(), 401);
    assert_eq!(app.get("/api/v1/me", first["access_token"].as_str()).await.status(), 401);

    // Another login is another family and works.
    let third = app.login(&user).await;
    assert_eq!(app.get("/api/v1/me", third["access_token"].as_str()).await.status(), 200);
}

#[tokio::test]
async fn two_parallel_refreshes_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("race.user", "A", &[Role::Reader]).await;
    let pair = app.login(&user).await;
    let rt = pair["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(refresh(&app, rt), refresh(&app, rt));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401]);
}

#[tokio::test]
async fn unknown_refresh_tokens_and_access_tokens_used_as_refresh_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("plain.user", "A", &[Role::Reader]).await;
    let pair = app.login(&user).await;
    for bogus in ["sitrep_rt_nope", pair["access_token"].as_str().unwrap(), ""] {
        let res = refresh(&app, bogus).await;
        assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("refresh_token_invalid"));
        problem(res, 401).await;
    }
    // And a refresh token is no bearer token.
    let res = app.get("/api/v1/me", pair["refresh_token"].as_str()).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("token_malformed"));
    problem(res, 401).await;
}

#[tokio::test]
async fn logout_revokes_the_access_and_refresh_tokens_at_once() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("leaving.user", "A", &[Role::Reader]).await;
    let pair = app.login(&user).await;
    let at = pair["access_token"].as_str().unwrap();
    let res = app.post_json("/api/v1/auth/logout", Some(at), &json!({})).await;
    assert_eq!(res.status(), 204);
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.actor_id), ("auth.logout", Some(user.id)));
    let res = app.get("/api/v1/me", Some(at)).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("session_revoked"));
    assert_eq!(res.status(), 401);
    assert_eq!(refresh(&app, pair["refresh_token"].as_str().unwrap()).await.status(), 401);
}

#[tokio::test]
async fn a_password_longer_than_allowed_is_refused_like_a_wrong_one() {
    let app = TestApp::spawn().await;
    app.seed_user("long.user", "A", &[Role::Reader]).await;
    let res = app.login_response("long.user", &"x".repeat(10_000)).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");
}

#[tokio::test]
async fn login_bodies_are_parsed_strictly() {
    let app = TestApp::spawn().await;
    let res =
        app.post_json("/api/v1/auth/login", None, &json!({"username": "a", "password": "b", "admin": true})).await;
    let rid = request_id(&res);
    let body = problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "admin");
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    let records = app.audit_records(&rid).await;
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].action.as_str(), records[0].outcome.as_str()), ("auth.login", "failed"));

    let res = app.post_json("/api/v1/auth/login", None, &json!({"username": "a"})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "password");
    let res = app.post_json("/api/v1/auth/login", None, &json!({"username": 5, "password": "b"})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "username");
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["code"], "malformed_json");
    let res = app.client.post(app.url("/api/v1/auth/login")).body("username=a&password=b").send().await.unwrap();
    assert_eq!(problem(res, 415).await["code"], "unsupported_media_type");
    let huge = json!({"username": "a", "password": "x".repeat(70_000)});
    let res = app.post_json("/api/v1/auth/login", None, &huge).await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");
}
