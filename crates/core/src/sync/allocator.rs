//! Online allocation over HTTP: the desk's [`OnlineAllocator`].
//!
//! `POST /v1/allocate` with the applicant's birth date and sex and a short
//! deadline. A number that comes back is the registry's, recorded there at
//! once; no answer in time, an unreachable or overloaded registry, or a
//! registry that has no number left for that date all mean "use the lease".
//! So does an answer the desk does not believe (unsigned, forged, another
//! key, a registry time far ahead: audited by [`HttpAllocator::remember`])
//! and one from a registry that went back (its signed sequence below the
//! highest the desk has seen: the number may be on another applicant's
//! handout already). Anyone on the path can cut the connection anyway; what
//! they cannot do is hand the desk a number. A refusal that the lease cannot
//! cure (the desk is retired, the request is not signed right, the desk's
//! clock is off) stops the issue.
//!
//! An attempt whose number does not end on a handout (no answer in time,
//! an answer not believed, an issue that failed after it) may still have
//! been recorded at the registry: [`HttpAllocator::remember`] notes its key,
//! and the next sync reports it so that the registry frees the number.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use rusqlite::Connection;

use super::client::Retry;
use super::{RegistryClient, SyncError};
use crate::alloc::{OnlineAllocator, OnlineRequest, ONLINE_TIMEOUT};
use crate::cpr::Personnummer;
use crate::protocol::{AllocateRequest, AllocateResponse};
use crate::store::{timestamp, Store, StoreError};
use crate::Error;

/// The whole round trip must fit the allocator contract's timeout.
pub(crate) const ONLINE_DEADLINE: Duration = ONLINE_TIMEOUT;

/// Online allocation through the registry, for an enrolled desk.
pub struct HttpAllocator<'a> {
    client: &'a RegistryClient,
    /// This allocator's attempts: the key and the number that came back, if any.
    attempts: Mutex<Vec<(String, Option<Personnummer>)>>,
}

impl<'a> HttpAllocator<'a> {
    /// Allocation through `client`, which should know the desk's pin and
    /// highest sequence ([`super::client_for`], [`super::client_at`]).
    pub fn new(client: &'a RegistryClient) -> HttpAllocator<'a> {
        HttpAllocator { client, attempts: Mutex::new(Vec::new()) }
    }

    /// The client it asks through.
    pub fn client(&self) -> &'a RegistryClient {
        self.client
    }

    /// Keeps what the answers said about the registry's clock and sequence
    /// in the store, a move of the pinned key in the key store, audits the
    /// answers the desk refused, and notes the attempts whose number is on
    /// no record of this desk for the next sync (call after issuing,
    /// whether the issue succeeded or not).
    pub fn remember(&self, store: &mut Store) -> Result<(), Error> {
        let attempts = std::mem::take(&mut *self.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let noted = if attempts.is_empty() {
            Ok(())
        } else {
            store.bookkeeping(|tx, _| note_unused(tx, &attempts)).map_err(Error::from)
        };
        let settled = super::settle(store, self.client);
        noted?;
        settled
    }

    fn attempted(&self, key: &str, number: Option<Personnummer>) {
        self.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((key.to_string(), number));
    }
}

/// Notes each attempt whose number no record of this desk carries.
fn note_unused(conn: &Connection, attempts: &[(String, Option<Personnummer>)]) -> Result<(), StoreError> {
    let now = timestamp(Utc::now());
    for (key, number) in attempts {
        let digits = number.map(|n| crate::alloc::stored_digits(&n));
        if let Some(d) = &digits {
            if crate::alloc::number_taken(conn, d)? {
                // Used after all (a retry under the same key): never reported.
                conn.prepare_cached("DELETE FROM unused_allocation WHERE idempotency_key = ?1")?.execute([key])?;
                continue;
            }
        }
        conn.prepare_cached(
            "INSERT INTO unused_allocation (idempotency_key, number, noted_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )?
        .execute((key, digits, &now))?;
    }
    Ok(())
}

/// The keys the next sync reports (oldest first, at most one request's worth).
pub(crate) fn unused_keys(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let limit = i64::try_from(crate::protocol::MAX_UNUSED_ALLOCATIONS).unwrap_or(i64::MAX);
    // A number a record carries is never reported, whatever was noted.
    let mut stmt = conn.prepare_cached(
        "SELECT u.idempotency_key FROM unused_allocation u
         WHERE u.number IS NULL OR NOT EXISTS (SELECT 1 FROM record r WHERE r.number = u.number)
         ORDER BY u.noted_at, u.idempotency_key LIMIT ?1",
    )?;
    let keys = stmt.query_map([limit], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(keys)
}

/// The keys a sync answer has taken (the registry freed what it held under them).
pub(crate) fn forget_reported(conn: &Connection, keys: &[String]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("DELETE FROM unused_allocation WHERE idempotency_key = ?1")?;
    for key in keys {
        stmt.execute([key])?;
    }
    Ok(())
}

/// Whether a refusal means "issue from the lease" rather than "stop".
fn lease_will_do(e: &SyncError) -> bool {
    match e {
        SyncError::Unreachable { .. } | SyncError::BadAnswer { .. } | SyncError::RegistryBehind { .. } => true,
        e if e.is_untrusted() => true,
        SyncError::Refused { status, code, .. } => {
            *status >= 500
                || *status == 429
                || code == "allocate.exhausted"
                || code == "registry.reconciling"
                || code == "desk.quarantined"
        }
        _ => false,
    }
}

impl OnlineAllocator for HttpAllocator<'_> {
    fn allocate(&self, request: &OnlineRequest) -> Result<Option<Personnummer>, SyncError> {
        let body = AllocateRequest {
            idempotency_key: request.idempotency_key.clone(),
            birth_date: request.birth_date,
            sex: request.sex,
        };
        let answer: AllocateResponse = match self.client.post("/v1/allocate", &body, ONLINE_DEADLINE, Retry::Once) {
            Ok(a) => a,
            Err(e) => {
                // Whatever the answer, the registry may have recorded a number.
                self.attempted(&request.idempotency_key, None);
                return if lease_will_do(&e) { Ok(None) } else { Err(e) };
            }
        };
        // The number must be for this applicant: same date, same sex. Anything
        // else is a broken answer, and the issuing transaction checks again.
        let number = answer
            .number
            .get(7..11)
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|serial| Personnummer::from_parts(request.birth_date, serial))
            .filter(|n| n.to_string() == answer.number && n.sex() == request.sex)
            .ok_or(SyncError::BadAnswer { detail: "number".into() });
        self.attempted(&request.idempotency_key, number.as_ref().ok().copied());
        Ok(Some(number?))
    }
}
