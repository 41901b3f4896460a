//! The live stream over HTTPS: live events, resume with Last-Event-ID across two server
//! processes, a revoked session ends it, a client that does not read is cut.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_database};
use crate::pictures::{cast, content, published};

/// Reads SSE frames until `want` events arrived or 10 s passed; returns `(id, type, data)`.
async fn read_events(res: &mut reqwest::Response, want: usize) -> Vec<(String, String, Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < want {
        let chunk = match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            if let (Some(id), Some(kind), Some(data)) = (field("id: "), field("event: "), field("data: ")) {
                events.push((id, kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

async fn open(app: &TestApp, token: &str, last: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/api/v1/stream")).bearer_auth(token);
    if let Some(id) = last {
        req = req.header("last-event-id", id);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    res
}

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
    // Processes behind one load balancer share the signing keys.
    let keys = one.data_dir.join("keys");
    let mut two = TestApp::spawn_on(&db, move |s| s.auth.keys_dir = Some(keys)).await;
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
