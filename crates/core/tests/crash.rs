//! The crash test: `kill -9` an issuing process at random moments, many
//! times over, then check the store. A record reported as issued must be
//! there with its number, no number may appear twice, the audit chain must
//! be intact, and a crash must never trip the rollback guard.
//!
//! The test binary re-executes itself as the child (env `SKRANKE_CRASH_CHILD`),
//! which issues in a loop and prints each record only after `issue` returned,
//! i.e. after the commit. Uses the real OS key store (Secret Service).
//! `SKRANKE_CRASH_ROUNDS` sets the number of kills (default 40).

#[path = "common/mod.rs"]
mod common;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use common::*;
use skranke_core::audit::Verification;
use skranke_core::cpr::Sex;
use skranke_core::desk;
use skranke_core::i18n::Lang;
use skranke_core::keystore::OsKeyStore;
use skranke_core::store::{GuardOutcome, Store};

fn child(dir: &Path, start: usize) -> ! {
    let mut store = Store::open(dir, Box::new(OsKeyStore), Utc::now()).expect("child opens the store");
    let session = store.sign_in(ADMIN, PASSWORD, Utc::now()).expect("child signs in");
    let out = std::io::stdout();

    for i in start.. {
        // One applicant per birth date (rounds start 300 apart): the lease never runs out.
        let birth = date(1950, 1, 1) + chrono::Days::new(i as u64);
        let sex = if i % 2 == 0 { Sex::Female } else { Sex::Male };
        let r = store.issue(&session, &intake(i, birth, sex), Utc::now(), None, None).expect("child issues");
        let mut out = out.lock();
        writeln!(out, "ISSUED {} {}", r.record_id, r.number).and_then(|_| out.flush()).expect("stdout");
    }
    unreachable!()
}

/// xorshift64: the kill moments only need to be spread, not secret.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The name test runners list (nextest asks with `--list` before it runs).
const TEST_NAME: &str = "kill_9_at_random_moments_loses_no_committed_record_and_reuses_no_number";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        // This binary has one test and it is never ignored.
        if !args.iter().any(|a| a == "--ignored") {
            println!("{TEST_NAME}: test");
        }
        return;
    }
    if let (Some(dir), Some(start)) =
        (std::env::var_os("SKRANKE_CRASH_CHILD"), std::env::var("SKRANKE_CRASH_START").ok())
    {
        child(Path::new(&dir), start.parse().expect("start"));
    }
    let rounds: usize = std::env::var("SKRANKE_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("crash test: {rounds} kills, seed {seed}");

    let dir = tempfile::tempdir().unwrap();
    let store = desk::init(dir.path(), Box::new(OsKeyStore), &setup(), now(), Lang::En).expect("desk init");
    let desk_id = store.desk_id().to_string();
    drop(store);

    let exe = std::env::current_exe().unwrap();
    let mut reported: HashMap<String, String> = HashMap::new();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .env("SKRANKE_CRASH_CHILD", dir.path())
            .env("SKRANKE_CRASH_START", (round * 300).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Any moment of the child's life: opening (with the guard's catch-up), signing in, issuing.
        std::thread::sleep(Duration::from_millis(next(&mut seed) % 1500));
        let exited = child.try_wait().unwrap();
        assert!(exited.is_none(), "the issuing child stopped by itself ({exited:?}): see its output above");
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let mut text = String::new();
        child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
        for line in text.lines() {
            let mut parts = line.split(' ');
            if let (Some("ISSUED"), Some(id), Some(number)) = (parts.next(), parts.next(), parts.next()) {
                let previous = reported.insert(id.to_string(), number.to_string());
                assert!(previous.is_none(), "record {id} was reported twice");
            }
        }
    }
    assert!(reported.len() >= rounds, "too few issues to mean anything: {}", reported.len());

    let mut store = Store::open(dir.path(), Box::new(OsKeyStore), Utc::now()).expect("reopen after crashes");
    assert!(
        matches!(store.guard_outcome(), GuardOutcome::InStep | GuardOutcome::CaughtUp),
        "a crash must never freeze the lease: {:?}",
        store.guard_outcome()
    );
    assert!(!store.lease_frozen());
    assert!(matches!(store.verify_audit().unwrap(), Verification::Intact { .. }));
    let session = store.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
    let records = store.records(&session).unwrap();
    let stored: HashMap<String, String> = records.iter().map(|r| (r.record_id.clone(), r.number.clone())).collect();
    let numbers: HashSet<&String> = stored.values().collect();
    assert_eq!(numbers.len(), records.len(), "a number appears twice");
    let mut lost = 0;
    for (id, number) in &reported {
        // The store shows training numbers in the day+60 form, the child printed the real one.
        let shown = store.record(&session, id).map(|r| r.summary.number);
        match shown {
            Ok(shown) if shown[1..] == number[1..] && shown.as_bytes()[0] == number.as_bytes()[0] + 6 => {}
            other => {
                lost += 1;
                eprintln!("record {id} ({number}) reported but stored as {other:?}");
            }
        }
    }
    assert_eq!(lost, 0, "committed records lost");
    let unreported = records.len() - reported.len();
    assert!(unreported <= rounds, "{unreported} records more than reported: at most one per kill");
    desk::forget_keys(&OsKeyStore, &desk_id).unwrap();
    println!(
        "crash test: {} records reported, {} stored, {unreported} committed but killed before printing",
        reported.len(),
        records.len()
    );
    println!("1 passed; 0 failed");
}
