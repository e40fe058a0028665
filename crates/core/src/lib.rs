//! Skranke's core: the rules and the local machinery of a citizen-service
//! desk that issues administrative personnumre and first Jobnet logins.
//!
//! No GUI here. The desk app (`src-tauri`) and the `skranke` CLI are thin
//! shells over this crate; the pure rules (`cpr`, …) take their clock and
//! randomness as arguments so that tests are deterministic.

pub mod alloc;
pub mod applicant;
pub mod audit;
pub mod counter;
pub mod country;
pub mod cpr;
pub mod credentials;
pub mod desk;
pub mod error;
pub mod handout;
pub mod i18n;
pub mod issue;
pub mod keystore;
pub mod lease;
pub mod letter;
pub mod mrz;
pub mod municipality;
pub mod names;
pub mod oplog;
pub mod print;
pub mod protocol;
pub mod query;
pub mod report;
pub mod retention;
pub mod settings;
pub mod staff;
pub mod store;
pub mod sync;

/// The core's version, shown by the desk app and `skranke --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::{Error, FieldError, Result};
