//! gantry-metrics: the metrics providers canary analysis reads — today a
//! client of the Prometheus HTTP API (`/api/v1/query_range` and
//! `/api/v1/query`), implementing the runtime's [`MetricsBackend`].
//!
//! Prometheus answers every query with a JSON envelope: `status` `success`
//! and a `data` of `resultType` `matrix`, `vector`, `scalar` or `string`, or
//! `status` `error` with an `errorType` (`bad_data` for a query that does
//! not parse, `execution`, `timeout`, `canceled`, …) and an `error` message.
//! This crate turns the first into [`MetricSeries`] (NaN and ±Inf kept as
//! Prometheus wrote them) and the second into a [`MetricsError`] that names
//! the query, the provider and what Prometheus said. Credentials (a bearer
//! token or basic auth, read from environment variables the pipeline names)
//! stay inside [`Auth`], whose `Debug` shows none of them, and never appear
//! in an error. It must not pick which provider a call goes to (the
//! runtime's `metrics` capability does) nor judge what the numbers mean.

mod answer;
mod client;

pub use answer::parse_answer;
pub use client::{Auth, Prometheus, DEFAULT_TIMEOUT};
pub use gantry_runtime::{MetricSample, MetricSeries};

/// Why a query got no series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// The provider's configuration is unusable (bad URL, missing variable).
    #[error("metrics provider: {0}")]
    Config(String),
    /// Nothing answered at the provider's address.
    #[error("prometheus at {url} cannot be reached: {reason} (is it running, and is the pipeline's `metrics.prometheus` right?)")]
    Unreachable { url: String, reason: String },
    /// No complete answer within the timeout.
    #[error("prometheus at {url} did not answer `{query}` within {timeout_ms} ms (raise `metrics.timeout`, or narrow the query)")]
    Timeout { url: String, query: String, timeout_ms: u64 },
    /// Prometheus refused the query as malformed (`bad_data`).
    #[error("prometheus at {url} refused the query `{query}`: {message} (fix the PromQL)")]
    BadQuery { url: String, query: String, message: String },
    /// Prometheus accepted the query but could not run it (`execution`, `timeout`, `canceled`, `internal`, …).
    #[error("prometheus at {url} could not run `{query}` ({error_type}): {message}")]
    Execution { url: String, query: String, error_type: String, message: String },
    /// Credentials refused (401/403).
    #[error("prometheus at {url} refused the credentials (HTTP {status}): check the variables named by `metrics.token-env` or `username-env`/`password-env`")]
    Auth { url: String, status: u16 },
    /// An answer that is not the Prometheus API's.
    #[error("prometheus at {url} answered `{query}` with something that is not a Prometheus API answer (HTTP {status}): {reason}")]
    Malformed { url: String, query: String, status: u16, reason: String },
}

impl MetricsError {
    /// The runtime's error kind for this error.
    pub fn kind(&self) -> gantry_runtime::cluster::BackendErrorKind {
        use gantry_runtime::cluster::BackendErrorKind as K;
        match self {
            MetricsError::Config(_) | MetricsError::Auth { .. } | MetricsError::Malformed { .. } => K::Failed,
            MetricsError::Unreachable { .. } => K::Unavailable,
            MetricsError::Timeout { .. } => K::Timeout,
            MetricsError::BadQuery { .. } => K::Invalid,
            MetricsError::Execution { error_type, .. } if error_type == "timeout" || error_type == "canceled" => K::Timeout,
            MetricsError::Execution { error_type, .. } if error_type == "unavailable" => K::Unavailable,
            MetricsError::Execution { .. } => K::Failed,
        }
    }
}

impl From<MetricsError> for gantry_runtime::cluster::BackendError {
    fn from(e: MetricsError) -> Self {
        gantry_runtime::cluster::BackendError::new(e.kind(), e.to_string())
    }
}
