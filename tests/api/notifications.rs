//! E-mail notifications: preferences, duty addresses and the confirmation of addresses
//! (docs/notifications.md).

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::mail::{self, Mail, Sink, address, opt_in, token_in};
use crate::helpers::pictures::{cast, content, published, revise};
use crate::helpers::{TestApp, problem};

/// The token of the newest confirmation message queued for `address`.
async fn queued_token(app: &TestApp, address: &str) -> String {
    let client = app.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT token FROM mail_messages WHERE kind = 'confirmation' AND address = $1 AND token IS NOT NULL \
             ORDER BY created_at DESC LIMIT 1",
            &[&address],
        )
        .await
        .unwrap();
    row.get(0)
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url(path)).bearer_auth(token).json(body).send().await.unwrap()
}

async fn confirm(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/email-confirmations", None, &json!({"token": token})).await
}

#[tokio::test]
async fn a_new_address_is_unconfirmed_until_the_token_mailed_to_it_is_used_once() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&reader).await;

    let res = app.get("/api/v1/me/notifications", Some(&token)).await;
    assert_eq!(res.status(), 200);
    let defaults: Value = res.json().await.unwrap();
    assert_eq!(defaults["urgencies"], json!(["immediate"]));
    assert_eq!(defaults["email"], Value::Null);

    let body = json!({"email": "Reader.B@Example.ORG", "urgencies": ["immediate", "priority"], "domains": ["cyber"],
                      "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Europe/Helsinki"}, "language": "sv"});
    let res = put(&app, "/api/v1/me/notifications", &token, &body).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "notification_preferences.update");
    assert_eq!(record.reason.as_deref(), Some("confirmation_sent"));
    let prefs: Value = res.json().await.unwrap();
    assert_eq!(prefs["email"], "Reader.B@example.org");
    assert_eq!(prefs["email_confirmed"], false);
    assert_eq!(prefs["quiet_hours"]["time_zone"], "Europe/Helsinki");
    assert_eq!(prefs["language"], "sv");

    let mailed = queued_token(&app, "Reader.B@example.org").await;
    assert_eq!(confirm(&app, "not-the-token").await.status(), 404);
    let res = confirm(&app, &mailed).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.audit_of(&res).await.action, "email.confirm");
    let prefs: Value = app.get("/api/v1/me/notifications", Some(&token)).await.json().await.unwrap();
    assert_eq!(prefs["email_confirmed"], true);
    // Single use.
    let body = problem(confirm(&app, &mailed).await, 404).await;
    assert_eq!(body["code"], "confirmation_not_found");

    // Saving the same address keeps the confirmation; another address loses it.
    let res = put(&app, "/api/v1/me/notifications", &token, &body_email("Reader.B@example.org")).await;
    assert_eq!(res.json::<Value>().await.unwrap()["email_confirmed"], true);
    let res = put(&app, "/api/v1/me/notifications", &token, &body_email("other@example.org")).await;
    assert_eq!(res.json::<Value>().await.unwrap()["email_confirmed"], false);
}

fn body_email(email: &str) -> Value {
    json!({"email": email})
}

#[tokio::test]
async fn a_token_sent_to_an_earlier_address_confirms_nothing() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    put(&app, "/api/v1/me/notifications", &token, &body_email("first@example.org")).await;
    let first = queued_token(&app, "first@example.org").await;
    put(&app, "/api/v1/me/notifications", &token, &body_email("second@example.org")).await;
    assert_eq!(confirm(&app, &first).await.status(), 404);
    let prefs: Value = app.get("/api/v1/me/notifications", Some(&token)).await.json().await.unwrap();
    assert_eq!(prefs["email_confirmed"], false);
    let second = queued_token(&app, "second@example.org").await;
    assert_eq!(confirm(&app, &second).await.status(), 204);
}

