//! TAXII 2.1 over HTTPS: discovery, collections per reach, objects, manifest and versions
//! with paging and filters, STIX validity, the TLP marking ids, visibility and the
//! access log.

use std::collections::HashSet;

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_types::{Role, Tier};

use crate::helpers::pictures::{Cast, act, cast, content, published, revise};
use crate::helpers::taxii::{ACCEPT, taxii};
use crate::helpers::{TestApp, request_id};

const ROOT: &str = "/taxii2/api";

/// The TLP 2.0 marking definitions of the OASIS extension, pinned.
const TLP_IDS: [(&str, &str); 5] = [
    ("TLP:CLEAR", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"),
    ("TLP:GREEN", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"),
    ("TLP:AMBER", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"),
    ("TLP:AMBER+STRICT", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"),
    ("TLP:RED", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
];

/// A `200` TAXII response: its body and headers.
async fn ok(app: &TestApp, token: &str, path: &str) -> (Value, reqwest::header::HeaderMap) {
    let res = taxii(app, token, path).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(headers["content-type"], ACCEPT);
    (serde_json::from_str(&body).unwrap(), headers)
}

/// A TAXII error message with `status`.
async fn error(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], ACCEPT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["http_status"], status.to_string());
    assert!(body["title"].is_string() && body["error_id"].is_string() && body["error_code"].is_string(), "{body}");
    body
}

fn collection_path(tier: Tier) -> String {
    format!("{ROOT}/collections/{}/", ids::collection(tier))
}

/// Every item of every page of `path` (which has a `?`), following `next`; checks that
/// pages follow each other in ascending `date_added` and that empty pages leave `key` out.
async fn all_pages(app: &TestApp, token: &str, path: &str, key: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut next: Option<String> = None;
    let mut previous_last = String::new();
    for _ in 0..1000 {
        let url = match &next {
            Some(n) => format!("{path}&next={n}"),
            None => path.to_owned(),
        };
        let (body, headers) = ok(app, token, &url).await;
        if let Some(items) = body.get(key).map(|o| o.as_array().unwrap().clone()) {
            assert!(!items.is_empty(), "an empty page leaves {key} out");
            let first = headers["x-taxii-date-added-first"].to_str().unwrap().to_owned();
            let last = headers["x-taxii-date-added-last"].to_str().unwrap().to_owned();
            assert_eq!(first.len(), "2027-01-01T00:00:00.000000Z".len(), "microseconds: {first}");
            assert!(previous_last <= first && first <= last, "ascending date_added");
            for item in &items {
                if let Some(d) = item.get("date_added").and_then(Value::as_str) {
                    assert!(first.as_str() <= d && d <= last.as_str());
                }
            }
            previous_last = last;
            out.extend(items);
        } else {
            assert!(!headers.contains_key("x-taxii-date-added-first"));
        }
        match (body["more"].as_bool().unwrap(), body.get("next")) {
            (true, Some(n)) => next = Some(n.as_str().unwrap().to_owned()),
            (false, None) => return out,
            other => panic!("more and next disagree: {other:?}"),
        }
    }
    panic!("paging did not end");
}

fn type_of(o: &Value) -> &str {
    o["type"].as_str().unwrap()
}

/// An object a page carries because its other objects refer to it.
fn carried_type(o: &Value) -> bool {
    matches!(type_of(o), "identity" | "marking-definition" | "attack-pattern")
}

/// The collection's own objects of `items`, without what pages carry.
fn own(items: &[Value]) -> Vec<Value> {
    items.iter().filter(|o| !carried_type(o)).cloned().collect()
}

/// Every page of `path` (which has a `?`): checks that each carries exactly the
/// identities, marking definitions and techniques its other objects refer to, each once
/// and before the first object that refers to it.
async fn pages_carry_what_they_refer_to(app: &TestApp, token: &str, path: &str) -> usize {
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = next.as_ref().map_or_else(|| path.to_owned(), |n| format!("{path}&next={n}"));
        let (body, _) = ok(app, token, &url).await;
        pages += 1;
        let objects = body.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut seen: Vec<&str> = Vec::new();
        let mut referred: HashSet<&str> = HashSet::new();
        for o in &objects {
            let id = o["id"].as_str().unwrap();
            assert!(!seen.contains(&id), "{id} twice in one page");
            let techniques = o["object_refs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r.as_str().unwrap().starts_with("attack-pattern--"));
            let refs = o
                .get("created_by_ref")
                .into_iter()
                .chain(o["object_marking_refs"].as_array().into_iter().flatten())
                .chain(techniques);
            for r in refs.map(|r| r.as_str().unwrap()).filter(|r| *r != id) {
                assert!(seen.contains(&r), "{id} refers to {r}, which the page has not carried before it");
                referred.insert(r);
            }
            seen.push(id);
        }
        let carried: HashSet<&str> =
            objects.iter().filter(|o| carried_type(o)).map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(carried, referred, "a page carries only what its objects refer to");
        match body.get("next") {
            Some(n) => next = Some(n.as_str().unwrap().to_owned()),
            None => return pages,
        }
    }
}

/// A group AMBER picture with techniques, translations and two indicators, one of them
/// AMBER+STRICT.
fn rich(tier: &str, tlp: &str) -> Value {
    let mut c = content(tier, tlp);
    c["indicators"] = json!([
        {"type": "domain", "value": "vaalit-tulos.example", "tlp": tlp},
        {"type": "url", "value": "https://strict.example/only-members", "tlp": "AMBER+STRICT"},
        {"type": "hashtag", "value": "#vaalit2027", "tlp": tlp}
    ]);
    c
}

async fn revise_title(app: &TestApp, cast: &Cast, id: &str, en: &str) {
    let title = json!({"title": {"fi": "Uusi otsikko", "sv": "Ny rubrik", "en": en}});
    let res = revise(app, &cast.approver, id, &title).await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert!(p["pending_revision"].is_null(), "an approver's plain edit is in force at once: {p}");
}

#[tokio::test]
async fn discovery_and_the_api_root_answer_in_taxii_2_1() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let res = taxii(&app, &cast.b_reader, "/taxii2/").await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("taxii.discovery", "allowed"));
    assert_eq!(res.headers()["content-type"], ACCEPT);
    let d: Value = res.json().await.unwrap();
    let root = format!("{}/taxii2/api/", app.address);
    assert_eq!(d["api_roots"], json!([root]));
    assert_eq!(d["default"], root);
    let (r, _) = ok(&app, &cast.b_reader, "/taxii2/api/").await;
    assert_eq!(r["versions"], json!([ACCEPT]));
    assert!(r["max_content_length"].is_u64());

    // Credentials are required, as for the REST API; the answer is a TAXII error.
    let res = app.client.get(app.url("/taxii2/")).header("accept", ACCEPT).send().await.unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    let id = request_id(&res);
    error(res, 401).await;
    let record = app.audit_of_id(&id).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("taxii.discovery", "denied"));
}

