//! The registry's defences against floods: a body size limit on every
//! route and token-bucket rate limits on the acts worth guessing at or
//! hammering (enrolment per client address, lookup and online allocation
//! per desk).
//!
//! Rate limits are per key, never global: fifty desks issuing at once each
//! have their own allowance. The buckets live in the process (one registry
//! process per database is the deployment; a second process would double
//! the allowance, which is acceptable for limits meant against abuse).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Desk;
use crate::error::RegistryError;
use crate::AppState;

/// A token bucket's shape: `per_second` tokens flow in, at most `burst`
/// wait. A rate of zero switches the limit off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// No limit (tests that measure something else, or an operator's choice).
    pub const OFF: RateLimit = RateLimit { per_second: 0.0, burst: 0 };

    pub fn per_second(rate: f64, burst: u32) -> RateLimit {
        RateLimit { per_second: rate, burst }
    }

    pub fn per_minute(rate: f64, burst: u32) -> RateLimit {
        RateLimit { per_second: rate / 60.0, burst }
    }

    pub fn is_off(&self) -> bool {
        self.per_second.is_nan() || self.per_second <= 0.0 || self.burst == 0
    }
}

/// One key's bucket: tokens left at `at`.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn full(limit: RateLimit, now: Instant) -> Bucket {
        Bucket { tokens: f64::from(limit.burst), at: now }
    }

    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        self.at = now;
    }

    /// Takes one token, or says how long until one is there. Pure: the
    /// caller passes the time.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        self.refill(limit, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / limit.per_second))
        }
    }

    /// Whether a token is there, without taking it.
    pub fn peek(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        self.refill(limit, now);
        if self.tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / limit.per_second))
        }
    }
}

/// Buckets by key (desk ID or client address).
pub struct Buckets {
    limit: RateLimit,
    map: Mutex<HashMap<String, Bucket>>,
}

/// Above this many keys, full buckets are forgotten (they would start full anyway).
const PRUNE_ABOVE: usize = 10_000;

impl Buckets {
    pub fn new(limit: RateLimit) -> Buckets {
        Buckets { limit, map: Mutex::new(HashMap::new()) }
    }

    fn with<T>(&self, key: &str, now: Instant, f: impl FnOnce(&mut Bucket, RateLimit) -> T) -> Option<T> {
        if self.limit.is_off() {
            return None;
        }
        // A poisoned lock only means another request panicked mid-update;
        // the counts are still usable.
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_ABOVE {
            let limit = self.limit;
            map.retain(|_, b| {
                b.refill(limit, now);
                b.tokens < f64::from(limit.burst)
            });
        }
        let bucket = map.entry(key.to_string()).or_insert_with(|| Bucket::full(self.limit, now));
        Some(f(bucket, self.limit))
    }

    /// Takes a token for `key`; `Err` holds the wait until the next one.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.with(key, now, |b, l| b.take(l, now)).unwrap_or(Ok(()))
    }

    /// Whether `key` has a token left, without taking it.
    pub fn peek(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.with(key, now, |b, l| b.peek(l, now)).unwrap_or(Ok(()))
    }
}

/// The three limited acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// `POST /v1/enrol`, per client address: refused attempts use up the
    /// allowance (guessing codes), successful ones do not (each spends a
    /// one-time code an operator made), so enrolling fifty desks from one
    /// office's address is not throttled.
    Enrol,
    /// `POST /v1/lookup`, per desk.
    Lookup,
    /// `POST /v1/allocate`, per desk.
    Allocate,
}

/// The buckets of every limited act.
pub struct Limits {
    pub enrol: Buckets,
    pub lookup: Buckets,
    pub allocate: Buckets,
}

impl Limits {
    pub fn new(config: &crate::Config) -> Limits {
        Limits {
            enrol: Buckets::new(config.enrol_limit),
            lookup: Buckets::new(config.lookup_limit),
            allocate: Buckets::new(config.allocate_limit),
        }
    }
}

/// 429 with `Retry-After` in whole seconds (at least 1) and a problem body.
pub fn too_many(code: &'static str, wait: Duration) -> Response {
    let mut response = RegistryError::refused(StatusCode::TOO_MANY_REQUESTS, code).into_response();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The client's address as the connection gives it (no `X-Forwarded-For`:
/// a header anyone can set would let a guesser pick a fresh bucket per
/// request). Behind a proxy every client shares the proxy's bucket.
fn client_address(req: &Request) -> String {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// Route middleware for a limited act. Desk limits run after
/// authentication (the key is the authenticated desk, never a claimed one).
pub async fn rate_limit(State((state, act)): State<(AppState, Limited)>, req: Request, next: Next) -> Response {
    let now = Instant::now();
    match act {
        Limited::Enrol => {
            let address = client_address(&req);
            if let Err(wait) = state.limits.enrol.peek(&address, now) {
                return too_many("enrol.rate_limited", wait);
            }
            let response = next.run(req).await;
            if response.status().is_client_error() {
                let _ = state.limits.enrol.take(&address, Instant::now());
            }
            response
        }
        Limited::Lookup | Limited::Allocate => {
            let Some(desk_id) = req.extensions().get::<Desk>().map(|d| d.desk_id.clone()) else {
                return RegistryError::unauthorized("auth.missing").into_response();
            };
            let (buckets, code) = match act {
                Limited::Lookup => (&state.limits.lookup, "lookup.rate_limited"),
                _ => (&state.limits.allocate, "allocate.rate_limited"),
            };
            if let Err(wait) = buckets.take(&desk_id, now) {
                return too_many(code, wait);
            }
            next.run(req).await
        }
    }
}

/// Route middleware: refuses a body over `max` bytes with 413, by its
/// declared length before reading anything, and by counting while it is
/// read for bodies that declare none (chunked).
pub async fn body_limit(State(max): State<usize>, req: Request, next: Next) -> Response {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return RegistryError::refused(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large").into_response();
    }
    let (parts, body) = req.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, max));
    next.run(Request::from_parts(parts, limited)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_tokens_flow_back() {
        let limit = RateLimit::per_second(2.0, 3);
        let t0 = Instant::now();
        let mut b = Bucket::full(limit, t0);
        for _ in 0..3 {
            assert!(b.take(limit, t0).is_ok());
        }
        let wait = b.take(limit, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.take(limit, t0 + Duration::from_millis(400)).is_err());
        assert!(b.take(limit, t0 + Duration::from_millis(510)).is_ok());
        // Never more than the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(limit, later).is_ok());
        }
        assert!(b.take(limit, later).is_err());
    }

    #[test]
    fn buckets_are_per_key_and_an_off_limit_never_refuses() {
        let buckets = Buckets::new(RateLimit::per_minute(1.0, 1));
        let now = Instant::now();
        assert!(buckets.take("A", now).is_ok());
        assert!(buckets.take("A", now).is_err());
        assert!(buckets.take("B", now).is_ok(), "one desk's use does not limit another");
        let off = Buckets::new(RateLimit::OFF);
        assert!((0..1000).all(|_| off.take("A", now).is_ok()));
    }

    #[test]
    fn peek_does_not_use_a_token() {
        let buckets = Buckets::new(RateLimit::per_minute(1.0, 1));
        let now = Instant::now();
        assert!(buckets.peek("A", now).is_ok());
        assert!(buckets.peek("A", now).is_ok());
        assert!(buckets.take("A", now).is_ok());
        assert!(buckets.peek("A", now).is_err());
    }
}
