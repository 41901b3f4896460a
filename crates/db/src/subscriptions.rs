//! Subscriptions, the webhook host allow-list, and the delivery queue the worker drives.

use chrono::{DateTime, Utc};
use sitrep_domain::AdminScope;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::scope::InScope;
use crate::{DbError, GenericClient};

pub async fn webhook_hosts(c: &impl GenericClient) -> Result<Vec<String>, DbError> {
    let rows = c.query("SELECT host FROM webhook_hosts ORDER BY host", &[]).await?;
    rows.iter().map(|r| r.try_get(0).map_err(DbError::from)).collect()
}

pub async fn add_webhook_host(c: &impl GenericClient, host: &str, by: Uuid) -> Result<bool, DbError> {
    let n = c
        .execute("INSERT INTO webhook_hosts (host, created_by) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&host, &by])
        .await?;
    Ok(n == 1)
}

pub async fn remove_webhook_host(c: &impl GenericClient, host: &str) -> Result<bool, DbError> {
    Ok(c.execute("DELETE FROM webhook_hosts WHERE host = $1", &[&host]).await? == 1)
}

pub async fn host_allowed(c: &impl GenericClient, host: &str) -> Result<bool, DbError> {
    Ok(c.query_opt("SELECT 1 FROM webhook_hosts WHERE host = lower($1)", &[&host]).await?.is_some())
}

/// A subscription row (secrets included: never return them to clients but once).
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    pub channel: String,
    pub webhook_url: Option<String>,
    pub secrets: Vec<String>,
    pub domains: Vec<String>,
    pub min_severity: Option<String>,
    pub election_ids: Vec<Uuid>,
    pub kinds: Vec<String>,
    pub is_exercise: Option<bool>,
    pub active: bool,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organisation_id, name, channel, webhook_url, secrets, domains, min_severity, election_ids, \
     kinds, is_exercise, active, failing_since, created_at";

fn subscription(r: &Row) -> Result<SubscriptionRow, DbError> {
    Ok(SubscriptionRow {
        id: r.try_get("id")?,
        organisation_id: r.try_get("organisation_id")?,
        name: r.try_get("name")?,
        channel: r.try_get("channel")?,
        webhook_url: r.try_get("webhook_url")?,
        secrets: r.try_get("secrets")?,
        domains: r.try_get("domains")?,
        min_severity: r.try_get("min_severity")?,
        election_ids: r.try_get("election_ids")?,
        kinds: r.try_get("kinds")?,
        is_exercise: r.try_get("is_exercise")?,
        active: r.try_get("active")?,
        failing_since: r.try_get("failing_since")?,
        created_at: r.try_get("created_at")?,
    })
}

/// What a subscription selects (empty lists: everything).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub domains: Vec<String>,
    pub min_severity: Option<String>,
    pub election_ids: Vec<Uuid>,
    pub kinds: Vec<String>,
    pub is_exercise: Option<bool>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    c: &impl GenericClient,
    id: Uuid,
    organisation: Uuid,
    name: &str,
    webhook_url: Option<&str>,
    secret: Option<&str>,
    f: &Filter,
    by: Uuid,
) -> Result<SubscriptionRow, DbError> {
    let channel = if webhook_url.is_some() { "webhook" } else { "feed" };
    let secrets: Vec<&str> = secret.into_iter().collect();
    // Start at the outbox's current end: a new subscription receives what happens next.
    let (xid, seq) = crate::events::head(c).await?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO subscriptions (id, organisation_id, name, channel, webhook_url, secrets, domains, \
                   min_severity, election_ids, kinds, is_exercise, created_by, position_xid, position_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::xid8, $14) RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &organisation,
                &name,
                &channel,
                &webhook_url,
                &secrets,
                &f.domains,
                &f.min_severity,
                &f.election_ids,
                &f.kinds,
                &f.is_exercise,
                &by,
                &xid,
                &seq,
            ],
        )
        .await?;
    subscription(&row)
}

/// Subscriptions in `scope`, newest first.
pub async fn list(c: &impl GenericClient, scope: AdminScope) -> Result<Vec<SubscriptionRow>, DbError> {
    let organisation = scope.organisation();
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE ($1::uuid IS NULL OR organisation_id = $1) ORDER BY created_at DESC, id"
            ),
            &[&organisation],
        )
        .await?;
    rows.iter().map(subscription).collect()
}

