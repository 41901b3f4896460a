//! The failover and restore drills (deploy/drill-failover, deploy/drill-restore), run as
//! they are shipped, on clusters of their own (three ports from SITREP_TEST_DRILL_PG_PORT), with short
//! load phases. Each script fails (non-zero exit) when a check of its own does not hold:
//! an answered write missing after a synchronous failover, a service that does not
//! recover without a restart, an access log that does not verify across the switch; a
//! write of before the restore point missing, one of after it present, the saved
//! checkpoints not matching the restored log as they should.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::helpers::process::sitrep_binary;

/// The first of three consecutive ports for the drills' clusters: SITREP_TEST_DRILL_PG_PORT,
/// else 13 above the test cluster's port (from the URL deploy/test exports).
fn drill_pg_port() -> u16 {
    if let Ok(port) = std::env::var("SITREP_TEST_DRILL_PG_PORT") {
        return port.parse().expect("SITREP_TEST_DRILL_PG_PORT: a port");
    }
    let url = std::env::var("SITREP_TEST_DATABASE_URL").expect("SITREP_TEST_DATABASE_URL (run through deploy/test)");
    let after_host = url.rsplit_once("127.0.0.1:").expect("a 127.0.0.1 URL").1;
    after_host.split('/').next().unwrap().parse::<u16>().unwrap() + 13
}

/// Two consecutive free loopback ports (the drills take a first port and the next).
fn two_free_ports() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn run_drill(script: &str, envs: &[(&str, String)]) -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(repo.join("deploy").join(script))
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BENCH_BINARY", sitrep_binary())
        .env_remove("BENCH_KEEP")
        .current_dir(repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("sitrep")).collect::<Vec<_>>().join("\n")
    );
    stdout
}

#[test]
fn no_answered_write_is_lost_when_the_primary_fails_under_synchronous_replication() {
    let summary = run_drill(
        "drill-failover",
        &[
            ("DRILL_MODES", "sync".into()),
            ("DRILL_PG_PORT", drill_pg_port().to_string()),
            ("DRILL_PORT", two_free_ports().to_string()),
            ("DRILL_LOAD_SECONDS", "4".into()),
            ("DRILL_AFTER_SECONDS", "4".into()),
        ],
    );
    let row = summary.lines().find(|l| l.starts_with("| sync |")).expect("the summary's row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert!(cells[2].parse::<u64>().unwrap() > 0, "no write was answered: {row}");
    assert_eq!(cells[3], "0", "answered writes missing: {row}");
    assert_eq!((cells[7], cells[8]), ("yes", "yes"), "recovery and verify: {row}");
}

#[test]
fn a_point_in_time_restore_holds_the_writes_before_the_restore_point_and_a_log_that_verifies() {
    let summary = run_drill(
        "drill-restore",
        &[
            ("DRILL_PG_PORT", (drill_pg_port() + 2).to_string()),
            ("DRILL_PORT", two_free_ports().to_string()),
            ("DRILL_WRITES", "5".into()),
        ],
    );
    let checks: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| check") && !l.starts_with("| ---"))
        .collect();
    assert_eq!(checks.len(), 6, "{summary}");
    assert!(checks.iter().all(|l| l.contains("| yes |")), "{summary}");
}
