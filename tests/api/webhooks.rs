//! Subscriptions and signed webhooks, end to end: the real worker, an HTTPS receiver on
//! loopback, retries, the failing mark, replay, recall, refused targets.

use std::time::Duration;

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{Cast, act, cast, content, published, revise};
use crate::helpers::receiver::Receiver;
use crate::helpers::{TestApp, problem};

struct Setup {
    app: TestApp,
    cast: Cast,
    secretariat: String,
    receiver: Receiver,
}

async fn setup() -> Setup {
    let dir = std::env::temp_dir().join(format!("sitrep-receiver-{}", uuid::Uuid::new_v4().simple()));
    let receiver = Receiver::start(&dir).await;
    let cert = receiver.cert.clone();
    let app = TestApp::spawn_with(move |s| {
        s.delivery.allow_private_targets = true;
        s.delivery.extra_root_certificates = vec![cert];
        s.delivery.poll_ms = 50;
        s.delivery.retry_schedule_secs = vec![1, 1, 1];
        s.delivery.retry_scale = 0.05;
    })
    .await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let secretariat = app.token(&sec).await;
    let res = app.post_json("/api/v1/webhook-hosts", Some(&secretariat), &json!({"host": "127.0.0.1"})).await;
    assert_eq!(res.status(), 201);
    Setup { app, cast, secretariat, receiver }
}

