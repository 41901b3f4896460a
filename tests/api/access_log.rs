//! The access log the secretariat can trust: append-only for the service role, a hash
//! chain that several processes extend without forking it, signed checkpoints, the
//! verifier naming the first bad record, and the auditor's API and export.

use serde_json::Value;
use sitrep_access_log::chain::{BreakKind, GENESIS};
use sitrep_server::Application;
use sitrep_server::access_log::{read_public_key, verify_database, verify_file};
use sitrep_types::{AccessLogCheckpoint, Page, Role};
use tokio_postgres::NoTls;

use crate::helpers::access_log::{auditor_token, broken, download, public_key, signer};
use crate::helpers::{TestApp, TestUser, as_service_role, problem, request_id, test_settings};

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Some traffic: logins, reads, a denial.
async fn traffic(app: &TestApp) -> (TestUser, String) {
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let token = app.token(&sec).await;
    let reader_token = app.token(&reader).await;
    for path in ["/api/v1/me", "/api/v1/organisations", "/api/v1/users"] {
        assert_eq!(app.get(path, Some(&token)).await.status(), 200);
    }
    assert_eq!(app.get("/api/v1/users", Some(&reader_token)).await.status(), 403);
    assert_eq!(app.get("/api/v1/me", Some(&reader_token)).await.status(), 200);
    app.seal_log().await;
    (sec, token)
}

