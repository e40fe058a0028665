//! An operator's ordinary restore, with every part real and in its own
//! process: the `skranke-registry` binary on PostgreSQL with its key in a
//! file, four desks made and driven by the `skranke` binary (SQLCipher, the
//! OS key store), `pg_dump` and `pg_restore`, and a feed consumer that reads
//! on from its own cursor as CPR and Jobnet would.
//!
//! The day: four desks issue online in the morning and sync; the operator
//! dumps the database; the desks issue online again and sync, and once more
//! while the registry is down (from their leases); the registry's database
//! is dropped and restored from the dump, and the registry started. In the
//! afternoon every desk issues again before any desk has synced (its lease
//! holds two numbers per birth date and sex: one for the outage, one now),
//! then each syncs once.
//!
//! The rules: no number is on two handouts; every record issued reaches the
//! consumer, who reads on from where it was before the restore; the
//! registry finished reconciling with one sync per desk, awaits no desk, and
//! tells the operator it was restored; online allocation works again after.
//! On a registry that believes an unsigned sequence and a desk that uses an
//! allocation without comparing its signed sequence, the restored registry
//! hands the afternoon's applicants the numbers the late morning's already
//! carry (every applicant here has the same birth date and sex, so the
//! registry's choice is the same each time), and reconciling never ends
//! because no desk resends what the restore lost.
#![cfg(target_os = "linux")]

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use skranke_registry::testing::TestDatabase;

use common::{at_desk, ok, ok_json};

const ADMIN_PW: &str = "admin password 1";
const FEED_TOKEN: &str = "feed-secret";

fn staff() -> [(&'static str, &'static str); 2] {
    [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

/// The registry's binary beside the desk's (built with the workspace; built
/// here when a test run built only this package).
fn registry_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_skranke")).with_file_name("skranke-registry");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "skranke-registry", "--bin", "skranke-registry"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the registry's binary builds");
    }
    path
}

