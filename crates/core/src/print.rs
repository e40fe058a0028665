//! Printing the handout on the desk's printer (setting `printer`).
//!
//! The PDF bytes go straight to the operating system's print spooler: on
//! Linux and macOS `lp -d QUEUE -t REFERENCE -`, fed on standard input, so
//! no file is ever written by Skranke. The job's title is the record's
//! reference only, never a name or the password. CUPS itself keeps a copy of
//! each job in its spool unless `PreserveJobFiles No` is set in
//! `cupsd.conf`; the deployment notes and `scripts/ci/cups-setup.sh` set it.
//!
//! Issuing code takes a `&dyn Printer`, so its unit tests can use a double
//! that records jobs instead of printing.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::i18n::{self, Lang};

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
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let key = format!("print.error.{}", &self.code()["print.".len()..]);
        match self {
            PrintError::PrinterName(name) => i18n::render(lang, &key, &[("printer", name)]),
            PrintError::Spawn { command, detail } => {
                i18n::render(lang, &key, &[("command", command), ("detail", detail)])
            }
            PrintError::Refused { detail } => i18n::render(lang, &key, &[("detail", detail)]),
            PrintError::Title | PrintError::Unsupported => i18n::render(lang, &key, &[]),
        }
    }
}

/// What the spooler said about an accepted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledJob {
    /// The spooler's job id (CUPS: `QUEUE-N`), when it reported one.
    pub job_id: Option<String>,
}

