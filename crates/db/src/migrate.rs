//! Embedded migrations from `migrations/`, applied under an advisory lock so that several
//! servers starting at once apply each migration exactly once.

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Key of the session-level advisory lock held while migrating ("sitrep" in ASCII).
const MIGRATION_LOCK: i64 = 0x7369_7472_6570;

/// Connects with its own connection, takes the lock, applies what is missing.
/// Returns the names of the migrations applied now.
pub async fn run(url: &str) -> Result<Vec<String>, anyhow::Error> {
    let (mut client, connection) = crate::connect::Target::parse(url)?.connect().await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection ended");
        }
    });
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let report = embedded::migrations::runner().set_abort_divergent(true).run_async(&mut client).await;
    // Usernames' confusable folds need Unicode tables PostgreSQL lacks: computed here, under
    // the same lock, so that every account has one before a server serves.
    let folds = match &report {
        Ok(_) => crate::accounts::sync_username_folds(&client).await.map_err(anyhow::Error::from),
        Err(_) => Ok(Vec::new()),
    };
    // Normalised indicator values need Rust too: revisions written before their table
    // existed are indexed here, under the same lock.
    let indexed = match (&report, &folds) {
        (Ok(_), Ok(_)) => crate::correlation::index_missing(&client).await.map_err(anyhow::Error::from),
        _ => Ok(0),
    };
    let unlock = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    drop(client);
    let _ = driver.await;
    let report = report?;
    unlock?;
    let indexed = indexed?;
    if indexed > 0 {
        tracing::info!(revisions = indexed, "indexed the indicator values of earlier revisions for correlation");
    }
    for username in folds? {
        tracing::warn!(
            username,
            "this account's name looks like an older account's (same confusable fold): it signs in \
             by its exact name only; deactivate it or give its holder an account under another name"
        );
    }
    Ok(report.applied_migrations().iter().map(|m| m.to_string()).collect())
}
