//! The HTTP side of sync: one blocking HTTPS client per desk that signs
//! every request as `protocol` prescribes, verifies every answer before
//! anything reads it, and retries what may be retried with exponential
//! backoff and full jitter.
//!
//! Verifying an answer (`protocol::trust`):
//!
//! 1. Every request carries a fresh nonce (`x-skranke-nonce`); the answer's
//!    signature covers that nonce, the status and the body, so neither a
//!    changed byte nor an old answer to another request passes.
//! 2. The signing key must be the one the desk pinned, or one the pinned key
//!    endorsed for a rotation that has not ended (the pin then moves to it).
//!    A desk with nothing pinned (enrolled before registry keys) pins the
//!    first key whose signature verifies.
//! 3. A registry time far ahead of both the desk's clock and the last time it
//!    accepted is refused (one such answer would stop the desk for as long).
//! 4. An answer that hands out a number or a unit with a sequence below the
//!    highest the desk has seen comes from a registry that went back: it is
//!    not used. Receipts are kept only when they verify.
//!
//! Only then is the body parsed. A refused answer is noted for the audit log
//! ([`RegistryClient::take_pending`]), as is a move of the pin; the caller,
//! who holds the store, writes both down.
//!
//! Blocking on purpose: the desk's store is synchronous SQLite, sync runs in
//! its own thread or process, and a blocking client (ureq over rustls) keeps
//! the core free of an async runtime.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SyncError;
use crate::protocol::trust::{self, RegistryKeyAnswer};
use crate::protocol::{
    header, versioned_signing_message, AllocateResponse, EnrolResponse, LeaseResponse, LookupResponse, Problem,
    ReturnResponse, SyncAnswer, UploadResponse,
};
use crate::store::state::Seen;

/// The desk app's version, as every signed request names it.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The protocol version this desk speaks, as its header spells it.
pub fn protocol_version() -> String {
    let (major, minor) = crate::protocol::PROTOCOL_VERSION;
    format!("{major}.{minor}")
}

/// The largest answer the desk reads (a sync answer lists every number used
/// in the desk's units; a busy desk's list is a few hundred kilobytes).
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// Retries with exponential backoff and full jitter: before attempt `n`
/// (counted from 1) the client waits a random time in `[0, min(cap, base·2ⁿ⁻¹))`.
/// Full jitter spreads the retries of many desks that lost the registry at
/// the same moment, so they do not all come back at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { attempts: 6, base: Duration::from_millis(250), cap: Duration::from_secs(8) }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry), given a
    /// random value: a pure function, so tests can check the bounds.
    pub fn delay(&self, retry: u32, random: u64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap).as_millis() as u64;
        if ceiling == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(random % ceiling)
    }
}

/// Whether `url` may be used: HTTPS anywhere, plain HTTP only to this machine
/// (tests, a local proxy that terminates TLS).
pub fn check_url(url: &str) -> Result<String, SyncError> {
    let bad = || SyncError::BadUrl { url: url.to_string() };
    let trimmed = url.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(bad)?;
    let host_port = rest.split('/').next().unwrap_or("");
    if host_port.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(trimmed.to_string()),
        "http" if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) => {
            Ok(trimmed.to_string())
        }
        "http" => Err(SyncError::InsecureUrl { url: url.to_string() }),
        _ => Err(bad()),
    }
}

/// Why the pinned registry key moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChange {
    /// Nothing was pinned (a desk enrolled before registry keys).
    FirstUse,
    /// The pinned key endorsed the new one for a rotation.
    Rotation,
}

impl KeyChange {
    /// The audit detail of `registry.key_pinned`.
    pub fn code(self) -> &'static str {
        match self {
            KeyChange::FirstUse => "first_use",
            KeyChange::Rotation => "rotation",
        }
    }
}

/// The answer headers the signature check reads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AnswerHeaders<'a> {
    pub signature: Option<&'a str>,
    pub key: Option<&'a str>,
    pub endorsement: Option<&'a str>,
    pub endorsed_until: Option<&'a str>,
}

