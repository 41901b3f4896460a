//! What other tools make of the STIX that TAXII exports: the OASIS validator
//! (stix2-validator, strict) and MISP's converter (misp-stix). `deploy/test` installs both
//! (pinned) into a virtual environment and names its Python in `SITREP_TEST_STIX_PYTHON`;
//! without it these tests fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_types::Tier;

use crate::helpers::TestApp;
use crate::helpers::pictures::{cast, content, published};
use crate::helpers::taxii::taxii;

fn python() -> PathBuf {
    std::env::var_os("SITREP_TEST_STIX_PYTHON")
        .map(PathBuf::from)
        .expect("SITREP_TEST_STIX_PYTHON names a Python with stix2-validator and misp-stix: run deploy/test")
}

/// A group AMBER picture with DISARM and ATT&CK techniques, translations and indicators
/// of the types STIX has patterns for.
fn exported() -> Value {
    let mut c = content("group", "AMBER");
    c["domains"] = json!(["information_influence", "cyber"]);
    c["disarm_techniques"] = json!(["T0101", "T0097.206"]);
    c["attack_techniques"] = json!(["T1566.002"]);
    c["indicators"] = json!([
        {"type": "domain", "value": "vaalit-tulos.example", "tlp": "AMBER"},
        {"type": "url", "value": "https://vaalit-tulos.example/kysely?id=1", "tlp": "AMBER"},
        {"type": "ipv4", "value": "192.0.2.10", "tlp": "AMBER"},
        {"type": "file_sha256", "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "tlp": "AMBER"},
        {"type": "hashtag", "value": "#vaalivilppi2027", "tlp": "AMBER"}
    ]);
    c
}

/// Every object of the group collection as B's reader reads it, as one STIX bundle in a
/// file under the app's data folder.
async fn bundle(app: &TestApp, token: &str) -> (PathBuf, Vec<Value>) {
    bundle_of(app, token, "").await
}

/// The same, with `query` (`&match[type]=…`) added to the request.
pub(crate) async fn bundle_of(app: &TestApp, token: &str, query: &str) -> (PathBuf, Vec<Value>) {
    let path = format!("/taxii2/api/collections/{}/objects/?limit=1000{query}", ids::collection(Tier::Group));
    let res = taxii(app, token, &path).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["more"], false);
    let objects = body["objects"].as_array().unwrap().clone();
    let bundle = json!({"type": "bundle", "id": "bundle--6f7c2a43-7d1c-4b5e-9a1d-3c2b1a0f9e8d", "objects": objects});
    let file = app.data_dir.join("export.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    (file, objects)
}

/// Runs `script` with the tools' Python on `file`; its stdout.
fn run(script: &str, file: &Path) -> String {
    try_run(script, file).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `script` with the tools' Python on `file`: its stdout, or its stderr if it failed.
fn try_run(script: &str, file: &Path) -> Result<String, String> {
    let out = Command::new(python()).arg("-c").arg(script).arg(file).output().expect("run the tools' Python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() { Ok(stdout) } else { Err(format!("{}\n{stdout}", String::from_utf8_lossy(&out.stderr))) }
}

/// stix2-validator's findings on `file` as `id: message` lines, strict (warnings are
/// findings), with or without its interoperability profile.
pub(crate) fn findings(file: &Path, interop: bool) -> Vec<String> {
    let script = format!(
        r#"
import sys
from stix2validator import ValidationOptions, validate_file
# 103: ids are UUIDv5, by design; 302: an external reference's URL without a hash (a web
# page's hash changes with the page; DISARM's own bundle has none either).
options = ValidationOptions(strict=True, interop={interop}, disabled=["103", "302"])
result = validate_file(sys.argv[1], options)
for r in result.object_results:
    for e in r.errors + r.warnings:
        print(f"{{r.object_id}}: {{e.message}}")
"#,
        interop = if interop { "True" } else { "False" }
    );
    run(&script, file).lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn the_oasis_validator_in_strict_mode_finds_nothing_in_an_exported_bundle() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    published(&app, &cast, &exported()).await;
    let (file, objects) = bundle(&app, &cast.b_reader).await;
    for t in ["report", "indicator", "attack-pattern", "identity", "marking-definition", "language-content"] {
        assert!(objects.iter().any(|o| o["type"] == t), "{t} exported");
    }
    let found = findings(&file, false);
    assert!(found.is_empty(), "stix2-validator --strict:\n{}", found.join("\n"));
}

/// What MISP's converter (misp-stix, STIX 2.1 → MISP) makes of `file`: per event its
/// `info`, tags, attributes (`type value`, inside objects too), galaxy clusters and every
/// text of the event.
fn misp_events(file: &Path) -> Result<Vec<Value>, String> {
    let script = r#"
import json, sys, pathlib, tempfile
from misp_stix_converter import stix_2_to_misp
out = pathlib.Path(tempfile.mkdtemp())
result = stix_2_to_misp(sys.argv[1], output_dir=out)
if result.get("errors"):
    sys.exit("misp-stix: " + json.dumps(result["errors"]))
events = []
for f in sorted(out.iterdir()):
    d = json.loads(f.read_text())
    e = d.get("Event", d)
    attributes = list(e.get("Attribute", []))
    for o in e.get("Object", []):
        attributes.extend(o.get("Attribute", []))
    tags = [t["name"] for t in e.get("Tag", [])]
    galaxies = [c.get("value", "") + " " + " ".join(c.get("meta", {}).get("external_id", []) if isinstance(c.get("meta", {}).get("external_id"), list) else [str(c.get("meta", {}).get("external_id", ""))])
                for g in e.get("Galaxy", []) for c in g.get("GalaxyCluster", [])]
    events.append({"info": e.get("info"), "tags": tags, "attributes": [a["type"] + " " + str(a["value"]) for a in attributes],
                   "objects": [o["name"] for o in e.get("Object", [])], "galaxies": galaxies, "text": json.dumps(e, ensure_ascii=False)})
print(json.dumps(events))
"#;
    try_run(script, file).map(|out| serde_json::from_str(out.trim()).expect("the summary is JSON"))
}

#[tokio::test]
async fn misps_converter_keeps_the_report_its_indicators_and_techniques_and_only_its_markings() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    published(&app, &cast, &exported()).await;
    // misp-stix cannot load a `language-content` (the translations) and then refuses the
    // whole bundle: a MISP feed asks for the other types.
    let (whole, _) = bundle(&app, &cast.b_reader).await;
    let refused = misp_events(&whole).unwrap_err();
    assert!(refused.contains("language-content"), "{refused}");
    let types = "&match[type]=report,indicator,attack-pattern,identity,marking-definition";
    let (file, objects) = bundle_of(&app, &cast.b_reader, types).await;
    assert!(objects.iter().all(|o| o["type"] != "language-content"));
    let events = misp_events(&file).unwrap();
    let report = objects.iter().find(|o| o["type"] == "report").unwrap();
    let event = events.iter().find(|e| e["info"] == report["name"]).unwrap_or_else(|| panic!("{events:?}"));
    let attributes: Vec<&str> = event["attributes"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    for want in [
        "domain vaalit-tulos.example",
        "url https://vaalit-tulos.example/kysely?id=1",
        "ip-dst 192.0.2.10",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ] {
        assert!(attributes.contains(&want), "{want} missing from {attributes:?}");
    }
    // Techniques become galaxy clusters, named and with their ids.
    let galaxies: Vec<&str> = event["galaxies"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    for technique in ["T0101", "T0097.206", "T1566.002"] {
        assert!(galaxies.iter().any(|g| g.ends_with(technique)), "{technique} lost: {galaxies:?}");
    }
    assert!(galaxies.iter().any(|g| g.starts_with("Create Localised Content")), "{galaxies:?}");
    let tags: Vec<&str> = event["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(tags.contains(&"tlp:amber"), "{tags:?}");
    for looser_or_stricter in ["tlp:red", "tlp:amber+strict", "tlp:clear", "tlp:green"] {
        assert!(!tags.contains(&looser_or_stricter), "{looser_or_stricter} in {tags:?}");
    }
    // The originator is the one producer: no other organisation comes with the page.
    let producers: Vec<&&str> = tags.iter().filter(|t| t.starts_with("misp-galaxy:producer=")).collect();
    assert_eq!(producers.len(), 1, "{tags:?}");
    assert!(producers[0].contains("ORG-A"), "{producers:?}");
}
