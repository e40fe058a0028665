//! `skranke issue` at an enrolled desk asks the registry whether the
//! applicant is known elsewhere (`core::counter::issue`), against a real
//! registry: a person the registry holds from another desk is issued only
//! with `--duplicate-reviewed` (refused at that field without it, audited
//! with it), and the same identity document is refused at
//! `document.number` whatever the flag says.
#![cfg(target_os = "linux")]

mod common;

use serde_json::{json, Value};
use skranke_core::keystore::OsKeyStore;
use skranke_registry::testing::LiveRegistry;

use common::{at_desk, ok, ok_json, refused};

const ADMIN_PW: &str = "admin password 1";

fn staff() -> [(&'static str, &'static str); 2] {
    [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

/// The same person (name, birth date, nationality) with the document `doc`.
fn applicant(doc: &str) -> Vec<u8> {
    json!({
      "given_names": "Alex", "surname": "Kowalski", "birth_date": "1984-05-17", "sex": "M",
      "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "PL", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "en",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
    .to_string()
    .into_bytes()
}

struct Desk {
    dir: tempfile::TempDir,
    id: String,
}

impl Desk {
    fn enrol(reg: &LiveRegistry, municipality: u16, number: u32) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let code = reg.enrolment_code(municipality, number);
        let init = ["desk", "init", "--registry", &reg.url(), "--enrolment-code", &code, "--admin", "Ada"];
        ok(&at_desk(dir.path(), &init, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b""));
        ok(&at_desk(dir.path(), &["settings", "set", "privacy_controller", "Jobcenter"], &staff(), b""));
        ok(&at_desk(dir.path(), &["settings", "set", "privacy_contact", "borgerservice@example.dk"], &staff(), b""));
        ok(&at_desk(dir.path(), &["settings", "set", "privacy_dpo", "dpo@example.dk"], &staff(), b""));
        let shown = ok_json(&at_desk(dir.path(), &["desk", "show", "--json"], &[], b""));
        Desk { id: shown["desk_id"].as_str().unwrap().to_string(), dir }
    }

    fn issue(&self, doc: &str, extra: &[&str]) -> std::process::Output {
        let pdf = self.dir.path().join(format!("{doc}-{}.pdf", extra.len()));
        let mut args = vec!["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        at_desk(self.dir.path(), &args, &staff(), &applicant(doc))
    }

    fn records(&self) -> usize {
        ok_json(&at_desk(self.dir.path(), &["records", "list", "--json"], &staff(), b"")).as_array().unwrap().len()
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = skranke_core::desk::forget_keys(&OsKeyStore, &self.id);
        let _ = skranke_core::sync::forget_signing_key(&OsKeyStore, &self.id);
    }
}

#[test]
fn a_person_the_registry_knows_is_issued_only_after_review_and_a_known_document_never() {
    let reg = LiveRegistry::start();
    let (a, b) = (Desk::enrol(&reg, 101, 1), Desk::enrol(&reg, 851, 2));
    ok_json(&a.issue("PX0000001", &[]));
    ok(&at_desk(a.dir.path(), &["sync", "--json"], &[], b""));

    // The same person with another passport at desk B: the review is asked for by name.
    let err = refused(&b.issue("PX0000002", &[]));
    assert!(err.contains("duplicate_reviewed"), "{err}");
    assert_eq!(b.records(), 0, "nothing issued");
    // The same passport: a duplicate, whatever the clerk confirms.
    let err = refused(&b.issue("PX0000001", &["--duplicate-reviewed"]));
    assert!(err.contains("document.number") && err.contains(&a.id), "{err}");
    assert_eq!(b.records(), 0);

    // Reviewed: issued, and the issue's audit entry says so.
    let out: Value = ok_json(&b.issue("PX0000002", &["--duplicate-reviewed"]));
    let id = out["record_id"].as_str().unwrap();
    let store = skranke_core::store::Store::open(b.dir.path(), Box::new(OsKeyStore), chrono::Utc::now()).unwrap();
    let detail: Option<String> = store
        .connection()
        .query_row("SELECT detail FROM audit WHERE action = 'record.issued' AND record_id = ?1", [id], |r| r.get(0))
        .unwrap();
    assert_eq!(detail.as_deref(), Some("duplicate_reviewed:1"));
}
