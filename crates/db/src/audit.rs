//! The access log: one function writes every record (docs/access-log.md).
//!
//! A write passes the client of the transaction that does the work, so the write and its
//! record commit together; a request that changes nothing hands its record to the
//! [`crate::recorder::Recorder`], which commits the records of concurrent requests
//! together. Either way a request is answered only after its record is durable. Records
//! are written unchained to `access_log_pending`; the sealer ([`seal`]) appends them to the
//! hash chain (`crate::chain`) in commit order: see docs/access-log.md.

use std::net::IpAddr;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sitrep_types::{AccessLogCheckpoint, AccessLogEntry};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use uuid::Uuid;

use crate::recorder::MAX_BATCH;
use crate::{DbError, GenericClient};
use sitrep_access_log::chain::{self, Content};

/// Who made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorType {
    User,
    ServiceAccount,
    Anonymous,
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ServiceAccount => "service_account",
            ActorType::Anonymous => "anonymous",
            ActorType::System => "system",
        }
    }
}

/// How the request ended, from the access rules' point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or data returned.
    Allowed,
    /// Refused by authentication or authorisation (401, 403, 404 for what the caller may
    /// not see, 429).
    Denied,
    /// Refused for another reason: invalid input, conflict, a server fault.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One access-log record. `at` and `seq` are set by the database.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub request_id: String,
    pub actor_type: ActorType,
    pub actor_id: Option<Uuid>,
    /// The username (for a failed login: the name submitted, normalised and truncated).
    pub actor_name: Option<String>,
    pub organisation_id: Option<Uuid>,
    pub membership_id: Option<Uuid>,
    pub roles: Vec<&'static str>,
    pub action: String,
    pub object_type: Option<&'static str>,
    pub object_id: Option<String>,
    pub object_revision: Option<i32>,
    /// For lists and feeds: the ids returned.
    pub object_ids: Option<Vec<Uuid>>,
    pub tier: Option<String>,
    pub tlp: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub http_status: u16,
    pub client_addr: Option<IpAddr>,
}

impl AccessRecord {
    /// The record's content as the chain encodes it.
    pub fn content(&self) -> Content<'_> {
        Content {
            action: &self.action,
            actor_id: self.actor_id,
            actor_name: self.actor_name.as_deref(),
            actor_type: self.actor_type.as_str(),
            client_addr: self.client_addr.map(|a| a.to_string()),
            http_status: self.http_status as i16,
            membership_id: self.membership_id,
            object_id: self.object_id.as_deref(),
            object_ids: self.object_ids.as_deref(),
            object_revision: self.object_revision,
            object_type: self.object_type,
            organisation_id: self.organisation_id,
            outcome: self.outcome.as_str(),
            reason: self.reason.as_deref(),
            request_id: &self.request_id,
            roles: self.roles.clone(),
            tier: self.tier.as_deref(),
            tlp: self.tlp.as_deref(),
        }
    }
}

/// Wakes the sealer of this process when a record has been written (see [`seal`]).
static SEAL_WANTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// What the sealer of this process waits on between passes: woken after each record
/// written by this process (records of other processes are found by its periodic pass).
pub fn seal_wanted() -> &'static tokio::sync::Notify {
    &SEAL_WANTED
}

/// Writes one record, unchained, to `access_log_pending` on the caller's client: in the
/// caller's transaction, so a write and its record commit together, and a read is
/// answered only after its record is durable. No lock is taken; the sealer chains the
/// record soon after it commits (docs/access-log.md, "Sealing"). Returns the record's
/// place in the queue (for [`seal_through`]).
pub async fn record(c: &impl GenericClient, r: &AccessRecord) -> Result<i64, DbError> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| format!("{} RETURNING id", insert_pending(1)));
    let statement = c.prepare_cached(sql).await?;
    let (coded, digest) = (Coded::of(r), r.content().digest());
    let digest = digest.as_slice();
    let params: Vec<&(dyn ToSql + Sync)> = record_values(r, &coded).into_iter().chain([&digest as _]).collect();
    let row = c.query_one(&statement, &params).await?;
    SEAL_WANTED.notify_one();
    Ok(row.try_get(0)?)
}

