//! Printing a handout through a real CUPS queue with the cups-pdf back end,
//! whose output PDF stands for the paper: the test finds it, reads its text,
//! checks the fields, and deletes it. It also checks that CUPS kept no copy
//! of the job's document in its spool.
//!
//! CUPS hands cups-pdf PostScript, which Ghostscript turns back into a PDF;
//! that round trip keeps every glyph on the page but can drop the text
//! mapping of letters outside Latin-1, so this test uses a Danish name. The
//! handout's own bytes are checked for Polish, Greek, Cyrillic and Romanian
//! names in `letter::tests`.
//!
//! Needs a running cupsd and the queue that `scripts/ci/cups-setup.sh`
//! (run as root) creates; without them the test fails and says so.
//! `SKRANKE_TEST_PRINTER` names another queue, `SKRANKE_TEST_PRINTER_OUT`
//! its output folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use skranke_core::credentials::{Credentials, LapseDays, OsRandom};
use skranke_core::letter::{lay_out_handout, HandoutData, PrivacyContacts};
use skranke_core::print::{CupsPrinter, Printer};

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).env("LC_ALL", "C").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a poppler tool on `pdf` fed on standard input.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} is needed to read the printed PDF ({e}): install poppler-utils"));
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{tool} could not read the printed PDF");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pdftotext(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-enc", "UTF-8", "-", "-"], pdf).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The printed PDF of CUPS job `n`: cups-pdf (Label 2) names it `TITLE-job_N.pdf`.
fn find_output(dir: &Path, n: &str) -> Option<PathBuf> {
    let (dot, dash) = (format!("job_{n}."), format!("job_{n}-"));
    std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
        p.file_name()
            .and_then(|f| f.to_str())
            .is_some_and(|f| f.ends_with(".pdf") && (f.contains(&dot) || f.contains(&dash)))
    })
}

#[test]
fn a_handout_printed_through_cups_comes_out_whole_and_leaves_no_spool_file() {
    let queue = std::env::var("SKRANKE_TEST_PRINTER").unwrap_or_else(|_| "skranke-test".to_owned());
    let out_dir = PathBuf::from(
        std::env::var("SKRANKE_TEST_PRINTER_OUT").unwrap_or_else(|_| format!("/var/spool/cups-pdf-{queue}")),
    );
    let status = run("lpstat", &["-r"]).unwrap_or_default();
    assert!(
        status.contains("is running"),
        "CUPS is not running (lpstat -r: {status:?}): run scripts/ci/cups-setup.sh as root first"
    );
    assert!(
        run("lpstat", &["-p", &queue]).is_some(),
        "CUPS has no queue {queue:?}: run scripts/ci/cups-setup.sh as root first"
    );

    let creds = Credentials::issue(17, 4242, &mut OsRandom).unwrap();
    let privacy = PrivacyContacts {
        controller: "Københavns Kommune".into(),
        contact: "borgerservice@kk.dk".into(),
        dpo: "dpo@kk.dk".into(),
        retention: String::new(),
    };
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let reference = format!("T{}x{nanos}", std::process::id());
    let data = HandoutData {
        municipality_name: "København",
        municipality_code: 101,
        office: "Borgerservice Nørrebro",
        desk_label: "Skranke 3",
        applicant_name: "Ærø Østergård",
        personnummer: "010190-4127",
        username: &creds.username,
        password: &creds.password,
        issue_date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        reference: &reference,
        training: true,
        lapse: LapseDays::default(),
        privacy: &privacy,
        language: Some("pl"),
    };
    let page = lay_out_handout(&data).unwrap();
    let job = CupsPrinter::new(&queue).unwrap().print(&page).unwrap();
    let job_id = job.job_id.expect("lp reports the job id");
    let n = job_id.rsplit('-').next().unwrap().to_owned();

    // Wait for the job to leave the queue and its PDF to appear.
    let deadline = Instant::now() + Duration::from_secs(90);
    let printed = loop {
        let pending = run("lpstat", &["-o", &queue]).unwrap_or_default();
        if !pending.contains(&job_id) {
            if let Some(p) = find_output(&out_dir, &n) {
                break p;
            }
        }
        assert!(
            Instant::now() < deadline,
            "job {job_id} produced no PDF in {} within 90 s (queue: {pending:?})",
            out_dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let name = printed.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&printed).unwrap();
    std::fs::remove_file(&printed).unwrap();
    assert!(!printed.exists());

    assert!(name.contains(&reference), "the job title is not the reference: {name}");
    let info = poppler("pdfinfo", &["-"], &bytes);
    assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 1")), "not one page: {info}");
    let text = pdftotext(&bytes);
    let password = creds.password.expose_grouped();
    for field in
        ["Ærø Østergård", "010190-4127", creds.username.as_str(), password.as_str(), reference.as_str(), "jobnet.dk"]
    {
        assert!(text.contains(field), "{field:?} missing from the printed handout:\n{text}");
    }

    // PreserveJobFiles No: no document file (dNNNNN-001) for the job remains.
    if let Ok(entries) = std::fs::read_dir("/var/spool/cups") {
        let doc = format!("d{:05}-", n.parse::<u32>().unwrap_or(0));
        let left: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with(&doc))
            .collect();
        assert!(left.is_empty(), "CUPS kept the job's document {left:?}: set PreserveJobFiles No");
    }
}
