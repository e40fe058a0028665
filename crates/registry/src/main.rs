//! `skranke-registry`: the registry service and its operator commands.
//! Exit status: 0 success, 1 refused (e.g. no such desk), 2 usage or
//! configuration error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use skranke_registry::key::{self, RegistryKey};
use skranke_registry::revocation::{self, Cancelled, CodeChoice, OpenCode};
use skranke_registry::{
    api, db, lists, logging, ops, privacy, settings, system_clock, tls, AppState, Config, RateLimit, RegistryError,
};
use skranke_rules::i18n::{render, render_count, Lang};
use skranke_rules::lease::Block;

#[derive(Parser)]
#[command(name = "skranke-registry", version = env!("CARGO_PKG_VERSION"), about = "Skranke's central registry of administrative personnumre", args_override_self = true)]
struct Cli {
    /// A TOML file with any of the options: the global ones at the top,
    /// `serve`'s under `[serve]`, each named as its flag without the
    /// dashes (`pool_size = 16`, `insecure_http = true`); a flag typed on
    /// the command line wins over the file.
    #[arg(long, global = true, env = "SKRANKE_CONFIG")]
    config: Option<PathBuf>,
    /// PostgreSQL connection URL.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Who runs the command (recorded); default: the OS user.
    #[arg(long, global = true, env = "SKRANKE_OPERATOR")]
    operator: Option<String>,
    /// Language of messages: da (default) or en.
    #[arg(long, global = true, env = "SKRANKE_LANG", value_parser = parse_lang)]
    lang: Option<Lang>,
    /// Days personal data is kept after a record is registered (`purge`,
    /// and `serve` once a day).
    #[arg(long, global = true, env = "SKRANKE_RETAIN_PERSONAL_DAYS", default_value_t = privacy::DEFAULT_RETAIN_DAYS)]
    retain_personal_days: u32,
    /// The registry's key file (`serve`, `enrolment-code`); or its content
    /// in SKRANKE_REGISTRY_KEY. Kept outside the database and its backups.
    #[arg(long, global = true, env = "SKRANKE_REGISTRY_KEY_FILE")]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (applies pending migrations first).
    #[command(args_override_self = true)]
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// PEM certificate chain for HTTPS.
        #[arg(long, required_unless_present = "insecure_http", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for HTTPS.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve plain HTTP (loopback and tests only).
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        insecure_http: bool,
        /// Bearer token of the downstream feed consumer (CPR/Jobnet adapter).
        #[arg(long, env = "SKRANKE_FEED_TOKEN", hide_env_values = true)]
        feed_token: Option<String>,
        /// File holding the bearer token of the metrics scraper; without it
        /// `/metrics` is not served.
        #[arg(long, env = "SKRANKE_METRICS_TOKEN_FILE")]
        metrics_token_file: Option<PathBuf>,
        /// Lease units one desk may hold.
        #[arg(long, default_value_t = 2)]
        units_per_desk: u32,
        /// Online allocation deadline in milliseconds.
        #[arg(long, default_value_t = 2000)]
        allocate_deadline_ms: u64,
        /// Modulus-11 numbers one desk is allocated online per 24 hours; after
        /// that it gets others (0: none).
        #[arg(long, env = "SKRANKE_MODULUS11_PER_DESK_DAY", default_value_t = skranke_registry::DEFAULT_MODULUS11_PER_DESK_DAY)]
        modulus11_per_desk_day: u32,
        /// Database connections.
        #[arg(long, default_value_t = 16)]
        pool_size: usize,
        /// Lookups per second per desk (0: no limit).
        #[arg(long, env = "SKRANKE_LOOKUP_RATE", default_value_t = 10.0)]
        lookup_rate: f64,
        /// Lookups one desk may make at once before the rate applies.
        #[arg(long, env = "SKRANKE_LOOKUP_BURST", default_value_t = 20)]
        lookup_burst: u32,
        /// Online allocations per second per desk (0: no limit).
        #[arg(long, env = "SKRANKE_ALLOCATE_RATE", default_value_t = 10.0)]
        allocate_rate: f64,
        /// Online allocations one desk may make at once before the rate applies.
        #[arg(long, env = "SKRANKE_ALLOCATE_BURST", default_value_t = 20)]
        allocate_burst: u32,
        /// Refused enrolment attempts per minute per client address (0: no limit).
        #[arg(long, env = "SKRANKE_ENROL_PER_MINUTE", default_value_t = 5.0)]
        enrol_per_minute: f64,
        /// Refused enrolment attempts one address may make at once.
        #[arg(long, env = "SKRANKE_ENROL_BURST", default_value_t = 5)]
        enrol_burst: u32,
    },
    /// Apply pending database migrations.
    Migrate,
    /// The registry's own key, which signs its answers (kept in a file,
    /// never in the database).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Create a one-time enrolment code for a desk.
    EnrolmentCode {
        /// Kommunekode (3 digits).
        #[arg(long)]
        municipality: u16,
        #[arg(long)]
        office: String,
        #[arg(long)]
        desk: u32,
        /// Days the code may be used (1 to 90).
        #[arg(long, default_value_t = revocation::DEFAULT_CODE_VALID_DAYS)]
        valid_days: u32,
    },
    /// List the enrolment codes that may still be used (never the codes).
    EnrolmentCodes {
        #[arg(long)]
        json: bool,
    },
    /// Cancel an open enrolment code, by its ID or by municipality and desk.
    CancelEnrolmentCode {
        /// The code's ID, as `enrolment-codes` shows it.
        #[arg(long, required_unless_present_all = ["municipality", "desk"], conflicts_with_all = ["municipality", "desk"])]
        id: Option<i64>,
        /// Kommunekode (3 digits), with --desk.
        #[arg(long, requires = "desk")]
        municipality: Option<u16>,
        #[arg(long, requires = "municipality")]
        desk: Option<u32>,
    },
    /// List enrolled desks.
    Desks {
        #[arg(long)]
        json: bool,
    },
    /// A municipality's settings for all its desks (the privacy notice, the
    /// initial password's lapse, the idle lock, the handout languages): each
    /// desk's next sync brings them, and no desk admin can change them there.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// The lowest desk version that may issue in this deployment (a desk below
    /// it still syncs what it issued).
    MinimumVersion {
        #[command(subcommand)]
        command: MinimumVersionCommand,
    },
    /// Retire a desk: it may upload, never lease or allocate again.
    RetireDesk { desk_id: String },
    /// Revoke a desk whose key is stolen or lost: every request signed with it is refused.
    RevokeDesk { desk_id: String },
    /// Numbers on handouts that no accepted record holds (a cloned or restored
    /// desk's conflicting records): never handed out again.
    Disputed {
        #[arg(long)]
        json: bool,
    },
    /// What operators watch: cases, desks, codes, numbers and the feed
    /// (never a name; `case show` opens one case's personal data, audited).
    List {
        #[command(subcommand)]
        what: ListCommand,
    },
    /// One case (a conflict or a duplicate review).
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Record numbers of the block already used elsewhere (one per line).
    ImportUsed { file: PathBuf },
    /// The registry at a glance.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Declare that the database was restored from a backup.
    Restored,
    /// Erase personal data past the retention period now (`serve` does it daily).
    Purge {
        /// Count what would be erased, erase nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Everything held about one person, as JSON (the data subject's access right).
    ExportPerson {
        /// The person's personnummer.
        #[arg(long, required_unless_present = "document")]
        number: Option<String>,
        /// The identity document's number (with --issuing-state).
        #[arg(long, requires = "issuing_state", conflicts_with = "number")]
        document: Option<String>,
        /// The document's issuing state, as the desk recorded it.
        #[arg(long)]
        issuing_state: Option<String>,
    },
    /// Correct one field of a person's record (audited; values are not logged).
    Correct {
        #[arg(long)]
        number: String,
        /// The record, when the number names more than one.
        #[arg(long)]
        record: Option<String>,
        /// name_document, name_latin, nationality, document.kind, document.issuing_state or document.expiry_date.
        #[arg(long)]
        field: String,
        #[arg(long)]
        value: String,
        /// Why (kept in the operator log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum ListCommand {
    /// Conflicts (events kept although they contradicted the registry), oldest first.
    Conflicts {
        /// open, decided or closed.
        #[arg(long, value_parser = parse_case_state)]
        state: Option<lists::CaseState>,
        #[arg(long)]
        json: bool,
    },
    /// Duplicate documents and reviews, oldest first.
    Duplicates {
        /// open, decided or closed.
        #[arg(long, value_parser = parse_case_state)]
        state: Option<lists::CaseState>,
        #[arg(long)]
        json: bool,
    },
    /// Disputed numbers (as `disputed`).
    Disputed {
        #[arg(long)]
        json: bool,
    },
    /// Desks that are not active: quarantined, retired and revoked.
    Desks {
        /// Only this standing (repeatable): quarantined, retired or revoked.
        #[arg(long, value_parser = parse_desk_state)]
        state: Vec<revocation::DeskState>,
        #[arg(long)]
        json: bool,
    },
    /// Enrolment codes that may still be used (never the codes).
    Codes {
        #[arg(long)]
        json: bool,
    },
    /// Desks that have not synced for more than N days.
    Silent {
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Active desks holding fewer units than they should, or none left for a birth date.
    LowReserve {
        /// Units a desk should hold (serve's --units-per-desk).
        #[arg(long, default_value_t = 2)]
        units: u32,
        #[arg(long)]
        json: bool,
    },
    /// Birth dates whose online numbers run low, modulus 11 first.
    NumbersLow {
        /// List a birth date and sex with fewer numbers left than this.
        #[arg(long, default_value_t = 10)]
        below: usize,
        #[arg(long)]
        json: bool,
    },
    /// The feed's lag (its oldest unconfirmed record) and CPR's and Jobnet's refusals.
    Feed {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CaseCommand {
    /// A case with the personal data of its records, as JSON (recorded in the operator log).
    Show {
        /// The case's ID as `list conflicts` or `list duplicates` shows it (C12, D40).
        case_id: String,
    },
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Set one setting (privacy_controller, privacy_contact, privacy_dpo,
    /// privacy_retention, password_lapse_days, idle_lock_minutes, handout_languages).
    Set {
        /// Kommunekode (3 digits).
        #[arg(long)]
        municipality: u16,
        key: String,
        value: String,
    },
    /// Remove one setting: each desk's own value is in force again.
    Unset {
        #[arg(long)]
        municipality: u16,
        key: String,
    },
    /// The settings of one municipality, or of all.
    List {
        #[arg(long)]
        municipality: Option<u16>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MinimumVersionCommand {
    /// Require VERSION (MAJOR.MINOR.PATCH) of every desk that issues.
    Set { version: String },
    /// Require no minimum version.
    Clear,
    /// The minimum version in force.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a new key in a new file (mode 0600; an existing file is never overwritten).
    Generate {
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace the key with a new one that the old one endorses for the overlap.
    Rotate {
        #[arg(long)]
        file: PathBuf,
        /// Days desks pinned to the old key may still move to the new one.
        #[arg(long, default_value_t = key::DEFAULT_OVERLAP_DAYS)]
        overlap_days: u32,
        /// Rotate although the previous rotation's overlap has not ended.
        #[arg(long)]
        force: bool,
    },
    /// The public key and its fingerprint (never the secret).
    Show {
        #[arg(long)]
        file: PathBuf,
    },
    /// Give a key file from before duplicate secrets one (never replaces one).
    AddDuplicateSecret {
        #[arg(long)]
        file: PathBuf,
    },
}

/// Borrowed pairs for `render` from owned ones.
fn pairs<'a>(args: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    args.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The metrics token from its file (surrounding whitespace dropped); an
/// empty one is refused rather than admitting an empty bearer.
fn metrics_token(path: &std::path::Path, lang: Lang) -> Result<String, RegistryError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RegistryError::Io { context: format!("--metrics-token-file {}", path.display()), source: e })?;
    let token = text.trim();
    if token.len() < 16 {
        let args = [("path", path.display().to_string())];
        return Err(RegistryError::Config(render(lang, "registry.metrics_token_short", &pairs(&args))));
    }
    Ok(token.to_string())
}

fn parse_case_state(s: &str) -> Result<lists::CaseState, String> {
    lists::CaseState::parse(s).ok_or_else(|| format!("unknown case state {s:?}: use open, decided or closed"))
}

fn parse_desk_state(s: &str) -> Result<revocation::DeskState, String> {
    use revocation::DeskState;
    match s {
        "quarantined" => Ok(DeskState::Quarantined),
        "retired" => Ok(DeskState::Retired),
        "revoked" => Ok(DeskState::Revoked),
        _ => Err(format!("unknown desk state {s:?}: use quarantined, retired or revoked")),
    }
}

/// Prints `rows` as JSON, or one catalog line each, or `none` when there are none.
fn print_rows<T: serde::Serialize>(lang: Lang, json: bool, rows: &[T], none: &str, line: impl Fn(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(rows).unwrap_or_default());
    } else if rows.is_empty() {
        println!("{}", render(lang, none, &[]));
    } else {
        for r in rows {
            println!("{}", line(r));
        }
    }
}

fn minute(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_code(s).ok_or_else(|| format!("unknown language {s:?}: use da or en"))
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match config_file::with_file(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("skranke-registry: {message}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    let lang = cli.lang.unwrap_or_default();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    logging::install(std::io::stderr, ansi);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skranke-registry: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli, lang)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("skranke-registry: {}", e.message(lang));
            match e {
                RegistryError::Refused { .. } => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}

/// One open enrolment code as `enrolment-codes` lists it: never the code.
fn code_line(lang: Lang, c: &OpenCode) -> String {
    let at = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    render(
        lang,
        "registry.code_line",
        &[
            ("id", &c.id.to_string()),
            ("municipality", &c.municipality.to_string()),
            ("office", &c.office),
            ("desk", &c.desk_number.to_string()),
            ("created_at", &at(&c.created_at)),
            ("created_by", &c.created_by),
            ("expires_at", &at(&c.expires_at)),
        ],
    )
}

/// Prints what an operator may see of a key: public key, fingerprint, and
/// the rotation it came from.
fn show_key(lang: Lang, key: &RegistryKey) {
    let created = key.created_at.to_rfc3339();
    let args = [("public_key", key.public_hex()), ("fingerprint", key.fingerprint()), ("created_at", created)];
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    println!("{}", render(lang, "registry.key_shown", &args));
    if let Some(p) = &key.previous {
        let until = chrono::DateTime::from_timestamp(p.until, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
        let previous = hex::encode(p.public_key);
        println!("{}", render(lang, "registry.key_previous", &[("public_key", &previous), ("until", &until)]));
    }
}

fn key_command(command: KeyCommand, lang: Lang) -> Result<ExitCode, RegistryError> {
    let now = chrono::Utc::now();
    match command {
        KeyCommand::Generate { file } => {
            let key = key::generate_file(&file, now)?;
            show_key(lang, &key);
            eprintln!("{}", render(lang, "registry.key_generated", &[("path", &file.display().to_string())]));
        }
        KeyCommand::Rotate { file, overlap_days, force } => {
            let key = key::rotate_file(&file, now, overlap_days, force)?;
            show_key(lang, &key);
            eprintln!("{}", render(lang, "registry.key_rotated", &[("path", &file.display().to_string())]));
        }
        KeyCommand::Show { file } => show_key(lang, &RegistryKey::load_file(&file)?),
        KeyCommand::AddDuplicateSecret { file } => {
            key::add_duplicate_secret_file(&file)?;
            eprintln!(
                "{}",
                render(lang, "registry.key_duplicate_secret_added", &[("path", &file.display().to_string())])
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The key of `serve` and `enrolment-code`.
fn registry_key(cli_file: Option<&std::path::Path>) -> Result<RegistryKey, RegistryError> {
    let content = std::env::var(key::KEY_ENV).ok();
    RegistryKey::from_config(cli_file, content.as_deref())
}

async fn run(cli: Cli, lang: Lang) -> Result<ExitCode, RegistryError> {
    // The key commands touch no database: they run before it is opened.
    if let Command::Key { command } = cli.command {
        return key_command(command, lang);
    }
    // The key of the commands that sign, read before the database is
    // touched: a missing or readable key file refuses at once.
    let key = match &cli.command {
        Command::Serve { .. } | Command::EnrolmentCode { .. } => Some(registry_key(cli.key_file.as_deref())?),
        // By document: the duplicate secret makes the keyed form to find.
        Command::ExportPerson { document: Some(_), .. } => Some(registry_key(cli.key_file.as_deref())?),
        _ => None,
    };
    let url = cli.database_url.ok_or_else(|| RegistryError::Config(render(lang, "registry.no_database_url", &[])))?;
    let operator = cli.operator.unwrap_or_else(os_user);
    let block = Block::default_block();
    let pool_size = match &cli.command {
        Command::Serve { pool_size, .. } => *pool_size,
        _ => 2,
    };
    let pool = db::pool_in(&url, pool_size, lang)?;
    db::migrate(&pool, &block).await?;
    // Hashes stored before they were keyed are keyed now, once.
    if let Some(key) = &key {
        skranke_registry::duplicates::rekey(&pool, key.duplicates()?).await?;
    }
    let today = chrono::Local::now().date_naive();
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            insecure_http,
            feed_token,
            units_per_desk,
            allocate_deadline_ms,
            lookup_rate,
            lookup_burst,
            allocate_rate,
            allocate_burst,
            enrol_per_minute,
            enrol_burst,
            modulus11_per_desk_day,
            metrics_token_file,
            ..
        } => {
            let metrics_token = match metrics_token_file {
                Some(path) => Some(metrics_token(&path, lang)?),
                None => None,
            };
            let config = Config {
                metrics_token,
                units_per_desk,
                allocate_deadline: Duration::from_millis(allocate_deadline_ms),
                feed_token,
                lookup_limit: RateLimit::per_second(lookup_rate, lookup_burst),
                allocate_limit: RateLimit::per_second(allocate_rate, allocate_burst),
                enrol_limit: RateLimit::per_minute(enrol_per_minute, enrol_burst),
                modulus11_per_desk_day,
            };
            let key = std::sync::Arc::new(key.expect("read above for serve"));
            eprintln!("{}", render(lang, "registry.key_loaded", &[("fingerprint", &key.fingerprint())]));
            let state = AppState::new(pool, block, config, system_clock(), key);
            let pruner = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    if let Err(e) = skranke_registry::auth::prune_nonces(&pruner).await {
                        tracing::warn!(error = %e.loggable(), "nonce pruning failed");
                    }
                }
            });
            // Retention runs by itself: once a day for the whole deployment.
            // Every instance asks a minute after start and then hourly; the
            // database decides which one purges (privacy::scheduled_purge).
            let purger = state.clone();
            let retain_days = cli.retain_personal_days;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                loop {
                    match privacy::scheduled_purge(&purger.pool, retain_days, purger.now()).await {
                        Ok(privacy::Scheduled::Ran(s)) => tracing::info!(
                            records = s.records,
                            conflicts = s.conflicts,
                            unconfirmed = s.unconfirmed,
                            "personal data past retention erased"
                        ),
                        Ok(privacy::Scheduled::NotDue | privacy::Scheduled::Busy) => {}
                        Err(e) => tracing::warn!(error = %e.loggable(), "retention purge failed"),
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            });
            let (router, _) = api::router(state);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| RegistryError::Io { context: format!("--listen {listen}"), source: e })?;
            let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            match (insecure_http, tls_cert, tls_key) {
                (true, _, _) => {
                    eprintln!("{}", render(lang, "registry.serving_http", &[("address", &local)]));
                    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                        .await
                        .map_err(|e| RegistryError::Io { context: "serve".into(), source: e })?;
                }
                (false, Some(cert), Some(key)) => {
                    let config = tls::server_config(&cert, &key)?;
                    eprintln!("{}", render(lang, "registry.serving_https", &[("address", &local)]));
                    tls::serve_tls(listener, router, config).await?;
                }
                _ => return Err(RegistryError::Config(render(lang, "registry.tls_required", &[]))),
            }
        }
        Command::Migrate => println!("{}", render(lang, "registry.migrated", &[])),
        Command::Key { command } => return key_command(command, lang),
        Command::EnrolmentCode { municipality, office, desk, valid_days } => {
            let key = key.expect("read above for enrolment-code");
            let made =
                revocation::create_enrolment_code(&pool, &operator, &key, municipality, &office, desk, valid_days)
                    .await?;
            println!("{}", made.code);
            eprintln!(
                "{}",
                render(
                    lang,
                    "registry.code_created",
                    &[("municipality", &municipality.to_string()), ("office", &office), ("desk", &desk.to_string())]
                )
            );
            let expires = made.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
            eprintln!(
                "{}",
                render(lang, "registry.code_expires", &[("expires_at", &expires), ("id", &made.id.to_string())])
            );
        }
        Command::EnrolmentCodes { json } => list(&pool, &block, lang, ListCommand::Codes { json }).await?,
        Command::CancelEnrolmentCode { id, municipality, desk } => {
            let choice = match (id, municipality, desk) {
                (Some(id), _, _) => CodeChoice::Id(id),
                (None, Some(municipality), Some(desk_number)) => CodeChoice::Desk { municipality, desk_number },
                // clap requires one of the two forms.
                _ => return Err(RegistryError::bad_field("id")),
            };
            match revocation::cancel_enrolment_code(&pool, &operator, &choice).await? {
                Cancelled::Done(c) => println!(
                    "{}",
                    render(
                        lang,
                        "registry.code_cancelled",
                        &[
                            ("id", &c.id.to_string()),
                            ("municipality", &c.municipality.to_string()),
                            ("office", &c.office),
                            ("desk", &c.desk_number.to_string())
                        ]
                    )
                ),
                Cancelled::NoneOpen => {
                    eprintln!("{}", render(lang, "registry.no_open_code", &[]));
                    return Ok(ExitCode::from(1));
                }
                Cancelled::Ambiguous(codes) => {
                    eprintln!("{}", render(lang, "registry.code_ambiguous", &[("count", &codes.len().to_string())]));
                    for c in &codes {
                        eprintln!("{}", code_line(lang, c));
                    }
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Desks { json } => {
            let desks = ops::desks(&pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&desks).unwrap_or_default());
            } else {
                for d in &desks {
                    println!("{}", desk_line(lang, d));
                }
            }
        }
        Command::List { what } => list(&pool, &block, lang, what).await?,
        Command::Case { command: CaseCommand::Show { case_id } } => {
            match lists::open_case(&pool, &operator, &case_id).await? {
                Some(case) => println!("{}", serde_json::to_string_pretty(&case).unwrap_or_default()),
                None => {
                    eprintln!("{}", render(lang, "registry.no_such_case", &[("case_id", &case_id)]));
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Disputed { json } => list(&pool, &block, lang, ListCommand::Disputed { json }).await?,
        Command::Settings { command } => match command {
            SettingsCommand::Set { municipality, key, value } => {
                settings::set(&pool, &operator, municipality, &key, &value).await?;
                let args = [("municipality", municipality.to_string()), ("key", key)];
                println!("{}", render(lang, "registry.setting_set", &pairs(&args)));
            }
            SettingsCommand::Unset { municipality, key } => {
                let args = [("municipality", municipality.to_string()), ("key", key.clone())];
                if settings::unset(&pool, &operator, municipality, &key).await? {
                    println!("{}", render(lang, "registry.setting_unset", &pairs(&args)));
                } else {
                    eprintln!("{}", render(lang, "registry.setting_not_set", &pairs(&args)));
                    return Ok(ExitCode::from(1));
                }
            }
            SettingsCommand::List { municipality, json } => {
                let all = settings::list(&pool, municipality).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
                } else if all.is_empty() {
                    println!("{}", render(lang, "registry.settings_none", &[]));
                } else {
                    for s in &all {
                        let args = [
                            ("municipality", s.municipality.to_string()),
                            ("key", s.key.clone()),
                            ("value", s.value.clone()),
                            ("set_at", s.set_at.format("%Y-%m-%d %H:%M UTC").to_string()),
                            ("set_by", s.set_by.clone()),
                        ];
                        println!("{}", render(lang, "registry.setting_line", &pairs(&args)));
                    }
                }
            }
        },
        Command::MinimumVersion { command } => match command {
            MinimumVersionCommand::Set { version } => {
                let version = settings::set_minimum_version(&pool, &operator, &version).await?;
                println!("{}", render(lang, "registry.minimum_version_set", &[("version", &version)]));
            }
            MinimumVersionCommand::Clear => {
                if settings::clear_minimum_version(&pool, &operator).await? {
                    println!("{}", render(lang, "registry.minimum_version_cleared", &[]));
                } else {
                    println!("{}", render(lang, "registry.minimum_version_none", &[]));
                }
            }
            MinimumVersionCommand::Show { json } => {
                let client = pool.get().await?;
                let min = settings::minimum_version(&client).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&min).unwrap_or_default());
                } else if let Some(m) = min {
                    let at = m.set_at.format("%Y-%m-%d %H:%M UTC").to_string();
                    let args =
                        [("version", m.version.as_str()), ("set_at", at.as_str()), ("set_by", m.set_by.as_str())];
                    println!("{}", render(lang, "registry.minimum_version_line", &args));
                } else {
                    println!("{}", render(lang, "registry.minimum_version_none", &[]));
                }
            }
        },
        Command::RetireDesk { desk_id } => {
            if ops::retire_desk(&pool, &operator, &desk_id).await? {
                println!("{}", render(lang, "registry.desk_retired_now", &[("desk_id", &desk_id)]));
            } else {
                eprintln!("{}", render(lang, "registry.no_such_desk", &[("desk_id", &desk_id)]));
                return Ok(ExitCode::from(1));
            }
        }
        Command::RevokeDesk { desk_id } => {
            if revocation::revoke_desk(&pool, &operator, &desk_id).await? {
                println!("{}", render(lang, "registry.desk_revoked_now", &[("desk_id", &desk_id)]));
            } else {
                eprintln!("{}", render(lang, "registry.no_revocable_desk", &[("desk_id", &desk_id)]));
                return Ok(ExitCode::from(1));
            }
        }
        Command::ImportUsed { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| RegistryError::Io { context: file.display().to_string(), source: e })?;
            let s = ops::import_used(&pool, &operator, &block, &text, today).await?;
            println!(
                "{}",
                render(
                    lang,
                    "registry.imported",
                    &[
                        ("imported", &s.imported.to_string()),
                        ("known", &s.known.to_string()),
                        ("outside", &s.outside_block.to_string()),
                        ("invalid", &s.invalid_lines.len().to_string())
                    ]
                )
            );
            for line in &s.invalid_lines {
                eprintln!("{}", render(lang, "registry.invalid_line", &[("line", &line.to_string())]));
            }
            if !s.invalid_lines.is_empty() || s.outside_block > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Stats { json } => {
            let s = ops::stats(&pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                println!(
                    "{}",
                    render(
                        lang,
                        "registry.stats",
                        &[
                            ("records", &s.records.to_string()),
                            ("registered", &s.records_registered.to_string()),
                            ("desks", &s.desks.to_string()),
                            ("units_bound", &s.units_bound.to_string()),
                            ("units_free", &s.units_free.to_string()),
                            ("online", &s.online_allocations.to_string()),
                            ("conflicts", &s.conflicts.to_string()),
                            ("refused_cpr", &s.refused_downstream_cpr.to_string()),
                            ("refused_jobnet", &s.refused_downstream_jobnet.to_string())
                        ]
                    )
                );
                if let Some(at) = s.restored_at {
                    let at = at.format("%Y-%m-%d %H:%M").to_string();
                    let reconciling = render(
                        lang,
                        if s.reconciling { "registry.stats_reconciling" } else { "registry.stats_reconciled" },
                        &[],
                    );
                    println!(
                        "{}",
                        render(lang, "registry.stats_restored", &[("restored_at", &at), ("state", &reconciling)])
                    );
                }
                for d in &s.desks_awaited {
                    let last = d.last_sync_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or("-".into());
                    println!(
                        "{}",
                        render(
                            lang,
                            "registry.stats_awaited",
                            &[
                                ("desk_id", &d.desk_id),
                                ("municipality", &d.municipality.to_string()),
                                ("office", &d.office),
                                ("desk", &d.desk_number.to_string()),
                                ("last_sync", &last)
                            ]
                        )
                    );
                }
            }
        }
        Command::Restored => {
            ops::mark_restored(&pool, &operator).await?;
            println!("{}", render(lang, "registry.restored", &[]));
        }
        Command::Purge { dry_run } => {
            let s = privacy::purge(&pool, &operator, cli.retain_personal_days, chrono::Utc::now(), dry_run).await?;
            let key = if dry_run { "registry.purge_dry_run" } else { "registry.purged" };
            println!(
                "{}",
                render(
                    lang,
                    key,
                    &[
                        ("records", &s.records.to_string()),
                        ("conflicts", &s.conflicts.to_string()),
                        ("days", &cli.retain_personal_days.to_string())
                    ]
                )
            );
            if s.unconfirmed > 0 {
                eprintln!("{}", render_count(lang, "registry.purge_unconfirmed", s.unconfirmed as u64, &[]));
            }
        }
        Command::ExportPerson { number, document, issuing_state } => {
            let person = match (number, document, issuing_state) {
                (Some(n), _, _) => privacy::Person::Number(
                    skranke_rules::cpr::Personnummer::parse(&n, today)
                        .map_err(|_| RegistryError::bad_field("number"))?,
                ),
                (None, Some(number), Some(issuing_state)) => privacy::Person::Document { issuing_state, number },
                _ => return Err(RegistryError::bad_field("document")),
            };
            let export = privacy::export_person(
                &pool,
                &operator,
                &person,
                key.as_ref().and_then(|k| k.duplicate_secret.as_ref()),
                chrono::Utc::now(),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&export).unwrap_or_default());
        }
        Command::Correct { number, record, field, value, reason } => {
            let number = skranke_rules::cpr::Personnummer::parse(&number, today)
                .map_err(|_| RegistryError::bad_field("number"))?;
            let field = privacy::Field::parse(&field).ok_or_else(|| RegistryError::bad_field("field"))?;
            let done = privacy::correct(&pool, &operator, &number, record.as_deref(), field, &value, &reason).await?;
            println!(
                "{}",
                render(lang, "registry.corrected", &[("record_id", &done.record_id), ("field", done.field)])
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One desk as `desks` and `list desks` show it.
fn desk_line(lang: Lang, d: &ops::DeskRow) -> String {
    let status = render(lang, d.state.message_key(), &[]);
    let last = d.last_sync_at.as_ref().map(minute).unwrap_or("-".into());
    render(
        lang,
        "registry.desk_line",
        &[
            ("desk_id", &d.desk_id),
            ("municipality", &d.municipality.to_string()),
            ("office", &d.office),
            ("desk", &d.desk_number.to_string()),
            ("status", &status),
            ("units", &d.units.to_string()),
            ("records", &d.records.to_string()),
            ("last_sync", &last),
            ("version", d.app_version.as_deref().unwrap_or("-")),
        ],
    )
}

fn case_line(lang: Lang, c: &lists::Case) -> String {
    let state = render(lang, c.state.message_key(), &[]);
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let municipality = |m: Option<i32>| m.map(|m| m.to_string()).unwrap_or_else(|| "-".into());
    let args = [
        ("case_id", c.case_id.clone()),
        ("reason", c.reason.clone()),
        ("opened_at", minute(&c.opened_at)),
        ("state", state),
        ("decided_by", dash(&c.decided_by)),
        ("desk_id", c.desk_id.clone()),
        ("municipality", c.municipality.to_string()),
        ("record_id", dash(&c.record_id)),
        ("other_desk_id", dash(&c.other_desk_id)),
        ("other_municipality", municipality(c.other_municipality)),
        ("other_record_id", dash(&c.other_record_id)),
    ];
    let key = if c.decided_by.is_some() { "registry.case_line_decided" } else { "registry.case_line" };
    render(lang, key, &pairs(&args))
}

/// `list …`: each list as JSON or as catalog lines.
async fn list(
    pool: &deadpool_postgres::Pool,
    block: &Block,
    lang: Lang,
    what: ListCommand,
) -> Result<(), RegistryError> {
    let now = chrono::Utc::now();
    match what {
        ListCommand::Conflicts { state, json } => {
            let cases = lists::cases(pool, Some(lists::CaseKind::Conflict), state).await?;
            print_rows(lang, json, &cases, "registry.cases_none", |c| case_line(lang, c));
        }
        ListCommand::Duplicates { state, json } => {
            let cases = lists::cases(pool, Some(lists::CaseKind::Duplicate), state).await?;
            print_rows(lang, json, &cases, "registry.cases_none", |c| case_line(lang, c));
        }
        ListCommand::Disputed { json } => {
            let disputed = skranke_registry::disputed::list(pool).await?;
            print_rows(lang, json, &disputed, "registry.disputed_none", |d| {
                let at = minute(&d.received_at);
                let held_by = d.held_by.clone().unwrap_or_else(|| "-".into());
                let record = d.record_id.clone().unwrap_or_else(|| "-".into());
                let args = [
                    ("number", d.number.as_str()),
                    ("desk_id", d.desk_id.as_str()),
                    ("municipality", &d.municipality.to_string()),
                    ("record_id", record.as_str()),
                    ("reason", d.reason.as_str()),
                    ("held_by", held_by.as_str()),
                    ("received_at", at.as_str()),
                ];
                render(lang, "registry.disputed_line", &args)
            });
        }
        ListCommand::Desks { state, json } => {
            let desks = lists::desks_in(pool, &state).await?;
            print_rows(lang, json, &desks, "registry.desks_none", |d| desk_line(lang, d));
        }
        ListCommand::Codes { json } => {
            let codes = revocation::open_enrolment_codes(pool).await?;
            print_rows(lang, json, &codes, "registry.no_open_codes", |c| code_line(lang, c));
        }
        ListCommand::Silent { days, json } => {
            let desks = lists::silent(pool, days, now).await?;
            print_rows(lang, json, &desks, "registry.silent_none", |d| {
                let args = [
                    ("desk_id", d.desk_id.clone()),
                    ("municipality", d.municipality.to_string()),
                    ("office", d.office.clone()),
                    ("desk", d.desk_number.to_string()),
                    ("status", render(lang, d.state.message_key(), &[])),
                    ("last_sync", d.last_sync_at.as_ref().map(minute).unwrap_or_else(|| "-".into())),
                    ("enrolled_at", minute(&d.enrolled_at)),
                ];
                render(lang, "registry.silent_line", &pairs(&args))
            });
        }
        ListCommand::LowReserve { units, json } => {
            let desks = lists::low_reserve(pool, units).await?;
            print_rows(lang, json, &desks, "registry.low_reserve_none", |d| {
                let args = [
                    ("desk_id", d.desk_id.clone()),
                    ("municipality", d.municipality.to_string()),
                    ("office", d.office.clone()),
                    ("desk", d.desk_number.to_string()),
                    ("units", d.units.to_string()),
                    ("exhausted", d.exhausted.to_string()),
                    ("fewest_left", d.fewest_left.to_string()),
                ];
                render(lang, "registry.low_reserve_line", &pairs(&args))
            });
        }
        ListCommand::NumbersLow { below, json } => {
            let low = lists::numbers_low(pool, block, below).await?;
            print_rows(lang, json, &low, "registry.numbers_low_none", |n| {
                let args = [
                    ("birth_date", n.birth_date.to_string()),
                    ("sex", n.sex.clone()),
                    ("modulus11_left", n.modulus11_left.to_string()),
                    ("online_left", n.online_left.to_string()),
                ];
                render(lang, "registry.numbers_low_line", &pairs(&args))
            });
        }
        ListCommand::Feed { json } => {
            let feed = lists::feed(pool, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&feed).unwrap_or_default());
                return Ok(());
            }
            match (&feed.oldest_unconfirmed, feed.lag_seconds) {
                (Some(o), Some(lag)) => {
                    let args = [
                        ("unconfirmed", feed.unconfirmed.to_string()),
                        ("record_id", o.record_id.clone()),
                        ("desk_id", o.desk_id.clone()),
                        ("received_at", minute(&o.received_at)),
                        ("minutes", (lag / 60).to_string()),
                    ];
                    println!("{}", render(lang, "registry.feed_lag", &pairs(&args)));
                }
                _ => println!("{}", render(lang, "registry.feed_current", &[])),
            }
            for r in &feed.refusals {
                let args = [
                    ("record_id", r.record_id.clone()),
                    ("desk_id", r.desk_id.clone()),
                    ("municipality", r.municipality.to_string()),
                    ("by", r.refused_by.clone().unwrap_or_default()),
                    ("reason", r.refused_reason.clone().unwrap_or_default()),
                    ("at", r.refused_at.as_ref().map(minute).unwrap_or_default()),
                ];
                println!("{}", render(lang, "registry.feed_refusal", &pairs(&args)));
            }
        }
    }
    Ok(())
}

/// `--config FILE`: a TOML file that stands for command-line options.
mod config_file {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use clap::CommandFactory;
    use skranke_rules::i18n::{render, Lang};

    use super::Cli;

    /// The language of the file's refusals: `--lang` or `SKRANKE_LANG` as typed.
    fn lang(args: &[OsString]) -> Lang {
        let typed = args
            .iter()
            .position(|a| a == "--lang")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.to_str().map(str::to_owned))
            .or_else(|| std::env::var("SKRANKE_LANG").ok());
        typed.as_deref().and_then(Lang::from_code).unwrap_or_default()
    }

    /// The file `--config` (or `SKRANKE_CONFIG`) names, if any.
    fn named(args: &[OsString]) -> Option<PathBuf> {
        for (i, a) in args.iter().enumerate() {
            if a == "--config" {
                return args.get(i + 1).map(PathBuf::from);
            }
            if let Some(path) = a.to_str().and_then(|a| a.strip_prefix("--config=")) {
                return Some(PathBuf::from(path));
            }
        }
        std::env::var_os("SKRANKE_CONFIG").map(PathBuf::from)
    }

    /// `args` with the file's options put in: the global ones after the
    /// program's name, `[serve]`'s right after `serve`, both before what
    /// was typed, so that a typed flag wins (clap's `args_override_self`).
    pub fn with_file(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
        let Some(path) = named(&args) else { return Ok(args) };
        let lang = lang(&args);
        let shown = path.display().to_string();
        let refuse = |key: &str, extra: &[(&str, &str)]| {
            let mut all = vec![("file", shown.as_str())];
            all.extend_from_slice(extra);
            render(lang, key, &all)
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| refuse("registry.config_unreadable", &[("detail", &e.to_string())]))?;
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| refuse("registry.config_invalid", &[("detail", e.message())]))?;
        let root = Cli::command();
        let serve = root.find_subcommand("serve").cloned().unwrap_or_else(|| clap::Command::new("serve"));
        let mut global = Vec::new();
        let mut serve_args = Vec::new();
        for (key, value) in &table {
            match value {
                toml::Value::Table(inner) if key == "serve" => {
                    for (key, value) in inner {
                        serve_args.extend(option(&serve, key, value, "serve.", &refuse)?);
                    }
                }
                _ => global.extend(option(&root, key, value, "", &refuse)?),
            }
        }
        let mut out = Vec::with_capacity(args.len() + global.len() + serve_args.len());
        let mut rest = args.into_iter();
        out.extend(rest.next());
        out.extend(global.into_iter().map(OsString::from));
        let mut serve_args = Some(serve_args);
        for a in rest {
            let is_serve = a == "serve";
            out.push(a);
            if is_serve {
                out.extend(serve_args.take().unwrap_or_default().into_iter().map(OsString::from));
            }
        }
        Ok(out)
    }

    /// One key of the file as the flag it names, refused naming the key
    /// (with the keys there are) when no flag has that name or the value
    /// cannot be one.
    fn option(
        command: &clap::Command,
        key: &str,
        value: &toml::Value,
        prefix: &str,
        refuse: &dyn Fn(&str, &[(&str, &str)]) -> String,
    ) -> Result<Vec<String>, String> {
        let flag = key.replace('_', "-");
        let named = format!("{prefix}{key}");
        let known = || {
            command
                .get_arguments()
                .filter(|a| !a.is_global_set() || prefix.is_empty())
                .filter_map(|a| a.get_long())
                .filter(|l| !matches!(*l, "config" | "help" | "version"))
                .map(|l| format!("{prefix}{}", l.replace('-', "_")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(flag.as_str()) && flag != "config")
        else {
            return Err(refuse("registry.config_unknown_key", &[("key", &named), ("known", &known())]));
        };
        let takes_value = arg.get_action().takes_values();
        let wrong = || refuse("registry.config_wrong_type", &[("key", &named)]);
        Ok(match value {
            toml::Value::Boolean(true) if !takes_value => vec![format!("--{flag}")],
            toml::Value::Boolean(false) if !takes_value => Vec::new(),
            toml::Value::String(s) if takes_value => vec![format!("--{flag}"), s.clone()],
            toml::Value::Integer(n) if takes_value => vec![format!("--{flag}"), n.to_string()],
            toml::Value::Float(f) if takes_value => vec![format!("--{flag}"), f.to_string()],
            _ => return Err(wrong()),
        })
    }
}
