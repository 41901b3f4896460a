//! Writing records: one in the caller's transaction (`record`), the rows of a shared
//! commit (`record_rows`, for the recorder), several at once (`record_many`), and the
//! bulk load of the benchmarks (`append_bulk`). Each is written unchained to
//! `access_log_pending`; the sealer chains it.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;

use super::*;
use crate::access_log::recorder::MAX_BATCH;
use crate::{DbError, GenericClient};
use sitrep_access_log::chain::{self};

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
pub(super) const RECORD_COLUMNS: &str = "request_id, actor_type, actor_id, actor_name, organisation_id, membership_id, roles, \
    action, object_type, object_id, object_revision, object_ids, tier, tlp, outcome, reason, http_status, client_addr";

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
/// `sitrep-seed-access-log` (seeding benchmarks with millions of records); the server
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
