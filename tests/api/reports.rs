//! Situation reports over HTTPS: the strictness rule at create and at publish, the
//! lifecycle with four eyes, who reads a report, and each picture in it as the reader sees it.

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{Cast, cast, content, create, published, revise};
use crate::helpers::{TestApp, problem};

/// A valid report at `tier`/`tlp` including `pictures`.
fn report(tier: &str, tlp: &str, pictures: &[&str]) -> Value {
    json!({
        "original_lang": "fi",
        "title": {"fi": "Yhteinen tilannekuva", "sv": "Gemensam lägesbild", "en": "Common situation picture"},
        "summary": {"fi": "Viikon tapahtumat", "sv": "Veckans händelser", "en": "The week's events"},
        "assessment": {"fi": "Arvio: tilanne on rauhallinen.", "en": "Assessment: the situation is calm."},
        "window": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-08T00:00:00Z"},
        "pictures": pictures,
        "tier": tier,
        "tlp": tlp
    })
}

async fn create_report(app: &TestApp, token: &str, body: &Value) -> Value {
    let res = app.post_json("/api/v1/reports", Some(token), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

async fn act_on(app: &TestApp, token: &str, id: &str, action: &str) -> Response {
    app.client.post(app.url(&format!("/api/v1/reports/{id}/{action}"))).bearer_auth(token).send().await.unwrap()
}

async fn report_etag(app: &TestApp, token: &str, id: &str) -> String {
    let res = app.get(&format!("/api/v1/reports/{id}"), Some(token)).await;
    assert_eq!(res.status(), 200);
    res.headers()["etag"].to_str().unwrap().to_owned()
}

/// Created by the author, submitted, approved by the second approver, published by the
/// first.
async fn published_report(app: &TestApp, cast: &Cast, body: &Value) -> String {
    let r = create_report(app, &cast.author, body).await;
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(act_on(app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act_on(app, &cast.approver2, &id, "approve").await.status(), 200);
    let res = act_on(app, &cast.approver, &id, "publish").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    id
}

fn listed(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_report_is_created_revised_approved_published_and_read_with_its_access_log() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;

    let res = app.post_json("/api/v1/reports", Some(&cast.author), &report("group", "AMBER", &[&picture])).await;
    assert_eq!(res.status(), 201);
    let record = app.audit_of(&res).await;
    let r: Value = res.json().await.unwrap();
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!((record.action.as_str(), record.object_type.as_deref()), ("report.create", Some("report")));
    assert_eq!(record.object_id.as_deref(), Some(id.as_str()));
    assert!(r["reference"].as_str().unwrap().starts_with(&format!("REP-{}-", chrono::Utc::now().format("%Y"))));
    assert_eq!((r["status"].as_str(), r["revision"].as_i64()), (Some("draft"), Some(1)));
    assert_eq!(r["included"][0]["id"], picture.as_str());
    let second = create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await;
    assert_ne!(second["reference"], r["reference"]);

    // A draft is its organisation's alone.
    let path = format!("/api/v1/reports/{id}");
    assert_eq!(problem(app.get(&path, Some(&cast.b_reader)).await, 404).await["code"], "report_not_found");

    // A revision needs If-Match, and makes revision 2.
    let res = app.patch_json(&path, &cast.author, &json!({"summary": {"fi": "Uusi tiivistelmä"}})).await;
    assert_eq!(problem(res, 428).await["code"], "if_match_required");
    let tag = report_etag(&app, &cast.author, &id).await;
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .json(&json!({"summary": {"fi": "Uusi tiivistelmä"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "report.revise");
    let r: Value = res.json().await.unwrap();
    assert_eq!((r["revision"].as_i64(), r["summary"]["fi"].as_str()), (Some(2), Some("Uusi tiivistelmä")));
    let stale = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .json(&json!({"summary": {"fi": "Taas"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(stale, 412).await["code"], "stale_etag");

    assert_eq!(act_on(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act_on(&app, &cast.approver2, &id, "approve").await.status(), 200);
    let res = act_on(&app, &cast.approver, &id, "publish").await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.action, "report.publish");

    // Now the group reads it, with the picture in it, and the read is logged with the
    // pictures it showed.
    let res = app.get(&path, Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.object_id.as_deref()), ("report.view", Some(id.as_str())));
    assert_eq!(record.object_ids.unwrap(), vec![picture.parse::<uuid::Uuid>().unwrap()]);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["status"], "published");
    assert_eq!(r["included"][0]["title"]["en"], "False claim that voting by SMS is possible");
    let res = app.get("/api/v1/reports", Some(&cast.b_reader)).await;
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "report.list");
    assert_eq!(listed(&res.json().await.unwrap()), vec![id.clone()]);
    assert_eq!(record.object_ids.unwrap().len(), 1);

    // Withdrawn, it stays readable, marked so.
    assert_eq!(act_on(&app, &cast.approver, &id, "withdraw").await.status(), 200);
    let r: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(r["status"], "withdrawn");
}

#[tokio::test]
async fn a_report_looser_than_an_included_picture_is_refused_naming_the_picture() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let group = published(&app, &cast, &content("group", "AMBER")).await;
    let strict = published(&app, &cast, &content("group", "AMBER+STRICT")).await;
    let strict_ref = app
        .get(&format!("/api/v1/pictures/{strict}"), Some(&cast.author))
        .await
        .json::<Value>()
        .await
        .unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();

    let res = app.post_json("/api/v1/reports", Some(&cast.author), &report("group", "AMBER", &[&group, &strict])).await;
    let p = problem(res, 422).await;
    assert_eq!(p["code"], "report_tlp_looser_than_picture");
    assert_eq!(p["errors"][0]["field"], "pictures[1]");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains(&strict_ref), "{p}");

    let wide = report("group_virt", "AMBER", &[&group]);
    let p = problem(app.post_json("/api/v1/reports", Some(&cast.author), &wide).await, 422).await;
    assert_eq!(
        (p["code"].as_str(), p["errors"][0]["field"].as_str()),
        (Some("report_audience_wider_than_picture"), Some("pictures[0]"))
    );

    let draft = create(&app, &cast.author, &content("group", "AMBER")).await;
    let draft = draft["id"].as_str().unwrap();
    let p =
        problem(app.post_json("/api/v1/reports", Some(&cast.author), &report("group", "AMBER", &[draft])).await, 422)
            .await;
    assert_eq!(p["code"], "picture_not_published");

    // A named report to B may include a group picture (B sees it); to the RAS contact
    // point it may not.
    let mut named = report("named", "RED", &[&group]);
    named["named_recipients"] = json!([app.org("B")]);
    create_report(&app, &cast.author, &named).await;
    named["named_recipients"] = json!([app.org("R")]);
    let p = problem(app.post_json("/api/v1/reports", Some(&cast.author), &named).await, 422).await;
    assert_eq!(p["code"], "report_audience_wider_than_picture");
}

#[tokio::test]
async fn a_picture_the_author_cannot_see_is_refused_as_one_that_does_not_exist() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let b_author = app.seed_user("b.author", "B", &[Role::Author]).await;
    let b_token = app.token(&b_author).await;
    let hidden = create(&app, &b_token, &content("group", "AMBER")).await;
    let hidden = hidden["id"].as_str().unwrap();
    let missing = uuid::Uuid::new_v4().to_string();
    let mut answers = Vec::new();
    for id in [hidden, missing.as_str()] {
        let p =
            problem(app.post_json("/api/v1/reports", Some(&cast.author), &report("group", "AMBER", &[id])).await, 422)
                .await;
        answers.push((p["code"].clone(), p["errors"].clone()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].1[0]["code"], "unknown_picture");
}

#[tokio::test]
async fn an_approver_never_approves_a_report_they_wrote() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let r = create_report(&app, &cast.approver, &report("group", "AMBER", &[&picture])).await;
    let id = r["id"].as_str().unwrap();
    assert_eq!(act_on(&app, &cast.approver, id, "submit").await.status(), 200);
    let res = act_on(&app, &cast.approver, id, "approve").await;
    assert_eq!(problem(res, 403).await["code"], "four_eyes");
    // A report at the RAS tier needs an approval before it is published.
    let picture = published(&app, &cast, &content("group_virt_ras", "GREEN")).await;
    let r = create_report(&app, &cast.author, &report("group_virt_ras", "GREEN", &[&picture])).await;
    let id = r["id"].as_str().unwrap();
    assert_eq!(problem(act_on(&app, &cast.approver, id, "publish").await, 409).await["code"], "approval_required");
    // The author's role does not approve at all.
    assert_eq!(act_on(&app, &cast.author, id, "submit").await.status(), 200);
    assert_eq!(act_on(&app, &cast.author, id, "approve").await.status(), 403);
}

#[tokio::test]
async fn a_reader_outside_the_reports_tier_gets_404_and_does_not_see_it_listed() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let id = published_report(&app, &cast, &report("group_virt", "AMBER", &[&picture])).await;
    let path = format!("/api/v1/reports/{id}");
    assert_eq!(app.get(&path, Some(&cast.v_reader)).await.status(), 200);
    let res = app.get(&path, Some(&cast.r_reader)).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("report.view", "denied"));
    assert_eq!(problem(res, 404).await["code"], "report_not_found");
    let page: Value = app.get("/api/v1/reports", Some(&cast.r_reader)).await.json().await.unwrap();
    assert!(listed(&page).is_empty());
    let page: Value = app.get("/api/v1/reports", Some(&cast.v_reader)).await.json().await.unwrap();
    assert_eq!(listed(&page), vec![id]);
}

#[tokio::test]
async fn a_reader_inside_sees_an_included_pictures_stricter_indicators_redacted() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut body = content("group_virt_ras", "GREEN");
    body["indicators"] = json!([
        {"type": "domain", "value": "vaalit-fi.example", "platform": "web", "tlp": "GREEN"},
        {"type": "ipv4", "value": "198.51.100.7", "tlp": "AMBER+STRICT"},
        {"type": "url", "value": "https://vaalit-fi.example/sms", "tlp": "RED"}
    ]);
    let picture = published(&app, &cast, &body).await;
    let id = published_report(&app, &cast, &report("group_virt_ras", "GREEN", &[&picture])).await;
    let path = format!("/api/v1/reports/{id}");
    for (token, visible) in [(&cast.author, 3), (&cast.b_reader, 2), (&cast.r_reader, 1)] {
        let res = app.get(&path, Some(token)).await;
        let record = app.audit_of(&res).await;
        let r: Value = res.json().await.unwrap();
        let shown = &r["included"][0];
        assert_eq!(shown["indicators"].as_array().unwrap().len(), visible);
        assert_eq!(shown["redacted_indicators"], 3 - visible);
        let text = r.to_string();
        assert_eq!(text.contains("198.51.100.7"), visible >= 2);
        assert_eq!(text.contains("https://vaalit-fi.example/sms"), visible == 3);
        let expected = (visible < 3).then(|| format!("picture_items_redacted:{}", 3 - visible));
        assert_eq!(record.reason, expected);
    }
}

