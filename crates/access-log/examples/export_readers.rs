//! How fast the export readers are, against well-kept crates doing the same job:
//! `cargo run --release -p sitrep-access-log --example export_readers [RECORDS]`.
//!
//! One in-memory export of RECORDS (default 1,000,000) records shaped like a real log's
//! (the benchmarks' synthetic records) in JSON Lines and in CSV, read three times each way;
//! the best run is printed. The ways:
//! - JSON Lines: the hand-written reader (`RecordReader`, straight into a reused `Record`)
//!   against `serde_json` (each line into an `AccessLogEntry`, then into a `Record`, as the
//!   verifier needs it);
//! - CSV: the hand-written reader against the `csv` crate splitting the same bytes into
//!   fields (splitting only: it cannot read the format, which tells an absent value, an
//!   empty unquoted field, from an empty text, `""`, and the crate does not say whether a
//!   field was quoted).
//!
//! docs/benchmarks.md ("The access log's export readers") has the figures.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sitrep_access_log::chain::Record;
use sitrep_access_log::export::{RecordReader, csv_header, csv_line, jsonl_line};
use sitrep_types::AccessLogEntry;
use uuid::Uuid;

fn entries(n: u64) -> Vec<AccessLogEntry> {
    let at: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let actions = ["me.view", "organisation.list", "user.view", "auth.login", "picture.view", "picture.list"];
    (0..n)
        .map(|i| {
            let denied = i % 50 == 0;
            AccessLogEntry {
                seq: i64::try_from(i).unwrap_or(i64::MAX) + 1,
                at: at + chrono::Duration::microseconds(i64::try_from(i * 1237).unwrap_or(0)),
                request_id: Uuid::from_u128(u128::from(i) << 64 | 0x7000).to_string(),
                actor_type: "user".into(),
                actor_id: Some(Uuid::from_u128(u128::from(i % 1000) + 1)),
                actor_name: Some(format!("user{}", i % 1000)),
                organisation_id: Some(Uuid::from_u128(u128::from(i % 20) + 7)),
                membership_id: Some(Uuid::from_u128(u128::from(i) + 99)),
                roles: vec!["reader".into()],
                action: actions[usize::try_from(i).unwrap_or(0) % actions.len()].into(),
                object_type: Some("user".into()),
                object_id: Some(Uuid::from_u128(u128::from(i % 997)).to_string()),
                object_revision: None,
                object_ids: (i % 7 == 0).then(|| vec![Uuid::from_u128(u128::from(i)), Uuid::from_u128(3)]),
                tier: None,
                tlp: None,
                outcome: if denied { "denied" } else { "allowed" }.into(),
                reason: denied.then(|| "forbidden".into()),
                http_status: if denied { 403 } else { 200 },
                client_addr: Some(format!("10.0.{}.{}", i % 250, i % 7)),
                prev_hash: format!("{:064x}", u128::from(i) * 31),
                hash: format!("{:064x}", u128::from(i + 1) * 31),
            }
        })
        .collect()
}

/// The best of three runs of `f`, which returns how many records it read.
fn best(name: &str, bytes: usize, expected: u64, mut f: impl FnMut() -> u64) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let n = f();
        let took = t.elapsed();
        assert_eq!(n, expected, "{name} read {n} records");
        best = best.min(took);
    }
    let secs = best.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let (rate, mb) = (expected as f64 / secs, bytes as f64 / 1e6 / secs);
    eprintln!("{name:<44} {secs:>7.3} s  {rate:>12.0} records/s  {mb:>7.0} MB/s");
    best
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let entries = entries(n);
    let mut jsonl = String::new();
    let mut csv = csv_header();
    for e in &entries {
        jsonl.push_str(&jsonl_line(e).unwrap_or_default());
        csv.push_str(&csv_line(e).unwrap_or_default());
    }
    drop(entries);
    eprintln!("{n} records: JSON Lines {} MB, CSV {} MB", jsonl.len() / 1_000_000, csv.len() / 1_000_000);

    let hand_json = best("JSON Lines, hand-written reader", jsonl.len(), n, || {
        let mut reader = RecordReader::new(jsonl.as_bytes()).unwrap_or_else(|e| panic!("{}", e.message));
        let mut r = Record::default();
        let mut count = 0;
        while reader.next_record(&mut r).unwrap_or_else(|e| panic!("{}", e.message)) {
            count += 1;
        }
        count
    });
    let serde_json_time = best("JSON Lines, serde_json + Record::from_entry", jsonl.len(), n, || {
        let mut count = 0;
        for line in jsonl.lines() {
            let e: AccessLogEntry = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            std::hint::black_box(Record::from_entry(&e));
            count += 1;
        }
        count
    });
    let hand_csv = best("CSV, hand-written reader", csv.len(), n, || {
        let mut reader = RecordReader::new(csv.as_bytes()).unwrap_or_else(|e| panic!("{}", e.message));
        let mut r = Record::default();
        let mut count = 0;
        while reader.next_record(&mut r).unwrap_or_else(|e| panic!("{}", e.message)) {
            count += 1;
        }
        count
    });
    let csv_crate = best("CSV, csv crate (fields split only)", csv.len(), n, || {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv.as_bytes());
        let mut record = csv::ByteRecord::new();
        let mut count = 0;
        while reader.read_byte_record(&mut record).unwrap_or_else(|e| panic!("{e}")) {
            std::hint::black_box(record.iter().map(<[u8]>::len).sum::<usize>());
            count += 1;
        }
        count
    });
    eprintln!(
        "hand-written / crate time: JSON Lines {:.2}, CSV {:.2}",
        hand_json.as_secs_f64() / serde_json_time.as_secs_f64(),
        hand_csv.as_secs_f64() / csv_crate.as_secs_f64()
    );
}
