//! A TAXII peer that is not Sitrep: OpenTAXII 0.9.3 (EclecticIQ's production server, on
//! PostgreSQL) holds what another tool posted (reports, indicators, the standard TLP
//! markings, a creator's identity), and Sitrep pulls its collection page by page with
//! HTTP Basic, across a restart, importing each object once; OpenTAXII's `added_after`
//! then brings only what was posted since; its RED report stays RED.

use serde_json::{Value, json};
use sitrep_stix::tlp::{marking_definition, marking_id};
use sitrep_types::Tlp;
use uuid::Uuid;

use crate::helpers::opentaxii::OpenTaxii;
use crate::helpers::pictures::{cast, revise};
use crate::helpers::taxii::{
    create_peer, home_settings, peers_secretariat, poll, poll_to_end, restart, secretariat_again, service_account,
};
use crate::helpers::{TestApp, problem};

const T0: &str = "2027-03-02T08:00:00.000Z";

fn id(kind: &str) -> String {
    format!("{kind}--{}", Uuid::new_v4())
}

/// A report of the creator's referring to one indicator of the domain `domain`, both
/// marked `tlp`, the indicator first (as a bundle posted by another tool orders them).
fn report_with_indicator(creator: &str, name: &str, domain: &str, tlp: Tlp) -> [Value; 2] {
    let m = marking_id(tlp);
    let indicator = id("indicator");
    [
        json!({
            "type": "indicator", "spec_version": "2.1", "id": indicator, "created": T0, "modified": T0,
            "name": format!("Site {domain}"), "pattern": format!("[domain-name:value = '{domain}']"),
            "pattern_type": "stix", "valid_from": T0, "indicator_types": ["malicious-activity"],
            "object_marking_refs": [m],
        }),
        json!({
            "type": "report", "spec_version": "2.1", "id": id("report"), "created": T0, "modified": T0,
            "published": T0, "name": name, "description": "Posts claim that the polling stations moved.",
            "report_types": ["campaign"], "lang": "en", "object_refs": [indicator, creator],
            "object_marking_refs": [m], "created_by_ref": creator,
        }),
    ]
}

async fn rows(app: &TestApp, sql: &str, org: Uuid) -> Vec<tokio_postgres::Row> {
    app.pool.get().await.unwrap().query(sql, &[&org]).await.unwrap()
}

async fn scalar(app: &TestApp, sql: &str, org: Uuid) -> i64 {
    rows(app, sql, org).await[0].get(0)
}

