//! The outbox: events written in the caller's transaction, and the feed that reads them
//! in commit-safe order through the visibility predicate.

use chrono::{DateTime, Utc};
use sitrep_domain::visibility::{Handling, Viewer, min_rank};
use sitrep_types::{Status, Tier, Tlp};
use uuid::Uuid;

use crate::{DbError, GenericClient};

/// The `LISTEN/NOTIFY` channel that tells server processes the outbox grew.
pub const CHANNEL: &str = "sitrep_events";

/// Listens on `CHANNEL` with its own connection (reconnecting after a failure) and bumps
/// the returned counter on every notification, so that live streams wake up.
pub fn listen(target: crate::connect::Target) -> tokio::sync::watch::Receiver<u64> {
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    tokio::spawn(async move {
        loop {
            match target.connect().await {
                Ok((client, mut connection)) => {
                    let (msgs_tx, mut msgs) = tokio::sync::mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        loop {
                            let next = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                            match next {
                                Some(Ok(m)) => {
                                    if msgs_tx.send(m).is_err() {
                                        break;
                                    }
                                }
                                _ => break,
                            }
                        }
                    });
                    if client.batch_execute(&format!("LISTEN {CHANNEL}")).await.is_ok() {
                        // A wake-up after (re)connecting: streams re-read what they may have missed.
                        tx.send_modify(|n| *n += 1);
                        while let Some(message) = msgs.recv().await {
                            if let tokio_postgres::AsyncMessage::Notification(_) = message {
                                tx.send_modify(|n| *n += 1);
                            }
                        }
                    }
                    driver.abort();
                    if tx.is_closed() {
                        return;
                    }
                    tracing::warn!("event listener connection lost; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "event listener cannot connect; retrying"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    rx
}

/// Event types (docs/delivery.md, "The outbox").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Published,
    Revised,
    Withdrawn,
    Recalled,
    Acknowledged,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Published => "picture.published",
            EventType::Revised => "picture.revised",
            EventType::Withdrawn => "picture.withdrawn",
            EventType::Recalled => "picture.recalled",
            EventType::Acknowledged => "picture.acknowledged",
        }
    }
}

/// Appends an event in the caller's transaction. `recipients` restricts it to those
/// organisations (recall, acknowledgement); `None` means the picture's audience.
pub async fn append(
    c: &impl GenericClient,
    kind: EventType,
    picture: Uuid,
    revision: i32,
    tier: Tier,
    tlp: Tlp,
    recipients: Option<&[Uuid]>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    c.execute(
        "INSERT INTO events (id, type, picture_id, revision, tier, tlp, recipients) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &kind.as_str(), &picture, &revision, &tier.as_str(), &tlp.as_str(), &recipients],
    )
    .await?;
    // Delivered at commit, to every server process listening (the live streams).
    c.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await?;
    Ok(id)
}

/// Events about a report (docs/reports.md): its audience receives them, as the report
/// stands at the moment of delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportEventType {
    Published,
    Withdrawn,
}

impl ReportEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportEventType::Published => "report.published",
            ReportEventType::Withdrawn => "report.withdrawn",
        }
    }
}

/// Appends an event about a report in the caller's transaction.
pub async fn append_report(
    c: &impl GenericClient,
    kind: ReportEventType,
    report: Uuid,
    revision: i32,
    tier: Tier,
    tlp: Tlp,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    c.execute(
        "INSERT INTO events (id, type, report_id, revision, tier, tlp) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &kind.as_str(), &report, &revision, &tier.as_str(), &tlp.as_str()],
    )
    .await?;
    c.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await?;
    Ok(id)
}

/// The organisations that receive a picture now (its audience, less the originator).
pub async fn recipients(c: &impl GenericClient, picture: Uuid) -> Result<Vec<Uuid>, DbError> {
    let rows = c
        .query("SELECT o.id FROM pictures p, organisations o WHERE p.id = $1 AND picture_recipient(p, o)", &[&picture])
        .await?;
    rows.iter().map(|r| r.try_get(0).map_err(DbError::from)).collect()
}

/// One event as a reader receives it: thin — ids, type, handling, times.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: Uuid,
    pub kind: String,
    /// The picture the event is about, or
    pub picture_id: Option<Uuid>,
    /// the report.
    pub report_id: Option<Uuid>,
    pub revision: i32,
    pub tier: String,
    pub tlp: String,
    pub created_at: DateTime<Utc>,
    /// The position after this event: `(xid, seq)`.
    pub position: (String, i64),
}

