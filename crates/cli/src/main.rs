//! `skranke`: the command-line tool over Skranke's core, for municipal IT
//! staff and scripts. Each subcommand parses its arguments, calls the core,
//! and maps the outcome to output and an exit status:
//! 0 success, 1 a refused input (e.g. an invalid number), 2 a usage error
//! or a problem with the machine or its setup (key store, database, printer,
//! a missing setting). `issue` and `reprint` exit 2 also when the record is
//! committed but its handout did not come out; they say so and name the
//! record to reprint.
//!
//! The desk's folder is `--data-dir`, else `SKRANKE_DATA_DIR`, else the
//! default (Linux `/var/lib/skranke` when writable, else
//! `~/.local/share/skranke`; Windows `%LOCALAPPDATA%\Skranke`; see
//! `skranke_core::desk::default_data_dir`).

mod applicant_check;
mod audit;
mod cpr_check;
mod desk;
mod handout;
mod issue;
mod lease;
mod mrz_parse;
mod purge;
mod records;
mod report;
mod session;
mod settings;
mod staff;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skranke_core::i18n::Lang;
use skranke_core::staff::Role;

#[derive(Parser)]
#[command(name = "skranke", version = skranke_core::VERSION, about = "Skranke: administrative personnumre and Jobnet logins at the counter")]
struct Cli {
    /// Language of messages: da (default) or en.
    #[arg(long, global = true, env = "SKRANKE_LANG", value_parser = parse_lang)]
    lang: Option<Lang>,

