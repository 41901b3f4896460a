//! What every response carries, whatever happened: request id, security headers,
//! problem bodies for errors, `405` with `Allow`, opaque `5xx`.

use serde_json::Value;
use sitrep_types::Role;

use crate::helpers::{TestApp, problem};

fn assert_security_headers(res: &reqwest::Response) {
    let h = res.headers();
    assert!(h.contains_key("x-request-id"), "{:?}", res.url());
    assert_eq!(h["strict-transport-security"], "max-age=63072000; includeSubDomains");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(!h.contains_key("server"));
}

#[tokio::test]
async fn health_endpoints_answer_without_authentication() {
    let app = TestApp::spawn().await;
    let res = app.get("/health/live", None).await;
    assert_eq!(res.status(), 200);
    assert_security_headers(&res);
    let res = app.get("/health/ready", None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("hdr.user", "A", &[Role::Reader]).await;
    let token = app.token(&user).await;
    let responses = [
        app.get("/api/v1/me", Some(&token)).await,
        app.get("/api/v1/me", None).await,
        app.get("/api/v1/users", Some(&token)).await,
        app.get("/api/v1/nothing-here", None).await,
        app.get("/api/v1/openapi.json", None).await,
        app.client.delete(app.url("/api/v1/me")).send().await.unwrap(),
    ];
    let mut ids = std::collections::HashSet::new();
    for res in &responses {
        assert_security_headers(res);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
        ids.insert(res.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), responses.len(), "request ids are unique");
}

#[tokio::test]
async fn unknown_routes_are_404_and_unoffered_methods_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/nothing-here", None).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.http_status), ("request", 404));
    assert_eq!(problem(res, 404).await["code"], "route_not_found");
    let res = app.get("/nothing", None).await;
    problem(res, 404).await;

    let res = app.client.delete(app.url("/api/v1/users")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, POST");
    assert_eq!(problem(res, 405).await["code"], "method_not_allowed");
    let res = app.client.get(app.url("/api/v1/auth/login")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "POST");
    problem(res, 405).await;
    let res = app.client.put(app.url("/health/live")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET");
}

/// Every declared route answers a method it does not offer with `405` and an `Allow` that
/// names exactly the methods declared for its path (and the record of the refusal is a
/// `request`, not one of the path's actions).
#[tokio::test]
async fn every_route_allows_exactly_its_declared_methods() {
    let app = TestApp::spawn().await;
    let mut methods: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for (method, path, _) in sitrep_api::actions::all() {
        methods.entry(path).or_default().push(method);
    }
    for (pattern, declared) in methods {
        // Any value fits a parameter: the method is refused before the path is read.
        let path = pattern.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
        let res = app.client.delete(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "DELETE {path}");
        let allow = res.headers()["allow"].to_str().unwrap().to_owned();
        assert_eq!(allow, declared.join(", "), "{pattern}");
        assert_eq!(app.audit_of(&res).await.action, "request", "{pattern}");
    }
}

/// Text that must never reach a client in a 5xx body.
const INTERNALS: [&str; 8] = ["relation", "SQL", "postgres", "tokio", "sitrep_", "panicked", ".rs", "column"];

#[tokio::test]
async fn server_errors_have_opaque_bodies() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let client = app.pool.get().await.unwrap();
    client.batch_execute("ALTER TABLE organisations RENAME COLUMN name_en TO name_english").await.unwrap();
    let res = app.get("/api/v1/organisations", Some(&token)).await;
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], 500);
    assert_eq!(body["code"], "internal_error");
    assert!(body.get("detail").is_none());
    for word in INTERNALS {
        assert!(!text.contains(word), "5xx body leaks {word:?}: {text}");
    }
}

#[tokio::test]
async fn without_its_database_the_service_is_not_ready_answers_503_and_recovers_by_itself() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("patient.user", "A", &[Role::Reader]).await;
    let token = app.token(&user).await;
    let db: String = app.pool.get().await.unwrap().query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    let admin = crate::helpers::admin().await;
    admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await.unwrap();
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", &[&db]).await.unwrap();

    let res = app.get("/health/ready", None).await;
    assert_eq!(res.status(), 503);
    assert_eq!(app.get("/health/live", None).await.status(), 200);
    let res = app.get("/api/v1/me", Some(&token)).await;
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(503), Some("database_unavailable")));
    assert!(!text.contains(&db) && !text.contains("connection"), "{text}");

    admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await.unwrap();
    let mut ready = false;
    for _ in 0..3 {
        if app.get("/health/ready", None).await.status() == 200 {
            ready = true;
            break;
        }
    }
    assert!(ready, "ready again once the database is back");
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 200);
}

