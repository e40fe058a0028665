//! The day report takes its days and times from the desk's time zone: a
//! record issued at 00:30 in Copenhagen is on that day's report, at 00:30,
//! in winter and in summer time. With UTC days these records would be on
//! the report of the day before, an hour or two earlier.

mod common;

use chrono::{DateTime, Utc};
use skranke_core::cpr::Sex;
use skranke_core::report::TimeZone;
use skranke_core::report::{ReportFormat, DEFAULT_TIME_ZONE};

use common::{admin, date, intake, training_desk};

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap()
}

#[test]
fn the_day_report_holds_the_records_of_the_local_day_at_their_local_times() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let issued = [
        // Winter time, UTC+1: the 26th in Copenhagen runs from 23:00 UTC on the 25th.
        "2026-11-25T22:59:59Z",
        "2026-11-25T23:30:00Z",
        "2026-11-26T07:15:00Z",
        "2026-11-26T22:59:59Z",
        "2026-11-26T23:30:00Z",
        // Summer time, UTC+2: 2 July in Copenhagen runs from 22:00 UTC on 1 July.
        "2027-07-01T21:30:00Z",
        "2027-07-01T22:30:00Z",
        "2027-07-02T06:15:00Z",
        "2027-07-02T22:30:00Z",
    ];
    for (i, t) in issued.iter().enumerate() {
        store.issue(&s, &intake(i, date(1990, 5, 17), Sex::Female), at(t), None, None).unwrap();
    }
    let cph = TimeZone::get(DEFAULT_TIME_ZONE).unwrap();
    let times = |store: &mut skranke_core::store::Store, day, tz: &TimeZone| -> Vec<String> {
        let rows = store.day_report(&s, day, tz, ReportFormat::Csv, at("2027-07-03T12:00:00Z")).unwrap();
        rows.into_iter().map(|r| r.time).collect()
    };

    assert_eq!(times(&mut store, date(2026, 11, 25), &cph), ["23:59:59"]);
    assert_eq!(times(&mut store, date(2026, 11, 26), &cph), ["00:30:00", "08:15:00", "23:59:59"]);
    assert_eq!(times(&mut store, date(2026, 11, 27), &cph), ["00:30:00"]);
    assert_eq!(times(&mut store, date(2027, 7, 1), &cph), ["23:30:00"]);
    assert_eq!(times(&mut store, date(2027, 7, 2), &cph), ["00:30:00", "08:15:00"]);
    assert_eq!(times(&mut store, date(2027, 7, 3), &cph), ["00:30:00"]);

    // The same records by UTC days, to show the zone is what decides.
    assert_eq!(times(&mut store, date(2026, 11, 26), &TimeZone::UTC), ["07:15:00", "22:59:59", "23:30:00"]);
}
