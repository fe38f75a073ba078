//! The request metrics of one cluster's simulated pods, and the plain-HTTP
//! loopback endpoint a real Prometheus scrapes them from. Names and labels
//! follow a FastAPI app instrumented with prometheus-fastapi-instrumentator:
//! `http_requests_total{handler,method,status}` (a counter, full status codes
//! so `status=~"5.."` selects errors) and `http_request_duration_seconds`
//! (a histogram with Prometheus' default buckets) — each series also carries
//! the pod's `namespace`, `pod`, `container`, `app` (`app.kubernetes.io/name`
//! or `app` label) and `track` (`track` label), the labels Prometheus' pod
//! discovery would add on a real cluster. Text exposition format 0.0.4.
//! This file must not answer requests for pods (see `podhttp`) and binds
//! only 127.0.0.1.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::Body;

/// Prometheus' default histogram buckets, in seconds.
pub const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The labels that identify a pod's series.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodLabels {
    namespace: String,
    pod: String,
    container: String,
    app: String,
    track: String,
}

impl PodLabels {
    fn of(pod: &Value) -> PodLabels {
        let meta = &pod["metadata"];
        let label = |key: &str| meta["labels"][key].as_str().map(String::from);
        PodLabels {
            namespace: meta["namespace"].as_str().unwrap_or("").to_string(),
            pod: meta["name"].as_str().unwrap_or("").to_string(),
            container: pod["spec"]["containers"][0]["name"].as_str().unwrap_or("").to_string(),
            app: label("app.kubernetes.io/name").or_else(|| label("app")).unwrap_or_default(),
            track: label("track").unwrap_or_default(),
        }
    }

    fn render(&self) -> String {
        format!(
            "namespace=\"{}\",pod=\"{}\",container=\"{}\",app=\"{}\",track=\"{}\"",
            escape(&self.namespace),
            escape(&self.pod),
            escape(&self.container),
            escape(&self.app),
            escape(&self.track)
        )
    }
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket (not cumulative); the +Inf bucket is `count`.
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// One pod incarnation's series.
#[derive(Debug)]
struct PodSeries {
    uid: String,
    labels: PodLabels,
    /// Requests the pod has begun answering: the error spreading counter.
    begun: u64,
    /// By (method, handler, status).
    requests: BTreeMap<(String, String, u16), u64>,
    /// By (method, handler).
    durations: BTreeMap<(String, String), Histogram>,
}

/// Every simulated pod's counters and histograms in one cluster, keyed by
/// (namespace, name): a pod recreated under the same name (a StatefulSet's)
/// starts from zero, as a restarted process does.
#[derive(Default)]
pub struct Metrics {
    pods: Mutex<BTreeMap<(String, String), PodSeries>>,
}

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), PodSeries>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_pod<T>(&self, pod: &Value, f: impl FnOnce(&mut PodSeries) -> T) -> T {
        let labels = PodLabels::of(pod);
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let mut pods = self.lock();
        let series = pods.entry((labels.namespace.clone(), labels.pod.clone())).or_insert_with(|| PodSeries {
            uid: uid.clone(),
            labels: labels.clone(),
            begun: 0,
            requests: BTreeMap::new(),
            durations: BTreeMap::new(),
        });
        if series.uid != uid {
            *series = PodSeries { uid, labels: labels.clone(), begun: 0, requests: BTreeMap::new(), durations: BTreeMap::new() };
        }
        series.labels = labels;
        f(series)
    }

    /// Counts a request `pod` begins answering; returns how many it began before.
    pub fn next_request(&self, pod: &Value) -> u64 {
        self.with_pod(pod, |s| {
            s.begun += 1;
            s.begun - 1
        })
    }

    /// Records a request `pod` answered with `status` after `elapsed`.
    pub fn observe(&self, pod: &Value, method: &str, handler: &str, status: u16, elapsed: Duration) {
        self.with_pod(pod, |s| {
            *s.requests.entry((method.to_string(), handler.to_string(), status)).or_default() += 1;
            s.durations.entry((method.to_string(), handler.to_string())).or_default().observe(elapsed.as_secs_f64());
        });
    }

    /// Requests answered by the pod `namespace/name` with `status`, over every method and handler.
    pub fn requests(&self, namespace: &str, name: &str, status: Option<u16>) -> u64 {
        let pods = self.lock();
        let Some(series) = pods.get(&(namespace.to_string(), name.to_string())) else { return 0 };
        series.requests.iter().filter(|((_, _, s), _)| status.is_none_or(|want| *s == want)).map(|(_, n)| n).sum()
    }

    /// Every series in the text exposition format.
    pub fn render(&self) -> String {
        let pods = self.lock();
        let mut out = String::new();
        out.push_str("# HELP http_requests_total Total number of requests by method, status and handler.\n# TYPE http_requests_total counter\n");
        for series in pods.values() {
            let labels = series.labels.render();
            for ((method, handler, status), n) in &series.requests {
                let _ = writeln!(out, "http_requests_total{{{labels},handler=\"{}\",method=\"{}\",status=\"{status}\"}} {n}", escape(handler), escape(method));
            }
        }
        out.push_str("# HELP http_request_duration_seconds Latency with many buckets but no API specific labels.\n# TYPE http_request_duration_seconds histogram\n");
        for series in pods.values() {
            let labels = series.labels.render();
            for ((method, handler), h) in &series.durations {
                let series_labels = format!("{labels},handler=\"{}\",method=\"{}\"", escape(handler), escape(method));
                let mut cumulative = 0;
                for (le, n) in BUCKETS.iter().zip(h.buckets) {
                    cumulative += n;
                    let _ = writeln!(out, "http_request_duration_seconds_bucket{{{series_labels},le=\"{le}\"}} {cumulative}");
                }
                let _ = writeln!(out, "http_request_duration_seconds_bucket{{{series_labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "http_request_duration_seconds_sum{{{series_labels}}} {}", h.sum);
                let _ = writeln!(out, "http_request_duration_seconds_count{{{series_labels}}} {}", h.count);
            }
        }
        out
    }
}

