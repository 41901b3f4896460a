//! Acknowledgements, release decisions, elections, communities, organisation review policy.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{act, cast, content, create, published};
use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn recipients_acknowledge_and_the_originator_sees_who_is_overdue() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let mut body = content("group_virt", "AMBER");
    body["urgency"] = json!("immediate");
    let id = published(&app, &cast, &body).await;
    let path = format!("/api/v1/pictures/{id}/acknowledgements");

    let status: Value = app.get(&path, Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(status["overdue"], false);
    let pending: Vec<&str> =
        status["pending"].as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap()).collect();
    assert_eq!(pending, ["ORG-B", "ORG-S", "ORG-V"], "members and VIRT, not the RAS contact point");

    let res = app
        .post_json(&path, Some(&cast.b_reader), &json!({"kind": "actioning", "note": "Forwarded to the duty officer"}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.audit_of(&res).await.action, "acknowledgement.create");
    let res = app.post_json(&path, Some(&cast.r_reader), &json!({"kind": "received"})).await;
    problem(res, 404).await;
    let res = app.post_json(&path, Some(&cast.author), &json!({"kind": "received"})).await;
    assert_eq!(problem(res, 409).await["code"], "own_picture");
    let res = app.post_json(&path, Some(&cast.v_reader), &json!({"kind": "maybe"})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "kind");

    // Two hours later V has still not acknowledged.
    app.pool
        .get()
        .await
        .unwrap()
        .execute("UPDATE pictures SET published_at = now() - interval '2 hours'", &[])
        .await
        .unwrap();
    let status: Value = app.get(&path, Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(status["overdue"], true);
    let pending: Vec<&str> =
        status["pending"].as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap()).collect();
    assert_eq!(pending, ["ORG-S", "ORG-V"]);
    // B sees its own acknowledgement only and is not overdue; V is.
    let b: Value = app.get(&path, Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!((b["overdue"].as_bool(), b["acknowledgements"].as_array().unwrap().len()), (Some(false), 1));
    assert!(b.get("pending").is_none());
    let v: Value = app.get(&path, Some(&cast.v_reader)).await.json().await.unwrap();
    assert_eq!(v["overdue"], true);

    let ids = |v: Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        ids(app.get("/api/v1/pictures?overdue=true", Some(&cast.author)).await.json().await.unwrap()),
        [id.as_str()]
    );
    assert_eq!(
        ids(app.get("/api/v1/pictures?overdue=true", Some(&cast.v_reader)).await.json().await.unwrap()),
        [id.as_str()]
    );
    assert!(ids(app.get("/api/v1/pictures?overdue=true", Some(&cast.b_reader)).await.json().await.unwrap()).is_empty());
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    // The secretariat sees this picture as metadata only: the overdue filter (which would
    // tell its urgency) never matches it; who is overdue it reads from the acknowledgements.
    assert!(ids(app.get("/api/v1/pictures?overdue=true", Some(&st)).await.json().await.unwrap()).is_empty());
    let sec_view: Value =
        app.get(&format!("/api/v1/pictures/{id}/acknowledgements"), Some(&st)).await.json().await.unwrap();
    assert_eq!(sec_view["overdue"], true);
    let s: Value = app.get(&path, Some(&st)).await.json().await.unwrap();
    assert_eq!(s["pending"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn only_the_ras_contact_point_records_release_decisions_on_what_it_reads() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let ras = published(&app, &cast, &content("group_virt_ras", "GREEN")).await;
    let virt = published(&app, &cast, &content("group_virt", "AMBER")).await;
    let body = json!({"disposition": "shared_for_awareness", "note": "Forwarded to RAS for awareness"});
    let res = app.post_json(&format!("/api/v1/pictures/{ras}/release-decisions"), Some(&cast.r_reader), &body).await;
    assert_eq!(res.status(), 201);
    let d: Value = res.json().await.unwrap();
    assert_eq!(d["disposition"], "shared_for_awareness");
    let res = app.post_json(&format!("/api/v1/pictures/{virt}/release-decisions"), Some(&cast.r_reader), &body).await;
    problem(res, 404).await;
    let res = app.post_json(&format!("/api/v1/pictures/{ras}/release-decisions"), Some(&cast.b_reader), &body).await;
    assert_eq!(problem(res, 403).await["code"], "not_ras_contact_point");
    let list: Value =
        app.get(&format!("/api/v1/pictures/{ras}/release-decisions"), Some(&cast.author)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    problem(app.get(&format!("/api/v1/pictures/{ras}/release-decisions"), Some(&cast.b_reader)).await, 404).await;
}

#[tokio::test]
async fn the_secretariat_keeps_elections_and_communities_that_pictures_refer_to() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let body = json!({"code": "FI-PARL-2027", "election_type": "parliamentary", "name_en": "Parliamentary elections 2027", "election_day": "2027-04-18"});
    let res = app.post_json("/api/v1/elections", Some(&cast.author), &body).await;
    problem(res, 403).await;
    let res = app.post_json("/api/v1/elections", Some(&st), &body).await;
    assert_eq!(res.status(), 201);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["phases"]["advance_voting_domestic_from"], "2027-04-07");
    assert_eq!(
        problem(app.post_json("/api/v1/elections", Some(&st), &body).await, 409).await["code"],
        "election_code_taken"
    );
    let eu =
        json!({"code": "EU-EP-2029", "election_type": "european_parliament", "name_en": "European Parliament 2029"});
    let ep: Value = app.post_json("/api/v1/elections", Some(&st), &eu).await.json().await.unwrap();
    assert!(ep.get("election_day").is_none() && ep.get("phases").is_none());
    let all: Value = app.get("/api/v1/elections", Some(&cast.b_reader)).await.json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);

    let mut picture = content("group", "AMBER");
    picture["election_id"] = e["id"].clone();
    picture["election_phase"] = json!("advance_voting");
    let p = create(&app, &cast.author, &picture).await;
    assert_eq!(p["election_id"], e["id"]);
    let ids: Value = app
        .get(&format!("/api/v1/pictures?election={}", e["id"].as_str().unwrap()), Some(&cast.author))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids["items"].as_array().unwrap().len(), 1);

    let res = app
        .post_json(
            "/api/v1/communities",
            Some(&st),
            &json!({"code": "NORDIC-ELEC", "name_en": "Nordic election authorities"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let list: Value = app.get("/api/v1/communities", Some(&cast.author)).await.json().await.unwrap();
    let codes: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["EU-RAS", "FI-ELECSEC", "NORDIC-ELEC"]);
    let mut green = content("group", "GREEN");
    green["tlp_community"] = json!("NORDIC-ELEC");
    create(&app, &cast.author, &green).await;
}

#[tokio::test]
async fn an_organisation_that_requires_review_needs_four_eyes_for_every_publish() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let p = create(&app, &cast.approver, &content("group", "AMBER")).await;
    let id = p["id"].as_str().unwrap();
    let res =
        app.patch_json(&format!("/api/v1/organisations/{}", app.org("A")), &st, &json!({"require_review": true})).await;
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["require_review"], true);
    let res = act(&app, &cast.approver, id, "publish").await;
    assert_eq!(problem(res, 409).await["code"], "approval_required");
    assert_eq!(act(&app, &cast.approver, id, "submit").await.status(), 200);
    assert_eq!(act(&app, &cast.approver2, id, "approve").await.status(), 200);
    assert_eq!(act(&app, &cast.approver, id, "publish").await.status(), 200);
}