#[test]
fn the_example_configuration_names_every_key_and_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sitrep.example.toml");
    let settings = sitrep_server::Settings::load(Some(&path)).expect("the example configuration loads");
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8443");
    let text = std::fs::read_to_string(&path).unwrap();
    for key in [
        "listen",
        "data_dir",
        "max_connections",
        "read_url",
        "read_max_connections",
        "trusted_proxies",
        "wait_timeout_ms",
        "statement_timeout_ms",
        "max_walk_pages",
        "backlog_delay_ms",
        "random_page_cost",
        "mode",
        "cert_file",
        "key_file",
        "keys_dir",
        "totp_seal_key_file",
        "totp_issuer",
        "key_reload_secs",
        "key_activation_secs",
        "issuer",
        "audience",
        "access_ttl_secs",
        "memory_kib",
        "iterations",
        "max_concurrent",
        "queue_timeout_ms",
        "refresh_idle_secs",
        "session_absolute_secs",
        "free_failures",
        "max_failures_per_window",
        "window_secs",
        "max_delay_secs",
        "address_free_failures",
        "address_max_failures_per_window",
        "account_ceiling",
        "per_address_per_minute",
        "privileged_roles_need_totp",
        "workers",
        "shutdown_timeout_secs",
        "format",
        "level",
        "tl_iv_accredited",
        "poll_ms",
        "stream_heartbeat_secs",
        "lease_secs",
        "batch",
        "retry_schedule_secs",
        "retry_scale",
        "timeout_secs",
        "allow_private_targets",
        "extra_root_certificates",
        "migration_url",
        "checkpoint_key_file",
        "checkpoint_interval_secs",
        "ssl_root_cert",
        "endpoint",
        "bucket",
        "region",
        "prefix",
        "access_key_id",
        "secret_access_key",
        "allow_http",
    ] {
        assert!(text.contains(&format!("{key} =")), "{key} is not documented");
    }
}

/// The picture list's filter indexes are only chosen when the planner prices random
/// reads as on SSD storage: every pooled connection carries `database.random_page_cost`,
/// and a value that is not a positive number is refused at start.
#[tokio::test]
async fn every_connection_carries_the_configured_random_page_cost() {
    let url = crate::helpers::fresh_database().await;
    for (options, expected) in [
        (sitrep_db::PoolOptions::default(), "1.1"),
        (sitrep_db::PoolOptions { random_page_cost: 4.0, ..Default::default() }, "4"),
        (sitrep_db::PoolOptions { random_page_cost: 1.25, read_only: true, ..Default::default() }, "1.25"),
    ] {
        let pool = sitrep_db::pool(&url, &options).unwrap();
        let client = pool.get().await.unwrap();
        let row = client.query_one("SHOW random_page_cost", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), expected);
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sitrep.example.toml");
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut settings = sitrep_server::Settings::load(Some(&path)).unwrap();
        settings.database.random_page_cost = bad;
        let err = settings.validate().expect_err("refused");
        assert!(err.to_string().contains("random_page_cost"), "{err}");
    }
}

#[tokio::test]
async fn metrics_count_requests_and_show_the_backlog_to_sysadmins_only() {
    let app = TestApp::spawn().await;
    let sys = app.seed_user("ops.sysadmin", "S", &[Role::Sysadmin]).await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let st = app.token(&sys).await;
    let rt = app.token(&reader).await;
    assert_eq!(app.get("/api/v1/me", Some(&rt)).await.status(), 200);
    problem(app.get("/metrics", None).await, 401).await;
    problem(app.get("/metrics", Some(&rt)).await, 403).await;
    let res = app.get("/metrics", Some(&st)).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for metric in [
        r#"sitrep_http_requests_total{method="GET",route="/api/v1/me",status="200"}"#,
        "sitrep_http_request_duration_seconds_bucket",
        "sitrep_db_pool_size",
        "sitrep_deliveries_pending 0",
        "sitrep_outbox_backlog 0",
        "sitrep_outbox_oldest_seconds 0",
        "sitrep_subscriptions_failing 0",
        "sitrep_access_log_head_seq",
        "sitrep_access_log_unsealed",
        "sitrep_access_log_unsealed_oldest_milliseconds",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
    assert!(!text.contains("a.reader") && !text.contains("Bearer"), "no names or secrets in metrics");
}

#[tokio::test]
async fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_balancer() {
    let login = |app: &TestApp, user: &crate::helpers::TestUser, forwarded: &'static str| {
        let body = serde_json::json!({"username": user.username, "password": user.password});
        app.client.post(app.url("/api/v1/auth/login")).header("x-forwarded-for", forwarded).json(&body).send()
    };
    // Nobody trusted: the header is ignored; the connection's address is recorded.
    let app = TestApp::spawn().await;
    let user = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let res = login(&app, &user, "203.0.113.7").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(app.audit_of(&res).await.client_addr.unwrap().starts_with("127.0.0.1"));
    // Behind a trusted balancer on loopback: the address it appended, not the client's own claim.
    let app = TestApp::spawn_with(|s| s.http.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    let user = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let res = login(&app, &user, "6.6.6.6, 203.0.113.7").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(app.audit_of(&res).await.client_addr.unwrap().starts_with("203.0.113.7"));
}
