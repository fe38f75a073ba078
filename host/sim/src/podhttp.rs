//! How a simulated pod answers HTTP: the status, body, per-path answers,
//! latency and error rate its annotations or its image's rule configure
//! (names in `controllers::behavior`, annotations winning field by field), or
//! forwarding to a real HTTP server on loopback. Every answer is counted and
//! timed in the cluster's `metrics`. Error spreading is deterministic (a
//! per-pod request counter, no randomness), so tests can count exactly.
//! This file must not find pods nor pick among them (see `proxy`), and must
//! never send traffic anywhere but 127.0.0.0/8 or ::1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::controllers::behavior::{
    parse_duration, ImageRule, HTTP_BODY, HTTP_ERROR_RATE, HTTP_ERROR_STATUS, HTTP_LATENCY, HTTP_PATHS, HTTP_STATUS, HTTP_UPSTREAM,
};
use crate::http::Body;
use crate::metrics::Metrics;

/// What a pod answers when nothing says otherwise.
pub const DEFAULT_BODY: &str = r#"{"status":"ok"}"#;
/// The status of an injected error when nothing says otherwise.
pub const DEFAULT_ERROR_STATUS: u16 = 500;
/// The largest upstream answer passed back.
const MAX_UPSTREAM_BODY: usize = 16 * 1024 * 1024;
/// Hang guard for one forwarded request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// A bad HTTP behaviour setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpConfigError {
    #[error("upstream {url:?} is not a URL: {reason}")]
    NotUrl { url: String, reason: String },
    #[error("upstream {url:?} is refused: only plain http:// is forwarded, not {scheme}://")]
    NotHttp { url: String, scheme: String },
    #[error("upstream {url:?} is refused: the simulator forwards only to loopback (127.0.0.0/8, ::1, localhost), never to {host}")]
    NotLoopback { url: String, host: String },
    #[error("error rate {0} is not a fraction between 0 and 1")]
    ErrorRate(String),
    #[error("{0} is not an HTTP status code (100-599)")]
    Status(String),
}

/// A real HTTP server on loopback that a pod's requests are forwarded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    host: String,
    port: u16,
    ip: IpAddr,
    /// The base path requests are appended to, without a trailing `/`.
    base: String,
}

impl Upstream {
    /// `http://127.0.0.1:PORT[/base]`; anything not on loopback is refused.
    pub fn parse(text: &str) -> Result<Upstream, HttpConfigError> {
        let url = url::Url::parse(text.trim()).map_err(|e| HttpConfigError::NotUrl { url: text.to_string(), reason: e.to_string() })?;
        if url.scheme() != "http" {
            return Err(HttpConfigError::NotHttp { url: text.to_string(), scheme: url.scheme().to_string() });
        }
        let refused = |host: &str| HttpConfigError::NotLoopback { url: text.to_string(), host: host.to_string() };
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(url::Host::Domain(d)) => return Err(refused(d)),
            None => return Err(refused("no host")),
        };
        if !ip.is_loopback() {
            return Err(refused(&ip.to_string()));
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        Ok(Upstream { host, port, ip, base: url.path().trim_end_matches('/').to_string() })
    }

    /// `http://HOST:PORT/base`
    pub fn url(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.base)
    }
}

/// A fraction of requests, kept in parts per million so counts are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorRate(u32);

const MILLION: u64 = 1_000_000;

impl ErrorRate {
    pub fn new(fraction: f64) -> Result<ErrorRate, HttpConfigError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(HttpConfigError::ErrorRate(fraction.to_string()));
        }
        Ok(ErrorRate((fraction * MILLION as f64).round() as u32))
    }

    pub fn fraction(self) -> f64 {
        f64::from(self.0) / MILLION as f64
    }

    /// Whether request `n` (from 0) of a pod fails: exactly ⌊N·rate⌋ of the first N do, evenly spread.
    pub fn fails(self, n: u64) -> bool {
        let rate = u64::from(self.0);
        ((n + 1) * rate) / MILLION > (n * rate) / MILLION
    }
}

/// One path's own answer; unset fields keep the pod's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathAnswer {
    pub status: Option<u16>,
    pub body: Option<String>,
}

/// How pods running an image answer HTTP (`ImageRule::http`); None keeps the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRule {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub paths: BTreeMap<String, PathAnswer>,
    pub latency: Option<Duration>,
    pub error_rate: Option<ErrorRate>,
    pub error_status: Option<u16>,
    pub upstream: Option<Upstream>,
}

