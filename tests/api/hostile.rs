//! Hostile requests (security.md §2, §9): other organisations' ids in paths, bodies,
//! filters and cursors with otherwise valid requests (BOLA), fields a caller may not set
//! (mass assignment), and malformed input. Nothing may leak, nothing may be stored, and
//! nothing may answer 5xx.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{cast, content, create, etag, patch_if_match, published, revise};
use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn valid_writes_naming_another_organisations_objects_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let a_admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let a_admin = app.token(&a_admin).await;
    let b_admin = app.seed_user("b.admin", "B", &[Role::OrgAdmin]).await;
    let b_admin = app.token(&b_admin).await;
    let b_author = app.seed_user("b.author", "B", &[Role::Author]).await;
    let b_author = app.token(&b_author).await;
    let a_reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;

    // Another organisation's user, service account and key.
    let res = app.patch_json(&format!("/api/v1/users/{}", a_reader.id), &b_admin, &json!({"active": false})).await;
    assert_eq!(problem(res, 404).await["code"], "user_not_found");
    let body = json!({"organisation_id": app.org("A"), "roles": ["reader"]});
    let res = app.post_json(&format!("/api/v1/users/{}/memberships", a_reader.id), Some(&b_admin), &body).await;
    assert_eq!(res.status(), 404);
    let body = json!({"username": "planted", "display_name": "P", "password": "a long enough password for tests",
        "organisation_id": app.org("A"), "roles": ["approver"]});
    assert_eq!(app.post_json("/api/v1/users", Some(&b_admin), &body).await.status(), 403);
    let svc: Value = app
        .post_json("/api/v1/service-accounts", Some(&a_admin), &json!({"name": "feed", "roles": ["reader"]}))
        .await
        .json()
        .await
        .unwrap();
    let svc = svc["id"].as_str().unwrap();
    let key = json!({"name": "stolen", "expires_at": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339()});
    let res = app.post_json(&format!("/api/v1/service-accounts/{svc}/keys"), Some(&b_admin), &key).await;
    assert_eq!(problem(res, 404).await["code"], "service_account_not_found");
    let res =
        app.patch_json(&format!("/api/v1/service-accounts/{svc}"), &b_admin, &json!({"roles": ["approver"]})).await;
    assert_eq!(res.status(), 404);
    let client = app.pool.get().await.unwrap();
    let keys: i64 = client.query_one("SELECT count(*) FROM api_keys", &[]).await.unwrap().get(0);
    assert_eq!(keys, 0);
    let admins: i64 = client
        .query_one(
            "SELECT count(*) FROM users u WHERE u.username = 'planted' OR (u.id = $1 AND NOT u.active)",
            &[&a_reader.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(admins, 0);

    // Another organisation's picture: B's author cannot revise A's, even with its ETag.
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}");
    let res = revise(&app, &b_author, &id, &json!({"title": {"en": "Hijacked"}})).await;
    assert_eq!(res.status(), 403, "B sees the group picture, so it is told it may not revise it");
    for action in ["submit", "withdraw"] {
        let res = app.post_json(&format!("{path}/{action}"), Some(&b_author), &json!({})).await;
        assert!(matches!(res.status().as_u16(), 403 | 404), "{action}: {}", res.status());
    }
    let p: Value = app.get(&path, Some(&cast.author)).await.json().await.unwrap();
    assert_eq!((p["status"].as_str(), p["revision"].as_i64()), (Some("published"), Some(1)));

    // A picture the caller does not see: acknowledging it is 404, like reading it.
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("V")]);
    let hidden = published(&app, &cast, &named).await;
    let res = app
        .post_json(
            &format!("/api/v1/pictures/{hidden}/acknowledgements"),
            Some(&cast.b_reader),
            &json!({"kind": "received"}),
        )
        .await;
    assert_eq!(res.status(), 404);

    // Filters naming another organisation's objects show nothing more than without.
    let originator = app.org("A");
    let body: Value = app
        .get(&format!("/api/v1/pictures?originator={originator}&tier=named"), Some(&cast.b_reader))
        .await
        .json()
        .await
        .unwrap();
    assert!(!body.to_string().contains(&hidden));
    // A subscription for another organisation is not the admin's to make.
    let body = json!({"organisation_id": app.org("A"), "name": "spy", "webhook_url": "https://hooks.example/x"});
    assert_eq!(app.post_json("/api/v1/subscriptions", Some(&b_admin), &body).await.status(), 403);
}

