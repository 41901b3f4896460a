//! The TAXII inbox over HTTPS: STIX envelopes posted by an organisation's service
//! accounts become its draft pictures with provenance; strict checks refuse an envelope
//! whole; replays are idempotent; markings decide the draft's TLP; and nobody but the
//! organisation's authoring service accounts writes to its inbox or reads its statuses.

use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_stix::tlp::marking_id;
use sitrep_types::{Role, Tier, Tlp};

use crate::helpers::inbox::{
    CREATOR, INDICATOR, MALWARE, REPORT, T0, accepted, count, draft_of, envelope, inbox, indicator, malware,
    message_of, picture, post, post_raw, refused, report,
};
use crate::helpers::taxii::ACCEPT;
use crate::helpers::taxii::service_key;
use crate::helpers::{TestApp, request_id};

#[tokio::test]
async fn a_report_posted_by_a_service_account_becomes_a_draft_of_its_organisation_with_provenance() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let b_reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let b_reader = app.token(&b_reader).await;

    let res = post(&app, &key, inbox(&app, "A"), &envelope(Tlp::Amber)).await;
    let request = request_id(&res);
    let status = accepted(res).await;
    assert_eq!((status["total_count"].as_u64(), status["failure_count"].as_u64()), (Some(6), Some(0)));
    assert!(message_of(&status, "successes", REPORT).contains("created"));
    for kept in [MALWARE, CREATOR, marking_id(Tlp::Amber)] {
        assert!(message_of(&status, "successes", kept).contains("Kept, with the draft"), "{status}");
    }
    let id = draft_of(&status);

    // A draft of A, for A's own review: its content, provenance and what was not mapped.
    let p = picture(&app, &author, &id).await;
    assert_eq!(
        (p["status"].as_str(), p["originator"]["id"].as_str()),
        (Some("draft"), Some(app.org("A").to_string().as_str()))
    );
    assert_eq!((p["tlp"].as_str(), p["tier"].as_str()), (Some("AMBER"), Some("group")));
    assert_eq!(p["title"]["en"], "Fake polling station changes");
    assert_eq!(p["disarm_techniques"], json!(["T0101"]));
    assert_eq!(p["indicators"][0]["value"], "vaalit-muutos.example");
    assert_eq!(p["information_credibility"], "2", "confidence 70");
    let details = p["details"]["en"].as_str().unwrap();
    for shown in [REPORT, MALWARE, CREATOR, "Regional CERT", "SMS loader", "TLP:AMBER"] {
        assert!(details.contains(shown), "{shown} in {details}");
    }
    assert!(p["sources"][0]["description"].as_str().unwrap().contains(REPORT));
    // The foreign object is kept as received.
    let kept = count(&app, &format!("SELECT count(*) FROM taxii_inbox_objects WHERE stix_id = '{MALWARE}'")).await;
    assert_eq!(kept, 1);

    // Drafts are private to the originator.
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&b_reader)).await.status(), 404);

    // The import is in the access log, naming the draft; the status can be read again.
    let record = app.audit_of_id(&request).await;
    assert_eq!(
        (record.action.as_str(), record.outcome.as_str(), record.http_status),
        ("taxii.add_objects", "allowed", 202)
    );
    assert_eq!(record.object_ids, Some(vec![id.parse().unwrap()]));
    assert_eq!(record.organisation_id, Some(app.org("A")));
    let status_id = status["id"].as_str().unwrap();
    let res = crate::helpers::taxii::taxii(&app, &key, &format!("/taxii2/api/status/{status_id}/")).await;
    let read_id = request_id(&res);
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again, status);
    let record = app.audit_of_id(&read_id).await;
    assert_eq!((record.action.as_str(), record.object_id.as_deref()), ("taxii.status", Some(status_id)));
}

