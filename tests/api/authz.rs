//! The authorisation matrix: every operation of the OpenAPI document, called by every
//! kind of caller, answers the status written in `authz_matrix.txt`. A new operation
//! without a row, or a row without an operation, fails the test.
//!
//! Objects in paths belong to organisation A (a published `group`/AMBER picture, a closed
//! one for the lifecycle actions, A's reader, A's service account…; for TAXII the `group`
//! collection and that picture's report, asked for with the TAXII media type). Writes send `{}`:
//! a caller the route refuses gets 401/403/404, a caller it lets in gets past the
//! authorisation check and then 400/409/422 (or does the harmless thing, e.g. an
//! acknowledgement). Object-level checks of writes with valid bodies (other
//! organisations' ids) are in `hostile.rs`. Callers run in column order, each with a
//! fresh login for every write. `SITREP_AUTHZ_RECORD=1` rewrites the file from what the
//! server answers: review the diff line by line before committing it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{act, cast, content, published};
use crate::helpers::{TestApp, TestUser};

const MATRIX: &str = "tests/api/authz_matrix.txt";
const CALLERS: [&str; 13] = [
    "anon",
    "a_reader",
    "a_author",
    "a_approver",
    "a_admin",
    "a_service",
    "b_reader",
    "b_admin",
    "v_reader",
    "r_reader",
    "secretariat",
    "auditor",
    "sysadmin",
];

pub(crate) struct World {
    pub(crate) users: BTreeMap<&'static str, TestUser>,
    pub(crate) service_key: String,
    pub(crate) params: BTreeMap<&'static str, String>,
}

pub(crate) async fn world(app: &TestApp) -> World {
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
pub(crate) fn concrete(path: &str, w: &World) -> String {
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

/// Every operation of the OpenAPI document as (METHOD, path).
fn operations() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops.sort();
    ops
}

fn read_matrix() -> BTreeMap<(String, String), Vec<u16>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MATRIX);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let mut fields = line.split_whitespace();
        let method = fields.next().unwrap().to_owned();
        let path = fields.next().unwrap().to_owned();
        let statuses: Vec<u16> = fields.map(|f| f.parse().unwrap()).collect();
        assert_eq!(statuses.len(), CALLERS.len(), "{line}");
        assert!(rows.insert((method, path), statuses).is_none(), "duplicate row: {line}");
    }
    rows
}

fn write_matrix(rows: &BTreeMap<(String, String), Vec<u16>>) {
    let mut out = String::from(
        "# The authorisation matrix (tests/api/authz.rs): the status each kind of caller gets from each\n\
         # operation. Objects belong to organisation A; writes send `{}`. Columns:\n",
    );
    let width = rows.keys().map(|(_, p)| p.len()).max().unwrap_or(0);
    let _ = writeln!(out, "# {:6} {:width$} {}", "method", "path", CALLERS.join(" "));
    for ((method, path), statuses) in rows {
        let cells: Vec<String> = statuses.iter().zip(CALLERS).map(|(s, c)| format!("{s:>w$}", w = c.len())).collect();
        let _ = writeln!(out, "{method:8} {path:width$} {}", cells.join(" "));
    }
    std::fs::write(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MATRIX), out).unwrap();
}

#[tokio::test]
async fn every_operation_answers_every_kind_of_caller_as_the_matrix_says() {
    let app = TestApp::spawn_with(|s| {
        s.auth.login.per_address_per_minute = 100_000;
        s.delivery.worker = false;
    })
    .await;
    let w = world(&app).await;
    let ops = operations();
    let expected = read_matrix();
    let recording = std::env::var("SITREP_AUTHZ_RECORD").is_ok_and(|v| v == "1");
    if !recording {
        let documented: Vec<&(String, String)> = expected.keys().collect();
        let missing: Vec<_> = ops.iter().filter(|op| !expected.contains_key(op)).collect();
        let stale: Vec<_> = documented.into_iter().filter(|op| !ops.contains(op)).collect();
        assert!(missing.is_empty(), "operations without a row in {MATRIX}: {missing:?}");
        assert!(stale.is_empty(), "rows of {MATRIX} that are no operation: {stale:?}");
    }

    let mut tokens: BTreeMap<&str, String> = BTreeMap::new();
    let mut answered = BTreeMap::new();
    for (method, path) in &ops {
        let url = concrete(path, &w);
        let mut row = Vec::new();
        for caller in CALLERS {
            let credential = match caller {
                "anon" => None,
                "a_service" => Some(w.service_key.clone()),
                name => {
                    if method != "GET" || !tokens.contains_key(name) {
                        tokens.insert(name, app.token(&w.users[name]).await);
                    }
                    Some(tokens[name].clone())
                }
            };
            let mut req = app.client.request(method.parse().unwrap(), app.url(&url));
            if let Some(c) = &credential {
                req = req.bearer_auth(c);
            }
            if method != "GET" {
                req = req.json(&json!({}));
            }
            if path.starts_with("/taxii2/") {
                req = req.header("accept", crate::taxii::ACCEPT);
            }
            let res = req.send().await.unwrap();
            row.push(res.status().as_u16());
        }
        answered.insert((method.clone(), path.clone()), row);
    }
    if recording {
        write_matrix(&answered);
        return;
    }
    let mut wrong = String::new();
    for (op, got) in &answered {
        let want = &expected[op];
        for ((caller, g), e) in CALLERS.iter().zip(got).zip(want) {
            if g != e {
                let _ = writeln!(wrong, "{} {} as {caller}: expected {e}, got {g}", op.0, op.1);
            }
        }
    }
    let cases = answered.len() * CALLERS.len();
    assert!(wrong.is_empty(), "{cases} cases; these differ from {MATRIX}:\n{wrong}");
}