#[tokio::test]
async fn preferences_are_checked_at_the_edge() {
    let app = TestApp::spawn().await;
    let reader = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&reader).await;
    for (body, field, code) in [
        (json!({"email": "not an address"}), "email", "invalid_email"),
        (json!({"email": "a@example.org\r\nBcc: x@example.org"}), "email", "invalid_email"),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}}),
            "quiet_hours.time_zone",
            "unknown_time_zone",
        ),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "22:00", "time_zone": "UTC"}}),
            "quiet_hours.end",
            "empty_window",
        ),
        (
            json!({"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "UTC"}}),
            "quiet_hours.start",
            "invalid_time",
        ),
        (json!({"election_ids": [uuid::Uuid::new_v4()]}), "election_ids", "unknown_election"),
    ] {
        let res = put(&app, "/api/v1/me/notifications", &token, &body).await;
        let p = problem(res, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}");
        assert_eq!(p["errors"][0]["code"], code, "{body}");
    }
    let res = put(&app, "/api/v1/me/notifications", &token, &json!({"urgencies": ["urgent"]})).await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn an_org_admin_sets_its_own_organisations_duty_addresses_and_no_other() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let reader = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let admin = app.token(&admin).await;
    let reader = app.token(&reader).await;
    let secretariat = app.token(&secretariat).await;
    let own = format!("/api/v1/organisations/{}/duty-addresses", app.org("A"));
    let other = format!("/api/v1/organisations/{}/duty-addresses", app.org("B"));
    let body =
        json!({"addresses": [{"email": "duty@a.example.org", "language": "en"}, {"email": "soc@a.example.org"}]});

    let res = put(&app, &own, &admin, &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.action, "duty_address.update");
    let list: Vec<Value> = res.json().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|d| d["confirmed"] == false));

    // Another organisation's list does not exist for it; a reader may not manage any.
    assert_eq!(problem(put(&app, &other, &admin, &body).await, 404).await["code"], "organisation_not_found");
    assert_eq!(problem(app.get(&other, Some(&admin)).await, 404).await["code"], "organisation_not_found");
    problem(put(&app, &own, &reader, &body).await, 403).await;
    // The secretariat manages every organisation's.
    assert_eq!(
        put(&app, &other, &secretariat, &json!({"addresses": [{"email": "duty@b.example.org"}]})).await.status(),
        200
    );

    // Confirm one; replacing the list keeps it confirmed and removes the other.
    let mailed = queued_token(&app, "duty@a.example.org").await;
    assert_eq!(confirm(&app, &mailed).await.status(), 204);
    let res = put(&app, &own, &admin, &json!({"addresses": [{"email": "DUTY@a.example.org", "language": "fi"}]})).await;
    let list: Vec<Value> = res.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["confirmed"], true);
    assert_eq!(list[0]["language"], "fi");
    // The removed address's token is spent.
    let removed = queued_token(&app, "soc@a.example.org").await;
    assert_eq!(confirm(&app, &removed).await.status(), 404);

    let dup = json!({"addresses": [{"email": "x@a.example.org"}, {"email": "X@a.example.org"}]});
    assert_eq!(problem(put(&app, &own, &admin, &dup).await, 422).await["errors"][0]["code"], "duplicate");
}

#[tokio::test]
async fn only_the_secretariat_reads_the_mail_log() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let admin = app.token(&admin).await;
    let secretariat = app.token(&secretariat).await;
    put(
        &app,
        &format!("/api/v1/organisations/{}/duty-addresses", app.org("A")),
        &admin,
        &json!({"addresses": [{"email": "duty@a.example.org"}]}),
    )
    .await;
    problem(app.get("/api/v1/notifications/messages", Some(&admin)).await, 403).await;
    let res = app.get("/api/v1/notifications/messages?state=pending", Some(&secretariat)).await;
    assert_eq!(res.status(), 200);
    let log: Vec<Value> = res.json().await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["kind"], "confirmation");
    assert_eq!(log[0]["address"], "duty@a.example.org");
    assert!(log[0].get("token").is_none());
    assert_eq!(app.get("/api/v1/notifications/messages?state=lost", Some(&secretariat)).await.status(), 422);
}

// Sending: a real SMTP server on loopback (helpers/mail.rs).

/// Sets `org`'s duty addresses (as the secretariat) and confirms each through its message.
async fn duty(app: &TestApp, sink: &Sink, secretariat: &str, org: &str, addresses: &[&str]) {
    let list: Vec<Value> = addresses.iter().map(|a| json!({"email": a, "language": "en"})).collect();
    let path = format!("/api/v1/organisations/{}/duty-addresses", app.org(org));
    assert_eq!(put(app, &path, secretariat, &json!({"addresses": list})).await.status(), 200);
    for a in addresses {
        let mail = sink.wait_for(a, 1).await;
        assert_eq!(confirm(app, &token_in(&mail[0])).await.status(), 204);
    }
}

/// The messages about pictures (not confirmations) that reached `address`.
fn about_pictures(sink: &Sink, address: &str) -> Vec<Mail> {
    sink.messages_to(address).into_iter().filter(|m| m.text().contains("VTY-")).collect()
}

async fn picture_body(tier: &str, tlp: &str, urgency: &str) -> Value {
    let mut body = content(tier, tlp);
    body["urgency"] = json!(urgency);
    body
}