#[tokio::test]
async fn sitrep_pulls_an_opentaxii_collection_across_a_restart_and_imports_each_object_once() {
    let creator = id("identity");
    let mut objects = vec![
        json!({"type": "identity", "spec_version": "2.1", "id": creator, "created": T0, "modified": T0,
               "name": "Regional CERT", "identity_class": "organization"}),
        marking_definition(Tlp::Amber),
        marking_definition(Tlp::Red),
    ];
    objects.extend(report_with_indicator(&creator, "Fake polling stations", "vaalit-muutos.example", Tlp::Amber));
    objects.extend(report_with_indicator(&creator, "Fake voting by SMS", "tekstiaanestys.example", Tlp::Amber));
    objects.extend(report_with_indicator(&creator, "Named source", "lahde-red.example", Tlp::Red));
    let peer = OpenTaxii::start(&objects).await;
    assert_eq!(peer.objects().await.len(), objects.len(), "OpenTAXII pages what it holds");

    let home = TestApp::spawn_with(home_settings).await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = peers_secretariat(&home).await;
    let org = home.org("A");
    // One object a page, one page a poll: the walk is nine pages long.
    let created = create_peer(
        &home,
        &sec,
        &json!({
            "name": "OpenTAXII of the regional CERT",
            "api_root": peer.api_root,
            "collection_id": peer.collection_id,
            "organisation_id": org,
            "service_account_id": importer,
            "credentials": {"username": peer.user, "secret": peer.password},
            "ca_pem": peer.cert_pem,
            "poll_interval_secs": 3600,
        }),
    )
    .await;
    let peer_id = created["id"].as_str().unwrap().to_owned();
    let statuses = rows(
        &home,
        "SELECT string_agg(row_to_json(s)::text, ' ') FROM taxii_inbox_statuses s WHERE $1::uuid IS NOT NULL",
        org,
    )
    .await[0]
        .get::<_, Option<String>>(0);
    assert!(created["health"]["last_error"].is_null(), "{created}\n{statuses:?}\n{}", peer.log());
    assert_eq!(created["health"]["pages_imported"], 1, "{created}");
    assert_eq!(created["health"]["paging"], true, "OpenTAXII's `next` is stored: {created}");
    let mut last = created;
    for _ in 0..3 {
        last = poll(&home, &sec, &peer_id).await;
    }
    assert_eq!(last["health"]["pages_imported"], 4, "{last}");
    assert_eq!(last["health"]["paging"], true, "the walk is still under way: {last}");
    let drafts = "SELECT count(*) FROM pictures WHERE originator_id = $1";

    // The server stops between pages; another on the same database goes on from the
    // stored position.
    let (home, _key) = restart(home, home_settings).await;
    let sec = secretariat_again(&home).await;
    let done = poll_to_end(&home, &sec, &peer_id, 20).await;
    assert!(done["health"]["last_error"].is_null(), "{done}\n{}", peer.log());
    assert!(done["health"]["added_after"].is_string(), "{done}");
    assert_eq!(scalar(&home, drafts, org).await, 3, "one draft per report");
    assert_eq!(
        scalar(&home, "SELECT count(*) FROM pictures WHERE originator_id = $1 AND revision = 1", org).await,
        3,
        "no report was imported twice"
    );
    let stored = "SELECT count(*) FROM taxii_inbox_objects WHERE organisation_id = $1";
    assert_eq!(scalar(&home, stored, org).await, objects.len() as i64, "each object stored once");
    assert_eq!(done["health"]["objects_imported"].as_i64().unwrap(), objects.len() as i64, "{done}");
    // One object a page: a walk that went on from the stored `next` is exactly as many
    // pages as objects; one read again from the start would be more.
    assert_eq!(done["health"]["pages_imported"], objects.len() as i64, "{done}");

    // Each draft holds its indicator and says where it came from; the RED one is RED.
    let drafts_by_tlp = rows(
        &home,
        "SELECT p.id, p.tlp, r.content::text FROM pictures p JOIN picture_revisions r \
         ON r.picture_id = p.id AND r.revision = p.revision WHERE p.originator_id = $1",
        org,
    )
    .await;
    let mut red = None;
    for r in &drafts_by_tlp {
        let (picture, tlp, content): (Uuid, String, String) = (r.get(0), r.get(1), r.get(2));
        assert!(content.contains("OpenTAXII of the regional CERT"), "provenance names the peer: {content}");
        assert!(content.contains("Regional CERT"), "the creator is kept: {content}");
        let path = peer.api_root.split_once("/taxii2/").unwrap().1;
        assert!(!content.contains(path), "provenance shows no path of the API root: {content}");
        assert!(!content.contains("not received"), "every reference arrived before its report: {content}");
        if content.contains("lahde-red.example") {
            assert_eq!(tlp, "RED", "{content}");
            red = Some(picture);
        } else {
            assert_eq!(tlp, "AMBER", "{content}");
        }
    }
    let red = red.expect("the RED report became a draft").to_string();
    let hc = cast(&home).await;
    let res = revise(&home, &hc.author, &red, &json!({"tlp": "AMBER+STRICT"})).await;
    assert!(problem(res, 422).await.to_string().contains("looser_than_received"));

    // Polled again: nothing (OpenTAXII's `added_after` is exclusive of the last object).
    let again = poll_to_end(&home, &sec, &peer_id, 5).await;
    assert_eq!(again["health"]["objects_imported"], done["health"]["objects_imported"], "{again}");
    assert_eq!(again["health"]["pages_imported"], objects.len() as i64 + 1, "one empty page: {again}");

    // Another tool posts a new report through OpenTAXII's own TAXII POST: exactly it comes.
    let fresh = report_with_indicator(&creator, "Fake ballot photos", "vaalikuvat.example", Tlp::Amber);
    let status = peer.post(&fresh).await;
    assert_eq!(status["success_count"], 2, "{status}");
    let after = poll_to_end(&home, &sec, &peer_id, 10).await;
    assert!(after["health"]["last_error"].is_null(), "{after}");
    assert_eq!(scalar(&home, drafts, org).await, 4);
    assert_eq!(scalar(&home, stored, org).await, objects.len() as i64 + 2);
    assert_eq!(after["health"]["pages_imported"], objects.len() as i64 + 3, "two new objects, two pages: {after}");

    // Every page was access-logged as this organisation's pull; no record holds the password.
    home.seal_log().await;
    let pages = after["health"]["pages_imported"].as_i64().unwrap();
    let logged =
        "SELECT count(*) FROM access_log WHERE action = 'peer.pull' AND organisation_id = $1 AND outcome = 'allowed'";
    assert_eq!(scalar(&home, logged, org).await, pages);
    let log =
        rows(&home, "SELECT string_agg(row_to_json(a)::text, ' ') FROM access_log a WHERE $1::uuid IS NOT NULL", org)
            .await[0]
            .get::<_, String>(0);
    assert!(!log.contains(&peer.password), "the access log holds the peer's password");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", peer.user, peer.password));
    assert!(!log.contains(&basic), "the access log holds the peer's Basic credentials");
    // OpenTAXII 0.9.3 answered every object with its type as `spec_version`; each page
    // that held one says it was mended.
    let mended = "SELECT count(*) FROM access_log WHERE action = 'peer.pull' AND organisation_id = $1 \
                  AND reason LIKE '%;spec_version_mended:1'";
    assert_eq!(scalar(&home, mended, org).await, objects.len() as i64 + 2);
}
