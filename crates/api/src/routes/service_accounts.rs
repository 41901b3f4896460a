//! Service accounts and their API keys. The secretariat manages all; an `org_admin`
//! manages its own organisation's that hold no role only the secretariat grants, and
//! for it other organisations' do not exist (`404`). A key is shown once, when it is
//! made; only its prefix and hash are kept.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sitrep_auth::apikey;
use sitrep_db::scope::InScope;
use sitrep_db::service_accounts::{self, ApiKeyRow, NewKeyRow, ServiceAccountRow};
use sitrep_db::{GenericClient, accounts};
use sitrep_domain::account::{NewApiKeySpec, NewServiceAccount, ServiceAccountChange};
use sitrep_domain::{AdminScope, Permissions, RoleSet};
use sitrep_types::{
    ApiKey, CreateApiKey, CreateServiceAccount, CreatedApiKey, Membership, Page, ServiceAccount, UpdateServiceAccount,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::admin::{self, Managed, check_manages, check_organisation, refused};
use crate::body::{Json, Query};
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{Caller, ManageUsers, Principal};
use crate::state::AppState;

endpoints! {
    "/service-accounts" {
        GET "service_account.list" => list_service_accounts,
        POST "service_account.create" => create_service_account,
    }
    "/service-accounts/{id}" {
        GET "service_account.view" => get_service_account,
        PATCH "service_account.update" => update_service_account,
    }
    "/service-accounts/{id}/keys" { GET "api_key.list" => list_api_keys, POST "api_key.create" => create_api_key }
    "/service-accounts/{id}/keys/{key_id}" { GET "api_key.view" => get_api_key }
    "/service-accounts/{id}/keys/{key_id}/revoke" { POST "api_key.revoke" => revoke_api_key }
}

const LIST: &str = "service-accounts";
const NOT_FOUND: ApiError = ApiError::NotFound { code: "service_account_not_found" };
const KEY_NOT_FOUND: ApiError = ApiError::NotFound { code: "api_key_not_found" };

/// The account, if the caller's scope reaches it; otherwise `404`.
async fn find_visible(
    c: &impl GenericClient,
    p: &Permissions,
    id: Uuid,
) -> Result<InScope<ServiceAccountRow>, ApiError> {
    service_accounts::find_service_account(c, p.admin_scope(), id).await?.ok_or(NOT_FOUND)
}

/// The account, locked for the rest of the transaction, if the caller's scope reaches it;
/// otherwise `404`.
async fn lock_visible(
    c: &impl GenericClient,
    p: &Permissions,
    id: Uuid,
) -> Result<InScope<ServiceAccountRow>, ApiError> {
    service_accounts::lock_service_account(c, p.admin_scope(), id).await?.ok_or(NOT_FOUND)
}

async fn with_roles(c: &impl GenericClient, row: ServiceAccountRow) -> Result<ServiceAccount, ApiError> {
    let memberships = accounts::memberships_of(c, row.id, AdminScope::Organisation(row.organisation_id)).await?;
    Ok(account(row, &memberships))
}

/// The account with the roles of its membership in force among `memberships` (newest
/// first, as `accounts::memberships_of*` return them).
fn account(row: ServiceAccountRow, memberships: &[Membership]) -> ServiceAccount {
    let roles = memberships
        .iter()
        .find(|m| m.active && m.user_id == row.id && m.organisation_id == row.organisation_id)
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    ServiceAccount {
        id: row.id,
        organisation_id: row.organisation_id,
        name: row.name,
        description: row.description,
        active: row.active,
        roles,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn api_key(row: ApiKeyRow) -> ApiKey {
    ApiKey {
        id: row.id,
        service_account_id: row.service_account_id,
        name: row.name,
        prefix: apikey::display_prefix(&row.prefix),
        allowed_ranges: row.allowed_ranges,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
        last_used_addr: row.last_used_addr,
    }
}

/// Service accounts the caller manages, by organisation and name.
#[utoipa::path(
    get, path = "/api/v1/service-accounts", tag = "accounts",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<ServiceAccount>), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn list_service_accounts(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    query: Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = query.0.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, LIST);
    let after = cursors.after(query.0.cursor.as_deref())?;
    let client = meta.client(&state.pool).await?;
    let rows =
        service_accounts::list_service_accounts(&client, caller.permissions.admin_scope(), after.as_deref(), limit)
            .await?;
    let next = cursors.next(rows.len(), limit, rows.last().map(|(key, _)| key.as_str()));
    let ids: Vec<Uuid> = rows.iter().map(|(_, r)| r.id).collect();
    let memberships = accounts::memberships_of_users(&client, &ids, caller.permissions.admin_scope()).await?;
    let items = rows.into_iter().map(|(_, row)| account(row, &memberships)).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("service_account", ids)).await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// Create a service account with its roles. An `org_admin` creates accounts of its own
/// organisation and cannot grant `secretariat`, `auditor` or `sysadmin`.
#[utoipa::path(
    post, path = "/api/v1/service-accounts", tag = "accounts",
    security(("bearer" = [])), request_body = CreateServiceAccount,
    responses((status = 201, body = ServiceAccount), AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures)
)]
pub async fn create_service_account(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    body: Json<CreateServiceAccount>,
) -> Result<HttpResponse, ApiError> {
    let new = NewServiceAccount::try_from(body.0)?;
    let organisation = new.organisation_id.unwrap_or(caller.organisation_id);
    caller.permissions.can_grant_roles(organisation, new.roles).map_err(refused)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    check_organisation(&tx, organisation, "organisation_id").await?;
    let id = Uuid::new_v4();
    let row =
        service_accounts::insert_service_account(&tx, id, organisation, new.name.as_str(), new.description.as_deref())
            .await
            .map_err(ApiError::on_unique(
                "name_taken",
                "The organisation already has a service account of that name.",
            ))?;
    let membership =
        accounts::insert_membership(&tx, Uuid::new_v4(), &row, organisation, new.roles, None, Some(caller.user_id))
            .await?;
    let account = account(row.into_inner(), &[membership]);
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("service_account", id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/service-accounts/{id}"))).json(account))
}

/// One service account.
#[utoipa::path(
    get, path = "/api/v1/service-accounts/{id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ServiceAccount), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn get_service_account(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let row = find_visible(&client, &caller.permissions, id).await?;
    let account = with_roles(&client, row.into_inner()).await?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("service_account", id)).await?;
    Ok(HttpResponse::Ok().json(account))
}

