//! `GET /pictures/{id}/render`: one picture as a PDF or a printable HTML page, made from
//! exactly the view the caller gets as JSON (docs/reports.md).

use actix_web::{HttpResponse, web};
use sitrep_db::accounts;
use sitrep_db::pictures;
use sitrep_domain::visibility::Viewer;
use sitrep_types::PictureView;
use uuid::Uuid;

use super::{NOT_FOUND, related_seen, view};
use crate::access_log;
use crate::body::Query;
use crate::docs::{AuthFailures, NotFound, QueryFailures, ServerFailures};
use crate::documents::{self, RenderQuery, Words};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Authenticated, Caller};
use crate::state::AppState;

/// The picture as a document for the caller: the same content as `GET /pictures/{id}`
/// gives them (indicators and attachments whose TLP does not reach them are left out and
/// counted in a note), with the picture's TLP label at the top and bottom of every page.
/// `404` when the caller does not see the picture's content. The render is access-logged
/// with the content hash printed in the document's footer (also in `Content-Hash`).
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/render", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path), RenderQuery),
    responses(
        (status = 200, description = "The PDF (`application/pdf`) or the HTML page (`text/html`)",
         content(("application/pdf"), ("text/html")),
         headers(("Content-Hash" = String, description = "The short content hash printed in the footer"),
                 ("Content-Disposition" = String))),
        AuthFailures, NotFound, QueryFailures, ServerFailures
    )
)]
pub async fn render_picture(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
    query: Query<RenderQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let row =
        pictures::find(&client, &Viewer::from(&caller.permissions), id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    let related = related_seen(&client, &caller, &row.content).await?;
    let (PictureView::Full(picture), redacted) = view(&caller, &row, &related) else {
        return Err(NOT_FOUND);
    };
    let reader = accounts::get_organisation(&client, caller.organisation_id).await?.map(|o| o.code).unwrap_or_default();
    let lang = query.0.lang.unwrap_or(picture.content.original_lang);
    let format = query.0.format.unwrap_or_default();
    let doc = documents::picture_document(&Words::new(lang), &picture, &reader, documents::zone(&state.time_zone));
    // Typesetting waits for a render slot and takes CPU time: it holds no database
    // connection meanwhile, so a queue of renders cannot starve the pool.
    drop(client);
    let rendered = documents::render(doc, format).await?;

    let mut record = access_log::picture(&meta, &caller, &row);
    record.reason = Some(documents::render_reason(format, lang, &rendered.hash, redacted.reason()));
    access_log::commit(&state, &meta, record).await?;

    Ok(documents::respond(format, &row.reference, rendered))
}
