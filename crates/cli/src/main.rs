//! `skranke`: the command-line tool over Skranke's core, for municipal IT
//! staff and scripts. Each subcommand parses its arguments, calls the core,
//! and maps the outcome to output and an exit status:
//! 0 success, 1 a refused input (e.g. an invalid number), 2 a usage error.

mod cpr_check;

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
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("skranke: {e}");
            ExitCode::from(2)
        }
    }
}
