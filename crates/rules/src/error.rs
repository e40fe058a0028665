//! The field-level validation problem that every form, file and request
//! check reports, on the desk and at the registry alike.

use serde::{Deserialize, Serialize};

/// One problem with one input field: which field (a JSON path such as
/// `document.expiry_date`), a stable machine-readable code, and a message for
/// staff in the desk's language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    /// Every problem as `field: message`, joined by `separator` (a line
    /// break for staff, `; ` for a log line).
    pub fn joined(errors: &[FieldError], separator: &str) -> String {
        errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join(separator)
    }
}
