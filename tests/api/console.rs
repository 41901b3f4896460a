//! The analyst console at `/app/`: served from the binary under a strict
//! Content-Security-Policy with no external origin, and end to end in Debian's headless
//! Chromium driven by Playwright (`tests/console/e2e.mjs`) against a real server.
//!
//! `deploy/test` installs Chromium (as root) and the pinned `playwright-core` and `axe-core`
//! (`tests/console/package-lock.json`) and names Chromium in `SITREP_TEST_CHROMIUM`.
//! Under `CI=true` a missing tool fails the test; elsewhere it says so and passes.
//! Screenshots go to `<cargo target dir>/console-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{act, content, create};
use crate::helpers::{TestApp, problem};

const CSP_APP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[tokio::test]
async fn the_console_is_served_from_the_binary_under_a_strict_csp_with_no_external_origin() {
    let app = TestApp::spawn().await;
    let res = app.get("/app", None).await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/app/");

    let res = app.get("/app/", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-security-policy"], CSP_APP);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    // No inline script or style: every <script> has a src, no style attributes or
    // elements, no event-handler attributes.
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains(" src=\"") && tag.contains("type=\"module\""), "inline script: {tag}");
    }
    assert!(!html.contains("style=") && !html.contains("<style"), "inline style in index.html");
    assert!(!html.contains(" onclick=") && !html.contains(" onload="), "inline handler in index.html");

    assert!(!sitrep_api::console::ASSETS.is_empty());
    for asset in sitrep_api::console::ASSETS {
        let res = app.get(&format!("/app/{}", asset.name), None).await;
        assert_eq!(res.status(), 200, "{}", asset.name);
        assert_eq!(res.headers()["content-security-policy"], CSP_APP, "{}", asset.name);
        assert_eq!(res.headers()["content-type"], asset.content_type, "{}", asset.name);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let body = res.text().await.unwrap();
        assert_eq!(body, asset.body);
        let checked = if asset.name == VENDORED {
            body.replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
        } else {
            body.clone()
        };
        for external in ["http://", "https://", "//fonts.", "//cdn", "url(http", "@import"] {
            assert!(!checked.contains(external), "{} references an external origin ({external})", asset.name);
        }
        for stored in ["localStorage", "sessionStorage", "document.cookie", "innerHTML", "eval("] {
            assert!(!body.contains(stored), "{} uses {stored}", asset.name);
        }
        // Every relative reference names an embedded file.
        for quote in ["from './", "src=\"", "href=\""] {
            for (i, _) in body.match_indices(quote) {
                let rest = &body[i + quote.len()..];
                let end = rest.find(['\'', '"']).unwrap();
                let target = rest[..end].trim_start_matches("./");
                if target.starts_with('#') || target.starts_with("data:") || target.is_empty() || target.contains('$') {
                    continue;
                }
                assert!(
                    sitrep_api::console::ASSETS.iter().any(|a| a.name == target),
                    "{} references {target}, which is not embedded",
                    asset.name
                );
            }
        }
    }
    // The access log's action names, built from the route table, for the auditor's page.
    let res = app.get("/app/actions.json", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-security-policy"], CSP_APP);
    assert_eq!(res.headers()["content-type"], "application/json; charset=utf-8");
    let names: Vec<String> = res.json().await.unwrap();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "sorted, each once");
    for (_, _, action) in sitrep_api::actions::all() {
        assert!(names.iter().any(|n| n == action), "{action} is not offered");
    }
    assert!(names.iter().any(|n| n == "request") && names.iter().any(|n| n == "picture.view"));
    assert_eq!(names.len(), sitrep_api::actions::all().count() + 1, "nothing but the table's actions and `request`");
    // The technique lists of the editor's pickers: exactly the pinned DISARM and ATT&CK
    // lists the API checks `disarm_techniques` and `attack_techniques` against, each
    // technique once, with its name and tactic.
    let res = app.get("/app/techniques.json", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-security-policy"], CSP_APP);
    assert_eq!(res.headers()["content-type"], "application/json; charset=utf-8");
    let lists: Value = res.json().await.unwrap();
    let frameworks = lists["frameworks"].as_array().unwrap();
    assert_eq!(frameworks.len(), 2, "DISARM and ATT&CK: {lists}");
    let disarm = &frameworks[0];
    assert_eq!(disarm["framework"], "disarm");
    assert_eq!(disarm["field"], "disarm_techniques");
    assert_eq!(disarm["version"], sitrep_domain::picture::DISARM_VERSION);
    let offered: Vec<(String, String, String)> = disarm["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap().to_owned();
            (s("id"), s("name"), s("tactic"))
        })
        .collect();
    let pinned: Vec<(String, String, String)> = sitrep_domain::picture::disarm_techniques()
        .map(|(id, name, tactic)| (id.to_owned(), name.to_owned(), tactic.to_owned()))
        .collect();
    assert!(pinned.len() > 300, "the pinned list: {}", pinned.len());
    assert_eq!(offered, pinned);
    let ids: std::collections::HashSet<&str> = offered.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(ids.len(), offered.len(), "each technique once");
    assert!(offered.iter().any(|x| x.0 == "T0101" && x.1 == "Create Localised Content"));
    let attack = &frameworks[1];
    assert_eq!(
        (attack["framework"].as_str(), attack["field"].as_str(), attack["version"].as_str()),
        (Some("attack"), Some("attack_techniques"), Some(sitrep_domain::picture::ATTACK_VERSION))
    );
    let offered: Vec<&str> =
        attack["techniques"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    let pinned: Vec<&str> = sitrep_domain::picture::attack_techniques().map(|t| t.id).collect();
    assert!(pinned.len() > 500, "the pinned ATT&CK list: {}", pinned.len());
    assert_eq!(offered, pinned);
    assert!(attack["techniques"].as_array().unwrap().iter().any(|x| x["id"] == "T1566" && x["name"] == "Phishing"));
    problem(app.get("/app/nothing-here.js", None).await, 404).await;
    problem(app.get("/app/..%2fCargo.toml", None).await, 404).await;
    let res = app.post_json("/app/", None, &json!({})).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    // The API keeps its own policy.
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
}