/// Writes several records (at most [`MAX_BATCH`]), unchained, with one statement on the
/// caller's client: all of them or none, and outside a transaction in one commit (the
/// recorder's shared commit). The statement is prepared once per connection for each
/// number of records. Not [`record_many`]: its transaction and `COPY` take four round
/// trips where this takes one, and reads through the recorder were 16–25 % slower with
/// it (docs/benchmarks.md, "Picture reads: their records share a commit").
pub(crate) async fn record_rows(c: &impl GenericClient, records: &[&AccessRecord]) -> Result<(), DbError> {
    if records.is_empty() {
        return Ok(());
    }
    let statement = c.prepare_cached(insert_pending(records.len())).await?;
    let coded: Vec<Coded> = records.iter().map(|r| Coded::of(r)).collect();
    let digests: Vec<[u8; 32]> = records.iter().map(|r| r.content().digest()).collect();
    let digests: Vec<&[u8]> = digests.iter().map(|d| d.as_slice()).collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(records.len() * (RECORD_TYPES.len() + 1));
    for ((r, coded), digest) in records.iter().zip(&coded).zip(&digests) {
        params.extend(record_values(r, coded));
        params.push(digest);
    }
    c.execute(&statement, &params).await?;
    SEAL_WANTED.notify_one();
    Ok(())
}

/// `INSERT INTO access_log_pending` of `rows` records (1 to [`MAX_BATCH`]):
/// [`RECORD_COLUMNS`] and the digest. Each is a prefix of one statement written once, so
/// a shared commit builds no SQL.
fn insert_pending(rows: usize) -> &'static str {
    static SQL: OnceLock<(String, Vec<usize>)> = OnceLock::new();
    let (sql, ends) = SQL.get_or_init(|| {
        let width = RECORD_TYPES.len() + 1;
        let mut sql = format!("INSERT INTO access_log_pending ({RECORD_COLUMNS}, digest) VALUES ");
        let mut ends = Vec::with_capacity(MAX_BATCH);
        for row in 0..MAX_BATCH {
            let params: Vec<String> = (1..=width).map(|column| format!("${}", row * width + column)).collect();
            let separator = if row == 0 { "" } else { ", " };
            sql.push_str(&format!("{separator}({})", params.join(", ")));
            ends.push(sql.len());
        }
        (sql, ends)
    });
    &sql[..ends[rows - 1]]
}

/// The values of a record that are stored in another form than its fields hold them.
struct Coded {
    actor_type: &'static str,
    outcome: &'static str,
    http_status: i16,
}

impl Coded {
    fn of(r: &AccessRecord) -> Coded {
        Coded { actor_type: r.actor_type.as_str(), outcome: r.outcome.as_str(), http_status: r.http_status as i16 }
    }
}

/// A record's values for [`RECORD_COLUMNS`], in that order.
fn record_values<'a>(r: &'a AccessRecord, coded: &'a Coded) -> [&'a (dyn ToSql + Sync); 18] {
    [
        &r.request_id,
        &coded.actor_type,
        &r.actor_id,
        &r.actor_name,
        &r.organisation_id,
        &r.membership_id,
        &r.roles,
        &r.action,
        &r.object_type,
        &r.object_id,
        &r.object_revision,
        &r.object_ids,
        &r.tier,
        &r.tlp,
        &coded.outcome,
        &r.reason,
        &coded.http_status,
        &r.client_addr,
    ]
}

/// The columns a pending record and a sealed record share.
const RECORD_COLUMNS: &str = "request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles, \
    action, object_type, object_id, object_revision, object_ids, tier, tlp, outcome, reason, http_status, client_addr";

