//! The access log fails closed, and no handler answers without its own record.

use serde_json::Value;
use sitrep_types::Role;

use crate::helpers::{TestApp, problem, request_id};

#[tokio::test]
async fn a_read_whose_record_cannot_be_written_fails_with_503_and_no_data() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let client = app.pool.get().await.unwrap();
    // Make every insert into the log fail, as a full disk or a broken table would.
    app.refuse_log_inserts().await;
    for path in ["/api/v1/me", "/api/v1/organisations", "/api/v1/users"] {
        let res = app.get(path, Some(&token)).await;
        assert_eq!(res.headers()["retry-after"], "2");
        let text = res.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(503), Some("audit_unavailable")), "{path}");
        assert!(!text.contains("ORG-"), "no data in {text}");
        assert!(!text.contains("log refused"));
    }
    // A write whose record fails is not made either.
    let body = serde_json::json!({"code": "NEVER", "name": {"en": "Never"}, "reach": "member"});
    let res = app.post_json("/api/v1/organisations", Some(&token), &body).await;
    assert_eq!(res.status(), 503);
    let n: i64 = client.query_one("SELECT count(*) FROM organisations WHERE code = 'NEVER'", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
    // Login too: no tokens without a record.
    let res = app.login_response("sec.user", &sec.password).await;
    problem(res, 503).await;
}

#[tokio::test]
async fn the_access_log_records_denials_with_the_actor_known_at_the_time() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    let res = app.get(&format!("/api/v1/users/{}", reader.id), Some(&token)).await;
    let record = app.audit_of(&res).await;
    assert_eq!(record.actor_type, "user");
    assert_eq!(record.actor_id, Some(reader.id));
    assert_eq!(record.actor_name.as_deref(), Some("a.reader"));
    assert_eq!(record.organisation_id, Some(app.org("A")));
    assert_eq!((record.action.as_str(), record.outcome.as_str(), record.http_status), ("user.view", "denied", 403));
    assert_eq!(record.reason.as_deref(), Some("forbidden"));
    assert_eq!(record.object_id, Some(reader.id.to_string()));
    problem(res, 403).await;
}

#[tokio::test]
async fn every_api_request_has_exactly_one_record_and_none_is_left_to_the_safety_net() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let mut ids = vec![];
    for path in ["/api/v1/me", "/api/v1/organisations", "/api/v1/users", &format!("/api/v1/users/{}", sec.id)] {
        let res = app.get(path, Some(&token)).await;
        assert_eq!(res.status(), 200, "{path}");
        ids.push(request_id(&res));
    }
    for id in ids {
        assert_eq!(app.audit_records(&id).await.len(), 1);
    }
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let stray: i64 = client
        .query_one("SELECT count(*) FROM access_log WHERE reason = 'unaudited_handler'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stray, 0);
    // Health checks and the OpenAPI document touch no data and are not logged.
    let res = app.get("/health/live", None).await;
    assert!(app.audit_records(&request_id(&res)).await.is_empty());
}