#[tokio::test]
async fn the_server_serves_as_the_service_role_which_cannot_update_delete_or_truncate_the_log() {
    let app = TestApp::spawn().await;
    traffic(&app).await;
    let admin = connect(&app.db_url).await;
    let roles: Vec<String> = admin
        .query("SELECT DISTINCT usename::text FROM pg_stat_activity WHERE application_name = 'sitrep' AND datname = current_database() AND usename <> 'sitrep_test'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(roles, vec!["sitrep_app".to_owned()], "the server's connections");

    let service = connect(&as_service_role(&app.db_url)).await;
    let n: i64 = service.query_one("SELECT count(*) FROM access_log", &[]).await.unwrap().get(0);
    assert!(n >= 5);
    for sql in [
        "UPDATE access_log SET reason = 'tampered' WHERE seq = 1",
        "DELETE FROM access_log WHERE seq = 1",
        "TRUNCATE access_log",
        "UPDATE access_log_checkpoints SET seq = 1",
        "DELETE FROM access_log_checkpoints",
        "DELETE FROM access_log_v1",
        "UPDATE access_log_pending SET reason = 'tampered'",
        "TRUNCATE access_log_pending",
        "DELETE FROM refinery_schema_history",
    ] {
        let err = service.batch_execute(sql).await.expect_err(sql);
        assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {err}");
    }
    // Even the owner is stopped by the triggers (a superuser can switch them off: the
    // chain and the checkpoints are what catch that, see the tampering test).
    for sql in ["UPDATE access_log SET reason = 'x' WHERE seq = 1", "DELETE FROM access_log", "TRUNCATE access_log"] {
        let err = admin.batch_execute(sql).await.expect_err(sql);
        assert!(err.as_db_error().unwrap().message().contains("append-only"), "{sql}: {err}");
    }
    let after: i64 = service.query_one("SELECT count(*) FROM access_log", &[]).await.unwrap().get(0);
    assert!(after >= n);
}

#[tokio::test]
async fn the_sql_link_function_and_the_verifier_hash_alike() {
    let app = TestApp::spawn().await;
    let admin = connect(&app.db_url).await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00.123456Z").unwrap().to_utc();
    let digest = [7u8; 32];
    let row = admin
        .query_one("SELECT sitrep_audit_link($1, 1, $2, $3)", &[&GENESIS.as_slice(), &at, &digest.as_slice()])
        .await
        .unwrap();
    let sql: Vec<u8> = row.get(0);
    assert_eq!(sql, sitrep_access_log::chain::link(&GENESIS, 1, at, &digest).to_vec());
}

/// Runs `sql` as the database superuser with triggers off, as a DBA hiding tracks would.
async fn as_dba(admin: &tokio_postgres::Client, sql: &str) {
    admin
        .batch_execute(&format!("SET session_replication_role = replica; {sql}; SET session_replication_role = origin"))
        .await
        .unwrap();
}

#[tokio::test]
async fn verify_names_the_first_bad_record_after_each_tampering_by_the_superuser() {
    let app = TestApp::spawn().await;
    traffic(&app).await;
    let key = public_key(&app);
    let admin = connect(&app.db_url).await;
    let last: i64 = admin.query_one("SELECT max(seq) FROM access_log", &[]).await.unwrap().get(0);
    assert!(last >= 7, "enough records: {last}");
    // A checkpoint of the head, then two more records after it.
    let cp = signer(&app).checkpoint(&app.pool, true).await.unwrap().unwrap();
    assert_eq!(cp.seq, last);
    let token = app.token(&app.seed_user("late.user", "S", &[Role::Secretariat]).await).await;
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 200);
    app.seal_log().await;
    let end: i64 = admin.query_one("SELECT max(seq) FROM access_log", &[]).await.unwrap().get(0);
    assert_eq!(end, last + 2);

    let intact = verify_database(&app.db_url, &key, vec![], false).await.unwrap();
    assert_eq!((intact.records, intact.last_seq, intact.checkpoints), (end as u64, end, 1));

    // One byte of one record.
    as_dba(&admin, "UPDATE access_log SET actor_name = 'X' || substr(actor_name, 2) WHERE seq = 3").await;
    let b = broken(verify_database(&app.db_url, &key, vec![], false).await);
    assert_eq!((b.seq, b.kind), (3, BreakKind::Hash), "{b}");
    as_dba(&admin, "UPDATE access_log SET actor_name = 's' || substr(actor_name, 2) WHERE seq = 3").await;
    verify_database(&app.db_url, &key, vec![], false).await.unwrap();

    // Another field of another record.
    as_dba(&admin, "UPDATE access_log SET http_status = 201 WHERE seq = 4").await;
    let b = broken(verify_database(&app.db_url, &key, vec![], false).await);
    assert_eq!(b.seq, 4, "{b}");
    as_dba(&admin, "UPDATE access_log SET http_status = 200 WHERE seq = 4").await;

    // One record removed.
    as_dba(
        &admin,
        "CREATE TEMP TABLE saved AS SELECT * FROM access_log WHERE seq = 5; DELETE FROM access_log WHERE seq = 5",
    )
    .await;
    let b = broken(verify_database(&app.db_url, &key, vec![], false).await);
    assert_eq!((b.seq, b.kind), (5, BreakKind::Sequence), "{b}");
    as_dba(&admin, "INSERT INTO access_log SELECT * FROM saved; DROP TABLE saved").await;
    verify_database(&app.db_url, &key, vec![], false).await.unwrap();

    // Two records swapped.
    let swap = "UPDATE access_log SET seq = 999999 WHERE seq = 6; UPDATE access_log SET seq = 6 WHERE seq = 7; \
                UPDATE access_log SET seq = 7 WHERE seq = 999999";
    as_dba(&admin, swap).await;
    let b = broken(verify_database(&app.db_url, &key, vec![], false).await);
    assert_eq!((b.seq, b.kind), (6, BreakKind::Link), "{b}");
    as_dba(&admin, swap).await;
    verify_database(&app.db_url, &key, vec![], false).await.unwrap();

    // The tail cut off, reaching back before the checkpoint; the head table "fixed" too.
    as_dba(
        &admin,
        &format!(
            "CREATE TEMP TABLE tail AS SELECT * FROM access_log WHERE seq > {k}; DELETE FROM access_log WHERE seq > {k}",
            k = last - 2
        ),
    )
    .await;
    let b = broken(verify_database(&app.db_url, &key, vec![], false).await);
    assert_eq!((b.seq, b.kind), (last - 1, BreakKind::Checkpoint), "{b}");
    // Cutting only after the checkpoint is what a crash could look like too: it passes.
    as_dba(&admin, &format!("INSERT INTO access_log SELECT * FROM tail WHERE seq <= {last}")).await;
    verify_database(&app.db_url, &key, vec![], false).await.unwrap();
    // The DBA also deletes the checkpoint: a witness copy kept elsewhere still catches it.
    as_dba(&admin, &format!("DELETE FROM access_log WHERE seq > {}; DELETE FROM access_log_checkpoints", last - 2))
        .await;
    verify_database(&app.db_url, &key, vec![], false).await.unwrap();
    let b = broken(verify_database(&app.db_url, &key, vec![cp.clone()], false).await);
    assert_eq!((b.seq, b.kind), (last - 1, BreakKind::Checkpoint), "{b}");
    // A forged checkpoint does not verify.
    let mut forged = cp.clone();
    forged.seq = last - 2;
    let b = broken(verify_database(&app.db_url, &key, vec![forged], false).await);
    assert_eq!(b.kind, BreakKind::Signature, "{b}");
}