/// The subscription, if `scope` reaches its organisation.
pub async fn get(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
) -> Result<Option<InScope<SubscriptionRow>>, DbError> {
    find(c, scope, id, "").await
}

/// [`get`], locking the row for the rest of the transaction (two changes of its secrets
/// at once must not lose one).
pub async fn lock(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
) -> Result<Option<InScope<SubscriptionRow>>, DbError> {
    find(c, scope, id, " FOR UPDATE").await
}

async fn find(
    c: &impl GenericClient,
    scope: AdminScope,
    id: Uuid,
    lock: &str,
) -> Result<Option<InScope<SubscriptionRow>>, DbError> {
    let organisation = scope.organisation();
    let row = c
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE id = $1 AND ($2::uuid IS NULL OR organisation_id = $2){lock}"
            ),
            &[&id, &organisation],
        )
        .await?;
    Ok(row.as_ref().map(subscription).transpose()?.map(InScope::new))
}

/// Changes the active flag and/or the secrets (rotation keeps the previous secret).
pub async fn update(
    c: &impl GenericClient,
    target: &InScope<SubscriptionRow>,
    active: Option<bool>,
    secrets: Option<Vec<String>>,
) -> Result<Option<SubscriptionRow>, DbError> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE subscriptions SET active = coalesce($2, active), secrets = coalesce($3, secrets), \
                   failing_since = CASE WHEN $2 THEN NULL ELSE failing_since END \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[&target.id, &active, &secrets],
        )
        .await?;
    row.as_ref().map(subscription).transpose()
}

/// Moves the outbox into the delivery queue for every active webhook subscription that no
/// other worker is handling right now: the events after its position that its
/// organisation sees now and its filter selects. Returns the deliveries queued.
pub async fn fan_out(c: &impl GenericClient, batch: i64) -> Result<u64, DbError> {
    let subs = c
        .query(
            "SELECT s.id FROM subscriptions s JOIN organisations o ON o.id = s.organisation_id \
             WHERE s.active AND o.active AND s.channel = 'webhook' FOR UPDATE OF s SKIP LOCKED",
            &[],
        )
        .await?;
    let mut queued = 0;
    for s in subs {
        let id: Uuid = s.try_get(0)?;
        queued += c
            .execute(
                concat!("WITH s AS (SELECT s.*, ", reach_rank!("o.reach"), " AS rank \
                            FROM subscriptions s JOIN organisations o ON o.id = s.organisation_id WHERE s.id = $1), \
                 scanned AS ( \
                   SELECT e.id, e.xid, e.seq, ( \
                     CASE WHEN e.report_id IS NOT NULL \
                          THEN ", report_visible!("s.organisation_id", "s.rank", "true"), " \
                          WHEN e.recipients IS NULL \
                          THEN ", picture_visible!("s.organisation_id", "s.rank", "true"), " \
                          ELSE s.organisation_id = ANY (e.recipients) END \
                     AND (e.type = 'picture.recalled' OR e.report_id IS NOT NULL OR ( \
                          (cardinality(s.domains) = 0 OR p.domains && s.domains) \
                      AND (s.min_severity IS NULL OR array_position(ARRAY['low','medium','high','critical'], p.severity) \
                                                   >= array_position(ARRAY['low','medium','high','critical'], s.min_severity)) \
                      AND (cardinality(s.election_ids) = 0 OR p.election_id = ANY (s.election_ids)) \
                      AND (cardinality(s.kinds) = 0 OR p.kind = ANY (s.kinds)) \
                      AND (s.is_exercise IS NULL OR p.is_exercise = s.is_exercise)))) AS selected \
                   FROM s, events e LEFT JOIN pictures p ON p.id = e.picture_id \
                     LEFT JOIN reports r ON r.id = e.report_id \
                   WHERE (e.xid, e.seq) > (s.position_xid, s.position_seq) \
                     AND e.xid < pg_snapshot_xmin(pg_current_snapshot()) \
                   ORDER BY e.xid, e.seq LIMIT $2), \
                 moved AS ( \
                   UPDATE subscriptions SET (position_xid, position_seq) = (SELECT xid, seq FROM scanned ORDER BY xid DESC, seq DESC LIMIT 1) \
                   WHERE id = $1 AND EXISTS (SELECT 1 FROM scanned)) \
                 INSERT INTO deliveries (id, subscription_id, event_id, state) \
                 SELECT gen_random_uuid(), $1, id, 'pending' FROM scanned WHERE selected \
                 ON CONFLICT DO NOTHING"),
                &[&id, &batch],
            )
            .await?;
    }
    Ok(queued)
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: Uuid,
    pub attempt: i32,
    /// Failures since the last success or replay.
    pub failures: i32,
    pub subscription_id: Uuid,
    pub organisation_id: Uuid,
    pub url: String,
    pub secrets: Vec<String>,
    pub event_id: Uuid,
    pub event_type: String,
    /// The picture a `picture.*` event is about, or
    pub picture_id: Option<Uuid>,
    /// the report a `report.*` event is about.
    pub report_id: Option<Uuid>,
    pub revision: i32,
    pub tier: String,
    pub tlp: String,
    pub event_at: DateTime<Utc>,
    /// The subscriber still sees what the event is about (checked at claim time).
    pub still_visible: bool,
}