/// A PostgreSQL client program: Debian puts wrappers on PATH, the server's
/// own copies under /usr/lib/postgresql.
fn pg_tool(name: &str) -> PathBuf {
    let versioned = Path::new("/usr/lib/postgresql/15/bin").join(name);
    if versioned.exists() {
        versioned
    } else {
        PathBuf::from(name)
    }
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the program starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The registry as its operator runs it: one process, its key in a file.
struct Registry {
    db: TestDatabase,
    key_file: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Registry {
    fn new(dir: &Path) -> Registry {
        let key_file = dir.join("registry-key.json");
        let mut registry = Registry {
            db: TestDatabase::create(None),
            key_file,
            port: free_port(),
            log: dir.join("registry.log"),
            child: None,
        };
        run_ok(registry.command().args(["key", "generate", "--file"]).arg(&registry.key_file));
        registry.start();
        registry
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(registry_binary());
        cmd.env("DATABASE_URL", &self.db.url)
            .env("SKRANKE_OPERATOR", "drift")
            .env("SKRANKE_REGISTRY_KEY_FILE", &self.key_file)
            .env("SKRANKE_LANG", "en")
            .env_remove("SKRANKE_REGISTRY_KEY");
        cmd
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("the log opens");
        let child = self
            .command()
            .args(["serve", "--insecure-http", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("SKRANKE_FEED_TOKEN", FEED_TOKEN)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the registry starts");
        self.child = Some(child);
        let started = Instant::now();
        while ureq::get(&format!("{}/health", self.url())).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the registry answers /health: {}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn enrolment_code(&self, desk: u32) -> String {
        let args = ["enrolment-code", "--municipality", "101", "--office", "Borgerservice", "--desk"];
        run_ok(self.command().args(args).arg(desk.to_string())).trim().to_string()
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&run_ok(self.command().args(["stats", "--json"]))).expect("stats is JSON")
    }

    /// `pg_dump` in the custom format, as a nightly backup job would.
    fn dump(&self, to: &Path) {
        run_ok(Command::new(pg_tool("pg_dump")).args(["--format=custom", "--file"]).arg(to).arg(&self.db.url));
    }

    /// Drops the database, creates it empty and restores the dump into it.
    fn restore(&self, from: &Path) {
        let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        for sql in [format!("DROP DATABASE {} WITH (FORCE)", self.db.name), format!("CREATE DATABASE {}", self.db.name)]
        {
            run_ok(
                Command::new(pg_tool("psql"))
                    .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", &sql])
                    .arg(&admin),
            );
        }
        run_ok(
            Command::new(pg_tool("pg_restore"))
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(&self.db.url)
                .arg(from),
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The feed's consumer: reads on from its cursor, never from the start.
struct Consumer {
    url: String,
    after: i64,
    issued: HashSet<String>,
}

impl Consumer {
    fn read(&mut self) {
        loop {
            let mut answer = ureq::get(&format!("{}/v1/feed?after={}&limit=500", self.url, self.after))
                .header("authorization", &format!("Bearer {FEED_TOKEN}"))
                .call()
                .expect("the feed answers");
            let body = answer.body_mut().read_to_string().expect("a feed page");
            let page: Value = serde_json::from_str(&body).expect("a feed page is JSON");
            let items = page["items"].as_array().expect("items");
            for item in items.iter().filter(|i| i["kind"] == "issued") {
                self.issued.insert(item["record_id"].as_str().unwrap().to_string());
            }
            self.after = page["next_after"].as_i64().expect("next_after");
            if items.is_empty() {
                return;
            }
        }
    }
}

/// An enrolled desk in its own folder; everyone it serves has the same birth
/// date and sex, so that the registry's online choice repeats.
struct Desk {
    dir: tempfile::TempDir,
    id: String,
    number: u32,
    issued: usize,
}

impl Desk {
    fn enrol(registry: &Registry, number: u32) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let code = registry.enrolment_code(number);
        let url = registry.url();
        let init = ["desk", "init", "--registry", &url, "--enrolment-code", &code, "--admin", "Ada"];
        ok(&at_desk(dir.path(), &init, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b""));
        for (key, value) in [
            ("privacy_controller", "Jobcenter"),
            ("privacy_contact", "jobcenter@example.dk"),
            ("privacy_dpo", "dpo@example.dk"),
        ] {
            ok(&at_desk(dir.path(), &["settings", "set", key, value], &staff(), b""));
        }
        let shown = ok_json(&at_desk(dir.path(), &["desk", "show", "--json"], &[], b""));
        Desk { dir, id: shown["desk_id"].as_str().unwrap().to_string(), number, issued: 0 }
    }

    /// Issues to `n` more applicants; returns the sources of their numbers.
    fn issue(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                self.issued += 1;
                // Names differ, so that no two applicants look like one person.
                let given = ["Alex", "Maria", "Jonas", "Ewa"][self.number as usize % 4];
                let surname = [
                    "Nowak",
                    "Kowalski",
                    "Wójcik",
                    "Lewandowski",
                    "Zieliński",
                    "Szymański",
                    "Woźniak",
                    "Dąbrowski",
                    "Kozłowski",
                    "Jankowski",
                    "Mazur",
                    "Krawczyk",
                ][self.issued % 12];
                let applicant = json!({
                  "given_names": given, "surname": surname, "birth_date": "1990-05-17", "sex": "M",
                  "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
                  "document": {"type": "passport", "number": format!("{}X{:04}", &self.id[..4], self.issued),
                               "issuing_state": "PL", "expiry_date": "2099-04-15", "original_seen": true,
                               "sex_on_document": null, "no_expiry_confirmed": false},
                  "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true,
                  "language": "en", "contact": {"email": null, "phone": null, "address_dk": null}
                });
                let pdf = self.dir.path().join(format!("{}.pdf", self.issued));
                let args = ["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"];
                let out = at_desk(self.dir.path(), &args, &staff(), applicant.to_string().as_bytes());
                let id = ok_json(&out)["record_id"].as_str().unwrap().to_string();
                let shown = ok_json(&at_desk(self.dir.path(), &["records", "show", &id, "--json"], &staff(), b""));
                shown["source"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn sync(&self) -> Value {
        ok_json(&at_desk(self.dir.path(), &["sync", "--json"], &[], b""))
    }

    fn status(&self) -> Value {
        ok_json(&at_desk(self.dir.path(), &["sync", "status", "--json"], &[], b""))
    }

    /// Every record of the desk: ID and number.
    fn numbers(&self) -> Vec<(String, String)> {
        let listed = ok_json(&at_desk(self.dir.path(), &["records", "list", "--json"], &staff(), b""));
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["record_id"].as_str().unwrap().to_string(), r["number"].as_str().unwrap().to_string()))
            .collect()
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, &self.id);
        let _ = skranke_core::sync::forget_signing_key(&skranke_core::keystore::OsKeyStore, &self.id);
    }
}

#[test]
fn after_a_restore_from_a_dump_no_number_is_issued_twice_every_record_reaches_the_feed_and_reconciling_ends() {
    let work = tempfile::tempdir().unwrap();
    let mut registry = Registry::new(work.path());
    let mut desks: Vec<Desk> = (1..=4).map(|n| Desk::enrol(&registry, n)).collect();
    let mut consumer = Consumer { url: registry.url(), after: 0, issued: HashSet::new() };

    // Morning: online, synced, read by the consumer; then the nightly-style dump.
    for desk in &mut desks {
        assert_eq!(desk.issue(2), ["online", "online"], "the registry answers in the morning");
        desk.sync();
    }
    consumer.read();
    let dump = work.path().join("registry.dump");
    registry.dump(&dump);

    // Late morning: online again, synced and read; then offline from the lease.
    for desk in &mut desks {
        assert_eq!(desk.issue(2), ["online", "online"]);
        desk.sync();
    }
    consumer.read();
    registry.stop();
    for desk in &mut desks {
        assert_eq!(desk.issue(1), ["lease"], "a desk issues from its lease while the registry is down");
    }

    // The operator restores the dump and starts the registry again.
    registry.restore(&dump);
    registry.start();

    // Afternoon: every desk issues before any desk has synced, then each syncs once.
    for desk in &mut desks {
        let sources = desk.issue(1);
        assert!(
            sources.iter().all(|s| s == "lease"),
            "an allocation signed with a sequence below one the desk saw is not used: {sources:?}"
        );
    }
    for desk in &desks {
        desk.sync();
    }
    let stats = registry.stats();
    assert_eq!(stats["reconciling"], false, "one sync per desk ends reconciling: {stats}");
    assert_eq!(stats["desks_awaited"], json!([]), "{stats}");
    assert!(stats["restored_at"].is_string(), "the registry knows it was restored: {stats}");
    assert!(registry.log_text().contains("registry restored"), "the operator's log says so");

    // Online allocation works again, and the new numbers are new too.
    for desk in &mut desks {
        assert_eq!(desk.issue(1), ["online"], "after reconciling the registry allocates online again");
        desk.sync();
    }
    consumer.read();

    let mut holder: HashMap<String, String> = HashMap::new();
    let mut records = HashSet::new();
    for desk in &desks {
        for (record_id, number) in desk.numbers() {
            if let Some(other) = holder.insert(number.clone(), record_id.clone()) {
                panic!("{number} is on the handouts of both {other} and {record_id}");
            }
            records.insert(record_id);
        }
        let status = desk.status();
        assert_eq!(status["queued_events"], 0, "desk {} has sent everything: {status}", desk.id);
        assert_eq!(status["refused"], json!([]), "and nothing was refused: {status}");
    }
    assert_eq!(records.len(), 4 * 7);
    let missing: Vec<&String> = records.difference(&consumer.issued).collect();
    assert!(missing.is_empty(), "the consumer, reading on from its cursor, never got {missing:?}");
}
