//! Everything that speaks SQL: the pool, migrations, repositories, and the access log.
//!
//! Functions take a `GenericClient` so the caller decides the transaction: a write,
//! its access-log record (and later its outbox row) commit together.

/// The visibility predicate (`picture_visible`, migrations/V2, mirrored by
/// `sitrep_domain::visibility::sight`) on `pictures p`, for a viewer given as SQL
/// expressions: its organisation, the narrowest tier rank its reach reads, whether it
/// reads pictures. Every query writes the call through this, so it is written once.
macro_rules! picture_visible {
    ($org:expr, $rank:expr, $reads:expr) => {
        concat!(
            "picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, ",
            $org,
            ", ",
            $rank,
            ", ",
            $reads,
            ")"
        )
    };
}

/// The same predicate on a report `r` (`sitrep_domain::report::report_sight`): reports
/// are read under the pictures' rule applied to their own handling.
macro_rules! report_visible {
    ($org:expr, $rank:expr, $reads:expr) => {
        concat!(
            "picture_visible(r.originator_id, r.status, r.tier_rank, r.named_recipients, ",
            $org,
            ", ",
            $rank,
            ", ",
            $reads,
            ")"
        )
    };
}

/// The narrowest tier rank an organisation's reach (an SQL expression) reads, as
/// `sitrep_domain::visibility::min_rank` gives it.
macro_rules! reach_rank {
    ($reach:expr) => {
        concat!("(CASE ", $reach, " WHEN 'member' THEN 1 WHEN 'virt' THEN 2 ELSE 3 END)::smallint")
    };
}

pub mod access_log;
pub mod accounts;
pub mod attachments;

pub mod connect;
pub mod correlation;
pub mod events;

pub mod migrate;
pub mod notifications;
pub mod ops;
pub mod pictures;
pub mod reference;
pub mod reports;
pub mod scope;
pub mod second_factor;
pub mod service_accounts;
pub mod sessions;
pub mod subscriptions;
pub mod taxii;
pub mod threads;

use std::time::Duration;

pub use deadpool_postgres::{GenericClient, Object as Client, Pool, Transaction};
use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

/// What can go wrong talking to the database. Never shown to clients: the API maps it to
/// an opaque `503`/`500` and logs the cause.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("database returned an unexpected value in {0}")]
    Corrupt(&'static str),
    /// The write was not made, for a reason already logged where it happened.
    #[error("database unavailable: {0}")]
    Unavailable(&'static str),
}

impl DbError {
    /// A unique constraint refused the write (e.g. a username already taken).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: usize,
    /// How long a request waits for a free connection before failing with `503`.
    pub wait_timeout: Duration,
    /// `statement_timeout` set on every connection.
    pub statement_timeout: Duration,
    /// A pool for reads only (a replica): every transaction is read-only, so a write sent
    /// to it by mistake fails instead of landing on whatever the URL points at.
    pub read_only: bool,
    /// The planner's `random_page_cost` on every connection. The picture list's filters
    /// rely on ordered indexes that the planner only prefers when random reads are priced
    /// as on SSD storage (1.1); PostgreSQL's default (4) prices spinning disks.
    pub random_page_cost: f64,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            wait_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            read_only: false,
            random_page_cost: 1.1,
        }
    }
}

/// Parses a `postgres://` URL (with its `sslmode`, [`connect`]) and builds the pool. No
/// connection is made here.
pub fn pool(url: &str, options: &PoolOptions) -> Result<Pool, anyhow::Error> {
    let connect::Target { mut config, tls, .. } = connect::Target::parse(url)?;
    let mut settings = format!(
        "-c statement_timeout={} -c timezone=UTC -c random_page_cost={}",
        options.statement_timeout.as_millis(),
        options.random_page_cost
    );
    if options.read_only {
        config.application_name("sitrep-read");
        settings.push_str(" -c default_transaction_read_only=on");
    } else {
        config.application_name("sitrep");
    }
    config.options(settings);
    config.connect_timeout(Duration::from_secs(5));
    let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager)
        .max_size(options.max_connections)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()?;
    Ok(pool)
}

/// Readiness: the database answers a trivial query.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    client.query_one("SELECT 1", &[]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_visibility_call_is_written_as_the_sql_function_takes_it() {
        assert_eq!(
            picture_visible!("$1", "$2", "$3"),
            "picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, $1, $2, $3)"
        );
        assert_eq!(
            picture_visible!("s.organisation_id", reach_rank!("o.reach"), "true"),
            "picture_visible(p.originator_id, p.status, p.tier_rank, p.named_recipients, s.organisation_id, \
             (CASE o.reach WHEN 'member' THEN 1 WHEN 'virt' THEN 2 ELSE 3 END)::smallint, true)"
        );
    }
}
