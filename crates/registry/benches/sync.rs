//! Sync throughput: records (each with its `issued` and `audit` events)
//! synced per second from one desk with 10,000 queued, and from 20 desks
//! with 2,000 each syncing at once, next to a multi-row INSERT of the same
//! rows into the same tables and indexes of the same PostgreSQL in the same
//! run (the baseline).
//!
//! Needs `DATABASE_URL` (`scripts/bench/30-sync.sh` starts PostgreSQL).
//! Prints `BENCH {json}` lines for `scripts/bench/report.py`.
//!
//! The queues are filled once (issuing is not what is measured); each run
//! serves a fresh copy of the registry's database as it was before any
//! upload, and puts every desk's outbox and sync cursors back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use skranke_core::issue::Intake;
use skranke_core::keystore::{KeyStore, MemoryKeyStore};
use skranke_core::store::Store;
use skranke_core::sync::{self, Enrolment, RegistryClient};
use skranke_registry::testing::{LiveRegistry, TestDatabase};
use skranke_registry::Config;
use skranke_rules::applicant::{Applicant, IntakeContext};
use skranke_rules::cpr::Sex;
use skranke_rules::i18n::Lang;

const RUNS: usize = 3;
const SINGLE: usize = 10_000;
const DESKS: usize = 20;
const PER_DESK: usize = 2_000;
const ROWS_PER_INSERT: usize = 1_000;

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    id: String,
    key: [u8; 32],
    /// `sync_state` right after the queue was filled.
    state: Vec<(String, String)>,
}

