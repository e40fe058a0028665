//! `skranke`: the command-line tool over Skranke's core, for municipal IT
//! staff and scripts. Each subcommand parses its arguments, calls the core,
//! and maps the outcome to output and an exit status:
//! 0 success, 1 a refused input (e.g. an invalid number), 2 a usage error.

mod applicant_check;
mod cpr_check;
mod mrz_parse;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skranke_core::i18n::Lang;

#[derive(Parser)]
#[command(name = "skranke", version = skranke_core::VERSION, about = "Skranke: administrative personnumre and Jobnet logins at the counter")]
struct Cli {
    /// Language of messages: da (default) or en.
    #[arg(long, global = true, env = "SKRANKE_LANG", value_parser = parse_lang)]
    lang: Option<Lang>,

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
    let outcome = match cli.command {
        Command::Cpr { command: CprCommand::Check { json, numbers } } => cpr_check::run(&numbers, json, lang, today),
        Command::Mrz { command: MrzCommand::Parse { json } } => Ok(mrz_parse::run(json, lang, today)),
        Command::Applicant { command: ApplicantCommand::Check { json, desk_municipality, file } } => {
            Ok(applicant_check::run(&file, json, desk_municipality, lang, today))
        }
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("skranke: {e}");
            ExitCode::from(2)
        }
    }
}
