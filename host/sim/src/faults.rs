//! Faults on demand: rules that make a simulated server misbehave the way
//! real ones do — error `Status`es (500, 503, 504, 429 with `Retry-After`),
//! latency, dropped connections and watch streams cut mid-way — so the
//! reliability of clients (retries, backoff, watch resumption) can be proven.
//! This file owns the rule format, matching, the rate decisions, the
//! counters and the admin endpoint's semantics; the servers (`api`/`server`
//! for the Kubernetes API, `cloud::http` for the control plane) only call
//! [`Faults::apply`] and act on its [`Decision`]. It must not change objects
//! nor decide anything about a request beyond whether a fault hits it.
//!
//! # Switching faults
//!
//! In process: [`ApiServer::faults`](crate::ApiServer::faults) (or
//! `ServerConfig::faults` before start) and
//! [`ControlPlane::faults`](crate::cloud::ControlPlane::faults) return a
//! [`Faults`] handle with `add`, `remove`, `clear`, `list`, `hits` and
//! `injected`. Out of process, both servers answer at [`ADMIN_PATH`],
//! `/sim.gantry.dev/v1/faults`, with a bearer token: on a cluster, a token
//! whose identity is unrestricted (every namespace and verb; 403 for others);
//! on the control plane, its `admin_token()` (which `gantry sim up` writes
//! into `sim.env` as `GANTRY_SIM_FAULTS_TOKEN`). The endpoint is never in
//! discovery and faults never apply to it. Faults apply before
//! authentication, as those of a load balancer in front of the server would.
//!
//! - `GET /sim.gantry.dev/v1/faults`: `{"kind": "FaultRuleList", "injected": N, "items": [rule…]}`,
//!   each rule with its `id`, `hits` (faults it injected) and `remaining`.
//! - `GET …/faults/{id}`: one rule, as in the list (404 if unknown).
//! - `POST …/faults`: a rule, a JSON array of rules or `{"items": [rules]}`;
//!   all are checked before any is added; answers 201 with the added rules
//!   (ids filled in), or 400 with what is wrong.
//! - `DELETE …/faults`: removes every rule. `DELETE …/faults/{id}`: one rule.
//!
//! In a test:
//!
//! ```no_run
//! # async fn demo(server: &gantry_sim::ApiServer) -> Result<(), gantry_sim::faults::FaultError> {
//! use std::time::Duration;
//! use gantry_sim::faults::FaultRule;
//!
//! let faults = server.faults();
//! // The next two GETs of any deployment answer 429 with `Retry-After: 1`.
//! let throttle = faults.add(FaultRule::too_many_requests(1).verb("get").path("/apis/apps/v1/**/deployments").times(2))?;
//! // Every third list of pods waits 300ms; watches of config maps are cut after one event.
//! faults.add(FaultRule::latency(Duration::from_millis(300)).verb("list").path("/api/v1/**/pods").every(3))?;
//! faults.add(FaultRule::reset_watch(1).path("/api/v1/**/configmaps"))?;
//! // … the client under test runs …
//! assert_eq!(faults.hits(&throttle), Some(2));
//! faults.clear();
//! # Ok(()) }
//! ```
//!
//! # The rule format
//!
//! A rule is JSON (the same with serde in Rust, [`FaultRule`]):
//!
//! ```json
//! {"id": "slow-deployments",
//!  "verb": "get",
//!  "method": "GET",
//!  "path": "/apis/apps/v1/namespaces/*/deployments",
//!  "action": {"type": "status", "code": 503},
//!  "every": 2,
//!  "probability": 0.25, "seed": 7,
//!  "times": 10}
//! ```
//!
//! - `id`: optional; `fault-N` when absent. Unique per server.
//! - `verb`: a string or a list; absent or `"*"`: any. On the Kubernetes API,
//!   the verb as kube-apiserver's authorizer sees it: `get`, `list`, `watch`,
//!   `create`, `update`, `patch`, `delete`, `deletecollection` for resource
//!   paths (`/api/…`, `/apis/G/V/…`), and the lowercase HTTP method (`get`,
//!   `post`, …) for other paths (`/version`, discovery, `/openapi/v2`). On the
//!   control plane every path is a plain one: the lowercase HTTP method.
//! - `method`: HTTP methods (a string or a list, any case); absent: any.
//! - `path`: absent: every path. Otherwise a pattern matched segment by
//!   segment against the request's path (without its query): `*` within a
//!   segment matches any characters but `/`, a `**` segment matches any
//!   number of segments (none included), and the pattern matches the path it
//!   names *and everything below it* — `/api/v1/namespaces/*/pods` covers
//!   `/api/v1/namespaces/a/pods/web/status`. So
//!   `/apis/apps/v1/**/deployments` is every deployment path, namespaced or
//!   not, and a path with no `*` is a prefix (of whole segments).
//! - `action`, by `type`:
//!   - `{"type": "status", "code": 503, "message": "…", "retry_after_seconds": 1, "delay_ms": 0}`:
//!     answer with that status. On the Kubernetes API the body is the
//!     `Status` the real server sends: 429 `TooManyRequests` ("Too many
//!     requests, please try again later."), 500 `InternalError` ("Internal
//!     error occurred: …"), 503 `ServiceUnavailable`, 504 `Timeout`
//!     ("Timeout: request did not complete within requested timeout - context
//!     deadline exceeded"), and the reasons of the other 4xx/5xx codes;
//!     `message` replaces the default text. With `retry_after_seconds` (for
//!     429 it defaults to 1) the response carries `Retry-After: N` and the
//!     Status `details.retryAfterSeconds`. On the control plane the body is
//!     the service's own error format (AWS restJson1 with `x-amzn-ErrorType`
//!     for EKS, STS's XML, Google's `{"error": {code, message, status}}`).
//!     `delay_ms` waits before answering.
//!   - `{"type": "latency", "ms": 300}`: the request waits that long, then
//!     goes on (to later rules, then to the server).
//!   - `{"type": "drop", "delay_ms": 0}`: the connection is closed without a
//!     response (TCP FIN; over TLS without close_notify). Over HTTP/2 that
//!     ends every request on the connection, as a real connection loss does.
//!   - `{"type": "reset_watch", "after_events": 1}`: only for `watch`
//!     requests: after that many events (bookmarks included) have been
//!     written, the connection is cut without the stream's end — a watch
//!     broken mid-stream, which a client must resume from its last
//!     resourceVersion. Never fires on the control plane (it has no watches).
//!   - `{"type": "expire_watch", "after_events": 0}`: only for `watch`
//!     requests: after that many events (0: at once, before any), the stream
//!     carries an `ERROR` event with a 410 `Expired` Status ("too old
//!     resource version") and ends — what kube-apiserver sends when the
//!     version a watch resumes from has been compacted away, which a client
//!     must answer by listing again. Never fires on the control plane.
//! - When a matching request is hit — give at most one of:
//!   - neither: every matching request;
//!   - `every: N`: deterministic, the Nth, 2Nth, … matching request;
//!   - `probability: p` (0–1): each matching request with that chance, from a
//!     random generator seeded with `seed` (the same seed, the same sequence;
//!     when absent a seed is drawn and shown in the listing, to replay).
//! - `times: N`: the rule injects at most N faults, then stops applying (it
//!   stays listed with `remaining: 0` until removed). "The next N requests"
//!   is `times: N` alone. Absent: no limit.
//!
//! Rules are checked in the order they were added. A `latency`,
//! `reset_watch` or `expire_watch` rule that hits adds its effect and
//! checking goes on (of the watch rules, the last one that hits applies);
//! the first `status` or `drop` rule that hits ends it. Every injected fault
//! is logged at debug level (target `gantry_sim::faults`) and counted:
//! [`Faults::injected`] for all rules, [`Faults::hits`] per rule. A
//! `reset_watch` counts when it cuts a stream, an `expire_watch` when it
//! ends one, not when either is attached.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Where both servers answer fault administration; not under `/api` or `/apis`, so never in discovery.
pub const ADMIN_PATH: &str = "/sim.gantry.dev/v1/faults";

