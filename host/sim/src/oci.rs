//! Images in real OCI registries, as a kubelet's container runtime sees
//! them: Docker's image reference grammar and normalisation ([`Reference`]:
//! `docker.io` and `library/` by default, tags, `@sha256:` digests, the
//! registry host told apart by `.`, `:` or `localhost`), the per-cluster
//! registry configuration ([`RegistryConfig`]: a host as it appears in
//! image references, mapped to a base URL on loopback, with optional basic
//! credentials or a bearer token, http or https with a CA), and resolving a
//! reference to its manifest digest over the distribution API (`HEAD
//! /v2/<repo>/manifests/<ref>`, following Basic and Bearer
//! `WWW-Authenticate` challenges), with containerd's error messages.
//!
//! It must never contact an address outside loopback (127.0.0.0/8, `::1`):
//! endpoints and token realms elsewhere are refused, and `localhost` is
//! resolved and filtered. It pulls no blobs and knows nothing of pods
//! (`controllers::pull` does).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, HOST, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};

use gantry_registry::reference::{digest_valid, domain_valid, LEGACY_DEFAULT_DOMAIN};
pub use gantry_registry::reference::{Reference, ReferenceError, DEFAULT_DOMAIN};

/// What a manifest HEAD accepts: OCI and Docker v2 indexes and manifests, as containerd asks.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, */*";
/// How long one request to a registry or token server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest manifest or token answer read.
const MAX_BODY: usize = 4 << 20;
/// How the simulated node authenticates to a registry (its containerd configuration).
#[derive(Clone, PartialEq, Eq)]
pub enum RegistryAuth {
    Anonymous,
    /// Username and password, sent on a Basic challenge and to a Bearer challenge's token realm.
    Basic { username: String, password: String },
    /// A token sent as `Authorization: Bearer` from the first request.
    Bearer(String),
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryAuth::Anonymous => write!(f, "Anonymous"),
            RegistryAuth::Basic { username, .. } => write!(f, "Basic {{ username: {username:?}, password: <redacted> }}"),
            RegistryAuth::Bearer(_) => write!(f, "Bearer(<redacted>)"),
        }
    }
}

/// A registry configuration the simulator refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryConfigError {
    #[error("registry host {0:?} is not a registry host as image references name it (host[:port], e.g. 127.0.0.1:5000)")]
    Host(String),
    #[error("registry endpoint {url:?} is not a URL: {reason}")]
    NotUrl { url: String, reason: String },
    #[error("registry endpoint {url:?} is refused: only http:// and https:// are spoken, not {scheme}://")]
    Scheme { url: String, scheme: String },
    #[error("registry endpoint {url:?} is refused: the simulator contacts registries on loopback only (127.0.0.0/8, ::1, localhost), never {host}")]
    NotLoopback { url: String, host: String },
    #[error("registry endpoint {url:?} is https but no CA was given to trust (RegistryConfig::with_ca_pem)")]
    NoCa { url: String },
    #[error("registry endpoint {url:?} is plain http; a CA only applies to https")]
    CaWithoutTls { url: String },
    #[error("the CA for registry {host:?} is not PEM certificates: {reason}")]
    Ca { host: String, reason: String },
}

/// One registry the simulated kubelet checks images against.
#[derive(Clone)]
pub struct RegistryConfig {
    /// The host as image references name it: `127.0.0.1:5000`, `localhost:5000`, `1111.dkr.ecr.eu-west-1.amazonaws.com`.
    host: String,
    endpoint: Endpoint,
    auth: RegistryAuth,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConfig").field("host", &self.host).field("endpoint", &self.endpoint.base).field("auth", &self.auth).field("tls", &self.tls.is_some()).finish()
    }
}

/// A base URL on loopback.
#[derive(Debug, Clone)]
struct Endpoint {
    https: bool,
    /// `scheme://host:port[/prefix]` without a trailing `/`.
    base: String,
}

