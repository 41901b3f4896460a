//! `sitrep-seed-access-log --count N [--database-url URL]`: appends N synthetic records to
//! the access log of a benchmark's database (`DATABASE_URL` by default). Benchmarks only:
//! the records are made up, and a real log must never hold them.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Append synthetic records to a benchmark database's access log")]
struct Args {
    /// How many records to append.
    #[arg(long)]
    count: u64,
    /// The database (a benchmark's, never a real one).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match sitrep_bench_tools::seed_access_log(&args.database_url, args.count).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sitrep-seed-access-log: {e:#}");
            ExitCode::FAILURE
        }
    }
}
