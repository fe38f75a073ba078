//! How the distribution client reaches a registry: which base URL a
//! registry host maps to (an override such as a simulated ECR on loopback,
//! plain http for 127.0.0.0/8, `localhost` and `[::1]` as docker treats them,
//! https with the system's roots and any extra CA otherwise), one hyper 1
//! connection pool over rustls, a per-request timeout, and redirects
//! followed for reads (registries send blob GETs to storage). It owns no
//! authentication (see [`crate::auth`]) and must not log headers: they
//! carry credentials.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::credential::Secret;

/// How a [`crate::client::Client`] connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registry host (`111122223333.dkr.ecr.eu-west-1.amazonaws.com`, `127.0.0.1:5000`)
    /// → base URL (`http://127.0.0.1:41234`, `https://registry.internal:8443`).
    pub endpoints: BTreeMap<String, String>,
    /// Extra certificate authorities (PEM), trusted beside the system's.
    pub ca_pem: Vec<Vec<u8>>,
    /// Plain http for loopback hosts without an override (docker's insecure 127.0.0.0/8).
    pub http_for_loopback: bool,
    /// How long one request may take to answer (its head), and each read of a body after.
    pub timeout: Duration,
    /// Blobs larger than this are uploaded in chunks (POST, PATCH…, PUT); smaller in one PUT.
    pub chunk_threshold: u64,
    /// The size of each PATCH.
    pub chunk_size: usize,
    /// How many blobs a push or copy moves at once.
    pub concurrency: usize,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            endpoints: BTreeMap::new(),
            ca_pem: Vec::new(),
            http_for_loopback: true,
            timeout: Duration::from_secs(60),
            chunk_threshold: 16 << 20,
            chunk_size: 16 << 20,
            concurrency: 3,
        }
    }
}

impl ClientOptions {
    /// Reach `host` at `base_url` (`http://` or `https://`, no path).
    pub fn endpoint(mut self, host: &str, base_url: &str) -> ClientOptions {
        self.endpoints.insert(host.to_string(), base_url.trim_end_matches('/').to_string());
        self
    }

    /// Trust this CA (PEM) too.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> ClientOptions {
        self.ca_pem.push(pem.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ClientOptions {
        self.timeout = timeout;
        self
    }

    /// Upload blobs above `threshold` bytes in chunks of `chunk_size`.
    pub fn chunking(mut self, threshold: u64, chunk_size: usize) -> ClientOptions {
        self.chunk_threshold = threshold;
        self.chunk_size = chunk_size.max(1);
        self
    }

    pub fn concurrency(mut self, blobs: usize) -> ClientOptions {
        self.concurrency = blobs.max(1);
        self
    }
}

/// Why a request got no answer (the caller adds registry, repository and operation).
#[derive(Debug)]
pub(crate) enum SendError {
    /// Connection, TLS or protocol failure, in hyper's words.
    Connect(String),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The URL could not be built or a header value was refused.
    Invalid(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(m) => write!(f, "{m}"),
            SendError::Timeout(d) => write!(f, "no answer within {}s", d.as_secs_f64()),
            SendError::Invalid(m) => write!(f, "{m}"),
        }
    }
}

/// One request, rebuildable (for the retry after a 401).
#[derive(Clone)]
pub(crate) struct Outgoing {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Outgoing {
    pub fn new(method: Method, url: url::Url) -> Outgoing {
        Outgoing { method, url, headers: Vec::new(), body: Bytes::new() }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Outgoing {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Bytes) -> Outgoing {
        self.body = body;
        self
    }
}

/// The connection pool and the endpoint rules; cheap to share behind an `Arc`.
pub(crate) struct Transport {
    client: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    pub options: ClientOptions,
}

/// Whether `host` (with or without a port) is a loopback name or address.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    if name == "localhost" {
        return true;
    }
    name.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

impl Transport {
    pub fn new(options: ClientOptions) -> Result<Transport, String> {
        let mut roots = rustls::RootCertStore::empty();
        // The system's roots; a machine without any still reaches loopback and extra-CA registries.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for (i, pem) in options.ca_pem.iter().enumerate() {
            let mut found = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("extra CA #{}: not PEM certificates ({e}); give the CA's PEM file", i + 1))?;
                roots.add(cert).map_err(|e| format!("extra CA #{}: {e}", i + 1))?;
                found += 1;
            }
            if found == 0 {
                return Err(format!("extra CA #{}: no certificate in the PEM; give the CA's PEM file (BEGIN CERTIFICATE)", i + 1));
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().enable_http2().build();
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Ok(Transport { client, options })
    }

    /// The base URL of a registry host: its override, http for loopback, else https.
    pub fn base_url(&self, registry: &str) -> String {
        if let Some(base) = self.options.endpoints.get(registry) {
            return base.clone();
        }
        if self.options.http_for_loopback && is_loopback(registry) {
            format!("http://{registry}")
        } else {
            format!("https://{registry}")
        }
    }

    /// `base/v2/<path>` for a registry.
    pub fn url(&self, registry: &str, path: &str) -> Result<url::Url, SendError> {
        let text = format!("{}/v2/{path}", self.base_url(registry));
        url::Url::parse(&text).map_err(|e| SendError::Invalid(format!("URL {text}: {e}")))
    }

