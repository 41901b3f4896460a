//! The deployment files are checked by the tools that read them, where they exist here.

use std::process::Command;

/// `systemd-analyze verify` accepts the unit without a warning (it exits 0 on parse
/// warnings, so its output is read too). The binary path is replaced by one that exists.
#[test]
fn the_systemd_unit_verifies_cleanly() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit is not checked on this machine");
        return;
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