/// Waits until the worker has settled every message about `picture` (none pending but
/// those held past `until`), and returns (address, state, outcome) of each.
async fn settled(app: &TestApp, picture: &str) -> Vec<(String, String, Option<String>)> {
    let id: uuid::Uuid = picture.parse().unwrap();
    let client = app.pool.get().await.unwrap();
    for _ in 0..400 {
        let rows = client
            .query(
                "SELECT m.address, m.state, m.last_outcome FROM mail_messages m JOIN events e ON e.id = m.event_id \
                 WHERE e.picture_id = $1 AND (m.state <> 'pending' OR m.next_attempt_at > now() + interval '10 minutes')",
                &[&id],
            )
            .await
            .unwrap();
        let pending: i64 = client
            .query_one(
                "SELECT count(*) FROM mail_messages m JOIN events e ON e.id = m.event_id \
                 WHERE e.picture_id = $1 AND m.state = 'pending' AND m.next_attempt_at <= now() + interval '10 minutes'",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        if pending == 0 && !rows.is_empty() {
            return rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the messages about {picture} were not settled");
}

#[tokio::test]
async fn an_immediate_amber_picture_reaches_the_opted_in_people_and_duty_addresses_of_every_organisation_that_sees_it_and_no_one_else()
 {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat, Role::Reader]).await;
    let secretariat = app.token(&secretariat).await;
    let sec_only = app.seed_user("s.metadata", "S", &[Role::Secretariat]).await;
    let sec_only = app.token(&sec_only).await;
    let b2 = app.seed_user("b.reader2", "B", &[Role::Reader]).await;
    let b2 = app.token(&b2).await;
    let (b, v, r, a, s, s_meta, unconfirmed) = (
        address("b"),
        address("v"),
        address("r"),
        address("a"),
        address("s"),
        address("smeta"),
        address("unconfirmed"),
    );
    let (duty_a, duty_b, duty_v) = (address("duty-a"), address("duty-b"), address("duty-v"));
    let all = json!({"urgencies": ["routine", "priority", "immediate"], "language": "en"});
    opt_in(&app, sink, &cast.b_reader, &b, all.clone()).await;
    opt_in(&app, sink, &cast.v_reader, &v, all.clone()).await;
    opt_in(&app, sink, &cast.r_reader, &r, all.clone()).await;
    opt_in(&app, sink, &cast.author, &a, all.clone()).await;
    opt_in(&app, sink, &secretariat, &s, all.clone()).await;
    opt_in(&app, sink, &sec_only, &s_meta, all.clone()).await;
    // Set, never confirmed.
    assert_eq!(put(&app, "/api/v1/me/notifications", &b2, &json!({"email": unconfirmed})).await.status(), 200);
    sink.wait_for(&unconfirmed, 1).await;
    duty(&app, sink, &secretariat, "A", &[&duty_a]).await;
    duty(&app, sink, &secretariat, "B", &[&duty_b]).await;
    duty(&app, sink, &secretariat, "V", &[&duty_v]).await;

    let id = published(&app, &cast, &picture_body("group", "AMBER", "immediate").await).await;
    let reference: String = app
        .get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader))
        .await
        .json::<Value>()
        .await
        .unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every message about the picture is queued in one pass; once they are settled, who
    // got what is final.
    let rows = settled(&app, &id).await;
    let mut to: Vec<&str> = rows.iter().map(|(a, _, _)| a.as_str()).collect();
    to.sort_unstable();
    let mut expected = vec![b.as_str(), s.as_str(), duty_b.as_str()];
    expected.sort_unstable();
    assert_eq!(to, expected, "the audience of group AMBER: B's reader, the secretariat's reader and B's duty desk");
    assert!(rows.iter().all(|(_, state, _)| state == "sent"), "{rows:?}");
    for who in [&v, &r, &a, &s_meta, &unconfirmed, &duty_a, &duty_v] {
        assert!(about_pictures(sink, who).is_empty(), "{who} must get nothing");
    }
    let title_and_summary = content("group", "AMBER");
    for who in [&b, &s, &duty_b] {
        let got = sink.wait_for(who, 2).await;
        let mails: Vec<&Mail> = got.iter().filter(|m| m.text().contains(&reference)).collect();
        assert_eq!(mails.len(), 1, "{who}");
        let m = mails[0];
        let everything = m.everything();
        for lang in ["fi", "sv", "en"] {
            for field in ["title", "summary"] {
                let t = title_and_summary[field][lang].as_str().unwrap();
                assert!(!everything.contains(t), "{who}: the {field} ({lang}) is in the message");
            }
        }
        assert!(m.header("subject").unwrap().contains("TLP:AMBER"));
        assert!(m.text().contains("immediate") && m.html().contains(&reference));
        assert!(m.html().contains(&format!("https://sitrep.test.example/app/#/picture/{id}")));
        assert_eq!(m.header("list-id").unwrap(), "Sitrep notifications <notifications.test.example>");
        let message_id = m.header("message-id").unwrap();
        assert!(message_id.ends_with("@test.example>"), "{message_id}");
        assert!(!m.html().contains("<img"), "no images, no tracking");
    }
    // Each send is in the access log, as the system, about the picture.
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let sends: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE action = 'mail.send' AND object_id = $1 AND outcome = 'allowed' \
             AND actor_type = 'system' AND tlp = 'AMBER'",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sends, 3);
}