impl Endpoint {
    fn parse(text: &str) -> Result<Endpoint, RegistryConfigError> {
        let url = url::Url::parse(text).map_err(|e| RegistryConfigError::NotUrl { url: text.to_string(), reason: e.to_string() })?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(RegistryConfigError::Scheme { url: text.to_string(), scheme: other.to_string() }),
        };
        let host = loopback_host(&url).map_err(|host| RegistryConfigError::NotLoopback { url: text.to_string(), host })?;
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        let prefix = url.path().trim_end_matches('/');
        let base = format!("{}://{host}:{port}{prefix}", url.scheme());
        Ok(Endpoint { https, base })
    }
}

/// The URL's host when it is on loopback, else the host named (for the error).
fn loopback_host(url: &url::Url) -> Result<String, String> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(ip.to_string()),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(format!("[{ip}]")),
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => Ok("localhost".to_string()),
        Some(other) => Err(other.to_string()),
        None => Err("no host".to_string()),
    }
}

impl RegistryConfig {
    /// Images named `host/...` resolve against the registry at `endpoint`
    /// (`http://127.0.0.1:5000`); any endpoint off loopback is refused.
    pub fn new(host: &str, endpoint: &str) -> Result<RegistryConfig, RegistryConfigError> {
        let host = if host == LEGACY_DEFAULT_DOMAIN { DEFAULT_DOMAIN } else { host };
        if host.is_empty() || !domain_valid(host) {
            return Err(RegistryConfigError::Host(host.to_string()));
        }
        let endpoint = Endpoint::parse(endpoint)?;
        Ok(RegistryConfig { host: host.to_string(), endpoint, auth: RegistryAuth::Anonymous, tls: None })
    }

    /// The same registry, reached with a username and password.
    pub fn with_basic(self, username: &str, password: &str) -> RegistryConfig {
        RegistryConfig { auth: RegistryAuth::Basic { username: username.to_string(), password: password.to_string() }, ..self }
    }

    /// The same registry, reached with `auth` (a pod's image pull secret, say).
    pub fn with_auth(self, auth: RegistryAuth) -> RegistryConfig {
        RegistryConfig { auth, ..self }
    }

    /// The same registry, reached with a bearer token.
    pub fn with_bearer(self, token: &str) -> RegistryConfig {
        RegistryConfig { auth: RegistryAuth::Bearer(token.to_string()), ..self }
    }

    /// The same registry over https, trusting the certificates in `ca_pem`.
    pub fn with_ca_pem(self, ca_pem: &str) -> Result<RegistryConfig, RegistryConfigError> {
        if !self.endpoint.https {
            return Err(RegistryConfigError::CaWithoutTls { url: self.endpoint.base.clone() });
        }
        let ca_err = |reason: String| RegistryConfigError::Ca { host: self.host.clone(), reason };
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no CERTIFICATE block".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ca_err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(RegistryConfig { tls: Some(Arc::new(config)), ..self })
    }

    /// The host image references name this registry by.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The base URL it is reached at.
    pub fn endpoint(&self) -> &str {
        &self.endpoint.base
    }

    /// Whether the configuration can be used as it is (an https endpoint needs its CA).
    pub fn validate(&self) -> Result<(), RegistryConfigError> {
        if self.endpoint.https && self.tls.is_none() {
            return Err(RegistryConfigError::NoCa { url: self.endpoint.base.clone() });
        }
        Ok(())
    }