#[tokio::test]
async fn a_malformed_envelope_is_refused_whole_with_per_object_errors() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let to = inbox(&app, "A");
    let pictures = || count(&app, "SELECT count(*) FROM pictures");
    let stored = || count(&app, "SELECT count(*) FROM taxii_inbox_objects");

    // One object fails the strict check: every object fails, nothing is stored.
    let mut e = envelope(Tlp::Amber);
    e["objects"][3]["modified"] = json!("2027-03-01 10:00");
    let res = post(&app, &key, to, &e).await;
    let request = request_id(&res);
    let status = accepted(res).await;
    assert_eq!((status["success_count"].as_u64(), status["failure_count"].as_u64()), (Some(0), Some(6)));
    assert!(message_of(&status, "failures", MALWARE).contains("modified"), "{status}");
    assert!(message_of(&status, "failures", REPORT).starts_with("Not stored"), "{status}");
    assert_eq!((pictures().await, stored().await), (0, 0));
    let record = app.audit_of_id(&request).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("taxii.add_objects", "failed"));
    assert!(record.reason.unwrap().starts_with("envelope_refused"));

    // A report whose draft breaks a picture rule (information influence without a DISARM
    // technique): refused whole too, the report saying which rule.
    let mut e = envelope(Tlp::Amber);
    e["objects"][0]["labels"] = json!(["domain:information_influence"]);
    e["objects"][0]["object_refs"] = json!([INDICATOR]);
    let status = accepted(post(&app, &key, to, &e).await).await;
    assert_eq!(status["success_count"], 0);
    assert!(message_of(&status, "failures", REPORT).contains("disarm_techniques"), "{status}");
    assert_eq!((pictures().await, stored().await), (0, 0));

    // Not an envelope, not TAXII, not JSON.
    assert_eq!(refused(post(&app, &key, to, &json!({"objects": [], "extra": 1})).await, 400).await, "invalid_envelope");
    assert_eq!(refused(post(&app, &key, to, &json!([])).await, 400).await, "invalid_envelope");
    let res = post_raw(&app, &key, to, "application/json", envelope(Tlp::Amber).to_string()).await;
    assert_eq!(refused(res, 415).await, "unsupported_media_type");
    let res = post_raw(&app, &key, to, ACCEPT, "{\"objects\": [".into()).await;
    assert_eq!(res.status(), 400);

    // Nothing was half-stored: the corrected envelope imports as new.
    let status = accepted(post(&app, &key, to, &envelope(Tlp::Amber)).await).await;
    assert!(message_of(&status, "successes", REPORT).contains("created"));
    assert_eq!((pictures().await, stored().await), (1, 6));
}

#[tokio::test]
async fn an_oversize_envelope_is_refused_before_anything_is_read_or_stored() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let to = inbox(&app, "A");
    let padding = "x".repeat(sitrep_stix::inbox::MAX_CONTENT_LENGTH);
    let res = post_raw(&app, &key, to, ACCEPT, format!("{{\"objects\": [], \"next\": \"{padding}\"}}")).await;
    assert_eq!(refused(res, 413).await, "payload_too_large");
    let many: Vec<Value> = (0..=sitrep_stix::inbox::MAX_OBJECTS).map(|_| json!({})).collect();
    assert_eq!(refused(post(&app, &key, to, &json!({ "objects": many })).await, 413).await, "payload_too_large");
    assert_eq!(count(&app, "SELECT count(*) FROM taxii_inbox_statuses").await, 0);
}

