//! The committed OpenAPI document is the one the code generates and serves.

use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_committed_openapi_document_matches_the_code_and_the_server() {
    let generated = sitrep_api::docs::openapi_json();
    let committed_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "api-spec/openapi.json is out of date: run `cargo run -p sitrep-server --bin sitrep -- openapi`"
    );
    let app = TestApp::spawn().await;
    let served: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let generated: Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(served, generated);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[tokio::test]
async fn every_operation_lists_its_error_responses_and_every_data_route_has_an_action() {
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if path.starts_with("/api/") {
                for status in ["401", "500", "503"] {
                    let public = path == "/api/v1/auth/login"
                        || path == "/api/v1/auth/refresh"
                        || path == "/api/v1/.well-known/jwks.json"
                        || path == "/api/v1/email-confirmations";
                    if status == "401" && public {
                        continue;
                    }
                    assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                }
                let action = sitrep_api::actions::action(&method.to_uppercase().parse().unwrap(), Some(path.as_str()));
                assert_ne!(action, "request", "{method} {path} has no access-log action");
            }
        }
    }
}

/// The other way round: every route a module declares is in the document, under the same
/// method and path, so neither can change without the other.
#[test]
fn every_declared_route_is_documented() {
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let mut count = 0;
    for (method, path, action) in sitrep_api::actions::all() {
        assert!(
            doc["paths"][&path][method.to_lowercase()].is_object(),
            "{method} {path} ({action}) is declared but not in the OpenAPI document"
        );
        count += 1;
    }
    assert!(count > 100, "the table holds every route ({count})");
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("http"));
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    assert!(!html.contains("https://"), "no CDN");
    let res = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(res.status(), 200);
    let res = app.get("/docs", None).await;
    assert_eq!(res.status(), 302);
}

/// A generated client must not send what the server refuses: every `limit` and `cursor`
/// query parameter of the REST API states the bounds `PageQuery` enforces.
#[test]
fn every_page_parameter_states_the_bounds_the_server_enforces() {
    use sitrep_api::pagination::{MAX_CURSOR_CHARS, MAX_LIMIT};
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let schema = &param["schema"];
                match param["name"].as_str() {
                    Some("limit") => {
                        assert_eq!(schema["minimum"], 1, "{method} {path} limit");
                        assert_eq!(schema["maximum"], MAX_LIMIT, "{method} {path} limit");
                    }
                    Some("cursor") => {
                        assert_eq!(schema["minLength"], 1, "{method} {path} cursor");
                        assert_eq!(schema["maxLength"], MAX_CURSOR_CHARS, "{method} {path} cursor");
                        assert_eq!(schema["pattern"], "^[A-Za-z0-9_-]+$", "{method} {path} cursor");
                    }
                    _ => continue,
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "only {seen} page parameters found");
}

/// Each rule the server states (`sitrep_api::constraints`) lands on a field or parameter
/// of the document: a renamed type or parameter would otherwise drop its bounds unseen.
#[test]
fn every_stated_rule_lands_on_a_field_or_a_parameter_of_the_document() {
    use sitrep_api::constraints::{FIELDS, PARAMETERS};
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let keywords =
        ["minLength", "maxLength", "pattern", "minItems", "maxItems", "minimum", "maximum", "enum", "format"];
    for (schema, field, rule) in FIELDS {
        let p = &doc["components"]["schemas"][schema]["properties"][field];
        assert!(keywords.iter().any(|k| p.get(k).is_some()), "{schema}.{field} does not state {rule:?}: {p}");
    }
    for (prefix, place, name, rule) in PARAMETERS {
        let place = serde_json::to_value(place).unwrap();
        let found =
            doc["paths"].as_object().unwrap().iter().filter(|(path, _)| path.starts_with(prefix)).any(|(_, item)| {
                item.as_object().unwrap().values().any(|op| {
                    op["parameters"].as_array().into_iter().flatten().any(|p| {
                        p["name"] == *name && p["in"] == place && keywords.iter().any(|k| p["schema"].get(k).is_some())
                    })
                })
            });
        assert!(found, "no parameter {name} ({place}) under {prefix} states {rule:?}");
    }
}

/// Every `$ref` of the document names a schema it holds: a query parameter of an enum
/// type that no body uses was once left dangling, and a fuzzer skipped it.
#[test]
fn every_reference_in_the_document_resolves() {
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 100);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{r} does not resolve");
    }
}
