//! Situation pictures: create, read, revise (new immutable revisions), list and search,
//! and the lifecycle with four eyes. Every read goes through the visibility predicate;
//! every write checks that the caller's organisation is the originator.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sitrep_db::access_log::AccessRecord;
use sitrep_db::events::{self, EventType};
use sitrep_db::pictures::{self, ListFilter, PictureRow};
use sitrep_db::{GenericClient, Transaction};
use sitrep_domain::lifecycle::{self, Actor, ApprovalRefusal, InForce, PatchOutcome, PublishRefusal, RevisionState};
use sitrep_domain::picture::{CheckedContent, Deployment};
use sitrep_domain::validation::TextRule;
use sitrep_domain::visibility::{
    Handling, IndicatorHistory, Redacted, Sight, Viewer, current_content, insider, revision_content, revision_readable,
    sight,
};
use sitrep_domain::{FieldErrors, Invalid};
use sitrep_types::{
    Indicator, IndicatorType, IndicatorValue, LifecycleNote, LocalizedText, Originator, Page, Picture, PictureContent,
    PictureListItem, PictureMetadata, PictureView, RelatedByIndicator, RelatedPicture, RevisionInfo, SharedIndicator,
    Status,
};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::{Json, Query};
use crate::conditional::{self, Versioned, if_match, none_match};
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{ActorKind, ApprovePictures, Authenticated, AuthorPictures, Caller, Principal};
use crate::state::AppState;

pub mod attachments;
pub mod inbox;
pub mod render;
pub mod summary;

endpoints! {
    "/pictures" { GET "picture.list" => list_pictures, POST "picture.create" => create_picture }
    // Before `/pictures/{id}`, which would take `summary` for an id.
    "/pictures/summary" { GET "picture.summary" => summary::picture_summary }
    "/pictures/{id}" { GET "picture.view" => get_picture, PATCH "picture.revise" => update_picture }
    "/pictures/{id}/submit" { POST "picture.submit" => submit_picture }
    "/pictures/{id}/return" { POST "picture.return" => return_picture }
    "/pictures/{id}/approve" { POST "picture.approve" => approve_picture }
    "/pictures/{id}/publish" { POST "picture.publish" => publish_picture }
    "/pictures/{id}/withdraw" { POST "picture.withdraw" => withdraw_picture }
    "/pictures/{id}/close" { POST "picture.close" => close_picture }
    "/pictures/{id}/revisions" { GET "picture.revisions" => list_revisions }
    "/pictures/{id}/revisions/{n}" { GET "picture.revision_view" => get_revision }
    "/pictures/{id}/related-by-indicator" { GET "picture.related_by_indicator" => related_by_indicator }
    "/pictures/{id}/render" { GET "picture.render" => render::render_picture }
    "/pictures/{id}/attachments" { POST "attachment.upload" => attachments::upload_attachment }
    "/pictures/{id}/attachments/{aid}/content" { GET "attachment.download" => attachments::download_attachment }
    "/pictures/{id}/attachments/{aid}/thumbnail" { GET "attachment.thumbnail" => attachments::thumbnail_attachment }
}

/// Pictures may carry many indicators: a larger body limit than elsewhere.
pub const PICTURE_BODY_LIMIT: usize = 1024 * 1024;
/// The most characters of a search (`q`); it must also hold more than white space.
pub const SEARCH_CHARS: usize = 200;
/// The note of a picture returned to its author.
pub const RETURN_NOTE: TextRule = TextRule::lines(1, 1000);
const NOT_FOUND: ApiError = ApiError::NotFound { code: "picture_not_found" };
const LIST: &str = "pictures";

fn metadata(row: &PictureRow) -> PictureMetadata {
    PictureMetadata {
        id: row.id,
        reference: row.reference.clone(),
        revision: row.revision,
        status: row.status,
        originator: Originator { id: row.originator_id, code: row.originator_code.clone() },
        tier: row.tier,
        tlp: row.tlp,
        created_at: row.created_at,
        updated_at: row.updated_at,
        published_at: row.published_at,
    }
}

fn expired(row: &PictureRow) -> bool {
    row.valid_until.is_some_and(|t| t <= Utc::now())
}

/// Those of the pictures `content` relates to that `p` sees fully: the others are left out
/// of what `p` is shown, as if they did not exist.
async fn related_seen(c: &impl GenericClient, p: &Principal, content: &PictureContent) -> Result<Vec<Uuid>, ApiError> {
    if content.related.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = content.related.iter().map(|r| r.picture_id).collect();
    Ok(pictures::visible_ids(c, &Viewer::from(&p.permissions), &ids).await?)
}

/// The details in each language, rendered from Markdown to sanitised HTML.
fn details_html(details: &LocalizedText) -> LocalizedText {
    let render = |t: &Option<String>| t.as_deref().map(sitrep_domain::markdown::render);
    LocalizedText { fi: render(&details.fi), sv: render(&details.sv), en: render(&details.en) }
}

/// The view of `row` for `p` (`related_seen`: see `related_seen`), and what was left out.
fn view(p: &Principal, row: &PictureRow, related_seen: &[Uuid]) -> (PictureView, Redacted) {
    let v = Viewer::from(&p.permissions);
    let h = row.handling();
    match sight(&v, &h) {
        Sight::Full => {
            let (content, redacted) = current_content(&v, &h, row.content.clone(), related_seen);
            let own = p.organisation_id == row.originator_id;
            let picture = Picture {
                id: row.id,
                reference: row.reference.clone(),
                revision: row.revision,
                status: row.status,
                originator: Originator { id: row.originator_id, code: row.originator_code.clone() },
                severity: row.severity,
                expired: expired(row),
                created_at: row.created_at,
                updated_at: row.updated_at,
                published_at: row.published_at,
                pending_revision: if own { row.pending_revision } else { None },
                redacted_indicators: redacted.indicators,
                redacted_attachments: redacted.attachments,
                details_html: content.details.as_ref().map(details_html),
                content,
            };
            (PictureView::Full(Box::new(picture)), redacted)
        }
        _ => (PictureView::Metadata(metadata(row)), Redacted::default()),
    }
}

