//! The authorisation matrix's world: one account of every role and organisation, a
//! picture in every state, and each route's path made concrete for it.

use crate::helpers::pictures::{act, cast, content, published};
use crate::helpers::{TestApp, TestUser};
use serde_json::{Value, json};
use sitrep_types::Role;
use std::collections::BTreeMap;

pub struct World {
    pub users: BTreeMap<&'static str, TestUser>,
    pub service_key: String,
    pub params: BTreeMap<&'static str, String>,
}

pub async fn world(app: &TestApp) -> World {
    let cast = cast(app).await;
    let mut users = BTreeMap::new();
    for (name, username, org, role) in [
        ("a_reader", "m.a.reader", "A", Role::Reader),
        ("a_author", "m.a.author", "A", Role::Author),
        ("a_approver", "m.a.approver", "A", Role::Approver),
        ("a_admin", "m.a.admin", "A", Role::OrgAdmin),
        ("b_reader", "m.b.reader", "B", Role::Reader),
        ("b_admin", "m.b.admin", "B", Role::OrgAdmin),
        ("v_reader", "m.v.reader", "V", Role::Reader),
        ("r_reader", "m.r.reader", "R", Role::Reader),
        ("secretariat", "m.secretariat", "S", Role::Secretariat),
        ("auditor", "m.auditor", "S", Role::Auditor),
        ("sysadmin", "m.sysadmin", "S", Role::Sysadmin),
    ] {
        users.insert(name, app.seed_user(username, org, &[role]).await);
    }
    let admin = app.token(&users["a_admin"]).await;
    let sec = app.token(&users["secretariat"]).await;
    let ok = |res: reqwest::Response, what: &str| {
        assert!(res.status().is_success(), "fixture {what}: {}", res.status());
        res
    };
    let mut params = BTreeMap::new();
    let group = published(app, &cast, &content("group", "AMBER")).await;
    let closed = published(app, &cast, &content("group", "AMBER")).await;
    let close = act(app, &cast.approver, &closed, "close").await;
    ok(close, "close");
    // B's question on it: a thread between B and the originator A.
    let ask = format!("/api/v1/pictures/{group}/threads");
    let thread: Value =
        ok(app.post_json(&ask, Some(&cast.b_reader), &json!({"body": "Matrix question"})).await, "thread")
            .json()
            .await
            .unwrap();
    params.insert("thread", thread["id"].as_str().unwrap().to_owned());
    params.insert("picture", group);
    params.insert("closed_picture", closed);
    params.insert("user", users["a_reader"].id.to_string());
    let me: Value = app.get("/api/v1/me", Some(&app.token(&users["a_reader"]).await)).await.json().await.unwrap();
    params.insert("membership", me["memberships"][0]["id"].as_str().unwrap().to_owned());
    params.insert("organisation", app.org("A").to_string());

    let body = json!({"name": "matrix-feed", "roles": ["reader"]});
    let account: Value =
        ok(app.post_json("/api/v1/service-accounts", Some(&admin), &body).await, "svc").json().await.unwrap();
    let account = account["id"].as_str().unwrap().to_owned();
    let key_body = json!({"name": "k", "expires_at": (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339()});
    let keys = format!("/api/v1/service-accounts/{account}/keys");
    let used: Value = ok(app.post_json(&keys, Some(&admin), &key_body).await, "key").json().await.unwrap();
    let spare: Value = ok(app.post_json(&keys, Some(&admin), &key_body).await, "key").json().await.unwrap();
    params.insert("service_account", account);
    params.insert("key", spare["api_key"]["id"].as_str().unwrap().to_owned());

    let election = json!({"code": "FI-MATRIX-2027", "election_type": "parliamentary", "name_en": "Matrix", "election_day": "2027-04-18"});
    let election: Value =
        ok(app.post_json("/api/v1/elections", Some(&sec), &election).await, "election").json().await.unwrap();
    params.insert("election", election["id"].as_str().unwrap().to_owned());
    ok(app.post_json("/api/v1/webhook-hosts", Some(&sec), &json!({"host": "hooks.example"})).await, "host");
    let sub = json!({"organisation_id": app.org("A"), "name": "SOC", "webhook_url": "https://hooks.example/x"});
    let sub: Value = ok(app.post_json("/api/v1/subscriptions", Some(&admin), &sub).await, "sub").json().await.unwrap();
    params.insert("subscription", sub["id"].as_str().unwrap().to_owned());
    // A TAXII peer (inactive: the matrix never polls it) importing as an author account of A.
    let body = json!({"name": "matrix-peer", "roles": ["author"]});
    let importer: Value =
        ok(app.post_json("/api/v1/service-accounts", Some(&admin), &body).await, "svc").json().await.unwrap();
    let peer = json!({"name": "matrix", "api_root": "https://taxii.peer.example/taxii2/api/", "collection_id": "c1",
        "organisation_id": app.org("A"), "service_account_id": importer["id"], "active": false});
    let peer: Value = ok(app.post_json("/api/v1/peers", Some(&sec), &peer).await, "peer").json().await.unwrap();
    params.insert("peer", peer["id"].as_str().unwrap().to_owned());
    // A published group/AMBER report of A, and a withdrawn one for the lifecycle actions.
    for (name, withdraw) in [("report", false), ("withdrawn_report", true)] {
        let body = json!({
            "original_lang": "fi", "title": {"fi": "Tilannekuva"}, "summary": {"fi": "Tiivistelmä"},
            "assessment": {"fi": "Arvio"}, "pictures": [params["picture"]], "tier": "group", "tlp": "AMBER"
        });
        let r: Value =
            ok(app.post_json("/api/v1/reports", Some(&cast.author), &body).await, "report").json().await.unwrap();
        let id = r["id"].as_str().unwrap().to_owned();
        let publish = format!("/api/v1/reports/{id}/publish");
        ok(app.post_json(&publish, Some(&cast.approver), &json!({})).await, "report publish");
        if withdraw {
            let path = format!("/api/v1/reports/{id}/withdraw");
            ok(app.post_json(&path, Some(&cast.approver), &json!({})).await, "report withdraw");
        }
        params.insert(name, id);
    }
    World { users, service_key: used["key"].as_str().unwrap().to_owned(), params }
}

/// The concrete path of an operation: which fixture each `{param}` names.
pub fn concrete(path: &str, w: &World) -> String {
    let p = |k: &str| w.params[k].clone();
    let id = if path.starts_with("/api/v1/pictures/{id}/")
        && ["submit", "approve", "publish", "withdraw", "close"].iter().any(|a| path.ends_with(a))
    {
        p("closed_picture")
    } else if path.starts_with("/api/v1/pictures/") {
        p("picture")
    } else if path.starts_with("/api/v1/users/") {
        p("user")
    } else if path.starts_with("/api/v1/organisations/") {
        p("organisation")
    } else if path.starts_with("/api/v1/service-accounts/") {
        p("service_account")
    } else if path.starts_with("/api/v1/elections/") {
        p("election")
    } else if path.starts_with("/api/v1/subscriptions/") {
        p("subscription")
    } else if path.starts_with("/api/v1/peers/") {
        p("peer")
    } else if path.starts_with("/api/v1/reports/{id}/") {
        p("withdrawn_report")
    } else if path.starts_with("/api/v1/reports/") {
        p("report")
    } else {
        String::new()
    };
    path.replace("{id}", &id)
        .replace("{collection}", &sitrep_stix::ids::collection(sitrep_types::Tier::Group).to_string())
        .replace("{object}", &sitrep_stix::ids::report(p("picture").parse().unwrap()))
        .replace("{membership_id}", &p("membership"))
        .replace("{key_id}", &p("key"))
        .replace("{thread_id}", &p("thread"))
        .replace("{n}", "1")
        // No caller of the matrix posts to an inbox: no status is theirs.
        .replace("{status}", &uuid::Uuid::nil().to_string())
}
