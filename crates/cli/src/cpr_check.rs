//! `skranke cpr check`: validate personnumre in bulk.
//!
//! Built for throughput (a million numbers well under a second): standard
//! input is read whole, split into chunks checked on every core, each line
//! written without allocating when it is valid, and the chunks' output
//! written in input order.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use chrono::{Datelike, NaiveDate};
use skranke_core::cpr::{CprError, Personnummer, Sex};
use skranke_core::i18n::{self, Lang};

/// Checks `numbers`, or standard input's lines when there are none.
/// Returns exit status 0 when every input is valid, 1 otherwise.
pub fn run(numbers: &[String], json: bool, lang: Lang, today: NaiveDate) -> io::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let all_valid = if numbers.is_empty() {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let lines: Vec<&[u8]> = if buf.is_empty() { Vec::new() } else { body.split(|&b| b == b'\n').collect() };
        check_parallel(&lines, json, lang, today, &mut out)?
    } else {
        let lines: Vec<&[u8]> = numbers.iter().map(|n| n.as_bytes()).collect();
        check_parallel(&lines, json, lang, today, &mut out)?
    };
    out.flush()?;
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Lines per chunk: each chunk is checked into its own buffer, and the
/// buffers are written in input order.
const CHUNK: usize = 64 * 1024;

/// Checks the lines on every core, keeping the output in input order.
/// Returns whether every line was valid.
fn check_parallel<W: Write>(
    lines: &[&[u8]],
    json: bool,
    lang: Lang,
    today: NaiveDate,
    out: &mut W,
) -> io::Result<bool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunks: Vec<&[&[u8]]> = lines.chunks(CHUNK).collect();
    let mut all_valid = true;
    // Each round hands one chunk to each thread, then writes the results in order.
    for round in chunks.chunks(threads) {
        let results: Vec<(Vec<u8>, bool)> = if round.len() == 1 {
            vec![check_chunk(round[0], json, lang, today)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> =
                    round.iter().map(|chunk| scope.spawn(move || check_chunk(chunk, json, lang, today))).collect();
                handles.into_iter().map(|h| h.join().expect("checker thread does not panic")).collect()
            })
        };
        for (buf, valid) in results {
            all_valid &= valid;
            out.write_all(&buf)?;
        }
    }
    Ok(all_valid)
}

fn check_chunk(lines: &[&[u8]], json: bool, lang: Lang, today: NaiveDate) -> (Vec<u8>, bool) {
    let mut buf = Vec::with_capacity(lines.len() * if json { 130 } else { 90 });
    let mut all_valid = true;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let lossy;
        let input = match std::str::from_utf8(line) {
            Ok(s) => s,
            Err(_) => {
                lossy = String::from_utf8_lossy(line);
                &lossy
            }
        };
        let result = Personnummer::parse(input, today);
        all_valid &= result.is_ok();
        if json {
            write_json(&mut buf, input, &result, lang);
        } else {
            write_text(&mut buf, input, &result, lang);
        }
    }
    (buf, all_valid)
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

fn write_json(line: &mut Vec<u8>, input: &str, result: &Result<Personnummer, CprError>, lang: Lang) {
    line.extend_from_slice(b"{\"input\":");
    push_json_str(line, input);
    match result {
        Ok(p) => {
            line.extend_from_slice(b",\"valid\":true,\"number\":\"");
            push_number(line, p);
            line.extend_from_slice(b"\",\"birth_date\":\"");
            push_iso_date(line, p.birth_date());
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
            push_json_str(line, &e.message(lang));
            line.extend_from_slice(b"}\n");
        }
    }
}

/// The canonical `DDMMYY-SSSS` form, without allocating.
fn push_number(buf: &mut Vec<u8>, p: &Personnummer) {
    for (i, d) in p.digits().iter().enumerate() {
        if i == 6 {
            buf.push(b'-');
        }
        buf.push(b'0' + d);
    }
}

fn write_text(out: &mut Vec<u8>, input: &str, result: &Result<Personnummer, CprError>, lang: Lang) {
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
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}
