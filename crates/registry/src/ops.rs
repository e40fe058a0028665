//! Operator commands, run on the registry's host with its database
//! credentials (`skranke-registry enrolment-code`, `desks`, `retire-desk`,
//! `import-used`, `stats`, `restored`). Each act is recorded in
//! `operator_log` with the operator's name. They are library functions so
//! that tests drive exactly what the command line runs.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use serde_json::json;
use skranke_protocol::{sha256_hex, trust};
use skranke_rules::cpr::Personnummer;
use skranke_rules::lease::{Block, LeaseUnit};

use crate::api::stored;
use crate::error::{RegistryError, Result};
use crate::key::RegistryKey;

/// Letters and digits that cannot be mistaken for one another when read
/// aloud or typed from paper (no 0/O, 1/I/L, U/V).
const ALPHABET: &[u8] = trust::CODE_ALPHABET;

/// A random identifier of `len` characters from [`ALPHABET`], from the OS's
/// secure random source.
pub fn random_id(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // Without a working OS random source nothing here is safe to run.
    getrandom::fill(&mut bytes).expect("the OS random source works");
    // 256 % 29 leaves a bias under 1 %: irrelevant for IDs, and codes are
    // long enough (16 characters, ~77 bits) that it costs nothing.
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// An enrolment code in the form people copy: 16 secret characters, then
/// the fingerprint of the registry's key, in groups of four
/// (`XXXX-XXXX-XXXX-XXXX-FFFF-FFFF-FFFF-FFFF`). Returns the code and its
/// secret part.
pub fn new_enrolment_code(key: &RegistryKey) -> (String, String) {
    let secret = random_id(trust::CODE_SECRET_LEN);
    (trust::group_code(&format!("{secret}{}", key.fingerprint())), secret)
}

/// The secret part of an enrolment code as a desk sends it: the secret
/// alone, or the whole code (the first 16 characters are the secret); case,
/// dashes and spaces do not matter. `None` for anything else.
pub fn code_secret(code: &str) -> Option<String> {
    let normal = trust::normalize_code(code);
    match normal.len() {
        n if n == trust::CODE_SECRET_LEN => Some(normal),
        n if n == trust::CODE_SECRET_LEN + trust::CODE_FINGERPRINT_LEN => {
            Some(normal[..trust::CODE_SECRET_LEN].to_string())
        }
        _ => None,
    }
}

/// The stored form of an enrolment code's secret part (the code itself,
/// and its fingerprint, are never stored).
pub fn code_hash(secret: &str) -> String {
    sha256_hex(trust::normalize_code(secret).as_bytes())
}

/// Writes one entry of the operator log (who did what, never the values).
pub(crate) async fn record(
    client: &impl GenericClient,
    operator: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO operator_log (operator, action, detail) VALUES ($1, $2, $3)",
            &[&operator, &action, &detail],
        )
        .await?;
    Ok(())
}

/// Creates a one-time enrolment code for a desk, valid for
/// [`crate::revocation::DEFAULT_CODE_VALID_DAYS`]; it ends in the
/// fingerprint of `key`, the key that signs the registry's answers. Another
/// validity: [`crate::revocation::create_enrolment_code`].
pub async fn create_enrolment_code(
    pool: &Pool,
    operator: &str,
    key: &RegistryKey,
    municipality: u16,
    office: &str,
    desk_number: u32,
) -> Result<String, RegistryError> {
    let days = crate::revocation::DEFAULT_CODE_VALID_DAYS;
    let made = crate::revocation::create_enrolment_code(pool, operator, key, municipality, office, desk_number, days);
    Ok(made.await?.code)
}

/// A desk as operators see it.
#[derive(Clone, Debug, Serialize)]
pub struct DeskRow {
    pub desk_id: String,
    pub municipality: u16,
    pub office: String,
    pub desk_number: u32,
    pub enrolled_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When its audit chain forked (no lease or online number since).
    pub quarantined_at: Option<DateTime<Utc>>,
    pub state: crate::revocation::DeskState,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub units: i64,
    pub records: i64,
    /// The desk app version its last signed request named (none before versioning).
    pub app_version: Option<String>,
}

