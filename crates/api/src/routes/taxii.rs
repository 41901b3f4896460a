//! TAXII 2.1 (docs/taxii.md): discovery, one API root, one read-only collection per tier
//! the caller reads, and its objects, manifest and versions as STIX 2.1. (The inbox
//! collection, where service accounts post STIX, is `routes::pictures::inbox`.)
//!
//! Nothing here decides who sees what: the collections are the tiers `in_audience`
//! allows, the entries come through the SQL visibility predicate (`sitrep_db::taxii`),
//! older revisions pass `revision_readable` and every revision's indicators
//! `revision_content` — the same functions the REST API calls. Every read writes its
//! access-log record on the client that read the data, as the REST reads do.

use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sitrep_db::GenericClient;
use sitrep_db::taxii::{self as db, EntryKey, EntryQuery, EntryRow};
use sitrep_domain::visibility::{Handling, IndicatorHistory, Redacted, Viewer, revision_content, revision_readable};
use sitrep_stix::ids::{self, parse_time, stix_time, taxii_time};
use sitrep_stix::{Organisation, ReportVersion, tlp};
use sitrep_types::{
    TaxiiApiRoot, TaxiiCollection, TaxiiCollections, TaxiiDiscovery, TaxiiEnvelope, TaxiiManifest, TaxiiManifestRecord,
    TaxiiVersions, Tier, Tlp,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::Cursors;
use crate::principal::Principal;
use crate::state::AppState;
use crate::taxii::{
    COLLECTION_NOT_FOUND, OBJECT_NOT_FOUND, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, TaxiiCaller, TaxiiError, TaxiiFailures,
    bad_request, inbox_collection, taxii_json, tiers, writes_inbox,
};

/// Objects per page without `limit`, and the most a page holds.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// The most batches of entries one request reads before it answers `more` (so that a
/// narrow filter over a large collection cannot hold a request for long).
const MAX_BATCHES: usize = 20;
/// Types of the objects made from pictures (the others are identities and markings).
const PICTURE_TYPES: [&str; 5] = ["report", "attack-pattern", "indicator", "artifact", "language-content"];

// ---------------------------------------------------------------------------------------
// Collections: the tiers the caller reads.

fn collection(tier: Tier) -> TaxiiCollection {
    let (title, description) = match tier {
        Tier::Named => ("Named recipients", "Pictures for the originator and the organisations they name"),
        Tier::Group => ("Cooperation group", "Pictures for every member organisation of the cooperation group"),
        Tier::GroupVirt => ("Group and Election-VIRT", "Pictures for the group and the Election-VIRT organisations"),
        Tier::GroupVirtRas => {
            ("Group, Election-VIRT and RAS", "Pictures for the group, Election-VIRT and the RAS contact point")
        }
        Tier::Public => ("Public", "Pictures releasable outside the group"),
    };
    TaxiiCollection {
        id: ids::collection(tier),
        title: title.into(),
        description: Some(description.into()),
        alias: tier.as_str().into(),
        can_read: true,
        can_write: false,
        media_types: vec![STIX_MEDIA_TYPE.into()],
    }
}

/// The tier of collection `id`, if the caller reads it; otherwise `404`.
fn tier_of(p: &Principal, id: &str) -> Result<Tier, TaxiiError> {
    let id = Uuid::parse_str(id).map_err(|_| COLLECTION_NOT_FOUND)?;
    if own_inbox(p, id) {
        return Err(TaxiiError::Api(ApiError::Forbidden {
            code: "collection_not_readable",
            detail: "The inbox is write-only: what is posted becomes drafts, read through the REST API.",
        }));
    }
    tiers(p).into_iter().find(|t| ids::collection(*t) == id).ok_or(COLLECTION_NOT_FOUND)
}

/// `id` is the inbox of the caller's organisation and the caller may write to it.
fn own_inbox(p: &Principal, id: Uuid) -> bool {
    id == ids::inbox(p.organisation_id) && writes_inbox(p)
}

// ---------------------------------------------------------------------------------------
// Query parameters.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    added_after: Option<String>,
    limit: Option<String>,
    next: Option<String>,
    #[serde(rename = "match[id]")]
    id: Option<String>,
    #[serde(rename = "match[type]")]
    type_: Option<String>,
    #[serde(rename = "match[version]")]
    version: Option<String>,
    #[serde(rename = "match[spec_version]")]
    spec_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum VersionSel {
    First,
    Last,
    All,
    /// A `modified` (or a marking's `created`), at STIX precision.
    At(String),
}

#[derive(Debug, Clone)]
struct Filters {
    added_after: Option<DateTime<Utc>>,
    limit: usize,
    next: Option<String>,
    ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    versions: Vec<VersionSel>,
    /// `match[spec_version]` includes 2.1 (or is absent).
    spec_ok: bool,
}

/// Which parameters an endpoint takes (TAXII 2.1 §5.3–5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
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

fn list(s: &str) -> Vec<String> {
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
fn versions(v: &str) -> Result<Vec<VersionSel>, TaxiiError> {
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

fn filters(req: &HttpRequest, endpoint: Endpoint) -> Result<Filters, TaxiiError> {
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
fn cursor_list(endpoint: Endpoint, tier: Tier) -> String {
    format!("taxii:{}:{}", endpoint.name(), tier.as_str())
}

/// A position: an entry and how many of its objects came before.
type Position = (EntryKey, usize);

fn position_key((k, skip): &Position) -> String {
    format!("{}|{}|{}|{}|{}", k.added.timestamp_micros(), k.picture, k.revision, k.revoked, skip)
}

fn parse_position(key: &str) -> Option<Position> {
    let mut it = key.split('|');
    let added = DateTime::from_timestamp_micros(it.next()?.parse().ok()?)?;
    let picture = it.next()?.parse().ok()?;
    let revision = it.next()?.parse().ok()?;
    let revoked = it.next()?.parse().ok()?;
    let skip = it.next()?.parse().ok()?;
    it.next().is_none().then_some((EntryKey { added, picture, revision, revoked }, skip))
}

fn start(cursors: &Cursors, f: &Filters) -> Result<Option<Position>, TaxiiError> {
    let bad = || bad_request("invalid_next", "next is not valid for this request.");
    match cursors.after(f.next.as_deref()).map_err(|_| bad())? {
        Some(key) => Ok(Some(parse_position(&key).ok_or_else(bad)?)),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------
// Pages of a collection.

/// One object of a page, with the `date_added` of its version.
struct Item {
    added: DateTime<Utc>,
    object: Value,
}

struct PageOut {
    items: Vec<Item>,
    next: Option<Position>,
    /// Pictures whose objects the page holds, in order.
    pictures: Vec<Uuid>,
    redacted: Redacted,
    /// Ids (and `id@version`) of the objects of the page so far: what is already there
    /// is not carried again.
    carried: HashSet<String>,
}

/// What `o` refers to that the page does not hold yet, each after what it refers to
/// in turn (a marking definition's creator before the marking), at most `depth` deep.
fn carry_references<'a>(
    o: &Value,
    referable: &'a HashMap<String, Value>,
    in_page: &HashSet<String>,
    out: &mut Vec<&'a Value>,
    depth: u8,
) {
    if depth == 0 {
        return;
    }
    for r in references(o) {
        if r == id_of(o) || in_page.contains(r) || out.iter().any(|c| id_of(c) == r) {
            continue;
        }
        if let Some(target) = referable.get(r) {
            carry_references(target, referable, in_page, out, depth - 1);
            if !out.iter().any(|c| id_of(c) == r) {
                out.push(target);
            }
        }
    }
}

/// What an object refers to: its creator, its markings and (a report) its objects.
fn references(o: &Value) -> impl Iterator<Item = &str> {
    let creator = o.get("created_by_ref").and_then(Value::as_str);
    let list = |key: &str| o.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    creator.into_iter().chain(list("object_marking_refs")).chain(list("object_refs"))
}

/// An entry of the collection: a picture version, an organisation or a marking.
struct Unit {
    key: EntryKey,
    objects: Vec<Value>,
    picture: Option<Uuid>,
    redacted: Redacted,
}

fn version_of(o: &Value) -> &str {
    o.get("modified").or_else(|| o.get("created")).and_then(Value::as_str).unwrap_or_default()
}

/// The version of an item: its object's `modified` (or `created`); a cyber observable
/// has neither, and its version is the `date_added` of the report version it came with.
fn item_version(i: &Item) -> String {
    match version_of(&i.object) {
        "" => stix_time(i.added),
        v => v.to_owned(),
    }
}

fn id_of(o: &Value) -> &str {
    o.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// The STIX objects of a picture version as `p` may see them, or `None` if `p` may not
/// read that revision; with what was left out. `history` holds the picture's indicators
/// and attachments in every revision (none is needed for the version in force);
/// `origin` is the server's, for the artifacts' download URLs.
fn expand(
    p: &Principal,
    e: &EntryRow,
    history: Option<&IndicatorHistory>,
    origin: &str,
) -> Option<(Vec<Value>, Redacted)> {
    // Every version a collection holds came into force as a published revision.
    let v = Viewer::from(&p.permissions);
    if !revision_readable(&v, e.originator_id, true, &e.content) {
        return None;
    }
    let none = IndicatorHistory::default();
    let now = Handling { originator: e.originator_id, status: e.status, tier: e.tier, named: &e.named_recipients };
    let (content, redacted) = revision_content(&v, &now, e.revision, e.content.clone(), history.unwrap_or(&none), &[]);
    let objects = sitrep_stix::picture_objects(&ReportVersion {
        picture_id: e.picture_id,
        reference: &e.reference,
        revision: e.revision,
        originator: e.originator_id,
        created: e.created_at,
        published: e.published_at.unwrap_or(e.added).min(e.added),
        modified: e.added,
        revoked: e.revoked,
        content: &content,
        origin,
    });
    Some((objects, redacted))
}

/// The organisations, the TLP markings and DISARM's objects: one version each.
async fn static_units(c: &impl GenericClient) -> Result<Vec<Unit>, TaxiiError> {
    let marking_added = parse_time(tlp::CREATED).unwrap_or_default();
    let mut units: Vec<Unit> = Tlp::ALL
        .iter()
        .map(|t| {
            let id = tlp::marking_id(*t);
            let uuid = id.split_once("--").and_then(|(_, u)| Uuid::parse_str(u).ok()).unwrap_or_default();
            Unit {
                key: EntryKey { added: marking_added, picture: uuid, revision: 0, revoked: false },
                objects: vec![tlp::marking_definition(*t)],
                picture: None,
                redacted: Redacted::default(),
            }
        })
        .collect();
    for o in sitrep_db::accounts::list_organisations(c, None, i64::MAX).await? {
        let name = o.name.en.as_ref().or(o.name.fi.as_ref()).or(o.name.sv.as_ref()).unwrap_or(&o.code);
        let identity = sitrep_stix::identity(&Organisation {
            id: o.id,
            code: &o.code,
            name,
            created: o.created_at,
            modified: o.updated_at,
        });
        units.push(Unit {
            key: EntryKey { added: o.updated_at.max(o.created_at), picture: o.id, revision: 0, revoked: false },
            objects: vec![identity],
            picture: None,
            redacted: Redacted::default(),
        });
    }
    // DISARM's identity, licence marking and techniques: what DISARM's own STIX holds.
    for o in sitrep_stix::disarm::reference_objects() {
        let uuid = id_of(&o).split_once("--").and_then(|(_, u)| Uuid::parse_str(u).ok()).unwrap_or_default();
        let added = o.get("created").and_then(Value::as_str).and_then(parse_time).unwrap_or(marking_added);
        units.push(Unit {
            key: EntryKey { added, picture: uuid, revision: 0, revoked: false },
            objects: vec![o],
            picture: None,
            redacted: Redacted::default(),
        });
    }
    units.sort_by_key(|u| u.key);
    Ok(units)
}

/// Which pictures of the collection the ids in `wanted` can belong to (by recomputing
/// the ids of what the viewer sees); `None` when no id names a picture's object.
async fn pictures_for_ids(
    c: &impl GenericClient,
    v: &Viewer,
    tier: Tier,
    wanted: &HashSet<&str>,
) -> Result<Option<Vec<Uuid>>, TaxiiError> {
    let has = |t: &str| wanted.iter().any(|id| id.starts_with(&format!("{t}--")));
    let (reports, techniques, indicators, artifacts) =
        (has("report") || has("language-content"), has("attack-pattern"), has("indicator"), has("artifact"));
    if !(reports || techniques || indicators || artifacts) {
        return Ok(None);
    }
    let keys = db::picture_keys(c, v, tier, techniques, indicators, artifacts).await?;
    let mut out = Vec::new();
    for k in keys {
        let hit = (reports
            && (wanted.contains(ids::report(k.picture).as_str())
                || wanted.contains(ids::language_content(k.picture).as_str())))
            || k.techniques.iter().any(|t| {
                [true, false].iter().any(|d| wanted.contains(sitrep_stix::disarm::attack_pattern_id(t, *d).as_str()))
            })
            || k.indicators.iter().any(|i| {
                i.split_once(':')
                    .is_some_and(|(kind, value)| wanted.contains(ids::indicator(k.picture, kind, value).as_str()))
            })
            || k.attachments.iter().any(|(a, tlp)| wanted.contains(ids::artifact(k.picture, *a, *tlp).as_str()));
        if hit {
            out.push(k.picture);
        }
    }
    Ok(Some(out))
}

/// One page of the collection of `tier` for `p`, from `from` on: the objects that pass
/// the filters, in ascending `date_added`, at most `f.limit`.
async fn page(
    c: &impl GenericClient,
    p: &Principal,
    tier: Tier,
    f: &Filters,
    object: Option<&str>,
    from: Option<Position>,
    origin: &str,
) -> Result<PageOut, TaxiiError> {
    let v = Viewer::from(&p.permissions);
    let ids: Option<Vec<String>> = object.map(|o| vec![o.to_owned()]).or_else(|| f.ids.clone());
    let wanted: Option<HashSet<&str>> = ids.as_ref().map(|l| l.iter().map(String::as_str).collect());
    let type_ok = |t: &str| f.types.as_ref().is_none_or(|types| types.iter().any(|x| x == t));
    let newest_only = wanted.is_none() && f.versions == [VersionSel::Last];
    let mut out = PageOut {
        items: Vec::new(),
        next: None,
        pictures: Vec::new(),
        redacted: Redacted::default(),
        carried: HashSet::new(),
    };
    if !f.spec_ok {
        return Ok(out);
    }

    let mut statics: Vec<Unit> = static_units(c).await?;
    // What the page's objects refer to, by id: carried before the first object that
    // refers to it when no `match[id]` names objects.
    let mut referable: HashMap<String, Value> =
        statics.iter().flat_map(|u| &u.objects).map(|o| (id_of(o).to_owned(), o.clone())).collect();
    let carry = wanted.is_none();
    // Identities and markings are entries of their own only when `match[id]` names them.
    statics.retain(|u| {
        wanted.is_some() && f.added_after.is_none_or(|a| u.key.added > a) && from.is_none_or(|(k, _)| u.key >= k)
    });
    for u in &mut statics {
        u.objects.retain(|o| {
            let t = o.get("type").and_then(Value::as_str).unwrap_or_default();
            type_ok(t)
                && wanted.as_ref().is_none_or(|w| w.contains(id_of(o)))
                && f.versions.iter().any(|s| !matches!(s, VersionSel::At(at) if at != version_of(o)))
        });
    }
    statics.retain(|u| !u.objects.is_empty());
    let mut statics = statics.into_iter().peekable();

    let pictures = match &wanted {
        Some(w) => pictures_for_ids(c, &v, tier, w).await?.or(Some(Vec::new())),
        None => None,
    };
    let mut sql_done =
        !(carry || PICTURE_TYPES.iter().any(|t| type_ok(t))) || pictures.as_ref().is_some_and(Vec::is_empty);
    let batch = (f.limit + 1).clamp(50, 1000) as i64;
    let mut buffer: std::collections::VecDeque<EntryRow> = Default::default();
    let mut sql_from = from.map(|(k, _)| k);
    let mut last_sql: Option<EntryKey> = None;
    let mut batches = 0;
    // Every version of an object, per picture, for `first`, `last` and timestamps.
    let mut histories: HashMap<Uuid, HashMap<String, Vec<String>>> = HashMap::new();
    // Every revision's indicators, per picture, for what old versions show.
    let mut indicators: HashMap<Uuid, IndicatorHistory> = HashMap::new();
    let mut position = from;

    loop {
        if buffer.is_empty() && !sql_done {
            if batches == MAX_BATCHES && position.is_some() {
                out.next = position;
                return Ok(out);
            }
            batches += 1;
            let q = EntryQuery {
                newest_only,
                added_after: f.added_after,
                from: sql_from,
                pictures: pictures.as_deref(),
                limit: batch,
            };
            let rows = db::entries(c, &v, tier, &q).await?;
            sql_done = (rows.len() as i64) < batch;
            sql_from = rows.last().map(EntryRow::key).or(sql_from);
            buffer.extend(rows.into_iter().filter(|r| last_sql.is_none_or(|l| r.key() > l)));
            if let Some(r) = buffer.back() {
                last_sql = Some(r.key());
            }
            if !newest_only {
                let ids: Vec<Uuid> = buffer
                    .iter()
                    .map(|e| e.picture_id)
                    .filter(|id| !indicators.contains_key(id))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                indicators.extend(sitrep_db::pictures::indicator_history(c, &ids).await?);
            }
            if !newest_only && !f.versions.contains(&VersionSel::All) {
                load_histories(c, p, tier, &buffer, &mut histories, &indicators, origin).await?;
            }
            continue;
        }
        let take_static = match (statics.peek(), buffer.front()) {
            (Some(s), Some(e)) => s.key < e.key(),
            (Some(_), None) => sql_done,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let unit = if take_static {
            match statics.next() {
                Some(u) => u,
                None => break,
            }
        } else {
            let Some(e) = buffer.pop_front() else { break };
            let Some((objects, redacted)) = expand(p, &e, indicators.get(&e.picture_id), origin) else {
                position = Some((e.key(), 0));
                continue;
            };
            let history = histories.get(&e.picture_id);
            let objects = objects
                .into_iter()
                .filter(|o| {
                    // Techniques are the frameworks' objects, shared by every picture that
                    // cites them: carried with the report that refers to them.
                    if carry && o.get("type").and_then(Value::as_str) == Some("attack-pattern") {
                        referable.entry(id_of(o).to_owned()).or_insert_with(|| o.clone());
                        return false;
                    }
                    // An artifact is carried with the report that refers to it, as this
                    // version shows it (its marking is this version's TLP of the file).
                    if carry && o.get("type").and_then(Value::as_str) == Some("artifact") {
                        referable.insert(id_of(o).to_owned(), o.clone());
                        return false;
                    }
                    true
                })
                .filter(|o| {
                    // Without `match[id]` the type filter applies as objects are
                    // emitted: what a left-out object refers to may still be asked for.
                    (carry || type_ok(o.get("type").and_then(Value::as_str).unwrap_or_default()))
                        && wanted.as_ref().is_none_or(|w| w.contains(id_of(o)))
                        && (newest_only || version_matches(&f.versions, o, history))
                })
                .collect();
            Unit { key: e.key(), objects, picture: Some(e.picture_id), redacted }
        };
        let skip = match from {
            Some((k, n)) if k == unit.key => n,
            _ => 0,
        };
        let mut emitted = false;
        for (i, o) in unit.objects.iter().enumerate().skip(skip) {
            let mut carried: Vec<&Value> = Vec::new();
            if carry {
                carry_references(o, &referable, &out.carried, &mut carried, 3);
                carried.retain(|r| type_ok(r.get("type").and_then(Value::as_str).unwrap_or_default()));
            }
            // One version once per page (a technique can come from several pictures).
            let version_key = format!("{}@{}", id_of(o), version_of(o));
            let own = type_ok(o.get("type").and_then(Value::as_str).unwrap_or_default())
                && !out.carried.contains(&version_key);
            let count = carried.len() + usize::from(own);
            if count == 0 {
                continue;
            }
            // A page holds at most `limit` objects, what they refer to included; a page
            // always holds at least one object, so that paging ends.
            if !out.items.is_empty() && out.items.len() + count > f.limit {
                out.next = Some((unit.key, i));
                return Ok(out);
            }
            for r in carried {
                out.carried.insert(id_of(r).to_owned());
                out.items.push(Item { added: unit.key.added, object: r.clone() });
            }
            if own {
                out.carried.insert(id_of(o).to_owned());
                out.carried.insert(version_key);
                out.items.push(Item { added: unit.key.added, object: o.clone() });
            }
            emitted = true;
        }
        if emitted && let Some(pic) = unit.picture {
            if out.pictures.last() != Some(&pic) {
                out.pictures.push(pic);
            }
            out.redacted.indicators += unit.redacted.indicators;
            out.redacted.attachments += unit.redacted.attachments;
        }
        position = Some((unit.key, unit.objects.len()));
    }
    Ok(out)
}

/// Every version (as `p` sees them) of every object of the pictures in `entries`.
async fn load_histories(
    c: &impl GenericClient,
    p: &Principal,
    tier: Tier,
    entries: &std::collections::VecDeque<EntryRow>,
    histories: &mut HashMap<Uuid, HashMap<String, Vec<String>>>,
    indicators: &HashMap<Uuid, IndicatorHistory>,
    origin: &str,
) -> Result<(), TaxiiError> {
    let missing: Vec<Uuid> = {
        let mut seen = HashSet::new();
        entries.iter().map(|e| e.picture_id).filter(|id| !histories.contains_key(id) && seen.insert(*id)).collect()
    };
    if missing.is_empty() {
        return Ok(());
    }
    let v = Viewer::from(&p.permissions);
    let q = EntryQuery { newest_only: false, pictures: Some(&missing), limit: i64::MAX, ..Default::default() };
    for e in db::entries(c, &v, tier, &q).await? {
        let versions = histories.entry(e.picture_id).or_default();
        if let Some((objects, _)) = expand(p, &e, indicators.get(&e.picture_id), origin) {
            for o in objects {
                versions.entry(id_of(&o).to_owned()).or_default().push(version_of(&o).to_owned());
            }
        }
    }
    for id in missing {
        histories.entry(id).or_default();
    }
    Ok(())
}

/// Whether object version `o` is one `match[version]` asks for.
fn version_matches(sel: &[VersionSel], o: &Value, history: Option<&HashMap<String, Vec<String>>>) -> bool {
    let version = version_of(o);
    let versions = history.and_then(|h| h.get(id_of(o)));
    sel.iter().any(|s| match s {
        VersionSel::All => true,
        VersionSel::At(t) => t == version,
        VersionSel::First => versions.and_then(|v| v.iter().min()).is_some_and(|m| m == version),
        VersionSel::Last => versions.and_then(|v| v.iter().max()).is_some_and(|m| m == version),
    })
}

/// Reads a page for an endpoint, writes the access-log record, and returns the page and
/// its `next`.
async fn read_page(
    state: &AppState,
    meta: &RequestMeta,
    p: &Principal,
    req: &HttpRequest,
    collection: &str,
    object: Option<&str>,
    endpoint: Endpoint,
) -> Result<(PageOut, Option<String>), TaxiiError> {
    let tier = tier_of(p, collection)?;
    let f = filters(req, endpoint)?;
    let cursors = state.cursors.list_with_param(req, p.user_id, &cursor_list(endpoint, tier), "next");
    let from = start(&cursors, &f)?;
    let origin = origin(state, req);
    let client = meta.client(&state.pool).await?;
    let out = page(&client, p, tier, &f, object, from, &origin).await?;
    if let Some(object) = object
        && out.items.is_empty()
        && from.is_none()
    {
        // `404` only when the object has no version the caller may see at all.
        let any = Filters { added_after: None, limit: 1, versions: vec![VersionSel::All], spec_ok: true, ..f.clone() };
        if page(&client, p, tier, &any, Some(object), None, &origin).await?.items.is_empty() {
            return Err(OBJECT_NOT_FOUND);
        }
    }
    let next = out.next.as_ref().map(|pos| cursors.at(&position_key(pos)));
    let mut record = access_log::by(meta, p).objects("picture", out.pictures.clone());
    record.tier = Some(tier.as_str().to_owned());
    let mut reason = format!("objects:{}", out.items.len());
    if out.redacted.indicators > 0 {
        reason.push_str(&format!(",indicators_redacted:{}", out.redacted.indicators));
    }
    if out.redacted.attachments > 0 {
        reason.push_str(&format!(",attachments_redacted:{}", out.redacted.attachments));
    }
    record.reason = Some(reason);
    if let Some(object) = object {
        record.object_id = Some(object.chars().take(100).collect());
    }
    access_log::commit(state, meta, record).await?;
    Ok((out, next))
}

/// `200` with the date-added headers of the page.
fn page_response<T: serde::Serialize>(items: &[Item], body: &T) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.content_type(TAXII_MEDIA_TYPE);
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        res.insert_header(("X-TAXII-Date-Added-First", taxii_time(first.added)));
        res.insert_header(("X-TAXII-Date-Added-Last", taxii_time(last.added)));
    }
    res.json(body)
}

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
        ("added_after" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1–1000, default 100"),
        ("next" = Option<String>, Query), ("match[id]" = Option<String>, Query), ("match[type]" = Option<String>, Query),
        ("match[version]" = Option<String>, Query, description = "first, last (default), all or a timestamp; comma list"),
        ("match[spec_version]" = Option<String>, Query),
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
        ("added_after" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1–1000, default 100"),
        ("next" = Option<String>, Query), ("match[id]" = Option<String>, Query), ("match[type]" = Option<String>, Query),
        ("match[version]" = Option<String>, Query, description = "first, last (default), all or a timestamp; comma list"),
        ("match[spec_version]" = Option<String>, Query),
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