/// The picture's `ETag` for `p` (`conditional::etag`).
fn etag(p: &Principal, row: &PictureRow) -> String {
    let object = Versioned {
        id: row.id,
        originator: row.originator_id,
        version: row.version,
        revision: row.revision,
        status: row.status.as_str(),
    };
    conditional::etag(p.organisation_id, object)
}

async fn respond(
    c: &impl GenericClient,
    status: actix_web::http::StatusCode,
    p: &Principal,
    row: &PictureRow,
) -> Result<HttpResponse, ApiError> {
    let related = related_seen(c, p, &row.content).await?;
    Ok(respond_with(status, p, row, view(p, row, &related).0))
}

fn respond_with(
    status: actix_web::http::StatusCode,
    p: &Principal,
    row: &PictureRow,
    body: PictureView,
) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::ETAG, etag(p, row)));
    res.json(body)
}

/// Checks the rules, then the references that need the database (one query, none if the
/// content refers to nothing). `422` naming fields.
/// A picture made from what a TAXII peer sent is never looser than the peer's marking
/// (docs/taxii.md, "Peers"): its TLP not below the strictest marking received for it,
/// each indicator not below the TLP it was imported with.
async fn peer_floors(
    c: &impl GenericClient,
    picture: Uuid,
    content: &PictureContent,
    errors: &mut sitrep_domain::FieldErrors,
) -> Result<(), ApiError> {
    use sitrep_domain::correlation::Disclosure;
    use sitrep_domain::visibility::tlp_rank;
    let Some((tlp, indicators)) = sitrep_db::taxii::peers::floor(c, picture).await? else { return Ok(()) };
    if let Some(floor) = tlp.as_deref().and_then(sitrep_types::Tlp::parse)
        && tlp_rank(content.tlp) < tlp_rank(floor)
    {
        errors.push(Invalid::new(
            "tlp",
            "looser_than_received",
            format!("received from a TAXII peer marked TLP:{}; never looser", floor.as_str()),
        ));
    }
    // Each floored value read once (`Disclosure::of` parses URLs and hosts), then each
    // indicator against them.
    let floors: Vec<(IndicatorType, &str, Disclosure, sitrep_types::Tlp)> = indicators
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let kind = f.get("type").and_then(serde_json::Value::as_str).and_then(IndicatorType::parse)?;
            let value = f.get("value").and_then(serde_json::Value::as_str)?;
            let tlp = f.get("tlp").and_then(serde_json::Value::as_str).and_then(sitrep_types::Tlp::parse)?;
            Some((kind, value, Disclosure::of(kind, value), tlp))
        })
        .collect();
    for (i, ind) in content.indicators.iter().enumerate() {
        let entered = Disclosure::of(ind.type_, &ind.value);
        let floor = floors
            .iter()
            .filter(|(kind, value, received, _)| {
                sitrep_domain::visibility::same_indicator(*kind, value, ind.type_, &ind.value)
                    || received.named_by(&entered)
            })
            .map(|(.., tlp)| *tlp)
            .max_by_key(|t| tlp_rank(*t));
        if let Some(floor) = floor
            && tlp_rank(ind.tlp) < tlp_rank(floor)
        {
            errors.push(Invalid::new(
                format!("indicators[{i}].tlp"),
                "looser_than_received",
                format!("names what a TAXII peer sent at TLP:{}; never looser", floor.as_str()),
            ));
        }
    }
    Ok(())
}

async fn check_content(
    c: &impl GenericClient,
    p: &Principal,
    content: PictureContent,
    state: &AppState,
    picture: Option<Uuid>,
) -> Result<CheckedContent, ApiError> {
    let checked = CheckedContent::check(content, Deployment { tl_iv_accredited: state.tl_iv_accredited })?;
    let content = checked.content();
    attachments::check_uploads(c, picture, &content.attachments).await?;
    let related: Vec<Uuid> = content.related.iter().map(|r| r.picture_id).collect();
    let mut errors = sitrep_domain::FieldErrors::default();
    let known = pictures::known_references(
        c,
        &Viewer::from(&p.permissions),
        &content.named_recipients,
        content.tlp_community.as_deref(),
        content.election_id,
        &related,
    )
    .await?;
    for (i, r) in content.named_recipients.iter().enumerate() {
        if !known.organisations.contains(r) {
            errors.push(Invalid::new(format!("named_recipients[{i}]"), "unknown_organisation", "no such organisation"));
        }
    }
    if !known.community {
        errors.push(Invalid::new("tlp_community", "unknown_community", "no such community"));
    }
    if !known.election {
        errors.push(Invalid::new("election_id", "unknown_election", "no such election"));
    }
    for (i, r) in related.iter().enumerate() {
        if !known.pictures.contains(r) {
            errors.push(Invalid::new(format!("related[{i}].picture_id"), "unknown_picture", "no such picture"));
        }
    }
    if let Some(id) = picture {
        peer_floors(c, id, content, &mut errors).await?;
    }
    errors.finish()?;
    Ok(checked)
}

