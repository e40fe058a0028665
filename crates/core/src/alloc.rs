//! Number allocation: the registry first when online, the desk's lease
//! (reserve) otherwise.
//!
//! The lease path takes the desk's units in the order they were granted and,
//! for the applicant's birth date and sex, the first unit whose number is not
//! yet used here (or reported used elsewhere). A unit that cannot encode the
//! birth year yields nothing. Frozen units (rollback guard) are never used.
//! Uniqueness rests on the database: `record.number` is unique, the search
//! runs inside the issuing transaction, and `BEGIN IMMEDIATE` keeps two
//! processes from allocating at once.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::audit::{self, Event};
use crate::cpr::{Personnummer, Sex, Slot};
use crate::lease::LeaseUnit;
use crate::store::{timestamp, Store, StoreError};
use crate::sync_error::SyncError;

/// How long the desk waits for the registry's central allocation before it
/// issues from its lease.
pub const ONLINE_TIMEOUT: Duration = Duration::from_secs(3);

/// What the desk asks the registry for.
#[derive(Clone, PartialEq, Eq)]
pub struct OnlineRequest {
    pub desk_id: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// The same key for a retried request, so the registry allocates once.
    pub idempotency_key: String,
}

impl std::fmt::Debug for OnlineRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineRequest").field("idempotency_key", &self.idempotency_key).finish_non_exhaustive()
    }
}

/// The registry's central allocation (the registry issue implements it).
///
/// Contract: return within [`ONLINE_TIMEOUT`]. `Ok(Some(n))`: the registry
/// allocated `n` and recorded it; `Ok(None)`: not reachable in time, so the
/// desk issues from its lease; `Err`: the registry answered and refused, and
/// the issue stops with that error.
pub trait OnlineAllocator {
    fn allocate(&self, request: &OnlineRequest) -> Result<Option<Personnummer>, SyncError>;
}

/// Where an issued number came from: the wire's type, one for the desk and
/// the registry.
pub use crate::protocol::NumberSource;

/// The ten digits as the store keeps them.
pub(crate) fn stored_digits(n: &Personnummer) -> String {
    n.digits().iter().map(|d| char::from(b'0' + d)).collect()
}

/// Whether a number was used here or reported used elsewhere.
pub(crate) fn number_taken(conn: &Connection, digits: &str) -> Result<bool, StoreError> {
    let hit: Option<i64> = conn
        .prepare_cached(
            "SELECT 1 FROM record WHERE number = ?1 UNION ALL SELECT 1 FROM number_taken WHERE number = ?1 LIMIT 1",
        )?
        .query_row([digits], |r| r.get(0))
        .optional()?;
    Ok(hit.is_some())
}

/// The units to issue from, in order (frozen ones left out).
pub(crate) fn usable_units(conn: &Connection) -> Result<Vec<LeaseUnit>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT slot, rank FROM lease_unit WHERE frozen = 0 ORDER BY position")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u16>(0)?, r.get::<_, u8>(1)?)))?;
    let mut units = Vec::new();
    for row in rows {
        let (slot, rank) = row?;
        // The table's CHECK constraints keep both in range.
        if let Some(unit) = Slot::new(slot).and_then(|s| LeaseUnit::new(s, rank)) {
            units.push(unit);
        }
    }
    Ok(units)
}

/// The next free number of the lease for a birth date and sex, and how many
/// free numbers remain after it.
pub(crate) fn next_from_lease(
    conn: &Connection,
    birth_date: NaiveDate,
    sex: Sex,
) -> Result<Option<(Personnummer, usize)>, StoreError> {
    let mut free = Vec::new();
    for unit in usable_units(conn)? {
        if let Some(n) = unit.number(birth_date, sex) {
            if !number_taken(conn, &stored_digits(&n))? {
                free.push(n);
            }
        }
    }
    Ok(free.first().map(|&n| (n, free.len() - 1)))
}