#[tokio::test]
async fn a_green_picture_carries_its_summary_in_the_readers_language() {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let b = address("b");
    opt_in(&app, sink, &cast.b_reader, &b, json!({"urgencies": ["immediate"], "language": "sv"})).await;
    let body = picture_body("group", "GREEN", "immediate").await;
    let id = published(&app, &cast, &body).await;
    settled(&app, &id).await;
    let mails = about_pictures(sink, &b);
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.text().contains(body["summary"]["sv"].as_str().unwrap()), "{}", m.text());
    assert!(m.html().contains(body["summary"]["sv"].as_str().unwrap()));
    assert!(m.header("subject").unwrap().contains(body["title"]["sv"].as_str().unwrap()));
    assert!(m.text().contains("Ny lägesbild"));
}

/// A quiet-hours window around now, in UTC.
fn quiet_now() -> Value {
    let now = chrono::Utc::now();
    let start = (now - chrono::Duration::hours(1)).format("%H:%M").to_string();
    let end = (now + chrono::Duration::hours(2)).format("%H:%M").to_string();
    json!({"start": start, "end": end, "time_zone": "UTC"})
}

#[tokio::test]
async fn quiet_hours_hold_a_routine_picture_but_never_an_immediate_one() {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let b = address("b");
    let prefs = json!({"urgencies": ["routine", "immediate"], "language": "en", "quiet_hours": quiet_now()});
    opt_in(&app, sink, &cast.b_reader, &b, prefs).await;
    let routine = published(&app, &cast, &picture_body("group", "GREEN", "routine").await).await;
    let immediate = published(&app, &cast, &picture_body("group", "AMBER", "immediate").await).await;
    assert_eq!(settled(&app, &immediate).await, vec![(b.clone(), "sent".to_owned(), Some("sent".to_owned()))]);
    let held = settled(&app, &routine).await;
    assert_eq!(held, vec![(b.clone(), "pending".to_owned(), Some("held".to_owned()))]);
    let mails = about_pictures(sink, &b);
    assert_eq!(mails.len(), 1, "only the immediate one during quiet hours");
    assert!(mails[0].header("subject").unwrap().contains("immediate"));
    // It is held until the window ends (about two hours from now), not dropped.
    let client = app.pool.get().await.unwrap();
    let wait: f64 = client
        .query_one(
            "SELECT extract(epoch FROM m.next_attempt_at - now())::float8 FROM mail_messages m \
             JOIN events e ON e.id = m.event_id WHERE e.picture_id = $1",
            &[&routine.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert!((3600.0..=2.0 * 3600.0 + 60.0).contains(&wait), "held for {wait} s");
}

#[tokio::test]
async fn a_narrowed_picture_is_not_mailed_to_those_who_lost_sight_of_it() {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let v = address("v");
    let prefs = json!({"urgencies": ["priority"], "language": "en", "quiet_hours": quiet_now()});
    opt_in(&app, sink, &cast.v_reader, &v, prefs).await;
    let id = published(&app, &cast, &picture_body("group_virt", "AMBER", "priority").await).await;
    // Held over V's quiet hours: queued for V's reader, who sees the picture now.
    assert_eq!(settled(&app, &id).await[0].2.as_deref(), Some("held"));
    // Narrowed to the group: Election-VIRT no longer sees it.
    assert_eq!(revise(&app, &cast.author, &id, &json!({"tier": "group"})).await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.v_reader)).await.status(), 404);
    // The quiet hours end (moved to now): the worker decides again, as things are now.
    let client = app.pool.get().await.unwrap();
    client
        .execute("UPDATE mail_messages SET next_attempt_at = now() WHERE address = $1 AND kind = 'event'", &[&v])
        .await
        .unwrap();
    let rows = settled(&app, &id).await;
    assert_eq!(rows, vec![(v.clone(), "suppressed".to_owned(), Some("not_visible".to_owned()))]);
    assert!(about_pictures(sink, &v).is_empty());
    app.seal_log().await;
    let reason: String = client
        .query_one(
            "SELECT reason FROM access_log WHERE action = 'mail.send' AND object_id = $1 AND outcome = 'denied'",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "picture.published not_visible");
}

