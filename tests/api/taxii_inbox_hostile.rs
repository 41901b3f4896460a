//! The TAXII inbox attacked by a member organisation with valid accounts: markings that
//! must not be loosened, ids of another organisation's reports and pictures, refusals
//! that must all be in the access log, accounts changed mid-way, and text that must not
//! reach a picture's title as sent.

use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_stix::tlp::{marking_definition, marking_id};
use sitrep_types::{Role, Tlp};

use crate::helpers::inbox::{
    CREATOR, INDICATOR, MALWARE, REPORT, T0, accepted, count, creator, draft_of, inbox, indicator, malware, message_of,
    picture, post, post_raw, refused, report,
};
use crate::helpers::taxii::ACCEPT;
use crate::helpers::taxii::service_key;
use crate::helpers::{TestApp, request_id};

/// A second indicator object with the same pattern as `indicator`, under another id.
const SAME_VALUE: &str = "indicator--7c0e4b1a-5d2f-4a8b-9c3d-2e4f6a8b0c1d";
/// A marking definition, not one of the fixed TLP ids, that declares TLP:RED.
const OWN_RED: &str = "marking-definition--4f1e2d3c-6b5a-4987-8a6b-5c4d3e2f1a0b";

fn own_red_marking() -> Value {
    json!({"type": "marking-definition", "spec_version": "2.1", "id": OWN_RED, "created": T0,
           "name": "Our RED", "definition_type": "tlp", "definition": {"tlp": "red"}})
}

/// The draft a status names for `report_id`.
fn draft_for(status: &Value, report_id: &str) -> String {
    message_of(status, "successes", report_id).split_whitespace().nth(2).unwrap().to_owned()
}

/// FINDING (fails now): two indicator objects with the same pattern value, one AMBER and
/// one RED, are deduplicated to the first one's TLP: the RED marking is loosened to AMBER
/// (`map_report` keeps the first of equal `(type, value)` pairs with its own TLP).
#[tokio::test]
async fn an_indicator_value_received_twice_keeps_the_strictest_of_its_markings() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let (amber, red) = (marking_id(Tlp::Amber), marking_id(Tlp::Red));
    let mut second = indicator(&[red]);
    second["id"] = json!(SAME_VALUE);
    let objects = json!([report(T0, "r", &[INDICATOR, SAME_VALUE], &[amber]), indicator(&[amber]), second]);
    let status = accepted(post(&app, &key, inbox(&app, "A"), &json!({ "objects": objects })).await).await;
    let p = picture(&app, &author, &draft_of(&status)).await;
    let indicators = p["indicators"].as_array().unwrap();
    assert_eq!(indicators.len(), 1, "{p}");
    assert_eq!(indicators[0]["tlp"], "RED", "a RED marking of the same value is never loosened: {p}");
}

