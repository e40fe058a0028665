//! The protocol checked against a model (issue 18): random sequences of
//! steps drive the real registry (PostgreSQL, served over loopback HTTP
//! behind a fault-injecting proxy) and real desk stores (skranke_core,
//! SQLCipher), and after every step the real state is compared with a
//! reference model of what must hold.
//!
//! The model keeps, for each handout ever printed, its number (so for each
//! birth date and sex the numbers used), the desk and record it came from
//! and whether it was allocated online or drawn from a lease; for each copy
//! of a desk, the records its store must hold and the lease units it holds;
//! the registry's dumps and restores; the records the registry accepted.
//!
//! After every step it checks:
//! - each desk's store holds exactly the records the model says (a crash, a
//!   cut sync or a refused issue loses nothing and adds nothing; a restored
//!   folder holds what its copy held);
//! - no number is on two handouts unless the operator's disputed list holds
//!   it and every desk holding one of them was told (a refusal or a notice
//!   naming the record), once both have synced after the other's upload;
//! - no accepted record is lost: a record the registry accepted stays
//!   accepted with its number, unless a registry restore took it back, and
//!   then it is accepted again once its desk has synced;
//! - every record a desk issued reaches the feed once the desk has synced
//!   completely, unless the desk was told it was refused;
//! - the registry reconciles only after it was restored, starts at most one
//!   generation per restore, and stops reconciling once every active desk has
//!   synced completely after reconciling began;
//! - two different desks never both hold the same lease unit unfrozen.
//!
//! The normal test run tries a few cases from a fixed seed with a bounded
//! shrink; `SKRANKE_MODEL_CASES`, `SKRANKE_MODEL_STEPS` and
//! `SKRANKE_MODEL_SEED` ask for more (`scripts/soak.sh`). A failing case
//! is shrunk to a short sequence of steps, printed with the seed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::{json, Value};
use skranke_core::alloc::NumberSource;
use skranke_core::keystore::KeyStore;
use skranke_core::store::Store;
use skranke_core::sync::{self, HttpAllocator};
use skranke_protocol::{header, signing_message};
use skranke_rules::cpr::Sex;
use support::proxy::{FaultProxy, Faults};
use support::*;

/// Birth dates the steps issue on: few, so that desks and the online
/// allocation meet on the same dates and sexes.
const DATES: [(i32, u32, u32); 2] = [(1970, 1, 1), (1985, 6, 15)];
/// Desks enrolled at the start of every case.
const DESKS_AT_START: usize = 2;
/// At most this many copies of desks (enrolled, cloned) in one case.
const MAX_SLOTS: usize = 4;

/// One step of a sequence. Desk and copy indexes are taken modulo what
/// exists when the step runs, so that every shrunk sequence still runs.
#[derive(Clone, Debug)]
enum Step {
    /// A clerk issues with the registry asked first (falls back to the lease).
    IssueOnline {
        desk: u8,
        date: u8,
        female: bool,
    },
    /// A clerk issues from the lease.
    IssueOffline {
        desk: u8,
        date: u8,
        female: bool,
    },
    Sync {
        desk: u8,
    },
    /// A sync through a network that cuts connections after a few bytes,
    /// one event per upload, so that batches are cut in the middle.
    SyncCut {
        desk: u8,
        bytes: u16,
    },
    /// The desk program dies and starts again on the same folder.
    Crash {
        desk: u8,
    },
    /// A backup of the desk's folder (not of the OS key store).
    Backup {
        desk: u8,
    },
    /// The desk's folder restored from one of its backups (the key store stays).
    RestoreDesk {
        desk: u8,
        backup: u8,
    },
    /// The desk's folder and key store copied to a second PC, which works on.
    Clone {
        desk: u8,
    },
    /// `pg_dump` of the registry's database.
    Dump,
    /// The registry stopped, its database restored from one of the dumps, started.
    RestoreRegistry {
        dump: u8,
    },
    /// The operator retires the desk.
    Retire {
        desk: u8,
    },
    /// Whoever holds the desk's key claims a restore without the registry's receipt.
    ForgedClaim {
        desk: u8,
    },
    /// The desk gives back one of its units after a sync, then syncs again.
    ReturnUnit {
        desk: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let desk = any::<u8>();
    prop_oneof![
        5 => (desk, 0..DATES.len() as u8, any::<bool>())
            .prop_map(|(desk, date, female)| Step::IssueOffline { desk, date, female }),
        3 => (desk, 0..DATES.len() as u8, any::<bool>())
            .prop_map(|(desk, date, female)| Step::IssueOnline { desk, date, female }),
        4 => desk.prop_map(|desk| Step::Sync { desk }),
        1 => (desk, 200..4000u16).prop_map(|(desk, bytes)| Step::SyncCut { desk, bytes }),
        1 => desk.prop_map(|desk| Step::Crash { desk }),
        1 => desk.prop_map(|desk| Step::Backup { desk }),
        1 => (desk, any::<u8>()).prop_map(|(desk, backup)| Step::RestoreDesk { desk, backup }),
        2 => desk.prop_map(|desk| Step::Clone { desk }),
        1 => Just(Step::Dump),
        1 => any::<u8>().prop_map(|dump| Step::RestoreRegistry { dump }),
        1 => desk.prop_map(|desk| Step::Retire { desk }),
        1 => desk.prop_map(|desk| Step::ForgedClaim { desk }),
        1 => desk.prop_map(|desk| Step::ReturnUnit { desk }),
    ]
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name} is a number, not {v:?}")),
        Err(_) => default,
    }
}

