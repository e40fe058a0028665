//! Issuing and reprinting with the Jobnet login and the handout, end to end
//! through the real `skranke` binary, the real OS key store, poppler's
//! `pdftotext`, and the real CUPS queue `skranke-test` (cups-pdf back end;
//! `scripts/ci/cups-setup.sh`, run as root, sets it up; its output PDF
//! stands for the paper and is deleted once checked).
//!
//! The password is never taken from the program's output (it is never
//! there): only from the text of the handout a supervisor saved or the
//! printer produced.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use skranke_core::credentials::PasswordHash;

use common::{at_desk, ok, password_in, pdftotext, text, training_desk};

const ADMIN_PW: &str = "admin password 1";
const STAFF_PW: &str = "staff password 1";
const QUEUE: &str = "skranke-test";

fn as_admin() -> Vec<(&'static str, &'static str)> {
    vec![("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

fn as_staff(name: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("SKRANKE_STAFF", name), ("SKRANKE_STAFF_PASSWORD", STAFF_PW)]
}

/// A training desk with its privacy notice set, a supervisor Sofie and a
/// clerk Carl. Returns the desk ID.
fn desk(dir: &Path) -> String {
    let settings = [
        ("privacy_controller", "Københavns Kommune"),
        ("privacy_contact", "borgerservice@kk.dk"),
        ("privacy_dpo", "dpo@example.dk"),
    ];
    training_desk(dir, ADMIN_PW, &settings, &[("Sofie", "supervisor"), ("Carl", "clerk")], STAFF_PW)
}

fn applicant(given: &str, surname: &str, doc: &str, language: &str) -> String {
    json!({
      "given_names": given, "surname": surname, "birth_date": "1988-03-09", "sex": "M",
      "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "PL", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": language,
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
    .to_string()
}

fn forget(desk_id: &str) {
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, desk_id).unwrap();
}

/// The stored hashes of a record's login, oldest first: (PHC, superseded).
fn stored_hashes(dir: &Path, record_id: &str) -> Vec<(PasswordHash, bool)> {
    let store = skranke_core::store::Store::open(dir, Box::new(skranke_core::keystore::OsKeyStore), chrono::Utc::now())
        .unwrap();
    let mut stmt = store
        .connection()
        .prepare("SELECT hash, superseded_at IS NOT NULL FROM login_hash WHERE record_id = ?1 ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([record_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
        .unwrap()
        .map(|r| r.map(|(h, s)| (PasswordHash::from_phc(&h).unwrap(), s)))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// The outbox events of a record: (kind, payload).
fn outbox(dir: &Path, record_id: &str) -> Vec<(String, Value)> {
    let store = skranke_core::store::Store::open(dir, Box::new(skranke_core::keystore::OsKeyStore), chrono::Utc::now())
        .unwrap();
    let mut stmt =
        store.connection().prepare("SELECT kind, payload FROM outbox WHERE record_id = ?1 ORDER BY seq").unwrap();
    let rows = stmt
        .query_map([record_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| r.map(|(k, p)| (k, serde_json::from_str(&p).unwrap())))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

#[test]
fn a_supervisors_pdf_holds_number_username_and_name_and_no_output_holds_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk(dir.path());
    let pdf = dir.path().join("handout.pdf");
    let input = applicant("Łukasz", "Żółć", "EA1234567", "pl");
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"],
        &as_staff("Sofie"),
        input.as_bytes(),
    );
    ok(&o);
    let v: Value = serde_json::from_str(&text(&o).0).unwrap();
    let (number, username) = (v["number"].as_str().unwrap(), v["username"].as_str().unwrap());
    assert_eq!(v["handout"], "saved");
    let page = pdftotext(&std::fs::read(&pdf).unwrap());
    std::fs::remove_file(&pdf).unwrap();
    for field in [number, username, "Łukasz Żółć", v["record_id"].as_str().unwrap(), "jobnet.dk", "Københavns Kommune"]
    {
        assert!(page.contains(field), "{field:?} missing from the handout:\n{page}");
    }
    let password = password_in(&page);
    let (out, err) = text(&o);
    for form in [password.clone(), password.replace(' ', "")] {
        assert!(!out.contains(&form) && !err.contains(&form), "the password leaked into the output");
    }
    // What the desk keeps verifies it; the issued event carries the hash and username only.
    let id = v["record_id"].as_str().unwrap();
    let hashes = stored_hashes(dir.path(), id);
    assert_eq!(hashes.len(), 1);
    assert!(hashes[0].0.verify(&password));
    let events = outbox(dir.path(), id);
    assert_eq!(events[0].0, "issued");
    // The key the wire reads (`protocol::IssuedRecord::jobnet_username`).
    assert_eq!(events[0].1["jobnet_username"], username);
    assert_eq!(events[0].1["password_hash"], hashes[0].0.as_str());
    assert!(!events[0].1.to_string().contains(&password.replace(' ', "")));

    // Human output: the username, never the password.
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap()],
        &as_staff("Sofie"),
        applicant("Ærø", "Østergård", "EA7654321", "da").as_bytes(),
    );
    ok(&o);
    let page = pdftotext(&std::fs::read(&pdf).unwrap());
    std::fs::remove_file(&pdf).unwrap();
    let password = password_in(&page);
    let (out, err) = text(&o);
    assert!(out.contains("Jobnet username: ") && out.contains(&pdf.display().to_string()), "{out}");
    assert!(!out.contains(&password) && !err.contains(&password) && !out.contains(&password.replace(' ', "")));
    forget(&desk_id);
}

#[test]
fn a_clerks_pdf_is_refused_with_exit_1_and_nothing_is_issued_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk(dir.path());
    let pdf = dir.path().join("handout.pdf");
    let input = applicant("Jan", "Nowak", "EA1234567", "pl");
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap()],
        &as_staff("Carl"),
        input.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("supervisor"), "{:?}", text(&o));
    assert!(!pdf.exists());
    let o = at_desk(dir.path(), &["records", "list", "--json"], &as_admin(), b"");
    assert_eq!(serde_json::from_str::<Value>(&text(&o).0).unwrap().as_array().unwrap().len(), 0);
    // Neither flag, or both: a usage error.
    let o = at_desk(dir.path(), &["issue", "--applicant", "-"], &as_staff("Carl"), input.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--print", "--pdf", "x.pdf"],
        &as_staff("Carl"),
        input.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(2));
    // Printing without a printer set: a setup problem, exit 2, nothing issued.
    let o = at_desk(dir.path(), &["issue", "--applicant", "-", "--print"], &as_staff("Carl"), input.as_bytes());
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("skranke settings set printer"), "{:?}", text(&o));
    let o = at_desk(dir.path(), &["records", "list", "--json"], &as_admin(), b"");
    assert_eq!(serde_json::from_str::<Value>(&text(&o).0).unwrap().as_array().unwrap().len(), 0);
    forget(&desk_id);
}