#[tokio::test]
async fn without_the_taxii_2_1_accept_header_every_endpoint_is_406() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let group = collection_path(Tier::Group);
    for path in ["/taxii2/".to_owned(), "/taxii2/api/collections/".to_owned(), format!("{group}objects/")] {
        for accept in
            [None, Some("application/json"), Some("application/taxii+json;version=2.0"), Some("application/taxii+json")]
        {
            let mut req = app.client.get(app.url(&path)).bearer_auth(&cast.b_reader);
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            let res = req.send().await.unwrap();
            let id = request_id(&res);
            assert_eq!(error(res, 406).await["error_code"], "not_acceptable", "{path} {accept:?}");
            assert_eq!(app.audit_of_id(&id).await.http_status, 406);
        }
    }
}

#[tokio::test]
async fn collections_are_the_tiers_each_reach_reads() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let secretariat = app.seed_user("sec.only", "S", &[Role::Secretariat]).await;
    let secretariat_reader = app.seed_user("sec.reader", "S", &[Role::Secretariat, Role::Reader]).await;
    let auditor = app.seed_user("aud", "S", &[Role::Auditor]).await;
    let all = ["named", "group", "group_virt", "group_virt_ras", "public"];
    let cases = [
        (cast.b_reader.clone(), all.to_vec()),
        (cast.v_reader.clone(), vec!["named", "group_virt", "group_virt_ras", "public"]),
        (cast.r_reader.clone(), vec!["named", "group_virt_ras", "public"]),
        (app.token(&secretariat_reader).await, all.to_vec()),
        (app.token(&secretariat).await, vec![]),
        (app.token(&auditor).await, vec![]),
    ];
    for (token, expected) in cases {
        let (body, _) = ok(&app, &token, "/taxii2/api/collections/").await;
        let got: Vec<&str> = body
            .get("collections")
            .map(|c| c.as_array().unwrap().iter().map(|c| c["alias"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(got, expected);
        if expected.is_empty() {
            assert_eq!(body, json!({}), "no collections: the list is left out");
        }
        for c in body.get("collections").and_then(Value::as_array).into_iter().flatten() {
            let tier = Tier::parse(c["alias"].as_str().unwrap()).unwrap();
            assert_eq!(c["id"], ids::collection(tier).to_string());
            assert_eq!((c["can_read"].as_bool(), c["can_write"].as_bool()), (Some(true), Some(false)));
            assert_eq!(c["media_types"], json!(["application/stix+json;version=2.1"]));
            let (one, _) = ok(&app, &token, &collection_path(tier)).await;
            assert_eq!(&one, c);
        }
        for tier in Tier::ALL.iter().filter(|t| !expected.contains(&t.as_str())) {
            let res = taxii(&app, &token, &collection_path(*tier)).await;
            let id = request_id(&res);
            assert_eq!(error(res, 404).await["error_code"], "collection_not_found");
            let res = taxii(&app, &token, &format!("{}objects/", collection_path(*tier))).await;
            error(res, 404).await;
            let record = app.audit_of_id(&id).await;
            assert_eq!((record.action.as_str(), record.outcome.as_str()), ("taxii.collection", "denied"));
        }
    }
}

#[tokio::test]
async fn objects_are_valid_stix_2_1_with_the_pinned_tlp_markings() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &rich("group", "AMBER")).await;
    let picture: uuid::Uuid = id.parse().unwrap();
    let path = format!("{}objects/?limit=1000", collection_path(Tier::Group));
    let (body, headers) = ok(&app, &cast.b_reader, &path).await;
    assert_eq!(body["more"], false);
    assert!(body.get("next").is_none());
    assert!(headers.contains_key("x-taxii-date-added-first"));
    let objects = body["objects"].as_array().unwrap();
    for o in objects {
        sitrep_stix::check(o).unwrap_or_else(|e| panic!("{e}: {o}"));
        let created = o["created"].as_str().unwrap();
        // Sitrep's own objects have milliseconds; DISARM's keep their microseconds.
        assert!(created.len() >= "2027-01-01T00:00:00.000Z".len(), "millisecond precision: {created}");
    }
    let types: HashSet<&str> = objects.iter().map(type_of).collect();
    for t in ["report", "attack-pattern", "indicator", "language-content", "identity", "marking-definition"] {
        assert!(types.contains(t), "{t} missing");
    }
    // The page carries the markings and identities its objects refer to, and no others.
    let carried: HashSet<&str> = objects
        .iter()
        .filter(|o| matches!(type_of(o), "identity" | "marking-definition"))
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    let disarm_identity = sitrep_stix::disarm::identity()["id"].as_str().unwrap();
    let disarm_marking = sitrep_stix::disarm::marking()["id"].as_str().unwrap();
    assert_eq!(
        carried,
        HashSet::from([
            TLP_IDS[2].1,
            TLP_IDS[3].1,
            ids::identity(app.org("A")).as_str(),
            disarm_identity,
            disarm_marking
        ])
    );
    // Every TLP marking definition is there by id.
    let all: Vec<&str> = TLP_IDS.iter().map(|(_, id)| *id).collect();
    let (by_id, _) = ok(&app, &cast.b_reader, &format!("{path}&match[id]={}", all.join(","))).await;
    let markings = by_id["objects"].as_array().unwrap();
    assert_eq!(markings.len(), 5);
    for (name, marking) in TLP_IDS {
        let m = markings.iter().find(|o| o["id"] == marking).unwrap_or_else(|| panic!("{marking}"));
        sitrep_stix::check(m).unwrap();
        assert_eq!(m["name"], name);
        assert_eq!(m["created"], "2022-10-01T00:00:00.000Z");
        assert_eq!(
            m["extensions"]["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"]["tlp_2_0"],
            name.trim_start_matches("TLP:").to_ascii_lowercase()
        );
    }
    let report = objects.iter().find(|o| type_of(o) == "report").unwrap();
    assert_eq!(report["id"], ids::report(picture));
    assert_eq!(report["object_marking_refs"], json!(["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]));
    assert_eq!(report["confidence"], 70, "credibility 2");
    assert_eq!(report["created_by_ref"], ids::identity(app.org("A")));
    assert!(report["name"].as_str().unwrap().starts_with("VTY-"));
    let refs: HashSet<&str> = report["object_refs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    for o in objects.iter().filter(|o| matches!(type_of(o), "attack-pattern" | "indicator")) {
        assert!(refs.contains(o["id"].as_str().unwrap()));
    }
    let strict =
        objects.iter().find(|o| o["pattern"] == "[url:value = 'https://strict.example/only-members']").unwrap();
    assert_eq!(strict["object_marking_refs"], json!(["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"]));
    // A DISARM technique is DISARM's own object, with its creator and licence marking.
    let disarm = objects.iter().find(|o| o["external_references"][0]["external_id"] == "T0101").unwrap();
    assert_eq!(disarm["id"], sitrep_stix::disarm::attack_pattern_id("T0101", true));
    assert_eq!(disarm["external_references"][0]["source_name"], "mitre-attack");
    assert_eq!(disarm["kill_chain_phases"][0]["kill_chain_name"], "mitre-attack");
    assert!(refs.contains(disarm["id"].as_str().unwrap()));
    let lc = objects.iter().find(|o| type_of(o) == "language-content").unwrap();
    assert_eq!(lc["object_ref"], report["id"]);
    assert!(lc["contents"]["en"]["name"].as_str().unwrap().contains("SMS"));
    let org_a = objects.iter().find(|o| o["id"] == ids::identity(app.org("A"))).unwrap();
    assert_eq!(org_a["identity_class"], "organization");
}

#[tokio::test]
async fn objects_and_manifest_page_through_many_objects_sharing_one_date_added() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut pictures = Vec::new();
    for _ in 0..8 {
        pictures.push(published(&app, &cast, &rich("group", "AMBER")).await);
    }
    // Every version added at the same instant, as a bulk load would.
    let client = app.pool.get().await.unwrap();
    client
        .execute("UPDATE pictures SET stix_added = '2027-03-01T12:00:00.123456Z' WHERE stix_added IS NOT NULL", &[])
        .await
        .unwrap();
    client
        .execute(
            "UPDATE picture_revisions SET published_at = '2027-03-01T12:00:00.123456Z' WHERE published_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap();

    let base = collection_path(Tier::Group);
    let (whole, _) = ok(&app, &cast.b_reader, &format!("{base}objects/?limit=1000")).await;
    let whole: Vec<Value> = whole["objects"].as_array().unwrap().clone();
    assert!(whole.len() > 30, "{}", whole.len());
    // Identities and markings come with each page whose objects refer to them: the
    // collection's own objects are each there once, in the same order.
    for limit in [1, 7, 13] {
        let objects = all_pages(&app, &cast.b_reader, &format!("{base}objects/?limit={limit}"), "objects").await;
        assert_eq!(own(&objects), own(&whole), "limit {limit}: every object once, in the same order");
        let manifest = all_pages(&app, &cast.b_reader, &format!("{base}manifest/?limit={limit}"), "objects").await;
        let ids: Vec<&str> = manifest.iter().map(|m| m["id"].as_str().unwrap()).collect();
        let expected: Vec<&str> = objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected);
        let added: Vec<&str> = manifest.iter().map(|m| m["date_added"].as_str().unwrap()).collect();
        assert!(added.windows(2).all(|w| w[0] <= w[1]), "ascending date_added");
        for (m, o) in manifest.iter().zip(&objects) {
            assert_eq!(m["media_type"], "application/stix+json;version=2.1");
            assert_eq!(m["version"], o.get("modified").unwrap_or(&o["created"]).clone());
        }
    }
    for limit in [1, 3, 7, 1000] {
        let path = format!("{base}objects/?limit={limit}");
        let pages = pages_carry_what_they_refer_to(&app, &cast.b_reader, &path).await;
        assert!(limit == 1000 || pages > 1);
    }
    let shared: Vec<&Value> = whole.iter().filter(|o| type_of(o) == "report").collect();
    assert_eq!(shared.len(), 8);

    // added_after is strictly later; a `next` belongs to its user and its request.
    let (later, _) = ok(&app, &cast.b_reader, &format!("{base}objects/?added_after=2027-03-01T12:00:00.123456Z")).await;
    assert_eq!(later, json!({"more": false}));
    let (earlier, _) =
        ok(&app, &cast.b_reader, &format!("{base}objects/?added_after=2027-03-01T12:00:00.123455Z&match[type]=report"))
            .await;
    assert_eq!(earlier["objects"].as_array().unwrap().len(), 8);
    let (first, _) = ok(&app, &cast.b_reader, &format!("{base}objects/?limit=2")).await;
    let next = first["next"].as_str().unwrap();
    let res =
        taxii(&app, &cast.v_reader, &format!("{}objects/?limit=2&next={next}", collection_path(Tier::GroupVirt))).await;
    assert_eq!(error(res, 400).await["error_code"], "invalid_next");
    let b2 = app.seed_user("b.reader2", "B", &[Role::Reader]).await;
    let res = taxii(&app, &app.token(&b2).await, &format!("{base}objects/?limit=2&next={next}")).await;
    error(res, 400).await;
    let res = taxii(&app, &cast.b_reader, &format!("{base}objects/?limit=2&match[type]=report&next={next}")).await;
    error(res, 400).await;
    let res = taxii(&app, &cast.b_reader, &format!("{base}objects/?limit=0")).await;
    error(res, 400).await;
    let res = taxii(&app, &cast.b_reader, &format!("{base}objects/?colour=blue")).await;
    error(res, 400).await;
}

#[tokio::test]
async fn match_filters_select_ids_types_versions_and_spec_versions() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &rich("group", "AMBER")).await;
    let other = published(&app, &cast, &content("group", "AMBER")).await;
    revise_title(&app, &cast, &id, "Second version").await;
    let report = ids::report(id.parse().unwrap());
    let base = collection_path(Tier::Group);
    let get = |q: String| {
        let app = &app;
        let token = cast.b_reader.clone();
        let path = format!("{base}{q}");
        async move { ok(app, &token, &path).await.0 }
    };

    let reports = get("objects/?match[type]=report".into()).await;
    let reports = reports["objects"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|o| type_of(o) == "report"));
    let newest = reports.iter().find(|o| o["id"] == report).unwrap();
    assert!(newest["name"].as_str().unwrap().ends_with("Uusi otsikko"));

    let two = get("objects/?match[type]=indicator,identity".into()).await;
    let types: HashSet<&str> = two["objects"].as_array().unwrap().iter().map(type_of).collect();
    assert_eq!(types, HashSet::from(["indicator", "identity"]));

    let one = get(format!("objects/?match[id]={report}")).await;
    assert_eq!(one["objects"].as_array().unwrap().len(), 1);
    let all = get(format!("objects/?match[id]={report}&match[version]=all")).await;
    let versions: Vec<&str> =
        all["objects"].as_array().unwrap().iter().map(|o| o["modified"].as_str().unwrap()).collect();
    assert_eq!(versions.len(), 2);
    assert!(versions[0] < versions[1]);
    let first = get(format!("objects/?match[id]={report}&match[version]=first")).await;
    assert_eq!(first["objects"][0]["modified"], versions[0]);
    let at = get(format!("objects/?match[id]={report}&match[version]={}", versions[0])).await;
    assert_eq!(at["objects"].as_array().unwrap().len(), 1);
    assert_eq!(at["objects"][0]["modified"], versions[0]);
    let both =
        get(format!("objects/?match[id]={report},{}&match[version]=all", ids::report(other.parse().unwrap()))).await;
    assert_eq!(both["objects"].as_array().unwrap().len(), 3);

    let none = get("objects/?match[spec_version]=2.0".into()).await;
    assert_eq!(none, json!({"more": false}), "an empty page leaves objects out");
    let some = get("manifest/?match[spec_version]=2.0,2.1&match[type]=report".into()).await;
    assert_eq!(some["objects"].as_array().unwrap().len(), 2);

    let (obj, _) = ok(&app, &cast.b_reader, &format!("{base}objects/{report}/")).await;
    assert_eq!(obj["objects"].as_array().unwrap().len(), 1);
    assert_eq!(obj["objects"][0]["modified"], versions[1]);
    let (vers, headers) = ok(&app, &cast.b_reader, &format!("{base}objects/{report}/versions/")).await;
    assert_eq!(vers["versions"], json!(versions));
    assert!(headers.contains_key("x-taxii-date-added-last"));
    let (vers, _) = ok(&app, &cast.b_reader, &format!("{base}objects/{report}/versions/?limit=1")).await;
    assert_eq!((vers["versions"].as_array().unwrap().len(), vers["more"].as_bool()), (1, Some(true)));

    // Withdrawn: a revoked version of the report.
    let res = act(&app, &cast.approver, &id, "withdraw").await;
    assert_eq!(res.status(), 200);
    let (obj, _) = ok(&app, &cast.b_reader, &format!("{base}objects/{report}/")).await;
    assert_eq!(obj["objects"][0]["revoked"], true);
    sitrep_stix::check(&obj["objects"][0]).unwrap();
    let (vers, _) = ok(&app, &cast.b_reader, &format!("{base}objects/{report}/versions/")).await;
    assert_eq!(vers["versions"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_picture_or_indicator_the_caller_may_not_see_is_absent_from_every_taxii_response() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut named = rich("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    named["indicators"] = json!([{"type": "domain", "value": "named-only.example", "tlp": "RED"}]);
    let secret = published(&app, &cast, &named).await;
    let wide = published(&app, &cast, &rich("group_virt_ras", "GREEN")).await;
    let draft = crate::helpers::pictures::create(&app, &cast.author, &rich("public", "CLEAR")).await;
    let secret_report = ids::report(secret.parse().unwrap());
    let strict = ids::indicator(wide.parse().unwrap(), "url", "https://strict.example/only-members");

    // B is named: it reads the named picture; V does not.
    let named_path = collection_path(Tier::Named);
    let (b, _) = ok(&app, &cast.b_reader, &format!("{named_path}objects/")).await;
    assert!(b["objects"].as_array().unwrap().iter().any(|o| o["id"] == secret_report));
    assert_eq!(taxii(&app, &cast.v_reader, &format!("{named_path}objects/{secret_report}/")).await.status(), 404);

    // The RAS contact point reads the wide picture without its AMBER+STRICT indicator.
    let ras = collection_path(Tier::GroupVirtRas);
    let res = taxii(&app, &cast.r_reader, &format!("{ras}objects/")).await;
    let id = request_id(&res);
    let text = res.text().await.unwrap();
    assert!(!text.contains("only-members") && !text.contains(&strict));
    let record = app.audit_of_id(&id).await;
    assert_eq!(record.action, "taxii.objects");
    assert!(record.reason.as_deref().unwrap().contains("indicators_redacted:1"), "{record:?}");
    assert_eq!(record.object_ids, Some(vec![wide.parse().unwrap()]));
    let res = taxii(&app, &cast.r_reader, &format!("{ras}objects/{strict}/")).await;
    error(res, 404).await;
    let (b_view, _) = ok(&app, &cast.b_reader, &format!("{ras}objects/{strict}/")).await;
    assert_eq!(b_view["objects"][0]["id"], strict);

    // AMBER+STRICT reaches Election-VIRT but not the RAS contact point.
    for (token, strict_hidden) in [(&cast.v_reader, false), (&cast.r_reader, true)] {
        let (cols, _) = ok(&app, token, "/taxii2/api/collections/").await;
        for c in cols["collections"].as_array().unwrap() {
            let base = format!("{ROOT}/collections/{}/", c["id"].as_str().unwrap());
            for q in [
                "objects/?limit=1000&match[version]=all".to_owned(),
                "manifest/?limit=1000".to_owned(),
                format!("objects/?match[id]={secret_report}"),
                format!("objects/?match[id]={strict}"),
                format!("manifest/?match[id]={secret_report},{strict}&match[version]=all"),
            ] {
                let res = taxii(&app, token, &format!("{base}{q}")).await;
                assert_eq!(res.status(), 200);
                let text = res.text().await.unwrap();
                for hidden in [&secret, &secret_report, &"named-only".to_owned()] {
                    assert!(!text.contains(hidden.as_str()), "{q} shows {hidden}");
                }
                if strict_hidden {
                    assert!(!text.contains(&strict) && !text.contains("only-members"), "{q} shows the indicator");
                }
                assert!(!text.contains(draft["id"].as_str().unwrap()));
            }
            for q in [format!("objects/{secret_report}/"), format!("objects/{secret_report}/versions/")] {
                error(taxii(&app, token, &format!("{base}{q}")).await, 404).await;
            }
        }
    }
    // Drafts are not exported, not even to their originator.
    let (mine, _) = ok(&app, &cast.author, &format!("{}objects/", collection_path(Tier::Public))).await;
    assert!(mine.get("objects").is_none_or(|o| o.as_array().unwrap().iter().all(|o| type_of(o) != "report")));
}

#[tokio::test]
async fn tier_collections_are_read_only_and_every_url_ends_with_a_slash() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let base = collection_path(Tier::Group);
    let res = app
        .client
        .post(app.url(&format!("{base}objects/")))
        .bearer_auth(&cast.b_reader)
        .header("accept", ACCEPT)
        .header("content-type", ACCEPT)
        .body(r#"{"objects": []}"#)
        .send()
        .await
        .unwrap();
    // Only the organisation's inbox takes objects: a tier collection is read-only.
    assert_eq!(error(res, 403).await["error_code"], "collection_not_writable");
    let report = ids::report(uuid::Uuid::new_v4());
    let res = app
        .client
        .delete(app.url(&format!("{base}objects/{report}/")))
        .bearer_auth(&cast.b_reader)
        .header("accept", ACCEPT)
        .send()
        .await
        .unwrap();
    error(res, 405).await;
    for path in ["/taxii2", "/taxii2/api", "/taxii2/api/collections", &format!("{}objects", base)] {
        let res = taxii(&app, &cast.b_reader, path).await;
        assert_eq!(error(res, 404).await["error_code"], "route_not_found", "{path}");
    }
    error(taxii(&app, &cast.b_reader, &format!("{base}objects/not-an-id/")).await, 404).await;
    error(taxii(&app, &cast.b_reader, &format!("{ROOT}/collections/not-a-uuid/")).await, 404).await;
}

#[tokio::test]
async fn every_taxii_read_is_in_the_access_log() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &rich("group", "AMBER")).await;
    let base = collection_path(Tier::Group);
    let report = ids::report(id.parse().unwrap());
    for (path, action) in [
        ("/taxii2/api/".to_owned(), "taxii.api_root"),
        ("/taxii2/api/collections/".to_owned(), "taxii.collections"),
        (base.clone(), "taxii.collection"),
        (format!("{base}objects/"), "taxii.objects"),
        (format!("{base}manifest/"), "taxii.manifest"),
        (format!("{base}objects/{report}/"), "taxii.object"),
        (format!("{base}objects/{report}/versions/"), "taxii.versions"),
    ] {
        let res = taxii(&app, &cast.b_reader, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        let record = app.audit_of(&res).await;
        assert_eq!((record.action.as_str(), record.outcome.as_str()), (action, "allowed"), "{path}");
        assert_eq!(record.organisation_id, Some(app.org("B")));
        if action.starts_with("taxii.o") || action == "taxii.manifest" || action == "taxii.versions" {
            assert_eq!(record.object_ids, Some(vec![id.parse().unwrap()]), "{path}");
        }
    }
}

#[tokio::test]
async fn a_narrowed_picture_leaves_the_wider_collection_at_once_and_joins_the_narrower_one() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &rich("group_virt", "AMBER")).await;
    let report = ids::report(id.parse().unwrap());
    let virt = collection_path(Tier::GroupVirt);
    let (before, _) = ok(&app, &cast.v_reader, &format!("{virt}objects/{report}/")).await;
    let added_before = before["objects"][0]["modified"].as_str().unwrap().to_owned();

    let res = revise(&app, &cast.author, &id, &json!({"tier": "group"})).await;
    assert_eq!(res.status(), 200);

    error(taxii(&app, &cast.v_reader, &format!("{virt}objects/{report}/")).await, 404).await;
    let (v_all, _) = ok(&app, &cast.v_reader, &format!("{virt}manifest/?match[version]=all")).await;
    assert!(!v_all.to_string().contains(&report));
    let (b_virt, _) = ok(&app, &cast.b_reader, &format!("{virt}manifest/")).await;
    assert!(!b_virt.to_string().contains(&report), "the picture is in one collection: its tier now");
    let group = collection_path(Tier::Group);
    let (b, headers) = ok(&app, &cast.b_reader, &format!("{group}objects/{report}/?match[version]=all")).await;
    let versions: Vec<&str> =
        b["objects"].as_array().unwrap().iter().map(|o| o["modified"].as_str().unwrap()).collect();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0], added_before);
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let last = headers["x-taxii-date-added-last"].to_str().unwrap();
    assert!(at(last) > at(&added_before), "the narrowing is a later version: {last}");
}

