//! The desk's operational log (driftslog): what happened on this desk, for
//! municipal IT, as append-only lines in `<data dir>/logs/desk.log`:
//!
//! ```text
//! 2025-03-14T09:12:03.120Z info record.issued record=K7Q2M9XA-12 staff=3
//! ```
//!
//! It holds IDs, never a name, a document number or a password, and the
//! type system is what keeps it so: a line is a static event name and
//! [`Field`]s, and a field can only be made from a record reference, a
//! staff ID, a desk ID, a count or a static code. A string that is not a
//! well-formed record or desk ID is written as `invalid`. The audit log
//! (`core::audit`) is the record of acts; this log is for operating the
//! desk and may be deleted at any time. Writing never fails an act: a log
//! that cannot be written is skipped.
//!
//! The file rotates at about 1 MB to one `desk.log.1` (the older one is
//! dropped), so the log never grows without bound on a counter PC.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::store::{GuardOutcome, Store};

/// The file's size at which it is rotated.
pub const ROTATE_AT_BYTES: u64 = 1024 * 1024;

/// How serious a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
        }
    }
}

/// One `key=value` of a line. Only the constructors below make one, and
/// each takes an ID, a number or a static string: nothing a person typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    key: &'static str,
    value: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Id(String),
    Number(u64),
    Code(&'static str),
}

impl Field {
    /// A record reference (`<desk id>-<sequence>`); anything else is `invalid`.
    pub fn record(id: &str) -> Field {
        Field::checked("record", id, crate::issue::valid_record_id(id))
    }

    /// A desk ID; anything else is `invalid`.
    pub fn desk(id: &str) -> Field {
        Field::checked("desk", id, crate::store::valid_desk_id(id))
    }

    /// A staff member by desk-local ID; `None` (a name that matched no
    /// account) is `unknown`: the name typed is never written.
    pub fn staff(id: Option<i64>) -> Field {
        let value = match id.and_then(|i| u64::try_from(i).ok()) {
            Some(n) => Value::Number(n),
            None => Value::Code("unknown"),
        };
        Field { key: "staff", value }
    }

    /// A count under a static name.
    pub fn count(key: &'static str, n: u64) -> Field {
        Field { key, value: Value::Number(n) }
    }

    /// A stable code (an error code, an outcome) under a static name.
    pub fn code(key: &'static str, code: &'static str) -> Field {
        Field { key, value: Value::Code(code) }
    }

    fn checked(key: &'static str, id: &str, valid: bool) -> Field {
        let value = if valid { Value::Id(id.to_string()) } else { Value::Code("invalid") };
        Field { key, value }
    }
}

/// The log of one desk's data directory.
#[derive(Clone, Debug)]
pub struct OpLog {
    path: PathBuf,
}