#[test]
fn a_reprint_makes_a_new_password_and_the_old_one_stops_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk(dir.path());
    let (first, second) = (dir.path().join("first.pdf"), dir.path().join("second.pdf"));
    let input = applicant("Ștefan", "Dumitrașcu", "EA1234567", "ro");
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", first.to_str().unwrap(), "--json"],
        &as_staff("Sofie"),
        input.as_bytes(),
    );
    ok(&o);
    let v: Value = serde_json::from_str(&text(&o).0).unwrap();
    let id = v["record_id"].as_str().unwrap().to_owned();
    let old = password_in(&pdftotext(&std::fs::read(&first).unwrap()));
    std::fs::remove_file(&first).unwrap();

    // A clerk may not save a reprint as a PDF.
    let o = at_desk(dir.path(), &["reprint", &id, "--pdf", second.to_str().unwrap()], &as_staff("Carl"), b"");
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(!second.exists());

    let o =
        at_desk(dir.path(), &["reprint", &id, "--pdf", second.to_str().unwrap(), "--json"], &as_staff("Sofie"), b"");
    ok(&o);
    let r: Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(
        (r["record_id"].as_str(), r["username"].as_str(), r["handout"].as_str()),
        (Some(id.as_str()), v["username"].as_str(), Some("saved"))
    );
    let page = pdftotext(&std::fs::read(&second).unwrap());
    std::fs::remove_file(&second).unwrap();
    assert!(page.contains("Ștefan Dumitrașcu") && page.contains(v["number"].as_str().unwrap()), "{page}");
    let new = password_in(&page);
    assert_ne!(old, new);

    let hashes = stored_hashes(dir.path(), &id);
    assert_eq!(hashes.len(), 2, "the old hash is kept");
    let (superseded, current) = (&hashes[0], &hashes[1]);
    assert!(superseded.1 && !current.1, "the first is superseded, the second current");
    assert!(current.0.verify(&new));
    assert!(!current.0.verify(&old), "the old password no longer verifies");
    let events = outbox(dir.path(), &id);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["issued", "reprinted"]);
    assert_eq!(events[1].1["password_hash"], current.0.as_str());
    let o = at_desk(dir.path(), &["audit", "verify"], &[], b"");
    ok(&o);
    // A voided record is not reprinted.
    ok(&at_desk(dir.path(), &["void", &id, "--reason", "duplicate"], &as_staff("Sofie"), b""));
    let o = at_desk(dir.path(), &["reprint", &id, "--pdf", second.to_str().unwrap()], &as_staff("Sofie"), b"");
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(!second.exists());
    forget(&desk_id);
}