pub async fn desks(pool: &Pool) -> Result<Vec<DeskRow>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT d.desk_id, d.municipality, d.office, d.desk_number, d.enrolled_at, d.retired_at, d.last_sync_at,
                    d.revoked_at,
                    (SELECT count(*) FROM units u WHERE u.desk_id = d.desk_id),
                    (SELECT count(*) FROM records r WHERE r.desk_id = d.desk_id),
                    d.quarantined_at, d.app_version
             FROM desks d ORDER BY d.municipality, d.office, d.desk_number, d.desk_id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DeskRow {
            desk_id: r.get(0),
            municipality: u16::try_from(r.get::<_, i32>(1)).unwrap_or_default(),
            office: r.get(2),
            desk_number: u32::try_from(r.get::<_, i32>(3)).unwrap_or_default(),
            enrolled_at: r.get(4),
            retired_at: r.get(5),
            revoked_at: r.get(7),
            quarantined_at: r.get(10),
            state: crate::revocation::DeskState::of(r.get(5), r.get(7), r.get(10)),
            last_sync_at: r.get(6),
            units: r.get(8),
            records: r.get(9),
            app_version: r.get(11),
        })
        .collect())
}

/// Retires a desk: it may still upload and sync what it holds, but never
/// leases, allocates or looks up again (refused from its next request:
/// authentication reads `retired_at` each time), and its units are retired
/// with it (never leased again). Returns false when no such active desk
/// exists. A stolen key is `revocation::revoke_desk`.
pub async fn retire_desk(pool: &Pool, operator: &str, desk_id: &str) -> Result<bool> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&crate::api::UNIT_LOCK]).await?;
    let n = tx
        .execute(
            "UPDATE desks SET retired_at = now(), retired_by = $2 WHERE desk_id = $1 AND retired_at IS NULL",
            &[&desk_id, &operator],
        )
        .await?;
    if n == 1 {
        tx.execute("UPDATE units SET retired = true WHERE desk_id = $1", &[&desk_id]).await?;
        record(&tx, operator, "retire_desk", json!({ "desk_id": desk_id })).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// What `import-used` did with a file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Numbers newly recorded as used.
    pub imported: u64,
    /// Numbers the registry already knew.
    pub known: u64,
    /// Valid numbers outside the block: not accepted, not kept.
    pub outside_block: u64,
    /// Line numbers (1-based) that hold no valid personnummer.
    pub invalid_lines: Vec<usize>,
}

/// Records the numbers of the block already used elsewhere, one per line
/// (`DDMMYY-SSSS` or `DDMMYYSSSS`; blank lines and `#` comments skipped).
pub async fn import_used(
    pool: &Pool,
    operator: &str,
    block: &Block,
    text: &str,
    today: NaiveDate,
) -> Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let mut numbers: Vec<Personnummer> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Personnummer::parse(line, today) {
            Ok(n) if block.contains(&n) => numbers.push(n),
            Ok(_) => summary.outside_block += 1,
            Err(_) => summary.invalid_lines.push(i + 1),
        }
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO numbers (number, birth_date, sex, modulus11, origin, slot, rank)
             VALUES ($1, $2, $3, $4, 'imported', $5, $6) ON CONFLICT DO NOTHING",
        )
        .await?;
    for n in &numbers {
        let rank = LeaseUnit::containing(n).map(|u| i32::from(u.rank));
        let inserted = tx
            .execute(
                &insert,
                &[
                    &stored(n),
                    &n.birth_date(),
                    &n.sex().code(),
                    &n.passes_modulus11(),
                    &i32::from(n.slot().value()),
                    &rank,
                ],
            )
            .await?;
        if inserted == 1 {
            summary.imported += 1;
        } else {
            summary.known += 1;
        }
    }
    record(&tx, operator, "import_used", serde_json::to_value(&summary).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(summary)
}

