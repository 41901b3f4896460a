//! Situation reports: create, read, list, revise, and the pictures' lifecycle with the
//! same four eyes. A report is read under its own handling, and each included picture
//! under the reader's sight of it now; a report's handling never reaches further, nor
//! marks looser, than any picture it includes (`sitrep_domain::report::first_looser`),
//! checked when it is written and again when it is published.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike, Utc};
use serde::Deserialize;
use sitrep_db::events::{self, ReportEventType};
use sitrep_db::pictures::{self, ListFilter};
use sitrep_db::reports::{self, ReportRow};
use sitrep_db::{GenericClient, Transaction};
use sitrep_domain::lifecycle::{self, Actor, ApprovalRefusal, PatchOutcome, PublishRefusal, RevisionState};
use sitrep_domain::report::{
    CheckedReport, IncludedPicture, Organisation, ReportHandling, first_looser, patch_outcome, report_sight,
};
use sitrep_domain::visibility::{Handling, Sight, Viewer, current_content, insider};
use sitrep_domain::{FieldErrors, Invalid};
use sitrep_types::{Originator, Page, Report, ReportContent, ReportListItem, ReportPicture, Status};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::conditional::{self, Versioned, if_match};
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{ActorKind, ApprovePictures, Authenticated, AuthorPictures, Caller, Principal};
use crate::state::AppState;

endpoints! {
    "/reports" { GET "report.list" => list_reports, POST "report.create" => create_report }
    "/reports/{id}" { GET "report.view" => get_report, PATCH "report.revise" => update_report }
    "/reports/{id}/submit" { POST "report.submit" => submit_report }
    "/reports/{id}/return" { POST "report.return" => return_report }
    "/reports/{id}/approve" { POST "report.approve" => approve_report }
    "/reports/{id}/publish" { POST "report.publish" => publish_report }
    "/reports/{id}/withdraw" { POST "report.withdraw" => withdraw_report }
    "/reports/{id}/render" { GET "report.render" => render::render_report }
}

/// A report's texts may be long (the assessment): a larger body limit than the default.
pub const REPORT_BODY_LIMIT: usize = 512 * 1024;
pub mod render;

const NOT_FOUND: ApiError = ApiError::NotFound { code: "report_not_found" };
const LIST: &str = "reports";

/// A record of `p` acting on revision `revision` of report `row`.
fn record(meta: &RequestMeta, p: &Principal, row: &ReportRow) -> sitrep_db::access_log::AccessRecord {
    let mut r = access_log::by(meta, p).object("report", row.id);
    r.object_revision = Some(row.revision);
    r.tier = Some(row.tier.as_str().to_owned());
    r.tlp = Some(row.tlp.as_str().to_owned());
    r
}

/// The report's `ETag` for `p` (`conditional::etag`).
fn etag(p: &Principal, row: &ReportRow) -> String {
    let object = Versioned {
        id: row.id,
        originator: row.originator_id,
        version: row.version,
        revision: row.revision,
        status: row.status.as_str(),
    };
    conditional::etag(p.organisation_id, object)
}

/// `412` unless `if_match` (when sent) is the report's `ETag` for `p` now, or `*`.
fn check_if_match(p: &Principal, row: &ReportRow, if_match: Option<&str>) -> Result<(), ApiError> {
    conditional::check_if_match(&etag(p, row), if_match, "The report changed; read it again.")
}

