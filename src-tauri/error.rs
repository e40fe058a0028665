//! What every command answers on failure: a sentence for the clerk from the
//! core's catalogs, and the field problems when input was refused. Never a
//! stack trace, never a debug dump.

use serde::Serialize;
use skranke_core::i18n::{render, Lang};
use skranke_core::staff::StaffError;
use skranke_core::{Error, FieldError};

/// A command's refusal as the window receives it (`CommandError` in ui/src/api.ts).
/// `code` is set for the refusals the window acts on: `locked` (the idle
/// lock dropped the session: back to sign-in), `account_locked` and
/// `must_change_password`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiError {
    pub message: String,
    pub fields: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl UiError {
    /// A sentence from the catalogs.
    pub fn text(lang: Lang, key: &str, args: &[(&str, &str)]) -> UiError {
        UiError { message: render(lang, key, args), fields: Vec::new(), code: None }
    }

    /// Field problems; the message lists them for screens that show one line.
    pub fn fields(fields: Vec<FieldError>) -> UiError {
        let message = fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join(" ");
        UiError { message, fields, code: None }
    }

    /// One field problem with a catalog sentence.
    pub fn field(lang: Lang, field: &str, code: &str, key: &str, args: &[(&str, &str)]) -> UiError {
        UiError::fields(vec![FieldError { field: field.into(), code: code.into(), message: render(lang, key, args) }])
    }

    /// The core's error (or a module's, which becomes it) in the desk's language.
    pub fn core(lang: Lang, e: impl Into<Error>) -> UiError {
        let e: Error = e.into();
        let code = match &e {
            Error::Staff(StaffError::IdleLocked { .. }) => Some("locked"),
            Error::Staff(StaffError::AccountLocked { .. }) => Some("account_locked"),
            Error::Staff(StaffError::PasswordChangeRequired) => Some("must_change_password"),
            _ => None,
        };
        match e {
            Error::Invalid(fields) => UiError::fields(fields),
            other => UiError { message: other.message(lang), fields: Vec::new(), code },
        }
    }
}

/// Every command's result.
pub type UiResult<T> = Result<T, UiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_each_field_and_join_their_messages() {
        let e = UiError::core(
            Lang::En,
            Error::Invalid(vec![
                FieldError { field: "a".into(), code: "x".into(), message: "First.".into() },
                FieldError { field: "b".into(), code: "y".into(), message: "Second.".into() },
            ]),
        );
        assert_eq!(e.fields.len(), 2);
        assert_eq!(e.message, "First. Second.");
    }

    #[test]
    fn the_idle_lock_reaches_the_window_as_the_code_locked() {
        let e = UiError::core(Lang::En, StaffError::IdleLocked { minutes: 5 });
        assert_eq!(e.code, Some("locked"));
        assert!(e.message.contains('5'), "{}", e.message);
        assert_eq!(UiError::core(Lang::En, StaffError::SignInRefused).code, None);
    }

    #[test]
    fn a_catalog_sentence_never_reaches_the_window_as_its_key() {
        for lang in Lang::ALL {
            let e = UiError::text(lang, "shell.error.not_signed_in", &[]);
            assert!(!e.message.starts_with("shell."), "{}", e.message);
        }
    }
}