/// One line as written (without the newline). Pure, for tests.
pub fn line(at: DateTime<Utc>, level: Level, event: &'static str, fields: &[Field]) -> String {
    let mut out = format!("{} {} {}", at.to_rfc3339_opts(SecondsFormat::Millis, true), level.as_str(), event);
    for f in fields {
        out.push(' ');
        out.push_str(f.key);
        out.push('=');
        match &f.value {
            Value::Id(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Code(c) => out.push_str(c),
        }
    }
    out
}

impl OpLog {
    /// The log of the desk whose data directory is `dir`.
    pub fn in_dir(dir: &Path) -> OpLog {
        OpLog { path: dir.join("logs").join("desk.log") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line at the system time.
    pub fn write(&self, level: Level, event: &'static str, fields: &[Field]) {
        self.write_at(Utc::now(), level, event, fields);
    }

    pub fn info(&self, event: &'static str, fields: &[Field]) {
        self.write(Level::Info, event, fields);
    }

    pub fn warn(&self, event: &'static str, fields: &[Field]) {
        self.write(Level::Warn, event, fields);
    }

    /// Appends one line; any I/O failure is swallowed (see the module doc).
    pub fn write_at(&self, at: DateTime<Utc>, level: Level, event: &'static str, fields: &[Field]) {
        let _ = self.append(&line(at, level, event, fields));
    }

    fn append(&self, line: &str) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= ROTATE_AT_BYTES) {
            std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        // One write per line, so lines from two processes never interleave.
        file.write_all(format!("{line}\n").as_bytes())
    }
}

impl OpLog {
    /// The store opened, with what the rollback guard found (a freeze is a warning).
    pub fn opened(&self, desk_id: &str, outcome: GuardOutcome) {
        let (level, code) = match outcome {
            GuardOutcome::InStep => (Level::Info, "in_step"),
            GuardOutcome::CaughtUp => (Level::Info, "caught_up"),
            GuardOutcome::FrozeNow => (Level::Warn, "froze_now"),
            GuardOutcome::Frozen => (Level::Warn, "frozen"),
        };
        self.write(level, "store.opened", &[Field::desk(desk_id), Field::code("guard", code)]);
    }

    /// An act on a record by a staff member (issued, reprinted, voided).
    pub fn record_act(&self, event: &'static str, record_id: &str, staff_id: i64) {
        self.info(event, &[Field::record(record_id), Field::staff(Some(staff_id))]);
    }

    /// A sign-in, by staff ID (`unknown` when the name matched no account).
    pub fn sign_in(&self, staff_id: Option<i64>, ok: bool) {
        match ok {
            true => self.info("staff.sign_in", &[Field::staff(staff_id)]),
            false => self.warn("staff.sign_in_refused", &[Field::staff(staff_id)]),
        }
    }

    /// A sync run's summary: events sent, accepted (or already held),
    /// refused (conflict or invalid), and still waiting.
    pub fn synced(&self, uploaded: u64, accepted: u64, refused: u64, pending: u64) {
        let level = if refused > 0 { Level::Warn } else { Level::Info };
        let fields = [
            Field::count("uploaded", uploaded),
            Field::count("accepted", accepted),
            Field::count("refused", refused),
            Field::count("pending", pending),
        ];
        self.write(level, "sync.done", &fields);
    }
}

impl Store {
    /// This desk's operational log.
    pub fn oplog(&self) -> OpLog {
        OpLog::in_dir(self.dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-14T09:12:03.12Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_line_is_timestamp_level_event_and_key_values() {
        let l = line(at(), Level::Info, "record.issued", &[Field::record("K7Q2M9XA-12"), Field::staff(Some(3))]);
        assert_eq!(l, "2025-03-14T09:12:03.120Z info record.issued record=K7Q2M9XA-12 staff=3");
        let l = line(at(), Level::Warn, "staff.sign_in_refused", &[Field::staff(None), Field::count("events", 2)]);
        assert_eq!(l, "2025-03-14T09:12:03.120Z warn staff.sign_in_refused staff=unknown events=2");
    }

    #[test]
    fn a_string_that_is_not_a_well_formed_id_is_never_written() {
        for hostile in ["Anna Müller", "anna-1", "K7Q2M9XA-12 secret=x", "L898902C3\n", "", "Ødegård-1"] {
            let l = line(at(), Level::Info, "x", &[Field::record(hostile), Field::desk(hostile)]);
            assert!(l.ends_with(" record=invalid desk=invalid"), "{l}");
        }
        let l = line(at(), Level::Info, "x", &[Field::desk("K7Q2M9XA"), Field::staff(Some(-1))]);
        assert!(l.ends_with(" desk=K7Q2M9XA staff=unknown"), "{l}");
    }

    #[test]
    fn the_log_appends_lines_and_rotates_to_one_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = OpLog::in_dir(dir.path());
        log.info("store.opened", &[Field::desk("K7Q2M9XA")]);
        log.warn("sync.failed", &[Field::code("error", "sync.unreachable")]);
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().nth(1).unwrap().contains(" warn sync.failed error=sync.unreachable"));

        let filler = format!("{}\n", "x".repeat(1023));
        std::fs::write(log.path(), filler.repeat(1024)).unwrap();
        log.info("record.voided", &[Field::record("K7Q2M9XA-1")]);
        let older = dir.path().join("logs").join("desk.log.1");
        assert!(std::fs::metadata(&older).unwrap().len() >= ROTATE_AT_BYTES);
        let current = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(current.lines().count(), 1, "the new file starts after rotation");
        log.info("record.voided", &[Field::record("K7Q2M9XA-2")]);
        assert_eq!(std::fs::read_to_string(log.path()).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_log_that_cannot_be_written_does_not_fail_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the logs directory should be.
        std::fs::write(dir.path().join("logs"), b"not a directory").unwrap();
        OpLog::in_dir(dir.path()).info("store.opened", &[]);
    }
}
