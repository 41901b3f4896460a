//! The live stream over HTTPS: live events, resume with Last-Event-ID across two server
//! processes, a revoked session ends it, a client that does not read is cut; one shared
//! read feeds many streams of several organisations exactly what each may see; an ended
//! membership stops a stream; a resume catches up past many events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::pictures::{cast, content, published};
use crate::helpers::stream::{open, read_events};
use crate::helpers::{TestApp, fresh_database};

#[tokio::test]
async fn events_arrive_live_and_resume_across_two_server_processes() {
    let db = fresh_database().await;
    let mut one = TestApp::spawn_on(&db, |_| {}).await;
    for (code, reach) in [
        ("A", sitrep_types::Reach::Member),
        ("B", sitrep_types::Reach::Member),
        ("V", sitrep_types::Reach::Virt),
        ("R", sitrep_types::Reach::RasContactPoint),
        ("S", sitrep_types::Reach::Member),
    ] {
        let id = one.seed_org(&format!("ORG-{code}"), reach).await;
        one.orgs.insert(code.to_owned(), id);
    }
    // Processes behind one load balancer share the signing keys and the seal key (from
    // which the key of stream ids is derived).
    let (keys, seal) = (one.data_dir.join("keys"), one.data_dir.join("secrets/totp-seal.key"));
    let mut two = TestApp::spawn_on(&db, move |s| {
        s.auth.keys_dir = Some(keys);
        s.auth.totp_seal_key_file = Some(seal);
    })
    .await;
    two.orgs = one.orgs.clone();
    let cast = cast(&one).await;

    // A stream on process two sees what is published through process one.
    let mut live = open(&two, &cast.b_reader, None).await;
    let first = published(&one, &cast, &content("group", "AMBER")).await;
    let got = read_events(&mut live, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].1.as_str(), got[0].2["picture_id"].as_str()), ("picture.published", Some(first.as_str())));
    drop(live);

    // Published while nobody listens; resumed on process one from the last id seen.
    let second = published(&one, &cast, &content("group", "AMBER")).await;
    let mut resumed = open(&one, &cast.b_reader, Some(&got[0].0)).await;
    let more = read_events(&mut resumed, 1).await;
    assert_eq!(more[0].2["picture_id"].as_str(), Some(second.as_str()));

    // Another user's Last-Event-ID is refused.
    let res = one
        .client
        .get(one.url("/api/v1/stream"))
        .bearer_auth(&cast.v_reader)
        .header("last-event-id", &got[0].0)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn logging_out_ends_the_stream() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut live = open(&app, &cast.b_reader, None).await;
    let res = app.post_json("/api/v1/auth/logout", Some(&cast.b_reader), &json!({})).await;
    assert_eq!(res.status(), 204);
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = live.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream closes within seconds of the logout");
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected_not_buffered() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let mut res = open(&app, &cast.b_reader, None).await;
    // 20,000 events at once (several MB of frames) to a client that reads nothing.
    let client = app.pool.get().await.unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO events (id, type, picture_id, revision, tier, tlp) \
             SELECT gen_random_uuid(), 'picture.revised', '{id}', 1, 'group', 'AMBER' FROM generate_series(1, 20000); \
             SELECT pg_notify('sitrep_events', '');"
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut frames = 0;
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(c)) = res.chunk().await {
            frames += String::from_utf8_lossy(&c).matches("event: picture.revised").count();
        }
    })
    .await;
    assert!(drained.is_ok(), "the server ended the stream");
    assert!(frames < 20_000, "the slow client was cut before everything was buffered for it ({frames} frames)");
}

/// Reads SSE frames until `last` holds for one (included) or 15 s passed.
async fn read_until(res: &mut reqwest::Response, last: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let chunk = match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => return events,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            if let (Some(kind), Some(data)) = (field("event: "), field("data: ")) {
                let data: Value = serde_json::from_str(&data).unwrap();
                let done = last(&kind, &data);
                events.push((kind, data));
                if done {
                    return events;
                }
            }
        }
    }
}