#[tokio::test]
async fn a_picture_made_stricter_after_the_report_was_drafted_blocks_publication() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let r = create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await;
    let id = r["id"].as_str().unwrap();
    // Narrowing a published picture takes effect at once.
    let res = revise(&app, &cast.author, &picture, &json!({"tlp": "AMBER+STRICT"})).await;
    assert_eq!(res.status(), 200);
    let res = act_on(&app, &cast.approver, id, "publish").await;
    let p = problem(res, 422).await;
    assert_eq!(
        (p["code"].as_str(), p["errors"][0]["field"].as_str()),
        (Some("report_tlp_looser_than_picture"), Some("pictures[0]"))
    );
    let r: Value = app.get(&format!("/api/v1/reports/{id}"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(r["status"], "draft");
    // The author follows the picture: the report is published at the stricter TLP.
    let tag = report_etag(&app, &cast.author, id).await;
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/reports/{id}")))
        .bearer_auth(&cast.author)
        .header("if-match", &tag)
        .json(&json!({"tlp": "AMBER+STRICT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(act_on(&app, &cast.approver, id, "publish").await.status(), 200);
}

#[tokio::test]
async fn a_published_report_leaves_out_a_picture_its_reader_no_longer_sees() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let kept = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let narrowed = published(&app, &cast, &content("group_virt", "AMBER")).await;
    // A report named to V, the Election-VIRT organisation, which sees both pictures.
    let mut body = report("named", "RED", &[&kept, &narrowed]);
    body["named_recipients"] = json!([app.org("V")]);
    let id = published_report(&app, &cast, &body).await;
    // One picture narrowed to the group, which V is not part of: at once.
    assert_eq!(revise(&app, &cast.author, &narrowed, &json!({"tier": "group"})).await.status(), 200);
    let res = app.get(&format!("/api/v1/reports/{id}"), Some(&cast.v_reader)).await;
    let record = app.audit_of(&res).await;
    let r: Value = res.json().await.unwrap();
    let shown: Vec<&str> = r["included"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(shown, vec![kept.as_str()]);
    // Neither the included pictures nor the report's own list name it, nor count it.
    assert!(!r.to_string().contains(&narrowed), "{r}");
    assert_eq!(r["pictures"], json!([kept]));
    assert_eq!(record.reason.as_deref(), Some("pictures_hidden:1"));
    assert_eq!(record.object_ids.unwrap(), vec![kept.parse::<uuid::Uuid>().unwrap()]);
    // Which organisations the report names is its originator's to know, not V's.
    assert_eq!(r["named_recipients"], json!([]));
    let own: Value = app.get(&format!("/api/v1/reports/{id}"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(own["named_recipients"], json!([app.org("V")]));
}

#[tokio::test]
async fn reports_are_listed_page_by_page() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first: Value = app.get("/api/v1/reports?limit=2", Some(&cast.author)).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value =
        app.get(&format!("/api/v1/reports?limit=2&cursor={cursor}"), Some(&cast.author)).await.json().await.unwrap();
    assert!(second.get("next_cursor").is_none());
    let mut all = [listed(&first), listed(&second)].concat();
    all.sort();
    ids.sort();
    assert_eq!(all, ids);
}

/// A merge patch of the report under `If-Match: tag`.
async fn patch_report(app: &TestApp, token: &str, id: &str, tag: &str, body: &Value) -> Response {
    app.client
        .patch(app.url(&format!("/api/v1/reports/{id}")))
        .bearer_auth(token)
        .header("if-match", tag)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_account_never_approves_a_report() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin = app.token(&admin).await;
    let res = app
        .post_json("/api/v1/service-accounts", Some(&admin), &json!({"name": "feeder", "roles": ["approver"]}))
        .await;
    assert_eq!(res.status(), 201);
    let account = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{account}/keys"),
            Some(&admin),
            &json!({"name": "k", "expires_at": expires}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let r = create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await;
    let id = r["id"].as_str().unwrap();
    assert_eq!(act_on(&app, &cast.author, id, "submit").await.status(), 200);
    assert_eq!(problem(act_on(&app, &key, id, "approve").await, 403).await["code"], "four_eyes");
}

#[tokio::test]
async fn another_organisation_neither_revises_nor_publishes_a_report() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let b_approver = app.seed_user("b.approver", "B", &[Role::Approver]).await;
    let b_approver = app.token(&b_approver).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let draft = create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await;
    let draft = draft["id"].as_str().unwrap();
    // A draft does not exist for B.
    let res = patch_report(&app, &b_approver, draft, "*", &json!({"tlp": "CLEAR"})).await;
    assert_eq!(problem(res, 404).await["code"], "report_not_found");
    assert_eq!(problem(act_on(&app, &b_approver, draft, "publish").await, 404).await["code"], "report_not_found");
    // A published one B reads, and still does not change.
    let id = published_report(&app, &cast, &report("group", "AMBER", &[&picture])).await;
    let res = patch_report(&app, &b_approver, &id, "*", &json!({"tlp": "CLEAR"})).await;
    assert_eq!(problem(res, 403).await["code"], "not_originator");
    assert_eq!(problem(act_on(&app, &b_approver, &id, "withdraw").await, 403).await["code"], "not_originator");
    let r: Value = app.get(&format!("/api/v1/reports/{id}"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!((r["status"].as_str(), r["tlp"].as_str()), (Some("published"), Some("AMBER")));
}

#[tokio::test]
async fn a_change_to_a_published_report_is_proposed_and_readers_keep_the_old_until_it_is_published() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let id = published_report(&app, &cast, &report("group", "AMBER", &[&picture])).await;
    let path = format!("/api/v1/reports/{id}");
    let tag = report_etag(&app, &cast.author, &id).await;
    let res = patch_report(&app, &cast.author, &id, &tag, &json!({"summary": {"fi": "Korjattu"}})).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!((r["revision"].as_i64(), r["pending_revision"].as_i64()), (Some(1), Some(2)));
    let seen: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(seen["summary"]["fi"], "Viikon tapahtumat");
    assert!(seen.get("pending_revision").is_none());
    assert_eq!(act_on(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act_on(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act_on(&app, &cast.approver, &id, "publish").await.status(), 200);
    let seen: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!((seen["summary"]["fi"].as_str(), seen["revision"].as_i64()), (Some("Korjattu"), Some(2)));
    // The same change again changes nothing and writes no revision.
    let tag = report_etag(&app, &cast.author, &id).await;
    let res = patch_report(&app, &cast.author, &id, &tag, &json!({"summary": {"fi": "Korjattu"}})).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("unchanged"));
    let r: Value = res.json().await.unwrap();
    assert!(r.get("pending_revision").is_none());
}

#[tokio::test]
async fn of_concurrent_revisions_under_one_etag_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let r = create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await;
    let id = r["id"].as_str().unwrap().to_owned();
    let tag = report_etag(&app, &cast.author, &id).await;
    let attempts = (0..5).map(|i| {
        let body = json!({"summary": {"fi": format!("Versio {i}")}});
        let (app, token, id, tag) = (&app, &cast.author, &id, &tag);
        async move { patch_report(app, token, id, tag, &body).await.status().as_u16() }
    });
    let mut statuses = futures_util::future::join_all(attempts).await;
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 412, 412, 412, 412]);
}

/// The report events of `token`'s feed from the start, waiting (up to 5 s) for at least
/// `at_least`: events are held back while an older transaction in the cluster is open.
async fn report_events(app: &TestApp, token: &str, at_least: usize) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let page: Value = app.get("/api/v1/feed?limit=200", Some(token)).await.json().await.unwrap();
        found = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"].as_str().unwrap().starts_with("report."))
            .map(|e| {
                assert!(e.get("picture_id").is_none(), "{e}");
                (e["type"].as_str().unwrap().to_owned(), e["report_id"].as_str().unwrap().to_owned())
            })
            .collect();
        if found.len() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    found
}

#[tokio::test]
async fn report_events_reach_the_reports_audience_in_the_feed_and_nobody_else() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let id = published_report(&app, &cast, &report("group_virt", "AMBER", &[&picture])).await;
    assert_eq!(act_on(&app, &cast.approver, &id, "withdraw").await.status(), 200);
    let expected = vec![("report.published".to_owned(), id.clone()), ("report.withdrawn".to_owned(), id.clone())];
    assert_eq!(report_events(&app, &cast.v_reader, 2).await, expected);
    assert_eq!(report_events(&app, &cast.b_reader, 2).await, expected);
    // A feed page with both kinds of event is logged as two records of one request: the
    // pictures under object type `picture`, the report under `report`.
    let res = app.get("/api/v1/feed?limit=200", Some(&cast.v_reader)).await;
    let request = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let records = app.audit_records(&request).await;
    let kinds: Vec<(Option<&str>, Option<&str>)> =
        records.iter().map(|r| (r.object_type.as_deref(), r.reason.as_deref())).collect();
    assert_eq!(kinds, vec![(Some("picture"), Some("events:1")), (Some("report"), Some("events:2"))], "{records:?}");
    assert_eq!(records[1].object_ids.clone().unwrap(), vec![id.parse::<uuid::Uuid>().unwrap()]);
    assert_eq!(records[0].object_ids.clone().unwrap(), vec![picture.parse::<uuid::Uuid>().unwrap()]);
    // The RAS contact point is outside the report's tier: no event of it, even once the
    // feed has caught up with everything after it.
    let marker = published(&app, &cast, &content("group_virt_ras", "GREEN")).await;
    for _ in 0..100 {
        let page: Value = app.get("/api/v1/feed?limit=200", Some(&cast.r_reader)).await.json().await.unwrap();
        if page["events"].as_array().unwrap().iter().any(|e| e["picture_id"] == marker.as_str()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(report_events(&app, &cast.r_reader, 0).await.is_empty());
    // A draft report is nobody's event.
    create_report(&app, &cast.author, &report("group_virt", "AMBER", &[&picture])).await;
    assert_eq!(report_events(&app, &cast.v_reader, 2).await.len(), 2);
}

#[tokio::test]
async fn report_events_reach_a_webhook_only_where_the_report_does() {
    let dir = std::env::temp_dir().join(format!("sitrep-receiver-{}", uuid::Uuid::new_v4().simple()));
    let receiver = crate::helpers::receiver::Receiver::start(&dir).await;
    let cert = receiver.cert.clone();
    let app = TestApp::spawn_with(move |s| {
        s.delivery.allow_private_targets = true;
        s.delivery.extra_root_certificates = vec![cert];
        s.delivery.poll_ms = 50;
    })
    .await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let res = app.post_json("/api/v1/webhook-hosts", Some(&sec), &json!({"host": "127.0.0.1"})).await;
    assert_eq!(res.status(), 201);
    let body = json!({"organisation_id": app.org("V"), "name": "SOC", "webhook_url": receiver.url, "filter": {}});
    let res = app.post_json("/api/v1/subscriptions", Some(&sec), &body).await;
    assert_eq!(res.status(), 201);
    let secret = res.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();

    let picture = published(&app, &cast, &content("group_virt", "AMBER")).await;
    // Named to B alone: not V's.
    let mut to_b = report("named", "RED", &[&picture]);
    to_b["named_recipients"] = json!([app.org("B")]);
    published_report(&app, &cast, &to_b).await;
    let id = published_report(&app, &cast, &report("group_virt", "AMBER", &[&picture])).await;
    receiver.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = receiver.received.lock().unwrap().clone();
    let bodies: Vec<Value> = got.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["picture.published", "report.published"], "{bodies:?}");
    let r = &got[1];
    assert!(sitrep_delivery::signing::verify(&secret, &r.id, r.timestamp, &r.body, &r.signature));
    assert_eq!(bodies[1]["data"]["report_id"], json!(id));
    assert!(bodies[1]["data"].get("picture_id").is_none());
    assert!(!String::from_utf8_lossy(&r.body).contains("Yhteinen"), "thin: no content");
}

#[tokio::test]
async fn report_events_reach_the_live_stream_of_the_reports_audience_only() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut virt = crate::helpers::stream::open(&app, &cast.v_reader, None).await;
    let mut ras = crate::helpers::stream::open(&app, &cast.r_reader, None).await;
    let picture = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let id = published_report(&app, &cast, &report("group_virt", "AMBER", &[&picture])).await;
    // Both see this one, after the report event in the outbox's order.
    let marker = published(&app, &cast, &content("group_virt_ras", "GREEN")).await;
    let got = crate::helpers::stream::read_events(&mut virt, 3).await;
    let kinds: Vec<&str> = got.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(kinds, vec!["picture.published", "report.published", "picture.published"]);
    assert_eq!(got[1].2["report_id"].as_str(), Some(id.as_str()));
    let got = crate::helpers::stream::read_events(&mut ras, 1).await;
    assert_eq!((got[0].1.as_str(), got[0].2["picture_id"].as_str()), ("picture.published", Some(marker.as_str())));
}

#[tokio::test]
async fn a_picture_narrowed_while_a_report_is_being_published_is_seen_by_the_check() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let picture = published(&app, &cast, &content("group", "AMBER")).await;
    let r = create_report(&app, &cast.author, &report("group", "AMBER", &[&picture])).await;
    let id = r["id"].as_str().unwrap().to_owned();
    // A narrowing in flight: the picture's row changed and not yet committed.
    let mut db = app.pool.get().await.unwrap();
    let narrowing = db.transaction().await.unwrap();
    let picture_id: uuid::Uuid = picture.parse().unwrap();
    narrowing.execute("UPDATE pictures SET tlp = 'AMBER+STRICT' WHERE id = $1", &[&picture_id]).await.unwrap();
    let publish = act_on(&app, &cast.approver, &id, "publish");
    let commit = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        narrowing.commit().await.unwrap();
    };
    let (res, ()) = tokio::join!(publish, commit);
    assert_eq!(problem(res, 422).await["code"], "report_tlp_looser_than_picture");
}

