//! Logs hold IDs, never personal data: a full scenario through the real
//! binary (enrolment, issuing, sync, reprint, void, a refused sign-in, a
//! lookup) against the real registry, whose log this process captures, and
//! then every log is searched for each name, document number, contact
//! detail and password used, in every case, and must also show the IDs
//! (so that a missing log fails too).
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;
use skranke_registry::testing::LiveRegistry;

use common::{at_desk, ok, ok_json};

const STAFF: &str = "Wilhelmina";
const PASSWORD: &str = "Kvartsur-Brombær-Zebra-4711";

/// The people issued to: given names, surname (with its Latin form), document number, e-mail, phone.
const PEOPLE: [(&str, &str, &str, &str, &str, &str); 2] = [
    ("Ieva", "Žemaitytė", "ZEMAITYTE", "LT7733991", "ieva.zemaityte@example.lt", "+37060012345"),
    ("Gintaras", "Kvedaravičius", "KVEDARAVICIUS", "LT7733992", "gintaras.kv@example.lt", "+37060067890"),
];

fn applicant(p: &(&str, &str, &str, &str, &str, &str)) -> String {
    json!({
      "given_names": p.0, "surname": p.1, "birth_date": "1979-06-21", "sex": "F",
      "nationality": "LT", "municipality_of_stay": 851, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": p.3, "issuing_state": "LT", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "lt",
      "contact": {"email": p.4, "phone": p.5, "address_dk": null}
    })
    .to_string()
}

/// The registry's log, as `serve` writes it, into memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(root: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn after_a_full_scenario_no_desk_or_registry_log_holds_a_name_document_contact_or_password() {
    let captured = Captured::default();
    let sink = captured.clone();
    assert!(skranke_registry::logging::install(move || sink.clone(), false), "the log capture is the first subscriber");
    let reg = LiveRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let pdfs = tempfile::tempdir().unwrap();
    let code = reg.enrolment_code(851, 4);
    let as_staff = [("SKRANKE_STAFF", STAFF), ("SKRANKE_STAFF_PASSWORD", PASSWORD)];

    ok(&at_desk(
        dir.path(),
        &["desk", "init", "--registry", &reg.url(), "--enrolment-code", &code, "--admin", STAFF],
        &[("SKRANKE_STAFF_PASSWORD", PASSWORD)],
        b"",
    ));
    let desk = ok_json(&at_desk(dir.path(), &["desk", "show", "--json"], &[], b""));
    let desk_id = desk["desk_id"].as_str().unwrap().to_string();
    ok(&at_desk(dir.path(), &["settings", "set", "privacy_controller", "Aalborg Kommune"], &as_staff, b""));
    ok(&at_desk(dir.path(), &["settings", "set", "privacy_contact", "borgerservice@example.dk"], &as_staff, b""));
    ok(&at_desk(dir.path(), &["settings", "set", "privacy_dpo", "dpo@example.dk"], &as_staff, b""));

    let mut records = Vec::new();
    for p in &PEOPLE {
        let pdf = pdfs.path().join(format!("{}.pdf", p.3));
        let issued = ok_json(&at_desk(
            dir.path(),
            &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"],
            &as_staff,
            applicant(p).as_bytes(),
        ));
        records.push(issued["record_id"].as_str().unwrap().to_string());
    }
    ok(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    let again = pdfs.path().join("reprint.pdf");
    ok(&at_desk(dir.path(), &["reprint", &records[0], "--pdf", again.to_str().unwrap()], &as_staff, b""));
    ok(&at_desk(dir.path(), &["void", &records[1], "--reason", "clerk_error"], &as_staff, b""));
    let wrong = at_desk(
        dir.path(),
        &["records", "list"],
        &[("SKRANKE_STAFF", STAFF), ("SKRANKE_STAFF_PASSWORD", "Not-The-Password-99")],
        b"",
    );
    assert_eq!(wrong.status.code(), Some(1), "a wrong password is refused");
    let someone = [("SKRANKE_STAFF", "Gintaras"), ("SKRANKE_STAFF_PASSWORD", PASSWORD)];
    let nobody = at_desk(dir.path(), &["records", "list"], &someone, b"");
    assert_eq!(nobody.status.code(), Some(1), "an unknown name is refused");
    let synced = ok_json(&at_desk(dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(synced["pending"], 0, "{synced}");

    // A lookup before issuing again, as the desk window makes it.
    {
        use skranke_core::applicant::{Applicant, IntakeContext};
        let mut store = skranke_core::store::Store::open(
            dir.path(),
            Box::new(skranke_core::keystore::OsKeyStore),
            chrono::Utc::now(),
        )
        .unwrap();
        let session = store.sign_in(STAFF, PASSWORD, chrono::Utc::now()).unwrap();
        let client = skranke_core::sync::client_for(&mut store).unwrap();
        let a: Applicant = serde_json::from_str(&applicant(&PEOPLE[0])).unwrap();
        let ctx = IntakeContext { today: chrono::Utc::now().date_naive(), desk_municipality: 851 };
        let valid = a.validate(&ctx, skranke_core::i18n::Lang::En).unwrap();
        let answer =
            skranke_core::sync::lookup(&mut store, &session, &client, &valid.keys, chrono::Utc::now()).unwrap();
        assert_eq!(answer.matches.len(), 1, "the first person is known at this desk");
    }

    // The logs exist and show the IDs.
    let desk_log = std::fs::read_to_string(dir.path().join("logs").join("desk.log")).expect("the desk keeps a log");
    for expected in ["store.opened", "staff.sign_in ", "staff.sign_in_refused", "record.issued", "record.reprinted"] {
        assert!(desk_log.contains(expected), "{expected} missing from the desk log:\n{desk_log}");
    }
    assert!(desk_log.contains("record.voided") && desk_log.contains("sync.done"), "{desk_log}");
    assert!(desk_log.contains("staff=unknown"), "a name matching no account is logged as unknown:\n{desk_log}");
    assert!(desk_log.contains(&format!("desk={desk_id}")), "{desk_log}");
    for r in &records {
        assert!(desk_log.contains(&format!("record={r}")), "{r} missing from the desk log:\n{desk_log}");
    }
    let registry_log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for route in ["/v1/enrol", "/v1/events", "/v1/sync", "/v1/lookup"] {
        assert!(registry_log.contains(&format!("route={route} ")), "{route} missing:\n{registry_log}");
    }
    assert!(registry_log.contains(&format!("desk={desk_id}")), "the registry logs the desk:\n{registry_log}");

    // And nothing personal, in any case.
    let mut secrets: Vec<String> = vec![STAFF.into(), PASSWORD.into()];
    for p in &PEOPLE {
        secrets.extend([p.0, p.1, p.2, p.3, p.4, p.5].map(String::from));
    }
    secrets.extend(secrets.clone().iter().flat_map(|s| [s.to_uppercase(), s.to_lowercase()]));
    let mut logs: Vec<(String, String)> = vec![("registry log".into(), registry_log)];
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    let log_files: Vec<&PathBuf> =
        files.iter().filter(|f| f.file_name().is_some_and(|n| n.to_string_lossy().contains("log"))).collect();
    assert!(!log_files.is_empty());
    for f in log_files {
        logs.push((f.display().to_string(), String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned()));
    }
    for (name, text) in &logs {
        assert!(!text.trim().is_empty(), "{name} is empty");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{name} holds {s:?}");
        }
    }

    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, &desk_id).unwrap();
    skranke_core::sync::forget_signing_key(&skranke_core::keystore::OsKeyStore, &desk_id).unwrap();
}
