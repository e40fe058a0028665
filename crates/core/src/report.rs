//! The day report (dagsrapport): this desk's records of one day as CSV or a
//! PDF list, for supervisors, audited. Minimal columns: reference (the record
//! ID), number, time, staff ID and state. Never a name, a document or the
//! eligibility group (which can reveal disability or asylum status).
//!
//! Days and times are the desk's: a record belongs to the day its issue time
//! falls on in the desk's time zone ([`desk_time_zone`]), and its time is
//! shown in that zone, whose name the time column's title carries.
//!
//! The desk window and `skranke report --day DATE (--csv | --pdf) OUT` call
//! the same [`Store::day_report`] and renderers.

use chrono::{DateTime, NaiveDate, Utc};
pub use jiff::tz::TimeZone;
use serde::Serialize;

use crate::audit::{self, Event};
use crate::i18n::{self, Lang};
use crate::staff::{self, Role, Session};
use crate::store::Store;
use crate::Error;

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// The record ID, which staff quote as the reference.
    pub reference: String,
    /// As shown to staff (day + 60 on a training desk).
    pub number: String,
    /// Time of issue in the desk's time zone, `HH:MM:SS`.
    pub time: String,
    pub staff_id: i64,
    /// `issued` or `voided`.
    pub state: String,
}

/// The report's output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Pdf,
}

impl ReportFormat {
    pub fn code(self) -> &'static str {
        match self {
            ReportFormat::Csv => "csv",
            ReportFormat::Pdf => "pdf",
        }
    }

    pub fn from_code(code: &str) -> Option<ReportFormat> {
        match code.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ReportFormat::Csv),
            "pdf" => Some(ReportFormat::Pdf),
            _ => None,
        }
    }
}

/// What the PDF's heading says about the desk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportHeading {
    pub desk_id: String,
    pub office: String,
    pub desk_number: u32,
    pub training: bool,
    /// The zone the times are in ([`time_zone_name`]).
    pub time_zone: String,
}

/// The zone the desks are in, used when the OS names none.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Copenhagen";

/// The desk's time zone: the OS's where it names one (`TZ`, else
/// `/etc/localtime`; on Windows the system setting), else
/// [`DEFAULT_TIME_ZONE`]. A counter PC in Denmark says Europe/Copenhagen
/// itself; `TZ=Europe/Copenhagen` sets it for one command.
pub fn desk_time_zone() -> TimeZone {
    TimeZone::try_system().or_else(|_| TimeZone::get(DEFAULT_TIME_ZONE)).unwrap_or(TimeZone::UTC)
}

/// The zone's name as the report's time column shows it: the IANA name
/// (`Europe/Copenhagen`), or the offset for a zone without one (a POSIX `TZ`).
pub fn time_zone_name(tz: &TimeZone) -> String {
    match tz.iana_name() {
        Some(name) => name.to_string(),
        None => format!("UTC{}", tz.to_offset(jiff::Timestamp::now())),
    }
}

/// The local day and time (`HH:MM:SS`) in `tz` of a stored issue time
/// (RFC 3339, UTC); `None` for a time that does not parse.
pub fn local_day_and_time(issued_at: &str, tz: &TimeZone) -> Option<(NaiveDate, String)> {
    let local = tz.to_datetime(issued_at.parse::<jiff::Timestamp>().ok()?);
    let day =
        NaiveDate::from_ymd_opt(local.year().into(), local.month().try_into().ok()?, local.day().try_into().ok()?)?;
    Some((day, local.strftime("%H:%M:%S").to_string()))
}