/// The picture, locked, if the caller's organisation originated it. A picture the caller
/// cannot see is `404`; one it sees but did not originate is `403`. The row is locked
/// before it is read, so that a request that waited for a concurrent change sees that
/// change (and answers `412` for a stale `If-Match`), never a missing picture.
async fn own_locked(tx: &Transaction<'_>, p: &Principal, id: Uuid) -> Result<PictureRow, ApiError> {
    if !pictures::lock(tx, id).await? {
        return Err(NOT_FOUND);
    }
    let row = pictures::find(tx, &Viewer::from(&p.permissions), id, false).await?.ok_or(NOT_FOUND)?;
    if row.originator_id != p.organisation_id {
        if sight(&Viewer::from(&p.permissions), &row.handling()) == Sight::None {
            return Err(NOT_FOUND);
        }
        return Err(ApiError::Forbidden {
            code: "not_originator",
            detail: "Only the originating organisation changes a picture.",
        });
    }
    Ok(row)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, sent with the same filters and limit.
    pub cursor: Option<String>,
    pub domain: Option<sitrep_types::Domain>,
    pub severity: Option<sitrep_types::Severity>,
    pub urgency: Option<sitrep_types::Urgency>,
    pub status: Option<Status>,
    pub kind: Option<sitrep_types::Kind>,
    pub is_exercise: Option<bool>,
    pub election: Option<Uuid>,
    pub originator: Option<Uuid>,
    pub tier: Option<sitrep_types::Tier>,
    pub tlp: Option<sitrep_types::Tlp>,
    /// Changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// Changed before this time.
    pub updated_before: Option<DateTime<Utc>>,
    /// Full-text search over title and summary (Finnish, Swedish and English). Includes
    /// expired pictures.
    pub q: Option<String>,
    /// Include pictures whose `valid_until` has passed (default false).
    pub include_expired: Option<bool>,
    /// Only pictures with (`true`) or without (`false`) overdue acknowledgements: for the
    /// secretariat any recipient's, for the originator its recipients', for others their own.
    pub overdue: Option<bool>,
    /// `type:value` (`hashtag:#vaalivilppi2027`): only pictures with an indicator of that
    /// type whose value is the same once normalised, among those the caller sees in full
    /// and through indicators it sees.
    pub indicator: Option<String>,
}

/// Pictures the caller may see, newest change first, with filters and full-text search.
/// Expired pictures leave the default list but stay searchable.
#[utoipa::path(
    get, path = "/api/v1/pictures", tag = "pictures",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<PictureListItem>), AuthFailures, QueryFailures, ServerFailures)
)]
pub async fn list_pictures(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    query: Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let page = PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, LIST);
    let after = cursors.after_position(page.cursor.as_deref())?.map(|(at, [id])| (at, id));
    if let Some(text) = &q.q
        && (text.trim().is_empty() || text.chars().count() > SEARCH_CHARS)
    {
        return Err(ApiError::invalid("q", "invalid_value", "1 to 200 characters"));
    }
    let filter = ListFilter {
        domain: q.domain.map(|d| d.as_str().to_owned()),
        severity: q.severity.map(|d| d.as_str().to_owned()),
        urgency: q.urgency.map(|d| d.as_str().to_owned()),
        status: q.status.map(|d| d.as_str().to_owned()),
        kind: q.kind.map(|d| d.as_str().to_owned()),
        is_exercise: q.is_exercise,
        election: q.election,
        originator: q.originator,
        tier: q.tier.map(|d| d.as_str().to_owned()),
        tlp: q.tlp.map(|d| d.as_str().to_owned()),
        updated_since: q.updated_since,
        updated_before: q.updated_before,
        q: q.q.clone(),
        include_expired: q.include_expired.unwrap_or(false),
        overdue: q.overdue,
        pictures: None,
    };
    let v = Viewer::from(&caller.permissions);
    let client = meta.client(&state.pool).await?;
    let filter = match &q.indicator {
        Some(i) => ListFilter { pictures: Some(sharing_indicator(&client, &v, i).await?), ..filter },
        None => filter,
    };
    // Lists and search may come from the replica (`AppState::read_pool`). The page and its
    // cursor are the replica's; its rows are then filtered through the primary's view of
    // the caller's sight now, so that replica lag never undoes a narrowing. The access-log
    // record goes to the primary before anything is answered.
    let mut rows = match &state.read_pool {
        Some(replica) => pictures::list(&replica.get().await?, &v, &filter, after, limit).await?,
        None => pictures::list(&client, &v, &filter, after, limit).await?,
    };
    let next = cursors.next_position(rows.len(), limit, rows.last().map(|r| (r.updated_at, [r.id])));
    let full_now = match state.read_pool {
        Some(_) => {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let now = pictures::sight_now(&client, &v, &ids).await?;
            rows.retain(|r| now.contains_key(&r.id));
            Some(now)
        }
        None => None,
    };
    let items: Vec<PictureListItem> = rows
        .iter()
        .map(|row| {
            let full = sight(&v, &row.handling()) == Sight::Full
                && full_now.as_ref().is_none_or(|now| now.get(&row.id).copied().unwrap_or(false));
            PictureListItem {
                metadata: metadata(row),
                kind: full.then_some(row.content.kind),
                severity: full.then_some(row.severity),
                urgency: full.then_some(row.content.urgency),
                is_exercise: full.then_some(row.content.is_exercise),
                title: full.then(|| row.content.title.clone()),
                summary: full.then(|| row.content.summary.clone()),
                expired: full.then(|| expired(row)),
            }
        })
        .collect();
    let ids = rows.iter().map(|r| r.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("picture", ids)).await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// Create a picture (a draft of the caller's organisation). Its tier and TLP are set
