//! The pull feed: events of the pictures the caller may see now, in an order that never
//! skips a late commit, with an opaque cursor that survives restarts and many nodes.

use actix_web::{HttpResponse, web};
use sitrep_db::events;
use sitrep_domain::visibility::Viewer;
use sitrep_types::{Event, FeedPage, Tier, Tlp};

use crate::audit::{self, RecordExt};
use crate::body::Query;
use crate::docs::{AuthFailures, Forbidden, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::PageQuery;
use crate::principal::{Caller, ReadPictures};
use crate::state::AppState;

const LIST: &str = "feed";

/// Events after `cursor` (from the start without one), oldest first: published, revised
/// and withdrawn pictures the caller's organisation sees now, recalls of pictures it no
/// longer sees (id only), and acknowledgements of its own pictures.
#[utoipa::path(
    get, path = "/api/v1/feed", tag = "delivery",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = FeedPage), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn get_feed(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.0.limit()?;
    let bad = || ApiError::BadRequest { code: "invalid_cursor", detail: "The cursor is not valid here.".into() };
    let after = match query.0.after(caller.user_id, LIST)? {
        Some(key) => {
            let (xid, seq) = key.split_once('|').ok_or_else(bad)?;
            if xid.is_empty() || !xid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            Some((xid.to_owned(), seq.parse::<i64>().map_err(|_| bad())?))
        }
        None => None,
    };
    let client = state.pool.get().await?;
    let rows = events::feed(&client, &Viewer::from(&caller.permissions), after.clone(), limit).await?;
    let position = rows.last().map(|r| r.position.clone()).or(after).unwrap_or_else(|| ("0".to_owned(), 0));
    let next = crate::pagination::cursor(caller.user_id, LIST, &format!("{}|{}", position.0, position.1));
    let events: Vec<Event> = rows
        .iter()
        .map(|r| {
            let recalled = r.kind == "picture.recalled";
            Event {
                id: r.id,
                type_: r.kind.clone(),
                picture_id: r.picture_id,
                revision: (!recalled).then_some(r.revision),
                tier: if recalled { None } else { Tier::parse(&r.tier) },
                tlp: if recalled { None } else { Tlp::parse(&r.tlp) },
                created_at: r.created_at,
            }
        })
        .collect();
    let mut ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.picture_id).collect();
    ids.dedup();
    let mut record = audit::by(&meta, &caller).objects("picture", ids);
    record.reason = Some(format!("events:{}", events.len()));
    audit::write(&client, &meta, record).await?;
    Ok(HttpResponse::Ok().json(FeedPage { events, next_cursor: next }))
}
