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

use std::time::Duration;

use super::client::Retry;
use super::{RegistryClient, SyncError};
use crate::alloc::{OnlineAllocator, OnlineRequest, ONLINE_TIMEOUT};
use crate::cpr::Personnummer;
use crate::protocol::{AllocateRequest, AllocateResponse};
use crate::store::Store;
use crate::Error;

/// The whole round trip must fit the allocator contract's timeout.
pub(crate) const ONLINE_DEADLINE: Duration = ONLINE_TIMEOUT;

/// Online allocation through the registry, for an enrolled desk.
pub struct HttpAllocator<'a> {
    client: &'a RegistryClient,
}

impl<'a> HttpAllocator<'a> {
    /// Allocation through `client`, which should know the desk's pin and
    /// highest sequence ([`super::client_for`], [`super::client_at`]).
    pub fn new(client: &'a RegistryClient) -> HttpAllocator<'a> {
        HttpAllocator { client }
    }

    /// The client it asks through.
    pub fn client(&self) -> &'a RegistryClient {
        self.client
    }

    /// Keeps what the answers said about the registry's clock and sequence
    /// in the store, a move of the pinned key in the key store, and audits
    /// the answers the desk refused (call after issuing).
    pub fn remember(&self, store: &mut Store) -> Result<(), Error> {
        super::settle(store, self.client)
    }
}

/// Whether a refusal means "issue from the lease" rather than "stop".
fn lease_will_do(e: &SyncError) -> bool {
    match e {
        SyncError::Unreachable { .. } | SyncError::BadAnswer { .. } | SyncError::RegistryBehind { .. } => true,
        e if e.is_untrusted() => true,
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
