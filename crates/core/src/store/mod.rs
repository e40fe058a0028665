//! The desk store: one SQLite database per desk, encrypted with SQLCipher
//! under a raw 256-bit key that lives in the OS key store.
//!
//! Every act (issue, void, staff change, …) is one `BEGIN IMMEDIATE`
//! transaction that appends exactly one audit event; after its commit the
//! audit head (sequence and hash) goes to the key store as the **rollback
//! guard**. At every open the guard is compared with the database: a database
//! that has forgotten what the key store saw (a restored backup, a reverted
//! snapshot, a copied disk) freezes the desk's lease for good; a database that
//! is ahead (a crash between commit and key-store write) is normal and the key
//! store catches up.
//!
//! Durability: WAL with `synchronous=FULL`, so a commit reported to the clerk
//! survives a crash of the process or the machine.

pub mod audit;
pub mod keystore;
pub(crate) mod outbox;
pub(crate) mod schema;
pub(crate) mod state;

/// The SQLite binding, for code that writes inside an act's transaction
/// (e.g. an [`crate::issue::IssueAttachment`]).
pub use rusqlite;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use self::audit::AuditHead;
use self::keystore::KeyStore;
use crate::i18n::{self, Lang};

/// The encrypted database's file name inside the desk's folder.
pub const DB_FILE: &str = "desk.db";
/// The non-secret identity file inside the desk's folder (which desk ID names
/// the key-store entries).
pub const DESK_FILE: &str = "desk.json";

/// Everything the desk store, the key store, audit and issuing can refuse or
/// fail with (staff acts refuse with [`crate::staff::StaffError`]). Each variant has a catalog message ([`StoreError::message`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no desk in {dir}")]
    NoDesk { dir: PathBuf },
    #[error("a desk already exists in {dir}")]
    DeskExists { dir: PathBuf },
    #[error("desk file {path} is unreadable: {detail}")]
    DeskFile { path: PathBuf, detail: String },
    #[error("the database file {path} is missing")]
    DatabaseMissing { path: PathBuf },
    #[error("the OS key store is unavailable: {detail}")]
    KeyStoreUnavailable { detail: String },
    #[error("key-store entry {entry} of desk {desk_id} is missing")]
    KeyMissing { desk_id: String, entry: String },
    #[error("the key does not open {path}")]
    WrongKey { path: PathBuf },
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("the database has schema version {found}, this program knows up to {known}")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("the OS random source failed: {detail}")]
    Random { detail: String },
    #[error("the rollback guard could not be written to the key store: {detail}")]
    GuardPending { detail: String },
}

impl StoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NoDesk { .. } => "store.no_desk",
            StoreError::DeskExists { .. } => "store.desk_exists",
            StoreError::DeskFile { .. } => "store.desk_file",
            StoreError::DatabaseMissing { .. } => "store.database_missing",
            StoreError::KeyStoreUnavailable { .. } => "store.keystore_unavailable",
            StoreError::KeyMissing { .. } => "store.key_missing",
            StoreError::WrongKey { .. } => "store.wrong_key",
            StoreError::Database(_) => "store.database",
            StoreError::SchemaTooNew { .. } => "store.schema_too_new",
            StoreError::Random { .. } => "store.random",
            StoreError::GuardPending { .. } => "store.guard_pending",
        }
    }

    /// Whether this is a refusal of the request (exit 1 in the CLI) rather
    /// than a failure of the machine or its setup.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            StoreError::NoDesk { .. }
                | StoreError::DeskFile { .. }
                | StoreError::DatabaseMissing { .. }
                | StoreError::KeyStoreUnavailable { .. }
                | StoreError::KeyMissing { .. }
                | StoreError::WrongKey { .. }
                | StoreError::Database(_)
                | StoreError::SchemaTooNew { .. }
                | StoreError::Random { .. }
                | StoreError::GuardPending { .. }
        )
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let key = match self {
            // These name the platform's own key store (Credential Manager on Windows).
            StoreError::KeyStoreUnavailable { .. }
            | StoreError::KeyMissing { .. }
            | StoreError::GuardPending { .. } => crate::keystore::Platform::CURRENT.message_key(self.code()),
            _ => format!("{}.error", self.code()),
        };
        let args: Vec<(&str, String)> = match self {
            StoreError::NoDesk { dir } | StoreError::DeskExists { dir } => vec![("dir", dir.display().to_string())],
            StoreError::DeskFile { path, detail } => {
                vec![("path", path.display().to_string()), ("detail", detail.clone())]
            }
            StoreError::DatabaseMissing { path } | StoreError::WrongKey { path } => {
                vec![("path", path.display().to_string())]
            }
            StoreError::KeyStoreUnavailable { detail }
            | StoreError::Random { detail }
            | StoreError::GuardPending { detail } => vec![("detail", detail.clone())],
            StoreError::KeyMissing { desk_id, entry } => vec![("desk_id", desk_id.clone()), ("entry", entry.clone())],
            StoreError::Database(e) => vec![("detail", e.to_string())],
            StoreError::SchemaTooNew { found, known } => {
                vec![("found", found.to_string()), ("known", known.to_string())]
            }
        };
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        i18n::render(lang, &key, &args)
    }
}

