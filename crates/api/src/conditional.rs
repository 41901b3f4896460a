//! Conditional requests on pictures and reports (RFC 9110 §13): the `ETag` a caller is
//! given, `If-Match` on a write and `If-None-Match` on a read.

use actix_web::HttpRequest;
use actix_web::http::header;
use uuid::Uuid;

use crate::error::ApiError;

/// What the `ETag` of a picture or a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct Versioned<'a> {
    pub id: Uuid,
    pub originator: Uuid,
    /// Changes with every change, a proposed revision's included.
    pub version: i32,
    /// The revision in force.
    pub revision: i32,
    pub status: &'a str,
}

/// The `ETag` of `object` for a caller of organisation `caller_org`. The originator's
/// changes with every change, a proposed revision's included (its `If-Match`); everyone
/// else's derives from the revision in force and the status alone, so that it tells
/// nothing of work in progress.
pub fn etag(caller_org: Uuid, object: Versioned<'_>) -> String {
    if caller_org == object.originator {
        format!("\"{}-{}\"", object.id.simple(), object.version)
    } else {
        format!("\"{}-r{}-{}\"", object.id.simple(), object.revision, object.status)
    }
}

/// The `If-Match` of a request, if it sent one.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `412 stale_etag` unless `sent` (when there is one) is `now`, the object's `ETag` for
/// the caller, or `*` (any current representation, RFC 9110 §13.1.1): a change, an
/// approval or a publication then acts on the object as its caller last read it, and not
/// on a revision that replaced it in between. `detail` names the object.
pub fn check_if_match(now: &str, sent: Option<&str>, detail: &'static str) -> Result<(), ApiError> {
    match sent.map(str::trim) {
        Some(tag) if tag != "*" && tag != now => {
            Err(ApiError::Precondition { status: 412, code: "stale_etag", detail })
        }
        _ => Ok(()),
    }
}

/// Whether the request's `If-None-Match` names `tag` (weakly compared) or is `*`
/// (RFC 9110 §13.1.2): a read then answers `304` with no body.
pub fn none_match(req: &HttpRequest, tag: &str) -> bool {
    let Some(value) = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let strong = tag.trim_start_matches("W/");
    value.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == strong)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(version: i32) -> Versioned<'static> {
        Versioned { id: Uuid::nil(), originator: Uuid::from_u128(1), version, revision: 2, status: "published" }
    }

    #[test]
    fn only_the_originator_sees_an_etag_that_moves_with_work_in_progress() {
        let own = Uuid::from_u128(1);
        let other = Uuid::from_u128(2);
        assert_ne!(etag(own, object(3)), etag(own, object(4)));
        assert_eq!(etag(other, object(3)), etag(other, object(4)));
        assert_ne!(etag(own, object(3)), etag(other, object(3)));
    }

    #[test]
    fn if_match_passes_the_current_tag_or_a_star_or_nothing_and_nothing_else() {
        let now = "\"abc-3\"";
        assert!(check_if_match(now, None, "x").is_ok());
        assert!(check_if_match(now, Some(now), "x").is_ok());
        assert!(check_if_match(now, Some(" * "), "x").is_ok());
        for stale in ["\"abc-2\"", "W/\"abc-3\"", "", "abc-3"] {
            assert!(check_if_match(now, Some(stale), "x").is_err(), "{stale}");
        }
    }
}
