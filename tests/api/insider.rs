//! What a member with valid accounts tried against the picture rules, each named after
//! the behaviour that must hold: four eyes that "send back" cannot get round, TLP
//! loosening only with a second person, no content through the secretariat's filters,
//! history that follows a narrowing, related pictures and proposed revisions that tell
//! readers nothing, and concurrent revisions that never answer 404.

use serde_json::{Value, json};
use sitrep_stix::ids;
use sitrep_types::{Role, Tier};

use crate::helpers::pictures::{
    act, act_if_match, cast, content, create, etag, patch_if_match, published, revise, revisions,
};
use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn an_approver_who_returned_a_picture_cannot_then_let_its_author_approve_it_alone() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    // Approver A writes a public picture and submits it; approver B returns it.
    let p = create(&app, &cast.approver, &content("public", "CLEAR")).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(act(&app, &cast.approver, id, "submit").await.status(), 200);
    let res = app
        .post_json(&format!("/api/v1/pictures/{id}/return"), Some(&cast.approver2), &json!({"note": "Source?"}))
        .await;
    assert_eq!(res.status(), 200);
    let back: Value = res.json().await.unwrap();
    assert_eq!((back["status"].as_str(), back["revision"].as_i64()), (Some("draft"), Some(1)), "no revision written");
    let history = revisions(&app, &cast.approver, id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["returned_note"], "Source?");
    // The old way round: an empty merge patch by B writes nothing either.
    let res = revise(&app, &cast.approver2, id, &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(revisions(&app, &cast.approver, id).await.len(), 1, "an empty patch writes no revision");
    // A submits again and tries to approve and publish alone.
    assert_eq!(act(&app, &cast.approver, id, "submit").await.status(), 200);
    assert_eq!(problem(act(&app, &cast.approver, id, "approve").await, 403).await["code"], "four_eyes");
    assert_eq!(problem(act(&app, &cast.approver, id, "publish").await, 409).await["code"], "approval_required");
    // B, who wrote nothing, approves; then A may publish.
    assert_eq!(act(&app, &cast.approver2, id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, id, "publish").await.status(), 200);
}

#[tokio::test]
async fn whoever_revised_a_picture_under_review_cannot_approve_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let approver3 = app.seed_user("a.approver3", "A", &[Role::Approver]).await;
    let approver3 = app.token(&approver3).await;
    let p = create(&app, &cast.approver, &content("group_virt_ras", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    // B edits the draft (a real change): both A and B now wrote the chain.
    let res = revise(&app, &cast.approver2, id, &json!({"urgency": "immediate"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(act(&app, &cast.approver, id, "submit").await.status(), 200);
    for token in [&cast.approver, &cast.approver2] {
        assert_eq!(problem(act(&app, token, id, "approve").await, 403).await["code"], "four_eyes");
    }
    assert_eq!(act(&app, &approver3, id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, id, "publish").await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.r_reader)).await.status(), 200);
}

/// A service account of organisation A made by `admin` with `roles`, and an API key
/// for it that `admin` holds.
async fn service_key(app: &TestApp, admin: &str, roles: &[&str]) -> String {
    let name = format!("feeder-{}", roles.join("-").replace('_', "-"));
    let res = app.post_json("/api/v1/service-accounts", Some(admin), &json!({"name": name, "roles": roles})).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let res = app
        .post_json(
            &format!("/api/v1/service-accounts/{id}/keys"),
            Some(admin),
            &json!({"name": "k", "expires_at": expires}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn one_person_cannot_be_both_pairs_of_eyes_through_a_service_account_they_hold_a_key_of() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let both = app.seed_user("a.both", "A", &[Role::OrgAdmin, Role::Approver]).await;
    let both = app.token(&both).await;
    let key = service_key(&app, &both, &["author"]).await;
    let p = create(&app, &key, &content("public", "CLEAR")).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(act(&app, &key, id, "submit").await.status(), 200);
    let refused = problem(act(&app, &both, id, "approve").await, 403).await;
    assert_eq!(refused["code"], "four_eyes");
    assert!(refused["detail"].as_str().unwrap().contains("service account"), "{refused}");
    // Another approver, who holds no key of it, may.
    assert_eq!(act(&app, &cast.approver2, id, "approve").await.status(), 200);
}

#[tokio::test]
async fn a_service_account_never_approves() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let admin = app.token(&admin).await;
    let key = service_key(&app, &admin, &["approver"]).await;
    let p = create(&app, &cast.author, &content("public", "CLEAR")).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(act(&app, &cast.author, id, "submit").await.status(), 200);
    assert_eq!(problem(act(&app, &key, id, "approve").await, 403).await["code"], "four_eyes");
}

fn with_indicator(tier: &str, tlp: &str, indicator_tlp: &str) -> Value {
    let mut c = content(tier, tlp);
    c["indicators"] = json!([{"type": "domain", "value": "leak-test.example", "tlp": indicator_tlp}]);
    c
}

#[tokio::test]
async fn one_approver_cannot_loosen_an_indicators_tlp_alone() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &with_indicator("group", "AMBER", "RED")).await;
    let mut looser = with_indicator("group", "AMBER", "AMBER");
    let res = revise(&app, &cast.approver, &id, &json!({"indicators": looser["indicators"].take()})).await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert!(p["pending_revision"].is_i64(), "proposed, not in force: {p}");
    let seen = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.text().await.unwrap();
    assert!(!seen.contains("leak-test.example"), "B must not read the RED indicator");
    // The same approver cannot publish it, nor approve what it wrote.
    assert_eq!(act(&app, &cast.approver, &id, "submit").await.status(), 200);
    assert_eq!(problem(act(&app, &cast.approver, &id, "publish").await, 409).await["code"], "approval_required");
    assert_eq!(problem(act(&app, &cast.approver, &id, "approve").await, 403).await["code"], "four_eyes");
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, &id, "publish").await.status(), 200);
    let seen = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.text().await.unwrap();
    assert!(seen.contains("leak-test.example"));
}