static CASES_RUN: AtomicU64 = AtomicU64::new(0);
static STEPS_RUN: AtomicU64 = AtomicU64::new(0);
/// Numbers found on two handouts once settled, each with the operator and
/// every desk holding one told: evidence that the check was exercised.
static TOLD_TWICE: AtomicU64 = AtomicU64::new(0);
/// Restores the registry noticed (it began reconciling).
static RECONCILED: AtomicU64 = AtomicU64::new(0);
/// A record as a store holds it: record ID and number (ten digits).
type Held = BTreeMap<String, String>;

/// One copy of a desk: the desk it was enrolled as, its store, and the
/// backups of its folder.
struct DeskCopy {
    name: String,
    desk: Option<TestDesk>,
    keys: Arc<CopyableKeyStore>,
    /// What its store must hold.
    held: Held,
    backups: Vec<(tempfile::TempDir, Held)>,
    /// The step of its last sync that left nothing pending.
    last_complete_sync: Option<usize>,
}

/// A handout printed for an applicant.
#[derive(Clone, Debug)]
struct Handout {
    copy: usize,
    record_id: String,
    number: String,
    online: bool,
    /// The step of the first complete sync of a copy holding it, since the
    /// registry last went back (restore, reconciling).
    uploaded: Option<usize>,
}

/// The feed as a consumer reads it: on from its cursor, never from the start.
struct Consumer {
    after: i64,
    seen: BTreeSet<(String, String)>,
}

struct World {
    reg: LiveRegistry,
    proxy: FaultProxy,
    copies: Vec<DeskCopy>,
    handouts: Vec<Handout>,
    /// Each dump, with the desks the operator had retired when it was taken.
    dumps: Vec<(tempfile::TempDir, PathBuf, BTreeSet<String>)>,
    restores: usize,
    initial_generation: i64,
    accepted: BTreeSet<(String, String)>,
    /// Accepted records a registry restore took back, not yet accepted again.
    awaited: BTreeSet<(String, String)>,
    retired: BTreeSet<String>,
    /// The last step the registry went back: restored, or began reconciling.
    epoch: usize,
    was_reconciling: bool,
    consumer: Consumer,
    next_applicant: usize,
    /// What happened, step by step, for the failure message.
    log: Vec<String>,
}

fn digits(number: &str) -> String {
    number.chars().filter(|c| c.is_ascii_digit()).collect()
}

fn checkpoint(store: &Store) {
    store.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
}

fn store_records(store: &Store) -> Held {
    let conn = store.connection();
    let mut stmt = conn.prepare("SELECT id, number FROM record").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
}

/// The lease units a store would issue from: `(slot, rank)`.
fn open_units(store: &Store) -> BTreeSet<(i64, i64)> {
    if store.lease_frozen() {
        return BTreeSet::new();
    }
    let conn = store.connection();
    let mut stmt = conn.prepare("SELECT slot, rank FROM lease_unit WHERE frozen = 0").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
}

