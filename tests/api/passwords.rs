//! Sign-in throttling that nobody can use to keep another person out, the rules for
//! passwords, changing one's own password, and one-time passwords after an
//! administrator's reset.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, TestUser, problem};

/// A server that takes the client address from `X-Forwarded-For` (the tests' loopback
/// connection plays the balancer), so that one test can sign in from several addresses.
async fn behind_balancer(change: impl FnOnce(&mut sitrep_server::Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        s.http.trusted_proxies = vec!["127.0.0.0/8".into()];
        change(s);
    })
    .await
}

async fn login_from(app: &TestApp, from: &str, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Makes a lock that a failure set last an hour, so that timing cannot decide a test; the
/// lock must exist.
async fn hold_lock(app: &TestApp, key: &str) {
    let client = app.pool.get().await.unwrap();
    let n = client
        .execute(
            "UPDATE login_throttle SET locked_until = now() + interval '1 hour' \
             WHERE throttle_key = $1 AND locked_until > now() - interval '1 minute'",
            &[&key],
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "a lock on {key}");
}

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> reqwest::Response {
    app.post_json("/api/v1/me/password", Some(token), &json!({"current_password": current, "new_password": new})).await
}

#[tokio::test]
async fn failures_from_another_address_never_keep_the_victim_out() {
    let app = behind_balancer(|_| {}).await;
    let victim = app.seed_user("vera.approver", "A", &[Role::Approver]).await;
    // The attacker fails from its address until it is made to wait.
    let mut refused = None;
    for _ in 0..12 {
        let res = login_from(&app, "192.0.2.66", "vera.approver", "guessing, and wrong").await;
        if res.status() == 429 {
            refused = Some(res);
            break;
        }
        assert_eq!(res.status(), 401);
    }
    let res = refused.expect("the attacker's address is made to wait");
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let record = app.audit_of(&res).await;
    assert_eq!(record.reason.as_deref(), Some("account_address_throttled"));
    assert_eq!(problem(res, 429).await["code"], "too_many_attempts");
    // Even the right password waits at the attacker's address: the lock is not an oracle.
    hold_lock(&app, "pair:192.0.2.66 vera.approver").await;
    assert_eq!(login_from(&app, "192.0.2.66", "vera.approver", &victim.password).await.status(), 429);
    // The victim, at another address, is never refused.
    for _ in 0..3 {
        assert_eq!(login_from(&app, "198.51.100.7", "vera.approver", &victim.password).await.status(), 200);
    }
    // A neighbour in the attacker's IPv6 /64 shares its counters; another /64 does not.
    for _ in 0..12 {
        login_from(&app, "2001:db8:66:1::1", "vera.approver", "guessing, and wrong").await;
    }
    hold_lock(&app, "pair:2001:db8:66:1::/64 vera.approver").await;
    assert_eq!(login_from(&app, "2001:db8:66:1::2", "vera.approver", &victim.password).await.status(), 429);
    assert_eq!(login_from(&app, "2001:db8:77:1::2", "vera.approver", &victim.password).await.status(), 200);
}

#[tokio::test]
async fn reaching_the_account_ceiling_alerts_the_secretariat_and_never_locks_the_account() {
    let app = behind_balancer(|s| s.auth.login.account_ceiling = 6).await;
    let victim = app.seed_user("vera.approver", "A", &[Role::Approver]).await;
    let secretariat = app.seed_user("sec.one", "S", &[Role::Secretariat]).await;
    let sysadmin = app.seed_user("ops.one", "S", &[Role::Sysadmin]).await;
    // Six addresses, one failure each: the sixth meets the ceiling and raises the alert.
    let mut last = None;
    for i in 1..=6 {
        let res = login_from(&app, &format!("203.0.113.{i}"), "vera.approver", "a spread-out guess").await;
        assert_eq!(res.status(), 401);
        last = Some(res);
    }
    let records = app.audit_records(&crate::helpers::request_id(&last.unwrap())).await;
    let alert = records.iter().find(|r| r.action == "auth.account_alert").expect("an alert record");
    assert_eq!(alert.reason.as_deref(), Some("account_failure_ceiling"));
    assert_eq!(alert.object_id.as_deref(), Some(victim.id.to_string().as_str()));
    // The secretariat sees it in the access log; the sysadmin in the metrics.
    let token = app.token(&secretariat).await;
    let page: Value = app.get("/api/v1/access-log?action=auth.account_alert", Some(&token)).await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["actor_name"], "vera.approver");
    let token = app.token(&sysadmin).await;
    let metrics = app.get("/metrics", Some(&token)).await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "sitrep_login_accounts_at_ceiling 1"), "{metrics}");
    // Under attack, a new address has no free failures on the account: its first failure
    // already makes it wait (without the attack it would have five free ones).
    assert_eq!(login_from(&app, "203.0.113.50", "vera.approver", "another guess").await.status(), 401);
    let statuses = [
        login_from(&app, "203.0.113.50", "vera.approver", "another guess").await.status(),
        login_from(&app, "203.0.113.50", "vera.approver", "another guess").await.status(),
        login_from(&app, "203.0.113.50", "vera.approver", "another guess").await.status(),
    ];
    assert!(statuses.contains(&reqwest::StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // The victim, from its own address, signs in all the same; one more alert is not raised.
    for _ in 0..2 {
        assert_eq!(login_from(&app, "198.51.100.7", "vera.approver", &victim.password).await.status(), 200);
    }
    for i in 7..=9 {
        login_from(&app, &format!("203.0.113.{i}"), "vera.approver", "a spread-out guess").await;
    }
    let token = app.token(&secretariat).await;
    let page: Value = app.get("/api/v1/access-log?action=auth.account_alert", Some(&token)).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "one alert per account and window");
}

