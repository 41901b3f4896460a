//! The board's summary (`GET /api/v1/pictures/summary`): for each reader, the counts are
//! those of the published pictures the list shows it in full — never one more, however
//! the parameters are written — by domain, local day (or election window) and severity,
//! and by area code.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::pictures::{Cast, act, cast, content, create, published, revise};
use crate::helpers::{TestApp, problem};

const DOMAINS: [&str; 3] = ["information_influence", "hybrid", "cyber"];
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

async fn summary(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app.get(&format!("/api/v1/pictures/summary{query}"), Some(token)).await;
    assert_eq!(res.status(), 200, "{query}: {}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

/// Every page of a list (`/api/v1/pictures?...`), its items.
async fn list_all(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/pictures?limit=200&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&path, Some(token)).await;
        assert_eq!(res.status(), 200, "{path}");
        let page: Value = res.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

/// The counts a reader should get, worked out from the list API alone: the published
/// pictures it lists with a severity (full sight), per domain (the list's `domain`
/// filter) and per area code (each picture read by id).
async fn from_the_list(app: &TestApp, token: &str) -> (u32, BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let full: Vec<Value> =
        list_all(app, token, "status=published").await.into_iter().filter(|i| i.get("severity").is_some()).collect();
    let count = |items: &[Value]| {
        let mut c = json!({"low": 0, "medium": 0, "high": 0, "critical": 0});
        for i in items {
            let s = i["severity"].as_str().unwrap();
            c[s] = json!(c[s].as_u64().unwrap() + 1);
        }
        c
    };
    let mut domains = BTreeMap::new();
    for d in DOMAINS {
        let items: Vec<Value> = list_all(app, token, &format!("status=published&domain={d}"))
            .await
            .into_iter()
            .filter(|i| i.get("severity").is_some())
            .collect();
        if !items.is_empty() {
            domains.insert(d.to_owned(), count(&items));
        }
    }
    let mut areas: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for item in &full {
        let p: Value = app
            .get(&format!("/api/v1/pictures/{}", item["id"].as_str().unwrap()), Some(token))
            .await
            .json()
            .await
            .unwrap();
        let codes: HashSet<String> =
            p["geo_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        if codes.is_empty() {
            areas.entry("national".into()).or_default().push(item.clone());
        }
        for c in codes {
            areas.entry(c).or_default().push(item.clone());
        }
    }
    let areas = areas.into_iter().map(|(k, v)| (k, count(&v))).collect();
    (u32::try_from(full.len()).unwrap(), domains, areas)
}

/// The summary's counts in the same shape: per domain over all windows, per area.
fn shape(s: &Value) -> (u32, BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let mut domains: BTreeMap<String, Value> = BTreeMap::new();
    for cell in s["by_domain"].as_array().unwrap() {
        let e = domains
            .entry(cell["domain"].as_str().unwrap().to_owned())
            .or_insert_with(|| json!({"low": 0, "medium": 0, "high": 0, "critical": 0}));
        for sev in SEVERITIES {
            e[sev] = json!(e[sev].as_u64().unwrap() + cell["counts"][sev].as_u64().unwrap());
        }
    }
    let areas = s["by_area"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["area"].as_str().unwrap_or("national").to_owned(), a["counts"].clone()))
        .collect();
    (u32::try_from(s["pictures"].as_u64().unwrap()).unwrap(), domains, areas)
}

fn cell<'a>(s: &'a Value, domain: &str, window: &str) -> Option<&'a Value> {
    s["by_domain"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["domain"] == domain && c["window"] == window)
        .map(|c| &c["counts"])
}

fn today(s: &Value) -> String {
    s["windows"].as_array().unwrap().last().unwrap()["key"].as_str().unwrap().to_owned()
}

/// A world of pictures in every state and tier, from two organisations.
struct World {
    cast: Cast,
    b_author: String,
    named_b: String,
    named_v: String,
    revised: String,
}

