//! Liveness and readiness. No authentication, no data, no access-log record.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Health)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The process can serve: the database answers.
#[utoipa::path(
    get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "Database unavailable"))
)]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match sitrep_db::ping(&state.pool).await {
        Ok(()) => HttpResponse::Ok().json(Health { status: "ok" }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "2"))
                .json(Health { status: "unavailable" })
        }
    }
}
