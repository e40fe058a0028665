//! The desk commands end to end through the real `skranke` binary, on the real
//! OS key store (scripts/test.sh runs the tests inside a Secret Service session).
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use common::{at_desk, text};

const ADMIN_PW: &str = "admin password 1";

fn init(dir: &Path) -> String {
    let o = at_desk(
        dir,
        &[
            "desk",
            "init",
            "--municipality",
            "101",
            "--office",
            "Borgerservice Nord",
            "--desk",
            "3",
            "--training",
            "--admin",
            "Ada",
        ],
        &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // The handout's privacy notice needs the controller before anything is issued.
    let o = at_desk(dir, &["settings", "set", "privacy_controller", "Københavns Kommune"], &as_admin(), b"");
    let _ = at_desk(dir, &["settings", "set", "privacy_contact", "borgerservice@example.dk"], &as_admin(), b"");
    let _ = at_desk(dir, &["settings", "set", "privacy_dpo", "dpo@example.dk"], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let desk: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("desk.json")).unwrap()).unwrap();
    desk["desk_id"].as_str().unwrap().to_string()
}

/// `--pdf` into the desk's temporary folder (the admin is at least a supervisor).
fn pdf_arg(dir: &Path, n: u32) -> String {
    dir.join(format!("handout-{n}.pdf")).display().to_string()
}

fn applicant(surname: &str, doc: &str) -> Value {
    json!({
      "given_names": "Anna Maria", "surname": surname, "birth_date": "1974-08-12", "sex": "F",
      "nationality": "SE", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "SE", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "sv",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
}

fn as_admin() -> [(&'static str, &'static str); 2] {
    [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

fn forget(desk_id: &str) {
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, desk_id).unwrap();
}

#[test]
fn issue_json_prints_the_record_and_the_training_number_matches_the_applicant() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = init(dir.path());
    let input = applicant("Eriksson", "L898902C3").to_string();
    let pdf = pdf_arg(dir.path(), 1);
    let o = at_desk(dir.path(), &["issue", "--applicant", "-", "--pdf", &pdf, "--json"], &as_admin(), input.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let v: Value = serde_json::from_str(&text(&o).0).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["birth_date", "handout", "issued_at", "number", "record_id", "sex", "training", "username"]);
    assert_eq!(v["handout"], "saved");
    std::fs::remove_file(&pdf).unwrap();
    assert_eq!(v["record_id"], format!("{desk_id}-1"));
    assert_eq!(
        (v["birth_date"].as_str(), v["sex"].as_str(), v["training"].as_bool()),
        (Some("1974-08-12"), Some("F"), Some(true))
    );
    let number = v["number"].as_str().unwrap();
    assert!(number.starts_with("720874-"), "day 12 + 60: {number}");

    // Again: a clear refusal naming the record, exit 1, nothing stored.
    let pdf = pdf_arg(dir.path(), 2);
    let o = at_desk(dir.path(), &["issue", "--applicant", "-", "--pdf", &pdf, "--json"], &as_admin(), input.as_bytes());
    assert!(!Path::new(&pdf).exists(), "the refused issue leaves no file");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains(&format!("{desk_id}-1")), "{:?}", text(&o));

    let o = at_desk(dir.path(), &["records", "list", "--json"], &as_admin(), b"");
    let list: Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let o = at_desk(dir.path(), &["records", "show", &format!("{desk_id}-1")], &as_admin(), b"");
    assert!(text(&o).0.contains("Eriksson") && text(&o).0.contains("TRAINING"));
    let o = at_desk(dir.path(), &["audit", "verify"], &[], b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    forget(&desk_id);
}

#[test]
fn invalid_applicants_exit_1_with_every_field_named_and_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = init(dir.path());
    let mut bad = applicant("Eriksson", "L898902C3");
    bad["nationality"] = json!("DK");
    bad["document"]["expiry_date"] = json!("2001-01-01");
    let file = dir.path().join("bad.json");
    std::fs::write(&file, bad.to_string()).unwrap();
    let pdf = pdf_arg(dir.path(), 1);
    let o = at_desk(dir.path(), &["issue", "--applicant", file.to_str().unwrap(), "--pdf", &pdf], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o).1;
    assert!(err.contains("nationality") && err.contains("document.expiry_date"), "{err}");
    assert!(!Path::new(&pdf).exists());
    let o = at_desk(dir.path(), &["issue", "--applicant", "-", "--pdf", &pdf], &as_admin(), b"{not json");
    assert_eq!(o.status.code(), Some(1));
    let o = at_desk(dir.path(), &["lease", "status", "--json"], &[], b"");
    let status: Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(status["issued_from_lease"], 0);
    forget(&desk_id);
}

#[test]
fn a_clerk_cannot_void_and_a_supervisor_can() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = init(dir.path());
    for (name, role) in [("Carl", "clerk"), ("Sofie", "supervisor")] {
        let mut env = as_admin().to_vec();
        env.push(("SKRANKE_NEW_STAFF_PASSWORD", "staff password 1"));
        let o = at_desk(dir.path(), &["staff", "add", name, "--role", role], &env, b"");
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }
    let clerk = [("SKRANKE_STAFF", "Carl"), ("SKRANKE_STAFF_PASSWORD", "staff password 1")];
    let pdf = pdf_arg(dir.path(), 1);
    let o = at_desk(
        dir.path(),
        &["issue", "--applicant", "-", "--pdf", &pdf, "--json"],
        &as_admin(),
        applicant("Berg", "X1234567").to_string().as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    std::fs::remove_file(&pdf).unwrap();
    let id = format!("{desk_id}-1");
    let o = at_desk(dir.path(), &["void", &id, "--reason", "wrong person"], &clerk, b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("supervisor"), "{:?}", text(&o));
    let sup = [("SKRANKE_STAFF", "Sofie"), ("SKRANKE_STAFF_PASSWORD", "staff password 1")];
    let o = at_desk(dir.path(), &["void", &id, "--reason", "wrong person"], &sup, b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = at_desk(dir.path(), &["staff", "disable", "Carl"], &as_admin(), b"");
    assert_eq!(o.status.code(), Some(0));
    let o = at_desk(dir.path(), &["records", "list"], &clerk, b"");
    assert_eq!(o.status.code(), Some(1), "a disabled account cannot sign in");
    forget(&desk_id);
}

#[test]
fn an_unavailable_key_store_is_a_clear_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = init(dir.path());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skranke"));
    let o = cmd
        .args(["--lang", "en", "lease", "status"])
        .env("SKRANKE_DATA_DIR", dir.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // The platform's own name for its key store (here the Secret Service), and that it cannot be reached.
    assert!(text(&o).1.contains("key store (Secret Service) cannot be reached"), "{:?}", text(&o));
    forget(&desk_id);
}

#[test]
fn a_folder_without_a_desk_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = at_desk(dir.path(), &["lease", "status"], &[], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("skranke desk init"));
}
