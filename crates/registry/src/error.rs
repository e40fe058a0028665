//! The registry's one error type. Every refusal has a stable code and an
//! HTTP status and leaves the service as `application/problem+json`
//! ([`skranke_protocol::Problem`]), one shape for every endpoint.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use skranke_protocol::Problem;
use skranke_rules::i18n::{self, Lang};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A request the registry refuses, with a stable code (`auth.signature`,
    /// `lease.retired`, …) and optional detail (never personal data).
    #[error("{code}{}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused { status: StatusCode, code: &'static str, detail: Option<String> },
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration: {0}")]
    Config(String),
    /// The registry's key file or environment (`crate::key`): `code` names
    /// the catalog text `registry.key.<code>`, `args` fill it.
    #[error("registry key: {code}")]
    Key { code: &'static str, args: Vec<(&'static str, String)> },
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl RegistryError {
    pub fn refused(status: StatusCode, code: &'static str) -> RegistryError {
        RegistryError::Refused { status, code, detail: None }
    }

    pub fn refused_with(status: StatusCode, code: &'static str, detail: impl Into<String>) -> RegistryError {
        RegistryError::Refused { status, code, detail: Some(detail.into()) }
    }

    /// 400 with the name of the offending field as detail.
    pub fn bad_field(field: &str) -> RegistryError {
        RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.field", field)
    }

    /// 401: the one answer for every authentication failure, so a caller
    /// learns nothing about which part was wrong from the status alone.
    pub fn unauthorized(code: &'static str) -> RegistryError {
        RegistryError::refused(StatusCode::UNAUTHORIZED, code)
    }

    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Refused { code, .. } => code,
            RegistryError::Database(_) | RegistryError::Pool(_) => "internal.database",
            RegistryError::Io { .. } | RegistryError::Config(_) | RegistryError::Key { .. } => "internal.error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            RegistryError::Refused { status, .. } => *status,
            RegistryError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let code = self.code();
        let detail = match self {
            RegistryError::Refused { detail, .. } => detail.clone(),
            // Internal details stay in the log.
            _ => None,
        };
        Problem {
            kind: format!("urn:skranke:problem:{code}"),
            title: i18n::text(Lang::En, &format!("protocol.problem.{code}")).to_string(),
            status: self.status().as_u16(),
            code: code.to_string(),
            detail,
        }
    }

    /// What the service log may say about this error: the code, and for a
    /// database error only what [`crate::logging::database_error`] keeps.
    pub fn loggable(&self) -> String {
        match self {
            RegistryError::Database(e) => crate::logging::database_error(e),
            RegistryError::Pool(deadpool_postgres::PoolError::Backend(e)) => crate::logging::database_error(e),
            RegistryError::Pool(_) => "database pool".into(),
            RegistryError::Refused { code, .. } => (*code).into(),
            other => other.to_string(),
        }
    }

    /// The message for an operator on the host, from the catalogs.
    pub fn message(&self, lang: Lang) -> String {
        if let RegistryError::Key { code, args } = self {
            let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            return i18n::render(lang, &format!("registry.key.{code}"), &args);
        }
        let title = i18n::text(lang, &format!("protocol.problem.{}", self.code())).to_string();
        match self {
            RegistryError::Refused { detail: Some(d), .. } => format!("{title} ({d})"),
            RegistryError::Refused { .. } => title,
            other => format!("{title}: {other}"),
        }
    }
}

/// Any response body as a problem document.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(error = %self.loggable(), "request failed");
        }
        problem_response(&self.problem())
    }
}
