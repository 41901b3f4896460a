//! Conditional requests on pictures: `If-Match` with the ETag, or `*` for whatever is
//! current (RFC 9110 §13.1.1).

use serde_json::json;

use crate::helpers::pictures::{cast, content, create};
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
