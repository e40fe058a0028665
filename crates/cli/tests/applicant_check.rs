//! `skranke applicant check` run as a real process: a file or standard
//! input, the documented JSON object, language and exit status.
//!
//! The binary uses the real clock, so the records here expire far in the
//! future and were born long ago.

mod common;

use serde_json::{json, Value};

use common::run;

fn record() -> Value {
    json!({
      "given_names": "Anna Maria",
      "surname": "Eriksson",
      "birth_date": "1974-08-12",
      "sex": "F",
      "nationality": "SE",
      "municipality_of_stay": 101,
      "group": "eu-jobseeker",
      "document": {"type": "passport", "number": "L898902C3", "issuing_state": "SE",
                   "expiry_date": "2099-04-15", "original_seen": true,
                   "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null,
      "no_danish_cpr": true,
      "not_residence_registered": true,
      "language": "sv",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
}

fn check_stdin(args: &[&str], input: &[u8]) -> (Option<i32>, Value) {
    let mut all = vec!["--lang", "en", "applicant", "check", "--json"];
    all.extend_from_slice(args);
    all.push("-");
    let out = run(&all, input);
    let text = String::from_utf8(out.stdout).unwrap();
    (out.status.code(), serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {text}: {e}")))
}

/// A file in a temporary directory of its own; both go when it is dropped.
struct TempFile(std::path::PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let dir = tempfile::Builder::new().prefix("skranke-applicant-check-").tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile(path, dir)
    }
}

#[test]
fn a_valid_record_from_a_file_exits_0_with_no_errors() {
    let file = TempFile::new("valid.json", record().to_string().as_bytes());
    let out = run(&["applicant", "check", "--json", file.0.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"], json!([]));
}

#[test]
fn an_expired_document_is_named_by_its_json_path_and_exits_1() {
    let mut r = record();
    r["document"]["expiry_date"] = json!("2012-04-15");
    let (code, v) = check_stdin(&[], r.to_string().as_bytes());
    assert_eq!(code, Some(1));
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["field"], "document.expiry_date");
    assert_eq!(v["errors"][0]["code"], "document_expired");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("2012-04-15"));
}

#[test]
fn every_problem_is_listed_at_once() {
    let mut r = record();
    r["nationality"] = json!("DK");
    r["surname"] = json!("Eriksson\u{202E}");
    r["document"]["original_seen"] = json!(false);
    r["not_residence_registered"] = json!(false);
    let (code, v) = check_stdin(&[], r.to_string().as_bytes());
    assert_eq!(code, Some(1));
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for field in ["nationality", "surname", "document.original_seen", "not_residence_registered"] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
}

#[test]
fn json_that_is_broken_or_mistyped_names_the_field() {
    let (code, v) = check_stdin(&[], b"{\"surname\": ");
    assert_eq!(code, Some(1));
    assert_eq!((v["errors"][0]["field"].as_str(), v["errors"][0]["code"].as_str()), (Some("$"), Some("json_syntax")));
    let mut r = record();
    r["birth_date"] = json!("12.08.1974");
    r["shoe_size"] = json!(42);
    let (code, v) = check_stdin(&[], r.to_string().as_bytes());
    assert_eq!(code, Some(1));
    let errors: Vec<(&str, &str)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert!(errors.contains(&("birth_date", "wrong_type")), "{errors:?}");
    assert!(errors.contains(&("shoe_size", "unknown_field")), "{errors:?}");
}

#[test]
fn bytes_that_are_not_utf8_are_refused_not_crashed_on() {
    let (code, v) = check_stdin(&[], b"{\"surname\": \"\xff\xfe\"}");
    assert_eq!(code, Some(1));
    assert_eq!(v["errors"][0]["code"], "json_encoding");
}

#[test]
fn the_competent_job_centre_is_named_when_the_desk_is_elsewhere() {
    let mut r = record();
    r["municipality_of_stay"] = json!(461);
    let (code, v) = check_stdin(&["--desk-municipality", "101"], r.to_string().as_bytes());
    assert_eq!(code, Some(0));
    let notice = v["notices"][0]["message"].as_str().unwrap();
    assert!(notice.contains("Jobcenter Odense"), "{notice}");
    let (_, v) = check_stdin(&["--desk-municipality", "461"], r.to_string().as_bytes());
    assert_eq!(v["notices"], json!([]));
}

#[test]
fn human_output_is_danish_by_default_and_english_on_request() {
    let mut r = record();
    r["document"]["original_seen"] = json!(false);
    let body = r.to_string();
    let da = run(&["applicant", "check", "-"], body.as_bytes());
    let en = run(&["--lang", "en", "applicant", "check", "-"], body.as_bytes());
    assert_eq!((da.status.code(), en.status.code()), (Some(1), Some(1)));
    let (da, en) = (String::from_utf8(da.stdout).unwrap(), String::from_utf8(en.stdout).unwrap());
    assert!(da.contains("document.original_seen") && da.contains("originale"), "{da}");
    assert!(en.contains("document.original_seen") && en.contains("original document"), "{en}");
}

#[test]
fn a_missing_file_is_a_read_failure_with_exit_2() {
    let out = run(&["--lang", "en", "applicant", "check", "/nonexistent/skranke/applicant.json"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/skranke/applicant.json"), "{err}");
}
