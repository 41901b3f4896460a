//! The TAXII inbox (docs/taxii.md, "The inbox"): an organisation's service accounts that
//! write pictures post STIX 2.1 envelopes to its inbox collection; each `report` becomes
//! a draft picture of that organisation, written by the same functions as
//! `POST /pictures` and `PATCH /pictures/{id}` (so every picture rule applies), and the
//! outcome of every object is kept as a TAXII status resource.
//!
//! An envelope is imported whole or not at all: one object that fails the strict check,
//! or one report whose draft fails a picture rule, refuses every object, and nothing but
//! the status (all failures) is stored. Idempotency is by organisation, STIX id and
//! version (`modified`): a version already received changes nothing; a newer version of
//! a report revises its draft; an older one is kept and revises nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::Value;
use sitrep_db::Transaction;
use sitrep_db::access_log::Outcome;
use sitrep_db::taxii::inbox::{self as db, NewObject, StatusRow};
use sitrep_stix::ids::{self, stix_time, taxii_time};
use sitrep_stix::inbox::{
    EnvelopeError, MAX_CONTENT_LENGTH, Received, Sender, envelope_objects, map_report, validate, version_name,
};
use sitrep_types::{TaxiiEnvelope, TaxiiStatus, TaxiiStatusDetail};
use uuid::Uuid;

use super::{create_draft, replace_content};
use crate::access_log::{self, RecordExt};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::Principal;
use crate::state::AppState;
use crate::taxii::{
    COLLECTION_NOT_FOUND, TAXII_MEDIA_TYPE, TaxiiAddFailures, TaxiiCaller, TaxiiError, TaxiiFailures, bad_request,
    taxii_json, tiers, writes_inbox,
};

const STATUS_NOT_FOUND: TaxiiError = TaxiiError::Api(ApiError::NotFound { code: "status_not_found" });
/// How many steps from a report its objects are looked up (report → object → marking →
/// a marking's own marking).
const LOOKUP_DEPTH: usize = 4;

/// The inbox the caller posts to: its organisation's, if it may write to it. A tier
/// collection it reads is read-only (`403`); anything else does not exist for it (`404`),
/// another organisation's inbox included.
fn inbox_of(p: &Principal, collection: &str) -> Result<(), TaxiiError> {
    let id = Uuid::parse_str(collection).map_err(|_| COLLECTION_NOT_FOUND)?;
    if id == ids::inbox(p.organisation_id) {
        if writes_inbox(p) {
            return Ok(());
        }
        return Err(TaxiiError::Api(ApiError::Forbidden {
            code: "inbox_write_forbidden",
            detail: "Only the organisation's service accounts with the author or approver role post to its inbox.",
        }));
    }
    if tiers(p).into_iter().any(|t| ids::collection(t) == id) {
        return Err(TaxiiError::Api(ApiError::Forbidden {
            code: "collection_not_writable",
            detail: "This collection is read-only; post to the organisation's inbox.",
        }));
    }
    Err(COLLECTION_NOT_FOUND)
}

/// `Content-Type` is `application/taxii+json` with `version=2.1`.
fn taxii_content(req: &HttpRequest) -> bool {
    let Some(v) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = v.split(';').map(str::trim);
    parts.next().is_some_and(|m| m.eq_ignore_ascii_case("application/taxii+json"))
        && parts
            .filter_map(|p| p.split_once('='))
            .any(|(k, v)| k.trim().eq_ignore_ascii_case("version") && v.trim().trim_matches('"') == "2.1")
}

/// The body as JSON: `415` unless TAXII 2.1, `413` above the inbox's limit, `400` or
/// `422` if it is not JSON.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Value, TaxiiError> {
    if !taxii_content(req) {
        return Err(TaxiiError::Api(ApiError::UnsupportedMediaType));
    }
    let too_large = || TaxiiError::Api(ApiError::PayloadTooLarge { limit: MAX_CONTENT_LENGTH });
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_CONTENT_LENGTH) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| bad_request("body_unreadable", "The request body could not be read."))?;
        if body.len() + chunk.len() > MAX_CONTENT_LENGTH {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(crate::body::parse_json::<Value>(&body)?)
}