#[test]
fn a_print_that_fails_after_the_commit_exits_2_names_the_record_and_a_reprint_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk(dir.path());
    // An installed queue whose spooler refuses the job (as lp does with
    // the queue stopped or CUPS gone): an `lp` first on PATH that fails.
    require_cups();
    ok(&at_desk(dir.path(), &["settings", "set", "printer", QUEUE], &as_admin(), b""));
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let lp = bin.join("lp");
    std::fs::write(&lp, "#!/bin/sh\necho 'lp: Unable to connect to the spooler' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&lp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let carl = [as_staff("Carl"), vec![("PATH", path.as_str())]].concat();
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--print", "--json"],
        &carl,
        applicant("Jan", "Nowak", "EA1234567", "pl").as_bytes(),
    );
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    let v: Value = serde_json::from_str(&text(&o).0).unwrap();
    let id = v["record_id"].as_str().unwrap().to_owned();
    assert_eq!(v["handout"], "failed");
    let err = text(&o).1;
    assert!(err.contains(&format!("skranke reprint {id} --print")) && err.contains("did NOT come out"), "{err}");
    // The record and its login are committed; its one hash is marked undelivered.
    let o = at_desk(dir.path(), &["records", "list", "--json"], &as_admin(), b"");
    assert_eq!(serde_json::from_str::<Value>(&text(&o).0).unwrap().as_array().unwrap().len(), 1);
    let hashes = stored_hashes(dir.path(), &id);
    assert_eq!(hashes.len(), 1);

    let pdf = dir.path().join("again.pdf");
    ok(&at_desk(dir.path(), &["reprint", &id, "--pdf", pdf.to_str().unwrap()], &as_staff("Sofie"), b""));
    let password = password_in(&pdftotext(&std::fs::read(&pdf).unwrap()));
    std::fs::remove_file(&pdf).unwrap();
    let hashes = stored_hashes(dir.path(), &id);
    assert!(hashes[0].1 && !hashes[1].1);
    assert!(hashes[1].0.verify(&password) && !hashes[0].0.verify(&password));
    forget(&desk_id);
}