#[tokio::test]
async fn an_address_failing_on_many_accounts_waits_in_every_server_process() {
    let app = behind_balancer(|s| s.auth.login.address_free_failures = 4).await;
    let user = app.seed_user("aino.author", "A", &[Role::Author]).await;
    // A second server process on the same database.
    let other = TestApp::spawn_on(&app.db_url, |s| s.http.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    for i in 0..5 {
        let res = login_from(&app, "192.0.2.99", &format!("sprayed.name{i}"), "Spring2027!Spring").await;
        assert_eq!(res.status(), 401);
    }
    hold_lock(&app, "address:192.0.2.99").await;
    let res = login_from(&other, "192.0.2.99", "aino.author", &user.password).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(other.audit_of(&res).await.reason.as_deref(), Some("address_throttled"));
    assert_eq!(login_from(&other, "192.0.2.100", "aino.author", &user.password).await.status(), 200);
}

#[tokio::test]
async fn weak_passwords_are_refused_wherever_a_password_is_set() {
    let app = TestApp::spawn().await;
    let secretariat = app.seed_user("sec.one", "S", &[Role::Secretariat]).await;
    let token = app.token(&secretariat).await;
    let create = |username: &str, password: &str| {
        json!({"username": username, "display_name": "New", "password": password,
               "organisation_id": app.org("A"), "roles": ["reader"]})
    };
    for (username, password, code) in [
        ("new.analyst", "passwordpassword", "too_common"),
        ("new.analyst", "New.Analyst2027!", "like_username"),
        ("new.analyst", "tsylana.wen12345", "like_username"),
        ("new.analyst", "short one", "too_short"),
    ] {
        let res = app.post_json("/api/v1/users", Some(&token), &create(username, password)).await;
        let body = problem(res, 422).await;
        assert_eq!(
            (body["errors"][0]["field"].as_str(), body["errors"][0]["code"].as_str()),
            (Some("password"), Some(code))
        );
    }
    let res = app.post_json("/api/v1/users", Some(&token), &create("new.analyst", "lumipallo kesällä 42")).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // An administrator's reset follows the same rules, the username included.
    for (password, code) in [("passwordpassword", "too_common"), ("NEW.ANALYST.new.analyst", "like_username")] {
        let res = app.patch_json(&format!("/api/v1/users/{id}"), &token, &json!({"password": password})).await;
        assert_eq!(problem(res, 422).await["errors"][0]["code"], code);
    }
    // And so does a person's own change.
    let user = app.seed_user("aino.author", "A", &[Role::Author]).await;
    let own = app.token(&user).await;
    for (password, code) in [("passwordpassword", "too_common"), ("rohtua.onia2027", "like_username")] {
        let body = problem(change_password(&app, &own, &user.password, password).await, 422).await;
        assert_eq!(
            (body["errors"][0]["field"].as_str(), body["errors"][0]["code"].as_str()),
            (Some("new_password"), Some(code))
        );
    }
    let body = problem(change_password(&app, &own, &user.password, &user.password).await, 422).await;
    assert_eq!(body["errors"][0]["code"], "same_as_current");
}

#[tokio::test]
async fn a_person_changes_their_own_password_and_every_other_session_ends() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("aino.author", "A", &[Role::Author]).await;
    let kept = app.login(&user).await;
    let other = app.login(&user).await;
    let (kept, other) = (kept["access_token"].as_str().unwrap(), other["refresh_token"].as_str().unwrap());
    let new = "kesäkuun sade ja kahvi";
    let res = change_password(&app, kept, &user.password, new).await;
    assert_eq!(res.status(), 204);
    let record = app.audit_of(&res).await;
    assert_eq!(
        (record.action.as_str(), record.outcome.as_str(), record.object_id),
        ("me.password_change", "allowed", Some(user.id.to_string()))
    );
    // This session goes on; the other one has ended; only the new password signs in.
    assert_eq!(app.get("/api/v1/pictures", Some(kept)).await.status(), 200);
    let res = app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": other})).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.login_response("aino.author", &user.password).await.status(), 401);
    assert_eq!(app.login_response("aino.author", new).await.status(), 200);
    // Neither password is in the access log.
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let text: String = client
        .query_one("SELECT coalesce(string_agg(row_to_json(a)::text, ''), '') FROM access_log a", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!text.contains(new) && !text.contains(&user.password));
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_counted_like_a_failed_login() {
    let app = TestApp::spawn_with(|s| s.auth.login.free_failures = 2).await;
    let user = app.seed_user("aino.author", "A", &[Role::Author]).await;
    let token = app.token(&user).await;
    for _ in 0..3 {
        let res = change_password(&app, &token, "not my password at all", "kesäkuun sade ja kahvi").await;
        let record = app.audit_of(&res).await;
        assert_eq!((record.outcome.as_str(), record.reason.as_deref()), ("denied", Some("wrong_password")));
        assert_eq!(problem(res, 403).await["code"], "current_password_invalid");
    }
    // The third failure (past the two free ones) made this account wait at this address,
    // for sign-in too.
    hold_lock(&app, "pair:127.0.0.1 aino.author").await;
    let res = change_password(&app, &token, &user.password, "kesäkuun sade ja kahvi").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(problem(res, 429).await["code"], "too_many_attempts");
    assert_eq!(app.login_response("aino.author", &user.password).await.status(), 429);
}

#[tokio::test]
async fn service_accounts_have_no_password_to_change() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let token = app.token(&admin).await;
    let res = app
        .post_json("/api/v1/service-accounts", Some(&token), &json!({"name": "soc-feed", "roles": ["reader"]}))
        .await;
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(&token),
            &json!({"name": "k", "expires_at": expires}),
        )
        .await;
    let key = res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    let res = change_password(&app, &key, "anything at all here", "kesäkuun sade ja kahvi").await;
    let record = app.audit_of(&res).await;
    assert_eq!(record.reason.as_deref(), Some("people_only"));
    assert_eq!(problem(res, 403).await["code"], "people_only");
}