/// The included pictures as `v` sees them now, in the report's order; those it does not
/// see in full are left out. Also returns how many were left out and how many indicators
/// and attachments were redacted, for the access log.
async fn included(
    c: &impl GenericClient,
    v: &Viewer,
    ids: &[Uuid],
) -> Result<(Vec<ReportPicture>, usize, u32), ApiError> {
    // The list query with an id filter returns only pictures the viewer sees in full
    // (the secretariat's metadata view is never given to a filter on content).
    let filter = ListFilter { pictures: Some(ids.to_vec()), include_expired: true, ..Default::default() };
    let limit = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let rows = pictures::list(c, v, &filter, None, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut redacted_total = 0u32;
    for id in ids {
        let Some(row) = rows.iter().find(|r| r.id == *id) else { continue };
        let h = row.handling();
        if sitrep_domain::visibility::sight(v, &h) != Sight::Full {
            continue;
        }
        let (content, redacted) = current_content(v, &h, row.content.clone(), &[]);
        redacted_total = redacted_total.saturating_add(redacted.indicators).saturating_add(redacted.attachments);
        out.push(ReportPicture {
            id: row.id,
            reference: row.reference.clone(),
            revision: row.revision,
            status: row.status,
            originator: Originator { id: row.originator_id, code: row.originator_code.clone() },
            severity: row.severity,
            published_at: row.published_at,
            expired: row.valid_until.is_some_and(|t| t <= Utc::now()),
            redacted_indicators: redacted.indicators,
            redacted_attachments: redacted.attachments,
            content,
        });
    }
    let hidden = ids.len() - out.len();
    Ok((out, hidden, redacted_total))
}

/// The report as `p` reads it, and the access-log note of what was left out.
async fn view(c: &impl GenericClient, p: &Principal, row: &ReportRow) -> Result<(Report, Option<String>), ApiError> {
    let v = Viewer::from(&p.permissions);
    let (pictures, hidden, redacted) = included(c, &v, &row.content.pictures).await?;
    let note = match (hidden, redacted) {
        (0, 0) => None,
        (h, 0) => Some(format!("pictures_hidden:{h}")),
        (0, r) => Some(format!("picture_items_redacted:{r}")),
        (h, r) => Some(format!("pictures_hidden:{h} picture_items_redacted:{r}")),
    };
    let own = p.organisation_id == row.originator_id;
    let mut content = row.content.clone();
    // Which other organisations a report names is for its originator and the secretariat
    // alone, as for a picture.
    if !insider(&v, row.originator_id) {
        content.named_recipients.clear();
    }
    // A picture the reader no longer sees is left out of the list too, so that neither an
    // id nor a count tells of it; the originator keeps the list it wrote.
    if !own {
        content.pictures.retain(|id| pictures.iter().any(|p| p.id == *id));
    }
    let report = Report {
        id: row.id,
        reference: row.reference.clone(),
        revision: row.revision,
        status: row.status,
        originator: Originator { id: row.originator_id, code: row.originator_code.clone() },
        created_at: row.created_at,
        updated_at: row.updated_at,
        published_at: row.published_at,
        pending_revision: if own { row.pending_revision } else { None },
        included: pictures,
        content,
    };
    Ok((report, note))
}

async fn respond(
    c: &impl GenericClient,
    status: StatusCode,
    p: &Principal,
    row: &ReportRow,
) -> Result<HttpResponse, ApiError> {
    let (body, _) = view(c, p, row).await?;
    Ok(HttpResponse::build(status).insert_header((header::ETAG, etag(p, row))).json(body))
}

/// Checks the content's own rules, what it refers to (named organisations, the election,
/// the pictures, each of which the caller must see in full: one it does not is refused
/// as one that does not exist), and the strictness rule. `422` naming the fields.
async fn check_report(
    c: &impl GenericClient,
    p: &Principal,
    content: ReportContent,
) -> Result<CheckedReport, ApiError> {
    let checked = CheckedReport::check(content)?;
    let content = checked.content();
    let v = Viewer::from(&p.permissions);
    let mut errors = FieldErrors::default();
    let named = if content.named_recipients.is_empty() {
        Vec::new()
    } else {
        reports::organisations(c, &content.named_recipients).await?
    };
    for (i, r) in content.named_recipients.iter().enumerate() {
        if !named.iter().any(|o| o.id == *r) {
            errors.push(Invalid::new(format!("named_recipients[{i}]"), "unknown_organisation", "no such organisation"));
        }
    }
    if let Some(election) = content.election_id
        && !reports::election_exists(c, election).await?
    {
        errors.push(Invalid::new("election_id", "unknown_election", "no such election"));
    }
    let found = reports::picture_handlings(c, &v, &content.pictures).await?;
    let mut ordered = Vec::with_capacity(found.len());
    for (i, id) in content.pictures.iter().enumerate() {
        match found.iter().find(|f| f.id == *id) {
            Some(f) => ordered.push(f),
            None => errors.push(Invalid::new(format!("pictures[{i}]"), "unknown_picture", "no such picture")),
        }
    }
    errors.finish()?;
    let handling = ReportHandling {
        originator: Organisation { id: p.organisation_id, reach: p.permissions.reach },
        tier: content.tier,
        tlp: content.tlp,
        named: &named,
    };
    let pictures: Vec<IncludedPicture<'_>> = ordered
        .iter()
        .map(|f| IncludedPicture {
            handling: Handling {
                originator: f.originator_id,
                status: f.status,
                tier: f.tier,
                named: &f.named_recipients,
            },
            tlp: f.tlp,
        })
        .collect();
    if let Some((i, why)) = first_looser(&handling, &pictures) {
        return Err(ApiError::Invalid(
            Invalid::new(format!("pictures[{i}]"), why.code(), format!("{}: {}", ordered[i].reference, why.message()))
                .into(),
        ));
    }
    Ok(checked)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, sent with the same limit.
    pub cursor: Option<String>,
}

/// Reports whose handling reaches the caller (its own organisation's drafts included),
/// newest change first.
#[utoipa::path(
    get, path = "/api/v1/reports", tag = "reports",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<ReportListItem>), AuthFailures, QueryFailures, ServerFailures)
)]
pub async fn list_reports(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    query: crate::body::Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = PageQuery { limit: query.0.limit, cursor: query.0.cursor.clone() };
    let limit = page.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, LIST);
    let after = cursors.after_position(page.cursor.as_deref())?.map(|(at, [id])| (at, id));
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let rows = reports::list(&client, &v, after, limit).await?;
    let next = cursors.next_position(rows.len(), limit, rows.last().map(|r| (r.updated_at, [r.id])));
    let items: Vec<ReportListItem> = rows
        .iter()
        .filter(|r| report_sight(&v, &r.handling()) == Sight::Full)
        .map(|r| ReportListItem {
            id: r.id,
            reference: r.reference.clone(),
            revision: r.revision,
            status: r.status,
            originator: Originator { id: r.originator_id, code: r.originator_code.clone() },
            tier: r.tier,
            tlp: r.tlp,
            title: r.content.title.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            published_at: r.published_at,
        })
        .collect();
    let ids = items.iter().map(|r| r.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("report", ids)).await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// Create a report (a draft of the caller's organisation) from published pictures the
