//! `skranke cpr check`: validate personnumre in bulk.
//!
//! Built for throughput (a million numbers well under a second): standard
//! input is read whole, each line is checked without allocating when it is
//! valid, and output goes through one buffered writer.

use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use chrono::{Datelike, NaiveDate};
use skranke_core::cpr::{Personnummer, Sex};
use skranke_core::i18n::{self, Lang};

/// Checks `numbers`, or standard input's lines when there are none.
/// Returns exit status 0 when every input is valid, 1 otherwise.
pub fn run(numbers: &[String], json: bool, lang: Lang, today: NaiveDate) -> io::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut all_valid = true;
    let mut check = |input: &str, out: &mut BufWriter<_>| -> io::Result<()> {
        let result = Personnummer::parse(input, today);
        all_valid &= result.is_ok();
        if json {
            write_json(out, input, &result, lang)
        } else {
            write_text(out, input, &result, lang)
        }
    };
    if numbers.is_empty() {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if !buf.is_empty() {
            for line in body.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                match std::str::from_utf8(line) {
                    Ok(s) => check(s, &mut out)?,
                    Err(_) => check(&String::from_utf8_lossy(line), &mut out)?,
                }
            }
        }
    } else {
        for n in numbers {
            check(n, &mut out)?;
        }
    }
    out.flush()?;
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn push_2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10 % 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

fn push_iso_date(buf: &mut Vec<u8>, d: NaiveDate) {
    let y = d.year() as u32;
    push_2(buf, y / 100);
    push_2(buf, y % 100);
    buf.push(b'-');
    push_2(buf, d.month());
    buf.push(b'-');
    push_2(buf, d.day());
}

/// Writes a JSON string. Plain printable ASCII (the usual case) is copied as
/// is; anything else goes through serde_json's escaping.
fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        // Serialising a &str into a Vec cannot fail.
        serde_json::to_writer(&mut *buf, s).expect("string serialises");
    }
}

fn write_json<W: Write>(
    out: &mut W,
    input: &str,
    result: &Result<Personnummer, skranke_core::cpr::CprError>,
    lang: Lang,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(160);
    line.extend_from_slice(b"{\"input\":");
    push_json_str(&mut line, input);
    match result {
        Ok(p) => {
            line.extend_from_slice(b",\"valid\":true,\"number\":\"");
            line.extend_from_slice(p.to_string().as_bytes());
            line.extend_from_slice(b"\",\"birth_date\":\"");
            push_iso_date(&mut line, p.birth_date());
            line.extend_from_slice(b"\",\"sex\":\"");
            line.extend_from_slice(p.sex().code().as_bytes());
            line.extend_from_slice(b"\",\"modulus11\":");
            line.extend_from_slice(if p.passes_modulus11() { b"true" } else { b"false" });
            line.extend_from_slice(b",\"error\":null}\n");
        }
        Err(e) => {
            line.extend_from_slice(
                b",\"valid\":false,\"number\":null,\"birth_date\":null,\"sex\":null,\"modulus11\":null,\"error\":",
            );
            push_json_str(&mut line, &e.message(lang));
            line.extend_from_slice(b"}\n");
        }
    }
    out.write_all(&line)
}

fn write_text<W: Write>(
    out: &mut W,
    input: &str,
    result: &Result<Personnummer, skranke_core::cpr::CprError>,
    lang: Lang,
) -> io::Result<()> {
    let line = match result {
        Ok(p) => {
            let sex = match p.sex() {
                Sex::Female => i18n::text(lang, "cpr.check.female"),
                Sex::Male => i18n::text(lang, "cpr.check.male"),
            };
            let m11 = i18n::text(lang, if p.passes_modulus11() { "cpr.check.mod11_yes" } else { "cpr.check.mod11_no" });
            i18n::render(
                lang,
                "cpr.check.valid",
                &[
                    ("input", input),
                    ("number", &p.to_string()),
                    ("birth_date", &p.birth_date().format("%Y-%m-%d").to_string()),
                    ("sex", sex),
                    ("modulus11", m11),
                ],
            )
        }
        Err(e) => i18n::render(
            lang,
            "cpr.check.invalid",
            &[("input", &input.escape_debug().to_string()), ("error", &e.message(lang))],
        ),
    };
    writeln!(out, "{line}")
}