/// Every JavaScript module of the console: each takes its interface texts from the
/// catalogues only.
fn modules() -> impl Iterator<Item = &'static sitrep_api::console::Asset> {
    sitrep_api::console::ASSETS.iter().filter(|a| a.name.ends_with(".js") && a.name != VENDORED)
}

/// The one vendored module (the QR code generator), kept byte for byte as published: its
/// own error messages are not interface texts, and its SVG renderer names the SVG
/// namespace, which is not an origin anything is fetched from.
const VENDORED: &str = "uqr.js";

fn catalogue(lang: &str) -> serde_json::Map<String, Value> {
    let asset = sitrep_api::console::ASSETS.iter().find(|a| a.name == format!("messages-{lang}.json")).unwrap();
    serde_json::from_str::<Value>(asset.body).unwrap().as_object().unwrap().clone()
}

/// The string literals of a JavaScript module ('…', "…" and the literal parts of `…`),
/// comments left out.
fn literals(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let mut lit = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                } else if c == '`' && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                    // An interpolation: what is around it is literal text, itself is code.
                    out.push(std::mem::take(&mut lit));
                    let mut depth = 0;
                    while i < chars.len() {
                        if chars[i] == '{' {
                            depth += 1;
                        } else if chars[i] == '}' {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                if i < chars.len() {
                    lit.push(chars[i]);
                }
                i += 1;
            }
            out.push(lit);
        }
        i += 1;
    }
    out
}

