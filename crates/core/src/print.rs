//! Printing the handout on the desk's printer (setting `printer`), and the
//! machine's printers the setting is chosen from ([`printers`],
//! [`check_installed`]).
//!
//! On Linux and macOS the page's PDF goes to CUPS: `lp -d QUEUE -t
//! REFERENCE -`, fed on standard input, so no file is ever written by
//! Skranke. CUPS itself keeps a copy of each job in its spool unless
//! `PreserveJobFiles No` is set in `cupsd.conf`; the deployment notes and
//! `scripts/ci/cups-setup.sh` set it.
//!
//! On Windows the page is drawn through the printer's own driver (GDI, see
//! the `windows` module): any office printer prints it, whether or not it
//! understands PDF. The job's title is the record's reference only, never a
//! name or the password, on both.
//!
//! Issuing code takes a `&dyn Printer`, so its unit tests can use a double
//! that records jobs instead of printing.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::i18n::{self, Lang};
use crate::letter::Page;

/// Why a print job could not be handed to the spooler.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    /// No printer is configured, or its name cannot be a queue name.
    #[error("printer name {0:?}")]
    PrinterName(String),
    /// A job title that is empty or holds control characters.
    #[error("job title")]
    Title,
    /// The spooler command could not be started (CUPS not installed?).
    #[error("cannot start {command}: {detail}")]
    Spawn { command: String, detail: String },
    /// The spooler refused the job (unknown queue, CUPS not running, …).
    #[error("spooler refused: {detail}")]
    Refused { detail: String },
    /// Printing is not available on this platform.
    #[error("unsupported platform")]
    Unsupported,
    /// The machine's printers could not be listed.
    #[error("cannot list printers: {detail}")]
    List { detail: String },
    /// A printer this machine does not have.
    #[error("printer {printer:?} is not installed")]
    NotInstalled { printer: String, installed: Vec<String> },
    /// A Windows printer set to keep printed documents: the spooler would
    /// keep a copy of every handout, password and all.
    #[error("printer {printer:?} keeps printed documents")]
    KeepsCopies { printer: String },
}

impl PrintError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PrintError::PrinterName(_) => "print.printer_name",
            PrintError::Title => "print.title",
            PrintError::Spawn { .. } => "print.spawn",
            PrintError::Refused { .. } => "print.refused",
            PrintError::Unsupported => "print.unsupported",
            PrintError::List { .. } => "print.list",
            PrintError::NotInstalled { .. } => "print.not_installed",
            PrintError::KeepsCopies { .. } => "print.keeps_copies",
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let key = format!("print.error.{}", &self.code()["print.".len()..]);
        match self {
            PrintError::PrinterName(printer) | PrintError::KeepsCopies { printer } => {
                i18n::render(lang, &key, &[("printer", printer)])
            }
            PrintError::Spawn { command, detail } => {
                i18n::render(lang, &key, &[("command", command), ("detail", detail)])
            }
            PrintError::Refused { detail } | PrintError::List { detail } => {
                i18n::render(lang, &key, &[("detail", detail)])
            }
            PrintError::NotInstalled { printer, installed } => {
                let none = i18n::render(lang, "print.error.none_installed", &[]);
                let list = if installed.is_empty() { none } else { installed.join(", ") };
                i18n::render(lang, &key, &[("printer", printer), ("installed", &list)])
            }
            PrintError::Title | PrintError::Unsupported => i18n::render(lang, &key, &[]),
        }
    }
}

/// What the spooler said about an accepted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledJob {
    /// The spooler's job id (CUPS: `QUEUE-N`; Windows: the job number),
    /// when it reported one.
    pub job_id: Option<String>,
}

/// Something that prints the handout's page: the desk's printer, or a test
/// double.
pub trait Printer {
    /// Prints `page` as one job titled with its reference. Returns once the
    /// spooler has accepted the whole job.
    fn print(&self, page: &Page) -> Result<SpooledJob, PrintError>;
}

/// A job title: the reference, printable, no control characters.
fn check_title(title: &str) -> Result<(), PrintError> {
    if title.trim().is_empty() || title.len() > 255 || title.chars().any(char::is_control) {
        return Err(PrintError::Title);
    }
    Ok(())
}

/// A CUPS queue name: printable ASCII without space, `/`, `#`, `\` or quotes
/// (CUPS's own rule), not starting with `-` so it can never read as an option.
fn check_queue(name: &str) -> Result<(), PrintError> {
    let ok = !name.is_empty()
        && name.len() <= 127
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_graphic() && !b"/#\\'\"".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PrintError::PrinterName(name.to_owned()))
    }
}

/// A Windows printer name: may hold spaces and backslashes
/// (`\\server\queue`); only emptiness, control characters and a length
/// over the spooler's limit are refused.
#[cfg_attr(not(windows), allow(dead_code))]
fn check_windows_name(name: &str) -> Result<(), PrintError> {
    if name.trim().is_empty() || name.chars().count() > 220 || name.chars().any(char::is_control) {
        return Err(PrintError::PrinterName(name.to_owned()));
    }
    Ok(())
}