/// A pod's HTTP behaviour, resolved from its annotations and its image's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBehavior {
    pub status: u16,
    pub body: String,
    pub paths: BTreeMap<String, PathAnswer>,
    pub latency: Duration,
    pub error_rate: ErrorRate,
    pub error_status: u16,
    /// Where requests go instead, or why the configured upstream is refused.
    pub upstream: Option<Result<Upstream, HttpConfigError>>,
}

fn status_code(text: &str) -> Result<u16, HttpConfigError> {
    text.trim().parse::<u16>().ok().filter(|c| (100..600).contains(c)).ok_or_else(|| HttpConfigError::Status(text.to_string()))
}

/// A JSON body value as text: strings as they are, anything else serialised.
fn body_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_paths(text: &str) -> Result<BTreeMap<String, PathAnswer>, String> {
    let doc: BTreeMap<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for (path, answer) in doc {
        let parsed = match &answer {
            Value::Number(n) => PathAnswer { status: Some(status_code(&n.to_string()).map_err(|e| e.to_string())?), body: None },
            Value::Object(o) => {
                let status = match o.get("status") {
                    None => None,
                    Some(v) => Some(status_code(&body_text(v)).map_err(|e| e.to_string())?),
                };
                PathAnswer { status, body: o.get("body").map(body_text) }
            }
            other => return Err(format!("path {path}: expected {{\"status\": N, \"body\": ...}} or a status, not {other}")),
        };
        out.insert(path, parsed);
    }
    Ok(out)
}

/// The annotation's value parsed, or None (with a warning) when it is absent or bad.
fn annotated<T, E: std::fmt::Display>(pod: &Value, key: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Option<T> {
    let text = pod["metadata"]["annotations"][key].as_str()?;
    match parse(text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(annotation = key, value = text, error = %e, "bad simulated HTTP setting; using the image rule or the default");
            None
        }
    }
}

impl HttpBehavior {
    /// `pod`'s HTTP behaviour: its annotations, else the first image rule matching one of its images, else the defaults.
    pub fn resolve(pod: &Value, rules: &[ImageRule]) -> HttpBehavior {
        let empty = HttpRule::default();
        let rule = ImageRule::find(rules, pod).map_or(&empty, |r| &r.http);
        let upstream = match pod["metadata"]["annotations"][HTTP_UPSTREAM].as_str() {
            Some(text) => Some(Upstream::parse(text)),
            None => rule.upstream.clone().map(Ok),
        };
        let mut paths = rule.paths.clone();
        if let Some(own) = annotated(pod, HTTP_PATHS, parse_paths) {
            paths = own;
        }
        HttpBehavior {
            status: annotated(pod, HTTP_STATUS, status_code).or(rule.status).unwrap_or(200),
            body: annotated(pod, HTTP_BODY, |t| Ok::<_, HttpConfigError>(t.to_string())).or_else(|| rule.body.clone()).unwrap_or_else(|| DEFAULT_BODY.to_string()),
            paths,
            latency: annotated(pod, HTTP_LATENCY, |t| parse_duration(t).ok_or("not a duration like 250ms or 1s")).or(rule.latency).unwrap_or(Duration::ZERO),
            error_rate: annotated(pod, HTTP_ERROR_RATE, |t| t.trim().parse::<f64>().map_err(|e| e.to_string()).and_then(|f| ErrorRate::new(f).map_err(|e| e.to_string())))
                .or(rule.error_rate)
                .unwrap_or_default(),
            error_status: annotated(pod, HTTP_ERROR_STATUS, status_code).or(rule.error_status).unwrap_or(DEFAULT_ERROR_STATUS),
            upstream,
        }
    }

    /// The status and body this pod gives `path` when it neither fails nor forwards.
    fn answer_for(&self, path: &str) -> (u16, &str) {
        let own = self.paths.get(path);
        let status = own.and_then(|a| a.status).unwrap_or(self.status);
        let body = own.and_then(|a| a.body.as_deref()).unwrap_or(&self.body);
        (status, body)
    }
}