/// Checks an answer's signature against the pinned key (see the module
/// documentation): the key that signed it, and the move of the pin it
/// makes, if any. Pure, so that every rule is tested without a network.
pub(crate) fn check_signature(
    pinned: Option<&[u8; 32]>,
    nonce: &str,
    status: u16,
    headers: &AnswerHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<([u8; 32], Option<KeyChange>), SyncError> {
    let signature = headers.signature.filter(|s| !s.trim().is_empty()).ok_or(SyncError::AnswerUnsigned)?;
    // A signature with no key to check it against proves nothing.
    let key = headers.key.and_then(trust::public_key_from_hex).ok_or(SyncError::AnswerForged)?;
    let change = match pinned {
        None => Some(KeyChange::FirstUse),
        Some(p) if *p == key => None,
        Some(p) => {
            let mismatch = || SyncError::RegistryKeyMismatch { fingerprint: trust::key_fingerprint(&key) };
            let until = headers.endorsed_until.and_then(|u| u.trim().parse::<i64>().ok()).ok_or_else(mismatch)?;
            let endorsement = headers.endorsement.ok_or_else(mismatch)?;
            if !trust::verify(p, &trust::endorsement_message(&key, until), endorsement) {
                return Err(mismatch());
            }
            if until < now.timestamp() {
                return Err(SyncError::RegistryKeyExpired {
                    until: DateTime::from_timestamp(until, 0).unwrap_or_default(),
                });
            }
            Some(KeyChange::Rotation)
        }
    };
    if !trust::verify(&key, &trust::answer_signing_message(nonce, status, body), signature) {
        return Err(SyncError::AnswerForged);
    }
    Ok((key, change))
}

/// Refuses a registry time more than [`trust::MAX_REGISTRY_TIME_AHEAD_SECS`]
/// ahead of both the desk's clock and the last registry time it accepted.
pub(crate) fn check_time(
    registry_time: DateTime<Utc>,
    last_accepted: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), SyncError> {
    let base = last_accepted.map_or(now, |t| t.max(now));
    if registry_time > base + chrono::Duration::seconds(trust::MAX_REGISTRY_TIME_AHEAD_SECS) {
        return Err(SyncError::RegistryTimeAhead { registry_time });
    }
    Ok(())
}

/// An answer the client verifies before handing it on: what it says about
/// the registry's clock and sequence.
pub(crate) trait Answer: DeserializeOwned {
    /// Hands out a number or a unit: not used when its sequence is below
    /// the highest the desk has seen.
    const HANDS_OUT: bool = false;

    fn registry_time(&self) -> Option<DateTime<Utc>>;

    /// The signed sequence and its receipt, for answers that carry one.
    fn sequence(&self) -> Option<(i64, &str)> {
        None
    }

    /// The desk a receipt is for, when the client does not know it yet
    /// (enrolment assigns it).
    fn assigned_desk(&self) -> Option<&str> {
        None
    }
}

macro_rules! sequenced_answer {
    ($ty:ty, $hands_out:expr) => {
        impl Answer for $ty {
            const HANDS_OUT: bool = $hands_out;
            fn registry_time(&self) -> Option<DateTime<Utc>> {
                Some(self.registry_time)
            }
            fn sequence(&self) -> Option<(i64, &str)> {
                Some((self.registry_sequence, &self.sequence_receipt))
            }
        }
    };
}

sequenced_answer!(AllocateResponse, true);
sequenced_answer!(LeaseResponse, true);
sequenced_answer!(ReturnResponse, true);
sequenced_answer!(UploadResponse, false);
sequenced_answer!(SyncAnswer, false);

impl Answer for EnrolResponse {
    fn registry_time(&self) -> Option<DateTime<Utc>> {
        Some(self.registry_time)
    }
    fn sequence(&self) -> Option<(i64, &str)> {
        Some((self.registry_sequence, &self.sequence_receipt))
    }
    fn assigned_desk(&self) -> Option<&str> {
        Some(&self.desk_id)
    }
}

impl Answer for LookupResponse {
    fn registry_time(&self) -> Option<DateTime<Utc>> {
        Some(self.registry_time)
    }
}

impl Answer for RegistryKeyAnswer {
    fn registry_time(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// What a client checks answers against, and what it learnt from them that
/// the store has not written down yet.
#[derive(Debug, Default)]
struct Trust {
    pinned: Option<[u8; 32]>,
    change: Option<KeyChange>,
    seen: Seen,
    /// Codes of refused answers, for the audit log.
    refused: Vec<&'static str>,
}

/// A change of the pinned key and the refused answers since the last
/// [`RegistryClient::take_pending`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    pub key_change: Option<(KeyChange, [u8; 32])>,
    pub refused: Vec<&'static str>,
}

/// An answer whose signature verified.
struct Verified {
    status: u16,
    body: Vec<u8>,
    key: [u8; 32],
    change: Option<KeyChange>,
}

/// A desk's connection to the registry: its URL, the desk's ID and signing
/// key, the registry key it trusts, and one connection pool.
pub struct RegistryClient {
    base: String,
    desk_id: String,
    key: Option<SigningKey>,
    agent: ureq::Agent,
    backoff: Backoff,
    batch: usize,
    trust: Mutex<Trust>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base)
            .field("desk_id", &self.desk_id)
            .finish_non_exhaustive()
    }
}

