//! `GET /api/v1/me`.

use actix_web::{HttpResponse, web};
use sitrep_db::accounts;
use sitrep_types::Me;

use crate::audit::{self, RecordExt};
use crate::docs::{AuthFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Caller, SelfService};
use crate::state::AppState;

/// Who the access token speaks for: user, organisation, roles, memberships in force.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, body = Me), AuthFailures, ServerFailures)
)]
pub async fn get_me(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SelfService>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let user =
        accounts::get_user(&client, caller.user_id).await?.ok_or(ApiError::Unauthenticated { reason: "user_gone" })?;
    let organisation = accounts::get_organisation(&client, caller.organisation_id)
        .await?
        .ok_or(ApiError::Unauthenticated { reason: "organisation_gone" })?;
    let memberships =
        accounts::memberships_of(&client, caller.user_id, None).await?.into_iter().filter(|m| m.active).collect();
    audit::commit(&state, &meta, audit::by(&meta, &caller).object("user", caller.user_id)).await?;
    Ok(HttpResponse::Ok().json(Me {
        user_id: user.id,
        username: user.username,
        display_name: user.display_name,
        actor_type: caller.actor_type().as_str().to_owned(),
        organisation,
        roles: caller.permissions.roles.to_vec(),
        memberships,
    }))
}