/// caller sees in full. `422` naming the picture when the report's handling reaches
/// further or marks looser than it.
#[utoipa::path(
    post, path = "/api/v1/reports", tag = "reports",
    security(("bearer" = [])), request_body = ReportContent,
    responses(
        (status = 201, body = Report, headers(("ETag" = String), ("Location" = String))),
        AuthFailures, Forbidden, BodyFailures, ServerFailures
    )
)]
pub async fn create_report(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<AuthorPictures>,
    body: Json<ReportContent, REPORT_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let checked = check_report(&tx, &caller, body.0).await?;
    let id = Uuid::new_v4();
    reports::create(&tx, id, Utc::now().year(), caller.organisation_id, caller.user_id, checked.content()).await?;
    let row = reports::find(&tx, &Viewer::from(&caller.permissions), id).await?.ok_or(NOT_FOUND)?;
    access_log::write(&tx, &meta, record(&meta, &caller, &row).status(201)).await?;
    let mut res = respond(&tx, StatusCode::CREATED, &caller, &row).await?;
    tx.commit().await?;
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/reports/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// One report, with each included picture as the caller sees it now (a picture it does
/// not see in full is left out; indicators and attachments beyond its reach are
/// redacted). `404` when the report's handling does not reach the caller.
#[utoipa::path(
    get, path = "/api/v1/reports/{id}", tag = "reports",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Report, headers(("ETag" = String))), AuthFailures, NotFound, ServerFailures)
)]
pub async fn get_report(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = reports::find(&client, &v, id.into_inner()).await?.ok_or(NOT_FOUND)?;
    if report_sight(&v, &row.handling()) != Sight::Full {
        return Err(NOT_FOUND);
    }
    let (body, note) = view(&client, &caller, &row).await?;
    let mut r = record(&meta, &caller, &row);
    r.object_ids = Some(body.included.iter().map(|p| p.id).collect());
    r.reason = note;
    access_log::commit(&state, &meta, r).await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(&caller, &row))).json(body))
}

/// The report, locked, if the caller's organisation wrote it. A report the caller cannot
/// see is `404`; one it sees but did not write is `403`.
async fn own_locked(tx: &Transaction<'_>, p: &Principal, id: Uuid) -> Result<ReportRow, ApiError> {
    if !reports::lock(tx, id).await? {
        return Err(NOT_FOUND);
    }
    let row = reports::find(tx, &Viewer::from(&p.permissions), id).await?.ok_or(NOT_FOUND)?;
    if row.originator_id != p.organisation_id {
        return Err(ApiError::Forbidden {
            code: "not_originator",
            detail: "Only the organisation that wrote a report changes it.",
        });
    }
    Ok(row)
}