/// Which requests may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Idempotent: retry with backoff.
    Backoff,
    /// One attempt (online allocation must answer within its deadline).
    Once,
}

impl RegistryClient {
    /// A client for an enrolled desk. It trusts no registry key yet: the
    /// sync entry points give it the desk's pin from the key store
    /// ([`super::client_for`] does at once), or it pins the first key whose
    /// signature verifies.
    pub fn new(url: &str, desk_id: &str, key: SigningKey) -> Result<RegistryClient, SyncError> {
        Ok(RegistryClient {
            base: check_url(url)?,
            desk_id: desk_id.to_string(),
            key: Some(key),
            agent: agent(),
            backoff: Backoff::default(),
            batch: super::UPLOAD_BATCH,
            trust: Mutex::new(Trust::default()),
        })
    }

    /// A client that can only enrol (no desk ID, no key yet).
    pub fn unenrolled(url: &str) -> Result<RegistryClient, SyncError> {
        Ok(RegistryClient {
            base: check_url(url)?,
            desk_id: String::new(),
            key: None,
            agent: agent(),
            backoff: Backoff::default(),
            batch: super::UPLOAD_BATCH,
            trust: Mutex::new(Trust::default()),
        })
    }

    /// Trusts `registry_key` (an Ed25519 public key) from now on, as a desk's pin.
    pub fn with_registry_key(self, registry_key: &[u8; 32]) -> RegistryClient {
        self.trust().pinned = Some(*registry_key);
        self
    }

    fn trust(&self) -> MutexGuard<'_, Trust> {
        self.trust.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes what the store knows: its pin, unless this client already has
    /// one, and what it has seen (merged, only forward).
    pub(crate) fn absorb(&self, pinned: Option<[u8; 32]>, seen: &Seen) {
        let mut trust = self.trust();
        if trust.pinned.is_none() {
            trust.pinned = pinned;
        }
        trust.seen.merge(seen);
    }

    /// The registry key this client trusts.
    pub fn registry_key(&self) -> Option<[u8; 32]> {
        self.trust().pinned
    }

    /// The registry's time and highest sequence verified answers told.
    pub(crate) fn seen(&self) -> Seen {
        self.trust().seen.clone()
    }

    /// Replaces the sequence and receipt (after a refused claim).
    pub(crate) fn replace_sequence(&self, sequence: i64, receipt: Option<&str>) {
        let mut trust = self.trust();
        trust.seen.sequence = sequence;
        trust.seen.receipt = receipt.map(str::to_string);
    }

    /// Whether `receipt` is the trusted key's signature over `sequence` for this desk.
    pub(crate) fn receipt_verifies(&self, sequence: i64, receipt: &str) -> bool {
        let pinned = self.trust().pinned;
        pinned.is_some_and(|k| trust::verify(&k, &trust::receipt_message(&self.desk_id, sequence), receipt))
    }

    /// The pin's move and the refused answers not written down yet.
    pub(crate) fn take_pending(&self) -> Pending {
        let mut trust = self.trust();
        let key_change = trust.change.take().zip(trust.pinned);
        Pending { key_change, refused: std::mem::take(&mut trust.refused) }
    }