    /// The digest of `reference`'s manifest (or index) in this registry.
    pub async fn resolve(&self, reference: &Reference) -> Result<String, PullError> {
        let url = format!("{}/v2/{}/manifests/{}", self.endpoint.base, reference.path, reference.manifest_ref());
        let mut authorization = match &self.auth {
            RegistryAuth::Bearer(token) => Some(format!("Bearer {token}")),
            _ => None,
        };
        let mut answered_challenge = false;
        loop {
            let head = self.send(Method::HEAD, &url, authorization.as_deref(), Some(MANIFEST_ACCEPT)).await?;
            match head.status {
                StatusCode::OK => return self.digest_of(reference, &url, authorization.as_deref(), &head.headers).await,
                StatusCode::NOT_FOUND => return Err(PullError::NotFound),
                StatusCode::UNAUTHORIZED if !answered_challenge => {
                    answered_challenge = true;
                    let challenge = head.headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).and_then(Challenge::parse);
                    authorization = match challenge {
                        Some(Challenge::Basic) => match &self.auth {
                            RegistryAuth::Basic { username, password } => Some(basic(username, password)),
                            _ => return Err(PullError::Status { method: "HEAD", url, status: head.status }),
                        },
                        Some(Challenge::Bearer { realm, service, scope }) => {
                            let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", reference.path));
                            Some(format!("Bearer {}", self.fetch_token(&realm, service.as_deref(), &scope).await?))
                        }
                        None => return Err(PullError::Status { method: "HEAD", url, status: head.status }),
                    };
                }
                status => return Err(PullError::Status { method: "HEAD", url, status }),
            }
        }
    }

    /// The digest a HEAD answered with (`Docker-Content-Digest`), else the
    /// one asked for, else the SHA-256 of the manifest fetched with GET.
    async fn digest_of(&self, reference: &Reference, url: &str, authorization: Option<&str>, headers: &HeaderMap) -> Result<String, PullError> {
        if let Some(d) = headers.get("docker-content-digest").and_then(|v| v.to_str().ok()).filter(|d| digest_valid(d).is_ok()) {
            return Ok(d.to_string());
        }
        if let Some(d) = &reference.digest {
            return Ok(d.clone());
        }
        let get = self.send(Method::GET, url, authorization, Some(MANIFEST_ACCEPT)).await?;
        if get.status != StatusCode::OK {
            return Err(PullError::Status { method: "GET", url: url.to_string(), status: get.status });
        }
        Ok(format!("sha256:{}", hex::encode(Sha256::digest(&get.body))))
    }

    /// A token from a Bearer challenge's realm (`GET realm?service=...&scope=...`), with the basic credentials if any.
    async fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String, PullError> {
        let mut url = url::Url::parse(realm).map_err(|e| PullError::Token { detail: format!("the token realm {realm:?} is not a URL: {e}") })?;
        loopback_host(&url).map_err(|host| PullError::Refused { url: realm.to_string(), host })?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("scope", scope);
            if let Some(s) = service {
                query.append_pair("service", s);
            }
        }
        let (authorization, kind) = match &self.auth {
            RegistryAuth::Basic { username, password } => (Some(basic(username, password)), "oauth"),
            _ => (None, "anonymous"),
        };
        let answer = self.send(Method::GET, url.as_str(), authorization.as_deref(), Some("application/json")).await?;
        if answer.status != StatusCode::OK {
            return Err(PullError::Token { detail: format!("failed to fetch {kind} token: unexpected status from GET request to {url}: {}", status_text(answer.status)) });
        }
        let json: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|e| PullError::Token { detail: format!("failed to fetch {kind} token: the answer of {url} is not JSON: {e}") })?;
        json["token"]
            .as_str()
            .or(json["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .map(String::from)
            .ok_or_else(|| PullError::Token { detail: format!("failed to fetch {kind} token: the answer of {url} has no token") })
    }

    /// One HTTP/1.1 exchange with a loopback URL (the endpoint or a token realm).
    async fn send(&self, method: Method, url: &str, authorization: Option<&str>, accept: Option<&str>) -> Result<Answer, PullError> {
        let verb = if method == Method::HEAD { "Head" } else { "Get" };
        let failed = |detail: String| PullError::Request { detail: format!("{verb} {url:?}: {detail}") };
        let parsed = url::Url::parse(url).map_err(|e| failed(e.to_string()))?;
        let host = loopback_host(&parsed).map_err(|host| PullError::Refused { url: url.to_string(), host })?;
        let https = parsed.scheme() == "https";
        let port = parsed.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        let target = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        let host_header = if parsed.port().is_some() { format!("{host}:{port}") } else { host.clone() };
        let mut builder = Request::builder().method(method.clone()).uri(target).header(HOST, host_header).header("user-agent", "gantry-sim-kubelet");
        if let Some(a) = accept {
            builder = builder.header(ACCEPT, a);
        }
        if let Some(a) = authorization {
            let mut value = HeaderValue::from_str(a).map_err(|e| failed(format!("credentials unusable in a header: {e}")))?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        let request = builder.body(Empty::<Bytes>::new()).map_err(|e| failed(e.to_string()))?;
        let exchange = async {
            let tcp = connect(&host, port).await?;
            let read = |e: hyper::Error| format!("{e}");
            let response = if https {
                let tls = self.tls.clone().ok_or_else(|| format!("tls: no CA configured for {}", self.host))?;
                let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string()).map_err(|e| format!("tls: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await.map_err(|e| format!("tls: {e}"))?;
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(read)?;
                tokio::spawn(conn);
                sender.send_request(request).await.map_err(read)?
            } else {
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(read)?;
                tokio::spawn(conn);
                sender.send_request(request).await.map_err(read)?
            };
            let (parts, body) = response.into_parts();
            let body = if method == Method::HEAD {
                Bytes::new()
            } else {
                Limited::new(body, MAX_BODY).collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes()
            };
            Ok::<_, String>(Answer { status: parts.status, headers: parts.headers, body })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(detail)) => Err(failed(detail)),
            Err(_) => Err(failed("context deadline exceeded".into())),
        }
    }
}

/// The credentials for registry `domain` in a Docker config (`.dockerconfigjson`'s
/// `{"auths": {...}}` or the legacy `.dockercfg` map), as the kubelet's
/// keyring reads image pull secrets: keys are hosts, optionally with a
/// scheme and path (`https://index.docker.io/v1/` names `docker.io`), each
/// with `auth` (base64 `user:password`) or `username` and `password`, or an
/// `identitytoken`/`registrytoken` sent as a bearer token.
pub fn docker_config_auth(config: &serde_json::Value, domain: &str) -> Option<RegistryAuth> {
    let auths = config.get("auths").unwrap_or(config).as_object()?;
    let host_of = |key: &str| {
        let bare = key.split_once("://").map_or(key, |(_, rest)| rest);
        let host = bare.split('/').next().unwrap_or("").to_ascii_lowercase();
        if host == LEGACY_DEFAULT_DOMAIN || host == "registry-1.docker.io" {
            DEFAULT_DOMAIN.to_string()
        } else {
            host
        }
    };
    let entry = auths.iter().find(|(key, _)| host_of(key) == domain.to_ascii_lowercase()).map(|(_, v)| v)?;
    let text = |k: &str| entry[k].as_str().filter(|v| !v.is_empty());
    if let (Some(username), Some(password)) = (text("username"), text("password")) {
        return Some(RegistryAuth::Basic { username: username.to_string(), password: password.to_string() });
    }
    if let Some(decoded) = text("auth").and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok()).and_then(|b| String::from_utf8(b).ok()) {
        if let Some((username, password)) = decoded.split_once(':') {
            return Some(RegistryAuth::Basic { username: username.to_string(), password: password.to_string() });
        }
    }
    text("registrytoken").or(text("identitytoken")).map(|t| RegistryAuth::Bearer(t.to_string()))
}