/// now; nobody else sees it until it is published. A repeated `Idempotency-Key` returns
/// the picture the first request created.
#[utoipa::path(
    post, path = "/api/v1/pictures", tag = "pictures",
    security(("bearer" = [])), request_body = PictureContent,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result; the same key with another body is `422` `idempotency_key_reused`")),
    responses(
        (status = 201, body = Picture, headers(("ETag" = String), ("Location" = String))),
        AuthFailures, Forbidden, BodyFailures, ServerFailures
    )
)]
pub async fn create_picture(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<AuthorPictures>,
    req: HttpRequest,
    body: Json<serde_json::Value, PICTURE_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    // A retried create is known by its key and the hash of its body (the value written
    // out compactly); without a key there is nothing to hash.
    let keyed = idempotency_key(&req)?.map(|key| {
        let hash: [u8; 32] = Sha256::digest(body.0.to_string().as_bytes()).into();
        (key, hash)
    });
    let content: PictureContent = crate::body::from_value(body.0)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let id = Uuid::new_v4();
    if let Some((key, request_hash)) = &keyed
        && let Some((existing, hash)) =
            pictures::claim_idempotency_key(&tx, caller.user_id, key, request_hash, id).await?
    {
        if hash != *request_hash {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "idempotency_key_reused",
                "used before with another body",
            ));
        }
        let row = pictures::find(&tx, &Viewer::from(&caller.permissions), existing, false).await?.ok_or(NOT_FOUND)?;
        let r = access_log::picture(&meta, &caller, &row).status(201);
        access_log::write(&tx, &meta, AccessRecord { reason: Some("idempotent_replay".into()), ..r }).await?;
        let res = respond(&tx, actix_web::http::StatusCode::CREATED, &caller, &row).await?;
        tx.commit().await?;
        return Ok(located(res, row.id));
    }
    let checked = check_content(&tx, &caller, content, &state, None).await?;
    let new = checked.content();
    // The insert and its record go out together (one round trip); either failing fails
    // the transaction, so neither commits without the other. The request counts as
    // recorded only once both have committed (else the envelope records the failure).
    let r = access_log::picture_of(&meta, &caller, id, 1, new.tier, new.tlp).status(201);
    let record = async { sitrep_db::access_log::record(&tx, &r).await.map_err(access_log::unavailable) };
    let (row, _) = futures_util::future::try_join(insert_draft(&tx, &caller, id, &checked), record).await?;
    let res = respond(&tx, actix_web::http::StatusCode::CREATED, &caller, &row).await?;
    tx.commit().await?;
    access_log::written(&meta);
    Ok(located(res, id))
}

/// Writes a new draft picture `id` of the caller's organisation from checked content.
async fn insert_draft(
    tx: &Transaction<'_>,
    caller: &Principal,
    id: Uuid,
    checked: &CheckedContent,
) -> Result<PictureRow, ApiError> {
    let year = Utc::now().year();
    Ok(pictures::create(tx, id, year, caller.organisation_id, caller.user_id, checked.content(), checked.severity())
        .await?)
}

/// Creates a draft picture of the caller's organisation, as `POST /pictures` does: the
/// content is checked against every rule (`422` naming fields), then written. The
/// caller writes the access-log record in the same transaction.
async fn create_draft(
    tx: &Transaction<'_>,
    state: &AppState,
    caller: &Principal,
    content: PictureContent,
) -> Result<PictureRow, ApiError> {
    let checked = check_content(tx, caller, content, state, None).await?;
    insert_draft(tx, caller, Uuid::new_v4(), &checked).await
}

/// Replaces the content of the caller's organisation's picture `id` with `content`, as a
/// `PATCH` that sets every field would: the same rule (`revise`) decides whether that is
/// a new draft revision, a change in force at once, or a revision proposed for review.
/// A withdrawn, closed or superseded picture is `409`.
async fn replace_content(
    tx: &Transaction<'_>,
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    content: PictureContent,
) -> Result<Revised, ApiError> {
    let row = own_locked(tx, caller, id).await?;
    if matches!(row.status, Status::Withdrawn | Status::Closed | Status::Superseded) {
        return Err(ApiError::Conflict {
            code: "picture_closed",
            detail: "A withdrawn or closed picture is not revised.".into(),
        });
    }
    let base = match row.pending_revision {
        Some(n) => {
            pictures::revision_of(tx, &Viewer::from(&caller.permissions), row.id, n).await?.ok_or(NOT_FOUND)?.content
        }
        None => row.content.clone(),
    };
    revise(tx, state, caller, &row, &base, content).await
}

/// Puts `revision` in force as published and writes its event, and a recall to every
/// organisation that saw the picture before and does not now — in the caller's transaction.
async fn publish_in_force(
    tx: &Transaction<'_>,
    row: &PictureRow,
    revision: i32,
    status: Status,
    content: &PictureContent,
    severity: sitrep_types::Severity,
) -> Result<(), ApiError> {
    let was_published = row.status == Status::Published;
    let before = if was_published { events::recipients(tx, row.id).await? } else { Vec::new() };
    pictures::set_in_force(tx, row.id, revision, status, content, severity, true).await?;
    let kind = if was_published { EventType::Revised } else { EventType::Published };
    events::append(tx, kind, row.id, revision, content.tier, content.tlp, None).await?;
    let after = events::recipients(tx, row.id).await?;
    let lost: Vec<Uuid> = before.into_iter().filter(|o| !after.contains(o)).collect();
    if !lost.is_empty() {
        events::append(tx, EventType::Recalled, row.id, revision, content.tier, content.tlp, Some(&lost)).await?;
    }
    Ok(())
}

fn located(mut res: HttpResponse, id: Uuid) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/pictures/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else { return Ok(None) };
    let v = v.to_str().map_err(|_| ApiError::invalid("Idempotency-Key", "invalid_value", "visible ASCII only"))?;
    if v.is_empty() || v.len() > 200 {
        return Err(ApiError::invalid("Idempotency-Key", "invalid_value", "1 to 200 characters"));
    }
    Ok(Some(v.to_owned()))
}

