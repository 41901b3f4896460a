//! Cursors as a hostile member with valid accounts meets them: a list cursor belongs to
//! its caller, its list, its filters and its limit; feed cursors and stream ids are sealed
//! for their reader, reveal no position (so no count of events the reader was not shown),
//! and keep working on another process of the deployment and after a restart.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{cast, content, published};
use crate::helpers::stream::{open, read_events};
use crate::helpers::{TestApp, problem};

/// `GET path` as `token`: the status and the JSON body.
async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = app.get(path, Some(token)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Asserts that each path answers `400 invalid_cursor`.
async fn refused(app: &TestApp, token: &str, paths: &[String]) {
    for path in paths {
        let res = app.get(path, Some(token)).await;
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(problem(res, 400).await["code"], "invalid_cursor", "{path}");
    }
}

/// A cursor as they were once made: base64 of readable JSON naming the user, the list
/// and the position.
fn old_style(user: &str, list: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"u": user, "l": list, "k": key}).to_string())
}

/// `cursor` with one bit flipped at byte `at`.
fn flipped(cursor: &str, at: usize) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(cursor).unwrap();
    let at = at % bytes.len();
    bytes[at] ^= 0x10;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Every outbox position as the server writes it into a cursor key (`xid|seq`).
async fn positions(app: &TestApp) -> Vec<String> {
    let client = app.pool.get().await.unwrap();
    let rows = client.query("SELECT xid::text, seq FROM events", &[]).await.unwrap();
    rows.iter().map(|r| format!("{}|{}", r.get::<_, String>(0), r.get::<_, i64>(1))).collect()
}

/// Asserts that no position appears in the decoded bytes of `cursor`.
fn reveals_no_position(cursor: &str, positions: &[String]) {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for p in positions {
        assert!(!text.contains(p.as_str()), "{cursor} shows the position {p}");
    }
    assert!(serde_json::from_slice::<Value>(&bytes).is_err(), "{cursor} is readable JSON");
}