/// Events the viewer receives after `after` (a position), oldest first: those of
/// pictures and reports it sees now, and those addressed to its organisation. Only events of
/// transactions older than any still running are read, so none is ever skipped.
pub async fn feed(
    c: &impl GenericClient,
    v: &Viewer,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<Vec<EventRow>, DbError> {
    feed_upto(c, v, after, None, limit).await
}

/// `feed`, read no further than `upto` (inclusive) when given: a live stream catching up
/// to the position its process's shared reader has reached.
pub async fn feed_upto(
    c: &impl GenericClient,
    v: &Viewer,
    after: Option<(String, i64)>,
    upto: Option<(String, i64)>,
    limit: i64,
) -> Result<Vec<EventRow>, DbError> {
    let (xid, seq) = after.unwrap_or_else(|| ("0".to_owned(), 0));
    let (upto_xid, upto_seq) = match upto {
        Some((x, s)) => (Some(x), s),
        None => (None, 0),
    };
    let rows = c
        .query(
            concat!(
                "SELECT e.id, e.type, e.picture_id, e.revision, e.tier, e.tlp, e.created_at, e.xid::text, e.seq, \
                   e.report_id \
                 FROM events e LEFT JOIN pictures p ON p.id = e.picture_id LEFT JOIN reports r ON r.id = e.report_id \
                 WHERE (e.xid, e.seq) > ($4::text::xid8, $5) \
                   AND ($7::text IS NULL OR (e.xid, e.seq) <= ($7::text::xid8, $8)) \
                   AND e.xid < pg_snapshot_xmin(pg_current_snapshot()) \
                   AND $3 \
                   AND CASE WHEN e.report_id IS NOT NULL THEN ",
                report_visible!("$1", "$2", "$3"),
                " WHEN e.recipients IS NULL THEN ",
                picture_visible!("$1", "$2", "$3"),
                " ELSE $1 = ANY (e.recipients) END \
                 ORDER BY e.xid, e.seq LIMIT $6"
            ),
            &[&v.organisation, &min_rank(v.reach), &v.reads_pictures, &xid, &seq, &limit, &upto_xid, &upto_seq],
        )
        .await?;
    rows.iter().map(event_row).collect()
}

fn event_row(r: &tokio_postgres::Row) -> Result<EventRow, DbError> {
    Ok(EventRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        picture_id: r.try_get(2)?,
        report_id: r.try_get(9)?,
        revision: r.try_get(3)?,
        tier: r.try_get(4)?,
        tlp: r.try_get(5)?,
        created_at: r.try_get(6)?,
        position: (r.try_get(7)?, r.try_get(8)?),
    })
}

/// An event with what decides who receives it, as its picture (or report) stands now.
#[derive(Debug, Clone)]
pub struct Broadcast {
    pub event: EventRow,
    pub originator: Uuid,
    pub status: Status,
    pub tier: Tier,
    pub named: Vec<Uuid>,
    /// Set for an event addressed to given organisations only.
    pub recipients: Option<Vec<Uuid>>,
}

impl Broadcast {
    pub fn handling(&self) -> Handling<'_> {
        Handling { originator: self.originator, status: self.status, tier: self.tier, named: &self.named }
    }
}

/// Every event after `after`, oldest first, whoever may receive it, with its picture's
/// handling now: the one read a server process shares among all its live streams, each
/// of which then decides with `sitrep_domain::visibility::receives_event`. Same order and
/// same commit-safe horizon as `feed`.
pub async fn broadcast(c: &impl GenericClient, after: &(String, i64), limit: i64) -> Result<Vec<Broadcast>, DbError> {
    let statement = c
        .prepare_cached(
            "SELECT e.id, e.type, e.picture_id, e.revision, e.tier, e.tlp, e.created_at, e.xid::text, e.seq, \
                    e.report_id, coalesce(p.originator_id, r.originator_id), coalesce(p.status, r.status), \
                    coalesce(p.tier, r.tier), coalesce(p.named_recipients, r.named_recipients), e.recipients \
             FROM events e LEFT JOIN pictures p ON p.id = e.picture_id LEFT JOIN reports r ON r.id = e.report_id \
             WHERE (e.xid, e.seq) > ($1::text::xid8, $2) \
               AND e.xid < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY e.xid, e.seq LIMIT $3",
        )
        .await?;
    let rows = c.query(&statement, &[&after.0, &after.1, &limit]).await?;
    rows.iter()
        .map(|r| {
            Ok(Broadcast {
                event: event_row(r)?,
                originator: r.try_get(10)?,
                status: Status::parse(r.try_get(11)?).ok_or(DbError::Corrupt("pictures.status"))?,
                tier: Tier::parse(r.try_get(12)?).ok_or(DbError::Corrupt("pictures.tier"))?,
                named: r.try_get(13)?,
                recipients: r.try_get(14)?,
            })
        })
        .collect()
}

/// The current end of the outbox as a position: where a new reader starts.
pub async fn head(c: &impl GenericClient) -> Result<(String, i64), DbError> {
    let row = c
        .query_one(
            "SELECT coalesce(max(xid)::text, '0'), coalesce(max(seq) FILTER (WHERE xid = (SELECT max(xid) FROM events)), 0) \
             FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot())",
            &[],
        )
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