/// The registry at a glance (`stats --json`).
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// Records held (every state).
    pub records: i64,
    pub records_registered: i64,
    pub records_voided: i64,
    /// Records CPR refused, and Jobnet refused, whose refusal still stands.
    pub refused_downstream_cpr: i64,
    pub refused_downstream_jobnet: i64,
    pub desks: i64,
    pub desks_retired: i64,
    pub units_bound: i64,
    pub units_free: i64,
    pub units_retired: i64,
    pub numbers_used: i64,
    pub online_allocations: i64,
    pub online_modulus11: i64,
    pub conflicts: i64,
    pub notices: i64,
    pub reconciling: bool,
    /// When the registry last learnt it was restored from a backup (a
    /// desk's proof or the operator's `restored`).
    pub restored_at: Option<DateTime<Utc>>,
    /// While reconciling: the active desks it still waits for, each until
    /// it has synced completely once.
    pub desks_awaited: Vec<AwaitedDesk>,
    pub registry_sequence: i64,
}

/// A desk the registry waits for while reconciling.
#[derive(Clone, Debug, Serialize)]
pub struct AwaitedDesk {
    pub desk_id: String,
    pub municipality: u16,
    pub office: String,
    pub desk_number: u32,
    pub last_sync_at: Option<DateTime<Utc>>,
}

pub async fn stats(pool: &Pool) -> Result<Stats> {
    let client = pool.get().await?;
    let r = client
        .query_one(
            "SELECT
                (SELECT count(*) FROM records),
                (SELECT count(*) FROM records WHERE state = 'registered'),
                (SELECT count(*) FROM records WHERE state = 'voided'),
                (SELECT count(*) FROM records WHERE refused_downstream_by = 'cpr'),
                (SELECT count(*) FROM records WHERE refused_downstream_by = 'jobnet'),
                (SELECT count(*) FROM desks),
                (SELECT count(*) FROM desks WHERE retired_at IS NOT NULL),
                (SELECT count(*) FROM units WHERE desk_id IS NOT NULL AND NOT retired),
                (SELECT count(*) FROM units WHERE desk_id IS NULL AND NOT retired),
                (SELECT count(*) FROM units WHERE retired),
                (SELECT count(*) FROM numbers),
                (SELECT count(*) FROM numbers WHERE origin = 'online'),
                (SELECT count(*) FROM numbers WHERE origin = 'online' AND modulus11),
                (SELECT count(*) FROM conflicts),
                (SELECT count(*) FROM notices),
                (SELECT reconciling FROM registry_meta),
                (SELECT last_value FROM registry_seq),
                (SELECT restored_at FROM registry_meta)",
            &[],
        )
        .await?;
    let desks_awaited = client
        .query(
            "SELECT d.desk_id, d.municipality, d.office, d.desk_number, d.last_sync_at
             FROM desks d, registry_meta m
             WHERE m.reconciling AND d.retired_at IS NULL AND d.reconciled_generation < m.generation
             ORDER BY d.municipality, d.office, d.desk_number, d.desk_id",
            &[],
        )
        .await?
        .iter()
        .map(|d| AwaitedDesk {
            desk_id: d.get(0),
            municipality: u16::try_from(d.get::<_, i32>(1)).unwrap_or_default(),
            office: d.get(2),
            desk_number: u32::try_from(d.get::<_, i32>(3)).unwrap_or_default(),
            last_sync_at: d.get(4),
        })
        .collect();
    Ok(Stats {
        records: r.get(0),
        records_registered: r.get(1),
        records_voided: r.get(2),
        refused_downstream_cpr: r.get(3),
        refused_downstream_jobnet: r.get(4),
        desks: r.get(5),
        desks_retired: r.get(6),
        units_bound: r.get(7),
        units_free: r.get(8),
        units_retired: r.get(9),
        numbers_used: r.get(10),
        online_allocations: r.get(11),
        online_modulus11: r.get(12),
        conflicts: r.get(13),
        notices: r.get(14),
        reconciling: r.get(15),
        restored_at: r.get(17),
        desks_awaited,
        registry_sequence: r.get(16),
    })
}

/// Declares that the database was restored from a backup: no lease and no
/// allocation until every active desk has synced completely. (The registry
/// also notices by itself when a desk reports a higher sequence than it has.)
pub async fn mark_restored(pool: &Pool, operator: &str) -> Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "UPDATE registry_meta SET generation = generation + 1, reconciling = true, restored_at = now(),
                feed_restored_after = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM feed_seq_seq)",
        &[],
    )
    .await?;
    record(&tx, operator, "restored", json!({})).await?;
    tx.commit().await?;
    Ok(())
}
