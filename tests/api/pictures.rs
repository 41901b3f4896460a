//! Situation pictures over HTTPS: the sharing rules, revisions, four eyes, redaction.

use serde_json::{Value, json};
use sitrep_types::Role;
use uuid::Uuid;

use crate::helpers::pictures::{act, cast, content, create, etag, patch_if_match, published, revise};
use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn an_author_creates_a_draft_that_only_its_organisation_sees() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &content("group", "AMBER")).await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().contains_key("etag"));
    let record = app.audit_of(&res).await;
    let p: Value = res.json().await.unwrap();
    assert_eq!((record.action.as_str(), record.object_id.as_deref()), ("picture.create", p["id"].as_str()));
    assert_eq!(p["status"], "draft");
    assert_eq!(p["revision"], 1);
    assert_eq!(p["severity"], "medium");
    let reference = p["reference"].as_str().unwrap();
    assert!(reference.starts_with(&format!("VTY-{}-", chrono::Utc::now().format("%Y"))), "{reference}");
    let id = p["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.approver)).await.status(), 200);
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("picture.view", "denied"));
    assert_eq!(problem(res, 404).await["code"], "picture_not_found");

    let second = create(&app, &cast.author, &content("group", "AMBER")).await;
    assert_ne!(second["reference"], p["reference"]);
}

#[tokio::test]
async fn each_reach_sees_exactly_its_tiers() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut ids = std::collections::HashMap::new();
    for (tier, tlp) in [("group", "AMBER"), ("group_virt", "AMBER"), ("group_virt_ras", "GREEN"), ("public", "CLEAR")] {
        ids.insert(tier, published(&app, &cast, &content(tier, tlp)).await);
    }
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    ids.insert("named", published(&app, &cast, &named).await);

    let expect = [
        (&cast.b_reader, vec!["group", "group_virt", "group_virt_ras", "public", "named"]),
        (&cast.v_reader, vec!["group_virt", "group_virt_ras", "public"]),
        (&cast.r_reader, vec!["group_virt_ras", "public"]),
    ];
    for (token, sees) in expect {
        for (tier, id) in &ids {
            let status = app.get(&format!("/api/v1/pictures/{id}"), Some(token)).await.status().as_u16();
            assert_eq!(status, if sees.contains(tier) { 200 } else { 404 }, "{tier}");
        }
        let res = app.get("/api/v1/pictures?limit=200", Some(token)).await;
        let record = app.audit_of(&res).await;
        let page: Value = res.json().await.unwrap();
        let mut listed: Vec<String> =
            page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
        let mut wanted: Vec<String> = sees.iter().map(|t| ids[t].clone()).collect();
        listed.sort();
        wanted.sort();
        assert_eq!(listed, wanted);
        assert_eq!(record.object_ids.unwrap().len(), wanted.len());
        // Search finds nothing it may not see either.
        let page: Value = app.get("/api/v1/pictures?q=tekstiviestejä", Some(token)).await.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), wanted.len());
    }
}

#[tokio::test]
async fn a_reader_of_another_organisation_never_sees_a_named_picture_not_naming_it() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let c_reader = app.seed_user("c.reader", "S", &[Role::Reader]).await;
    let c_token = app.token(&c_reader).await;
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    let id = published(&app, &cast, &named).await;
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&c_token)).await;
    problem(res, 404).await;
    for path in [format!("/api/v1/pictures/{id}/revisions"), format!("/api/v1/pictures/{id}/revisions/1")] {
        problem(app.get(&path, Some(&c_token)).await, 404).await;
    }
    for query in ["", "?q=tekstiviestejä", "?tier=named", "?include_expired=true"] {
        let page: Value = app.get(&format!("/api/v1/pictures{query}"), Some(&c_token)).await.json().await.unwrap();
        assert!(page["items"].as_array().unwrap().is_empty(), "{query}");
    }
    // The named organisation reads it, but not the list of who else is named.
    let p: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(p["named_recipients"], json!([]));
    let own: Value = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(own["named_recipients"], json!([app.org("B")]));
}