/// Something that prints PDF bytes: the desk's printer, or a test double.
pub trait Printer {
    /// Spools `pdf` as one job titled `title` (the record's reference).
    /// Returns once the spooler has accepted the whole job.
    fn print(&self, title: &str, pdf: &[u8]) -> Result<SpooledJob, PrintError>;
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

/// A CUPS print queue, reached through the `lp` command.
#[derive(Clone, Debug)]
pub struct CupsPrinter {
    queue: String,
    lp: PathBuf,
}

impl CupsPrinter {
    /// The queue named `queue` (as `lpstat -p` lists it).
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
}

impl Printer for CupsPrinter {
    fn print(&self, title: &str, pdf: &[u8]) -> Result<SpooledJob, PrintError> {
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

/// The job id in lp's answer `request id is QUEUE-12 (1 file(s))`.
fn parse_job_id(stdout: &str) -> Option<String> {
    let rest = stdout.split("request id is ").nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// The platform's printer for the configured queue name: CUPS on Linux and
/// macOS, the Windows spooler on Windows.
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

/// Windows printing. Cross-built by `scripts/windows.sh` and run under Wine
/// there (`tests/windows/wine.rs`), whose spooler hands the job to CUPS; a
/// real Windows printer driver is not tested.
///
/// Approach: the PDF bytes are written to the Windows spooler as a RAW job
/// with the winspool API (`OpenPrinterW`, `StartDocPrinterW` with datatype
/// `RAW` and the reference as the document name, `StartPagePrinter`,
/// `WritePrinter`, `EndPagePrinter`, `EndDocPrinter`, `ClosePrinter`), again
/// from memory and without a file. A job that fails on the way is aborted
/// (`AbortPrinter`), so that no half of a handout comes out. A RAW PDF job needs a printer that
/// understands PDF itself ("PDF direct print"; most current office laser
/// printers and print servers with a PDF-capable driver do); the deployment
/// notes tell administrators to choose such a queue, and to turn off "Keep
/// printed documents" in the queue's advanced properties, Windows' equivalent
/// of CUPS's `PreserveJobFiles`. Windows has no `lp`; this module calls the
/// API directly rather than a helper program that would need a file.
#[cfg(windows)]
mod windows {
    use super::{check_title, PrintError, Printer, SpooledJob};
    use windows_sys::Win32::Graphics::Printing::{
        AbortPrinter, ClosePrinter, EndDocPrinter, EndPagePrinter, OpenPrinterW, StartDocPrinterW, StartPagePrinter,
        WritePrinter, DOC_INFO_1W, PRINTER_HANDLE,
    };

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(std::iter::once(0)).collect()
    }

    pub struct WindowsPrinter {
        name: String,
    }

    impl WindowsPrinter {
        pub fn new(name: &str) -> Result<WindowsPrinter, PrintError> {
            // Windows printer names may contain spaces and backslashes
            // (\\server\queue); only emptiness and control characters are refused.
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(PrintError::PrinterName(name.to_owned()));
            }
            Ok(WindowsPrinter { name: name.to_owned() })
        }
    }

    impl Printer for WindowsPrinter {
        fn print(&self, title: &str, pdf: &[u8]) -> Result<SpooledJob, PrintError> {
            check_title(title)?;
            let refused =
                |what: &str| PrintError::Refused { detail: format!("{what}: {}", std::io::Error::last_os_error()) };
            let name = wide(&self.name);
            let doc_name = wide(title);
            let datatype = wide("RAW");
            let mut handle = PRINTER_HANDLE::default();
            // SAFETY: the strings are NUL-terminated UTF-16 that outlive the
            // calls; the handle is closed on every path below.
            unsafe {
                if OpenPrinterW(name.as_ptr(), &mut handle, std::ptr::null()) == 0 {
                    return Err(refused("OpenPrinter"));
                }
                let info = DOC_INFO_1W {
                    pDocName: doc_name.as_ptr() as *mut u16,
                    pOutputFile: std::ptr::null_mut(),
                    pDatatype: datatype.as_ptr() as *mut u16,
                };
                let job = StartDocPrinterW(handle, 1, &info);
                if job == 0 {
                    let e = refused("StartDocPrinter");
                    ClosePrinter(handle);
                    return Err(e);
                }
                let mut failed = (StartPagePrinter(handle) == 0).then(|| refused("StartPagePrinter"));
                let mut offset = 0usize;
                while failed.is_none() && offset < pdf.len() {
                    let chunk = &pdf[offset..pdf.len().min(offset + (1 << 20))];
                    let mut written = 0u32;
                    if WritePrinter(handle, chunk.as_ptr().cast(), chunk.len() as u32, &mut written) == 0
                        || written == 0
                    {
                        failed = Some(refused("WritePrinter"));
                    }
                    offset += written as usize;
                }
                if failed.is_none() && EndPagePrinter(handle) == 0 {
                    failed = Some(refused("EndPagePrinter"));
                }
                if failed.is_none() && EndDocPrinter(handle) == 0 {
                    failed = Some(refused("EndDocPrinter"));
                }
                if failed.is_some() {
                    AbortPrinter(handle);
                }
                ClosePrinter(handle);
                match failed {
                    Some(e) => Err(e),
                    None => Ok(SpooledJob { job_id: Some(job.to_string()) }),
                }
            }
        }
    }
}

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
        fn print(&self, title: &str, pdf: &[u8]) -> Result<SpooledJob, PrintError> {
            check_title(title)?;
            self.jobs.borrow_mut().push((title.to_owned(), pdf.to_vec()));
            Ok(SpooledJob { job_id: Some(format!("test-{}", self.jobs.borrow().len())) })
        }
    }

    #[test]
    fn a_printer_double_records_the_job_under_its_title() {
        let p = RecordingPrinter::default();
        let job = p.print("D17-000042", b"%PDF-1.3").unwrap();
        assert_eq!(job.job_id.as_deref(), Some("test-1"));
        assert_eq!(p.jobs.borrow()[0].0, "D17-000042");
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
        let job = CupsPrinter::with_lp("q", &script).unwrap().print("D17-000042", &pdf).unwrap();
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
        let err = CupsPrinter::with_lp("q", "/bin/false").unwrap().print("R-1", b"x").unwrap_err();
        assert!(matches!(err, PrintError::Refused { .. }), "{err:?}");
        let err = CupsPrinter::with_lp("q", "/no/such/lp").unwrap().print("R-1", b"x").unwrap_err();
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
        ];
        for e in all {
            for lang in Lang::ALL {
                let m = e.message(lang);
                assert!(!m.starts_with("print.") && !m.contains('{'), "{m}");
            }
        }
    }
}
