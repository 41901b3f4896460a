//! `sitrep access-log …`: verify the access log of a database or an export file offline, sign
//! a checkpoint on demand, and (for benchmarks) append synthetic records.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use sitrep_access_log::chain::{Break, BreakKind, ChainVerifier, Linked, Record, Report};
use sitrep_access_log::export::{Block, Parser, ReadError, RecordReader};
use sitrep_db::access_log::scan::ScanError;
use sitrep_types::{AccessLogCheckpoint, Page};

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
    sitrep_access_log::chain::parse_public_key(&text)
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
                // A share of 0..=1 of the width: the float-to-int `as` is exact enough and
                // cannot overflow.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
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

/// Records per `COPY` statement when verifying a database: each range is one short
/// statement, so no snapshot is held for the length of the check.
const COPY_BATCH: i64 = 50_000;

/// Verifies the log stored in the database at `url` from genesis, with its checkpoints
/// and any `extra` ones (a witness copy kept elsewhere).
pub async fn verify_database(
    url: &str,
    key: &VerifyingKey,
    extra: Vec<AccessLogCheckpoint>,
    progress: bool,
) -> Result<Report, VerifyError> {
    // One thread of its own runs both the connection and the checks: on a multi-threaded
    // runtime, every batch of rows read by the connection task woke the checking task on
    // another thread, and those switches cost more CPU than the checks themselves.
    let (url, key) = (url.to_owned(), *key);
    tokio::task::spawn_blocking(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(anyhow::Error::from)?;
        runtime.block_on(verify_database_on_this_thread(&url, &key, extra, progress))
    })
    .await
    .map_err(|e| anyhow::anyhow!("the verifier thread failed: {e}"))?
}

async fn verify_database_on_this_thread(
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
    let mut checkpoints = sitrep_db::access_log::all_checkpoints(&client).await.map_err(anyhow::Error::from)?;
    checkpoints.extend(extra);
    let upto = sitrep_db::access_log::last_seq(&client).await.map_err(anyhow::Error::from)?;
    let mut verifier = ChainVerifier::new(key, checkpoints)?;
    let mut bar = Progress::new(progress, Some(upto.max(0) as u64));
    let mut n = 0u64;
    let mut scratch = Vec::with_capacity(1024);
    let scanned = sitrep_db::access_log::scan::for_each_record(&client, upto, COPY_BATCH, |record| {
        verifier.push_record(record, &mut scratch)?;
        n += 1;
        if n.is_multiple_of(4096) {
            bar.show(n, false);
        }
        Ok::<(), Break>(())
    })
    .await;
    match scanned {
        Ok(()) => {}
        Err(ScanError::Stopped(b)) => return Err(b.into()),
        Err(e) => return Err(anyhow::Error::from(e).into()),
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
    verify_file_with(path, key, checkpoints, progress, default_threads())
}

/// As `verify_file`, hashing on `threads` worker threads (1: none).
pub fn verify_file_with(
    path: &Path,
    key: &VerifyingKey,
    checkpoints: Vec<AccessLogCheckpoint>,
    progress: bool,
    threads: usize,
) -> Result<Report, VerifyError> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
    verify_reader(file, key, checkpoints, progress, threads)
}

/// As `verify_file`, from any reader (it is read in large blocks: no need to buffer it).
/// With more than one core, records are parsed and hashed on worker threads, each from
/// its own stored `prev_hash`; the checks that need the record before (`seq`, the link,
/// time, checkpoints) run in order on this thread, so the first bad record is named
/// exactly as with one thread.
pub fn verify_reader(
    input: impl Read + Send,
    key: &VerifyingKey,
    checkpoints: Vec<AccessLogCheckpoint>,
    progress: bool,
    threads: usize,
) -> Result<Report, VerifyError> {
    let mut verifier = ChainVerifier::new(key, checkpoints)?;
    let reader = RecordReader::new(input).map_err(anyhow::Error::from)?;
    let mut bar = Progress::new(progress, None);
    let n = if threads > 1 {
        verify_parallel(reader, &mut verifier, threads, &mut bar)?
    } else {
        verify_sequential(reader, &mut verifier, &mut bar)?
    };
    bar.done(n);
    Ok(verifier.finish()?)
}

