//! Faults (security.md §7.2): the server killed in the middle of writes, the database
//! going away under load, the access log refusing a record. Committed work survives
//! whole, unfinished work leaves nothing, and a read whose record cannot be written
//! fails closed. (Two processes writing at once into one chain: processes.rs.)

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{act, cast, content, create};
use crate::helpers::process::{Process, assert_chain_intact, seeding_app};
use crate::helpers::{TestApp, problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_writes_loses_nothing_committed_and_leaves_nothing_half_written() {
    let app = seeding_app().await;
    let cast = cast(&app).await;
    // Pictures approved and waiting: publishing writes the picture, its access-log record
    // and its outbox event in one transaction.
    let mut approved = Vec::new();
    for _ in 0..12 {
        let p = create(&app, &cast.author, &content("group", "AMBER")).await;
        let id = p["id"].as_str().unwrap().to_owned();
        for (token, action) in [(&cast.author, "submit"), (&cast.approver2, "approve")] {
            let res = act(&app, token, &id, action).await;
            assert_eq!(res.status(), 200, "{action}");
        }
        approved.push(id);
    }
    let process = Process::start(&app, &[]).await;
    let client = app.client.clone();
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (client, url, token) = (client.clone(), process.url("/api/v1/pictures"), cast.author.clone());
        let mut body = content("group", "AMBER");
        body["title"]["en"] = json!(format!("kill test {i}"));
        writes.spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&body).send().await;
            ("create", res.ok().map(|r| r.status().as_u16()))
        });
    }
    for id in &approved {
        let (client, url, token) =
            (client.clone(), process.url(&format!("/api/v1/pictures/{id}/publish")), cast.approver.clone());
        writes.spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&json!({})).send().await;
            ("publish", res.ok().map(|r| r.status().as_u16()))
        });
    }
    // Let some finish, then kill the process with the rest in flight.
    let mut answered = Vec::new();
    while answered.len() < 8 {
        answered.push(writes.join_next().await.unwrap().unwrap());
    }
    process.kill_9();
    while let Some(done) = writes.join_next().await {
        answered.push(done.unwrap());
    }
    let created = answered.iter().filter(|(k, s)| *k == "create" && *s == Some(201)).count();
    let published = answered.iter().filter(|(k, s)| *k == "publish" && *s == Some(200)).count();
    let cut = answered.iter().filter(|(_, s)| s.is_none()).count();
    assert!(cut > 0, "some requests were in flight when the process died: {answered:?}");

    app.seal_log().await;
    let db = app.pool.get().await.unwrap();
    // Every picture is whole: its revision, and exactly one create record in the log.
    let pictures: Vec<String> = db
        .query("SELECT id::text FROM pictures p WHERE EXISTS (SELECT 1 FROM picture_revisions r WHERE r.picture_id = p.id)", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let all: i64 = db.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(usize::try_from(all).unwrap(), pictures.len(), "no picture without its revision");
    let logged: HashSet<String> = db
        .query("SELECT object_id FROM access_log WHERE action = 'picture.create' AND outcome = 'allowed'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let stored: HashSet<String> = pictures.iter().cloned().collect();
    assert_eq!(logged, stored, "a picture exists exactly when its create record does");
    assert!(stored.len() >= 12 + created, "every answered create is stored: {} < 12 + {created}", stored.len());
    // Every published picture has its one outbox event and its publish record; no event
    // or record without the publication.
    let rows = db
        .query(
            "SELECT p.id::text, p.status, \
                    (SELECT count(*) FROM events e WHERE e.picture_id = p.id AND e.type = 'picture.published'), \
                    (SELECT count(*) FROM access_log a WHERE a.object_id = p.id::text AND a.action = 'picture.publish' \
                       AND a.outcome = 'allowed') \
             FROM pictures p WHERE p.id::text = ANY($1)",
            &[&approved],
        )
        .await
        .unwrap();
    let mut now_published = 0;
    for r in &rows {
        let (id, status, events, records): (String, String, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let want = if status == "published" { 1 } else { 0 };
        assert_eq!((events, records), (want, want), "picture {id} ({status})");
        now_published += want;
    }
    assert!(now_published >= published as i64, "every answered publish is stored");
    // The chain is whole.
    assert_chain_intact(&app);
    // A new process serves on: nothing was left locked.
    let mut again = Process::start(&app, &[]).await;
    let res = app.client.get(again.url("/api/v1/pictures")).bearer_auth(&cast.author).send().await.unwrap();
    assert_eq!(res.status(), 200);
    again.kill_9();
    again.wait(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_under_load_gives_503s_then_recovery_without_a_restart() {
    let app = TestApp::spawn().await;
    let user = app.seed_user("busy.reader", "A", &[Role::Reader]).await;
    let token = app.token(&user).await;
    let db: String = app.pool.get().await.unwrap().query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, url, token, stop) = (app.client.clone(), app.url("/api/v1/pictures"), token.clone(), stop.clone());
        load.spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let res = client.get(&url).bearer_auth(&token).send().await.unwrap();
                let status = res.status().as_u16();
                let body = res.text().await.unwrap();
                seen.push((status, body));
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let admin = crate::helpers::admin().await;
    admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await.unwrap();
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", &[&db]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut all = Vec::new();
    while let Some(seen) = load.join_next().await {
        let seen = seen.unwrap();
        let tail: Vec<u16> = seen.iter().rev().take(3).map(|(s, _)| *s).collect();
        assert_eq!(tail, [200, 200, 200], "each client is served again after the database came back");
        all.extend(seen);
    }
    let unavailable = all.iter().filter(|(s, _)| *s == 503).count();
    assert!(unavailable > 0, "the outage was seen");
    for (status, body) in &all {
        assert!(*status == 200 || *status == 503, "{status}: {body}");
        if *status == 503 {
            assert!(!body.contains(&db) && !body.contains("connection"), "{body}");
        }
    }
}

#[tokio::test]
async fn when_the_access_log_refuses_a_record_reads_and_writes_fail_closed() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let db = app.pool.get().await.unwrap();
    // The service role may no longer append to the log (as when the disk is full, or a
    // trigger or constraint refuses the row: the insert fails inside the transaction).
    db.batch_execute("REVOKE INSERT ON access_log_pending FROM sitrep_app").await.unwrap();
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await;
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], 503, "{text}");
    assert!(!text.contains("Harhaanjohtava") && !text.contains("SMS"), "no picture content without its record");
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &content("group", "AMBER")).await;
    problem(res, 503).await;
    let n: i64 = db.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(n, 1, "the write without its record was rolled back");
    let list = app.get("/api/v1/pictures", Some(&cast.author)).await;
    assert_eq!(list.status(), 503);

    db.batch_execute("GRANT INSERT ON access_log_pending TO sitrep_app").await.unwrap();
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.status(), 200);
}
