//! The OpenAPI document, the error responses every path lists, and the docs page.

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::constraints::Constraints;
use crate::error::PROBLEM_JSON;
use crate::routes;

fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
}

fn retry_after(builder: ResponseBuilder) -> ResponseBuilder {
    builder.header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds to wait before trying again"))
            .build(),
    )
}

fn responses(items: Vec<(&str, ResponseBuilder)>) -> BTreeMap<String, RefOr<Response>> {
    items.into_iter().map(|(status, r)| (status.to_owned(), RefOr::T(r.build()))).collect()
}

/// `401`: no usable access token.
pub struct AuthFailures;
impl IntoResponses for AuthFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let unauthenticated = problem("Missing, invalid, expired or revoked access token (`invalid_token`)").header(
            "WWW-Authenticate",
            HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::String)).build(),
        );
        responses(vec![("401", unauthenticated)])
    }
}

/// `403`: authenticated, but the role does not allow it.
pub struct Forbidden;
impl IntoResponses for Forbidden {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![("403", problem("The caller's roles do not allow this (`forbidden`)"))])
    }
}

/// `404`: no such object, or one the caller may not see.
pub struct NotFound;
impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![("404", problem("No such object, or not one the caller may see"))])
    }
}

/// `409`: the change conflicts with the current state.
pub struct Conflict;
impl IntoResponses for Conflict {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![("409", problem("Conflicts with the current state (e.g. `username_taken`)"))])
    }
}

/// `400`, `413`, `415`, `422`: a body that is not what the operation takes.
pub struct BodyFailures;
impl IntoResponses for BodyFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![
            ("400", problem("Malformed JSON (`malformed_json`)")),
            ("413", problem("Body larger than the limit (`payload_too_large`)")),
            ("415", problem("Body not sent as application/json (`unsupported_media_type`)")),
            ("422", problem("Invalid fields, each named in `errors` (`validation_failed`)")),
        ])
    }
}

/// `400`, `422`: a query string that is not what the operation takes.
pub struct QueryFailures;
impl IntoResponses for QueryFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![
            (
                "400",
                problem(
                    "Unknown or repeated parameter (`invalid_query`), or a cursor not issued to the caller for this list, filters and limit (`invalid_cursor`)",
                ),
            ),
            ("422", problem("A parameter with a bad value, named in `errors`")),
        ])
    }
}

/// `429`: too many wrong codes or passwords for this account lately.
pub struct Throttled;
impl IntoResponses for Throttled {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![(
            "429",
            retry_after(problem("Too many failed attempts (`too_many_attempts`); see Retry-After")),
        )])
    }
}

/// `500`, `503`: the service's own failures. Bodies are opaque.
pub struct ServerFailures;
impl IntoResponses for ServerFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(vec![
            ("500", problem("Internal error; the body carries only the request id")),
            ("503", retry_after(problem("Database, access log or attachment store unavailable, or logins saturated"))),
        ])
    }
}

