//! Users and memberships. The secretariat manages everyone else; an `org_admin` manages
//! the users of its own organisation that hold no role only the secretariat grants, and
//! for it users without a membership there do not exist (`404`).

use actix_web::{HttpRequest, HttpResponse, web};
use sitrep_db::accounts::UserRow;
use sitrep_db::scope::InScope;
use sitrep_db::{GenericClient, accounts, sessions};
use sitrep_domain::account::{MembershipChange, NewMembership, NewUser, UserChange};
use sitrep_domain::{AccountRoles, AdminScope, Permissions};
use sitrep_types::{CreateMembership, CreateUser, Membership, Page, UpdateMembership, UpdateUser, User};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::admin::{self, Managed, check_manages, check_organisation, refused};
use crate::body::{Json, Query};
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{Caller, ManageUsers};
use crate::state::AppState;

endpoints! {
    "/users" { GET "user.list" => list_users, POST "user.create" => create_user }
    "/users/{id}" { GET "user.view" => get_user, PATCH "user.update" => update_user }
    "/users/{id}/memberships" { GET "membership.list" => list_memberships, POST "membership.create" => create_membership }
    "/users/{id}/memberships/{membership_id}" { PATCH "membership.update" => update_membership }
    "/users/{id}/totp/reset" { POST "totp.reset" => reset_totp }
}

const LIST: &str = "users";
const USER_NOT_FOUND: ApiError = ApiError::NotFound { code: "user_not_found" };

/// The user with the memberships the caller may see, if its scope reaches the user
/// (`accounts::find_user`); otherwise `404`.
async fn find_visible(c: &impl GenericClient, p: &Permissions, id: Uuid) -> Result<User, ApiError> {
    let (row, memberships) = accounts::find_user(c, p.admin_scope(), id).await?.ok_or(USER_NOT_FOUND)?;
    Ok(user(row.into_inner(), memberships))
}

/// The person, locked for the rest of the transaction (serialising changes of its
/// memberships), if the caller's scope reaches it; otherwise `404`.
async fn lock_visible(c: &impl GenericClient, p: &Permissions, id: Uuid) -> Result<InScope<UserRow>, ApiError> {
    accounts::lock_user(c, p.admin_scope(), id).await?.ok_or(USER_NOT_FOUND)
}

fn user(row: accounts::UserRow, memberships: Vec<Membership>) -> User {
    User {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
        memberships,
    }
}

/// Users the caller manages, by username, each with the memberships it may see.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "accounts",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<User>), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn list_users(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    query: Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = query.0.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, LIST);
    let after = cursors.after(query.0.cursor.as_deref())?;
    let scope = caller.permissions.admin_scope();
    let client = meta.client(&state.pool).await?;
    let rows = accounts::list_users(&client, scope, after.as_deref(), limit).await?;
    let ids: Vec<Uuid> = rows.iter().map(|u| u.id).collect();
    let mut memberships = accounts::memberships_of_users(&client, &ids, scope).await?;
    let next = cursors.next(rows.len(), limit, rows.last().map(|u| u.username.as_str()));
    let items = rows
        .into_iter()
        .map(|row| {
            let (mine, rest) = memberships.drain(..).partition(|m| m.user_id == row.id);
            memberships = rest;
            user(row, mine)
        })
        .collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("user", ids)).await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// Create a user with a first membership. An `org_admin` creates users of its own
/// organisation and cannot grant `secretariat`, `auditor` or `sysadmin`.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "accounts",
    security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = User), AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures)
)]
pub async fn create_user(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let new = NewUser::parse(body.0, chrono::Utc::now())?;
    caller.permissions.can_grant_roles(new.organisation_id, new.roles).map_err(refused)?;
    let hash = state.hasher.hash(new.password.expose()).await?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    check_organisation(&tx, new.organisation_id, "organisation_id").await?;
    let id = Uuid::new_v4();
    let row = accounts::insert_user(&tx, id, new.username.as_str(), new.display_name.as_str(), &hash)
        .await
        .map_err(ApiError::on_unique("username_taken", "That username is taken."))?;
    let membership = accounts::insert_membership(
        &tx,
        Uuid::new_v4(),
        &row,
        new.organisation_id,
        new.roles,
        new.valid_until,
        Some(caller.user_id),
    )
    .await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{id}")))
        .json(user(row.into_inner(), vec![membership])))
}

/// One user, with the memberships the caller may see.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = User), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn get_user(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let found = find_visible(&client, &caller.permissions, id).await?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("user", id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Change a user's display name or password, or (de)activate it. A new password or a
/// deactivation revokes all of the user's sessions. An `org_admin` may change only
/// users whose memberships not yet ended are all in its organisation and hold no role
/// only the secretariat grants (`403 account_privileged`, `403 user_shared`); nobody
/// changes their own account here (`403 own_account`).
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses((status = 200, body = User), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn update_user(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
    body: Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let change = UserChange::try_from(body.0)?;
    let hash = match &change.password {
        Some(p) => Some(state.hasher.hash(p.expose()).await?),
        None => None,
    };
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let target = lock_visible(&tx, &caller.permissions, id).await?;
    check_manages(&tx, &caller, id).await?;
    change.check_password_for(&target.username)?;
    let row = accounts::update_user(
        &tx,
        &target,
        change.display_name.as_ref().map(|d| d.as_str()),
        change.active,
        hash.as_deref(),
    )
    .await?
    .ok_or(USER_NOT_FOUND)?;
    if change.active == Some(false) || change.password.is_some() {
        let reason = if change.active == Some(false) { "user_deactivated" } else { "password_changed" };
        sessions::revoke_user_sessions(&tx, id, None, reason).await?;
    }
    let memberships = accounts::memberships_of(&tx, id, caller.permissions.admin_scope()).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(user(row, memberships)))
}

