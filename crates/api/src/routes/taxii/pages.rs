//! Pages of a collection: the entries the caller may see, expanded into STIX objects as
//! it may see them, filtered, in ascending `date_added`, with what they refer to; the
//! read of a page with its access-log record.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sitrep_db::GenericClient;
use sitrep_db::taxii::{self as db, EntryKey, EntryQuery, EntryRow};
use sitrep_domain::visibility::{Handling, IndicatorHistory, Redacted, Viewer, revision_content, revision_readable};
use sitrep_stix::ids::{self, parse_time, stix_time, taxii_time};
use sitrep_stix::{Organisation, ReportVersion, tlp};
use sitrep_types::{Tier, Tlp};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::meta::RequestMeta;
use crate::principal::Principal;
use crate::state::AppState;
use crate::taxii::{OBJECT_NOT_FOUND, TAXII_MEDIA_TYPE, TaxiiError};

use super::*;

/// One object of a page, with the `date_added` of its version.
pub(super) struct Item {
    pub(super) added: DateTime<Utc>,
    pub(super) object: Value,
}

pub(super) struct PageOut {
    pub(super) items: Vec<Item>,
    pub(super) next: Option<Position>,
    /// Pictures whose objects the page holds, in order.
    pub(super) pictures: Vec<Uuid>,
    pub(super) redacted: Redacted,
    /// Ids (and `id@version`) of the objects of the page so far: what is already there
    /// is not carried again.
    pub(super) carried: HashSet<String>,
}

/// What `o` refers to that the page does not hold yet, each after what it refers to
/// in turn (a marking definition's creator before the marking), at most `depth` deep.
pub(super) fn carry_references<'a>(
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
pub(super) fn references(o: &Value) -> impl Iterator<Item = &str> {
    let creator = o.get("created_by_ref").and_then(Value::as_str);
    let list = |key: &str| o.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    creator.into_iter().chain(list("object_marking_refs")).chain(list("object_refs"))
}

/// An entry of the collection: a picture version, an organisation or a marking.
pub(super) struct Unit {
    pub(super) key: EntryKey,
    pub(super) objects: Vec<Value>,
    pub(super) picture: Option<Uuid>,
    pub(super) redacted: Redacted,
}

pub(super) fn version_of(o: &Value) -> &str {
    o.get("modified").or_else(|| o.get("created")).and_then(Value::as_str).unwrap_or_default()
}

/// The version of an item: its object's `modified` (or `created`); a cyber observable
/// has neither, and its version is the `date_added` of the report version it came with.
pub(super) fn item_version(i: &Item) -> String {
    match version_of(&i.object) {
        "" => stix_time(i.added),
        v => v.to_owned(),
    }
}

pub(super) fn id_of(o: &Value) -> &str {
    o.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// The STIX objects of a picture version as `p` may see them, or `None` if `p` may not
/// read that revision; with what was left out. `history` holds the picture's indicators
/// and attachments in every revision (none is needed for the version in force);
/// `origin` is the server's, for the artifacts' download URLs.
pub(super) fn expand(
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
pub(super) async fn static_units(c: &impl GenericClient) -> Result<Vec<Unit>, TaxiiError> {
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
pub(super) async fn pictures_for_ids(
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
pub(super) async fn page(
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
pub(super) async fn load_histories(
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
pub(super) fn version_matches(sel: &[VersionSel], o: &Value, history: Option<&HashMap<String, Vec<String>>>) -> bool {
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
pub(super) async fn read_page(
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
pub(super) fn page_response<T: serde::Serialize>(items: &[Item], body: &T) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.content_type(TAXII_MEDIA_TYPE);
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        res.insert_header(("X-TAXII-Date-Added-First", taxii_time(first.added)));
        res.insert_header(("X-TAXII-Date-Added-Last", taxii_time(last.added)));
    }
    res.json(body)
}