#[tokio::test]
async fn with_the_relay_down_and_then_up_every_message_arrives_exactly_once() {
    let port = mail::free_port();
    let certificate = mail::certificate();
    let cert = certificate.cert.clone();
    let app = TestApp::spawn_with(|s| mail::configure(s, port, &cert)).await;
    let cast = cast(&app).await;
    let b2 = app.seed_user("b.reader2", "B", &[Role::Reader]).await;
    let b2 = app.token(&b2).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let secretariat = app.token(&secretariat).await;
    let (b, b_two, duty_b) = (address("b"), address("b2"), address("duty-b"));
    // No relay to confirm through: the addresses are confirmed in the database.
    assert_eq!(put(&app, "/api/v1/me/notifications", &cast.b_reader, &json!({"email": b})).await.status(), 200);
    assert_eq!(put(&app, "/api/v1/me/notifications", &b2, &json!({"email": b_two})).await.status(), 200);
    let path = format!("/api/v1/organisations/{}/duty-addresses", app.org("B"));
    assert_eq!(put(&app, &path, &secretariat, &json!({"addresses": [{"email": duty_b}]})).await.status(), 200);
    let client = app.pool.get().await.unwrap();
    client
        .batch_execute(
            "UPDATE notification_preferences SET email_confirmed_at = now(); UPDATE duty_addresses SET confirmed_at = now();",
        )
        .await
        .unwrap();

    let id = published(&app, &cast, &picture_body("group", "AMBER", "immediate").await).await;
    let picture: uuid::Uuid = id.parse().unwrap();
    // The relay is down: every attempt fails, and the secretariat sees it.
    for _ in 0..400 {
        let failing: i64 = client
            .query_one(
                "SELECT count(*) FROM mail_messages m JOIN events e ON e.id = m.event_id \
                 WHERE e.picture_id = $1 AND m.failures >= 2 AND m.state = 'pending'",
                &[&picture],
            )
            .await
            .unwrap()
            .get(0);
        if failing == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log: Vec<Value> =
        app.get("/api/v1/notifications/messages?state=pending", Some(&secretariat)).await.json().await.unwrap();
    let events: Vec<&Value> = log.iter().filter(|m| m["kind"] == "event").collect();
    assert_eq!(events.len(), 3, "{log:?}");
    assert!(
        events.iter().all(|m| m["last_outcome"] == "connect_failed" && m["attempts"].as_i64().unwrap() >= 2),
        "{events:?}"
    );

    // The relay comes up: each message arrives, once.
    let sink = Sink::start_with(port, certificate);
    let rows = settled(&app, &id).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|(_, state, _)| state == "sent"), "{rows:?}");
    let mut ids = Vec::new();
    for who in [&b, &b_two, &duty_b] {
        let mails = about_pictures(&sink, who);
        assert_eq!(mails.len(), 1, "{who}");
        ids.push(mails[0].header("message-id").unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one Message-ID per (event, recipient)");
    // Another pass or two sends nothing again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for who in [&b, &b_two, &duty_b] {
        assert_eq!(about_pictures(&sink, who).len(), 1, "{who}");
    }
}

// The console's notification list.