#[tokio::test]
async fn a_next_from_one_server_process_pages_on_at_another() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    for _ in 0..3 {
        published(&app, &cast, &rich("group", "AMBER")).await;
    }
    let base = collection_path(Tier::Group);
    let whole = all_pages(&app, &cast.b_reader, &format!("{base}objects/?limit=1000"), "objects").await;
    // A second server on the same database, with signing keys of its own (so the reader
    // logs in there) and the deployment's seal key, from which the cursor key is derived:
    // `next` is all it needs.
    let seal = app.data_dir.join("secrets/totp-seal.key");
    let mut other = TestApp::spawn_on(&app.db_url, move |s| s.auth.totp_seal_key_file = Some(seal)).await;
    other.orgs = app.orgs.clone();
    let b = other.seed_user("b.other", "B", &[sitrep_types::Role::Reader]).await;
    let b_there = other.token(&b).await;
    let b_here = app.token(&b).await;
    let (first, _) = ok(&app, &b_here, &format!("{base}objects/?limit=5")).await;
    let mut paged = first["objects"].as_array().unwrap().clone();
    let mut next = first["next"].as_str().map(str::to_owned);
    while let Some(n) = next {
        let (page, _) = ok(&other, &b_there, &format!("{base}objects/?limit=5&next={n}")).await;
        paged.extend(page["objects"].as_array().unwrap().iter().cloned());
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(own(&paged), own(&whole), "every object once, in order, across the two processes");
}