/// Claims up to `limit` due deliveries under a lease (other workers skip them until it
/// expires) and commits nothing itself: the caller commits before sending.
pub async fn claim(c: &impl GenericClient, lease_secs: f64, limit: i64) -> Result<Vec<Due>, DbError> {
    let rows = c
        .query(
            concat!("WITH due AS ( \
               SELECT d.id FROM deliveries d \
               WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now()) \
               ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
             claimed AS ( \
               UPDATE deliveries d SET lease_until = now() + make_interval(secs => $1), attempts = d.attempts + 1 \
               FROM due WHERE d.id = due.id RETURNING d.*) \
             SELECT d.id, d.attempts, d.failures, s.id AS sid, s.organisation_id, s.webhook_url, s.secrets, e.id AS eid, e.type, \
                    e.picture_id, e.revision, e.tier, e.tlp, e.created_at, \
                    CASE WHEN e.report_id IS NOT NULL \
                         THEN ", report_visible!("s.organisation_id", reach_rank!("o.reach"), "true"), " \
                         WHEN e.recipients IS NULL \
                         THEN ", picture_visible!("s.organisation_id", reach_rank!("o.reach"), "true"), " \
                         ELSE s.organisation_id = ANY (e.recipients) END AS visible, e.report_id \
             FROM claimed d JOIN subscriptions s ON s.id = d.subscription_id \
             JOIN organisations o ON o.id = s.organisation_id \
             JOIN events e ON e.id = d.event_id LEFT JOIN pictures p ON p.id = e.picture_id \
             LEFT JOIN reports r ON r.id = e.report_id"),
            &[&lease_secs, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get(0)?,
                attempt: r.try_get(1)?,
                failures: r.try_get(2)?,
                subscription_id: r.try_get(3)?,
                organisation_id: r.try_get(4)?,
                url: r.try_get::<_, Option<String>>(5)?.unwrap_or_default(),
                secrets: r.try_get(6)?,
                event_id: r.try_get(7)?,
                event_type: r.try_get(8)?,
                picture_id: r.try_get(9)?,
                revision: r.try_get(10)?,
                tier: r.try_get(11)?,
                tlp: r.try_get(12)?,
                event_at: r.try_get(13)?,
                still_visible: r.try_get::<_, Option<bool>>(14)?.unwrap_or(false),
                report_id: r.try_get(15)?,
            })
        })
        .collect()
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Delivered,
    /// Try again at the given time.
    Retry(DateTime<Utc>),
    /// The schedule is spent: the delivery failed and the subscription is failing.
    Failed,
    /// The subscriber no longer sees the picture: not sent.
    Dropped,
}