/// The secretariat's list of overdue acknowledgements across pictures: every silent
/// recipient of every published picture past its deadline, the most overdue first, paged
/// with a cursor that only its reader can use; nobody else may read it.
#[tokio::test]
async fn the_secretariat_lists_overdue_acknowledgements_most_overdue_first_in_pages() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let sec2 = app.seed_user("sec.other", "S", &[Role::Secretariat]).await;
    let st2 = app.token(&sec2).await;
    let mut urgent = content("group_virt", "AMBER");
    urgent["urgency"] = json!("immediate");
    let oldest = published(&app, &cast, &urgent).await;
    let older = published(&app, &cast, &urgent).await;
    let fresh = published(&app, &cast, &urgent).await;
    let mut routine = content("group_virt", "AMBER");
    routine["urgency"] = json!("routine");
    let no_deadline = published(&app, &cast, &routine).await;
    let draft = create(&app, &cast.author, &urgent).await["id"].as_str().unwrap().to_owned();
    let db = app.pool.get().await.unwrap();
    for (id, hours) in [(&oldest, 3), (&older, 2), (&no_deadline, 5), (&draft, 5)] {
        let id: uuid::Uuid = id.parse().unwrap();
        db.execute(
            "UPDATE pictures SET published_at = now() - make_interval(hours => $2) WHERE id = $1",
            &[&id, &hours],
        )
        .await
        .unwrap();
    }
    // B has acknowledged the oldest; S and V have not. Nobody has acknowledged the older.
    let ack = |id: &str| format!("/api/v1/pictures/{id}/acknowledgements");
    assert_eq!(app.post_json(&ack(&oldest), Some(&cast.b_reader), &json!({"kind": "received"})).await.status(), 201);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/acknowledgements/overdue?limit=2&cursor={c}"),
            None => "/api/v1/acknowledgements/overdue?limit=2".to_owned(),
        };
        let res = app.get(&path, Some(&st)).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            assert!(item.get("title").is_none() && item.get("urgency").is_none(), "{item}");
            seen.push(item.clone());
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => {
                // Another person's cursor does not open.
                let other = app.get(&format!("/api/v1/acknowledgements/overdue?limit=2&cursor={c}"), Some(&st2)).await;
                assert_eq!(problem(other, 400).await["code"], "invalid_cursor");
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    let pairs: Vec<(String, String)> = seen
        .iter()
        .map(|i| (i["picture_id"].as_str().unwrap().to_owned(), i["organisation_code"].as_str().unwrap().to_owned()))
        .collect();
    let of = |id: &str| {
        let mut codes: Vec<&str> = pairs.iter().filter(|(p, _)| p == id).map(|(_, c)| c.as_str()).collect();
        codes.sort_unstable();
        codes
    };
    assert_eq!(of(&oldest), ["ORG-S", "ORG-V"], "B acknowledged it");
    assert_eq!(of(&older), ["ORG-B", "ORG-S", "ORG-V"]);
    assert_eq!(pairs.len(), 5, "nothing not yet due, without a deadline or unpublished: {pairs:?}");
    assert_eq!(pages, 3);
    // The most overdue first: the oldest picture's two, then the older one's three.
    assert!(pairs[..2].iter().all(|(p, _)| *p == oldest) && pairs[2..].iter().all(|(p, _)| *p == older));
    let overdue = seen[0]["overdue_secs"].as_i64().unwrap();
    assert!((7_100..7_400).contains(&overdue), "3 h after publication, 1 h to acknowledge: {overdue}");
    assert!(seen[0]["reference"].as_str().unwrap().starts_with("VTY-"), "{}", seen[0]);
    assert!(!pairs.iter().any(|(p, _)| *p == fresh || *p == no_deadline || *p == draft));

    // An acknowledgement takes its organisation off the list.
    assert_eq!(app.post_json(&ack(&older), Some(&cast.v_reader), &json!({"kind": "received"})).await.status(), 201);
    let res = app.get("/api/v1/acknowledgements/overdue", Some(&st)).await;
    let request = crate::helpers::request_id(&res);
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    let record = app.audit_of_id(&request).await;
    assert_eq!(
        (record.action.as_str(), record.object_type.as_deref()),
        ("acknowledgement.list_overdue", Some("picture"))
    );
    let mut logged = record.object_ids.unwrap();
    logged.sort_unstable();
    let mut expected: Vec<uuid::Uuid> = vec![oldest.parse().unwrap(), older.parse().unwrap()];
    expected.sort_unstable();
    assert_eq!(logged, expected);

    // Only the secretariat reads it.
    for token in [&cast.author, &cast.approver, &cast.b_reader, &cast.v_reader, &cast.r_reader] {
        problem(app.get("/api/v1/acknowledgements/overdue", Some(token)).await, 403).await;
    }
}