/// Signs in `username` with `password` and returns the access token.
async fn sign_in(app: &TestApp, username: &str, password: &str) -> String {
    let res = app.login_response(username, password).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_password_an_administrator_sets_must_be_changed_at_the_next_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin_token = app.token(&admin).await;
    let first = "lumipallo kesällä 42";
    let body = json!({"username": "new.reader", "display_name": "New", "password": first,
                      "organisation_id": app.org("A"), "roles": ["reader"]});
    let res = app.post_json("/api/v1/users", Some(&admin_token), &body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // The one-time password signs in, and the session can only say who it is, change the
    // password and log out.
    let token = sign_in(&app, "new.reader", first).await;
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["password_change_required"], true);
    for path in ["/api/v1/pictures", "/api/v1/me/totp", "/api/v1/organisations", "/api/v1/feed"] {
        let res = app.get(path, Some(&token)).await;
        let record = app.audit_of(&res).await;
        assert_eq!(record.http_status, 403, "{path}");
        assert_eq!(problem(res, 403).await["code"], "password_change_required", "{path}");
    }
    let res = app.post_json("/api/v1/me/totp", Some(&token), &json!({})).await;
    assert_eq!(problem(res, 403).await["code"], "password_change_required");
    let spare = sign_in(&app, "new.reader", first).await;
    assert_eq!(app.post_json("/api/v1/auth/logout", Some(&spare), &json!({})).await.status(), 204);

    // Changing it lifts the restriction of this session at once.
    let own = "mustikka metsässä 1917";
    assert_eq!(change_password(&app, &token, first, own).await.status(), 204);
    assert_eq!(app.get("/api/v1/pictures", Some(&token)).await.status(), 200);
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["password_change_required"], false);

    // A reset by the administrator ends the sessions and is one-time again.
    let reset = "pohjoistuuli ja lumi 7";
    let res = app.patch_json(&format!("/api/v1/users/{id}"), &admin_token, &json!({"password": reset})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401);
    assert_eq!(app.login_response("new.reader", own).await.status(), 401);
    let token = sign_in(&app, "new.reader", reset).await;
    assert_eq!(problem(app.get("/api/v1/pictures", Some(&token)).await, 403).await["code"], "password_change_required");
    assert_eq!(change_password(&app, &token, reset, "kolmas kerta toden sanoo").await.status(), 204);
    assert_eq!(app.get("/api/v1/pictures", Some(&token)).await.status(), 200);
}