/// How long a cut waits for the server to drop the connection (a hang guard).
const CUT_WAIT: Duration = Duration::from_secs(60);

const KNOWN_VERBS: [&str; 13] =
    ["*", "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "post", "put", "head", "options"];

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("fault rule {rule}: {message}")]
    Invalid { rule: String, message: String },
    #[error("the fault rules are not valid JSON of the documented format (gantry_sim::faults): {0}")]
    Parse(#[from] serde_json::Error),
}

/// One fault rule; see the module documentation for its JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub verb: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub method: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

/// What a rule does to a request it hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Status {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
    },
    Latency {
        ms: u64,
    },
    Drop {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
    },
    ResetWatch {
        after_events: u64,
    },
    ExpireWatch {
        after_events: u64,
    },
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl FaultRule {
    fn with(action: Action) -> FaultRule {
        FaultRule { id: None, verb: Vec::new(), method: Vec::new(), path: None, action, every: None, probability: None, seed: None, times: None }
    }

    /// Answer with `code` (a 429 gets `Retry-After: 1` unless `retry_after` says otherwise).
    pub fn status(code: u16) -> FaultRule {
        FaultRule::with(Action::Status { code, message: None, retry_after_seconds: None, delay_ms: None })
    }

    /// 429 TooManyRequests with `Retry-After: seconds`.
    pub fn too_many_requests(seconds: u32) -> FaultRule {
        FaultRule::status(429).retry_after(seconds)
    }

    /// End watch streams with a 410 Expired `ERROR` event after `after_events` events (0: at once).
    pub fn expire_watch(after_events: u64) -> FaultRule {
        FaultRule::with(Action::ExpireWatch { after_events })
    }

    /// Wait `latency`, then go on.
    pub fn latency(latency: Duration) -> FaultRule {
        FaultRule::with(Action::Latency { ms: latency.as_millis().try_into().unwrap_or(u64::MAX) })
    }

    /// Close the connection without a response.
    pub fn drop_connection() -> FaultRule {
        FaultRule::with(Action::Drop { delay_ms: None })
    }

    /// Cut watch streams after `after_events` events.
    pub fn reset_watch(after_events: u64) -> FaultRule {
        FaultRule::with(Action::ResetWatch { after_events })
    }

    pub fn id(mut self, id: &str) -> FaultRule {
        self.id = Some(id.to_string());
        self
    }

    pub fn verb(mut self, verb: &str) -> FaultRule {
        self.verb.push(verb.to_string());
        self
    }

    pub fn method(mut self, method: &str) -> FaultRule {
        self.method.push(method.to_string());
        self
    }

    pub fn path(mut self, pattern: &str) -> FaultRule {
        self.path = Some(pattern.to_string());
        self
    }

    pub fn every(mut self, n: u64) -> FaultRule {
        self.every = Some(n);
        self
    }

    pub fn probability(mut self, p: f64, seed: u64) -> FaultRule {
        self.probability = Some(p);
        self.seed = Some(seed);
        self
    }

    pub fn times(mut self, n: u64) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// A status action's message (ignored by other actions).
    pub fn message(mut self, text: &str) -> FaultRule {
        if let Action::Status { message, .. } = &mut self.action {
            *message = Some(text.to_string());
        }
        self
    }

    /// A status action's `Retry-After` (ignored by other actions).
    pub fn retry_after(mut self, seconds: u32) -> FaultRule {
        if let Action::Status { retry_after_seconds, .. } = &mut self.action {
            *retry_after_seconds = Some(seconds);
        }
        self
    }

    fn validate(&self, name: &str) -> Result<(), FaultError> {
        let invalid = |message: String| Err(FaultError::Invalid { rule: name.to_string(), message });
        if let Some(bad) = self.verb.iter().find(|v| !KNOWN_VERBS.contains(&v.as_str())) {
            return invalid(format!("unknown verb `{bad}` (one of {})", KNOWN_VERBS.join(", ")));
        }
        if let Some(bad) = self.method.iter().find(|m| m.is_empty() || !m.chars().all(|c| c.is_ascii_alphabetic() || c == '*')) {
            return invalid(format!("`{bad}` is not an HTTP method"));
        }
        if let Some(path) = &self.path {
            if !path.starts_with('/') {
                return invalid(format!("the path pattern `{path}` must start with /"));
            }
        }
        match &self.action {
            Action::Status { code, .. } if !(400..=599).contains(code) => {
                return invalid(format!("status {code} is not an error status (400-599)"));
            }
            Action::ResetWatch { after_events: 0 } => {
                return invalid("reset_watch needs after_events of at least 1".to_string());
            }
            _ => {}
        }
        if self.every.is_some() && self.probability.is_some() {
            return invalid("give `every` or `probability`, not both".to_string());
        }
        if self.every == Some(0) {
            return invalid("`every` must be at least 1".to_string());
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return invalid(format!("probability {p} is not between 0 and 1"));
            }
        }
        Ok(())
    }

    fn terminal(&self) -> bool {
        matches!(self.action, Action::Status { .. } | Action::Drop { .. })
    }

    fn matches(&self, req: &RequestInfo) -> bool {
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(value));
        let watch_ok = !matches!(self.action, Action::ResetWatch { .. } | Action::ExpireWatch { .. }) || req.verb == "watch";
        watch_ok
            && any(&self.verb, &req.verb)
            && any(&self.method, &req.method)
            && self.path.as_deref().is_none_or(|p| path_matches(p, &req.path))
    }
}

