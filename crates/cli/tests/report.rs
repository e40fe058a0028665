//! `skranke report --day DATE (--csv | --pdf) OUT` through the real binary on
//! the real OS key store (scripts/test.sh runs it inside a Secret Service session).
#![cfg(target_os = "linux")]

mod common;

use serde_json::{json, Value};
use skranke_core::report::{self, TimeZone};

use common::{at_desk, ok, training_desk};

const ADMIN_PW: &str = "admin password 1";
const CLERK_PW: &str = "clerk password 1";

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
    // The desk's time zone comes from the OS: TZ here, as on a counter PC in Denmark.
    let admin = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW), ("TZ", "Europe/Copenhagen")];
    let settings = [
        ("privacy_controller", "Københavns Kommune"),
        ("privacy_contact", "borgerservice@example.dk"),
        ("privacy_dpo", "dpo@example.dk"),
    ];
    let desk_id = training_desk(dir.path(), ADMIN_PW, &settings, &[("Carl", "clerk")], CLERK_PW);
    let pdfs = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (surname, doc) in [("Eriksson", "L898902C3"), ("Larsson", "L111111C1")] {
        let pdf = pdfs.path().join(format!("{surname}.pdf"));
        let out = ok(&at_desk(
            dir.path(),
            &["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"],
            &admin,
            applicant(surname, doc).to_string().as_bytes(),
        ));
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        ids.push((v["record_id"].as_str().unwrap().to_string(), v["issued_at"].as_str().unwrap().to_string()));
    }
    ok(&at_desk(dir.path(), &["void", &ids[1].0, "--reason", "test"], &admin, b""));
    let copenhagen = TimeZone::get("Europe/Copenhagen").unwrap();
    let (local_day, local_time) = report::local_day_and_time(&ids[0].1, &copenhagen).unwrap();
    assert_ne!(local_time, ids[0].1[11..19], "Copenhagen is never on UTC");
    let day = &local_day.to_string();

    let csv_path = dir.path().join("day.csv");
    let csv_arg = csv_path.to_str().unwrap();
    ok(&at_desk(dir.path(), &["report", "--day", day, "--csv", csv_arg], &admin, b""));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(lines[0], "Reference,Personnummer,Time (Europe/Copenhagen),Staff ID,State");
    assert!(lines[1].starts_with(&format!("{},", ids[0].0)) && lines[1].ends_with(",issued"), "{csv}");
    assert!(lines[1].contains(&format!(",{local_time},")), "the time in Copenhagen's: {csv}");
    assert!(lines[2].ends_with(",voided"), "{csv}");
    for secret in ["Eriksson", "Larsson", "L898902C3", "asylum", "AS-2026-77"] {
        assert!(!csv.contains(secret), "{secret} leaked into the report: {csv}");
    }

    let pdf_path = dir.path().join("day.pdf");
    ok(&at_desk(dir.path(), &["report", "--day", day, "--pdf", pdf_path.to_str().unwrap()], &admin, b""));
    let pdf = std::fs::read(&pdf_path).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&pdf).contains(&format!("({})", ids[0].0)));

    let clerk = [("SKRANKE_STAFF", "Carl"), ("SKRANKE_STAFF_PASSWORD", CLERK_PW)];
    let refused = at_desk(dir.path(), &["report", "--day", day, "--csv", csv_arg], &clerk, b"");
    assert_eq!(refused.status.code(), Some(1), "a clerk must not get the day report");

    let bad_day = at_desk(dir.path(), &["report", "--day", "2026-13-01", "--csv", csv_arg], &admin, b"");
    assert_eq!(bad_day.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_day.stderr).contains("2026-13-01"));

    let both = at_desk(dir.path(), &["report", "--day", day, "--csv", "--pdf", csv_arg], &admin, b"");
    assert_eq!(both.status.code(), Some(2), "--csv and --pdf together are a usage error");

    ok(&at_desk(dir.path(), &["audit", "verify"], &[], b""));
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, &desk_id).unwrap();
}
