//! What the TAXII inbox tests share: a STIX envelope of a report with an indicator, a
//! DISARM technique, a malware and its creator, and posting it and reading its status.

use crate::helpers::TestApp;
use crate::helpers::taxii::ACCEPT;
use reqwest::Response;
use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_stix::tlp::marking_id;
use sitrep_types::Tlp;
use uuid::Uuid;

pub const REPORT: &str = "report--6b1f2a8c-3d4e-4f5a-9b6c-7d8e9f0a1b2c";

pub const INDICATOR: &str = "indicator--0b5a0e2c-9c1d-4c7e-8f3a-1a2b3c4d5e6f";

pub const MALWARE: &str = "malware--2d7c2a4e-1e3f-4e9a-8b5c-3c4d5e6f7081";

pub const CREATOR: &str = "identity--3e8d3b5f-2f4a-4fab-9c6d-4d5e6f708192";

pub const T0: &str = "2027-03-01T10:00:00.000Z";

pub fn inbox(app: &TestApp, org: &str) -> Uuid {
    ids::inbox(app.org(org))
}

pub async fn post_raw(app: &TestApp, token: &str, collection: Uuid, content_type: &str, body: String) -> Response {
    app.client
        .post(app.url(&format!("/taxii2/api/collections/{collection}/objects/")))
        .bearer_auth(token)
        .header("accept", ACCEPT)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn post(app: &TestApp, token: &str, collection: Uuid, envelope: &Value) -> Response {
    post_raw(app, token, collection, ACCEPT, envelope.to_string()).await
}

/// A `202` status resource.
pub async fn accepted(res: Response) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 202, "{body}");
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["status"], "complete");
    assert_eq!(s["pending_count"], 0);
    assert_eq!(
        s["total_count"].as_u64(),
        Some(s["success_count"].as_u64().unwrap() + s["failure_count"].as_u64().unwrap())
    );
    s
}

/// A TAXII error message with `status`; its `error_code`.
pub async fn refused(res: Response, status: u16) -> String {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body["error_code"].as_str().unwrap().to_owned()
}

pub fn report(modified: &str, name: &str, refs: &[&str], markings: &[&str]) -> Value {
    json!({
        "type": "report", "spec_version": "2.1", "id": REPORT, "created": T0, "modified": modified,
        "published": T0, "name": name, "description": "Text messages claim that polling stations moved.",
        "report_types": ["campaign"], "lang": "en", "object_refs": refs, "object_marking_refs": markings,
        "created_by_ref": CREATOR, "confidence": 70,
    })
}

pub fn indicator(markings: &[&str]) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": INDICATOR, "created": T0, "modified": T0,
        "name": "Fake site", "pattern": "[domain-name:value = 'vaalit-muutos.example']", "pattern_type": "stix",
        "valid_from": T0, "indicator_types": ["malicious-activity"], "object_marking_refs": markings,
    })
}

pub fn malware(markings: &[&str]) -> Value {
    json!({
        "type": "malware", "spec_version": "2.1", "id": MALWARE, "created": T0, "modified": T0,
        "name": "SMS loader", "is_family": false, "object_marking_refs": markings,
    })
}

pub fn creator() -> Value {
    json!({"type": "identity", "spec_version": "2.1", "id": CREATOR, "created": T0, "modified": T0,
           "name": "Regional CERT", "identity_class": "organization"})
}

/// A report with an indicator, a DISARM technique, a malware (a type Sitrep does not
/// map) and its creator, all under `tlp`.
pub fn envelope(tlp: Tlp) -> Value {
    let m = marking_id(tlp);
    let technique = sitrep_stix::disarm::attack_pattern("T0101", true);
    let refs = [INDICATOR, technique["id"].as_str().unwrap(), MALWARE, CREATOR];
    json!({"objects": [
        report(T0, "Fake polling station changes", &refs, &[m]),
        indicator(&[m]), technique, malware(&[m]), creator(), sitrep_stix::tlp::marking_definition(tlp),
    ]})
}

pub async fn picture(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    app.pool.get().await.unwrap().query_one(sql, &[]).await.unwrap().get(0)
}

/// The picture id a status message names (`Draft picture <uuid> …`).
pub fn draft_of(status: &Value) -> String {
    let message = status["successes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == REPORT)
        .and_then(|s| s["message"].as_str())
        .unwrap()
        .to_owned();
    message.split_whitespace().nth(2).unwrap().to_owned()
}

pub fn message_of<'a>(status: &'a Value, list: &str, id: &str) -> &'a str {
    status[list].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["message"].as_str().unwrap()
}
