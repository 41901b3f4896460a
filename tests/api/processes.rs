//! Real `sitrep serve` processes (the built binary, not in-process servers) on one
//! database: writes, reads, the delivery worker, the live stream and the access-log chain
//! across two of them; graceful shutdown on SIGTERM; JSON logs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{cast, content, create, published};
use crate::helpers::process::{Process, assert_chain_intact, seeding_app};
use crate::helpers::receiver::Receiver;
use crate::helpers::{TestApp, as_service_role, request_id};

/// The settings the processes need to deliver to the in-process receiver.
fn delivery_env(receiver: &Receiver) -> Vec<(&'static str, String)> {
    vec![
        ("SITREP_DELIVERY__ALLOW_PRIVATE_TARGETS", "true".into()),
        ("SITREP_DELIVERY__EXTRA_ROOT_CERTIFICATES", format!("[\"{}\"]", receiver.cert.display())),
        ("SITREP_DELIVERY__POLL_MS", "100".into()),
    ]
}

async fn subscribe_v(app: &TestApp, via: &Process, secretariat: &str, receiver: &Receiver) {
    let host = app.client.post(via.url("/api/v1/webhook-hosts")).bearer_auth(secretariat);
    assert_eq!(host.json(&json!({"host": "127.0.0.1"})).send().await.unwrap().status(), 201);
    let body = json!({"organisation_id": app.org("V"), "name": "SOC", "webhook_url": receiver.url, "filter": {}});
    let res = app.client.post(via.url("/api/v1/subscriptions")).bearer_auth(secretariat).json(&body).send().await;
    assert_eq!(res.unwrap().status(), 201);
}

/// Reads SSE frames until an event of `kind` about `picture` arrives or `limit` passes.
async fn stream_sees(res: &mut reqwest::Response, kind: &str, picture: &str, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buffer = String::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => return false,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.lines().any(|l| l == format!("event: {kind}")) && block.contains(picture) {
                return true;
            }
        }
    }
}