#[tokio::test]
async fn the_secretariat_listing_a_subscriptions_deliveries_is_not_told_a_report_it_does_not_read() {
    let dir = std::env::temp_dir().join(format!("sitrep-receiver-{}", uuid::Uuid::new_v4().simple()));
    let receiver = crate::helpers::receiver::Receiver::start(&dir).await;
    let cert = receiver.cert.clone();
    let app = TestApp::spawn_with(move |s| {
        s.delivery.allow_private_targets = true;
        s.delivery.extra_root_certificates = vec![cert];
        s.delivery.poll_ms = 50;
    })
    .await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    assert_eq!(app.post_json("/api/v1/webhook-hosts", Some(&sec), &json!({"host": "127.0.0.1"})).await.status(), 201);
    let body = json!({"organisation_id": app.org("V"), "name": "SOC", "webhook_url": receiver.url, "filter": {}});
    let res = app.post_json("/api/v1/subscriptions", Some(&sec), &body).await;
    assert_eq!(res.status(), 201);
    let subscription = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let picture = published(&app, &cast, &content("group_virt", "AMBER")).await;
    // Named to V alone: the secretariat is not in its audience and reads nothing of it.
    let mut to_v = report("named", "RED", &[&picture]);
    to_v["named_recipients"] = json!([app.org("V")]);
    let id = published_report(&app, &cast, &to_v).await;
    assert_eq!(app.get(&format!("/api/v1/reports/{id}"), Some(&sec)).await.status(), 404);
    receiver.wait_for(2).await;
    let deliveries: Vec<Value> =
        app.get(&format!("/api/v1/subscriptions/{subscription}/deliveries"), Some(&sec)).await.json().await.unwrap();
    let reports: Vec<&Value> = deliveries.iter().filter(|d| d["event_type"] == "report.published").collect();
    assert_eq!(reports.len(), 1, "{deliveries:?}");
    assert!(reports[0].get("report_id").is_none_or(Value::is_null), "{deliveries:?}");
    assert!(!serde_json::to_string(&deliveries).unwrap().contains(&id));
}
