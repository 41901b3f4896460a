//! Organisations: everyone signed in reads the directory; the secretariat manages it.

use actix_web::{HttpRequest, HttpResponse, web};
use sitrep_db::{accounts, sessions};
use sitrep_domain::account::parse_ranges;
use sitrep_domain::account::{NewOrganisation, OrganisationChange};
use sitrep_domain::policy::{self, SetBySecretariat};
use sitrep_types::{
    CreateOrganisation, Organisation, OrganisationPolicy, Page, PolicySetBy, UpdateOrganisation,
    UpdateOrganisationPolicy,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::{Json, Query};
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{Authenticated, Caller, ManageOrganisations, ManageUsers};
use crate::state::AppState;

endpoints! {
    "/organisations" { GET "organisation.list" => list_organisations, POST "organisation.create" => create_organisation }
    "/organisations/{id}" { GET "organisation.view" => get_organisation, PATCH "organisation.update" => update_organisation }
    "/organisations/{id}/policy" {
        GET "organisation.policy_view" => get_policy,
        PATCH "organisation.policy_update" => update_policy,
    }
}

const LIST: &str = "organisations";

/// The organisations of the group and its subscribers, by code.
#[utoipa::path(
    get, path = "/api/v1/organisations", tag = "accounts",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Organisation>), AuthFailures, QueryFailures, ServerFailures)
)]
pub async fn list_organisations(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    query: Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = query.0.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, LIST);
    let after = cursors.after(query.0.cursor.as_deref())?;
    let client = meta.client(&state.pool).await?;
    let items = accounts::list_organisations(&client, after.as_deref(), limit).await?;
    let next = cursors.next(items.len(), limit, items.last().map(|o| o.code.as_str()));
    let ids = items.iter().map(|o| o.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("organisation", ids)).await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// Create an organisation (secretariat).
#[utoipa::path(
    post, path = "/api/v1/organisations", tag = "accounts",
    security(("bearer" = [])), request_body = CreateOrganisation,
    responses(
        (status = 201, body = Organisation),
        AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures
    )
)]
pub async fn create_organisation(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageOrganisations>,
    body: Json<CreateOrganisation>,
) -> Result<HttpResponse, ApiError> {
    let new = NewOrganisation::try_from(body.0)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let id = Uuid::new_v4();
    let org = accounts::insert_organisation(&tx, id, &new)
        .await
        .map_err(ApiError::on_unique("organisation_code_taken", "An organisation with that code exists."))?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("organisation", id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/organisations/{id}"))).json(org))
}

/// One organisation.
#[utoipa::path(
    get, path = "/api/v1/organisations/{id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Organisation), AuthFailures, NotFound, ServerFailures)
)]
pub async fn get_organisation(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let org = accounts::get_organisation(&client, id).await?.ok_or(ApiError::not_found("organisation_not_found"))?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("organisation", id)).await?;
    Ok(HttpResponse::Ok().json(org))
}

/// Rename or (de)activate an organisation, or set `require_review` (secretariat; review
/// it switches on only it switches off). Deactivating revokes every session acting for
/// it.
#[utoipa::path(
    patch, path = "/api/v1/organisations/{id}", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateOrganisation,
    responses((status = 200, body = Organisation), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn update_organisation(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageOrganisations>,
    id: web::Path<Uuid>,
    body: Json<UpdateOrganisation>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let change = OrganisationChange::try_from(body.0)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let not_found = ApiError::not_found("organisation_not_found");
    let current = accounts::lock_organisation_policy(&tx, id).await?.ok_or(not_found)?;
    let review = switch(current.require_review_set_by, change.require_review, PolicySetBy::Secretariat)?;
    let org = accounts::update_organisation(&tx, id, &change, review)
        .await?
        .ok_or(ApiError::not_found("organisation_not_found"))?;
    if change.active == Some(false) {
        sessions::revoke_organisation_sessions(&tx, id, "organisation_deactivated").await?;
    }
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("organisation", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(org))
}

/// The organisation's policies: four-eyes review, required TOTP, the address ranges of
/// its API keys. For the secretariat and the organisation's own `org_admin`.
#[utoipa::path(
    get, path = "/api/v1/organisations/{id}/policy", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = OrganisationPolicy), AuthFailures, Forbidden, NotFound, ServerFailures)
)]
pub async fn get_policy(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let not_found = ApiError::not_found("organisation_not_found");
    if !caller.permissions.can_manage_members_of(id) {
        return Err(not_found);
    }
    let client = meta.client(&state.pool).await?;
    let policy = accounts::get_organisation_policy(&client, id).await?.ok_or(not_found)?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("organisation", id)).await?;
    Ok(HttpResponse::Ok().json(policy))
}

/// Set the organisation's policies (the secretariat, or its own `org_admin`). Requiring
/// TOTP takes effect at once: a person of the organisation who has not proven TOTP in
/// the session can do nothing but enrol (`403 totp_enrolment_required`). New address
/// ranges apply to every key from the next request on. An `org_admin` may switch review
/// and TOTP on, and off only where its organisation switched them on: what the
/// secretariat switched on stays on (`403 policy_set_by_secretariat`).
#[utoipa::path(
    patch, path = "/api/v1/organisations/{id}/policy", tag = "accounts",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateOrganisationPolicy,
    responses((status = 200, body = OrganisationPolicy), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn update_policy(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ManageUsers>,
    id: web::Path<Uuid>,
    body: Json<UpdateOrganisationPolicy>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let not_found = ApiError::not_found("organisation_not_found");
    if !caller.permissions.can_manage_members_of(id) {
        return Err(not_found);
    }
    let change = body.0;
    let ranges = match &change.service_account_ranges {
        Some(r) => Some(parse_ranges("service_account_ranges", r).map_err(|e| ApiError::Invalid(e.into()))?),
        None => None,
    };
    let by = if caller.permissions.is_secretariat() { PolicySetBy::Secretariat } else { PolicySetBy::Organisation };
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let current =
        accounts::lock_organisation_policy(&tx, id).await?.ok_or(ApiError::not_found("organisation_not_found"))?;
    let review = switch(current.require_review_set_by, change.require_review, by)?;
    let totp = switch(current.require_totp_set_by, change.require_totp, by)?;
    let policy =
        accounts::update_organisation_policy(&tx, id, review, totp, ranges.as_deref()).await?.ok_or(not_found)?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("organisation", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(policy))
}

/// The new state of a policy switch when `wanted` is given, by the domain rule.
fn switch(
    current: Option<PolicySetBy>,
    wanted: Option<bool>,
    by: PolicySetBy,
) -> Result<Option<Option<PolicySetBy>>, ApiError> {
    wanted.map(|on| policy::switch(current, on, by)).transpose().map_err(|SetBySecretariat| ApiError::Forbidden {
        code: "policy_set_by_secretariat",
        detail: "The secretariat switched this on; only the secretariat switches it off.",
    })
}
