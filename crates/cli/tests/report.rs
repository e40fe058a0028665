//! `skranke report --day DATE (--csv | --pdf) OUT` through the real binary on
//! the real OS key store (scripts/test.sh runs it inside a Secret Service session).
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const ADMIN_PW: &str = "admin password 1";
const CLERK_PW: &str = "clerk password 1";

fn skranke(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skranke"));
    cmd.args(["--lang", "en"])
        .args(args)
        .env("SKRANKE_DATA_DIR", dir)
        .env_remove("SKRANKE_LANG")
        .env_remove("SKRANKE_STAFF")
        .env_remove("SKRANKE_STAFF_PASSWORD")
        .env_remove("SKRANKE_NEW_STAFF_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("skranke starts");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn applicant(surname: &str, doc: &str) -> Value {
    json!({
      "given_names": "Anna Maria", "surname": surname, "birth_date": "1974-08-12", "sex": "F",
      "nationality": "SE", "municipality_of_stay": 101, "group": "asylum-personal-assistance",
      "asylum_case_ref": "AS-2026-77",
      "document": {"type": "passport", "number": doc, "issuing_state": "SE", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "no_danish_cpr": true, "not_residence_registered": true, "language": "sv",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
}

#[test]
fn the_day_report_lists_minimal_columns_for_supervisors_only() {
    let dir = tempfile::tempdir().unwrap();
    let admin = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)];
    let init =
        ["desk", "init", "--municipality", "101", "--office", "Nord", "--desk", "3", "--training", "--admin", "Ada"];
    ok(&skranke(dir.path(), &init, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b""));
    let desk: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("desk.json")).unwrap()).unwrap();
    let desk_id = desk["desk_id"].as_str().unwrap().to_string();
    ok(&skranke(
        dir.path(),
        &["staff", "add", "Carl", "--role", "clerk"],
        &[admin[0], admin[1], ("SKRANKE_NEW_STAFF_PASSWORD", CLERK_PW)],
        b"",
    ));
    ok(&skranke(dir.path(), &["settings", "set", "privacy_controller", "Københavns Kommune"], &admin, b""));
    let pdfs = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (surname, doc) in [("Eriksson", "L898902C3"), ("Larsson", "L111111C1")] {
        let pdf = pdfs.path().join(format!("{surname}.pdf"));
        let out = ok(&skranke(
            dir.path(),
            &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"],
            &admin,
            applicant(surname, doc).to_string().as_bytes(),
        ));
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        ids.push((v["record_id"].as_str().unwrap().to_string(), v["issued_at"].as_str().unwrap().to_string()));
    }
    ok(&skranke(dir.path(), &["void", &ids[1].0, "--reason", "test"], &admin, b""));
    let day = &ids[0].1[..10];

    let csv_path = dir.path().join("day.csv");
    let csv_arg = csv_path.to_str().unwrap();
    ok(&skranke(dir.path(), &["report", "--day", day, "--csv", csv_arg], &admin, b""));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(lines[0], "Reference,Personnummer,Time (UTC),Staff ID,State");
    assert!(lines[1].starts_with(&format!("{},", ids[0].0)) && lines[1].ends_with(",issued"), "{csv}");
    assert!(lines[2].ends_with(",voided"), "{csv}");
    for secret in ["Eriksson", "Larsson", "L898902C3", "asylum", "AS-2026-77"] {
        assert!(!csv.contains(secret), "{secret} leaked into the report: {csv}");
    }

    let pdf_path = dir.path().join("day.pdf");
    ok(&skranke(dir.path(), &["report", "--day", day, "--pdf", pdf_path.to_str().unwrap()], &admin, b""));
    let pdf = std::fs::read(&pdf_path).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&pdf).contains(&format!("({})", ids[0].0)));

    let clerk = [("SKRANKE_STAFF", "Carl"), ("SKRANKE_STAFF_PASSWORD", CLERK_PW)];
    let refused = skranke(dir.path(), &["report", "--day", day, "--csv", csv_arg], &clerk, b"");
    assert_eq!(refused.status.code(), Some(1), "a clerk must not get the day report");

    let bad_day = skranke(dir.path(), &["report", "--day", "2026-13-01", "--csv", csv_arg], &admin, b"");
    assert_eq!(bad_day.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_day.stderr).contains("2026-13-01"));

    let both = skranke(dir.path(), &["report", "--day", day, "--csv", "--pdf", csv_arg], &admin, b"");
    assert_eq!(both.status.code(), Some(2), "--csv and --pdf together are a usage error");

    ok(&skranke(dir.path(), &["audit", "verify"], &[], b""));
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, &desk_id).unwrap();
}
