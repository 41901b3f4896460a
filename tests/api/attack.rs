//! ATT&CK techniques against the pinned MITRE ATT&CK Enterprise list: an id outside it
//! is refused wherever a picture is written, and TAXII exports a listed one as MITRE's
//! own `attack-pattern`, with MITRE's identity and marking carried before it.

use serde_json::{Value, json};
use sitrep_stix::{attack, ids};
use sitrep_types::Tier;

use crate::helpers::pictures::{cast, content, create, published, revise};
use crate::helpers::taxii::taxii;
use crate::helpers::{TestApp, problem};

fn cyber(techniques: &[&str]) -> Value {
    let mut c = content("group", "AMBER");
    c["primary_domain"] = json!("cyber");
    c["domains"] = json!(["cyber"]);
    c["disarm_techniques"] = json!([]);
    c["attack_techniques"] = json!(techniques);
    c
}

/// The field error of `body` for `field`.
fn error_of<'a>(body: &'a Value, field: &str) -> &'a Value {
    body["errors"].as_array().unwrap().iter().find(|e| e["field"] == field).unwrap_or_else(|| panic!("{field}: {body}"))
}

async fn objects(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let path = format!("/taxii2/api/collections/{}/objects/?limit=1000{query}", ids::collection(Tier::Group));
    let res = taxii(app, token, &path).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body.get("objects").and_then(Value::as_array).cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_attack_id_outside_the_pinned_list_is_refused_with_a_message_naming_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    // Unknown, deprecated in ATT&CK ("Redundant Access"), and a DISARM id: none is an
    // ATT&CK Enterprise technique of the list; the listed one beside them is fine.
    for bad in ["T1999", "T1566.999", "T1108", "T0002"] {
        let res = app.post_json("/api/v1/pictures", Some(&cast.author), &cyber(&["T1566.002", bad])).await;
        let body = problem(res, 422).await;
        assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
        let e = error_of(&body, "attack_techniques[1]");
        assert_eq!(e["code"], "unknown_technique", "{bad}: {body}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains(bad), "{bad} named: {message}");
        assert!(message.contains("ATT&CK Enterprise v18.1"), "the list's version named: {message}");
    }
    // The shape is checked first, as for DISARM ids.
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &cyber(&["T15"])).await;
    assert_eq!(error_of(&problem(res, 422).await, "attack_techniques[0]")["code"], "invalid_value");

    // A revision of a published picture is held to the same list.
    let id = published(&app, &cast, &cyber(&["T1566.002"])).await;
    let res =
        revise(&app, &cast.author, &id, &json!({"attack_techniques": ["T1566.002", "T1059.001", "T9999.001"]})).await;
    let body = problem(res, 422).await;
    let e = error_of(&body, "attack_techniques[2]");
    assert_eq!(e["code"], "unknown_technique");
    assert!(e["message"].as_str().unwrap().contains("T9999.001"), "{body}");
    let picture: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(picture["attack_techniques"], json!(["T1566.002"]), "the refused revision left it as it was");
    let res = revise(&app, &cast.author, &id, &json!({"attack_techniques": ["T1566.002", "T1059.001"]})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    // A draft is checked too.
    let draft = create(&app, &cast.author, &cyber(&["T1498"])).await;
    assert_eq!(draft["attack_techniques"], json!(["T1498"]));
}

#[tokio::test]
async fn taxii_exports_a_listed_technique_as_mitres_object_with_its_creator_and_marking_carried() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    published(&app, &cast, &cyber(&["T1566.002", "T1055.011"])).await;
    let page = objects(&app, &cast.b_reader, "").await;
    let position = |id: &str| page.iter().position(|o| o["id"] == id);

    // As mitre/cti's enterprise-attack at the pinned commit has it.
    let spearphishing = "attack-pattern--2b742742-28c3-4e1b-bab7-8350d6300fa7";
    let injection = "attack-pattern--0042a9f5-f053-4769-b3ef-9ad018dfa298";
    let o = &page[position(injection).expect("T1055.011 exported under MITRE's id")];
    assert_eq!(o["name"], "Extra Window Memory Injection");
    assert_eq!(
        o["external_references"],
        json!([{"source_name": "mitre-attack", "url": "https://attack.mitre.org/techniques/T1055/011", "external_id": "T1055.011"}])
    );
    assert_eq!(
        o["kill_chain_phases"],
        json!([
            {"kill_chain_name": "mitre-attack", "phase_name": "defense-evasion"},
            {"kill_chain_name": "mitre-attack", "phase_name": "privilege-escalation"}
        ])
    );
    assert_eq!(o["created_by_ref"], attack::IDENTITY_ID);
    assert_eq!(o["object_marking_refs"], json!([attack::MARKING_ID]));
    let report = page.iter().find(|o| o["type"] == "report").unwrap();
    let refs = report["object_refs"].as_array().unwrap();
    for t in [spearphishing, injection] {
        assert!(refs.contains(&json!(t)), "the report refers to {t}");
        // MITRE's identity and marking come before the first technique that refers to them.
        let at = position(t).unwrap();
        assert!(position(attack::IDENTITY_ID).unwrap() < at && position(attack::MARKING_ID).unwrap() < at);
    }
    for o in &page {
        sitrep_stix::check(o).unwrap_or_else(|e| panic!("{e}: {o}"));
    }
    let identity = &page[position(attack::IDENTITY_ID).unwrap()];
    assert_eq!(identity["name"], "The MITRE Corporation");
    let marking = &page[position(attack::MARKING_ID).unwrap()];
    assert!(
        marking["definition"]["statement"].as_str().unwrap().starts_with("Copyright 2015-2025, The MITRE Corporation")
    );

    // `match[id]` finds the technique and MITRE's identity by their ids.
    let found = objects(&app, &cast.b_reader, &format!("&match[id]={injection},{}", attack::IDENTITY_ID)).await;
    let mut found: Vec<&str> = found.iter().map(|o| o["id"].as_str().unwrap()).collect();
    found.sort_unstable();
    assert_eq!(found, [injection, attack::IDENTITY_ID]);

    // A page that refers to no ATT&CK technique carries neither of MITRE's objects.
    let app2 = TestApp::spawn().await;
    let cast2 = crate::helpers::pictures::cast(&app2).await;
    published(&app2, &cast2, &content("group", "AMBER")).await;
    let plain = objects(&app2, &cast2.b_reader, "").await;
    assert!(plain.iter().all(|o| o["id"] != attack::IDENTITY_ID && o["id"] != attack::MARKING_ID));
}

#[tokio::test]
async fn the_techniques_reference_names_the_attack_version_and_the_ids_taxii_exports() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let res = app.get("/api/v1/techniques", Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let version = body["attack_version"].as_str().unwrap();
    assert!(version.contains("v18.1") && version.contains("421deac"), "{version}");
    let list = body["attack_techniques"].as_array().unwrap();
    assert_eq!(list.len(), 691);
    assert!(list.iter().all(|t| !t["phases"].as_array().unwrap().is_empty()));
    assert!(list.iter().all(|t| t["id"] != "T1108"), "deprecated techniques are not offered");
    let t = list.iter().find(|t| t["id"] == "T1566.002").unwrap();
    assert_eq!(
        (&t["name"], &t["phases"], &t["stix_id"]),
        (&json!("Spearphishing Link"), &json!(["initial-access"]), &json!(attack::attack_pattern_id("T1566.002")))
    );
    published(&app, &cast, &cyber(&["T1566.002"])).await;
    let page = objects(&app, &cast.b_reader, "").await;
    let exported: Vec<&Value> = page.iter().filter(|o| o["type"] == "attack-pattern").collect();
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0]["id"], t["stix_id"]);
    assert_eq!(exported[0]["external_references"][0]["external_id"], "T1566.002");
}
