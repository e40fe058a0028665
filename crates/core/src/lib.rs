//! Skranke's core: the desk, the local machinery of a citizen-service
//! counter that issues administrative personnumre and first Jobnet logins.
//!
//! No GUI here. The desk app (`src-tauri`) and the `skranke` CLI are thin
//! shells over this crate. The pure rules (`cpr`, …) are skranke-rules' and
//! the wire (`protocol`) is skranke-protocol's; both are re-exported here so
//! that the desk and its shells name them as `skranke_core::cpr` and so on.

pub mod alloc;
pub mod counter;
pub mod credentials;
pub mod desk;
pub mod error;
pub mod handout;
pub mod issue;
pub mod letter;
pub mod oplog;
pub mod print;
pub mod query;
pub mod report;
pub mod retention;
pub mod settings;
pub mod staff;
pub mod store;
pub mod sync;
pub mod sync_error;

pub use skranke_protocol as protocol;
pub use skranke_rules::{applicant, country, cpr, i18n, lease, mrz, municipality, names, password};
pub use store::{audit, keystore};

/// The core's version, shown by the desk app and `skranke --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::{Error, Result};
pub use skranke_rules::error::FieldError;