fn applicant(i: usize, birth_date: NaiveDate, sex: Sex) -> Intake {
    let v = json!({
      "given_names": "Anna", "surname": format!("Benchperson{}", letters(i)), "birth_date": birth_date,
      "sex": if sex == Sex::Female { "F" } else { "M" }, "nationality": "PL", "municipality_of_stay": 101,
      "group": "eu-jobseeker",
      "document": {"type": "passport", "number": format!("B{i:08}"), "issuing_state": "PL", "expiry_date": "2099-01-01",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "pl",
      "contact": {"email": null, "phone": null, "address_dk": null}
    });
    let a = Applicant::from_json(&v.to_string(), Lang::En).expect("bench applicant parses");
    let ctx = IntakeContext { today: Utc::now().date_naive(), desk_municipality: 101 };
    Intake::from_valid(&a.validate(&ctx, Lang::En).expect("bench applicant is valid"))
}

fn letters(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

/// Enrols a desk and fills its queue with `n` records from its lease (two
/// numbers per birth date and sex, so `n / 4` birth dates).
fn desk(reg: &LiveRegistry, keystore: &Arc<dyn KeyStore>, n: usize, tag: usize) -> Desk {
    let dir = tempfile::tempdir().expect("temp dir");
    let code = reg.enrolment_code(101, tag as u32 + 1);
    let (mut store, answer) = sync::enrol(
        dir.path(),
        Box::new(keystore.clone()),
        &Enrolment {
            registry_url: &reg.url(),
            enrolment_code: &code,
            admin_name: "Ada",
            admin_password: "a long enough password",
        },
        Utc::now(),
        Lang::En,
    )
    .expect("enrol");
    // Filling the queue is not what is measured: no fsync per record here.
    store.connection().execute_batch("PRAGMA synchronous = OFF;").expect("pragma");
    let session = store.sign_in("Ada", "a long enough password", Utc::now()).expect("sign in");
    let first = NaiveDate::from_ymd_opt(1940, 1, 1).expect("date");
    for i in 0..n {
        // Each birth date and sex twice: the two numbers the lease holds for it.
        let combo = i / 2;
        let date = first + chrono::Duration::days((combo / 2) as i64);
        let sex = if combo % 2 == 0 { Sex::Female } else { Sex::Male };
        let intake = applicant(tag * 100_000 + i, date, sex);
        store.issue(&session, &intake, Utc::now(), None, None).expect("issue from the lease");
    }
    store.connection().execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE);").expect("pragma");
    let seed = keystore.get(&answer.desk_id, sync::SIGNING_KEY).expect("key store").expect("signing key");
    let key: [u8; 32] = hex::decode(seed).expect("hex").try_into().expect("32 bytes");
    let state = rows(&store, "SELECT key, value FROM sync_state");
    Desk { _dir: dir, store, id: answer.desk_id, key, state }
}

fn rows(store: &Store, sql: &str) -> Vec<(String, String)> {
    let mut stmt = store.connection().prepare(sql).expect("query");
    let out = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("rows").map(|r| r.expect("row")).collect();
    out
}

/// Puts the desk back to "everything queued".
fn reset(desk: &Desk) {
    let conn = desk.store.connection();
    conn.execute_batch(
        "UPDATE outbox SET outcome = NULL, sent_at = NULL; DELETE FROM sync_state; DELETE FROM refused_event;
         DELETE FROM sync_notice; UPDATE record SET registry_state = NULL;",
    )
    .expect("reset");
    for (k, v) in &desk.state {
        conn.execute("INSERT INTO sync_state (key, value) VALUES (?1, ?2)", (k, v)).expect("state");
    }
}

fn client(desk: &Desk, url: &str) -> RegistryClient {
    RegistryClient::new(url, &desk.id, ed25519_dalek::SigningKey::from_bytes(&desk.key)).expect("client")
}

fn sync_all(desk: &mut Desk, url: &str) {
    let c = client(desk, url);
    let report = sync::run(&mut desk.store, &c).expect("sync");
    assert_eq!((report.pending, report.conflict, report.invalid), (0, 0, 0), "{report:?}");
}

/// The rows the registry wrote for these desks' records, copied into another
/// copy of the pre-upload database with multi-row INSERTs: records/s.
fn raw_insert_rate(reg: &LiveRegistry, template: &str, desk_ids: &[String], records: usize) -> f64 {
    let target = (0..50)
        .find_map(|_| {
            TestDatabase::try_create(Some(template)).map_err(|_| std::thread::sleep(Duration::from_millis(100))).ok()
        })
        .expect("a copy of the template database");
    let (source_url, target_url, ids) = (reg.db.url.clone(), target.url.clone(), desk_ids.to_vec());
    let elapsed = reg.block_on(async move {
        let connect = |url: String| async move {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(conn);
            c
        };
        let src = connect(source_url).await;
        let mut dst = connect(target_url).await;
        let tables: [(&str, &str); 4] = [
            (
                "records (record_id, desk_id, number, municipality, document_key, person_key, content, content_hash)",
                "SELECT record_id, desk_id, number::text, municipality, document_key, person_key, content, content_hash
                 FROM records WHERE desk_id = ANY($1) ORDER BY state_seq",
            ),
            (
                "numbers (number, birth_date, sex, modulus11, origin, slot, rank, desk_id, record_id)",
                "SELECT number::text, birth_date, sex::text, modulus11, origin, slot, rank, desk_id, record_id
                 FROM numbers WHERE desk_id = ANY($1) ORDER BY seq",
            ),
            (
                "events (desk_id, idempotency_key, kind, record_id, content_hash, body)",
                "SELECT desk_id, idempotency_key, kind, record_id, content_hash, body FROM events
                 WHERE desk_id = ANY($1) ORDER BY seq",
            ),
            (
                "feed (record_id, kind, payload)",
                "SELECT f.record_id, f.kind, f.payload FROM feed f JOIN records r USING (record_id)
                 WHERE r.desk_id = ANY($1) ORDER BY f.seq",
            ),
        ];
        let mut fetched = Vec::new();
        for (into, select) in tables {
            fetched.push((into, src.query(select, &[&ids]).await.expect("copy rows")));
        }
        let started = Instant::now();
        let tx = dst.transaction().await.expect("tx");
        for (into, rows) in &fetched {
            let columns = rows.first().map_or(0, |r| r.len());
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut sql = format!("INSERT INTO {into} VALUES ");
                let mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
                for (i, row) in chunk.iter().enumerate() {
                    sql.push_str(if i == 0 { "(" } else { ",(" });
                    for c in 0..columns {
                        if c > 0 {
                            sql.push(',');
                        }
                        sql.push_str(&format!("${}", params.len() + 1));
                        params.push(value(row, c));
                    }
                    sql.push(')');
                }
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
                tx.execute(sql.as_str(), &refs).await.expect("multi-row insert");
            }
        }
        tx.commit().await.expect("commit");
        started.elapsed()
    });
    drop(target);
    records as f64 / elapsed.as_secs_f64()
}

