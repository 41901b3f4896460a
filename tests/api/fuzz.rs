//! A schemathesis run over the OpenAPI document against the real server: no `5xx`, no
//! response outside its documented schema or content type, and no internal text (SQL,
//! Rust panics, driver messages) in any body. `deploy/test` installs schemathesis (pinned)
//! into a virtual environment and names it in `SITREP_TEST_SCHEMATHESIS`; under `CI=true` the
//! test fails when it is missing, elsewhere it says so and passes.

use sitrep_types::Role;

use crate::helpers::TestApp;
use crate::helpers::pictures::{cast, content, published};

/// Operations that can take away the caller's own access.
const LOCK_OUT: [&str; 5] = ["update_user", "update_membership", "update_organisation", "update_policy", "reset_totp"];

/// Words that only internal errors would put in a body.
const INTERNAL: [&str; 8] = [
    "panicked",
    "tokio_postgres",
    "deadpool",
    "SQLSTATE",
    "syntax error at",
    "serde_json",
    "stack backtrace",
    "RUST_BACKTRACE",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_schema_violation_or_internal_text() {
    let Some(bin) = std::env::var_os("SITREP_TEST_SCHEMATHESIS") else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "CI needs schemathesis: deploy/test installs it");
        eprintln!("schemathesis not installed (deploy/test installs it): fuzz run skipped");
        return;
    };
    let app = TestApp::spawn_with(|s| {
        s.auth.login.per_address_per_minute = 100_000;
        s.delivery.worker = false;
    })
    .await;
    let cast = cast(&app).await;
    published(&app, &cast, &content("group", "AMBER")).await;
    let sec = app.seed_user("fuzz.secretariat", "S", &[Role::Secretariat]).await;
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    let cert = app.data_dir.join("tls/cert.pem");
    // Schemathesis feeds ids from responses (e.g. `/me`) into other operations, so the
    // operations that can lock the caller out (deactivate its user or organisation,
    // require TOTP, end its membership, reset its TOTP) run last, in a pass of their own.
    let own = |args: &mut Vec<String>, flag: &str| {
        for op in LOCK_OUT {
            args.extend([flag.to_owned(), op.to_owned()]);
        }
    };
    let mut passes = Vec::new();
    for (name, token) in [("secretariat", app.token(&sec).await), ("author", cast.author.clone())] {
        let mut args = Vec::new();
        own(&mut args, "--exclude-operation-id");
        passes.push((name, token, args, true));
    }
    let mut args = Vec::new();
    own(&mut args, "--include-operation-id");
    passes.push(("lock-out", app.token(&sec).await, args, false));
    for (name, token, selection, keeps_access) in passes {
        let report = app.data_dir.join(format!("schemathesis-{name}.ndjson"));
        let output = tokio::process::Command::new(&bin)
            .arg("run")
            .arg(&spec)
            .args(["--url", &app.address])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .arg("--tls-verify")
            .arg(&cert)
            .args(["--checks", "not_a_server_error,response_schema_conformance,content_type_conformance"])
            .args(["--phases", "examples,coverage,fuzzing", "--max-examples", "30", "--seed", "20261123"])
            .args(["--workers", "1", "--no-color", "--request-timeout", "10"])
            .args(["--generation-with-security-parameters", "false"])
            // An endless stream, and the operations that end the caller's own access.
            .args(["--exclude-path", "/api/v1/stream", "--exclude-path", "/api/v1/auth/logout"])
            .args(["--exclude-path", "/api/v1/signing-keys"])
            .args(&selection)
            .arg("--report-ndjson-path")
            .arg(&report)
            .env("NO_COLOR", "1")
            .output()
            .await
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "schemathesis ({name}) found failures:\n{stdout}\n{stderr}");
        let log = std::fs::read_to_string(&report).unwrap_or_default();
        for word in INTERNAL {
            assert!(!log.contains(word), "a response to the fuzz run ({name}) contains {word:?}");
        }
        let count = |status: &str| log.matches(&format!("\"status_code\":{status}")).count();
        let answered: usize = (200..600).map(|s| count(&s.to_string())).sum();
        assert!(answered > 200, "schemathesis ({name}) made {answered} requests");
        if keeps_access {
            let unauthenticated = count("401");
            assert!(
                unauthenticated * 10 < answered,
                "({name}) {unauthenticated} of {answered} answers were 401: the run lost its token"
            );
        }
    }
}
