//! TAXII peers pulled: a Sitrep polls another TAXII 2.1 server (here a second Sitrep, and
//! hostile servers of the test's own) and imports what it sends through the inbox's
//! import. Restarts between pages import each object once; a peer's RED material never
//! leaves at a looser TLP; only the secretariat manages peers; credentials never come back
//! out; peer URLs obey the webhooks' outbound rules; and a hostile peer stops only itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_types::{Role, Tier};
use uuid::Uuid;

use crate::helpers::pictures::{act, cast, content, published, revise};
use crate::helpers::taxii::ACCEPT;
use crate::helpers::taxii::{
    create_peer, get_peer, home_settings, peers_secretariat as secretariat, poll, poll_to_end, restart,
    secretariat_again, service_account, wait_poll,
};
use crate::helpers::{OwnHttps, TestApp, problem};

fn cert_of(app: &TestApp) -> String {
    std::fs::read_to_string(app.data_dir.join("tls/cert.pem")).unwrap()
}

/// The body configuring `peer`'s collection of `tier`, read with `key`, into
/// organisation A as `importer`.
fn peer_body(name: &str, peer: &TestApp, tier: Tier, key: &str, org: Uuid, importer: Uuid) -> Value {
    json!({
        "name": name,
        "api_root": format!("{}/taxii2/api/", peer.address),
        "collection_id": ids::collection(tier).to_string(),
        "organisation_id": org,
        "service_account_id": importer,
        "credentials": {"username": "sitrep", "secret": key},
        "ca_pem": cert_of(peer),
        "poll_interval_secs": 3600,
    })
}

async fn scalar(app: &TestApp, sql: &str, org: Uuid) -> i64 {
    app.pool.get().await.unwrap().query_one(sql, &[&org]).await.unwrap().get(0)
}