#[tokio::test]
async fn the_secretariat_cannot_read_a_metadata_only_pictures_content_through_filters() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    named["urgency"] = json!("immediate");
    named["valid_until"] = json!((chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339());
    let id = published(&app, &cast, &named).await;
    let listed = |body: &Value| body["items"].as_array().unwrap().iter().any(|i| i["id"] == id.as_str());
    let page: Value = app.get("/api/v1/pictures", Some(&sec)).await.json().await.unwrap();
    let item = page["items"].as_array().unwrap().iter().find(|i| i["id"] == id.as_str()).unwrap().clone();
    assert!(item.get("severity").is_none() && item.get("urgency").is_none() && item.get("expired").is_none(), "{item}");
    for filter in [
        "severity=medium",
        "urgency=immediate",
        "kind=alert",
        "domain=information_influence",
        "is_exercise=false",
        "overdue=true",
        "overdue=false",
        "q=SMS",
    ] {
        let page: Value = app.get(&format!("/api/v1/pictures?{filter}"), Some(&sec)).await.json().await.unwrap();
        assert!(!listed(&page), "{filter} tells the secretariat about content");
    }
    // Metadata filters still work.
    let page: Value = app.get("/api/v1/pictures?tier=named&tlp=RED", Some(&sec)).await.json().await.unwrap();
    assert!(listed(&page));
    // Expiry is content: once valid_until has passed the picture stays in the
    // secretariat's default list.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let page: Value = app.get("/api/v1/pictures", Some(&sec)).await.json().await.unwrap();
    assert!(listed(&page), "an expired picture's disappearance would tell its valid_until");
}

#[tokio::test]
async fn a_narrowed_indicator_is_not_served_from_history_or_taxii() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &with_indicator("group_virt_ras", "AMBER", "AMBER")).await;
    let mut stricter = with_indicator("group_virt_ras", "AMBER", "AMBER+STRICT");
    let res = revise(&app, &cast.approver, &id, &json!({"indicators": stricter["indicators"].take()})).await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert!(p["pending_revision"].is_null(), "a narrowing is in force at once");
    let hidden = "leak-test.example";
    let indicator = ids::indicator(id.parse().unwrap(), "domain", hidden);
    let r = &cast.r_reader;
    for path in [format!("/api/v1/pictures/{id}"), format!("/api/v1/pictures/{id}/revisions/1")] {
        let res = app.get(&path, Some(r)).await;
        assert_eq!(res.status(), 200);
        assert!(!res.text().await.unwrap().contains(hidden), "{path} shows the narrowed indicator");
    }
    let base = format!("/taxii2/api/collections/{}/", ids::collection(Tier::GroupVirtRas));
    for q in [
        "objects/?match[version]=all".to_owned(),
        format!("objects/?match[id]={indicator}&match[version]=all"),
        "manifest/?match[version]=all".to_owned(),
    ] {
        let res = crate::helpers::taxii::taxii(&app, r, &format!("{base}{q}")).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(!text.contains(hidden) && !text.contains(&indicator), "{q} shows the narrowed indicator");
    }
    for q in [format!("objects/{indicator}/"), format!("objects/{indicator}/versions/")] {
        assert_eq!(crate::helpers::taxii::taxii(&app, r, &format!("{base}{q}")).await.status(), 404, "{q}");
    }
    // Election-VIRT, which AMBER+STRICT reaches, still reads it, then and now.
    let res = app.get(&format!("/api/v1/pictures/{id}/revisions/1"), Some(&cast.v_reader)).await;
    assert!(res.text().await.unwrap().contains(hidden));
}