#[tokio::test]
async fn added_after_the_exact_date_added_of_a_version_leaves_that_version_out() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let first = published(&app, &cast, &rich("group", "AMBER")).await;
    let second = published(&app, &cast, &rich("group", "AMBER")).await;
    // The two pictures' versions a microsecond apart.
    let client = app.pool.get().await.unwrap();
    for (picture, at) in [(&first, "2027-03-01T12:00:00.123456Z"), (&second, "2027-03-01T12:00:00.123457Z")] {
        let id: uuid::Uuid = picture.parse().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&chrono::Utc);
        client.execute("UPDATE pictures SET stix_added = $2 WHERE id = $1", &[&id, &at]).await.unwrap();
        client
            .execute("UPDATE picture_revisions SET published_at = $2 WHERE picture_id = $1", &[&id, &at])
            .await
            .unwrap();
    }
    let (first, second) = (ids::report(first.parse().unwrap()), ids::report(second.parse().unwrap()));
    let base = collection_path(Tier::Group);
    let reports = |q: String| {
        let (app, token, base) = (&app, cast.b_reader.clone(), base.clone());
        async move {
            let (body, headers) = ok(app, &token, &format!("{base}{q}")).await;
            let ids: Vec<String> = body
                .get("objects")
                .map(|o| o.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            let last = headers.get("x-taxii-date-added-last").map(|h| h.to_str().unwrap().to_owned());
            (ids, last)
        }
    };
    for endpoint in ["objects", "manifest"] {
        for version in ["last", "all"] {
            let q =
                |after: &str| format!("{endpoint}/?match[type]=report&match[version]={version}&added_after={after}");
            let (all, last) = reports(q("2027-03-01T12:00:00.123455Z")).await;
            assert_eq!(all, [first.clone(), second.clone()], "{endpoint} {version}");
            assert_eq!(last.as_deref(), Some("2027-03-01T12:00:00.123457Z"));
            // The first version's own date_added: strictly after leaves it out.
            let (after_first, _) = reports(q("2027-03-01T12:00:00.123456Z")).await;
            assert_eq!(after_first, std::slice::from_ref(&second), "{endpoint} {version}: added_after is exclusive");
            // The same instant written with nanoseconds and with an offset.
            let (same, _) = reports(q("2027-03-01T14:00:00.123456000%2B02:00")).await;
            assert_eq!(same, std::slice::from_ref(&second), "{endpoint} {version}");
            // Paging on with the last page's X-TAXII-Date-Added-Last repeats nothing.
            let (none, last) = reports(q("2027-03-01T12:00:00.123457Z")).await;
            assert!(none.is_empty() && last.is_none(), "{endpoint} {version}: {none:?}");
            // Between the two instants: only the later one.
            let (between, _) = reports(q("2027-03-01T12:00:00.1234565Z")).await;
            assert_eq!(between, std::slice::from_ref(&second), "{endpoint} {version}");
        }
    }
}