    /// A URL the registry gave (a token realm): sent to the override when its host has one.
    pub fn rewrite(&self, url: &url::Url) -> url::Url {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return url.clone(),
        };
        match self.options.endpoints.get(&host).and_then(|base| url::Url::parse(base).ok()) {
            Some(base) => {
                let mut out = url.clone();
                let _ = out.set_scheme(base.scheme());
                let _ = out.set_host(base.host_str());
                let _ = out.set_port(base.port());
                out
            }
            None => url.clone(),
        }
    }

    /// Sends one request; `authorization` is put in its header only.
    pub async fn send(&self, outgoing: &Outgoing, authorization: Option<&Secret>) -> Result<Response<Incoming>, SendError> {
        let mut builder = Request::builder().method(outgoing.method.clone()).uri(outgoing.url.as_str()).header("user-agent", concat!("gantry/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &outgoing.headers {
            builder = builder.header(*name, value);
        }
        if let Some(secret) = authorization {
            let mut value = hyper::header::HeaderValue::from_str(secret.expose()).map_err(|_| SendError::Invalid("an authorization header value with invalid characters".to_string()))?;
            value.set_sensitive(true);
            builder = builder.header(hyper::header::AUTHORIZATION, value);
        }
        let request = builder.body(Full::new(outgoing.body.clone())).map_err(|e| SendError::Invalid(format!("request {} {}: {e}", outgoing.method, outgoing.url)))?;
        tracing::debug!(method = %outgoing.method, url = %outgoing.url, bytes = outgoing.body.len(), "registry request");
        match tokio::time::timeout(self.options.timeout, self.client.request(request)).await {
            Err(_) => Err(SendError::Timeout(self.options.timeout)),
            Ok(Err(e)) => Err(SendError::Connect(format!("{}: {}", origin(&outgoing.url), error_chain(&e)))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Sends a GET or HEAD and follows up to five redirects; the authorization
    /// goes only to the registry's own host, never to the storage redirected to.
    pub async fn send_following(&self, outgoing: &Outgoing, authorization: Option<&Secret>) -> Result<Response<Incoming>, SendError> {
        let mut current = outgoing.clone();
        let origin = (outgoing.url.host_str().map(str::to_string), outgoing.url.port_or_known_default());
        for _ in 0..6 {
            let same_origin = (current.url.host_str().map(str::to_string), current.url.port_or_known_default()) == origin;
            let response = self.send(&current, if same_origin { authorization } else { None }).await?;
            if !matches!(response.status(), StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER | StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT) {
                return Ok(response);
            }
            let Some(location) = response.headers().get(hyper::header::LOCATION).and_then(|v| v.to_str().ok()) else { return Ok(response) };
            let next = current.url.join(location).map_err(|e| SendError::Invalid(format!("redirect to {location}: {e}")))?;
            tracing::debug!(from = %current.url, to = %next.host_str().unwrap_or(""), "registry redirect");
            current.url = next;
            // Storage redirects carry their own signature in the URL; registry headers stay.
            if !same_origin {
                current.headers.retain(|(n, _)| *n != "accept");
            }
        }
        Err(SendError::Connect(format!("more than five redirects from {}", outgoing.url)))
    }

    /// Reads a whole body, at most `limit` bytes, each read within the timeout.
    pub async fn read_body(&self, mut body: Incoming, limit: usize) -> Result<Bytes, SendError> {
        let mut out = bytes::BytesMut::new();
        loop {
            match self.next_chunk(&mut body).await? {
                None => return Ok(out.freeze()),
                Some(chunk) => {
                    if out.len() + chunk.len() > limit {
                        return Err(SendError::Invalid(format!("a body larger than {limit} bytes")));
                    }
                    out.extend_from_slice(&chunk);
                }
            }
        }
    }

    /// The next data of a body, within the timeout; `None` at its end.
    pub async fn next_chunk(&self, body: &mut Incoming) -> Result<Option<Bytes>, SendError> {
        loop {
            match tokio::time::timeout(self.options.timeout, body.frame()).await {
                Err(_) => return Err(SendError::Timeout(self.options.timeout)),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(SendError::Connect(error_chain(&e))),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// `scheme://host:port` of a URL: where a request went, without its path or query.
fn origin(url: &url::Url) -> String {
    match url.port() {
        Some(port) => format!("{}://{}:{port}", url.scheme(), url.host_str().unwrap_or("")),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or("")),
    }
}

/// An error and its sources, joined: hyper's top-level messages say little alone.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The header's value as text, when present and printable.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised_with_or_without_a_port() {
        for host in ["127.0.0.1:5000", "127.1.2.3", "localhost:5000", "localhost", "[::1]:5000", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["10.0.0.1:5000", "registry.example.com", "111122223333.dkr.ecr.eu-west-1.amazonaws.com", "localhost.example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[tokio::test]
    async fn overrides_then_loopback_then_https() {
        let t = Transport::new(ClientOptions::default().endpoint("111122223333.dkr.ecr.eu-west-1.amazonaws.com", "http://127.0.0.1:41234/")).unwrap();
        assert_eq!(t.base_url("111122223333.dkr.ecr.eu-west-1.amazonaws.com"), "http://127.0.0.1:41234");
        assert_eq!(t.base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(t.base_url("ghcr.io"), "https://ghcr.io");
        let realm = url::Url::parse("https://111122223333.dkr.ecr.eu-west-1.amazonaws.com/token?x=1").unwrap();
        assert_eq!(t.rewrite(&realm).as_str(), "http://127.0.0.1:41234/token?x=1");
        let err = Transport::new(ClientOptions::default().ca_pem("not a pem")).err().unwrap();
        assert!(err.contains("no certificate"), "{err}");
    }
}