/// Whether `name` can be a printer's name on this platform (its spelling
/// only; [`check_installed`] asks the machine).
pub fn check_name(name: &str) -> Result<(), PrintError> {
    #[cfg(windows)]
    {
        check_windows_name(name)
    }
    #[cfg(not(windows))]
    {
        check_queue(name)
    }
}

/// The printers this machine can print to, sorted by name: the CUPS
/// destinations (`lpstat -e`) on Linux and macOS; the local printers and
/// printer connections of the signed-in Windows account (`EnumPrintersW`)
/// on Windows.
pub fn printers() -> Result<Vec<String>, PrintError> {
    #[cfg(windows)]
    let mut names = windows::printers()?;
    #[cfg(unix)]
    let mut names = lpstat_destinations()?;
    #[cfg(not(any(unix, windows)))]
    let mut names: Vec<String> = return Err(PrintError::Unsupported);
    names.sort();
    names.dedup();
    Ok(names)
}

/// `name` is a well-spelt printer that this machine has, and (on Windows)
/// one whose queue keeps no copy of printed documents.
pub fn check_installed(name: &str) -> Result<(), PrintError> {
    check_name(name)?;
    let installed = printers()?;
    if !installed.iter().any(|p| p == name) {
        return Err(PrintError::NotInstalled { printer: name.to_owned(), installed });
    }
    #[cfg(windows)]
    windows::check_keeps_no_copies(name)?;
    Ok(())
}

#[cfg(unix)]
fn lpstat_destinations() -> Result<Vec<String>, PrintError> {
    let output = Command::new("lpstat")
        .arg("-e")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| PrintError::List { detail: format!("lpstat: {e}") })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // lpstat -e exits 1 with nothing to say when there is no destination.
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stdout.trim().is_empty() && stderr.trim().is_empty() {
            return Ok(Vec::new());
        }
        return Err(PrintError::List { detail: format!("lpstat: {}", stderr.trim()) });
    }
    Ok(parse_destinations(&stdout))
}

/// The names in `lpstat -e`'s answer, one per line.
#[cfg_attr(not(unix), allow(dead_code))]
fn parse_destinations(stdout: &str) -> Vec<String> {
    stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// A CUPS print queue, reached through the `lp` command.
#[derive(Clone, Debug)]
pub struct CupsPrinter {
    queue: String,
    lp: PathBuf,
}

impl CupsPrinter {
    /// The queue named `queue` (as `lpstat -e` lists it).
    pub fn new(queue: &str) -> Result<CupsPrinter, PrintError> {
        check_queue(queue)?;
        Ok(CupsPrinter { queue: queue.to_owned(), lp: PathBuf::from("lp") })
    }

    /// The same with another `lp` program (a test's stand-in).
    pub fn with_lp(queue: &str, lp: impl Into<PathBuf>) -> Result<CupsPrinter, PrintError> {
        Ok(CupsPrinter { lp: lp.into(), ..CupsPrinter::new(queue)? })
    }

    /// The queue's name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Spools PDF bytes as one job titled `title`.
    pub fn print_pdf(&self, title: &str, pdf: &[u8]) -> Result<SpooledJob, PrintError> {
        check_title(title)?;
        let command = self.lp.display().to_string();
        let mut child = Command::new(&self.lp)
            .args(["-d", &self.queue, "-t", title, "-o", "document-format=application/pdf", "-"])
            // English messages, so that the job id can be read from them.
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| PrintError::Spawn { command: command.clone(), detail: e.to_string() })?;
        // Write on this thread; lp reads all of stdin before it answers, so
        // its small output cannot fill a pipe and block us.
        let written = child.stdin.take().map(|mut stdin| stdin.write_all(pdf));
        let output = child
            .wait_with_output()
            .map_err(|e| PrintError::Spawn { command: command.clone(), detail: e.to_string() })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let detail = if stderr.trim().is_empty() { output.status.to_string() } else { stderr.trim().to_owned() };
            return Err(PrintError::Refused { detail });
        }
        if let Some(Err(e)) = written {
            return Err(PrintError::Refused { detail: e.to_string() });
        }
        Ok(SpooledJob { job_id: parse_job_id(&stdout) })
    }
}

impl Printer for CupsPrinter {
    fn print(&self, page: &Page) -> Result<SpooledJob, PrintError> {
        let pdf = zeroize::Zeroizing::new(page.pdf());
        self.print_pdf(page.reference(), &pdf)
    }
}