#[tokio::test]
async fn two_server_processes_appending_at_once_keep_one_valid_chain() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    // A second process on the same database and data folder (keys, certificate).
    let mut settings = test_settings(&app.db_url, &app.data_dir);
    settings.access_log.checkpoint_interval_secs = 1;
    let second = Application::build(settings).await.unwrap();
    let second_address = format!("https://127.0.0.1:{}", second.port());
    let second_handle = second.handle();
    tokio::spawn(second.run_until_stopped());
    let token = app.token(&sec).await;
    app.seal_log().await;
    let before: i64 =
        app.pool.get().await.unwrap().query_one("SELECT max(seq) FROM access_log", &[]).await.unwrap().get(0);

    let mut tasks = Vec::new();
    for worker in 0..8 {
        let client = app.client.clone();
        let base = if worker % 2 == 0 { app.address.clone() } else { second_address.clone() };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let path = if i % 2 == 0 { "/api/v1/me" } else { "/api/v1/organisations" };
                let res = client.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
                assert_eq!(res.status(), 200);
            }
        }));
    }
    // Checkpoints signed by the periodic task of the second process, and on demand here.
    // (A forced checkpoint is skipped while the other process holds the checkpoint lock:
    // try again until three were signed here.)
    let mut signed = 0;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if signer(&app).checkpoint(&app.pool, true).await.unwrap().is_some() {
            signed += 1;
            if signed == 3 {
                break;
            }
        }
    }
    assert_eq!(signed, 3, "three checkpoints signed on demand");
    for t in tasks {
        t.await.unwrap();
    }
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let (count, max): (i64, i64) = {
        let r = client.query_one("SELECT count(*), max(seq) FROM access_log", &[]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(max - before, 160, "one record per request");
    assert_eq!(count, max, "no gaps");
    let report = verify_database(&app.db_url, &public_key(&app), vec![], false).await.unwrap();
    assert_eq!(report.last_seq, max);
    assert!(report.checkpoints >= 3, "{report:?}");
    drop(second_handle.stop(false));
}

#[tokio::test]
async fn readers_sysadmins_and_others_get_403_from_the_auditor_api_and_the_denial_is_recorded() {
    let app = TestApp::spawn().await;
    let paths = [
        "/api/v1/access-log",
        "/api/v1/access-log/export",
        "/api/v1/access-log/checkpoints",
        "/api/v1/access-log/checkpoint-key",
    ];
    for (name, role) in [("r", Role::Reader), ("s", Role::Sysadmin), ("o", Role::OrgAdmin), ("p", Role::Approver)] {
        let user = app.seed_user(&format!("{name}.user"), "A", &[role]).await;
        let token = app.token(&user).await;
        for path in paths {
            let res = app.get(path, Some(&token)).await;
            let record = app.audit_of(&res).await;
            assert_eq!((record.outcome.as_str(), record.http_status), ("denied", 403), "{role:?} {path}");
            assert!(record.action.starts_with("access_log."), "{}", record.action);
            problem(res, 403).await;
        }
    }
    assert_eq!(app.get("/api/v1/access-log", None).await.status(), 401);
    let token = auditor_token(&app).await;
    let res = app.client.delete(app.url("/api/v1/access-log")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec_token = app.token(&sec).await;
    for t in [&token, &sec_token] {
        for path in paths {
            let res = app.get(path, Some(t)).await;
            assert_eq!(res.status(), 200, "{path}");
            let record = app.audit_of(&res).await;
            assert_eq!(record.outcome, "allowed");
        }
    }
}

#[tokio::test]
async fn the_auditor_filters_pages_and_each_read_of_the_log_is_logged() {
    let app = TestApp::spawn().await;
    let (sec, _) = traffic(&app).await;
    let token = auditor_token(&app).await;

    // By actor: only the secretariat user's records, newest first, paged two at a time.
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/access-log?actor_id={}&limit=2", sec.id);
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&path, Some(&token)).await;
        assert_eq!(res.status(), 200);
        let record = app.audit_of(&res).await;
        assert_eq!((record.action.as_str(), record.object_type.as_deref()), ("access_log.list", Some("access_log")));
        let page: Page<Value> = res.json().await.unwrap();
        for item in &page.items {
            assert_eq!(item["actor_id"], sec.id.to_string());
            seen.push(item["seq"].as_i64().unwrap());
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // The login and three reads.
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");

    // By outcome and action.
    let res = app.get("/api/v1/access-log?outcome=denied", Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        (page.items[0]["action"].as_str(), page.items[0]["http_status"].as_i64()),
        (Some("user.list"), Some(403))
    );
    let res = app.get("/api/v1/access-log?action=auth.login&limit=200", Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    assert_eq!(page.items.len(), 3);
    let res = app.get(&format!("/api/v1/access-log?organisation_id={}", app.org("A")), Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    assert_eq!(page.items.len(), 3, "the reader's login and two reads");
    let res = app.get(&format!("/api/v1/access-log?object_type=user&object_id={}", sec.id), Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    assert_eq!(page.items.len(), 1, "GET /me of the secretariat user");

    // By time: everything before now, nothing from the future; the reads of the log too.
    let now = chrono::Utc::now();
    let future = (now + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let res = app.get(&format!("/api/v1/access-log?from={future}"), Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    assert!(page.items.is_empty());
    let res = app.get(&format!("/api/v1/access-log?to={future}&action=access_log.list&limit=200"), Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    assert!(page.items.len() >= 7, "the auditor's own reads are in the log: {}", page.items.len());

    // Bad input: 422 naming the field; a cursor of another user: 400.
    let res = app.get("/api/v1/access-log?outcome=maybe", Some(&token)).await;
    problem(res, 422).await;
    let res = app.get("/api/v1/access-log?colour=red", Some(&token)).await;
    problem(res, 400).await;
    let res = app.get(&format!("/api/v1/access-log?actor_id={}&limit=1", sec.id), Some(&token)).await;
    let page: Page<Value> = res.json().await.unwrap();
    let other = app.seed_user("other.auditor", "S", &[Role::Auditor]).await;
    let other_token = app.token(&other).await;
    let res = app
        .get(
            &format!("/api/v1/access-log?actor_id={}&limit=1&cursor={}", sec.id, page.next_cursor.unwrap()),
            Some(&other_token),
        )
        .await;
    let body = problem(res, 400).await;
    assert_eq!(body["code"], "invalid_cursor");
}

#[tokio::test]
async fn the_auditor_finds_an_account_by_username_and_a_picture_by_its_reference() {
    let app = TestApp::spawn().await;
    let (sec, _) = traffic(&app).await;
    let cast = crate::helpers::pictures::cast(&app).await;
    let p = crate::helpers::pictures::create(&app, &cast.author, &crate::helpers::pictures::content("group", "AMBER"))
        .await;
    let (id, reference) = (p["id"].as_str().unwrap(), p["reference"].as_str().unwrap());
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.status(), 200);
    app.seal_log().await;
    let token = auditor_token(&app).await;
    let items = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 200);
        res.json::<Page<Value>>().await.unwrap().items
    };

    // By username, in any case: the same records as by the account's id.
    let by_name = items(app.get("/api/v1/access-log?actor=SEC.User&limit=200", Some(&token)).await).await;
    let by_id = items(app.get(&format!("/api/v1/access-log?actor_id={}&limit=200", sec.id), Some(&token)).await).await;
    assert_eq!(by_name.len(), 4, "the login and three reads");
    assert_eq!(by_name, by_id);
    let nobody = items(app.get("/api/v1/access-log?actor=no.such.person", Some(&token)).await).await;
    assert!(nobody.is_empty());

    // By reference, in any case: the picture's create and read, nothing else.
    let path = format!("/api/v1/access-log?reference={}&limit=200", reference.to_lowercase());
    let about = items(app.get(&path, Some(&token)).await).await;
    let actions: Vec<&str> = about.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["picture.view", "picture.create"], "{about:?}");
    assert!(about.iter().all(|e| e["object_id"] == id));
    let other = items(app.get("/api/v1/access-log?reference=VTY-1999-9999", Some(&token)).await).await;
    assert!(other.is_empty());

    // Empty or overlong names are refused, naming the field.
    let res = app.get("/api/v1/access-log?actor=", Some(&token)).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "actor");
    let res = app.get(&format!("/api/v1/access-log?reference={}", "V".repeat(65)), Some(&token)).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "reference");
}

#[tokio::test]
async fn exports_in_both_formats_round_trip_through_verify_and_tampering_is_named() {
    let app = TestApp::spawn().await;
    traffic(&app).await;
    let token = auditor_token(&app).await;
    signer(&app).checkpoint(&app.pool, true).await.unwrap().unwrap();

    // The key and the checkpoints as an auditor gets them from the API.
    let res = app.get("/api/v1/access-log/checkpoint-key", Some(&token)).await;
    let key: Value = res.json().await.unwrap();
    assert_eq!(key["algorithm"], "Ed25519");
    let key = read_public_key(key["public_key"].as_str().unwrap()).unwrap();
    let res = app.get("/api/v1/access-log/checkpoints", Some(&token)).await;
    let checkpoints: Page<AccessLogCheckpoint> = res.json().await.unwrap();
    assert_eq!(checkpoints.items.len(), 1);

    let dir = app.data_dir.join("exports");
    std::fs::create_dir_all(&dir).unwrap();
    for format in ["jsonl", "csv"] {
        let file = dir.join(format!("log.{format}"));
        let rid = download(&app, &token, format, &file).await;
        let record = app.audit_of_id(&rid).await;
        assert_eq!((record.action.as_str(), record.object_id.as_deref()), ("access_log.export", Some(format)));
        let report = verify_file(&file, &key, checkpoints.items.clone(), false).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.lines().last().unwrap().contains(&rid), "the export ends with its own record");
        assert!(report.records >= 10);
        assert_eq!(report.checkpoints, 1);

        // Change one byte of record 4 in the file.
        let lines: Vec<&str> = text.lines().collect();
        let index = if format == "csv" { 4 } else { 3 };
        let mut changed = lines.clone();
        let tampered = if format == "csv" {
            lines[index].replacen(",200,\"127", ",201,\"127", 1)
        } else {
            lines[index].replacen("\"http_status\":200", "\"http_status\":201", 1)
        };
        assert_ne!(tampered, lines[index]);
        changed[index] = &tampered;
        std::fs::write(&file, changed.join("\n") + "\n").unwrap();
        let b = broken(verify_file(&file, &key, checkpoints.items.clone(), false));
        assert_eq!((b.seq, b.kind), (4, BreakKind::Hash), "{format}: {b}");

        // The tail cut before the checkpoint.
        let header = usize::from(format == "csv");
        let cut = lines[..header + 5].join("\n") + "\n";
        std::fs::write(&file, cut).unwrap();
        let b = broken(verify_file(&file, &key, checkpoints.items.clone(), false));
        assert_eq!((b.seq, b.kind), (6, BreakKind::Checkpoint), "{format}: {b}");
    }
}

#[tokio::test]
async fn an_export_whose_record_cannot_be_written_sends_nothing() {
    let app = TestApp::spawn().await;
    let token = auditor_token(&app).await;
    app.refuse_log_inserts().await;
    for path in ["/api/v1/access-log/export?format=csv", "/api/v1/access-log", "/api/v1/access-log/checkpoints"] {
        let res = app.get(path, Some(&token)).await;
        let body = problem(res, 503).await;
        assert_eq!(body["code"], "audit_unavailable");
        assert!(!body.to_string().contains("auth.login"));
    }
}

#[tokio::test]
async fn checkpoints_are_signed_periodically_once_per_head_and_by_one_process_at_a_time() {
    let app = TestApp::spawn_with(|s| s.access_log.checkpoint_interval_secs = 1).await;
    traffic(&app).await;
    let client = app.pool.get().await.unwrap();
    let last: i64 = client.query_one("SELECT max(seq) FROM access_log", &[]).await.unwrap().get(0);
    // The periodic task signs the head within a few intervals (polled, not slept on).
    let mut signed = None;
    for _ in 0..100 {
        let row =
            client.query_opt("SELECT seq FROM access_log_checkpoints ORDER BY id DESC LIMIT 1", &[]).await.unwrap();
        if let Some(seq) = row.map(|r| r.get::<_, i64>(0)).filter(|s| *s == last) {
            signed = Some(seq);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(signed, Some(last), "the periodic task signed the head");
    // An unchanged head is not signed again unless asked.
    assert!(signer(&app).checkpoint(&app.pool, false).await.unwrap().is_none());
    // While another process holds the checkpoint lock, this one skips the round.
    let mut admin = connect(&app.db_url).await;
    let tx = admin.transaction().await.unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&0x7369_7472_6570_6370_i64]).await.unwrap();
    assert!(signer(&app).checkpoint(&app.pool, true).await.unwrap().is_none());
    tx.rollback().await.unwrap();
    let cp = signer(&app).checkpoint(&app.pool, true).await.unwrap().unwrap();
    assert_eq!(cp.seq, last);
    verify_database(&app.db_url, &public_key(&app), vec![], false).await.unwrap();
}

/// A record of a transaction that commits late is sealed after records that committed
/// before it, and the chain stays whole: nothing committed is left out, nothing forks.
#[tokio::test]
async fn a_record_committed_late_is_sealed_after_the_records_committed_before_it() {
    let app = TestApp::spawn().await;
    let (_, token) = traffic(&app).await;
    let mut writer = app.pool.get().await.unwrap();
    let tx = writer.transaction().await.unwrap();
    let late = sitrep_db::access_log::AccessRecord {
        request_id: "late-committing-request".into(),
        actor_type: sitrep_db::access_log::ActorType::System,
        actor_id: None,
        actor_name: None,
        organisation_id: None,
        membership_id: None,
        roles: vec![],
        action: "test.late".into(),
        object_type: None,
        object_id: None,
        object_revision: None,
        object_ids: None,
        tier: None,
        tlp: None,
        outcome: sitrep_db::access_log::Outcome::Allowed,
        reason: None,
        http_status: 200,
        client_addr: None,
    };
    let late_id = sitrep_db::access_log::record(&tx, &late).await.unwrap();
    // Requests after it, committed first, are sealed while it is still open.
    let mut after = Vec::new();
    for _ in 0..3 {
        let res = app.get("/api/v1/me", Some(&token)).await;
        assert_eq!(res.status(), 200);
        after.push(request_id(&res));
    }
    app.seal_log().await;
    let seq_of = |rid: String| {
        let pool = app.pool.clone();
        async move {
            let client = pool.get().await.unwrap();
            let row = client.query_opt("SELECT seq FROM access_log WHERE request_id = $1", &[&rid]).await.unwrap();
            row.map(|r| r.get::<_, i64>(0))
        }
    };
    let last_after = seq_of(after[2].clone()).await.expect("sealed while the earlier record was uncommitted");
    assert_eq!(seq_of("late-committing-request".into()).await, None);
    tx.commit().await.unwrap();
    app.seal_log().await;
    let late_seq = seq_of("late-committing-request".into()).await.expect("sealed once committed");
    assert!(late_seq > last_after, "sealed in the order of sealing: {late_seq} after {last_after}");
    let client = app.pool.get().await.unwrap();
    let pending: i64 =
        client.query_one("SELECT count(*) FROM access_log_pending WHERE id <= $1", &[&late_id]).await.unwrap().get(0);
    assert_eq!(pending, 0);
    let (count, max): (i64, i64) = {
        let r = client.query_one("SELECT count(*), max(seq) FROM access_log", &[]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(count, max, "no gaps");
    let report = verify_database(&app.db_url, &public_key(&app), vec![], false).await.unwrap();
    assert_eq!(report.last_seq, max);
}

/// The server seals records by itself: its own at once, and those it was not told about
/// (another process's) on its periodic pass. Polled with a deadline, not timed.
#[tokio::test]
async fn the_server_seals_its_own_records_and_those_of_other_processes() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let rid = request_id(&app.get("/api/v1/me", Some(&token)).await);
    // As another process would: a record written without waking this process's sealer.
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO access_log_pending (request_id, actor_type, action, outcome, http_status, digest) \
             VALUES ('other-process', 'system', 'test.other', 'allowed', 200, sha256('x'))",
            &[],
        )
        .await
        .unwrap();
    let mut sealed = (false, false);
    for _ in 0..200 {
        for (found, id) in [(&mut sealed.0, rid.as_str()), (&mut sealed.1, "other-process")] {
            *found = client
                .query_one("SELECT EXISTS (SELECT 1 FROM access_log WHERE request_id = $1)", &[&id])
                .await
                .unwrap()
                .get(0);
        }
        if sealed == (true, true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sealed, (true, true), "both records sealed by the server");
    // The other process's digest is not that of its content: the verifier names it.
    let err = verify_database(&app.db_url, &public_key(&app), vec![], false).await;
    let b = broken(err);
    let seq: i64 =
        client.query_one("SELECT seq FROM access_log WHERE request_id = 'other-process'", &[]).await.unwrap().get(0);
    assert_eq!(b.seq, seq);
}

/// The benchmark seeder writes straight into the chain with the writer's digest and link
/// code, after the records the server wrote; the verifier accepts the result.
#[tokio::test]
async fn generated_records_extend_the_chain_the_verifier_accepts() {
    let app = TestApp::spawn().await;
    traffic(&app).await;
    let before: i64 =
        app.pool.get().await.unwrap().query_one("SELECT max(seq) FROM access_log", &[]).await.unwrap().get(0);
    sitrep_bench_tools::seed_access_log(&app.db_url, 25_000).await.unwrap();
    // The server's own records after them still chain on.
    let token = auditor_token(&app).await;
    assert_eq!(app.get("/api/v1/access-log?limit=1", Some(&token)).await.status(), 200);
    app.seal_log().await;
    let report = verify_database(&app.db_url, &public_key(&app), vec![], false).await.unwrap();
    assert!(report.last_seq >= before + 25_000 + 2, "{report:?}");
    assert_eq!(report.records, report.last_seq as u64);
}

#[tokio::test]
async fn verify_reads_every_kind_of_value_back_from_the_database_and_both_exports() {
    use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
    let app = TestApp::spawn().await;
    let texts = ["plain", "ä\"\\\n\r\t\u{1}\u{1f}\u{7f}", "日本語 🦀 \u{2028}", "", "a,b \"\" c"];
    let addrs = ["127.0.0.1", "::1", "2001:db8::8a2e:370:7334", "::ffff:10.0.0.1", "fe80::1"];
    {
        let client = app.pool.get().await.unwrap();
        for (i, text) in texts.iter().enumerate() {
            let record = AccessRecord {
                request_id: format!("req-{i}-{text}"),
                actor_type: if i % 2 == 0 { ActorType::User } else { ActorType::Anonymous },
                actor_id: (i % 2 == 0).then(uuid::Uuid::new_v4),
                actor_name: Some((*text).to_owned()),
                organisation_id: (i == 1).then(uuid::Uuid::new_v4),
                membership_id: None,
                roles: [vec![], vec!["reader"], vec!["secretariat", "auditor"]][i % 3].clone(),
                action: "me.view".into(),
                object_type: (i != 3).then_some("user"),
                object_id: (i != 4).then(|| (*text).to_owned()),
                object_revision: [None, Some(0), Some(i32::MAX), Some(-1), None][i],
                object_ids: [None, Some(vec![]), Some(vec![uuid::Uuid::new_v4(), uuid::Uuid::nil()])][i % 3].clone(),
                tier: (i == 2).then(|| (*text).to_owned()),
                tlp: (i == 2).then(|| "TLP:AMBER+STRICT".to_owned()),
                outcome: if i == 3 { Outcome::Denied } else { Outcome::Allowed },
                reason: (i == 3).then(|| (*text).to_owned()),
                http_status: [200, 403, 500, 0, 999][i],
                client_addr: Some(addrs[i].parse().unwrap()),
            };
            sitrep_db::access_log::record(&client, &record).await.unwrap();
        }
    }
    app.seal_log().await;
    let key = public_key(&app);
    signer(&app).checkpoint(&app.pool, true).await.unwrap().unwrap();
    let report = verify_database(&app.db_url, &key, vec![], false).await.unwrap();
    assert!(report.records >= texts.len() as u64);

    let token = auditor_token(&app).await;
    let res = app.get("/api/v1/access-log/checkpoints", Some(&token)).await;
    let checkpoints: Page<AccessLogCheckpoint> = res.json().await.unwrap();
    let dir = app.data_dir.join("exports");
    std::fs::create_dir_all(&dir).unwrap();
    for format in ["jsonl", "csv"] {
        let file = dir.join(format!("values.{format}"));
        download(&app, &token, format, &file).await;
        let from_file = verify_file(&file, &key, checkpoints.items.clone(), false).unwrap();
        assert!(from_file.records > report.records, "{format}");
        assert_eq!(from_file.checkpoints, 1, "{format}");
    }
}

/// The records of reads are committed together: the recorder writes every record waiting
/// for it in one statement (one commit), each exactly as written alone (the verifier
/// recomputes each one's digest), and a record the database refuses fails only its own
/// request.
#[tokio::test]
async fn the_recorder_commits_waiting_records_together_and_a_refused_one_fails_alone() {
    use sitrep_db::access_log::recorder::Recorder;
    use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
    let app = TestApp::spawn().await;
    let record = |i: usize, request_id: String| AccessRecord {
        request_id,
        actor_type: if i.is_multiple_of(3) { ActorType::Anonymous } else { ActorType::User },
        actor_id: (!i.is_multiple_of(3)).then(uuid::Uuid::new_v4),
        actor_name: (!i.is_multiple_of(3)).then(|| format!("user.{i} ä \"q\"")),
        organisation_id: (i.is_multiple_of(2)).then(uuid::Uuid::new_v4),
        membership_id: None,
        roles: [vec![], vec!["reader"], vec!["secretariat", "auditor"]][i % 3].clone(),
        action: "picture.view".into(),
        object_type: (!i.is_multiple_of(4)).then_some("picture"),
        object_id: Some(format!("obj-{i}")),
        object_revision: (!i.is_multiple_of(5)).then_some(i32::try_from(i).unwrap()),
        object_ids: (i.is_multiple_of(7)).then(|| vec![uuid::Uuid::new_v4(); i % 3]),
        tier: (i % 2 == 1).then(|| "group".to_owned()),
        tlp: (i % 2 == 1).then(|| "TLP:AMBER".to_owned()),
        outcome: if i.is_multiple_of(11) { Outcome::Denied } else { Outcome::Allowed },
        reason: (i.is_multiple_of(11)).then(|| "forbidden".to_owned()),
        http_status: if i.is_multiple_of(11) { 403 } else { 200 },
        client_addr: Some(if i.is_multiple_of(2) { "127.0.0.1" } else { "::1" }.parse().unwrap()),
    };
    // Hold the chain head, so that the server's sealer leaves the records pending where
    // their transactions can be counted.
    let mut holder = app.pool.get().await.unwrap();
    let hold = holder.transaction().await.unwrap();
    hold.query_one("SELECT seq FROM access_log_head WHERE id FOR UPDATE", &[]).await.unwrap();
    let recorder = Recorder::start(app.pool.clone());
    let client = app.pool.get().await.unwrap();
    let commits = |prefix: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(
                    "SELECT count(*), count(DISTINCT xmin::text) FROM access_log_pending WHERE request_id LIKE $1",
                    &[&format!("{prefix}%")],
                )
                .await
                .unwrap();
            (row.get::<_, i64>(0), row.get::<_, i64>(1))
        }
    };

    // A hundred requests waiting at once: one commit (two if the writer woke between them).
    let written =
        futures_util::future::join_all((0..100).map(|i| recorder.record(record(i, format!("together-{i}"))))).await;
    assert!(written.iter().all(Result::is_ok), "{written:?}");
    let (records, transactions) = commits("together-").await;
    assert_eq!(records, 100);
    assert!(transactions <= 2, "{transactions} commits for 100 waiting records");

    // One record PostgreSQL refuses (a NUL in a text column) among them: its request
    // fails, every other record is written.
    let written = futures_util::future::join_all(
        (0..50).map(|i| recorder.record(record(i, if i == 17 { "bad-\0".into() } else { format!("mixed-{i}") }))),
    )
    .await;
    for (i, w) in written.iter().enumerate() {
        assert_eq!(w.is_ok(), i != 17, "record {i}: {w:?}");
    }
    assert_eq!(commits("mixed-").await.0, 49);

    // Sealed, the chain verifies: each shared row holds its own record's digest.
    hold.rollback().await.unwrap();
    app.seal_log().await;
    let sealed: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE request_id LIKE 'together-%' OR request_id LIKE 'mixed-%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sealed, 149);
    let report = verify_database(&app.db_url, &public_key(&app), vec![], false).await.unwrap();
    assert_eq!(report.records, report.last_seq as u64);
}