impl Store {
    /// The rows of a day's report (supervisor), the day and times in `tz`
    /// (the desk's: [`desk_time_zone`]). Writes an audit event naming the
    /// day and the format: the report is an export of the desk's acts.
    pub fn day_report(
        &mut self,
        session: &Session,
        day: NaiveDate,
        tz: &TimeZone,
        format: ReportFormat,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReportRow>, Error> {
        self.read(|tx, _| staff::authorize(tx, session, Role::Supervisor, "day_report"))?;
        let records = self.records_of_day(session, day, tz)?;
        let detail = format!("day:{day} format:{} rows:{}", format.code(), records.len());
        self.act::<_, crate::Error>(|tx, ctx| {
            staff::authorize(tx, session, Role::Supervisor, "day_report")?;
            audit::append(tx, &ctx.desk_id, &Event::by(session.staff_id(), "report.day", now).detail(&detail))?;
            Ok(())
        })?;
        Ok(records
            .into_iter()
            .map(|(s, staff_id)| ReportRow {
                time: local_day_and_time(&s.issued_at, tz).map(|(_, time)| time).unwrap_or_default(),
                reference: s.record_id,
                number: s.number,
                staff_id,
                state: s.status,
            })
            .collect())
    }
}

/// The column titles; the time column names the zone (`zone`: [`time_zone_name`]).
fn column_titles(lang: Lang, zone: &str) -> [String; 5] {
    ["reference", "number", "time", "staff", "state"]
        .map(|c| i18n::render(lang, &format!("report.column.{c}"), &[("zone", zone)]))
}

fn state_text(lang: Lang, state: &str) -> String {
    i18n::text(lang, &format!("report.state.{state}")).to_string()
}

/// Quotes a CSV field when it holds a separator, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report as CSV (RFC 4180, CRLF line ends, a header line in `lang`
/// whose time column names `zone`, the zone the times are in).
pub fn to_csv(rows: &[ReportRow], zone: &str, lang: Lang) -> String {
    let mut out = column_titles(lang, zone).iter().map(|t| csv_field(t)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for r in rows {
        let fields =
            [r.reference.clone(), r.number.clone(), r.time.clone(), r.staff_id.to_string(), state_text(lang, &r.state)];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// Text for a PDF string in WinAnsiEncoding: Latin-1 letters (æ, ø, å …) as
/// their byte, anything else as `?`; `(`, `)` and `\` escaped.
fn pdf_text(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let code = c as u32;
        let b = if (0x20..0x7f).contains(&code) || (0xa0..=0xff).contains(&code) { code as u8 } else { b'?' };
        if matches!(b, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Rows per A4 page below the heading.
const ROWS_PER_PAGE: usize = 40;

/// The report as a PDF list: A4, Helvetica (a standard font: nothing to
/// embed for ASCII and Latin-1 text), a heading with the desk and the day,
/// one line per record, "page n of m". A pure function of its input: the
/// same rows give the same bytes.
pub fn to_pdf(rows: &[ReportRow], day: NaiveDate, heading: &ReportHeading, lang: Lang) -> Vec<u8> {
    let titles = column_titles(lang, &heading.time_zone);
    let pages: Vec<&[ReportRow]> = if rows.is_empty() { vec![&[][..]] } else { rows.chunks(ROWS_PER_PAGE).collect() };
    let page_count = pages.len();
    let title = i18n::render(
        lang,
        "report.pdf.title",
        &[
            ("day", &day.format("%Y-%m-%d").to_string()),
            ("office", &heading.office),
            ("desk", &heading.desk_number.to_string()),
            ("desk_id", &heading.desk_id),
        ],
    );
    let columns = [50.0, 190.0, 300.0, 380.0, 460.0];
    let mut contents: Vec<Vec<u8>> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let mut c = Vec::new();
        let line = |c: &mut Vec<u8>, x: f32, y: f32, size: u8, bold: bool, text: &str| {
            c.extend_from_slice(
                format!("BT /{} {size} Tf {x:.1} {y:.1} Td (", if bold { "F2" } else { "F1" }).as_bytes(),
            );
            c.extend_from_slice(&pdf_text(text));
            c.extend_from_slice(b") Tj ET\n");
        };
        line(&mut c, 50.0, 790.0, 14, true, &title);
        if heading.training {
            line(&mut c, 50.0, 770.0, 12, true, i18n::text(lang, "report.pdf.training"));
        }
        let count = i18n::render_count(lang, "report.pdf.count", rows.len() as u64, &[]);
        line(&mut c, 50.0, 752.0, 10, false, &count);
        for (x, t) in columns.iter().zip(titles.iter()) {
            line(&mut c, *x, 725.0, 10, true, t);
        }
        c.extend_from_slice(b"50 720 m 545 720 l 0.5 w S\n");
        for (n, r) in page.iter().enumerate() {
            let y = 705.0 - 16.0 * n as f32;
            let cells = [
                r.reference.clone(),
                r.number.clone(),
                r.time.clone(),
                r.staff_id.to_string(),
                state_text(lang, &r.state),
            ];
            for (x, t) in columns.iter().zip(cells.iter()) {
                line(&mut c, *x, y, 10, false, t);
            }
        }
        let footer = i18n::render(
            lang,
            "report.pdf.page",
            &[("page", &(i + 1).to_string()), ("pages", &page_count.to_string())],
        );
        line(&mut c, 50.0, 40.0, 9, false, &footer);
        contents.push(c);
    }
    // Objects: 1 catalog, 2 page tree, 3 and 4 fonts, then a page and its content per page.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let kids: Vec<String> = (0..page_count).map(|i| format!("{} 0 R", 5 + 2 * i)).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {page_count} >>", kids.join(" ")).into_bytes());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".to_vec());
    for (i, c) in contents.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", c.len()).into_bytes();
        stream.extend_from_slice(c);
        stream.extend_from_slice(b"endstream");
        objects.push(stream);
    }
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(o);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<ReportRow> {
        vec![
            ReportRow {
                reference: "T-AB-1".into(),
                number: "856490-4006".into(),
                time: "10:00:01".into(),
                staff_id: 2,
                state: "issued".into(),
            },
            ReportRow {
                reference: "T-AB-2".into(),
                number: "856490-4014".into(),
                time: "10:05:00".into(),
                staff_id: 3,
                state: "voided".into(),
            },
        ]
    }

    fn heading() -> ReportHeading {
        ReportHeading {
            desk_id: "T-AB".into(),
            office: "Borgerservice Nørrebro".into(),
            desk_number: 3,
            training: true,
            time_zone: "Europe/Copenhagen".into(),
        }
    }

    fn copenhagen() -> TimeZone {
        TimeZone::get(DEFAULT_TIME_ZONE).unwrap()
    }

    fn local(issued_at: &str) -> (String, String) {
        let (d, t) = local_day_and_time(issued_at, &copenhagen()).unwrap();
        (d.to_string(), t)
    }

    #[test]
    fn winter_time_is_utc_plus_one_and_23_30_utc_falls_on_the_next_local_day() {
        assert_eq!(local("2026-11-26T07:15:00Z"), ("2026-11-26".into(), "08:15:00".into()));
        assert_eq!(local("2026-11-25T23:30:00Z"), ("2026-11-26".into(), "00:30:00".into()));
        assert_eq!(local("2026-11-25T22:59:59.999Z"), ("2026-11-25".into(), "23:59:59".into()));
    }

    #[test]
    fn summer_time_is_utc_plus_two_and_moves_the_day_boundary_to_22_utc() {
        assert_eq!(local("2026-07-01T06:15:00Z"), ("2026-07-01".into(), "08:15:00".into()));
        assert_eq!(local("2026-07-01T22:30:00Z"), ("2026-07-02".into(), "00:30:00".into()));
        assert_eq!(local("2026-07-01T21:59:59Z"), ("2026-07-01".into(), "23:59:59".into()));
    }

    #[test]
    fn the_switch_to_winter_time_repeats_an_hour_on_the_same_local_day() {
        // 25 October 2026: clocks go back from 03:00 to 02:00 at 01:00 UTC.
        assert_eq!(local("2026-10-25T00:30:00Z"), ("2026-10-25".into(), "02:30:00".into()));
        assert_eq!(local("2026-10-25T01:30:00Z"), ("2026-10-25".into(), "02:30:00".into()));
    }

    #[test]
    fn a_time_that_does_not_parse_has_no_day() {
        assert_eq!(local_day_and_time("yesterday", &copenhagen()), None);
    }

    #[test]
    fn the_zone_is_named_by_its_iana_name_or_its_offset() {
        assert_eq!(time_zone_name(&copenhagen()), "Europe/Copenhagen");
        let fixed = TimeZone::fixed(jiff::tz::offset(2));
        assert!(time_zone_name(&fixed).starts_with("UTC+02"), "{}", time_zone_name(&fixed));
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn csv_has_a_header_and_one_crlf_line_per_record_with_only_the_minimal_columns() {
        let csv = to_csv(&rows(), "Europe/Copenhagen", Lang::En);
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "Reference,Personnummer,Time (Europe/Copenhagen),Staff ID,State");
        assert_eq!(lines[1], "T-AB-1,856490-4006,10:00:01,2,issued");
        assert!(lines[2].ends_with(",3,voided"));
    }

    #[test]
    fn csv_quotes_a_field_with_a_comma_or_a_quote() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn pdf_is_well_formed_lists_every_reference_and_is_deterministic() {
        let a = to_pdf(&rows(), day(), &heading(), Lang::Da);
        let b = to_pdf(&rows(), day(), &heading(), Lang::Da);
        assert_eq!(a, b);
        assert!(a.starts_with(b"%PDF-1.4"));
        assert!(a.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("(T-AB-1)") && text.contains("(856490-4014)"));
        assert!(text.contains("(Tid \\(Europe/Copenhagen\\))"), "the time column names the zone");
        // The startxref offset points at the xref table.
        let start: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(a[start..].starts_with(b"xref"));
    }

    #[test]
    fn pdf_writes_danish_letters_as_latin1_bytes_and_escapes_parentheses() {
        assert_eq!(pdf_text("Nørre (x)"), b"N\xf8rre \\(x\\)".to_vec());
        assert_eq!(pdf_text("Ж"), b"?".to_vec());
    }

    #[test]
    fn pdf_paginates_long_days() {
        let many: Vec<ReportRow> =
            (0..95).map(|i| ReportRow { reference: format!("T-AB-{i}"), ..rows()[0].clone() }).collect();
        let pdf = to_pdf(&many, day(), &heading(), Lang::En);
        assert!(String::from_utf8_lossy(&pdf).contains("/Count 3"));
    }
}