struct Security;
impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT access token, or a service account's API key (sitrep_live_...)".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sitrep API",
        description = "Secure exchange of situation pictures of information influence, hybrid threats and \
            cyber security for the national cooperation group on election security. Errors are \
            RFC 9457 problem documents with a stable `code`; every response carries `X-Request-Id`.",
        license(name = "EUPL-1.2"),
    ),
    paths(
        routes::health::live,
        routes::health::ready,
        crate::metrics::metrics,
        routes::auth::login,
        routes::auth::refresh_tokens,
        routes::auth::logout,
        routes::me::get_me,
        routes::me::change_password,
        routes::organisations::list_organisations,
        routes::organisations::create_organisation,
        routes::organisations::get_organisation,
        routes::organisations::update_organisation,
        routes::users::list_users,
        routes::users::create_user,
        routes::users::get_user,
        routes::users::update_user,
        routes::users::list_memberships,
        routes::users::create_membership,
        routes::users::update_membership,
        routes::pictures::list_pictures,
        routes::pictures::summary::picture_summary,
        routes::pictures::create_picture,
        routes::pictures::get_picture,
        routes::pictures::update_picture,
        routes::pictures::submit_picture,
        routes::pictures::return_picture,
        routes::pictures::approve_picture,
        routes::pictures::publish_picture,
        routes::pictures::withdraw_picture,
        routes::pictures::close_picture,
        routes::pictures::list_revisions,
        routes::pictures::get_revision,
        routes::reference::list_acknowledgements,
        routes::reference::acknowledge,
        routes::reference::list_release_decisions,
        routes::reference::record_release_decision,
        routes::reference::list_elections,
        routes::reference::create_election,
        routes::reference::get_election,
        routes::reference::update_election,
        routes::reference::list_communities,
        routes::reference::create_community,
        routes::feed::get_feed,
        routes::stream::stream,
        routes::subscriptions::list_subscriptions,
        routes::subscriptions::create_subscription,
        routes::subscriptions::get_subscription,
        routes::subscriptions::update_subscription,
        routes::subscriptions::list_deliveries,
        routes::subscriptions::replay_deliveries,
        routes::subscriptions::list_webhook_hosts,
        routes::subscriptions::add_webhook_host,
        routes::peers::list_peers,
        routes::peers::create_peer,
        routes::peers::get_peer,
        routes::peers::update_peer,
        routes::peers::poll_peer,
        routes::access_log::list_access_log,
        routes::access_log::export_access_log,
        routes::access_log::list_checkpoints,
        routes::access_log::get_checkpoint_key,
        routes::organisations::get_policy,
        routes::organisations::update_policy,
        routes::service_accounts::list_service_accounts,
        routes::service_accounts::create_service_account,
        routes::service_accounts::get_service_account,
        routes::service_accounts::update_service_account,
        routes::service_accounts::list_api_keys,
        routes::service_accounts::create_api_key,
        routes::service_accounts::get_api_key,
        routes::service_accounts::revoke_api_key,
        routes::totp::get_totp,
        routes::totp::start_totp,
        routes::totp::confirm_totp,
        routes::totp::renew_recovery_codes,
        routes::totp::disable_totp,
        routes::users::reset_totp,
        routes::keys::jwks,
        routes::keys::list_signing_keys,
        routes::keys::rotate_signing_key,
        routes::taxii::discovery,
        routes::taxii::api_root,
        routes::taxii::list_collections,
        routes::taxii::get_collection,
        routes::taxii::get_objects,
        routes::taxii::get_manifest,
        routes::taxii::get_object,
        routes::taxii::get_versions,
        routes::pictures::inbox::add_objects,
        routes::pictures::inbox::get_status,
        routes::me::set_language,
        routes::pictures::attachments::upload_attachment,
        routes::pictures::attachments::download_attachment,
        routes::reference::list_techniques,
        routes::pictures::related_by_indicator,
        routes::pictures::render::render_picture,
        routes::reports::render::render_report,
        routes::notifications::get_preferences,
        routes::notifications::put_preferences,
        routes::notifications::list_duty_addresses,
        routes::notifications::put_duty_addresses,
        routes::notifications::confirm_email,
        routes::notifications::list_mail_messages,
        routes::notifications::get_inbox,
        routes::notifications::mark_inbox_read,
        routes::notifications::list_escalations,
        routes::notifications::list_overdue_acknowledgements,
        routes::reports::list_reports,
        routes::reports::create_report,
        routes::reports::get_report,
        routes::reports::update_report,
        routes::reports::submit_report,
        routes::reports::return_report,
        routes::reports::approve_report,
        routes::reports::publish_report,
        routes::reports::withdraw_report,
        routes::pictures::attachments::thumbnail_attachment,
        routes::threads::list_threads,
        routes::threads::ask,
        routes::threads::get_thread,
        routes::threads::post_message,
        routes::threads::my_threads,
    ),
    components(schemas(
        sitrep_types::Problem,
        sitrep_types::FieldError,
        sitrep_types::TaxiiError,
        crate::documents::DocumentFormat,
        routes::notifications::MailState
    )),
    modifiers(&Security, &Constraints),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, token refresh and logout; TOTP; the token signing keys"),
        (name = "accounts", description = "Organisations and their policies, users, memberships, service accounts and API keys"),
        (name = "pictures", description = "Situation pictures, revisions and their lifecycle"),
        (name = "reference", description = "Elections and TLP:GREEN communities"),
        (name = "delivery", description = "Events: the pull feed, the live stream, subscriptions and signed webhooks"),
        (name = "access log", description = "The hash-chained access log: records, export, signed checkpoints"),
        (name = "taxii", description = "TAXII 2.1: read-only collections of STIX 2.1 objects, one per tier the caller reads, \
            and each organisation's inbox, where its service accounts post STIX reports that become draft pictures \
            (docs/taxii.md). Requests send `Accept: application/taxii+json;version=2.1`; errors are TAXII error messages"),
        (name = "notifications", description = "E-mail notifications: preferences, duty addresses, address confirmation, the mail log"),
        (name = "threads", description = "Questions on a picture: threads between the asking organisation and the originator, read by the secretariat, invisible to everyone else"),
        (name = "reports", description = "Situation reports: published pictures gathered under a report's own texts and handling, with the pictures' lifecycle and four eyes"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document as served and committed (pretty JSON, trailing newline).
pub fn openapi_json() -> String {
    let doc = ApiDoc::openapi();
    let mut json = doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// `GET /api/v1/openapi.json`: the document, generated once per process.
pub async fn serve_openapi() -> actix_web::HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(openapi_json).clone();
    actix_web::HttpResponse::Ok().content_type("application/json").body(body)
}
