//! `skranke cpr check` run as a real process: arguments, standard input,
//! JSON output, language and exit status.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::run;

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn json_output_for_a_valid_number_has_exactly_the_documented_fields() {
    let out = run(&["cpr", "check", "--json", "0101651234"], b"");
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    assert_eq!(
        lines,
        vec![serde_json::json!({
            "input": "0101651234", "valid": true, "number": "010165-1234",
            "birth_date": "1965-01-01", "sex": "F", "modulus11": false, "error": null
        })]
    );
}

#[test]
fn an_invalid_input_nulls_the_fields_explains_itself_and_exits_1() {
    let out = run(&["--lang", "en", "cpr", "check", "--json", "650165-1234"], b"");
    assert_eq!(out.status.code(), Some(1));
    let v = &json_lines(&out)[0];
    assert_eq!(v["valid"], false);
    for field in ["number", "birth_date", "sex", "modulus11"] {
        assert!(v[field].is_null(), "{field} must be null");
    }
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("test or training number"), "{error}");
}

#[test]
fn standard_input_is_read_line_by_line_in_order_and_crlf_is_tolerated() {
    let out = run(&["cpr", "check", "--json"], "070761-4285\r\nfoo\n\n0101651234\n".as_bytes());
    assert_eq!(out.status.code(), Some(1), "one invalid input makes the status 1");
    let lines = json_lines(&out);
    let inputs: Vec<&str> = lines.iter().map(|v| v["input"].as_str().unwrap()).collect();
    assert_eq!(inputs, ["070761-4285", "foo", "", "0101651234"]);
    assert_eq!(lines[0]["modulus11"], true);
    assert_eq!(lines[0]["sex"], "M");
    assert_eq!(lines[1]["valid"], false);
    assert_eq!(lines[2]["valid"], false);
    assert_eq!(lines[3]["valid"], true);
}

#[test]
fn every_valid_input_gives_status_0() {
    let out = run(&["cpr", "check"], "070761-4285\n010165-1234\n".as_bytes());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn hostile_input_is_escaped_into_valid_json() {
    // Arguments cannot hold NUL; standard input can.
    let nasty = "\"; DROP TABLE x;--\u{202e}\\";
    let out = run(&["cpr", "check", "--json", nasty], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[0]["input"], nasty);
    let out = run(&["cpr", "check", "--json"], "0101651234\u{0}\n".as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[0]["input"], "0101651234\u{0}");
}

#[test]
fn invalid_utf8_on_stdin_is_an_invalid_line_not_a_crash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skranke"))
        .args(["cpr", "check", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"01016\xff51234\n0101651234\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["valid"], false);
    assert_eq!(lines[1]["valid"], true);
}

#[test]
fn human_output_is_danish_by_default_and_english_on_request() {
    let da = run(&["cpr", "check", "0101651234"], b"");
    let da = String::from_utf8(da.stdout).unwrap();
    assert!(da.contains("gyldigt 010165-1234") && da.contains("kvinde"), "{da}");
    let en = run(&["--lang", "en", "cpr", "check", "0101651234"], b"");
    let en = String::from_utf8(en.stdout).unwrap();
    assert!(en.contains("valid 010165-1234") && en.contains("female"), "{en}");
}

#[test]
fn a_usage_error_exits_2() {
    assert_eq!(run(&["cpr", "check", "--no-such-flag"], b"").status.code(), Some(2));
    assert_eq!(run(&["--lang", "sv", "cpr", "check", "0101651234"], b"").status.code(), Some(2));
    assert_eq!(run(&["cpr"], b"").status.code(), Some(2));
}

#[test]
fn a_large_input_checked_in_parallel_keeps_input_order() {
    // More lines than one chunk, so several threads work on it.
    let inputs: Vec<String> = (0..200_000u32)
        .map(|i| if i % 7 == 0 { format!("bad{i}") } else { format!("0101{:02}-{:04}", 40 + i % 50, i % 4_000) })
        .collect();
    let out = run(&["cpr", "check", "--json"], (inputs.join("\n") + "\n").as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), inputs.len());
    for (i, (line, input)) in lines.iter().zip(&inputs).enumerate() {
        assert_eq!(line["input"], input.as_str(), "line {i} out of order");
        assert_eq!(line["valid"], i % 7 != 0, "line {i}");
    }
}
