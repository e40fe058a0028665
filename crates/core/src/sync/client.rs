//! The HTTP side of sync: one blocking HTTPS client per desk that signs
//! every request as `protocol` prescribes and retries what may be retried
//! with exponential backoff and full jitter.
//!
//! Blocking on purpose: the desk's store is synchronous SQLite, sync runs in
//! its own thread or process, and a blocking client (ureq over rustls) keeps
//! the core free of an async runtime.

use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SyncError;
use crate::protocol::{header, signing_message, Problem};

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

/// A desk's connection to the registry: its URL, the desk's ID and signing
/// key, and one connection pool.
pub struct RegistryClient {
    base: String,
    desk_id: String,
    key: Option<SigningKey>,
    agent: ureq::Agent,
    backoff: Backoff,
    batch: usize,
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
    /// A client for an enrolled desk.
    pub fn new(url: &str, desk_id: &str, key: SigningKey) -> Result<RegistryClient, SyncError> {
        Ok(RegistryClient {
            base: check_url(url)?,
            desk_id: desk_id.to_string(),
            key: Some(key),
            agent: agent(),
            backoff: Backoff::default(),
            batch: super::UPLOAD_BATCH,
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
        })
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

    /// POSTs `body` as JSON to `path` and reads the JSON answer, signing each
    /// attempt afresh (new timestamp and nonce: the registry refuses replays).
    pub(crate) fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        timeout: Duration,
        retry: Retry,
    ) -> Result<Resp, SyncError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SyncError::BadAnswer { detail: e.to_string() })?;
        let attempts = match retry {
            Retry::Backoff => self.backoff.attempts.max(1),
            Retry::Once => 1,
        };
        let mut attempt = 1;
        loop {
            let outcome = self.post_once(path, &bytes, timeout).and_then(|answer| {
                serde_json::from_slice::<Resp>(&answer).map_err(|e| SyncError::BadAnswer { detail: e.to_string() })
            });
            match outcome {
                Err(e) if e.retryable() && attempt < attempts => {
                    std::thread::sleep(self.backoff.delay(attempt, random_u64()));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn post_once(&self, path: &str, body: &[u8], timeout: Duration) -> Result<Vec<u8>, SyncError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("content-type", "application/json");
        if let Some(key) = &self.key {
            let timestamp = Utc::now().timestamp();
            let nonce = hex::encode(random_bytes::<16>());
            let signature = key.sign(&signing_message("POST", path, timestamp, &nonce, body));
            request = request
                .header(header::DESK, &self.desk_id)
                .header(header::TIMESTAMP, timestamp.to_string())
                .header(header::NONCE, nonce)
                .header(header::SIGNATURE, hex::encode(signature.to_bytes()));
        }
        let mut response = request.send(body).map_err(transport_error)?;
        let status = response.status().as_u16();
        let answer =
            response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_vec().map_err(transport_error)?;
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        Err(match serde_json::from_slice::<Problem>(&answer) {
            Ok(p) => SyncError::Refused { status, code: p.code, detail: p.detail },
            Err(_) => SyncError::Refused { status, code: format!("http.{status}"), detail: None },
        })
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