#[tokio::test]
async fn the_secretariat_sees_metadata_only_and_searches_no_content() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    let id = published(&app, &cast, &named).await;
    let draft = create(&app, &cast.author, &content("group", "AMBER")).await;
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&token)).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("metadata_only"));
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["tier"], "named");
    assert!(p.get("title").is_none() && p.get("summary").is_none() && p.get("indicators").is_none());
    let page: Value = app.get("/api/v1/pictures", Some(&token)).await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "drafts stay private: {items:?}");
    assert!(items[0].get("title").is_none());
    let page: Value = app.get("/api/v1/pictures?q=tekstiviestejä", Some(&token)).await.json().await.unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
    problem(app.get(&format!("/api/v1/pictures/{}", draft["id"].as_str().unwrap()), Some(&token)).await, 404).await;
    // Auditors and sysadmins see no pictures at all.
    let auditor = app.seed_user("aud.user", "S", &[Role::Auditor]).await;
    let at = app.token(&auditor).await;
    problem(app.get(&format!("/api/v1/pictures/{id}"), Some(&at)).await, 404).await;
}

#[tokio::test]
async fn four_eyes_refuses_self_approval_and_needs_approval_for_wide_tiers() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let p = create(&app, &cast.approver, &content("group_virt_ras", "GREEN")).await;
    let id = p["id"].as_str().unwrap();
    let res = act(&app, &cast.approver, id, "publish").await;
    assert_eq!(problem(res, 409).await["code"], "approval_required");
    assert_eq!(act(&app, &cast.approver, id, "submit").await.status(), 200);
    let res = act(&app, &cast.approver, id, "approve").await;
    let record = app.audit_of(&res).await;
    assert_eq!(
        (record.action.as_str(), record.outcome.as_str(), record.http_status),
        ("picture.approve", "denied", 403)
    );
    assert_eq!(problem(res, 403).await["code"], "four_eyes");
    // Nobody outside sees it yet: the picture keeps its old state.
    problem(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.r_reader)).await, 404).await;
    assert_eq!(act(&app, &cast.approver2, id, "approve").await.status(), 200);
    let res = act(&app, &cast.approver, id, "publish").await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.r_reader)).await.status(), 200);
    // An author may not approve or publish at all.
    let res = act(&app, &cast.author, id, "withdraw").await;
    problem(res, 403).await;
}