/// `(type, picture id)` of each event.
fn kinds(events: &[(String, Value)]) -> Vec<(String, String)> {
    events.iter().map(|(k, d)| (k.clone(), d["picture_id"].as_str().unwrap().to_owned())).collect()
}

/// The whole pull feed of `token`, once it holds an event for which `last` holds.
async fn whole_feed(app: &TestApp, token: &str, last: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
    for _ in 0..50 {
        let page: Value = app.get("/api/v1/feed?limit=200", Some(token)).await.json().await.unwrap();
        let events: Vec<(String, Value)> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["type"].as_str().unwrap().to_owned(), e.clone()))
            .collect();
        if events.iter().any(|(k, d)| last(k, d)) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the feed never showed the last event");
}

async fn insert_event(app: &TestApp, kind: &str, picture: &str, tier: &str, recipients: Option<uuid::Uuid>) {
    let client = app.pool.get().await.unwrap();
    let picture: uuid::Uuid = picture.parse().unwrap();
    let recipients: Option<Vec<uuid::Uuid>> = recipients.map(|r| vec![r]);
    client
        .execute(
            "INSERT INTO events (id, type, picture_id, revision, tier, tlp, recipients) \
             VALUES (gen_random_uuid(), $1, $2, 1, $3, 'AMBER', $4)",
            &[&kind, &picture, &tier, &recipients],
        )
        .await
        .unwrap();
    client.execute("SELECT pg_notify('sitrep_events', '')", &[]).await.unwrap();
}

#[tokio::test]
async fn one_read_feeds_many_streams_of_every_organisation_exactly_what_each_may_see() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    // Three streams each for readers of A (the originator), B (member), V (VIRT) and R (RAS).
    let tokens = [("A", &cast.author), ("B", &cast.b_reader), ("V", &cast.v_reader), ("R", &cast.r_reader)];
    let mut streams = Vec::new();
    for (org, token) in tokens {
        for _ in 0..3 {
            let res = open(&app, token, None).await;
            let request = crate::helpers::request_id(&res);
            streams.push((org, token.as_str(), request, res));
        }
    }
    let group = published(&app, &cast, &content("group", "AMBER")).await;
    let virt = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let ras = published(&app, &cast, &content("group_virt_ras", "GREEN")).await;
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("V")]);
    let named = published(&app, &cast, &named).await;
    // An event addressed to R alone (as a recall is), of a picture R does not see.
    insert_event(&app, "picture.recalled", &group, "group", Some(app.org("R"))).await;
    // The last event, which everyone receives.
    insert_event(&app, "picture.revised", &ras, "group_virt_ras", None).await;
    let last = |kind: &str, d: &Value| kind == "picture.revised" && d["picture_id"] == ras.as_str();

    let published_of = |ids: &[&str]| -> Vec<(String, String)> {
        ids.iter().map(|id| ("picture.published".to_owned(), (*id).to_owned())).collect()
    };
    let revised = ("picture.revised".to_owned(), ras.clone());
    let mut expected = std::collections::HashMap::new();
    expected.insert("A", [published_of(&[&group, &virt, &ras, &named]), vec![revised.clone()]].concat());
    expected.insert("B", [published_of(&[&group, &virt, &ras]), vec![revised.clone()]].concat());
    expected.insert("V", [published_of(&[&virt, &ras, &named]), vec![revised.clone()]].concat());
    expected.insert(
        "R",
        [published_of(&[&ras]), vec![("picture.recalled".to_owned(), group.clone()), revised.clone()]].concat(),
    );
    for (org, token, request, mut res) in streams {
        let got = kinds(&read_until(&mut res, last).await);
        assert_eq!(got, expected[org], "the stream of {org}");
        // The pull feed (the SQL predicate) agrees with the stream (the same rule in memory).
        assert_eq!(kinds(&whole_feed(&app, token, last).await), got, "feed and stream of {org}");
        // Every push was recorded, before it was sent, for this stream's request.
        let pushed: Vec<String> = app
            .audit_records(&request)
            .await
            .into_iter()
            .filter(|r| r.action == "stream.push")
            .flat_map(|r| {
                let ids = r.object_ids.unwrap();
                assert_eq!(r.reason, Some(format!("events:{}", ids.len())));
                ids
            })
            .map(|id| id.to_string())
            .collect();
        let sent: Vec<String> = got.into_iter().map(|(_, id)| id).collect();
        assert_eq!(pushed, sent, "the access log of {org}'s stream names what it was sent");
    }
    // The pushes' records, appended many at a time, keep the chain intact.
    crate::helpers::process::assert_chain_intact(&app);
}

