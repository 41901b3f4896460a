//! A real `sitrep serve` process for the tests that need one (memory, signals, crashes):
//! the built binary, a process with its log, a database seeded for it, and a check that
//! its access-log chain is intact.

use crate::helpers::{TestApp, as_service_role};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The `sitrep` binary of this build. The tests are a package of their own, so Cargo
/// gives them no `CARGO_BIN_EXE_sitrep`: build it (a no-op when it is up to date) with the
/// Cargo running the tests, in the profile of this test binary, and take the path Cargo
/// reports. `SITREP_TEST_BINARY` names a prebuilt one instead.
pub fn sitrep_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("SITREP_TEST_BINARY") {
            return PathBuf::from(path);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-p", "sitrep-server", "--bin", "sitrep", "--message-format=json-render-diagnostics"]);
        // target/<profile>/deps/api-<hash>: build the binary in the same profile.
        let exe = std::env::current_exe().unwrap();
        if exe.parent().and_then(Path::parent).and_then(Path::file_name).is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let out = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).stderr(Stdio::inherit()).output().unwrap();
        assert!(out.status.success(), "cargo build -p sitrep-server --bin sitrep failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "sitrep")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the sitrep executable")
    })
}

/// One `sitrep serve` process on the test app's database, sharing its data folder (its
/// signing keys, checkpoint key and certificate), as processes behind one balancer do.
pub struct Process {
    child: Child,
    pub address: String,
    /// Everything the process wrote to standard error (its log), line by line.
    log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub async fn start(app: &TestApp, env: &[(&str, String)]) -> Process {
        let mut cmd = Command::new(sitrep_binary());
        cmd.arg("serve")
            .env_remove("RUST_LOG")
            .env("SITREP_LISTEN", "127.0.0.1:0")
            .env("SITREP_DATA_DIR", &app.data_dir)
            .env("DATABASE_URL", as_service_role(&app.db_url))
            .env("SITREP_DATABASE__MIGRATION_URL", &app.db_url)
            .env("SITREP_DATABASE__MAX_CONNECTIONS", "8")
            .env("SITREP_ACCESS_LOG__CHECKPOINT_INTERVAL_SECS", "0")
            .env("SITREP_HTTP__WORKERS", "2")
            .env("SITREP_LOG__FORMAT", "json")
            .env("SITREP_LOG__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = stdout.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("Sitrep is serving on ") {
                    return rest.split('/').take(3).collect::<Vec<_>>().join("/");
                }
            }
            String::new()
        })
        .await;
        let address = match started {
            Ok(a) if !a.is_empty() => a,
            _ => panic!("sitrep serve did not start: {:?}", log.lock().unwrap()),
        };
        // Keep draining standard output so the process never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Process { child, address, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("process still running")
    }

    /// Sends SIGKILL: the process dies at once, mid-request, as in a power cut of the
    /// machine or the OOM killer.
    pub fn kill_9(&self) {
        let pid = self.child.id().expect("process still running");
        let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM, as systemd, a container runtime or Ctrl-C would.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("process still running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(status.success());
    }

    pub async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("the process did not exit within {limit:?}: {:?}", self.log.lock().unwrap()),
        }
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// `sitrep access-log verify` on the test database says the access log is intact.
pub fn assert_chain_intact(app: &TestApp) {
    let verify = std::process::Command::new(sitrep_binary())
        .args(["access-log", "verify", "--quiet", "--database-url", &app.db_url])
        .env("SITREP_DATA_DIR", &app.data_dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{said}{}", String::from_utf8_lossy(&verify.stderr));
    assert!(said.starts_with("access log intact:"), "{said}");
}

/// The test app seeds and signs tokens; its own server runs no delivery worker, so the
/// processes' workers are the only ones.
pub async fn seeding_app() -> TestApp {
    TestApp::spawn_with(|s| s.delivery.worker = false).await
}
