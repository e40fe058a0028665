//! `skranke purge` and `skranke reprint --document` end to end, through the
//! real binary, the real OS key store and SQLCipher. The test moves a
//! record's issue time back (as an attacker holding the key could, or as 31
//! days would) so that retention has something due without waiting a month.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use skranke_core::keystore::OsKeyStore;
use skranke_core::store::Store;

use common::{at_desk, ok, text, training_desk};

const ADMIN_PW: &str = "admin password 1";
const STAFF_PW: &str = "staff password 1";

fn as_admin() -> Vec<(&'static str, &'static str)> {
    vec![("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

fn as_clerk() -> Vec<(&'static str, &'static str)> {
    vec![("SKRANKE_STAFF", "Carl"), ("SKRANKE_STAFF_PASSWORD", STAFF_PW)]
}

/// A training desk with its privacy controller set and a clerk Carl. Returns the desk ID.
fn desk(dir: &Path) -> String {
    training_desk(
        dir,
        ADMIN_PW,
        &[
            ("privacy_controller", "Københavns Kommune"),
            ("privacy_contact", "borgerservice@example.dk"),
            ("privacy_dpo", "dpo@example.dk"),
        ],
        &[("Carl", "clerk")],
        STAFF_PW,
    )
}

fn applicant(surname: &str, doc: &str) -> String {
    json!({
      "given_names": "Łukasz", "surname": surname, "birth_date": "1988-03-09", "sex": "M",
      "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "PL", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "pl",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
    .to_string()
}

fn issue(dir: &Path, surname: &str, doc: &str) -> String {
    let pdf = dir.join(format!("{surname}.pdf"));
    let o = at_desk(
        dir,
        &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"],
        &as_admin(),
        applicant(surname, doc).as_bytes(),
    );
    ok(&o);
    let v: Value = serde_json::from_str(&text(&o).0).unwrap();
    v["record_id"].as_str().unwrap().to_string()
}

/// Moves a record's issue back by `days`, without the automatic retention run.
fn backdate(dir: &Path, record_id: &str, days: i64) {
    let store = Store::open_without_retention(dir, Box::new(OsKeyStore), chrono::Utc::now()).unwrap();
    let at = skranke_core::store::timestamp(chrono::Utc::now() - chrono::Duration::days(days));
    store.connection().execute("UPDATE record SET issued_at = ?2 WHERE id = ?1", (record_id, at)).unwrap();
}

fn has_applicant(dir: &Path, record_id: &str) -> bool {
    let store = Store::open_without_retention(dir, Box::new(OsKeyStore), chrono::Utc::now()).unwrap();
    store
        .connection()
        .query_row("SELECT applicant IS NOT NULL FROM record WHERE id = ?1", [record_id], |r| r.get(0))
        .unwrap()
}

fn pdftotext(path: &Path) -> String {
    let out = Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(path).arg("-").output().expect("pdftotext runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn purge_dry_run_changes_nothing_purge_erases_the_due_record_and_a_reprint_then_needs_the_same_document() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let desk_id = desk(dir);
    let old = issue(dir, "Kowalski", "EA1234567");
    let young = issue(dir, "Nowak", "EA7654321");
    backdate(dir, &old, 31);

    // A clerk may not purge.
    let o = at_desk(dir, &["purge", "--dry-run"], &as_clerk(), b"");
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));

    // Dry run: reports the due record, by ID only, and changes nothing.
    let o = at_desk(dir, &["purge", "--dry-run", "--json"], &as_admin(), b"");
    ok(&o);
    let (out, _) = text(&o);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["retention_days"], 30);
    let erased: Vec<&str> =
        report["erased"].as_array().unwrap().iter().map(|r| r["record_id"].as_str().unwrap()).collect();
    assert_eq!(erased, [old.as_str()]);
    assert_eq!(report["erased"][0]["basis"], "training");
    assert!(has_applicant(dir, &old), "a dry run erased");
    for secret in ["Kowalski", "EA1234567", "Łukasz"] {
        assert!(!out.contains(secret), "{secret} in the purge output");
    }

    // The purge itself, human output.
    let o = at_desk(dir, &["purge"], &as_admin(), b"");
    ok(&o);
    let (out, _) = text(&o);
    assert!(out.contains(&old) && out.contains("Erased personal data of 1 record"), "{out}");
    assert!(!out.contains(&young) && !out.contains("Kowalski"));
    assert!(!has_applicant(dir, &old));
    assert!(has_applicant(dir, &young));
    let o = at_desk(dir, &["records", "show", &old, "--json"], &as_admin(), b"");
    ok(&o);
    assert!(!text(&o).0.contains("Kowalski"));

    // A reprint without the document: refused, and the message says what to give.
    let pdf = |n: &str| dir.join(format!("reprint-{n}.pdf"));
    let o = at_desk(dir, &["reprint", &old, "--pdf", pdf("none").to_str().unwrap()], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("--document"), "{:?}", text(&o));
    // Another document: refused naming the field, nothing written.
    let o = at_desk(
        dir,
        &["reprint", &old, "--pdf", pdf("wrong").to_str().unwrap(), "--document", "EA7654321", "--surname", "Kowalski"],
        &as_admin(),
        b"",
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("document.number"), "{:?}", text(&o));
    assert!(!pdf("wrong").exists());
    // The same document: the handout carries the names shown again.
    let o = at_desk(
        dir,
        &[
            "reprint",
            &old,
            "--pdf",
            pdf("right").to_str().unwrap(),
            "--document",
            "EA 1234567",
            "--issuing-state",
            "PL",
            "--surname",
            "Kowalski",
            "--given-names",
            "Łukasz",
            "--json",
        ],
        &as_admin(),
        b"",
    );
    ok(&o);
    let handout = pdftotext(&pdf("right"));
    assert!(handout.contains("Łukasz Kowalski"), "{handout}");
    assert!(!has_applicant(dir, &old), "the names shown again are not stored");
    skranke_core::desk::forget_keys(&OsKeyStore, &desk_id).unwrap();
}
