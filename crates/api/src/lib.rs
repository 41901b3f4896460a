//! The HTTP API of Sitrep: one module per resource, the extractors that parse requests
//! and authenticate callers, the error type, the OpenAPI document, and `configure`.

pub mod access_log;
pub mod actions;
mod admin;
pub mod attachments;
pub mod body;
pub mod browser_session;
pub mod bucket;
pub mod conditional;
pub mod console;
pub mod constraints;
pub mod docs;
pub mod documents;
pub mod error;
mod events;
pub mod images;
pub mod live;
pub mod meta;
pub mod metrics;
pub mod pagination;
pub mod peers;
pub mod principal;
pub mod proxy;
pub mod routes;
mod second_factor;
pub mod state;
pub mod taxii;
mod thread_messages;
pub mod throttle;

use actix_web::web;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use state::{AppState, LoginPolicy};

use crate::routes::{health, not_allowed};

/// `404` for a path no route matches.
pub async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("route_not_found"))
}

/// Registers every route: the REST API's modules under `/api/v1` and TAXII's under
/// `/taxii2` (each declares its own, see [`routes`]), and beside them the probes, the
/// metrics, the OpenAPI document, its docs page and the console. The caller adds the
/// state, the envelope middleware and the default service (see `sitrep_server::startup`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut api = web::scope("/api/v1").service(
        web::resource("/openapi.json").route(web::get().to(docs::serve_openapi)).default_service(not_allowed("GET")),
    );
    for module in routes::API {
        api = api.configure(module.configure);
    }
    cfg.service(web::resource("/metrics").route(web::get().to(metrics::metrics)).default_service(not_allowed("GET")))
        .service(web::resource("/health/live").route(web::get().to(health::live)).default_service(not_allowed("GET")))
        .service(web::resource("/health/ready").route(web::get().to(health::ready)).default_service(not_allowed("GET")))
        .service(api)
        // TAXII's errors, a missing route and a method not offered among them, are TAXII
        // error messages.
        .service(web::scope("/taxii2").configure(routes::TAXII.configure).default_service(web::to(taxii::no_route)))
        .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")))
        .service(web::resource("/docs").route(web::get().to(docs_redirect)))
        .service(web::resource("/app").route(web::get().to(console::redirect)).default_service(not_allowed("GET")))
        .service(
            web::resource("/app/{file:.*}").route(web::get().to(console::asset)).default_service(not_allowed("GET")),
        );
}

async fn docs_redirect() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Found().insert_header(("Location", "/docs/")).finish()
}
