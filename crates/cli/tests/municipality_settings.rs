//! Municipality settings and the minimum desk version travel from the real
//! registry (on PostgreSQL) to real desks in signed sync answers, through
//! the `skranke` binary and the OS key store: a desk in Aarhus prints
//! Aarhus's privacy notice with no local settings, no desk admin changes
//! what the municipality set, a desk whose notice is incomplete says who
//! must act, and a desk below the minimum version stops issuing but syncs.
#![cfg(target_os = "linux")]

mod common;

use serde_json::{json, Value};
use skranke_registry::settings;
use skranke_registry::testing::LiveRegistry;

use common::{at_desk, ok, ok_json, pdftotext, refused, text};

const ADMIN_PW: &str = "admin password 1";
const AARHUS: u16 = 751;
const CONTROLLER: &str = "Aarhus Kommune, Jobcenter Aarhus";
const CONTACT: &str = "Jobcenter Aarhus, Værkmestergade 15, 8000 Aarhus C";
const DPO: &str = "databeskyttelsesraadgiver@aarhus.dk";
const RETENTION: &str = "Aarhus Kommune gemmer sagens øvrige oplysninger i fem år.";

fn applicant(surname: &str, doc: &str) -> String {
    json!({
      "given_names": "Jonas", "surname": surname, "birth_date": "1971-05-06", "sex": "M",
      "nationality": "LT", "municipality_of_stay": AARHUS, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "LT", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "lt",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
    .to_string()
}

fn staff() -> [(&'static str, &'static str); 2] {
    [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

/// An enrolled desk of `municipality` with nothing set locally; its ID.
fn enrolled_desk(reg: &LiveRegistry, dir: &std::path::Path, municipality: u16, desk: u32) -> String {
    let code = reg.enrolment_code(municipality, desk);
    let url = reg.url();
    let init = ["desk", "init", "--registry", &url, "--enrolment-code", &code, "--admin", "Ada"];
    ok(&at_desk(dir, &init, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b""));
    let shown = ok_json(&at_desk(dir, &["desk", "show", "--json"], &[], b""));
    shown["desk_id"].as_str().unwrap().to_string()
}

fn issue_pdf(dir: &std::path::Path, pdf: &std::path::Path, surname: &str, doc: &str) -> std::process::Output {
    let args = ["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"];
    at_desk(dir, &args, &staff(), applicant(surname, doc).as_bytes())
}

fn setting(dir: &std::path::Path, key: &str) -> Value {
    ok_json(&at_desk(dir, &["settings", "get", key, "--json"], &staff(), b""))
}

/// Standard error of a command that stopped for a setup problem (exit 2:
/// nothing wrong with the request; someone must act on the desk or the registry).
#[track_caller]
fn stopped(o: &std::process::Output) -> String {
    assert_eq!(o.status.code(), Some(2), "{:?}", text(o));
    text(o).1
}

fn forget(desk_id: &str) {
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, desk_id).unwrap();
    skranke_core::sync::forget_signing_key(&skranke_core::keystore::OsKeyStore, desk_id).unwrap();
}

#[test]
fn a_desk_in_aarhus_prints_aarhus_privacy_notice_from_its_first_sync_and_cannot_change_it() {
    let reg = LiveRegistry::start();
    let pool = reg.pool();
    for (key, value) in [
        ("privacy_controller", CONTROLLER),
        ("privacy_contact", CONTACT),
        ("privacy_dpo", DPO),
        ("privacy_retention", RETENTION),
        ("password_lapse_days", "30"),
    ] {
        reg.block_on(settings::set(&pool, "operator-anne", AARHUS, key, value)).unwrap();
    }
    // Another municipality's notice never reaches an Aarhus desk.
    reg.block_on(settings::set(&pool, "operator-anne", 101, "privacy_controller", "Københavns Kommune")).unwrap();
    let logged = reg.count("SELECT count(*) FROM operator_log WHERE action = 'municipality_setting_set'");
    assert_eq!(logged, 6, "every change is in the operator log");
    let listed = reg.block_on(settings::list(&pool, Some(AARHUS))).unwrap();
    assert_eq!(listed.len(), 5);

    let dir = tempfile::tempdir().unwrap();
    let desk_id = enrolled_desk(&reg, dir.path(), AARHUS, 2);
    ok(&at_desk(dir.path(), &["sync", "--json"], &[], b""));

    // Where each value came from: the municipality's, the rest the desk's defaults.
    let dpo = setting(dir.path(), "privacy_dpo");
    assert_eq!((dpo["value"].as_str(), dpo["source"].as_str()), (Some(DPO), Some("municipality")), "{dpo}");
    let lapse = setting(dir.path(), "password_lapse_days");
    assert_eq!((lapse["value"].as_str(), lapse["source"].as_str()), (Some("30"), Some("municipality")));
    let idle = setting(dir.path(), "idle_lock_minutes");
    assert_eq!(idle["source"], "default", "{idle}");

    // A value the municipality set is not the desk admin's to change.
    let o = at_desk(dir.path(), &["settings", "set", "privacy_dpo", "someone@else.dk"], &staff(), b"");
    let message = refused(&o);
    assert!(message.contains("privacy_dpo"), "the refusal names the setting: {message}");
    assert_eq!(setting(dir.path(), "privacy_dpo")["value"], DPO);
    // What the municipality did not set stays the desk's.
    ok(&at_desk(dir.path(), &["settings", "set", "idle_lock_minutes", "12"], &staff(), b""));
    assert_eq!(setting(dir.path(), "idle_lock_minutes")["source"], "desk");

    // The handout carries Aarhus's notice, read back from the PDF's text.
    let pdfs = tempfile::tempdir().unwrap();
    let pdf = pdfs.path().join("handout.pdf");
    ok(&issue_pdf(dir.path(), &pdf, "Kazlauskas", "LT7510001"));
    let printed = pdftotext(&std::fs::read(&pdf).unwrap()).split_whitespace().collect::<Vec<_>>().join(" ");
    for part in [CONTROLLER, CONTACT, DPO, RETENTION] {
        assert!(printed.contains(part), "the handout lacks {part:?}: {printed}");
    }
    assert!(!printed.contains("Københavns Kommune"), "another municipality's notice was printed");

    // The municipality removes its DPO: the desk has none of its own, so it
    // refuses to issue and says the municipality must act.
    assert!(reg.block_on(settings::unset(&pool, "operator-anne", AARHUS, "privacy_dpo")).unwrap());
    ok(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(setting(dir.path(), "privacy_dpo")["source"], "default");
    let o = issue_pdf(dir.path(), &pdfs.path().join("second.pdf"), "Jankauskas", "LT7510002");
    let message = stopped(&o);
    assert!(message.contains("privacy_dpo") && message.contains("skranke-registry settings set"), "{message}");
    assert!(!pdfs.path().join("second.pdf").exists(), "nothing was issued, no handout written");
    forget(&desk_id);
}

#[test]
fn a_desk_below_the_minimum_version_stops_issuing_and_still_syncs() {
    let reg = LiveRegistry::start();
    let pool = reg.pool();
    for (key, value) in [("privacy_controller", CONTROLLER), ("privacy_contact", CONTACT), ("privacy_dpo", DPO)] {
        reg.block_on(settings::set(&pool, "operator-anne", AARHUS, key, value)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let desk_id = enrolled_desk(&reg, dir.path(), AARHUS, 3);
    ok(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    let pdfs = tempfile::tempdir().unwrap();
    // Issued while the desk's version was enough; synced after the minimum rose.
    let first = ok_json(&issue_pdf(dir.path(), &pdfs.path().join("1.pdf"), "Petraitis", "LT7510003"));

    reg.block_on(settings::set_minimum_version(&pool, "operator-anne", "99.0.0")).unwrap();
    let report = ok_json(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(report["pending"], 0, "the desk still syncs what it issued: {report}");
    let record = first["record_id"].as_str().unwrap();
    assert_eq!(reg.count(&format!("SELECT count(*) FROM records WHERE record_id = '{record}'")), 1);

    let o = issue_pdf(dir.path(), &pdfs.path().join("2.pdf"), "Vaitkus", "LT7510004");
    let message = stopped(&o);
    assert!(message.contains("99.0.0") && message.contains(skranke_core::VERSION), "{message}");
    assert!(!pdfs.path().join("2.pdf").exists());
    let (_, stderr) = text(&o);
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Lowered again: the next sync lets the desk issue.
    assert!(reg.block_on(settings::clear_minimum_version(&pool, "operator-anne")).unwrap());
    ok(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    ok(&issue_pdf(dir.path(), &pdfs.path().join("3.pdf"), "Vaitkus", "LT7510004"));
    let desks = reg.rows(&format!("SELECT app_version FROM desks WHERE desk_id = '{desk_id}'"));
    assert_eq!(desks[0][0].as_deref(), Some(skranke_core::VERSION), "the registry knows which version the desk runs");
    forget(&desk_id);
}
