//! Organisations, users and memberships: who may manage whom.

use serde_json::{Value, json};
use sitrep_types::Role;

use crate::helpers::{TestApp, problem};

fn new_user(username: &str, org: uuid::Uuid, roles: &[&str]) -> Value {
    json!({
        "username": username,
        "display_name": "Test Person",
        "password": "a long enough password for tests",
        "organisation_id": org,
        "roles": roles,
    })
}

#[tokio::test]
async fn the_secretariat_creates_lists_renames_and_deactivates_organisations() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let body = json!({"code": "NEW-ORG", "name": {"fi": "Uusi", "en": "New"}, "reach": "virt"});
    let res = app.post_json("/api/v1/organisations", Some(&token), &body).await;
    assert_eq!(res.status(), 201);
    let record = app.audit_of(&res).await;
    let org: Value = res.json().await.unwrap();
    assert_eq!((record.action.as_str(), record.object_id.as_deref()), ("organisation.create", org["id"].as_str()));
    assert_eq!(record.object_type.as_deref(), Some("organisation"));
    assert_eq!(org["reach"], "virt");

    let res = app.post_json("/api/v1/organisations", Some(&token), &body).await;
    assert_eq!(problem(res, 409).await["code"], "organisation_code_taken");

    let id = org["id"].as_str().unwrap();
    let res = app.patch_json(&format!("/api/v1/organisations/{id}"), &token, &json!({"name": {"sv": "Ny"}})).await;
    assert_eq!(res.status(), 200);
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["name"], json!({"sv": "Ny"}));

    // A member of the organisation loses access when it is deactivated.
    let user = app.seed_user("member.new", "A", &[Role::Reader]).await;
    let org_id: uuid::Uuid = id.parse().unwrap();
    let m = app.add_membership(user.id, org_id, &[Role::Reader]).await;
    assert!(m.active);
    let body = json!({"username": "member.new", "password": user.password, "organisation": "NEW-ORG"});
    let pair: Value = app.post_json("/api/v1/auth/login", None, &body).await.json().await.unwrap();
    let member_token = pair["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", Some(member_token)).await.status(), 200);
    let res = app.patch_json(&format!("/api/v1/organisations/{id}"), &token, &json!({"active": false})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/v1/me", Some(member_token)).await.status(), 401);

    let res = app.get("/api/v1/organisations?limit=2", Some(&token)).await;
    let record = app.audit_of(&res).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(record.object_ids.unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/organisations?limit=2&cursor={cursor}"), Some(&token)).await;
    let next: Value = res.json().await.unwrap();
    assert_ne!(next["items"][0]["code"], page["items"][0]["code"]);
}

#[tokio::test]
async fn only_the_secretariat_manages_organisations_but_everyone_reads_them() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin, Role::Approver]).await;
    let token = app.token(&admin).await;
    let body = json!({"code": "MINE", "name": {"en": "Mine"}, "reach": "member"});
    let res = app.post_json("/api/v1/organisations", Some(&token), &body).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("organisation.create", "denied"));
    assert_eq!(problem(res, 403).await["code"], "forbidden");
    let b = app.org("B");
    let res = app.patch_json(&format!("/api/v1/organisations/{b}"), &token, &json!({"active": false})).await;
    problem(res, 403).await;
    let res = app.get(&format!("/api/v1/organisations/{b}"), Some(&token)).await;
    assert_eq!(res.status(), 200);
    let res = app.get(&format!("/api/v1/organisations/{}", uuid::Uuid::new_v4()), Some(&token)).await;
    assert_eq!(problem(res, 404).await["code"], "organisation_not_found");
    let res = app.get("/api/v1/organisations/not-a-uuid", Some(&token)).await;
    problem(res, 404).await;
}

#[tokio::test]
async fn bad_organisation_fields_are_named() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let res = app
        .post_json("/api/v1/organisations", Some(&token), &json!({"code": "bad code", "name": {}, "reach": "member"}))
        .await;
    let body = problem(res, 422).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["code", "name"]);
    let res = app
        .post_json(
            "/api/v1/organisations",
            Some(&token),
            &json!({"code": "OK", "name": {"en": "x"}, "reach": "everyone"}),
        )
        .await;
    let body = problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "reach");
    assert_eq!(body["errors"][0]["code"], "invalid_value");
}