#[tokio::test]
async fn widening_a_published_picture_waits_for_approval_and_narrowing_is_immediate() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}");
    let etag = etag(&app, &cast.author, &id).await;

    // Widen to the RAS tier: proposed, not in force.
    let widen = json!({"tier": "group_virt_ras", "tlp": "GREEN", "tlp_community": "FI-ELECSEC"});
    let res = patch_if_match(&app, &cast.author, &id, &etag, &widen).await;
    assert_eq!(res.status(), 200);
    let etag2 = res.headers()["etag"].to_str().unwrap().to_owned();
    let p: Value = res.json().await.unwrap();
    assert_eq!(
        (p["tier"].as_str(), p["revision"].as_i64(), p["pending_revision"].as_i64()),
        (Some("group"), Some(1), Some(2))
    );
    problem(app.get(&path, Some(&cast.r_reader)).await, 404).await;

    // A stale ETag is refused; a missing one too.
    let res = patch_if_match(&app, &cast.author, &id, &etag, &widen).await;
    assert_eq!(problem(res, 412).await["code"], "stale_etag");
    let res = app.patch_json(&path, &cast.author, &widen).await;
    assert_eq!(problem(res, 428).await["code"], "if_match_required");

    assert_eq!(act(&app, &cast.author, &id, "submit").await.status(), 200);
    assert_eq!(problem(act(&app, &cast.approver, &id, "publish").await, 409).await["code"], "approval_required");
    assert_eq!(act(&app, &cast.approver2, &id, "approve").await.status(), 200);
    let res = act(&app, &cast.approver, &id, "publish").await;
    let p: Value = res.json().await.unwrap();
    assert_eq!((p["tier"].as_str(), p["revision"].as_i64()), (Some("group_virt_ras"), Some(2)));
    assert_eq!(app.get(&path, Some(&cast.r_reader)).await.status(), 200);

    // Narrowing back to group takes effect at once, even from an author.
    let _ = etag2;
    let narrow = json!({"tier": "group", "tlp": "AMBER", "tlp_community": null});
    let res = revise(&app, &cast.author, &id, &narrow).await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert_eq!((p["tier"].as_str(), p["revision"].as_i64()), (Some("group"), Some(3)));
    problem(app.get(&path, Some(&cast.r_reader)).await, 404).await;
    problem(app.get(&format!("{path}/revisions/2"), Some(&cast.r_reader)).await, 404).await;

    // History: the originator sees every revision; another member the published ones.
    let revs: Value = app.get(&format!("{path}/revisions"), Some(&cast.author)).await.json().await.unwrap();
    let states: Vec<&str> = revs.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["superseded", "superseded", "published"]);
    let revs: Value = app.get(&format!("{path}/revisions"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(revs.as_array().unwrap().len(), 3);
    assert!(revs[0].get("created_by").is_none());
    let old: Value = app.get(&format!("{path}/revisions/1"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(old["tier"], "group");
}

#[tokio::test]
async fn only_the_originator_revises_and_closed_pictures_stay_closed() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let b_author = app.seed_user("b.author", "B", &[Role::Author]).await;
    let b_token = app.token(&b_author).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let path = format!("/api/v1/pictures/{id}");
    let res = revise(&app, &b_token, &id, &json!({"urgency": "immediate"})).await;
    assert_eq!(problem(res, 403).await["code"], "not_originator");
    problem(act(&app, &b_token, &id, "submit").await, 403).await;
    assert_eq!(act(&app, &cast.approver, &id, "withdraw").await.status(), 200);
    let p: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(p["status"], "withdrawn");
    assert_eq!(problem(act(&app, &cast.approver, &id, "close").await, 409).await["code"], "not_published");
    let res = revise(&app, &cast.author, &id, &json!({"urgency": "immediate"})).await;
    assert_eq!(problem(res, 409).await["code"], "picture_closed");
}

#[tokio::test]
async fn a_repeated_idempotency_key_creates_nothing_new() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let body = content("group", "AMBER");
    let send = |key: &'static str, body: Value| {
        app.client
            .post(app.url("/api/v1/pictures"))
            .bearer_auth(&cast.author)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first: Value = send("key-1", body.clone()).await.unwrap().json().await.unwrap();
    let res = send("key-1", body.clone()).await.unwrap();
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["reference"], again["reference"]);
    // The same value written otherwise (keys in another order, other spacing) is the
    // same body.
    let members: Vec<String> =
        body.as_object().unwrap().iter().rev().map(|(k, v)| format!("\n  {}: {v}", json!(k))).collect();
    let res = app
        .client
        .post(app.url("/api/v1/pictures"))
        .bearer_auth(&cast.author)
        .header("idempotency-key", "key-1")
        .header("content-type", "application/json")
        .body(format!("{{{}\n}}", members.join(",")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let mut other = body.clone();
    other["urgency"] = json!("immediate");
    let res = send("key-1", other).await.unwrap();
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "idempotency_key_reused");
    let client = app.pool.get().await.unwrap();
    let n: i64 = client.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
}

/// A client tells a reused key from a bad body by the top-level `code` alone: the `422`
/// says `idempotency_key_reused`, names the header as the field, is recorded as a failure
/// with that reason and creates nothing. The key is the caller's own: another author of
/// the same organisation sending the same key with another body creates its own draft.
#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_answers_idempotency_key_reused() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let send = |token: &str, body: &Value| {
        app.client
            .post(app.url("/api/v1/pictures"))
            .bearer_auth(token)
            .header("idempotency-key", "retry-7")
            .json(body)
            .send()
    };
    let body = content("group", "AMBER");
    let first = send(&cast.author, &body).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let mut other = body.clone();
    other["urgency"] = json!("immediate");
    let res = send(&cast.author, &other).await.unwrap();
    let record = app.audit_of(&res).await;
    let p = problem(res, 422).await;
    assert_eq!(p["code"], "idempotency_key_reused");
    assert_eq!(p["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(p["errors"][0]["code"], "idempotency_key_reused");
    assert_eq!(
        (record.action.as_str(), record.outcome.as_str(), record.reason.as_deref(), record.http_status),
        ("picture.create", "failed", Some("idempotency_key_reused"), 422)
    );
    // A bad body without a reused key still answers the generic code.
    let mut bad = body.clone();
    bad["title"]["fi"] = json!("x".repeat(141));
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &bad).await;
    assert_eq!(problem(res, 422).await["code"], "validation_failed");
    // Another person's identical key is theirs, not a reuse.
    let res = send(&cast.approver, &other).await.unwrap();
    assert_eq!(res.status(), 201);
    let theirs: Value = res.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);
    let client = app.pool.get().await.unwrap();
    let n: i64 = client.query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
}