/// The identity file `desk.json`: only what is needed to find the desk's
/// key-store entries. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskFile {
    pub format: u32,
    pub desk_id: String,
    pub training: bool,
}

impl DeskFile {
    pub fn read(dir: &Path) -> Result<DeskFile, StoreError> {
        let path = dir.join(DESK_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoDesk { dir: dir.to_path_buf() })
            }
            Err(e) => return Err(StoreError::DeskFile { path, detail: e.to_string() }),
        };
        let file: DeskFile = serde_json::from_str(&text)
            .map_err(|e| StoreError::DeskFile { path: path.clone(), detail: e.to_string() })?;
        if !valid_desk_id(&file.desk_id) {
            return Err(StoreError::DeskFile { path, detail: "desk_id".into() });
        }
        Ok(file)
    }

    /// Writes the file durably: a temporary file, fsync, rename, fsync of the folder.
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        use std::io::Write;
        let path = dir.join(DESK_FILE);
        let tmp = dir.join(format!("{DESK_FILE}.tmp"));
        let fail = |e: std::io::Error| StoreError::DeskFile { path: path.clone(), detail: e.to_string() };
        let json = serde_json::to_string_pretty(self).map_err(|e| fail(std::io::Error::other(e)))?;
        let mut f = std::fs::File::create(&tmp).map_err(fail)?;
        f.write_all(json.as_bytes()).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)?;
        #[cfg(unix)]
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
        Ok(())
    }
}

/// The rollback guard as kept in the key store: the audit head after the
/// last commit this machine saw, and whether the lease was ever frozen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guard {
    /// The monotonic commit counter: the sequence of the last audit event.
    pub counter: i64,
    pub audit_hash: String,
    pub frozen: bool,
}

/// What the rollback guard found at open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardOutcome {
    /// Database and key store agree.
    InStep,
    /// The database was ahead (a crash after commit); the key store caught up.
    CaughtUp,
    /// The database is behind or diverged: the lease was frozen now.
    FrozeNow,
    /// The lease had been frozen before.
    Frozen,
}

/// What every act inside a transaction may need to know about the desk.
#[derive(Clone)]
pub struct DeskContext {
    pub desk_id: String,
    pub training: bool,
    pub lease_frozen: bool,
    /// The HMAC key for duplicate keys.
    pub(crate) duplicate_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for DeskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskContext")
            .field("desk_id", &self.desk_id)
            .field("training", &self.training)
            .field("lease_frozen", &self.lease_frozen)
            .finish_non_exhaustive()
    }
}

/// An open desk store.
pub struct Store {
    conn: Connection,
    ctx: DeskContext,
    dir: PathBuf,
    keystore: Box<dyn KeyStore>,
    guard_outcome: GuardOutcome,
    /// A guard that committed but could not reach the key store yet.
    pending_guard: Option<Guard>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).field("desk", &self.ctx).finish_non_exhaustive()
    }
}