/// Whether a literal reads as words meant for a person: two words of letters with a space
/// between, or one capitalised word, once known non-texts (selectors, headers, keys,
/// paths) are set aside.
fn reads_as_text(lit: &str) -> bool {
    const CLASSES: &[&str] = &[
        "button",
        "overdue",
        "old",
        "new",
        "text",
        "badge",
        "status",
        "tier",
        "sev",
        "exercise",
        "card",
        "fresh",
        "live",
        "on",
        "off",
        "secondary",
        "empty",
        "mono",
        "actions",
        "chip",
        "needs",
        "panel",
    ];
    let words: Vec<&str> = lit.split_whitespace().collect();
    let wordlike = |w: &str| w.chars().filter(|c| c.is_alphabetic()).count() >= 2;
    let code_like = lit.contains(['#', '=', '[', ':', '(', '/', '{', '<'])
        || lit.starts_with('.')
        || lit == "Bearer "
        // A wire value (`AMBER+STRICT`, `TL_IV`, an HTTP method): one token, no lower case.
        || (words.len() == 1 && !lit.chars().any(char::is_lowercase))
        // A name of an algorithm or a format (`Ed25519`): one token with digits.
        || (words.len() == 1 && lit.chars().any(|c| c.is_ascii_digit()))
        // Identifiers, and lists of selectors (`input, select`).
        || lit.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-+".contains(c))
        || (lit.contains(", ") && lit.split(", ").all(|w| w.chars().all(|c| c.is_ascii_lowercase())))
        // Class lists: `badge status`, `card sev-high`.
        || (lit.contains(' ') && words.iter().all(|w| CLASSES.contains(w) || w.contains('-')));
    if code_like {
        return false;
    }
    words.iter().filter(|w| wordlike(w)).count() >= 2
        || words.first().is_some_and(|w| w.chars().next().is_some_and(char::is_uppercase) && wordlike(w))
}

