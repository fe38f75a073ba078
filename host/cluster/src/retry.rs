//! The one retry policy of every gantry-cluster `kube::Client`: a tower layer
//! (outermost, above the bearer-token layer, so each attempt carries a fresh
//! token) that retries 429, 500/502/503/504 and connection errors with
//! exponential backoff and full jitter, honours `Retry-After` (seconds or an
//! HTTP-date) and the Status body's `details.retryAfterSeconds`, and stops at
//! a deadline: the stage's, when a capability call runs (the runtime sets
//! [`gantry_runtime::deadline::CALL_DEADLINE`] around the backend call), else
//! [`DEFAULT_DEADLINE`]. kube-rs's own retry is turned off in `target.rs`.
//! A 500, 502 or 504 is an error of the server that may not go away (a
//! failing admission webhook answers 500 every time): it is retried at most
//! [`SERVER_ERROR_RETRIES`] times, as kube-rs's `RetryPolicy` does (client-go
//! retries it only with `Retry-After`), so a persistent one fails the call in
//! seconds and leaves the stage its time to put things back; 429, 503 and
//! connections refused say "try again later" and are retried to the deadline.
//!
//! It never replays a request that may have been processed when replaying
//! it is not safe: a POST (or a non-apply PATCH, a PUT, a DELETE) whose
//! connection broke after it was sent, or that answered 500/502/504, is not
//! retried; one refused before processing (connection refused, 429, 503) is.
//! Only the response head is retried: a watch stream cut mid-way is the
//! caller's to resume (`watch.rs`). Every retry is logged at debug (target
//! `gantry_cluster::retry`) and counted ([`retries`]). This file must not log
//! request bodies or headers (they carry objects and credentials).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as HttpBody, Bytes};
use kube::client::Body;
use tower::{BoxError, Layer, Service, ServiceExt};

/// The first backoff ceiling; it doubles per attempt.
pub const BASE: Duration = Duration::from_millis(100);
/// The largest backoff ceiling.
pub const CAP: Duration = Duration::from_secs(5);
/// How long a call outside a stage may keep retrying.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// Retries of a 500, 502 or 504 (on a request safe to replay) before its
/// answer is the call's: kube-rs's `RetryPolicy` default.
pub const SERVER_ERROR_RETRIES: u32 = 3;
/// The largest error body read to find `details.retryAfterSeconds`.
const STATUS_BODY_LIMIT: usize = 64 * 1024;

/// The response body of a client with this layer.
pub type RetryBody = UnsyncBoxBody<Bytes, BoxError>;

static RETRIES: AtomicU64 = AtomicU64::new(0);

/// Retries made by every client in this process.
pub fn retries() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

/// The deadline of the current call: the stage's when a capability call
/// runs, else `DEFAULT_DEADLINE` from now.
pub fn current_deadline() -> Instant {
    gantry_runtime::deadline::CALL_DEADLINE.try_with(|d| *d).unwrap_or_else(|_| Instant::now() + DEFAULT_DEADLINE)
}

/// Run `fut` with `deadline` as the retry deadline of its requests.
pub async fn with_deadline<F: Future>(deadline: Instant, fut: F) -> F::Output {
    gantry_runtime::deadline::CALL_DEADLINE.scope(deadline, fut).await
}

/// Exponential backoff with full jitter: attempt n waits a uniform time in
/// `[0, min(CAP, BASE·2ⁿ)]` (AWS's "full jitter"). The generator is
/// splitmix64, seeded, so a schedule can be replayed.
pub struct Backoff {
    base: Duration,
    cap: Duration,
    state: u64,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff { base, cap, state: seed }
    }

    /// Seeded from the clock and a counter (production).
    pub fn unseeded() -> Backoff {
        static N: AtomicU64 = AtomicU64::new(0);
        let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        Backoff::new(BASE, CAP, t ^ N.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed))
    }

    /// The ceiling of attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.cap, |d| d.min(self.cap))
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The wait before retry number `attempt` (0-based).
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        // 53 random bits → [0, 1].
        let unit = (self.next_u64() >> 11) as f64 / ((1u64 << 53) - 1) as f64;
        ceiling.mul_f64(unit)
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3),
/// as a wait from `now` (a date in the past: no wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A Kubernetes Status body's `details.retryAfterSeconds`.
pub fn status_retry_after(body: &[u8]) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let s = v.get("details")?.get("retryAfterSeconds")?.as_u64()?;
    (s > 0).then(|| Duration::from_secs(s))
}

/// Safe to send twice: reads, and server-side apply (declarative).
fn idempotent<B>(req: &Request<B>) -> bool {
    match *req.method() {
        Method::GET | Method::HEAD | Method::OPTIONS => true,
        Method::PATCH => req.headers().get(http::header::CONTENT_TYPE).is_some_and(|c| c.as_bytes().starts_with(b"application/apply-patch")),
        _ => false,
    }
}