/// Opens the database file at `path` with the raw key and sets the pragmas
/// every connection needs. `create` allows a new file.
fn connect(path: &Path, key_hex: &str, create: bool) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.exists() {
        return Err(StoreError::DatabaseMissing { path: path.to_path_buf() });
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // The raw-key form: SQLCipher uses the 256 bits as they are, no KDF.
    // `key_hex` is checked to be 64 hex digits, so nothing can break out of the literal.
    if !keystore::is_key_hex(key_hex) {
        return Err(StoreError::WrongKey { path: path.to_path_buf() });
    }
    // SQLCipher logs a failed decryption to stderr by itself; the caller reports it instead.
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    let pragma = Zeroizing::new(format!("PRAGMA key = \"x'{key_hex}'\";"));
    conn.execute_batch(&pragma)?;
    // The first read decrypts page 1: a wrong key shows here.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => {
            return Err(StoreError::WrongKey { path: path.to_path_buf() })
        }
        Err(e) => return Err(e.into()),
    }
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(rusqlite::Error::InvalidQuery));
    }
    // secure_delete: erased personal data (core::retention) is overwritten
    // with zeros, not left in free space inside the (encrypted) pages.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;")?;
    Ok(conn)
}

/// Brings the schema up to date, one migration per transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = schema::MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        schema::rust_step(i + 1, &tx)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}

fn get_key(ks: &dyn KeyStore, desk_id: &str, entry: &str) -> Result<Zeroizing<String>, StoreError> {
    match ks.get(desk_id, entry)? {
        Some(v) if keystore::is_key_hex(&v) => Ok(Zeroizing::new(v)),
        _ => Err(StoreError::KeyMissing { desk_id: desk_id.to_string(), entry: entry.to_string() }),
    }
}

fn hex_to_bytes(hex: &str) -> Zeroizing<Vec<u8>> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    };
    Zeroizing::new(hex.as_bytes().chunks(2).map(|c| digit(c[0]) << 4 | c.get(1).map_or(0, |&b| digit(b))).collect())
}

fn read_guard(ks: &dyn KeyStore, desk_id: &str) -> Result<Option<Guard>, StoreError> {
    // An unparseable guard is treated like a missing one: the database cannot
    // prove it is current.
    Ok(ks.get(desk_id, keystore::GUARD)?.and_then(|s| serde_json::from_str(&s).ok()))
}

fn write_guard(ks: &dyn KeyStore, desk_id: &str, guard: &Guard) -> Result<(), StoreError> {
    let json = serde_json::to_string(guard).map_err(|e| StoreError::GuardPending { detail: e.to_string() })?;
    ks.set(desk_id, keystore::GUARD, &json)
}

/// A time as the store writes it ([`timestamp`]) read back, so an event
/// carries the same whole milliseconds as the row.
pub(crate) fn stored_time(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc))
}

/// Whether `id` is a well-formed desk ID: 1–32 characters of `A–Z`, `0–9`
/// and `-`, starting with a letter or digit (it appears in file names,
/// key-store entries and record IDs).
pub fn valid_desk_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && id.as_bytes()[0] != b'-'
}