fn detail(r: &Received, message: impl Into<String>) -> TaxiiStatusDetail {
    TaxiiStatusDetail { id: r.id.clone(), version: version_name(r), message: Some(message.into()) }
}

/// What an envelope did: every object's outcome, and the drafts written.
struct Imported {
    successes: Vec<TaxiiStatusDetail>,
    /// Indices of the object versions to keep (not received before, each once).
    new: Vec<usize>,
    created: Vec<Uuid>,
    revised: Vec<Uuid>,
    unchanged: usize,
    /// Each draft written, with the TLPs received for it.
    drafts: Vec<DraftFloor>,
}

/// Field errors of a refused draft as one line.
fn refusal(e: &ApiError) -> Option<String> {
    match e {
        ApiError::Invalid(errors) => Some(format!(
            "Its draft breaks picture rules: {}",
            errors.0.iter().map(|i| format!("{} {} ({})", i.field, i.code, i.message)).collect::<Vec<_>>().join("; ")
        )),
        ApiError::Conflict { detail, .. } => Some(detail.clone()),
        _ => None,
    }
}

/// Imports the checked objects into the caller's organisation, in the caller's
/// transaction. `Ok(Err(failures))`: a report's draft broke a rule; nothing may commit.
async fn import(
    tx: &Transaction<'_>,
    state: &AppState,
    caller: &Principal,
    peer: Option<&str>,
    objects: &[Value],
    received: &[Received],
) -> Result<Result<Imported, Vec<TaxiiStatusDetail>>, ApiError> {
    let org = caller.organisation_id;
    db::lock(tx, org).await?;
    let ids: Vec<String> = received.iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let already = db::received(tx, org, &ids).await?;

    // A marking definition is not versioned (STIX 2.1): received again, it must be the
    // same, or a later copy could loosen every draft that names it.
    let marking_ids: Vec<String> = received
        .iter()
        .filter(|r| r.type_ == "marking-definition")
        .map(|r| r.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !marking_ids.is_empty() {
        let earlier = db::newest(tx, org, &marking_ids).await?;
        let mut first: HashMap<&str, &Value> = HashMap::new();
        let mut redefined = Vec::new();
        for (i, r) in received.iter().enumerate().filter(|(_, r)| r.type_ == "marking-definition") {
            let o = &objects[i];
            if earlier.get(&r.id).or_else(|| first.get(r.id.as_str()).copied()).is_some_and(|before| before != o) {
                redefined.push((
                    i,
                    format!(
                        "Marking definition {} was received before with other content; a marking definition is never versioned.",
                        r.id
                    ),
                ));
            }
            first.entry(&r.id).or_insert(o);
        }
        if !redefined.is_empty() {
            return Ok(Err(refused(received, redefined)));
        }
    }

    // The newest version of each object in the envelope.
    let mut newest: HashMap<&str, usize> = HashMap::new();
    for (i, r) in received.iter().enumerate() {
        if newest.get(r.id.as_str()).is_none_or(|j| received[*j].version < r.version) {
            newest.insert(&r.id, i);
        }
    }
    // What reports refer to that the envelope does not hold: the newest version this
    // organisation received earlier (its markings too).
    let reports: Vec<usize> = {
        let mut r: Vec<usize> = (0..objects.len()).filter(|i| received[*i].type_ == "report").collect();
        r.sort_by_key(|i| received[*i].version);
        r
    };
    let refs_of = |o: &Value| -> Vec<String> {
        let list = |k: &str| o.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        let granular = o
            .get("granular_markings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("marking_ref").and_then(Value::as_str));
        list("object_refs")
            .chain(list("object_marking_refs"))
            .chain(granular)
            .chain(o.get("created_by_ref").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    let translations: Vec<&Value> =
        objects.iter().zip(received).filter(|(_, r)| r.type_ == "language-content").map(|(o, _)| o).collect();
    // Everything a report reaches, a few steps deep (the report, what it refers to, their
    // markings and creators, the translations' markings), from the envelope or else as
    // this organisation received it earlier: every marking that decides a draft's TLP is
    // read, wherever it came from.
    let mut stored: HashMap<String, Value> = HashMap::new();
    let mut visited: HashSet<String> = HashSet::new();
    let mut frontier: BTreeSet<String> =
        reports.iter().map(|i| &objects[*i]).chain(translations.iter().copied()).flat_map(&refs_of).collect();
    for _ in 0..LOOKUP_DEPTH {
        frontier.retain(|id| !visited.contains(id));
        if frontier.is_empty() {
            break;
        }
        let missing: Vec<String> = frontier.iter().filter(|id| !newest.contains_key(id.as_str())).cloned().collect();
        if !missing.is_empty() {
            stored.extend(db::newest(tx, org, &missing).await?);
        }
        let mut next = BTreeSet::new();
        for id in std::mem::take(&mut frontier) {
            if let Some(o) = newest.get(id.as_str()).map(|j| &objects[*j]).or_else(|| stored.get(&id)) {
                next.extend(refs_of(o));
            }
            visited.insert(id);
        }
        frontier = next;
    }
    let find = |id: &str| newest.get(id).map(|i| objects[*i].clone()).or_else(|| stored.get(id).cloned());
    let report_ids: Vec<String> = reports.iter().map(|i| received[*i].id.clone()).collect();
    let mut links = db::report_links(tx, org, &report_ids).await?;
    let sender = Sender { organisation: org, account: &caller.username, peer };

    let mut messages: Vec<Option<String>> = vec![None; objects.len()];
    let mut failures: Vec<(usize, String)> = Vec::new();
    let mut in_draft: HashMap<String, String> = HashMap::new();
    let mut seen: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
    let (mut created, mut revised, mut unchanged, mut drafts) = (Vec::new(), Vec::new(), 0, Vec::new());
    for &i in &reports {
        let r = &received[i];
        if already.contains(&(r.id.clone(), r.version)) {
            messages[i] = Some("Already received: nothing new.".into());
            continue;
        }
        if !seen.insert((&r.id, r.version)) {
            messages[i] = Some("Repeated in this envelope: imported once.".into());
            continue;
        }
        if let Some((picture, v)) = links.get(&r.id)
            && r.version <= *v
        {
            messages[i] = Some(format!(
                "Older than the version imported into draft picture {picture} ({}): kept, no new revision.",
                stix_time(*v)
            ));
            continue;
        }
        let draft = map_report(&objects[i], &find, &translations, &sender);
        let received_tlp = draft.received_tlp;
        let indicator_tlps: Vec<_> =
            draft.content.indicators.iter().map(|i| (i.type_, i.value.clone(), i.tlp)).collect();
        for id in &draft.referenced {
            in_draft.entry(id.clone()).or_insert_with(|| r.id.clone());
        }
        let outcome = match links.get(&r.id) {
            Some((picture, _)) => {
                let picture = *picture;
                replace_content(tx, state, caller, picture, draft.content).await.map(|rev| {
                    if rev.unchanged {
                        unchanged += 1;
                        (picture, format!("Draft picture {picture} ({}) unchanged.", rev.row.reference))
                    } else {
                        revised.push(picture);
                        (
                            picture,
                            format!(
                                "Draft picture {picture} ({}) revised: revision {}.",
                                rev.row.reference, rev.revision
                            ),
                        )
                    }
                })
            }
            None => create_draft(tx, state, caller, draft.content).await.map(|row| {
                created.push(row.id);
                (row.id, format!("Draft picture {} ({}) created.", row.id, row.reference))
            }),
        };
        match outcome {
            Ok((picture, message)) => {
                db::link_report(tx, org, &r.id, picture, r.version).await?;
                links.insert(r.id.clone(), (picture, r.version));
                drafts.push(DraftFloor { picture, tlp: received_tlp, indicators: indicator_tlps });
                messages[i] = Some(message);
            }
            Err(e) => match refusal(&e) {
                Some(why) => failures.push((i, why)),
                None => return Err(e),
            },
        }
    }
    if !failures.is_empty() {
        return Ok(Err(refused(received, failures)));
    }
    let mut successes = Vec::with_capacity(objects.len());
    for (i, r) in received.iter().enumerate() {
        let message = match messages[i].take() {
            Some(m) => m,
            None if already.contains(&(r.id.clone(), r.version)) => "Already received: nothing new.".into(),
            None => match in_draft.get(&r.id) {
                Some(report) => format!("Kept, with the draft of {report} (its details say how it was mapped)."),
                None => "Kept; no report of this envelope refers to it, so it is in no draft.".into(),
            },
        };
        successes.push(detail(r, message));
    }
    // The versions to keep: each once, none received before.
    let mut kept: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
    let new: Vec<usize> = (0..objects.len())
        .filter(|i| {
            let r = &received[*i];
            !already.contains(&(r.id.clone(), r.version)) && kept.insert((&r.id, r.version))
        })
        .collect();
    Ok(Ok(Imported { successes, new, created, revised, unchanged, drafts }))
}

/// Every object failed: those with a reason with it, the others because the envelope
/// is imported whole or not at all.
fn refused(received: &[Received], reasons: Vec<(usize, String)>) -> Vec<TaxiiStatusDetail> {
    let mut reasons: HashMap<usize, String> = reasons.into_iter().collect();
    received
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let why = reasons
                .remove(&i)
                .unwrap_or_else(|| "Not stored: another object of this envelope was refused, and an envelope is imported whole or not at all.".into());
            detail(r, why)
        })
        .collect()
}

fn status_body(s: &StatusRow) -> TaxiiStatus {
    let list = |v: &Value| serde_json::from_value::<Vec<TaxiiStatusDetail>>(v.clone()).unwrap_or_default();
    let count = |n: i32| u64::try_from(n).unwrap_or_default();
    TaxiiStatus {
        id: s.id,
        status: "complete".into(),
        request_timestamp: taxii_time(s.created_at),
        total_count: count(s.total_count),
        success_count: count(s.success_count),
        successes: list(&s.successes),
        failure_count: count(s.failure_count),
        failures: list(&s.failures),
        pending_count: 0,
    }
}

fn status_row(
    caller: &Principal,
    at: DateTime<Utc>,
    successes: &[TaxiiStatusDetail],
    failures: &[TaxiiStatusDetail],
) -> Result<StatusRow, ApiError> {
    let count = |n: usize| i32::try_from(n).map_err(|e| ApiError::Internal(e.into()));
    let json = |v: &[TaxiiStatusDetail]| serde_json::to_value(v).map_err(|e| ApiError::Internal(e.into()));
    Ok(StatusRow {
        id: Uuid::new_v4(),
        organisation_id: caller.organisation_id,
        created_at: at,
        total_count: count(successes.len() + failures.len())?,
        success_count: count(successes.len())?,
        failure_count: count(failures.len())?,
        successes: json(successes)?,
        failures: json(failures)?,
    })
}

fn accepted(status: &StatusRow) -> HttpResponse {
    HttpResponse::Accepted().content_type(TAXII_MEDIA_TYPE).json(status_body(status))
}

/// Add Objects to the organisation's inbox: a STIX 2.1 envelope, checked strictly and
/// imported whole or not at all; each `report` becomes (or revises) a draft picture of
/// the organisation. Answers the status resource, `complete`, with every object's
/// outcome (`GET /taxii2/api/status/{id}/` reads it again).
#[utoipa::path(
    post, path = "/taxii2/api/collections/{collection}/objects/", tag = "taxii", security(("bearer" = [])),
    params(
        ("collection" = Uuid, Path, description = "The organisation's inbox"),
        ("Accept" = String, Header, description = "application/taxii+json;version=2.1"),
        ("Content-Type" = String, Header, description = "application/taxii+json;version=2.1"),
    ),
    request_body(content = TaxiiEnvelope, content_type = "application/taxii+json;version=2.1",
        description = "At most 10,000 objects and 16 MiB (the API root's max_content_length)"),
    responses(
        (status = 202, body = TaxiiStatus, content_type = "application/taxii+json;version=2.1",
         description = "Imported (success_count) or refused whole (failure_count = total_count, nothing stored)"),
        TaxiiAddFailures
    )
)]
pub async fn add_objects(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, TaxiiError> {
    inbox_of(&caller, &path)?;
    let body = read_body(&req, payload).await?;
    let objects = envelope_objects(body).map_err(|e| match e {
        EnvelopeError::TooMany(_) | EnvelopeError::TooManyReports(_) => {
            TaxiiError::Api(ApiError::PayloadTooLarge { limit: MAX_CONTENT_LENGTH })
        }
        e => bad_request("invalid_envelope", e.to_string()),
    })?;
    let mut client = meta.client(&state.pool).await?;
    let mut tx = client.transaction().await?;
    let outcome = import_envelope(&mut tx, &state, &caller, None, &objects).await?;
    let record = access_log::by(&meta, &caller).status(202).object("taxii_status", outcome.status.id);
    let r = match &outcome.imported {
        Some(done) => {
            let mut r = record;
            r.object_ids = Some(done.created.iter().chain(&done.revised).copied().collect());
            r.reason = Some(done.reason(objects.len()));
            r
        }
        None => record.refused(
            Outcome::Failed,
            &format!("envelope_refused;objects:{};refused:{}", objects.len(), outcome.refused),
            202,
        ),
    };
    access_log::write(&tx, &meta, r).await?;
    tx.commit().await?;
    Ok(accepted(&outcome.status))
}

/// What an envelope's import wrote.
pub(crate) struct EnvelopeImported {
    /// Object versions stored (not received before).
    pub stored: usize,
    pub created: Vec<Uuid>,
    pub revised: Vec<Uuid>,
    pub unchanged: usize,
    /// Each draft written, with the TLPs received for it.
    pub drafts: Vec<DraftFloor>,
}

/// A draft written by an import, with the strictest TLP received for it (`None` when
/// nothing was marked) and the TLP of each of its indicators as imported.
pub(crate) struct DraftFloor {
    pub picture: Uuid,
    pub tlp: Option<sitrep_types::Tlp>,
    pub indicators: Vec<(sitrep_types::IndicatorType, String, sitrep_types::Tlp)>,
}

impl EnvelopeImported {
    /// The access-log reason of an import.
    pub fn reason(&self, objects: usize) -> String {
        format!(
            "objects:{objects};stored:{};drafts_created:{};drafts_revised:{};drafts_unchanged:{}",
            self.stored,
            self.created.len(),
            self.revised.len(),
            self.unchanged
        )
    }
}

/// The outcome of one envelope: its status resource (stored), and what was imported, or
/// `None` when it was refused whole (then only the status is stored).
pub(crate) struct EnvelopeOutcome {
    pub status: StatusRow,
    pub imported: Option<EnvelopeImported>,
    /// Objects refused for a reason of their own (the rest only with them).
    pub refused: usize,
}

/// Checks and imports the objects of one envelope into `caller`'s organisation, as
/// `caller`, in `tx`: whole or not at all (the import runs under a savepoint, rolled back
/// when one object or one draft is refused; the status is stored either way). The TAXII
/// inbox and the peer worker both import through here. `peer` names the TAXII peer the
/// objects were pulled from, for the drafts' provenance.
pub(crate) async fn import_envelope(
    tx: &mut Transaction<'_>,
    state: &AppState,
    caller: &Principal,
    peer: Option<&str>,
    objects: &[Value],
) -> Result<EnvelopeOutcome, ApiError> {
    let at = Utc::now();
    let checked: Vec<Result<Received, String>> = objects.iter().map(validate).collect();
    let invalid: Vec<(usize, String)> =
        checked.iter().enumerate().filter_map(|(i, c)| c.as_ref().err().map(|e| (i, e.clone()))).collect();
    let failures = if invalid.is_empty() {
        let received: Vec<Received> = checked.into_iter().filter_map(Result::ok).collect();
        let sp = tx.transaction().await?;
        match import(&sp, state, caller, peer, objects, &received).await? {
            Ok(done) => {
                let status = status_row(caller, at, &done.successes, &[])?;
                db::insert_status(&sp, caller.user_id, &status).await?;
                let new: Vec<NewObject<'_>> = done
                    .new
                    .iter()
                    .map(|i| NewObject {
                        id: &received[*i].id,
                        version: received[*i].version,
                        type_: &received[*i].type_,
                        object: &objects[*i],
                    })
                    .collect();
                db::insert_objects(&sp, caller.organisation_id, status.id, &new).await?;
                sp.commit().await?;
                let imported = EnvelopeImported {
                    stored: new.len(),
                    created: done.created,
                    revised: done.revised,
                    unchanged: done.unchanged,
                    drafts: done.drafts,
                };
                return Ok(EnvelopeOutcome { status, imported: Some(imported), refused: 0 });
            }
            Err(failures) => {
                sp.rollback().await?;
                failures
            }
        }
    } else {
        // Only the objects that failed the check say why; their ids may be anything.
        let mut reasons: HashMap<usize, String> = invalid.into_iter().collect();
        objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let id = o.get("id").and_then(Value::as_str).unwrap_or_default().chars().take(300).collect();
                let version = o
                    .get("modified")
                    .or_else(|| o.get("created"))
                    .and_then(Value::as_str)
                    .map(|v| v.chars().take(64).collect());
                let message = reasons.remove(&i).unwrap_or_else(|| {
                    "Not stored: another object of this envelope was refused, and an envelope is imported whole or not at all.".into()
                });
                TaxiiStatusDetail { id, version, message: Some(message) }
            })
            .collect()
    };
    // Refused whole: only the status.
    let refused =
        failures.iter().filter(|f| !f.message.as_deref().unwrap_or_default().starts_with("Not stored")).count();
    let status = status_row(caller, at, &[], &failures)?;
    db::insert_status(&*tx, caller.user_id, &status).await?;
    Ok(EnvelopeOutcome { status, imported: None, refused })
}

/// A status resource of the caller's organisation's inbox. Only those who may post to
/// the inbox read its statuses; for anyone else, and for another organisation's
/// status, it does not exist (`404`).
#[utoipa::path(
    get, path = "/taxii2/api/status/{status}/", tag = "taxii", security(("bearer" = [])),
    params(("status" = Uuid, Path), ("Accept" = String, Header, description = "application/taxii+json;version=2.1")),
    responses((status = 200, body = TaxiiStatus, content_type = "application/taxii+json;version=2.1"), TaxiiFailures)
)]
pub async fn get_status(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: TaxiiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, TaxiiError> {
    if !writes_inbox(&caller) {
        return Err(STATUS_NOT_FOUND);
    }
    let id = Uuid::parse_str(&path).map_err(|_| STATUS_NOT_FOUND)?;
    let client = meta.client(&state.pool).await?;
    let status = db::status(&client, caller.organisation_id, id).await?.ok_or(STATUS_NOT_FOUND)?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("taxii_status", id)).await?;
    Ok(taxii_json(&status_body(&status)))
}
