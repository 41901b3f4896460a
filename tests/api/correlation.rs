//! Correlation over HTTPS: `GET /pictures/{id}/related-by-indicator` links the pictures
//! that share an indicator value (whatever its spelling), among those the caller sees and
//! through the indicators it sees; counts never count the others; every call is in the
//! access log.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::TestApp;
use crate::helpers::pictures::{Cast, cast, content, published};

fn with(tier: &str, tlp: &str, indicators: Value) -> Value {
    let mut c = content(tier, tlp);
    c["indicators"] = indicators;
    c
}

async fn related(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    let res = app.get(&format!("/api/v1/pictures/{id}/related-by-indicator"), Some(token)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn ids(body: &Value) -> Vec<String> {
    body["pictures"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

fn count(body: &Value, kind: &str, value: &str) -> Option<u64> {
    body["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == kind && v["value"] == value)
        .map(|v| v["pictures"].as_u64().unwrap())
}

async fn world(app: &TestApp, cast: &Cast) -> [String; 5] {
    let tag = |spelling: &str, tlp: &str| json!({"type": "hashtag", "value": spelling, "tlp": tlp});
    let source = published(
        app,
        cast,
        &with(
            "group_virt_ras",
            "GREEN",
            json!([
                tag("#VaaliVilppi2027", "GREEN"),
                {"type": "url", "value": "HTTPS://Vaalit-Tulos.example:443/kysely#x", "tlp": "GREEN"}
            ]),
        ),
    )
    .await;
    let same = published(
        app,
        cast,
        &with(
            "group",
            "AMBER",
            json!([
                tag("vaalivilppi2027", "AMBER"),
                {"type": "url", "value": "https://vaalit-tulos.example/kysely", "tlp": "AMBER"}
            ]),
        ),
    )
    .await;
    let mut named = with("named", "RED", json!([tag("#vaalivilppi2027", "RED")]));
    named["named_recipients"] = json!([app.org("B")]);
    let named = published(app, cast, &named).await;
    let strict =
        published(app, cast, &with("group_virt_ras", "GREEN", json!([tag("VAALIVILPPI2027", "AMBER+STRICT")]))).await;
    let unrelated = published(app, cast, &with("group_virt_ras", "GREEN", json!([tag("#muuta", "GREEN")]))).await;
    [source, same, named, strict, unrelated]
}

#[tokio::test]
async fn pictures_sharing_an_indicator_value_are_related_whatever_its_spelling() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let [source, same, named, strict, unrelated] = world(&app, &cast).await;
    let res = app.get(&format!("/api/v1/pictures/{source}/related-by-indicator"), Some(&cast.b_reader)).await;
    let record = app.audit_of(&res).await;
    let body: Value = res.json().await.unwrap();
    let mut got = ids(&body);
    got.sort();
    let mut want = vec![same.clone(), named.clone(), strict.clone()];
    want.sort();
    assert_eq!(got, want, "B sees all three; not the unrelated one, not the picture itself");
    assert!(!got.contains(&unrelated) && !got.contains(&source));
    assert_eq!(count(&body, "hashtag", "vaalivilppi2027"), Some(3));
    assert_eq!(count(&body, "url", "https://vaalit-tulos.example/kysely"), Some(1));
    let same_entry = body["pictures"].as_array().unwrap().iter().find(|p| p["id"] == same.as_str()).unwrap();
    assert_eq!(same_entry["shared"].as_array().unwrap().len(), 2);
    assert!(same_entry["reference"].as_str().unwrap().starts_with("VTY-"));
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("picture.related_by_indicator", "allowed"));
    assert_eq!(record.object_id.as_deref(), Some(source.as_str()));
    let mut logged: Vec<String> = record.object_ids.unwrap().iter().map(ToString::to_string).collect();
    logged.sort();
    assert_eq!(logged, want, "the access log names every picture the answer linked");
}

#[tokio::test]
async fn correlation_never_links_to_or_counts_an_invisible_picture_or_a_redacted_indicator() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let [source, same, named, strict, _] = world(&app, &cast).await;
    // Election-VIRT: not named, and not in the group tier; sees the AMBER+STRICT indicator.
    let (status, v) = related(&app, &cast.v_reader, &source).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&v), vec![strict.clone()]);
    assert_eq!(count(&v, "hashtag", "vaalivilppi2027"), Some(1));
    assert_eq!(count(&v, "url", "https://vaalit-tulos.example/kysely"), Some(0));
    // The RAS contact point sees the picture with the AMBER+STRICT indicator, but not that
    // indicator: it links nothing for it.
    let (_, r) = related(&app, &cast.r_reader, &source).await;
    assert!(ids(&r).is_empty(), "{r}");
    assert_eq!(count(&r, "hashtag", "vaalivilppi2027"), Some(0));
    let (_, from_strict) = related(&app, &cast.r_reader, &strict).await;
    assert_eq!(from_strict, json!({"values": [], "pictures": []}), "its own redacted indicator correlates nothing");
    let text = serde_json::to_string(&r).unwrap();
    for hidden in [&same, &named, &strict] {
        assert!(!text.contains(hidden.as_str()));
    }
    // A picture the caller does not see is 404, as everywhere; so is one it sees only as
    // metadata (the secretariat outside the audience).
    assert_eq!(related(&app, &cast.v_reader, &named).await.0, 404);
    let secretariat = app.seed_user("sec.only", "S", &[Role::Secretariat]).await;
    assert_eq!(related(&app, &app.token(&secretariat).await, &same).await.0, 404);
    assert_eq!(app.get(&format!("/api/v1/pictures/{same}/related-by-indicator"), None).await.status(), 401);
}

#[tokio::test]
async fn the_indicator_filter_lists_only_pictures_whose_visible_indicator_shares_the_value() {
    let app = TestApp::spawn().await;
    let cast = cast(&app).await;
    let [source, same, named, strict, _] = world(&app, &cast).await;
    let list = |token: String, filter: &'static str| {
        let app = &app;
        async move {
            let res = app.get(&format!("/api/v1/pictures?indicator={filter}"), Some(&token)).await;
            let status = res.status().as_u16();
            let record = app.audit_of(&res).await;
            let body: Value = res.json().await.unwrap();
            let mut ids: Vec<String> = body["items"]
                .as_array()
                .map(|items| items.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            ids.sort();
            (status, ids, record)
        }
    };
    let (status, b, record) = list(cast.b_reader.clone(), "hashtag:%23VAALIVILPPI2027").await;
    assert_eq!(status, 200);
    let mut want = vec![source.clone(), same.clone(), named.clone(), strict.clone()];
    want.sort();
    assert_eq!(b, want);
    assert_eq!(record.action, "picture.list");
    let (_, r, _) = list(cast.r_reader.clone(), "hashtag:vaalivilppi2027").await;
    assert_eq!(r, vec![source.clone()], "the RAS contact point: not through the AMBER+STRICT indicator");
    let (_, url, _) = list(cast.v_reader.clone(), "url:https://VAALIT-TULOS.example/kysely").await;
    assert_eq!(url, vec![source.clone()]);
    // The secretariat's metadata sight never answers a question about content.
    let secretariat = app.seed_user("sec.only", "S", &[Role::Secretariat]).await;
    let (_, s, _) = list(app.token(&secretariat).await, "hashtag:vaalivilppi2027").await;
    assert!(s.is_empty(), "{s:?}");
    for bad in ["vaalivilppi2027", "colour:blue", "hashtag:%23"] {
        let res = app.get(&format!("/api/v1/pictures?indicator={bad}"), Some(&cast.b_reader)).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
}
