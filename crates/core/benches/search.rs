//! Benchmark: searching the desk's records by name at 100,000 records, on
//! the real encrypted store through [`Store::search_records`] (what the
//! desk window's Records screen calls). Target: at most 20 ms.
//!
//! The store is filled once: a few hundred records issued the ordinary way
//! (number from the lease, audit, outbox), then copies of their rows with
//! other names, numbers and keys up to 100,000, in one transaction (filling
//! is not what is measured). Names come from 400 surnames × 60 given names,
//! so a surname finds about 250 records (more than a screen: the search
//! stops at its limit), a full name about 4, and an unknown name none (the
//! whole table is read). Each query is timed many times; the figure is the
//! median over all of them, with the p99.
//!
//! `cargo bench -p skranke-core --bench search` (`SKRANKE_BENCH_RECORDS`
//! sets the count, `SKRANKE_BENCH_N` the searches per query).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use skranke_core::applicant::{Applicant, IntakeContext};
use skranke_core::desk::{self, DeskKind, DeskSetup};
use skranke_core::i18n::Lang;
use skranke_core::issue::Intake;
use skranke_core::keystore::MemoryKeyStore;

const SYLLABLES: [&str; 20] = [
    "ko", "wal", "ska", "mi", "ler", "ber", "gen", "sen", "no", "va", "ri", "ta", "lu", "pe", "dro", "sa", "ni", "es",
    "tor", "ma",
];

/// Surname `i` of 400: two syllables, capitalised (e.g. "Walska").
fn surname(i: usize) -> String {
    let s = format!("{}{}", SYLLABLES[i % 20], SYLLABLES[(i / 20) % 20]);
    capitalise(&s)
}

/// Given name `i` of 60: three syllables (e.g. "Komiler").
fn given(i: usize) -> String {
    capitalise(&format!("{}{}{}", SYLLABLES[(i * 7) % 20], SYLLABLES[(i * 3 + 1) % 20], SYLLABLES[i % 3 + 5]))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn intake(i: usize, today: NaiveDate) -> Intake {
    let birth = NaiveDate::from_ymd_opt(1960, 1, 1).expect("date") + chrono::Days::new((i / 4) as u64);
    let v = serde_json::json!({
      "given_names": given(i % 60), "surname": surname(i % 400), "birth_date": birth,
      "sex": if (i / 2) % 2 == 0 { "F" } else { "M" }, "nationality": "PL", "municipality_of_stay": 101,
      "group": "eu-jobseeker",
      "document": {"type": "passport", "number": format!("SR{i:07}"), "issuing_state": "PL", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "pl",
      "contact": {"email": null, "phone": null, "address_dk": null}
    });
    let a = Applicant::from_json(&v.to_string(), Lang::En).expect("bench applicant parses");
    let ctx = IntakeContext { today, desk_municipality: 101 };
    Intake::from_valid(&a.validate(&ctx, Lang::En).expect("bench applicant is valid"))
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1).min(sorted.len() - 1)]
}