async fn inbox(app: &TestApp, token: &str) -> Value {
    let res = app.get("/api/v1/me/notifications/inbox", Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_notification_list_holds_what_the_person_sees_and_selected_and_marks_it_read() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let all = json!({"urgencies": ["routine", "priority", "immediate"]});
    for t in [&cast.b_reader, &cast.v_reader, &cast.author] {
        assert_eq!(put(&app, "/api/v1/me/notifications", t, &all).await.status(), 200);
    }
    let group = published(&app, &cast, &picture_body("group", "AMBER", "priority").await).await;
    let wide = published(&app, &cast, &picture_body("group_virt", "AMBER", "routine").await).await;

    // B sees both, V only the wider one, the originator's author neither (its own).
    let b = inbox(&app, &cast.b_reader).await;
    let ids: Vec<&str> = b["items"].as_array().unwrap().iter().map(|i| i["picture_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [wide.as_str(), group.as_str()], "newest first");
    assert_eq!(b["unread"], 2);
    let v = inbox(&app, &cast.v_reader).await;
    let ids: Vec<&str> = v["items"].as_array().unwrap().iter().map(|i| i["picture_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [wide.as_str()]);
    assert!(inbox(&app, &cast.author).await["items"].as_array().unwrap().is_empty());
    // Preferences filter it: immediate only (the default) leaves nothing.
    assert_eq!(put(&app, "/api/v1/me/notifications", &cast.v_reader, &json!({})).await.status(), 200);
    assert!(inbox(&app, &cast.v_reader).await["items"].as_array().unwrap().is_empty());

    // V marking B's entry (an event it does not see) marks nothing; B marks one, then all.
    let group_event = b["items"][1]["event_id"].clone();
    let res = app
        .post_json("/api/v1/me/notifications/inbox/read", Some(&cast.v_reader), &json!({"event_ids": [group_event]}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(inbox(&app, &cast.b_reader).await["unread"], 2);
    let res = app
        .post_json("/api/v1/me/notifications/inbox/read", Some(&cast.b_reader), &json!({"event_ids": [group_event]}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.action, "notification.read");
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["unread"], 1);
    assert_eq!(after["items"][1]["read"], true);
    let res = app.post_json("/api/v1/me/notifications/inbox/read", Some(&cast.b_reader), &json!({"all": true})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["unread"], 0);

    // Narrowed: V loses the entry at once.
    assert_eq!(put(&app, "/api/v1/me/notifications", &cast.v_reader, &all).await.status(), 200);
    assert_eq!(revise(&app, &cast.author, &wide, &json!({"tier": "group"})).await.status(), 200);
    assert!(inbox(&app, &cast.v_reader).await["items"].as_array().unwrap().is_empty());
}

// Escalation of overdue acknowledgements.

/// Reminders (subject "Acknowledgement overdue") that reached `address` about `reference`.
fn reminders(sink: &Sink, address: &str, reference: &str) -> Vec<Mail> {
    sink.messages_to(address)
        .into_iter()
        .filter(|m| m.header("subject").is_some_and(|s| s.contains("Acknowledgement overdue") && s.contains(reference)))
        .collect()
}

/// Overdue reports (subject "Acknowledgements overdue") that reached `address` about `reference`.
fn reports(sink: &Sink, address: &str, reference: &str) -> Vec<Mail> {
    sink.messages_to(address)
        .into_iter()
        .filter(|m| {
            m.header("subject").is_some_and(|s| s.contains("Acknowledgements overdue") && s.contains(reference))
        })
        .collect()
}

/// Moves the publication of `pictures` back to `minutes` ago (their deadlines with it).
async fn published_ago(app: &TestApp, pictures: &[&str], minutes: i32) {
    let ids: Vec<uuid::Uuid> = pictures.iter().map(|p| p.parse().unwrap()).collect();
    app.pool
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE pictures SET published_at = now() - make_interval(mins => $2) WHERE id = ANY ($1)",
            &[&ids, &minutes],
        )
        .await
        .unwrap();
}

async fn reference_of(app: &TestApp, token: &str, id: &str) -> String {
    let picture: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(token)).await.json().await.unwrap();
    picture["reference"].as_str().unwrap().to_owned()
}

/// Waits until no reminder or report is pending, then gives the worker ten more passes.
async fn escalations_settled(app: &TestApp) {
    let client = app.pool.get().await.unwrap();
    for _ in 0..400 {
        let pending: i64 = client
            .query_one(
                "SELECT count(*) FROM mail_messages WHERE kind IN ('reminder', 'overdue') AND state = 'pending'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The worker polls every 100 ms: a second is ten more passes.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_overdue_acknowledgement_is_reminded_then_escalated_once_per_step_and_never_for_one_that_answered_or_lost_sight()
 {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| {
        sink.configure(s);
        s.notifications.escalate_after_secs = 3600;
    })
    .await;
    let cast = cast(&app).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat, Role::Reader]).await;
    let secretariat = app.token(&secretariat).await;
    let (duty_b, duty_v, duty_s) = (address("duty-b"), address("duty-v"), address("duty-s"));
    duty(&app, sink, &secretariat, "B", &[&duty_b]).await;
    duty(&app, sink, &secretariat, "V", &[&duty_v]).await;
    duty(&app, sink, &secretariat, "S", &[&duty_s]).await;

    // Two immediate pictures to the group and VIRT. B acknowledges the first; the second
    // is narrowed to the group, so V loses sight of it. The secretariat's organisation,
    // a recipient too, acknowledges both (its duty address then gets the reports only).
    let body = picture_body("group_virt", "AMBER", "immediate").await;
    let first = published(&app, &cast, &body).await;
    let second = published(&app, &cast, &body).await;
    let (first_ref, second_ref) =
        (reference_of(&app, &cast.author, &first).await, reference_of(&app, &cast.author, &second).await);
    let ack = |id: &str| format!("/api/v1/pictures/{id}/acknowledgements");
    let received = json!({"kind": "received"});
    assert_eq!(app.post_json(&ack(&first), Some(&cast.b_reader), &received).await.status(), 201);
    for id in [&first, &second] {
        assert_eq!(app.post_json(&ack(id), Some(&secretariat), &received).await.status(), 201);
    }
    assert_eq!(revise(&app, &cast.author, &second, &json!({"tier": "group"})).await.status(), 200);

    // Before the deadline: nothing.
    escalations_settled(&app).await;
    for who in [&duty_b, &duty_v, &duty_s] {
        for reference in [&first_ref, &second_ref] {
            assert!(reminders(sink, who, reference).is_empty() && reports(sink, who, reference).is_empty());
        }
    }

    // The deadline passed half an hour ago (less than the escalation interval): the silent
    // organisations that still see the picture are reminded, once each.
    published_ago(&app, &[&first, &second], 90).await;
    sink.wait_for(&duty_v, 3).await;
    escalations_settled(&app).await;
    assert_eq!(reminders(sink, &duty_v, &first_ref).len(), 1, "V is silent on the first");
    assert_eq!(reminders(sink, &duty_b, &second_ref).len(), 1, "B is silent on the second");
    assert!(reminders(sink, &duty_b, &first_ref).is_empty(), "B acknowledged the first");
    assert!(reminders(sink, &duty_v, &second_ref).is_empty(), "V lost sight of the second");
    assert!(reminders(sink, &duty_s, &first_ref).is_empty() && reminders(sink, &duty_s, &second_ref).is_empty());
    for reference in [&first_ref, &second_ref] {
        assert!(reports(sink, &duty_s, reference).is_empty(), "not yet the secretariat");
    }
    // An AMBER picture: no title or summary in the reminder.
    let reminder = &reminders(sink, &duty_v, &first_ref)[0];
    for lang in ["fi", "sv", "en"] {
        for field in ["title", "summary"] {
            assert!(!reminder.everything().contains(body[field][lang].as_str().unwrap()), "{field} ({lang})");
        }
    }
    assert!(reminder.text().contains(&first_ref) && reminder.html().contains(&format!("#/picture/{first}")));

    // The escalation interval has passed too: the secretariat is told who is silent, once
    // per picture; nobody is reminded again.
    published_ago(&app, &[&first, &second], 180).await;
    sink.wait_for(&duty_s, 3).await;
    escalations_settled(&app).await;
    let first_report = reports(sink, &duty_s, &first_ref);
    let second_report = reports(sink, &duty_s, &second_ref);
    assert_eq!((first_report.len(), second_report.len()), (1, 1));
    assert!(first_report[0].text().contains("ORG-V") && !first_report[0].text().contains("ORG-B"));
    assert!(second_report[0].text().contains("ORG-B") && !second_report[0].text().contains("ORG-V"));
    assert!(!first_report[0].everything().contains(body["title"]["en"].as_str().unwrap()));
    assert_eq!(reminders(sink, &duty_v, &first_ref).len(), 1);
    assert_eq!(reminders(sink, &duty_b, &second_ref).len(), 1);
    for who in [&duty_b, &duty_v] {
        for reference in [&first_ref, &second_ref] {
            assert!(reports(sink, who, reference).is_empty(), "only the secretariat gets reports");
        }
    }

    // Recorded once per (picture, organisation, step), visible to the secretariat alone,
    // and access-logged.
    let res = app.get("/api/v1/notifications/escalations", Some(&secretariat)).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let mut steps: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reference"].as_str().unwrap().to_owned(),
                e["organisation_code"].as_str().unwrap().to_owned(),
                e["step"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    steps.sort();
    let mut expected = vec![
        (first_ref.clone(), "ORG-V".to_owned(), "reminder".to_owned()),
        (first_ref.clone(), "ORG-V".to_owned(), "secretariat".to_owned()),
        (second_ref.clone(), "ORG-B".to_owned(), "reminder".to_owned()),
        (second_ref.clone(), "ORG-B".to_owned(), "secretariat".to_owned()),
    ];
    expected.sort();
    assert_eq!(steps, expected);
    for token in [&cast.b_reader, &cast.author] {
        assert_eq!(app.get("/api/v1/notifications/escalations", Some(token)).await.status(), 403);
    }
    app.seal_log().await;
    let client = app.pool.get().await.unwrap();
    let logged: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE action = 'acknowledgement.escalate' AND actor_type = 'system'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 4);
}

#[tokio::test]
async fn a_reminder_queued_for_an_organisation_that_acknowledges_before_it_is_sent_is_suppressed() {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let secretariat = app.seed_user("s.secretariat", "S", &[Role::Secretariat, Role::Reader]).await;
    let secretariat = app.token(&secretariat).await;
    let duty_b = address("duty-b");
    duty(&app, sink, &secretariat, "B", &[&duty_b]).await;
    let id = published(&app, &cast, &picture_body("group", "AMBER", "immediate").await).await;
    let reference = reference_of(&app, &cast.author, &id).await;
    // B has answered, and its deadline has passed, with a reminder queued for it as if
    // taken the moment before the answer (answering first keeps the worker from taking
    // the step itself): the worker decides again before sending.
    let ack = format!("/api/v1/pictures/{id}/acknowledgements");
    assert_eq!(app.post_json(&ack, Some(&cast.b_reader), &json!({"kind": "received"})).await.status(), 201);
    published_ago(&app, &[&id], 61).await;
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO mail_messages (id, message_id, kind, picture_id, duty_address_id, organisation_id, address) \
             SELECT gen_random_uuid(), 'queued-before-the-answer-' || gen_random_uuid(), 'reminder', $1, d.id, \
               d.organisation_id, d.email FROM duty_addresses d WHERE d.email = $2",
            &[&id.parse::<uuid::Uuid>().unwrap(), &duty_b],
        )
        .await
        .unwrap();
    escalations_settled(&app).await;
    let row = client
        .query_one("SELECT state, last_outcome FROM mail_messages WHERE kind = 'reminder' AND address = $1", &[&duty_b])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, Option<String>>(1)),
        ("suppressed".into(), Some("not_overdue".into()))
    );
    assert!(reminders(sink, &duty_b, &reference).is_empty());
}

#[tokio::test]
async fn the_digest_lists_exactly_the_unread_pictures_its_person_sees_and_chose_once_per_moment() {
    let sink = mail::shared().await;
    let app = TestApp::spawn_with(|s| sink.configure(s)).await;
    let cast = cast(&app).await;
    let b = address("digest-b");
    // Nothing mailed at once (no urgencies); information influence only.
    let prefs = json!({"urgencies": [], "domains": ["information_influence"], "language": "en"});
    opt_in(&app, sink, &cast.b_reader, &b, prefs.clone()).await;

    let reference = |id: String| {
        let app = &app;
        let token = cast.author.clone();
        async move {
            let p: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&token)).await.json().await.unwrap();
            (id, p["reference"].as_str().unwrap().to_owned())
        }
    };
    let amber = reference(published(&app, &cast, &content("group", "AMBER")).await).await;
    let green = reference(published(&app, &cast, &content("group", "GREEN")).await).await;
    let mut cyber_body = content("group", "AMBER");
    cyber_body["primary_domain"] = json!("cyber");
    cyber_body["domains"] = json!(["cyber"]);
    let cyber = reference(published(&app, &cast, &cyber_body).await).await;
    let mut named_body = content("named", "RED");
    named_body["named_recipients"] = json!([app.org("V")]);
    let unseen = reference(published(&app, &cast, &named_body).await).await;
    let read = reference(published(&app, &cast, &content("group", "AMBER")).await).await;
    // B has read `read`'s publication (the inbox's mark).
    let user = app.get("/api/v1/me", Some(&cast.b_reader)).await.json::<Value>().await.unwrap()["user_id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let read_id: uuid::Uuid = read.0.parse().unwrap();
    app.pool
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO notification_reads (user_id, event_id) SELECT $1, id FROM events WHERE picture_id = $2",
            &[&user, &read_id],
        )
        .await
        .unwrap();

    // The digest falls due a minute ago, local time.
    let at = (chrono::Utc::now() - chrono::Duration::minutes(1)).format("%H:%M").to_string();
    let mut with_digest = prefs.clone();
    with_digest["email"] = json!(b);
    with_digest["digest"] = json!({"at": at, "time_zone": "UTC"});
    let res = put(&app, "/api/v1/me/notifications", &cast.b_reader, &with_digest).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["digest"], json!({"at": at, "time_zone": "UTC"}));
    assert_eq!(saved["email_confirmed"], true, "the same address keeps its confirmation");

    let got = sink.wait_for(&b, 2).await;
    let digests: Vec<&Mail> = got.iter().filter(|m| m.header("subject").unwrap().contains("digest")).collect();
    assert_eq!(digests.len(), 1);
    let text = digests[0].everything();
    assert_eq!(digests[0].header("subject").unwrap(), "Sitrep digest: 2 unread situation pictures");
    assert!(text.contains(&amber.1) && text.contains(&green.1), "{text}");
    assert!(text.contains("False claim that voting by SMS is possible"), "the GREEN title");
    for (left_out, why) in [(&cyber, "outside the chosen domains"), (&unseen, "not visible"), (&read, "read")] {
        assert!(!text.contains(&left_out.1), "{why}: {text}");
    }
    let amber_line = text.lines().find(|l| l.contains(&amber.1)).unwrap().to_owned();
    assert!(!amber_line.contains("False claim"), "no AMBER title: {amber_line}");

    // What it disclosed is in the access log.
    // The record is written when the send is settled, just after the relay took it.
    let client = app.pool.get().await.unwrap();
    let mut record = None;
    for _ in 0..100 {
        record = client
            .query_opt(
                "SELECT object_ids FROM access_log WHERE action = 'mail.send' AND reason = 'digest sent' \
                 ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        if record.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let listed: Vec<uuid::Uuid> = record.expect("the digest's access-log record").get(0);
    let mut expected: Vec<uuid::Uuid> = [&amber.0, &green.0].iter().map(|i| i.parse().unwrap()).collect();
    let mut listed = listed;
    listed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(listed, expected);

    // Later passes of the worker, and new pictures, bring no second digest for that moment.
    published(&app, &cast, &content("group", "AMBER")).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let queued: i64 = client
        .query_one("SELECT count(*) FROM mail_messages WHERE kind = 'digest' AND user_id = $1", &[&user])
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 1);
    assert_eq!(sink.messages_to(&b).iter().filter(|m| m.header("subject").unwrap().contains("digest")).count(), 1);
}

#[tokio::test]
async fn an_election_asks_for_hourly_digests_on_its_day() {
    let app = TestApp::spawn().await;
    let sec = app.token(&app.seed_user("s.sec", "S", &[Role::Secretariat]).await).await;
    let body = json!({"code": "FI-PARL-2027", "election_type": "parliamentary", "name_en": "Parliamentary 2027",
                      "election_day": "2027-04-18", "hourly_digest": true});
    let res = app.post_json("/api/v1/elections", Some(&sec), &body).await;
    assert_eq!(res.status(), 201);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["hourly_digest"], true);
    let path = format!("/api/v1/elections/{}", e["id"].as_str().unwrap());
    let res =
        app.client.patch(app.url(&path)).bearer_auth(&sec).json(&json!({"hourly_digest": false})).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["hourly_digest"], false);
    let reader = app.token(&app.seed_user("b.reader", "B", &[Role::Reader]).await).await;
    let res =
        put(&app, "/api/v1/me/notifications", &reader, &json!({"digest": {"at": "7:00", "time_zone": "UTC"}})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "digest.at");
}
