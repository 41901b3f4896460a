//! Administration boundaries: an `org_admin` manages only the accounts of its own
//! organisation that hold no role only the secretariat grants; nobody manages their own
//! account through administration; credentials an administrator could know do not
//! survive the account leaving it; and review or TOTP the secretariat required stays.

use reqwest::Response;
use serde_json::{Value, json};
use sitrep_types::Role;
use uuid::Uuid;

use crate::helpers::admin::{PASSWORD, in_days, spawn};
use crate::helpers::{TestApp, problem};

/// A user made through the API by `token`'s caller; returns its id.
async fn create_user(app: &TestApp, token: &str, username: &str, org: Uuid, roles: &[&str]) -> Uuid {
    let body = json!({
        "username": username, "display_name": "Test Person", "password": PASSWORD,
        "organisation_id": org, "roles": roles,
    });
    let res = app.post_json("/api/v1/users", Some(token), &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let user: Value = res.json().await.unwrap();
    user["id"].as_str().unwrap().parse().unwrap()
}

/// The id of `user`'s membership in force in `org`, as the secretariat sees it.
async fn membership_in(app: &TestApp, sec: &str, user: Uuid, org: Uuid) -> String {
    let all: Value = app.get(&format!("/api/v1/users/{user}/memberships"), Some(sec)).await.json().await.unwrap();
    let found = all.as_array().unwrap().iter().find(|m| m["active"] == true && m["organisation_id"] == json!(org));
    found.expect("a membership in force")["id"].as_str().unwrap().to_owned()
}

async fn login(app: &TestApp, username: &str, password: &str) -> Response {
    app.login_response(username, password).await
}

/// Every way of changing a person's account through administration, as (what, request).
async fn person_changes(app: &TestApp, token: &str, user: Uuid, membership: &str) -> Vec<(&'static str, Response)> {
    let path = format!("/api/v1/users/{user}");
    let mpath = format!("/api/v1/users/{user}/memberships/{membership}");
    vec![
        ("password", app.patch_json(&path, token, &json!({"password": "the attacker's chosen password"})).await),
        ("deactivate", app.patch_json(&path, token, &json!({"active": false})).await),
        ("rename", app.patch_json(&path, token, &json!({"display_name": "Renamed"})).await),
        ("totp reset", app.post_json(&format!("{path}/totp/reset"), Some(token), &json!({})).await),
        ("re-role", app.patch_json(&mpath, token, &json!({"roles": ["reader"]})).await),
        ("end", app.patch_json(&mpath, token, &json!({"end": true})).await),
    ]
}

#[tokio::test]
async fn org_admin_cannot_set_a_secretariat_accounts_password() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let boss = app.seed_user("a.secretariat", "A", &[Role::Secretariat]).await;
    let token = app.token(&admin).await;
    let res = app
        .patch_json(&format!("/api/v1/users/{}", boss.id), &token, &json!({"password": "the attacker's chosen one"}))
        .await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("user.update", "denied"));
    assert_eq!(problem(res, 403).await["code"], "account_privileged");
    assert_eq!(login(&app, &boss.username, "the attacker's chosen one").await.status(), 401);
    assert_eq!(login(&app, &boss.username, &boss.password).await.status(), 200, "the owner's password stands");
}

#[tokio::test]
async fn org_admin_changes_nothing_of_an_account_holding_a_role_only_the_secretariat_grants() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let token = app.token(&admin).await;
    for role in [Role::Secretariat, Role::Auditor, Role::Sysadmin] {
        // Held in the admin's own organisation, beside roles it could grant.
        let user = app.seed_user(&format!("a.{}", role.as_str()), "A", &[Role::Reader, role]).await;
        let sec = app.seed_user(&format!("sec.for.{}", role.as_str()), "S", &[Role::Secretariat]).await;
        let sec = app.token(&sec).await;
        let mid = membership_in(&app, &sec, user.id, app.org("A")).await;
        for (what, res) in person_changes(&app, &token, user.id, &mid).await {
            assert_eq!(problem(res, 403).await["code"], "account_privileged", "{role:?}: {what}");
        }
        let now: Value = app.get(&format!("/api/v1/users/{}", user.id), Some(&sec)).await.json().await.unwrap();
        assert_eq!((now["active"].as_bool(), now["display_name"].as_str()), (Some(true), Some(user.username.as_str())));
        assert_eq!(login(&app, &user.username, &user.password).await.status(), 200, "{role:?}");
    }
}