/// The feed from `cursor`, waiting (up to 5 s) for `at_least` events: events are held
/// back while any older transaction in the cluster is still open.
async fn feed_until(app: &TestApp, token: &str, cursor: Option<&str>, at_least: usize) -> Value {
    let path = match cursor {
        Some(c) => format!("/api/v1/feed?cursor={c}"),
        None => "/api/v1/feed".to_owned(),
    };
    for _ in 0..100 {
        let (status, page) = get(app, token, &path).await;
        assert_eq!(status, 200);
        if page["events"].as_array().unwrap().len() >= at_least {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} events at {path}");
}

/// The id of the user holding `token`.
async fn my_id(app: &TestApp, token: &str) -> String {
    let (status, me) = get(app, token, "/api/v1/me").await;
    assert_eq!(status, 200);
    me["user_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_picture_list_cursor_reused_with_other_filters_or_another_limit_is_400() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    for _ in 0..3 {
        published(&app, &cast, &content("group", "AMBER")).await;
    }
    let query = "/api/v1/pictures?limit=1&tlp=AMBER&domain=information_influence";
    let (status, first) = get(&app, &cast.b_reader, query).await;
    assert_eq!(status, 200);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // The same query, in any order, pages on.
    let (status, second) = get(
        &app,
        &cast.b_reader,
        &format!("/api/v1/pictures?domain=information_influence&cursor={cursor}&tlp=AMBER&limit=1"),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(second["items"][0]["id"], first["items"][0]["id"]);
    refused(
        &app,
        &cast.b_reader,
        &[
            format!("/api/v1/pictures?limit=2&tlp=AMBER&domain=information_influence&cursor={cursor}"),
            format!("/api/v1/pictures?tlp=AMBER&domain=information_influence&cursor={cursor}"),
            format!("/api/v1/pictures?limit=1&tlp=GREEN&domain=information_influence&cursor={cursor}"),
            format!("/api/v1/pictures?limit=1&domain=information_influence&cursor={cursor}"),
            format!("/api/v1/pictures?limit=1&tlp=AMBER&domain=information_influence&status=published&cursor={cursor}"),
            format!("/api/v1/pictures?limit=1&tlp=AMBER&domain=information_influence&q=x&cursor={cursor}"),
            format!("/api/v1/pictures?limit=1&tlp=AMBER&domain=information_influence&cursor={}", flipped(&cursor, 30)),
        ],
    )
    .await;
    // Nor is it anyone else's, with the very same query.
    refused(&app, &cast.v_reader, &[format!("{query}&cursor={cursor}")]).await;
}

#[tokio::test]
async fn an_access_log_cursor_reused_with_other_filters_or_another_limit_is_400() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let auditor = app.seed_user("the.auditor", "S", &[Role::Auditor]).await;
    let token = app.token(&auditor).await;
    let query = "/api/v1/access-log?action=auth.login&limit=2";
    let (status, first) = get(&app, &token, query).await;
    assert_eq!(status, 200);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (status, second) = get(&app, &token, &format!("{query}&cursor={cursor}")).await;
    assert_eq!(status, 200);
    assert!(second["items"].as_array().unwrap().iter().all(|r| r["action"] == "auth.login"));
    assert!(second["items"][0]["seq"].as_i64() < first["items"][1]["seq"].as_i64());
    refused(
        &app,
        &token,
        &[
            format!("/api/v1/access-log?action=auth.login&limit=3&cursor={cursor}"),
            format!("/api/v1/access-log?action=auth.login&cursor={cursor}"),
            format!("/api/v1/access-log?action=user.view&limit=2&cursor={cursor}"),
            format!("/api/v1/access-log?action=auth.login&limit=2&outcome=denied&cursor={cursor}"),
            format!("/api/v1/access-log?limit=2&cursor={cursor}"),
            format!("/api/v1/access-log/checkpoints?limit=2&cursor={cursor}"),
        ],
    )
    .await;
    let other = app.seed_user("other.auditor", "S", &[Role::Auditor]).await;
    refused(&app, &app.token(&other).await, &[format!("{query}&cursor={cursor}")]).await;
    let _ = cast;
}

#[tokio::test]
async fn a_users_cursor_reused_with_another_limit_is_400() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    for name in ["u.one", "u.two", "u.three"] {
        app.seed_user(name, "A", &[Role::Reader]).await;
    }
    let token = app.token(&sec).await;
    let (_, first) = get(&app, &token, "/api/v1/users?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (status, _) = get(&app, &token, &format!("/api/v1/users?cursor={cursor}&limit=1")).await;
    assert_eq!(status, 200);
    refused(
        &app,
        &token,
        &[
            format!("/api/v1/users?limit=2&cursor={cursor}"),
            format!("/api/v1/users?cursor={cursor}"),
            format!("/api/v1/service-accounts?limit=1&cursor={cursor}"),
            format!("/api/v1/organisations?limit=1&cursor={cursor}"),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_feed_cursor_rewritten_for_another_user_forged_or_tampered_is_400() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    let (_, first) = get(&app, &cast.b_reader, "/api/v1/feed?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (status, _) = get(&app, &cast.b_reader, &format!("/api/v1/feed?limit=5&cursor={cursor}")).await;
    assert_eq!(status, 200, "a feed cursor goes with any limit");
    let b_id = my_id(&app, &cast.b_reader).await;
    let v_id = my_id(&app, &cast.v_reader).await;
    // The reader's own id written into a readable cursor, or another reader's cursor.
    refused(
        &app,
        &cast.b_reader,
        &[
            format!("/api/v1/feed?cursor={}", old_style(&b_id, "feed", "0|0")),
            format!("/api/v1/feed?cursor={}", flipped(&cursor, 0)),
            format!("/api/v1/feed?cursor={}", flipped(&cursor, 40)),
            format!("/api/v1/feed?cursor={}", &cursor[..cursor.len() - 4]),
        ],
    )
    .await;
    refused(
        &app,
        &cast.v_reader,
        &[format!("/api/v1/feed?cursor={cursor}"), format!("/api/v1/feed?cursor={}", old_style(&v_id, "feed", "0|0"))],
    )
    .await;
}

#[tokio::test]
async fn feed_cursors_and_stream_ids_do_not_reveal_how_many_events_the_reader_was_not_shown() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut live = open(&app, &cast.b_reader, None).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    let at_first = feed_until(&app, &cast.b_reader, None, 1).await;
    let before = at_first["next_cursor"].as_str().unwrap().to_owned();
    // Events B does not see, then one it does.
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("V")]);
    for _ in 0..5 {
        published(&app, &cast, &named).await;
    }
    published(&app, &cast, &content("group", "AMBER")).await;
    let got = read_events(&mut live, 2).await;
    assert_eq!(got.len(), 2);
    let after_hidden = feed_until(&app, &cast.b_reader, Some(&before), 1).await;
    assert_eq!(after_hidden["events"].as_array().unwrap().len(), 1, "only the visible one");
    let after = after_hidden["next_cursor"].as_str().unwrap().to_owned();
    // Asked again at the same place: another cursor for the same position.
    let again = get(&app, &cast.b_reader, &format!("/api/v1/feed?cursor={before}")).await.1;
    let again = again["next_cursor"].as_str().unwrap().to_owned();
    assert_ne!(again, after, "a cursor is fresh every time: equal positions do not show");
    let all = positions(&app).await;
    assert_eq!(all.len(), 7);
    for c in [&before, &after, &again, &got[0].0, &got[1].0] {
        reveals_no_position(c, &all);
        assert_eq!(c.len(), before.len(), "every cursor and id has one length");
    }
    // The stream ids resume, and only for their reader.
    let mut resumed = open(&app, &cast.b_reader, Some(&got[0].0)).await;
    let more = read_events(&mut resumed, 1).await;
    assert_eq!(more[0].2, got[1].2);
}

#[tokio::test]
async fn a_forged_foreign_or_tampered_last_event_id_is_400() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut live = open(&app, &cast.b_reader, None).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    let got = read_events(&mut live, 1).await;
    let id = got[0].0.clone();
    let b_id = my_id(&app, &cast.b_reader).await;
    let (_, feed) = get(&app, &cast.b_reader, "/api/v1/feed").await;
    let feed_cursor = feed["next_cursor"].as_str().unwrap().to_owned();
    for (token, last) in [
        (&cast.b_reader, old_style(&b_id, "stream", "0|0")),
        (&cast.b_reader, flipped(&id, 5)),
        (&cast.b_reader, flipped(&id, 60)),
        (&cast.b_reader, feed_cursor),
        (&cast.b_reader, "x".repeat(4000)),
        (&cast.v_reader, id.clone()),
    ] {
        let res =
            app.client.get(app.url("/api/v1/stream")).bearer_auth(token).header("last-event-id", &last).send().await;
        let res = res.unwrap();
        assert_eq!(problem(res, 400).await["code"], "invalid_cursor", "{last}");
    }
}