#[tokio::test]
async fn stricter_indicators_are_left_out_and_the_redaction_is_logged() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut body = content("group_virt_ras", "GREEN");
    body["indicators"] = json!([
        {"type": "domain", "value": "vaalit-fi.example", "platform": "web", "tlp": "GREEN"},
        {"type": "ipv4", "value": "198.51.100.7", "tlp": "AMBER+STRICT"},
        {"type": "url", "value": "https://vaalit-fi.example/sms", "tlp": "RED"}
    ]);
    let id = published(&app, &cast, &body).await;
    let path = format!("/api/v1/pictures/{id}");
    for (token, visible) in [(&cast.author, 3), (&cast.b_reader, 2), (&cast.v_reader, 2), (&cast.r_reader, 1)] {
        let res = app.get(&path, Some(token)).await;
        let record = app.audit_of(&res).await;
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["indicators"].as_array().unwrap().len(), visible);
        assert_eq!(p["redacted_indicators"], 3 - visible);
        let expected = (visible < 3).then(|| format!("indicators_redacted:{}", 3 - visible));
        assert_eq!(record.reason, expected);
    }
}

#[tokio::test]
async fn bad_pictures_are_refused_naming_the_field_and_the_rule() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            {
                let mut c = content("group", "AMBER");
                c["tlp"] = json!("PURPLE");
                c
            },
            "tlp",
            "validation_failed",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["tier"] = json!("everyone");
                c
            },
            "tier",
            "validation_failed",
        ),
        (content("group", "RED"), "tlp", "tier_tlp_mismatch"),
        (
            {
                let mut c = content("public", "CLEAR");
                c["classification"] = json!("unclassified_secret");
                c["secrecy_basis"] = json!("x");
                c
            },
            "classification",
            "classification_not_allowed",
        ),
        (
            {
                let mut c = content("public", "CLEAR");
                c["title"]["sv"] = Value::Null;
                c
            },
            "title.sv",
            "language_missing",
        ),
        (
            {
                let mut c = content("group_virt", "AMBER");
                c["originator_consents"]["virt"] = json!(false);
                c
            },
            "originator_consents.virt",
            "consent_missing",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["classification"] = json!("TL_III");
                c
            },
            "classification",
            "classification_not_allowed",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["classification"] = json!("TL_IV");
                c
            },
            "classification",
            "classification_not_allowed",
        ),
        (
            {
                let mut c = content("group", "GREEN");
                c.as_object_mut().unwrap().remove("tlp_community");
                c
            },
            "tlp_community",
            "community_required",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["disarm_techniques"] = json!(["T0097.206", "T9999"]);
                c
            },
            "disarm_techniques[1]",
            "validation_failed",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["title"]["fi"] = json!("x".repeat(141));
                c
            },
            "title.fi",
            "validation_failed",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["source_reliability"] = json!("G");
                c
            },
            "source_reliability",
            "validation_failed",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["originator"] = json!(Uuid::new_v4());
                c
            },
            "originator",
            "validation_failed",
        ),
        (
            {
                let mut c = content("group", "AMBER");
                c["tlp_community"] = json!("NO-SUCH");
                c["tlp"] = json!("GREEN");
                c
            },
            "tlp_community",
            "validation_failed",
        ),
        (
            {
                let mut c = content("named", "RED");
                c["named_recipients"] = json!([Uuid::new_v4()]);
                c
            },
            "named_recipients[0]",
            "validation_failed",
        ),
    ];
    for (body, field, code) in cases {
        let res = app.post_json("/api/v1/pictures", Some(&cast.author), &body).await;
        let p = problem(res, 422).await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{field}: {p}");
        assert_eq!(p["code"], code, "{field}: {p}");
    }
    // A reader may not write at all.
    let res = app.post_json("/api/v1/pictures", Some(&cast.b_reader), &content("group", "AMBER")).await;
    problem(res, 403).await;
    let n: i64 = app.pool.get().await.unwrap().query_one("SELECT count(*) FROM pictures", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
    let _ = &cast.a_user;
}