#[tokio::test]
async fn fields_a_caller_may_not_set_are_refused_not_ignored() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    for (field, value) in [
        ("originator", json!(app.org("B"))),
        ("organisation_id", json!(app.org("B"))),
        ("status", json!("published")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("id", json!(uuid::Uuid::new_v4())),
        ("revision", json!(7)),
    ] {
        let mut body = content("group", "AMBER");
        body[field] = value;
        let res = app.post_json("/api/v1/pictures", Some(&cast.author), &body).await;
        let status = res.status().as_u16();
        assert!(matches!(status, 400 | 422), "{field}: {status}");
    }
    let client = app.pool.get().await.unwrap();
    let n: i64 = client.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(n, 0, "nothing stored");

    // A revision cannot set its own status or originator either.
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/v1/pictures/{id}");
    let tag = etag(&app, &cast.author, id).await;
    for body in [json!({"status": "published"}), json!({"originator": app.org("B")}), json!({"revision": 9})] {
        let res = patch_if_match(&app, &cast.author, id, &tag, &body).await;
        assert!(matches!(res.status().as_u16(), 400 | 422), "{body}: {}", res.status());
    }
    let p: Value = app.get(&path, Some(&cast.author)).await.json().await.unwrap();
    assert_eq!((p["status"].as_str(), p["revision"].as_i64()), (Some("draft"), Some(1)));
    // An org_admin cannot give itself cross-organisation roles through a service account.
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin = app.token(&admin).await;
    for role in ["secretariat", "auditor", "sysadmin"] {
        let res = app
            .post_json("/api/v1/service-accounts", Some(&admin), &json!({"name": format!("x-{role}"), "roles": [role]}))
            .await;
        assert_eq!(problem(res, 403).await["code"], "role_not_grantable");
    }
}

#[tokio::test]
async fn forged_foreign_and_cross_list_cursors_are_400_and_never_another_users_page() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    for _ in 0..3 {
        published(&app, &cast, &content("group", "AMBER")).await;
    }
    let page: Value = app.get("/api/v1/pictures?limit=1", Some(&cast.author)).await.json().await.unwrap();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/api/v1/pictures?limit=1&cursor={cursor}"), Some(&cast.author)).await.status(), 200);
    // Someone else's cursor, a cursor of another list, forged and garbage cursors.
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let users: Value = app.get("/api/v1/users?limit=1", Some(&sec)).await.json().await.unwrap();
    let users_cursor = users["next_cursor"].as_str().unwrap();
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"u": uuid::Uuid::nil(), "l": "pictures", "k": "x"}).to_string());
    for (who, path) in [
        (&cast.b_reader, format!("/api/v1/pictures?limit=1&cursor={cursor}")),
        (&cast.author, format!("/api/v1/pictures?limit=1&cursor={users_cursor}")),
        (&cast.author, format!("/api/v1/feed?cursor={cursor}")),
        (&cast.author, format!("/api/v1/pictures?cursor={forged}")),
        (&cast.author, "/api/v1/pictures?cursor=%27%3B%20DROP%20TABLE%20pictures%3B--".to_owned()),
        (&cast.author, format!("/api/v1/pictures?cursor={}", "A".repeat(5000))),
    ] {
        let res = app.get(&path, Some(who)).await;
        let code = problem(res, 400).await["code"].clone();
        assert!(code == "invalid_cursor" || code == "invalid_query", "{path}: {code}");
    }
}

#[tokio::test]
async fn malformed_bodies_get_4xx_never_5xx_and_odd_strings_come_back_verbatim() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/pictures"))
            .bearer_auth(&cast.author)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut huge = content("group", "AMBER");
    huge["disarm_techniques"] = json!(vec!["T0101"; 200_000]);
    let mut long_array = content("group", "AMBER");
    long_array["geo_codes"] = json!(vec!["FI-VP-10"; 5_000]);
    for (what, body, ct, expected) in [
        ("deep nesting", deep.into_bytes(), "application/json", &[400u16, 413, 422][..]),
        ("oversize", serde_json::to_vec(&huge).unwrap(), "application/json", &[413]),
        ("long array", serde_json::to_vec(&long_array).unwrap(), "application/json", &[422]),
        ("invalid UTF-8", b"{\"title\": \"\xff\xfe\"}".to_vec(), "application/json", &[400]),
        ("not JSON", b"title=x".to_vec(), "application/x-www-form-urlencoded", &[415]),
        ("no content type", b"{}".to_vec(), "text/plain", &[415]),
        ("truncated", b"{\"kind\": ".to_vec(), "application/json", &[400]),
        ("null", b"null".to_vec(), "application/json", &[400, 422]),
    ] {
        let res = post(body, ct).await.unwrap();
        let status = res.status().as_u16();
        assert!(expected.contains(&status), "{what}: {status}");
        let text = res.text().await.unwrap();
        assert!(!text.contains("serde") && !text.contains("panicked") && !text.contains("sqlx"), "{what}: {text}");
    }
    let client = app.pool.get().await.unwrap();
    let n: i64 = client.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);

    // SQL-looking text and quotes are stored and returned exactly.
    let mut odd = content("group", "AMBER");
    let title = "'; DROP TABLE pictures; -- \" OR 1=1 /* äö <script>alert(1)</script> \\ %00";
    odd["title"]["en"] = json!(title);
    let p = create(&app, &cast.author, &odd).await;
    assert_eq!(p["title"]["en"], title);
    let again: Value = app
        .get(&format!("/api/v1/pictures/{}", p["id"].as_str().unwrap()), Some(&cast.author))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["title"]["en"], title);
    let found = app.get("/api/v1/pictures?q=DROP%20TABLE", Some(&cast.author)).await;
    assert_eq!(found.status(), 200);
    // Control characters in a one-line field are refused, naming the field.
    let mut control = content("group", "AMBER");
    control["title"]["en"] = json!("bell\u{7}and\u{1b}[31mred");
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &control).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "title.en");
}