/// Worker threads for hashing by default: one per core, at most 8.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

fn unreadable(verifier: &ChainVerifier, e: ReadError) -> VerifyError {
    Break { seq: verifier.expected_seq(), kind: BreakKind::Format, detail: format!("unreadable ({e})") }.into()
}

fn verify_sequential(
    mut reader: RecordReader<impl Read>,
    verifier: &mut ChainVerifier,
    bar: &mut Progress,
) -> Result<u64, VerifyError> {
    let mut record = Record::default();
    let mut scratch = Vec::with_capacity(1024);
    let mut n = 0u64;
    loop {
        match reader.next_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(n),
            Err(e) => return Err(unreadable(verifier, e)),
        }
        verifier.push_record(&record, &mut scratch)?;
        n += 1;
        if n.is_multiple_of(4096) {
            bar.show(n, false);
        }
    }
}

/// Records per block handed to a worker.
const BLOCK_RECORDS: usize = 1024;

/// A reader thread cuts the input into blocks of whole records, `threads` workers parse
/// and hash them, and this thread checks the results in input order. At most
/// `4 × threads` blocks are in flight: each is a buffer that goes round (reader, worker,
/// this thread, back to the reader with the vector of its results), so memory stays flat
/// and no block is allocated, faulted in and freed again per 1,024 records. When a check
/// fails, this thread returns: dropping the channels ends the workers and the reader.
fn verify_parallel<R: Read + Send>(
    mut reader: RecordReader<R>,
    verifier: &mut ChainVerifier,
    threads: usize,
    bar: &mut Progress,
) -> Result<u64, VerifyError> {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex, mpsc};

    type Buffers = (Block, Vec<Linked>);
    type Done = (u64, Buffers, Option<ReadError>);
    let in_flight = threads * 4;
    let (free_tx, free_rx) = mpsc::sync_channel::<Buffers>(in_flight);
    for _ in 0..in_flight {
        let _ = free_tx.send((Block::default(), Vec::with_capacity(BLOCK_RECORDS)));
    }
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Buffers)>(in_flight);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<Done>(in_flight);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut index = 0;
            while let Ok((mut block, linked)) = free_rx.recv() {
                reader.next_block(&mut block, BLOCK_RECORDS);
                let last = block.is_last();
                if job_tx.send((index, (block, linked))).is_err() || last {
                    return;
                }
                index += 1;
            }
        });
        for _ in 0..threads {
            let (job_rx, done_tx) = (Arc::clone(&job_rx), done_tx.clone());
            s.spawn(move || {
                let mut parser = Parser::default();
                let mut record = Record::default();
                let mut scratch = Vec::with_capacity(1024);
                loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((index, (block, mut linked))) = job else { return };
                    linked.clear();
                    let result = block.parse_each(&mut parser, &mut record, |r| linked.push(r.linked(&mut scratch)));
                    if done_tx.send((index, (block, linked), result.err())).is_err() {
                        return;
                    }
                }
            });
        }
        drop((job_rx, done_tx));
        // Moved in, so that returning early drops them and the threads stop.
        let (done_rx, free_tx) = (done_rx, free_tx);
        let mut pending: BTreeMap<u64, (Buffers, Option<ReadError>)> = BTreeMap::new();
        let mut next = 0u64;
        let mut n = 0u64;
        loop {
            let Some((buffers, error)) = pending.remove(&next) else {
                match done_rx.recv() {
                    Ok((index, buffers, error)) => {
                        pending.insert(index, (buffers, error));
                        continue;
                    }
                    Err(_) if pending.is_empty() => return Ok(n),
                    Err(_) => return Err(anyhow::anyhow!("a verifier thread stopped").into()),
                }
            };
            next += 1;
            for l in &buffers.1 {
                verifier.push_linked(l)?;
            }
            n += buffers.1.len() as u64;
            if let Some(e) = error {
                return Err(unreadable(verifier, e));
            }
            bar.show(n, false);
            let _ = free_tx.send(buffers);
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use sitrep_access_log::chain::{GENESIS, entry_hash, parse_hash};
    use sitrep_access_log::export::{csv_header, csv_line, jsonl_line};
    use sitrep_types::AccessLogEntry;
    use uuid::Uuid;

    fn chain(n: i64) -> Vec<AccessLogEntry> {
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z").unwrap().to_utc();
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut e = AccessLogEntry {
                    seq,
                    at: start + chrono::Duration::microseconds(seq * 7),
                    request_id: format!("r{seq}"),
                    actor_type: "user".into(),
                    actor_id: Some(Uuid::from_u128(seq as u128)),
                    actor_name: Some(format!("user \"{seq}\"\n")),
                    organisation_id: None,
                    membership_id: None,
                    roles: vec!["reader".into()],
                    action: "me.view".into(),
                    object_type: None,
                    object_id: None,
                    object_revision: None,
                    object_ids: (seq % 3 == 0).then(Vec::new),
                    tier: None,
                    tlp: None,
                    outcome: "allowed".into(),
                    reason: None,
                    http_status: 200,
                    client_addr: Some("::1".into()),
                    prev_hash: hex::encode(prev),
                    hash: String::new(),
                };
                e.hash = hex::encode(entry_hash(&prev, &e));
                prev = parse_hash(&e.hash).unwrap();
                e
            })
            .collect()
    }

    /// The outcome with `threads` workers, as (records, or the break's seq, kind and detail).
    fn outcome(text: &str, threads: usize) -> Result<u64, (i64, BreakKind, String)> {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        match verify_reader(text.as_bytes(), &key, vec![], false, threads) {
            Ok(report) => Ok(report.records),
            Err(VerifyError::Broken(b)) => Err((b.seq, b.kind, b.detail)),
            Err(VerifyError::Failed(e)) => panic!("{e:#}"),
        }
    }

    #[test]
    fn worker_threads_name_the_same_first_bad_record_as_one_thread_across_blocks() {
        let es = chain(3 * BLOCK_RECORDS as i64 + 10);
        let far = 2 * BLOCK_RECORDS + 17;
        let mut cases: Vec<Vec<AccessLogEntry>> = vec![es.clone()];
        let mut changed = es.clone();
        changed[far].actor_name = Some("changed".into());
        cases.push(changed);
        let mut removed = es.clone();
        removed.remove(far);
        cases.push(removed);
        let mut swapped = es.clone();
        swapped.swap(far, far + 1);
        cases.push(swapped);
        let mut earlier = es.clone();
        earlier[far].at = earlier[far - 1].at - chrono::Duration::microseconds(1);
        cases.push(earlier);
        for (case, es) in cases.into_iter().enumerate() {
            let jsonl: String = es.iter().map(|e| jsonl_line(e).unwrap()).collect();
            let csv = csv_header() + &es.iter().map(|e| csv_line(e).unwrap()).collect::<String>();
            // Unreadable in a later block than a (possible) break: the break comes first.
            let unreadable = format!("{}{{\"seq\":\n", jsonl);
            for text in [jsonl, csv, unreadable] {
                let one = outcome(&text, 1);
                let bad_seq = if case == 0 { es.len() as i64 + 1 } else { far as i64 + 1 };
                assert!(matches!(&one, Err((seq, ..)) if *seq == bad_seq) || (case == 0 && one.is_ok()), "{one:?}");
                for threads in [2, 3, 8] {
                    assert_eq!(outcome(&text, threads), one, "{threads} threads");
                }
            }
        }
        let text: String = es.iter().map(|e| jsonl_line(e).unwrap()).collect();
        assert_eq!(outcome(&text, 4), Ok(es.len() as u64));
    }
}
