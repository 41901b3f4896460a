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
