//! Conditional requests on pictures, reports and attachments: `If-Match` with the ETag,
//! or `*` for whatever is current (RFC 9110 §13.1.1); `If-None-Match` on reads (`304`).

use serde_json::json;

use crate::helpers::attachments::{Upload, pdf, sha256_hex, upload, uploaded};
use crate::helpers::pictures::{cast, content, create, published};
use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn if_match_star_matches_any_current_picture_and_a_wrong_tag_is_412() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let path = format!("/api/v1/pictures/{}", p["id"].as_str().unwrap());
    let send = |tag: &'static str, body: serde_json::Value| {
        let (app, path, token) = (&app, path.clone(), cast.author.clone());
        async move {
            app.client
                .patch(app.url(&path))
                .bearer_auth(&token)
                .header("if-match", tag)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = send("*", json!({"urgency": "immediate"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["revision"], 2);
    assert_eq!(problem(send("\"not-the-tag\"", json!({"urgency": "routine"})).await, 412).await["code"], "stale_etag");
    let submit = app
        .client
        .post(app.url(&format!("{path}/submit")))
        .bearer_auth(&cast.author)
        .header("if-match", "*")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(submit.status(), 200);
}

#[tokio::test]
async fn if_none_match_with_the_current_etag_is_304_without_a_body_and_logged_as_a_read() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/pictures/{id}");
    let get = |tag: String| {
        let (app, path, token) = (&app, path.clone(), cast.author.clone());
        async move { app.client.get(app.url(&path)).bearer_auth(&token).header("if-none-match", tag).send().await.unwrap() }
    };
    let first = app.get(&path, Some(&cast.author)).await;
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    let res = get(tag.clone()).await;
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(res.bytes().await.unwrap().is_empty());
    let records = app.audit_records(&request_id).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!((records[0].action.as_str(), records[0].http_status), ("picture.view", 304));
    // A list, a weak form and `*` match too; another tag does not.
    assert_eq!(get(format!("\"other\", W/{tag}")).await.status(), 304);
    assert_eq!(get("*".into()).await.status(), 304);
    assert_eq!(get("\"other\"".into()).await.status(), 200);
    // After a change the old tag no longer matches.
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .json(&json!({"urgency": "immediate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = get(tag).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["urgency"], "immediate");
}

/// `*` matches any current representation, but only of an object the caller may see: to
/// anyone else the object does not exist (`404`), with `*` as with a guessed tag.
#[tokio::test]
async fn if_match_star_on_a_picture_the_caller_cannot_see_is_404_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let other = app.seed_user("cond.b.author", "B", &[sitrep_types::Role::Author]).await;
    let other = app.token(&other).await;
    for path in [format!("/api/v1/pictures/{id}"), format!("/api/v1/pictures/{}", uuid::Uuid::new_v4())] {
        let res = app
            .client
            .patch(app.url(&path))
            .bearer_auth(&other)
            .header("if-match", "*")
            .json(&json!({"urgency": "immediate"}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(res, 404).await["code"], "picture_not_found", "{path}");
    }
    let after =
        app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.json::<serde_json::Value>().await.unwrap();
    assert_eq!(after["revision"], 1);
}

/// Reports take `If-Match: *` as pictures do; a wrong tag is `412`, a report that does not
/// exist is `404`.
#[tokio::test]
async fn if_match_star_matches_any_current_report() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let body = json!({
        "original_lang": "en",
        "title": {"en": "Common situation picture"},
        "summary": {"en": "The week's events"},
        "assessment": {"en": "The situation is calm."},
        "window": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-08T00:00:00Z"},
        "pictures": [picture],
        "tier": "group",
        "tlp": "AMBER"
    });
    let res = app.post_json("/api/v1/reports", Some(&cast.author), &body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let patch = |path: String, tag: &'static str| {
        let (app, token) = (&app, cast.author.clone());
        async move {
            app.client
                .patch(app.url(&path))
                .bearer_auth(&token)
                .header("if-match", tag)
                .json(&json!({"summary": {"en": "Changed"}}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = patch(format!("/api/v1/reports/{id}"), "*").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["revision"], 2);
    assert_eq!(problem(patch(format!("/api/v1/reports/{id}"), "\"other\"").await, 412).await["code"], "stale_etag");
    let missing = format!("/api/v1/reports/{}", uuid::Uuid::new_v4());
    assert_eq!(problem(patch(missing, "*").await, 404).await["code"], "report_not_found");
}

/// A download answers `304` to an `If-None-Match` naming the file's ETag (before any
/// `Range`), logged as a read of the file; to someone who may not see the attachment the
/// right ETag is still `404`, so that it confirms nothing.
#[tokio::test]
async fn if_none_match_on_a_download_is_304_for_its_readers_and_404_for_anyone_else() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let bytes = pdf("conditional", 3000);
    let a = uploaded(upload(&app, &cast.author, id, Upload::pdf(bytes.clone())).await).await;
    let aid = a["attachment"]["id"].as_str().unwrap();
    let tag = format!("\"{}\"", sha256_hex(&bytes));
    let path = format!("/api/v1/pictures/{id}/attachments/{aid}/content");
    let get = |token: String, headers: Vec<(&'static str, String)>| {
        let (app, path) = (&app, path.clone());
        async move {
            let mut req = app.client.get(app.url(&path)).bearer_auth(&token);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send().await.unwrap()
        }
    };
    let res = get(cast.author.clone(), vec![("if-none-match", tag.clone())]).await;
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.http_status), ("attachment.download", 304));
    assert!(res.bytes().await.unwrap().is_empty());
    let res =
        get(cast.author.clone(), vec![("if-none-match", format!("\"x\", W/{tag}")), ("range", "bytes=0-9".into())])
            .await;
    assert_eq!(res.status(), 304);
    let res = get(cast.author.clone(), vec![("if-none-match", "\"x\"".into())]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // A draft is its organisation's alone: the right tag from elsewhere is 404.
    let res = get(cast.b_reader.clone(), vec![("if-none-match", tag.clone())]).await;
    assert_eq!(res.status(), 404);
}