#[tokio::test]
async fn replays_change_nothing_and_a_newer_version_revises_the_same_draft() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let to = inbox(&app, "A");
    let first = envelope(Tlp::Amber);
    let id = draft_of(&accepted(post(&app, &key, to, &first).await).await);

    // The same ids and versions again: nothing new.
    let status = accepted(post(&app, &key, to, &first).await).await;
    for o in status["successes"].as_array().unwrap() {
        assert_eq!(o["message"], "Already received: nothing new.", "{o}");
    }
    assert_eq!(count(&app, "SELECT count(*) FROM pictures").await, 1);
    assert_eq!(picture(&app, &author, &id).await["revision"], 1);

    // A newer version of the report: a new revision of the same draft.
    let mut newer = first.clone();
    newer["objects"][0]["modified"] = json!("2027-03-02T10:00:00.000Z");
    newer["objects"][0]["name"] = json!("Fake polling station changes, second wave");
    let status = accepted(post(&app, &key, to, &newer).await).await;
    assert!(message_of(&status, "successes", REPORT).contains(&format!("{id} ")), "{status}");
    assert!(message_of(&status, "successes", REPORT).contains("revised: revision 2"), "{status}");
    let p = picture(&app, &author, &id).await;
    assert_eq!(
        (p["revision"].as_i64(), p["title"]["en"].as_str()),
        (Some(2), Some("Fake polling station changes, second wave"))
    );
    assert_eq!(count(&app, "SELECT count(*) FROM pictures").await, 1);

    // A version between the two: kept, no revision.
    let mut between = first.clone();
    between["objects"][0]["modified"] = json!("2027-03-01T12:00:00.000Z");
    let status = accepted(post(&app, &key, to, &between).await).await;
    assert!(message_of(&status, "successes", REPORT).starts_with("Older than the version imported"), "{status}");
    assert_eq!(picture(&app, &author, &id).await["revision"], 2);
    assert_eq!(count(&app, &format!("SELECT count(*) FROM taxii_inbox_objects WHERE stix_id = '{REPORT}'")).await, 3);

    // A version finer than microseconds is the instant it names, truncated, and so is its
    // replay.
    let mut fine = first.clone();
    fine["objects"][0]["modified"] = json!("2027-03-03T10:00:00.123456789Z");
    let status = accepted(post(&app, &key, to, &fine).await).await;
    assert!(message_of(&status, "successes", REPORT).contains("revised: revision 3"), "{status}");
    let status = accepted(post(&app, &key, to, &fine).await).await;
    assert_eq!(message_of(&status, "successes", REPORT), "Already received: nothing new.");
}

#[tokio::test]
async fn two_posts_of_the_same_new_report_at_once_make_one_draft() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let to = inbox(&app, "A");
    let e = envelope(Tlp::Amber);
    let (a, b) = tokio::join!(post(&app, &key, to, &e), post(&app, &key, to, &e));
    let (a, b) = (accepted(a).await, accepted(b).await);
    let created = [&a, &b].iter().filter(|s| message_of(s, "successes", REPORT).contains("created")).count();
    assert_eq!(created, 1, "{a} {b}");
    assert_eq!(count(&app, "SELECT count(*) FROM pictures").await, 1);
}