/// A picture's references (named recipients, TLP community, election, related pictures)
/// are looked up whichever of them the content has: each alone, and together with every
/// unknown one named.
#[tokio::test]
async fn references_are_checked_alone_and_together() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let election = json!({"code": "FI-PARL-2027", "election_type": "parliamentary", "name_en": "Parliamentary elections 2027", "election_day": "2027-04-18"});
    let election: Value = app.post_json("/api/v1/elections", Some(&st), &election).await.json().await.unwrap();
    let own = create(&app, &cast.author, &content("group", "AMBER")).await;
    let unknown = json!(Uuid::new_v4());
    let with =
        |tier: &str, tlp: &str, named: &[&Value], community: Option<&str>, elected: &Value, related: &[&Value]| {
            let mut c = content(tier, tlp);
            if !named.is_empty() {
                c["named_recipients"] = json!(named);
            }
            if let Some(code) = community {
                c["tlp_community"] = json!(code);
            }
            if !elected.is_null() {
                c["election_id"] = elected.clone();
                c["election_phase"] = json!("advance_voting");
            }
            c["related"] = json!(
                related.iter().map(|id| json!({"relation": "follow_up_of", "picture_id": id})).collect::<Vec<_>>()
            );
            c
        };
    let b = json!(app.org("B"));
    for body in [
        with("named", "RED", &[&b], None, &election["id"], &[&own["id"]]),
        with("group", "GREEN", &[], Some("FI-ELECSEC"), &election["id"], &[&own["id"]]),
        with("group", "AMBER", &[], None, &election["id"], &[]),
        with("group", "AMBER", &[], None, &Value::Null, &[&own["id"]]),
    ] {
        create(&app, &cast.author, &body).await;
    }
    let cases = [
        (with("group", "AMBER", &[], None, &unknown, &[]), vec!["election_id"]),
        (with("group", "AMBER", &[], None, &Value::Null, &[&unknown]), vec!["related[0].picture_id"]),
        (
            with("named", "RED", &[&b, &unknown], None, &unknown, &[&own["id"], &unknown]),
            vec!["named_recipients[1]", "election_id", "related[1].picture_id"],
        ),
        (
            with("group", "GREEN", &[], Some("NO-SUCH"), &election["id"], &[&unknown]),
            vec!["tlp_community", "related[0].picture_id"],
        ),
    ];
    for (body, expected) in cases {
        let p = problem(app.post_json("/api/v1/pictures", Some(&cast.author), &body).await, 422).await;
        let mut fields: Vec<&str> =
            p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        fields.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(fields, expected, "{p}");
    }
}

#[tokio::test]
async fn lists_filter_page_and_hide_expired_pictures_until_searched() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut expired = content("group", "AMBER");
    expired["valid_from"] = json!("2020-01-01T00:00:00Z");
    expired["valid_until"] = json!("2020-01-02T00:00:00Z");
    expired["title"]["fi"] = json!("Vanhentunut väite äänestyspaikoista");
    let old = published(&app, &cast, &expired).await;
    let mut cyber = content("group", "AMBER");
    cyber["primary_domain"] = json!("cyber");
    cyber["domains"] = json!(["cyber"]);
    cyber["disarm_techniques"] = json!([]);
    cyber["attack_techniques"] = json!(["T1498"]);
    cyber["urgency"] = json!("immediate");
    let c1 = published(&app, &cast, &cyber).await;
    let i1 = published(&app, &cast, &content("group", "AMBER")).await;

    let ids = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    };
    let page: Value = app.get("/api/v1/pictures", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), [i1.clone(), c1.clone()]);
    let page: Value =
        app.get("/api/v1/pictures?include_expired=true", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page).len(), 3);
    let page: Value = app.get("/api/v1/pictures?q=vanhentunut", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), [old]);
    assert_eq!(page["items"][0]["expired"], true);
    let page: Value =
        app.get("/api/v1/pictures?domain=cyber&urgency=immediate", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&page), [c1.as_str()]);
    let page: Value = app
        .get("/api/v1/pictures?q=sms&limit=1&include_expired=true", Some(&cast.b_reader))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&page).len(), 1);

    let first: Value = app.get("/api/v1/pictures?limit=1", Some(&cast.b_reader)).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value =
        app.get(&format!("/api/v1/pictures?limit=1&cursor={cursor}"), Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(ids(&second), [c1]);
    let res = app.get(&format!("/api/v1/pictures?limit=1&cursor={cursor}"), Some(&cast.v_reader)).await;
    assert_eq!(problem(res, 400).await["code"], "invalid_cursor");
    let res = app.get("/api/v1/pictures?severity=extreme", Some(&cast.b_reader)).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "severity");
    let res = app.get("/api/v1/pictures?tlp=RED&tlp=CLEAR", Some(&cast.b_reader)).await;
    problem(res, 400).await;
}