/// Revise a report: a JSON merge patch (RFC 7396) of its content, with `If-Match`. A
/// draft gets a new draft revision; for a published report the change is proposed as a
/// pending revision that goes through submit / approve / publish while the report keeps
/// its state.
#[utoipa::path(
    patch, path = "/api/v1/reports/{id}", tag = "reports",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("If-Match" = String, Header)),
    request_body(content = ReportContent, description = "Any subset of the fields (JSON merge patch)"),
    responses(
        (status = 200, body = Report, headers(("ETag" = String))),
        (status = 412, description = "Stale If-Match", body = sitrep_types::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures
    )
)]
pub async fn update_report(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<AuthorPictures>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Json<serde_json::Value, REPORT_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let if_match = if_match(&req).ok_or(ApiError::Precondition {
        status: 428,
        code: "if_match_required",
        detail: "Send the report's ETag in If-Match.",
    })?;
    let serde_json::Value::Object(patch) = body.0 else {
        return Err(ApiError::invalid("body", "invalid_type", "a JSON object"));
    };
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let row = own_locked(&tx, &caller, id.into_inner()).await?;
    check_if_match(&caller, &row, Some(&if_match))?;
    if row.status == Status::Withdrawn {
        return Err(ApiError::Conflict { code: "report_closed", detail: "A withdrawn report is not revised.".into() });
    }
    let v = Viewer::from(&caller.permissions);
    let base = match row.pending_revision {
        Some(n) => reports::revision_of(&tx, &v, row.id, n).await?.ok_or(NOT_FOUND)?.content,
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
    let content: ReportContent = crate::body::from_value(merged)?;
    let checked = check_report(&tx, &caller, content).await?;
    let new = checked.content();
    let next = reports::max_revision(&tx, row.id).await? + 1;
    let mut r = record(&meta, &caller, &row);
    match patch_outcome(row.status, *new == base) {
        PatchOutcome::Unchanged => r.reason = Some("unchanged".into()),
        PatchOutcome::NewDraft | PatchOutcome::Immediate => {
            reports::set_revision_state(&tx, row.id, row.revision, RevisionState::Superseded, None).await?;
            reports::insert_revision(&tx, row.id, next, RevisionState::Draft, new, caller.user_id).await?;
            reports::set_in_force(&tx, row.id, next, Status::Draft, new, false).await?;
            r.object_revision = Some(next);
        }
        PatchOutcome::Proposed => {
            if let Some(pending) = row.pending_revision {
                reports::set_revision_state(&tx, row.id, pending, RevisionState::Rejected, None).await?;
            }
            reports::insert_revision(&tx, row.id, next, RevisionState::Draft, new, caller.user_id).await?;
            reports::set_pending(&tx, row.id, Some(next)).await?;
            r.object_revision = Some(next);
        }
    }
    access_log::write(&tx, &meta, r).await?;
    let row = reports::find(&tx, &v, row.id).await?.ok_or(NOT_FOUND)?;
    let res = respond(&tx, StatusCode::OK, &caller, &row).await?;
    tx.commit().await?;
    Ok(res)
}

enum Action {
    Submit,
    Return,
    Approve,
    Publish,
    Withdraw,
}

/// The revision a lifecycle action works on: the pending one of a published report, or
/// the draft itself.
async fn target(tx: &Transaction<'_>, p: &Principal, row: &ReportRow) -> Result<reports::RevisionRow, ApiError> {
    let n = match (row.status, row.pending_revision) {
        (_, Some(n)) => n,
        (Status::Draft | Status::InReview, None) => row.revision,
        _ => return Err(ApiError::conflict("nothing_to_review", "There is no draft or pending revision.")),
    };
    reports::revision_of(tx, &Viewer::from(&p.permissions), row.id, n).await?.ok_or(NOT_FOUND)
}

/// Marks the report changed: its status for a draft, its version (the originator's
/// `ETag`) for a published report whose proposed revision moved on.
async fn touch(tx: &Transaction<'_>, row: &ReportRow, status: Status) -> Result<(), ApiError> {
    if status != row.status {
        reports::set_status(tx, row.id, status).await?;
    } else {
        reports::set_pending(tx, row.id, row.pending_revision).await?;
    }
    Ok(())
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
            reports::set_revision_state(&tx, row.id, t.revision, RevisionState::InReview, None).await?;
            let status = if row.status == Status::Draft { Status::InReview } else { row.status };
            touch(&tx, &row, status).await?;
            revision = t.revision;
        }
        Action::Return => {
            let t = target(&tx, caller, &row).await?;
            if !matches!(t.state, RevisionState::InReview | RevisionState::Approved) {
                return Err(ApiError::conflict(
                    "not_in_review",
                    "Only a revision in review is returned to its author.",
                ));
            }
            reports::set_revision_state(&tx, row.id, t.revision, RevisionState::Draft, None).await?;
            reports::clear_approval(&tx, row.id, t.revision).await?;
            let status = if row.status == Status::InReview { Status::Draft } else { row.status };
            touch(&tx, &row, status).await?;
            revision = t.revision;
        }
        Action::Approve => {
            let t = target(&tx, caller, &row).await?;
            if t.state != RevisionState::InReview {
                return Err(ApiError::conflict("not_in_review", "Only a revision in review is approved."));
            }
            let history = reports::written_revisions(&tx, row.id).await?;
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
            reports::set_revision_state(&tx, row.id, t.revision, RevisionState::Approved, Some(caller.user_id)).await?;
            touch(&tx, &row, row.status).await?;
            revision = t.revision;
        }
        Action::Publish => {
            let t = target(&tx, caller, &row).await?;
            let was_published = row.status == Status::Published;
            // The pictures may have been made stricter since the report was written.
            check_report(&tx, caller, t.content.clone()).await?;
            let requires_review = pictures::organisation_requires_review(&tx, row.originator_id).await?;
            let needs = lifecycle::handling_needs_approval(
                was_published.then_some(row.tlp),
                t.content.tier,
                t.content.tlp,
                requires_review,
            );
            lifecycle::publishable(t.state, needs).map_err(|refusal| match refusal {
                PublishRefusal::ApprovalRequired => {
                    ApiError::conflict("approval_required", "This publication needs another approver's approval first.")
                }
                PublishRefusal::NotPublishable => {
                    ApiError::conflict("not_publishable", "This revision cannot be published.")
                }
            })?;
            reports::set_revision_state(&tx, row.id, t.revision, RevisionState::Published, None).await?;
            if was_published && t.revision != row.revision {
                reports::set_revision_state(&tx, row.id, row.revision, RevisionState::Superseded, None).await?;
            }
            reports::set_in_force(&tx, row.id, t.revision, Status::Published, &t.content, true).await?;
            let (tier, tlp) = (t.content.tier, t.content.tlp);
            events::append_report(&tx, ReportEventType::Published, row.id, t.revision, tier, tlp).await?;
            revision = t.revision;
        }
        Action::Withdraw => {
            if row.status != Status::Published {
                return Err(ApiError::conflict("not_published", "Only a published report is withdrawn."));
            }
            if let Some(pending) = row.pending_revision {
                reports::set_revision_state(&tx, row.id, pending, RevisionState::Rejected, None).await?;
                reports::set_pending(&tx, row.id, None).await?;
            }
            reports::set_status(&tx, row.id, Status::Withdrawn).await?;
            events::append_report(&tx, ReportEventType::Withdrawn, row.id, row.revision, row.tier, row.tlp).await?;
        }
    }
    let row = reports::find(&tx, &Viewer::from(&caller.permissions), row.id).await?.ok_or(NOT_FOUND)?;
    let mut r = record(meta, caller, &row);
    r.object_revision = Some(revision);
    access_log::write(&tx, meta, r).await?;
    let res = respond(&tx, StatusCode::OK, caller, &row).await?;
    tx.commit().await?;
    Ok(res)
}