/// Rfc3339 in UTC with milliseconds: how the store writes times.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Creates a new desk's store: key-store entries (database key, duplicate
    /// key, a guard at the audit genesis) and the encrypted database, then runs
    /// `init` in the first transaction. Used by [`crate::desk::init`].
    pub(crate) fn create<T, E: From<StoreError>>(
        dir: &Path,
        desk: &DeskFile,
        keystore: Box<dyn KeyStore>,
        init: impl FnOnce(&Transaction<'_>, &DeskContext) -> Result<T, E>,
    ) -> Result<(Store, T), E> {
        let mut store = Store::create_empty(dir, desk, keystore)?;
        let out = store.act(init)?;
        Ok((store, out))
    }

    /// The files and key-store entries of a new desk, before its first act.
    fn create_empty(dir: &Path, desk: &DeskFile, keystore: Box<dyn KeyStore>) -> Result<Store, StoreError> {
        let db_path = dir.join(DB_FILE);
        if dir.join(DESK_FILE).exists() || db_path.exists() {
            return Err(StoreError::DeskExists { dir: dir.to_path_buf() });
        }
        // Touch the key store first: an unavailable one must leave no files behind.
        if keystore.get(&desk.desk_id, keystore::DB_KEY)?.is_some() {
            return Err(StoreError::DeskExists { dir: dir.to_path_buf() });
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::DeskFile { path: dir.to_path_buf(), detail: e.to_string() })?;
        let db_key = keystore::random_key_hex()?;
        let dup_key = keystore::random_key_hex()?;
        keystore.set(&desk.desk_id, keystore::DB_KEY, &db_key)?;
        keystore.set(&desk.desk_id, keystore::DUPLICATE_KEY, &dup_key)?;
        let genesis = Guard { counter: 0, audit_hash: audit::genesis_hash(&desk.desk_id), frozen: false };
        write_guard(keystore.as_ref(), &desk.desk_id, &genesis)?;
        desk.write(dir)?;
        let mut conn = connect(&db_path, &db_key, true)?;
        migrate(&mut conn)?;
        let ctx = DeskContext {
            desk_id: desk.desk_id.clone(),
            training: desk.training,
            lease_frozen: false,
            duplicate_key: hex_to_bytes(&dup_key),
        };
        Ok(Store {
            conn,
            ctx,
            dir: dir.to_path_buf(),
            keystore,
            guard_outcome: GuardOutcome::InStep,
            pending_guard: None,
        })
    }

    /// [`Store::open`] (in `core::retention`) without the retention run: for `skranke purge`, which
    /// runs it itself as a supervisor's act (and must be able to show a dry
    /// run of what is due).
    pub fn open_without_retention(
        dir: &Path,
        keystore: Box<dyn KeyStore>,
        now: DateTime<Utc>,
    ) -> Result<Store, StoreError> {
        let desk = DeskFile::read(dir)?;
        let db_path = dir.join(DB_FILE);
        if !db_path.exists() {
            return Err(StoreError::DatabaseMissing { path: db_path });
        }
        let db_key = get_key(keystore.as_ref(), &desk.desk_id, keystore::DB_KEY)?;
        let dup_key = get_key(keystore.as_ref(), &desk.desk_id, keystore::DUPLICATE_KEY)?;
        let mut conn = connect(&db_path, &db_key, false)?;
        migrate(&mut conn)?;
        let (training, lease_frozen): (bool, bool) =
            conn.query_row("SELECT training, lease_frozen FROM desk WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let ctx = DeskContext {
            desk_id: desk.desk_id.clone(),
            training,
            lease_frozen,
            duplicate_key: hex_to_bytes(&dup_key),
        };
        let mut store = Store {
            conn,
            ctx,
            dir: dir.to_path_buf(),
            keystore,
            guard_outcome: GuardOutcome::InStep,
            pending_guard: None,
        };
        store.guard_outcome = store.apply_guard(now)?;
        store.oplog().opened(&desk.desk_id, store.guard_outcome);
        Ok(store)
    }

    /// Compares the key store's guard with the database (see the module doc).
    fn apply_guard(&mut self, now: DateTime<Utc>) -> Result<GuardOutcome, StoreError> {
        let desk_id = self.ctx.desk_id.clone();
        let stored = read_guard(self.keystore.as_ref(), &desk_id)?;
        let head = audit::head(&self.conn, &desk_id)?;
        let reason = match &stored {
            None => Some("guard_missing"),
            Some(g) if g.counter > head.seq => Some("database_behind"),
            Some(g) => {
                let hash_then = if g.counter == 0 {
                    Some(audit::genesis_hash(&desk_id))
                } else {
                    audit::hash_at(&self.conn, g.counter)?
                };
                (hash_then.as_deref() != Some(g.audit_hash.as_str())).then_some("database_diverged")
            }
        };
        let was_frozen = self.ctx.lease_frozen || stored.as_ref().is_some_and(|g| g.frozen);
        match reason {
            // Freeze even when frozen before: units granted since may be in the forgotten part.
            Some(reason) => {
                self.freeze(reason, now)?;
                Ok(GuardOutcome::FrozeNow)
            }
            None if was_frozen && !self.ctx.lease_frozen => {
                // The key store remembers a freeze the database does not.
                self.freeze("frozen_before", now)?;
                Ok(GuardOutcome::Frozen)
            }
            None => {
                let in_step = stored.as_ref().is_some_and(|g| g.counter == head.seq && g.frozen == was_frozen);
                if !in_step {
                    self.store_guard(head, was_frozen)?;
                }
                Ok(match (was_frozen, in_step) {
                    (true, _) => GuardOutcome::Frozen,
                    (false, true) => GuardOutcome::InStep,
                    (false, false) => GuardOutcome::CaughtUp,
                })
            }
        }
    }

    /// Freezes every lease unit the desk holds, for good, as one audited act.
    fn freeze(&mut self, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let at = timestamp(now);
        self.act::<_, StoreError>(|tx, ctx| {
            tx.execute(
                "UPDATE desk SET lease_frozen = 1, frozen_reason = ?1, frozen_at = ?2 WHERE id = 1",
                (reason, &at),
            )?;
            tx.execute("UPDATE lease_unit SET frozen = 1", [])?;
            audit::append(tx, &ctx.desk_id, &audit::Event::desk("lease.frozen", now).detail(reason))?;
            Ok(())
        })?;
        self.ctx.lease_frozen = true;
        Ok(())
    }

    fn store_guard(&mut self, head: AuditHead, frozen: bool) -> Result<(), StoreError> {
        let guard = Guard { counter: head.seq, audit_hash: head.hash, frozen };
        match write_guard(self.keystore.as_ref(), &self.ctx.desk_id, &guard) {
            Ok(()) => {
                self.pending_guard = None;
                Ok(())
            }
            Err(e) => {
                self.pending_guard = Some(guard);
                Err(e)
            }
        }
    }

    /// Runs one act: a `BEGIN IMMEDIATE` transaction (so two processes never
    /// allocate at once), committed durably, then the guard is written. The
    /// closure must append the act's audit event. A guard that cannot be
    /// written leaves the act committed (the number is taken; the clerk must
    /// see it) but refuses the next act until the key store is back.
    pub(crate) fn act<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &DeskContext) -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some(guard) = self.pending_guard.clone() {
            write_guard(self.keystore.as_ref(), &self.ctx.desk_id, &guard)
                .map_err(|e| StoreError::GuardPending { detail: e.to_string() })?;
            self.pending_guard = None;
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let out = f(&tx, &self.ctx)?;
        let (head, frozen) = (|| -> Result<_, StoreError> {
            let head = audit::head(&tx, &self.ctx.desk_id)?;
            let frozen: bool = tx.query_row("SELECT lease_frozen FROM desk WHERE id = 1", [], |r| r.get(0))?;
            tx.commit()?;
            Ok((head, frozen))
        })()?;
        // Ignoring the error is deliberate: the act is committed; `pending_guard` retries.
        let _ = self.store_guard(head, frozen);
        Ok(out)
    }

    /// A write that is bookkeeping, not an act (the sync client marking
    /// events sent, noting numbers used elsewhere, storing cursors): one
    /// `BEGIN IMMEDIATE` transaction without an audit event, so the audit
    /// head and the rollback guard stay where they are.
    pub(crate) fn bookkeeping<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &DeskContext) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let out = f(&tx, &self.ctx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// A read-only snapshot transaction for queries.
    pub(crate) fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &DeskContext) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(StoreError::from)?;
        let out = f(&tx, &self.ctx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// The key store this desk's secrets live in (the sync client keeps the
    /// desk's signing key there).
    pub(crate) fn keystore(&self) -> &dyn KeyStore {
        self.keystore.as_ref()
    }

    pub(crate) fn context(&self) -> &DeskContext {
        &self.ctx
    }

    pub fn desk_id(&self) -> &str {
        &self.ctx.desk_id
    }

    pub fn is_training(&self) -> bool {
        self.ctx.training
    }

    pub fn lease_frozen(&self) -> bool {
        self.ctx.lease_frozen
    }

    /// What the rollback guard found when this store was opened.
    pub fn guard_outcome(&self) -> GuardOutcome {
        self.guard_outcome
    }

    /// Whether a committed act still waits for its guard to reach the key store.
    pub fn guard_pending(&self) -> bool {
        self.pending_guard.is_some()
    }

    /// The guard as the key store holds it now.
    pub fn stored_guard(&self) -> Result<Option<Guard>, StoreError> {
        read_guard(self.keystore.as_ref(), &self.ctx.desk_id)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The durability settings in force on this connection:
    /// (`journal_mode`, `synchronous`, `foreign_keys`). Expected: ("wal", 2, 1).
    pub fn durability(&self) -> Result<(String, i64, i64), StoreError> {
        let mode: String = self.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let sync: i64 = self.conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        let fk: i64 = self.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        Ok((mode.to_ascii_lowercase(), sync, fk))
    }

    /// The raw connection, for the benchmark's baseline and for tests that
    /// play an attacker holding the key.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Reads one setting as it is in force: the value the desk's
    /// municipality set at the registry (`core::settings`), else the desk's own.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce((SELECT value FROM municipality_setting WHERE key = ?1),
                             (SELECT value FROM setting WHERE key = ?1))",
            )?
            .query_row([key], |r| r.get(0))?)
    }
}
