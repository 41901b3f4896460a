//! Browser sessions over HTTPS: the refresh token in an `HttpOnly; Secure;
//! SameSite=Strict` cookie for `/api/v1/auth` only, used only by requests of the server's
//! own page (`Sitrep-Session: cookie`, a same-origin `Origin` and `Sec-Fetch-Site`), cleared
//! by logout and by a refused refresh; API clients keep the token in the body.

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, TestUser, problem};

const COOKIE: &str = "__Secure-sitrep_refresh";

/// The request the console makes: the mode header, its own origin, same-origin fetch.
fn browser(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url(path))
        .header("sitrep-session", "cookie")
        .header("origin", &app.address)
        .header("sec-fetch-site", "same-origin")
}

async fn browser_login(app: &TestApp, user: &TestUser) -> Response {
    browser(app, "/api/v1/auth/login")
        .json(&json!({"username": user.username, "password": user.password}))
        .send()
        .await
        .unwrap()
}

/// The one `Set-Cookie` of a response, checked for the attributes every one must have,
/// and the token it sets (empty when it clears the cookie).
fn set_cookie(res: &Response) -> (String, String) {
    let all: Vec<_> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(all.len(), 1, "one Set-Cookie: {all:?}");
    let c = all[0].clone();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth;"] {
        assert!(c.contains(part), "{c} lacks {part}");
    }
    assert!(!c.contains("Domain="), "{c} names a domain");
    let token = c.strip_prefix(&format!("{COOKIE}=")).unwrap().split(';').next().unwrap().to_owned();
    (c, token)
}

fn cookie_header(token: &str) -> String {
    format!("{COOKIE}={token}")
}

async fn refresh_with_cookie(app: &TestApp, token: &str) -> Response {
    browser(app, "/api/v1/auth/refresh").header("cookie", cookie_header(token)).send().await.unwrap()
}

async fn reader(app: &TestApp) -> TestUser {
    app.seed_user("b.browser", "B", &[Role::Reader]).await
}