/// Everything the access log holds, as text.
async fn access_log_text(app: &TestApp) -> String {
    app.seal_log().await;
    let rows = app.pool.get().await.unwrap().query("SELECT row_to_json(a)::text FROM access_log a", &[]).await.unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn a_peer_is_pulled_page_by_page_across_a_restart_and_each_object_is_imported_once() {
    let peer = TestApp::spawn().await;
    let pc = cast(&peer).await;
    for _ in 0..3 {
        published(&peer, &pc, &content("group", "AMBER")).await;
    }
    let (_, key) = service_account(&peer, "B", &["reader"]).await;

    let home = TestApp::spawn_with(home_settings).await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = secretariat(&home).await;
    let org = home.org("A");
    let created = create_peer(&home, &sec, &peer_body("peer one", &peer, Tier::Group, &key, org, importer)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // One page read: the walk is under way, its `next` stored with the page.
    assert_eq!(created["health"]["pages_imported"], 1, "{created}");
    assert_eq!(created["health"]["paging"], true, "{created}");
    assert!(created["health"]["last_error"].is_null(), "{created}");
    assert_eq!(created["has_credentials"], true);

    // Stop the server and its worker between pages; start another on the same database.
    let (home, key_dir) = restart(home, home_settings).await;
    let sec = secretariat_again(&home).await;

    // A page read twice (as if its commit had been lost) imports nothing twice.
    let peer_id: Uuid = id.parse().unwrap();
    let next_of = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            let client = pool.get().await.unwrap();
            let row = client.query_one("SELECT next_page FROM taxii_peers WHERE id = $1", &[&peer_id]).await.unwrap();
            row.get::<_, Option<String>>(0)
        }
    };
    let before_second = next_of(&home).await;
    assert!(before_second.is_some());
    let second = poll(&home, &sec, &id).await;
    let drafts_now = scalar(&home, "SELECT count(*) FROM pictures WHERE originator_id = $1", org).await;
    home.pool
        .get()
        .await
        .unwrap()
        .execute("UPDATE taxii_peers SET next_page = $2 WHERE id = $1", &[&peer_id, &before_second])
        .await
        .unwrap();
    let again = poll(&home, &sec, &id).await;
    assert_eq!(again["health"]["objects_imported"], second["health"]["objects_imported"], "{again}");
    assert_eq!(scalar(&home, "SELECT count(*) FROM pictures WHERE originator_id = $1", org).await, drafts_now);

    let done = poll_to_end(&home, &sec, &id, 40).await;
    assert!(done["health"]["added_after"].is_string(), "{done}");
    let drafts = "SELECT count(*) FROM pictures WHERE originator_id = $1";
    assert_eq!(scalar(&home, drafts, org).await, 3, "one draft per report");
    assert_eq!(scalar(&home, "SELECT count(*) FROM taxii_inbox_reports WHERE organisation_id = $1", org).await, 3);
    assert_eq!(
        scalar(&home, "SELECT count(*) FROM pictures WHERE originator_id = $1 AND revision = 1", org).await,
        3,
        "no report was imported twice (a second import would revise or add nothing, never a second draft)"
    );
    let stored = "SELECT count(*) FROM taxii_inbox_objects WHERE organisation_id = $1";
    assert_eq!(done["health"]["objects_imported"].as_i64().unwrap(), scalar(&home, stored, org).await);
    // Provenance names the peer; the drafts are organisation A's, whoever created the
    // reports at the peer.
    assert_eq!(
        scalar(
            &home,
            "SELECT count(*) FROM pictures p JOIN picture_revisions r ON r.picture_id = p.id \
             WHERE p.originator_id = $1 AND r.content::text LIKE '%TAXII peer%peer one%'",
            org
        )
        .await,
        3
    );

    // Polled again: nothing new (added_after is exclusive at the peer).
    let again = poll(&home, &sec, &id).await;
    assert_eq!(again["health"]["objects_imported"], done["health"]["objects_imported"]);
    assert_eq!(scalar(&home, drafts, org).await, 3);

    // A new picture at the peer: exactly one more draft.
    published(&peer, &pc, &content("group", "AMBER")).await;
    poll_to_end(&home, &sec, &id, 10).await;
    assert_eq!(scalar(&home, drafts, org).await, 4);

    // Every page was access-logged, none failed, and no record holds the credentials.
    let pages = get_peer(&home, &sec, &id).await["health"]["pages_imported"].as_i64().unwrap();
    let logged =
        "SELECT count(*) FROM access_log WHERE action = 'peer.pull' AND organisation_id = $1 AND outcome = 'allowed'";
    home.seal_log().await;
    assert_eq!(scalar(&home, logged, org).await, pages);
    let log = access_log_text(&home).await;
    assert!(!log.contains(&key), "the access log holds the peer's credentials");
    drop(key_dir);
}

#[tokio::test]
async fn added_after_set_to_the_last_date_added_of_a_page_returns_nothing_already_read() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    published(&app, &c, &content("group", "AMBER")).await;
    published(&app, &c, &content("group", "AMBER")).await;
    let base = format!("/taxii2/api/collections/{}/objects/", ids::collection(Tier::Group));
    let get = |q: String| {
        let (app, token) = (&app, c.b_reader.clone());
        async move {
            let res = app.client.get(app.url(&q)).bearer_auth(token).header("accept", ACCEPT).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let last = res.headers().get("x-taxii-date-added-last").map(|v| v.to_str().unwrap().to_owned());
            (res.json::<Value>().await.unwrap(), last)
        }
    };
    let (all, last) = get(base.clone()).await;
    assert_eq!(all["objects"].as_array().unwrap().iter().filter(|o| o["type"] == "report").count(), 2);
    let (after, _) = get(format!("{base}?added_after={}", last.unwrap())).await;
    assert!(after.get("objects").is_none(), "added_after is exclusive: {after}");
    assert_eq!(after["more"], false);
    // The first report's date_added as added_after leaves the first out, keeps the second.
    let manifest = format!("/taxii2/api/collections/{}/manifest/?match[type]=report", ids::collection(Tier::Group));
    let (m, _) = get(manifest.clone()).await;
    let first = m["objects"][0]["date_added"].as_str().unwrap().to_owned();
    let (m2, _) = get(format!("{manifest}&added_after={first}")).await;
    let left: Vec<&Value> = m2["objects"].as_array().unwrap().iter().collect();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0]["id"], m["objects"][0]["id"]);
}