/// Records an attempt and settles the delivery; releases the lease.
pub async fn settle(
    c: &impl GenericClient,
    due: &Due,
    http_status: Option<u16>,
    outcome: &str,
    duration_ms: i32,
    settle: Settle,
) -> Result<(), DbError> {
    let status = http_status.map(|s| s as i16);
    c.execute(
        "INSERT INTO delivery_attempts (delivery_id, attempt, http_status, outcome, duration_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
        &[&due.id, &due.attempt, &status, &outcome, &duration_ms],
    )
    .await?;
    let (state, next): (&str, Option<DateTime<Utc>>) = match settle {
        Settle::Delivered => ("delivered", None),
        Settle::Retry(at) => ("pending", Some(at)),
        Settle::Failed => ("failed", None),
        Settle::Dropped => ("dropped", None),
    };
    c.execute(
        "UPDATE deliveries SET state = $2, lease_until = NULL, next_attempt_at = coalesce($3, next_attempt_at), \
           failures = CASE WHEN $2 IN ('pending', 'failed') THEN failures + 1 ELSE 0 END, \
           delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END WHERE id = $1",
        &[&due.id, &state, &next],
    )
    .await?;
    match settle {
        Settle::Failed => {
            c.execute(
                "UPDATE subscriptions SET failing_since = coalesce(failing_since, now()) WHERE id = $1",
                &[&due.subscription_id],
            )
            .await?;
        }
        Settle::Delivered => {
            c.execute("UPDATE subscriptions SET failing_since = NULL WHERE id = $1", &[&due.subscription_id]).await?;
        }
        _ => {}
    }
    Ok(())
}

/// One delivery with its attempts, for the subscriber and the secretariat.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub picture_id: Option<Uuid>,
    pub report_id: Option<Uuid>,
    pub state: String,
    pub attempts: Vec<sitrep_types::DeliveryAttempt>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn deliveries(
    c: &impl GenericClient,
    subscription: &InScope<SubscriptionRow>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    let rows = c
        .query(
            "SELECT d.id, d.event_id, e.type, e.picture_id, e.report_id, d.state, d.next_attempt_at, d.created_at, \
               coalesce(array_agg(a.attempt ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}') AS n, \
               coalesce(array_agg(a.at ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}') AS at, \
               coalesce(array_agg(a.http_status ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}') AS st, \
               coalesce(array_agg(a.outcome ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}') AS oc, \
               coalesce(array_agg(a.duration_ms ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}') AS ms \
             FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN delivery_attempts a ON a.delivery_id = d.id \
             WHERE d.subscription_id = $1 GROUP BY d.id, e.type, e.picture_id, e.report_id ORDER BY d.created_at DESC, d.id LIMIT $2",
            &[&subscription.id, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let n: Vec<i32> = r.try_get("n")?;
            let at: Vec<DateTime<Utc>> = r.try_get("at")?;
            let st: Vec<Option<i16>> = r.try_get("st")?;
            let oc: Vec<String> = r.try_get("oc")?;
            let ms: Vec<i32> = r.try_get("ms")?;
            let attempts = (0..n.len())
                .map(|i| sitrep_types::DeliveryAttempt {
                    attempt: n[i],
                    at: at[i],
                    http_status: st[i],
                    outcome: oc[i].clone(),
                    duration_ms: ms[i],
                })
                .collect();
            Ok(DeliveryRow {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                event_type: r.try_get("type")?,
                picture_id: r.try_get("picture_id")?,
                report_id: r.try_get("report_id")?,
                state: r.try_get("state")?,
                attempts,
                next_attempt_at: r.try_get("next_attempt_at")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Queues failed (and, with `delivered`, delivered) deliveries again, and clears the
/// failing mark. Returns how many.
pub async fn replay(
    c: &impl GenericClient,
    subscription: &InScope<SubscriptionRow>,
    delivered: bool,
) -> Result<u64, DbError> {
    let n = c
        .execute(
            "UPDATE deliveries SET state = 'pending', next_attempt_at = now(), lease_until = NULL, failures = 0 \
             WHERE subscription_id = $1 AND (state = 'failed' OR ($2 AND state = 'delivered'))",
            &[&subscription.id, &delivered],
        )
        .await?;
    c.execute("UPDATE subscriptions SET failing_since = NULL WHERE id = $1", &[&subscription.id]).await?;
    Ok(n)
}
