//! `database.read_url` on a real streaming standby of the test cluster (`deploy/test`
//! makes it with `pg_basebackup -R` and has it replay with `recovery_min_apply_delay`, so
//! its lag is seconds, not microseconds): lists and search are read from it; reads by id,
//! the visibility re-check and the access-log record use the primary; a narrowing on the
//! primary is never undone by the lag.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sitrep_domain::visibility::Viewer;
use sitrep_types::Reach;

use crate::helpers::pictures::{cast, content, create, published, revise};
use crate::helpers::{TestApp, admin, as_service_role};

/// The standby's URL (set by `deploy/test`) for database `db`, as the superuser.
fn standby_url(db: &str) -> String {
    let base = std::env::var("SITREP_TEST_STANDBY_URL")
        .expect("SITREP_TEST_STANDBY_URL is not set: run the tests with deploy/test");
    format!("{}/{db}", base.rsplit_once('/').unwrap().0)
}

fn database_of(url: &str) -> &str {
    url.rsplit_once('/').unwrap().1
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Waits until the standby has replayed everything the primary has written so far;
/// returns how long that took.
async fn standby_caught_up(standby: &tokio_postgres::Client) -> Duration {
    let start = Instant::now();
    // The insert position, not the write position: the test cluster commits
    // asynchronously, so a commit just answered may not be written out yet.
    let lsn: String = admin().await.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.unwrap().get(0);
    while !standby
        .query_one("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", &[&lsn])
        .await
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(start.elapsed() < Duration::from_secs(60), "the standby does not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// A server whose `database.read_url` is the standby; and a superuser connection to the
/// standby's copy of its database, once it has it.
async fn on_standby() -> (TestApp, tokio_postgres::Client) {
    let app = TestApp::spawn_with(|s| {
        let url: String = secrecy::ExposeSecret::expose_secret(s.database.url.as_ref().unwrap()).to_owned();
        s.database.read_url = Some(as_service_role(&standby_url(database_of(&url))).into());
    })
    .await;
    let postgres = connect(&standby_url("postgres")).await;
    standby_caught_up(&postgres).await;
    let standby = connect(&standby_url(database_of(&app.db_url))).await;
    assert!(
        standby.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get::<_, bool>(0),
        "a standby, not the primary"
    );
    (app, standby)
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect()
}

async fn rows(db: &tokio_postgres::Client, id: &str) -> i64 {
    let id: uuid::Uuid = id.parse().unwrap();
    db.query_one("SELECT count(*) FROM pictures WHERE id = $1", &[&id]).await.unwrap().get(0)
}

async fn tier_rank(db: &tokio_postgres::Client, id: &str) -> i16 {
    let id: uuid::Uuid = id.parse().unwrap();
    db.query_one("SELECT tier_rank FROM pictures WHERE id = $1", &[&id]).await.unwrap().get(0)
}

#[tokio::test]
async fn lists_and_search_come_from_the_streaming_standby_while_reads_by_id_use_the_primary() {
    let (app, standby) = on_standby().await;
    let cast = cast(&app).await;
    let first = published(&app, &cast, &content("group", "AMBER")).await;
    standby_caught_up(&standby).await;
    let page: Value = app.get("/api/v1/pictures", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), [first.as_str()]);

    // Published on the primary, not yet replayed by the standby: lists and search do not
    // have it, a read by id (the primary) does.
    let second = published(&app, &cast, &content("group", "AMBER")).await;
    let res = app.get("/api/v1/pictures", Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    let page: Value = res.json().await.unwrap();
    let search: Value = app.get("/api/v1/pictures?q=SMS", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(rows(&standby, &second).await, 0, "the standby was still behind when the lists were read");
    assert_eq!(ids(&page), [first.as_str()], "the list was read from the standby");
    assert_eq!(ids(&search), [first.as_str()], "the search was read from the standby");
    assert_eq!(record.object_ids.unwrap(), vec![first.parse::<uuid::Uuid>().unwrap()], "recorded on the primary");
    assert_eq!(app.get(&format!("/api/v1/pictures/{second}"), Some(&cast.b_reader)).await.status(), 200);

    // The replica pool's connections are on the standby and only there.
    let count = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sitrep-read'";
    let db = database_of(&app.db_url);
    assert!(standby.query_one(count, &[&db]).await.unwrap().get::<_, i64>(0) >= 1);
    assert_eq!(admin().await.query_one(count, &[&db]).await.unwrap().get::<_, i64>(0), 0);

    let lag = standby_caught_up(&standby).await;
    let page: Value = app.get("/api/v1/pictures", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page).len(), 2, "once replayed, the list has it (after {lag:?} more)");
}

#[tokio::test]
async fn a_narrowing_on_the_primary_is_never_undone_by_the_lagging_standby() {
    let (app, standby) = on_standby().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group_virt", "AMBER")).await;
    standby_caught_up(&standby).await;
    let page: Value = app.get("/api/v1/pictures", Some(&cast.v_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), [id.as_str()], "V sees it while it is shared with VIRT");

    // Narrowed on the primary to the group only: V loses sight at once.
    let wide = tier_rank(&standby, &id).await;
    let res = revise(&app, &cast.author, &id, &json!({"tier": "group"})).await;
    assert_eq!(res.status(), 200);
    let narrowed = Instant::now();
    for path in ["/api/v1/pictures", "/api/v1/pictures?q=SMS", "/api/v1/pictures?tier=group_virt"] {
        let res = app.get(path, Some(&cast.v_reader)).await;
        assert_eq!(res.status(), 200);
        let record = app.audit_of(&res).await;
        let page: Value = res.json().await.unwrap();
        assert_eq!(ids(&page), Vec::<&str>::new(), "{path} shows a picture narrowed away from V");
        assert_eq!(record.object_ids.unwrap(), Vec::<uuid::Uuid>::new(), "{path}: the record names what was returned");
    }
    // ...while the standby still had it shared with VIRT: the lists read the old row.
    assert_eq!(tier_rank(&standby, &id).await, wide, "the standby was still behind when the lists were read");
    let lag = narrowed.elapsed() + standby_caught_up(&standby).await;
    assert!(tier_rank(&standby, &id).await < wide, "replayed after {lag:?}");
    assert!(lag >= Duration::from_secs(1), "the lag was visible ({lag:?})");
    let page: Value = app.get("/api/v1/pictures", Some(&cast.v_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), Vec::<&str>::new());
    let page: Value = app.get("/api/v1/pictures", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), [id.as_str()], "the group still sees it");
}

#[tokio::test]
async fn a_replica_that_is_the_primary_serves_lists_through_its_own_read_only_pool() {
    let app = TestApp::spawn_with(|s| s.database.read_url = s.database.url.clone()).await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = app.get("/api/v1/pictures?q=SMS", Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert!(page["items"][0]["title"].is_object(), "full sight, confirmed on the primary");
    assert_eq!(record.object_ids.unwrap(), vec![id.parse::<uuid::Uuid>().unwrap()]);
    let db = app.pool.get().await.unwrap();
    let row = db
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sitrep-read'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) >= 1, "a connection of the replica pool");
}

#[tokio::test]
async fn the_primary_recheck_drops_what_the_caller_no_longer_sees() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let shared: uuid::Uuid = published(&app, &cast, &content("group", "AMBER")).await.parse().unwrap();
    let draft: uuid::Uuid =
        create(&app, &cast.author, &content("group", "AMBER")).await["id"].as_str().unwrap().parse().unwrap();
    let b = Viewer { organisation: app.org("B"), reach: Reach::Member, reads_pictures: true, secretariat: false };
    let db = app.pool.get().await.unwrap();
    let now = sitrep_db::pictures::sight_now(&db, &b, &[shared, draft]).await.unwrap();
    assert_eq!(now.get(&shared), Some(&true));
    assert!(!now.contains_key(&draft), "a draft of another organisation is not there");
    // The secretariat sees the metadata of what it may not read, never the content.
    let sec = Viewer { organisation: app.org("S"), reach: Reach::Member, reads_pictures: false, secretariat: true };
    let now = sitrep_db::pictures::sight_now(&db, &sec, &[shared]).await.unwrap();
    assert_eq!(now.get(&shared), Some(&false));
}

/// The multi-host URL a deployer uses to follow a failover: the standby listed first is
/// passed over (it is read-only) and every write lands on the primary.
#[tokio::test]
async fn a_multi_host_url_with_target_session_attrs_read_write_finds_the_primary_past_a_standby() {
    let standby = standby_url("postgres");
    let standby_host = standby.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
    let app = TestApp::spawn_with(move |s| {
        for url in [&mut s.database.url, &mut s.database.migration_url] {
            let plain: String = secrecy::ExposeSecret::expose_secret(url.as_ref().unwrap()).to_owned();
            let both = plain.replacen("@", &format!("@{standby_host},"), 1);
            *url = Some(format!("{both}?target_session_attrs=read-write").into());
        }
    })
    .await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.status(), 200);
    let count = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sitrep'";
    let db = database_of(&app.db_url);
    assert!(admin().await.query_one(count, &[&db]).await.unwrap().get::<_, i64>(0) >= 1, "on the primary");
    let on_standby = connect(&standby).await;
    assert_eq!(on_standby.query_one(count, &[&db]).await.unwrap().get::<_, i64>(0), 0, "none on the standby");
}
