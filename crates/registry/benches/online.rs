//! The registry's online requests under 50 desks at once: online allocation
//! (`POST /v1/allocate`), the duplicate lookup (`POST /v1/lookup`) and the
//! desk-status request (`POST /v1/sync`), each signed as a desk signs it,
//! against the release `skranke-registry serve --insecure-http` on loopback.
//! Target: p99 at most 20 ms, no request refused.
//!
//! Each desk stays within its rate limits, as a counter does: one
//! allocation and one status request every 500 ms (4 requests/s), and a
//! lookup every fifth round (24 a minute; the registry allows 30). The
//! desks start staggered over one period, as desks do that were not all
//! switched on in the same millisecond. Any answer other than 2xx, or none,
//! counts as a failure.
//!
//! Needs `DATABASE_URL` (`scripts/bench/35-online.sh` starts PostgreSQL) and
//! the release binary (`SKRANKE_REGISTRY_BIN`, default
//! `$CARGO_TARGET_DIR/release/skranke-registry`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use ed25519_dalek::{Signer, SigningKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use skranke_protocol::{
    header, signing_message, AllocateRequest, AllocateResponse, EnrolRequest, EnrolResponse, LookupRequest,
    LookupResponse, SyncAnswer, SyncRequest,
};
use skranke_registry::testing::TestDatabase;
use skranke_rules::cpr::Sex;

const DESKS: usize = 50;
const PERIOD: Duration = Duration::from_millis(500);
const LOOKUP_EVERY: usize = 5;
const FIGURE: &str = "registry online allocation, lookup and desk status, 50 desks at once";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Allocate,
    Lookup,
    Status,
}

struct Desk {
    id: String,
    key: SigningKey,
    agent: ureq::Agent,
    seen: i64,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .max_idle_connections_per_host(2)
        .build()
        .into()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("random bytes");
    b
}

/// One signed POST, as `core::sync`'s client signs it; `Err` on anything but 2xx.
fn post<Req: Serialize, Resp: DeserializeOwned>(
    desk: &Desk,
    base: &str,
    path: &str,
    body: &Req,
) -> Result<Resp, String> {
    let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let timestamp = Utc::now().timestamp();
    let nonce = hex::encode(random::<16>());
    let signature = desk.key.sign(&signing_message("POST", path, timestamp, &nonce, &bytes));
    let mut answer = desk
        .agent
        .post(&format!("{base}{path}"))
        .header("content-type", "application/json")
        .header(header::DESK, &desk.id)
        .header(header::TIMESTAMP, timestamp.to_string())
        .header(header::NONCE, nonce)
        .header(header::SIGNATURE, hex::encode(signature.to_bytes()))
        .send(&bytes[..])
        .map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("{path}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn enrol(base: &str, code: &str) -> Desk {
    let key = SigningKey::from_bytes(&random::<32>());
    let request =
        EnrolRequest { enrolment_code: code.to_string(), public_key: hex::encode(key.verifying_key().to_bytes()) };
    let agent = agent();
    let body = serde_json::to_vec(&request).expect("json");
    let mut answer = agent
        .post(&format!("{base}/v1/enrol"))
        .header("content-type", "application/json")
        .send(&body[..])
        .expect("enrol request");
    let text = answer.body_mut().read_to_string().expect("enrol answer");
    assert!(answer.status().is_success(), "enrolment refused: {} {text}", answer.status());
    let enrolled: EnrolResponse = serde_json::from_str(&text).expect("enrol answer");
    Desk { id: enrolled.desk_id, key, agent, seen: enrolled.registry_sequence }
}

/// One desk's session: `rounds` periods, starting after `offset`. Returns
/// (kind, latency) per answered request; failures are counted in `failed`.
fn work(
    desk: &mut Desk,
    base: &str,
    tag: usize,
    rounds: usize,
    offset: Duration,
    failed: &AtomicUsize,
    errors: &std::sync::Mutex<Vec<String>>,
) -> Vec<(Kind, Duration)> {
    let mut out = Vec::with_capacity(rounds * 3);
    let start = Instant::now() + offset;
    let note = |kind: Kind, t: Instant, r: Result<(), String>, out: &mut Vec<(Kind, Duration)>| match r {
        Ok(()) => out.push((kind, t.elapsed())),
        Err(e) => {
            failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut errors) = errors.lock() {
                errors.push(e);
            }
        }
    };
    for round in 0..rounds {
        let due = start + PERIOD * round as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let birth = NaiveDate::from_ymd_opt(1950, 1, 1).expect("date") + chrono::Days::new((tag * 131 + round) as u64);
        let request = AllocateRequest {
            idempotency_key: format!("{}/alloc/{}", desk.id, hex::encode(random::<16>())),
            birth_date: birth,
            sex: if round % 2 == 0 { Sex::Female } else { Sex::Male },
        };
        let t = Instant::now();
        let r = post::<_, AllocateResponse>(desk, base, "/v1/allocate", &request).map(|a| {
            desk.seen = desk.seen.max(a.registry_sequence);
        });
        note(Kind::Allocate, t, r, &mut out);

        if round % LOOKUP_EVERY == 0 {
            let request = LookupRequest {
                document_key: Some(hex::encode(random::<32>())),
                person_key: Some(hex::encode(random::<32>())),
            };
            let t = Instant::now();
            let r = post::<_, LookupResponse>(desk, base, "/v1/lookup", &request).map(|_| ());
            note(Kind::Lookup, t, r, &mut out);
        }

        let request = SyncRequest {
            highest_sequence_seen: desk.seen,
            sequence_receipt: None,
            unused_allocations: Vec::new(),
            records_issued: 0,
            units: Vec::new(),
            states_after: 0,
            notices_after: 0,
        };
        let t = Instant::now();
        let r = post::<_, SyncAnswer>(desk, base, "/v1/sync", &request).map(|a| {
            desk.seen = desk.seen.max(a.registry_sequence);
        });
        note(Kind::Status, t, r, &mut out);
    }
    out
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1).min(sorted.len() - 1)]
}

