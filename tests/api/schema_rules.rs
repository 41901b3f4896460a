//! The OpenAPI document states the bounds the server enforces: a value the document's
//! schema forbids is refused (`422` naming the field), and a value it allows is not
//! refused for that field. Both ways, at the edges (lengths, patterns, non-empty lists,
//! `limit`), so that a client generated from the document sends nothing the server
//! refuses and the document forbids nothing the server takes.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::TestApp;

fn doc() -> Value {
    serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap()
}

/// The schema of property `field` of component `schema`.
fn property<'a>(doc: &'a Value, schema: &str, field: &str) -> &'a Value {
    let p = &doc["components"]["schemas"][schema]["properties"][field];
    assert!(p.is_object(), "{schema}.{field} is not in the document");
    p
}

/// The schema of query parameter `name` of `GET path`.
fn query_param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "query"))
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("GET {path} has no query parameter {name}"))
}

/// Whether `schema` allows `value`, for the keywords the document uses on strings,
/// lists and integers.
fn allows(schema: &Value, value: &Value) -> bool {
    let n = |k: &str| schema[k].as_u64().map(|n| usize::try_from(n).unwrap());
    match value {
        Value::String(s) => {
            let len = s.chars().count();
            n("minLength").is_none_or(|m| len >= m)
                && n("maxLength").is_none_or(|m| len <= m)
                && schema["pattern"].as_str().is_none_or(|p| regex::Regex::new(p).unwrap().is_match(s))
                && schema["enum"].as_array().is_none_or(|e| e.contains(value))
        }
        Value::Array(items) => {
            n("minItems").is_none_or(|m| items.len() >= m) && n("maxItems").is_none_or(|m| items.len() <= m)
        }
        Value::Number(v) => {
            let v = v.as_i64().unwrap();
            schema["minimum"].as_i64().is_none_or(|m| v >= m) && schema["maximum"].as_i64().is_none_or(|m| v <= m)
        }
        _ => true,
    }
}

/// Whether a response refused `field` (a `422` naming it, or a `400` for a query).
async fn refused(res: reqwest::Response, field: &str) -> (bool, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let named = body["errors"].as_array().is_some_and(|es| es.iter().any(|e| e["field"] == field));
    assert!(status < 500, "{field}: {status} {body}");
    ((status == 422 && named) || (status == 400 && body["code"] != "malformed_json"), format!("{status} {body}"))
}

/// Each value of `values` put into `field` of `body`, sent as a new object: the server
/// refuses it exactly when the document's schema forbids it. `unique` makes a body's
/// other unique fields differ from one request to the next.
async fn bodies_agree(
    app: &TestApp,
    token: &str,
    path: &str,
    schema: &Value,
    field: &str,
    values: Vec<Value>,
    mut body: impl FnMut(usize, Value) -> Value,
) {
    let mut forbidden = 0;
    for (i, value) in values.into_iter().enumerate() {
        let allowed = allows(schema, &value);
        forbidden += usize::from(!allowed);
        let res = app.post_json(path, Some(token), &body(i, value.clone())).await;
        let (was_refused, answer) = refused(res, field).await;
        assert_eq!(
            was_refused,
            !allowed,
            "POST {path} with {field} = {value}: the document {} it, the server answered {answer}",
            if allowed { "allows" } else { "forbids" }
        );
    }
    assert!(forbidden > 0, "{path} {field}: no value the document forbids was tried");
}

/// A password the password rules take at any length from 15 characters on.
const PASSWORD: &str = "Vq3tLm9pWz2rKe-X8Yb7NcA5sJd4Hf6Gu";

fn text(n: usize) -> Value {
    Value::String("ä".repeat(n))
}

#[tokio::test]
async fn account_fields_are_refused_exactly_when_the_document_forbids_them() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("rules.secretariat", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let doc = doc();
    let org = app.org("A").to_string();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let user = || {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({"username": format!("rules.user{i}"), "display_name": "Rules", "password": PASSWORD,
               "organisation_id": org, "roles": ["reader"]})
    };
    let with = |field: &'static str| {
        move |_: usize, v: Value| {
            let mut b = user();
            b[field] = v;
            b
        }
    };
    let path = "/api/v1/users";
    let pw = |n: usize| Value::String(PASSWORD.chars().cycle().take(n).collect());
    bodies_agree(
        &app,
        &token,
        path,
        property(&doc, "CreateUser", "password"),
        "password",
        vec![pw(14), pw(15), pw(128), pw(129)],
        with("password"),
    )
    .await;
    let roles = vec![json!([]), json!(["reader"]), json!(["reader", "author"]), Value::Array(vec![json!("reader"); 8])];
    bodies_agree(&app, &token, path, property(&doc, "CreateUser", "roles"), "roles", roles, with("roles")).await;
    let names = vec![
        text(0),
        text(1),
        json!(" "),
        json!("a\u{7}b"),
        json!("a\u{200B}b"),
        json!("a\u{2028}b"),
        text(200),
        text(201),
    ];
    bodies_agree(
        &app,
        &token,
        path,
        property(&doc, "CreateUser", "display_name"),
        "display_name",
        names,
        with("display_name"),
    )
    .await;
    let usernames = vec![
        json!("ab"),
        json!("abc"),
        json!("Rules.Capital"),
        json!("a b c"),
        json!("x\u{0}yz"),
        json!("a".repeat(64)),
        json!("b".repeat(65)),
    ];
    bodies_agree(&app, &token, path, property(&doc, "CreateUser", "username"), "username", usernames, with("username"))
        .await;
    // The roles of a service account: the same rule.
    let path = "/api/v1/service-accounts";
    let roles = vec![json!([]), json!(["reader"]), Value::Array(vec![json!("reader"); 8])];
    bodies_agree(
        &app,
        &token,
        path,
        property(&doc, "CreateServiceAccount", "roles"),
        "roles",
        roles,
        |i, v| json!({"name": format!("rules-sa{i}"), "organisation_id": org, "roles": v}),
    )
    .await;
}