/// One picture: its content in force (less indicators beyond the caller's reach), or
/// for the secretariat outside the audience its metadata. `ETag` for `If-Match`.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier read: `304` if it is still current")),
    responses(
        (status = 200, body = PictureView, headers(("ETag" = String))),
        (status = 304, description = "`If-None-Match` names the current ETag: nothing changed", headers(("ETag" = String))),
        AuthFailures, NotFound, ServerFailures
    )
)]
pub async fn get_picture(
    state: web::Data<AppState>,
    meta: RequestMeta,
    req: HttpRequest,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let row =
        pictures::find(&client, &Viewer::from(&caller.permissions), id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    let tag = etag(&caller, &row);
    if none_match(&req, &tag) {
        // Nothing changed since the caller's copy: still a read, logged as one.
        let mut r = access_log::picture(&meta, &caller, &row).status(304);
        r.reason = Some("not_modified".into());
        access_log::commit(&state, &meta, r).await?;
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, tag)).finish());
    }
    let related = related_seen(&client, &caller, &row.content).await?;
    let (body, redacted) = view(&caller, &row, &related);
    let mut r = access_log::picture(&meta, &caller, &row);
    if matches!(body, PictureView::Metadata(_)) {
        r.reason = Some("metadata_only".into());
    } else if redacted.any() {
        r.reason = redacted.reason();
    }
    access_log::commit(&state, &meta, r).await?;
    Ok(respond_with(actix_web::http::StatusCode::OK, &caller, &row, body))
}

/// Revise a picture: a JSON merge patch (RFC 7396) of its content, with `If-Match`.
/// A draft gets a new draft revision. For a published picture the change is proposed as
/// a pending revision, which goes through submit / approve / publish while the picture
/// keeps its old state — except a change that only narrows its handling, or one by an
/// approver that needs no four eyes, which takes effect at once.
#[utoipa::path(
    patch, path = "/api/v1/pictures/{id}", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body(content = PictureContent, description = "Any subset of the fields (JSON merge patch)"),
    responses(
        (status = 200, body = Picture, headers(("ETag" = String))),
        (status = 412, description = "Stale If-Match", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures
    )
)]
pub async fn update_picture(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<AuthorPictures>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Json<serde_json::Value, PICTURE_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let if_match = if_match(&req).ok_or(ApiError::Precondition {
        status: 428,
        code: "if_match_required",
        detail: "Send the picture's ETag in If-Match.",
    })?;
    let serde_json::Value::Object(patch) = body.0 else {
        return Err(ApiError::invalid("body", "invalid_type", "a JSON object"));
    };
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let row = own_locked(&tx, &caller, id.into_inner()).await?;
    check_if_match(&caller, &row, Some(&if_match))?;
    if matches!(row.status, Status::Withdrawn | Status::Closed | Status::Superseded) {
        return Err(ApiError::Conflict {
            code: "picture_closed",
            detail: "A withdrawn or closed picture is not revised.".into(),
        });
    }
    let base = match row.pending_revision {
        Some(n) => {
            pictures::revision_of(&tx, &Viewer::from(&caller.permissions), row.id, n).await?.ok_or(NOT_FOUND)?.content
        }
        None => row.content.clone(),
    };
    let mut merged = serde_json::to_value(&base).map_err(|e| ApiError::Internal(e.into()))?;
    if let serde_json::Value::Object(target) = &mut merged {
        for (k, v) in patch {
            if v.is_null() {
                target.remove(&k)
            } else {
                target.insert(k, v)
            };
        }
    }
    let content: PictureContent = crate::body::from_value(merged)?;
    let revised = revise(&tx, &state, &caller, &row, &base, content).await?;
    let mut r = access_log::picture(&meta, &caller, &revised.row);
    r.object_revision = Some(revised.revision);
    if revised.unchanged {
        // Nothing is written; the request is still recorded, as a read of the picture.
        r.reason = Some("unchanged".into());
    }
    access_log::write(&tx, &meta, r).await?;
    let res = respond(&tx, actix_web::http::StatusCode::OK, &caller, &revised.row).await?;
    tx.commit().await?;
    Ok(res)
}

/// What a revision did: the picture as it is now, the revision written (or, when the
/// change changed nothing, the one in force).
struct Revised {
    row: PictureRow,
    revision: i32,
    unchanged: bool,
}

/// The revise rule, shared by a patch and by the upload or removal of an attachment:
/// `content` replaces `base` (the pending revision if there is one, else the revision in
/// force) of the locked picture `row`, as a new draft revision, a change in force at once,
/// or a proposed revision waiting for review (`lifecycle::patch_outcome`).
async fn revise(
    tx: &Transaction<'_>,
    state: &AppState,
    caller: &Principal,
    row: &PictureRow,
    base: &PictureContent,
    content: PictureContent,
) -> Result<Revised, ApiError> {
    let checked = check_content(tx, caller, content, state, Some(row.id)).await?;
    let new = checked.content();
    let requires_review = pictures::organisation_requires_review(tx, row.originator_id).await?;
    let indicators = published_indicators(tx, row).await?;
    let outcome = lifecycle::patch_outcome(
        row.status,
        InForce { content: &row.content, indicators: &indicators },
        base,
        new,
        caller.permissions.can_approve_pictures(),
        requires_review,
    );
    let next = pictures::max_revision(tx, row.id).await? + 1;
    match outcome {
        PatchOutcome::Unchanged => {
            return Ok(Revised { row: row.clone(), revision: row.revision, unchanged: true });
        }
        PatchOutcome::NewDraft => {
            pictures::set_revision_state(tx, row.id, row.revision, RevisionState::Superseded, None).await?;
            pictures::insert_revision(tx, row.id, next, RevisionState::Draft, new, caller.user_id).await?;
            pictures::set_in_force(tx, row.id, next, Status::Draft, new, checked.severity(), false).await?;
        }
        PatchOutcome::Immediate => {
            pictures::insert_revision(tx, row.id, next, RevisionState::Published, new, caller.user_id).await?;
            pictures::set_revision_state(tx, row.id, row.revision, RevisionState::Superseded, None).await?;
            if let Some(pending) = row.pending_revision {
                pictures::set_revision_state(tx, row.id, pending, RevisionState::Rejected, None).await?;
            }
            publish_in_force(tx, row, next, row.status, new, checked.severity()).await?;
            pictures::set_pending(tx, row.id, None).await?;
        }
        PatchOutcome::Proposed => {
            if let Some(pending) = row.pending_revision {
                pictures::set_revision_state(tx, row.id, pending, RevisionState::Rejected, None).await?;
            }
            pictures::insert_revision(tx, row.id, next, RevisionState::Draft, new, caller.user_id).await?;
            pictures::set_pending(tx, row.id, Some(next)).await?;
        }
    }
    let row = pictures::find(tx, &Viewer::from(&caller.permissions), row.id, false).await?.ok_or(NOT_FOUND)?;
    Ok(Revised { row, revision: next, unchanged: false })
}

