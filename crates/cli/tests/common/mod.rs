//! What the CLI tests share: running the real `skranke` binary with an
//! environment that holds nothing of the caller's `SKRANKE_*` settings, and
//! reading what it answered. Each test file pulls this in with `mod common;`
//! and uses only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use skranke_core::credentials::ALPHABET;

/// `skranke` with its environment cleared of every `SKRANKE_*` variable.
fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skranke"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SKRANKE_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Starts `cmd`, writes `stdin` and closes it, and waits for the answer.
/// A command may stop reading early (at its input limit): a closed pipe is
/// its right, not a test failure.
fn finish(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd.spawn().expect("skranke starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Err(e) = pipe.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(pipe);
    child.wait_with_output().expect("skranke finishes")
}

/// A command that needs no desk (`cpr check`, `mrz parse`, `applicant check`),
/// in the language it is told (Danish unless `--lang` says otherwise).
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    finish(cmd, stdin)
}

/// A command against the desk in `dir`, in English, with `env` added (staff
/// name and passwords, printer overrides).
pub fn at_desk(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = command();
    cmd.args(["--lang", "en"]).args(args).env("SKRANKE_DATA_DIR", dir).envs(env.iter().copied());
    finish(cmd, stdin)
}

/// Standard output and standard error as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Standard output of a command that must have succeeded (exit 0).
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{:?}", text(o));
    text(o).0
}

/// The JSON a command printed on success (exit 0).
#[track_caller]
pub fn ok_json(o: &Output) -> Value {
    let out = ok(o);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Standard error of a command that must have been refused (exit 1).
#[track_caller]
pub fn refused(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{:?}", text(o));
    text(o).1
}

/// The admin of [`training_desk`].
pub const ADMIN: &str = "Ada";

/// A training desk in `dir` (municipality 101, Borgerservice Nord, desk 3)
/// made through the binary as IT staff would: admin [`ADMIN`] with
/// `admin_password`, then each setting of `settings` and each staff member
/// of `staff` (name, role) with `staff_password`. Returns the desk ID.
pub fn training_desk(
    dir: &Path,
    admin_password: &str,
    settings: &[(&str, &str)],
    staff: &[(&str, &str)],
    staff_password: &str,
) -> String {
    let init = ["desk", "init", "--municipality", "101", "--office", "Borgerservice Nord", "--desk", "3"];
    let admin_only = [("SKRANKE_STAFF_PASSWORD", admin_password)];
    ok(&at_desk(dir, &[&init[..], &["--training", "--admin", ADMIN]].concat(), &admin_only, b""));
    let admin = [("SKRANKE_STAFF", ADMIN), ("SKRANKE_STAFF_PASSWORD", admin_password)];
    for (key, value) in settings {
        ok(&at_desk(dir, &["settings", "set", key, value], &admin, b""));
    }
    for (name, role) in staff {
        let env = [admin[0], admin[1], ("SKRANKE_NEW_STAFF_PASSWORD", staff_password)];
        ok(&at_desk(dir, &["staff", "add", name, "--role", role], &env, b""));
    }
    let desk: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("desk.json")).expect("desk.json"))
        .expect("desk.json is JSON");
    desk["desk_id"].as_str().expect("desk_id").to_string()
}

/// The text of a PDF as poppler's `pdftotext` reads it, words separated by
/// single spaces.
pub fn pdftotext(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pdftotext (poppler-utils) is installed");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext could not read the PDF");
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The one password on a handout: four groups of four characters of the
/// credentials alphabet, in a row.
pub fn password_in(text: &str) -> String {
    let is_group = |w: &&str| w.len() == 4 && w.bytes().all(|b| ALPHABET.contains(&b));
    let words: Vec<&str> = text.split(' ').collect();
    let found: Vec<String> = words.windows(4).filter(|w| w.iter().all(is_group)).map(|w| w.join(" ")).collect();
    assert_eq!(found.len(), 1, "expected exactly one password on the handout, found {found:?} in:\n{text}");
    found.into_iter().next().unwrap()
}

/// The Jobnet username on a handout's text: the value under the label line
/// that names it (the English label is always on the page).
pub fn username_on(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let label = words.iter().position(|w| *w == "Username").expect("the username's label");
    words[label..]
        .iter()
        .find(|w| w.bytes().all(|b| ALPHABET.contains(&b)) && skranke_core::credentials::Username::parse(w).is_ok())
        .expect("a username under its label")
        .to_string()
}

/// The feed's consumer as CPR and Jobnet run it (`tests/contract/feed-consumer.mjs`):
/// its JSON answer; a refusal of the feed fails the test with the consumer's words.
pub fn feed_consumer(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/contract/feed-consumer.mjs");
    let out = Command::new("node").arg(script).args(args).output().expect("node runs");
    assert!(
        out.status.success(),
        "the consumer refused the feed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("the consumer prints JSON")
}

/// A desk brought back from a fixture made by `scripts/fixtures/*.sh`: its
/// folder (`FIXTURE/desk`) copied into a temporary directory and its
/// key-store entries (`keys` of `FIXTURE/keys.json`) written to the OS key
/// store, removed again however the test ends.
pub struct RestoredDesk {
    pub dir: tempfile::TempDir,
    pub desk_id: String,
}

impl RestoredDesk {
    pub fn from_fixture(fixture: &Path, keys: &Value) -> RestoredDesk {
        use skranke_core::keystore::{KeyStore, OsKeyStore};
        let desk_id = keys["desk_id"].as_str().expect("keys.json names the desk").to_owned();
        let desk = RestoredDesk { dir: tempfile::tempdir().unwrap(), desk_id };
        for entry in std::fs::read_dir(fixture.join("desk")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), desk.dir.path().join(entry.file_name())).unwrap();
        }
        for (entry, value) in keys["keys"].as_object().expect("keys.json holds the key-store entries") {
            OsKeyStore.set(&desk.desk_id, entry, value.as_str().unwrap()).unwrap();
        }
        desk
    }
}

impl Drop for RestoredDesk {
    fn drop(&mut self) {
        use skranke_core::keystore::OsKeyStore;
        let _ = skranke_core::desk::forget_keys(&OsKeyStore, &self.desk_id);
        let _ = skranke_core::sync::forget_signing_key(&OsKeyStore, &self.desk_id);
    }
}