    /// Puts a key change back that could not be written down.
    pub(crate) fn restore_key_change(&self, change: KeyChange) {
        let mut trust = self.trust();
        trust.change.get_or_insert(change);
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_backoff(mut self, backoff: Backoff) -> RegistryClient {
        self.backoff = backoff;
        self
    }

    /// Replaces the number of events per upload request (1 to
    /// [`crate::protocol::MAX_BATCH_EVENTS`]).
    pub fn with_batch_size(mut self, events: usize) -> RegistryClient {
        self.batch = events.clamp(1, crate::protocol::MAX_BATCH_EVENTS);
        self
    }

    pub(crate) fn batch_size(&self) -> usize {
        self.batch
    }

    pub fn desk_id(&self) -> &str {
        &self.desk_id
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// POSTs `body` as JSON to `path` and reads the verified JSON answer,
    /// signing each attempt afresh (new timestamp and nonce: the registry
    /// refuses replays).
    pub(crate) fn post<Req: Serialize, Resp: Answer>(
        &self,
        path: &str,
        body: &Req,
        timeout: Duration,
        retry: Retry,
    ) -> Result<Resp, SyncError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SyncError::BadAnswer { detail: e.to_string() })?;
        self.with_retries(retry, || self.exchange("POST", path, &bytes, timeout))
    }

    /// GETs `path` (unsigned, with a nonce) and reads the verified JSON answer.
    pub(crate) fn get<Resp: Answer>(&self, path: &str, timeout: Duration, retry: Retry) -> Result<Resp, SyncError> {
        self.with_retries(retry, || self.exchange("GET", path, &[], timeout))
    }

