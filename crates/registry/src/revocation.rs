//! Ending a desk's and a code's power: `revoke-desk` (a stolen key: every
//! request signed with it is refused, and each attempt shows in
//! `operator_log`), the enrolment codes' expiry and their cancellation
//! (`enrolment-codes`, `cancel-enrolment-code`). Retirement, the gentle
//! end of a desk that may still hand in what it issued, is
//! `ops::retire_desk`.
//!
//! Like [`crate::ops`], these are library functions so that tests drive
//! exactly what the command line runs; each operator act is recorded in
//! `operator_log`.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use serde_json::json;

use crate::error::{RegistryError, Result};
use crate::key::RegistryKey;
use crate::ops::{code_hash, new_enrolment_code, record};

/// Days an enrolment code stays valid unless `--valid-days` says otherwise:
/// long enough to reach an office by post or courier, short enough that a
/// forgotten code does not lie about for good.
pub const DEFAULT_CODE_VALID_DAYS: u32 = 7;

/// The longest validity an operator may give a code.
pub const MAX_CODE_VALID_DAYS: u32 = 90;

/// What `operator_log` names the service as when it records a refusal.
const SERVICE: &str = "skranke-registry serve";

/// A desk's standing, as operators see it (`desks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskState {
    /// Leases, allocates, looks up, uploads and syncs.
    Active,
    /// Uploads and syncs what it issued; no lease, allocation or lookup.
    Retired,
    /// Its audit chain forked (a copied or restored disk under its ID):
    /// uploads and syncs, but gets no lease and no online number. The
    /// machine is enrolled again as a new desk.
    Quarantined,
    /// Nothing: every request signed with its key is refused.
    Revoked,
}

impl DeskState {
    /// The strongest standing first: a revoked desk may do nothing, a
    /// retired one no more than a quarantined one.
    pub fn of(
        retired_at: Option<DateTime<Utc>>,
        revoked_at: Option<DateTime<Utc>>,
        quarantined_at: Option<DateTime<Utc>>,
    ) -> DeskState {
        match (retired_at, revoked_at, quarantined_at) {
            (_, Some(_), _) => DeskState::Revoked,
            (Some(_), None, _) => DeskState::Retired,
            (None, None, Some(_)) => DeskState::Quarantined,
            (None, None, None) => DeskState::Active,
        }
    }

    /// The catalog key of the state's name.
    pub fn message_key(self) -> &'static str {
        match self {
            DeskState::Active => "registry.desk_active",
            DeskState::Retired => "registry.desk_retired",
            DeskState::Quarantined => "registry.desk_quarantined",
            DeskState::Revoked => "registry.desk_revoked",
        }
    }
}

/// A code just made: the code to hand over (shown once, never stored), the
/// ID operators name it by, and when it expires.
#[derive(Clone, Debug)]
pub struct NewCode {
    pub code: String,
    pub id: i64,
    pub expires_at: DateTime<Utc>,
}

/// Creates a one-time enrolment code for a desk, valid for `valid_days`
/// (1 to [`MAX_CODE_VALID_DAYS`]); it ends in the fingerprint of `key`, the
/// key that signs the registry's answers.
pub async fn create_enrolment_code(
    pool: &Pool,
    operator: &str,
    key: &RegistryKey,
    municipality: u16,
    office: &str,
    desk_number: u32,
    valid_days: u32,
) -> Result<NewCode> {
    if !(100..=999).contains(&municipality) {
        return Err(RegistryError::bad_field("municipality"));
    }
    let office = office.trim();
    if office.is_empty() || office.len() > 200 {
        return Err(RegistryError::bad_field("office"));
    }
    let desk_number = i32::try_from(desk_number).map_err(|_| RegistryError::bad_field("desk"))?;
    if !(1..=MAX_CODE_VALID_DAYS).contains(&valid_days) {
        return Err(RegistryError::bad_field("valid-days"));
    }
    let days = valid_days as i32;
    let (code, secret) = new_enrolment_code(key);
    let client = pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO enrolment_codes (code_hash, municipality, office, desk_number, created_by, expires_at)
             VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6))
             RETURNING id, expires_at",
            &[&code_hash(&secret), &i32::from(municipality), &office, &desk_number, &operator, &days],
        )
        .await?;
    let (id, expires_at): (i64, DateTime<Utc>) = (row.get(0), row.get(1));
    record(
        &client,
        operator,
        "enrolment_code",
        json!({ "id": id, "municipality": municipality, "office": office, "desk": desk_number, "expires_at": expires_at }),
    )
    .await?;
    Ok(NewCode { code, id, expires_at })
}

/// An enrolment code that may still be spent, as operators see it: never
/// the code, never its hash.
#[derive(Clone, Debug, Serialize)]
pub struct OpenCode {
    pub id: i64,
    pub municipality: u16,
    pub office: String,
    pub desk_number: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_by: String,
}

fn open_code(r: &tokio_postgres::Row) -> OpenCode {
    OpenCode {
        id: r.get(0),
        municipality: u16::try_from(r.get::<_, i32>(1)).unwrap_or_default(),
        office: r.get(2),
        desk_number: u32::try_from(r.get::<_, i32>(3)).unwrap_or_default(),
        created_at: r.get(4),
        expires_at: r.get(5),
        created_by: r.get(6),
    }
}