/// A request as it reaches a pod through the API server's proxy.
pub struct PodRequest {
    pub method: Method,
    /// The path on the pod, from `/`.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a pod could not be reached: the API server answers 503 with this.
#[derive(Debug, thiserror::Error)]
#[error("error trying to reach service: {0}")]
pub struct Unreachable(pub String);

/// The HTTP side of one cluster's simulated pods: their image rules and their metrics.
pub struct PodHttp {
    images: Vec<ImageRule>,
    metrics: Arc<Metrics>,
    /// The access lines of the pods' logs (`crate::logs`).
    pub logs: Arc<crate::logs::LogBook>,
}

impl Default for PodHttp {
    fn default() -> PodHttp {
        PodHttp::new(Vec::new())
    }
}

/// Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

fn forwardable(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str()) && name != hyper::header::HOST && name != hyper::header::AUTHORIZATION
}

impl PodHttp {
    pub fn new(images: Vec<ImageRule>) -> PodHttp {
        PodHttp { images, metrics: Arc::new(Metrics::default()), logs: Default::default() }
    }

    /// The request counters and latency histograms of this cluster's pods.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// `pod`'s answer to `req`, counted and timed in the metrics; `Unreachable` when its upstream cannot be reached.
    pub async fn answer(&self, pod: &Value, req: PodRequest) -> Result<Response<Body>, Unreachable> {
        let behavior = HttpBehavior::resolve(pod, &self.images);
        let started = Instant::now();
        let n = self.metrics.next_request(pod);
        if !behavior.latency.is_zero() {
            tokio::time::sleep(behavior.latency).await;
        }
        let (method, path) = (req.method.clone(), req.path.clone());
        let response = if behavior.error_rate.fails(n) {
            let body = serde_json::json!({"detail": format!("simulated failure ({HTTP_ERROR_RATE})")}).to_string();
            simple(behavior.error_status, &body, &method)
        } else {
            match &behavior.upstream {
                Some(Ok(upstream)) => forward(upstream, req).await?,
                Some(Err(refused)) => return Err(Unreachable(refused.to_string())),
                None => {
                    let (status, body) = behavior.answer_for(&path);
                    simple(status, body, &method)
                }
            }
        };
        self.metrics.observe(pod, method.as_str(), &path, response.status().as_u16(), started.elapsed());
        self.logs.access(pod, method.as_str(), &path, response.status().as_u16());
        Ok(response)
    }
}

