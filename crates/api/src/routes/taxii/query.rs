//! The query parameters of the TAXII endpoints: filters, `limit`, `match[…]` and the `next`
//! positions, bound to the caller and the list.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sitrep_db::taxii::EntryKey;
use sitrep_stix::ids::{parse_time, stix_time};
use sitrep_types::Tier;

use crate::pagination::Cursors;
use crate::taxii::{TaxiiError, bad_request};

use super::*;

/// The query parameters of a collection's pages, as read and as the OpenAPI document
/// states them for the objects and the manifest (the endpoints of one object take fewer:
/// [`Endpoint`]).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RawQuery {
    pub(super) added_after: Option<String>,
    /// 1–1000, default 100
    #[param(value_type = Option<u32>)]
    pub(super) limit: Option<String>,
    pub(super) next: Option<String>,
    #[serde(rename = "match[id]")]
    pub(super) id: Option<String>,
    #[serde(rename = "match[type]")]
    pub(super) type_: Option<String>,
    /// first, last (default), all or a timestamp; comma list
    #[serde(rename = "match[version]")]
    pub(super) version: Option<String>,
    #[serde(rename = "match[spec_version]")]
    pub(super) spec_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum VersionSel {
    First,
    Last,
    All,
    /// A `modified` (or a marking's `created`), at STIX precision.
    At(String),
}

#[derive(Debug, Clone)]
pub(super) struct Filters {
    pub(super) added_after: Option<DateTime<Utc>>,
    pub(super) limit: usize,
    pub(super) next: Option<String>,
    pub(super) ids: Option<Vec<String>>,
    pub(super) types: Option<Vec<String>>,
    pub(super) versions: Vec<VersionSel>,
    /// `match[spec_version]` includes 2.1 (or is absent).
    pub(super) spec_ok: bool,
}

/// Which parameters an endpoint takes (TAXII 2.1 §5.3–5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Objects,
    Manifest,
    Object,
    Versions,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Objects => "objects",
            Endpoint::Manifest => "manifest",
            Endpoint::Object => "object",
            Endpoint::Versions => "versions",
        }
    }
}

pub(super) fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `match[version]` as the OpenAPI document states it: a comma-separated list of `first`,
/// `last`, `all` and timestamps (`Z`, seconds with any fraction). [`versions`] takes more
/// (spaces, other offsets, days of a month past the 28th); this says what surely passes.
pub const VERSION_PATTERN: &str = concat!(
    r"^(first|last|all|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z)",
    r"(,(first|last|all|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z))*$"
);

/// The versions a `match[version]` asks for: `400 invalid_version` unless each item is
/// `first`, `last`, `all` or a timestamp, and there is at least one.
pub(super) fn versions(v: &str) -> Result<Vec<VersionSel>, TaxiiError> {
    let mut out = Vec::new();
    for item in list(v) {
        out.push(match item.as_str() {
            "first" => VersionSel::First,
            "last" => VersionSel::Last,
            "all" => VersionSel::All,
            t => VersionSel::At(stix_time(parse_time(t).ok_or_else(|| {
                bad_request("invalid_version", "match[version] is first, last, all or a timestamp.")
            })?)),
        });
    }
    if out.is_empty() {
        return Err(bad_request("invalid_version", "match[version] is empty."));
    }
    Ok(out)
}

pub(super) fn filters(req: &HttpRequest, endpoint: Endpoint) -> Result<Filters, TaxiiError> {
    let q: RawQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| bad_request("invalid_query", "A query parameter is unknown, repeated or malformed."))?;
    let refuse = |name: &str| bad_request("invalid_query", format!("{name} is not a parameter of this endpoint."));
    if matches!(endpoint, Endpoint::Object | Endpoint::Versions) {
        if q.id.is_some() {
            return Err(refuse("match[id]"));
        }
        if q.type_.is_some() {
            return Err(refuse("match[type]"));
        }
    }
    if endpoint == Endpoint::Versions && q.version.is_some() {
        return Err(refuse("match[version]"));
    }
    let limit = match &q.limit {
        None => DEFAULT_LIMIT,
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => return Err(bad_request("invalid_limit", "limit is a positive integer.")),
        },
    };
    let added_after = match &q.added_after {
        None => None,
        Some(t) => {
            Some(parse_time(t).ok_or_else(|| bad_request("invalid_added_after", "added_after is a timestamp."))?)
        }
    };
    let versions = match &q.version {
        None => vec![if endpoint == Endpoint::Versions { VersionSel::All } else { VersionSel::Last }],
        Some(v) => versions(v)?,
    };
    Ok(Filters {
        added_after,
        limit,
        next: q.next.clone(),
        ids: q.id.as_deref().map(list),
        types: q.type_.as_deref().map(list),
        versions,
        spec_ok: q.spec_version.as_deref().is_none_or(|s| list(s).iter().any(|v| v == "2.1")),
    })
}

/// The list a `next` belongs to: the endpoint and the tier. A `next` is also bound to
/// the caller, the path (collection, object) and every other query parameter (filters
/// and `limit`; `crate::pagination`): any other use of it is `400`.
pub(super) fn cursor_list(endpoint: Endpoint, tier: Tier) -> String {
    format!("taxii:{}:{}", endpoint.name(), tier.as_str())
}

/// A position: an entry and how many of its objects came before.
pub(super) type Position = (EntryKey, usize);

pub(super) fn position_key((k, skip): &Position) -> String {
    format!("{}|{}|{}|{}|{}", k.added.timestamp_micros(), k.picture, k.revision, k.revoked, skip)
}

pub(super) fn parse_position(key: &str) -> Option<Position> {
    let mut it = key.split('|');
    let added = DateTime::from_timestamp_micros(it.next()?.parse().ok()?)?;
    let picture = it.next()?.parse().ok()?;
    let revision = it.next()?.parse().ok()?;
    let revoked = it.next()?.parse().ok()?;
    let skip = it.next()?.parse().ok()?;
    it.next().is_none().then_some((EntryKey { added, picture, revision, revoked }, skip))
}

pub(super) fn start(cursors: &Cursors, f: &Filters) -> Result<Option<Position>, TaxiiError> {
    let bad = || bad_request("invalid_next", "next is not valid for this request.");
    match cursors.after(f.next.as_deref()).map_err(|_| bad())? {
        Some(key) => Ok(Some(parse_position(&key).ok_or_else(bad)?)),
        None => Ok(None),
    }
}
