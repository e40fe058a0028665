//! Benchmark: the time to issue one record durably (lease number, record,
//! audit event, outbox event, one `synchronous=FULL` commit) next to one bare
//! durable insert into the same encrypted database, measured interleaved in
//! the same run. Target: issuing costs at most twice the bare insert.
//!
//! Not included: the staff password hash (signing in happens once, not per
//! record) and the key-store write of the rollback guard (an in-memory key
//! store stands in, so the figure is the store's own cost).
//!
//! `cargo bench -p skranke-core --bench issue` (`SKRANKE_BENCH_N` sets the count).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use skranke_core::cpr::Sex;
use skranke_core::desk::{self, DeskKind, DeskSetup};
use skranke_core::i18n::Lang;
use skranke_core::issue::Intake;
use skranke_core::keystore::MemoryKeyStore;
use skranke_core::protocol::{DocumentSummary, PersonRecord};

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / v.len() as u32
}

fn main() {
    let n: usize = std::env::var("SKRANKE_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(400);
    let now = DateTime::<Utc>::from_timestamp(1_795_000_000, 0).expect("time");
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: "Bench Admin",
        admin_password: "bench password 1",
    };
    let ks = Arc::new(MemoryKeyStore::new());
    let mut store = desk::init(dir.path(), Box::new(ks), &setup, now, Lang::En).expect("desk init");
    let session = store.sign_in("Bench Admin", "bench password 1", now).expect("sign in");
    store
        .connection()
        .execute_batch("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        .expect("baseline table");
    let payload = "x".repeat(300);
    let first = NaiveDate::from_ymd_opt(1950, 1, 1).expect("date");

    let (mut issue, mut bare) = (Vec::with_capacity(n), Vec::with_capacity(n));
    // Warm-up, then interleave so both see the same disk and cache conditions.
    for i in 0..(n + 20) {
        let intake = Intake {
            birth_date: first + chrono::Days::new(i as u64),
            sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
            document_key: format!("P:DE:BENCH{i:08}"),
            person_key: format!("BENCH:{i}"),
            applicant: serde_json::json!({ "surname": format!("Bench{i}"), "document_number": format!("BENCH{i:08}") }),
            person: PersonRecord {
                name_document: format!("Bench{i}"),
                name_latin: format!("BENCH{i}"),
                birth_date: first + chrono::Days::new(i as u64),
                sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
                nationality: "DE".into(),
                document: DocumentSummary { kind: "passport".into(), issuing_state: "D".into(), expiry_date: None },
            },
            municipality: 101,
        };
        let t = Instant::now();
        store.issue(&session, &intake, now, None, None).expect("issue");
        let ti = t.elapsed();
        let t = Instant::now();
        store.connection().execute("INSERT INTO bench_bare (payload) VALUES (?1)", [&payload]).expect("bare insert");
        let tb = t.elapsed();
        if i >= 20 {
            issue.push(ti);
            bare.push(tb);
        }
    }
    let (mi, mb) = (mean(&issue), mean(&bare));
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let (min_i, max_i) = (issue.iter().min().map(ms), issue.iter().max().map(ms));
    let (di, db) = (median(&mut issue), median(&mut bare));
    let (mode, sync, _) = store.durability().expect("pragmas");
    println!("skranke issue benchmark: {n} records, journal_mode={mode}, synchronous={sync}");
    println!("  issue one record (number, record, audit, outbox; durable): median {di:?}, mean {mi:?}");
    println!("  one bare durable insert (same encrypted database):         median {db:?}, mean {mb:?}");
    let ratio = di.as_secs_f64() / db.as_secs_f64();
    println!("  ratio (median): {ratio:.2} (target <= 2.00) {}", if ratio <= 2.0 { "OK" } else { "ABOVE TARGET" });
    // One line for scripts/bench/report.py.
    let record = serde_json::json!({
        "figure": "issue one record, durable, without the password hash",
        "unit": "ms",
        "median": ms(&di), "min": min_i, "max": max_i, "runs": n,
        "baseline": "one bare durable insert, same encrypted database",
        "baseline_median": ms(&db),
        "ratio": ratio,
        "target": "<= 2x baseline",
        "met": ratio <= 2.0,
    });
    println!("BENCH {record}");
}
