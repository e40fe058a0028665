//! `skranke desk init --registry`, `skranke issue`, `skranke sync` and
//! `skranke sync status` through the real binary, against the real registry
//! (on loopback, over a real PostgreSQL) and the real OS key store.
#![cfg(target_os = "linux")]

mod common;

use serde_json::{json, Value};
use skranke_registry::testing::LiveRegistry;

use common::{at_desk, ok_json, text};

const ADMIN_PW: &str = "admin password 1";

fn applicant(surname: &str, doc: &str) -> String {
    json!({
      "given_names": "Jonas", "surname": surname, "birth_date": "1969-02-03", "sex": "M",
      "nationality": "LT", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "LT", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "lt",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
    .to_string()
}

#[test]
fn an_enrolled_desk_issues_online_with_the_lease_behind_it_and_syncs_from_the_command_line() {
    let mut reg = LiveRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let code = reg.enrolment_code(851, 7);
    let url = reg.url();
    let pw = [("SKRANKE_STAFF_PASSWORD", ADMIN_PW)];
    let o = at_desk(
        dir.path(),
        &["desk", "init", "--registry", &url, "--enrolment-code", &code, "--admin", "Ada"],
        &pw,
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let shown = ok_json(&at_desk(dir.path(), &["desk", "show", "--json"], &[], b""));
    assert_eq!((shown["municipality"].as_str(), shown["desk_number"].as_u64()), (Some("851"), Some(7)));
    assert_eq!(shown["training"], false);
    let desk_id = shown["desk_id"].as_str().unwrap().to_string();

    let staff = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)];
    // The handout needs the municipality's privacy notice; the admin saves it as a PDF.
    let o = at_desk(dir.path(), &["settings", "set", "privacy_controller", "Aalborg Kommune"], &staff, b"");
    let _ = at_desk(dir.path(), &["settings", "set", "privacy_contact", "borgerservice@example.dk"], &staff, b"");
    let _ = at_desk(dir.path(), &["settings", "set", "privacy_dpo", "dpo@example.dk"], &staff, b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let pdfs = tempfile::tempdir().unwrap();
    let issue = |surname: &str, doc: &str| {
        let pdf = pdfs.path().join(format!("{surname}.pdf"));
        let pdf = pdf.to_str().unwrap();
        at_desk(
            dir.path(),
            &["issue", "--applicant", "-", "--pdf", pdf, "--json"],
            &staff,
            applicant(surname, doc).as_bytes(),
        )
    };
    let online = ok_json(&issue("Kazlauskas", "LT1000001"));
    reg.down();
    let offline = ok_json(&issue("Jankauskas", "LT1000002"));
    assert_ne!(online["number"], offline["number"]);

    // Unreachable: exit 2, everything stays queued.
    let o = at_desk(dir.path(), &["sync", "--json"], &[], b"");
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    let status = ok_json(&at_desk(dir.path(), &["sync", "status", "--json"], &[], b""));
    assert!(status["queued_events"].as_u64().unwrap() >= 2, "{status}");
    assert!(status["oldest_unsynced_age_secs"].as_i64().is_some());

    reg.up();
    let report = ok_json(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    let mut keys: Vec<&str> = report.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["accepted", "already_held", "conflict", "invalid", "pending", "uploaded"]);
    assert_eq!(report["pending"], 0, "{report}");
    assert_eq!(report["accepted"], report["uploaded"]);
    assert_eq!(reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{desk_id}'")), 2);
    let again = ok_json(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!((again["uploaded"].as_u64(), again["pending"].as_u64()), (Some(0), Some(0)));

    let status = ok_json(&at_desk(dir.path(), &["sync", "status", "--json"], &[], b""));
    assert_eq!(status["queued_events"], 0);
    assert!(status["last_success"].is_string());
    assert_eq!(status["refused"], json!([]));
    let human = at_desk(dir.path(), &["sync", "status"], &[], b"");
    assert!(text(&human).0.contains(&desk_id), "{:?}", text(&human));

    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, &desk_id).unwrap();
    skranke_core::sync::forget_signing_key(&skranke_core::keystore::OsKeyStore, &desk_id).unwrap();
}

#[test]
fn a_training_desk_refuses_to_sync_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let o = at_desk(
        dir.path(),
        &["desk", "init", "--municipality", "101", "--office", "Nord", "--desk", "1", "--training", "--admin", "Ada"],
        &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = at_desk(dir.path(), &["sync"], &[], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("training desk"), "{:?}", text(&o));
    let desk: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("desk.json")).unwrap()).unwrap();
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, desk["desk_id"].as_str().unwrap()).unwrap();
}

#[test]
fn desk_init_needs_either_a_registry_or_training() {
    let dir = tempfile::tempdir().unwrap();
    let o = at_desk(dir.path(), &["desk", "init", "--admin", "Ada"], &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--registry"), "{:?}", text(&o));
    assert!(!dir.path().join("desk.json").exists());
}
