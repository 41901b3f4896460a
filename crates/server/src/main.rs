//! `sitrep`: serve the API, apply migrations, bootstrap a first start, write the
//! OpenAPI document.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use sitrep_server::{Application, Settings, bootstrap, telemetry};

#[derive(Parser)]
#[command(name = "sitrep", version, about = "Secure situation-picture exchange for election security")]
struct Cli {
    /// A TOML configuration file (see deploy/sitrep.example.toml).
    #[arg(long, global = true, env = "SITREP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Apply migrations, seed the demo organisations and create the first secretariat
    /// account (printing its password once) if the database is new.
    Bootstrap,
    /// Write the OpenAPI document.
    Openapi {
        /// Where to write it; `-` for standard output.
        #[arg(long, default_value = "api-spec/openapi.json")]
        output: PathBuf,
        /// Exit with an error if the file differs instead of writing it.
        #[arg(long)]
        check: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi { output, check } = &cli.command {
        return openapi(output, *check);
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sitrep: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&settings.log);
    let result = match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Bootstrap => run_bootstrap(&settings).await,
        Command::Openapi { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sitrep failed");
            eprintln!("sitrep: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let app = Application::build(settings).await?;
    let scheme = if app.is_https() { "https" } else { "http" };
    let host = match listen.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    println!("Sitrep is serving on {scheme}://{host}:{}/ (API docs: /docs/)", app.port());
    let handle = app.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C): both stop gracefully.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let applied = sitrep_db::migrate::run(settings.database_url()?.expose_secret()).await?;
    tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn run_bootstrap(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url()?.expose_secret().to_owned();
    sitrep_db::migrate::run(&url).await?;
    let pool = sitrep_db::pool(&url, &sitrep_db::PoolOptions { max_connections: 2, ..Default::default() })?;
    let hasher = sitrep_auth::PasswordHasher::new(&settings.auth.password)?;
    let done = bootstrap::run(&pool, &hasher).await?;
    if done.organisations_added > 0 {
        println!(
            "Seeded {} demo organisations and {} demo situation pictures.",
            done.organisations_added, done.pictures_added
        );
    }
    if let Some((username, password)) = done.first_account {
        println!();
        println!("First secretariat account (shown once, keep it safe):");
        println!("  username: {username}");
        println!("  password: {password}");
        println!();
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn openapi(output: &std::path::Path, check: bool) -> ExitCode {
    let json = sitrep_api::docs::openapi_json();
    if output.as_os_str() == "-" {
        print!("{json}");
        return ExitCode::SUCCESS;
    }
    if check {
        let current = std::fs::read_to_string(output).unwrap_or_default();
        if current != json {
            eprintln!("sitrep: {} is out of date; run `sitrep openapi`", output.display());
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    match std::fs::write(output, json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sitrep: writing {}: {e}", output.display());
            ExitCode::FAILURE
        }
    }
}
