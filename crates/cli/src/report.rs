//! `skranke report --day DATE (--csv | --pdf) OUT`: this desk's records of a
//! day (supervisor, audited), the same report as the desk window's.

use std::path::Path;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use skranke_core::i18n::{self, Lang};
use skranke_core::report::{self, ReportFormat, ReportHeading};
use skranke_core::{Error, FieldError};

use crate::session;

pub fn run(
    dir: &Path,
    staff: Option<&str>,
    day: &str,
    format: ReportFormat,
    out: &Path,
    lang: Lang,
) -> Result<ExitCode, Error> {
    let Ok(date) = day.trim().parse::<NaiveDate>() else {
        return Err(Error::Invalid(vec![FieldError {
            field: "day".into(),
            code: "day".into(),
            message: i18n::render(lang, "report.error.day", &[("day", day)]),
        }]));
    };
    let mut store = session::open(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    let tz = report::desk_time_zone();
    let zone = report::time_zone_name(&tz);
    let rows = store.day_report(&s, date, &tz, format, Utc::now())?;
    let bytes = match format {
        ReportFormat::Csv => report::to_csv(&rows, &zone, lang).into_bytes(),
        ReportFormat::Pdf => {
            let desk = store.desk_info()?;
            let heading = ReportHeading {
                desk_id: desk.desk_id,
                office: desk.office,
                desk_number: desk.desk_number,
                training: desk.training,
                time_zone: zone,
            };
            report::to_pdf(&rows, date, &heading, lang)
        }
    };
    let shown = out.display().to_string();
    std::fs::write(out, bytes).map_err(|source| Error::Io {
        context: i18n::render(lang, "report.error.write", &[("path", &shown), ("detail", "")]),
        source,
    })?;
    eprintln!(
        "{}",
        i18n::render_count(
            lang,
            "report.cli.saved",
            rows.len() as u64,
            &[("day", &date.to_string()), ("path", &shown)]
        )
    );
    Ok(ExitCode::SUCCESS)
}