#[test]
fn every_interface_text_is_in_all_three_catalogues_and_none_is_left_in_the_modules() {
    let en = catalogue("en");
    assert!(en.len() > 200, "the English catalogue has {} keys", en.len());
    for lang in ["fi", "sv"] {
        let other = catalogue(lang);
        let missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{lang}: missing {missing:?}, not in en {extra:?}");
        for (k, v) in &other {
            assert!(v.as_str().is_some_and(|s| !s.trim().is_empty()), "{lang}: {k} is empty");
            // The same placeholders in every language.
            let names = |s: &str| {
                let mut n: Vec<String> =
                    s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|x| x.0.to_owned())).collect();
                n.sort();
                n
            };
            assert_eq!(names(v.as_str().unwrap()), names(en[k].as_str().unwrap()), "{lang}: placeholders of {k}");
        }
    }
    assert!(modules().count() >= 9);
    for asset in modules() {
        let name = asset.name;
        // Every key the module asks for exists.
        for (i, _) in asset.body.match_indices("t('") {
            let before = asset.body[..i].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue; // split(', …
            }
            let key = &asset.body[i + 3..];
            let key = &key[..key.find('\'').unwrap()];
            let plural = format!("{key}.other");
            assert!(en.contains_key(key) || en.contains_key(&plural), "{name} asks for {key}, which no catalogue has");
        }
        let texts: Vec<String> = literals(asset.body).into_iter().filter(|l| reads_as_text(l)).collect();
        assert!(texts.is_empty(), "{name} has interface text outside the catalogues: {texts:?}");
    }
    // The scan finds text where there is some.
    assert!(reads_as_text("Sign in to Sitrep") && reads_as_text("Apply") && reads_as_text("no pictures match"));
    assert!(!reads_as_text("form-error") && !reads_as_text("#/board") && !reads_as_text("content-type"));
    assert!(literals("h('p', {}, `${n} shown`) // 'Not this'").contains(&" shown".to_owned()));
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The target directory this test binary was built into (`…/target/debug/deps/api-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"))
}

/// The tools the browser test needs, or why they are missing.
fn tools() -> Result<(String, PathBuf), String> {
    let chromium = std::env::var("SITREP_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!("Chromium not found at {chromium} (deploy/test installs the Debian package)"));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    for package in ["playwright-core", "axe-core"] {
        if !dir.join(format!("node_modules/{package}/package.json")).exists() {
            return Err(format!("{package} is not installed in tests/console (deploy/test runs npm ci there)"));
        }
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Ok((chromium, dir)),
        _ => Err("node not found".into()),
    }
}

/// Details in Markdown with a link, raw HTML and an image from elsewhere.
const MARKDOWN_DETAILS: &str = "**Toimi heti** (LANG): katso [ohje](https://vaalit.example/ohje).\n\n\
    <script>alert(1)</script> <img src=\"https://tracker.example/x.png\" onerror=\"alert(2)\">\n\n\
    ![kuva](https://tracker.example/y.png) [x](javascript:alert(3))";

#[tokio::test]
async fn markdown_details_are_served_as_sanitised_html_with_no_raw_html_passing() {
    let app = TestApp::spawn().await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let token = app.token(&author).await;
    let mut body = content("group", "AMBER");
    body["details"] =
        json!({"fi": MARKDOWN_DETAILS.replace("LANG", "fi"), "en": MARKDOWN_DETAILS.replace("LANG", "en")});
    let p = create(&app, &token, &body).await;
    let res = app.get(&format!("/api/v1/pictures/{}", p["id"].as_str().unwrap()), Some(&token)).await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    let fi = p["details_html"]["fi"].as_str().unwrap();
    assert!(fi.contains("<strong>Toimi heti</strong> (fi)"), "{fi}");
    assert!(fi.contains(r#"<a href="https://vaalit.example/ohje" rel="noopener noreferrer">ohje</a>"#), "{fi}");
    assert!(fi.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "raw HTML shown as text: {fi}");
    assert!(fi.contains("&lt;img src="), "the raw image tag is text: {fi}");
    for bad in ["<script", "<img", "tracker.example/y.png", "javascript:"] {
        assert!(!fi.contains(bad), "{bad} in {fi}");
    }
    assert!(p["details_html"]["en"].as_str().unwrap().contains("(en)"));
    assert!(p["details_html"].get("sv").is_none(), "no Swedish details, no Swedish rendering");
    // The Markdown itself is kept as written.
    assert_eq!(p["details"]["fi"].as_str().unwrap(), MARKDOWN_DETAILS.replace("LANG", "fi"));
}

async fn publish_through_review(app: &TestApp, author: &str, approver: &str, body: &Value) -> Value {
    let p = create(app, author, body).await;
    let id = p["id"].as_str().unwrap();
    for (token, action) in [(author, "submit"), (approver, "approve"), (approver, "publish")] {
        let res = act(app, token, id, action).await;
        assert_eq!(res.status(), 200, "{action}: {}", res.text().await.unwrap_or_default());
    }
    p
}

/// B's published pictures seeded in bulk for the board's timeline and region table.
const BULK: u32 = 650;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_end_to_end_in_headless_chromium() {
    let (chromium, dir) = match tools() {
        Ok(t) => t,
        Err(why) => {
            assert!(!ci(), "CI needs the browser test's tools: {why}");
            eprintln!("console browser test skipped: {why}");
            return;
        }
    };
    // The vendored QR module is the published one, byte for byte: the copy npm installed
    // from the lock (which pins its integrity hash).
    let published = std::fs::read_to_string(dir.join("node_modules/uqr/dist/index.mjs"))
        .expect("uqr is installed in tests/console (deploy/test runs npm ci there)");
    let vendored = sitrep_api::console::ASSETS.iter().find(|a| a.name == VENDORED).unwrap();
    assert!(vendored.body == published, "crates/api/console/uqr.js differs from the uqr the lock pins");
    // Access tokens live 8 s, so every signed-in page refreshes its tokens (rotation,
    // serialised) several times during the run.
    // Files up to 300 kB, so that the console's 413 is seen with a small file.
    let mut app = TestApp::spawn_with(|s| {
        s.auth.tokens.access_ttl_secs = 8;
        s.attachments.max_file_bytes = 300_000;
        s.attachments.max_picture_bytes = 3_000_000;
    })
    .await;
    let c = app.seed_org("ORG-C", sitrep_types::Reach::Member).await;
    app.orgs.insert("C".into(), c);
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let approver = app.seed_user("a.approver", "A", &[Role::Approver]).await;
    let approver2 = app.seed_user("a.approver2", "A", &[Role::Approver]).await;
    let b_reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let c_reader = app.seed_user("c.reader", "C", &[Role::Reader]).await;
    let r_reader = app.seed_user("r.reader", "R", &[Role::Reader]).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let auditor = app.seed_user("s.auditor", "S", &[Role::Auditor]).await;

    // Organisation A requires four eyes on every publication.
    let sec = app.token(&secretariat).await;
    let res = app
        .patch_json(&format!("/api/v1/organisations/{}/policy", app.org("A")), &sec, &json!({"require_review": true}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());

    // b.reader signs in with a second factor.
    let b_token = app.token(&b_reader).await;
    let res = app.post_json("/api/v1/me/totp", Some(&b_token), &json!({})).await;
    assert_eq!(res.status(), 201);
    let enrolment: Value = res.json().await.unwrap();
    let secret_b32 = enrolment["secret"].as_str().unwrap().to_owned();
    let secret = sitrep_auth::totp::decode_base32(&secret_b32).unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let code = sitrep_auth::totp::code_at(&secret, now).unwrap();
    let res = app.post_json("/api/v1/me/totp/confirm", Some(&b_token), &json!({"code": code})).await;
    assert_eq!(res.status(), 200);

    let a = app.token(&author).await;
    let ap = app.token(&approver).await;
    // Its details in Markdown, with raw HTML that must reach no page as markup.
    let mut group_body = content("group", "AMBER");
    group_body["details"] = json!({
        "fi": MARKDOWN_DETAILS.replace("LANG", "fi"),
        "sv": MARKDOWN_DETAILS.replace("LANG", "sv"),
        "en": MARKDOWN_DETAILS.replace("LANG", "en"),
    });
    let group = publish_through_review(&app, &a, &ap, &group_body).await;
    let mut named_body = content("named", "RED");
    named_body["named_recipients"] = json!([app.org("B")]);
    named_body["title"] = json!({"fi": "Nimetty salainen vaalikuva", "en": "Named secret ballot picture"});
    named_body["summary"] = json!({"fi": "Vain B:lle", "en": "Only for B"});
    let named = publish_through_review(&app, &a, &ap, &named_body).await;
    let ras = publish_through_review(&app, &a, &ap, &content("group_virt_ras", "AMBER")).await;
    // An immediate picture (its deadline under an hour away: a red chip, pinned first) and
    // one waiting in the review queue.
    let mut urgent_body = content("group", "GREEN");
    urgent_body["urgency"] = json!("immediate");
    urgent_body["title"] =
        json!({"fi": "Välitön vaalikuva", "sv": "Omedelbar lägesbild", "en": "Immediate election picture"});
    let urgent = publish_through_review(&app, &a, &ap, &urgent_body).await;
    // A picture for C alone whose acknowledgement is an hour overdue, on the secretariat's
    // overdue list (as metadata: the secretariat is not among its recipients).
    let mut late_body = content("named", "RED");
    late_body["named_recipients"] = json!([app.org("C")]);
    late_body["urgency"] = json!("priority");
    let late = publish_through_review(&app, &a, &ap, &late_body).await;
    let late_id: uuid::Uuid = late["id"].as_str().unwrap().parse().unwrap();
    let db = app.pool.get().await.unwrap();
    db.execute("UPDATE pictures SET published_at = now() - interval '5 hours' WHERE id = $1", &[&late_id])
        .await
        .unwrap();
    drop(db);
    // Many more published pictures than the board once read (600 a domain, 60 for the
    // regions): B's hybrid pictures of the last ten days, all in FI-VP-01, older than every
    // picture above so that the board's cards start with those. The timeline and the
    // region table must count every one.
    let group_id: uuid::Uuid = group["id"].as_str().unwrap().parse().unwrap();
    let db = app.pool.get().await.unwrap();
    db.batch_execute(&format!(
        "CREATE TEMP TABLE bulk AS SELECT md5('bulk-' || g)::uuid AS id, g, \
           now() - interval '2 hours' - ((g % 10) || ' days')::interval AS at FROM generate_series(1, {BULK}) g;
         INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp, kind, \
             is_exercise, primary_domain, domains, severity, urgency, classification, title_fi, title_en, summary_fi, \
             summary_en, created_at, updated_at, published_at) \
           SELECT b.id, 'BULK-' || b.g, '{org_b}', created_by, 'published', 1, 'group', 1, 'AMBER', 'alert', false, \
             'hybrid', ARRAY['hybrid'], 'high', 'routine', classification, 'Joukkokuva ' || b.g, 'Bulk picture ' || b.g, \
             'Havainto', 'An observation', b.at, b.at, b.at \
           FROM bulk b, pictures p WHERE p.id = '{group_id}';
         INSERT INTO picture_revisions (picture_id, revision, state, content, tier, tlp, created_by, created_at, published_at) \
           SELECT b.id, 1, 'published', r.content || jsonb_build_object('primary_domain', 'hybrid', \
               'domains', '[\"hybrid\"]'::jsonb, 'impact_on_conduct', 'significant', 'urgency', 'routine', \
               'geo_scope', 'constituency', 'geo_codes', '[\"FI-VP-01\"]'::jsonb, 'details', '{{}}'::jsonb, \
               'title', jsonb_build_object('fi', 'Joukkokuva ' || b.g, 'en', 'Bulk picture ' || b.g), \
               'summary', jsonb_build_object('fi', 'Havainto', 'en', 'An observation')), \
             'group', 'AMBER', r.created_by, b.at, b.at \
           FROM bulk b, picture_revisions r WHERE r.picture_id = '{group_id}' AND r.revision = 1;",
        org_b = app.org("B"),
    ))
    .await
    .unwrap();
    drop(db);
    // A draft the author attaches files to in the editor (then published in the browser).
    let mut attach_body = content("group", "AMBER");
    attach_body["title"] =
        json!({"fi": "Liitteellinen vaalikuva", "sv": "Lägesbild med bilagor", "en": "Picture with evidence"});
    let attach = create(&app, &a, &attach_body).await;
    let review = create(&app, &a, &content("group", "AMBER")).await;
    let res = act(&app, &a, review["id"].as_str().unwrap(), "submit").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());

    // A signed checkpoint for the auditor's chain view.
    let signer =
        sitrep_server::checkpoint::CheckpointSigner::load(&app.data_dir.join("audit/checkpoint-key.pem")).unwrap();
    signer.checkpoint(&app.pool, true).await.unwrap();

    // A newcomer whose password the secretariat set: one-time, changed in the console.
    let newcomer = crate::helpers::TestUser {
        id: uuid::Uuid::nil(),
        username: "a.newcomer".into(),
        password: "lumipallo kesällä 42".into(),
    };
    let body = json!({"username": newcomer.username, "display_name": "A Newcomer", "password": newcomer.password,
                      "organisation_id": app.org("A"), "roles": ["reader"]});
    assert_eq!(app.post_json("/api/v1/users", Some(&sec), &body).await.status(), 201);

    // A second reader of C has saved an e-mail address; the confirmation link's token
    // waits in the queue (no relay here), for the page the link opens.
    let c_token = app.token(&app.seed_user("c.mailbox", "C", &[Role::Reader]).await).await;
    let res = app
        .client
        .put(app.url("/api/v1/me/notifications"))
        .bearer_auth(&c_token)
        .json(&json!({"email": "c.reader@c.example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let db = app.pool.get().await.unwrap();
    let confirm_token: String = db
        .query_one(
            "SELECT token FROM mail_messages WHERE kind = 'confirmation' AND address = 'c.reader@c.example.org'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    drop(db);

    let artifacts = target_dir().join("console-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let user = |u: &crate::helpers::TestUser| json!({"username": u.username, "password": u.password});
    let seed = json!({
        "url": app.address,
        "users": {
            "author": user(&author), "approver": user(&approver), "approver2": user(&approver2),
            "b": user(&b_reader), "c": user(&c_reader), "r": user(&r_reader),
            "secretariat": user(&secretariat), "auditor": user(&auditor), "newcomer": user(&newcomer),
        },
        "b_totp_secret": secret_b32,
        "group": {"id": group["id"], "reference": group["reference"], "title": group["title"]},
        "named": {"id": named["id"], "reference": named["reference"], "title": named["title"]},
        "ras": {"id": ras["id"], "reference": ras["reference"]},
        "urgent": {"id": urgent["id"], "reference": urgent["reference"]},
        "late": {"id": late["id"], "reference": late["reference"]},
        "review": {"id": review["id"]},
        "attach": {"id": attach["id"], "reference": attach["reference"]},
        "c_confirm_token": confirm_token,
        "bulk": {"count": BULK, "domain": "hybrid", "area": "FI-VP-01"},
    });
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("e2e.mjs")
            .current_dir(&dir)
            .env("SITREP_TEST_CONSOLE_SEED", seed.to_string())
            .env("SITREP_TEST_CHROMIUM", chromium)
            .env("SITREP_TEST_CONSOLE_ARTIFACTS", &artifacts)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(out.status.success(), "the browser scenarios failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all console scenarios passed"));
    let shots = target_dir().join("console-artifacts");
    for shot in [
        "signin-1366.png",
        "queue-1366.png",
        "secretariat-organisations-1366.png",
        "board.png",
        "picture.png",
        "board-fi-1366.png",
        "board-sv-1366.png",
        "picture-fi-1366.png",
        "editor-attachments-1366.png",
        "picture-attachments-fi-1366.png",
        "attachments-sv-390.png",
    ] {
        let len = std::fs::metadata(shots.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "screenshot {shot} missing or empty");
    }

    // The accessibility check ran on every page and found nothing (e2e.mjs fails otherwise).
    let axe = std::fs::read_to_string(shots.join("axe-violations.txt")).unwrap_or_else(|_| "missing".into());
    assert!(axe.trim().is_empty(), "axe-core violations: {axe}");

    // The browser read only through the API: the named picture was never returned to
    // organisation C (every read of it is in the access log, none by C).
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let named_id: uuid::Uuid = named["id"].as_str().unwrap().parse().unwrap();
    let leaked: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE organisation_id = $1 AND outcome = 'allowed' \
             AND (object_id = $2 OR $3 = ANY(object_ids))",
            &[&app.org("C"), &named_id.to_string(), &named_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "organisation C was given the named picture");

    // The browser's uploads: the four files accepted, none of the refused ones (too large,
    // not its type, a stale ETag) stored; the RED file never given to organisation C.
    let attach_id: uuid::Uuid = attach["id"].as_str().unwrap().parse().unwrap();
    let stored: Vec<String> = client
        .query("SELECT file_name FROM attachments WHERE picture_id = $1 ORDER BY created_at", &[&attach_id])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, ["claim.png", "source-red.png", "notes.txt", "later.png"]);
    let red: uuid::Uuid = client
        .query_one("SELECT id FROM attachments WHERE picture_id = $1 AND file_name = 'source-red.png'", &[&attach_id])
        .await
        .unwrap()
        .get(0);
    let leaked: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE organisation_id = $1 AND outcome = 'allowed' AND object_id = $2",
            &[&app.org("C"), &red.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "organisation C was given the RED attachment");

    // The pages refreshed their tokens while they were open, never reusing a spent one.
    let refreshes: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE action = 'auth.refresh' AND outcome = 'allowed' AND actor_id = $1",
            &[&b_reader.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(refreshes >= 1, "the console refreshed b.reader's tokens");
    let reused: i64 = client
        .query_one("SELECT count(*) FROM access_log WHERE reason = 'refresh_token_reuse'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reused, 0, "a refresh token was used twice");

    // Signing out in the console revoked c.reader's session on the server, and its
    // browser never refreshed with anything but the cookie of its own page.
    let live: i64 = client
        .query_one(
            "SELECT count(*) FROM auth_sessions WHERE user_id = $1 AND revoked_at IS NULL AND absolute_expires_at > now()",
            &[&c_reader.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 0, "signing out left c.reader's session live");
    let cross_site: i64 = client
        .query_one("SELECT count(*) FROM access_log WHERE reason IN ('cross_site_fetch', 'cross_origin')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(cross_site, 0, "the console's own requests were taken for another site's");
}

/// The editor shows the TLPs each tier allows before anything is sent; its table is the
/// API's rule (`tlp_allowed`), cell by cell, so the two cannot drift apart unnoticed.
#[test]
fn the_editors_tier_and_tlp_table_is_the_apis() {
    let editor = sitrep_api::console::ASSETS.iter().find(|a| a.name == "editor.js").unwrap().body;
    let start = editor.find("export const TIER_TLPS = {").expect("the editor's table");
    let block = &editor[start..start + editor[start..].find("};").unwrap()];
    let mut seen = Vec::new();
    for line in block.lines().skip(1) {
        let (tier, tlps) = line.trim().split_once(": ").unwrap();
        let tlps: Vec<&str> =
            tlps.trim_end_matches(',').trim_matches(['[', ']']).split(", ").map(|s| s.trim_matches('\'')).collect();
        let tier = sitrep_types::Tier::ALL
            .iter()
            .find(|t| t.as_str() == tier)
            .unwrap_or_else(|| panic!("unknown tier {tier}"));
        for tlp in sitrep_types::Tlp::ALL {
            assert_eq!(
                tlps.contains(&tlp.as_str()),
                sitrep_domain::picture::tlp_allowed(*tier, *tlp),
                "the editor and the API differ on {} / TLP:{}",
                tier.as_str(),
                tlp.as_str()
            );
        }
        seen.push(*tier);
    }
    assert_eq!(seen, sitrep_types::Tier::ALL, "every tier, in the API's order");
}
