//! Reading the chain: a page of records for the API (`list`, with its filters), the
//! last `seq`, and a scan of the whole log in `seq` order with flat memory (`scan`).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sitrep_types::AccessLogEntry;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use uuid::Uuid;

use crate::{DbError, GenericClient};

/// The columns of a chain entry, in the order [`entry`] and `chain_scan::decode` read them.
pub(crate) const ENTRY_COLUMNS: &str = "seq, at, request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, \
    roles, action, object_type, object_id, object_revision, object_ids, tier, tlp, outcome, reason, http_status, \
    client_addr, prev_hash, hash";

fn entry(row: &Row) -> Result<AccessLogEntry, DbError> {
    let addr: Option<IpAddr> = row.try_get(19)?;
    let prev: Vec<u8> = row.try_get(20)?;
    let hash: Vec<u8> = row.try_get(21)?;
    Ok(AccessLogEntry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        request_id: row.try_get(2)?,
        actor_type: row.try_get(3)?,
        actor_id: row.try_get(4)?,
        actor_name: row.try_get(5)?,
        organisation_id: row.try_get(6)?,
        membership_id: row.try_get(7)?,
        roles: row.try_get(8)?,
        action: row.try_get(9)?,
        object_type: row.try_get(10)?,
        object_id: row.try_get(11)?,
        object_revision: row.try_get(12)?,
        object_ids: row.try_get(13)?,
        tier: row.try_get(14)?,
        tlp: row.try_get(15)?,
        outcome: row.try_get(16)?,
        reason: row.try_get(17)?,
        http_status: row.try_get(18)?,
        client_addr: addr.map(|a| a.to_string()),
        prev_hash: hex::encode(prev),
        hash: hex::encode(hash),
    })
}

/// The auditor's filters; every one optional.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub actor_id: Option<Uuid>,
    /// The acting account's username (as stored: lower case).
    pub actor_username: Option<String>,
    /// A picture's reference (`VTY-…`): the records whose object is that picture, or whose
    /// objects (a list, a feed, an inbox post) include it.
    pub picture_reference: Option<String>,
    pub organisation_id: Option<Uuid>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Records at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Records before this time.
    pub to: Option<DateTime<Utc>>,
}

/// One page of records matching `f`, newest first, with `seq < before`. Times become
/// `seq` bounds first (time never runs backwards along `seq`), so every filter is an
/// index range ending in `seq`.
pub async fn list(
    c: &impl GenericClient,
    f: &LogFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessLogEntry>, DbError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    // Past every record: "no record is at or after that time".
    const NONE: i64 = i64::MAX;
    macro_rules! cond {
        ($sql:literal, $value:expr) => {{
            params.push($value);
            conditions.push(format!($sql, params.len()).replace("{NONE}", &NONE.to_string()));
        }};
    }
    if let Some(v) = &f.actor_id {
        cond!("actor_id = ${}", v);
    }
    if let Some(v) = &f.actor_username {
        cond!("actor_id IN (SELECT id FROM users WHERE username = ${})", v);
    }
    if let Some(v) = &f.picture_reference {
        cond!(
            "EXISTS (SELECT 1 FROM pictures pr WHERE pr.reference = ${} AND \
             ((object_type = 'picture' AND object_id = pr.id::text) OR pr.id = ANY (object_ids)))",
            v
        );
    }
    if let Some(v) = &f.organisation_id {
        cond!("organisation_id = ${}", v);
    }
    if let Some(v) = &f.object_type {
        cond!("object_type = ${}", v);
    }
    if let Some(v) = &f.object_id {
        cond!("object_id = ${}", v);
    }
    if let Some(v) = &f.action {
        cond!("action = ${}", v);
    }
    if let Some(v) = &f.outcome {
        cond!("outcome = ${}", v);
    }
    if let Some(v) = &f.from {
        cond!("seq >= COALESCE((SELECT seq FROM access_log WHERE at >= ${} ORDER BY at, seq LIMIT 1), {{NONE}})", v);
    }
    if let Some(v) = &f.to {
        cond!("seq < COALESCE((SELECT seq FROM access_log WHERE at >= ${} ORDER BY at, seq LIMIT 1), {{NONE}})", v);
    }
    if let Some(v) = &before {
        cond!("seq < ${}", v);
    }
    params.push(&limit);
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM access_log {filter} ORDER BY seq DESC LIMIT ${}", params.len());
    let rows = c.query(&sql, &params).await?;
    rows.iter().map(entry).collect()
}

/// The last record's `seq` (0 for an empty log).
pub async fn last_seq(c: &impl GenericClient) -> Result<i64, DbError> {
    let row = c.query_one("SELECT COALESCE(max(seq), 0) FROM access_log", &[]).await?;
    Ok(row.try_get(0)?)
}

/// Reads the log (up to `upto`) in `seq` order, a batch at a time; memory stays flat
/// however long the log. Each batch is its own short statement (a keyset range on the
/// primary key), so no snapshot is held for the length of an export: a long-held
/// snapshot would keep every dead version of the chain head and slow every append. The
/// records are immutable, so reading them in several snapshots loses nothing.
pub struct Scan<'a> {
    client: &'a crate::Client,
    after: i64,
    upto: i64,
    batch: i64,
}

/// A scan from seq 1 to `upto`.
pub fn scan(client: &crate::Client, upto: i64, batch: i64) -> Scan<'_> {
    Scan { client, after: 0, upto, batch }
}

impl Scan<'_> {
    /// The next records; empty at the end.
    pub async fn next_batch(&mut self) -> Result<Vec<AccessLogEntry>, DbError> {
        if self.after >= self.upto {
            return Ok(Vec::new());
        }
        let statement = self
            .client
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
            ))
            .await?;
        let rows = self.client.query(&statement, &[&self.after, &self.upto, &self.batch]).await?;
        let entries: Vec<AccessLogEntry> = rows.iter().map(entry).collect::<Result<_, _>>()?;
        self.after = match entries.last() {
            Some(e) if rows.len() as i64 == self.batch => e.seq,
            _ => self.upto,
        };
        Ok(entries)
    }
}