/// One pass of the sealer: chains up to `batch` committed pending records, oldest place
/// in the queue first, in one transaction: lock the chain head (waiting for it if
/// `wait`, else giving up at once when another sealer holds it), read the records'
/// times and digests, compute each one's `seq`, time (never earlier than the record
/// before) and hash in Rust, move the records into `access_log` with those values, and
/// move the head. Returns how many records were sealed, or `None` if another sealer
/// held the head. A record whose transaction commits late is simply sealed by a later
/// pass: the chain's order is the order of sealing, and nothing committed is left out.
pub async fn seal(client: &mut crate::Client, batch: i64, wait: bool) -> Result<Option<usize>, DbError> {
    let tx = client.transaction().await?;
    let lock = if wait {
        "SELECT seq, hash, at FROM access_log_head WHERE id FOR UPDATE"
    } else {
        "SELECT seq, hash, at FROM access_log_head WHERE id FOR UPDATE SKIP LOCKED"
    };
    // Prepared once per connection: the sealer runs these every few milliseconds under
    // load, and an unnamed statement costs a round trip and a parse each time.
    let lock = tx.prepare_cached(lock).await?;
    let Some(head) = tx.query_opt(&lock, &[]).await? else {
        return Ok(None);
    };
    let mut seq: i64 = head.try_get(0)?;
    let hash: Vec<u8> = head.try_get(1)?;
    let mut prev: [u8; 32] = hash.try_into().map_err(|_| DbError::Corrupt("access_log_head.hash"))?;
    let mut last_at: DateTime<Utc> = head.try_get(2)?;
    let pending = tx.prepare_cached("SELECT id, at, digest FROM access_log_pending ORDER BY id LIMIT $1").await?;
    let pending = tx.query(&pending, &[&batch]).await?;
    if pending.is_empty() {
        return Ok(Some(0));
    }
    let n = pending.len();
    let (mut ids, mut seqs, mut ats, mut prevs, mut hashes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for row in &pending {
        let id: i64 = row.try_get(0)?;
        let at: DateTime<Utc> = row.try_get::<_, DateTime<Utc>>(1)?.max(last_at);
        let digest: Vec<u8> = row.try_get(2)?;
        let digest: [u8; 32] = digest.try_into().map_err(|_| DbError::Corrupt("access_log_pending.digest"))?;
        seq += 1;
        let hash = chain::link(&prev, seq, at, &digest);
        ids.push(id);
        seqs.push(seq);
        ats.push(at);
        prevs.push(prev.to_vec());
        hashes.push(hash.to_vec());
        prev = hash;
        last_at = at;
    }
    // Moves exactly the records read above; the head moves only if all of them arrived
    // (none can have gone, since the head lock keeps other sealers out — but a record
    // deleted behind the service's back must stop the pass, not leave a gap in `seq`).
    let moved = tx.prepare_cached(move_statement()).await?;
    let moved = tx
        .query_opt(&moved, &[&ids, &seqs, &ats, &prevs, &hashes, &seq, &prev.as_slice(), &last_at, &(n as i64)])
        .await?;
    if moved.is_none() {
        return Err(DbError::Corrupt("access_log_pending changed while sealing"));
    }
    tx.commit().await?;
    Ok(Some(n))
}

/// The statement of [`seal`] that moves the records read into the chain and the head to
/// the last of them.
fn move_statement() -> &'static str {
    static STATEMENT: OnceLock<String> = OnceLock::new();
    STATEMENT.get_or_init(|| {
        format!(
            "WITH link AS ( \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bytea[], $5::bytea[]) \
                   AS l(id, seq, at, prev_hash, hash) \
             ), moved AS ( \
                 DELETE FROM access_log_pending p USING link WHERE p.id = link.id \
                 RETURNING link.seq, link.at, {pending_columns}, link.prev_hash, link.hash \
             ), ins AS ( \
                 INSERT INTO access_log (seq, at, {RECORD_COLUMNS}, prev_hash, hash) \
                 SELECT * FROM moved RETURNING 1 \
             ) \
             UPDATE access_log_head SET seq = $6, hash = $7, at = $8 \
             WHERE id AND (SELECT count(*) FROM ins) = $9 RETURNING seq",
            pending_columns =
                RECORD_COLUMNS.split(", ").map(|c| format!("p.{}", c.trim())).collect::<Vec<_>>().join(", "),
        )
    })
}