/// A feed page that holds an event. The feed reads only events of transactions older
/// than any still running in the cluster, and other tests' transactions share it: a page
/// read a moment after a publish may not hold its event yet.
async fn feed_page(app: &TestApp, token: &str, path: &str) -> Value {
    for _ in 0..100 {
        let (status, page) = get(app, token, path).await;
        assert_eq!(status, 200, "{page}");
        if page["events"].as_array().is_some_and(|e| !e.is_empty()) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} held no event within 10 s");
}

#[tokio::test]
async fn cursors_work_on_another_process_and_after_a_restart_but_not_under_another_deployments_key() {
    let db = crate::helpers::fresh_database().await;
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
    let cast = cast(&one).await;
    for _ in 0..3 {
        published(&one, &cast, &content("group", "AMBER")).await;
    }
    let (_, list) = get(&one, &cast.b_reader, "/api/v1/pictures?limit=1").await;
    let list_cursor = list["next_cursor"].as_str().unwrap().to_owned();
    let feed = feed_page(&one, &cast.b_reader, "/api/v1/feed?limit=1").await;
    let feed_cursor = feed["next_cursor"].as_str().unwrap().to_owned();
    let (_, want_list) = get(&one, &cast.b_reader, &format!("/api/v1/pictures?limit=1&cursor={list_cursor}")).await;
    let want_feed = feed_page(&one, &cast.b_reader, &format!("/api/v1/feed?limit=1&cursor={feed_cursor}")).await;

    // The deployment's shared keys, kept while the first process stops.
    let kept = std::env::temp_dir().join(format!("sitrep-kept-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(kept.join("keys")).unwrap();
    std::fs::copy(one.data_dir.join("secrets/totp-seal.key"), kept.join("totp-seal.key")).unwrap();
    for entry in std::fs::read_dir(one.data_dir.join("keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), kept.join("keys").join(entry.file_name())).unwrap();
    }
    let orgs = one.orgs.clone();
    drop(one);

    let (keys, seal) = (kept.join("keys"), kept.join("totp-seal.key"));
    let mut restarted = TestApp::spawn_on(&db, move |s| {
        s.auth.keys_dir = Some(keys);
        s.auth.totp_seal_key_file = Some(seal);
    })
    .await;
    restarted.orgs = orgs.clone();
    let (status, got_list) =
        get(&restarted, &cast.b_reader, &format!("/api/v1/pictures?limit=1&cursor={list_cursor}")).await;
    assert_eq!((status, &got_list["items"]), (200, &want_list["items"]));
    let got_feed = feed_page(&restarted, &cast.b_reader, &format!("/api/v1/feed?limit=1&cursor={feed_cursor}")).await;
    assert_eq!(got_feed["events"], want_feed["events"]);

    // A server with a seal key of its own is another deployment: the cursors are not its.
    let keys = kept.join("keys");
    let stranger = TestApp::spawn_on(&db, move |s| s.auth.keys_dir = Some(keys)).await;
    refused(
        &stranger,
        &cast.b_reader,
        &[
            format!("/api/v1/pictures?limit=1&cursor={list_cursor}"),
            format!("/api/v1/feed?limit=1&cursor={feed_cursor}"),
        ],
    )
    .await;
    drop(stranger);
    drop(restarted);
    let _ = std::fs::remove_dir_all(kept);
}
