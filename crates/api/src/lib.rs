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

use actix_web::{Route, web};
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use state::{AppState, LoginPolicy};

use crate::routes::{
    auth, feed, health, keys, me, notifications, organisations, pictures, reference, reports, service_accounts, stream,
    subscriptions, threads, totp, users,
};

/// `405` with `Allow` for a method the resource does not offer.
fn not_allowed(allow: &'static str) -> Route {
    web::to(move || async move { Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow }) })
}

fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path).route(web::post().to(handler)).default_service(not_allowed("POST"))
}

/// `404` for a path no route matches.
pub async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("route_not_found"))
}

/// Service accounts and API keys, organisation policies, TOTP, signing keys.
fn credential_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/jwks.json").route(web::get().to(keys::jwks)).default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/signing-keys")
            .route(web::get().to(keys::list_signing_keys))
            .route(web::post().to(keys::rotate_signing_key))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/organisations/{id}/policy")
            .route(web::get().to(organisations::get_policy))
            .route(web::patch().to(organisations::update_policy))
            .default_service(not_allowed("GET, PATCH")),
    )
    .service(
        web::resource("/service-accounts")
            .route(web::get().to(service_accounts::list_service_accounts))
            .route(web::post().to(service_accounts::create_service_account))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/service-accounts/{id}")
            .route(web::get().to(service_accounts::get_service_account))
            .route(web::patch().to(service_accounts::update_service_account))
            .default_service(not_allowed("GET, PATCH")),
    )
    .service(
        web::resource("/service-accounts/{id}/keys")
            .route(web::get().to(service_accounts::list_api_keys))
            .route(web::post().to(service_accounts::create_api_key))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/service-accounts/{id}/keys/{key_id}")
            .route(web::get().to(service_accounts::get_api_key))
            .default_service(not_allowed("GET")),
    )
    .service(post_only("/service-accounts/{id}/keys/{key_id}/revoke", service_accounts::revoke_api_key))
    .service(
        web::resource("/me/totp")
            .route(web::get().to(totp::get_totp))
            .route(web::post().to(totp::start_totp))
            .default_service(not_allowed("GET, POST")),
    )
    .service(post_only("/me/totp/confirm", totp::confirm_totp))
    .service(post_only("/me/totp/recovery-codes", totp::renew_recovery_codes))
    .service(post_only("/me/totp/disable", totp::disable_totp))
    .service(post_only("/users/{id}/totp/reset", users::reset_totp));
}