#[tokio::test]
async fn org_admin_cannot_end_or_change_a_membership_of_a_user_privileged_in_another_organisation() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let token = app.token(&admin).await;
    let user = app.seed_user("two.hats", "A", &[Role::Reader]).await;
    app.add_membership(user.id, app.org("S"), &[Role::Auditor]).await;
    let mid = membership_in(&app, &sec, user.id, app.org("A")).await;
    for (what, res) in person_changes(&app, &token, user.id, &mid).await {
        assert_eq!(problem(res, 403).await["code"], "account_privileged", "{what}");
    }
    // The auditor role held elsewhere is not the admin's to see, but it still counts.
    let seen: Value = app.get(&format!("/api/v1/users/{}", user.id), Some(&token)).await.json().await.unwrap();
    assert_eq!(seen["memberships"].as_array().unwrap().len(), 1);
    let memberships: Value =
        app.get(&format!("/api/v1/users/{}/memberships", user.id), Some(&sec)).await.json().await.unwrap();
    assert!(memberships.as_array().unwrap().iter().all(|m| m["active"] == true), "nothing ended");
}

#[tokio::test]
async fn org_admin_cannot_change_a_user_shared_with_another_organisation_in_any_way() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let token = app.token(&admin).await;
    let user = app.seed_user("shared.user", "A", &[Role::Reader]).await;
    app.add_membership(user.id, app.org("B"), &[Role::Reader]).await;
    let mid = membership_in(&app, &sec, user.id, app.org("A")).await;
    for (what, res) in person_changes(&app, &token, user.id, &mid).await {
        assert_eq!(problem(res, 403).await["code"], "user_shared", "{what}");
    }
}

#[tokio::test]
async fn org_admin_cannot_make_a_key_for_or_change_an_auditor_service_account_the_secretariat_made() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let token = app.token(&admin).await;
    let body = json!({"name": "audit-export", "roles": ["auditor"], "organisation_id": app.org("A")});
    let res = app.post_json("/api/v1/service-accounts", Some(&sec), &body).await;
    assert_eq!(res.status(), 201);
    let account: Value = res.json().await.unwrap();
    let path = format!("/api/v1/service-accounts/{}", account["id"].as_str().unwrap());
    let key_body = json!({"name": "mine now", "expires_at": in_days(30)});
    let made: Value = app.post_json(&format!("{path}/keys"), Some(&sec), &key_body).await.json().await.unwrap();
    let key_id = made["api_key"]["id"].as_str().unwrap();

    let res = app.post_json(&format!("{path}/keys"), Some(&token), &key_body).await;
    assert_eq!(problem(res, 403).await["code"], "account_privileged");
    for body in [json!({"roles": ["reader"]}), json!({"active": false}), json!({"description": "mine"})] {
        let res = app.patch_json(&path, &token, &body).await;
        assert_eq!(problem(res, 403).await["code"], "account_privileged", "{body}");
    }
    let res = app.post_json(&format!("{path}/keys/{key_id}/revoke"), Some(&token), &json!({})).await;
    assert_eq!(problem(res, 403).await["code"], "account_privileged");
    // Nor does it read the keys' metadata (prefixes, ranges, where last used).
    for keys_path in [format!("{path}/keys"), format!("{path}/keys/{key_id}")] {
        assert_eq!(problem(app.get(&keys_path, Some(&token)).await, 403).await["code"], "account_privileged");
    }
    // The secretariat's key still reads the access log; the admin holds no key at all.
    let key = made["key"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/access-log", Some(key)).await.status(), 200);
    let keys: Value = app.get(&format!("{path}/keys"), Some(&sec)).await.json().await.unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/access-log", Some(&token)).await.status(), 403);
}

