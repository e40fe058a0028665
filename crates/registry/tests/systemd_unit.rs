//! The registry's systemd unit (`packaging/registry/skranke-registry.service`):
//! systemd itself finds nothing wrong with it (`systemd-analyze verify`,
//! which exits 0 on an unknown or misspelt directive, so any warning
//! fails here too), it keeps the hardening the deployment relies on, and
//! its `serve` command line is one this binary accepts.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/registry/skranke-registry.service")
}

/// `key=value` lines of the unit, in order (a key may repeat).
fn directives(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

#[test]
fn the_unit_is_hardened_and_runs_the_registry_as_its_own_user_with_a_state_directory() {
    let text = std::fs::read_to_string(unit_file()).unwrap();
    let all = directives(&text);
    let get = |k: &str| all.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    for (key, want) in [
        ("User", "skranke-registry"),
        ("Group", "skranke-registry"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("StateDirectory", "skranke-registry"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0077"),
    ] {
        assert_eq!(get(key), Some(want), "{key} in {}", unit_file().display());
    }
    let exec = get("ExecStart").expect("ExecStart");
    assert!(exec.split_whitespace().nth(1) == Some("serve"), "{exec}");
}

#[test]
fn systemd_analyze_verifies_the_unit_without_a_warning() {
    let text = std::fs::read_to_string(unit_file()).unwrap();
    let exec = directives(&text).into_iter().find(|(k, _)| k == "ExecStart").map(|(_, v)| v).unwrap();
    let installed = exec.split_whitespace().next().unwrap().to_owned();
    // systemd checks that ExecStart's program exists: the one just built
    // stands in for the installed binary, in a copy of the unit.
    let binary = env!("CARGO_BIN_EXE_skranke-registry");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("skranke-registry.service");
    std::fs::write(&copy, text.replace(&installed, binary)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("systemd-analyze (Debian package systemd) is installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze verify warned:\n{stderr}");

    // Every option on ExecStart is one `serve` takes.
    let help = Command::new(binary).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in exec.split_whitespace().filter(|w| w.starts_with("--")) {
        assert!(help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")), "serve has no {flag}");
    }
}
