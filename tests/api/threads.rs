//! Questions on a picture: a thread between the asking organisation and the originator,
//! read by the secretariat, invisible to every other organisation.

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_types::{Reach, Role};

use crate::helpers::mail::{self, address, opt_in};
use crate::helpers::pictures::{Cast, act, cast, content, published, revise};
use crate::helpers::{TestApp, problem};

/// The cast, and a reader of C, a member organisation that sees group pictures and is
/// party to no thread.
async fn with_third(app: &mut TestApp) -> (Cast, String) {
    let c = app.seed_org("ORG-C", Reach::Member).await;
    app.orgs.insert("C".to_owned(), c);
    let cast = cast(app).await;
    let third = app.token(&app.seed_user("c.reader", "C", &[Role::Reader]).await).await;
    (cast, third)
}

async fn ask(app: &TestApp, token: &str, id: &str, body: &str) -> Response {
    app.post_json(&format!("/api/v1/pictures/{id}/threads"), Some(token), &json!({"body": body})).await
}

async fn threads(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/pictures/{id}/threads"), Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["threads"].as_array().unwrap().clone()
}

async fn mine(app: &TestApp, token: &str) -> Value {
    let res = app.get("/api/v1/me/threads", Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn bodies(thread: &Value) -> Vec<String> {
    thread["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect()
}

async fn events_of(app: &TestApp, id: &str) -> i64 {
    let id: uuid::Uuid = id.parse().unwrap();
    let c = app.pool.get().await.unwrap();
    c.query_one("SELECT count(*) FROM events WHERE picture_id = $1", &[&id]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_question_is_answered_by_the_originator_and_no_third_organisation_learns_of_it() {
    let mut app = TestApp::spawn().await;
    let (cast, third) = with_third(&mut app).await;
    let sec_meta = app.token(&app.seed_user("sec.only", "S", &[Role::Secretariat]).await).await;
    let sec_reader = app.token(&app.seed_user("sec.reader", "S", &[Role::Secretariat, Role::Reader]).await).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let events_before = events_of(&app, &id).await;

    // B asks: its organisation's thread opens with the question.
    let res = ask(&app, &cast.b_reader, &id, "Which municipalities received the messages?").await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let audit = app.audit_of(&res).await;
    let thread: Value = res.json().await.unwrap();
    let tid = thread["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/pictures/{id}/threads/{tid}"));
    assert_eq!(thread["asking_organisation"]["code"], "ORG-B");
    assert_eq!(thread["opened_as"], "question");
    assert_eq!(bodies(&thread), ["Which municipalities received the messages?"]);
    assert_eq!(thread["unread"], 0, "one's own messages are not unread");
    assert_eq!((audit.action.as_str(), audit.object_type.as_deref()), ("thread.ask", Some("thread")));
    assert_eq!(audit.object_id.as_deref(), Some(tid.as_str()));
    assert_eq!(audit.reason.as_deref(), Some(format!("picture:{id}").as_str()));

    // C sees the picture but not the thread: not in the list, 404 by id, nothing to write in.
    assert!(threads(&app, &third, &id).await.is_empty());
    let res = app.get(&location, Some(&third)).await;
    assert_eq!(problem(res, 404).await["code"], "thread_not_found");
    let res = app.post_json(&format!("{location}/messages"), Some(&third), &json!({"body": "Let me in"})).await;
    assert_eq!(problem(res, 404).await["code"], "thread_not_found");
    assert_eq!(mine(&app, &third).await, json!({"threads": [], "unread": 0}));
    // C's own question is a thread of its own, which B does not see either.
    let res = ask(&app, &third, &id, "Is this the same campaign as last week?").await;
    assert_eq!(res.status(), 201);
    let c_thread: Value = res.json().await.unwrap();
    assert_ne!(c_thread["id"], thread["id"]);
    let b_sees: Vec<Value> = threads(&app, &cast.b_reader, &id).await;
    assert_eq!(b_sees.len(), 1);
    assert_eq!(b_sees[0]["id"], thread["id"]);
    let res = app
        .get(&format!("/api/v1/pictures/{id}/threads/{}", c_thread["id"].as_str().unwrap()), Some(&cast.b_reader))
        .await;
    assert_eq!(problem(res, 404).await["code"], "thread_not_found");

    // The originator sees both, each with one unread message, and answers B.
    let a_mine = mine(&app, &cast.author).await;
    assert_eq!(a_mine["unread"], 2);
    let a_sees = threads(&app, &cast.author, &id).await;
    assert_eq!(a_sees.len(), 2);
    assert!(a_sees.iter().all(|t| t["unread"] == 1), "{a_sees:?}");
    assert_eq!(mine(&app, &cast.author).await["unread"], 0, "reading the threads read them");
    let res = app
        .post_json(&format!("{location}/messages"), Some(&cast.author), &json!({"body": "Vaasa and Seinäjoki."}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.audit_of(&res).await.action, "thread.message");
    let b_mine = mine(&app, &cast.b_reader).await;
    assert_eq!(b_mine["unread"], 1);
    assert_eq!(b_mine["threads"][0]["picture_reference"].as_str().map(|r| r.starts_with("VTY-")), Some(true));
    let res = app.get(&location, Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.action, "thread.view");
    let read: Value = res.json().await.unwrap();
    assert_eq!(bodies(&read), ["Which municipalities received the messages?", "Vaasa and Seinäjoki."]);
    assert_eq!(read["messages"][1]["organisation"]["code"], "ORG-A");
    assert_eq!(mine(&app, &cast.b_reader).await["unread"], 0);
    // The answer reached C's thread neither.
    let c_sees = threads(&app, &third, &id).await;
    assert_eq!(c_sees.len(), 1);
    assert_eq!(bodies(&c_sees[0]), ["Is this the same campaign as last week?"]);

    // The secretariat reads every thread; the messages only where it reads the picture.
    let meta_view = threads(&app, &sec_meta, &id).await;
    assert_eq!(meta_view.len(), 2);
    assert!(meta_view.iter().all(|t| t.get("messages").is_none() && t["message_count"].as_i64().unwrap() >= 1));
    let full_view = threads(&app, &sec_reader, &id).await;
    assert_eq!(bodies(&full_view[0]).len() + bodies(&full_view[1]).len(), 3);
    assert_eq!(mine(&app, &sec_meta).await["threads"].as_array().unwrap().len(), 2);
    // ... and writes in none.
    for token in [&sec_meta, &sec_reader] {
        let res = app.post_json(&format!("{location}/messages"), Some(token), &json!({"body": "Noted"})).await;
        assert_eq!(problem(res, 403).await["code"], "not_a_party");
    }

    // Who does not see the picture gets 404 for it; the originator does not ask itself.
    let res = app.get(&format!("/api/v1/pictures/{id}/threads"), Some(&cast.v_reader)).await;
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");
    let res = ask(&app, &cast.v_reader, &id, "?").await;
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");
    let res = app.get(&location, Some(&cast.r_reader)).await;
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");
    let res = ask(&app, &cast.author, &id, "Note to self").await;
    assert_eq!(problem(res, 409).await["code"], "own_picture");

    // Threads are not events: nothing reached the outbox, so no feed, stream or webhook
    // carries them.
    assert_eq!(events_of(&app, &id).await, events_before);
}

#[tokio::test]
async fn need_more_info_opens_the_thread_with_its_note() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}/acknowledgements");
    let res = app
        .post_json(
            &path,
            Some(&cast.b_reader),
            &json!({"kind": "need_more_info", "note": "Source of the screenshots?"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let a_sees = threads(&app, &cast.author, &id).await;
    assert_eq!(a_sees.len(), 1);
    assert_eq!(a_sees[0]["opened_as"], "need_more_info");
    assert_eq!(a_sees[0]["asking_organisation"]["code"], "ORG-B");
    assert_eq!(bodies(&a_sees[0]), ["Source of the screenshots?"]);
    // A later question continues the same thread.
    let res = ask(&app, &cast.b_reader, &id, "And their times?").await;
    assert_eq!(res.status(), 201);
    let thread: Value = res.json().await.unwrap();
    assert_eq!(thread["id"], a_sees[0]["id"]);
    assert_eq!(bodies(&thread), ["Source of the screenshots?", "And their times?"]);
    // Other acknowledgements open nothing.
    let res = app.post_json(&path, Some(&cast.v_reader), &json!({"kind": "received", "note": "ok"})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(threads(&app, &cast.author, &id).await.len(), 1);
}

#[tokio::test]
async fn a_narrowed_picture_takes_the_thread_from_the_organisation_that_lost_sight() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let res = ask(&app, &cast.v_reader, &id, "Seen in Swedish too?").await;
    assert_eq!(res.status(), 201);
    let tid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(mine(&app, &cast.v_reader).await["threads"].as_array().unwrap().len(), 1);

    assert_eq!(revise(&app, &cast.author, &id, &json!({"tier": "group"})).await.status(), 200);
    // V no longer sees the picture: its thread is gone for it, in every place.
    let res = app.get(&format!("/api/v1/pictures/{id}/threads/{tid}"), Some(&cast.v_reader)).await;
    problem(res, 404).await;
    let res = app
        .post_json(
            &format!("/api/v1/pictures/{id}/threads/{tid}/messages"),
            Some(&cast.v_reader),
            &json!({"body": "?"}),
        )
        .await;
    problem(res, 404).await;
    assert_eq!(mine(&app, &cast.v_reader).await, json!({"threads": [], "unread": 0}));
    // The originator keeps it: it is the picture's history.
    let a_sees = threads(&app, &cast.author, &id).await;
    assert_eq!(a_sees.len(), 1);
    assert_eq!(bodies(&a_sees[0]), ["Seen in Swedish too?"]);
}

#[tokio::test]
async fn a_withdrawn_picture_keeps_its_threads_but_takes_no_more_messages() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "GREEN")).await;
    let res = ask(&app, &cast.b_reader, &id, "Still current?").await;
    let tid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(act(&app, &cast.approver, &id, "withdraw").await.status(), 200);
    let res = app
        .post_json(
            &format!("/api/v1/pictures/{id}/threads/{tid}/messages"),
            Some(&cast.author),
            &json!({"body": "No."}),
        )
        .await;
    assert_eq!(problem(res, 409).await["code"], "not_published");
    let res = ask(&app, &cast.b_reader, &id, "Why?").await;
    assert_eq!(problem(res, 409).await["code"], "not_published");
    assert_eq!(bodies(&threads(&app, &cast.b_reader, &id).await[0]), ["Still current?"]);
}

#[tokio::test]
async fn a_message_must_be_text_of_at_most_4000_characters() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    for body in [json!({"body": ""}), json!({"body": "x".repeat(4001)}), json!({"body": "bell\u{7}"})] {
        let res = app.post_json(&format!("/api/v1/pictures/{id}/threads"), Some(&cast.b_reader), &body).await;
        assert_eq!(problem(res, 422).await["errors"][0]["field"], "body");
    }
    let res = app
        .post_json(&format!("/api/v1/pictures/{id}/threads"), Some(&cast.b_reader), &json!({"body": "ok", "to": "all"}))
        .await;
    assert!(matches!(res.status().as_u16(), 400 | 422));
    assert!(threads(&app, &cast.author, &id).await.is_empty(), "nothing was stored");
    let res = ask(&app, &cast.b_reader, &id, "two\nlines").await;
    assert_eq!(res.status(), 201);
}

/// Waits until every thread message queued about `picture` is settled, and returns
/// (address, state, outcome) of each.
async fn settled(app: &TestApp, picture: &str, n: usize) -> Vec<(String, String, Option<String>)> {
    let id: uuid::Uuid = picture.parse().unwrap();
    let client = app.pool.get().await.unwrap();
    for _ in 0..400 {
        let rows = client
            .query(
                "SELECT address, state, last_outcome FROM mail_messages WHERE kind = 'thread' AND picture_id = $1",
                &[&id],
            )
            .await
            .unwrap();
        if rows.len() >= n && rows.iter().all(|r| r.get::<_, String>(1) != "pending") {
            return rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the thread messages about {picture} were not settled");
}

#[tokio::test]
async fn each_message_is_mailed_to_the_other_partys_people_in_the_thread_and_above_green_without_its_text() {
    let sink = mail::shared().await;
    let mut app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let (cast, third) = with_third(&mut app).await;
    let b2 = app.token(&app.seed_user("b.reader2", "B", &[Role::Reader]).await).await;
    let sec = app.token(&app.seed_user("s.reader", "S", &[Role::Secretariat, Role::Reader]).await).await;
    let (a, b, b_other, c, s, v) =
        (address("a"), address("b"), address("b2"), address("c"), address("s"), address("v"));
    let all = json!({"urgencies": ["routine", "priority", "immediate"], "language": "en"});
    for (token, addr) in
        [(&cast.author, &a), (&cast.b_reader, &b), (&b2, &b_other), (&third, &c), (&sec, &s), (&cast.v_reader, &v)]
    {
        opt_in(&app, sink, token, addr, all.clone()).await;
    }
    let secret = "The accounts are run from one office in Tallinn";
    let id = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let reference: String = app
        .get(&format!("/api/v1/pictures/{id}"), Some(&cast.author))
        .await
        .json::<Value>()
        .await
        .unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();

    // B asks: the originator's author (who created the picture) is told, without the text.
    let res = ask(&app, &cast.b_reader, &id, secret).await;
    let tid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let rows = settled(&app, &id, 1).await;
    assert_eq!(rows, [(a.clone(), "sent".to_owned(), Some("sent".to_owned()))]);
    let got = sink.wait_for(&a, 2).await;
    let told = got.iter().find(|m| m.text().contains("question thread")).expect("the message about the thread");
    assert!(told.header("subject").unwrap().contains(&reference));
    assert!(told.text().contains("ORG-B wrote in the question thread"), "{}", told.text());
    assert!(!told.everything().contains("Tallinn"), "AMBER text never leaves in a message");

    // A answers: B's asker is told; B's other reader, C, the secretariat and V are not.
    let path = format!("/api/v1/pictures/{id}/threads/{tid}/messages");
    assert_eq!(app.post_json(&path, Some(&cast.author), &json!({"body": "Noted"})).await.status(), 201);
    let rows = settled(&app, &id, 2).await;
    let mut to: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    to.sort_unstable();
    let mut expected = vec![a.as_str(), b.as_str()];
    expected.sort_unstable();
    assert_eq!(to, expected);
    assert!(sink.wait_for(&b, 2).await.iter().any(|m| m.text().contains("ORG-A wrote in the question thread")));
    for nobody in [&b_other, &c, &s] {
        assert!(sink.messages_to(nobody).iter().all(|m| !m.text().contains("question thread")), "{nobody}");
    }

    // V asks, then loses sight of the picture: A's answer is queued for V's asker but not
    // sent, because the worker decides again with the picture as it stands then.
    let res = ask(&app, &cast.v_reader, &id, "Also in Swedish?").await;
    let v_thread = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    settled(&app, &id, 3).await;
    assert_eq!(revise(&app, &cast.author, &id, &json!({"tier": "group"})).await.status(), 200);
    let path = format!("/api/v1/pictures/{id}/threads/{v_thread}/messages");
    assert_eq!(app.post_json(&path, Some(&cast.author), &json!({"body": "Yes"})).await.status(), 201);
    let rows = settled(&app, &id, 4).await;
    let to_v: Vec<_> = rows.iter().filter(|r| r.0 == v).collect();
    assert_eq!(to_v.len(), 1);
    assert_eq!((to_v[0].1.as_str(), to_v[0].2.as_deref()), ("suppressed", Some("not_visible")));
    assert!(sink.messages_to(&v).iter().all(|m| !m.text().contains("question thread")));

    // Up to GREEN the text itself is in the message.
    let green = published(&app, &cast, &content("group", "GREEN")).await;
    assert_eq!(ask(&app, &cast.b_reader, &green, "Is the SMS number known?").await.status(), 201);
    settled(&app, &green, 1).await;
    let got = sink.messages_to(&a);
    assert!(got.iter().any(|m| m.text().contains("Is the SMS number known?")));
}

/// Random worlds through the real interfaces: organisations of random reach, pictures of
/// random originator, status, tier and named recipients (stored directly), threads of
/// random asking organisations, and callers of random organisation and roles. What each
/// caller gets from every thread route is compared with the thread rule, written out
/// here from the picture's sight: which threads are listed for each picture and
/// in `/me/threads`, with messages or without, and which are `404`. Zero differences
/// allowed. The seed is printed; `SITREP_TEST_SEED` replays one,
/// `SITREP_TEST_THREAD_WORLDS` (default 3) sets how many worlds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_thread_route_agrees_with_the_thread_rule_in_random_worlds() {
    use std::collections::BTreeSet;

    use rand::{Rng, SeedableRng};
    use sitrep_domain::thread::ThreadSight;
    use sitrep_domain::visibility::{Handling, Sight, Viewer, sight};
    use sitrep_types::{PictureContent, Status, Tier};
    use uuid::Uuid;

    let worlds: u64 = std::env::var("SITREP_TEST_THREAD_WORLDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let first: u64 = std::env::var("SITREP_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    for seed in first..first + worlds {
        eprintln!("threads in a random world: SITREP_TEST_SEED={seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut app = TestApp::spawn_with(|s| s.auth.login.per_address_per_minute = 100_000).await;
        let author = app.seed_user("w.author", "A", &[Role::Author]).await;
        let content: PictureContent = serde_json::from_value(content("group", "AMBER")).unwrap();
        let mut orgs: Vec<(String, Uuid, Reach)> = Vec::new();
        for i in 0..5 {
            let reach = [Reach::Member, Reach::Virt, Reach::RasContactPoint][rng.gen_range(0..3)];
            let code = format!("T{i}");
            let id = app.seed_org(&format!("ORG-{code}"), reach).await;
            app.orgs.insert(code.clone(), id);
            orgs.push((code, id, reach));
        }
        let client = app.pool.get().await.unwrap();
        let mut pictures = Vec::new();
        for i in 0..10 {
            let origin = orgs[rng.gen_range(0..orgs.len())].1;
            let status = Status::ALL[rng.gen_range(0..Status::ALL.len())];
            let tier = Tier::ALL[rng.gen_range(0..Tier::ALL.len())];
            let named: Vec<Uuid> = (0..rng.gen_range(0..3)).map(|_| orgs[rng.gen_range(0..orgs.len())].1).collect();
            let id = Uuid::new_v4();
            crate::visibility::store_picture(
                &client,
                id,
                &format!("T-{i}-{id}"),
                origin,
                author.id,
                status,
                tier,
                &named,
                &content,
            )
            .await;
            pictures.push((id, origin, status, tier, named));
        }
        // Threads: random pictures and asking organisations other than the originator,
        // each with one message of the asking organisation.
        let mut threads = Vec::new();
        for _ in 0..12 {
            let (picture, origin, ..) = &pictures[rng.gen_range(0..pictures.len())];
            let asking = orgs[rng.gen_range(0..orgs.len())].1;
            if asking == *origin || threads.iter().any(|(_, p, a)| p == picture && *a == asking) {
                continue;
            }
            let id = Uuid::now_v7();
            client
                .execute(
                    "INSERT INTO threads (id, picture_id, asking_org_id, opened_by, opened_as) \
                     VALUES ($1, $2, $3, $4, 'question')",
                    &[&id, picture, &asking, &author.id],
                )
                .await
                .unwrap();
            client
                .execute(
                    "INSERT INTO thread_messages (id, thread_id, revision, author_id, organisation_id, body) \
                     VALUES ($1, $2, 1, $3, $4, 'Random question')",
                    &[&Uuid::now_v7(), &id, &author.id, &asking],
                )
                .await
                .unwrap();
            threads.push((id, *picture, asking));
        }
        for c in 0..8 {
            let (code, org, reach) = orgs[rng.gen_range(0..orgs.len())].clone();
            let mut roles = Vec::new();
            if rng.gen_bool(0.7) {
                roles.push([Role::Reader, Role::Author, Role::Approver][rng.gen_range(0..3)]);
            }
            if rng.gen_bool(0.3) {
                roles.push(Role::Secretariat);
            }
            if roles.is_empty() {
                roles.push(Role::Auditor);
            }
            let user = app.seed_user(&format!("w.caller{c}"), &code, &roles).await;
            let token = app.token(&user).await;
            let v = Viewer {
                organisation: org,
                reach,
                reads_pictures: roles.iter().any(|r| matches!(r, Role::Reader | Role::Author | Role::Approver)),
                secretariat: roles.contains(&Role::Secretariat),
            };
            // The rule written out from the picture's sight (itself held to the SQL by
            // the visibility tests), not by calling the thread rule the routes use.
            let rule = |picture: Uuid, asking: Uuid| {
                let (_, origin, status, tier, named) = pictures.iter().find(|p| p.0 == picture).unwrap();
                let seen = sight(&v, &Handling { originator: *origin, status: *status, tier: *tier, named });
                let party = v.organisation == *origin || v.organisation == asking;
                match seen {
                    Sight::Full if party || v.secretariat => ThreadSight::Full,
                    Sight::None => ThreadSight::None,
                    _ if v.secretariat => ThreadSight::Metadata,
                    _ => ThreadSight::None,
                }
            };
            let why = |what: &str| format!("seed {seed}, caller {v:?} roles {roles:?}: {what}");
            // GET /me/threads.
            let mine = mine(&app, &token).await;
            let listed: BTreeSet<String> =
                mine["threads"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
            let expected: BTreeSet<String> =
                threads.iter().filter(|(_, p, a)| rule(*p, *a) != ThreadSight::None).map(|t| t.0.to_string()).collect();
            assert_eq!(listed, expected, "{}", why("/me/threads"));
            for (picture, ..) in &pictures {
                let res = app.get(&format!("/api/v1/pictures/{picture}/threads"), Some(&token)).await;
                let sees_picture = app.get(&format!("/api/v1/pictures/{picture}"), Some(&token)).await.status() == 200;
                if !sees_picture {
                    assert_eq!(res.status(), 404, "{}", why("threads of an unseen picture"));
                    continue;
                }
                assert_eq!(res.status(), 200, "{}", why("threads of a seen picture"));
                let got: Value = res.json().await.unwrap();
                let got: BTreeSet<(String, bool)> = got["threads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| (t["id"].as_str().unwrap().to_owned(), t.get("messages").is_some()))
                    .collect();
                let expected: BTreeSet<(String, bool)> = threads
                    .iter()
                    .filter(|(_, p, _)| p == picture)
                    .filter_map(|(id, p, a)| match rule(*p, *a) {
                        ThreadSight::None => None,
                        s => Some((id.to_string(), s == ThreadSight::Full)),
                    })
                    .collect();
                assert_eq!(got, expected, "{}", why("a picture's threads"));
            }
            for (id, picture, asking) in &threads {
                let res = app.get(&format!("/api/v1/pictures/{picture}/threads/{id}"), Some(&token)).await;
                let want = if rule(*picture, *asking) == ThreadSight::None { 404 } else { 200 };
                assert_eq!(res.status(), want, "{}", why(&format!("thread {id}")));
            }
        }
    }
}

/// Hostile review: the note of a `need_more_info` acknowledgement is the first message of
/// the asking organisation's thread, so it is read where the thread's messages are. The
/// secretariat, seeing an AMBER picture as metadata only, sees the acknowledgement (who
/// answered, how, when) but not its note, in the list of acknowledgements as in the thread.
#[tokio::test]
async fn the_secretariat_reads_no_acknowledgement_note_of_a_picture_it_sees_as_metadata_only() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec_meta = app.token(&app.seed_user("sec.only", "S", &[Role::Secretariat]).await).await;
    let sec_reader = app.token(&app.seed_user("sec.reader", "S", &[Role::Secretariat, Role::Reader]).await).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}/acknowledgements");
    let secret = "The accounts are run from one office in Tallinn";
    let res = app.post_json(&path, Some(&cast.b_reader), &json!({"kind": "need_more_info", "note": secret})).await;
    assert_eq!(res.status(), 201);

    // The thread hides its message from the secretariat that sees metadata only ...
    let meta_view = threads(&app, &sec_meta, &id).await;
    assert_eq!(meta_view.len(), 1);
    assert!(meta_view[0].get("messages").is_none());
    // ... and so does the list of acknowledgements: the acknowledgement, without its note.
    let res = app.get(&path, Some(&sec_meta)).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(!body.contains("Tallinn"), "the note reached a metadata-only reader: {body}");
    let acks: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(acks["acknowledgements"].as_array().unwrap().len(), 1);
    assert_eq!(acks["acknowledgements"][0]["kind"], "need_more_info");
    // Who reads the picture in full reads the note: the originator, the asker, and the
    // secretariat where it is in the audience.
    for token in [&cast.author, &cast.b_reader, &sec_reader] {
        let acks: Value = app.get(&path, Some(token)).await.json().await.unwrap();
        assert_eq!(acks["acknowledgements"][0]["note"], secret);
    }
}

/// Hostile review: a `need_more_info` acknowledgement writes in the thread like a
/// question does, so it takes the same lock on the picture. Without it, two notes written
/// at once (two readers of the asking organisation) each see room for one more message
/// and the thread ends over its cap; and a note written while the picture is narrowed can
/// land in a thread its organisation no longer sees. The test holds the thread's row while
/// both notes are on their way, so that they meet at the insertion every time.
#[tokio::test]
async fn two_need_more_info_notes_at_once_do_not_take_the_thread_over_its_cap() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let b2 = app.token(&app.seed_user("b.reader2", "B", &[Role::Reader]).await).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = ask(&app, &cast.b_reader, &id, "First").await;
    let tid: uuid::Uuid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    let mut holder = app.pool.get().await.unwrap();
    holder
        .execute(
            "INSERT INTO thread_messages (id, thread_id, revision, author_id, organisation_id, body) \
             SELECT gen_random_uuid(), m.thread_id, m.revision, m.author_id, m.organisation_id, 'filler ' || g \
             FROM thread_messages m, generate_series(1, 248) g WHERE m.thread_id = $1",
            &[&tid],
        )
        .await
        .unwrap();
    // 249 of B's messages: room for one more. The thread's row is held, so both notes wait at
    // their insertion (its reference to the thread) until it is let go.
    let tx = holder.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM threads WHERE id = $1 FOR UPDATE", &[&tid]).await.unwrap();
    let path = format!("/api/v1/pictures/{id}/acknowledgements");
    let (note1, note2) = (
        json!({"kind": "need_more_info", "note": "One more"}),
        json!({"kind": "need_more_info", "note": "And another"}),
    );
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        tx.commit().await.unwrap();
    };
    let (one, two, ()) = tokio::join!(
        app.post_json(&path, Some(&cast.b_reader), &note1),
        app.post_json(&path, Some(&b2), &note2),
        release
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort_unstable();
    let count: i64 =
        holder.query_one("SELECT count(*) FROM thread_messages WHERE thread_id = $1", &[&tid]).await.unwrap().get(0);
    assert_eq!(count, 250, "each side writes at most 250 messages in a thread");
    assert_eq!(statuses, [201, 409]);
    let refused = if one.status() == 409 { one } else { two };
    assert_eq!(problem(refused, 409).await["code"], "thread_full");
    // A full side does not silence the other: the originator still answers.
    let answer = format!("/api/v1/pictures/{id}/threads/{tid}/messages");
    assert_eq!(app.post_json(&answer, Some(&cast.author), &json!({"body": "Enough"})).await.status(), 201);
}

/// Hostile review: a message written by a `need_more_info` acknowledgement is in the
/// access log as the thread it was written in, like one written by a question.
#[tokio::test]
async fn a_need_more_info_note_is_access_logged_as_a_message_of_its_thread() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}/acknowledgements");
    let res = app.post_json(&path, Some(&cast.b_reader), &json!({"kind": "need_more_info", "note": "Source?"})).await;
    assert_eq!(res.status(), 201);
    let records = app.audit_records(&crate::helpers::request_id(&res)).await;
    let tid = threads(&app, &cast.author, &id).await[0]["id"].as_str().unwrap().to_owned();
    let on_thread: Vec<_> = records.iter().filter(|r| r.object_type.as_deref() == Some("thread")).collect();
    assert_eq!(on_thread.len(), 1, "{records:?}");
    assert_eq!(on_thread[0].object_id.as_deref(), Some(tid.as_str()));
    assert_eq!(on_thread[0].reason.as_deref(), Some(format!("picture:{id}").as_str()));
    assert_eq!(on_thread[0].http_status, 201);
    assert!(records.iter().any(|r| r.object_type.as_deref() == Some("picture")), "the acknowledgement's own");
    // Without a note nothing is written in the thread, but it is opened: logged as well.
    let res = app.post_json(&path, Some(&cast.v_reader), &json!({"kind": "need_more_info"})).await;
    assert_eq!(res.status(), 201);
    let records = app.audit_records(&crate::helpers::request_id(&res)).await;
    assert_eq!(records.iter().filter(|r| r.object_type.as_deref() == Some("thread")).count(), 1, "{records:?}");
}

/// Hostile review: sight of a thread is decided at each request, so a person who loses
/// the role that reads pictures, or whose membership ends, keeps nothing of it: not the
/// thread, not its place in `GET /me/threads`, not the right to write.
#[tokio::test]
async fn losing_the_reading_role_or_the_membership_takes_the_thread_away_at_once() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let demoted = app.seed_user("b.demoted", "B", &[Role::Reader, Role::OrgAdmin]).await;
    let leaving = app.seed_user("b.leaving", "B", &[Role::Reader]).await;
    let (demoted_token, leaving_token) = (app.token(&demoted).await, app.token(&leaving).await);
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = ask(&app, &demoted_token, &id, "Who else got it?").await;
    let tid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let thread = format!("/api/v1/pictures/{id}/threads/{tid}");
    for token in [&demoted_token, &leaving_token] {
        assert_eq!(app.get(&thread, Some(token)).await.status(), 200);
        assert_eq!(mine(&app, token).await["threads"].as_array().unwrap().len(), 1);
    }

    let client = app.pool.get().await.unwrap();
    client
        .execute("UPDATE memberships SET roles = ARRAY['org_admin'] WHERE user_id = $1", &[&demoted.id])
        .await
        .unwrap();
    client.execute("UPDATE memberships SET valid_until = now() WHERE user_id = $1", &[&leaving.id]).await.unwrap();

    // The organisation administrator without a reading role: the picture is not there.
    let res = app.get(&thread, Some(&demoted_token)).await;
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");
    let res = app.get(&format!("/api/v1/pictures/{id}/threads"), Some(&demoted_token)).await;
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");
    let res = app.post_json(&format!("{thread}/messages"), Some(&demoted_token), &json!({"body": "Still here"})).await;
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");
    assert_eq!(mine(&app, &demoted_token).await, json!({"threads": [], "unread": 0}));
    // The person who left: nothing answers with the thread.
    for res in [
        app.get(&thread, Some(&leaving_token)).await,
        app.get("/api/v1/me/threads", Some(&leaving_token)).await,
        app.post_json(&format!("{thread}/messages"), Some(&leaving_token), &json!({"body": "Still here"})).await,
    ] {
        let status = res.status().as_u16();
        assert!(matches!(status, 401 | 403 | 404), "{status}");
        assert!(!res.text().await.unwrap().contains(&tid));
    }
    // Nothing was written after the loss.
    assert_eq!(bodies(&threads(&app, &cast.author, &id).await[0]), ["Who else got it?"]);
}

/// Hostile review: a message is text in the mail's body alone. Lines that look like
/// headers stay in the body (no other recipient, no other subject), HTML is shown as
/// text, and a line with a lone dot does not end the message early.
#[tokio::test]
async fn a_message_cannot_add_headers_or_markup_to_the_mail_about_it() {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let a = address("a");
    let evil = address("evil");
    let all = json!({"urgencies": ["routine", "priority", "immediate"], "language": "en"});
    opt_in(&app, sink, &cast.author, &a, all).await;
    let id = published(&app, &cast, &content("group", "GREEN")).await;
    let body = format!(
        "Hello\nBcc: {evil}\nSubject: pwned\nContent-Type: text/html\n\n<script>alert(1)</script><a href=\"https://evil.example/\">x</a>\n.\nAfter the dot"
    );
    assert_eq!(ask(&app, &cast.b_reader, &id, &body).await.status(), 201);
    settled(&app, &id, 1).await;
    let got = sink.wait_for(&a, 2).await;
    let told = got.iter().find(|m| m.text().contains("question thread")).expect("the message about the thread");
    assert_eq!(told.recipients(), std::slice::from_ref(&a));
    assert!(told.header("bcc").is_none());
    let subject = told.header("subject").unwrap();
    assert!(!subject.contains("pwned") && subject.contains("New message in a question thread"), "{subject}");
    assert!(told.text().contains(&format!("Bcc: {evil}")) && told.text().contains("After the dot"), "{}", told.text());
    let html = told.html();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
    assert!(!html.contains("<a href=\"https://evil.example/\">"), "{html}");
    assert!(html.contains("After the dot"));
    assert!(sink.messages_to(&evil).is_empty());
}
