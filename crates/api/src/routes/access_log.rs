//! The access log for auditors and the secretariat: records by filter, the export, the
//! signed checkpoints and their key. Every read of the log is itself recorded, before
//! any data is sent (fail closed).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sitrep_access_log::export;
use sitrep_db::access_log::{self as log, LogFilter};
use sitrep_types::{AccessLogCheckpoint, AccessLogEntry, CheckpointKey, Page};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Query;
use crate::docs::{AuthFailures, Forbidden, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::pagination::{PageQuery, invalid_cursor};
use crate::principal::{Caller, ReadAccessLog};
use crate::state::AppState;

endpoints! {
    "/access-log" { GET "access_log.list" => list_access_log }
    "/access-log/export" { GET "access_log.export" => export_access_log }
    "/access-log/checkpoints" { GET "access_log.checkpoints" => list_checkpoints }
    "/access-log/checkpoint-key" { GET "access_log.checkpoint_key" => get_checkpoint_key }
}

const LIST: &str = "access_log";
const CHECKPOINTS: &str = "access_log_checkpoints";
/// Records per database round trip of the export.
const EXPORT_BATCH: i64 = 2000;

/// `outcome` filter values.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeFilter {
    Allowed,
    Denied,
    Failed,
}

/// Filters of `GET /api/v1/access-log`; all optional, combined with AND.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// The acting user or service account.
    pub actor_id: Option<Uuid>,
    /// The acting account by its username (case does not matter).
    pub actor: Option<String>,
    /// The records about one picture, by its reference (e.g. `VTY-2027-0042`).
    pub reference: Option<String>,
    /// The organisation the actor acted for.
    pub organisation_id: Option<Uuid>,
    /// e.g. `user`, `organisation`, `session`, `access_log`.
    pub object_type: Option<String>,
    /// The object's id (with `object_type`).
    pub object_id: Option<String>,
    /// e.g. `auth.login`, `user.view` (see docs/access-log.md).
    pub action: Option<String>,
    #[param(inline)]
    pub outcome: Option<OutcomeFilter>,
    /// Records at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Records before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Records per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same filters and limit.
    pub cursor: Option<String>,
}

/// The most characters of the `actor`, `reference`, `object_type` and `action` filters.
pub const FILTER_CHARS: usize = 64;
/// The most characters of the `object_id` filter.
pub const OBJECT_ID_CHARS: usize = 200;

fn bounded(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > max => {
            Err(ApiError::invalid(field, "out_of_range", &format!("must be 1 to {max} characters")))
        }
        v => Ok(v),
    }
}

impl AccessLogQuery {
    fn filter(self) -> Result<LogFilter, ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(ApiError::invalid("to", "out_of_range", "must not be before from"));
        }
        Ok(LogFilter {
            actor_id: self.actor_id,
            actor_username: bounded("actor", self.actor, FILTER_CHARS)?.map(|a| a.to_lowercase()),
            picture_reference: bounded("reference", self.reference, FILTER_CHARS)?.map(|r| r.to_uppercase()),
            organisation_id: self.organisation_id,
            object_type: bounded("object_type", self.object_type, FILTER_CHARS)?,
            object_id: bounded("object_id", self.object_id, OBJECT_ID_CHARS)?,
            action: bounded("action", self.action, FILTER_CHARS)?,
            outcome: self.outcome.map(|o| {
                match o {
                    OutcomeFilter::Allowed => "allowed",
                    OutcomeFilter::Denied => "denied",
                    OutcomeFilter::Failed => "failed",
                }
                .to_owned()
            }),
            from: self.from,
            to: self.to,
        })
    }
}