#[tokio::test]
async fn two_processes_share_writes_reads_deliveries_streams_and_one_audit_chain() {
    let dir = std::env::temp_dir().join(format!("sitrep-receiver-{}", uuid::Uuid::new_v4().simple()));
    let receiver = Receiver::start(&dir).await;
    let mut app = seeding_app().await;
    let env = delivery_env(&receiver);
    let mut a = Process::start(&app, &env).await;
    let mut b = Process::start(&app, &env).await;
    assert_ne!(a.address, b.address);

    // Logins and writes through A; the tokens work on B (shared keys, shared sessions).
    app.address = a.address.clone();
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let secretariat = app.token(&sec).await;
    subscribe_v(&app, &b, &secretariat, &receiver).await;

    // A live stream open on B sees what is published through A.
    let mut stream = app.client.get(b.url("/api/v1/stream")).bearer_auth(&cast.v_reader).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let picture = published(&app, &cast, &content("group_virt", "AMBER")).await;
    assert!(
        stream_sees(&mut stream, "picture.published", &picture, Duration::from_secs(15)).await,
        "the event written through A reached the stream on B"
    );

    // Concurrent writes and reads through both processes.
    let mut work = Vec::new();
    for i in 0..12 {
        let (client, base) = (app.client.clone(), if i % 2 == 0 { a.address.clone() } else { b.address.clone() });
        let (author, reader) = (cast.author.clone(), cast.b_reader.clone());
        let body = content("group", "AMBER");
        work.push(tokio::spawn(async move {
            let created = client.post(format!("{base}/api/v1/pictures")).bearer_auth(&author).json(&body).send().await;
            let listed = client.get(format!("{base}/api/v1/pictures")).bearer_auth(&reader).send().await;
            (created.unwrap().status().as_u16(), listed.unwrap().status().as_u16())
        }));
    }
    for w in work {
        assert_eq!(w.await.unwrap(), (201, 200));
    }
    // A read through B of what A wrote.
    let res = app.client.get(b.url(&format!("/api/v1/pictures/{picture}"))).bearer_auth(&cast.v_reader).send().await;
    assert_eq!(res.unwrap().status(), 200);

    // Both workers poll the one outbox; the subscriber gets the event exactly once.
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.count(), 1, "delivered once, not once per process");
    let db = app.pool.get().await.unwrap();
    let row = db
        .query_one("SELECT count(*), min(state), max(attempts), bool_and(lease_until IS NULL) FROM deliveries", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, String>(1), row.get::<_, i32>(2)), (1, "delivered".into(), 1));
    assert!(row.get::<_, bool>(3), "no lease left behind");

    // Records from both processes, one chain: `sitrep access-log verify` says it is intact.
    app.seal_log().await;
    let n: i64 = db.query_one("SELECT count(*) FROM access_log", &[]).await.unwrap().get(0);
    assert!(n > 40, "{n} records");
    assert_chain_intact(&app);

    drop(stream);
    a.terminate();
    b.terminate();
    assert!(a.wait(Duration::from_secs(30)).await.success());
    assert!(b.wait(Duration::from_secs(30)).await.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_the_webhook_being_sent_then_exits_0() {
    let dir = std::env::temp_dir().join(format!("sitrep-receiver-{}", uuid::Uuid::new_v4().simple()));
    let receiver = Receiver::start(&dir).await;
    *receiver.delay.lock().unwrap() = Duration::from_secs(2);
    let mut app = seeding_app().await;
    let mut env = delivery_env(&receiver);
    // Logins queue for one hashing slot: a line of slow requests to be caught in flight.
    env.push(("SITREP_AUTH__PASSWORD__MEMORY_KIB", "19456".into()));
    env.push(("SITREP_AUTH__PASSWORD__ITERATIONS", "2".into()));
    env.push(("SITREP_AUTH__PASSWORD__MAX_CONCURRENT", "1".into()));
    env.push(("SITREP_AUTH__PASSWORD__QUEUE_TIMEOUT_MS", "30000".into()));
    env.push(("SITREP_AUTH__LOGIN__PER_ADDRESS_PER_MINUTE", "1000".into()));
    env.push(("SITREP_HTTP__SHUTDOWN_TIMEOUT_SECS", "20".into()));
    let mut p = Process::start(&app, &env).await;
    app.address = p.address.clone();
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let secretariat = app.token(&sec).await;
    subscribe_v(&app, &p, &secretariat, &receiver).await;
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(app.seed_user(&format!("b.user{i}"), "B", &[Role::Reader]).await);
    }
    let mut stream = app.client.get(p.url("/api/v1/stream")).bearer_auth(&cast.v_reader).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    // The worker is sending a webhook to a receiver that takes 2 s to answer...
    published(&app, &cast, &content("group_virt", "AMBER")).await;
    receiver.wait_for(1).await;
    assert_eq!(receiver.count(), 1);
    // ...and six creates and twelve logins (one at a time through the hasher) are on their
    // way. SIGTERM comes as soon as the first login is answered: the rest are in flight.
    let client = app.client.clone();
    let (done, mut first) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut work = Vec::new();
    for _ in 0..6 {
        let (client, url, token) = (client.clone(), p.url("/api/v1/pictures"), cast.author.clone());
        work.push(tokio::spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&content("group", "AMBER")).send().await;
            let res = res.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let body: Value = res.json().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body["id"].is_string(), Instant::now()))
        }));
    }
    for u in &users {
        let (client, url, done) = (client.clone(), p.url("/api/v1/auth/login"), done.clone());
        let body = json!({"username": u.username, "password": u.password});
        work.push(tokio::spawn(async move {
            let res = client.post(url).json(&body).send().await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let body: Value = res.json().await.map_err(|e| e.to_string())?;
            let _ = done.send(());
            Ok::<_, String>((status, body["access_token"].is_string(), Instant::now()))
        }));
    }
    tokio::time::timeout(Duration::from_secs(30), first.recv()).await.unwrap();
    let signalled = Instant::now();
    p.terminate();

    // Every request got its whole answer, some of them after the signal.
    let mut after_signal = 0;
    for w in work {
        let (status, complete, at) = w.await.unwrap().expect("no request in flight is lost");
        assert!(matches!(status, 200 | 201) && complete, "status {status}");
        after_signal += usize::from(at > signalled);
    }
    assert!(after_signal > 0, "some requests were still in flight when SIGTERM arrived");
    // The live stream ends rather than holding the shutdown up.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} })
            .await
            .is_ok()
    );
    drop(client);
    let status = p.wait(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status:?}: {:?}", p.log_lines());

    // The webhook in flight was answered and settled: delivered once, no lease held.
    let db = app.pool.get().await.unwrap();
    let row = db.query_one("SELECT state, lease_until IS NULL FROM deliveries", &[]).await.unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, bool>(1)), ("delivered".into(), true));
    assert_eq!(receiver.count(), 1);
    let log = p.log_lines().join("\n");
    assert!(log.contains("delivery worker stopped"), "{log}");
    let picture_rows: i64 = db.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(picture_rows, 7, "the published picture and the six created while stopping");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn production_logs_are_json_lines_with_the_request_id_and_no_secret() {
    let mut app = seeding_app().await;
    // The service role needs no password here (trust); one in the URL must still never
    // be logged.
    let url = as_service_role(&app.db_url).replacen("sitrep_app@", "sitrep_app:db-secret-hunter2@", 1);
    let mut p = Process::start(&app, &[("DATABASE_URL", url)]).await;
    app.address = p.address.clone();
    let user = app.seed_user("a.author", "A", &[Role::Author]).await;
    let login = app.login_response(&user.username, &user.password).await;
    assert_eq!(login.status(), 200);
    let login_id = request_id(&login);
    let tokens: Value = login.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let created = create(&app, &access, &content("group", "AMBER")).await;
    assert!(created["id"].is_string());
    let failed = app.login_response(&user.username, "wrong-password-hunter3").await;
    assert_eq!(failed.status(), 401);
    p.terminate();
    assert!(p.wait(Duration::from_secs(30)).await.success());

    let lines = p.log_lines();
    assert!(!lines.is_empty());
    let mut served_login = false;
    for line in &lines {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        assert!(record["timestamp"].is_string() && record["level"].is_string(), "{line}");
        if record["message"] == "served" && record["span"]["request_id"] == login_id.as_str() {
            served_login = true;
        }
        for secret in [user.password.as_str(), "wrong-password-hunter3", "db-secret-hunter2", &access, &refresh] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    assert!(served_login, "the login's `served` line carries its request id: {lines:?}");
}
