//! The deployment files are checked by the tools that read them. `deploy/test` installs
//! those tools when they are missing (systemd-analyze from `systemd`, PyYAML from
//! `python3-yaml`); under `CI=true` a missing one fails the test, elsewhere the test says
//! so and checks what it can without it.

use std::process::Command;

/// A tool the test needs is missing: a failure under `CI=true`, a note elsewhere.
fn missing(what: &str, so: &str) {
    assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "CI needs {what}: deploy/test installs it");
    eprintln!("{what} is not installed: {so}");
}

/// `systemd-analyze verify` accepts the unit without a warning (it exits 0 on parse
/// warnings, so its output is read too). The binary path is replaced by one that exists.
#[test]
fn the_systemd_unit_verifies_cleanly() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        return missing("systemd-analyze (Debian package systemd)", "the unit is not checked on this machine");
    };
    assert!(version.status.success());
    let unit = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sitrep.service"))
        .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/sitrep "));
    let dir = std::env::temp_dir().join(format!("sitrep-unit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sitrep.service");
    std::fs::write(&path, unit.replace("ExecStart=/usr/local/bin/sitrep ", "ExecStart=/bin/true ")).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{text}");
    let problems: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sitrep.service"))
        .filter(|l| ["ignoring", "Unknown", "Failed", "not safe", "Invalid"].iter().any(|w| l.contains(w)))
        .collect();
    assert!(problems.is_empty(), "systemd-analyze: {problems:?}");
}

fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(name)).unwrap()
}

/// The container image: two stages, the runtime one unprivileged and without a shell,
/// nothing fetched at build time but the locked crates, the build itself offline.
#[test]
fn the_containerfile_builds_in_two_stages_offline_and_runs_unprivileged() {
    let text = deploy_file("Containerfile");
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let stages: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].ends_with(" AS build") && stages[1].ends_with(" AS runtime"), "{stages:?}");
    // A registry build runs on distroless; deploy/image passes its own bases (and builds
    // and runs the image for real: deploy/image-test).
    assert!(text.contains("ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot"));
    let runtime = &lines[lines.iter().position(|l| l.starts_with("FROM ") && l.ends_with(" AS runtime")).unwrap()..];
    let user = runtime.iter().filter_map(|l| l.strip_prefix("USER ")).next_back().expect("a USER in the runtime stage");
    assert!(!["root", "0", "0:0"].contains(&user.trim()), "USER {user}");
    assert!(!runtime.iter().any(|l| l.starts_with("RUN ")), "nothing runs in the runtime stage (it has no shell)");
    assert!(text.contains("cargo fetch --locked"));
    assert!(text.contains("cargo build --profile \"$PROFILE\" --frozen"), "the build is offline");
    assert!(text.contains("ARG PROFILE=release"));
    for banned in ["curl", "wget", "| sh", "|sh", "apt-get", "ADD http"] {
        assert!(!text.contains(banned), "{banned} in the Containerfile");
    }
    assert!(runtime.iter().any(|l| l.starts_with("ENTRYPOINT [\"/usr/local/bin/sitrep\"]")));
    // Keys, certificates, build output and the local cluster never reach the builder.
    let ignore = deploy_file("Containerfile.dockerignore");
    for entry in ["target", ".local", ".git", "**/*.pem", "**/*.key"] {
        assert!(ignore.lines().any(|l| l.trim() == entry), "{entry} not ignored");
    }
}

/// The compose file: parsed as YAML (python3 with PyYAML, where present) and checked for
/// what it must hold; `docker compose config` too, where the compose plugin exists.
#[test]
fn the_compose_file_has_postgres_a_migration_two_processes_and_a_balancer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let env = [("SITREP_DB_OWNER_PASSWORD", "owner-test"), ("SITREP_DB_APP_PASSWORD", "app-test")];
    if let Ok(out) = Command::new("docker").args(["compose", "version"]).output()
        && out.status.success()
    {
        let out = Command::new("docker")
            .args(["compose", "-f", "compose.yaml", "config", "-q"])
            .current_dir(&dir)
            .envs(env)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    } else {
        eprintln!("docker compose is not installed: the compose file is checked structurally only");
    }
    let script = r#"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
s = d["services"]
assert set(s) >= {"postgres", "migrate", "app-role", "sitrep-1", "sitrep-2", "balancer"}, sorted(s)
for name in ("sitrep-1", "sitrep-2", "migrate"):
    x = s[name]
    assert x["image"] == "localhost/sitrep:latest" and x["build"]["dockerfile"] == "deploy/Containerfile", name
    assert x["read_only"] is True and x["cap_drop"] == ["ALL"], name
    assert "sitrep-data:/var/lib/sitrep" in x["volumes"], name
    e = x["environment"]
    assert e["SITREP_LOG__FORMAT"] == "json" and e["SITREP_TLS__MODE"] == "files", name
    assert e["DATABASE_URL"].startswith("postgres://sitrep_app:"), name
    assert "ports" not in x, name + " is reached through the balancer only"
for name in ("sitrep-1", "sitrep-2"):
    x = s[name]
    assert x["command"] == ["serve"] and x["stop_signal"] == "SIGTERM", name
    assert x["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
assert s["migrate"]["command"] == ["bootstrap"]
assert "ports" not in s["postgres"] and s["postgres"]["networks"] == ["backend"]
assert d["networks"]["backend"]["internal"] is True
b = s["balancer"]
assert b["ports"] == ["${SITREP_PUBLISH:-127.0.0.1:8443}:8443"], b["ports"]
assert b["environment"] == {"SITREP_BIND": ":8443", "SITREP_BACKEND_1": "sitrep-1:8443", "SITREP_BACKEND_2": "sitrep-2:8443"}, b["environment"]
addr = b["networks"]["app"]["ipv4_address"]
assert s["sitrep-1"]["environment"]["SITREP_HTTP__TRUSTED_PROXIES"] == '["%s"]' % addr
print("ok")
"#;
    match Command::new("python3").args(["-c", "import yaml"]).output() {
        Ok(out) if out.status.success() => {
            let out = Command::new("python3").args(["-c", script]).arg(dir.join("compose.yaml")).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        _ => missing("python3 with PyYAML (Debian package python3-yaml)", "the compose file is checked as text only"),
    }
    let text = deploy_file("compose.yaml");
    for needle in ["service_completed_successfully", "stop_signal: SIGTERM", "SITREP_HTTP__TRUSTED_PROXIES"] {
        assert!(text.contains(needle), "{needle}");
    }
    // The balancer: TLS in front, verified TLS to each process, health checks, the client
    // address passed on (and a client's own claim dropped).
    let haproxy = deploy_file("compose/haproxy.cfg");
    for needle in [
        "bind \"${SITREP_BIND}\" ssl crt",
        "http-request del-header X-Forwarded-For",
        "option forwardfor",
        "option httpchk GET /health/ready",
        "ssl verify required ca-file",
        "server sitrep-1 \"${SITREP_BACKEND_1}\"",
        "server sitrep-2 \"${SITREP_BACKEND_2}\"",
    ] {
        assert!(haproxy.contains(needle), "{needle} missing from haproxy.cfg");
    }
    assert!(!haproxy.contains("verify none"));
}
