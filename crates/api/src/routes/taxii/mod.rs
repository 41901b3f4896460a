//! TAXII 2.1 (docs/taxii.md): discovery, one API root, one read-only collection per tier
//! the caller reads, and its objects, manifest and versions as STIX 2.1. (The inbox
//! collection, where service accounts post STIX, is `routes::pictures::inbox`.)
//!
//! Nothing here decides who sees what: the collections are the tiers `in_audience`
//! allows, the entries come through the SQL visibility predicate (`sitrep_db::taxii`),
//! older revisions pass `revision_readable` and every revision's indicators
//! `revision_content` — the same functions the REST API calls. Every read writes its
//! access-log record on the client that read the data, as the REST reads do.
//!
//! The handlers are here; the collections a caller has (`collections`), the query
//! parameters and `next` positions (`query`) and the reading of a page (`pages`) are
//! modules of their own.

mod collections;
mod pages;
mod query;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use sitrep_stix::ids::{self, taxii_time};
use sitrep_types::{
    TaxiiApiRoot, TaxiiCollection, TaxiiCollections, TaxiiDiscovery, TaxiiEnvelope, TaxiiManifest, TaxiiManifestRecord,
    TaxiiVersions,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::meta::RequestMeta;
use crate::state::AppState;
use crate::taxii::{
    OBJECT_NOT_FOUND, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, TaxiiCaller, TaxiiError, TaxiiFailures, inbox_collection,
    taxii_json, tiers, writes_inbox,
};

use collections::*;
use pages::*;
pub use query::VERSION_PATTERN;
use query::*;

endpoints! {
    refuse: crate::taxii::only;
    "/" { GET "taxii.discovery" => discovery }
    "/api/" { GET "taxii.api_root" => api_root }
    "/api/collections/" { GET "taxii.collections" => list_collections }
    "/api/collections/{collection}/" { GET "taxii.collection" => get_collection }
    "/api/collections/{collection}/manifest/" { GET "taxii.manifest" => get_manifest }
    // The inbox takes what is added (it makes pictures of it).
    "/api/collections/{collection}/objects/" {
        GET "taxii.objects" => get_objects,
        POST "taxii.add_objects" => crate::routes::pictures::inbox::add_objects,
    }
    "/api/collections/{collection}/objects/{object}/" { GET "taxii.object" => get_object }
    "/api/collections/{collection}/objects/{object}/versions/" { GET "taxii.versions" => get_versions }
    "/api/status/{status}/" { GET "taxii.status" => crate::routes::pictures::inbox::get_status }
}

/// Objects per page without `limit`, and the most a page holds.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// The most batches of entries one request reads before it answers `more` (so that a
/// narrow filter over a large collection cannot hold a request for long).
const MAX_BATCHES: usize = 20;
/// Types of the objects made from pictures (the others are identities and markings).
const PICTURE_TYPES: [&str; 5] = ["report", "attack-pattern", "indicator", "artifact", "language-content"];

// ---------------------------------------------------------------------------------------
// Handlers.

/// The server's origin as the client reached it (`https://host`): forwarded host and
/// scheme only from a trusted balancer (http.trusted_proxies), as for the client
/// address; from anyone else, this connection's own.
fn origin(state: &AppState, req: &HttpRequest) -> String {
    let trusted = req.peer_addr().is_some_and(|a| state.trusted_proxies.contains(a.ip()));
    if trusted {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    } else {
        let config = req.app_config();
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(config.host());
        format!("{}://{host}", if config.secure() { "https" } else { "http" })
    }
}

/// TAXII discovery: the API root.
#[utoipa::path(
    get, path = "/taxii2/", tag = "taxii", security(("bearer" = [])),
    params(("Accept" = String, Header, description = "application/taxii+json;version=2.1")),
    responses((status = 200, body = TaxiiDiscovery, content_type = "application/taxii+json;version=2.1"), TaxiiFailures)
)]
pub async fn discovery(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    req: HttpRequest,
) -> Result<HttpResponse, TaxiiError> {
    let root = format!("{}/taxii2/api/", origin(&state, &req));
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    Ok(taxii_json(&TaxiiDiscovery {
        title: "Sitrep".into(),
        description: Some("Situation pictures of the cooperation group on election security, as STIX 2.1".into()),
        default: Some(root.clone()),
        api_roots: vec![root],
    }))
}

