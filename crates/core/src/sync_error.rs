//! What can go wrong between the desk and the registry: the sync client's
//! error, and the online allocator's (`core::alloc`), which issuing meets
//! when the registry refuses an allocation. It lives below both, so that
//! issuing can name it without importing the sync client that issuing's
//! records flow through (`core::sync` re-exports it).

use chrono::{DateTime, Utc};

use crate::i18n::{self, Lang};
use crate::protocol::trust;
use crate::store::timestamp;

/// What can go wrong between the desk and the registry. Each variant has a
/// catalog message (`messages/<lang>/sync.json`).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("a training desk never syncs")]
    Training,
    #[error("the desk is not enrolled with a registry")]
    NotEnrolled,
    #[error("not a registry address: {url}")]
    BadUrl { url: String },
    #[error("plain HTTP is allowed only to this machine: {url}")]
    InsecureUrl { url: String },
    #[error("the registry cannot be reached: {detail}")]
    Unreachable { detail: String },
    #[error("the registry refused ({status} {code})")]
    Refused { status: u16, code: String, detail: Option<String> },
    #[error("the registry's answer is not understood: {detail}")]
    BadAnswer { detail: String },
    #[error("not an enrolment code: 32 letters and digits are expected")]
    EnrolmentCodeFormat,
    #[error("the answer is not signed by the registry")]
    AnswerUnsigned,
    #[error("the answer's signature does not verify")]
    AnswerForged,
    #[error("the answer is signed by a key this desk does not trust (fingerprint {fingerprint})")]
    RegistryKeyMismatch { fingerprint: String },
    #[error("the registry's new key was endorsed only until {until}")]
    RegistryKeyExpired { until: DateTime<Utc> },
    #[error("the registry's time {registry_time} is far ahead of this desk's clock and of its last known time")]
    RegistryTimeAhead { registry_time: DateTime<Utc> },
    #[error("the registry answered sequence {answered}, below {seen} it signed before")]
    RegistryBehind { seen: i64, answered: i64 },
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Training => "sync.training",
            SyncError::NotEnrolled => "sync.not_enrolled",
            SyncError::BadUrl { .. } => "sync.bad_url",
            SyncError::InsecureUrl { .. } => "sync.insecure_url",
            SyncError::Unreachable { .. } => "sync.unreachable",
            SyncError::Refused { .. } => "sync.refused",
            SyncError::BadAnswer { .. } => "sync.bad_answer",
            SyncError::EnrolmentCodeFormat => "sync.enrolment_code_format",
            SyncError::AnswerUnsigned => "sync.answer_unsigned",
            SyncError::AnswerForged => "sync.answer_forged",
            SyncError::RegistryKeyMismatch { .. } => "sync.registry_key_mismatch",
            SyncError::RegistryKeyExpired { .. } => "sync.registry_key_expired",
            SyncError::RegistryTimeAhead { .. } => "sync.registry_time_ahead",
            SyncError::RegistryBehind { .. } => "sync.registry_behind",
        }
    }

    /// Whether trying again later may succeed (the network, an overloaded or
    /// restarting registry), as opposed to a refusal that will repeat.
    pub fn retryable(&self) -> bool {
        match self {
            SyncError::Unreachable { .. } | SyncError::BadAnswer { .. } => true,
            SyncError::Refused { status, code, .. } => {
                (*status == 429 || *status >= 500) && code != "registry.reconciling" && !code.starts_with("allocate.")
            }
            _ => false,
        }
    }

    /// Whether this is a refusal (exit 1) rather than a machine or network
    /// problem (exit 2). An answer the desk refuses to believe is the
    /// latter: the operator looks at the network or the registry.
    pub fn is_refusal(&self) -> bool {
        matches!(self, SyncError::Training | SyncError::Refused { .. } | SyncError::EnrolmentCodeFormat)
    }

    /// Whether the desk refused to believe the answer (audited as
    /// `registry.answer_refused`).
    pub fn is_untrusted(&self) -> bool {
        matches!(
            self,
            SyncError::AnswerUnsigned
                | SyncError::AnswerForged
                | SyncError::RegistryKeyMismatch { .. }
                | SyncError::RegistryKeyExpired { .. }
                | SyncError::RegistryTimeAhead { .. }
        )
    }

    pub fn message(&self, lang: Lang) -> String {
        let key = format!("{}.error", self.code());
        match self {
            SyncError::Training
            | SyncError::NotEnrolled
            | SyncError::EnrolmentCodeFormat
            | SyncError::AnswerUnsigned
            | SyncError::AnswerForged => i18n::render(lang, &key, &[]),
            SyncError::BadUrl { url } | SyncError::InsecureUrl { url } => i18n::render(lang, &key, &[("url", url)]),
            SyncError::Unreachable { detail } | SyncError::BadAnswer { detail } => {
                i18n::render(lang, &key, &[("detail", detail)])
            }
            SyncError::Refused { status, code, .. } => {
                let problem_key = format!("protocol.problem.{code}");
                let text = i18n::text(lang, &problem_key);
                let problem = if text == problem_key { code.as_str() } else { text };
                i18n::render(lang, &key, &[("status", &status.to_string()), ("problem", problem)])
            }
            SyncError::RegistryKeyMismatch { fingerprint } => {
                i18n::render(lang, &key, &[("fingerprint", &trust::group_code(fingerprint))])
            }
            SyncError::RegistryKeyExpired { until } => i18n::render(lang, &key, &[("until", &timestamp(*until))]),
            SyncError::RegistryTimeAhead { registry_time } => {
                i18n::render(lang, &key, &[("registry_time", &timestamp(*registry_time))])
            }
            SyncError::RegistryBehind { seen, answered } => {
                i18n::render(lang, &key, &[("seen", &seen.to_string()), ("answered", &answered.to_string())])
            }
        }
    }
}
