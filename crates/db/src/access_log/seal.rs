//! Sealing: the pending records appended to the hash chain in commit order, by one
//! sealer at a time (docs/access-log.md, "Sealing"), and the wake-up the writers give it.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use super::*;
use crate::{DbError, GenericClient};
use sitrep_access_log::chain::{self};

/// Wakes the sealer of this process when a record has been written (see [`seal`]).
pub(super) static SEAL_WANTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// What the sealer of this process waits on between passes: woken after each record
/// written by this process (records of other processes are found by its periodic pass).
pub fn seal_wanted() -> &'static tokio::sync::Notify {
    &SEAL_WANTED
}

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

/// Records per sealing transaction.
pub const SEAL_BATCH: i64 = 5000;