/// `pattern` against `path`, segment by segment: `*` within a segment, `**`
/// for any number of segments, and everything below a matched path matches.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(seg, tail)| segment_matches(first, seg) && segments_match(rest, tail)),
    }
}

/// One segment against a pattern whose `*` matches any run of characters.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = segment.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What the rules see of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Upper case, as sent.
    pub method: String,
    pub path: String,
    /// The Kubernetes verb for resource paths, the lowercase method otherwise.
    pub verb: String,
}

impl RequestInfo {
    /// A request to a plain HTTP service: its verb is the lowercase method.
    pub fn plain(method: &str, path: &str) -> RequestInfo {
        RequestInfo { method: method.to_ascii_uppercase(), path: path.to_string(), verb: method.to_ascii_lowercase() }
    }

    /// A request to the Kubernetes API, its verb found as kube-apiserver's
    /// `RequestInfoFactory` finds it: from the path's shape and the method
    /// (a GET without a name is a `list`, or a `watch` with `watch=true`; a
    /// DELETE without one a `deletecollection`), without knowing the kinds.
    pub fn kubernetes(method: &str, path: &str, query: &str) -> RequestInfo {
        let mut info = RequestInfo::plain(method, path);
        if let Some(verb) = resource_verb(&info.method, path, query) {
            info.verb = verb.to_string();
        }
        info
    }
}

/// The Kubernetes verb of a resource request; None for other paths.
fn resource_verb(method: &str, path: &str, query: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut rest: &[&str] = match parts.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    let mut verb = match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => return None,
    };
    if let ["watch", tail @ ..] = rest {
        rest = tail;
        verb = "watch";
    }
    if let ["namespaces", _ns, tail @ ..] = rest {
        if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") {
            rest = tail;
        }
    }
    let named = rest.len() >= 2;
    let param = |key: &str| url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
    if !named && verb == "get" {
        let watching = param("watch").is_some_and(|w| w == "true" || w == "1");
        verb = if watching { "watch" } else { "list" };
    }
    if !named && verb == "delete" {
        verb = "deletecollection";
    }
    Some(verb)
}

/// What a server does with a request after the rules.
#[derive(Debug)]
pub enum Decision {
    /// Serve it; a watch carries the reset to apply, if any.
    Pass(Option<WatchReset>),
    /// Answer with this fault instead.
    Respond(FaultResponse),
    /// The connection has been cut (or, without one, the request must fail):
    /// whatever the server returns never reaches the client.
    Dropped,
}

/// An injected error answer, for the server to render in its protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultResponse {
    pub code: u16,
    pub message: Option<String>,
    pub retry_after_seconds: Option<u32>,
}

impl FaultResponse {
    /// The Kubernetes `Status` reason of the code, as `apimachinery` names them.
    pub fn reason(&self) -> &'static str {
        match self.code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            406 => "NotAcceptable",
            409 => "Conflict",
            410 => "Expired",
            413 => "RequestEntityTooLarge",
            415 => "UnsupportedMediaType",
            422 => "Invalid",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "Unknown",
        }
    }

    /// The message, or the real server's words for the code.
    pub fn message(&self) -> String {
        let given = self.message.clone();
        match self.code {
            429 => given.unwrap_or_else(|| "Too many requests, please try again later.".to_string()),
            500 => format!("Internal error occurred: {}", given.unwrap_or_else(|| "injected fault".to_string())),
            503 => given.unwrap_or_else(|| "the server is currently unable to handle the request".to_string()),
            504 => format!(
                "Timeout: {}",
                given.unwrap_or_else(|| "request did not complete within requested timeout - context deadline exceeded".to_string())
            ),
            code => given.unwrap_or_else(|| format!("an error on the server (\"injected fault\") has prevented the request from succeeding (HTTP {code})")),
        }
    }

    /// The `Status` object kube-apiserver answers with.
    pub fn kubernetes_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": self.reason(),
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        if self.code == 500 {
            details.insert("causes".into(), json!([{"message": self.message.clone().unwrap_or_else(|| "injected fault".to_string())}]));
        }
        if let Some(seconds) = self.retry_after_seconds.filter(|s| *s > 0) {
            details.insert("retryAfterSeconds".into(), json!(seconds));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }

    /// The `Retry-After` header's value, if the response has one.
    pub fn retry_after_header(&self) -> Option<String> {
        self.retry_after_seconds.map(|s| s.to_string())
    }
}

