//! One module per resource. Each declares its routes once, with [`endpoints!`]: the path,
//! and for each method the action name the access log records and the handler. From that
//! one declaration come the module's `ROUTES.configure` (which registers the handlers and
//! answers `405` with an `Allow` header naming exactly the declared methods) and
//! `ROUTES.endpoints` (the table [`crate::actions`] looks actions up in). The OpenAPI
//! document is checked against the same table (`tests/api/openapi.rs`).

use actix_web::web::ServiceConfig;

/// One route of a module: its method, its path under the prefix the module is served at,
/// and the action the access log records for it.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub action: &'static str,
}

/// A module's routes: what it serves and how to register it.
#[derive(Clone, Copy)]
pub struct Routes {
    pub endpoints: &'static [Endpoint],
    pub configure: fn(&mut ServiceConfig),
}

/// `405` with `Allow` for a method a REST resource does not offer.
pub fn not_allowed(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(
        move || async move { Err::<actix_web::HttpResponse, _>(crate::ApiError::MethodNotAllowed { allow }) },
    )
}

/// The `Allow` value the declaration's methods spell (`"GET, POST, "` → `"GET, POST"`).
pub fn allow(methods: &'static str) -> &'static str {
    methods.trim_end_matches(", ")
}

/// Declares a module's routes once and makes its `pub const ROUTES`.
///
/// ```ignore
/// endpoints! {
///     "/users" { GET "user.list" => list_users, POST "user.create" => create_user }
///     "/users/{id}" { GET "user.view" => get_user }
/// }
/// ```
///
/// Resources are registered in the order written (a literal segment such as
/// `/pictures/summary` before `/pictures/{id}`). `refuse: f;` first names the function
/// that answers a method not offered (TAXII's answers with a TAXII error message).
macro_rules! endpoints {
    (refuse: $refuse:path; $( $path:literal { $( $method:ident $action:literal => $handler:path ),+ $(,)? } )*) => {
        /// This module's routes, declared once (see `routes::endpoints!`).
        pub const ROUTES: $crate::routes::Routes = $crate::routes::Routes {
            endpoints: &[$($($crate::routes::Endpoint { method: stringify!($method), path: $path, action: $action },)+)*],
            configure: |cfg: &mut ::actix_web::web::ServiceConfig| {
                $(
                    cfg.service(
                        ::actix_web::web::resource($path)
                            $(.route(::actix_web::web::method(::actix_web::http::Method::$method).to($handler)))+
                            .default_service($refuse($crate::routes::allow(concat!($(stringify!($method), ", "),+)))),
                    );
                )*
            },
        };
    };
    ($( $path:literal { $($body:tt)* } )*) => {
        endpoints!(refuse: $crate::routes::not_allowed; $( $path { $($body)* } )*);
    };
}

pub mod access_log;
pub mod auth;
pub mod feed;
pub mod health;
pub mod keys;
pub mod me;
pub mod notifications;
pub mod organisations;
pub mod peers;
pub mod pictures;
pub mod reference;
pub mod reports;
pub mod service_accounts;
pub mod stream;
pub mod subscriptions;
pub mod taxii;
pub mod threads;
pub mod totp;
pub mod users;

/// The modules served under `/api/v1`, in the order they are registered.
pub const API: &[Routes] = &[
    auth::ROUTES,
    me::ROUTES,
    organisations::ROUTES,
    users::ROUTES,
    pictures::ROUTES,
    reference::ROUTES,
    subscriptions::ROUTES,
    peers::ROUTES,
    stream::ROUTES,
    feed::ROUTES,
    access_log::ROUTES,
    keys::ROUTES,
    service_accounts::ROUTES,
    totp::ROUTES,
    notifications::ROUTES,
    threads::ROUTES,
    reports::ROUTES,
];

/// Served under `/taxii2`.
pub const TAXII: Routes = taxii::ROUTES;