/// Binds 127.0.0.1 on a free port for the metrics endpoint.
pub async fn bind() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves `GET /metrics` (plain HTTP/1.1) until `shutdown`.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a metrics connection");
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(scrape(&metrics, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "metrics connection ended with an error");
                    }
                }
                _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

fn scrape(metrics: &Metrics, req: &Request<hyper::body::Incoming>) -> Response<Body> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, CONTENT_TYPE, metrics.render()),
        (&Method::HEAD, "/metrics") => (StatusCode::OK, CONTENT_TYPE, String::new()),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "method not allowed\n".to_string()),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "404 page not found\n".to_string()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, track: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "shop", "uid": uid, "labels": {"app.kubernetes.io/name": "web", "app": "ignored", "track": track}},
            "spec": {"containers": [{"name": "api"}]}})
    }

    #[test]
    fn requests_render_as_instrumentator_counters_and_histograms() {
        let m = Metrics::default();
        let p = pod("web-1", "u1", "canary");
        m.observe(&p, "GET", "/health", 200, Duration::from_millis(30));
        m.observe(&p, "GET", "/health", 200, Duration::from_millis(300));
        m.observe(&p, "GET", "/health", 503, Duration::from_millis(1));
        let text = m.render();
        let labels = r#"namespace="shop",pod="web-1",container="api",app="web",track="canary""#;
        assert!(text.contains(&format!("http_requests_total{{{labels},handler=\"/health\",method=\"GET\",status=\"200\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("http_requests_total{{{labels},handler=\"/health\",method=\"GET\",status=\"503\"}} 1\n")), "{text}");
        let series = format!("{labels},handler=\"/health\",method=\"GET\"");
        for (le, n) in [("0.005", 1), ("0.025", 1), ("0.05", 2), ("0.25", 2), ("0.5", 3), ("+Inf", 3)] {
            assert!(text.contains(&format!("http_request_duration_seconds_bucket{{{series},le=\"{le}\"}} {n}\n")), "le {le}: {text}");
        }
        assert!(text.contains(&format!("http_request_duration_seconds_count{{{series}}} 3\n")), "{text}");
        assert!(text.contains("# TYPE http_request_duration_seconds histogram\n"));
        assert_eq!(m.requests("shop", "web-1", Some(200)), 2);
        assert_eq!(m.requests("shop", "web-1", None), 3);
    }

    #[test]
    fn a_pod_recreated_under_its_name_starts_from_zero() {
        let m = Metrics::default();
        assert_eq!(m.next_request(&pod("db-0", "u1", "")), 0);
        assert_eq!(m.next_request(&pod("db-0", "u1", "")), 1);
        m.observe(&pod("db-0", "u1", ""), "GET", "/", 200, Duration::ZERO);
        assert_eq!(m.next_request(&pod("db-0", "u2", "")), 0);
        assert_eq!(m.requests("shop", "db-0", None), 0);
        assert_eq!(m.render().matches("pod=\"db-0\"").count(), 0, "no series before the new pod answers");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