#[tokio::test]
async fn every_cell_of_the_tier_and_tlp_table_is_accepted_or_refused_over_the_api() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let allowed = [
        ("named", &["RED", "AMBER+STRICT"][..]),
        ("group", &["AMBER+STRICT", "AMBER", "GREEN", "CLEAR"][..]),
        ("group_virt", &["AMBER+STRICT", "AMBER", "GREEN", "CLEAR"][..]),
        ("group_virt_ras", &["AMBER", "GREEN", "CLEAR"][..]),
        ("public", &["CLEAR"][..]),
    ];
    for (tier, ok) in allowed {
        for tlp in ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"] {
            let mut body = content(tier, tlp);
            if tier == "named" {
                body["named_recipients"] = json!([app.org("B")]);
            }
            let res = app.post_json("/api/v1/pictures", Some(&cast.author), &body).await;
            if ok.contains(&tlp) {
                assert_eq!(res.status(), 201, "{tier}/{tlp}: {}", res.text().await.unwrap());
            } else {
                assert_eq!(problem(res, 422).await["code"], "tier_tlp_mismatch", "{tier}/{tlp}");
            }
        }
    }
}

#[tokio::test]
async fn tl_iv_is_accepted_only_where_accredited_and_never_beyond_group_virt() {
    let app = TestApp::spawn_with(|s| s.pictures.tl_iv_accredited = true).await;
    let cast = cast(&app).await;
    let mut body = content("group_virt", "AMBER");
    body["classification"] = json!("TL_IV");
    assert_eq!(app.post_json("/api/v1/pictures", Some(&cast.author), &body).await.status(), 201);
    let mut body = content("group_virt_ras", "GREEN");
    body["classification"] = json!("TL_IV");
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &body).await;
    assert_eq!(problem(res, 422).await["code"], "classification_not_allowed");
    let mut body = content("group", "AMBER");
    body["classification"] = json!("TL_II");
    let res = app.post_json("/api/v1/pictures", Some(&cast.author), &body).await;
    assert_eq!(problem(res, 422).await["code"], "classification_not_allowed");
}

#[tokio::test]
async fn an_author_cannot_slip_new_indicators_past_review_as_a_narrowing() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut body = content("group", "AMBER");
    body["indicators"] = json!([
        {"type": "domain", "value": "a.example", "tlp": "AMBER"},
        {"type": "domain", "value": "b.example", "tlp": "AMBER"}
    ]);
    let id = published(&app, &cast, &body).await;
    let path = format!("/api/v1/pictures/{id}");
    let res = revise(
        &app,
        &cast.author,
        &id,
        &json!({"indicators": [{"type": "domain", "value": "evil.example", "tlp": "RED"}]}),
    )
    .await;
    let p: Value = res.json().await.unwrap();
    assert_eq!((p["revision"].as_i64(), p["pending_revision"].as_i64()), (Some(1), Some(2)), "proposed, not in force");
    let seen: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(seen["indicators"].as_array().unwrap().len(), 2);

    // Dropping an indicator and making another stricter is a narrowing: at once.
    let res = revise(
        &app,
        &cast.author,
        &id,
        &json!({"indicators": [{"type": "domain", "value": "a.example", "tlp": "AMBER+STRICT"}]}),
    )
    .await;
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["revision"], 3);
    let seen: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(seen["indicators"].as_array().unwrap().len(), 1);
}