#[test]
fn settings_are_admin_only_checked_and_named_in_every_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk(dir.path());
    let o = at_desk(dir.path(), &["settings", "set", "password_lapse_days", "30"], &as_staff("Sofie"), b"");
    assert_eq!(o.status.code(), Some(1), "a supervisor is not an admin");
    let o = at_desk(dir.path(), &["settings", "set", "password_lapse_days", "366"], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("password_lapse_days") && text(&o).1.contains("365"), "{:?}", text(&o));
    let o = at_desk(dir.path(), &["settings", "set", "printer", "two words"], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("printer"), "{:?}", text(&o));
    // A printer this PC does not have is refused naming the ones it has.
    require_cups();
    let o = at_desk(dir.path(), &["settings", "set", "printer", "skranke-no-such-queue"], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let err = text(&o).1;
    assert!(err.contains("printer") && err.contains("skranke-no-such-queue") && err.contains(QUEUE), "{err}");
    // The same list `settings printers` gives, as lpstat -e has it.
    let listed: Vec<String> =
        serde_json::from_str(&ok(&at_desk(dir.path(), &["settings", "printers", "--json"], &[], b""))).unwrap();
    let lpstat_e: Vec<String> = lpstat(&["-e"]).unwrap_or_default().lines().map(str::to_owned).collect();
    assert!(listed.iter().any(|p| p == QUEUE), "{listed:?}");
    assert_eq!(listed.len(), lpstat_e.len(), "{listed:?} against lpstat -e {lpstat_e:?}");
    let o = at_desk(dir.path(), &["settings", "get", "colour"], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("colour") && text(&o).1.contains("privacy_dpo"), "{:?}", text(&o));

    let o = at_desk(dir.path(), &["settings", "get", "password_lapse_days", "--json"], &as_admin(), b"");
    ok(&o);
    assert_eq!(
        serde_json::from_str::<Value>(&text(&o).0).unwrap(),
        json!({"key": "password_lapse_days", "value": "14", "default": true, "source": "default"})
    );
    ok(&at_desk(dir.path(), &["settings", "set", "password_lapse_days", " 30 "], &as_admin(), b""));
    ok(&at_desk(dir.path(), &["settings", "set", "privacy_dpo", "dpo@kk.dk"], &as_admin(), b""));
    let o = at_desk(dir.path(), &["settings", "get", "--json"], &as_admin(), b"");
    let all: Value = serde_json::from_str(&text(&o).0).unwrap();
    let find = |k: &str| all.as_array().unwrap().iter().find(|s| s["key"] == k).unwrap().clone();
    assert_eq!(
        find("password_lapse_days"),
        json!({"key": "password_lapse_days", "value": "30", "default": false, "source": "desk"})
    );
    assert_eq!(find("privacy_dpo")["value"], "dpo@kk.dk");
    assert_eq!(find("printer")["value"], Value::Null);

    // The handout says 30 days now.
    let pdf = dir.path().join("h.pdf");
    ok(&at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap()],
        &as_admin(),
        applicant("Jan", "Nowak", "EA1234567", "en").as_bytes(),
    ));
    let page = pdftotext(&std::fs::read(&pdf).unwrap());
    std::fs::remove_file(&pdf).unwrap();
    assert!(page.contains("30 days") && page.contains("dpo@kk.dk"), "{page}");
    forget(&desk_id);
}

// ------------------------------------------------------------ real printing

fn lpstat(args: &[&str]) -> Option<String> {
    let out = Command::new("lpstat").args(args).env("LC_ALL", "C").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn require_cups() -> PathBuf {
    let status = lpstat(&["-r"]).unwrap_or_default();
    assert!(status.contains("is running"), "CUPS is not running: run scripts/ci/cups-setup.sh as root first");
    assert!(lpstat(&["-p", QUEUE]).is_some(), "no CUPS queue {QUEUE}: run scripts/ci/cups-setup.sh as root first");
    PathBuf::from(format!("/var/spool/cups-pdf-{QUEUE}"))
}

/// Waits for CUPS job `job_id` (e.g. `skranke-test-12`) to leave the queue
/// and returns the PDF cups-pdf made of it (`TITLE-job_N.pdf`).
fn printed_output(out_dir: &Path, job_id: &str) -> PathBuf {
    let n = job_id.rsplit('-').next().unwrap();
    let marker = format!("job_{n}.");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pending = lpstat(&["-o", QUEUE]).unwrap_or_default();
        if !pending.split_whitespace().any(|w| w == job_id) {
            let found = std::fs::read_dir(out_dir).ok().and_then(|entries| {
                entries.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                    p.file_name().and_then(|f| f.to_str()).is_some_and(|f| f.contains(&marker) && f.ends_with(".pdf"))
                })
            });
            if let Some(p) = found {
                return p;
            }
        }
        assert!(Instant::now() < deadline, "job {job_id} made no PDF in {} within 90 s", out_dir.display());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The CUPS job id in the human output: "(job skranke-test-12)".
fn job_id(out: &str) -> String {
    let rest = out.split("(job ").nth(1).unwrap_or_else(|| panic!("no job id in {out:?}"));
    rest.split(')').next().unwrap().to_owned()
}

