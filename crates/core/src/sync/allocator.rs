//! Online allocation over HTTP: the desk's [`OnlineAllocator`].
//!
//! `POST /v1/allocate` with the applicant's birth date and sex and a short
//! deadline. A number that comes back is the registry's, recorded there at
//! once; no answer in time, an unreachable or overloaded registry, or a
//! registry that has no number left for that date all mean "use the lease".
//! A refusal that the lease cannot cure (the desk is retired, the request is
//! not signed right, the desk's clock is off) stops the issue.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::client::Retry;
use super::{RegistryClient, SyncError};
use crate::alloc::{OnlineAllocator, OnlineRequest, ONLINE_TIMEOUT};
use crate::cpr::Personnummer;
use crate::protocol::{AllocateRequest, AllocateResponse};
use crate::store::state;
use crate::store::Store;
use crate::Error;

/// The whole round trip must fit the allocator contract's timeout.
pub(crate) const ONLINE_DEADLINE: Duration = ONLINE_TIMEOUT;

/// Online allocation through the registry, for an enrolled desk.
pub struct HttpAllocator<'a> {
    client: &'a RegistryClient,
    /// The registry's time and sequence from the last answer, for the store.
    seen: Mutex<Option<(DateTime<Utc>, i64)>>,
}

impl<'a> HttpAllocator<'a> {
    pub fn new(client: &'a RegistryClient) -> HttpAllocator<'a> {
        HttpAllocator { client, seen: Mutex::new(None) }
    }

    /// The client it asks through.
    pub fn client(&self) -> &'a RegistryClient {
        self.client
    }

    /// Keeps what the last answer said about the registry's clock and
    /// sequence in the store (call after issuing).
    pub fn remember(&self, store: &mut Store) -> Result<(), Error> {
        let seen = self.seen.lock().map(|g| *g).unwrap_or(None);
        if let Some((time, sequence)) = seen {
            store.bookkeeping(|tx, _| state::note_registry(tx, time, sequence))?;
        }
        Ok(())
    }
}

/// Whether a refusal means "issue from the lease" rather than "stop".
fn lease_will_do(e: &SyncError) -> bool {
    match e {
        SyncError::Unreachable { .. } | SyncError::BadAnswer { .. } => true,
        SyncError::Refused { status, code, .. } => {
            *status >= 500 || *status == 429 || code == "allocate.exhausted" || code == "registry.reconciling"
        }
        _ => false,
    }
}

impl OnlineAllocator for HttpAllocator<'_> {
    fn allocate(&self, request: &OnlineRequest) -> Result<Option<Personnummer>, Error> {
        let body = AllocateRequest {
            idempotency_key: request.idempotency_key.clone(),
            birth_date: request.birth_date,
            sex: request.sex,
        };
        let answer: AllocateResponse = match self.client.post("/v1/allocate", &body, ONLINE_DEADLINE, Retry::Once) {
            Ok(a) => a,
            Err(e) if lease_will_do(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((answer.registry_time, answer.registry_sequence));
        }
        // The number must be for this applicant: same date, same sex. Anything
        // else is a broken answer, and the issuing transaction checks again.
        let number = answer
            .number
            .get(7..11)
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|serial| Personnummer::from_parts(request.birth_date, serial))
            .filter(|n| n.to_string() == answer.number && n.sex() == request.sex)
            .ok_or(SyncError::BadAnswer { detail: "number".into() })?;
        Ok(Some(number))
    }
}