#[tokio::test]
async fn only_the_organisations_authoring_service_accounts_write_to_its_inbox_or_read_its_statuses() {
    let app = TestApp::spawn().await;
    let a_key = service_key(&app, "A", &["author"]).await;
    let a_reader_key = service_key(&app, "A", &["reader"]).await;
    let b_key = service_key(&app, "B", &["author"]).await;
    let a_person = app.seed_user("a.approver", "A", &[Role::Approver]).await;
    let a_person = app.token(&a_person).await;
    let a_inbox = inbox(&app, "A");
    let e = envelope(Tlp::Amber);
    let status = accepted(post(&app, &a_key, a_inbox, &e).await).await;
    let status_path = format!("/taxii2/api/status/{}/", status["id"].as_str().unwrap());

    // Another organisation's service account: A's inbox and its statuses do not exist.
    let res = post(&app, &b_key, a_inbox, &e).await;
    let denied = request_id(&res);
    assert_eq!(refused(res, 404).await, "collection_not_found");
    let record = app.audit_of_id(&denied).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("taxii.add_objects", "denied"));
    assert_eq!(refused(crate::helpers::taxii::taxii(&app, &b_key, &status_path).await, 404).await, "status_not_found");
    // A reader service account of A, and a person of A (even an approver), may not write.
    assert_eq!(refused(post(&app, &a_reader_key, a_inbox, &e).await, 403).await, "inbox_write_forbidden");
    assert_eq!(refused(post(&app, &a_person, a_inbox, &e).await, 403).await, "inbox_write_forbidden");
    for token in [&a_reader_key, &a_person] {
        assert_eq!(
            refused(crate::helpers::taxii::taxii(&app, token, &status_path).await, 404).await,
            "status_not_found"
        );
    }
    // A tier collection is read-only; the inbox is write-only.
    let group = ids::collection(Tier::Group);
    assert_eq!(refused(post(&app, &a_key, group, &e).await, 403).await, "collection_not_writable");
    let objects = format!("/taxii2/api/collections/{a_inbox}/objects/");
    assert_eq!(
        refused(crate::helpers::taxii::taxii(&app, &a_key, &objects).await, 403).await,
        "collection_not_readable"
    );
    assert_eq!(refused(crate::helpers::taxii::taxii(&app, &b_key, &objects).await, 404).await, "collection_not_found");
    // B wrote nothing anywhere: A has one draft, B none.
    assert_eq!(count(&app, "SELECT count(*) FROM pictures").await, 1);

    // Each writer lists its own organisation's inbox, writable; nobody else lists one.
    let inboxes = |body: Value| -> Vec<Value> {
        body.get("collections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c["alias"] == "inbox")
            .cloned()
            .collect()
    };
    for (token, expected) in
        [(&a_key, Some(a_inbox)), (&b_key, Some(inbox(&app, "B"))), (&a_reader_key, None), (&a_person, None)]
    {
        let res = crate::helpers::taxii::taxii(&app, token, "/taxii2/api/collections/").await;
        let got = inboxes(res.json().await.unwrap());
        match expected {
            Some(id) => {
                assert_eq!(got.len(), 1);
                assert_eq!(got[0]["id"], id.to_string());
                assert_eq!((got[0]["can_read"].as_bool(), got[0]["can_write"].as_bool()), (Some(false), Some(true)));
            }
            None => assert!(got.is_empty()),
        }
    }
    let res = crate::helpers::taxii::taxii(&app, &a_key, &format!("/taxii2/api/collections/{a_inbox}/")).await;
    assert_eq!(res.status(), 200);
    let res = crate::helpers::taxii::taxii(&app, &b_key, &format!("/taxii2/api/collections/{a_inbox}/")).await;
    assert_eq!(refused(res, 404).await, "collection_not_found");
}

#[tokio::test]
async fn the_markings_of_the_received_objects_decide_the_drafts_tlp() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let author = app.token(&author).await;
    let b_reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let b_reader = app.token(&b_reader).await;
    let to = inbox(&app, "A");
    let amber = marking_id(Tlp::Amber);
    let red = marking_id(Tlp::Red);
    let cases: [(&str, Value, &str, &str, &str); 5] = [
        // (report id, envelope objects, draft TLP, tier, indicator TLP)
        (
            "report--00000000-0000-4000-8000-000000000001",
            json!([report(T0, "r", &[INDICATOR], &[red]), indicator(&[amber])]),
            "RED",
            "named",
            "RED",
        ),
        (
            "report--00000000-0000-4000-8000-000000000002",
            json!([report(T0, "r", &[INDICATOR], &[amber]), indicator(&[red])]),
            "AMBER",
            "group",
            "RED",
        ),
        (
            "report--00000000-0000-4000-8000-000000000003",
            json!([report(T0, "r", &[INDICATOR, MALWARE], &[amber]), indicator(&[]), malware(&[red])]),
            "RED",
            "named",
            "RED",
        ),
        (
            "report--00000000-0000-4000-8000-000000000004",
            json!([report(T0, "r", &[INDICATOR], &[marking_id(Tlp::Green)]), indicator(&[])]),
            "AMBER",
            "group",
            "AMBER",
        ),
        (
            "report--00000000-0000-4000-8000-000000000005",
            json!([report(T0, "r", &[INDICATOR], &[]), indicator(&[])]),
            "AMBER+STRICT",
            "named",
            "AMBER+STRICT",
        ),
    ];
    for (report_id, mut objects, tlp, tier, indicator_tlp) in cases {
        objects[0]["id"] = json!(report_id);
        let status = accepted(post(&app, &key, to, &json!({ "objects": objects })).await).await;
        let message = message_of(&status, "successes", report_id);
        let id = message.split_whitespace().nth(2).unwrap();
        let p = picture(&app, &author, id).await;
        let c = &p;
        assert_eq!(
            (c["tlp"].as_str(), c["tier"].as_str(), c["indicators"][0]["tlp"].as_str()),
            (Some(tlp), Some(tier), Some(indicator_tlp)),
            "{report_id}"
        );
        if tier == "named" {
            assert_eq!(c["named_recipients"], json!([app.org("A")]), "named to itself alone");
        }
        assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&b_reader)).await.status(), 404);
    }
}

