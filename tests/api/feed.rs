//! The outbox and the pull feed: events written with the change, read in an order that
//! never skips a late commit, only by those who may see them.

use serde_json::{Value, json};

use crate::helpers::pictures::{act, cast, content, create, published, revise};
use crate::helpers::{TestApp, problem};

async fn feed_once(app: &TestApp, token: &str, cursor: Option<&str>) -> Value {
    let path = match cursor {
        Some(c) => format!("/api/v1/feed?cursor={c}"),
        None => "/api/v1/feed".to_owned(),
    };
    let res = app.get(&path, Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The feed, waiting (up to 5 s) for at least `at_least` events: events are held back
/// while any older transaction in the cluster is still open (another test's, say).
async fn feed_at_least(app: &TestApp, token: &str, cursor: Option<&str>, at_least: usize) -> Value {
    let mut page = feed_once(app, token, cursor).await;
    for _ in 0..100 {
        if page["events"].as_array().unwrap().len() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = feed_once(app, token, cursor).await;
    }
    page
}

async fn feed(app: &TestApp, token: &str, cursor: Option<&str>) -> Value {
    feed_once(app, token, cursor).await
}

fn kinds(page: &Value) -> Vec<(String, String)> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["picture_id"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_audience_receives_published_revised_and_withdrawn_events_and_no_one_else_does() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let draft = create(&app, &cast.author, &content("group", "AMBER")).await;
    let group = published(&app, &cast, &content("group", "AMBER")).await;
    let ras = published(&app, &cast, &content("group_virt_ras", "GREEN")).await;
    assert_eq!(act(&app, &cast.approver, &group, "withdraw").await.status(), 200);

    let b = feed_at_least(&app, &cast.b_reader, None, 3).await;
    assert_eq!(
        kinds(&b),
        [
            ("picture.published".to_owned(), group.clone()),
            ("picture.published".to_owned(), ras.clone()),
            ("picture.withdrawn".to_owned(), group.clone())
        ]
    );
    assert!(!b.to_string().contains(draft["id"].as_str().unwrap()));
    assert!(b["events"][0].get("title").is_none(), "events are thin");
    let r = feed_at_least(&app, &cast.r_reader, None, 1).await;
    assert_eq!(kinds(&r), [("picture.published".to_owned(), ras.clone())]);

    // Paging: the cursor continues where the page ended, and is the caller's own.
    let res = app.get("/api/v1/feed?limit=1", Some(&cast.b_reader)).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.reason.as_deref()), ("feed.read", Some("events:1")));
    let first: Value = res.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = feed_at_least(&app, &cast.b_reader, Some(cursor), 2).await;
    assert_eq!(kinds(&rest).len(), 2);
    let end = rest["next_cursor"].as_str().unwrap();
    assert!(kinds(&feed(&app, &cast.b_reader, Some(end)).await).is_empty());
    let res = app.get(&format!("/api/v1/feed?cursor={cursor}"), Some(&cast.v_reader)).await;
    assert_eq!(problem(res, 400).await["code"], "invalid_cursor");
    let res = app.get("/api/v1/feed?cursor=bm90LWEtY3Vyc29y", Some(&cast.b_reader)).await;
    problem(res, 400).await;
}

#[tokio::test]
async fn narrowing_recalls_the_picture_from_those_who_lose_sight_of_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let res = revise(&app, &cast.author, &id, &json!({"tier": "group"})).await;
    assert_eq!(res.status(), 200);

    // Visibility is decided at delivery: V no longer receives the earlier publication,
    // only the recall, with the id alone.
    let v = feed_at_least(&app, &cast.v_reader, None, 1).await;
    assert_eq!(kinds(&v), [("picture.recalled".to_owned(), id.clone())]);
    let recall = &v["events"][0];
    assert!(recall.get("tier").is_none() && recall.get("tlp").is_none() && recall.get("revision").is_none());
    let b = feed_at_least(&app, &cast.b_reader, None, 2).await;
    assert_eq!(kinds(&b), [("picture.published".to_owned(), id.clone()), ("picture.revised".to_owned(), id.clone())]);
}

#[tokio::test]
async fn acknowledgements_are_events_for_the_originator_alone() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = app
        .post_json(
            &format!("/api/v1/pictures/{id}/acknowledgements"),
            Some(&cast.b_reader),
            &json!({"kind": "received"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let own = feed_at_least(&app, &cast.author, None, 3).await;
    assert!(kinds(&own).contains(&("picture.acknowledged".to_owned(), id.clone())));
    let other = app.seed_user("c.reader", "S", &[sitrep_types::Role::Reader]).await;
    let token = app.token(&other).await;
    assert!(!kinds(&feed(&app, &token, None).await).iter().any(|(k, _)| k == "picture.acknowledged"));
}

#[tokio::test]
async fn an_event_that_commits_late_is_not_skipped_by_a_reader_that_moved_on() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let first = published(&app, &cast, &content("group", "AMBER")).await;
    // A transaction writes an event for `first` and stays open...
    let mut slow = app.pool.get().await.unwrap();
    let tx = slow.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO events (id, type, picture_id, revision, tier, tlp) VALUES (gen_random_uuid(), 'picture.revised', $1::text::uuid, 1, 'group', 'AMBER')",
        &[&first],
    )
    .await
    .unwrap();
    // ...while another picture is published and committed after it.
    let second = published(&app, &cast, &content("group", "AMBER")).await;
    let page = feed(&app, &cast.b_reader, None).await;
    let before = kinds(&page);
    assert!(!before.iter().any(|(_, p)| *p == second), "nothing past the open transaction: {before:?}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    tx.commit().await.unwrap();
    let rest = feed_at_least(&app, &cast.b_reader, Some(&cursor), 3 - before.len()).await;
    let all: Vec<(String, String)> = before.into_iter().chain(kinds(&rest)).collect();
    assert_eq!(
        all,
        [
            ("picture.published".to_owned(), first.clone()),
            ("picture.revised".to_owned(), first),
            ("picture.published".to_owned(), second)
        ],
        "the late event arrives, in commit-safe order, nothing skipped"
    );
}

#[tokio::test]
async fn only_reading_roles_have_a_feed() {
    let app = TestApp::spawn().await;
    let auditor = app.seed_user("aud.user", "S", &[sitrep_types::Role::Auditor]).await;
    let token = app.token(&auditor).await;
    problem(app.get("/api/v1/feed", Some(&token)).await, 403).await;
}
