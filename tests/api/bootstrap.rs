//! First start: demo organisations, elections, analysts and situation pictures, and one
//! secretariat account whose password is given once.

use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_database};

#[tokio::test]
async fn the_first_start_seeds_the_demo_and_one_secretariat_account_once() {
    let db = fresh_database().await;
    let pool = sitrep_db::pool(&db, &Default::default()).unwrap();
    let hasher = sitrep_auth::PasswordHasher::new(&Default::default()).unwrap();
    let first = sitrep_server::bootstrap::run(&pool, &hasher).await.unwrap();
    let (username, password) = first.first_account.expect("a first account");
    assert_eq!(first.organisations_added, sitrep_server::bootstrap::DEMO_ORGANISATIONS.len());
    assert_eq!(first.pictures_added, 7);
    let again = sitrep_server::bootstrap::run(&pool, &hasher).await.unwrap();
    assert!(again.first_account.is_none());
    assert_eq!((again.organisations_added, again.pictures_added), (0, 0));

    let app = TestApp::spawn_on(&db, |_| {}).await;
    let res = app.login_response(&username, &password).await;
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // The printed password is a one-time password: the first secretariat chooses its own
    // before anything else.
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["password_change_required"], true);
    let res = app.get("/api/v1/pictures", Some(&token)).await;
    assert_eq!(res.status(), 403);
    let change = json!({"current_password": password, "new_password": "kaksi kuppia teetä ja pulla"});
    assert_eq!(app.post_json("/api/v1/me/password", Some(&token), &change).await.status(), 204);
    let page: Value = app.get("/api/v1/pictures?include_expired=true", Some(&token)).await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    // OM reads what members read; the SUPO hack-and-leak picture names OM; all have titles.
    assert!(items.iter().all(|i| i.get("title").is_some()), "{items:?}");
    let default: Value = app.get("/api/v1/pictures", Some(&token)).await.json().await.unwrap();
    assert_eq!(default["items"].as_array().unwrap().len(), 6, "the expired 2025 picture leaves the default list");
    let orgs: Value = app.get("/api/v1/organisations?limit=200", Some(&token)).await.json().await.unwrap();
    let reaches: Vec<(&str, &str)> = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| ["VALTORI", "UM-RAS", "OM"].contains(&o["code"].as_str().unwrap()))
        .map(|o| (o["code"].as_str().unwrap(), o["reach"].as_str().unwrap()))
        .collect();
    assert_eq!(reaches, [("OM", "member"), ("UM-RAS", "ras_contact_point"), ("VALTORI", "virt")]);
    let elections: Value = app.get("/api/v1/elections", Some(&token)).await.json().await.unwrap();
    assert_eq!(elections.as_array().unwrap().len(), 4);
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["reader", "secretariat"]));
}