#[tokio::test]
async fn a_report_naming_another_organisation_as_creator_is_still_a_draft_of_the_poster() {
    let app = TestApp::spawn().await;
    let key = service_key(&app, "A", &["author"]).await;
    let b_author = app.seed_user("b.author", "B", &[Role::Author]).await;
    let b_author = app.token(&b_author).await;
    let a_author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let a_author = app.token(&a_author).await;
    // B's identity as Sitrep exports it, as the creator of the report.
    let b_identity = ids::identity(app.org("B"));
    let mut e = envelope(Tlp::Amber);
    e["objects"][0]["created_by_ref"] = json!(b_identity);
    e["objects"][4]["id"] = json!(b_identity);
    e["objects"][4]["name"] = json!("ORG-B");
    e["objects"][0]["object_refs"] = json!([INDICATOR, b_identity]);
    let id = draft_of(&accepted(post(&app, &key, inbox(&app, "A"), &e).await).await);
    let p = picture(&app, &a_author, &id).await;
    assert_eq!(p["originator"]["id"], app.org("A").to_string());
    assert!(p["details"]["en"].as_str().unwrap().contains(&b_identity));
    // B has no such picture: not by id, not in its list.
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&b_author)).await.status(), 404);
    let list: Value = app.get("/api/v1/pictures", Some(&b_author)).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "{list}");
    let b_pictures =
        count(&app, &format!("SELECT count(*) FROM pictures WHERE originator_id = '{}'", app.org("B"))).await;
    assert_eq!(b_pictures, 0);
}

#[tokio::test]
async fn a_report_cannot_pull_in_what_another_organisation_posted_to_its_own_inbox() {
    let app = TestApp::spawn().await;
    let a_key = service_key(&app, "A", &["author"]).await;
    let b_key = service_key(&app, "B", &["author"]).await;
    let a_author = app.seed_user("a.author", "A", &[Role::Author]).await;
    let a_author = app.token(&a_author).await;
    // B receives an indicator and a malware (RED) with no report.
    let red = marking_id(Tlp::Red);
    let b_objects = json!({"objects": [indicator(&[red]), malware(&[red])]});
    let status = accepted(post(&app, &b_key, inbox(&app, "B"), &b_objects).await).await;
    assert_eq!(status["success_count"], 2);
    // A's report names them by id without sending them: A gets neither.
    let a_objects = json!({"objects": [report(T0, "Only a report", &[INDICATOR, MALWARE], &[marking_id(Tlp::Amber)])]});
    let id = draft_of(&accepted(post(&app, &a_key, inbox(&app, "A"), &a_objects).await).await);
    let p = picture(&app, &a_author, &id).await;
    assert_eq!(p["indicators"], json!([]), "{p}");
    assert_eq!(p["tlp"], "AMBER", "B's RED malware does not reach A's draft");
    let details = p["details"]["en"].as_str().unwrap();
    assert!(!details.contains("SMS loader") && !details.contains("vaalit-muutos"), "{details}");
    for id in [INDICATOR, MALWARE] {
        assert!(details.contains(&format!("`{id}`: referred to by the report, not received")), "{details}");
    }
}