#[tokio::test]
async fn an_organisation_requiring_totp_asks_for_enrolment_only_after_the_new_password() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin_token = app.token(&admin).await;
    let user =
        TestUser { id: uuid::Uuid::nil(), username: "new.reader".into(), password: "lumipallo kesällä 42".into() };
    let body = json!({"username": user.username, "display_name": "New", "password": user.password,
                      "organisation_id": app.org("A"), "roles": ["reader"]});
    assert_eq!(app.post_json("/api/v1/users", Some(&admin_token), &body).await.status(), 201);
    let res = app
        .patch_json(
            &format!("/api/v1/organisations/{}/policy", app.org("A")),
            &admin_token,
            &json!({"require_totp": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let token = sign_in(&app, &user.username, &user.password).await;
    assert_eq!(problem(app.get("/api/v1/me/totp", Some(&token)).await, 403).await["code"], "password_change_required");
    assert_eq!(change_password(&app, &token, &user.password, "mustikka metsässä 1917").await.status(), 204);
    assert_eq!(app.get("/api/v1/me/totp", Some(&token)).await.status(), 200);
    assert_eq!(problem(app.get("/api/v1/pictures", Some(&token)).await, 403).await["code"], "totp_enrolment_required");
}

/// A queue of logins waiting for the password hasher holds no database connection, so a
/// burst of sign-ins (an attacker needs no account to send one) never leaves the other
/// requests without one. Before the fix each queued login kept its connection and the
/// read below waited out the pool and got `503`.
#[tokio::test]
async fn logins_queued_for_the_hasher_leave_the_database_connections_to_everyone_else() {
    let app = behind_balancer(|s| {
        s.database.max_connections = 3;
        s.database.wait_timeout_ms = 1_000;
        // Unknown names are checked against a dummy hash of today's parameters: slow
        // ones, one at a time, make a queue that lasts several seconds.
        s.auth.password.memory_kib = 65_536;
        s.auth.password.iterations = 4;
        s.auth.password.max_concurrent = 1;
        s.auth.password.queue_timeout_ms = 120_000;
        s.auth.login.per_address_per_minute = 1_000;
    })
    .await;
    let reader = app.seed_user("r.reader", "A", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    let mut logins = Vec::new();
    for i in 0..12 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/login"));
        logins.push(tokio::spawn(async move {
            let body = json!({"username": format!("nobody.{i}"), "password": "not a password"});
            let sent = client.post(url).header("x-forwarded-for", format!("192.0.2.{}", i + 10)).json(&body).send();
            sent.await.unwrap().status()
        }));
    }
    // Once the queue has formed, reads go on being answered while it drains.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/pictures", Some(&token)).await.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    let mut still_queued = 0;
    for login in logins {
        still_queued += usize::from(!login.is_finished());
        assert_eq!(login.await.unwrap(), 401);
    }
    assert!(still_queued > 0, "the reads were made while logins were queued");
}

/// A stored hash with weaker parameters than today's is replaced at the next successful
/// sign-in, and only then.
#[tokio::test]
async fn a_weaker_stored_hash_is_replaced_by_a_successful_login_only() {
    let app = TestApp::spawn_with(|s| s.auth.password.memory_kib = 24_576).await;
    let user = app.seed_user("w.weak", "A", &[Role::Reader]).await;
    let stored = || async {
        let db = app.pool.get().await.unwrap();
        let row = db.query_one("SELECT password_hash FROM users WHERE id = $1", &[&user.id]).await.unwrap();
        row.get::<_, String>(0)
    };
    assert!(stored().await.contains("m=19456"));
    assert_eq!(app.login_response(&user.username, "wrong, and not replaced").await.status(), 401);
    assert!(stored().await.contains("m=19456"));
    assert_eq!(app.login_response(&user.username, &user.password).await.status(), 200);
    let now = stored().await;
    assert!(now.contains("m=24576"), "{now}");
    // The new hash is of the same password.
    assert_eq!(app.login_response(&user.username, &user.password).await.status(), 200);
}

/// A login checks the password against the hash it read before waiting for the hasher;
/// an account deactivated in between gets no session: the final transaction re-reads the
/// account under a lock and refuses (`credentials_changed`), counted as a failure.
#[tokio::test]
async fn an_account_deactivated_while_its_login_waits_for_the_hasher_gets_no_session() {
    let app = behind_balancer(|s| {
        s.auth.password.memory_kib = 65_536;
        s.auth.password.iterations = 4;
        s.auth.password.max_concurrent = 1;
        s.auth.password.queue_timeout_ms = 120_000;
        s.auth.login.per_address_per_minute = 1_000;
    })
    .await;
    let victim = app.seed_user("v.victim", "A", &[Role::Reader]).await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin_token = app.token(&admin).await;
    // Slow logins (unknown names: the dummy hash of today's parameters) fill the queue...
    let mut blockers = Vec::new();
    for i in 0..10 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/login"));
        blockers.push(tokio::spawn(async move {
            let body = json!({"username": format!("nobody.{i}"), "password": "not a password"});
            client.post(url).header("x-forwarded-for", format!("192.0.2.{}", i + 10)).json(&body).send().await.unwrap()
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // ...the victim's login reads the account and waits its turn...
    let (client, url) = (app.client.clone(), app.url("/api/v1/auth/login"));
    let body = json!({"username": victim.username, "password": victim.password});
    let login = tokio::spawn(async move {
        client.post(url).header("x-forwarded-for", "192.0.2.99").json(&body).send().await.unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // ...and the account is deactivated before its turn comes.
    let res = app.patch_json(&format!("/api/v1/users/{}", victim.id), &admin_token, &json!({"active": false})).await;
    assert_eq!(res.status(), 200);
    assert!(!login.is_finished(), "the login was still waiting for the hasher");
    let res = login.await.unwrap();
    let record = app.audit_of(&res).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");
    assert_eq!((record.action.as_str(), record.reason.as_deref()), ("auth.login", Some("credentials_changed")));
    for b in blockers {
        assert_eq!(b.await.unwrap().status(), 401);
    }
    let db = app.pool.get().await.unwrap();
    let sessions: i64 =
        db.query_one("SELECT count(*) FROM auth_sessions WHERE user_id = $1", &[&victim.id]).await.unwrap().get(0);
    assert_eq!(sessions, 0, "no session for the deactivated account");
}
