//! The live stream: Server-Sent Events of what the caller's organisation may see, woken
//! by PostgreSQL `LISTEN/NOTIFY` (so events from any server process arrive), resumable
//! with `Last-Event-ID`, with heartbeats. Each client has a bounded buffer: a client that
//! does not keep up is disconnected rather than allowed to grow memory. The session is
//! checked again every few seconds: a revoked one ends the stream.

//! The live stream: Server-Sent Events of what the caller's organisation may see, woken
//! by PostgreSQL `LISTEN/NOTIFY` (so events from any server process arrive), resumable
//! with `Last-Event-ID`, with heartbeats. Each client has a bounded buffer: a client that
//! does not keep up is disconnected rather than allowed to grow memory. Open streams are
//! fed by their process's hub (`crate::live`): one read per wake-up for all of them, the
//! session of each checked again every few seconds and before each push.
//!
//! A stream resumed from an older position first catches up on its own (the feed query
//! with its visibility predicate, up to where the hub has read), then joins the hub.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use sitrep_db::events;
use sitrep_domain::visibility::Viewer;
use tokio::sync::mpsc;

use crate::access_log;
use crate::docs::{AuthFailures, Forbidden, ServerFailures};
use crate::error::ApiError;
use crate::events::{parse_position, position_key};
use crate::live::{self, BATCH, Behind, CLIENT_BUFFER, Hub, LIST, Position, SESSION_CHECK, Subscriber};
use crate::meta::RequestMeta;
use crate::principal::{Caller, ReadPictures};
use crate::state::AppState;

endpoints! {
    "/stream" { GET "stream.open" => stream }
}

/// How long a catching-up stream waits for its client to take a frame before it counts
/// as too slow.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(5);

/// Events as Server-Sent Events (`text/event-stream`), from `Last-Event-ID` on (from
/// now without one). A comment line every `heartbeat` keeps proxies from timing out.
#[utoipa::path(
    get, path = "/api/v1/stream", tag = "delivery",
    security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses(
        (status = 200, description = "An endless text/event-stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "A Last-Event-ID not issued to the caller", body = sitrep_types::Problem, content_type = "application/problem+json"),
        AuthFailures, Forbidden, ServerFailures
    )
)]
pub async fn stream(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let bad = || ApiError::BadRequest { code: "invalid_cursor", detail: "Last-Event-ID was not issued to you.".into() };
    let last = req.headers().get("last-event-id").map(|v| v.to_str().map_err(|_| bad())).transpose()?;
    let ids = state.cursors.positions(caller.user_id, LIST);
    let resume = match ids.after(last).map_err(|_| bad())? {
        Some(key) => Some(parse_position(&key).ok_or_else(bad)?),
        None => None,
    };
    let Some(hub) = state.live.clone() else {
        return Err(ApiError::Unavailable { code: "stream_unavailable", retry_after_secs: 5 });
    };
    let client = meta.client(&state.pool).await?;
    let position = match resume {
        Some(p) => p,
        None => events::head(&client).await?,
    };
    // Opening the stream is itself recorded before anything is sent.
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    drop(client);
    let (tx, rx) = mpsc::channel::<Bytes>(CLIENT_BUFFER);
    // A fresh channel has room.
    let _ = tx.try_send(Bytes::from_static(b": connected\n\n"));
    let subscriber = Subscriber::new(caller.principal.clone(), meta, tx);
    if let Err(behind) = hub.join(subscriber, Some(&position)) {
        actix_web::rt::spawn(catch_up(state.clone(), hub, behind, position));
    }
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// Sends a resumed stream what it missed, up to where the hub has read, then joins the
/// hub (again, should the hub have read further meanwhile). Each batch is recorded before
/// it is sent; the session is re-checked every `SESSION_CHECK`.
async fn catch_up(state: web::Data<AppState>, hub: std::sync::Arc<Hub>, behind: Box<Behind>, mut after: Position) {
    let Behind { mut subscriber, mut upto } = *behind;
    let mut checked = std::time::Instant::now();
    loop {
        match catch_up_to(&state, &mut subscriber, &mut checked, &mut after, &upto).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "live stream ends");
                return;
            }
        }
        match hub.join(subscriber, Some(&after)) {
            Ok(()) => return,
            Err(again) => (subscriber, upto) = (again.subscriber, again.upto),
        }
    }
}

/// Sends the events in `(after, upto]` the subscriber may see; `false` if the stream ended.
async fn catch_up_to(
    state: &AppState,
    s: &mut Subscriber,
    checked: &mut std::time::Instant,
    after: &mut Position,
    upto: &Position,
) -> Result<bool, ApiError> {
    let roles = state.login.roles_needing_totp();
    loop {
        if *state.shutdown.borrow() || s.tx.is_closed() {
            return Ok(false);
        }
        let client = state.pool.get().await?;
        if checked.elapsed() >= SESSION_CHECK {
            match live::still_allowed(&client, &s.principal, s.meta.client_addr, roles).await? {
                Some(p) => s.principal = p,
                None => return Ok(false),
            }
            *checked = std::time::Instant::now();
        }
        let viewer = Viewer::from(&s.principal.permissions);
        let rows = events::feed_upto(&client, &viewer, Some(after.clone()), Some(upto.clone()), BATCH).await?;
        if !rows.is_empty() {
            let refs: Vec<&events::EventRow> = rows.iter().collect();
            for record in live::push_records(&s.meta, &s.principal, &refs) {
                access_log::commit(state, &s.meta, record).await?;
            }
        }
        drop(client);
        let ids = state.cursors.positions(s.principal.user_id, LIST);
        for row in &rows {
            let id = ids.at(&position_key(&row.position));
            let frame = live::frame(row, &live::data(row), &id);
            match tokio::time::timeout(CATCH_UP_PATIENCE, s.tx.send(frame)).await {
                Ok(Ok(())) => {}
                _ => return Ok(false),
            }
            *after = row.position.clone();
        }
        if (rows.len() as i64) < BATCH {
            *after = upto.clone();
            return Ok(true);
        }
    }
}