/// A rule as listed: the rule (its id filled in) and its counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStatus {
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Faults this rule injected.
    pub hits: u64,
    /// Faults it may still inject; None: no limit.
    pub remaining: Option<u64>,
}

struct Entry {
    rule: FaultRule,
    id: String,
    /// Matching requests seen while the rule could still fire.
    seen: u64,
    hits: Arc<AtomicU64>,
    remaining: Option<u64>,
    rng: Option<StdRng>,
}

impl Entry {
    /// Whether this matching request is hit; uses up one of `times`.
    fn fires(&mut self) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        self.seen += 1;
        let fire = match (self.rule.every, self.rule.probability, self.rng.as_mut()) {
            (Some(n), _, _) => self.seen.is_multiple_of(n),
            (None, Some(p), Some(rng)) => rng.gen::<f64>() < p,
            _ => true,
        };
        if fire {
            if let Some(r) = self.remaining.as_mut() {
                *r -= 1;
            }
        }
        fire
    }
}

#[derive(Default)]
struct Inner {
    rules: Mutex<Vec<Entry>>,
    next_id: AtomicU64,
    injected: AtomicU64,
}

/// The fault rules of one server: cheap to clone, every clone the same rules.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").field("rules", &self.list()).field("injected", &self.injected()).finish()
    }
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    fn rules(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.inner.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule after the others; returns its id.
    pub fn add(&self, rule: FaultRule) -> Result<String, FaultError> {
        Ok(self.add_all(vec![rule])?.remove(0))
    }

    /// Adds rules in order, none if any is invalid; returns their ids.
    pub fn add_all(&self, rules: Vec<FaultRule>) -> Result<Vec<String>, FaultError> {
        let mut entries = self.rules();
        let mut ids: HashSet<String> = entries.iter().map(|e| e.id.clone()).collect();
        let mut added = Vec::with_capacity(rules.len());
        for (i, mut rule) in rules.into_iter().enumerate() {
            let name = rule.id.clone().unwrap_or_else(|| format!("#{}", i + 1));
            rule.validate(&name)?;
            let id = match rule.id.clone() {
                Some(id) if id.is_empty() => {
                    return Err(FaultError::Invalid { rule: name, message: "the id is empty".into() });
                }
                Some(id) => id,
                None => loop {
                    let candidate = format!("fault-{}", self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1);
                    if !ids.contains(&candidate) {
                        break candidate;
                    }
                },
            };
            if !ids.insert(id.clone()) {
                return Err(FaultError::Invalid { rule: name, message: format!("a fault rule with id `{id}` already exists") });
            }
            rule.id = Some(id.clone());
            let rng = rule.probability.map(|_| {
                let seed = *rule.seed.get_or_insert_with(rand::random);
                StdRng::seed_from_u64(seed)
            });
            added.push(Entry { id, seen: 0, hits: Arc::default(), remaining: rule.times, rng, rule });
        }
        let ids = added.iter().map(|e| e.id.clone()).collect();
        for entry in &added {
            tracing::debug!(rule = %entry.id, spec = %serde_json::to_string(&entry.rule).unwrap_or_default(), "fault rule added");
        }
        entries.extend(added);
        Ok(ids)
    }

    /// Removes one rule; false if there is none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let mut entries = self.rules();
        let before = entries.len();
        entries.retain(|e| e.id != id);
        entries.len() != before
    }

    /// Removes every rule (the injected count stays).
    pub fn clear(&self) {
        self.rules().clear();
    }

    pub fn list(&self) -> Vec<RuleStatus> {
        self.rules()
            .iter()
            .map(|e| RuleStatus { rule: e.rule.clone(), hits: e.hits.load(Ordering::Relaxed), remaining: e.remaining })
            .collect()
    }

    /// How many faults the rule `id` injected; None if there is no such rule.
    pub fn hits(&self, id: &str) -> Option<u64> {
        self.rules().iter().find(|e| e.id == id).map(|e| e.hits.load(Ordering::Relaxed))
    }

    /// How many faults every rule, present or removed, has injected.
    pub fn injected(&self) -> u64 {
        self.inner.injected.load(Ordering::Relaxed)
    }

    fn record(&self, hits: &AtomicU64) {
        hits.fetch_add(1, Ordering::Relaxed);
        self.inner.injected.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs the rules on a request: waits out latencies and delays, and says
    /// what the server must do. A drop cuts `connection` (when there is one)
    /// before returning.
    pub async fn apply(&self, req: &RequestInfo, connection: Option<&Connection>) -> Decision {
        let mut fired: Vec<(String, Arc<AtomicU64>, Action)> = Vec::new();
        {
            let mut entries = self.rules();
            for entry in entries.iter_mut() {
                if !entry.rule.matches(req) || !entry.fires() {
                    continue;
                }
                fired.push((entry.id.clone(), entry.hits.clone(), entry.rule.action.clone()));
                if entry.rule.terminal() {
                    break;
                }
            }
        }
        let mut reset = None;
        for (rule, hits, action) in fired {
            let (method, path, verb) = (&req.method, &req.path, &req.verb);
            match action {
                Action::Latency { ms } => {
                    self.record(&hits);
                    tracing::debug!(%rule, %method, %path, %verb, ms, "injected fault: latency");
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Action::ResetWatch { after_events } | Action::ExpireWatch { after_events } => {
                    let expire = matches!(action, Action::ExpireWatch { .. });
                    tracing::debug!(%rule, %method, %path, after_events, expire, "fault attached: the watch will be cut or expired");
                    reset = Some(WatchReset {
                        inner: Arc::new(ResetInner {
                            rule,
                            after_events,
                            expire,
                            written: AtomicU64::new(0),
                            connection: connection.cloned(),
                            faults: self.clone(),
                            hits,
                        }),
                    });
                }
                Action::Status { code, message, retry_after_seconds, delay_ms } => {
                    self.record(&hits);
                    let retry_after_seconds = retry_after_seconds.or((code == 429).then_some(1));
                    tracing::debug!(%rule, %method, %path, %verb, code, ?retry_after_seconds, "injected fault: status");
                    if let Some(ms) = delay_ms {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    return Decision::Respond(FaultResponse { code, message, retry_after_seconds });
                }
                Action::Drop { delay_ms } => {
                    self.record(&hits);
                    tracing::debug!(%rule, %method, %path, %verb, "injected fault: connection dropped");
                    if let Some(ms) = delay_ms {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    match connection {
                        Some(c) => c.cut().await,
                        None => tracing::warn!(%rule, "a drop fault on a server that cannot cut its connections"),
                    }
                    return Decision::Dropped;
                }
            }
        }
        Decision::Pass(reset)
    }
}

/// One client connection as the fault rules see it: a server puts a clone
/// in every request's extensions, drops the connection when `cut_requested`
/// resolves, and holds `closed_guard` while it lives.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    cut: CancellationToken,
    closed: CancellationToken,
}

impl Connection {
    pub fn new() -> Connection {
        Connection::default()
    }

    /// Resolves once a fault asked for this connection to be cut.
    pub async fn cut_requested(&self) {
        self.cut.cancelled().await
    }

    /// Marks the connection closed when dropped (the server holds it while serving).
    pub fn closed_guard(&self) -> DropGuard {
        self.closed.clone().drop_guard()
    }

    /// Asks the server to drop the connection and waits until it has (a
    /// request's future waiting here is dropped with it).
    pub async fn cut(&self) {
        self.cut.cancel();
        if tokio::time::timeout(CUT_WAIT, self.closed.cancelled()).await.is_err() {
            tracing::warn!("a cut connection was still open after {CUT_WAIT:?}");
        }
    }
}

struct ResetInner {
    rule: String,
    after_events: u64,
    /// End the stream with a 410 Expired ERROR event instead of cutting the connection.
    expire: bool,
    written: AtomicU64,
    connection: Option<Connection>,
    faults: Faults,
    hits: Arc<AtomicU64>,
}

/// A watch stream to cut, or to expire, after a number of events.
#[derive(Clone)]
pub struct WatchReset {
    inner: Arc<ResetInner>,
}

impl std::fmt::Debug for WatchReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchReset")
            .field("rule", &self.inner.rule)
            .field("after_events", &self.inner.after_events)
            .field("expire", &self.inner.expire)
            .finish()
    }
}