/// Every revision's indicators of a published picture, for what counts as loosening an
/// indicator's TLP (none are needed before the first publication).
async fn published_indicators(tx: &Transaction<'_>, row: &PictureRow) -> Result<IndicatorHistory, ApiError> {
    if row.status != Status::Published {
        return Ok(IndicatorHistory::default());
    }
    Ok(pictures::indicator_history(tx, &[row.id]).await?.remove(&row.id).unwrap_or_default())
}

/// The revision a lifecycle action works on: the pending one of a published picture,
/// or the draft itself.
async fn target(tx: &Transaction<'_>, caller: &Principal, row: &PictureRow) -> Result<pictures::RevisionRow, ApiError> {
    let n = match (row.status, row.pending_revision) {
        (_, Some(n)) => n,
        (Status::Draft | Status::InReview, None) => row.revision,
        _ => {
            return Err(ApiError::Conflict {
                code: "nothing_to_review",
                detail: "There is no draft or pending revision.".into(),
            });
        }
    };
    pictures::revision_of(tx, &Viewer::from(&caller.permissions), row.id, n).await?.ok_or(NOT_FOUND)
}

enum Action {
    Submit,
    Return(Option<String>),
    Approve,
    Publish,
    Withdraw,
    Close,
}

/// Marks the picture changed for its originator alone: a status change of a draft, or the
/// version of a published picture whose proposed revision moved on.
async fn touch(tx: &Transaction<'_>, row: &PictureRow, status: Status) -> Result<(), ApiError> {
    if status != row.status {
        pictures::set_status(tx, row.id, status, None).await?;
    } else {
        pictures::set_pending(tx, row.id, row.pending_revision).await?;
    }
    Ok(())
}

/// `412` unless `if_match` (when sent) is the picture's `ETag` for `p` now, or `*`.
fn check_if_match(p: &Principal, row: &PictureRow, if_match: Option<&str>) -> Result<(), ApiError> {
    conditional::check_if_match(&etag(p, row), if_match, "The picture changed; read it again.")
}

async fn lifecycle(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Principal,
    id: Uuid,
    action: Action,
    if_match: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let row = own_locked(&tx, caller, id).await?;
    check_if_match(caller, &row, if_match)?;
    let mut revision = row.revision;
    match action {
        Action::Submit => {
            let t = target(&tx, caller, &row).await?;
            if t.state != RevisionState::Draft {
                return Err(ApiError::conflict("not_a_draft", "Only a draft is submitted for review."));
            }
            pictures::set_revision_state(&tx, row.id, t.revision, RevisionState::InReview, None).await?;
            let status = if row.status == Status::Draft { Status::InReview } else { row.status };
            touch(&tx, &row, status).await?;
            revision = t.revision;
        }
        Action::Return(note) => {
            let t = target(&tx, caller, &row).await?;
            if !matches!(t.state, RevisionState::InReview | RevisionState::Approved) {
                return Err(ApiError::conflict(
                    "not_in_review",
                    "Only a revision in review is returned to its author.",
                ));
            }
            pictures::set_revision_state(&tx, row.id, t.revision, RevisionState::Draft, None).await?;
            pictures::clear_approval(&tx, row.id, t.revision).await?;
            pictures::record_return(&tx, row.id, t.revision, caller.user_id, note.as_deref()).await?;
            let status = if row.status == Status::InReview { Status::Draft } else { row.status };
            touch(&tx, &row, status).await?;
            revision = t.revision;
        }
        Action::Approve => {
            let t = target(&tx, caller, &row).await?;
            if t.state != RevisionState::InReview {
                return Err(ApiError::conflict("not_in_review", "Only a revision in review is approved."));
            }
            let history = pictures::written_revisions(&tx, row.id).await?;
            let controls = sitrep_db::service_accounts::key_holder_of(&tx, caller.user_id).await?;
            let approver = Actor { user: caller.user_id, service_account: caller.actor == ActorKind::ServiceAccount };
            if let Err(refusal) = lifecycle::approval(approver, &controls, &history, t.revision) {
                return Err(ApiError::Forbidden {
                    code: "four_eyes",
                    detail: match refusal {
                        ApprovalRefusal::ServiceAccount => "Only a person approves; a service account never does.",
                        ApprovalRefusal::WroteTheChain => {
                            "You wrote a revision of this change; another approver must approve it."
                        }
                        ApprovalRefusal::ControlsAnAuthor => {
                            "A service account whose key you created wrote a revision of this change; another approver must approve it."
                        }
                    },
                });
            }
            pictures::set_revision_state(&tx, row.id, t.revision, RevisionState::Approved, Some(caller.user_id))
                .await?;
            touch(&tx, &row, row.status).await?;
            revision = t.revision;
        }
        Action::Publish => {
            let t = target(&tx, caller, &row).await?;
            let was_published = row.status == Status::Published;
            let requires_review = pictures::organisation_requires_review(&tx, row.originator_id).await?;
            let indicators = published_indicators(&tx, &row).await?;
            let in_force = was_published.then_some(InForce { content: &row.content, indicators: &indicators });
            lifecycle::publication(t.state, in_force, &t.content, requires_review).map_err(
                |refusal| match refusal {
                    PublishRefusal::ApprovalRequired => ApiError::conflict(
                        "approval_required",
                        "This publication needs another approver's approval first.",
                    ),
                    PublishRefusal::NotPublishable => {
                        ApiError::conflict("not_publishable", "This revision cannot be published.")
                    }
                },
            )?;
            let severity =
                CheckedContent::check(t.content.clone(), Deployment { tl_iv_accredited: state.tl_iv_accredited })?
                    .severity();
            pictures::set_revision_state(&tx, row.id, t.revision, RevisionState::Published, None).await?;
            if was_published && t.revision != row.revision {
                pictures::set_revision_state(&tx, row.id, row.revision, RevisionState::Superseded, None).await?;
            }
            publish_in_force(&tx, &row, t.revision, Status::Published, &t.content, severity).await?;
            revision = t.revision;
        }
        Action::Withdraw | Action::Close => {
            if row.status != Status::Published {
                return Err(ApiError::conflict("not_published", "Only a published picture is withdrawn or closed."));
            }
            let status = if matches!(action, Action::Withdraw) { Status::Withdrawn } else { Status::Closed };
            if let Some(pending) = row.pending_revision {
                pictures::set_revision_state(&tx, row.id, pending, RevisionState::Rejected, None).await?;
            }
            pictures::set_status(&tx, row.id, status, Some(None)).await?;
            let kind = if status == Status::Withdrawn { EventType::Withdrawn } else { EventType::Revised };
            events::append(&tx, kind, row.id, row.revision, row.tier, row.tlp, None).await?;
        }
    }
    let row = pictures::find(&tx, &Viewer::from(&caller.permissions), row.id, false).await?.ok_or(NOT_FOUND)?;
    let mut r = access_log::picture(meta, caller, &row);
    r.object_revision = Some(revision);
    access_log::write(&tx, meta, r).await?;
    let res = respond(&tx, actix_web::http::StatusCode::OK, caller, &row).await?;
    tx.commit().await?;
    Ok(res)
}