/// How many numbers the lease still holds for a birth date and sex.
pub(crate) fn free_count(conn: &Connection, birth_date: NaiveDate, sex: Sex) -> Result<usize, StoreError> {
    let mut n = 0;
    for unit in usable_units(conn)? {
        if let Some(number) = unit.number(birth_date, sex) {
            if !number_taken(conn, &stored_digits(&number))? {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Adds units after the ones the desk holds (inside the caller's transaction).
pub(crate) fn insert_units(
    conn: &Connection,
    units: &[LeaseUnit],
    source: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut position: i64 = conn.query_row("SELECT coalesce(max(position), 0) FROM lease_unit", [], |r| r.get(0))?;
    let mut added = 0;
    for unit in units {
        position += 1;
        added += conn.execute(
            "INSERT INTO lease_unit (slot, rank, position, source, granted_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (slot, rank) DO NOTHING",
            (unit.slot.value(), unit.rank, position, source, timestamp(now)),
        )?;
    }
    Ok(added)
}

/// When the reserve for a birth date and sex counts as low: at most a
/// quarter of the units left, or at most one number.
pub fn reserve_low(left: usize, units: usize) -> bool {
    left <= 1 || left * 4 <= units
}

/// The birth date and sex with the fewest numbers left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tightest {
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub left: usize,
}

/// The desk's reserve (reserve, beholdning) as `lease status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeaseStatus {
    pub training: bool,
    pub frozen: bool,
    /// Usable units: also the numbers per birth date and sex when none is used.
    pub units: usize,
    pub frozen_units: usize,
    pub issued_from_lease: i64,
    /// The most used birth date and sex, if any number was issued from the lease.
    pub tightest: Option<Tightest>,
    /// Ask for more reserve (when online) or connect soon.
    pub low: bool,
}

impl Store {
    /// The reserve (desk-level: no staff needed, no personal data beyond a birth date).
    pub fn lease_status(&mut self) -> Result<LeaseStatus, StoreError> {
        self.read(|tx, ctx| {
            let units = usable_units(tx)?.len();
            let frozen_units: i64 =
                tx.query_row("SELECT count(*) FROM lease_unit WHERE frozen = 1", [], |r| r.get(0))?;
            let issued: i64 = tx.query_row("SELECT count(*) FROM record WHERE source = 'lease'", [], |r| r.get(0))?;
            let mut stmt = tx.prepare(
                "SELECT birth_date, sex FROM record WHERE source = 'lease'
                 GROUP BY birth_date, sex ORDER BY count(*) DESC, birth_date LIMIT 8",
            )?;
            let groups = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut tightest: Option<Tightest> = None;
            for g in groups {
                let (date, sex) = g?;
                let (Ok(birth_date), Some(sex)) = (date.parse::<NaiveDate>(), sex_of(&sex)) else { continue };
                let left = free_count(tx, birth_date, sex)?;
                if tightest.as_ref().is_none_or(|t| left < t.left) {
                    tightest = Some(Tightest { birth_date, sex, left });
                }
            }
            let low = units == 0 || tightest.as_ref().is_some_and(|t| reserve_low(t.left, units));
            Ok(LeaseStatus {
                training: ctx.training,
                frozen: ctx.lease_frozen,
                units,
                frozen_units: frozen_units as usize,
                issued_from_lease: issued,
                tightest,
                low,
            })
        })
    }

    /// Adds units the registry granted (desk-level act of the sync client).
    /// Units the desk already holds are left as they are; returns how many
    /// were new.
    pub fn grant_units(&mut self, units: &[LeaseUnit], now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.act(|tx, ctx| {
            let added = insert_units(tx, units, "registry", now)?;
            audit::append(tx, &ctx.desk_id, &Event::desk("lease.granted", now).detail(&format!("units:{added}")))?;
            Ok(added)
        })
    }
}

pub(crate) fn sex_of(code: &str) -> Option<Sex> {
    match code {
        "F" => Some(Sex::Female),
        "M" => Some(Sex::Male),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_low_at_one_number_or_a_quarter_of_the_units() {
        assert!(reserve_low(0, 2));
        assert!(reserve_low(1, 2));
        assert!(!reserve_low(2, 2));
        assert!(reserve_low(4, 16));
        assert!(!reserve_low(5, 16));
    }

    #[test]
    fn stored_digits_are_the_ten_digits_without_the_dash() {
        let n = Personnummer::from_parts(NaiveDate::from_ymd_opt(1974, 8, 12).unwrap(), 4002).unwrap();
        assert_eq!(stored_digits(&n), "1208744002");
    }
}
