//! Skranke's central registry: the one authority over which administrative
//! personnumre in its block exist.
//!
//! It enrols desks, allocates numbers online, binds lease units to desks,
//! receives each desk's immutable events, finds duplicate persons, and hands
//! accepted records on to CPR and Jobnet through an outbound feed. The
//! service is axum over PostgreSQL; the rules it applies (allocation order,
//! lease units) come from `skranke-rules` and the wire format from
//! `skranke-protocol`, shared with the desks. Every answer to a desk is
//! signed with the registry's own key ([`key`]), kept outside the
//! database. See `README.md` beside this crate for the design and the
//! lease arithmetic.

pub mod alloc;
pub mod api;
pub mod auth;
pub mod db;
pub mod decode;
pub mod disputed;
pub mod duplicates;
pub mod error;
pub mod key;
pub mod limits;
pub mod lists;
pub mod logging;
pub mod ops;
pub mod privacy;
pub mod revocation;
pub mod settings;
pub mod telemetry;
pub mod testing;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use skranke_rules::lease::Block;

pub use error::{RegistryError, Result};
pub use key::RegistryKey;
pub use limits::RateLimit;

/// Tunables of the service, from flags and environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Units bound to one desk at most (800 units / 400 desks = 2).
    pub units_per_desk: u32,
    /// How long an online allocation may take before the registry gives up
    /// and the desk falls back to its lease.
    pub allocate_deadline: Duration,
    /// Lookups per desk.
    pub lookup_limit: RateLimit,
    /// Online allocations per desk.
    pub allocate_limit: RateLimit,
    /// Refused enrolment attempts per client address.
    pub enrol_limit: RateLimit,
    /// Bearer token of the downstream feed consumer; `None` disables the feed.
    pub feed_token: Option<String>,
    /// Bearer token of the metrics scraper; `None`: `/metrics` is not served.
    pub metrics_token: Option<String>,
    /// Modulus-11 numbers (still widely demanded, and few) one desk is
    /// allocated online per 24 hours; after that it gets the others.
    pub modulus11_per_desk_day: u32,
}

/// A desk issues a few dozen handouts on a busy day; this leaves it every
/// modulus-11 number it can use and stops one desk from draining them.
pub const DEFAULT_MODULUS11_PER_DESK_DAY: u32 = 100;

impl Default for Config {
    fn default() -> Config {
        Config {
            units_per_desk: 2,
            allocate_deadline: Duration::from_secs(2),
            lookup_limit: RateLimit::per_second(10.0, 20),
            allocate_limit: RateLimit::per_second(10.0, 20),
            enrol_limit: RateLimit::per_minute(5.0, 5),
            feed_token: None,
            metrics_token: None,
            modulus11_per_desk_day: DEFAULT_MODULUS11_PER_DESK_DAY,
        }
    }
}

/// The registry's clock, passed in so that tests can set the time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub pool: Pool,
    pub block: Block,
    pub config: Config,
    clock: Clock,
    pub limits: limits::Limits,
    /// Signs every answer to a desk and every sequence it is told.
    pub key: Arc<RegistryKey>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(pool: Pool, block: Block, config: Config, clock: Clock, key: Arc<RegistryKey>) -> AppState {
        let limits = limits::Limits::new(&config);
        AppState(Arc::new(Inner { pool, block, config, clock, limits, key }))
    }

    /// The receipt for telling `desk_id` the sequence `sequence`.
    pub fn receipt(&self, desk_id: &str, sequence: i64) -> String {
        self.key.receipt(desk_id, sequence)
    }

    /// The registry's time now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}