#[tokio::test]
async fn granting_a_privileged_role_later_voids_the_password_and_second_factor_an_org_admin_set() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec_user = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec_user).await;
    let token = app.token(&admin).await;
    // The admin makes an ordinary account, so it knows the password, and enrols TOTP as it.
    let id = create_user(&app, &token, "a.future.auditor", app.org("A"), &["reader"]).await;
    // The password it set is one-time: the admin changes it, as the user, to one it keeps.
    let first: Value = login(&app, "a.future.auditor", PASSWORD).await.json().await.unwrap();
    let first = first["access_token"].as_str().unwrap().to_owned();
    let kept = "another long password the admin keeps";
    let body = json!({"current_password": PASSWORD, "new_password": kept});
    assert_eq!(app.post_json("/api/v1/me/password", Some(&first), &body).await.status(), 204);
    let as_user: Value = login(&app, "a.future.auditor", kept).await.json().await.unwrap();
    let as_user = as_user["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.post_json("/api/v1/me/totp", Some(&as_user), &json!({})).await.status(), 201);

    // The secretariat then makes it an auditor: what the admin knew is void.
    let mid = membership_in(&app, &sec, id, app.org("A")).await;
    let res = app
        .patch_json(&format!("/api/v1/users/{id}/memberships/{mid}"), &sec, &json!({"roles": ["reader", "auditor"]}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/v1/me", Some(&as_user)).await.status(), 401, "the admin's session as the user ended");
    assert_eq!(login(&app, "a.future.auditor", kept).await.status(), 401);
    let res =
        app.patch_json(&format!("/api/v1/users/{id}"), &token, &json!({"password": "let me back in please"})).await;
    assert_eq!(problem(res, 403).await["code"], "account_privileged");

    // The secretariat sets a new password; no second factor is left from before.
    let res =
        app.patch_json(&format!("/api/v1/users/{id}"), &sec, &json!({"password": "the auditor's own new one"})).await;
    assert_eq!(res.status(), 200);
    let res = login(&app, "a.future.auditor", "the auditor's own new one").await;
    assert_eq!(res.status(), 200, "no totp_required: the enrolment went with the password");
}

#[tokio::test]
async fn sharing_a_user_with_another_organisation_voids_the_password_its_org_admin_set() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let token = app.token(&admin).await;
    let id = create_user(&app, &token, "a.mover", app.org("A"), &["reader"]).await;
    let res = app
        .post_json(
            &format!("/api/v1/users/{id}/memberships"),
            Some(&sec),
            &json!({"organisation_id": app.org("B"), "roles": ["reader"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body = json!({"username": "a.mover", "password": PASSWORD, "organisation": "ORG-B"});
    assert_eq!(app.post_json("/api/v1/auth/login", None, &body).await.status(), 401, "A's admin cannot read as B");
    // Moving in two steps (A ended, then B) voids it too.
    let id = create_user(&app, &token, "a.leaver", app.org("A"), &["reader"]).await;
    let mid = membership_in(&app, &sec, id, app.org("A")).await;
    let res = app.patch_json(&format!("/api/v1/users/{id}/memberships/{mid}"), &token, &json!({"end": true})).await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_json(
            &format!("/api/v1/users/{id}/memberships"),
            Some(&sec),
            &json!({"organisation_id": app.org("B"), "roles": ["reader"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(login(&app, "a.leaver", PASSWORD).await.status(), 401);
    // A change that keeps the account with A's admin keeps its password.
    let id = create_user(&app, &token, "a.stayer", app.org("A"), &["reader"]).await;
    let mid = membership_in(&app, &sec, id, app.org("A")).await;
    let res = app
        .patch_json(
            &format!("/api/v1/users/{id}/memberships/{mid}"),
            &sec,
            &json!({"roles": ["approver", "org_admin"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(login(&app, "a.stayer", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn granting_a_privileged_role_to_a_service_account_revokes_the_keys_its_org_admin_made() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let token = app.token(&admin).await;
    let res =
        app.post_json("/api/v1/service-accounts", Some(&token), &json!({"name": "feed", "roles": ["reader"]})).await;
    let account: Value = res.json().await.unwrap();
    let path = format!("/api/v1/service-accounts/{}", account["id"].as_str().unwrap());
    let key_body = json!({"name": "k", "expires_at": in_days(30)});
    let made: Value = app.post_json(&format!("{path}/keys"), Some(&token), &key_body).await.json().await.unwrap();
    let key = made["key"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", Some(key)).await.status(), 200);

    let res = app.patch_json(&path, &sec, &json!({"roles": ["auditor"]})).await;
    assert_eq!(res.status(), 200);
    let res = app.get("/api/v1/access-log", Some(key)).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("api_key_revoked"));
    assert_eq!(res.status(), 401);
    // The secretariat's own key for it works.
    let fresh: Value = app.post_json(&format!("{path}/keys"), Some(&sec), &key_body).await.json().await.unwrap();
    assert_eq!(app.get("/api/v1/access-log", fresh["key"].as_str()).await.status(), 200);
}

#[tokio::test]
async fn nobody_changes_their_own_roles_or_account_through_administration() {
    let app = spawn().await;
    let sec_user = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.token(&sec_user).await;
    let token = app.token(&admin).await;
    let mid = membership_in(&app, &sec, sec_user.id, app.org("S")).await;
    let res = app
        .patch_json(
            &format!("/api/v1/users/{}/memberships/{mid}", sec_user.id),
            &sec,
            &json!({"roles": ["secretariat", "auditor"]}),
        )
        .await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
    let res = app
        .post_json(
            &format!("/api/v1/users/{}/memberships", sec_user.id),
            Some(&sec),
            &json!({"organisation_id": app.org("A"), "roles": ["approver"]}),
        )
        .await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
    let amid = membership_in(&app, &sec, admin.id, app.org("A")).await;
    for (what, res) in person_changes(&app, &token, admin.id, &amid).await {
        assert_eq!(problem(res, 403).await["code"], "own_account", "{what}");
    }
    // A service account holding org_admin cannot change its own roles or mint itself keys.
    let body = json!({"name": "provisioner", "roles": ["org_admin"]});
    let account: Value = app.post_json("/api/v1/service-accounts", Some(&token), &body).await.json().await.unwrap();
    let path = format!("/api/v1/service-accounts/{}", account["id"].as_str().unwrap());
    let key_body = json!({"name": "k", "expires_at": in_days(30)});
    let made: Value = app.post_json(&format!("{path}/keys"), Some(&token), &key_body).await.json().await.unwrap();
    let key = made["key"].as_str().unwrap();
    let res = app.patch_json(&path, key, &json!({"roles": ["org_admin", "approver"]})).await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
    let res = app.post_json(&format!("{path}/keys"), Some(key), &key_body).await;
    assert_eq!(problem(res, 403).await["code"], "own_account");
    let me: Value = app.get("/api/v1/me", Some(&sec)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["secretariat"]));
}

#[tokio::test]
async fn a_password_set_while_the_secretariat_grants_a_privileged_role_never_survives_it() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let token = app.token(&admin).await;
    for round in 0..6 {
        let username = format!("a.raced.{round}");
        let id = create_user(&app, &sec, &username, app.org("A"), &["reader"]).await;
        let mid = membership_in(&app, &sec, id, app.org("A")).await;
        let (grant_path, grant_body) =
            (format!("/api/v1/users/{id}/memberships/{mid}"), json!({"roles": ["reader", "sysadmin"]}));
        let (set_path, set_body) = (format!("/api/v1/users/{id}"), json!({"password": "raced in by the admin"}));
        let (granted, set) =
            tokio::join!(app.patch_json(&grant_path, &sec, &grant_body), app.patch_json(&set_path, &token, &set_body));
        assert_eq!(granted.status(), 200);
        assert!([200, 403].contains(&set.status().as_u16()), "{}", set.status());
        assert_eq!(login(&app, &username, "raced in by the admin").await.status(), 401, "round {round}");
    }
}

/// A session of `user` that has proven TOTP (it enrols now), so that requiring TOTP does
/// not shut it out.
async fn with_totp(app: &TestApp, user: &crate::helpers::TestUser) -> String {
    let token = app.token(user).await;
    let started: Value = app.post_json("/api/v1/me/totp", Some(&token), &json!({})).await.json().await.unwrap();
    let secret = sitrep_auth::totp::decode_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = sitrep_auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64).unwrap();
    let res = app.post_json("/api/v1/me/totp/confirm", Some(&token), &json!({"code": code})).await;
    assert_eq!(res.status(), 200);
    token
}

async fn policy(app: &TestApp, token: &str, body: Value) -> Response {
    app.patch_json(&format!("/api/v1/organisations/{}/policy", app.org("A")), token, &body).await
}

#[tokio::test]
async fn an_org_admin_cannot_switch_off_review_or_totp_the_secretariat_required() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let (admin, sec) = (with_totp(&app, &admin).await, app.token(&sec).await);
    let res = policy(&app, &sec, json!({"require_review": true, "require_totp": true})).await;
    let set: Value = res.json().await.unwrap();
    assert_eq!(
        (set["require_review_set_by"].as_str(), set["require_totp_set_by"].as_str()),
        (Some("secretariat"), Some("secretariat"))
    );
    for field in ["require_review", "require_totp"] {
        let res = policy(&app, &admin, json!({ field: false })).await;
        assert_eq!(problem(res, 403).await["code"], "policy_set_by_secretariat", "{field}");
        // Asking for it on again keeps it the secretariat's.
        let res = policy(&app, &admin, json!({ field: true })).await;
        assert_eq!(res.json::<Value>().await.unwrap()[format!("{field}_set_by")], "secretariat");
    }
    // PATCH /organisations/{id} is the secretariat's way too, and it sticks the same way.
    let res = app
        .patch_json(&format!("/api/v1/organisations/{}", app.org("A")), &sec, &json!({"require_review": false}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .patch_json(&format!("/api/v1/organisations/{}", app.org("A")), &sec, &json!({"require_review": true}))
        .await;
    assert_eq!(res.status(), 200);
    let res = policy(&app, &admin, json!({"require_review": false})).await;
    assert_eq!(problem(res, 403).await["code"], "policy_set_by_secretariat");
    let now: Value =
        app.get(&format!("/api/v1/organisations/{}/policy", app.org("A")), Some(&sec)).await.json().await.unwrap();
    assert_eq!((now["require_review"].as_bool(), now["require_totp"].as_bool()), (Some(true), Some(true)));
}

#[tokio::test]
async fn an_org_admin_switches_its_own_review_and_totp_on_and_off() {
    let app = spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let (admin, sec) = (with_totp(&app, &admin).await, app.token(&sec).await);
    let res = policy(&app, &admin, json!({"require_review": true, "require_totp": true})).await;
    let set: Value = res.json().await.unwrap();
    assert_eq!(set["require_review_set_by"], "organisation");
    let res = policy(&app, &admin, json!({"require_review": false, "require_totp": false})).await;
    let set: Value = res.json().await.unwrap();
    assert_eq!((set["require_review"].as_bool(), set["require_review_set_by"].as_str()), (Some(false), None));
    // The secretariat takes over what it switches on, and may hand it back by switching it off.
    policy(&app, &admin, json!({"require_review": true})).await;
    let res = policy(&app, &sec, json!({"require_review": true})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["require_review_set_by"], "secretariat");
    assert_eq!(policy(&app, &admin, json!({"require_review": false})).await.status(), 403);
    assert_eq!(policy(&app, &sec, json!({"require_review": false})).await.status(), 200);
    assert_eq!(policy(&app, &admin, json!({"require_review": true})).await.status(), 200);
    assert_eq!(policy(&app, &admin, json!({"require_review": false})).await.status(), 200);
}

/// A membership or an API key is reached only under the account it belongs to, even by
/// an administrator whose scope reaches both accounts: the other account's id in the path
/// is `404`, and nothing changes.
#[tokio::test]
async fn a_membership_or_key_is_changed_only_under_its_own_account() {
    let app = spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let sec = app.token(&sec).await;
    let x = app.seed_user("user.x", "A", &[Role::Reader]).await;
    let y = app.seed_user("user.y", "A", &[Role::Reader]).await;
    let ys = membership_in(&app, &sec, y.id, app.org("A")).await;
    let under_x = format!("/api/v1/users/{}/memberships/{ys}", x.id);
    for body in [json!({"roles": ["approver"]}), json!({"end": true})] {
        let res = app.patch_json(&under_x, &sec, &body).await;
        assert_eq!(problem(res, 404).await["code"], "membership_not_found");
    }
    assert_eq!(membership_in(&app, &sec, y.id, app.org("A")).await, ys, "y's membership is unchanged");

    let (s1, _) = crate::helpers::taxii::service_account(&app, "A", &["reader"]).await;
    let (s2, _) = crate::helpers::taxii::service_account(&app, "A", &["author"]).await;
    let keys: Value = app.get(&format!("/api/v1/service-accounts/{s2}/keys"), Some(&sec)).await.json().await.unwrap();
    let key = keys[0]["id"].as_str().unwrap().to_owned();
    let res = app.get(&format!("/api/v1/service-accounts/{s1}/keys/{key}"), Some(&sec)).await;
    assert_eq!(problem(res, 404).await["code"], "api_key_not_found");
    let revoke = format!("/api/v1/service-accounts/{s1}/keys/{key}/revoke");
    let res = app.post_json(&revoke, Some(&sec), &json!({})).await;
    assert_eq!(problem(res, 404).await["code"], "api_key_not_found");
    let keys: Value = app.get(&format!("/api/v1/service-accounts/{s2}/keys"), Some(&sec)).await.json().await.unwrap();
    assert!(keys[0]["revoked_at"].is_null(), "s2's key still works: {keys}");
}