#[tokio::test]
async fn the_secretariat_manages_users_of_every_organisation() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let res = app.post_json("/api/v1/users", Some(&token), &new_user("New.Analyst", app.org("B"), &["author"])).await;
    assert_eq!(res.status(), 201);
    let record = app.audit_of(&res).await;
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["username"], "new.analyst");
    assert_eq!((record.action.as_str(), record.object_id.as_deref()), ("user.create", user["id"].as_str()));
    assert!(user.get("password").is_none());
    let client = app.pool.get().await.unwrap();
    let id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let hash: String = client.query_one("SELECT password_hash FROM users WHERE id = $1", &[&id]).await.unwrap().get(0);
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let res = app.post_json("/api/v1/users", Some(&token), &new_user("new.analyst", app.org("A"), &["reader"])).await;
    assert_eq!(problem(res, 409).await["code"], "username_taken");

    // The new user logs in with the password the secretariat set.
    let res = app.login_response("new.analyst", "a long enough password for tests").await;
    assert_eq!(res.status(), 200);

    let res = app.get("/api/v1/users?limit=1", Some(&token)).await;
    let page: Value = res.json().await.unwrap();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let res = app.get(&format!("/api/v1/users?limit=1&cursor={cursor}"), Some(&token)).await;
    let next: Value = res.json().await.unwrap();
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);

    // A cursor belongs to its user: anyone else gets 400.
    let other = app.seed_user("sec.other", "S", &[Role::Secretariat]).await;
    let other_token = app.token(&other).await;
    let res = app.get(&format!("/api/v1/users?limit=1&cursor={cursor}"), Some(&other_token)).await;
    assert_eq!(problem(res, 400).await["code"], "invalid_cursor");
    let res = app.get("/api/v1/users?limit=0", Some(&token)).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "limit");
    let res = app.get("/api/v1/users?limit=1&limit=2", Some(&token)).await;
    assert_eq!(problem(res, 400).await["code"], "invalid_query");
}

#[tokio::test]
async fn new_users_are_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let token = app.token(&sec).await;
    let body = json!({
        "username": "x", "display_name": "", "password": "short", "organisation_id": app.org("A"), "roles": []
    });
    let res = app.post_json("/api/v1/users", Some(&token), &body).await;
    let body = problem(res, 422).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["username", "display_name", "password", "roles"]);
    let res =
        app.post_json("/api/v1/users", Some(&token), &new_user("ghost.org", uuid::Uuid::new_v4(), &["reader"])).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "organisation_id");
    let mut body = new_user("roles.bad", app.org("A"), &["reader"]);
    body["roles"] = json!(["reader", "king"]);
    let res = app.post_json("/api/v1/users", Some(&token), &body).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "roles[1]");
}

#[tokio::test]
async fn an_org_admin_manages_its_own_organisation_only() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let own = app.seed_user("a.reader", "A", &[Role::Reader]).await;
    let other = app.seed_user("b.reader", "B", &[Role::Reader]).await;
    let token = app.token(&admin).await;

    let res = app.get(&format!("/api/v1/users/{}", own.id), Some(&token)).await;
    assert_eq!(res.status(), 200);
    let res = app.get(&format!("/api/v1/users/{}", other.id), Some(&token)).await;
    let record = app.audit_of(&res).await;
    assert_eq!((record.action.as_str(), record.outcome.as_str()), ("user.view", "denied"));
    assert_eq!(record.object_id, Some(other.id.to_string()));
    assert_eq!(problem(res, 404).await["code"], "user_not_found");
    let res = app.patch_json(&format!("/api/v1/users/{}", other.id), &token, &json!({"active": false})).await;
    problem(res, 404).await;
    let res = app.get(&format!("/api/v1/users/{}/memberships", other.id), Some(&token)).await;
    problem(res, 404).await;

    let page: Value = app.get("/api/v1/users", Some(&token)).await.json().await.unwrap();
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.admin", "a.reader"]);

    let res = app.post_json("/api/v1/users", Some(&token), &new_user("a.new", app.org("A"), &["author"])).await;
    assert_eq!(res.status(), 201);
    let res = app.post_json("/api/v1/users", Some(&token), &new_user("b.new", app.org("B"), &["author"])).await;
    problem(res, 403).await;
    for role in ["secretariat", "auditor", "sysadmin"] {
        let res = app.post_json("/api/v1/users", Some(&token), &new_user("a.boss", app.org("A"), &[role])).await;
        assert_eq!(problem(res, 403).await["code"], "role_not_grantable", "{role}");
    }
    // Not even by changing the roles of a membership of its own organisation.
    let memberships: Value =
        app.get(&format!("/api/v1/users/{}/memberships", own.id), Some(&token)).await.json().await.unwrap();
    let mid = memberships[0]["id"].as_str().unwrap();
    let res = app
        .patch_json(&format!("/api/v1/users/{}/memberships/{mid}", own.id), &token, &json!({"roles": ["auditor"]}))
        .await;
    problem(res, 403).await;
}

#[tokio::test]
async fn readers_and_other_roles_cannot_manage_users() {
    let app = TestApp::spawn().await;
    for (name, role) in [
        ("r", Role::Reader),
        ("au", Role::Author),
        ("ap", Role::Approver),
        ("aud", Role::Auditor),
        ("sys", Role::Sysadmin),
    ] {
        let user = app.seed_user(&format!("{name}.user"), "A", &[role]).await;
        let token = app.token(&user).await;
        let res = app.get("/api/v1/users", Some(&token)).await;
        let record = app.audit_of(&res).await;
        assert_eq!((record.action.as_str(), record.outcome.as_str()), ("user.list", "denied"));
        assert_eq!(problem(res, 403).await["code"], "forbidden", "{role:?}");
        let res = app.post_json("/api/v1/users", Some(&token), &new_user("x.new", app.org("A"), &["reader"])).await;
        problem(res, 403).await;
    }
}

