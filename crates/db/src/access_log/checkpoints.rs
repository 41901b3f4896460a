//! Checkpoints: the chain head signed with the server's key, listed and made.

use chrono::{DateTime, Utc};
use sitrep_types::AccessLogCheckpoint;
use tokio_postgres::Row;

use crate::{DbError, GenericClient};
use sitrep_access_log::chain::{self};

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
