//! Operational figures for `/metrics`: the delivery backlog, the access-log chain head and
//! the records waiting to be sealed into it.

use crate::{DbError, GenericClient};

#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub deliveries_pending: i64,
    /// Seconds the oldest pending delivery has been due (0 when none).
    pub deliveries_oldest_due_secs: f64,
    pub deliveries_failed: i64,
    pub subscriptions_failing: i64,
    pub access_log_head_seq: i64,
    /// Access-log records written but not yet sealed into the chain.
    pub access_log_unsealed: i64,
    /// Seconds since the oldest of those was written (0 when none).
    pub access_log_unsealed_age_secs: f64,
    /// Outbox events not yet fanned out to the least advanced active webhook subscription.
    pub outbox_backlog: i64,
    /// Seconds since the oldest of those was written (0 when none).
    pub outbox_oldest_secs: f64,
}

pub async fn gauges(c: &impl GenericClient) -> Result<Gauges, DbError> {
    let row = c
        .query_one(
            "SELECT \
               (SELECT count(*) FROM deliveries WHERE state = 'pending'), \
               (SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at))::float8, 0) FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= now()), \
               (SELECT count(*) FROM deliveries WHERE state = 'failed'), \
               (SELECT count(*) FROM subscriptions WHERE failing_since IS NOT NULL), \
               (SELECT seq FROM access_log_head WHERE id), \
               b.n, b.oldest, \
               (SELECT count(*) FROM access_log_pending), \
               (SELECT coalesce(extract(epoch FROM clock_timestamp() - min(at))::float8, 0) FROM access_log_pending) \
             FROM ( \
               SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(e.created_at))::float8, 0) AS oldest \
               FROM events e, ( \
                 SELECT s.position_xid, s.position_seq FROM subscriptions s JOIN organisations o ON o.id = s.organisation_id \
                 WHERE s.active AND o.active AND s.channel = 'webhook' \
                 ORDER BY s.position_xid, s.position_seq LIMIT 1) least \
               WHERE (e.xid, e.seq) > (least.position_xid, least.position_seq)) b",
            &[],
        )
        .await?;
    Ok(Gauges {
        deliveries_pending: row.try_get(0)?,
        deliveries_oldest_due_secs: row.try_get::<_, f64>(1)?.max(0.0),
        deliveries_failed: row.try_get(2)?,
        subscriptions_failing: row.try_get(3)?,
        access_log_head_seq: row.try_get::<_, Option<i64>>(4)?.unwrap_or(0),
        outbox_backlog: row.try_get(5)?,
        outbox_oldest_secs: row.try_get::<_, f64>(6)?.max(0.0),
        access_log_unsealed: row.try_get(7)?,
        access_log_unsealed_age_secs: row.try_get::<_, f64>(8)?.max(0.0),
    })
}