/// Connects to `host:port` on loopback only, in Go's words on failure.
async fn connect(host: &str, port: u16) -> Result<tokio::net::TcpStream, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port)).await.map_err(|e| format!("dial tcp: lookup {bare}: {e}"))?.collect(),
    };
    let mut last = format!("dial tcp {host}:{port}: no loopback address");
    for addr in addrs.into_iter().filter(|a| a.ip().is_loopback()) {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => last = format!("dial tcp {addr}: connect: connection refused"),
            Err(e) => last = format!("dial tcp {addr}: connect: {e}"),
        }
    }
    Err(last)
}

fn basic(username: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")))
}

/// `401 Unauthorized`, as Go's `resp.Status` prints it.
fn status_text(status: StatusCode) -> String {
    format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

impl Challenge {
    /// `Basic realm="r"` or `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas).
    fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = std::collections::HashMap::new();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                chars.next();
            }
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
            if key.is_empty() {
                break;
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                value = chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_string();
            }
            params.insert(key, value);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer { realm: params.remove("realm")?, service: params.remove("service"), scope: params.remove("scope") }),
            _ => None,
        }
    }
}

/// Why an image could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    /// 404: no such manifest (MANIFEST_UNKNOWN) or repository (NAME_UNKNOWN).
    #[error("not found")]
    NotFound,
    /// Any other answer than 200 or 404, including 401 when the credentials did not do.
    #[error("unexpected status from {method} request to {url}: {}", status_text(*.status))]
    Status { method: &'static str, url: String, status: StatusCode },
    /// The token realm of a Bearer challenge did not give a token.
    #[error("failed to authorize: {detail}")]
    Token { detail: String },
    /// The registry could not be reached or did not answer.
    #[error("failed to do request: {detail}")]
    Request { detail: String },
    /// The registry pointed somewhere the simulator never goes.
    #[error("refusing to contact {url}: the simulator reaches registries on loopback only (127.0.0.0/8, ::1, localhost), never {host}")]
    Refused { url: String, host: String },
}

