//! The Prometheus HTTP API client: POSTs form-encoded `query`, `start`,
//! `end`, `step` (or `time`) to `/api/v1/query_range` and `/api/v1/query`
//! under the provider's base URL, over HTTP/1.1 or HTTPS against the system
//! roots, with optional bearer or basic credentials and a per-query timeout
//! (also sent as Prometheus' own `timeout` parameter, so the server stops
//! too). It must not print or log credentials, nor retry a query that
//! Prometheus refused.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::answer::parse_answer;
use crate::{MetricSeries, MetricsError};

/// Per query, unless the pipeline says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (a range query over many series can be large).
const MAX_ANSWER: usize = 64 << 20;

use gantry_runtime::connector::Https;
type HttpClient = Arc<Client<Https, Full<Bytes>>>;

/// Credentials for the provider. `Debug` shows the kind only.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Bearer(String),
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
            Auth::Basic { .. } => f.write_str("Auth::Basic(<redacted>)"),
        }
    }
}

impl Auth {
    /// Credentials from the variables the pipeline names: `token_env` (bearer),
    /// or `username_env` and `password_env` (basic); None when none is named.
    /// `lookup` reads a variable (the process environment, or a test's map).
    pub fn from_env(token_env: Option<&str>, username_env: Option<&str>, password_env: Option<&str>, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Auth>, MetricsError> {
        let read = |name: &str| lookup(name).filter(|v| !v.is_empty()).ok_or_else(|| MetricsError::Config(format!("the variable `{name}` the pipeline names for Prometheus credentials is not set (export it, or remove the `*-env` line)")));
        match (token_env, username_env, password_env) {
            (Some(t), None, None) => Ok(Some(Auth::Bearer(read(t)?))),
            (None, Some(u), Some(p)) => Ok(Some(Auth::Basic { username: read(u)?, password: read(p)? })),
            (None, None, None) => Ok(None),
            _ => Err(MetricsError::Config("give either a bearer token variable or both basic-auth variables".into())),
        }
    }

    fn header(&self) -> String {
        match self {
            Auth::Bearer(t) => format!("Bearer {t}"),
            Auth::Basic { username, password } => format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))),
        }
    }
}

/// One Prometheus server.
#[derive(Clone)]
pub struct Prometheus {
    /// Without a trailing `/`.
    base: String,
    auth: Option<Auth>,
    timeout: Duration,
    client: HttpClient,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus").field("base", &self.base).field("auth", &self.auth).field("timeout", &self.timeout).finish()
    }
}

/// The process's one connector (TLS set up once).
fn client() -> Result<HttpClient, MetricsError> {
    static CLIENT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let connector = gantry_runtime::connector::https_or_http("Prometheus")?;
            Ok(Arc::new(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector)))
        })
        .clone()
        .map_err(MetricsError::Config)
}