async fn subscribe(s: &Setup, org: &str, filter: Value) -> Value {
    let body =
        json!({"organisation_id": s.app.org(org), "name": "SOC", "webhook_url": s.receiver.url, "filter": filter});
    let res = s.app.post_json("/api/v1/subscriptions", Some(&s.secretariat), &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

fn event_types(received: &[crate::helpers::receiver::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_subscriber_receives_signed_thin_events_of_what_it_may_see_and_nothing_else() {
    let s = setup().await;
    let sub = subscribe(&s, "V", json!({})).await;
    let secret = sub["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let shown: Value = s
        .app
        .get(&format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap()), Some(&s.secretariat))
        .await
        .json()
        .await
        .unwrap();
    assert!(shown.get("secret").is_none(), "the secret is shown once");

    let _hidden = published(&s.app, &s.cast, &content("group", "AMBER")).await;
    let seen = published(&s.app, &s.cast, &content("group_virt", "AMBER")).await;
    let got = s.receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = if got.len() == 1 { s.receiver.received.lock().unwrap().clone() } else { got };
    assert_eq!(got.len(), 1, "V receives the group_virt picture only");
    let r = &got[0];
    assert!(sitrep_delivery::signing::verify(&secret, &r.id, r.timestamp, &r.body, &r.signature));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "picture.published");
    assert_eq!(body["data"]["picture_id"], json!(seen));
    assert_eq!(body["data"]["id"], json!(r.id));
    assert!(body["data"].get("title").is_none() && !String::from_utf8_lossy(&r.body).contains("Harhaanjohtava"));

    // The delivery is logged, and so is the disclosure in the access log.
    let deliveries: Value = s
        .app
        .get(&format!("/api/v1/subscriptions/{}/deliveries", sub["id"].as_str().unwrap()), Some(&s.secretariat))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deliveries[0]["state"], "delivered");
    assert_eq!(deliveries[0]["attempts"][0]["http_status"], 200);
    s.app.seal_log().await;
    let client = s.app.pool.get().await.unwrap();
    let logged: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE action = 'webhook.deliver' AND organisation_id = $1",
            &[&s.app.org("V")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_then_the_failing_mark_and_replay_delivers() {
    let s = setup().await;
    *s.receiver.status.lock().unwrap() = 500;
    let sub = subscribe(&s, "B", json!({})).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    published(&s.app, &s.cast, &content("group", "AMBER")).await;
    let got = s.receiver.wait_for(4).await;
    assert_eq!(got.len(), 4, "one attempt and three retries");
    assert!(got.iter().all(|r| r.id == got[0].id), "one webhook-id across retries");
    let mut sub_now = Value::Null;
    for _ in 0..100 {
        sub_now = s.app.get(&format!("/api/v1/subscriptions/{id}"), Some(&s.secretariat)).await.json().await.unwrap();
        if sub_now.get("failing_since").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sub_now.get("failing_since").is_some(), "the subscription is marked failing: {sub_now}");
    let deliveries: Value =
        s.app.get(&format!("/api/v1/subscriptions/{id}/deliveries"), Some(&s.secretariat)).await.json().await.unwrap();
    assert_eq!(deliveries[0]["state"], "failed");
    assert_eq!(deliveries[0]["attempts"].as_array().unwrap().len(), 4);

    *s.receiver.status.lock().unwrap() = 204;
    let res = s.app.post_json(&format!("/api/v1/subscriptions/{id}/replay"), Some(&s.secretariat), &json!({})).await;
    let replayed: Value = res.json().await.unwrap();
    assert_eq!(replayed["queued"], 1);
    s.receiver.wait_for(5).await;
    for _ in 0..100 {
        let d: Value = s
            .app
            .get(&format!("/api/v1/subscriptions/{id}/deliveries"), Some(&s.secretariat))
            .await
            .json()
            .await
            .unwrap();
        if d[0]["state"] == "delivered" {
            let sub_now: Value =
                s.app.get(&format!("/api/v1/subscriptions/{id}"), Some(&s.secretariat)).await.json().await.unwrap();
            assert!(sub_now.get("failing_since").is_none());
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replayed delivery never succeeded");
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let s = setup().await;
    *s.receiver.status.lock().unwrap() = 302;
    let sub = subscribe(&s, "B", json!({})).await;
    published(&s.app, &s.cast, &content("group", "AMBER")).await;
    s.receiver.wait_for(1).await;
    let id = sub["id"].as_str().unwrap();
    for _ in 0..100 {
        let d: Value = s
            .app
            .get(&format!("/api/v1/subscriptions/{id}/deliveries"), Some(&s.secretariat))
            .await
            .json()
            .await
            .unwrap();
        if let Some(a) = d[0]["attempts"].as_array().and_then(|a| a.first()) {
            assert_eq!(a["outcome"], "redirect_refused");
            assert_eq!(a["http_status"], 302);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no attempt recorded");
}

#[tokio::test]
async fn narrowing_sends_a_recall_and_filters_select_events() {
    let s = setup().await;
    subscribe(&s, "V", json!({"domains": ["information_influence"], "min_severity": "medium"})).await;
    let id = published(&s.app, &s.cast, &content("group_virt", "AMBER")).await;
    let mut low = content("group_virt", "AMBER");
    low["impact_on_conduct"] = json!("minor");
    low["impact_on_public_confidence"] = json!("none");
    published(&s.app, &s.cast, &low).await;
    s.receiver.wait_for(1).await;
    let res = revise(&s.app, &s.cast.author, &id, &json!({"tier": "group"})).await;
    assert_eq!(res.status(), 200);
    let got = s.receiver.wait_for(2).await;
    assert_eq!(
        event_types(&got),
        ["picture.published", "picture.recalled"],
        "the low-severity picture is filtered out"
    );
    let recall: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(recall["data"], json!({"id": got[1].id, "picture_id": id}));
}

#[tokio::test]
async fn targets_must_be_allowed_https_and_not_private() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let at = app.token(&admin).await;
    let create = |url: &str| json!({"name": "x", "webhook_url": url});
    for (url, code) in [
        ("http://hooks.example/x", "target_refused"),
        ("https://127.0.0.1:9/x", "target_refused"),
        ("https://169.254.169.254/latest", "target_refused"),
        ("https://hooks.example/x", "host_not_allowed"),
    ] {
        let res = app.post_json("/api/v1/subscriptions", Some(&at), &create(url)).await;
        assert_eq!(problem(res, 422).await["errors"][0]["code"], code, "{url}");
    }
    app.post_json("/api/v1/webhook-hosts", Some(&st), &json!({"host": "hooks.example"})).await;
    let res = app.post_json("/api/v1/subscriptions", Some(&at), &create("https://hooks.example/x")).await;
    assert_eq!(res.status(), 201);
    // An org_admin manages its own organisation's subscriptions only; readers none.
    let body = json!({"organisation_id": app.org("B"), "name": "x"});
    problem(app.post_json("/api/v1/subscriptions", Some(&at), &body).await, 403).await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let rt = app.token(&reader).await;
    problem(app.get("/api/v1/subscriptions", Some(&rt)).await, 403).await;
    problem(app.post_json("/api/v1/webhook-hosts", Some(&at), &json!({"host": "evil.example"})).await, 403).await;
    let list: Value = app.get("/api/v1/subscriptions", Some(&at)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_worker_processes_deliver_each_event_once() {
    let s = setup().await;
    subscribe(&s, "B", json!({})).await;
    // A second server process with its own worker on the same database.
    let cert = s.receiver.cert.clone();
    let db: String = s.app.pool.get().await.unwrap().query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    let url = crate::helpers::database_url(&db);
    let _second = TestApp::spawn_on(&url, move |c| {
        c.delivery.allow_private_targets = true;
        c.delivery.extra_root_certificates = vec![cert];
        c.delivery.poll_ms = 20;
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(published(&s.app, &s.cast, &content("group", "AMBER")).await);
    }
    let got = s.receiver.wait_for(12).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if got.len() >= 12 { s.receiver.received.lock().unwrap().clone() } else { got };
    let mut seen: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!((before, seen.len()), (12, 12), "every event once, none twice");
}

#[tokio::test]
async fn every_event_type_reaches_its_receiver_signed() {
    let s = setup().await;
    let b = subscribe(&s, "B", json!({})).await;
    let a = subscribe(&s, "A", json!({})).await;
    let id = published(&s.app, &s.cast, &content("group", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}");
    let res = revise(&s.app, &s.cast.approver, &id, &json!({"urgency": "immediate"})).await;
    assert_eq!(res.status(), 200);
    let res = s
        .app
        .post_json(&format!("{path}/acknowledgements"), Some(&s.cast.b_reader), &json!({"kind": "actioning"}))
        .await;
    assert_eq!(res.status(), 201);
    let res = act(&s.app, &s.cast.approver, &id, "withdraw").await;
    assert_eq!(res.status(), 200);
    // A (the originator) receives its own picture's events and the acknowledgement; B
    // the picture's events.
    let got = s.receiver.wait_for(7).await;
    let mut types = event_types(&got);
    types.sort();
    assert_eq!(
        types,
        [
            "picture.acknowledged",
            "picture.published",
            "picture.published",
            "picture.revised",
            "picture.revised",
            "picture.withdrawn",
            "picture.withdrawn"
        ]
    );
    let secrets = [a["secret"].as_str().unwrap(), b["secret"].as_str().unwrap()];
    for r in &got {
        assert!(
            secrets.iter().any(|sec| sitrep_delivery::signing::verify(sec, &r.id, r.timestamp, &r.body, &r.signature)),
            "every delivery is signed with its subscription's secret"
        );
    }
}

#[tokio::test]
async fn a_worker_that_dies_mid_delivery_loses_nothing() {
    // A server whose own worker is off: the "dead worker" below is the only one at first.
    let dir = std::env::temp_dir().join(format!("sitrep-receiver-{}", uuid::Uuid::new_v4().simple()));
    let receiver = Receiver::start(&dir).await;
    let cert = receiver.cert.clone();
    let app = TestApp::spawn_with(|s| {
        s.delivery.worker = false;
        s.delivery.allow_private_targets = true;
    })
    .await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    app.post_json("/api/v1/webhook-hosts", Some(&st), &json!({"host": "127.0.0.1"})).await;
    let body = json!({"organisation_id": app.org("B"), "name": "SOC", "webhook_url": receiver.url});
    assert_eq!(app.post_json("/api/v1/subscriptions", Some(&st), &body).await.status(), 201);
    published(&app, &cast, &content("group", "AMBER")).await;

    // The dying worker fans out and claims the delivery under a 1 s lease, commits, and
    // is killed before sending or settling anything.
    let mut client = app.pool.get().await.unwrap();
    let mut claimed = Vec::new();
    for _ in 0..100 {
        let tx = client.transaction().await.unwrap();
        sitrep_db::subscriptions::fan_out(&tx, 100).await.unwrap();
        claimed = sitrep_db::subscriptions::claim(&tx, 1.0, 100).await.unwrap();
        tx.commit().await.unwrap();
        if !claimed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(claimed.len(), 1);
    drop(client);

    // Another process's worker takes over once the lease has expired, and delivers.
    let db: String = app.pool.get().await.unwrap().query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    let keys = app.data_dir.join("keys");
    let _survivor = TestApp::spawn_on(&crate::helpers::database_url(&db), move |c| {
        c.auth.keys_dir = Some(keys);
        c.delivery.allow_private_targets = true;
        c.delivery.extra_root_certificates = vec![cert];
        c.delivery.poll_ms = 50;
    })
    .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "the claimed but unsent delivery is sent by the survivor");
    assert_eq!(event_types(&got), ["picture.published"]);
}