/// Change a service account's description, roles, or (de)activate it. Deactivation
/// refuses every key of the account from the next request on. An `org_admin` changes
/// only accounts that hold no role only the secretariat grants (`403
/// account_privileged`), and no account changes itself (`403 own_account`). Granting a
/// role only the secretariat grants revokes the account's keys: its organisation's
/// administrator may hold them.
#[utoipa::path(
    patch, path = "/api/v1/service-accounts/{id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateServiceAccount,
    responses((status = 200, body = ServiceAccount), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn update_service_account(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
    body: Json<UpdateServiceAccount>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let change = ServiceAccountChange::try_from(body.0)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let current = lock_visible(&tx, &caller.permissions, id).await?;
    let before = check_manages(&tx, &caller, id).await?;
    if let Some(roles) = change.roles {
        change_roles(&tx, &caller, &current, roles).await?;
        admin::void_credentials_if_it_left(&tx, &state, &before, Managed::Service(&current), caller.user_id).await?;
    }
    let description = change.description.as_ref().map(|d| d.as_deref());
    let row =
        service_accounts::update_service_account(&tx, &current, description, change.active).await?.ok_or(NOT_FOUND)?;
    let account = with_roles(&tx, row).await?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("service_account", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(account))
}

/// Ends the account's membership in force and starts a successor with `roles`.
async fn change_roles(
    c: &impl GenericClient,
    caller: &Principal,
    account: &InScope<ServiceAccountRow>,
    roles: RoleSet,
) -> Result<(), ApiError> {
    caller.permissions.can_grant_roles(account.organisation_id, roles).map_err(refused)?;
    let by = caller.user_id;
    let memberships =
        accounts::memberships_of(c, account.id, AdminScope::Organisation(account.organisation_id)).await?;
    if let Some(current) = memberships.iter().find(|m| m.active) {
        accounts::end_membership(c, account, current.id, by).await?;
    }
    accounts::insert_membership(c, Uuid::new_v4(), account, account.organisation_id, roles, None, Some(by)).await?;
    Ok(())
}

/// The keys of a service account (never the keys themselves), newest first.
#[utoipa::path(
    get, path = "/api/v1/service-accounts/{id}/keys", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ApiKey>), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let account = find_visible(&client, &caller.permissions, id).await?;
    // Key metadata (prefixes, address ranges, where a key was last used) is the business
    // of whoever manages the account, not of every administrator who may see it exists.
    check_manages(&client, &caller, id).await?;
    let keys: Vec<ApiKey> =
        service_accounts::list_api_keys(&client, &account).await?.into_iter().map(api_key).collect();
    let ids = keys.iter().map(|k| k.id).collect();
    access_log::commit(
        &state,
        &meta,
        access_log::by(&meta, &caller).object("service_account", id).objects("api_key", ids),
    )
    .await?;
    Ok(HttpResponse::Ok().json(keys))
}

