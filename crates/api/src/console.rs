//! The analyst console: a static page served at `/app/` from files embedded in the
//! binary (`crates/api/console/`). It is plain JavaScript modules and CSS that call the
//! public REST API with the user's own tokens, so it adds no privileged path and needs no
//! build step (docs/console.md). The envelope gives `/app` its own strict
//! Content-Security-Policy (`meta::CSP_APP`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::ApiError;

/// One embedded file: its name under `/app/`, its media type and its bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_str!(concat!("../console/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
/// A message catalogue: the interface's texts in one language.
const CATALOGUE: &str = "application/json; charset=utf-8";

/// Every file of the console. `index.html` is served for `/app/`.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("report.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("sse.js", JS),
    asset!("ui.js", JS),
    asset!("board.js", JS),
    asset!("picture.js", JS),
    asset!("attachments.js", JS),
    asset!("editor.js", JS),
    asset!("charts.js", JS),
    asset!("timeline.js", JS),
    asset!("admin.js", JS),
    asset!("reports.js", JS),
    asset!("notifications.js", JS),
    asset!("account.js", JS),
    // Vendored, unchanged: uqr 0.1.3 (MIT; its licence is uqr.LICENSE beside it), which
    // draws the QR code of a TOTP enrolment. Tested equal to the copy the lock pins.
    asset!("uqr.js", JS),
    asset!("i18n.js", JS),
    asset!("messages-fi.json", CATALOGUE),
    asset!("messages-sv.json", CATALOGUE),
    asset!("messages-en.json", CATALOGUE),
];

/// `GET /app`: to the page with its trailing slash, so relative module paths resolve.
pub async fn redirect() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/app/")).finish()
}

/// The access log's action names, as `actions.json` (a JSON array, sorted): every action
/// of the route table and `request`, which the auditor's page offers under its action
/// field. Built from the table itself, so it cannot fall behind a new route.
pub fn action_names() -> String {
    let mut names: Vec<&str> = crate::actions::all().map(|a| a.2).chain(["request"]).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned())
}

/// The technique lists the editor's pickers search, as `techniques.json`: one entry a
/// framework, each with the version of its pinned list and its techniques (id, name,
/// tactic or tactics). Built from the same pinned lists the API checks
/// `disarm_techniques` and `attack_techniques` against, so a picker offers exactly what a
/// save accepts.
pub fn techniques() -> String {
    let disarm: Vec<serde_json::Value> = sitrep_domain::picture::disarm_techniques()
        .map(|(id, name, tactic)| serde_json::json!({ "id": id, "name": name, "tactic": tactic }))
        .collect();
    let attack: Vec<serde_json::Value> = sitrep_domain::picture::attack_techniques()
        .map(|t| serde_json::json!({ "id": t.id, "name": t.name, "tactic": t.phases().collect::<Vec<_>>().join(", ") }))
        .collect();
    serde_json::json!({
        "frameworks": [{
            "framework": "disarm",
            "field": "disarm_techniques",
            "version": sitrep_domain::picture::DISARM_VERSION,
            "techniques": disarm,
        }, {
            "framework": "attack",
            "field": "attack_techniques",
            "version": sitrep_domain::picture::ATTACK_VERSION,
            "techniques": attack,
        }],
    })
    .to_string()
}

/// `GET /app/{file}`: an embedded file, `index.html` for the folder itself, `actions.json`
/// and `techniques.json` (above); `404` for anything else. The console routes inside the
/// page with the fragment (`#/picture/…`), so the server never has to guess which paths
/// are pages.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = match file.as_str() {
        "" => "index.html",
        other => other,
    };
    if name == "actions.json" {
        return Ok(HttpResponse::Ok().content_type(CATALOGUE).body(action_names()));
    }
    if name == "techniques.json" {
        return Ok(HttpResponse::Ok().content_type(CATALOGUE).body(techniques()));
    }
    let found = ASSETS.iter().find(|a| a.name == name).ok_or_else(|| ApiError::not_found("route_not_found"))?;
    Ok(HttpResponse::Ok().content_type(found.content_type).body(found.body))
}
