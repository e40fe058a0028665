//! The core's one error type. The field-level validation problem that
//! every form, file and request check reports, [`FieldError`], is
//! skranke-rules' (re-exported here).

use crate::cpr::CprError;
use crate::credentials::CredentialError;
use crate::handout::HandoutError;
use crate::i18n::Lang;
use crate::issue::IssueError;
use crate::letter::LetterError;
use crate::print::PrintError;
use crate::staff::StaffError;
use crate::store::StoreError;
use crate::sync_error::SyncError;

pub use skranke_rules::error::FieldError;

/// Everything that can go wrong in the core. Each variant renders a message
/// for staff through the catalogs with [`Error::message`]; `Display` is the
/// English form, for logs and developers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A personnummer that is not valid.
    #[error("invalid personnummer: {}", .0.message(Lang::En))]
    Cpr(#[from] CprError),
    /// Jobnet credentials could not be made or read.
    #[error("credentials: {}", .0.message(Lang::En))]
    Credentials(#[from] CredentialError),
    /// The handout could not be rendered.
    #[error("handout: {}", .0.message(Lang::En))]
    Letter(#[from] LetterError),
    /// The handout could not be printed.
    #[error("printing: {}", .0.message(Lang::En))]
    Print(#[from] PrintError),
    /// Input that failed validation: every problem at once, each naming its field.
    #[error("invalid input: {}", FieldError::joined(.0, "; "))]
    Invalid(Vec<FieldError>),
    /// A staff act or sign-in was refused.
    #[error(transparent)]
    Staff(StaffError),
    /// Issuing or voiding refused.
    #[error(transparent)]
    Issue(IssueError),
    /// Issuing with a handout, or reprinting, refused or failed.
    #[error(transparent)]
    Handout(HandoutError),
    /// The desk store, its audit chain or the key store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Talking to the registry failed or was refused.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this refuses the request (bad input, a duplicate, a missing
    /// role: the CLI's exit 1) rather than reporting a problem with the
    /// machine or its setup (key store, database, fonts: exit 2).
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Staff(e) => e.is_refusal(),
            Error::Store(e) => e.is_refusal(),
            Error::Sync(e) => e.is_refusal(),
            Error::Handout(e) => e.is_refusal(),
            Error::Issue(e) => e.is_refusal(),
            Error::Credentials(_) | Error::Letter(LetterError::Fonts) | Error::Io { .. } => false,
            Error::Cpr(_) | Error::Letter(_) | Error::Print(_) | Error::Invalid(_) => true,
        }
    }

    /// The message for staff in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            Error::Cpr(e) => e.message(lang),
            Error::Credentials(e) => e.message(lang),
            Error::Letter(e) => e.message(lang),
            Error::Print(e) => e.message(lang),
            // Field messages were rendered in the desk's language when found.
            Error::Invalid(errors) => FieldError::joined(errors, "\n"),
            Error::Staff(e) => e.message(lang),
            Error::Issue(e) => e.message(lang),
            Error::Handout(e) => e.message(lang),
            Error::Store(e) => e.message(lang),
            Error::Sync(e) => e.message(lang),
            Error::Io { .. } => self.to_string(),
        }
    }
}

/// A module's error reaches the core's without nesting: its field problems
/// become [`Error::Invalid`] and a failure of the store underneath it
/// [`Error::Store`], so each refusal has one place to match it.
impl From<StaffError> for Error {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::Invalid(errors) => Error::Invalid(errors),
            StaffError::Store(e) => Error::Store(e),
            e => Error::Staff(e),
        }
    }
}

/// Issuing's error carries what it builds on; each part reaches its own
/// variant here.
impl From<IssueError> for Error {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Invalid(errors) => Error::Invalid(errors),
            IssueError::Staff(e) => Error::Staff(e),
            IssueError::Online(e) => Error::Sync(e),
            IssueError::Letter(e) => Error::Letter(e),
            IssueError::Store(e) => Error::Store(e),
            e => Error::Issue(e),
        }
    }
}

/// The handout's error likewise.
impl From<HandoutError> for Error {
    fn from(e: HandoutError) -> Self {
        match e {
            HandoutError::Invalid(errors) => Error::Invalid(errors),
            HandoutError::Issue(e) => Error::from(e),
            HandoutError::Letter(e) => Error::Letter(e),
            HandoutError::Print(e) => Error::Print(e),
            HandoutError::Credentials(e) => Error::Credentials(e),
            HandoutError::Staff(e) => Error::Staff(e),
            HandoutError::Store(e) => Error::Store(e),
            e => Error::Handout(e),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.into())
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