#[tokio::test]
async fn a_stream_whose_membership_ends_gets_no_further_event() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let leaving = app.seed_user("b.leaving", "B", &[sitrep_types::Role::Reader]).await;
    let mut ending = open(&app, &app.token(&leaving).await, None).await;
    let mut staying = open(&app, &cast.b_reader, None).await;
    let first = published(&app, &cast, &content("group", "AMBER")).await;
    for res in [&mut ending, &mut staying] {
        let got = read_events(res, 1).await;
        assert_eq!(got[0].2["picture_id"].as_str(), Some(first.as_str()));
    }
    let client = app.pool.get().await.unwrap();
    client.execute("UPDATE memberships SET valid_until = now() WHERE user_id = $1", &[&leaving.id]).await.unwrap();
    let second = published(&app, &cast, &content("group", "AMBER")).await;
    let got = read_events(&mut staying, 1).await;
    assert_eq!(got[0].2["picture_id"].as_str(), Some(second.as_str()));
    let mut rest = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(c)) = ending.chunk().await {
            rest.push_str(&String::from_utf8_lossy(&c));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream of an ended membership closes");
    assert!(!rest.contains(second.as_str()), "nothing published after the membership ended reached it: {rest}");
}

#[tokio::test]
async fn a_resumed_stream_catches_up_past_many_events_then_goes_on_live_without_repeats() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut live = open(&app, &cast.b_reader, None).await;
    let first = published(&app, &cast, &content("group", "AMBER")).await;
    let got = read_events(&mut live, 1).await;
    drop(live);
    // 300 events while nobody listens, every other one of a picture B does not see.
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("V")]);
    let hidden = published(&app, &cast, &named).await;
    let client = app.pool.get().await.unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO events (id, type, picture_id, revision, tier, tlp) \
             SELECT gen_random_uuid(), 'picture.revised', CASE WHEN i % 2 = 0 THEN '{first}'::uuid ELSE '{hidden}'::uuid END, \
                    1, 'group', 'AMBER' FROM generate_series(1, 300) i; \
             SELECT pg_notify('sitrep_events', '');"
        ))
        .await
        .unwrap();
    let mut resumed = open(&app, &cast.b_reader, Some(&got[0].0)).await;
    let request = crate::helpers::request_id(&resumed);
    let caught = read_events(&mut resumed, 150).await;
    assert_eq!(caught.len(), 150);
    assert!(caught.iter().all(|(_, k, d)| k == "picture.revised" && d["picture_id"] == first.as_str()));
    let third = published(&app, &cast, &content("group", "AMBER")).await;
    let next = read_events(&mut resumed, 1).await;
    assert_eq!((next[0].1.as_str(), next[0].2["picture_id"].as_str()), ("picture.published", Some(third.as_str())));
    let pushed: usize = app
        .audit_records(&request)
        .await
        .iter()
        .filter(|r| r.action == "stream.push")
        .map(|r| r.object_ids.as_ref().unwrap().len())
        .sum();
    assert_eq!(pushed, 151, "every event sent was recorded once");
}