    /// The desk's folder (desk.json and the encrypted desk.db).
    #[arg(long, global = true, env = "SKRANKE_DATA_DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Personnummer (CPR number) tools.
    Cpr {
        #[command(subcommand)]
        command: CprCommand,
    },
    /// Machine-readable zones of passports and ID cards.
    Mrz {
        #[command(subcommand)]
        command: MrzCommand,
    },
    /// Applicant intake records.
    Applicant {
        #[command(subcommand)]
        command: ApplicantCommand,
    },
    /// Issue an administrative personnummer and its Jobnet login to an
    /// applicant (JSON intake record), and produce the handout: printed
    /// (--print) or, for a supervisor, saved as a PDF file (--pdf). The
    /// password is on the handout only; if the handout does not come out,
    /// the record stays issued and `skranke reprint` makes a new password.
    #[command(group(clap::ArgGroup::new("handout").required(true).args(["print", "pdf"])))]
    Issue {
        /// The applicant's intake record (JSON), or - for standard input.
        #[arg(long)]
        applicant: String,
        /// Print the handout on the desk's printer (setting `printer`).
        #[arg(long)]
        print: bool,
        /// Save the handout as a new PDF file (supervisor; audited). It holds the password.
        #[arg(long, value_name = "OUT.pdf")]
        pdf: Option<PathBuf>,
        /// The registry reported a possible duplicate and you checked the earlier record with the
        /// applicant: issue anyway (audited). Without it such an issue is refused.
        #[arg(long)]
        duplicate_reviewed: bool,
        /// One JSON object: {"record_id", "number", "birth_date", "sex", "training", "issued_at",
        /// "username", "handout"}; "handout" is "printed", "saved" or "failed". Never the password.
        #[arg(long)]
        json: bool,
        /// Staff member acting (password from SKRANKE_STAFF_PASSWORD or a prompt).
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// A new handout for a record: a new password (the old one stops
    /// working), printed (--print) or saved as a PDF file by a supervisor (--pdf).
    #[command(group(clap::ArgGroup::new("handout").required(true).args(["print", "pdf"])))]
    Reprint {
        /// The record's ID.
        id: String,
        /// Print the handout on the desk's printer (setting `printer`).
        #[arg(long)]
        print: bool,
        /// Save the handout as a new PDF file (supervisor; audited). It holds the password.
        #[arg(long, value_name = "OUT.pdf")]
        pdf: Option<PathBuf>,
        /// One JSON object: {"record_id", "username", "handout"}. Never the password.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        document: handout::DocumentArgs,
        /// Staff member acting (password from SKRANKE_STAFF_PASSWORD or a prompt).
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// Erase personal data now (supervisor): records the registry confirmed
    /// more than 30 days ago (training desks: issued more than 30 days ago).
    /// Records older than that which the registry has not confirmed are kept
    /// and listed. The desk also does this by itself at every start and sync.
    Purge {
        /// Show what would be erased and flagged; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// One JSON object: {"dry_run", "retention_days", "erased": [...], "flagged": [...]}; IDs and dates only.
        #[arg(long)]
        json: bool,
        /// Staff member acting (password from SKRANKE_STAFF_PASSWORD or a prompt).
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// The desk's settings (admin): printer, password_lapse_days (1-365,
    /// default 14), privacy_controller, privacy_contact, privacy_dpo,
    /// idle_lock_minutes (1-240, default 5).
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// The desk: create it, show it.
    Desk {
        #[command(subcommand)]
        command: DeskCommand,
    },
    /// The day report: this desk's records of one day (supervisor, audited).
    Report {
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
        #[command(flatten)]
        format: ReportFormatArg,
        /// The file to write.
        out: PathBuf,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// This desk's records (needs a signed-in staff member).
    Records {
        #[command(subcommand)]
        command: RecordsCommand,
    },
    /// Void a record (supervisor). The number is never issued again.
    Void {
        /// The record's ID.
        id: String,
        #[arg(long)]
        reason: String,
        /// The record that replaces it (of any desk).
        #[arg(long)]
        replaced_by: Option<String>,
        /// Staff member acting (password from SKRANKE_STAFF_PASSWORD or a prompt).
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// The desk's reserve of numbers.
    Lease {
        #[command(subcommand)]
        command: LeaseCommand,
    },
    /// Staff accounts (admin).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Sync with the registry now (runs as the desk, no staff sign-in):
    /// upload what waits, reconcile the reserve, fetch notices and states.
    Sync {
        /// One JSON object: {"uploaded", "accepted", "already_held", "conflict", "invalid", "pending"}.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<SyncCommand>,
    },
}

#[derive(Subcommand)]
enum SyncCommand {
    /// What waits: queued events, the oldest one's age, reserve left, last
    /// complete sync, refused events, notices.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Show one setting, or all of them, with the value in force.
    Get {
        /// printer, password_lapse_days, privacy_controller, privacy_contact, privacy_dpo or idle_lock_minutes.
        key: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// Check and store a setting (audited by key).
    Set {
        key: String,
        value: String,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// The printers this PC has, one name per line: what `set printer` accepts.
    Printers {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MrzCommand {
    /// Parse a zone (TD1, TD2, TD3) from standard input and verify every check digit.
    Parse {
        /// One JSON object with the fields and the failed checks.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApplicantCommand {
    /// Check an intake record (JSON) against every intake rule.
    Check {
        /// JSON output: {"valid", "errors", "notices"}.
        #[arg(long)]
        json: bool,
        /// The desk's kommunekode, to name the competent job centre when the
        /// applicant stays elsewhere.
        #[arg(long, env = "SKRANKE_DESK_MUNICIPALITY")]
        desk_municipality: Option<u16>,
        /// The record's file, or - for standard input.
        file: String,
    },
}

#[derive(Subcommand)]
enum DeskCommand {
    /// Create a desk and its first admin (password from SKRANKE_STAFF_PASSWORD or a prompt):
    /// enrolled with the registry (--registry, --enrolment-code), or a training desk (--training).
    Init {
        /// The registry's address, e.g. https://registry.example.dk (enrolment).
        #[arg(long, requires = "enrolment_code", conflicts_with_all = ["training", "municipality", "office", "desk"])]
        registry: Option<String>,
        /// The one-time enrolment code from the registry's operators.
        #[arg(long, requires = "registry")]
        enrolment_code: Option<String>,
        /// Kommunekode, e.g. 101 (training desks; an enrolled desk gets it from the registry).
        #[arg(long)]
        municipality: Option<String>,
        #[arg(long)]
        office: Option<String>,
        /// Desk number, 1 to 999.
        #[arg(long)]
        desk: Option<u32>,
        /// A training desk: random ID, local reserve, numbers with day + 60, never syncs.
        #[arg(long)]
        training: bool,
        /// The first admin's staff name.
        #[arg(long)]
        admin: String,
    },
    /// Show the desk's identity.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct ReportFormatArg {
    /// Write CSV (reference, number, time, staff ID, state).
    #[arg(long)]
    csv: bool,
    /// Write a PDF list with the same columns.
    #[arg(long)]
    pdf: bool,
}

#[derive(Subcommand)]
enum RecordsCommand {
    /// List this desk's records, newest first.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// Show one record with its personal data.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
}

#[derive(Subcommand)]
enum LeaseCommand {
    /// Units held, numbers issued from them, the tightest birth date.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Add an account (its password from SKRANKE_NEW_STAFF_PASSWORD or a prompt).
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The password is a first one for its owner, who must choose their
        /// own at the first sign-in (as the desk app's Staff screen does).
        #[arg(long)]
        temporary: bool,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// List the accounts: role, active, locked until, must change password.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// Disable an account.
    Disable {
        name: String,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// Give an account a temporary password (from SKRANKE_NEW_PASSWORD or a
    /// prompt); it must choose its own at the next sign-in. Also unlocks it.
    Reset {
        name: String,
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
    /// Change your own password: the current one from SKRANKE_STAFF_PASSWORD
    /// or a prompt, the new one from SKRANKE_NEW_PASSWORD or a prompt. At
    /// least 12 characters and hard to guess (a few uncommon words do well).
    Passwd {
        #[arg(long, env = "SKRANKE_STAFF")]
        staff: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; names the first broken link.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::from_code(s).ok_or_else(|| format!("unknown role {s:?}: use clerk, supervisor or admin"))
}

#[derive(Subcommand)]
enum CprCommand {
    /// Check personnumre given as arguments, or one per line on standard input.
    Check {
        /// One JSON object per input, in input order.
        #[arg(long)]
        json: bool,
        /// Numbers to check (DDMMYY-SSSS or DDMMYYSSSS). None: read standard input.
        numbers: Vec<String>,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_code(s).ok_or_else(|| format!("unknown language {s:?}: use da or en"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang.unwrap_or_default();
    let today = chrono::Local::now().date_naive();
    let dir = || session::data_dir(cli.data_dir.clone());
    let outcome = match cli.command {
        Command::Cpr { command: CprCommand::Check { json, numbers } } => {
            return match cpr_check::run(&numbers, json, lang, today) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("skranke: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Mrz { command: MrzCommand::Parse { json } } => return mrz_parse::run(json, lang, today),
        Command::Applicant { command: ApplicantCommand::Check { json, desk_municipality, file } } => {
            return applicant_check::run(&file, json, desk_municipality, lang, today)
        }
        Command::Issue { applicant, print: _, pdf, duplicate_reviewed, json, staff } => issue::run(
            &dir(),
            staff.as_deref(),
            &applicant,
            &handout::Target::from_args(pdf),
            duplicate_reviewed,
            json,
            lang,
        ),
        Command::Reprint { id, print: _, pdf, json, document, staff } => handout::reprint(
            &dir(),
            staff.as_deref(),
            &id,
            &handout::Target::from_args(pdf),
            document.presented(),
            json,
            lang,
        ),
        Command::Purge { dry_run, json, staff } => purge::run(&dir(), staff.as_deref(), dry_run, json, lang),
        Command::Settings { command: SettingsCommand::Get { key, json, staff } } => {
            settings::get(&dir(), staff.as_deref(), key.as_deref(), json, lang)
        }
        Command::Settings { command: SettingsCommand::Set { key, value, staff } } => {
            settings::set(&dir(), staff.as_deref(), &key, &value, lang)
        }
        Command::Settings { command: SettingsCommand::Printers { json } } => Ok(settings::printers(json, lang)),
        Command::Desk {
            command: DeskCommand::Init { registry, enrolment_code, municipality, office, desk, training, admin },
        } => desk::init(
            &dir(),
            &desk::InitArgs { registry, enrolment_code, municipality, office, desk, training, admin },
            lang,
        ),
        Command::Desk { command: DeskCommand::Show { json } } => desk::show(&dir(), json, lang),
        Command::Records { command: RecordsCommand::List { json, staff } } => {
            records::list(&dir(), staff.as_deref(), json, lang)
        }
        Command::Records { command: RecordsCommand::Show { id, json, staff } } => {
            records::show(&dir(), staff.as_deref(), &id, json, lang)
        }
        Command::Void { id, reason, replaced_by, staff } => {
            records::void(&dir(), staff.as_deref(), &id, &reason, replaced_by.as_deref(), lang)
        }
        Command::Report { day, format, out, staff } => {
            let format = if format.pdf {
                skranke_core::report::ReportFormat::Pdf
            } else {
                skranke_core::report::ReportFormat::Csv
            };
            report::run(&dir(), staff.as_deref(), &day, format, &out, lang)
        }
        Command::Lease { command: LeaseCommand::Status { json } } => lease::status(&dir(), json, lang),
        Command::Staff { command: StaffCommand::Add { name, role, temporary, staff } } => {
            staff::add(&dir(), staff.as_deref(), &name, role, temporary, lang)
        }
        Command::Staff { command: StaffCommand::List { json, staff } } => {
            staff::list(&dir(), staff.as_deref(), json, lang)
        }
        Command::Staff { command: StaffCommand::Disable { name, staff } } => {
            staff::disable(&dir(), staff.as_deref(), &name, lang)
        }
        Command::Staff { command: StaffCommand::Reset { name, staff } } => {
            staff::reset(&dir(), staff.as_deref(), &name, lang)
        }
        Command::Staff { command: StaffCommand::Passwd { staff } } => staff::passwd(&dir(), staff.as_deref(), lang),
        Command::Audit { command: AuditCommand::Verify { json } } => audit::verify(&dir(), json, lang),
        Command::Sync { json, command: None } => sync::run(&dir(), json, lang),
        Command::Sync { command: Some(SyncCommand::Status { json }), json: outer } => {
            sync::status(&dir(), json || outer, lang)
        }
    };
    match outcome {
        Ok(code) => code,
        Err(e) => session::fail(&e, lang),
    }
}