/// The API root.
#[utoipa::path(
    get, path = "/taxii2/api/", tag = "taxii", security(("bearer" = [])),
    params(("Accept" = String, Header, description = "application/taxii+json;version=2.1")),
    responses((status = 200, body = TaxiiApiRoot, content_type = "application/taxii+json;version=2.1"), TaxiiFailures)
)]
pub async fn api_root(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
) -> Result<HttpResponse, TaxiiError> {
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    Ok(taxii_json(&TaxiiApiRoot {
        title: "Sitrep situation pictures".into(),
        description: Some(
            "One read-only collection per sharing tier the caller reads, and the organisation's inbox for its \
             service accounts that write pictures"
                .into(),
        ),
        versions: vec![TAXII_MEDIA_TYPE.into()],
        max_content_length: u64::try_from(sitrep_stix::inbox::MAX_CONTENT_LENGTH).unwrap_or(u64::MAX),
    }))
}

/// The collections: one per tier the caller reads (none without a reading role).
#[utoipa::path(
    get, path = "/taxii2/api/collections/", tag = "taxii", security(("bearer" = [])),
    params(("Accept" = String, Header, description = "application/taxii+json;version=2.1")),
    responses((status = 200, body = TaxiiCollections, content_type = "application/taxii+json;version=2.1"), TaxiiFailures)
)]
pub async fn list_collections(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
) -> Result<HttpResponse, TaxiiError> {
    let tiers = tiers(&caller);
    let inbox = writes_inbox(&caller);
    let mut names: Vec<&str> = tiers.iter().map(|t| t.as_str()).collect();
    if inbox {
        names.push("inbox");
    }
    let mut record = access_log::by(&meta, &caller);
    record.object_type = Some("taxii_collection");
    record.reason = Some(format!("collections:{}", names.join(",")));
    access_log::commit(&state, &meta, record).await?;
    let mut collections: Vec<TaxiiCollection> = tiers.into_iter().map(collection).collect();
    if inbox {
        collections.push(inbox_collection(&caller));
    }
    Ok(taxii_json(&TaxiiCollections { collections: (!collections.is_empty()).then_some(collections) }))
}

/// One collection.
#[utoipa::path(
    get, path = "/taxii2/api/collections/{collection}/", tag = "taxii", security(("bearer" = [])),
    params(("collection" = Uuid, Path), ("Accept" = String, Header, description = "application/taxii+json;version=2.1")),
    responses((status = 200, body = TaxiiCollection, content_type = "application/taxii+json;version=2.1"), TaxiiFailures)
)]
pub async fn get_collection(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, TaxiiError> {
    if Uuid::parse_str(&path).is_ok_and(|id| own_inbox(&caller, id)) {
        let inbox = inbox_collection(&caller);
        access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("taxii_collection", inbox.id)).await?;
        return Ok(taxii_json(&inbox));
    }
    let tier = tier_of(&caller, &path)?;
    let mut record = access_log::by(&meta, &caller).object("taxii_collection", ids::collection(tier));
    record.tier = Some(tier.as_str().to_owned());
    access_log::commit(&state, &meta, record).await?;
    Ok(taxii_json(&collection(tier)))
}