impl WatchReset {
    /// Called by the watch before its first event; true when the stream has
    /// just been expired (`expire_watch` with `after_events: 0`) and the
    /// watch must stop. `version` is the resourceVersion it was asked for.
    pub async fn at_start(&self, out: &mpsc::Sender<Bytes>, version: u64) -> bool {
        let r = &self.inner;
        if !(r.expire && r.after_events == 0) {
            return false;
        }
        self.expire(out, version).await;
        true
    }

    /// Called by the watch after each event it wrote to `out` (`version`: the
    /// last resourceVersion it sent); true when the stream has just been cut
    /// or expired and the watch must stop.
    pub async fn after_event(&self, out: &mpsc::Sender<Bytes>, version: u64) -> bool {
        let r = &self.inner;
        if r.written.fetch_add(1, Ordering::Relaxed) + 1 < r.after_events {
            return false;
        }
        if r.expire {
            self.expire(out, version).await;
            return true;
        }
        // Let the transport take what was written, so the client sees those
        // events before the cut (best effort; a client resumes from what it saw).
        let drained = async {
            while out.capacity() < out.max_capacity() && !out.is_closed() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), drained).await;
        r.faults.record(&r.hits);
        tracing::debug!(rule = %r.rule, events = r.after_events, "injected fault: watch stream cut");
        if let Some(connection) = &r.connection {
            connection.cut().await;
        }
        true
    }

    /// Writes the ERROR event kube-apiserver sends for a compacted version.
    async fn expire(&self, out: &mpsc::Sender<Bytes>, version: u64) {
        let r = &self.inner;
        let gone = crate::error::ApiError::Gone(format!("too old resource version: {version} ({})", version + 1));
        let mut line = json!({"type": "ERROR", "object": gone.to_status()}).to_string();
        line.push('\n');
        let _ = out.send(Bytes::from(line)).await;
        r.faults.record(&r.hits);
        tracing::debug!(rule = %r.rule, events = r.after_events, %version, "injected fault: watch expired (410)");
    }
}

/// The admin endpoint's answer to `method` on `ADMIN_PATH` + `rest` with
/// `body`: a status code and a JSON document. Authentication is the
/// server's; this only reads and switches rules.
pub fn admin(faults: &Faults, method: &str, rest: &str, body: &[u8]) -> (u16, Value) {
    let id = rest.trim_matches('/');
    match (method, id.is_empty()) {
        ("GET", true) => (200, listing(faults)),
        ("GET", false) => match faults.list().into_iter().find(|r| r.rule.id.as_deref() == Some(id)) {
            Some(rule) => (200, serde_json::to_value(rule).unwrap_or(Value::Null)),
            None => not_found(id),
        },
        ("POST", true) => match parse_rules(body).and_then(|rules| faults.add_all(rules)) {
            Ok(ids) => {
                let items: Vec<RuleStatus> = faults.list().into_iter().filter(|r| r.rule.id.as_ref().is_some_and(|i| ids.contains(i))).collect();
                (201, json!({"kind": "FaultRuleList", "apiVersion": "sim.gantry.dev/v1", "items": items}))
            }
            Err(e) => (400, admin_status(400, "BadRequest", &e.to_string())),
        },
        ("DELETE", true) => {
            faults.clear();
            (200, listing(faults))
        }
        ("DELETE", false) if faults.remove(id) => (200, listing(faults)),
        ("DELETE", false) => not_found(id),
        _ => (405, admin_status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")),
    }
}

fn listing(faults: &Faults) -> Value {
    json!({"kind": "FaultRuleList", "apiVersion": "sim.gantry.dev/v1", "injected": faults.injected(), "items": faults.list()})
}

fn not_found(id: &str) -> (u16, Value) {
    (404, admin_status(404, "NotFound", &format!("fault rule \"{id}\" not found")))
}

/// A `Status` for the admin endpoint's own answers.
pub fn admin_status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
}

