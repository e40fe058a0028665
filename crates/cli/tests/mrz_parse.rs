//! `skranke mrz parse` run as a real process: standard input, the documented
//! JSON object, language and exit status.

mod common;

use serde_json::{json, Value};

use common::run;

const TD3: [&str; 2] = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
const TD1: [&str; 3] =
    ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];

fn parse_json(zone: &str) -> (Option<i32>, Value) {
    let out = run(&["--lang", "en", "mrz", "parse", "--json"], zone.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    (out.status.code(), serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {text}: {e}")))
}

#[test]
fn the_td3_specimen_gives_exactly_the_documented_object_and_exit_0() {
    let (code, v) = parse_json(&format!("{}\r\n{}\r\n", TD3[0], TD3[1]));
    assert_eq!(code, Some(0));
    assert_eq!(
        v,
        json!({
            "format": "TD3", "document_code": "P", "issuing_state": null, "issuing_state_icao": "UTO",
            "document_number": "L898902C3", "surname": "ERIKSSON", "given_names": "ANNA MARIA",
            "nationality": null, "nationality_icao": "UTO", "birth_date": "1974-08-12", "sex": "F",
            "expiry_date": "2012-04-15", "optional_data": "ZE184226B", "valid": true, "errors": []
        })
    );
}

#[test]
fn the_td1_specimen_parses_in_lower_case_with_surrounding_whitespace() {
    let zone = format!("\n  {}\n{}  \n{}\n\n", TD1[0].to_lowercase(), TD1[1], TD1[2]);
    let (code, v) = parse_json(&zone);
    assert_eq!(code, Some(0));
    assert_eq!(v["format"], "TD1");
    assert_eq!(v["document_number"], "D23145890");
    assert_eq!(v["birth_date"], "1974-08-12");
    assert_eq!(v["valid"], true);
}

#[test]
fn each_broken_check_digit_is_named_and_exits_1() {
    // (line, position, field) of every check digit of the TD3 specimen.
    for (pos, field) in
        [(9, "document_number"), (19, "birth_date"), (27, "expiry_date"), (42, "optional_data"), (43, "composite")]
    {
        let mut line2 = TD3[1].as_bytes().to_vec();
        line2[pos] = if line2[pos] == b'9' { b'0' } else { line2[pos] + 1 };
        let zone = format!("{}\n{}", TD3[0], String::from_utf8(line2).unwrap());
        let (code, v) = parse_json(&zone);
        assert_eq!(code, Some(1), "{field}");
        assert_eq!(v["valid"], false);
        let errors = v["errors"].as_array().unwrap();
        assert!(errors.iter().any(|e| e["field"] == field && e["code"] == "check_digit"), "{field}: {errors:?}");
        assert!(errors.iter().all(|e| !e["message"].as_str().unwrap().is_empty()));
        // The fields are still shown so the clerk can compare with the page.
        assert_eq!(v["surname"], "ERIKSSON");
    }
}

#[test]
fn input_that_is_no_zone_nulls_every_field_and_exits_1() {
    for input in [&b""[..], b"hello\n", b"'; DROP TABLE records;--\n", b"P<UTO\x00\xff\n"] {
        let out = run(&["--lang", "en", "mrz", "parse", "--json"], input);
        assert_eq!(out.status.code(), Some(1), "{input:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["valid"], false);
        assert!(v["surname"].is_null() && v["birth_date"].is_null() && v["format"].is_null());
        assert_eq!(v["errors"][0]["field"], "mrz");
    }
}

#[test]
fn a_huge_input_is_refused_quickly() {
    let out = run(&["mrz", "parse", "--json"], &vec![b'<'; 100 * 1024]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"][0]["code"], "shape");
}

#[test]
fn human_output_follows_the_language() {
    let zone = TD3.join("\n");
    let da = String::from_utf8(run(&["mrz", "parse"], zone.as_bytes()).stdout).unwrap();
    let en = String::from_utf8(run(&["--lang", "en", "mrz", "parse"], zone.as_bytes()).stdout).unwrap();
    assert!(da.contains("Efternavn: ERIKSSON"), "{da}");
    assert!(en.contains("Surname: ERIKSSON"), "{en}");
    assert!(en.contains("1974-08-12"));
}
