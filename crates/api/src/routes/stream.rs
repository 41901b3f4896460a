//! The live stream: Server-Sent Events of what the caller's organisation may see, woken
//! by PostgreSQL `LISTEN/NOTIFY` (so events from any server process arrive), resumable
//! with `Last-Event-ID`, with heartbeats. Each client has a bounded buffer: a client that
//! does not keep up is disconnected rather than allowed to grow memory. The session is
//! checked again every few seconds: a revoked one ends the stream.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use sitrep_db::events::{self, EventRow};
use sitrep_domain::visibility::Viewer;
use tokio::sync::mpsc;

use crate::audit::{self, RecordExt};
use crate::docs::{AuthFailures, Forbidden, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::{PageQuery, cursor};
use crate::principal::{Caller, Principal, ReadPictures};
use crate::routes::feed::{event, parse_position, position_key};
use crate::state::AppState;

const LIST: &str = "stream";
/// Frames buffered per client before it counts as too slow and is cut.
pub const CLIENT_BUFFER: usize = 64;
const BATCH: i64 = 100;
/// How often an idle stream re-checks its session (and re-reads, should a notification
/// have been missed). Revocation ends a stream within this time.
const SESSION_CHECK: Duration = Duration::from_secs(3);

fn frame(e: &EventRow, id: &str) -> Bytes {
    let data = serde_json::to_string(&event(e)).unwrap_or_default();
    Bytes::from(format!("id: {id}\nevent: {}\ndata: {data}\n\n", e.kind))
}

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
    let last =
        req.headers().get("last-event-id").map(|v| v.to_str().map(str::to_owned).map_err(|_| bad())).transpose()?;
    let position = match last {
        Some(id) => {
            let key = PageQuery { limit: None, cursor: Some(id) }.after(caller.user_id, LIST)?.ok_or_else(bad)?;
            parse_position(&key).ok_or_else(bad)?
        }
        None => {
            let client = meta.client(&state.pool).await?;
            events::head(&client).await?
        }
    };
    let Some(wake) = state.events.clone() else {
        return Err(ApiError::Unavailable { code: "stream_unavailable", retry_after_secs: 5 });
    };
    // Opening the stream is itself recorded before anything is sent.
    let client = meta.client(&state.pool).await?;
    audit::write(&client, &meta, audit::by(&meta, &caller)).await?;
    drop(client);
    let (tx, rx) = mpsc::channel::<Bytes>(CLIENT_BUFFER);
    let task = Pump {
        state: state.clone(),
        principal: caller.principal.clone(),
        meta,
        position,
        wake,
        tx,
        checked: std::time::Instant::now(),
    };
    actix_web::rt::spawn(task.run());
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

struct Pump {
    state: web::Data<AppState>,
    principal: Principal,
    meta: RequestMeta,
    position: (String, i64),
    wake: tokio::sync::watch::Receiver<u64>,
    tx: mpsc::Sender<Bytes>,
    /// When the session was last found live.
    checked: std::time::Instant,
}

enum Push {
    Sent,
    Closed,
}

impl Pump {
    async fn run(mut self) {
        let heartbeat = Duration::from_secs(self.state.stream_heartbeat_secs.max(1));
        let mut since_heartbeat = Duration::ZERO;
        let tick = SESSION_CHECK.min(heartbeat);
        let mut stopping = self.state.shutdown.subscribe();
        if self.tx.send(Bytes::from_static(b": connected\n\n")).await.is_err() {
            return;
        }
        loop {
            match self.push().await {
                Ok(Push::Sent) => {}
                Ok(Push::Closed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "live stream ends");
                    return;
                }
            }
            tokio::select! {
                // The process is shutting down: end the stream; the client resumes
                // elsewhere with Last-Event-ID.
                _ = stopping.wait_for(|s| *s) => return,
                changed = self.wake.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(tick) => {
                    since_heartbeat += tick;
                    if since_heartbeat >= heartbeat {
                        since_heartbeat = Duration::ZERO;
                        if !self.offer(Bytes::from_static(b": heartbeat\n\n")) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Queues a frame without waiting: a full buffer means the client is too slow.
    fn offer(&self, frame: Bytes) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(request_id = %self.meta.request_id, "live stream client too slow; disconnected");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Re-checks the session (at most every `SESSION_CHECK`), reads what is new, logs it,
    /// and queues it.
    async fn push(&mut self) -> Result<Push, ApiError> {
        let p = &self.principal;
        let client = self.meta.client(&self.state.pool).await?;
        if self.checked.elapsed() >= SESSION_CHECK {
            let addr = self.meta.client_addr.map(|a| a.to_string());
            if !p.still_valid(&client, addr.as_deref(), self.state.login.roles_needing_totp()).await? {
                return Ok(Push::Closed);
            }
            self.checked = std::time::Instant::now();
        }
        let viewer = Viewer::from(&p.permissions);
        loop {
            let rows = events::feed(&client, &viewer, Some(self.position.clone()), BATCH).await?;
            if rows.is_empty() {
                return Ok(Push::Sent);
            }
            let ids = rows.iter().map(|r| r.picture_id).collect();
            let mut record = audit::by(&self.meta, p).objects("picture", ids);
            record.action = "stream.push".into();
            record.reason = Some(format!("events:{}", rows.len()));
            audit::write(&client, &self.meta, record).await?;
            for row in &rows {
                let id = cursor(p.user_id, LIST, &position_key(&row.position));
                if !self.offer(frame(row, &id)) {
                    return Ok(Push::Closed);
                }
                self.position = row.position.clone();
            }
            if (rows.len() as i64) < BATCH {
                return Ok(Push::Sent);
            }
        }
    }
}