/// Seconds since the epoch as Prometheus reads them, to the millisecond.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl Prometheus {
    /// A client of the Prometheus at `url` (`http(s)://host:port[/prefix]`).
    pub fn new(url: &str, auth: Option<Auth>, timeout: Duration) -> Result<Prometheus, MetricsError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let uri: http::Uri = base.parse().map_err(|e| MetricsError::Config(format!("`{base}` is not a URL: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(MetricsError::Config(format!("`{base}` is not an http:// or https:// URL")));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(MetricsError::Config(format!("`{}` carries credentials in the URL; pass them as `Auth`", uri.host().unwrap_or(""))));
        }
        Ok(Prometheus { base, auth, timeout, client: client()? })
    }

    /// The base URL (never with credentials).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `query` over [start, end] (ms since the epoch) every `step_ms`.
    pub async fn query_range(&self, query: &str, start_ms: u64, end_ms: u64, step_ms: u64) -> Result<Vec<MetricSeries>, MetricsError> {
        // Float seconds: Prometheus reads `1.000` as a step, not `1.000s`.
        let step = seconds(step_ms.max(1));
        self.post("query_range", query, &[("start", seconds(start_ms)), ("end", seconds(end_ms)), ("step", step)]).await
    }

    /// `query` at `at_ms` (ms since the epoch).
    pub async fn query(&self, query: &str, at_ms: u64) -> Result<Vec<MetricSeries>, MetricsError> {
        self.post("query", query, &[("time", seconds(at_ms))]).await
    }

    async fn post(&self, endpoint: &str, query: &str, params: &[(&str, String)]) -> Result<Vec<MetricSeries>, MetricsError> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("query", query);
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.append_pair("timeout", &format!("{}ms", self.timeout.as_millis()));
            form.finish()
        };
        let url = format!("{}/api/v1/{endpoint}", self.base);
        let mut request = http::Request::post(&url).header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded").header(http::header::ACCEPT, "application/json");
        if let Some(auth) = &self.auth {
            let mut value = http::HeaderValue::from_str(&auth.header()).map_err(|_| MetricsError::Config("the Prometheus credentials hold characters a header cannot carry".into()))?;
            value.set_sensitive(true);
            request = request.header(http::header::AUTHORIZATION, value);
        }
        let request = request.body(Full::new(Bytes::from(form))).map_err(|e| MetricsError::Config(format!("building the request to {url}: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| MetricsError::Unreachable { url: self.base.clone(), reason: cause(&e) })?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| MetricsError::Unreachable { url: self.base.clone(), reason: format!("reading the answer: {e}") })?
                .to_bytes();
            Ok::<_, MetricsError>((status, body))
        };
        let (status, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r?,
            Err(_) => return Err(MetricsError::Timeout { url: self.base.clone(), query: query.to_string(), timeout_ms: self.timeout.as_millis() as u64 }),
        };
        parse_answer(&self.base, query, status, &body)
    }
}

/// The innermost cause of a client error (`connection refused`, not `client error (Connect)`).
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

#[async_trait::async_trait]
impl gantry_runtime::MetricsBackend for Prometheus {
    fn describe(&self) -> String {
        format!("prometheus {}", self.base)
    }

    async fn query_range(&self, query: &str, start_ms: u64, end_ms: u64, step_ms: u64) -> gantry_runtime::cluster::BackendResult<Vec<MetricSeries>> {
        Prometheus::query_range(self, query, start_ms, end_ms, step_ms).await.map_err(Into::into)
    }

    async fn query(&self, query: &str, at_ms: u64) -> gantry_runtime::cluster::BackendResult<Vec<MetricSeries>> {
        Prometheus::query(self, query, at_ms).await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_named_variables_and_never_show() {
        let env = |k: &str| match k {
            "TOK" => Some("s3cret".to_string()),
            "U" => Some("me".to_string()),
            "P" => Some("pw".to_string()),
            _ => None,
        };
        let bearer = Auth::from_env(Some("TOK"), None, None, env).unwrap().unwrap();
        assert_eq!(bearer.header(), "Bearer s3cret");
        assert!(!format!("{bearer:?}").contains("s3cret"));
        let basic = Auth::from_env(None, Some("U"), Some("P"), env).unwrap().unwrap();
        assert_eq!(basic.header(), "Basic bWU6cHc=");
        assert!(!format!("{basic:?}").contains("pw"));
        let e = Auth::from_env(Some("MISSING"), None, None, env).unwrap_err();
        assert!(e.to_string().contains("`MISSING`"), "{e}");
        assert_eq!(Auth::from_env(None, None, None, env).unwrap(), None);
    }

    #[test]
    fn times_are_seconds_with_milliseconds() {
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(seconds(5), "0.005");
    }

    #[tokio::test]
    async fn urls_must_be_http_without_credentials() {
        assert!(Prometheus::new("http://127.0.0.1:9090/", None, DEFAULT_TIMEOUT).is_ok_and(|p| p.url() == "http://127.0.0.1:9090"));
        assert!(Prometheus::new("ftp://x", None, DEFAULT_TIMEOUT).is_err());
        let e = Prometheus::new("http://u:pw@x:9090", None, DEFAULT_TIMEOUT).unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}