fn signing_key(keys: &dyn KeyStore, desk_id: &str) -> SigningKey {
    let seed = keys.get(desk_id, sync::SIGNING_KEY).unwrap().expect("the desk's signing key");
    SigningKey::from_bytes(&hex::decode(seed).unwrap().try_into().unwrap())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// One POST signed with the desk's key as a desk signs it.
fn signed_post(url: &str, desk_id: &str, key: &SigningKey, path: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let timestamp = Utc::now().timestamp();
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).unwrap();
    let nonce = hex::encode(nonce);
    let signature = key.sign(&signing_message("POST", path, timestamp, &nonce, &bytes));
    let mut answer = agent()
        .post(&format!("{url}{path}"))
        .header("content-type", "application/json")
        .header(header::DESK, desk_id)
        .header(header::TIMESTAMP, timestamp.to_string())
        .header(header::NONCE, nonce)
        .header(header::SIGNATURE, hex::encode(signature.to_bytes()))
        .send(&bytes[..])
        .unwrap();
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// PostgreSQL's programs: Debian's wrappers on PATH, or the server's own.
fn pg_tool(name: &str) -> PathBuf {
    let versioned = Path::new("/usr/lib/postgresql/15/bin").join(name);
    if versioned.exists() {
        versioned
    } else {
        PathBuf::from(name)
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("the program starts");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn fail(why: String) -> TestCaseError {
    TestCaseError::fail(why)
}

impl World {
    fn start(seed: u64) -> World {
        let reg = LiveRegistry::start();
        let proxy = FaultProxy::start(reg.addr, Faults { cut_one_in: 0, max_bytes_before_cut: 1 }, seed);
        let mut world = World {
            reg,
            proxy,
            copies: Vec::new(),
            handouts: Vec::new(),
            dumps: Vec::new(),
            restores: 0,
            initial_generation: 0,
            accepted: BTreeSet::new(),
            awaited: BTreeSet::new(),
            retired: BTreeSet::new(),
            epoch: 0,
            was_reconciling: false,
            consumer: Consumer { after: 0, seen: BTreeSet::new() },
            next_applicant: 0,
            log: Vec::new(),
        };
        for d in 0..DESKS_AT_START {
            let keys = Arc::new(CopyableKeyStore::default());
            let desk = TestDesk::enrol(&world.reg, &world.proxy.url(), 101, d as u32 + 1, keys.clone());
            world.copies.push(DeskCopy {
                name: format!("desk{d}"),
                desk: Some(desk),
                keys,
                held: Held::new(),
                backups: Vec::new(),
                last_complete_sync: None,
            });
            world.backup(d);
        }
        world.dump();
        world.initial_generation = world.meta().1;
        world
    }

    fn copy_index(&self, i: u8) -> usize {
        usize::from(i) % self.copies.len()
    }

    fn desk_id(&self, copy: usize) -> String {
        self.copies[copy].desk.as_ref().unwrap().id.clone()
    }

    /// `(reconciling, generation)` of the registry.
    fn meta(&self) -> (bool, i64) {
        let rows = self.reg.rows("SELECT reconciling::text, generation::text FROM registry_meta");
        (rows[0][0].as_deref() == Some("true"), rows[0][1].as_deref().unwrap().parse().unwrap())
    }

    fn backup(&mut self, copy: usize) {
        let c = &mut self.copies[copy];
        let dir = tempfile::tempdir().unwrap();
        let desk = c.desk.as_ref().unwrap();
        checkpoint(&desk.store);
        copy_desk_folder(desk.dir.path(), dir.path());
        c.backups.push((dir, c.held.clone()));
    }

    fn dump(&mut self) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.dump");
        run_ok(Command::new(pg_tool("pg_dump")).args(["--format=custom", "--file"]).arg(&file).arg(&self.reg.db.url));
        self.dumps.push((dir, file, self.retired.clone()));
    }

    fn restore_registry(&mut self, dump: usize) {
        self.reg.down();
        let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let name = self.reg.db.name.clone();
        for sql in [format!("DROP DATABASE {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
            run_ok(
                Command::new(pg_tool("psql"))
                    .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", &sql])
                    .arg(&admin),
            );
        }
        run_ok(
            Command::new(pg_tool("pg_restore"))
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(&self.reg.db.url)
                .arg(&self.dumps[dump].1),
        );
        self.reg.up();
    }

    /// Closes the desk's store and opens it again, signed in, after
    /// `between` has done what it does to the closed folder.
    fn reopen(desk: TestDesk, between: impl FnOnce(&Path)) -> TestDesk {
        let TestDesk { dir, store, id, keystore, .. } = desk;
        drop(store);
        between(dir.path());
        let mut store = Store::open(dir.path(), Box::new(keystore.clone()), Utc::now()).unwrap();
        let session = store.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
        TestDesk { dir, store, id, session, keystore }
    }

    fn issue(&mut self, at: usize, copy: usize, date: u8, female: bool, online: bool) -> Result<String, TestCaseError> {
        let (y, m, d) = DATES[usize::from(date) % DATES.len()];
        let birth = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let sex = if female { Sex::Female } else { Sex::Male };
        let applicant = self.next_applicant;
        self.next_applicant += 1;
        let url = self.proxy.url();
        let c = &mut self.copies[copy];
        let desk = c.desk.as_mut().unwrap();
        let result = if online {
            let client = desk.client(&url);
            let allocator = HttpAllocator::new(&client);
            let result = desk.issue(applicant, birth, sex, Some(&allocator));
            allocator.remember(&mut desk.store).map_err(|e| fail(format!("remembering the allocations: {e:?}")))?;
            result
        } else {
            desk.issue(applicant, birth, sex, None)
        };
        match result {
            Ok(issued) => {
                let number = digits(&issued.number.to_string());
                c.held.insert(issued.record_id.clone(), number.clone());
                self.handouts.push(Handout {
                    copy,
                    record_id: issued.record_id.clone(),
                    number: number.clone(),
                    online: issued.source == NumberSource::Online,
                    uploaded: None,
                });
                Ok(format!("issued {} {number} ({:?})", issued.record_id, issued.source))
            }
            Err(e) if e.is_refusal() => Ok(format!("refused: {}", e.message(skranke_rules::i18n::Lang::En))),
            Err(e) => Err(fail(format!("step {at}: issuing failed, not as a refusal: {e:?}"))),
        }
    }

    /// One sync run, described; through cuts when `cut` is given, and then
    /// a network failure is an outcome, not a failure of the test.
    fn sync(&mut self, at: usize, copy: usize, cut: Option<u16>) -> Result<String, TestCaseError> {
        let url = self.proxy.url();
        if let Some(bytes) = cut {
            self.proxy.set_faults(Faults { cut_one_in: 2, max_bytes_before_cut: usize::from(bytes) });
        }
        let c = &mut self.copies[copy];
        let desk = c.desk.as_mut().unwrap();
        let client = desk.client(&url).with_batch_size(if cut.is_some() { 1 } else { sync::UPLOAD_BATCH });
        let result = sync::run(&mut desk.store, &client);
        self.proxy.set_faults(Faults { cut_one_in: 0, max_bytes_before_cut: 1 });
        match result {
            Ok(report) => {
                if report.pending == 0 {
                    c.last_complete_sync = Some(at);
                    for h in &mut self.handouts {
                        if h.uploaded.is_none() && c.held.get(&h.record_id) == Some(&h.number) {
                            h.uploaded = Some(at);
                        }
                    }
                }
                Ok(format!(
                    "synced: {} accepted, {} conflict, {} invalid, {} pending, reconciling {}, claim refused {}",
                    report.accepted,
                    report.conflict,
                    report.invalid,
                    report.pending,
                    report.reconciling,
                    report.claim_refused
                ))
            }
            Err(skranke_core::Error::Sync(e)) if cut.is_some() && e.retryable() => Ok(format!("cut: {e}")),
            Err(e) => Err(fail(format!("step {at}: sync of {} failed: {e:?}", c.name))),
        }
    }

    fn run_step(&mut self, at: usize, step: &Step) -> Result<String, TestCaseError> {
        match *step {
            Step::IssueOnline { desk, date, female } => self.issue(at, self.copy_index(desk), date, female, true),
            Step::IssueOffline { desk, date, female } => self.issue(at, self.copy_index(desk), date, female, false),
            Step::Sync { desk } => self.sync(at, self.copy_index(desk), None),
            Step::SyncCut { desk, bytes } => self.sync(at, self.copy_index(desk), Some(bytes)),
            Step::Crash { desk } => {
                let copy = self.copy_index(desk);
                let c = &mut self.copies[copy];
                let d = c.desk.take().unwrap();
                c.desk = Some(World::reopen(d, |_| {}));
                Ok("reopened".into())
            }
            Step::Backup { desk } => {
                let copy = self.copy_index(desk);
                self.backup(copy);
                Ok(format!("backup {} of {}", self.copies[copy].backups.len() - 1, self.copies[copy].name))
            }
            Step::RestoreDesk { desk, backup } => {
                let copy = self.copy_index(desk);
                let c = &mut self.copies[copy];
                let which = usize::from(backup) % c.backups.len();
                let d = c.desk.take().unwrap();
                let backup = c.backups[which].0.path().to_path_buf();
                c.desk = Some(World::reopen(d, |dir| {
                    for entry in std::fs::read_dir(dir).unwrap() {
                        let path = entry.unwrap().path();
                        if path.is_dir() {
                            std::fs::remove_dir_all(path).unwrap();
                        } else {
                            std::fs::remove_file(path).unwrap();
                        }
                    }
                    copy_desk_folder(&backup, dir);
                }));
                c.held = c.backups[which].1.clone();
                c.last_complete_sync = None;
                let frozen = c.desk.as_ref().unwrap().store.lease_frozen();
                Ok(format!("restored from backup {which}; lease frozen {frozen}"))
            }
            Step::Clone { desk } => {
                if self.copies.len() >= MAX_SLOTS {
                    return Ok("skipped: enough copies".into());
                }
                let from = self.copy_index(desk);
                let c = &self.copies[from];
                let d = c.desk.as_ref().unwrap();
                checkpoint(&d.store);
                let dir = tempfile::tempdir().unwrap();
                copy_desk_folder(d.dir.path(), dir.path());
                let keys = Arc::new(c.keys.snapshot());
                let keystore: Arc<dyn KeyStore> = keys.clone();
                let mut store = Store::open(dir.path(), Box::new(keystore.clone()), Utc::now()).unwrap();
                let session = store.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
                let clone = TestDesk { dir, store, id: d.id.clone(), session, keystore };
                let name = format!("{}'", c.name);
                let held = c.held.clone();
                self.copies.push(DeskCopy {
                    name: name.clone(),
                    desk: Some(clone),
                    keys,
                    held,
                    backups: Vec::new(),
                    last_complete_sync: None,
                });
                let last = self.copies.len() - 1;
                self.backup(last);
                Ok(format!("cloned as {name} (copy {last})"))
            }
            Step::Dump => {
                self.dump();
                Ok(format!("dump {}", self.dumps.len() - 1))
            }
            Step::RestoreRegistry { dump } => {
                let which = usize::from(dump) % self.dumps.len();
                self.restore_registry(which);
                self.restores += 1;
                // A retirement after the dump is undone with it.
                self.retired = self.dumps[which].2.clone();
                let held: BTreeSet<(String, String)> = self.registry_records();
                self.awaited.extend(self.accepted.difference(&held).cloned());
                self.went_back(at);
                Ok(format!("registry restored from dump {which}"))
            }
            Step::Retire { desk } => {
                let id = self.desk_id(self.copy_index(desk));
                if !self.retired.insert(id.clone()) {
                    return Ok("skipped: retired already".into());
                }
                self.reg.retire(&id);
                Ok(format!("retired {id}"))
            }
            Step::ForgedClaim { desk } => {
                let copy = self.copy_index(desk);
                let id = self.desk_id(copy);
                let key = signing_key(self.copies[copy].keys.as_ref(), &id);
                let sequence = self.reg.count("SELECT last_value FROM registry_seq");
                let body = json!({
                    "highest_sequence_seen": sequence + 1000, "records_issued": 0, "units": [],
                    "states_after": 0, "notices_after": 0,
                });
                let (status, answer) = signed_post(&self.reg.url(), &id, &key, "/v1/sync", &body);
                Ok(format!("forged claim of {}: {status}, claim_refused {}", sequence + 1000, answer["claim_refused"]))
            }
            Step::ReturnUnit { desk } => {
                let copy = self.copy_index(desk);
                let first = self.sync(at, copy, None)?;
                let c = &self.copies[copy];
                let d = c.desk.as_ref().unwrap();
                let Some((slot, rank)) = open_units(&d.store).into_iter().next() else {
                    return Ok(format!("{first}; no unit to give back"));
                };
                let issued: i64 = d
                    .store
                    .connection()
                    .query_row("SELECT coalesce(max(seq), 0) FROM record", [], |r| r.get(0))
                    .unwrap();
                let key = signing_key(c.keys.as_ref(), &d.id);
                let body = json!({
                    "idempotency_key": format!("{}/return/{at}/{}", d.id, self.next_applicant),
                    "units": [{ "slot": slot, "rank": rank }],
                    "records_issued": issued,
                });
                let (status, answer) = signed_post(&self.reg.url(), &d.id, &key, "/v1/lease/return", &body);
                let second = self.sync(at, copy, None)?;
                Ok(format!("gave back ({slot}, {rank}): {status} {}; {second}", answer["returned"]))
            }
        }
    }

    /// The registry went back in time: what was uploaded must come again.
    fn went_back(&mut self, at: usize) {
        self.epoch = at;
        for c in &mut self.copies {
            c.last_complete_sync = None;
        }
        for h in &mut self.handouts {
            h.uploaded = None;
        }
    }

    fn registry_records(&self) -> BTreeSet<(String, String)> {
        self.reg
            .rows("SELECT record_id, number::text FROM records")
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect()
    }

    fn read_feed(&mut self) {
        for _ in 0..100 {
            let mut answer = agent()
                .get(&format!("{}/v1/feed?after={}&limit=500", self.reg.url(), self.consumer.after))
                .header("authorization", "Bearer feed-secret")
                .call()
                .unwrap();
            assert_eq!(answer.status().as_u16(), 200);
            let page: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
            let items = page["items"].as_array().unwrap();
            for item in items {
                if item["kind"] == "issued" {
                    let number = digits(item["payload"]["number"].as_str().unwrap_or(""));
                    self.consumer.seen.insert((item["record_id"].as_str().unwrap().to_string(), number));
                }
            }
            self.consumer.after = page["next_after"].as_i64().unwrap();
            if items.is_empty() {
                return;
            }
        }
    }

    /// Whether the store of `copy` was told about its record `record_id`.
    fn told(status: &sync::SyncStatus, record_id: &str) -> bool {
        status.refused.iter().any(|r| r.record_id.as_deref() == Some(record_id))
            || status
                .notices
                .iter()
                .any(|n| n.record_id.as_deref() == Some(record_id) || n.other_record_id.as_deref() == Some(record_id))
    }

    /// Every invariant; `last` after the final syncs, when everything has settled.
    fn check(&mut self, at: usize, last: bool) -> Result<(), TestCaseError> {
        // Each store holds what the model says.
        let mut statuses = Vec::new();
        for c in &mut self.copies {
            let name = c.name.clone();
            let desk = c.desk.as_mut().unwrap();
            let actual = store_records(&desk.store);
            if actual != c.held {
                return Err(fail(format!("{name}'s store holds {actual:?}, the model says {:?}", c.held)));
            }
            statuses.push(sync::status(&mut desk.store, Utc::now()).unwrap());
        }

        // The registry reconciles only after a restore, and not for ever.
        let (reconciling, generation) = self.meta();
        if generation > self.initial_generation + self.restores as i64 {
            return Err(fail(format!(
                "generation {generation} after {} restores (it started at {})",
                self.restores, self.initial_generation
            )));
        }
        if reconciling && self.restores == 0 {
            return Err(fail("the registry reconciles, but it was never restored".into()));
        }
        if reconciling && !self.was_reconciling {
            RECONCILED.fetch_add(1, Ordering::Relaxed);
            self.went_back(at);
        }
        self.was_reconciling = reconciling;
        let active: Vec<&DeskCopy> =
            self.copies.iter().filter(|c| !self.retired.contains(&c.desk.as_ref().unwrap().id)).collect();
        let everyone_synced = active.iter().all(|c| c.last_complete_sync.is_some_and(|s| s > self.epoch));
        if reconciling && everyone_synced {
            return Err(fail(format!(
                "still reconciling, though every active desk has synced completely since step {}",
                self.epoch
            )));
        }
        if last && reconciling {
            return Err(fail("still reconciling after every desk synced, twice".into()));
        }

        // No accepted record is lost, unless a restore took it back.
        self.read_feed();
        let held = self.registry_records();
        for r in self.accepted.difference(&held) {
            if !self.awaited.contains(r) {
                return Err(fail(format!("the registry lost accepted record {} ({})", r.0, r.1)));
            }
        }
        for r in &held {
            self.awaited.remove(r);
        }
        self.accepted.extend(held.iter().cloned());
        let copies = &self.copies;
        let anywhere = |r: &(String, String)| copies.iter().any(|c| c.held.get(&r.0) == Some(&r.1));
        // A restore that no desk proved (other desks' uploads moved the
        // restored sequence past every receipt before the desks that were
        // shown more synced) loses no record either: the registry names
        // what it does not hold of a desk at every sync, and the desk
        // resends it (`api::sync`).
        if last {
            if let Some(r) = self.awaited.iter().find(|r| anywhere(r)) {
                return Err(fail(format!("record {} ({}) never came back after the restore", r.0, r.1)));
            }
        }

        // Every record reaches the feed once its desk has synced, unless refused.
        for h in &self.handouts {
            for (i, c) in self.copies.iter().enumerate() {
                if c.held.get(&h.record_id) != Some(&h.number) || Self::told(&statuses[i], &h.record_id) {
                    continue;
                }
                let synced = c.last_complete_sync.is_some_and(|s| h.uploaded.is_some_and(|u| s >= u));
                let key = (h.record_id.clone(), h.number.clone());
                if !synced {
                    continue;
                }
                if !held.contains(&key) {
                    return Err(fail(format!("{} synced, but the registry does not hold {key:?}", c.name)));
                }
                if !self.consumer.seen.contains(&key) {
                    return Err(fail(format!("{} synced, but {key:?} is not in the feed", c.name)));
                }
            }
        }

        // No number on two handouts unless the operator and the desks were told.
        let pool = self.reg.pool();
        let disputed: BTreeSet<String> = self
            .reg
            .block_on(async move { skranke_registry::disputed::list(&pool).await })
            .unwrap()
            .into_iter()
            .map(|d| digits(&d.number))
            .collect();
        let mut told_twice = 0;
        let mut by_number: BTreeMap<&str, Vec<&Handout>> = BTreeMap::new();
        for h in &self.handouts {
            by_number.entry(&h.number).or_default().push(h);
        }
        for (number, handouts) in by_number.into_iter().filter(|(_, hs)| hs.len() > 1) {
            // A handout no copy holds and the registry never saw is unknowable.
            let known: Vec<&&Handout> = handouts
                .iter()
                .filter(|h| {
                    let key = (h.record_id.clone(), h.number.clone());
                    anywhere(&key) || self.accepted.contains(&key)
                })
                .collect();
            if known.len() < 2 {
                continue;
            }
            let holders: BTreeSet<usize> = known
                .iter()
                .flat_map(|h| {
                    (0..self.copies.len()).filter(|&i| self.copies[i].held.get(&h.record_id) == Some(&h.number))
                })
                .collect();
            let uploaded: Option<Vec<usize>> = known.iter().map(|h| h.uploaded).collect();
            let settled = uploaded
                .and_then(|u| u.into_iter().max())
                .is_some_and(|u| holders.iter().all(|&i| self.copies[i].last_complete_sync.is_some_and(|s| s > u)));
            if !settled && !last {
                continue;
            }
            let who: Vec<String> = known
                .iter()
                .map(|h| {
                    format!(
                        "{} {} ({})",
                        self.copies[h.copy].name,
                        h.record_id,
                        if h.online { "online" } else { "lease" }
                    )
                })
                .collect();
            told_twice += u64::from(last);
            if !disputed.contains(number) {
                return Err(fail(format!("number {number} is on handouts {who:?}, and the operator was not told")));
            }
            for h in &known {
                for &i in &holders {
                    if self.copies[i].held.get(&h.record_id) == Some(&h.number)
                        && !Self::told(&statuses[i], &h.record_id)
                    {
                        return Err(fail(format!(
                            "number {number} is on handouts {who:?}, and {} was not told about {}",
                            self.copies[i].name, h.record_id
                        )));
                    }
                }
            }
        }

        TOLD_TWICE.fetch_add(told_twice, Ordering::Relaxed);

        // Two desks never both hold a unit they may issue from.
        let mut owner: BTreeMap<(i64, i64), String> = BTreeMap::new();
        for c in &self.copies {
            let d = c.desk.as_ref().unwrap();
            for u in open_units(&d.store) {
                if let Some(other) = owner.insert(u, d.id.clone()) {
                    if other != d.id {
                        return Err(fail(format!("unit {u:?} is held by {other} and by {}", d.id)));
                    }
                }
            }
        }
        Ok(())
    }

    fn run(&mut self, steps: &[Step]) -> Result<(), TestCaseError> {
        self.check(0, false)?;
        for (i, step) in steps.iter().enumerate() {
            let at = i + 1;
            let what = self.run_step(at, step)?;
            self.log.push(format!("{at}. {step:?}: {what}"));
            STEPS_RUN.fetch_add(1, Ordering::Relaxed);
            self.check(at, false).map_err(|e| fail(format!("after step {at}: {e}\n{}", self.log.join("\n"))))?;
        }
        // Every copy syncs, twice round, and then everything has settled.
        let mut at = steps.len();
        for _ in 0..2 {
            for copy in 0..self.copies.len() {
                at += 1;
                let what = self.sync(at, copy, None)?;
                self.log.push(format!("{at}. final sync of {}: {what}", self.copies[copy].name));
                self.check(at, false).map_err(|e| fail(format!("after step {at}: {e}\n{}", self.log.join("\n"))))?;
            }
        }
        self.check(at, true).map_err(|e| fail(format!("at the end: {e}\n{}", self.log.join("\n"))))
    }
}

#[test]
fn random_sequences_of_issuing_syncing_crashing_restoring_and_cloning_keep_every_invariant_of_the_model() {
    let started = Instant::now();
    let cases = env_number("SKRANKE_MODEL_CASES", 30) as u32;
    let max_steps = env_number("SKRANKE_MODEL_STEPS", 20) as usize;
    let seed = env_number("SKRANKE_MODEL_SEED", 0x5eed_0018);
    let shrink_secs = env_number("SKRANKE_MODEL_SHRINK_SECS", 60) as u32;
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_time: shrink_secs * 1000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = proptest::collection::vec(step(), 1..=max_steps);
    let result = runner.run(&strategy, |steps| {
        CASES_RUN.fetch_add(1, Ordering::Relaxed);
        let mut world = World::start(seed ^ steps.len() as u64);
        world.run(&steps)
    });
    let (cases_run, steps_run) = (CASES_RUN.load(Ordering::Relaxed), STEPS_RUN.load(Ordering::Relaxed));
    println!(
        "model: {cases_run} cases, {steps_run} steps, seed {seed:#x}, {:?}; {} numbers on two handouts, all told; \
         {} restores reconciled",
        started.elapsed(),
        TOLD_TWICE.load(Ordering::Relaxed),
        RECONCILED.load(Ordering::Relaxed)
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, steps)) => panic!(
            "the model found a hole (seed {seed:#x}; SKRANKE_MODEL_SEED={seed} replays it):\n\
             shrunk to {} steps: {steps:#?}\n{why}",
            steps.len()
        ),
        Err(TestError::Abort(why)) => panic!("the model run aborted (seed {seed:#x}): {why}"),
    }
}

/// The case the model found (shrunk from seed 0x5eed0018, case 51): a
/// desk's online record reaches a registry restored without anyone able to
/// prove it (another desk's sync moved the restored sequence past the
/// first desk's receipt), which refuses it as `number_not_held`, having
/// lost the allocation; a second restore, which that desk does prove, then
/// waited for it forever, because the refused record was never sent again
/// and the registry never held as many of its records as it issued. The
/// desk now sends such a record again while the registry reconciles, the
/// registry re-learns the number, and reconciling ends.
#[test]
fn a_record_refused_by_an_unproven_restore_is_taken_once_a_later_restore_is_proven_and_reconciling_ends() {
    let steps = [
        Step::IssueOnline { desk: 0, date: 1, female: true },
        Step::RestoreRegistry { dump: 0 },
        Step::Sync { desk: 1 },
        Step::ReturnUnit { desk: 0 },
        Step::RestoreRegistry { dump: 0 },
    ];
    let mut world = World::start(0x5eed_0018);
    world.run(&steps).unwrap_or_else(|e| panic!("{e}"));
    assert!(!world.meta().0, "reconciling ended once both desks had synced");
    let held = world.registry_records();
    assert_eq!(held.len(), 1, "the refused record was taken after all: {held:?}");
    let desk = world.copies[0].desk.as_ref().unwrap();
    let refused: i64 =
        desk.store.connection().query_row("SELECT count(*) FROM refused_event", [], |r| r.get(0)).unwrap();
    assert_eq!(refused, 0, "and it left the supervisor's list of refused events");
}

/// The clone case of the no-desk-harms-another issue, as steps of the model
/// (the random search reaches it rarely): a desk and its copy issue for
/// different birth dates and sync, the copy's records are refused, and the
/// original, not yet told, then issues for the copy's birth date the very
/// number on the copy's handout. The model's checks after every step (no
/// number on two handouts unless the operator and both desks were told)
/// hold only because that number is disputed.
#[test]
fn the_original_of_a_cloned_desk_never_puts_the_copys_number_on_a_second_handout_untold() {
    let steps = [
        Step::IssueOffline { desk: 0, date: 0, female: false },
        Step::Sync { desk: 0 },
        Step::Clone { desk: 0 },
        Step::IssueOffline { desk: 0, date: 0, female: true },
        Step::IssueOffline { desk: 2, date: 1, female: true },
        Step::Sync { desk: 0 },
        Step::Sync { desk: 2 },
        Step::IssueOffline { desk: 0, date: 1, female: true },
        Step::Sync { desk: 0 },
    ];
    let mut world = World::start(0x5eed_0017);
    world.run(&steps).unwrap_or_else(|e| panic!("{e}"));
    let numbers: Vec<&String> = world.handouts.iter().map(|h| &h.number).collect();
    let twice = numbers.iter().filter(|n| numbers.iter().filter(|m| m == n).count() > 1).count();
    assert!(twice >= 2, "the sequence puts one number on two handouts, which the checks then judged: {numbers:?}");
}