#[tokio::test]
async fn a_red_report_from_a_peer_never_leaves_at_a_looser_tlp() {
    let peer = TestApp::spawn().await;
    let pc = cast(&peer).await;
    let mut red = content("named", "RED");
    red["named_recipients"] = json!([peer.org("B")]);
    published(&peer, &pc, &red).await;
    let (_, key) = service_account(&peer, "B", &["reader"]).await;

    let home = TestApp::spawn_with(home_settings).await;
    let hc = cast(&home).await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = secretariat(&home).await;
    let org = home.org("A");
    let created = create_peer(&home, &sec, &peer_body("red peer", &peer, Tier::Named, &key, org, importer)).await;
    poll_to_end(&home, &sec, created["id"].as_str().unwrap(), 10).await;
    let row = home
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT id, tlp, tier, named_recipients FROM pictures WHERE originator_id = $1", &[&org])
        .await
        .unwrap();
    let (picture, tlp, tier, recipients): (Uuid, String, String, Vec<Uuid>) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((tlp.as_str(), tier.as_str(), recipients), ("RED", "named", vec![org]));
    let id = picture.to_string();

    // Nobody loosens it: not the author, whatever else changes with it.
    for loosened in [json!({"tlp": "AMBER", "tier": "group", "named_recipients": []}), json!({"tlp": "AMBER+STRICT"})] {
        let res = revise(&home, &hc.author, &id, &loosened).await;
        let body = problem(res, 422).await;
        assert!(body.to_string().contains("looser_than_received"), "{loosened}: {body}");
    }
    // A RED revision naming B as well is allowed (not looser), and it is published RED.
    let res = revise(&home, &hc.author, &id, &json!({"named_recipients": [org, home.org("B")]})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(act(&home, &hc.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&home, &hc.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&home, &hc.approver, &id, "publish").await.status(), 200);

    // Read back as readers of every reach: B (named) gets it RED; V and R nowhere.
    let report = ids::report(picture).to_string();
    for (token, sees) in [(&hc.b_reader, true), (&hc.v_reader, false), (&hc.r_reader, false)] {
        let rest = home.get(&format!("/api/v1/pictures/{id}"), Some(token)).await;
        if sees {
            assert_eq!(rest.status(), 200);
            assert_eq!(rest.json::<Value>().await.unwrap()["tlp"], "RED");
        } else {
            assert_eq!(rest.status(), 404);
        }
        let mut in_taxii = Vec::new();
        for tier in [Tier::Named, Tier::Group, Tier::GroupVirt, Tier::GroupVirtRas, Tier::Public] {
            let res = home
                .client
                .get(
                    home.url(&format!("/taxii2/api/collections/{}/objects/?match[type]=report", ids::collection(tier))),
                )
                .bearer_auth(token)
                .header("accept", ACCEPT)
                .send()
                .await
                .unwrap();
            if res.status() != 200 {
                continue;
            }
            let page: Value = res.json().await.unwrap();
            for o in page["objects"].as_array().into_iter().flatten().filter(|o| o["id"] == report.as_str()) {
                in_taxii.push(o["object_marking_refs"].clone());
            }
        }
        let red = json!([sitrep_stix::tlp::marking_id(sitrep_types::Tlp::Red)]);
        if sees {
            assert_eq!(in_taxii, vec![red], "B gets the report once, marked RED");
        } else {
            assert!(in_taxii.is_empty(), "a reader outside the named recipients got the report: {in_taxii:?}");
        }
        // The feed holds events back for a moment: B waits for its event; the others are
        // read after B got it.
        let mut events = Vec::new();
        for _ in 0..50 {
            let feed: Value = home.get("/api/v1/feed", Some(token)).await.json().await.unwrap();
            events =
                feed["events"].as_array().unwrap().iter().filter(|e| e["picture_id"] == id.as_str()).cloned().collect();
            if !events.is_empty() || !sees {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(!events.is_empty(), sees, "{events:?}");
        assert!(events.iter().all(|e| e["tlp"] == "RED"), "{events:?}");
    }
}

#[tokio::test]
async fn only_the_secretariat_manages_peers_and_credentials_never_come_back() {
    let peer = TestApp::spawn().await;
    let (_, key) = service_account(&peer, "B", &["reader"]).await;
    let home = TestApp::spawn_with(home_settings).await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = secretariat(&home).await;
    let org = home.org("A");
    let body = peer_body("guarded", &peer, Tier::Group, &key, org, importer);
    let created = create_peer(&home, &sec, &body).await;
    let id = created["id"].as_str().unwrap().to_owned();

    let mut others = Vec::new();
    for (name, org_code, role) in [
        ("a.admin.peers", "A", Role::OrgAdmin),
        ("a.author.peers", "A", Role::Author),
        ("a.approver.peers", "A", Role::Approver),
        ("s.reader.peers", "S", Role::Reader),
        ("s.auditor.peers", "S", Role::Auditor),
        ("s.sysadmin.peers", "S", Role::Sysadmin),
    ] {
        let u = home.seed_user(name, org_code, &[role]).await;
        others.push(home.token(&u).await);
    }
    let (_, service) = service_account(&home, "A", &["author", "reader"]).await;
    others.push(service);
    for token in &others {
        for res in [
            home.get("/api/v1/peers", Some(token)).await,
            home.get(&format!("/api/v1/peers/{id}"), Some(token)).await,
            home.post_json("/api/v1/peers", Some(token), &json!({"name": "x"})).await,
            home.post_json("/api/v1/peers", Some(token), &body).await,
            home.patch_json(&format!("/api/v1/peers/{id}"), token, &json!({"active": false})).await,
            home.post_json(&format!("/api/v1/peers/{id}/poll"), Some(token), &json!({})).await,
        ] {
            assert_eq!(res.status(), 403, "{}", res.url());
        }
    }
    assert_eq!(home.get("/api/v1/peers", None).await.status(), 401);

    // No answer carries the credentials: create, read, list, change, poll.
    let mut texts = vec![created.to_string()];
    texts.push(home.get("/api/v1/peers", Some(&sec)).await.text().await.unwrap());
    texts.push(home.get(&format!("/api/v1/peers/{id}"), Some(&sec)).await.text().await.unwrap());
    let new_secret = format!("{key}-rotated-never-shown");
    let res =
        home.patch_json(&format!("/api/v1/peers/{id}"), &sec, &json!({"credentials": {"secret": new_secret}})).await;
    assert_eq!(res.status(), 200);
    texts.push(res.text().await.unwrap());
    texts.push(home.post_json(&format!("/api/v1/peers/{id}/poll"), Some(&sec), &json!({})).await.text().await.unwrap());
    for t in &texts {
        assert!(!t.contains(&key) && !t.contains("rotated-never-shown"), "credentials in an answer: {t}");
    }
    // The wrong (rotated) key is refused by the peer: health says so, without the key.
    let after = wait_poll(&home, &sec, &id, &get_peer(&home, &sec, &id).await).await;
    let error = after["health"]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("401"), "{after}");
    // Not in the access log, not in clear in the database.
    let log = access_log_text(&home).await;
    assert!(!log.contains(&key) && !log.contains("rotated-never-shown"));
    let sealed: Vec<u8> = home
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT sealed_credentials FROM taxii_peers WHERE id = $1", &[&id.parse::<Uuid>().unwrap()])
        .await
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("rotated-never-shown"));
    // A sealed value moved to another peer does not open there.
    let mut other = peer_body("second", &peer, Tier::Group, &key, org, importer);
    other["active"] = json!(false);
    let res = home.post_json("/api/v1/peers", Some(&sec), &other).await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    let client = home.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE taxii_peers SET sealed_credentials = (SELECT sealed_credentials FROM taxii_peers WHERE id = $1), \
             active = true, next_poll_at = now() WHERE id = $2",
            &[&id.parse::<Uuid>().unwrap(), &second["id"].as_str().unwrap().parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let due = get_peer(&home, &sec, second["id"].as_str().unwrap()).await;
    let moved = wait_poll(&home, &sec, second["id"].as_str().unwrap(), &due).await;
    assert!(moved["health"]["last_error"].as_str().unwrap().contains("do not open"), "{moved}");
    home.seal_log().await;
    let unopened = "SELECT count(*) FROM access_log WHERE action = 'peer.pull' AND outcome = 'failed' \
                    AND organisation_id = $1 AND reason LIKE '%do not open%'";
    assert_eq!(scalar(&home, unopened, org).await, 1, "the poll that sent nothing is access-logged");
}

#[tokio::test]
async fn a_peer_imports_only_into_its_organisation_as_a_service_account_that_writes_there() {
    let peer = TestApp::spawn().await;
    let (_, key) = service_account(&peer, "B", &["reader"]).await;
    let home = TestApp::spawn_with(home_settings).await;
    let (a_author, _) = service_account(&home, "A", &["author"]).await;
    let (a_reader, _) = service_account(&home, "A", &["reader"]).await;
    let (b_author, _) = service_account(&home, "B", &["author"]).await;
    let sec = secretariat(&home).await;
    let a = home.org("A");
    let user = home.seed_user("a.person.peers", "A", &[Role::Author]).await;
    for (account, why) in [
        (b_author, "unknown_service_account"),
        (a_reader, "cannot_write_inbox"),
        (user.id, "unknown_service_account"),
        (Uuid::new_v4(), "unknown_service_account"),
    ] {
        let res =
            home.post_json("/api/v1/peers", Some(&sec), &peer_body("p", &peer, Tier::Group, &key, a, account)).await;
        let body = problem(res, 422).await;
        assert!(body.to_string().contains(why), "{body}");
    }
    let created = create_peer(&home, &sec, &peer_body("p", &peer, Tier::Group, &key, a, a_author)).await;
    let id = created["id"].as_str().unwrap();
    // Moving the peer to organisation B without a service account of B is refused.
    let res = home.patch_json(&format!("/api/v1/peers/{id}"), &sec, &json!({"organisation_id": home.org("B")})).await;
    problem(res, 422).await;
    // An account that loses its role stops the peer (health says why); nothing is
    // imported as it.
    home.pool
        .get()
        .await
        .unwrap()
        .execute("UPDATE memberships SET roles = '{reader}' WHERE user_id = $1", &[&a_author])
        .await
        .unwrap();
    let after = poll(&home, &sec, id).await;
    assert!(after["health"]["last_error"].as_str().unwrap().contains("service account"), "{after}");
    assert_eq!(after["health"]["pages_imported"], created["health"]["pages_imported"]);
    home.seal_log().await;
    let failed = "SELECT count(*) FROM access_log WHERE action = 'peer.pull' AND outcome = 'failed' \
                  AND organisation_id = $1 AND reason LIKE '%service account%'";
    assert_eq!(scalar(&home, failed, a).await, 1, "the refused poll is access-logged");
}

#[tokio::test]
async fn a_peer_url_obeys_the_outbound_rules_of_webhooks() {
    // Private and loopback targets are refused here (the default configuration).
    let home = TestApp::spawn_with(|s| s.peers.tick_ms = 100).await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = secretariat(&home).await;
    let base = |url: &str| {
        json!({"name": "x", "api_root": url, "collection_id": "c1", "organisation_id": home.org("A"),
               "service_account_id": importer})
    };
    for url in [
        "https://127.0.0.1:8443/taxii2/api/",
        "https://[::1]/taxii2/api/",
        "https://169.254.169.254/taxii2/api/",
        "https://10.0.0.1/taxii2/api/",
        "https://[fe80::1]/taxii2/api/",
        "https://[::ffff:127.0.0.1]/taxii2/api/",
        "http://taxii.example/taxii2/api/",
        "https://user:pw@taxii.example/taxii2/api/",
        "https://taxii.example/taxii2/api",
        "https://taxii.example/taxii2/api/?x=1",
        "file:///etc/passwd/",
    ] {
        let res = home.post_json("/api/v1/peers", Some(&sec), &base(url)).await;
        assert_eq!(res.status(), 422, "{url}");
    }
    // A CA certificate one byte longer than the limit is that field's error, not a body
    // too large: the limit leaves the body room for it (the document states it).
    let mut body = base("https://taxii.example/taxii2/api/");
    body["ca_pem"] = json!("a".repeat(sitrep_api::routes::peers::CA_PEM_MAX + 1));
    let problem = crate::helpers::problem(home.post_json("/api/v1/peers", Some(&sec), &body).await, 422).await;
    assert!(problem.to_string().contains("ca_pem"), "{problem}");
    // A name is checked on the address connected to: localhost resolves to loopback.
    let res = home.post_json("/api/v1/peers", Some(&sec), &base("https://localhost:9/taxii2/api/")).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let after = wait_poll(&home, &sec, created["id"].as_str().unwrap(), &created).await;
    let error = after["health"]["last_error"].as_str().unwrap();
    assert!(error.contains("could not connect"), "{after}");
    assert!(after["health"]["last_success_at"].is_null());
    // The poll was access-logged as failed.
    home.seal_log().await;
    let failed =
        "SELECT count(*) FROM access_log WHERE action = 'peer.pull' AND outcome = 'failed' AND organisation_id = $1";
    assert!(scalar(&home, failed, home.org("A")).await >= 1);
}

/// A TAXII "server" of the test's own that misbehaves by path: `/huge/` a page larger than
/// the limit, `/endless/` `more` with a new `next` for ever, `/alternating/` `more` with
/// `next` `a`, `b`, `a`, … for ever, `/garbage/` no JSON,
/// `/slow/` an answer after 20 s, `/late/` an empty last page after 1.5 s.
async fn hostile(dir: &std::path::Path) -> (String, String, actix_web::dev::ServerHandle) {
    let OwnHttps { listener, port, config, cert } = OwnHttps::new(dir, "hostile-tls");
    let counter = Arc::new(AtomicU64::new(0));
    let turn = Arc::new(AtomicU64::new(0));
    let server = HttpServer::new(move || {
        let (counter, turn) = (counter.clone(), turn.clone());
        App::new().default_service(web::to(move |req: HttpRequest| {
            let (counter, turn) = (counter.clone(), turn.clone());
            async move {
                let json = |body: String| HttpResponse::Ok().content_type(ACCEPT).body(body);
                match req.path().split('/').nth(1).unwrap_or_default() {
                    "huge" => json(format!("{{\"objects\": [], \"pad\": \"{}\"}}", "x".repeat(2_000_000))),
                    "endless" => {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        json(format!("{{\"more\": true, \"next\": \"n{n}\"}}"))
                    }
                    "alternating" => {
                        let n = turn.fetch_add(1, Ordering::SeqCst);
                        json(format!("{{\"more\": true, \"next\": \"{}\"}}", if n % 2 == 0 { "a" } else { "b" }))
                    }
                    "garbage" => json("{\"objects\": [ {\"type\": \"report\", ".into()),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(20)).await;
                        json("{}".into())
                    }
                    "late" => {
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                        HttpResponse::Ok()
                            .content_type(ACCEPT)
                            .insert_header(("X-TAXII-Date-Added-Last", "2027-01-01T00:00:00.000000Z"))
                            .body("{\"more\": false}")
                    }
                    _ => HttpResponse::NotFound().finish(),
                }
            }
        }))
    })
    .workers(2)
    .listen_rustls_0_23(listener, config)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("https://127.0.0.1:{port}"), std::fs::read_to_string(cert).unwrap(), handle)
}