/// Whether a response status is retried for this request.
pub fn retryable_status(status: StatusCode, idempotent: bool) -> bool {
    match status.as_u16() {
        // Refused before processing: safe for any method.
        429 | 503 => true,
        // May have been processed.
        500 | 502 | 504 => idempotent,
        _ => false,
    }
}

/// How a request failed without a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Never sent (connection refused, connect failed).
    NotSent,
    /// Maybe sent: reset, EOF before a response, broken pipe.
    MaybeSent,
    /// Something else (TLS, credentials): not retried.
    Other,
}

pub fn classify_error(err: &(dyn std::error::Error + 'static)) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut failure = Failure::Other;
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return Failure::NotSent,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => failure = Failure::MaybeSent,
                _ => {}
            }
        }
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            if h.is_connect() {
                // Not a TLS verification failure (those are never retried).
                let text = format!("{:?}", h);
                if !(text.contains("certificate") || text.contains("UnknownIssuer")) {
                    failure = Failure::NotSent;
                }
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                failure = Failure::MaybeSent;
            }
        }
        if failure == Failure::Other {
            let text = e.to_string();
            if text.contains("connection closed before message completed") || text.contains("connection reset") {
                failure = Failure::MaybeSent;
            }
        }
        source = e.source();
    }
    failure
}

/// The layer; one per client, named after its target (for the logs).
#[derive(Clone)]
pub struct RetryLayer {
    target: Arc<str>,
    count: Arc<AtomicU64>,
}

impl RetryLayer {
    pub fn new(target: &str) -> RetryLayer {
        RetryLayer { target: Arc::from(target), count: Arc::new(AtomicU64::new(0)) }
    }

    /// Retries made through this layer.
    pub fn retries(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry { inner: Arc::new(tokio::sync::Mutex::new(inner)), target: self.target.clone(), count: self.count.clone() }
    }
}

/// The service. The inner one is shared behind a lock so each attempt can
/// wait for its readiness (a fresh token) and call it again.
pub struct Retry<S> {
    inner: Arc<tokio::sync::Mutex<S>>,
    target: Arc<str>,
    count: Arc<AtomicU64>,
}

fn replay(req: &Request<Body>) -> Option<Request<Body>> {
    let body = req.body().try_clone()?;
    let mut out = Request::builder().method(req.method().clone()).uri(req.uri().clone()).version(req.version()).body(body).ok()?;
    *out.headers_mut() = req.headers().clone();
    *out.extensions_mut() = req.extensions().clone();
    Some(out)
}

fn boxed<B>(resp: Response<B>) -> Response<RetryBody>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    resp.map(|b| b.map_err(Into::into).boxed_unsync())
}

fn full(bytes: Bytes) -> RetryBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// Whether a retried status is the server's own error, retried a bounded number of times.
fn server_error(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 504)
}

/// Add what happened to a Status body's message on giving up.
fn annotate(body: Bytes, attempts: u32, why: &str) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else { return body };
    let Some(message) = v.get("message").and_then(|m| m.as_str()).map(str::to_string) else { return body };
    v["message"] = serde_json::Value::String(format!("{message} (still failing after {attempts} attempts; {why})"));
    serde_json::to_vec(&v).map(Bytes::from).unwrap_or(body)
}