macro_rules! lifecycle_handler {
    ($name:ident, $path:literal, $policy:ty, $action:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            post, path = $path, tag = "reports",
            security(("bearer" = [])),
            params(
                ("id" = Uuid, Path),
                ("If-Match" = Option<String>, Header, description = "The report's ETag as last read: 412 if it changed since")
            ),
            responses(
                (status = 200, body = Report),
                (status = 412, description = "Stale If-Match", body = sitrep_types::Problem, content_type = "application/problem+json"),
                AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures
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
    submit_report,
    "/api/v1/reports/{id}/submit",
    AuthorPictures,
    Action::Submit,
    "Submit the draft (or the pending revision) for review."
);
lifecycle_handler!(
    return_report,
    "/api/v1/reports/{id}/return",
    ApprovePictures,
    Action::Return,
    "Return the revision in review to its author: it becomes a draft again, and no revision is written."
);
lifecycle_handler!(
    approve_report,
    "/api/v1/reports/{id}/approve",
    ApprovePictures,
    Action::Approve,
    "Approve the revision in review: an approver of the report's organisation who wrote no revision of it since the last approval (four eyes)."
);
lifecycle_handler!(
    publish_report,
    "/api/v1/reports/{id}/publish",
    ApprovePictures,
    Action::Publish,
    "Publish the draft or pending revision. The strictness rule is checked again against the pictures as they are now (`422` naming the picture). At `group_virt_ras` or `public`, when the TLP is loosened, or when the organisation requires review, it must have been approved by another approver."
);
lifecycle_handler!(
    withdraw_report,
    "/api/v1/reports/{id}/withdraw",
    ApprovePictures,
    Action::Withdraw,
    "Withdraw a published report (it stays readable, marked withdrawn)."
);