/// Make an API key. The response holds the key this once; only its prefix and a hash
/// are kept. It expires at `expires_at` (at most 366 days ahead) and works only from
/// `allowed_ranges` (and the organisation's ranges) when they are set. The same
/// administration rule as for changing the account applies.
#[utoipa::path(
    post, path = "/api/v1/service-accounts/{id}/keys", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn create_api_key(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
    body: Json<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let spec = NewApiKeySpec::parse(body.0, Utc::now())?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let account = lock_visible(&tx, &caller.permissions, id).await?;
    check_manages(&tx, &caller, id).await?;
    let made = apikey::generate();
    let key_id = Uuid::new_v4();
    let row = service_accounts::insert_api_key(
        &tx,
        &account,
        &NewKeyRow {
            id: key_id,
            prefix: &made.prefix,
            secret_hash: &made.hash,
            name: &spec.name,
            allowed_ranges: &spec.allowed_ranges,
            expires_at: spec.expires_at,
            created_by: caller.user_id,
        },
    )
    .await?;
    let record = access_log::by(&meta, &caller).object("api_key", key_id).status(201);
    access_log::write(&tx, &meta, record).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/service-accounts/{id}/keys/{key_id}")))
        .json(CreatedApiKey { key: made.key, api_key: api_key(row) }))
}

/// One API key (never the key itself).
#[utoipa::path(
    get, path = "/api/v1/service-accounts/{id}/keys/{key_id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 200, body = ApiKey), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn get_api_key(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key_id) = path.into_inner();
    let client = meta.client(&state.pool).await?;
    let account = find_visible(&client, &caller.permissions, id).await?;
    check_manages(&client, &caller, id).await?;
    let row = service_accounts::get_api_key(&client, &account, key_id).await?.ok_or(KEY_NOT_FOUND)?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("api_key", key_id)).await?;
    Ok(HttpResponse::Ok().json(api_key(row)))
}

/// Revoke an API key: refused from the next request on. Revoking twice keeps the first
/// revocation. The same administration rule as for changing the account applies.
#[utoipa::path(
    post, path = "/api/v1/service-accounts/{id}/keys/{key_id}/revoke", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 200, body = ApiKey), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key_id) = path.into_inner();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let account = lock_visible(&tx, &caller.permissions, id).await?;
    check_manages(&tx, &caller, id).await?;
    let row = service_accounts::revoke_api_key(&tx, &account, key_id, caller.user_id).await?.ok_or(KEY_NOT_FOUND)?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("api_key", key_id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(api_key(row)))
}