impl<S, B> Service<Request<Body>> for Retry<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<RetryBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RetryBody>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is waited for per attempt, in the future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let target = self.target.clone();
        let count = self.count.clone();
        Box::pin(async move {
            // Read here, in the caller's task (kube's Buffer polls this future there).
            let deadline = current_deadline();
            let idempotent = idempotent(&req);
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let mut backoff = Backoff::unseeded();
            let mut original = Some(req);
            let mut attempt: u32 = 0;
            let mut server_errors: u32 = 0;
            loop {
                let this = match original.as_ref().and_then(replay) {
                    Some(copy) => copy,
                    // Not replayable (a streamed body): the one and only attempt.
                    None => match original.take() {
                        Some(r) => r,
                        None => return Err("the request cannot be replayed".into()),
                    },
                };
                let replayable = original.is_some();
                let fut = {
                    let mut svc = inner.lock().await;
                    svc.ready().await.map_err(Into::into)?;
                    svc.call(this)
                };
                let result = fut.await.map_err(Into::into);
                let (wait, status, last) = match result {
                    Ok(resp) if replayable && retryable_status(resp.status(), idempotent) => {
                        let status = resp.status();
                        let header = resp.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, SystemTime::now()));
                        let (parts, body) = resp.into_parts();
                        let bytes = match http_body_util::Limited::new(body, STATUS_BODY_LIMIT).collect().await {
                            Ok(c) => c.to_bytes(),
                            Err(e) => return Err(e),
                        };
                        if server_error(status) {
                            if server_errors >= SERVER_ERROR_RETRIES {
                                tracing::debug!(target: "gantry_cluster::retry", target_name = %target, %method, %path, attempts = attempt + 1, %status, "giving up: the server kept failing");
                                let why = format!("the server's own error, retried {SERVER_ERROR_RETRIES} times");
                                return Ok(Response::from_parts(parts, full(annotate(bytes, attempt + 1, &why))));
                            }
                            server_errors += 1;
                        }
                        let hint = header.or_else(|| status_retry_after(&bytes));
                        let wait = hint.unwrap_or_else(|| backoff.delay(attempt));
                        (wait, status.as_u16().to_string(), Ok((parts, bytes)))
                    }
                    Ok(resp) => return Ok(boxed(resp)),
                    Err(e) => {
                        let failure = classify_error(&*e);
                        let retry = replayable && (failure == Failure::NotSent || (failure == Failure::MaybeSent && idempotent));
                        if !retry {
                            return Err(e);
                        }
                        let what = if failure == Failure::NotSent { "connection failed" } else { "connection lost" };
                        (backoff.delay(attempt), what.to_string(), Err(e))
                    }
                };
                attempt += 1;
                if Instant::now() + wait >= deadline {
                    tracing::debug!(target: "gantry_cluster::retry", target_name = %target, %method, %path, attempts = attempt, %status, "giving up: the next attempt would pass the deadline");
                    return match last {
                        // A single attempt (a deadline already due, as a probe sets) is the server's answer as it was.
                        Ok((parts, bytes)) => Ok(Response::from_parts(parts, full(if attempt > 1 { annotate(bytes, attempt, "gave up at the call's deadline") } else { bytes }))),
                        Err(e) => Err(e),
                    };
                }
                count.fetch_add(1, Ordering::Relaxed);
                RETRIES.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(target: "gantry_cluster::retry", target_name = %target, %method, %path, attempt, %status, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_ceiling_doubles_from_the_base_to_the_cap() {
        let b = Backoff::new(BASE, CAP, 1);
        let ceilings: Vec<u64> = (0..9).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(b.ceiling(200), CAP);
    }

    #[test]
    fn full_jitter_stays_under_the_ceiling_spreads_and_replays_from_its_seed() {
        let mut a = Backoff::new(BASE, CAP, 42);
        let mut b = Backoff::new(BASE, CAP, 42);
        let xs: Vec<Duration> = (0..200).map(|n| a.delay(n % 8)).collect();
        let ys: Vec<Duration> = (0..200).map(|n| b.delay(n % 8)).collect();
        assert_eq!(xs, ys, "same seed, same schedule");
        for (n, d) in xs.iter().enumerate() {
            assert!(*d <= a.ceiling(n as u32 % 8), "attempt {n}: {d:?}");
        }
        // Full jitter: waits below half the ceiling happen as well as above.
        let at_cap: Vec<&Duration> = xs.iter().enumerate().filter(|(n, _)| n % 8 >= 6).map(|(_, d)| d).collect();
        assert!(at_cap.iter().any(|d| **d < CAP / 2) && at_cap.iter().any(|d| **d > CAP / 2), "{at_cap:?}");
        let mut c = Backoff::new(BASE, CAP, 43);
        assert_ne!(xs, (0..200).map(|n| c.delay(n % 8)).collect::<Vec<_>>());
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO), "a past date: no wait");
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn the_status_body_gives_retry_after_seconds() {
        let body = br#"{"kind":"Status","code":429,"reason":"TooManyRequests","details":{"retryAfterSeconds":2}}"#;
        assert_eq!(status_retry_after(body), Some(Duration::from_secs(2)));
        assert_eq!(status_retry_after(br#"{"kind":"Status","code":500}"#), None);
        assert_eq!(status_retry_after(b"not json"), None);
    }

    #[test]
    fn posts_are_retried_only_when_refused_before_processing() {
        for code in [429, 503] {
            assert!(retryable_status(StatusCode::from_u16(code).unwrap(), false));
        }
        for code in [500, 502, 504] {
            assert!(!retryable_status(StatusCode::from_u16(code).unwrap(), false));
            assert!(retryable_status(StatusCode::from_u16(code).unwrap(), true));
        }
        assert!(!retryable_status(StatusCode::NOT_FOUND, true));
        let post: Request<()> = Request::post("/api/v1/namespaces/default/configmaps").body(()).unwrap();
        let apply: Request<()> = Request::patch("/x").header("content-type", "application/apply-patch+yaml").body(()).unwrap();
        let merge: Request<()> = Request::patch("/x").header("content-type", "application/merge-patch+json").body(()).unwrap();
        assert!(!idempotent(&post) && idempotent(&apply) && !idempotent(&merge));
        assert!(idempotent(&Request::get("/").body(()).unwrap()));
    }

    #[test]
    fn an_io_error_is_classified_by_whether_the_request_may_have_been_sent() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let other = std::io::Error::other("bad certificate");
        assert_eq!(classify_error(&refused), Failure::NotSent);
        assert_eq!(classify_error(&reset), Failure::MaybeSent);
        assert_eq!(classify_error(&other), Failure::Other);
    }
}