/// Every regular file under `root` (symlinks not followed), skipping what cannot be read.
fn files_under(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.filter_map(|e| e.ok()) {
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            files_under(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&b| b == needle[0]) {
        if hay[from + p..].starts_with(needle) {
            return true;
        }
        from += p + 1;
    }
    false
}

/// Files (and the text of PDFs) under `roots` that hold any of `secrets`.
/// Only files written since `since` can hold a password made after it.
fn holders(roots: &[PathBuf], secrets: &[String], since: std::time::SystemTime) -> Vec<String> {
    let mut files = Vec::new();
    for root in roots {
        files_under(root, &mut files);
    }
    let mut found = Vec::new();
    for f in files {
        let Ok(meta) = std::fs::metadata(&f) else { continue };
        if meta.modified().is_ok_and(|m| m < since) || meta.len() > 256 << 20 {
            continue;
        }
        let Ok(bytes) = std::fs::read(&f) else { continue };
        let hit = |hay: &[u8]| secrets.iter().any(|s| contains(hay, s.as_bytes()));
        if hit(&bytes) {
            found.push(f.display().to_string());
        } else if bytes.starts_with(b"%PDF") && hit(pdftotext(&bytes).as_bytes()) {
            found.push(format!("{} (its text)", f.display()));
        }
    }
    found
}

#[test]
fn printing_through_cups_then_no_plaintext_password_remains_anywhere_on_disk() {
    let out_dir = require_cups();
    // File times have coarse resolution on some file systems: a second of margin.
    let since = std::time::SystemTime::now() - Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk(dir.path());
    ok(&at_desk(dir.path(), &["settings", "set", "printer", QUEUE], &as_admin(), b""));
    // The program's own temp folder (TMPDIR, which lp inherits too) is one
    // the test can scan whole; the shared /tmp is scanned as well below.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmp_env = ("TMPDIR", tmp.to_str().unwrap());
    let clerk = [as_staff("Carl"), vec![tmp_env]].concat();
    let supervisor = [as_staff("Sofie"), vec![tmp_env]].concat();

    // A clerk prints. (The PostScript round trip in CUPS keeps Latin-1 text
    // extractable, so the printed name is Danish; other scripts are checked
    // on the supervisor's PDF above.)
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--print"],
        &clerk,
        applicant("Ærø", "Østergård", "EA1234567", "pl").as_bytes(),
    );
    ok(&o);
    let out = text(&o).0;
    let job = job_id(&out);
    let username = out.split("Jobnet username: ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let o = at_desk(dir.path(), &["records", "list", "--json"], &as_admin(), b"");
    let records: Value = serde_json::from_str(&text(&o).0).unwrap();
    let (id, number) =
        (records[0]["record_id"].as_str().unwrap().to_owned(), records[0]["number"].as_str().unwrap().to_owned());

    let printed = printed_output(&out_dir, &job);
    let name = printed.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&printed).unwrap();
    assert!(name.starts_with(&id), "the job is titled with the reference only: {name}");
    let page = pdftotext(&bytes);
    for field in [number.as_str(), username.as_str(), "Ærø Østergård", id.as_str()] {
        assert!(page.contains(field), "{field:?} missing from the printed handout:\n{page}");
    }
    let printed_password = password_in(&page);
    assert!(stored_hashes(dir.path(), &id)[0].0.verify(&printed_password));
    // The scan below would see this paper's password (through the PDF's
    // text) and a plain copy of it; then the paper goes.
    let planted = tmp.join("planted");
    std::fs::write(&planted, printed_password.replace(' ', "")).unwrap();
    let seen = holders(&[out_dir.clone(), tmp.clone()], std::slice::from_ref(&printed_password), since);
    assert!(seen.contains(&format!("{} (its text)", printed.display())), "{seen:?}");
    let seen = holders(std::slice::from_ref(&tmp), &[printed_password.replace(' ', "")], since);
    assert_eq!(seen, [planted.display().to_string()]);
    std::fs::remove_file(&planted).unwrap();
    std::fs::remove_file(&printed).unwrap();

    // A supervisor saves one as a PDF: checked, then removed.
    let pdf = dir.path().join("saved.pdf");
    ok(&at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap()],
        &supervisor,
        applicant("Jan", "Nowak", "EA7654321", "pl").as_bytes(),
    ));
    let saved_password = password_in(&pdftotext(&std::fs::read(&pdf).unwrap()));
    std::fs::remove_file(&pdf).unwrap();

    // Now nothing on disk may hold either password, in print form or typed
    // without spaces: the desk's folder (with the program's temp folder),
    // the system temp folders, the CUPS spool (with cups-pdf's work folder
    // and the queue's output), and the logs.
    let mut secrets = Vec::new();
    for p in [&printed_password, &saved_password] {
        secrets.push(p.clone());
        secrets.push(p.replace(' ', ""));
    }
    let roots: Vec<PathBuf> = [
        dir.path().to_path_buf(),
        std::env::temp_dir(),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/var/spool/cups"),
        PathBuf::from("/var/spool/cups-pdf"),
        out_dir.clone(),
        PathBuf::from("/var/log"),
    ]
    .into_iter()
    .collect();
    let found = holders(&roots, &secrets, since);
    assert!(found.is_empty(), "a plaintext password remains on disk in {found:?}");
    forget(&desk_id);
}