macro_rules! lifecycle_handler {
    ($name:ident, $path:literal, $policy:ty, $action:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            post, path = $path, tag = "pictures",
            security(("bearer" = [])),
            params(
                ("id" = Uuid, Path),
                ("If-Match" = Option<String>, Header, description = "The picture's ETag as last read: 412 if it changed since")
            ),
            request_body(content = Option<LifecycleNote>),
            responses(
                (status = 200, body = Picture),
                (status = 412, description = "Stale If-Match", body = sitrep_types::Problem, content_type = "application/problem+json"),
                AuthFailures, Forbidden, NotFound, Conflict, ServerFailures
            )
        )]
        pub async fn $name(
            state: web::Data<AppState>,
            meta: RequestMeta,
            caller: Caller<$policy>,
            req: HttpRequest,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, ApiError> {
            lifecycle(&state, &meta, &caller, id.into_inner(), $action, if_match(&req).as_deref()).await
        }
    };
}

lifecycle_handler!(
    submit_picture,
    "/api/v1/pictures/{id}/submit",
    AuthorPictures,
    Action::Submit,
    "Submit the draft (or the pending revision) for review."
);
/// Return the revision in review to its author, with an optional note: it becomes a
/// draft again and no revision is written. The author revises and submits it anew.
#[utoipa::path(
    post, path = "/api/v1/pictures/{id}/return", tag = "pictures",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The picture's ETag as last read: 412 if it changed since")
    ),
    request_body(content = Option<LifecycleNote>),
    responses(
        (status = 200, body = Picture),
        (status = 412, description = "Stale If-Match", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures
    )
)]
pub async fn return_picture(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ApprovePictures>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        crate::body::parse_json::<LifecycleNote>(&body)?.note
    };
    if let Some(text) = &note {
        RETURN_NOTE.check("note", text).map_err(FieldErrors::from)?;
    }
    lifecycle(&state, &meta, &caller, id.into_inner(), Action::Return(note), if_match(&req).as_deref()).await
}

lifecycle_handler!(
    approve_picture,
    "/api/v1/pictures/{id}/approve",
    ApprovePictures,
    Action::Approve,
    "Approve the revision in review: an approver of the originating organisation who did not write it (four eyes)."
);
lifecycle_handler!(
    publish_picture,
    "/api/v1/pictures/{id}/publish",
    ApprovePictures,
    Action::Publish,
    "Publish the draft or pending revision. At `group_virt_ras` or `public`, when the TLP is loosened, or when the organisation requires review, it must have been approved by another approver."
);
lifecycle_handler!(
    withdraw_picture,
    "/api/v1/pictures/{id}/withdraw",
    ApprovePictures,
    Action::Withdraw,
    "Withdraw a published picture (it stays readable, marked withdrawn)."
);
lifecycle_handler!(
    close_picture,
    "/api/v1/pictures/{id}/close",
    ApprovePictures,
    Action::Close,
    "Close a published picture: the situation is over."
);

fn revision_visible(p: &Principal, row: &PictureRow, rev: &pictures::RevisionRow) -> bool {
    revision_readable(&Viewer::from(&p.permissions), row.originator_id, rev.published, &rev.content)
}