#[tokio::test]
async fn a_browser_login_puts_the_refresh_token_in_an_http_only_strict_cookie_and_not_in_the_body() {
    let app = TestApp::spawn().await;
    let user = reader(&app).await;
    let res = browser_login(&app, &user).await;
    assert_eq!(res.status(), 200);
    let (cookie, token) = set_cookie(&res);
    assert!(token.starts_with("sitrep_rt_"), "{cookie}");
    let max_age: u64 = cookie.split("Max-Age=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!((1790..=1800).contains(&max_age), "the cookie lives as long as the refresh token may be used: {cookie}");
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "refresh token in the body: {body}");
    assert!(!body.to_string().contains(&token));
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    let me = app.get("/api/v1/me", body["access_token"].as_str()).await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_browser_refresh_uses_the_cookie_rotates_it_and_a_replayed_cookie_revokes_the_session() {
    let app = TestApp::spawn().await;
    let user = reader(&app).await;
    let (_, first) = set_cookie(&browser_login(&app, &user).await);

    let res = refresh_with_cookie(&app, &first).await;
    assert_eq!(res.status(), 200);
    let (_, second) = set_cookie(&res);
    assert_ne!(first, second);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/me", Some(&access)).await.status(), 200);

    // The spent cookie, replayed (a copy taken before the rotation): the session ends, and
    // the answer tells the browser to forget the cookie.
    let res = refresh_with_cookie(&app, &first).await;
    assert_eq!(res.status(), 401);
    let (cleared, token) = set_cookie(&res);
    assert!(token.is_empty() && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(refresh_with_cookie(&app, &second).await.status(), 401, "the session was revoked");
    assert_eq!(app.get("/api/v1/me", Some(&access)).await.status(), 401);
}

#[tokio::test]
async fn a_cookie_refresh_from_another_site_is_refused_and_spends_nothing() {
    let app = TestApp::spawn().await;
    let user = reader(&app).await;
    let (_, token) = set_cookie(&browser_login(&app, &user).await);
    let send = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .header("sitrep-session", "cookie")
            .header("cookie", cookie_header(&token));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    for (origin, site, code) in [
        (Some("https://evil.example"), Some("cross-site"), "cross_site_fetch"),
        (Some("https://evil.example"), None, "cross_origin"),
        (None, Some("same-site"), "cross_site_fetch"),
        (Some("null"), Some("same-origin"), "cross_origin"),
    ] {
        let res = send(origin, site).await.unwrap();
        let p = problem(res, 403).await;
        assert_eq!(p["code"], code, "{origin:?} {site:?}");
    }
    // The same Origin over plain HTTP is another origin.
    let http = app.address.replace("https://", "http://");
    let res = send(None, Some("same-origin")).await.unwrap();
    assert_eq!(res.status(), 200, "the token is still good");
    let (_, token) = set_cookie(&res);
    let plain = |origin: String| {
        app.client
            .post(app.url("/api/v1/auth/refresh"))
            .header("sitrep-session", "cookie")
            .header("sec-fetch-site", "same-origin")
            .header("origin", origin)
            .header("cookie", cookie_header(&token))
            .send()
    };
    let res = plain(http).await.unwrap();
    assert_eq!(problem(res, 403).await["code"], "cross_origin");
    // Two Origins, the second the server's own, are not the server's own either.
    let res = browser(&app, "/api/v1/auth/refresh")
        .header("origin", "https://evil.example")
        .header("cookie", cookie_header(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 403).await["code"], "cross_origin");
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("sitrep-session", "Cookie")
        .header("cookie", cookie_header(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 403).await["code"], "session_mode_unknown");
    // A login from another site does not set a cookie either.
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("sitrep-session", "cookie")
        .header("origin", "https://evil.example")
        .json(&json!({"username": user.username, "password": user.password}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(problem(res, 403).await["code"], "cross_origin");

    // The cookie alone, without the header (a form or image of another site that the
    // browser would send it with, were it not SameSite=Strict), is not a refresh.
    let res = app.client.post(app.url("/api/v1/auth/refresh")).header("cookie", cookie_header(&token)).send().await;
    let res = res.unwrap();
    assert!(res.headers().get("set-cookie").is_none());
    assert_ne!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("cookie", cookie_header(&token))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);

    // None of that spent the token: the page's own refresh still works.
    assert_eq!(refresh_with_cookie(&app, &token).await.status(), 200);
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let refused: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE action = 'auth.refresh' AND reason IN ('cross_site_fetch', 'cross_origin')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refused, 6, "each refusal is in the access log");
}

#[tokio::test]
async fn a_browser_refresh_without_a_cookie_is_refused_and_tells_the_browser_to_forget_it() {
    let app = TestApp::spawn().await;
    let res = browser(&app, "/api/v1/auth/refresh").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (cleared, token) = set_cookie(&res);
    assert!(token.is_empty() && cleared.contains("Max-Age=0"));
    let res = refresh_with_cookie(&app, "sitrep_rt_forged").await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn signing_out_clears_the_cookie_and_revokes_the_session() {
    let app = TestApp::spawn().await;
    let user = reader(&app).await;
    let res = browser_login(&app, &user).await;
    let (_, token) = set_cookie(&res);
    let access = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let res = browser(&app, "/api/v1/auth/logout")
        .bearer_auth(&access)
        .header("cookie", cookie_header(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (cleared, value) = set_cookie(&res);
    assert!(value.is_empty() && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(refresh_with_cookie(&app, &token).await.status(), 401, "the session is revoked");
    assert_eq!(app.get("/api/v1/me", Some(&access)).await.status(), 401);
}

#[tokio::test]
async fn api_clients_keep_the_refresh_token_in_the_body_and_get_no_cookie() {
    let app = TestApp::spawn().await;
    let user = reader(&app).await;
    let res = app.login_response(&user.username, &user.password).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let pair: Value = res.json().await.unwrap();
    let rt = pair["refresh_token"].as_str().unwrap();
    let res = app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": rt})).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let next: Value = res.json().await.unwrap();
    assert!(next["refresh_token"].as_str().is_some_and(|t| t.starts_with("sitrep_rt_")));
    // A refused body refresh leaves cookies alone, and logout without the header sets none.
    let res = app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": rt})).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("set-cookie").is_none());
    let pair = app.login(&user).await;
    let res = app.post_json("/api/v1/auth/logout", pair["access_token"].as_str(), &json!({})).await;
    assert_eq!(res.status(), 204);
    assert!(res.headers().get("set-cookie").is_none());
}