/// A user's memberships, past and present, that the caller may see; newest first.
#[utoipa::path(
    get, path = "/api/v1/users/{id}/memberships", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Membership>), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn list_memberships(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let found = find_visible(&client, &caller.permissions, id).await?;
    let ids = found.memberships.iter().map(|m| m.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("user", id).objects("membership", ids))
        .await?;
    Ok(HttpResponse::Ok().json(found.memberships))
}

/// Give a user a membership of an organisation. At most one membership per user and
/// organisation is in force at a time. A membership that takes the user away from the
/// organisation whose `org_admin` managed it (another organisation, or a role only the
/// secretariat grants) voids the user's password and second factor and ends its
/// sessions: that administrator may know them. The secretariat then sets a new password.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/memberships", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateMembership,
    responses((status = 201, body = Membership), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn create_membership(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
    body: Json<CreateMembership>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let new = NewMembership::parse(body.0, chrono::Utc::now())?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let target = lock_visible(&tx, &caller.permissions, id).await?;
    let before = check_manages(&tx, &caller, id).await?;
    caller.permissions.can_grant_roles(new.organisation_id, new.roles).map_err(refused)?;
    check_organisation(&tx, new.organisation_id, "organisation_id").await?;
    let existing = accounts::memberships_of(&tx, id, AdminScope::Organisation(new.organisation_id)).await?;
    if existing.iter().any(|m| m.active) {
        return Err(ApiError::Conflict {
            code: "membership_exists",
            detail: "The user already has a membership in force there; change its roles instead.".into(),
        });
    }
    let membership = accounts::insert_membership(
        &tx,
        Uuid::new_v4(),
        &target,
        new.organisation_id,
        new.roles,
        new.valid_until,
        Some(caller.user_id),
    )
    .await?;
    settle(&tx, &state, &before, &target, caller.user_id).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("membership", membership.id).status(201))
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(membership))
}

/// End a membership now (`end: true`), or change its roles: the membership ends and a
/// successor with the new roles starts, so history is kept. Ending one revokes the
/// user's sessions for that organisation at once. The same administration rule as for
/// the user applies, and a role only the secretariat grants voids the user's
/// credentials as a new membership does.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}/memberships/{membership_id}", tag = "accounts",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("membership_id" = Uuid, Path)),
    request_body = UpdateMembership,
    responses(
        (status = 200, description = "The ended membership, or its successor", body = Membership),
        AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures
    )
)]
pub async fn update_membership(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<UpdateMembership>,
) -> Result<HttpResponse, ApiError> {
    let (id, membership_id) = path.into_inner();
    let change = MembershipChange::try_from(body.0)?;
    let not_found = ApiError::not_found("membership_not_found");
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let target = lock_visible(&tx, &caller.permissions, id).await?;
    let current = accounts::get_membership(&tx, &target, membership_id).await?.ok_or(not_found)?;
    if !caller.permissions.can_manage_members_of(current.organisation_id) {
        return Err(ApiError::not_found("membership_not_found"));
    }
    let before = check_manages(&tx, &caller, id).await?;
    if let MembershipChange::Roles(roles) = change {
        caller.permissions.can_grant_roles(current.organisation_id, roles).map_err(refused)?;
    }
    if !current.active {
        return Err(ApiError::Conflict { code: "membership_not_in_force", detail: "The membership has ended.".into() });
    }
    let ended = accounts::end_membership(&tx, &target, membership_id, caller.user_id)
        .await?
        .ok_or(ApiError::Conflict { code: "membership_not_in_force", detail: "The membership has ended.".into() })?;
    let result = match change {
        MembershipChange::End => {
            sessions::revoke_user_sessions(&tx, id, Some(current.organisation_id), "membership_ended").await?;
            ended
        }
        MembershipChange::Roles(roles) => {
            accounts::insert_membership(
                &tx,
                Uuid::new_v4(),
                &target,
                current.organisation_id,
                roles,
                current.valid_until,
                Some(caller.user_id),
            )
            .await?
        }
    };
    settle(&tx, &state, &before, &target, caller.user_id).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("membership", membership_id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Remove a user's TOTP and recovery codes (a lost device) and end the user's sessions.
/// The user logs in with the password again and, where the organisation requires TOTP,
/// can do nothing but enrol anew. The same administration rule as for changing the user
/// applies.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/totp/reset", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "TOTP removed; the user's sessions ended"),
        AuthFailures, Forbidden, NotFound, ServerFailures
    )
)]
pub async fn reset_totp(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let target = lock_visible(&tx, &caller.permissions, id).await?;
    check_manages(&tx, &caller, id).await?;
    sitrep_db::second_factor::remove_totp(&tx, target.id).await?;
    sessions::revoke_user_sessions(&tx, target.id, None, "totp_reset").await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("user", id).status(204)).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Voids the person's credentials when the membership change took it away from its
/// administrator.
async fn settle(
    c: &impl GenericClient,
    state: &AppState,
    before: &AccountRoles,
    person: &InScope<UserRow>,
    by: Uuid,
) -> Result<(), ApiError> {
    admin::void_credentials_if_it_left(c, state, before, Managed::Person(person), by).await?;
    Ok(())
}