#[tokio::test]
async fn the_techniques_reference_names_the_pinned_disarm_versions_and_the_ids_taxii_exports() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    assert_eq!(app.get("/api/v1/techniques", None).await.status(), 401);
    let res = app.get("/api/v1/techniques", Some(&cast.b_reader)).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("technique.list", "allowed"));
    let body: Value = res.json().await.unwrap();
    assert!(body["disarm_version"].as_str().unwrap().contains("49df5f6"), "{}", body["disarm_version"]);
    assert!(body["disarm_stix_bundle"].as_str().unwrap().contains("837b212"));
    assert_eq!(body["disarm_stix_bundle_version"], "DISARM Red framework 1.3");
    let techniques = body["techniques"].as_array().unwrap();
    assert_eq!(techniques.len(), 391);
    let t0002 = techniques.iter().find(|t| t["id"] == "T0002").unwrap();
    assert_eq!(
        (&t0002["stix_id"], &t0002["phase"], &t0002["in_stix_bundle"]),
        (&json!("attack-pattern--70717452-f7e3-4ce8-956f-39a4d34c5cfb"), &json!("plan-objectives"), &json!(true))
    );
    assert!(techniques.iter().all(|t| !t["phase"].as_str().unwrap().is_empty()));

    // The id it names is the one TAXII exports.
    let c = rich("group", "AMBER");
    published(&app, &cast, &c).await;
    let (page, _) = ok(&app, &cast.b_reader, &format!("{}objects/", collection_path(Tier::Group))).await;
    for cited in c["disarm_techniques"].as_array().unwrap() {
        let t = techniques.iter().find(|t| &t["id"] == cited).unwrap();
        let exported = page["objects"].as_array().unwrap().iter().find(|o| o["id"] == t["stix_id"]).unwrap();
        assert_eq!(&exported["external_references"][0]["external_id"], cited);
        let path = format!("{}objects/{}/", collection_path(Tier::Group), t["stix_id"].as_str().unwrap());
        let (one, _) = ok(&app, &cast.b_reader, &path).await;
        assert_eq!(&one["objects"][0], exported);
    }
}