/// Registers every route. The caller adds the state, the envelope middleware and the
/// default service (see `sitrep_server::startup`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics::metrics)).default_service(not_allowed("GET")))
        .service(web::resource("/health/live").route(web::get().to(health::live)).default_service(not_allowed("GET")))
        .service(web::resource("/health/ready").route(web::get().to(health::ready)).default_service(not_allowed("GET")))
        .service(
            web::scope("/api/v1")
                .service(
                    web::resource("/openapi.json")
                        .route(web::get().to(docs::serve_openapi))
                        .default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/auth/login")
                        .route(web::post().to(auth::login))
                        .default_service(not_allowed("POST")),
                )
                .service(
                    web::resource("/auth/refresh")
                        .route(web::post().to(auth::refresh_tokens))
                        .default_service(not_allowed("POST")),
                )
                .service(
                    web::resource("/auth/logout")
                        .route(web::post().to(auth::logout))
                        .default_service(not_allowed("POST")),
                )
                .service(web::resource("/me").route(web::get().to(me::get_me)).default_service(not_allowed("GET")))
                .service(post_only("/me/password", me::change_password))
                .service(
                    web::resource("/me/language")
                        .route(web::put().to(me::set_language))
                        .default_service(not_allowed("PUT")),
                )
                .service(
                    web::resource("/organisations")
                        .route(web::get().to(organisations::list_organisations))
                        .route(web::post().to(organisations::create_organisation))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/organisations/{id}")
                        .route(web::get().to(organisations::get_organisation))
                        .route(web::patch().to(organisations::update_organisation))
                        .default_service(not_allowed("GET, PATCH")),
                )
                .service(
                    web::resource("/users")
                        .route(web::get().to(users::list_users))
                        .route(web::post().to(users::create_user))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/users/{id}")
                        .route(web::get().to(users::get_user))
                        .route(web::patch().to(users::update_user))
                        .default_service(not_allowed("GET, PATCH")),
                )
                .service(
                    web::resource("/users/{id}/memberships")
                        .route(web::get().to(users::list_memberships))
                        .route(web::post().to(users::create_membership))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/pictures")
                        .route(web::get().to(pictures::list_pictures))
                        .route(web::post().to(pictures::create_picture))
                        .default_service(not_allowed("GET, POST")),
                )
                // Before `/pictures/{id}`, which would take `summary` for an id.
                .service(
                    web::resource("/pictures/summary")
                        .route(web::get().to(pictures::summary::picture_summary))
                        .default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/pictures/{id}")
                        .route(web::get().to(pictures::get_picture))
                        .route(web::patch().to(pictures::update_picture))
                        .default_service(not_allowed("GET, PATCH")),
                )
                .service(post_only("/pictures/{id}/submit", pictures::submit_picture))
                .service(post_only("/pictures/{id}/return", pictures::return_picture))
                .service(post_only("/pictures/{id}/approve", pictures::approve_picture))
                .service(post_only("/pictures/{id}/publish", pictures::publish_picture))
                .service(post_only("/pictures/{id}/withdraw", pictures::withdraw_picture))
                .service(post_only("/pictures/{id}/close", pictures::close_picture))
                .service(
                    web::resource("/pictures/{id}/revisions")
                        .route(web::get().to(pictures::list_revisions))
                        .default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/pictures/{id}/revisions/{n}")
                        .route(web::get().to(pictures::get_revision))
                        .default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/pictures/{id}/acknowledgements")
                        .route(web::get().to(reference::list_acknowledgements))
                        .route(web::post().to(reference::acknowledge))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/pictures/{id}/release-decisions")
                        .route(web::get().to(reference::list_release_decisions))
                        .route(web::post().to(reference::record_release_decision))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/elections")
                        .route(web::get().to(reference::list_elections))
                        .route(web::post().to(reference::create_election))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/elections/{id}")
                        .route(web::get().to(reference::get_election))
                        .route(web::patch().to(reference::update_election))
                        .default_service(not_allowed("GET, PATCH")),
                )
                .service(
                    web::resource("/subscriptions")
                        .route(web::get().to(subscriptions::list_subscriptions))
                        .route(web::post().to(subscriptions::create_subscription))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/subscriptions/{id}")
                        .route(web::get().to(subscriptions::get_subscription))
                        .route(web::patch().to(subscriptions::update_subscription))
                        .default_service(not_allowed("GET, PATCH")),
                )
                .service(
                    web::resource("/subscriptions/{id}/deliveries")
                        .route(web::get().to(subscriptions::list_deliveries))
                        .default_service(not_allowed("GET")),
                )
                .service(post_only("/subscriptions/{id}/replay", subscriptions::replay_deliveries))
                .service(
                    web::resource("/peers")
                        .route(web::get().to(routes::peers::list_peers))
                        .route(web::post().to(routes::peers::create_peer))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/peers/{id}")
                        .route(web::get().to(routes::peers::get_peer))
                        .route(web::patch().to(routes::peers::update_peer))
                        .default_service(not_allowed("GET, PATCH")),
                )
                .service(post_only("/peers/{id}/poll", routes::peers::poll_peer))
                .service(
                    web::resource("/webhook-hosts")
                        .route(web::get().to(subscriptions::list_webhook_hosts))
                        .route(web::post().to(subscriptions::add_webhook_host))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/stream").route(web::get().to(stream::stream)).default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/feed").route(web::get().to(feed::get_feed)).default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/communities")
                        .route(web::get().to(reference::list_communities))
                        .route(web::post().to(reference::create_community))
                        .default_service(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/users/{id}/memberships/{membership_id}")
                        .route(web::patch().to(users::update_membership))
                        .default_service(not_allowed("PATCH")),
                )
                .service(
                    web::resource("/pictures/{id}/related-by-indicator")
                        .route(web::get().to(pictures::related_by_indicator))
                        .default_service(not_allowed("GET")),
                )
                .service(
                    web::resource("/techniques")
                        .route(web::get().to(reference::list_techniques))
                        .default_service(not_allowed("GET")),
                )
                .configure(access_log_routes)
                .configure(credential_routes)
                .configure(attachment_routes)
                .configure(notification_routes)
                .configure(thread_routes)
                .configure(report_routes)
                .configure(document_routes),
        )
        .configure(taxii_routes)
        .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")))
        .service(web::resource("/docs").route(web::get().to(docs_redirect)))
        .service(web::resource("/app").route(web::get().to(console::redirect)).default_service(not_allowed("GET")))
        .service(
            web::resource("/app/{file:.*}").route(web::get().to(console::asset)).default_service(not_allowed("GET")),
        );
}