fn main() {
    let total: usize = std::env::var("SKRANKE_BENCH_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let per_query: usize = std::env::var("SKRANKE_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let issued = 400.min(total);
    let now = DateTime::<Utc>::from_timestamp(1_795_000_000, 0).expect("time");
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality: "101",
        office: "Borgerservice Nørrebro",
        desk_number: 3,
        admin_name: "Bench Admin",
        admin_password: "bench password 1",
    };
    let ks = Arc::new(MemoryKeyStore::new());
    let mut store = desk::init(dir.path(), Box::new(ks), &setup, now, Lang::En).expect("desk init");
    let session = store.sign_in("Bench Admin", "bench password 1", now).expect("sign in");

    let started = Instant::now();
    store.connection().execute_batch("PRAGMA synchronous = OFF;").expect("pragma");
    for i in 0..issued {
        store.issue(&session, &intake(i, now.date_naive()), now, None, None).expect("issue from the lease");
    }
    // Copies of the issued rows under new names, numbers and keys.
    let desk_id = store.desk_id().to_string();
    let conn = store.connection();
    conn.execute_batch("BEGIN").expect("begin");
    {
        let template: Vec<(String, String, String, String)> = {
            let mut stmt = conn
                .prepare("SELECT sex, issued_at, issued_by, applicant FROM record ORDER BY seq")
                .expect("template rows");
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.to_string(), r.get(3)?)))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        let mut insert = conn
            .prepare(
                "INSERT INTO record (id, seq, number, birth_date, sex, training, source, status, issued_at, issued_by,
                                     applicant, document_key, person_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, 'lease', 'issued', ?6, ?7, ?8, ?9, ?10)",
            )
            .expect("insert");
        let base = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
        for i in issued..total {
            let (sex, issued_at, issued_by, applicant) = &template[i % template.len()];
            let mut v: serde_json::Value = serde_json::from_str(applicant).expect("stored applicant");
            let (g, s) = (given(i % 60), surname(i % 400));
            v["applicant"]["given_names"] = g.to_uppercase().as_str().into();
            v["applicant"]["surname"] = s.to_uppercase().as_str().into();
            v["given_names_latin"] = g.to_uppercase().as_str().into();
            v["surname_latin"] = s.to_uppercase().as_str().into();
            v["applicant"]["document"]["number"] = format!("SR{i:07}").into();
            let birth = base + chrono::Days::new((i / 10) as u64);
            let number = format!("{}{}", birth.format("%d%m%y"), 4000 + i % 10);
            let seq = i as i64 + 1;
            insert
                .execute((
                    format!("{desk_id}-{seq}"),
                    seq,
                    number,
                    birth.format("%Y-%m-%d").to_string(),
                    sex,
                    issued_at,
                    issued_by,
                    v.to_string(),
                    format!("{:064x}", i),
                    format!("{:064x}", i + (1 << 40)),
                ))
                .expect("copy");
        }
    }
    conn.execute_batch("COMMIT; PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE);").expect("commit");
    let count: i64 = conn.query_row("SELECT count(*) FROM record", [], |r| r.get(0)).expect("count");
    assert_eq!(count as usize, total);
    eprintln!("store filled with {total} records in {:?}", started.elapsed());

    let queries = [
        ("surname", surname(123)),
        ("full name", format!("{} {}", given(17), surname(77))),
        ("given and surname, lower case", format!("{} {}", given(3), surname(3)).to_lowercase()),
        ("unknown name (reads every record)", "Zyxwvutsrq".to_string()),
    ];
    let mut all = Vec::new();
    for (what, q) in &queries {
        // Warm-up: the first search opens the pages.
        let hits = store.search_records(&session, q).expect("search").len();
        let mut times: Vec<Duration> = (0..per_query)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(store.search_records(&session, q).expect("search"));
                t.elapsed()
            })
            .collect();
        times.sort_unstable();
        eprintln!(
            "  {what:<36} {q:<22} {hits:>4} hits  median {:7.2} ms  p99 {:7.2} ms",
            times[times.len() / 2].as_secs_f64() * 1e3,
            percentile(&times, 99).as_secs_f64() * 1e3
        );
        all.extend(times);
    }
    all.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p50, p99) = (percentile(&all, 50), percentile(&all, 99));
    let record = serde_json::json!({
        "figure": format!("search the desk's records by name at {total} records"),
        "unit": "ms",
        "median": ms(p50), "min": ms(all[0]), "max": ms(all[all.len() - 1]), "runs": all.len(),
        "target": "<= 20 ms",
        "met": p99 <= Duration::from_millis(20),
        "note": format!("p99 {:.1} ms over {} queries (surname, full name, unknown name) × {per_query}", ms(p99), queries.len()),
    });
    println!("BENCH {record}");
}
