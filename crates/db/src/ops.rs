//! Operational figures for `/metrics`: the delivery backlog and the access-log chain head.

use crate::{DbError, GenericClient};

#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub deliveries_pending: i64,
    /// Seconds the oldest pending delivery has been due (0 when none).
    pub deliveries_oldest_due_secs: f64,
    pub deliveries_failed: i64,
    pub subscriptions_failing: i64,
    pub access_log_head_seq: i64,
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
               (SELECT seq FROM access_log_head WHERE id)",
            &[],
        )
        .await?;
    Ok(Gauges {
        deliveries_pending: row.try_get(0)?,
        deliveries_oldest_due_secs: row.try_get::<_, f64>(1)?.max(0.0),
        deliveries_failed: row.try_get(2)?,
        subscriptions_failing: row.try_get(3)?,
        access_log_head_seq: row.try_get::<_, Option<i64>>(4)?.unwrap_or(0),
    })
}
