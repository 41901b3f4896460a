//! The sealer: chains the access-log records that requests write unchained
//! (`sitrep_db::access_log::seal`; docs/access-log.md, "Sealing"). Every process runs one;
//! the chain head's lock makes one of them seal at a time, and any of them seals what
//! another process wrote (so records of a process that died are sealed by the others,
//! or by the next start).

use std::time::Duration;

use sitrep_db::Pool;
use sitrep_db::access_log::{SEAL_BATCH, seal, seal_all, seal_wanted};

/// How long the sealer waits after being woken before it seals: the writing request's
/// transaction commits in that time, and records of concurrent requests gather into
/// one batch.
const GATHER: Duration = Duration::from_millis(2);

/// Seals as soon as this process writes a record, and every `every` in any case (for
/// records of other processes). When `shutdown` turns true it seals what is left
/// (waiting for the head) and returns.
pub async fn run(pool: Pool, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = seal_wanted().notified() => tokio::time::sleep(GATHER).await,
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
        if let Err(e) = pass(&pool).await {
            tracing::error!(error = %e, "sealing the access log failed; retrying");
            tokio::time::sleep(every).await;
        }
    }
    match async { seal_all(&mut pool.get().await?).await }.await {
        Ok(n) => tracing::debug!(sealed = n, "sealed the access log at shutdown"),
        Err(e) => tracing::error!(error = %e, "sealing the access log at shutdown failed; the next start seals it"),
    }
}

/// Seals full batches until the queue holds less than one, or another sealer is busy.
async fn pass(pool: &Pool) -> Result<(), sitrep_db::DbError> {
    let mut client = pool.get().await?;
    while let Some(n) = seal(&mut client, SEAL_BATCH, false).await? {
        if (n as i64) < SEAL_BATCH {
            break;
        }
    }
    Ok(())
}
