//! Skranke's pure rules: what a personnummer, a lease, a machine-readable
//! zone, a name, a country, a municipality and an applicant are, the field
//! error every check reports, password strength, and the message catalogs
//! every sentence is rendered from.
//!
//! No I/O here: no file, network, database or key store, no clock and no
//! randomness of its own (the rules take them as arguments, so tests are
//! deterministic). The desk (`skranke-core`) and the registry
//! (`skranke-registry`) both build on this crate; only the catalogs and the
//! municipality list are compiled in.

pub mod applicant;
pub mod country;
pub mod cpr;
pub mod error;
pub mod i18n;
pub mod lease;
pub mod mrz;
pub mod municipality;
pub mod names;
pub mod password;

pub use error::FieldError;
