//! `sitrep audit …`: verify the access log of a database or an export file offline, sign
//! a checkpoint on demand, and (for benchmarks) append synthetic records.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use sitrep_db::audit::{AccessRecord, ActorType, Outcome};
use sitrep_db::chain::{Break, ChainVerifier, Report};
use sitrep_db::export::ExportReader;
use sitrep_types::{AccessLogCheckpoint, Page};
use uuid::Uuid;

/// Why a verification did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log is broken: the first bad record.
    #[error("{0}")]
    Broken(#[from] Break),
    /// The check could not be done (unreadable input, no database, bad key).
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

/// Reads a public key given as base64 (raw 32 bytes), a PEM text, or a file holding either.
pub fn read_public_key(arg: &str) -> anyhow::Result<VerifyingKey> {
    let text = if Path::new(arg).is_file() { std::fs::read_to_string(arg)? } else { arg.to_owned() };
    sitrep_db::chain::parse_public_key(&text)
        .ok_or_else(|| anyhow::anyhow!("not an Ed25519 public key (base64 of 32 bytes, or PEM)"))
}

/// Reads checkpoints saved from the API: a JSON page (`{"items": [...]}`), a JSON array,
/// or JSON Lines.
pub fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<AccessLogCheckpoint>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    if let Ok(page) = serde_json::from_str::<Page<AccessLogCheckpoint>>(&text) {
        return Ok(page.items);
    }
    if let Ok(list) = serde_json::from_str::<Vec<AccessLogCheckpoint>>(&text) {
        return Ok(list);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1)))
        .collect()
}

/// A progress line on standard error, only when it is a terminal.
struct Progress {
    on: bool,
    total: Option<u64>,
    started: Instant,
    shown: Instant,
}

impl Progress {
    fn new(enabled: bool, total: Option<u64>) -> Progress {
        let now = Instant::now();
        Progress { on: enabled && std::io::stderr().is_terminal(), total, started: now, shown: now }
    }

    fn show(&mut self, done: u64, force: bool) {
        if !self.on || (!force && self.shown.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.shown = Instant::now();
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let line = match self.total {
            Some(t) if t > 0 => {
                let width = 30;
                let filled = ((done.min(t) as f64 / t as f64) * width as f64) as usize;
                format!("\r[{}{}] {done}/{t} records ({:.0}/s) ", "#".repeat(filled), "-".repeat(width - filled), rate)
            }
            _ => format!("\r{done} records ({rate:.0}/s) "),
        };
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    fn done(&mut self, n: u64) {
        if self.on {
            self.show(n, true);
            eprintln!();
        }
    }
}

/// Verifies the log stored in the database at `url` from genesis, with its checkpoints
/// and any `extra` ones (a witness copy kept elsewhere).
pub async fn verify_database(
    url: &str,
    key: &VerifyingKey,
    extra: Vec<AccessLogCheckpoint>,
    progress: bool,
) -> Result<Report, VerifyError> {
    let pool = sitrep_db::pool(
        url,
        &sitrep_db::PoolOptions { max_connections: 1, statement_timeout: Duration::ZERO, ..Default::default() },
    )?;
    let client = pool.get().await.map_err(|e| anyhow::anyhow!("connecting: {e}"))?;
    // Checkpoints first: every one then names a record at or before the end of the scan.
    let mut checkpoints = sitrep_db::audit::all_checkpoints(&client).await.map_err(anyhow::Error::from)?;
    checkpoints.extend(extra);
    let mut scan = sitrep_db::audit::scan(&client, None, 5000).await.map_err(anyhow::Error::from)?;
    let mut verifier = ChainVerifier::new(key, checkpoints)?;
    let mut bar = Progress::new(progress, Some(scan.upto().max(0) as u64));
    let mut n = 0u64;
    loop {
        let batch = scan.next_batch().await.map_err(anyhow::Error::from)?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            verifier.push(e)?;
        }
        n += batch.len() as u64;
        bar.show(n, false);
    }
    bar.done(n);
    Ok(verifier.finish()?)
}

/// Verifies an export file (JSON Lines or CSV, as `GET /api/v1/access-log/export` wrote
/// it) against `checkpoints`.
pub fn verify_file(
    path: &Path,
    key: &VerifyingKey,
    checkpoints: Vec<AccessLogCheckpoint>,
    progress: bool,
) -> Result<Report, VerifyError> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
    verify_reader(BufReader::with_capacity(1 << 20, file), key, checkpoints, progress)
}

/// As `verify_file`, from any reader.
pub fn verify_reader(
    input: impl BufRead,
    key: &VerifyingKey,
    checkpoints: Vec<AccessLogCheckpoint>,
    progress: bool,
) -> Result<Report, VerifyError> {
    let mut verifier = ChainVerifier::new(key, checkpoints)?;
    let mut reader = ExportReader::new(input).map_err(anyhow::Error::from)?;
    let mut bar = Progress::new(progress, None);
    let mut n = 0u64;
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                return Err(Break {
                    seq: verifier_next(n),
                    kind: sitrep_db::chain::BreakKind::Format,
                    detail: format!("unreadable ({e})"),
                }
                .into());
            }
        };
        verifier.push(&entry)?;
        n += 1;
        if n.is_multiple_of(4096) {
            bar.show(n, false);
        }
    }
    bar.done(n);
    Ok(verifier.finish()?)
}

fn verifier_next(records_so_far: u64) -> i64 {
    records_so_far as i64 + 1
}

/// Appends `count` synthetic records to the chain, 20,000 per transaction by binary COPY
/// (`sitrep_db::audit::append_bulk`: the digest and link code of the writer and the
/// sealer). For seeding benchmarks.
pub async fn generate(url: &str, count: u64, progress: bool) -> anyhow::Result<()> {
    use rand::Rng;
    let pool = sitrep_db::pool(url, &sitrep_db::PoolOptions { max_connections: 1, ..Default::default() })?;
    let mut client = pool.get().await?;
    let actors: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
    let orgs: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let actions = ["me.view", "organisation.list", "user.view", "auth.login", "auth.refresh", "user.list"];
    let mut rng = rand::thread_rng();
    let mut bar = Progress::new(progress, Some(count));
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(20_000);
        let records: Vec<AccessRecord> = (0..n)
            .map(|_| {
                let actor = rng.gen_range(0..actors.len());
                let denied = rng.gen_ratio(1, 50);
                AccessRecord {
                    request_id: Uuid::now_v7().to_string(),
                    actor_type: ActorType::User,
                    actor_id: Some(actors[actor]),
                    actor_name: Some(format!("user{actor}")),
                    organisation_id: Some(orgs[actor % orgs.len()]),
                    membership_id: Some(Uuid::new_v4()),
                    roles: vec!["reader"],
                    action: actions[rng.gen_range(0..actions.len())].to_owned(),
                    object_type: Some("user"),
                    object_id: Some(actors[rng.gen_range(0..actors.len())].to_string()),
                    object_revision: None,
                    object_ids: None,
                    tier: None,
                    tlp: None,
                    outcome: if denied { Outcome::Denied } else { Outcome::Allowed },
                    reason: denied.then(|| "forbidden".to_owned()),
                    http_status: if denied { 403 } else { 200 },
                    client_addr: Some(std::net::IpAddr::from([10, 0, (actor / 250) as u8, (actor % 250) as u8])),
                }
            })
            .collect();
        sitrep_db::audit::append_bulk(&mut client, &records).await?;
        done += n;
        bar.show(done, false);
    }
    bar.done(done);
    Ok(())
}