#[tokio::test]
async fn an_ended_membership_reads_nothing_and_cannot_refresh() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let user = app.seed_user("ending.user", "A", &[Role::Author]).await;
    let token = app.token(&sec).await;
    let pair = app.login(&user).await;
    let at = pair["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", Some(at)).await.status(), 200);

    let memberships: Value =
        app.get(&format!("/api/v1/users/{}/memberships", user.id), Some(&token)).await.json().await.unwrap();
    let mid = memberships[0]["id"].as_str().unwrap();
    let res =
        app.patch_json(&format!("/api/v1/users/{}/memberships/{mid}", user.id), &token, &json!({"end": true})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.audit_of(&res).await.action, "membership.update");
    let ended: Value = res.json().await.unwrap();
    assert_eq!(ended["active"], false);

    let res = app.get("/api/v1/me", Some(at)).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("session_revoked"));
    problem(res, 401).await;
    let res = app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": pair["refresh_token"]})).await;
    assert_eq!(res.status(), 401);
    let res = app.login_response("ending.user", &user.password).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");

    // History is kept: the ended membership is still listed.
    let memberships: Value =
        app.get(&format!("/api/v1/users/{}/memberships", user.id), Some(&token)).await.json().await.unwrap();
    assert_eq!(memberships.as_array().unwrap().len(), 1);
    let res =
        app.patch_json(&format!("/api/v1/users/{}/memberships/{mid}", user.id), &token, &json!({"end": true})).await;
    assert_eq!(problem(res, 409).await["code"], "membership_not_in_force");
}

#[tokio::test]
async fn a_role_change_starts_a_new_membership_and_applies_to_live_tokens() {
    let app = TestApp::spawn().await;
    let sec = app.seed_user("sec.user", "S", &[Role::Secretariat]).await;
    let user = app.seed_user("growing.user", "A", &[Role::Reader]).await;
    let token = app.token(&sec).await;
    let at = app.token(&user).await;
    let memberships: Value =
        app.get(&format!("/api/v1/users/{}/memberships", user.id), Some(&token)).await.json().await.unwrap();
    let mid = memberships[0]["id"].as_str().unwrap();
    let res = app
        .patch_json(
            &format!("/api/v1/users/{}/memberships/{mid}", user.id),
            &token,
            &json!({"roles": ["approver", "org_admin"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let successor: Value = res.json().await.unwrap();
    assert_ne!(successor["id"], memberships[0]["id"]);
    let me: Value = app.get("/api/v1/me", Some(&at)).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["approver", "org_admin"]));
    let all: Value =
        app.get(&format!("/api/v1/users/{}/memberships", user.id), Some(&token)).await.json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);

    // A second membership of the same organisation is refused; another organisation is fine.
    let res = app
        .post_json(
            &format!("/api/v1/users/{}/memberships", user.id),
            Some(&token),
            &json!({"organisation_id": app.org("A"), "roles": ["reader"]}),
        )
        .await;
    assert_eq!(problem(res, 409).await["code"], "membership_exists");
    let res = app
        .post_json(
            &format!("/api/v1/users/{}/memberships", user.id),
            Some(&token),
            &json!({"organisation_id": app.org("V"), "roles": ["reader"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.audit_of(&res).await.action, "membership.create");
}

#[tokio::test]
async fn deactivating_a_user_or_changing_its_password_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let user = app.seed_user("a.worker", "A", &[Role::Reader]).await;
    let token = app.token(&admin).await;
    let at = app.token(&user).await;
    let res = app
        .patch_json(&format!("/api/v1/users/{}", user.id), &token, &json!({"password": "a brand new long password"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/v1/me", Some(&at)).await.status(), 401);
    assert_eq!(app.login_response("a.worker", &user.password).await.status(), 401);
    let res = app.login_response("a.worker", "a brand new long password").await;
    let pair: Value = res.json().await.unwrap();
    let at = pair["access_token"].as_str().unwrap();
    let res = app.patch_json(&format!("/api/v1/users/{}", user.id), &token, &json!({"active": false})).await;
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["active"], false);
    let res = app.get("/api/v1/me", Some(at)).await;
    assert_eq!(app.audit_of(&res).await.reason.as_deref(), Some("session_revoked"));
    let res =
        app.patch_json(&format!("/api/v1/users/{}", user.id), &token, &json!({"active": false, "role": "x"})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "role");
}

#[tokio::test]
async fn an_org_admin_cannot_change_a_user_shared_with_another_organisation() {
    let app = TestApp::spawn().await;
    let admin = app.seed_user("a.admin", "A", &[Role::OrgAdmin]).await;
    let shared = app.seed_user("shared.user", "A", &[Role::Reader]).await;
    app.add_membership(shared.id, app.org("B"), &[Role::Reader]).await;
    let token = app.token(&admin).await;
    let user: Value = app.get(&format!("/api/v1/users/{}", shared.id), Some(&token)).await.json().await.unwrap();
    assert_eq!(user["memberships"].as_array().unwrap().len(), 1, "B's membership is not A's business");
    let res = app.patch_json(&format!("/api/v1/users/{}", shared.id), &token, &json!({"active": false})).await;
    assert_eq!(problem(res, 403).await["code"], "user_shared");
}