/// The codes not used, not expired and not cancelled (`enrolment-codes`).
/// "Expired" is judged by the database's clock, the one that judges a code
/// when it is spent (migration 0006).
pub async fn open_enrolment_codes(pool: &Pool) -> Result<Vec<OpenCode>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, municipality, office, desk_number, created_at, expires_at, created_by
             FROM enrolment_codes
             WHERE used_at IS NULL AND cancelled_at IS NULL AND expires_at > now()
             ORDER BY municipality, office, desk_number, id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(open_code).collect())
}

/// Which open code `cancel-enrolment-code` cancels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeChoice {
    /// The ID `enrolment-codes` shows.
    Id(i64),
    /// The one open code for this desk number of the municipality.
    Desk { municipality: u16, desk_number: u32 },
}

/// What `cancel-enrolment-code` did.
#[derive(Clone, Debug)]
pub enum Cancelled {
    /// The code is cancelled: it can no longer be spent.
    Done(OpenCode),
    /// No open code matched.
    NoneOpen,
    /// More than one open code matched (the same desk number in two
    /// offices, or two codes made for one desk): nothing was cancelled; the
    /// operator names one by its ID.
    Ambiguous(Vec<OpenCode>),
}

/// Cancels one open enrolment code, recorded in `operator_log`.
pub async fn cancel_enrolment_code(pool: &Pool, operator: &str, choice: &CodeChoice) -> Result<Cancelled> {
    let (id, municipality, desk_number) = match choice {
        CodeChoice::Id(id) => (Some(*id), None, None),
        CodeChoice::Desk { municipality, desk_number } => {
            let desk = i32::try_from(*desk_number).map_err(|_| RegistryError::bad_field("desk"))?;
            (None, Some(i32::from(*municipality)), Some(desk))
        }
    };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Locked while deciding, so that a desk spending the code meanwhile
    // either spends it first (and it is no longer open) or finds it cancelled.
    let rows = tx
        .query(
            "SELECT id, municipality, office, desk_number, created_at, expires_at, created_by
             FROM enrolment_codes
             WHERE used_at IS NULL AND cancelled_at IS NULL AND expires_at > now()
               AND ($1::bigint IS NULL OR id = $1)
               AND ($2::integer IS NULL OR municipality = $2)
               AND ($3::integer IS NULL OR desk_number = $3)
             ORDER BY office, id
             FOR UPDATE",
            &[&id, &municipality, &desk_number],
        )
        .await?;
    let mut open: Vec<OpenCode> = rows.iter().map(open_code).collect();
    let code = match open.len() {
        0 => return Ok(Cancelled::NoneOpen),
        1 => open.remove(0),
        _ => return Ok(Cancelled::Ambiguous(open)),
    };
    tx.execute(
        "UPDATE enrolment_codes SET cancelled_at = now(), cancelled_by = $2 WHERE id = $1",
        &[&code.id, &operator],
    )
    .await?;
    record(
        &tx,
        operator,
        "cancel_enrolment_code",
        json!({ "id": code.id, "municipality": code.municipality, "office": code.office, "desk": code.desk_number }),
    )
    .await?;
    tx.commit().await?;
    Ok(Cancelled::Done(code))
}

/// Revokes a desk (its key is stolen or lost): from now on the registry
/// refuses every request signed with its key (`desk.revoked`, 403). The
/// desk is retired too, if it was not already: its units are never leased
/// again, and the reconciliation after a restore does not wait for a desk
/// that can never sync. Returns false when no such desk exists or it is
/// revoked already.
pub async fn revoke_desk(pool: &Pool, operator: &str, desk_id: &str) -> Result<bool> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&crate::api::UNIT_LOCK]).await?;
    let row = tx
        .query_opt(
            "UPDATE desks SET revoked_at = now(), revoked_by = $2,
                              retired_at = coalesce(retired_at, now()), retired_by = coalesce(retired_by, $2)
             WHERE desk_id = $1 AND revoked_at IS NULL
             RETURNING retired_at = revoked_at",
            &[&desk_id, &operator],
        )
        .await?;
    let Some(row) = row else { return Ok(false) };
    let retired_now: bool = row.get(0);
    tx.execute("UPDATE units SET retired = true WHERE desk_id = $1", &[&desk_id]).await?;
    record(&tx, operator, "revoke_desk", json!({ "desk_id": desk_id, "retired_now": retired_now })).await?;
    tx.commit().await?;
    Ok(true)
}

/// Records that a request signed with a revoked desk's key was refused:
/// one `revoked_desk_refused` entry in `operator_log` (the desk and the
/// route template, never the body) at most once a minute per desk, so
/// that the operator sees a stolen key in use without a flood of entries.
/// The check and the mark are one statement: concurrent refusals write
/// one entry.
pub async fn note_revoked_refusal(
    client: &impl GenericClient,
    desk_id: &str,
    route: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    client
        .execute(
            "WITH due AS (
                 UPDATE desks SET revoked_refusal_logged_at = $3::timestamptz
                 WHERE desk_id = $1
                   AND (revoked_refusal_logged_at IS NULL
                        OR revoked_refusal_logged_at <= $3::timestamptz - interval '1 minute')
                 RETURNING desk_id
             )
             INSERT INTO operator_log (operator, action, detail)
             SELECT $4::text, 'revoked_desk_refused', jsonb_build_object('desk_id', desk_id, 'route', $2::text) FROM due",
            &[&desk_id, &route, &now, &SERVICE],
        )
        .await?;
    Ok(())
}