async fn world(app: &TestApp) -> World {
    let cast = cast(app).await;
    let b_author = app.token(&app.seed_user("b.author", "B", &[Role::Author, Role::Approver]).await).await;
    // Group, information influence, FI-VP-10, medium.
    published(app, &cast, &content("group", "AMBER")).await;
    // TLP:RED for B alone, high, in FI-VP-01.
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    named["impact_on_public_confidence"] = json!("significant");
    named["geo_codes"] = json!(["FI-VP-01"]);
    let named_b = published(app, &cast, &named).await;
    // TLP:RED for V alone.
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("V")]);
    named["domains"] = json!(["information_influence", "hybrid"]);
    let named_v = published(app, &cast, &named).await;
    // For RAS contact points too, two domains, national (no code), critical.
    let mut ras = content("group_virt_ras", "AMBER");
    ras["primary_domain"] = json!("hybrid");
    ras["domains"] = json!(["hybrid", "cyber"]);
    ras["geo_scope"] = json!("national");
    ras["geo_codes"] = json!([]);
    ras["impact_on_conduct"] = json!("severe");
    published(app, &cast, &ras).await;
    // Revised after publication: now cyber and low, in two areas (one named twice).
    let revised = published(app, &cast, &content("group", "AMBER")).await;
    let res = revise(
        app,
        &cast.author,
        &revised,
        &json!({"primary_domain": "cyber", "domains": ["cyber"], "impact_on_conduct": "minor",
                "impact_on_public_confidence": "minor", "geo_codes": ["FI-VP-02", "FI-VP-02", "FI-KU-091"]}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    // Proposed, not yet in force: still counted as it was (information influence, medium).
    let s = summary(app, &cast.author, "").await;
    let day = today(&s);
    assert!(cell(&s, "cyber", &day).is_none_or(|c| c["low"] == 0), "a proposal counted before publication: {s}");
    assert_eq!(act(app, &cast.author, &revised, "submit").await.status(), 200);
    assert_eq!(act(app, &cast.approver2, &revised, "approve").await.status(), 200);
    assert_eq!(act(app, &cast.approver, &revised, "publish").await.status(), 200);
    // A draft, one in review, one withdrawn: none counted.
    create(app, &cast.author, &content("public", "CLEAR")).await;
    let review = create(app, &cast.author, &content("public", "CLEAR")).await;
    assert_eq!(act(app, &cast.author, review["id"].as_str().unwrap(), "submit").await.status(), 200);
    let gone = published(app, &cast, &content("public", "CLEAR")).await;
    assert_eq!(act(app, &cast.approver, &gone, "withdraw").await.status(), 200);
    // B's own group picture and B's draft.
    let p = create(app, &b_author, &content("group", "AMBER")).await;
    let res = act(app, &b_author, p["id"].as_str().unwrap(), "publish").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    create(app, &b_author, &content("group", "AMBER")).await;
    World { cast, b_author, named_b, named_v, revised }
}

#[tokio::test]
async fn each_reader_counts_exactly_the_published_pictures_the_list_shows_it() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sec = app.token(&app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await).await;
    let sec_reader = app.token(&app.seed_user("s.reader", "S", &[Role::Reader, Role::Secretariat]).await).await;
    let auditor = app.token(&app.seed_user("s.auditor", "S", &[Role::Auditor]).await).await;
    // Published: A's group, A's named for B, A's named for V, A's for RAS contact points,
    // A's revised group, B's group.
    let readers = [
        ("A author", &w.cast.author, 6),
        ("B author", &w.b_author, 5),
        ("B reader", &w.cast.b_reader, 5),
        ("V reader", &w.cast.v_reader, 2),
        ("R reader", &w.cast.r_reader, 1),
        ("secretariat", &sec, 0),
        ("secretariat reader", &sec_reader, 4),
        ("auditor", &auditor, 0),
    ];
    for (who, token, want) in readers {
        let s = summary(&app, token, "").await;
        let got = shape(&s);
        assert_eq!(got, from_the_list(&app, token).await, "{who}: the summary against the list");
        assert_eq!(got.0, want, "{who}: {s}");
    }

    // Named pictures count only for their recipients and their originator.
    let b = summary(&app, &w.cast.b_reader, "").await;
    let v = summary(&app, &w.cast.v_reader, "").await;
    let day = today(&b);
    assert_eq!(cell(&b, "information_influence", &day).unwrap()["high"], 1, "B reads the RED picture naming it");
    assert!(cell(&v, "information_influence", &day).unwrap()["high"] == 0, "V does not read the one naming B: {v}");
    assert!(b["by_area"].as_array().unwrap().iter().any(|a| a["area"] == "FI-VP-01"));
    assert!(!v["by_area"].as_array().unwrap().iter().any(|a| a["area"] == "FI-VP-01"), "{v}");
    let _ = (&w.named_b, &w.named_v);

    // The revised picture counts once, with what it says now: cyber, low; each of its
    // areas once.
    let a = summary(&app, &w.cast.author, "").await;
    let cyber = cell(&a, "cyber", &day).unwrap();
    assert_eq!((cyber["low"].as_u64(), cyber["critical"].as_u64()), (Some(1), Some(1)), "{a}");
    let area = |s: &Value, code: &str| {
        s["by_area"].as_array().unwrap().iter().find(|x| x["area"] == code).map(|x| x["counts"].clone())
    };
    assert_eq!(area(&a, "FI-VP-02").unwrap(), json!({"low": 1, "medium": 0, "high": 0, "critical": 0}));
    assert_eq!(area(&a, "FI-KU-091").unwrap()["low"], 1);
    let national = a["by_area"].as_array().unwrap().last().unwrap();
    assert!(national.get("area").is_none() && national["counts"]["critical"] == 1, "{a}");
    let _ = &w.revised;

    // The access log: one record per call, naming the window.
    let res = app.get("/api/v1/pictures/summary?from=2026-11-01&to=2026-11-30", Some(&w.cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let record = app.audit_of(&res).await;
    assert_eq!(record.action, "picture.summary");
    assert_eq!(record.object_type.as_deref(), Some("picture_summary"));
    assert_eq!(record.object_id.as_deref(), Some("2026-11-01..2026-11-30"));
}

#[tokio::test]
async fn pictures_a_reader_cannot_read_never_move_its_counts() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.token(&app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    let before_v = summary(&app, &cast.v_reader, "").await;
    let before_r = summary(&app, &cast.r_reader, "").await;
    let before_sec = summary(&app, &sec, "").await;
    // Published for B alone, for members only, a draft, and a withdrawn public one.
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    published(&app, &cast, &named).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    create(&app, &cast.author, &content("public", "CLEAR")).await;
    let gone = published(&app, &cast, &content("public", "CLEAR")).await;
    assert_eq!(act(&app, &cast.approver, &gone, "withdraw").await.status(), 200);
    for query in ["", "?include_expired=true", "?from=2020-01-01&to=2020-03-01"] {
        let later = summary(&app, &cast.r_reader, query).await;
        if query.is_empty() {
            assert_eq!(later, before_r, "a RAS contact point's counts moved");
        }
        assert_eq!(later["pictures"], 0, "{query}: {later}");
    }
    assert_eq!(summary(&app, &cast.v_reader, "").await["pictures"], before_v["pictures"]);
    assert_eq!(summary(&app, &cast.v_reader, "").await, before_v, "VIRT's counts moved");
    // The secretariat lists them as metadata, and counts none of them.
    assert_eq!(summary(&app, &sec, "").await, before_sec);
    assert_eq!(before_sec["pictures"], 0);
    assert!(!list_all(&app, &sec, "status=published").await.is_empty());
    // B's counts moved by exactly the pictures it reads: the named one and the group one.
    let b = summary(&app, &cast.b_reader, "").await;
    assert_eq!(b["pictures"], 3);
}

#[tokio::test]
async fn no_parameter_widens_the_scope_and_bad_windows_are_refused() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let sec = app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await;
    let st = app.token(&sec).await;
    let e: Value = app
        .post_json(
            "/api/v1/elections",
            Some(&st),
            &json!({"code": "FI-PARL-2027", "election_type": "parliamentary", "name_en": "Parliamentary elections 2027",
                    "election_day": "2027-04-18"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let no_day: Value = app
        .post_json(
            "/api/v1/elections",
            Some(&st),
            &json!({"code": "EU-EP-2029", "election_type": "european_parliament", "name_en": "European Parliament 2029"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut named = content("named", "RED");
    named["named_recipients"] = json!([app.org("B")]);
    published(&app, &cast, &named).await;
    create(&app, &cast.author, &content("public", "CLEAR")).await;
    let r = &cast.r_reader;
    // Parameters the list knows, and the visibility's own words: refused, not obeyed.
    for query in [
        "?status=draft",
        "?status=published",
        "?tier=named",
        "?originator=00000000-0000-0000-0000-000000000000",
        "?domain=cyber",
        "?organisation=x",
        "?as=secretariat",
        "?q=vaali",
        "?from=2026-12-01&from=2026-11-01",
        "?election=00000000-0000-0000-0000-000000000000&election=00000000-0000-0000-0000-000000000001",
    ] {
        let res = app.get(&format!("/api/v1/pictures/summary{query}"), Some(r)).await;
        assert_eq!(res.status(), 400, "{query}");
        let body = problem(res, 400).await;
        assert_eq!(body["code"], "invalid_query", "{query}");
    }
    // Bad windows, each named.
    for (query, field) in [
        ("?from=2026-12-02&to=2026-12-01", "from"),
        ("?from=2026-01-01&to=2026-04-03", "from"),
        ("?from=1.12.2026", "from"),
        ("?to=tomorrow", "to"),
        ("?to=2026-02-30", "to"),
        ("?include_expired=maybe", "include_expired"),
        ("?election=not-a-uuid", "election"),
        ("?election=00000000-0000-0000-0000-000000000000", "election"),
        (&format!("?election={}", no_day["id"].as_str().unwrap()), "election"),
        (&format!("?election={}&from=2026-12-01", e["id"].as_str().unwrap()), "election"),
    ] {
        let res = app.get(&format!("/api/v1/pictures/summary{query}"), Some(r)).await;
        assert_eq!(res.status(), 422, "{query}");
        let body = problem(res, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    // 92 days is the longest window.
    let s = summary(&app, r, "?from=2026-01-01&to=2026-04-02").await;
    assert_eq!(s["windows"].as_array().unwrap().len(), 92);
    // No token, another method.
    assert_eq!(app.get("/api/v1/pictures/summary", None).await.status(), 401);
    let res = app.post_json("/api/v1/pictures/summary", Some(r), &json!({})).await;
    assert_eq!(res.status(), 405);
    // Over an election's windows, RAS sees none of A's pictures.
    let s = summary(&app, r, &format!("?election={}", e["id"].as_str().unwrap())).await;
    assert_eq!(s["windows"].as_array().unwrap().len(), 6);
    assert_eq!(s["pictures"], 0);
}

#[tokio::test]
async fn days_are_local_days_and_an_election_counts_its_own_pictures_over_its_windows() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let st = app.token(&app.seed_user("s.secretariat", "S", &[Role::Secretariat]).await).await;
    let e: Value = app
        .post_json(
            "/api/v1/elections",
            Some(&st),
            &json!({"code": "FI-PARL-2027", "election_type": "parliamentary", "name_en": "Parliamentary elections 2027",
                    "election_day": "2027-04-18"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut body = content("group", "AMBER");
    body["election_id"] = e["id"].clone();
    body["election_phase"] = json!("advance_voting");
    let late = published(&app, &cast, &body).await;
    let early = published(&app, &cast, &body).await;
    let other = published(&app, &cast, &content("group", "AMBER")).await;
    let expired = published(&app, &cast, &content("group", "AMBER")).await;
    let db = app.pool.get().await.unwrap();
    let at = |id: &str, t: &str| {
        let id: uuid::Uuid = id.parse().unwrap();
        let t = chrono::DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&chrono::Utc);
        (id, t)
    };
    // 22:30 UTC on 1 December is 00:30 on the 2nd in Helsinki; advance voting is
    // 7–13 April 2027; the election day is 18 April.
    for (id, t) in [
        at(&other, "2026-12-01T22:30:00Z"),
        at(&late, "2027-04-18T08:00:00Z"),
        at(&early, "2027-04-07T06:00:00Z"),
        at(&expired, "2026-12-01T10:00:00Z"),
    ] {
        db.execute("UPDATE pictures SET published_at = $2 WHERE id = $1", &[&id, &t]).await.unwrap();
    }
    let gone: uuid::Uuid = expired.parse().unwrap();
    db.execute("UPDATE pictures SET valid_until = now() - interval '1 hour' WHERE id = $1", &[&gone]).await.unwrap();
    let b = &cast.b_reader;
    let s = summary(&app, b, "?from=2026-11-25&to=2026-12-02").await;
    assert_eq!(s["time_zone"], "Europe/Helsinki");
    assert_eq!(s["pictures"], 1, "{s}");
    assert_eq!(cell(&s, "information_influence", "2026-12-02").unwrap()["medium"], 1);
    assert_eq!(summary(&app, b, "?from=2026-11-25&to=2026-12-01").await["pictures"], 0);
    // The expired one, as in the list: only when asked for.
    let s = summary(&app, b, "?from=2026-11-25&to=2026-12-01&include_expired=true").await;
    assert_eq!(cell(&s, "information_influence", "2026-12-01").unwrap()["medium"], 1, "{s}");
    // The election: its two pictures in their windows, the others not counted.
    let s = summary(&app, b, &format!("?election={}", e["id"].as_str().unwrap())).await;
    let keys: Vec<&str> = s["windows"].as_array().unwrap().iter().map(|w| w["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["before_register", "register", "advance_voting", "before_day", "election_day", "after"]);
    assert_eq!(s["windows"][2], json!({"key": "advance_voting", "from": "2027-04-07", "to": "2027-04-13"}));
    assert!(s["windows"][0].get("from").is_none() && s["windows"][5].get("to").is_none());
    assert_eq!(s["pictures"], 2, "{s}");
    assert_eq!(cell(&s, "information_influence", "advance_voting").unwrap()["medium"], 1);
    assert_eq!(cell(&s, "information_influence", "election_day").unwrap()["medium"], 1);
    assert_eq!(
        s["by_area"],
        json!([{"area": "FI-VP-10", "counts": {"low": 0, "medium": 2, "high": 0, "critical": 0}}])
    );
}
