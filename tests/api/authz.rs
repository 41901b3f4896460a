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

use crate::helpers::TestApp;
use crate::helpers::world::{concrete, world};

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
                req = req.header("accept", crate::helpers::taxii::ACCEPT);
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
