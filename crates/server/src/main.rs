//! `sitrep`: serve the API, apply migrations, bootstrap a first start, write the
//! OpenAPI document.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use sitrep_server::checkpoint::CheckpointSigner;
use sitrep_server::{Application, Settings, access_log, bootstrap, telemetry};

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
    /// account (printing its password once) if the database is new; create the signing
    /// keys (and the self-signed certificate) in the data folder if missing.
    Bootstrap,
    /// The access log: verify, sign a checkpoint, show the checkpoint key. (`audit` is
    /// its earlier name, still accepted.)
    #[command(name = "access-log", alias = "audit")]
    AccessLog {
        #[command(subcommand)]
        command: AccessLogCommand,
    },
    /// The access-token signing keys in auth.keys_dir: list, rotate, retire.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
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

#[derive(Subcommand)]
enum KeysCommand {
    /// Show every key, when it was made, and which one signs.
    List,
    /// Make a new key. Running servers load it within auth.tokens.key_reload_secs; it
    /// signs after auth.tokens.key_activation_secs. Old tokens keep verifying.
    Rotate,
    /// Take out of use the keys older than the signing key whose tokens have all expired.
    Retire,
}

#[derive(Subcommand)]
enum AccessLogCommand {
    /// Check the hash chain and the signed checkpoints of a database or an export file;
    /// name the first bad record. Exit 0: intact; 1: broken; 2: could not check.
    Verify {
        /// Verify this export (JSON Lines or CSV from GET /api/v1/access-log/export).
        #[arg(long, conflicts_with = "database_url")]
        file: Option<PathBuf>,
        /// Verify this database (default: database.url of the configuration).
        #[arg(long, env = "SITREP_VERIFY_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The checkpoint public key: base64, PEM, or a file holding either
        /// (GET /api/v1/access-log/checkpoint-key, or `sitrep access-log public-key`).
        #[arg(long)]
        public_key: Option<String>,
        /// Signed checkpoints kept outside the database (JSON page, array or lines, as
        /// GET /api/v1/access-log/checkpoints returns them); required to detect a cut
        /// tail in a file.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Worker threads that parse and hash the records of a file (default: one per
        /// core, at most 8; 1: none).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Sign the current chain head now (also done every access_log.checkpoint_interval_secs).
    Checkpoint,
    /// Print the checkpoint public key (base64 raw and PEM) and its key id.
    PublicKey,
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
    if let Command::AccessLog { command } = cli.command {
        return access_log_command(&settings, command).await;
    }
    if let Command::Keys { command } = cli.command {
        return keys(&settings, command);
    }
    telemetry::init(&settings.log);
    let result = match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Bootstrap => run_bootstrap(&settings).await,
        Command::Openapi { .. } | Command::AccessLog { .. } | Command::Keys { .. } => Ok(()),
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
fn keys(settings: &Settings, command: KeysCommand) -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let tokens = sitrep_auth::TokenService::from_dir(&settings.keys_dir(), settings.auth.tokens.clone())?;
        match command {
            KeysCommand::List => {}
            KeysCommand::Rotate => println!("made {}", tokens.rotate()?),
            KeysCommand::Retire => {
                for kid in tokens.retire_expired()? {
                    println!("retired {kid}");
                }
            }
        }
        for key in tokens.describe_keys() {
            let state = if key.signing { "signing" } else { "verifying" };
            println!("{}\t{}\t{state}", key.kid, key.created_at.to_rfc3339());
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
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
    let stopper = app.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        stopper.stop().await;
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
    let applied = sitrep_db::migrate::run(settings.migration_url()?.expose_secret()).await?;
    tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn run_bootstrap(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.migration_url()?.expose_secret().to_owned();
    sitrep_db::migrate::run(&url).await?;
    let pool = sitrep_db::pool(&url, &sitrep_db::PoolOptions { max_connections: 2, ..Default::default() })?;
    let hasher = sitrep_auth::PasswordHasher::new(&settings.auth.password)?;
    let done = bootstrap::run(&pool, &hasher).await?;
    sitrep_server::startup::prepare_data_dir(settings)?;
    if done.organisations_added > 0 {
        println!(
            "Seeded {} demo organisations and {} demo situation pictures.",
            done.organisations_added, done.pictures_added
        );
    }
    if let Some((username, password)) = done.first_account {
        println!();
        println!("First secretariat account (shown once; a one-time password: sign in and choose your own):");
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

/// `sitrep access-log …`; prints to standard output, messages to standard error.
#[allow(clippy::print_stdout)]
async fn access_log_command(settings: &Settings, command: AccessLogCommand) -> ExitCode {
    let fail = |e: anyhow::Error| {
        eprintln!("sitrep access-log: {e:#}");
        ExitCode::from(2)
    };
    match command {
        AccessLogCommand::Verify { file, database_url, public_key, checkpoints, quiet, threads } => {
            let key = match public_key {
                Some(k) => access_log::read_public_key(&k),
                None => CheckpointSigner::load(&settings.checkpoint_key_file())
                    .map(|s| s.public())
                    .and_then(|p| access_log::read_public_key(&p.public_key))
                    .map_err(|e| e.context("no --public-key given and no checkpoint key in the data folder")),
            };
            let key = match key {
                Ok(k) => k,
                Err(e) => return fail(e),
            };
            let extra = match checkpoints.as_deref().map(access_log::read_checkpoints).transpose() {
                Ok(c) => c.unwrap_or_default(),
                Err(e) => return fail(e),
            };
            let result = match file {
                Some(path) => access_log::verify_file_with(
                    &path,
                    &key,
                    extra,
                    !quiet,
                    threads.unwrap_or_else(access_log::default_threads).max(1),
                ),
                None => {
                    let url = match database_url {
                        Some(u) => u,
                        None => match settings.database_url() {
                            Ok(u) => u.expose_secret().to_owned(),
                            Err(e) => return fail(e),
                        },
                    };
                    access_log::verify_database(&url, &key, extra, !quiet).await
                }
            };
            match result {
                Ok(r) => {
                    println!(
                        "access log intact: {} records, last seq {}, head {}, {} signed checkpoints match",
                        r.records,
                        r.last_seq,
                        hex::encode(r.last_hash),
                        r.checkpoints
                    );
                    ExitCode::SUCCESS
                }
                Err(access_log::VerifyError::Broken(b)) => {
                    println!("access log BROKEN: {b}");
                    ExitCode::FAILURE
                }
                Err(access_log::VerifyError::Failed(e)) => fail(e),
            }
        }
        AccessLogCommand::Checkpoint => {
            let run = async {
                let signer = CheckpointSigner::load_or_create(&settings.checkpoint_key_file())?;
                let pool = sitrep_db::pool(
                    settings.database_url()?.expose_secret(),
                    &sitrep_db::PoolOptions { max_connections: 1, ..Default::default() },
                )?;
                // The head signed includes every record committed so far.
                sitrep_db::access_log::seal_all(&mut pool.get().await?).await?;
                signer.checkpoint(&pool, true).await
            };
            match run.await {
                Ok(Some(cp)) => {
                    println!("{}", serde_json::to_string(&cp).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("sitrep access-log: nothing to sign (empty log, or another process is signing now)");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        AccessLogCommand::PublicKey => match CheckpointSigner::load_or_create(&settings.checkpoint_key_file()) {
            Ok(signer) => {
                let public = signer.public();
                println!("key id: {}", public.key_id);
                println!("base64: {}", public.public_key);
                print!("{}", signer.public_pem().unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}
