//! `database.read_url`: lists and search read from the replica pool; the visibility of
//! what they return is checked again on the primary, and the access-log record is
//! written to the primary. (A real streaming replica is not started here: the "replica"
//! is a second database, or the same one; docs/deploy.md says what that covers.)

use serde_json::Value;
use sitrep_domain::visibility::Viewer;
use sitrep_types::Reach;

use crate::helpers::pictures::{cast, content, create, published};
use crate::helpers::{TestApp, as_service_role, fresh_database};

#[tokio::test]
async fn lists_come_from_the_replica_while_reads_by_id_and_the_access_log_use_the_primary() {
    // A replica that has not caught up at all: an empty, migrated database.
    let replica = as_service_role(&fresh_database().await);
    let app = TestApp::spawn_with(move |s| s.database.read_url = Some(replica.into())).await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = app.get("/api/v1/pictures", Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.object_ids.as_deref()), ("picture.list", Some(&[][..])));
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["items"], serde_json::json!([]), "the list was read from the (empty) replica");
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200, "a read by id goes to the primary");
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