/// Returns once the record at `id` in the queue, and every committed record before it,
/// is in the chain: seals them itself, or, while another sealer holds the head, waits for
/// that one (which seals every committed record) instead of queueing behind it — so
/// concurrent callers are served by one sealing transaction, not one each.
pub async fn seal_through(client: &mut crate::Client, id: i64) -> Result<(), DbError> {
    loop {
        let waiting: bool = client
            .query_one("SELECT EXISTS (SELECT 1 FROM access_log_pending WHERE id <= $1)", &[&id])
            .await?
            .try_get(0)?;
        if !waiting {
            return Ok(());
        }
        if seal(client, SEAL_BATCH, false).await?.is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// Seals (waiting for other sealers) every record committed before this call, so a
/// reader of the log sees them; records written meanwhile may wait for the sealer.
pub async fn seal_committed(client: &mut crate::Client) -> Result<(), DbError> {
    let newest: Option<i64> = client.query_one("SELECT max(id) FROM access_log_pending", &[]).await?.try_get(0)?;
    match newest {
        Some(id) => seal_through(client, id).await,
        None => Ok(()),
    }
}

/// Seals everything committed now (waiting for other sealers); for shutdown, the command
/// line and tests. Returns how many records this call sealed.
pub async fn seal_all(client: &mut crate::Client) -> Result<u64, DbError> {
    let mut sealed = 0;
    loop {
        match seal(client, SEAL_BATCH, true).await? {
            Some(0) => return Ok(sealed),
            Some(n) => sealed += n as u64,
            None => {}
        }
    }
}

/// Writes one record outside any transaction and seals it at once; returns its `seq`. For
/// a request that must read the chain up to and including its own record (an export).
pub async fn record_sealed(client: &mut crate::Client, r: &AccessRecord) -> Result<i64, DbError> {
    let before = last_seq(&*client).await?;
    let id = record(&*client, r).await?;
    seal_through(client, id).await?;
    // The sealed record: found by the action index from the head before it was written.
    let row = client
        .query_one(
            "SELECT seq FROM access_log WHERE action = $1 AND seq > $2 AND request_id = $3 ORDER BY seq LIMIT 1",
            &[&r.action, &before, &r.request_id],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The types of [`RECORD_COLUMNS`], for binary `COPY`.
const RECORD_TYPES: [tokio_postgres::types::Type; 18] = {
    use tokio_postgres::types::Type;
    [
        Type::TEXT,
        Type::TEXT,
        Type::UUID,
        Type::TEXT,
        Type::UUID,
        Type::UUID,
        Type::TEXT_ARRAY,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::UUID_ARRAY,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT2,
        Type::INET,
    ]
};

/// Writes several records at once, unchained, in one transaction of its own (binary
/// `COPY` into `access_log_pending`): either all are written or none. For many records
/// that must be written before one step (the live streams' pushes of one event): one
/// commit instead of one per record. The sealer chains them like any other.
pub async fn record_many(client: &mut crate::Client, records: &[AccessRecord]) -> Result<(), DbError> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    if records.is_empty() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    let sink = tx.copy_in(&format!("COPY access_log_pending ({RECORD_COLUMNS}, digest) FROM STDIN BINARY")).await?;
    let types: Vec<Type> = RECORD_TYPES.iter().cloned().chain([Type::BYTEA]).collect();
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for r in records {
        let (coded, digest) = (Coded::of(r), r.content().digest());
        let digest = digest.as_slice();
        let row: Vec<&(dyn ToSql + Sync)> = record_values(r, &coded).into_iter().chain([&digest as _]).collect();
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    SEAL_WANTED.notify_one();
    Ok(())
}

/// Appends `records` straight to the chain in one transaction under the head lock, by
/// binary `COPY`, with the digest and link code the writer and the sealer use. Only for
/// `sitrep audit generate` (seeding benchmarks with millions of records); the server
/// always writes through [`record`] and the sealer.
pub async fn append_bulk(client: &mut crate::Client, records: &[AccessRecord]) -> Result<(), DbError> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let tx = client.transaction().await?;
    let head = tx
        .query_one(
            "SELECT seq, hash, at, date_trunc('microseconds', clock_timestamp()) FROM access_log_head WHERE id FOR UPDATE",
            &[],
        )
        .await?;
    let mut seq: i64 = head.try_get(0)?;
    let hash: Vec<u8> = head.try_get(1)?;
    let mut prev: [u8; 32] = hash.try_into().map_err(|_| DbError::Corrupt("access_log_head.hash"))?;
    let at: DateTime<Utc> = head.try_get::<_, DateTime<Utc>>(3)?.max(head.try_get(2)?);
    // Each record's seq and hash, in order, before the copy.
    let links: Vec<(i64, [u8; 32], [u8; 32])> = records
        .iter()
        .map(|r| {
            seq += 1;
            let hash = chain::link(&prev, seq, at, &r.content().digest());
            let link = (seq, prev, hash);
            prev = hash;
            link
        })
        .collect();
    let sink =
        tx.copy_in(&format!("COPY access_log (seq, at, {RECORD_COLUMNS}, prev_hash, hash) FROM STDIN BINARY")).await?;
    let types: Vec<Type> =
        [Type::INT8, Type::TIMESTAMPTZ].into_iter().chain(RECORD_TYPES).chain([Type::BYTEA, Type::BYTEA]).collect();
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for (r, (seq, prev, hash)) in records.iter().zip(&links) {
        let coded = Coded::of(r);
        let (prev, hash) = (prev.as_slice(), hash.as_slice());
        let row: Vec<&(dyn ToSql + Sync)> =
            [seq as _, &at as _].into_iter().chain(record_values(r, &coded)).chain([&prev as _, &hash as _]).collect();
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    tx.execute("UPDATE access_log_head SET seq = $1, hash = $2, at = $3 WHERE id", &[&seq, &prev.as_slice(), &at])
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records per sealing transaction.
pub const SEAL_BATCH: i64 = 5000;

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

const CHECKPOINT_COLUMNS: &str = "id, seq, hash, at, key_id, signature";

fn checkpoint(row: &Row) -> Result<AccessLogCheckpoint, DbError> {
    use base64::Engine;
    let hash: Vec<u8> = row.try_get(2)?;
    let signature: Vec<u8> = row.try_get(5)?;
    Ok(AccessLogCheckpoint {
        id: row.try_get(0)?,
        seq: row.try_get(1)?,
        hash: hex::encode(hash),
        at: row.try_get(3)?,
        key_id: row.try_get(4)?,
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
    })
}

/// Every checkpoint, oldest first.
pub async fn all_checkpoints(c: &impl GenericClient) -> Result<Vec<AccessLogCheckpoint>, DbError> {
    let rows = c.query(&format!("SELECT {CHECKPOINT_COLUMNS} FROM access_log_checkpoints ORDER BY id"), &[]).await?;
    rows.iter().map(checkpoint).collect()
}

/// A page of checkpoints, oldest first, with `id > after`.
pub async fn list_checkpoints(
    c: &impl GenericClient,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessLogCheckpoint>, DbError> {
    let rows = c
        .query(
            &format!("SELECT {CHECKPOINT_COLUMNS} FROM access_log_checkpoints WHERE id > $1 ORDER BY id LIMIT $2"),
            &[&after.unwrap_or(0), &limit],
        )
        .await?;
    rows.iter().map(checkpoint).collect()
}

/// Key of the transaction-scoped advisory lock held while making a checkpoint, so that
/// several processes do not sign the same head at once ("sitrep-cp").
const CHECKPOINT_LOCK: i64 = 0x7369_7472_6570_6370;

/// Signs the current head and stores the checkpoint, unless another process is doing so
/// right now, the log is empty, or (unless `force`) the head is already checkpointed.
/// `sign` gets the checkpoint message and returns the signature.
pub async fn make_checkpoint(
    client: &mut crate::Client,
    key_id: &str,
    force: bool,
    sign: impl Fn(&[u8]) -> [u8; 64],
) -> Result<Option<AccessLogCheckpoint>, DbError> {
    let tx = client.transaction().await?;
    let locked: bool = tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&CHECKPOINT_LOCK]).await?.try_get(0)?;
    if !locked {
        return Ok(None);
    }
    let Some(head) = tx
        .query_opt(
            "SELECT seq, hash, date_trunc('microseconds', clock_timestamp()), \
               (SELECT max(seq) FROM access_log_checkpoints) FROM access_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?
    else {
        return Ok(None);
    };
    let seq: i64 = head.try_get(0)?;
    let hash: Vec<u8> = head.try_get(1)?;
    let at: DateTime<Utc> = head.try_get(2)?;
    let last: Option<i64> = head.try_get(3)?;
    if !force && last == Some(seq) {
        return Ok(None);
    }
    let hash: [u8; 32] = hash.try_into().map_err(|_| DbError::Corrupt("access_log.hash"))?;
    let signature = sign(&chain::checkpoint_message(seq, &hash, at));
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO access_log_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING {CHECKPOINT_COLUMNS}"
            ),
            &[&seq, &hash.as_slice(), &at, &key_id, &signature.as_slice()],
        )
        .await?;
    let cp = checkpoint(&row)?;
    tx.commit().await?;
    Ok(Some(cp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_insert_numbers_each_records_parameters_in_column_order() {
        let two = insert_pending(2);
        assert!(two.starts_with(&format!("INSERT INTO access_log_pending ({RECORD_COLUMNS}, digest) VALUES (")));
        let params: Vec<String> = (1..=19).map(|n| format!("${n}")).collect();
        let second: Vec<String> = (20..=38).map(|n| format!("${n}")).collect();
        assert!(two.ends_with(&format!("({}), ({})", params.join(", "), second.join(", "))), "{two}");
        assert_eq!(RECORD_COLUMNS.split(',').count() + 1, 19);
        assert!(!insert_pending(MAX_BATCH).contains("$65536"));
    }
}