    fn with_retries<Resp: Answer>(
        &self,
        retry: Retry,
        mut attempt_once: impl FnMut() -> Result<Verified, SyncError>,
    ) -> Result<Resp, SyncError> {
        let attempts = match retry {
            Retry::Backoff => self.backoff.attempts.max(1),
            Retry::Once => 1,
        };
        let mut attempt = 1;
        loop {
            match attempt_once().and_then(|answer| self.accept::<Resp>(answer)) {
                Err(e) if e.retryable() && attempt < attempts => {
                    std::thread::sleep(self.backoff.delay(attempt, random_u64()));
                    attempt += 1;
                }
                Err(e) => {
                    if e.is_untrusted() {
                        self.trust().refused.push(e.code());
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    /// One request; the answer only if its signature verifies.
    fn exchange(&self, method: &str, path: &str, body: &[u8], timeout: Duration) -> Result<Verified, SyncError> {
        let url = format!("{}{path}", self.base);
        let nonce = hex::encode(random_bytes::<16>());
        let mut response = (if method == "GET" {
            let request = self.agent.get(&url).config().timeout_global(Some(timeout)).build();
            request.header(header::NONCE, &nonce).call()
        } else {
            let mut request = self
                .agent
                .post(&url)
                .config()
                .timeout_global(Some(timeout))
                .build()
                .header("content-type", "application/json")
                .header(header::NONCE, &nonce);
            if let Some(key) = &self.key {
                let timestamp = Utc::now().timestamp();
                // The versions are signed with the request: no one on the way
                // can change what the registry learns this desk runs.
                let protocol = protocol_version();
                let message = versioned_signing_message(method, path, timestamp, &nonce, &protocol, APP_VERSION, body);
                let signature = key.sign(&message);
                request = request
                    .header(header::DESK, &self.desk_id)
                    .header(header::TIMESTAMP, timestamp.to_string())
                    .header(header::PROTOCOL, &protocol)
                    .header(header::APP_VERSION, APP_VERSION)
                    .header(header::SIGNATURE, hex::encode(signature.to_bytes()));
            }
            request.send(body)
        })
        .map_err(transport_error)?;
        let status = response.status().as_u16();
        let text = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (signature, key, endorsement, until) = (
            text(trust::header::ANSWER_SIGNATURE),
            text(trust::header::REGISTRY_KEY),
            text(trust::header::KEY_ENDORSEMENT),
            text(trust::header::KEY_ENDORSED_UNTIL),
        );
        let answer =
            response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_vec().map_err(transport_error)?;
        // A gateway in front of the registry answering for it while it is
        // down signs nothing; nothing in such an answer is acted on, and
        // treating it as "not reached" keeps the retries and the lease.
        if signature.is_none() && matches!(status, 502..=504) {
            return Err(SyncError::Unreachable { detail: format!("{status} from a gateway, unsigned") });
        }
        let headers = AnswerHeaders {
            signature: signature.as_deref(),
            key: key.as_deref(),
            endorsement: endorsement.as_deref(),
            endorsed_until: until.as_deref(),
        };
        let pinned = self.trust().pinned;
        let (key, change) = check_signature(pinned.as_ref(), &nonce, status, &headers, &answer, Utc::now())?;
        Ok(Verified { status, body: answer, key, change })
    }

    /// Reads a verified answer: the pin moves if the signature moved it;
    /// a success is parsed and its time and sequence checked and noted; a
    /// refusal becomes [`SyncError::Refused`].
    fn accept<Resp: Answer>(&self, answer: Verified) -> Result<Resp, SyncError> {
        let success = (200..300).contains(&answer.status);
        let parsed = if success {
            let parsed = serde_json::from_slice::<Resp>(&answer.body)
                .map_err(|e| SyncError::BadAnswer { detail: e.to_string() })?;
            if let Some(time) = parsed.registry_time() {
                let last = self.trust().seen.time;
                check_time(time, last, Utc::now())?;
            }
            Some(parsed)
        } else {
            None
        };
        let mut trust = self.trust();
        if let Some(change) = answer.change {
            trust.pinned = Some(answer.key);
            trust.change = Some(change);
        }
        let Some(parsed) = parsed else {
            drop(trust);
            return Err(match serde_json::from_slice::<Problem>(&answer.body) {
                Ok(p) => SyncError::Refused { status: answer.status, code: p.code, detail: p.detail },
                Err(_) => {
                    SyncError::Refused { status: answer.status, code: format!("http.{}", answer.status), detail: None }
                }
            });
        };
        if let Some((sequence, receipt)) = parsed.sequence() {
            if Resp::HANDS_OUT && sequence < trust.seen.sequence {
                return Err(SyncError::RegistryBehind { seen: trust.seen.sequence, answered: sequence });
            }
            let desk = parsed.assigned_desk().unwrap_or(&self.desk_id);
            if trust::verify(&answer.key, &trust::receipt_message(desk, sequence), receipt) {
                trust.seen.note_sequence(sequence, Some(receipt));
            }
        }
        if let Some(time) = parsed.registry_time() {
            trust.seen.note_time(time);
        }
        Ok(parsed)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .max_idle_connections_per_host(4)
        .build()
        .into()
}

fn transport_error(e: ureq::Error) -> SyncError {
    match e {
        ureq::Error::BadUri(_) => SyncError::BadUrl { url: e.to_string() },
        ureq::Error::BodyExceedsLimit(_) => SyncError::BadAnswer { detail: e.to_string() },
        other => SyncError::Unreachable { detail: other.to_string() },
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // Without the OS's random source the nonce would repeat and the registry
    // would refuse it as a replay: fall back to the clock, which differs.
    if getrandom::fill(&mut b).is_err() {
        let t = Utc::now().timestamp_nanos_opt().unwrap_or_default().to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t[i % t.len()] ^ (i as u8);
        }
    }
    b
}

pub(crate) fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_waits_grow_exponentially_up_to_the_cap_and_never_reach_the_ceiling() {
        let b = Backoff { attempts: 8, base: Duration::from_millis(100), cap: Duration::from_secs(1) };
        assert_eq!(b.delay(1, u64::MAX - 1), Duration::from_millis((u64::MAX - 1) % 100));
        for (retry, ceiling) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            for r in [0, 1, 99, 12_345, u64::MAX] {
                assert!(b.delay(retry, r) < Duration::from_millis(ceiling), "retry {retry}");
            }
            assert_eq!(b.delay(retry, ceiling - 1), Duration::from_millis(ceiling - 1));
        }
        assert_eq!(b.delay(1, 0), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_the_waits_of_many_desks() {
        let b = Backoff::default();
        let waits: std::collections::HashSet<Duration> = (0..50).map(|_| b.delay(3, random_u64())).collect();
        assert!(waits.len() > 25, "{}", waits.len());
    }

    #[test]
    fn plain_http_is_allowed_only_to_this_machine() {
        assert_eq!(check_url("https://registry.example.dk/").unwrap(), "https://registry.example.dk");
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://localhost:8080/").is_ok());
        assert!(check_url("http://[::1]:8080").is_ok());
        assert!(matches!(check_url("http://registry.example.dk"), Err(SyncError::InsecureUrl { .. })));
        assert!(matches!(check_url("http://127.0.0.1.evil.dk"), Err(SyncError::InsecureUrl { .. })));
        for bad in ["", "registry", "ftp://x", "https://", "https://a b", "https://x/?q=1"] {
            assert!(matches!(check_url(bad), Err(SyncError::BadUrl { .. })), "{bad}");
        }
    }
}