/// TAXII 2.1 under `/taxii2/` (every URL ends with a slash): the read-only collections
/// of the tiers (`routes::taxii`) and the organisation's inbox (`routes::pictures::inbox`).
/// Errors, a missing route and a method not offered are TAXII error messages.
fn taxii_routes(cfg: &mut web::ServiceConfig) {
    use crate::taxii::{no_route, only};
    let get = |path: &str, route: Route| web::resource(path).route(route).default_service(only("GET"));
    cfg.service(
        web::scope("/taxii2")
            .service(get("/", web::get().to(routes::taxii::discovery)))
            .service(get("/api/", web::get().to(routes::taxii::api_root)))
            .service(get("/api/collections/", web::get().to(routes::taxii::list_collections)))
            .service(get("/api/collections/{collection}/", web::get().to(routes::taxii::get_collection)))
            .service(get("/api/collections/{collection}/manifest/", web::get().to(routes::taxii::get_manifest)))
            .service(
                web::resource("/api/collections/{collection}/objects/")
                    .route(web::get().to(routes::taxii::get_objects))
                    .route(web::post().to(pictures::inbox::add_objects))
                    .default_service(only("GET, POST")),
            )
            .service(get("/api/collections/{collection}/objects/{object}/", web::get().to(routes::taxii::get_object)))
            .service(get(
                "/api/collections/{collection}/objects/{object}/versions/",
                web::get().to(routes::taxii::get_versions),
            ))
            .service(get("/api/status/{status}/", web::get().to(pictures::inbox::get_status)))
            .default_service(web::to(no_route)),
    );
}

/// The access log (auditors and the secretariat).
fn access_log_routes(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/access-log", web::get().to(routes::access_log::list_access_log)),
        ("/access-log/export", web::get().to(routes::access_log::export_access_log)),
        ("/access-log/checkpoints", web::get().to(routes::access_log::list_checkpoints)),
        ("/access-log/checkpoint-key", web::get().to(routes::access_log::get_checkpoint_key)),
    ] {
        cfg.service(web::resource(path).route(handler).default_service(not_allowed("GET")));
    }
}

/// Evidence attachments of pictures.
fn attachment_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(post_only("/pictures/{id}/attachments", pictures::attachments::upload_attachment))
        .service(
            web::resource("/pictures/{id}/attachments/{aid}/content")
                .route(web::get().to(pictures::attachments::download_attachment))
                .default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/pictures/{id}/attachments/{aid}/thumbnail")
                .route(web::get().to(pictures::attachments::thumbnail_attachment))
                .default_service(not_allowed("GET")),
        );
}

/// Documents: pictures (and reports) rendered as PDF or HTML.
fn document_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/pictures/{id}/render")
            .route(web::get().to(pictures::render::render_picture))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/reports/{id}/render")
            .route(web::get().to(reports::render::render_report))
            .default_service(not_allowed("GET")),
    );
}

/// E-mail notifications: preferences, duty addresses, confirmation, the mail log.
fn notification_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/me/notifications")
            .route(web::get().to(notifications::get_preferences))
            .route(web::put().to(notifications::put_preferences))
            .default_service(not_allowed("GET, PUT")),
    )
    .service(
        web::resource("/organisations/{id}/duty-addresses")
            .route(web::get().to(notifications::list_duty_addresses))
            .route(web::put().to(notifications::put_duty_addresses))
            .default_service(not_allowed("GET, PUT")),
    )
    .service(post_only("/email-confirmations", notifications::confirm_email))
    .service(
        web::resource("/me/notifications/inbox")
            .route(web::get().to(notifications::get_inbox))
            .default_service(not_allowed("GET")),
    )
    .service(post_only("/me/notifications/inbox/read", notifications::mark_inbox_read))
    .service(
        web::resource("/notifications/messages")
            .route(web::get().to(notifications::list_mail_messages))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/notifications/escalations")
            .route(web::get().to(notifications::list_escalations))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/acknowledgements/overdue")
            .route(web::get().to(notifications::list_overdue_acknowledgements))
            .default_service(not_allowed("GET")),
    );
}

/// Questions on a picture.
fn thread_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/pictures/{id}/threads")
            .route(web::get().to(threads::list_threads))
            .route(web::post().to(threads::ask))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/pictures/{id}/threads/{thread_id}")
            .route(web::get().to(threads::get_thread))
            .default_service(not_allowed("GET")),
    )
    .service(post_only("/pictures/{id}/threads/{thread_id}/messages", threads::post_message))
    .service(
        web::resource("/me/threads").route(web::get().to(threads::my_threads)).default_service(not_allowed("GET")),
    );
}

/// Situation reports.
fn report_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/reports")
            .route(web::get().to(reports::list_reports))
            .route(web::post().to(reports::create_report))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/reports/{id}")
            .route(web::get().to(reports::get_report))
            .route(web::patch().to(reports::update_report))
            .default_service(not_allowed("GET, PATCH")),
    )
    .service(post_only("/reports/{id}/submit", reports::submit_report))
    .service(post_only("/reports/{id}/return", reports::return_report))
    .service(post_only("/reports/{id}/approve", reports::approve_report))
    .service(post_only("/reports/{id}/publish", reports::publish_report))
    .service(post_only("/reports/{id}/withdraw", reports::withdraw_report));
}

async fn docs_redirect() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Found().insert_header(("Location", "/docs/")).finish()
}
