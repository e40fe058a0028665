//! `skranke mrz parse`: read a machine-readable zone from standard input, as
//! a desk passport reader types it, and print its fields and checks.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use chrono::NaiveDate;
use serde_json::{json, Value};
use skranke_core::i18n::{self, Lang};
use skranke_core::mrz::{self, Mrz, MrzError};

/// More than any zone holds; the core refuses what is longer.
const MAX_STDIN: u64 = 64 * 1024;

/// Parses standard input. Exit status 0 when the zone is valid, 1 when it is
/// not (or is no zone), 2 when standard input cannot be read.
pub fn run(json: bool, lang: Lang, today: NaiveDate) -> ExitCode {
    let mut buf = Vec::new();
    if let Err(e) = io::stdin().lock().take(MAX_STDIN).read_to_end(&mut buf) {
        eprintln!("skranke: {}", i18n::render(lang, "mrz.cli.read_failed", &[("error", &e.to_string())]));
        return ExitCode::from(2);
    }
    // Bytes that are not UTF-8 become U+FFFD, which the parser refuses with
    // the position; a reader never sends them.
    let text = String::from_utf8_lossy(&buf);
    let result = mrz::parse(&text, today);
    let valid = result.as_ref().is_ok_and(Mrz::is_valid);
    let output = if json { to_json(&result, lang).to_string() } else { to_text(&result, lang) };
    let mut out = io::stdout().lock();
    if writeln!(out, "{output}").and_then(|()| out.flush()).is_err() {
        return ExitCode::from(2);
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.format("%Y-%m-%d").to_string()))
}

/// The documented JSON object; every field null when the input is no zone.
fn to_json(result: &Result<Mrz, MrzError>, lang: Lang) -> Value {
    match result {
        Ok(m) => {
            let f = &m.fields;
            let optional: Vec<&str> =
                [f.optional_data.as_str(), f.optional_data_2.as_str()].into_iter().filter(|s| !s.is_empty()).collect();
            let errors: Vec<Value> = m
                .problems
                .iter()
                .map(|p| json!({"field": p.field().name(), "code": p.code(), "message": p.message(lang)}))
                .collect();
            json!({
                "format": f.format.code(),
                "document_code": f.document_code,
                "issuing_state": m.issuing_state,
                "issuing_state_icao": f.issuing_state_icao,
                "document_number": f.document_number,
                "surname": f.surname,
                "given_names": f.given_names,
                "nationality": m.nationality,
                "nationality_icao": f.nationality_icao,
                "birth_date": date(f.birth_date),
                "sex": f.sex.map(|s| s.code()),
                "expiry_date": date(f.expiry_date),
                "optional_data": optional.join(" "),
                "valid": m.is_valid(),
                "errors": errors,
            })
        }
        Err(e) => json!({
            "format": null, "document_code": null, "issuing_state": null, "issuing_state_icao": null,
            "document_number": null, "surname": null, "given_names": null, "nationality": null,
            "nationality_icao": null, "birth_date": null, "sex": null, "expiry_date": null,
            "optional_data": null, "valid": false,
            "errors": [{"field": "mrz", "code": e.code(), "message": e.message(lang)}],
        }),
    }
}

fn to_text(result: &Result<Mrz, MrzError>, lang: Lang) -> String {
    let m = match result {
        Ok(m) => m,
        Err(e) => return e.message(lang),
    };
    let f = &m.fields;
    let none = i18n::text(lang, "mrz.cli.none");
    let state = |a2: Option<&str>, icao: &str| match a2 {
        Some(a2) => format!("{a2} ({icao})"),
        None => format!("{} ({icao})", i18n::text(lang, "mrz.cli.no_state")),
    };
    let or_none = |s: &str| if s.is_empty() { none.to_string() } else { s.to_string() };
    let day = |d: Option<NaiveDate>| d.map_or(none.to_string(), |d| d.format("%Y-%m-%d").to_string());
    let rows = [
        ("document_code", f.document_code.clone()),
        ("issuing_state", state(m.issuing_state, &f.issuing_state_icao)),
        ("document_number", f.document_number.clone()),
        ("surname", or_none(&f.surname)),
        ("given_names", or_none(&f.given_names)),
        ("nationality", state(m.nationality, &f.nationality_icao)),
        ("birth_date", day(f.birth_date)),
        ("sex", f.sex.map_or(none.to_string(), |s| s.code().to_string())),
        ("expiry_date", day(f.expiry_date)),
        ("optional_data", or_none([f.optional_data.as_str(), f.optional_data_2.as_str()].join(" ").trim())),
    ];
    let mut out = if m.is_valid() {
        i18n::render(lang, "mrz.cli.valid", &[("format", f.format.code())])
    } else {
        let mut s = i18n::text(lang, "mrz.cli.invalid").to_string();
        for p in &m.problems {
            s.push_str("\n  ");
            s.push_str(&p.message(lang));
        }
        s
    };
    for (key, value) in rows {
        out.push_str(&format!("\n{}: {value}", i18n::text(lang, &format!("mrz.cli.label.{key}"))));
    }
    out
}