fn skip(reason: &str) {
    println!("BENCH-SKIP {}", json!({ "figure": FIGURE, "reason": reason }));
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::var("DATABASE_URL").is_err() {
        return skip("DATABASE_URL not set (no PostgreSQL)");
    }
    let bin = std::env::var_os("SKRANKE_REGISTRY_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
        target.join("release/skranke-registry")
    });
    if !bin.exists() {
        return skip("no release build of skranke-registry");
    }
    let runs: usize = std::env::var("SKRANKE_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let rounds: usize = std::env::var("SKRANKE_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);

    let db = TestDatabase::create(None);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(std::env::temp_dir().join(format!("skranke-online-bench-{port}.log")))
        .expect("server log");
    // The registry's key, as a container secret would hold it.
    let key = skranke_registry::RegistryKey::generate(chrono::Utc::now()).to_file_json();
    let mut command = Command::new(&bin);
    command
        .args(["serve", "--insecure-http", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db.url)
        .env("SKRANKE_REGISTRY_KEY", &key)
        .env_remove("SKRANKE_REGISTRY_KEY_FILE")
        .stdout(Stdio::null())
        .stderr(log);
    let _server = Server(command.spawn().expect("start skranke-registry"));
    let probe = agent();
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        probe.get(&format!("{base}/health")).call().is_ok_and(|r| r.status().is_success())
    });
    if !up {
        return skip("the registry did not start");
    }

    // Enrolment codes through the operator command, as an operator makes them.
    let mut desks: Vec<Desk> = (0..DESKS)
        .map(|i| {
            let out = Command::new(&bin)
                .args(["enrolment-code", "--municipality", "101", "--office", "Borgerservice"])
                .args(["--desk", &(i + 1).to_string()])
                .env("DATABASE_URL", &db.url)
                .env("SKRANKE_REGISTRY_KEY", &key)
                .env_remove("SKRANKE_REGISTRY_KEY_FILE")
                .env("SKRANKE_LANG", "en")
                .output()
                .expect("enrolment-code");
            assert!(out.status.success(), "enrolment-code: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            let code = text.split_whitespace().last().expect("a code").to_string();
            enrol(&base, &code)
        })
        .collect();

    let (mut p99s, mut all, mut total_failed) = (Vec::new(), Vec::new(), 0);
    let errors = std::sync::Mutex::new(Vec::new());
    for run in 0..runs {
        let failed = AtomicUsize::new(0);
        let results: Vec<(Kind, Duration)> = std::thread::scope(|s| {
            let handles: Vec<_> = desks
                .iter_mut()
                .enumerate()
                .map(|(i, desk)| {
                    let (base, failed, errors) = (&base, &failed, &errors);
                    let offset = PERIOD * i as u32 / DESKS as u32;
                    s.spawn(move || work(desk, base, run * DESKS + i, rounds, offset, failed, errors))
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("desk thread")).collect()
        });
        let mut times: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
        times.sort_unstable();
        let p99 = percentile(&times, 99);
        eprintln!(
            "run {run}: {} requests, {} failed, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            times.len(),
            failed.load(Ordering::Relaxed),
            percentile(&times, 50).as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
        p99s.push(p99);
        total_failed += failed.load(Ordering::Relaxed);
        all.extend(results);
    }
    for e in errors.lock().map(|e| e.clone()).unwrap_or_default().iter().take(5) {
        eprintln!("  failure: {e}");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let by_kind = |k: Kind| {
        let mut v: Vec<Duration> = all.iter().filter(|(kind, _)| *kind == k).map(|(_, d)| *d).collect();
        v.sort_unstable();
        (v.len(), percentile(&v, 50), percentile(&v, 99))
    };
    let mut kinds = Vec::new();
    for (name, k) in [("allocate", Kind::Allocate), ("lookup", Kind::Lookup), ("status", Kind::Status)] {
        let (n, p50, p99) = by_kind(k);
        eprintln!("  {name:<9} {n:>5} requests  median {:6.2} ms  p99 {:6.2} ms", ms(p50), ms(p99));
        kinds.push(format!("{name} median {:.1} / p99 {:.1} ms", ms(p50), ms(p99)));
    }
    p99s.sort_unstable();
    let median_p99 = p99s[p99s.len() / 2];
    let record = json!({
        "figure": FIGURE, "unit": "ms p99",
        "median": ms(median_p99), "min": ms(p99s[0]), "max": ms(p99s[p99s.len() - 1]), "runs": runs,
        "target": "p99 <= 20 ms, no refusal",
        "met": median_p99 <= Duration::from_millis(20) && total_failed == 0,
        "note": format!("{} requests, {total_failed} failed; {}", all.len() + total_failed, kinds.join("; ")),
    });
    println!("BENCH {record}");
}