#[tokio::test]
async fn hostile_peers_stop_only_themselves_and_their_health_says_why() {
    let good = TestApp::spawn().await;
    let gc = cast(&good).await;
    published(&good, &gc, &content("group", "AMBER")).await;
    let (_, key) = service_account(&good, "B", &["reader"]).await;
    let home = TestApp::spawn_with(|s| {
        home_settings(s);
        s.peers.max_pages_per_poll = 5;
        s.peers.max_walk_pages = 5;
    })
    .await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = secretariat(&home).await;
    let org = home.org("A");
    let (address, cert, handle) = hostile(&home.data_dir).await;

    let mut hostile_ids = Vec::new();
    for mode in ["slow", "huge", "endless", "alternating", "garbage"] {
        let body = json!({"name": mode, "api_root": format!("{address}/{mode}/"), "collection_id": "c1",
            "organisation_id": org, "service_account_id": importer, "ca_pem": cert, "poll_interval_secs": 3600});
        let res = home.post_json("/api/v1/peers", Some(&sec), &body).await;
        assert_eq!(res.status(), 201);
        hostile_ids.push((mode, res.json::<Value>().await.unwrap()));
    }
    // The good peer, configured after the hostile ones, is pulled while they misbehave.
    let created = create_peer(&home, &sec, &peer_body("good", &good, Tier::Group, &key, org, importer)).await;
    let done = poll_to_end(&home, &sec, created["id"].as_str().unwrap(), 10).await;
    assert!(done["health"]["last_error"].is_null(), "{done}");
    assert_eq!(scalar(&home, "SELECT count(*) FROM pictures WHERE originator_id = $1", org).await, 1);

    for (mode, created) in &hostile_ids {
        let id = created["id"].as_str().unwrap();
        let after = wait_poll(&home, &sec, id, created).await;
        let error = after["health"]["last_error"].as_str().unwrap_or_default().to_owned();
        let expected = match *mode {
            "slow" => "did not answer in time",
            "huge" => "larger than 1000000 bytes",
            "endless" => "did not end after 5 pages",
            // Stopped at the first `next` given again, before the walk's limit.
            "alternating" => "a next it had given before",
            _ => "not JSON",
        };
        assert!(error.contains(expected), "{mode}: {after}");
        if *mode == "alternating" {
            assert_eq!(after["health"]["pages_imported"], 3, "{after}");
        }
        assert!(
            after["health"]["last_success_at"].is_null() || ["endless", "alternating"].contains(mode),
            "{mode}: {after}"
        );
    }
    // The worker still runs: the good peer is polled again.
    let again = poll(&home, &sec, created["id"].as_str().unwrap()).await;
    assert!(again["health"]["last_error"].is_null(), "{again}");
    handle.stop(false).await;
}

