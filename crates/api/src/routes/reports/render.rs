//! `GET /reports/{id}/render`: a report as a PDF or a printable HTML page, made from
//! exactly the view the caller gets as JSON (docs/reports.md).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use sitrep_db::GenericClient;
use sitrep_db::{accounts, reference, reports};
use sitrep_domain::charts::AckState;
use sitrep_domain::report::report_sight;
use sitrep_domain::visibility::{Sight, Viewer, insider};
use sitrep_types::Report;
use uuid::Uuid;

use super::{NOT_FOUND, record, view};
use crate::access_log;
use crate::body::Query;
use crate::docs::{AuthFailures, NotFound, QueryFailures, ServerFailures};
use crate::documents::{self, RenderQuery, ReportExtras, Words};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Authenticated, Caller, Principal};
use crate::state::AppState;

/// The acknowledgements of the report's pictures as `p` may know them: every recipient
/// of a picture of its own organisation (or for the secretariat), else its own
/// organisation's alone; and the codes of the organisations named.
async fn acknowledgements(
    c: &impl GenericClient,
    p: &Principal,
    report: &Report,
) -> Result<(Vec<AckState>, HashMap<Uuid, String>), ApiError> {
    let v = Viewer::from(&p.permissions);
    let mut states = Vec::with_capacity(report.included.len());
    let mut codes = HashMap::new();
    for picture in &report.included {
        let all = insider(&v, picture.originator.id);
        let scope = if all { None } else { Some(p.organisation_id) };
        let acks = reference::acknowledgements(c, picture.id, scope).await?;
        let (_, pending) = reference::pending_recipients(c, picture.id).await?;
        let mut recipients = Vec::new();
        for a in acks {
            codes.insert(a.organisation.id, a.organisation.code.clone());
            recipients.push((a.organisation.id, true));
        }
        for o in pending.into_iter().filter(|o| all || o.id == p.organisation_id) {
            codes.insert(o.id, o.code.clone());
            recipients.push((o.id, false));
        }
        states.push(AckState { recipients });
    }
    Ok((states, codes))
}

/// The report as a document for the caller: its cover (window, election and phase,
/// summary, assessment), the table of its pictures, charts of them by domain and severity
/// over the window and of acknowledgements per organisation, then each picture as
/// `GET /pictures/{id}` shows it to the caller. `404` when the report's handling does not
/// reach the caller. Access-logged with the content hash printed in the footer.
#[utoipa::path(
    get, path = "/api/v1/reports/{id}/render", tag = "reports",
    security(("bearer" = [])), params(("id" = Uuid, Path), RenderQuery),
    responses(
        (status = 200, description = "The PDF (`application/pdf`) or the HTML page (`text/html`)",
         content(("application/pdf"), ("text/html")),
         headers(("Content-Hash" = String, description = "The short content hash printed in the footer"),
                 ("Content-Disposition" = String))),
        AuthFailures, NotFound, QueryFailures, ServerFailures
    )
)]
pub async fn render_report(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
    query: Query<RenderQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = reports::find(&client, &v, id.into_inner()).await?.ok_or(NOT_FOUND)?;
    if report_sight(&v, &row.handling()) != Sight::Full {
        return Err(NOT_FOUND);
    }
    let (report, note) = view(&client, &caller, &row).await?;
    let election = match report.content.election_id {
        Some(e) => reference::get_election(&client, e).await?,
        None => None,
    };
    let (acks, organisations) = acknowledgements(&client, &caller, &report).await?;
    let reader = accounts::get_organisation(&client, caller.organisation_id).await?.map(|o| o.code).unwrap_or_default();
    let lang = query.0.lang.unwrap_or(report.content.original_lang);
    let format = query.0.format.unwrap_or_default();
    let extras = ReportExtras { election, acknowledgements: acks, organisations };
    let doc =
        documents::report_document(&Words::new(lang), &report, &extras, &reader, documents::zone(&state.time_zone));
    // Typesetting waits for a render slot and takes CPU time: it holds no database
    // connection meanwhile, so a queue of renders cannot starve the pool.
    drop(client);
    let rendered = documents::render(doc, format).await?;

    let mut r = record(&meta, &caller, &row);
    r.object_ids = Some(report.included.iter().map(|p| p.id).collect());
    r.reason = Some(documents::render_reason(format, lang, &rendered.hash, note));
    access_log::commit(&state, &meta, r).await?;

    Ok(documents::respond(format, &row.reference, rendered))
}
