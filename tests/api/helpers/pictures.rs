//! Picture fixtures shared by the modules: a valid body at any tier, the cast of an
//! originator's author and approvers and other organisations' readers, and the steps of a
//! picture's life (create, act, revise under `If-Match`, read the history).

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_types::Role;

use super::{TestApp, TestUser};

/// A valid picture at `tier`/`tlp` with what that tier needs.
pub fn content(tier: &str, tlp: &str) -> Value {
    let mut c = json!({
        "kind": "alert",
        "primary_domain": "information_influence",
        "domains": ["information_influence"],
        "original_lang": "fi",
        "title": {"fi": "Harhaanjohtava väite tekstiviestiäänestyksestä", "sv": "Vilseledande påstående om röstning per sms", "en": "False claim that voting by SMS is possible"},
        "summary": {"fi": "Tekstiviestejä levitetään", "sv": "Sms sprids", "en": "Text messages claim voters can vote by SMS"},
        "impact_on_conduct": "moderate",
        "impact_on_public_confidence": "moderate",
        "urgency": "priority",
        "source_reliability": "B",
        "information_credibility": "2",
        "geo_scope": "constituency",
        "geo_codes": ["FI-VP-10"],
        "targets": ["voters_general"],
        "actor_type_suspected": "unknown",
        "attribution_confidence": "none",
        "disarm_techniques": ["T0097.206", "T0101"],
        "sources": [{"source_type": "own_monitoring", "description": "Monitoring of reports", "reliability": "B", "credibility": "2"}],
        "tlp": tlp,
        "tier": tier,
        "classification": "unclassified_secret",
        "secrecy_basis": "JulkL 24 § 1 mom 7 k",
        "originator_consents": {"virt": true, "ras": true, "public": true, "police": false}
    });
    if tlp == "GREEN" {
        c["tlp_community"] = json!("FI-ELECSEC");
    }
    if tier == "public" {
        c["classification"] = json!("unclassified_public");
        c.as_object_mut().unwrap().remove("secrecy_basis");
    }
    c
}

/// Organisation A's author and two approvers, and readers of B, V and R.
pub struct Cast {
    pub author: String,
    pub approver: String,
    pub approver2: String,
    pub b_reader: String,
    pub v_reader: String,
    pub r_reader: String,
    pub a_user: TestUser,
}

/// Seeds the cast and logs each of them in.
pub async fn cast(app: &TestApp) -> Cast {
    let a_user = app.seed_user("a.author", "A", &[Role::Author]).await;
    let approver = app.seed_user("a.approver", "A", &[Role::Approver]).await;
    let approver2 = app.seed_user("a.approver2", "A", &[Role::Approver]).await;
    let b = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let v = app.seed_user("v.reader", "V", &[Role::Reader]).await;
    let r = app.seed_user("r.reader", "R", &[Role::Reader]).await;
    Cast {
        author: app.token(&a_user).await,
        approver: app.token(&approver).await,
        approver2: app.token(&approver2).await,
        b_reader: app.token(&b).await,
        v_reader: app.token(&v).await,
        r_reader: app.token(&r).await,
        a_user,
    }
}

/// Creates a draft, asserting 201, and returns it.
pub async fn create(app: &TestApp, token: &str, body: &Value) -> Value {
    let res = app.post_json("/api/v1/pictures", Some(token), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

/// Posts a lifecycle action (`submit`, `approve`, `publish`, `withdraw`, ...) with an empty
/// body.
pub async fn act(app: &TestApp, token: &str, id: &str, action: &str) -> Response {
    app.post_json(&format!("/api/v1/pictures/{id}/{action}"), Some(token), &json!({})).await
}

/// Posts a lifecycle action with an empty body under `If-Match: if_match`.
pub async fn act_if_match(app: &TestApp, token: &str, id: &str, action: &str, if_match: &str) -> Response {
    app.client
        .post(app.url(&format!("/api/v1/pictures/{id}/{action}")))
        .bearer_auth(token)
        .header("if-match", if_match)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

/// Created by the author, submitted, approved by the second approver and published by
/// the first: valid at every tier.
pub async fn published(app: &TestApp, cast: &Cast, body: &Value) -> String {
    let p = create(app, &cast.author, body).await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(act(app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(app, &cast.approver2, &id, "approve").await.status(), 200);
    let res = act(app, &cast.approver, &id, "publish").await;
    assert_eq!(res.status(), 200);
    id
}

/// The picture's current ETag as `token` reads it (asserting 200).
pub async fn etag(app: &TestApp, token: &str, id: &str) -> String {
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(token)).await;
    assert_eq!(res.status(), 200);
    res.headers()["etag"].to_str().unwrap().to_owned()
}

/// A merge patch of the picture under `If-Match: if_match`, whatever that ETag is.
pub async fn patch_if_match(app: &TestApp, token: &str, id: &str, if_match: &str, body: &Value) -> Response {
    app.client
        .patch(app.url(&format!("/api/v1/pictures/{id}")))
        .bearer_auth(token)
        .header("if-match", if_match)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Revises the picture as a client does: reads its ETag as `token`, then PATCHes `body`
/// with that ETag in `If-Match`.
pub async fn revise(app: &TestApp, token: &str, id: &str, body: &Value) -> Response {
    let tag = etag(app, token, id).await;
    patch_if_match(app, token, id, &tag, body).await
}

/// The picture's revisions as `token` reads them (asserting 200).
pub async fn revisions(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/pictures/{id}/revisions"), Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json::<Vec<Value>>().await.unwrap()
}