/// Objects of a collection (an envelope), ascending `date_added`. Without
/// `match[version]`, each object's newest version.
#[utoipa::path(
    get, path = "/taxii2/api/collections/{collection}/objects/", tag = "taxii", security(("bearer" = [])),
    params(
        ("collection" = Uuid, Path),
        ("Accept" = String, Header, description = "application/taxii+json;version=2.1"),
        RawQuery,
    ),
    responses(
        (status = 200, body = TaxiiEnvelope, content_type = "application/taxii+json;version=2.1",
         headers(("X-TAXII-Date-Added-First" = String), ("X-TAXII-Date-Added-Last" = String))),
        TaxiiFailures
    )
)]
pub async fn get_objects(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, TaxiiError> {
    let (out, next) = read_page(&state, &meta, &caller, &req, &path, None, Endpoint::Objects).await?;
    Ok(envelope(out, next))
}

fn envelope(out: PageOut, next: Option<String>) -> HttpResponse {
    let objects: Vec<Value> = out.items.iter().map(|i| i.object.clone()).collect();
    let body = TaxiiEnvelope { more: next.is_some(), next, objects: (!objects.is_empty()).then_some(objects) };
    page_response(&out.items, &body)
}

/// The manifest of a collection: which object versions it holds and when they were added.
#[utoipa::path(
    get, path = "/taxii2/api/collections/{collection}/manifest/", tag = "taxii", security(("bearer" = [])),
    params(
        ("collection" = Uuid, Path),
        ("Accept" = String, Header, description = "application/taxii+json;version=2.1"),
        RawQuery,
    ),
    responses(
        (status = 200, body = TaxiiManifest, content_type = "application/taxii+json;version=2.1",
         headers(("X-TAXII-Date-Added-First" = String), ("X-TAXII-Date-Added-Last" = String))),
        TaxiiFailures
    )
)]
pub async fn get_manifest(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, TaxiiError> {
    let (out, next) = read_page(&state, &meta, &caller, &req, &path, None, Endpoint::Manifest).await?;
    let records: Vec<TaxiiManifestRecord> = out
        .items
        .iter()
        .map(|i| TaxiiManifestRecord {
            id: id_of(&i.object).to_owned(),
            date_added: taxii_time(i.added),
            version: item_version(i),
            media_type: STIX_MEDIA_TYPE.into(),
        })
        .collect();
    let body = TaxiiManifest { more: next.is_some(), next, objects: (!records.is_empty()).then_some(records) };
    Ok(page_response(&out.items, &body))
}

/// One object (an envelope of its versions; the newest without `match[version]`).
#[utoipa::path(
    get, path = "/taxii2/api/collections/{collection}/objects/{object}/", tag = "taxii", security(("bearer" = [])),
    params(
        ("collection" = Uuid, Path), ("object" = String, Path, description = "A STIX id"),
        ("Accept" = String, Header, description = "application/taxii+json;version=2.1"),
        ("added_after" = Option<String>, Query), ("limit" = Option<u32>, Query), ("next" = Option<String>, Query),
        ("match[version]" = Option<String>, Query), ("match[spec_version]" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = TaxiiEnvelope, content_type = "application/taxii+json;version=2.1",
         headers(("X-TAXII-Date-Added-First" = String), ("X-TAXII-Date-Added-Last" = String))),
        TaxiiFailures
    )
)]
pub async fn get_object(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, TaxiiError> {
    let (collection, object) = path.into_inner();
    sitrep_stix::check::check_id(&object, None).map_err(|_| OBJECT_NOT_FOUND)?;
    let (out, next) = read_page(&state, &meta, &caller, &req, &collection, Some(&object), Endpoint::Object).await?;
    Ok(envelope(out, next))
}

/// The versions of one object (its `modified` timestamps), ascending `date_added`.
#[utoipa::path(
    get, path = "/taxii2/api/collections/{collection}/objects/{object}/versions/", tag = "taxii",
    security(("bearer" = [])),
    params(
        ("collection" = Uuid, Path), ("object" = String, Path, description = "A STIX id"),
        ("Accept" = String, Header, description = "application/taxii+json;version=2.1"),
        ("added_after" = Option<String>, Query), ("limit" = Option<u32>, Query), ("next" = Option<String>, Query),
        ("match[spec_version]" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = TaxiiVersions, content_type = "application/taxii+json;version=2.1",
         headers(("X-TAXII-Date-Added-First" = String), ("X-TAXII-Date-Added-Last" = String))),
        TaxiiFailures
    )
)]
pub async fn get_versions(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, TaxiiError> {
    let (collection, object) = path.into_inner();
    sitrep_stix::check::check_id(&object, None).map_err(|_| OBJECT_NOT_FOUND)?;
    let (out, next) = read_page(&state, &meta, &caller, &req, &collection, Some(&object), Endpoint::Versions).await?;
    let versions: Vec<String> = out.items.iter().map(item_version).collect();
    let body = TaxiiVersions { more: next.is_some(), next, versions: (!versions.is_empty()).then_some(versions) };
    Ok(page_response(&out.items, &body))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use chrono::DateTime;
    use sitrep_db::taxii::EntryKey;

    use super::*;

    proptest! {
        /// Whatever the document's `match[version]` pattern allows, the server takes.
        #[test]
        fn every_version_list_the_pattern_allows_is_taken(
            v in proptest::string::string_regex(VERSION_PATTERN.trim_start_matches('^').trim_end_matches('$')).unwrap(),
        ) {
            prop_assert!(versions(&v).is_ok(), "{:?}", v);
        }
    }

    #[test]
    fn an_empty_version_list_is_refused_and_the_pattern_says_so() {
        assert!(versions("").is_err() && versions(" , ").is_err());
        let pattern = regex::Regex::new(VERSION_PATTERN).unwrap();
        assert!(!pattern.is_match("") && !pattern.is_match("2026-13-01T00:00:00Z"));
        assert!(pattern.is_match("first,2026-02-28T23:59:59.123Z"));
    }

    #[test]
    fn positions_round_trip() {
        let pos = (
            EntryKey {
                added: DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap(),
                picture: Uuid::from_u128(9),
                revision: 3,
                revoked: true,
            },
            2,
        );
        assert_eq!(parse_position(&position_key(&pos)), Some(pos));
        assert_eq!(parse_position("1|2|3"), None);
    }
}