/// A rule, a list of rules, or `{"items": [...]}`.
pub fn parse_rules(body: &[u8]) -> Result<Vec<FaultRule>, FaultError> {
    let value: Value = serde_json::from_slice(body)?;
    let list = match value {
        Value::Array(items) => items,
        Value::Object(mut map) if map.contains_key("items") && !map.contains_key("action") => match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => return Err(FaultError::Invalid { rule: "list".into(), message: "`items` must be a list of rules".into() }),
        },
        other => vec![other],
    };
    list.into_iter().map(|v| serde_json::from_value(v).map_err(FaultError::from)).collect()
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The Kubernetes API server's side: `Api::handle` calls this first.
impl crate::api::Api {
    /// The fault endpoint, then the rules: `Ok` hands the request on (a
    /// watch with its reset attached), `Err` is the answer instead.
    pub(crate) async fn faults_first(&self, mut req: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Request<hyper::body::Incoming>, hyper::Response<crate::http::Body>> {
        let path = req.uri().path();
        if let Some(rest) = path.strip_prefix(ADMIN_PATH).filter(|r| r.is_empty() || r.starts_with('/')) {
            let rest = rest.to_string();
            return Err(self.fault_admin(req, &rest).await);
        }
        let info = RequestInfo::kubernetes(req.method().as_str(), path, req.uri().query().unwrap_or(""));
        let connection = req.extensions().get::<Connection>().cloned();
        match self.faults.apply(&info, connection.as_ref()).await {
            Decision::Pass(reset) => {
                if let Some(reset) = reset {
                    req.extensions_mut().insert(reset);
                }
                Ok(req)
            }
            Decision::Respond(fault) => {
                let mut resp = crate::http::json_response(fault.code, &fault.kubernetes_status());
                if let Some(v) = fault.retry_after_header().and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
                    resp.headers_mut().insert(hyper::header::RETRY_AFTER, v);
                }
                Err(resp)
            }
            // Only reached without a connection to cut: fail the request instead.
            Decision::Dropped => Err(crate::http::json_response(503, &FaultResponse { code: 503, message: None, retry_after_seconds: None }.kubernetes_status())),
        }
    }

