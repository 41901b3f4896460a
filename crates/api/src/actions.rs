//! The action name the access log records for each route, looked up in the routes'
//! declarations (each module's `endpoints!`): used by handlers for their own records and
//! by the envelope for refusals.

use actix_web::http::Method;

use crate::routes::{self, Endpoint};

/// Every route that touches data, as `(method, route pattern, action)`: the modules'
/// declarations (`routes::API` under `/api/v1`, `routes::TAXII` under `/taxii2`).
pub fn all() -> impl Iterator<Item = (&'static str, String, &'static str)> {
    prefixed().flat_map(|(prefix, endpoints)| {
        endpoints.iter().map(move |e| (e.method, format!("{prefix}{}", e.path), e.action))
    })
}

fn prefixed() -> impl Iterator<Item = (&'static str, &'static [Endpoint])> {
    routes::API.iter().map(|r| ("/api/v1", r.endpoints)).chain([("/taxii2", routes::TAXII.endpoints)])
}

/// The action of a request; `request` for a route not in the table (unknown paths,
/// methods a route does not offer).
pub fn action(method: &Method, pattern: Option<&str>) -> &'static str {
    let Some(pattern) = pattern else { return "request" };
    prefixed()
        .filter_map(|(prefix, endpoints)| pattern.strip_prefix(prefix).map(|path| (path, endpoints)))
        .flat_map(|(path, endpoints)| endpoints.iter().filter(move |e| e.path == path))
        .find(|e| e.method == method.as_str())
        .map_or("request", |e| e.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes_have_their_action_and_others_are_requests() {
        assert_eq!(action(&Method::POST, Some("/api/v1/auth/login")), "auth.login");
        assert_eq!(action(&Method::DELETE, Some("/api/v1/auth/login")), "request");
        assert_eq!(action(&Method::GET, None), "request");
    }

    #[test]
    fn actions_are_unique() {
        let mut names: Vec<&str> = all().map(|a| a.2).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
