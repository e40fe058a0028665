//! Rendering one handout: median and 99th percentile over many runs, and
//! the PDF's size. Target: median under 20 ms in a release build.
//!
//! `cargo bench -p skranke-core --bench handout`
//!
//! The baseline, measured in the same run, is a Danish and English handout;
//! the heaviest case is three languages (Greek, the longest catalog) with the
//! TRAINING watermark, reported as a ratio against it.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use skranke_core::credentials::{Credentials, LapseDays, OsRandom};
use skranke_core::letter::{render_handout, HandoutData, PrivacyContacts};

const RUNS: usize = 200;

struct Measured {
    median: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
    size: usize,
}

fn measure(data: &HandoutData<'_>) -> Measured {
    // Warm up: the fonts are parsed once per process.
    let size = render_handout(data).expect("handout renders").len();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let bytes = render_handout(data).expect("handout renders");
            let elapsed = start.elapsed();
            std::hint::black_box(bytes);
            elapsed
        })
        .collect();
    times.sort_unstable();
    Measured { median: times[RUNS / 2], p99: times[RUNS * 99 / 100], min: times[0], max: times[RUNS - 1], size }
}

fn main() {
    let creds = Credentials::issue(17, 42, &mut OsRandom).expect("credentials");
    let privacy = PrivacyContacts {
        controller: "Københavns Kommune, Jobcenter København".into(),
        contact: "Borgerservice, Nørre Allé 1, 2200 København N, tlf. 33 66 33 66".into(),
        dpo: "databeskyttelse@kk.dk".into(),
        retention: String::new(),
    };
    let base = HandoutData {
        municipality_name: "København",
        municipality_code: 101,
        office: "Borgerservice Nørrebro",
        desk_label: "Skranke 3",
        applicant_name: "Ærø Østergård",
        personnummer: "010190-4127",
        username: &creds.username,
        password: &creds.password,
        issue_date: NaiveDate::from_ymd_opt(2026, 11, 26).expect("date"),
        reference: "D17-000042",
        training: false,
        lapse: LapseDays::default(),
        privacy: &privacy,
        language: None,
    };
    let heavy = HandoutData {
        applicant_name: "Γεώργιος Παπαδόπουλος", training: true, language: Some("el"), ..base
    };

    let (b, h) = (measure(&base), measure(&heavy));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("handout render, {RUNS} runs each");
    println!(
        "  da+en (baseline):      median {:7.2} ms  p99 {:7.2} ms  size {:6} bytes",
        ms(b.median),
        ms(b.p99),
        b.size
    );
    println!(
        "  da+en+el, training:    median {:7.2} ms  p99 {:7.2} ms  size {:6} bytes  ({:.2}x baseline)",
        ms(h.median),
        ms(h.p99),
        h.size,
        h.median.as_secs_f64() / b.median.as_secs_f64()
    );
    // Lines for scripts/bench/report.py.
    let row = |figure: &str, m: &Measured| {
        serde_json::json!({
            "figure": figure, "unit": "ms", "median": ms(m.median), "min": ms(m.min), "max": ms(m.max),
            "runs": RUNS, "target": "median < 20 ms", "met": m.median < Duration::from_millis(20),
        })
    };
    println!("BENCH {}", row("handout render, da+en", &b));
    let mut heavy_row = row("handout render, da+en+el, TRAINING", &h);
    heavy_row["baseline"] = "handout render, da+en".into();
    heavy_row["baseline_median"] = ms(b.median).into();
    heavy_row["ratio"] = (h.median.as_secs_f64() / b.median.as_secs_f64()).into();
    heavy_row["note"] = format!("p99 {:.2} ms", ms(h.p99)).into();
    println!("BENCH {heavy_row}");
    let size = serde_json::json!({
        "figure": "handout PDF size, da+en+el, TRAINING", "unit": "KB",
        "median": h.size as f64 / 1024.0, "min": h.size as f64 / 1024.0, "max": h.size as f64 / 1024.0,
        "runs": 1, "target": "< 80 KB", "met": h.size < 80 * 1024,
        "baseline": "da+en", "baseline_median": b.size as f64 / 1024.0, "ratio": h.size as f64 / b.size as f64,
    });
    println!("BENCH {size}");
}