/// References come from one sequence per year (migrations/V9): taking a number locks
/// nothing until commit, so creates do not queue behind each other. 16 transactions at
/// once, half in a year no picture has used yet and half in the next, a quarter of them
/// rolled back: the committed references are distinct, well formed, and each year's
/// numbers start at 1 (a rolled-back number may leave a gap).
#[tokio::test]
async fn references_stay_unique_under_16_concurrent_creates_across_a_year_boundary() {
    let app = TestApp::spawn().await;
    let options = sitrep_db::PoolOptions { max_connections: 16, ..Default::default() };
    let pool = sitrep_db::pool(&crate::helpers::as_service_role(&app.db_url), &options).unwrap();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (pool, start) = (pool.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = pool.get().await.unwrap();
            let tx = client.transaction().await.unwrap();
            let year = if i % 2 == 0 { 2098 } else { 2099 };
            start.wait().await;
            // What a create takes: the next `VTY-YYYY-NNNN` of the year.
            let reference: String = tx.query_one("SELECT picture_reference($1)", &[&year]).await.unwrap().get(0);
            let committed = i % 4 != 3;
            if committed {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
            (year, reference, committed)
        }));
    }
    let mut committed = std::collections::HashSet::new();
    for task in tasks {
        let (year, reference, kept) = task.await.unwrap();
        let number = reference.strip_prefix(&format!("VTY-{year}-")).unwrap_or_else(|| panic!("{reference}"));
        assert!(number.len() == 4 && number.bytes().all(|b| b.is_ascii_digit()), "{reference}");
        assert!((1..=8).contains(&number.parse::<u32>().unwrap()), "{reference}");
        if kept {
            assert!(committed.insert(reference.clone()), "{reference} handed out twice");
        }
    }
    assert_eq!(committed.len(), 12);

    // Through the API: 16 creates at once, 16 distinct references of this year.
    let cast = cast(&app).await;
    let body = content("group", "AMBER");
    let creates = (0..16).map(|_| create(&app, &cast.author, &body));
    let created = futures_util::future::join_all(creates).await;
    let references: std::collections::HashSet<String> =
        created.iter().map(|p| p["reference"].as_str().unwrap().to_owned()).collect();
    assert_eq!(references.len(), 16);
    let prefix = format!("VTY-{}-", chrono::Utc::now().format("%Y"));
    assert!(references.iter().all(|r| r.starts_with(&prefix) && r.len() == prefix.len() + 4), "{references:?}");
}

/// A request holds at most one pool connection at a time: the one that authenticated it
/// is the one its handler works on (docs/deploy.md). With a pool of one connection and
/// a short wait, a handler that took a second connection while the first was kept for
/// it would wait for itself and fail with 503; every read and write here answers.
#[tokio::test]
async fn every_request_works_with_a_pool_of_one_connection() {
    let app = TestApp::spawn_with(|s| {
        s.database.max_connections = 1;
        s.database.wait_timeout_ms = 1_000;
    })
    .await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    for path in [
        format!("/api/v1/pictures/{id}"),
        format!("/api/v1/pictures/{id}/revisions"),
        format!("/api/v1/pictures/{id}/revisions/1"),
        format!("/api/v1/pictures/{id}/acknowledgements"),
        "/api/v1/pictures?limit=5".to_owned(),
        "/api/v1/me".to_owned(),
        "/api/v1/organisations".to_owned(),
        "/api/v1/feed".to_owned(),
    ] {
        let res = app.get(&path, Some(&cast.author)).await;
        assert_eq!(res.status(), 200, "{path}: {}", res.text().await.unwrap_or_default());
    }
    // A refused read is recorded on the connection kept for it.
    let res = app.get(&format!("/api/v1/pictures/{}", Uuid::new_v4()), Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.audit_of(&res).await.outcome, "denied");
    let res = app.patch_json(&format!("/api/v1/pictures/{id}"), &cast.author, &json!({"urgency": "routine"})).await;
    assert_eq!(res.status(), 428);
}

/// Every equality filter of the picture list has an index that starts with the filter
/// and then follows the list's order (migration V10), so that a filter whose matches are
/// rare among the newest pictures walks only matching rows; a domain added to the
/// vocabulary without its partial index fails here.
#[tokio::test]
async fn every_list_filter_has_an_index_in_the_list_order() {
    let pool = sitrep_db::pool(&crate::helpers::fresh_database().await, &Default::default()).unwrap();
    let client = pool.get().await.unwrap();
    let defs: Vec<String> = client
        .query("SELECT indexdef FROM pg_indexes WHERE tablename = 'pictures'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let has = |needle: &str| defs.iter().any(|d| d.contains(needle));
    assert!(has("(updated_at DESC, id DESC)"), "{defs:#?}");
    for column in ["severity", "urgency", "status", "kind", "tier", "tlp", "election_id"] {
        assert!(has(&format!("({column}, updated_at DESC, id DESC)")), "{column}: {defs:#?}");
    }
    assert!(has("(updated_at DESC, id DESC) WHERE is_exercise"), "{defs:#?}");
    for domain in sitrep_types::Domain::ALL {
        for columns in ["updated_at DESC, id DESC", "severity, updated_at DESC, id DESC"] {
            let def = format!("({columns}) WHERE ('{}'::text = ANY (domains))", domain.as_str());
            assert!(has(&def), "{def}: {defs:#?}");
        }
    }
}