impl PullError {
    /// Whether the registry turned the node's credentials (or their absence) down.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, PullError::Token { .. }) || matches!(self, PullError::Status { status, .. } if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN)
    }

    /// The error the kubelet reports from containerd's CRI for `reference`
    /// (the ErrImagePull message and the text of the `Failed` event).
    pub fn kubelet_message(&self, reference: &Reference) -> String {
        let full = reference.to_string();
        let (code, inner) = match self {
            PullError::NotFound => ("NotFound", format!("{full}: not found")),
            other => ("Unknown", other.to_string()),
        };
        format!("rpc error: code = {code} desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {inner}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_accepted() {
        for ok in ["http://127.0.0.1:5000", "http://127.9.9.9:80/", "https://localhost:5443", "http://[::1]:5000", "http://localhost:5000/mirror/"] {
            RegistryConfig::new("127.0.0.1:5000", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for refused in ["http://10.0.0.1:5000", "http://registry.example.com", "http://0.0.0.0:5000", "https://169.254.169.254/", "http://[::ffff:8.8.8.8]/"] {
            let err = RegistryConfig::new("127.0.0.1:5000", refused).unwrap_err();
            assert!(matches!(err, RegistryConfigError::NotLoopback { .. }), "{refused}: {err}");
            assert!(err.to_string().contains("loopback only"), "{err}");
        }
        assert!(matches!(RegistryConfig::new("127.0.0.1:5000", "ftp://127.0.0.1/").unwrap_err(), RegistryConfigError::Scheme { .. }));
        assert!(matches!(RegistryConfig::new("not a host", "http://127.0.0.1:5000").unwrap_err(), RegistryConfigError::Host(_)));
        let https = RegistryConfig::new("localhost:5443", "https://localhost:5443").unwrap();
        assert!(matches!(https.validate().unwrap_err(), RegistryConfigError::NoCa { .. }));
        assert!(matches!(https.with_ca_pem("not pem").unwrap_err(), RegistryConfigError::Ca { .. }));
        let plain = RegistryConfig::new("localhost:5000", "http://localhost:5000").unwrap();
        assert!(matches!(plain.with_ca_pem("").unwrap_err(), RegistryConfigError::CaWithoutTls { .. }));
        let secret = RegistryConfig::new("localhost:5000", "http://localhost:5000").unwrap().with_basic("u", "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"), "credentials never print");
    }

    #[test]
    fn docker_configs_give_the_credentials_of_their_host() {
        let config = serde_json::json!({"auths": {
            "127.0.0.1:5000": {"auth": base64::engine::general_purpose::STANDARD.encode("u:p:w")},
            "https://index.docker.io/v1/": {"username": "hub", "password": "pw"},
            "ghcr.io": {"identitytoken": "tok"},
        }});
        let basic = |u: &str, p: &str| Some(RegistryAuth::Basic { username: u.into(), password: p.into() });
        assert_eq!(docker_config_auth(&config, "127.0.0.1:5000"), basic("u", "p:w"));
        assert_eq!(docker_config_auth(&config, "docker.io"), basic("hub", "pw"));
        assert_eq!(docker_config_auth(&config, "ghcr.io"), Some(RegistryAuth::Bearer("tok".into())));
        assert_eq!(docker_config_auth(&config, "localhost:5000"), None);
        let legacy = serde_json::json!({"localhost:5000": {"username": "a", "password": "b"}});
        assert_eq!(docker_config_auth(&legacy, "localhost:5000"), basic("a", "b"));
    }

    #[test]
    fn challenges_parse_with_quoted_commas() {
        assert_eq!(Challenge::parse("Basic realm=\"r\""), Some(Challenge::Basic));
        let bearer = "Bearer realm=\"http://127.0.0.1:9/token\",service=\"registry\",scope=\"repository:a/b:pull,push\"";
        assert_eq!(
            Challenge::parse(bearer),
            Some(Challenge::Bearer { realm: "http://127.0.0.1:9/token".into(), service: Some("registry".into()), scope: Some("repository:a/b:pull,push".into()) })
        );
        assert_eq!(Challenge::parse("Bearer service=\"x\""), None, "a bearer challenge needs a realm");
    }

    #[test]
    fn errors_read_as_containerd_reports_them() {
        let r = Reference::parse("127.0.0.1:5000/app:missing").unwrap();
        assert_eq!(
            PullError::NotFound.kubelet_message(&r),
            "rpc error: code = NotFound desc = failed to pull and unpack image \"127.0.0.1:5000/app:missing\": failed to resolve reference \"127.0.0.1:5000/app:missing\": 127.0.0.1:5000/app:missing: not found"
        );
        let denied = PullError::Status { method: "HEAD", url: "http://127.0.0.1:5000/v2/app/manifests/1".into(), status: StatusCode::UNAUTHORIZED };
        assert!(denied.is_unauthorized());
        assert!(denied.kubelet_message(&r).ends_with("unexpected status from HEAD request to http://127.0.0.1:5000/v2/app/manifests/1: 401 Unauthorized"));
    }

    #[tokio::test]
    async fn an_unreachable_registry_fails_with_the_connection_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let registry = RegistryConfig::new("127.0.0.1:5000", &format!("http://127.0.0.1:{port}")).unwrap();
        let r = Reference::parse("127.0.0.1:5000/app:1").unwrap();
        let err = registry.resolve(&r).await.unwrap_err();
        assert_eq!(err.to_string(), format!("failed to do request: Head \"http://127.0.0.1:{port}/v2/app/manifests/1\": dial tcp 127.0.0.1:{port}: connect: connection refused"));
    }

    #[tokio::test]
    async fn a_token_realm_off_loopback_is_never_contacted() {
        let registry = RegistryConfig::new("127.0.0.1:5000", "http://127.0.0.1:5000").unwrap();
        let err = registry.fetch_token("https://auth.example.com/token", Some("registry"), "repository:app:pull").await.unwrap_err();
        assert!(matches!(err, PullError::Refused { .. }), "{err}");
    }
}