#[tokio::test]
async fn a_poll_that_lost_its_lease_writes_nothing() {
    let home = TestApp::spawn_with(home_settings).await;
    let (importer, _) = service_account(&home, "A", &["author"]).await;
    let sec = secretariat(&home).await;
    let (address, cert, handle) = hostile(&home.data_dir).await;
    let body = json!({"name": "late", "api_root": format!("{address}/late/"), "collection_id": "c1",
        "organisation_id": home.org("A"), "service_account_id": importer, "ca_pem": cert, "poll_interval_secs": 3600});
    let res = home.post_json("/api/v1/peers", Some(&sec), &body).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    // Claimed: while its request is out, another worker takes the peer over.
    let client = home.pool.get().await.unwrap();
    let mut taken = 0;
    for _ in 0..100 {
        taken = client
            .execute(
                "UPDATE taxii_peers SET lease_token = gen_random_uuid(), lease_until = now() + interval '1 hour' \
                 WHERE id = $1 AND lease_token IS NOT NULL",
                &[&id],
            )
            .await
            .unwrap();
        if taken == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(taken, 1, "the worker claimed the peer");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = get_peer(&home, &sec, &id.to_string()).await;
    assert_eq!(after["health"]["pages_imported"], 0, "{after}");
    assert!(after["health"]["added_after"].is_null(), "{after}");
    assert!(after["health"]["last_error"].is_null(), "the old poll's end was not written: {after}");
    assert_eq!(after["health"]["next_poll_at"], created["health"]["next_poll_at"]);
    handle.stop(false).await;
}
