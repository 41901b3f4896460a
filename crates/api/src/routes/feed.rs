//! The pull feed: events of the pictures the caller may see now, in an order that never
//! skips a late commit, with an opaque cursor that survives restarts and many nodes. The
//! cursor is sealed for the caller (`crate::pagination`): it does not reveal the position
//! it holds, so a reader cannot count the events it was not shown.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use sitrep_db::events;
use sitrep_domain::visibility::Viewer;
use sitrep_types::{Event, FeedPage};
use utoipa::IntoParams;

use crate::access_log;
use crate::body::Query;
use crate::docs::{AuthFailures, Forbidden, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::events::{event, parse_position, position_key};
use crate::meta::RequestMeta;
use crate::pagination::{PageQuery, invalid_cursor};
use crate::principal::{Caller, ReadPictures};
use crate::state::AppState;

endpoints! {
    "/feed" { GET "feed.read" => get_feed }
}

const LIST: &str = "feed";

/// `?limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Events per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous answer. It is the caller's own (anyone else's is
    /// `400 invalid_cursor`) and says nothing about the position it holds; any `limit`
    /// may go with it.
    pub cursor: Option<String>,
}

/// Events after `cursor` (from the start without one), oldest first: published, revised
/// and withdrawn pictures the caller's organisation sees now, recalls of pictures it no
/// longer sees (id only), and acknowledgements of its own pictures.
#[utoipa::path(
    get, path = "/api/v1/feed", tag = "delivery",
    security(("bearer" = [])), params(FeedQuery),
    responses((status = 200, body = FeedPage), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn get_feed(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    query: Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = PageQuery { limit: query.0.limit, cursor: None }.limit()?;
    let cursors = state.cursors.positions(caller.user_id, LIST);
    let after = match cursors.after(query.0.cursor.as_deref())? {
        Some(key) => Some(parse_position(&key).ok_or_else(invalid_cursor)?),
        None => None,
    };
    let client = meta.client(&state.pool).await?;
    let rows = events::feed(&client, &Viewer::from(&caller.permissions), after.clone(), limit).await?;
    let position = rows.last().map(|r| r.position.clone()).or(after).unwrap_or_else(|| ("0".to_owned(), 0));
    let next = cursors.at(&position_key(&position));
    let events: Vec<Event> = rows.iter().map(event).collect();
    for record in crate::events::records(access_log::by(&meta, &caller), &rows, true) {
        access_log::commit(&state, &meta, record).await?;
    }
    Ok(HttpResponse::Ok().json(FeedPage { events, next_cursor: next }))
}