    /// `ADMIN_PATH`: for unrestricted identities only, as the real server
    /// words a refused non-resource path.
    async fn fault_admin(&self, req: hyper::Request<hyper::body::Incoming>, rest: &str) -> hyper::Response<crate::http::Body> {
        use crate::http::{error_response, json_response};
        let authorization = req.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let Some(identity) = bearer(authorization).and_then(|t| self.auth.authenticate(t)) else {
            return error_response(&crate::error::ApiError::Unauthorized);
        };
        let method = req.method().as_str().to_string();
        if identity.namespaces.is_some() || identity.verbs.is_some() {
            let message = format!("forbidden: User \"{}\" cannot {} path \"{}\"", identity.user, method.to_ascii_lowercase(), req.uri().path());
            return json_response(403, &admin_status(403, "Forbidden", &message));
        }
        let body = match crate::http::read_bytes(req.into_body()).await {
            Ok(body) => body,
            Err(e) => return error_response(&e),
        };
        let (code, doc) = admin(&self.faults, &method, rest, &body);
        tracing::debug!(user = %identity.user, %method, code, "fault administration");
        json_response(code, &doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(method: &str, path: &str, query: &str) -> RequestInfo {
        RequestInfo::kubernetes(method, path, query)
    }

    #[test]
    fn verbs_are_found_as_kube_apiserver_finds_them() {
        let cases = [
            ("GET", "/apis/apps/v1/namespaces/a/deployments/web", "", "get"),
            ("GET", "/apis/apps/v1/namespaces/a/deployments", "", "list"),
            ("GET", "/apis/apps/v1/deployments", "watch=true&resourceVersion=5", "watch"),
            ("GET", "/api/v1/namespaces/a/configmaps", "watch=1", "watch"),
            ("GET", "/api/v1/watch/namespaces/a/configmaps", "", "watch"),
            ("POST", "/api/v1/namespaces/a/configmaps", "", "create"),
            ("PUT", "/apis/apps/v1/namespaces/a/deployments/web/scale", "", "update"),
            ("PATCH", "/api/v1/namespaces/a/pods/p/status", "", "patch"),
            ("DELETE", "/api/v1/namespaces/a/pods/p", "", "delete"),
            ("DELETE", "/api/v1/namespaces/a/pods", "", "deletecollection"),
            ("GET", "/api/v1/namespaces/a", "", "get"),
            ("GET", "/api/v1/namespaces", "", "list"),
            ("PUT", "/api/v1/namespaces/a/finalize", "", "update"),
            ("GET", "/api/v1", "", "get"),
            ("GET", "/apis/apps/v1", "", "get"),
            ("GET", "/version", "", "get"),
            ("POST", "/sim/thing", "", "post"),
        ];
        for (method, path, query, verb) in cases {
            assert_eq!(k(method, path, query).verb, verb, "{method} {path}?{query}");
        }
        assert_eq!(RequestInfo::plain("post", "/token").verb, "post");
        assert_eq!(RequestInfo::plain("post", "/token").method, "POST");
    }

    #[test]
    fn path_patterns_match_segments_and_everything_below() {
        let yes = [
            ("/apis/apps/v1/namespaces/*/deployments", "/apis/apps/v1/namespaces/a/deployments"),
            ("/apis/apps/v1/namespaces/*/deployments", "/apis/apps/v1/namespaces/a/deployments/web/scale"),
            ("/apis/apps/v1/namespaces/*/deployments*", "/apis/apps/v1/namespaces/a/deployments/web"),
            ("/apis/apps/v1/**/deployments", "/apis/apps/v1/deployments"),
            ("/apis/apps/v1/**/deployments", "/apis/apps/v1/namespaces/a/deployments/web"),
            ("/api/v1/namespaces/*/pods/web-*", "/api/v1/namespaces/a/pods/web-1234/status"),
            ("/api/v1/namespaces/*/pods/*-1*4", "/api/v1/namespaces/a/pods/web-1234"),
            ("/clusters", "/clusters/aws"),
            ("/", "/anything/at/all"),
            ("/api/v1/", "/api/v1"),
        ];
        for (pattern, path) in yes {
            assert!(path_matches(pattern, path), "{pattern} should match {path}");
        }
        let no = [
            ("/apis/apps/v1/namespaces/*/deployments", "/apis/apps/v1/deployments"),
            ("/apis/apps/v1/namespaces/*/deployments", "/apis/apps/v1/namespaces/a/replicasets"),
            ("/api/v1/pods", "/api/v1/podsx"),
            ("/api/v1/namespaces/*/pods/web-*", "/api/v1/namespaces/a/pods/api-1"),
            ("/api/v1/namespaces/*/pods/*-1*4", "/api/v1/namespaces/a/pods/web-1243"),
            ("/api/v1/namespaces/*/pods", "/api/v1/namespaces"),
            ("/apis/apps/v1/**/deployments", "/apis/batch/v1/jobs"),
        ];
        for (pattern, path) in no {
            assert!(!path_matches(pattern, path), "{pattern} should not match {path}");
        }
    }

    #[test]
    fn rules_match_by_verb_method_and_path() {
        let rule = FaultRule::status(503).verb("get").path("/apis/apps/v1/namespaces/*/deployments");
        assert!(rule.matches(&k("GET", "/apis/apps/v1/namespaces/a/deployments/web", "")));
        assert!(!rule.matches(&k("GET", "/apis/apps/v1/namespaces/a/deployments", "")), "a list is not a get");
        assert!(!rule.matches(&k("PATCH", "/apis/apps/v1/namespaces/a/deployments/web", "")));
        let by_method = FaultRule::status(500).method("post");
        assert!(by_method.matches(&k("POST", "/api/v1/namespaces/a/configmaps", "")));
        assert!(by_method.matches(&RequestInfo::plain("POST", "/token")));
        assert!(!by_method.matches(&k("GET", "/api/v1/namespaces/a/configmaps", "")));
        let any = FaultRule::status(500).verb("*");
        assert!(any.matches(&k("DELETE", "/api/v1/namespaces/a/pods", "")));
        let reset = FaultRule::reset_watch(1);
        assert!(reset.matches(&k("GET", "/api/v1/configmaps", "watch=true")));
        assert!(!reset.matches(&k("GET", "/api/v1/configmaps", "")), "only watches are reset");
        let expire = FaultRule::expire_watch(0);
        assert!(expire.matches(&k("GET", "/api/v1/configmaps", "watch=true")));
        assert!(!expire.matches(&k("GET", "/api/v1/configmaps", "")), "only watches are expired");
    }

    #[test]
    fn the_json_format_reads_and_writes_as_documented() {
        let text = r#"[
            {"verb": ["get", "list"], "path": "/apis/apps/v1/**/deployments", "action": {"type": "status", "code": 429, "retry_after_seconds": 2}, "times": 2},
            {"id": "slow", "method": "GET", "action": {"type": "latency", "ms": 250}, "every": 3},
            {"action": {"type": "drop"}, "probability": 0.5, "seed": 7},
            {"verb": "watch", "action": {"type": "reset_watch", "after_events": 1}},
            {"action": {"type": "expire_watch", "after_events": 0}, "times": 1}
        ]"#;
        let rules = parse_rules(text.as_bytes()).unwrap();
        assert_eq!(rules[0], FaultRule::too_many_requests(2).verb("get").verb("list").path("/apis/apps/v1/**/deployments").times(2));
        assert_eq!(rules[1], FaultRule::latency(Duration::from_millis(250)).id("slow").method("GET").every(3));
        assert_eq!(rules[2], FaultRule::drop_connection().probability(0.5, 7));
        assert_eq!(rules[3], FaultRule::reset_watch(1).verb("watch"));
        assert_eq!(rules[4], FaultRule::expire_watch(0).times(1));
        let back: FaultRule = serde_json::from_value(serde_json::to_value(&rules[0]).unwrap()).unwrap();
        assert_eq!(back, rules[0]);
        let single = parse_rules(br#"{"action": {"type": "status", "code": 503}}"#).unwrap();
        assert_eq!(single, vec![FaultRule::status(503)]);
        let items = parse_rules(br#"{"items": [{"action": {"type": "drop"}}]}"#).unwrap();
        assert_eq!(items, vec![FaultRule::drop_connection()]);
        for bad in [
            r#"{"action": {"type": "status", "code": 503, "colour": "red"}}"#,
            r#"{"action": {"type": "explode"}}"#,
            r#"{"verb": "get"}"#,
            r#"{"action": {"type": "drop"}, "rate": 2}"#,
        ] {
            assert!(parse_rules(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_rules_are_refused_with_the_reason_and_none_of_a_batch_is_added() {
        let faults = Faults::new();
        let cases = [
            (FaultRule::status(200), "not an error status"),
            (FaultRule::status(500).verb("fetch"), "unknown verb `fetch`"),
            (FaultRule::status(500).path("apis"), "must start with /"),
            (FaultRule::status(500).every(0), "at least 1"),
            (FaultRule::status(500).every(2).probability(0.5, 1), "not both"),
            (FaultRule::status(500).probability(1.5, 1), "not between 0 and 1"),
            (FaultRule::reset_watch(0), "at least 1"),
        ];
        for (rule, why) in cases {
            let err = faults.add(rule).unwrap_err().to_string();
            assert!(err.contains(why), "{err} should say {why}");
        }
        let err = faults.add_all(vec![FaultRule::status(500).id("a"), FaultRule::status(500).id("a")]).unwrap_err();
        assert!(err.to_string().contains("already exists"));
        assert!(faults.list().is_empty(), "nothing of a refused batch was added");
    }

    fn decide(faults: &Faults, req: &RequestInfo) -> Option<u16> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        match rt.block_on(faults.apply(req, None)) {
            Decision::Respond(r) => Some(r.code),
            Decision::Pass(_) => None,
            Decision::Dropped => Some(0),
        }
    }

    #[test]
    fn times_every_and_seeded_probability_decide_deterministically() {
        let get = k("GET", "/api/v1/namespaces/a/configmaps/x", "");
        let faults = Faults::new();
        let next2 = faults.add(FaultRule::status(503).times(2)).unwrap();
        let seen: Vec<_> = (0..4).map(|_| decide(&faults, &get)).collect();
        assert_eq!(seen, [Some(503), Some(503), None, None]);
        assert_eq!((faults.hits(&next2), faults.injected()), (Some(2), 2));
        assert_eq!(faults.list()[0].remaining, Some(0));

        faults.clear();
        faults.add(FaultRule::status(500).every(3)).unwrap();
        let seen: Vec<_> = (0..7).map(|_| decide(&faults, &get)).collect();
        assert_eq!(seen, [None, None, Some(500), None, None, Some(500), None]);

        let sequence = |seed| {
            let faults = Faults::new();
            faults.add(FaultRule::status(500).probability(0.5, seed)).unwrap();
            (0..64).map(|_| decide(&faults, &get).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(sequence(7), sequence(7), "the same seed, the same faults");
        let hits = sequence(7).iter().filter(|h| **h).count();
        assert!(hits > 0 && hits < 64, "a probability of 0.5 hits some requests, not all: {hits}");
        assert_ne!(sequence(7), sequence(8));
        let never = Faults::new();
        never.add(FaultRule::status(500).probability(0.0, 1)).unwrap();
        assert!((0..32).all(|_| decide(&never, &get).is_none()));
    }

    #[test]
    fn rules_apply_in_order_latency_goes_on_and_the_first_answer_ends() {
        let faults = Faults::new();
        let slow = faults.add(FaultRule::latency(Duration::from_millis(1))).unwrap();
        let first = faults.add(FaultRule::status(503).verb("list")).unwrap();
        let second = faults.add(FaultRule::status(500)).unwrap();
        assert_eq!(decide(&faults, &k("GET", "/api/v1/pods", "")), Some(503));
        assert_eq!(decide(&faults, &k("GET", "/api/v1/namespaces/a/pods/p", "")), Some(500));
        assert_eq!((faults.hits(&slow), faults.hits(&first), faults.hits(&second)), (Some(2), Some(1), Some(1)));
        assert_eq!(faults.injected(), 4);
        assert!(faults.remove(&second));
        assert!(!faults.remove(&second));
        assert_eq!(decide(&faults, &k("GET", "/api/v1/namespaces/a/pods/p", "")), None);
    }

    #[test]
    fn injected_statuses_are_the_real_servers() {
        let s = FaultResponse { code: 429, message: None, retry_after_seconds: Some(3) };
        assert_eq!(
            s.kubernetes_status(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                   "details": {"retryAfterSeconds": 3}, "code": 429})
        );
        assert_eq!(s.retry_after_header().as_deref(), Some("3"));
        let internal = FaultResponse { code: 500, message: Some("etcd is gone".into()), retry_after_seconds: None }.kubernetes_status();
        assert_eq!((internal["reason"].as_str(), internal["message"].as_str()), (Some("InternalError"), Some("Internal error occurred: etcd is gone")));
        assert_eq!(internal["details"]["causes"][0]["message"], "etcd is gone");
        let timeout = FaultResponse { code: 504, message: None, retry_after_seconds: None }.kubernetes_status();
        assert_eq!(timeout["reason"], "Timeout");
        assert!(timeout.get("details").is_none());
        assert_eq!(FaultResponse { code: 503, message: None, retry_after_seconds: None }.kubernetes_status()["reason"], "ServiceUnavailable");
    }

    #[test]
    fn a_429_rule_defaults_to_retry_after_one_second() {
        let faults = Faults::new();
        faults.add(FaultRule::status(429)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        match rt.block_on(faults.apply(&k("GET", "/api/v1/pods", ""), None)) {
            Decision::Respond(r) => assert_eq!(r.retry_after_header().as_deref(), Some("1")),
            other => panic!("expected a 429, got {other:?}"),
        }
    }

    #[test]
    fn the_admin_endpoint_lists_adds_and_removes() {
        let faults = Faults::new();
        let (code, doc) = admin(&faults, "POST", "", br#"[{"id": "a", "action": {"type": "status", "code": 503}}, {"action": {"type": "drop"}}]"#);
        assert_eq!(code, 201, "{doc}");
        assert_eq!(doc["items"][0]["id"], "a");
        assert_eq!(doc["items"][1]["id"], "fault-1");
        let (code, doc) = admin(&faults, "GET", "", b"");
        assert_eq!((code, doc["items"].as_array().map(Vec::len), doc["injected"].as_u64()), (200, Some(2), Some(0)));
        assert_eq!(admin(&faults, "GET", "/a", b"").1["action"]["code"], 503);
        assert_eq!(admin(&faults, "GET", "/zzz", b"").0, 404);
        let (code, doc) = admin(&faults, "POST", "", br#"{"action": {"type": "status", "code": 99}}"#);
        assert_eq!((code, doc["reason"].as_str()), (400, Some("BadRequest")));
        assert!(doc["message"].as_str().unwrap().contains("not an error status"));
        assert_eq!(admin(&faults, "DELETE", "/a", b"").0, 200);
        assert_eq!(admin(&faults, "DELETE", "/a", b"").0, 404);
        assert_eq!(admin(&faults, "DELETE", "", b"").1["items"], json!([]));
        assert_eq!(admin(&faults, "PUT", "", b"").0, 405);
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer(""), None);
    }
}