/// A response with `body` (JSON when it parses as JSON), empty for HEAD.
fn simple(status: u16, body: &str, method: &Method) -> Response<Body> {
    let json = serde_json::from_str::<Value>(body).is_ok();
    let content_type = if json { "application/json" } else { "text/plain; charset=utf-8" };
    let bytes = if method == Method::HEAD { Bytes::new() } else { Bytes::from(body.to_string()) };
    let mut resp = Response::new(Full::new(bytes).boxed());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Sends `req` to `upstream` over HTTP/1.1 and passes its answer back.
async fn forward(upstream: &Upstream, req: PodRequest) -> Result<Response<Body>, Unreachable> {
    let addr = std::net::SocketAddr::new(upstream.ip, upstream.port);
    let dial = |e: &dyn std::fmt::Display| Unreachable(format!("dial tcp {addr}: {e}"));
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| dial(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| dial(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        let target = match &req.query {
            Some(q) => format!("{}{}?{q}", upstream.base, req.path),
            None => format!("{}{}", upstream.base, req.path),
        };
        let mut builder = Request::builder().method(req.method.clone()).uri(target);
        for (name, value) in req.headers.iter().filter(|(n, _)| forwardable(n)) {
            builder = builder.header(name, value);
        }
        let host = if upstream.port == 80 { upstream.host.clone() } else { format!("{}:{}", upstream.host, upstream.port) };
        let request = builder
            .header(hyper::header::HOST, host)
            .body(Full::new(req.body))
            .map_err(|e| Unreachable(format!("building the request for {}: {e}", upstream.url())))?;
        let response = sender.send_request(request).await.map_err(|e| Unreachable(format!("{}: {e}", upstream.url())))?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_UPSTREAM_BODY)
            .collect()
            .await
            .map_err(|e| Unreachable(format!("reading the answer of {}: {e}", upstream.url())))?
            .to_bytes();
        let mut resp = Response::new(Full::new(bytes).boxed());
        *resp.status_mut() = parts.status;
        for (name, value) in parts.headers.iter().filter(|(n, _)| forwardable(n) && *n != hyper::header::CONTENT_LENGTH) {
            resp.headers_mut().append(name, value.clone());
        }
        Ok(resp)
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Unreachable(format!("{}: i/o timeout", upstream.url()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::behavior::Behavior;
    use serde_json::json;

    fn pod(image: &str, annotations: Value) -> Value {
        json!({"metadata": {"name": "web-1", "namespace": "default", "uid": "u1", "annotations": annotations}, "spec": {"containers": [{"name": "web", "image": image}]}})
    }

    #[test]
    fn upstreams_must_be_plain_http_on_loopback() {
        assert_eq!(Upstream::parse("http://127.0.0.1:8080/api/").unwrap().url(), "http://127.0.0.1:8080/api");
        assert!(Upstream::parse("http://127.9.9.9:1").is_ok());
        assert!(Upstream::parse("http://[::1]:8080").is_ok());
        assert_eq!(Upstream::parse("http://localhost:9").unwrap().ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let refused = Upstream::parse("http://10.0.0.8:80").unwrap_err();
        assert!(matches!(refused, HttpConfigError::NotLoopback { .. }), "{refused}");
        assert!(refused.to_string().contains("only to loopback"), "{refused}");
        assert!(matches!(Upstream::parse("http://example.com"), Err(HttpConfigError::NotLoopback { .. })));
        assert!(matches!(Upstream::parse("https://127.0.0.1"), Err(HttpConfigError::NotHttp { .. })));
        assert!(matches!(Upstream::parse("127.0.0.1:80"), Err(HttpConfigError::NotUrl { .. }) | Err(HttpConfigError::NotHttp { .. })));
    }

    #[test]
    fn error_rates_fail_exactly_their_share_evenly() {
        let count = |rate: f64, n: u64| (0..n).filter(|i| ErrorRate::new(rate).unwrap().fails(*i)).count();
        assert_eq!(count(0.1, 100), 10);
        assert_eq!(count(0.25, 100), 25);
        assert_eq!(count(0.3, 1000), 300);
        assert_eq!(count(0.0, 50), 0);
        assert_eq!(count(1.0, 50), 50);
        let first: Vec<u64> = (0..20).filter(|i| ErrorRate::new(0.1).unwrap().fails(*i)).collect();
        assert_eq!(first, [9, 19], "spread, not bunched");
        assert!(ErrorRate::new(1.5).is_err() && ErrorRate::new(-0.1).is_err());
    }

    #[test]
    fn annotations_win_over_image_rules_field_by_field() {
        let rule = HttpRule { status: Some(503), latency: Some(Duration::from_millis(200)), body: Some("down".into()), ..Default::default() };
        let rules = [ImageRule::new("*:slow", Behavior::Ready).with_http(rule)];
        let from_rule = HttpBehavior::resolve(&pod("api:slow", json!({})), &rules);
        assert_eq!((from_rule.status, from_rule.body.as_str(), from_rule.latency), (503, "down", Duration::from_millis(200)));
        let annotated = HttpBehavior::resolve(&pod("api:slow", json!({HTTP_STATUS: "201", HTTP_ERROR_RATE: "0.5"})), &rules);
        assert_eq!((annotated.status, annotated.body.as_str(), annotated.error_rate), (201, "down", ErrorRate::new(0.5).unwrap()));
        let plain = HttpBehavior::resolve(&pod("api:1", json!({HTTP_STATUS: "nope"})), &rules);
        assert_eq!((plain.status, plain.body.as_str(), plain.latency, plain.error_status), (200, DEFAULT_BODY, Duration::ZERO, 500));
        assert!(plain.upstream.is_none());
        let far = HttpBehavior::resolve(&pod("api:1", json!({HTTP_UPSTREAM: "http://192.168.1.1"})), &[]);
        assert!(matches!(far.upstream, Some(Err(HttpConfigError::NotLoopback { .. }))));
    }

    #[test]
    fn per_path_answers_override_status_and_body() {
        let paths = r#"{"/health": {"status": 503, "body": {"status": "down"}}, "/ready": 204, "/info": {"body": "v2"}}"#;
        let b = HttpBehavior::resolve(&pod("api", json!({HTTP_PATHS: paths, HTTP_STATUS: "200"})), &[]);
        assert_eq!(b.answer_for("/health"), (503, r#"{"status":"down"}"#));
        assert_eq!(b.answer_for("/ready"), (204, DEFAULT_BODY));
        assert_eq!(b.answer_for("/info"), (200, "v2"));
        assert_eq!(b.answer_for("/other"), (200, DEFAULT_BODY));
    }
}