/// A picture's revisions the caller may read: every one for the originator; for its
/// audience, the published ones whose own audience included it.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/revisions", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RevisionInfo>), AuthFailures, NotFound, ServerFailures)
)]
pub async fn list_revisions(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = pictures::find(&client, &v, id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    if sight(&v, &row.handling()) != Sight::Full {
        return Err(NOT_FOUND);
    }
    let insider = insider(&v, row.originator_id);
    let mut returns = if insider { pictures::returns(&client, row.id).await? } else { Default::default() };
    let items: Vec<RevisionInfo> = pictures::revisions(&client, &v, row.id)
        .await?
        .into_iter()
        .filter(|r| revision_visible(&caller, &row, r))
        .map(|r| {
            let (returned_by, returned_at, returned_note) = match returns.remove(&r.revision) {
                Some((by, at, note)) => (Some(by), Some(at), note),
                None => (None, None, None),
            };
            RevisionInfo {
                returned_by,
                returned_at,
                returned_note,
                revision: r.revision,
                state: r.state.as_str().to_owned(),
                created_at: r.created_at,
                tier: r.content.tier,
                tlp: r.content.tlp,
                created_by: insider.then_some(r.created_by),
                approved_by: if insider { r.approved_by } else { None },
            }
        })
        .collect();
    access_log::commit(&state, &meta, access_log::picture(&meta, &caller, &row)).await?;
    Ok(HttpResponse::Ok().json(items))
}

/// One revision's content, as the caller may see it.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/revisions/{n}", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("n" = i32, Path)),
    responses((status = 200, body = PictureContent), AuthFailures, NotFound, ServerFailures)
)]
pub async fn get_revision(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = pictures::find(&client, &v, id, false).await?.ok_or(NOT_FOUND)?;
    if sight(&v, &row.handling()) != Sight::Full {
        return Err(NOT_FOUND);
    }
    let rev = pictures::revision_of(&client, &v, id, n)
        .await?
        .filter(|r| revision_visible(&caller, &row, r))
        .ok_or(NOT_FOUND)?;
    let history = pictures::indicator_history(&client, &[id]).await?.remove(&id).unwrap_or_default();
    let related = related_seen(&client, &caller, &rev.content).await?;
    let (content, redacted) = revision_content(&v, &row.handling(), n, rev.content, &history, &related);
    let mut r = access_log::picture(&meta, &caller, &row);
    r.object_revision = Some(n);
    if redacted.any() {
        r.reason = redacted.reason();
    }
    access_log::commit(&state, &meta, r).await?;
    Ok(HttpResponse::Ok().json(content))
}

/// The other pictures that share an indicator value with this one (values compared in
/// their normalised form), among the pictures the caller sees in full and through the
/// indicators it sees: an indicator redacted for the caller links nothing, on either side.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/related-by-indicator", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RelatedByIndicator), AuthFailures, NotFound, ServerFailures)
)]
pub async fn related_by_indicator(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = pictures::find(&client, &v, id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    if sight(&v, &row.handling()) != Sight::Full {
        return Err(NOT_FOUND);
    }
    let related = related_pictures(&client, &v, &row).await?;
    let mut record = access_log::picture(&meta, &caller, &row);
    record.reason = Some(format!("values:{},pictures:{}", related.values.len(), related.pictures.len()));
    record.object_ids = Some(related.pictures.iter().map(|p| p.id).collect());
    access_log::commit(&state, &meta, record).await?;
    Ok(HttpResponse::Ok().json(related))
}

/// What `related_by_indicator` answers: `row`'s values that correlate for `v`, and the
/// other pictures `v` sees whose indicators in force that correlate for `v` share one.
async fn related_pictures(
    c: &impl GenericClient,
    v: &Viewer,
    row: &PictureRow,
) -> Result<RelatedByIndicator, ApiError> {
    use sitrep_domain::correlation::{correlates, values_for};
    let values = values_for(v, &row.handling(), &row.content.indicators);
    let mut pictures: Vec<RelatedPicture> = Vec::new();
    for s in sitrep_db::correlation::sharing(c, v, Some(row.id), &values).await? {
        let h = Handling { originator: s.originator_id, status: s.status, tier: s.tier, named: &s.named_recipients };
        let indicator = Indicator {
            type_: s.kind,
            value: s.value.clone(),
            platform: None,
            first_seen: None,
            last_seen: None,
            tlp: s.indicator_tlp,
        };
        if !correlates(v, &h, &indicator) {
            continue;
        }
        let shared = IndicatorValue { type_: s.kind, value: s.value };
        match pictures.iter_mut().find(|p| p.id == s.picture_id) {
            Some(p) if !p.shared.contains(&shared) => p.shared.push(shared),
            Some(_) => {}
            None => pictures.push(RelatedPicture { id: s.picture_id, reference: s.reference, shared: vec![shared] }),
        }
    }
    let values = values
        .into_iter()
        .map(|(type_, value)| {
            let indicator = IndicatorValue { type_, value };
            let count = pictures.iter().filter(|p| p.shared.contains(&indicator)).count();
            SharedIndicator { indicator, pictures: u32::try_from(count).unwrap_or(u32::MAX) }
        })
        .collect();
    Ok(RelatedByIndicator { values, pictures })
}

/// The pictures the `indicator=` filter (`type:value`) keeps: those whose indicator in
/// force of that type has the same normalised value and correlates for `v`.
async fn sharing_indicator(c: &impl GenericClient, v: &Viewer, filter: &str) -> Result<Vec<Uuid>, ApiError> {
    use sitrep_domain::correlation::{correlates, normalise};
    let invalid = || ApiError::invalid("indicator", "invalid_value", "type:value, with an indicator type");
    let (kind, value) = filter.split_once(':').ok_or_else(invalid)?;
    let kind = sitrep_types::IndicatorType::parse(kind.trim()).ok_or_else(invalid)?;
    if value.chars().count() > 2048 {
        return Err(invalid());
    }
    let value = normalise(kind, value).ok_or_else(invalid)?;
    let mut ids: Vec<Uuid> = sitrep_db::correlation::sharing(c, v, None, &[(kind, value)])
        .await?
        .into_iter()
        .filter(|s| {
            let h =
                Handling { originator: s.originator_id, status: s.status, tier: s.tier, named: &s.named_recipients };
            let i = Indicator {
                type_: s.kind,
                value: s.value.clone(),
                platform: None,
                first_seen: None,
                last_seen: None,
                tlp: s.indicator_tlp,
            };
            correlates(v, &h, &i)
        })
        .map(|s| s.picture_id)
        .collect();
    ids.dedup();
    Ok(ids)
}