#[tokio::test]
async fn related_pictures_the_reader_cannot_see_are_left_out() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let draft = create(&app, &cast.author, &content("group", "AMBER")).await;
    let seen = published(&app, &cast, &content("group", "AMBER")).await;
    let mut body = content("group", "AMBER");
    body["related"] = json!([
        {"relation": "follow_up_of", "picture_id": draft["id"]},
        {"relation": "part_of_campaign", "picture_id": seen}
    ]);
    let id = published(&app, &cast, &body).await;
    let p: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(p["related"], json!([{"relation": "part_of_campaign", "picture_id": seen}]));
    let rev: Value =
        app.get(&format!("/api/v1/pictures/{id}/revisions/1"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(rev["related"], json!([{"relation": "part_of_campaign", "picture_id": seen}]));
    let own: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(own["related"].as_array().unwrap().len(), 2, "the originator sees its own draft");
}

#[tokio::test]
async fn a_proposed_revision_changes_nothing_that_readers_outside_see() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let other = published(&app, &cast, &content("group", "AMBER")).await;
    let read = |token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&token)).await;
            let tag = res.headers()["etag"].to_str().unwrap().to_owned();
            let p: Value = res.json().await.unwrap();
            (tag, p["updated_at"].clone())
        }
    };
    let before = read(cast.b_reader.clone()).await;
    let first: Value = app.get("/api/v1/pictures", Some(&cast.b_reader)).await.json().await.unwrap();
    // The author proposes a change, submits it, and an approver approves it.
    let tag = etag(&app, &cast.author, &id).await;
    let res = patch_if_match(&app, &cast.author, &id, &tag, &json!({"urgency": "immediate"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    assert_eq!(read(cast.b_reader.clone()).await, before);
    let then: Value = app.get("/api/v1/pictures", Some(&cast.b_reader)).await.json().await.unwrap();
    let order = |page: &Value| page["items"].as_array().unwrap().iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
    assert_eq!(order(&first), order(&then), "the list order tells nothing either");
    assert_eq!(order(&then)[0], json!(other));
    // The originator's ETag did change (its If-Match guards the proposal).
    assert_ne!(etag(&app, &cast.author, &id).await, tag);
}

#[tokio::test]
async fn concurrent_revisions_with_one_if_match_give_one_success_and_412s_never_404() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    for published_first in [false, true] {
        let id = if published_first {
            published(&app, &cast, &content("group", "AMBER")).await
        } else {
            create(&app, &cast.author, &content("group", "AMBER")).await["id"].as_str().unwrap().to_owned()
        };
        let tag = etag(&app, &cast.approver, &id).await;
        let tries = (0..20).map(|i| {
            let (app, id, tag, token) = (&app, id.clone(), tag.clone(), cast.approver.clone());
            async move {
                let title = json!({"title": {"fi": format!("Otsikko {i}"), "sv": format!("Rubrik {i}"), "en": format!("Title {i}")}});
                patch_if_match(app, &token, &id, &tag, &title).await.status().as_u16()
            }
        });
        let mut statuses = futures_util::future::join_all(tries).await;
        statuses.sort_unstable();
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 412), "{statuses:?}");
    }
}

#[tokio::test]
async fn a_draft_superseded_before_publication_is_never_readable_by_the_audience() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut first = content("group", "AMBER");
    first["details"] = json!({"fi": "Lähde: nimetty henkilö", "en": "Source: a named person"});
    let p = create(&app, &cast.author, &first).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(revise(&app, &cast.author, id, &json!({"details": null})).await.status(), 200);
    assert_eq!(act(&app, &cast.author, id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, id, "publish").await.status(), 200);
    let listed: Vec<i64> =
        revisions(&app, &cast.b_reader, id).await.iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    assert_eq!(listed, vec![2], "only the published revision");
    let res = app.get(&format!("/api/v1/pictures/{id}/revisions/1"), Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 404);
    // The originator still reads its own drafts.
    let res = app.get(&format!("/api/v1/pictures/{id}/revisions/1"), Some(&cast.author)).await;
    assert!(res.text().await.unwrap().contains("named person"));
}