/// One column of a copied row as a parameter of the same type.
fn value(row: &tokio_postgres::Row, c: usize) -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
    use tokio_postgres::types::Type;
    let t = row.columns()[c].type_().clone();
    match t {
        Type::INT4 => Box::new(row.get::<_, Option<i32>>(c)),
        Type::BOOL => Box::new(row.get::<_, bool>(c)),
        Type::DATE => Box::new(row.get::<_, NaiveDate>(c)),
        Type::JSONB | Type::JSON => Box::new(row.get::<_, Value>(c)),
        _ => Box::new(row.get::<_, Option<String>>(c)),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    if std::env::var("DATABASE_URL").is_err() {
        for figure in ["sync, one desk (10,000 queued)", "sync, 20 desks at once (2,000 each)"] {
            println!("BENCH-SKIP {}", json!({ "figure": figure, "reason": "DATABASE_URL not set (no PostgreSQL)" }));
        }
        return;
    }
    let config = Config { units_per_desk: 2, allocate_deadline: Duration::from_secs(2), ..Config::default() };
    // Enrol and fill the queues against a base database, then stop serving it
    // so that it can be the template of every run's copy.
    let mut base = LiveRegistry::on(TestDatabase::create(None), config.clone());
    let keystore: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let started = Instant::now();
    let mut single = desk(&base, &keystore, SINGLE, 0);
    let many: Vec<Desk> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|half| {
                let (base, keystore) = (&base, &keystore);
                s.spawn(move || {
                    (0..DESKS / 2).map(|k| desk(base, keystore, PER_DESK, 1 + half * DESKS + k)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("filling thread")).collect()
    });
    let mut many = many;
    eprintln!("queues filled in {:?}", started.elapsed());
    base.down();
    let template = base.db.name.clone();

    let (mut one, mut twenty, mut raw_one, mut raw_twenty) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        // A fresh copy of the pre-upload database; the template must have no sessions.
        let db = (0..50)
            .find_map(|_| {
                TestDatabase::try_create(Some(&template))
                    .map_err(|_| std::thread::sleep(Duration::from_millis(100)))
                    .ok()
            })
            .expect("a copy of the template database");
        // The copy is served with the base's key: the desks pinned it at enrolment.
        let mut reg = LiveRegistry::on(db, config.clone());
        reg.set_key(base.key().clone());
        reg.restart();
        let url = reg.url();
        reset(&single);
        for d in &many {
            reset(d);
        }

        let t = Instant::now();
        sync_all(&mut single, &url);
        one.push(SINGLE as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        std::thread::scope(|s| {
            for d in many.iter_mut() {
                let url = url.clone();
                s.spawn(move || sync_all(d, &url));
            }
        });
        twenty.push((DESKS * PER_DESK) as f64 / t.elapsed().as_secs_f64());
        assert_eq!(reg.count("SELECT count(*) FROM records") as usize, SINGLE + DESKS * PER_DESK);

        raw_one.push(raw_insert_rate(&reg, &template, std::slice::from_ref(&single.id), SINGLE));
        let ids: Vec<String> = many.iter().map(|d| d.id.clone()).collect();
        raw_twenty.push(raw_insert_rate(&reg, &template, &ids, DESKS * PER_DESK));
        eprintln!(
            "run {run}: one desk {:.0} records/s (raw {:.0}), 20 desks {:.0} records/s (raw {:.0})",
            one[run], raw_one[run], twenty[run], raw_twenty[run]
        );
    }
    drop(base);

    // One desk: a rate and a share of the raw insert; 20 desks: a total rate.
    let row = |figure: &str, v: &mut Vec<f64>, raw: &mut Vec<f64>, target: f64, share: Option<f64>| {
        let (min, max) = (v.iter().copied().fold(f64::MAX, f64::min), v.iter().copied().fold(0.0, f64::max));
        let (m, b) = (median(v), median(raw));
        let ratio = m / b;
        let target_text = match share {
            Some(s) => format!(">= {target:.0} records/s and >= {:.0} % of the raw insert rate", s * 100.0),
            None => format!(">= {target:.0} records/s in total"),
        };
        json!({
            "figure": figure, "unit": "records/s", "median": m, "min": min, "max": max, "runs": v.len(),
            "target": target_text,
            "met": m >= target && share.is_none_or(|s| ratio >= s),
            "baseline": "multi-row INSERT of the same rows", "baseline_median": b, "ratio": ratio,
        })
    };
    println!("BENCH {}", row("sync, one desk (10,000 queued)", &mut one, &mut raw_one, 2000.0, Some(0.25)));
    println!("BENCH {}", row("sync, 20 desks at once (2,000 each)", &mut twenty, &mut raw_twenty, 5000.0, None));
}
