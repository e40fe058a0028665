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

fn measure(data: &HandoutData<'_>) -> (Duration, Duration, usize) {
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
    (times[RUNS / 2], times[RUNS * 99 / 100], size)
}

fn main() {
    let creds = Credentials::issue(17, 42, &mut OsRandom).expect("credentials");
    let privacy = PrivacyContacts {
        controller: "Københavns Kommune, Jobcenter København".into(),
        contact: "Borgerservice, Nørre Allé 1, 2200 København N, tlf. 33 66 33 66".into(),
        dpo: "databeskyttelse@kk.dk".into(),
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

    let (b_med, b_p99, b_size) = measure(&base);
    let (h_med, h_p99, h_size) = measure(&heavy);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("handout render, {RUNS} runs each");
    println!("  da+en (baseline):      median {:7.2} ms  p99 {:7.2} ms  size {:6} bytes", ms(b_med), ms(b_p99), b_size);
    println!(
        "  da+en+el, training:    median {:7.2} ms  p99 {:7.2} ms  size {:6} bytes  ({:.2}x baseline)",
        ms(h_med),
        ms(h_p99),
        h_size,
        h_med.as_secs_f64() / b_med.as_secs_f64()
    );
    let verdict = if h_med < Duration::from_millis(20) { "met" } else { "MISSED" };
    println!(
        "  target median < 20 ms: {verdict}; target size < 80 KB: {}",
        if h_size < 80 * 1024 { "met" } else { "MISSED" }
    );
}