/// Access-log records, newest first, by actor, organisation, object, action, outcome and
/// time; keyset pages by `seq`. Every record committed before the request is included
/// (it is sealed into the chain first).
#[utoipa::path(
    get, path = "/api/v1/access-log", tag = "access log",
    security(("bearer" = [])), params(AccessLogQuery),
    responses((status = 200, body = Page<AccessLogEntry>), AuthFailures, Forbidden, QueryFailures, ServerFailures)
)]
pub async fn list_access_log(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadAccessLog>,
    query: Query<AccessLogQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut query = query.0;
    let page = PageQuery { limit: query.limit.take(), cursor: query.cursor.take() };
    let limit = page.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, LIST);
    let before =
        cursors.after(page.cursor.as_deref())?.map(|k| k.parse::<i64>()).transpose().map_err(|_| invalid_cursor())?;
    let filter = query.filter()?;
    let mut client = meta.client(&state.pool).await?;
    // Every record committed before this request is in the chain, so in the answer.
    log::seal_committed(&mut client).await?;
    let items = log::list(&client, &filter, before, limit).await?;
    let last = items.last().map(|e| e.seq.to_string());
    let next = cursors.next(items.len(), limit, last.as_deref());
    access_log::commit(
        &state,
        &meta,
        access_log::by(&meta, &caller).object("access_log", seq_range(&items, |e| e.seq)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// `first..last` of what a page returned (the "ids returned" of a list), or `none`.
fn seq_range<T>(items: &[T], key: impl Fn(&T) -> i64) -> String {
    match (items.iter().map(&key).min(), items.iter().map(&key).max()) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "none".into(),
    }
}

/// Export format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// JSON Lines: one record (as in the list) per line.
    #[default]
    Jsonl,
    /// CSV with a header line (docs/access-log.md gives the exact rules).
    Csv,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// The whole log from seq 1 up to and including this export's own record, in `seq`
/// order, streamed; check it offline with `sitrep access-log verify --file`.
#[utoipa::path(
    get, path = "/api/v1/access-log/export", tag = "access log",
    security(("bearer" = [])), params(ExportQuery),
    responses(
        (status = 200, description = "The records, streamed", content(
            (String = "application/jsonl"),
            (String = "text/csv"),
        )),
        AuthFailures, Forbidden, QueryFailures, ServerFailures
    )
)]
pub async fn export_access_log(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadAccessLog>,
    query: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = query.0.format.unwrap_or_default();
    let name = if format == ExportFormat::Csv { "csv" } else { "jsonl" };
    let mut client = meta.client(&state.pool).await?;
    // The record commits before any data is read or sent, and the export ends with it:
    // it is sealed into the chain first (with every record committed before it).
    let record = access_log::by(&meta, &caller).object("access_log_export", name);
    let upto = match log::record_sealed(&mut client, &record).await {
        Ok(seq) => {
            access_log::written(&meta);
            seq
        }
        Err(e) => return Err(access_log::unavailable(e)),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let result = async {
            let mut scan = log::scan(&client, upto, EXPORT_BATCH);
            if format == ExportFormat::Csv && tx.send(Ok(Bytes::from(export::csv_header()))).await.is_err() {
                return Ok(());
            }
            loop {
                let batch = scan.next_batch().await?;
                if batch.is_empty() {
                    return Ok::<(), anyhow::Error>(());
                }
                let mut chunk = String::with_capacity(batch.len() * 600);
                for e in &batch {
                    let line = match format {
                        ExportFormat::Jsonl => export::jsonl_line(e),
                        ExportFormat::Csv => export::csv_line(e),
                    };
                    chunk.push_str(&line.map_err(|err| anyhow::anyhow!("record {}: {err}", e.seq))?);
                }
                if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                    return Ok(()); // The client went away.
                }
            }
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "access-log export failed midway; cutting the response");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let (content_type, file) = match format {
        ExportFormat::Jsonl => ("application/jsonl", "access-log.jsonl"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "access-log.csv"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{file}\"")))
        .streaming(body))
}

/// The signed checkpoints of the chain head, oldest first.
#[utoipa::path(
    get, path = "/api/v1/access-log/checkpoints", tag = "access log",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, body = Page<AccessLogCheckpoint>), AuthFailures, Forbidden, QueryFailures, ServerFailures
    )
)]
pub async fn list_checkpoints(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadAccessLog>,
    query: Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = query.0.limit()?;
    let cursors = state.cursors.list(&req, caller.user_id, CHECKPOINTS);
    let after = cursors
        .after(query.0.cursor.as_deref())?
        .map(|k| k.parse::<i64>())
        .transpose()
        .map_err(|_| invalid_cursor())?;
    let client = meta.client(&state.pool).await?;
    let items = log::list_checkpoints(&client, after, limit).await?;
    let last = items.last().map(|c| c.id.to_string());
    let next = cursors.next(items.len(), limit, last.as_deref());
    let range = seq_range(&items, |c| c.id);
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("access_log_checkpoint", range)).await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: next }))
}

/// The Ed25519 public key that verifies the checkpoints.
#[utoipa::path(
    get, path = "/api/v1/access-log/checkpoint-key", tag = "access log",
    security(("bearer" = [])),
    responses((status = 200, body = CheckpointKey), AuthFailures, Forbidden, ServerFailures)
)]
pub async fn get_checkpoint_key(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadAccessLog>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .checkpoint_key
        .clone()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no checkpoint key configured")))?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("access_log_checkpoint_key", &key.key_id))
        .await?;
    Ok(HttpResponse::Ok().json(key))
}