/// FINDING (fails now): a marking definition received earlier (one that declares a TLP,
/// not a fixed TLP id) marks an object of a later envelope. When every other reference of
/// the report is in the envelope (its marking definition included), the import never
/// looks the stored marking up (`import` stops its look-up loop when the report's own
/// references are all present), so the RED object makes an AMBER draft; the same report
/// without the AMBER marking definition in the envelope makes a RED one.
#[tokio::test]
async fn a_tlp_marking_received_earlier_counts_whatever_else_the_envelope_holds() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let to = inbox(&app, "A");
    let amber = marking_id(Tlp::Amber);
    let status = accepted(post(&app, &key, to, &json!({"objects": [own_red_marking()]})).await).await;
    assert_eq!(status["success_count"], 1);

    let with_definition = "report--00000000-0000-4000-8000-0000000000a1";
    let without_definition = "report--00000000-0000-4000-8000-0000000000a2";
    let mut tlps = Vec::new();
    for (id, include_amber) in [(without_definition, false), (with_definition, true)] {
        let mut r = report(T0, "r", &[INDICATOR, MALWARE], &[amber]);
        r["id"] = json!(id);
        let mut objects = vec![r, indicator(&[amber]), malware(&[OWN_RED]), creator()];
        if include_amber {
            objects.push(marking_definition(Tlp::Amber));
        }
        let status = accepted(post(&app, &key, to, &json!({ "objects": objects })).await).await;
        let p = picture(&app, &author, &draft_for(&status, id)).await;
        tlps.push((id, p["tlp"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        tlps,
        vec![(without_definition, "RED".to_owned()), (with_definition, "RED".to_owned())],
        "the malware is RED by a marking received earlier"
    );
}

/// Held: a marking definition in the envelope under a fixed TLP id cannot redefine it.
#[tokio::test]
async fn a_marking_definition_under_a_fixed_tlp_id_does_not_redefine_it() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let red = marking_id(Tlp::Red);
    let fake = json!({"type": "marking-definition", "spec_version": "2.1", "id": red, "created": T0,
                      "definition_type": "tlp", "definition": {"tlp": "white"}});
    let objects = json!([report(T0, "r", &[INDICATOR], &[red]), indicator(&[red]), fake]);
    let status = accepted(post(&app, &key, inbox(&app, "A"), &json!({ "objects": objects })).await).await;
    let p = picture(&app, &author, &draft_of(&status)).await;
    assert_eq!((p["tlp"].as_str(), p["indicators"][0]["tlp"].as_str()), (Some("RED"), Some("RED")), "{p}");
}

/// Held: a report id another organisation posted first, with a newer `modified`, and the
/// STIX id Sitrep exports for another organisation's picture, each make a draft of the
/// poster; the other organisation's picture is not revised.
#[tokio::test]
async fn another_organisations_report_ids_never_revise_its_picture() {
    let app = TestApp::spawn().await;
    let a_key = service_key(&app, "A", &["author"]).await;
    let b_key = service_key(&app, "B", &["author"]).await;
    let b_author = app.seed_user("b.author", "B", &[Role::Author]).await;
    let b_author = app.token(&b_author).await;
    let amber = marking_id(Tlp::Amber);
    let objects = |id: &str, modified: &str, name: &str| {
        let mut r = report(modified, name, &[INDICATOR], &[amber]);
        r["id"] = json!(id);
        json!({"objects": [r, indicator(&[amber])]})
    };
    let status = accepted(post(&app, &b_key, inbox(&app, "B"), &objects(REPORT, T0, "B's report")).await).await;
    let b_picture = draft_for(&status, REPORT);
    let exported = ids::report(b_picture.parse().unwrap());

    for id in [REPORT, exported.as_str()] {
        let status =
            accepted(post(&app, &a_key, inbox(&app, "A"), &objects(id, "2027-03-05T10:00:00.000Z", "A's")).await).await;
        assert!(message_of(&status, "successes", id).contains("created"), "{status}");
        assert_ne!(draft_for(&status, id), b_picture);
    }
    let p = picture(&app, &b_author, &b_picture).await;
    assert_eq!((p["revision"].as_i64(), p["title"]["en"].as_str()), (Some(1), Some("B's report")), "{p}");
    assert_eq!(p["originator"]["id"], app.org("B").to_string());
    let a_pictures =
        count(&app, &format!("SELECT count(*) FROM pictures WHERE originator_id = '{}'", app.org("A"))).await;
    assert_eq!(a_pictures, 2);
}

/// Held: every refusal of a post to the inbox is in the access log, once, with its
/// outcome and status, and leaves no status, object or draft.
#[tokio::test]
async fn every_refused_post_to_the_inbox_is_in_the_access_log_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let a_key = service_key(&app, "A", &["author"]).await;
    let a_reader = service_key(&app, "A", &["reader"]).await;
    let b_key = service_key(&app, "B", &["author"]).await;
    let to = inbox(&app, "A");
    let env = json!({"objects": [report(T0, "r", &[INDICATOR], &[marking_id(Tlp::Amber)]), indicator(&[])]});
    let nested = format!("{{\"objects\": [{}{}]}}", "[".repeat(400), "]".repeat(400));
    let many: Vec<Value> = (0..=sitrep_stix::inbox::MAX_OBJECTS).map(|_| json!({})).collect();
    // More reports than one envelope's transaction may turn into drafts.
    let reports: Vec<Value> = (0..=sitrep_stix::inbox::MAX_REPORTS)
        .map(|i| {
            let mut r = report(T0, "r", &[INDICATOR], &[marking_id(Tlp::Amber)]);
            r["id"] = json!(format!("report--00000000-0000-4000-8000-{i:012}"));
            r
        })
        .collect();
    let cases = [
        (post(&app, &b_key, to, &env).await, 404, "denied"),
        (post(&app, &a_reader, to, &env).await, 403, "denied"),
        (post_raw(&app, &a_key, to, "application/json", env.to_string()).await, 415, "failed"),
        (post_raw(&app, &a_key, to, ACCEPT, nested).await, 400, "failed"),
        (post(&app, &a_key, to, &json!({"objects": [], "evil": 1})).await, 400, "failed"),
        (post(&app, &a_key, to, &json!({ "objects": many })).await, 413, "failed"),
        (post(&app, &a_key, to, &json!({ "objects": reports })).await, 413, "failed"),
    ];
    for (res, status, outcome) in cases {
        let id = request_id(&res);
        assert_eq!(res.status().as_u16(), status, "{}", res.text().await.unwrap());
        let record = app.audit_of_id(&id).await;
        assert_eq!(
            (record.action.as_str(), record.outcome.as_str(), record.http_status),
            ("taxii.add_objects", outcome, status as i16),
            "{record:?}"
        );
    }
    for table in ["taxii_inbox_statuses", "taxii_inbox_objects", "pictures"] {
        assert_eq!(count(&app, &format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
}

/// Held: a service account demoted to reader, then deactivated, after its key was made,
/// is refused at once; what it posted before stays its organisation's.
#[tokio::test]
async fn a_service_account_demoted_or_deactivated_mid_way_no_longer_posts() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin = app.token(&admin).await;
    let res =
        app.post_json("/api/v1/service-accounts", Some(&admin), &json!({"name": "a.soc", "roles": ["author"]})).await;
    assert_eq!(res.status(), 201);
    let account = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{account}/keys"),
            Some(&admin),
            &json!({"name": "taxii", "expires_at": expires}),
        )
        .await;
    let key = res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    let to = inbox(&app, "A");
    let env = |id: &str| {
        let mut r = report(T0, "r", &[INDICATOR], &[marking_id(Tlp::Amber)]);
        r["id"] = json!(id);
        json!({"objects": [r, indicator(&[])]})
    };
    let status = accepted(post(&app, &key, to, &env(REPORT)).await).await;
    let status_path = format!("/taxii2/api/status/{}/", status["id"].as_str().unwrap());

    let path = format!("/api/v1/service-accounts/{account}");
    let res = app.patch_json(&path, &admin, &json!({"roles": ["reader"]})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let second = "report--00000000-0000-4000-8000-0000000000b1";
    assert_eq!(refused(post(&app, &key, to, &env(second)).await, 403).await, "inbox_write_forbidden");
    assert_eq!(refused(crate::helpers::taxii::taxii(&app, &key, &status_path).await, 404).await, "status_not_found");

    let res = app.patch_json(&path, &admin, &json!({"roles": ["author"]})).await;
    assert_eq!(res.status(), 200);
    let res = app.patch_json(&path, &admin, &json!({"active": false})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(post(&app, &key, to, &env(second)).await.status(), 401);
    assert_eq!(count(&app, "SELECT count(*) FROM pictures").await, 1);
}

/// Held: bidirectional, invisible and control characters in a report's name do not reach
/// the draft's title; the creator's name does not become the originator.
#[tokio::test]
async fn control_and_bidi_characters_in_a_name_do_not_reach_the_title() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let name = "Fake\u{202E}lanoitan\u{202C} polling\u{200B} sta\u{0007}tion\u{2066}s\u{2069}\nmoved";
    let mut r = report(T0, name, &[INDICATOR, CREATOR], &[marking_id(Tlp::Amber)]);
    r["created_by_ref"] = json!(CREATOR);
    let mut who = creator();
    who["name"] = json!("ORG-B\u{202E}");
    let status =
        accepted(post(&app, &key, inbox(&app, "A"), &json!({"objects": [r, indicator(&[]), who]})).await).await;
    let p = picture(&app, &author, &draft_of(&status)).await;
    let title = p["title"]["en"].as_str().unwrap();
    assert!(
        !title.chars().any(|c| c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "{title:?}"
    );
    assert!(title.starts_with("Fake"), "{title:?}");
    let details = p["details"]["en"].as_str().unwrap();
    assert!(!details.contains('\u{202E}'), "{details:?}");
    assert_eq!(p["originator"]["id"], app.org("A").to_string());
}

/// FINDING (fails now): marking definitions are not versioned in STIX, but the inbox
/// takes a second `created` of the same marking id as a newer version, and later drafts
/// read the newest: a TLP:RED marking redefined as CLEAR makes the next report marked
/// with it a CLEAR draft (`unclassified_public`).
#[tokio::test]
async fn a_marking_definition_received_again_under_a_later_created_does_not_loosen_later_drafts() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let to = inbox(&app, "A");
    accepted(post(&app, &key, to, &json!({"objects": [own_red_marking()]})).await).await;
    let mut clear = own_red_marking();
    clear["created"] = json!("2027-03-02T10:00:00.000Z");
    clear["definition"] = json!({"tlp": "clear"});
    let status = accepted(post(&app, &key, to, &json!({"objects": [clear]})).await).await;

    let objects = json!([report(T0, "r", &[INDICATOR], &[OWN_RED]), indicator(&[])]);
    let imported = accepted(post(&app, &key, to, &json!({ "objects": objects })).await).await;
    let p = picture(&app, &author, &draft_of(&imported)).await;
    assert_eq!(
        (p["tlp"].as_str(), p["classification"].as_str()),
        (Some("RED"), Some("unclassified_secret")),
        "the second definition was {status}"
    );
}

/// FINDING (fails now): the access-log filter `reference=` (the records about one
/// picture) misses the inbox posts that created and revised the picture: their record's
/// object is the status resource, and the draft is only in `object_ids`.
#[tokio::test]
async fn the_access_log_by_reference_shows_the_inbox_posts_that_wrote_the_draft() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let to = inbox(&app, "A");
    let amber = marking_id(Tlp::Amber);
    let objects = |modified: &str| json!({"objects": [report(modified, "r", &[INDICATOR], &[amber]), indicator(&[])]});
    let id = draft_of(&accepted(post(&app, &key, to, &objects(T0)).await).await);
    accepted(post(&app, &key, to, &objects("2027-03-02T10:00:00.000Z")).await).await;
    let reference = picture(&app, &author, &id).await["reference"].as_str().unwrap().to_owned();
    app.seal_log().await;
    let token = crate::helpers::access_log::auditor_token(&app).await;
    let res = app.get(&format!("/api/v1/access-log?reference={reference}&limit=200"), Some(&token)).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let actions: Vec<&str> = page["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "taxii.add_objects").count(),
        2,
        "the post that created {reference} and the one that revised it: {actions:?}"
    );
}

/// Held: another `spec_version` refuses the envelope whole; a huge name is cut; a pattern
/// carrying SQL is kept as text, not mapped; the same report twice in one envelope (same
/// version, other content) makes one draft of the first.
#[tokio::test]
async fn odd_objects_are_refused_whole_or_kept_as_text() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let to = inbox(&app, "A");
    let amber = marking_id(Tlp::Amber);

    for spec in [json!("2.0"), json!(2.1), Value::Null] {
        let mut i = indicator(&[amber]);
        i["spec_version"] = spec;
        let objects = json!([report(T0, "r", &[INDICATOR], &[amber]), i]);
        let status = accepted(post(&app, &key, to, &json!({ "objects": objects })).await).await;
        assert_eq!(status["success_count"], 0, "{status}");
        assert!(message_of(&status, "failures", INDICATOR).contains("spec_version"), "{status}");
    }
    assert_eq!(count(&app, "SELECT count(*) FROM taxii_inbox_objects").await, 0);

    let mut sql = indicator(&[amber]);
    sql["pattern"] = json!("[domain-name:value = 'x'' OR 1=1; DROP TABLE pictures; --']");
    let mut first = report(T0, &"N".repeat(200_000), &[INDICATOR], &[amber]);
    first["description"] = json!("first");
    let mut again = report(T0, "the same version, other content", &[INDICATOR], &[marking_id(Tlp::Clear)]);
    again["description"] = json!("second");
    let status = accepted(post(&app, &key, to, &json!({"objects": [first, again, sql]})).await).await;
    let messages: Vec<&str> = status["successes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == REPORT)
        .filter_map(|s| s["message"].as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{status}");
    assert!(messages[1].starts_with("Repeated in this envelope"), "{status}");
    let p = picture(&app, &author, &draft_of(&status)).await;
    let title = p["title"]["en"].as_str().unwrap();
    assert_eq!(title.chars().count(), 140, "{title}");
    assert_eq!((p["summary"]["en"].as_str(), p["tlp"].as_str()), (Some("first"), Some("AMBER")));
    assert_eq!(p["indicators"], json!([]));
    assert!(p["details"]["en"].as_str().unwrap().contains("a pattern Sitrep does not read"));
    assert_eq!(count(&app, "SELECT count(*) FROM pictures").await, 1);
}

/// FINDING (fails now): a `language-content` of the report gives the draft its titles and
/// summaries in other languages, but its own markings are not counted: a TLP:RED
/// translation of an AMBER report becomes text of an AMBER draft.
#[tokio::test]
async fn a_red_translation_makes_the_draft_red() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let translation = json!({
        "type": "language-content", "spec_version": "2.1",
        "id": "language-content--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "created": T0, "modified": T0,
        "object_ref": REPORT, "object_modified": T0, "object_marking_refs": [marking_id(Tlp::Red)],
        "contents": {"fi": {"name": "Salainen lähde: sisäministeriön virkamies", "description": "RED-tietoa"}},
    });
    let objects = json!([report(T0, "r", &[INDICATOR], &[marking_id(Tlp::Amber)]), indicator(&[]), translation]);
    let status = accepted(post(&app, &key, inbox(&app, "A"), &json!({ "objects": objects })).await).await;
    let p = picture(&app, &author, &draft_of(&status)).await;
    assert_eq!(p["title"]["fi"], "Salainen lähde: sisäministeriön virkamies", "the translation is in the draft");
    assert_eq!(p["tlp"], "RED", "text marked RED is in the draft: {p}");
}

/// FINDING (fails now): the report's creator (`created_by_ref`, not in `object_refs`) has
/// its name written into the draft's details, but its markings are not counted: a
/// TLP:RED identity's name becomes text of an AMBER draft.
#[tokio::test]
async fn a_red_creator_whose_name_is_in_the_details_makes_the_draft_red() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let mut who = creator();
    who["name"] = json!("Informant K-7 inside the ministry");
    who["object_marking_refs"] = json!([marking_id(Tlp::Red)]);
    let objects = json!([report(T0, "r", &[INDICATOR], &[marking_id(Tlp::Amber)]), indicator(&[]), who]);
    let status = accepted(post(&app, &key, inbox(&app, "A"), &json!({ "objects": objects })).await).await;
    let p = picture(&app, &author, &draft_of(&status)).await;
    assert!(p["details"]["en"].as_str().unwrap().contains("Informant K-7"), "the name is in the draft");
    assert_eq!(p["tlp"], "RED", "text marked RED is in the draft: {p}");
}