#[tokio::test]
async fn a_person_cannot_approve_through_a_chain_of_service_accounts_or_administer_themselves_through_one() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let both = app.seed_user("a.both", "A", &[Role::OrgAdmin, Role::Approver]).await;
    let both_token = app.token(&both).await;
    // A makes SA1 (org_admin) and its key; SA1 makes SA2 (author) and its key.
    let sa1 = service_key(&app, &both_token, &["org_admin"]).await;
    let sa2 = service_key(&app, &sa1, &["author"]).await;
    let p = create(&app, &sa2, &content("public", "CLEAR")).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(act(&app, &sa2, id, "submit").await.status(), 200);
    let refused = problem(act(&app, &both_token, id, "approve").await, 403).await;
    assert_eq!(refused["code"], "four_eyes");
    assert_eq!(act(&app, &cast.approver2, id, "approve").await.status(), 200);
    // SA1 acts for A: it does not change A's roles, second factor or password.
    let me: Value = app.get(&format!("/api/v1/users/{}/memberships", both.id), Some(&sa1)).await.json().await.unwrap();
    let membership = me[0]["id"].as_str().unwrap();
    let res = app
        .patch_json(
            &format!("/api/v1/users/{}/memberships/{membership}", both.id),
            &sa1,
            &json!({"roles": ["org_admin", "approver", "author"]}),
        )
        .await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
    let res = app.post_json(&format!("/api/v1/users/{}/totp/reset", both.id), Some(&sa1), &json!({})).await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
    let res = app
        .patch_json(&format!("/api/v1/users/{}", both.id), &sa1, &json!({"password": "a brand new long password"}))
        .await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
}

#[tokio::test]
async fn an_approval_or_publication_with_a_stale_if_match_is_refused() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.author, &content("public", "CLEAR")).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(act(&app, &cast.author, id, "submit").await.status(), 200);
    // The approver reads the picture; the author then slips in another revision.
    let seen = etag(&app, &cast.approver2, id).await;
    assert_eq!(revise(&app, &cast.author, id, &json!({"urgency": "immediate"})).await.status(), 200);
    assert_eq!(act(&app, &cast.author, id, "submit").await.status(), 200);
    for action in ["approve", "publish"] {
        let res = act_if_match(&app, &cast.approver2, id, action, &seen).await;
        assert_eq!(problem(res, 412).await["code"], "stale_etag");
    }
    // With the ETag of what it now reads, it approves.
    let now = etag(&app, &cast.approver2, id).await;
    let res = act_if_match(&app, &cast.approver2, id, "approve", &now).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_indicator_removed_and_added_back_looser_or_respelled_needs_a_second_approver() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &with_indicator("group", "AMBER", "RED")).await;
    // Removing it narrows: at once.
    let res = revise(&app, &cast.approver, &id, &json!({"indicators": []})).await;
    assert!(res.json::<Value>().await.unwrap()["pending_revision"].is_null());
    // Adding it back as AMBER loosens it: proposed, not in force.
    let back = json!([{"type": "domain", "value": "leak-test.example", "tlp": "AMBER"}]);
    let res = revise(&app, &cast.approver, &id, &json!({"indicators": back})).await;
    assert!(res.json::<Value>().await.unwrap()["pending_revision"].is_i64());
    let seen = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.text().await.unwrap();
    assert!(!seen.to_lowercase().contains("leak-test.example"));
    // The RED one kept and the same value spelled otherwise added as AMBER: the same.
    let id = published(&app, &cast, &with_indicator("group", "AMBER", "RED")).await;
    let both = json!([
        {"type": "domain", "value": "leak-test.example", "tlp": "RED"},
        {"type": "domain", "value": "Leak-Test.Example.", "tlp": "AMBER"}
    ]);
    let res = revise(&app, &cast.approver, &id, &json!({"indicators": both})).await;
    assert!(res.json::<Value>().await.unwrap()["pending_revision"].is_i64());
    let seen = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.text().await.unwrap();
    assert!(!seen.to_lowercase().contains("leak-test.example"));
}

#[tokio::test]
async fn returning_an_approved_revision_takes_the_approval_back() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let c = app.seed_user("a.author2", "A", &[Role::Author]).await;
    let c = app.token(&c).await;
    // A (approver) proposes a public picture; B approves, then returns it.
    let p = create(&app, &cast.approver, &content("public", "CLEAR")).await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(act(&app, &cast.approver, id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, id, "return").await.status(), 200);
    let history = revisions(&app, &cast.approver, id).await;
    assert!(history[0]["approved_by"].is_null(), "{history:?}");
    assert_eq!(problem(act(&app, &cast.approver, id, "publish").await, 409).await["code"], "approval_required");
    // A colleague fixes a typo; A still wrote the chain and cannot approve it.
    assert_eq!(revise(&app, &c, id, &json!({"urgency": "immediate"})).await.status(), 200);
    assert_eq!(act(&app, &c, id, "submit").await.status(), 200);
    assert_eq!(problem(act(&app, &cast.approver, id, "approve").await, 403).await["code"], "four_eyes");
}