/// The job id in lp's answer `request id is QUEUE-12 (1 file(s))`.
fn parse_job_id(stdout: &str) -> Option<String> {
    let rest = stdout.split("request id is ").nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// The platform's printer for the configured name: CUPS on Linux and
/// macOS, the printer's driver on Windows.
pub fn system_printer(name: &str) -> Result<Box<dyn Printer + Send + Sync>, PrintError> {
    #[cfg(unix)]
    {
        Ok(Box::new(CupsPrinter::new(name)?))
    }
    #[cfg(windows)]
    {
        Ok(Box::new(windows::WindowsPrinter::new(name)?))
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = name;
        Err(PrintError::Unsupported)
    }
}

#[cfg(windows)]
mod windows;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A printer double for issuing tests: it keeps the jobs it was given.
    #[derive(Default)]
    pub(crate) struct RecordingPrinter {
        pub jobs: RefCell<Vec<(String, Vec<u8>)>>,
    }

    impl Printer for RecordingPrinter {
        fn print(&self, page: &Page) -> Result<SpooledJob, PrintError> {
            check_title(page.reference())?;
            self.jobs.borrow_mut().push((page.reference().to_owned(), page.pdf()));
            Ok(SpooledJob { job_id: Some(format!("test-{}", self.jobs.borrow().len())) })
        }
    }

    #[test]
    fn queue_names_that_could_be_options_or_paths_are_refused() {
        for bad in ["", "-d", "a b", "a/b", "a#b", "lp\"x", "ø"] {
            assert!(CupsPrinter::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(CupsPrinter::new("skranke-test").is_ok());
        assert!(CupsPrinter::new("Office_Printer.2").is_ok());
    }

    #[test]
    fn job_titles_must_be_printable() {
        assert_eq!(check_title(""), Err(PrintError::Title));
        assert_eq!(check_title("a\nb"), Err(PrintError::Title));
        assert!(check_title("D17-000042").is_ok());
    }

    #[test]
    fn windows_printer_names_may_hold_spaces_and_backslashes_but_no_control_characters() {
        assert!(check_windows_name(r"\\print01\Borgerservice 2. sal").is_ok());
        for bad in ["", "  ", "a\nb", "a\u{7}"] {
            assert_eq!(check_windows_name(bad), Err(PrintError::PrinterName(bad.to_owned())), "{bad:?}");
        }
    }

    #[test]
    fn lpstat_destinations_are_one_per_line() {
        assert_eq!(parse_destinations("skranke-test\nOffice_2\n\n"), ["skranke-test", "Office_2"]);
        assert!(parse_destinations("").is_empty());
    }

    #[test]
    fn a_printer_not_installed_is_named_with_those_that_are() {
        let e = PrintError::NotInstalled { printer: "Skranke 9".into(), installed: vec!["A".into(), "B 2".into()] };
        for lang in Lang::ALL {
            let m = e.message(lang);
            assert!(m.contains("Skranke 9") && m.contains("A, B 2"), "{m}");
        }
    }

    #[test]
    fn lp_job_ids_are_read_from_its_answer() {
        assert_eq!(parse_job_id("request id is skranke-test-12 (1 file(s))\n").as_deref(), Some("skranke-test-12"));
        assert_eq!(parse_job_id("something else"), None);
    }

    /// A stand-in `lp` that writes its arguments and stdin to files, to check
    /// what CupsPrinter hands to the spooler.
    #[cfg(unix)]
    #[test]
    fn cups_printer_feeds_the_bytes_on_stdin_and_titles_the_job_with_the_reference_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("skranke-lp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("lp");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > {0}/args\ncat > {0}/stdin\necho 'request id is q-7 (1 file(s))'\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pdf: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let job = CupsPrinter::with_lp("q", &script).unwrap().print_pdf("D17-000042", &pdf).unwrap();
        assert_eq!(job.job_id.as_deref(), Some("q-7"));
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        assert_eq!(
            args.lines().collect::<Vec<_>>(),
            ["-d", "q", "-t", "D17-000042", "-o", "document-format=application/pdf", "-"]
        );
        assert_eq!(std::fs::read(dir.join("stdin")).unwrap(), pdf);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_refusing_spooler_is_reported_with_its_message() {
        let err = CupsPrinter::with_lp("q", "/bin/false").unwrap().print_pdf("R-1", b"x").unwrap_err();
        assert!(matches!(err, PrintError::Refused { .. }), "{err:?}");
        let err = CupsPrinter::with_lp("q", "/no/such/lp").unwrap().print_pdf("R-1", b"x").unwrap_err();
        assert!(matches!(err, PrintError::Spawn { .. }), "{err:?}");
    }

    #[test]
    fn every_print_error_has_a_message_in_both_languages() {
        let all = [
            PrintError::PrinterName("x".into()),
            PrintError::Title,
            PrintError::Spawn { command: "lp".into(), detail: "d".into() },
            PrintError::Refused { detail: "d".into() },
            PrintError::Unsupported,
            PrintError::List { detail: "d".into() },
            PrintError::NotInstalled { printer: "x".into(), installed: vec![] },
            PrintError::NotInstalled { printer: "x".into(), installed: vec!["a".into(), "b".into()] },
            PrintError::KeepsCopies { printer: "x".into() },
        ];
        for e in all {
            for lang in Lang::ALL {
                let m = e.message(lang);
                assert!(!m.starts_with("print.") && !m.contains('{'), "{m}");
            }
        }
    }
}
