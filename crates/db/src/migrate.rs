//! Embedded migrations from `migrations/`, applied under an advisory lock so that several
//! servers starting at once apply each migration exactly once.

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Key of the session-level advisory lock held while migrating ("sitrep" in ASCII).
const MIGRATION_LOCK: i64 = 0x7369_7472_6570;

/// Migrations whose comments were reworded after they shipped (they named notes that are
/// not in the repository), with the checksum of the text that shipped. Their SQL is
/// unchanged; the runner compares checksums of the whole text, so a database that applied
/// the shipped text gets the new checksum recorded first ([`record_rewordings`]).
const REWORDED: &[(u32, &str)] = &[(1, "7657987610499372895"), (8, "14409208794616846178")];

/// Records the new checksum of each reworded migration a database applied in its shipped
/// form; a checksum that is neither is left for the runner to refuse.
async fn record_rewordings(client: &tokio_postgres::Client) -> Result<u64, anyhow::Error> {
    let exists: bool = client.query_one("SELECT to_regclass('refinery_schema_history') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    let mut updated = 0;
    for migration in embedded::migrations::runner().get_migrations() {
        let Some((version, shipped)) = REWORDED.iter().find(|(v, _)| *v == migration.version()) else { continue };
        updated += client
            .execute(
                "UPDATE refinery_schema_history SET checksum = $1 WHERE version = $2 AND checksum = $3",
                &[&migration.checksum().to_string(), &i32::try_from(*version)?, shipped],
            )
            .await?;
    }
    Ok(updated)
}

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
    let reworded = record_rewordings(&client).await;
    let report = match reworded {
        Ok(_) => embedded::migrations::runner()
            .set_abort_divergent(true)
            .run_async(&mut client)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
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