/// The overdue list is what every picture's acknowledgement status says, over random
/// pictures (tiers, urgencies, ages, drafts, withdrawals) and random acknowledgements, read
/// in pages of random sizes: the (picture, organisation) pairs are exactly those each
/// overdue picture names as pending, each once, the most overdue first. The seed is
/// printed; `SITREP_TEST_SEED` replays one and `SITREP_TEST_OVERDUE_PICTURES` (default 16)
/// sets the number of pictures.
#[tokio::test]
async fn the_overdue_list_agrees_with_every_pictures_acknowledgement_status() {
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;

    let seed: u64 = std::env::var("SITREP_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let n: usize = std::env::var("SITREP_TEST_OVERDUE_PICTURES").ok().and_then(|s| s.parse().ok()).unwrap_or(16);
    eprintln!("overdue list: SITREP_TEST_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let s_reader = app.seed_user("s.reader", "S", &[Role::Reader]).await;
    let s_token = app.token(&s_reader).await;
    let readers = [&cast.b_reader, &cast.v_reader, &s_token];
    let db = app.pool.get().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let tier = ["group", "group_virt", "group_virt_ras", "named"][rng.gen_range(0..4)];
        let mut body = content(tier, if tier == "named" { "RED" } else { "AMBER" });
        if tier == "named" {
            body["named_recipients"] = json!([app.org(["B", "V"][rng.gen_range(0..2)])]);
        }
        body["urgency"] = json!(["immediate", "priority", "routine"][rng.gen_range(0..3)]);
        let id = if rng.gen_bool(0.15) {
            create(&app, &cast.author, &body).await["id"].as_str().unwrap().to_owned()
        } else {
            published(&app, &cast, &body).await
        };
        let uuid: uuid::Uuid = id.parse().unwrap();
        let minutes: i32 = rng.gen_range(0..400);
        db.execute(
            "UPDATE pictures SET published_at = now() - make_interval(mins => $2) WHERE id = $1",
            &[&uuid, &minutes],
        )
        .await
        .unwrap();
        for reader in readers {
            if rng.gen_bool(0.35) {
                // Refused where the reader does not see the picture (404) or it is a draft.
                let path = format!("/api/v1/pictures/{id}/acknowledgements");
                let _ = app.post_json(&path, Some(reader), &json!({"kind": "received"})).await;
            }
        }
        if rng.gen_bool(0.1) {
            let _ = act(&app, &cast.approver, &id, "withdraw").await;
        }
        ids.push(id);
    }

    // What each picture's acknowledgement status says (the secretariat reads every one).
    let mut expected = BTreeSet::new();
    for id in &ids {
        let res = app.get(&format!("/api/v1/pictures/{id}/acknowledgements"), Some(&st)).await;
        if res.status() != 200 {
            continue;
        }
        let status: Value = res.json().await.unwrap();
        if status["overdue"] == true {
            for o in status["pending"].as_array().unwrap() {
                expected.insert((id.clone(), o["code"].as_str().unwrap().to_owned()));
            }
        }
    }

    // Pages of one random size (a cursor is bound to its limit).
    let limit = rng.gen_range(1..8);
    let mut listed = Vec::new();
    let mut late = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/acknowledgements/overdue?limit={limit}&cursor={c}"),
            None => format!("/api/v1/acknowledgements/overdue?limit={limit}"),
        };
        let res = app.get(&path, Some(&st)).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            let pair = (item["picture_id"].as_str().unwrap(), item["organisation_code"].as_str().unwrap());
            listed.push((pair.0.to_owned(), pair.1.to_owned()));
            late.push(item["overdue_secs"].as_i64().unwrap());
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let set: BTreeSet<_> = listed.iter().cloned().collect();
    assert_eq!(set.len(), listed.len(), "a pair listed twice (seed {seed}): {listed:?}");
    assert_eq!(set, expected, "seed {seed}");
    assert!(late.windows(2).all(|w| w[0] >= w[1]), "the most overdue first (seed {seed}): {late:?}");
}