#[tokio::test]
async fn reference_and_subscription_fields_are_refused_exactly_when_the_document_forbids_them() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("rules.secretariat", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let doc = doc();
    let codes = vec![
        json!("AB"),
        json!("ABC"),
        json!("A-1"),
        json!("1AB"),
        json!("abc"),
        json!("Z".repeat(32)),
        json!("Y".repeat(33)),
    ];
    bodies_agree(
        &app,
        &token,
        "/api/v1/communities",
        property(&doc, "CreateCommunity", "code"),
        "code",
        codes,
        |_, v| json!({"code": v, "name_en": "Rules"}),
    )
    .await;
    let names = vec![text(0), json!("\t"), json!("x\u{1}"), text(1), text(200), text(201)];
    bodies_agree(
        &app,
        &token,
        "/api/v1/communities",
        property(&doc, "CreateCommunity", "name_en"),
        "name_en",
        names,
        |i, v| json!({"code": format!("RULES-{i}"), "name_en": v}),
    )
    .await;
    let names = vec![text(0), json!("a\u{0}"), json!("a\nb"), text(1), text(200), text(201)];
    bodies_agree(
        &app,
        &token,
        "/api/v1/subscriptions",
        property(&doc, "CreateSubscription", "name"),
        "name",
        names,
        |_, v| {
            json!({"name": v, "webhook_url": null,
               "filter": {"domains": [], "election_ids": [], "is_exercise": false, "kinds": [], "min_severity": null}})
        },
    )
    .await;
    let hosts = vec![
        json!(""),
        json!("hooks.example.org"),
        json!("[::1]"),
        json!("a b"),
        json!("h\u{0}"),
        json!("10.0.0.1"),
        json!("a".repeat(253)),
        json!("b".repeat(254)),
    ];
    bodies_agree(
        &app,
        &token,
        "/api/v1/webhook-hosts",
        property(&doc, "WebhookHost", "host"),
        "host",
        hosts,
        |_, v| json!({"host": v}),
    )
    .await;
}

/// Every `limit` of the REST API's lists, and the search and filter texts: the value just
/// outside each stated bound is refused, the value at it is served.
#[tokio::test]
async fn list_parameters_are_refused_exactly_when_the_document_forbids_them() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("rules.secretariat", "S", &[Role::Secretariat, Role::Reader, Role::Auditor]).await;
    let token = app.token(&sec).await;
    let doc = doc();
    let mut lists = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(limit) = item["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "limit" && p["in"] == "query"))
        else {
            continue;
        };
        if !path.starts_with("/api/") || path.contains('{') {
            continue;
        }
        let schema = &limit["schema"];
        let min = schema["minimum"].as_i64().unwrap_or(i64::MIN);
        let max = schema["maximum"].as_i64().unwrap_or(i64::MAX);
        for value in [min - 1, min, max, max + 1] {
            let res = app.get(&format!("{path}?limit={value}"), Some(&token)).await;
            let status = res.status().as_u16();
            let allowed = allows(schema, &json!(value));
            assert_eq!(status == 200, allowed, "GET {path}?limit={value}: {status}, the document allows it: {allowed}");
        }
        let res = app.get(&format!("{path}?cursor="), Some(&token)).await;
        assert!(!allows(query_param(&doc, path, "cursor"), &json!("")), "{path}: an empty cursor is allowed");
        assert_eq!(res.status(), 400, "GET {path}?cursor=");
        lists += 1;
    }
    assert!(lists >= 8, "only {lists} lists with a limit");
    for (path, name, values) in [
        ("/api/v1/pictures", "q", vec![String::new(), " ".into(), "a".into(), "a".repeat(200), "a".repeat(201)]),
        ("/api/v1/access-log", "action", vec![String::new(), "a".into(), "a".repeat(64), "a".repeat(65)]),
        ("/api/v1/access-log", "object_id", vec![String::new(), "a".repeat(200), "a".repeat(201)]),
    ] {
        let schema = query_param(&doc, path, name);
        for value in values {
            let res = app.client.get(app.url(path)).bearer_auth(&token).query(&[(name, &value)]).send().await.unwrap();
            let status = res.status().as_u16();
            let allowed = allows(schema, &json!(value));
            assert_eq!(
                status == 200,
                allowed,
                "GET {path}?{name}={value:?}: {status}, the document allows it: {allowed}"
            );
        }
    }
}

/// TAXII's `Accept`: the document names the one media type, and that one is served.
#[tokio::test]
async fn taxii_accept_is_stated_as_the_media_type_the_server_serves() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("rules.reader", "A", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    let doc = doc();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["name"] == "Accept" && p["in"] == "header" {
                    assert_eq!(p["required"], true, "{method} {path}");
                    assert_eq!(p["schema"]["enum"], json!([sitrep_api::taxii::TAXII_MEDIA_TYPE]), "{method} {path}");
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= 8, "{seen} operations state Accept");
    let stated = doc["paths"]["/taxii2/"]["get"]["parameters"][0]["schema"]["enum"][0].as_str().unwrap().to_owned();
    let get = |accept: String| app.client.get(app.url("/taxii2/")).bearer_auth(&token).header("accept", accept).send();
    assert_eq!(get(stated).await.unwrap().status(), 200);
    assert_eq!(get("application/json".into()).await.unwrap().status(), 406);
    assert_eq!(get(String::new()).await.unwrap().status(), 406);
}
